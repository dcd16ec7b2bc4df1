/* Helpers shared by the tests: hex literals and scratch directories. */
#ifndef TALLY_TESTS_TESTUTIL_H
#define TALLY_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Parses hex (spaces ignored) into out; aborts the test binary on bad input. Returns length. */
size_t tu_unhex(const char *hex, uint8_t *out, size_t cap);
/* A fresh empty directory under $TALLY_TEST_TMP (or /tmp); returns a static-lifetime string. */
const char *tu_tmpdir(const char *tag);
/* rm -rf of a directory made by tu_tmpdir. */
void tu_rmdir(const char *dir);

#endif

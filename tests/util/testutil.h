/* Helpers shared by the tests: hex literals and scratch directories. */
#ifndef TALLY_TESTS_TESTUTIL_H
#define TALLY_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Parses hex (spaces ignored) into out; aborts the test binary on bad input. Returns length. */
size_t tu_unhex(const char *hex, uint8_t *out, size_t cap);
/* A fresh empty directory under $TALLY_TEST_TMP (or /tmp); returns a static-lifetime string. */
const char *tu_tmpdir(const char *tag);
/* rm -rf of a directory made by tu_tmpdir, and frees its name. */
void tu_rmdir(const char *dir);
/* Runs a shell command line; fills out (NUL-terminated, up to cap) with its stdout and returns
 * its exit status (128 if it did not exit). */
int tu_run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* RFC 9162 MTH of n leaf hashes, by the RFC's recursive definition (a reference for tests). */
void tu_mth(uint8_t (*leaves)[32], uint64_t n, uint8_t out[32]);
/* Largest power of two strictly below n (n ≥ 2). */
uint64_t tu_split(uint64_t n);
#endif

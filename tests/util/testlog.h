/* Builds small real logs for store and CLI tests: GENESIS, then EVENT records signed by the
 * node key, appended through the writer. */
#ifndef TALLY_TESTS_TESTLOG_H
#define TALLY_TESTS_TESTLOG_H

#include "store/store.h"

/* Creates a log in dir (origin "test.tally/1", node key from a fixed seed). */
store_log *tl_create(const char *dir, size_t map_size);
/* Builds the EVENT record with event_id `id` (a node record) into in; body bytes go to buf. */
void tl_event(store_log *log, uint64_t id, uint8_t *buf, size_t cap, store_input *in);
/* Appends records so that the log holds `total` records (GENESIS first), `per` per call. */
void tl_fill(store_log *log, uint64_t total, size_t per);

#endif

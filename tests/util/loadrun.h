/* `tally loadgen` as its own process against a test node (node.h): start, bounded wait, its
 * JSON summary, and the check that every receipt entry it wrote names a leaf the log holds. */
#ifndef TALLY_TESTS_LOADRUN_H
#define TALLY_TESTS_LOADRUN_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/node.h"

typedef struct tlg_run {
    pid_t pid;
    char out[700], receipts[700], log[700]; /* --out, --receipts-out, stdout and stderr */
} tlg_run;

/* Starts `tally loadgen` against n's listeners for `seconds` with `miners` miners, seed and the
 * extra arguments (NULL for none, split at spaces); files are named after tag in n->tmp. */
void tlg_start(tn_node *n, tlg_run *l, const char *tag, unsigned miners, unsigned seconds,
               uint64_t seed, const char *extra);
/* Waits (at most 30 s, else fails) until the load is under way: the log has grown past size0
 * (the feed, one commit when it holds at most 2,000 records) and then again (a miner's record,
 * which the loader sends only after the feed's answer). */
void tlg_wait_load(tn_node *n, const tlg_run *l, uint64_t size0);
/* Waits at most timeout_s for the exit and returns its status (128 + signal when killed); on a
 * timeout kills it and fails the test. */
int tlg_wait(tlg_run *l, unsigned timeout_s);
/* The parsed --out summary (the caller's), or NULL when the file is missing or not JSON. */
json_t *tlg_summary(const tlg_run *l);
/* Checks, with a read-only open of the log in dir, that every "<seq> <leaf hex>" line of the
 * receipts file names a record the log holds with that leaf hash; fails the test otherwise.
 * Returns the number of entries checked. */
uint64_t tlg_check_receipts(const char *dir, const char *receipts_path);
/* Runs `tally verify --dir DIR` and returns its exit status. */
int tlg_verify(const char *dir);
/* Environment for a node under load: rate limits far above what the loader sends. */
extern const char *const tlg_node_env[];
/* Sets n's environment to tlg_node_env and then a and b (KEY=VALUE; either may be NULL). */
void tlg_node_env_set(tn_node *n, const char *a, const char *b);
/* The integer o[obj][key] of a loadgen summary; fails the test when it is not one. */
json_int_t tlg_get_int(json_t *o, const char *obj, const char *key);

#endif

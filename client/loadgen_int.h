/* client private: the load generator's run (loadgen.c: setup, feeds, report) shared with its
 * miner threads (loadgen_miner.c: requests, retries, receipt checks).
 *
 * | piece            | owner          | shared how                                        |
 * |------------------|----------------|---------------------------------------------------|
 * | lg__run          | loadgen_run    | read-only during the load, but mu and next_slot   |
 * | events           | lg__run        | sorted by start_ms, read-only once fed            |
 * | lg__worker       | one per thread | its miners' state, its stats, its connection      |
 * | receipt callback | cfg            | called under mu                                   |
 */
#ifndef TALLY_CLIENT_LOADGEN_INT_H
#define TALLY_CLIENT_LOADGEN_INT_H

#include <pthread.h>

#include "client/client.h"
#include "sim/sim.h"

#define LG__OUTCOME_ITEMS_MAX 50u /* protocol §5.3 */
#define LG__ITEM_BODY_CAP 1024u   /* an odds body of three markets is under 300 bytes */
#define LG__ATTEMPTS 5u           /* one send and up to four retries of the same nonce and body */
#define LG__ODDS_BUCKET_MS 60000u /* ingest.odds_bucket_seconds by default */
#define LG__LAT_MAX (1u << 24)    /* latency samples kept per thread */

/* A miner's place in the run. */
typedef struct lg__mstate {
    sim_miner m;
    uint64_t nonce;       /* the last one used; the next is above it and above now in µs */
    size_t cursor;        /* next event to price */
    size_t pass_start;    /* where the current pass over the events started */
    uint64_t pass_bucket; /* the odds bucket in which it started */
    bool pass_wrapped;
    size_t next_outcome;            /* events before this (in start order) are reported */
    size_t last[LOADGEN_BATCH_MAX]; /* the events of its last accepted odds request (garbage) */
    size_t n_last;
    uint64_t last_bucket;
    unsigned turn; /* garbage: which refusal comes next */
} lg__mstate;

typedef struct lg__stats {
    uint64_t requests, odds_requests, outcome_requests, garbage_requests, garbage_refused;
    uint64_t retries, no_response, duplicates;
    uint64_t items_sent, items_accepted, items_rejected;
    uint64_t receipts, verified, failed, entries;
    loadgen_tally status, errors, rejections;
    double *lat; /* ms */
    size_t n_lat, cap_lat;
} lg__stats;

typedef struct lg__run {
    const loadgen_cfg *cfg;
    unsigned batch, threads;
    sim_gen *gen;
    lg__mstate *ms; /* cfg->miners */
    unsigned n_miners;
    sim_live_event *events; /* n_events, ascending start_ms */
    size_t n_events, n_soon;
    char origin[SCHEMA_ORIGIN_MAX + 1];
    uint8_t node_pk[32];
    client_url ingest;
    unsigned io_timeout_ms;
    uint64_t deadline_ns; /* monotonic */
    pthread_mutex_t mu;
    uint64_t next_slot_ns; /* the rate limiter's next free send time, monotonic */
} lg__run;

typedef struct lg__worker {
    lg__run *run;
    unsigned id;
    client_conn *conn;
    uint64_t rng;
    lg__stats st;
} lg__worker;

/* The thread body: runs its miners (uid ≡ id mod threads) until the deadline. arg: lg__worker. */
void *lg__worker_main(void *arg);
/* Adds one to name's count (the last slot takes the overflow as "other"). */
void lg__tally_add(loadgen_tally *t, const char *name, uint64_t n);
uint64_t lg__mono_ns(void);
uint64_t lg__real_ms(void);

#endif

/* client private: the load generator's run (loadgen.c: setup, feeds, report) shared with its
 * miner threads (loadgen_miner.c: requests, retries, receipt checks).
 *
 * | piece            | owner          | shared how                                        |
 * |------------------|----------------|---------------------------------------------------|
 * | lg__run          | loadgen_run    | read-only during the load, but mu and next_slot   |
 * | events           | lg__run        | sorted by start_ms, read-only once fed            |
 * | lg__worker       | one per thread | its miners' state, its stats, its connection      |
 * | receipt callback | cfg            | called under mu                                   |
 * | clock_ms, n_live | lg__days       | days runs: set between steps, while no miner runs |
 *
 * A days run (loadgen_days.c) reuses the workers across its steps: each step starts the
 * threads (lg__worker_step), which send until no miner has anything left at the step's time,
 * and joins them before the clock moves.
 */
#ifndef TALLY_CLIENT_LOADGEN_INT_H
#define TALLY_CLIENT_LOADGEN_INT_H

#include <jansson.h>
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
    size_t n_live;     /* the events fed so far, a prefix of events (all of them in timed runs) */
    unsigned days;     /* 0: a timed run on the real clock */
    uint64_t clock_ms; /* days runs: the node's (manual) clock, as the run last set it */
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
/* A days run's step: runs the worker's miners at run->clock_ms until none has anything to send,
 * opening the worker's connection on first use (lg__days closes it). arg: lg__worker. */
void *lg__worker_step(void *arg);
/* The time requests carry and miners decide by: the node's clock in days runs, else real. */
uint64_t lg__now_ms(const lg__run *run);
/* Adds one to name's count (the last slot takes the overflow as "other"). */
void lg__tally_add(loadgen_tally *t, const char *name, uint64_t n);
uint64_t lg__mono_ns(void);
uint64_t lg__real_ms(void);

/* ---- loadgen.c's feed and admin calls, shared with the days run ---- */
typedef struct lg__sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} lg__sbuf;
tally_status lg__failf(char *err, size_t cap, tally_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* One request on a fresh connection to u; on TALLY_OK *status_out and *json_out (the parsed
 * body, possibly NULL; the caller's). TALLY_EIO with a sentence in err when nothing answered. */
tally_status lg__call(const client_url *u, unsigned timeout_ms, const char *method,
                      const char *target, const char *token, const char *body,
                      unsigned *status_out, json_t **json_out, char *err, size_t cap);
unsigned lg__setup_timeout(const lg__run *run);
/* Adds body to the feed being built, as {"type", "body"} without a salt (the node draws it). */
void lg__sb_record(lg__sbuf *b, size_t *count, const schema_body *body);
/* Posts the feed built in b (then emptied) to POST /admin/v1/records. */
tally_status lg__post_feed(lg__run *run, const client_url *ops, lg__sbuf *b, char *err, size_t cap);
/* Adds the METAGRAPH at block binding every miner (and the cfg's validators) to b. */
tally_status lg__add_metagraph(lg__run *run, uint64_t block, lg__sbuf *b, size_t *count);
/* Sums the workers' counts into *out over elapsed seconds. */
tally_status lg__merge(lg__run *run, lg__worker *w, double elapsed, loadgen_report *out);
/* The days run (loadgen_days.c): from the node's clock, `days` UTC days of feeds, steps and
 * midnights, with the first METAGRAPH at block; fills the counts of *out. */
tally_status lg__days(lg__run *run, const client_url *ops, uint64_t block, loadgen_report *out,
                      char *err, size_t cap);

#endif

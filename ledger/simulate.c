/* The simulator's node, behind `tally simulate` and `tally demo`: the generator (sim/) fed into
 * a store as a node would. At each UTC midnight the node's scoring cycle (ledger_node_cycle), then
 * the generator's day, every record admitted through the acceptance rules and appended in
 * chunks that never split one instant.
 *
 * Continuing a log resumes inside its last day: that day is generated again, the records
 * already in the log are checked byte for byte against it and skipped, and the rest is
 * appended, so a run interrupted anywhere (kill -9, a full disk) and continued writes exactly
 * the bytes of one that never stopped. Records another writer appended after the whole day
 * (tally append) are kept. Whether the last cycle block landed needs no guess: the
 * block is one transaction, and the day it opens is the last record's day. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger_int.h"
#include "sim/sim.h"

#define CHUNK 1024 /* records per append, unless one instant needs more */

typedef struct drv {
    const ledger_sim_cfg *cfg;
    store_log *log;
    sim_gen *gen;
    engine *eng;         /* the node's projection: scores every cycle */
    engine_rules *rules; /* the node's acceptance rules at the end of what is admitted */
    ledger_batch batch;  /* admitted, not yet appended */
    uint64_t pos;        /* seq the next admitted record takes */
    uint64_t had;        /* records in the log when the run began */
    store_iter *old;     /* the log's records from pos while pos < had */
    uint64_t skipped;    /* records found already in the log */
    ledger_sim_result *res;
} drv;

static tally_status flush(drv *d)
{
    uint64_t first;
    return ledger_batch_flush(&d->batch, d->log, &first);
}

/* A record of the resumed day that the log already holds must be the one generated. */
static tally_status check_old(drv *d, const store_input *in)
{
    uint8_t hb[SCHEMA_HEADER_MAX];
    store_record r;
    size_t hn;
    tally_status st = schema_header_encode(&in->header, hb, sizeof(hb), &hn);

    if (st == TALLY_OK) {
        st = store_iter_next(d->old, &r);
    }
    if (st != TALLY_OK) {
        return st == TALLY_ENOTFOUND ? TALLY_ECORRUPT : st;
    }
    if (r.seq != d->pos || r.header.n != hn || memcmp(r.header.p, hb, hn) != 0 ||
        r.body.p == NULL || r.body.n != in->body_len ||
        memcmp(r.body.p, in->body, in->body_len) != 0) {
        snprintf(d->res->what, sizeof(d->res->what),
                 "record %llu of the log is not the one these flags generate (continue a log "
                 "with the seed, --miners and --markets-per-day that wrote it)",
                 (unsigned long long)d->pos);
        return TALLY_ECONFLICT;
    }
    d->skipped++;
    return TALLY_OK;
}

/* The node's writer for one generated record: the rules decide; a refused miner record is
 * counted, as a node counts a rejected item, and never appended; a refused node record is a bug
 * in the generator and stops the run. */
static tally_status admit(const sim_record *rec, void *arg)
{
    drv *d = arg;
    store_input in = {rec->header, rec->body, rec->body_len};
    const schema_header *h = &rec->header;
    bool by_miner = h->type == SCHEMA_ODDS_SUBMISSION ||
                    (h->type == SCHEMA_OUTCOME && h->tier == SCHEMA_EMBARGOED);
    engine_verdict v;
    tally_status st = ledger_rules_admit(d->rules, &in, &v);

    if (st != TALLY_OK) {
        return st;
    }
    if (v.rule != ENGINE_RULE_OK) {
        if (!by_miner) {
            snprintf(d->res->what, sizeof(d->res->what), "a simulated %s breaks rule %s: %s",
                     schema_type_name((unsigned)h->type), engine_rule_name(v.rule), v.detail);
            return TALLY_EINVAL;
        }
        if (d->pos >= d->had) {
            d->res->refused[v.rule]++;
            d->res->refused_total++;
        }
        return TALLY_OK;
    }
    if (d->pos < d->had) {
        st = check_old(d, &in);
        d->pos++;
        return st;
    }
    d->res->submissions += h->type == SCHEMA_ODDS_SUBMISSION;
    /* chunks never split one instant (METAGRAPH parts share theirs and must land together) */
    if (d->batch.n >= CHUNK && d->batch.in[d->batch.n - 1].header.time_ms != h->time_ms) {
        st = flush(d);
    }
    if (st == TALLY_OK) {
        st = ledger_batch_raw(&d->batch, h, rec->body, rec->body_len);
    }
    d->pos++;
    return st;
}

static void add_stats(ledger_sim_result *res, const sim_day_stats *ds)
{
    res->quotes += ds->quotes, res->outcomes += ds->outcomes;
    res->events += ds->events, res->markets += ds->markets;
}

/* One day: the cycle at its midnight (not on day 0, whose first record is GENESIS), then the
 * generator's records. With cycle false the cycle is already in the log (a resumed day). */
static tally_status run_day(drv *d, uint64_t day, bool cycle, uint64_t *cycles)
{
    sim_day_stats ds;
    tally_status st;

    if (cycle && day > 0) {
        ledger_cycle_info info;
        st = ledger_node_cycle(d->log, d->eng, d->rules, *cycles + 1, 0,
                               SIM_T0_MS + day * SIM_DAY_MS, &info);
        if (st != TALLY_OK) {
            snprintf(d->res->what, sizeof(d->res->what), "%s", info.what);
            return st;
        }
        (*cycles)++;
        d->pos = store_size(d->log);
        d->res->cycles++;
        d->res->derived += info.records - 1;
    }
    st = sim_gen_day(d->gen, day, admit, d, &ds);
    /* records past the whole generated day were appended by another writer (tally append)
     * after the simulation stopped: they stay, and the rules take them in */
    if (st == TALLY_OK && d->pos < d->had) {
        d->res->foreign += d->had - d->pos;
        st = ledger_rules_fold(d->log, d->rules, d->had);
        d->pos = d->had;
    }
    if (st == TALLY_OK) {
        st = flush(d);
    }
    ledger_batch_release(&d->batch);
    if (st == TALLY_OK && cycle) {
        add_stats(d->res, &ds);
    }
    return st;
}

/* The type and time of record seq. */
static tally_status time_at(store_log *log, uint64_t seq, uint64_t *type, uint64_t *t)
{
    schema_header h;
    tally_status st = ledger__header_at(log, seq, &h);

    if (st == TALLY_OK) {
        *type = h.type, *t = h.time_ms;
    }
    return st;
}

/* Where the generator's records of the log's last day begin: past that day's cycle block.
 * Times never decrease along the log, so the day's first record is found by bisection. */
static tally_status day_start(store_log *log, uint64_t *day_out, uint64_t *from_out)
{
    uint64_t n = store_size(log), lo = 0, hi = n - 1, type, t, day, first;
    tally_status st = time_at(log, n - 1, &type, &t);

    if (st != TALLY_OK) {
        return st;
    }
    if (t < SIM_T0_MS) {
        return TALLY_ECORRUPT;
    }
    day = (t - SIM_T0_MS) / SIM_DAY_MS;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        st = time_at(log, mid, &type, &t);
        if (st != TALLY_OK) {
            return st;
        }
        if (t >= SIM_T0_MS + day * SIM_DAY_MS) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    first = lo;
    if (day > 0) {
        /* the day opens with its cycle block, one transaction: SCORING_CYCLE, derived records */
        store_iter *it;
        store_record r;
        schema_header h;
        st = store_iter_open(log, first, &it);
        while (st == TALLY_OK && (st = store_iter_next(it, &r)) == TALLY_OK) {
            st = schema_header_decode(r.header.p, r.header.n, &h);
            if (st != TALLY_OK || (r.seq == lo ? h.type != SCHEMA_SCORING_CYCLE
                                               : h.type < SCHEMA_SUBMISSION_SCORE)) {
                break;
            }
            first = r.seq + 1;
        }
        store_iter_close(it);
        if (st == TALLY_ENOTFOUND) {
            st = TALLY_OK;
        }
        if (st == TALLY_OK && first == lo) {
            st = TALLY_ECORRUPT;
        }
    }
    *day_out = day, *from_out = first;
    return st;
}

/* Where an existing history ends: the node's engine caught up with it (the whole log replayed,
 * every derived record checked), the rules at the start of the last day's generated records,
 * and an iterator over the records of that day already in the log. */
static tally_status resume_point(drv *d, bool *resume, uint64_t *day, uint64_t *cycles)
{
    uint64_t from = 0;
    tally_status st;

    *resume = false, *day = 0, *cycles = 0;
    d->had = d->pos = store_size(d->log);
    if (d->had == 0) {
        st = engine_new(&d->eng);
        return st == TALLY_OK ? engine_rules_new(&d->rules) : st;
    }
    st = day_start(d->log, day, &from);
    if (st == TALLY_ECORRUPT) {
        snprintf(d->res->what, sizeof(d->res->what),
                 "the log's last day does not open with a scoring cycle");
    }
    if (st == TALLY_OK) {
        st = ledger_node_catch_up(d->log, false, &d->eng, cycles, NULL);
    }
    if (st == TALLY_OK) {
        st = engine_rules_new(&d->rules);
    }
    if (st == TALLY_OK) {
        st = ledger_rules_fold(d->log, d->rules, from);
    }
    if (st == TALLY_OK) {
        st = store_iter_open(d->log, from, &d->old);
    }
    d->pos = from;
    *resume = st == TALLY_OK;
    return st;
}

/* The log's times are the simulation's clock (history from SIM_T0_MS, possibly past this
 * machine's clock), so the writer bounds them only from below (simulated_time). */
static tally_status open_or_create(const char *dir, uint64_t seed, size_t map_size,
                                   store_log **log)
{
    store_cfg cfg = {.dir = dir, .map_size = map_size, .simulated_time = true};
    uint8_t ks[32];
    tally_status st = store_open(&cfg, log);

    if (st != TALLY_ENOTFOUND) {
        return st;
    }
    /* the node key comes from the seed, so the generator signs node records with it */
    sim_node_key_seed(seed, ks);
    cfg = (store_cfg){.dir = dir, .create = true, .origin = SIM_ORIGIN, .key_seed = ks,
                      .map_size = map_size, .simulated_time = true};
    st = store_open(&cfg, log);
    sodium_memzero(ks, sizeof(ks));
    return st;
}

/* Opens the generator and checks the log is one it could have written. */
static tally_status start(drv *d)
{
    const ledger_sim_cfg *c = d->cfg;
    sim_cfg gc = {.seed = c->seed, .miners = c->miners, .markets_per_day = c->markets_per_day,
                  .code_version = SCHEMA_CODE_VERSION};
    uint8_t pk[32], gpk[32];
    tally_status st = open_or_create(c->dir, c->seed, c->map_size, &d->log);

    if (st != TALLY_OK) {
        snprintf(d->res->what, sizeof(d->res->what), "cannot open or create a log in %s", c->dir);
        return st;
    }
    if (strcmp(store_origin(d->log), SIM_ORIGIN) != 0) {
        snprintf(d->res->what, sizeof(d->res->what),
                 "%s holds a log that 'tally simulate' did not write (origin %s)", c->dir,
                 store_origin(d->log));
        return TALLY_ECONFLICT;
    }
    st = sim_gen_new(&gc, &d->gen);
    if (st != TALLY_OK) {
        return st;
    }
    store_node_pubkey(d->log, pk);
    sim_gen_node_pubkey(d->gen, gpk);
    if (memcmp(pk, gpk, 32) != 0) {
        snprintf(d->res->what, sizeof(d->res->what),
                 "the log's node key is not the one seed %llu gives", (unsigned long long)c->seed);
        return TALLY_ECONFLICT;
    }
    return TALLY_OK;
}

/* Checked before anything is opened, so a bad configuration leaves the directory untouched. */
static tally_status check_cfg(const ledger_sim_cfg *c, ledger_sim_result *res)
{
    if (c->dir == NULL) {
        snprintf(res->what, sizeof(res->what), "no directory given");
        return TALLY_EINVAL;
    }
    if (c->miners < 1 || c->miners > SIM_MINERS_MAX || c->markets_per_day < 1 ||
        c->markets_per_day > SIM_MARKETS_MAX) {
        snprintf(res->what, sizeof(res->what),
                 "%u miners and %u markets a day: the generator takes 1..%u and 1..%u", c->miners,
                 c->markets_per_day, SIM_MINERS_MAX, SIM_MARKETS_MAX);
        return TALLY_EINVAL;
    }
    return TALLY_OK;
}

static void report(const drv *d, ledger_sim_day *day)
{
    if (d->cfg->on_day != NULL) {
        day->records = store_size(d->log);
        d->cfg->on_day(d->cfg->on_day_arg, day);
    }
}

tally_status ledger_simulate(const ledger_sim_cfg *cfg, ledger_sim_result *out)
{
    drv d = {.cfg = cfg, .batch = LEDGER_BATCH_INIT, .res = out};
    uint64_t day = 0, next, last, cycles = 0;
    struct timespec t0, t1;
    bool resume = false;
    tally_status st;

    memset(out, 0, sizeof(*out));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = check_cfg(cfg, out);
    if (st == TALLY_OK) {
        st = start(&d);
    }
    if (st == TALLY_OK) {
        out->records_before = store_size(d.log);
        st = resume_point(&d, &resume, &day, &cycles);
    }
    next = resume ? day + 1 : 0;
    last = cfg->total_days > 0 ? cfg->total_days : next + cfg->days; /* one past the last day */
    out->days_from_ms = SIM_T0_MS + next * SIM_DAY_MS;
    if (st == TALLY_OK && resume) {
        /* the last day again: what the log holds is checked, what it lacks appended */
        st = run_day(&d, day, false, &cycles);
        if (st == TALLY_OK) {
            report(&d, &(ledger_sim_day){.day = day, .resumed = true, .skipped = d.skipped});
        }
        store_iter_close(d.old);
        d.old = NULL;
    }
    for (uint64_t dd = next; st == TALLY_OK && dd < last; dd++) {
        st = run_day(&d, dd, true, &cycles);
        if (st == TALLY_OK) {
            out->days++;
            report(&d, &(ledger_sim_day){.day = dd, .n = dd - next + 1, .of = last - next});
        }
    }
    out->days_to_ms = out->days_from_ms + out->days * SIM_DAY_MS;
    out->records_after = d.log ? store_size(d.log) : 0;
    store_iter_close(d.old);
    ledger_batch_release(&d.batch);
    engine_free(d.eng);
    engine_rules_free(d.rules);
    sim_gen_free(d.gen);
    store_close(d.log);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return st;
}

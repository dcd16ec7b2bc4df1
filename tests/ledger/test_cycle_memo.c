/* The engine keeps each miner's originality per event from one cycle to the next (eng_omemo in
 * engine/engine_int.h) and reuses it while its inputs stand. That must change no result: over a
 * simulated log folded into one engine, every cycle's block (scores, weights, state) is compared
 * byte for byte with the block of a fresh engine loaded from that cycle's own checkpoint, which
 * has no memo. Between cycles the stream gets records that must invalidate memos: copies of the
 * snapshots folded before the third cycle, with other prices, at old times inside the window (the
 * truth series of groups already memoised change), and a CONFIG_SET of an originality parameter. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "ledger/ledger.h"
#include "util/testutil.h"

typedef struct kept { /* a record of the fold as read from the log, by the fold's own seq */
    uint8_t *hb, *bb;
    size_t hn, bn;
} kept;

typedef struct fold {
    kept *v;
    size_t n, cap;
} fold;

static tally_status fetch_kept(uint64_t seq, void *arg, schema_header *h, schema_body *b)
{
    fold *f = arg;

    if (seq >= f->n || f->v[seq].hb == NULL) {
        return TALLY_ENOTFOUND;
    }
    if (schema_header_decode(f->v[seq].hb, f->v[seq].hn, h) != TALLY_OK) {
        return TALLY_ECORRUPT;
    }
    return schema_record_check(h, f->v[seq].bb, f->v[seq].bn, b);
}

static void keep(fold *f, const uint8_t *hb, size_t hn, const uint8_t *bb, size_t bn)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 1024;
        f->v = realloc(f->v, f->cap * sizeof(*f->v));
        assert_non_null(f->v);
    }
    f->v[f->n] = (kept){NULL, NULL, hn, bn};
    if (hb != NULL) {
        f->v[f->n].hb = malloc(hn);
        f->v[f->n].bb = malloc(bn ? bn : 1);
        assert_non_null(f->v[f->n].hb);
        assert_non_null(f->v[f->n].bb);
        memcpy(f->v[f->n].hb, hb, hn);
        memcpy(f->v[f->n].bb, bb, bn);
    }
    f->n++;
}

/* Applies a record made here (not from the log) at the fold's next seq. */
static void inject(engine *e, fold *f, schema_body *b, uint64_t time_ms)
{
    schema_header h = {.type = b->type, .time_ms = time_ms};

    assert_int_equal(engine_apply(e, f->n, &h, b), TALLY_OK);
    keep(f, NULL, 0, NULL, 0);
}

static void same_blocks(engine_block *a, engine_block *b)
{
    static const uint8_t leaves[4096][32];

    assert_int_equal(a->state_len, b->state_len);
    assert_memory_equal(a->state, b->state, a->state_len);
    assert_int_equal(a->n, b->n);
    assert_true(a->n_miners < 4096);
    for (size_t i = 0; i < a->n; i++) {
        uint8_t x[8192], y[8192];
        size_t nx, ny;
        if (a->bodies[i].type == SCHEMA_WEIGHTS) {
            engine_block_set_inputs_hash(a, leaves);
            engine_block_set_inputs_hash(b, leaves);
        }
        assert_int_equal(schema_body_encode(&a->bodies[i], x, sizeof(x), &nx), TALLY_OK);
        assert_int_equal(schema_body_encode(&b->bodies[i], y, sizeof(y), &ny), TALLY_OK);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx);
    }
}

/* Swaps the first two prices of a snapshot (other prices for the same market and time). */
static void swap_probs(schema_cprice *p, size_t n)
{
    if (n >= 2) {
        schema_cprice t = p[0];
        p[0].prob_n = p[1].prob_n, p[1].prob_n = t.prob_n;
    }
}

static void test_memo_changes_no_block(void **state)
{
    const char *dir = tu_tmpdir("cycle-memo");
    ledger_sim_cfg cfg = {
        .dir = dir, .seed = 5, .miners = 16, .markets_per_day = 12, .total_days = 9};
    ledger_sim_result res;
    store_cfg scfg = {.dir = dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record r;
    engine *e;
    fold f = {0};
    uint64_t cycles = 0, with_sos = 0, injected_snaps = 0;
    schema_body snaps[512]; /* snapshots folded before the third cycle */
    size_t n_snaps = 0;
    (void)state;

    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    assert_true(res.cycles >= 8);
    assert_int_equal(store_open(&scfg, &log), TALLY_OK);
    assert_int_equal(engine_new(&e), TALLY_OK);
    engine_set_fetch(e, fetch_kept, &f);
    assert_int_equal(store_iter_open(log, 0, &it), TALLY_OK);
    while (store_iter_next(it, &r) == TALLY_OK) {
        schema_header h;
        schema_body b;
        assert_int_equal(schema_header_decode(r.header.p, r.header.n, &h), TALLY_OK);
        if (h.type >= SCHEMA_SUBMISSION_SCORE) {
            continue; /* derived: this fold computes its own */
        }
        assert_int_equal(schema_record_check(&h, r.body.p, r.body.n, &b), TALLY_OK);
        if (h.type == SCHEMA_MARKET_SNAPSHOT && cycles < 3 && n_snaps < 512) {
            /* keep a copy to send again later at a slightly later time, other prices */
            schema_body c = b;
            schema_cprice *p = malloc(b.u.snapshot.n_probs * sizeof(*p));
            assert_non_null(p);
            memcpy(p, b.u.snapshot.probs, b.u.snapshot.n_probs * sizeof(*p));
            swap_probs(p, b.u.snapshot.n_probs);
            c.u.snapshot.probs = p, c.u.snapshot.ts_ms++;
            snaps[n_snaps++] = c;
        }
        if (h.type == SCHEMA_SCORING_CYCLE) {
            schema_scoring_cycle c = b.u.scoring_cycle;
            engine_block warm, cold;
            engine *fresh;
            c.covers_to = f.n; /* this fold's numbering: derived records are not in it */
            /* before the fifth cycle (the fourth is the first whose events have all their
             * snapshots before its as_of, so the first to keep memos), the copies of the
             * snapshots folded before the third */
            if (cycles == 4) {
                for (size_t i = 0; i < n_snaps; i++, injected_snaps++) {
                    inject(e, &f, &snaps[i], h.time_ms);
                }
                c.covers_to = f.n;
            }
            /* before the seventh, other lead-lag buckets: every memo is stale */
            if (cycles == 6) {
                schema_param p = {{"lead_lag.bucket_minutes", 23},
                                  {SCHEMA_PV_INT, 180, {0}, false}};
                schema_body cs = {.type = SCHEMA_CONFIG_SET};
                cs.u.config_set = (schema_config_set){.params = &p, .n_params = 1};
                inject(e, &f, &cs, h.time_ms);
                c.covers_to = f.n;
            }
            assert_int_equal(engine_cycle(e, f.n, &h, &c, &warm), TALLY_OK);
            assert_int_equal(engine_load(warm.state, warm.state_len, fetch_kept, &f, &fresh),
                             TALLY_OK);
            engine_set_fetch(fresh, fetch_kept, &f);
            assert_int_equal(engine_cycle(fresh, f.n, &h, &c, &cold), TALLY_OK);
            same_blocks(&warm, &cold);
            for (size_t i = 0; i < warm.n; i++) {
                with_sos += warm.bodies[i].type == SCHEMA_MINER_SCORE &&
                            warm.bodies[i].u.miner_score.stats[12].has;
            }
            engine_block_release(&warm);
            engine_block_release(&cold);
            engine_free(fresh);
            cycles++;
        }
        assert_int_equal(engine_apply(e, f.n, &h, &b), TALLY_OK);
        keep(&f, r.header.p, r.header.n, r.body.p, r.body.n);
        schema_body_release(&b);
    }
    /* the test means something only if the cycles had originality to memoise and to change */
    assert_true(cycles >= 8);
    assert_true(with_sos > 0);
    assert_true(injected_snaps > 0);
    for (size_t i = 0; i < n_snaps; i++) {
        free((void *)snaps[i].u.snapshot.probs);
    }
    for (size_t i = 0; i < f.n; i++) {
        free(f.v[i].hb);
        free(f.v[i].bb);
    }
    free(f.v);
    store_iter_close(it);
    store_close(log);
    engine_free(e);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memo_changes_no_block),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

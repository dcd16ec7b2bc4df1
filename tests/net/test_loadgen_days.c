/* `tally loadgen --days 2` against a real `tally serve` on a manual clock (TALLY_CLOCK=manual):
 * the loader moves the node's clock through two UTC days, every receipt verifies and names a
 * leaf of the log, a cycle lands at each midnight, a cycle scores the miners (MINER_SCOREs and
 * WEIGHTS), and `tally replay` of the node's log recomputes every cycle byte for byte. The
 * node's cycle interval is the default 6 h, so cycles also run (and race the clock) during the
 * days. Against a node on the system clock, --days refuses to start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/loadrun.h"
#include "util/node.h"
#include "util/testutil.h"

#define START_MS 1799020800000ull /* Monday 2027-01-04 00:00 UTC */
#define DAY_MS 86400000ull

/* Per cycle of the log: its as_of and how many MINER_SCOREs and WEIGHTS its block holds. */
typedef struct cyc {
    uint64_t as_of, miners, weights;
} cyc;

static size_t read_cycles(const char *dir, cyc *out, size_t cap)
{
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    size_t n = 0;
    tally_status st;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_iter_open(log, 0, &it), TALLY_OK);
    while ((st = store_iter_read(it, false, &rec, &h, &b)) == TALLY_OK) {
        if (h.type == SCHEMA_SCORING_CYCLE) {
            schema_body cb;
            assert_int_equal(store_record_body(&rec, &h, &cb), TALLY_OK);
            assert_true(n < cap);
            out[n++] = (cyc){.as_of = cb.u.scoring_cycle.as_of_ms};
            schema_body_release(&cb);
        } else if (h.type == SCHEMA_MINER_SCORE && n > 0) {
            out[n - 1].miners++;
        } else if (h.type == SCHEMA_WEIGHTS && n > 0) {
            out[n - 1].weights++;
        }
    }
    assert_int_equal(st, TALLY_ENOTFOUND);
    store_iter_close(it);
    store_close(log);
    return n;
}

static void two_days(void **state)
{
    char start[64], out[16384];
    tn_node n;
    tlg_run l;
    json_t *sum, *days;
    cyc c[64];
    size_t nc;
    bool at[3] = {false, false, false}, scored = false;
    (void)state;

    snprintf(start, sizeof(start), "TALLY_CLOCK_START_MS=%llu", START_MS);
    tn_init(&n, "loadgen_days");
    tlg_node_env_set(&n, "TALLY_CLOCK=manual", start);
    tn_start(&n);
    tlg_start(&n, &l, "days", 8, 1, 3, "--days 2 --events 8 --concurrency 2");
    if (tlg_wait(&l, 300) != 0) {
        tu_run(out, sizeof(out), "cat %s", l.log);
        fail_msg("tally loadgen --days 2 failed:\n%s", out);
    }
    sum = tlg_summary(&l);
    assert_non_null(sum);
    days = json_object_get(sum, "days");
    assert_non_null(days);
    assert_int_equal(json_integer_value(json_object_get(days, "days")), 2);
    assert_int_equal(json_integer_value(json_object_get(days, "clock_start_ms")), START_MS);
    assert_int_equal(json_integer_value(json_object_get(days, "clock_end_ms")),
                     START_MS + 2 * DAY_MS);
    assert_int_equal(json_integer_value(json_object_get(days, "cycles")), 2);
    /* every market of the 16 events closed, every event settled by the provider */
    assert_int_equal(json_integer_value(json_object_get(days, "closes")), 16 * 3);
    assert_int_equal(json_integer_value(json_object_get(days, "provider_outcomes")), 16);
    assert_true(tlg_get_int(sum, "items", "accepted") > 0);
    assert_true(tlg_get_int(sum, "receipts", "received") > 0);
    assert_int_equal(tlg_get_int(sum, "receipts", "verified"),
                     tlg_get_int(sum, "receipts", "received"));
    assert_int_equal(tlg_get_int(sum, "receipts", "failed"), 0);
    assert_int_equal(tlg_get_int(sum, "requests", "garbage"),
                     tlg_get_int(sum, "requests", "garbage_refused"));
    assert_int_equal(tlg_check_receipts(n.dir, l.receipts),
                     (uint64_t)tlg_get_int(sum, "receipts", "entries"));
    /* one progress line a day */
    tu_run(out, sizeof(out), "grep -c '^loadgen: day ' %s", l.log);
    assert_int_equal(atoi(out), 2);
    json_decref(sum);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);

    /* a cycle at each midnight crossed; the second scores the first day's miners */
    nc = read_cycles(n.dir, c, 64);
    assert_true(nc >= 2);
    for (size_t i = 0; i < nc; i++) {
        for (unsigned d = 1; d <= 2; d++) {
            at[d] = at[d] || c[i].as_of == START_MS + d * DAY_MS;
        }
        scored = scored || (c[i].miners > 0 && c[i].weights == 1);
    }
    assert_true(at[1] && at[2]);
    assert_true(scored);
    assert_int_equal(c[nc - 1].as_of, START_MS + 2 * DAY_MS);
    assert_true(c[nc - 1].miners > 0);
    assert_int_equal(c[nc - 1].weights, 1);

    /* the auditor's recomputation of every cycle matches the node's */
    if (tu_run(out, sizeof(out), "%s replay --dir %s --quiet 2>&1", getenv("TALLY_BIN"), n.dir) !=
        0) {
        fail_msg("tally replay: %s", out);
    }
    assert_non_null(strstr(out, "replay matched"));
    assert_int_equal(tlg_verify(n.dir), 0);
    tn_free(&n);
}

/* A node on the system clock: --days exits 3 and says why, having fed nothing. */
static void system_clock_refused(void **state)
{
    char out[8192];
    tn_node n;
    tlg_run l;
    uint64_t size0;
    (void)state;

    tn_init(&n, "loadgen_days_sys");
    tlg_node_env_set(&n, NULL, NULL);
    tn_start(&n);
    size0 = tn_size(&n);
    tlg_start(&n, &l, "sys", 4, 1, 1, "--days 1");
    assert_int_equal(tlg_wait(&l, 60), 3);
    tu_run(out, sizeof(out), "cat %s", l.log);
    assert_non_null(strstr(out, "TALLY_CLOCK=manual"));
    assert_int_equal(tn_size(&n), size0);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_days),
        cmocka_unit_test(system_clock_refused),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

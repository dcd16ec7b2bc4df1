/* ledger_simulate in-process: one report per day in order, counts that add up to the log it
 * wrote, a resumed run that reaches the root of an uninterrupted one (with the resumed day
 * reported as checked), records another writer appended kept and counted, and every stop reason
 * as a status with its sentence, leaving the directory untouched where nothing could be done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "sim/sim.h"
#include "util/testlog.h"
#include "util/testutil.h"

#define MINERS 10
#define MARKETS 9

typedef struct days_seen {
    ledger_sim_day d[16];
    size_t n;
} days_seen;

static void on_day(void *arg, const ledger_sim_day *day)
{
    days_seen *s = arg;

    assert_true(s->n < 16);
    s->d[s->n++] = *day;
}

static ledger_sim_cfg cfg_for(const char *dir, days_seen *seen)
{
    return (ledger_sim_cfg){.dir = dir, .seed = 11, .miners = MINERS, .markets_per_day = MARKETS,
                            .on_day = seen ? on_day : NULL, .on_day_arg = seen};
}

/* Size and root of the log's latest head, and its last record's time. */
static uint64_t head_of(const char *dir, uint8_t root[32], uint64_t *last_ms)
{
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record r;
    schema_header h;
    schema_sth sth;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_sth_latest(log, &sth), TALLY_OK);
    assert_int_equal(sth.tree_size, store_size(log));
    memcpy(root, sth.root, 32);
    assert_int_equal(store_iter_open(log, sth.tree_size - 1, &it), TALLY_OK);
    assert_int_equal(store_iter_next(it, &r), TALLY_OK);
    assert_int_equal(schema_header_decode(r.header.p, r.header.n, &h), TALLY_OK);
    *last_ms = h.time_ms;
    store_iter_close(it);
    store_close(log);
    return sth.tree_size;
}

static uint64_t refused_sum(const ledger_sim_result *res)
{
    uint64_t n = 0;

    for (unsigned r = 0; r < ENGINE_RULE_COUNT; r++) {
        n += res->refused[r];
    }
    return n;
}

/* A fresh run of 3 days, continued to 5, against 5 days at once. */
static void test_days_and_resume(void **state)
{
    const char *a = tu_tmpdir("lsim-a"), *b = tu_tmpdir("lsim-b");
    ledger_sim_cfg cfg;
    ledger_sim_result res, whole;
    days_seen seen = {0}, seen_whole = {0};
    uint8_t ra[32], rb[32];
    uint64_t size_a, size_b, last_ms;
    (void)state;

    cfg = cfg_for(a, &seen);
    cfg.days = 3;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    assert_string_equal(res.what, "");
    assert_int_equal(seen.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_false(seen.d[i].resumed);
        assert_int_equal(seen.d[i].day, i);
        assert_int_equal(seen.d[i].n, i + 1);
        assert_int_equal(seen.d[i].of, 3);
        assert_true(i == 0 || seen.d[i].records > seen.d[i - 1].records);
    }
    size_a = head_of(a, ra, &last_ms);
    assert_int_equal(seen.d[2].records, size_a);
    assert_int_equal(res.records_before, 0);
    assert_int_equal(res.records_after, size_a);
    assert_int_equal(res.days, 3);
    assert_int_equal(res.cycles, 2); /* at the midnights of days 1 and 2 */
    assert_true(res.derived > 0 && res.submissions > 0 && res.quotes > 0 && res.events > 0);
    assert_true(res.refused_total > 0);
    assert_int_equal(res.refused_total, refused_sum(&res));
    assert_int_equal(res.days_from_ms, SIM_T0_MS);
    assert_int_equal(res.days_to_ms, SIM_T0_MS + 3 * SIM_DAY_MS);
    assert_true(last_ms < res.days_to_ms && last_ms >= res.days_to_ms - SIM_DAY_MS);
    assert_true(res.seconds > 0);

    /* continued to 5 days: day 2 checked first, then days 3 and 4 */
    seen.n = 0;
    cfg.days = 0;
    cfg.total_days = 5;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    assert_int_equal(seen.n, 3);
    assert_true(seen.d[0].resumed);
    assert_int_equal(seen.d[0].day, 2);
    assert_true(seen.d[0].skipped > 0);
    assert_int_equal(seen.d[0].records, size_a);
    assert_false(seen.d[1].resumed);
    assert_int_equal(seen.d[1].day, 3);
    assert_int_equal(seen.d[1].n, 1);
    assert_int_equal(seen.d[1].of, 2);
    assert_int_equal(seen.d[2].day, 4);
    assert_int_equal(res.records_before, size_a);
    assert_int_equal(res.days, 2);
    assert_int_equal(res.cycles, 2);
    assert_int_equal(res.foreign, 0);
    assert_int_equal(res.days_from_ms, SIM_T0_MS + 3 * SIM_DAY_MS);

    /* the same five days in one run, without a callback: the same bytes */
    cfg = cfg_for(b, NULL);
    cfg.days = 5;
    assert_int_equal(ledger_simulate(&cfg, &whole), TALLY_OK);
    size_a = head_of(a, ra, &last_ms);
    size_b = head_of(b, rb, &last_ms);
    assert_int_equal(size_a, size_b);
    assert_memory_equal(ra, rb, 32);
    assert_int_equal(whole.records_after, size_b);
    assert_int_equal(whole.cycles, 4);

    /* nothing left to do: the last day is checked, no new day */
    cfg = cfg_for(b, &seen_whole);
    cfg.total_days = 5;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    assert_int_equal(seen_whole.n, 1);
    assert_true(seen_whole.d[0].resumed);
    assert_int_equal(res.days, 0);
    assert_int_equal(res.records_after, size_b);
    assert_int_equal(res.records_before, size_b);
    tu_rmdir(a);
    tu_rmdir(b);
}

/* A record another writer appended after the simulated day is kept, counted once, and the next
 * run goes on after it. */
static void test_foreign_record_kept(void **state)
{
    const char *dir = tu_tmpdir("lsim-foreign");
    ledger_sim_cfg cfg = cfg_for(dir, NULL);
    ledger_sim_result res;
    store_cfg sc = {.dir = dir};
    store_log *log;
    store_input in;
    uint8_t buf[512], root[32];
    uint64_t size, last_ms, first;
    (void)state;

    cfg.days = 2;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    size = head_of(dir, root, &last_ms);
    assert_int_equal(store_open(&sc, &log), TALLY_OK);
    tl_event(log, 900000001, buf, sizeof(buf), &in);
    in.header.time_ms = last_ms; /* actor_sig does not cover the time */
    assert_int_equal(store_append(log, &in, 1, &first), TALLY_OK);
    assert_int_equal(first, size);
    store_close(log);

    cfg.days = 1;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    assert_int_equal(res.foreign, 1);
    assert_int_equal(res.records_before, size + 1);
    assert_int_equal(res.days, 1);
    assert_int_equal(res.cycles, 1);
    assert_true(res.records_after > size + 1);
    tu_rmdir(dir);
}

static bool dir_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    bool empty = true;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        empty = empty && (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
    }
    closedir(d);
    return empty;
}

/* Each reason a run stops, as its status with the sentence the CLI prints. */
static void test_stop_reasons(void **state)
{
    const char *dir = tu_tmpdir("lsim-stop"), *other = tu_tmpdir("lsim-other");
    const char *full = tu_tmpdir("lsim-full");
    ledger_sim_cfg cfg = cfg_for(dir, NULL);
    ledger_sim_result res;
    uint8_t root[32];
    uint64_t size, last_ms;
    (void)state;

    /* out of range: refused before the directory is touched */
    cfg.miners = 0;
    cfg.days = 1;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_EINVAL);
    assert_non_null(strstr(res.what, "0 miners"));
    assert_true(dir_empty(dir));
    cfg.miners = MINERS;
    cfg.markets_per_day = SIM_MARKETS_MAX + 1;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_EINVAL);
    assert_true(dir_empty(dir));
    cfg.markets_per_day = MARKETS;
    cfg.dir = NULL;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_EINVAL);
    assert_string_equal(res.what, "no directory given");
    cfg.dir = dir;

    /* a log, then the same directory continued with another seed or other flags */
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    size = head_of(dir, root, &last_ms);
    cfg.seed = 12;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_ECONFLICT);
    assert_string_equal(res.what, "the log's node key is not the one seed 12 gives");
    cfg.seed = 11;
    cfg.miners = MINERS + 1;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_ECONFLICT);
    assert_non_null(strstr(res.what, "is not the one these flags generate"));
    assert_int_equal(res.records_after, size); /* nothing appended */
    cfg.miners = MINERS;

    /* a log it did not write */
    store_close(tl_create(other, 0));
    cfg.dir = other;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_ECONFLICT);
    assert_non_null(strstr(res.what, "did not write (origin test.tally/1)"));

    /* a full map: the days that fit are kept and a larger map finishes the run */
    cfg.dir = full;
    cfg.days = 8;
    cfg.map_size = 1u << 20;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_EFULL);
    assert_true(res.records_after > 0);
    assert_true(res.days < 8);
    size = head_of(full, root, &last_ms);
    assert_int_equal(res.records_after, size);
    cfg.map_size = 64u << 20;
    cfg.days = 0;
    cfg.total_days = 8;
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    assert_int_equal(res.records_before, size);
    tu_rmdir(dir);
    tu_rmdir(other);
    tu_rmdir(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_and_resume),
        cmocka_unit_test(test_foreign_record_kept),
        cmocka_unit_test(test_stop_reasons),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

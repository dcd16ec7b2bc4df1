/* The live node's cycle (ledger_node_cycle_live) while another thread goes on appending: the
 * block covers the log as it stood when the cycle began, lands after whatever came meanwhile,
 * is judged by the writer's rules, and a full replay of the log recomputes every cycle byte for
 * byte (the records between covers_to and the cycle are inputs of the next one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <pthread.h>
#include <unistd.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "ledger/ledger.h"
#include "util/testutil.h"

typedef struct feeder {
    store_log *log;
    atomic_bool stop;
    uint64_t appended;
} feeder;

/* Appends node EVENT records (new event ids) one at a time until told to stop. */
static void *feed(void *arg)
{
    feeder *f = arg;
    uint64_t id = 900000;

    while (!atomic_load(&f->stop) && f->appended < 2000) {
        ledger_batch b = LEDGER_BATCH_INIT;
        schema_body ev = {.type = SCHEMA_EVENT};
        uint64_t first;
        ev.u.event = (schema_event){.event_id = id++, .sport = {"x", 1}, .league = {"y", 1},
                                    .home_team = {"A", 1}, .away_team = {"B", 1},
                                    .start_ms = 4102444800000ull, .status = SCHEMA_SCHEDULED};
        assert_int_equal(ledger_batch_node(&b, f->log, &ev, 0), TALLY_OK);
        assert_int_equal(ledger_batch_flush(&b, f->log, &first), TALLY_OK);
        ledger_batch_release(&b);
        f->appended++;
    }
    return NULL;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void live_cycles_replay(void **state)
{
    const char *dir = tu_tmpdir("cycle_live");
    ledger_sim_cfg sc = {.dir = dir, .seed = 5, .miners = 8, .markets_per_day = 6, .days = 3};
    ledger_sim_result sr;
    ledger_admission adm;
    store_cfg cfg = {.dir = dir};
    store_log *log;
    engine *e;
    engine_rules *rules;
    ledger_cycle_info info;
    ledger_replay_cfg rc = {0};
    ledger_replay_result res;
    uint64_t cycles, before;
    feeder f = {0};
    pthread_t th;
    (void)state;

    assert_int_equal(ledger_simulate(&sc, &sr), TALLY_OK);
    assert_int_equal(ledger_admission_init(&adm), TALLY_OK);
    cfg.admission = &adm.hook;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(ledger_admission_attach(&adm, log), TALLY_OK);
    /* a restart from the latest checkpoint stands where the whole replay stands */
    {
        engine *fast;
        uint64_t fast_cycles, resumed;
        assert_int_equal(ledger_node_catch_up(log, true, &fast, &fast_cycles, &resumed), TALLY_OK);
        assert_int_equal(fast_cycles, 2);
        assert_int_equal(resumed, 2);
        assert_int_equal(ledger_node_catch_up(log, false, &e, &cycles, &resumed), TALLY_OK);
        assert_int_equal(resumed, 0);
        assert_int_equal(engine_next_seq(fast), engine_next_seq(e));
        engine_free(fast);
    }
    assert_int_equal(cycles, 2);
    assert_int_equal(engine_rules_new(&rules), TALLY_OK);
    f.log = log;
    unsigned lagging = 0;
    for (int k = 0; k < 6; k++) {
        before = store_size(log);
        assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
        assert_int_equal(ledger_node_cycle_live(log, &e, rules, wall_ms(), &info), TALLY_OK);
        atomic_store(&f.stop, true);
        pthread_join(th, NULL);
        atomic_store(&f.stop, false);
        assert_true(info.seq >= before);
        assert_true(info.covers_to <= info.seq);
        lagging += info.covers_to < info.seq;
        assert_true(info.records >= 2);
    }
    /* the records the feeder appended while a cycle was computed are the next cycle's inputs */
    assert_true(lagging > 0);
    /* the newest checkpoint file gone: the fast start finds the one before it (searching back
     * from the log's end) and recomputes the last cycle */
    {
        char path[600];
        engine *fast, *full;
        uint64_t n, fc, resumed;
        assert_int_equal(ledger_node_catch_up(log, true, &fast, &n, &resumed), TALLY_OK);
        assert_int_equal(resumed, n);
        engine_free(fast);
        snprintf(path, sizeof(path), "%s/checkpoints/%" PRIu64 ".zst", cfg.dir, n);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(ledger_node_catch_up(log, true, &fast, &fc, &resumed), TALLY_OK);
        assert_int_equal(resumed, n - 1);
        assert_int_equal(ledger_node_catch_up(log, false, &full, &n, &resumed), TALLY_OK);
        assert_int_equal(engine_next_seq(fast), engine_next_seq(full));
        engine_free(fast);
        engine_free(full);
    }
    store_close(log);
    ledger_admission_release(&adm);
    engine_rules_free(rules);
    engine_free(e);
    /* every cycle recomputed from the log agrees with the block the node appended */
    cfg = (store_cfg){.dir = dir, .read_only = true};
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(ledger_replay(log, &rc, &res), TALLY_OK);
    if (res.mismatch) {
        fail_msg("replay mismatch at seq %llu: %s", (unsigned long long)res.bad_seq, res.what);
    }
    assert_int_equal(res.cycles, 8);
    engine_free(res.eng);
    store_close(log);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_cycles_replay),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

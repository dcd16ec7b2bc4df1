/* A simulated history runs past this machine's clock: ledger_simulate opens its logs with
 * simulated_time, so records dated after the wall clock (plus the writer's skew) are appended,
 * not refused. The run is as small as the generator allows (1 miner, 1 market a day), but it
 * must reach a day after today, so it grows with the date: about 340 days in December 2026. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <time.h>

#include "ledger/ledger.h"
#include "sim/sim.h"
#include "util/testutil.h"

static void test_history_past_the_clock(void **state)
{
    const char *dir = tu_tmpdir("lsim-clock");
    struct timespec ts;
    uint64_t now_ms, days, last_ms;
    ledger_sim_result res;
    store_cfg sc = {.dir = dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record r;
    schema_header h;
    (void)state;

    clock_gettime(CLOCK_REALTIME, &ts);
    now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    assert_true(now_ms > SIM_T0_MS); /* a clock before 2026 could not show anything */
    /* today is day (now − T0) / DAY; the last day, two after it, opens at least 24 h from now,
     * far past the writer's 30 s skew */
    days = (now_ms - SIM_T0_MS) / SIM_DAY_MS + 3;
    ledger_sim_cfg cfg = {.dir = dir, .seed = 3, .miners = 1, .markets_per_day = 1,
                          .total_days = (unsigned)days};
    assert_int_equal(ledger_simulate(&cfg, &res), TALLY_OK);
    assert_int_equal(res.days, days);

    assert_int_equal(store_open(&sc, &log), TALLY_OK);
    assert_int_equal(store_size(log), res.records_after);
    assert_int_equal(store_iter_open(log, store_size(log) - 1, &it), TALLY_OK);
    assert_int_equal(store_iter_next(it, &r), TALLY_OK);
    assert_int_equal(schema_header_decode(r.header.p, r.header.n, &h), TALLY_OK);
    last_ms = h.time_ms;
    store_iter_close(it);
    store_close(log);
    assert_true(last_ms > now_ms + STORE_SKEW_DEFAULT_MS);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_past_the_clock),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

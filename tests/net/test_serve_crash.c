/* kill -9 of `tally serve` under load, again and again. Each round starts the node on the same
 * log and runs `tally loadgen` against it, which writes every receipt entry it verified. Once
 * the load has begun (its first miner record), the node is killed at a random moment 50–400 ms
 * later; a read-only open then checks that every acknowledged record (seq and leaf hash) is in
 * the log, and `tally verify` must pass. The next round's start is the restart after the crash;
 * a last restart and SIGTERM close the run, and every round's receipts are checked once more. */
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
#include <time.h>
#include <unistd.h>

#include "util/loadrun.h"
#include "util/node.h"
#include "util/testutil.h"

#define ROUNDS_DEFAULT 20u
#define ROUNDS_MAX 1000u

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

/* $TALLY_CRASH_ROUNDS for longer runs by hand; 20 by default. */
static unsigned rounds(void)
{
    const char *s = getenv("TALLY_CRASH_ROUNDS");
    unsigned long v = s ? strtoul(s, NULL, 10) : 0;
    return v >= 1 && v <= ROUNDS_MAX ? (unsigned)v : ROUNDS_DEFAULT;
}

static void kill9_under_load(void **state)
{
    tn_node n;
    unsigned nr = rounds(), seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    tlg_run *l = calloc(nr, sizeof(*l));
    uint64_t acked = 0, size = 0;
    (void)state;

    assert_non_null(l);
    srand(seed);
    tn_init(&n, "serve_crash");
    tlg_node_env_set(&n, NULL, NULL);
    for (unsigned i = 0; i < nr; i++) {
        char tag[32];
        unsigned delay = 50u + (unsigned)rand() % 351u;
        uint64_t size0, got;

        tn_start(&n); /* from the second round on: the restart after a kill -9 */
        size0 = tn_size(&n);
        snprintf(tag, sizeof(tag), "round%u", i);
        /* 200 events: the feed is one commit of 801 records */
        tlg_start(&n, &l[i], tag, 6, 1, i + 1, "--concurrency 3 --batch 3 --events 200");
        tlg_wait_load(&n, &l[i], size0);
        sleep_ms(delay);
        assert_int_equal(tn_stop(&n, SIGKILL), 128 + SIGKILL);
        /* every receipt the loader got verified (and it gives up on the dead node) */
        assert_int_equal(tlg_wait(&l[i], 60), 0);
        got = tlg_check_receipts(n.dir, l[i].receipts);
        assert_int_equal(tlg_verify(n.dir), 0);
        acked += got;
        size = tn_size(&n);
        print_message("round %u: killed %u ms into the load, %llu records acknowledged, log %llu\n",
                      i, delay, (unsigned long long)got, (unsigned long long)size);
    }
    tn_start(&n);
    assert_true(tn_size(&n) >= size);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    assert_int_equal(tlg_verify(n.dir), 0);
    for (unsigned i = 0; i < nr; i++) {
        (void)tlg_check_receipts(n.dir, l[i].receipts);
    }
    print_message("%u kills (rand seed %u): %llu acknowledged records, all in the log; log %llu "
                  "records\n",
                  nr, seed, (unsigned long long)acked, (unsigned long long)tn_size(&n));
    assert_true(acked > 0);
    free(l);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_under_load),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

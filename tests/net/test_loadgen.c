/* `tally loadgen` against a real `tally serve` on loopback: a few seconds of simulated miners
 * end with every receipt verified, accepted items, and a log that `tally verify` passes and that
 * holds every receipt's leaf; and a SIGTERM in the middle of the load drains the node, which
 * exits 0 within its grace period without losing an acknowledged record. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/loadrun.h"
#include "util/node.h"
#include "util/testutil.h"

#define GRACE_S 4u

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static void loadgen_drives_node(void **state)
{
    tn_node n;
    tlg_run l;
    json_t *sum;
    uint64_t checked;
    (void)state;

    tn_init(&n, "loadgen");
    tlg_node_env_set(&n, NULL, NULL);
    tn_start(&n);
    /* seed 3: its six miners include every kind but copying (the report counts them) */
    tlg_start(&n, &l, "run", 6, 3, 3, "--concurrency 3 --batch 4");
    assert_int_equal(tlg_wait(&l, 60), 0);
    sum = tlg_summary(&l);
    assert_non_null(sum);
    assert_true(tlg_get_int(sum, "items", "accepted") > 0);
    assert_true(tlg_get_int(sum, "receipts", "received") > 0);
    assert_int_equal(tlg_get_int(sum, "receipts", "verified"),
                     tlg_get_int(sum, "receipts", "received"));
    assert_int_equal(tlg_get_int(sum, "receipts", "failed"), 0);
    /* the garbage miners' refusals are answered as refusals */
    assert_int_equal(tlg_get_int(sum, "requests", "garbage"),
                     tlg_get_int(sum, "requests", "garbage_refused"));
    checked = tlg_check_receipts(n.dir, l.receipts);
    assert_int_equal(checked, (uint64_t)tlg_get_int(sum, "receipts", "entries"));
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    assert_int_equal(tlg_verify(n.dir), 0);
    assert_int_equal(tlg_check_receipts(n.dir, l.receipts), checked);
    json_decref(sum);
    tn_free(&n);
}

/* SIGTERM while the loader runs: the node exits 0 within the grace period (plus the time a
 * commit already begun and the final STH take), and every receipt the loader got is in the
 * log. */
static void sigterm_during_load(void **state)
{
    tn_node n;
    tlg_run l;
    int st = -1;
    uint64_t size0;
    (void)state;

    tn_init(&n, "loadgen_term");
    tlg_node_env_set(&n, "TALLY_SHUTDOWN_GRACE_S=4", NULL);
    tn_start(&n);
    size0 = tn_size(&n);
    tlg_start(&n, &l, "term", 8, 4, 5, "--concurrency 4 --events 300");
    tlg_wait_load(&n, &l, size0);
    sleep_ms(600);
    kill(n.pid, SIGTERM);
    for (unsigned t = 0; t < (GRACE_S + 10u) * 50u; t++) {
        int ws;
        if (waitpid(n.pid, &ws, WNOHANG) == n.pid) {
            st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            n.pid = -1;
            break;
        }
        sleep_ms(20);
    }
    if (n.pid > 0) {
        fail_msg("tally serve did not exit after SIGTERM within the grace period and 10 s");
    }
    assert_int_equal(st, 0);
    /* the loader gets refusals and then no answers; what it did get verified */
    assert_int_equal(tlg_wait(&l, 60), 0);
    print_message("sigterm: %llu receipt entries checked against the log\n",
                  (unsigned long long)tlg_check_receipts(n.dir, l.receipts));
    assert_int_equal(tlg_verify(n.dir), 0);
    tn_free(&n);
}

/* The node stopped (SIGSTOP) for 1.5 s under load: requests in flight time out and are sent
 * again with the same nonce and body; a write that was committed before the stall is answered
 * "duplicate" with a fresh receipt, and every receipt still verifies and is in the log. */
static void stall_and_retry(void **state)
{
    tn_node n;
    tlg_run l;
    json_t *sum;
    uint64_t size0;
    (void)state;

    tn_init(&n, "loadgen_stall");
    tlg_node_env_set(&n, NULL, NULL);
    tn_start(&n);
    size0 = tn_size(&n);
    tlg_start(&n, &l, "stall", 6, 4, 7, "--concurrency 3 --events 200 --rate 40 --timeout-ms 300");
    tlg_wait_load(&n, &l, size0);
    sleep_ms(300);
    kill(n.pid, SIGSTOP);
    sleep_ms(1500);
    kill(n.pid, SIGCONT);
    assert_int_equal(tlg_wait(&l, 60), 0);
    sum = tlg_summary(&l);
    assert_non_null(sum);
    assert_int_equal(tlg_get_int(sum, "receipts", "failed"), 0);
    assert_int_equal(tlg_get_int(sum, "receipts", "verified"),
                     tlg_get_int(sum, "receipts", "received"));
    print_message("stall: %lld retries, %lld duplicates, %lld receipts\n",
                  (long long)tlg_get_int(sum, "requests", "retries"),
                  (long long)tlg_get_int(sum, "requests", "duplicates"),
                  (long long)tlg_get_int(sum, "receipts", "verified"));
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    assert_int_equal(tlg_check_receipts(n.dir, l.receipts),
                     (uint64_t)tlg_get_int(sum, "receipts", "entries"));
    assert_int_equal(tlg_verify(n.dir), 0);
    json_decref(sum);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loadgen_drives_node),
        cmocka_unit_test(sigterm_during_load),
        cmocka_unit_test(stall_and_retry),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

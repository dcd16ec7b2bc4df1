/* The auditor killed at arbitrary points (SIGKILL, no chance to clean up) while it syncs,
 * replays and attests a four-day simulated history served by a real `tally serve`: deltas of
 * 4 records make hundreds of small transactions to land in. After every kill the replica opens
 * and is no smaller than before (nothing verified is lost); after the last one a `tally audit
 * --once` finishes the work: every cycle passes, the node's log holds exactly one attestation
 * per cycle from this auditor (a post repeated after a kill is refused as a duplicate, not
 * counted twice), the replica verifies, and weights.json is the one an auditor that was never
 * killed writes. Then the one crash point that lost work before (the check of a cycle saved,
 * its attestation not posted: the cycle was never attested), made deterministic by rewinding
 * the persisted state: the next round attests the cycles again and writes their weights. */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "schema/schema.h"
#include "store/store.h"
#include "util/auditrun.h"
#include "util/node.h"
#include "util/testutil.h"

#define KILLS 16

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void killed_auditor(void **state)
{
    const char *tmp = tu_tmpdir("audit_crash");
    char logdir[400], adir[400], cdir[400], vkey[512], origin[60], out[8192];
    tn_node n;
    uint8_t node_pk[32];
    uint64_t prev = 0, cycles = 0, sizes[KILLS];
    unsigned mid = 0;
    long window = 40; /* ms: a kill comes 2 ms to 2 + window ms after the daemon listens */
    uint32_t rng = 12345;
    int rc;
    (void)state;

    snprintf(logdir, sizeof(logdir), "%s/log", tmp);
    snprintf(adir, sizeof(adir), "%s/killed", tmp);
    snprintf(cdir, sizeof(cdir), "%s/clean", tmp);
    assert_int_equal(tu_run(out, sizeof(out),
                            "mkdir -p %s %s %s && %s --dir %s simulate --miners 8 --days 4 "
                            "--markets-per-day 6 --seed 1 -q",
                            logdir, adir, cdir, bin(), logdir),
                     0);
    /* the first simulated validator's key, bound with a permit in every METAGRAPH */
    assert_int_equal(tu_run(out, sizeof(out),
                            "%s keygen --out %s/auditor.key --sim-validator 0 --sim-seed 1 "
                            "--sim-miners 8 && cp %s/auditor.key %s/auditor.key",
                            bin(), adir, adir, cdir),
                     0);
    {
        store_cfg cfg = {.dir = logdir, .read_only = true};
        store_log *log;
        assert_int_equal(store_open(&cfg, &log), TALLY_OK);
        snprintf(origin, sizeof(origin), "%s", store_origin(log));
        store_node_pubkey(log, node_pk);
        store_close(log);
        tn_node k = {0};
        snprintf(k.dir, sizeof(k.dir), "%s", logdir);
        ta_node_vkey(&k, vkey, sizeof(vkey));
    }
    {
        /* restarts back to back from one address and key: no rate limit in the way */
        static const char *const env[] = {"TALLY_RATE_IP_PER_S=10000",
                                          "TALLY_RATE_IP_PER_MIN=60000",
                                          "TALLY_RATE_KEY_PER_S=10000",
                                          "TALLY_RATE_KEY_PER_MIN=60000",
                                          "TALLY_RATE_GLOBAL_PER_S=10000",
                                          "TALLY_RATE_GLOBAL_PER_MIN=60000",
                                          NULL};
        ta_serve_log(&n, tmp, origin, logdir, env);
    }
    setenv("TALLY_AUDIT_DELTA_RECORDS", "4", 1);
    uint64_t synced = tn_size(&n); /* the log the first rounds sync */
    for (int k = 0; k < KILLS; k++) {
        ta_daemon d;
        uint64_t now;
        ta_daemon_start(&d, n.port[TN_LEDGER], origin, adir, vkey, NULL);
        rng = rng * 1103515245u + 12345u;
        sleep_ms(2 + (long)((rng >> 8) % window));
        assert_int_equal(ta_daemon_stop(&d, SIGKILL), 128 + SIGKILL);
        now = ta_replica_size(adir);
        print_message("kill %d: replica %" PRIu64 " records\n", k + 1, now);
        assert_true(now >= prev);
        /* the kill points follow the build's speed (sanitizers, a busy machine): a kill that
         * found no new record widens the window of the next one */
        if (now == prev && now < synced && window < 4000) {
            window *= 2;
        }
        prev = now;
        sizes[k] = now;
    }
    unsetenv("TALLY_AUDIT_DELTA_RECORDS");
    /* some kills landed in the middle of the sync (the rest in the replay, the posts, or
     * between rounds) */
    for (int k = 0; k < KILLS; k++) {
        mid += sizes[k] > 0 && sizes[k] < synced;
    }
    print_message("%u of %d kills in the middle of the sync\n", mid, KILLS);
    assert_true(mid >= 1);

    /* the rest of the work, then the same from an auditor never killed */
    rc = ta_audit_once(n.port[TN_LEDGER], origin, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("audit after the kills: exit %d\n%s", rc, out);
    }
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s/replica verify 2>&1", bin(), adir), 0);
    {
        schema_attestation last;
        uint8_t apk[32], sk[64];
        char kpath[700], detail[STORE_DETAIL_MAX];
        snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir);
        assert_int_equal(store_key_read(kpath, apk, sk, detail), TALLY_OK);
        assert_true(ta_attestations_find(&n, apk, 0, &last) >= 1);
        cycles = last.cycle;
        for (uint64_t c = 1; c <= cycles; c++) {
            schema_attestation at;
            assert_int_equal(ta_attestations_find(&n, apk, c, &at), 1);
            assert_int_equal(at.verdict, 1);
        }
    }
    assert_true(cycles >= 3);
    /* the clean auditor has the same key, so it attests nothing new (409): its verdicts and
     * weights are its own replay's */
    rc = ta_audit_once(n.port[TN_LEDGER], origin, cdir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("clean audit: exit %d\n%s", rc, out);
    }
    assert_int_equal(tu_run(out, sizeof(out),
                            "sed 's/\"tree_size\": *[0-9]*//' %s/weights.json >%s/w1 && "
                            "sed 's/\"tree_size\": *[0-9]*//' %s/weights.json >%s/w2 && "
                            "cmp %s/w1 %s/w2",
                            adir, tmp, cdir, tmp, tmp, tmp),
                     0);

    /* the crash the kills above land in only now and then, made on purpose: the check of
     * cycles 2 and 3 saved, their attestations not (the state says cycle 1 was the last
     * attested and passed), weights.json not yet rewritten. The next round decides them again:
     * both passes posted (the node already holds them: 409, counted as posted), and the weights
     * of cycle 3 written */
    {
        char rdir[700], path[700];
        uint8_t buf[STORE_SIDE_VAL_MAX];
        size_t len;
        bool found;
        store_cfg cfg = {.dir = rdir, .origin = origin, .replica_pk = node_pk};
        store_log *log;
        snprintf(rdir, sizeof(rdir), "%s/replica", adir);
        assert_int_equal(store_open(&cfg, &log), TALLY_OK);
        assert_int_equal(store_side_get(log, STORE_SIDE_AUDIT, (const uint8_t *)"state", 5, buf,
                                        sizeof(buf), &len, &found),
                         TALLY_OK);
        assert_true(found);
        json_t *o = json_loadb((const char *)buf, len, 0, NULL);
        assert_non_null(o);
        assert_int_equal(json_integer_value(json_object_get(o, "last_checked_cycle")), 3);
        json_object_set_new(o, "last_attested_cycle", json_integer(1));
        json_object_set_new(o, "last_pass_cycle", json_integer(1));
        char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(o);
        assert_int_equal(store_side_put(log, STORE_SIDE_AUDIT, (const uint8_t *)"state", 5,
                                        (const uint8_t *)text, strlen(text)),
                         TALLY_OK);
        free(text);
        store_close(log);
        snprintf(path, sizeof(path), "%s/weights.json", adir);
        assert_int_equal(unlink(path), 0);
    }
    rc = ta_audit_once(n.port[TN_LEDGER], origin, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("audit after a crash between check and attest: exit %d\n%s", rc, out);
    }
    assert_null(strstr(out, "cycle 1:"));
    assert_non_null(strstr(out, "cycle 2: pass, attested"));
    assert_non_null(strstr(out, "cycle 3: pass, attested"));
    assert_non_null(strstr(out, "(resumed from cycle 1)"));
    assert_non_null(strstr(out, "weights of cycle 3 written"));
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    if (getenv("KEEP_TMP") == NULL) {
        tu_rmdir(tmp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killed_auditor),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

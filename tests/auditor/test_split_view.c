/* The split-view row of the tamper matrix: a node that shows two auditors two different logs of
 * the same size, both signed with its key. Two `tally serve` processes with the same key and
 * origin hold two histories that each replay cleanly (the same feed but for an event's start);
 * auditor A syncs the first, auditor B the second. Each alone sees nothing wrong. With the other
 * as a peer (TALLY_AUDIT_PEERS: the other's ops listener, whose /checkpoint serves the head it
 * trusts), each finds a node-signed head of a size its replica holds with another root, fails
 * split_view, and keeps both heads as evidence; a peer that is down or serves a note the node did
 * not sign proves nothing. A peer whose head is larger than the auditor's is compared through the
 * node's consistency proof from the auditor's head: a fresh auditor shown an older head of view A
 * finds that B's head does not extend it (split_view), and one shown an older head of view B
 * finds that it does (the peer agrees). */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "client/client.h"
#include "store/store.h"
#include "tamper/tamper.h"
#include "util/auditrun.h"
#include "util/node.h"
#include "util/testutil.h"

static json_t *health(ta_daemon *d)
{
    client_request rq = {.method = "GET", .target = "/health"};
    client_response *r = NULL;
    json_t *o = NULL;

    if (client_do(d->conn, &rq, &r) == TALLY_OK) {
        tally_bytes b = client_response_body(r);
        o = json_loadb((const char *)b.p, b.n, 0, NULL);
    }
    client_response_free(r);
    return o;
}

/* Waits (30 s at most) until the daemon's /health says `status`; the answer. */
static json_t *wait_status(ta_daemon *d, const char *status)
{
    for (int t = 0; t < 300; t++) {
        json_t *o = health(d);
        const char *s = o ? json_string_value(json_object_get(o, "status")) : NULL;
        if (s != NULL && strcmp(s, status) == 0) {
            return o;
        }
        json_decref(o);
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("the auditor's /health never said %s", status);
    return NULL;
}

/* An older head of the node's log than its latest (the stored head below its size), as a
 * checkpoint note: what a node shows an auditor it keeps behind. */
static char *older_note(const tn_node *n, size_t *n_out, uint64_t *size_out)
{
    store_cfg cfg = {.dir = n->dir, .read_only = true};
    store_log *log;
    schema_sth sth;
    char *note = malloc(4096);

    assert_non_null(note);
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_sth_floor(log, store_size(log) - 1, &sth), TALLY_OK);
    assert_int_equal(store_note(&sth, note, 4096, n_out), TALLY_OK);
    *size_out = sth.tree_size;
    store_close(log);
    return note;
}

/* `tally audit --once` of a fresh auditor (key of kfile) with `peer`, shown `note` as the
 * node's checkpoint by a proxy in front of n: its exit status and output. */
static int audit_behind(const tn_node *n, const char *vkey, const char *kdir, const char *adir,
                        const char *note, size_t note_n, const char *peer, char *out, size_t cap)
{
    tamper_proxy_cfg pc = {.upstream_port = n->port[TN_LEDGER],
                           .kind = TAMPER_REWIND,
                           .old_note = note,
                           .old_n = note_n};
    tamper_proxy *p = NULL;
    int rc;

    assert_int_equal(mkdir(adir, 0700), 0);
    assert_int_equal(tu_run(out, cap, "cp -p %s/auditor.key %s/", kdir, adir), 0);
    assert_int_equal(tamper_proxy_start(&pc, &p, NULL), TALLY_OK);
    setenv("TALLY_AUDIT_PEERS", peer, 1);
    rc = ta_audit_once(tamper_proxy_port(p), n->origin, adir, vkey, out, cap);
    unsetenv("TALLY_AUDIT_PEERS");
    tamper_proxy_stop(p);
    return rc;
}

static void test_split_view(void **state)
{
    tn_node n1, n2;
    tn_miner m;
    uint8_t keys[2][32], seed[32];
    char adir[2][300], kpath[700], vkey[512], peer[64], out[8192];
    ta_daemon a = {.pid = -1}, b = {.pid = -1};
    uint64_t t0 = tn_now();
    json_t *h;
    (void)state;

    tn_init(&n1, "split1");
    tn_init(&n2, "split2");
    tn_start(&n1);
    tn_start(&n2);
    for (int k = 0; k < 2; k++) {
        snprintf(adir[k], sizeof(adir[k]), "%.200s/auditor-%c", n1.tmp, 'a' + k);
        assert_int_equal(mkdir(adir[k], 0700), 0);
        snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir[k]);
        memset(seed, 0x51 + k, sizeof(seed));
        assert_int_equal(store_key_create(kpath, seed, keys[k], NULL), TALLY_OK);
    }
    tn_miner_init(&m, 7);
    /* the same feed, but for the event's start: two histories, each consistent */
    ta_feed_auditors(&n1, &m, (const uint8_t(*)[32])keys, 2, 100, 11, t0 + 3600000);
    ta_feed_auditors(&n2, &m, (const uint8_t(*)[32])keys, 2, 100, 11, t0 + 7200000);
    assert_int_equal(tn_size(&n1), tn_size(&n2));
    ta_node_vkey(&n1, vkey, sizeof(vkey));

    /* each alone: nothing wrong */
    assert_int_equal(ta_audit_once(n1.port[TN_LEDGER], n1.origin, adir[0], vkey, out, sizeof(out)),
                     0);
    assert_int_equal(ta_audit_once(n2.port[TN_LEDGER], n2.origin, adir[1], vkey, out, sizeof(out)),
                     0);

    /* A, with a peer that is not there (and B not yet started): still ok */
    ta_daemon_start(&a, n1.port[TN_LEDGER], n1.origin, adir[0], vkey, "http://127.0.0.1:9");
    h = wait_status(&a, "ok");
    json_decref(h);
    /* B, with A as its peer: the node signed a head of B's size with another root */
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%u", (unsigned)a.port);
    ta_daemon_start(&b, n2.port[TN_LEDGER], n2.origin, adir[1], vkey, peer);
    h = wait_status(&b, "failing");
    assert_string_equal(json_string_value(json_object_get(h, "reason")), "split_view");
    assert_true(json_integer_value(json_object_get(h, "evidence")) >= 1);
    json_decref(h);
    /* A, restarted with B as its peer (B still serves the head it trusts): A detects it too */
    assert_int_equal(ta_daemon_stop(&a, SIGTERM), 0);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%u", (unsigned)b.port);
    ta_daemon_start(&a, n1.port[TN_LEDGER], n1.origin, adir[0], vkey, peer);
    h = wait_status(&a, "failing");
    assert_string_equal(json_string_value(json_object_get(h, "reason")), "split_view");
    json_decref(h);
    assert_int_equal(ta_daemon_stop(&a, SIGTERM), 0);

    /* B's head ahead of an auditor's: compared through the node's consistency proof */
    {
        char cdir[400], *note;
        size_t note_n;
        uint64_t size;
        note = older_note(&n1, &note_n, &size);
        assert_true(size < tn_size(&n2));
        snprintf(cdir, sizeof(cdir), "%.200s/auditor-c", n1.tmp);
        assert_int_equal(audit_behind(&n1, vkey, adir[0], cdir, note, note_n, peer, out,
                                      sizeof(out)),
                         1);
        assert_non_null(strstr(out, "FAIL split_view"));
        assert_non_null(strstr(out, "consistency proof does not show extending"));
        free(note);
        /* the same on B's own view: B's head extends the older one, the peer agrees */
        note = older_note(&n2, &note_n, &size);
        snprintf(cdir, sizeof(cdir), "%.200s/auditor-d", n1.tmp);
        assert_int_equal(audit_behind(&n2, vkey, adir[1], cdir, note, note_n, peer, out,
                                      sizeof(out)),
                         0);
        assert_non_null(strstr(out, "peers: 1 agree, 0 ahead"));
        free(note);
    }
    assert_int_equal(ta_daemon_stop(&b, SIGTERM), 0);

    /* the verdict and the evidence stay: --status names it, with both heads kept */
    assert_int_equal(
        ta_audit_status(n1.port[TN_LEDGER], n1.origin, adir[0], vkey, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "FAIL split_view"));
    assert_non_null(strstr(out, "split view: the auditor at http://127.0.0.1:"));
    tn_stop(&n1, SIGTERM);
    tn_stop(&n2, SIGTERM);
    tn_free(&n2);
    tn_free(&n1);
}

/* A malformed peer list is refused at start, naming the entry. */
static void test_bad_peers(void **state)
{
    char out[4096];
    const char *d = tu_tmpdir("badpeers");
    (void)state;

    int rc =
        tu_run(out, sizeof(out),
               "cd %s && TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=http://127.0.0.1:1 "
               "TALLY_AUDIT_ORIGIN=tally.local/1 TALLY_AUDIT_PRIMARY_KEY="
               "1111111111111111111111111111111111111111111111111111111111111111 "
               "TALLY_AUDIT_PEERS='http://127.0.0.1:1,ftp://x' %s keygen --out %s/k >/dev/null "
               "2>&1; TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=http://127.0.0.1:1 "
               "TALLY_AUDIT_ORIGIN=tally.local/1 TALLY_AUDIT_PRIMARY_KEY="
               "1111111111111111111111111111111111111111111111111111111111111111 "
               "TALLY_AUDIT_KEY_FILE=%s/k TALLY_AUDIT_PEERS='http://127.0.0.1:1,ftp://x' "
               "%s audit --dir %s/a --once 2>&1",
               d, getenv("TALLY_BIN"), d, d, getenv("TALLY_BIN"), d);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "TALLY_AUDIT_PEERS: ftp://x"));
    tu_rmdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_view),
        cmocka_unit_test(test_bad_peers),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

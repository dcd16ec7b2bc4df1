/* `tally audit --once` against a real `tally serve` on loopback: an honest node's cycles pass,
 * are attested in the node's log and not attested twice; the replica is a tally log that
 * `tally verify` accepts; a node that shows another history under the same key and origin (a
 * fork of the head the auditor trusts) is a split view, failed and attested, with nothing the
 * auditor had verified lost; the recompute policy pauses a cycle (exit 11, attested paused,
 * no weights exported) until the operator's override (TALLY_AUDIT_ACCEPT_PAUSED) releases it;
 * an auditor pinned to another key or origin fails the primary at its first checkpoint. */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "auditor/audit.h"
#include "schema/schema.h"
#include "store/store.h"
#include "util/auditrun.h"
#include "util/node.h"
#include "util/testutil.h"

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

static void honest_then_fork(void **state)
{
    tn_node n, fork;
    tn_miner m;
    char adir[600], kpath[700], vkey[512], out[8192], cmd_out[4096];
    uint8_t apk[32], seed[32];
    uint64_t last = 0, verdict = 0, t0 = tn_now();
    int rc;

    (void)state;
    tn_init(&n, "audit_honest");
    tn_start(&n);
    snprintf(adir, sizeof(adir), "%s/auditor", n.tmp);
    assert_int_equal(tu_run(cmd_out, sizeof(cmd_out), "mkdir -p %s", adir), 0);
    snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir);
    memset(seed, 0x42, sizeof(seed));
    assert_int_equal(store_key_create(kpath, seed, apk, NULL), TALLY_OK);
    tn_miner_init(&m, 7);
    ta_feed(&n, &m, apk, 100, 11, t0 + 3600000);
    {
        uint64_t ev = 11;
        size_t len;
        uint8_t *body = tn_odds(&n, &m, m.nonce + 1, &ev, 1, &len);
        tn_resp r;
        tn_signed(&n, &m, "POST", "/v1/odds", body, len, 0, m.nonce + 1, &r);
        assert_int_equal(r.status, 200);
        tn_resp_free(&r);
        free(body);
        m.nonce++;
    }
    ta_cycle(&n, 1);
    ta_node_vkey(&n, vkey, sizeof(vkey));

    /* an honest node: cycle 1 passes and is attested in the node's log */
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("audit exit %d:\n%s", rc, out);
    }
    assert_non_null(strstr(out, "cycle 1: pass"));
    assert_int_equal(ta_attestations(&n, &last, &verdict), 1);
    assert_int_equal(last, 1);
    assert_int_equal(verdict, 1);

    /* the next round attests only the new cycle */
    ta_cycle(&n, 2);
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("audit exit %d:\n%s", rc, out);
    }
    assert_null(strstr(out, "cycle 1:"));
    assert_non_null(strstr(out, "cycle 2: pass"));
    /* from the state of cycle 1 it checked before, not from GENESIS */
    assert_non_null(strstr(out, "(resumed from cycle 1)"));
    assert_int_equal(ta_attestations(&n, &last, &verdict), 2);
    assert_int_equal(last, 2);

    /* the auditor cosigned the head it left: /log/checkpoint carries its line after the
     * node's, and verify --checkpoint counts it as a witness */
    {
        tn_resp r;
        char path[700], wvkey[512], name[300], ss58[49];
        uint8_t acct[32];
        FILE *f;
        for (int b = 0; b < 32; b++) {
            acct[b] = (uint8_t)(apk[b] ^ 0x33);
        }
        schema_ss58_encode(acct, ss58);
        snprintf(name, sizeof(name), "%s.audit.%s", ss58, n.origin);
        assert_int_equal(store_cosig_vkey(name, apk, wvkey, sizeof(wvkey)), TALLY_OK);
        tn_http(&n, TN_LEDGER, "GET", "/log/checkpoint", NULL, 0, NULL, 0, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, name));
        snprintf(path, sizeof(path), "%s/checkpoint", adir);
        f = fopen(path, "w");
        assert_non_null(f);
        fwrite(r.body, 1, r.n, f);
        fclose(f);
        tn_resp_free(&r);
        rc = tu_run(cmd_out, sizeof(cmd_out),
                    "%s verify --checkpoint %s --key '%s' --witness '%s' --quorum 1", bin(), path,
                    vkey, wvkey);
        if (rc != 0) {
            fail_msg("verify --checkpoint with the auditor as witness: exit %d\n%s", rc, cmd_out);
        }
        /* Go's note package, knowing only the node key, still opens it: the cosignature is a
         * signature by a key it does not know, kept unverified (skipped without Go) */
        if (system("command -v go >/dev/null 2>&1") == 0 &&
            access("/usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go", R_OK) == 0) {
            char src[1024], gobin[800];
            snprintf(src, sizeof(src), "%s", __FILE__);
            char *slash = strrchr(src, '/');
            assert_non_null(slash);
            snprintf(slash, sizeof(src) - (size_t)(slash - src), "/../interop/notecheck.go");
            snprintf(gobin, sizeof(gobin), "%s/notecheck", adir);
            rc = tu_run(cmd_out, sizeof(cmd_out),
                        "GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE='%s/gocache' GOFLAGS= "
                        "GOENV=off go build -o '%s' '%s' 2>&1 && '%s' '%s' '%s' 1 2>&1",
                        adir, gobin, src, gobin, path, vkey);
            if (rc != 0 || strstr(cmd_out, "ok:") == NULL || strstr(cmd_out, name) == NULL) {
                fail_msg("Go's note.Open of the cosigned checkpoint: exit %d\n%s", rc, cmd_out);
            }
        }
        /* a second witness that did not sign: a quorum of two is not met */
        char other[512];
        uint8_t opk[32];
        memset(opk, 0, sizeof(opk));
        opk[0] = 9;
        assert_int_equal(store_cosig_vkey("other.audit.tally.local/1", opk, other, sizeof(other)),
                         TALLY_OK);
        rc = tu_run(cmd_out, sizeof(cmd_out),
                    "%s verify --checkpoint %s --key '%s' --witness '%s' --witness '%s' "
                    "--quorum 2 2>&1",
                    bin(), path, vkey, wvkey, other);
        if (rc != 1) {
            fail_msg("quorum 2 of one signature: exit %d\n%s", rc, cmd_out);
        }
    }

    /* the replica is a tally log: verify accepts it */
    rc = tu_run(cmd_out, sizeof(cmd_out), "%s --dir %s/replica verify", bin(), adir);
    if (rc != 0) {
        fail_msg("verify of the replica: exit %d\n%s", rc, cmd_out);
    }
    /* and the forensics read it: cycle 2 rebuilt in the gated view from the replica alone */
    rc = tu_run(cmd_out, sizeof(cmd_out),
                "%s --dir %s/replica reconstruct --cycle 2 --gated --out %s/rec --quiet 2>&1",
                bin(), adir, adir);
    if (rc != 0) {
        fail_msg("reconstruct on the replica: exit %d\n%s", rc, cmd_out);
    }
    uint64_t replica_size;
    {
        store_cfg cfg = {.dir = kpath, .read_only = true};
        char rdir[700];
        store_log *log;
        snprintf(rdir, sizeof(rdir), "%s/replica", adir);
        cfg.dir = rdir;
        assert_int_equal(store_open(&cfg, &log), TALLY_OK);
        replica_size = store_size(log);
        store_close(log);
    }

    /* a fork: the same key and origin, another history (a fresh log fed differently) */
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_init(&fork, "audit_fork");
    tn_start(&fork);
    ta_feed(&fork, &m, apk, 100, 12, t0 + 7200000);
    ta_feed(&fork, &m, apk, 101, 13, t0 + 7200000);
    ta_cycle(&fork, 1);
    ta_cycle(&fork, 2);
    ta_cycle(&fork, 3);
    rc = ta_audit_once(fork.port[TN_LEDGER], fork.origin, adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "FAIL split_view"));
    /* attested on the next cycle, in the log of the node that showed the other history */
    assert_non_null(strstr(out, "cycle 3: fail (split_view"));
    assert_int_equal(ta_attestations(&fork, &last, &verdict), 1);
    assert_int_equal(last, 3);
    assert_int_equal(verdict, 2);
    /* nothing verified is lost: the replica is what it was, and still verifies */
    {
        store_cfg cfg = {.read_only = true};
        char rdir[700];
        store_log *log;
        snprintf(rdir, sizeof(rdir), "%s/replica", adir);
        cfg.dir = rdir;
        assert_int_equal(store_open(&cfg, &log), TALLY_OK);
        assert_int_equal(store_size(log), replica_size);
        store_close(log);
    }
    rc = tu_run(cmd_out, sizeof(cmd_out), "%s --dir %s/replica verify", bin(), adir);
    assert_int_equal(rc, 0);
    /* and the fail is sticky */
    rc = ta_audit_status(fork.port[TN_LEDGER], fork.origin, adir, vkey, cmd_out, sizeof(cmd_out));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(cmd_out, "FAIL split_view"));
    assert_int_equal(tn_stop(&fork, SIGTERM), 0);
    tn_free(&fork);
    tn_free(&n);
}

/* The cycle of adir/weights.json (0 when there is none), after checking the file against the
 * node's WEIGHTS record of that cycle: its seq, uids, weights and weights_hash (the record's
 * body_hash), and the origin. */
static uint64_t weights_cycle(const tn_node *n, const char *adir)
{
    char path[700], hex[65];
    store_cfg cfg = {.dir = n->dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    json_t *o;
    uint64_t cycle;
    bool found = false;

    snprintf(path, sizeof(path), "%s/weights.json", adir);
    o = json_load_file(path, 0, NULL);
    if (o == NULL) {
        return 0;
    }
    cycle = (uint64_t)json_integer_value(json_object_get(o, "cycle"));
    assert_string_equal(json_string_value(json_object_get(o, "origin")), n->origin);
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_iter_open(log, 0, &it), TALLY_OK);
    while (!found && store_iter_read(it, true, &rec, &h, &b) == TALLY_OK) {
        if (h.type == SCHEMA_WEIGHTS && b.u.weights.cycle == cycle) {
            json_t *uids = json_object_get(o, "uids"), *ws = json_object_get(o, "weights");
            found = true;
            assert_int_equal(json_integer_value(json_object_get(o, "seq")), (json_int_t)rec.seq);
            schema_hex(h.body_hash, 32, hex);
            assert_string_equal(json_string_value(json_object_get(o, "weights_hash")), hex);
            assert_int_equal(json_array_size(uids), b.u.weights.n_uids);
            assert_int_equal(json_array_size(ws), b.u.weights.n_weights);
            for (size_t i = 0; i < b.u.weights.n_uids; i++) {
                assert_int_equal(json_integer_value(json_array_get(uids, i)),
                                 (json_int_t)b.u.weights.uids[i]);
                assert_int_equal(json_integer_value(json_array_get(ws, i)),
                                 (json_int_t)b.u.weights.weights[i]);
            }
        }
        schema_body_release(&b);
    }
    store_iter_close(it);
    store_close(log);
    json_decref(o);
    assert_true(found);
    return cycle;
}

/* The auditor's attestation of cycle: its verdict and reason. */
static void expect_attested(const tn_node *n, const uint8_t apk[32], uint64_t cycle,
                            audit_verdict verdict, audit_reason reason)
{
    schema_attestation at;

    assert_int_equal(ta_attestations_find(n, apk, cycle, &at), 1);
    assert_int_equal(at.verdict, verdict);
    assert_int_equal(at.reason, reason);
    assert_false(at.has_divergent_seq);
}

/* The recompute policy (§6.7 item 5): two RECOMPUTEs in 24 h pause the next cycle (exit 11,
 * attested paused, weights.json left at the last pass); TALLY_AUDIT_ACCEPT_PAUSED, the
 * operator's override, releases a paused cycle's weights and lets cycles up to it pass. */
static void paused_then_accepted(void **state)
{
    tn_node n;
    tn_miner m;
    char adir[600], kpath[700], vkey[512], out[8192], cmd_out[4096];
    uint8_t apk[32], seed[32];
    int rc;

    (void)state;
    tn_init(&n, "audit_paused");
    tn_start(&n);
    snprintf(adir, sizeof(adir), "%s/auditor", n.tmp);
    assert_int_equal(tu_run(cmd_out, sizeof(cmd_out), "mkdir -p %s", adir), 0);
    snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir);
    memset(seed, 0x44, sizeof(seed));
    assert_int_equal(store_key_create(kpath, seed, apk, NULL), TALLY_OK);
    tn_miner_init(&m, 8);
    ta_feed(&n, &m, apk, 100, 11, tn_now() + 3600000);
    ta_chain_owner(&n, &m);
    ta_node_vkey(&n, vkey, sizeof(vkey));
    ta_cycle(&n, 1);
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("audit exit %d:\n%s", rc, out);
    }
    assert_non_null(strstr(out, "cycle 1: pass"));
    assert_int_equal(weights_cycle(&n, adir), 1);

    /* two RECOMPUTEs within 24 h: more than TALLY_AUDIT_MAX_RECOMPUTE_DAY (1) */
    for (int i = 0; i < 2; i++) {
        tn_resp r;
        tn_admin(&n, "POST", "/admin/v1/recompute",
                 "{\"reason\": \"scoring_bug\", \"detail\": \"a fix\", \"affected_events\": [], "
                 "\"severity\": \"bugfix\"}",
                 &r);
        if (r.status != 200) {
            fail_msg("RECOMPUTE: %u %s", r.status, r.body ? r.body : "");
        }
        tn_resp_free(&r);
    }
    ta_cycle(&n, 2);
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 11);
    assert_non_null(strstr(out, "cycle 2: paused (recompute_rate)"));
    assert_non_null(strstr(out, "paused by the recompute policy"));
    expect_attested(&n, apk, 2, AUDIT_PAUSED, AUDIT_R_RECOMPUTE_RATE);
    assert_int_equal(weights_cycle(&n, adir), 1);

    /* the operator accepts up to cycle 2: its weights are exported; cycle 3, beyond the
     * override and still within the 24 h, is paused */
    setenv("TALLY_AUDIT_ACCEPT_PAUSED", "2", 1);
    ta_cycle(&n, 3);
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 11);
    assert_non_null(strstr(out, "cycle 3: paused (recompute_rate)"));
    assert_non_null(strstr(out, "weights of cycle 2 written"));
    assert_int_equal(weights_cycle(&n, adir), 2);
    expect_attested(&n, apk, 2, AUDIT_PAUSED, AUDIT_R_RECOMPUTE_RATE);

    /* accepted up to cycle 4: the new cycle 4 passes, and its weights are exported */
    setenv("TALLY_AUDIT_ACCEPT_PAUSED", "4", 1);
    ta_cycle(&n, 4);
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    unsetenv("TALLY_AUDIT_ACCEPT_PAUSED");
    if (rc != 0) {
        fail_msg("audit exit %d:\n%s", rc, out);
    }
    assert_non_null(strstr(out, "cycle 4: pass"));
    assert_null(strstr(out, "cycle 3:"));
    expect_attested(&n, apk, 3, AUDIT_PAUSED, AUDIT_R_RECOMPUTE_RATE);
    expect_attested(&n, apk, 4, AUDIT_PASS, AUDIT_R_NONE);
    assert_int_equal(weights_cycle(&n, adir), 4);

    /* without the override again, the next cycle is paused and the file stays at 4 */
    ta_cycle(&n, 5);
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 11);
    assert_int_equal(weights_cycle(&n, adir), 4);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

/* An auditor pinned to another key, or to another origin with the node's key, fails the primary
 * at its first checkpoint (signature_invalid, exit 1): nothing verified, nothing attested. */
static void wrong_pins(void **state)
{
    tn_node n;
    tn_miner m;
    char adir[600], kpath[700], vkey[512], out[8192], cmd_out[4096];
    uint8_t apk[32], seed[32], other[32];
    uint64_t last = 0, verdict = 0;
    int rc;

    (void)state;
    tn_init(&n, "audit_pins");
    tn_start(&n);
    snprintf(adir, sizeof(adir), "%s/auditor", n.tmp);
    assert_int_equal(tu_run(cmd_out, sizeof(cmd_out), "mkdir -p %s", adir), 0);
    snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir);
    memset(seed, 0x45, sizeof(seed));
    assert_int_equal(store_key_create(kpath, seed, apk, NULL), TALLY_OK);
    tn_miner_init(&m, 6);
    ta_feed(&n, &m, apk, 100, 11, tn_now() + 3600000);
    ta_cycle(&n, 1);

    /* another key under the node's origin */
    memset(other, 0x17, sizeof(other));
    assert_int_equal(store_vkey(n.origin, other, vkey, sizeof(vkey)), TALLY_OK);
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "FAIL signature_invalid: the primary's checkpoint does not verify "
                                "with the pinned key"));
    assert_non_null(strstr(out, "verified 0 (+0)"));
    assert_int_equal(ta_attestations(&n, &last, &verdict), 0);

    /* the node's key under another origin, in a fresh directory */
    snprintf(adir, sizeof(adir), "%s/auditor2", n.tmp);
    assert_int_equal(tu_run(cmd_out, sizeof(cmd_out), "mkdir -p %s", adir), 0);
    snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir);
    assert_int_equal(store_key_create(kpath, seed, apk, NULL), TALLY_OK);
    {
        char nvkey[512];
        uint8_t npk[32];
        ta_node_vkey(&n, nvkey, sizeof(nvkey));
        char *b64 = strrchr(nvkey, '+');
        uint8_t raw[33];
        size_t rl;
        assert_non_null(b64);
        assert_int_equal(sodium_base642bin(raw, sizeof(raw), b64 + 1, strlen(b64 + 1), NULL, &rl,
                                           NULL, sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(rl, 33);
        memcpy(npk, raw + 1, 32);
        assert_int_equal(store_vkey("elsewhere.example/1", npk, vkey, sizeof(vkey)), TALLY_OK);
    }
    rc = ta_audit_once(n.port[TN_LEDGER], "elsewhere.example/1", adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "FAIL signature_invalid: the primary's checkpoint"));
    assert_non_null(strstr(out, "verified 0 (+0)"));
    assert_int_equal(ta_attestations(&n, &last, &verdict), 0);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(honest_then_fork),
        cmocka_unit_test(paused_then_accepted),
        cmocka_unit_test(wrong_pins),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

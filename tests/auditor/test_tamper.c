/* The tamper matrix, the rows a proxy can play: tamper/'s rewriting proxy between `tally audit`
 * and an honest `tally serve` changes what the auditor is served, and the auditor must fail loudly
 * with the right reason and the first divergent seq, attest the fail, and lose nothing it had
 * verified:
 * - body: a non-public body in a delta is not the one its header commits to → signature_invalid;
 * - header: a header's time in a delta is changed (the actor's signature does not cover it, the
 *   tree does) → signature_invalid at that seq, named from the node's own hash tiles;
 * - dropped, inserted, reordered: a record of a delta left out (the rest moved up), one served
 *   twice (the last one pushed out), two swapped → signature_invalid at the first moved seq;
 * - withheld: an embargoed body, due since its event started, stripped from deltas and from
 *   /v1/records → other (the cycle whose inputs reveal it cannot be replayed), at its seq;
 * - rewind: an older checkpoint than the one the auditor trusts → split_view. */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "auditor/audit.h"
#include "schema/schema.h"
#include "store/store.h"
#include "tamper/tamper.h"
#include "util/auditrun.h"
#include "util/node.h"
#include "util/testutil.h"
#include "wire/wire.h"

static void run_kind_at(tamper_kind kind, const char *reason, uint64_t skip)
{
    tn_node n;
    tn_miner m;
    char *old_note = NULL;
    size_t old_n = 0;
    uint64_t want_seq = 0;
    char adir[600], kpath[700], vkey[512], out[8192], cmd[4096];
    uint8_t apk[32], seed[32];
    uint64_t last = 0, verdict = 0, t0 = tn_now(), before;
    int rc;

    tn_init(&n, "tamper");
    tn_start(&n);
    snprintf(adir, sizeof(adir), "%s/auditor", n.tmp);
    assert_int_equal(tu_run(cmd, sizeof(cmd), "mkdir -p %s", adir), 0);
    snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir);
    memset(seed, 0x51, sizeof(seed));
    assert_int_equal(store_key_create(kpath, seed, apk, NULL), TALLY_OK);
    tn_miner_init(&m, 9);
    ta_feed(&n, &m, apk, 100, 21, t0 + 3600000);
    /* odds for an event that starts in 2.5 s: embargoed now, due by the second round */
    ta_feed(&n, &m, apk, 101, 23, t0 + 2500);
    {
        uint64_t ev = 23;
        size_t len;
        uint8_t *ob = tn_odds(&n, &m, m.nonce + 1, &ev, 1, &len);
        tn_resp r;
        tn_signed(&n, &m, "POST", "/v1/odds", ob, len, 0, m.nonce + 1, &r);
        if (r.status != 200) {
            fail_msg("odds: %u %s", r.status, r.body ? r.body : "");
        }
        tn_resp_free(&r);
        free(ob);
        m.nonce++;
    }
    ta_cycle(&n, 1);
    ta_node_vkey(&n, vkey, sizeof(vkey));
    if (kind == TAMPER_REWIND) {
        /* a head the node signed before the auditor trusted a larger one */
        tn_resp r;
        tn_http(&n, TN_LEDGER, "GET", "/log/checkpoint", NULL, 0, NULL, 0, NULL, &r);
        assert_int_equal(r.status, 200);
        old_note = malloc(r.n);
        memcpy(old_note, r.body, r.n);
        old_n = r.n;
        want_seq = tn_size(&n);
        tn_resp_free(&r);
    }

    /* an honest first round: cycle 1 passes */
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("honest round: exit %d\n%s", rc, out);
    }
    before = tn_size(&n);
    uint64_t verified = ta_replica_size(adir);
    assert_true(verified > 0);

    /* more records, among them a CLOSE (gated) of an event that started an hour ago, then
     * the proxy rewrites the first new one it can */
    while (tn_now() < t0 + 2600) {
        usleep(50000);
    }
    ta_feed(&n, &m, apk, 102, 22, t0 - 3600000);
    {
        char rec[1024];
        tn_resp r;
        snprintf(rec, sizeof(rec),
                 "{\"records\": [{\"type\": \"CLOSE\", \"body\": {\"market_id\": 22001, "
                 "\"close_ms\": %" PRIu64 ", \"probs\": [{\"side\": \"home\", \"prob_n\": "
                 "500000000, \"odds_n\": 2000000000, \"books\": 3, \"std_dev_n\": null}, "
                 "{\"side\": \"away\", \"prob_n\": 500000000, \"odds_n\": 2000000000, "
                 "\"books\": 3, \"std_dev_n\": null}]}}]}",
                 t0 - 3600000);
        tn_admin(&n, "POST", "/admin/v1/records", rec, &r);
        if (r.status != 200) {
            fail_msg("CLOSE: %u %s", r.status, r.body ? r.body : "");
        }
        tn_resp_free(&r);
    }
    ta_cycle(&n, 2);
    tamper_proxy_cfg pc = {.upstream_port = n.port[TN_LEDGER],
                           .kind = kind,
                           .from = before + skip,
                           .old_note = old_note,
                           .old_n = old_n};
    tamper_proxy *p = NULL;
    uint64_t done_seq = 0;
    assert_int_equal(tamper_proxy_start(&pc, &p, NULL), TALLY_OK);
    rc = ta_audit_once(tamper_proxy_port(p), n.origin, adir, vkey, out, sizeof(out));
    assert_true(tamper_proxy_done(p, &done_seq));
    tamper_proxy_stop(p);
    free(old_note);
    if (kind != TAMPER_REWIND) {
        want_seq = done_seq;
    }
    assert_int_equal(rc, 1);
    {
        char want[128];
        snprintf(want, sizeof(want), "FAIL %s at seq %" PRIu64 ":", reason, want_seq);
        if (strstr(out, want) == NULL) {
            fail_msg("wanted \"%s\" in:\n%s", want, out);
        }
    }
    if (kind != TAMPER_REWIND) {
        /* attested, on a cycle the node holds, with the reason and the seq named */
        schema_attestation at;
        assert_true(ta_attestations(&n, &last, &verdict) >= 2);
        assert_int_equal(verdict, 2);
        assert_int_equal(ta_attestations_find(&n, apk, last, &at), 1);
        assert_int_equal(at.verdict, AUDIT_FAIL);
        assert_string_equal(audit_reason_name((audit_reason)at.reason), reason);
        assert_true(at.has_divergent_seq);
        assert_int_equal(at.divergent_seq, want_seq);
    } else {
        /* a rewound head admits no attestation the node's rules take (its cycles lie beyond
         * it): the fail and both heads are kept, and the auditor stays failed */
        rc = ta_audit_status(n.port[TN_LEDGER], n.origin, adir, vkey, cmd, sizeof(cmd));
        assert_int_equal(rc, 1);
        assert_non_null(strstr(cmd, "FAIL split_view"));
        assert_non_null(strstr(cmd, "evidence kept: 1"));
    }
    /* nothing verified is lost: the replica still holds the honest round and verifies */
    assert_true(ta_replica_size(adir) >= verified);
    rc = tu_run(cmd, sizeof(cmd), "%s --dir %s/replica verify 2>&1", getenv("TALLY_BIN"), adir);
    if (rc != 0) {
        fail_msg("replica verify: exit %d\n%s", rc, cmd);
    }
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

static void run_kind(tamper_kind kind, const char *reason)
{
    run_kind_at(kind, reason, 0);
}

#define TAMPER(fn, kind, reason)                                                                   \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        run_kind(kind, reason);                                                                    \
    }
TAMPER(tamper_body, TAMPER_BODY, "signature_invalid")
TAMPER(tamper_header, TAMPER_HEADER, "signature_invalid")
TAMPER(tamper_dropped, TAMPER_DROPPED, "signature_invalid")
TAMPER(tamper_inserted, TAMPER_INSERTED, "signature_invalid")
TAMPER(tamper_reordered, TAMPER_REORDERED, "signature_invalid")
TAMPER(tamper_withheld, TAMPER_WITHHELD, "other")
TAMPER(tamper_rewind, TAMPER_REWIND, "split_view")

/* The same rows with deltas of 2 records and the lie (but the body's) 4 records into the second
 * round, so it lands in a later delta of the auditor's pipeline (signatures of one delta verified
 * while the one before is stored and the next fetched), after deltas the node cut at its signed
 * heads were stored: the verdict and the seq are still the first lie's. */
#define TAMPER_SMALL(fn, kind, reason, skip)                                                       \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        setenv("TALLY_AUDIT_DELTA_RECORDS", "2", 1);                                               \
        run_kind_at(kind, reason, skip);                                                           \
        unsetenv("TALLY_AUDIT_DELTA_RECORDS");                                                     \
    }
TAMPER_SMALL(tamper_header_small, TAMPER_HEADER, "signature_invalid", 4)
TAMPER_SMALL(tamper_body_small, TAMPER_BODY, "signature_invalid",
             0) /* the round's one gated body */
TAMPER_SMALL(tamper_dropped_small, TAMPER_DROPPED, "signature_invalid", 4)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tamper_body),       cmocka_unit_test(tamper_header),
        cmocka_unit_test(tamper_dropped),    cmocka_unit_test(tamper_inserted),
        cmocka_unit_test(tamper_reordered),  cmocka_unit_test(tamper_withheld),
        cmocka_unit_test(tamper_rewind),     cmocka_unit_test(tamper_header_small),
        cmocka_unit_test(tamper_body_small), cmocka_unit_test(tamper_dropped_small),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

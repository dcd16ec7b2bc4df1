/* The tamper matrix, the rows a proxy can play: a rewriting proxy between `tally audit` and an
 * honest `tally serve` changes what the auditor is served, and the auditor must fail loudly with
 * the right reason and the first divergent seq, attest the fail, and lose nothing it had
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
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "schema/schema.h"
#include "store/store.h"
#include "util/auditrun.h"
#include "util/node.h"
#include "util/proxy.h"
#include "util/testutil.h"
#include "wire/wire.h"

typedef enum { T_BODY, T_HEADER, T_DROP, T_INSERT, T_REORDER, T_WITHHOLD, T_REWIND } tkind;

typedef struct tamper {
    tkind kind;
    uint64_t from;   /* tamper with the first eligible record at or after this seq */
    uint64_t done_seq;
    int done;
    char *old_note;  /* T_REWIND: the checkpoint served instead of the current one */
    size_t old_n;
} tamper;

/* T_WITHHOLD on /v1/records: the answer re-encoded without embargoed bodies. */
static void strip_records(tamper *t, const uint8_t *body, size_t n, uint8_t **out, size_t *out_n)
{
    wire_records r;
    schema_mpw w;

    if (wire_records_decode(body, n, &r) != TALLY_OK) {
        return;
    }
    schema_mpw_init(&w, 80u << 20);
    schema_mpw_array(&w, 3);
    schema_mpw_uint(&w, r.from), schema_mpw_uint(&w, r.to);
    schema_mpw_array(&w, r.n);
    for (size_t i = 0; i < r.n; i++) {
        schema_header h;
        assert_int_equal(schema_header_decode(r.entries[i].header.p, r.entries[i].header.n, &h),
                         TALLY_OK);
        schema_mpw_array(&w, 2);
        schema_mpw_bin(&w, r.entries[i].header.p, r.entries[i].header.n);
        if (r.entries[i].has_body && h.tier != SCHEMA_EMBARGOED) {
            schema_mpw_bin(&w, r.entries[i].body.p, r.entries[i].body.n);
        } else {
            if (r.entries[i].has_body && !t->done) {
                t->done = 1, t->done_seq = r.from + i;
            }
            schema_mpw_nil(&w);
        }
    }
    assert_int_equal(schema_mpw_finish(&w, out, out_n), TALLY_OK);
    wire_records_release(&r);
}

/* Rewrites /v1/deltas answers: the first record at or after t->from with a non-public body
 * (T_BODY: its last byte flipped) or any record (T_HEADER: its time one ms later). */
static void rewrite(void *arg, const char *target, unsigned status, const uint8_t *body,
                    size_t n, uint8_t **out, size_t *out_n)
{
    tamper *t = arg;
    wire_delta d;
    schema_sth sth;
    uint8_t hb[SCHEMA_HEADER_MAX], *bcopy = NULL;

    if (status == 200 && t->kind == T_REWIND && strcmp(target, "/log/checkpoint") == 0) {
        *out = malloc(t->old_n);
        memcpy(*out, t->old_note, t->old_n);
        *out_n = t->old_n;
        t->done = 1;
        return;
    }
    if (status == 200 && t->kind == T_WITHHOLD && strncmp(target, "/v1/records", 11) == 0) {
        strip_records(t, body, n, out, out_n);
        return;
    }
    if (status != 200 || strncmp(target, "/v1/deltas", 10) != 0 ||
        wire_delta_decode(body, n, &d, &sth) != TALLY_OK) {
        return;
    }
    bool changed = false;
    for (size_t i = 0; i < d.n && !t->done; i++) {
        uint64_t seq = d.from + i;
        schema_header h;
        if (seq < t->from || schema_header_decode(d.entries[i].header.p, d.entries[i].header.n,
                                                  &h) != TALLY_OK) {
            continue;
        }
        if (t->kind == T_BODY && d.entries[i].has_body && h.tier != SCHEMA_PUBLIC) {
            bcopy = malloc(d.entries[i].body.n);
            memcpy(bcopy, d.entries[i].body.p, d.entries[i].body.n);
            bcopy[d.entries[i].body.n - 1] ^= 1;
            d.entries[i].body.p = bcopy;
            t->done = 1, t->done_seq = seq;
        } else if (t->kind == T_HEADER) {
            size_t hn;
            h.time_ms += 1;
            assert_int_equal(schema_header_encode(&h, hb, sizeof(hb), &hn), TALLY_OK);
            d.entries[i].header = (tally_bytes){hb, hn};
            t->done = 1, t->done_seq = seq;
        } else if ((t->kind == T_DROP || t->kind == T_INSERT || t->kind == T_REORDER) &&
                   i + 1 < d.n) {
            wire_delta_entry e = d.entries[i];
            if (t->kind == T_DROP) {
                /* record i left out: the rest move up, the delta ends one earlier */
                memmove(&d.entries[i], &d.entries[i + 1], (d.n - i - 1) * sizeof(e));
                d.n--, d.to--;
            } else if (t->kind == T_INSERT) {
                /* record i served twice: the last one pushed out */
                memmove(&d.entries[i + 1], &d.entries[i], (d.n - i - 1) * sizeof(e));
            } else {
                d.entries[i] = d.entries[i + 1];
                d.entries[i + 1] = e;
            }
            t->done = 1, t->done_seq = t->kind == T_REORDER || t->kind == T_DROP ? seq : seq + 1;
        } else if (t->kind == T_WITHHOLD && d.entries[i].has_body && h.tier == SCHEMA_EMBARGOED) {
            d.entries[i].has_body = false;
            d.entries[i].body = (tally_bytes){NULL, 0};
            changed = true; /* every embargoed body, in every delta */
            continue;
        }
    }
    if (t->done || changed) {
        assert_int_equal(wire_delta_encode(&d, out, out_n), TALLY_OK);
    }
    free(bcopy);
    wire_delta_release(&d);
}

static void run_kind(tkind kind, const char *reason)
{
    tn_node n;
    tn_miner m;
    tamper t = {.kind = kind};
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
    if (kind == T_REWIND) {
        /* a head the node signed before the auditor trusted a larger one */
        tn_resp r;
        tn_http(&n, TN_LEDGER, "GET", "/log/checkpoint", NULL, 0, NULL, 0, NULL, &r);
        assert_int_equal(r.status, 200);
        t.old_note = malloc(r.n);
        memcpy(t.old_note, r.body, r.n);
        t.old_n = r.n;
        t.done_seq = tn_size(&n);
        tn_resp_free(&r);
    }

    /* an honest first round: cycle 1 passes */
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("honest round: exit %d\n%s", rc, out);
    }
    before = tn_size(&n);

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
    t.from = before;
    tp_proxy *p = tp_start(n.port[TN_LEDGER], rewrite, &t);
    rc = ta_audit_once(tp_port(p), n.origin, adir, vkey, out, sizeof(out));
    tp_stop(p);
    free(t.old_note);
    assert_true(t.done);
    assert_int_equal(rc, 1);
    {
        char want[128];
        snprintf(want, sizeof(want), "FAIL %s at seq %" PRIu64 ":", reason, t.done_seq);
        if (strstr(out, want) == NULL) {
            fail_msg("wanted \"%s\" in:\n%s", want, out);
        }
    }
    if (kind != T_REWIND) {
        /* attested, on a cycle the node holds */
        assert_true(ta_attestations(&n, &last, &verdict) >= 2);
        assert_int_equal(verdict, 2);
    } else {
        /* a rewound head admits no attestation the node's rules take (its cycles lie beyond
         * it): the fail and both heads are kept, and the auditor stays failed */
        rc = tu_run(cmd, sizeof(cmd),
                    "TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=http://127.0.0.1:%u "
                    "TALLY_AUDIT_ORIGIN=%s TALLY_AUDIT_PRIMARY_KEY='%s' %s audit --dir %s --status",
                    n.port[TN_LEDGER], n.origin, vkey, getenv("TALLY_BIN"), adir);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(cmd, "FAIL split_view"));
        assert_non_null(strstr(cmd, "evidence kept: 1"));
    }
    /* nothing verified is lost: the replica still holds the honest round and verifies */
    rc = tu_run(cmd, sizeof(cmd), "%s --dir %s/replica verify 2>&1", getenv("TALLY_BIN"), adir);
    if (rc != 0) {
        fail_msg("replica verify: exit %d\n%s", rc, cmd);
    }
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

#define TAMPER(fn, kind, reason)                                                                 \
    static void fn(void **state)                                                                 \
    {                                                                                            \
        (void)state;                                                                             \
        run_kind(kind, reason);                                                                  \
    }
TAMPER(tamper_body, T_BODY, "signature_invalid")
TAMPER(tamper_header, T_HEADER, "signature_invalid")
TAMPER(tamper_dropped, T_DROP, "signature_invalid")
TAMPER(tamper_inserted, T_INSERT, "signature_invalid")
TAMPER(tamper_reordered, T_REORDER, "signature_invalid")
TAMPER(tamper_withheld, T_WITHHOLD, "other")
TAMPER(tamper_rewind, T_REWIND, "split_view")

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tamper_body),     cmocka_unit_test(tamper_header),
        cmocka_unit_test(tamper_dropped),  cmocka_unit_test(tamper_inserted),
        cmocka_unit_test(tamper_reordered), cmocka_unit_test(tamper_withheld),
        cmocka_unit_test(tamper_rewind),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The tamper matrix, first rows: a rewriting proxy between `tally audit` and an honest
 * `tally serve` changes what the auditor is served, and the auditor must fail loudly with the
 * right reason and the first divergent seq, attest the fail, and lose nothing it had verified:
 * - body: a gated body in a delta is not the one its header commits to → signature_invalid;
 * - header: a header's time in a delta is changed (the actor's signature does not cover it, the
 *   tree does) → signature_invalid at that seq, named from the node's own hash tiles. */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "schema/schema.h"
#include "store/store.h"
#include "util/auditrun.h"
#include "util/node.h"
#include "util/proxy.h"
#include "util/testutil.h"
#include "wire/wire.h"

typedef enum { T_BODY, T_HEADER } tkind;

typedef struct tamper {
    tkind kind;
    uint64_t from;   /* tamper with the first eligible record at or after this seq */
    uint64_t done_seq;
    int done;
} tamper;

/* Rewrites /v1/deltas answers: the first record at or after t->from with a non-public body
 * (T_BODY: its last byte flipped) or any record (T_HEADER: its time one ms later). */
static void rewrite(void *arg, const char *target, unsigned status, const uint8_t *body,
                    size_t n, uint8_t **out, size_t *out_n)
{
    tamper *t = arg;
    wire_delta d;
    schema_sth sth;
    uint8_t hb[SCHEMA_HEADER_MAX], *bcopy = NULL;

    if (status != 200 || strncmp(target, "/v1/deltas", 10) != 0 ||
        wire_delta_decode(body, n, &d, &sth) != TALLY_OK) {
        return;
    }
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
        }
    }
    if (t->done) {
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

    tn_init(&n, kind == T_BODY ? "tamper_body" : "tamper_header");
    tn_start(&n);
    snprintf(adir, sizeof(adir), "%s/auditor", n.tmp);
    assert_int_equal(tu_run(cmd, sizeof(cmd), "mkdir -p %s", adir), 0);
    snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir);
    memset(seed, 0x51, sizeof(seed));
    assert_int_equal(store_key_create(kpath, seed, apk, NULL), TALLY_OK);
    tn_miner_init(&m, 9);
    ta_feed(&n, &m, apk, 100, 21, t0 + 3600000);
    ta_cycle(&n, 1);
    ta_node_vkey(&n, vkey, sizeof(vkey));

    /* an honest first round: cycle 1 passes */
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("honest round: exit %d\n%s", rc, out);
    }
    before = tn_size(&n);

    /* more records, among them a CLOSE (gated) of an event that started an hour ago, then
     * the proxy rewrites the first new one it can */
    ta_feed(&n, &m, apk, 101, 22, t0 - 3600000);
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
    assert_true(t.done);
    assert_int_equal(rc, 1);
    {
        char want[128];
        snprintf(want, sizeof(want), "FAIL %s at seq %" PRIu64 ":", reason, t.done_seq);
        if (strstr(out, want) == NULL) {
            fail_msg("wanted \"%s\" in:\n%s", want, out);
        }
    }
    /* attested, on a cycle the node holds */
    assert_true(ta_attestations(&n, &last, &verdict) >= 2);
    assert_int_equal(verdict, 2);
    /* nothing verified is lost: the replica still holds the honest round and verifies */
    rc = tu_run(cmd, sizeof(cmd), "%s --dir %s/replica verify 2>&1", getenv("TALLY_BIN"), adir);
    if (rc != 0) {
        fail_msg("replica verify: exit %d\n%s", rc, cmd);
    }
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

static void tamper_body(void **state)
{
    (void)state;
    run_kind(T_BODY, "signature_invalid");
}

static void tamper_header(void **state)
{
    (void)state;
    run_kind(T_HEADER, "signature_invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tamper_body),
        cmocka_unit_test(tamper_header),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* `tally audit --once` against a real `tally serve` on loopback: an honest node's cycles pass,
 * are attested in the node's log and not attested twice; the replica is a tally log that
 * `tally verify` accepts; a node that shows another history under the same key and origin (a
 * fork of the head the auditor trusts) is a split view, failed and attested, with nothing the
 * auditor had verified lost. */
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
#include <sodium.h>

#include "schema/schema.h"
#include "store/store.h"
#include "util/node.h"
#include "util/testutil.h"

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

/* A METAGRAPH binding miner m (no permit) and the auditor key (permit, 200,000 alpha), an event
 * starting at start_ms with its market. */
static void feed(tn_node *n, const tn_miner *m, const uint8_t auditor[32], uint64_t block,
                 uint64_t event, uint64_t start_ms)
{
    json_t *neurons = json_array(), *recs = json_array();
    uint8_t acct[32];
    char ss58[49], hex[65];
    tn_resp r;
    char *text;

    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(m->pk[b] ^ 0x55);
    }
    schema_ss58_encode(acct, ss58);
    schema_hex(m->pk, 32, hex);
    json_array_append_new(neurons, json_pack("{s:i, s:s, s:s, s:b, s:b, s:s}", "uid", 0, "hotkey",
                                             ss58, "stake_rao", "1000", "validator_permit", 0,
                                             "active", 1, "tally_key", hex));
    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(auditor[b] ^ 0x33);
    }
    schema_ss58_encode(acct, ss58);
    schema_hex(auditor, 32, hex);
    json_array_append_new(neurons, json_pack("{s:i, s:s, s:s, s:b, s:b, s:s}", "uid", 1, "hotkey",
                                             ss58, "stake_rao", "200000000000000",
                                             "validator_permit", 1, "active", 1, "tally_key",
                                             hex));
    json_array_append_new(recs, json_pack("{s:s, s:{s:i, s:I, s:i, s:i, s:o}}", "type",
                                          "METAGRAPH", "body", "netuid", 1, "block",
                                          (json_int_t)block, "part", 0, "parts", 1, "neurons",
                                          neurons));
    json_array_append_new(
        recs, json_pack("{s:s, s:{s:I, s:s, s:s, s:s, s:s, s:n, s:I, s:s, s:n}}", "type", "EVENT",
                        "body", "event_id", (json_int_t)event, "sport", "soccer", "league", "EPL",
                        "home_team", "Tigers", "away_team", "Rovers", "venue", "start_ms",
                        (json_int_t)start_ms, "status", "scheduled", "ext_id"));
    json_array_append_new(recs, json_pack("{s:s, s:{s:I, s:I, s:s, s:n, s:[s,s]}}", "type",
                                          "MARKET", "body", "market_id",
                                          (json_int_t)(1000 * event + 1), "event_id",
                                          (json_int_t)event, "kind", "moneyline", "line_n",
                                          "sides", "home", "away"));
    json_t *all = json_pack("{s:o}", "records", recs);
    text = json_dumps(all, JSON_COMPACT);
    json_decref(all);
    tn_admin(n, "POST", "/admin/v1/records", text, &r);
    free(text);
    if (r.status != 200) {
        fail_msg("feed: %u %s", r.status, r.body ? r.body : "");
    }
    tn_resp_free(&r);
}

/* Asks the node for a cycle and waits until it is in the log. */
static void cycle(tn_node *n, uint64_t want)
{
    tn_resp r;

    tn_admin(n, "POST", "/admin/v1/cycle", "{}", &r);
    assert_int_equal(r.status, 202);
    tn_resp_free(&r);
    for (int i = 0; i < 300; i++) {
        tn_http(n, TN_OPS, "GET", "/health", NULL, 0, NULL, 0, NULL, &r);
        bool done = r.json && (uint64_t)json_integer_value(json_object_get(r.json, "last_cycle")) >= want;
        tn_resp_free(&r);
        if (done) {
            return;
        }
        usleep(20000);
    }
    fail_msg("cycle %" PRIu64 " never landed", want);
}

static int audit_once(const tn_node *n, const char *adir, const char *vkey, char *out,
                      size_t cap)
{
    int rc = tu_run(out, cap,
                  "TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=http://127.0.0.1:%u "
                  "TALLY_AUDIT_ORIGIN=%s TALLY_AUDIT_PRIMARY_KEY='%s' %s audit --dir %s --once "
                  "2>%s/audit.err",
                  n->port[TN_LEDGER], n->origin, vkey, bin(), adir, adir);
    print_message("tally audit --once: exit %d\n%s", rc, out);
    return rc;
}

static void node_vkey(const tn_node *n, char *out, size_t cap)
{
    char buf[4096];
    assert_int_equal(tu_run(buf, sizeof(buf), "%s --dir %s key", bin(), n->dir), 0);
    /* the last line is the verifier key */
    char *last = buf, *nl;
    while ((nl = strchr(last, '\n')) != NULL && nl[1] != '\0') {
        last = nl + 1;
    }
    snprintf(out, cap, "%.*s", (int)strcspn(last, "\n"), last);
}

/* ATTESTATION records in the node's log (read-only open beside the running node). */
static size_t attestations(const tn_node *n, uint64_t *last_cycle, uint64_t *verdict)
{
    store_cfg cfg = {.dir = n->dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    size_t count = 0;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_iter_open(log, 0, &it), TALLY_OK);
    while (store_iter_read(it, true, &rec, &h, &b) == TALLY_OK) {
        if (h.type == SCHEMA_ATTESTATION) {
            count++;
            *last_cycle = b.u.attestation.cycle;
            *verdict = b.u.attestation.verdict;
        }
        schema_body_release(&b);
    }
    store_iter_close(it);
    store_close(log);
    return count;
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
    feed(&n, &m, apk, 100, 11, t0 + 3600000);
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
    cycle(&n, 1);
    node_vkey(&n, vkey, sizeof(vkey));

    /* an honest node: cycle 1 passes and is attested in the node's log */
    rc = audit_once(&n, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("audit exit %d:\n%s", rc, out);
    }
    assert_non_null(strstr(out, "cycle 1: pass"));
    assert_int_equal(attestations(&n, &last, &verdict), 1);
    assert_int_equal(last, 1);
    assert_int_equal(verdict, 1);

    /* the next round attests only the new cycle */
    cycle(&n, 2);
    rc = audit_once(&n, adir, vkey, out, sizeof(out));
    if (rc != 0) {
        fail_msg("audit exit %d:\n%s", rc, out);
    }
    assert_null(strstr(out, "cycle 1:"));
    assert_non_null(strstr(out, "cycle 2: pass"));
    /* from the state of cycle 1 it checked before, not from GENESIS */
    assert_non_null(strstr(out, "(resumed from cycle 1)"));
    assert_int_equal(attestations(&n, &last, &verdict), 2);
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
    feed(&fork, &m, apk, 100, 12, t0 + 7200000);
    feed(&fork, &m, apk, 101, 13, t0 + 7200000);
    cycle(&fork, 1);
    cycle(&fork, 2);
    cycle(&fork, 3);
    rc = audit_once(&fork, adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "FAIL split_view"));
    /* attested on the next cycle, in the log of the node that showed the other history */
    assert_non_null(strstr(out, "cycle 3: fail (split_view"));
    assert_int_equal(attestations(&fork, &last, &verdict), 1);
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
    rc = tu_run(cmd_out, sizeof(cmd_out),
                "TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=http://127.0.0.1:%u "
                "TALLY_AUDIT_ORIGIN=%s TALLY_AUDIT_PRIMARY_KEY='%s' %s audit --dir %s --status",
                fork.port[TN_LEDGER], fork.origin, vkey, bin(), adir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(cmd_out, "FAIL split_view"));
    assert_int_equal(tn_stop(&fork, SIGTERM), 0);
    tn_free(&fork);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(honest_then_fork),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The `tally audit` daemon's ops listener against a real `tally serve` on loopback: the daemon
 * (a process of its own, TALLY_AUDIT_OPS_LISTEN on port 0) says where it listens; /health/live
 * answers; /health shows the node's size verified with no lag and cycle 1 checked, passed and
 * attested; /metrics parses as text format 0.0.4 and carries the same numbers; /checkpoint is a
 * note that verifies with the node's key and carries the auditor's cosignature; an unknown path
 * is 404 and another method 405; with the node killed /health turns degraded while the auditor
 * still answers; SIGTERM ends it with exit 0. Restarted against a fork of the log, it latches
 * the split view: /health is 503 failing and the divergence is counted. Every wait is bounded;
 * no timing is asserted. */
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "client/client.h"
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

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct resp {
    unsigned status;
    char *body;
    size_t n;
    char ctype[128], allow[64];
    json_t *json;
} resp;

static void get(ta_daemon *d, const char *method, const char *target, resp *out)
{
    client_request rq = {.method = method, .target = target};
    client_response *r = NULL;
    const char *v;
    tally_bytes b;

    memset(out, 0, sizeof(*out));
    if (client_do(d->conn, &rq, &r) != TALLY_OK) {
        fail_msg("%s %s: %s", method, target, client_error(d->conn));
    }
    out->status = client_response_status(r);
    b = client_response_body(r);
    out->body = malloc(b.n + 1);
    assert_non_null(out->body);
    if (b.n > 0) {
        memcpy(out->body, b.p, b.n);
    }
    out->body[b.n] = '\0';
    out->n = b.n;
    if (client_response_header(r, "Content-Type", &v) == 1) {
        snprintf(out->ctype, sizeof(out->ctype), "%s", v);
    }
    if (client_response_header(r, "Allow", &v) == 1) {
        snprintf(out->allow, sizeof(out->allow), "%s", v);
    }
    out->json = json_loadb(out->body, out->n, 0, NULL);
    client_response_free(r);
}

static void resp_free(resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

static uint64_t ju(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) {
        fail_msg("/health: %s is not an integer", k);
    }
    return (uint64_t)json_integer_value(v);
}

static const char *js(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL) {
        fail_msg("/health: %s is not a string", k);
    }
    return s;
}

/* The value of the sample line that starts with `series ` (name and labels) in a text 0.0.4
 * body; fails the test if absent. Every other line is checked to be a comment or a sample. */
static double sample(const char *text, const char *series)
{
    char want[256];
    const char *p = text;
    bool found = false;
    double value = 0;

    snprintf(want, sizeof(want), "%s ", series);
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char line[1024];
        assert_true(len < sizeof(line));
        memcpy(line, p, len);
        line[len] = '\0';
        if (line[0] != '#' && len > 0) {
            /* name{labels} value: the value is after the last space and parses whole */
            char *sp = strrchr(line, ' ');
            char *end;
            assert_non_null(sp);
            double v = strtod(sp + 1, &end);
            if (*end != '\0' || end == sp + 1) {
                fail_msg("/metrics: not a sample line: %s", line);
            }
            if (strncmp(line, want, strlen(want)) == 0) {
                found = true;
                value = v;
            }
        } else if (len > 0) {
            assert_true(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
        }
        p = nl != NULL ? nl + 1 : p + len;
    }
    if (!found) {
        fail_msg("/metrics: no series %s in\n%s", series, text);
    }
    return value;
}

static void ops_listener(void **state)
{
    tn_node n;
    tn_miner m;
    ta_daemon d = {.pid = -1};
    char adir[600], kpath[700], vkey[512], cmd_out[4096], name[300], wvkey[512], ss58[49];
    uint8_t apk[32], seed[32], acct[32];
    uint64_t t0 = tn_now(), size = 0, verified = 0;
    resp r;
    int rc;

    (void)state;
    tn_init(&n, "audit_ops");
    tn_start(&n);
    snprintf(adir, sizeof(adir), "%s/auditor", n.tmp);
    assert_int_equal(tu_run(cmd_out, sizeof(cmd_out), "mkdir -p %s", adir), 0);
    snprintf(kpath, sizeof(kpath), "%s/auditor.key", adir);
    memset(seed, 0x42, sizeof(seed));
    assert_int_equal(store_key_create(kpath, seed, apk, NULL), TALLY_OK);
    tn_miner_init(&m, 7);
    ta_feed(&n, &m, apk, 100, 11, t0 + 3600000);
    ta_cycle(&n, 1);
    ta_node_vkey(&n, vkey, sizeof(vkey));
    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(apk[b] ^ 0x33); /* the hotkey ta_feed binds the auditor key to */
    }
    schema_ss58_encode(acct, ss58);
    snprintf(name, sizeof(name), "%s.audit.%s", ss58, n.origin);
    assert_int_equal(store_cosig_vkey(name, apk, wvkey, sizeof(wvkey)), TALLY_OK);

    ta_daemon_start(&d, n.port[TN_LEDGER], n.origin, adir, vkey, NULL);

    get(&d, "GET", "/health/live", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(r.json);
    assert_string_equal(js(r.json, "status"), "live");
    resp_free(&r);

    /* wait (60 s at most) until a round has checked and attested cycle 1 and the trusted head
     * is the node's whole log (the attestation included) */
    for (int t = 0; t < 600; t++) {
        get(&d, "GET", "/health", &r);
        assert_non_null(r.json);
        size = tn_size(&n);
        verified = ju(r.json, "verified_size");
        if (ju(r.json, "last_attested_cycle") == 1 && verified == size &&
            json_is_integer(json_object_get(r.json, "last_round_age_s"))) {
            break;
        }
        resp_free(&r);
        nap_ms(100);
    }
    if (r.json == NULL || verified != size) {
        fail_msg("the auditor did not verify the node's %" PRIu64 " records within 60 s (see %s)",
                 size, d.err);
    }
    print_message("/health: %s\n", r.body);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.ctype, "application/json", 16) == 0);
    assert_string_equal(js(r.json, "status"), "ok");
    assert_string_equal(js(r.json, "origin"), n.origin);
    assert_non_null(strstr(js(r.json, "primary"), "http://127.0.0.1:"));
    assert_true(strlen(js(r.json, "version")) > 0);
    (void)ju(r.json, "uptime_s");
    (void)ju(r.json, "last_round_ms");
    assert_int_equal(ju(r.json, "primary_size"), size);
    assert_int_equal(ju(r.json, "lag_records"), 0);
    assert_int_equal(ju(r.json, "last_checked_cycle"), 1);
    assert_int_equal(ju(r.json, "last_pass_cycle"), 1);
    assert_int_equal(ju(r.json, "last_attested_cycle"), 1);
    assert_true(json_is_false(json_object_get(r.json, "failed")));
    assert_null(json_object_get(r.json, "reason"));
    assert_string_equal(js(json_object_get(r.json, "checks"), "primary"), "ok");
    resp_free(&r);

    /* /metrics: every line a comment or a sample, and the same numbers */
    get(&d, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.ctype, "version=0.0.4"));
    assert_true(sample(r.body, "tally_audit_verified_size") == (double)size);
    assert_true(sample(r.body, "tally_audit_lag_records") == 0);
    assert_true(sample(r.body, "tally_audit_divergences_total") == 0);
    assert_true(sample(r.body, "tally_audit_rounds_total{status=\"pass\"}") >= 1);
    assert_true(sample(r.body, "tally_audit_records_pulled_total") > 0);
    assert_true(sample(r.body, "tally_attestations_total{verdict=\"pass\"}") == 1);
    assert_true(sample(r.body, "tally_audit_last_round_seconds{phase=\"verify\"}") >= 0);
    assert_true(sample(r.body, "tally_audit_last_round_seconds{phase=\"total\"}") >= 0);
    assert_non_null(strstr(r.body, "tally_build_info{version=\""));
    assert_non_null(strstr(r.body, "# TYPE tally_audit_divergences_total counter\n"));
    resp_free(&r);

    /* /checkpoint: the node's note of the trusted head with the auditor's cosignature */
    get(&d, "GET", "/checkpoint", &r);
    print_message("/checkpoint:\n%s", r.body);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.ctype, "text/plain", 10) == 0);
    {
        uint64_t nsize = 0;
        uint8_t root[32];
        assert_int_equal(store_note_verify(r.body, r.n, vkey, &nsize, root), TALLY_OK);
        assert_int_equal(nsize, size);
        char line[128];
        snprintf(line, sizeof(line), "%s\n%" PRIu64 "\n", n.origin, size);
        assert_true(strncmp(r.body, line, strlen(line)) == 0);
        assert_non_null(strstr(r.body, name));
        char path[700];
        snprintf(path, sizeof(path), "%s/ops_checkpoint", adir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(r.body, 1, r.n, f), r.n);
        fclose(f);
        rc = tu_run(cmd_out, sizeof(cmd_out),
                    "%s verify --checkpoint %s --key '%s' --witness '%s' --quorum 1 2>&1", bin(),
                    path, vkey, wvkey);
        if (rc != 0) {
            fail_msg("verify --checkpoint of /checkpoint with the auditor as witness: exit %d\n%s",
                     rc, cmd_out);
        }
    }
    resp_free(&r);

    /* bad input: an unknown path, another method */
    get(&d, "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(r.json);
    assert_string_equal(js(r.json, "error"), "unknown_route");
    assert_true(json_is_false(json_object_get(r.json, "success")));
    resp_free(&r);
    get(&d, "POST", "/health", &r);
    assert_int_equal(r.status, 405);
    assert_non_null(r.json);
    assert_string_equal(js(r.json, "error"), "method_not_allowed");
    assert_string_equal(r.allow, "GET, HEAD");
    resp_free(&r);
    /* HEAD: the GET answer without its body (a load balancer's health probe) */
    get(&d, "HEAD", "/health", &r);
    assert_true(r.status == 200 || r.status == 503);
    assert_int_equal(r.n, 0);
    resp_free(&r);
    get(&d, "DELETE", "/checkpoint", &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);

    /* the node gone: the next round cannot reach it, /health says degraded and still answers
     * (30 s at most) */
    assert_int_equal(tn_stop(&n, SIGKILL), 128 + SIGKILL);
    bool degraded = false;
    for (int t = 0; t < 300 && !degraded; t++) {
        get(&d, "GET", "/health", &r);
        assert_non_null(r.json);
        degraded = strcmp(js(r.json, "status"), "degraded") == 0;
        if (!degraded) {
            resp_free(&r);
            nap_ms(100);
        }
    }
    if (!degraded) {
        fail_msg("/health did not turn degraded within 30 s of the node's death (see %s)", d.err);
    }
    print_message("/health with the node gone: %s\n", r.body);
    assert_int_equal(r.status, 200);
    assert_string_equal(js(json_object_get(r.json, "checks"), "primary"), "degraded");
    assert_string_not_equal(js(r.json, "last_round_status"), "ok");
    assert_int_equal(ju(r.json, "verified_size"), size); /* nothing verified is lost */
    assert_true(json_is_false(json_object_get(r.json, "failed")));
    resp_free(&r);
    get(&d, "GET", "/health/live", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    get(&d, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_true(sample(r.body, "tally_audit_rounds_total{status=\"error\"}") >= 1);
    resp_free(&r);

    /* SIGTERM: a clean exit */
    rc = ta_daemon_stop(&d, SIGTERM);
    if (rc != 0) {
        fail_msg("tally audit exit %d after SIGTERM (see %s)", rc, d.err);
    }
    /* the log said where it listened */
    assert_int_equal(
        tu_run(cmd_out, sizeof(cmd_out), "grep -c '\"event\":\"ops_listening\"' %s", d.err), 0);

    /* the same auditor against a fork (the same key and origin, another history): the split
     * view latches a fail, /health is 503 failing with the reason, the divergence is counted,
     * and /checkpoint still serves the head it trusted before */
    tn_node fork;
    tn_init(&fork, "audit_ops_fork");
    tn_start(&fork);
    ta_feed(&fork, &m, apk, 100, 12, t0 + 7200000);
    ta_feed(&fork, &m, apk, 101, 13, t0 + 7200000);
    ta_cycle(&fork, 1);
    ta_cycle(&fork, 2);
    ta_daemon_start(&d, fork.port[TN_LEDGER], fork.origin, adir, vkey, NULL);
    bool failing = false;
    for (int t = 0; t < 600 && !failing; t++) {
        get(&d, "GET", "/health", &r);
        assert_non_null(r.json);
        failing = strcmp(js(r.json, "status"), "failing") == 0;
        if (!failing) {
            resp_free(&r);
            nap_ms(100);
        }
    }
    if (!failing) {
        fail_msg("/health did not turn failing within 60 s against the fork (see %s)", d.err);
    }
    print_message("/health against the fork: %s\n", r.body);
    assert_int_equal(r.status, 503);
    assert_true(json_is_true(json_object_get(r.json, "failed")));
    assert_string_equal(js(r.json, "reason"), "split_view");
    assert_string_equal(js(json_object_get(r.json, "checks"), "verdict"), "failing");
    assert_int_equal(ju(r.json, "verified_size"), size);
    resp_free(&r);
    get(&d, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_true(sample(r.body, "tally_audit_divergences_total") == 1);
    assert_true(sample(r.body, "tally_audit_rounds_total{status=\"fail\"}") >= 1);
    resp_free(&r);
    get(&d, "GET", "/checkpoint", &r);
    assert_int_equal(r.status, 200);
    {
        uint64_t nsize = 0;
        uint8_t root[32];
        assert_int_equal(store_note_verify(r.body, r.n, vkey, &nsize, root), TALLY_OK);
        assert_int_equal(nsize, size);
    }
    resp_free(&r);
    rc = ta_daemon_stop(&d, SIGTERM);
    if (rc != 0) {
        fail_msg("tally audit exit %d after SIGTERM while failing (see %s)", rc, d.err);
    }
    assert_int_equal(tn_stop(&fork, SIGTERM), 0);
    tn_free(&fork);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ops_listener),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

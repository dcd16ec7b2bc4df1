/* §12 case 47 over HTTP: a Go program (tests/interop/tlogfetch.go, Go's
 * golang.org/x/mod/sumdb/{note,tlog}) fetches every hash tile, entry bundle and body bundle from
 * a running `tally serve` and verifies them against its checkpoint. The log holds records of
 * every tier (public, gated MARKET_SNAPSHOT and derived scores, embargoed odds, a private quote)
 * and more than 256 records, so full and partial tiles and bundles are both served. Skipped when
 * Go or the Debian package golang-golang-x-mod-dev is missing. */
#include "net/ledger.h"

static const char *const env[] = {"TALLY_SHUTDOWN_GRACE_S=1",
                                  "TALLY_RATE_IP_PER_S=30000",
                                  "TALLY_RATE_IP_PER_MIN=65535",
                                  "TALLY_RATE_GLOBAL_PER_S=30000",
                                  "TALLY_RATE_GLOBAL_PER_MIN=65535", NULL};

static bool have_go(void)
{
    return system("command -v go >/dev/null 2>&1") == 0 &&
           access("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog/tlog.go", R_OK) == 0;
}

static void go_check(tn_node *n, const char *bin, const char *vkey, const char *want_tiers)
{
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof(cmd), "'%s' http://127.0.0.1:%u '%s'", bin, n->port[TN_LEDGER], vkey);
    int rc = tu_run(out, sizeof(out), "%s", cmd);
    if (rc != 0 || strstr(out, "ok:") == NULL) {
        fail_msg("tlogfetch: %d %s", rc, out);
    }
    if (want_tiers != NULL && strstr(out, want_tiers) == NULL) {
        fail_msg("tlogfetch saw other tiers: %s", out);
    }
    print_message("%s", out);
}

static void case47_go_over_http(void **state)
{
    tn_node n;
    tn_miner m[3];
    tn_resp r;
    char src[1024], work[700], bin[800], out[8192], vkey[256], rec[512];
    (void)state;

    if (!have_go()) {
        skip();
    }
    snprintf(src, sizeof(src), "%s", __FILE__);
    char *slash = strrchr(src, '/');
    assert_non_null(slash);
    snprintf(slash, sizeof(src) - (size_t)(slash - src), "/../interop/tlogfetch.go");
    tn_init(&n, "ledger_interop");
    snprintf(work, sizeof(work), "%s/go", n.tmp);
    snprintf(bin, sizeof(bin), "%s/tlogfetch", work);
    assert_int_equal(tu_run(out, sizeof(out),
                            "mkdir -p '%s' && GOPATH=/usr/share/gocode GO111MODULE=off "
                            "GOCACHE='%s/cache' GOFLAGS= GOENV=off go build -o '%s' '%s' 2>&1",
                            work, work, bin, src),
                     0);
    cs_start(&n, env);
    for (int i = 0; i < 3; i++) {
        tn_miner_init(&m[i], (uint8_t)(51 + i));
    }
    /* 60 events with a market each (public), one odds submission (embargoed), a snapshot
       (gated) and a quote (private) */
    uint64_t ids[60];
    for (int i = 0; i < 60; i++) {
        ids[i] = 8001 + (uint64_t)i;
    }
    tn_feed(&n, m, 3, 100, ids, 60, tn_now() + CS_DAY);
    size_t bn;
    uint8_t *body = tn_odds(&n, &m[0], 7000, ids, 3, &bn);
    cs_opt o = {.nonce = 7000};
    cs_signed(&n, &m[0], "POST", "/v1/odds", body, bn, &o, &r);
    free(body);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    snprintf(rec, sizeof(rec),
             "{\"type\": \"MARKET_SNAPSHOT\", \"body\": {\"market_id\": 8001001, \"ts_ms\": %llu, "
             "\"probs\": [{\"side\": \"home\", \"prob_n\": 500000000, \"odds_n\": 2000000000, "
             "\"books\": 3, \"std_dev_n\": null}]}}",
             (unsigned long long)(tn_now() - 1000));
    cs_feed_json(&n, rec, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    snprintf(rec, sizeof(rec),
             "{\"type\": \"PROVIDER_QUOTE\", \"body\": {\"market_id\": 8001001, \"provider\": "
             "\"sportsdata\", \"book\": \"pinnacle\", \"ts_ms\": %llu, \"prices\": [{\"side\": "
             "\"home\", \"odds_n\": 1910000000}]}}",
             (unsigned long long)(tn_now() - 1000));
    cs_feed_json(&n, rec, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    lg_get(&n, "/v1/info", NULL, NULL, &r);
    snprintf(vkey, sizeof(vkey), "%s", json_string_value(json_object_get(r.json, "verifier_key")));
    tn_resp_free(&r);
    /* fewer than 256 records: partial tiles and bundles only */
    go_check(&n, bin, vkey, "embargoed=3 private=1");
    /* past 256: one full tile and bundle, then partial ones */
    for (int k = 0; tn_size(&n) <= 300; k++) {
        for (int i = 0; i < 60; i++) {
            ids[i] = 9001 + (uint64_t)(60 * k + i);
        }
        tn_feed(&n, m, 3, 101 + (uint64_t)k, ids, 60, tn_now() + CS_DAY);
    }
    go_check(&n, bin, vkey, NULL);
    lg_get(&n, "/log/tile/entries/000", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(case47_go_over_http)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

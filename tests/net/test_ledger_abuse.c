/* The ledger listener under the abuse control of ingest (protocol §6: "the same rate limits, bans
 * and order of checks"), against a real `tally serve` with the §7 defaults: three bad login
 * signatures from one address ban it for good (X-failures, case 4 on the login route), after
 * which a valid token from that address is refused at stage 2 (the ban) before stage 6 (the
 * token); the per-key window counts a token's requests and the per-IP window an address's, each
 * answering 429 rate_limited with Retry-After when full. The node believes
 * X-Forwarded-For from 127.0.0.1, so each case speaks from its own documentation address (not
 * exempt). */
#include "net/ledger.h"

static const char *const env_abuse[] = {"TALLY_TRUSTED_PROXIES=127.0.0.1/32",
                                        "TALLY_SHUTDOWN_GRACE_S=1", NULL};

/* POST a JSON body to the ledger listener from ip (X-Forwarded-For). */
static void post_from(tn_node *n, const char *target, const char *json, const char *ip,
                      tn_resp *out)
{
    client_header h = {"X-Forwarded-For", ip};
    tn_http(n, TN_LEDGER, "POST", target, &h, 1, json, strlen(json), "application/json", out);
}

/* A GET on the ledger listener from ip with a token (NULL: none). */
static void get_from(tn_node *n, const char *target, const char *ip, const char *token,
                     tn_resp *out)
{
    char auth[80];
    client_header h[2] = {{"X-Forwarded-For", ip}, {"Authorization", auth}};

    snprintf(auth, sizeof(auth), "Bearer %s", token ? token : "");
    tn_http(n, TN_LEDGER, "GET", target, h, token ? 2 : 1, NULL, 0, NULL, out);
}

/* A challenge for m from ip, and the token request for it signed with sk (m's own or not). */
static void login_from(tn_node *n, const tn_miner *m, const uint8_t *sk, const char *ip,
                       tn_resp *out)
{
    char key[65], body[320], ch[65], sh[129];
    uint8_t c[32], sig[64];
    tn_resp r;

    schema_hex(m->pk, 32, key);
    snprintf(body, sizeof(body), "{\"key\": \"%s\"}", key);
    post_from(n, "/v1/auth/challenge", body, ip, &r);
    cs_expect(&r, 200, NULL);
    snprintf(ch, sizeof(ch), "%s", json_string_value(json_object_get(r.json, "challenge")));
    tn_resp_free(&r);
    assert_int_equal(schema_unhex(ch, 64, c, 32), TALLY_OK);
    assert_int_equal(wire_login_sign((tally_str){n->origin, strlen(n->origin)}, c, m->pk, sk, sig),
                     TALLY_OK);
    schema_hex(sig, 64, sh);
    snprintf(body, sizeof(body), "{\"key\": \"%s\", \"challenge\": \"%s\", \"sig\": \"%s\"}", key,
             ch, sh);
    post_from(n, "/v1/auth/token", body, ip, out);
}

static void ledger_abuse(void **state)
{
    tn_node n;
    tn_miner a, stranger;
    char tok[65];
    tn_resp r;
    (void)state;

    tn_init(&n, "ledger_abuse");
    cs_start(&n, env_abuse);
    tn_miner_init(&a, 61), tn_miner_init(&stranger, 62);
    lg_neuron v[1] = {{&a, true, "200000000000000"}};
    lg_metagraph(&n, 100, v, 1);

    /* a token got from 203.0.113.50, then three logins from there signed by another key */
    login_from(&n, &a, a.sk, "203.0.113.50", &r);
    cs_expect(&r, 200, NULL);
    snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(r.json, "token")));
    tn_resp_free(&r);
    get_from(&n, "/v1/records?from=0&to=1", "203.0.113.50", tok, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        login_from(&n, &a, stranger.sk, "203.0.113.50", &r);
        cs_expect(&r, 401, "bad_signature");
        tn_resp_free(&r);
    }
    /* banned for good: the valid token from there is refused by the ban, on both listeners */
    get_from(&n, "/v1/records?from=0&to=1", "203.0.113.50", tok, &r);
    cs_expect(&r, 403, "ip_blacklisted");
    assert_true(json_is_null(json_object_get(cs_details(&r), "expires_ms")));
    tn_resp_free(&r);
    cs_http(&n, TN_INGEST, "GET", "/", "203.0.113.50", &r);
    cs_expect(&r, 403, "ip_blacklisted");
    tn_resp_free(&r);
    {
        json_t *b = cs_ban_of(&n, "ip:203.0.113.50");
        assert_non_null(b);
        assert_string_equal(json_string_value(json_object_get(b, "reason")), "bad_signature");
        json_decref(b);
    }
    /* the key itself is not charged (the signatures were not its own): from elsewhere it
     * still logs in */
    login_from(&n, &a, a.sk, "203.0.113.51", &r);
    cs_expect(&r, 200, NULL);
    snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(r.json, "token")));
    tn_resp_free(&r);

    /* the per-key window (10 a second, 120 a minute): the token's requests from 203.0.113.51
     * are refused once it is full */
    unsigned ok = 0, limited = 0;
    for (int i = 0; i < 200 && limited == 0; i++) {
        get_from(&n, "/v1/records?from=0&to=1", "203.0.113.51", tok, &r);
        if (r.status == 200) {
            ok++;
        } else {
            cs_expect(&r, 429, "rate_limited");
            assert_string_equal(json_string_value(json_object_get(cs_details(&r), "scope")), "key");
            assert_true(atoi(r.retry_after) >= 1);
            limited++;
        }
        tn_resp_free(&r);
    }
    assert_int_equal(limited, 1);
    assert_true(ok >= 1 && ok <= 120);
    /* it is the key's window, not the address's: the same address without the token passes */
    get_from(&n, "/v1/sth", "203.0.113.51", NULL, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);

    /* the per-IP window (50 a second, 500 a minute) on a public route, without a token */
    ok = 0, limited = 0;
    for (int i = 0; i < 700 && limited == 0; i++) {
        get_from(&n, "/log/checkpoint", "203.0.113.52", NULL, &r);
        if (r.status == 200) {
            ok++;
            assert_true(r.rl_remaining[0] >= '0' && r.rl_remaining[0] <= '9');
        } else {
            cs_expect(&r, 429, "rate_limited");
            assert_string_equal(json_string_value(json_object_get(cs_details(&r), "scope")), "ip");
            assert_true(atoi(r.retry_after) >= 1);
            limited++;
        }
        tn_resp_free(&r);
    }
    assert_int_equal(limited, 1);
    assert_true(ok >= 1 && ok <= 500);
    /* another address is not held back by it */
    get_from(&n, "/log/checkpoint", "203.0.113.53", NULL, &r);
    assert_int_equal(r.status, 200);
    tn_resp_free(&r);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ledger_abuse),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

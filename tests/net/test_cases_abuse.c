/* Protocol §12 against a real `tally serve`: the abuse cases with the §7 defaults — critical
 * strikes and the permanent IP ban (4), forged claims charging only the IP (6), the key window
 * (31), the hotkey cooldown and its body (32), fail2ban after violations (33), probes (34), and
 * the bans surviving a restart (4, 33, 34). The node believes X-Forwarded-For from 127.0.0.1, so
 * each case speaks from its own documentation address (not exempt) while 127.0.0.1 itself keeps
 * the default loopback exemption (34's second half). */
#include "net/cases.h"

#define NM 8

static const char *const env_abuse[] = {"TALLY_TRUSTED_PROXIES=127.0.0.1/32",
                                        "TALLY_SHUTDOWN_GRACE_S=1", NULL};

typedef struct fixture {
    tn_node n;
    tn_miner m[NM], stranger;
    uint64_t ids[2];
} fixture;

static void setup(fixture *f, const char *tag)
{
    tn_init(&f->n, tag);
    cs_start(&f->n, env_abuse);
    for (int i = 0; i < NM; i++) {
        tn_miner_init(&f->m[i], (uint8_t)(i + 1));
    }
    tn_miner_init(&f->stranger, 99);
    f->ids[0] = 7001, f->ids[1] = 7002;
    tn_feed(&f->n, f->m, NM, 100, f->ids, 2, tn_now() + CS_DAY);
}

static void teardown(fixture *f)
{
    assert_int_equal(tn_stop(&f->n, SIGTERM), 0);
    tn_free(&f->n);
}

static void expect_banned(fixture *f, const char *ip, bool permanent)
{
    tn_resp r;
    cs_http(&f->n, TN_INGEST, "GET", "/", ip, &r);
    cs_expect(&r, 403, "ip_blacklisted");
    json_t *e = json_object_get(cs_details(&r), "expires_ms");
    if (permanent) {
        assert_true(json_is_null(e));
    } else {
        uint64_t now = tn_now(), exp = (uint64_t)json_integer_value(e);
        assert_true(json_is_integer(e));
        assert_true(exp > now + CS_DAY - 120000 && exp <= now + CS_DAY + 1000);
    }
    tn_resp_free(&r);
    /* the ledger listener refuses it too: a ban is of the address, not of a listener */
    cs_http(&f->n, TN_LEDGER, "GET", "/", ip, &r);
    cs_expect(&r, 403, "ip_blacklisted");
    tn_resp_free(&r);
}

/* Case 4: three bad signatures from one address ban it for good. */
static void bad_signatures(fixture *f, const char *ip)
{
    tn_resp r;
    for (int i = 0; i < 3; i++) {
        cs_opt o = {.ip = ip, .sign_sk = f->stranger.sk};
        cs_signed(&f->n, &f->m[0], "GET", "/v1/games", NULL, 0, &o, &r);
        cs_expect(&r, 401, "bad_signature");
        tn_resp_free(&r);
    }
    cs_opt o = {.ip = ip};
    cs_signed(&f->n, &f->m[0], "GET", "/v1/games", NULL, 0, &o, &r);
    cs_expect(&r, 403, "ip_blacklisted");
    tn_resp_free(&r);
    expect_banned(f, ip, true);
    char id[64];
    snprintf(id, sizeof(id), "ip:%s", ip);
    json_t *b = cs_ban_of(&f->n, id);
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(b, "reason")), "bad_signature");
    json_decref(b);
}

/* Case 33: an IP cooldown (C-failures carrying five distinct keys), then 20 violations. */
static void violations(fixture *f, const char *ip)
{
    tn_resp r;
    for (int i = 1; i <= 5; i++) {
        cs_opt o = {.ip = ip, .t = tn_now() - 60000};
        cs_signed(&f->n, &f->m[i], "GET", "/v1/games", NULL, 0, &o, &r);
        cs_expect(&r, 401, "timestamp_skew");
        tn_resp_free(&r);
    }
    for (int i = 0; i < 20; i++) {
        cs_http(&f->n, TN_INGEST, "GET", "/v1/games", ip, &r);
        cs_expect(&r, 429, "ip_cooldown");
        assert_true(atoi(r.retry_after) >= 1);
        assert_int_equal(json_integer_value(json_object_get(r.json, "retry_after")),
                         atoi(r.retry_after));
        assert_string_equal(json_string_value(json_object_get(r.json, "cooldown_type")),
                            "ip_cooldown");
        tn_resp_free(&r);
    }
    cs_http(&f->n, TN_INGEST, "GET", "/v1/games", ip, &r);
    cs_expect(&r, 403, "ip_blacklisted");
    tn_resp_free(&r);
    expect_banned(f, ip, false);
}

/* Case 34: a probe from a non-exempt address; the same from 127.0.0.1. */
static void probes(fixture *f, const char *ip)
{
    tn_resp r;
    cs_http(&f->n, TN_INGEST, "GET", "/wp-login.php", ip, &r);
    cs_expect(&r, 403, "forbidden");
    assert_null(strstr(r.body, "probe")); /* the body never says why */
    tn_resp_free(&r);
    expect_banned(f, ip, true);
    cs_http(&f->n, TN_INGEST, "GET", "/wp-login.php", NULL, &r);
    cs_expect(&r, 404, "unknown_route");
    tn_resp_free(&r);
    cs_http(&f->n, TN_LEDGER, "GET", "/.env", NULL, &r);
    cs_expect(&r, 404, "unknown_route");
    tn_resp_free(&r);
    cs_http(&f->n, TN_INGEST, "GET", "/", NULL, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
}

static void case_04_33_34_bans_survive_restart(void **state)
{
    fixture f;
    uint64_t size0;
    json_t *b33;
    (void)state;

    setup(&f, "cases_bans");
    size0 = tn_size(&f.n);
    bad_signatures(&f, "203.0.113.40");
    violations(&f, "203.0.113.41");
    probes(&f, "203.0.113.42");
    assert_int_equal(cs_bans(&f.n), 3);
    assert_null(cs_ban_of(&f.n, "ip:127.0.0.1"));
    b33 = cs_ban_of(&f.n, "ip:203.0.113.41");
    assert_non_null(b33);
    /* bans reach LMDB through the writer within a second (§7.2); then a restart */
    cs_sleep_ms(1200);
    assert_int_equal(tn_stop(&f.n, SIGTERM), 0);
    tn_start(&f.n);
    expect_banned(&f, "203.0.113.40", true);
    expect_banned(&f, "203.0.113.41", false);
    expect_banned(&f, "203.0.113.42", true);
    json_t *again = cs_ban_of(&f.n, "ip:203.0.113.41");
    assert_non_null(again);
    assert_true(
        json_equal(json_object_get(again, "expires_ms"), json_object_get(b33, "expires_ms")));
    json_decref(again);
    json_decref(b33);
    assert_int_equal(cs_bans(&f.n), 3);
    /* a miner from elsewhere is served as before, and nothing was appended by any of this */
    tn_resp r;
    cs_opt o = {.ip = "203.0.113.43"};
    cs_signed(&f.n, &f.m[6], "GET", "/v1/games", NULL, 0, &o, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f.n), size0);
    teardown(&f);
}

/* Case 6: forged claims of a registered miner's key charge only the address they come from. */
static void case_06_forged_claims(void **state)
{
    fixture f;
    tn_resp r;
    size_t bn;
    uint8_t *body;
    char hk[49], id[80];
    (void)state;

    setup(&f, "cases_forged");
    for (int i = 0; i < 10; i++) {
        cs_opt o = {.ip = "203.0.113.50", .sign_sk = f.stranger.sk};
        cs_signed(&f.n, &f.m[1], "GET", "/v1/games", NULL, 0, &o, &r);
        /* the third strike bans the address; the rest are refused at stage 2 */
        if (i < 3) {
            cs_expect(&r, 401, "bad_signature");
        } else {
            cs_expect(&r, 403, "ip_blacklisted");
        }
        tn_resp_free(&r);
    }
    cs_hotkey(&f.m[1], hk);
    snprintf(id, sizeof(id), "hotkey:%s", hk);
    assert_null(cs_ban_of(&f.n, id));
    tn_admin(&f.n, "GET", "/admin/v1/cooldowns", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, hk));
    tn_resp_free(&r);
    body = tn_odds(&f.n, &f.m[1], 8000, f.ids, 1, &bn);
    cs_opt o = {.ip = "203.0.113.51", .nonce = 8000};
    cs_signed(&f.n, &f.m[1], "POST", "/v1/odds", body, bn, &o, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    free(body);
    teardown(&f);
}

/* Case 31: the 11th verified request of one key within a second. */
static void case_31_key_window(void **state)
{
    fixture f;
    tn_resp r;
    (void)state;

    setup(&f, "cases_window");
    for (int i = 0; i < 10; i++) {
        cs_opt o = {.ip = "203.0.113.52"};
        cs_signed(&f.n, &f.m[2], "GET", "/v1/games", NULL, 0, &o, &r);
        cs_expect(&r, 200, NULL);
        tn_resp_free(&r);
    }
    cs_opt o = {.ip = "203.0.113.52"};
    cs_signed(&f.n, &f.m[2], "GET", "/v1/games", NULL, 0, &o, &r);
    cs_expect(&r, 429, "rate_limited");
    assert_true(atoi(r.retry_after) >= 1);
    assert_string_equal(r.rl_remaining, "0");
    assert_string_equal(json_string_value(json_object_get(cs_details(&r), "scope")), "key");
    assert_string_equal(json_string_value(json_object_get(cs_details(&r), "window")), "1s");
    tn_resp_free(&r);
    /* the window is the key's: another key from the same address is served */
    cs_signed(&f.n, &f.m[3], "GET", "/v1/games", NULL, 0, &o, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    teardown(&f);
}

/* Case 32: ten C-failures of one verified hotkey within 60 s start a 30 s cooldown. */
static void case_32_hotkey_cooldown(void **state)
{
    fixture f;
    tn_resp r;
    static const uint8_t junk[] = {0x91, 0xc1};
    const char *ips[2] = {"203.0.113.53", "203.0.113.54"};
    (void)state;

    setup(&f, "cases_cool");
    for (int i = 0; i < 10; i++) {
        cs_opt o = {.ip = ips[0]};
        cs_signed(&f.n, &f.m[4], "POST", "/v1/odds", junk, sizeof(junk), &o, &r);
        cs_expect(&r, 400, "malformed_body");
        tn_resp_free(&r);
        cs_sleep_ms(110); /* under the key window of 10 a second */
    }
    /* from the same address and from another one: the hotkey is cooling down */
    for (int k = 0; k < 2; k++) {
        cs_opt o = {.ip = ips[k]};
        cs_signed(&f.n, &f.m[4], "GET", "/v1/games", NULL, 0, &o, &r);
        cs_expect(&r, 429, "hotkey_cooldown");
        if (k == 0) {
            assert_string_equal(r.retry_after, "30");
            /* §8: exactly the reference's shape */
            assert_int_equal(json_object_size(r.json), 7);
            assert_true(json_is_false(json_object_get(r.json, "success")));
            assert_int_equal(json_integer_value(json_object_get(r.json, "retry_after")), 30);
            assert_string_equal(json_string_value(json_object_get(r.json, "cooldown_type")),
                                "hotkey_cooldown");
            assert_int_equal(
                json_integer_value(json_object_get(r.json, "cooldown_remaining_seconds")), 30);
            assert_string_equal(json_string_value(json_object_get(r.json, "request_id")),
                                r.request_id);
        }
        tn_resp_free(&r);
    }
    /* the admin list shows it */
    char hk[49];
    cs_hotkey(&f.m[4], hk);
    tn_admin(&f.n, "GET", "/admin/v1/cooldowns", NULL, &r);
    assert_non_null(strstr(r.body, hk));
    tn_resp_free(&r);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_04_33_34_bans_survive_restart),
        cmocka_unit_test(case_06_forged_claims),
        cmocka_unit_test(case_31_key_window),
        cmocka_unit_test(case_32_hotkey_cooldown),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

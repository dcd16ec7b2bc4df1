/* Protocol §12 against a real `tally serve`: the signed-request cases — headers missing or
 * malformed (1, 2), clock skew (3), a target signed other than sent (5), an unbound key (7), and
 * the write and read nonces (25–28). Each check also finds the tree size unchanged where §12 says
 * so. The node believes X-Forwarded-For from 127.0.0.1, so each case speaks from its own
 * documentation address and one case's strikes cannot reach the next. */
#include "net/cases.h"

/* a short grace: each node stops in a quarter second */
static const char *const env_proxy[] = {"TALLY_TRUSTED_PROXIES=127.0.0.1/32",
                                        "TALLY_SHUTDOWN_GRACE_S=1", NULL};

typedef struct fixture {
    tn_node n;
    tn_miner m[4], stranger;
    uint64_t ids[3];
} fixture;

static void setup(fixture *f, const char *tag)
{
    tn_init(&f->n, tag);
    cs_start(&f->n, env_proxy);
    for (int i = 0; i < 4; i++) {
        tn_miner_init(&f->m[i], (uint8_t)(i + 1));
    }
    tn_miner_init(&f->stranger, 99);
    f->ids[0] = 7001, f->ids[1] = 7002, f->ids[2] = 7003;
    tn_feed(&f->n, f->m, 4, 100, f->ids, 3, tn_now() + CS_DAY);
}

static void teardown(fixture *f)
{
    assert_int_equal(tn_stop(&f->n, SIGTERM), 0);
    tn_free(&f->n);
}

/* A POST /v1/odds with the four Tally-* values given as text (NULL leaves one out) and extra. */
static void odds_with(fixture *f, const char *key, const char *t, const char *nonce,
                      const char *sig, const client_header *extra, size_t ne, tn_resp *out)
{
    client_header h[8];
    size_t nh = 0;
    size_t bn;
    uint8_t *body = tn_odds(&f->n, &f->m[0], 5000, f->ids, 1, &bn);

    h[nh++] = (client_header){"X-Forwarded-For", "203.0.113.2"};
    if (key) {
        h[nh++] = (client_header){"Tally-Key", key};
    }
    if (t) {
        h[nh++] = (client_header){"Tally-Time", t};
    }
    if (nonce) {
        h[nh++] = (client_header){"Tally-Nonce", nonce};
    }
    if (sig) {
        h[nh++] = (client_header){"Tally-Signature", sig};
    }
    for (size_t i = 0; i < ne; i++) {
        h[nh++] = extra[i];
    }
    tn_http(&f->n, TN_INGEST, "POST", "/v1/odds", h, nh, body, bn, "application/msgpack", out);
    free(body);
}

/* Cases 1 and 2: stage 6 refuses before anything is verified. */
static void case_01_02_headers(void **state)
{
    fixture f;
    tn_resp r;
    char key[65], upper[65], t[24], sig[129];
    uint64_t size0;
    (void)state;

    setup(&f, "cases_hdr");
    size0 = tn_size(&f.n);
    schema_hex(f.m[0].pk, 32, key);
    memset(sig, 'a', 128), sig[128] = '\0';
    snprintf(t, sizeof(t), "%llu", (unsigned long long)tn_now());

    /* 1: no Tally-* at all; and each one left out in turn */
    odds_with(&f, NULL, NULL, NULL, NULL, NULL, 0, &r);
    cs_expect(&r, 401, "auth_missing");
    tn_resp_free(&r);
    odds_with(&f, key, t, "5000", NULL, NULL, 0, &r);
    cs_expect(&r, 401, "auth_missing");
    tn_resp_free(&r);
    odds_with(&f, key, NULL, "5000", sig, NULL, 0, &r);
    cs_expect(&r, 401, "auth_missing");
    tn_resp_free(&r);

    /* 2: a key of 63 hex, upper-case hex; nonces 0, 007, +5 and 2^53; the key twice */
    char k63[65];
    memcpy(k63, key, 63), k63[63] = '\0';
    odds_with(&f, k63, t, "5000", sig, NULL, 0, &r);
    cs_expect(&r, 400, "auth_malformed");
    tn_resp_free(&r);
    for (int i = 0; i < 65; i++) {
        upper[i] = (key[i] >= 'a' && key[i] <= 'f') ? (char)(key[i] - 32) : key[i];
    }
    odds_with(&f, upper, t, "5000", sig, NULL, 0, &r);
    cs_expect(&r, 400, "auth_malformed");
    tn_resp_free(&r);
    static const char *const bad_nonces[] = {"0", "007", "+5", "9007199254740992", "-1", ""};
    for (size_t i = 0; i < sizeof(bad_nonces) / sizeof(bad_nonces[0]); i++) {
        odds_with(&f, key, t, bad_nonces[i], sig, NULL, 0, &r);
        if (r.status != 400 || strcmp(cs_err(&r), "auth_malformed") != 0) {
            fail_msg("nonce \"%s\": %u %s", bad_nonces[i], r.status, r.body ? r.body : "");
        }
        tn_resp_free(&r);
    }
    client_header twice = {"Tally-Key", key};
    odds_with(&f, key, t, "5000", sig, &twice, 1, &r);
    cs_expect(&r, 400, "auth_malformed");
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f.n), size0);
    /* these claims carry no verified key: nothing was banned, and the nonce is still free */
    assert_int_equal(cs_bans(&f.n), 0);
    size_t bn;
    uint8_t *body = tn_odds(&f.n, &f.m[0], 5000, f.ids, 1, &bn);
    cs_opt o = {.nonce = 5000, .ip = "203.0.113.3"};
    cs_signed(&f.n, &f.m[0], "POST", "/v1/odds", body, bn, &o, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    free(body);
    assert_int_equal(tn_size(&f.n), size0 + 1);
    teardown(&f);
}

/* Cases 3, 5 and 7. */
static void case_03_05_07_skew_target_key(void **state)
{
    fixture f;
    tn_resp r;
    uint64_t size0, before, after;
    size_t bn;
    uint8_t *body;
    (void)state;

    setup(&f, "cases_skew");
    size0 = tn_size(&f.n);
    /* 3: 31 s behind, and 31 s ahead; details.server_time_ms is the node's clock */
    body = tn_odds(&f.n, &f.m[0], 6000, f.ids, 1, &bn);
    before = tn_now();
    cs_opt o = {.t = before - 31000, .nonce = 6000, .ip = "203.0.113.10"};
    cs_signed(&f.n, &f.m[0], "POST", "/v1/odds", body, bn, &o, &r);
    after = tn_now();
    cs_expect(&r, 401, "timestamp_skew");
    json_t *st = json_object_get(cs_details(&r), "server_time_ms");
    assert_true(json_is_integer(st));
    assert_true((uint64_t)json_integer_value(st) + 1000 >= before &&
                (uint64_t)json_integer_value(st) <= after + 1000);
    tn_resp_free(&r);
    o.t = tn_now() + 31000;
    cs_signed(&f.n, &f.m[0], "POST", "/v1/odds", body, bn, &o, &r);
    cs_expect(&r, 401, "timestamp_skew");
    tn_resp_free(&r);
    /* within the skew the same request is accepted: the refusals consumed no nonce */
    o.t = tn_now() - 25000;
    cs_signed(&f.n, &f.m[0], "POST", "/v1/odds", body, bn, &o, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    free(body);
    assert_int_equal(tn_size(&f.n), size0 + 1);

    /* 5: the query is signed too */
    cs_opt o5 = {.ip = "203.0.113.11", .sign_target = "/v1/games"};
    cs_signed(&f.n, &f.m[1], "GET", "/v1/games?limit=10", NULL, 0, &o5, &r);
    cs_expect(&r, 401, "bad_signature");
    tn_resp_free(&r);
    cs_opt o5b = {.ip = "203.0.113.11"};
    cs_signed(&f.n, &f.m[1], "GET", "/v1/games?limit=10", NULL, 0, &o5b, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);

    /* 7: a key the METAGRAPH does not bind */
    body = tn_odds(&f.n, &f.stranger, 9000, f.ids, 1, &bn);
    cs_opt o7 = {.nonce = 9000, .ip = "203.0.113.12"};
    cs_signed(&f.n, &f.stranger, "POST", "/v1/odds", body, bn, &o7, &r);
    cs_expect(&r, 403, "key_not_registered");
    assert_int_equal(json_integer_value(json_object_get(cs_details(&r), "metagraph_block")), 100);
    assert_true(json_is_integer(json_object_get(cs_details(&r), "metagraph_age_s")));
    tn_resp_free(&r);
    free(body);
    assert_int_equal(tn_size(&f.n), size0 + 1);
    /* one X strike each is below the ban threshold */
    assert_int_equal(cs_bans(&f.n), 0);
    teardown(&f);
}

/* Cases 25, 26, 27 and 28. */
static void case_25_28_nonces(void **state)
{
    fixture f;
    tn_resp r;
    uint64_t size0;
    size_t bn, bn2;
    uint8_t *body, *other;
    json_int_t seq;
    char hk[49], id[80];
    json_t *ban;
    (void)state;

    setup(&f, "cases_nonce");
    size0 = tn_size(&f.n);
    body = tn_odds(&f.n, &f.m[0], 5000, f.ids, 1, &bn);
    cs_opt o = {.nonce = 5000, .ip = "203.0.113.20"};
    cs_signed(&f.n, &f.m[0], "POST", "/v1/odds", body, bn, &o, &r);
    cs_expect(&r, 200, NULL);
    seq = json_integer_value(
        json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "seq"));
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f.n), size0 + 1);

    /* 25: resent, re-signed with new times, three times: the same seq, nothing appended, and no
     * strike (three X strikes would have banned the IP and the hotkey) */
    for (int i = 0; i < 3; i++) {
        o.t = tn_now() + 10 + (uint64_t)i;
        cs_signed(&f.n, &f.m[0], "POST", "/v1/odds", body, bn, &o, &r);
        cs_expect(&r, 200, NULL);
        assert_true(json_is_true(json_object_get(r.json, "duplicate")));
        assert_int_equal(json_integer_value(json_object_get(
                             json_array_get(json_object_get(r.json, "items"), 0), "seq")),
                         seq);
        json_t *entries = json_object_get(json_object_get(r.json, "receipt"), "entries");
        assert_int_equal(json_array_size(entries), 1);
        assert_int_equal(json_integer_value(json_array_get(json_array_get(entries, 0), 0)), seq);
        tn_resp_free(&r);
    }
    assert_int_equal(tn_size(&f.n), size0 + 1);
    assert_int_equal(cs_bans(&f.n), 0);

    /* 27: below the highest accepted, never used (from elsewhere, so 26's ban cannot hide it) */
    other = tn_odds(&f.n, &f.m[0], 4999, f.ids, 1, &bn2);
    cs_opt o27 = {.nonce = 4999, .ip = "203.0.113.21"};
    cs_signed(&f.n, &f.m[0], "POST", "/v1/odds", other, bn2, &o27, &r);
    cs_expect(&r, 409, "nonce_stale");
    tn_resp_free(&r);
    free(other);

    /* 28: a read nonce twice within 60 s; a read nonce equal to a write nonce is fine (§14.12) */
    cs_opt o28 = {.nonce = 777777, .ip = "203.0.113.22"};
    cs_signed(&f.n, &f.m[2], "GET", "/v1/games", NULL, 0, &o28, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    o28.t = tn_now() + 5;
    cs_signed(&f.n, &f.m[2], "GET", "/v1/games", NULL, 0, &o28, &r);
    cs_expect(&r, 409, "nonce_reused");
    tn_resp_free(&r);
    cs_opt o28b = {.nonce = 5000, .ip = "203.0.113.22"};
    cs_signed(&f.n, &f.m[0], "GET", "/v1/games", NULL, 0, &o28b, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);

    /* 26: a new body under the accepted nonce, three times: a strike to the IP and to the
     * hotkey each time, seen as both banned for good after the third */
    other = tn_odds(&f.n, &f.m[0], 5000, f.ids + 1, 1, &bn2);
    for (int i = 0; i < 3; i++) {
        cs_signed(&f.n, &f.m[0], "POST", "/v1/odds", other, bn2, &o, &r);
        cs_expect(&r, 409, "nonce_replay");
        tn_resp_free(&r);
        if (i < 2) {
            assert_int_equal(cs_bans(&f.n), 0);
        }
    }
    free(other);
    assert_int_equal(tn_size(&f.n), size0 + 1);
    ban = cs_ban_of(&f.n, "ip:203.0.113.20");
    assert_non_null(ban);
    assert_string_equal(json_string_value(json_object_get(ban, "reason")), "nonce_replay");
    assert_true(json_is_null(json_object_get(ban, "expires_ms")));
    json_decref(ban);
    cs_hotkey(&f.m[0], hk);
    snprintf(id, sizeof(id), "hotkey:%s", hk);
    ban = cs_ban_of(&f.n, id);
    assert_non_null(ban);
    json_decref(ban);
    /* the hotkey is refused from any address now */
    cs_opt o26 = {.ip = "203.0.113.23"};
    cs_signed(&f.n, &f.m[0], "GET", "/v1/games", NULL, 0, &o26, &r);
    cs_expect(&r, 403, "hotkey_blacklisted");
    tn_resp_free(&r);
    free(body);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_01_02_headers),
        cmocka_unit_test(case_03_05_07_skew_target_key),
        cmocka_unit_test(case_25_28_nonces),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

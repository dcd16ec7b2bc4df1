/* Protocol §6 against a real `tally serve` on loopback: login (§12 cases 36–38, expired tokens,
 * replayed challenges, permit and stake, a key deregistered after login), tree heads and info,
 * tile paths (39, 40), ranges (41), records and deltas in the gated view (46, a private record
 * after a dispute reveal, the same view in /v1/records and /v1/deltas, a delta decoded and
 * checked against its STH), checkpoints.
 *
 * One node for the whole file, on the manual clock standing at S; the cases run in order and
 * the clock only moves forward: the embargo flip at the event's start comes last. */
#include "net/ledger.h"
#include "store/store.h"

static char clock_env[64];
static const char *const env[] = {"TALLY_CLOCK=manual",        clock_env,
                                  "TALLY_SHUTDOWN_GRACE_S=1",  "TALLY_TOKEN_TTL_S=60",
                                  "TALLY_RATE_KEY_PER_S=1000", "TALLY_RATE_KEY_PER_MIN=60000",
                                  "TALLY_RATE_IP_PER_S=1000",  "TALLY_RATE_IP_PER_MIN=60000",
                                  "TALLY_RATE_GLOBAL_PER_S=1000",
                                  "TALLY_RATE_GLOBAL_PER_MIN=60000", NULL};

#define EVENT 7001u

typedef struct fixture {
    tn_node n;
    tn_miner a, b, nopermit, poor, miner, stranger;
    uint64_t s, start;
    uint64_t odds_seq, snap_seq, quote_seq;
    char token[65];
} fixture;

static fixture F;

static void mg(uint64_t block, bool with_b)
{
    lg_neuron v[5] = {{&F.a, true, "200000000000000"},
                      {&F.nopermit, false, "200000000000000"},
                      {&F.poor, true, "10000000000000"},
                      {&F.miner, false, "1000"},
                      {&F.b, true, "200000000000000"}};
    lg_metagraph(&F.n, block, v, with_b ? 5 : 4);
}

static uint64_t feed_one(const char *rec)
{
    tn_resp r;
    uint64_t seq;
    cs_feed_json(&F.n, rec, &r);
    cs_expect(&r, 200, NULL);
    seq = (uint64_t)json_integer_value(json_object_get(json_array_get(json_object_get(r.json,
                                                                                      "items"),
                                                                      0),
                                                       "seq"));
    tn_resp_free(&r);
    return seq;
}

static int group_setup(void **state)
{
    tn_resp r;
    char rec[512];
    (void)state;

    F.s = (tn_now() + CS_HOUR) / 300000 * 300000;
    F.start = F.s + CS_DAY;
    tn_init(&F.n, "ledger_api");
    snprintf(clock_env, sizeof(clock_env), "TALLY_CLOCK_START_MS=%llu", (unsigned long long)F.s);
    cs_start(&F.n, env);
    tn_miner_init(&F.a, 21), tn_miner_init(&F.b, 22), tn_miner_init(&F.nopermit, 23);
    tn_miner_init(&F.poor, 24), tn_miner_init(&F.miner, 25), tn_miner_init(&F.stranger, 26);
    mg(100, true);
    cs_event(&F.n, EVENT, F.start, "scheduled");
    cs_market(&F.n, EVENT * 1000 + 1, EVENT, "moneyline", 0, "[\"home\", \"away\"]", &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    /* an embargoed record: the miner's odds */
    size_t bn;
    uint64_t ids[1] = {EVENT};
    uint8_t *body = tn_odds(&F.n, &F.miner, 5000, ids, 1, &bn);
    cs_opt o = {.t = F.s, .nonce = 5000};
    cs_signed(&F.n, &F.miner, "POST", "/v1/odds", body, bn, &o, &r);
    free(body);
    cs_expect(&r, 200, NULL);
    F.odds_seq = (uint64_t)json_integer_value(
        json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "seq"));
    tn_resp_free(&r);
    /* a gated record and a private one */
    snprintf(rec, sizeof(rec),
             "{\"type\": \"MARKET_SNAPSHOT\", \"body\": {\"market_id\": %u, \"ts_ms\": %llu, "
             "\"probs\": [{\"side\": \"home\", \"prob_n\": 500000000, \"odds_n\": 2000000000, "
             "\"books\": 3, \"std_dev_n\": null}]}}",
             EVENT * 1000 + 1, (unsigned long long)F.s);
    F.snap_seq = feed_one(rec);
    snprintf(rec, sizeof(rec),
             "{\"type\": \"PROVIDER_QUOTE\", \"body\": {\"market_id\": %u, \"provider\": "
             "\"sportsdata\", \"book\": \"pinnacle\", \"ts_ms\": %llu, \"prices\": [{\"side\": "
             "\"home\", \"odds_n\": 1910000000}, {\"side\": \"away\", \"odds_n\": 2100000000}]}}",
             EVENT * 1000 + 1, (unsigned long long)F.s);
    F.quote_seq = feed_one(rec);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    assert_int_equal(tn_stop(&F.n, SIGTERM), 0);
    tn_free(&F.n);
    return 0;
}

/* Case 36 (and a token that never existed), then an expired token. */
static void case36_tokens(void **state)
{
    tn_resp r;
    char tok[65];
    uint64_t size0 = tn_size(&F.n);
    (void)state;

    lg_get(&F.n, "/v1/records?from=0&to=1", NULL, NULL, &r);
    cs_expect(&r, 401, "token_missing");
    assert_string_equal(r.www_auth, "Bearer");
    tn_resp_free(&r);
    lg_get(&F.n, "/v1/records?from=0&to=1",
           "0000000000000000000000000000000000000000000000000000000000000000", NULL, &r);
    cs_expect(&r, 401, "token_invalid");
    tn_resp_free(&r);
    lg_login(&F.n, &F.a, tok);
    lg_get(&F.n, "/v1/records?from=0&to=1", tok, NULL, &r);
    cs_expect(&r, 200, NULL);
    /* the ledger routes are rate-limited as ingest is: the headers of §7.1 on the answer */
    {
        char *end;
        assert_true(r.rl_remaining[0] >= '0' && r.rl_remaining[0] <= '9');
        (void)strtoul(r.rl_remaining, &end, 10);
        assert_int_equal(*end, '\0');
    }
    tn_resp_free(&r);
    F.s += 61000; /* TALLY_TOKEN_TTL_S=60 */
    lg_clock(&F.n, F.s);
    lg_get(&F.n, "/v1/records?from=0&to=1", tok, NULL, &r);
    cs_expect(&r, 401, "token_invalid");
    tn_resp_free(&r);
    assert_int_equal(tn_size(&F.n), size0);
    assert_true(cs_metric(&F.n, "tally_auth_logins_total", "result=\"ok\"", NULL) >= 1);
    assert_true(cs_metric(&F.n, "tally_signature_verifications_total", "kind=\"login\"", NULL) >=
                1);
}

/* Case 37: permit and stake; an unbound key. */
static void case37_eligibility(void **state)
{
    static const struct {
        tn_miner *m;
        const char *reason;
    } cases[] = {{&F.nopermit, "no_validator_permit"},
                 {&F.poor, "stake_too_low"},
                 {&F.stranger, "key_not_registered"}};
    char ch[65];
    tn_resp r;
    uint64_t size0 = tn_size(&F.n);
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(lg_challenge(&F.n, cases[i].m, ch, &r), 403);
        cs_expect(&r, 403, "not_eligible");
        assert_string_equal(json_string_value(json_object_get(cs_details(&r), "reason")),
                            cases[i].reason);
        tn_resp_free(&r);
    }
    lg_post_json(&F.n, "/v1/auth/challenge", "{\"key\": 5}", &r);
    cs_expect(&r, 400, "malformed_body");
    tn_resp_free(&r);
    assert_int_equal(tn_size(&F.n), size0);
}

/* Case 38: a challenge 121 s old; the same challenge twice; a signature for another origin. */
static void case38_challenges(void **state)
{
    char ch[65];
    tn_resp r;
    (void)state;

    assert_int_equal(lg_challenge(&F.n, &F.a, ch, NULL), 200);
    F.s += 121000;
    lg_clock(&F.n, F.s);
    lg_token_req(&F.n, &F.a, ch, NULL, &r);
    cs_expect(&r, 401, "challenge_invalid");
    tn_resp_free(&r);
    assert_int_equal(lg_challenge(&F.n, &F.a, ch, NULL), 200);
    lg_token_req(&F.n, &F.a, ch, NULL, &r);
    cs_expect(&r, 200, NULL);
    snprintf(F.token, sizeof(F.token), "%s", json_string_value(json_object_get(r.json, "token")));
    tn_resp_free(&r);
    lg_token_req(&F.n, &F.a, ch, NULL, &r);
    cs_expect(&r, 401, "challenge_invalid");
    tn_resp_free(&r);
    /* a challenge issued to a, redeemed by b */
    assert_int_equal(lg_challenge(&F.n, &F.a, ch, NULL), 200);
    lg_token_req(&F.n, &F.b, ch, NULL, &r);
    cs_expect(&r, 401, "challenge_invalid");
    tn_resp_free(&r);
    /* signed for another node's origin: this node's message differs */
    assert_int_equal(lg_challenge(&F.n, &F.a, ch, NULL), 200);
    lg_token_req(&F.n, &F.a, ch, "tally.other/9", &r);
    cs_expect(&r, 401, "bad_signature");
    tn_resp_free(&r);
}

/* A key deregistered after login is refused on its next request. */
static void deregistered(void **state)
{
    char tok[65];
    tn_resp r;
    (void)state;

    lg_login(&F.n, &F.b, tok);
    lg_get(&F.n, "/v1/records?from=0&to=2", tok, NULL, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    mg(101, false);
    lg_get(&F.n, "/v1/records?from=0&to=2", tok, NULL, &r);
    cs_expect(&r, 403, "not_eligible");
    assert_string_equal(json_string_value(json_object_get(cs_details(&r), "reason")),
                        "key_not_registered");
    tn_resp_free(&r);
}

/* Tree heads and info. */
static void heads(void **state)
{
    tn_resp r;
    char path[64];
    (void)state;

    lg_get(&F.n, "/v1/sth", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_string_equal(r.cache, "public, max-age=1");
    json_int_t size = json_integer_value(json_object_get(r.json, "tree_size"));
    assert_int_equal(size, (json_int_t)tn_size(&F.n));
    tn_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sth/%lld", (long long)size);
    lg_get(&F.n, path, NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_string_equal(r.cache, "public, max-age=31536000, immutable");
    tn_resp_free(&r);
    lg_get(&F.n, path, NULL, "application/msgpack", &r);
    cs_expect(&r, 200, NULL);
    schema_sth s;
    assert_int_equal(schema_sth_decode((const uint8_t *)r.body, r.n, &s), TALLY_OK);
    assert_int_equal(s.tree_size, (uint64_t)size);
    tn_resp_free(&r);
    /* the checkpoint note: its size line, type and caching (§6.2), with the rate headers */
    lg_get(&F.n, "/log/checkpoint", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; charset=utf-8");
    assert_string_equal(r.cache, "public, max-age=2");
    assert_true(r.rl_remaining[0] >= '0' && r.rl_remaining[0] <= '9');
    {
        char want[80];
        snprintf(want, sizeof(want), "%s\n%lld\n", F.n.origin, (long long)size);
        assert_true(r.n > strlen(want));
        assert_memory_equal(r.body, want, strlen(want));
    }
    tn_resp_free(&r);
    lg_get(&F.n, "/v1/info", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    static const char *const fields[] = {"origin",  "node_key", "verifier_key",
                                         "netuid",  "node_hotkey", "genesis_leaf_hash",
                                         "tree_size", "params", "limits", "now_ms", "version"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (json_object_get(r.json, fields[i]) == NULL) {
            fail_msg("/v1/info lacks %s", fields[i]);
        }
    }
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "params"),
                                                        "finality.k")),
                     2);
    tn_resp_free(&r);
}

/* Cases 39–41. */
static void cases39_41_paths(void **state)
{
    static const char *const bad[] = {"/log/tile/0/x001/2", "/log/tile/0/1.p/0",
                                      "/log/tile/64/0", "/log/bodies/1.p/0", "/log/tile/0/0"};
    static const char *const missing[] = {"/log/tile/0/000", "/log/tile/entries/000",
                                          "/log/bodies/000", "/log/tile/0/001.p/1",
                                          "/log/tile/entries/000.p/255", "/log/tile/1/000.p/1",
                                          "/v1/sth/999999"};
    static const char *const ranges[] = {"/v1/deltas?from=10&to=5", "/v1/deltas?from=0&to=100000",
                                         "/v1/records?from=0&to=100000",
                                         "/v1/deltas?from=0&to=1&size=100000",
                                         "/v1/deltas?from=0&to=5&size=4"};
    tn_resp r;
    char tok[65], p[64];
    uint64_t size = tn_size(&F.n);
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lg_get(&F.n, bad[i], NULL, NULL, &r);
        cs_expect(&r, 400, "bad_request");
        tn_resp_free(&r);
    }
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        lg_get(&F.n, missing[i], NULL, NULL, &r);
        cs_expect(&r, 404, "not_found");
        tn_resp_free(&r);
    }
    /* the available width is served, immutable */
    snprintf(p, sizeof(p), "/log/tile/0/000.p/%llu", (unsigned long long)size);
    lg_get(&F.n, p, NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(r.n, 32 * size);
    assert_string_equal(r.ctype, "application/octet-stream");
    assert_string_equal(r.cache, "public, max-age=31536000, immutable");
    tn_resp_free(&r);
    lg_login(&F.n, &F.a, tok);
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        lg_get(&F.n, ranges[i], tok, NULL, &r);
        cs_expect(&r, 400, "range_invalid");
        tn_resp_free(&r);
    }
    lg_get(&F.n, "/v1/proof/consistency?from=0&to=5", NULL, NULL, &r);
    cs_expect(&r, 400, "range_invalid");
    tn_resp_free(&r);
    lg_get(&F.n, "/v1/proof/inclusion?seq=5&size=5", NULL, NULL, &r);
    cs_expect(&r, 400, "range_invalid");
    tn_resp_free(&r);
    lg_get(&F.n, "/v1/proof/inclusion?seq=01", NULL, NULL, &r);
    cs_expect(&r, 400, "bad_request");
    tn_resp_free(&r);
    assert_int_equal(tn_size(&F.n), size);
}

/* RFC 9162 MTH over leaf hashes (the test's own, sharing nothing with store/). */
static void mth(const uint8_t (*leaf)[32], size_t n, uint8_t out[32])
{
    if (n == 1) {
        memcpy(out, leaf[0], 32);
        return;
    }
    size_t k = 1;
    while (k * 2 < n) {
        k *= 2;
    }
    uint8_t buf[65];
    buf[0] = 1;
    mth(leaf, k, buf + 1);
    mth(leaf + k, n - k, buf + 33);
    crypto_hash_sha256(out, buf, 65);
}

/* An inclusion proof checks against the latest head. */
static void proofs(void **state)
{
    tn_resp r;
    char p[96];
    uint64_t size = tn_size(&F.n);
    (void)state;

    snprintf(p, sizeof(p), "/v1/proof/inclusion?seq=%llu&size=%llu",
             (unsigned long long)F.odds_seq, (unsigned long long)size);
    lg_get(&F.n, p, NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    json_t *path = json_object_get(r.json, "path");
    uint8_t leaf[32], hashes[64][32], root[32];
    assert_int_equal(schema_unhex(json_string_value(json_object_get(r.json, "leaf_hash")), 64,
                                  leaf, 32),
                     TALLY_OK);
    for (size_t i = 0; i < json_array_size(path); i++) {
        assert_int_equal(schema_unhex(json_string_value(json_array_get(path, i)), 64, hashes[i],
                                      32),
                         TALLY_OK);
    }
    size_t np = json_array_size(path);
    tn_resp_free(&r);
    lg_get(&F.n, "/v1/sth", NULL, NULL, &r);
    assert_int_equal(schema_unhex(json_string_value(json_object_get(r.json, "root")), 64, root,
                                  32),
                     TALLY_OK);
    tn_resp_free(&r);
    assert_true(store_verify_inclusion(leaf, F.odds_seq, size, (const uint8_t(*)[32])hashes, np,
                                       root));
}

/* Records: the gated view before the start (case 46's first half) and the msgpack form. */
static json_t *record_at(json_t *records, uint64_t seq)
{
    size_t i;
    json_t *v;
    json_array_foreach(records, i, v)
    {
        if ((uint64_t)json_integer_value(json_object_get(v, "seq")) == seq) {
            return v;
        }
    }
    return NULL;
}

static void records_view(bool odds_visible, bool quote_visible)
{
    tn_resp r;
    char tok[65], p[64];
    uint64_t size = tn_size(&F.n);

    lg_login(&F.n, &F.a, tok);
    snprintf(p, sizeof(p), "/v1/records?from=0&to=%llu", (unsigned long long)size);
    lg_get(&F.n, p, tok, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_string_equal(r.cache, "private, no-cache");
    json_t *recs = json_object_get(r.json, "records");
    assert_int_equal(json_array_size(recs), size);
    json_t *odds = record_at(recs, F.odds_seq), *snap = record_at(recs, F.snap_seq);
    json_t *quote = record_at(recs, F.quote_seq);
    assert_string_equal(json_string_value(json_object_get(odds, "tier")), "embargoed");
    assert_true(json_is_string(json_object_get(odds, "sig")));
    assert_true(json_is_object(json_object_get(snap, "body")));
    assert_true(json_is_object(json_object_get(record_at(recs, 0), "body")));
    assert_int_equal(json_is_object(json_object_get(odds, "body")), odds_visible);
    assert_int_equal(json_is_object(json_object_get(quote, "body")), quote_visible);
    tn_resp_free(&r);
    /* msgpack: [from, to, [[header, body|nil]]]; the body, when sent, hashes to body_hash */
    lg_get(&F.n, p, tok, "application/msgpack", &r);
    cs_expect(&r, 200, NULL);
    schema_mpr rd;
    schema_mpr_init(&rd, (const uint8_t *)r.body, r.n);
    assert_int_equal(schema_mpr_array(&rd), 3);
    assert_int_equal(schema_mpr_uint(&rd), 0);
    assert_int_equal(schema_mpr_uint(&rd), size);
    assert_int_equal(schema_mpr_array(&rd), size);
    for (uint64_t s = 0; s < size; s++) {
        size_t hn, bn;
        schema_header h;
        assert_int_equal(schema_mpr_array(&rd), 2);
        const uint8_t *hb = schema_mpr_bin(&rd, &hn);
        assert_int_equal(schema_header_decode(hb, hn, &h), TALLY_OK);
        if (schema_mpr_nil(&rd)) {
            assert_true(s == F.odds_seq ? !odds_visible : s == F.quote_seq ? !quote_visible : 0);
            continue;
        }
        const uint8_t *bb = schema_mpr_bin(&rd, &bn);
        uint8_t hash[32];
        crypto_hash_sha256(hash, bb, bn);
        assert_memory_equal(hash, h.body_hash, 32);
    }
    assert_int_equal(schema_mpr_end(&rd), TALLY_OK);
    tn_resp_free(&r);
    /* a delta of the same range gives the same view: each body where the reader may read it,
     * hashing to its header's body_hash, nil elsewhere; its ETag the SHA-256 of its bytes */
    snprintf(p, sizeof(p), "/v1/deltas?from=0&to=%llu", (unsigned long long)size);
    lg_get(&F.n, p, tok, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_string_equal(r.cache, "private, no-cache");
    {
        wire_delta d;
        schema_sth sth;
        uint8_t hash[32];
        char etag[67];
        crypto_hash_sha256(hash, (const uint8_t *)r.body, r.n);
        etag[0] = '"';
        schema_hex(hash, 32, etag + 1);
        etag[65] = '"', etag[66] = '\0';
        assert_string_equal(r.etag, etag);
        assert_int_equal(wire_delta_decode((const uint8_t *)r.body, r.n, &d, &sth), TALLY_OK);
        assert_int_equal(d.to, size);
        for (size_t i = 0; i < d.n; i++) {
            schema_header h;
            bool visible = i == F.odds_seq ? odds_visible : i == F.quote_seq ? quote_visible : true;
            assert_int_equal(schema_header_decode(d.entries[i].header.p, d.entries[i].header.n, &h),
                             TALLY_OK);
            assert_int_equal(d.entries[i].has_body, visible);
            if (visible) {
                crypto_hash_sha256(hash, d.entries[i].body.p, d.entries[i].body.n);
                assert_memory_equal(hash, h.body_hash, 32);
            }
        }
        wire_delta_release(&d);
    }
    tn_resp_free(&r);
}

static void records_gated(void **state)
{
    (void)state;
    records_view(false, false);
}

/* A delta from 0: decoded with wire/, the root rebuilt from its headers, the proof checked
 * against its STH (signed by the node key of /v1/info). */
static void deltas(void **state)
{
    tn_resp r;
    char tok[65], p[96];
    uint64_t size = tn_size(&F.n);
    uint8_t node_pk[32];
    (void)state;

    lg_get(&F.n, "/v1/info", NULL, NULL, &r);
    assert_int_equal(schema_unhex(json_string_value(json_object_get(r.json, "node_key")), 64,
                                  node_pk, 32),
                     TALLY_OK);
    tn_resp_free(&r);
    lg_login(&F.n, &F.a, tok);
    for (uint64_t to = 1; to <= size; to++) {
        wire_delta d;
        schema_sth sth;
        snprintf(p, sizeof(p), "/v1/deltas?from=0&to=%llu", (unsigned long long)to);
        lg_get(&F.n, p, tok, NULL, &r);
        cs_expect(&r, 200, NULL);
        assert_string_equal(r.ctype, "application/vnd.tally.delta+msgpack");
        assert_int_equal(strlen(r.etag), 66);
        assert_int_equal(wire_delta_decode((const uint8_t *)r.body, r.n, &d, &sth), TALLY_OK);
        assert_int_equal(store_sth_verify(&sth, F.n.origin, node_pk), TALLY_OK);
        assert_int_equal(d.size, size);
        assert_true(d.to >= 1 && d.to <= to);
        uint8_t(*leaf)[32] = calloc(d.n, 32);
        for (size_t i = 0; i < d.n; i++) {
            store_leaf_hash(d.entries[i].header.p, d.entries[i].header.n, leaf[i]);
        }
        uint8_t root[32];
        mth((const uint8_t(*)[32])leaf, d.n, root);
        if (d.to == size) {
            assert_memory_equal(root, sth.root, 32);
            assert_int_equal(d.n_proof, 0);
        } else {
            assert_true(store_verify_consistency(d.to, size, root, sth.root,
                                                 (const uint8_t(*)[32])d.proof, d.n_proof));
        }
        free(leaf);
        wire_delta_release(&d);
        tn_resp_free(&r);
    }
}

/* A private record's body after POST /admin/v1/reveal. */
static void private_reveal(void **state)
{
    tn_resp r;
    char body[64];
    (void)state;

    snprintf(body, sizeof(body), "{\"seq\": %llu}", (unsigned long long)F.quote_seq);
    tn_admin(&F.n, "POST", "/admin/v1/reveal", body, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    records_view(false, true);
}

/* Checkpoints after a cycle: the listing, the blob decompressed (its hash the state hash) and as
 * the stored zstd frame. */
static void checkpoints(void **state)
{
    tn_resp r;
    char tok[65], raw[1 << 16], req[512];
    uint8_t want[32], got[32];
    (void)state;

    lg_cycle(&F.n, 1);
    lg_get(&F.n, "/v1/checkpoints", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    json_t *it = json_array_get(json_object_get(r.json, "items"), 0);
    assert_non_null(it);
    assert_int_equal(json_integer_value(json_object_get(it, "cycle")), 1);
    assert_false(json_is_true(json_object_get(it, "final")));
    assert_int_equal(schema_unhex(json_string_value(json_object_get(it, "state_hash")), 64, want,
                                  32),
                     TALLY_OK);
    tn_resp_free(&r);
    lg_get(&F.n, "/v1/checkpoints/latest", NULL, NULL, &r);
    cs_expect(&r, 401, "token_missing");
    tn_resp_free(&r);
    lg_login(&F.n, &F.a, tok);
    lg_get(&F.n, "/v1/checkpoints/1", tok, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_string_equal(r.cycle, "1");
    assert_string_equal(r.cache, "private, max-age=31536000, immutable");
    crypto_hash_sha256(got, (const uint8_t *)r.body, r.n);
    assert_memory_equal(got, want, 32);
    tn_resp_free(&r);
    lg_get(&F.n, "/v1/checkpoints/2", tok, NULL, &r);
    cs_expect(&r, 404, "not_found");
    tn_resp_free(&r);
    snprintf(req, sizeof(req),
             "GET /v1/checkpoints/latest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Accept-Encoding: zstd\r\nConnection: close\r\n\r\n",
             tok);
    assert_int_equal(cs_raw(F.n.port[TN_LEDGER], req, raw, sizeof(raw), 5000), 200);
    assert_non_null(strstr(raw, "Content-Encoding: zstd"));
    assert_non_null(strstr(raw, "Tally-State-Hash: "));
}

/* Case 46: the embargoed odds 1 ms before the event's start, then at the start. */
static void case46_embargo(void **state)
{
    (void)state;
    F.s = F.start - 1;
    lg_clock(&F.n, F.s);
    records_view(false, true);
    F.s = F.start;
    lg_clock(&F.n, F.s);
    records_view(true, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case36_tokens),     cmocka_unit_test(case37_eligibility),
        cmocka_unit_test(case38_challenges), cmocka_unit_test(deregistered),
        cmocka_unit_test(heads),             cmocka_unit_test(cases39_41_paths),
        cmocka_unit_test(proofs),            cmocka_unit_test(records_gated),
        cmocka_unit_test(deltas),            cmocka_unit_test(private_reveal),
        cmocka_unit_test(checkpoints),       cmocka_unit_test(case46_embargo),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

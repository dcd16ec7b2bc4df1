/* Protocol §6.6 against a real `tally serve`: attestations appended through the writer and
 * listed, §12 case 42 (an unknown cycle, a second attestation by the same hotkey), tree sizes
 * not above the cycle's STATE_HASH, finality turning final at finality.k passes and disputed by
 * an eligible fail; witnesses' cosignatures (§6.6a) kept, shown and refused; and a token (and a
 * login signature) of one node used at another node with another origin: 0 accepted. */
#include "net/ledger.h"
#include "store/store.h"

static const char *const env[] = {"TALLY_SHUTDOWN_GRACE_S=1", "TALLY_RATE_KEY_PER_S=1000",
                                  "TALLY_RATE_KEY_PER_MIN=60000", "TALLY_RATE_IP_PER_S=1000",
                                  "TALLY_RATE_IP_PER_MIN=60000", "TALLY_RATE_GLOBAL_PER_S=1000",
                                  "TALLY_RATE_GLOBAL_PER_MIN=60000", NULL};

typedef struct cyc {
    uint64_t state_seq, size;
    uint8_t state_hash[32], weights_hash[32], root[32];
} cyc;

static void hexget(json_t *o, const char *k, uint8_t out[32])
{
    assert_int_equal(schema_unhex(json_string_value(json_object_get(o, k)), 64, out, 32),
                     TALLY_OK);
}

static void cycle_info(tn_node *n, cyc *c)
{
    tn_resp r;
    lg_get(n, "/v1/finality", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    c->state_seq = (uint64_t)json_integer_value(json_object_get(r.json, "state_seq"));
    hexget(r.json, "state_hash", c->state_hash);
    hexget(r.json, "weights_hash", c->weights_hash);
    tn_resp_free(&r);
    lg_get(n, "/v1/sth", NULL, NULL, &r);
    c->size = (uint64_t)json_integer_value(json_object_get(r.json, "tree_size"));
    hexget(r.json, "root", c->root);
    tn_resp_free(&r);
}

/* POSTs an ATTESTATION by m under token. */
static void attest(tn_node *n, const tn_miner *m, const char *token, uint64_t nonce,
                   uint64_t cycle, uint64_t tree_size, const cyc *c, uint64_t verdict,
                   tn_resp *out)
{
    schema_body b = {.type = SCHEMA_ATTESTATION};
    uint8_t body[256], *req = NULL;
    size_t bn, rn;
    schema_header h;
    char auth[80];
    client_header hd[1] = {{"Authorization", auth}};

    b.u.attestation = (schema_attestation){.nonce = nonce, .cycle = cycle, .tree_size = tree_size,
                                           .verdict = verdict, .reason = verdict == 2 ? 2 : 0};
    memcpy(b.u.attestation.root, c->root, 32);
    memcpy(b.u.attestation.state_hash, c->state_hash, 32);
    memcpy(b.u.attestation.weights_hash, c->weights_hash, 32);
    assert_int_equal(schema_body_encode(&b, body, sizeof(body), &bn), TALLY_OK);
    assert_int_equal(schema_header_init(&b, body, bn, m->pk, &h), TALLY_OK);
    assert_int_equal(schema_record_sign(&h, (tally_str){n->origin, strlen(n->origin)}, m->sk),
                     TALLY_OK);
    assert_int_equal(wire_attest_build(body, bn, h.actor_sig, &req, &rn), TALLY_OK);
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    tn_http(n, TN_LEDGER, "POST", "/v1/attestations", hd, 1, req, rn, "application/msgpack", out);
    free(req);
}

static void finality(tn_node *n, bool final, bool disputed, size_t passes, size_t fails)
{
    tn_resp r;
    lg_get(n, "/v1/finality?cycle=1", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_is_true(json_object_get(r.json, "final")), final);
    assert_int_equal(json_is_true(json_object_get(r.json, "disputed")), disputed);
    assert_int_equal(json_array_size(json_object_get(r.json, "passes")), passes);
    assert_int_equal(json_array_size(json_object_get(r.json, "fails")), fails);
    assert_int_equal(json_integer_value(json_object_get(r.json, "k")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "m")), 3);
    assert_int_equal(json_integer_value(json_object_get(r.json, "latest_final_cycle")),
                     final ? 1 : 0);
    tn_resp_free(&r);
}

static void attestations_and_finality(void **state)
{
    tn_node n;
    tn_miner a, b, e, miner;
    char ta[65], tb[65], te[65], key[65], q[128];
    tn_resp r;
    cyc c;
    uint64_t size0;
    (void)state;

    tn_init(&n, "ledger_attest");
    cs_start(&n, env);
    tn_miner_init(&a, 31), tn_miner_init(&b, 32), tn_miner_init(&e, 33), tn_miner_init(&miner, 34);
    lg_neuron v[4] = {{&a, true, "200000000000000"},
                      {&b, true, "200000000000000"},
                      {&e, true, "300000000000000"},
                      {&miner, false, "5"}};
    lg_metagraph(&n, 100, v, 4);
    lg_get(&n, "/v1/finality", NULL, NULL, &r);
    cs_expect(&r, 404, "not_found");
    tn_resp_free(&r);
    lg_cycle(&n, 1);
    cycle_info(&n, &c);
    assert_int_equal(c.size, c.state_seq + 1);
    lg_login(&n, &a, ta), lg_login(&n, &b, tb), lg_login(&n, &e, te);

    /* case 42: an unknown cycle; a tree size not above the STATE_HASH; no token */
    size0 = tn_size(&n);
    attest(&n, &a, ta, 1, 5, c.size, &c, 1, &r);
    cs_expect(&r, 422, "attestation_invalid");
    tn_resp_free(&r);
    attest(&n, &a, ta, 1, 1, c.state_seq, &c, 1, &r);
    cs_expect(&r, 422, "attestation_invalid");
    tn_resp_free(&r);
    attest(&n, &a, "00", 1, 1, c.size, &c, 1, &r);
    cs_expect(&r, 401, "token_invalid");
    tn_resp_free(&r);
    assert_int_equal(tn_size(&n), size0);

    /* a's pass: appended, agreeing; one pass is not final at k = 2 */
    attest(&n, &a, ta, 1, 1, c.size, &c, 1, &r);
    cs_expect(&r, 200, NULL);
    json_t *ag = json_object_get(r.json, "agrees");
    assert_true(json_is_true(json_object_get(ag, "root")));
    assert_true(json_is_true(json_object_get(ag, "state_hash")));
    assert_true(json_is_true(json_object_get(ag, "weights_hash")));
    assert_true(json_is_object(json_object_get(r.json, "receipt")));
    tn_resp_free(&r);
    assert_int_equal(tn_size(&n), size0 + 1);
    finality(&n, false, false, 1, 0);

    /* case 42: a second one by the same hotkey */
    size0 = tn_size(&n);
    attest(&n, &a, ta, 2, 1, c.size, &c, 1, &r);
    cs_expect(&r, 409, "attestation_duplicate");
    tn_resp_free(&r);
    assert_int_equal(tn_size(&n), size0);

    /* b's pass makes it final; e's fail disputes it */
    attest(&n, &b, tb, 1, 1, c.size + 1, &c, 1, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    /* b attested at size + 1: its root was the root then, which c.root is not */
    finality(&n, false, false, 1, 0);
    lg_get(&n, "/v1/attestations?cycle=1", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
    tn_resp_free(&r);
    /* e passes with the right root: two passes */
    attest(&n, &e, te, 1, 1, c.size, &c, 1, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    finality(&n, true, false, 2, 0);
    assert_true(cs_metric(&n, "tally_finality_latest_final_cycle", NULL, NULL) == 1);
    assert_true(cs_metric(&n, "tally_attestations_total", "verdict=\"pass\"", NULL) == 3);

    schema_hex(a.pk, 32, key);
    snprintf(q, sizeof(q), "/v1/attestations?auditor=%s", key);
    lg_get(&n, q, NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r.json, "items"), 0), "counted")),
                        "pass");
    tn_resp_free(&r);
    lg_get(&n, "/v1/attestations?limit=1", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_true(json_is_string(json_object_get(r.json, "next_cursor")));
    tn_resp_free(&r);
    lg_get(&n, "/v1/checkpoints", NULL, NULL, &r);
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "final")));
    tn_resp_free(&r);

    /* a second cycle, which a fail disputes */
    lg_cycle(&n, 2);
    cycle_info(&n, &c);
    attest(&n, &b, tb, 2, 2, c.size, &c, 2, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    lg_get(&n, "/v1/finality", NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "cycle")), 2);
    assert_true(json_is_true(json_object_get(r.json, "disputed")));
    assert_false(json_is_true(json_object_get(r.json, "final")));
    assert_int_equal(json_integer_value(json_object_get(r.json, "latest_final_cycle")), 1);
    tn_resp_free(&r);

    /* DELETE on the path: 405 with both methods allowed */
    tn_http(&n, TN_LEDGER, "DELETE", "/v1/attestations", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 405, "method_not_allowed");
    assert_non_null(strstr(r.allow, "GET"));
    assert_non_null(strstr(r.allow, "POST"));
    tn_resp_free(&r);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

/* POSTs a cosignature line under token. */
static void cosign(tn_node *n, const char *token, const char *line, size_t ln, tn_resp *out)
{
    char auth[80];
    client_header hd[1] = {{"Authorization", auth}};

    snprintf(auth, sizeof(auth), "Bearer %s", token);
    tn_http(n, TN_LEDGER, "POST", "/v1/cosignatures", hd, 1, line, ln, "text/plain; charset=utf-8",
            out);
}

/* m's cosignature line (cosignature/v1, under <hotkey SS58>.audit.<origin>) of the node's latest
 * checkpoint; that checkpoint's size in *size. */
static size_t cosig_line(tn_node *n, const tn_miner *m, char *line, size_t cap, uint64_t *size)
{
    uint8_t acct[32];
    char ss58[49], name[300];
    store_note_parts parts;
    size_t ln;
    tn_resp r;

    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(m->pk[b] ^ 0x55);
    }
    schema_ss58_encode(acct, ss58);
    snprintf(name, sizeof(name), "%s.audit.%s", ss58, n->origin);
    lg_get(n, "/log/checkpoint", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(store_note_split(r.body, r.n, &parts), TALLY_OK);
    *size = strtoull(parts.text.p + strlen(n->origin) + 1, NULL, 10);
    assert_int_equal(
        store_cosig_sign(parts.text.p, parts.text.n, name, m->sk, 1800000000u, line, cap, &ln),
        TALLY_OK);
    tn_resp_free(&r);
    return ln;
}

/* §6.6a: an eligible auditor's cosignature is kept and shown on /log/checkpoint for its size
 * only, and listed by size; a malformed line, one that is not this auditor's, one by a key
 * without permit, or by a key deregistered since its login: refused, nothing stored. */
static void cosignatures(void **state)
{
    tn_node n;
    tn_miner a, b, e;
    char ta[65], tb[65], line[512], other[512], q[64];
    uint64_t size, osize;
    size_t ln, on;
    tn_resp r;
    (void)state;

    tn_init(&n, "ledger_cosig");
    cs_start(&n, env);
    tn_miner_init(&a, 51), tn_miner_init(&b, 52), tn_miner_init(&e, 53);
    lg_neuron v[3] = {{&a, true, "200000000000000"},
                      {&b, true, "200000000000000"},
                      {&e, false, "200000000000000"}};
    lg_metagraph(&n, 100, v, 3);
    lg_login(&n, &a, ta), lg_login(&n, &b, tb);
    ln = cosig_line(&n, &a, line, sizeof(line), &size);

    /* refused: not one line; a's line under b's token (not b's name and key); a line of b's
     * name signed over other text */
    cosign(&n, ta, line, ln - 1, &r);
    cs_expect(&r, 400, "malformed_body");
    tn_resp_free(&r);
    cosign(&n, tb, line, ln, &r);
    cs_expect(&r, 422, "cosignature_invalid");
    tn_resp_free(&r);
    on = cosig_line(&n, &b, other, sizeof(other), &osize);
    other[on - 3] = other[on - 3] == 'A' ? 'B' : 'A'; /* a signature byte changed */
    cosign(&n, tb, other, on, &r);
    cs_expect(&r, 422, "cosignature_invalid");
    tn_resp_free(&r);
    snprintf(q, sizeof(q), "/v1/cosignatures?size=%llu", (unsigned long long)size);
    lg_get(&n, q, NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "cosignatures")), 0);
    tn_resp_free(&r);

    /* a's line: kept, on the checkpoint of that size after the node's line, and listed */
    cosign(&n, ta, line, ln, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "tree_size")), (json_int_t)size);
    tn_resp_free(&r);
    lg_get(&n, "/log/checkpoint", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(r.n > ln && memcmp(r.body + r.n - ln, line, ln) == 0);
    tn_resp_free(&r);
    lg_get(&n, q, NULL, NULL, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "cosignatures")), 1);
    tn_resp_free(&r);
    lg_get(&n, "/v1/cosignatures", NULL, NULL, &r);
    cs_expect(&r, 400, "bad_request");
    tn_resp_free(&r);

    /* the log moves on: the line is no longer on the checkpoint, and still listed by size */
    lg_metagraph(&n, 101, v, 2);
    lg_get(&n, "/log/checkpoint", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(memmem(r.body, r.n, line, ln));
    tn_resp_free(&r);
    lg_get(&n, q, NULL, NULL, &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "cosignatures")), 1);
    tn_resp_free(&r);

    /* b deregistered (METAGRAPH of a alone) after its login: its next cosignature refused */
    lg_metagraph(&n, 102, v, 1);
    on = cosig_line(&n, &b, other, sizeof(other), &osize);
    cosign(&n, tb, other, on, &r);
    cs_expect(&r, 403, "not_eligible");
    tn_resp_free(&r);
    /* e, without permit, cannot log in to post one */
    {
        char ch[65];
        if (lg_challenge(&n, &e, ch, NULL) == 200) {
            lg_token_req(&n, &e, ch, NULL, &r);
            cs_expect(&r, 403, "not_eligible");
            tn_resp_free(&r);
        }
    }
    snprintf(q, sizeof(q), "/v1/cosignatures?size=%llu", (unsigned long long)osize);
    lg_get(&n, q, NULL, NULL, &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "cosignatures")), 0);
    tn_resp_free(&r);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

/* A login at one node means nothing at another (origin tally.local/2). */
static void other_node(void **state)
{
    tn_node n1, n2;
    tn_miner a;
    char t1[65], ch[65];
    tn_resp r;
    (void)state;

    tn_init(&n1, "ledger_node1");
    tn_init_origin(&n2, "ledger_node2", "tally.local/2");
    cs_start(&n1, env);
    cs_start(&n2, env);
    tn_miner_init(&a, 41);
    lg_neuron v[1] = {{&a, true, "200000000000000"}};
    lg_metagraph(&n1, 100, v, 1);
    lg_metagraph(&n2, 100, v, 1);
    lg_login(&n1, &a, t1);
    lg_get(&n2, "/v1/records?from=0&to=1", t1, NULL, &r);
    cs_expect(&r, 401, "token_invalid");
    tn_resp_free(&r);
    /* node 2's challenge signed as if for node 1's origin */
    assert_int_equal(lg_challenge(&n2, &a, ch, NULL), 200);
    lg_token_req(&n2, &a, ch, n1.origin, &r);
    cs_expect(&r, 401, "bad_signature");
    tn_resp_free(&r);
    assert_true(cs_metric(&n2, "tally_auth_logins_total", "result=\"ok\"", NULL) == 0);
    assert_int_equal(tn_stop(&n1, SIGTERM), 0);
    assert_int_equal(tn_stop(&n2, SIGTERM), 0);
    tn_free(&n1);
    tn_free(&n2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attestations_and_finality),
        cmocka_unit_test(cosignatures),
        cmocka_unit_test(other_node),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

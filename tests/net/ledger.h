/* Helpers of the ledger-listener tests (protocol §6) against a real `tally serve`: a METAGRAPH
 * with auditors of chosen permit and stake, login, gated GETs, the manual clock. Static inline,
 * as cases.h (each test executable is one file plus tests/util). */
#ifndef TALLY_TESTS_NET_LEDGER_H
#define TALLY_TESTS_NET_LEDGER_H

#include "net/cases.h"

typedef struct lg_neuron {
    const tn_miner *m;
    bool permit;
    const char *stake; /* decimal rao */
} lg_neuron;

/* A METAGRAPH at block binding the neurons as uids 0.. (hotkey = key XOR 0x55, as tn_feed). */
static inline void lg_metagraph(tn_node *n, uint64_t block, const lg_neuron *v, size_t k)
{
    json_t *neurons = json_array();
    tn_resp r;

    for (size_t i = 0; i < k; i++) {
        uint8_t acct[32];
        char ss58[49], hex[65];
        for (int b = 0; b < 32; b++) {
            acct[b] = (uint8_t)(v[i].m->pk[b] ^ 0x55);
        }
        schema_ss58_encode(acct, ss58);
        schema_hex(v[i].m->pk, 32, hex);
        json_array_append_new(neurons, json_pack("{s:I, s:s, s:s, s:b, s:b, s:s}", "uid",
                                                 (json_int_t)i, "hotkey", ss58, "stake_rao",
                                                 v[i].stake, "validator_permit", v[i].permit,
                                                 "active", 1, "tally_key", hex));
    }
    json_t *rec = json_pack("{s:s, s:{s:i, s:I, s:i, s:i, s:o}}", "type", "METAGRAPH", "body",
                            "netuid", 1, "block", (json_int_t)block, "part", 0, "parts", 1,
                            "neurons", neurons);
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    cs_feed_json(n, text, &r);
    free(text);
    if (r.status != 200) {
        fail_msg("metagraph feed: %u %s", r.status, r.body ? r.body : "");
    }
    tn_resp_free(&r);
}

/* POST a JSON body to the ledger listener. */
static inline void lg_post_json(tn_node *n, const char *target, const char *json, tn_resp *out)
{
    tn_http(n, TN_LEDGER, "POST", target, NULL, 0, json, strlen(json), "application/json", out);
}

/* A challenge for m: its status; the challenge hex in ch (65 bytes) on 200. */
static inline unsigned lg_challenge(tn_node *n, const tn_miner *m, char ch[65], tn_resp *keep)
{
    char key[65], body[128];
    tn_resp r;
    unsigned status;

    schema_hex(m->pk, 32, key);
    snprintf(body, sizeof(body), "{\"key\": \"%s\"}", key);
    lg_post_json(n, "/v1/auth/challenge", body, &r);
    status = r.status;
    ch[0] = '\0';
    if (status == 200) {
        snprintf(ch, 65, "%s", json_string_value(json_object_get(r.json, "challenge")));
    }
    if (keep != NULL) {
        *keep = r;
    } else {
        tn_resp_free(&r);
    }
    return status;
}

/* The token request for challenge ch signed by m for origin (NULL: the node's). */
static inline void lg_token_req(tn_node *n, const tn_miner *m, const char *ch, const char *origin,
                                tn_resp *out)
{
    uint8_t c[32], sig[64];
    char key[65], sh[129], body[320];
    const char *o = origin ? origin : n->origin;

    assert_int_equal(schema_unhex(ch, 64, c, 32), TALLY_OK);
    assert_int_equal(wire_login_sign((tally_str){o, strlen(o)}, c, m->pk, m->sk, sig), TALLY_OK);
    schema_hex(m->pk, 32, key);
    schema_hex(sig, 64, sh);
    snprintf(body, sizeof(body), "{\"key\": \"%s\", \"challenge\": \"%s\", \"sig\": \"%s\"}", key,
             ch, sh);
    lg_post_json(n, "/v1/auth/token", body, out);
}

/* Logs m in; the token (65 bytes) on success, else fails the test. */
static inline void lg_login(tn_node *n, const tn_miner *m, char token[65])
{
    char ch[65];
    tn_resp r;

    if (lg_challenge(n, m, ch, NULL) != 200) {
        fail_msg("challenge refused");
    }
    lg_token_req(n, m, ch, NULL, &r);
    cs_expect(&r, 200, NULL);
    snprintf(token, 65, "%s", json_string_value(json_object_get(r.json, "token")));
    assert_string_equal(json_string_value(json_object_get(r.json, "tier")), "gated");
    tn_resp_free(&r);
}

/* A GET on the ledger listener with a token (NULL: none) and an optional Accept. */
static inline void lg_get(tn_node *n, const char *target, const char *token, const char *accept,
                          tn_resp *out)
{
    char auth[80];
    client_header h[2] = {{NULL, NULL}, {NULL, NULL}};
    size_t nh = 0;

    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Bearer %s", token);
        h[nh++] = (client_header){"Authorization", auth};
    }
    if (accept != NULL) {
        h[nh++] = (client_header){"Accept", accept};
    }
    tn_http(n, TN_LEDGER, "GET", target, h, nh, NULL, 0, NULL, out);
}

/* Sets the manual node clock. */
static inline void lg_clock(tn_node *n, uint64_t ms)
{
    char body[64];
    tn_resp r;

    snprintf(body, sizeof(body), "{\"set_ms\": %llu}", (unsigned long long)ms);
    tn_admin(n, "POST", "/admin/v1/clock", body, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
}

/* Runs a cycle now and waits until cycle c is in the log. */
static inline void lg_cycle(tn_node *n, uint64_t c)
{
    tn_resp r;

    tn_admin(n, "POST", "/admin/v1/cycle", "{}", &r);
    assert_int_equal(r.status, 202);
    tn_resp_free(&r);
    for (int t = 0; t < 400; t++) {
        tn_http(n, TN_OPS, "GET", "/health", NULL, 0, NULL, 0, NULL, &r);
        bool done = r.json && (uint64_t)json_integer_value(json_object_get(r.json, "last_cycle")) >= c;
        tn_resp_free(&r);
        if (done) {
            return;
        }
        cs_sleep_ms(50);
    }
    fail_msg("cycle %llu did not land", (unsigned long long)c);
}

#endif

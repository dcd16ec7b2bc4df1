/* `tally serve` for real: a node process on loopback, fed through the admin API, and signed miner
 * requests over HTTP — a receipt that verifies and names the leaves the log holds, idempotent
 * retries, nonce replay and staleness with nothing appended, the games listing, and a SIGTERM
 * that drains and exits 0 with every acknowledged record in the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/node.h"
#include "util/testutil.h"
#include "wire/wire.h"

#define DAY 86400000ull

static const char *err_of(const tn_resp *r)
{
    return r->json ? json_string_value(json_object_get(r->json, "error")) : NULL;
}

static void expect(const tn_resp *r, unsigned status, const char *code)
{
    if (r->status != status || (code != NULL && (err_of(r) == NULL || strcmp(err_of(r), code)))) {
        fail_msg("expected %u %s, got %u %s", status, code ? code : "", r->status,
                 r->body ? r->body : "");
    }
}

/* The receipt of a 200 checked as a miner would: signature by the node key, one entry per
 * accepted item whose leaf is the header rebuilt from the miner's own body and signature. */
static void check_receipt(tn_node *n, const tn_miner *m, const tn_resp *r, const uint8_t *req,
                          size_t rn, const uint8_t node_pk[32])
{
    json_t *rc = json_object_get(r->json, "receipt");
    char *text = json_dumps(rc, JSON_COMPACT);
    wire_receipt *rec = calloc(1, sizeof(*rec));
    uint8_t sig[64];
    wire_items items = WIRE_ITEMS_INIT;
    wire_fail wf;
    schema_paramset ps;
    wire_signed sv[8];
    size_t k = 0;
    json_t *list = json_object_get(r->json, "items");

    assert_non_null(text);
    assert_int_equal(wire_receipt_from_json(text, strlen(text), rec, sig), TALLY_OK);
    schema_paramset_default(&ps);
    assert_int_equal(wire_odds_parse((tally_str){n->origin, strlen(n->origin)}, m->pk,
                                     rec->nonce, &ps, req, rn, &items, &wf),
                     TALLY_OK);
    for (size_t i = 0; i < json_array_size(list) && k < 8; i++) {
        json_t *it = json_array_get(list, i);
        if (strcmp(json_string_value(json_object_get(it, "status")), "accepted") == 0) {
            size_t idx = (size_t)json_integer_value(json_object_get(it, "idx"));
            sv[k++] = (wire_signed){items.items[idx].body, items.items[idx].sig};
        }
    }
    assert_int_equal(wire_receipt_check_items(rec, sig, node_pk,
                                              (tally_str){n->origin, strlen(n->origin)}, m->pk,
                                              sv, k, SCHEMA_ODDS_SUBMISSION),
                     TALLY_OK);
    /* every entry is below the head the receipt names, and that head is in the log */
    assert_true(rec->tree_size <= tn_size(n));
    wire_items_release(&items);
    free(rec);
    free(text);
}

static void node_pk_of(tn_node *n, uint8_t pk[32])
{
    char out[512];
    const char *b = getenv("TALLY_BIN");
    assert_int_equal(tu_run(out, sizeof(out), "%s key --dir %s", b, n->dir), 0);
    /* origin+keyid+base64(0x01 || pk) */
    char *plus = strrchr(out, '+');
    assert_non_null(plus);
    uint8_t raw[40];
    size_t bl;
    char *nl = strchr(plus, '\n');
    if (nl) {
        *nl = '\0';
    }
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), plus + 1, strlen(plus + 1), NULL, &bl,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(bl, 33);
    memcpy(pk, raw + 1, 32);
}

static void ingest_end_to_end(void **state)
{
    tn_node n;
    tn_miner m, stranger;
    tn_resp r;
    uint64_t ids[2] = {7001, 7002}, start = tn_now() + DAY, size0;
    uint8_t node_pk[32], *body;
    size_t bn;
    (void)state;

    tn_init(&n, "serve_e2e");
    tn_start(&n);
    tn_miner_init(&m, 1);
    tn_miner_init(&stranger, 2);
    node_pk_of(&n, node_pk);
    /* not ready without a METAGRAPH; a signed request is refused without one */
    tn_http(&n, TN_OPS, "GET", "/health/ready", NULL, 0, NULL, 0, NULL, &r);
    expect(&r, 503, "not_ready");
    tn_resp_free(&r);
    tn_feed(&n, &m, 1, 100, ids, 2, start);
    tn_http(&n, TN_OPS, "GET", "/health/ready", NULL, 0, NULL, 0, NULL, &r);
    expect(&r, 200, NULL);
    tn_resp_free(&r);
    /* games: both events, each with its market */
    tn_signed(&n, &m, "GET", "/v1/games?limit=1", NULL, 0, 0, 0, &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "games")), 1);
    assert_true(json_is_string(json_object_get(r.json, "next_cursor")));
    tn_resp_free(&r);
    /* an accepted request: 200, two items, a receipt that verifies */
    size0 = tn_size(&n);
    body = tn_odds(&n, &m, 5000, ids, 2, &bn);
    tn_signed(&n, &m, "POST", "/v1/odds", body, bn, 0, 5000, &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 2);
    check_receipt(&n, &m, &r, body, bn, node_pk);
    tn_resp_free(&r);
    assert_int_equal(tn_size(&n), size0 + 2);
    /* §12 case 25: the same request re-signed with a new time: duplicate, same seqs, no append */
    tn_signed(&n, &m, "POST", "/v1/odds", body, bn, tn_now() + 5, 5000, &r);
    expect(&r, 200, NULL);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    check_receipt(&n, &m, &r, body, bn, node_pk);
    tn_resp_free(&r);
    assert_int_equal(tn_size(&n), size0 + 2);
    free(body);
    /* case 26: a new body under the accepted nonce */
    body = tn_odds(&n, &m, 5000, ids, 1, &bn);
    tn_signed(&n, &m, "POST", "/v1/odds", body, bn, 0, 5000, &r);
    expect(&r, 409, "nonce_replay");
    tn_resp_free(&r);
    free(body);
    /* case 27: below the highest, never used */
    body = tn_odds(&n, &m, 4000, ids, 1, &bn);
    tn_signed(&n, &m, "POST", "/v1/odds", body, bn, 0, 4000, &r);
    expect(&r, 409, "nonce_stale");
    tn_resp_free(&r);
    free(body);
    assert_int_equal(tn_size(&n), size0 + 2);
    /* case 7: a key the METAGRAPH does not bind */
    body = tn_odds(&n, &stranger, 9000, ids, 1, &bn);
    tn_signed(&n, &stranger, "POST", "/v1/odds", body, bn, 0, 9000, &r);
    expect(&r, 403, "key_not_registered");
    assert_true(json_is_integer(json_object_get(json_object_get(r.json, "details"),
                                                "metagraph_block")));
    tn_resp_free(&r);
    free(body);
    /* §3: msgpack maps with the JSON keys when Accept prefers msgpack */
    {
        client_header acc = {"Accept", "application/msgpack"};
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        tn_http(&n, TN_INGEST, "GET", "/", &acc, 1, NULL, 0, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_null(r.json);
        assert_int_equal(msgpack_unpack_next(&u, r.body, r.n, NULL), MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
        bool found = false;
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            msgpack_object_kv *kv = &u.data.via.map.ptr[i];
            if (kv->key.via.str.size == 4 && memcmp(kv->key.via.str.ptr, "name", 4) == 0) {
                found = kv->val.via.str.size == 5 && memcmp(kv->val.via.str.ptr, "tally", 5) == 0;
            }
        }
        assert_true(found);
        msgpack_unpacked_destroy(&u);
        tn_resp_free(&r);
    }
    /* case 35 */
    tn_http(&n, TN_INGEST, "DELETE", "/v1/odds", NULL, 0, NULL, 0, NULL, &r);
    expect(&r, 405, "method_not_allowed");
    assert_string_equal(r.allow, "POST");
    tn_resp_free(&r);
    tn_http(&n, TN_INGEST, "GET", "/v1/oddz", NULL, 0, NULL, 0, NULL, &r);
    expect(&r, 404, "unknown_route");
    tn_resp_free(&r);
    /* SIGTERM: drains, exits 0, and the log holds what was acknowledged */
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    assert_int_equal(tn_size(&n), size0 + 2);
    tn_free(&n);
}

typedef struct racer {
    uint16_t port;
    const client_header *h;
    const uint8_t *body;
    size_t bn;
    pthread_barrier_t *go;
    unsigned status;
    int duplicate; /* 1 duplicate, 0 fresh, -1 neither */
    char error[64];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    client_cfg cc = {.host = "127.0.0.1", .port = r->port, .io_timeout_ms = 60000};
    client_request rq = {.method = "POST", .target = "/v1/odds", .headers = r->h,
                         .n_headers = 4, .body = r->body, .body_n = r->bn,
                         .content_type = "application/msgpack"};
    client_conn *c;
    client_response *resp = NULL;

    r->duplicate = -1;
    if (client_open(&cc, &c) != TALLY_OK) {
        return NULL;
    }
    pthread_barrier_wait(r->go);
    if (client_do(c, &rq, &resp) == TALLY_OK) {
        tally_bytes b = client_response_body(resp);
        json_t *j = json_loadb((const char *)b.p, b.n, 0, NULL);
        r->status = client_response_status(resp);
        if (json_is_true(json_object_get(j, "duplicate"))) {
            r->duplicate = 1;
        } else if (json_is_false(json_object_get(j, "duplicate"))) {
            r->duplicate = 0;
        }
        const char *e = json_string_value(json_object_get(j, "error"));
        snprintf(r->error, sizeof(r->error), "%s", e ? e : "");
        json_decref(j);
        client_response_free(resp);
    }
    client_close(c);
    return NULL;
}

/* Several connections send the very same request at once: one appends, the others get it as a
 * duplicate of that one (never nonce_replay), and the log grows by one request's items. */
static void racing_same_nonce(void **state)
{
    tn_node n;
    tn_miner m;
    uint64_t ids[1] = {8001}, size0;
    uint8_t *body, s[64];
    size_t bn;
    char key[65], sig[129], ts[24], ns[24];
    client_header h[4] = {{"Tally-Key", key}, {"Tally-Time", ts}, {"Tally-Nonce", ns},
                          {"Tally-Signature", sig}};
    racer r[6];
    pthread_t th[6];
    pthread_barrier_t go;
    unsigned fresh = 0, dup = 0;
    (void)state;

    tn_init(&n, "serve_race");
    tn_start(&n);
    tn_miner_init(&m, 3);
    tn_feed(&n, &m, 1, 100, ids, 1, tn_now() + DAY);
    size0 = tn_size(&n);
    body = tn_odds(&n, &m, 777, ids, 1, &bn);
    wire_request wr = {.origin = {n.origin, strlen(n.origin)}, .method = {"POST", 4},
                       .target = {"/v1/odds", 8}, .time_ms = tn_now(), .nonce = 777,
                       .body = body, .body_len = bn};
    assert_int_equal(wire_request_sign(&wr, m.sk, s), TALLY_OK);
    schema_hex(m.pk, 32, key);
    schema_hex(s, 64, sig);
    snprintf(ts, sizeof(ts), "%llu", (unsigned long long)wr.time_ms);
    snprintf(ns, sizeof(ns), "777");
    pthread_barrier_init(&go, NULL, 6);
    for (int i = 0; i < 6; i++) {
        r[i] = (racer){.port = n.port[TN_INGEST], .h = h, .body = body, .bn = bn, .go = &go};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        if (r[i].status != 200) {
            fail_msg("racer %d: %u %s", i, r[i].status, r[i].error);
        }
        fresh += r[i].duplicate == 0;
        dup += r[i].duplicate == 1;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(fresh, 1);
    assert_int_equal(dup, 5);
    assert_int_equal(tn_size(&n), size0 + 1);
    free(body);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

/* The first IP cooldown of a node without the loopback exemption: the cooldown_started line is
 * logged (its level field is "cooldown_level": "level" is the line's own) and the node serves on.
 * It used to abort on the log's reserved key. */
static void ip_cooldown_keeps_serving(void **state)
{
    tn_node n;
    tn_resp r;
    char log[65536];
    FILE *f;
    size_t k;

    (void)state;
    tn_init(&n, "serve-cool");
    n.env[0] = "TALLY_ABUSE_EXEMPT=";
    tn_start(&n);
    for (int i = 0; i < 50; i++) {
        tn_http(&n, TN_INGEST, "GET", "/v1/games", NULL, 0, NULL, 0, NULL, &r);
        expect(&r, 401, "auth_missing");
        tn_resp_free(&r);
    }
    tn_http(&n, TN_INGEST, "GET", "/v1/games", NULL, 0, NULL, 0, NULL, &r);
    expect(&r, 429, "ip_cooldown");
    tn_resp_free(&r);
    tn_http(&n, TN_OPS, "GET", "/health/live", NULL, 0, NULL, 0, NULL, &r);
    expect(&r, 200, NULL);
    tn_resp_free(&r);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    f = fopen(n.err, "r");
    assert_non_null(f);
    k = fread(log, 1, sizeof(log) - 1, f);
    fclose(f);
    log[k] = '\0';
    assert_non_null(strstr(log, "\"event\":\"cooldown_started\""));
    assert_non_null(strstr(log, "\"cooldown_level\":1"));
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ingest_end_to_end),
        cmocka_unit_test(racing_same_nonce),
        cmocka_unit_test(ip_cooldown_keeps_serving),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* wire/'s ledger pieces (protocol §6): tile paths both ways, the delta codec (round trip, every
 * truncation and every flipped byte refused or re-encoding to itself), the login message and its
 * JSON bodies, the bearer header, the strict query parser and the attestation request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "wire/wire.h"

static void tile_paths(void **state)
{
    static const char *const good[] = {"tile/0/000",        "tile/0/x001/234",
                                       "tile/63/x001/x234/067.p/5", "tile/entries/001.p/255",
                                       "bodies/x002/000",   "tile/8/999"};
    static const char *const bad[] = {
        "tile/0/x001/2",  "tile/0/1.p/0",   "tile/64/000",    "bodies/001.p/0",
        "tile/0/1",       "tile/00/000",    "tile/0/x000/001", "tile/0/000.p/256",
        "tile/0/000.p/01", "tile/0/000/",   "tile/entries/x1/000", "tile//000",
        "tiles/0/000",    "tile/0/000.p/",  "bodies/000.p/5x", "tile/0/x001",
        "tile/0/x999/x999/x999/x999/x999/x999/999"};
    wire_tile t;
    char buf[WIRE_TILE_PATH_MAX];
    size_t n;
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(wire_tile_parse(good[i], strlen(good[i]), &t), TALLY_OK);
        assert_int_equal(wire_tile_format(&t, buf, sizeof(buf), &n), TALLY_OK);
        assert_string_equal(buf, good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (wire_tile_parse(bad[i], strlen(bad[i]), &t) == TALLY_OK) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    assert_int_equal(wire_tile_parse("tile/63/x001/x234/067.p/5", 25, &t), TALLY_OK);
    assert_int_equal(t.level, 63);
    assert_int_equal(t.index, 1234067);
    assert_int_equal(t.width, 5);
    t = (wire_tile){.kind = WIRE_TILE_HASH, .level = 64, .index = 0, .width = 256};
    assert_int_equal(wire_tile_format(&t, buf, sizeof(buf), &n), TALLY_EINVAL);
    t.level = 0;
    assert_int_equal(wire_tile_format(&t, buf, 5, &n), TALLY_ELIMIT);
}

/* Entry and body bundles: exactly `width` length-prefixed entries and nothing after them. */
static void bundles(void **state)
{
    static const uint8_t two[] = {0, 3, 'a', 'b', 'c', 0, 0};
    static const uint8_t bad0[] = {0};                    /* half a length */
    static const uint8_t bad1[] = {0, 5, 'a', 'b'};       /* an entry cut short */
    static const uint8_t bad2[] = {0, 1, 'a', 0};         /* a second entry cut in its length */
    static const uint8_t bad3[] = {0, 1, 'a', 0, 0, 'z'}; /* bytes after the last entry */
    static const uint8_t *const bad[] = {bad0, bad1, bad2, bad3};
    static const size_t bad_n[] = {1, 4, 4, 6};
    tally_bytes e[256];
    (void)state;

    assert_int_equal(wire_bundle_decode(two, sizeof(two), 2, e), TALLY_OK);
    assert_int_equal(e[0].n, 3);
    assert_memory_equal(e[0].p, "abc", 3);
    assert_int_equal(e[1].n, 0); /* a body not served */
    assert_null(e[1].p);
    /* one entry fewer or more than the width */
    assert_int_equal(wire_bundle_decode(two, sizeof(two), 1, e), TALLY_EFORMAT);
    assert_int_equal(wire_bundle_decode(two, sizeof(two), 3, e), TALLY_EFORMAT);
    assert_int_equal(wire_bundle_decode(two, sizeof(two), 0, e), TALLY_EINVAL);
    assert_int_equal(wire_bundle_decode(two, sizeof(two), 257, e), TALLY_EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned w = i < 2 ? 1u : 2u;
        assert_int_equal(wire_bundle_decode(bad[i], bad_n[i], w, e), TALLY_EFORMAT);
        assert_int_equal(e[0].n, 0);
    }
}

static void make_sth(schema_sth *s, uint64_t size)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->origin, "tally.local/1");
    s->tree_size = size;
    s->time_ms = 1767225600000;
    memset(s->root, 7, 32);
}

static void delta_codec(void **state)
{
    uint8_t h[3][160], b[2][40], proof[2][32], sthb[SCHEMA_STH_MAX], *out = NULL, *again = NULL;
    wire_delta_entry e[3];
    schema_sth sth, got_sth;
    size_t sn, on, an;
    wire_delta d, got;
    (void)state;

    for (int i = 0; i < 3; i++) {
        schema_header hd = {.version = 1, .type = SCHEMA_EVENT, .time_ms = 1767225600000u + (uint64_t)i,
                            .tier = SCHEMA_PUBLIC};
        size_t hn;
        memset(hd.actor, 1, 32);
        memset(hd.body_hash, 2 + i, 32);
        assert_int_equal(schema_header_encode(&hd, h[i], sizeof(h[i]), &hn), TALLY_OK);
        e[i] = (wire_delta_entry){.header = {h[i], hn}};
    }
    memset(b, 9, sizeof(b));
    e[0].has_body = true, e[0].body = (tally_bytes){b[0], 40};
    e[2].has_body = true, e[2].body = (tally_bytes){b[1], 3};
    memset(proof, 5, sizeof(proof));
    make_sth(&sth, 20);
    assert_int_equal(schema_sth_encode(&sth, sthb, sizeof(sthb), &sn), TALLY_OK);
    d = (wire_delta){.from = 10, .to = 13, .size = 20, .entries = e, .n = 3, .proof = proof,
                     .n_proof = 2, .sth = {sthb, sn}};
    assert_int_equal(wire_delta_encode(&d, &out, &on), TALLY_OK);
    assert_int_equal(wire_delta_decode(out, on, &got, &got_sth), TALLY_OK);
    assert_int_equal(got.from, 10);
    assert_int_equal(got.to, 13);
    assert_int_equal(got.n, 3);
    assert_true(got.entries[0].has_body && !got.entries[1].has_body);
    assert_memory_equal(got.entries[2].body.p, b[1], 3);
    assert_int_equal(got.n_proof, 2);
    assert_int_equal(got_sth.tree_size, 20);
    assert_int_equal(wire_delta_encode(&got, &again, &an), TALLY_OK);
    assert_int_equal(an, on);
    assert_memory_equal(again, out, on);
    free(again);
    wire_delta_release(&got);
    /* every truncation and one trailing byte are refused */
    for (size_t k = 0; k < on; k++) {
        assert_int_equal(wire_delta_decode(out, k, &got, &got_sth), TALLY_EFORMAT);
    }
    uint8_t *longer = malloc(on + 1);
    memcpy(longer, out, on);
    longer[on] = 0;
    assert_int_equal(wire_delta_decode(longer, on + 1, &got, &got_sth), TALLY_EFORMAT);
    /* a flipped byte is refused, or decodes to bytes that re-encode to itself */
    for (size_t k = 0; k < on; k++) {
        memcpy(longer, out, on);
        longer[k] ^= 0x41;
        if (wire_delta_decode(longer, on, &got, &got_sth) == TALLY_OK) {
            assert_int_equal(wire_delta_encode(&got, &again, &an), TALLY_OK);
            assert_int_equal(an, on);
            assert_memory_equal(again, longer, on);
            free(again);
            wire_delta_release(&got);
        }
    }
    free(longer);
    free(out);
    /* bounds: to − from must be n; size ≥ to; the STH must be of size */
    d.to = 14;
    assert_int_equal(wire_delta_encode(&d, &out, &on), TALLY_EINVAL);
    d.to = 13, d.size = 12;
    assert_int_equal(wire_delta_encode(&d, &out, &on), TALLY_EINVAL);
    d.size = 21;
    assert_int_equal(wire_delta_encode(&d, &out, &on), TALLY_OK);
    assert_int_equal(wire_delta_decode(out, on, &got, &got_sth), TALLY_EFORMAT);
    free(out);
}

static void login(void **state)
{
    uint8_t pk[32], sk[64], seed[32] = {4}, ch[32], sig[64], msg[WIRE_LOGIN_MSG_MAX];
    tally_str o = {"tally.local/1", 13}, other = {"tally.local/2", 13};
    size_t n;
    (void)state;

    crypto_sign_seed_keypair(pk, sk, seed);
    memset(ch, 3, 32);
    assert_int_equal(wire_login_message(o, ch, pk, msg, sizeof(msg), &n), TALLY_OK);
    assert_int_equal(n, 1 + 14 + 14 + 68);
    assert_int_equal(msg[0], 0x94);
    assert_int_equal(wire_login_sign(o, ch, pk, sk, sig), TALLY_OK);
    assert_int_equal(wire_login_verify(o, ch, pk, sig), TALLY_OK);
    /* another node's origin: the same signature means nothing there */
    assert_int_equal(wire_login_verify(other, ch, pk, sig), TALLY_EAUTH);
    ch[0] ^= 1;
    assert_int_equal(wire_login_verify(o, ch, pk, sig), TALLY_EAUTH);
    assert_int_equal(wire_login_message((tally_str){"a+b", 3}, ch, pk, msg, sizeof(msg), &n),
                     TALLY_EINVAL);
    assert_int_equal(wire_login_message(o, ch, pk, msg, 10, &n), TALLY_ELIMIT);
}

static void auth_bodies(void **state)
{
    static const char *const bad[] = {
        "", "{}", "[]", "{\"key\": 5}", "{\"key\": \"AB\"}", "{\"key\": \"ab\", \"x\": 1}",
        ("{\"key\":\"0000000000000000000000000000000000000000000000000000000000000000\", "
         "\"key\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"),
        "{\"key\":\"000000000000000000000000000000000000000000000000000000000000000A\"}"};
    const char *good = "{\"key\":\"0101010101010101010101010101010101010101010101010101010101010101\"}";
    uint8_t key[32], tok[32];
    wire_token_req tr;
    wire_fail wf;
    (void)state;

    assert_int_equal(wire_challenge_req_parse(good, strlen(good), key, &wf), TALLY_OK);
    assert_int_equal(key[31], 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wire_challenge_req_parse(bad[i], strlen(bad[i]), key, &wf),
                         TALLY_EFORMAT);
        assert_int_equal(wf.err, WIRE_MALFORMED_BODY);
    }
    assert_int_equal(wire_token_req_parse(good, strlen(good), &tr, &wf), TALLY_EFORMAT);
    assert_int_equal(wire_bearer_parse("Bearer "
                                       "0101010101010101010101010101010101010101010101010101010101"
                                       "010101",
                                       tok),
                     TALLY_OK);
    assert_int_equal(wire_bearer_parse("Basic abc", tok), TALLY_EFORMAT);
    assert_int_equal(wire_bearer_parse("Bearer 01", tok), TALLY_EFORMAT);
    assert_int_equal(wire_bearer_parse(NULL, tok), TALLY_EFORMAT);
}

static void queries(void **state)
{
    wire_qparam q[3] = {{.key = "from", .max = UINT64_MAX},
                        {.key = "to", .max = UINT64_MAX},
                        {.key = "auditor", .hex32 = true}};
    static const char *const bad[] = {"from=01", "from=1&from=2", "x=1", "from=", "=1", "from",
                                      "from=1&", "from=-1", "from=+1", "from=%31",
                                      "auditor=00", "from=18446744073709551616"};
    wire_fail wf;
    (void)state;

    assert_int_equal(wire_query_params("from=0&to=18446744073709551615", q, 3, &wf), TALLY_OK);
    assert_true(q[0].present && q[1].present && !q[2].present);
    assert_true(q[1].u == UINT64_MAX);
    assert_int_equal(wire_query_params("", q, 3, &wf), TALLY_OK);
    assert_false(q[0].present);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (wire_query_params(bad[i], q, 3, &wf) == TALLY_OK) {
            fail_msg("accepted %s", bad[i]);
        }
        assert_int_equal(wf.err, WIRE_BAD_REQUEST);
        assert_false(q[0].present);
    }
}

static void attest_request(void **state)
{
    uint8_t pk[32], sk[64], seed[32] = {6}, body[256], sig[64], *req = NULL;
    schema_body b = {.type = SCHEMA_ATTESTATION}, dec;
    schema_header h;
    tally_str o = {"tally.local/1", 13};
    tally_bytes view;
    wire_fail wf;
    size_t bn, rn;
    (void)state;

    crypto_sign_seed_keypair(pk, sk, seed);
    b.u.attestation = (schema_attestation){.nonce = 5, .cycle = 1, .tree_size = 10, .verdict = 1};
    assert_int_equal(schema_body_encode(&b, body, sizeof(body), &bn), TALLY_OK);
    assert_int_equal(schema_header_init(&b, body, bn, pk, &h), TALLY_OK);
    assert_int_equal(schema_record_sign(&h, o, sk), TALLY_OK);
    memcpy(sig, h.actor_sig, 64);
    assert_int_equal(wire_attest_build(body, bn, sig, &req, &rn), TALLY_OK);
    assert_int_equal(wire_attest_parse(o, pk, req, rn, &view, &dec, &h, &wf), TALLY_OK);
    assert_int_equal(view.n, bn);
    assert_int_equal(dec.u.attestation.tree_size, 10);
    assert_int_equal(h.type, SCHEMA_ATTESTATION);
    schema_body_release(&dec);
    for (size_t k = 0; k < rn; k++) {
        assert_int_not_equal(wire_attest_parse(o, pk, req, k, &view, &dec, &h, &wf), TALLY_OK);
    }
    /* another origin or key: the record signature fails */
    assert_int_equal(wire_attest_parse((tally_str){"tally.local/2", 13}, pk, req, rn, &view, &dec,
                                       &h, &wf),
                     TALLY_EAUTH);
    assert_int_equal(wf.err, WIRE_ITEM_SIGNATURE_INVALID);
    req[rn - 1] ^= 1;
    assert_int_equal(wire_attest_parse(o, pk, req, rn, &view, &dec, &h, &wf), TALLY_EAUTH);
    free(req);
    assert_int_equal(wire_attest_build(body, bn - 1, sig, &req, &rn), TALLY_EFORMAT);
}

/* The msgpack answer of /v1/records as the auditor reads it: what the node writes decodes, and
 * every truncation, a trailing byte, a count that is not to − from, and a header that does not
 * decode are refused. */
static void records_decode(void **state)
{
    uint8_t h[2][160], body[12], *out = NULL;
    size_t hn[2], on;
    schema_mpw w;
    wire_records r;
    (void)state;

    for (int i = 0; i < 2; i++) {
        schema_header hd = {.version = 1, .type = SCHEMA_EVENT,
                            .time_ms = 1767225600000u + (uint64_t)i, .tier = SCHEMA_PUBLIC};
        memset(hd.actor, 1, 32);
        memset(hd.body_hash, 3 + i, 32);
        assert_int_equal(schema_header_encode(&hd, h[i], sizeof(h[i]), &hn[i]), TALLY_OK);
    }
    memset(body, 7, sizeof(body));
    schema_mpw_init(&w, 1u << 20);
    schema_mpw_array(&w, 3);
    schema_mpw_uint(&w, 40), schema_mpw_uint(&w, 42);
    schema_mpw_array(&w, 2);
    schema_mpw_array(&w, 2), schema_mpw_bin(&w, h[0], hn[0]), schema_mpw_bin(&w, body, 12);
    schema_mpw_array(&w, 2), schema_mpw_bin(&w, h[1], hn[1]), schema_mpw_nil(&w);
    assert_int_equal(schema_mpw_finish(&w, &out, &on), TALLY_OK);
    assert_int_equal(wire_records_decode(out, on, &r), TALLY_OK);
    assert_int_equal(r.from, 40);
    assert_int_equal(r.to, 42);
    assert_int_equal(r.n, 2);
    assert_true(r.entries[0].has_body && !r.entries[1].has_body);
    assert_int_equal(r.entries[0].body.n, 12);
    assert_memory_equal(r.entries[1].header.p, h[1], hn[1]);
    wire_records_release(&r);
    for (size_t k = 0; k < on; k++) {
        assert_int_equal(wire_records_decode(out, k, &r), TALLY_EFORMAT);
        assert_null(r.entries);
    }
    {
        uint8_t *more = malloc(on + 1);
        memcpy(more, out, on);
        more[on] = 0xc0;
        assert_int_equal(wire_records_decode(more, on + 1, &r), TALLY_EFORMAT);
        /* to − from ≠ the entries: 43 for 42 */
        memcpy(more, out, on);
        more[2] = 43;
        assert_int_equal(wire_records_decode(more, on, &r), TALLY_EFORMAT);
        /* a header that does not decode (its version byte) */
        memcpy(more, out, on);
        assert_int_equal(more[7], 0x99); /* the first header's fixarray */
        more[8] = 2;
        assert_int_equal(wire_records_decode(more, on, &r), TALLY_EFORMAT);
        free(more);
    }
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tile_paths), cmocka_unit_test(bundles), cmocka_unit_test(delta_codec), cmocka_unit_test(login),
        cmocka_unit_test(auth_bodies), cmocka_unit_test(queries),
        cmocka_unit_test(attest_request), cmocka_unit_test(records_decode),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

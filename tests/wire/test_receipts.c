/* Receipts (protocol §5.5, §14.3): the signed message byte for byte, sign/verify, every flipped
 * bit refused, the JSON form both ways and strictly, and the client's check of a receipt
 * against its own items (the §4 vector's leaf hash included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire_fixture.h"

#define KEY "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"
#define BODY                                                                                  \
    "95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce1f34e5119302ce7d2b7500ce" \
    "1c62170cc410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#define SIG                                                                                   \
    "1a7ea2162d4767466f9a3720e179e25ae651e8e6979ba39243b527c70801bd7d268b881d054a4a08098ed38d" \
    "e907a92019fd65410cc3b574854646105964b70f"
#define LEAF "ac25c5d2019a433f32d959846e7be88b07a161103e4a513627b16e98d7118468"
#define ROOT "1111111111111111111111111111111111111111111111111111111111111111"

static fx_key miner, node;

static int setup(void **state)
{
    (void)state;
    fx_key_init(&miner);
    fx_key_other(&node);
    return 0;
}

/* The receipt for the §4 vector's item appended at seq 812 at its header's time. */
static void vector_receipt(wire_receipt *r)
{
    memset(r, 0, sizeof(*r));
    memcpy(r->origin, fx_origin.p, fx_origin.n);
    tu_unhex(KEY, r->key, 32);
    r->nonce = FX_NONCE;
    r->tree_size = 813;
    tu_unhex(ROOT, r->root, 32);
    r->n = 1;
    r->entries[0].seq = 812;
    r->entries[0].time_ms = 1767225600150ull;
    tu_unhex(LEAF, r->entries[0].leaf_hash, 32);
}

static void test_message(void **state)
{
    wire_receipt r;
    uint8_t *m, want[256], sig[64];
    size_t n, want_n;

    (void)state;
    vector_receipt(&r);
    assert_int_equal(wire_receipt_message(&r, &m, &n), TALLY_OK);
    want_n = tu_unhex("97b0" "74616c6c792d726563656970742d7631" "b4"
                      "74616c6c792e6578616d706c652e6f72672f3537" "c420" KEY "cf0006474846204000"
                      "cd032d" "c420" ROOT "9193cd032ccf0000019b76daa896c420" LEAF,
                      want, sizeof(want));
    assert_int_equal(n, want_n);
    assert_memory_equal(m, want, n);
    free(m);

    assert_int_equal(wire_receipt_sign(&r, node.sk, sig), TALLY_OK);
    assert_int_equal(wire_receipt_verify(&r, sig, node.pk), TALLY_OK);
    assert_int_equal(wire_receipt_verify(&r, sig, miner.pk), TALLY_EAUTH);
    /* entries must ascend and lie below tree_size; the nonce is 1..2^53−1 */
    r.n = 2;
    r.entries[1] = r.entries[0];
    assert_int_equal(wire_receipt_message(&r, &m, &n), TALLY_EINVAL);
    assert_null(m);
    r.entries[1].seq = 813;
    assert_int_equal(wire_receipt_sign(&r, node.sk, sig), TALLY_EINVAL);
    r.n = 1;
    r.nonce = 0;
    assert_int_equal(wire_receipt_verify(&r, sig, node.pk), TALLY_EINVAL);
    /* an empty receipt (every item of an idempotent retry was rejected) is still signable */
    vector_receipt(&r);
    r.n = 0;
    assert_int_equal(wire_receipt_sign(&r, node.sk, sig), TALLY_OK);
    assert_int_equal(wire_receipt_verify(&r, sig, node.pk), TALLY_OK);
}

/* A receipt of three entries, every bit of every signed field flipped in turn. */
static void test_flips(void **state)
{
    wire_receipt r, x;
    uint8_t sig[64], bad[64];
    size_t fields = 0;

    (void)state;
    vector_receipt(&r);
    r.n = 3;
    for (size_t i = 0; i < 3; i++) {
        r.entries[i].seq = 700 + 10 * i;
        r.entries[i].time_ms = 1767225600150ull + i;
        memset(r.entries[i].leaf_hash, (int)(0x20 + i), 32);
    }
    assert_int_equal(wire_receipt_sign(&r, node.sk, sig), TALLY_OK);
    for (size_t bit = 0; bit < 8 * fx_origin.n; bit++) {
        x = r;
        x.origin[bit / 8] ^= (char)(1 << (bit % 8));
        assert_int_not_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_OK);
    }
    for (size_t bit = 0; bit < 256; bit++) {
        x = r;
        x.key[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        assert_int_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_EAUTH);
        x = r;
        x.root[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        assert_int_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_EAUTH);
        for (size_t i = 0; i < 3; i++) {
            x = r;
            x.entries[i].leaf_hash[bit / 8] ^= (uint8_t)(1 << (bit % 8));
            assert_int_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_EAUTH);
        }
        fields++;
    }
    for (size_t bit = 0; bit < 53; bit++) {
        x = r;
        x.nonce ^= 1ull << bit;
        assert_int_not_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_OK);
        x = r;
        x.tree_size ^= 1ull << bit;
        assert_int_not_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_OK);
        for (size_t i = 0; i < 3; i++) {
            x = r;
            x.entries[i].seq ^= 1ull << bit;
            assert_int_not_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_OK);
            x = r;
            x.entries[i].time_ms ^= 1ull << bit;
            assert_int_not_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_OK);
        }
    }
    /* an entry dropped or added */
    x = r;
    x.n = 2;
    assert_int_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_EAUTH);
    x = r;
    x.n = 4;
    x.entries[3] = x.entries[2];
    x.entries[3].seq = 800;
    assert_int_equal(wire_receipt_verify(&x, sig, node.pk), TALLY_EAUTH);
    for (size_t bit = 0; bit < 512; bit++) {
        memcpy(bad, sig, 64);
        bad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        assert_int_equal(wire_receipt_verify(&r, bad, node.pk), TALLY_EAUTH);
    }
    assert_int_equal(fields, 256);
}

static void test_json(void **state)
{
    wire_receipt r, back;
    uint8_t sig[64], sig2[64];
    char *js;
    static const char want_head[] = "{\"origin\":\"tally.example.org/57\",\"key\":\"" KEY
                                    "\",\"nonce\":1767225600000000,\"tree_size\":813,\"root\":\"" ROOT
                                    "\",\"entries\":[[812,1767225600150,\"" LEAF "\"]],\"sig\":\"";

    (void)state;
    vector_receipt(&r);
    assert_int_equal(wire_receipt_sign(&r, node.sk, sig), TALLY_OK);
    assert_int_equal(wire_receipt_to_json(&r, sig, &js), TALLY_OK);
    assert_int_equal(strncmp(js, want_head, strlen(want_head)), 0);
    assert_int_equal(strlen(js), strlen(want_head) + 128 + 2);
    assert_int_equal(wire_receipt_from_json(js, strlen(js), &back, sig2), TALLY_OK);
    assert_memory_equal(&back, &r, sizeof(r));
    assert_memory_equal(sig2, sig, 64);
    assert_int_equal(wire_receipt_verify(&back, sig2, node.pk), TALLY_OK);
    free(js);

    /* a full receipt of 200 entries round-trips; one more is refused on the way out */
    r.n = WIRE_RECEIPT_MAX;
    r.tree_size = 100000;
    for (size_t i = 0; i < r.n; i++) {
        r.entries[i].seq = 1000 + i;
        r.entries[i].time_ms = 5 + i;
        memset(r.entries[i].leaf_hash, (int)i, 32);
    }
    assert_int_equal(wire_receipt_to_json(&r, sig, &js), TALLY_OK);
    assert_int_equal(wire_receipt_from_json(js, strlen(js), &back, sig2), TALLY_OK);
    assert_memory_equal(&back, &r, sizeof(r));
    free(js);
    r.n = WIRE_RECEIPT_MAX + 1;
    assert_int_equal(wire_receipt_to_json(&r, sig, &js), TALLY_EINVAL);
    assert_null(js);
}

static tally_status from(const char *js)
{
    wire_receipt r;
    uint8_t sig[64];

    return wire_receipt_from_json(js, strlen(js), &r, sig);
}

#define O "\"origin\":\"tally.example.org/57\""
#define K "\"key\":\"" KEY "\""
#define N "\"nonce\":5"
#define T "\"tree_size\":813"
#define R "\"root\":\"" ROOT "\""
#define E "\"entries\":[[812,1,\"" LEAF "\"]]"
#define S "\"sig\":\"" KEY KEY "\""

static void test_json_strict(void **state)
{
    static char many[40000];
    size_t at;

    (void)state;
    assert_int_equal(from("{" O "," K "," N "," T "," R "," E "," S "}"), TALLY_OK);
    assert_int_equal(from("{" K "," N "," T "," R "," E "," S "}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K "," N "," T "," R "," E "," S ",\"x\":1}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K "," N "," T "," R "," E "," S "," N "}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K "," N "," T "," R "," E "," S "}x"), TALLY_EFORMAT);
    assert_int_equal(from("[" O "]"), TALLY_EFORMAT);
    assert_int_equal(from("{" O ",\"key\":\"79B5562E8FE654F94078B112E8A98BA7901F853AE695BED7E0E3"
                          "910BAD049664\"," N "," T "," R "," E "," S "}"),
                     TALLY_EFORMAT);
    assert_int_equal(from("{" O ",\"key\":\"79b5\"," N "," T "," R "," E "," S "}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K ",\"nonce\":\"5\"," T "," R "," E "," S "}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K ",\"nonce\":5.0," T "," R "," E "," S "}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K ",\"nonce\":0," T "," R "," E "," S "}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K ",\"nonce\":-5," T "," R "," E "," S "}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K ",\"nonce\":9007199254740992," T "," R "," E "," S "}"),
                     TALLY_EFORMAT);
    assert_int_equal(from("{\"origin\":\"a+b\"," K "," N "," T "," R "," E "," S "}"),
                     TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K "," N ",\"tree_size\":812," R "," E "," S "}"),
                     TALLY_EFORMAT); /* seq 812 not below the tree size */
    assert_int_equal(from("{" O "," K "," N "," T "," R ",\"entries\":[[812,1]]," S "}"),
                     TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K "," N "," T "," R ",\"entries\":[[812,1,\"" LEAF
                          "\"],[812,2,\"" LEAF "\"]]," S "}"),
                     TALLY_EFORMAT); /* not ascending */
    assert_int_equal(from("{" O "," K "," N "," T "," R ",\"entries\":{}," S "}"), TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K "," N "," T "," R "," E ",\"sig\":\"" KEY "\"}"),
                     TALLY_EFORMAT);
    assert_int_equal(from("{" O "," K "," N "," T "," R "," E ",\"sig\":null}"), TALLY_EFORMAT);
    /* 201 entries */
    at = (size_t)snprintf(many, sizeof(many), "{" O "," K "," N ",\"tree_size\":100000," R
                                               ",\"entries\":[");
    for (int i = 0; i < 201; i++) {
        at += (size_t)snprintf(many + at, sizeof(many) - at, "%s[%d,1,\"" LEAF "\"]",
                               i ? "," : "", 10 + i);
    }
    snprintf(many + at, sizeof(many) - at, "]," S "}");
    assert_int_equal(from(many), TALLY_EFORMAT);
}

/* The client's check, on the §4 vector and on a request of three items. */
static void test_check_items(void **state)
{
    uint8_t body[128], isig[64], sig[64], *bodies[3], sigs[3][64];
    size_t bn = tu_unhex(BODY, body, sizeof(body)), lens[3];
    wire_signed item, items[3];
    wire_receipt r, x;
    fx_outcome outs[3];

    (void)state;
    tu_unhex(SIG, isig, 64);
    item = (wire_signed){{body, bn}, isig};
    vector_receipt(&r);
    assert_int_equal(wire_receipt_sign(&r, node.sk, sig), TALLY_OK);
    assert_int_equal(wire_receipt_check_items(&r, sig, node.pk, fx_origin, miner.pk, &item, 1,
                                              SCHEMA_ODDS_SUBMISSION),
                     TALLY_OK);
    /* another time_ms, signed by the node: the leaf no longer matches */
    x = r;
    x.entries[0].time_ms += 1;
    assert_int_equal(wire_receipt_sign(&x, node.sk, sig), TALLY_OK);
    assert_int_equal(wire_receipt_check_items(&x, sig, node.pk, fx_origin, miner.pk, &item, 1,
                                              SCHEMA_ODDS_SUBMISSION),
                     TALLY_ECONFLICT);
    /* a bad node signature; another origin; another key; the wrong type */
    assert_int_equal(wire_receipt_sign(&r, node.sk, sig), TALLY_OK);
    assert_int_equal(wire_receipt_check_items(&r, sig, miner.pk, fx_origin, miner.pk, &item, 1,
                                              SCHEMA_ODDS_SUBMISSION),
                     TALLY_EAUTH);
    assert_int_equal(wire_receipt_check_items(&r, sig, node.pk, (tally_str){"tally.example.org/5",
                                                                            19},
                                              miner.pk, &item, 1, SCHEMA_ODDS_SUBMISSION),
                     TALLY_ECONFLICT);
    assert_int_equal(wire_receipt_check_items(&r, sig, node.pk, fx_origin, node.pk, &item, 1,
                                              SCHEMA_ODDS_SUBMISSION),
                     TALLY_ECONFLICT);
    assert_int_equal(wire_receipt_check_items(&r, sig, node.pk, fx_origin, miner.pk, &item, 1,
                                              SCHEMA_OUTCOME),
                     TALLY_EFORMAT);
    assert_int_equal(wire_receipt_check_items(&r, sig, node.pk, fx_origin, miner.pk, &item, 0,
                                              SCHEMA_ODDS_SUBMISSION),
                     TALLY_ECONFLICT);

    /* three outcomes: the right receipt passes, a swapped pair of entries does not */
    for (size_t i = 0; i < 3; i++) {
        outs[i] = fx_outcome_item(i, 20 + i);
        lens[i] = fx_body(NULL, &outs[i], &bodies[i]);
        assert_int_equal(wire_item_sign(fx_origin, SCHEMA_OUTCOME, miner.pk, miner.sk, bodies[i],
                                        lens[i], sigs[i]),
                         TALLY_OK);
        items[i] = (wire_signed){{bodies[i], lens[i]}, sigs[i]};
    }
    vector_receipt(&r);
    r.n = 3;
    for (size_t i = 0; i < 3; i++) {
        schema_body b;
        schema_header h;
        uint8_t hb[SCHEMA_HEADER_MAX], zero = 0;
        size_t hn;
        assert_int_equal(schema_body_decode(SCHEMA_OUTCOME, bodies[i], lens[i], &b), TALLY_OK);
        assert_int_equal(schema_header_init(&b, bodies[i], lens[i], miner.pk, &h), TALLY_OK);
        assert_false(h.has_rows);
        assert_int_equal(h.event_id, 20 + i);
        memcpy(h.actor_sig, sigs[i], 64);
        h.time_ms = 1767225600150ull + 7 * i;
        assert_int_equal(schema_header_encode(&h, hb, sizeof(hb), &hn), TALLY_OK);
        r.entries[i].seq = 810 + i;
        r.entries[i].time_ms = h.time_ms;
        schema_sha256_2(r.entries[i].leaf_hash, &zero, 1, hb, hn);
        schema_body_release(&b);
    }
    assert_int_equal(wire_receipt_sign(&r, node.sk, sig), TALLY_OK);
    assert_int_equal(wire_receipt_check_items(&r, sig, node.pk, fx_origin, miner.pk, items, 3,
                                              SCHEMA_OUTCOME),
                     TALLY_OK);
    x = r;
    memcpy(x.entries[0].leaf_hash, r.entries[1].leaf_hash, 32);
    memcpy(x.entries[1].leaf_hash, r.entries[0].leaf_hash, 32);
    assert_int_equal(wire_receipt_sign(&x, node.sk, sig), TALLY_OK);
    assert_int_equal(wire_receipt_check_items(&x, sig, node.pk, fx_origin, miner.pk, items, 3,
                                              SCHEMA_OUTCOME),
                     TALLY_ECONFLICT);
    for (size_t i = 0; i < 3; i++) {
        free(bodies[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message),     cmocka_unit_test(test_flips),
        cmocka_unit_test(test_json),        cmocka_unit_test(test_json_strict),
        cmocka_unit_test(test_check_items),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* The known-answer vector of spec/protocol.md §4 through wire/: item body, body hash, record
 * message, item signature, request body, request hash, signing string, request signature,
 * header and leaf hash, byte for byte; and the request digest's definition. */
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
#define BODY_HASH "5ad64109115d70b4cd91f430dde817bafa813cdae3a56d2bbadb603da32a0527"
#define SIG                                                                                   \
    "1a7ea2162d4767466f9a3720e179e25ae651e8e6979ba39243b527c70801bd7d268b881d054a4a08098ed38d" \
    "e907a92019fd65410cc3b574854646105964b70f"
#define REQ_HASH "b3e3d613f44699bd9bede69629bef35e60589a86d504679a39b1bda638b3409f"
#define REQ_SIG                                                                               \
    "20e8535537a9b7645d78ab60b8ea31c79d67deabf49dd1356f64aa8a4ebe180345c3ff9510a535515196c0a3" \
    "d66cbc8e71ee618bf7def90ed4741316f8034303"
#define HEADER "99010acf0000019b76daa89603cd109202c420" KEY "c420" BODY_HASH "c440" SIG
#define LEAF "ac25c5d2019a433f32d959846e7be88b07a161103e4a513627b16e98d7118468"
#define MSG_HEAD "95af" "74616c6c792d7265636f72642d7631" "b4" \
    "74616c6c792e6578616d706c652e6f72672f3537" "0a"

static const char signing[] = "tally-req-v1\ntally.example.org/57\nPOST\n/v1/odds\n"
                              "1767225600123\n1767225600000000\n" REQ_HASH;

static wire_request vector_request(const uint8_t *req, size_t n)
{
    wire_request rq = {.origin = fx_origin,
                       .method = {"POST", 4},
                       .target = {"/v1/odds", 8},
                       .time_ms = 1767225600123ull,
                       .nonce = 1767225600000000ull,
                       .body = req,
                       .body_len = n};
    return rq;
}

static void test_vector(void **state)
{
    uint8_t body[128], req[256], want[256], sig[64], hash[32], msg[SCHEMA_MSG_MAX], hb[256];
    uint8_t leaf[32], zero = 0, *built;
    char str[WIRE_SIGNING_MAX];
    size_t body_n, req_n, n, want_n;
    fx_key k;
    wire_items items = WIRE_ITEMS_INIT;
    wire_fail f;
    schema_paramset ps;
    wire_request rq;

    (void)state;
    fx_key_init(&k);
    tu_unhex(KEY, want, 32);
    assert_memory_equal(k.pk, want, 32);
    body_n = tu_unhex(BODY, body, sizeof(body));
    assert_int_equal(body_n, 66);

    /* the item signature, from the body alone */
    assert_int_equal(wire_item_sign(fx_origin, SCHEMA_ODDS_SUBMISSION, k.pk, k.sk, body, body_n,
                                    sig),
                     TALLY_OK);
    tu_unhex(SIG, want, 64);
    assert_memory_equal(sig, want, 64);

    /* the request body, built and then parsed */
    req_n = tu_unhex("9192" BODY "c440" SIG, req, sizeof(req));
    assert_int_equal(req_n, 134);
    {
        wire_signed it = {{body, body_n}, sig};
        assert_int_equal(wire_request_build(&it, 1, &built, &n), TALLY_OK);
        assert_int_equal(n, req_n);
        assert_memory_equal(built, req, n);
        free(built);
    }
    schema_sha256_2(hash, req, req_n, NULL, 0);
    tu_unhex(REQ_HASH, want, 32);
    assert_memory_equal(hash, want, 32);

    schema_paramset_default(&ps);
    assert_int_equal(wire_odds_parse(fx_origin, k.pk, FX_NONCE, &ps, req, req_n, &items, &f),
                     TALLY_OK);
    assert_int_equal(items.n, 1);
    assert_ptr_equal(items.items[0].body.p, req + 2);
    assert_int_equal(items.items[0].body.n, body_n);
    assert_memory_equal(items.items[0].body.p, body, body_n);
    assert_int_equal(items.items[0].event_id, 4242);
    assert_true(items.items[0].has_rows);
    assert_int_equal(items.items[0].rows, 2);
    assert_int_equal(items.items[0].decoded.type, SCHEMA_ODDS_SUBMISSION);
    tu_unhex(BODY_HASH, want, 32);
    assert_memory_equal(items.items[0].header.body_hash, want, 32);
    assert_memory_equal(items.items[0].header.actor, k.pk, 32);
    assert_int_equal(items.items[0].header.time_ms, 0);

    /* the record message the item signature covers */
    assert_int_equal(schema_record_message(fx_origin, &items.items[0].header, msg, sizeof(msg),
                                           &n),
                     TALLY_OK);
    want_n = tu_unhex(MSG_HEAD "c420" KEY "c420" BODY_HASH, want, sizeof(want));
    assert_int_equal(n, 107);
    assert_int_equal(want_n, 107);
    assert_memory_equal(msg, want, n);

    /* the header the writer appends, once it sets time_ms, and its leaf hash */
    items.items[0].header.time_ms = 1767225600150ull;
    assert_int_equal(schema_header_encode(&items.items[0].header, hb, sizeof(hb), &n), TALLY_OK);
    want_n = tu_unhex(HEADER, want, sizeof(want));
    assert_int_equal(n, 151);
    assert_int_equal(want_n, 151);
    assert_memory_equal(hb, want, n);
    schema_sha256_2(leaf, &zero, 1, hb, n);
    tu_unhex(LEAF, want, 32);
    assert_memory_equal(leaf, want, 32);
    wire_items_release(&items);
    assert_null(items.items);

    /* signing string and request signature */
    rq = vector_request(req, req_n);
    assert_int_equal(wire_signing_string(&rq, str, sizeof(str), &n), TALLY_OK);
    assert_int_equal(n, strlen(signing));
    assert_memory_equal(str, signing, n);
    assert_int_equal(wire_request_sign(&rq, k.sk, sig), TALLY_OK);
    tu_unhex(REQ_SIG, want, 64);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(wire_request_verify(&rq, k.pk, sig), TALLY_OK);
    sig[10] ^= 1;
    assert_int_equal(wire_request_verify(&rq, k.pk, sig), TALLY_EAUTH);
}

/* The digest is SHA-256 of the signing string without its fifth line and that line's LF. */
static void test_digest(void **state)
{
    uint8_t req[256], d1[32], d2[32], want[32];
    static const char text[] = "tally-req-v1\ntally.example.org/57\nPOST\n/v1/odds\n"
                               "1767225600000000\n" REQ_HASH;
    size_t req_n = tu_unhex("9192" BODY "c440" SIG, req, sizeof(req));
    wire_request rq = vector_request(req, req_n);

    (void)state;
    assert_int_equal(wire_request_digest(&rq, d1), TALLY_OK);
    schema_sha256_2(want, (const uint8_t *)text, strlen(text), NULL, 0);
    assert_memory_equal(d1, want, 32);
    rq.time_ms += 5000; /* a retry re-signed later */
    assert_int_equal(wire_request_digest(&rq, d2), TALLY_OK);
    assert_memory_equal(d1, d2, 32);
    rq.nonce += 1;
    assert_int_equal(wire_request_digest(&rq, d2), TALLY_OK);
    assert_memory_not_equal(d1, d2, 32);
    rq.nonce -= 1;
    req[5] ^= 1; /* another body */
    assert_int_equal(wire_request_digest(&rq, d2), TALLY_OK);
    assert_memory_not_equal(d1, d2, 32);
}

/* A GET signs the hash of the empty string; case 5: a signature over another target fails. */
static void test_get_and_case5(void **state)
{
    char str[WIRE_SIGNING_MAX];
    uint8_t sig[64];
    size_t n;
    fx_key k;
    wire_request rq = {.origin = fx_origin, .method = {"GET", 3}, .target = {"/v1/games", 9},
                       .time_ms = 1, .nonce = 2};

    (void)state;
    fx_key_init(&k);
    assert_int_equal(wire_signing_string(&rq, str, sizeof(str), &n), TALLY_OK);
    assert_true(n > 64);
    assert_memory_equal(str + n - 64,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64);
    assert_int_equal(wire_request_sign(&rq, k.sk, sig), TALLY_OK);
    rq.target = (tally_str){"/v1/games?limit=10", 18};
    assert_int_equal(wire_request_verify(&rq, k.pk, sig), TALLY_EAUTH);
    /* too small a buffer, a lower-case method, an over-long target, a bad origin */
    assert_int_equal(wire_signing_string(&rq, str, 20, &n), TALLY_ELIMIT);
    assert_int_equal(n, 0);
    rq.method = (tally_str){"get", 3};
    assert_int_equal(wire_signing_string(&rq, str, sizeof(str), &n), TALLY_EINVAL);
    rq.method = (tally_str){"GET", 3};
    {
        static char longt[WIRE_TARGET_MAX + 2];
        memset(longt, 'a', sizeof(longt));
        longt[0] = '/';
        rq.target = (tally_str){longt, WIRE_TARGET_MAX};
        assert_int_equal(wire_signing_string(&rq, str, sizeof(str), &n), TALLY_OK);
        rq.target = (tally_str){longt, WIRE_TARGET_MAX + 1};
        assert_int_equal(wire_signing_string(&rq, str, sizeof(str), &n), TALLY_EINVAL);
    }
    rq.target = (tally_str){"/v1/games", 9};
    rq.origin = (tally_str){"a+b", 3};
    assert_int_equal(wire_signing_string(&rq, str, sizeof(str), &n), TALLY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_get_and_case5),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

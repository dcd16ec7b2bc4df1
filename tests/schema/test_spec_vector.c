/* The known-answer vector of spec/protocol.md §4: an ODDS_SUBMISSION body, its record message,
 * the miner's signature, the header and the leaf hash, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "schema/schema.h"
#include "util/testutil.h"

#define SEED "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
#define KEY "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"
#define BODY                                                                                  \
    "95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce1f34e5119302ce7d2b7500ce" \
    "1c62170cc410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#define BODY_HASH "5ad64109115d70b4cd91f430dde817bafa813cdae3a56d2bbadb603da32a0527"
#define SIG                                                                                   \
    "1a7ea2162d4767466f9a3720e179e25ae651e8e6979ba39243b527c70801bd7d268b881d054a4a08098ed38d" \
    "e907a92019fd65410cc3b574854646105964b70f"
#define LEAF "ac25c5d2019a433f32d959846e7be88b07a161103e4a513627b16e98d7118468"

static const tally_str origin = {"tally.example.org/57", 20};

static void test_vector(void **state)
{
    uint8_t seed[32], pk[32], sk[64], body[128], enc[128], want[256], got[256], leaf[32];
    uint8_t msg[SCHEMA_MSG_MAX], in[200];
    size_t body_n, n, want_n;
    schema_body b;
    schema_header h, h2;

    (void)state;
    tu_unhex(SEED, seed, 32);
    crypto_sign_seed_keypair(pk, sk, seed);
    tu_unhex(KEY, want, 32);
    assert_memory_equal(pk, want, 32);

    body_n = tu_unhex(BODY, body, sizeof(body));
    assert_int_equal(body_n, 66);
    assert_int_equal(schema_body_decode(SCHEMA_ODDS_SUBMISSION, body, body_n, &b), TALLY_OK);
    assert_int_equal(b.u.odds.nonce, 1767225600000000ull);
    assert_int_equal(b.u.odds.event_id, 4242);
    assert_int_equal(b.u.odds.markets[0].prices[1].imp_prob_n, 476190476);
    assert_int_equal(schema_body_encode(&b, enc, sizeof(enc), &n), TALLY_OK);
    assert_int_equal(n, body_n);
    assert_memory_equal(enc, body, n);

    assert_int_equal(schema_header_init(&b, body, body_n, pk, &h), TALLY_OK);
    tu_unhex(BODY_HASH, want, 32);
    assert_memory_equal(h.body_hash, want, 32);
    assert_int_equal(schema_record_message(origin, &h, msg, sizeof(msg), &n), TALLY_OK);
    assert_int_equal(n, 107);
    assert_int_equal(schema_record_sign(&h, origin, sk), TALLY_OK);
    tu_unhex(SIG, want, 64);
    assert_memory_equal(h.actor_sig, want, 64);
    assert_int_equal(schema_record_verify(&h, origin), TALLY_OK);

    h.time_ms = 1767225600150ull;
    assert_int_equal(h.tier, SCHEMA_EMBARGOED);
    assert_int_equal(h.rows, 2);
    assert_int_equal(schema_header_encode(&h, got, sizeof(got), &n), TALLY_OK);
    want_n = tu_unhex("99010acf0000019b76daa89603cd109202c420" KEY "c420" BODY_HASH "c440" SIG,
                      want, sizeof(want));
    assert_int_equal(n, 151);
    assert_int_equal(want_n, 151);
    assert_memory_equal(got, want, n);

    in[0] = 0;
    memcpy(in + 1, got, n);
    crypto_hash_sha256(leaf, in, n + 1);
    tu_unhex(LEAF, want, 32);
    assert_memory_equal(leaf, want, 32);

    assert_int_equal(schema_header_decode(got, n, &h2), TALLY_OK);
    assert_memory_equal(&h2.actor_sig, &h.actor_sig, 64);
    assert_int_equal(schema_record_check(&h2, body, body_n, NULL), TALLY_OK);

    /* a signature over another origin does not verify */
    assert_int_equal(schema_record_verify(&h, (tally_str){"tally.example.org/58", 20}),
                     TALLY_EAUTH);
    schema_body_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vector)};
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

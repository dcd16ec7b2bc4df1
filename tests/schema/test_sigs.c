/* schema_record_verify_batch: on every thread count it reports what checking the headers one by
 * one in order reports first — all good gives n; bad signatures at several positions give the
 * smallest; a header that does not decode counts as bad; random bad sets against the sequential
 * loop. No timings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"
#include "util/samples.h"
#include "util/testutil.h"

#define N 300u /* four chunks of 64 and a short one */

static const char ORIGIN[] = "tally.test/1";
static uint8_t bytes[N][SCHEMA_HEADER_MAX];
static schema_header hdr[N];
static tally_bytes views[N];
static const unsigned thread_counts[] = {1, 2, 3, 8, 0, 200};

static tally_str origin(void)
{
    return (tally_str){ORIGIN, strlen(ORIGIN)};
}

static void encode(size_t i)
{
    size_t n;

    assert_int_equal(schema_header_encode(&hdr[i], bytes[i], sizeof(bytes[i]), &n), TALLY_OK);
    views[i] = (tally_bytes){bytes[i], n};
}

/* N signed headers by two keys, over sample bodies of several types. */
static int setup(void **state)
{
    uint8_t pk[2][32], sk[2][64], buf[SCHEMA_BODY_MAX];
    (void)state;

    assert_true(sodium_init() >= 0);
    for (int k = 0; k < 2; k++) {
        crypto_sign_keypair(pk[k], sk[k]);
    }
    for (size_t i = 0; i < N; i++) {
        schema_body b;
        size_t n;
        tu_sample(tu_types[i % 18], (int)(i / 18) % 2, &b);
        assert_int_equal(schema_record_build(&b, pk[i % 2], sk[i % 2], origin(), 1000 + i, buf,
                                             sizeof(buf), &n, &hdr[i]),
                         TALLY_OK);
        encode(i);
    }
    return 0;
}

static void flip_sig(size_t i)
{
    hdr[i].actor_sig[i % 64] ^= 0x01;
    encode(i);
}

static size_t sequential(void)
{
    for (size_t i = 0; i < N; i++) {
        schema_header h;
        if (schema_header_decode(views[i].p, views[i].n, &h) != TALLY_OK ||
            schema_record_verify(&h, origin()) != TALLY_OK) {
            return i;
        }
    }
    return N;
}

static void expect_first_bad(size_t n, size_t want)
{
    for (size_t t = 0; t < sizeof(thread_counts) / sizeof(thread_counts[0]); t++) {
        size_t got = 12345;
        assert_int_equal(schema_record_verify_batch(views, n, origin(), thread_counts[t], &got),
                         TALLY_OK);
        assert_int_equal(got, want);
    }
}

static void test_all_good(void **state)
{
    (void)state;
    expect_first_bad(N, N);
    expect_first_bad(1, 1);
    expect_first_bad(0, 0);
}

static void test_several_bad_gives_smallest(void **state)
{
    static const size_t bad[] = {299, 130, 217, 64, 65, 200};
    static const size_t want[] = {299, 130, 130, 64, 64, 64};
    (void)state;

    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        flip_sig(bad[k]);
        expect_first_bad(N, want[k]);
        assert_int_equal(sequential(), want[k]);
    }
    /* the smallest in the first chunk, behind every other bad one in later chunks */
    flip_sig(3);
    expect_first_bad(N, 3);
    /* a prefix that ends before the first bad one is all good */
    expect_first_bad(3, 3);
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        flip_sig(bad[k]); /* flipping again restores it */
    }
    flip_sig(3);
    expect_first_bad(N, N);
}

static void test_undecodable_counts_as_bad(void **state)
{
    (void)state;
    flip_sig(200);
    views[150].n -= 1; /* truncated: does not decode */
    expect_first_bad(N, 150);
    views[150].n += 1;
    expect_first_bad(N, 200);
    hdr[200].actor_sig[200 % 64] ^= 0x01; /* a signature under another origin is bad too */
    encode(200);
    {
        size_t got;
        assert_int_equal(schema_record_verify_batch(views, N, (tally_str){"other/1", 7}, 2, &got),
                         TALLY_OK);
        assert_int_equal(got, 0);
    }
}

static void test_random_sets_match_sequential(void **state)
{
    (void)state;
    for (int round = 0; round < 8; round++) {
        size_t flipped[5];
        size_t k = 1 + randombytes_uniform(5);
        for (size_t j = 0; j < k; j++) {
            flipped[j] = randombytes_uniform(N);
            flip_sig(flipped[j]);
        }
        size_t want = sequential();
        expect_first_bad(N, want);
        for (size_t j = k; j-- > 0;) {
            flip_sig(flipped[j]);
        }
    }
    expect_first_bad(N, N);
}

static void test_bad_args(void **state)
{
    size_t got = 7;
    (void)state;
    assert_int_equal(schema_record_verify_batch(NULL, 3, origin(), 2, &got), TALLY_EINVAL);
    assert_int_equal(got, 0);
    assert_true(schema_verify_threads_default() >= 1);
    assert_true(schema_verify_threads_default() <= SCHEMA_VERIFY_THREADS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_good),
        cmocka_unit_test(test_several_bad_gives_smallest),
        cmocka_unit_test(test_undecodable_counts_as_bad),
        cmocka_unit_test(test_random_sets_match_sequential),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

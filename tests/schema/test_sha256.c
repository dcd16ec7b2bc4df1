/* The accelerated SHA-256 against libsodium's: FIPS 180 vectors, then every length from 0 to
 * 1,100 bytes, split at every point for the two-part form, and random inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "schema/schema.h"
#include "util/testutil.h"

static void test_vectors(void **state)
{
    uint8_t got[32], want[32];
    const char *abc = "abc";
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    (void)state;
    schema_sha256_2(got, (const uint8_t *)abc, 3, NULL, 0);
    tu_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    assert_memory_equal(got, want, 32);
    schema_sha256_2(got, NULL, 0, (const uint8_t *)two, strlen(two));
    tu_unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want, 32);
    assert_memory_equal(got, want, 32);
    schema_sha256_2(got, NULL, 0, NULL, 0);
    tu_unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    assert_memory_equal(got, want, 32);
}

static void test_against_libsodium(void **state)
{
    static uint8_t buf[1100];
    uint8_t got[32], want[32];
    (void)state;
    randombytes_buf(buf, sizeof(buf));
    for (size_t n = 0; n <= sizeof(buf); n++) {
        size_t step = n < 200 ? 1 : 37;
        for (size_t cut = 0; cut <= n; cut += step) {
            schema_sha256_2(got, buf, cut, buf + cut, n - cut);
            crypto_hash_sha256(want, buf, n);
            assert_memory_equal(got, want, 32);
        }
    }
    for (int i = 0; i < 20000; i++) {
        size_t n = randombytes_uniform(600), cut = n ? randombytes_uniform((uint32_t)n) : 0;
        randombytes_buf(buf, n);
        schema_sha256_2(got, buf, cut, buf + cut, n - cut);
        schema_sha256_ref(want, buf, cut, buf + cut, n - cut);
        assert_memory_equal(got, want, 32);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors),
                                       cmocka_unit_test(test_against_libsodium)};
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

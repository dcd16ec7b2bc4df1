/* The canonical msgpack writer and reader for tally's own blobs: every value round-trips in its
 * smallest form (known bytes at each size boundary), every longer form and every truncation is
 * refused, counts cannot promise more than the input holds, and the writer's cap is a limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"
#include "util/testutil.h"

static void known_forms(void **state)
{
    static const struct {
        int64_t v;
        const char *hex;
    } ints[] = {
        {0, "00"}, {127, "7f"}, {128, "cc80"}, {255, "ccff"}, {256, "cd0100"},
        {65535, "cdffff"}, {65536, "ce00010000"}, {4294967296, "cf0000000100000000"},
        {-1, "ff"}, {-32, "e0"}, {-33, "d0df"}, {-128, "d080"}, {-129, "d1ff7f"},
        {-32769, "d2ffff7fff"}, {-2147483649, "d3ffffffff7fffffff"},
    };
    uint8_t want[16], *got;
    size_t wn, gn;
    (void)state;

    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        schema_mpw w;
        schema_mpr r;
        schema_mpw_init(&w, 64);
        schema_mpw_int(&w, ints[i].v);
        assert_int_equal(schema_mpw_finish(&w, &got, &gn), TALLY_OK);
        wn = tu_unhex(ints[i].hex, want, sizeof(want));
        assert_int_equal(gn, wn);
        assert_memory_equal(got, want, wn);
        schema_mpr_init(&r, got, gn);
        assert_int_equal(schema_mpr_int(&r), ints[i].v);
        assert_int_equal(schema_mpr_end(&r), TALLY_OK);
        /* every truncation fails */
        for (size_t k = 0; k < gn; k++) {
            schema_mpr_init(&r, got, k);
            (void)schema_mpr_int(&r);
            assert_int_equal(schema_mpr_end(&r), TALLY_EFORMAT);
        }
        free(got);
    }
}

static void non_canonical(void **state)
{
    static const char *const bad_ints[] = {"cc05", "cd0005", "ce00000005", "cf0000000000000005",
                                           "d0ff", "d1ffff", "d2ffffffff", "d3ffffffffffffffff",
                                           "c0", "a0"};
    static const char *const bad_arrays[] = {"dc0001", "dd00000001", "9f"};
    uint8_t b[16];
    size_t n;
    schema_mpr r;
    (void)state;

    for (size_t i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++) {
        n = tu_unhex(bad_ints[i], b, sizeof(b));
        schema_mpr_init(&r, b, n);
        (void)schema_mpr_int(&r);
        assert_int_equal(schema_mpr_end(&r), TALLY_EFORMAT);
    }
    for (size_t i = 0; i < sizeof(bad_arrays) / sizeof(bad_arrays[0]); i++) {
        n = tu_unhex(bad_arrays[i], b, sizeof(b));
        schema_mpr_init(&r, b, n);
        (void)schema_mpr_array(&r);
        assert_true(r.bad);
    }
    /* a str8 holding what fits a fixstr; a bin of the wrong fixed length */
    n = tu_unhex("d90161", b, sizeof(b));
    schema_mpr_init(&r, b, n);
    assert_null(schema_mpr_str(&r, &n));
    n = tu_unhex("c4020102", b, sizeof(b));
    schema_mpr_init(&r, b, n);
    schema_mpr_bin_fixed(&r, b + 8, 3);
    assert_true(r.bad);
    /* a uint above INT64_MAX has one form */
    n = tu_unhex("cfffffffffffffffff", b, sizeof(b));
    schema_mpr_init(&r, b, n);
    assert_true(schema_mpr_uint(&r) == UINT64_MAX);
    assert_int_equal(schema_mpr_end(&r), TALLY_OK);
}

static void mixed_and_cap(void **state)
{
    schema_mpw w;
    schema_mpr r;
    uint8_t *got, key[32] = {1, 2, 3}, back[32];
    size_t n, sn;
    const char *s;
    (void)state;

    schema_mpw_init(&w, 1024);
    schema_mpw_array(&w, 5);
    schema_mpw_str(&w, "tally-state-v1", 14);
    schema_mpw_uint(&w, 18446744073709551615ull);
    schema_mpw_nil(&w);
    schema_mpw_bool(&w, true);
    schema_mpw_bin(&w, key, 32);
    assert_int_equal(schema_mpw_finish(&w, &got, &n), TALLY_OK);
    schema_mpr_init(&r, got, n);
    assert_int_equal(schema_mpr_array(&r), 5);
    s = schema_mpr_str(&r, &sn);
    assert_true(s != NULL && sn == 14 && memcmp(s, "tally-state-v1", 14) == 0);
    assert_true(schema_mpr_uint(&r) == 18446744073709551615ull);
    assert_true(schema_mpr_nil(&r));
    assert_true(schema_mpr_bool(&r));
    schema_mpr_bin_fixed(&r, back, 32);
    assert_memory_equal(back, key, 32);
    assert_int_equal(schema_mpr_end(&r), TALLY_OK);
    /* a byte left unread is not the end */
    schema_mpr_init(&r, got, n);
    assert_int_equal(schema_mpr_array(&r), 5);
    assert_int_equal(schema_mpr_end(&r), TALLY_EFORMAT);
    free(got);
    /* an array count larger than the bytes left */
    {
        uint8_t b[4] = {0xdc, 0x00, 0x20, 0x01};
        schema_mpr_init(&r, b, 4);
        assert_int_equal(schema_mpr_array(&r), 0);
        assert_true(r.bad);
    }
    /* the cap: nothing past it, TALLY_ELIMIT */
    schema_mpw_init(&w, 8);
    schema_mpw_bin(&w, key, 32);
    assert_int_equal(schema_mpw_finish(&w, &got, &n), TALLY_ELIMIT);
    assert_null(got);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_forms),
        cmocka_unit_test(non_canonical),
        cmocka_unit_test(mixed_and_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

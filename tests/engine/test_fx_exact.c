/* The integers engine/fx returns are part of the ledger (they are in every score, so in every
 * state hash), so a faster implementation must return the same ones, not only close ones. Each
 * series function against a reference written plainly in 128-bit arithmetic (the series of
 * engine/fx.c as they stood before the 64-bit fast paths: every product and division in
 * fx_wide, the rounding to nanos through fx_div), over 3·10^5 pseudo-random inputs of every bit
 * length each and the edges: every result identical. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/fx.h"

#define N_RANDOM 300000
#define Q 62
#define ONE_Q ((fx_wide)1 << Q)
#define LN2_Q62 ((fx_wide)3196577161300663915ll)
#define SQRT2_Q62 ((fx_wide)6521908912666391106ll)

static int64_t ref_to_nanos(fx_wide v, unsigned extra_shift)
{
    return fx_div(v * FX_ONE, (fx_wide)1 << (Q + extra_shift));
}

static unsigned ref_bitlen(uint64_t x)
{
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

static fx_wide ref_ln_reduced(fx_wide m)
{
    fx_wide s = ((m - ONE_Q) * ONE_Q) / (m + ONE_Q);
    fx_wide s2 = (s * s) / ONE_Q, term = s, sum = s;

    for (int k = 3; k < 64; k += 2) {
        term = (term * s2) / ONE_Q;
        if (term == 0) {
            break;
        }
        sum += term / k;
    }
    return 2 * sum;
}

static int64_t ref_ln_ratio(uint64_t num, uint64_t den)
{
    int e = (int)ref_bitlen(num) - (int)ref_bitlen(den);
    fx_uwide m;

    for (;;) {
        m = e >= 0 ? ((fx_uwide)num << Q) / ((fx_uwide)den << e) : ((fx_uwide)num << (Q - e)) / den;
        if (m < (fx_uwide)ONE_Q) {
            e--;
        } else if (m >= (fx_uwide)2 * ONE_Q) {
            e++;
        } else {
            break;
        }
    }
    if ((fx_wide)m > SQRT2_Q62) {
        m >>= 1;
        e++;
    }
    return ref_to_nanos(ref_ln_reduced((fx_wide)m) + (fx_wide)e * LN2_Q62, 0);
}

static fx_wide ref_exp_neg_reduced(fx_wide r)
{
    fx_wide term = ONE_Q, sum = ONE_Q;

    for (int i = 1; i < 40; i++) {
        term = (term * r) / ONE_Q / i;
        if (term == 0) {
            break;
        }
        sum += (i & 1) ? -term : term;
    }
    return sum;
}

static int64_t ref_exp2_neg_ratio(uint64_t num, uint64_t den)
{
    uint64_t k = num / den;
    fx_wide f = ((fx_wide)(num % den) << Q) / den;

    return ref_to_nanos(ref_exp_neg_reduced((f * LN2_Q62) / ONE_Q), (unsigned)k);
}

static fx_wide ref_ratio_q(fx_uwide num, fx_uwide den)
{
    fx_uwide ip = num / den, rem = num % den;
    return (fx_wide)((ip << Q) + (rem << Q) / den);
}

static fx_wide ref_exp_neg_q(fx_wide a, unsigned *shift)
{
    fx_wide j = a / LN2_Q62, r = a - j * LN2_Q62;
    *shift = j > 62 ? 63u : (unsigned)j;
    return ref_exp_neg_reduced(r);
}

static int64_t ref_exp_neg_ratio(fx_wide num, fx_wide den)
{
    unsigned shift;
    fx_wide e;

    if (-num / den >= 64) {
        return 0;
    }
    e = ref_exp_neg_q(ref_ratio_q((fx_uwide)-num, (fx_uwide)den), &shift);
    return ref_to_nanos(e, shift);
}

static int64_t ref_logistic_ratio(fx_wide num, fx_wide den)
{
    fx_uwide mag = (fx_uwide)(num < 0 ? -num : num);
    unsigned shift;
    fx_wide e;

    if (mag / (fx_uwide)den >= 64) {
        return num < 0 ? 0 : FX_ONE;
    }
    e = ref_exp_neg_q(ref_ratio_q(mag, (fx_uwide)den), &shift) >> shift;
    return ref_to_nanos(num < 0 ? (e * ONE_Q) / (ONE_Q + e) : (ONE_Q * ONE_Q) / (ONE_Q + e), 0);
}

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}
/* a random value of a random bit length 1..64 */
static uint64_t any_len(void)
{
    unsigned b = 1 + (unsigned)(rnd() % 64);
    uint64_t v = rnd() >> (64 - b);
    return v ? v : 1;
}

static void test_ln_identical(void **state)
{
    static const uint64_t edge[] = {
        1,         2, 3, 999999999, 1000000000, 1000000001, (uint64_t)1 << 62, (uint64_t)1 << 63,
        UINT64_MAX};
    (void)state;
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        for (size_t j = 0; j < sizeof(edge) / sizeof(edge[0]); j++) {
            assert_int_equal(fx_ln_ratio(edge[i], edge[j]), ref_ln_ratio(edge[i], edge[j]));
        }
    }
    for (long i = 0; i < N_RANDOM; i++) {
        uint64_t a = any_len(), b = any_len(), p = 1 + rnd() % FX_ONE;
        assert_int_equal(fx_ln_ratio(a, b), ref_ln_ratio(a, b));
        /* the calls scoring makes: probabilities and odds in nanos */
        assert_int_equal(fx_ln_ratio(p, FX_ONE), ref_ln_ratio(p, FX_ONE));
        assert_int_equal(fx_ln_ratio(p, FX_ONE - p + 1), ref_ln_ratio(p, FX_ONE - p + 1));
    }
}

static void test_exp_identical(void **state)
{
    (void)state;
    for (long i = 0; i < N_RANDOM; i++) {
        uint64_t d = any_len() % ((uint64_t)1 << 40) + 1, n = (rnd() % 64) * d + rnd() % d;
        fx_wide en = -(fx_wide)(any_len() >> 1), ed = (fx_wide)(any_len() >> 1) + 1;
        assert_int_equal(fx_exp2_neg_ratio(n, d), ref_exp2_neg_ratio(n, d));
        assert_int_equal(fx_exp_neg_ratio(en, ed), ref_exp_neg_ratio(en, ed));
    }
    assert_int_equal(fx_exp2_neg_ratio(0, 1), ref_exp2_neg_ratio(0, 1));
    assert_int_equal(fx_exp2_neg_ratio(63, 1), ref_exp2_neg_ratio(63, 1));
    assert_int_equal(fx_exp_neg_ratio(0, 1), ref_exp_neg_ratio(0, 1));
}

static void test_logistic_identical(void **state)
{
    (void)state;
    for (long i = 0; i < N_RANDOM; i++) {
        fx_wide n = (fx_wide)(int64_t)rnd(), d = (fx_wide)(any_len() >> 1) + 1;
        fx_wide u = (fx_wide)(int64_t)(rnd() % 20000000000ull) - 10000000000ll;
        assert_int_equal(fx_logistic_ratio(n, d), ref_logistic_ratio(n, d));
        assert_int_equal(fx_logistic_ratio(u, FX_ONE), ref_logistic_ratio(u, FX_ONE));
    }
    assert_int_equal(fx_logistic_ratio(0, 1), ref_logistic_ratio(0, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ln_identical),
        cmocka_unit_test(test_exp_identical),
        cmocka_unit_test(test_logistic_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* engine/fx against libm in extended precision (long double: 64-bit mantissa, so its own error
 * is far below the 10^-8 nano the fx functions promise): 10^6 random inputs per function over
 * the ranges scoring §10 gives, plus the edges. Each result must be within half a nano (plus the
 * stated internal error) of the exact value, i.e. correctly rounded except at near-ties. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "engine/fx.h"

#define N_RANDOM 1000000
#define BOUND 0.5000001L /* nanos: half a nano plus the internal and reference errors */

static uint64_t rs = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}
/* log-uniform in [lo, hi] */
static uint64_t logu(uint64_t lo, uint64_t hi)
{
    long double f = (long double)(rnd() >> 11) / 9007199254740992.0L;
    long double v = expl(logl((long double)lo) + f * (logl((long double)hi) - logl((long double)lo)));
    uint64_t x = (uint64_t)v;
    return x < lo ? lo : x > hi ? hi : x;
}

static long double worst;
static void check(int64_t got, long double exact_nanos, const char *what, long double arg)
{
    long double err = fabsl((long double)got - exact_nanos);
    if (err > worst) {
        worst = err;
    }
    if (err > BOUND) {
        fail_msg("%s(%.12Lg): got %lld, exact %.6Lf nanos", what, arg, (long long)got,
                 exact_nanos);
    }
}

static void test_div_round_half_even(void **state)
{
    (void)state;
    assert_int_equal(fx_div(5, 2), 2);
    assert_int_equal(fx_div(7, 2), 4);
    assert_int_equal(fx_div(-5, 2), -2);
    assert_int_equal(fx_div(-7, 2), -4);
    assert_int_equal(fx_div(5, -2), -2);
    assert_int_equal(fx_div(1, 3), 0);
    assert_int_equal(fx_div(2, 3), 1);
    assert_int_equal(fx_div(-2, 3), -1);
    assert_int_equal(fx_mul(1500000000, 1500000000), 2250000000);
    assert_int_equal(fx_round_to(15, 10), 20);
    assert_int_equal(fx_round_to(25, 10), 20);
    assert_int_equal(fx_round_to(-25, 10), -20);
    assert_int_equal(fx_round_to(26, 10), 30);
}

static void test_ln(void **state)
{
    (void)state;
    worst = 0;
    /* edges: exact values, the constants the spec quotes, extremes of each use */
    assert_int_equal(fx_ln_ratio(1, 1), 0);
    assert_int_equal(fx_ln_ratio(168, 1), 5123963979);   /* ln(168) = 5.123963979 */
    assert_int_equal(fx_ln_ratio(1, 1000000000), -20723265837); /* −ln 1e-9 */
    assert_int_equal(fx_ln_ratio(2, 1), 693147181);
    check(fx_ln_ratio(UINT64_MAX, 1), logl((long double)UINT64_MAX) * 1e9L, "ln", 0);
    check(fx_ln_ratio(1, UINT64_MAX), -logl((long double)UINT64_MAX) * 1e9L, "ln", 0);
    check(fx_ln_ratio(999999999, 1000000000), logl(0.999999999L) * 1e9L, "ln", 0);
    check(fx_ln_ratio(1000000001, 1000000000), logl(1.000000001L) * 1e9L, "ln", 0);
    for (int i = 0; i < N_RANDOM; i++) {
        uint64_t num, den;
        switch (i % 4) {
        case 0: /* log-loss: q ∈ [1e-9, 1) as nanos / 1e9 */
            num = logu(1, 999999999), den = 1000000000;
            break;
        case 1: /* shrinkage: 1 + n_eff, n_eff ∈ [0.125, 1e6] */
            num = 1000000000 + logu(125000000, 1000000000000000ull), den = 1000000000;
            break;
        case 2: /* time factor: t / 60 */
            num = 61 + rnd() % 10019, den = 60;
            break;
        default: /* calibration logits: p/(1 − p) over any rational */
            num = logu(1, 1000000000000000ull), den = logu(1, 1000000000000000ull);
            break;
        }
        check(fx_ln_ratio(num, den), logl((long double)num / (long double)den) * 1e9L, "ln",
              (long double)num / (long double)den);
    }
    print_message("ln: worst error %.9Lf nanos\n", worst);
}

static void test_exp2(void **state)
{
    const uint64_t day = 86400000ull, hl = 10 * day;
    (void)state;
    worst = 0;
    assert_int_equal(fx_exp2_neg_ratio(0, hl), 1000000000);
    assert_int_equal(fx_exp2_neg_ratio(hl, hl), 500000000);
    assert_int_equal(fx_exp2_neg_ratio(3 * hl, hl), 125000000);
    for (int i = 0; i < N_RANDOM; i++) {
        uint64_t age = 1 + rnd() % (3 * hl); /* decay: x ∈ (0, 3] */
        check(fx_exp2_neg_ratio(age, hl), exp2l(-(long double)age / (long double)hl) * 1e9L,
              "exp2", (long double)age / (long double)hl);
    }
    for (int i = 0; i < 1000; i++) { /* wider: x up to 63 */
        uint64_t num = rnd() % (63ull << 32);
        check(fx_exp2_neg_ratio(num, 1ull << 32), exp2l(-(long double)num / 4294967296.0L) * 1e9L,
              "exp2", (long double)num);
    }
    print_message("exp2: worst error %.9Lf nanos\n", worst);
}

static void test_exp_logistic(void **state)
{
    const fx_wide d = (fx_wide)1000000000 * 1000000000; /* u = α·z at scale 10^18 */
    (void)state;
    worst = 0;
    assert_int_equal(fx_logistic_ratio(0, 1), 500000000);
    assert_int_equal(fx_logistic_ratio(100, 1), 1000000000);
    assert_int_equal(fx_logistic_ratio(-100, 1), 0);
    assert_int_equal(fx_exp_neg_ratio(0, 1), 1000000000);
    assert_int_equal(fx_exp_neg_ratio(-100, 1), 0);
    for (int i = 0; i < N_RANDOM; i++) {
        /* logistic: |u| ≤ 40 covers α·z for 4096 uids and α up to 0.6; edge of 64 saturates */
        int64_t a = (int64_t)(rnd() % 4000000001ull) - 2000000000; /* α ∈ [−2, 2] */
        int64_t z = (int64_t)(rnd() % 40000000001ull) - 20000000000; /* z ∈ [−20, 20] */
        fx_wide num = (fx_wide)a * z;
        long double u = (long double)a * (long double)z / 1e18L;
        check(fx_logistic_ratio(num, d), 1e9L / (1.0L + expl(-u)), "logistic", u);
        {
            fx_wide n2 = -(num < 0 ? -num : num);
            check(fx_exp_neg_ratio(n2, d), expl(-fabsl(u)) * 1e9L, "exp", -fabsl(u));
        }
    }
    print_message("logistic/exp: worst error %.9Lf nanos\n", worst);
}

static void test_sqrt(void **state)
{
    (void)state;
    /* exact: perfect squares, exact halves go to even, and the largest arguments */
    assert_true(fx_sqrt_ratio(0, 1) == 0);
    assert_true(fx_sqrt_ratio(144, 1) == 12);
    assert_true(fx_sqrt_ratio(9, 4) == 2);  /* 1.5 → 2 */
    assert_true(fx_sqrt_ratio(25, 4) == 2); /* 2.5 → 2 */
    assert_true(fx_sqrt_ratio(49, 4) == 4); /* 3.5 → 4 */
    assert_true(fx_sqrt_ratio(1000000000ll * 1000000000ll, 1) == 1000000000);
    fx_uwide big = ((fx_uwide)1 << 126) - 1;
    fx_uwide s = fx_sqrt_ratio(big, 1);
    assert_true(s == ((fx_uwide)1 << 63)); /* sqrt(2^126 − 1) rounds to 2^63 */
    for (int i = 0; i < N_RANDOM; i++) {
        fx_uwide num = (fx_uwide)rnd() * (rnd() % 1000000000000ull), den = 1 + rnd() % 1000000000000ull;
        fx_uwide r = fx_sqrt_ratio(num, den);
        /* exact characterisation: (2r − 1)²·den ≤ 4·num ≤ (2r + 1)²·den */
        long double want = sqrtl((long double)num / (long double)den);
        if (fabsl((long double)r - want) > 0.5L + want * 1e-18L + 1e-9L) {
            fail_msg("sqrt off: %.6Lf vs %.6Lf", (long double)r, want);
        }
    }
    for (int i = 0; i < N_RANDOM / 10; i++) { /* small arguments, checked exactly */
        uint64_t num = rnd() % 1000000000ull, den = 1 + rnd() % 1000;
        fx_uwide r = fx_sqrt_ratio(num, den);
        fx_uwide lo = r == 0 ? 0 : (2 * r - 1) * (2 * r - 1) * den, hi = (2 * r + 1) * (2 * r + 1) * den;
        assert_true(lo <= 4 * (fx_uwide)num && 4 * (fx_uwide)num <= hi);
    }
}

static void test_abs_corr(void **state)
{
    (void)state;
    assert_int_equal(fx_abs_corr(5, 5, 5), 1000000000);
    assert_int_equal(fx_abs_corr(-5, 5, 5), 1000000000);
    assert_int_equal(fx_abs_corr(0, 5, 5), 0);
    for (int i = 0; i < N_RANDOM; i++) {
        fx_wide sxx = (fx_wide)(1 + rnd() % 4000000000000000000ull) * (fx_wide)(1 + rnd() % 1000000);
        fx_wide syy = (fx_wide)(1 + rnd() % 4000000000000000000ull) * (fx_wide)(1 + rnd() % 1000000);
        long double lim = sqrtl((long double)sxx * (long double)syy);
        long double f = (long double)(rnd() >> 11) / 9007199254740992.0L * 2 - 1;
        fx_wide sxy = (fx_wide)(f * lim);
        check(fx_abs_corr(sxy, sxx, syy),
              1e9L * fabsl((long double)sxy) / sqrtl((long double)sxx * (long double)syy), "corr",
              f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_div_round_half_even), cmocka_unit_test(test_ln),
        cmocka_unit_test(test_exp2),                cmocka_unit_test(test_exp_logistic),
        cmocka_unit_test(test_sqrt),                cmocka_unit_test(test_abs_corr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

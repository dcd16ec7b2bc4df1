/* fx_abs_corr against a plain reference: the largest s in [0, 10^9] with s²·P ≤ Q found by
 * bisection over the whole range, then the same half-even rounding test. fx_abs_corr starts
 * from a guess and steps to the answer, so it must agree with the bisection bit for bit on every
 * input, whatever the guess: random magnitudes from 1 to 2^93, correlations at ±1 exactly, zero,
 * and tiny sums. Integers only, as in the engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include "engine/fx.h"

#define N_RANDOM 300000

typedef struct ref256 {
    fx_uwide hi, lo;
} ref256;

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

/* a uniform number of 1 to `bits` bits, so magnitudes spread evenly over the range */
static fx_uwide rnd_bits(unsigned bits)
{
    unsigned b = 1 + (unsigned)(rnd() % bits);
    fx_uwide x = ((fx_uwide)rnd() << 64) | rnd();
    x = b >= 128 ? x : x & (((fx_uwide)1 << b) - 1);
    return x | ((fx_uwide)1 << (b - 1));
}

static ref256 ref_mul(fx_uwide a, fx_uwide b)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64), b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    fx_uwide p00 = (fx_uwide)a0 * b0, p01 = (fx_uwide)a0 * b1, p10 = (fx_uwide)a1 * b0,
             p11 = (fx_uwide)a1 * b1;
    fx_uwide mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    return (ref256){p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), (mid << 64) | (uint64_t)p00};
}

static ref256 ref_mul64(ref256 a, uint64_t b)
{
    ref256 r = ref_mul(a.lo, b);
    r.hi += a.hi * b;
    return r;
}

static int ref_cmp(ref256 a, ref256 b)
{
    if (a.hi != b.hi) {
        return a.hi < b.hi ? -1 : 1;
    }
    return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static int64_t ref_abs_corr(fx_wide sxy, fx_wide sxx, fx_wide syy)
{
    fx_uwide a = (fx_uwide)(sxy < 0 ? -sxy : sxy);
    ref256 p = ref_mul((fx_uwide)sxx, (fx_uwide)syy);
    ref256 q = ref_mul64(ref_mul(a, a), 1000000000000000000ull);
    uint64_t lo = 0, hi = 1000000000u;
    int c;

    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (ref_cmp(ref_mul64(p, mid * mid), q) <= 0) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    c = ref_cmp(ref_mul64(p, (2 * lo + 1) * (2 * lo + 1)), ref_mul64(q, 4));
    if (lo < 1000000000u && (c < 0 || (c == 0 && (lo & 1) != 0))) {
        lo++;
    }
    return (int64_t)lo;
}

static fx_uwide isqrt128(fx_uwide n)
{
    fx_uwide x = n, y = (x + 1) / 2;

    while (y < x) {
        x = y, y = (x + n / x) / 2;
    }
    return x;
}

static void check(fx_wide sxy, fx_wide sxx, fx_wide syy)
{
    int64_t got = fx_abs_corr(sxy, sxx, syy), want = ref_abs_corr(sxy, sxx, syy);
    if (got != want) {
        fail_msg("fx_abs_corr(%016llx%016llx, %016llx%016llx, %016llx%016llx) = %lld, want %lld",
                 (unsigned long long)((fx_uwide)sxy >> 64), (unsigned long long)sxy,
                 (unsigned long long)((fx_uwide)sxx >> 64), (unsigned long long)sxx,
                 (unsigned long long)((fx_uwide)syy >> 64), (unsigned long long)syy, (long long)got,
                 (long long)want);
    }
}

/* |sxy| ≤ ⌊√sxx⌋·⌊√syy⌋ ≤ √(sxx·syy): inside the Cauchy–Schwarz bound the function assumes */
static void test_random(void **state)
{
    (void)state;
    for (int i = 0; i < N_RANDOM; i++) {
        fx_wide sxx = (fx_wide)rnd_bits(93), syy = (fx_wide)rnd_bits(93);
        fx_uwide lim = isqrt128((fx_uwide)sxx) * isqrt128((fx_uwide)syy);
        fx_uwide mag = lim == 0 ? 0 : (((fx_uwide)rnd() << 64) | rnd()) % (lim + 1);
        switch (rnd() % 4) {
        case 0:
            mag = lim; /* the bound itself */
            break;
        case 1:
            mag = lim - mag / 1000000; /* near it */
            break;
        default:
            break;
        }
        check(rnd() & 1 ? -(fx_wide)mag : (fx_wide)mag, sxx, syy);
    }
}

static void test_edges(void **state)
{
    (void)state;
    for (fx_wide x = 1; x <= 40; x++) {
        for (fx_wide y = 1; y <= 40; y++) {
            fx_uwide lim = isqrt128((fx_uwide)(x * y));
            for (fx_wide s = -(fx_wide)lim; s <= (fx_wide)lim; s++) {
                check(s, x, y);
            }
        }
    }
    for (int i = 0; i < 20000; i++) {
        /* exact ±1: sxx = u², syy = v², sxy = ±u·v, with u, v up to 2^46 */
        fx_wide u = (fx_wide)rnd_bits(46), v = (fx_wide)rnd_bits(46);
        check(i & 1 ? -u * v : u * v, u * u, v * v);
        check(u * v - 1, u * u, v * v);
        check(0, u * u, v * v);
    }
    check(0, ((fx_wide)1 << 94) - 1, ((fx_wide)1 << 94) - 1);
    check(((fx_wide)1 << 94) - 1, ((fx_wide)1 << 94) - 1, ((fx_wide)1 << 94) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

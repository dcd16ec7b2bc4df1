/* Fixed point: exact rounding helpers, Q62 series for ln and exp, integer square roots, and a
 * small 256-bit product for the correlation. Constants were computed with 80-digit decimal
 * arithmetic: LN2_Q62 = round(ln 2 · 2^62), SQRT2_Q62 = round(sqrt 2 · 2^62). */
#include "engine/fx.h"

#include "schema/status.h"

#define Q 62
#define ONE_Q ((fx_wide)1 << Q)
#define LN2_Q62 ((fx_wide)3196577161300663915ll)
#define SQRT2_Q62 ((fx_wide)6521908912666391106ll)

/* The same on int64 operands: hardware division, no 128-bit library call. */
static int64_t div64(int64_t num, int64_t den)
{
    int64_t q, r;

    if (den < 0) {
        num = -num, den = -den;
    }
    q = num / den, r = num % den;
    if (r < 0) {
        q -= 1, r += den;
    }
    if (r > den - r || (r == den - r && (q & 1) != 0)) {
        q += 1;
    }
    return q;
}

fx_wide fx_divw(fx_wide num, fx_wide den)
{
    fx_wide q, r;

    TALLY_ASSERT(den != 0);
    if (num > INT64_MIN && num <= INT64_MAX && den > INT64_MIN && den <= INT64_MAX) {
        return div64((int64_t)num, (int64_t)den);
    }
    if (den < 0) {
        num = -num, den = -den;
    }
    q = num / den, r = num % den;
    if (r < 0) {
        q -= 1, r += den;
    }
    if (2 * r > den || (2 * r == den && (q & 1) != 0)) {
        q += 1;
    }
    return q;
}

int64_t fx_div(fx_wide num, fx_wide den)
{
    fx_wide q = fx_divw(num, den);
    TALLY_ASSERT(q >= INT64_MIN && q <= INT64_MAX);
    return (int64_t)q;
}

int64_t fx_mul(int64_t a, int64_t b)
{
    fx_wide p = (fx_wide)a * b;
    fx_uwide mag = (fx_uwide)(p < 0 ? -p : p);

    /* most products fit 64 bits unsigned: divide by the constant there (a multiply and shift) */
    if (mag >> 64 == 0) {
        uint64_t m = (uint64_t)mag, q = m / 1000000000u, r = m - q * 1000000000u;
        if (r > 500000000u || (r == 500000000u && (q & 1) != 0)) {
            q++;
        }
        return p < 0 ? -(int64_t)q : (int64_t)q;
    }
    return fx_div(p, FX_ONE);
}

int64_t fx_round_to(int64_t x, int64_t q)
{
    TALLY_ASSERT(q > 0);
    return fx_div(x, q) * q;
}

/* Q62 value to nanos, half to even: v·10^9 / 2^(62 + extra_shift), the integer fx_div gives,
 * with shifts for the power-of-two divisor instead of a 128-bit division (>> of a negative
 * value is the arithmetic shift, floor, in gcc and clang). */
static int64_t q_to_nanos(fx_wide v, unsigned extra_shift)
{
    unsigned k = Q + extra_shift;
    fx_wide x = v * FX_ONE, q = x >> k, half = (fx_wide)1 << (k - 1);
    fx_wide r = (fx_wide)((fx_uwide)x & (((fx_uwide)1 << k) - 1)); /* x − q·2^k, in [0, 2^k) */

    if (r > half || (r == half && (q & 1) != 0)) {
        q += 1;
    }
    TALLY_ASSERT(q >= INT64_MIN && q <= INT64_MAX);
    return (int64_t)q;
}

static unsigned bitlen64(uint64_t x)
{
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

/* ln(m) for m in Q62 with m ∈ [1/sqrt2, sqrt2]: 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172,
 * so s² ≤ 0.0295 and 14 terms reach below 2^-64. */
static fx_wide ln_reduced(fx_wide m)
{
    fx_wide s = ((m - ONE_Q) * ONE_Q) / (m + ONE_Q), sum = s;
    /* |s| < 2^60 and s² < 2^57 in Q62: every term fits 64 bits, so the products are one
     * multiply and the divisions by k the hardware's (the same truncated quotients) */
    int64_t s2 = (int64_t)((s * s) / ONE_Q), term = (int64_t)s;

    for (int k = 3; k < 64; k += 2) {
        term = (int64_t)(((fx_wide)term * s2) / ONE_Q);
        if (term == 0) {
            break;
        }
        sum += term / k;
    }
    return 2 * sum;
}

/* ln(num / den) in Q62. */
static fx_wide ln_q(uint64_t num, uint64_t den)
{
    int e = (int)bitlen64(num) - (int)bitlen64(den);
    fx_uwide m;

    /* m = num / (den · 2^e) ∈ [1/2, 2) scaled by 2^62; both branches stay below 2^127 */
    for (;;) {
        if (e <= Q) {
            /* for 0 ≤ e ≤ 62 too the 64-bit divisor: num·2^62 / (den·2^e) = num·2^(62−e) / den
             * exactly, and the division routine does that in one instruction */
            m = ((fx_uwide)num << (Q - e)) / den;
        } else {
            m = ((fx_uwide)num << Q) / ((fx_uwide)den << e);
        }
        if (m < (fx_uwide)ONE_Q) {
            e--;
            continue;
        }
        if (m >= (fx_uwide)2 * ONE_Q) {
            e++;
            continue;
        }
        break;
    }
    if ((fx_wide)m > SQRT2_Q62) {
        m >>= 1;
        e++;
    }
    return ln_reduced((fx_wide)m) + (fx_wide)e * LN2_Q62;
}

int64_t fx_ln_ratio(uint64_t num, uint64_t den)
{
    TALLY_ASSERT(num > 0 && den > 0);
    return q_to_nanos(ln_q(num, den), 0);
}

/* e^(−r) in Q62 for r ∈ [0, ln 2] in Q62: alternating Taylor series, 22 terms < 2^-70. */
static fx_wide exp_neg_reduced(fx_wide r)
{
    /* 0 ≤ term ≤ 2^62 and r < 2^62: 64-bit operands, one multiply, hardware division by i */
    int64_t term = (int64_t)ONE_Q, r64 = (int64_t)r;
    fx_wide sum = ONE_Q;

    TALLY_ASSERT(r >= 0 && r <= LN2_Q62);
    for (int i = 1; i < 40; i++) {
        term = (int64_t)(((fx_wide)term * r64) / ONE_Q) / i;
        if (term == 0) {
            break;
        }
        sum += (i & 1) ? -term : term;
    }
    return sum;
}

/* Q62 of num / den for 0 ≤ num, 0 < den < 2^64, num / den < 2^64: integer part and remainder
 * separately so nothing overflows. */
static fx_wide ratio_q(fx_uwide num, fx_uwide den)
{
    fx_uwide ip = num / den, rem = num % den;
    TALLY_ASSERT(den < ((fx_uwide)1 << 64) && ip < ((fx_uwide)1 << 64));
    return (fx_wide)((ip << Q) + (rem << Q) / den);
}

int64_t fx_exp2_neg_ratio(uint64_t num, uint64_t den)
{
    uint64_t k;
    fx_wide f;

    TALLY_ASSERT(den > 0 && num / den < 64);
    k = num / den;
    f = ((fx_wide)(num % den) << Q) / den;
    /* 2^(−k − f) = e^(−f·ln2) / 2^k */
    return q_to_nanos(exp_neg_reduced((f * LN2_Q62) / ONE_Q), (unsigned)k);
}

/* e^(−a) in Q62 for a ≥ 0 in Q62 (a < 2^70): a = j·ln2 + r. Returns 0 below 2^-62. */
static fx_wide exp_neg_q(fx_wide a, unsigned *shift_out)
{
    fx_wide j = a / LN2_Q62, r = a - j * LN2_Q62;
    *shift_out = j > 62 ? 63u : (unsigned)j;
    return exp_neg_reduced(r);
}

int64_t fx_exp_neg_ratio(fx_wide num, fx_wide den)
{
    unsigned shift;
    fx_wide e;

    TALLY_ASSERT(num <= 0 && den > 0);
    if (-num / den >= 64) {
        return 0;
    }
    e = exp_neg_q(ratio_q((fx_uwide)-num, (fx_uwide)den), &shift);
    return q_to_nanos(e, shift);
}

int64_t fx_logistic_ratio(fx_wide num, fx_wide den)
{
    fx_wide a, e, res;
    fx_uwide mag;
    unsigned shift;

    TALLY_ASSERT(den > 0);
    mag = (fx_uwide)(num < 0 ? -num : num);
    if (mag / (fx_uwide)den >= 64) {
        /* e^-64 < 10^-27: the result is 0 or 1 to far below half a nano */
        return num < 0 ? 0 : FX_ONE;
    }
    a = ratio_q(mag, (fx_uwide)den);
    e = exp_neg_q(a, &shift) >> shift; /* e^(−|u|) in Q62 */
    /* logistic(|u|) = 1 / (1 + e); logistic(−|u|) = e / (1 + e) */
    res = num < 0 ? (e * ONE_Q) / (ONE_Q + e) : (ONE_Q * ONE_Q) / (ONE_Q + e);
    return q_to_nanos(res, 0);
}

static fx_uwide isqrt_u(fx_uwide n)
{
    fx_uwide x, y;
    unsigned bits = 0;

    if (n < 2) {
        return n;
    }
    for (fx_uwide t = n; t != 0; t >>= 1) {
        bits++;
    }
    x = (fx_uwide)1 << ((bits + 1) / 2); /* at least √n */
    for (;;) {
        y = (x + n / x) / 2;
        if (y >= x) {
            return x;
        }
        x = y;
    }
}

/* ---- 256-bit unsigned, enough for the products below ---- */

typedef struct u256 {
    fx_uwide hi, lo;
} u256;

static u256 mul128(fx_uwide a, fx_uwide b)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64), b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    fx_uwide p00 = (fx_uwide)a0 * b0, p01 = (fx_uwide)a0 * b1, p10 = (fx_uwide)a1 * b0,
             p11 = (fx_uwide)a1 * b1;
    fx_uwide mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    u256 r;

    r.lo = (mid << 64) | (uint64_t)p00;
    r.hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    return r;
}

/* a · b; the product must fit 256 bits (asserted). */
static u256 mul256_64(u256 a, uint64_t b)
{
    u256 r = mul128(a.lo, b);
    fx_uwide top = a.hi * b;

    TALLY_ASSERT(b == 0 || top / b == a.hi);
    TALLY_ASSERT(r.hi + top >= r.hi);
    r.hi += top;
    return r;
}

static int cmp256(u256 a, u256 b)
{
    if (a.hi != b.hi) {
        return a.hi < b.hi ? -1 : 1;
    }
    return a.lo < b.lo ? -1 : a.lo > b.lo;
}

fx_uwide fx_sqrt_ratio(fx_uwide num, fx_uwide den)
{
    fx_uwide s;
    int c;

    TALLY_ASSERT(den > 0);
    s = isqrt_u(num / den); /* ⌊√(num/den)⌋ = isqrt(⌊num/den⌋) */
    /* round up iff sqrt(num/den) > s + 1/2, i.e. 4·num > (2s+1)²·den; equality only for exact
     * halves, which go to the even neighbour */
    c = cmp256(mul128(num, 4), mul128((2 * s + 1) * (2 * s + 1), den));
    if (c > 0 || (c == 0 && (s & 1) != 0)) {
        s++;
    }
    return s;
}

/* ⌊√n⌋ in 64 bits (Newton from above, as isqrt_u). */
static uint64_t isqrt64(uint64_t n)
{
    uint64_t x, y;

    if (n < 2) {
        return n;
    }
    x = (uint64_t)1 << ((bitlen64(n) + 1) / 2); /* at least √n */
    for (;;) {
        y = (x + n / x) / 2;
        if (y >= x) {
            return x;
        }
        x = y;
    }
}

static unsigned bitlen128(fx_uwide x)
{
    return (uint64_t)(x >> 64) != 0 ? 64 + bitlen64((uint64_t)(x >> 64)) : bitlen64((uint64_t)x);
}

static u256 shr256(u256 x, unsigned k)
{
    if (k == 0) {
        return x;
    }
    if (k < 128) {
        return (u256){x.hi >> k, (x.lo >> k) | (x.hi << (128 - k))};
    }
    return (u256){0, k < 256 ? x.hi >> (k - 128) : 0};
}

/* A guess of ⌊√(q/p)⌋ within a unit or two, for p ≥ 1: both shifted right until p fits 64 bits,
 * which changes the quotient by a relative 2^-63 at most. Only a starting point: the caller
 * corrects it with exact comparisons. */
static uint64_t corr_guess(u256 p, u256 q)
{
    unsigned bl = p.hi != 0 ? 128 + bitlen128(p.hi) : bitlen128(p.lo);
    u256 ps = shr256(p, bl > 64 ? bl - 64 : 0), qs = shr256(q, bl > 64 ? bl - 64 : 0);
    fx_uwide r;

    if (qs.hi != 0 || ps.lo == 0) {
        return (uint64_t)FX_ONE; /* q/p beyond 2^64: the search starts from the top */
    }
    r = qs.lo / ps.lo;
    return r >= (fx_uwide)FX_ONE * FX_ONE ? (uint64_t)FX_ONE : isqrt64((uint64_t)r);
}

int64_t fx_abs_corr(fx_wide sxy, fx_wide sxx, fx_wide syy)
{
    fx_uwide a = (fx_uwide)(sxy < 0 ? -sxy : sxy);
    u256 p, q;
    uint64_t s;
    int c;

    TALLY_ASSERT(sxx > 0 && syy > 0 && a < ((fx_uwide)1 << 94) &&
                 (fx_uwide)sxx < ((fx_uwide)1 << 94) && (fx_uwide)syy < ((fx_uwide)1 << 94));
    /* ρ_nanos = sqrt(sxy² · 10^18 / (sxx · syy)); P = sxx·syy, Q = sxy²·10^18, both < 2^250 */
    p = mul128((fx_uwide)sxx, (fx_uwide)syy);
    q = mul256_64(mul128(a, a), (uint64_t)FX_ONE * (uint64_t)FX_ONE);
    /* the largest s ∈ [0, 10^9] with s²·P ≤ Q: s²·P grows with s, so stepping from any start
     * while the test says so ends on it; from the guess that is a step or two */
    s = corr_guess(p, q);
    s = s < (uint64_t)FX_ONE ? s : (uint64_t)FX_ONE;
    while (s > 0 && cmp256(mul256_64(p, s * s), q) > 0) {
        s--;
    }
    while (s < (uint64_t)FX_ONE && cmp256(mul256_64(p, (s + 1) * (s + 1)), q) <= 0) {
        s++;
    }
    /* round up iff (2s+1)²·P < 4·Q */
    c = cmp256(mul256_64(p, (2 * s + 1) * (2 * s + 1)), mul256_64(q, 4));
    if (s < (uint64_t)FX_ONE && (c < 0 || (c == 0 && (s & 1) != 0))) {
        s++;
    }
    return (int64_t)s;
}

/* engine/fx: integer fixed point for scoring (spec/scoring.md §0, §10). No floating-point type, no
 * libm: every result is a function of integers alone, so every build on every machine gives the
 * same bits.
 *
 * Representation. A real value is an int64 count of nanos (value × 10^9). Intermediates are
 * 128-bit (fx_wide). Transcendentals work internally in Q62 (value × 2^62, in 128 bits).
 *
 * Rounding. Every function returning nanos rounds once, half to even, from a value whose error
 * before that rounding is stated below. "Correctly rounded" means: the exact result rounded half
 * to even to nanos. Where a function is not exact, its result is the exact result correctly
 * rounded except when the exact value lies within the stated internal error of a half-nano
 * boundary; then it may be the neighbouring nano (a maximum error of 0.5 nano + the internal
 * error). The spec suggests a slower wider path in that case (Ziv's test); tally does not take
 * it, because every node and auditor runs this same code and so agrees bit for bit anyway
 * (docs/scoring.md).
 *
 * Domains are preconditions: a call outside them is a bug and fails TALLY_ASSERT. */
#ifndef TALLY_ENGINE_FX_H
#define TALLY_ENGINE_FX_H

#include <stdint.h>

#define FX_ONE 1000000000ll /* 1.0 in nanos */

typedef __int128 fx_wide;
typedef unsigned __int128 fx_uwide;

/* round_half_even(num / den), den ≠ 0, |num| < 2^126, |den| < 2^125. Exact. */
fx_wide fx_divw(fx_wide num, fx_wide den);
/* The same, asserting the result fits int64. */
int64_t fx_div(fx_wide num, fx_wide den);
/* round_half_even(a · b / 10^9): the product of two nanos values, in nanos. Exact. */
int64_t fx_mul(int64_t a, int64_t b);
/* x rounded half to even to a multiple of q > 0 (round8 of nanos: q = 10). Exact. */
int64_t fx_round_to(int64_t x, int64_t q);

/* ln(num / den) in nanos; num, den > 0. Internal error < 2·10^-8 nano (Q62 series, ln 2 to
 * 2^-63). Range of the result: ±44.4 (ln 2^64). */
int64_t fx_ln_ratio(uint64_t num, uint64_t den);

/* 2^(−num / den) in nanos; den > 0, num / den < 64. Internal error < 10^-8 nano. */
int64_t fx_exp2_neg_ratio(uint64_t num, uint64_t den);

/* e^(num / den) in nanos for num / den ≤ 0, i.e. num ≤ 0 < den, den < 2^64; results below half
 * a nano round to 0. Internal error < 10^-8 nano. */
int64_t fx_exp_neg_ratio(fx_wide num, fx_wide den);

/* logistic(u) = 1 / (1 + e^(−u)) for u = num / den, den > 0, den < 2^64, any num; in nanos.
 * Internal error < 10^-8 nano. */
int64_t fx_logistic_ratio(fx_wide num, fx_wide den);

/* round_half_even(sqrt(num / den)), den > 0. Exact (integer square root with an exact rounding
 * test). The caller chooses the scale: sqrt of x nanos in nanos is fx_sqrt_ratio(x · 10^9, 1). */
fx_uwide fx_sqrt_ratio(fx_uwide num, fx_uwide den);

/* round_half_even(10^9 · |sxy| / sqrt(sxx · syy)) for sxx, syy > 0, with sxy² ≤ sxx · syy
 * (Cauchy–Schwarz) and sxx, syy, |sxy| < 2^94: the absolute Pearson correlation in nanos from
 * centred sums. Exact, in 256-bit arithmetic. */
int64_t fx_abs_corr(fx_wide sxy, fx_wide sxx, fx_wide syy);

#endif

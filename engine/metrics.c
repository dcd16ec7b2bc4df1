/* The formulas of spec/scoring.md §3–§7, one function each, on nanos. Every named quantity
 * (":=" in the spec) is computed exactly from its already-rounded inputs and rounded once, half
 * to even (fx_div); the comments give the exact rational each line evaluates. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define DAY_MS 86400000ll
#define MIN_MS 60000ll
#define PROB_LO 1000000ll   /* 0.001 */
#define PROB_HI 999000000ll /* 0.999 */

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static int64_t abs64(int64_t x)
{
    return x < 0 ? -x : x;
}

int64_t engine_implied(uint64_t odds_n)
{
    TALLY_ASSERT(odds_n > 0);
    return fx_div((fx_wide)FX_ONE * FX_ONE, (fx_wide)odds_n);
}

/* ---- §3 ---- */

static int by_side_book_time(const void *a, const void *b)
{
    const engine_quote *x = a, *y = b;
    if (x->side != y->side) {
        return x->side < y->side ? -1 : 1;
    }
    if (x->book != y->book) {
        return x->book < y->book ? -1 : 1;
    }
    if (x->ts_ms != y->ts_ms) {
        return x->ts_ms < y->ts_ms ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* round8(clamp(num/den, 0.001, 0.999)) in nanos, den > 0: a multiple of 10. */
static int64_t round8_prob(fx_wide num, fx_wide den)
{
    if (num < (fx_wide)PROB_LO * den) {
        return PROB_LO;
    }
    if (num > (fx_wide)PROB_HI * den) {
        return PROB_HI;
    }
    return fx_div(num, den * 10) * 10;
}

tally_status engine_consensus(const engine_params *p, const engine_quote *q, size_t n, uint64_t t,
                              const uint64_t *sides, size_t n_sides, schema_cprice out[3],
                              size_t *n_out)
{
    engine_quote *v = malloc((n ? n : 1) * sizeof(*v));
    int64_t c[3] = {0};
    uint64_t books[3] = {0};
    fx_uwide sdev[3] = {0};
    size_t m = 0, k_out = 0, n_cons = 0;
    fx_wide csum = 0;

    TALLY_ASSERT(n_sides <= 3);
    /* tally v1 gives every book the neutral bias state f = 1, v = 0.01 (D3): the book is
     * dropped only if the configured bounds exclude f = 1, and equal weights make the weighted
     * mean the plain mean */
    *n_out = 0;
    if (v == NULL) {
        return TALLY_ENOMEM;
    }
    if (p->min_bias > FX_ONE || p->max_bias < FX_ONE) {
        free(v);
        return TALLY_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (q[i].ts_ms < t && q[i].ts_ms + 2 * 3600000ull >= t) { /* T − 2 h ≤ ts < T */
            v[m++] = q[i];
        }
    }
    qsort(v, m, sizeof(*v), by_side_book_time);
    for (size_t s = 0; s < n_sides; s++) {
        fx_wide sum = 0, sum2 = 0;
        uint64_t k = 0;
        for (size_t i = 0; i < m; i++) {
            /* the latest (ts, seq) of each (side, book): the last of its run after the sort */
            if (v[i].side != sides[s] || (i + 1 < m && v[i + 1].side == v[i].side &&
                                          v[i + 1].book == v[i].book)) {
                continue;
            }
            int64_t a = clamp64(engine_implied(v[i].odds_n), PROB_LO, PROB_HI);
            sum += a, sum2 += (fx_wide)a * a, k++;
        }
        if (k < (uint64_t)p->min_books || k == 0) {
            continue;
        }
        c[s] = round8_prob(sum, (fx_wide)k);
        books[s] = k;
        /* population std-dev of the a_b, recorded only: sqrt((kΣa² − (Σa)²) / k²) */
        sdev[s] = fx_sqrt_ratio((fx_uwide)((fx_wide)k * sum2 - sum * sum), (fx_uwide)k * k);
        csum += c[s];
        n_cons++;
    }
    for (size_t s = 0; s < n_sides; s++) {
        int64_t pi;
        if (books[s] == 0) {
            continue;
        }
        /* de-vig across sides (D2) when at least two have a consensus */
        pi = n_cons >= 2 ? round8_prob((fx_wide)c[s] * FX_ONE, csum) : c[s];
        out[k_out++] = (schema_cprice){.side = sides[s],
                                       .prob_n = (uint64_t)pi,
                                       .odds_n = (uint64_t)fx_div((fx_wide)10000000000000ll, pi) *
                                                 100000ull,
                                       .books = books[s],
                                       .has_std_dev_n = true,
                                       .std_dev_n = (uint64_t)sdev[s]};
    }
    free(v);
    *n_out = k_out;
    return TALLY_OK;
}

/* ---- §4 ---- */

void engine_close_metrics(const engine_params *p, uint64_t odds_n, int64_t pi, int64_t omega,
                          int64_t start_ms, int64_t t_sub, schema_close_metrics *out)
{
    int64_t o = (int64_t)odds_n, prob = engine_implied(odds_n);

    /* clv_odds := (O − Ω)/Ω if Ω > 1; clv_prob := (π − p)/π if π > 0 */
    out->clv_odds = omega > FX_ONE ? fx_div((fx_wide)(o - omega) * FX_ONE, omega) : 0;
    out->clv_prob = pi > 0 ? fx_div((fx_wide)(pi - prob) * FX_ONE, pi) : 0;
    /* cle := clamp(O·π − 1, cle_min, cle_max) (D1) */
    out->cle = clamp64(fx_div((fx_wide)o * pi - (fx_wide)FX_ONE * FX_ONE, FX_ONE), p->cle_min,
                       p->cle_max);
    /* mes := 1 − min(1, |clv_prob|) (D5) */
    out->mes = FX_ONE - (abs64(out->clv_prob) < FX_ONE ? abs64(out->clv_prob) : FX_ONE);
    out->minutes_to_close = start_ms > t_sub ? (uint64_t)((start_ms - t_sub) / MIN_MS) : 0;
}

bool engine_outcome_metrics(const int64_t *x_in, const int64_t *pi, size_t n, size_t rho,
                            engine_outcome *out)
{
    int64_t x[3], q[3], t[3];
    fx_wide sx = 0, spi = 0, b = 0, bc = 0;
    size_t present = 0;
    const int64_t eps = 1, one_eps = FX_ONE - 1; /* ε = 10^-9 */

    TALLY_ASSERT(n >= 2 && n <= 3 && rho < n);
    memset(out, 0, sizeof(*out));
    for (size_t k = 0; k < n; k++) {
        x[k] = x_in[k];
        present += x[k] >= 0;
    }
    if (n >= 3 ? present != n : present == 0) {
        return false;
    }
    if (n == 2 && present == 1) {
        /* one side of a two-way market: the other is its complement */
        if (x[0] < 0) {
            x[0] = FX_ONE - x[1];
        } else {
            x[1] = FX_ONE - x[0];
        }
    }
    for (size_t k = 0; k < n; k++) {
        sx += x[k], spi += pi[k];
    }
    for (size_t k = 0; k < n; k++) {
        int64_t y = k == rho ? FX_ONE : 0;
        q[k] = fx_div((fx_wide)x[k] * FX_ONE, sx);
        t[k] = fx_div((fx_wide)pi[k] * FX_ONE, spi);
        b += (fx_wide)(q[k] - y) * (q[k] - y);
        bc += (fx_wide)(t[k] - y) * (t[k] - y);
    }
    out->brier = fx_div(b, FX_ONE);
    out->brier_close = fx_div(bc, FX_ONE);
    out->logloss = -fx_ln_ratio((uint64_t)clamp64(q[rho], eps, one_eps), FX_ONE);
    out->logloss_close = -fx_ln_ratio((uint64_t)clamp64(t[rho], eps, one_eps), FX_ONE);
    out->pss_brier = out->brier_close != 0 ? fx_div((fx_wide)(out->brier_close - out->brier) *
                                                        FX_ONE, out->brier_close)
                                           : 0;
    out->pss_log = out->logloss_close != 0 ? fx_div((fx_wide)(out->logloss_close - out->logloss) *
                                                        FX_ONE, out->logloss_close)
                                           : 0;
    out->pss = fx_div((fx_wide)out->pss_brier + out->pss_log, 2);
    return true;
}

int64_t engine_time_factor(const engine_params *p, uint64_t minutes)
{
    int64_t l1, l2;

    if (minutes <= (uint64_t)p->tw_min) {
        return p->tw_floor;
    }
    if (minutes >= (uint64_t)p->tw_max) {
        return FX_ONE;
    }
    /* f := φ + (1 − φ)·ln(t/t_min)/ln(t_max/t_min), each ln first rounded to nanos */
    l1 = fx_ln_ratio(minutes, (uint64_t)p->tw_min);
    l2 = fx_ln_ratio((uint64_t)p->tw_max, (uint64_t)p->tw_min);
    return fx_div((fx_wide)p->tw_floor * l2 + (fx_wide)(FX_ONE - p->tw_floor) * l1, l2);
}

int64_t engine_pss_adj(const engine_params *p, int64_t pss, int64_t f)
{
    if (!p->tw_enabled) {
        return pss;
    }
    if (pss >= 0) {
        return fx_mul(pss, f);
    }
    /* pss · (c + (1 − c)·(1 − f)) */
    return fx_div((fx_wide)pss * ((fx_wide)p->tw_clip * FX_ONE +
                                  (fx_wide)(FX_ONE - p->tw_clip) * (FX_ONE - f)),
                  (fx_wide)FX_ONE * FX_ONE);
}

/* ---- §5 ---- */

int64_t engine_decay(const engine_params *p, int64_t age_ms)
{
    TALLY_ASSERT(age_ms >= 0);
    return fx_exp2_neg_ratio((uint64_t)age_ms, (uint64_t)(p->half_life_days * DAY_MS));
}

int64_t engine_shrink_alpha(const engine_params *p, int64_t n_eff)
{
    int64_t l1 = fx_ln_ratio((uint64_t)(FX_ONE + n_eff), FX_ONE);
    int64_t l2 = fx_ln_ratio((uint64_t)(FX_ONE + n_eff + p->shrink_k), FX_ONE);

    return l2 > 0 ? clamp64(fx_div((fx_wide)l1 * FX_ONE, l2), 0, FX_ONE) : 0;
}

void engine_shrink(const engine_params *p, const int64_t *x, const int64_t *n_eff, size_t n,
                   int64_t *out, int64_t *mu_out)
{
    fx_wide num = 0, den = 0;
    int64_t mu;

    for (size_t i = 0; i < n; i++) {
        num += (fx_wide)n_eff[i] * x[i];
        den += n_eff[i];
    }
    mu = den > 0 ? fx_div(num, den) : 0;
    for (size_t i = 0; i < n; i++) {
        int64_t a = engine_shrink_alpha(p, n_eff[i]);
        out[i] = fx_div((fx_wide)a * x[i] + (fx_wide)(FX_ONE - a) * mu, FX_ONE);
    }
    if (mu_out != NULL) {
        *mu_out = mu;
    }
}

/* ln(r/(1 − r)) for r = num/den clamped to [10^-6, 1 − 10^-6]; den > 0, 0 ≤ num ≤ den. */
static int64_t logit_ratio(uint64_t num, uint64_t den)
{
    const uint64_t lo = 1000, hi = 999999000; /* 10^-6 and 1 − 10^-6 in nanos */

    if ((fx_uwide)num * FX_ONE <= (fx_uwide)lo * den) {
        return fx_ln_ratio(lo, (uint64_t)FX_ONE - lo);
    }
    if ((fx_uwide)num * FX_ONE >= (fx_uwide)hi * den) {
        return fx_ln_ratio(hi, (uint64_t)FX_ONE - hi);
    }
    return fx_ln_ratio(num, den - num);
}

int64_t eng__calibration_bins(const engine_params *p, const uint64_t *cnt, const uint64_t *hits,
                              const uint64_t *psum, uint64_t k, int64_t *a_out, int64_t *b_out)
{
    fx_wide sx = 0, sy = 0, sxy = 0, sxx = 0, num, den;
    int64_t m = 0, b, a;

    *a_out = 0, *b_out = 0;
    if (k < (uint64_t)p->min_cal) {
        return FX_ONE / 2;
    }
    for (int64_t j = 0; j < p->num_bins; j++) {
        int64_t x, y;
        if (cnt[j] < (uint64_t)p->min_per_bin) {
            continue;
        }
        x = logit_ratio(psum[j], cnt[j] * (uint64_t)FX_ONE);
        y = logit_ratio(hits[j], cnt[j]);
        sx += x, sy += y, sxy += (fx_wide)x * y, sxx += (fx_wide)x * x, m++;
    }
    num = (fx_wide)m * sxy - sx * sy;
    den = (fx_wide)m * sxx - sx * sx;
    if (m < 2 || den == 0) {
        return FX_ONE / 2; /* D8: no fit is neutral, not perfect */
    }
    b = fx_div(num * FX_ONE, den);
    a = fx_div(sy * FX_ONE - (fx_wide)b * sx, (fx_wide)m * FX_ONE);
    *a_out = a, *b_out = b;
    return fx_div((fx_wide)FX_ONE * FX_ONE, (fx_wide)FX_ONE + abs64(b - FX_ONE) + abs64(a));
}

int64_t engine_calibration(const engine_params *p, const int64_t *prob, const uint8_t *hit,
                           size_t k, int64_t *a_out, int64_t *b_out)
{
    uint64_t cnt[64] = {0}, hits[64] = {0}, psum[64] = {0};
    int64_t nb = p->num_bins;

    TALLY_ASSERT(nb >= 2 && nb <= 64);
    for (size_t i = 0; i < k; i++) {
        int64_t bin = (int64_t)(((fx_wide)prob[i] * nb) / FX_ONE);
        bin = bin < nb - 1 ? bin : nb - 1;
        cnt[bin]++, hits[bin] += hit[i], psum[bin] += (uint64_t)prob[i];
    }
    return eng__calibration_bins(p, cnt, hits, psum, k, a_out, b_out);
}

int64_t eng__sharpness_sums(const engine_params *p, uint64_t k, fx_wide s, fx_wide s2)
{
    fx_wide var_num;

    if (k < 30) {
        return FX_ONE / 2;
    }
    /* var = (kΣp² − (Σp)²)/k² nanos²; sharp := min(1, var / target) */
    var_num = (fx_wide)k * s2 - s * s;
    if (var_num >= (fx_wide)k * (fx_wide)k * p->sharp_target * FX_ONE) {
        return FX_ONE;
    }
    return fx_div(var_num, (fx_wide)k * (fx_wide)k * p->sharp_target);
}

int64_t engine_sharpness(const engine_params *p, const int64_t *prob, size_t k)
{
    fx_wide s = 0, s2 = 0;

    for (size_t i = 0; i < k; i++) {
        s += prob[i], s2 += (fx_wide)prob[i] * prob[i];
    }
    return eng__sharpness_sums(p, k, s, s2);
}

/* ---- §5.7 ---- */

static int by_time_seq(const void *a, const void *b)
{
    const engine_point *x = a, *y = b;
    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Buckets a sorted series in place (last point per bucket, time = bucket start). */
static size_t bucketise(engine_point *s, size_t n, int64_t beta)
{
    size_t m = 0, k = 1;

    /* the series come mostly in (time, seq) order already: a strictly ascending one is the only
     * order the sort could give, so it is not sorted again */
    while (k < n && by_time_seq(&s[k - 1], &s[k]) < 0) {
        k++;
    }
    if (k < n) {
        qsort(s, n, sizeof(*s), by_time_seq);
    }
    for (size_t i = 0; i < n; i++) {
        int64_t bt = s[i].t - s[i].t % beta;
        if (m > 0 && s[m - 1].t == bt) {
            s[m - 1].v = s[i].v;
        } else {
            s[m] = (engine_point){bt, s[i].seq, s[i].v};
            m++;
        }
    }
    return m;
}

size_t eng__bucketise(const engine_params *p, engine_point *s, size_t n)
{
    return bucketise(s, n, p->bucket_min * MIN_MS);
}

void engine_series_pair(const engine_params *p, engine_point *truth, size_t nt,
                        engine_point *miner, size_t nm, engine_pair *out)
{
    nt = eng__bucketise(p, truth, nt);
    nm = eng__bucketise(p, miner, nm);
    eng__series_bucketed(p, truth, nt, miner, nm, out);
}

void eng__series_bucketed(const engine_params *p, const engine_point *truth, size_t nt,
                          const engine_point *miner, size_t nm, engine_pair *out)
{
    int64_t lead = p->lead_win_min * MIN_MS, lag = p->lag_win_min * MIN_MS;
    fx_wide sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    size_t i, j, n = 0;

    memset(out, 0, sizeof(*out));
    if (nt < 2 || nm < 2) {
        return;
    }
    /* lead: each truth move against the miner's moves of the same direction within
     * [t − lead, t + lag]. Both series are bucketed (strictly ascending times) and t − lead only
     * grows, so a miner move skipped once (the other direction, too small, or before the
     * window) is never in a later window: one forward cursor per direction finds the earliest
     * move in the window, and the truth move is matched when that one lies at or before t + lag,
     * led when it lies before t. */
    size_t cur[2] = {1, 1};
    for (i = 1; i < nt; i++) {
        int64_t d = truth[i].v - truth[i - 1].v, t = truth[i].t;
        bool up = d > 0, matched, led;
        if (abs64(d) < p->move_threshold) {
            continue;
        }
        for (j = cur[up]; j < nm; j++) {
            int64_t dm = miner[j].v - miner[j - 1].v, tm = miner[j].t;
            if (abs64(dm) >= p->move_threshold && (dm > 0) == up && tm >= t - lead) {
                break;
            }
        }
        cur[up] = j;
        matched = j < nm && miner[j].t <= t + lag;
        led = matched && miner[j].t < t;
        out->matched += matched;
        out->led += led;
    }
    if (out->matched > 0) {
        out->has_lead = true;
        out->lead = fx_div((fx_wide)out->led * FX_ONE, (fx_wide)out->matched);
    }
    /* SOS over buckets present in both series (both sorted by bucket) */
    for (i = 0, j = 0; i < nt && j < nm;) {
        if (truth[i].t < miner[j].t) {
            i++;
        } else if (truth[i].t > miner[j].t) {
            j++;
        } else {
            fx_wide x = miner[j].v, y = truth[i].v;
            sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y, n++;
            i++, j++;
        }
    }
    out->aligned = n;
    if (n >= 3 && n <= 100000) {
        fx_wide cxx = (fx_wide)n * sxx - sx * sx, cyy = (fx_wide)n * syy - sy * sy,
                cxy = (fx_wide)n * sxy - sx * sy;
        if (cxx > 0 && cyy > 0) {
            out->has_sos = true;
            out->sos = FX_ONE - fx_abs_corr(cxy, cxx, cyy);
        }
    }
}

/* ---- §6.2 ---- */

void engine_normalise(const engine_params *p, const int64_t *v, size_t n, int64_t *out)
{
    fx_wide sum = 0, ss = 0;
    int64_t m, sigma;

    if (n == 0) {
        return;
    }
    if ((int64_t)n < p->min_zscore) {
        for (size_t i = 0; i < n; i++) {
            uint64_t l = 0, e = 0;
            if (n == 1) {
                out[i] = FX_ONE / 2;
                continue;
            }
            for (size_t j = 0; j < n; j++) {
                l += v[j] < v[i], e += v[j] == v[i];
            }
            /* (L + (E + 1)/2)/(n + 1) */
            out[i] = fx_div((fx_wide)(2 * l + e + 1) * FX_ONE, 2 * (fx_wide)(n + 1));
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sum += v[i];
    }
    m = fx_div(sum, (fx_wide)n);
    for (size_t i = 0; i < n; i++) {
        ss += (fx_wide)(v[i] - m) * (v[i] - m);
    }
    sigma = (int64_t)fx_sqrt_ratio((fx_uwide)ss, n);
    for (size_t i = 0; i < n; i++) {
        int64_t z;
        if (sigma == 0) {
            out[i] = FX_ONE / 2; /* D12: identical values are exactly neutral */
            continue;
        }
        z = fx_div((fx_wide)(v[i] - m) * FX_ONE, sigma);
        out[i] = fx_logistic_ratio((fx_wide)p->logistic_alpha * z, (fx_wide)FX_ONE * FX_ONE);
    }
}

/* ---- §7.4–7.5 ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void engine_maxweight(const int64_t *x_in, size_t m, int64_t l_num, int64_t l_den, int64_t *y)
{
    int64_t *x = malloc((m ? m : 1) * sizeof(*x)), *v = malloc((m ? m : 1) * sizeof(*v));
    fx_wide s = 0, c = 0, mx = 0;
    const int64_t inv_eps = 10000000; /* ε = 10^-7 */

    TALLY_ASSERT(x != NULL && v != NULL && m > 0 && l_den > 0 && l_num >= 0);
    for (size_t i = 0; i < m; i++) {
        x[i] = v[i] = x_in[i];
        s += x[i];
        mx = x[i] > mx ? x[i] : mx;
    }
    if (s == 0 || (fx_wide)m * l_num <= l_den) {
        for (size_t i = 0; i < m; i++) {
            y[i] = fx_div(FX_ONE, (fx_wide)m);
        }
        goto done;
    }
    if (mx * l_den > (fx_wide)l_num * s) {
        size_t k = 0;
        fx_wide ck = 0, num, den;
        qsort(v, m, sizeof(*v), cmp_i64);
        /* k = #{i : v_i < L·((m − i − 1)·v_i + C_i + ε·S)}, exactly */
        for (size_t i = 0; i < m; i++) {
            c += v[i];
            if ((fx_wide)v[i] * l_den * inv_eps <
                (fx_wide)l_num * (((fx_wide)(m - i - 1) * v[i] + c) * inv_eps + s)) {
                k++;
            }
        }
        TALLY_ASSERT(k >= 1);
        for (size_t i = 0; i < k; i++) {
            ck += v[i];
        }
        /* cutoff = (L·C_{k−1} − ε·S)/(1 − L·(m − k)) */
        num = (fx_wide)l_num * ck * inv_eps - (fx_wide)l_den * s;
        den = (fx_wide)inv_eps * ((fx_wide)l_den - (fx_wide)l_num * (fx_wide)(m - k));
        TALLY_ASSERT(den > 0);
        s = 0;
        for (size_t i = 0; i < m; i++) {
            if ((fx_wide)x[i] * den > num) {
                x[i] = fx_div(num, den);
            }
            s += x[i];
        }
    }
    for (size_t i = 0; i < m; i++) {
        y[i] = fx_div((fx_wide)x[i] * FX_ONE, s);
    }
done:
    free(x);
    free(v);
}

void engine_u16(const int64_t *y, size_t m, uint64_t *w)
{
    int64_t mx = 0;

    for (size_t i = 0; i < m; i++) {
        mx = y[i] > mx ? y[i] : mx;
    }
    for (size_t i = 0; i < m; i++) {
        w[i] = mx > 0 ? (uint64_t)fx_div((fx_wide)65535 * y[i], mx) : 0;
    }
}

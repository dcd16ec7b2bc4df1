/* The worked examples of spec/scoring.md §11 as known-answer tests, each metric against a
 * double-precision version of its formula written here, and the §11.12 end-to-end example
 * through the fold (records in, MINER_SCOREs and WEIGHTS out). Tolerances are the spec's:
 * ±5e-9 unless stated; consensus and u16 exact. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define NANO 1e-9
#define T(s) ((int64_t)llround((s) * 1e9)) /* a decimal literal in nanos (tests only) */

static void near(int64_t got, double want, int64_t tol_nanos, const char *what)
{
    int64_t w = T(want);
    if (llabs(got - w) > tol_nanos) {
        fail_msg("%s: got %.9f want %.9f (tolerance %lld nanos)", what, (double)got * NANO, want,
                 (long long)tol_nanos);
    }
}

static engine_params P(void)
{
    engine_params p;
    engine_params_default(&p);
    return p;
}

/* 2026-02-25T18:00Z and friends, in ms */
#define MS_2026_02_25_18 1772042400000ll
#define MIN 60000ll
#define HOUR 3600000ll
#define DAY 86400000ll

static void test_consensus_11_1(void **state)
{
    engine_params p = P();
    int64_t t = MS_2026_02_25_18;
    uint64_t sides[2] = {SCHEMA_HOME, SCHEMA_AWAY};
    engine_quote q[] = {
        {SCHEMA_HOME, 1, (uint64_t)(t - 30 * MIN), 1, 1800000000},
        {SCHEMA_AWAY, 1, (uint64_t)(t - 30 * MIN), 1, 2100000000},
        {SCHEMA_HOME, 2, (uint64_t)(t - 5 * MIN), 2, 1850000000},
        {SCHEMA_AWAY, 2, (uint64_t)(t - 5 * MIN), 2, 2050000000},
        {SCHEMA_HOME, 3, (uint64_t)(t - 100 * MIN), 3, 1900000000},
        {SCHEMA_HOME, 3, (uint64_t)(t - 15 * MIN), 4, 1830000000},
        {SCHEMA_AWAY, 3, (uint64_t)(t - 15 * MIN), 4, 2080000000},
        {SCHEMA_HOME, 4, (uint64_t)(t - 150 * MIN), 5, 1700000000},
        {SCHEMA_AWAY, 4, (uint64_t)(t - 150 * MIN), 5, 2300000000},
        {SCHEMA_HOME, 5, (uint64_t)t, 6, 1600000000},
    };
    schema_cprice out[3];
    size_t n;
    (void)state;
    assert_int_equal(engine_consensus(&p, q, sizeof(q) / sizeof(q[0]), (uint64_t)t, sides, 2, out,
                                      &n), TALLY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].side, SCHEMA_HOME);
    assert_int_equal(out[0].prob_n, 532031070);
    assert_int_equal(out[0].odds_n, 1879600000);
    assert_int_equal(out[0].books, 3);
    assert_int_equal(out[1].prob_n, 467968930);
    assert_int_equal(out[1].odds_n, 2136900000);
    assert_int_equal(out[1].books, 3);
    /* one book only: no consensus (min_books 2) */
    assert_int_equal(engine_consensus(&p, q + 9, 1, (uint64_t)t + 1, sides, 2, out, &n), TALLY_OK);
    assert_int_equal(n, 0);
}

static void test_close_11_2(void **state)
{
    engine_params p = P();
    schema_close_metrics m;
    int64_t t_sub = MS_2026_02_25_18 - 3 * DAY - 4 * HOUR - 31 * MIN; /* 02-22 13:29 */
    (void)state;
    engine_close_metrics(&p, 2050000000, 532031070, 1879600000, MS_2026_02_25_18, t_sub, &m);
    assert_int_equal(m.minutes_to_close, 4591);
    near(m.clv_odds, 0.090657587, 5, "clv_odds home");
    near(m.clv_prob, 0.083127085, 5, "clv_prob home");
    near(m.cle, 0.090663694, 5, "cle home");
    near(m.mes, 0.916872915, 5, "mes home");
    engine_close_metrics(&p, 1950000000, 467968930, 2136900000, MS_2026_02_25_18, t_sub, &m);
    near(m.clv_odds, -0.087463148, 5, "clv_odds away");
    near(m.clv_prob, -0.095843078, 5, "clv_prob away");
    near(m.cle, -0.087460586, 5, "cle away");
    near(m.mes, 0.904156922, 5, "mes away");
}

static void test_outcome_11_3_11_4(void **state)
{
    engine_outcome o;
    int64_t x[3] = {engine_implied(2050000000), -1, 0}, pi[3] = {532031070, 467968930, 0};
    (void)state;
    assert_true(engine_outcome_metrics(x, pi, 2, 0, &o));
    near(o.brier, 0.524687686, 5, "brier home");
    near(o.brier_close, 0.437989839, 5, "brier_close");
    near(o.logloss, 0.717839793, 5, "logloss");
    near(o.logloss_close, 0.631053389, 5, "logloss_close");
    near(o.pss_brier, -0.197944882, 5, "pss_brier");
    near(o.pss_log, -0.137526247, 5, "pss_log");
    near(o.pss, -0.167735564, 5, "pss");
    assert_true(engine_outcome_metrics(x, pi, 2, 1, &o));
    near(o.brier, 0.475907198, 5, "brier away");
    near(o.pss, 0.139132978, 5, "pss away");
    /* three-way with overround, result draw */
    int64_t x3[3] = {engine_implied(2500000000), engine_implied(2900000000),
                     engine_implied(3400000000)};
    int64_t pi3[3] = {450000000, 280000000, 270000000};
    assert_true(engine_outcome_metrics(x3, pi3, 3, 2, &o));
    near(o.brier, 0.772344486, 5, "brier 3-way");
    near(o.brier_close, 0.813800000, 5, "brier_close 3-way");
    near(o.logloss, 1.261981431, 5, "logloss 3-way");
    near(o.logloss_close, 1.309333320, 5, "logloss_close 3-way");
    near(o.pss, 0.043552775, 5, "pss 3-way");
    /* a three-way group missing a side is unscored; so is an empty two-way one */
    x3[1] = -1;
    assert_false(engine_outcome_metrics(x3, pi3, 3, 2, &o));
    int64_t none[2] = {-1, -1};
    assert_false(engine_outcome_metrics(none, pi, 2, 0, &o));
}

static void test_time_factor_11_5(void **state)
{
    engine_params p = P();
    static const struct {
        uint64_t min;
        double f, pos, neg;
    } rows[] = {{0, 0.1, 0.02, -0.194},
                {60, 0.1, 0.02, -0.194},
                {61, 0.102903294, 0.020580659, -0.193825802},
                {120, 0.221748019, 0.044349604, -0.186695119},
                {720, 0.536462082, 0.107292416, -0.167812275},
                {1440, 0.658210100, 0.131642020, -0.160507394},
                {4591, 0.861862835, 0.172372567, -0.148288230},
                {10079, 0.999982574, 0.199996515, -0.140001046},
                {10080, 1.0, 0.2, -0.14},
                {20000, 1.0, 0.2, -0.14}};
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t f = engine_time_factor(&p, rows[i].min);
        near(f, rows[i].f, 5, "time factor");
        near(engine_pss_adj(&p, 200000000, f), rows[i].pos, 5, "pss_adj +0.2");
        near(engine_pss_adj(&p, -200000000, f), rows[i].neg, 5, "pss_adj -0.2");
    }
    p.tw_enabled = false;
    assert_int_equal(engine_pss_adj(&p, -200000000, 100000000), -200000000);
}

static void test_decay_11_6(void **state)
{
    engine_params p = P();
    (void)state;
    near(engine_decay(&p, 12 * HOUR), 0.965936329, 5, "w 12h");
    near(engine_decay(&p, 3 * DAY), 0.812252396, 5, "w 3d");
    near(engine_decay(&p, 12 * DAY + 6 * HOUR), 0.427797513, 5, "w 12.25d");
    near(engine_decay(&p, 29 * DAY + DAY * 9 / 10), 0.125869444, 5, "w 29.9d");
    assert_int_equal(engine_decay(&p, 10 * DAY), 500000000);
    assert_int_equal(engine_decay(&p, 30 * DAY), 125000000);
}

static void test_shrink_11_7(void **state)
{
    engine_params p = P();
    int64_t x[3] = {T(0.12), T(-0.05), T(0.30)}, ne[3] = {T(8), T(40), T(1.5)}, out[3], mu;
    (void)state;
    engine_shrink(&p, x, ne, 3, out, &mu);
    near(mu, -0.011919192, 5, "mu");
    near(engine_shrink_alpha(&p, ne[0]), 0.411285493, 5, "alpha A");
    near(engine_shrink_alpha(&p, ne[1]), 0.677066464, 5, "alpha B");
    near(engine_shrink_alpha(&p, ne[2]), 0.172535419, 5, "alpha C");
    near(out[0], 0.042337258, 5, "A'");
    near(out[1], -0.037702430, 5, "B'");
    near(out[2], 0.041897917, 5, "C'");
}

static void test_normalise_11_8(void **state)
{
    engine_params p = P();
    int64_t v4[4] = {T(0.3), T(0.1), T(0.3), T(0.5)}, o4[4];
    double v10[10] = {0.12, -0.04, 0.31, 0.05, 0.00, -0.22, 0.18, 0.07, 0.09, -0.01};
    double w10[10] = {0.619364995, 0.329255202, 0.871015217, 0.490638521, 0.398443864,
                      0.113069276, 0.718343042, 0.528058213, 0.565165242, 0.380635005};
    int64_t v[12], o[12];
    (void)state;
    engine_normalise(&p, v4, 4, o4);
    assert_int_equal(o4[0], 500000000);
    assert_int_equal(o4[1], 200000000);
    assert_int_equal(o4[2], 500000000);
    assert_int_equal(o4[3], 800000000);
    for (int i = 0; i < 10; i++) {
        v[i] = T(v10[i]);
    }
    engine_normalise(&p, v, 10, o);
    for (int i = 0; i < 10; i++) {
        near(o[i], w10[i], 5, "z-score logistic");
    }
    /* D12: identical values are exactly 0.5 */
    for (int i = 0; i < 12; i++) {
        v[i] = T(0.3);
    }
    engine_normalise(&p, v, 12, o);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(o[i], 500000000);
    }
    engine_normalise(&p, v, 1, o);
    assert_int_equal(o[0], 500000000);
}

static void test_calibration_11_9(void **state)
{
    engine_params p = P();
    int64_t prob[40], a, b, cal;
    uint8_t hit[40];
    size_t k = 0;
    struct {
        uint64_t odds;
        int n, hits;
    } g[] = {{2380000000, 12, 5}, {1750000000, 15, 10}, {1500000000, 10, 7}, {4000000000, 3, 0}};
    (void)state;
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < g[i].n; j++) {
            prob[k] = engine_implied(g[i].odds), hit[k++] = j < g[i].hits;
        }
    }
    cal = engine_calibration(&p, prob, hit, k, &a, &b);
    near(b, 1.207554813, 20, "slope");
    near(a, 0.136167066, 20, "intercept");
    near(cal, 0.744201620, 20, "CAL");
    /* D8: one usable bin is neutral, not perfect; too few rows is neutral */
    for (int i = 0; i < 40; i++) {
        prob[i] = engine_implied(1750000000);
    }
    assert_int_equal(engine_calibration(&p, prob, hit, 40, &a, &b), 500000000);
    assert_int_equal(engine_calibration(&p, prob, hit, 29, &a, &b), 500000000);
    /* sharpness: constant p has variance 0 */
    assert_int_equal(engine_sharpness(&p, prob, 12), 500000000);
    assert_int_equal(engine_sharpness(&p, prob, 30) >= 0, 1);
}

static void test_series_11_10(void **state)
{
    engine_params p = P();
    double tv[13] = {0.500, 0.505, 0.530, 0.535, 0.540, 0.515, 0.512,
                     0.520, 0.545, 0.548, 0.550, 0.549, 0.551};
    struct {
        int min;
        double v;
    } mv[8] = {{3, 0.490}, {7, 0.500}, {9, 0.520}, {21, 0.522},
               {27, 0.500}, {36, 0.525}, {38, 0.530}, {52, 0.552}};
    engine_point tp[13], mp[8];
    engine_pair pr;
    int64_t t0 = MS_2026_02_25_18 - 9 * HOUR; /* 09:00 */
    (void)state;
    for (int k = 0; k < 13; k++) {
        tp[k] = (engine_point){t0 + 5 * k * MIN, (uint64_t)k, T(tv[k])};
    }
    for (int k = 0; k < 8; k++) {
        mp[k] = (engine_point){t0 + mv[k].min * MIN, 100u + (uint64_t)k, T(mv[k].v)};
    }
    engine_series_pair(&p, tp, 13, mp, 8, &pr);
    assert_true(pr.has_lead);
    assert_int_equal(pr.led, 2);
    assert_int_equal(pr.matched, 3);
    near(pr.lead, 0.666666667, 1, "lead");
    assert_int_equal(pr.aligned, 6);
    assert_true(pr.has_sos);
    near(pr.sos, 0.209766072, 5, "sos");
}

/* The reference for §5.7's lead, matching and alignment: every truth move against every miner
 * move, every bucket against every bucket (engine/metrics.c narrows both searches). */
static int ref_by_time_seq(const void *a, const void *b)
{
    const engine_point *x = a, *y = b;
    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static size_t ref_bucket(engine_point *s, size_t n, int64_t beta)
{
    size_t m = 0;
    qsort(s, n, sizeof(*s), ref_by_time_seq);
    for (size_t i = 0; i < n; i++) {
        int64_t bt = s[i].t - s[i].t % beta;
        if (m > 0 && s[m - 1].t == bt) {
            s[m - 1].v = s[i].v;
        } else {
            s[m++] = (engine_point){bt, s[i].seq, s[i].v};
        }
    }
    return m;
}

static void ref_pair(const engine_params *p, const engine_point *tr, size_t nt,
                     const engine_point *mi, size_t nm, uint64_t *matched, uint64_t *led,
                     uint64_t *aligned)
{
    int64_t lead = p->lead_win_min * MIN, lag = p->lag_win_min * MIN;
    *matched = *led = *aligned = 0;
    if (nt < 2 || nm < 2) {
        return;
    }
    for (size_t i = 1; i < nt; i++) {
        int64_t d = tr[i].v - tr[i - 1].v, t = tr[i].t;
        bool m = false, l = false;
        if (llabs(d) < p->move_threshold) {
            continue;
        }
        for (size_t j = 1; j < nm; j++) {
            int64_t dm = mi[j].v - mi[j - 1].v, tm = mi[j].t;
            if (llabs(dm) < p->move_threshold || (dm > 0) != (d > 0)) {
                continue;
            }
            if (tm >= t - lead && tm <= t + lag) {
                m = true;
                l = l || tm < t;
            }
        }
        *matched += m, *led += l;
    }
    for (size_t i = 0; i < nt; i++) {
        for (size_t j = 0; j < nm; j++) {
            *aligned += tr[i].t == mi[j].t;
        }
    }
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static void test_series_against_reference(void **state)
{
    engine_params p = P();
    uint64_t x = 42;
    (void)state;
    for (int round = 0; round < 3000; round++) {
        engine_point tp[200], mp[40], tr[200], mr[40], ts[200], ms[40];
        engine_pair pr, ps;
        size_t nt = lcg(&x) % 200, nm = lcg(&x) % 40;
        int64_t t0 = MS_2026_02_25_18 - 9 * HOUR, span = (int64_t)(1 + lcg(&x) % 600) * MIN;
        uint64_t matched, led, aligned;
        int64_t v = T(0.5);
        for (size_t k = 0; k < nt; k++) {
            v += (int64_t)(lcg(&x) % 40000001) - 20000000;
            tp[k] = (engine_point){t0 + (int64_t)(lcg(&x) % (uint64_t)span), k, v};
        }
        for (size_t k = 0; k < nm; k++) {
            v += (int64_t)(lcg(&x) % 40000001) - 20000000;
            mp[k] = (engine_point){t0 + (int64_t)(lcg(&x) % (uint64_t)span), 1000 + k, v};
        }
        memcpy(tr, tp, sizeof(tp)), memcpy(mr, mp, sizeof(mp));
        size_t bt = ref_bucket(tr, nt, p.bucket_min * MIN), bm = ref_bucket(mr, nm, p.bucket_min * MIN);
        ref_pair(&p, tr, bt, mr, bm, &matched, &led, &aligned);
        memcpy(ts, tp, sizeof(tp)), memcpy(ms, mp, sizeof(mp));
        engine_series_pair(&p, tp, nt, mp, nm, &pr);
        assert_int_equal(pr.matched, matched);
        assert_int_equal(pr.led, led);
        assert_int_equal(pr.aligned, bt >= 2 && bm >= 2 ? aligned : 0);
        /* the same points already in order give the same pair */
        qsort(ts, nt, sizeof(*ts), ref_by_time_seq), qsort(ms, nm, sizeof(*ms), ref_by_time_seq);
        engine_series_pair(&p, ts, nt, ms, nm, &ps);
        assert_memory_equal(&pr, &ps, sizeof(pr));
    }
}

static void test_maxweight_11_11(void **state)
{
    int64_t x1[4] = {T(0.9), T(0.05), T(0.03), T(0.02)}, y[5];
    int64_t x2[5] = {T(0.9), T(0.04), T(0.03), T(0.02), T(0.01)};
    uint64_t w[5];
    (void)state;
    engine_maxweight(x1, 4, 1, 2, y);
    near(y[0], 0.499999500, 1, "y0");
    near(y[1], 0.250000250, 1, "y1");
    near(y[2], 0.150000150, 1, "y2");
    near(y[3], 0.100000100, 1, "y3");
    engine_u16(y, 4, w);
    assert_int_equal(w[0], 65535);
    assert_int_equal(w[1], 32768);
    assert_int_equal(w[2], 19661);
    assert_int_equal(w[3], 13107);
    engine_maxweight(x2, 5, 3, 10, y);
    near(y[0], 0.299999300, 1, "y0 L=0.3");
    near(y[1], 0.280000280, 1, "y1 L=0.3");
    engine_u16(y, 5, w);
    assert_int_equal(w[0], 65535);
    assert_int_equal(w[1], 61166);
    assert_int_equal(w[2], 45875);
    assert_int_equal(w[3], 30583);
    assert_int_equal(w[4], 15292);
    /* m·L ≤ 1: uniform */
    engine_maxweight(x1, 4, 1, 4, y);
    assert_int_equal(y[0], 250000000);
}

/* ---- each metric against the same formula in double precision, random inputs ---- */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_against_double(void **state)
{
    engine_params p = P();
    (void)state;
    for (int i = 0; i < 20000; i++) {
        uint64_t odds = 1010000 + rnd() % 20000000; /* 1.01 .. 21, on a 0.001 grid */
        int64_t pi = 10 * (int64_t)(100000 + rnd() % 89800000);
        odds *= 1000;
        double O = (double)odds * NANO, pd = (double)engine_implied(odds) * NANO,
               pid = (double)pi * NANO, om = 1.0 / pid;
        int64_t omega = (int64_t)llround(om * 1e4) * 100000;
        schema_close_metrics m;
        engine_close_metrics(&p, odds, pi, omega, 1000 * MIN, 0, &m);
        near(m.clv_prob, (pid - pd) / pid, 2, "clv_prob vs double");
        double cle = O * pid - 1;
        cle = cle < -1 ? -1 : cle > 10 ? 10 : cle;
        near(m.cle, cle, 2, "cle vs double");
        near(m.clv_odds, (O - (double)omega * NANO) / ((double)omega * NANO), 2, "clv_odds");
        /* outcome metrics, two-way */
        int64_t x[2] = {engine_implied(odds), (rnd() & 1) ? -1 : engine_implied(odds)};
        int64_t pv[2] = {pi, 1000000000 - pi};
        engine_outcome o;
        size_t rho = rnd() & 1;
        assert_true(engine_outcome_metrics(x, pv, 2, rho, &o));
        double q0 = pd, q1 = x[1] < 0 ? 1 - pd : pd, s = q0 + q1;
        q0 /= s, q1 /= s;
        double b = rho == 0 ? (q0 - 1) * (q0 - 1) + q1 * q1 : q0 * q0 + (q1 - 1) * (q1 - 1);
        near(o.brier, b, 3, "brier vs double");
        near(o.logloss, -log(rho == 0 ? q0 : q1), 3, "logloss vs double");
        /* time factor */
        uint64_t mins = 61 + rnd() % 10018;
        double f = 0.1 + 0.9 * log((double)mins / 60) / log(168.0);
        near(engine_time_factor(&p, mins), f, 2, "time factor vs double");
        /* decay and shrinkage alpha */
        int64_t age = (int64_t)(1 + rnd() % (30 * 1440)) * MIN;
        near(engine_decay(&p, age), exp2(-(double)age / (10.0 * DAY)), 1, "decay vs double");
        int64_t ne = (int64_t)(rnd() % 1000000000000ull) + 125000000;
        double a = log(1 + (double)ne * NANO) / log(1 + (double)ne * NANO + 200);
        near(engine_shrink_alpha(&p, ne), a, 3, "alpha vs double");
    }
}

/* The across-miner and window functions against their formulas in double precision. */
static void test_against_double_aggregates(void **state)
{
    engine_params p = P();
    (void)state;
    for (int rep = 0; rep < 300; rep++) {
        size_t n = 2 + rnd() % 40;
        int64_t v[64], ne[64], out[64], mu;
        double dv[64], dne[64], smu = 0, sne = 0;
        /* shrinkage */
        for (size_t i = 0; i < n; i++) {
            v[i] = (int64_t)(rnd() % 2000000000) - 1000000000;
            ne[i] = 125000000 + (int64_t)(rnd() % 500000000000ull);
            dv[i] = (double)v[i] * NANO, dne[i] = (double)ne[i] * NANO;
            smu += dne[i] * dv[i], sne += dne[i];
        }
        engine_shrink(&p, v, ne, n, out, &mu);
        near(mu, smu / sne, 2, "mu vs double");
        for (size_t i = 0; i < n; i++) {
            double a = log(1 + dne[i]) / log(1 + dne[i] + 200);
            near(out[i], a * dv[i] + (1 - a) * (smu / sne), 4, "shrunk vs double");
        }
        /* z-score logistic (n ≥ 10) and percentile (n < 10) */
        double m = 0, ss = 0;
        for (size_t i = 0; i < n; i++) {
            m += dv[i];
        }
        m /= (double)n;
        for (size_t i = 0; i < n; i++) {
            ss += (dv[i] - m) * (dv[i] - m);
        }
        engine_normalise(&p, v, n, out);
        for (size_t i = 0; i < n; i++) {
            double want;
            if (n >= 10) {
                want = 1 / (1 + exp(-(dv[i] - m) / sqrt(ss / (double)n)));
            } else {
                double l = 0, e = 0;
                for (size_t j = 0; j < n; j++) {
                    l += v[j] < v[i], e += v[j] == v[i];
                }
                want = (l + (e + 1) / 2) / (double)(n + 1);
            }
            near(out[i], want, 10, "normalised vs double");
        }
        /* maxweight with a random limit, then u16 */
        int64_t x[64], y[64];
        double dx[64], sx = 0;
        int64_t lnum = 1 + (int64_t)(rnd() % 65535);
        for (size_t i = 0; i < n; i++) {
            x[i] = (int64_t)(rnd() % 1000000000);
            dx[i] = (double)x[i] * NANO, sx += dx[i];
        }
        engine_maxweight(x, n, lnum, 65535, y);
        double L = (double)lnum / 65535.0, ysum = 0;
        for (size_t i = 0; i < n; i++) {
            ysum += (double)y[i] * NANO;
            if ((double)n * L > 1 + 1e-12) {
                assert_true((double)y[i] * NANO <= L + 1e-8); /* no entry above the limit */
            }
        }
        near(T(ysum), 1.0, (int64_t)n, "weights sum to 1");
        if ((double)n * L > 1 + 1e-12) {
            /* uncapped: y = x / Σx exactly as in double */
            double mx = 0;
            for (size_t i = 0; i < n; i++) {
                mx = dx[i] > mx ? dx[i] : mx;
            }
            if (mx <= L * sx * (1 - 1e-9)) {
                for (size_t i = 0; i < n; i++) {
                    near(y[i], dx[i] / sx, 2, "maxweight uncapped vs double");
                }
            }
        }
    }
    /* consensus: the mean of the books' probabilities per side, de-vigged, in double */
    for (int rep = 0; rep < 2000; rep++) {
        uint64_t sides[3] = {SCHEMA_HOME, SCHEMA_AWAY, SCHEMA_DRAW};
        size_t ns = 2 + rnd() % 2, nb = 2 + rnd() % 4, nq = 0;
        engine_quote q[24];
        schema_cprice cp[3];
        double c[3] = {0}, csum = 0;
        for (size_t si = 0; si < ns; si++) {
            for (size_t bk = 0; bk < nb; bk++) {
                uint64_t o = 1100000000 + (rnd() % 9000) * 1000000;
                /* p := 1/O is a named quantity: rounded to nanos before the mean */
                double pb = (double)engine_implied(o) * NANO;
                q[nq] = (engine_quote){sides[si], bk, 1000000 - 60000, nq, o};
                nq++;
                c[si] += (pb < 0.001 ? 0.001 : pb > 0.999 ? 0.999 : pb) / (double)nb;
            }
            c[si] = rint(c[si] * 1e8) / 1e8; /* half to even, as the spec rounds */
            csum += c[si];
        }
        size_t got;
        assert_int_equal(engine_consensus(&p, q, nq, 1000000, sides, ns, cp, &got), TALLY_OK);
        assert_int_equal(got, ns);
        for (size_t si = 0; si < ns; si++) {
            double pi = rint(c[si] / csum * 1e8) / 1e8;
            /* double cannot see exact ties of the 8-decimal rounding (an exact tie of c moves π
             * by a unit, which the de-vig can carry to a second); §11.1 pins them exactly */
            near((int64_t)cp[si].prob_n, pi, 30, "consensus pi vs double");
            near((int64_t)cp[si].odds_n, rint(1e4 / ((double)cp[si].prob_n * NANO)) / 1e4, 100000,
                 "consensus odds");
        }
    }
    /* SOS: Pearson over aligned buckets against double */
    for (int rep = 0; rep < 500; rep++) {
        engine_point tp[40], mp[40];
        engine_pair pr;
        size_t n = 3 + rnd() % 30;
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t t = (int64_t)i * 5 * MIN, a = (int64_t)(rnd() % 900000000) + 50000000,
                    bv = (int64_t)(rnd() % 900000000) + 50000000;
            tp[i] = (engine_point){t, i, a};
            mp[i] = (engine_point){t + MIN, 100 + i, bv};
            double x = (double)bv * NANO, yv = (double)a * NANO;
            sx += x, sy += yv, sxx += x * x, syy += yv * yv, sxy += x * yv;
        }
        engine_series_pair(&p, tp, n, mp, n, &pr);
        double dn = (double)n, cxy = dn * sxy - sx * sy;
        double rho = cxy / sqrt((dn * sxx - sx * sx) * (dn * syy - sy * sy));
        assert_true(pr.has_sos);
        near(pr.sos, 1 - fabs(rho), 5, "sos vs double");
    }
    /* calibration and sharpness on random pairs against the same regression in double */
    for (int rep = 0; rep < 200; rep++) {
        size_t k = 30 + rnd() % 300;
        int64_t prob[400], a, b;
        uint8_t hit[400];
        double cnt[20] = {0}, hs[20] = {0}, ps[20] = {0}, s1 = 0, s2 = 0;
        for (size_t i = 0; i < k; i++) {
            prob[i] = engine_implied(1010000000 + (rnd() % 8000) * 1000000);
            hit[i] = (uint8_t)(rnd() % 1000 < (uint64_t)(prob[i] / 1000000));
            int bin = (int)((prob[i] * 20) / 1000000000);
            bin = bin < 19 ? bin : 19;
            cnt[bin]++, hs[bin] += hit[i], ps[bin] += (double)prob[i] * NANO;
            s1 += (double)prob[i] * NANO, s2 += ((double)prob[i] * NANO) * ((double)prob[i] * NANO);
        }
        double X[20], Y[20], mx = 0, my = 0;
        int pts = 0;
        for (int j = 0; j < 20; j++) {
            if (cnt[j] < 5) {
                continue;
            }
            double pb = ps[j] / cnt[j], yb = hs[j] / cnt[j];
            pb = pb < 1e-6 ? 1e-6 : pb > 1 - 1e-6 ? 1 - 1e-6 : pb;
            yb = yb < 1e-6 ? 1e-6 : yb > 1 - 1e-6 ? 1 - 1e-6 : yb;
            X[pts] = log(pb / (1 - pb)), Y[pts] = log(yb / (1 - yb));
            mx += X[pts], my += Y[pts], pts++;
        }
        int64_t cal = engine_calibration(&p, prob, hit, k, &a, &b);
        if (pts >= 2) {
            double sxy = 0, sxx = 0;
            mx /= pts, my /= pts;
            for (int j = 0; j < pts; j++) {
                sxy += (X[j] - mx) * (Y[j] - my), sxx += (X[j] - mx) * (X[j] - mx);
            }
            double db = sxy / sxx, da = my - db * mx;
            /* the spec's bound is 2e-8 for a, b and CAL; a steep fit amplifies the nanos
             * rounding of the logits, so the slope is compared relative to its size */
            near(b, db, 20 + (int64_t)(fabs(db) * 20), "calibration slope vs double");
            near(a, da, 20 + (int64_t)(fabs(db * mx) * 20), "calibration intercept vs double");
            near(cal, 1 / (1 + fabs(db - 1) + fabs(da)), 40, "CAL vs double");
        } else {
            assert_int_equal(cal, 500000000);
        }
        double var = s2 / (double)k - (s1 / (double)k) * (s1 / (double)k);
        near(engine_sharpness(&p, prob, k), var / 0.04 < 1 ? var / 0.04 : 1, 3, "sharpness");
    }
}

/* ---- §11.12 end to end through the fold ---- */

typedef struct rec {
    schema_header h;
    schema_body b;
} rec;

static uint64_t g_seq;

/* The ODDS_SUBMISSIONs of the fold, for engine_load to read back by seq. (One-sided entries,
 * as in the spec's example, are below the wire minimum of two prices, so they stay structs.) */
static struct {
    uint64_t seq;
    schema_header h;
    schema_price pr[3];
    schema_entry en;
    schema_odds odds;
} g_odds[16];
static size_t g_n_odds;

static void put(engine *e, rec *r, uint64_t time_ms)
{
    r->h.type = r->b.type;
    r->h.time_ms = time_ms;
    assert_int_equal(engine_apply(e, g_seq++, &r->h, &r->b), TALLY_OK);
}

static void acct(uint8_t out[32], uint8_t tag)
{
    memset(out, 0, 32);
    out[0] = tag;
}

/* Adds a one-price-per-side submission by the miner with key tag `who`. */
static void odds(engine *e, uint8_t who, uint64_t event, uint64_t market, uint64_t kind,
                 const uint64_t *sides, const uint64_t *o, size_t n, int64_t t)
{
    rec r = {0};
    schema_price pr[3];
    schema_entry en;
    for (size_t i = 0; i < n; i++) {
        pr[i] = (schema_price){sides[i], o[i], 1000000000000000000ull / o[i]};
    }
    en = (schema_entry){.market_id = market, .kind = kind, .prices = pr, .n_prices = n};
    r.b.type = SCHEMA_ODDS_SUBMISSION;
    r.b.u.odds = (schema_odds){.event_id = event, .markets = &en, .n_markets = 1};
    acct(r.h.actor, (uint8_t)(0x80 | who));
    r.h.has_rows = true, r.h.rows = n;
    assert_true(g_n_odds < 16);
    g_odds[g_n_odds].seq = g_seq;
    memcpy(g_odds[g_n_odds].pr, pr, sizeof(pr));
    g_odds[g_n_odds].en = en;
    g_odds[g_n_odds].en.prices = g_odds[g_n_odds].pr;
    g_odds[g_n_odds].odds = r.b.u.odds;
    g_odds[g_n_odds].odds.markets = &g_odds[g_n_odds].en;
    put(e, &r, (uint64_t)t);
    g_odds[g_n_odds++].h = r.h;
}

static tally_status fetch_odds(uint64_t seq, void *arg, schema_header *h, schema_body *b)
{
    (void)arg;
    for (size_t i = 0; i < g_n_odds; i++) {
        if (g_odds[i].seq == seq) {
            *h = g_odds[i].h;
            memset(b, 0, sizeof(*b));
            b->type = SCHEMA_ODDS_SUBMISSION;
            b->u.odds = g_odds[i].odds;
            return TALLY_OK;
        }
    }
    return TALLY_ENOTFOUND;
}

/* Runs the next SCORING_CYCLE of the fold at as_of (covering everything applied). */
static void next_cycle(engine *e, uint64_t *cycle_no, int64_t as_of, engine_block *blk)
{
    schema_scoring_cycle c = {.cycle = (*cycle_no)++, .as_of_ms = (uint64_t)as_of,
                              .covers_to = g_seq};
    schema_header h = {.type = SCHEMA_SCORING_CYCLE, .time_ms = (uint64_t)as_of + 1000};
    assert_int_equal(engine_cycle(e, g_seq, &h, &c, blk), TALLY_OK);
    assert_int_equal(engine_apply(e, g_seq++, &h, NULL), TALLY_OK);
}

static void test_end_to_end_11_12(void **state)
{
    engine *e;
    rec r;
    schema_neuron nn[5];
    schema_cprice cp[2];
    uint64_t ml_sides[2] = {SCHEMA_HOME, SCHEMA_AWAY}, tot_sides[2] = {SCHEMA_OVER, SCHEMA_UNDER};
    int64_t m1_start = MS_2026_02_25_18, m2_start = m1_start + DAY + 7 * HOUR; /* 02-27 01:00 */
    int64_t as_of = m1_start + 3 * DAY + 6 * HOUR;                            /* 03-01 00:00 */
    engine_block blk;
    (void)state;
    g_seq = 0, g_n_odds = 0;
    assert_int_equal(engine_new(&e), TALLY_OK);

    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_GENESIS;
    r.b.u.genesis.netuid = 57;
    r.b.u.genesis.chain = (schema_chain_params){.netuid = 57, .max_weight_limit = 65535,
                                                .min_allowed_weights = 1,
                                                .has_owner_hotkey = true};
    acct(r.b.u.genesis.chain.owner_hotkey, 1);
    put(e, &r, (uint64_t)(m1_start - 10 * DAY));

    memset(nn, 0, sizeof(nn));
    for (int u = 0; u < 5; u++) {
        nn[u].uid = (uint64_t)u;
        acct(nn[u].hotkey, (uint8_t)(1 + u));
        nn[u].has_tally_key = true;
        acct(nn[u].tally_key, (uint8_t)(0x80 | u));
    }
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_METAGRAPH;
    r.b.u.metagraph = (schema_metagraph){57, 1, 0, 1, nn, 5};
    put(e, &r, (uint64_t)(m1_start - 10 * DAY));

    /* events and markets */
    for (int k = 0; k < 2; k++) {
        memset(&r, 0, sizeof(r));
        r.b.type = SCHEMA_EVENT;
        r.b.u.event.event_id = 100u + (uint64_t)k;
        r.b.u.event.start_ms = (uint64_t)(k == 0 ? m1_start : m2_start);
        r.b.u.event.status = SCHEMA_SCHEDULED;
        put(e, &r, (uint64_t)(m1_start - 9 * DAY));
        memset(&r, 0, sizeof(r));
        r.b.type = SCHEMA_MARKET;
        r.b.u.market = (schema_market){.market_id = 1000u + (uint64_t)k, .event_id = 100u + (uint64_t)k,
                                       .kind = k == 0 ? SCHEMA_MONEYLINE : SCHEMA_TOTAL,
                                       .has_line_n = k == 1, .line_n = 220500000000ll,
                                       .sides = k == 0 ? ml_sides : tot_sides, .n_sides = 2};
        put(e, &r, (uint64_t)(m1_start - 9 * DAY));
    }
    /* submissions in time order */
    int64_t t0 = m1_start;
    odds(e, 3, 100, 1000, SCHEMA_MONEYLINE, (uint64_t[]){SCHEMA_AWAY}, (uint64_t[]){2400000000}, 1,
         t0 - 7 * DAY + 30000);                                              /* C 02-18 18:00 */
    odds(e, 1, 100, 1000, SCHEMA_MONEYLINE, (uint64_t[]){SCHEMA_HOME}, (uint64_t[]){2050000000}, 1,
         t0 - 3 * DAY - 4 * HOUR - 31 * MIN + 45000);                        /* A 02-22 13:29:45 */
    odds(e, 2, 100, 1000, SCHEMA_MONEYLINE, (uint64_t[]){SCHEMA_HOME}, (uint64_t[]){1700000000}, 1,
         t0 - 30 * MIN);                                                     /* B 02-25 17:30 */
    memset(&r, 0, sizeof(r));
    cp[0] = (schema_cprice){SCHEMA_HOME, 532031070, 1879600000, 3, false, 0};
    cp[1] = (schema_cprice){SCHEMA_AWAY, 467968930, 2136900000, 3, false, 0};
    r.b.type = SCHEMA_CLOSE;
    r.b.u.snapshot = (schema_snapshot){.market_id = 1000, .ts_ms = (uint64_t)m1_start, .probs = cp,
                                       .n_probs = 2};
    put(e, &r, (uint64_t)(m1_start + 1000));
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_OUTCOME;
    r.b.u.outcome = (schema_outcome){.source = 1, .event_id = 100, .has_result = true,
                                     .result = SCHEMA_R_HOME, .has_score_home = true,
                                     .has_score_away = true, .score_home = 2, .score_away = 1};
    put(e, &r, (uint64_t)(m1_start + 3 * HOUR));
    odds(e, 2, 101, 1001, SCHEMA_TOTAL, (uint64_t[]){SCHEMA_UNDER}, (uint64_t[]){2200000000}, 1,
         m2_start - DAY);                                                    /* B 02-26 01:00 */
    odds(e, 3, 101, 1001, SCHEMA_TOTAL, (uint64_t[]){SCHEMA_OVER}, (uint64_t[]){2000000000}, 1,
         m2_start - 10 * HOUR);                                              /* C 02-26 15:00 */
    odds(e, 1, 101, 1001, SCHEMA_TOTAL, tot_sides, (uint64_t[]){1950000000, 1950000000}, 2,
         m2_start - 2 * HOUR);                                               /* A 02-26 23:00 */
    memset(&r, 0, sizeof(r));
    cp[0] = (schema_cprice){SCHEMA_OVER, 520000000, 1923100000, 3, false, 0};
    cp[1] = (schema_cprice){SCHEMA_UNDER, 480000000, 2083300000, 3, false, 0};
    r.b.type = SCHEMA_CLOSE;
    r.b.u.snapshot = (schema_snapshot){.market_id = 1001, .ts_ms = (uint64_t)m2_start, .probs = cp,
                                       .n_probs = 2};
    put(e, &r, (uint64_t)(m2_start + 1000));
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_OUTCOME;
    r.b.u.outcome = (schema_outcome){.source = 1, .event_id = 101, .has_score_home = true,
                                     .has_score_away = true, .score_home = 100, .score_away = 110};
    put(e, &r, (uint64_t)(m2_start + 3 * HOUR));

    schema_scoring_cycle c = {.cycle = 1, .as_of_ms = (uint64_t)as_of, .covers_to = g_seq};
    schema_header ch = {.type = SCHEMA_SCORING_CYCLE, .time_ms = (uint64_t)(as_of + 6 * HOUR)};
    assert_int_equal(engine_cycle(e, g_seq, &ch, &c, &blk), TALLY_OK);
    assert_int_equal(blk.n_scores, 7);
    assert_int_equal(blk.n_miners, 3);
    static const struct {
        double n_eff, es_mean, es_std, es_adj, mes, pss, brier, fq, skill;
    } want[3] = {
        {2.376096185, 0.006154736, 0.061189570, 0.100584724, 0.947586036, -0.022881522,
         0.506649782, -0.013299564, 0.541717307},
        {1.611748094, -0.018952962, 0.075769147, -0.250140898, 0.920949301, -0.025878379,
         0.468456755, 0.063086491, 0.478907970},
        {1.339624182, 0.070492652, 0.040061366, 1.759616779, 0.935432867, 0.085696412,
         0.443956988, 0.112086023, 0.679525697},
    };
    for (size_t i = 0; i < 3; i++) {
        const schema_miner_score *m = &blk.bodies[blk.n_scores + i].u.miner_score;
        assert_int_equal(blk.bodies[blk.n_scores + i].type, SCHEMA_MINER_SCORE);
        assert_int_equal(m->uid, i + 1);
        near(m->n_eff, want[i].n_eff, 5, "n_eff");
        near(m->stats[0].v, want[i].es_mean, 5, "es_mean");
        near(m->stats[1].v, want[i].es_std, 5, "es_std");
        near(m->stats[2].v, want[i].es_adj, 50, "es_adj");
        near(m->stats[3].v, want[i].mes, 5, "mes_mean");
        near(m->stats[5].v, want[i].pss, 5, "pss_mean");
        near(m->stats[7].v, want[i].brier, 5, "brier_mean");
        near(m->stats[8].v, want[i].fq, 5, "fq_raw");
        near(m->skill, want[i].skill, 10, "skill");
        assert_int_equal(m->stats[10].v, 500000000); /* CAL: too few rows */
        assert_false(m->stats[12].has);             /* SOS absent */
    }
    const schema_weights *w = &blk.bodies[blk.n_scores + 3].u.weights;
    assert_int_equal(blk.bodies[blk.n_scores + 3].type, SCHEMA_WEIGHTS);
    assert_int_equal(w->n_uids, 4);
    uint64_t wu[4] = {65535, 2320, 2051, 2910};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w->uids[i], i);
        assert_int_equal(w->weights[i], wu[i]);
    }
    assert_int_equal(blk.bodies[blk.n - 1].type, SCHEMA_STATE_HASH);

    /* the checkpoint: a fresh engine loaded from it recomputes the same block, byte for byte */
    engine *e2;
    engine_block blk2;
    assert_int_equal(engine_load(blk.state, blk.state_len, fetch_odds, NULL, &e2), TALLY_OK);
    assert_int_equal(engine_cycle(e2, g_seq, &ch, &c, &blk2), TALLY_OK);
    assert_int_equal(blk2.state_len, blk.state_len);
    assert_memory_equal(blk2.state, blk.state, blk.state_len);
    assert_int_equal(blk2.n, blk.n);
    for (size_t i = 0; i < blk.n; i++) {
        uint8_t x[4096], y[4096];
        size_t nx, ny;
        static const uint8_t leaves[3][32];
        if (blk.bodies[i].type == SCHEMA_WEIGHTS) {
            engine_block_set_inputs_hash(&blk, leaves);
            engine_block_set_inputs_hash(&blk2, leaves);
        }
        assert_int_equal(schema_body_encode(&blk.bodies[i], x, sizeof(x), &nx), TALLY_OK);
        assert_int_equal(schema_body_encode(&blk2.bodies[i], y, sizeof(y), &ny), TALLY_OK);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx);
    }
    engine_block_release(&blk2);
    engine_free(e2);
    /* bad input: every truncation is refused; single-byte changes never crash the loader */
    for (size_t n = 0; n < blk.state_len; n++) {
        engine *bad = NULL;
        assert_int_not_equal(engine_load(blk.state, n, fetch_odds, NULL, &bad), TALLY_OK);
        assert_null(bad);
    }
    uint8_t *mut = malloc(blk.state_len);
    for (size_t i = 0; i < blk.state_len; i++) {
        engine *bad = NULL;
        memcpy(mut, blk.state, blk.state_len);
        mut[i] ^= (uint8_t)(1u << (i % 8));
        if (engine_load(mut, blk.state_len, fetch_odds, NULL, &bad) == TALLY_OK) {
            engine_free(bad);
        }
    }
    free(mut);
    engine_block_release(&blk);

    /* the next day, nothing changed: no SUBMISSION_SCORE is written again, the miners are */
    uint64_t cycle_no = 2;
    next_cycle(e, &cycle_no, as_of + DAY, &blk);
    assert_int_equal(blk.n_scores, 0);
    assert_int_equal(blk.n_miners, 3);
    engine_block_release(&blk);

    /* a CONFIG_SET: every scored row is written again under the new parameters */
    schema_param cp_par = {{"security.cle_max", 16}, {SCHEMA_PV_INT, 50000000, {0}, false}};
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_CONFIG_SET;
    r.b.u.config_set = (schema_config_set){.params = &cp_par, .n_params = 1};
    put(e, &r, (uint64_t)(as_of + DAY + 7 * HOUR));
    next_cycle(e, &cycle_no, as_of + 2 * DAY, &blk);
    assert_int_equal(blk.n_scores, 7);
    for (size_t i = 0; i < blk.n_scores; i++) {
        const schema_submission_score *ss = &blk.bodies[i].u.submission_score;
        assert_true(ss->close.cle <= 50000000); /* clamped at the new maximum 0.05 */
    }
    engine_block_release(&blk);

    /* miner B's hotkey leaves uid 2: its rows are gone from the next cycle on */
    acct(nn[2].hotkey, 0x42);
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_METAGRAPH;
    r.b.u.metagraph = (schema_metagraph){57, 2, 0, 1, nn, 5};
    put(e, &r, (uint64_t)(as_of + 2 * DAY + 7 * HOUR));
    next_cycle(e, &cycle_no, as_of + 3 * DAY, &blk);
    assert_int_equal(blk.n_miners, 2);
    assert_int_equal(blk.bodies[0].u.miner_score.uid, 1);
    assert_int_equal(blk.bodies[1].u.miner_score.uid, 3);
    engine_block_release(&blk);
    engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consensus_11_1),   cmocka_unit_test(test_close_11_2),
        cmocka_unit_test(test_outcome_11_3_11_4), cmocka_unit_test(test_time_factor_11_5),
        cmocka_unit_test(test_decay_11_6),       cmocka_unit_test(test_shrink_11_7),
        cmocka_unit_test(test_normalise_11_8),   cmocka_unit_test(test_calibration_11_9),
        cmocka_unit_test(test_series_11_10),     cmocka_unit_test(test_series_against_reference),     cmocka_unit_test(test_maxweight_11_11),
        cmocka_unit_test(test_against_double),   cmocka_unit_test(test_against_double_aggregates),
        cmocka_unit_test(test_end_to_end_11_12),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

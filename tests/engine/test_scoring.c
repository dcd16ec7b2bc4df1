/* The worked examples of spec/scoring.md §11.1–§11.11 as known-answer tests (consensus, close
 * and outcome metrics, time factor, decay, shrinkage, normalisation, calibration, series,
 * maxweight), and §5.7's lead, matching and alignment against a brute-force reference.
 * Tolerances are the spec's: ±5e-9 unless stated; consensus and u16 exact. Each metric against
 * its formula in double precision is test_scoring_double.c; the §11.12 end-to-end example
 * through the fold is test_scoring_fold.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/scoring_test.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consensus_11_1),
        cmocka_unit_test(test_close_11_2),
        cmocka_unit_test(test_outcome_11_3_11_4),
        cmocka_unit_test(test_time_factor_11_5),
        cmocka_unit_test(test_decay_11_6),
        cmocka_unit_test(test_shrink_11_7),
        cmocka_unit_test(test_normalise_11_8),
        cmocka_unit_test(test_calibration_11_9),
        cmocka_unit_test(test_series_11_10),
        cmocka_unit_test(test_series_against_reference),
        cmocka_unit_test(test_maxweight_11_11),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

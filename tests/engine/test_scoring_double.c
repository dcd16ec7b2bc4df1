/* Each metric of spec/scoring.md, and the across-miner and window functions, against the same
 * formula written here in double precision, on random inputs. Tolerances are the spec's: ±5e-9
 * unless stated. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/scoring_test.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_double),
        cmocka_unit_test(test_against_double_aggregates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Each engine/fx function against libm's double version of the same function, ns per call,
 * over 10^6 inputs from the ranges scoring §10 gives, in the same run (median of runs).
 *   bench_fx [runs] */
#include <math.h>
#include <stdlib.h>

#include "bench_common.h"
#include "engine/fx.h"

#define N 1000000

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

static uint64_t a[N], b[N];
static fx_wide w[N];
static double d[N], d2[N];
static volatile int64_t sink_i;
static volatile double sink_d;

typedef struct row {
    const char *name, *libm;
    double fx[64], lm[64];
} row;

static double run_fx(int which)
{
    int64_t acc = 0;
    double t0 = bench_now();
    for (int i = 0; i < N; i++) {
        switch (which) {
        case 0: acc += fx_ln_ratio(a[i], b[i]); break;
        case 1: acc += fx_exp2_neg_ratio(a[i], b[i]); break;
        case 2: acc += fx_exp_neg_ratio(-(fx_wide)a[i], (fx_wide)1000000000); break;
        case 3: acc += fx_logistic_ratio(w[i], (fx_wide)1000000000 * 1000000000); break;
        default: acc += (int64_t)fx_sqrt_ratio((fx_uwide)a[i] * 1000000000u, b[i]); break;
        }
    }
    sink_i = acc;
    return (bench_now() - t0) * 1e9 / N;
}

static double run_libm(int which)
{
    double acc = 0;
    double t0 = bench_now();
    for (int i = 0; i < N; i++) {
        switch (which) {
        case 0: acc += log(d[i] / d2[i]); break;
        case 1: acc += exp2(-d[i] / d2[i]); break;
        case 2: acc += exp(-d[i] * 1e-9); break;
        case 3: acc += 1.0 / (1.0 + exp(-d[i])); break;
        default: acc += sqrt(d[i] / d2[i]); break;
        }
    }
    sink_d = acc;
    return (bench_now() - t0) * 1e9 / N;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    static row rows[5] = {{.name = "fx_ln_ratio", .libm = "log"},
                          {.name = "fx_exp2_neg_ratio", .libm = "exp2"},
                          {.name = "fx_exp_neg_ratio", .libm = "exp"},
                          {.name = "fx_logistic_ratio", .libm = "1/(1+exp(-u))"},
                          {.name = "fx_sqrt_ratio", .libm = "sqrt"}};

    if (runs < 1 || runs > 64) {
        return 2;
    }
    bench_machine(stdout);
    for (int which = 0; which < 5; which++) {
        for (int i = 0; i < N; i++) {
            switch (which) {
            case 0: /* log-loss and shrinkage arguments */
                a[i] = 1 + rnd() % 1000000000000ull, b[i] = 1000000000;
                break;
            case 1: /* decay: age up to 30 days over a 10-day half-life */
                a[i] = 1 + rnd() % 2592000000ull, b[i] = 864000000ull;
                break;
            case 2:
                a[i] = rnd() % 40000000000ull, b[i] = 1;
                break;
            case 3: {
                int64_t z = (int64_t)(rnd() % 32000000001ull) - 16000000000; /* |u| ≤ 16 */
                w[i] = (fx_wide)z * 1000000000;
                d[i] = (double)z * 1e-9;
                break;
            }
            default:
                a[i] = rnd() % 100000000000ull, b[i] = 1 + rnd() % 1000000;
                break;
            }
            if (which != 3) {
                d[i] = (double)a[i], d2[i] = (double)b[i];
            }
        }
        for (int r = 0; r < runs; r++) {
            rows[which].fx[r] = run_fx(which);
            rows[which].lm[r] = run_libm(which);
        }
    }
    printf("ns per call, median of %d runs of 10^6 calls each\n", runs);
    printf("| function | ns/call | libm (double) | ns/call | ratio |\n|---|---|---|---|---|\n");
    for (int k = 0; k < 5; k++) {
        double f = bench_median(rows[k].fx, (size_t)runs), l = bench_median(rows[k].lm, (size_t)runs);
        printf("| %s | %.1f | %s | %.1f | %.1fx |\n", rows[k].name, f, rows[k].libm, l, f / l);
    }
    return 0;
}

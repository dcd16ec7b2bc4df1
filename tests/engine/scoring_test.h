/* Helpers shared by the tests/engine/test_scoring*.c files (spec/scoring.md): decimal literals
 * in nanos, the nanos-against-a-double comparison with its tolerance, the default parameters
 * and the times of the §11 examples. Each test executable is one file plus tests/util, so the
 * helpers are static inline here (an unused one costs nothing), as tests/net/cases.h. */
#ifndef TALLY_TESTS_ENGINE_SCORING_TEST_H
#define TALLY_TESTS_ENGINE_SCORING_TEST_H

/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "engine/engine.h"

#define NANO 1e-9
/* clang-format off */
#define T(s) ((int64_t)llround((s) * 1e9)) /* a decimal literal in nanos (tests only) */
/* clang-format on */

static inline void near(int64_t got, double want, int64_t tol_nanos, const char *what)
{
    int64_t w = T(want);
    if (llabs(got - w) > tol_nanos) {
        fail_msg("%s: got %.9f want %.9f (tolerance %lld nanos)", what, (double)got * NANO, want,
                 (long long)tol_nanos);
    }
}

static inline engine_params P(void)
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

#endif

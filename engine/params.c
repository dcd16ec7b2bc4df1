/* Scoring parameters (scoring §9) as ledger keys (protocol §2.6): defaults, and the range of
 * each the engine supports. A range keeps every intermediate inside the bounds fx.h states
 * (e.g. at most 90 days of 1-minute buckets for the correlation); docs/scoring.md lists them. */
#include <stddef.h>
#include <string.h>

#include "engine/engine.h"

enum { P_INT, P_REAL, P_BOOL, P_TEXT };

static const struct pdef {
    const char *key;
    size_t off;
    int kind;
    int64_t def, lo, hi;
} defs[] = {
#define F(field) offsetof(engine_params, field)
    {"calibration.min_samples_per_bin", F(min_per_bin), P_INT, 5, 1, 1000000},
    {"calibration.num_bins", F(num_bins), P_INT, 20, 2, 64},
    {"decay.half_life_days", F(half_life_days), P_INT, 10, 1, 365},
    {"dimension_weights.w_cal", F(w_cal), P_REAL, 400000000, 0, 1000000000},
    {"dimension_weights.w_edge", F(w_edge), P_REAL, 700000000, 0, 1000000000},
    {"dimension_weights.w_fq", F(w_fq), P_REAL, 600000000, 0, 1000000000},
    {"dimension_weights.w_lead", F(w_lead), P_REAL, 400000000, 0, 1000000000},
    {"dimension_weights.w_mes", F(w_mes), P_REAL, 300000000, 0, 1000000000},
    {"dimension_weights.w_sos", F(w_sos), P_REAL, 600000000, 0, 1000000000},
    {"ground_truth.max_bias_factor", F(max_bias), P_REAL, 2000000000, 0, 100000000000},
    {"ground_truth.min_bias_factor", F(min_bias), P_REAL, 500000000, 0, 100000000000},
    {"ground_truth.min_books_for_consensus", F(min_books), P_INT, 2, 1, 1000},
    {"ground_truth.min_variance", F(min_variance), P_REAL, 100000, 1, 1000000000},
    {"ingest.odds_bucket_seconds", F(odds_bucket_s), P_INT, 60, 10, 3600},
    {"lead_lag.bucket_minutes", F(bucket_min), P_INT, 5, 1, 1440},
    {"lead_lag.lag_window_minutes", F(lag_win_min), P_INT, 30, 0, 10080},
    {"lead_lag.lead_window_minutes", F(lead_win_min), P_INT, 30, 0, 10080},
    {"lead_lag.move_threshold", F(move_threshold), P_REAL, 20000000, 1, 1000000000},
    {"normalization.logistic_alpha", F(logistic_alpha), P_REAL, 1000000000, 1, 100000000000},
    {"normalization.min_count_for_zscore", F(min_zscore), P_INT, 10, 1, 4096},
    {"security.cle_max", F(cle_max), P_REAL, 10000000000, -100000000000, 100000000000},
    {"security.cle_min", F(cle_min), P_REAL, -1000000000, -100000000000, 100000000000},
    {"sharpness.target_variance", F(sharp_target), P_REAL, 40000000, 1, 1000000000},
    {"shrinkage.k", F(shrink_k), P_REAL, 200000000000, 0, 1000000000000000},
    {"skill_score_weights.w_info_adv", F(w_info), P_REAL, 300000000, 0, 1000000000},
    {"skill_score_weights.w_odds_edge", F(w_econ), P_REAL, 500000000, 0, 1000000000},
    {"skill_score_weights.w_outcome_accuracy", F(w_forecast), P_REAL, 100000000, 0, 1000000000},
    {"skill_score_weights.w_outcome_relative", F(w_skill), P_REAL, 100000000, 0, 1000000000},
    {"time_weight.early_penalty_clip", F(tw_clip), P_REAL, 700000000, 0, 1000000000},
    {"time_weight.enabled", F(tw_enabled), P_BOOL, 1, 0, 1},
    {"time_weight.floor_factor", F(tw_floor), P_REAL, 100000000, 0, 1000000000},
    {"time_weight.max_minutes", F(tw_max), P_INT, 10080, 2, 1000000},
    {"time_weight.min_minutes", F(tw_min), P_INT, 60, 1, 1000000},
    {"weight_emission.burn_rate", F(burn_rate), P_REAL, 900000000, 0, 1000000000},
    {"windows.calibration_window_days", F(cal_days), P_INT, 60, 1, 90},
    {"windows.min_samples_calibration", F(min_cal), P_INT, 30, 1, 1000000},
    {"windows.min_samples_originality", F(min_orig), P_INT, 50, 1, 1000000},
    {"windows.rolling_window_days", F(rolling_days), P_INT, 30, 1, 90},
#undef F
};

/* Keys of §9 and §2.6 that scoring reads nowhere (declared but unwired in the reference, or
 * ingest, auth and finality rules that net/ and the auditor enforce). */
static const char *const ignored_prefixes[] = {"ingest.", "auth.", "finality.", "security.odds_",
                                               "security.prob_", "ground_truth.",
                                               "normalization.method"};

void engine_params_default(engine_params *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        char *f = (char *)out + defs[i].off;
        if (defs[i].kind == P_BOOL) {
            *(bool *)f = defs[i].def != 0;
        } else {
            *(int64_t *)f = defs[i].def;
        }
    }
}

static bool key_is(tally_str k, const char *s)
{
    return k.n == strlen(s) && memcmp(k.p, s, k.n) == 0;
}

static bool key_has_prefix(tally_str k, const char *s)
{
    size_t n = strlen(s);
    return k.n >= n && memcmp(k.p, s, n) == 0;
}

tally_status engine_params_set(engine_params *p, tally_str key, const schema_pvalue *v)
{
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        char *f = (char *)p + defs[i].off;
        if (!key_is(key, defs[i].key)) {
            continue;
        }
        if (defs[i].kind == P_BOOL) {
            if (v->kind != SCHEMA_PV_BOOL) {
                return TALLY_EINVAL;
            }
            *(bool *)f = v->b;
            return TALLY_OK;
        }
        if (v->kind != SCHEMA_PV_INT || v->i < defs[i].lo || v->i > defs[i].hi) {
            return TALLY_EINVAL;
        }
        *(int64_t *)f = v->i;
        return TALLY_OK;
    }
    for (size_t i = 0; i < sizeof(ignored_prefixes) / sizeof(ignored_prefixes[0]); i++) {
        if (key_has_prefix(key, ignored_prefixes[i])) {
            return TALLY_OK;
        }
    }
    return TALLY_EINVAL;
}

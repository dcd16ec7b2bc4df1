/* Scoring parameters (scoring §9) from the ledger parameter table (schema/params.c, protocol
 * §2.6). The table owns keys, kinds, defaults and ranges; this file only says which field of
 * engine_params each scoring key fills. Keys scoring never reads (ingest, auth, finality, the
 * reference's unused ground_truth and normalization keys) are read by the acceptance rules or
 * by nobody, and map to no field. */
#include <stddef.h>
#include <string.h>

#include "engine/engine.h"

#define F(field) offsetof(engine_params, field)

/* The field each scoring key fills. */
static const struct {
    unsigned id;
    size_t off;
} fields[] = {
    {SCHEMA_P_CAL_MIN_PER_BIN, F(min_per_bin)},
    {SCHEMA_P_CAL_NUM_BINS, F(num_bins)},
    {SCHEMA_P_DECAY_HALF_LIFE_DAYS, F(half_life_days)},
    {SCHEMA_P_W_CAL, F(w_cal)},
    {SCHEMA_P_W_EDGE, F(w_edge)},
    {SCHEMA_P_W_FQ, F(w_fq)},
    {SCHEMA_P_W_LEAD, F(w_lead)},
    {SCHEMA_P_W_MES, F(w_mes)},
    {SCHEMA_P_W_SOS, F(w_sos)},
    {SCHEMA_P_GT_MAX_BIAS, F(max_bias)},
    {SCHEMA_P_GT_MIN_BIAS, F(min_bias)},
    {SCHEMA_P_GT_MIN_BOOKS, F(min_books)},
    {SCHEMA_P_GT_MIN_VARIANCE, F(min_variance)},
    {SCHEMA_P_ODDS_BUCKET_SECONDS, F(odds_bucket_s)},
    {SCHEMA_P_LL_BUCKET_MINUTES, F(bucket_min)},
    {SCHEMA_P_LL_LAG_WINDOW_MINUTES, F(lag_win_min)},
    {SCHEMA_P_LL_LEAD_WINDOW_MINUTES, F(lead_win_min)},
    {SCHEMA_P_LL_MOVE_THRESHOLD, F(move_threshold)},
    {SCHEMA_P_NORM_LOGISTIC_ALPHA, F(logistic_alpha)},
    {SCHEMA_P_NORM_MIN_COUNT_ZSCORE, F(min_zscore)},
    {SCHEMA_P_SEC_CLE_MAX, F(cle_max)},
    {SCHEMA_P_SEC_CLE_MIN, F(cle_min)},
    {SCHEMA_P_SHARP_TARGET_VARIANCE, F(sharp_target)},
    {SCHEMA_P_SHRINKAGE_K, F(shrink_k)},
    {SCHEMA_P_W_INFO_ADV, F(w_info)},
    {SCHEMA_P_W_ODDS_EDGE, F(w_econ)},
    {SCHEMA_P_W_OUTCOME_ACCURACY, F(w_forecast)},
    {SCHEMA_P_W_OUTCOME_RELATIVE, F(w_skill)},
    {SCHEMA_P_TW_EARLY_PENALTY_CLIP, F(tw_clip)},
    {SCHEMA_P_TW_ENABLED, F(tw_enabled)},
    {SCHEMA_P_TW_FLOOR_FACTOR, F(tw_floor)},
    {SCHEMA_P_TW_MAX_MINUTES, F(tw_max)},
    {SCHEMA_P_TW_MIN_MINUTES, F(tw_min)},
    {SCHEMA_P_BURN_RATE, F(burn_rate)},
    {SCHEMA_P_WIN_CALIBRATION_DAYS, F(cal_days)},
    {SCHEMA_P_WIN_MIN_SAMPLES_CAL, F(min_cal)},
    {SCHEMA_P_WIN_MIN_SAMPLES_ORIG, F(min_orig)},
    {SCHEMA_P_WIN_ROLLING_DAYS, F(rolling_days)},
};
#undef F

/* Every field of engine_params is one int64 filled by exactly one key: a field added without
 * its key (or a key without its field) breaks the build here. */
_Static_assert(sizeof(fields) / sizeof(fields[0]) * sizeof(int64_t) == sizeof(engine_params),
               "every scoring field has exactly one ledger key");

void engine_params_from(const schema_paramset *ps, engine_params *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        memcpy((char *)out + fields[i].off, &ps->v[fields[i].id], sizeof(int64_t));
    }
}

void engine_params_default(engine_params *out)
{
    schema_paramset ps;

    schema_paramset_default(&ps);
    engine_params_from(&ps, out);
}

tally_status engine_params_set(engine_params *p, tally_str key, const schema_pvalue *v)
{
    schema_param prm = {.key = key, .value = *v};
    schema_param_error err;
    int64_t val;
    int id;

    if (schema_param_check(&prm, &err, &val) != TALLY_OK) {
        return TALLY_EINVAL;
    }
    id = schema_param_find(key);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].id == (unsigned)id) {
            memcpy((char *)p + fields[i].off, &val, sizeof(int64_t));
        }
    }
    return TALLY_OK;
}

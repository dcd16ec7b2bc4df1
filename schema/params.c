/* The ledger parameter table (protocol §2.6, scoring §9): every key a GENESIS or CONFIG_SET may
 * set, its kind, its protocol-version-1 default and the range tally accepts. This one table
 * drives the validation of parameter lists, the defaults of a parameter set, the engine's
 * scoring parameters (engine/params.c maps ids to fields) and the checkpoint's parameter section
 * (engine/state.c writes SCHEMA_P_COUNT values in id order).
 *
 * Ranges: §2.6 states those of the ingest, security, auth and finality keys; for the scoring
 * keys they are the ranges the engine supports (each keeps every intermediate inside the bounds
 * engine/fx.h states; docs/scoring.md lists them); keys scoring never reads (declared but unused
 * in the reference) get ranges a careful operator would expect (docs/decisions.md). */
#include <stdio.h>
#include <string.h>

#include "schema/schema.h"

#define NANO 1000000000ll

static const char *const method_choices[] = {"zscore_logistic", NULL};

/* In enum schema_param_id order; a test checks that the keys are strictly ascending. */
static const schema_pdef defs[SCHEMA_P_COUNT] = {
    [SCHEMA_P_AUTH_MIN_STAKE_RAO] = {"auth.min_stake_rao", SCHEMA_PK_INT, 100000000000000ll, 0,
                                     INT64_MAX, NULL},
    [SCHEMA_P_AUTH_REQUIRE_PERMIT] = {"auth.require_permit", SCHEMA_PK_BOOL, 1, 0, 1, NULL},
    [SCHEMA_P_CAL_MIN_PER_BIN] = {"calibration.min_samples_per_bin", SCHEMA_PK_INT, 5, 1, 1000000,
                                  NULL},
    [SCHEMA_P_CAL_NUM_BINS] = {"calibration.num_bins", SCHEMA_PK_INT, 20, 2, 64, NULL},
    [SCHEMA_P_DECAY_HALF_LIFE_DAYS] = {"decay.half_life_days", SCHEMA_PK_INT, 10, 1, 365, NULL},
    [SCHEMA_P_W_CAL] = {"dimension_weights.w_cal", SCHEMA_PK_REAL, 400000000, 0, NANO, NULL},
    [SCHEMA_P_W_EDGE] = {"dimension_weights.w_edge", SCHEMA_PK_REAL, 700000000, 0, NANO, NULL},
    [SCHEMA_P_W_FQ] = {"dimension_weights.w_fq", SCHEMA_PK_REAL, 600000000, 0, NANO, NULL},
    [SCHEMA_P_W_LEAD] = {"dimension_weights.w_lead", SCHEMA_PK_REAL, 400000000, 0, NANO, NULL},
    [SCHEMA_P_W_MES] = {"dimension_weights.w_mes", SCHEMA_PK_REAL, 300000000, 0, NANO, NULL},
    [SCHEMA_P_W_SOS] = {"dimension_weights.w_sos", SCHEMA_PK_REAL, 600000000, 0, NANO, NULL},
    [SCHEMA_P_FINALITY_K] = {"finality.k", SCHEMA_PK_INT, 2, 1, 64, NULL},
    [SCHEMA_P_GT_BIAS_LEARNING_RATE] = {"ground_truth.bias_learning_rate", SCHEMA_PK_REAL,
                                        100000000, 0, NANO, NULL},
    [SCHEMA_P_GT_BIAS_MIN_SAMPLES] = {"ground_truth.bias_min_samples", SCHEMA_PK_INT, 50, 1,
                                      1000000, NULL},
    [SCHEMA_P_GT_MAX_BIAS] = {"ground_truth.max_bias_factor", SCHEMA_PK_REAL, 2 * NANO, 0,
                              100 * NANO, NULL},
    [SCHEMA_P_GT_MAX_SNAPSHOTS] = {"ground_truth.max_snapshots_per_market", SCHEMA_PK_INT, 28, 1,
                                   100000, NULL},
    [SCHEMA_P_GT_MIN_BIAS] = {"ground_truth.min_bias_factor", SCHEMA_PK_REAL, 500000000, 0,
                              100 * NANO, NULL},
    [SCHEMA_P_GT_MIN_BOOKS] = {"ground_truth.min_books_for_consensus", SCHEMA_PK_INT, 2, 1, 1000,
                               NULL},
    [SCHEMA_P_GT_MIN_VARIANCE] = {"ground_truth.min_variance", SCHEMA_PK_REAL, 100000, 1, NANO,
                                  NULL},
    [SCHEMA_P_GT_SNAPSHOT_INTERVAL_H] = {"ground_truth.snapshot_interval_hours", SCHEMA_PK_INT, 6,
                                         1, 720, NULL},
    [SCHEMA_P_GT_SNAPSHOT_TOLERANCE_H] = {"ground_truth.snapshot_match_tolerance_hours",
                                          SCHEMA_PK_INT, 12, 1, 720, NULL},
    [SCHEMA_P_GAMES_LOOKAHEAD_DAYS] = {"ingest.games_lookahead_days", SCHEMA_PK_INT, 14, 1, 30,
                                       NULL},
    [SCHEMA_P_MAX_OUTCOMES_PER_EVENT_DAY] = {"ingest.max_outcomes_per_event_day", SCHEMA_PK_INT,
                                             50, 5, 1000, NULL},
    [SCHEMA_P_MAX_SUBMISSIONS_PER_MARKET_DAY] = {"ingest.max_submissions_per_market_day",
                                                 SCHEMA_PK_INT, 200, 10, 5000, NULL},
    [SCHEMA_P_ODDS_BUCKET_SECONDS] = {"ingest.odds_bucket_seconds", SCHEMA_PK_INT, 60, 10, 3600,
                                      NULL},
    [SCHEMA_P_ODDS_WINDOW_DAYS] = {"ingest.odds_window_days", SCHEMA_PK_INT, 7, 1, 30, NULL},
    [SCHEMA_P_OUTCOME_BUCKET_SECONDS] = {"ingest.outcome_bucket_seconds", SCHEMA_PK_INT, 300, 30,
                                         3600, NULL},
    [SCHEMA_P_OUTCOME_MAX_RETRIES] = {"ingest.outcome_max_retries", SCHEMA_PK_INT, 5, 0, 100,
                                      NULL},
    [SCHEMA_P_OUTCOME_WINDOW_HOURS] = {"ingest.outcome_window_hours", SCHEMA_PK_INT, 12, 1, 72,
                                       NULL},
    [SCHEMA_P_PRICED_AT_TOLERANCE_SEC] = {"ingest.priced_at_tolerance_sec", SCHEMA_PK_INT, 300, 30,
                                          3600, NULL},
    [SCHEMA_P_PROB_TOLERANCE] = {"ingest.prob_tolerance", SCHEMA_PK_REAL, 100000, 1000, 10000000,
                                 NULL},
    [SCHEMA_P_LL_BUCKET_MINUTES] = {"lead_lag.bucket_minutes", SCHEMA_PK_INT, 5, 1, 1440, NULL},
    [SCHEMA_P_LL_LAG_WINDOW_MINUTES] = {"lead_lag.lag_window_minutes", SCHEMA_PK_INT, 30, 0,
                                        10080, NULL},
    [SCHEMA_P_LL_LEAD_WINDOW_MINUTES] = {"lead_lag.lead_window_minutes", SCHEMA_PK_INT, 30, 0,
                                         10080, NULL},
    [SCHEMA_P_LL_MOVE_THRESHOLD] = {"lead_lag.move_threshold", SCHEMA_PK_REAL, 20000000, 1, NANO,
                                    NULL},
    [SCHEMA_P_NORM_LOGISTIC_ALPHA] = {"normalization.logistic_alpha", SCHEMA_PK_REAL, NANO, 1,
                                      100 * NANO, NULL},
    [SCHEMA_P_NORM_METHOD] = {"normalization.method", SCHEMA_PK_TEXT, 0, 0, 0, method_choices},
    [SCHEMA_P_NORM_MIN_COUNT_ZSCORE] = {"normalization.min_count_for_zscore", SCHEMA_PK_INT, 10, 1,
                                        4096, NULL},
    [SCHEMA_P_SEC_CLE_MAX] = {"security.cle_max", SCHEMA_PK_REAL, 10 * NANO, -100 * NANO,
                              100 * NANO, NULL},
    [SCHEMA_P_SEC_CLE_MIN] = {"security.cle_min", SCHEMA_PK_REAL, -NANO, -100 * NANO, 100 * NANO,
                              NULL},
    [SCHEMA_P_SEC_ODDS_MAX] = {"security.odds_max", SCHEMA_PK_REAL, 1000 * NANO, 100 * NANO,
                               10000 * NANO, NULL},
    [SCHEMA_P_SEC_ODDS_MIN] = {"security.odds_min", SCHEMA_PK_REAL, 1010000000, 1001000000,
                               1100000000, NULL},
    [SCHEMA_P_SEC_PROB_MAX] = {"security.prob_max", SCHEMA_PK_REAL, 999000000, 990000000,
                               999900000, NULL},
    [SCHEMA_P_SEC_PROB_MIN] = {"security.prob_min", SCHEMA_PK_REAL, 1000000, 100000, 10000000,
                               NULL},
    [SCHEMA_P_SEC_PROB_SUM_TOLERANCE] = {"security.prob_sum_tolerance", SCHEMA_PK_REAL, 10000000,
                                         0, NANO, NULL},
    [SCHEMA_P_SHARP_TARGET_VARIANCE] = {"sharpness.target_variance", SCHEMA_PK_REAL, 40000000, 1,
                                        NANO, NULL},
    [SCHEMA_P_SHRINKAGE_K] = {"shrinkage.k", SCHEMA_PK_REAL, 200 * NANO, 0, 1000000 * NANO, NULL},
    [SCHEMA_P_W_INFO_ADV] = {"skill_score_weights.w_info_adv", SCHEMA_PK_REAL, 300000000, 0, NANO,
                             NULL},
    [SCHEMA_P_W_ODDS_EDGE] = {"skill_score_weights.w_odds_edge", SCHEMA_PK_REAL, 500000000, 0,
                              NANO, NULL},
    [SCHEMA_P_W_OUTCOME_ACCURACY] = {"skill_score_weights.w_outcome_accuracy", SCHEMA_PK_REAL,
                                     100000000, 0, NANO, NULL},
    [SCHEMA_P_W_OUTCOME_RELATIVE] = {"skill_score_weights.w_outcome_relative", SCHEMA_PK_REAL,
                                     100000000, 0, NANO, NULL},
    [SCHEMA_P_TW_EARLY_PENALTY_CLIP] = {"time_weight.early_penalty_clip", SCHEMA_PK_REAL,
                                        700000000, 0, NANO, NULL},
    [SCHEMA_P_TW_ENABLED] = {"time_weight.enabled", SCHEMA_PK_BOOL, 1, 0, 1, NULL},
    [SCHEMA_P_TW_FLOOR_FACTOR] = {"time_weight.floor_factor", SCHEMA_PK_REAL, 100000000, 0, NANO,
                                  NULL},
    [SCHEMA_P_TW_MAX_MINUTES] = {"time_weight.max_minutes", SCHEMA_PK_INT, 10080, 2, 1000000,
                                 NULL},
    [SCHEMA_P_TW_MIN_MINUTES] = {"time_weight.min_minutes", SCHEMA_PK_INT, 60, 1, 1000000, NULL},
    [SCHEMA_P_BURN_RATE] = {"weight_emission.burn_rate", SCHEMA_PK_REAL, 900000000, 0, NANO,
                            NULL},
    [SCHEMA_P_WIN_CALIBRATION_DAYS] = {"windows.calibration_window_days", SCHEMA_PK_INT, 60, 1, 90,
                                       NULL},
    [SCHEMA_P_WIN_MIN_SAMPLES_CAL] = {"windows.min_samples_calibration", SCHEMA_PK_INT, 30, 1,
                                      1000000, NULL},
    [SCHEMA_P_WIN_MIN_SAMPLES_ORIG] = {"windows.min_samples_originality", SCHEMA_PK_INT, 50, 1,
                                       1000000, NULL},
    [SCHEMA_P_WIN_ROLLING_DAYS] = {"windows.rolling_window_days", SCHEMA_PK_INT, 30, 1, 90, NULL},
};

const schema_pdef *schema_param_def(unsigned id)
{
    return id < SCHEMA_P_COUNT ? &defs[id] : NULL;
}

int schema_param_find(tally_str key)
{
    for (unsigned i = 0; i < SCHEMA_P_COUNT; i++) {
        if (strlen(defs[i].key) == key.n && memcmp(defs[i].key, key.p, key.n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void schema_paramset_default(schema_paramset *out)
{
    for (unsigned i = 0; i < SCHEMA_P_COUNT; i++) {
        out->v[i] = defs[i].def;
    }
}

/* The value a text parameter stores: the index of its choice. -1 when it is not a choice. */
static int64_t choice_index(const schema_pdef *d, tally_str s)
{
    for (int64_t i = 0; d->choices[i] != NULL; i++) {
        if (strlen(d->choices[i]) == s.n && memcmp(d->choices[i], s.p, s.n) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *kind_name(uint8_t kind)
{
    static const char *const names[] = {"an integer", "a real in nanos (an integer)", "a boolean",
                                        "text"};
    return kind < 4 ? names[kind] : "?";
}

tally_status schema_param_check(const schema_param *p, schema_param_error *err, int64_t *value_out)
{
    int id = schema_param_find(p->key);
    const schema_pdef *d;
    int64_t v;

    memset(err, 0, sizeof(*err));
    *value_out = 0;
    if (id < 0) {
        err->what = SCHEMA_PARAM_UNKNOWN;
        snprintf(err->msg, sizeof(err->msg), "unknown parameter key \"%.*s\"", (int)p->key.n,
                 p->key.p);
        return TALLY_EINVAL;
    }
    d = &defs[id];
    if ((d->kind == SCHEMA_PK_BOOL) != (p->value.kind == SCHEMA_PV_BOOL) ||
        (d->kind == SCHEMA_PK_TEXT) != (p->value.kind == SCHEMA_PV_TEXT)) {
        err->what = SCHEMA_PARAM_KIND;
        snprintf(err->msg, sizeof(err->msg), "parameter %s takes %s", d->key, kind_name(d->kind));
        return TALLY_EINVAL;
    }
    if (d->kind == SCHEMA_PK_TEXT) {
        v = choice_index(d, p->value.s);
    } else {
        v = d->kind == SCHEMA_PK_BOOL ? (int64_t)p->value.b : p->value.i;
    }
    /* a text value is the index of its choice, -1 for none; numbers keep their own range */
    if ((d->kind == SCHEMA_PK_TEXT && v < 0) ||
        (d->kind != SCHEMA_PK_TEXT && (v < d->lo || v > d->hi))) {
        err->what = SCHEMA_PARAM_RANGE;
        if (d->kind == SCHEMA_PK_TEXT) {
            snprintf(err->msg, sizeof(err->msg), "parameter %s: \"%.*s\" is not an allowed value",
                     d->key, (int)p->value.s.n, p->value.s.p);
        } else {
            snprintf(err->msg, sizeof(err->msg), "parameter %s = %lld is outside %lld..%lld",
                     d->key, (long long)v, (long long)d->lo, (long long)d->hi);
        }
        return TALLY_EINVAL;
    }
    *value_out = v;
    return TALLY_OK;
}

tally_status schema_paramset_apply(schema_paramset *ps, const schema_param *p, size_t n,
                                   schema_param_error *err)
{
    int64_t v;

    /* every value first, then the change: a list with one bad key changes nothing */
    for (size_t i = 0; i < n; i++) {
        if (schema_param_check(&p[i], err, &v) != TALLY_OK) {
            err->index = i;
            return TALLY_EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        tally_status st = schema_param_check(&p[i], err, &v);
        TALLY_ASSERT(st == TALLY_OK);
        ps->v[schema_param_find(p[i].key)] = v;
    }
    return TALLY_OK;
}

/* A decimal with an optional '-' and at most `frac` fraction digits, scaled by 10^frac, within
 * int64. False for anything else (no '+', no exponent, no spaces, digits on both sides of a
 * point). */
static bool parse_fixed(const char *s, unsigned frac, int64_t *out)
{
    bool neg = *s == '-';
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    unsigned seen = 0;
    bool point = false, digits = false;

    s += neg;
    for (; *s; s++) {
        if (*s == '.' && !point && digits && frac > 0 && s[1] != '\0') {
            point = true;
            continue;
        }
        if (*s < '0' || *s > '9' || (point && seen == frac)) {
            return false;
        }
        if (v > (lim - (uint64_t)(*s - '0')) / 10u) {
            return false;
        }
        v = v * 10u + (uint64_t)(*s - '0');
        seen += point;
        digits = true;
    }
    for (; digits && seen < frac; seen++) {
        if (v > lim / 10u) {
            return false;
        }
        v *= 10u;
    }
    if (!digits) {
        return false;
    }
    *out = !neg ? (int64_t)v : v == 0 ? 0 : -(int64_t)(v - 1u) - 1;
    return true;
}

tally_status schema_param_from_text(const char *key, const char *text, schema_param *out,
                                    schema_param_error *err)
{
    int id = schema_param_find((tally_str){key, strlen(key)});
    const schema_pdef *d;
    bool ok = true;
    int64_t v;

    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (id < 0) {
        err->what = SCHEMA_PARAM_UNKNOWN;
        snprintf(err->msg, sizeof(err->msg), "unknown parameter key \"%s\"", key);
        return TALLY_EINVAL;
    }
    d = &defs[id];
    out->key = (tally_str){d->key, strlen(d->key)};
    switch (d->kind) {
    case SCHEMA_PK_INT:
        out->value.kind = SCHEMA_PV_INT;
        ok = parse_fixed(text, 0, &out->value.i);
        break;
    case SCHEMA_PK_REAL:
        out->value.kind = SCHEMA_PV_INT;
        ok = parse_fixed(text, 9, &out->value.i);
        break;
    case SCHEMA_PK_BOOL:
        out->value.kind = SCHEMA_PV_BOOL;
        out->value.b = strcmp(text, "true") == 0;
        ok = out->value.b || strcmp(text, "false") == 0;
        break;
    default:
        out->value.kind = SCHEMA_PV_TEXT;
        out->value.s = (tally_str){text, strlen(text)};
        break;
    }
    if (!ok) {
        err->what = SCHEMA_PARAM_KIND;
        snprintf(err->msg, sizeof(err->msg), "parameter %s takes %s; \"%s\" is not one", d->key,
                 d->kind == SCHEMA_PK_REAL ? "a decimal with up to 9 fraction digits"
                 : d->kind == SCHEMA_PK_BOOL ? "true or false"
                                             : "a decimal integer",
                 text);
        memset(out, 0, sizeof(*out));
        return TALLY_EINVAL;
    }
    if (schema_param_check(out, err, &v) != TALLY_OK) {
        memset(out, 0, sizeof(*out));
        return TALLY_EINVAL;
    }
    return TALLY_OK;
}

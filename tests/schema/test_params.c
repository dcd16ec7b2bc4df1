/* The ledger parameter table (protocol §2.6, scoring §9): keys ascending and unique, defaults
 * inside their ranges, §2.6's stated defaults and ranges, and every refusal of a bad list
 * (unknown key, wrong kind, one step past either bound) changing nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/engine.h"
#include "schema/schema.h"

static tally_str S(const char *s)
{
    return (tally_str){s, strlen(s)};
}

static schema_param P_int(const char *k, int64_t v)
{
    return (schema_param){.key = S(k), .value = {.kind = SCHEMA_PV_INT, .i = v}};
}

static void table_is_sound(void **state)
{
    (void)state;
    for (unsigned i = 0; i < SCHEMA_P_COUNT; i++) {
        const schema_pdef *d = schema_param_def(i);
        assert_non_null(d);
        assert_non_null(d->key);
        assert_int_equal(schema_param_find(S(d->key)), (int)i);
        if (i > 0) {
            assert_true(strcmp(schema_param_def(i - 1)->key, d->key) < 0);
        }
        if (d->kind == SCHEMA_PK_TEXT) {
            assert_non_null(d->choices);
            assert_non_null(d->choices[d->def]);
        } else {
            assert_true(d->lo <= d->def && d->def <= d->hi);
        }
    }
    assert_null(schema_param_def(SCHEMA_P_COUNT));
    assert_int_equal(schema_param_find(S("bogus.key")), -1);
    /* aliases are not keys (one byte form per setting, §2.6) */
    assert_int_equal(schema_param_find(S("w_forecast")), -1);
}

/* §2.6 states these defaults and ranges; the table must say the same. */
static void section_2_6(void **state)
{
    static const struct {
        const char *key;
        int64_t def, lo, hi;
    } want[] = {
        {"ingest.odds_window_days", 7, 1, 30},
        {"ingest.games_lookahead_days", 14, 1, 30},
        {"ingest.priced_at_tolerance_sec", 300, 30, 3600},
        {"ingest.max_submissions_per_market_day", 200, 10, 5000},
        {"ingest.odds_bucket_seconds", 60, 10, 3600},
        {"ingest.outcome_window_hours", 12, 1, 72},
        {"ingest.max_outcomes_per_event_day", 50, 5, 1000},
        {"ingest.outcome_bucket_seconds", 300, 30, 3600},
        {"security.odds_min", 1010000000, 1001000000, 1100000000},
        {"security.odds_max", 1000000000000, 100000000000, 10000000000000},
        {"security.prob_min", 1000000, 100000, 10000000},
        {"security.prob_max", 999000000, 990000000, 999900000},
        {"ingest.prob_tolerance", 100000, 1000, 10000000},
        {"auth.min_stake_rao", 100000000000000, 0, INT64_MAX},
        {"finality.k", 2, 1, 64},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int id = schema_param_find(S(want[i].key));
        assert_true(id >= 0);
        assert_int_equal(schema_param_def((unsigned)id)->def, want[i].def);
        assert_int_equal(schema_param_def((unsigned)id)->lo, want[i].lo);
        assert_int_equal(schema_param_def((unsigned)id)->hi, want[i].hi);
    }
}

static void refusals_change_nothing(void **state)
{
    schema_paramset ps, before;
    schema_param_error err;
    schema_param list[2];
    (void)state;

    schema_paramset_default(&ps);
    before = ps;
    list[0] = P_int("decay.half_life_days", 12);
    /* unknown key */
    list[1] = P_int("bogus.key", 1);
    assert_int_equal(schema_paramset_apply(&ps, list, 2, &err), TALLY_EINVAL);
    assert_int_equal(err.what, SCHEMA_PARAM_UNKNOWN);
    assert_int_equal(err.index, 1);
    assert_non_null(strstr(err.msg, "bogus.key"));
    assert_memory_equal(&ps, &before, sizeof(ps));
    /* one past each bound, then each bound itself */
    list[1] = P_int("decay.half_life_days", 366);
    assert_int_equal(schema_paramset_apply(&ps, list + 1, 1, &err), TALLY_EINVAL);
    assert_int_equal(err.what, SCHEMA_PARAM_RANGE);
    assert_non_null(strstr(err.msg, "1..365"));
    list[1] = P_int("decay.half_life_days", 0);
    assert_int_equal(schema_paramset_apply(&ps, list + 1, 1, &err), TALLY_EINVAL);
    list[1] = P_int("decay.half_life_days", 100000);
    assert_int_equal(schema_paramset_apply(&ps, list + 1, 1, &err), TALLY_EINVAL);
    assert_memory_equal(&ps, &before, sizeof(ps));
    list[1] = P_int("decay.half_life_days", 365);
    assert_int_equal(schema_paramset_apply(&ps, list + 1, 1, &err), TALLY_OK);
    assert_int_equal(ps.v[SCHEMA_P_DECAY_HALF_LIFE_DAYS], 365);
    list[1] = P_int("decay.half_life_days", 1);
    assert_int_equal(schema_paramset_apply(&ps, list + 1, 1, &err), TALLY_OK);
    /* wrong kinds: an integer for a bool, a bool for an integer, text for a real */
    ps = before;
    list[0] = P_int("auth.require_permit", 1);
    assert_int_equal(schema_paramset_apply(&ps, list, 1, &err), TALLY_EINVAL);
    assert_int_equal(err.what, SCHEMA_PARAM_KIND);
    list[0] = (schema_param){.key = S("finality.k"), .value = {.kind = SCHEMA_PV_BOOL, .b = true}};
    assert_int_equal(schema_paramset_apply(&ps, list, 1, &err), TALLY_EINVAL);
    list[0] = (schema_param){.key = S("shrinkage.k"), .value = {.kind = SCHEMA_PV_TEXT, .s = S("2")}};
    assert_int_equal(schema_paramset_apply(&ps, list, 1, &err), TALLY_EINVAL);
    /* text: only a listed choice */
    list[0] = (schema_param){.key = S("normalization.method"),
                             .value = {.kind = SCHEMA_PV_TEXT, .s = S("minmax")}};
    assert_int_equal(schema_paramset_apply(&ps, list, 1, &err), TALLY_EINVAL);
    assert_int_equal(err.what, SCHEMA_PARAM_RANGE);
    list[0].value.s = S("zscore_logistic");
    assert_int_equal(schema_paramset_apply(&ps, list, 1, &err), TALLY_OK);
    assert_memory_equal(&ps, &before, sizeof(ps));
}

/* The engine's scoring fields come from the table: defaults, and a set value lands in its
 * field. */
static void engine_fields(void **state)
{
    schema_paramset ps;
    engine_params p;
    schema_param_error err;
    schema_param one = P_int("skill_score_weights.w_odds_edge", 420000000);
    (void)state;

    engine_params_default(&p);
    assert_int_equal(p.half_life_days, 10);
    assert_int_equal(p.shrink_k, 200000000000);
    assert_int_equal(p.odds_bucket_s, 60);
    assert_int_equal(p.tw_enabled, 1);
    schema_paramset_default(&ps);
    assert_int_equal(schema_paramset_apply(&ps, &one, 1, &err), TALLY_OK);
    engine_params_from(&ps, &p);
    assert_int_equal(p.w_econ, 420000000);
    assert_int_equal(engine_params_set(&p, S("ingest.odds_window_days"),
                                       &(schema_pvalue){.kind = SCHEMA_PV_INT, .i = 3}),
                     TALLY_OK);
    assert_int_equal(engine_params_set(&p, S("ingest.odds_window_days"),
                                       &(schema_pvalue){.kind = SCHEMA_PV_INT, .i = 31}),
                     TALLY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_is_sound),
        cmocka_unit_test(section_2_6),
        cmocka_unit_test(refusals_change_nothing),
        cmocka_unit_test(engine_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

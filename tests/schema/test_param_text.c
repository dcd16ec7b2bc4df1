/* schema_param_from_text: each kind in its own form (ints, reals as decimals to nanos, bools,
 * text choices), exact conversion, and every malformed or out-of-range value refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "schema/schema.h"

static int64_t ok(const char *key, const char *text)
{
    schema_param p;
    schema_param_error e;

    if (schema_param_from_text(key, text, &p, &e) != TALLY_OK) {
        fail_msg("%s=%s: %s", key, text, e.msg);
    }
    assert_int_equal(p.key.n, strlen(key));
    return p.value.kind == SCHEMA_PV_BOOL ? (int64_t)p.value.b : p.value.i;
}

static int bad(const char *key, const char *text)
{
    schema_param p;
    schema_param_error e;

    assert_int_equal(schema_param_from_text(key, text, &p, &e), TALLY_EINVAL);
    assert_int_equal(p.key.n, 0);
    assert_true(e.msg[0] != '\0');
    return e.what;
}

static void each_kind(void **state)
{
    schema_param p;
    schema_param_error e;
    (void)state;

    assert_int_equal(ok("ingest.max_submissions_per_market_day", "10"), 10);
    assert_int_equal(ok("security.odds_min", "1.05"), 1050000000);
    assert_int_equal(ok("security.odds_min", "1.1"), 1100000000);
    assert_int_equal(ok("security.odds_min", "1.001000000"), 1001000000);
    assert_int_equal(ok("security.odds_max", "100"), 100000000000);
    assert_int_equal(ok("security.cle_min", "-1.5"), -1500000000);
    assert_int_equal(ok("auth.require_permit", "false"), 0);
    assert_int_equal(ok("auth.require_permit", "true"), 1);
    assert_int_equal(schema_param_from_text("normalization.method", "zscore_logistic", &p, &e),
                     TALLY_OK);
    assert_int_equal(p.value.kind, SCHEMA_PV_TEXT);
}

static void refusals(void **state)
{
    (void)state;
    assert_int_equal(bad("no.such.key", "1"), SCHEMA_PARAM_UNKNOWN);
    assert_int_equal(bad("ingest.max_submissions_per_market_day", "9"), SCHEMA_PARAM_RANGE);
    assert_int_equal(bad("ingest.max_submissions_per_market_day", "10.0"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("ingest.max_submissions_per_market_day", ""), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("ingest.max_submissions_per_market_day", "+10"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("ingest.max_submissions_per_market_day", "1e3"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("ingest.max_submissions_per_market_day", "99999999999999999999"),
                     SCHEMA_PARAM_KIND);
    assert_int_equal(bad("security.odds_min", "1.0500000001"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("security.odds_min", "1."), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("security.odds_min", ".5"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("security.odds_min", "-"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("security.odds_min", "9223372037"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("security.odds_min", "2"), SCHEMA_PARAM_RANGE);
    assert_int_equal(bad("auth.require_permit", "1"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("auth.require_permit", "TRUE"), SCHEMA_PARAM_KIND);
    assert_int_equal(bad("normalization.method", "zscore"), SCHEMA_PARAM_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_kind),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

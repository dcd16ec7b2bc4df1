/* Protocol §12 against a real `tally serve`: routes and methods (35), the admin feed's refusals
 * (14's text field, 43, 48), and the drain after SIGTERM (44). A refused feed batch appends
 * nothing, whatever its other records. */
#include "net/cases.h"

static const char *const env_ops[] = {"TALLY_SHUTDOWN_GRACE_S=1", NULL};

typedef struct fixture {
    tn_node n;
    tn_miner m;
    uint64_t ids[1];
} fixture;

static void setup(fixture *f, const char *tag, const char *const *env)
{
    tn_init(&f->n, tag);
    cs_start(&f->n, env);
    tn_miner_init(&f->m, 1);
    f->ids[0] = 7001;
    tn_feed(&f->n, &f->m, 1, 100, f->ids, 1, tn_now() + CS_DAY);
}

static void teardown(fixture *f)
{
    assert_int_equal(tn_stop(&f->n, SIGTERM), 0);
    tn_free(&f->n);
}

static void case_35_routes(void **state)
{
    fixture f;
    tn_resp r;
    uint64_t size0;
    (void)state;

    setup(&f, "cases_routes", env_ops);
    size0 = tn_size(&f.n);
    tn_http(&f.n, TN_INGEST, "DELETE", "/v1/odds", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 405, "method_not_allowed");
    assert_string_equal(r.allow, "POST");
    tn_resp_free(&r);
    tn_http(&f.n, TN_INGEST, "GET", "/v1/outcomes", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 405, "method_not_allowed");
    assert_string_equal(r.allow, "POST");
    tn_resp_free(&r);
    tn_http(&f.n, TN_INGEST, "POST", "/v1/games", NULL, 0, "x", 1, "application/msgpack", &r);
    cs_expect(&r, 405, "method_not_allowed");
    assert_non_null(strstr(r.allow, "GET"));
    tn_resp_free(&r);
    tn_http(&f.n, TN_INGEST, "GET", "/v1/oddz", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 404, "unknown_route");
    tn_resp_free(&r);
    /* a route of another listener is no route here */
    tn_http(&f.n, TN_LEDGER, "POST", "/v1/odds", NULL, 0, "x", 1, "application/msgpack", &r);
    cs_expect(&r, 404, "unknown_route");
    tn_resp_free(&r);
    /* the admin API wants its token */
    tn_http(&f.n, TN_OPS, "GET", "/admin/v1/bans", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 401, "admin_unauthorized");
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f.n), size0);
    teardown(&f);
}

/* A feed batch that must be refused whole with status and code, naming record idx. */
static void feed_refused(fixture *f, const char *records, unsigned status, const char *code,
                         size_t idx, const char *field)
{
    tn_resp r;
    uint64_t size0 = tn_size(&f->n);
    cs_feed_json(&f->n, records, &r);
    cs_expect(&r, status, code);
    assert_int_equal(json_integer_value(json_object_get(cs_details(&r), "idx")), idx);
    if (field != NULL) {
        const char *got = json_string_value(json_object_get(cs_details(&r), "field"));
        if (got == NULL || strstr(got, field) == NULL) {
            fail_msg("expected details.field naming %s: %s", field, r.body);
        }
    }
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f->n), size0);
}

#define EVENT_8001                                                                                 \
    "{\"type\": \"EVENT\", \"body\": {\"event_id\": 8001, \"sport\": \"soccer\", \"league\": "     \
    "\"EPL\", \"home_team\": \"Lions\", \"away_team\": \"Bears\", \"venue\": null, "               \
    "\"start_ms\": 1, \"status\": \"scheduled\", \"ext_id\": null}}"

static void case_14_43_feed_refusals(void **state)
{
    fixture f;
    tn_resp r;
    char rec[1024];
    (void)state;

    setup(&f, "cases_feed", env_ops);
    /* 14: a team name with U+0007, in the second record */
    feed_refused(&f,
                 EVENT_8001 ", {\"type\": \"EVENT\", \"body\": {\"event_id\": 8002, \"sport\": "
                            "\"soccer\", \"league\": \"EPL\", \"home_team\": \"Li\\u0007ons\", "
                            "\"away_team\": \"Bears\", \"venue\": null, \"start_ms\": 1, "
                            "\"status\": \"scheduled\", \"ext_id\": null}}",
                 422, "invalid_field", 1, "home_team");

    /* 43: MARKET 7001001 again with other bytes (a draw side), after a valid record */
    feed_refused(&f,
                 EVENT_8001 ", {\"type\": \"MARKET\", \"body\": {\"market_id\": 7001001, "
                            "\"event_id\": 7001, \"kind\": \"moneyline\", \"line_n\": null, "
                            "\"sides\": [\"home\", \"away\", \"draw\"]}}",
                 409, "conflict", 1, NULL);
    /* the same bytes again are a no-op, not a conflict */
    cs_market(&f.n, 7001001, 7001, "moneyline", 0, "[\"home\", \"away\"]", &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 0);
    tn_resp_free(&r);
    /* 43: a second GENESIS (the log has one at seq 0, from tally init) */
    snprintf(rec, sizeof(rec),
             "{\"type\": \"GENESIS\", \"body\": {\"origin\": \"%s\", \"netuid\": 1, "
             "\"node_hotkey\": \"5CRmhE2Xwb3R9cVS7jWeu6EJjaTnDKPNdFcv6CKBcr4Z4tK7\", "
             "\"created_ms\": 0, \"code_version\": \"tally-0.1.0\", \"params\": [], \"chain\": "
             "{\"netuid\": 1, \"block\": 10, \"tempo\": 360, \"max_weight_limit\": 65535, "
             "\"min_allowed_weights\": 1, \"max_allowed_uids\": 256, \"owner_hotkey\": null}}}",
             f.n.origin);
    feed_refused(&f, rec, 409, "conflict", 0, NULL);
    char two[2048];
    snprintf(two, sizeof(two), "%s, %s", EVENT_8001, rec);
    feed_refused(&f, two, 409, "conflict", 1, NULL);
    teardown(&f);
}

static void case_48_close(void **state)
{
    fixture f;
    tn_resp r;
    char rec[1024];
    uint64_t start = tn_now() - CS_HOUR, later = tn_now() + CS_HOUR, size0;
    static const char probs[] =
        "[{\"side\": \"home\", \"prob_n\": 500000000, \"odds_n\": 2000000000, \"books\": 3, "
        "\"std_dev_n\": null}, {\"side\": \"away\", \"prob_n\": 500000000, \"odds_n\": "
        "2000000000, \"books\": 3, \"std_dev_n\": null}]";
    (void)state;

    setup(&f, "cases_close", env_ops);
    cs_event(&f.n, 7001, start, "in_play");
    cs_event(&f.n, 7002, later, "scheduled");
    cs_market(&f.n, 7002001, 7002, "moneyline", 0, "[\"home\", \"away\"]", &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    /* close_ms other than the event's start */
    snprintf(rec, sizeof(rec),
             "{\"type\": \"CLOSE\", \"body\": {\"market_id\": 7001001, \"close_ms\": %llu, "
             "\"probs\": %s}}",
             (unsigned long long)(start + 1), probs);
    feed_refused(&f, rec, 422, "invalid_field", 0, NULL);
    /* at the start, but appended before it */
    snprintf(rec, sizeof(rec),
             "{\"type\": \"CLOSE\", \"body\": {\"market_id\": 7002001, \"close_ms\": %llu, "
             "\"probs\": %s}}",
             (unsigned long long)later, probs);
    feed_refused(&f, rec, 422, "invalid_field", 0, NULL);
    /* a salt sent by the feeder */
    snprintf(rec, sizeof(rec),
             "{\"type\": \"CLOSE\", \"body\": {\"market_id\": 7001001, \"close_ms\": %llu, "
             "\"probs\": %s, \"salt\": \"000102030405060708090a0b0c0d0e0f\"}}",
             (unsigned long long)start, probs);
    feed_refused(&f, rec, 400, "malformed_body", 0, "salt");
    /* the valid CLOSE is taken */
    size0 = tn_size(&f.n);
    snprintf(rec, sizeof(rec),
             "{\"type\": \"CLOSE\", \"body\": {\"market_id\": 7001001, \"close_ms\": %llu, "
             "\"probs\": %s}}",
             (unsigned long long)start, probs);
    cs_feed_json(&f.n, rec, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 1);
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f.n), size0 + 1);
    teardown(&f);
}

static void case_44_drain(void **state)
{
    static const char *const env_drain[] = {"TALLY_SHUTDOWN_GRACE_S=8", NULL};
    fixture f;
    tn_resp r;
    uint64_t size0, t0;
    (void)state;

    setup(&f, "cases_drain", env_drain);
    size0 = tn_size(&f.n);
    /* keep-alive connections to the ingest and ops listeners */
    tn_http(&f.n, TN_INGEST, "GET", "/", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    tn_http(&f.n, TN_OPS, "GET", "/health/ready", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    kill(f.n.pid, SIGTERM);
    /* the node notices the signal within its loop's tick; the notice lasts 2 s */
    t0 = tn_now();
    do {
        tn_http(&f.n, TN_INGEST, "GET", "/", NULL, 0, NULL, 0, NULL, &r);
        if (r.status == 503) {
            break;
        }
        assert_int_equal(r.status, 200);
        tn_resp_free(&r);
        cs_sleep_ms(20);
    } while (tn_now() < t0 + 1500);
    cs_expect(&r, 503, "shutting_down");
    tn_resp_free(&r);
    /* a signed write, too */
    size_t bn;
    uint8_t *body = tn_odds(&f.n, &f.m, 9000, f.ids, 1, &bn);
    tn_signed(&f.n, &f.m, "POST", "/v1/odds", body, bn, 0, 9000, &r);
    cs_expect(&r, 503, "shutting_down");
    assert_true(r.retry_after[0] != '\0'); /* §7.1: every 503 says when to come back */
    tn_resp_free(&r);
    free(body);
    tn_http(&f.n, TN_OPS, "GET", "/health/ready", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 503, "shutting_down");
    json_t *failing = json_object_get(cs_details(&r), "failing");
    assert_true(json_is_array(failing));
    assert_string_equal(json_string_value(json_array_get(failing, 0)), "draining");
    tn_resp_free(&r);
    /* liveness still answers while draining */
    tn_http(&f.n, TN_OPS, "GET", "/health/live", NULL, 0, NULL, 0, NULL, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    /* no second signal (that would exit at once): wait for the exit */
    assert_int_equal(tn_stop(&f.n, 0), 0);
    assert_int_equal(tn_size(&f.n), size0);
    tn_free(&f.n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_35_routes),
        cmocka_unit_test(case_14_43_feed_refusals),
        cmocka_unit_test(case_48_close),
        cmocka_unit_test(case_44_drain),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Protocol §12 against a real `tally serve`: the state rules of §5.4 the writer applies — closed
 * and not-yet-open markets (20, 21), priced_at (21), sides, kinds and events of markets (22), the
 * daily cap and the bucket (23), a request partly accepted (24) and the outcome windows (29).
 *
 * The node runs on a manual clock (TALLY_CLOCK=manual) standing at S, so the writer's time T is S
 * exactly and the boundaries can be hit to the millisecond: an event starting at S − 1 is closed,
 * one starting at S is open. The clock moves only by restarting the node at a later S (23 needs
 * five buckets). A standing clock also stands for the rate windows, which are raised here. */
#include "net/cases.h"

#define NM 4

static char clock_env[64];
static const char *const env_rules[] = {"TALLY_CLOCK=manual",
                                        clock_env,
                                        "TALLY_SHUTDOWN_GRACE_S=1",
                                        "TALLY_RATE_KEY_PER_S=1000",
                                        "TALLY_RATE_KEY_PER_MIN=60000",
                                        "TALLY_RATE_IP_PER_S=1000",
                                        "TALLY_RATE_IP_PER_MIN=60000",
                                        "TALLY_RATE_GLOBAL_PER_S=1000",
                                        "TALLY_RATE_GLOBAL_PER_MIN=60000",
                                        NULL};

typedef struct fixture {
    tn_node n;
    tn_miner m[NM];
    uint64_t s; /* the node clock */
} fixture;

static void start_at(fixture *f, uint64_t s)
{
    f->s = s;
    snprintf(clock_env, sizeof(clock_env), "TALLY_CLOCK_START_MS=%llu", (unsigned long long)s);
    cs_start(&f->n, env_rules);
}

static void setup(fixture *f, const char *tag, const uint64_t *ids, size_t k)
{
    /* an hour ahead of the real clock (so after GENESIS), on a 5-minute boundary */
    uint64_t s = (tn_now() + CS_HOUR) / 300000 * 300000;
    tn_init(&f->n, tag);
    start_at(f, s);
    for (int i = 0; i < NM; i++) {
        tn_miner_init(&f->m[i], (uint8_t)(i + 1));
    }
    tn_feed(&f->n, f->m, NM, 100, ids, k, s + CS_DAY);
}

static void teardown(fixture *f)
{
    assert_int_equal(tn_stop(&f->n, SIGTERM), 0);
    tn_free(&f->n);
}

/* A signed request at the node's time. */
static void post(fixture *f, tn_miner *m, const char *route, const cs_mp *req, tn_resp *out)
{
    cs_opt o = {.t = f->s, .nonce = m->nonce};
    cs_signed(&f->n, m, "POST", route, req->b, req->n, &o, out);
}

/* One odds item for event with entries, under the miner's next nonce; answered in out. */
static void odds(fixture *f, tn_miner *m, uint64_t event, const cs_entry *e, size_t ne,
                 tn_resp *out)
{
    cs_mp req = cs_odds1(&f->n, m, ++m->nonce, event, e, ne);
    post(f, m, "/v1/odds", &req, out);
    free(req.b);
}

/* The only item is refused with item_code: 422 items_rejected, nothing appended. */
static void odds_rejected(fixture *f, tn_miner *m, uint64_t event, const cs_entry *e, size_t ne,
                          const char *item_code)
{
    tn_resp r;
    uint64_t size0 = tn_size(&f->n);
    odds(f, m, event, e, ne, &r);
    cs_expect(&r, 422, "items_rejected");
    if (strcmp(cs_item_err(&r, 0), item_code) != 0) {
        fail_msg("event %llu: expected item %s, got %s", (unsigned long long)event, item_code,
                 r.body);
    }
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f->n), size0);
}

static void odds_accepted(fixture *f, tn_miner *m, uint64_t event, const cs_entry *e, size_t ne)
{
    tn_resp r;
    uint64_t size0 = tn_size(&f->n);
    odds(f, m, event, e, ne, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 1);
    json_t *it = json_array_get(json_object_get(r.json, "items"), 0);
    assert_int_equal(json_integer_value(json_object_get(it, "time_ms")), f->s);
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f->n), size0 + 1);
}

static void case_20_21_22_open_and_markets(void **state)
{
    fixture f;
    static const uint64_t ids[] = {2001, 2002, 2003, 2004, 2005, 2006, 2007};
    cs_entry e;
    tn_resp r;
    (void)state;

    setup(&f, "cases_open", ids, 7);
    /* 20: started 1 ms before T */
    cs_event(&f.n, 2001, f.s - 1, "scheduled");
    e = cs_ml(2001001);
    odds_rejected(&f, &f.m[0], 2001, &e, 1, "market_closed");
    /* a start exactly at T is accepted */
    cs_event(&f.n, 2005, f.s, "scheduled");
    e = cs_ml(2005001);
    odds_accepted(&f, &f.m[0], 2005, &e, 1);
    /* 21: starting at T + 7 d + 1 ms; at T + 7 d exactly it is open */
    cs_event(&f.n, 2002, f.s + 7 * CS_DAY + 1, "scheduled");
    e = cs_ml(2002001);
    odds_rejected(&f, &f.m[0], 2002, &e, 1, "market_not_open");
    cs_event(&f.n, 2002, f.s + 7 * CS_DAY, "scheduled");
    odds_accepted(&f, &f.m[0], 2002, &e, 1);
    /* 21: priced 301 s before T; 300 s before is within the tolerance */
    e = cs_ml(2003001);
    e.has_pa = true, e.pa = f.s - 301000;
    odds_rejected(&f, &f.m[0], 2003, &e, 1, "priced_at_out_of_range");
    e.pa = f.s + 301000;
    odds_rejected(&f, &f.m[0], 2003, &e, 1, "priced_at_out_of_range");
    e = cs_ml(2004001);
    e.has_pa = true, e.pa = f.s - 300000;
    odds_accepted(&f, &f.m[0], 2004, &e, 1);

    /* 22: a draw price for a two-way market */
    e = cs_ml(2006001);
    e.np = 3; /* three ways at 3.00 each: a valid moneyline entry, but not for this market */
    for (int i = 0; i < 3; i++) {
        e.p[i] = (cs_price){(uint64_t)(SCHEMA_HOME + i), 3000000000u, 333333333u};
    }
    odds_rejected(&f, &f.m[1], 2006, &e, 1, "market_sides_mismatch");
    /* a spread entry for a moneyline market */
    e = cs_ml(2006001);
    e.kind = SCHEMA_SPREAD;
    odds_rejected(&f, &f.m[1], 2006, &e, 1, "market_kind_mismatch");
    /* the market of another event */
    e = cs_ml(2007001);
    odds_rejected(&f, &f.m[1], 2006, &e, 1, "market_event_mismatch");
    /* a market that does not exist, and an event that does not */
    e = cs_ml(2006009);
    odds_rejected(&f, &f.m[1], 2006, &e, 1, "unknown_market");
    e = cs_ml(2999001);
    odds_rejected(&f, &f.m[1], 2999, &e, 1, "unknown_event");
    /* after all that, the market takes the miner's valid entry */
    e = cs_ml(2006001);
    odds_accepted(&f, &f.m[1], 2006, &e, 1);

    /* the details of a rejected item name it */
    cs_event(&f.n, 2007, f.s - 1, "scheduled");
    e = cs_ml(2007001);
    odds(&f, &f.m[2], 2007, &e, 1, &r);
    cs_expect(&r, 422, "items_rejected");
    json_t *it = cs_item0(&r);
    assert_int_equal(json_integer_value(json_object_get(it, "idx")), 0);
    assert_string_equal(json_string_value(json_object_get(it, "status")), "rejected");
    assert_true(json_is_string(json_object_get(it, "message")));
    tn_resp_free(&r);
    teardown(&f);
}

static void case_23_cap_and_bucket(void **state)
{
    fixture f;
    static const uint64_t ids[] = {2301, 2302};
    cs_entry e = cs_ml(2301001);
    tn_resp r;
    uint64_t size;
    (void)state;

    setup(&f, "cases_cap", ids, 2);
    /* the cap is 200 prices a day by default; at its lowest (10) it takes five entries */
    tn_admin(&f.n, "POST", "/admin/v1/config",
             "{\"params\": [{\"key\": \"ingest.max_submissions_per_market_day\", \"value\": 10}],"
             " \"reason\": \"test\"}",
             &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    for (int k = 0; k < 5; k++) {
        if (k > 0) {
            assert_int_equal(tn_stop(&f.n, SIGTERM), 0);
            start_at(&f, f.s + 60000); /* the next 60 s bucket */
        }
        odds_accepted(&f, &f.m[0], 2301, &e, 1);
        if (k == 0) {
            /* a second entry in the same bucket; the earlier record stays as it was */
            size = tn_size(&f.n);
            odds_rejected(&f, &f.m[0], 2301, &e, 1, "duplicate_in_bucket");
            assert_int_equal(tn_size(&f.n), size);
            /* the bucket is the hotkey's: another miner prices the market in it */
            odds_accepted(&f, &f.m[1], 2301, &e, 1);
        }
    }
    assert_int_equal(tn_stop(&f.n, SIGTERM), 0);
    start_at(&f, f.s + 60000);
    /* ten prices in the trailing 24 h: the next entry is over the cap */
    odds_rejected(&f, &f.m[0], 2301, &e, 1, "market_daily_cap");
    /* the cap is per market: another market of the same miner is taken */
    cs_entry e2 = cs_ml(2302001);
    odds_accepted(&f, &f.m[0], 2302, &e2, 1);
    teardown(&f);
}

static void case_24_partly_accepted(void **state)
{
    fixture f;
    static const uint64_t ids[] = {2401, 2402};
    cs_mp req = {0}, b = {0};
    tn_resp r;
    uint64_t size0, nonce;
    (void)state;

    setup(&f, "cases_partly", ids, 2);
    cs_event(&f.n, 2402, f.s - 1, "scheduled");
    size0 = tn_size(&f.n);
    nonce = ++f.m[0].nonce;
    cs_arr(&req, 2);
    cs_entry e1 = cs_ml(2401001), e2 = cs_ml(2402001);
    cs_odds_body(&b, nonce, 0, 2401, &e1, 1, 16);
    cs_item(&req, f.n.origin, SCHEMA_ODDS_SUBMISSION, &f.m[0], &b);
    free(b.b);
    b = (cs_mp){0};
    cs_odds_body(&b, nonce, 1, 2402, &e2, 1, 16);
    cs_item(&req, f.n.origin, SCHEMA_ODDS_SUBMISSION, &f.m[0], &b);
    free(b.b);
    post(&f, &f.m[0], "/v1/odds", &req, &r);
    free(req.b);
    cs_expect(&r, 200, NULL);
    assert_true(json_is_false(json_object_get(r.json, "duplicate")));
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 1);
    assert_int_equal(json_integer_value(json_object_get(r.json, "rejected")), 1);
    json_t *items = json_object_get(r.json, "items");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "status")),
                        "accepted");
    assert_string_equal(cs_item_err(&r, 1), "market_closed");
    json_t *rc = json_object_get(r.json, "receipt");
    assert_int_equal(json_array_size(json_object_get(rc, "entries")), 1);
    assert_int_equal(
        json_integer_value(json_array_get(json_array_get(json_object_get(rc, "entries"), 0), 0)),
        json_integer_value(json_object_get(json_array_get(items, 0), "seq")));
    assert_int_equal(json_integer_value(json_object_get(rc, "tree_size")), size0 + 1);
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f.n), size0 + 1);
    teardown(&f);
}

static void outcome(fixture *f, tn_miner *m, uint64_t event, tn_resp *out)
{
    cs_mp req = {0}, b = {0};
    uint64_t nonce = ++m->nonce;
    cs_arr(&req, 1);
    cs_outcome_body(&b, nonce, 0, event, SCHEMA_R_HOME, 2, 1, true);
    cs_item(&req, f->n.origin, SCHEMA_OUTCOME, m, &b);
    free(b.b);
    post(f, m, "/v1/outcomes", &req, out);
    free(req.b);
}

static void outcome_rejected(fixture *f, uint64_t event, const char *item_code)
{
    tn_resp r;
    uint64_t size0 = tn_size(&f->n);
    outcome(f, &f->m[0], event, &r);
    cs_expect(&r, 422, "items_rejected");
    if (strcmp(cs_item_err(&r, 0), item_code) != 0) {
        fail_msg("event %llu: expected item %s, got %s", (unsigned long long)event, item_code,
                 r.body);
    }
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f->n), size0);
}

static void case_29_outcome_windows(void **state)
{
    fixture f;
    static const uint64_t ids[] = {2901, 2902, 2903, 2904, 2905};
    tn_resp r;
    uint64_t size0;
    (void)state;

    setup(&f, "cases_outcome", ids, 5);
    /* before the start */
    cs_event(&f.n, 2901, f.s + 1, "scheduled");
    outcome_rejected(&f, 2901, "event_not_started");
    /* at start + 12 h + 1 ms */
    cs_event(&f.n, 2902, f.s - 12 * CS_HOUR - 1, "finished");
    outcome_rejected(&f, 2902, "outcome_window_closed");
    /* a void event */
    cs_event(&f.n, 2903, f.s - CS_HOUR, "void");
    outcome_rejected(&f, 2903, "event_ineligible");
    /* at start + 12 h exactly, and at the start exactly, an outcome is taken */
    cs_event(&f.n, 2904, f.s - 12 * CS_HOUR, "finished");
    cs_event(&f.n, 2905, f.s, "in_play");
    size0 = tn_size(&f.n);
    outcome(&f, &f.m[0], 2904, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    outcome(&f, &f.m[0], 2905, &r);
    cs_expect(&r, 200, NULL);
    tn_resp_free(&r);
    assert_int_equal(tn_size(&f.n), size0 + 2);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_20_21_22_open_and_markets),
        cmocka_unit_test(case_23_cap_and_bucket),
        cmocka_unit_test(case_24_partly_accepted),
        cmocka_unit_test(case_29_outcome_windows),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

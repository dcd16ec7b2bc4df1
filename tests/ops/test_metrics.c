/* The Prometheus registry through ops/ops.h: the exact text of a small registry, histogram
 * buckets (edges included), label and help escaping, value cutting, the series cap and its
 * overflow series, number formatting, bad tables refused, and exact counts under threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

static const char *const build_labels[] = {"version", "commit", NULL};
static const char *const req_labels[] = {"listener", "route", "method", "status", NULL};
static const char *const dur_labels[] = {"listener", "route", NULL};
static const double record_buckets[] = {1, 10, 100};

enum { M_BUILD, M_REQS, M_QUEUE, M_RECORDS, M_DURATION, M_COUNT };

static const ops_metric_def defs[M_COUNT] = {
    [M_BUILD] = {.name = "tally_build_info",
                 .help = "Build version and commit.",
                 .type = OPS_GAUGE,
                 .labels = build_labels},
    [M_REQS] = {.name = "tally_http_requests_total",
                .help = "HTTP requests.",
                .type = OPS_COUNTER,
                .labels = req_labels},
    [M_QUEUE] = {.name = "tally_writer_queue_depth",
                 .help = "Items waiting for the writer.",
                 .type = OPS_GAUGE},
    [M_RECORDS] = {.name = "tally_commit_records",
                   .help = "Records per group commit.",
                   .type = OPS_HISTOGRAM,
                   .labels = NULL,
                   .buckets = record_buckets,
                   .nbuckets = 3},
    [M_DURATION] = {.name = "tally_http_request_duration_seconds",
                    .help = "Request duration.",
                    .type = OPS_HISTOGRAM,
                    .labels = dur_labels},
};

static char *render(ops_metrics *m)
{
    char *text;
    size_t n;
    assert_int_equal(ops_metrics_render_buf(m, &text, &n), TALLY_OK);
    assert_int_equal(strlen(text), n);
    return text;
}

static void test_render_exact(void **state)
{
    static const char want[] =
        "# HELP tally_build_info Build version and commit.\n"
        "# TYPE tally_build_info gauge\n"
        "tally_build_info{version=\"0.1.0\",commit=\"abc\"} 1\n"
        "# HELP tally_http_requests_total HTTP requests.\n"
        "# TYPE tally_http_requests_total counter\n"
        "tally_http_requests_total{listener=\"ingest\",route=\"/v1/odds\",method=\"POST\","
        "status=\"200\"} 2\n"
        "tally_http_requests_total{listener=\"ledger\",route=\"/v1/sth\",method=\"GET\","
        "status=\"200\"} 1\n"
        "# HELP tally_writer_queue_depth Items waiting for the writer.\n"
        "# TYPE tally_writer_queue_depth gauge\n"
        "tally_writer_queue_depth 0\n"
        "# HELP tally_commit_records Records per group commit.\n"
        "# TYPE tally_commit_records histogram\n"
        "tally_commit_records_bucket{le=\"1\"} 1\n"
        "tally_commit_records_bucket{le=\"10\"} 3\n"
        "tally_commit_records_bucket{le=\"100\"} 4\n"
        "tally_commit_records_bucket{le=\"+Inf\"} 5\n"
        "tally_commit_records_sum 566\n"
        "tally_commit_records_count 5\n"
        "# HELP tally_http_request_duration_seconds Request duration.\n"
        "# TYPE tally_http_request_duration_seconds histogram\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.0005\"} 0\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.001\"} 0\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.0025\"} 0\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.005\"} 1\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.01\"} 1\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.025\"} 1\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.05\"} 1\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.1\"} 1\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.25\"} 1\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"0.5\"} 1\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"1\"} 2\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"2.5\"} 2\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"5\"} 2\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"10\"} 2\n"
        "tally_http_request_duration_seconds_bucket{listener=\"ops\",route=\"/metrics\","
        "le=\"+Inf\"} 3\n"
        "tally_http_request_duration_seconds_sum{listener=\"ops\",route=\"/metrics\"} 12.503\n"
        "tally_http_request_duration_seconds_count{listener=\"ops\",route=\"/metrics\"} 3\n";
    const char *build[] = {"0.1.0", "abc"};
    const char *odds[] = {"ingest", "/v1/odds", "POST", "200"};
    const char *sth[] = {"ledger", "/v1/sth", "GET", "200"};
    const char *dur[] = {"ops", "/metrics"};
    ops_metrics *m;
    char *text;
    (void)state;

    assert_int_equal(ops_metrics_new(defs, M_COUNT, &m), TALLY_OK);
    ops_metric_set(m, M_BUILD, build, 1);
    ops_metric_add(m, M_REQS, odds, 1);
    ops_metric_add(m, M_REQS, sth, 1);
    ops_metric_add(m, M_REQS, odds, 1);
    /* bucket edges: a value equal to a bound counts in that bucket */
    ops_metric_observe(m, M_RECORDS, NULL, 1);
    ops_metric_observe(m, M_RECORDS, NULL, 5);
    ops_metric_observe(m, M_RECORDS, NULL, 10);
    ops_metric_observe(m, M_RECORDS, NULL, 50);
    ops_metric_observe(m, M_RECORDS, NULL, 500);
    ops_metric_observe(m, M_RECORDS, NULL, 0.0 / 0.0); /* NaN is dropped */
    ops_metric_observe(m, M_DURATION, dur, 0.003);
    ops_metric_observe(m, M_DURATION, dur, 0.5 + 0.5);
    ops_metric_observe(m, M_DURATION, dur, 11.5);
    text = render(m);
    if (strcmp(text, want) != 0) {
        fail_msg("rendered:\n%s", text);
    }
    free(text);
    assert_true(ops_metric_value(m, M_REQS, odds) == 2);
    assert_true(ops_metric_value(m, M_RECORDS, NULL) == 5);
    assert_true(ops_metric_value(m, M_BUILD, odds) == 0); /* never set */
    assert_int_equal(ops_metric_series(m, M_REQS), 2);
    assert_int_equal(ops_metric_series(m, M_QUEUE), 1);
    /* gauges go both ways */
    ops_metric_add(m, M_QUEUE, NULL, 5);
    ops_metric_add(m, M_QUEUE, NULL, -2);
    assert_true(ops_metric_value(m, M_QUEUE, NULL) == 3);
    ops_metrics_free(m);
    ops_metrics_free(NULL);
}

typedef struct ncase {
    double v;
    const char *want;
} ncase;

static void test_numbers_and_escaping(void **state)
{
    static const char *const one[] = {"v", NULL};
    static const ops_metric_def d[] = {
        {.name = "g", .help = "Back\\slash and\nnew \"line\".", .type = OPS_GAUGE, .labels = one},
    };
    static const ncase nums[] = {
        {0.1, "0.1"},
        {1e-7, "1e-07"},
        {-0.0, "0"},
        {1.5, "1.5"},
        {-3, "-3"},
        {1e300 * 1e300, "+Inf"},
        {-1e300 * 1e300, "-Inf"},
        {0.0 / 0.0, "NaN"},
        {9007199254740991.0, "9007199254740991"},
        {9007199254740992.0, "9007199254740992"},
        {1e20, "1e+20"},
        {1.0 / 3.0, "0.3333333333333333"},
    };
    ops_metrics *m;
    char *text, label[16], line[256], big[200];
    const char *vals[1];
    (void)state;

    assert_int_equal(ops_metrics_new(d, 1, &m), TALLY_OK);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        snprintf(label, sizeof(label), "n%zu", i);
        vals[0] = label;
        ops_metric_set(m, 0, vals, nums[i].v);
    }
    vals[0] = "a\\b\"c\nd";
    ops_metric_set(m, 0, vals, 1);
    vals[0] = "bad\xff\xc3\xa9";
    ops_metric_set(m, 0, vals, 2);
    /* 127 bytes and a two-byte character: cut before the character */
    memset(big, 'a', 127);
    memcpy(big + 127, "\xc3\xa9zz", 5);
    vals[0] = big;
    ops_metric_set(m, 0, vals, 3);
    text = render(m);
    assert_non_null(strstr(text, "# HELP g Back\\\\slash and\\nnew \"line\".\n"));
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        snprintf(line, sizeof(line), "g{v=\"n%zu\"} %s\n", i, nums[i].want);
        if (strstr(text, line) == NULL) {
            fail_msg("missing %s in\n%s", line, text);
        }
    }
    assert_non_null(strstr(text, "g{v=\"a\\\\b\\\"c\\nd\"} 1\n"));
    assert_non_null(strstr(text, "g{v=\"bad?\xc3\xa9\"} 2\n"));
    snprintf(line, sizeof(line), "g{v=\"%.127s\"} 3\n", big);
    assert_non_null(strstr(text, line));
    free(text);
    /* the cut value is the same series as its cut form */
    big[127] = '\0';
    vals[0] = big;
    assert_true(ops_metric_value(m, 0, vals) == 3);
    ops_metrics_free(m);
}

static void test_series_cap(void **state)
{
    static const char *const route[] = {"route", NULL};
    static const ops_metric_def d[] = {
        {.name = "c_total",
         .help = "Capped.",
         .type = OPS_COUNTER,
         .labels = route,
         .buckets = NULL,
         .nbuckets = 0,
         .max_series = 3},
        {.name = "h",
         .help = "Capped histogram.",
         .type = OPS_HISTOGRAM,
         .labels = route,
         .buckets = record_buckets,
         .nbuckets = 3,
         .max_series = 1},
    };
    ops_metrics *m;
    char name[32], *text;
    const char *vals[1] = {name};
    const char *over[1] = {OPS_METRIC_OVERFLOW};
    (void)state;

    assert_int_equal(ops_metrics_new(d, 2, &m), TALLY_OK);
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "/r%d", i);
        ops_metric_add(m, 0, vals, 1);
        ops_metric_observe(m, 1, vals, 2);
    }
    snprintf(name, sizeof(name), "/r1");
    ops_metric_add(m, 0, vals, 1); /* a kept series still counts */
    assert_int_equal(ops_metric_series(m, 0), 4);
    assert_true(ops_metric_value(m, 0, vals) == 2);
    assert_true(ops_metric_value(m, 0, over) == 7);
    assert_int_equal(ops_metric_series(m, 1), 2);
    assert_true(ops_metric_value(m, 1, over) == 9);
    text = render(m);
    assert_non_null(strstr(text, "c_total{route=\"/r0\"} 1\nc_total{route=\"/r1\"} 2\n"
                                 "c_total{route=\"/r2\"} 1\nc_total{route=\"_overflow\"} 7\n"));
    assert_null(strstr(text, "/r3"));
    assert_non_null(strstr(text, "h_bucket{route=\"_overflow\",le=\"10\"} 9\n"));
    assert_non_null(strstr(text, "h_count{route=\"_overflow\"} 9\n"));
    free(text);
    ops_metrics_free(m);
}

static void test_bad_tables(void **state)
{
    static const char *const le[] = {"le", NULL};
    static const char *const dunder[] = {"__x", NULL};
    static const char *const dup[] = {"a", "a", NULL};
    static const char *const five[] = {"a", "b", "c", "d", "e", NULL};
    static const char *const dash[] = {"a-b", NULL};
    static const double down[] = {1, 0.5};
    static const double inf[] = {1, 1e300 * 1e300};
    static const ops_metric_def bad[] = {
        {.name = "1abc", .help = "h", .type = OPS_COUNTER},
        {.name = "a-b", .help = "h", .type = OPS_COUNTER},
        {.name = "", .help = "h", .type = OPS_COUNTER},
        {.name = "ok", .help = NULL, .type = OPS_COUNTER},
        {.name = "ok", .help = "h", .type = OPS_HISTOGRAM, .labels = le},
        {.name = "ok", .help = "h", .type = OPS_COUNTER, .labels = dunder},
        {.name = "ok", .help = "h", .type = OPS_COUNTER, .labels = dup},
        {.name = "ok", .help = "h", .type = OPS_COUNTER, .labels = five},
        {.name = "ok", .help = "h", .type = OPS_COUNTER, .labels = dash},
        {.name = "ok",
         .help = "h",
         .type = OPS_HISTOGRAM,
         .labels = NULL,
         .buckets = down,
         .nbuckets = 2},
        {.name = "ok",
         .help = "h",
         .type = OPS_HISTOGRAM,
         .labels = NULL,
         .buckets = inf,
         .nbuckets = 2},
        {.name = "ok",
         .help = "h",
         .type = OPS_HISTOGRAM,
         .labels = NULL,
         .buckets = down,
         .nbuckets = 0},
    };
    static const ops_metric_def twice[] = {{.name = "x", .help = "h", .type = OPS_COUNTER},
                                           {.name = "x", .help = "h", .type = OPS_GAUGE}};
    static const ops_metric_def good[] = {
        {.name = "ns:x_total", .help = "h", .type = OPS_COUNTER, .labels = le}};
    ops_metrics *m;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ops_metrics_new(&bad[i], 1, &m) != TALLY_EINVAL) {
            fail_msg("bad table %zu accepted", i);
        }
        assert_null(m);
    }
    assert_int_equal(ops_metrics_new(twice, 2, &m), TALLY_EINVAL);
    assert_int_equal(ops_metrics_new(good, 1, &m), TALLY_OK); /* le is fine off a histogram */
    ops_metrics_free(m);
    assert_int_equal(ops_metrics_new(NULL, 0, &m), TALLY_OK);
    ops_metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 20000

static void *work(void *arg)
{
    ops_metrics *m = arg;
    const char *odds[] = {"ingest", "/v1/odds", "POST", "200"};
    const char *dur[] = {"ingest", "/v1/odds"};
    char *text;
    size_t n;

    for (int i = 0; i < PER_THREAD; i++) {
        ops_metric_add(m, M_REQS, odds, 1);
        ops_metric_observe(m, M_DURATION, dur, 0.01);
        if (i % 5000 == 0) {
            assert_int_equal(ops_metrics_render_buf(m, &text, &n), TALLY_OK);
            free(text);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    ops_metrics *m;
    pthread_t th[THREADS];
    const char *odds[] = {"ingest", "/v1/odds", "POST", "200"};
    const char *dur[] = {"ingest", "/v1/odds"};
    char *text;
    (void)state;

    assert_int_equal(ops_metrics_new(defs, M_COUNT, &m), TALLY_OK);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, work, m), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    assert_true(ops_metric_value(m, M_REQS, odds) == THREADS * PER_THREAD);
    assert_true(ops_metric_value(m, M_DURATION, dur) == THREADS * PER_THREAD);
    text = render(m);
    assert_non_null(strstr(text, "tally_http_request_duration_seconds_bucket{listener=\"ingest\","
                                 "route=\"/v1/odds\",le=\"0.005\"} 0\n"));
    assert_non_null(strstr(text, "tally_http_request_duration_seconds_bucket{listener=\"ingest\","
                                 "route=\"/v1/odds\",le=\"0.01\"} 80000\n"));
    free(text);
    ops_metrics_free(m);
}

/* The §9.2 tables register, name every metric of the spec, and follow the naming rules. */
static void check_table(const ops_metric_def *defs_, size_t n, const char *const *names)
{
    ops_metrics *m;
    char *text, line[160];
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        size_t len;
        assert_non_null(defs_[i].name); /* no id left out of the table */
        len = strlen(defs_[i].name);
        assert_int_equal(strncmp(defs_[i].name, "tally_", 6), 0);
        if (defs_[i].type == OPS_COUNTER) {
            assert_string_equal(defs_[i].name + len - 6, "_total");
        } else {
            assert_true(len < 6 || strcmp(defs_[i].name + len - 6, "_total") != 0);
        }
    }
    assert_int_equal(ops_metrics_new(defs_, n, &m), TALLY_OK);
    text = render(m);
    for (; names[k] != NULL; k++) {
        snprintf(line, sizeof(line), "# TYPE %s ", names[k]);
        if (strstr(text, line) == NULL) {
            fail_msg("%s missing", names[k]);
        }
    }
    assert_int_equal(k, n);
    free(text);
    ops_metrics_free(m);
}

static void test_spec_tables(void **state)
{
    static const char *const node_names[] = {"tally_build_info",
                                             "tally_http_requests_total",
                                             "tally_http_request_duration_seconds",
                                             "tally_http_inflight_requests",
                                             "tally_http_connections",
                                             "tally_http_errors_total",
                                             "tally_ingest_items_total",
                                             "tally_ingest_item_rejections_total",
                                             "tally_signature_verifications_total",
                                             "tally_log_size_records",
                                             "tally_log_bytes",
                                             "tally_writer_queue_depth",
                                             "tally_sth_tree_size",
                                             "tally_sth_timestamp_seconds",
                                             "tally_lmdb_map_size_bytes",
                                             "tally_lmdb_used_bytes",
                                             "tally_log_appends_total",
                                             "tally_commit_records",
                                             "tally_commit_duration_seconds",
                                             "tally_append_ack_seconds",
                                             "tally_rate_limited_total",
                                             "tally_abuse_failures_total",
                                             "tally_cooldowns_active",
                                             "tally_bans_active",
                                             "tally_auth_tokens_active",
                                             "tally_auth_logins_total",
                                             "tally_metagraph_block",
                                             "tally_metagraph_age_seconds",
                                             "tally_scoring_cycle",
                                             "tally_finality_latest_final_cycle",
                                             "tally_scoring_cycle_duration_seconds",
                                             "tally_attestations_total",
                                             NULL};
    static const char *const audit_names[] = {"tally_build_info",
                                              "tally_http_requests_total",
                                              "tally_http_request_duration_seconds",
                                              "tally_http_inflight_requests",
                                              "tally_http_connections",
                                              "tally_http_errors_total",
                                              "tally_audit_verified_size",
                                              "tally_audit_lag_records",
                                              "tally_audit_divergences_total",
                                              "tally_audit_rounds_total",
                                              "tally_audit_records_pulled_total",
                                              "tally_audit_last_round_seconds",
                                              "tally_attestations_total",
                                              NULL};
    ops_metrics *m;
    char *text;
    const char *req[] = {"ingest", "/v1/odds", "POST", "202"};
    (void)state;

    check_table(ops_metrics_node_defs(), OPS_M_NODE_COUNT, node_names);
    check_table(ops_metrics_audit_defs(), OPS_MA_COUNT, audit_names);
    assert_int_equal(ops_metrics_new(ops_metrics_node_defs(), OPS_M_NODE_COUNT, &m), TALLY_OK);
    ops_metric_add(m, OPS_M_HTTP_REQUESTS, req, 1);
    ops_metric_observe(m, OPS_M_COMMIT_RECORDS, NULL, 3);
    ops_metric_set(m, OPS_M_STH_TREE_SIZE, NULL, 42);
    text = render(m);
    assert_non_null(strstr(text, "tally_http_requests_total{listener=\"ingest\",route=\"/v1/"
                                 "odds\",method=\"POST\",status=\"202\"} 1\n"));
    assert_non_null(strstr(text, "tally_commit_records_bucket{le=\"2\"} 0\n"
                                 "tally_commit_records_bucket{le=\"4\"} 1\n"));
    assert_non_null(strstr(text, "tally_sth_tree_size 42\n"));
    assert_non_null(strstr(text, "tally_log_bytes 0\n"));
    free(text);
    ops_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact), cmocka_unit_test(test_numbers_and_escaping),
        cmocka_unit_test(test_series_cap),   cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_threads),      cmocka_unit_test(test_spec_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Operating a real `tally serve`: a scoring cycle asked through the admin API lands in the log
 * (and a replay of the log agrees with it), /health and /metrics report it, SIGHUP reloads what
 * may be reloaded and refuses a restart-only change, and `tally serve --check` checks without
 * serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/node.h"
#include "util/testutil.h"

#define DAY 86400000ull

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool file_has(const char *path, const char *needle)
{
    char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        return false;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void cycle_reload_check(void **state)
{
    tn_node n;
    tn_miner m;
    tn_resp r;
    uint64_t ids[1] = {9001};
    char conf[700], out[8192];
    FILE *f;
    (void)state;

    tn_init(&n, "serve_ops");
    snprintf(conf, sizeof(conf), "%s/tally.env", n.tmp);
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "# test configuration\nTALLY_LOG_LEVEL=info\nTALLY_HTTP_THREADS=2\n");
    fclose(f);
    static char confkv[720];
    snprintf(confkv, sizeof(confkv), "TALLY_CONFIG=%s", conf);
    n.env[0] = confkv;
    n.env[1] = NULL;
    tn_start(&n);
    tn_miner_init(&m, 4);
    tn_feed(&n, &m, 1, 100, ids, 1, tn_now() + DAY);
    /* a cycle now: 202, then the cycle record is in the log */
    tn_admin(&n, "POST", "/admin/v1/cycle", "{}", &r);
    assert_int_equal(r.status, 202);
    tn_resp_free(&r);
    for (int t = 0; t < 200; t++) {
        tn_http(&n, TN_OPS, "GET", "/health", NULL, 0, NULL, 0, NULL, &r);
        if (r.json && json_integer_value(json_object_get(r.json, "last_cycle")) == 1) {
            tn_resp_free(&r);
            break;
        }
        tn_resp_free(&r);
        sleep_ms(50);
    }
    tn_http(&n, TN_OPS, "GET", "/health", NULL, 0, NULL, 0, NULL, &r);
    assert_int_equal(json_integer_value(json_object_get(r.json, "last_cycle")), 1);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
    tn_resp_free(&r);
    tn_http(&n, TN_OPS, "GET", "/metrics", NULL, 0, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "tally_scoring_cycle 1"));
    assert_non_null(strstr(r.body, "tally_log_appends_total{type=\"SCORING_CYCLE\"} 1"));
    assert_non_null(strstr(r.body, "tally_build_info{version=\"tally-0.1.0\""));
    tn_resp_free(&r);
    /* SIGHUP: a reloadable change is taken, a restart-only one refused (old config kept) */
    f = fopen(conf, "w");
    fprintf(f, "TALLY_LOG_LEVEL=debug\nTALLY_HTTP_THREADS=2\n");
    fclose(f);
    kill(n.pid, SIGHUP);
    for (int t = 0; t < 100 && !file_has(n.err, "config_reloaded"); t++) {
        sleep_ms(50);
    }
    assert_true(file_has(n.err, "config_reloaded"));
    f = fopen(conf, "w");
    fprintf(f, "TALLY_LOG_LEVEL=debug\nTALLY_HTTP_THREADS=3\n");
    fclose(f);
    kill(n.pid, SIGHUP);
    for (int t = 0; t < 100 && !file_has(n.err, "config_reload_refused"); t++) {
        sleep_ms(50);
    }
    assert_true(file_has(n.err, "config_reload_refused"));
    assert_true(file_has(n.err, "TALLY_HTTP_THREADS"));
    tn_http(&n, TN_OPS, "GET", "/health/live", NULL, 0, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    tn_resp_free(&r);
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    /* the cycle the node appended is the one a replay computes */
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s", getenv("TALLY_BIN"), n.dir),
                     0);
    /* --check: the settings and the log, no serving; an unknown key is refused */
    assert_int_equal(tu_run(out, sizeof(out), "TALLY_CONFIG=%s %s serve --dir %s --check", conf,
                            getenv("TALLY_BIN"), n.dir),
                     0);
    assert_non_null(strstr(out, "TALLY_HTTP_THREADS"));
    assert_non_null(strstr(out, "in order"));
    assert_int_not_equal(tu_run(out, sizeof(out), "TALLY_NO_SUCH_KEY=1 %s serve --dir %s --check",
                                getenv("TALLY_BIN"), n.dir),
                         0);
    tn_free(&n);
}

/* §9.1: the wall clock stepped back by more than a second (the controllable clock here) makes
 * /health degraded, and the clock is said to be manual. */
static void clock_stepped_back(void **state)
{
    tn_node n;
    tn_resp r;
    char body[64];
    (void)state;

    tn_init(&n, "serve_clock");
    n.env[0] = "TALLY_CLOCK=manual";
    n.env[1] = NULL;
    tn_start(&n);
    tn_http(&n, TN_OPS, "GET", "/health", NULL, 0, NULL, 0, NULL, &r);
    assert_string_equal(json_string_value(json_object_get(r.json, "clock")), "manual");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "checks"), "clock")), "ok");
    json_int_t now = json_integer_value(json_object_get(r.json, "sth_time_ms"));
    tn_resp_free(&r);
    snprintf(body, sizeof(body), "{\"set_ms\": %lld}", (long long)(now - 5000));
    tn_admin(&n, "POST", "/admin/v1/clock", body, &r);
    assert_int_equal(r.status, 200);
    tn_resp_free(&r);
    for (int t = 0; t < 100; t++) {
        tn_http(&n, TN_OPS, "GET", "/health", NULL, 0, NULL, 0, NULL, &r);
        const char *c =
            json_string_value(json_object_get(json_object_get(r.json, "checks"), "clock"));
        bool degraded = c != NULL && strcmp(c, "degraded") == 0;
        tn_resp_free(&r);
        if (degraded) {
            assert_int_equal(tn_stop(&n, SIGTERM), 0);
            tn_free(&n);
            return;
        }
        sleep_ms(50);
    }
    fail_msg("/health never said the clock stepped back");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cycle_reload_check),
        cmocka_unit_test(clock_stepped_back),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

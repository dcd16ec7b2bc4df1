/* JSON log lines and the clock through ops/ops.h: every line parses back with jansson, the
 * fixed keys come first, strings are escaped (quotes, control characters, UTF-8, invalid
 * bytes), levels filter, over-long lines are cut at a field, write failures are counted, lines
 * from many threads never interleave, and the manual clock moves only when told. */
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/ops.h"
#include "util/testutil.h"

#define T0 1796317445123ll /* 2026-12-03T17:04:05.123Z */

/* A log into a fresh file, on a manual clock at T0. */
typedef struct fixture {
    const char *dir;
    char path[600];
    int fd;
    ops_clock *clock;
    ops_log *log;
} fixture;

static void open_fixture(fixture *f, ops_level level)
{
    ops_log_cfg cfg = {.level = level, .now_ms = ops_clock_now_ms_cb};

    f->dir = tu_tmpdir("log");
    snprintf(f->path, sizeof(f->path), "%s/log.jsonl", f->dir);
    f->fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true(f->fd > 2);
    assert_int_equal(ops_clock_new(OPS_CLOCK_MANUAL, T0, &f->clock), TALLY_OK);
    cfg.fd = f->fd;
    cfg.now_arg = f->clock;
    assert_int_equal(ops_log_new(&cfg, &f->log), TALLY_OK);
}

static void close_fixture(fixture *f)
{
    ops_log_free(f->log);
    ops_clock_free(f->clock);
    close(f->fd);
    tu_rmdir(f->dir);
}

/* The whole file, NUL-terminated; the caller frees it. */
static char *contents(const fixture *f, size_t *n)
{
    FILE *fp = fopen(f->path, "rb");
    char *buf = malloc(1 << 22);
    assert_non_null(fp);
    *n = fread(buf, 1, (1 << 22) - 1, fp);
    buf[*n] = '\0';
    fclose(fp);
    return buf;
}

/* Splits the file into lines, each of which must parse as one JSON object. */
static size_t parse_lines(const fixture *f, json_t **out, size_t cap)
{
    size_t n, count = 0;
    char *buf = contents(f, &n), *p = buf;

    while (*p != '\0') {
        char *nl = strchr(p, '\n');
        json_error_t jerr;
        assert_non_null(nl); /* every line ends with a newline */
        assert_true(count < cap);
        out[count] = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &jerr);
        if (out[count] == NULL) {
            fail_msg("line %zu is not JSON (%s): %.*s", count + 1, jerr.text, (int)(nl - p), p);
        }
        assert_true(json_is_object(out[count]));
        count++;
        p = nl + 1;
    }
    free(buf);
    return count;
}

static void test_ts(void **state)
{
    char ts[25];
    (void)state;

    ops_rfc3339_ms(T0, ts);
    assert_string_equal(ts, "2026-12-03T17:04:05.123Z");
    ops_rfc3339_ms(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
    ops_rfc3339_ms(-5, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
    ops_rfc3339_ms(1709251199999ll, ts);
    assert_string_equal(ts, "2024-02-29T23:59:59.999Z");
    ops_rfc3339_ms(1709251200000ll, ts);
    assert_string_equal(ts, "2024-03-01T00:00:00.000Z");
    ops_rfc3339_ms(INT64_MAX, ts);
    assert_string_equal(ts, "9999-12-31T23:59:59.999Z");
}

static void test_line(void **state)
{
    fixture f;
    json_t *lines[4];
    size_t n;
    char *raw, *nl;
    const uint8_t key[4] = {0xde, 0xad, 0x00, 0x0f};
    (void)state;

    open_fixture(&f, OPS_INFO);
    OPS_LOG(f.log, OPS_INFO, "net", "http_request", OPS_FS("request_id", "a1b2"),
            OPS_FU("status", 200), OPS_FI("bytes_in", -1), OPS_FB("keepalive", true),
            OPS_FH("key", key, sizeof(key)), OPS_FS("error", NULL), OPS_FI("min", INT64_MIN),
            OPS_FU("max", UINT64_MAX), OPS_FI("exact", 9007199254740991ll),
            OPS_FU("inexact", 9007199254740992ull));
    assert_int_equal(ops_clock_advance_ms(f.clock, 1000), TALLY_OK);
    ops_log_event(f.log, OPS_ERROR, "store", "store_fault", NULL, 0);
    raw = contents(&f, &n);
    /* the fixed keys first, in this order, then the caller's */
    nl = strchr(raw, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '{'); /* the second line follows */
    nl[1] = '\0';
    assert_string_equal(raw, "{\"ts\":\"2026-12-03T17:04:05.123Z\",\"level\":\"info\",\"event\":"
                             "\"http_request\",\"component\":\"net\",\"request_id\":\"a1b2\","
                             "\"status\":200,\"bytes_in\":-1,\"keepalive\":true,\"key\":"
                             "\"dead000f\",\"error\":null,\"min\":\"-9223372036854775808\","
                             "\"max\":\"18446744073709551615\",\"exact\":9007199254740991,"
                             "\"inexact\":\"9007199254740992\"}\n");
    free(raw);
    assert_int_equal(parse_lines(&f, lines, 4), 2);
    assert_string_equal(json_string_value(json_object_get(lines[0], "event")), "http_request");
    assert_int_equal(json_integer_value(json_object_get(lines[0], "status")), 200);
    assert_true(json_is_true(json_object_get(lines[0], "keepalive")));
    assert_true(json_is_null(json_object_get(lines[0], "error")));
    assert_string_equal(json_string_value(json_object_get(lines[1], "ts")),
                        "2026-12-03T17:04:06.123Z");
    assert_string_equal(json_string_value(json_object_get(lines[1], "level")), "error");
    assert_int_equal(json_object_size(lines[1]), 4);
    json_decref(lines[0]);
    json_decref(lines[1]);
    assert_int_equal(ops_log_failures(f.log), 0);
    close_fixture(&f);
}

typedef struct ecase {
    const char *in;
    size_t n;
    const char *want; /* the string after a JSON round trip */
    size_t wn;
} ecase;

#define EC(a, b)                                                                                   \
    {                                                                                              \
        a, sizeof(a) - 1, b, sizeof(b) - 1                                                         \
    }

static void test_escaping(void **state)
{
    static const ecase cases[] = {
        EC("plain", "plain"),
        EC("q\"uo\\te/", "q\"uo\\te/"),
        EC("nl\nrt\r\ttab", "nl\nrt\r\ttab"),
        EC("\x01\x1f\x7f", "\x01\x1f\x7f"),
        EC("nul\0byte", "nul\0byte"),
        EC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
        EC("bad\xff", "bad\xef\xbf\xbd"),
        EC("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"),                 /* overlong '/' */
        EC("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* a surrogate */
        EC("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
        EC("cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"),
    };
    fixture f;
    json_t *lines[16];
    size_t n;
    char *raw;
    (void)state;

    open_fixture(&f, OPS_DEBUG);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tally_str sv = {cases[i].in, cases[i].n};
        OPS_LOG(f.log, OPS_DEBUG, "cli", "esc\"ape", OPS_FSV("v", sv));
    }
    raw = contents(&f, &n);
    /* control characters are escaped, never written raw */
    for (size_t i = 0; i < n; i++) {
        assert_true((unsigned char)raw[i] >= 0x20 || raw[i] == '\n');
        assert_true(raw[i] != 0x7f);
    }
    assert_non_null(strstr(raw, "\"v\":\"\\u0001\\u001f\\u007f\""));
    assert_non_null(strstr(raw, "\"event\":\"esc\\\"ape\""));
    free(raw);
    assert_int_equal(parse_lines(&f, lines, 16), sizeof(cases) / sizeof(cases[0]));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_object_get(lines[i], "v");
        assert_non_null(v);
        assert_int_equal(json_string_length(v), cases[i].wn);
        assert_memory_equal(json_string_value(v), cases[i].want, cases[i].wn);
        json_decref(lines[i]);
    }
    close_fixture(&f);
}

static void test_levels(void **state)
{
    fixture f;
    json_t *lines[8];
    ops_level l;
    (void)state;

    assert_int_equal(ops_level_parse("warn", &l), TALLY_OK);
    assert_int_equal(l, OPS_WARN);
    assert_int_equal(ops_level_parse("WARN", &l), TALLY_EINVAL);
    assert_string_equal(ops_level_str(OPS_DEBUG), "debug");
    assert_string_equal(ops_level_str(OPS_ERROR), "error");

    open_fixture(&f, OPS_WARN);
    assert_false(ops_log_enabled(f.log, OPS_INFO));
    assert_true(ops_log_enabled(f.log, OPS_WARN));
    OPS_LOG(f.log, OPS_DEBUG, "net", "a", OPS_FI("n", 1));
    OPS_LOG(f.log, OPS_INFO, "net", "b", OPS_FI("n", 2));
    OPS_LOG(f.log, OPS_WARN, "net", "c", OPS_FI("n", 3));
    OPS_LOG(f.log, OPS_ERROR, "net", "d", OPS_FI("n", 4));
    ops_log_set_level(f.log, OPS_DEBUG);
    OPS_LOG(f.log, OPS_DEBUG, "net", "e", OPS_FI("n", 5));
    assert_int_equal(parse_lines(&f, lines, 8), 3);
    assert_string_equal(json_string_value(json_object_get(lines[0], "event")), "c");
    assert_string_equal(json_string_value(json_object_get(lines[1], "event")), "d");
    assert_string_equal(json_string_value(json_object_get(lines[2], "event")), "e");
    assert_string_equal(json_string_value(json_object_get(lines[2], "level")), "debug");
    for (int i = 0; i < 3; i++) {
        json_decref(lines[i]);
    }
    close_fixture(&f);
}

static void test_truncation_and_failures(void **state)
{
    fixture f;
    json_t *lines[2];
    char *big = malloc(OPS_LOG_LINE_MAX);
    char *raw;
    size_t n;
    ops_log *bad;
    ops_log_cfg cfg = {0};
    int rd;
    (void)state;

    memset(big, 'x', OPS_LOG_LINE_MAX - 1);
    big[OPS_LOG_LINE_MAX - 1] = '\0';
    open_fixture(&f, OPS_INFO);
    OPS_LOG(f.log, OPS_INFO, "net", "big", OPS_FS("first", "kept"), OPS_FS("huge", big),
            OPS_FI("after", 1));
    raw = contents(&f, &n);
    assert_true(n <= OPS_LOG_LINE_MAX);
    free(raw);
    assert_int_equal(parse_lines(&f, lines, 2), 1);
    assert_string_equal(json_string_value(json_object_get(lines[0], "first")), "kept");
    assert_null(json_object_get(lines[0], "huge"));
    assert_null(json_object_get(lines[0], "after"));
    assert_true(json_is_true(json_object_get(lines[0], "truncated")));
    json_decref(lines[0]);
    /* the largest field that fits is kept whole */
    big[OPS_LOG_LINE_MAX - 200] = '\0';
    OPS_LOG(f.log, OPS_INFO, "net", "big", OPS_FS("huge", big));
    close_fixture(&f);
    free(big);

    /* a write that fails is counted, not fatal */
    rd = open("/dev/null", O_RDONLY);
    assert_true(rd > 2);
    cfg.fd = rd;
    cfg.level = OPS_INFO;
    assert_int_equal(ops_log_new(&cfg, &bad), TALLY_OK);
    OPS_LOG(bad, OPS_ERROR, "net", "lost", OPS_FI("n", 1));
    OPS_LOG(bad, OPS_DEBUG, "net", "filtered", OPS_FI("n", 1));
    OPS_LOG(bad, OPS_INFO, "net", "lost", OPS_FI("n", 2));
    assert_int_equal(ops_log_failures(bad), 2);
    ops_log_free(bad);
    ops_log_free(NULL);
    close(rd);
}

typedef struct worker {
    ops_log *log;
    int id;
} worker;

#define THREADS 4
#define PER_THREAD 500

static void *work(void *arg)
{
    worker *w = arg;
    char text[300];

    memset(text, 'a' + w->id, sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    for (int i = 0; i < PER_THREAD; i++) {
        OPS_LOG(w->log, OPS_INFO, "net", "t", OPS_FI("thread", w->id), OPS_FI("i", i),
                OPS_FS("text", text));
    }
    return NULL;
}

static void test_threads(void **state)
{
    fixture f;
    pthread_t th[THREADS];
    worker w[THREADS];
    json_t **lines = calloc(THREADS * PER_THREAD + 1, sizeof(*lines));
    int next[THREADS] = {0};
    size_t n;
    (void)state;

    open_fixture(&f, OPS_INFO);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){f.log, i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    n = parse_lines(&f, lines, THREADS * PER_THREAD + 1);
    assert_int_equal(n, THREADS * PER_THREAD);
    /* each thread's lines arrive whole and in its own order */
    for (size_t i = 0; i < n; i++) {
        int t = (int)json_integer_value(json_object_get(lines[i], "thread"));
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(json_integer_value(json_object_get(lines[i], "i")), next[t]++);
        assert_int_equal(json_string_length(json_object_get(lines[i], "text")), 299);
        assert_int_equal(json_string_value(json_object_get(lines[i], "text"))[0], 'a' + t);
        json_decref(lines[i]);
    }
    free(lines);
    close_fixture(&f);
}

static void test_clock(void **state)
{
    ops_clock *c;
    uint64_t a, b;
    (void)state;

    assert_int_equal(ops_clock_new(OPS_CLOCK_MANUAL, -1, &c), TALLY_EINVAL);
    assert_null(c);
    assert_int_equal(ops_clock_new(OPS_CLOCK_MANUAL, T0, &c), TALLY_OK);
    assert_int_equal(ops_clock_get_mode(c), OPS_CLOCK_MANUAL);
    assert_int_equal(ops_clock_wall_ms(c), T0);
    assert_int_equal(ops_clock_mono_ns(c), 0);
    assert_int_equal(ops_clock_advance_ms(c, 1500), TALLY_OK);
    assert_int_equal(ops_clock_wall_ms(c), T0 + 1500);
    assert_int_equal(ops_clock_mono_ns(c), 1500000000u);
    /* the wall clock may step back; the monotonic one does not follow */
    assert_int_equal(ops_clock_set_wall_ms(c, T0 - 60000), TALLY_OK);
    assert_int_equal(ops_clock_wall_ms(c), T0 - 60000);
    assert_int_equal(ops_clock_mono_ns(c), 1500000000u);
    assert_int_equal(ops_clock_now_ms_cb(c), T0 - 60000);
    assert_int_equal(ops_clock_advance_ms(c, -1), TALLY_EINVAL);
    assert_int_equal(ops_clock_set_wall_ms(c, -1), TALLY_EINVAL);
    assert_int_equal(ops_clock_wall_ms(c), T0 - 60000);
    ops_clock_free(c);

    assert_int_equal(ops_clock_new(OPS_CLOCK_REAL, 0, &c), TALLY_OK);
    assert_int_equal(ops_clock_set_wall_ms(c, T0), TALLY_EINVAL);
    assert_int_equal(ops_clock_advance_ms(c, 1), TALLY_EINVAL);
    assert_true(ops_clock_wall_ms(c) > 1700000000000ll); /* after 2023: a real clock */
    a = ops_clock_mono_ns(c);
    b = ops_clock_mono_ns(c);
    assert_true(b >= a);
    ops_clock_free(c);
    ops_clock_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts),
        cmocka_unit_test(test_line),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_truncation_and_failures),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* JSON log lines (protocol §9.3): one object per line, {"ts","level","event","component"}
 * first, then the caller's fields. A line is built in a stack buffer by a careful escaper
 * (no allocation, so logging cannot fail for want of memory) and written by one write(2)
 * under the handle's mutex, so lines from many threads never interleave. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops/ops_int.h"

struct ops_log {
    int fd;
    _Atomic int level;
    _Atomic uint64_t failures;
    int64_t (*now_ms)(void *arg);
    void *now_arg;
    pthread_mutex_t mu; /* serializes write(2) calls, whose partial writes could interleave */
};

/* Room kept at the end of the buffer for ,"truncated":true}\n. */
#define TAIL_RESERVE 24u

typedef struct line {
    char buf[OPS_LOG_LINE_MAX];
    size_t len;
    size_t cap; /* OPS_LOG_LINE_MAX - TAIL_RESERVE */
    bool over;  /* a put did not fit; len is unchanged since */
} line;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *ops_level_str(ops_level l)
{
    return (unsigned)l <= OPS_ERROR ? level_names[l] : "?";
}

tally_status ops_level_parse(const char *s, ops_level *out)
{
    for (unsigned i = 0; i <= OPS_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (ops_level)i;
            return TALLY_OK;
        }
    }
    *out = OPS_INFO;
    return TALLY_EINVAL;
}

static void put(line *l, const char *p, size_t n)
{
    if (l->over || n > l->cap - l->len) {
        l->over = true;
        return;
    }
    memcpy(l->buf + l->len, p, n);
    l->len += n;
}

static void puts_(line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped; each byte that does not
 * start a well-formed UTF-8 sequence becomes U+FFFD, so the line stays valid JSON. */
static void put_jstr(line *l, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    put(l, "\"", 1);
    while (n > 0 && !l->over) {
        size_t k = ops__utf8_seq(p, n);
        char esc[7];
        if (k == 0) {
            put(l, "\xef\xbf\xbd", 3);
            k = 1;
        } else if (k > 1) {
            put(l, (const char *)p, k);
        } else if (p[0] == '"' || p[0] == '\\') {
            esc[0] = '\\', esc[1] = (char)p[0];
            put(l, esc, 2);
        } else if (p[0] == '\n') {
            put(l, "\\n", 2);
        } else if (p[0] == '\r') {
            put(l, "\\r", 2);
        } else if (p[0] == '\t') {
            put(l, "\\t", 2);
        } else if (p[0] < 0x20 || p[0] == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[p[0] >> 4], esc[5] = hex[p[0] & 15];
            put(l, esc, 6);
        } else {
            put(l, (const char *)p, 1);
        }
        p += k, n -= k;
    }
    put(l, "\"", 1);
}

static void put_cstr(line *l, const char *s)
{
    put_jstr(l, (const uint8_t *)s, strlen(s));
}

/* Integers beyond ±(2^53 − 1) are written as decimal strings, as everywhere in tally's JSON
 * (docs/decisions.md 2): readers that hold numbers as doubles would round them silently. */
#define JSON_INT_MAX 9007199254740991ll

static void put_int(line *l, const char *num, bool exact)
{
    if (!exact) {
        put(l, "\"", 1);
    }
    puts_(l, num);
    if (!exact) {
        put(l, "\"", 1);
    }
}

static void put_field(line *l, const ops_field *f)
{
    static const char hex[] = "0123456789abcdef";
    char num[32];

    put(l, ",", 1);
    put_cstr(l, f->key);
    put(l, ":", 1);
    switch (f->type) {
    case OPS_FT_STR:
        if (f->v.s == NULL) {
            puts_(l, "null");
        } else {
            put_cstr(l, f->v.s);
        }
        return;
    case OPS_FT_STRV:
        put_jstr(l, (const uint8_t *)f->v.sv.p, f->v.sv.n);
        return;
    case OPS_FT_INT:
        (void)snprintf(num, sizeof(num), "%lld", (long long)f->v.i);
        put_int(l, num, f->v.i >= -JSON_INT_MAX && f->v.i <= JSON_INT_MAX);
        return;
    case OPS_FT_UINT:
        (void)snprintf(num, sizeof(num), "%llu", (unsigned long long)f->v.u);
        put_int(l, num, f->v.u <= JSON_INT_MAX);
        return;
    case OPS_FT_BOOL:
        puts_(l, f->v.b ? "true" : "false");
        return;
    case OPS_FT_HEX:
        put(l, "\"", 1);
        for (size_t i = 0; i < f->v.hex.n && !l->over; i++) {
            char two[2] = {hex[f->v.hex.p[i] >> 4], hex[f->v.hex.p[i] & 15]};
            put(l, two, 2);
        }
        put(l, "\"", 1);
        return;
    }
    tally_assert_fail("unknown field type", __FILE__, __LINE__);
}

/* Field keys come from code: snake_case and none of the four fixed keys. */
static bool key_ok(const char *k)
{
    static const char *const fixed[] = {"ts", "level", "event", "component"};

    if (k == NULL || k[0] == '\0') {
        return false;
    }
    for (const char *p = k; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            return false;
        }
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(k, fixed[i]) == 0) {
            return false;
        }
    }
    return true;
}

/* n decimal digits of v, zero-padded (v < 10^n). */
static void digits(char *out, int n, unsigned v)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void ops_rfc3339_ms(int64_t ms, char out[25])
{
    struct tm tm;
    time_t secs;

    if (ms < 0) {
        ms = 0;
    }
    secs = (time_t)(ms / 1000);
    if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 > 9999) {
        memcpy(out, "9999-12-31T23:59:59.999Z", 25);
        return;
    }
    digits(out, 4, (unsigned)tm.tm_year + 1900u);
    out[4] = '-';
    digits(out + 5, 2, (unsigned)tm.tm_mon + 1u);
    out[7] = '-';
    digits(out + 8, 2, (unsigned)tm.tm_mday);
    out[10] = 'T';
    digits(out + 11, 2, (unsigned)tm.tm_hour);
    out[13] = ':';
    digits(out + 14, 2, (unsigned)tm.tm_min);
    out[16] = ':';
    digits(out + 17, 2, (unsigned)tm.tm_sec);
    out[19] = '.';
    digits(out + 20, 3, (unsigned)(ms % 1000));
    out[23] = 'Z';
    out[24] = '\0';
}

static int64_t real_now_ms(void *arg)
{
    struct timespec ts;

    (void)arg;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

tally_status ops_log_new(const ops_log_cfg *cfg, ops_log **out)
{
    ops_log *log;

    *out = NULL;
    TALLY_ASSERT((unsigned)cfg->level <= OPS_ERROR);
    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        return TALLY_ENOMEM;
    }
    if (pthread_mutex_init(&log->mu, NULL) != 0) {
        free(log);
        return TALLY_ENOMEM;
    }
    log->fd = cfg->fd == 0 ? 2 : cfg->fd;
    atomic_init(&log->level, (int)cfg->level);
    atomic_init(&log->failures, 0);
    log->now_ms = cfg->now_ms ? cfg->now_ms : real_now_ms;
    log->now_arg = cfg->now_arg;
    *out = log;
    return TALLY_OK;
}

void ops_log_free(ops_log *log)
{
    if (log == NULL) {
        return;
    }
    pthread_mutex_destroy(&log->mu);
    free(log);
}

void ops_log_set_level(ops_log *log, ops_level level)
{
    TALLY_ASSERT((unsigned)level <= OPS_ERROR);
    atomic_store(&log->level, (int)level);
}

bool ops_log_enabled(const ops_log *log, ops_level level)
{
    return (int)level >= atomic_load(&((ops_log *)log)->level);
}

uint64_t ops_log_failures(const ops_log *log)
{
    return atomic_load(&((ops_log *)log)->failures);
}

/* Writes the whole line, retrying after EINTR and short writes (which a pipe or a full disk
 * can give); any other failure is counted. */
static void emit(ops_log *log, const char *p, size_t n)
{
    bool failed = false;

    pthread_mutex_lock(&log->mu);
    while (n > 0) {
        ssize_t w = write(log->fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            failed = true;
            break;
        }
        p += w, n -= (size_t)w;
    }
    pthread_mutex_unlock(&log->mu);
    if (failed) {
        atomic_fetch_add(&log->failures, 1);
    }
}

void ops_log_event(ops_log *log, ops_level level, const char *component, const char *event,
                   const ops_field *fields, size_t n)
{
    line l;
    char ts[25];
    size_t keep;

    if (!ops_log_enabled(log, level)) {
        return;
    }
    l.len = 0, l.over = false, l.cap = sizeof(l.buf) - TAIL_RESERVE;
    ops_rfc3339_ms(log->now_ms(log->now_arg), ts);
    puts_(&l, "{\"ts\":\"");
    puts_(&l, ts);
    puts_(&l, "\",\"level\":\"");
    puts_(&l, ops_level_str(level));
    puts_(&l, "\",\"event\":");
    put_cstr(&l, event);
    puts_(&l, ",\"component\":");
    put_cstr(&l, component);
    /* The fixed part always fits: event and component are short names from code. */
    TALLY_ASSERT(!l.over);
    for (size_t i = 0; i < n && !l.over; i++) {
        TALLY_ASSERT(key_ok(fields[i].key));
        keep = l.len;
        put_field(&l, &fields[i]);
        if (l.over) {
            l.len = keep; /* drop the field that did not fit, and the rest */
        }
    }
    if (l.over) {
        memcpy(l.buf + l.len, ",\"truncated\":true", 17);
        l.len += 17;
    }
    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    emit(log, l.buf, l.len);
}

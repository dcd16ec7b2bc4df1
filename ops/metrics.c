/* A Prometheus registry, rendered as text exposition format 0.0.4. Metrics are fixed when the
 * registry is made (from the caller's static table); series appear on first use, up to a cap per
 * metric, past which updates land in one overflow series, so a flood of distinct label values
 * cannot grow memory. Each metric has its own mutex: updates of different metrics never wait
 * for each other, and a render sees each metric at one instant. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_int.h"

const double ops_buckets_seconds[14] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};

typedef struct series {
    char *values[OPS_METRIC_LABELS_MAX]; /* cleaned label values (clean_value) */
    double v;                            /* counter or gauge value; a histogram's sum */
    uint64_t count;                      /* histogram observations */
    uint64_t *buckets;                   /* histogram: per-bucket (not cumulative) counts */
} series;

typedef struct metric {
    const ops_metric_def *def;
    size_t nlabels, nbuckets, max_series;
    const double *buckets;
    pthread_mutex_t mu;
    series **list; /* max_series slots, the first n used, in order of first use */
    size_t n;
    series overflow; /* labels all OPS_METRIC_OVERFLOW; shown once used */
    bool overflow_used;
} metric;

struct ops_metrics {
    metric *m;
    size_t n;
};

static const char *const overflow_values[OPS_METRIC_LABELS_MAX] = {
    OPS_METRIC_OVERFLOW, OPS_METRIC_OVERFLOW, OPS_METRIC_OVERFLOW, OPS_METRIC_OVERFLOW};

/* ---- registration ---- */

static bool name_ok(const char *s, bool colon)
{
    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9')) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon && c == ':'))) {
            return false;
        }
    }
    return true;
}

static bool def_ok(const ops_metric_def *d)
{
    size_t nl = 0;

    if (!name_ok(d->name, true) || d->help == NULL || (unsigned)d->type > OPS_HISTOGRAM) {
        return false;
    }
    for (; d->labels != NULL && d->labels[nl] != NULL; nl++) {
        const char *l = d->labels[nl];
        if (nl == OPS_METRIC_LABELS_MAX || !name_ok(l, false) || strncmp(l, "__", 2) == 0 ||
            (d->type == OPS_HISTOGRAM && strcmp(l, "le") == 0)) {
            return false;
        }
        for (size_t j = 0; j < nl; j++) {
            if (strcmp(d->labels[j], l) == 0) {
                return false;
            }
        }
    }
    if (d->type != OPS_HISTOGRAM || d->buckets == NULL) {
        return true;
    }
    if (d->nbuckets == 0 || d->nbuckets > OPS_METRIC_BUCKETS_MAX) {
        return false;
    }
    for (size_t i = 0; i < d->nbuckets; i++) {
        double b = d->buckets[i];
        /* b == b rejects NaN; the bound rejects infinities (+Inf is implied). */
        if (b != b || b > 1e300 || b < -1e300 || (i > 0 && b <= d->buckets[i - 1])) {
            return false;
        }
    }
    return true;
}

static void series_free(series *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < OPS_METRIC_LABELS_MAX; i++) {
        free(s->values[i]);
    }
    free(s->buckets);
    free(s);
}

static void metric_release(metric *mt)
{
    for (size_t i = 0; i < mt->n; i++) {
        series_free(mt->list[i]);
    }
    free(mt->list);
    free(mt->overflow.buckets);
    pthread_mutex_destroy(&mt->mu);
}

void ops_metrics_free(ops_metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        metric_release(&m->m[i]);
    }
    free(m->m);
    free(m);
}

static tally_status series_make(const metric *mt,
                                const char clean[][OPS_METRIC_LABEL_VALUE_MAX + 1], series **out);

static tally_status metric_init(metric *mt, const ops_metric_def *d)
{
    mt->def = d;
    while (d->labels != NULL && d->labels[mt->nlabels] != NULL) {
        mt->nlabels++;
    }
    mt->max_series = mt->nlabels == 0 ? 1
                     : d->max_series  ? d->max_series
                                      : OPS_METRIC_SERIES_DEFAULT;
    if (d->type == OPS_HISTOGRAM) {
        mt->buckets = d->buckets ? d->buckets : ops_buckets_seconds;
        mt->nbuckets = d->buckets ? d->nbuckets : sizeof(ops_buckets_seconds) / sizeof(double);
    }
    if (pthread_mutex_init(&mt->mu, NULL) != 0) {
        return TALLY_ENOMEM;
    }
    mt->list = calloc(mt->max_series, sizeof(*mt->list));
    if (mt->list == NULL) {
        return TALLY_ENOMEM;
    }
    if (mt->nbuckets > 0) {
        mt->overflow.buckets = calloc(mt->nbuckets, sizeof(uint64_t));
        if (mt->overflow.buckets == NULL) {
            return TALLY_ENOMEM;
        }
    }
    if (mt->nlabels == 0) {
        /* A metric without labels shows its one series from the start, at 0. */
        if (series_make(mt, NULL, &mt->list[0]) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        mt->n = 1;
    }
    return TALLY_OK;
}

tally_status ops_metrics_new(const ops_metric_def *defs, size_t n, ops_metrics **out)
{
    ops_metrics *m;
    tally_status st;

    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!def_ok(&defs[i])) {
            return TALLY_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(defs[i].name, defs[j].name) == 0) {
                return TALLY_EINVAL;
            }
        }
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return TALLY_ENOMEM;
    }
    m->m = calloc(n ? n : 1, sizeof(*m->m));
    if (m->m == NULL) {
        free(m);
        return TALLY_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        st = metric_init(&m->m[i], &defs[i]);
        m->n = i + 1; /* released by ops_metrics_free even when half made */
        if (st != TALLY_OK) {
            ops_metrics_free(m);
            return st;
        }
    }
    *out = m;
    return TALLY_OK;
}

/* ---- series lookup ---- */

/* Copies a label value, cut at OPS_METRIC_LABEL_VALUE_MAX bytes on a sequence boundary, each
 * byte that does not start well-formed UTF-8 replaced by '?', as the format requires UTF-8. */
static void clean_value(const char *in, char out[OPS_METRIC_LABEL_VALUE_MAX + 1])
{
    const uint8_t *p = (const uint8_t *)(in ? in : "");
    size_t left = strlen((const char *)p), o = 0;

    while (left > 0) {
        size_t k = ops__utf8_seq(p, left);
        if (k == 0) {
            if (o + 1 > OPS_METRIC_LABEL_VALUE_MAX) {
                break;
            }
            out[o++] = '?';
            k = 1;
        } else {
            if (o + k > OPS_METRIC_LABEL_VALUE_MAX) {
                break;
            }
            memcpy(out + o, p, k);
            o += k;
        }
        p += k, left -= k;
    }
    out[o] = '\0';
}

static tally_status series_make(const metric *mt,
                                const char clean[][OPS_METRIC_LABEL_VALUE_MAX + 1], series **out)
{
    series *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL) {
        return TALLY_ENOMEM;
    }
    for (size_t i = 0; i < mt->nlabels; i++) {
        s->values[i] = strdup(clean[i]);
        if (s->values[i] == NULL) {
            series_free(s);
            return TALLY_ENOMEM;
        }
    }
    if (mt->nbuckets > 0) {
        s->buckets = calloc(mt->nbuckets, sizeof(uint64_t));
        if (s->buckets == NULL) {
            series_free(s);
            return TALLY_ENOMEM;
        }
    }
    *out = s;
    return TALLY_OK;
}

/* The series for values, made if new and there is room; the overflow series otherwise. Called
 * with mt->mu held. create = false gives NULL for a series never used. */
static series *find(metric *mt, const char *const *values, bool create)
{
    char clean[OPS_METRIC_LABELS_MAX][OPS_METRIC_LABEL_VALUE_MAX + 1];

    if (mt->nlabels == 0) {
        return mt->list[0];
    }
    TALLY_ASSERT(values != NULL);
    for (size_t i = 0; i < mt->nlabels; i++) {
        clean_value(values[i], clean[i]);
    }
    for (size_t i = 0; i < mt->n; i++) {
        size_t j = 0;
        while (j < mt->nlabels && strcmp(mt->list[i]->values[j], clean[j]) == 0) {
            j++;
        }
        if (j == mt->nlabels) {
            return mt->list[i];
        }
    }
    if (!create) {
        bool all = true;
        for (size_t j = 0; j < mt->nlabels; j++) {
            all = all && strcmp(clean[j], OPS_METRIC_OVERFLOW) == 0;
        }
        return all && mt->overflow_used ? &mt->overflow : NULL;
    }
    if (mt->n < mt->max_series && series_make(mt, clean, &mt->list[mt->n]) == TALLY_OK) {
        return mt->list[mt->n++];
    }
    mt->overflow_used = true;
    return &mt->overflow;
}

static metric *get(ops_metrics *m, size_t id, ops_mtype type)
{
    TALLY_ASSERT(id < m->n && m->m[id].def->type == type);
    return &m->m[id];
}

void ops_metric_add(ops_metrics *m, size_t id, const char *const *values, double v)
{
    metric *mt;

    TALLY_ASSERT(id < m->n && m->m[id].def->type != OPS_HISTOGRAM);
    mt = &m->m[id];
    TALLY_ASSERT(mt->def->type == OPS_GAUGE || v >= 0);
    pthread_mutex_lock(&mt->mu);
    find(mt, values, true)->v += v;
    pthread_mutex_unlock(&mt->mu);
}

void ops_metric_set(ops_metrics *m, size_t id, const char *const *values, double v)
{
    metric *mt = get(m, id, OPS_GAUGE);

    pthread_mutex_lock(&mt->mu);
    find(mt, values, true)->v = v;
    pthread_mutex_unlock(&mt->mu);
}

void ops_metric_observe(ops_metrics *m, size_t id, const char *const *values, double v)
{
    metric *mt = get(m, id, OPS_HISTOGRAM);
    series *s;
    size_t b = 0;

    if (v != v) {
        return; /* NaN belongs in no bucket and would poison the sum */
    }
    while (b < mt->nbuckets && v > mt->buckets[b]) {
        b++;
    }
    pthread_mutex_lock(&mt->mu);
    s = find(mt, values, true);
    if (b < mt->nbuckets) {
        s->buckets[b]++;
    }
    s->count++;
    s->v += v;
    pthread_mutex_unlock(&mt->mu);
}

double ops_metric_value(ops_metrics *m, size_t id, const char *const *values)
{
    metric *mt;
    series *s;
    double v = 0;

    TALLY_ASSERT(id < m->n);
    mt = &m->m[id];
    pthread_mutex_lock(&mt->mu);
    s = find(mt, values, false);
    if (s != NULL) {
        v = mt->def->type == OPS_HISTOGRAM ? (double)s->count : s->v;
    }
    pthread_mutex_unlock(&mt->mu);
    return v;
}

size_t ops_metric_series(ops_metrics *m, size_t id)
{
    metric *mt;
    size_t n;

    TALLY_ASSERT(id < m->n);
    mt = &m->m[id];
    pthread_mutex_lock(&mt->mu);
    n = mt->n + (mt->overflow_used ? 1 : 0);
    pthread_mutex_unlock(&mt->mu);
    return n;
}

/* ---- rendering ---- */

/* Output is gathered in a small buffer and handed to fn when full or at the end. */
typedef struct out {
    char buf[4096];
    size_t len;
    ops_emit_fn fn;
    void *arg;
} out;

static void flush(out *o)
{
    if (o->len > 0) {
        o->fn(o->buf, o->len, o->arg);
        o->len = 0;
    }
}

static void emit(out *o, const char *p, size_t n)
{
    while (n > 0) {
        size_t k = sizeof(o->buf) - o->len;
        if (k == 0) {
            flush(o);
            continue;
        }
        if (k > n) {
            k = n;
        }
        memcpy(o->buf + o->len, p, k);
        o->len += k, p += k, n -= k;
    }
}

static void emits(out *o, const char *s)
{
    emit(o, s, strlen(s));
}

/* HELP text escapes \ and newline; label values also escape ". */
static void emit_escaped(out *o, const char *s, bool quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\') {
            emit(o, "\\\\", 2);
        } else if (*s == '\n') {
            emit(o, "\\n", 2);
        } else if (quote && *s == '"') {
            emit(o, "\\\"", 2);
        } else {
            emit(o, s, 1);
        }
    }
}

/* name{l1="v1",...,le="x"} value\n; suffix is "_bucket" etc. or "", le may be NULL. */
static void emit_sample(out *o, const metric *mt, const char *suffix, const char *const *values,
                        const char *le, double v)
{
    char num[32];
    bool any = mt->nlabels > 0 || le != NULL;

    emits(o, mt->def->name);
    emits(o, suffix);
    if (any) {
        emit(o, "{", 1);
    }
    for (size_t i = 0; i < mt->nlabels; i++) {
        if (i > 0) {
            emit(o, ",", 1);
        }
        emits(o, mt->def->labels[i]);
        emit(o, "=\"", 2);
        emit_escaped(o, values[i], true);
        emit(o, "\"", 1);
    }
    if (le != NULL) {
        emits(o, mt->nlabels > 0 ? ",le=\"" : "le=\"");
        emits(o, le);
        emit(o, "\"", 1);
    }
    if (any) {
        emit(o, "}", 1);
    }
    emit(o, " ", 1);
    ops__fmt_double(v, num);
    emits(o, num);
    emit(o, "\n", 1);
}

static void emit_series(out *o, const metric *mt, const series *s, const char *const *values)
{
    char le[32];
    uint64_t cum = 0;

    if (mt->def->type != OPS_HISTOGRAM) {
        emit_sample(o, mt, "", values, NULL, s->v);
        return;
    }
    for (size_t b = 0; b < mt->nbuckets; b++) {
        cum += s->buckets[b];
        ops__fmt_double(mt->buckets[b], le);
        emit_sample(o, mt, "_bucket", values, le, (double)cum);
    }
    emit_sample(o, mt, "_bucket", values, "+Inf", (double)s->count);
    emit_sample(o, mt, "_sum", values, NULL, s->v);
    emit_sample(o, mt, "_count", values, NULL, (double)s->count);
}

void ops_metrics_render(ops_metrics *m, ops_emit_fn fn, void *arg)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    out o = {.len = 0, .fn = fn, .arg = arg};

    for (size_t i = 0; i < m->n; i++) {
        metric *mt = &m->m[i];
        emits(&o, "# HELP ");
        emits(&o, mt->def->name);
        emit(&o, " ", 1);
        emit_escaped(&o, mt->def->help, false);
        emits(&o, "\n# TYPE ");
        emits(&o, mt->def->name);
        emit(&o, " ", 1);
        emits(&o, types[mt->def->type]);
        emit(&o, "\n", 1);
        pthread_mutex_lock(&mt->mu);
        for (size_t s = 0; s < mt->n; s++) {
            emit_series(&o, mt, mt->list[s], (const char *const *)mt->list[s]->values);
        }
        if (mt->overflow_used) {
            emit_series(&o, mt, &mt->overflow, overflow_values);
        }
        pthread_mutex_unlock(&mt->mu);
    }
    flush(&o);
}

typedef struct growbuf {
    char *p;
    size_t len, cap;
    bool failed;
} growbuf;

static void grow_emit(const char *p, size_t n, void *arg)
{
    growbuf *g = arg;

    if (g->failed) {
        return;
    }
    if (n + 1 > g->cap - g->len) {
        size_t cap = g->cap ? g->cap : 4096;
        char *q;
        while (n + 1 > cap - g->len) {
            cap *= 2;
        }
        q = realloc(g->p, cap);
        if (q == NULL) {
            g->failed = true;
            return;
        }
        g->p = q, g->cap = cap;
    }
    memcpy(g->p + g->len, p, n);
    g->len += n;
    g->p[g->len] = '\0';
}

tally_status ops_metrics_render_buf(ops_metrics *m, char **out_, size_t *n)
{
    growbuf g = {0};

    *out_ = NULL, *n = 0;
    grow_emit("", 0, &g);
    ops_metrics_render(m, grow_emit, &g);
    if (g.failed) {
        free(g.p);
        return TALLY_ENOMEM;
    }
    *out_ = g.p, *n = g.len;
    return TALLY_OK;
}

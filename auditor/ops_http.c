/* The auditor daemon's ops listener (TALLY_AUDIT_OPS_LISTEN): /health/live, /health, /metrics
 * and /checkpoint on httpd/, one loop thread. Requests read a snapshot that the rounds' thread
 * replaces after each round (audit_ops_update), under one mutex held only to copy it, so a
 * request never waits for a round and never touches the audit handle or its store.
 *
 * | route        | answer                                                                 |
 * |--------------|------------------------------------------------------------------------|
 * | /health/live | 200 {"status":"live"} whenever the loop answers                        |
 * | /health      | 200 ok/degraded, 503 failing (a fail verdict latched); docs/audit.md   |
 * | /metrics     | Prometheus text 0.0.4 of ops_metrics_audit_defs()                      |
 * | /checkpoint  | the trusted note with this auditor's cosignature; 503 not_ready before |
 * | other        | 404 unknown_route; another method than GET, HEAD: 405 (Allow: GET, HEAD)|
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auditor/audit_int.h"
#include "httpd/httpd.h"

#ifndef TALLY_COMMIT
#define TALLY_COMMIT "unknown"
#endif

#define OPS_LISTENER "audit_ops" /* the listener label of the HTTP metrics */
#define STALE_ROUNDS 3u          /* no round ended for this many intervals: degraded */

typedef enum route_id {
    R_UNKNOWN = 0,
    R_LIVE,
    R_HEALTH,
    R_METRICS,
    R_CHECKPOINT,
    R_COUNT
} route_id;

typedef struct snapshot {
    audit_status s;
    uint64_t primary_size; /* the primary's size last seen (0 until a round reached it) */
    bool has_round, running, reached;
    double round_began, round_ended; /* audit__now() seconds */
    double round_s;
    tally_status round_st;
    char round_what[AUDIT_WHAT_MAX]; /* why the last round could not reach the primary */
    char note[STORE_NOTE_MAX];       /* "" until a head is trusted and the name known */
    size_t note_n;
} snapshot;

struct audit_ops {
    httpd *srv;
    ops_metrics *m;
    ops_log *log;
    char origin[SCHEMA_ORIGIN_MAX + 1];
    char primary[1024];
    uint64_t poll_s;
    double started;
    bool mu_ok;
    pthread_mutex_t mu;
    snapshot snap; /* under mu */
    /* the rounds' thread only */
    bool was_failed;
    snapshot next; /* built outside mu, then copied in */
};

static const char *const route_names[R_COUNT] = {"unknown", "/health/live", "/health", "/metrics",
                                                 "/checkpoint"};

static route_id route_of(const char *path)
{
    for (unsigned i = R_LIVE; i < R_COUNT; i++) {
        if (strcmp(path, route_names[i]) == 0) {
            return (route_id)i;
        }
    }
    return R_UNKNOWN;
}

static void snap_copy(audit_ops *o, snapshot *out)
{
    pthread_mutex_lock(&o->mu);
    *out = o->snap;
    pthread_mutex_unlock(&o->mu);
}

static json_t *ju(uint64_t v)
{
    /* beyond 2^53 - 1 as a decimal string, as in the rest of tally's JSON (decisions.md 2) */
    if (v > 9007199254740991ull) {
        char b[24];
        snprintf(b, sizeof(b), "%" PRIu64, v);
        return json_string(b);
    }
    return json_integer((json_int_t)v);
}

static uint64_t whole(double s)
{
    return s > 0 ? (uint64_t)s : 0; /* truncation is floor for s > 0 */
}

/* ok, degraded or failing, with the reasons in checks. */
static const char *judge(const audit_ops *o, const snapshot *sn, double now, json_t *checks)
{
    double since = sn->has_round ? sn->round_ended : o->started;
    bool stale = now - since > (double)(STALE_ROUNDS * o->poll_s);
    bool unreached = sn->has_round && !sn->reached;

    json_object_set_new(checks, "primary", json_string(unreached ? "degraded" : "ok"));
    json_object_set_new(checks, "rounds", json_string(stale ? "degraded" : "ok"));
    json_object_set_new(checks, "verdict", json_string(sn->s.failed ? "failing" : "ok"));
    return sn->s.failed ? "failing" : (stale || unreached) ? "degraded" : "ok";
}

static void h_health(audit_ops *o, httpd_req *req)
{
    snapshot *sn = malloc(sizeof(*sn));
    json_t *j = NULL, *checks = json_object();
    double now = audit__now();
    const char *status;
    uint64_t lag;

    if (sn == NULL || checks == NULL) {
        goto oom;
    }
    snap_copy(o, sn);
    status = judge(o, sn, now, checks);
    lag = sn->primary_size > sn->s.trusted_size ? sn->primary_size - sn->s.trusted_size : 0;
    j = json_object();
    if (j == NULL) {
        goto oom;
    }
    json_object_set_new(j, "status", json_string(status));
    json_object_set_new(j, "version", json_string(SCHEMA_CODE_VERSION));
    json_object_set_new(j, "origin", json_string(o->origin));
    json_object_set_new(j, "primary", json_string(o->primary));
    json_object_set_new(j, "uptime_s", ju(whole(now - o->started)));
    json_object_set_new(j, "verified_size", ju(sn->s.trusted_size));
    json_object_set_new(j, "replica_size", ju(sn->s.replica_size));
    json_object_set_new(j, "primary_size", ju(sn->primary_size));
    json_object_set_new(j, "lag_records", ju(lag));
    json_object_set_new(j, "round_running", json_boolean(sn->running));
    if (sn->running) {
        json_object_set_new(j, "round_running_s", ju(whole(now - sn->round_began)));
    }
    json_object_set_new(j, "last_round_age_s",
                        sn->has_round ? ju(whole(now - sn->round_ended)) : json_null());
    json_object_set_new(j, "last_round_ms",
                        sn->has_round ? ju(whole(sn->round_s * 1e3)) : json_null());
    json_object_set_new(j, "last_round_status",
                        sn->has_round ? json_string(tally_status_str(sn->round_st)) : json_null());
    if (sn->has_round && sn->round_st != TALLY_OK) {
        json_object_set_new(j, "last_round_error", json_string(sn->round_what));
    }
    json_object_set_new(j, "last_checked_cycle", ju(sn->s.last_checked_cycle));
    json_object_set_new(j, "last_pass_cycle", ju(sn->s.last_pass_cycle));
    json_object_set_new(j, "last_attested_cycle", ju(sn->s.last_attested_cycle));
    json_object_set_new(j, "failed", json_boolean(sn->s.failed));
    if (sn->s.failed) {
        json_object_set_new(j, "reason", json_string(audit_reason_name(sn->s.reason)));
        json_object_set_new(j, "seq", sn->s.has_seq ? ju(sn->s.seq) : json_null());
        json_object_set_new(j, "what", json_string(sn->s.what));
    }
    json_object_set_new(j, "evidence", ju(sn->s.evidence));
    json_object_set_new(j, "checks", checks);
    checks = NULL;
    httpd_req_reply_json(req, sn->s.failed ? 503 : 200, j);
    json_decref(j);
    free(sn);
    return;
oom:
    json_decref(checks);
    json_decref(j);
    free(sn);
    httpd_req_error(req, 500, "internal_error", "out of memory", NULL);
}

static void h_metrics(audit_ops *o, httpd_req *req)
{
    httpd_gauges g;
    const char *lis[1] = {OPS_LISTENER};
    char *text = NULL;
    size_t n = 0;

    httpd_gauges_get(o->srv, &g);
    ops_metric_set(o->m, OPS_MA_HTTP_CONNECTIONS, lis, (double)g.conns_open[0]);
    ops_metric_set(o->m, OPS_MA_HTTP_INFLIGHT, lis, (double)g.inflight);
    if (ops_metrics_render_buf(o->m, &text, &n) != TALLY_OK) {
        httpd_req_error(req, 500, "internal_error", "out of memory", NULL);
        return;
    }
    httpd_req_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, n);
    free(text);
}

static void h_checkpoint(audit_ops *o, httpd_req *req)
{
    snapshot *sn = malloc(sizeof(*sn));

    if (sn == NULL) {
        httpd_req_error(req, 500, "internal_error", "out of memory", NULL);
        return;
    }
    snap_copy(o, sn);
    if (sn->note_n == 0) {
        free(sn);
        httpd_req_error(req, 503, "not_ready",
                        "no checkpoint verified yet, or the auditor's key is bound to no hotkey",
                        NULL);
        return;
    }
    if (httpd_req_header_add(req, "Cache-Control", "no-cache") != TALLY_OK) {
        free(sn);
        httpd_req_error(req, 500, "internal_error", "out of memory", NULL);
        return;
    }
    httpd_req_reply(req, 200, "text/plain; charset=utf-8", sn->note, sn->note_n);
    free(sn);
}

static void handle(void *arg, httpd_req *req)
{
    audit_ops *o = arg;
    route_id r = route_of(httpd_req_path(req));

    httpd_req_set_route(req, r);
    if (r == R_UNKNOWN) {
        httpd_req_error(req, 404, "unknown_route", "no such route", NULL);
        return;
    }
    /* HEAD as the node's routes take it: the GET answer's status and headers, no body */
    if (httpd_req_method(req) != HTTPD_METHOD_GET && httpd_req_method(req) != HTTPD_METHOD_HEAD) {
        if (httpd_req_header_add(req, "Allow", "GET, HEAD") != TALLY_OK) {
            httpd_req_error(req, 500, "internal_error", "out of memory", NULL);
            return;
        }
        httpd_req_error(req, 405, "method_not_allowed", "this route answers GET and HEAD only",
                        NULL);
        return;
    }
    switch (r) {
    case R_LIVE:
        httpd_req_reply_json_str(req, 200, "{\"status\":\"live\"}");
        break;
    case R_HEALTH:
        h_health(o, req);
        break;
    case R_METRICS:
        h_metrics(o, req);
        break;
    case R_CHECKPOINT:
        h_checkpoint(o, req);
        break;
    default:
        httpd_req_error(req, 404, "unknown_route", "no such route", NULL);
        break;
    }
}

static void on_reply(void *arg, httpd_req *req, unsigned status, size_t bytes)
{
    audit_ops *o = arg;
    unsigned r = httpd_req_route(req);
    char st[8];
    const char *route = route_names[r < R_COUNT ? r : R_UNKNOWN];
    const char *req_l[4] = {OPS_LISTENER, route, httpd_req_method_name(req), st};
    const char *dur_l[2] = {OPS_LISTENER, route};

    (void)bytes;
    snprintf(st, sizeof(st), "%u", status);
    ops_metric_add(o->m, OPS_MA_HTTP_REQUESTS, req_l, 1);
    ops_metric_observe(o->m, OPS_MA_HTTP_DURATION, dur_l, (double)httpd_req_elapsed_ns(req) / 1e9);
}

tally_status audit_ops_open(const audit_ops_cfg *cfg, audit_ops **out)
{
    audit_ops *o;
    tally_status st;

    *out = NULL;
    if (cfg->host == NULL || cfg->origin == NULL || cfg->primary_url == NULL || cfg->poll_s == 0) {
        return TALLY_EINVAL;
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return TALLY_ENOMEM;
    }
    if (pthread_mutex_init(&o->mu, NULL) != 0) {
        free(o);
        return TALLY_ENOMEM;
    }
    o->mu_ok = true;
    o->log = cfg->log;
    o->poll_s = cfg->poll_s;
    o->started = audit__now();
    snprintf(o->origin, sizeof(o->origin), "%s", cfg->origin);
    snprintf(o->primary, sizeof(o->primary), "%s", cfg->primary_url);
    st = ops_metrics_new(ops_metrics_audit_defs(), OPS_MA_COUNT, &o->m);
    if (st != TALLY_OK) {
        goto fail;
    }
    {
        const char *bi[2] = {SCHEMA_CODE_VERSION, TALLY_COMMIT};
        ops_metric_set(o->m, OPS_MA_BUILD_INFO, bi, 1);
    }
    {
        httpd_listener_cfg lc = {.name = OPS_LISTENER,
                                 .host = cfg->host,
                                 .port = cfg->port,
                                 .max_body = 1024, /* every route is a GET */
                                 .handle = handle,
                                 .arg = o};
        /* a monitor and an operator, not the public: small limits, one loop */
        httpd_cfg hc = {.listeners = &lc,
                        .n_listeners = 1,
                        .threads = 1,
                        .max_conns = 64,
                        .max_conns_per_ip = 64,
                        .max_inflight = 64,
                        .on_reply = on_reply,
                        .on_reply_arg = o};
        st = httpd_open(&hc, &o->srv);
    }
    if (st != TALLY_OK) {
        goto fail;
    }
    {
        char listen[80];
        bool v6 = strchr(cfg->host, ':') != NULL;
        snprintf(listen, sizeof(listen), "%s%s%s:%u", v6 ? "[" : "", cfg->host, v6 ? "]" : "",
                 (unsigned)httpd_port(o->srv, 0));
        OPS_LOG(o->log, OPS_INFO, "auditor", "ops_listening", OPS_FS("listen", listen),
                OPS_FU("port", httpd_port(o->srv, 0)));
    }
    *out = o;
    return TALLY_OK;
fail:
    audit_ops_close(o);
    return st;
}

uint16_t audit_ops_port(const audit_ops *o)
{
    return httpd_port(o->srv, 0);
}

void audit_ops_round_begin(audit_ops *o)
{
    pthread_mutex_lock(&o->mu);
    o->snap.running = true;
    o->snap.round_began = audit__now();
    pthread_mutex_unlock(&o->mu);
}

static void count_round(audit_ops *o, const audit_round *r, tally_status st)
{
    const char *outcome[1] = {st != TALLY_OK ? "error" : r->failed ? "fail" : "pass"};
    static const char *const phases[] = {"checkpoint", "fetch", "verify", "replicate",
                                         "reveals",    "check", "post",   "total"};
    const double secs[] = {r->checkpoint_s, r->fetch_s, r->verify_s, r->replicate_s,
                           r->reveals_s,    r->check_s, r->post_s,   r->seconds};

    ops_metric_add(o->m, OPS_MA_ROUNDS, outcome, 1);
    ops_metric_add(o->m, OPS_MA_RECORDS_PULLED, NULL, (double)r->pulled);
    for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
        const char *ph[1] = {phases[i]};
        ops_metric_set(o->m, OPS_MA_ROUND_SECONDS, ph, secs[i]);
    }
    for (size_t i = 0; i < r->n_cycles; i++) {
        if (r->cycles[i].posted) {
            const char *v[1] = {audit_verdict_name(r->cycles[i].verdict)};
            ops_metric_add(o->m, OPS_MA_ATTESTATIONS, v, 1);
        }
    }
}

void audit_ops_update(audit_ops *o, audit *a, const audit_round *r, tally_status st)
{
    snapshot *nx = &o->next;
    uint64_t lag;

    pthread_mutex_lock(&o->mu);
    *nx = o->snap;
    pthread_mutex_unlock(&o->mu);
    audit_status_get(a, &nx->s);
    if (audit_checkpoint_note(a, nx->note, sizeof(nx->note), &nx->note_n) != TALLY_OK) {
        nx->note_n = 0;
    }
    if (r != NULL) {
        nx->has_round = true;
        nx->running = false;
        nx->round_ended = audit__now();
        nx->round_s = r->seconds;
        nx->round_st = st;
        nx->reached = st == TALLY_OK;
        snprintf(nx->round_what, sizeof(nx->round_what), "%s", st == TALLY_OK ? "" : r->what);
        if (r->primary_size > 0) {
            nx->primary_size = r->primary_size;
        }
        count_round(o, r, st);
    }
    /* the auditor's own attestations and the head it re-checked after them can put its trusted
     * head past the size the round first saw */
    if (nx->primary_size < nx->s.trusted_size) {
        nx->primary_size = nx->s.trusted_size;
    }
    if (nx->s.failed && !o->was_failed && r != NULL) {
        ops_metric_add(o->m, OPS_MA_DIVERGENCES, NULL, 1);
    }
    o->was_failed = nx->s.failed;
    lag = nx->primary_size - nx->s.trusted_size;
    ops_metric_set(o->m, OPS_MA_VERIFIED_SIZE, NULL, (double)nx->s.trusted_size);
    ops_metric_set(o->m, OPS_MA_LAG_RECORDS, NULL, (double)lag);
    pthread_mutex_lock(&o->mu);
    o->snap = *nx; /* round_begin runs on this thread too, so nothing changed it meanwhile */
    pthread_mutex_unlock(&o->mu);
}

void audit_ops_close(audit_ops *o)
{
    if (o == NULL) {
        return;
    }
    if (o->srv != NULL) {
        httpd_stop(o->srv, 0);
        httpd_wait(o->srv);
        httpd_close(o->srv);
    }
    ops_metrics_free(o->m);
    if (o->mu_ok) {
        pthread_mutex_destroy(&o->mu);
    }
    free(o);
}

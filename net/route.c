/* The route table and the order of checks of protocol §7.3: cheap before signature before disk.
 * The HTTP engine calls net__head once the headers are in (stages 2–8, no body read yet) and
 * net__handle with the decoded body (stage 9, the request signature, then the route's handler).
 * Every refusal goes through net__fail, which answers with the §8 body, charges the abuse engine
 * by the code's class and records the code for the access log. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "net/node_int.h"


static const char *const listener_names[NET_LISTEN_COUNT] = {"ingest", "ledger", "ops"};

uint64_t net__now_ms(const net_node *n)
{
    return (uint64_t)ops_clock_wall_ms(n->clock);
}

uint64_t net__mono_ms(const net_node *n)
{
    return ops_clock_mono_ns(n->clock) / 1000000u;
}

static bool path_hit(const net__route *r, const char *path, size_t listener)
{
    bool hit = r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0
                         : strcmp(path, r->path) == 0;
    return hit && (r->listeners & (1u << listener));
}

/* The first route whose path and method match, else the first whose path matches (its method
 * check then answers 405). */
static const net__route *find_route(const char *path, size_t listener, httpd_method method)
{
    const net__route *first = NULL;

    for (size_t i = 0; i < net__n_routes; i++) {
        const net__route *r = &net__routes[i];
        if (!path_hit(r, path, listener)) {
            continue;
        }
        if (r->methods & (1u << method)) {
            return r;
        }
        if (first == NULL) {
            first = r;
        }
    }
    return first;
}

/* The Allow header of a path: the methods of every route serving it, by name. */
static void allow_of(const char *path, size_t listener, char *out, size_t cap)
{
    static const char *const names[HTTPD_METHOD_COUNT] = {"GET",    "HEAD",    "POST",  "PUT",
                                                          "DELETE", "OPTIONS", "PATCH", NULL};
    size_t used = 0;
    unsigned methods = 0;

    for (size_t i = 0; i < net__n_routes; i++) {
        if (path_hit(&net__routes[i], path, listener)) {
            methods |= net__routes[i].methods;
        }
    }
    out[0] = '\0';
    for (unsigned m = 0; m < HTTPD_METHOD_COUNT; m++) {
        if ((methods & (1u << m)) && names[m] != NULL) {
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "", names[m]);
        }
    }
}

void net__header(httpd_req *req, const char *name, const char *value)
{
    if (httpd_req_header_add(req, name, value) != TALLY_OK) {
        return; /* the arena is full: the response goes without this header */
    }
}

static void rate_headers(httpd_req *req, const net__ctx *ctx)
{
    char v[24];

    if (ctx == NULL || !ctx->has_rate) {
        return;
    }
    snprintf(v, sizeof(v), "%" PRIu32, ctx->rate.limit);
    net__header(req, "X-RateLimit-Limit", v);
    snprintf(v, sizeof(v), "%" PRIu32, ctx->rate.remaining);
    net__header(req, "X-RateLimit-Remaining", v);
    snprintf(v, sizeof(v), "%" PRIu32, ctx->rate.reset_s);
    net__header(req, "X-RateLimit-Reset", v);
}

void net__reply_json(net_node *n, httpd_req *req, net__ctx *ctx, unsigned status, json_t *json)
{
    net__reply_json_cc(n, req, ctx, status, json, "no-store");
}

void net__reply_json_cc(net_node *n, httpd_req *req, net__ctx *ctx, unsigned status, json_t *json,
                        const char *cache_control)
{
    (void)n;
    rate_headers(req, ctx);
    net__header(req, "Cache-Control", cache_control);
    if (httpd_req_prefers_msgpack(req) && net__reply_msgpack(req, status, json)) {
        return;
    }
    httpd_req_reply_json(req, status, json);
}

void net__rate_headers(httpd_req *req, const net__ctx *ctx)
{
    rate_headers(req, ctx);
}

/* What the abuse engine is told of a failure of code: its class and who is charged (§7.2). */
static void charge(net_node *n, net__ctx *ctx, wire_err code)
{
    char cls = wire_err_class(code);
    net_abuse_failure f = {.ip = &ctx->ip};
    net_abuse_outcome out;
    char who[NET_IDENT_STR_MAX];

    switch (cls) {
    case 'C': f.cls = NET_CLASS_C; break;
    case 'V': f.cls = NET_CLASS_V; break;
    case 'X': f.cls = NET_CLASS_X; break;
    case 'P': f.cls = NET_CLASS_P; break;
    default: return;
    }
    if (code == WIRE_BAD_SIGNATURE) {
        f.x_reason = NET_BAN_BAD_SIGNATURE;
    } else if (code == WIRE_KEY_NOT_REGISTERED) {
        f.x_reason = NET_BAN_KEY_NOT_REGISTERED;
    } else if (code == WIRE_NONCE_REPLAY) {
        f.x_reason = NET_BAN_NONCE_REPLAY;
    }
    /* an unauthenticated claim never changes a key's or hotkey's state */
    f.hotkey = ctx->verified ? ctx->bind.hotkey : NULL;
    f.claimed_key = ctx->signed_req ? ctx->auth.key : NULL;
    if (net_abuse_fail(n->abuse, &f, net__now_ms(n), net__mono_ms(n), &out) != TALLY_OK) {
        return; /* a full ban table: counted by the engine, the request is answered anyway */
    }
    if (out.ip_cooldown_s > 0 || out.ip_banned) {
        net_ident id;
        net_ident_ip(&ctx->ip, &id);
        net_ident_format(&id, who);
        if (out.ip_cooldown_s > 0) {
            OPS_LOG(n->log, OPS_WARN, "abuse", "cooldown_started", OPS_FS("identity", "ip"),
                    OPS_FS("id", who), OPS_FU("seconds", out.ip_cooldown_s),
                    OPS_FU("cooldown_level", out.ip_level));
        }
        if (out.ip_banned) {
            OPS_LOG(n->log, OPS_WARN, "abuse", "ban_added", OPS_FS("identity", "ip"),
                    OPS_FS("id", who), OPS_FS("reason", wire_err_name(code)),
                    OPS_FU("expires_ms", out.ip_ban_until_ms));
        }
    }
    if (f.hotkey != NULL && (out.hotkey_cooldown_s > 0 || out.hotkey_banned)) {
        net_ident id;
        net_ident_hotkey(f.hotkey, &id);
        net_ident_format(&id, who);
        if (out.hotkey_cooldown_s > 0) {
            OPS_LOG(n->log, OPS_WARN, "abuse", "cooldown_started", OPS_FS("identity", "hotkey"),
                    OPS_FS("id", who), OPS_FU("seconds", out.hotkey_cooldown_s),
                    OPS_FU("cooldown_level", out.hotkey_level));
        }
        if (out.hotkey_banned) {
            OPS_LOG(n->log, OPS_WARN, "abuse", "ban_added", OPS_FS("identity", "hotkey"),
                    OPS_FS("id", who), OPS_FS("reason", wire_err_name(code)),
                    OPS_FU("expires_ms", out.hotkey_ban_until_ms));
        }
    }
}

void net__fail(net_node *n, httpd_req *req, net__ctx *ctx, wire_err code, const char *message,
               json_t *details)
{
    unsigned status = wire_err_http(code);

    if (ctx != NULL) {
        ctx->error = wire_err_name(code);
        charge(n, ctx, code);
    }
    /* §7.1: every 429 and 503 says when to come back (1 s unless a window said more) */
    if ((status == 429 || status == 503) && (ctx == NULL || !ctx->retry_after)) {
        net__header(req, "Retry-After", "1");
    }
    rate_headers(req, ctx);
    httpd_req_error(req, status, wire_err_name(code), message, details);
}

/* The 429 of a cooldown keeps the reference's shape (§8), with Retry-After. */
static void fail_cooling(net_node *n, httpd_req *req, net__ctx *ctx, wire_err code,
                         uint32_t remaining_s)
{
    json_t *o =
        json_pack("{s:b, s:s, s:I, s:s, s:I, s:s, s:s}", "success", 0, "error", wire_err_name(code),
                  "retry_after", (json_int_t)remaining_s, "cooldown_type", wire_err_name(code),
                  "cooldown_remaining_seconds", (json_int_t)remaining_s, "message",
                  code == WIRE_IP_COOLDOWN ? "too many failed requests from this address"
                                           : "too many failed requests by this hotkey",
                  "request_id", httpd_req_id(req));
    char v[16];

    ctx->error = wire_err_name(code);
    charge(n, ctx, code);
    snprintf(v, sizeof(v), "%" PRIu32, remaining_s ? remaining_s : 1);
    net__header(req, "Retry-After", v);
    ctx->retry_after = true;
    rate_headers(req, ctx);
    if (o == NULL) {
        httpd_req_error(req, 429, wire_err_name(code), "cooling down", NULL);
        return;
    }
    httpd_req_reply_json(req, 429, o);
    json_decref(o);
}

static void fail_banned(net_node *n, httpd_req *req, net__ctx *ctx, wire_err code,
                        uint64_t expires_ms)
{
    json_t *d = json_pack("{s:o}", "expires_ms",
                          expires_ms ? json_integer((json_int_t)expires_ms) : json_null());

    net__fail(n, req, ctx, code,
              code == WIRE_IP_BLACKLISTED ? "this address is banned" : "this hotkey is banned", d);
    json_decref(d);
}

static void fail_limited(net_node *n, httpd_req *req, net__ctx *ctx, const net_abuse_verdict *v)
{
    static const char *const scopes[3] = {"key", "ip", "global"};
    json_t *d = json_pack("{s:s, s:s}", "scope", scopes[v->scope], "window",
                          v->window == NET_WINDOW_1S ? "1s" : "60s");
    char ra[16];

    snprintf(ra, sizeof(ra), "%" PRIu32, v->retry_after_s ? v->retry_after_s : 1);
    net__header(req, "Retry-After", ra);
    ctx->retry_after = true;
    if (v->result == NET_ABUSE_OVERLOADED) {
        net__fail(n, req, ctx, WIRE_OVERLOADED, "the node is at its request limit", d);
    } else {
        net__fail(n, req, ctx, WIRE_RATE_LIMITED, "request rate limit reached", d);
    }
    json_decref(d);
}

/* Answers a verdict of the IP (stage 2–5) or key (stage 7) checks that refuses the request
 * and returns true; for one that admits it, keeps its window for the X-RateLimit-* headers. A
 * refusal by a window shows that window (Remaining 0), as every response of the route does. */
static bool refused(net_node *n, httpd_req *req, net__ctx *ctx, const net_abuse_verdict *v, bool ip)
{
    switch (v->result) {
    case NET_ABUSE_OK:
        ctx->has_rate = true, ctx->rate = v->rate;
        return false;
    case NET_ABUSE_BANNED:
        fail_banned(n, req, ctx, ip ? WIRE_IP_BLACKLISTED : WIRE_HOTKEY_BLACKLISTED,
                    v->expires_ms);
        return true;
    case NET_ABUSE_COOLING:
        fail_cooling(n, req, ctx, ip ? WIRE_IP_COOLDOWN : WIRE_HOTKEY_COOLDOWN, v->retry_after_s);
        return true;
    case NET_ABUSE_RATE_LIMITED:
        ctx->has_rate = true, ctx->rate = v->rate;
        fail_limited(n, req, ctx, v);
        return true;
    default:
        fail_limited(n, req, ctx, v);
        return true;
    }
}

/* Stages 2–5: bans, route, probes, windows. False when the request was answered. */
static bool stage_ip(net_node *n, httpd_req *req, net__ctx *ctx, size_t listener)
{
    net_abuse_verdict v;
    uint64_t now = net__now_ms(n), mono = net__mono_ms(n);
    const char *path = httpd_req_path(req), *target = httpd_req_target(req);
    bool auth_hdrs = httpd_req_header(req, "Authorization", NULL) > 0 ||
                     httpd_req_header(req, "Tally-Key", NULL) > 0 ||
                     httpd_req_header(req, "Tally-Signature", NULL) > 0 ||
                     httpd_req_header(req, "Tally-Time", NULL) > 0 ||
                     httpd_req_header(req, "Tally-Nonce", NULL) > 0;

    if (listener != NET_LISTEN_OPS) {
        if (net_abuse_check_ban(n->abuse, &ctx->ip, now, &v) != TALLY_OK) {
            net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "abuse check failed", NULL);
            return false;
        }
        if (v.result == NET_ABUSE_BANNED) {
            fail_banned(n, req, ctx, WIRE_IP_BLACKLISTED, v.expires_ms);
            return false;
        }
        /* the ops listener never runs probe detection; exempt addresses are never banned */
        if (!ctx->exempt &&
            net_abuse_is_probe(httpd_req_method_name(req), target, strlen(target), auth_hdrs)) {
            net__fail(n, req, ctx, WIRE_FORBIDDEN, "forbidden", NULL);
            return false;
        }
    }
    ctx->route = find_route(path, listener, httpd_req_method(req));
    if (ctx->route == NULL) {
        net__fail(n, req, ctx, WIRE_UNKNOWN_ROUTE, "no such route", NULL);
        return false;
    }
    ctx->route_id = (unsigned)(ctx->route - net__routes) + 1;
    httpd_req_set_route(req, ctx->route_id);
    if (!(ctx->route->methods & (1u << httpd_req_method(req)))) {
        char allow[64];
        allow_of(path, listener, allow, sizeof(allow));
        net__header(req, "Allow", allow);
        net__fail(n, req, ctx, WIRE_METHOD_NOT_ALLOWED, "method not allowed on this route", NULL);
        return false;
    }
    if (ctx->route->limited) {
        if (net_abuse_check_ip(n->abuse, &ctx->ip, (unsigned)listener, now, mono, &v) !=
            TALLY_OK) {
            net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "abuse check failed", NULL);
            return false;
        }
        if (refused(n, req, ctx, &v, true)) {
            return false;
        }
    }
    return true;
}

/* Stages 6–7 of a signed request: headers, binding, hotkey state, key window, clock. */
static bool stage_signed(net_node *n, httpd_req *req, net__ctx *ctx)
{
    wire_auth_headers h;
    wire_err err;
    net_abuse_verdict v;
    ledger_view_info vi;
    uint64_t now = net__now_ms(n), skew;

    h.key.count = (unsigned)httpd_req_header(req, "Tally-Key", &h.key.value);
    h.time.count = (unsigned)httpd_req_header(req, "Tally-Time", &h.time.value);
    h.nonce.count = (unsigned)httpd_req_header(req, "Tally-Nonce", &h.nonce.value);
    h.sig.count = (unsigned)httpd_req_header(req, "Tally-Signature", &h.sig.value);
    if (wire_auth_parse(&h, &ctx->auth, &err) != TALLY_OK) {
        net__fail(n, req, ctx, err,
                  err == WIRE_AUTH_MISSING ? "a Tally-Key, Tally-Time, Tally-Nonce or "
                                             "Tally-Signature header is missing"
                                           : "a Tally-* header is malformed or repeated",
                  NULL);
        return false;
    }
    ctx->signed_req = true;
    if (ledger_view_sync(n->view) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "the node's view of the log failed", NULL);
        return false;
    }
    ledger_view_info_get(n->view, &vi);
    if (!vi.has_metagraph) {
        net__fail(n, req, ctx, WIRE_METAGRAPH_UNAVAILABLE, "no complete METAGRAPH yet", NULL);
        return false;
    }
    if (!ledger_view_binding(n->view, ctx->auth.key, &ctx->bind)) {
        json_t *d = json_pack("{s:I, s:I}", "metagraph_block", (json_int_t)vi.metagraph_block,
                              "metagraph_age_s",
                              (json_int_t)(now > vi.metagraph_time_ms
                                               ? (now - vi.metagraph_time_ms) / 1000
                                               : 0));
        net__fail(n, req, ctx, WIRE_KEY_NOT_REGISTERED,
                  "the key is not bound to a hotkey in the effective METAGRAPH", d);
        json_decref(d);
        return false;
    }
    if (net_abuse_check_key(n->abuse, ctx->auth.key, ctx->bind.hotkey, now, net__mono_ms(n), &v,
                            &ctx->resv) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "abuse check failed", NULL);
        return false;
    }
    /* the key scope's limits are the ones a signed request's headers show */
    if (refused(n, req, ctx, &v, false)) {
        return false;
    }
    skew = ops_config_u64(n->conf, OPS_K_AUTH_MAX_SKEW_S) * 1000u;
    if (ctx->auth.time_ms + skew < now || ctx->auth.time_ms > now + skew) {
        json_t *d = json_pack("{s:I}", "server_time_ms", (json_int_t)now);
        net_abuse_key_release(n->abuse, &ctx->resv);
        net__fail(n, req, ctx, WIRE_TIMESTAMP_SKEW, "Tally-Time is outside the allowed skew", d);
        json_decref(d);
        return false;
    }
    return true;
}

/* Stages 6–7 of a token route: the token and eligibility (auth.c), then the hotkey's ban and
 * cooldown and the key window, as for a signed request (the per-key window applies to the
 * token's key, §7.1). */
static bool stage_token_key(net_node *n, httpd_req *req, net__ctx *ctx)
{
    net_abuse_verdict v;

    if (!net__stage_token(n, req, ctx)) {
        return false;
    }
    if (net_abuse_check_key(n->abuse, ctx->auth.key, ctx->bind.hotkey, net__now_ms(n),
                            net__mono_ms(n), &v, &ctx->resv) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "abuse check failed", NULL);
        return false;
    }
    return !refused(n, req, ctx, &v, false);
}

static bool stage_admin(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *v = NULL;
    static const char bearer[] = "Bearer ";

    if (httpd_req_header(req, "Authorization", &v) != 1 || v == NULL ||
        strncmp(v, bearer, sizeof(bearer) - 1) != 0 || strlen(v + sizeof(bearer) - 1) != 64 ||
        sodium_memcmp(v + sizeof(bearer) - 1, n->admin_token, 64) != 0) {
        net__fail(n, req, ctx, WIRE_ADMIN_UNAUTHORIZED, "the admin token is missing or wrong",
                  NULL);
        return false;
    }
    return true;
}

void net__head(void *arg, httpd_req *req)
{
    net_node *n = arg;
    size_t listener = httpd_req_listener(req);
    net__ctx *ctx = httpd_req_alloc(req, sizeof(*ctx));
    net_ip peer;
    tally_str xff[16];
    size_t nx = 0;
    const char *p = httpd_req_peer(req), *x;

    if (ctx == NULL) {
        httpd_req_error(req, 500, "internal_error", "out of memory", NULL);
        return;
    }
    memset(ctx, 0, sizeof(*ctx));
    ctx->error = "";
    httpd_req_set_data(req, ctx);
    if (net_ip_parse(p, strlen(p), &peer) != TALLY_OK) {
        memset(&peer, 0, sizeof(peer));
        peer.family = NET_IP_V4;
    }
    while (nx < 16 && (x = httpd_req_header_nth(req, "X-Forwarded-For", nx)) != NULL) {
        xff[nx++] = (tally_str){x, strlen(x)};
    }
    net_client_ip(&peer, xff, nx, net_abuse_trusted(n->abuse), &ctx->ip);
    ctx->exempt = net_abuse_exempt(n->abuse, &ctx->ip);
    if (!stage_ip(n, req, ctx, listener)) {
        return;
    }
    /* while draining, only the health routes answer as usual (/health/ready says 503 itself) */
    if (atomic_load(&n->draining) && ctx->route->handle != net__h_health) {
        net__fail(n, req, ctx, WIRE_SHUTTING_DOWN, "the node is shutting down", NULL);
        return;
    }
    if (ctx->route->auth == NET_AUTH_SIGNED && !stage_signed(n, req, ctx)) {
        return;
    }
    if (ctx->route->auth == NET_AUTH_ADMIN && !stage_admin(n, req, ctx)) {
        return;
    }
    if (ctx->route->auth == NET_AUTH_TOKEN && !stage_token_key(n, req, ctx)) {
        return;
    }
    /* stage 8: what the body must be; its size is checked by the engine against this limit */
    if (httpd_req_method(req) == HTTPD_METHOD_POST && ctx->route->media != NULL &&
        !httpd_req_content_type_is(req, ctx->route->media)) {
        if (ctx->route->auth == NET_AUTH_SIGNED || ctx->route->auth == NET_AUTH_TOKEN) {
            net_abuse_key_release(n->abuse, &ctx->resv);
        }
        net__fail(n, req, ctx, WIRE_UNSUPPORTED_MEDIA_TYPE,
                  ctx->route->media == NULL ? "this route takes no body"
                                            : "wrong Content-Type for this route",
                  NULL);
        return;
    }
    httpd_req_set_body_limit(req, ctx->route->max_body);
}

void net__wire_request(const net_node *n, httpd_req *req, const net__ctx *ctx, wire_request *out)
{
    const char *m = httpd_req_method_name(req), *t = httpd_req_target(req);
    tally_bytes body = httpd_req_body(req);

    *out = (wire_request){.origin = {n->origin, strlen(n->origin)},
                          .method = {m, strlen(m)},
                          .target = {t, strlen(t)},
                          .time_ms = ctx->auth.time_ms,
                          .nonce = ctx->auth.nonce,
                          .body = body.p,
                          .body_len = body.n};
}

bool net__writable(net_node *n, httpd_req *req, net__ctx *ctx)
{
    if (atomic_load(&n->latched) == 0) {
        return true;
    }
    net__fail(n, req, ctx, WIRE_NOT_READY, "writes are latched off after a store fault", NULL);
    return false;
}

void net__handle(void *arg, httpd_req *req)
{
    net_node *n = arg;
    net__ctx *ctx = httpd_req_data(req);

    if (ctx == NULL || ctx->route == NULL) {
        httpd_req_error(req, 500, "internal_error", "request without context", NULL);
        return;
    }
    if (ctx->route->auth == NET_AUTH_SIGNED) {
        wire_request rq;
        net__wire_request(n, req, ctx, &rq);
        bool ok = wire_request_verify(&rq, ctx->auth.key, ctx->auth.sig) == TALLY_OK;
        const char *labels[2] = {"request", ok ? "ok" : "bad"};
        ops_metric_add(n->metrics, OPS_M_SIG_VERIFICATIONS, labels, 1);
        if (!ok) {
            net_abuse_key_release(n->abuse, &ctx->resv);
            net__fail(n, req, ctx, WIRE_BAD_SIGNATURE, "the request signature does not verify",
                      NULL);
            return;
        }
        net_abuse_key_commit(n->abuse, &ctx->resv);
        ctx->verified = true;
    }
    if (ctx->route->auth == NET_AUTH_TOKEN) {
        net_abuse_key_commit(n->abuse, &ctx->resv); /* the token was the verification */
    }
    ctx->route->handle(n, req, ctx);
}

void net__on_reply(void *arg, httpd_req *req, unsigned status, size_t bytes)
{
    net_node *n = arg;
    net__ctx *ctx = httpd_req_data(req);
    size_t listener = httpd_req_listener(req);
    const char *route = ctx != NULL && ctx->route != NULL ? ctx->route->name : "unknown";
    const char *lname = listener < NET_LISTEN_COUNT ? listener_names[listener] : "?";
    char st[8], ip[NET_IDENT_STR_MAX] = "", hex[65] = "";
    double secs = (double)httpd_req_elapsed_ns(req) / 1e9;
    const char *l4[4] = {lname, route, httpd_req_method_name(req), st};
    const char *l2[2] = {lname, route};
    bool ok = status < 400;

    snprintf(st, sizeof(st), "%u", status);
    ops_metric_add(n->metrics, OPS_M_HTTP_REQUESTS, l4, 1);
    ops_metric_observe(n->metrics, OPS_M_HTTP_DURATION, l2, secs);
    if (!ok && ctx != NULL && ctx->error != NULL && ctx->error[0] != '\0') {
        const char *le[2] = {lname, ctx->error};
        ops_metric_add(n->metrics, OPS_M_HTTP_ERRORS, le, 1);
    }
    /* successful requests at debug level when TALLY_LOG_ACCESS=0 */
    ops_level level = ok && !ops_config_bool(n->conf, OPS_K_LOG_ACCESS) ? OPS_DEBUG : OPS_INFO;
    if (!ops_log_enabled(n->log, level)) {
        return;
    }
    char hotkey[49] = "";
    if (ctx != NULL) {
        net_ident id;
        net_ident_ip(&ctx->ip, &id);
        net_ident_format(&id, ip); /* "ip:203.0.113.9": the log field is the address itself */
        memmove(ip, ip + 3, strlen(ip + 3) + 1);
        if (ctx->signed_req || ctx->token_req) {
            schema_hex(ctx->auth.key, 32, hex);
        }
        if (ctx->verified) {
            schema_ss58_encode(ctx->bind.hotkey, hotkey);
        }
    }
    OPS_LOG(n->log, level, "net", "http_request", OPS_FS("request_id", httpd_req_id(req)),
            OPS_FS("listener", lname), OPS_FS("ip", ip[0] ? ip : httpd_req_peer(req)),
            OPS_FS("method", httpd_req_method_name(req)), OPS_FS("route", route),
            OPS_FU("status", status), OPS_FS("error", ctx && ctx->error[0] ? ctx->error : NULL),
            OPS_FU("bytes_in", httpd_req_body(req).n), OPS_FU("bytes_out", bytes),
            OPS_FU("duration_ms", httpd_req_elapsed_ns(req) / 1000000u),
            OPS_FS("key", hex[0] ? hex : NULL), OPS_FS("hotkey", hotkey[0] ? hotkey : NULL),
            OPS_FU("uid", ctx && ctx->verified ? ctx->bind.uid : 0),
            OPS_FU("nonce", ctx && ctx->signed_req ? ctx->auth.nonce : 0));
}

/* Talking to the primary's ledger listener: one keep-alive connection, the bearer token of
 * §6.1 (challenge, the login message signed with the auditor's key, token), and a fresh login
 * when the node answers token_invalid (tokens live in the node's memory only). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditor/audit_int.h"
#include "wire/wire.h"

json_t *audit__json(const client_response *r)
{
    tally_bytes b = client_response_body(r);
    json_t *o = json_loadb((const char *)b.p, b.n, 0, NULL);

    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static const char *error_code(const client_response *r, char *buf, size_t cap)
{
    json_t *o = audit__json(r);
    const char *e = o ? json_string_value(json_object_get(o, "error")) : NULL;

    snprintf(buf, cap, "%s", e ? e : "");
    json_decref(o);
    return buf;
}

tally_status audit__client_do(client_conn *c, const client_request *rq, client_response **out,
                              ops_log *log)
{
    tally_status st = client_do(c, rq, out);

    /* the node's rate limits (§7.1): wait as it asks (Retry-After, 1..10 s), then ask again; a
     * catch-up is many requests, and a polite auditor is not a failed one */
    for (int limited = 0;
         st == TALLY_OK && limited < AUDIT_RATE_RETRIES && client_response_status(*out) == 429;
         limited++) {
        const char *ra = NULL;
        unsigned long wait_s = 1;
        if (client_response_header(*out, "Retry-After", &ra) > 0 && ra != NULL) {
            wait_s = strtoul(ra, NULL, 10);
        }
        wait_s = wait_s < 1 ? 1 : wait_s > 10 ? 10 : wait_s;
        if (log != NULL) {
            OPS_LOG(log, OPS_WARN, "auditor", "rate_limited", OPS_FS("target", rq->target),
                    OPS_FU("retry_after_s", wait_s));
        }
        client_response_free(*out);
        *out = NULL;
        struct timespec ts = {(time_t)wait_s, 0};
        nanosleep(&ts, NULL);
        st = client_do(c, rq, out);
    }
    return st;
}

static tally_status send_req(audit *a, const client_request *rq, client_response **out, char *what)
{
    tally_status st = audit__client_do(a->conn, rq, out, a->olog);

    if (st != TALLY_OK) {
        return audit__say(what, TALLY_EIO, "%s %s: %s (%s)", rq->method, rq->target,
                          client_error(a->conn), tally_status_str(st));
    }
    return TALLY_OK;
}

/* POST a JSON object to target; the response's JSON object (new reference) on 200. */
static tally_status post_json(audit *a, const char *target, json_t *body, json_t **out, char *what)
{
    char *text = json_dumps(body, JSON_COMPACT);
    client_request rq = {.method = "POST", .target = target, .content_type = "application/json"};
    client_response *resp = NULL;
    tally_status st;
    char code[64];

    *out = NULL;
    if (text == NULL) {
        return TALLY_ENOMEM;
    }
    rq.body = text, rq.body_n = strlen(text);
    st = send_req(a, &rq, &resp, what);
    free(text);
    if (st != TALLY_OK) {
        return st;
    }
    if (client_response_status(resp) != 200) {
        st = audit__say(what, client_response_status(resp) == 403 ? TALLY_EAUTH : TALLY_EIO,
                        "POST %s: HTTP %u %s", target, client_response_status(resp),
                        error_code(resp, code, sizeof(code)));
        client_response_free(resp);
        return st;
    }
    *out = audit__json(resp);
    client_response_free(resp);
    return *out ? TALLY_OK : audit__say(what, TALLY_EIO, "POST %s: the answer is not JSON", target);
}

tally_status audit__login(audit *a, char *what)
{
    char key[65], ch_hex[65], sig_hex[129];
    uint8_t challenge[32], sig[64];
    json_t *req, *resp = NULL;
    const char *ch, *tok;
    tally_status st;

    a->token[0] = '\0';
    schema_hex(a->pk, 32, key);
    req = json_pack("{ss}", "key", key);
    st = req ? post_json(a, "/v1/auth/challenge", req, &resp, what) : TALLY_ENOMEM;
    json_decref(req);
    if (st != TALLY_OK) {
        return st;
    }
    ch = json_string_value(json_object_get(resp, "challenge"));
    if (ch == NULL || schema_unhex(ch, strlen(ch), challenge, 32) != TALLY_OK) {
        json_decref(resp);
        return audit__say(what, TALLY_EIO, "the challenge answer has no challenge");
    }
    json_decref(resp);
    /* the same message the node checks with (wire/) */
    st = wire_login_sign((tally_str){a->origin, strlen(a->origin)}, challenge, a->pk, a->sk, sig);
    if (st != TALLY_OK) {
        return st;
    }
    schema_hex(sig, 64, sig_hex);
    schema_hex(challenge, 32, ch_hex);
    req = json_pack("{ss ss ss}", "key", key, "challenge", ch_hex, "sig", sig_hex);
    st = req ? post_json(a, "/v1/auth/token", req, &resp, what) : TALLY_ENOMEM;
    json_decref(req);
    if (st != TALLY_OK) {
        return st;
    }
    tok = json_string_value(json_object_get(resp, "token"));
    if (tok == NULL || strlen(tok) != 64) {
        json_decref(resp);
        return audit__say(what, TALLY_EIO, "the token answer has no token");
    }
    snprintf(a->token, sizeof(a->token), "%s", tok);
    a->token_expires_ms = (uint64_t)json_integer_value(json_object_get(resp, "expires_ms"));
    json_decref(resp);
    OPS_LOG(a->olog, OPS_INFO, "auditor", "login", OPS_FS("primary", a->cfg.primary_url));
    return TALLY_OK;
}

static tally_status do_req(audit *a, client_request *rq, bool bearer, client_response **out,
                           char *what)
{
    char auth[80], code[64];
    client_header hs[2];
    size_t nh = rq->n_headers;
    tally_status st;

    *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (bearer && a->token[0] == '\0') {
            st = audit__login(a, what);
            if (st != TALLY_OK) {
                return st;
            }
        }
        memcpy(hs, rq->headers, nh * sizeof(*hs));
        if (bearer) {
            snprintf(auth, sizeof(auth), "Bearer %s", a->token);
            hs[nh] = (client_header){"Authorization", auth};
        }
        client_request r2 = *rq;
        r2.headers = hs, r2.n_headers = nh + (bearer ? 1 : 0);
        st = send_req(a, &r2, out, what);
        if (st != TALLY_OK) {
            return st;
        }
        if (bearer && client_response_status(*out) == 401 &&
            strcmp(error_code(*out, code, sizeof(code)), "token_invalid") == 0 && attempt == 0) {
            client_response_free(*out);
            *out = NULL;
            a->token[0] = '\0'; /* the node restarted or evicted it: log in again */
            continue;
        }
        return TALLY_OK;
    }
    return TALLY_OK;
}

tally_status audit__get(audit *a, const char *target, bool bearer, bool msgpack,
                        client_response **out, char *what)
{
    client_header h = {"Accept", msgpack ? "application/msgpack" : "application/json"};
    client_request rq = {
        .method = "GET", .target = target, .headers = &h, .n_headers = 1, .accept_zstd = true};

    return do_req(a, &rq, bearer, out, what);
}

tally_status audit__post(audit *a, const char *target, const char *ctype, const void *body,
                         size_t n, client_response **out, char *what)
{
    client_header h = {"Accept", "application/json"};
    client_request rq = {.method = "POST",
                         .target = target,
                         .headers = &h,
                         .n_headers = 1,
                         .body = body,
                         .body_n = n,
                         .content_type = ctype};

    return do_req(a, &rq, true, out, what);
}

/* The request head parser (request line, header fields, framing headers) and the zstd body
 * decoder; untrusted bytes in, a filled httpd_req or a §8 rejection out. Runs on the
 * connection's loop thread. */
#include "httpd/httpd_int.h"

#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <zstd_errors.h>

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static const char *const method_names[] = {"GET",    "HEAD",    "POST", "PUT",
                                           "DELETE", "OPTIONS", "PATCH"};

/* Returns NULL or the reason the request line is rejected. */
static const char *parse_line(http_conn *c, char *line)
{
    httpd_req *req = c->req;
    const httpd_cfg *cfg = &c->w->srv->cfg;
    char *sp1 = strchr(line, ' '), *sp2, *q;
    size_t i, tlen;

    if (sp1 == NULL || sp1 == line) {
        return "malformed request line";
    }
    *sp1 = '\0';
    for (i = 0; line[i] != '\0'; i++) {
        if (!is_tchar((unsigned char)line[i])) {
            return "malformed method";
        }
    }
    req->method_name = line;
    req->method = HTTPD_METHOD_OTHER;
    for (i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
        if (strcmp(line, method_names[i]) == 0) {
            req->method = (httpd_method)i;
        }
    }
    sp2 = strchr(sp1 + 1, ' ');
    if (sp2 == NULL) {
        return "malformed request line";
    }
    *sp2 = '\0';
    req->target = sp1 + 1;
    tlen = strlen(req->target);
    if (tlen > cfg->max_target) {
        return "request-target too long";
    }
    if (req->target[0] != '/') {
        return "request-target must be origin-form";
    }
    for (i = 0; i < tlen; i++) {
        unsigned char ch = (unsigned char)req->target[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            return "invalid byte in request-target";
        }
    }
    if (strcmp(sp2 + 1, "HTTP/1.1") == 0) {
        req->http10 = false;
    } else if (strcmp(sp2 + 1, "HTTP/1.0") == 0) {
        req->http10 = true;
    } else {
        return "unsupported HTTP version";
    }
    /* path and query: a second copy, so the raw target stays intact for signatures */
    q = httpd_req_alloc(req, tlen + 1);
    if (q == NULL) {
        return "request too large";
    }
    memcpy(q, req->target, tlen + 1);
    req->path = q;
    q = strchr(q, '?');
    if (q != NULL) {
        *q = '\0';
        req->query = q + 1;
    }
    return NULL;
}

static const char *parse_field(http_conn *c, char *line)
{
    httpd_req *req = c->req;
    char *colon, *v, *end;
    size_t i;

    if (line[0] == ' ' || line[0] == '\t') {
        return "obsolete header line folding";
    }
    colon = strchr(line, ':');
    if (colon == NULL || colon == line) {
        return "malformed header field";
    }
    *colon = '\0';
    for (i = 0; line[i] != '\0'; i++) {
        if (!is_tchar((unsigned char)line[i])) {
            return "malformed header name";
        }
    }
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++) {
    }
    for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--) {
    }
    *end = '\0';
    for (i = 0; v[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)v[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            return "invalid byte in header value";
        }
    }
    if (req->n_fields >= HTTPD_HEADERS_MAX) {
        return "too many header fields";
    }
    req->fields[req->n_fields].name = line;
    req->fields[req->n_fields].value = v;
    req->n_fields++;
    return NULL;
}

/* Reads head lines. Returns 1 when the blank line ending the head has been read, 0 when more
 * input is needed, -1 after replying with an error. */
int httpd__read_head(http_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    const httpd_cfg *cfg = &c->w->srv->cfg;
    size_t eol_len = 0, len, avail;
    struct evbuffer_ptr p;
    const char *why;
    char *line;

    for (;;) {
        avail = evbuffer_get_length(in);
        evbuffer_ptr_set(in, &p, c->scanned, EVBUFFER_PTR_SET);
        p = evbuffer_search_eol(in, &p, &eol_len, EVBUFFER_EOL_CRLF);
        if (p.pos < 0) {
            /* Back off one byte: a CR at the end may be the first half of a CRLF. */
            c->scanned = avail > 0 ? avail - 1u : 0;
            /* No line end yet: reject as soon as the partial line cannot fit. */
            if (!c->line_done && avail > cfg->max_target + 32u) {
                httpd__conn_fail(c, 400, "bad_request", "request-target too long");
                return -1;
            }
            if (avail > cfg->max_header_bytes - c->head_n) {
                httpd__conn_fail(c, 400, "bad_request", "header block too large");
                return -1;
            }
            return 0;
        }
        len = (size_t)p.pos;
        c->scanned = 0;
        if (len + eol_len > cfg->max_header_bytes - c->head_n) {
            httpd__conn_fail(c, 400, "bad_request",
                             c->line_done ? "header block too large" : "request-target too long");
            return -1;
        }
        c->head_n += len + eol_len;
        line = c->head + c->head_used;
        c->head_used += len + 1;
        evbuffer_remove(in, line, len);
        evbuffer_drain(in, eol_len);
        line[len] = '\0';
        if (memchr(line, '\0', len) != NULL) {
            httpd__conn_fail(c, 400, "bad_request", "NUL byte in request head");
            return -1;
        }
        if (!c->line_done) {
            if (len == 0) {
                continue; /* RFC 9112 §2.2: empty lines before the request line are ignored */
            }
            why = parse_line(c, line);
            c->line_done = true;
        } else if (len == 0) {
            return 1;
        } else {
            why = parse_field(c, line);
        }
        if (why != NULL) {
            httpd__conn_fail(c, 400, "bad_request", why);
            return -1;
        }
    }
}

static bool has_token(const char *list, const char *token)
{
    size_t n = strlen(token);
    const char *p = list;

    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (strncasecmp(p, token, n) == 0 &&
            (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t')) {
            return true;
        }
        p = strchr(p, ',');
    }
    return false;
}

/* Checks the framing headers. Returns NULL or the rejection already sent. */
bool httpd__check_framing(http_conn *c)
{
    httpd_req *req = c->req;
    const char *v;
    size_t n, i;
    uint64_t cl = 0;

    /* RFC 9112 §3.2: HTTP/1.1 needs exactly one Host; a repeated one is ambiguous in any case. */
    n = httpd_req_header(req, "Host", NULL);
    if (n > 1 || (n == 0 && !req->http10)) {
        httpd__conn_fail(c, 400, "bad_request", "exactly one Host header is required");
        return false;
    }
    n = httpd_req_header(req, "Connection", &v);
    req->keep_alive = !req->http10;
    for (i = 0; i < n; i++) {
        v = httpd_req_header_nth(req, "Connection", i);
        if (has_token(v, "close")) {
            req->keep_alive = false;
        } else if (req->http10 && has_token(v, "keep-alive")) {
            req->keep_alive = true;
        }
    }
    if (atomic_load(&c->w->srv->stopping)) {
        req->keep_alive = false;
    }
    req->accept_zstd = httpd_req_header(req, "Accept-Encoding", &v) >= 1 && httpd__accepts_zstd(v);
    if (httpd_req_header(req, "Transfer-Encoding", NULL) > 0) {
        /* Only Content-Length framing is accepted, which also rules out TE/CL smuggling. */
        httpd__conn_fail(c, 400, "bad_request",
                         "Transfer-Encoding is not accepted; send Content-Length");
        return false;
    }
    n = httpd_req_header(req, "Content-Length", &v);
    if (n > 1) {
        httpd__conn_fail(c, 400, "bad_request", "repeated Content-Length");
        return false;
    }
    if (n == 1) {
        if (v[0] == '\0' || strlen(v) > 15) {
            httpd__conn_fail(c, 400, "bad_request", "malformed Content-Length");
            return false;
        }
        for (i = 0; v[i] != '\0'; i++) {
            if (v[i] < '0' || v[i] > '9') {
                httpd__conn_fail(c, 400, "bad_request", "malformed Content-Length");
                return false;
            }
            cl = cl * 10u + (uint64_t)(v[i] - '0');
        }
    }
    req->content_length = (size_t)cl;
    n = httpd_req_header(req, "Content-Encoding", &v);
    if (n > 1 || (n == 1 && strcasecmp(v, "identity") != 0 && strcasecmp(v, "zstd") != 0)) {
        httpd__conn_fail(c, 415, "unsupported_media_type",
                         "Content-Encoding must be identity or zstd");
        return false;
    }
    req->zstd_in = n == 1 && strcasecmp(v, "zstd") == 0;
    if (httpd_req_header(req, "Expect", &v) >= 1 && strcasecmp(v, "100-continue") == 0) {
        req->expect_continue = true;
    }
    return true;
}

/* Decodes a zstd body into req->body, growing the output up to the limit. Returns NULL or the
 * rejection (status in *status_out). */
const char *httpd__decode_zstd(http_conn *c, unsigned *status_out)
{
    httpd_req *req = c->req;
    size_t limit = req->body_limit, cap, r = 1;
    ZSTD_inBuffer in = {c->raw, req->content_length, 0};
    ZSTD_outBuffer out;
    uint8_t *buf, *grown;

    *status_out = 413;
    if (ZSTD_isError(ZSTD_DCtx_reset(c->w->dctx, ZSTD_reset_session_and_parameters)) ||
        ZSTD_isError(
            ZSTD_DCtx_setParameter(c->w->dctx, ZSTD_d_windowLogMax, HTTPD_ZSTD_WINDOW_LOG_MAX))) {
        *status_out = 500;
        return "zstd decoder setup failed";
    }
    cap = req->content_length * 4u < 65536u ? 65536u : req->content_length * 4u;
    if (cap > limit + 1u) {
        cap = limit + 1u; /* one byte past the limit proves the body too large */
    }
    buf = malloc(cap);
    if (buf == NULL) {
        *status_out = 503;
        return "no memory for the request body";
    }
    out = (ZSTD_outBuffer){buf, cap, 0};
    while (in.pos < in.size || (r != 0 && out.pos == out.size)) {
        if (out.pos == out.size) {
            if (cap > limit) {
                free(buf);
                return "decoded body exceeds the limit for this route";
            }
            cap = cap * 2u > limit + 1u ? limit + 1u : cap * 2u;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                free(buf);
                *status_out = 503;
                return "no memory for the request body";
            }
            buf = grown;
            out.dst = buf, out.size = cap;
        }
        r = ZSTD_decompressStream(c->w->dctx, &out, &in);
        if (ZSTD_isError(r)) {
            free(buf);
            if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge) {
                return "zstd window above 8 MiB";
            }
            *status_out = 400;
            return "malformed zstd body";
        }
    }
    if (out.pos > limit) {
        free(buf);
        return "decoded body exceeds the limit for this route";
    }
    if (r != 0) {
        free(buf);
        *status_out = 400;
        return "truncated zstd body";
    }
    req->body = buf;
    req->body_n = out.pos;
    return NULL;
}

/* The request object handlers see: accessors, the per-request arena, and the response bytes
 * (status line, headers, optional zstd body). Nothing here touches libevent, so the reply
 * functions may run on any thread; httpd__req_done() (http.c) carries the result to the loop. */
#include "httpd/httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/random.h>

#include <zstd.h>

#define ARENA_CHUNK_MIN 4096u
#define JSON_TYPE "application/json; charset=utf-8"

/* A last-resort answer when building a response fails (ENOMEM); static, never freed. */
static const char fallback_500[] =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json; charset=utf-8\r\n"
    "Content-Length: 91\r\nConnection: close\r\n\r\n"
    "{\"success\": false, \"error\": \"internal_error\", \"message\": \"out of memory\", "
    "\"request_id\": \"\"}";

httpd_req *httpd__req_new(http_conn *conn, size_t listener, size_t arena_cap)
{
    httpd_req *req = calloc(1, sizeof(*req));

    if (req == NULL) {
        return NULL;
    }
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    req->start_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    req->conn = conn;
    req->listener = listener;
    req->arena_cap = arena_cap;
    req->target = req->path = req->query = req->method_name = "";
    return req;
}

void httpd__req_free(httpd_req *req)
{
    arena_chunk *c, *next;

    if (req == NULL) {
        return;
    }
    for (c = req->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(req->body);
    if (req->out != (uint8_t *)fallback_500) {
        free(req->out);
    }
    if (req->body_done != NULL) {
        req->body_done(req->body_ref, req->body_ref_n, req->body_done_arg);
    }
    free(req);
}

void *httpd_req_alloc(httpd_req *req, size_t n)
{
    const size_t align = sizeof(max_align_t);
    arena_chunk *c = req->chunks;
    size_t need, cap;
    void *p;

    if (n > req->arena_cap || n == 0) {
        return NULL;
    }
    need = (n + align - 1) / align * align;
    if (c == NULL || c->cap - c->used < need) {
        cap = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
        if (cap > req->arena_cap - req->arena_used) {
            cap = need;
        }
        /* The cap counts chunk capacity, so a request can never hold more than arena_cap. */
        if (cap > req->arena_cap - req->arena_used) {
            return NULL;
        }
        c = malloc(sizeof(*c) + cap);
        if (c == NULL) {
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = req->chunks;
        req->chunks = c;
        req->arena_used += cap;
    }
    p = (uint8_t *)c->data + c->used;
    c->used += need;
    return p;
}

static char *arena_strdup(httpd_req *req, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = httpd_req_alloc(req, n);

    if (p != NULL) {
        memcpy(p, s, n);
    }
    return p;
}

size_t httpd_req_listener(const httpd_req *req)
{
    return req->listener;
}

httpd_method httpd_req_method(const httpd_req *req)
{
    return req->method;
}

const char *httpd_req_method_name(const httpd_req *req)
{
    return req->method_name;
}

const char *httpd_req_target(const httpd_req *req)
{
    return req->target;
}

const char *httpd_req_path(const httpd_req *req)
{
    return req->path;
}

const char *httpd_req_query(const httpd_req *req)
{
    return req->query;
}

size_t httpd_req_header(const httpd_req *req, const char *name, const char **value_out)
{
    size_t i, count = 0;

    if (value_out != NULL) {
        *value_out = NULL;
    }
    for (i = 0; i < req->n_fields; i++) {
        if (strcasecmp(req->fields[i].name, name) == 0) {
            if (count == 0 && value_out != NULL) {
                *value_out = req->fields[i].value;
            }
            count++;
        }
    }
    return count;
}

const char *httpd_req_header_nth(const httpd_req *req, const char *name, size_t idx)
{
    size_t i;

    for (i = 0; i < req->n_fields; i++) {
        if (strcasecmp(req->fields[i].name, name) == 0) {
            if (idx == 0) {
                return req->fields[i].value;
            }
            idx--;
        }
    }
    return NULL;
}

const char *httpd_req_peer(const httpd_req *req)
{
    return req->peer;
}

const struct sockaddr *httpd_req_peer_addr(const httpd_req *req, socklen_t *len_out)
{
    if (len_out != NULL) {
        *len_out = req->peer_len;
    }
    return (const struct sockaddr *)&req->peer_ss;
}

tally_bytes httpd_req_body(const httpd_req *req)
{
    tally_bytes b = {req->body, req->body_n};

    if (req->body == NULL) {
        b.n = 0;
    }
    return b;
}

const char *httpd_req_id(const httpd_req *req)
{
    return req->id;
}

unsigned httpd_req_route(const httpd_req *req)
{
    return req->route;
}

void httpd_req_set_route(httpd_req *req, unsigned route)
{
    TALLY_ASSERT(route < HTTPD_ROUTES_MAX);
    req->route = route;
}

void httpd_req_set_body_limit(httpd_req *req, size_t limit)
{
    if (limit < req->body_limit) {
        req->body_limit = limit;
    }
}

static bool id_valid(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok || n >= HTTPD_REQUEST_ID_MAX) {
            return false;
        }
    }
    return n > 0;
}

void httpd__req_pick_id(httpd_req *req)
{
    static const char hex[] = "0123456789abcdef";
    const char *v;
    uint8_t rnd[8];
    size_t i;

    /* A repeated X-Request-Id is ambiguous, so it is replaced like an invalid one. */
    if (httpd_req_header(req, "X-Request-Id", &v) == 1 && id_valid(v)) {
        memcpy(req->id, v, strlen(v) + 1);
        return;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        /* getrandom on Linux ≥ 3.17 does not fail for 8 bytes once the pool is ready; the
         * address is a weak but unique-enough fallback for a correlation id. */
        uintptr_t a = (uintptr_t)req;
        for (i = 0; i < sizeof(rnd); i++) {
            rnd[i] = (uint8_t)(a >> (8 * (i % sizeof(a))));
        }
    }
    for (i = 0; i < sizeof(rnd); i++) {
        req->id[2 * i] = hex[rnd[i] >> 4];
        req->id[2 * i + 1] = hex[rnd[i] & 15];
    }
    req->id[16] = '\0';
}

/* A qvalue ("0", "0.5", "1.000") in thousandths; parsed by hand because strtod follows the
 * locale's decimal point. Anything malformed counts as 0 (not acceptable): fail closed. */
static int parse_q(const char *s)
{
    int q = 0, scale = 100, i;

    if (s[0] == '1') {
        return 1000;
    }
    if (s[0] != '0') {
        return 0;
    }
    if (s[1] == '.') {
        for (i = 2; i < 5 && s[i] >= '0' && s[i] <= '9'; i++) {
            q += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    return q;
}

/* The q-value (0..1000) given to token in an Accept or Accept-Encoding list; wild is the token
 * that matches anything (star, or star-slash-star for media types), used when token itself is
 * absent. -1 when neither. */
static int list_q(const char *list, const char *token, const char *wild)
{
    int q_tok = -1, q_wild = -1;
    const char *p = list;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ','), *semi;
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p), tlen;
        int q = 1000;
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++, len--;
        }
        semi = memchr(p, ';', len);
        tlen = semi != NULL ? (size_t)(semi - p) : len;
        while (tlen > 0 && (p[tlen - 1] == ' ' || p[tlen - 1] == '\t')) {
            tlen--;
        }
        if (semi != NULL) {
            const char *qs = strstr(semi, "q=");
            if (qs != NULL && qs < p + len) {
                q = parse_q(qs + 2);
            }
        }
        if (tlen == strlen(token) && strncasecmp(p, token, tlen) == 0) {
            q_tok = q;
        } else if (wild != NULL && tlen == strlen(wild) && strncmp(p, wild, tlen) == 0) {
            q_wild = q;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return q_tok >= 0 ? q_tok : q_wild;
}

bool httpd__accepts_zstd(const char *accept_encoding)
{
    return accept_encoding != NULL && list_q(accept_encoding, "zstd", "*") > 0;
}

bool httpd_req_content_type_is(const httpd_req *req, const char *media_type)
{
    const char *v;
    size_t n = strlen(media_type);

    if (httpd_req_header(req, "Content-Type", &v) != 1 || strncasecmp(v, media_type, n) != 0) {
        return false;
    }
    return v[n] == '\0' || v[n] == ';' || v[n] == ' ' || v[n] == '\t';
}

bool httpd_req_prefers_msgpack(const httpd_req *req)
{
    const char *accept;
    int mp, js;

    if (httpd_req_header(req, "Accept", &accept) == 0) {
        return false;
    }
    mp = list_q(accept, "application/msgpack", NULL);
    js = list_q(accept, "application/json", "*/*");
    return mp > 0 && mp > js;
}

static bool header_reserved(const char *name)
{
    static const char *const reserved[] = {"Content-Length", "Content-Encoding",  "Connection",
                                           "X-Request-Id",   "Transfer-Encoding", "Vary"};
    size_t i;

    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strcasecmp(name, reserved[i]) == 0) {
            return true;
        }
    }
    return false;
}

tally_status httpd_req_header_add(httpd_req *req, const char *name, const char *value)
{
    http_out_header *h;

    TALLY_ASSERT(!req->replied);
    if (name[0] == '\0' || strpbrk(name, "\r\n: \t") != NULL || strpbrk(value, "\r\n") != NULL ||
        header_reserved(name)) {
        return TALLY_EINVAL;
    }
    h = httpd_req_alloc(req, sizeof(*h));
    if (h == NULL) {
        return TALLY_ELIMIT;
    }
    h->name = arena_strdup(req, name);
    h->value = arena_strdup(req, value);
    if (h->name == NULL || h->value == NULL) {
        return TALLY_ELIMIT;
    }
    h->next = req->out_headers;
    req->out_headers = h;
    return TALLY_OK;
}

void httpd_req_defer(httpd_req *req)
{
    TALLY_ASSERT(req->in_handler && !req->replied);
    req->deferred = true;
}

static const char *reason(unsigned status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* Compresses body into a malloc'd buffer; NULL when it would not help or on failure (then the
 * identity body is sent, which every client accepts). */
uint8_t *httpd_compress(const void *body, size_t n, int level, size_t *out_n)
{
    size_t cap = ZSTD_compressBound(n), r;
    uint8_t *z = malloc(cap);

    *out_n = 0;
    if (z == NULL) {
        return NULL;
    }
    r = ZSTD_compress(z, cap, body, n, level);
    if (ZSTD_isError(r) || r >= n) {
        free(z);
        return NULL;
    }
    *out_n = r;
    return z;
}

/* Appends printf output to the response being built; false when out of room (a bug: the room
 * is computed from the same strings). */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static void wb_str(wbuf *w, const char *s)
{
    size_t n = strlen(s);

    TALLY_ASSERT(n <= w->cap - w->n);
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

static size_t head_room(const httpd_req *req, const char *content_type)
{
    size_t room = 256 + strlen(content_type) + sizeof(req->id);
    const http_out_header *h;

    for (h = req->out_headers; h != NULL; h = h->next) {
        room += strlen(h->name) + strlen(h->value) + 4;
    }
    return room;
}

static bool build(httpd_req *req, unsigned status, const char *content_type, const void *body,
                  size_t n)
{
    uint8_t *z = NULL;
    size_t zn = 0, room;
    const http_out_header *h;
    char line[128];
    wbuf w;
    bool head = req->method == HTTPD_METHOD_HEAD;
    bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);

    bool framed = req->frame_zstd && !no_body;

    if (!framed && !req->no_compress && req->accept_zstd && n >= HTTPD_COMPRESS_MIN &&
        !no_body) {
        z = httpd_compress(body, n, req->zstd_level, &zn);
        if (z != NULL) {
            body = z, n = zn;
        }
    }
    room = head_room(req, content_type);
    if (n > SIZE_MAX - room) {
        free(z);
        return false;
    }
    bool by_ref = req->body_done != NULL && z == NULL;
    w.cap = room + (head || no_body || by_ref ? 0 : n);
    w.p = malloc(w.cap);
    w.n = 0;
    if (w.p == NULL) {
        free(z);
        return false;
    }
    snprintf(line, sizeof(line), "HTTP/1.1 %u %s\r\n", status, reason(status));
    wb_str(&w, line);
    if (!no_body) {
        wb_str(&w, "Content-Type: "), wb_str(&w, content_type), wb_str(&w, "\r\n");
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n", n);
        wb_str(&w, line);
        wb_str(&w, "Vary: Accept, Accept-Encoding\r\n");
        if (z != NULL || framed) {
            wb_str(&w, "Content-Encoding: zstd\r\n");
        }
    }
    wb_str(&w, "X-Request-Id: "), wb_str(&w, req->id), wb_str(&w, "\r\n");
    if (!req->keep_alive) {
        wb_str(&w, "Connection: close\r\n");
    } else if (req->http10) {
        wb_str(&w, "Connection: keep-alive\r\n");
    }
    for (h = req->out_headers; h != NULL; h = h->next) {
        wb_str(&w, h->name), wb_str(&w, ": "), wb_str(&w, h->value), wb_str(&w, "\r\n");
    }
    wb_str(&w, "\r\n");
    if (!head && !no_body && n > 0) {
        if (by_ref) {
            req->body_ref_send = true; /* conn_send adds it after the head */
        } else {
            memcpy(w.p + w.n, body, n);
            w.n += n;
        }
    }
    free(z);
    req->out = w.p;
    req->out_n = w.n;
    return true;
}

void httpd__req_finish(httpd_req *req, unsigned status, const char *content_type, const void *body,
                       size_t n)
{
    TALLY_ASSERT(!req->replied);
    if (status < 100 || status > 599) {
        status = 500;
    }
    req->replied = true;
    req->status = status;
    if (!build(req, status, content_type, body, n)) {
        req->status = 500;
        req->keep_alive = false;
        req->out = (uint8_t *)fallback_500;
        req->out_n = sizeof(fallback_500) - 1;
    }
    if (req->srv->cfg.on_reply != NULL) {
        req->srv->cfg.on_reply(req->srv->cfg.on_reply_arg, req, req->status, req->out_n);
    }
    httpd__req_done(req);
}

void httpd_req_set_data(httpd_req *req, void *data)
{
    req->data = data;
}

void *httpd_req_data(const httpd_req *req)
{
    return req->data;
}

uint64_t httpd_req_elapsed_ns(const httpd_req *req)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - req->start_ns;
}

void httpd_req_reply(httpd_req *req, unsigned status, const char *content_type, const void *body,
                     size_t n)
{
    httpd__req_finish(req, status, content_type != NULL ? content_type : "application/octet-stream",
                      body, n);
}

bool httpd_req_accepts_zstd(const httpd_req *req)
{
    return req->accept_zstd;
}

void httpd_req_reply_zstd_frame(httpd_req *req, unsigned status, const char *content_type,
                                const void *frame, size_t n)
{
    req->frame_zstd = true;
    httpd__req_finish(req, status, content_type, frame, n);
}

int httpd_req_zstd_level(const httpd_req *req)
{
    return req->zstd_level;
}

void httpd_req_reply_encoded(httpd_req *req, unsigned status, const char *content_type,
                           const void *body, size_t n, bool zstd)
{
    req->frame_zstd = zstd;
    req->no_compress = !zstd;
    httpd__req_finish(req, status, content_type, body, n);
}

void httpd_req_reply_encoded_ref(httpd_req *req, unsigned status, const char *content_type,
                               const void *body, size_t n, bool zstd, httpd_req_body_done_fn done,
                               void *arg)
{
    req->body_ref = body, req->body_ref_n = n;
    req->body_done = done, req->body_done_arg = arg;
    httpd_req_reply_encoded(req, status, content_type, body, n, zstd);
}

void httpd_req_reply_json_str(httpd_req *req, unsigned status, const char *json_text)
{
    httpd__req_finish(req, status, JSON_TYPE, json_text, strlen(json_text));
}

void httpd_req_reply_json(httpd_req *req, unsigned status, const json_t *json)
{
    char *text = json_dumps(json, JSON_COMPACT);

    if (text == NULL) {
        httpd_req_error(req, 500, "internal_error", "response could not be encoded", NULL);
        return;
    }
    httpd_req_reply_json_str(req, status, text);
    free(text);
}

void httpd_req_error(httpd_req *req, unsigned status, const char *code, const char *message,
                     const json_t *details)
{
    json_t *o = json_object();
    char *text = NULL;

    if (o != NULL && json_object_set_new(o, "success", json_false()) == 0 &&
        json_object_set_new(o, "error", json_string(code)) == 0 &&
        json_object_set_new(o, "message", json_string(message)) == 0 &&
        json_object_set_new(o, "request_id", json_string(req->id)) == 0 &&
        (details == NULL || json_object_set(o, "details", (json_t *)details) == 0)) {
        text = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
    if (text == NULL) {
        static const char minimal[] = "{\"success\": false, \"error\": \"internal_error\"}";
        req->keep_alive = false;
        httpd__req_finish(req, 500, JSON_TYPE, minimal, sizeof(minimal) - 1);
        return;
    }
    httpd__req_finish(req, status, JSON_TYPE, text, strlen(text));
    free(text);
}

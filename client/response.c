/* Reading one HTTP/1.1 response for client_do: response heads until a final one (1xx are
 * skipped), the body framed by Content-Length, chunked encoding or the connection's close, and a
 * zstd Content-Encoding decoded; one response buffer per request with hard caps on head, body
 * and decoded body. Then the response's accessors. */
#include "client/client_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zstd.h>

void client_response_free(client_response *r)
{
    if (r == NULL) {
        return;
    }
    free(r->head);
    free(r->body);
    free(r);
}

unsigned client_response_status(const client_response *r)
{
    return r->status;
}

tally_bytes client_response_body(const client_response *r)
{
    tally_bytes b = {r->body, r->body_n};

    return b;
}

bool client_response_was_zstd(const client_response *r)
{
    return r->zstd;
}

size_t client_response_header(const client_response *r, const char *name, const char **value_out)
{
    size_t i, n = 0;

    if (value_out != NULL) {
        *value_out = NULL;
    }
    for (i = 0; i < r->n_fields; i++) {
        if (strcasecmp(r->fields[i].name, name) == 0) {
            if (n == 0 && value_out != NULL) {
                *value_out = r->fields[i].value;
            }
            n++;
        }
    }
    return n;
}

/* Splits the head (status line and fields) in place. */
static tally_status parse_head(client_response *r, bool *http10)
{
    char *line = r->head, *next, *colon, *v, *end;
    bool first = true;

    for (; *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next == NULL) {
            next = line + strlen(line);
        } else {
            *next++ = '\0';
        }
        if (next - line >= 2 && next[-2] == '\r') {
            next[-2] = '\0';
        } else if (*line != '\0' && line[strlen(line) - 1] == '\r') {
            line[strlen(line) - 1] = '\0';
        }
        if (first) {
            if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
                line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' ||
                line[10] > '9' || line[11] < '0' || line[11] > '9' ||
                (line[12] != ' ' && line[12] != '\0')) {
                return TALLY_EFORMAT;
            }
            *http10 = line[7] == '0';
            r->status =
                (unsigned)((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
            first = false;
            continue;
        }
        if (*line == '\0') {
            break;
        }
        colon = strchr(line, ':');
        if (colon == NULL || colon == line || r->n_fields >= FIELDS_MAX) {
            return colon == NULL || colon == line ? TALLY_EFORMAT : TALLY_ELIMIT;
        }
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++) {
        }
        for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--) {
        }
        *end = '\0';
        r->fields[r->n_fields].name = line;
        r->fields[r->n_fields].value = v;
        r->n_fields++;
    }
    return first ? TALLY_EFORMAT : TALLY_OK;
}

/* Finds the end of the head in g: the offset just past the blank line, or 0. */
static size_t head_end(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i++) {
        if (p[i] == '\n' &&
            (p[i + 1] == '\n' || (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n'))) {
            return i + (p[i + 1] == '\n' ? 2u : 3u);
        }
    }
    return 0;
}

static bool token_in(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    const char *p;

    for (p = list; p != NULL && *p != '\0'; p = strchr(p, ',')) {
        while (*p == ',' || *p == ' ' || *p == '\t') {
            p++;
        }
        if (strncasecmp(p, tok, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')) {
            return true;
        }
    }
    return false;
}

typedef struct reader {
    client_conn *c;
    gbuf in; /* bytes received and not yet consumed, from off */
    size_t off;
} reader;

/* Makes at least need unconsumed bytes available. */
static tally_status rd_fill(reader *rd, size_t need, bool *eof)
{
    tally_status st;

    *eof = false;
    while (rd->in.n - rd->off < need) {
        if (rd->off > 0) {
            memmove(rd->in.p, rd->in.p + rd->off, rd->in.n - rd->off);
            rd->in.n -= rd->off;
            rd->off = 0;
        }
        st = client__recv_some(rd->c, &rd->in, eof);
        if (st != TALLY_OK || *eof) {
            return st;
        }
    }
    return TALLY_OK;
}

/* Takes the next line (without its LF) of at most max bytes; *line points into rd. */
static tally_status rd_line(reader *rd, size_t max, const uint8_t **line, size_t *len)
{
    tally_status st;
    uint8_t *nl;
    bool eof;

    for (;;) {
        nl = rd->in.n > rd->off ? memchr(rd->in.p + rd->off, '\n', rd->in.n - rd->off) : NULL;
        if (nl != NULL) {
            break;
        }
        if (rd->in.n - rd->off > max) {
            return TALLY_EFORMAT;
        }
        st = rd_fill(rd, rd->in.n - rd->off + 1u, &eof);
        if (st != TALLY_OK || eof) {
            return st != TALLY_OK ? st : TALLY_EFORMAT;
        }
    }
    *line = rd->in.p + rd->off;
    *len = (size_t)(nl - *line);
    rd->off += *len + 1u;
    return TALLY_OK;
}

/* Parses a chunk-size line ("1a;ext=x\r"); false when it has no hex digits or too many. */
static bool chunk_size(const uint8_t *p, size_t n, size_t *size)
{
    size_t i, digits = 0;

    *size = 0;
    for (i = 0; i < n; i++) {
        int ch = p[i], d;
        d = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
        if (d < 0) {
            break; /* ";ext" or CR */
        }
        if (++digits > 15) {
            return false;
        }
        *size = *size * 16u + (size_t)d;
    }
    return digits > 0;
}

/* Reads a chunked body into body: chunks, the last chunk, trailers, the blank line. */
static tally_status read_chunked(reader *rd, gbuf *body)
{
    const uint8_t *line;
    size_t len, size;
    tally_status st;
    bool eof;

    for (;;) {
        st = rd_line(rd, 1024u, &line, &len);
        if (st != TALLY_OK) {
            return st;
        }
        if (!chunk_size(line, len, &size)) {
            return TALLY_EFORMAT;
        }
        if (size == 0) {
            do {
                st = rd_line(rd, CLIENT_HEAD_MAX, &line, &len);
            } while (st == TALLY_OK && !(len == 0 || (len == 1 && line[0] == '\r')));
            return st;
        }
        if (size > body->max - body->n) {
            return TALLY_ELIMIT;
        }
        if (rd->in.max < size + 65536u) {
            rd->in.max = size + 65536u; /* size is bounded by the body cap just checked */
        }
        st = rd_fill(rd, size, &eof);
        if (st == TALLY_OK && eof) {
            st = TALLY_EFORMAT;
        }
        st = st ? st : client__gb_add(body, rd->in.p + rd->off, size);
        rd->off += st == TALLY_OK ? size : 0;
        st = st ? st : rd_line(rd, 1, &line, &len);
        if (st != TALLY_OK || len > 1 || (len == 1 && line[0] != '\r')) {
            return st != TALLY_OK ? st : TALLY_EFORMAT;
        }
    }
}

static tally_status decode_zstd(const gbuf *raw, size_t max, uint8_t **out, size_t *out_n)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    gbuf g = {NULL, 0, 0, max};
    ZSTD_inBuffer in = {raw->p, raw->n, 0};
    tally_status st = TALLY_OK;
    size_t r = 1;

    *out = NULL;
    *out_n = 0;
    if (d == NULL) {
        return TALLY_ENOMEM;
    }
    while (st == TALLY_OK && (in.pos < in.size || r != 0)) {
        ZSTD_outBuffer o;
        size_t before;
        if (g.n == g.cap) {
            size_t more = g.cap ? g.cap : 65536u;
            if (g.n == max) {
                st = TALLY_ELIMIT; /* a frame still wanting room at the cap is over it */
                break;
            }
            st = client__gb_reserve(&g, more < max - g.n ? more : max - g.n);
            if (st != TALLY_OK) {
                break;
            }
        }
        o = (ZSTD_outBuffer){g.p, g.cap, g.n};
        before = in.pos;
        r = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(r)) {
            st = TALLY_EFORMAT;
            break;
        }
        if (o.pos == g.n && in.pos == before && o.pos < o.size) {
            st = TALLY_EFORMAT; /* no progress: truncated frame */
            break;
        }
        g.n = o.pos;
    }
    ZSTD_freeDCtx(d);
    if (st != TALLY_OK) {
        free(g.p);
        return st;
    }
    *out = g.p;
    *out_n = g.n;
    return TALLY_OK;
}

/* Reads response heads until a final one (1xx are skipped) into a new *out. *any_byte tells
 * whether anything arrived, so client_do() knows a retry is safe. */
static tally_status read_final_head(reader *rd, client_response **out, bool *any_byte, bool *http10)
{
    client_conn *c = rd->c;
    client_response *r;
    tally_status st;
    size_t hend;
    bool eof;

    *out = NULL;
    for (;;) {
        while ((hend = rd->in.p == NULL ? 0 : head_end(rd->in.p + rd->off, rd->in.n - rd->off)) ==
               0) {
            if (rd->in.n - rd->off > CLIENT_HEAD_MAX) {
                return client__fail_fmt(c, TALLY_ELIMIT, "response head too large");
            }
            st = rd_fill(rd, rd->in.n - rd->off + 1u, &eof);
            if (st != TALLY_OK) {
                return st;
            }
            if (eof) {
                return rd->in.n - rd->off == 0 && !*any_byte
                           ? client__fail_io(c, "connection closed by", ECONNRESET)
                           : client__fail_fmt(c, TALLY_EFORMAT, "truncated response head");
            }
            *any_byte = true;
        }
        *any_byte = true;
        r = calloc(1, sizeof(*r));
        if (r == NULL || (r->head = malloc(hend + 1u)) == NULL) {
            free(r);
            return TALLY_ENOMEM;
        }
        memcpy(r->head, rd->in.p + rd->off, hend);
        r->head[hend] = '\0';
        rd->off += hend;
        st = parse_head(r, http10);
        if (st != TALLY_OK) {
            client_response_free(r);
            return client__fail_fmt(c, st, "malformed response head");
        }
        if (r->status >= 200 || r->status == 101) {
            *out = r;
            return TALLY_OK;
        }
        client_response_free(r);
    }
}

/* Reads the body framed by Content-Length, chunked encoding or the connection's close. */
static tally_status read_body(reader *rd, const client_response *r, bool *keep, gbuf *body)
{
    client_conn *c = rd->c;
    unsigned long long n;
    tally_status st;
    const char *v;
    char *end;
    bool eof;

    if (client_response_header(r, "Transfer-Encoding", &v) > 0) {
        if (!token_in(v, "chunked")) {
            return client__fail_fmt(c, TALLY_EFORMAT, "unsupported Transfer-Encoding");
        }
        st = read_chunked(rd, body);
        return st == TALLY_OK || st == TALLY_EIO ? st : client__fail_fmt(c, st, "bad chunked body");
    }
    if (client_response_header(r, "Content-Length", &v) > 1) {
        return client__fail_fmt(c, TALLY_EFORMAT, "repeated Content-Length");
    }
    if (v == NULL) {
        *keep = false; /* delimited by close */
        st = client__gb_add(body, rd->in.p + rd->off, rd->in.n - rd->off);
        while (st == TALLY_OK) {
            rd->in.n = rd->off = 0;
            st = client__recv_some(c, &rd->in, &eof);
            if (st != TALLY_OK || eof) {
                break;
            }
            st = client__gb_add(body, rd->in.p, rd->in.n);
        }
        return st == TALLY_ELIMIT ? client__fail_fmt(c, st, "response body over the cap") : st;
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || errno != 0) {
        return client__fail_fmt(c, TALLY_EFORMAT, "malformed Content-Length");
    }
    if (n > c->max_response) {
        return client__fail_fmt(c, TALLY_ELIMIT, "response body over the cap");
    }
    rd->in.max = rd->in.n + (size_t)n + 1u;
    st = rd_fill(rd, (size_t)n, &eof);
    if (st == TALLY_OK && eof) {
        return client__fail_fmt(c, TALLY_EFORMAT, "truncated response body");
    }
    st = st ? st : client__gb_add(body, rd->in.p + rd->off, (size_t)n);
    rd->off += st == TALLY_OK ? (size_t)n : 0;
    return st;
}

/* Moves body into r, decoding Content-Encoding: zstd. */
static tally_status take_body(client_conn *c, client_response *r, gbuf *body)
{
    const char *v;
    tally_status st;

    if (client_response_header(r, "Content-Encoding", &v) == 0 || strcasecmp(v, "identity") == 0) {
        r->body = body->p;
        r->body_n = body->n;
        body->p = NULL;
        return TALLY_OK;
    }
    if (strcasecmp(v, "zstd") != 0) {
        return client__fail_fmt(c, TALLY_EFORMAT, "unsupported Content-Encoding");
    }
    st = decode_zstd(body, c->max_response, &r->body, &r->body_n);
    if (st != TALLY_OK) {
        return client__fail_fmt(
            c, st, st == TALLY_ELIMIT ? "decoded body over the cap" : "malformed zstd body");
    }
    r->zstd = true;
    return TALLY_OK;
}

/* Reads one response into *out; *keep tells whether the connection may be reused. */
tally_status client__read_response(client_conn *c, bool head_req, client_response **out,
                                   bool *any_byte, bool *keep)
{
    reader rd = {c, {NULL, 0, 0, CLIENT_HEAD_MAX + (size_t)65536u}, 0};
    gbuf body = {NULL, 0, 0, c->max_response};
    client_response *r = NULL;
    tally_status st;
    const char *v;
    bool http10 = false;

    *out = NULL;
    *any_byte = false;
    st = read_final_head(&rd, &r, any_byte, &http10);
    if (st == TALLY_OK) {
        *keep = !http10;
        if (client_response_header(r, "Connection", &v) > 0) {
            *keep = http10 ? token_in(v, "keep-alive") : !token_in(v, "close");
        }
        if (!head_req && r->status != 204 && r->status != 304 && r->status != 101) {
            st = read_body(&rd, r, keep, &body);
        }
    }
    st = st ? st : take_body(c, r, &body);
    if (st == TALLY_OK && rd.in.n > rd.off && *keep) {
        /* bytes past this response; without room for them the connection cannot be reused */
        c->carry = malloc(rd.in.n - rd.off);
        *keep = c->carry != NULL;
        if (c->carry != NULL) {
            memcpy(c->carry, rd.in.p + rd.off, rd.in.n - rd.off);
            c->carry_n = rd.in.n - rd.off;
        }
    }
    free(rd.in.p);
    free(body.p);
    if (st != TALLY_OK) {
        client_response_free(r);
        client__conn_drop(c);
        return st;
    }
    *out = r;
    return TALLY_OK;
}

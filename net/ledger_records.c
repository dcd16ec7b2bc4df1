/* The gated ledger (protocol §6.4): GET /v1/records and /v1/deltas for a bearer token's holder.
 * Headers are always sent; a body is sent where §2.3 lets a gated reader see it: public and
 * gated bodies always, an embargoed body from its reveal_at_ms on (the read view's rules compute
 * it from the log; now = the node clock, never below the latest record time), a private body
 * only once a dispute reveal mark exists (STORE_SIDE_MARKS, key seq big-endian). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

#define RECORDS_MAX 1024u

typedef struct reader {
    net_node *n;
    uint64_t now; /* the node clock, never below the latest record time */
} reader;

static void reader_init(reader *r, net_node *n)
{
    ledger_view_info vi;

    r->n = n;
    ledger_view_info_get(n->view, &vi);
    r->now = net__now_ms(n);
    r->now = r->now > vi.last_time_ms ? r->now : vi.last_time_ms;
}

static bool revealed_mark(net_node *n, uint64_t seq)
{
    uint8_t key[8], val[8];
    size_t k;
    bool found = false;

    for (int i = 0; i < 8; i++) {
        key[i] = (uint8_t)(seq >> (56 - 8 * i));
    }
    return store_side_get(n->store, STORE_SIDE_MARKS, key, 8, val, sizeof(val), &k, &found) ==
               TALLY_OK &&
           found;
}

/* Whether a gated reader may see the body of record seq now. */
static bool visible(const reader *r, uint64_t seq, const schema_header *h)
{
    uint64_t at;

    switch (h->tier) {
    case SCHEMA_PUBLIC:
    case SCHEMA_GATED:
        return true;
    case SCHEMA_EMBARGOED:
        return ledger_view_reveal_at(r->n->view, seq, h, &at) == TALLY_OK && r->now >= at;
    default:
        return revealed_mark(r->n, seq);
    }
}

typedef struct floor_arg {
    uint64_t to;
    bool hit;
    schema_sth best;
} floor_arg;

static bool floor_step(const schema_sth *s, void *arg)
{
    floor_arg *a = arg;

    if (s->tree_size > a->to) {
        return false; /* in size order: nothing further can be ≤ to */
    }
    a->best = *s, a->hit = true;
    return true;
}

tally_status net__sth_floor(net_node *n, uint64_t to, schema_sth *out)
{
    floor_arg a = {.to = to};

    /* store_sth_floor comes with the replica work in store/; until then the exact hit, else a
     * scan of the stored heads in size order */
    if (store_sth_get(n->store, to, out) == TALLY_OK) {
        return TALLY_OK;
    }
    if (store_sth_each(n->store, floor_step, &a) != TALLY_OK) {
        return TALLY_EIO;
    }
    if (!a.hit) {
        return TALLY_ENOTFOUND;
    }
    *out = a.best;
    return TALLY_OK;
}

static void fail_query(net_node *n, httpd_req *req, net__ctx *ctx, const wire_fail *wf)
{
    json_t *d = json_pack("{s:s}", "field", wf->field);
    net__fail(n, req, ctx, WIRE_BAD_REQUEST, wf->message, d);
    json_decref(d);
}

/* from and to (and size, when q has three) of a range query; false when answered. */
static bool range_query(net_node *n, httpd_req *req, net__ctx *ctx, wire_qparam *q, size_t nq)
{
    wire_fail wf;

    if (wire_query_params(httpd_req_query(req), q, nq, &wf) != TALLY_OK) {
        fail_query(n, req, ctx, &wf);
        return false;
    }
    if (!q[0].present || !q[1].present) {
        memset(&wf, 0, sizeof(wf));
        snprintf(wf.field, sizeof(wf.field), "%s", q[0].present ? "to" : "from");
        snprintf(wf.message, sizeof(wf.message), "query from and to are required");
        fail_query(n, req, ctx, &wf);
        return false;
    }
    return true;
}

/* The record JSON of §6.4: the header fields by name ("sig" for actor_sig) and the body or null. */
static json_t *record_json(const store_record *rec, const schema_header *h, const schema_body *b)
{
    char *text = NULL;
    json_t *o, *sig;

    if (schema_record_to_json(rec->seq, rec->leaf_hash, h, b, &text) != TALLY_OK) {
        return NULL;
    }
    o = json_loads(text, 0, NULL);
    free(text);
    sig = o != NULL ? json_object_get(o, "actor_sig") : NULL;
    if (sig != NULL) {
        json_object_set(o, "sig", sig);
        json_object_del(o, "actor_sig");
    }
    return o;
}

void net__h_records(net_node *n, httpd_req *req, net__ctx *ctx)
{
    wire_qparam q[2] = {{.key = "from", .max = UINT64_MAX}, {.key = "to", .max = UINT64_MAX}};
    uint64_t size = store_size(n->store), to;
    bool mp = httpd_req_prefers_msgpack(req);
    store_iter *it = NULL;
    store_record rec;
    reader r;
    json_t *list = NULL;
    schema_mpw w;
    tally_status st;

    if (!range_query(n, req, ctx, q, 2)) {
        return;
    }
    if (q[0].u > q[1].u || q[1].u > size) {
        net__fail(n, req, ctx, WIRE_RANGE_INVALID, "needs from ≤ to ≤ the tree size", NULL);
        return;
    }
    to = q[1].u - q[0].u > RECORDS_MAX ? q[0].u + RECORDS_MAX : q[1].u;
    net__best_effort(ledger_view_sync(n->view));
    reader_init(&r, n);
    if (mp) {
        schema_mpw_init(&w, 80u << 20);
        schema_mpw_array(&w, 3);
        schema_mpw_uint(&w, q[0].u), schema_mpw_uint(&w, to);
        schema_mpw_array(&w, (size_t)(to - q[0].u));
    } else {
        list = json_array();
    }
    st = to > q[0].u ? store_iter_open(n->store, q[0].u, &it) : TALLY_OK;
    for (uint64_t s = q[0].u; st == TALLY_OK && s < to; s++) {
        schema_header h;
        schema_body b;
        st = store_iter_next(it, &rec);
        if (st == TALLY_OK && schema_header_decode(rec.header.p, rec.header.n, &h) != TALLY_OK) {
            st = TALLY_ECORRUPT;
        }
        if (st != TALLY_OK) {
            break;
        }
        bool see = visible(&r, rec.seq, &h) && rec.body.p != NULL;
        if (mp) {
            schema_mpw_array(&w, 2);
            schema_mpw_bin(&w, rec.header.p, rec.header.n);
            if (see) {
                schema_mpw_bin(&w, rec.body.p, rec.body.n);
            } else {
                schema_mpw_nil(&w);
            }
            continue;
        }
        if (see && store_record_body(&rec, &h, &b) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        json_t *o = record_json(&rec, &h, see ? &b : NULL);
        if (see) {
            schema_body_release(&b);
        }
        if (o == NULL || list == NULL || json_array_append_new(list, o) != 0) {
            st = TALLY_ENOMEM;
        }
    }
    store_iter_close(it);
    if (mp) {
        uint8_t *out = NULL;
        size_t on = 0;
        if (st == TALLY_OK) {
            st = schema_mpw_finish(&w, &out, &on);
        } else {
            net__best_effort(schema_mpw_finish(&w, &out, &on));
            free(out);
            out = NULL;
        }
        if (st == TALLY_OK) {
            net__rate_headers(req, ctx);
            net__header(req, "Cache-Control", "private, no-cache");
            httpd_req_reply(req, 200, "application/msgpack", out, on);
            free(out);
            return;
        }
    } else if (st == TALLY_OK) {
        json_t *o = json_pack("{s:I, s:I, s:o}", "from", (json_int_t)q[0].u, "to",
                              (json_int_t)to, "records", list);
        net__reply_json_cc(n, req, ctx, 200, o, "private, no-cache");
        json_decref(o);
        return;
    }
    json_decref(list);
    net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the records", NULL);
}

/* The records of a delta, copied out of the iterator (its views end at the next call). */
typedef struct collected {
    uint8_t *buf;
    size_t n, cap;
    size_t *hoff, *boff, *hlen, *blen; /* per record; blen 0: no body */
    size_t count;
} collected;

static void collected_free(collected *c)
{
    free(c->buf);
    free(c->hoff);
    free(c->boff);
    free(c->hlen);
    free(c->blen);
}

static bool put_bytes(collected *c, tally_bytes b, size_t *off)
{
    if (c->cap - c->n < b.n) {
        size_t cap = c->cap * 2 + b.n + 4096;
        uint8_t *p = realloc(c->buf, cap);
        if (p == NULL) {
            return false;
        }
        c->buf = p, c->cap = cap;
    }
    *off = c->n;
    if (b.n > 0) {
        memcpy(c->buf + c->n, b.p, b.n);
    }
    c->n += b.n;
    return true;
}

/* Reads records [from, from + max) while the encoded size stays under the delta's byte limit;
 * c->count says how many were taken. */
static tally_status collect(net_node *n, const reader *r, uint64_t from, uint64_t max,
                            collected *c)
{
    store_iter *it = NULL;
    store_record rec;
    size_t budget = WIRE_DELTA_BYTES_MAX - 4096; /* the envelope, proof and STH */
    size_t used = 0;
    tally_status st;

    memset(c, 0, sizeof(*c));
    if (max == 0) {
        return TALLY_OK;
    }
    c->hoff = malloc(max * sizeof(size_t)), c->boff = malloc(max * sizeof(size_t));
    c->hlen = malloc(max * sizeof(size_t)), c->blen = malloc(max * sizeof(size_t));
    if (!c->hoff || !c->boff || !c->hlen || !c->blen) {
        return TALLY_ENOMEM;
    }
    st = store_iter_open(n->store, from, &it);
    while (st == TALLY_OK && c->count < max) {
        schema_header h;
        st = store_iter_next(it, &rec);
        if (st == TALLY_OK && schema_header_decode(rec.header.p, rec.header.n, &h) != TALLY_OK) {
            st = TALLY_ECORRUPT;
        }
        if (st != TALLY_OK) {
            break;
        }
        bool see = rec.body.p != NULL && visible(r, rec.seq, &h);
        size_t cost = 6 + rec.header.n + (see ? 3 + rec.body.n : 1);
        if (used + cost > budget) {
            break;
        }
        size_t i = c->count;
        if (!put_bytes(c, rec.header, &c->hoff[i]) ||
            !put_bytes(c, see ? rec.body : (tally_bytes){NULL, 0}, &c->boff[i])) {
            st = TALLY_ENOMEM;
            break;
        }
        c->hlen[i] = rec.header.n, c->blen[i] = see ? rec.body.n : 0;
        used += cost;
        c->count++;
    }
    store_iter_close(it);
    return st;
}

void net__h_deltas(net_node *n, httpd_req *req, net__ctx *ctx)
{
    wire_qparam q[3] = {{.key = "from", .max = UINT64_MAX},
                        {.key = "to", .max = UINT64_MAX},
                        {.key = "size", .max = UINT64_MAX}};
    uint64_t tree = store_size(n->store), size, to;
    schema_sth sth, cut;
    reader r;
    collected c;
    wire_delta d = {0};
    uint8_t proof[STORE_PROOF_MAX][32], sthb[SCHEMA_STH_MAX], *out = NULL, etag_raw[32];
    size_t np = 0, sn, on;
    char etag[67];
    tally_status st;

    if (!range_query(n, req, ctx, q, 3)) {
        return;
    }
    size = q[2].present ? q[2].u : tree;
    if (q[0].u > q[1].u || q[1].u > tree || size > tree || q[1].u > size ||
        store_sth_get(n->store, size, &sth) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_RANGE_INVALID,
                  "needs from ≤ to ≤ size ≤ the tree size, and a stored STH of size", NULL);
        return;
    }
    net__best_effort(ledger_view_sync(n->view));
    reader_init(&r, n);
    to = q[1].u - q[0].u > WIRE_DELTA_RECORDS_MAX ? q[0].u + WIRE_DELTA_RECORDS_MAX : q[1].u;
    st = collect(n, &r, q[0].u, to - q[0].u, &c);
    if (st == TALLY_OK) {
        to = q[0].u + c.count;
        /* a delta ending below its size ends at a signed head, so the auditor's verified size
         * is always one the node signed; a range with no head inside is sent uncut */
        if (to < size && net__sth_floor(n, to, &cut) == TALLY_OK && cut.tree_size > q[0].u) {
            to = cut.tree_size;
        }
        d = (wire_delta){.from = q[0].u, .to = to, .size = size, .n = (size_t)(to - q[0].u)};
        d.entries = calloc(d.n ? d.n : 1, sizeof(*d.entries));
        st = d.entries != NULL ? TALLY_OK : TALLY_ENOMEM;
    }
    for (size_t i = 0; st == TALLY_OK && i < d.n; i++) {
        d.entries[i].header = (tally_bytes){c.buf + c.hoff[i], c.hlen[i]};
        d.entries[i].has_body = c.blen[i] > 0;
        d.entries[i].body = (tally_bytes){c.buf + c.boff[i], c.blen[i]};
    }
    if (st == TALLY_OK && to > 0 && to < size) {
        st = store_proof_consistency(n->store, to, size, proof, &np);
    }
    if (st == TALLY_OK) {
        st = schema_sth_encode(&sth, sthb, sizeof(sthb), &sn);
    }
    if (st == TALLY_OK) {
        d.proof = proof, d.n_proof = np, d.sth = (tally_bytes){sthb, sn};
        st = wire_delta_encode(&d, &out, &on);
    }
    free(d.entries);
    collected_free(&c);
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot build the delta", NULL);
        return;
    }
    crypto_hash_sha256(etag_raw, out, on);
    etag[0] = '"';
    schema_hex(etag_raw, 32, etag + 1);
    etag[65] = '"', etag[66] = '\0';
    net__rate_headers(req, ctx);
    net__header(req, "Cache-Control", "private, no-cache");
    net__header(req, "ETag", etag);
    const char *inm = NULL;
    if (httpd_req_header(req, "If-None-Match", &inm) == 1 && inm != NULL &&
        strcmp(inm, etag) == 0) {
        httpd_req_reply(req, 304, WIRE_DELTA_MEDIA, NULL, 0);
    } else {
        httpd_req_reply(req, 200, WIRE_DELTA_MEDIA, out, on);
    }
    free(out);
}

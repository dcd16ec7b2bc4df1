/* The public tree of the ledger listener (protocol §6.2–§6.3): signed tree heads, the node's
 * info, hash tiles, entry and body bundles, inclusion and consistency proofs. Everything here is
 * read from the store's public API at the latest signed head (store_size), so a response never
 * shows a record before its head is durable. Tiles and bundles are immutable and say so. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

#define IMMUTABLE "public, max-age=31536000, immutable"
#define OCTETS "application/octet-stream"

static void hex32(const uint8_t *p, char out[65])
{
    schema_hex(p, 32, out);
}

static json_t *sth_json(const schema_sth *s)
{
    char root[65], key[65], sig[129], nsig[129];

    hex32(s->root, root);
    hex32(s->key, key);
    schema_hex(s->sig, 64, sig);
    schema_hex(s->note_sig, 64, nsig);
    return json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s}", "origin", s->origin, "tree_size",
                     (json_int_t)s->tree_size, "root", root, "time_ms", (json_int_t)s->time_ms,
                     "key", key, "sig", sig, "note_sig", nsig);
}

/* GET /v1/sth and /v1/sth/<size>: JSON, or the wire form when Accept prefers msgpack. */
void net__h_sth(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *path = httpd_req_path(req);
    schema_sth s;
    tally_status st;
    bool latest = strcmp(path, "/v1/sth") == 0;
    const char *cache = latest ? "public, max-age=1" : IMMUTABLE;

    if (latest) {
        st = store_sth_latest(n->store, &s);
    } else {
        const char *v = path + strlen("/v1/sth/");
        uint64_t size;
        if (!wire_decimal_parse(v, strlen(v), UINT64_MAX, &size)) {
            net__fail(n, req, ctx, WIRE_BAD_REQUEST, "the size is a decimal", NULL);
            return;
        }
        st = store_sth_get(n->store, size, &s);
    }
    if (st == TALLY_ENOTFOUND) {
        net__fail(n, req, ctx, WIRE_NOT_FOUND, "no signed tree head is stored for this size",
                  NULL);
        return;
    }
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the tree head", NULL);
        return;
    }
    if (httpd_req_prefers_msgpack(req)) {
        uint8_t buf[SCHEMA_STH_MAX];
        size_t k;
        if (schema_sth_encode(&s, buf, sizeof(buf), &k) != TALLY_OK) {
            net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot encode the tree head", NULL);
            return;
        }
        net__rate_headers(req, ctx);
        net__header(req, "Cache-Control", cache);
        httpd_req_reply(req, 200, "application/msgpack", buf, k);
        return;
    }
    json_t *o = sth_json(&s);
    if (o == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    net__rate_headers(req, ctx);
    net__header(req, "Cache-Control", cache);
    httpd_req_reply_json(req, 200, o);
    json_decref(o);
}

/* The parameters in effect as {key: value}: integers and reals as numbers (as decimal strings
 * beyond 2^53 − 1), flags as booleans, enumerations by name. */
static json_t *params_json(const schema_paramset *ps)
{
    json_t *o = json_object();

    for (unsigned id = 0; o != NULL && id < SCHEMA_P_COUNT; id++) {
        const schema_pdef *d = schema_param_def(id);
        int64_t v = ps->v[id];
        json_t *j;
        char dec[24];
        if (d == NULL) {
            continue;
        }
        if (d->kind == SCHEMA_PK_BOOL) {
            j = json_boolean(v != 0);
        } else if (d->kind == SCHEMA_PK_TEXT) {
            j = json_string(d->choices != NULL ? d->choices[v] : "");
        } else if (v > (int64_t)SCHEMA_ID_MAX || v < -(int64_t)SCHEMA_ID_MAX) {
            snprintf(dec, sizeof(dec), "%" PRId64, v);
            j = json_string(dec);
        } else {
            j = json_integer((json_int_t)v);
        }
        json_object_set_new(o, d->key, j);
    }
    return o;
}

static json_t *limits_json(const net_node *n)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:I, "
                     "s:I}",
                     "header_max", 158, "body_max", (int)SCHEMA_BODY_MAX, "bundle_entries", 256,
                     "auth_body_max", (int)WIRE_AUTH_BODY_MAX, "attestation_body_max",
                     (json_int_t)WIRE_ATTEST_BODY_MAX, "records_max", 1024, "deltas_records_max",
                     (int)WIRE_DELTA_RECORDS_MAX, "deltas_bytes_max", (int)WIRE_DELTA_BYTES_MAX,
                     "list_max", 500, "target_max", (int)WIRE_TARGET_MAX, "header_block_max",
                     16384, "challenge_ttl_s",
                     (json_int_t)ops_config_u64(n->conf, OPS_K_CHALLENGE_TTL_S), "token_ttl_s",
                     (json_int_t)ops_config_u64(n->conf, OPS_K_TOKEN_TTL_S), "max_tokens",
                     (json_int_t)ops_config_u64(n->conf, OPS_K_MAX_TOKENS), "max_challenges",
                     (json_int_t)ops_config_u64(n->conf, OPS_K_MAX_CHALLENGES));
}

/* GET /v1/info (§14.6). */
void net__h_info(net_node *n, httpd_req *req, net__ctx *ctx)
{
    ledger_view_info vi;
    store_iter *it = NULL;
    store_record rec;
    schema_header h;
    schema_body b;
    char key[65], leaf[65] = "", vkey[256] = "", hk[49] = "";
    uint64_t netuid = 0;

    net__best_effort(ledger_view_sync(n->view));
    ledger_view_info_get(n->view, &vi);
    if (store_iter_open(n->store, 0, &it) == TALLY_OK &&
        store_iter_read(it, true, &rec, &h, &b) == TALLY_OK) {
        hex32(rec.leaf_hash, leaf);
        if (h.type == SCHEMA_GENESIS) {
            schema_ss58_encode(b.u.genesis.node_hotkey, hk);
            netuid = b.u.genesis.netuid;
        }
        schema_body_release(&b);
    }
    store_iter_close(it);
    hex32(n->node_pk, key);
    if (store_vkey(n->origin, n->node_pk, vkey, sizeof(vkey)) != TALLY_OK) {
        vkey[0] = '\0';
    }
    uint64_t now = net__now_ms(n);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o, s:o, s:I, s:s}", "origin",
                          n->origin, "node_key", key, "verifier_key", vkey, "netuid",
                          (json_int_t)netuid, "node_hotkey", hk, "genesis_leaf_hash", leaf,
                          "tree_size", (json_int_t)store_size(n->store), "params",
                          params_json(&vi.params), "limits", limits_json(n), "now_ms",
                          (json_int_t)(now > vi.last_time_ms ? now : vi.last_time_ms),
                          "version", SCHEMA_CODE_VERSION);
    if (o == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    net__reply_json_cc(n, req, ctx, 200, o, "public, max-age=5");
    json_decref(o);
}

/* An entry bundle (headers) or body bundle (public bodies, length 0 for the rest) of records
 * [first, first + w), malloc'd into *out. */
static tally_status bundle(net_node *n, bool bodies, uint64_t first, unsigned w, uint8_t **out,
                           size_t *n_out)
{
    store_iter *it = NULL;
    store_record rec;
    size_t cap = (size_t)w * 200, k = 0;
    uint8_t *buf = malloc(cap);
    tally_status st = buf != NULL ? store_iter_open(n->store, first, &it) : TALLY_ENOMEM;

    for (unsigned i = 0; st == TALLY_OK && i < w; i++) {
        schema_header h;
        tally_bytes part;
        st = store_iter_next(it, &rec);
        if (st != TALLY_OK) {
            break;
        }
        part = rec.header;
        if (bodies) {
            st = schema_header_decode(rec.header.p, rec.header.n, &h);
            if (st != TALLY_OK) {
                st = TALLY_ECORRUPT;
                break;
            }
            part = h.tier == SCHEMA_PUBLIC ? rec.body : (tally_bytes){NULL, 0};
            if (h.tier == SCHEMA_PUBLIC && part.p == NULL) {
                st = TALLY_ECORRUPT;
                break;
            }
        }
        if (part.n > 0xffff) {
            st = TALLY_ECORRUPT;
            break;
        }
        if (cap - k < part.n + 2) {
            size_t c = cap * 2 + part.n + 2;
            uint8_t *p = realloc(buf, c);
            if (p == NULL) {
                st = TALLY_ENOMEM;
                break;
            }
            buf = p, cap = c;
        }
        buf[k++] = (uint8_t)(part.n >> 8), buf[k++] = (uint8_t)part.n;
        if (part.n > 0) {
            memcpy(buf + k, part.p, part.n);
        }
        k += part.n;
    }
    store_iter_close(it);
    if (st != TALLY_OK) {
        free(buf);
        return st;
    }
    *out = buf, *n_out = k;
    return TALLY_OK;
}

/* The tile or bundle t at tree size `size`, built from the store: malloc'd into *out. */
static tally_status build_tile(net_node *n, const wire_tile *t, uint64_t size, uint8_t **out,
                               size_t *n_out)
{
    tally_status st;

    *out = NULL, *n_out = 0;
    if (t->kind == WIRE_TILE_HASH) {
        uint8_t *buf = malloc(256 * 32);
        st = buf == NULL ? TALLY_ENOMEM
                         : store_tile_read(n->store, t->level, t->index, t->width, buf);
        if (st != TALLY_OK) {
            free(buf);
            return st;
        }
        *out = buf, *n_out = (size_t)t->width * 32;
        return TALLY_OK;
    }
    if (t->index * 256 + t->width > size) {
        return TALLY_ENOTFOUND; /* beyond the tree, or wider than the bundle is yet */
    }
    return bundle(n, t->kind == WIRE_TILE_BODIES, t->index * 256, t->width, out, n_out);
}

/* Sends a cached body as httpd_req_reply would: the zstd frame when the client accepts zstd and
 * the body is long enough to be compressed, made once per entry and kept beside it. The reply
 * borrows the bytes and gives e's reference back (net__tent_done) once they are written. */
static void reply_cached(net_node *n, httpd_req *req, net__tent *e)
{
    size_t len, zn;
    const uint8_t *body = net__tent_body(e, &len), *z;
    int level = httpd_req_zstd_level(req);

    if (!httpd_req_accepts_zstd(req) || len < HTTPD_COMPRESS_MIN) {
        httpd_req_reply_encoded_ref(req, 200, OCTETS, body, len, false, net__tent_done, e);
        return;
    }
    if (!net__tent_zstd(n->tiles, e, level, &z, &zn)) {
        uint8_t *made = httpd_compress(body, len, level, &zn);
        net__tent_set_zstd(n->tiles, e, level, made, zn);
        if (!net__tent_zstd(n->tiles, e, level, &z, &zn)) {
            httpd_req_reply(req, 200, OCTETS, body, len); /* kept at another level: compress here */
            net__tcache_release(n->tiles, e);
            return;
        }
    }
    httpd_req_reply_encoded_ref(req, 200, OCTETS, z != NULL ? z : body, z != NULL ? zn : len,
                              z != NULL, net__tent_done, e);
}

/* GET /log/tile/<L>/<N>[.p/<W>], /log/tile/entries/<N>[.p/<W>], /log/bodies/<N>[.p/<W>]. A full
 * tile or bundle never changes once the tree holds it, so it is served from n->tiles after its
 * first request; partial ones grow with the log and are built every time. */
void net__h_tile(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *path = httpd_req_path(req) + strlen("/log/");
    wire_tile t;
    net__tent *e = NULL;
    uint8_t *out = NULL;
    size_t len = 0;
    tally_status st = TALLY_OK;

    if (wire_tile_parse(path, strlen(path), &t) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_BAD_REQUEST, "malformed tile path (c2sp.org/tlog-tiles)",
                  NULL);
        return;
    }
    bool full = t.width == 256;
    unsigned level = t.kind == WIRE_TILE_HASH ? t.level : 0;
    if (full) {
        e = net__tcache_get(n->tiles, (unsigned)t.kind, level, t.index);
    }
    if (e == NULL) {
        st = build_tile(n, &t, store_size(n->store), &out, &len);
        if (st == TALLY_OK && full && n->tiles != NULL) {
            e = net__tcache_put(n->tiles, (unsigned)t.kind, level, t.index, out, len);
            out = NULL; /* the cache owns it now, or freed it */
            if (e == NULL) { /* out of memory, or over the cap */
                st = build_tile(n, &t, store_size(n->store), &out, &len);
            }
        }
    }
    if (st == TALLY_ENOTFOUND || st == TALLY_EINVAL) {
        net__fail(n, req, ctx, WIRE_NOT_FOUND, "no such tile at this tree size", NULL);
        return;
    }
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the tile", NULL);
        return;
    }
    net__rate_headers(req, ctx);
    net__header(req, "Cache-Control", IMMUTABLE);
    if (e != NULL) {
        reply_cached(n, req, e); /* takes e's reference */
        return;
    }
    httpd_req_reply(req, 200, OCTETS, out, len);
    free(out);
}

static json_t *path_json(const uint8_t (*p)[32], size_t k)
{
    json_t *a = json_array();
    char hex[65];

    for (size_t i = 0; a != NULL && i < k; i++) {
        hex32(p[i], hex);
        json_array_append_new(a, json_string(hex));
    }
    return a;
}

static void fail_query(net_node *n, httpd_req *req, net__ctx *ctx, const wire_fail *wf)
{
    json_t *d = json_pack("{s:s}", "field", wf->field);
    net__fail(n, req, ctx, WIRE_BAD_REQUEST, wf->message, d);
    json_decref(d);
}

static void inclusion(net_node *n, httpd_req *req, net__ctx *ctx, uint64_t size)
{
    wire_qparam q[2] = {{.key = "seq", .max = UINT64_MAX}, {.key = "size", .max = UINT64_MAX}};
    wire_fail wf;
    uint8_t path[STORE_PROOF_MAX][32];
    size_t k;
    store_iter *it = NULL;
    store_record rec;
    char leaf[65];

    if (wire_query_params(httpd_req_query(req), q, 2, &wf) != TALLY_OK || !q[0].present) {
        if (!q[0].present) {
            snprintf(wf.field, sizeof(wf.field), "seq");
            snprintf(wf.message, sizeof(wf.message), "query seq is required");
        }
        fail_query(n, req, ctx, &wf);
        return;
    }
    uint64_t s = q[0].u, m = q[1].present ? q[1].u : size;
    if (!(s < m && m <= size)) {
        net__fail(n, req, ctx, WIRE_RANGE_INVALID, "needs 0 ≤ seq < size ≤ the tree size", NULL);
        return;
    }
    tally_status st = store_proof_inclusion(n->store, s, m, path, &k);
    if (st == TALLY_OK) {
        st = store_iter_open(n->store, s, &it);
    }
    if (st == TALLY_OK) {
        st = store_iter_next(it, &rec);
    }
    if (st == TALLY_OK) {
        hex32(rec.leaf_hash, leaf);
    }
    store_iter_close(it);
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot build the proof", NULL);
        return;
    }
    json_t *o = json_pack("{s:I, s:I, s:s, s:o}", "seq", (json_int_t)s, "size", (json_int_t)m,
                          "leaf_hash", leaf, "path", path_json(path, k));
    net__reply_json_cc(n, req, ctx, 200, o,
                       q[1].present ? IMMUTABLE : "public, max-age=1");
    json_decref(o);
}

static void consistency(net_node *n, httpd_req *req, net__ctx *ctx, uint64_t size)
{
    wire_qparam q[2] = {{.key = "from", .max = UINT64_MAX}, {.key = "to", .max = UINT64_MAX}};
    wire_fail wf;
    uint8_t path[STORE_PROOF_MAX][32];
    size_t k;

    if (wire_query_params(httpd_req_query(req), q, 2, &wf) != TALLY_OK || !q[0].present ||
        !q[1].present) {
        if (q[0].present != q[1].present || !q[0].present) {
            snprintf(wf.field, sizeof(wf.field), "%s", q[0].present ? "to" : "from");
            snprintf(wf.message, sizeof(wf.message), "query from and to are required");
        }
        fail_query(n, req, ctx, &wf);
        return;
    }
    if (!(q[0].u >= 1 && q[0].u <= q[1].u && q[1].u <= size)) {
        net__fail(n, req, ctx, WIRE_RANGE_INVALID, "needs 1 ≤ from ≤ to ≤ the tree size", NULL);
        return;
    }
    if (store_proof_consistency(n->store, q[0].u, q[1].u, path, &k) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot build the proof", NULL);
        return;
    }
    json_t *o = json_pack("{s:I, s:I, s:o}", "from", (json_int_t)q[0].u, "to",
                          (json_int_t)q[1].u, "path", path_json(path, k));
    net__reply_json_cc(n, req, ctx, 200, o, IMMUTABLE);
    json_decref(o);
}

/* GET /v1/proof/inclusion?seq=&size= and /v1/proof/consistency?from=&to= (RFC 9162). */
void net__h_proof(net_node *n, httpd_req *req, net__ctx *ctx)
{
    uint64_t size = store_size(n->store);

    if (strcmp(httpd_req_path(req), "/v1/proof/inclusion") == 0) {
        inclusion(n, req, ctx, size);
    } else {
        consistency(n, req, ctx, size);
    }
}

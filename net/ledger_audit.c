/* Checkpoints, attestations and finality on the ledger listener (protocol §6.5–§6.6). The
 * cycles and attestations come from one ledger_finality_state folded on demand to the head
 * (ledger/finality.c: the same fold the auditor and the CLI run). POST /v1/attestations goes
 * through the writer, whose admission hook is the acceptance rules' check_attestation; the door
 * checks here only answer early what the writer would refuse, plus the exact
 * state_seq < tree_size bound the rules cannot see (docs/ledger-api.md). Checkpoint blobs are
 * read from DIR/checkpoints/<cycle>.zst directly, so the stored zstd frame can be sent as is to a
 * client that accepts zstd (store/ has no call that returns the frame undecoded). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

#define STATE_MEDIA "application/vnd.tally.state+msgpack"
#define LIST_MAX 500u

tally_status net__fin_lock(net_node *n, ledger_finality_state **out)
{
    tally_status st = TALLY_OK;

    *out = NULL;
    pthread_mutex_lock(&n->fin_mu);
    if (n->fin == NULL) {
        st = ledger_finality_new(&n->fin);
    }
    if (st == TALLY_OK) {
        st = ledger_finality_update(n->fin, n->store, store_size(n->store));
    }
    if (st != TALLY_OK) {
        ledger_finality_free(n->fin); /* unusable after a failed fold: start again next time */
        n->fin = NULL;
        pthread_mutex_unlock(&n->fin_mu);
        return st;
    }
    *out = n->fin;
    return TALLY_OK;
}

static void hex32(const uint8_t *p, char out[65])
{
    schema_hex(p, 32, out);
}

static void fail_query(net_node *n, httpd_req *req, net__ctx *ctx, const wire_fail *wf)
{
    json_t *d = json_pack("{s:s}", "field", wf->field);
    net__fail(n, req, ctx, WIRE_BAD_REQUEST, wf->message, d);
    json_decref(d);
}

static bool cycle_final(const ledger_cycle_meta *c)
{
    return c->complete && c->k > 0 && c->passes >= c->k;
}

/* GET /v1/checkpoints?epoch=&after=&limit= (public metadata). */
void net__h_checkpoints(net_node *n, httpd_req *req, net__ctx *ctx)
{
    wire_qparam q[3] = {{.key = "epoch"}, {.key = "after"}, {.key = "limit", .max = LIST_MAX}};
    ledger_finality_state *fin;
    const ledger_cycle_meta *cy;
    size_t nc, sent = 0;
    wire_fail wf;
    json_t *items = json_array();
    uint64_t last = 0;
    bool more = false;

    if (wire_query_params(httpd_req_query(req), q, 3, &wf) != TALLY_OK ||
        (q[2].present && q[2].u == 0)) {
        json_decref(items);
        if (q[2].present && q[2].u == 0) {
            snprintf(wf.field, sizeof(wf.field), "limit");
            snprintf(wf.message, sizeof(wf.message), "query limit: 1 to 500");
        }
        fail_query(n, req, ctx, &wf);
        return;
    }
    size_t limit = q[2].present ? (size_t)q[2].u : LIST_MAX;
    if (items == NULL || net__fin_lock(n, &fin) != TALLY_OK) {
        json_decref(items);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the cycles", NULL);
        return;
    }
    cy = ledger_finality_cycles(fin, &nc);
    for (size_t i = 0; i < nc; i++) {
        const ledger_cycle_meta *c = &cy[i];
        char sh[65];
        if (!c->complete || (q[0].present && c->epoch != q[0].u) ||
            (q[1].present && c->cycle <= q[1].u)) {
            continue;
        }
        if (sent == limit) {
            more = true;
            break;
        }
        hex32(c->state_hash, sh);
        json_array_append_new(
            items, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:b}", "cycle",
                             (json_int_t)c->cycle, "epoch", (json_int_t)c->epoch, "as_of_ms",
                             (json_int_t)c->as_of_ms, "covers_to", (json_int_t)c->covers_to,
                             "cycle_seq", (json_int_t)c->cycle_seq, "state_seq",
                             (json_int_t)c->state_seq, "state_hash", sh, "tree_size",
                             (json_int_t)(c->state_seq + 1), "state_len",
                             (json_int_t)c->state_len, "final", cycle_final(c)));
        last = c->cycle, sent++;
    }
    pthread_mutex_unlock(&n->fin_mu);
    char cur[24];
    snprintf(cur, sizeof(cur), "%" PRIu64, last);
    json_t *o = json_pack("{s:o, s:o}", "items", items, "next_cursor",
                          more ? json_string(cur) : json_null());
    net__reply_json_cc(n, req, ctx, 200, o, "public, max-age=5");
    json_decref(o);
}

/* The stored frame of a cycle's checkpoint, read whole. */
static tally_status read_frame(net_node *n, uint64_t cycle, uint8_t **out, size_t *n_out)
{
    char path[4200];
    FILE *f;
    long len;
    uint8_t *buf;

    *out = NULL, *n_out = 0;
    snprintf(path, sizeof(path), "%s/checkpoints/%" PRIu64 ".zst", n->dir, cycle);
    f = fopen(path, "rb");
    if (f == NULL) {
        return errno == ENOENT ? TALLY_ENOTFOUND : TALLY_EIO;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > (long)ENGINE_STATE_MAX ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return TALLY_EIO;
    }
    buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf == NULL) {
        fclose(f);
        return TALLY_ENOMEM;
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return TALLY_EIO;
    }
    fclose(f);
    *out = buf, *n_out = (size_t)len;
    return TALLY_OK;
}

/* GET /v1/checkpoints/<cycle> and /v1/checkpoints/latest (gated). */
void net__h_checkpoint_blob(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *v = httpd_req_path(req) + strlen("/v1/checkpoints/");
    bool latest = strcmp(v, "latest") == 0;
    uint64_t cycle = 0;
    ledger_finality_state *fin;
    ledger_cycle_meta c = {0};
    uint8_t *body = NULL;
    size_t len = 0;
    bool found = false, zstd = httpd_req_accepts_zstd(req);
    tally_status st;

    if (!latest && (!wire_decimal_parse(v, strlen(v), UINT32_MAX, &cycle) || cycle == 0)) {
        net__fail(n, req, ctx, WIRE_BAD_REQUEST, "the cycle is a decimal 1.., or latest", NULL);
        return;
    }
    if (net__fin_lock(n, &fin) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the cycles", NULL);
        return;
    }
    size_t nc;
    const ledger_cycle_meta *cy = ledger_finality_cycles(fin, &nc);
    for (size_t i = nc; i > 0 && !found; i--) {
        if (cy[i - 1].complete && (latest || cy[i - 1].cycle == cycle)) {
            c = cy[i - 1], found = true;
        }
    }
    pthread_mutex_unlock(&n->fin_mu);
    if (!found) {
        net__fail(n, req, ctx, WIRE_NOT_FOUND, "no checkpoint of this cycle in the log", NULL);
        return;
    }
    st = zstd ? read_frame(n, c.cycle, &body, &len)
              : store_checkpoint_get(n->store, c.cycle, c.state_hash, &body, &len);
    if (st == TALLY_ENOTFOUND) {
        net__fail(n, req, ctx, WIRE_NOT_FOUND, "the checkpoint file is not kept here", NULL);
        return;
    }
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the checkpoint", NULL);
        return;
    }
    char sh[65], etag[68], num[24];
    hex32(c.state_hash, sh);
    snprintf(etag, sizeof(etag), "\"%s\"", sh);
    net__rate_headers(req, ctx);
    net__header(req, "ETag", etag);
    snprintf(num, sizeof(num), "%" PRIu64, c.cycle);
    net__header(req, "Tally-Cycle", num);
    net__header(req, "Tally-State-Hash", sh);
    snprintf(num, sizeof(num), "%" PRIu64, c.state_seq + 1);
    net__header(req, "Tally-Tree-Size", num);
    net__header(req, "Cache-Control",
                latest ? "private, max-age=5" : "private, max-age=31536000, immutable");
    if (zstd) {
        httpd_req_reply_zstd_frame(req, 200, STATE_MEDIA, body, len);
    } else {
        httpd_req_reply(req, 200, STATE_MEDIA, body, len);
    }
    free(body);
}

static const char *verdict_name(uint64_t v)
{
    return v == 1 ? "pass" : v == 2 ? "fail" : v == 3 ? "paused" : "?";
}

static const char *reason_name(uint64_t r)
{
    static const char *const names[] = {"none",         "derived_mismatch", "state_mismatch",
                                        "ingest_rule_violation", "signature_invalid",
                                        "split_view",   "recompute_rate",   "other"};
    return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

static json_t *attestation_json(const ledger_attestation *x)
{
    char key[65], root[65], sh[65], wh[65], hk[49] = "";

    hex32(x->key, key), hex32(x->a.root, root), hex32(x->a.state_hash, sh);
    hex32(x->a.weights_hash, wh);
    if (x->eligible) {
        schema_ss58_encode(x->hotkey, hk);
    }
    return json_pack("{s:I, s:I, s:s, s:o, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:b, "
                     "s:s?}",
                     "seq", (json_int_t)x->seq, "time_ms", (json_int_t)x->time_ms, "auditor",
                     key, "hotkey", x->eligible ? json_string(hk) : json_null(), "nonce",
                     (json_int_t)x->a.nonce, "cycle", (json_int_t)x->a.cycle, "tree_size",
                     (json_int_t)x->a.tree_size, "root", root, "state_hash", sh, "weights_hash",
                     wh, "verdict", verdict_name(x->a.verdict), "reason",
                     reason_name(x->a.reason), "divergent_seq",
                     x->a.has_divergent_seq ? json_integer((json_int_t)x->a.divergent_seq)
                                            : json_null(),
                     "eligible", x->eligible, "counted",
                     x->pass ? "pass" : x->fail ? "fail" : NULL);
}

/* GET /v1/attestations?cycle=&auditor=&cursor=&limit= (public). cursor: the seq of the last
 * attestation of the previous page. */
void net__h_attest_list(net_node *n, httpd_req *req, net__ctx *ctx)
{
    wire_qparam q[4] = {{.key = "cycle", .max = UINT32_MAX},
                        {.key = "auditor", .hex32 = true},
                        {.key = "cursor", .max = UINT64_MAX},
                        {.key = "limit", .max = LIST_MAX}};
    ledger_finality_state *fin;
    wire_fail wf;
    size_t na, sent = 0;
    uint64_t last = 0;
    bool more = false;

    if (wire_query_params(httpd_req_query(req), q, 4, &wf) != TALLY_OK ||
        (q[3].present && q[3].u == 0)) {
        if (q[3].present && q[3].u == 0) {
            snprintf(wf.field, sizeof(wf.field), "limit");
            snprintf(wf.message, sizeof(wf.message), "query limit: 1 to 500");
        }
        fail_query(n, req, ctx, &wf);
        return;
    }
    size_t limit = q[3].present ? (size_t)q[3].u : LIST_MAX;
    json_t *items = json_array();
    if (items == NULL || net__fin_lock(n, &fin) != TALLY_OK) {
        json_decref(items);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the attestations", NULL);
        return;
    }
    const ledger_attestation *att = ledger_finality_attestations(fin, &na);
    for (size_t i = 0; i < na; i++) {
        const ledger_attestation *x = &att[i];
        if ((q[0].present && x->a.cycle != q[0].u) ||
            (q[1].present && memcmp(x->key, q[1].hex, 32) != 0) ||
            (q[2].present && x->seq <= q[2].u)) {
            continue;
        }
        if (sent == limit) {
            more = true;
            break;
        }
        json_array_append_new(items, attestation_json(x));
        last = x->seq, sent++;
    }
    pthread_mutex_unlock(&n->fin_mu);
    char cur[24];
    snprintf(cur, sizeof(cur), "%" PRIu64, last);
    json_t *o = json_pack("{s:o, s:o}", "items", items, "next_cursor",
                          more ? json_string(cur) : json_null());
    net__reply_json_cc(n, req, ctx, 200, o, "public, max-age=5");
    json_decref(o);
}

static json_t *keys_json(const uint8_t (*k)[32], size_t n)
{
    json_t *a = json_array();
    char hex[65];

    for (size_t i = 0; a != NULL && i < n; i++) {
        hex32(k[i], hex);
        json_array_append_new(a, json_string(hex));
    }
    return a;
}

/* GET /v1/finality[?cycle=] (public). */
void net__h_finality(net_node *n, httpd_req *req, net__ctx *ctx)
{
    wire_qparam q[1] = {{.key = "cycle", .max = UINT32_MAX}};
    ledger_finality_state *fin;
    ledger_finality_result r;
    wire_fail wf;
    tally_status st;

    if (wire_query_params(httpd_req_query(req), q, 1, &wf) != TALLY_OK) {
        fail_query(n, req, ctx, &wf);
        return;
    }
    if (net__fin_lock(n, &fin) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the cycles", NULL);
        return;
    }
    st = ledger_finality_get(fin, q[0].present ? q[0].u : 0, &r);
    pthread_mutex_unlock(&n->fin_mu);
    if (st == TALLY_ENOTFOUND || (st == TALLY_OK && q[0].present && q[0].u == 0)) {
        ledger_finality_result_release(&r);
        net__fail(n, req, ctx, WIRE_NOT_FOUND, "no such cycle in the log", NULL);
        return;
    }
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot compute finality", NULL);
        return;
    }
    char sh[65], wh[65];
    hex32(r.meta.state_hash, sh), hex32(r.meta.weights_hash, wh);
    ops_metric_set(n->metrics, OPS_M_FINALITY_FINAL_CYCLE, NULL, (double)r.latest_final_cycle);
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:I, s:I, s:o, s:o, s:b, s:b, s:I}", "cycle",
                          (json_int_t)r.meta.cycle, "state_seq", (json_int_t)r.meta.state_seq,
                          "state_hash", sh, "weights_hash", wh, "k", (json_int_t)r.meta.k, "m",
                          (json_int_t)r.meta.m, "passes", keys_json(r.passes, r.n_passes),
                          "fails", keys_json(r.fails, r.n_fails), "final", r.final, "disputed",
                          r.disputed, "latest_final_cycle", (json_int_t)r.latest_final_cycle);
    ledger_finality_result_release(&r);
    net__reply_json_cc(n, req, ctx, 200, o, "public, max-age=5");
    json_decref(o);
}

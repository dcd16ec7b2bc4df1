/* Auditors as witnesses (protocol §6.6a): POST /v1/cosignatures takes an eligible auditor's
 * C2SP cosignature (cosignature/v1) of one of the node's checkpoints and keeps, per auditor key,
 * the one of the largest size (side table STORE_SIDE_COSIGS: key = the auditor's key, value =
 * u64 BE tree size ‖ the signature line with its newline); GET /log/checkpoint appends the lines
 * of the auditors still eligible whose latest cosignature is for the current size; GET
 * /v1/cosignatures?size=N lists the stored ones of size N. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

#define COSIG_BODY_MAX 1024u /* one signature line (§10 leaves it open: docs/ledger-api.md) */
#define COSIG_TRY_HEADS 64u  /* recent heads a cosignature may be for */

static uint64_t rd_be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* The cosigner name of an auditor: <hotkey SS58>.audit.<origin>. */
static void cosigner_name(const net_node *n, const uint8_t hotkey[32], char *out, size_t cap)
{
    char ss58[49];

    schema_ss58_encode(hotkey, ss58);
    snprintf(out, cap, "%s.audit.%s", ss58, n->origin);
}

typedef struct heads {
    schema_sth sth[COSIG_TRY_HEADS];
    size_t n;
} heads;

static bool keep_head(const schema_sth *s, void *arg)
{
    heads *h = arg;

    /* a ring of the latest COSIG_TRY_HEADS heads, oldest overwritten */
    h->sth[h->n % COSIG_TRY_HEADS] = *s;
    h->n++;
    return true;
}

void net__h_cosign(net_node *n, httpd_req *req, net__ctx *ctx)
{
    tally_bytes body = httpd_req_body(req);
    char name[STORE_NOTE_NAME_MAX + 1], vkey[STORE_NOTE_NAME_MAX + 128];
    heads *h = NULL;
    uint64_t size = 0, ts;
    bool found = false;
    tally_status st;

    if (body.n == 0 || body.n > COSIG_BODY_MAX || memchr(body.p, '\n', body.n) == NULL ||
        memchr(body.p, '\n', body.n) != (const void *)(body.p + body.n - 1)) {
        net__fail(n, req, ctx, WIRE_MALFORMED_BODY, "the body must be one signature line", NULL);
        return;
    }
    cosigner_name(n, ctx->bind.hotkey, name, sizeof(name));
    if (store_cosig_vkey(name, ctx->auth.key, vkey, sizeof(vkey)) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot name the cosigner", NULL);
        return;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL || store_sth_each(n->store, keep_head, h) != TALLY_OK) {
        free(h);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the tree heads", NULL);
        return;
    }
    /* the newest head first: a witness cosigns what it just verified */
    for (size_t i = 0; i < COSIG_TRY_HEADS && i < h->n && !found; i++) {
        const schema_sth *s = &h->sth[(h->n - 1 - i) % COSIG_TRY_HEADS];
        char text[512];
        size_t tn;
        if (store_note_text(s->origin, s->tree_size, s->root, text, sizeof(text), &tn) !=
            TALLY_OK) {
            continue;
        }
        st = store_cosig_verify(text, tn, (const char *)body.p, body.n, vkey, &ts);
        if (st == TALLY_OK) {
            found = true, size = s->tree_size;
        } else if (st == TALLY_EFORMAT || st == TALLY_ENOTFOUND) {
            break; /* malformed, or not under this auditor's name and key: no head will do */
        }
    }
    free(h);
    if (!found) {
        json_t *d = json_pack("{s:s}", "cosigner", name);
        net__fail(n, req, ctx, WIRE_COSIGNATURE_INVALID,
                  "the line is not this auditor's cosignature of one of the node's recent "
                  "checkpoints",
                  d);
        json_decref(d);
        return;
    }
    /* keep the largest size per auditor */
    {
        uint8_t old[8 + COSIG_BODY_MAX], val[8 + COSIG_BODY_MAX];
        size_t on = 0;
        bool have = false;
        st = store_side_get(n->store, STORE_SIDE_COSIGS, ctx->auth.key, 32, old, sizeof(old), &on,
                            &have);
        if (st == TALLY_OK && (!have || on < 8 || rd_be64(old) <= size)) {
            for (unsigned i = 0; i < 8; i++) {
                val[i] = (uint8_t)(size >> (56 - 8 * i));
            }
            memcpy(val + 8, body.p, body.n);
            st = store_side_put(n->store, STORE_SIDE_COSIGS, ctx->auth.key, 32, val, 8 + body.n);
        }
        if (st != TALLY_OK) {
            net__fail(n, req, ctx, st == TALLY_EFULL ? WIRE_STORAGE_FULL : WIRE_INTERNAL_ERROR,
                      "the cosignature could not be stored", NULL);
            return;
        }
    }
    OPS_LOG(n->log, OPS_INFO, "net", "cosignature_stored", OPS_FH("key", ctx->auth.key, 32),
            OPS_FU("tree_size", size));
    json_t *o = json_pack("{s:b, s:I}", "success", 1, "tree_size", (json_int_t)size);
    net__reply_json(n, req, ctx, 200, o);
    json_decref(o);
}

/* ---- reading them back ---- */

typedef struct cosig_walk {
    net_node *n;
    uint64_t size;     /* the size wanted */
    bool eligible;     /* only auditors eligible now (the checkpoint) */
    char *buf;         /* lines gathered */
    size_t len, cap;
    json_t *list;      /* or: JSON items */
} cosig_walk;

static bool each_cosig(void *arg, tally_bytes key, tally_bytes val)
{
    cosig_walk *w = arg;
    engine_binding bind;
    const char *reason;

    if (key.n != 32 || val.n <= 8 || rd_be64(val.p) != w->size) {
        return true;
    }
    if (w->eligible && net__eligible(w->n, key.p, &bind, &reason) != WIRE_OK) {
        return true; /* a witness no longer eligible is not shown */
    }
    if (w->list != NULL) {
        char hex[65];
        schema_hex(key.p, 32, hex);
        json_array_append_new(w->list, json_pack("{s:s, s:s#}", "key", hex, "line",
                                                 (const char *)val.p + 8, (int)(val.n - 8)));
        return true;
    }
    if (w->len + val.n - 8 < w->cap) {
        memcpy(w->buf + w->len, val.p + 8, val.n - 8);
        w->len += val.n - 8;
    }
    return true;
}

size_t net__cosig_lines(net_node *n, uint64_t size, char *buf, size_t cap)
{
    cosig_walk w = {.n = n, .size = size, .eligible = true, .buf = buf, .cap = cap};

    if (store_side_each(n->store, STORE_SIDE_COSIGS, each_cosig, &w) != TALLY_OK) {
        return 0;
    }
    return w.len;
}

void net__h_cosig_list(net_node *n, httpd_req *req, net__ctx *ctx)
{
    wire_qparam q[1] = {{.key = "size", .max = UINT64_MAX >> 1}};
    wire_fail wf;
    cosig_walk w = {.n = n};

    if (wire_query_params(httpd_req_query(req), q, 1, &wf) != TALLY_OK || !q[0].present) {
        net__fail(n, req, ctx, WIRE_BAD_REQUEST, "size=<n> is required", NULL);
        return;
    }
    w.size = q[0].u;
    w.list = json_array();
    if (w.list == NULL || store_side_each(n->store, STORE_SIDE_COSIGS, each_cosig, &w) != TALLY_OK) {
        json_decref(w.list);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the cosignatures", NULL);
        return;
    }
    json_t *o = json_pack("{s:I, s:o}", "size", (json_int_t)w.size, "cosignatures", w.list);
    net__reply_json(n, req, ctx, 200, o);
    json_decref(o);
}

/* A node's ledger API read as a log (audit.h, `tally diff URL`): only what is public, and only
 * what verifies. The node's /v1/info names its origin and key; its /log/checkpoint must verify
 * with that key; every level-0 hash tile is fetched at open and the tree they give must have the
 * root the checkpoint signs; every header an entry bundle serves must hash to its leaf in those
 * tiles. Bodies come from body bundles (public records; the others are not served, as a
 * replica's withheld bodies are not held). */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditor/audit_int.h"
#include "client/client.h"
#include "ledger/ledger.h"
#include "store/store.h"
#include "wire/wire.h"

struct audit_remote {
    char name[CLIENT_HOST_MAX + 64];
    client_conn *c;
    char origin[SCHEMA_ORIGIN_MAX + 1];
    uint8_t key[32], root[32];
    uint64_t size;
    uint8_t (*leaves)[32];
};

/* GET target; the 200 answer's body in *r (the caller frees it), else a sentence. */
static tally_status get(audit_remote *rm, const char *target, client_response **r, char *detail)
{
    client_request rq = {.method = "GET", .target = target, .accept_zstd = true};
    /* a whole log is many requests: the node's rate limits are waited out */
    tally_status st = audit__client_do(rm->c, &rq, r, NULL);

    if (st != TALLY_OK) {
        return audit__say(detail, st, "GET %s%s: %s", rm->name, target, client_error(rm->c));
    }
    if (client_response_status(*r) != 200) {
        unsigned code = client_response_status(*r);
        client_response_free(*r);
        *r = NULL;
        return audit__say(detail, TALLY_EIO, "GET %s%s: HTTP %u", rm->name, target, code);
    }
    return TALLY_OK;
}

static tally_status tile_path(wire_tile_kind kind, uint64_t index, unsigned width, char *out,
                              size_t cap)
{
    wire_tile t = {.kind = kind, .level = 0, .index = index, .width = width};
    char rel[WIRE_TILE_PATH_MAX];
    size_t n;
    tally_status st = wire_tile_format(&t, rel, sizeof(rel), &n);

    if (st == TALLY_OK) {
        snprintf(out, cap, "/log/%s", rel);
    }
    return st;
}

/* RFC 9162 §2.1.1: the hash of the tree over leaves[0..n). */
static void mth(const uint8_t (*leaves)[32], uint64_t n, uint8_t out[32])
{
    uint64_t k = 1;
    uint8_t l[32], r[32];

    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    while (k << 1 < n) {
        k <<= 1;
    }
    mth(leaves, k, l);
    mth(leaves + k, n - k, r);
    store_node_hash(l, r, out);
}

static tally_status fetch_tiles(audit_remote *rm, char *detail)
{
    uint8_t root[32];

    size_t cap = 0;

    /* the size is the node's word until its tiles give the root: the leaves grow as tiles
     * arrive, never allocated from the claim */
    if (rm->size > SIZE_MAX / 32 - 256) {
        return audit__say(detail, TALLY_ELIMIT, "%s: a checkpoint of %" PRIu64 " records", rm->name,
                          rm->size);
    }
    for (uint64_t ix = 0; ix * 256 < rm->size; ix++) {
        uint64_t left = rm->size - ix * 256;
        unsigned w = left < 256 ? (unsigned)left : 256u;
        char target[96];
        client_response *r = NULL;
        tally_status st = tile_path(WIRE_TILE_HASH, ix, w, target, sizeof(target));
        if (st == TALLY_OK) {
            st = get(rm, target, &r, detail);
        }
        if (st != TALLY_OK) {
            return st;
        }
        tally_bytes b = client_response_body(r);
        if (b.n != (size_t)w * 32) {
            client_response_free(r);
            return audit__say(detail, TALLY_EFORMAT, "%s%s: %zu bytes, not %u hashes", rm->name,
                              target, b.n, w);
        }
        if (ix * 256 + w > cap) {
            size_t nc = cap ? 2 * cap : 4096;
            while (nc < ix * 256 + w) {
                nc *= 2;
            }
            uint8_t(*g)[32] = realloc(rm->leaves, nc * 32);
            if (g == NULL) {
                client_response_free(r);
                return TALLY_ENOMEM;
            }
            rm->leaves = g, cap = nc;
        }
        memcpy(rm->leaves[ix * 256], b.p, b.n);
        client_response_free(r);
    }
    if (rm->size == 0) {
        return TALLY_OK;
    }
    mth((const uint8_t(*)[32])rm->leaves, rm->size, root);
    if (memcmp(root, rm->root, 32) != 0) {
        return audit__say(detail, TALLY_ECORRUPT,
                          "%s: the hash tiles do not give the root its checkpoint of %" PRIu64
                          " records signs",
                          rm->name, rm->size);
    }
    return TALLY_OK;
}

tally_status audit_remote_open(const char *url, audit_remote **out, char *detail)
{
    client_url u;
    audit_remote *rm;
    client_response *r = NULL;
    char vkey[512];
    tally_status st;

    *out = NULL;
    if (client_url_parse(url, &u) != TALLY_OK || strcmp(u.target, "/") != 0) {
        return audit__say(detail, TALLY_EINVAL, "%s is not http://host:port of a ledger listener",
                          url);
    }
    rm = calloc(1, sizeof(*rm));
    if (rm == NULL) {
        return TALLY_ENOMEM;
    }
    snprintf(rm->name, sizeof(rm->name), "%s", url);
    {
        size_t n = strlen(rm->name);
        if (n > 0 && rm->name[n - 1] == '/') {
            rm->name[n - 1] = '\0';
        }
    }
    client_cfg cc = {.host = u.host, .port = u.port};
    st = client_open(&cc, &rm->c);
    if (st == TALLY_OK) {
        st = get(rm, "/v1/info", &r, detail);
    }
    if (st == TALLY_OK) {
        tally_bytes b = client_response_body(r);
        json_t *o = json_loadb((const char *)b.p, b.n, 0, NULL);
        const char *org = json_string_value(json_object_get(o, "origin"));
        const char *k = json_string_value(json_object_get(o, "node_key"));
        if (org == NULL || k == NULL || strlen(org) > SCHEMA_ORIGIN_MAX ||
            schema_unhex(k, strlen(k), rm->key, 32) != TALLY_OK) {
            st = audit__say(detail, TALLY_EFORMAT, "%s/v1/info names no origin and node key",
                            rm->name);
        } else {
            snprintf(rm->origin, sizeof(rm->origin), "%s", org);
        }
        json_decref(o);
        client_response_free(r);
        r = NULL;
    }
    if (st == TALLY_OK && store_vkey(rm->origin, rm->key, vkey, sizeof(vkey)) != TALLY_OK) {
        st = audit__say(detail, TALLY_EFORMAT, "%s: origin %s", rm->name, rm->origin);
    }
    if (st == TALLY_OK) {
        st = get(rm, "/log/checkpoint", &r, detail);
    }
    if (st == TALLY_OK) {
        tally_bytes b = client_response_body(r);
        if (store_note_verify((const char *)b.p, b.n, vkey, &rm->size, rm->root) != TALLY_OK) {
            st = audit__say(detail, TALLY_EAUTH,
                            "%s: its checkpoint does not verify with the key its /v1/info names",
                            rm->name);
        }
        client_response_free(r);
    }
    if (st == TALLY_OK) {
        st = fetch_tiles(rm, detail);
    }
    if (st != TALLY_OK) {
        audit_remote_close(rm);
        return st;
    }
    *out = rm;
    return TALLY_OK;
}

void audit_remote_close(audit_remote *rm)
{
    if (rm == NULL) {
        return;
    }
    client_close(rm->c);
    free(rm->leaves);
    free(rm);
}

static tally_status remote_tile(void *arg, uint64_t index, unsigned width, uint8_t *out)
{
    audit_remote *rm = arg;

    if (index * 256 + width > rm->size) {
        return TALLY_ENOTFOUND;
    }
    memcpy(out, rm->leaves[index * 256], (size_t)width * 32);
    return TALLY_OK;
}

static tally_status remote_records(void *arg, uint64_t from, ledger_diff_record_fn fn, void *fn_arg)
{
    audit_remote *rm = arg;
    bool stop = false;
    tally_status st = TALLY_OK;

    for (uint64_t ix = from / 256; st == TALLY_OK && !stop && ix * 256 < rm->size; ix++) {
        uint64_t left = rm->size - ix * 256;
        unsigned w = left < 256 ? (unsigned)left : 256u;
        char te[96], tb[96];
        client_response *re = NULL, *rb = NULL;
        st = tile_path(WIRE_TILE_ENTRIES, ix, w, te, sizeof(te));
        if (st == TALLY_OK) {
            st = tile_path(WIRE_TILE_BODIES, ix, w, tb, sizeof(tb));
        }
        if (st == TALLY_OK) {
            st = get(rm, te, &re, NULL);
        }
        if (st == TALLY_OK) {
            st = get(rm, tb, &rb, NULL);
        }
        tally_bytes hs[256], bs[256];
        if (st == TALLY_OK) {
            tally_bytes be = client_response_body(re), bb = client_response_body(rb);
            if (wire_bundle_decode(be.p, be.n, w, hs) != TALLY_OK ||
                wire_bundle_decode(bb.p, bb.n, w, bs) != TALLY_OK) {
                st = TALLY_ECORRUPT; /* not a bundle of that width */
            }
        }
        if (st == TALLY_OK) {
            for (unsigned i = 0; st == TALLY_OK && !stop && i < w; i++) {
                tally_bytes h = hs[i], body = bs[i];
                uint8_t leaf[32];
                uint64_t seq = ix * 256 + i;
                store_leaf_hash(h.p, h.n, leaf);
                if (memcmp(leaf, rm->leaves[seq], 32) != 0) {
                    st = TALLY_ECORRUPT; /* a header that is not the one the tree commits to */
                    break;
                }
                if (seq < from) {
                    continue;
                }
                st = fn(fn_arg, seq, h, body.n > 0 ? body : (tally_bytes){NULL, 0}, &stop);
            }
        }
        client_response_free(re);
        client_response_free(rb);
    }
    return st;
}

void audit_remote_source(audit_remote *rm, ledger_diff_source *out)
{
    memset(out, 0, sizeof(*out));
    out->name = rm->name;
    out->size = rm->size;
    snprintf(out->origin, sizeof(out->origin), "%s", rm->origin);
    memcpy(out->node_key, rm->key, 32);
    out->tile = remote_tile;
    out->records = remote_records;
    out->arg = rm;
}

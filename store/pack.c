/* Packs: when a 256-record bundle fills, the writer stores its 256 headers and bodies, in log
 * order, as one zstd frame, and drops them from the log and bodies tables, in the transaction
 * that appends the 256th record. bench/RESULTS.md has the measurement behind this: one frame per
 * bundle beats a trained dictionary per record type (ODDS_SUBMISSION bodies 158.8 → 89.0
 * bytes, against 125.2). The log and bodies tables then hold only the tail that is not yet a
 * full bundle (bodies still one copy per body_hash there); a body repeated in different
 * bundles is in each of their frames. A replica's pack holds length 0 for a body it lacks; a body
 * that arrives later is written into the frame, which is compressed anew.
 *
 * Pack value: u8 version (2) ‖ zstd frame (content size and checksum set) of 256 ×
 * (u16 BE header length ‖ header ‖ u16 BE body length ‖ body). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "store/store_int.h"

#define PACK_VERSION 2
#define PACK_RAW_MAX (256u * (4u + SCHEMA_HEADER_MAX + SCHEMA_BODY_MAX))
#define PACK_LEVEL 3

static tally_status tail_header(store_log *log, MDB_txn *txn, uint64_t seq, MDB_val *v,
                                uint8_t hash[32], uint64_t *tier)
{
    uint8_t key[8];
    MDB_val k = {8, key};
    schema_header h;
    int rc;

    store__be64(seq, key);
    rc = store__get(log, txn, log->log, &k, v);
    if (rc != 0) {
        return rc == MDB_NOTFOUND
                   ? store__corrupt(log->wdetail, "record %" PRIu64 " is missing from the tail", seq)
                   : store__status(rc);
    }
    if (schema_header_decode(v->mv_data, v->mv_size, &h) != TALLY_OK) {
        return store__corrupt(log->wdetail, "record %" PRIu64 ": the stored header does not decode",
                              seq);
    }
    memcpy(hash, h.body_hash, 32);
    *tier = h.tier;
    return TALLY_OK;
}

static tally_status pack_put(store_log *log, MDB_txn *txn, uint64_t bundle, size_t len,
                             unsigned flags);

tally_status store__pack_bundle(store_log *log, MDB_txn *txn, uint64_t bundle)
{
    uint8_t hashes[256][32];
    size_t len = 0;
    tally_status st = TALLY_OK;

    if (log->pack_raw == NULL) {
        log->pack_raw = store__malloc(log, PACK_RAW_MAX);
        if (log->pack_raw == NULL) {
            return TALLY_ENOMEM;
        }
    }
    for (unsigned i = 0; st == TALLY_OK && i < 256; i++) {
        const uint8_t *p;
        size_t n;
        uint64_t tier = 0;
        MDB_val hv;
        st = tail_header(log, txn, bundle * 256 + i, &hv, hashes[i], &tier);
        if (st == TALLY_OK) {
            log->pack_raw[len++] = (uint8_t)(hv.mv_size >> 8);
            log->pack_raw[len++] = (uint8_t)hv.mv_size;
            memcpy(log->pack_raw + len, hv.mv_data, hv.mv_size);
            len += hv.mv_size;
        }
        if (st == TALLY_OK) {
            st = store__body_get(txn, log->bodies, hashes[i], &p, &n);
            if (st == TALLY_ECORRUPT && log->replica && tier != SCHEMA_PUBLIC) {
                p = NULL, n = 0, st = TALLY_OK; /* withheld from the replica: length 0 */
            } else if (st == TALLY_ECORRUPT) {
                st = store__corrupt(log->wdetail, "record %" PRIu64 ": its body is missing",
                                    bundle * 256 + i);
            }
        }
        if (st == TALLY_OK) {
            log->pack_raw[len++] = (uint8_t)(n >> 8);
            log->pack_raw[len++] = (uint8_t)n;
            if (n > 0) {
                memcpy(log->pack_raw + len, p, n);
            }
            len += n;
        }
    }
    if (st == TALLY_OK) {
        st = pack_put(log, txn, bundle, len, MDB_APPEND);
    }
    /* the bundle's headers and bodies now live in the pack; a hash seen twice is deleted once */
    for (unsigned i = 0; st == TALLY_OK && i < 256; i++) {
        uint8_t key[8];
        MDB_val bk = {32, hashes[i]}, lk = {8, key};
        int rc;
        store__be64(bundle * 256 + i, key);
        rc = store__del(log, txn, log->log, &lk);
        if (rc == 0) {
            rc = store__del(log, txn, log->bodies, &bk);
        }
        if (rc != 0 && rc != MDB_NOTFOUND) {
            st = store__status(rc);
        }
    }
    return st;
}

/* Compresses the len bytes of log->pack_raw and stores them as pack `bundle`. */
static tally_status pack_put(store_log *log, MDB_txn *txn, uint64_t bundle, size_t len,
                             unsigned flags)
{
    uint8_t key[8];
    size_t bound, z;
    MDB_val k = {8, key}, v;

    if (log->pack_cctx == NULL) {
        log->pack_cctx = store__fault(log, STORE_FAULT_ALLOC) ? NULL : ZSTD_createCCtx();
        if (log->pack_cctx == NULL) {
            return TALLY_ENOMEM;
        }
        ZSTD_CCtx_setParameter(log->pack_cctx, ZSTD_c_compressionLevel, PACK_LEVEL);
        ZSTD_CCtx_setParameter(log->pack_cctx, ZSTD_c_checksumFlag, 1);
    }
    bound = ZSTD_compressBound(len);
    store__be64(bundle, key);
    /* reserve the bound, compress in place, then shrink to what zstd wrote */
    if (log->pack_buf_cap < bound + 1) {
        uint8_t *grown = store__realloc(log, log->pack_buf, bound + 1);
        if (grown == NULL) {
            return TALLY_ENOMEM;
        }
        log->pack_buf = grown, log->pack_buf_cap = bound + 1;
    }
    log->pack_buf[0] = PACK_VERSION;
    z = ZSTD_compress2(log->pack_cctx, log->pack_buf + 1, bound, log->pack_raw, len);
    if (ZSTD_isError(z)) {
        return TALLY_ENOMEM;
    }
    v.mv_data = log->pack_buf, v.mv_size = z + 1;
    return store__status(store__put(log, txn, log->packs, &k, &v, flags));
}

void store__pack_free(store_log *log)
{
    free(log->pack_raw);
    free(log->pack_buf);
    ZSTD_freeCCtx(log->pack_cctx);
    log->pack_raw = log->pack_buf = NULL;
    log->pack_cctx = NULL;
}

/* Loads and indexes pack `bundle` into the cache; TALLY_ECORRUPT if it is missing, does not
 * decompress (zstd's checksum included) or does not split into 256 bodies. */
static tally_status load_pack(MDB_txn *txn, MDB_dbi packs, store__pack_cache *c, uint64_t bundle)
{
    uint8_t key[8];
    MDB_val k = {8, key}, v;
    unsigned long long want;
    size_t got, pos = 0;
    int rc;

    c->valid = false;
    store__be64(bundle, key);
    rc = mdb_get(txn, packs, &k, &v);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? TALLY_ECORRUPT : store__status(rc);
    }
    if (v.mv_size < 2 || ((const uint8_t *)v.mv_data)[0] != PACK_VERSION) {
        return TALLY_ECORRUPT;
    }
    want = ZSTD_getFrameContentSize((const uint8_t *)v.mv_data + 1, v.mv_size - 1);
    if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN || want > PACK_RAW_MAX) {
        return TALLY_ECORRUPT;
    }
    if (c->cap < want) {
        uint8_t *grown = realloc(c->data, (size_t)want);
        if (grown == NULL) {
            return TALLY_ENOMEM;
        }
        c->data = grown, c->cap = (size_t)want;
    }
    if (c->dctx == NULL && (c->dctx = ZSTD_createDCtx()) == NULL) {
        return TALLY_ENOMEM;
    }
    got = ZSTD_decompressDCtx(c->dctx, c->data, c->cap, (const uint8_t *)v.mv_data + 1,
                              v.mv_size - 1);
    if (ZSTD_isError(got) || got != want) {
        return TALLY_ECORRUPT;
    }
    for (unsigned i = 0; i < 512; i++) {
        size_t n;
        if (got - pos < 2) {
            return TALLY_ECORRUPT;
        }
        n = (size_t)c->data[pos] << 8 | c->data[pos + 1];
        pos += 2;
        if (got - pos < n) {
            return TALLY_ECORRUPT;
        }
        c->off[i] = (uint32_t)pos; /* even: header of record i/2, odd: its body */
        c->len[i] = (uint16_t)n;
        pos += n;
    }
    if (pos != got) {
        return TALLY_ECORRUPT;
    }
    c->bundle = bundle;
    c->valid = true;
    return TALLY_OK;
}

tally_status store__record_at(MDB_txn *txn, const store_log *log, store__pack_cache *c,
                              uint64_t seq, uint64_t packed_below, tally_bytes *header,
                              tally_bytes *body)
{
    tally_status st;

    *header = (tally_bytes){NULL, 0};
    *body = (tally_bytes){NULL, 0};
    /* records below a full bundle in this snapshot are in packs; the tail is in the log and
     * bodies tables, unless the snapshot is newer than the size the caller knew of */
    if (seq >= packed_below) {
        uint8_t key[8];
        MDB_val k = {8, key}, v;
        schema_header h;
        int rc;
        store__be64(seq, key);
        rc = mdb_get(txn, log->log, &k, &v);
        if (rc == 0) {
            *header = (tally_bytes){v.mv_data, v.mv_size};
            if (schema_header_decode(v.mv_data, v.mv_size, &h) != TALLY_OK) {
                return TALLY_OK; /* no body to find: the caller's header check says why */
            }
            return store__body_get(txn, log->bodies, h.body_hash, &body->p, &body->n);
        }
        if (rc != MDB_NOTFOUND) {
            return store__status(rc);
        }
    }
    if (!c->valid || c->bundle != seq >> 8) {
        st = load_pack(txn, log->packs, c, seq >> 8);
        if (st != TALLY_OK) {
            return st == TALLY_ECORRUPT && seq >= packed_below ? TALLY_ENOTFOUND : st;
        }
    }
    *header = (tally_bytes){c->data + c->off[2 * (seq & 255)], c->len[2 * (seq & 255)]};
    if (c->len[2 * (seq & 255) + 1] == 0) {
        return TALLY_ECORRUPT; /* a body is never empty: length 0 is a body the log lacks */
    }
    *body = (tally_bytes){c->data + c->off[2 * (seq & 255) + 1], c->len[2 * (seq & 255) + 1]};
    return TALLY_OK;
}

tally_status store__pack_put_body(store_log *log, MDB_txn *txn, uint64_t seq, const uint8_t *body,
                                  size_t n, bool *added)
{
    store__pack_cache c = {0};
    unsigned at = 2 * (unsigned)(seq & 255) + 1;
    size_t len = 0;
    tally_status st;

    *added = false;
    if (log->pack_raw == NULL) {
        log->pack_raw = store__malloc(log, PACK_RAW_MAX);
        if (log->pack_raw == NULL) {
            return TALLY_ENOMEM;
        }
    }
    st = load_pack(txn, log->packs, &c, seq >> 8);
    if (st == TALLY_ECORRUPT) {
        st = store__corrupt(log->wdetail, "pack %" PRIu64 " is unreadable", seq >> 8);
    }
    if (st != TALLY_OK || c.len[at] != 0) {
        store__pack_cache_release(&c);
        return st;
    }
    /* the same 512 entries, with the body in its place; the frame is compressed anew */
    for (unsigned i = 0; i < 512; i++) {
        const uint8_t *p = i == at ? body : c.data + c.off[i];
        size_t m = i == at ? n : c.len[i];
        log->pack_raw[len++] = (uint8_t)(m >> 8);
        log->pack_raw[len++] = (uint8_t)m;
        if (m > 0) {
            memcpy(log->pack_raw + len, p, m);
        }
        len += m;
    }
    store__pack_cache_release(&c);
    st = pack_put(log, txn, seq >> 8, len, 0);
    *added = st == TALLY_OK;
    return st;
}

void store__pack_cache_release(store__pack_cache *c)
{
    ZSTD_freeDCtx(c->dctx);
    free(c->data);
    memset(c, 0, sizeof(*c));
}

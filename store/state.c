/* What binds a log to its node key, and the writer's view of the tree: signing and checking tree
 * heads, who may author which record, the GENESIS actor, and the tree edge, last head and time as
 * stored. The node key is the GENESIS actor: every head and every node record is judged against
 * it, never against the metadata alone, so replacing the metadata key (and node.key) does not
 * make a log someone else's. */
#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "store/store_int.h"

tally_status store__sth_sign(store_log *log, uint64_t size, const uint8_t root[32],
                             uint64_t time_ms, schema_sth *out)
{
    uint8_t msg[SCHEMA_STH_MAX];
    char text[256];
    size_t n;
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (log->sk == NULL) {
        return TALLY_EAUTH;
    }
    memcpy(out->origin, log->origin, strlen(log->origin));
    out->tree_size = size;
    memcpy(out->root, root, 32);
    out->time_ms = time_ms;
    memcpy(out->key, log->pk, 32);
    st = schema_sth_message(out, msg, sizeof(msg), &n);
    if (st != TALLY_OK) {
        return st;
    }
    crypto_sign_detached(out->sig, NULL, msg, n, log->sk);
    st = store_note_text(log->origin, size, root, text, sizeof(text), &n);
    if (st != TALLY_OK) {
        return st;
    }
    crypto_sign_detached(out->note_sig, NULL, (const uint8_t *)text, n, log->sk);
    return TALLY_OK;
}

tally_status store_sth_verify(const schema_sth *sth, const char *origin, const uint8_t node_pk[32])
{
    uint8_t msg[SCHEMA_STH_MAX];
    char text[256];
    size_t n;

    if (strcmp(sth->origin, origin) != 0 || memcmp(sth->key, node_pk, 32) != 0 ||
        schema_sth_message(sth, msg, sizeof(msg), &n) != TALLY_OK ||
        crypto_sign_verify_detached(sth->sig, msg, n, node_pk) != 0) {
        return TALLY_EAUTH;
    }
    if (store_note_text(sth->origin, sth->tree_size, sth->root, text, sizeof(text), &n) !=
            TALLY_OK ||
        crypto_sign_verify_detached(sth->note_sig, (const uint8_t *)text, n, node_pk) != 0) {
        return TALLY_EAUTH;
    }
    return TALLY_OK;
}

tally_status store__genesis_actor(store_log *log, MDB_txn *txn, uint8_t pk[32])
{
    store__pack_cache c = {0};
    uint64_t size = atomic_load(&log->published);
    tally_bytes hb, bb;
    schema_header h;
    tally_status st;

    memset(pk, 0, 32);
    if (size == 0) {
        return TALLY_ENOTFOUND;
    }
    st = store__record_at(txn, log, &c, 0, size / 256 * 256, &hb, &bb);
    if (st == TALLY_OK || (st == TALLY_ECORRUPT && hb.p != NULL)) {
        st = schema_header_decode(hb.p, hb.n, &h) == TALLY_OK && h.type == SCHEMA_GENESIS
                 ? TALLY_OK
                 : TALLY_ECORRUPT;
        if (st == TALLY_OK) {
            memcpy(pk, h.actor, 32);
        }
    }
    store__pack_cache_release(&c);
    return st == TALLY_ECORRUPT ? TALLY_ENOTFOUND : st;
}

/* ---- the writer's state as stored ---- */

static tally_status load_edge(store_log *log, MDB_txn *txn, char *dst)
{
    store__tree *t = &log->tree;
    uint64_t n = t->size, off = 0;
    tally_status st;

    memset(t, 0, sizeof(*t));
    t->size = n;
    for (int k = 63; k >= 0; k--) {
        if (n & (1ull << k)) {
            st = store__txn_hash(txn, log->tiles, (unsigned)k, off >> k, t->hash[t->n]);
            if (st != TALLY_OK) {
                return st == TALLY_ENOTFOUND
                           ? store__corrupt(dst, "a hash tile the latest head needs (records "
                                                 "%" PRIu64 "…) is missing", off)
                           : st;
            }
            t->level[t->n++] = (uint8_t)k;
            off += 1ull << k;
        }
    }
    for (unsigned tl = 0; tl < STORE__LEVELS; tl++) {
        uint64_t count = tl == 0 ? n : (8 * tl < 64 ? n >> (8 * tl) : 0);
        unsigned w = (unsigned)(count & 255);
        uint8_t key[9];
        MDB_val k, v;
        if (w == 0) {
            continue;
        }
        store__tile_key(tl, count >> 8, key);
        k.mv_data = key, k.mv_size = 9;
        if (mdb_get(txn, log->tiles, &k, &v) != 0 || v.mv_size < 32u * w) {
            return store__corrupt(dst, "the partial hash tile %u/%" PRIu64 " is missing or short",
                                  tl, count >> 8);
        }
        memcpy(t->edge[tl], v.mv_data, 32u * w);
        t->width[tl] = (uint16_t)w;
    }
    return TALLY_OK;
}

/* The latest stored head; has_sth false for an empty table. */
static tally_status load_head(store_log *log, MDB_txn *txn, char *dst)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, log->sth, &cur);

    log->has_sth = false;
    memset(&log->last_sth, 0, sizeof(log->last_sth));
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        mdb_cursor_close(cur);
    }
    if (rc == MDB_NOTFOUND) {
        return TALLY_OK;
    }
    if (rc != 0) {
        return store__status(rc);
    }
    if (schema_sth_decode(v.mv_data, v.mv_size, &log->last_sth) != TALLY_OK) {
        return store__corrupt(dst, "the latest tree head does not decode");
    }
    log->has_sth = true;
    return TALLY_OK;
}

tally_status store__load_state(store_log *log, MDB_txn *txn, char *dst)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t size;
    tally_status st = load_head(log, txn, dst);
    int rc;

    if (st != TALLY_OK) {
        return st;
    }
    size = log->has_sth ? log->last_sth.tree_size : 0;
    /* The tail in the log table is exactly the records after the last full bundle, and the
     * last record is the last one the latest head covers. */
    rc = mdb_cursor_open(txn, log->log, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return store__status(rc);
    }
    if (rc == 0 && (k.mv_size != 8 || store__rd_be64(k.mv_data) + 1 > size)) {
        return store__corrupt(dst, "the log holds records beyond its latest head (size %" PRIu64
                                   "); run 'tally verify'", size);
    }
    if (rc == 0 ? store__rd_be64(k.mv_data) + 1 != size || size % 256 == 0 : size % 256 != 0) {
        return store__corrupt(dst, "record %" PRIu64 ", the last one the latest head covers, is "
                                   "missing; run 'tally verify'", size - 1);
    }
    log->last_time = 0;
    if (size > 0) {
        store__pack_cache c = {0};
        tally_bytes hb, bb;
        schema_header h;
        st = store__record_at(txn, log, &c, size - 1, size / 256 * 256, &hb, &bb);
        if (st == TALLY_ECORRUPT && hb.p != NULL) {
            st = TALLY_OK; /* only its body is missing (a replica's withheld body, or damage
                              store_verify names): its time is in the header */
        }
        if (st == TALLY_OK && schema_header_decode(hb.p, hb.n, &h) == TALLY_OK) {
            log->last_time = h.time_ms;
        } else if (st == TALLY_OK || st == TALLY_ENOTFOUND || st == TALLY_ECORRUPT) {
            st = store__corrupt(dst, "record %" PRIu64 ", the last one the latest head covers, "
                                     "cannot be read; run 'tally verify'", size - 1);
        }
        store__pack_cache_release(&c);
        if (st != TALLY_OK) {
            return st;
        }
    }
    log->tree.size = size;
    st = load_edge(log, txn, dst);
    if (st == TALLY_OK) {
        atomic_store(&log->published, size);
    }
    return st;
}

/* Readers: records, tiles, roots, proofs, tree heads and sizes, each over one read snapshot. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

tally_status store__body_get(MDB_txn *txn, MDB_dbi bodies, const uint8_t hash[32],
                             const uint8_t **view, size_t *n_out)
{
    MDB_val k = {32, (void *)(uintptr_t)hash}, v;
    int rc = mdb_get(txn, bodies, &k, &v);

    *view = NULL, *n_out = 0;
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? TALLY_ECORRUPT : store__status(rc);
    }
    if (v.mv_size < 1 || ((const uint8_t *)v.mv_data)[0] != STORE__CODEC_RAW) {
        return TALLY_ECORRUPT;
    }
    *view = (const uint8_t *)v.mv_data + 1; /* LMDB's memory, valid while txn lives */
    *n_out = v.mv_size - 1;
    return TALLY_OK;
}

struct store_iter {
    store_log *log;
    MDB_txn *txn;
    uint64_t next, end;
    store__pack_cache packs;
};

tally_status store_iter_open(store_log *log, uint64_t from, store_iter **out)
{
    store_iter *it = calloc(1, sizeof(*it));
    tally_status st;

    *out = NULL;
    if (it == NULL) {
        return TALLY_ENOMEM;
    }
    it->log = log;
    it->next = from;
    it->end = store_size(log);
    st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &it->txn));
    if (st != TALLY_OK) {
        store_iter_close(it);
        return st;
    }
    *out = it;
    return TALLY_OK;
}

tally_status store_iter_next(store_iter *it, store_record *out)
{
    tally_status st;

    memset(out, 0, sizeof(*out));
    /* Only records under a committed head are visible (the size read at open). */
    if (it->next >= it->end) {
        return TALLY_ENOTFOUND;
    }
    st = store__record_at(it->txn, it->log, &it->packs, it->next, it->end / 256 * 256,
                          &out->header, &out->body);
    if (st == TALLY_ENOTFOUND) {
        return TALLY_ECORRUPT; /* a record the head covers is missing */
    }
    if (st == TALLY_ECORRUPT && out->header.p != NULL) {
        out->body = (tally_bytes){NULL, 0}; /* the header is there, its body is not */
    } else if (st != TALLY_OK) {
        return st;
    }
    out->seq = it->next++;
    store_leaf_hash(out->header.p, out->header.n, out->leaf_hash);
    return TALLY_OK;
}

tally_status store_iter_read(store_iter *it, bool body, store_record *rec, schema_header *h,
                             schema_body *b)
{
    tally_status st = store_iter_next(it, rec);

    memset(b, 0, sizeof(*b));
    if (st != TALLY_OK) {
        return st;
    }
    if (schema_header_decode(rec->header.p, rec->header.n, h) != TALLY_OK) {
        return TALLY_ECORRUPT;
    }
    return body ? store_record_body(rec, h, b) : TALLY_OK;
}

tally_status store_record_body(const store_record *rec, const schema_header *h, schema_body *b)
{
    if (rec->body.p == NULL || schema_record_check(h, rec->body.p, rec->body.n, b) != TALLY_OK) {
        memset(b, 0, sizeof(*b));
        return TALLY_ECORRUPT;
    }
    return TALLY_OK;
}

void store_iter_close(store_iter *it)
{
    if (it == NULL) {
        return;
    }
    if (it->txn != NULL) {
        mdb_txn_abort(it->txn);
    }
    store__pack_cache_release(&it->packs);
    free(it);
}

tally_status store_tile_read(store_log *log, unsigned level, uint64_t index, unsigned width,
                             uint8_t *out)
{
    MDB_txn *txn;
    uint8_t key[9];
    MDB_val k = {9, key}, v;
    int rc;
    tally_status st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));

    if (st != TALLY_OK) {
        return st;
    }
    store__tile_key(level, index, key);
    rc = mdb_get(txn, log->tiles, &k, &v);
    if (rc == 0 && v.mv_size >= 32u * width && width >= 1 && width <= 256) {
        memcpy(out, v.mv_data, 32u * width);
    } else {
        st = rc == 0 || rc == MDB_NOTFOUND ? TALLY_ENOTFOUND : store__status(rc);
    }
    mdb_txn_abort(txn);
    return st;
}

typedef enum { Q_ROOT, Q_INCLUSION, Q_CONSISTENCY } query;

static tally_status tree_query(store_log *log, query q, uint64_t a, uint64_t size,
                               uint8_t (*path)[32], size_t *n)
{
    store__txn_src src = {NULL, log->tiles};
    tally_status st;

    *n = 0;
    if (size < 1 || size > store_size(log)) {
        return TALLY_EINVAL;
    }
    st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &src.txn));
    if (st != TALLY_OK) {
        return st;
    }
    if (q == Q_ROOT) {
        st = store__mth(store__txn_hash_fn, &src, 0, size, path[0]);
    } else if (q == Q_INCLUSION) {
        st = store__inclusion(store__txn_hash_fn, &src, a, size, path, n);
    } else {
        st = store__consistency(store__txn_hash_fn, &src, a, size, path, n);
    }
    mdb_txn_abort(src.txn);
    return st == TALLY_ENOTFOUND ? store__corrupt(NULL, "stored data failed a check") : st;
}

tally_status store_root(store_log *log, uint64_t size, uint8_t out[32])
{
    size_t n;
    return tree_query(log, Q_ROOT, 0, size, (uint8_t(*)[32])out, &n);
}

tally_status store_proof_inclusion(store_log *log, uint64_t index, uint64_t size,
                                   uint8_t (*path)[32], size_t *n_out)
{
    if (index >= size) {
        *n_out = 0;
        return TALLY_EINVAL;
    }
    return tree_query(log, Q_INCLUSION, index, size, path, n_out);
}

tally_status store_proof_consistency(store_log *log, uint64_t old_size, uint64_t size,
                                     uint8_t (*path)[32], size_t *n_out)
{
    if (old_size < 1 || old_size > size) {
        *n_out = 0;
        return TALLY_EINVAL;
    }
    return tree_query(log, Q_CONSISTENCY, old_size, size, path, n_out);
}

/* ---- tree heads ---- */

static tally_status sth_lookup(store_log *log, bool latest, uint64_t size, schema_sth *out)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    uint8_t key[8];
    MDB_val k = {8, key}, v;
    int rc;
    tally_status st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));

    memset(out, 0, sizeof(*out));
    if (st != TALLY_OK) {
        return st;
    }
    store__be64(size, key);
    rc = mdb_cursor_open(txn, log->sth, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, latest ? MDB_LAST : MDB_SET_KEY);
        mdb_cursor_close(cur);
    }
    if (rc == 0) {
        st = schema_sth_decode(v.mv_data, v.mv_size, out) == TALLY_OK ? TALLY_OK
                                                                       : store__corrupt(NULL, "stored data failed a check");
    } else {
        st = store__status(rc);
    }
    mdb_txn_abort(txn);
    return st;
}

tally_status store_sth_latest(store_log *log, schema_sth *out)
{
    return sth_lookup(log, true, 0, out);
}

tally_status store_sth_get(store_log *log, uint64_t size, schema_sth *out)
{
    return sth_lookup(log, false, size, out);
}

tally_status store_sth_floor(store_log *log, uint64_t size, schema_sth *out)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    uint8_t key[8];
    MDB_val k = {8, key}, v;
    int rc;
    tally_status st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));

    memset(out, 0, sizeof(*out));
    if (st != TALLY_OK) {
        return st;
    }
    store__be64(size, key);
    rc = mdb_cursor_open(txn, log->sth, &cur);
    if (rc == 0) {
        /* the first head at or above size; if it is above (or there is none), the one before */
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && (k.mv_size != 8 || store__rd_be64(k.mv_data) != size)) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
        } else if (rc == MDB_NOTFOUND) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        }
        mdb_cursor_close(cur);
    }
    if (rc == 0) {
        st = schema_sth_decode(v.mv_data, v.mv_size, out) == TALLY_OK && out->tree_size <= size
                 ? TALLY_OK
                 : store__corrupt(NULL, "stored data failed a check");
    } else {
        st = store__status(rc);
    }
    if (st != TALLY_OK) {
        memset(out, 0, sizeof(*out));
    }
    mdb_txn_abort(txn);
    return st;
}

tally_status store_sth_each(store_log *log, bool (*fn)(const schema_sth *, void *), void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;
    schema_sth sth;
    tally_status st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));

    if (st != TALLY_OK) {
        return st;
    }
    rc = mdb_cursor_open(txn, log->sth, &cur);
    for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op);
        if (rc != 0) {
            break;
        }
        if (schema_sth_decode(v.mv_data, v.mv_size, &sth) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if (!fn(&sth, arg)) {
            break;
        }
    }
    if (st == TALLY_OK && rc != 0 && rc != MDB_NOTFOUND) {
        st = store__status(rc);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return st;
}

/* ---- sizes ---- */

static uint64_t db_pages(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat s;
    if (mdb_stat(txn, dbi, &s) != 0) {
        return 0;
    }
    return ((uint64_t)s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages) * s.ms_psize;
}

static tally_status sum_db(MDB_txn *txn, MDB_dbi dbi, uint64_t *count, uint64_t *bytes)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);

    *count = *bytes = 0;
    for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op);
        if (rc == 0) {
            (*count)++;
            *bytes += k.mv_size + v.mv_size;
        }
    }
    if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    mdb_cursor_close(cur);
    return store__status(rc);
}

tally_status store_stats_get(store_log *log, store_stats *out)
{
    MDB_txn *txn;
    MDB_envinfo info;
    MDB_stat ms;
    uint64_t n;
    tally_status st;

    memset(out, 0, sizeof(*out));
    st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));
    if (st != TALLY_OK) {
        return st;
    }
    out->size = store_size(log);
    mdb_env_info(log->env, &info);
    mdb_env_stat(log->env, &ms);
    out->map_size = info.me_mapsize;
    out->map_used = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
    st = sum_db(txn, log->log, &n, &out->log_bytes);
    if (st == TALLY_OK) {
        st = sum_db(txn, log->bodies, &out->bodies, &out->body_bytes);
    }
    if (st == TALLY_OK) {
        st = sum_db(txn, log->tiles, &n, &out->tile_bytes);
    }
    if (st == TALLY_OK) {
        st = sum_db(txn, log->sth, &out->sths, &out->sth_bytes);
    }
    out->pages_in_use = db_pages(txn, log->meta) + db_pages(txn, log->log) +
                        db_pages(txn, log->bodies) + db_pages(txn, log->tiles) +
                        db_pages(txn, log->sth) + db_pages(txn, log->packs);
    if (st == TALLY_OK) {
        st = sum_db(txn, log->packs, &out->packs, &out->pack_bytes);
    }
    mdb_txn_abort(txn);
    if (st == TALLY_OK) {
        /* raw body bytes and records per type, from the headers */
        store_iter *it;
        store_record r;
        st = store_iter_open(log, 0, &it);
        while (st == TALLY_OK && store_iter_next(it, &r) == TALLY_OK) {
            schema_header h;
            if (schema_header_decode(r.header.p, r.header.n, &h) == TALLY_OK && h.type < 36) {
                out->by_type[h.type]++;
            }
            out->header_raw_bytes += r.header.n;
            out->body_raw_bytes += r.body.n;
        }
        store_iter_close(it);
    }
    return st;
}

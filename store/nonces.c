/* The write-nonce index of signed requests (protocol §4): (key, nonce) → (digest, first seq,
 * count), kept in the writer's transactions beside the records it names, and the nonces that
 * requests with every item refused consumed in memory only. */
#include <string.h>

#include "store/store_int.h"

#define NONCE_VAL 44u /* digest (32) ‖ u64 BE first seq ‖ u32 BE count */

static void nonce_key(const uint8_t key[32], uint64_t nonce, uint8_t out[40])
{
    memcpy(out, key, 32);
    store__be64(nonce, out + 32);
}

static size_t slot_of(const uint8_t key[32])
{
    /* keys are Ed25519 public keys: their bytes are already spread evenly */
    return ((size_t)key[0] | (size_t)key[1] << 8) % STORE__CONSUMED_SLOTS;
}

/* The nonce the key's slot holds as consumed, if the slot is the key's. */
static bool consumed_get(store_log *log, const uint8_t key[32], store__consumed *out)
{
    bool hit = false;

    if (log->consumed == NULL) {
        return false;
    }
    pthread_mutex_lock(&log->consumed_mu);
    const store__consumed *c = &log->consumed[slot_of(key)];
    if (c->used && memcmp(c->key, key, 32) == 0) {
        *out = *c;
        hit = true;
    }
    pthread_mutex_unlock(&log->consumed_mu);
    return hit;
}

void store__nonce_consume(store_log *log, const store_request *rq)
{
    if (log->consumed == NULL) {
        return;
    }
    pthread_mutex_lock(&log->consumed_mu);
    store__consumed *c = &log->consumed[slot_of(rq->key)];
    if (!c->used || memcmp(c->key, rq->key, 32) != 0 || c->nonce < rq->nonce) {
        c->used = true;
        memcpy(c->key, rq->key, 32);
        c->nonce = rq->nonce;
        memcpy(c->digest, rq->digest, 32);
    }
    pthread_mutex_unlock(&log->consumed_mu);
}

/* Looks (key, nonce) up in txn: found with its value, and whether a higher nonce of the key is
 * in the index. */
static tally_status lookup(store_log *log, MDB_txn *txn, const uint8_t key[32], uint64_t nonce,
                           store_nonce_info *out)
{
    uint8_t k[40];
    MDB_val kv = {40, k}, v;
    MDB_cursor *cur;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!log->has_nonces) {
        return TALLY_OK;
    }
    nonce_key(key, nonce, k);
    rc = mdb_cursor_open(txn, log->nonces, &cur);
    if (rc != 0) {
        return store__status(rc);
    }
    /* the first entry at or after (key, nonce): the request itself, or a higher nonce of the key */
    rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
    if (rc == 0 && kv.mv_size == 40 && memcmp(kv.mv_data, key, 32) == 0) {
        if (store__rd_be64((const uint8_t *)kv.mv_data + 32) == nonce) {
            if (v.mv_size != NONCE_VAL) {
                mdb_cursor_close(cur);
                return store__corrupt(NULL, "a nonce index entry has a bad length");
            }
            const uint8_t *p = v.mv_data;
            out->found = true;
            memcpy(out->digest, p, 32);
            out->first_seq = store__rd_be64(p + 32);
            out->count = (uint32_t)p[40] << 24 | (uint32_t)p[41] << 16 | (uint32_t)p[42] << 8 |
                         p[43];
        } else {
            out->stale = true;
        }
        rc = 0;
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        rc = 0;
    }
    mdb_cursor_close(cur);
    return store__status(rc);
}

tally_status store__nonce_decide(store_log *log, MDB_txn *txn, const store_request *rq,
                                 store_req_result *res)
{
    store_nonce_info info;
    store__consumed c;
    tally_status st = lookup(log, txn, rq->key, rq->nonce, &info);

    res->verdict = STORE_REQ_NEW;
    if (st != TALLY_OK) {
        return st;
    }
    if (info.found) {
        bool same = memcmp(info.digest, rq->digest, 32) == 0;
        res->verdict = same ? STORE_REQ_DUPLICATE : STORE_REQ_REPLAY;
        res->first_seq = same ? info.first_seq : 0;
        res->count = same ? info.count : 0;
        return TALLY_OK;
    }
    /* A request whose items were all refused left its nonce consumed in memory: only the very
     * same request may come again (it is judged anew, as nothing of it was appended). */
    if (info.stale || (consumed_get(log, rq->key, &c) &&
                       (c.nonce > rq->nonce ||
                        (c.nonce == rq->nonce && memcmp(c.digest, rq->digest, 32) != 0)))) {
        res->verdict = STORE_REQ_STALE;
    }
    return TALLY_OK;
}

tally_status store__nonce_put(store_log *log, MDB_txn *txn, const store_request *rq,
                              uint64_t first, uint32_t count)
{
    uint8_t k[40], val[NONCE_VAL];
    MDB_val kv = {40, k}, v = {NONCE_VAL, val};

    nonce_key(rq->key, rq->nonce, k);
    memcpy(val, rq->digest, 32);
    store__be64(first, val + 32);
    val[40] = (uint8_t)(count >> 24), val[41] = (uint8_t)(count >> 16);
    val[42] = (uint8_t)(count >> 8), val[43] = (uint8_t)count;
    return store__status(store__put(log, txn, log->nonces, &kv, &v, MDB_NOOVERWRITE));
}

tally_status store_nonce_get(store_log *log, const store_request *rq, store_nonce_info *out)
{
    MDB_txn *txn;
    store__consumed c;
    tally_status st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));

    memset(out, 0, sizeof(*out));
    if (st != TALLY_OK) {
        return st;
    }
    st = lookup(log, txn, rq->key, rq->nonce, out);
    mdb_txn_abort(txn);
    if (st != TALLY_OK) {
        memset(out, 0, sizeof(*out));
        return st;
    }
    if (!out->found && consumed_get(log, rq->key, &c) &&
        (c.nonce > rq->nonce ||
         (c.nonce == rq->nonce && memcmp(c.digest, rq->digest, 32) != 0))) {
        out->stale = true;
    }
    return TALLY_OK;
}

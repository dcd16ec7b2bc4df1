/* Side tables: the node's own state beside the log (bans, dispute-reveal marks), written through
 * the writer so that one thread writes the environment, read in read-only transactions. */
#include <string.h>

#include "store/store_int.h"

tally_status store_side_each(store_log *log, store_side side,
                             bool (*fn)(void *arg, tally_bytes key, tally_bytes val), void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    tally_status st;

    if ((unsigned)side >= STORE_SIDE_COUNT) {
        return TALLY_EINVAL;
    }
    if (!log->has_side[side]) {
        return TALLY_OK;
    }
    st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));
    if (st != TALLY_OK) {
        return st;
    }
    rc = mdb_cursor_open(txn, log->side[side], &cur);
    if (rc == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (!fn(arg, (tally_bytes){k.mv_data, k.mv_size}, (tally_bytes){v.mv_data, v.mv_size})) {
                break;
            }
        }
        if (rc == MDB_NOTFOUND) {
            rc = 0;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return store__status(rc);
}

tally_status store_side_get(store_log *log, store_side side, const uint8_t *key, size_t kn,
                            uint8_t *buf, size_t cap, size_t *n_out, bool *found)
{
    MDB_txn *txn;
    MDB_val k = {kn, (void *)(uintptr_t)key}, v;
    int rc;
    tally_status st;

    *n_out = 0, *found = false;
    if ((unsigned)side >= STORE_SIDE_COUNT || kn == 0 || kn > STORE_SIDE_KEY_MAX) {
        return TALLY_EINVAL;
    }
    if (!log->has_side[side]) {
        return TALLY_OK;
    }
    st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));
    if (st != TALLY_OK) {
        return st;
    }
    rc = mdb_get(txn, log->side[side], &k, &v);
    if (rc == 0 && v.mv_size > cap) {
        st = TALLY_ELIMIT;
    } else if (rc == 0) {
        memcpy(buf, v.mv_data, v.mv_size);
        *n_out = v.mv_size, *found = true;
    } else if (rc != MDB_NOTFOUND) {
        st = store__status(rc);
    }
    mdb_txn_abort(txn);
    return st;
}

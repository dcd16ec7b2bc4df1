/* The single writer: group commit of queued appends, tiles, and one signed tree head per batch,
 * checked consistent with the previous head before it is signed. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

struct store__req {
    const store_input *in;
    size_t n;
    uint64_t first;
    store_item_result *items; /* per-item mode (store_append_items): one verdict per record */
    tally_status st;
    bool done;
    pthread_cond_t cv; /* its producer waits here: a commit wakes only its own producers */
    store__req *next;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- STH ---- */

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

tally_status store__sth_check(const schema_sth *sth, const uint8_t pk[32])
{
    uint8_t msg[SCHEMA_STH_MAX];
    char text[256];
    size_t n;

    if (memcmp(sth->key, pk, 32) != 0 || schema_sth_message(sth, msg, sizeof(msg), &n) != TALLY_OK ||
        crypto_sign_verify_detached(sth->sig, msg, n, pk) != 0) {
        return TALLY_EAUTH;
    }
    if (store_note_text(sth->origin, sth->tree_size, sth->root, text, sizeof(text), &n) !=
            TALLY_OK ||
        crypto_sign_verify_detached(sth->note_sig, (const uint8_t *)text, n, pk) != 0) {
        return TALLY_EAUTH;
    }
    return TALLY_OK;
}

/* ---- state at open ---- */

static tally_status load_edge(store_log *log, MDB_txn *txn)
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
                return st == TALLY_ENOTFOUND ? STORE__CORRUPT() : st;
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
            return STORE__CORRUPT();
        }
        memcpy(t->edge[tl], v.mv_data, 32u * w);
        t->width[tl] = (uint16_t)w;
    }
    return TALLY_OK;
}

tally_status store__load_state(store_log *log)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    tally_status st;
    uint64_t size = 0;
    int rc;

    st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));
    if (st != TALLY_OK) {
        return st;
    }
    rc = mdb_cursor_open(txn, log->sth, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    if (rc == 0) {
        if (schema_sth_decode(v.mv_data, v.mv_size, &log->last_sth) != TALLY_OK) {
            st = STORE__CORRUPT();
            goto done;
        }
        log->has_sth = true;
        size = log->last_sth.tree_size;
    } else if (rc != MDB_NOTFOUND) {
        st = store__status(rc);
        goto done;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    /* The tail in the log table is exactly the records after the last full bundle, and the
     * last record is the last one the latest head covers. */
    rc = mdb_cursor_open(txn, log->log, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    if (rc == 0 ? k.mv_size != 8 || store__rd_be64(k.mv_data) + 1 != size || size % 256 == 0
                : rc != MDB_NOTFOUND || size % 256 != 0) {
        st = rc == 0 || rc == MDB_NOTFOUND ? STORE__CORRUPT() : store__status(rc);
        goto done;
    }
    if (size > 0) {
        store__pack_cache c = {0};
        tally_bytes hb, bb;
        schema_header h;
        st = store__record_at(txn, log, &c, size - 1, size / 256 * 256, &hb, &bb);
        if (st == TALLY_OK && schema_header_decode(hb.p, hb.n, &h) == TALLY_OK) {
            log->last_time = h.time_ms;
        } else if (st == TALLY_OK || st == TALLY_ENOTFOUND) {
            st = STORE__CORRUPT();
        }
        store__pack_cache_release(&c);
        if (st != TALLY_OK) {
            goto done;
        }
    }
    log->tree.size = size;
    st = load_edge(log, txn);
    if (st == TALLY_OK) {
        atomic_store(&log->published, size);
    }
done:
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return st;
}

/* ---- one batch ---- */

typedef struct batch {
    store_log *log;
    MDB_txn *txn;
} batch;

static tally_status put_tile(MDB_txn *txn, MDB_dbi tiles, unsigned level, uint64_t index,
                             const uint8_t *hashes, size_t w)
{
    uint8_t key[9];
    MDB_val k = {9, key}, v = {32 * w, (void *)(uintptr_t)hashes};

    store__tile_key(level, index, key);
    return store__status(mdb_put(txn, tiles, &k, &v, 0));
}

static tally_status full_tile(void *arg, unsigned level, uint64_t index, const uint8_t *hashes)
{
    batch *b = arg;
    return put_tile(b->txn, b->log->tiles, level, index, hashes, 256);
}

static tally_status put_body(batch *b, const uint8_t hash[32], const uint8_t *body, size_t n)
{
    MDB_val k = {32, (void *)(uintptr_t)hash}, v = {n + 1, NULL};
    int rc = mdb_put(b->txn, b->log->bodies, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);

    if (rc == MDB_KEYEXIST) {
        return TALLY_OK; /* the same body is stored once, whoever sent it */
    }
    if (rc != 0) {
        return store__status(rc);
    }
    ((uint8_t *)v.mv_data)[0] = STORE__CODEC_RAW;
    memcpy((uint8_t *)v.mv_data + 1, body, n);
    return TALLY_OK;
}

/* The time the writer gives a record: its own, else the node clock; never below the last. */
static uint64_t record_time(const store_log *log, const store_input *in)
{
    uint64_t t = in->header.time_ms ? in->header.time_ms : now_ms();
    return t > log->last_time ? t : log->last_time;
}

/* Asks the admission hook about the next record (judged, or only folded). */
static tally_status admit(store_log *log, const store_input *in, bool judge, bool *admitted,
                          int *code)
{
    const store_admission *a = log->cfg.admission;

    *admitted = true, *code = 0;
    if (a == NULL) {
        return TALLY_OK;
    }
    return a->admit(a->arg, log->tree.size, &in->header, in->body, in->body_len, judge, admitted,
                    code);
}

static tally_status put_record(batch *b, const store_input *in, uint8_t leaf_out[32])
{
    store_log *log = b->log;
    schema_header h = in->header;
    uint8_t hb[SCHEMA_HEADER_MAX], key[8], leaf[32];
    size_t hn;
    MDB_val k = {8, key}, v;
    tally_status st;

    h.time_ms = record_time(log, in);
    log->last_time = h.time_ms;
    st = schema_header_encode(&h, hb, sizeof(hb), &hn);
    if (st != TALLY_OK) {
        return st;
    }
    store__be64(log->tree.size, key);
    v.mv_data = hb, v.mv_size = hn;
    st = store__status(mdb_put(b->txn, log->log, &k, &v, MDB_APPEND));
    if (st == TALLY_OK) {
        st = put_body(b, h.body_hash, in->body, in->body_len);
    }
    if (st == TALLY_OK) {
        store_leaf_hash(hb, hn, leaf);
        if (leaf_out != NULL) {
            memcpy(leaf_out, leaf, 32);
        }
        st = store__tree_push(&log->tree, leaf, full_tile, b);
    }
    if (st == TALLY_OK && log->tree.size % 256 == 0) {
        st = store__pack_bundle(log, b->txn, log->tree.size / 256 - 1);
    }
    return st;
}

/* GENESIS is the record at seq 0 and nowhere else. */
static tally_status placement_ok(const store_log *log, const store__req *r)
{
    for (size_t i = 0; i < r->n; i++) {
        bool first = log->tree.size + i == 0;
        if (first != (r->in[i].header.type == SCHEMA_GENESIS)) {
            return TALLY_ECONFLICT;
        }
    }
    return TALLY_OK;
}

/* Flushes partial tiles, then signs a head for the new size after checking that the tree it
 * describes extends the last signed one (RFC 9162 consistency proof, generated and verified). */
static tally_status seal(batch *b)
{
    store_log *log = b->log;
    store__tree *t = &log->tree;
    uint8_t root[32], path[STORE_PROOF_MAX][32], key[8];
    uint8_t wire[SCHEMA_STH_MAX];
    size_t n;
    schema_sth sth;
    store__txn_src src = {b->txn, log->tiles};
    MDB_val k = {8, key}, v;
    tally_status st;

    for (unsigned tl = 0; tl < STORE__LEVELS; tl++) {
        if ((t->dirty & (1u << tl)) && t->width[tl] > 0) {
            uint64_t count = t->size >> (8 * tl);
            st = put_tile(b->txn, log->tiles, tl, count >> 8, t->edge[tl], t->width[tl]);
            if (st != TALLY_OK) {
                return st;
            }
        }
    }
    t->dirty = 0;
    store__tree_root(t, root);
    if (log->has_sth) {
        st = store__consistency(store__txn_hash_fn, &src, log->last_sth.tree_size, t->size, path,
                                &n);
        if (st != TALLY_OK ||
            !store_verify_consistency(log->last_sth.tree_size, t->size, log->last_sth.root, root,
                                      (const uint8_t(*)[32])path, n)) {
            return STORE__CORRUPT(); /* never sign a head that does not extend the last one */
        }
    }
    st = store__sth_sign(log, t->size, root, log->last_time, &sth);
    if (st == TALLY_OK) {
        st = schema_sth_encode(&sth, wire, sizeof(wire), &n);
    }
    if (st != TALLY_OK) {
        return st;
    }
    store__be64(t->size, key);
    v.mv_data = wire, v.mv_size = n;
    st = store__status(mdb_put(b->txn, log->sth, &k, &v, 0));
    if (st == TALLY_OK) {
        log->last_sth = sth;
    }
    return st;
}

static void commit_group(store_log *log, store__req *group)
{
    batch b = {log, NULL};
    uint64_t saved_time = log->last_time;
    schema_sth saved_sth = log->last_sth;
    bool saved_has = log->has_sth, any = false;
    tally_status st;

    memcpy(&log->saved, &log->tree, sizeof(log->tree));
    st = store__status(mdb_txn_begin(log->env, NULL, 0, &b.txn));
    uint64_t start = log->tree.size;
    for (store__req *r = group; st == TALLY_OK && r != NULL; r = r->next) {
        r->st = r->items != NULL ? TALLY_OK : placement_ok(log, r);
        if (r->st != TALLY_OK) {
            continue;
        }
        r->first = log->tree.size;
        for (size_t i = 0; st == TALLY_OK && i < r->n; i++) {
            store_item_result *it = r->items ? &r->items[i] : NULL;
            store_input one = r->in[i];
            bool ok;
            int code;
            /* the time is drawn once: the hook judges the record at the time it is stored */
            one.header.time_ms = record_time(log, &r->in[i]);
            /* per item, the hook judges; an all-or-nothing request was judged by its caller,
             * so the hook only folds it */
            st = admit(log, &one, it != NULL, &ok, &code);
            if (st != TALLY_OK || (it != NULL && !ok)) {
                if (it != NULL) {
                    *it = (store_item_result){.accepted = false, .code = code};
                }
                continue;
            }
            if (it != NULL) {
                *it = (store_item_result){.accepted = true, .seq = log->tree.size,
                                          .time_ms = one.header.time_ms};
            }
            st = put_record(&b, &one, it ? it->leaf_hash : NULL);
            any = true;
        }
    }
    if (st == TALLY_OK && any) {
        st = seal(&b);
        if (st == TALLY_OK) {
            log->has_sth = true;
        }
    }
    if (st == TALLY_OK) {
        st = store__status(mdb_txn_commit(b.txn)); /* durable: LMDB syncs on commit */
        b.txn = NULL;
    }
    if (st != TALLY_OK) {
        /* Nothing of the batch reached the disk: roll the in-memory edge back with it. */
        if (b.txn != NULL) {
            mdb_txn_abort(b.txn);
        }
        memcpy(&log->tree, &log->saved, sizeof(log->tree));
        log->last_time = saved_time;
        log->last_sth = saved_sth;
        log->has_sth = saved_has;
        /* the hook folded records that never reached the log: it forgets them */
        if (log->cfg.admission != NULL) {
            log->cfg.admission->rewind(log->cfg.admission->arg, start);
        }
        for (store__req *r = group; r != NULL; r = r->next) {
            if (r->st == TALLY_OK) {
                r->st = st;
            }
        }
        return;
    }
    atomic_store(&log->published, log->tree.size);
}

static void *writer_main(void *arg)
{
    store_log *log = arg;

    pthread_mutex_lock(&log->mu);
    for (;;) {
        store__req *group, *last = NULL, *r;
        size_t count = 0;

        while (log->head == NULL && !log->stop) {
            pthread_cond_wait(&log->cv_work, &log->mu);
        }
        if (log->head == NULL) {
            break;
        }
        /* Take whole requests up to commit_max records (always at least one request). */
        group = r = log->head;
        while (r != NULL && (count == 0 || count + r->n <= log->commit_max)) {
            count += r->n;
            last = r;
            r = r->next;
        }
        log->head = r;
        if (r == NULL) {
            log->tail = NULL;
        }
        last->next = NULL;
        pthread_mutex_unlock(&log->mu);

        commit_group(log, group);

        pthread_mutex_lock(&log->mu);
        for (r = group; r != NULL;) {
            store__req *next = r->next;
            /* r lives on its producer's stack: it cannot return before we drop the mutex */
            r->done = true;
            pthread_cond_signal(&r->cv);
            r = next;
        }
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

tally_status store__writer_start(store_log *log)
{
    if (pthread_create(&log->writer, NULL, writer_main, log) != 0) {
        return TALLY_ENOMEM;
    }
    log->writer_started = true;
    return TALLY_OK;
}

void store__writer_stop(store_log *log)
{
    pthread_mutex_lock(&log->mu);
    log->stop = true;
    pthread_cond_signal(&log->cv_work);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->writer, NULL);
    log->writer_started = false;
}

/* ---- producers ---- */

static tally_status check_input(store_log *log, const store_input *in)
{
    const schema_header *h = &in->header;
    tally_str origin = {log->origin, strlen(log->origin)};
    schema_body body;
    bool node_type;
    tally_status st;

    if (h->version != SCHEMA_VERSION || !schema_type_known((unsigned)h->type)) {
        return TALLY_EFORMAT;
    }
    st = schema_record_check(h, in->body, in->body_len, &body);
    if (st != TALLY_OK) {
        return st;
    }
    node_type = !schema_type_miner((unsigned)h->type) ||
                (h->type == SCHEMA_OUTCOME && body.u.outcome.source == 1);
    schema_body_release(&body);
    if (node_type != (memcmp(h->actor, log->pk, 32) == 0) && h->type != SCHEMA_ATTESTATION) {
        return TALLY_EAUTH; /* node types by the node key only; miner types never by it */
    }
    if (h->type == SCHEMA_ATTESTATION && memcmp(h->actor, log->pk, 32) == 0) {
        return TALLY_EAUTH;
    }
    if (!log->cfg.trust_signatures && schema_record_verify(h, origin) != TALLY_OK) {
        return TALLY_EAUTH;
    }
    return TALLY_OK;
}

/* Queues a request for the writer and waits until its transaction is durable (or failed). */
static tally_status enqueue(store_log *log, store__req *req);

tally_status store_append(store_log *log, const store_input *in, size_t n, uint64_t *first_seq_out)
{
    store__req req = {.in = in, .n = n, .st = TALLY_OK};
    tally_status st;

    *first_seq_out = 0;
    if (!log->writer_started) {
        return TALLY_EAGAIN;
    }
    if (n == 0) {
        return TALLY_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        st = check_input(log, &in[i]);
        if (st != TALLY_OK) {
            return st;
        }
    }
    st = enqueue(log, &req);
    if (st == TALLY_OK) {
        *first_seq_out = req.first;
    }
    return st;
}

tally_status store_append_items(store_log *log, const store_input *in, size_t n,
                                store_item_result *out, size_t *n_accepted_out)
{
    store__req req = {.in = in, .n = n, .items = out, .st = TALLY_OK};
    tally_status st;

    *n_accepted_out = 0;
    memset(out, 0, n * sizeof(*out));
    if (!log->writer_started) {
        return TALLY_EAGAIN;
    }
    if (n == 0 || log->cfg.admission == NULL) {
        return TALLY_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        st = check_input(log, &in[i]);
        if (st != TALLY_OK) {
            return st;
        }
        /* GENESIS comes through store_append alone: the hook judges only what follows it */
        if (in[i].header.type == SCHEMA_GENESIS) {
            return TALLY_ECONFLICT;
        }
    }
    st = enqueue(log, &req);
    if (st != TALLY_OK) {
        memset(out, 0, n * sizeof(*out));
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        *n_accepted_out += out[i].accepted;
    }
    return TALLY_OK;
}

static tally_status enqueue(store_log *log, store__req *r)
{
    store__req req = *r;
    pthread_cond_init(&req.cv, NULL);
    pthread_mutex_lock(&log->mu);
    if (log->stop) {
        pthread_mutex_unlock(&log->mu);
        pthread_cond_destroy(&req.cv);
        return TALLY_EAGAIN;
    }
    if (log->tail != NULL) {
        log->tail->next = &req;
    } else {
        log->head = &req;
    }
    log->tail = &req;
    pthread_cond_signal(&log->cv_work);
    while (!req.done) {
        pthread_cond_wait(&req.cv, &log->mu);
    }
    pthread_mutex_unlock(&log->mu);
    pthread_cond_destroy(&req.cv);
    r->first = req.first;
    return req.st;
}

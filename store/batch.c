/* One group commit of the single writer: the write transaction of a group of queued requests,
 * with its records (judged by the admission hook, or only folded), tail rows, bodies, tiles and
 * packs, side-table writes, a replica's batches and late bodies, and one signed tree head per
 * batch, checked consistent with the previous head before it is signed; on any failure the
 * in-memory edge rolls back with the transaction. The queue and the writer thread are
 * store/writer.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct batch {
    store_log *log;
    MDB_txn *txn;
    uint64_t now; /* the node clock, read once per batch so admission and append agree */
} batch;

static tally_status put_tile(const store_log *log, MDB_txn *txn, unsigned level, uint64_t index,
                             const uint8_t *hashes, size_t w)
{
    uint8_t key[9];
    MDB_val k = {9, key}, v = {32 * w, (void *)(uintptr_t)hashes};

    store__tile_key(level, index, key);
    return store__status(store__put(log, txn, log->tiles, &k, &v, 0));
}

static tally_status full_tile(void *arg, unsigned level, uint64_t index, const uint8_t *hashes)
{
    batch *b = arg;
    return put_tile(b->log, b->txn, level, index, hashes, 256);
}

static tally_status put_body(batch *b, const uint8_t hash[32], const uint8_t *body, size_t n)
{
    MDB_val k = {32, (void *)(uintptr_t)hash}, v = {n + 1, NULL};
    int rc = store__put(b->log, b->txn, b->log->bodies, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);

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

/* The time the writer gives a record: its own, else the batch's node clock; never below the
 * last record's. */
static uint64_t record_time(const batch *b, const store_input *in)
{
    uint64_t t = in->header.time_ms ? in->header.time_ms : b->now;
    return t > b->log->last_time ? t : b->log->last_time;
}

/* Asks the admission hook about the next record (judged, or only folded). */
static tally_status admit_hook(store_log *log, const store_input *in, bool judge, bool *admitted,
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

/* Stores header h (its time fixed) and its body (NULL: a replica's absent body) at the end of
 * the log: tail row, body, leaf, tiles, and the pack when the bundle fills. */
static tally_status put_entry(batch *b, const schema_header *h, const uint8_t *body, size_t n,
                              uint8_t leaf_out[32])
{
    store_log *log = b->log;
    uint8_t hb[SCHEMA_HEADER_MAX], key[8], leaf[32];
    size_t hn;
    MDB_val k = {8, key}, v;
    tally_status st;

    log->last_time = h->time_ms;
    st = schema_header_encode(h, hb, sizeof(hb), &hn);
    if (st != TALLY_OK) {
        return st;
    }
    store__be64(log->tree.size, key);
    v.mv_data = hb, v.mv_size = hn;
    st = store__status(store__put(log, b->txn, log->log, &k, &v, MDB_APPEND));
    if (st == TALLY_OK && body != NULL) {
        st = put_body(b, h->body_hash, body, n);
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

static tally_status put_record(batch *b, const store_input *in, uint8_t leaf_out[32])
{
    schema_header h = in->header;

    h.time_ms = record_time(b, in);
    return put_entry(b, &h, in->body, in->body_len, leaf_out);
}

/* Refuses a request whose records are misplaced (GENESIS is the record at seq 0 and nowhere
 * else) or whose times break the clock rule: never below the previous record's time, and never
 * above the node clock plus the allowed skew (a time in µs read as ms, or 2^53 − 1, would
 * otherwise freeze every later record's and head's time). Nothing is written yet. */
static tally_status request_ok(const batch *b, store__req *r)
{
    const store_log *log = b->log;
    uint64_t prev = log->last_time;
    uint64_t skew = log->cfg.max_skew_ms ? log->cfg.max_skew_ms : STORE_SKEW_DEFAULT_MS;

    for (size_t i = 0; i < r->n; i++) {
        const schema_header *h = &r->in[i].header;
        uint64_t t = h->time_ms;
        bool first = log->tree.size + i == 0;
        if (first != (h->type == SCHEMA_GENESIS)) {
            return store__reject(r, i, TALLY_ECONFLICT,
                                 first ? "the first record of a log must be GENESIS"
                                       : "GENESIS is record 0 only; this log already has one");
        }
        if (t == 0) {
            t = b->now > prev ? b->now : prev;
        } else if (t < prev) {
            return store__reject(r, i, TALLY_EINVAL,
                                 "time_ms %" PRIu64 " is below the previous record's time %" PRIu64,
                                 t, prev);
        } else if (!log->cfg.simulated_time && (b->now > UINT64_MAX - skew || t > b->now + skew)) {
            return store__reject(r, i, TALLY_EINVAL,
                                 "time_ms %" PRIu64 " is more than %" PRIu64
                                 " ms ahead of the node "
                                 "clock (%" PRIu64 ")",
                                 t, skew, b->now);
        }
        prev = t;
    }
    return TALLY_OK;
}

/* Writes the partial tiles the batch changed. */
static tally_status flush_tiles(batch *b)
{
    store__tree *t = &b->log->tree;

    for (unsigned tl = 0; tl < STORE__LEVELS; tl++) {
        if ((t->dirty & (1u << tl)) && t->width[tl] > 0) {
            uint64_t count = t->size >> (8 * tl);
            tally_status st = put_tile(b->log, b->txn, tl, count >> 8, t->edge[tl], t->width[tl]);
            if (st != TALLY_OK) {
                return st;
            }
        }
    }
    t->dirty = 0;
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

    st = flush_tiles(b);
    if (st != TALLY_OK) {
        return st;
    }
    store__tree_root(t, root);
    if (log->has_sth) {
        st = store__consistency(store__txn_hash_fn, &src, log->last_sth.tree_size, t->size, path,
                                &n);
        if (st != TALLY_OK ||
            !store_verify_consistency(log->last_sth.tree_size, t->size, log->last_sth.root, root,
                                      (const uint8_t(*)[32])path, n)) {
            /* never sign a head that does not extend the last one */
            return store__corrupt(log->wdetail,
                                  "the new tree (size %" PRIu64 ") does not extend "
                                  "the latest signed head (size %" PRIu64 ")",
                                  t->size, log->last_sth.tree_size);
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
    st = store__status(store__put(log, b->txn, log->sth, &k, &v, 0));
    if (st == TALLY_OK) {
        log->last_sth = sth;
    }
    return st;
}

/* The write transaction excludes every other writer, so the latest head it sees is the truth.
 * If it is not the head this writer holds (something wrote the log beside this handle), the
 * edge, head and time are read again here: a stale edge is never extended or signed. */
static tally_status resync(store_log *log, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t key[8];
    bool same;
    int rc = mdb_cursor_open(txn, log->sth, &cur);

    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        mdb_cursor_close(cur);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return store__status(rc);
    }
    if (log->has_sth) {
        uint8_t wire[SCHEMA_STH_MAX];
        size_t n;
        store__be64(log->last_sth.tree_size, key);
        same = rc == 0 && k.mv_size == 8 && memcmp(k.mv_data, key, 8) == 0 &&
               schema_sth_encode(&log->last_sth, wire, sizeof(wire), &n) == TALLY_OK &&
               n == v.mv_size && memcmp(wire, v.mv_data, n) == 0;
    } else {
        same = rc == MDB_NOTFOUND;
    }
    return same ? TALLY_OK : store__load_state(log, txn, log->wdetail);
}

/* A side-table write of request r inside the batch's transaction. */
static tally_status side_write(batch *b, const store__req *r)
{
    store_log *log = b->log;
    MDB_val k = {r->skn, (void *)(uintptr_t)r->skey}, v = {r->svn, (void *)(uintptr_t)r->sval};
    int rc;

    if (r->sval == NULL) {
        rc = store__del(log, b->txn, log->side[r->side], &k);
        return rc == MDB_NOTFOUND ? TALLY_OK : store__status(rc);
    }
    return store__status(store__put(log, b->txn, log->side[r->side], &k, &v, 0));
}

/* The records of request r: each judged (per-item mode) or only folded (all or nothing), then
 * stored. A signed request's nonce is decided first, and recorded when an item was appended. */
static tally_status put_request(batch *b, store__req *r, bool *any)
{
    store_log *log = b->log;
    uint32_t count = 0;
    tally_status st = TALLY_OK;

    if (r->rq != NULL) {
        st = store__nonce_decide(log, b->txn, r->rq, r->res);
        if (st != TALLY_OK || r->res->verdict != STORE_REQ_NEW) {
            return st;
        }
    }
    r->first = log->tree.size;
    if (r->judge_all && r->not_after != 0 && record_time(b, &r->in[0]) > r->not_after) {
        return store__reject(r, 0, TALLY_EAGAIN,
                             "the records would be stored at %" PRIu64 ", after %" PRIu64,
                             record_time(b, &r->in[0]), r->not_after);
    }
    for (size_t i = 0; st == TALLY_OK && i < r->n; i++) {
        store_item_result *it = r->items ? &r->items[i] : NULL;
        store_input one = r->in[i];
        bool ok;
        int code;
        /* the time is fixed first: the hook judges the record at the time it is stored */
        one.header.time_ms = record_time(b, &r->in[i]);
        /* per item, the hook judges; an all-or-nothing request was judged by its caller, so
         * the hook only folds it, unless it asked to be judged whole */
        st = admit_hook(log, &one, it != NULL || r->judge_all, &ok, &code);
        if (st == TALLY_OK && r->judge_all && !ok && code != 0 &&
            code == log->cfg.admission->noop_code) {
            /* a repeat the rules drop as a no-op (a byte-identical MARKET): skipped, no refusal */
            if (it != NULL) {
                *it = (store_item_result){.accepted = false, .code = code};
            }
            continue;
        }
        if (st == TALLY_OK && r->judge_all && !ok) {
            /* the caller's transaction holds nothing else: it is dropped whole */
            if (r->rej != NULL) {
                r->rej->code = code;
            }
            return store__reject(r, i, TALLY_EINVAL, "the admission hook refused record %zu", i);
        }
        if (st != TALLY_OK || (it != NULL && !ok)) {
            if (it != NULL) {
                *it = (store_item_result){.accepted = false, .code = code};
            }
            continue;
        }
        if (it != NULL) {
            *it = (store_item_result){
                .accepted = true, .seq = log->tree.size, .time_ms = one.header.time_ms};
        }
        st = put_record(b, &one, it ? it->leaf_hash : NULL);
        count++;
        *any = true;
    }
    if (st == TALLY_OK && r->rq != NULL) {
        r->res->first_seq = count ? r->first : 0;
        r->res->count = count;
        r->res->n_accepted = count;
        if (count > 0) {
            st = store__nonce_put(log, b->txn, r->rq, r->first, count);
        }
    }
    return st;
}

/* A replica's batch (store_replicate): the primary's records at the end, exactly as given, and
 * its head, which must be for exactly the new size, not older than the stored one, and carry the
 * root of the tree the records make. The caller checked the head's signature and each body. */
static tally_status replicate_write(batch *b, store__req *r)
{
    store_log *log = b->log;
    const schema_sth *sth = r->repl_sth;
    uint64_t size = log->tree.size;
    uint8_t root[32], key[8], wire[SCHEMA_STH_MAX];
    size_t wn;
    MDB_val k = {8, key}, v;
    tally_status st;

    r->first = size;
    if (sth->tree_size < size || sth->tree_size - size != r->n) {
        return store__say(log->wdetail, TALLY_ECONFLICT,
                          "size mismatch: the head is for size %" PRIu64 ", but the replica "
                          "holds %" PRIu64 " records and the batch %zu",
                          sth->tree_size, size, r->n);
    }
    if (log->has_sth && sth->time_ms < log->last_sth.time_ms) {
        return store__say(log->wdetail, TALLY_ECONFLICT,
                          "the head's time %" PRIu64 " is below the stored head's %" PRIu64
                          ": an older head",
                          sth->time_ms, log->last_sth.time_ms);
    }
    for (size_t i = 0; i < r->n; i++) {
        st = put_entry(b, &r->in[i].header, r->in[i].body, r->in[i].body_len, NULL);
        if (st != TALLY_OK) {
            return st;
        }
    }
    st = flush_tiles(b);
    if (st != TALLY_OK) {
        return st;
    }
    store__tree_root(&log->tree, root);
    if (memcmp(root, sth->root, 32) != 0) {
        return store__say(log->wdetail, TALLY_ECONFLICT,
                          "root mismatch: the tree of size %" PRIu64 " these records make is not "
                          "the head's",
                          sth->tree_size);
    }
    st = schema_sth_encode(sth, wire, sizeof(wire), &wn);
    if (st != TALLY_OK) {
        return st;
    }
    store__be64(sth->tree_size, key);
    v.mv_data = wire, v.mv_size = wn;
    st = store__status(store__put(log, b->txn, log->sth, &k, &v, 0));
    if (st == TALLY_OK) {
        log->last_sth = *sth;
        log->has_sth = true;
    }
    return st;
}

/* A replica's late body for record r->bseq: checked against the record's header, then stored
 * with the tail's bodies or written into the record's pack. Returns the request's status; a
 * failure of the transaction itself (I/O) also goes to *txn_st. */
static tally_status body_write(batch *b, store__req *r, tally_status *txn_st)
{
    store_log *log = b->log;
    uint64_t size = log->tree.size, packed_below = size / 256 * 256;
    store__pack_cache c = {0};
    tally_bytes hb, bb;
    schema_header h;
    bool had, added;
    tally_status st;

    if (r->bseq >= size) {
        return TALLY_ENOTFOUND;
    }
    st = store__record_at(b->txn, log, &c, r->bseq, packed_below, &hb, &bb);
    had = st == TALLY_OK;
    if (st == TALLY_OK || (st == TALLY_ECORRUPT && hb.p != NULL)) {
        st = schema_header_decode(hb.p, hb.n, &h) == TALLY_OK ? TALLY_OK : TALLY_ECORRUPT;
    } else if (st != TALLY_ECORRUPT && st != TALLY_ENOTFOUND) {
        *txn_st = st;
    } else {
        st = TALLY_ECORRUPT;
    }
    store__pack_cache_release(&c);
    if (st != TALLY_OK) {
        return st;
    }
    if (schema_record_check(&h, r->bbody, r->bn, NULL) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    if (had) {
        return TALLY_OK; /* it is there already (a repeat, or a body shared by hash) */
    }
    st = r->bseq >= packed_below
             ? put_body(b, h.body_hash, r->bbody, r->bn)
             : store__pack_put_body(log, b->txn, r->bseq, r->bbody, r->bn, &added);
    if (st != TALLY_OK) {
        *txn_st = st;
    }
    return st;
}

/* After a durable commit: what each signed request learns, and the nonces consumed in memory. */
static void settle_requests(store_log *log, store__req *group)
{
    for (store__req *r = group; r != NULL; r = r->next) {
        if (r->rq == NULL || r->st != TALLY_OK) {
            continue;
        }
        r->res->sth = log->last_sth;
        r->res->has_sth = log->has_sth;
        if (r->res->verdict == STORE_REQ_NEW && r->res->n_accepted == 0) {
            store__nonce_consume(log, r->rq);
        }
    }
}

void store__commit_group(store_log *log, store__req *group)
{
    batch b = {log, NULL, 0};
    uint64_t saved_time = log->last_time;
    schema_sth saved_sth = log->last_sth;
    bool saved_has = log->has_sth, any = false, replicated = false;
    uint64_t start = 0, t0 = mono_ns();
    tally_status st;

    memcpy(&log->saved, &log->tree, sizeof(log->tree));
    log->wdetail[0] = '\0';
    st = store__status(store__txn_begin(log, 0, &b.txn));
    if (st == TALLY_OK) {
        st = resync(log, b.txn);
    }
    b.now = log->cfg.clock != NULL ? log->cfg.clock(log->cfg.clock_arg) : store__now_ms();
    start = log->tree.size;
    for (store__req *r = group; st == TALLY_OK && r != NULL; r = r->next) {
        if (r->side_op) {
            st = side_write(&b, r);
            continue;
        }
        if (r->body_op) {
            /* a refused body changes nothing and fails only its own request */
            r->st = body_write(&b, r, &st);
            continue;
        }
        if (r->repl_sth != NULL) {
            st = replicate_write(&b, r);
            replicated = st == TALLY_OK;
            continue;
        }
        r->st = request_ok(&b, r);
        if (r->st == TALLY_OK) {
            st = put_request(&b, r, &any);
            if (st != TALLY_OK && r->judge_all && r->rej != NULL && r->rej->has_index) {
                r->st = st; /* refused: its own transaction is rolled back below */
            }
        }
    }
    if (st == TALLY_OK && any) {
        st = seal(&b);
        if (st == TALLY_OK) {
            log->has_sth = true;
        }
    }
    if (st == TALLY_OK) {
        st = store__status(store__commit(log, b.txn)); /* durable: LMDB syncs on commit */
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
                if (r->rej != NULL) {
                    r->rej->has_index = false;
                    snprintf(r->rej->what, sizeof(r->rej->what), "%s",
                             log->wdetail[0] ? log->wdetail : "the write transaction failed");
                }
            }
        }
        return;
    }
    atomic_store(&log->published, log->tree.size);
    settle_requests(log, group);
    if (any || (replicated && log->tree.size > start)) {
        uint64_t ns = mono_ns() - t0, records = log->tree.size - start;
        atomic_fetch_add(&log->commits, 1);
        atomic_fetch_add(&log->committed_records, records);
        atomic_store(&log->last_commit_ns, ns);
        atomic_store(&log->last_commit_records, records);
        if (log->cfg.on_commit != NULL) {
            log->cfg.on_commit(log->cfg.on_commit_arg, start, records, ns);
        }
    }
}

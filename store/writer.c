/* The single writer: group commit of queued appends, tiles, and one signed tree head per batch,
 * checked consistent with the previous head before it is signed. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

struct store__req {
    const store_input *in;
    size_t n;
    uint64_t first;
    tally_status st;
    store_rejection *rej;     /* the producer's, or NULL */
    store_item_result *items; /* per-item mode (store_append_items): one verdict per record */
    const store_request *rq;  /* a signed request whose nonce the writer decides, or NULL */
    store_req_result *res;    /* with rq */
    /* a side-table write instead of records (n == 0); val NULL deletes */
    bool side_op;
    store_side side;
    const uint8_t *skey, *sval;
    size_t skn, svn;
    /* asynchronous: heap-allocated, done() called on the writer thread, then freed there */
    store_done_fn done;
    void *done_arg;
    uint64_t *first_out;
    /* all or nothing, every record judged by the hook (a node block): refused as a whole if one
       is refused, or if the first record's time would be above not_after (0: no bound); such a
       request is committed in a transaction of its own */
    bool judge_all;
    uint64_t not_after;
    /* a replica's records as its primary signed them, with the primary's head for the new size
       (store_replicate): committed in a transaction of its own, n may be 0 */
    const schema_sth *repl_sth;
    /* a replica's late body for record bseq (store_body_put) */
    bool body_op;
    const uint8_t *bbody;
    size_t bn;
    uint64_t bseq;
    bool done_flag;
    pthread_cond_t cv; /* a waiting producer waits here: a commit wakes only its own producers */
    store__req *next;
};

static tally_status reject(store__req *r, size_t i, tally_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills the producer's rejection (if it asked for one) and returns st. */
static tally_status reject(store__req *r, size_t i, tally_status st, const char *fmt, ...)
{
    va_list ap;

    if (r->rej != NULL) {
        r->rej->has_index = true;
        r->rej->index = i;
        va_start(ap, fmt);
        vsnprintf(r->rej->what, sizeof(r->rej->what), fmt, ap);
        va_end(ap);
    }
    return st;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- one batch ---- */

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
            return reject(r, i, TALLY_ECONFLICT,
                          first ? "the first record of a log must be GENESIS"
                                : "GENESIS is record 0 only; this log already has one");
        }
        if (t == 0) {
            t = b->now > prev ? b->now : prev;
        } else if (t < prev) {
            return reject(r, i, TALLY_EINVAL,
                          "time_ms %" PRIu64 " is below the previous record's time %" PRIu64, t,
                          prev);
        } else if (!log->cfg.simulated_time && (b->now > UINT64_MAX - skew || t > b->now + skew)) {
            return reject(r, i, TALLY_EINVAL,
                          "time_ms %" PRIu64 " is more than %" PRIu64 " ms ahead of the node "
                          "clock (%" PRIu64 ")", t, skew, b->now);
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
            return store__corrupt(log->wdetail, "the new tree (size %" PRIu64 ") does not extend "
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
        return reject(r, 0, TALLY_EAGAIN,
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
            return reject(r, i, TALLY_EINVAL, "the admission hook refused record %zu", i);
        }
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
                          ": an older head", sth->time_ms, log->last_sth.time_ms);
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
                          "the head's", sth->tree_size);
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
    st = r->bseq >= packed_below ? put_body(b, h.body_hash, r->bbody, r->bn)
                                 : store__pack_put_body(log, b->txn, r->bseq, r->bbody, r->bn,
                                                        &added);
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

static void commit_group(store_log *log, store__req *group)
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
    b.now = log->cfg.clock != NULL ? log->cfg.clock(log->cfg.clock_arg) : now_ms();
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

/* The requests of a group the writer took from the queue: records and side writes count. */
static uint64_t req_weight(const store__req *r)
{
    return r->side_op || r->body_op || r->n == 0 ? 1 : r->n;
}

/* A request committed in a transaction of its own: a judged block, or a replica's batch (whose
 * head is the primary's, for exactly its records). */
static bool req_alone(const store__req *r)
{
    return r->judge_all || r->repl_sth != NULL;
}

static void *writer_main(void *arg)
{
    store_log *log = arg;

    pthread_mutex_lock(&log->mu);
    for (;;) {
        store__req *group, *last = NULL, *r;
        size_t count = 0;

        atomic_store(&log->heartbeat_ms, now_ms());
        while (log->head == NULL && !log->stop) {
            /* turn at least once a second, so that the heartbeat says the writer is alive */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&log->cv_work, &log->mu, &until);
            atomic_store(&log->heartbeat_ms, now_ms());
        }
        if (log->head == NULL) {
            break;
        }
        /* Take whole requests up to commit_max records (always at least one request). */
        group = r = log->head;
        while (r != NULL && (count == 0 || (count + req_weight(r) <= log->commit_max &&
                                            !req_alone(r) && !req_alone(group)))) {
            count += req_weight(r);
            last = r;
            r = r->next;
        }
        log->head = r;
        if (r == NULL) {
            log->tail = NULL;
        }
        last->next = NULL;
        log->queued -= count;
        pthread_mutex_unlock(&log->mu);

        commit_group(log, group);

        /* asynchronous producers first: their requests are the writer's to free */
        store__req *sync = NULL, **tailp = &sync;
        for (r = group; r != NULL;) {
            store__req *next = r->next;
            if (r->done != NULL) {
                if (r->first_out != NULL) {
                    *r->first_out = r->st == TALLY_OK ? r->first : 0;
                }
                r->done(r->done_arg, r->st);
                free(r);
            } else {
                r->next = NULL;
                *tailp = r, tailp = &r->next;
            }
            r = next;
        }
        pthread_mutex_lock(&log->mu);
        for (r = sync; r != NULL;) {
            store__req *next = r->next;
            /* r lives on its producer's stack: it cannot return before we drop the mutex */
            r->done_flag = true;
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

static const char replica_refusal[] =
    "the log is a replica: it takes records only as its primary signed them (store_replicate)";

/* The checks that need no log state, on the caller's thread: header shape, body against
 * header, author, actor signature. A request the caller verified skips the two costly ones. */
static tally_status check_input(store_log *log, store__req *r, size_t i)
{
    const schema_header *h = &r->in[i].header;
    tally_str origin = {log->origin, strlen(log->origin)};
    const char *name = schema_type_name((unsigned)h->type);
    bool verified = r->rq != NULL && r->rq->verified;
    schema_body body;
    tally_status st;

    if (h->version != SCHEMA_VERSION || !schema_type_known((unsigned)h->type)) {
        return reject(r, i, TALLY_EFORMAT, "unknown record version or type");
    }
    if (!verified) {
        st = schema_record_check(h, r->in[i].body, r->in[i].body_len, &body);
        if (st != TALLY_OK) {
            return reject(r, i, st, "the %s body does not match its header", name);
        }
        schema_body_release(&body);
    }
    st = schema_author_check(log->pk, h);
    if (st != TALLY_OK) {
        bool by_node = memcmp(h->actor, log->pk, 32) == 0;
        return reject(r, i, st,
                      by_node ? "%s records must be signed by their author's own key (give "
                                "\"actor\" and \"sig\"), never by the node key"
                              : "%s records must be signed by the node key (the GENESIS actor)",
                      name);
    }
    if (r->rq != NULL && memcmp(h->actor, r->rq->key, 32) != 0) {
        return reject(r, i, TALLY_EAUTH, "a %s record of the request is not by its key", name);
    }
    if (!verified && !log->cfg.trust_signatures && schema_record_verify(h, origin) != TALLY_OK) {
        return reject(r, i, TALLY_EAUTH, "the %s record's actor_sig does not verify", name);
    }
    return TALLY_OK;
}

tally_status store_append(store_log *log, const store_input *in, size_t n, uint64_t *first_seq_out)
{
    return store_append_ex(log, in, n, first_seq_out, NULL);
}

/* Queues r (a copy on the heap when asynchronous); a waiting producer sleeps until its
 * transaction is durable or failed. TALLY_EAGAIN when closing or the queue is full. */
static tally_status enqueue(store_log *log, store__req *r)
{
    store__req local = *r, *q = &local;
    uint64_t w = req_weight(r);

    if (r->done != NULL) {
        q = malloc(sizeof(*q));
        if (q == NULL) {
            return TALLY_ENOMEM;
        }
        *q = *r;
    } else {
        pthread_cond_init(&q->cv, NULL);
    }
    q->next = NULL;
    pthread_mutex_lock(&log->mu);
    /* a request larger than the whole queue still goes when the queue is empty */
    if (log->stop || (log->queued > 0 && log->queued + w > log->queue_max)) {
        pthread_mutex_unlock(&log->mu);
        if (q != &local) {
            free(q);
        } else {
            pthread_cond_destroy(&q->cv);
        }
        return TALLY_EAGAIN;
    }
    log->queued += w;
    if (log->tail != NULL) {
        log->tail->next = q;
    } else {
        log->head = q;
    }
    log->tail = q;
    pthread_cond_signal(&log->cv_work);
    if (q != &local) {
        pthread_mutex_unlock(&log->mu);
        return TALLY_OK; /* the writer owns q now */
    }
    while (!q->done_flag) {
        pthread_cond_wait(&q->cv, &log->mu);
    }
    pthread_mutex_unlock(&log->mu);
    pthread_cond_destroy(&q->cv);
    r->first = q->first;
    return q->st;
}

/* The per-item checks of store_append_items and of signed requests, before queueing. */
static tally_status check_items(store_log *log, store__req *req)
{
    if (log->replica) {
        return TALLY_EINVAL;
    }
    if (!log->writer_started) {
        return TALLY_EAGAIN;
    }
    if (req->n == 0 || log->cfg.admission == NULL) {
        return TALLY_EINVAL;
    }
    for (size_t i = 0; i < req->n; i++) {
        tally_status st = check_input(log, req, i);
        if (st != TALLY_OK) {
            return st;
        }
        /* GENESIS comes through store_append alone: the hook judges only what follows it */
        if (req->in[i].header.type == SCHEMA_GENESIS) {
            return TALLY_ECONFLICT;
        }
    }
    return TALLY_OK;
}

static void count_accepted(const store_item_result *out, size_t n, size_t *n_out)
{
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        *n_out += out[i].accepted;
    }
}

tally_status store_append_items(store_log *log, const store_input *in, size_t n,
                                store_item_result *out, size_t *n_accepted_out)
{
    store__req req = {.in = in, .n = n, .items = out, .st = TALLY_OK};
    tally_status st;

    *n_accepted_out = 0;
    memset(out, 0, n * sizeof(*out));
    st = check_items(log, &req);
    if (st == TALLY_OK) {
        st = enqueue(log, &req);
    }
    if (st != TALLY_OK) {
        memset(out, 0, n * sizeof(*out));
        return st;
    }
    count_accepted(out, n, n_accepted_out);
    return TALLY_OK;
}

tally_status store_submit_request(store_log *log, const store_request *rq, const store_input *in,
                                  size_t n, store_item_result *out, store_req_result *res,
                                  store_done_fn done, void *arg)
{
    store__req req = {.in = in, .n = n, .items = out, .st = TALLY_OK, .rq = rq, .res = res,
                      .done = done, .done_arg = arg};
    tally_status st;

    memset(out, 0, n * sizeof(*out));
    memset(res, 0, sizeof(*res));
    if (done == NULL) {
        return TALLY_EINVAL;
    }
    st = check_items(log, &req);
    if (st == TALLY_OK) {
        st = enqueue(log, &req);
    }
    return st;
}

/* The checks of a judged batch before queueing (store_append_judged, store_submit_judged). */
static tally_status check_judged(store_log *log, store__req *req)
{
    if (log->replica) {
        return reject(req, 0, TALLY_EINVAL, "%s", replica_refusal);
    }
    if (!log->writer_started) {
        return reject(req, 0, TALLY_EAGAIN, "the log is open read-only");
    }
    if (req->n == 0 || log->cfg.admission == NULL) {
        return TALLY_EINVAL;
    }
    for (size_t i = 0; i < req->n; i++) {
        tally_status st = check_input(log, req, i);
        if (st != TALLY_OK) {
            return st;
        }
    }
    return TALLY_OK;
}

tally_status store_append_judged(store_log *log, const store_input *in, size_t n,
                                 uint64_t not_after_ms, store_item_result *out,
                                 uint64_t *first_seq_out, store_rejection *rej)
{
    store__req req = {.in = in, .n = n, .st = TALLY_OK, .rej = rej, .judge_all = true,
                      .not_after = not_after_ms, .items = out};
    tally_status st;

    *first_seq_out = 0;
    if (rej != NULL) {
        memset(rej, 0, sizeof(*rej));
    }
    st = check_judged(log, &req);
    if (st == TALLY_OK) {
        st = enqueue(log, &req);
    }
    if (st == TALLY_OK) {
        *first_seq_out = req.first;
    }
    return st;
}

tally_status store_submit_judged(store_log *log, const store_input *in, size_t n,
                                 store_item_result *out, uint64_t *first_out,
                                 store_rejection *rej, store_done_fn done, void *arg)
{
    store__req req = {.in = in, .n = n, .st = TALLY_OK, .rej = rej, .judge_all = true,
                      .items = out, .done = done, .done_arg = arg, .first_out = first_out};
    tally_status st;

    *first_out = 0;
    if (rej != NULL) {
        memset(rej, 0, sizeof(*rej));
    }
    if (done == NULL) {
        return TALLY_EINVAL;
    }
    st = check_judged(log, &req);
    return st == TALLY_OK ? enqueue(log, &req) : st;
}

tally_status store_append_request(store_log *log, const store_request *rq, const store_input *in,
                                  size_t n, store_item_result *out, store_req_result *res)
{
    store__req req = {.in = in, .n = n, .items = out, .st = TALLY_OK, .rq = rq, .res = res};
    tally_status st;

    memset(out, 0, n * sizeof(*out));
    memset(res, 0, sizeof(*res));
    if (rq == NULL) {
        return TALLY_EINVAL;
    }
    st = check_items(log, &req);
    if (st == TALLY_OK) {
        st = enqueue(log, &req);
    }
    if (st != TALLY_OK) {
        memset(out, 0, n * sizeof(*out));
        memset(res, 0, sizeof(*res));
    }
    return st;
}

tally_status store_append_ex(store_log *log, const store_input *in, size_t n,
                             uint64_t *first_seq_out, store_rejection *rej)
{
    store__req req = {.in = in, .n = n, .st = TALLY_OK, .rej = rej};
    tally_status st;

    *first_seq_out = 0;
    if (rej != NULL) {
        memset(rej, 0, sizeof(*rej));
    }
    if (log->replica) {
        return reject(&req, 0, TALLY_EINVAL, "%s", replica_refusal);
    }
    if (!log->writer_started) {
        return reject(&req, 0, TALLY_EAGAIN, "the log is open read-only");
    }
    if (n == 0) {
        return TALLY_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        st = check_input(log, &req, i);
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

tally_status store_side_put(store_log *log, store_side side, const uint8_t *key, size_t kn,
                            const uint8_t *val, size_t vn)
{
    store__req req = {.side_op = true, .side = side, .skey = key, .skn = kn, .sval = val,
                      .svn = vn, .st = TALLY_OK};

    if ((unsigned)side >= STORE_SIDE_COUNT || kn == 0 || kn > STORE_SIDE_KEY_MAX ||
        (val != NULL && vn > STORE_SIDE_VAL_MAX) || (log->replica != (side == STORE_SIDE_AUDIT))) {
        /* a replica keeps the primary's log and its auditor's state, never a node's own state;
           a node's log holds no auditor state */
        return TALLY_EINVAL;
    }
    if (!log->writer_started) {
        return TALLY_EAGAIN;
    }
    return enqueue(log, &req);
}

void store_writer_stats_get(store_log *log, store_writer_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&log->mu);
    out->queued = log->queued;
    pthread_mutex_unlock(&log->mu);
    out->heartbeat_ms = atomic_load(&log->heartbeat_ms);
    out->commits = atomic_load(&log->commits);
    out->committed_records = atomic_load(&log->committed_records);
    out->last_commit_ns = atomic_load(&log->last_commit_ns);
    out->last_commit_records = atomic_load(&log->last_commit_records);
    MDB_envinfo info;
    MDB_stat ms;
    if (mdb_env_info(log->env, &info) == 0 && mdb_env_stat(log->env, &ms) == 0) {
        out->map_size = info.me_mapsize;
        out->map_used = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
    }
}

/* The checks of a replica's batch before queueing: the head's signature, each record's shape
 * and its body (present and matching, or absent from a non-public record). */
static tally_status check_replica(store_log *log, store__req *req)
{
    uint8_t hb[SCHEMA_HEADER_MAX];
    size_t hn;

    if (!log->replica || !log->writer_started) {
        return reject(req, 0, TALLY_EINVAL, "the log is not open as a replica's writer");
    }
    if (store_sth_verify(req->repl_sth, log->origin, log->pk) != TALLY_OK) {
        if (req->rej != NULL) {
            req->rej->has_index = false;
            snprintf(req->rej->what, sizeof(req->rej->what),
                     "the head is not signed by the pinned node key for origin %s", log->origin);
        }
        return TALLY_EAUTH;
    }
    for (size_t i = 0; i < req->n; i++) {
        const store_input *in = &req->in[i];
        const schema_header *h = &in->header;
        if (schema_header_encode(h, hb, sizeof(hb), &hn) != TALLY_OK) {
            return reject(req, i, TALLY_EFORMAT, "record %zu: the header does not encode", i);
        }
        if (in->body == NULL) {
            if (in->body_len != 0 || h->tier < SCHEMA_GATED || h->tier > SCHEMA_PRIVATE) {
                return reject(req, i, TALLY_EFORMAT,
                              "record %zu: a public record's body must be present", i);
            }
        } else if (schema_record_check(h, in->body, in->body_len, NULL) != TALLY_OK) {
            return reject(req, i, TALLY_EFORMAT, "record %zu: the %s body does not match its "
                          "header", i, schema_type_name((unsigned)h->type));
        }
    }
    return TALLY_OK;
}

tally_status store_replicate(store_log *log, const store_input *in, size_t n,
                             const schema_sth *sth, store_rejection *rej)
{
    store__req req = {.in = in, .n = n, .st = TALLY_OK, .rej = rej, .repl_sth = sth};
    tally_status st;

    if (rej != NULL) {
        memset(rej, 0, sizeof(*rej));
    }
    st = check_replica(log, &req);
    return st == TALLY_OK ? enqueue(log, &req) : st;
}

tally_status store_body_put(store_log *log, const uint8_t *body, size_t n, uint64_t seq)
{
    store__req req = {.body_op = true, .bbody = body, .bn = n, .bseq = seq, .st = TALLY_OK};

    if (!log->replica || !log->writer_started || body == NULL || n == 0 ||
        n > SCHEMA_BODY_MAX) {
        return TALLY_EINVAL;
    }
    return enqueue(log, &req);
}

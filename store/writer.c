/* The single writer's queue: the producers (store_append and its variants, side-table writes,
 * a replica's batches and late bodies), which check what needs no log state on the caller's
 * thread and queue a request, and the writer thread, which takes whole requests off the queue
 * up to commit_max records, commits each group (store/batch.c) and wakes or calls back their
 * producers. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

/* Fills the producer's rejection (if it asked for one) and returns st. */
tally_status store__reject(store__req *r, size_t i, tally_status st, const char *fmt, ...)
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

uint64_t store__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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

        atomic_store(&log->heartbeat_ms, store__now_ms());
        while (log->head == NULL && !log->stop) {
            /* turn at least once a second, so that the heartbeat says the writer is alive */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&log->cv_work, &log->mu, &until);
            atomic_store(&log->heartbeat_ms, store__now_ms());
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

        store__commit_group(log, group);

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
        return store__reject(r, i, TALLY_EFORMAT, "unknown record version or type");
    }
    if (!verified) {
        st = schema_record_check(h, r->in[i].body, r->in[i].body_len, &body);
        if (st != TALLY_OK) {
            return store__reject(r, i, st, "the %s body does not match its header", name);
        }
        schema_body_release(&body);
    }
    st = schema_author_check(log->pk, h);
    if (st != TALLY_OK) {
        bool by_node = memcmp(h->actor, log->pk, 32) == 0;
        return store__reject(r, i, st,
                      by_node ? "%s records must be signed by their author's own key (give "
                                "\"actor\" and \"sig\"), never by the node key"
                              : "%s records must be signed by the node key (the GENESIS actor)",
                      name);
    }
    if (r->rq != NULL && memcmp(h->actor, r->rq->key, 32) != 0) {
        return store__reject(r, i, TALLY_EAUTH, "a %s record of the request is not by its key", name);
    }
    if (!verified && !log->cfg.trust_signatures && schema_record_verify(h, origin) != TALLY_OK) {
        return store__reject(r, i, TALLY_EAUTH, "the %s record's actor_sig does not verify", name);
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
        return store__reject(req, 0, TALLY_EINVAL, "%s", replica_refusal);
    }
    if (!log->writer_started) {
        return store__reject(req, 0, TALLY_EAGAIN, "the log is open read-only");
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
        return store__reject(&req, 0, TALLY_EINVAL, "%s", replica_refusal);
    }
    if (!log->writer_started) {
        return store__reject(&req, 0, TALLY_EAGAIN, "the log is open read-only");
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
        return store__reject(req, 0, TALLY_EINVAL, "the log is not open as a replica's writer");
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
            return store__reject(req, i, TALLY_EFORMAT, "record %zu: the header does not encode", i);
        }
        if (in->body == NULL) {
            if (in->body_len != 0 || h->tier < SCHEMA_GATED || h->tier > SCHEMA_PRIVATE) {
                return store__reject(req, i, TALLY_EFORMAT,
                              "record %zu: a public record's body must be present", i);
            }
        } else if (schema_record_check(h, in->body, in->body_len, NULL) != TALLY_OK) {
            return store__reject(req, i, TALLY_EFORMAT, "record %zu: the %s body does not match its "
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

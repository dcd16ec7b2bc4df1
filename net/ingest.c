/* The ingest API of protocol §5: GET /v1/games, POST /v1/odds and POST /v1/outcomes, after the
 * request signature was verified (route.c). Stage 10 (nonces) and 11 (the stateless checks of
 * wire/) run on the HTTP thread; stage 12 is the writer's: the request goes to it whole, the
 * writer decides the write nonce against its index and judges each item by the acceptance rules
 * at the position and time it gives it, and the response (with the node-signed receipt of §5.5)
 * is sent from the writer's done callback, after the commit and its head are durable. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

/* ---- GET /v1/games ---- */

typedef struct games_acc {
    json_t *games;
    uint64_t now, odds_window;
} games_acc;

static json_t *body_json(const schema_body *b)
{
    char *text = NULL;
    json_t *o;

    if (schema_body_to_json(b, &text) != TALLY_OK) {
        return NULL;
    }
    o = json_loads(text, 0, NULL);
    free(text);
    return o;
}

static tally_status add_game(void *arg, const schema_event *e, const schema_body *markets,
                             size_t n_markets)
{
    games_acc *acc = arg;
    schema_body eb = {.type = SCHEMA_EVENT, .u.event = *e};
    json_t *g = body_json(&eb), *ms = json_array();

    if (g == NULL || ms == NULL) {
        json_decref(g);
        json_decref(ms);
        return TALLY_ENOMEM;
    }
    for (size_t i = 0; i < n_markets; i++) {
        json_t *m = body_json(&markets[i]);
        if (m == NULL) {
            json_decref(g);
            json_decref(ms);
            return TALLY_ENOMEM;
        }
        json_object_del(m, "event_id");
        json_array_append_new(ms, m);
    }
    json_object_set_new(g, "accepts_odds", json_boolean(e->start_ms <= acc->now + acc->odds_window));
    json_object_set_new(g, "markets", ms);
    json_array_append_new(acc->games, g);
    return TALLY_OK;
}

void net__h_games(net_node *n, httpd_req *req, net__ctx *ctx)
{
    wire_games_query q;
    wire_fail wf;
    ledger_view_info vi;
    ledger_games_query lq;
    games_acc acc;
    bool more;
    uint64_t next_start, next_id;
    uint64_t now = net__now_ms(n), ttl;
    json_t *o;
    char cursor[WIRE_CURSOR_LEN + 1];

    ttl = 2 * ops_config_u64(n->conf, OPS_K_AUTH_MAX_SKEW_S) * 1000u;
    switch (net_rnonce_use(n->rnonce, ctx->auth.key, ctx->auth.nonce, net__mono_ms(n), ttl)) {
    case NET_RNONCE_OK: break;
    case NET_RNONCE_REUSED:
        net__fail(n, req, ctx, WIRE_NONCE_REUSED, "this read nonce was used already", NULL);
        return;
    default:
        net__fail(n, req, ctx, WIRE_OVERLOADED, "the read-nonce cache is full", NULL);
        return;
    }
    if (wire_games_query_parse(httpd_req_query(req), &q, &wf) != TALLY_OK) {
        json_t *d = json_pack("{s:s}", "field", wf.field);
        net__fail(n, req, ctx, WIRE_BAD_REQUEST, wf.message, d);
        json_decref(d);
        return;
    }
    ledger_view_info_get(n->view, &vi);
    acc.now = now;
    acc.odds_window = (uint64_t)vi.params.v[SCHEMA_P_ODDS_WINDOW_DAYS] * SCHEMA_DAY_MS;
    uint64_t lookahead = (uint64_t)vi.params.v[SCHEMA_P_GAMES_LOOKAHEAD_DAYS] * SCHEMA_DAY_MS;
    lq = (ledger_games_query){.from_ms = now,
                              .to_ms = now + lookahead,
                              .has_since = q.has_since,
                              .since_ms = q.since_ms,
                              .has_cursor = q.has_cursor,
                              .after_start = q.cursor.start_ms,
                              .after_id = q.cursor.event_id,
                              .league = q.has_league ? q.league : NULL,
                              .sport = q.has_sport ? q.sport : NULL,
                              .limit = q.limit};
    acc.games = json_array();
    if (acc.games == NULL || ledger_view_games(n->view, &lq, add_game, &acc, &more, &next_start,
                                               &next_id) != TALLY_OK) {
        json_decref(acc.games);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot list the games", NULL);
        return;
    }
    wire_cursor c = {next_start, next_id};
    bool has_next = more && wire_cursor_encode(&c, cursor) == TALLY_OK;
    o = json_pack("{s:b, s:I, s:I, s:I, s:o, s:o}", "success", 1, "now_ms", (json_int_t)now,
                  "lookahead_ms", (json_int_t)lookahead, "odds_window_ms",
                  (json_int_t)acc.odds_window, "games", acc.games, "next_cursor",
                  has_next ? json_string(cursor) : json_null());
    if (o == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    net__reply_json(n, req, ctx, 200, o);
    json_decref(o);
}

/* ---- POST /v1/odds, /v1/outcomes ---- */

typedef struct job {
    net_node *n;
    httpd_req *req;
    net__ctx *ctx;
    atomic_int answered;   /* 0 until the writer's answer or the commit timeout replied */
    uint64_t deadline_ms;  /* monotonic: TALLY_COMMIT_TIMEOUT_S after queueing */
    struct job *prev, *next; /* the node's list of writes in the writer's hands */
    unsigned type;
    wire_items items;
    store_request rq;
    store_input *in;
    store_item_result *out;
    store_req_result res;
    uint64_t enq_ns;
} job;

static void job_free(job *j)
{
    wire_items_release(&j->items);
    free(j->in);
    free(j->out);
    free(j);
}

static const char *type_label(unsigned type)
{
    return type == SCHEMA_ODDS_SUBMISSION ? "odds_submission" : "outcome";
}

/* The signed receipt of §5.5 for entries (ascending by seq) under head sth, as JSON. */
json_t *net__receipt_json(net_node *n, const store_request *rq, const schema_sth *sth,
                          const wire_receipt_entry *e, size_t k)
{
    wire_receipt *r = calloc(1, sizeof(*r));
    uint8_t *msg = NULL, sig[64];
    size_t mn;
    char *text = NULL;
    json_t *o = NULL;

    if (r == NULL) {
        return NULL;
    }
    snprintf(r->origin, sizeof(r->origin), "%s", n->origin);
    memcpy(r->key, rq->key, 32);
    r->nonce = rq->nonce, r->tree_size = sth->tree_size;
    memcpy(r->root, sth->root, 32);
    r->n = k;
    memcpy(r->entries, e, k * sizeof(*e));
    if (wire_receipt_message(r, &msg, &mn) == TALLY_OK &&
        store_node_sign_msg(n->store, msg, mn, sig) == TALLY_OK &&
        wire_receipt_to_json(r, sig, &text) == TALLY_OK) {
        o = json_loads(text, 0, NULL);
    }
    free(msg);
    free(text);
    free(r);
    return o;
}

static json_t *item_accepted(size_t idx, uint64_t seq, uint64_t time_ms, const uint8_t leaf[32])
{
    char hex[65];
    schema_hex(leaf, 32, hex);
    return json_pack("{s:I, s:s, s:I, s:I, s:s}", "idx", (json_int_t)idx, "status", "accepted",
                     "seq", (json_int_t)seq, "time_ms", (json_int_t)time_ms, "leaf_hash", hex);
}

static const char *rule_message(engine_rule r)
{
    switch (r) {
    case ENGINE_RULE_UNKNOWN_EVENT: return "the event does not exist";
    case ENGINE_RULE_UNKNOWN_MARKET: return "a market does not exist";
    case ENGINE_RULE_MARKET_EVENT_MISMATCH: return "a market belongs to another event";
    case ENGINE_RULE_MARKET_KIND_MISMATCH: return "an entry's kind is not its market's";
    case ENGINE_RULE_MARKET_SIDES_MISMATCH: return "a price's side is not a side of its market";
    case ENGINE_RULE_MARKET_CLOSED: return "the event has started or is not scheduled";
    case ENGINE_RULE_MARKET_NOT_OPEN: return "the event starts beyond the odds window";
    case ENGINE_RULE_PRICED_AT_OUT_OF_RANGE: return "priced_at_ms is too far from the node time";
    case ENGINE_RULE_MARKET_DAILY_CAP: return "the daily cap of prices for a market is reached";
    case ENGINE_RULE_DUPLICATE_IN_BUCKET: return "an entry is already in this time bucket";
    case ENGINE_RULE_EVENT_INELIGIBLE: return "the event takes no outcomes";
    case ENGINE_RULE_EVENT_NOT_STARTED: return "the event has not started";
    case ENGINE_RULE_OUTCOME_WINDOW_CLOSED: return "the outcome window has closed";
    case ENGINE_RULE_EVENT_DAILY_CAP: return "the daily cap of outcomes for the event is reached";
    default: return "refused by the acceptance rules";
    }
}

/* The response to a request the writer decided as new: 200 with the receipt when an item was
 * appended, 422 items_rejected when none was. */
static void answer_new(job *j)
{
    net_node *n = j->n;
    json_t *items = json_array(), *o, *rc;
    wire_receipt_entry *e = calloc(j->items.n ? j->items.n : 1, sizeof(*e));
    size_t k = 0, rejected = 0;

    if (items == NULL || e == NULL) {
        json_decref(items);
        free(e);
        net__fail(n, j->req, j->ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    for (size_t i = 0; i < j->items.n; i++) {
        const store_item_result *r = &j->out[i];
        const char *lab[2] = {type_label(j->type), r->accepted ? "accepted" : "rejected"};
        ops_metric_add(n->metrics, OPS_M_INGEST_ITEMS, lab, 1);
        if (r->accepted) {
            const char *lt[1] = {schema_type_name(j->type)};
            ops_metric_add(n->metrics, OPS_M_LOG_APPENDS, lt, 1);
            e[k] = (wire_receipt_entry){.seq = r->seq, .time_ms = r->time_ms};
            memcpy(e[k].leaf_hash, r->leaf_hash, 32);
            k++;
            json_array_append_new(items, item_accepted(i, r->seq, r->time_ms, r->leaf_hash));
            continue;
        }
        engine_rule rule = (engine_rule)r->code;
        const char *lr[2] = {type_label(j->type), engine_rule_name(rule)};
        ops_metric_add(n->metrics, OPS_M_INGEST_REJECTIONS, lr, 1);
        json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:s}", "idx", (json_int_t)i,
                                               "status", "rejected", "error",
                                               engine_rule_name(rule), "message",
                                               rule_message(rule)));
        rejected++;
    }
    if (rejected > 0) {
        OPS_LOG(n->log, OPS_INFO, "net", "ingest_rejected",
                OPS_FS("request_id", httpd_req_id(j->req)), OPS_FU("items", j->items.n),
                OPS_FU("rejected", rejected));
    }
    if (k == 0) {
        json_t *d = json_pack("{s:o}", "items", items);
        net__fail(n, j->req, j->ctx, WIRE_ITEMS_REJECTED,
                  "every item was refused by the acceptance rules", d);
        json_decref(d);
        free(e);
        return;
    }
    rc = net__receipt_json(n, &j->rq, &j->res.sth, e, k);
    free(e);
    o = json_pack("{s:b, s:b, s:I, s:I, s:o, s:o}", "success", 1, "duplicate", 0, "accepted",
                  (json_int_t)k, "rejected", (json_int_t)rejected, "items", items, "receipt",
                  rc ? rc : json_null());
    net__reply_json(n, j->req, j->ctx, 200, o);
    json_decref(o);
}

/* An idempotent retry (§4): the original records (found by the request's own item bodies) and
 * a fresh receipt under the latest head; nothing appended, no strike. */
static void answer_duplicate(net_node *n, httpd_req *req, net__ctx *ctx, const store_request *rq,
                             const wire_items *items, uint64_t first, uint32_t count)
{
    wire_receipt_entry *e = calloc(count ? count : 1, sizeof(*e));
    size_t *idx_of = calloc(count ? count : 1, sizeof(*idx_of));
    json_t *list = json_array(), *o, *rc;
    store_iter *it = NULL;
    store_record rec;
    schema_header h;
    schema_body b;
    schema_sth sth;
    tally_status st = e && idx_of && list ? store_iter_open(n->store, first, &it) : TALLY_ENOMEM;

    for (uint32_t k = 0; st == TALLY_OK && k < count; k++) {
        st = store_iter_read(it, false, &rec, &h, &b);
        if (st != TALLY_OK) {
            break;
        }
        e[k] = (wire_receipt_entry){.seq = rec.seq, .time_ms = h.time_ms};
        memcpy(e[k].leaf_hash, rec.leaf_hash, 32);
        idx_of[k] = SIZE_MAX;
        for (size_t i = 0; i < items->n; i++) {
            if (memcmp(items->items[i].header.body_hash, h.body_hash, 32) == 0) {
                idx_of[k] = i;
            }
        }
    }
    store_iter_close(it);
    if (st == TALLY_OK) {
        st = store_sth_latest(n->store, &sth);
    }
    if (st != TALLY_OK) {
        json_decref(list);
        free(e);
        free(idx_of);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the original records", NULL);
        return;
    }
    for (size_t i = 0; i < items->n; i++) {
        bool hit = false;
        for (uint32_t k = 0; k < count && !hit; k++) {
            if (idx_of[k] == i) {
                json_array_append_new(list, item_accepted(i, e[k].seq, e[k].time_ms,
                                                          e[k].leaf_hash));
                hit = true;
            }
        }
        if (!hit) {
            /* the original refusal's reason is not kept: only that it was not appended */
            json_array_append_new(list, json_pack("{s:I, s:s}", "idx", (json_int_t)i, "status",
                                                  "rejected"));
        }
    }
    rc = net__receipt_json(n, rq, &sth, e, count);
    o = json_pack("{s:b, s:b, s:I, s:I, s:o, s:o}", "success", 1, "duplicate", 1, "accepted",
                  (json_int_t)count, "rejected", (json_int_t)(items->n - count), "items", list,
                  "receipt", rc ? rc : json_null());
    net__reply_json(n, req, ctx, 200, o);
    json_decref(o);
    free(e);
    free(idx_of);
}

static void fail_nonce(net_node *n, httpd_req *req, net__ctx *ctx, bool replay)
{
    net__fail(n, req, ctx, replay ? WIRE_NONCE_REPLAY : WIRE_NONCE_STALE,
              replay ? "this write nonce was accepted with other content"
                     : "this write nonce is not above the key's highest",
              NULL);
}

/* The writes in the writer's hands, for the commit timeout (§8 overloaded: "commit not done in
 * TALLY_COMMIT_TIMEOUT_S; the write may still land"). */
static void pending_add(net_node *n, job *j)
{
    pthread_mutex_lock(&n->pending_mu);
    j->prev = NULL, j->next = n->pending;
    if (n->pending != NULL) {
        ((job *)n->pending)->prev = j;
    }
    n->pending = j;
    pthread_mutex_unlock(&n->pending_mu);
}

static void pending_del(net_node *n, job *j)
{
    pthread_mutex_lock(&n->pending_mu);
    if (j->prev != NULL) {
        j->prev->next = j->next;
    } else {
        n->pending = j->next;
    }
    if (j->next != NULL) {
        j->next->prev = j->prev;
    }
    pthread_mutex_unlock(&n->pending_mu);
}

void net__reap_writes(net_node *n)
{
    uint64_t now = net__mono_ms(n);

    pthread_mutex_lock(&n->pending_mu);
    for (job *j = n->pending; j != NULL; j = j->next) {
        int zero = 0;
        if (now >= j->deadline_ms && atomic_compare_exchange_strong(&j->answered, &zero, 1)) {
            net__fail(n, j->req, j->ctx, WIRE_OVERLOADED,
                      "the commit did not finish in time; it may still land: retry with the "
                      "same nonce and body",
                      NULL);
        }
    }
    pthread_mutex_unlock(&n->pending_mu);
}

/* The writer's verdict, on the writer thread once the commit is durable (or failed). */
static void on_done(void *arg, tally_status st)
{
    job *j = arg;
    net_node *n = j->n;
    double secs = (double)(ops_clock_mono_ns(n->clock) - j->enq_ns) / 1e9;
    int zero = 0;

    ops_metric_observe(n->metrics, OPS_M_APPEND_ACK, NULL, secs);
    pending_del(n, j);
    if (!atomic_compare_exchange_strong(&j->answered, &zero, 1)) {
        /* the commit timeout answered already: the request is gone */
        job_free(j);
        return;
    }
    if (st != TALLY_OK) {
        net__latch(n, st);
        net__fail(n, j->req, j->ctx, st == TALLY_EFULL ? WIRE_STORAGE_FULL : WIRE_INTERNAL_ERROR,
                  st == TALLY_EFULL ? "the log's storage is full" : "the write failed", NULL);
    } else if (j->res.verdict == STORE_REQ_DUPLICATE) {
        answer_duplicate(n, j->req, j->ctx, &j->rq, &j->items, j->res.first_seq, j->res.count);
    } else if (j->res.verdict != STORE_REQ_NEW) {
        fail_nonce(n, j->req, j->ctx, j->res.verdict == STORE_REQ_REPLAY);
    } else {
        answer_new(j);
    }
    job_free(j);
}

static void fail_stateless(net_node *n, httpd_req *req, net__ctx *ctx, const wire_fail *wf)
{
    json_t *d = NULL;

    if (wf->has_idx) {
        json_t *item = json_pack("{s:I, s:s}", "idx", (json_int_t)wf->idx, "field", wf->field);
        if (item != NULL && wf->market_id != 0) {
            json_object_set_new(item, "market_id", json_integer((json_int_t)wf->market_id));
        }
        d = json_pack("{s:[o]}", "items", item);
    }
    net__fail(n, req, ctx, wf->err, wf->message, d);
    json_decref(d);
}

static void ingest(net_node *n, httpd_req *req, net__ctx *ctx, unsigned type)
{
    tally_bytes body = httpd_req_body(req);
    wire_request wr;
    ledger_view_info vi;
    store_nonce_info ni;
    wire_fail wf;
    tally_status st;
    job *j;

    net__wire_request(n, req, ctx, &wr);
    if (!net__writable(n, req, ctx)) {
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    *j = (job){.n = n, .req = req, .ctx = ctx, .type = type, .items = WIRE_ITEMS_INIT};
    memcpy(j->rq.key, ctx->auth.key, 32);
    j->rq.nonce = ctx->auth.nonce;
    j->rq.verified = true;
    if (wire_request_digest(&wr, j->rq.digest) != TALLY_OK) {
        job_free(j);
        net__fail(n, req, ctx, WIRE_BAD_REQUEST, "the request cannot be signed as sent", NULL);
        return;
    }
    /* stage 11 before the nonce's verdict is told: a duplicate answer names the items */
    ledger_view_info_get(n->view, &vi);
    st = type == SCHEMA_ODDS_SUBMISSION
             ? wire_odds_parse(wr.origin, ctx->auth.key, ctx->auth.nonce, &vi.params, body.p,
                               body.n, &j->items, &wf)
             : wire_outcomes_parse(wr.origin, ctx->auth.key, ctx->auth.nonce, &vi.params, body.p,
                                   body.n, &j->items, &wf);
    /* stage 10, preliminary: the writer decides again, serially */
    if (store_nonce_get(n->store, &j->rq, &ni) != TALLY_OK) {
        job_free(j);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the nonce index", NULL);
        return;
    }
    if (ni.found && memcmp(ni.digest, j->rq.digest, 32) != 0) {
        job_free(j);
        fail_nonce(n, req, ctx, true);
        return;
    }
    if (!ni.found && ni.stale) {
        job_free(j);
        fail_nonce(n, req, ctx, false);
        return;
    }
    if (st != TALLY_OK) {
        job_free(j);
        fail_stateless(n, req, ctx, &wf);
        return;
    }
    for (size_t i = 0; i < j->items.n; i++) {
        const char *lab[2] = {"item", "ok"};
        ops_metric_add(n->metrics, OPS_M_SIG_VERIFICATIONS, lab, 1);
    }
    if (ni.found) {
        answer_duplicate(n, req, ctx, &j->rq, &j->items, ni.first_seq, ni.count);
        job_free(j);
        return;
    }
    j->in = calloc(j->items.n, sizeof(*j->in));
    j->out = calloc(j->items.n, sizeof(*j->out));
    if (j->in == NULL || j->out == NULL) {
        job_free(j);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    for (size_t i = 0; i < j->items.n; i++) {
        j->in[i] = (store_input){.header = j->items.items[i].header,
                                 .body = j->items.items[i].body.p,
                                 .body_len = j->items.items[i].body.n};
    }
    j->enq_ns = ops_clock_mono_ns(n->clock);
    j->deadline_ms = net__mono_ms(n) + ops_config_u64(n->conf, OPS_K_COMMIT_TIMEOUT_S) * 1000u;
    httpd_req_defer(req);
    pending_add(n, j);
    st = store_submit_request(n->store, &j->rq, j->in, j->items.n, j->out, &j->res, on_done, j);
    if (st != TALLY_OK) {
        pending_del(n, j);
        /* nothing was decided: the nonce is not consumed and the client may retry */
        net__fail(n, req, ctx, st == TALLY_EAGAIN ? WIRE_OVERLOADED : WIRE_INTERNAL_ERROR,
                  st == TALLY_EAGAIN ? "the writer's queue is full; retry with the same nonce"
                                     : "the request could not be queued",
                  NULL);
        job_free(j);
    }
}

void net__h_odds(net_node *n, httpd_req *req, net__ctx *ctx)
{
    ingest(n, req, ctx, SCHEMA_ODDS_SUBMISSION);
}

void net__h_outcomes(net_node *n, httpd_req *req, net__ctx *ctx)
{
    ingest(n, req, ctx, SCHEMA_OUTCOME);
}

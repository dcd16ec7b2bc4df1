/* The load generator's miner threads: each runs its own miners (one request in flight per key,
 * nonces rising) over its own connection, decides what each miner sends by its kind, signs and
 * sends it, retries a timeout, 503 or rate limit with the same nonce and body (protocol §4), and
 * checks every receipt as the miner would (§5.5). */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/loadgen_int.h"
#include "wire/wire.h"

#define RETRY_GRACE_NS 2000000000ull /* retries go on this long past the deadline */
#define START_MARGIN_MS 2000u        /* odds only for events starting later than this */
#define STARTED_MARGIN_MS 1000u      /* outcomes only for events started earlier than this */

/* One request being built and sent: its items' bodies and signatures and the request body. */
typedef struct lg_req {
    unsigned type; /* SCHEMA_ODDS_SUBMISSION or SCHEMA_OUTCOME */
    bool garbage;  /* meant to be refused */
    uint64_t nonce;
    size_t n;
    size_t ev[LOADGEN_BATCH_MAX]; /* event indexes, item order */
    uint8_t body[LOADGEN_BATCH_MAX][LG__ITEM_BODY_CAP];
    size_t len[LOADGEN_BATCH_MAX];
    uint8_t sig[LOADGEN_BATCH_MAX][64];
    uint8_t *wire;
    size_t wire_n;
} lg_req;

uint64_t lg__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A timed run's node judges times on the real clock, so requests and event starts use it too. */
uint64_t lg__real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t lg__now_ms(const lg__run *run)
{
    return run->days > 0 ? run->clock_ms : lg__real_ms();
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

void lg__tally_add(loadgen_tally *t, const char *name, uint64_t n)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->c[i].name, name) == 0) {
            t->c[i].n += n;
            return;
        }
    }
    if (t->n == LOADGEN_CODES_MAX) {
        snprintf(t->c[LOADGEN_CODES_MAX - 1].name, sizeof(t->c[0].name), "other");
        t->c[LOADGEN_CODES_MAX - 1].n += n;
        return;
    }
    snprintf(t->c[t->n].name, sizeof(t->c[0].name), "%s", name);
    t->c[t->n].n = n;
    t->n++;
}

/* splitmix64: the threads' own choices (which refusal, whether a late miner is too late). */
static uint64_t rnd(lg__worker *w)
{
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The first event (in start order) with start_ms > t. */
static size_t first_after(const lg__run *run, uint64_t t)
{
    size_t lo = 0, hi = run->n_live;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (run->events[mid].start_ms > t) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

/* ---- what a miner sends ---- */

/* Up to batch events the miner has not priced in this odds bucket, from its cursor, among those
 * starting after open_from (and, for a late miner, within its lead). */
static size_t pick_open(const lg__run *run, lg__mstate *ms, uint64_t now, size_t open_from,
                        size_t *ev, size_t max)
{
    uint64_t bucket = now / LG__ODDS_BUCKET_MS;
    size_t n = 0;

    if (run->n_live == 0) {
        return 0;
    }
    if (ms->cursor >= run->n_live) {
        ms->cursor = 0;
    }
    if (ms->pass_bucket != bucket) {
        ms->pass_bucket = bucket, ms->pass_start = ms->cursor, ms->pass_wrapped = false;
    }
    while (n < max && !ms->pass_wrapped) {
        size_t i = ms->cursor;
        ms->cursor = (ms->cursor + 1) % run->n_live;
        ms->pass_wrapped = ms->cursor == ms->pass_start;
        if (i < open_from) {
            continue;
        }
        if (ms->m.kind == SIM_KIND_LATE && run->events[i].start_ms > now + ms->m.lead_max_ms) {
            continue;
        }
        ev[n++] = i;
    }
    return n;
}

static void set_range(lg_req *rq, unsigned type, size_t from, size_t to, size_t max)
{
    rq->type = type, rq->n = 0;
    for (size_t i = from; i < to && rq->n < max; i++) {
        rq->ev[rq->n++] = i;
    }
}

/* Garbage miners alternate ordinary odds at their random prices (which the node accepts) with
 * requests it must refuse, in turn: odds for events that have started (market_closed), the
 * events of their last accepted odds again in the same bucket (duplicate_in_bucket), and
 * outcomes for events that have not started (event_not_started). Pairing each refusal with an
 * ordinary request keeps them at the pace of the honest miners, who idle once they have priced
 * every open event in a bucket. */
static bool plan_garbage(lg__worker *w, lg__mstate *ms, uint64_t now, size_t n_started,
                         size_t open_from, lg_req *rq)
{
    const lg__run *run = w->run;
    size_t b = run->batch;

    if (ms->turn++ % 2 == 0) {
        rq->type = SCHEMA_ODDS_SUBMISSION;
        rq->n = pick_open(run, ms, now, open_from, rq->ev, b);
        if (rq->n > 0) {
            return true;
        }
        ms->turn--; /* nothing ordinary to send: the refusal waits too */
        return false;
    }
    rq->garbage = true;
    switch (ms->turn / 2 % 3) {
    case 0:
        if (n_started > 0) {
            set_range(rq, SCHEMA_ODDS_SUBMISSION, n_started > b ? n_started - b : 0, n_started, b);
            return true;
        }
        break;
    case 1:
        /* in the bucket of the node's time for them, and not in its last second, so that the
         * node's time for the copy is in the same bucket */
        if (ms->n_last > 0 && ms->last_bucket == now / LG__ODDS_BUCKET_MS &&
            now % LG__ODDS_BUCKET_MS < LG__ODDS_BUCKET_MS - 1000u) {
            rq->type = SCHEMA_ODDS_SUBMISSION, rq->n = ms->n_last;
            memcpy(rq->ev, ms->last, ms->n_last * sizeof(ms->last[0]));
            return true;
        }
        break;
    default:
        if (open_from < run->n_live) {
            set_range(rq, SCHEMA_OUTCOME, open_from, run->n_live,
                      b < LG__OUTCOME_ITEMS_MAX ? b : LG__OUTCOME_ITEMS_MAX);
            return true;
        }
        break;
    }
    rq->garbage = false;
    rq->type = SCHEMA_ODDS_SUBMISSION;
    rq->n = pick_open(run, ms, now, open_from, rq->ev, b);
    return rq->n > 0;
}

/* Decides the miner's next request; false when it has nothing to send now. Honest miners report
 * each event once it has started, then price open events once per bucket; a late miner is now
 * and then too late (odds for a started event, which the node refuses). */
static bool plan(lg__worker *w, lg__mstate *ms, uint64_t now, lg_req *rq)
{
    const lg__run *run = w->run;
    size_t n_started = first_after(run, now - STARTED_MARGIN_MS);
    size_t open_from = first_after(run, now + START_MARGIN_MS);
    size_t b = run->batch;

    rq->garbage = false;
    if (ms->m.kind == SIM_KIND_GARBAGE) {
        return plan_garbage(w, ms, now, n_started, open_from, rq);
    }
    if (ms->next_outcome < n_started) {
        set_range(rq, SCHEMA_OUTCOME, ms->next_outcome, n_started,
                  b < LG__OUTCOME_ITEMS_MAX ? b : LG__OUTCOME_ITEMS_MAX);
        ms->next_outcome += rq->n;
        return true;
    }
    if (ms->m.kind == SIM_KIND_LATE && n_started > 0 && rnd(w) % 8 == 0) {
        set_range(rq, SCHEMA_ODDS_SUBMISSION, n_started - 1, n_started, 1);
        return true;
    }
    rq->type = SCHEMA_ODDS_SUBMISSION;
    rq->n = pick_open(run, ms, now, open_from, rq->ev, b);
    return rq->n > 0;
}

/* ---- building, sending, checking ---- */

static tally_status build(lg__worker *w, lg__mstate *ms, lg_req *rq)
{
    const lg__run *run = w->run;
    tally_str origin = {run->origin, strlen(run->origin)};
    wire_signed items[LOADGEN_BATCH_MAX];
    uint64_t now = lg__now_ms(run), us = real_us();
    tally_status st = TALLY_OK;

    /* Unix µs, and always above the key's last: strictly increasing per key (§4) */
    rq->nonce = us > ms->nonce ? us : ms->nonce + 1;
    ms->nonce = rq->nonce;
    for (size_t i = 0; i < rq->n && st == TALLY_OK; i++) {
        const sim_live_event *e = &run->events[rq->ev[i]];
        st = rq->type == SCHEMA_OUTCOME
                 ? sim_live_outcome(run->gen, &ms->m, e, rq->nonce, i, rq->body[i],
                                    LG__ITEM_BODY_CAP, &rq->len[i])
                 : sim_live_odds(run->gen, &ms->m, e, now, rq->nonce, i, rq->body[i],
                                 LG__ITEM_BODY_CAP, &rq->len[i]);
        if (st == TALLY_OK) {
            st = wire_item_sign(origin, rq->type, ms->m.pk, ms->m.sk, rq->body[i], rq->len[i],
                                rq->sig[i]);
        }
        items[i] = (wire_signed){{rq->body[i], rq->len[i]}, rq->sig[i]};
    }
    free(rq->wire);
    rq->wire = NULL, rq->wire_n = 0;
    return st == TALLY_OK ? wire_request_build(items, rq->n, &rq->wire, &rq->wire_n) : st;
}

/* The time to wait before retrying an answered request, or 0 when its answer is final: 503
 * (overloaded, the commit may still land) and 429 rate_limited are retried; a cooldown is not,
 * since retrying it only escalates it (§7.2). */
static uint64_t retry_wait_ns(client_response *r)
{
    unsigned s = client_response_status(r);
    const char *ra = NULL;
    uint64_t wait;

    if (s == 429) {
        tally_bytes b = client_response_body(r);
        json_t *o = json_loadb((const char *)b.p, b.n, 0, NULL);
        const char *e = json_string_value(json_object_get(o, "error"));
        bool limited = e != NULL && strcmp(e, "rate_limited") == 0;
        json_decref(o);
        if (!limited) {
            return 0;
        }
    } else if (s != 503) {
        return 0;
    }
    wait = 1000000000ull;
    if (client_response_header(r, "Retry-After", &ra) > 0 && ra != NULL && strcmp(ra, "0") == 0) {
        wait = 100000000ull;
    }
    return wait; /* Retry-After is whole seconds, at least 1: one second is the most we wait */
}

/* Sends rq (re-signed with a fresh Tally-Time on each attempt, same nonce and body), retrying
 * failures without an answer, 503 and rate limits. Returns the final answer, or NULL. */
static client_response *send_req(lg__worker *w, const lg__mstate *ms, const lg_req *rq)
{
    const lg__run *run = w->run;
    const char *target = rq->type == SCHEMA_OUTCOME ? "/v1/outcomes" : "/v1/odds";
    char key[65], sig_hex[129], ts[24], ns[24];
    client_header h[4] = {
        {"Tally-Key", key}, {"Tally-Time", ts}, {"Tally-Nonce", ns}, {"Tally-Signature", sig_hex}};
    client_request cr = {.method = "POST",
                         .target = target,
                         .headers = h,
                         .n_headers = 4,
                         .body = rq->wire,
                         .body_n = rq->wire_n,
                         .content_type = "application/msgpack"};

    schema_hex(ms->m.pk, 32, key);
    snprintf(ns, sizeof(ns), "%llu", (unsigned long long)rq->nonce);
    for (unsigned a = 0; a < LG__ATTEMPTS; a++) {
        wire_request wr = {.origin = {run->origin, strlen(run->origin)},
                           .method = {"POST", 4},
                           .target = {target, strlen(target)},
                           .time_ms = lg__now_ms(run),
                           .nonce = rq->nonce,
                           .body = rq->wire,
                           .body_len = rq->wire_n};
        uint8_t sig[64];
        client_response *r = NULL;
        uint64_t wait = 100000000ull << a; /* 0.1 s, doubling, without an answer */
        bool last = a + 1 == LG__ATTEMPTS || lg__mono_ns() > run->deadline_ns + RETRY_GRACE_NS;

        if (a > 0) {
            w->st.retries++;
        }
        if (wire_request_sign(&wr, ms->m.sk, sig) != TALLY_OK) {
            return NULL;
        }
        schema_hex(sig, 64, sig_hex);
        snprintf(ts, sizeof(ts), "%llu", (unsigned long long)wr.time_ms);
        if (client_do(w->conn, &cr, &r) == TALLY_OK) {
            /* in a days run the node's rate windows stand still with its clock: a 429 would
             * only come again */
            wait = run->days > 0 && client_response_status(r) == 429 ? 0 : retry_wait_ns(r);
            if (wait == 0 || last) {
                return r;
            }
            client_response_free(r);
        } else if (last) {
            return NULL;
        }
        sleep_ns(wait);
    }
    return NULL;
}

/* The receipt of a 200 checked against the items the answer names as accepted. */
static bool check_receipt(lg__worker *w, const lg__mstate *ms, const lg_req *rq, json_t *rc,
                          const size_t *acc, size_t k)
{
    lg__run *run = w->run;
    wire_receipt *r = calloc(1, sizeof(*r));
    wire_signed sv[LOADGEN_BATCH_MAX];
    char *text = json_dumps(rc, JSON_COMPACT);
    uint8_t sig[64];
    bool ok = false;

    for (size_t i = 0; i < k; i++) {
        sv[i] = (wire_signed){{rq->body[acc[i]], rq->len[acc[i]]}, rq->sig[acc[i]]};
    }
    if (r != NULL && text != NULL &&
        wire_receipt_from_json(text, strlen(text), r, sig) == TALLY_OK && r->nonce == rq->nonce &&
        wire_receipt_check_items(r, sig, run->node_pk,
                                 (tally_str){run->origin, strlen(run->origin)}, ms->m.pk, sv, k,
                                 rq->type) == TALLY_OK) {
        ok = true;
        w->st.entries += r->n;
        if (run->cfg->on_receipt != NULL) {
            pthread_mutex_lock(&run->mu);
            for (size_t i = 0; i < r->n; i++) {
                run->cfg->on_receipt(run->cfg->on_receipt_arg, r->entries[i].seq,
                                     r->entries[i].time_ms, r->entries[i].leaf_hash);
            }
            pthread_mutex_unlock(&run->mu);
        }
    }
    free(text);
    free(r);
    return ok;
}

static void add_latency(lg__stats *st, uint64_t ns)
{
    if (st->n_lat == st->cap_lat) {
        size_t cap = st->cap_lat ? 2 * st->cap_lat : 1024;
        double *grown = cap <= LG__LAT_MAX ? realloc(st->lat, cap * sizeof(*grown)) : NULL;
        if (grown == NULL) {
            return; /* past the cap the percentiles are of the first samples */
        }
        st->lat = grown, st->cap_lat = cap;
    }
    st->lat[st->n_lat++] = (double)ns / 1e6;
}

static void count_rejected(lg__stats *st, json_t *items)
{
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        const char *s = json_string_value(json_object_get(it, "status"));
        const char *e = json_string_value(json_object_get(it, "error"));
        if (s != NULL && strcmp(s, "rejected") == 0) {
            st->items_rejected++;
            lg__tally_add(&st->rejections, e ? e : "?", 1);
        }
    }
}

/* Counts the answer and checks its receipt. */
static void handle(lg__worker *w, lg__mstate *ms, const lg_req *rq, client_response *r,
                   uint64_t t0_ns)
{
    lg__stats *st = &w->st;
    unsigned status = r ? client_response_status(r) : 0;
    char code[16];
    tally_bytes b = r ? client_response_body(r) : (tally_bytes){NULL, 0};
    json_t *o = r ? json_loadb((const char *)b.p, b.n, 0, NULL) : NULL;
    json_t *items = json_object_get(o, "items"), *rc = json_object_get(o, "receipt");
    size_t acc[LOADGEN_BATCH_MAX], k = 0;
    uint64_t first_ms = 0; /* the node's time for the first accepted item */

    st->requests++;
    st->items_sent += rq->n;
    st->garbage_requests += rq->garbage;
    if (rq->type == SCHEMA_OUTCOME) {
        st->outcome_requests++;
    } else {
        st->odds_requests++;
    }
    snprintf(code, sizeof(code), "%u", status);
    lg__tally_add(&st->status, code, 1);
    if (r == NULL) {
        st->no_response++;
        return;
    }
    if (status != 200) {
        const char *e = json_string_value(json_object_get(o, "error"));
        lg__tally_add(&st->errors, e ? e : "?", 1);
        count_rejected(st, json_object_get(json_object_get(o, "details"), "items"));
        st->garbage_refused += rq->garbage;
        json_decref(o);
        return;
    }
    st->duplicates += json_is_true(json_object_get(o, "duplicate"));
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        const char *s = json_string_value(json_object_get(it, "status"));
        json_int_t idx = json_integer_value(json_object_get(it, "idx"));
        if (s != NULL && strcmp(s, "accepted") == 0 && idx >= 0 && (size_t)idx < rq->n &&
            k < rq->n) {
            if (k == 0) {
                first_ms = (uint64_t)json_integer_value(json_object_get(it, "time_ms"));
            }
            acc[k++] = (size_t)idx;
        }
    }
    count_rejected(st, items);
    st->items_accepted += k;
    if (rc != NULL && !json_is_null(rc)) {
        st->receipts++;
        if (check_receipt(w, ms, rq, rc, acc, k)) {
            st->verified++;
            add_latency(st, lg__mono_ns() - t0_ns);
        } else {
            st->failed++;
        }
    } else if (k > 0) {
        st->failed++; /* accepted items without a receipt: the node owes one */
    }
    if (rq->type == SCHEMA_ODDS_SUBMISSION && k > 0 && !rq->garbage) {
        ms->n_last = k;
        for (size_t i = 0; i < k; i++) {
            ms->last[i] = rq->ev[acc[i]];
        }
        ms->last_bucket = first_ms / LG__ODDS_BUCKET_MS;
    }
    json_decref(o);
}

/* Waits for the rate limiter's next slot; false when it falls past the deadline. */
static bool rate_wait(lg__run *run)
{
    uint64_t now = lg__mono_ns(), slot;

    if (run->cfg->rate == 0) {
        return now < run->deadline_ns;
    }
    pthread_mutex_lock(&run->mu);
    slot = run->next_slot_ns > now ? run->next_slot_ns : now;
    run->next_slot_ns = slot + 1000000000ull / run->cfg->rate;
    pthread_mutex_unlock(&run->mu);
    if (slot >= run->deadline_ns) {
        return false;
    }
    if (slot > now) {
        sleep_ns(slot - now);
    }
    return true;
}

void *lg__worker_main(void *arg)
{
    lg__worker *w = arg;
    lg__run *run = w->run;
    client_cfg cc = {
        .host = run->ingest.host, .port = run->ingest.port, .io_timeout_ms = run->io_timeout_ms};
    lg_req *rq = calloc(1, sizeof(*rq));

    if (rq == NULL || client_open(&cc, &w->conn) != TALLY_OK) {
        free(rq);
        return NULL;
    }
    while (lg__mono_ns() < run->deadline_ns) {
        bool any = false;
        for (unsigned u = w->id; u < run->n_miners && lg__mono_ns() < run->deadline_ns;
             u += run->threads) {
            lg__mstate *ms = &run->ms[u];
            client_response *r;
            uint64_t t0;
            if (!plan(w, ms, lg__now_ms(run), rq)) {
                continue;
            }
            any = true;
            if (!rate_wait(run)) {
                break;
            }
            if (build(w, ms, rq) != TALLY_OK) {
                continue; /* a body the schema refuses: a bug in the model, not the node's */
            }
            t0 = lg__mono_ns();
            r = send_req(w, ms, rq);
            handle(w, ms, rq, r, t0);
            client_response_free(r);
        }
        if (!any) {
            sleep_ns(20000000ull); /* every miner has priced everything in this bucket */
        }
    }
    free(rq->wire);
    free(rq);
    client_close(w->conn);
    w->conn = NULL;
    return NULL;
}

/* A pass sends at most one request per miner, and a miner runs out of things to send at a fixed
 * time (each open event once per bucket, each started event's outcome once; only the late
 * miners' odds for a started event are by chance), so a step ends after a few passes. The cap
 * only guards against a model that never runs out. */
#define STEP_PASSES_MAX 100000u

void *lg__worker_step(void *arg)
{
    lg__worker *w = arg;
    lg__run *run = w->run;
    client_cfg cc = {
        .host = run->ingest.host, .port = run->ingest.port, .io_timeout_ms = run->io_timeout_ms};
    lg_req *rq = calloc(1, sizeof(*rq));

    if (rq == NULL || (w->conn == NULL && client_open(&cc, &w->conn) != TALLY_OK)) {
        free(rq);
        return NULL;
    }
    for (unsigned pass = 0; pass < STEP_PASSES_MAX; pass++) {
        bool any = false;
        for (unsigned u = w->id; u < run->n_miners; u += run->threads) {
            lg__mstate *ms = &run->ms[u];
            client_response *r;
            uint64_t t0;
            if (!plan(w, ms, run->clock_ms, rq)) {
                continue;
            }
            any = true;
            if (!rate_wait(run) || build(w, ms, rq) != TALLY_OK) {
                continue;
            }
            t0 = lg__mono_ns();
            r = send_req(w, ms, rq);
            handle(w, ms, rq, r, t0);
            client_response_free(r);
        }
        if (!any) {
            break;
        }
    }
    free(rq->wire);
    free(rq);
    return NULL;
}

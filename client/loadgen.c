/* The load generator's run (client.h): reads the node's index and health, feeds the METAGRAPH
 * and the events through the admin API, starts the miner threads (loadgen_miner.c), and merges
 * what they counted into the report. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/loadgen_int.h"

#define FEED_RECORDS_MAX 2000u  /* records per admin request (the node takes up to 10,000) */
#define NEURONS_PER_PART 256u   /* as the generator's own METAGRAPH parts */
#define SOON_START_MS 1500u     /* the first events start this long after the feed */
#define LATER_START_MS 1800000u /* the rest from 30 minutes on, over five days (odds window 7) */
#define LATER_SPAN_MS (5ull * 86400000ull)
/* The calls before the load (index, health, feed) wait at least this long: a feed of 2,000
 * records is one commit, far slower than one miner's request. */
#define SETUP_TIMEOUT_MS 60000u

tally_status lg__failf(char *err, size_t cap, tally_status st, const char *fmt, ...)
{
    va_list ap;
    if (cap > 0) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- talking to the node before the load ---- */

tally_status lg__call(const client_url *u, unsigned timeout_ms, const char *method,
                         const char *target, const char *token, const char *body,
                         unsigned *status_out, json_t **json_out, char *err, size_t cap)
{
    client_cfg cc = {.host = u->host, .port = u->port, .io_timeout_ms = timeout_ms};
    char auth[128];
    client_header h = {"Authorization", auth};
    client_request rq = {.method = method,
                         .target = target,
                         .headers = token ? &h : NULL,
                         .n_headers = token ? 1 : 0,
                         .body = body,
                         .body_n = body ? strlen(body) : 0,
                         .content_type = body ? "application/json" : NULL};
    client_conn *c = NULL;
    client_response *r = NULL;
    tally_status st;
    tally_bytes b;

    *status_out = 0, *json_out = NULL;
    snprintf(auth, sizeof(auth), "Bearer %s", token ? token : "");
    st = client_open(&cc, &c);
    if (st == TALLY_OK) {
        st = client_do(c, &rq, &r);
        if (st != TALLY_OK) {
            st = lg__failf(err, cap, TALLY_EIO, "%s %s: %s", method, target, client_error(c));
        }
    }
    if (st == TALLY_OK) {
        b = client_response_body(r);
        *status_out = client_response_status(r);
        *json_out = json_loadb((const char *)b.p, b.n, 0, NULL);
    }
    client_response_free(r);
    client_close(c);
    return st;
}

unsigned lg__setup_timeout(const lg__run *run)
{
    return run->io_timeout_ms > SETUP_TIMEOUT_MS ? run->io_timeout_ms : SETUP_TIMEOUT_MS;
}

/* The origin and node key from GET / on the ingest listener. */
static tally_status read_index(lg__run *run, char *err, size_t cap)
{
    unsigned status;
    json_t *o;
    const char *origin, *key;
    tally_status st =
        lg__call(&run->ingest, lg__setup_timeout(run), "GET", "/", NULL, NULL, &status, &o, err, cap);

    if (st != TALLY_OK) {
        return st;
    }
    origin = json_string_value(json_object_get(o, "origin"));
    key = json_string_value(json_object_get(o, "node_key"));
    if (status != 200 || origin == NULL || strlen(origin) > SCHEMA_ORIGIN_MAX) {
        json_decref(o);
        return lg__failf(err, cap, TALLY_EIO, "GET / on the ingest listener: no index (status %u)",
                     status);
    }
    snprintf(run->origin, sizeof(run->origin), "%s", origin);
    if (run->cfg->has_node_key) {
        memcpy(run->node_pk, run->cfg->node_key, 32);
    } else if (key == NULL || strlen(key) != 64 ||
               schema_unhex(key, 64, run->node_pk, 32) != TALLY_OK) {
        json_decref(o);
        return lg__failf(err, cap, TALLY_EIO,
                     "the node's index names no node key: give it (tally key --dir)");
    }
    json_decref(o);
    return TALLY_OK;
}

/* The netuid: given, or the origin's trailing "/<n>" (the convention of tally init), or 1. */
static uint64_t netuid_of(const loadgen_cfg *cfg, const char *origin)
{
    const char *slash = strrchr(origin, '/');
    uint64_t v = 0;

    if (cfg->has_netuid) {
        return cfg->netuid;
    }
    if (slash == NULL || slash[1] == '\0') {
        return 1;
    }
    for (const char *p = slash + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > 65535) {
            return 1;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v;
}

/* ---- the feed ---- */

static void sb_add(lg__sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->oom) {
        return;
    }
    if (b->n + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + k + 1) {
            cap *= 2;
        }
        char *grown = realloc(b->p, cap);
        if (grown == NULL) {
            b->oom = true;
            return;
        }
        b->p = grown, b->cap = cap;
    }
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}

void lg__sb_record(lg__sbuf *b, size_t *count, const schema_body *body)
{
    char *text = NULL;
    json_t *o = NULL;

    /* a feeder never sends a salt (the node draws it), not even a null one */
    if (schema_body_to_json(body, &text) != TALLY_OK ||
        (o = json_loads(text, 0, NULL)) == NULL) {
        free(text);
        b->oom = true;
        return;
    }
    if (json_object_get(o, "salt") != NULL) {
        json_object_del(o, "salt");
        free(text);
        text = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
    if (text == NULL) {
        b->oom = true;
        return;
    }
    sb_add(b, *count ? ",{\"type\":\"" : "{\"records\":[{\"type\":\"");
    sb_add(b, schema_type_name(body->type));
    sb_add(b, "\",\"body\":");
    sb_add(b, text);
    sb_add(b, "}");
    free(text);
    (*count)++;
}

tally_status lg__post_feed(lg__run *run, const client_url *ops, lg__sbuf *b, char *err, size_t cap)
{
    unsigned status;
    json_t *o = NULL;
    tally_status st;

    sb_add(b, "]}");
    if (b->oom) {
        return lg__failf(err, cap, TALLY_ENOMEM, "out of memory building the feed");
    }
    st = lg__call(ops, lg__setup_timeout(run), "POST", "/admin/v1/records", run->cfg->admin_token, b->p,
              &status, &o, err, cap);
    if (st == TALLY_OK && status != 200) {
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        st = lg__failf(err, cap,
                   status == 401 || status == 403                    ? TALLY_EAUTH
                   : status == 409 || status == 422 || status == 400 ? TALLY_ECONFLICT
                                                                     : TALLY_EIO,
                   "the feed was refused: %u %s", status, text ? text : "");
        free(text);
    }
    json_decref(o);
    b->n = 0;
    return st;
}

/* The METAGRAPH binding every miner's key, in parts of 256 neurons, at block. */
tally_status lg__add_metagraph(lg__run *run, uint64_t block, lg__sbuf *b, size_t *count)
{
    unsigned total = run->n_miners + (unsigned)run->cfg->n_validators;
    unsigned parts = (total + NEURONS_PER_PART - 1) / NEURONS_PER_PART;
    schema_neuron *nn = calloc(total, sizeof(*nn));

    if (nn == NULL) {
        return TALLY_ENOMEM;
    }
    /* the auditors, validators after the miners */
    for (unsigned j = 0; j < run->cfg->n_validators; j++) {
        static const char tag[] = "tally-loadgen-validator";
        schema_neuron *v = &nn[run->n_miners + j];
        *v = (schema_neuron){.uid = run->n_miners + j,
                             .stake_rao = 200000000000000ull,
                             .validator_permit = true,
                             .active = true,
                             .has_tally_key = true};
        schema_sha256_2(v->hotkey, (const uint8_t *)tag, sizeof(tag) - 1,
                        run->cfg->validators[j], 32);
        memcpy(v->tally_key, run->cfg->validators[j], 32);
    }
    for (unsigned i = 0; i < run->n_miners; i++) {
        const sim_miner *m = &run->ms[i].m;
        nn[i] = (schema_neuron){.uid = i,
                                .stake_rao = 1000000000ull + 1000ull * i,
                                .active = true,
                                .has_tally_key = true};
        memcpy(nn[i].hotkey, m->hotkey, 32);
        memcpy(nn[i].tally_key, m->pk, 32);
    }
    for (unsigned p = 0; p < parts; p++) {
        unsigned lo = p * NEURONS_PER_PART;
        unsigned n = total - lo < NEURONS_PER_PART ? total - lo : NEURONS_PER_PART;
        schema_body body = {.type = SCHEMA_METAGRAPH};
        body.u.metagraph =
            (schema_metagraph){netuid_of(run->cfg, run->origin), block, p, parts, nn + lo, n};
        lg__sb_record(b, count, &body);
    }
    free(nn);
    return b->oom ? TALLY_ENOMEM : TALLY_OK;
}

/* Makes the events (a few starting during the load, the rest later in the odds window) and
 * feeds them with the METAGRAPH. Event ids are now_ms × 100 + k: distinct from those of another
 * run started more than events/100 ms apart. */
static tally_status feed(lg__run *run, const client_url *ops, uint64_t block, char *err, size_t cap)
{
    uint64_t t = lg__real_ms(), base = t * 100, span = (uint64_t)run->cfg->seconds * 2000u / 3u;
    size_t n_later = run->n_events - run->n_soon, count = 0;
    lg__sbuf b = {0};
    tally_status st;

    for (size_t k = 0; k < run->n_events; k++) {
        uint64_t start = k < run->n_soon
                             ? t + SOON_START_MS + span * k / run->n_soon
                             : t + LATER_START_MS + LATER_SPAN_MS * (k - run->n_soon) / n_later;
        st = sim_live_event_make(run->gen, base + k + 1, start, &run->events[k]);
        if (st != TALLY_OK) {
            return lg__failf(err, cap, st, "event %zu cannot be made", k);
        }
        run->events[k].n_markets = run->cfg->markets;
    }
    st = lg__add_metagraph(run, block, &b, &count);
    for (size_t k = 0; st == TALLY_OK && k < run->n_events; k++) {
        lg__sb_record(&b, &count, &run->events[k].event);
        for (unsigned m = 0; m < run->events[k].n_markets; m++) {
            lg__sb_record(&b, &count, &run->events[k].market[m]);
        }
        if (count + 4 > FEED_RECORDS_MAX || k + 1 == run->n_events) {
            st = lg__post_feed(run, ops, &b, err, cap);
            count = 0;
        }
    }
    free(b.p);
    return st;
}

/* ---- the run ---- */

static tally_status check_cfg(const loadgen_cfg *in, loadgen_cfg *c, char *err, size_t cap)
{
    *c = *in;
    c->miners = c->miners ? c->miners : 8;
    c->seconds = c->seconds ? c->seconds : 10;
    c->batch = c->batch ? c->batch : 4;
    c->markets = c->markets ? c->markets : 3;
    c->concurrency = c->concurrency ? c->concurrency : 4;
    c->concurrency = c->concurrency < c->miners ? c->concurrency : c->miners;
    c->io_timeout_ms = c->io_timeout_ms ? c->io_timeout_ms : 10000;
    if (c->miners > LOADGEN_MINERS_MAX || c->seconds > 86400 || c->batch > LOADGEN_BATCH_MAX ||
        c->markets > 3 || c->batch * c->markets > 200 ||
        c->concurrency > LOADGEN_THREADS_MAX || c->events > LOADGEN_EVENTS_MAX ||
        c->n_validators > 16 || (c->n_validators > 0 && c->validators == NULL) ||
        c->ingest_url == NULL || c->ops_url == NULL || c->admin_token == NULL ||
        c->days > LOADGEN_DAYS_MAX) {
        return lg__failf(err, cap, TALLY_EINVAL, "a setting is out of range");
    }
    if (c->days > 0) {
        /* events per day; every day's events are kept for the whole run */
        c->events = c->events ? c->events : 12;
        if ((uint64_t)c->events * c->days > LOADGEN_EVENTS_MAX) {
            return lg__failf(err, cap, TALLY_EINVAL, "days x events is above %u",
                             LOADGEN_EVENTS_MAX);
        }
    } else if (c->events == 0) {
        /* enough events that every miner finds unpriced ones in each one-minute bucket */
        uint64_t per_s = c->rate ? c->rate : 400; /* about what one node takes on loopback */
        uint64_t secs = c->seconds < 60 ? c->seconds : 60;
        uint64_t need = per_s * secs * c->batch / c->miners + 4u * c->batch;
        need = need < 32 ? 32 : need > 4000 ? 4000 : need;
        c->events = (unsigned)need;
    }
    return TALLY_OK;
}

static void merge_tally(loadgen_tally *to, const loadgen_tally *from)
{
    for (size_t i = 0; i < from->n; i++) {
        lg__tally_add(to, from->c[i].name, from->c[i].n);
    }
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, unsigned q)
{
    size_t k = (n * q + 99) / 100;
    return n == 0 ? 0 : v[k ? k - 1 : 0];
}

tally_status lg__merge(lg__run *run, lg__worker *w, double elapsed, loadgen_report *out)
{
    size_t n_lat = 0, k = 0;
    double *lat;

    for (unsigned t = 0; t < run->threads; t++) {
        const lg__stats *s = &w[t].st;
        out->requests += s->requests, out->odds_requests += s->odds_requests;
        out->outcome_requests += s->outcome_requests, out->retries += s->retries;
        out->garbage_requests += s->garbage_requests, out->garbage_refused += s->garbage_refused;
        out->no_response += s->no_response, out->duplicates += s->duplicates;
        out->items_sent += s->items_sent, out->items_accepted += s->items_accepted;
        out->items_rejected += s->items_rejected, out->receipts += s->receipts;
        out->receipts_verified += s->verified, out->receipts_failed += s->failed;
        out->receipt_entries += s->entries;
        merge_tally(&out->status, &s->status);
        merge_tally(&out->errors, &s->errors);
        merge_tally(&out->rejections, &s->rejections);
        n_lat += s->n_lat;
    }
    lat = malloc((n_lat ? n_lat : 1) * sizeof(*lat));
    if (lat == NULL) {
        return TALLY_ENOMEM;
    }
    for (unsigned t = 0; t < run->threads; t++) {
        if (w[t].st.n_lat > 0) {
            memcpy(lat + k, w[t].st.lat, w[t].st.n_lat * sizeof(*lat));
            k += w[t].st.n_lat;
        }
    }
    qsort(lat, n_lat, sizeof(*lat), by_value);
    out->lat_p50_ms = pct(lat, n_lat, 50), out->lat_p90_ms = pct(lat, n_lat, 90);
    out->lat_p99_ms = pct(lat, n_lat, 99), out->lat_max_ms = n_lat ? lat[n_lat - 1] : 0;
    free(lat);
    out->elapsed_s = elapsed;
    out->requests_per_s = elapsed > 0 ? (double)(out->requests - out->no_response) / elapsed : 0;
    out->items_per_s = elapsed > 0 ? (double)out->items_accepted / elapsed : 0;
    return TALLY_OK;
}

/* Starts the threads and waits for them; the deadline is cfg->seconds from now. */
static tally_status load(lg__run *run, loadgen_report *out, char *err, size_t cap)
{
    lg__worker *w = calloc(run->threads, sizeof(*w));
    pthread_t *tid = calloc(run->threads, sizeof(*tid));
    unsigned started = 0;
    uint64_t t0;
    tally_status st = TALLY_OK;

    if (w == NULL || tid == NULL) {
        free(w);
        free(tid);
        return lg__failf(err, cap, TALLY_ENOMEM, "out of memory");
    }
    t0 = lg__mono_ns();
    run->deadline_ns = t0 + (uint64_t)run->cfg->seconds * 1000000000ull;
    run->next_slot_ns = t0;
    for (unsigned t = 0; t < run->threads; t++) {
        w[t] = (lg__worker){.run = run, .id = t, .rng = run->cfg->seed * 1000003u + t};
        if (pthread_create(&tid[t], NULL, lg__worker_main, &w[t]) != 0) {
            st = lg__failf(err, cap, TALLY_ENOMEM, "cannot start thread %u", t);
            break;
        }
        started++;
    }
    for (unsigned t = 0; t < started; t++) {
        pthread_join(tid[t], NULL);
    }
    if (st == TALLY_OK) {
        st = lg__merge(run, w, (double)(lg__mono_ns() - t0) / 1e9, out);
    }
    for (unsigned t = 0; t < run->threads; t++) {
        free(w[t].st.lat);
    }
    free(w);
    free(tid);
    return st;
}

static tally_status setup(lg__run *run, const loadgen_cfg *c, client_url *ops, char *err,
                          size_t cap)
{
    sim_cfg sc = {.seed = c->seed,
                  .miners = c->miners,
                  .markets_per_day = 3,
                  .code_version = "tally-loadgen"};
    tally_status st;

    run->cfg = c, run->batch = c->batch, run->threads = c->concurrency;
    run->n_miners = c->miners, run->io_timeout_ms = c->io_timeout_ms;
    if (client_url_parse(c->ingest_url, &run->ingest) != TALLY_OK ||
        client_url_parse(c->ops_url, ops) != TALLY_OK) {
        return lg__failf(err, cap, TALLY_EINVAL, "a URL is not http://host[:port]");
    }
    st = sim_gen_new(&sc, &run->gen);
    if (st != TALLY_OK) {
        return lg__failf(err, cap, st, "the generator cannot start");
    }
    run->ms = calloc(c->miners, sizeof(*run->ms));
    run->days = c->days;
    run->n_events = c->days > 0 ? (size_t)c->events * c->days : c->events;
    run->n_soon = c->events / 8 ? c->events / 8 : 1;
    run->n_live = c->days > 0 ? 0 : run->n_events; /* a days run feeds its events day by day */
    run->events = calloc(run->n_events, sizeof(*run->events));
    if (run->ms == NULL || run->events == NULL) {
        return lg__failf(err, cap, TALLY_ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < c->miners; i++) {
        st = sim_gen_miner(run->gen, i, &run->ms[i].m);
        if (st != TALLY_OK) {
            return lg__failf(err, cap, st, "miner %u", i);
        }
        /* each miner starts its pass at its own place, so they spread over the events */
        run->ms[i].cursor = (size_t)((uint64_t)i * c->events / c->miners);
        run->ms[i].pass_bucket = UINT64_MAX;
    }
    return read_index(run, err, cap);
}

tally_status loadgen_run(const loadgen_cfg *cfg, loadgen_report *out, char *err, size_t err_cap)
{
    lg__run run = {0};
    loadgen_cfg c;
    client_url ops;
    unsigned status = 0;
    json_t *health = NULL;
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (err_cap > 0) {
        err[0] = '\0';
    }
    st = check_cfg(cfg, &c, err, err_cap);
    if (st != TALLY_OK) {
        return st;
    }
    pthread_mutex_init(&run.mu, NULL);
    st = setup(&run, &c, &ops, err, err_cap);
    /* the next METAGRAPH block is above the one in effect */
    if (st == TALLY_OK) {
        st = lg__call(&ops, lg__setup_timeout(&run), "GET", "/health", NULL, NULL, &status,
                      &health, err, err_cap);
    }
    if (st == TALLY_OK) {
        out->metagraph_block =
            (uint64_t)json_integer_value(json_object_get(health, "metagraph_block")) + 1;
        if (c.days > 0) {
            const char *clock = json_string_value(json_object_get(health, "clock"));
            st = clock != NULL && strcmp(clock, "manual") == 0
                     ? lg__days(&run, &ops, out->metagraph_block, out, err, err_cap)
                     : lg__failf(err, err_cap, TALLY_EINVAL,
                                 "--days drives the node's clock: start the node with "
                                 "TALLY_CLOCK=manual (its /health says clock \"%s\")",
                                 clock ? clock : "?");
        } else {
            st = feed(&run, &ops, out->metagraph_block, err, err_cap);
            if (st == TALLY_OK) {
                st = load(&run, out, err, err_cap);
            }
        }
    }
    if (st == TALLY_OK) {
        snprintf(out->origin, sizeof(out->origin), "%s", run.origin);
        out->miners = run.n_miners, out->threads = run.threads;
        out->events = (unsigned)run.n_events;
        out->events_starting = c.days > 0 ? (unsigned)run.n_events : (unsigned)run.n_soon;
        for (unsigned i = 0; i < run.n_miners; i++) {
            out->kinds[run.ms[i].m.kind]++;
        }
    } else {
        memset(out, 0, sizeof(*out)); /* fail closed */
    }
    json_decref(health);
    free(run.events);
    free(run.ms);
    sim_gen_free(run.gen);
    pthread_mutex_destroy(&run.mu);
    return st;
}

/* ---- the report as JSON ---- */

static json_t *tally_json(const loadgen_tally *t)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < t->n; i++) {
        json_object_set_new(o, t->c[i].name, json_integer((json_int_t)t->c[i].n));
    }
    return o;
}

tally_status loadgen_report_json(const loadgen_report *r, char **out)
{
    json_t *kinds = json_object(), *o;

    *out = NULL;
    for (unsigned k = 0; kinds != NULL && k < LOADGEN_KINDS; k++) {
        json_object_set_new(kinds, sim_kind_name((sim_kind)k),
                            json_integer((json_int_t)r->kinds[k]));
    }
    o = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:f,"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o},"
        " s:{s:I, s:I, s:I, s:o},"
        " s:{s:I, s:I, s:I, s:I},"
        " s:f, s:f, s:{s:f, s:f, s:f, s:f}}",
        "origin", r->origin, "miners", (json_int_t)r->miners, "threads", (json_int_t)r->threads,
        "events", (json_int_t)r->events, "events_starting", (json_int_t)r->events_starting, "kinds",
        kinds ? kinds : json_object(), "metagraph_block", (json_int_t)r->metagraph_block,
        "elapsed_s", r->elapsed_s, "requests", "sent", (json_int_t)r->requests, "odds",
        (json_int_t)r->odds_requests, "outcomes", (json_int_t)r->outcome_requests, "garbage",
        (json_int_t)r->garbage_requests, "garbage_refused", (json_int_t)r->garbage_refused,
        "retries", (json_int_t)r->retries, "no_response", (json_int_t)r->no_response, "duplicates",
        (json_int_t)r->duplicates, "by_status", tally_json(&r->status), "by_error",
        tally_json(&r->errors), "items", "sent", (json_int_t)r->items_sent, "accepted",
        (json_int_t)r->items_accepted, "rejected", (json_int_t)r->items_rejected,
        "rejected_by_code", tally_json(&r->rejections), "receipts", "received",
        (json_int_t)r->receipts, "verified", (json_int_t)r->receipts_verified, "failed",
        (json_int_t)r->receipts_failed, "entries", (json_int_t)r->receipt_entries, "requests_per_s",
        r->requests_per_s, "items_per_s", r->items_per_s, "latency_ms", "p50", r->lat_p50_ms, "p90",
        r->lat_p90_ms, "p99", r->lat_p99_ms, "max", r->lat_max_ms);
    if (o == NULL) {
        return TALLY_ENOMEM;
    }
    if (r->days > 0) {
        json_object_set_new(
            o, "days",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "days", (json_int_t)r->days,
                      "clock_start_ms", (json_int_t)r->clock_start_ms, "clock_end_ms",
                      (json_int_t)r->clock_end_ms, "closes", (json_int_t)r->closes,
                      "provider_outcomes", (json_int_t)r->provider_outcomes, "cycles",
                      (json_int_t)r->cycles, "first_cycle", (json_int_t)r->first_cycle,
                      "last_cycle", (json_int_t)r->last_cycle));
    }
    *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return *out != NULL ? TALLY_OK : TALLY_ENOMEM;
}

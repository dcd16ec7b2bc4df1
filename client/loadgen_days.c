/* The load generator's days run (client.h, docs/loadgen.md): a node on a manual clock
 * (TALLY_CLOCK=manual) driven through simulated UTC days. Each day starts at a midnight with a
 * METAGRAPH and the day's events; the clock then moves through the day in LOADGEN_DAY_STEPS
 * steps through POST /admin/v1/clock, and at each step the node's feeder part (the CLOSE of each
 * market whose event has started, the provider's OUTCOME two hours later) is fed before the
 * miners send what they have at that time: odds for the events still open, their own outcomes of
 * the events that have started. The last step crosses the next midnight and waits for the
 * cycle the node runs there, which scores the day (scoring §5.1: rows submitted before as_of).
 *
 * Every request of a step carries the step's time, so it is within the node's skew however long
 * the step takes in real time; the node's clock moves only between steps, while no miner runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/loadgen_int.h"

#define DAY_MS 86400000ull
#define STEP_MS (DAY_MS / LOADGEN_DAY_STEPS)
#define HOUR_MS 3600000ull
#define FIRST_START_MS (1 * HOUR_MS)   /* a day's events start from 01:00 ... */
#define START_SPAN_MS (20 * HOUR_MS)   /* ... to before 21:00, so all are settled by 23:00 */
#define OUTCOME_AFTER_MS (2 * HOUR_MS) /* the provider's result: two hours after the start */
#define CLOSE_BOOKS 3u                 /* the books a close is said to rest on */
#define FEED_MAX 2000u                 /* records per admin request, as in loadgen.c */
#define CYCLE_ASK_S 30u /* with no cycle by then, the node's interval may not divide a day */

typedef struct days {
    lg__run *run;
    const client_url *ops;
    lg__worker *w;
    size_t n_closed, n_settled; /* prefixes (in start order) whose CLOSEs, OUTCOMEs are fed */
    uint64_t closes, outcomes;  /* of the current day */
    char *err;
    size_t cap;
} days;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static tally_status admin(days *d, const char *method, const char *target, const char *body,
                          unsigned *status, json_t **o)
{
    return lg__call(d->ops, lg__setup_timeout(d->run), method, target, d->run->cfg->admin_token,
                    body, status, o, d->err, d->cap);
}

/* Moves the node's clock forward by ms (0 reads it) and checks it is where the run put it: a
 * days run must be the only one moving it. */
static tally_status clock_move(days *d, uint64_t ms, bool first)
{
    char body[64];
    unsigned status;
    json_t *o = NULL;
    uint64_t now, want = d->run->clock_ms + ms;
    tally_status st;

    snprintf(body, sizeof(body), "{\"advance_ms\": %llu}", (unsigned long long)ms);
    st = admin(d, "POST", "/admin/v1/clock", body, &status, &o);
    if (st != TALLY_OK) {
        return st;
    }
    now = (uint64_t)json_integer_value(json_object_get(o, "now_ms"));
    json_decref(o);
    if (status == 401 || status == 403) {
        return lg__failf(d->err, d->cap, TALLY_EAUTH, "the admin token was refused (%u)", status);
    }
    if (status != 200 || now == 0) {
        return lg__failf(d->err, d->cap, TALLY_EINVAL,
                         "the node's clock cannot be moved (%u): --days needs a node started "
                         "with TALLY_CLOCK=manual",
                         status);
    }
    if (!first && now != want) {
        return lg__failf(d->err, d->cap, TALLY_EINVAL,
                         "the node's clock is at %llu, not at %llu where this run moved it: "
                         "something else moves it",
                         (unsigned long long)now, (unsigned long long)want);
    }
    d->run->clock_ms = now;
    return TALLY_OK;
}

/* The node's last cycle and how long ago (node clock, whole seconds) it started computing. */
static tally_status last_cycle(days *d, uint64_t *cycle, uint64_t *age_s)
{
    unsigned status;
    json_t *o = NULL;
    tally_status st = admin(d, "GET", "/health", NULL, &status, &o);

    if (st == TALLY_OK && !json_is_integer(json_object_get(o, "last_cycle"))) {
        st = lg__failf(d->err, d->cap, TALLY_EIO, "GET /health: no last_cycle (status %u)", status);
    }
    if (st == TALLY_OK) {
        *cycle = (uint64_t)json_integer_value(json_object_get(o, "last_cycle"));
        *age_s = (uint64_t)json_integer_value(json_object_get(o, "last_cycle_age_s"));
    }
    json_decref(o);
    return st;
}

/* Waits for the cycle of the midnight the clock stands on: a cycle after `before` that started
 * at the midnight or later (the clock stands still there, and the step before it was STEP_MS
 * earlier, so an age of 0 s means this midnight). A cycle begun before the midnight and landing
 * after it is refused by the node and computed again (docs/serve.md), so it is this one too. */
static tally_status wait_cycle(days *d, uint64_t before, uint64_t *cycle_out)
{
    uint64_t t0 = lg__mono_ns(), cycle = 0, age = 0;
    bool asked = false;

    for (;;) {
        uint64_t waited_s = (lg__mono_ns() - t0) / 1000000000ull;
        tally_status st = last_cycle(d, &cycle, &age);
        if (st != TALLY_OK) {
            return st;
        }
        if (cycle > before && age == 0) {
            *cycle_out = cycle;
            return TALLY_OK;
        }
        if (!asked && waited_s >= CYCLE_ASK_S) {
            unsigned status;
            json_t *o = NULL;
            asked = true;
            st = admin(d, "POST", "/admin/v1/cycle", "{}", &status, &o);
            json_decref(o);
            if (st != TALLY_OK) {
                return st;
            }
        }
        if (waited_s >= LOADGEN_CYCLE_WAIT_S) {
            return lg__failf(d->err, d->cap, TALLY_EIO,
                             "no cycle landed at the midnight %llu within %u s (last cycle %llu; "
                             "see the node's log for cycle_failed)",
                             (unsigned long long)d->run->clock_ms, LOADGEN_CYCLE_WAIT_S,
                             (unsigned long long)cycle);
        }
        sleep_ms(20);
    }
}

/* ---- the feeder's records ---- */

/* The CLOSE of market m of e: the live model's market price is the truth (the copiers' price,
 * sim.h), so the consensus at the start is e's probabilities, normalised, in the schema's
 * units (multiples of 10 nanos, 0.001..0.999, odds_n = round_half_even(10^13 / prob_n) · 10^5). */
static void add_close(lg__sbuf *b, size_t *count, const sim_live_event *e, unsigned m)
{
    const schema_market *mk = &e->market[m].u.market;
    schema_cprice cp[3];
    schema_body body = {.type = SCHEMA_CLOSE};
    double sum = 0;

    for (size_t i = 0; i < mk->n_sides; i++) {
        sum += e->p[m][i];
    }
    for (size_t i = 0; i < mk->n_sides; i++) {
        uint64_t pn = (uint64_t)(e->p[m][i] / (sum > 0 ? sum : 1) * 1e8 + 0.5) * 10u;
        uint64_t q, rem;
        pn = pn < 1000000u ? 1000000u : pn > 999000000u ? 999000000u : pn;
        q = 10000000000000ull / pn, rem = 10000000000000ull % pn;
        if (2 * rem > pn || (2 * rem == pn && (q & 1))) {
            q++;
        }
        cp[i] = (schema_cprice){
            .side = mk->sides[i], .prob_n = pn, .odds_n = q * 100000u, .books = CLOSE_BOOKS};
    }
    body.u.snapshot = (schema_snapshot){
        .market_id = mk->market_id, .ts_ms = e->start_ms, .probs = cp, .n_probs = mk->n_sides};
    lg__sb_record(b, count, &body);
}

/* The provider's OUTCOME of e (source 1: no nonce, no salt), the result and score the model's
 * honest reporters give. */
static void add_outcome(lg__sbuf *b, size_t *count, const sim_live_event *e)
{
    schema_body body = {.type = SCHEMA_OUTCOME};
    body.u.outcome = (schema_outcome){.source = 1,
                                      .event_id = e->event_id,
                                      .has_result = true,
                                      .result = e->result,
                                      .has_score_home = true,
                                      .score_home = e->score_home,
                                      .has_score_away = true,
                                      .score_away = e->score_away};
    lg__sb_record(b, count, &body);
}

/* Feeds, at the step's time t, the CLOSEs of the events that have started and the provider's
 * OUTCOMEs of those started OUTCOME_AFTER_MS ago (all that have started, on the day's last
 * step). Events are in start order, so both are prefixes. */
static tally_status settle(days *d, bool last_step)
{
    lg__run *run = d->run;
    uint64_t t = run->clock_ms;
    lg__sbuf b = {0};
    size_t count = 0;
    tally_status st = TALLY_OK;

    while (st == TALLY_OK && d->n_closed < run->n_live && run->events[d->n_closed].start_ms <= t) {
        const sim_live_event *e = &run->events[d->n_closed++];
        for (unsigned m = 0; m < e->n_markets; m++) {
            add_close(&b, &count, e, m);
        }
        d->closes += e->n_markets;
        if (count + 4 > FEED_MAX) {
            st = lg__post_feed(run, d->ops, &b, d->err, d->cap);
            count = 0;
        }
    }
    while (st == TALLY_OK && d->n_settled < d->n_closed &&
           (last_step || run->events[d->n_settled].start_ms + OUTCOME_AFTER_MS <= t)) {
        add_outcome(&b, &count, &run->events[d->n_settled++]);
        d->outcomes++;
        if (count + 1 > FEED_MAX) {
            st = lg__post_feed(run, d->ops, &b, d->err, d->cap);
            count = 0;
        }
    }
    if (st == TALLY_OK && count > 0) {
        st = lg__post_feed(run, d->ops, &b, d->err, d->cap);
    }
    free(b.p);
    return st;
}

/* The day's METAGRAPH (a new block binding the same miners, so their registrations run on) and
 * its events, starting from 01:00 to before 21:00 on the minute. Event ids are the midnight in
 * ms × 100 + k: distinct across the days of a run and from any run on another day. */
static tally_status open_day(days *d, unsigned day, uint64_t block)
{
    lg__run *run = d->run;
    unsigned per_day = run->cfg->events;
    uint64_t midnight = run->clock_ms;
    size_t first = (size_t)day * per_day, count = 0;
    lg__sbuf b = {0};
    tally_status st = lg__add_metagraph(run, block, &b, &count);

    for (unsigned k = 0; st == TALLY_OK && k < per_day; k++) {
        sim_live_event *e = &run->events[first + k];
        uint64_t start = midnight + FIRST_START_MS + START_SPAN_MS * k / per_day;
        st = sim_live_event_make(run->gen, midnight * 100u + k + 1, start / 60000u * 60000u, e);
        if (st != TALLY_OK) {
            st = lg__failf(d->err, d->cap, st, "event %u of day %u cannot be made", k, day + 1);
            break;
        }
        e->n_markets = run->cfg->markets;
        lg__sb_record(&b, &count, &e->event);
        for (unsigned m = 0; m < e->n_markets; m++) {
            lg__sb_record(&b, &count, &e->market[m]);
        }
        if (count + 4 > FEED_MAX || k + 1 == per_day) {
            st = lg__post_feed(run, d->ops, &b, d->err, d->cap);
            count = 0;
        }
    }
    if (st == TALLY_OK && per_day == 0) {
        st = lg__post_feed(run, d->ops, &b, d->err, d->cap);
    }
    free(b.p);
    if (st == TALLY_OK) {
        run->n_live = first + per_day; /* the miners see them from the next step on */
    }
    return st;
}

/* One step: every thread runs its miners at the step's time until none has more to send. */
static tally_status step(days *d)
{
    lg__run *run = d->run;
    pthread_t tid[LOADGEN_THREADS_MAX];
    unsigned started = 0;

    for (unsigned t = 0; t < run->threads; t++) {
        if (pthread_create(&tid[t], NULL, lg__worker_step, &d->w[t]) != 0) {
            break;
        }
        started++;
    }
    for (unsigned t = 0; t < started; t++) {
        pthread_join(tid[t], NULL);
    }
    return started == run->threads
               ? TALLY_OK
               : lg__failf(d->err, d->cap, TALLY_ENOMEM, "cannot start thread %u", started);
}

static void tell_day(days *d, unsigned day, uint64_t midnight, uint64_t cycle)
{
    const lg__run *run = d->run;
    loadgen_day info = {.day = day + 1,
                        .days = run->days,
                        .day_ms = midnight,
                        .events = run->cfg->events,
                        .closes = d->closes,
                        .outcomes = d->outcomes,
                        .cycle = cycle};

    if (run->cfg->on_day == NULL) {
        return;
    }
    for (unsigned t = 0; t < run->threads; t++) {
        const lg__stats *s = &d->w[t].st;
        info.requests += s->requests, info.items_accepted += s->items_accepted;
        info.receipts_verified += s->verified, info.receipts_failed += s->failed;
    }
    run->cfg->on_day(run->cfg->on_day_arg, &info);
}

/* One day from its midnight to the next, and that midnight's cycle. */
static tally_status run_day(days *d, unsigned day, uint64_t block, uint64_t *cycle)
{
    uint64_t midnight = d->run->clock_ms, before = 0, age;
    tally_status st = open_day(d, day, block);

    d->closes = d->outcomes = 0;
    for (unsigned s = 0; st == TALLY_OK && s < LOADGEN_DAY_STEPS; s++) {
        bool last = s + 1 == LOADGEN_DAY_STEPS;
        st = settle(d, last);
        if (st == TALLY_OK) {
            st = step(d);
        }
        if (st == TALLY_OK && last) {
            st = last_cycle(d, &before, &age);
        }
        if (st == TALLY_OK) {
            st = clock_move(d, STEP_MS, false);
        }
    }
    if (st == TALLY_OK) {
        st = wait_cycle(d, before, cycle);
    }
    if (st == TALLY_OK) {
        tell_day(d, day, midnight, *cycle);
    }
    return st;
}

tally_status lg__days(lg__run *run, const client_url *ops, uint64_t block, loadgen_report *out,
                      char *err, size_t cap)
{
    days d = {.run = run, .ops = ops, .err = err, .cap = cap};
    uint64_t t0 = lg__mono_ns(), cycle = 0, age = 0;
    tally_status st;

    d.w = calloc(run->threads, sizeof(*d.w));
    if (d.w == NULL) {
        return lg__failf(err, cap, TALLY_ENOMEM, "out of memory");
    }
    for (unsigned t = 0; t < run->threads; t++) {
        d.w[t] = (lg__worker){.run = run, .id = t, .rng = run->cfg->seed * 1000003u + t};
    }
    run->deadline_ns = UINT64_MAX / 2; /* a days run ends with its days, not a deadline */
    run->next_slot_ns = t0;
    st = clock_move(&d, 0, true);
    /* the days are UTC days: from the next midnight, unless the clock stands on one (a node
     * with a METAGRAPH runs a cycle there, which is waited for like the others) */
    if (st == TALLY_OK && run->clock_ms % DAY_MS != 0) {
        uint64_t before = 0;
        st = last_cycle(&d, &before, &age);
        if (st == TALLY_OK) {
            st = clock_move(&d, DAY_MS - run->clock_ms % DAY_MS, false);
        }
        if (st == TALLY_OK && block > 1) {
            st = wait_cycle(&d, before, &cycle);
        }
    }
    out->days = run->days, out->clock_start_ms = run->clock_ms;
    for (unsigned day = 0; st == TALLY_OK && day < run->days; day++) {
        st = run_day(&d, day, block + day, &cycle);
        if (st == TALLY_OK) {
            out->first_cycle = out->cycles == 0 ? cycle : out->first_cycle;
            out->last_cycle = cycle, out->cycles++;
            out->closes += d.closes, out->provider_outcomes += d.outcomes;
        }
    }
    out->clock_end_ms = run->clock_ms;
    if (st == TALLY_OK) {
        st = lg__merge(run, d.w, (double)(lg__mono_ns() - t0) / 1e9, out);
    }
    for (unsigned t = 0; t < run->threads; t++) {
        client_close(d.w[t].conn);
        free(d.w[t].st.lat);
    }
    free(d.w);
    return st;
}

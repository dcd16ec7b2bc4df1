/* The node's read view for its request threads: the acceptance rules' state as of the latest
 * committed head (the very state the writer judges with, folded by the same code from the same
 * records, so an early check on a request thread cannot disagree with the writer's on what was
 * committed), plus the games index of protocol §5.1 (the latest EVENT of each event that has
 * not long started, and its MARKETs), kept decoded in memory. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

/* Events that started longer ago than this are dropped from the games index: they can never be
 * listed again (a game is listed from now on), and a later EVENT record brings one back. */
#define VIEW_KEEP_MS (2 * SCHEMA_DAY_MS)

typedef struct vgame {
    schema_body event;    /* the latest EVENT */
    schema_body *markets; /* its MARKETs, ascending by market_id */
    size_t n_markets, cap_markets;
    uint64_t changed_ms;  /* time_ms of its latest EVENT or MARKET record */
} vgame;

struct ledger_view {
    store_log *log;
    pthread_rwlock_t lock;
    pthread_mutex_t sync_mu; /* one folder at a time; readers go on meanwhile on the old state */
    engine_rules *rules;
    vgame *games;
    size_t n_games, cap_games;
    uint64_t mg_time_ms;   /* time_ms of the record completing the effective METAGRAPH */
};

static void game_free(vgame *g)
{
    schema_body_release(&g->event);
    for (size_t i = 0; i < g->n_markets; i++) {
        schema_body_release(&g->markets[i]);
    }
    free(g->markets);
}

static vgame *game_of(ledger_view *v, uint64_t event_id)
{
    for (size_t i = 0; i < v->n_games; i++) {
        if (v->games[i].event.u.event.event_id == event_id) {
            return &v->games[i];
        }
    }
    return NULL;
}

/* Takes ownership of the decoded EVENT body b. */
static tally_status put_event(ledger_view *v, schema_body *b, uint64_t t)
{
    vgame *g = game_of(v, b->u.event.event_id);

    if (g == NULL) {
        if (v->n_games == v->cap_games) {
            size_t cap = v->cap_games ? 2 * v->cap_games : 64;
            vgame *p = realloc(v->games, cap * sizeof(*p));
            if (p == NULL) {
                return TALLY_ENOMEM;
            }
            v->games = p, v->cap_games = cap;
        }
        g = &v->games[v->n_games++];
        memset(g, 0, sizeof(*g));
    } else {
        schema_body_release(&g->event);
    }
    g->event = *b;
    g->changed_ms = t;
    memset(b, 0, sizeof(*b));
    return TALLY_OK;
}

/* Takes ownership of the decoded MARKET body b, if its event is indexed (a MARKET is immutable
 * and its event came first: the rules admitted it). */
static tally_status put_market(ledger_view *v, schema_body *b, uint64_t t)
{
    vgame *g = game_of(v, b->u.market.event_id);
    size_t at;

    if (g == NULL) {
        return TALLY_OK;
    }
    for (at = 0; at < g->n_markets; at++) {
        uint64_t id = g->markets[at].u.market.market_id;
        if (id == b->u.market.market_id) {
            return TALLY_OK; /* a byte-identical repeat: the rules dropped it as a no-op */
        }
        if (id > b->u.market.market_id) {
            break;
        }
    }
    if (g->n_markets == g->cap_markets) {
        size_t cap = g->cap_markets ? 2 * g->cap_markets : 4;
        schema_body *p = realloc(g->markets, cap * sizeof(*p));
        if (p == NULL) {
            return TALLY_ENOMEM;
        }
        g->markets = p, g->cap_markets = cap;
    }
    memmove(&g->markets[at + 1], &g->markets[at], (g->n_markets - at) * sizeof(*g->markets));
    g->markets[at] = *b;
    g->n_markets++;
    g->changed_ms = t > g->changed_ms ? t : g->changed_ms;
    memset(b, 0, sizeof(*b));
    return TALLY_OK;
}

static void prune(ledger_view *v, uint64_t now)
{
    size_t w = 0;

    for (size_t i = 0; i < v->n_games; i++) {
        if (v->games[i].event.u.event.start_ms + VIEW_KEEP_MS < now) {
            game_free(&v->games[i]);
        } else {
            v->games[w++] = v->games[i];
        }
    }
    v->n_games = w;
}

/* Folds one record into the view's own parts, after the rules took it. */
static tally_status fold_one(void *arg, const schema_header *h, schema_body *b)
{
    ledger_view *v = arg;
    uint64_t block;

    switch (h->type) {
    case SCHEMA_EVENT:
        return put_event(v, b, h->time_ms);
    case SCHEMA_MARKET:
        return put_market(v, b, h->time_ms);
    case SCHEMA_METAGRAPH:
        /* the snapshot in effect changes with the record that completes it */
        if (engine_rules_metagraph(v->rules, &block) && block == b->u.metagraph.block &&
            b->u.metagraph.part + 1 == b->u.metagraph.parts) {
            v->mg_time_ms = h->time_ms;
        }
        return TALLY_OK;
    default:
        return TALLY_OK;
    }
}

static tally_status fold_to(ledger_view *v, uint64_t to)
{
    tally_status st = ledger__rules_fold_with(v->log, v->rules, to, fold_one, v);

    if (st == TALLY_OK) {
        prune(v, engine_rules_last_time(v->rules));
    }
    return st;
}

tally_status ledger_view_open(store_log *log, ledger_view **out)
{
    ledger_view *v = calloc(1, sizeof(*v));
    tally_status st;

    *out = NULL;
    if (v == NULL) {
        return TALLY_ENOMEM;
    }
    v->log = log;
    pthread_rwlock_init(&v->lock, NULL);
    pthread_mutex_init(&v->sync_mu, NULL);
    st = engine_rules_new(&v->rules);
    if (st == TALLY_OK) {
        st = fold_to(v, store_size(log));
    }
    if (st != TALLY_OK) {
        ledger_view_close(v);
        return st;
    }
    *out = v;
    return TALLY_OK;
}

void ledger_view_close(ledger_view *v)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < v->n_games; i++) {
        game_free(&v->games[i]);
    }
    free(v->games);
    engine_rules_free(v->rules);
    pthread_rwlock_destroy(&v->lock);
    pthread_mutex_destroy(&v->sync_mu);
    free(v);
}

tally_status ledger_view_sync(ledger_view *v)
{
    uint64_t to = store_size(v->log);
    tally_status st = TALLY_OK;

    pthread_rwlock_rdlock(&v->lock);
    bool behind = engine_rules_size(v->rules) < to;
    pthread_rwlock_unlock(&v->lock);
    if (!behind) {
        return TALLY_OK;
    }
    pthread_mutex_lock(&v->sync_mu);
    pthread_rwlock_wrlock(&v->lock);
    if (engine_rules_size(v->rules) < to) {
        st = fold_to(v, to);
    }
    pthread_rwlock_unlock(&v->lock);
    pthread_mutex_unlock(&v->sync_mu);
    return st;
}

void ledger_view_info_get(ledger_view *v, ledger_view_info *out)
{
    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&v->lock);
    out->size = engine_rules_size(v->rules);
    out->last_time_ms = engine_rules_last_time(v->rules);
    out->has_genesis = engine_rules_node_key(v->rules, out->node_key);
    out->has_metagraph = engine_rules_metagraph(v->rules, &out->metagraph_block);
    out->metagraph_time_ms = v->mg_time_ms;
    out->params = *engine_rules_params(v->rules);
    engine_rules_cycles(v->rules, &out->last_cycle, &out->epoch);
    out->games_indexed = v->n_games;
    pthread_rwlock_unlock(&v->lock);
}

bool ledger_view_binding(ledger_view *v, const uint8_t key[32], engine_binding *out)
{
    bool hit;

    pthread_rwlock_rdlock(&v->lock);
    hit = engine_rules_binding(v->rules, key, out);
    pthread_rwlock_unlock(&v->lock);
    return hit;
}

static bool code_eq(tally_str a, const char *b)
{
    return b == NULL || (strlen(b) == a.n && memcmp(a.p, b, a.n) == 0);
}

static int by_start_id(const void *a, const void *b)
{
    const schema_event *x = &(*(const vgame *const *)a)->event.u.event;
    const schema_event *y = &(*(const vgame *const *)b)->event.u.event;
    if (x->start_ms != y->start_ms) {
        return x->start_ms < y->start_ms ? -1 : 1;
    }
    return x->event_id < y->event_id ? -1 : x->event_id > y->event_id;
}

tally_status ledger_view_games(ledger_view *v, const ledger_games_query *q, ledger_game_fn fn,
                               void *arg, bool *more_out, uint64_t *next_start_out,
                               uint64_t *next_id_out)
{
    const vgame **pick = NULL;
    size_t n = 0, sent = 0;
    tally_status st = TALLY_OK;

    *more_out = false, *next_start_out = 0, *next_id_out = 0;
    pthread_rwlock_rdlock(&v->lock);
    if (v->n_games > 0) {
        pick = malloc(v->n_games * sizeof(*pick));
        if (pick == NULL) {
            pthread_rwlock_unlock(&v->lock);
            return TALLY_ENOMEM;
        }
    }
    for (size_t i = 0; i < v->n_games; i++) {
        const vgame *g = &v->games[i];
        const schema_event *e = &g->event.u.event;
        if (e->status != SCHEMA_SCHEDULED || e->start_ms < q->from_ms || e->start_ms > q->to_ms ||
            (q->has_since && g->changed_ms <= q->since_ms) || !code_eq(e->league, q->league) ||
            !code_eq(e->sport, q->sport)) {
            continue;
        }
        if (q->has_cursor && (e->start_ms < q->after_start ||
                              (e->start_ms == q->after_start && e->event_id <= q->after_id))) {
            continue;
        }
        pick[n++] = g;
    }
    qsort(pick, n, sizeof(*pick), by_start_id);
    for (size_t i = 0; st == TALLY_OK && i < n && sent < q->limit; i++, sent++) {
        const vgame *g = pick[i];
        st = fn(arg, &g->event.u.event, g->markets, g->n_markets);
        *next_start_out = g->event.u.event.start_ms;
        *next_id_out = g->event.u.event.event_id;
    }
    *more_out = st == TALLY_OK && sent < n;
    pthread_rwlock_unlock(&v->lock);
    free(pick);
    return st;
}

tally_status ledger_view_reveal_at(ledger_view *v, uint64_t seq, const schema_header *h,
                                   uint64_t *out)
{
    tally_status st;

    pthread_rwlock_rdlock(&v->lock);
    st = engine_rules_reveal_at(v->rules, seq, h, out);
    pthread_rwlock_unlock(&v->lock);
    return st;
}

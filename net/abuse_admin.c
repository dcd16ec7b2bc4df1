/* The abuse engine's admin side: bans (load, add, remove, list, purge), cooldowns (list, clear)
 * and the metrics snapshot of §9.2. */
#include <stdlib.h>
#include <string.h>

#include "net/abuse_eng_int.h"

/* ---- admin: bans ---- */

/* A ban checked and stored; persist says whether the persistence callback hears of it (not for
 * the bans loaded from it at start). */
static tally_status ban_store(net_abuse *a, const net_ban *b, bool persist)
{
    tally_status st = net_ban_check(b);
    bool stored;

    if (st != TALLY_OK) {
        return st;
    }
    pthread_mutex_lock(&a->mu);
    st = net__ban_put(a, b, false, persist, &stored);
    pthread_mutex_unlock(&a->mu);
    return st;
}

tally_status net_abuse_ban_load(net_abuse *a, const net_ban *b)
{
    return ban_store(a, b, false);
}

tally_status net_abuse_ban_add(net_abuse *a, const net_ban *b)
{
    return ban_store(a, b, true);
}

/* Reports and drops one ban entry. */
static void ban_drop(net_abuse *a, net__bent *e)
{
    net_ban b;
    net_ident id;

    net__ent_ident(e, &id);
    if (a->persist != NULL) {
        net__ban_view(&id, e, &b);
        a->persist(a->persist_arg, &b, true);
    }
    free(e->note);
    net__tab_del(&a->tab[NET__T_BANS], e);
}

tally_status net_abuse_ban_remove(net_abuse *a, const net_ident *id)
{
    tally_status st = TALLY_ENOTFOUND;
    net__bent *e;

    pthread_mutex_lock(&a->mu);
    e = net__ban_find(a, id);
    if (e != NULL) {
        ban_drop(a, e);
        st = TALLY_OK;
    }
    pthread_mutex_unlock(&a->mu);
    return st;
}

tally_status net_abuse_ban_get(net_abuse *a, const net_ident *id, net_ban *out)
{
    tally_status st = TALLY_ENOTFOUND;
    net__bent *e;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&a->mu);
    e = net__ban_find(a, id);
    if (e != NULL) {
        net__ban_view(id, e, out);
        st = TALLY_OK;
    }
    pthread_mutex_unlock(&a->mu);
    return st;
}

typedef struct ban_walk {
    net_abuse *a;
    net_ban *v;
    size_t n;
    uint64_t now_ms;
} ban_walk;

static void ban_collect(void *arg, void *payload)
{
    ban_walk *w = arg;
    net_ident id;
    net__ent_ident(payload, &id);
    net__ban_view(&id, payload, &w->v[w->n++]);
}

tally_status net_abuse_bans_list(net_abuse *a, net_ban **out, size_t *n_out)
{
    ban_walk w = {.a = a};

    *out = NULL, *n_out = 0;
    pthread_mutex_lock(&a->mu);
    if (a->tab[NET__T_BANS].n > 0) {
        w.v = calloc(a->tab[NET__T_BANS].n, sizeof(*w.v));
        if (w.v == NULL) {
            pthread_mutex_unlock(&a->mu);
            return TALLY_ENOMEM;
        }
        net__tab_each(&a->tab[NET__T_BANS], ban_collect, &w);
    }
    pthread_mutex_unlock(&a->mu);
    *out = w.v, *n_out = w.n;
    return TALLY_OK;
}

static void ban_expire(void *arg, void *payload)
{
    ban_walk *w = arg;
    net__bent *e = payload;
    if (!net__ban_active(e, w->now_ms)) {
        ban_drop(w->a, e);
        w->n++;
    }
}

void net_abuse_bans_purge(net_abuse *a, uint64_t now_ms, size_t *n_out)
{
    ban_walk w = {.a = a, .now_ms = now_ms};

    pthread_mutex_lock(&a->mu);
    net__tab_each(&a->tab[NET__T_BANS], ban_expire, &w);
    pthread_mutex_unlock(&a->mu);
    if (n_out != NULL) {
        *n_out = w.n;
    }
}

/* ---- admin: cooldowns ---- */

typedef struct cool_walk {
    net_abuse_cooldown *v;
    size_t n, cap;
    uint64_t now;
} cool_walk;

static void cool_collect(void *arg, void *payload)
{
    cool_walk *w = arg;
    net__state *s = payload;
    if (s->cool_until > w->now && w->n < w->cap) {
        net_abuse_cooldown *c = &w->v[w->n++];
        net__ent_ident(payload, &c->id);
        c->remaining_s = net__whole_s(s->cool_until - w->now);
        c->level = s->level;
    }
}

static void cool_count(void *arg, void *payload)
{
    cool_walk *w = arg;
    w->n += ((net__state *)payload)->cool_until > w->now;
}

tally_status net_abuse_cooldowns_list(net_abuse *a, uint64_t now_mono_ms, net_abuse_cooldown **out,
                                      size_t *n_out)
{
    cool_walk w = {.now = now_mono_ms};

    *out = NULL, *n_out = 0;
    pthread_mutex_lock(&a->mu);
    net__tab_each(&a->tab[NET__T_IPST], cool_count, &w);
    net__tab_each(&a->tab[NET__T_HKST], cool_count, &w);
    if (w.n > 0) {
        w.cap = w.n, w.n = 0;
        w.v = calloc(w.cap, sizeof(*w.v));
        if (w.v == NULL) {
            pthread_mutex_unlock(&a->mu);
            return TALLY_ENOMEM;
        }
        net__tab_each(&a->tab[NET__T_IPST], cool_collect, &w);
        net__tab_each(&a->tab[NET__T_HKST], cool_collect, &w);
    }
    pthread_mutex_unlock(&a->mu);
    *out = w.v, *n_out = w.n;
    return TALLY_OK;
}

tally_status net_abuse_cooldown_clear(net_abuse *a, const net_ident *id, uint64_t now_mono_ms)
{
    tally_status st = TALLY_ENOTFOUND;
    net__state *s;

    pthread_mutex_lock(&a->mu);
    s = net__state_find(a, id);
    if (s != NULL && s->cool_until > now_mono_ms) {
        s->cool_until = 0;
        s->level = 0;
        s->r[NET__R_H] = (net__rmeta){0, 0};
        net__forget_c(s);
        st = TALLY_OK;
    }
    pthread_mutex_unlock(&a->mu);
    return st;
}

/* ---- metrics ---- */

typedef struct stat_walk {
    net_abuse_stats *st;
    uint64_t now_ms, now_mono;
    int li;
} stat_walk;

static void stat_cool(void *arg, void *payload)
{
    stat_walk *w = arg;
    w->st->cooldowns_active[w->li] += ((net__state *)payload)->cool_until > w->now_mono;
}

static void stat_ban(void *arg, void *payload)
{
    stat_walk *w = arg;
    net__bent *e = payload;
    if (net__ban_active(e, w->now_ms)) {
        int li = net__tab_ent(payload)->key[0] == NET_ID_IP ? 0 : 1;
        w->st->bans_active[li][e->until_ms == 0 ? 1 : 0]++;
    }
}

void net_abuse_stats_get(net_abuse *a, uint64_t now_ms, uint64_t now_mono_ms, net_abuse_stats *out)
{
    stat_walk w = {.st = out, .now_ms = now_ms, .now_mono = now_mono_ms};

    pthread_mutex_lock(&a->mu);
    *out = a->st;
    memset(out->cooldowns_active, 0, sizeof(out->cooldowns_active));
    memset(out->bans_active, 0, sizeof(out->bans_active));
    w.li = 0;
    net__tab_each(&a->tab[NET__T_IPST], stat_cool, &w);
    w.li = 1;
    net__tab_each(&a->tab[NET__T_HKST], stat_cool, &w);
    net__tab_each(&a->tab[NET__T_BANS], stat_ban, &w);
    for (int i = 0; i < NET__T_COUNT; i++) {
        out->entries[i] = a->tab[i].n;
        if (i < 4) {
            out->evictions[i] = a->tab[i].evictions;
        }
    }
    pthread_mutex_unlock(&a->mu);
}

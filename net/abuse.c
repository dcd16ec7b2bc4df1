/* The abuse-control engine of §7: rolling rate windows (§7.1), failure counters, cooldowns,
 * fail2ban, critical strikes and probe bans (§7.2), checked in the order of §7.3. In memory only;
 * bans leave through the persistence callback. One mutex guards everything (abuse_int.h). */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/abuse_eng_int.h"

#define DEFAULT_EXEMPT "127.0.0.0/8,::1/128"

/* ---- configuration ---- */

static uint32_t pick(uint32_t v, uint32_t def)
{
    return v != 0 ? v : def;
}

static void set_detail(const net_abuse_cfg *cfg, const char *what, const char *why)
{
    if (cfg->detail != NULL) {
        snprintf(cfg->detail, NET_ABUSE_DETAIL_MAX, "%s: %s", what, why);
    }
}

static tally_status set_limit(net_abuse_limit *out, net_abuse_limit in, uint32_t ds, uint32_t dm)
{
    out->per_s = pick(in.per_s, ds);
    out->per_min = pick(in.per_min, dm);
    if (out->per_s > UINT16_MAX || out->per_min > UINT16_MAX || out->per_s > out->per_min) {
        return TALLY_EINVAL;
    }
    return TALLY_OK;
}

static void layout_init(net__layout *l, uint32_t c, uint32_t v, uint32_t x, uint32_t keys,
                        const uint64_t win_ms[NET__R_COUNT])
{
    size_t off = 0;
    l->cap[NET__R_C] = (uint16_t)c, l->cap[NET__R_V] = (uint16_t)v, l->cap[NET__R_X] = (uint16_t)x;
    l->cap[NET__R_H] = NET__HIST_MAX;
    for (int i = 0; i < NET__R_COUNT; i++) {
        l->off[i] = off;
        off += l->cap[i];
        l->win_ms[i] = win_ms[i];
    }
    l->keys = (uint16_t)keys;
    l->off_kf = off;
    l->off_ks = off + keys;
    l->payload = sizeof(net__state) + (off + 2u * keys) * sizeof(uint64_t);
}

static tally_status resolve(net_abuse *a, const net_abuse_cfg *cfg)
{
    uint32_t key_f = pick(cfg->cooldown_key_failures, 10),
             key_w = pick(cfg->cooldown_key_window_s, 60);
    uint32_t ip_f = pick(cfg->cooldown_ip_failures, 50),
             ip_w = pick(cfg->cooldown_ip_window_s, 300);
    uint32_t dk = pick(cfg->cooldown_ip_distinct_keys, 5);
    uint32_t f2b = pick(cfg->fail2ban_violations, 20), f2b_w = pick(cfg->fail2ban_window_s, 3600);
    uint32_t crit = pick(cfg->critical_strikes, 3), crit_w = pick(cfg->critical_window_s, 86400);
    uint64_t w[NET__R_COUNT];

    if (set_limit(&a->rate[NET_SCOPE_KEY], cfg->rate_key, 10, 120) != TALLY_OK ||
        set_limit(&a->rate[NET_SCOPE_IP], cfg->rate_ip, 50, 500) != TALLY_OK ||
        set_limit(&a->rate[NET_SCOPE_GLOBAL], cfg->rate_global, 200, 5000) != TALLY_OK) {
        set_detail(cfg, "rate limits", "each 1..65535, per second ≤ per minute");
        return TALLY_EINVAL;
    }
    a->cool_initial_s = pick(cfg->cooldown_initial_s, 30);
    a->cool_max_s = pick(cfg->cooldown_max_s, 3600);
    a->cool_reset_ms = (uint64_t)pick(cfg->cooldown_reset_s, 86400) * 1000u;
    a->ban_s = pick(cfg->fail2ban_ban_s, 86400);
    a->probe_ban = !cfg->no_probe_ban;
    if (a->cool_initial_s > a->cool_max_s || key_f > NET_ABUSE_THRESHOLD_MAX ||
        ip_f > NET_ABUSE_THRESHOLD_MAX || dk > NET_ABUSE_THRESHOLD_MAX ||
        f2b > NET_ABUSE_THRESHOLD_MAX || crit > NET_ABUSE_THRESHOLD_MAX) {
        set_detail(cfg, "abuse thresholds", "out of range");
        return TALLY_EINVAL;
    }
    w[NET__R_C] = (uint64_t)ip_w * 1000u, w[NET__R_V] = (uint64_t)f2b_w * 1000u;
    w[NET__R_X] = (uint64_t)crit_w * 1000u, w[NET__R_H] = a->cool_reset_ms;
    layout_init(&a->lay[0], ip_f, f2b, crit, dk, w);
    w[NET__R_C] = (uint64_t)key_w * 1000u;
    layout_init(&a->lay[1], key_f, 0, crit, 0, w);
    return TALLY_OK;
}

static tally_status parse_list(const net_abuse_cfg *cfg, const char *name, const char *s,
                               net_cidr_list *out)
{
    char why[NET_WHY_MAX] = "";
    tally_status st = net_cidr_list_parse(s, out, why);
    if (st != TALLY_OK) {
        set_detail(cfg, name, why);
    }
    return st;
}

tally_status net_abuse_new(const net_abuse_cfg *cfg, net_abuse **out)
{
    net_abuse *a;
    tally_status st;
    size_t caps[NET__T_COUNT];

    *out = NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return TALLY_ENOMEM;
    }
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return TALLY_ENOMEM;
    }
    randombytes_buf(a->hkey, sizeof(a->hkey));
    st = resolve(a, cfg);
    if (st == TALLY_OK) {
        st = parse_list(cfg, "TALLY_ABUSE_EXEMPT", cfg->exempt ? cfg->exempt : DEFAULT_EXEMPT,
                        &a->exempt);
    }
    if (st == TALLY_OK) {
        st = parse_list(cfg, "TALLY_TRUSTED_PROXIES",
                        cfg->trusted_proxies ? cfg->trusted_proxies : "", &a->trusted);
    }
    caps[NET__T_IPWIN] = cfg->max_ips ? cfg->max_ips : NET_ABUSE_TABLE_DEFAULT;
    caps[NET__T_KEYWIN] = cfg->max_keys ? cfg->max_keys : NET_ABUSE_KEYS_DEFAULT;
    caps[NET__T_IPST] = caps[NET__T_HKST] =
        cfg->max_states ? cfg->max_states : NET_ABUSE_STATE_DEFAULT;
    caps[NET__T_BANS] = cfg->max_bans ? cfg->max_bans : NET_ABUSE_STATE_DEFAULT;
    for (int i = 0; i < NET__T_COUNT && st == TALLY_OK; i++) {
        size_t payload = i <= NET__T_KEYWIN ? sizeof(net__win)
                         : i == NET__T_IPST ? a->lay[0].payload
                         : i == NET__T_HKST ? a->lay[1].payload
                                            : sizeof(net__bent);
        st = net__tab_init(&a->tab[i], caps[i], payload, i != NET__T_BANS, a->hkey);
    }
    if (st != TALLY_OK) {
        net_abuse_free(a);
        return st;
    }
    a->persist = cfg->persist;
    a->persist_arg = cfg->persist_arg;
    *out = a;
    return TALLY_OK;
}

static void free_note(void *arg, void *payload)
{
    (void)arg;
    free(((net__bent *)payload)->note);
}

void net_abuse_free(net_abuse *a)
{
    if (a == NULL) {
        return;
    }
    net__tab_each(&a->tab[NET__T_BANS], free_note, NULL);
    for (int i = 0; i < NET__T_COUNT; i++) {
        net__tab_release(&a->tab[i]);
    }
    net_cidr_list_release(&a->exempt);
    net_cidr_list_release(&a->trusted);
    pthread_mutex_destroy(&a->mu);
    sodium_memzero(a->hkey, sizeof(a->hkey));
    free(a);
}

const net_cidr_list *net_abuse_trusted(const net_abuse *a)
{
    return &a->trusted;
}

bool net_abuse_exempt(const net_abuse *a, const net_ip *ip)
{
    return net_cidr_match(&a->exempt, ip);
}

/* ---- rolling windows ---- */

static void ring_adv(uint16_t *c, unsigned n, uint64_t *head, uint64_t tick)
{
    if (tick <= *head) {
        return; /* a caller that read the clock just before another: count it as now */
    }
    if (tick - *head >= n) {
        memset(c, 0, n * sizeof(*c));
    } else {
        for (uint64_t t = *head + 1; t <= tick; t++) {
            c[t % n] = 0;
        }
    }
    *head = tick;
}

static uint32_t ring_sum(const uint16_t *c, unsigned n)
{
    uint32_t s = 0;
    for (unsigned i = 0; i < n; i++) {
        s += c[i];
    }
    return s;
}

/* Milliseconds from now until the ring's sum falls below target, oldest slots expiring first. */
static uint64_t ring_wait(const uint16_t *c, unsigned n, uint64_t head, uint64_t slot_ms,
                          uint64_t now, uint32_t sum, uint32_t target)
{
    uint32_t freed = 0;
    if (sum < target) {
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        if (head + 1 + i < n) {
            continue; /* before the clock's start: never counted */
        }
        uint64_t t = head + 1 + i - n;
        freed += c[t % n];
        if (sum - freed < target) {
            uint64_t expiry = (t + n) * slot_ms;
            return expiry > now ? expiry - now : 1;
        }
    }
    return (uint64_t)n * slot_ms;
}

uint32_t net__whole_s(uint64_t ms)
{
    uint64_t s = (ms + 999) / 1000;
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* Counts one request if both windows admit it. Fills rate; on refusal *which and *retry_s. */
static bool win_try(net__win *w, const net_abuse_limit *lim, uint64_t now, net_abuse_rate *rate,
                    net_abuse_window *which, uint32_t *retry_s)
{
    uint32_t sd, ss, rd, rs;

    if (!w->init) {
        w->hd = now / 100, w->hs = now / 1000, w->init = true;
    }
    ring_adv(w->d, NET__DS_SLOTS, &w->hd, now / 100);
    ring_adv(w->s, NET__S_SLOTS, &w->hs, now / 1000);
    sd = ring_sum(w->d, NET__DS_SLOTS), ss = ring_sum(w->s, NET__S_SLOTS);
    rate->limit = lim->per_min;
    if (sd >= lim->per_s || ss >= lim->per_min) {
        uint64_t wd = ring_wait(w->d, NET__DS_SLOTS, w->hd, 100, now, sd, lim->per_s);
        uint64_t ws = ring_wait(w->s, NET__S_SLOTS, w->hs, 1000, now, ss, lim->per_min);
        *which = sd >= lim->per_s ? NET_WINDOW_1S : NET_WINDOW_60S;
        *retry_s = net__whole_s(wd > ws ? wd : ws);
        if (*retry_s == 0) {
            *retry_s = 1;
        }
        rate->remaining = 0;
        rate->reset_s = *retry_s;
        return false;
    }
    w->d[w->hd % NET__DS_SLOTS]++, w->s[w->hs % NET__S_SLOTS]++;
    sd++, ss++;
    rd = lim->per_s - sd, rs = lim->per_min - ss;
    /* Remaining and Reset describe the tighter window; a tie goes to the per-minute one, whose
     * limit is the one X-RateLimit-Limit names. */
    if (rd < rs) {
        rate->remaining = rd;
        rate->reset_s = net__whole_s(ring_wait(w->d, NET__DS_SLOTS, w->hd, 100, now, sd, sd));
    } else {
        rate->remaining = rs;
        rate->reset_s = net__whole_s(ring_wait(w->s, NET__S_SLOTS, w->hs, 1000, now, ss, ss));
    }
    return true;
}

/* Gives back one request counted at `at`, if its slots are still in the windows. */
static void win_unreserve(net__win *w, uint64_t at)
{
    uint64_t td = at / 100, ts = at / 1000;
    if (!w->init) {
        return;
    }
    if (td <= w->hd && td + NET__DS_SLOTS > w->hd && w->d[td % NET__DS_SLOTS] > 0) {
        w->d[td % NET__DS_SLOTS]--;
    }
    if (ts <= w->hs && ts + NET__S_SLOTS > w->hs && w->s[ts % NET__S_SLOTS] > 0) {
        w->s[ts % NET__S_SLOTS]--;
    }
}

/* ---- identities, bans ---- */

static size_t ident_key(const net_ident *id, uint8_t key[NET__KEY_MAX])
{
    key[0] = id->kind;
    memcpy(key + 1, id->b, id->len);
    return 1u + id->len;
}

net__bent *net__ban_find(net_abuse *a, const net_ident *id)
{
    uint8_t key[NET__KEY_MAX];
    void *p;
    size_t kn = ident_key(id, key);
    if (net__tab_get(&a->tab[NET__T_BANS], key, kn, false, &p, NULL) != TALLY_OK) {
        return NULL;
    }
    return p;
}

void net__ban_view(const net_ident *id, const net__bent *e, net_ban *out)
{
    memset(out, 0, sizeof(*out));
    out->id = *id;
    out->until_ms = e->until_ms;
    out->reason = e->reason;
    out->created_ms = e->created_ms;
    out->strikes = e->strikes;
    out->note_len = e->note_len;
    if (e->note != NULL) {
        memcpy(out->note, e->note, e->note_len);
    }
}

void net__ent_ident(const void *payload, net_ident *out)
{
    const net__ent *e = net__tab_ent(payload);
    memset(out, 0, sizeof(*out));
    out->kind = e->key[0];
    out->len = (uint8_t)(e->klen - 1);
    memcpy(out->b, e->key + 1, out->len);
}

bool net__ban_active(const net__bent *e, uint64_t now_ms)
{
    return e->until_ms == 0 || e->until_ms > now_ms;
}

/* Stores b. With keep_stronger (automatic bans), an existing ban lasting at least as long wins.
 * *stored says whether anything changed; then it is reported when report is set. */
tally_status net__ban_put(net_abuse *a, const net_ban *b, bool keep_stronger, bool report,
                          bool *stored)
{
    uint8_t key[NET__KEY_MAX];
    size_t kn = ident_key(&b->id, key);
    char *note = NULL;
    bool fresh;
    void *p;
    net__bent *e;
    tally_status st;

    *stored = false;
    e = net__ban_find(a, &b->id);
    if (e != NULL && keep_stronger &&
        (e->until_ms == 0 || (b->until_ms != 0 && e->until_ms >= b->until_ms))) {
        return TALLY_OK;
    }
    if (b->note_len > 0) {
        note = malloc((size_t)b->note_len + 1);
        if (note == NULL) {
            return TALLY_ENOMEM;
        }
        memcpy(note, b->note, b->note_len);
        note[b->note_len] = '\0';
    }
    st = net__tab_get(&a->tab[NET__T_BANS], key, kn, true, &p, &fresh);
    if (st != TALLY_OK) {
        free(note);
        if (st == TALLY_EFULL) {
            a->st.bans_dropped++;
        }
        return st;
    }
    e = p;
    free(e->note);
    *e = (net__bent){.until_ms = b->until_ms,
                     .created_ms = b->created_ms,
                     .strikes = b->strikes,
                     .reason = b->reason,
                     .note_len = b->note_len,
                     .note = note};
    *stored = true;
    if (report && a->persist != NULL) {
        a->persist(a->persist_arg, b, false);
    }
    return TALLY_OK;
}

/* An automatic ban; until 0 = permanent. */
static tally_status ban_auto(net_abuse *a, const net_ident *id, uint64_t until, uint8_t reason,
                             uint32_t strikes, uint64_t now_ms, bool *stored)
{
    net_ban b;
    memset(&b, 0, sizeof(b));
    b.id = *id, b.until_ms = until, b.reason = reason, b.created_ms = now_ms, b.strikes = strikes;
    return net__ban_put(a, &b, true, true, stored);
}

/* ---- checks ---- */

static void verdict_ok(net_abuse_verdict *v, const net_ident *who)
{
    memset(v, 0, sizeof(*v));
    v->result = NET_ABUSE_OK;
    v->who = *who;
}

static bool banned(net_abuse *a, const net_ident *id, uint64_t now_ms, net_abuse_verdict *out)
{
    net__bent *e = net__ban_find(a, id);
    if (e == NULL || !net__ban_active(e, now_ms)) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    out->result = NET_ABUSE_BANNED;
    out->who = *id;
    out->expires_ms = e->until_ms;
    return true;
}

net__state *net__state_find(net_abuse *a, const net_ident *id)
{
    uint8_t key[NET__KEY_MAX];
    size_t kn = ident_key(id, key);
    void *p;
    if (net__tab_get(&a->tab[id->kind == NET_ID_IP ? NET__T_IPST : NET__T_HKST], key, kn, false, &p,
                     NULL) != TALLY_OK) {
        return NULL;
    }
    return p;
}

static bool cooling(net_abuse *a, const net_ident *id, uint64_t now_mono, net_abuse_verdict *out)
{
    net__state *s = net__state_find(a, id);
    if (s == NULL || s->cool_until <= now_mono) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    out->result = NET_ABUSE_COOLING;
    out->who = *id;
    out->retry_after_s = net__whole_s(s->cool_until - now_mono);
    return true;
}

static void refuse_rate(net_abuse *a, net_abuse_verdict *out, const net_ident *who,
                        net_abuse_scope scope, net_abuse_window w, uint32_t retry,
                        const net_abuse_rate *rate)
{
    memset(out, 0, sizeof(*out));
    out->result = scope == NET_SCOPE_GLOBAL ? NET_ABUSE_OVERLOADED : NET_ABUSE_RATE_LIMITED;
    out->who = *who;
    out->scope = scope, out->window = w, out->retry_after_s = retry;
    out->rate = *rate;
    a->st.rate_limited[scope][w]++;
}

tally_status net_abuse_check_ban(net_abuse *a, const net_ip *ip, uint64_t now_ms,
                                 net_abuse_verdict *out)
{
    net_ident id;

    net_ident_ip(ip, &id);
    verdict_ok(out, &id);
    if (net_abuse_exempt(a, ip)) {
        return TALLY_OK;
    }
    pthread_mutex_lock(&a->mu);
    (void)banned(a, &id, now_ms, out);
    pthread_mutex_unlock(&a->mu);
    return TALLY_OK;
}

tally_status net_abuse_check_ip(net_abuse *a, const net_ip *ip, unsigned listener, uint64_t now_ms,
                                uint64_t now_mono_ms, net_abuse_verdict *out)
{
    bool exempt = net_abuse_exempt(a, ip);
    uint8_t key[NET__KEY_MAX];
    net_abuse_window w = NET_WINDOW_1S;
    net_abuse_rate rate = {0};
    uint32_t retry = 0;
    tally_status st = TALLY_OK;
    net_ident id;
    void *p;

    memset(out, 0, sizeof(*out));
    if (listener >= NET_ABUSE_LISTENERS) {
        return TALLY_EINVAL;
    }
    net_ident_ip(ip, &id);
    pthread_mutex_lock(&a->mu);
    if (!exempt && banned(a, &id, now_ms, out)) {
        goto done;
    }
    if (!win_try(&a->global[listener], &a->rate[NET_SCOPE_GLOBAL], now_mono_ms, &rate, &w,
                 &retry)) {
        refuse_rate(a, out, &id, NET_SCOPE_GLOBAL, w, retry, &rate);
        goto done;
    }
    if (!exempt && cooling(a, &id, now_mono_ms, out)) {
        goto done;
    }
    key[0] = (uint8_t)listener;
    memcpy(key + 1, id.b, id.len);
    st = net__tab_get(&a->tab[NET__T_IPWIN], key, 1u + id.len, true, &p, NULL);
    if (st != TALLY_OK) {
        memset(out, 0, sizeof(*out));
        goto done;
    }
    if (!win_try(p, &a->rate[NET_SCOPE_IP], now_mono_ms, &rate, &w, &retry)) {
        refuse_rate(a, out, &id, NET_SCOPE_IP, w, retry, &rate);
        goto done;
    }
    verdict_ok(out, &id);
    out->rate = rate;
done:
    pthread_mutex_unlock(&a->mu);
    return st;
}

tally_status net_abuse_check_key(net_abuse *a, const uint8_t key[32], const uint8_t *hotkey,
                                 uint64_t now_ms, uint64_t now_mono_ms, net_abuse_verdict *out,
                                 net_abuse_resv *resv)
{
    net_abuse_window w = NET_WINDOW_1S;
    net_abuse_rate rate = {0};
    uint32_t retry = 0;
    tally_status st = TALLY_OK;
    net_ident hk, kid;
    void *p;

    memset(out, 0, sizeof(*out));
    memset(resv, 0, sizeof(*resv));
    memset(&kid, 0, sizeof(kid));
    kid.kind = NET_ID_KEY;
    kid.len = 32;
    memcpy(kid.b, key, 32);
    pthread_mutex_lock(&a->mu);
    if (hotkey != NULL) {
        net_ident_hotkey(hotkey, &hk);
        if (banned(a, &hk, now_ms, out) || cooling(a, &hk, now_mono_ms, out)) {
            goto done;
        }
    }
    st = net__tab_get(&a->tab[NET__T_KEYWIN], key, 32, true, &p, NULL);
    if (st != TALLY_OK) {
        memset(out, 0, sizeof(*out));
        goto done;
    }
    if (!win_try(p, &a->rate[NET_SCOPE_KEY], now_mono_ms, &rate, &w, &retry)) {
        refuse_rate(a, out, &kid, NET_SCOPE_KEY, w, retry, &rate);
        goto done;
    }
    verdict_ok(out, &kid);
    out->rate = rate;
    memcpy(resv->key, key, 32);
    resv->mono_ms = now_mono_ms;
    resv->held = true;
done:
    pthread_mutex_unlock(&a->mu);
    return st;
}

void net_abuse_key_commit(net_abuse *a, net_abuse_resv *resv)
{
    (void)a;
    resv->held = false;
}

void net_abuse_key_release(net_abuse *a, net_abuse_resv *resv)
{
    void *p;

    if (!resv->held) {
        return;
    }
    resv->held = false;
    pthread_mutex_lock(&a->mu);
    if (net__tab_get(&a->tab[NET__T_KEYWIN], resv->key, 32, false, &p, NULL) == TALLY_OK &&
        p != NULL) {
        win_unreserve(p, resv->mono_ms);
    }
    pthread_mutex_unlock(&a->mu);
}

/* ---- failures ---- */

static uint64_t *ring_ts(net__state *s, const net__layout *l, int r)
{
    return s->ts + l->off[r];
}

static void ring_push(net__state *s, const net__layout *l, int r, uint64_t now)
{
    uint16_t cap = l->cap[r];
    if (cap == 0) {
        return;
    }
    ring_ts(s, l, r)[s->r[r].at] = now;
    s->r[r].at = (uint16_t)((s->r[r].at + 1u) % cap);
    if (s->r[r].n < cap) {
        s->r[r].n++;
    }
}

/* True when the ring holds its threshold of events and the oldest is within the window. */
static bool ring_full_within(net__state *s, const net__layout *l, int r, uint64_t now)
{
    uint16_t cap = l->cap[r];
    if (cap == 0 || s->r[r].n < cap) {
        return false;
    }
    return now - ring_ts(s, l, r)[s->r[r].at] < l->win_ms[r];
}

static uint32_t ring_count_within(net__state *s, const net__layout *l, int r, uint64_t now)
{
    uint32_t c = 0;
    for (uint16_t i = 0; i < s->r[r].n; i++) {
        c += now - ring_ts(s, l, r)[i] < l->win_ms[r];
    }
    return c;
}

/* Records a distinct-key sighting; returns how many distinct keys were seen within the C window.
 * The slots hold the most recently seen distinct keys, so when N keys fell within the window, the
 * N slots hold exactly them. Fingerprints are keyed hashes, so nobody can pick colliding keys. */
static uint32_t distinct_keys(net_abuse *a, net__state *s, const net__layout *l,
                              const uint8_t key[32], uint64_t now)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t fp = 0, *kf = s->ts + l->off_kf, *ks = s->ts + l->off_ks;
    uint16_t slot = 0;
    uint32_t n = 0;

    crypto_shorthash(h, key, 32, a->hkey);
    for (size_t i = 0; i < sizeof(h); i++) {
        fp = fp << 8 | h[i];
    }
    for (uint16_t i = 0; i < s->keys; i++) {
        if (kf[i] == fp) {
            slot = i;
            goto seen;
        }
        if (ks[i] < ks[slot]) {
            slot = i;
        }
    }
    if (s->keys < l->keys) {
        slot = s->keys++;
    }
seen:
    kf[slot] = fp, ks[slot] = now;
    for (uint16_t i = 0; i < s->keys; i++) {
        n += now - ks[i] < l->win_ms[NET__R_C];
    }
    return n;
}

void net__forget_c(net__state *s)
{
    s->r[NET__R_C] = (net__rmeta){0, 0};
    s->keys = 0;
}

/* Starts a cooldown: d = min(initial × 2^(c−1), max), c = cooldowns in the reset window. */
static uint32_t cool_start(net_abuse *a, net__state *s, const net__layout *l, uint64_t now,
                           uint32_t *level)
{
    uint32_t c;
    uint64_t d;

    ring_push(s, l, NET__R_H, now);
    c = ring_count_within(s, l, NET__R_H, now);
    d = a->cool_initial_s << (c - 1 < 31 ? c - 1 : 31);
    if (d > a->cool_max_s) {
        d = a->cool_max_s;
    }
    s->cool_until = now + d * 1000u;
    s->level = c;
    net__forget_c(s);
    *level = c;
    return (uint32_t)d;
}

typedef struct charge {
    const net_abuse_failure *f;
    uint64_t now_ms, now_mono;
    uint32_t cool_s, level;
    bool banned;
    uint64_t until;
} charge;

static tally_status charge_one(net_abuse *a, const net_ident *id, charge *c)
{
    int li = id->kind == NET_ID_IP ? 0 : 1;
    const net__layout *l = &a->lay[li];
    const net_abuse_failure *f = c->f;
    uint8_t key[NET__KEY_MAX];
    size_t kn = ident_key(id, key);
    tally_status st = TALLY_OK;
    uint64_t now = c->now_mono;
    bool stored = false, trip = false;
    net__state *s;
    void *p;

    a->st.failures[f->cls][li]++;
    if (f->cls == NET_CLASS_P) {
        if (a->probe_ban) {
            st = ban_auto(a, id, 0, NET_BAN_PROBE, 1, c->now_ms, &stored);
            c->banned = stored, c->until = 0;
        }
        return st;
    }
    st = net__tab_get(&a->tab[li == 0 ? NET__T_IPST : NET__T_HKST], key, kn, true, &p, NULL);
    if (st != TALLY_OK) {
        return st;
    }
    s = p;
    if (f->cls == NET_CLASS_X) {
        ring_push(s, l, NET__R_X, now);
        if (ring_full_within(s, l, NET__R_X, now)) {
            st = ban_auto(a, id, 0, (uint8_t)f->x_reason, l->cap[NET__R_X], c->now_ms, &stored);
            c->banned = stored, c->until = 0;
        }
    } else if (f->cls == NET_CLASS_V && l->cap[NET__R_V] > 0) {
        ring_push(s, l, NET__R_V, now);
        if (ring_full_within(s, l, NET__R_V, now)) {
            uint64_t until = c->now_ms + a->ban_s * 1000u;
            st = ban_auto(a, id, until, NET_BAN_VIOLATIONS, l->cap[NET__R_V], c->now_ms, &stored);
            c->banned = stored, c->until = until;
        }
    }
    /* Every class but P is also a C-failure (V keeps escalation going, X per §14.10). */
    ring_push(s, l, NET__R_C, now);
    trip = ring_full_within(s, l, NET__R_C, now);
    if (l->keys > 0 && f->claimed_key != NULL &&
        distinct_keys(a, s, l, f->claimed_key, now) >= l->keys) {
        trip = true;
    }
    /* Failures during a cooldown are counted but start nothing until it ends. */
    if (trip && s->cool_until <= now) {
        c->cool_s = cool_start(a, s, l, now, &c->level);
    }
    return st;
}

tally_status net_abuse_fail(net_abuse *a, const net_abuse_failure *f, uint64_t now_ms,
                            uint64_t now_mono_ms, net_abuse_outcome *out)
{
    charge c = {.f = f, .now_ms = now_ms, .now_mono = now_mono_ms};
    tally_status st = TALLY_OK, st2 = TALLY_OK;
    net_abuse_outcome o;
    net_ident id;

    memset(&o, 0, sizeof(o));
    if (out != NULL) {
        *out = o;
    }
    if ((unsigned)f->cls > NET_CLASS_P || f->ip == NULL ||
        (f->cls == NET_CLASS_X && f->x_reason != NET_BAN_BAD_SIGNATURE &&
         f->x_reason != NET_BAN_KEY_NOT_REGISTERED && f->x_reason != NET_BAN_NONCE_REPLAY)) {
        return TALLY_EINVAL;
    }
    pthread_mutex_lock(&a->mu);
    if (!net_abuse_exempt(a, f->ip)) {
        net_ident_ip(f->ip, &id);
        st = charge_one(a, &id, &c);
        o.ip_cooldown_s = c.cool_s, o.ip_level = c.level;
        o.ip_banned = c.banned, o.ip_ban_until_ms = c.until;
    }
    if (f->hotkey != NULL && f->cls != NET_CLASS_P) {
        c.cool_s = 0, c.level = 0, c.banned = false, c.until = 0;
        net_ident_hotkey(f->hotkey, &id);
        st2 = charge_one(a, &id, &c);
        o.hotkey_cooldown_s = c.cool_s, o.hotkey_level = c.level;
        o.hotkey_banned = c.banned, o.hotkey_ban_until_ms = c.until;
    }
    pthread_mutex_unlock(&a->mu);
    if (out != NULL) {
        *out = o;
    }
    return st != TALLY_OK ? st : st2;
}

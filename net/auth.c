/* Ledger login (protocol §6.1): POST /v1/auth/challenge and /v1/auth/token, and the bearer check
 * of every token route (stage 6 of §7.3). Challenges and tokens live in memory only (a restart
 * logs everyone out, as §7.2 allows): challenges are 32 random bytes, single use, kept with the
 * key they were issued to, expiring after TALLY_CHALLENGE_TTL_S, at most TALLY_MAX_CHALLENGES
 * (the oldest evicted); tokens are 32 random bytes, kept only as their SHA-256, expiring after
 * TALLY_TOKEN_TTL_S, at most TALLY_MAX_TOKENS (the least recently used evicted). Times are the
 * node clock, so a controllable clock (TALLY_CLOCK=manual) expires them in tests. Eligibility is
 * judged against the effective METAGRAPH of the read view at login and again at every use. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

typedef struct challenge {
    uint8_t value[32], key[32];
    uint64_t expires_ms, order;
} challenge;

typedef struct token {
    uint8_t hash[32], key[32];
    uint64_t expires_ms, used;
} token;

struct net__auth_state {
    pthread_mutex_t mu;
    challenge *ch;
    size_t n_ch, cap_ch;
    token *tok;
    size_t n_tok, cap_tok;
    uint64_t clock; /* order of issue and use */
    bool has_hotkey;
    uint8_t node_hotkey[32]; /* GENESIS node_hotkey, read once */
};

tally_status net__auth_new(struct net__auth_state **out)
{
    struct net__auth_state *a = calloc(1, sizeof(*a));

    *out = NULL;
    if (a == NULL) {
        return TALLY_ENOMEM;
    }
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return TALLY_OK;
}

void net__auth_free(struct net__auth_state *a)
{
    if (a == NULL) {
        return;
    }
    sodium_memzero(a->ch, a->cap_ch * sizeof(*a->ch));
    free(a->ch);
    free(a->tok);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* GENESIS's node_hotkey (the node's own hotkey may not log in as an auditor). */
static bool node_hotkey(net_node *n, uint8_t out[32])
{
    struct net__auth_state *a = n->auth;
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;

    pthread_mutex_lock(&a->mu);
    bool have = a->has_hotkey;
    pthread_mutex_unlock(&a->mu);
    if (!have) {
        if (store_iter_open(n->store, 0, &it) != TALLY_OK) {
            return false;
        }
        tally_status st = store_iter_read(it, true, &rec, &h, &b);
        store_iter_close(it);
        if (st != TALLY_OK) {
            return false;
        }
        if (h.type == SCHEMA_GENESIS) {
            pthread_mutex_lock(&a->mu);
            memcpy(a->node_hotkey, b.u.genesis.node_hotkey, 32);
            a->has_hotkey = true;
            pthread_mutex_unlock(&a->mu);
        }
        schema_body_release(&b);
    }
    pthread_mutex_lock(&a->mu);
    have = a->has_hotkey;
    memcpy(out, a->node_hotkey, 32);
    pthread_mutex_unlock(&a->mu);
    return have;
}

wire_err net__eligible(net_node *n, const uint8_t key[32], engine_binding *bind,
                       const char **reason)
{
    ledger_view_info vi;
    uint8_t hk[32];

    *reason = NULL;
    memset(bind, 0, sizeof(*bind));
    if (ledger_view_sync(n->view) != TALLY_OK) {
        return WIRE_INTERNAL_ERROR;
    }
    ledger_view_info_get(n->view, &vi);
    if (!vi.has_metagraph) {
        return WIRE_METAGRAPH_UNAVAILABLE;
    }
    /* the node's own key or hotkey is never an auditor of itself */
    if (!ledger_view_binding(n->view, key, bind) || memcmp(key, vi.node_key, 32) == 0 ||
        (node_hotkey(n, hk) && memcmp(bind->hotkey, hk, 32) == 0)) {
        *reason = "key_not_registered";
    } else if (vi.params.v[SCHEMA_P_AUTH_REQUIRE_PERMIT] && !bind->permit) {
        *reason = "no_validator_permit";
    } else if (bind->stake_rao < (uint64_t)vi.params.v[SCHEMA_P_AUTH_MIN_STAKE_RAO]) {
        *reason = "stake_too_low";
    }
    return *reason == NULL ? WIRE_OK : WIRE_NOT_ELIGIBLE;
}

void net__auth_gauge(net_node *n)
{
    uint64_t now = net__now_ms(n);
    size_t live = 0;

    pthread_mutex_lock(&n->auth->mu);
    for (size_t i = 0; i < n->auth->n_tok; i++) {
        live += n->auth->tok[i].expires_ms > now;
    }
    pthread_mutex_unlock(&n->auth->mu);
    ops_metric_set(n->metrics, OPS_M_AUTH_TOKENS_ACTIVE, NULL, (double)live);
}

static void login_result(net_node *n, const char *result)
{
    const char *l[1] = {result};
    ops_metric_add(n->metrics, OPS_M_AUTH_LOGINS, l, 1);
}

/* Answers an eligibility refusal (stage 6 or a login). */
static void fail_eligible(net_node *n, httpd_req *req, net__ctx *ctx, wire_err e,
                          const char *reason)
{
    if (e == WIRE_NOT_ELIGIBLE) {
        json_t *d = json_pack("{s:s}", "reason", reason);
        net__fail(n, req, ctx, e, "the key may not read the gated ledger", d);
        json_decref(d);
    } else if (e == WIRE_METAGRAPH_UNAVAILABLE) {
        net__fail(n, req, ctx, e, "no complete METAGRAPH yet", NULL);
    } else {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "the node's view of the log failed", NULL);
    }
}

static void fail_body(net_node *n, httpd_req *req, net__ctx *ctx, const wire_fail *wf)
{
    json_t *d = json_pack("{s:s}", "field", wf->field);
    net__fail(n, req, ctx, wf->err, wf->message, d);
    json_decref(d);
}

/* Drops expired challenges (under mu). */
static void sweep_challenges(struct net__auth_state *a, uint64_t now)
{
    size_t w = 0;
    for (size_t i = 0; i < a->n_ch; i++) {
        if (a->ch[i].expires_ms > now) {
            a->ch[w++] = a->ch[i];
        }
    }
    a->n_ch = w;
}

void net__h_auth_challenge(net_node *n, httpd_req *req, net__ctx *ctx)
{
    tally_bytes body = httpd_req_body(req);
    struct net__auth_state *a = n->auth;
    uint8_t key[32];
    wire_fail wf;
    engine_binding b;
    const char *reason;
    wire_err e;
    uint64_t now = net__now_ms(n);
    uint64_t ttl = ops_config_u64(n->conf, OPS_K_CHALLENGE_TTL_S) * 1000u;
    size_t max = (size_t)ops_config_u64(n->conf, OPS_K_MAX_CHALLENGES);
    challenge c;
    char hex[65];

    if (wire_challenge_req_parse((const char *)body.p, body.n, key, &wf) != TALLY_OK) {
        fail_body(n, req, ctx, &wf);
        return;
    }
    e = net__eligible(n, key, &b, &reason);
    if (e != WIRE_OK) {
        login_result(n, wire_err_name(e));
        fail_eligible(n, req, ctx, e, reason);
        return;
    }
    randombytes_buf(c.value, 32);
    memcpy(c.key, key, 32);
    c.expires_ms = now + ttl;
    pthread_mutex_lock(&a->mu);
    sweep_challenges(a, now);
    if (a->n_ch >= max && a->n_ch > 0) {
        /* the oldest goes: challenges are kept in order of issue */
        size_t drop = a->n_ch - max + 1;
        memmove(a->ch, a->ch + drop, (a->n_ch - drop) * sizeof(*a->ch));
        a->n_ch -= drop;
    }
    if (a->n_ch == a->cap_ch) {
        size_t cap = a->cap_ch ? a->cap_ch * 2 : 64;
        challenge *p = realloc(a->ch, cap * sizeof(*p));
        if (p == NULL) {
            pthread_mutex_unlock(&a->mu);
            net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
            return;
        }
        a->ch = p, a->cap_ch = cap;
    }
    c.order = ++a->clock;
    a->ch[a->n_ch++] = c;
    pthread_mutex_unlock(&a->mu);
    schema_hex(c.value, 32, hex);
    json_t *o = json_pack("{s:b, s:s, s:I, s:s}", "success", 1, "challenge", hex, "expires_ms",
                          (json_int_t)c.expires_ms, "origin", n->origin);
    net__reply_json(n, req, ctx, 200, o);
    json_decref(o);
}

/* Takes the challenge value issued to key (single use: removed whether or not it is valid for
 * key). False when unknown, expired or issued to another key. */
static bool take_challenge(struct net__auth_state *a, const uint8_t value[32],
                           const uint8_t key[32], uint64_t now)
{
    bool ok = false;

    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n_ch; i++) {
        if (sodium_memcmp(a->ch[i].value, value, 32) == 0) {
            ok = a->ch[i].expires_ms > now && memcmp(a->ch[i].key, key, 32) == 0;
            memmove(&a->ch[i], &a->ch[i + 1], (a->n_ch - i - 1) * sizeof(*a->ch));
            a->n_ch--;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

/* Stores a new token for key (the least recently used goes when full). */
static tally_status put_token(net_node *n, const uint8_t key[32], uint8_t value_out[32],
                              uint64_t *expires_out)
{
    struct net__auth_state *a = n->auth;
    uint64_t now = net__now_ms(n);
    size_t max = (size_t)ops_config_u64(n->conf, OPS_K_MAX_TOKENS), w = 0;
    token t;

    randombytes_buf(value_out, 32);
    crypto_hash_sha256(t.hash, value_out, 32);
    memcpy(t.key, key, 32);
    t.expires_ms = now + ops_config_u64(n->conf, OPS_K_TOKEN_TTL_S) * 1000u;
    *expires_out = t.expires_ms;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n_tok; i++) {
        if (a->tok[i].expires_ms > now) {
            a->tok[w++] = a->tok[i];
        }
    }
    a->n_tok = w;
    while (a->n_tok >= max && a->n_tok > 0) {
        size_t lru = 0;
        for (size_t i = 1; i < a->n_tok; i++) {
            lru = a->tok[i].used < a->tok[lru].used ? i : lru;
        }
        a->tok[lru] = a->tok[--a->n_tok];
    }
    if (a->n_tok == a->cap_tok) {
        size_t cap = a->cap_tok ? a->cap_tok * 2 : 64;
        token *p = realloc(a->tok, cap * sizeof(*p));
        if (p == NULL) {
            pthread_mutex_unlock(&a->mu);
            return TALLY_ENOMEM;
        }
        a->tok = p, a->cap_tok = cap;
    }
    t.used = ++a->clock;
    a->tok[a->n_tok++] = t;
    pthread_mutex_unlock(&a->mu);
    return TALLY_OK;
}

void net__h_auth_token(net_node *n, httpd_req *req, net__ctx *ctx)
{
    tally_bytes body = httpd_req_body(req);
    tally_str origin = {n->origin, strlen(n->origin)};
    wire_token_req tr;
    wire_fail wf;
    engine_binding b;
    const char *reason;
    uint8_t tok[32];
    uint64_t expires;
    char hex[65], key_hex[65], hk[49];
    wire_err e;

    if (wire_token_req_parse((const char *)body.p, body.n, &tr, &wf) != TALLY_OK) {
        fail_body(n, req, ctx, &wf);
        return;
    }
    if (!take_challenge(n->auth, tr.challenge, tr.key, net__now_ms(n))) {
        login_result(n, "challenge_invalid");
        net__fail(n, req, ctx, WIRE_CHALLENGE_INVALID,
                  "the challenge is unknown, expired, used or for another key", NULL);
        return;
    }
    bool ok = wire_login_verify(origin, tr.challenge, tr.key, tr.sig) == TALLY_OK;
    const char *lv[2] = {"login", ok ? "ok" : "bad"};
    ops_metric_add(n->metrics, OPS_M_SIG_VERIFICATIONS, lv, 1);
    if (!ok) {
        login_result(n, "bad_signature");
        net__fail(n, req, ctx, WIRE_BAD_SIGNATURE, "the login signature does not verify", NULL);
        return;
    }
    /* eligible when the challenge was issued; checked again, the METAGRAPH may have moved */
    e = net__eligible(n, tr.key, &b, &reason);
    if (e != WIRE_OK) {
        login_result(n, wire_err_name(e));
        fail_eligible(n, req, ctx, e, reason);
        return;
    }
    if (put_token(n, tr.key, tok, &expires) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    login_result(n, "ok");
    net__auth_gauge(n);
    schema_hex(tok, 32, hex);
    sodium_memzero(tok, sizeof(tok));
    schema_hex(tr.key, 32, key_hex);
    schema_ss58_encode(b.hotkey, hk);
    OPS_LOG(n->log, OPS_INFO, "net", "login", OPS_FS("request_id", httpd_req_id(req)),
            OPS_FS("key", key_hex), OPS_FS("hotkey", hk), OPS_FU("uid", b.uid),
            OPS_FU("expires_ms", expires));
    json_t *o = json_pack("{s:b, s:s, s:I, s:s}", "success", 1, "token", hex, "expires_ms",
                          (json_int_t)expires, "tier", "gated");
    sodium_memzero(hex, sizeof(hex));
    net__reply_json(n, req, ctx, 200, o);
    json_decref(o);
}

/* The key of a live token (its use refreshes its LRU place). */
static bool token_key(net_node *n, const uint8_t value[32], uint8_t key_out[32])
{
    struct net__auth_state *a = n->auth;
    uint8_t h[32];
    uint64_t now = net__now_ms(n);
    bool hit = false;

    crypto_hash_sha256(h, value, 32);
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n_tok && !hit; i++) {
        if (sodium_memcmp(a->tok[i].hash, h, 32) == 0 && a->tok[i].expires_ms > now) {
            memcpy(key_out, a->tok[i].key, 32);
            a->tok[i].used = ++a->clock;
            hit = true;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return hit;
}

bool net__stage_token(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *v = NULL, *reason;
    size_t count = httpd_req_header(req, "Authorization", &v);
    uint8_t tok[32];
    engine_binding b;
    wire_err e;

    if (count == 0) {
        net__header(req, "WWW-Authenticate", "Bearer");
        net__fail(n, req, ctx, WIRE_TOKEN_MISSING, "this route needs a bearer token (§6.1)",
                  NULL);
        return false;
    }
    if (count != 1 || wire_bearer_parse(v, tok) != TALLY_OK || !token_key(n, tok, ctx->auth.key)) {
        sodium_memzero(tok, sizeof(tok));
        net__header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        net__fail(n, req, ctx, WIRE_TOKEN_INVALID,
                  "the token is unknown, expired or evicted: log in again", NULL);
        return false;
    }
    sodium_memzero(tok, sizeof(tok));
    ctx->token_req = true;
    e = net__eligible(n, ctx->auth.key, &b, &reason);
    if (e != WIRE_OK) {
        fail_eligible(n, req, ctx, e, reason);
        return false;
    }
    ctx->bind = b;
    ctx->verified = true;
    return true;
}

/* Builders shared by the wire tests: the §4 test key, odds and outcome bodies written field by
 * field with schema_mpw (so a test can put any value, valid or not, in any field), their record
 * signatures, and requests of several items. */
#ifndef TALLY_TESTS_WIRE_FIXTURE_H
#define TALLY_TESTS_WIRE_FIXTURE_H

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"
#include "wire/wire.h"

#define FX_SEED "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
#define FX_NONCE 1767225600000000ull
#define FX_MAX_MARKETS 70u

static const tally_str fx_origin = {"tally.example.org/57", 20};

typedef struct fx_price {
    uint64_t side, odds_n, prob_n;
} fx_price;
typedef struct fx_market {
    uint64_t id, kind;
    size_t np;
    fx_price p[5];
} fx_market;
typedef struct fx_odds {
    uint64_t nonce, idx, event_id;
    size_t nm;
    fx_market m[FX_MAX_MARKETS];
    size_t salt_len; /* 16; 0 leaves the salt out (arity 4) */
} fx_odds;
typedef struct fx_outcome {
    uint64_t source, nonce, idx, event_id;
    int64_t result, home, away; /* -1: nil */
    bool salt_nil;
} fx_outcome;

typedef struct fx_key {
    uint8_t pk[32], sk[64];
} fx_key;

static inline void fx_key_init(fx_key *k)
{
    uint8_t seed[32];

    tu_unhex(FX_SEED, seed, 32);
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

static inline void fx_key_other(fx_key *k)
{
    uint8_t seed[32];

    memset(seed, 0x42, sizeof(seed));
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

/* A valid moneyline market: home 1.91, away 2.10 (the §4 vector's prices). */
static inline fx_market fx_moneyline(uint64_t id)
{
    fx_market m = {.id = id, .kind = 1, .np = 2};

    m.p[0] = (fx_price){1, 1910000000, 523560209};
    m.p[1] = (fx_price){2, 2100000000, 476190476};
    return m;
}

/* A valid one-market odds item at position idx for event. */
static inline fx_odds fx_odds_item(uint64_t idx, uint64_t event)
{
    fx_odds o;

    memset(&o, 0, sizeof(o));
    o.nonce = FX_NONCE;
    o.idx = idx;
    o.event_id = event;
    o.nm = 1;
    o.m[0] = fx_moneyline(90001 + idx * 100);
    o.salt_len = 16;
    return o;
}

static inline void fx_odds_write(schema_mpw *w, const fx_odds *o)
{
    static const uint8_t salt[16] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
                                     0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff};

    schema_mpw_array(w, o->salt_len ? 5 : 4);
    schema_mpw_uint(w, o->nonce);
    schema_mpw_uint(w, o->idx);
    schema_mpw_uint(w, o->event_id);
    schema_mpw_array(w, o->nm);
    for (size_t k = 0; k < o->nm; k++) {
        const fx_market *m = &o->m[k];
        schema_mpw_array(w, 4);
        schema_mpw_uint(w, m->id);
        schema_mpw_uint(w, m->kind);
        schema_mpw_nil(w);
        schema_mpw_array(w, m->np);
        for (size_t j = 0; j < m->np; j++) {
            schema_mpw_array(w, 3);
            schema_mpw_uint(w, m->p[j].side);
            schema_mpw_uint(w, m->p[j].odds_n);
            schema_mpw_uint(w, m->p[j].prob_n);
        }
    }
    if (o->salt_len) {
        uint8_t s[32];
        memset(s, 0xa5, sizeof(s));
        schema_mpw_bin(w, o->salt_len == 16 ? salt : s, o->salt_len);
    }
}

static inline fx_outcome fx_outcome_item(uint64_t idx, uint64_t event)
{
    fx_outcome o = {.source = 2, .nonce = FX_NONCE, .idx = idx, .event_id = event,
                    .result = 1, .home = 2, .away = 1};
    return o;
}

static inline void fx_opt(schema_mpw *w, int64_t v)
{
    if (v < 0) {
        schema_mpw_nil(w);
    } else {
        schema_mpw_uint(w, (uint64_t)v);
    }
}

static inline void fx_outcome_write(schema_mpw *w, const fx_outcome *o)
{
    static const uint8_t salt[16] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

    schema_mpw_array(w, 8);
    schema_mpw_uint(w, o->source);
    schema_mpw_uint(w, o->nonce);
    schema_mpw_uint(w, o->idx);
    schema_mpw_uint(w, o->event_id);
    fx_opt(w, o->result);
    fx_opt(w, o->home);
    fx_opt(w, o->away);
    if (o->salt_nil) {
        schema_mpw_nil(w);
    } else {
        schema_mpw_bin(w, salt, 16);
    }
}

/* The record signature of type over body for origin, whatever the body holds. */
static inline void fx_sign(const fx_key *k, tally_str origin, unsigned type, const uint8_t *body,
                           size_t n, uint8_t sig[64])
{
    schema_header h;

    memset(&h, 0, sizeof(h));
    h.type = type;
    memcpy(h.actor, k->pk, 32);
    schema_sha256_2(h.body_hash, body, n, NULL, 0);
    if (schema_record_sign(&h, origin, k->sk) != TALLY_OK) {
        abort();
    }
    memcpy(sig, h.actor_sig, 64);
}

/* One body's bytes, malloc'd into *out (odds when outc is NULL). */
static inline size_t fx_body(const fx_odds *odds, const fx_outcome *outc, uint8_t **out)
{
    schema_mpw b;
    size_t n;

    schema_mpw_init(&b, 1u << 20);
    if (outc != NULL) {
        fx_outcome_write(&b, outc);
    } else {
        fx_odds_write(&b, odds);
    }
    if (schema_mpw_finish(&b, out, &n) != TALLY_OK) {
        abort();
    }
    return n;
}

/* A request [[body, sig], ...] of n raw bodies of type, each signed by k for origin. */
static inline size_t fx_request_raw(const fx_key *k, tally_str origin, unsigned type,
                                    uint8_t *const *bodies, const size_t *lens, size_t n,
                                    uint8_t **out)
{
    schema_mpw w;
    size_t len;

    schema_mpw_init(&w, 1u << 22);
    schema_mpw_array(&w, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t sig[64];
        fx_sign(k, origin, type, bodies[i], lens[i], sig);
        schema_mpw_array(&w, 2);
        schema_mpw_raw(&w, bodies[i], lens[i]);
        schema_mpw_bin(&w, sig, 64);
    }
    if (schema_mpw_finish(&w, out, &len) != TALLY_OK) {
        abort();
    }
    return len;
}

/* A request of n odds items (or outcome items when outs != NULL), each signed by k. */
static inline size_t fx_request(const fx_key *k, const fx_odds *odds, const fx_outcome *outs,
                                size_t n, uint8_t **out)
{
    uint8_t **bodies = calloc(n, sizeof(*bodies));
    size_t *lens = calloc(n, sizeof(*lens)), len;

    if (bodies == NULL || lens == NULL) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        lens[i] = fx_body(outs != NULL ? NULL : &odds[i], outs != NULL ? &outs[i] : NULL,
                          &bodies[i]);
    }
    len = fx_request_raw(k, fx_origin, outs != NULL ? SCHEMA_OUTCOME : SCHEMA_ODDS_SUBMISSION,
                         bodies, lens, n, out);
    for (size_t i = 0; i < n; i++) {
        free(bodies[i]);
    }
    free(bodies);
    free(lens);
    return len;
}

#endif

/* The engine's bounded tables: chained hashing keyed with SipHash (a per-handle random key, so a
 * flood of chosen addresses cannot build long chains), a recency list for eviction, and a hard
 * cap checked before any allocation. Callers hold the engine's mutex. */
#include <sodium.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "net/abuse_int.h"

#define NB_MIN 1024u
/* The payload starts after the entry header, aligned for any type. */
#define HDR                                                                                        \
    ((sizeof(net__ent) + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t))

static void *payload_of(net__ent *e)
{
    return (char *)e + HDR;
}

const net__ent *net__tab_ent(const void *payload)
{
    return (const net__ent *)(const void *)((const char *)payload - HDR);
}

tally_status net__tab_init(net__tab *t, size_t cap, size_t payload, bool evict, const uint8_t *hkey)
{
    size_t nb_max = NB_MIN;

    memset(t, 0, sizeof(*t));
    TALLY_ASSERT(cap > 0);
    while (nb_max < cap && nb_max < (SIZE_MAX / sizeof(net__ent *)) / 2) {
        nb_max *= 2;
    }
    t->nb = NB_MIN < nb_max ? NB_MIN : nb_max;
    t->nb_max = nb_max;
    t->b = calloc(t->nb, sizeof(*t->b));
    if (t->b == NULL) {
        return TALLY_ENOMEM;
    }
    t->cap = cap, t->payload = payload, t->evict = evict, t->hkey = hkey;
    return TALLY_OK;
}

void net__tab_release(net__tab *t)
{
    net__ent *e = t->head;
    while (e != NULL) {
        net__ent *next = e->next;
        free(e);
        e = next;
    }
    free(t->b);
    memset(t, 0, sizeof(*t));
}

static uint64_t hash_key(const net__tab *t, const uint8_t *key, size_t klen)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    crypto_shorthash(h, key, klen, t->hkey);
    for (size_t i = 0; i < sizeof(h); i++) {
        v = v << 8 | h[i];
    }
    return v;
}

static void lru_unlink(net__tab *t, net__ent *e)
{
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        t->head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    } else {
        t->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void lru_front(net__tab *t, net__ent *e)
{
    e->prev = NULL;
    e->next = t->head;
    if (t->head != NULL) {
        t->head->prev = e;
    }
    t->head = e;
    if (t->tail == NULL) {
        t->tail = e;
    }
}

static void chain_unlink(net__tab *t, net__ent *e)
{
    net__ent **pp = &t->b[e->hash & (t->nb - 1)];
    while (*pp != e) {
        TALLY_ASSERT(*pp != NULL);
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
}

/* Doubles the buckets while they are fewer than the entries; a failed allocation only leaves
 * chains longer. */
static void maybe_grow(net__tab *t)
{
    size_t nb = t->nb * 2;
    net__ent **b;

    if (t->n < t->nb || t->nb >= t->nb_max) {
        return;
    }
    b = calloc(nb, sizeof(*b));
    if (b == NULL) {
        return;
    }
    for (net__ent *e = t->head; e != NULL; e = e->next) {
        size_t i = e->hash & (nb - 1);
        e->hnext = b[i];
        b[i] = e;
    }
    free(t->b);
    t->b = b, t->nb = nb;
}

tally_status net__tab_get(net__tab *t, const uint8_t *key, size_t klen, bool create, void **out,
                          bool *fresh)
{
    uint64_t h;
    net__ent *e;

    *out = NULL;
    if (fresh != NULL) {
        *fresh = false;
    }
    TALLY_ASSERT(klen <= NET__KEY_MAX);
    h = hash_key(t, key, klen);
    for (e = t->b[h & (t->nb - 1)]; e != NULL; e = e->hnext) {
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            lru_unlink(t, e);
            lru_front(t, e);
            *out = payload_of(e);
            return TALLY_OK;
        }
    }
    if (!create) {
        return TALLY_OK;
    }
    if (t->n >= t->cap) {
        if (!t->evict) {
            return TALLY_EFULL;
        }
        e = t->tail; /* the least recently used: its memory is reused */
        chain_unlink(t, e);
        lru_unlink(t, e);
        t->n--;
        t->evictions++;
    } else {
        e = malloc(HDR + t->payload);
        if (e == NULL) {
            return TALLY_ENOMEM;
        }
    }
    memset(e, 0, HDR + t->payload);
    e->hash = h;
    e->klen = (uint8_t)klen;
    memcpy(e->key, key, klen);
    lru_front(t, e);
    e->hnext = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = e;
    t->n++;
    maybe_grow(t);
    if (fresh != NULL) {
        *fresh = true;
    }
    *out = payload_of(e);
    return TALLY_OK;
}

void net__tab_del(net__tab *t, void *payload)
{
    net__ent *e = (net__ent *)(void *)((char *)payload - HDR);
    chain_unlink(t, e);
    lru_unlink(t, e);
    t->n--;
    free(e);
}

void net__tab_each(net__tab *t, void (*fn)(void *arg, void *payload), void *arg)
{
    net__ent *e = t->head;
    while (e != NULL) {
        net__ent *next = e->next;
        fn(arg, payload_of(e));
        e = next;
    }
}

/* The read-nonce cache of protocol §4: each (key, nonce) of a signed GET accepted once within
 * 2 × skew, in memory only, at most NET_RNONCE_MAX entries (§10: about 1,000,000). An open-addressing
 * table whose expired entries are free slots: a probe passes at most NET_RNONCE_PROBE slots, so
 * a full table refuses (the caller answers 503) rather than growing or forgetting a live entry. */
#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "net/rnonce_int.h"

#define SLOTS NET_RNONCE_MAX
#define NET_RNONCE_PROBE 64u

typedef struct slot {
    uint64_t tag;     /* keyed hash of (key, nonce); 0 = never used */
    uint64_t expires; /* monotonic ms */
} slot;

struct net_rnonce {
    pthread_mutex_t mu;
    slot *s;
    uint8_t hkey[crypto_shorthash_KEYBYTES];
};

tally_status net_rnonce_new(net_rnonce **out)
{
    net_rnonce *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL || (c->s = calloc(SLOTS, sizeof(*c->s))) == NULL) {
        free(c);
        return TALLY_ENOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    /* a keyed hash: nobody can choose keys and nonces that collide into one probe run */
    randombytes_buf(c->hkey, sizeof(c->hkey));
    *out = c;
    return TALLY_OK;
}

void net_rnonce_free(net_rnonce *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_destroy(&c->mu);
    free(c->s);
    free(c);
}

net_rnonce_verdict net_rnonce_use(net_rnonce *c, const uint8_t key[32], uint64_t nonce,
                                  uint64_t now_mono_ms, uint64_t ttl_ms)
{
    uint8_t in[40], h[8];
    uint64_t tag = 0;
    size_t at, free_at = SIZE_MAX;
    net_rnonce_verdict v = NET_RNONCE_FULL;

    memcpy(in, key, 32);
    for (int i = 0; i < 8; i++) {
        in[32 + i] = (uint8_t)(nonce >> (8 * i));
    }
    crypto_shorthash(h, in, sizeof(in), c->hkey);
    for (int i = 0; i < 8; i++) {
        tag |= (uint64_t)h[i] << (8 * i);
    }
    tag |= 1; /* never 0 */
    at = (size_t)(tag >> 11) % SLOTS;
    pthread_mutex_lock(&c->mu);
    for (unsigned p = 0; p < NET_RNONCE_PROBE; p++, at = (at + 1) % SLOTS) {
        slot *s = &c->s[at];
        bool live = s->tag != 0 && s->expires > now_mono_ms;
        if (live && s->tag == tag) {
            v = NET_RNONCE_REUSED;
            goto out;
        }
        if (!live && free_at == SIZE_MAX) {
            free_at = at;
        }
        if (s->tag == 0) {
            break; /* past the end of this probe run: the tag is nowhere further */
        }
    }
    if (free_at != SIZE_MAX) {
        c->s[free_at] = (slot){tag, now_mono_ms + ttl_ms};
        v = NET_RNONCE_OK;
    }
out:
    pthread_mutex_unlock(&c->mu);
    return v;
}

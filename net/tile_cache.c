/* The bounded cache of full tiles and bundles (tile_cache_int.h): a chained hash table and a
 * least-recently-used list under one mutex. Lookups are a few pointer moves under the lock; the
 * bytes are read outside it, which the reference count keeps valid. */
#include <pthread.h>
#include <stdlib.h>

#include "net/tile_cache_int.h"

struct net__tent {
    net__tcache *cache;     /* for net__tent_done */
    net__tent *hnext;       /* bucket chain */
    net__tent *prev, *next; /* LRU list, most recent first */
    uint64_t index;
    unsigned kind, level;
    unsigned refs; /* requests reading it */
    bool linked;   /* in the table and the list; an evicted entry waits for refs to reach 0 */
    uint8_t *id, *z;
    size_t id_n, z_n;
    int z_level;
};

struct net__tcache {
    pthread_mutex_t mu;
    net__tent **bucket;
    size_t n_buckets; /* a power of two */
    net__tent *head, *tail;
    size_t cap, bytes, entries;
    uint64_t hits, misses, inserts, evictions;
};

static size_t slot(const net__tcache *c, unsigned kind, unsigned level, uint64_t index)
{
    uint64_t h = (index * 4 + kind) * 64 + level;

    h ^= h >> 33, h *= 0xff51afd7ed558ccdull, h ^= h >> 33;
    return (size_t)(h & (c->n_buckets - 1));
}

tally_status net__tcache_new(size_t cap, net__tcache **out)
{
    net__tcache *c;
    size_t want = cap / 8192; /* one bucket per hash tile that fits */

    *out = NULL;
    if (cap == 0) {
        return TALLY_OK;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return TALLY_ENOMEM;
    }
    c->n_buckets = 64;
    while (c->n_buckets < want && c->n_buckets < (1u << 20)) {
        c->n_buckets *= 2;
    }
    c->bucket = calloc(c->n_buckets, sizeof(*c->bucket));
    if (c->bucket == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->bucket);
        free(c);
        return TALLY_ENOMEM;
    }
    c->cap = cap;
    *out = c;
    return TALLY_OK;
}

static void ent_free(net__tent *e)
{
    free(e->id);
    free(e->z);
    free(e);
}

void net__tcache_free(net__tcache *c)
{
    if (c == NULL) {
        return;
    }
    for (net__tent *e = c->head, *next; e != NULL; e = next) {
        next = e->next;
        TALLY_ASSERT(e->refs == 0);
        ent_free(e);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->bucket);
    free(c);
}

static void lru_unlink(net__tcache *c, net__tent *e)
{
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        c->head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    } else {
        c->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void lru_front(net__tcache *c, net__tent *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL) {
        c->head->prev = e;
    }
    c->head = e;
    if (c->tail == NULL) {
        c->tail = e;
    }
}

/* Takes e out of the table and the list (under mu); frees it unless a request still reads it. */
static void evict(net__tcache *c, net__tent *e)
{
    net__tent **pp = &c->bucket[slot(c, e->kind, e->level, e->index)];

    while (*pp != e) {
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    lru_unlink(c, e);
    e->linked = false;
    c->bytes -= e->id_n + e->z_n;
    c->entries--;
    c->evictions++;
    if (e->refs == 0) {
        ent_free(e);
    }
}

static void shrink_to_cap(net__tcache *c)
{
    while (c->bytes > c->cap && c->tail != NULL) {
        evict(c, c->tail);
    }
}

static net__tent *find(net__tcache *c, unsigned kind, unsigned level, uint64_t index)
{
    net__tent *e = c->bucket[slot(c, kind, level, index)];

    while (e != NULL && !(e->index == index && e->kind == kind && e->level == level)) {
        e = e->hnext;
    }
    return e;
}

net__tent *net__tcache_get(net__tcache *c, unsigned kind, unsigned level, uint64_t index)
{
    net__tent *e;

    if (c == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    e = find(c, kind, level, index);
    if (e != NULL) {
        e->refs++;
        lru_unlink(c, e);
        lru_front(c, e);
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

net__tent *net__tcache_put(net__tcache *c, unsigned kind, unsigned level, uint64_t index,
                           uint8_t *bytes, size_t n)
{
    net__tent *e, *have;

    if (c == NULL || n == 0 || n > c->cap || (e = calloc(1, sizeof(*e))) == NULL) {
        free(bytes);
        return NULL;
    }
    e->cache = c;
    e->kind = kind, e->level = level, e->index = index;
    e->id = bytes, e->id_n = n;
    e->refs = 1;
    pthread_mutex_lock(&c->mu);
    have = find(c, kind, level, index);
    if (have != NULL) {
        have->refs++;
        pthread_mutex_unlock(&c->mu);
        ent_free(e);
        return have;
    }
    size_t s = slot(c, kind, level, index);
    e->hnext = c->bucket[s];
    c->bucket[s] = e;
    lru_front(c, e);
    e->linked = true;
    c->bytes += n;
    c->entries++;
    c->inserts++;
    shrink_to_cap(c);
    pthread_mutex_unlock(&c->mu);
    return e;
}

const uint8_t *net__tent_body(const net__tent *e, size_t *n_out)
{
    *n_out = e->id_n;
    return e->id;
}

bool net__tent_zstd(net__tcache *c, const net__tent *e, int level, const uint8_t **z_out,
                    size_t *zn_out)
{
    bool made;

    pthread_mutex_lock(&c->mu);
    made = e->z_level == level;
    *z_out = made ? e->z : NULL;
    *zn_out = made ? e->z_n : 0;
    pthread_mutex_unlock(&c->mu);
    return made;
}

void net__tent_set_zstd(net__tcache *c, net__tent *e, int level, uint8_t *z, size_t zn)
{
    pthread_mutex_lock(&c->mu);
    if (e->z_level != 0 || level == 0) {
        pthread_mutex_unlock(&c->mu);
        free(z);
        return;
    }
    e->z = z, e->z_n = z != NULL ? zn : 0, e->z_level = level;
    if (e->linked) {
        c->bytes += e->z_n;
        shrink_to_cap(c);
    }
    pthread_mutex_unlock(&c->mu);
}

void net__tcache_release(net__tcache *c, net__tent *e)
{
    bool gone;

    if (c == NULL || e == NULL) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    TALLY_ASSERT(e->refs > 0);
    gone = --e->refs == 0 && !e->linked;
    pthread_mutex_unlock(&c->mu);
    if (gone) {
        ent_free(e);
    }
}

void net__tent_done(const void *body, size_t n, void *arg)
{
    net__tent *e = arg;

    (void)body, (void)n;
    net__tcache_release(e->cache, e);
}

void net__tcache_stats_get(net__tcache *c, net__tcache_stats *out)
{
    *out = (net__tcache_stats){0};
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    *out = (net__tcache_stats){.hits = c->hits,
                               .misses = c->misses,
                               .inserts = c->inserts,
                               .evictions = c->evictions,
                               .entries = c->entries,
                               .bytes = c->bytes,
                               .cap = c->cap};
    pthread_mutex_unlock(&c->mu);
}

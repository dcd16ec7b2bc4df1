/* The cache of full tiles and bundles of the ledger listener (private to net/; tile_cache.c).
 * A full (256-wide) hash tile, entry bundle or body bundle never changes once the tree holds
 * it, so its response body is kept after the first request instead of being rebuilt from the
 * store every time (an entry bundle costs a pack decompression and 256 leaf hashes). Partial
 * tiles and bundles at the right edge grow with the log and are never put here.
 *
 * | entry field | what                                                                 |
 * |-------------|----------------------------------------------------------------------|
 * | key         | (kind = wire_tile_kind, level 0..63 (0 for bundles), index)          |
 * | id, id_n    | the identity body exactly as served (tile hashes, or u16 BE ‖ bytes) |
 * | z, z_n      | the same body as one zstd frame at z_level, as httpd/http_req.c would |
 * |             |   compress it; z_level 0: not made yet; z NULL at z_level > 0: zstd  |
 * |             |   does not make it smaller, so the identity body is sent             |
 *
 * Memory: the bytes of id and z of every entry count against the cap given at net__tcache_new
 * (entries past it are evicted least recently used first; an entry larger than the cap is not
 * kept). An evicted entry still referenced by a request is freed by its last release. One mutex
 * guards the table; every function may be called from any loop thread. */
#ifndef TALLY_NET_TILE_CACHE_INT_H
#define TALLY_NET_TILE_CACHE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/status.h"

typedef struct net__tcache net__tcache;
typedef struct net__tent net__tent; /* one cached body; opaque */

typedef struct net__tcache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t entries, bytes, cap;
} net__tcache_stats;

/* A cache of at most cap bytes; cap 0 gives *out NULL and TALLY_OK (the cache is off: every
 * function below accepts a NULL cache and then keeps nothing). TALLY_ENOMEM. */
TALLY_MUST_USE tally_status net__tcache_new(size_t cap, net__tcache **out);
void net__tcache_free(net__tcache *c); /* NULL is a no-op; no entry may still be referenced */

/* The entry of the key with a reference, or NULL when none is cached. The caller gives the
 * reference back with net__tcache_release once it no longer reads the entry's bytes. */
net__tent *net__tcache_get(net__tcache *c, unsigned kind, unsigned level, uint64_t index);
/* Keeps the identity body (malloc'd bytes, n > 0; the cache takes ownership in every case) for
 * the key and returns its entry with a reference, or NULL when the cache is off, out of memory
 * or the body is over the cap (then bytes are freed). When another thread cached the key first,
 * that entry is returned and bytes are freed: both are the same immutable body. */
net__tent *net__tcache_put(net__tcache *c, unsigned kind, unsigned level, uint64_t index,
                           uint8_t *bytes, size_t n);
/* The identity body of a referenced entry; valid until its release. */
const uint8_t *net__tent_body(const net__tent *e, size_t *n_out);
/* The zstd variant at level: true with *z_out (NULL: zstd does not shrink it, send the
 * identity body) when it was made at that level, false when it must still be made. Valid until
 * the entry's release. */
bool net__tent_zstd(net__tcache *c, const net__tent *e, int level, const uint8_t **z_out,
                    size_t *zn_out);
/* Attaches the zstd variant made at level (z malloc'd, or NULL when zstd does not shrink it; the
 * cache takes ownership of z in every case). The first variant attached is kept; a later one,
 * or one at another level, is freed. */
void net__tent_set_zstd(net__tcache *c, net__tent *e, int level, uint8_t *z, size_t zn);
void net__tcache_release(net__tcache *c, net__tent *e); /* NULL is a no-op */
/* net__tcache_release(its cache, arg) in the shape of httpd_req_body_done_fn, so a reply can
 * borrow an entry's body (or zstd variant) and give the reference back once it is written. */
void net__tent_done(const void *body, size_t n, void *arg);

void net__tcache_stats_get(net__tcache *c, net__tcache_stats *out); /* zeros when off */

#endif

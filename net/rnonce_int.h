/* The read-nonce cache (net/rnonce.c): signed GETs accepted once per (key, nonce) within a TTL
 * (protocol §4: 2 × skew). Thread-safe. */
#ifndef TALLY_NET_RNONCE_INT_H
#define TALLY_NET_RNONCE_INT_H

#include <stdint.h>

#include "schema/status.h"

#define NET_RNONCE_MAX (1u << 20) /* entries (§10: read-nonce memory ≤ about 1,000,000) */

typedef struct net_rnonce net_rnonce;
typedef enum net_rnonce_verdict {
    NET_RNONCE_OK = 0, /* first use: remembered for ttl */
    NET_RNONCE_REUSED, /* seen within its ttl: nonce_reused */
    NET_RNONCE_FULL,   /* no room without forgetting a live entry: overloaded */
} net_rnonce_verdict;

TALLY_MUST_USE tally_status net_rnonce_new(net_rnonce **out);
void net_rnonce_free(net_rnonce *c); /* NULL is a no-op */
net_rnonce_verdict net_rnonce_use(net_rnonce *c, const uint8_t key[32], uint64_t nonce,
                                  uint64_t now_mono_ms, uint64_t ttl_ms);

#endif

/* What the abuse-control tests share (tests/net/test_abuse*.c): the hand-driven clock's start,
 * an address parser, a recorder of persistence calls, and one-line wrappers of the engine's
 * calls that assert they ran. Include after cmocka.h. */
#ifndef TALLY_TESTS_NET_ABUSE_CASES_H
#define TALLY_TESTS_NET_ABUSE_CASES_H

#include <string.h>

#include "net/abuse_int.h"

#define T0 ((uint64_t)1767225600000) /* wall clock at the start of each test, ms */
#define M0 ((uint64_t)5000000)       /* monotonic clock at the start, ms */
#define DAY_MS ((uint64_t)86400000)

static inline net_ip ip(const char *s)
{
    net_ip v;
    assert_int_equal(net_ip_parse(s, strlen(s), &v), TALLY_OK);
    return v;
}

/* Records every persistence call. */
typedef struct rec {
    int added, removed;
    net_ban last;
} rec;

static inline void persist(void *arg, const net_ban *b, bool removed)
{
    rec *r = arg;
    if (removed) {
        r->removed++;
    } else {
        r->added++;
    }
    r->last = *b;
}

static inline net_abuse *mk(net_abuse_cfg cfg)
{
    net_abuse *a;
    assert_int_equal(net_abuse_new(&cfg, &a), TALLY_OK);
    return a;
}

static inline void key_of(uint8_t k[32], uint8_t tag)
{
    memset(k, 0, 32);
    k[0] = tag;
    k[31] = 0x5a;
}

static inline net_abuse_outcome charge(net_abuse *a, net_abuse_class cls, const net_ip *from,
                                       const uint8_t *hotkey, const uint8_t *claimed,
                                       uint64_t now_ms, uint64_t mono)
{
    net_abuse_failure f = {.cls = cls,
                           .ip = from,
                           .hotkey = hotkey,
                           .claimed_key = claimed,
                           .x_reason = NET_BAN_BAD_SIGNATURE};
    net_abuse_outcome o;
    assert_int_equal(net_abuse_fail(a, &f, now_ms, mono, &o), TALLY_OK);
    return o;
}

static inline net_abuse_verdict check_ip(net_abuse *a, const net_ip *from, uint64_t now_ms,
                                         uint64_t mono)
{
    net_abuse_verdict v;
    assert_int_equal(net_abuse_check_ip(a, from, 0, now_ms, mono, &v), TALLY_OK);
    return v;
}

static inline net_abuse_verdict check_key(net_abuse *a, const uint8_t *key, const uint8_t *hotkey,
                                          uint64_t now_ms, uint64_t mono, net_abuse_resv *r)
{
    net_abuse_verdict v;
    assert_int_equal(net_abuse_check_key(a, key, hotkey, now_ms, mono, &v, r), TALLY_OK);
    return v;
}

#endif

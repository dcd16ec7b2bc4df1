/* net/ abuse engine internals shared by abuse.c (windows, checks, failures) and abuse_admin.c
 * (bans and cooldowns admin, metrics). Everything here is read and written with the handle's
 * mutex held.
 *
 * Memory layout of one failure state (the payload of an IP's or a hotkey's table entry):
 * | part              | u64 slots                       | holds                                  |
 * |-------------------|---------------------------------|----------------------------------------|
 * | net__state header | —                               | cooldown end, level, ring heads        |
 * | ring C            | cooldown_{ip,key}_failures      | monotonic ms of the last C-failures    |
 * | ring V            | fail2ban_violations (IP), 0     | the last violations                    |
 * | ring X            | critical_strikes                | the last critical failures             |
 * | ring H            | NET__HIST_MAX                   | the last cooldown starts               |
 * | key fingerprints  | cooldown_ip_distinct_keys (IP)  | SipHash of recent distinct Tally-Keys  |
 * | key last seen     | the same                        | monotonic ms each was last seen        |
 */
#ifndef TALLY_NET_ABUSE_ENG_INT_H
#define TALLY_NET_ABUSE_ENG_INT_H

#include <pthread.h>
#include <sodium.h>

#include "net/abuse_int.h"

#define NET__DS_SLOTS 10u /* 100 ms slots of the 1 s window */
#define NET__S_SLOTS 60u  /* 1 s slots of the 60 s window */
#define NET__HIST_MAX 32u /* cooldown starts remembered: d saturates long before 2^31 */

typedef struct net__win {
    uint64_t hd, hs; /* ticks (100 ms, 1 s) of the newest slots */
    bool init;
    uint16_t d[NET__DS_SLOTS], s[NET__S_SLOTS];
} net__win;

/* Failure counters of one identity. A ring of the last N event times (N = the threshold) says
 * exactly whether N events fell within a window: the oldest of them is within it. */
enum { NET__R_C = 0, NET__R_V = 1, NET__R_X = 2, NET__R_H = 3, NET__R_COUNT = 4 };
typedef struct net__rmeta {
    uint16_t n, at; /* events held; next write */
} net__rmeta;
typedef struct net__state {
    uint64_t cool_until; /* monotonic ms; cooling while now < cool_until */
    uint32_t level;
    net__rmeta r[NET__R_COUNT];
    uint16_t keys; /* distinct-key slots used */
    uint64_t ts[]; /* the rings, then key fingerprints and their last-seen times */
} net__state;

typedef struct net__layout {
    uint16_t cap[NET__R_COUNT];
    size_t off[NET__R_COUNT];
    uint64_t win_ms[NET__R_COUNT];
    uint16_t keys; /* distinct Tally-Key values tracked (IP only) */
    size_t off_kf, off_ks, payload;
} net__layout;

typedef struct net__bent {
    uint64_t until_ms, created_ms;
    uint32_t strikes;
    uint8_t reason;
    uint16_t note_len;
    char *note; /* NUL-terminated, or NULL */
} net__bent;

enum {
    NET__T_IPWIN = 0,
    NET__T_KEYWIN = 1,
    NET__T_IPST = 2,
    NET__T_HKST = 3,
    NET__T_BANS = 4,
    NET__T_COUNT = 5
};

struct net_abuse {
    pthread_mutex_t mu;
    net_abuse_limit rate[3]; /* by scope */
    uint64_t cool_initial_s, cool_max_s, cool_reset_ms;
    uint64_t ban_s;
    bool probe_ban;
    net_cidr_list exempt, trusted;
    uint8_t hkey[crypto_shorthash_KEYBYTES];
    net__tab tab[NET__T_COUNT];
    net__layout lay[2]; /* 0: IP, 1: hotkey */
    net__win global[NET_ABUSE_LISTENERS];
    net_abuse_persist_fn persist;
    void *persist_arg;
    net_abuse_stats st; /* counters only; the gauges are computed by net_abuse_stats_get */
};

/* Whole seconds, rounded up, of ms. */
uint32_t net__whole_s(uint64_t ms);
/* The ban entry of id, or NULL. */
net__bent *net__ban_find(net_abuse *a, const net_ident *id);
/* Stores b. With keep_stronger (automatic bans) an existing ban lasting at least as long wins.
 * *stored says whether anything changed; then persist is called when report is set.
 * TALLY_ENOMEM, TALLY_EFULL (counted in bans_dropped). */
TALLY_MUST_USE tally_status net__ban_put(net_abuse *a, const net_ban *b, bool keep_stronger,
                                         bool report, bool *stored);
void net__ban_view(const net_ident *id, const net__bent *e, net_ban *out);
bool net__ban_active(const net__bent *e, uint64_t now_ms);
/* The identity of a ban or state entry, from its table key (kind ‖ id). */
void net__ent_ident(const void *payload, net_ident *out);
net__state *net__state_find(net_abuse *a, const net_ident *id);
/* Forgets the C-failure ring and the distinct keys. */
void net__forget_c(net__state *s);

#endif

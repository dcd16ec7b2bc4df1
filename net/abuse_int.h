/* net/ abuse control (protocol §3 client IP, §7 rate limits, cooldowns and bans): a pure, in-memory
 * engine. No sockets, no libevent, no LMDB: the HTTP server calls it at the stages of §7.3 with
 * the times it read (a monotonic clock for windows and cooldowns, the wall clock for bans, both in
 * ms) and persists bans through the callback of the config. docs/abuse.md explains the choices.
 *
 * Thread rules: one net_abuse handle is shared by every HTTP thread. All its state sits behind one
 * mutex, held for the few hash lookups of a call; the persistence callback runs with it held.
 * The address, probe and ban-codec helpers below are pure and need no handle.
 *
 * Byte layouts defined here:
 * | what                 | bytes                                                               |
 * |----------------------|---------------------------------------------------------------------|
 * | ban key (LMDB bans)  | kind u8 (1 ip, 2 hotkey) ‖ id: 4 (IPv4), 8 (IPv6 /64 prefix) or 32  |
 * |                      |   (hotkey account id) bytes                                         |
 * | ban value            | canonical msgpack [until_ms ms (0 = permanent), reason u8 (table    |
 * |                      |   below), created_ms ms, strikes u32, note text256|nil]             |
 * | identity (net_ident) | the same kind and id; an IP's id is its v4 address or v6 /64 prefix |
 *
 * Ban reasons (values never change; names are the §8 codes that led to the ban):
 * | code | name                | set by                                                     |
 * |------|---------------------|------------------------------------------------------------|
 * | 1    | admin               | an operator (`tally ban add`, POST /admin/v1/bans)          |
 * | 2    | forbidden           | a probe request (class P)                                   |
 * | 3    | cooldown_violations | fail2ban: violations (ip_cooldown, hotkey_cooldown) by an IP |
 * | 4    | bad_signature       | the critical strike (class X) that completed the count      |
 * | 5    | key_not_registered  | idem                                                        |
 * | 6    | nonce_replay        | idem                                                        |
 */
#ifndef TALLY_NET_ABUSE_INT_H
#define TALLY_NET_ABUSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/status.h"

/* ---- addresses (net/abuse_ip.c) ---- */

#define NET_IP_V4 4
#define NET_IP_V6 6
#define NET_CIDR_LIST_MAX 1024u /* elements of one CIDR list */
#define NET_IDENT_STR_MAX 72u   /* net_ident_format output, NUL included */
#define NET_WHY_MAX 160u        /* a parse failure's sentence, NUL included */

/* An IP address. IPv4-mapped IPv6 (::ffff:a.b.c.d) is stored as IPv4. */
typedef struct net_ip {
    uint8_t family; /* NET_IP_V4 (b[0..3]) or NET_IP_V6 (b[0..15]) */
    uint8_t b[16];
} net_ip;

typedef struct net_cidr {
    net_ip net;     /* host bits are zero */
    uint8_t prefix; /* 0..32 or 0..128 */
} net_cidr;

/* An owned list; release with net_cidr_list_release(). NET_CIDR_LIST_INIT is the empty list. */
typedef struct net_cidr_list {
    net_cidr *v;
    size_t n;
} net_cidr_list;
#define NET_CIDR_LIST_INIT                                                                         \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Who is charged, rate-limited or banned. Only IPs and hotkeys are charged or banned; a key
 * identity names the Ed25519 key whose window refused a request. */
#define NET_ID_IP 1
#define NET_ID_HOTKEY 2
#define NET_ID_KEY 3
typedef struct net_ident {
    uint8_t kind; /* NET_ID_IP, NET_ID_HOTKEY or NET_ID_KEY */
    uint8_t len;  /* 4 or 8 for an IP, 32 for a hotkey or key */
    uint8_t b[32];
} net_ident;

/* Parses one address in the textual forms of inet_pton(3) (dotted quad without leading zeros; RFC
 * 4291 text without zone id or brackets), n bytes of s, no surrounding space. TALLY_EFORMAT
 * otherwise (out zeroed). */
TALLY_MUST_USE tally_status net_ip_parse(const char *s, size_t n, net_ip *out);
/* Parses a comma-separated CIDR list such as "127.0.0.0/8, ::1/128". Space and tab around an
 * element are allowed; an element without "/len" is one host (/32, /128); the whole string may be
 * empty (no elements). Refused, with TALLY_EFORMAT and a sentence naming the element in why
 * (optional, NET_WHY_MAX bytes): an empty element, a bad address, a prefix with a sign, leading
 * zero or above the family's width, host bits set below the prefix, and an IPv4-mapped prefix
 * shorter than /96. TALLY_ELIMIT over NET_CIDR_LIST_MAX elements, TALLY_ENOMEM. On success *out
 * is the caller's (net_cidr_list_release); on failure it is the empty list. */
TALLY_MUST_USE tally_status net_cidr_list_parse(const char *s, net_cidr_list *out, char *why);
void net_cidr_list_release(net_cidr_list *l); /* leaves the empty list; NULL is a no-op */
bool net_cidr_match(const net_cidr_list *l, const net_ip *ip);

/* The identity of an IP: its v4 address, or the /64 prefix of a v6 one. */
void net_ident_ip(const net_ip *ip, net_ident *out);
void net_ident_hotkey(const uint8_t acct[32], net_ident *out);
/* "ip:203.0.113.9", "ip:2001:db8:1:2::/64", "hotkey:<SS58>" or "key:<64 hex>" into out. */
void net_ident_format(const net_ident *id, char out[NET_IDENT_STR_MAX]);
/* The admin routes' `<ip|hotkey>/<id>`: kind "ip" with an IPv4 address, an IPv6 address (taken to
 * its /64) or "<v6 prefix>/64"; kind "hotkey" with SS58 or 64 lower-case hex. TALLY_EFORMAT
 * otherwise (out zeroed). */
TALLY_MUST_USE tally_status net_ident_parse(const char *kind, const char *id, net_ident *out);

/* The client IP of §3. If peer is not in trusted, it is the peer. Otherwise the X-Forwarded-For
 * values (xff[0..n_xff), each a comma list, in the order the headers arrived, read as one list)
 * are walked from the right: the first address not in trusted is the client. Entries left of it
 * are written by the client and never read, so a spoofed or malformed left-most entry changes
 * nothing. If an entry reached on that walk is malformed (empty, a port, brackets, garbage: a
 * proxy misbehaves), the result is the peer. If every entry is trusted, the left-most is taken;
 * with no entries, the peer. */
void net_client_ip(const net_ip *peer, const tally_str *xff, size_t n_xff,
                   const net_cidr_list *trusted, net_ip *out);

/* §7.2 probe detection for the ingest and ledger listeners (the ops listener never calls it, as it
 * serves /admin/v1/...). True for the methods CONNECT, TRACE, TRACK; for a target in absolute or
 * authority form (it begins with a URI scheme and ':'); for a target containing ".." (also
 * percent-encoded); and for a path (query removed, percent-decoded, ASCII case ignored) on the
 * list: "/wp-admin", "/phpmyadmin", "/actuator" as prefixes (written with a star in §7.2),
 * "/.git/" and "/cgi-bin/" as subtrees (everything below them), and the exact entries /admin,
 * /administrator, /api, /login, /wp-login.php, /xmlrpc.php, /.env, /robots.txt, /server-status,
 * each also with anything after a '/'. Never true when has_auth_headers (any Tally-* or
 * Authorization header). The caller does not ask for exempt IPs (§12 case 34: loopback gets 404
 * unknown_route, not 403 forbidden). */
bool net_abuse_is_probe(const char *method, const char *target, size_t target_len,
                        bool has_auth_headers);

/* ---- bans and their LMDB form (net/abuse_ban.c) ---- */

typedef enum net_ban_reason {
    NET_BAN_ADMIN = 1,
    NET_BAN_PROBE = 2,
    NET_BAN_VIOLATIONS = 3,
    NET_BAN_BAD_SIGNATURE = 4,
    NET_BAN_KEY_NOT_REGISTERED = 5,
    NET_BAN_NONCE_REPLAY = 6,
} net_ban_reason;
#define NET_BAN_REASON_MAX 6

#define NET_BAN_NOTE_MAX 256u  /* bytes of note text */
#define NET_BAN_KEY_MAX 33u    /* kind ‖ 32-byte hotkey */
#define NET_BAN_VALUE_MAX 300u /* the largest encoded value, with a 256-byte note */

typedef struct net_ban {
    net_ident id;
    uint64_t until_ms;               /* wall clock; 0 = permanent */
    uint8_t reason;                  /* net_ban_reason */
    uint64_t created_ms;             /* wall clock */
    uint32_t strikes;                /* failures that led to it (0 for admin bans) */
    uint16_t note_len;               /* 0: no note (nil) */
    char note[NET_BAN_NOTE_MAX + 1]; /* valid text (§2.2 rule 4), NUL-terminated */
} net_ban;

/* The static name of a reason ("admin", ...), or NULL for an unknown code. */
const char *net_ban_reason_name(uint8_t reason);
/* TALLY_OK if b can be stored: identity kind and length agree, reason known, times ≤ 2^53−1,
 * note_len ≤ 256 and valid text. TALLY_EINVAL otherwise. */
TALLY_MUST_USE tally_status net_ban_check(const net_ban *b);
/* kind ‖ id into out (NET_BAN_KEY_MAX bytes); TALLY_EINVAL for a bad identity. */
TALLY_MUST_USE tally_status net_ban_key_encode(const net_ident *id, uint8_t *out, size_t cap,
                                               size_t *n_out);
/* The canonical msgpack value into out. TALLY_EINVAL (net_ban_check), TALLY_ELIMIT if cap is too
 * small (nothing written), TALLY_ENOMEM. */
TALLY_MUST_USE tally_status net_ban_value_encode(const net_ban *b, uint8_t *out, size_t cap,
                                                 size_t *n_out);
/* Strict decode of one bans row: TALLY_EFORMAT for any key or value that is not exactly what the
 * encoders write for a valid ban (unknown kind or reason, wrong length, non-canonical msgpack,
 * trailing bytes, bad note text). On failure *out is zeroed. */
TALLY_MUST_USE tally_status net_ban_decode(const uint8_t *key, size_t key_len, const uint8_t *val,
                                           size_t val_len, net_ban *out);

/* ---- the engine (net/abuse.c; admin and metrics in net/abuse_admin.c) ---- */

#define NET_ABUSE_LISTENERS 8u           /* listener ids 0..7, named by the caller */
#define NET_ABUSE_TABLE_DEFAULT 1000000u /* entries of the (listener, IP) window table */
#define NET_ABUSE_KEYS_DEFAULT 65536u    /* key windows: only keys bound in the METAGRAPH */
#define NET_ABUSE_STATE_DEFAULT 100000u  /* entries of each failure-state table, and of bans */
#define NET_ABUSE_THRESHOLD_MAX 1024u    /* any count threshold of the config */
#define NET_ABUSE_DETAIL_MAX 256u

typedef struct net_abuse net_abuse; /* opaque; one per node, shared by all HTTP threads */

typedef struct net_abuse_limit {
    uint32_t per_s, per_min; /* 1..65535; 0 picks the §9.4 default */
} net_abuse_limit;

/* Called for each ban added or removed by the engine or an admin call (not by
 * net_abuse_ban_load), with the handle's mutex held: it must not block (queue the LMDB write)
 * and must not call the handle. b is borrowed for the call. */
typedef void (*net_abuse_persist_fn)(void *arg, const net_ban *b, bool removed);

/* Every field has the §9.4 default when zero or NULL. */
typedef struct net_abuse_cfg {
    net_abuse_limit rate_key, rate_ip, rate_global;                  /* 10/120, 50/500, 200/5000 */
    uint32_t cooldown_initial_s, cooldown_max_s, cooldown_reset_s;   /* 30, 3600, 86400 */
    uint32_t cooldown_key_failures, cooldown_key_window_s;           /* 10, 60 */
    uint32_t cooldown_ip_failures, cooldown_ip_window_s;             /* 50, 300 */
    uint32_t cooldown_ip_distinct_keys;                              /* 5 */
    uint32_t fail2ban_violations, fail2ban_window_s, fail2ban_ban_s; /* 20, 3600, 86400 */
    uint32_t critical_strikes, critical_window_s;                    /* 3, 86400 */
    bool no_probe_ban;           /* TALLY_PROBE_BAN=0: probes are answered but not banned */
    const char *exempt;          /* TALLY_ABUSE_EXEMPT; NULL: "127.0.0.0/8,::1/128"; "": none */
    const char *trusted_proxies; /* TALLY_TRUSTED_PROXIES; NULL or "": none */
    size_t max_ips;              /* (listener, IP) rate windows; 0: NET_ABUSE_TABLE_DEFAULT */
    size_t max_keys;             /* key rate windows; 0: NET_ABUSE_KEYS_DEFAULT */
    size_t max_states; /* IPs, and hotkeys, with failure counters; 0: NET_ABUSE_STATE_DEFAULT */
    size_t max_bans;   /* bans held; 0: NET_ABUSE_STATE_DEFAULT */
    net_abuse_persist_fn persist; /* optional */
    void *persist_arg;
    char *detail; /* optional, NET_ABUSE_DETAIL_MAX bytes: why net_abuse_new failed */
} net_abuse_cfg;

/* Makes an engine. Needs sodium_init() done (a random key for the table hashes). TALLY_EINVAL for
 * a limit or threshold out of range (cooldown_initial_s > cooldown_max_s, a threshold above
 * NET_ABUSE_THRESHOLD_MAX, a rate limit above 65535, per_s > per_min), TALLY_EFORMAT for a bad
 * CIDR list (detail names the setting and element), TALLY_ENOMEM. *out is the caller's. */
TALLY_MUST_USE tally_status net_abuse_new(const net_abuse_cfg *cfg, net_abuse **out);
void net_abuse_free(net_abuse *a); /* NULL is a no-op */

/* The trusted-proxy list the handle was made with (for net_client_ip); valid for its life. */
const net_cidr_list *net_abuse_trusted(const net_abuse *a);
bool net_abuse_exempt(const net_abuse *a, const net_ip *ip);

typedef enum net_abuse_result {
    NET_ABUSE_UNSET = 0, /* a zeroed verdict never admits */
    NET_ABUSE_OK = 1,
    NET_ABUSE_BANNED,       /* 403 ip_blacklisted / hotkey_blacklisted */
    NET_ABUSE_COOLING,      /* 429 ip_cooldown / hotkey_cooldown */
    NET_ABUSE_RATE_LIMITED, /* 429 rate_limited (key or IP window) */
    NET_ABUSE_OVERLOADED,   /* 503 overloaded (the listener's global window) */
} net_abuse_result;

typedef enum net_abuse_scope {
    NET_SCOPE_KEY = 0,
    NET_SCOPE_IP = 1,
    NET_SCOPE_GLOBAL = 2
} net_abuse_scope;
typedef enum net_abuse_window { NET_WINDOW_1S = 0, NET_WINDOW_60S = 1 } net_abuse_window;

/* What the X-RateLimit-* headers need, for one scope. */
typedef struct net_abuse_rate {
    uint32_t limit;     /* X-RateLimit-Limit: the scope's per-minute limit */
    uint32_t remaining; /* X-RateLimit-Remaining: after this request, the smaller of both windows */
    uint32_t reset_s;   /* X-RateLimit-Reset: whole seconds until that window's oldest counted
                           slot frees (0 when it counts nothing) */
} net_abuse_rate;

typedef struct net_abuse_verdict {
    net_abuse_result result;
    net_ident who;          /* the identity refused (ip, hotkey, or key for its window); for
                               OK, the IP (check_ip) or the key (check_key) */
    uint64_t expires_ms;    /* BANNED: wall-clock end, 0 = permanent */
    uint32_t retry_after_s; /* COOLING: remaining seconds; RATE_LIMITED, OVERLOADED: Retry-After;
                               whole seconds, ≥ 1 */
    net_abuse_scope scope;  /* RATE_LIMITED, OVERLOADED: which window refused */
    net_abuse_window window;
    net_abuse_rate rate; /* the IP scope (check_ip) or key scope (check_key), when counted */
} net_abuse_verdict;

/* Stage 2: is the IP's identity banned at now_ms? result BANNED (who, expires_ms) or OK. Exempt
 * IPs are never banned, whatever the table holds. */
TALLY_MUST_USE tally_status net_abuse_check_ban(net_abuse *a, const net_ip *ip, uint64_t now_ms,
                                                net_abuse_verdict *out);
/* Stages 2, 4 and 5 in order: ban (again, so a ban decided meanwhile counts), the listener's
 * global window, the IP's cooldown, the IP's window on that listener. Each window counts the
 * request only if it admits it. The caller runs stage 3 (and probe detection) between
 * net_abuse_check_ban and this call. Nothing is charged here: the caller reports the class of its
 * refusal (V for COOLING, C for RATE_LIMITED) through net_abuse_fail, as for every §8 code.
 * TALLY_EINVAL for listener ≥ NET_ABUSE_LISTENERS; TALLY_ENOMEM (answer 503). On failure the
 * verdict is zeroed (UNSET). */
TALLY_MUST_USE tally_status net_abuse_check_ip(net_abuse *a, const net_ip *ip, unsigned listener,
                                               uint64_t now_ms, uint64_t now_mono_ms,
                                               net_abuse_verdict *out);

/* A slot of a key window held for a request whose signature is not verified yet. */
typedef struct net_abuse_resv {
    uint8_t key[32];
    uint64_t mono_ms;
    bool held;
} net_abuse_resv;

/* Stage 7 once the caller has found the hotkey bound to key (hotkey may be NULL when there is
 * none to check): hotkey banned, hotkey cooldown, then the key window, which reserves a slot on
 * OK (*resv held). After the signature check the caller calls net_abuse_key_commit (verified) or
 * net_abuse_key_release (failed), which gives the slot back. TALLY_ENOMEM; on failure the verdict
 * is zeroed and *resv not held. */
TALLY_MUST_USE tally_status net_abuse_check_key(net_abuse *a, const uint8_t key[32],
                                                const uint8_t *hotkey, uint64_t now_ms,
                                                uint64_t now_mono_ms, net_abuse_verdict *out,
                                                net_abuse_resv *resv);
void net_abuse_key_commit(net_abuse *a, net_abuse_resv *resv);
/* Uncounts the reserved request, if its slot is still in the windows. Idempotent. */
void net_abuse_key_release(net_abuse *a, net_abuse_resv *resv);

typedef enum net_abuse_class {
    NET_CLASS_C = 0, /* counts toward cooldown */
    NET_CLASS_V = 1, /* cooldown violation (also a C) */
    NET_CLASS_X = 2, /* critical (also a C) */
    NET_CLASS_P = 3, /* probe */
} net_abuse_class;

typedef struct net_abuse_failure {
    net_abuse_class cls;
    const net_ip *ip;           /* the client IP (§3); always charged unless exempt */
    const uint8_t *hotkey;      /* acct, only if the signature or token was verified; else NULL */
    const uint8_t *claimed_key; /* the Tally-Key sent (32 bytes), verified or not; NULL if none */
    net_ban_reason x_reason;    /* X: NET_BAN_BAD_SIGNATURE, _KEY_NOT_REGISTERED, _NONCE_REPLAY */
} net_abuse_failure;

/* What a failure set off, for the cooldown_started and ban_added log lines. */
typedef struct net_abuse_outcome {
    uint32_t ip_cooldown_s, hotkey_cooldown_s; /* > 0: a cooldown of that length started */
    uint32_t ip_level, hotkey_level;           /* its c: cooldowns in the last reset window */
    bool ip_banned, hotkey_banned;             /* a ban was added (and persisted) */
    uint64_t ip_ban_until_ms, hotkey_ban_until_ms;
} net_abuse_outcome;

/* Charges one failure (§7.2) at the given times: counters, cooldowns, fail2ban, critical strikes,
 * probe bans. The IP is charged unless exempt, the hotkey when given (not for P). TALLY_EINVAL for
 * a bad class, a NULL ip or, for X, another x_reason (nothing charged). TALLY_ENOMEM (a failure
 * state could not be made: that identity's counters miss this failure) and TALLY_EFULL (a ban was
 * due but max_bans bans are held: counted in bans_dropped) report what could not be done; the
 * rest was applied. out may be NULL. */
TALLY_MUST_USE tally_status net_abuse_fail(net_abuse *a, const net_abuse_failure *f,
                                           uint64_t now_ms, uint64_t now_mono_ms,
                                           net_abuse_outcome *out);

/* ---- admin: bans and cooldowns ---- */

/* The loader's call at startup, for each decoded row: no persistence callback. A ban of the same
 * identity is replaced. TALLY_EINVAL (net_ban_check), TALLY_EFULL over max_bans, TALLY_ENOMEM. */
TALLY_MUST_USE tally_status net_abuse_ban_load(net_abuse *a, const net_ban *b);
/* An operator's ban: as load, then reported to persist. */
TALLY_MUST_USE tally_status net_abuse_ban_add(net_abuse *a, const net_ban *b);
/* TALLY_ENOTFOUND if id has no ban; else removed and reported (removed = true). */
TALLY_MUST_USE tally_status net_abuse_ban_remove(net_abuse *a, const net_ident *id);
/* The ban of id, expired or not. TALLY_ENOTFOUND (out zeroed). */
TALLY_MUST_USE tally_status net_abuse_ban_get(net_abuse *a, const net_ident *id, net_ban *out);
/* Every ban held, in no particular order, as an array the caller free()s (NULL when empty).
 * TALLY_ENOMEM. */
TALLY_MUST_USE tally_status net_abuse_bans_list(net_abuse *a, net_ban **out, size_t *n_out);
/* Removes bans with 0 < until_ms ≤ now_ms, reporting each; *n_out (optional) how many. */
void net_abuse_bans_purge(net_abuse *a, uint64_t now_ms, size_t *n_out);

typedef struct net_abuse_cooldown {
    net_ident id;
    uint32_t remaining_s; /* whole seconds, ≥ 1 */
    uint32_t level;       /* c of the cooldown in progress */
} net_abuse_cooldown;
/* Active cooldowns as an array the caller free()s (NULL when empty). TALLY_ENOMEM. */
TALLY_MUST_USE tally_status net_abuse_cooldowns_list(net_abuse *a, uint64_t now_mono_ms,
                                                     net_abuse_cooldown **out, size_t *n_out);
/* Ends id's cooldown and forgets its C-failure counters and escalation history (violations and
 * critical strikes stay). TALLY_ENOTFOUND if id is not cooling down. */
TALLY_MUST_USE tally_status net_abuse_cooldown_clear(net_abuse *a, const net_ident *id,
                                                     uint64_t now_mono_ms);

/* ---- metrics (§9.2) ---- */

typedef struct net_abuse_stats {
    uint64_t rate_limited[3][2];  /* [scope][window]: refusals, tally_rate_limited_total */
    uint64_t failures[4][2];      /* [class][0 ip, 1 hotkey]: tally_abuse_failures_total */
    uint64_t cooldowns_active[2]; /* [0 ip, 1 hotkey] */
    uint64_t bans_active[2][2];   /* [0 ip, 1 hotkey][0 24h (temporary), 1 permanent] */
    uint64_t entries[5];          /* ip windows, key windows, ip states, hotkey states, bans */
    uint64_t evictions[4];        /* idle entries dropped to stay under a cap (same order) */
    uint64_t bans_dropped;        /* bans not held because max_bans was reached */
} net_abuse_stats;
void net_abuse_stats_get(net_abuse *a, uint64_t now_ms, uint64_t now_mono_ms, net_abuse_stats *out);

/* ---- module-private: the bounded tables (net/abuse_tab.c) ---- */

#define NET__KEY_MAX 34u /* listener or kind ‖ up to 32 id bytes ‖ spare */

/* A hash table of fixed-size entries with a hard cap. Every lookup moves its entry to the front of
 * a recency list; at the cap, inserting reuses the least recently used entry (the most idle), or
 * fails with TALLY_EFULL when the table was made without eviction. Buckets double up to the cap,
 * and SipHash with a per-handle random key keeps chains short under chosen keys. */
typedef struct net__ent {
    struct net__ent *hnext, *prev, *next;
    uint64_t hash;
    uint8_t klen;
    uint8_t key[NET__KEY_MAX];
} net__ent;

typedef struct net__tab {
    net__ent **b;
    size_t nb, nb_max, n, cap, payload;
    bool evict;
    net__ent *head, *tail; /* most and least recently used */
    uint64_t evictions;
    const uint8_t *hkey; /* crypto_shorthash key, owned by the engine */
} net__tab;

TALLY_MUST_USE tally_status net__tab_init(net__tab *t, size_t cap, size_t payload, bool evict,
                                          const uint8_t *hkey);
void net__tab_release(net__tab *t);
/* The payload of key's entry, or NULL. With create, a missing entry is made with a zeroed
 * payload (*fresh true); status TALLY_EFULL or TALLY_ENOMEM then leave *out NULL. */
TALLY_MUST_USE tally_status net__tab_get(net__tab *t, const uint8_t *key, size_t klen, bool create,
                                         void **out, bool *fresh);
void net__tab_del(net__tab *t, void *payload);
/* The entry behind a payload (its key). */
const net__ent *net__tab_ent(const void *payload);
/* Walks from the most to the least recently used; fn may delete the entry it is given. */
void net__tab_each(net__tab *t, void (*fn)(void *arg, void *payload), void *arg);

#endif

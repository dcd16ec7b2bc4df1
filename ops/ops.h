/* ops/: the operational pieces the node server (net/) and the auditor server (auditor/) share:
 * configuration (protocol §9.4), JSON log lines (§9.3), a Prometheus registry (§9.2) and a
 * clock that tests can drive. It uses only schema/status.h, so both servers can sit on top. */
#ifndef TALLY_OPS_OPS_H
#define TALLY_OPS_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/status.h"

/* Receives output piece by piece (rendered metrics, generated docs). */
typedef void (*ops_emit_fn)(const char *p, size_t n, void *arg);

/* ======================================= clock ======================================= */

/* The wall clock (ms since the Unix epoch) and the monotonic clock (ns from an arbitrary start).
 * A real clock reads the operating system. A manual clock (tests, TALLY_CLOCK=manual) changes
 * only through ops_clock_set_wall_ms() and ops_clock_advance_ms(). Reads and changes may come
 * from any thread at once. */
typedef struct ops_clock ops_clock;

typedef enum ops_clock_mode {
    OPS_CLOCK_REAL,
    OPS_CLOCK_MANUAL,
} ops_clock_mode;

/* A new clock. wall_ms is the manual clock's starting wall time (ignored by a real clock); its
 * monotonic clock starts at 0. On TALLY_OK *out belongs to the caller (ops_clock_free()); also
 * TALLY_ENOMEM, and TALLY_EINVAL for a negative wall_ms. */
TALLY_MUST_USE tally_status ops_clock_new(ops_clock_mode mode, int64_t wall_ms, ops_clock **out);
void ops_clock_free(ops_clock *c); /* NULL is a no-op */
ops_clock_mode ops_clock_get_mode(const ops_clock *c);
int64_t ops_clock_wall_ms(const ops_clock *c);
uint64_t ops_clock_mono_ns(const ops_clock *c);
/* Sets the manual wall clock (it may step backwards, as a real one can; the monotonic clock
 * does not move). TALLY_EINVAL on a real clock or for a negative ms. */
TALLY_MUST_USE tally_status ops_clock_set_wall_ms(ops_clock *c, int64_t ms);
/* Moves both manual clocks forward by ms ≥ 0. TALLY_EINVAL on a real clock. */
TALLY_MUST_USE tally_status ops_clock_advance_ms(ops_clock *c, int64_t ms);
/* ops_clock_wall_ms() shaped as the log's now_ms callback: pass the clock as its arg. */
int64_t ops_clock_now_ms_cb(void *clock);

/* =================================== configuration =================================== */

/* Every TALLY_* variable, in the order of protocol §9.4's table (ops/config_table.c). */
typedef enum ops_key {
    OPS_K_DATA_DIR,
    OPS_K_KEY_FILE,
    OPS_K_ADMIN_TOKEN_FILE,
    OPS_K_INGEST_LISTEN,
    OPS_K_LEDGER_LISTEN,
    OPS_K_OPS_LISTEN,
    OPS_K_HTTP_THREADS,
    OPS_K_MAX_CONNECTIONS,
    OPS_K_MAX_CONNECTIONS_PER_IP,
    OPS_K_READ_TIMEOUT_S,
    OPS_K_WRITE_TIMEOUT_S,
    OPS_K_IDLE_TIMEOUT_S,
    OPS_K_COMMIT_TIMEOUT_S,
    OPS_K_MAX_BODY_INGEST,
    OPS_K_LMDB_MAP_SIZE,
    OPS_K_COMMIT_WINDOW_MS,
    OPS_K_COMMIT_MAX_RECORDS,
    OPS_K_WRITER_QUEUE,
    OPS_K_TRUSTED_PROXIES,
    OPS_K_ABUSE_EXEMPT,
    OPS_K_RATE_KEY_PER_S,
    OPS_K_RATE_KEY_PER_MIN,
    OPS_K_RATE_IP_PER_S,
    OPS_K_RATE_IP_PER_MIN,
    OPS_K_RATE_GLOBAL_PER_S,
    OPS_K_RATE_GLOBAL_PER_MIN,
    OPS_K_COOLDOWN_INITIAL_S,
    OPS_K_COOLDOWN_MAX_S,
    OPS_K_COOLDOWN_RESET_S,
    OPS_K_COOLDOWN_KEY_FAILURES,
    OPS_K_COOLDOWN_KEY_WINDOW_S,
    OPS_K_COOLDOWN_IP_FAILURES,
    OPS_K_COOLDOWN_IP_WINDOW_S,
    OPS_K_COOLDOWN_IP_DISTINCT_KEYS,
    OPS_K_FAIL2BAN_VIOLATIONS,
    OPS_K_FAIL2BAN_WINDOW_S,
    OPS_K_FAIL2BAN_BAN_S,
    OPS_K_CRITICAL_STRIKES,
    OPS_K_CRITICAL_WINDOW_S,
    OPS_K_PROBE_BAN,
    OPS_K_AUTH_MAX_SKEW_S,
    OPS_K_TOKEN_TTL_S,
    OPS_K_MAX_TOKENS,
    OPS_K_CHALLENGE_TTL_S,
    OPS_K_MAX_CHALLENGES,
    OPS_K_METAGRAPH_MAX_AGE_S,
    OPS_K_CYCLE_INTERVAL_S,
    OPS_K_START_REPLAY,
    OPS_K_SHUTDOWN_GRACE_S,
    OPS_K_ZSTD_LEVEL,
    OPS_K_TILE_CACHE_MB,
    OPS_K_LOG_LEVEL,
    OPS_K_LOG_ACCESS,
    OPS_K_AUDIT_PRIMARY_URL,
    OPS_K_AUDIT_ORIGIN,
    OPS_K_AUDIT_PRIMARY_KEY,
    OPS_K_AUDIT_KEY_FILE,
    OPS_K_AUDIT_DATA_DIR,
    OPS_K_AUDIT_POLL_S,
    OPS_K_AUDIT_MAX_RECOMPUTE_DAY,
    OPS_K_AUDIT_MAX_RECOMPUTE_WEEK,
    OPS_K_AUDIT_BOOTSTRAP,
    /* not in §9.4's table */
    OPS_K_AUDIT_OPS_LISTEN,
    OPS_K_AUDIT_PEERS,
    OPS_K_AUDIT_VERIFY_THREADS,
    OPS_K_AUDIT_SIGNATURES,
    OPS_K_AUDIT_DELTA_RECORDS,
    OPS_K_AUDIT_ACCEPT_PAUSED,
    OPS_K_CONFIG,
    OPS_K_CLOCK,
    OPS_K_CLOCK_START_MS,
    OPS_K_COUNT
} ops_key;

typedef enum ops_kind {
    OPS_KIND_UINT,   /* decimal, no sign, no leading zero, min..max */
    OPS_KIND_BOOL,   /* 0 or 1 */
    OPS_KIND_STRING, /* printable UTF-8: no control characters */
    OPS_KIND_PATH,   /* absolute path */
    OPS_KIND_LISTEN, /* a.b.c.d:port, [v6]:port or localhost:port (ops_hostport_parse) */
    OPS_KIND_CIDRS,  /* comma-separated addr/len list, maybe empty (ops_cidr_list_parse) */
    OPS_KIND_ENUM,   /* one of the row's choices; the value is its index */
    OPS_KIND_URL,    /* http:// or https:// with a host */
    OPS_KIND_NODEKEY, /* a node's verifier key string (`tally key`), or 64 lower-case hex */
} ops_kind;

/* Which servers read a key (bits). */
enum {
    OPS_ROLE_NODE = 1,  /* tally serve */
    OPS_ROLE_AUDIT = 2, /* tally audit */
};

/* One row of the configuration table: it drives defaults, parsing, validation, the --check
 * dump, the reload check and docs/configuration.md. */
typedef struct ops_keydef {
    const char *name; /* "TALLY_HTTP_THREADS" */
    ops_kind kind;
    uint64_t min, max;          /* OPS_KIND_UINT only */
    const char *const *choices; /* OPS_KIND_ENUM only, NULL-terminated */
    const char *def;            /* the default, as text; "" means unset */
    bool reload;                /* SIGHUP may change it */
    unsigned roles;             /* OPS_ROLE_* bits: who reads it */
    unsigned required;          /* OPS_ROLE_* bits: who refuses to start without it */
    const char *help;           /* one line */
} ops_keydef;

/* Where a value came from, lowest first. */
typedef enum ops_source {
    OPS_SRC_DEFAULT,
    OPS_SRC_FILE,
    OPS_SRC_ENV,
    OPS_SRC_FLAG,
} ops_source;

#define OPS_CONFIG_DEFAULT_FILE "/etc/tally/tally.env"
#define OPS_CONFIG_VALUE_MAX 4096u     /* bytes in one value */
#define OPS_CONFIG_FILE_MAX (1u << 20) /* bytes in the config file */

/* The row of k (k < OPS_K_COUNT). */
const ops_keydef *ops_config_def(ops_key k);
/* The key named name[0..n), or -1. */
int ops_config_find(const char *name, size_t n);
const char *ops_source_str(ops_source s); /* "default", "file", "environment", "command line" */

/* The sources of one load. Each list is NULL-terminated "KEY=value" strings, and may be NULL. */
typedef struct ops_config_src {
    /* Command-line flags as TALLY_ keys (--config FILE is TALLY_CONFIG=FILE); every entry must
     * name a known TALLY_ key. */
    const char *const *overrides;
    /* environ-style; entries not starting with TALLY_ are ignored, and so are the few TALLY_
     * names of other tools (ops_config_foreign()). */
    const char *const *env;
    /* The file used when TALLY_CONFIG is not set (NULL: OPS_CONFIG_DEFAULT_FILE). Only this
     * default may be absent; a file named by TALLY_CONFIG must exist. */
    const char *default_file;
} ops_config_src;

/* The values in effect: immutable once loaded, so any number of threads may read one. */
typedef struct ops_config ops_config;

/* Loads flags over environment over file over defaults, validating every value of every source
 * (an overridden bad value is still an error). On TALLY_OK *out belongs to the caller
 * (ops_config_free()). On failure *out is NULL and err (NUL-terminated, truncated to errcap)
 * names the key and its source, e.g. "TALLY_HTTP_THREADS=0: must be 1..64 (environment)":
 * TALLY_EINVAL (a bad or unknown key or value, a key twice in one source), TALLY_EFORMAT (a line
 * of the file that is not KEY=value, with file:line), TALLY_ENOTFOUND (a named config file is
 * absent), TALLY_EIO (it cannot be read), TALLY_ELIMIT (over OPS_CONFIG_FILE_MAX or a value over
 * OPS_CONFIG_VALUE_MAX), TALLY_ENOMEM. */
TALLY_MUST_USE tally_status ops_config_load(const ops_config_src *src, ops_config **out, char *err,
                                            size_t errcap);
void ops_config_free(ops_config *cfg); /* NULL is a no-op */

/* Typed reads; each asserts that k has the kind it reads. */
uint64_t ops_config_u64(const ops_config *cfg, ops_key k); /* UINT, BOOL (0/1), ENUM (index) */
bool ops_config_bool(const ops_config *cfg, ops_key k);    /* BOOL */
/* The text of any key ("" when unset); borrowed until ops_config_free(cfg). */
const char *ops_config_str(const ops_config *cfg, ops_key k);
ops_source ops_config_source(const ops_config *cfg, ops_key k);
/* The config file this load read, or NULL if the default file was absent. Borrowed likewise. */
const char *ops_config_file(const ops_config *cfg);

/* TALLY_EINVAL naming the first key required by role (OPS_ROLE_*) that is unset. */
TALLY_MUST_USE tally_status ops_config_require(const ops_config *cfg, unsigned role, char *err,
                                               size_t errcap);

/* Loads the sources again for SIGHUP. If a key whose row says reload = false would change, the
 * reload is refused with TALLY_ECONFLICT naming the first such key, old and new value (the
 * caller keeps running on old and logs err); otherwise the same as ops_config_load(). old is
 * not changed; on TALLY_OK the caller swaps to *out and frees old when no thread reads it. */
TALLY_MUST_USE tally_status ops_config_reload(const ops_config *old, const ops_config_src *src,
                                              ops_config **out, char *err, size_t errcap);

/* Calls fn for each key whose text differs between a and b, in table order; returns how many. */
size_t ops_config_diff(const ops_config *a, const ops_config *b,
                       void (*fn)(ops_key k, const char *was, const char *now, void *arg),
                       void *arg);
/* Calls fn for every key in table order (`tally serve --check`). The config holds no secrets,
 * only the paths of key files, so everything is shown. */
void ops_config_dump(const ops_config *cfg,
                     void (*fn)(const ops_keydef *def, const char *value, ops_source src,
                                void *arg),
                     void *arg);
/* TALLY_ names that belong to other tools (the test harness, the offline CLI), which a load
 * ignores; NULL-terminated. */
const char *const *ops_config_foreign(void);
/* Emits docs/configuration.md (a test keeps the checked-in file equal to this). */
void ops_config_doc(ops_emit_fn fn, void *arg);

/* A listen address. */
typedef enum ops_family {
    OPS_AF_INET4 = 4,
    OPS_AF_INET6 = 6,
} ops_family;

typedef struct ops_hostport {
    ops_family family;
    char addr[46]; /* numeric, without brackets: "0.0.0.0", "::1"; localhost gives 127.0.0.1 */
    uint16_t port; /* 0: the kernel picks one (tests) */
} ops_hostport;

/* Parses "a.b.c.d:port", "[v6]:port" or "localhost:port" (no other names: listening never waits
 * for DNS). TALLY_EINVAL with a reason in err for anything else. */
TALLY_MUST_USE tally_status ops_hostport_parse(const char *s, ops_hostport *out, char *err,
                                               size_t errcap);

typedef struct ops_cidr {
    ops_family family;
    uint8_t addr[16]; /* network byte order; an IPv4 net uses the first 4 bytes */
    uint8_t len;      /* prefix length: ≤ 32 for IPv4, ≤ 128 for IPv6 */
} ops_cidr;

#define OPS_CIDR_LIST_MAX 64u

/* Parses a comma-separated list of addr/len (no spaces, no empty items, no host bits set below
 * the prefix; "" is the empty list) into out[0..*n). TALLY_EINVAL with the bad item in err,
 * TALLY_ELIMIT past cap items (cap ≤ OPS_CIDR_LIST_MAX is what the config accepts). */
TALLY_MUST_USE tally_status ops_cidr_list_parse(const char *s, ops_cidr *out, size_t cap, size_t *n,
                                                char *err, size_t errcap);
/* Whether addr (4 or 16 bytes, family) falls inside c. */
bool ops_cidr_match(const ops_cidr *c, ops_family family, const uint8_t *addr);

/* The parsed value of a host:port key, and of a CIDR-list key into out[OPS_CIDR_LIST_MAX]
 * (returning the count): both were validated at load, so neither can fail. */
ops_hostport ops_config_listen(const ops_config *cfg, ops_key k);
size_t ops_config_cidrs(const ops_config *cfg, ops_key k, ops_cidr *out);

/* ======================================== logs ======================================= */

typedef enum ops_level {
    OPS_DEBUG,
    OPS_INFO,
    OPS_WARN,
    OPS_ERROR,
} ops_level;

/* "debug", "info", "warn", "error" (the TALLY_LOG_LEVEL choices, in this order). */
const char *ops_level_str(ops_level l);
TALLY_MUST_USE tally_status ops_level_parse(const char *s, ops_level *out); /* TALLY_EINVAL */

#define OPS_LOG_LINE_MAX 8192u /* bytes in one line, newline included */

typedef struct ops_log_cfg {
    int fd;          /* where lines go; 0 picks 2 (stderr): a log never writes to stdin */
    ops_level level; /* lines below it are dropped */
    /* The wall clock in ms; NULL reads the real clock. Tests pass ops_clock_now_ms_cb. */
    int64_t (*now_ms)(void *arg);
    void *now_arg;
} ops_log_cfg;

/* A log handle. Any number of threads may log through one at once: each line is built on the
 * stack and written by one write(2) under a mutex, so lines never interleave. The fd is not
 * owned. */
typedef struct ops_log ops_log;

TALLY_MUST_USE tally_status ops_log_new(const ops_log_cfg *cfg, ops_log **out); /* ENOMEM */
void ops_log_free(ops_log *log);                       /* NULL is a no-op */
void ops_log_set_level(ops_log *log, ops_level level); /* SIGHUP: TALLY_LOG_LEVEL */
bool ops_log_enabled(const ops_log *log, ops_level level);
/* Lines that could not be written (a failed or short write): counted, never fatal. */
uint64_t ops_log_failures(const ops_log *log);

typedef enum ops_ftype {
    OPS_FT_STR,  /* NUL-terminated; NULL is logged as null */
    OPS_FT_STRV, /* a tally_str view */
    OPS_FT_INT,
    OPS_FT_UINT,
    OPS_FT_BOOL,
    OPS_FT_HEX, /* bytes, logged as lower-case hex */
} ops_ftype;

/* One caller field of a line. Keys are snake_case literals other than ts, level, event and
 * component (asserted). Build them with the OPS_F* macros. */
typedef struct ops_field {
    const char *key;
    ops_ftype type;
    union {
        const char *s;
        tally_str sv;
        int64_t i;
        uint64_t u;
        bool b;
        tally_bytes hex;
    } v;
} ops_field;

#define OPS_FS(k, x) ((ops_field){.key = (k), .type = OPS_FT_STR, .v.s = (x)})
#define OPS_FSV(k, x) ((ops_field){.key = (k), .type = OPS_FT_STRV, .v.sv = (x)})
#define OPS_FI(k, x) ((ops_field){.key = (k), .type = OPS_FT_INT, .v.i = (int64_t)(x)})
#define OPS_FU(k, x) ((ops_field){.key = (k), .type = OPS_FT_UINT, .v.u = (uint64_t)(x)})
#define OPS_FB(k, x) ((ops_field){.key = (k), .type = OPS_FT_BOOL, .v.b = (x)})
#define OPS_FH(k, p_, n_)                                                                          \
    ((ops_field){.key = (k), .type = OPS_FT_HEX, .v.hex = {.p = (p_), .n = (n_)}})

/* Writes one line {"ts","level","event","component",fields...} if level passes the threshold.
 * Strings are escaped for JSON and invalid UTF-8 becomes U+FFFD, so every line parses;
 * integers beyond ±(2^53 − 1) are written as decimal strings, as in all of tally's JSON. A line
 * that would pass OPS_LOG_LINE_MAX keeps the fields that fit and ends with "truncated":true.
 * Never fails: a write error is counted (ops_log_failures()). */
void ops_log_event(ops_log *log, ops_level level, const char *component, const char *event,
                   const ops_field *fields, size_t n);
/* ops_log_event with fields given inline: OPS_LOG(log, OPS_INFO, "net", "startup",
 * OPS_FS("version", v), OPS_FI("pid", pid)); at least one field. */
#define OPS_LOG(log, level, component, event, ...)                                                 \
    ops_log_event((log), (level), (component), (event), (const ops_field[]){__VA_ARGS__},          \
                  sizeof((const ops_field[]){__VA_ARGS__}) / sizeof(ops_field))

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds, "2026-12-03T17:04:05.123Z",
 * into out[25] (NUL included). Negative times print as the epoch. */
void ops_rfc3339_ms(int64_t ms, char out[25]);

/* ====================================== metrics ====================================== */

typedef enum ops_mtype {
    OPS_COUNTER,
    OPS_GAUGE,
    OPS_HISTOGRAM,
} ops_mtype;

#define OPS_METRIC_LABELS_MAX 4u
#define OPS_METRIC_LABEL_VALUE_MAX 128u /* bytes; longer values are cut at a UTF-8 boundary */
#define OPS_METRIC_SERIES_DEFAULT 256u
#define OPS_METRIC_BUCKETS_MAX 32u
#define OPS_METRIC_OVERFLOW "_overflow" /* every label of the series past the cap */

/* Durations in seconds, 0.0005 … 10 (the histogram default). */
extern const double ops_buckets_seconds[14];

/* One metric of a registry; a server keeps one static table of them. */
typedef struct ops_metric_def {
    const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]* */
    const char *help;
    ops_mtype type;
    const char *const *labels; /* NULL-terminated, ≤ OPS_METRIC_LABELS_MAX; NULL for none */
    const double *buckets;     /* histograms: strictly increasing; NULL: ops_buckets_seconds */
    size_t nbuckets;           /* ≤ OPS_METRIC_BUCKETS_MAX, +Inf implied */
    /* Distinct label-value sets kept (0: OPS_METRIC_SERIES_DEFAULT). Past it, updates go to
     * one series whose labels are all OPS_METRIC_OVERFLOW, so outside input cannot grow
     * memory. Callers still map unknown routes to a fixed value such as "unknown". */
    size_t max_series;
} ops_metric_def;

/* The metrics of protocol §9.2, as two tables (ops/metrics_table.c) whose ids are these enums:
 * pass ops_metrics_node_defs() or ops_metrics_audit_defs() to ops_metrics_new(). Label values
 * come from fixed sets (route templates, error codes, record types), so the caps only guard
 * against a bug or a new route; unknown routes should be reported as "unknown". */
typedef enum ops_metric_id {
    OPS_M_BUILD_INFO,        /* {version, commit} = 1 */
    OPS_M_HTTP_REQUESTS,     /* {listener, route, method, status} */
    OPS_M_HTTP_DURATION,     /* {listener, route}, seconds */
    OPS_M_HTTP_INFLIGHT,     /* {listener} */
    OPS_M_HTTP_CONNECTIONS,  /* {listener} */
    OPS_M_HTTP_ERRORS,       /* {listener, error} */
    OPS_M_INGEST_ITEMS,      /* {type, result} */
    OPS_M_INGEST_REJECTIONS, /* {type, error} */
    OPS_M_SIG_VERIFICATIONS, /* {kind = request|item|login, result} */
    OPS_M_LOG_SIZE_RECORDS,
    OPS_M_LOG_BYTES,
    OPS_M_WRITER_QUEUE_DEPTH,
    OPS_M_STH_TREE_SIZE,
    OPS_M_STH_TIMESTAMP,    /* seconds since the epoch */
    OPS_M_LMDB_MAP_SIZE,    /* bytes */
    OPS_M_LMDB_USED,        /* bytes */
    OPS_M_LOG_APPENDS,      /* {type} */
    OPS_M_COMMIT_RECORDS,   /* histogram of records per commit */
    OPS_M_COMMIT_DURATION,  /* seconds */
    OPS_M_APPEND_ACK,       /* seconds from enqueue to acknowledgement */
    OPS_M_RATE_LIMITED,     /* {scope = key|ip|global, window} */
    OPS_M_ABUSE_FAILURES,   /* {class = C|V|X|P, identity = ip|hotkey} */
    OPS_M_COOLDOWNS_ACTIVE, /* {identity} */
    OPS_M_BANS_ACTIVE,      /* {identity, duration = 24h|permanent} */
    OPS_M_AUTH_TOKENS_ACTIVE,
    OPS_M_AUTH_LOGINS, /* {result} */
    OPS_M_METAGRAPH_BLOCK,
    OPS_M_METAGRAPH_AGE, /* seconds */
    OPS_M_SCORING_CYCLE,
    OPS_M_FINALITY_FINAL_CYCLE,
    OPS_M_SCORING_DURATION, /* seconds */
    OPS_M_ATTESTATIONS,     /* {verdict} */
    OPS_M_NODE_COUNT
} ops_metric_id;

/* The auditor's: build and HTTP as the node's, then its own. */
typedef enum ops_audit_metric_id {
    OPS_MA_BUILD_INFO,
    OPS_MA_HTTP_REQUESTS,
    OPS_MA_HTTP_DURATION,
    OPS_MA_HTTP_INFLIGHT,
    OPS_MA_HTTP_CONNECTIONS,
    OPS_MA_HTTP_ERRORS,
    OPS_MA_VERIFIED_SIZE,
    OPS_MA_LAG_RECORDS,
    OPS_MA_DIVERGENCES,
    OPS_MA_ROUNDS,         /* {status = pass|fail|error} */
    OPS_MA_RECORDS_PULLED, /* records added to the replica */
    OPS_MA_ROUND_SECONDS,  /* {phase}: the last round's seconds per phase, and "total" */
    OPS_MA_ATTESTATIONS,   /* {verdict}: attestations this auditor posted */
    OPS_MA_COUNT
} ops_audit_metric_id;

/* Static tables of OPS_M_NODE_COUNT and OPS_MA_COUNT entries, in id order. */
const ops_metric_def *ops_metrics_node_defs(void);
const ops_metric_def *ops_metrics_audit_defs(void);

/* A registry: every update and render may come from any thread at once. */
typedef struct ops_metrics ops_metrics;

/* A registry of defs[0..n) (ids are indexes; defs must outlive it). TALLY_EINVAL for a bad
 * name, label or bucket list or a name twice; TALLY_ENOMEM. */
TALLY_MUST_USE tally_status ops_metrics_new(const ops_metric_def *defs, size_t n,
                                            ops_metrics **out);
void ops_metrics_free(ops_metrics *m); /* NULL is a no-op */

/* Updates. values holds one string per label of the metric (NULL for none); each asserts
 * that the metric has the type. Updates never fail: without memory for a new series they go
 * to the overflow series. */
void ops_metric_add(ops_metrics *m, size_t id, const char *const *values, double v); /* ≥ 0
                                                                           for a counter */
void ops_metric_set(ops_metrics *m, size_t id, const char *const *values, double v); /* gauge */
void ops_metric_observe(ops_metrics *m, size_t id, const char *const *values, double v);
/* The current value of a counter or gauge series, or a histogram's count; 0 if never set. */
double ops_metric_value(ops_metrics *m, size_t id, const char *const *values);
/* Series kept for metric id, the overflow series included. */
size_t ops_metric_series(ops_metrics *m, size_t id);

/* Renders text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4): metrics in
 * table order, series in order of first use; a metric without labels always shows its series.
 */
void ops_metrics_render(ops_metrics *m, ops_emit_fn fn, void *arg);
/* The same into a malloc'd buffer (*out, *n, NUL-terminated), which the caller free()s.
 * TALLY_ENOMEM. */
TALLY_MUST_USE tally_status ops_metrics_render_buf(ops_metrics *m, char **out, size_t *n);

#endif

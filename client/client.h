/* client: a small blocking HTTP/1.1 client (plain POSIX sockets) for `tally submit`, the load
 * generator, the integration tests and the auditor. One client_conn is one keep-alive
 * connection to one host:port, used by one thread at a time; run one per thread. */
#ifndef TALLY_CLIENT_CLIENT_H
#define TALLY_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/status.h"

#define CLIENT_HOST_MAX 255u
#define CLIENT_TARGET_MAX 2048u
#define CLIENT_HEAD_MAX (64u * 1024u)                 /* response status line and headers */
#define CLIENT_RESPONSE_DEFAULT (64u * 1024u * 1024u) /* decoded body bytes */

typedef struct client_url {
    char host[CLIENT_HOST_MAX + 1];     /* without brackets for IPv6 literals */
    uint16_t port;                      /* 80 when the URL names none */
    char target[CLIENT_TARGET_MAX + 1]; /* path and query, "/" when empty */
} client_url;

/* Parses "http://host[:port][/path][?query]" (host a name, an IPv4 literal or [IPv6]). Returns
 * TALLY_EINVAL for another scheme, userinfo, a fragment, a bad port, or parts over the bounds
 * above; then *out is zeroed. */
TALLY_MUST_USE tally_status client_url_parse(const char *url, client_url *out);

typedef struct client_cfg {
    const char *host; /* a name or an IPv4/IPv6 literal; copied */
    uint16_t port;
    unsigned connect_timeout_ms; /* 0 picks 5,000 */
    unsigned io_timeout_ms;      /* each wait for the socket to accept or yield bytes; 0: 30,000 */
    size_t max_response;         /* decoded body bytes; 0 picks CLIENT_RESPONSE_DEFAULT */
    /* Optional source address: an IPv4 or IPv6 literal (no name, no port) the socket binds to
     * before connect, so one process can speak from many client IPs (127.0.3.N on Linux's lo);
     * NULL or "" lets the kernel choose. Copied. Only the host's addresses of the same family
     * are tried. */
    const char *bind_host;
} client_cfg;

typedef struct client_conn client_conn;
typedef struct client_response client_response;

typedef struct client_header {
    const char *name, *value;
} client_header;

typedef struct client_request {
    const char *method;           /* "GET", "POST", ... */
    const char *target;           /* sent exactly as given ("/v1/odds?x=1") */
    const client_header *headers; /* extra headers; Host and Content-Length are added */
    size_t n_headers;
    const void *body;
    size_t body_n;
    const char *content_type; /* sent when non-NULL */
    int zstd_level;           /* > 0: the body is sent Content-Encoding: zstd at this level */
    bool accept_zstd;         /* send Accept-Encoding: zstd and decode a zstd response */
} client_request;

/* Makes a connection handle; nothing is connected until the first request. Returns TALLY_EINVAL
 * (no host, or longer than CLIENT_HOST_MAX; a bind_host that is not an IP literal) or
 * TALLY_ENOMEM. *out is the caller's, released with
 * client_close(). */
TALLY_MUST_USE tally_status client_open(const client_cfg *cfg, client_conn **out);
void client_close(client_conn *c); /* NULL is a no-op */

/* Sends one request and reads its response, reusing the open connection when the server kept
 * it alive. A reused connection that fails before any response byte arrives is reopened and the
 * request sent once more (the server closed it while idle). Returns TALLY_EIO (refused, reset,
 * timed out: client_error() says which), TALLY_EFORMAT (the response is not HTTP/1.x or its
 * framing or zstd body is malformed), TALLY_ELIMIT (response head, body or decoded body over
 * the caps), TALLY_EINVAL (a header with CR/LF, target over CLIENT_TARGET_MAX), TALLY_ENOMEM.
 * On TALLY_OK *out is the caller's (client_response_free()); on any other status *out is NULL
 * and the connection is closed. */
TALLY_MUST_USE tally_status client_do(client_conn *c, const client_request *req,
                                      client_response **out);
/* One sentence about the last failure ("connection refused by 127.0.0.1:8093"); "" after a
 * success. Borrowed until the next call on c. */
const char *client_error(const client_conn *c);
/* True when a connection is open (after a keep-alive response). */
bool client_connected(const client_conn *c);

unsigned client_response_status(const client_response *r);
/* The decoded body (after Content-Encoding: zstd); borrowed until client_response_free(). */
tally_bytes client_response_body(const client_response *r);
/* The number of header fields named name (case-insensitive); *value_out (optional) is the
 * first one's trimmed value, or NULL. Borrowed until client_response_free(). */
size_t client_response_header(const client_response *r, const char *name, const char **value_out);
/* True when the body arrived with Content-Encoding: zstd (and was decoded). */
bool client_response_was_zstd(const client_response *r);
void client_response_free(client_response *r); /* NULL is a no-op */

/* ==== load generator (client/loadgen*.c): `tally loadgen` ====
 * Drives a live node like a subnet (docs/loadgen.md): it feeds, through the admin API of the ops
 * listener, a METAGRAPH binding the generator's miners (sim/sim.h) and events starting in the
 * near future with their markets; then the miners post signed odds and, for events that have
 * started, outcomes at a total rate for a number of seconds, from several threads, each with
 * its own connection and its own miners (so one write is in flight per key and each key's
 * nonces rise); garbage miners send what the node must refuse. Every receipt is checked as a
 * miner would: the node's signature, and each leaf hash rebuilt from the miner's own bodies. */
#define LOADGEN_MINERS_MAX 4000u  /* the generator's bound */
#define LOADGEN_BATCH_MAX 200u    /* events per odds request; with their markets ≤ 200 (§10) */
#define LOADGEN_THREADS_MAX 256u
#define LOADGEN_EVENTS_MAX 10000u /* events fed (four records each, in feeds of 500) */
#define LOADGEN_CODES_MAX 64u     /* distinct names per tally below; more are counted as "other" */
#define LOADGEN_KINDS 5u          /* sharp, copying, noisy, garbage, late (sim_kind order) */
#define LOADGEN_DAYS_MAX 60u      /* simulated days of a --days run */
#define LOADGEN_DAY_STEPS 12u     /* clock steps of a simulated day (2 h each) */
#define LOADGEN_CYCLE_WAIT_S 300u /* real seconds a days run waits for a midnight's cycle */

/* Called once per entry of each receipt that verified, one call at a time (under the run's lock),
 * from the miner threads. */
typedef void (*loadgen_receipt_fn)(void *arg, uint64_t seq, uint64_t time_ms,
                                   const uint8_t leaf_hash[32]);

/* The end of one simulated day of a days run (cfg.days > 0): told once per day, from the
 * calling thread, after the midnight's cycle landed. */
typedef struct loadgen_day {
    unsigned day, days;     /* 1..days */
    uint64_t day_ms;        /* the day's UTC midnight on the node's clock */
    uint64_t events;        /* fed for the day */
    uint64_t closes, outcomes; /* CLOSEs and provider OUTCOMEs fed for the day */
    uint64_t requests, items_accepted, receipts_verified, receipts_failed; /* run so far */
    uint64_t cycle;         /* the cycle that scored the day (at the next midnight) */
} loadgen_day;
typedef void (*loadgen_day_fn)(void *arg, const loadgen_day *day);

typedef struct loadgen_cfg {
    const char *ingest_url;  /* "http://host:port" of the ingest listener */
    const char *ops_url;     /* of the ops listener: GET /health, POST /admin/v1/records */
    const char *admin_token; /* the ops listener's bearer token */
    unsigned miners;         /* 1..LOADGEN_MINERS_MAX; 0 picks 8 */
    unsigned seconds;        /* length of the load phase, 1..86400; 0 picks 10 (timed runs) */
    unsigned days;           /* 0: a timed run of `seconds` on the real clock; 1..
                                LOADGEN_DAYS_MAX: that many simulated UTC days on the node's
                                manual clock (TALLY_CLOCK=manual), which the run moves through
                                POST /admin/v1/clock, with each day's events, closes, provider
                                outcomes and the midnight's scoring cycle (docs/loadgen.md) */
    uint64_t seed;           /* the generator's seed: miner keys, kinds, prices */
    unsigned rate;           /* requests per second over all threads; 0: as fast as they go */
    unsigned batch;          /* events per odds request, 1..LOADGEN_BATCH_MAX; 0 picks 4; batch ×
                                markets ≤ 200 (a request's markets, §10) */
    unsigned markets;        /* markets per event: 1 moneyline, 2 + spread, 3 + total; 0 picks 3 */
    unsigned concurrency;    /* miner threads, 1..LOADGEN_THREADS_MAX; 0 picks 4; at most miners */
    unsigned events;         /* events fed, 1..LOADGEN_EVENTS_MAX; 0 picks from the load; in a
                                days run, events per day (0 picks 12; days × events at most
                                LOADGEN_EVENTS_MAX) */
    bool has_node_key;       /* node_key given; else read from GET / on the ingest listener */
    uint8_t node_key[32];
    bool has_netuid;         /* netuid given; else the origin's trailing "/<n>", else 1 */
    uint64_t netuid;
    unsigned io_timeout_ms;  /* each wait for the node; 0 picks 10,000 */
    loadgen_receipt_fn on_receipt; /* NULL: none */
    void *on_receipt_arg;
    /* optional: auditor keys bound as validators (permit, 200,000 alpha) after the miners in
       the METAGRAPH, each under the hotkey SHA-256("tally-loadgen-validator" || key) */
    const uint8_t (*validators)[32];
    size_t n_validators; /* ≤ 16 */
    loadgen_day_fn on_day; /* days runs: NULL, or told at the end of each day */
    void *on_day_arg;
} loadgen_cfg;

typedef struct loadgen_count {
    char name[40];
    uint64_t n;
} loadgen_count;
typedef struct loadgen_tally {
    loadgen_count c[LOADGEN_CODES_MAX];
    size_t n;
} loadgen_tally;

typedef struct loadgen_report {
    char origin[129];
    unsigned miners, threads, events, events_starting; /* events starting during the run */
    uint64_t kinds[LOADGEN_KINDS];                      /* miners by kind */
    uint64_t metagraph_block;
    double elapsed_s;                                   /* of the load phase */
    uint64_t requests, odds_requests, outcome_requests; /* answered or given up, not retries */
    uint64_t garbage_requests, garbage_refused;
    uint64_t retries, no_response;  /* attempts repeated; requests given up without an answer */
    uint64_t duplicates;            /* answers "duplicate": true (a retry of a committed write) */
    loadgen_tally status;           /* final answers by HTTP status ("200", "422", "0": none) */
    loadgen_tally errors;           /* error answers by §8 code */
    uint64_t items_sent, items_accepted, items_rejected;
    loadgen_tally rejections;       /* rejected items by code */
    uint64_t receipts, receipts_verified, receipts_failed, receipt_entries;
    double requests_per_s, items_per_s;      /* answered requests and accepted items */
    double lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_max_ms; /* per request answered with a
                                                              receipt, first attempt to answer */
    /* days runs only (days = 0 otherwise) */
    unsigned days;
    uint64_t clock_start_ms, clock_end_ms; /* the node's clock: the first day's midnight, the
                                              last day's end */
    uint64_t closes, provider_outcomes;    /* CLOSEs and OUTCOMEs (source provider) fed */
    uint64_t cycles, first_cycle, last_cycle; /* cycles landed at the midnights crossed */
} loadgen_report;

/* Runs the load: reads the node's index and health, feeds, loads for cfg->seconds (or drives
 * cfg->days simulated days), and fills *out (failures during the load are counted there, not
 * returned). Returns TALLY_EINVAL for a configuration out of range or a bad URL, or for a days
 * run against a node whose clock is not manual or does not move as asked; TALLY_EIO when the
 * node cannot be reached, its index gives no node key (with no cfg->node_key), or (days runs) a
 * midnight's cycle does not land within LOADGEN_CYCLE_WAIT_S; TALLY_EAUTH or TALLY_ECONFLICT
 * when a feed is refused (a bad token; records the rules refuse); TALLY_ENOMEM. Then err (when
 * cap > 0) holds one sentence and *out is zeroed. Blocks until the load ends; starts and joins
 * its threads. */
TALLY_MUST_USE tally_status loadgen_run(const loadgen_cfg *cfg, loadgen_report *out, char *err,
                                        size_t err_cap);
/* The report as one JSON object (docs/loadgen.md), NUL-terminated; *out is malloc'd and the
 * caller's. TALLY_ENOMEM (then *out is NULL). */
TALLY_MUST_USE tally_status loadgen_report_json(const loadgen_report *r, char **out);


/* ==== signed ingest writes: `tally sign` and `tally submit` (client/submit.c) ====
 * One write is one POST /v1/odds or /v1/outcomes request (protocol §4, §5): items built from
 * the JSON form of wire_odds_from_json / wire_outcomes_from_json, each signed with the miner's
 * key (the record signature of §2.1), the canonical msgpack body, and the four Tally-* headers.
 * A retry reuses the nonce and the body and re-signs only Tally-Time, so the node's request
 * digest is the same and a write that did land answers as an idempotent duplicate. */
#define CLIENT_ODDS 10u     /* the item type: SCHEMA_ODDS_SUBMISSION */
#define CLIENT_OUTCOMES 11u /* SCHEMA_OUTCOME */
#define CLIENT_DETAIL_MAX 512u
#define CLIENT_ITEMS_MAX 200u /* items of one write */
#define CLIENT_CODE_MAX 48u   /* bytes of a §8 or item-level error code, NUL included */

typedef struct client_write client_write;
typedef struct client_write_cfg {
    unsigned type;      /* CLIENT_ODDS or CLIENT_OUTCOMES */
    const char *origin; /* the node's origin (ascii, no '+', ≤ 128 bytes) */
    const char *target; /* the request-target; NULL: "/v1/odds" or "/v1/outcomes" */
    const uint8_t *pk;  /* the miner's Ed25519 public key, 32 bytes */
    const uint8_t *sk;  /* its 64-byte libsodium secret key; borrowed for the write's life */
    uint64_t nonce;     /* 1..2^53−1; 0 picks the Unix time in µs */
} client_write_cfg;

/* Builds a write from the request JSON (n bytes): fills each item's nonce and idx, draws salts,
 * signs every item, encodes the body and signs the request for the current time. TALLY_EFORMAT
 * (bad JSON or an item breaking a rule: detail names the field), TALLY_ELIMIT (too many items,
 * body over 256 KiB), TALLY_EINVAL (bad cfg: type, origin, target, nonce), TALLY_ENOMEM, each
 * with a sentence in detail (CLIENT_DETAIL_MAX bytes, or NULL). On TALLY_OK *out is the
 * caller's (client_write_free). */
TALLY_MUST_USE tally_status client_write_new(const client_write_cfg *cfg, const char *json,
                                             size_t n, client_write **out, char *detail);
/* Signs the request again for time_ms (0: now), same nonce and body. TALLY_EINVAL for a time
 * above 2^53−1. */
TALLY_MUST_USE tally_status client_write_sign(client_write *w, uint64_t time_ms);
/* The canonical msgpack body; borrowed until client_write_free. */
tally_bytes client_write_body(const client_write *w);
/* Tally-Key, Tally-Time, Tally-Nonce, Tally-Signature, in that order (4 headers) for the last
 * signing; borrowed until the next client_write_sign or client_write_free. */
const client_header *client_write_headers(const client_write *w);
uint64_t client_write_nonce(const client_write *w);
const char *client_write_target(const client_write *w); /* borrowed like the body */
size_t client_write_count(const client_write *w);       /* items, 1..200 */
void client_write_free(client_write *w);                /* NULL is a no-op */

typedef enum client_verdict {
    CLIENT_ACCEPTED = 1, /* ≥ 1 item appended (now or by the write a duplicate repeats) and the
                            receipt verified */
    CLIENT_REJECTED,     /* the node answered and appended nothing; error names its code */
    CLIENT_RECEIPT_BAD,  /* items were appended but the receipt failed: receipt_st says how */
} client_verdict;

typedef struct client_item_result {
    size_t idx;
    bool accepted;
    uint64_t seq, time_ms;      /* accepted items */
    char error[CLIENT_CODE_MAX]; /* rejected items: the item-level code ("" if none given) */
} client_item_result;

typedef struct client_submit_result {
    client_verdict verdict;
    unsigned status;                 /* HTTP status of the final response */
    char error[CLIENT_CODE_MAX];     /* a refused request's §8 code ("" on 200) */
    char message[256];               /* and its message */
    bool duplicate;                  /* the node answered an idempotent retry */
    size_t accepted, rejected, n_items;
    client_item_result items[CLIENT_ITEMS_MAX]; /* in idx order, as the node listed them */
    tally_status receipt_st; /* TALLY_OK; TALLY_EAUTH (bad signature), TALLY_ECONFLICT (the signed
                                receipt disagrees with the items), TALLY_EFORMAT (missing or
                                unparseable receipt); meaningful when accepted > 0 */
    uint64_t tree_size;      /* of the receipt */
    char receipt_path[4200]; /* where the receipt was kept ("" when not) */
    unsigned attempts;       /* requests sent, retries included */
    unsigned waited_ms;      /* time slept between attempts */
} client_submit_result;

typedef struct client_submit_cfg {
    const char *host; /* the ingest listener */
    uint16_t port;
    const uint8_t *node_pk;   /* the node's Ed25519 key (32 bytes) the receipt must verify under */
    unsigned retries;         /* further attempts after a timeout, a connection failure, 408,
                                 429 or 503; each re-signed with a fresh Tally-Time */
    unsigned max_wait_ms;     /* total sleep between attempts (Retry-After and backoff); 0 picks
                                 60,000 */
    unsigned io_timeout_ms;   /* 0 picks 30,000 */
    const char *receipts_dir; /* optional: the receipt JSON is kept as DIR/<nonce>.json (DIR
                                 made 0700 if missing), whether or not it verified */
    /* optional: told before each sleep: the attempt that failed (1, 2, ...), the sleep ahead
       and why ("connect to ...: connection refused", "503 overloaded") */
    void (*on_retry)(void *arg, unsigned attempt, unsigned wait_ms, const char *why);
    void *on_retry_arg;
} client_submit_cfg;

/* Posts the write, retrying as cfg says, then checks the answer: the per-item results, and for
 * accepted items the receipt (wire_receipt_check_items against the write's own bodies and
 * signatures). TALLY_OK when the node gave a final answer: *out says which (its verdict).
 * Otherwise, with a sentence in detail: TALLY_EIO (no answer after every attempt: refused,
 * reset, timed out; or the receipt file could not be written), TALLY_EAGAIN (still 429 or 503
 * when the attempts or the wait ran out), TALLY_EFORMAT (a response that is not the protocol's
 * JSON), TALLY_ENOMEM. *out is zeroed first and filled as far as the exchange went. */
TALLY_MUST_USE tally_status client_submit(const client_submit_cfg *cfg, client_write *w,
                                          client_submit_result *out, char *detail);

/* Reads a verifier key `origin+keyid+base64(0x01 || pk)` (c2sp.org/signed-note, what `tally key`
 * prints): the origin (NUL-terminated, ≤ 128 bytes) and the Ed25519 key, the key id checked.
 * TALLY_EFORMAT otherwise (outputs zeroed). */
TALLY_MUST_USE tally_status client_vkey_parse(const char *vkey, char origin_out[129],
                                              uint8_t pk_out[32]);

#endif

/* net/ internals of the node: the handle every handler works on, the route table, the request
 * context that goes from the head stage to the handler, and the one error path that answers,
 * charges the abuse engine, counts and logs.
 *
 * | route (net/route.c table)  | listener   | auth    | limited | handler file |
 * |----------------------------|------------|---------|---------|--------------|
 * | GET  /                     | all        | none    | yes     | ops_routes.c |
 * | GET  /health, /health/...  | all        | none    | no      | ops_routes.c |
 * | GET  /metrics              | ops        | none    | no      | ops_routes.c |
 * | GET  /log/checkpoint       | ledger     | none    | yes     | ops_routes.c |
 * | GET  /v1/games             | ingest     | signed  | yes     | ingest.c     |
 * | POST /v1/odds, /v1/outcomes| ingest     | signed  | yes     | ingest.c     |
 * | POST /v1/auth/challenge    | ledger     | none    | yes     | auth.c       |
 * | POST /v1/auth/token        | ledger     | none    | yes     | auth.c       |
 * | GET  /v1/sth, /v1/sth/<n>  | ledger     | none    | yes     | ledger_tree.c|
 * | GET  /v1/info              | ledger     | none    | yes     | ledger_tree.c|
 * | GET  /log/tile/..., /log/bodies/... | ledger | none | yes    | ledger_tree.c|
 * | GET  /v1/proof/inclusion, /consistency | ledger | none | yes | ledger_tree.c|
 * | GET  /v1/records, /v1/deltas | ledger   | token   | yes     | ledger_records.c |
 * | GET  /v1/checkpoints       | ledger     | none    | yes     | ledger_audit.c |
 * | GET  /v1/checkpoints/<c|latest> | ledger | token  | yes     | ledger_audit.c |
 * | GET  /v1/attestations      | ledger     | none    | yes     | ledger_audit.c |
 * | POST /v1/attestations      | ledger     | token   | yes     | ledger_audit.c |
 * | GET  /v1/finality          | ledger     | none    | yes     | ledger_audit.c |
 * | /admin/v1/...              | ops        | admin   | no      | admin.c      |
 *
 * A path may appear in two rows with other methods (GET and POST /v1/attestations): the route
 * is the first row whose path and method match, else the first whose path matches (405). */
#ifndef TALLY_NET_NODE_INT_H
#define TALLY_NET_NODE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "httpd/httpd.h"
#include "ledger/ledger.h"
#include "net/abuse_int.h"
#include "net/net.h"
#include "net/rnonce_int.h"
#include "net/tile_cache_int.h"
#include "wire/wire.h"

typedef enum net__auth {
    NET_AUTH_NONE = 0,
    NET_AUTH_SIGNED, /* Tally-* headers (§4), checked through stage 7 in head, signed in handle */
    NET_AUTH_ADMIN,  /* Authorization: Bearer <admin token> */
    NET_AUTH_TOKEN,  /* Authorization: Bearer <login token> (§6.1), eligibility re-checked at
                        stage 6, the token's key window at stage 7 (auth.c) */
} net__auth;

typedef struct net__ctx net__ctx;
typedef void (*net__handler)(net_node *n, httpd_req *req, net__ctx *ctx);

typedef struct net__route {
    const char *name;    /* the metrics/log label ("odds") */
    const char *path;    /* exact path, or with prefix a path prefix ending in '/' */
    bool prefix;
    unsigned listeners;  /* bit i: listener i serves it */
    unsigned methods;    /* bit m: httpd_method m allowed */
    net__auth auth;
    bool limited;        /* rate-limited (§7.1) */
    bool write;          /* a signed write (write nonce) */
    const char *media;   /* Content-Type a body must have, or NULL for no body */
    size_t max_body;     /* decoded bytes */
    net__handler handle;
} net__route;

/* What the head stage learnt, for the handler (in the request's arena). */
struct net__ctx {
    const net__route *route;
    unsigned route_id;
    net_ip ip;            /* the client IP (§3) */
    bool exempt;
    bool signed_req, verified; /* Tally-* present and well formed; request signature verified
                                  (or, for a token route, the bearer token valid and eligible) */
    bool token_req;       /* a token route whose token was valid: auth.key is the token's key */
    wire_auth auth;
    engine_binding bind;  /* the key's neuron (signed requests) */
    net_abuse_resv resv;
    bool has_rate;
    net_abuse_rate rate;  /* X-RateLimit-* of the response */
    const char *error;    /* the error code answered, for the access log ("" when none) */
    bool retry_after;     /* a Retry-After header was added */
};

/* A ban write the abuse engine asked for, queued for the housekeeper (bans go to LMDB through
 * the writer within a second, never on a request thread). */
typedef struct net__ban_job {
    net_ban ban;
    bool removed;
    struct net__ban_job *next;
} net__ban_job;

struct net_node {
    char dir[4096];
    _Atomic(const ops_config *) conf; /* swapped by a reload; every use loads it once */
    ops_log *log;
    ops_clock *clock;
    char admin_token[65];

    store_log *store;
    ledger_admission adm;
    bool adm_init;
    ledger_view *view;
    net_abuse *abuse;
    net_rnonce *rnonce;
    httpd *http;
    char hosts[NET_LISTEN_COUNT][46]; /* the listen addresses, numeric */
    ops_metrics *metrics;
    net_abuse_stats seen; /* the abuse totals at the last scrape (metrics) */
    char origin[SCHEMA_ORIGIN_MAX + 1];
    uint8_t node_pk[32];
    uint64_t started_ms;
    unsigned grace_ms;

    /* the cycle driver (its own thread): the engine and rules following the log */
    pthread_t cycler;
    bool cycler_started;
    pthread_mutex_t mu;       /* guards what follows and the cycle fields */
    pthread_cond_t cv;
    bool stop_threads, cycle_asked;
    engine *eng;
    engine_rules *cyc_rules;
    uint64_t last_cycle, last_cycle_ms, next_cycle_ms, cycles_failed;
    uint64_t resumed_from; /* the start-up replay began at this cycle's checkpoint (0: GENESIS) */
    char last_cycle_error[320];

    /* the housekeeper (its own thread): ban writes, hourly purges */
    pthread_t keeper;
    bool keeper_started;
    net__ban_job *bans_head, *bans_tail;

    net_reload_fn reload;
    void *reload_arg;
    pthread_mutex_t pending_mu; /* the ingest writes in the writer's hands (ingest.c) */
    struct job *pending;
    atomic_bool draining, stop_asked;
    _Atomic uint64_t clock_seen_ms, clock_stepped_ms; /* the housekeeper's view of the wall
                                                         clock: when it last went back > 1 s */
    atomic_int latched;       /* tally_status of a write fault that latched writes off, or 0 */

    /* the ledger listener (auth.c, ledger_*.c) */
    struct net__auth_state *auth;   /* challenges and tokens, memory only */
    pthread_mutex_t fin_mu;         /* guards fin */
    ledger_finality_state *fin;     /* cycles, attestations and finality, folded on demand */
    net__tcache *tiles;             /* full tiles and bundles as served; NULL when off */
    bool fin_init;
};

/* The route table (route.c) and the pipeline of §7.3 as the HTTP engine's callbacks. */
extern const net__route net__routes[];
extern const size_t net__n_routes;
void net__head(void *arg, httpd_req *req);
void net__handle(void *arg, httpd_req *req);
void net__on_reply(void *arg, httpd_req *req, unsigned status, size_t bytes);

/* The one error path: answers code (its HTTP status from the §8 table) with message and details
 * (borrowed; NULL for none), charges the failure's class to the abuse engine as §7.2 says
 * (to the IP, and to the hotkey once verified), and records it for the log and metrics. */
void net__fail(net_node *n, httpd_req *req, net__ctx *ctx, wire_err code, const char *message,
               json_t *details);
/* json as a msgpack map with the same keys (msgpack_json.c); false (nothing sent) without
 * memory. */
bool net__reply_msgpack(httpd_req *req, unsigned status, const json_t *json);
/* A JSON reply with the X-RateLimit-* headers of ctx (json borrowed), as msgpack when the
 * request's Accept prefers it (§3). */
void net__reply_json(net_node *n, httpd_req *req, net__ctx *ctx, unsigned status, json_t *json);
/* The same with its own Cache-Control value. */
void net__reply_json_cc(net_node *n, httpd_req *req, net__ctx *ctx, unsigned status, json_t *json,
                        const char *cache_control);
/* The X-RateLimit-* headers of ctx, for a handler that replies with its own body. */
void net__rate_headers(httpd_req *req, const net__ctx *ctx);
/* A response header; one that does not fit in the request's arena is left out (the response
 * goes on without it). */
void net__header(httpd_req *req, const char *name, const char *value);
/* A status whose failure changes nothing for the caller (a best-effort refresh). */
static inline void net__best_effort(tally_status st)
{
    (void)st;
}
/* The node clock. */
uint64_t net__now_ms(const net_node *n);
uint64_t net__mono_ms(const net_node *n);
/* The signed request of ctx as wire/ sees it (origin, method, target, time, nonce, body). */
void net__wire_request(const net_node *n, httpd_req *req, const net__ctx *ctx, wire_request *out);
/* False, after answering 503 not_ready, when writes are latched off. */
bool net__writable(net_node *n, httpd_req *req, net__ctx *ctx);
/* A write fault latches ingest off (not_ready): TALLY_EFULL and TALLY_EIO do. */
void net__latch(net_node *n, tally_status st);
/* Reloads the configuration now (the admin route; SIGHUP goes through net_node_run). */
tally_status net__reload(net_node *n, char *err);
/* Answers 503 overloaded for every ingest write whose commit outlived TALLY_COMMIT_TIMEOUT_S
 * (the housekeeper calls it). */
void net__reap_writes(net_node *n);
/* Asks the cycle driver for a cycle now. */
void net__cycle_now(net_node *n);

/* Handlers (ingest.c, admin.c, ops_routes.c). */
void net__h_index(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_health(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_metrics(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_checkpoint(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_games(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_odds(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_outcomes(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_admin(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_auth_challenge(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_auth_token(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_sth(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_info(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_tile(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_proof(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_records(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_deltas(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_checkpoints(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_checkpoint_blob(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_attest_list(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_attest_post(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_finality(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_cosign(net_node *n, httpd_req *req, net__ctx *ctx);
void net__h_cosig_list(net_node *n, httpd_req *req, net__ctx *ctx);
/* The signature lines of the eligible auditors whose latest cosignature is for size, into buf
 * (cap bytes; lines that do not fit are left out); returns the bytes written. */
size_t net__cosig_lines(net_node *n, uint64_t size, char *buf, size_t cap);

/* The signed receipt of §5.5 for entries (ascending by seq) under head sth, as JSON (ingest.c);
 * NULL without memory. */
json_t *net__receipt_json(net_node *n, const store_request *rq, const schema_sth *sth,
                          const wire_receipt_entry *e, size_t k);

/* ---- login state (auth.c) ---- */
TALLY_MUST_USE tally_status net__auth_new(struct net__auth_state **out);
void net__auth_free(struct net__auth_state *a); /* NULL is a no-op */
/* Stage 6 of a token route: the bearer token (401 token_missing with WWW-Authenticate, 401
 * token_invalid), the key's eligibility now (503 metagraph_unavailable, 403 not_eligible). On
 * true ctx->auth.key, ctx->bind, ctx->verified and ctx->token_req are set. False when answered. */
bool net__stage_token(net_node *n, httpd_req *req, net__ctx *ctx);
/* Whether key may log in now (§6.1): WIRE_OK with its binding, WIRE_METAGRAPH_UNAVAILABLE, or
 * WIRE_NOT_ELIGIBLE with *reason ("key_not_registered", "no_validator_permit",
 * "stake_too_low"). The view is synced first. */
wire_err net__eligible(net_node *n, const uint8_t key[32], engine_binding *bind,
                       const char **reason);
/* Sets the tokens gauge (the metrics scrape calls it). */
void net__auth_gauge(net_node *n);

/* ---- the ledger's folds (ledger_audit.c) ---- */
/* The finality state folded to the head, under n->fin_mu, which the caller holds on TALLY_OK
 * and releases with pthread_mutex_unlock. */
TALLY_MUST_USE tally_status net__fin_lock(net_node *n, ledger_finality_state **out);
/* The size a delta or a record range may end at for the requested end `to` (≤ the tree): the
 * largest stored STH size ≤ to (the one place the cut is made, so it can move to
 * store_sth_floor). TALLY_ENOTFOUND when no STH is ≤ to. */
TALLY_MUST_USE tally_status net__sth_floor(net_node *n, uint64_t to, schema_sth *out);

/* Health (ops_routes.c): which readiness checks fail now, as names into out (up to 8). */
size_t net__not_ready(net_node *n, const char **out);

#endif

/* The metrics of protocol §9.2, one descriptor per metric: name, help, type, label names,
 * buckets and series cap. net/ and auditor/ register these tables, so a metric cannot be
 * named or labelled differently by the two servers. Buckets: durations use the default
 * 0.5 ms … 10 s; a scoring cycle runs for seconds to minutes; commit sizes span 1 … 4096
 * records (TALLY_COMMIT_MAX_RECORDS' default). */
#include "ops/ops_int.h"

static const char *const l_build[] = {"version", "commit", NULL};
static const char *const l_req[] = {"listener", "route", "method", "status", NULL};
static const char *const l_route[] = {"listener", "route", NULL};
static const char *const l_listener[] = {"listener", NULL};
static const char *const l_error[] = {"listener", "error", NULL};
static const char *const l_type_result[] = {"type", "result", NULL};
static const char *const l_type_error[] = {"type", "error", NULL};
static const char *const l_kind_result[] = {"kind", "result", NULL};
static const char *const l_type[] = {"type", NULL};
static const char *const l_scope[] = {"scope", "window", NULL};
static const char *const l_class[] = {"class", "identity", NULL};
static const char *const l_identity[] = {"identity", NULL};
static const char *const l_ban[] = {"identity", "duration", NULL};
static const char *const l_result[] = {"result", NULL};
static const char *const l_verdict[] = {"verdict", NULL};
static const char *const l_status[] = {"status", NULL};
static const char *const l_phase[] = {"phase", NULL};

static const double b_records[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
static const double b_cycle[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

#define NB(b) (sizeof(b) / sizeof((b)[0]))

/* Listeners × routes × methods × statuses can pass the default cap. */
#define REQ_SERIES 2048u

#define HTTP_DEFS(BUILD, REQS, DUR, INFL, CONN, ERRS)                                              \
    [BUILD] = {.name = "tally_build_info",                                                         \
               .help = "Build version and commit (always 1).",                                     \
               .type = OPS_GAUGE,                                                                  \
               .labels = l_build},                                                                 \
    [REQS] = {.name = "tally_http_requests_total",                                                 \
              .help = "HTTP requests answered.",                                                   \
              .type = OPS_COUNTER,                                                                 \
              .labels = l_req,                                                                     \
              .max_series = REQ_SERIES},                                                           \
    [DUR] = {.name = "tally_http_request_duration_seconds",                                        \
             .help = "Time from request to response, in seconds.",                                 \
             .type = OPS_HISTOGRAM,                                                                \
             .labels = l_route},                                                                   \
    [INFL] = {.name = "tally_http_inflight_requests",                                              \
              .help = "Requests being served.",                                                    \
              .type = OPS_GAUGE,                                                                   \
              .labels = l_listener},                                                               \
    [CONN] = {.name = "tally_http_connections",                                                    \
              .help = "Open connections.",                                                         \
              .type = OPS_GAUGE,                                                                   \
              .labels = l_listener},                                                               \
    [ERRS] = {.name = "tally_http_errors_total",                                                   \
              .help = "Error responses by error code.",                                            \
              .type = OPS_COUNTER,                                                                 \
              .labels = l_error}

#define C(id, nm, hp, lb) [id] = {.name = (nm), .help = (hp), .type = OPS_COUNTER, .labels = (lb)}
#define G(id, nm, hp, lb) [id] = {.name = (nm), .help = (hp), .type = OPS_GAUGE, .labels = (lb)}

static const ops_metric_def node[OPS_M_NODE_COUNT] = {
    HTTP_DEFS(OPS_M_BUILD_INFO, OPS_M_HTTP_REQUESTS, OPS_M_HTTP_DURATION, OPS_M_HTTP_INFLIGHT,
              OPS_M_HTTP_CONNECTIONS, OPS_M_HTTP_ERRORS),
    C(OPS_M_INGEST_ITEMS, "tally_ingest_items_total", "Ingest items by type and result.",
      l_type_result),
    C(OPS_M_INGEST_REJECTIONS, "tally_ingest_item_rejections_total",
      "Rejected ingest items by type and error code.", l_type_error),
    C(OPS_M_SIG_VERIFICATIONS, "tally_signature_verifications_total",
      "Ed25519 verifications by kind (request, item, login) and result.", l_kind_result),
    G(OPS_M_LOG_SIZE_RECORDS, "tally_log_size_records", "Records in the log.", NULL),
    G(OPS_M_LOG_BYTES, "tally_log_bytes", "Bytes of records in the log.", NULL),
    G(OPS_M_WRITER_QUEUE_DEPTH, "tally_writer_queue_depth", "Items waiting for the writer.", NULL),
    G(OPS_M_STH_TREE_SIZE, "tally_sth_tree_size", "Tree size of the latest signed tree head.",
      NULL),
    G(OPS_M_STH_TIMESTAMP, "tally_sth_timestamp_seconds",
      "Time of the latest signed tree head, in seconds since the epoch.", NULL),
    G(OPS_M_LMDB_MAP_SIZE, "tally_lmdb_map_size_bytes", "LMDB map size in bytes.", NULL),
    G(OPS_M_LMDB_USED, "tally_lmdb_used_bytes", "Bytes of the LMDB map in use.", NULL),
    C(OPS_M_LOG_APPENDS, "tally_log_appends_total", "Records appended, by type.", l_type),
    [OPS_M_COMMIT_RECORDS] = {.name = "tally_commit_records",
                              .help = "Records per group commit.",
                              .type = OPS_HISTOGRAM,
                              .buckets = b_records,
                              .nbuckets = NB(b_records)},
    [OPS_M_COMMIT_DURATION] = {.name = "tally_commit_duration_seconds",
                               .help = "Time of one group commit, in seconds.",
                               .type = OPS_HISTOGRAM},
    [OPS_M_APPEND_ACK] = {.name = "tally_append_ack_seconds",
                          .help = "Time from enqueue to durable acknowledgement, in seconds.",
                          .type = OPS_HISTOGRAM},
    C(OPS_M_RATE_LIMITED, "tally_rate_limited_total",
      "Requests refused by a rate limit, by scope (key, ip, global) and window.", l_scope),
    C(OPS_M_ABUSE_FAILURES, "tally_abuse_failures_total",
      "Failures by class (C, V, X, P) and identity (ip, hotkey).", l_class),
    G(OPS_M_COOLDOWNS_ACTIVE, "tally_cooldowns_active", "Active cooldowns by identity.",
      l_identity),
    G(OPS_M_BANS_ACTIVE, "tally_bans_active", "Active bans by identity and duration.", l_ban),
    G(OPS_M_AUTH_TOKENS_ACTIVE, "tally_auth_tokens_active", "Live login tokens.", NULL),
    C(OPS_M_AUTH_LOGINS, "tally_auth_logins_total", "Logins by result.", l_result),
    G(OPS_M_METAGRAPH_BLOCK, "tally_metagraph_block", "Block of the latest METAGRAPH.", NULL),
    G(OPS_M_METAGRAPH_AGE, "tally_metagraph_age_seconds",
      "Age of the latest METAGRAPH, in seconds.", NULL),
    G(OPS_M_SCORING_CYCLE, "tally_scoring_cycle", "Latest scoring cycle.", NULL),
    G(OPS_M_FINALITY_FINAL_CYCLE, "tally_finality_latest_final_cycle",
      "Latest cycle that is final.", NULL),
    [OPS_M_SCORING_DURATION] = {.name = "tally_scoring_cycle_duration_seconds",
                                .help = "Time to compute one scoring cycle, in seconds.",
                                .type = OPS_HISTOGRAM,
                                .buckets = b_cycle,
                                .nbuckets = NB(b_cycle)},
    C(OPS_M_ATTESTATIONS, "tally_attestations_total", "Attestations appended, by verdict.",
      l_verdict),
};

static const ops_metric_def audit[OPS_MA_COUNT] = {
    HTTP_DEFS(OPS_MA_BUILD_INFO, OPS_MA_HTTP_REQUESTS, OPS_MA_HTTP_DURATION, OPS_MA_HTTP_INFLIGHT,
              OPS_MA_HTTP_CONNECTIONS, OPS_MA_HTTP_ERRORS),
    G(OPS_MA_VERIFIED_SIZE, "tally_audit_verified_size", "Tree size the auditor has verified.",
      NULL),
    G(OPS_MA_LAG_RECORDS, "tally_audit_lag_records",
      "Records between the primary's tree size and the verified size.", NULL),
    C(OPS_MA_DIVERGENCES, "tally_audit_divergences_total",
      "Divergences found (split views, differing derived blocks).", NULL),
    C(OPS_MA_ROUNDS, "tally_audit_rounds_total",
      "Rounds run, by outcome (pass, fail: a divergence latched, error: the primary not reached "
      "or not answering within the protocol).",
      l_status),
    C(OPS_MA_RECORDS_PULLED, "tally_audit_records_pulled_total",
      "Records pulled from the primary into the replica.", NULL),
    G(OPS_MA_ROUND_SECONDS, "tally_audit_last_round_seconds",
      "Seconds the last round spent in each phase, and in all (phase total).", l_phase),
    C(OPS_MA_ATTESTATIONS, "tally_attestations_total", "Attestations posted, by verdict.",
      l_verdict),
};

const ops_metric_def *ops_metrics_node_defs(void)
{
    return node;
}

const ops_metric_def *ops_metrics_audit_defs(void)
{
    return audit;
}

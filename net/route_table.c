/* The route table of the three listeners (net/node_int.h documents it as a table): which path,
 * listener, methods, authentication, rate limit, body type and size, and handler. */
#include "net/node_int.h"

#define L_IN (1u << NET_LISTEN_INGEST)
#define L_LED (1u << NET_LISTEN_LEDGER)
#define L_OPS (1u << NET_LISTEN_OPS)
#define L_ALL (L_IN | L_LED | L_OPS)
#define M_GET ((1u << HTTPD_METHOD_GET) | (1u << HTTPD_METHOD_HEAD))
#define M_POST (1u << HTTPD_METHOD_POST)
#define M_DELETE (1u << HTTPD_METHOD_DELETE)
#define MSGPACK "application/msgpack"
#define JSON "application/json"
#define ADMIN_BODY_MAX (4u << 20) /* §10: admin ≤ 4 MiB */

/* Ordered: the first route whose path matches serves the request (exact paths before the
 * prefixes that contain them). Route ids are indexes + 1 (0 is the engine's "unknown"). */
const net__route net__routes[] = {
    {"index", "/", false, L_ALL, M_GET, NET_AUTH_NONE, true, false, NULL, 0, net__h_index},
    {"health", "/health", false, L_ALL, M_GET, NET_AUTH_NONE, false, false, NULL, 0,
     net__h_health},
    {"health", "/health/", true, L_ALL, M_GET, NET_AUTH_NONE, false, false, NULL, 0,
     net__h_health},
    {"metrics", "/metrics", false, L_OPS, M_GET, NET_AUTH_NONE, false, false, NULL, 0,
     net__h_metrics},
    {"checkpoint", "/log/checkpoint", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0,
     net__h_checkpoint},
    {"games", "/v1/games", false, L_IN, M_GET, NET_AUTH_SIGNED, true, false, NULL, 0,
     net__h_games},
    {"odds", "/v1/odds", false, L_IN, M_POST, NET_AUTH_SIGNED, true, true, MSGPACK,
     WIRE_REQUEST_BODY_MAX, net__h_odds},
    {"outcomes", "/v1/outcomes", false, L_IN, M_POST, NET_AUTH_SIGNED, true, true, MSGPACK,
     WIRE_REQUEST_BODY_MAX, net__h_outcomes},
    {"admin", "/admin/v1/", true, L_OPS, M_GET | M_POST | M_DELETE, NET_AUTH_ADMIN, false, false,
     JSON, ADMIN_BODY_MAX, net__h_admin},
    /* the ledger listener (§6) */
    {"auth_challenge", "/v1/auth/challenge", false, L_LED, M_POST, NET_AUTH_NONE, true, false,
     JSON, WIRE_AUTH_BODY_MAX, net__h_auth_challenge},
    {"auth_token", "/v1/auth/token", false, L_LED, M_POST, NET_AUTH_NONE, true, false, JSON,
     WIRE_AUTH_BODY_MAX, net__h_auth_token},
    {"sth", "/v1/sth", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0, net__h_sth},
    {"sth", "/v1/sth/", true, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0, net__h_sth},
    {"info", "/v1/info", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0, net__h_info},
    {"tile", "/log/tile/", true, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0, net__h_tile},
    {"bodies", "/log/bodies/", true, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0,
     net__h_tile},
    {"proof", "/v1/proof/inclusion", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0,
     net__h_proof},
    {"proof", "/v1/proof/consistency", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0,
     net__h_proof},
    {"records", "/v1/records", false, L_LED, M_GET, NET_AUTH_TOKEN, true, false, NULL, 0,
     net__h_records},
    {"deltas", "/v1/deltas", false, L_LED, M_GET, NET_AUTH_TOKEN, true, false, NULL, 0,
     net__h_deltas},
    {"checkpoints", "/v1/checkpoints", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0,
     net__h_checkpoints},
    {"checkpoint_blob", "/v1/checkpoints/", true, L_LED, M_GET, NET_AUTH_TOKEN, true, false,
     NULL, 0, net__h_checkpoint_blob},
    {"attestations", "/v1/attestations", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL,
     0, net__h_attest_list},
    {"attest", "/v1/attestations", false, L_LED, M_POST, NET_AUTH_TOKEN, true, false, MSGPACK,
     WIRE_ATTEST_BODY_MAX, net__h_attest_post},
    {"finality", "/v1/finality", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL, 0,
     net__h_finality},
    {"cosignatures", "/v1/cosignatures", false, L_LED, M_GET, NET_AUTH_NONE, true, false, NULL,
     0, net__h_cosig_list},
    {"cosign", "/v1/cosignatures", false, L_LED, M_POST, NET_AUTH_TOKEN, true, false,
     "text/plain", 1024, net__h_cosign},
};
const size_t net__n_routes = sizeof(net__routes) / sizeof(net__routes[0]);

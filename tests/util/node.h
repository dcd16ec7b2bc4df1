/* A real `tally serve` for tests: a fresh log made by `tally init`, the node started as its own
 * process on loopback with ephemeral ports (read back from its output), HTTP to its listeners,
 * signed miner requests, admin calls, kill and restart. Every wait is bounded. */
#ifndef TALLY_TESTS_NODE_H
#define TALLY_TESTS_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/client.h"

enum { TN_INGEST = 0, TN_LEDGER = 1, TN_OPS = 2 };

typedef struct tn_node {
    const char *tmp;   /* the test's scratch directory (tu_tmpdir) */
    char dir[512];     /* the data directory */
    char out[600], err[600]; /* the node's stdout and stderr files */
    const char *env[16]; /* extra KEY=VALUE for the node's environment, NULL-terminated */
    pid_t pid;
    uint16_t port[3];
    char token[65];
    char origin[64];
    client_conn *conn[3];
} tn_node;

/* A new data directory with a log (origin "tally.local/1", netuid 1), not started. */
void tn_init(tn_node *n, const char *tag);
/* The same with another origin (a second node whose logins mean nothing at the first). */
void tn_init_origin(tn_node *n, const char *tag, const char *origin);
/* Starts the node (env: n->env) and waits until it listens; aborts the test if it does not
 * within 30 s. */
void tn_start(tn_node *n);
/* Sends sig and waits for the exit; returns the exit status (128 + signal if killed). */
int tn_stop(tn_node *n, int sig);
/* Removes the directory. */
void tn_free(tn_node *n);

typedef struct tn_resp {
    unsigned status;
    json_t *json; /* the parsed body, or NULL */
    char *body;   /* NUL-terminated copy */
    size_t n;
    char retry_after[16], rl_remaining[16], allow[64], request_id[80];
    char www_auth[96], etag[80], ctype[96], cenc[32], cache[96], cycle[24]; /* ledger headers */
} tn_resp;
void tn_resp_free(tn_resp *r);

/* One request to a listener (a keep-alive connection per listener). */
void tn_http(tn_node *n, int listener, const char *method, const char *target,
             const client_header *h, size_t nh, const void *body, size_t bn, const char *ctype,
             tn_resp *out);
/* An admin call on the ops listener with the admin token; json may be NULL. */
void tn_admin(tn_node *n, const char *method, const char *path, const char *json, tn_resp *out);

typedef struct tn_miner {
    uint8_t pk[32], sk[64];
    uint64_t nonce;
} tn_miner;
/* A miner key from a one-byte seed. */
void tn_miner_init(tn_miner *m, uint8_t seed);
/* A signed request (§4) at time t (0: now) with the given nonce (0: the miner's next). */
void tn_signed(tn_node *n, tn_miner *m, const char *method, const char *target,
               const uint8_t *body, size_t bn, uint64_t t, uint64_t nonce, tn_resp *out);
/* Feeds a METAGRAPH (block) binding the miners as uids 0.., and events ids[i] starting at
 * start_ms each with a moneyline market 1000 × id + 1 (home, away). Asserts 200. */
void tn_feed(tn_node *n, const tn_miner *miners, size_t k, uint64_t block, const uint64_t *ids,
             size_t n_ids, uint64_t start_ms);
/* An odds request body of one item per event (market 1000 × id + 1, odds 1.91/2.10), signed by
 * m for nonce; malloc'd. */
uint8_t *tn_odds(tn_node *n, const tn_miner *m, uint64_t nonce, const uint64_t *events, size_t k,
                 size_t *len);
/* Now in ms (the real clock). */
uint64_t tn_now(void);
/* The log's size, read with `tally stats`-free means (a read-only store open). */
uint64_t tn_size(tn_node *n);

#endif

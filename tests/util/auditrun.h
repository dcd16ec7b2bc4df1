/* Helpers of the auditor tests: a node fed with one miner and one auditor bound as a validator,
 * its cycles, `tally audit --once` against a port, the node's verifier key, and the
 * ATTESTATION records in a node's log. */
#ifndef TALLY_TESTS_AUDITRUN_H
#define TALLY_TESTS_AUDITRUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "schema/schema.h"
#include "util/node.h"

/* A METAGRAPH (block) binding miner m (no permit) as uid 0 and the auditor key as uid 1
 * (permit, 200,000 alpha, hotkey = key ^ 0x33), an event starting at start_ms with its
 * moneyline market 1000 × event + 1. */
void ta_feed(tn_node *n, const tn_miner *m, const uint8_t auditor[32], uint64_t block,
             uint64_t event, uint64_t start_ms);
/* ta_feed with n_auditors auditor keys bound as uids 1.. (each as ta_feed binds its one). */
void ta_feed_auditors(tn_node *n, const tn_miner *m, const uint8_t (*auditors)[32],
                      size_t n_auditors, uint64_t block, uint64_t event, uint64_t start_ms);
/* CHAIN_PARAMS (block 100) naming miner m's hotkey the subnet owner: every cycle burns to it,
 * so every cycle has a WEIGHTS record (and an auditor a weights.json) without settled events. */
void ta_chain_owner(tn_node *n, const tn_miner *m);
/* A `tally serve` started on the log in dir (not made by tally init: `tally simulate`, or a
 * forged copy) from its checkpoint, with its scratch files under tmp and the settings of env
 * (NULL-terminated, at most 14; NULL: none). */
void ta_serve_log(tn_node *n, const char *tmp, const char *origin, const char *dir,
                  const char *const *env);
/* The number of records in adir/replica; 0 when there is no replica yet. */
uint64_t ta_replica_size(const char *adir);
/* Asks the node for a cycle and waits until cycle `want` is in the log. */
void ta_cycle(tn_node *n, uint64_t want);
/* `tally audit --dir adir --once` against 127.0.0.1:port; its stdout in out; its exit code. */
int ta_audit_once(uint16_t port, const char *origin, const char *adir, const char *vkey,
                  char *out, size_t cap);
/* `tally audit --dir adir --status` (for the primary at 127.0.0.1:port); its stdout in out; its
 * exit code. */
int ta_audit_status(uint16_t port, const char *origin, const char *adir, const char *vkey,
                    char *out, size_t cap);
/* The node's verifier key string (`tally key`). */
void ta_node_vkey(const tn_node *n, char *out, size_t cap);
/* The ATTESTATION records in the node's log by key (NULL: anyone's) for cycle (0: any), read
 * beside the running node; the last of them in *last when last is not NULL and there is one. */
size_t ta_attestations_find(const tn_node *n, const uint8_t *key, uint64_t cycle,
                            schema_attestation *last);
/* The ATTESTATION records in the node's log, and the last one's cycle and verdict. */
size_t ta_attestations(const tn_node *n, uint64_t *last_cycle, uint64_t *verdict);

/* A `tally audit --dir adir` daemon: a round every second, its ops listener on an ephemeral port
 * (read from its first line of output, 30 s at most), peers (TALLY_AUDIT_PEERS) or NULL; a
 * keep-alive connection to the listener in conn. */
typedef struct ta_daemon {
    pid_t pid;
    uint16_t port;
    char out[700], err[700];
    client_conn *conn;
} ta_daemon;
void ta_daemon_start(ta_daemon *d, uint16_t ledger_port, const char *origin, const char *adir,
                     const char *vkey, const char *peers);
/* Sends sig and waits (60 s at most) for the exit; the exit status, 128 + signal if killed. */
int ta_daemon_stop(ta_daemon *d, int sig);

#endif

/* net: the validator node over HTTP (`tally serve`). Three listeners (ingest for miners, ledger
 * for auditors and the public, ops for health, metrics and the admin and feed API) on net/'s
 * HTTP engine; signed miner ingest with receipts after the durable commit; abuse control; the
 * node's scoring cycles on schedule while ingest goes on; JSON log lines and Prometheus
 * metrics. spec/protocol.md §3–§5, §7–§10 are its contract; docs/serve.md says how it is run.
 * No printing, no exit: the caller (cli/) gets statuses and a detail sentence. */
#ifndef TALLY_NET_NET_H
#define TALLY_NET_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/ops.h"
#include "schema/status.h"

#define NET_DETAIL_MAX 512u /* bytes of a failure's sentence, NUL included */
#define NET_ADMIN_TOKEN_FILE "admin.token" /* in the data directory unless configured */

typedef enum net_listener {
    NET_LISTEN_INGEST = 0,
    NET_LISTEN_LEDGER = 1,
    NET_LISTEN_OPS = 2,
    NET_LISTEN_COUNT
} net_listener;

typedef struct net_node net_node; /* opaque; one per data directory */

/* What net_node_run should do about the next signal the caller's thread took. */
typedef enum net_signal {
    NET_SIG_NONE = 0,
    NET_SIG_STOP,   /* SIGTERM or SIGINT: drain (protocol §9.6) */
    NET_SIG_RELOAD, /* SIGHUP: reload the configuration */
} net_signal;
/* Called by net_node_run in its loop: waits up to wait_ms for a signal and says which came. */
typedef net_signal (*net_signal_fn)(void *arg, unsigned wait_ms);
/* Builds the configuration anew from its sources (SIGHUP, POST /admin/v1/reload), refusing
 * changes to settings only a restart may change: the new one, which the node borrows from then
 * on (the caller keeps every configuration it returned alive until net_node_close), or NULL with
 * the reason in err (NET_DETAIL_MAX bytes), the node keeping its configuration. */
typedef const ops_config *(*net_reload_fn)(void *arg, const ops_config *current, char *err);

typedef struct net_node_cfg {
    const char *dir;        /* the data directory (holds the log and node.key) */
    const ops_config *conf; /* every TALLY_ setting; borrowed until net_node_close */
    ops_log *log;           /* where the node's JSON lines go; borrowed likewise */
    ops_clock *clock;       /* the node clock (real, or manual for tests); borrowed likewise */
    net_reload_fn reload;   /* optional: how SIGHUP and the admin reload get a configuration */
    void *reload_arg;
    char *detail;           /* optional, NET_DETAIL_MAX bytes: why net_node_open failed */
} net_node_cfg;

/* Opens the log in cfg->dir for writing (the writer lock is held until close), folds it (the
 * acceptance rules, the read view, the scoring engine), loads the bans, reads or creates the
 * admin token (0600; DIR/admin.token unless TALLY_ADMIN_TOKEN_FILE names one), and binds the
 * three listeners (their ports are known on return), without serving yet. Returns TALLY_ENOTFOUND
 * (no log), TALLY_ECONFLICT (another writer), TALLY_EIO (a port is taken), TALLY_EAUTH,
 * TALLY_ECORRUPT and what the store returns, with a sentence in cfg->detail. */
TALLY_MUST_USE tally_status net_node_open(const net_node_cfg *cfg, net_node **out);
/* The bound port of a listener. */
uint16_t net_node_port(const net_node *n, net_listener which);

/* Serves until a stop signal or net_node_stop, then drains: /health/ready turns 503, the
 * listeners stop accepting, every request still arriving on an open connection is answered 503
 * shutting_down for a short notice (a quarter of TALLY_SHUTDOWN_GRACE_S, at most 2 s), in-flight
 * requests get the rest of the grace period, the writer commits what it was given and stores the
 * final head, and the log is closed. Returns TALLY_OK after a clean drain; a store fault latched
 * during the run is returned as its status. Runs on the caller's thread; signals come through
 * sig (NULL: only net_node_stop stops it). */
TALLY_MUST_USE tally_status net_node_run(net_node *n, net_signal_fn sig, void *sig_arg);
/* Asks a running node to drain and return, from any thread. */
void net_node_stop(net_node *n);
/* Frees the node (after net_node_run returned, or instead of running it). NULL is a no-op. */
void net_node_close(net_node *n);

/* The admin token of the data directory's node (or TALLY_ADMIN_TOKEN_FILE's), made if missing:
 * 64 lower-case hex digits, one line, mode 0600; for `tally serve` and the CLI's admin
 * wrappers. out holds 65 bytes. TALLY_EIO, TALLY_EAUTH (not 0600), TALLY_EFORMAT. */
TALLY_MUST_USE tally_status net_admin_token(const char *path, bool create, char out[65],
                                            char *detail);


/* ---- the bans table with the node stopped (net/bans_offline.c; protocol §7.2, §9.5) ----
 * `tally ban` edits the LMDB `bans` table directly when no node runs: the writes go through
 * the store's writer, so they need the data directory's writer lock (a running node holds it,
 * and then the admin API is the way). A stopped node loads what was written at its next start. */
#define NET_BAN_ID_MAX 80u /* "ip:203.0.113.9", "ip:2001:db8:1:2::/64", "hotkey:<SS58>", NUL */
typedef struct net_ban_row {
    char id[NET_BAN_ID_MAX];
    uint64_t expires_ms; /* wall clock; 0 = permanent */
    char reason[24];     /* "admin", "forbidden", "cooldown_violations", or a critical code */
    uint64_t created_ms;
    uint32_t strikes;
    bool has_note;
    char note[257]; /* NUL-terminated; "" without a note */
} net_ban_row;

/* Every row of the bans table of dir, expired ones included (the node purges them hourly), in
 * key order (IPs, then hotkeys). Opens the log read-only, so it works beside a running node
 * too (whose newest decisions may then be a second behind). On TALLY_OK *out is malloc'd (the
 * caller frees it; NULL when *n_out is 0). TALLY_ENOTFOUND (no log), TALLY_ECORRUPT (a row that
 * does not decode), what store_open returns; a sentence in detail (NET_DETAIL_MAX, or NULL). */
TALLY_MUST_USE tally_status net_bans_offline_list(const char *dir, net_ban_row **out,
                                                  size_t *n_out, char *detail);
/* Adds or replaces the admin ban of one identity: kind "ip" or "hotkey" and id as the admin
 * routes take them (net_ident_parse: IPv4, IPv6 taken to its /64, SS58 or 64 hex), for seconds
 * from now_ms (0: permanent), with an optional note (≤ 256 bytes of text). Opens dir for
 * writing: TALLY_ECONFLICT when another process (a running node) holds the writer lock.
 * TALLY_EINVAL for a bad identity or note, TALLY_ENOTFOUND (no log), and what the store
 * returns. *out (optional) is the stored row. */
TALLY_MUST_USE tally_status net_bans_offline_add(const char *dir, const char *kind,
                                                 const char *id, uint64_t seconds,
                                                 const char *note, uint64_t now_ms,
                                                 net_ban_row *out, char *detail);
/* Removes one identity's ban: TALLY_ENOTFOUND when it has none; else as net_bans_offline_add. */
TALLY_MUST_USE tally_status net_bans_offline_remove(const char *dir, const char *kind,
                                                    const char *id, char *detail);

#endif

/* auditor: `tally audit`, an independent validator that trusts nothing the primary node says
 * until it has checked it (protocol §6.7). One round: fetch the primary's checkpoint note and
 * verify it against the pinned origin and node key, and its consistency with the last head this
 * auditor trusted (a smaller head, or one that is not an extension, is a split view: both heads
 * are kept as evidence); log in; pull deltas from the replica's verified size into a replica of
 * the primary's log in tally's own store (every header against the tree and the signed head,
 * every body against its header); fetch the bodies revealed since; replay the replica in the
 * gated view an auditor may read (every actor signature, the acceptance and record rules, every
 * derived record recomputed and compared byte for byte); apply the recompute policy; attest
 * each cycle checked (pass, fail with the reason and the first divergent seq, or paused); write
 * the weights of the last passing cycle for the process that sets weights on chain; cosign the
 * checkpoint it verified. Library code: no printing, no exit; statuses, results and log lines
 * through ops_log. */
#ifndef TALLY_AUDITOR_AUDIT_H
#define TALLY_AUDITOR_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"
#include "schema/status.h"

#define AUDIT_WHAT_MAX 768u
#define AUDIT_PEERS_MAX 16
#define AUDIT_WEIGHTS_FILE "weights.json" /* in the data directory (docs/audit.md) */
#define AUDIT_LOG_DIR "replica"           /* the replica's store, in the data directory */

typedef struct audit audit; /* opaque; one per data directory */

/* Attestation verdicts and reasons (protocol §2.5 ATTESTATION). */
typedef enum audit_verdict {
    AUDIT_PASS = 1,
    AUDIT_FAIL = 2,
    AUDIT_PAUSED = 3,
} audit_verdict;
typedef enum audit_reason {
    AUDIT_R_NONE = 0,
    AUDIT_R_DERIVED_MISMATCH = 1,
    AUDIT_R_STATE_MISMATCH = 2,
    AUDIT_R_INGEST_RULE = 3,
    AUDIT_R_SIGNATURE = 4,
    AUDIT_R_SPLIT_VIEW = 5,
    AUDIT_R_RECOMPUTE_RATE = 6,
    AUDIT_R_OTHER = 7,
    /* not an ATTESTATION reason: a bootstrap checkpoint refused (docs/audit.md), never attested
       and not sticky */
    AUDIT_R_BAD_CHECKPOINT = 8,
} audit_reason;
const char *audit_verdict_name(audit_verdict v);  /* "pass", "fail", "paused" */
const char *audit_reason_name(audit_reason r);    /* "none", "derived_mismatch", ... */

typedef struct audit_cfg {
    const char *dir;          /* the auditor's data directory (created if missing) */
    const char *primary_url;  /* http://host:port of the primary's ledger listener */
    const char *origin;       /* pinned: the log's origin */
    const char *primary_key;  /* pinned: the node's verifier key string (`tally key`), or its
                                 64 hex public key */
    const char *key_file;     /* the auditor's own Ed25519 seed (tally keygen), mode 0600 */
    uint64_t max_recompute_day, max_recompute_week; /* §6.7 recompute policy */
    uint64_t accept_paused;    /* the operator's override of that policy (0: none): cycles up
                                  to this one are not paused, and weights.json may hold the
                                  latest cycle up to it that matched, paused or not
                                  (TALLY_AUDIT_ACCEPT_PAUSED; docs/audit.md) */
    bool bootstrap_checkpoint; /* a new auditor (no cycle checked yet) skips the replay up to
                                  the latest final, undisputed cycle and resumes from its
                                  checkpoint (§6.5; docs/audit.md "Bootstrap") */
    bool no_post;             /* check and record verdicts but post nothing (dry run) */
    const char *peers;        /* other auditors' ops listeners, comma-separated http://host:port
                                 (TALLY_AUDIT_PEERS): their trusted heads are compared with this
                                 replica each round (split views); NULL or "": none */
    unsigned verify_threads;  /* threads verifying a delta's signatures; 0: online cores */
    uint64_t delta_records;   /* records asked for per delta; 0: WIRE_DELTA_RECORDS_MAX */
    bool all_signatures;      /* also verify derived records' actor signatures, which the
                                 replay recomputes anyway (TALLY_AUDIT_SIGNATURES=all;
                                 docs/decisions.md 66) */
    ops_log *log;             /* JSON lines (component "auditor"); borrowed */
    ops_clock *clock;         /* for nonces and cosignature times; borrowed */
    char *detail;             /* optional, AUDIT_WHAT_MAX bytes: why audit_open failed */
} audit_cfg;

/* Opens the data directory: the auditor's key, its persisted state and its replica (created
 * empty, pinned to origin and key, on first use). Connects to nothing yet. TALLY_EINVAL (a
 * setting missing or malformed), TALLY_EAUTH/EFORMAT/ENOTFOUND (the key file), TALLY_ECONFLICT
 * (the directory holds a replica of another log, or another process audits it), what the store
 * returns. */
TALLY_MUST_USE tally_status audit_open(const audit_cfg *cfg, audit **out);
void audit_close(audit *a); /* NULL is a no-op */

/* One cycle's verdict as attested (or, with no_post or while failing, as decided). */
typedef struct audit_cycle {
    uint64_t cycle, cycle_seq, state_seq;
    audit_verdict verdict;
    audit_reason reason;
    bool has_divergent_seq;
    uint64_t divergent_seq;
    uint8_t state_hash[32], weights_hash[32];
    uint64_t tree_size; /* the head attested under: the trusted one, or for a split view the */
    uint8_t root[32];   /* primary's head that is not consistent with it */
    bool posted;     /* the node took the ATTESTATION (or it was there already) */
    bool agrees;     /* the node said its root, state and weights hashes agree */
} audit_cycle;

/* What one round saw and did. */
typedef struct audit_round {
    uint64_t primary_size;  /* the checkpoint's size */
    uint64_t verified_size; /* the replica's size after the round */
    uint64_t pulled;        /* records added to the replica */
    uint64_t bodies_fetched, bodies_withheld; /* due embargoed bodies got / not served */
    uint64_t records_replayed, cycles_checked, last_cycle;
    uint64_t resumed_from;  /* the replay resumed from this cycle's state (0: from GENESIS) */
    uint64_t bootstrapped_from; /* this round took the final checkpoint of this cycle (0: no) */
    audit_cycle *cycles;    /* verdicts decided this round (malloc'd; audit_round_release) */
    size_t n_cycles;
    bool failed;            /* a divergence: reason, seq and what say which */
    audit_reason reason;
    bool has_seq;
    uint64_t seq;
    char what[AUDIT_WHAT_MAX];
    bool cosigned;          /* a cosignature of primary_size was posted */
    uint64_t peers_agree, peers_ahead, peers_unreachable; /* TALLY_AUDIT_PEERS this round */
    bool weights_written;
    uint64_t weights_cycle;
    double seconds;
    /* Where the round's wall-clock seconds went: checking checkpoints (GET, note, consistency
     * proof), the deltas' GETs and decoding, checking their records (canonical header, actor
     * signature, author, body), the replica's commits, the reveals, the replay with its
     * verdicts, and the posts (attestations, weights file, cosignature). */
    double checkpoint_s, fetch_s, verify_s, replicate_s, reveals_s, check_s, post_s;
} audit_round;
void audit_round_release(audit_round *r);

/* Runs one round (above). A divergence is not an error status: the round returns TALLY_OK with
 * r->failed, after attesting the fail and keeping the evidence; once failed, the auditor stays
 * failed (later rounds re-report it and attest nothing new) until an operator clears it. A
 * primary that cannot be reached or answers outside the protocol returns TALLY_EIO (r->what says
 * what) and changes nothing verified. Fills *r on every return. */
TALLY_MUST_USE tally_status audit_round_run(audit *a, audit_round *r);

/* The persisted summary (for /health, `tally audit --status` and tests). */
typedef struct audit_status {
    uint64_t trusted_size, replica_size, last_checked_cycle, last_attested_cycle;
    uint64_t last_pass_cycle;
    uint64_t bootstrap_cycle; /* the final checkpoint this auditor started from (0: GENESIS);
                                 last_checked_cycle counts it, though it was not checked here */
    bool failed;
    audit_reason reason;
    bool has_seq;
    uint64_t seq;
    char what[AUDIT_WHAT_MAX];
    uint64_t evidence; /* evidence items kept */
} audit_status;
void audit_status_get(audit *a, audit_status *out);

/* The checkpoint note this auditor trusts (verified with the pinned key and consistent with
 * every head it trusted before), as the primary served it, with this auditor's own C2SP
 * cosignature line (cosignature/v1, timestamped now, under `<hotkey SS58>.audit.<origin>`)
 * appended: the note it vouches for (GET /checkpoint of the ops listener). Into buf (cap bytes,
 * NUL-terminated, *n_out without the NUL). TALLY_ENOTFOUND before a head is trusted or while
 * the auditor's key is bound to no hotkey in the replica's METAGRAPH (its name is unknown),
 * TALLY_ELIMIT when cap is too small; then buf is "" and *n_out 0. Uses the handle like a
 * round: the same thread. */
TALLY_MUST_USE tally_status audit_checkpoint_note(audit *a, char *buf, size_t cap, size_t *n_out);

/* ---- the ops listener of the daemon (auditor/ops_http.c) ----
 * GET /health/live, /health (progress, lag and the verdict latch as JSON), /metrics (Prometheus
 * text 0.0.4) and /checkpoint (audit_checkpoint_note), on a thread of its own (httpd/), so it
 * answers while a round runs. It never touches the audit handle: the thread that runs the
 * rounds hands it a snapshot with audit_ops_update(); requests read the snapshot under a mutex.
 * docs/audit.md lists the fields. */
typedef struct audit_ops audit_ops; /* opaque */

typedef struct audit_ops_cfg {
    const char *host;        /* a numeric IPv4 or IPv6 literal (ops_hostport.addr) */
    uint16_t port;           /* 0: the kernel picks one (audit_ops_port) */
    const char *origin;      /* shown on /health; copied */
    const char *primary_url; /* shown on /health; copied */
    uint64_t poll_s;         /* the round interval: no round ended for 3 × this is degraded */
    ops_log *log;            /* borrowed; may be NULL */
} audit_ops_cfg;

/* Binds and starts the listener (one loop thread). On TALLY_OK *out belongs to the caller, who
 * ends it with audit_ops_close(). TALLY_EINVAL (bad address or cfg), TALLY_EIO (bind failed,
 * e.g. the port is taken), TALLY_ENOMEM; then nothing is left running. */
TALLY_MUST_USE tally_status audit_ops_open(const audit_ops_cfg *cfg, audit_ops **out);
uint16_t audit_ops_port(const audit_ops *o); /* the bound port */
/* A round begins (/health shows it running). */
void audit_ops_round_begin(audit_ops *o);
/* Takes a new snapshot from a (its persisted state and its cosigned checkpoint note) and, when
 * r is not NULL, from the round that just ended with status st: its sizes, phase times,
 * verdicts posted and whether it reached the primary. Call it from the thread that runs the
 * rounds (it reads a), after audit_open (r NULL) and after each round. */
void audit_ops_update(audit_ops *o, audit *a, const audit_round *r, tally_status st);
/* Stops the listener (open connections get no grace: ops requests are short), joins its thread
 * and frees everything. NULL is a no-op. */
void audit_ops_close(audit_ops *o);

/* ---- a node's ledger API as a log to compare (`tally diff URL`, remote.c) ----
 * Opens http://host:port of a ledger listener: its origin and node key from /v1/info, its
 * /log/checkpoint verified with that key, every level-0 hash tile fetched and checked to give
 * the checkpoint's root (32 bytes a record in memory). The source then serves those tiles, and
 * records from entry and body bundles (public bodies; every other body {NULL, 0}), each header
 * checked against its leaf (TALLY_ECORRUPT otherwise). TALLY_EINVAL (not such a URL), TALLY_EIO
 * (unreachable, an HTTP error), TALLY_EFORMAT, TALLY_EAUTH (the checkpoint does not verify),
 * TALLY_ECORRUPT (the tiles do not give its root), with a sentence in detail (AUDIT_WHAT_MAX). */
typedef struct audit_remote audit_remote;
struct ledger_diff_source;
TALLY_MUST_USE tally_status audit_remote_open(const char *url, audit_remote **out, char *detail);
/* The source over r (borrowed: r must outlive it). */
void audit_remote_source(audit_remote *r, struct ledger_diff_source *out);
void audit_remote_close(audit_remote *r); /* NULL is a no-op */

#endif

/* auditor internals shared by its files.
 *
 * Persisted state: the replica's side table STORE_SIDE_AUDIT (in the same LMDB as the replica,
 * each put one durable write transaction, so a state change is atomic):
 * | key              | value                                                              |
 * |------------------|--------------------------------------------------------------------|
 * | "state"          | JSON object: trusted_size, trusted_root (hex), trusted_note, the   |
 * |                  |   cycles checked / attested / last passed, bootstrap_cycle, nonce, |
 * |                  |   failed, reason,                                                  |
 * |                  |   seq, what, evidence (count)                                      |
 * | "evidence/" ‖ u64 BE n | JSON object: kind, what, seq, and the heads or bytes it keeps |
 *
 * The replica itself: DIR/replica, a store opened as a replica pinned to the origin and node
 * key (store_cfg.replica_pk), holding the primary's records and signed tree heads as served.
 */
#ifndef TALLY_AUDITOR_AUDIT_INT_H
#define TALLY_AUDITOR_AUDIT_INT_H

#include <jansson.h>

#include "auditor/audit.h"
#include "client/client.h"
#include "ledger/ledger.h"
#include "schema/schema.h"
#include "store/store.h"
#include "wire/wire.h"

#define AUDIT__NOTE_MAX 4096u

typedef struct audit__state {
    uint64_t trusted_size;
    uint8_t trusted_root[32];
    char trusted_note[AUDIT__NOTE_MAX]; /* the checkpoint note last trusted, "" if none */
    uint64_t last_checked_cycle, last_attested_cycle, last_pass_cycle;
    uint64_t bootstrap_cycle; /* the final checkpoint started from (0: GENESIS): the cycles up to
                                 it were not replayed here and are never attested */
    uint64_t nonce; /* the last attestation nonce used */
    bool failed;
    audit_reason reason;
    bool has_seq;
    uint64_t seq;
    char what[AUDIT_WHAT_MAX];
    uint64_t fail_cycle;         /* the cycle the fail is attested for; 0 until one exists */
    uint8_t fail_state_hash[32]; /* the auditor's own state hash of that cycle, or zero */
    uint64_t evidence;
} audit__state;

struct audit {
    audit_cfg cfg;
    char dir[4096];
    char origin[SCHEMA_ORIGIN_MAX + 1];
    uint8_t node_pk[32];
    char node_vkey[512];
    uint8_t pk[32];
    uint8_t *sk; /* sodium_malloc'd 64 bytes */
    char cosigner_name[256]; /* <auditor hotkey SS58>.audit.<origin>, once the hotkey is known */
    store_log *log;           /* the replica */
    client_conn *conn;
    client_url url;
    char token[65];           /* "" until logged in */
    uint64_t token_expires_ms;
    audit__state st;
    ops_log *olog;
    client_url peers[AUDIT_PEERS_MAX]; /* other auditors' ops listeners (TALLY_AUDIT_PEERS) */
    char peer_urls[AUDIT_PEERS_MAX][CLIENT_HOST_MAX + 64];
    size_t n_peers;
};

/* ---- peers.c: split views seen through other auditors ---- */
/* Parses TALLY_AUDIT_PEERS (comma-separated http://host:port, at most AUDIT_PEERS_MAX). */
TALLY_MUST_USE tally_status audit__peers_parse(audit *a, const char *list, char *detail);
/* Compares every peer's trusted head with this replica; a node-signed head of a size held here
 * with another root latches split_view (sync.c's audit__split_view). */
TALLY_MUST_USE tally_status audit__peers(audit *a, audit_round *r);

/* sync.c: latches split_view with evidence ev (taken), no seq: the heads disagree, and which
 * record differs is not known from a root alone */
TALLY_MUST_USE tally_status audit__split_view(audit *a, audit_round *r, json_t *ev,
                                              const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- state.c ---- */
TALLY_MUST_USE tally_status audit__state_load(audit *a);
TALLY_MUST_USE tally_status audit__state_save(audit *a);
/* Keeps one piece of evidence (a JSON object the callee takes ownership of). */
TALLY_MUST_USE tally_status audit__evidence(audit *a, json_t *ev);

/* ---- conn.c: talking to the primary ---- */
#define AUDIT_RATE_RETRIES 6 /* 429s waited out per request before it fails */
/* client_do, with a 429 waited out as the node asks (Retry-After, 1..10 s) and asked again,
 * up to AUDIT_RATE_RETRIES times, each wait logged to log (may be NULL). */
TALLY_MUST_USE tally_status audit__client_do(client_conn *c, const client_request *rq,
                                             client_response **out, ops_log *log);
/* One request to the primary; *out belongs to the caller. With bearer, the session token is
 * sent (logging in first when there is none or it was refused with token_invalid). TALLY_EIO
 * with what filled when the primary cannot be reached. */
TALLY_MUST_USE tally_status audit__get(audit *a, const char *target, bool bearer, bool msgpack,
                                       client_response **out, char *what);
TALLY_MUST_USE tally_status audit__post(audit *a, const char *target, const char *ctype,
                                        const void *body, size_t n, client_response **out,
                                        char *what);
/* The response body as a JSON object (new reference), or NULL. */
json_t *audit__json(const client_response *r);
TALLY_MUST_USE tally_status audit__login(audit *a, char *what);

/* ---- sync.c: the checkpoint and the replica ---- */
typedef struct audit__head {
    uint64_t size;
    uint8_t root[32];
    char note[AUDIT__NOTE_MAX]; /* the node's note alone, without cosignature lines */
    size_t note_n;
} audit__head;
/* Fetches and verifies the checkpoint and its consistency with the trusted head; on a split
 * view or rewind records the evidence, sets r->failed and returns TALLY_OK. */
TALLY_MUST_USE tally_status audit__checkpoint(audit *a, audit__head *head, audit_round *r);
/* Asks the primary for the consistency proof from `from` to `to` (GET /v1/proof/consistency)
 * and sets *ok when it proves that the tree with root_to extends the one with root_from.
 * TALLY_EIO (with a sentence in what) when the primary serves none. */
TALLY_MUST_USE tally_status audit__consistent(audit *a, uint64_t from, const uint8_t root_from[32],
                                              uint64_t to, const uint8_t root_to[32], bool *ok,
                                              char *what);
/* Pulls the records [replica size, head->size) into the replica; a delta that does not verify
 * sets r->failed (nothing of it stored). */
TALLY_MUST_USE tally_status audit__pull(audit *a, const audit__head *head, audit_round *r);
/* Fetches the bodies due by the replica's latest time that it does not hold; rules: the gated
 * rules at the replica's end (ledger_rules_open_gated). */
TALLY_MUST_USE tally_status audit__reveals(audit *a, const engine_rules *rules,
                                           audit_round *r);

/* ---- boot.c: bootstrap from a final checkpoint (§6.5) ---- */
/* Picks the latest final, undisputed cycle (the node's /v1/finality, checked in the replica's
 * own fold), checks the node's listing, the proofs and the blob, and stores the blob as that
 * cycle's state with the cycle taken as the last checked. TALLY_OK without doing anything when
 * no cycle qualifies or the node keeps no blob (the replay starts from GENESIS); r->failed with
 * AUDIT_R_BAD_CHECKPOINT (evidence kept, nothing else changed, not sticky) for a blob or a
 * listing the log contradicts; TALLY_EIO for an unreachable node or a malformed answer
 * (nothing written). */
TALLY_MUST_USE tally_status audit__bootstrap(audit *a, audit_round *r);

/* ---- sigs.c: the actor signatures of a delta, on cfg.verify_threads threads ---- */
/* *first_bad_out is the smallest index of d's entries whose header does not decode or whose
 * actor signature does not verify under a's origin, d->n when none: what checking them in order
 * would find first. Derived records' signatures are checked only with cfg.all_signatures. TALLY_OK, or TALLY_ENOMEM (then *first_bad_out is 0). */
TALLY_MUST_USE tally_status audit__sigs_first_bad(const audit *a, const wire_delta *d,
                                                  size_t *first_bad_out);

/* ---- check.c: replay, verdicts, the recompute policy ---- */
TALLY_MUST_USE tally_status audit__check(audit *a, const audit__head *head, audit_round *r);

/* ---- attest.c: attestations, the weights file, cosignatures ---- */
TALLY_MUST_USE tally_status audit__attest(audit *a, const audit__head *head, audit_round *r);
TALLY_MUST_USE tally_status audit__weights(audit *a, audit_round *r);
TALLY_MUST_USE tally_status audit__cosign(audit *a, const audit__head *head, audit_round *r);

/* A sentence into dst (AUDIT_WHAT_MAX bytes); returns st. */
tally_status audit__say(char *dst, tally_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC in seconds, for the round's phase times. */
double audit__now(void);

#endif

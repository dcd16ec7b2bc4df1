/* A misbehaving node, for the tamper matrix of `tally demo --tamper KIND` and the auditor tests
 * (docs/audit.md "The tamper matrix"). Two ways to misbehave:
 *
 * A rewriting proxy (tamper_proxy_*, proxy.c) in front of an honest node's ledger listener,
 * changing what an auditor is served: TAMPER_BODY (a non-public body in a delta one bit off),
 * TAMPER_HEADER (a header's time one ms later), TAMPER_DROPPED / TAMPER_INSERTED /
 * TAMPER_REORDERED (a record of a delta left out, served twice, swapped with the next),
 * TAMPER_WITHHELD (every embargoed body stripped from deltas and /v1/records), TAMPER_REWIND
 * (an older checkpoint note served instead of the current one), TAMPER_BAD_CHECKPOINT (a state
 * blob one bit off). Each acts on the first record at or after cfg.from it can.
 *
 * A forged log (tamper_forge, forge.c), for the rows that no proxy can play because the node
 * itself must sign the lie.
 *
 * tamper_forge() copies a node's log into a new directory record by record, changing one, and
 * re-signs the changed record and every tree head with the node's own key: the forged log is
 * internally consistent (every signature, the tree, every head verify), so only a replay of its
 * inputs can tell. Kinds:
 * - TAMPER_FORGED_DERIVED: the first MINER_SCORE's skill is one unit higher (a derived record
 *   that does not follow from the inputs);
 * - TAMPER_CHANGED_INPUT: the first provider OUTCOME (source 1, not void) of an event whose rows
 *   some SUBMISSION_SCORE scored with an outcome reports the other side as the winner, its
 *   scores swapped (an input changed after the cycles that scored it);
 * - TAMPER_RULE_VIOLATION: the first CLOSE's close_ms is one ms early (a record the acceptance
 *   rules refuse: close_ms must be the event's start).
 * The cycles' checkpoint files are copied unchanged: a `tally serve` started on the forged log
 * with TALLY_START_REPLAY=checkpoint (from its last cycle's checkpoint, nothing before it judged
 * again) serves it without noticing, as a node that trusted its own disk would.
 *
 * Library code: never prints, never exits. */
#ifndef TALLY_TAMPER_H
#define TALLY_TAMPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/status.h"

/* In the order of the matrix; TAMPER_SPLIT_VIEW is played by two nodes (tests, demo). */
typedef enum tamper_kind {
    TAMPER_BODY,
    TAMPER_HEADER,
    TAMPER_DROPPED,
    TAMPER_INSERTED,
    TAMPER_REORDERED,
    TAMPER_FORGED_DERIVED,
    TAMPER_CHANGED_INPUT,
    TAMPER_RULE_VIOLATION,
    TAMPER_SPLIT_VIEW,
    TAMPER_REWIND,
    TAMPER_WITHHELD,
    TAMPER_BAD_CHECKPOINT,
} tamper_kind;
#define TAMPER_KINDS 12u

#define TAMPER_DETAIL_MAX 512

typedef struct tamper_forged {
    uint64_t seq;         /* the changed record */
    unsigned type;        /* its schema_type */
    uint64_t records;     /* records in the forged log (as many as in the source) */
    uint64_t checkpoints; /* checkpoint files copied */
} tamper_forged;

/* The kind named `name` ("body", "header", …, "bad-checkpoint"); false if none. */
bool tamper_kind_parse(const char *name, tamper_kind *out);
const char *tamper_kind_name(tamper_kind k);

/* Forges the log in src (a node's log with its node.key, not being written) into dst (an
 * existing empty directory). Returns TALLY_ENOTFOUND when src holds no record of the kind's
 * type, TALLY_ECONFLICT when dst already holds a log, the store's errors otherwise, with a
 * sentence in detail (TAMPER_DETAIL_MAX bytes, or NULL). On failure dst may hold a partial
 * log: remove it. */
TALLY_MUST_USE tally_status tamper_forge(const char *src, const char *dst, tamper_kind kind,
                                         tamper_forged *out, char *detail);

/* The same copy with nothing changed (out->seq 0): an honest node's log for a demo to serve
 * and tamper with through a proxy, leaving the original untouched. */
TALLY_MUST_USE tally_status tamper_copy(const char *src, const char *dst, tamper_forged *out,
                                        char *detail);

/* One view of a split (TAMPER_SPLIT_VIEW): the same copy and one EVENT more, its home team
 * "View <A + variant>", signed by the node at the last record's time (out->seq: that record).
 * Two variants are two logs of the same size under one key, each replaying cleanly: what a node
 * that shows two auditors two views holds. */
TALLY_MUST_USE tally_status tamper_fork(const char *src, const char *dst, unsigned variant,
                                        tamper_forged *out, char *detail);

/* Not a row of the matrix: the same copy with one bit of the actor signature of the first
 * record of `type` flipped, and the tree and every head made over the changed header, so
 * everything but that one signature verifies (a node that signs a head over a record whose
 * signature is bad). TALLY_EINVAL for GENESIS or an unknown type, TALLY_ENOTFOUND when src
 * holds no record of it. For the tests of which signatures an auditor checks (decision 66). */
TALLY_MUST_USE tally_status tamper_forge_signature(const char *src, const char *dst,
                                                   unsigned type, tamper_forged *out,
                                                   char *detail);

/* True for the kinds tamper_proxy plays. */
bool tamper_kind_is_proxy(tamper_kind k);

/* Called for each answer instead of a built-in kind: target as requested, status and body; may
 * replace the body with a malloc'd one (*out, *out_n; the proxy frees it). From the proxy's
 * thread, one call at a time. */
typedef void (*tamper_rewrite_fn)(void *arg, const char *target, unsigned status,
                                  const uint8_t *body, size_t n, uint8_t **out, size_t *out_n);
typedef struct tamper_proxy_cfg {
    uint16_t upstream_port; /* the honest node's ledger listener on 127.0.0.1 */
    tamper_kind kind;       /* a proxy kind, unless fn is given */
    uint64_t from;          /* tamper with the first eligible record at or after this seq */
    const char *old_note;   /* TAMPER_REWIND: the older checkpoint note to serve (copied) */
    size_t old_n;
    tamper_rewrite_fn fn; /* optional: a caller's rewrite instead of the kind's */
    void *arg;
} tamper_proxy_cfg;
typedef struct tamper_proxy tamper_proxy;
/* Listens on 127.0.0.1 (an ephemeral port) and serves from a thread. TALLY_EINVAL (not a proxy
 * kind, or TAMPER_REWIND without old_note), TALLY_EIO (cannot listen), TALLY_ENOMEM. */
TALLY_MUST_USE tally_status tamper_proxy_start(const tamper_proxy_cfg *cfg, tamper_proxy **out,
                                               char *detail);
uint16_t tamper_proxy_port(const tamper_proxy *p);
/* Whether it has tampered yet, and with which seq (the one an auditor must name: the changed,
 * dropped or swapped record, the one pushed in for TAMPER_INSERTED, the first body withheld;
 * 0 for TAMPER_REWIND and TAMPER_BAD_CHECKPOINT, which change no record). */
bool tamper_proxy_done(tamper_proxy *p, uint64_t *seq);
void tamper_proxy_stop(tamper_proxy *p); /* NULL is a no-op */

#endif

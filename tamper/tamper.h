/* A misbehaving node, for the tamper matrix of `tally demo --tamper KIND` and the auditor tests:
 * the rows that no proxy can play because the node itself must sign the lie.
 *
 * tamper_forge() copies a node's log into a new directory record by record, changing one, and
 * re-signs the changed record and every tree head with the node's own key: the forged log is
 * internally consistent (every signature, the tree, every head verify), so only a replay of its
 * inputs can tell. Kinds:
 * - TAMPER_FORGED_DERIVED: the first MINER_SCORE's skill is one unit higher (a derived record
 *   that does not follow from the inputs);
 * - TAMPER_CHANGED_INPUT: the first provider OUTCOME (source 1) with a result reports the other
 *   side as the winner, its scores swapped (an input changed after the cycles that scored it);
 * - TAMPER_RULE_VIOLATION: the first CLOSE's close_ms is one ms early (a record the acceptance
 *   rules refuse: close_ms must be the event's start).
 * The cycles' checkpoint files are copied unchanged: a `tally serve` started on the forged log
 * with TALLY_START_REPLAY=checkpoint, from a cycle after the forged record, serves it without
 * noticing, as a node that trusted its own disk would.
 *
 * Library code: never prints, never exits. */
#ifndef TALLY_TAMPER_H
#define TALLY_TAMPER_H

#include <stdbool.h>
#include <stdint.h>

#include "schema/status.h"

typedef enum tamper_kind {
    TAMPER_FORGED_DERIVED,
    TAMPER_CHANGED_INPUT,
    TAMPER_RULE_VIOLATION,
} tamper_kind;

#define TAMPER_DETAIL_MAX 512

typedef struct tamper_forged {
    uint64_t seq;      /* the changed record */
    unsigned type;     /* its schema_type */
    uint64_t records;  /* records in the forged log (as many as in the source) */
    uint64_t checkpoints; /* checkpoint files copied */
} tamper_forged;

/* The kind named `name` ("forged-derived", "changed-input", "rule-violation"); false if none. */
bool tamper_kind_parse(const char *name, tamper_kind *out);
const char *tamper_kind_name(tamper_kind k);

/* Forges the log in src (a node's log with its node.key, not being written) into dst (an
 * existing empty directory). Returns TALLY_ENOTFOUND when src holds no record of the kind's
 * type, TALLY_ECONFLICT when dst already holds a log, the store's errors otherwise, with a
 * sentence in detail (TAMPER_DETAIL_MAX bytes, or NULL). On failure dst may hold a partial
 * log: remove it. */
TALLY_MUST_USE tally_status tamper_forge(const char *src, const char *dst, tamper_kind kind,
                                         tamper_forged *out, char *detail);

#endif

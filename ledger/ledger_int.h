/* ledger internals shared by its files: reading bodies by seq (for checkpoints and reveals),
 * folding a range of the log into the engine, and what the gated view may read where. */
#ifndef TALLY_LEDGER_LEDGER_INT_H
#define TALLY_LEDGER_LEDGER_INT_H

#include "ledger/ledger.h"

/* Bodies by seq, asked for in ascending order: one iterator streams forward over short gaps. In
 * the gated view (gate set) only what an authenticated auditor may read (protocol §2.3): never
 * a private body, an embargoed one only once its reveal is due by `cut`. */
typedef struct ledger__fetcher {
    store_log *log;
    store_iter *it;
    uint64_t next; /* seq the iterator returns next */
    const engine_rules *gate;
    uint64_t cut;
} ledger__fetcher;

/* An engine_fetch_fn over a ledger__fetcher. TALLY_ENOTFOUND for a body the view may not read. */
tally_status ledger__fetch(uint64_t seq, void *arg, schema_header *h, schema_body *b);
/* Whether the view (gate NULL: the operator's full view) may read record seq's body where it
 * stands in the log. */
bool ledger__visible(const engine_rules *gate, uint64_t seq, const schema_header *h);
/* A checkpoint state loaded with bodies as the view allows at time cut. */
tally_status ledger__load_state(store_log *log, const engine_rules *gate, uint64_t cut,
                                const uint8_t *state, size_t n, engine **out);
/* Folds records [engine_next_seq, to) into e; a body the view may not read is folded from its
 * header. A SCORING_CYCLE in the range must already have been computed by the caller. */
tally_status ledger__fold_range(store_log *log, const engine_rules *gate, engine *e, uint64_t to);

/* ledger_rules_fold, calling fn with each record folded (not the derived ones) after the rules
 * took it; fn may take the body's memory (and then zero *b). */
typedef tally_status (*ledger__fold_fn)(void *arg, const schema_header *h, schema_body *b);
tally_status ledger__rules_fold_with(store_log *log, engine_rules *r, uint64_t to,
                                     ledger__fold_fn fn, void *arg);

/* Folds records [engine_rules_size(r), to) into r in the gated view of gate (NULL: r is its
 * own gate): a body the view may not read where it stands, or an embargoed body the log lacks,
 * is folded from its header. */
tally_status ledger__rules_fold_gated(store_log *log, const engine_rules *gate, engine_rules *r,
                                      uint64_t to);
/* The rules at the end of the log, folded in the full view or the gated one. */
tally_status ledger__rules_open_with(store_log *log, bool gated, engine_rules **out);

/* The decoded header of record seq (one random read). TALLY_ENOTFOUND past the log. */
tally_status ledger__header_at(store_log *log, uint64_t seq, schema_header *h);

#endif

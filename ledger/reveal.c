/* The gated view's rules over a log that may lack bodies (an auditor's replica): folded from
 * headers where the view may not read the body, and the embargoed records whose bodies are due
 * by the log's latest time but not yet held. */
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

tally_status ledger__rules_fold_gated(store_log *log, const engine_rules *gate, engine_rules *r,
                                      uint64_t to)
{
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    tally_status st;

    if (engine_rules_size(r) >= to) {
        return TALLY_OK;
    }
    st = store_iter_open(log, engine_rules_size(r), &it);
    while (st == TALLY_OK && (st = store_iter_read(it, false, &rec, &h, &b)) == TALLY_OK &&
           rec.seq < to) {
        schema_body d = {.type = (unsigned)h.type};
        /* a body the view may read where it stands, and the log holds (a replica may still lack
         * an embargoed body revealed at its own time: it is folded from its header) */
        bool has_body = h.type < SCHEMA_SUBMISSION_SCORE &&
                        ledger__visible(gate != NULL ? gate : r, rec.seq, &h) &&
                        (rec.body.p != NULL || h.tier != SCHEMA_EMBARGOED);
        if (has_body) {
            st = store_record_body(&rec, &h, &b);
        }
        if (st == TALLY_OK) {
            st = engine_rules_apply(r, rec.seq, &h,
                                    has_body ? &b : h.type >= SCHEMA_SUBMISSION_SCORE ? &d : NULL);
        }
        schema_body_release(&b);
    }
    store_iter_close(it);
    return st == TALLY_ENOTFOUND || (st == TALLY_OK && rec.seq >= to) ? TALLY_OK : st;
}

tally_status ledger_rules_open_gated(store_log *log, engine_rules **out)
{
    return ledger__rules_open_with(log, true, out);
}

tally_status ledger_reveals_due(store_log *log, const engine_rules *rules, uint64_t **seqs_out,
                                size_t *n_out)
{
    engine_rules *own = NULL;
    uint64_t *due = NULL;
    size_t n = 0, kept = 0;
    store_iter *it = NULL;
    tally_status st = rules != NULL ? TALLY_OK : ledger_rules_open_gated(log, &own);
    const engine_rules *r = rules != NULL ? rules : own;

    *seqs_out = NULL, *n_out = 0;
    if (st != TALLY_OK) {
        return st;
    }
    /* due by the log's latest time: the node's clock is never below it (§2.3) */
    st = engine_rules_due(r, engine_rules_last_time(r), &due, &n);
    engine_rules_free(own);
    /* keep those whose body the log does not hold */
    for (size_t i = 0; st == TALLY_OK && i < n; i++) {
        store_record rec;
        if (it == NULL || i == 0 || due[i] < due[i - 1] || due[i] - due[i - 1] > 512) {
            store_iter_close(it);
            st = store_iter_open(log, due[i], &it);
        }
        do {
            st = st == TALLY_OK ? store_iter_next(it, &rec) : st;
        } while (st == TALLY_OK && rec.seq < due[i]);
        if (st == TALLY_OK && rec.seq == due[i] && rec.body.p == NULL) {
            due[kept++] = due[i];
        }
    }
    store_iter_close(it);
    if (st != TALLY_OK) {
        free(due);
        return st;
    }
    if (kept == 0) {
        free(due);
        due = NULL;
    }
    *seqs_out = due, *n_out = kept;
    return TALLY_OK;
}

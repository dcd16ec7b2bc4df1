/* Reading records for the engine: bodies by seq for checkpoints and reveals, folding a range of
 * the log, and what a gated reader may read where (protocol §2.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

/* Whether a reader of the view may read the body of record seq where it stands in the log (gate
 * NULL: the operator's full view). */
bool ledger__visible(const engine_rules *gate, uint64_t seq, const schema_header *h)
{
    uint64_t at;

    if (gate == NULL || h->tier == SCHEMA_PUBLIC || h->tier == SCHEMA_GATED) {
        return true;
    }
    return h->tier == SCHEMA_EMBARGOED && engine_rules_reveal_at(gate, seq, h, &at) == TALLY_OK &&
           at <= h->time_ms;
}

tally_status ledger__fetch(uint64_t seq, void *arg, schema_header *h, schema_body *b)
{
    ledger__fetcher *f = arg;
    store_record r;
    tally_status st;

    /* stream forward over short gaps; jump (a new iterator) over long ones or backwards */
    if (f->it == NULL || seq < f->next || seq - f->next > 512) {
        store_iter_close(f->it);
        f->it = NULL;
        st = store_iter_open(f->log, seq, &f->it);
        if (st != TALLY_OK) {
            return st;
        }
    }
    do {
        st = store_iter_next(f->it, &r);
    } while (st == TALLY_OK && r.seq < seq);
    if (st != TALLY_OK) {
        return st;
    }
    f->next = r.seq + 1;
    if (r.seq != seq) {
        return TALLY_ENOTFOUND;
    }
    st = schema_header_decode(r.header.p, r.header.n, h);
    if (st == TALLY_OK && f->gate != NULL) {
        uint64_t at;
        if (h->tier == SCHEMA_PRIVATE ||
            (h->tier == SCHEMA_EMBARGOED &&
             (engine_rules_reveal_at(f->gate, seq, h, &at) != TALLY_OK || at > f->cut))) {
            return TALLY_ENOTFOUND; /* not yet readable in this view */
        }
    }
    if (st == TALLY_OK) {
        /* a body the log lacks: damage in the operator's view; in the gated view (a replica),
         * a body never served */
        st = r.body.p     ? schema_record_check(h, r.body.p, r.body.n, b)
             : f->gate    ? TALLY_ENOTFOUND
                          : TALLY_ECORRUPT;
    }
    return st;
}

/* Loads a checkpoint state; with gate, bodies are read as the gated view allows at time cut
 * (the cycle's: the time of record covers_to − 1). */
tally_status ledger__load_state(store_log *log, const engine_rules *gate, uint64_t cut,
                               const uint8_t *state, size_t n, engine **out)
{
    ledger__fetcher f = {.log = log, .gate = gate, .cut = cut};
    tally_status st = engine_load(state, n, ledger__fetch, &f, out);
    store_iter_close(f.it);
    return st;
}

/* Applies records [engine_next_seq, to) to the engine, checking each body against its header;
 * with gate, a body the view may not read yet is folded from its header. A SCORING_CYCLE in the
 * range must already have been computed by the caller. */
tally_status ledger__fold_range(store_log *log, const engine_rules *gate, engine *e, uint64_t to)
{
    store_iter *it;
    store_record r;
    schema_header h;
    schema_body b;
    tally_status st;

    if (engine_next_seq(e) >= to) {
        return TALLY_OK;
    }
    st = store_iter_open(log, engine_next_seq(e), &it);
    while (st == TALLY_OK && (st = store_iter_read(it, false, &r, &h, &b)) == TALLY_OK &&
           r.seq < to) {
        if (h.type == SCHEMA_SCORING_CYCLE || h.type >= SCHEMA_SUBMISSION_SCORE ||
            !ledger__visible(gate, r.seq, &h)) {
            st = engine_apply(e, r.seq, &h, NULL);
            continue;
        }
        st = store_record_body(&r, &h, &b);
        if (st == TALLY_OK) {
            st = engine_apply(e, r.seq, &h, &b);
            schema_body_release(&b);
        }
    }
    store_iter_close(it);
    return st == TALLY_ENOTFOUND || (st == TALLY_OK && r.seq >= to) ? TALLY_OK : st;
}

tally_status ledger__header_at(store_log *log, uint64_t seq, schema_header *h)
{
    store_iter *it;
    store_record r;
    tally_status st = store_iter_open(log, seq, &it);

    memset(h, 0, sizeof(*h));
    if (st == TALLY_OK) {
        st = store_iter_next(it, &r);
    }
    if (st == TALLY_OK) {
        st = r.seq == seq ? schema_header_decode(r.header.p, r.header.n, h) : TALLY_ENOTFOUND;
    }
    store_iter_close(it);
    return st;
}

tally_status ledger_state_load(store_log *log, const uint8_t *state, size_t n, engine **out)
{
    return ledger__load_state(log, NULL, 0, state, n, out);
}

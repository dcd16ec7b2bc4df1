/* The actor signatures of a delta, verified in parallel before take_entries walks it (sync.c).
 * The walk still checks each record in order and stops at the first failure; this file only
 * answers "is record i's signature bad" as "i is the smallest bad index", which is all the walk
 * can ask before it stops (schema_record_verify_batch gives exactly that index).
 *
 * Which signatures: every input record's, always; a derived record's only with
 * TALLY_AUDIT_SIGNATURES=all, or while an auditor that may bootstrap from a checkpoint has
 * checked no cycle (its replay may skip the cycles of these records). The replay recomputes
 * every derived record and compares its bytes, and the node-signed head the delta is checked
 * against covers its header, so its own signature adds nothing to the verdict (decision 66)
 * while costing three quarters of the Ed25519 work of a catch-up. */
#include <stdlib.h>
#include <string.h>

#include "auditor/audit_int.h"

tally_status audit__sigs_first_bad(const audit *a, const wire_delta *d, size_t *first_bad_out)
{
    tally_str origin = {a->origin, strlen(a->origin)};
    tally_bytes *h;
    size_t *at, n = 0, bad;
    tally_status st;

    *first_bad_out = 0;
    if (d->n == 0) {
        return TALLY_OK;
    }
    /* d->n ≤ WIRE_DELTA_RECORDS_MAX: at most 1 MiB each */
    h = malloc(d->n * sizeof(*h));
    at = malloc(d->n * sizeof(*at));
    if (h == NULL || at == NULL) {
        free(h);
        free(at);
        return TALLY_ENOMEM;
    }
    bool all = a->cfg.all_signatures ||
               (a->cfg.bootstrap_checkpoint && a->st.last_checked_cycle == 0);
    for (size_t i = 0; i < d->n; i++) {
        schema_header hd;
        /* a header that does not decode is bad here, as in the batch, whatever its type */
        if (!all &&
            schema_header_decode(d->entries[i].header.p, d->entries[i].header.n, &hd) == TALLY_OK &&
            schema_type_derived((unsigned)hd.type)) {
            continue;
        }
        h[n] = d->entries[i].header, at[n++] = i;
    }
    st = schema_record_verify_batch(h, n, origin, a->cfg.verify_threads, &bad);
    if (st == TALLY_OK) {
        *first_bad_out = bad < n ? at[bad] : d->n;
    }
    free(h);
    free(at);
    return st;
}

/* The actor signatures of a delta, verified in parallel before take_entries walks it (sync.c).
 * The walk still checks each record in order and stops at the first failure; this file only
 * answers "is record i's signature bad" as "i is the smallest bad index", which is all the walk
 * can ask before it stops (schema_record_verify_batch gives exactly that index). */
#include <stdlib.h>
#include <string.h>

#include "auditor/audit_int.h"

tally_status audit__sigs_first_bad(const audit *a, const wire_delta *d, size_t *first_bad_out)
{
    tally_str origin = {a->origin, strlen(a->origin)};
    tally_bytes *h;
    tally_status st;

    *first_bad_out = 0;
    if (d->n == 0) {
        return TALLY_OK;
    }
    h = malloc(d->n * sizeof(*h)); /* d->n ≤ WIRE_DELTA_RECORDS_MAX: at most 1 MiB */
    if (h == NULL) {
        return TALLY_ENOMEM;
    }
    for (size_t i = 0; i < d->n; i++) {
        h[i] = d->entries[i].header;
    }
    st = schema_record_verify_batch(h, d->n, origin, a->cfg.verify_threads, first_bad_out);
    free(h);
    return st;
}

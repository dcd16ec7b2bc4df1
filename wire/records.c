/* The msgpack form of a /v1/records answer, read back strictly (the auditor fetches revealed
 * bodies with it). */
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"

void wire_records_release(wire_records *r)
{
    if (r == NULL) {
        return;
    }
    free(r->entries);
    memset(r, 0, sizeof(*r));
}

tally_status wire_records_decode(const uint8_t *p, size_t n, wire_records *out)
{
    schema_mpr r;
    size_t count;

    memset(out, 0, sizeof(*out));
    schema_mpr_init(&r, p, n);
    if (schema_mpr_array(&r) != 3) {
        return TALLY_EFORMAT;
    }
    out->from = schema_mpr_uint(&r);
    out->to = schema_mpr_uint(&r);
    count = schema_mpr_array(&r);
    if (r.bad || out->to < out->from || out->to - out->from != count || count > WIRE_RECORDS_MAX) {
        memset(out, 0, sizeof(*out));
        return TALLY_EFORMAT;
    }
    out->entries = calloc(count ? count : 1, sizeof(*out->entries));
    if (out->entries == NULL) {
        memset(out, 0, sizeof(*out));
        return TALLY_ENOMEM;
    }
    out->n = count;
    for (size_t i = 0; i < count && !r.bad; i++) {
        wire_delta_entry *e = &out->entries[i];
        schema_header h;
        if (schema_mpr_array(&r) != 2) {
            r.bad = true;
            break;
        }
        e->header.p = schema_mpr_bin(&r, &e->header.n);
        if (r.bad || e->header.n < 1 || e->header.n > 255 ||
            schema_header_decode(e->header.p, e->header.n, &h) != TALLY_OK) {
            r.bad = true;
            break;
        }
        if (!schema_mpr_nil(&r)) {
            e->body.p = schema_mpr_bin(&r, &e->body.n);
            e->has_body = true;
            if (r.bad || e->body.n < 1 || e->body.n > SCHEMA_BODY_MAX) {
                r.bad = true;
            }
        }
    }
    if (schema_mpr_end(&r) != TALLY_OK) {
        wire_records_release(out);
        return TALLY_EFORMAT;
    }
    return TALLY_OK;
}

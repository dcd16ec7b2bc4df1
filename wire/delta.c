/* §6.4 deltas: canonical `["tally-delta-v1", from, to, size, [[header, body|nil]…], [hash…],
 * sth]`, written by the node and read back strictly by the auditor (schema_mpr accepts the
 * smallest forms only, so a decoded delta has exactly one byte form). */
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"

static const char tag[] = "tally-delta-v1";

#define HEADER_MAX 255u /* a header is 141–158 bytes (§2.1); anything above 255 is not one */

static bool bounds_ok(const wire_delta *d)
{
    if (d->from > d->to || d->to > d->size || d->to - d->from != d->n ||
        d->n > WIRE_DELTA_RECORDS_MAX || d->n_proof > 64 || d->size > SCHEMA_ID_MAX ||
        (d->n > 0 && d->entries == NULL) || (d->n_proof > 0 && d->proof == NULL) ||
        d->sth.p == NULL || d->sth.n == 0) {
        return false;
    }
    for (size_t i = 0; i < d->n; i++) {
        const wire_delta_entry *e = &d->entries[i];
        if (e->header.n == 0 || e->header.n > HEADER_MAX ||
            (e->has_body && (e->body.n == 0 || e->body.n > SCHEMA_BODY_MAX))) {
            return false;
        }
    }
    return true;
}

tally_status wire_delta_encode(const wire_delta *d, uint8_t **out, size_t *n_out)
{
    schema_mpw w;

    *out = NULL, *n_out = 0;
    if (!bounds_ok(d)) {
        return TALLY_EINVAL;
    }
    schema_mpw_init(&w, WIRE_DELTA_BYTES_MAX);
    schema_mpw_array(&w, 7);
    schema_mpw_str(&w, tag, sizeof(tag) - 1);
    schema_mpw_uint(&w, d->from);
    schema_mpw_uint(&w, d->to);
    schema_mpw_uint(&w, d->size);
    schema_mpw_array(&w, d->n);
    for (size_t i = 0; i < d->n; i++) {
        schema_mpw_array(&w, 2);
        schema_mpw_bin(&w, d->entries[i].header.p, d->entries[i].header.n);
        if (d->entries[i].has_body) {
            schema_mpw_bin(&w, d->entries[i].body.p, d->entries[i].body.n);
        } else {
            schema_mpw_nil(&w);
        }
    }
    schema_mpw_array(&w, d->n_proof);
    for (size_t i = 0; i < d->n_proof; i++) {
        schema_mpw_bin(&w, d->proof[i], 32);
    }
    schema_mpw_raw(&w, d->sth.p, d->sth.n);
    return schema_mpw_finish(&w, out, n_out);
}

void wire_delta_release(wire_delta *d)
{
    if (d == NULL) {
        return;
    }
    free(d->entries);
    free(d->proof);
    memset(d, 0, sizeof(*d));
}

static tally_status read_entries(schema_mpr *r, wire_delta *d)
{
    size_t n = schema_mpr_array(r);

    if (r->bad || n > WIRE_DELTA_RECORDS_MAX || !schema_mpr_count_ok(r, n * 3)) {
        return TALLY_EFORMAT;
    }
    d->entries = calloc(n ? n : 1, sizeof(*d->entries));
    if (d->entries == NULL) {
        return TALLY_ENOMEM;
    }
    d->n = n;
    for (size_t i = 0; i < n && !r->bad; i++) {
        wire_delta_entry *e = &d->entries[i];
        schema_header h;
        if (schema_mpr_array(r) != 2) {
            return TALLY_EFORMAT;
        }
        e->header.p = schema_mpr_bin(r, &e->header.n);
        if (e->header.p == NULL || e->header.n > HEADER_MAX ||
            schema_header_decode(e->header.p, e->header.n, &h) != TALLY_OK) {
            return TALLY_EFORMAT;
        }
        if (!schema_mpr_nil(r)) {
            e->has_body = true;
            e->body.p = schema_mpr_bin(r, &e->body.n);
            if (e->body.p == NULL || e->body.n == 0 || e->body.n > SCHEMA_BODY_MAX) {
                return TALLY_EFORMAT;
            }
        }
    }
    return r->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status read_proof(schema_mpr *r, wire_delta *d)
{
    size_t n = schema_mpr_array(r);

    if (r->bad || n > 64 || !schema_mpr_count_ok(r, n * 34)) {
        return TALLY_EFORMAT;
    }
    d->proof = calloc(n ? n : 1, sizeof(*d->proof));
    if (d->proof == NULL) {
        return TALLY_ENOMEM;
    }
    d->n_proof = n;
    for (size_t i = 0; i < n; i++) {
        schema_mpr_bin_fixed(r, d->proof[i], 32);
    }
    return r->bad ? TALLY_EFORMAT : TALLY_OK;
}

tally_status wire_delta_decode(const uint8_t *p, size_t n, wire_delta *out, schema_sth *sth_out)
{
    schema_mpr r;
    const char *s;
    size_t sn, at;
    tally_status st;

    memset(out, 0, sizeof(*out));
    memset(sth_out, 0, sizeof(*sth_out));
    if (p == NULL || n == 0 || n > WIRE_DELTA_BYTES_MAX) {
        return TALLY_EFORMAT;
    }
    schema_mpr_init(&r, p, n);
    if (schema_mpr_array(&r) != 7) {
        return TALLY_EFORMAT;
    }
    s = schema_mpr_str(&r, &sn);
    if (s == NULL || sn != sizeof(tag) - 1 || memcmp(s, tag, sn) != 0) {
        return TALLY_EFORMAT;
    }
    out->from = schema_mpr_uint(&r);
    out->to = schema_mpr_uint(&r);
    out->size = schema_mpr_uint(&r);
    st = r.bad ? TALLY_EFORMAT : read_entries(&r, out);
    if (st == TALLY_OK) {
        st = read_proof(&r, out);
    }
    if (st == TALLY_OK) {
        at = r.off;
        schema_mpr_skip(&r);
        out->sth = (tally_bytes){p + at, r.off - at};
        st = schema_mpr_end(&r);
    }
    if (st == TALLY_OK && (schema_sth_decode(out->sth.p, out->sth.n, sth_out) != TALLY_OK ||
                           sth_out->tree_size != out->size || !bounds_ok(out))) {
        st = TALLY_EFORMAT;
    }
    if (st != TALLY_OK) {
        wire_delta_release(out);
        memset(sth_out, 0, sizeof(*sth_out));
    }
    return st;
}

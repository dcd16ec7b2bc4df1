/* §6.6: the POST /v1/attestations body `[body, sig]`, built by the auditor and parsed by the node:
 * the ATTESTATION body exactly as its author signed it and the record signature of §2.1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"

tally_status wire_attest_build(const uint8_t *body, size_t n, const uint8_t sig[64],
                               uint8_t **out, size_t *n_out)
{
    schema_body b;
    schema_mpw w;
    tally_status st;

    *out = NULL, *n_out = 0;
    st = schema_body_decode(SCHEMA_ATTESTATION, body, n, &b);
    if (st != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    schema_body_release(&b);
    schema_mpw_init(&w, WIRE_ATTEST_BODY_MAX);
    schema_mpw_array(&w, 2);
    schema_mpw_raw(&w, body, n);
    schema_mpw_bin(&w, sig, 64);
    return schema_mpw_finish(&w, out, n_out);
}

static tally_status failed(wire_fail *f, wire_err err, tally_status st, const char *field,
                           const char *what)
{
    if (f != NULL) {
        memset(f, 0, sizeof(*f));
        f->err = err;
        snprintf(f->field, sizeof(f->field), "%s", field);
        snprintf(f->message, sizeof(f->message), "%s", what);
    }
    return st;
}

tally_status wire_attest_parse(tally_str origin, const uint8_t key[32], const uint8_t *p, size_t n,
                               tally_bytes *body_out, schema_body *decoded,
                               schema_header *header_out, wire_fail *fail)
{
    wire__rd rd = {p, n, 0};
    wire__tok t;
    size_t at;
    schema_field_error fe;
    tally_status st;

    *body_out = (tally_bytes){NULL, 0};
    memset(decoded, 0, sizeof(*decoded));
    memset(header_out, 0, sizeof(*header_out));
    if (p == NULL || n == 0 || n > WIRE_ATTEST_BODY_MAX) {
        return failed(fail, WIRE_MALFORMED_BODY, TALLY_EFORMAT, "",
                      "the body is 1 to 16384 bytes of msgpack [body, sig]");
    }
    if (!wire__next(&rd, &t) || t.kind != WT_ARRAY || t.u != 2 || !t.small) {
        return failed(fail, WIRE_MALFORMED_BODY, TALLY_EFORMAT, "",
                      "the request is a canonical array [body, sig]");
    }
    /* the body: one array value, skipped token by token (the decoder below judges it) */
    at = rd.off;
    {
        uint64_t pending = 1;
        unsigned depth_guard = 0;
        while (pending > 0) {
            if (!wire__next(&rd, &t) || ++depth_guard > 4096) {
                return failed(fail, WIRE_MALFORMED_BODY, TALLY_EFORMAT, "body",
                              "the body is not msgpack");
            }
            pending--;
            if (t.kind == WT_ARRAY) {
                pending += t.u;
            }
        }
    }
    *body_out = (tally_bytes){p + at, rd.off - at};
    if (!wire__next(&rd, &t) || t.kind != WT_BIN || t.u != 64 || rd.off != n) {
        *body_out = (tally_bytes){NULL, 0};
        return failed(fail, WIRE_MALFORMED_BODY, TALLY_EFORMAT, "sig",
                      "sig is bin 64 and ends the request");
    }
    memcpy(header_out->actor_sig, t.p, 64);
    st = schema_body_decode_ex(SCHEMA_ATTESTATION, body_out->p, body_out->n, decoded, &fe);
    if (st != TALLY_OK) {
        *body_out = (tally_bytes){NULL, 0};
        memset(header_out, 0, sizeof(*header_out));
        if (st == TALLY_ENOMEM) {
            return failed(fail, WIRE_INTERNAL_ERROR, st, "", "out of memory");
        }
        if (st == TALLY_EFORMAT && fe.bad != 0) {
            char what[WIRE_MSG_MAX];
            snprintf(what, sizeof(what), "%.60s: %.180s", fe.path, fe.what);
            return failed(fail, WIRE_INVALID_FIELD, TALLY_EINVAL, fe.path, what);
        }
        return failed(fail, WIRE_MALFORMED_BODY, TALLY_EFORMAT, "body",
                      "the body is not a canonical ATTESTATION body");
    }
    uint8_t sig[64];
    memcpy(sig, header_out->actor_sig, 64);
    st = schema_header_init(decoded, body_out->p, body_out->n, key, header_out);
    memcpy(header_out->actor_sig, sig, 64);
    if (st == TALLY_OK) {
        st = schema_record_verify(header_out, origin) == TALLY_OK ? TALLY_OK : TALLY_EAUTH;
    }
    if (st != TALLY_OK) {
        schema_body_release(decoded);
        *body_out = (tally_bytes){NULL, 0};
        memset(header_out, 0, sizeof(*header_out));
        return failed(fail, WIRE_ITEM_SIGNATURE_INVALID, TALLY_EAUTH, "sig",
                      "the attestation's record signature does not verify for this key");
    }
    return TALLY_OK;
}

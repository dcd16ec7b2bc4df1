/* Signed tree heads on the wire (spec §6.2). */
#include <string.h>

#include "schema/schema_int.h"

static bool origin_ok(const char *o, size_t n)
{
    return n >= 1 && n <= SCHEMA_ORIGIN_MAX && schema__text_ok(SC_ORIGIN, o, n);
}

static void sth_head(schema__w *w, const schema_sth *s, size_t arity)
{
    schema__w_array(w, arity);
    schema__w_str(w, "tally-sth-v1", 12);
    schema__w_str(w, s->origin, strlen(s->origin));
    schema__w_uint(w, s->tree_size);
    schema__w_bin(w, s->root, 32);
    schema__w_uint(w, s->time_ms);
}

tally_status schema_sth_message(const schema_sth *s, uint8_t *buf, size_t cap, size_t *n_out)
{
    schema__w w;

    *n_out = 0;
    if (!origin_ok(s->origin, strnlen(s->origin, sizeof(s->origin)))) {
        return TALLY_EINVAL;
    }
    schema__w_init(&w, buf, cap);
    sth_head(&w, s, 5);
    if (w.overflow) {
        return TALLY_ELIMIT;
    }
    *n_out = w.len;
    return TALLY_OK;
}

tally_status schema_sth_encode(const schema_sth *s, uint8_t *buf, size_t cap, size_t *n_out)
{
    schema__w w;

    *n_out = 0;
    if (!origin_ok(s->origin, strnlen(s->origin, sizeof(s->origin)))) {
        return TALLY_EINVAL;
    }
    schema__w_init(&w, buf, cap);
    sth_head(&w, s, 8);
    schema__w_bin(&w, s->key, 32);
    schema__w_bin(&w, s->sig, 64);
    schema__w_bin(&w, s->note_sig, 64);
    if (w.overflow) {
        return TALLY_ELIMIT;
    }
    *n_out = w.len;
    return TALLY_OK;
}

static tally_status rd_fixed(schema__r *r, uint8_t *out, size_t len)
{
    const uint8_t *p;
    size_t n;

    if (schema__r_bin(r, &p, &n) != TALLY_OK || n != len) {
        return TALLY_EFORMAT;
    }
    memcpy(out, p, n);
    return TALLY_OK;
}

tally_status schema_sth_decode(const uint8_t *p, size_t n, schema_sth *out)
{
    schema__r r = {p, n};
    const char *s;
    size_t len, sl;

    memset(out, 0, sizeof(*out));
    if (schema__r_array(&r, &len) != TALLY_OK || len != 8 ||
        schema__r_str(&r, &s, &sl) != TALLY_OK || sl != 12 || memcmp(s, "tally-sth-v1", 12) != 0 ||
        schema__r_str(&r, &s, &sl) != TALLY_OK || !origin_ok(s, sl)) {
        goto fail;
    }
    memcpy(out->origin, s, sl);
    if (schema__r_uint(&r, &out->tree_size) != TALLY_OK || rd_fixed(&r, out->root, 32) != TALLY_OK ||
        schema__r_uint(&r, &out->time_ms) != TALLY_OK || rd_fixed(&r, out->key, 32) != TALLY_OK ||
        rd_fixed(&r, out->sig, 64) != TALLY_OK || rd_fixed(&r, out->note_sig, 64) != TALLY_OK ||
        r.left != 0) {
        goto fail;
    }
    return TALLY_OK;
fail:
    memset(out, 0, sizeof(*out));
    return TALLY_EFORMAT;
}

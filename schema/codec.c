/* The generic codec: one walk over a descriptor reads, one validates, one writes. Decoding reads
 * the shape and then runs the same validation an encoder runs, so the rules live in one place. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schema/schema_int.h"

#define AT(base, off, T) ((T *)(void *)((uint8_t *)(base) + (off)))
#define CAT(base, off, T) ((const T *)(const void *)((const uint8_t *)(base) + (off)))

/* The decoding walk. With bad NULL it reads the shape only; with bad, each value read is also
 * held to the rules schema__validate applies (the same functions, on the value just read, so a
 * second walk over the struct is not needed), and *bad set when one breaks them. The walk
 * carries on after a broken rule, so the shape status is the one the two walks give, and the
 * caller turns *bad into TALLY_EFORMAT, the status schema__validate returns. */
static tally_status dec_walk(schema__r *r, const schema__desc *d, void *base, schema_body *b,
                             bool *bad);
static tally_status dec_value(schema__r *r, const schema__field *f, void *base, schema_body *b,
                              bool *bad);
static tally_status dec_shape(schema__r *r, const schema__field *f, void *base, schema_body *b,
                              bool *bad);
static bool leaf_ok(const schema__field *f, const void *base);
static int cmp_first(const schema__desc *sub, const void *a, const void *b);

static tally_status dec_elem(schema__r *r, const schema__desc *sub, void *elem, schema_body *b,
                             bool *bad)
{
    if (sub->scalar) {
        return dec_value(r, &sub->f[0], elem, b, bad);
    }
    return dec_walk(r, sub, elem, b, bad);
}

static tally_status dec_array(schema__r *r, const schema__field *f, void *base, schema_body *b,
                              bool *bad)
{
    size_t n;
    uint8_t *items;

    if (schema__r_array(r, &n) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    if (n < f->lo || n > f->hi) {
        return TALLY_EFORMAT;
    }
    if (f->kind == SF_FIXED) {
        items = AT(base, f->off, uint8_t);
    } else {
        items = n ? schema__alloc(b, n * f->sub->size) : NULL;
        if (n && items == NULL) {
            return TALLY_ENOMEM;
        }
        *AT(base, f->off, void *) = items;
        *AT(base, f->aux, size_t) = n;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = items + i * f->sub->size;
        tally_status st = dec_elem(r, f->sub, e, b, bad);
        if (st != TALLY_OK) {
            return st;
        }
        /* val_array's order rule, on the element just read and the one before */
        if (bad != NULL && (f->flags & SF_ASC) && i > 0 &&
            cmp_first(f->sub, e - f->sub->size, e) >= 0) {
            *bad = true;
        }
    }
    return TALLY_OK;
}

/* Reads field f; with bad, holds a leaf value to its rule (val_value's) once it is read. */
static tally_status dec_value(schema__r *r, const schema__field *f, void *base, schema_body *b,
                              bool *bad)
{
    tally_status st = dec_shape(r, f, base, b, bad);

    if (st == TALLY_OK && bad != NULL && !leaf_ok(f, base)) {
        *bad = true;
    }
    return st;
}

static tally_status dec_shape(schema__r *r, const schema__field *f, void *base, schema_body *b,
                              bool *bad)
{
    const uint8_t *bp;
    const char *sp;
    size_t n;

    if (f->flags & SF_NULL) {
        if (schema__r_nil(r)) {
            return TALLY_OK; /* presence flag stays false */
        }
        *AT(base, f->aux, bool) = true;
    }
    switch (f->kind) {
    case SF_UINT:
        return schema__r_uint(r, AT(base, f->off, uint64_t));
    case SF_INT:
        return schema__r_int(r, AT(base, f->off, int64_t));
    case SF_BOOL:
        return schema__r_bool(r, AT(base, f->off, bool));
    case SF_BIN:
        if (schema__r_bin(r, &bp, &n) != TALLY_OK || n != f->lo) {
            return TALLY_EFORMAT;
        }
        memcpy(AT(base, f->off, uint8_t), bp, n);
        return TALLY_OK;
    case SF_STR:
        if (schema__r_str(r, &sp, &n) != TALLY_OK) {
            return TALLY_EFORMAT;
        }
        *AT(base, f->off, tally_str) = (tally_str){sp, n};
        return TALLY_OK;
    case SF_TUPLE:
        return dec_walk(r, f->sub, AT(base, f->off, void), b, bad);
    case SF_PVALUE: {
        schema_pvalue *pv = AT(base, f->off, schema_pvalue);
        int k = schema__r_peek(r);
        pv->kind = (uint8_t)(k < 0 ? 0 : k);
        if (k == SCHEMA_PV_INT) {
            return schema__r_int(r, &pv->i);
        }
        if (k == SCHEMA_PV_BOOL) {
            return schema__r_bool(r, &pv->b);
        }
        if (k == SCHEMA_PV_TEXT && schema__r_str(r, &sp, &n) == TALLY_OK) {
            pv->s = (tally_str){sp, n};
            return TALLY_OK;
        }
        return TALLY_EFORMAT;
    }
    case SF_ARRAY:
    case SF_FIXED:
        return dec_array(r, f, base, b, bad);
    }
    return TALLY_EFORMAT;
}

static tally_status dec_walk(schema__r *r, const schema__desc *d, void *base, schema_body *b,
                             bool *bad)
{
    size_t n;

    if (schema__r_array(r, &n) != TALLY_OK || n != d->n) {
        return TALLY_EFORMAT;
    }
    for (size_t i = 0; i < d->n; i++) {
        tally_status st = dec_value(r, &d->f[i], base, b, bad);
        if (st != TALLY_OK) {
            return st;
        }
    }
    /* schema__validate runs d->check only on a struct whose fields all kept their rules; a
     * check may rely on that */
    if (bad != NULL && !*bad && d->check != NULL && d->check(base, NULL) != TALLY_OK) {
        *bad = true;
    }
    return TALLY_OK;
}

tally_status schema__dec(schema__r *r, const schema__desc *d, void *base, schema_body *b)
{
    return dec_walk(r, d, base, b, NULL);
}

tally_status schema__dec_valid(schema__r *r, const schema__desc *d, void *base, schema_body *b)
{
    bool bad = false;
    tally_status st = dec_walk(r, d, base, b, &bad);

    return st == TALLY_OK && bad ? TALLY_EFORMAT : st;
}

/* ---- field errors (failure path only) ---- */

tally_status schema__bad(schema_field_error *err, int bad, const char *path, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL) {
        err->bad = bad;
        snprintf(err->path, sizeof(err->path), "%s", path);
        va_start(ap, fmt);
        vsnprintf(err->what, sizeof(err->what), fmt, ap);
        va_end(ap);
    }
    return TALLY_EFORMAT;
}

void schema__path_push(schema_field_error *err, const char *name, bool has_index, size_t i)
{
    char seg[SCHEMA_PATH_MAX];
    size_t sn, pn;
    int n;

    if (err == NULL) {
        return;
    }
    pn = strlen(err->path);
    n = has_index ? snprintf(seg, sizeof(seg), "%s[%zu]%s", name, i, pn ? "." : "")
                  : snprintf(seg, sizeof(seg), "%s%s", name, pn ? "." : "");
    sn = n > 0 ? (size_t)n : 0;
    if (sn >= sizeof(seg)) {
        sn = sizeof(seg) - 1;
    }
    /* the segment goes in front; what no longer fits at the end is cut */
    if (sn + pn >= sizeof(err->path)) {
        pn = sizeof(err->path) - 1 - sn;
    }
    memmove(err->path + sn, err->path, pn);
    memcpy(err->path, seg, sn);
    err->path[sn + pn] = '\0';
}

/* ---- validation ---- */

/* -1, 0, 1 comparing the first field of two array elements (uint or string key). */
static int cmp_first(const schema__desc *sub, const void *a, const void *b)
{
    const schema__field *k = &sub->f[0];

    if (k->kind == SF_STR) {
        const tally_str *x = CAT(a, k->off, tally_str), *y = CAT(b, k->off, tally_str);
        size_t m = x->n < y->n ? x->n : y->n;
        int c = m ? memcmp(x->p, y->p, m) : 0;
        if (c != 0) {
            return c < 0 ? -1 : 1;
        }
        return x->n < y->n ? -1 : x->n > y->n;
    }
    {
        uint64_t x = *CAT(a, k->off, uint64_t), y = *CAT(b, k->off, uint64_t);
        return x < y ? -1 : x > y;
    }
}

static tally_status val_value(const schema__field *f, const void *base, schema_field_error *err);

/* The failure of element i of array f, already named relative to the element: a scalar element
 * is the item itself ("sides[1]"), a tuple's field follows it ("prices[1].odds_n"), and a named
 * member of a fixed array is named by its member ("stats.cal"). */
static tally_status elem_failed(const schema__field *f, size_t i, schema_field_error *err)
{
    if (err == NULL) {
        return TALLY_EFORMAT;
    }
    if (f->sub->scalar) {
        err->path[0] = '\0';
    }
    if (f->members != NULL) {
        schema__path_push(err, f->members[i], false, 0);
        schema__path_push(err, f->name, false, 0);
    } else {
        schema__path_push(err, f->name, true, i);
    }
    return TALLY_EFORMAT;
}

static tally_status val_array(const schema__field *f, const void *base, schema_field_error *err)
{
    const uint8_t *items;
    size_t n;

    if (f->kind == SF_FIXED) {
        items = CAT(base, f->off, uint8_t);
        n = f->lo;
    } else {
        items = *CAT(base, f->off, uint8_t *);
        n = *CAT(base, f->aux, size_t);
        if (n < f->lo || n > f->hi || (n > 0 && items == NULL)) {
            return schema__bad(err, SCHEMA_BAD_COUNT, f->name, "%zu items; allowed %llu..%llu",
                               n, (unsigned long long)f->lo, (unsigned long long)f->hi);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = items + i * f->sub->size;
        tally_status st =
            f->sub->scalar ? val_value(&f->sub->f[0], e, err) : schema__validate(f->sub, e, err);
        if (st != TALLY_OK) {
            return elem_failed(f, i, err);
        }
        if ((f->flags & SF_ASC) && i > 0 && cmp_first(f->sub, e - f->sub->size, e) >= 0) {
            if (err != NULL) {
                schema__bad(err, SCHEMA_BAD_ORDER, "",
                            "not strictly ascending%s%s after item %zu",
                            f->sub->scalar ? "" : " by ", f->sub->scalar ? "" : f->sub->f[0].name,
                            i - 1);
                schema__path_push(err, f->name, true, i);
            }
            return TALLY_EFORMAT;
        }
    }
    return TALLY_OK;
}

static tally_status val_str(const schema__field *f, const tally_str *s, int cls, uint64_t lo,
                            uint64_t hi, schema_field_error *err)
{
    if (s->n < lo || s->n > hi || (s->n > 0 && s->p == NULL)) {
        return s->n == 0 ? schema__bad(err, SCHEMA_BAD_LENGTH, f->name, "text is empty")
                         : schema__bad(err, SCHEMA_BAD_LENGTH, f->name,
                                       "text is %zu bytes long; at most %llu", s->n,
                                       (unsigned long long)hi);
    }
    if (!schema__text_ok(cls, s->p, s->n)) {
        if (err != NULL) {
            char why[160];
            schema__text_why(cls, s->p, s->n, why, sizeof(why));
            schema__bad(err, SCHEMA_BAD_TEXT, f->name, "%s", why);
        }
        return TALLY_EFORMAT;
    }
    return TALLY_OK;
}

static bool uint_ok(const schema__field *f, uint64_t v)
{
    return v >= f->lo && v <= f->hi;
}

/* Whether a leaf value (present or not) keeps the rule val_value holds it to; tuples and arrays
 * are left to the walks, which hold each of their values to its own rule. */
static bool leaf_ok(const schema__field *f, const void *base)
{
    if ((f->flags & SF_NULL) && !*CAT(base, f->aux, bool)) {
        return true;
    }
    if (f->kind == SF_UINT) {
        return uint_ok(f, *CAT(base, f->off, uint64_t));
    }
    if (f->kind == SF_STR || f->kind == SF_PVALUE) {
        return val_value(f, base, NULL) == TALLY_OK;
    }
    return true;
}

static tally_status val_value(const schema__field *f, const void *base, schema_field_error *err)
{
    tally_status st;

    if ((f->flags & SF_NULL) && !*CAT(base, f->aux, bool)) {
        return TALLY_OK;
    }
    switch (f->kind) {
    case SF_UINT: {
        uint64_t v = *CAT(base, f->off, uint64_t);
        if (uint_ok(f, v)) {
            return TALLY_OK;
        }
        return schema__bad(err, SCHEMA_BAD_RANGE, f->name, "%llu is out of range %llu..%llu",
                           (unsigned long long)v, (unsigned long long)f->lo,
                           (unsigned long long)f->hi);
    }
    case SF_INT:
    case SF_BOOL:
    case SF_BIN:
        return TALLY_OK;
    case SF_STR:
        return val_str(f, CAT(base, f->off, tally_str), f->sclass, f->lo, f->hi, err);
    case SF_TUPLE:
        st = schema__validate(f->sub, CAT(base, f->off, void), err);
        if (st != TALLY_OK) {
            schema__path_push(err, f->name, false, 0);
        }
        return st;
    case SF_PVALUE: {
        const schema_pvalue *pv = CAT(base, f->off, schema_pvalue);
        if (pv->kind == SCHEMA_PV_INT || pv->kind == SCHEMA_PV_BOOL) {
            return TALLY_OK;
        }
        if (pv->kind == SCHEMA_PV_TEXT) {
            return val_str(f, &pv->s, SC_TEXT, 1, 256, err);
        }
        return schema__bad(err, SCHEMA_BAD_NONE, f->name, "not an integer, text or boolean");
    }
    case SF_ARRAY:
    case SF_FIXED:
        return val_array(f, base, err);
    }
    return schema__bad(err, SCHEMA_BAD_NONE, f->name, "unknown field kind");
}

tally_status schema__validate(const schema__desc *d, const void *base, schema_field_error *err)
{
    for (size_t i = 0; i < d->n; i++) {
        tally_status st = val_value(&d->f[i], base, err);
        if (st != TALLY_OK) {
            return st;
        }
    }
    return d->check ? d->check(base, err) : TALLY_OK;
}

/* ---- encoding ---- */

/* The encoding walk. With bad NULL it writes a struct already validated; with bad, each value is
 * first held to the rules schema__validate applies (the same functions), and the walk stops
 * with *bad set at the first that breaks one, so one walk both validates and writes (what it
 * wrote is then of no use). A value is checked before its bytes are read: a string or array
 * whose pointer breaks the rules is never followed. */
static void enc_walk(schema__w *w, const schema__desc *d, const void *base, bool *bad);

static void enc_value(schema__w *w, const schema__field *f, const void *base, bool *bad)
{
    if ((f->flags & SF_NULL) && !*CAT(base, f->aux, bool)) {
        schema__w_nil(w);
        return;
    }
    if (bad != NULL && !leaf_ok(f, base)) {
        *bad = true;
        return;
    }
    switch (f->kind) {
    case SF_UINT:
        schema__w_uint(w, *CAT(base, f->off, uint64_t));
        return;
    case SF_INT:
        schema__w_int(w, *CAT(base, f->off, int64_t));
        return;
    case SF_BOOL:
        schema__w_bool(w, *CAT(base, f->off, bool));
        return;
    case SF_BIN:
        schema__w_bin(w, CAT(base, f->off, uint8_t), f->lo);
        return;
    case SF_STR: {
        const tally_str *s = CAT(base, f->off, tally_str);
        schema__w_str(w, s->p, s->n);
        return;
    }
    case SF_TUPLE:
        enc_walk(w, f->sub, CAT(base, f->off, void), bad);
        return;
    case SF_PVALUE: {
        const schema_pvalue *pv = CAT(base, f->off, schema_pvalue);
        if (pv->kind == SCHEMA_PV_INT) {
            schema__w_int(w, pv->i);
        } else if (pv->kind == SCHEMA_PV_BOOL) {
            schema__w_bool(w, pv->b);
        } else {
            schema__w_str(w, pv->s.p, pv->s.n);
        }
        return;
    }
    case SF_ARRAY:
    case SF_FIXED: {
        const uint8_t *items =
            f->kind == SF_FIXED ? CAT(base, f->off, uint8_t) : *CAT(base, f->off, uint8_t *);
        size_t n = f->kind == SF_FIXED ? f->lo : *CAT(base, f->aux, size_t);
        /* val_array's count rule, before any item is read */
        if (bad != NULL && f->kind == SF_ARRAY &&
            (n < f->lo || n > f->hi || (n > 0 && items == NULL))) {
            *bad = true;
            return;
        }
        schema__w_array(w, n);
        for (size_t i = 0; i < n; i++) {
            const uint8_t *e = items + i * f->sub->size;
            if (f->sub->scalar) {
                enc_value(w, &f->sub->f[0], e, bad);
            } else {
                enc_walk(w, f->sub, e, bad);
            }
            if (bad != NULL && (*bad || ((f->flags & SF_ASC) && i > 0 &&
                                         cmp_first(f->sub, e - f->sub->size, e) >= 0))) {
                *bad = true;
                return;
            }
        }
        return;
    }
    }
}

static void enc_walk(schema__w *w, const schema__desc *d, const void *base, bool *bad)
{
    schema__w_array(w, d->n);
    for (size_t i = 0; i < d->n; i++) {
        enc_value(w, &d->f[i], base, bad);
        if (bad != NULL && *bad) {
            return;
        }
    }
    /* as in schema__validate: the check, on a struct whose fields all kept their rules */
    if (bad != NULL && d->check != NULL && d->check(base, NULL) != TALLY_OK) {
        *bad = true;
    }
}

void schema__enc(schema__w *w, const schema__desc *d, const void *base)
{
    enc_walk(w, d, base, NULL);
}

/* ---- public body codec ---- */

/* Decodes p into out. With own, out keeps a copy of the input (its strings point there);
 * without, the strings point into p itself, for a caller that only checks the body. A shape
 * failure leaves err->bad 0; a bound the decoded value breaks is named in err. */
tally_status schema__body_decode(unsigned type, const uint8_t *p, size_t n, bool own,
                                 schema_body *out, schema_field_error *err)
{
    const schema__desc *d = schema__body_desc(type);
    schema__r r;
    const uint8_t *src = p;
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (d == NULL) {
        return schema__bad(err, SCHEMA_BAD_NONE, "", "unknown record type %u", type);
    }
    if (n > SCHEMA_BODY_MAX) {
        schema__bad(err, SCHEMA_BAD_NONE, "", "a body is at most %u bytes", SCHEMA_BODY_MAX);
        return TALLY_ELIMIT;
    }
    out->type = type;
    if (own) {
        uint8_t *copy = schema__alloc(out, n ? n : 1);
        if (copy == NULL) {
            schema_body_release(out);
            return TALLY_ENOMEM;
        }
        if (n) {
            memcpy(copy, p, n);
        }
        src = copy;
    }
    r = (schema__r){src, n};
    /* without err, nothing needs the broken rule named: the one walk that also validates */
    st = err == NULL ? schema__dec_valid(&r, d, &out->u, out) : schema__dec(&r, d, &out->u, out);
    if (st == TALLY_OK && r.left != 0) {
        st = TALLY_EFORMAT; /* bytes after the top-level value */
    }
    if (st == TALLY_EFORMAT) {
        schema__bad(err, SCHEMA_BAD_NONE, "", "the bytes are not a canonical %s body", d->name);
    }
    if (st == TALLY_OK && err != NULL) {
        st = schema__validate(d, &out->u, err);
    }
    if (st != TALLY_OK) {
        schema_body_release(out);
        out->type = 0;
    }
    return st;
}

tally_status schema_body_decode(unsigned type, const uint8_t *p, size_t n, schema_body *out)
{
    return schema__body_decode(type, p, n, true, out, NULL);
}

tally_status schema_body_decode_ex(unsigned type, const uint8_t *p, size_t n, schema_body *out,
                                   schema_field_error *err)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
    return schema__body_decode(type, p, n, true, out, err);
}

tally_status schema_body_check(const schema_body *b, schema_field_error *err)
{
    const schema__desc *d = schema__body_desc(b->type);

    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
    if (d == NULL) {
        schema__bad(err, SCHEMA_BAD_NONE, "", "unknown record type %u", b->type);
        return TALLY_EINVAL;
    }
    return schema__validate(d, &b->u, err) == TALLY_OK ? TALLY_OK : TALLY_EINVAL;
}

tally_status schema_body_encode(const schema_body *b, uint8_t *buf, size_t cap, size_t *n_out)
{
    const schema__desc *d = schema__body_desc(b->type);
    uint8_t tmp[SCHEMA_BODY_MAX + 1];
    schema__w w;

    bool bad = false;

    *n_out = 0;
    if (d == NULL) {
        return TALLY_EINVAL;
    }
    /* Encode into scratch first so a too-small buffer receives nothing at all; the walk
     * validates as it goes (the one walk instead of schema__validate and then another). */
    schema__w_init(&w, tmp, sizeof(tmp));
    enc_walk(&w, d, &b->u, &bad);
    if (bad) {
        return TALLY_EINVAL;
    }
    if (w.overflow || w.len > SCHEMA_BODY_MAX || w.len > cap) {
        return TALLY_ELIMIT;
    }
    memcpy(buf, tmp, w.len);
    *n_out = w.len;
    return TALLY_OK;
}

/* Canonical msgpack for tally's own blobs (checkpoint states; receipts and attestations next):
 * the writer emits only the smallest forms of protocol §2.2 into a growing buffer, the reader
 * accepts only those forms and checks every length against the bytes left. Both remember their
 * first failure (out of memory, over the cap, malformed input), so a long serialisation checks
 * once at its end. */
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

/* ---- writer ---- */

void schema_mpw_init(schema_mpw *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max;
}

void schema_mpw_raw(schema_mpw *w, const void *src, size_t n)
{
    if (w->oom) {
        return;
    }
    if (n > w->max - w->n) {
        w->oom = w->over = true; /* over the cap: the blob may not be this large */
        return;
    }
    if (w->n + n > w->cap) {
        size_t c = w->cap ? w->cap : 4096;
        while (c < w->n + n) {
            c *= 2;
        }
        uint8_t *q = realloc(w->p, c);
        if (q == NULL) {
            w->oom = true;
            return;
        }
        w->p = q, w->cap = c;
    }
    memcpy(w->p + w->n, src, n);
    w->n += n;
}

/* Where n more bytes go when the buffer already has room for them (else NULL, and the caller
 * takes schema_mpw_raw's path, which grows the buffer or fails): a checkpoint state is millions
 * of small values, and most need no more than a store. */
static uint8_t *room(schema_mpw *w, size_t n)
{
    uint8_t *q;

    if (w->oom || n > w->max - w->n || n > w->cap - w->n) {
        return NULL;
    }
    q = w->p + w->n;
    w->n += n;
    return q;
}

/* A one-byte form (fixint, fixarray, fixstr, nil, bool): a store when there is room, which is
 * nearly always, instead of schema_mpw_raw's memcpy call. */
static void put1(schema_mpw *w, uint8_t b)
{
    uint8_t *q = room(w, 1);

    if (q != NULL) {
        *q = b;
    } else {
        schema_mpw_raw(w, &b, 1);
    }
}

static void put_be(schema_mpw *w, uint8_t tag, uint64_t v, int bytes)
{
    uint8_t b[9], *q = room(w, 1 + (size_t)bytes);
    uint8_t *d = q != NULL ? q : b;

    d[0] = tag;
    for (int i = 0; i < bytes; i++) {
        d[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
    if (q == NULL) {
        schema_mpw_raw(w, b, 1 + (size_t)bytes);
    }
}

void schema_mpw_uint(schema_mpw *w, uint64_t v)
{
    if (v < 128) {
        put1(w, (uint8_t)v);
    } else if (v <= 0xff) {
        put_be(w, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        put_be(w, 0xcd, v, 2);
    } else if (v <= 0xffffffffull) {
        put_be(w, 0xce, v, 4);
    } else {
        put_be(w, 0xcf, v, 8);
    }
}

void schema_mpw_int(schema_mpw *w, int64_t v)
{
    if (v >= 0) {
        schema_mpw_uint(w, (uint64_t)v);
    } else if (v >= -32) {
        put1(w, (uint8_t)(0xe0 | (v + 32)));
    } else if (v >= INT8_MIN) {
        put_be(w, 0xd0, (uint64_t)v & 0xff, 1);
    } else if (v >= INT16_MIN) {
        put_be(w, 0xd1, (uint64_t)v & 0xffff, 2);
    } else if (v >= INT32_MIN) {
        put_be(w, 0xd2, (uint64_t)v & 0xffffffffull, 4);
    } else {
        put_be(w, 0xd3, (uint64_t)v, 8);
    }
}

void schema_mpw_array(schema_mpw *w, size_t n)
{
    if (n < 16) {
        put1(w, (uint8_t)(0x90 | n));
    } else if (n <= 0xffff) {
        put_be(w, 0xdc, n, 2);
    } else {
        put_be(w, 0xdd, n, 4);
    }
}

void schema_mpw_nil(schema_mpw *w)
{
    put1(w, 0xc0);
}

void schema_mpw_bool(schema_mpw *w, bool v)
{
    put1(w, v ? 0xc3 : 0xc2);
}

void schema_mpw_bin(schema_mpw *w, const uint8_t *p, size_t n)
{
    if (n <= 0xff) {
        put_be(w, 0xc4, n, 1);
    } else if (n <= 0xffff) {
        put_be(w, 0xc5, n, 2);
    } else {
        put_be(w, 0xc6, n, 4);
    }
    schema_mpw_raw(w, p, n);
}

void schema_mpw_str(schema_mpw *w, const char *s, size_t n)
{
    if (n < 32) {
        put1(w, (uint8_t)(0xa0 | n));
    } else if (n <= 0xff) {
        put_be(w, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        put_be(w, 0xda, n, 2);
    } else {
        put_be(w, 0xdb, n, 4);
    }
    schema_mpw_raw(w, s, n);
}

tally_status schema_mpw_finish(schema_mpw *w, uint8_t **out, size_t *n_out)
{
    *out = NULL, *n_out = 0;
    if (w->oom) {
        tally_status st = w->over ? TALLY_ELIMIT : TALLY_ENOMEM;
        free(w->p);
        memset(w, 0, sizeof(*w));
        return st;
    }
    *out = w->p, *n_out = w->n;
    memset(w, 0, sizeof(*w));
    return TALLY_OK;
}

/* ---- reader ---- */

void schema_mpr_init(schema_mpr *r, const uint8_t *p, size_t n)
{
    *r = (schema_mpr){.p = p, .n = n};
}

static uint64_t get_be(schema_mpr *r, int bytes)
{
    uint64_t v = 0;
    if (r->bad || r->n - r->off < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    for (int i = 0; i < bytes; i++) {
        v = v << 8 | r->p[r->off++];
    }
    return v;
}

/* A value read in a form longer than its smallest one is not canonical. */
static uint64_t min_u(schema_mpr *r, uint64_t v, uint64_t floor)
{
    if (v < floor) {
        r->bad = true;
    }
    return v;
}

int64_t schema_mpr_int(schema_mpr *r)
{
    uint8_t t = (uint8_t)get_be(r, 1);
    int64_t v;

    if (r->bad) {
        return 0;
    }
    if (t < 0x80) {
        return t;
    }
    if (t >= 0xe0) {
        return (int64_t)t - 256;
    }
    switch (t) {
    case 0xcc: return (int64_t)min_u(r, get_be(r, 1), 0x80);
    case 0xcd: return (int64_t)min_u(r, get_be(r, 2), 0x100);
    case 0xce: return (int64_t)min_u(r, get_be(r, 4), 0x10000);
    case 0xcf: {
        uint64_t u = min_u(r, get_be(r, 8), 0x100000000ull);
        if (u > INT64_MAX) {
            r->bad = true;
        }
        return (int64_t)u;
    }
    case 0xd0: v = (int8_t)get_be(r, 1); break;
    case 0xd1: v = (int16_t)get_be(r, 2); break;
    case 0xd2: v = (int32_t)get_be(r, 4); break;
    case 0xd3: v = (int64_t)get_be(r, 8); break;
    default: r->bad = true; return 0;
    }
    /* a negative value in the smallest signed form only */
    if (v >= -32 || (t > 0xd0 && v >= INT8_MIN) || (t > 0xd1 && v >= INT16_MIN) ||
        (t > 0xd2 && v >= INT32_MIN)) {
        r->bad = true;
    }
    return v;
}

uint64_t schema_mpr_uint(schema_mpr *r)
{
    size_t at = r->off;
    uint8_t t = at < r->n ? r->p[at] : 0;

    /* the only form above INT64_MAX */
    if (t == 0xcf && !r->bad && r->n - at >= 9 && r->p[at + 1] >= 0x80) {
        r->off++;
        return get_be(r, 8);
    }
    int64_t v = schema_mpr_int(r);
    if (v < 0) {
        r->bad = true;
        return 0;
    }
    return (uint64_t)v;
}

size_t schema_mpr_array(schema_mpr *r)
{
    uint8_t t = (uint8_t)get_be(r, 1);
    size_t n = 0;

    if ((t & 0xf0) == 0x90) {
        n = t & 0x0f;
    } else if (t == 0xdc) {
        n = (size_t)min_u(r, get_be(r, 2), 16);
    } else if (t == 0xdd) {
        n = (size_t)min_u(r, get_be(r, 4), 0x10000);
    } else {
        r->bad = true;
    }
    /* every item takes a byte at least: no count can promise more than the input holds */
    if (!schema_mpr_count_ok(r, n)) {
        return 0;
    }
    return r->bad ? 0 : n;
}

bool schema_mpr_nil(schema_mpr *r)
{
    if (!r->bad && r->off < r->n && r->p[r->off] == 0xc0) {
        r->off++;
        return true;
    }
    return false;
}

bool schema_mpr_bool(schema_mpr *r)
{
    uint8_t t = (uint8_t)get_be(r, 1);
    if (t != 0xc2 && t != 0xc3) {
        r->bad = true;
    }
    return t == 0xc3;
}

static const uint8_t *view(schema_mpr *r, uint8_t t8, uint8_t t16, uint8_t t32, size_t fix_max,
                           uint8_t fix_tag, size_t *n_out)
{
    uint8_t t = (uint8_t)get_be(r, 1);
    size_t n = 0;
    const uint8_t *p;

    *n_out = 0;
    if (fix_max > 0 && (t & 0xe0) == fix_tag) {
        n = t & 0x1f;
    } else if (t == t8) {
        n = (size_t)min_u(r, get_be(r, 1), fix_max ? fix_max + 1 : 0);
    } else if (t == t16) {
        n = (size_t)min_u(r, get_be(r, 2), 0x100);
    } else if (t == t32) {
        n = (size_t)min_u(r, get_be(r, 4), 0x10000);
    } else {
        r->bad = true;
    }
    if (r->bad || n > r->n - r->off) {
        r->bad = true;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    *n_out = n;
    return p;
}

const uint8_t *schema_mpr_bin(schema_mpr *r, size_t *n_out)
{
    return view(r, 0xc4, 0xc5, 0xc6, 0, 0, n_out);
}

const char *schema_mpr_str(schema_mpr *r, size_t *n_out)
{
    return (const char *)view(r, 0xd9, 0xda, 0xdb, 31, 0xa0, n_out);
}

void schema_mpr_bin_fixed(schema_mpr *r, uint8_t *out, size_t n)
{
    size_t got;
    const uint8_t *p = schema_mpr_bin(r, &got);

    if (p == NULL || got != n) {
        r->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, p, n);
}

void schema_mpr_skip(schema_mpr *r)
{
    size_t pending = 1;

    /* iterative: an array adds its items to the count, so no input can recurse */
    while (pending > 0 && !r->bad) {
        uint8_t t;
        size_t n;
        pending--;
        if (r->off >= r->n) {
            r->bad = true;
            break;
        }
        t = r->p[r->off];
        if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
            n = schema_mpr_array(r);
            pending += n; /* n ≤ the bytes left, so this cannot overflow */
        } else if (t == 0xc0 || t == 0xc2 || t == 0xc3) {
            r->off++;
        } else if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb) {
            (void)schema_mpr_str(r, &n);
        } else if (t == 0xc4 || t == 0xc5 || t == 0xc6) {
            (void)schema_mpr_bin(r, &n);
        } else if (t < 0x80 || (t >= 0xcc && t <= 0xcf)) {
            (void)schema_mpr_uint(r);
        } else if (t >= 0xe0 || (t >= 0xd0 && t <= 0xd3)) {
            (void)schema_mpr_int(r);
        } else {
            r->bad = true;
        }
    }
}

bool schema_mpr_count_ok(schema_mpr *r, size_t n)
{
    if (r->bad || n > r->n - r->off) {
        r->bad = true;
        return false;
    }
    return true;
}

tally_status schema_mpr_end(const schema_mpr *r)
{
    return r->bad || r->off != r->n ? TALLY_EFORMAT : TALLY_OK;
}

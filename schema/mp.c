/* Canonical msgpack: a direct writer of msgpack-c's forms, a strict reader for untrusted bytes.
 * msgpack-c's own unpacker is not used on outside input: it accepts floats and maps, and it
 * allocates an array's declared count before reading its items, so five bytes could ask for
 * gigabytes. The reader below rejects each non-canonical form at the byte that makes it so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_int.h"

/* The writer puts each form's bytes straight into the buffer: msgpack-c's packer made a callback
 * and a copy for every value, a third of the cost of encoding a record. The forms are the ones
 * msgpack-c chooses (the smallest for each value, non-negative signed values in the unsigned
 * forms: exactly the canonical rule of spec §2.2); tests/schema/test_writer.c checks them
 * against msgpack-c's packer at every width boundary. */
static uint8_t *w_room(schema__w *w, size_t n)
{
    uint8_t *p;

    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return NULL;
    }
    p = w->buf + w->len;
    w->len += n;
    return p;
}

/* A first byte, then v in `width` bytes big-endian. */
static void w_be(schema__w *w, uint8_t lead, uint64_t v, size_t width)
{
    uint8_t *p = w_room(w, 1 + width);

    if (p == NULL) {
        return;
    }
    p[0] = lead;
    for (size_t i = 0; i < width; i++) {
        p[width - i] = (uint8_t)(v >> (8 * i));
    }
}

static void w_bytes(schema__w *w, const void *src, size_t n)
{
    uint8_t *p = w_room(w, n);

    if (p != NULL && n > 0) {
        memcpy(p, src, n);
    }
}

void schema__w_init(schema__w *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
}

void schema__w_uint(schema__w *w, uint64_t v)
{
    if (v < 128) {
        w_be(w, (uint8_t)v, 0, 0);
    } else if (v <= 0xff) {
        w_be(w, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        w_be(w, 0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
        w_be(w, 0xce, v, 4);
    } else {
        w_be(w, 0xcf, v, 8);
    }
}

void schema__w_int(schema__w *w, int64_t v)
{
    if (v >= 0) {
        schema__w_uint(w, (uint64_t)v);
    } else if (v >= -32) {
        w_be(w, (uint8_t)(0xe0 | (v + 32)), 0, 0);
    } else if (v >= INT8_MIN) {
        w_be(w, 0xd0, (uint64_t)v, 1);
    } else if (v >= INT16_MIN) {
        w_be(w, 0xd1, (uint64_t)v, 2);
    } else if (v >= INT32_MIN) {
        w_be(w, 0xd2, (uint64_t)v, 4);
    } else {
        w_be(w, 0xd3, (uint64_t)v, 8);
    }
}

void schema__w_nil(schema__w *w)
{
    w_be(w, 0xc0, 0, 0);
}

void schema__w_bool(schema__w *w, bool v)
{
    w_be(w, v ? 0xc3 : 0xc2, 0, 0);
}

void schema__w_str(schema__w *w, const char *p, size_t n)
{
    if (n < 32) {
        w_be(w, (uint8_t)(0xa0 | n), 0, 0);
    } else if (n <= 0xff) {
        w_be(w, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        w_be(w, 0xda, n, 2);
    } else {
        w_be(w, 0xdb, n, 4);
    }
    w_bytes(w, p, n);
}

void schema__w_bin(schema__w *w, const uint8_t *p, size_t n)
{
    if (n <= 0xff) {
        w_be(w, 0xc4, n, 1);
    } else if (n <= 0xffff) {
        w_be(w, 0xc5, n, 2);
    } else {
        w_be(w, 0xc6, n, 4);
    }
    w_bytes(w, p, n);
}

void schema__w_array(schema__w *w, size_t n)
{
    if (n < 16) {
        w_be(w, (uint8_t)(0x90 | n), 0, 0);
    } else if (n <= 0xffff) {
        w_be(w, 0xdc, n, 2);
    } else {
        w_be(w, 0xdd, n, 4);
    }
}

/* ---- reader ---- */

static tally_status rd_be(schema__r *r, size_t width, uint64_t *v)
{
    uint64_t x = 0;

    if (r->left < width) {
        return TALLY_EFORMAT;
    }
    for (size_t i = 0; i < width; i++) {
        x = x << 8 | r->p[i];
    }
    r->p += width, r->left -= width;
    *v = x;
    return TALLY_OK;
}

static tally_status rd_byte(schema__r *r, uint8_t *b)
{
    if (r->left < 1) {
        return TALLY_EFORMAT;
    }
    *b = r->p[0];
    r->p++, r->left--;
    return TALLY_OK;
}

/* Reads a non-negative integer in its unsigned forms; the value must need the form's width. */
static tally_status rd_unsigned_form(schema__r *r, uint8_t b, uint64_t *v)
{
    static const uint64_t floor_of[4] = {0x80, 0x100, 0x10000, 0x100000000ull};
    size_t k;

    if (b <= 0x7f) {
        *v = b;
        return TALLY_OK;
    }
    if (b < 0xcc || b > 0xcf) {
        return TALLY_EFORMAT;
    }
    k = (size_t)(b - 0xcc);
    if (rd_be(r, (size_t)1 << k, v) != TALLY_OK || *v < floor_of[k]) {
        return TALLY_EFORMAT;
    }
    return TALLY_OK;
}

tally_status schema__r_uint(schema__r *r, uint64_t *v)
{
    uint8_t b;

    *v = 0;
    if (rd_byte(r, &b) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    return rd_unsigned_form(r, b, v);
}

tally_status schema__r_int(schema__r *r, int64_t *v)
{
    /* Smallest value each signed form may hold: below it the next smaller form would do. */
    static const int64_t ceil_of[4] = {-32, -128, -32768, -2147483648ll};
    uint8_t b;
    uint64_t u;
    size_t k;

    *v = 0;
    if (rd_byte(r, &b) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    if (b >= 0xe0) {
        *v = (int64_t)(int8_t)b;
        return TALLY_OK;
    }
    if (b >= 0xd0 && b <= 0xd3) {
        k = (size_t)(b - 0xd0);
        if (rd_be(r, (size_t)1 << k, &u) != TALLY_OK) {
            return TALLY_EFORMAT;
        }
        /* Sign-extend the k-byte two's complement value. */
        if (k < 3) {
            unsigned bits = 8u << k;
            u = (u ^ (1ull << (bits - 1))) - (1ull << (bits - 1));
        }
        *v = (int64_t)u;
        if (*v >= ceil_of[k]) {
            *v = 0;
            return TALLY_EFORMAT;
        }
        return TALLY_OK;
    }
    if (rd_unsigned_form(r, b, &u) != TALLY_OK || u > (uint64_t)INT64_MAX) {
        return TALLY_EFORMAT;
    }
    *v = (int64_t)u;
    return TALLY_OK;
}

tally_status schema__r_bool(schema__r *r, bool *v)
{
    uint8_t b;

    *v = false;
    if (rd_byte(r, &b) != TALLY_OK || (b != 0xc2 && b != 0xc3)) {
        return TALLY_EFORMAT;
    }
    *v = b == 0xc3;
    return TALLY_OK;
}

/* Length of a str/bin/array with a fix form (fix_lo..fix_lo+fix_n-1) and 8/16/32-bit forms. */
static tally_status rd_len(schema__r *r, uint8_t fix_lo, uint8_t fix_n, uint8_t f8, size_t nforms,
                           size_t *n)
{
    static const uint64_t floor_of[3] = {0, 0x100, 0x10000};
    uint8_t b;
    uint64_t v, floor;
    size_t k;

    *n = 0;
    if (rd_byte(r, &b) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    if (fix_n && b >= fix_lo && b < fix_lo + fix_n) {
        /* the fix forms too: a length is never more than the bytes left */
        if ((size_t)(b - fix_lo) > r->left) {
            return TALLY_EFORMAT;
        }
        *n = (size_t)(b - fix_lo);
        return TALLY_OK;
    }
    /* arrays have only 16- and 32-bit forms: f8 then names the 16-bit one */
    if (b < f8 || b >= f8 + nforms) {
        return TALLY_EFORMAT;
    }
    k = (size_t)(b - f8) + (nforms == 2 ? 1 : 0);
    if (rd_be(r, (size_t)1 << k, &v) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    /* The smallest form that holds the length is the only canonical one: a 16-bit array count
     * starts where fixarray ends (16), a 16-bit str or bin length at 256. */
    floor = k == 0 || (k == 1 && nforms == 2) ? fix_n : floor_of[k];
    if (v < floor) {
        return TALLY_EFORMAT;
    }
    if (v > r->left) {
        return TALLY_EFORMAT;
    }
    *n = (size_t)v;
    return TALLY_OK;
}

tally_status schema__r_str(schema__r *r, const char **p, size_t *n)
{
    *p = NULL;
    if (rd_len(r, 0xa0, 32, 0xd9, 3, n) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    *p = (const char *)r->p;
    r->p += *n, r->left -= *n;
    return TALLY_OK;
}

tally_status schema__r_bin(schema__r *r, const uint8_t **p, size_t *n)
{
    *p = NULL;
    if (rd_len(r, 0, 0, 0xc4, 3, n) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    *p = r->p;
    r->p += *n, r->left -= *n;
    return TALLY_OK;
}

tally_status schema__r_array(schema__r *r, size_t *n)
{
    return rd_len(r, 0x90, 16, 0xdc, 2, n);
}

bool schema__r_nil(schema__r *r)
{
    if (r->left > 0 && r->p[0] == 0xc0) {
        r->p++, r->left--;
        return true;
    }
    return false;
}

int schema__r_peek(const schema__r *r)
{
    uint8_t b;

    if (r->left == 0) {
        return -1;
    }
    b = r->p[0];
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xcf) || (b >= 0xd0 && b <= 0xd3)) {
        return SCHEMA_PV_INT;
    }
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
        return SCHEMA_PV_TEXT;
    }
    if (b == 0xc2 || b == 0xc3) {
        return SCHEMA_PV_BOOL;
    }
    return -1;
}

/* ---- text classes ---- */

/* Well-formed UTF-8 (no overlong forms, no surrogates, ≤ U+10FFFF) without C0, DEL or C1. */
/* The offset of the first byte that is not valid text (spec §2.2 rule 4), or n if there is
 * none. *cp is the code point there when it decoded as one (a control character), else it is
 * UINT32_MAX (malformed UTF-8: bad lead or continuation byte, truncation, overlong form,
 * surrogate, beyond U+10FFFF). */
static size_t utf8_first_bad(const uint8_t *s, size_t n, uint32_t *cp)
{
    size_t i = 0;

    *cp = UINT32_MAX;
    while (i < n) {
        uint32_t c = s[i];
        size_t len, k;

        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                *cp = c;
                return i;
            }
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2, c &= 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, c &= 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, c &= 0x07;
        } else {
            return i;
        }
        if (n - i < len) {
            return i;
        }
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return i;
            }
            c = c << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
            (c >= 0xd800 && c <= 0xdfff)) {
            return i;
        }
        if (c >= 0x80 && c <= 0x9f) {
            *cp = c;
            return i;
        }
        i += len;
    }
    return n;
}

/* The offset of the first byte outside a one-byte class, or n. */
static size_t class_first_bad(int cls, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (cls == SC_CODE) {
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-')) {
                return i;
            }
        } else if (c < 0x21 || c > 0x7e || (cls == SC_ORIGIN && c == '+')) {
            return i;
        }
    }
    return n;
}

bool schema__text_ok(int cls, const char *p, size_t n)
{
    const uint8_t *s = (const uint8_t *)p;
    uint32_t cp;

    if (cls == SC_TEXT) {
        return utf8_first_bad(s, n, &cp) == n;
    }
    return class_first_bad(cls, s, n) == n;
}

void schema__text_why(int cls, const char *p, size_t n, char *out, size_t cap)
{
    const uint8_t *s = (const uint8_t *)p;
    uint32_t cp;
    size_t i;

    if (cls == SC_TEXT) {
        i = utf8_first_bad(s, n, &cp);
        if (i == n) {
            snprintf(out, cap, "text is valid");
        } else if (cp != UINT32_MAX) {
            snprintf(out, cap, "text has a control character U+%04X at byte %zu", (unsigned)cp,
                     i);
        } else {
            snprintf(out, cap, "text is not well-formed UTF-8 at byte %zu", i);
        }
        return;
    }
    i = class_first_bad(cls, s, n);
    if (i == n) {
        snprintf(out, cap, "text is valid");
    } else if (cls == SC_CODE) {
        snprintf(out, cap, "byte %zu (0x%02x) is not one of A-Z a-z 0-9 _ . -", i, s[i]);
    } else if (cls == SC_ORIGIN && s[i] == '+') {
        snprintf(out, cap, "byte %zu is '+', which an origin may not hold", i);
    } else {
        snprintf(out, cap, "byte %zu (0x%02x) is not printable ascii (0x21-0x7e)", i, s[i]);
    }
}

/* ---- arena: a list of blocks, freed together ---- */

struct schema__arena {
    struct schema__arena *next;
    size_t used, cap;
    _Alignas(16) uint8_t data[];
};

#define ARENA_BLOCK 8192u

void *schema__alloc(schema_body *b, size_t n)
{
    struct schema__arena *a = b->mem_;
    void *p;

    n = (n + 15u) & ~(size_t)15u;
    if (a == NULL || n > a->cap - a->used) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        struct schema__arena *nb = malloc(sizeof(*nb) + cap);
        if (nb == NULL) {
            return NULL;
        }
        nb->next = a;
        nb->used = 0;
        nb->cap = cap;
        b->mem_ = a = nb;
    }
    p = a->data + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void schema_body_release(schema_body *b)
{
    struct schema__arena *a;

    if (b == NULL) {
        return;
    }
    a = b->mem_;
    while (a != NULL) {
        struct schema__arena *next = a->next;
        free(a);
        a = next;
    }
    memset(b, 0, sizeof(*b));
}

bool schema_text_ok(const char *p, size_t n)
{
    return schema__text_ok(SC_TEXT, p, n);
}

/* schema internals: canonical msgpack (spec §2.2) and the descriptor tables that drive every
 * record's encoder, decoder, validator and JSON view.
 *
 * Byte forms accepted (anything else is TALLY_EFORMAT):
 * | first byte   | form            | value range / length          | canonical when            |
 * |--------------|-----------------|-------------------------------|---------------------------|
 * | 0x00-0x7f    | positive fixint | 0..127                        | always                    |
 * | 0xcc/cd/ce/cf| uint8/16/32/64  | BE payload                    | value needs that width    |
 * | 0xe0-0xff    | negative fixint | -32..-1                       | always                    |
 * | 0xd0/d1/d2/d3| int8/16/32/64   | BE two's complement           | negative and needs width  |
 * | 0xc0/c2/c3   | nil/false/true  |                               | always                    |
 * | 0xa0-0xbf    | fixstr          | 0..31 bytes                   | always                    |
 * | 0xd9/da/db   | str8/16/32      | u8/u16/u32 BE length          | length needs that width   |
 * | 0xc4/c5/c6   | bin8/16/32      | u8/u16/u32 BE length          | length needs that width   |
 * | 0x90-0x9f    | fixarray        | 0..15 items                   | always                    |
 * | 0xdc/dd      | array16/32      | u16/u32 BE count              | count needs that width    |
 * Maps, floats, ext and 0xc1 are rejected at their first byte.
 */
#ifndef TALLY_SCHEMA_INT_H
#define TALLY_SCHEMA_INT_H

#include <msgpack.h>

#include "schema/schema.h"

/* ---- writer: msgpack-c's forms into a fixed buffer; an overflow is remembered, not written */
typedef struct schema__w {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
} schema__w;

void schema__w_init(schema__w *w, uint8_t *buf, size_t cap);
void schema__w_uint(schema__w *w, uint64_t v);
void schema__w_int(schema__w *w, int64_t v);
void schema__w_nil(schema__w *w);
void schema__w_bool(schema__w *w, bool v);
void schema__w_str(schema__w *w, const char *p, size_t n);
void schema__w_bin(schema__w *w, const uint8_t *p, size_t n);
void schema__w_array(schema__w *w, size_t n);

/* ---- reader: strict, bounds-checked; every read checks what is left ---- */
typedef struct schema__r {
    const uint8_t *p;
    size_t left;
} schema__r;

TALLY_MUST_USE tally_status schema__r_uint(schema__r *r, uint64_t *v);
TALLY_MUST_USE tally_status schema__r_int(schema__r *r, int64_t *v);
TALLY_MUST_USE tally_status schema__r_bool(schema__r *r, bool *v);
TALLY_MUST_USE tally_status schema__r_str(schema__r *r, const char **p, size_t *n);
TALLY_MUST_USE tally_status schema__r_bin(schema__r *r, const uint8_t **p, size_t *n);
/* Reads an array header; the count is checked against the bytes left (one byte an item at
 * least), so no count can ask for more memory than the input could describe. */
TALLY_MUST_USE tally_status schema__r_array(schema__r *r, size_t *n);
/* Consumes a nil if one is next. */
bool schema__r_nil(schema__r *r);
/* 0 if the next value is an integer (of either sign), for the param value union. */
int schema__r_peek(const schema__r *r);

/* ---- text classes (spec §2.2 rule 4) ---- */
enum { SC_TEXT = 0, SC_CODE = 1, SC_ASCII = 2, SC_ORIGIN = 3 };
bool schema__text_ok(int cls, const char *p, size_t n);
/* Why text fails its class, as a phrase naming the first bad byte or character (for errors
 * only: it scans again). */
void schema__text_why(int cls, const char *p, size_t n, char *out, size_t cap);

/* ---- arena: memory of decoded bodies (strings, arrays, the input copy) ---- */
struct schema__arena;
void *schema__alloc(schema_body *b, size_t n); /* zeroed; NULL on ENOMEM */

/* ---- descriptors ---- */
enum {
    SF_UINT = 1,  /* uint64_t, bounds lo..hi */
    SF_INT,       /* int64_t, any value */
    SF_BOOL,      /* bool */
    SF_BIN,       /* uint8_t[lo], fixed length lo */
    SF_STR,       /* tally_str, length lo..hi, class sclass */
    SF_ARRAY,     /* pointer at off, size_t count at aux; count lo..hi; element sub */
    SF_FIXED,     /* inline array of exactly lo elements at off; element sub */
    SF_TUPLE,     /* inline struct at off, encoded as the array of sub's fields */
    SF_PVALUE,    /* schema_pvalue: int64 | text256 | bool */
};
enum {
    SF_NULL = 1,   /* T|nil: presence bool at aux (for SF_ARRAY never) */
    SF_ASC = 2,    /* array: strictly ascending by the element's first field */
    SF_HEX = 4,    /* JSON: bin as hex (default) */
    SF_SS58 = 8,   /* JSON: bin 32 as SS58 */
    SF_DECSTR = 16 /* JSON: uint as a decimal string (stake) */
};

typedef struct schema__desc schema__desc;
typedef struct schema__field {
    const char *name;
    uint8_t kind, flags, sclass;
    uint16_t off, aux;
    uint64_t lo, hi;
    const schema__desc *sub;   /* SF_TUPLE layout, or the element of SF_ARRAY/SF_FIXED */
    const char *const *names;  /* enumeration names by value, for JSON; NULL if none */
    uint8_t n_names;
    /* SF_FIXED: the JSON member name of each of the lo elements, so the view is an object
     * {name: element} instead of a positional array; NULL for an array. */
    const char *const *members;
} schema__field;

struct schema__desc {
    const char *name;
    size_t size;   /* bytes of one element (arrays) or of the struct */
    bool scalar;   /* element of an array that is one value, not a tuple: f[0] describes it */
    uint8_t n;
    const schema__field *f;
    /* Rules beyond the fields' shape; NULL if none. Returns TALLY_OK, or TALLY_EFORMAT naming
     * the field concerned (relative to v) through schema__bad when err is not NULL. */
    tally_status (*check)(const void *v, schema_field_error *err);
};

/* The body descriptor of a known type, or NULL. */
const schema__desc *schema__body_desc(unsigned type);
extern const schema__desc schema__header_desc;

/* Generic codec over a descriptor. dec fills base (zeroed by the caller), allocating arrays
 * from b's arena; strings point into the reader's bytes. */
TALLY_MUST_USE tally_status schema__dec(schema__r *r, const schema__desc *d, void *base,
                                        schema_body *b);
/* schema__dec and schema__validate (with err NULL) in one walk: each value is held to its rule
 * as it is read. The status is the one the two calls give in turn: the shape's, else
 * TALLY_EFORMAT for a broken rule. */
TALLY_MUST_USE tally_status schema__dec_valid(schema__r *r, const schema__desc *d, void *base,
                                              schema_body *b);
void schema__enc(schema__w *w, const schema__desc *d, const void *base);
/* Shape check of a caller-built struct (bounds, lengths, classes, order) and d->check.
 * TALLY_EFORMAT on failure, with *err (when not NULL) naming the field relative to base. */
TALLY_MUST_USE tally_status schema__validate(const schema__desc *d, const void *base,
                                             schema_field_error *err);

/* ---- field errors, built only on failure: the leaf sets its name, each level it returns
 * through puts its own segment in front ("odds_n" → "prices[1].odds_n") ---- */
/* Fills err (when not NULL): kind, path and a printf phrase; returns TALLY_EFORMAT. */
tally_status schema__bad(schema_field_error *err, int bad, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Puts "name." (or "name[i]." with has_index, "name[i]" / "name" when path is "") in front of
 * err->path; NULL err is a no-op. */
void schema__path_push(schema_field_error *err, const char *name, bool has_index, size_t i);

TALLY_MUST_USE tally_status schema__body_decode(unsigned type, const uint8_t *p, size_t n,
                                                bool own, schema_body *out,
                                                schema_field_error *err);

/* Shared enumeration names (index = wire value). */
extern const char *const schema__side_names[6];
extern const char *const schema__kind_names[5];
extern const char *const schema__tier_names[5];

#define SF_OFF(T, m) ((uint16_t)offsetof(T, m))

#endif

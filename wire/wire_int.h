/* wire internals: strict decimals, and a lenient msgpack tokenizer that reads every format so a
 * request can be told malformed (not msgpack, or forms §2.2 rule 1 rejects) from non-canonical
 * (valid msgpack in a larger form than needed).
 *
 * | first byte      | token     | canonical (small) when                     |
 * |-----------------|-----------|--------------------------------------------|
 * | 0x00-0x7f       | WT_UINT   | always                                     |
 * | 0xcc/cd/ce/cf   | WT_UINT   | value > 0x7f / 0xff / 0xffff / 0xffffffff  |
 * | 0xe0-0xff       | WT_NINT   | always                                     |
 * | 0xd0/d1/d2/d3   | WT_NINT   | value negative and < -32 / -128 / -32768 / -2^31; |
 * |                 | (WT_UINT) | a value ≥ 0 in an intN form is never small |
 * | 0xc0, c2, c3    | WT_NIL, WT_BOOL | always                               |
 * | 0xa0-bf, d9/da/db | WT_STR  | length > 31 / 0xff / 0xffff for str8/16/32 |
 * | 0xc4/c5/c6      | WT_BIN    | bin8 always; length > 0xff / 0xffff        |
 * | 0x90-9f, dc/dd  | WT_ARRAY  | count > 15 / 0xffff for array16/32         |
 * | maps, floats, ext, 0xc1 | malformed (wire__next fails)                 |
 */
#ifndef TALLY_WIRE_INT_H
#define TALLY_WIRE_INT_H

#include "wire/wire.h"

/* Parses a decimal of digits only, no sign, no leading zero ("0" itself allowed), ≤ max. */
bool wire__decimal(const char *s, size_t n, uint64_t max, uint64_t *out);

/* An origin: ascii128 without '+' (protocol §2.5 GENESIS). */
bool wire__origin_ok(tally_str o);

enum { WT_UINT = 1, WT_NINT, WT_NIL, WT_BOOL, WT_STR, WT_BIN, WT_ARRAY };
typedef struct wire__tok {
    int kind;
    uint64_t u;       /* WT_UINT value, WT_BOOL 0/1, WT_ARRAY count, WT_STR/WT_BIN length */
    int64_t i;        /* WT_NINT value */
    const uint8_t *p; /* WT_STR/WT_BIN payload */
    bool small;       /* the smallest form for the value */
} wire__tok;
typedef struct wire__rd {
    const uint8_t *p;
    size_t n, off;
} wire__rd;
/* Reads one token (an array's header only). False for truncation, a rejected format, or an
 * array count that could not fit in the bytes left. */
bool wire__next(wire__rd *r, wire__tok *t);

#endif

/* The lenient msgpack tokenizer of wire_int.h and strict decimals. */
#include <string.h>

#include "wire/wire_int.h"

bool wire__decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    *out = 0;
    if (s == NULL || n == 0 || n > 20 || (n > 1 && s[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || v > (max - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool wire__origin_ok(tally_str o)
{
    if (o.p == NULL || o.n == 0 || o.n > SCHEMA_ORIGIN_MAX) {
        return false;
    }
    for (size_t i = 0; i < o.n; i++) {
        if (o.p[i] < 0x21 || o.p[i] > 0x7e || o.p[i] == '+') {
            return false;
        }
    }
    return true;
}

static bool take(wire__rd *r, size_t k, uint64_t *v)
{
    *v = 0;
    if (r->n - r->off < k) {
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        *v = *v << 8 | r->p[r->off + i];
    }
    r->off += k;
    return true;
}

static bool payload(wire__rd *r, wire__tok *t, uint64_t len)
{
    if (len > r->n - r->off) {
        return false;
    }
    t->u = len;
    t->p = r->p + r->off;
    r->off += (size_t)len;
    return true;
}

static bool sint(wire__tok *t, uint64_t raw, unsigned bits)
{
    int64_t v;
    int64_t lo = bits == 8 ? -32 : bits == 16 ? -128 : bits == 32 ? -32768 : -2147483648LL;

    if (bits < 64 && (raw >> (bits - 1) & 1u)) {
        raw |= ~0ull << bits; /* sign-extend */
    }
    memcpy(&v, &raw, sizeof(v));
    if (v >= 0) {
        t->kind = WT_UINT;
        t->u = (uint64_t)v;
        t->small = false;
    } else {
        t->kind = WT_NINT;
        t->i = v;
        t->small = v < lo;
    }
    return true;
}

bool wire__next(wire__rd *r, wire__tok *t)
{
    uint64_t v;
    uint8_t b;

    memset(t, 0, sizeof(*t));
    t->small = true;
    if (r->off >= r->n) {
        return false;
    }
    b = r->p[r->off++];
    if (b <= 0x7f || b >= 0xe0) {
        t->kind = b <= 0x7f ? WT_UINT : WT_NINT;
        t->u = b;
        t->i = (int8_t)b;
        return true;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        t->kind = WT_STR;
        return payload(r, t, b & 0x1fu);
    }
    if (b >= 0x90 && b <= 0x9f) {
        t->kind = WT_ARRAY;
        t->u = b & 0x0fu;
        return t->u <= r->n - r->off;
    }
    switch (b) {
    case 0xc0:
        t->kind = WT_NIL;
        return true;
    case 0xc2:
    case 0xc3:
        t->kind = WT_BOOL;
        t->u = b & 1u;
        return true;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        static const uint64_t floor_[4] = {0x7f, 0xff, 0xffff, 0xffffffffu};
        unsigned w = b - 0xccu;
        t->kind = WT_UINT;
        if (!take(r, (size_t)1 << w, &t->u)) {
            return false;
        }
        t->small = t->u > floor_[w];
        return true;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        unsigned w = b - 0xd0u;
        if (!take(r, (size_t)1 << w, &v)) {
            return false;
        }
        return sint(t, v, 8u << w);
    }
    case 0xd9:
    case 0xda:
    case 0xdb:
    case 0xc4:
    case 0xc5:
    case 0xc6: {
        bool str = b >= 0xd9;
        unsigned w = str ? b - 0xd9u : b - 0xc4u;
        t->kind = str ? WT_STR : WT_BIN;
        if (!take(r, (size_t)1 << w, &v)) {
            return false;
        }
        t->small = w == 0 ? (!str || v > 31) : w == 1 ? v > 0xff : v > 0xffff;
        return payload(r, t, v);
    }
    case 0xdc:
    case 0xdd:
        t->kind = WT_ARRAY;
        if (!take(r, b == 0xdc ? 2 : 4, &t->u)) {
            return false;
        }
        t->small = b == 0xdc ? t->u > 15 : t->u > 0xffff;
        return t->u <= r->n - r->off;
    default:
        return false; /* maps, floats, ext, 0xc1 */
    }
}

/* Text helpers shared by the log writer, the metrics renderer and the configuration errors. */
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_int.h"

size_t ops__utf8_seq(const uint8_t *p, size_t n)
{
    uint32_t cp;
    size_t len;

    if (n == 0) {
        return 0;
    }
    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2, cp = p[0] & 0x1fu;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3, cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4, cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    /* Overlong three- and four-byte forms, UTF-16 surrogates, and past U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

void ops__errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || cap == 0) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

void ops__fmt_double(double v, char out[32])
{
    if (v != v) {
        memcpy(out, "NaN", 4);
        return;
    }
    if (v > DBL_MAX || v < -DBL_MAX) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
        return;
    }
    /* Integers print without exponent or point up to 2^53, where doubles stop being exact. */
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && (double)(int64_t)v == v) {
        (void)snprintf(out, 32, "%.0f", v);
        if (strcmp(out, "-0") == 0) {
            memcpy(out, "0", 2);
        }
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        (void)snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            return;
        }
    }
}

/* Private to ops/: helpers shared by its files. No byte layout is persisted here; the one wire
 * format is text (JSON lines, Prometheus exposition), whose rules live beside their writers. */
#ifndef TALLY_OPS_OPS_INT_H
#define TALLY_OPS_OPS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* The length (1..4) of the well-formed UTF-8 sequence at p[0..n), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are not). */
size_t ops__utf8_seq(const uint8_t *p, size_t n);

/* snprintf into err[0..cap) when err is not NULL; never fails. */
void ops__errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The shortest decimal text of v that reads back as v ("0.0005", "1", "+Inf", "NaN"). */
void ops__fmt_double(double v, char out[32]);

#endif

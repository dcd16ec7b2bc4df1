/* A rewriting HTTP proxy for tests (tamper/'s, tamper.h, with a hook of the test's own): listens
 * on 127.0.0.1 (ephemeral port), forwards each request to one upstream with the blocking client,
 * and lets the hook rewrite the answer's body before it goes back (a misbehaving node between the
 * auditor and the honest one). One connection at a time, keep-alive; answers carry
 * Content-Length, never a content encoding. */
#ifndef TALLY_TESTS_PROXY_H
#define TALLY_TESTS_PROXY_H

#include <stddef.h>
#include <stdint.h>

/* Called for each answer: target as requested, status, and the body; may replace the body with
 * a malloc'd one (*out, *out_n; the proxy frees it). */
typedef void (*tp_rewrite_fn)(void *arg, const char *target, unsigned status,
                              const uint8_t *body, size_t n, uint8_t **out, size_t *out_n);

typedef struct tp_proxy tp_proxy;
/* Starts the proxy in a thread; aborts the test if it cannot. */
tp_proxy *tp_start(uint16_t upstream_port, tp_rewrite_fn fn, void *arg);
uint16_t tp_port(const tp_proxy *p);
void tp_stop(tp_proxy *p);

#endif

/* §4: the Tally-* headers, the signing string, the request digest and the request signature. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire_int.h"

static const char prefix[] = "tally-req-v1";

static bool lower_hex(const char *s, size_t want, uint8_t *out)
{
    return strlen(s) == want && schema_unhex(s, want, out, want / 2) == TALLY_OK;
}

tally_status wire_auth_parse(const wire_auth_headers *h, wire_auth *out, wire_err *err_out)
{
    const wire_hval *all[4] = {&h->key, &h->time, &h->nonce, &h->sig};
    bool ok;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < 4; i++) {
        if (all[i]->value == NULL || all[i]->count == 0) {
            *err_out = WIRE_AUTH_MISSING;
            return TALLY_EAUTH;
        }
    }
    ok = h->key.count == 1 && h->time.count == 1 && h->nonce.count == 1 && h->sig.count == 1;
    ok = ok && lower_hex(h->key.value, 64, out->key) && lower_hex(h->sig.value, 128, out->sig);
    ok = ok && wire__decimal(h->time.value, strlen(h->time.value), SCHEMA_ID_MAX, &out->time_ms);
    ok = ok && wire__decimal(h->nonce.value, strlen(h->nonce.value), SCHEMA_ID_MAX, &out->nonce) &&
         out->nonce != 0;
    if (!ok) {
        memset(out, 0, sizeof(*out));
        *err_out = WIRE_AUTH_MALFORMED;
        return TALLY_EFORMAT;
    }
    *err_out = WIRE_OK;
    return TALLY_OK;
}

static bool request_ok(const wire_request *rq)
{
    if (!wire__origin_ok(rq->origin) || rq->method.p == NULL || rq->method.n == 0 ||
        rq->method.n > WIRE_METHOD_MAX || rq->target.p == NULL || rq->target.n == 0 ||
        rq->target.n > WIRE_TARGET_MAX || rq->target.p[0] != '/' || rq->time_ms > SCHEMA_ID_MAX ||
        rq->nonce > SCHEMA_ID_MAX || (rq->body == NULL && rq->body_len != 0)) {
        return false;
    }
    for (size_t i = 0; i < rq->method.n; i++) {
        if (rq->method.p[i] < 'A' || rq->method.p[i] > 'Z') {
            return false;
        }
    }
    for (size_t i = 0; i < rq->target.n; i++) {
        if (rq->target.p[i] < 0x21 || rq->target.p[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

/* Writes the lines; with_time false leaves out line 5 and its LF (the digest's text). */
static tally_status build(const wire_request *rq, bool with_time, char *buf, size_t cap,
                          size_t *n_out)
{
    uint8_t hash[32];
    char hex[65], tbuf[24];
    int n;

    *n_out = 0;
    if (!request_ok(rq)) {
        return TALLY_EINVAL;
    }
    schema_sha256_2(hash, rq->body, rq->body_len, NULL, 0);
    schema_hex(hash, 32, hex);
    snprintf(tbuf, sizeof(tbuf), "%llu\n", (unsigned long long)rq->time_ms);
    n = snprintf(buf, cap, "%s\n%.*s\n%.*s\n%.*s\n%s%llu\n%s", prefix, (int)rq->origin.n,
                 rq->origin.p, (int)rq->method.n, rq->method.p, (int)rq->target.n, rq->target.p,
                 with_time ? tbuf : "", (unsigned long long)rq->nonce, hex);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0) {
            sodium_memzero(buf, cap);
        }
        return TALLY_ELIMIT;
    }
    *n_out = (size_t)n;
    return TALLY_OK;
}

tally_status wire_signing_string(const wire_request *rq, char *buf, size_t cap, size_t *n_out)
{
    return build(rq, true, buf, cap, n_out);
}

tally_status wire_request_digest(const wire_request *rq, uint8_t out[32])
{
    char buf[WIRE_SIGNING_MAX + 1];
    size_t n;
    tally_status st = build(rq, false, buf, sizeof(buf), &n);

    memset(out, 0, 32);
    if (st == TALLY_OK) {
        schema_sha256_2(out, (const uint8_t *)buf, n, NULL, 0);
    }
    return st;
}

tally_status wire_request_sign(const wire_request *rq, const uint8_t sk[64], uint8_t sig_out[64])
{
    char buf[WIRE_SIGNING_MAX + 1];
    size_t n;
    tally_status st = build(rq, true, buf, sizeof(buf), &n);

    memset(sig_out, 0, 64);
    if (st == TALLY_OK) {
        crypto_sign_detached(sig_out, NULL, (const uint8_t *)buf, n, sk);
    }
    return st;
}

tally_status wire_request_verify(const wire_request *rq, const uint8_t key[32],
                                 const uint8_t sig[64])
{
    char buf[WIRE_SIGNING_MAX + 1];
    size_t n;
    tally_status st = build(rq, true, buf, sizeof(buf), &n);

    if (st != TALLY_OK) {
        return st;
    }
    /* libsodium's -1 becomes TALLY_EAUTH here, the one place this module verifies a request */
    return crypto_sign_verify_detached(sig, (const uint8_t *)buf, n, key) == 0 ? TALLY_OK
                                                                               : TALLY_EAUTH;
}

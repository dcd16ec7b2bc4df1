/* §6.1: the login message the auditor signs, the JSON bodies of /v1/auth/challenge and
 * /v1/auth/token, the bearer header, and the strict key=value queries of the ledger routes. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "wire/wire_int.h"

static const char login_tag[] = "tally-auth-v1";

tally_status wire_login_message(tally_str origin, const uint8_t challenge[32],
                                const uint8_t key[32], uint8_t *buf, size_t cap, size_t *n_out)
{
    size_t need = 1 + 1 + (sizeof(login_tag) - 1) + 2 + origin.n + 2 * (2 + 32);
    size_t k = 0;

    *n_out = 0;
    if (!wire__origin_ok(origin)) {
        return TALLY_EINVAL;
    }
    if (cap < need) {
        return TALLY_ELIMIT;
    }
    buf[k++] = 0x94;
    buf[k++] = (uint8_t)(0xa0 | (sizeof(login_tag) - 1));
    memcpy(buf + k, login_tag, sizeof(login_tag) - 1);
    k += sizeof(login_tag) - 1;
    /* the origin is 1..128 bytes: fixstr up to 31, else str8 */
    if (origin.n <= 31) {
        buf[k++] = (uint8_t)(0xa0 | origin.n);
    } else {
        buf[k++] = 0xd9;
        buf[k++] = (uint8_t)origin.n;
    }
    memcpy(buf + k, origin.p, origin.n);
    k += origin.n;
    buf[k++] = 0xc4, buf[k++] = 32;
    memcpy(buf + k, challenge, 32);
    k += 32;
    buf[k++] = 0xc4, buf[k++] = 32;
    memcpy(buf + k, key, 32);
    k += 32;
    *n_out = k;
    return TALLY_OK;
}

tally_status wire_login_sign(tally_str origin, const uint8_t challenge[32], const uint8_t key[32],
                             const uint8_t sk[64], uint8_t sig_out[64])
{
    uint8_t msg[WIRE_LOGIN_MSG_MAX];
    size_t n;
    tally_status st = wire_login_message(origin, challenge, key, msg, sizeof(msg), &n);

    memset(sig_out, 0, 64);
    if (st != TALLY_OK) {
        return st;
    }
    crypto_sign_detached(sig_out, NULL, msg, n, sk);
    return TALLY_OK;
}

tally_status wire_login_verify(tally_str origin, const uint8_t challenge[32],
                               const uint8_t key[32], const uint8_t sig[64])
{
    uint8_t msg[WIRE_LOGIN_MSG_MAX];
    size_t n;
    tally_status st = wire_login_message(origin, challenge, key, msg, sizeof(msg), &n);

    if (st != TALLY_OK) {
        return st;
    }
    return crypto_sign_verify_detached(sig, msg, n, key) == 0 ? TALLY_OK : TALLY_EAUTH;
}

static tally_status malformed(wire_fail *f, const char *field, const char *what)
{
    if (f != NULL) {
        memset(f, 0, sizeof(*f));
        f->err = WIRE_MALFORMED_BODY;
        snprintf(f->field, sizeof(f->field), "%s", field);
        snprintf(f->message, sizeof(f->message), "%s%s%s", field, *field ? ": " : "", what);
    }
    return TALLY_EFORMAT;
}

/* One object with exactly the members names[0..n) (jansson rejects duplicate keys with
 * JSON_REJECT_DUPLICATES), each a string of the given hex length, decoded into outs. */
static tally_status hex_members(const char *json, size_t len, const char *const *names,
                                const size_t *hexlen, uint8_t *const *outs, size_t n,
                                wire_fail *fail)
{
    json_error_t je;
    json_t *o;
    tally_status st = TALLY_OK;

    if (json == NULL || len == 0 || len > WIRE_AUTH_BODY_MAX) {
        return malformed(fail, "", "the body is 1 to 4096 bytes of JSON");
    }
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return malformed(fail, "", "the body is one JSON object");
    }
    if (json_object_size(o) != n) {
        st = malformed(fail, "", "unknown or missing members");
    }
    for (size_t i = 0; st == TALLY_OK && i < n; i++) {
        const char *s = json_string_value(json_object_get(o, names[i]));
        if (s == NULL || strlen(s) != hexlen[i] ||
            schema_unhex(s, hexlen[i], outs[i], hexlen[i] / 2) != TALLY_OK) {
            st = malformed(fail, names[i], "lower-case hex of the exact length");
        }
    }
    json_decref(o);
    if (st != TALLY_OK) {
        for (size_t i = 0; i < n; i++) {
            memset(outs[i], 0, hexlen[i] / 2);
        }
    }
    return st;
}

tally_status wire_challenge_req_parse(const char *json, size_t n, uint8_t key_out[32],
                                      wire_fail *fail)
{
    static const char *const names[1] = {"key"};
    static const size_t lens[1] = {64};
    uint8_t *outs[1] = {key_out};

    memset(key_out, 0, 32);
    return hex_members(json, n, names, lens, outs, 1, fail);
}

tally_status wire_token_req_parse(const char *json, size_t n, wire_token_req *out,
                                  wire_fail *fail)
{
    static const char *const names[3] = {"key", "challenge", "sig"};
    static const size_t lens[3] = {64, 64, 128};
    uint8_t *outs[3] = {out->key, out->challenge, out->sig};

    memset(out, 0, sizeof(*out));
    return hex_members(json, n, names, lens, outs, 3, fail);
}

tally_status wire_bearer_parse(const char *value, uint8_t token_out[32])
{
    memset(token_out, 0, 32);
    if (value == NULL || strncasecmp(value, "Bearer ", 7) != 0 || strlen(value + 7) != 64 ||
        schema_unhex(value + 7, 64, token_out, 32) != TALLY_OK) {
        memset(token_out, 0, 32);
        return TALLY_EFORMAT;
    }
    return TALLY_OK;
}

bool wire_decimal_parse(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    return wire__decimal(s, n, max, out);
}

static tally_status bad_query(wire_fail *f, wire_qparam *params, size_t n, const char *field,
                              const char *what)
{
    for (size_t i = 0; i < n; i++) {
        params[i].present = false, params[i].u = 0;
        memset(params[i].hex, 0, 32);
    }
    if (f != NULL) {
        memset(f, 0, sizeof(*f));
        f->err = WIRE_BAD_REQUEST;
        snprintf(f->field, sizeof(f->field), "%s", field);
        snprintf(f->message, sizeof(f->message), "query %s%s%s", field, *field ? ": " : "",
                 what);
    }
    return TALLY_EFORMAT;
}

tally_status wire_query_params(const char *query, wire_qparam *params, size_t n, wire_fail *fail)
{
    const char *s = query;

    for (size_t i = 0; i < n; i++) {
        params[i].present = false, params[i].u = 0;
        memset(params[i].hex, 0, 32);
    }
    if (query == NULL || *query == '\0') {
        return TALLY_OK;
    }
    if (strlen(query) > WIRE_TARGET_MAX) {
        return bad_query(fail, params, n, "", "longer than a request-target");
    }
    for (;;) {
        const char *amp = strchr(s, '&');
        size_t len = amp != NULL ? (size_t)(amp - s) : strlen(s), kn, vn;
        const char *eq = memchr(s, '=', len), *v;
        wire_qparam *q = NULL;

        if (eq == NULL || eq == s || (size_t)(eq - s) + 1 == len) {
            return bad_query(fail, params, n, "", "every part is key=value, both non-empty");
        }
        kn = (size_t)(eq - s), v = eq + 1, vn = len - kn - 1;
        for (size_t i = 0; i < n; i++) {
            if (strlen(params[i].key) == kn && memcmp(params[i].key, s, kn) == 0) {
                q = &params[i];
            }
        }
        if (q == NULL || q->present) {
            char k[32];
            snprintf(k, sizeof(k), "%.*s", (int)(kn < 24 ? kn : 24), s);
            return bad_query(fail, params, n, k, q == NULL ? "unknown key" : "given twice");
        }
        q->present = true;
        if (q->hex32 ? vn != 64 || schema_unhex(v, 64, q->hex, 32) != TALLY_OK
                     : !wire__decimal(v, vn, q->max ? q->max : SCHEMA_ID_MAX, &q->u)) {
            return bad_query(fail, params, n, q->key,
                             q->hex32 ? "64 lower-case hex digits" : "a decimal in range");
        }
        if (amp == NULL) {
            return TALLY_OK;
        }
        s = amp + 1;
    }
}

/* An ingest request as the node sees it: the input is split into five LF-terminated lines
 * (Tally-Key, Tally-Time, Tally-Nonce, Tally-Signature, the query after '?'; a line starting
 * with '*' stands for a header sent twice, a missing line for an absent header) and the rest,
 * the body, which goes through the odds and outcome parsers and, as JSON, the receipt parser.
 * Anything accepted must be canonical: the request rebuilt from its items is the same bytes,
 * each item's decoded body re-encodes to the same bytes, a receipt's JSON round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINE_MAX_ 4096

/* The §4 vector's key and nonce, used when the headers do not parse. */
static const uint8_t vector_key[32] = {
    0x79, 0xb5, 0x56, 0x2e, 0x8f, 0xe6, 0x54, 0xf9, 0x40, 0x78, 0xb1, 0x12, 0xe8, 0xa9, 0x8b, 0xa7,
    0x90, 0x1f, 0x85, 0x3a, 0xe6, 0x95, 0xbe, 0xd7, 0xe0, 0xe3, 0x91, 0x0b, 0xad, 0x04, 0x96, 0x64};

static void check_items(const wire_items *it, const uint8_t *p, size_t n)
{
    static uint8_t again[SCHEMA_BODY_MAX];
    wire_signed sv[WIRE_ODDS_ITEMS_MAX];
    uint8_t *req;
    size_t rn, m;

    if (it->n == 0 || it->n > WIRE_ODDS_ITEMS_MAX) {
        abort();
    }
    for (size_t i = 0; i < it->n; i++) {
        const wire_item *w = &it->items[i];
        if (schema_body_encode(&w->decoded, again, sizeof(again), &m) != TALLY_OK ||
            m != w->body.n || memcmp(again, w->body.p, m) != 0 ||
            memcmp(w->header.actor_sig, w->sig, 64) != 0) {
            abort();
        }
        sv[i] = (wire_signed){w->body, w->sig};
    }
    if (wire_request_build(sv, it->n, &req, &rn) != TALLY_OK || rn != n ||
        memcmp(req, p, n) != 0) {
        abort();
    }
    free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tally_str origin = {"tally.example.org/57", 20};
    static char lines[5][LINE_MAX_];
    wire_hval hv[5];
    const uint8_t *p = data, *body;
    size_t left = size, body_n;
    wire_auth_headers h;
    wire_auth a;
    wire_err e;
    wire_games_query q;
    wire_fail f;
    wire_items it = WIRE_ITEMS_INIT;
    schema_paramset ps;
    wire_receipt r, r2;
    uint8_t sig[64], sig2[64];
    const uint8_t *key = vector_key;
    uint64_t nonce = 1767225600000000ull;

    for (int i = 0; i < 5; i++) {
        const uint8_t *lf = memchr(p, '\n', left);
        size_t len;
        hv[i] = (wire_hval){NULL, 0};
        if (lf == NULL || (size_t)(lf - p) >= LINE_MAX_) {
            continue;
        }
        len = (size_t)(lf - p);
        memcpy(lines[i], p, len);
        lines[i][len] = '\0';
        hv[i] = lines[i][0] == '*' ? (wire_hval){lines[i] + 1, 2} : (wire_hval){lines[i], 1};
        left -= len + 1;
        p = lf + 1;
    }
    body = p;
    body_n = left;

    h = (wire_auth_headers){hv[0], hv[1], hv[2], hv[3]};
    if (wire_auth_parse(&h, &a, &e) == TALLY_OK) {
        char hex[65];
        schema_hex(a.key, 32, hex);
        if (e != WIRE_OK || strcmp(hex, hv[0].value) != 0 || a.nonce == 0) {
            abort();
        }
        key = a.key;
        nonce = a.nonce;
    } else if (e != WIRE_AUTH_MISSING && e != WIRE_AUTH_MALFORMED) {
        abort();
    }
    if (wire_games_query_parse(hv[4].value, &q, &f) == TALLY_OK) {
        if (q.limit < 1 || q.limit > WIRE_GAMES_LIMIT_MAX) {
            abort();
        }
    } else if (f.err != WIRE_BAD_REQUEST) {
        abort();
    }

    schema_paramset_default(&ps);
    if (wire_odds_parse(origin, key, nonce, &ps, body, body_n, &it, &f) == TALLY_OK) {
        check_items(&it, body, body_n);
        wire_items_release(&it);
    } else if (it.items != NULL || wire_err_http(f.err) < 400) {
        abort();
    }
    if (wire_outcomes_parse(origin, key, nonce, NULL, body, body_n, &it, &f) == TALLY_OK) {
        check_items(&it, body, body_n);
        wire_items_release(&it);
    } else if (it.items != NULL || wire_err_http(f.err) < 400) {
        abort();
    }
    if (wire_receipt_from_json((const char *)body, body_n, &r, sig) == TALLY_OK) {
        char *js;
        if (wire_receipt_to_json(&r, sig, &js) != TALLY_OK ||
            wire_receipt_from_json(js, strlen(js), &r2, sig2) != TALLY_OK ||
            memcmp(&r, &r2, sizeof(r)) != 0 || memcmp(sig, sig2, 64) != 0) {
            abort();
        }
        free(js);
    }
    return 0;
}

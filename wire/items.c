/* §5.2–§5.4: POST /v1/odds and /v1/outcomes bodies, their stateless checks in the order of §14.2
 * (docs/protocol-notes.md), and the client's inverse (item signatures, request bodies).
 *
 * The request is read three times: a generic walk (msgpack formats, depth, trailing bytes, the
 * smallest forms), a typed scan of each item's shape with a lenient reader (so a request in a
 * non-smallest form is still understood and reported as non_canonical, not malformed), and
 * schema_body_decode_ex on each item's exact body bytes, which decides the field bounds. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"

/* What the scan learns of one item, before any body is decoded. */
typedef struct sitem {
    size_t off, len;    /* the body's bytes in the request */
    const uint8_t *sig; /* 64 bytes in the request */
    uint64_t nonce, idx, event_id, source;
    size_t n_markets;
    bool few_prices;  /* a market with fewer than 2 prices (sides_invalid) */
    bool many_prices; /* a market with more than 3 (batch_too_large) */
    bool decoded;
    bool has_ferr; /* decode_ex found a field out of bounds: ferr says which */
    schema_field_error ferr;
    schema_body body;
} sitem;

typedef struct kind_rules {
    unsigned type;
    size_t max_items;
    const char *what;
} kind_rules;

static const kind_rules odds_rules = {SCHEMA_ODDS_SUBMISSION, WIRE_ODDS_ITEMS_MAX, "odds"};
static const kind_rules outcome_rules = {SCHEMA_OUTCOME, WIRE_OUTCOME_ITEMS_MAX, "outcome"};

static tally_status status_of(wire_err e)
{
    switch (e) {
    case WIRE_MALFORMED_BODY:
    case WIRE_NON_CANONICAL:
        return TALLY_EFORMAT;
    case WIRE_BATCH_TOO_LARGE:
    case WIRE_PAYLOAD_TOO_LARGE:
        return TALLY_ELIMIT;
    case WIRE_ITEM_SIGNATURE_INVALID:
        return TALLY_EAUTH;
    default:
        return TALLY_EINVAL;
    }
}

static tally_status refuse(wire_fail *f, wire_err e, long idx, uint64_t market_id,
                           const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static tally_status refuse(wire_fail *f, wire_err e, long idx, uint64_t market_id,
                           const char *field, const char *fmt, ...)
{
    va_list ap;

    memset(f, 0, sizeof(*f));
    f->err = e;
    f->has_idx = idx >= 0;
    f->idx = idx >= 0 ? (size_t)idx : 0;
    f->market_id = market_id;
    snprintf(f->field, sizeof(f->field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
    return status_of(e);
}

/* ---- pass 1: the generic walk ---- */

/* False for anything that is not msgpack of the allowed formats within the depth bound; *small
 * turns false at the first value not in its smallest form. */
static bool walk(wire__rd *r, unsigned depth, bool *small)
{
    wire__tok t;

    if (!wire__next(r, &t)) {
        return false;
    }
    *small = *small && t.small;
    if (t.kind != WT_ARRAY) {
        return true;
    }
    if (depth > WIRE_DEPTH_MAX) {
        return false; /* the top-level array is depth 1 (§14.1) */
    }
    for (uint64_t i = 0; i < t.u; i++) {
        if (!walk(r, depth + 1, small)) {
            return false;
        }
    }
    return true;
}

/* ---- pass 2: the typed scan (input already walked) ---- */

static bool rd_kind(wire__rd *r, int kind, uint64_t *v)
{
    wire__tok t;

    *v = 0;
    if (!wire__next(r, &t) || t.kind != kind) {
        return false;
    }
    *v = t.u;
    return true;
}

static bool rd_uint_nil(wire__rd *r, uint64_t *v, bool *has)
{
    wire__tok t;

    if (!wire__next(r, &t) || (t.kind != WT_UINT && t.kind != WT_NIL)) {
        return false;
    }
    *has = t.kind == WT_UINT;
    *v = t.u;
    return true;
}

static bool rd_arity(wire__rd *r, uint64_t want)
{
    uint64_t n;

    return rd_kind(r, WT_ARRAY, &n) && n == want;
}

static bool rd_bin(wire__rd *r, size_t want, const uint8_t **p)
{
    wire__tok t;

    if (!wire__next(r, &t) || t.kind != WT_BIN || t.u != want) {
        return false;
    }
    *p = t.p;
    return true;
}

/* One market entry [market_id, kind, priced_at_ms|nil, [[side, odds_n, imp_prob_n], ...]]. */
static bool scan_entry(wire__rd *r, sitem *it, uint64_t *market_id, bool *ordered)
{
    uint64_t kind, at, np, side, prev = 0, v;
    bool has;

    if (!rd_arity(r, 4) || !rd_kind(r, WT_UINT, market_id) || !rd_kind(r, WT_UINT, &kind) ||
        !rd_uint_nil(r, &at, &has) || !rd_kind(r, WT_ARRAY, &np)) {
        return false;
    }
    it->few_prices = it->few_prices || np < 2;
    it->many_prices = it->many_prices || np > WIRE_PRICES_MAX;
    for (uint64_t j = 0; j < np; j++) {
        if (!rd_arity(r, 3) || !rd_kind(r, WT_UINT, &side) || !rd_kind(r, WT_UINT, &v) ||
            !rd_kind(r, WT_UINT, &v)) {
            return false;
        }
        /* a repeated side is a side-set fault (§14.2), a descending one an ordering fault */
        *ordered = *ordered && (j == 0 || side >= prev);
        prev = side;
    }
    return true;
}

/* An ODDS_SUBMISSION body [nonce, idx, event_id, [entry, ...], salt]. */
static bool scan_odds(wire__rd *r, sitem *it, bool *ordered)
{
    uint64_t nm, mid, prev = 0;
    const uint8_t *salt;

    if (!rd_arity(r, 5) || !rd_kind(r, WT_UINT, &it->nonce) || !rd_kind(r, WT_UINT, &it->idx) ||
        !rd_kind(r, WT_UINT, &it->event_id) || !rd_kind(r, WT_ARRAY, &nm)) {
        return false;
    }
    it->n_markets = (size_t)nm;
    for (uint64_t k = 0; k < nm; k++) {
        if (!scan_entry(r, it, &mid, ordered)) {
            return false;
        }
        *ordered = *ordered && (k == 0 || mid > prev);
        prev = mid;
    }
    return rd_bin(r, 16, &salt);
}

/* An OUTCOME body [source, nonce, idx, event_id, result|nil, home|nil, away|nil, salt]; a
 * request's outcomes are the miner's, so the salt is never nil (§12 case 45). */
static bool scan_outcome(wire__rd *r, sitem *it, bool *ordered)
{
    uint64_t v;
    bool has;
    const uint8_t *salt;

    (void)ordered;
    if (!rd_arity(r, 8) || !rd_kind(r, WT_UINT, &it->source) || !rd_kind(r, WT_UINT, &it->nonce) ||
        !rd_kind(r, WT_UINT, &it->idx) || !rd_kind(r, WT_UINT, &it->event_id)) {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        if (!rd_uint_nil(r, &v, &has)) {
            return false;
        }
    }
    return rd_bin(r, 16, &salt);
}

/* The form stage: walk, scan every item (keeping the first `keep`), then decode those. */
static tally_status form(const kind_rules *kr, const uint8_t *p, size_t n, sitem *items,
                         size_t keep, size_t *count_out, size_t *markets_out, wire_fail *f)
{
    wire__rd r = {p, n, 0};
    bool small = true, ordered = true;
    uint64_t count;
    bool walked = walk(&r, 1, &small);

    if (!walked || r.off != n) {
        return refuse(f, WIRE_MALFORMED_BODY, -1, 0, "",
                      walked ? "bytes after the request's top-level value"
                             : "not canonical msgpack of the allowed formats "
                               "(truncated, a map, float or ext, or nested over 8 levels)");
    }
    r.off = 0;
    if (!rd_kind(&r, WT_ARRAY, &count) || count == 0) {
        return refuse(f, WIRE_MALFORMED_BODY, -1, 0, "", "the request is not an array of items");
    }
    *count_out = (size_t)count;
    *markets_out = 0;
    for (size_t i = 0; i < count; i++) {
        sitem scratch, *it = i < keep ? &items[i] : &scratch;
        bool ok;
        memset(&scratch, 0, sizeof(scratch));
        ok = rd_arity(&r, 2);
        it->off = r.off;
        ok = ok && (kr->type == SCHEMA_ODDS_SUBMISSION ? scan_odds(&r, it, &ordered)
                                                       : scan_outcome(&r, it, &ordered));
        it->len = r.off - it->off;
        ok = ok && rd_bin(&r, 64, &it->sig);
        if (!ok) {
            return refuse(f, WIRE_MALFORMED_BODY, (long)i, 0, "",
                          "item %zu is not [%s body, bin 64 signature] of the right types and "
                          "arity (a salt of 16 bytes included)",
                          i, kr->what);
        }
        *markets_out += it->n_markets;
    }
    if (!small || !ordered) {
        return refuse(f, WIRE_NON_CANONICAL, -1, 0, "",
                      !small ? "a value is not in its smallest msgpack form"
                             : "markets or prices are not in ascending order");
    }
    for (size_t i = 0; i < keep && i < count; i++) {
        sitem *it = &items[i];
        tally_status st;
        if (kr->type == SCHEMA_ODDS_SUBMISSION &&
            (it->many_prices || it->few_prices || it->n_markets == 0 ||
             it->n_markets > WIRE_ITEM_MARKETS_MAX)) {
            continue; /* decided by the count and side-set stages */
        }
        st = schema_body_decode_ex(kr->type, p + it->off, it->len, &it->body, &it->ferr);
        if (st == TALLY_ENOMEM) {
            return TALLY_ENOMEM;
        }
        if (st != TALLY_OK && (st != TALLY_EFORMAT || it->ferr.bad == SCHEMA_BAD_NONE)) {
            return refuse(f, WIRE_MALFORMED_BODY, (long)i, 0, "", "item %zu: %s", i,
                          st == TALLY_EFORMAT ? it->ferr.what : tally_status_str(st));
        }
        it->decoded = st == TALLY_OK;
        it->has_ferr = st != TALLY_OK;
    }
    return TALLY_OK;
}

static tally_status counts(const kind_rules *kr, const sitem *items, size_t count, size_t markets,
                           wire_fail *f)
{
    size_t total = 0;

    if (count > kr->max_items) {
        return refuse(f, WIRE_BATCH_TOO_LARGE, -1, 0, "", "%zu items, at most %zu per request",
                      count, kr->max_items);
    }
    for (size_t i = 0; i < count; i++) {
        if (items[i].n_markets > WIRE_ITEM_MARKETS_MAX) {
            return refuse(f, WIRE_BATCH_TOO_LARGE, (long)i, 0, "markets",
                          "item %zu has %zu markets, at most %u", i, items[i].n_markets,
                          WIRE_ITEM_MARKETS_MAX);
        }
        if (items[i].many_prices) {
            return refuse(f, WIRE_BATCH_TOO_LARGE, (long)i, 0, "markets",
                          "item %zu has a market with more than %u prices", i, WIRE_PRICES_MAX);
        }
        total += items[i].n_markets;
        if (total > WIRE_ODDS_MARKETS_MAX) {
            return refuse(f, WIRE_BATCH_TOO_LARGE, (long)i, 0, "",
                          "%zu markets over the request, at most %u", markets,
                          WIRE_ODDS_MARKETS_MAX);
        }
    }
    return TALLY_OK;
}

/* ---- pass 3: per item ---- */

/* Whether sides (ascending, distinct, 2..3 of them) are a valid set for kind: the MARKET
 * record's own rule, asked through schema_body_check so the rule lives in one place. */
static bool sides_ok(uint64_t kind, uint64_t *sides, size_t n)
{
    schema_body b = {.type = SCHEMA_MARKET};

    b.u.market = (schema_market){.market_id = 1,
                                 .event_id = 1,
                                 .kind = kind,
                                 .has_line_n = kind == SCHEMA_SPREAD || kind == SCHEMA_TOTAL,
                                 .sides = sides,
                                 .n_sides = n};
    return schema_body_check(&b, NULL) == TALLY_OK;
}

/* sides_invalid for the first market whose side set cannot be right: fewer than 2 prices, a
 * repeated side, or a set the kind does not allow (a kind outside 1..4 is a field fault). */
static tally_status odds_sides(const uint8_t *p, size_t n, size_t i, wire_fail *f)
{
    wire__rd r = {p, n, 0};
    uint64_t v = 0, nm = 0, mid = 0, kind = 0, np = 0;
    bool has;

    (void)(rd_arity(&r, 5) && rd_kind(&r, WT_UINT, &v) && rd_kind(&r, WT_UINT, &v) &&
           rd_kind(&r, WT_UINT, &v) && rd_kind(&r, WT_ARRAY, &nm));
    for (uint64_t k = 0; k < nm; k++) {
        uint64_t sides[WIRE_PRICES_MAX] = {0};
        char path[48];
        bool repeat = false;
        (void)(rd_arity(&r, 4) && rd_kind(&r, WT_UINT, &mid) && rd_kind(&r, WT_UINT, &kind) &&
               rd_uint_nil(&r, &v, &has) && rd_kind(&r, WT_ARRAY, &np));
        for (uint64_t j = 0; j < np; j++) {
            (void)(rd_arity(&r, 3) && rd_kind(&r, WT_UINT, &sides[j < 3 ? j : 2]) &&
                   rd_kind(&r, WT_UINT, &v) && rd_kind(&r, WT_UINT, &v));
            repeat = repeat || (j > 0 && j < 3 && sides[j] == sides[j - 1]);
        }
        snprintf(path, sizeof(path), "markets[%llu].prices", (unsigned long long)k);
        if (np < 2 || repeat || (kind >= 1 && kind <= 4 && !sides_ok(kind, sides, (size_t)np))) {
            return refuse(f, WIRE_SIDES_INVALID, (long)i, mid, path, "item %zu, market %llu: %s", i,
                          (unsigned long long)mid,
                          np < 2   ? "fewer than two prices"
                          : repeat ? "a side is repeated"
                                   : "the sides are not a valid set for the market's kind");
        }
    }
    return TALLY_OK;
}

/* The market_id of entry k of an odds body (0 if there is none), for a field error's details. */
static uint64_t market_at(const uint8_t *p, size_t n, size_t k)
{
    wire__rd r = {p, n, 0};
    uint64_t v = 0, nm = 0, mid = 0, np = 0;
    bool has;

    (void)(rd_arity(&r, 5) && rd_kind(&r, WT_UINT, &v) && rd_kind(&r, WT_UINT, &v) &&
           rd_kind(&r, WT_UINT, &v) && rd_kind(&r, WT_ARRAY, &nm));
    for (uint64_t e = 0; e < nm && e <= k; e++) {
        (void)(rd_arity(&r, 4) && rd_kind(&r, WT_UINT, &mid) && rd_kind(&r, WT_UINT, &v) &&
               rd_uint_nil(&r, &v, &has) && rd_kind(&r, WT_ARRAY, &np));
        for (uint64_t j = 0; j < np; j++) {
            (void)(rd_arity(&r, 3) && rd_kind(&r, WT_UINT, &v) && rd_kind(&r, WT_UINT, &v) &&
                   rd_kind(&r, WT_UINT, &v));
        }
    }
    return k < nm ? mid : 0;
}

/* A field fault found by schema_body_decode_ex, as the §8 code it stands for. */
static tally_status field_fault(const kind_rules *kr, const uint8_t *body, const sitem *it,
                                size_t i, wire_fail *f)
{
    const schema_field_error *e = &it->ferr;
    wire_err code = WIRE_INVALID_FIELD;
    uint64_t mid = 0;
    size_t k;

    if (kr->type == SCHEMA_ODDS_SUBMISSION) {
        if (e->bad == SCHEMA_BAD_SIDES || e->bad == SCHEMA_BAD_ORDER) {
            code = WIRE_SIDES_INVALID; /* descending order was refused at the form stage */
        }
        if (sscanf(e->path, "markets[%zu]", &k) == 1) {
            mid = market_at(body, it->len, k);
        }
    } else if (e->bad == SCHEMA_BAD_RULE &&
               (strcmp(e->path, "score_home") == 0 || strcmp(e->path, "score_away") == 0)) {
        code = WIRE_OUTCOME_INCOMPLETE;
    } else if (e->bad == SCHEMA_BAD_RULE && strcmp(e->path, "result") == 0) {
        code = WIRE_OUTCOME_INCONSISTENT;
    }
    return refuse(f, code, (long)i, mid, e->path, "item %zu: field %s: %s", i, e->path, e->what);
}

static tally_status per_item(const kind_rules *kr, const schema_paramset *ps, uint64_t nonce,
                             const uint8_t *p, sitem *items, size_t count, wire_fail *f)
{
    for (size_t i = 0; i < count; i++) {
        sitem *it = &items[i];
        const uint8_t *body = p + it->off;
        if (kr->type == SCHEMA_ODDS_SUBMISSION) {
            if (odds_sides(body, it->len, i, f) != TALLY_OK) {
                return status_of(f->err);
            }
            if (it->n_markets == 0) {
                return refuse(f, WIRE_INVALID_FIELD, (long)i, 0, "markets",
                              "item %zu has no markets", i);
            }
        } else if (it->source != 2) {
            return refuse(f, WIRE_INVALID_FIELD, (long)i, 0, "source",
                          "item %zu: a miner's outcome has source 2 (miner)", i);
        }
        if (it->has_ferr) {
            return field_fault(kr, body, it, i, f);
        }
        if (kr->type == SCHEMA_ODDS_SUBMISSION) {
            engine_verdict v;
            memset(&v, 0, sizeof(v));
            if (engine_prices_check(ps, &it->body.u.odds, &v) != ENGINE_RULE_OK) {
                return refuse(f,
                              v.rule == ENGINE_RULE_PRICE_INCONSISTENT ? WIRE_PRICE_INCONSISTENT
                                                                       : WIRE_INVALID_FIELD,
                              (long)i, v.market_id, v.field, "item %zu: %s", i, v.detail);
            }
        }
        for (size_t j = 0; j < i; j++) {
            if (items[j].event_id == it->event_id) {
                return refuse(f, WIRE_DUPLICATE_ITEM, (long)i, 0, "event_id",
                              "item %zu repeats event %llu of item %zu", i,
                              (unsigned long long)it->event_id, j);
            }
        }
        if (it->nonce != nonce || it->idx != i) {
            return refuse(f, WIRE_ITEM_NONCE_MISMATCH, (long)i, 0,
                          it->nonce != nonce ? "nonce" : "idx",
                          "item %zu has nonce %llu and idx %llu, the request nonce %llu and "
                          "position %zu",
                          i, (unsigned long long)it->nonce, (unsigned long long)it->idx,
                          (unsigned long long)nonce, i);
        }
    }
    return TALLY_OK;
}

/* ---- pass 4: signatures, then the items ---- */

static tally_status sign_and_fill(const kind_rules *kr, tally_str origin, const uint8_t key[32],
                                  const uint8_t *p, sitem *items, size_t count, wire_item *out,
                                  wire_fail *f)
{
    for (size_t i = 0; i < count; i++) {
        sitem *it = &items[i];
        wire_item *w = &out[i];
        tally_status st = schema_header_init(&it->body, p + it->off, it->len, key, &w->header);
        if (st != TALLY_OK) {
            return refuse(f, WIRE_INTERNAL_ERROR, (long)i, 0, "", "item %zu: header: %s", i,
                          tally_status_str(st));
        }
        memcpy(w->header.actor_sig, it->sig, 64);
        if (schema_record_verify(&w->header, origin) != TALLY_OK) {
            return refuse(f, WIRE_ITEM_SIGNATURE_INVALID, (long)i, 0, "",
                          "item %zu: the %s record signature does not verify for this key and "
                          "origin",
                          i, kr->what);
        }
        w->body = (tally_bytes){p + it->off, it->len};
        memcpy(w->sig, it->sig, 64);
        w->event_id = it->event_id;
        w->has_rows = w->header.has_rows;
        w->rows = w->header.rows;
    }
    for (size_t i = 0; i < count; i++) {
        out[i].decoded = items[i].body; /* ownership moves to the item list */
        memset(&items[i].body, 0, sizeof(items[i].body));
    }
    return TALLY_OK;
}

static tally_status parse(const kind_rules *kr, tally_str origin, const uint8_t key[32],
                          uint64_t nonce, const schema_paramset *ps, const uint8_t *p, size_t n,
                          wire_items *out, wire_fail *f)
{
    sitem *items = NULL;
    wire_item *res = NULL;
    size_t count = 0, markets = 0, keep = 0;
    tally_status st;

    out->items = NULL;
    out->n = 0;
    memset(f, 0, sizeof(*f));
    if (!wire__origin_ok(origin)) {
        (void)refuse(f, WIRE_INTERNAL_ERROR, -1, 0, "", "the node's origin is not valid");
        return TALLY_EINVAL;
    }
    if (n > WIRE_REQUEST_BODY_MAX) {
        return refuse(f, WIRE_PAYLOAD_TOO_LARGE, -1, 0, "", "%zu bytes, at most %u", n,
                      WIRE_REQUEST_BODY_MAX);
    }
    /* a request over the item bound fails at the count stage; only that many are kept */
    items = calloc(kr->max_items, sizeof(*items));
    if (items == NULL) {
        return TALLY_ENOMEM;
    }
    keep = kr->max_items;
    st = form(kr, p, n, items, keep, &count, &markets, f);
    if (st == TALLY_OK) {
        st = counts(kr, items, count, markets, f);
    }
    if (st == TALLY_OK) {
        st = per_item(kr, ps, nonce, p, items, count, f);
    }
    if (st == TALLY_OK) {
        res = calloc(count, sizeof(*res));
        st = res == NULL ? TALLY_ENOMEM : sign_and_fill(kr, origin, key, p, items, count, res, f);
    }
    for (size_t i = 0; i < keep; i++) {
        schema_body_release(&items[i].body);
    }
    free(items);
    if (st != TALLY_OK) {
        if (res != NULL) {
            wire_items its = {res, count};
            wire_items_release(&its);
        }
        if (st == TALLY_ENOMEM) {
            (void)refuse(f, WIRE_INTERNAL_ERROR, -1, 0, "", "out of memory");
        }
        return st;
    }
    out->items = res;
    out->n = count;
    return TALLY_OK;
}

tally_status wire_odds_parse(tally_str origin, const uint8_t key[32], uint64_t nonce,
                             const schema_paramset *ps, const uint8_t *p, size_t n, wire_items *out,
                             wire_fail *fail)
{
    TALLY_ASSERT(ps != NULL);
    return parse(&odds_rules, origin, key, nonce, ps, p, n, out, fail);
}

tally_status wire_outcomes_parse(tally_str origin, const uint8_t key[32], uint64_t nonce,
                                 const schema_paramset *ps, const uint8_t *p, size_t n,
                                 wire_items *out, wire_fail *fail)
{
    return parse(&outcome_rules, origin, key, nonce, ps, p, n, out, fail);
}

void wire_items_release(wire_items *it)
{
    if (it == NULL) {
        return;
    }
    for (size_t i = 0; i < it->n; i++) {
        schema_body_release(&it->items[i].decoded);
    }
    free(it->items);
    it->items = NULL;
    it->n = 0;
}

tally_status wire_item_sign(tally_str origin, unsigned type, const uint8_t key[32],
                            const uint8_t sk[64], const uint8_t *body, size_t n,
                            uint8_t sig_out[64])
{
    schema_body b;
    schema_header h;
    tally_status st;

    memset(sig_out, 0, 64);
    if ((type != SCHEMA_ODDS_SUBMISSION && type != SCHEMA_OUTCOME) || !wire__origin_ok(origin)) {
        return TALLY_EINVAL;
    }
    st = schema_body_decode(type, body, n, &b);
    if (st != TALLY_OK) {
        return st;
    }
    st = schema_header_init(&b, body, n, key, &h);
    if (st == TALLY_OK) {
        st = schema_record_sign(&h, origin, sk);
    }
    if (st == TALLY_OK) {
        memcpy(sig_out, h.actor_sig, 64);
    }
    schema_body_release(&b);
    return st;
}

tally_status wire_request_build(const wire_signed *items, size_t n, uint8_t **out, size_t *n_out)
{
    schema_mpw w;

    *out = NULL;
    *n_out = 0;
    if (n == 0 || n > WIRE_ODDS_ITEMS_MAX) {
        return TALLY_EINVAL;
    }
    schema_mpw_init(&w, WIRE_REQUEST_BODY_MAX);
    schema_mpw_array(&w, n);
    for (size_t i = 0; i < n; i++) {
        schema_mpw_array(&w, 2);
        schema_mpw_raw(&w, items[i].body.p, items[i].body.n);
        schema_mpw_bin(&w, items[i].sig, 64);
    }
    return schema_mpw_finish(&w, out, n_out);
}

/* Record headers (spec §2.1): the log entry and Merkle leaf, the record message that actor_sig
 * signs, and the rules tying a header to its body. */
#include <sodium.h>
#include <string.h>

#include "schema/schema_int.h"

/* The tier each type has (spec §2.5); OUTCOME depends on its source and reads 0 here. */
static unsigned type_tier(unsigned type)
{
    switch (type) {
    case SCHEMA_PROVIDER_QUOTE:
        return SCHEMA_PRIVATE;
    case SCHEMA_MARKET_SNAPSHOT:
    case SCHEMA_CLOSE:
    case SCHEMA_SUBMISSION_SCORE:
    case SCHEMA_MINER_SCORE:
        return SCHEMA_GATED;
    case SCHEMA_ODDS_SUBMISSION:
        return SCHEMA_EMBARGOED;
    case SCHEMA_OUTCOME:
        return 0;
    default:
        return SCHEMA_PUBLIC;
    }
}

static tally_status header_check(const void *v, schema_field_error *err)
{
    const schema_header *h = v;
    unsigned want = type_tier((unsigned)h->type);

    if (!schema_type_known((unsigned)h->type)) {
        return schema__bad(err, SCHEMA_BAD_RANGE, "type", "unknown record type");
    }
    if (want != 0 ? h->tier != want : (h->tier != SCHEMA_PUBLIC && h->tier != SCHEMA_EMBARGOED)) {
        return schema__bad(err, SCHEMA_BAD_RULE, "tier", "not the tier of the record type");
    }
    if (h->has_event_id != (h->tier == SCHEMA_EMBARGOED)) {
        return schema__bad(err, SCHEMA_BAD_RULE, "event_id", "given exactly for embargoed records");
    }
    if (h->has_rows != (h->type == SCHEMA_ODDS_SUBMISSION)) {
        return schema__bad(err, SCHEMA_BAD_RULE, "rows", "given exactly for ODDS_SUBMISSION");
    }
    return TALLY_OK;
}

static const schema__field header_f[] = {
    {.name = "version", .kind = SF_UINT, .off = SF_OFF(schema_header, version), .lo = 1, .hi = 1},
    {.name = "type", .kind = SF_UINT, .off = SF_OFF(schema_header, type), .lo = 1, .hi = 35},
    {.name = "time_ms", .kind = SF_UINT, .off = SF_OFF(schema_header, time_ms), .lo = 0,
     .hi = SCHEMA_ID_MAX},
    {.name = "tier", .kind = SF_UINT, .off = SF_OFF(schema_header, tier), .lo = 1, .hi = 4,
     .names = schema__tier_names, .n_names = 5},
    {.name = "event_id", .kind = SF_UINT, .flags = SF_NULL,
     .off = SF_OFF(schema_header, event_id), .aux = SF_OFF(schema_header, has_event_id), .lo = 1,
     .hi = SCHEMA_ID_MAX},
    {.name = "rows", .kind = SF_UINT, .flags = SF_NULL, .off = SF_OFF(schema_header, rows),
     .aux = SF_OFF(schema_header, has_rows), .lo = 2, .hi = 192},
    {.name = "actor", .kind = SF_BIN, .off = SF_OFF(schema_header, actor), .lo = 32},
    {.name = "body_hash", .kind = SF_BIN, .off = SF_OFF(schema_header, body_hash), .lo = 32},
    {.name = "sig", .kind = SF_BIN, .off = SF_OFF(schema_header, actor_sig), .lo = 64},
};
const schema__desc schema__header_desc = {.name = "header",
                                          .size = sizeof(schema_header),
                                          .n = 9,
                                          .f = header_f,
                                          .check = header_check};

tally_status schema_header_encode(const schema_header *h, uint8_t *buf, size_t cap, size_t *n_out)
{
    uint8_t tmp[SCHEMA_HEADER_MAX + 16];
    schema__w w;

    *n_out = 0;
    if (schema__validate(&schema__header_desc, h, NULL) != TALLY_OK) {
        return TALLY_EINVAL;
    }
    schema__w_init(&w, tmp, sizeof(tmp));
    schema__enc(&w, &schema__header_desc, h);
    TALLY_ASSERT(!w.overflow && w.len >= SCHEMA_HEADER_MIN && w.len <= SCHEMA_HEADER_MAX);
    if (w.len > cap) {
        return TALLY_ELIMIT;
    }
    memcpy(buf, tmp, w.len);
    *n_out = w.len;
    return TALLY_OK;
}

tally_status schema_header_decode(const uint8_t *p, size_t n, schema_header *out)
{
    schema__r r = {p, n};
    schema_body scratch = {0}; /* a header has no arrays: nothing is allocated */
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (n < SCHEMA_HEADER_MIN || n > SCHEMA_HEADER_MAX) {
        return TALLY_EFORMAT;
    }
    /* the shape and the rules (schema__validate's) in one walk */
    st = schema__dec_valid(&r, &schema__header_desc, out, &scratch);
    if (st == TALLY_OK && r.left != 0) {
        st = TALLY_EFORMAT;
    }
    TALLY_ASSERT(scratch.mem_ == NULL);
    if (st != TALLY_OK) {
        memset(out, 0, sizeof(*out));
    }
    return st;
}

tally_status schema_body_derive(const schema_body *b, schema_header *h)
{
    unsigned tier = type_tier(b->type);
    uint64_t rows = 0;

    if (!schema_type_known(b->type)) {
        return TALLY_EINVAL;
    }
    if (b->type == SCHEMA_OUTCOME) {
        tier = b->u.outcome.source == 1 ? SCHEMA_PUBLIC : SCHEMA_EMBARGOED;
    }
    h->type = b->type;
    h->tier = tier;
    h->has_event_id = tier == SCHEMA_EMBARGOED;
    h->event_id = 0;
    if (b->type == SCHEMA_ODDS_SUBMISSION) {
        h->event_id = b->u.odds.event_id;
        for (size_t i = 0; i < b->u.odds.n_markets; i++) {
            rows += b->u.odds.markets[i].n_prices;
        }
    } else if (b->type == SCHEMA_OUTCOME && h->has_event_id) {
        h->event_id = b->u.outcome.event_id;
    }
    h->has_rows = b->type == SCHEMA_ODDS_SUBMISSION;
    h->rows = rows;
    return TALLY_OK;
}

tally_status schema_author_check(const uint8_t node_pk[32], const schema_header *h)
{
    bool by_node = memcmp(h->actor, node_pk, 32) == 0;
    /* OUTCOME: the tier tells the source (public: the provider's, by the node) */
    bool node_type = !schema_type_miner((unsigned)h->type) ||
                     (h->type == SCHEMA_OUTCOME && h->tier == SCHEMA_PUBLIC);

    if (h->type == SCHEMA_ATTESTATION) {
        return by_node ? TALLY_EAUTH : TALLY_OK; /* auditors attest, never the node itself */
    }
    return node_type == by_node ? TALLY_OK : TALLY_EAUTH;
}

tally_status schema_record_build(const schema_body *b, const uint8_t actor[32],
                                 const uint8_t *sk, tally_str origin, uint64_t time_ms,
                                 uint8_t *buf, size_t cap, size_t *n_out, schema_header *h_out)
{
    tally_status st = schema_body_encode(b, buf, cap, n_out);

    if (st == TALLY_OK) {
        st = schema_header_init(b, buf, *n_out, actor, h_out);
    }
    if (st == TALLY_OK && sk != NULL) {
        st = schema_record_sign(h_out, origin, sk);
    }
    if (st != TALLY_OK) {
        *n_out = 0;
        memset(h_out, 0, sizeof(*h_out));
        return st;
    }
    h_out->time_ms = time_ms;
    return TALLY_OK;
}

tally_status schema_header_init(const schema_body *b, const uint8_t *body_bytes, size_t body_len,
                                const uint8_t actor[32], schema_header *out)
{
    memset(out, 0, sizeof(*out));
    out->version = SCHEMA_VERSION;
    if (schema_body_derive(b, out) != TALLY_OK) {
        return TALLY_EINVAL;
    }
    memcpy(out->actor, actor, 32);
    schema_sha256_2(out->body_hash, body_bytes, body_len, NULL, 0);
    return TALLY_OK;
}

tally_status schema_record_message(tally_str origin, const schema_header *h, uint8_t *buf,
                                   size_t cap, size_t *n_out)
{
    schema__w w;

    *n_out = 0;
    if (origin.n < 1 || origin.n > SCHEMA_ORIGIN_MAX ||
        !schema__text_ok(SC_ORIGIN, origin.p, origin.n)) {
        return TALLY_EINVAL;
    }
    schema__w_init(&w, buf, cap);
    schema__w_array(&w, 5);
    schema__w_str(&w, "tally-record-v1", 15);
    schema__w_str(&w, origin.p, origin.n);
    schema__w_uint(&w, h->type);
    schema__w_bin(&w, h->actor, 32);
    schema__w_bin(&w, h->body_hash, 32);
    if (w.overflow) {
        return TALLY_ELIMIT;
    }
    *n_out = w.len;
    return TALLY_OK;
}

tally_status schema_record_sign(schema_header *h, tally_str origin, const uint8_t sk[64])
{
    uint8_t msg[SCHEMA_MSG_MAX];
    size_t n;
    tally_status st = schema_record_message(origin, h, msg, sizeof(msg), &n);

    if (st != TALLY_OK) {
        return st;
    }
    crypto_sign_detached(h->actor_sig, NULL, msg, n, sk);
    return TALLY_OK;
}

tally_status schema_record_verify(const schema_header *h, tally_str origin)
{
    uint8_t msg[SCHEMA_MSG_MAX];
    size_t n;

    if (schema_record_message(origin, h, msg, sizeof(msg), &n) != TALLY_OK) {
        return TALLY_EAUTH;
    }
    return crypto_sign_verify_detached(h->actor_sig, msg, n, h->actor) == 0 ? TALLY_OK
                                                                            : TALLY_EAUTH;
}

tally_status schema_record_check(const schema_header *h, const uint8_t *body, size_t body_len,
                                 schema_body *out)
{
    uint8_t digest[32];
    schema_body b;
    schema_header want = *h;
    tally_status st;

    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    schema_sha256_2(digest, body, body_len, NULL, 0);
    /* public data: no need for a constant-time compare */
    if (memcmp(digest, h->body_hash, 32) != 0) {
        return TALLY_EFORMAT;
    }
    /* a caller that only asks whether the body fits gets no copy made */
    st = schema__body_decode((unsigned)h->type, body, body_len, out != NULL, &b, NULL);
    if (st != TALLY_OK) {
        return st;
    }
    st = schema_body_derive(&b, &want);
    if (st == TALLY_OK && (want.tier != h->tier || want.has_event_id != h->has_event_id ||
                           want.event_id != h->event_id || want.has_rows != h->has_rows ||
                           want.rows != h->rows)) {
        st = TALLY_EFORMAT;
    }
    if (st == TALLY_OK && out != NULL) {
        *out = b;
    } else {
        schema_body_release(&b);
    }
    return st == TALLY_EINVAL ? TALLY_EFORMAT : st;
}

void schema_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

tally_status schema_unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
    if (slen != 2 * n) {
        return TALLY_EFORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return TALLY_EFORMAT;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return TALLY_OK;
}

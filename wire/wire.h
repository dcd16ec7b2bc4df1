/* wire: the protocol's wire pieces shared by the node (net/) and its clients (`tally sign`,
 * `tally submit`, load generators, the auditor): the §8 error codes, the Tally-* headers and the
 * request signature of §4, the odds and outcome request bodies of §5.2–§5.4 with their stateless
 * checks, receipts (§5.5, §14.3), the /v1/games query (§5.1), and the ledger's pieces (§6): the
 * login message and bodies, ledger queries, tile paths, deltas and attestation requests. Pure functions: no I/O, no
 * network, no threads, no global state; every function may be called from any thread. */
#ifndef TALLY_WIRE_WIRE_H
#define TALLY_WIRE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "schema/schema.h"
#include "schema/status.h"

/* ---- §8 error codes ----
 * One static table (wire/errors.c) gives each code its name, HTTP status and failure class, in
 * the order of the §8 table. The item-level codes of §8 are not here: they are engine_rule. */
typedef enum wire_err {
    WIRE_OK = 0,
    WIRE_BAD_REQUEST,
    WIRE_UNKNOWN_ROUTE,
    WIRE_NOT_FOUND,
    WIRE_METHOD_NOT_ALLOWED,
    WIRE_FORBIDDEN,
    WIRE_REQUEST_TIMEOUT,
    WIRE_PAYLOAD_TOO_LARGE,
    WIRE_UNSUPPORTED_MEDIA_TYPE,
    WIRE_OVERLOADED,
    WIRE_RATE_LIMITED,
    WIRE_IP_COOLDOWN,
    WIRE_HOTKEY_COOLDOWN,
    WIRE_IP_BLACKLISTED,
    WIRE_HOTKEY_BLACKLISTED,
    WIRE_AUTH_MISSING,
    WIRE_AUTH_MALFORMED,
    WIRE_KEY_NOT_REGISTERED,
    WIRE_TIMESTAMP_SKEW,
    WIRE_BAD_SIGNATURE,
    WIRE_NONCE_STALE,
    WIRE_NONCE_REUSED,
    WIRE_NONCE_REPLAY,
    WIRE_MALFORMED_BODY,
    WIRE_NON_CANONICAL,
    WIRE_BATCH_TOO_LARGE,
    WIRE_INVALID_FIELD,
    WIRE_PRICE_INCONSISTENT,
    WIRE_SIDES_INVALID,
    WIRE_DUPLICATE_ITEM,
    WIRE_ITEM_NONCE_MISMATCH,
    WIRE_ITEM_SIGNATURE_INVALID,
    WIRE_OUTCOME_INCOMPLETE,
    WIRE_OUTCOME_INCONSISTENT,
    WIRE_ITEMS_REJECTED,
    WIRE_METAGRAPH_UNAVAILABLE,
    WIRE_TOKEN_MISSING,
    WIRE_TOKEN_INVALID,
    WIRE_NOT_ELIGIBLE,
    WIRE_CHALLENGE_INVALID,
    WIRE_RANGE_INVALID,
    WIRE_ATTESTATION_INVALID,
    WIRE_ATTESTATION_DUPLICATE,
    WIRE_COSIGNATURE_INVALID,
    WIRE_ADMIN_UNAUTHORIZED,
    WIRE_CONFLICT,
    WIRE_NOT_READY,
    WIRE_SHUTTING_DOWN,
    WIRE_STORAGE_FULL,
    WIRE_INTERNAL_ERROR,
    WIRE_ERR_COUNT
} wire_err;

/* "auth_missing" …; "ok" for WIRE_OK; NULL past the table. Static strings. */
const char *wire_err_name(wire_err e);
/* The HTTP status (401 …); 200 for WIRE_OK, 0 past the table. */
unsigned wire_err_http(wire_err e);
/* The §7.2 failure class: 'C', 'V', 'X', 'P', or 0 for "—" (and WIRE_OK, or past the table). */
char wire_err_class(wire_err e);
/* The code named name; WIRE_OK for NULL, "ok" or an unknown name (never a failure code). */
wire_err wire_err_from_name(const char *name);

/* What a stateless check refused, for the §8 error body: the code, the item (details.idx), the
 * market (details.market_id, 0 when none), the field (details.field, "" when none) and one
 * sentence for "message". Filled only on failure. */
#define WIRE_MSG_MAX 256u
typedef struct wire_fail {
    wire_err err;
    bool has_idx;
    size_t idx;
    uint64_t market_id;
    char field[SCHEMA_PATH_MAX];
    char message[WIRE_MSG_MAX];
} wire_fail;

/* ---- §4 Tally-* headers ---- */
#define WIRE_TARGET_MAX 2048u /* bytes of a request-target */
#define WIRE_METHOD_MAX 16u   /* bytes of a method name */
/* The largest signing string: the fixed lines, an origin of 128, a method of 16, a target of
 * 2048, two 16-digit decimals and a 64-digit hash, with six LFs. */
#define WIRE_SIGNING_MAX 2400u

/* One header as the HTTP layer saw it: its value (NUL-terminated; NULL when absent) and how many
 * times the header appeared (a repeated header is malformed whatever its values). */
typedef struct wire_hval {
    const char *value;
    unsigned count;
} wire_hval;
typedef struct wire_auth_headers {
    wire_hval key, time, nonce, sig; /* Tally-Key, Tally-Time, Tally-Nonce, Tally-Signature */
} wire_auth_headers;
typedef struct wire_auth {
    uint8_t key[32];
    uint64_t time_ms; /* 0..2^53−1 */
    uint64_t nonce;   /* 1..2^53−1 */
    uint8_t sig[64];
} wire_auth;

/* Parses the four Tally-* headers. TALLY_OK; or TALLY_EAUTH with *err_out WIRE_AUTH_MISSING when
 * any header is absent (checked first, for all four); or TALLY_EFORMAT with WIRE_AUTH_MALFORMED
 * when one is repeated or malformed: Tally-Key not exactly 64 lower-case hex digits,
 * Tally-Signature not exactly 128, Tally-Time not a decimal 0..2^53−1 and Tally-Nonce not one of
 * 1..2^53−1 (decimals: digits only, no sign, no leading zero, no spaces). *err_out is WIRE_OK on
 * success; on failure *out is zeroed. */
TALLY_MUST_USE tally_status wire_auth_parse(const wire_auth_headers *h, wire_auth *out,
                                            wire_err *err_out);

/* The parts of a signed request. body is the decoded request body (after Content-Encoding),
 * empty (NULL, 0) for GET. */
typedef struct wire_request {
    tally_str origin; /* ascii128 without '+', the node's origin */
    tally_str method; /* upper case A–Z, 1..16 bytes: "GET", "POST" */
    tally_str target; /* path plus "?" and query if any, exactly as sent; 1..2048 bytes of
                         0x21–0x7E beginning with '/' */
    uint64_t time_ms, nonce;
    const uint8_t *body;
    size_t body_len;
} wire_request;

/* The §4 signing string: "tally-req-v1", origin, METHOD, target, Tally-Time, Tally-Nonce and the
 * lower-case hex SHA-256 of the body, joined by LF with no trailing LF (the time and nonce in
 * canonical decimal, which is exactly the header text wire_auth_parse accepts). Writes it into
 * buf (not NUL-terminated). TALLY_EINVAL for an origin, method or target outside its rule above,
 * or a time or nonce above 2^53−1; TALLY_ELIMIT when cap is too small (WIRE_SIGNING_MAX is
 * always enough). *n_out is 0 on failure. */
TALLY_MUST_USE tally_status wire_signing_string(const wire_request *rq, char *buf, size_t cap,
                                                size_t *n_out);
/* The request digest of the write-nonce index (§4): SHA-256 of the signing string with its
 * Tally-Time line removed, meaning the fifth line together with the LF that ends it, so the
 * hashed text is the six lines "tally-req-v1", origin, METHOD, target, nonce, body hash joined
 * by LF. A retry re-signed with a fresh time therefore has the same digest. Errors as
 * wire_signing_string (out zeroed on failure). */
TALLY_MUST_USE tally_status wire_request_digest(const wire_request *rq, uint8_t out[32]);
/* Ed25519 (libsodium, no prehash) over the signing string with sk, a 64-byte libsodium secret
 * key. Errors as wire_signing_string; sig_out zeroed on failure. */
TALLY_MUST_USE tally_status wire_request_sign(const wire_request *rq, const uint8_t sk[64],
                                              uint8_t sig_out[64]);
/* TALLY_OK if sig verifies over the signing string under key (crypto_sign_verify_detached,
 * strict), TALLY_EAUTH if not; TALLY_EINVAL as wire_signing_string. */
TALLY_MUST_USE tally_status wire_request_verify(const wire_request *rq, const uint8_t key[32],
                                                const uint8_t sig[64]);

/* ---- §5.2–§5.4 odds and outcome requests ---- */
#define WIRE_ODDS_ITEMS_MAX 200u           /* items (events) per odds request */
#define WIRE_ITEM_MARKETS_MAX 64u          /* markets per odds item */
#define WIRE_ODDS_MARKETS_MAX 200u         /* markets over an odds request */
#define WIRE_PRICES_MAX 3u                 /* prices per market */
#define WIRE_OUTCOME_ITEMS_MAX 50u         /* items per outcome request */
#define WIRE_REQUEST_BODY_MAX (256u << 10) /* bytes of a decoded ingest body (§10) */
#define WIRE_DEPTH_MAX 8u                  /* msgpack nesting; the top-level array is depth 1 */

/* One accepted item. body is a view into the request bytes given to the parse function and is
 * valid as long as they are; decoded owns its memory until wire_items_release(). */
typedef struct wire_item {
    tally_bytes body;    /* the exact body bytes: the record body */
    uint8_t sig[64];     /* the item's record signature */
    schema_body decoded; /* ODDS_SUBMISSION or OUTCOME */
    uint64_t event_id;
    bool has_rows; /* odds: true, rows = number of prices; outcomes: false */
    uint64_t rows;
    schema_header header; /* [1, type, 0, 3, event_id, rows|nil, key, SHA-256(body), sig]:
                             ready to append once the writer sets time_ms */
} wire_item;
typedef struct wire_items {
    wire_item *items; /* n items in idx order, or NULL */
    size_t n;
} wire_items;
#define WIRE_ITEMS_INIT {NULL, 0}
void wire_items_release(wire_items *it); /* NULL and empty lists are no-ops; empties it */

/* Decodes a POST /v1/odds body `[[body, sig], ...]` and applies every stateless check of §5.4 in
 * the order of §14.2, the first fault winning (docs/protocol-notes.md lists the order in full):
 *   1. form: malformed_body (not msgpack, maps, floats, ext, 0xc1, truncation, trailing bytes,
 *      depth > 8, wrong types or arity, a sig that is not bin 64, a salt missing or not bin 16,
 *      no items), then non_canonical (valid msgpack in a non-smallest form, markets not strictly
 *      ascending by market_id, prices in descending side order);
 *   2. counts: batch_too_large (> 200 items, > 64 markets in an item, > 200 markets over the
 *      request, > 3 prices in a market);
 *   3. per item in idx order: sides_invalid (side set not valid for the kind, a repeated side,
 *      fewer than 2 prices), invalid_field (schema bounds, then the security.* bounds of ps),
 *      price_inconsistent (ingest.prob_tolerance of ps), duplicate_item (event of an earlier
 *      item), item_nonce_mismatch (body.nonce ≠ nonce or body.idx ≠ position);
 *   4. item signatures, in idx order: item_signature_invalid (the record message of type 10 for
 *      origin and key does not verify).
 * On TALLY_OK *out holds the items. Otherwise *out is empty, *fail names the fault, and the
 * status is TALLY_EFORMAT (malformed_body, non_canonical), TALLY_ELIMIT (batch_too_large, or
 * n > WIRE_REQUEST_BODY_MAX as payload_too_large), TALLY_EAUTH (item_signature_invalid),
 * TALLY_EINVAL (the other 422 codes; also, with fail->err WIRE_INTERNAL_ERROR, an origin that is
 * not ascii128 without '+'), or TALLY_ENOMEM. */
TALLY_MUST_USE tally_status wire_odds_parse(tally_str origin, const uint8_t key[32], uint64_t nonce,
                                            const schema_paramset *ps, const uint8_t *p, size_t n,
                                            wire_items *out, wire_fail *fail);
/* The same for POST /v1/outcomes `[[body, sig], ...]` with OUTCOME bodies (type 11): 1..50 items;
 * a salt nil or not bin 16 is malformed_body; per item: invalid_field (schema bounds, source
 * other than 2), outcome_incomplete (neither a result nor both scores), outcome_inconsistent (a
 * home/away/draw result contradicting the scores), duplicate_item, item_nonce_mismatch; then the
 * item signatures. ps is accepted for symmetry and may be NULL. */
TALLY_MUST_USE tally_status wire_outcomes_parse(tally_str origin, const uint8_t key[32],
                                                uint64_t nonce, const schema_paramset *ps,
                                                const uint8_t *p, size_t n, wire_items *out,
                                                wire_fail *fail);

/* A body and its signature, as a client holds them. Both views borrowed. */
typedef struct wire_signed {
    tally_bytes body;
    const uint8_t *sig; /* 64 bytes */
} wire_signed;
/* Signs one item body of type (SCHEMA_ODDS_SUBMISSION or SCHEMA_OUTCOME) for origin with sk (a
 * 64-byte libsodium secret key whose public half is key): the record signature of §2.1.
 * TALLY_EFORMAT if the body is not a canonical body of the type, TALLY_EINVAL for another type
 * or a bad origin; sig_out zeroed on failure. */
TALLY_MUST_USE tally_status wire_item_sign(tally_str origin, unsigned type, const uint8_t key[32],
                                           const uint8_t sk[64], const uint8_t *body, size_t n,
                                           uint8_t sig_out[64]);
/* Writes the request body `[[body, sig], ...]` of n items (1..200), each body inserted as its
 * bytes are. On TALLY_OK *out is malloc'd (the caller frees it) and *n_out its length; else
 * *out NULL, *n_out 0 and TALLY_EINVAL (n out of range), TALLY_ELIMIT (over
 * WIRE_REQUEST_BODY_MAX) or TALLY_ENOMEM. */
TALLY_MUST_USE tally_status wire_request_build(const wire_signed *items, size_t n, uint8_t **out,
                                               size_t *n_out);

/* ---- §5.5 receipts ---- */
#define WIRE_RECEIPT_MAX 200u /* entries: at most one per item of a request */
typedef struct wire_receipt_entry {
    uint64_t seq, time_ms;
    uint8_t leaf_hash[32];
} wire_receipt_entry;
typedef struct wire_receipt {
    char origin[SCHEMA_ORIGIN_MAX + 1]; /* NUL-terminated */
    uint8_t key[32];
    uint64_t nonce, tree_size;
    uint8_t root[32];
    size_t n; /* 0..WIRE_RECEIPT_MAX entries, strictly ascending by seq, every seq < tree_size */
    wire_receipt_entry entries[WIRE_RECEIPT_MAX];
} wire_receipt;

/* The message the node signs: canonical msgpack `["tally-receipt-v1", origin, key, nonce,
 * tree_size, root, [[seq, time_ms, leaf_hash], ...]]`, binaries as bin. TALLY_EINVAL for a
 * receipt breaking the rules above (origin ascii128 without '+', nonce 1..2^53−1, times ≤
 * 2^53−1, entries ascending and below tree_size); TALLY_ENOMEM. On TALLY_OK *out is malloc'd. */
TALLY_MUST_USE tally_status wire_receipt_message(const wire_receipt *r, uint8_t **out,
                                                 size_t *n_out);
/* Signs the message with the node's 64-byte libsodium secret key. Errors as the message. */
TALLY_MUST_USE tally_status wire_receipt_sign(const wire_receipt *r, const uint8_t sk[64],
                                              uint8_t sig_out[64]);
/* TALLY_OK when sig is node_pk's signature of the message; TALLY_EAUTH when not; TALLY_EINVAL
 * for a receipt the message cannot be built for. */
TALLY_MUST_USE tally_status wire_receipt_verify(const wire_receipt *r, const uint8_t sig[64],
                                                const uint8_t node_pk[32]);
/* JSON form (§14.3): {"origin", "key", "nonce", "tree_size", "root", "entries": [[seq, time_ms,
 * "leaf hex"]], "sig"}, binaries lower-case hex. *out is malloc'd, NUL-terminated, one line.
 * TALLY_EINVAL for a receipt breaking the rules above, TALLY_ENOMEM. */
TALLY_MUST_USE tally_status wire_receipt_to_json(const wire_receipt *r, const uint8_t sig[64],
                                                 char **out);
/* Parses the JSON form strictly: an object with exactly those seven members (no others, none
 * twice), integers within the rules above (no reals, no strings), lower-case hex of the exact
 * lengths, at most WIRE_RECEIPT_MAX entries of exactly three values, at most 64 KiB of text.
 * TALLY_EFORMAT otherwise (out zeroed); the signature is not checked here. */
TALLY_MUST_USE tally_status wire_receipt_from_json(const char *json, size_t n, wire_receipt *out,
                                                   uint8_t sig_out[64]);
/* The client's check of a receipt for its own accepted items: sig verifies under node_pk, the
 * receipt names origin and key, it has exactly n entries, and entry k's leaf hash is
 * SHA-256(0x00 || header) of the header rebuilt from items[k] (body, signature, type and the
 * entry's time_ms; §5.2, §5.3). items are the accepted items in idx order (the items the write
 * response reports as accepted); entry k is the k-th of them. TALLY_OK; TALLY_EAUTH for a bad
 * signature; TALLY_ECONFLICT when the signed receipt disagrees with the items (evidence against
 * the node); TALLY_EFORMAT for an item body that is not a canonical body of type; TALLY_EINVAL. */
TALLY_MUST_USE tally_status wire_receipt_check_items(const wire_receipt *r, const uint8_t sig[64],
                                                     const uint8_t node_pk[32], tally_str origin,
                                                     const uint8_t key[32],
                                                     const wire_signed *items, size_t n,
                                                     unsigned type);

/* ---- §5.1 GET /v1/games query ---- */
#define WIRE_GAMES_LIMIT_MAX 500u
#define WIRE_CODE_MAX 16u   /* bytes of a code16 (league, sport) */
#define WIRE_CURSOR_LEN 32u /* characters of a cursor */
/* Cursor: 32 lower-case hex digits of start_ms (8 bytes, big-endian) then event_id (8 bytes,
 * big-endian): the last event of the previous page; the next page starts after it. */
typedef struct wire_cursor {
    uint64_t start_ms; /* 0..2^53−1 */
    uint64_t event_id; /* 1..2^53−1 */
} wire_cursor;
typedef struct wire_games_query {
    unsigned limit; /* 1..500; 500 when absent */
    bool has_cursor, has_since, has_league, has_sport;
    wire_cursor cursor;
    uint64_t since_ms;
    char league[WIRE_CODE_MAX + 1], sport[WIRE_CODE_MAX + 1]; /* NUL-terminated */
} wire_games_query;
/* Parses the query (the text after '?', NULL or "" for none): '&'-separated key=value pairs,
 * keys limit, cursor, since_ms, league, sport, each at most once, values non-empty and never
 * percent-encoded (every legal value is plain ASCII: decimals, hex, code16 [A-Za-z0-9_.-]).
 * TALLY_EFORMAT with *fail (when not NULL) WIRE_BAD_REQUEST naming the key in fail->field for
 * an unknown or repeated key, an empty pair, a '%' or '+' anywhere, or a bad value; *out then
 * holds the defaults. */
TALLY_MUST_USE tally_status wire_games_query_parse(const char *query, wire_games_query *out,
                                                   wire_fail *fail);
/* out holds WIRE_CURSOR_LEN + 1 bytes (NUL-terminated). TALLY_EINVAL for values out of range
 * (out then ""). */
TALLY_MUST_USE tally_status wire_cursor_encode(const wire_cursor *c, char out[33]);
/* TALLY_EFORMAT unless s is exactly 32 lower-case hex digits of values within range. */
TALLY_MUST_USE tally_status wire_cursor_decode(const char *s, size_t n, wire_cursor *out);

/* ---- client side: JSON to bodies (`tally sign`) ---- */
/* A list of encoded bodies, each malloc'd; release with wire_bodies_release. */
typedef struct wire_bodies {
    uint8_t **body;
    size_t *len;
    size_t n;
} wire_bodies;
#define WIRE_BODIES_INIT {NULL, NULL, 0}
void wire_bodies_release(wire_bodies *b); /* NULL and empty lists are no-ops; empties it */
/* Builds the bodies of an odds request from JSON {"items": [{"event_id": …, "markets": […]},
 * …]}, each item in the named-field form of schema_body_from_json (ODDS_SUBMISSION), with
 * "nonce" and "idx" filled in (nonce; the position) unless given, and a fresh random salt
 * (randombytes_buf) unless given. A given nonce or idx that differs is refused. TALLY_EFORMAT
 * with *err (when not NULL) naming the field ("items[1].markets[0].kind") for bad JSON or a body
 * breaking a rule; TALLY_ELIMIT for more than 200 items; TALLY_ENOMEM. *out empty on failure. */
TALLY_MUST_USE tally_status wire_odds_from_json(const char *json, size_t n, uint64_t nonce,
                                                wire_bodies *out, schema_field_error *err);
/* The same for an outcome request (OUTCOME bodies; "source" defaults to "miner"; ≤ 50 items). */
TALLY_MUST_USE tally_status wire_outcomes_from_json(const char *json, size_t n, uint64_t nonce,
                                                    wire_bodies *out, schema_field_error *err);

/* ---- §6.1 ledger login ---- */
#define WIRE_AUTH_BODY_MAX 4096u  /* bytes of a decoded /v1/auth/ body (§10) */
#define WIRE_LOGIN_MSG_MAX 256u   /* bytes of the login message (origin ≤ 128) */
/* The message a login signature covers: canonical msgpack `["tally-auth-v1", origin, challenge
 * bin32, key bin32]`, written into buf. TALLY_EINVAL for an origin that is not ascii128 without
 * '+'; TALLY_ELIMIT when cap is too small (WIRE_LOGIN_MSG_MAX is enough); *n_out 0 then. */
TALLY_MUST_USE tally_status wire_login_message(tally_str origin, const uint8_t challenge[32],
                                               const uint8_t key[32], uint8_t *buf, size_t cap,
                                               size_t *n_out);
/* Ed25519 (no prehash) over the login message with sk (64-byte libsodium key of key). Errors as
 * the message; sig_out zeroed on failure. */
TALLY_MUST_USE tally_status wire_login_sign(tally_str origin, const uint8_t challenge[32],
                                            const uint8_t key[32], const uint8_t sk[64],
                                            uint8_t sig_out[64]);
/* TALLY_OK when sig verifies (crypto_sign_verify_detached, strict), TALLY_EAUTH when not,
 * TALLY_EINVAL for a bad origin. */
TALLY_MUST_USE tally_status wire_login_verify(tally_str origin, const uint8_t challenge[32],
                                              const uint8_t key[32], const uint8_t sig[64]);
/* The bodies of POST /v1/auth/challenge `{"key": hex64}` and POST /v1/auth/token `{"key": hex64,
 * "challenge": hex64, "sig": hex128}`: one JSON object with exactly those members (none twice, no
 * others), lower-case hex of the exact lengths, at most WIRE_AUTH_BODY_MAX bytes. TALLY_EFORMAT
 * with fail (when not NULL) WIRE_MALFORMED_BODY naming the member; outputs zeroed then. */
typedef struct wire_token_req {
    uint8_t key[32], challenge[32], sig[64];
} wire_token_req;
TALLY_MUST_USE tally_status wire_challenge_req_parse(const char *json, size_t n,
                                                     uint8_t key_out[32], wire_fail *fail);
TALLY_MUST_USE tally_status wire_token_req_parse(const char *json, size_t n, wire_token_req *out,
                                                 wire_fail *fail);
/* An Authorization value "Bearer <64 lower-case hex>" (scheme case-insensitive, one space).
 * TALLY_EFORMAT otherwise (token zeroed). */
TALLY_MUST_USE tally_status wire_bearer_parse(const char *value, uint8_t token_out[32]);

/* A decimal of digits only, no sign, no leading zero ("0" allowed), ≤ max (the rule of every
 * decimal in a header, path or query). */
bool wire_decimal_parse(const char *s, size_t n, uint64_t max, uint64_t *out);

/* ---- ledger queries (§6.3–§6.6): key=value pairs of decimals or 64-hex keys ---- */
typedef struct wire_qparam {
    const char *key; /* the name, e.g. "from" */
    bool hex32;      /* the value is 64 lower-case hex digits (a key) instead of a decimal */
    uint64_t max;    /* decimals: the largest allowed (0 means SCHEMA_ID_MAX) */
    bool present;    /* out: the pair was given */
    uint64_t u;      /* out: the decimal */
    uint8_t hex[32]; /* out: the key */
} wire_qparam;
/* Parses the query (NULL or "" for none) against the n keys of params: each at most once, none
 * other, no empty pair, no '%' or '+', decimals without sign or leading zero. TALLY_EFORMAT with
 * fail (when not NULL) WIRE_BAD_REQUEST naming the key; every present flag false then. */
TALLY_MUST_USE tally_status wire_query_params(const char *query, wire_qparam *params, size_t n,
                                              wire_fail *fail);

/* ---- §6.3 tile paths (c2sp.org/tlog-tiles, with tally's body bundles) ---- */
typedef enum wire_tile_kind {
    WIRE_TILE_HASH = 0, /* tile/<L>/<N>[.p/<W>] */
    WIRE_TILE_ENTRIES,  /* tile/entries/<N>[.p/<W>] */
    WIRE_TILE_BODIES,   /* bodies/<N>[.p/<W>] */
} wire_tile_kind;
#define WIRE_TILE_LEVEL_MAX 63u
#define WIRE_TILE_INDEX_MAX ((UINT64_C(1) << 56) - 1) /* 256·N + 255 fits in 64 bits */
#define WIRE_TILE_PATH_MAX 64u
typedef struct wire_tile {
    wire_tile_kind kind;
    unsigned level;  /* hash tiles: 0..63; 0 for bundles */
    uint64_t index;  /* N, 0..WIRE_TILE_INDEX_MAX */
    unsigned width;  /* 1..255 for a partial tile, 256 for a full one */
} wire_tile;
/* Parses a path relative to the log's prefix ("tile/0/x001/234.p/7", "tile/entries/000",
 * "bodies/001"), exactly: L 0..63 without leading zeros, N as 3-digit groups with all but the last
 * prefixed 'x' and no leading group "x000", W 1..255 without leading zeros, nothing else.
 * TALLY_EFORMAT otherwise (out zeroed). */
TALLY_MUST_USE tally_status wire_tile_parse(const char *path, size_t n, wire_tile *out);
/* The path of t, relative as above, NUL-terminated in buf (WIRE_TILE_PATH_MAX is enough).
 * TALLY_EINVAL for a tile out of range, TALLY_ELIMIT when cap is too small. */
TALLY_MUST_USE tally_status wire_tile_format(const wire_tile *t, char *buf, size_t cap,
                                             size_t *n_out);

/* A full or partial entry or body bundle (§6.3: each entry a uint16 BE length and that many
 * bytes): exactly `width` entries (1..256) filling all n bytes, as views into p in out[0..width).
 * A body bundle's length 0 is a body not served. TALLY_EFORMAT for anything else (out zeroed),
 * TALLY_EINVAL for a width out of range. */
TALLY_MUST_USE tally_status wire_bundle_decode(const uint8_t *p, size_t n, unsigned width,
                                               tally_bytes *out);

/* ---- §6.4 deltas ---- */
#define WIRE_DELTA_MEDIA "application/vnd.tally.delta+msgpack"
#define WIRE_DELTA_RECORDS_MAX 65536u
#define WIRE_DELTA_BYTES_MAX (32u << 20) /* uncompressed */
/* One entry: the header and, where the reader may see it, the body (views). */
typedef struct wire_delta_entry {
    tally_bytes header;
    bool has_body;
    tally_bytes body;
} wire_delta_entry;
typedef struct wire_delta {
    uint64_t from, to, size; /* from ≤ to ≤ size, to − from = n */
    wire_delta_entry *entries;
    size_t n;
    uint8_t (*proof)[32]; /* consistency proof from `to` to `size` */
    size_t n_proof;       /* ≤ 64 */
    tally_bytes sth;      /* the STH wire form of `size` */
} wire_delta;
/* Writes canonical `["tally-delta-v1", from, to, size, [[header bin, body bin|nil]], [hash],
 * sth]` (the sth as its encoded array, inserted as is). TALLY_EINVAL for a delta breaking the
 * bounds above (headers 1..255 bytes, bodies 1..65535, n ≤ WIRE_DELTA_RECORDS_MAX); TALLY_ELIMIT
 * over WIRE_DELTA_BYTES_MAX; TALLY_ENOMEM. On TALLY_OK *out is malloc'd. */
TALLY_MUST_USE tally_status wire_delta_encode(const wire_delta *d, uint8_t **out, size_t *n_out);
/* Decodes a delta strictly: the canonical form above and nothing after it, the bounds above,
 * every header decoding (schema_header_decode) and the sth decoding (schema_sth_decode) with
 * tree_size = size. It does not check bodies against headers nor the proof (the caller verifies
 * those). On TALLY_OK *out points into p (views; the entry and proof arrays are malloc'd: release
 * with wire_delta_release) and sth_out holds the decoded STH; TALLY_EFORMAT, TALLY_ENOMEM
 * otherwise (out empty). */
TALLY_MUST_USE tally_status wire_delta_decode(const uint8_t *p, size_t n, wire_delta *out,
                                              schema_sth *sth_out);
void wire_delta_release(wire_delta *d); /* NULL is a no-op; empties it */

/* ---- §6.6 attestation requests ---- */
#define WIRE_ATTEST_BODY_MAX (16u << 10) /* bytes of a decoded POST /v1/attestations body */
/* Writes `[body, sig]` for an ATTESTATION body (its canonical bytes) and its record signature.
 * TALLY_EFORMAT when body is not a canonical ATTESTATION body; TALLY_ENOMEM. *out malloc'd. */
TALLY_MUST_USE tally_status wire_attest_build(const uint8_t *body, size_t n, const uint8_t sig[64],
                                              uint8_t **out, size_t *n_out);
/* Parses `[body, sig]`: malformed_body (not canonical msgpack of that shape, trailing bytes, a
 * sig that is not bin 64, over WIRE_ATTEST_BODY_MAX), then the body as an ATTESTATION (invalid
 * bytes: malformed_body; bounds: invalid_field), then the record signature under origin and key
 * (item_signature_invalid: the token authenticated the request, the record signature is the
 * item's, §8). On TALLY_OK *body_out views the body
 * inside p, *decoded owns its copy (schema_body_release) and header_out is the record header
 * [1, 13, 0, 1, nil, nil, key, SHA-256(body), sig] ready for the writer. TALLY_EFORMAT,
 * TALLY_EINVAL (field bounds) or TALLY_EAUTH with fail filled. */
TALLY_MUST_USE tally_status wire_attest_parse(tally_str origin, const uint8_t key[32],
                                              const uint8_t *p, size_t n, tally_bytes *body_out,
                                              schema_body *decoded, schema_header *header_out,
                                              wire_fail *fail);

/* ---- §6.4 records (the msgpack form of GET /v1/records) ---- */
#define WIRE_RECORDS_MAX 1024u
/* One record of a records answer: the header and, where the reader may see it, the body. */
typedef struct wire_records {
    uint64_t from, to; /* to − from = n */
    wire_delta_entry *entries;
    size_t n;
} wire_records;
/* Decodes `[from, to, [[header bin, body bin|nil]]]` strictly: canonical, nothing after it,
 * to − from entries (≤ WIRE_RECORDS_MAX), headers 1..255 bytes that decode, bodies 1..65535
 * bytes. It does not check bodies against headers (the caller does). On TALLY_OK *out views p
 * (the entry array is malloc'd: wire_records_release); TALLY_EFORMAT or TALLY_ENOMEM otherwise
 * (out empty). */
TALLY_MUST_USE tally_status wire_records_decode(const uint8_t *p, size_t n, wire_records *out);
void wire_records_release(wire_records *r); /* NULL is a no-op; empties it */

#endif

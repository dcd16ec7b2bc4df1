/* schema: the record catalogue of spec/protocol.md §2, its canonical msgpack form, validation and
 * JSON views. Every record is a header (the log entry and Merkle leaf) and a body (the type's
 * fields). One logical record has exactly one byte form; decoders accept only that form. */
#ifndef TALLY_SCHEMA_SCHEMA_H
#define TALLY_SCHEMA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/status.h"

#define SCHEMA_VERSION 1
#define SCHEMA_BODY_MAX 65535u   /* bytes, spec §2.1 */
#define SCHEMA_HEADER_MIN 141u   /* bytes */
#define SCHEMA_HEADER_MAX 158u   /* bytes */
#define SCHEMA_MSG_MAX 400u      /* bytes of a record message (origin ≤ 128) */
#define SCHEMA_ORIGIN_MAX 128u
#define SCHEMA_ID_MAX 9007199254740991ull /* 2^53 − 1: ids, nonces and times */
#define SCHEMA_DAY_MS 86400000ull
/* The code version tally writes into GENESIS, SCORING_CYCLE and RECOMPUTE (ascii64). */
#define SCHEMA_CODE_VERSION "tally-0.1.0"
/* A SCORING_CYCLE's as_of_ms: the UTC midnight of its own time_ms (protocol §2.5). */
#define SCHEMA_AS_OF(time_ms) ((time_ms) - (time_ms) % SCHEMA_DAY_MS)

enum schema_type {
    SCHEMA_GENESIS = 1,
    SCHEMA_CONFIG_SET = 2,
    SCHEMA_CHAIN_PARAMS = 3,
    SCHEMA_METAGRAPH = 4,
    SCHEMA_EVENT = 5,
    SCHEMA_MARKET = 6,
    SCHEMA_PROVIDER_QUOTE = 7,
    SCHEMA_MARKET_SNAPSHOT = 8,
    SCHEMA_CLOSE = 9,
    SCHEMA_ODDS_SUBMISSION = 10,
    SCHEMA_OUTCOME = 11,
    SCHEMA_RECOMPUTE = 12,
    SCHEMA_ATTESTATION = 13,
    SCHEMA_SCORING_CYCLE = 14,
    SCHEMA_SUBMISSION_SCORE = 32,
    SCHEMA_MINER_SCORE = 33,
    SCHEMA_WEIGHTS = 34,
    SCHEMA_STATE_HASH = 35,
};

enum schema_tier { SCHEMA_PUBLIC = 1, SCHEMA_GATED = 2, SCHEMA_EMBARGOED = 3, SCHEMA_PRIVATE = 4 };
enum schema_kind { SCHEMA_MONEYLINE = 1, SCHEMA_SPREAD = 2, SCHEMA_TOTAL = 3, SCHEMA_DNB = 4 };
enum schema_side { SCHEMA_HOME = 1, SCHEMA_AWAY = 2, SCHEMA_DRAW = 3, SCHEMA_OVER = 4, SCHEMA_UNDER = 5 };
enum schema_status_code {
    SCHEMA_SCHEDULED = 1, SCHEMA_IN_PLAY = 2, SCHEMA_FINISHED = 3, SCHEMA_POSTPONED = 4,
    SCHEMA_VOID = 5
};
enum schema_result { SCHEMA_R_HOME = 1, SCHEMA_R_AWAY = 2, SCHEMA_R_DRAW = 3, SCHEMA_R_VOID = 7 };

/* All unsigned fields are held as uint64_t and signed nanos as int64_t, whatever their wire
 * bound; the wire bound is checked by encode and decode. `has_x` is false where x is nil. Arrays
 * are a pointer and a count; fixed-length arrays (MINER_SCORE acc, stats, norms, dims) are inline.
 */
enum { SCHEMA_PV_INT = 1, SCHEMA_PV_TEXT = 2, SCHEMA_PV_BOOL = 3 };
typedef struct schema_pvalue {
    uint8_t kind; /* SCHEMA_PV_* */
    int64_t i;
    tally_str s;
    bool b;
} schema_pvalue;

typedef struct schema_param {
    tally_str key; /* code64; params strictly ascending by key bytes */
    schema_pvalue value;
} schema_param;

/* ---- ledger parameters (protocol §2.6, scoring §9; the table is schema/params.c) ---- */
/* Every key, ascending by key bytes. Values never change meaning once released. */
enum schema_param_id {
    SCHEMA_P_AUTH_MIN_STAKE_RAO, SCHEMA_P_AUTH_REQUIRE_PERMIT,
    SCHEMA_P_CAL_MIN_PER_BIN, SCHEMA_P_CAL_NUM_BINS, SCHEMA_P_DECAY_HALF_LIFE_DAYS,
    SCHEMA_P_W_CAL, SCHEMA_P_W_EDGE, SCHEMA_P_W_FQ, SCHEMA_P_W_LEAD, SCHEMA_P_W_MES,
    SCHEMA_P_W_SOS, SCHEMA_P_FINALITY_K, SCHEMA_P_GT_BIAS_LEARNING_RATE,
    SCHEMA_P_GT_BIAS_MIN_SAMPLES, SCHEMA_P_GT_MAX_BIAS, SCHEMA_P_GT_MAX_SNAPSHOTS,
    SCHEMA_P_GT_MIN_BIAS, SCHEMA_P_GT_MIN_BOOKS, SCHEMA_P_GT_MIN_VARIANCE,
    SCHEMA_P_GT_SNAPSHOT_INTERVAL_H, SCHEMA_P_GT_SNAPSHOT_TOLERANCE_H,
    SCHEMA_P_GAMES_LOOKAHEAD_DAYS, SCHEMA_P_MAX_OUTCOMES_PER_EVENT_DAY,
    SCHEMA_P_MAX_SUBMISSIONS_PER_MARKET_DAY, SCHEMA_P_ODDS_BUCKET_SECONDS,
    SCHEMA_P_ODDS_WINDOW_DAYS, SCHEMA_P_OUTCOME_BUCKET_SECONDS, SCHEMA_P_OUTCOME_MAX_RETRIES,
    SCHEMA_P_OUTCOME_WINDOW_HOURS, SCHEMA_P_PRICED_AT_TOLERANCE_SEC, SCHEMA_P_PROB_TOLERANCE,
    SCHEMA_P_LL_BUCKET_MINUTES, SCHEMA_P_LL_LAG_WINDOW_MINUTES, SCHEMA_P_LL_LEAD_WINDOW_MINUTES,
    SCHEMA_P_LL_MOVE_THRESHOLD, SCHEMA_P_NORM_LOGISTIC_ALPHA, SCHEMA_P_NORM_METHOD,
    SCHEMA_P_NORM_MIN_COUNT_ZSCORE, SCHEMA_P_SEC_CLE_MAX, SCHEMA_P_SEC_CLE_MIN,
    SCHEMA_P_SEC_ODDS_MAX, SCHEMA_P_SEC_ODDS_MIN, SCHEMA_P_SEC_PROB_MAX, SCHEMA_P_SEC_PROB_MIN,
    SCHEMA_P_SEC_PROB_SUM_TOLERANCE, SCHEMA_P_SHARP_TARGET_VARIANCE, SCHEMA_P_SHRINKAGE_K,
    SCHEMA_P_W_INFO_ADV, SCHEMA_P_W_ODDS_EDGE, SCHEMA_P_W_OUTCOME_ACCURACY,
    SCHEMA_P_W_OUTCOME_RELATIVE, SCHEMA_P_TW_EARLY_PENALTY_CLIP, SCHEMA_P_TW_ENABLED,
    SCHEMA_P_TW_FLOOR_FACTOR, SCHEMA_P_TW_MAX_MINUTES, SCHEMA_P_TW_MIN_MINUTES, SCHEMA_P_BURN_RATE,
    SCHEMA_P_WIN_CALIBRATION_DAYS, SCHEMA_P_WIN_MIN_SAMPLES_CAL, SCHEMA_P_WIN_MIN_SAMPLES_ORIG,
    SCHEMA_P_WIN_ROLLING_DAYS,
    SCHEMA_P_COUNT
};

/* Kinds: integers in the unit of the key's name, reals as int64 nanos, booleans, and text
 * chosen from a list (stored as the index of the choice). */
enum { SCHEMA_PK_INT, SCHEMA_PK_REAL, SCHEMA_PK_BOOL, SCHEMA_PK_TEXT };
typedef struct schema_pdef {
    const char *key;
    uint8_t kind;
    int64_t def, lo, hi;         /* inclusive range; a bool is 0..1, text its choice index */
    const char *const *choices;  /* text: the allowed values, NULL-terminated; def indexes it */
} schema_pdef;

/* The value of every parameter, indexed by enum schema_param_id (the parameters in effect). */
typedef struct schema_paramset {
    int64_t v[SCHEMA_P_COUNT];
} schema_paramset;

enum { SCHEMA_PARAM_UNKNOWN = 1, SCHEMA_PARAM_KIND, SCHEMA_PARAM_RANGE };
typedef struct schema_param_error {
    int what;      /* SCHEMA_PARAM_*, 0 when none */
    size_t index;  /* which item of the list (schema_paramset_apply) */
    char msg[160]; /* names the key and the allowed kind or range */
} schema_param_error;

/* The definition of one id, or NULL past SCHEMA_P_COUNT. */
const schema_pdef *schema_param_def(unsigned id);
/* The id of a key, or -1 for an unknown key. */
int schema_param_find(tally_str key);
/* Every parameter at its protocol-version-1 default. */
void schema_paramset_default(schema_paramset *out);
/* Checks one parameter against the table: TALLY_EINVAL with err filled for an unknown key, a
 * value of the wrong kind or one out of range; on TALLY_OK *value_out is the value to store. */
TALLY_MUST_USE tally_status schema_param_check(const schema_param *p, schema_param_error *err,
                                               int64_t *value_out);
/* Checks every item, then sets them all; on TALLY_EINVAL (err names the first bad item) ps is
 * unchanged. */
TALLY_MUST_USE tally_status schema_paramset_apply(schema_paramset *ps, const schema_param *p,
                                                  size_t n, schema_param_error *err);
/* Reads a parameter from text in its key's own form (`tally config set KEY=VALUE`): an int as a
 * decimal ("-3", "200"); a real as a decimal with at most 9 fraction digits, stored as nanos
 * ("2.05" → 2050000000, "2" → 2000000000); a bool as "true" or "false"; a text as one of its
 * choices. Then schema_param_check. On TALLY_OK *out holds the key and the value (out->key and
 * a text value borrow key and text). TALLY_EINVAL with err filled otherwise (an unknown key, a
 * value not in the key's form, a value out of range). */
TALLY_MUST_USE tally_status schema_param_from_text(const char *key, const char *text,
                                                   schema_param *out, schema_param_error *err);

typedef struct schema_chain_params {
    uint64_t netuid, block, tempo, max_weight_limit, min_allowed_weights, max_allowed_uids;
    bool has_owner_hotkey;
    uint8_t owner_hotkey[32];
} schema_chain_params;

typedef struct schema_genesis {
    tally_str origin; /* ascii128 without '+' */
    uint64_t netuid;
    uint8_t node_hotkey[32];
    uint64_t created_ms;
    tally_str code_version;
    schema_param *params;
    size_t n_params;
    schema_chain_params chain;
} schema_genesis;

typedef struct schema_config_set {
    schema_param *params;
    size_t n_params;
    bool has_reason;
    tally_str reason;
} schema_config_set;

typedef struct schema_neuron {
    uint64_t uid;
    uint8_t hotkey[32];
    uint64_t stake_rao;
    bool validator_permit, active;
    bool has_tally_key;
    uint8_t tally_key[32];
} schema_neuron;

typedef struct schema_metagraph {
    uint64_t netuid, block, part, parts;
    schema_neuron *neurons;
    size_t n_neurons;
} schema_metagraph;

typedef struct schema_event {
    uint64_t event_id;
    tally_str sport, league, home_team, away_team;
    bool has_venue;
    tally_str venue;
    uint64_t start_ms, status;
    bool has_ext_id;
    tally_str ext_id;
} schema_event;

typedef struct schema_market {
    uint64_t market_id, event_id, kind;
    bool has_line_n;
    int64_t line_n;
    uint64_t *sides;
    size_t n_sides;
} schema_market;

typedef struct schema_qprice {
    uint64_t side, odds_n;
} schema_qprice;

typedef struct schema_provider_quote {
    uint64_t market_id;
    tally_str provider, book;
    uint64_t ts_ms;
    schema_qprice *prices;
    size_t n_prices;
    uint8_t salt[16];
} schema_provider_quote;

typedef struct schema_cprice {
    uint64_t side, prob_n, odds_n, books;
    bool has_std_dev_n;
    uint64_t std_dev_n;
} schema_cprice;

/* MARKET_SNAPSHOT (ts_ms) and CLOSE (close_ms) share this layout. */
typedef struct schema_snapshot {
    uint64_t market_id, ts_ms;
    schema_cprice *probs;
    size_t n_probs;
    uint8_t salt[16];
} schema_snapshot;

typedef struct schema_price {
    uint64_t side, odds_n, imp_prob_n;
} schema_price;

typedef struct schema_entry {
    uint64_t market_id, kind;
    bool has_priced_at_ms;
    uint64_t priced_at_ms;
    schema_price *prices;
    size_t n_prices;
} schema_entry;

typedef struct schema_odds {
    uint64_t nonce, idx, event_id;
    schema_entry *markets;
    size_t n_markets;
    uint8_t salt[16];
} schema_odds;

typedef struct schema_outcome {
    uint64_t source, nonce, idx, event_id;
    bool has_result, has_score_home, has_score_away, has_salt;
    uint64_t result, score_home, score_away;
    uint8_t salt[16];
} schema_outcome;

typedef struct schema_recompute {
    uint64_t epoch, reason;
    tally_str detail;
    uint64_t *affected_events;
    size_t n_affected_events;
    uint64_t severity;
    tally_str code_version;
} schema_recompute;

typedef struct schema_attestation {
    uint64_t nonce, cycle, tree_size;
    uint8_t root[32], state_hash[32], weights_hash[32];
    uint64_t verdict, reason;
    bool has_divergent_seq;
    uint64_t divergent_seq;
} schema_attestation;

typedef struct schema_scoring_cycle {
    uint64_t cycle, epoch, as_of_ms, covers_to;
    tally_str code_version;
} schema_scoring_cycle;

typedef struct schema_close_metrics {
    int64_t clv_odds, clv_prob, cle, mes;
    uint64_t minutes_to_close;
} schema_close_metrics;

typedef struct schema_outcome_metrics {
    int64_t brier, logloss, pss, time_factor, pss_adj;
    bool hit;
} schema_outcome_metrics;

typedef struct schema_submission_score {
    uint64_t cycle, sub_seq, uid, market_id, side, submitted_at_ms;
    bool has_close, has_outcome;
    schema_close_metrics close;
    schema_outcome_metrics outcome;
    uint8_t salt[16];
} schema_submission_score;

typedef struct schema_acc {
    int64_t ws, wt;
} schema_acc;

typedef struct schema_opt_n {
    bool has;
    int64_t v;
} schema_opt_n;

typedef struct schema_miner_score {
    uint64_t cycle, uid;
    uint8_t hotkey[32];
    uint64_t as_of_ms, n_rows;
    int64_t n_eff;
    /* Element names (and JSON members): schema_field_members(SCHEMA_MINER_SCORE, "acc"…). */
    schema_acc acc[5];       /* cle, mes, pss_adj, brier, fq */
    schema_opt_n stats[14];  /* es_mean … lead; only sos (12) and lead (13) may be nil */
    int64_t norms[7];        /* fq, cal, pss, es, mes, sos, lead */
    int64_t dims[4];         /* forecast, skill, econ, info */
    int64_t skill;
} schema_miner_score;

typedef struct schema_weights {
    uint64_t cycle, netuid;
    uint64_t *uids;
    size_t n_uids;
    uint64_t *weights;
    size_t n_weights;
    uint8_t inputs_hash[32];
} schema_weights;

typedef struct schema_state_hash {
    uint64_t cycle;
    uint8_t state_hash[32];
    uint64_t state_len;
} schema_state_hash;

struct schema__arena;

/* A decoded (or caller-built) body. After schema_body_decode() or schema_body_from_json() the
 * strings and arrays it points to live in its own arena and stay valid until
 * schema_body_release(). A caller building a body by hand sets type and u, leaves mem_ NULL,
 * and keeps the memory it points to alive while it uses the body. */
typedef struct schema_body {
    unsigned type; /* enum schema_type */
    union {
        schema_genesis genesis;
        schema_config_set config_set;
        schema_chain_params chain_params;
        schema_metagraph metagraph;
        schema_event event;
        schema_market market;
        schema_provider_quote provider_quote;
        schema_snapshot snapshot; /* MARKET_SNAPSHOT and CLOSE */
        schema_odds odds;
        schema_outcome outcome;
        schema_recompute recompute;
        schema_attestation attestation;
        schema_scoring_cycle scoring_cycle;
        schema_submission_score submission_score;
        schema_miner_score miner_score;
        schema_weights weights;
        schema_state_hash state_hash;
    } u;
    struct schema__arena *mem_;
} schema_body;

/* `[version, type, time_ms, tier, event_id, rows, actor, body_hash, actor_sig]` (spec §2.1). */
typedef struct schema_header {
    uint64_t version, type, time_ms, tier;
    bool has_event_id, has_rows;
    uint64_t event_id, rows;
    uint8_t actor[32];
    uint8_t body_hash[32];
    uint8_t actor_sig[64];
} schema_header;

/* Names. schema_type_name() returns "ODDS_SUBMISSION" etc., or NULL for an unknown code;
 * schema_type_from_name() returns 0 for an unknown name. */
const char *schema_type_name(unsigned type);
unsigned schema_type_from_name(const char *name);
bool schema_type_known(unsigned type);
/* True for types a miner authors (ODDS_SUBMISSION; OUTCOME with source 2). */
bool schema_type_miner(unsigned type);
/* True for the derived types a cycle computes (SUBMISSION_SCORE, MINER_SCORE, WEIGHTS,
 * STATE_HASH). Replay and the auditor recompute them and compare their bytes, so their actor
 * signature proves nothing a node-signed head over them does not (docs/decisions.md 66). */
bool schema_type_derived(unsigned type);
/* The names of the elements of a fixed-length array field of a body type (MINER_SCORE acc,
 * stats, norms, dims), in element order: the members of that field's JSON object. NULL, with
 * *n_out 0, for any other field. The names are static. */
const char *const *schema_field_members(unsigned type, const char *field, size_t *n_out);

/* Which field of a body breaks which rule (for `tally append` and the future invalid_field
 * details of protocol §8). The caller owns it; the functions taking one fill it on failure only,
 * so the success path builds no string. */
#define SCHEMA_PATH_MAX 128u
enum schema_bad {
    SCHEMA_BAD_NONE = 0, /* not a field's bound: malformed input (syntax, type, shape) */
    SCHEMA_BAD_RANGE,    /* an integer outside its lo..hi */
    SCHEMA_BAD_LENGTH,   /* a string or binary of the wrong byte length */
    SCHEMA_BAD_COUNT,    /* an array with too few or too many items */
    SCHEMA_BAD_TEXT,     /* a byte or character outside the field's text class */
    SCHEMA_BAD_ORDER,    /* array items not strictly ascending */
    SCHEMA_BAD_SIDES,    /* a side set not valid for the market kind */
    SCHEMA_BAD_RULE,     /* a rule spanning fields (line_n and kind, odds from prob, sources) */
};
typedef struct schema_field_error {
    int bad;                    /* enum schema_bad */
    char path[SCHEMA_PATH_MAX]; /* the field, dotted, with array indexes and named members:
                                   "markets[0].prices[1].odds_n", "home_team", "stats.cal";
                                   "" when the failure concerns no one field */
    char what[192];             /* why, as a phrase: "1000000000 is out of range 1000000001..
                                   18446744073709551615", "text has a control character U+0007" */
} schema_field_error;

/* Checks b against every rule of its type (what schema_body_encode checks). TALLY_OK, or
 * TALLY_EINVAL with *err (when not NULL) naming the first field that breaks a rule. */
TALLY_MUST_USE tally_status schema_body_check(const schema_body *b, schema_field_error *err);

/* Decodes a body of the given type. Accepts only the canonical bytes of a valid body: on any
 * other input returns TALLY_EFORMAT (also for an unknown type), or TALLY_ELIMIT (over 65,535
 * bytes), or TALLY_ENOMEM. On TALLY_OK *out owns a copy of the input; release it with
 * schema_body_release(). On failure *out is zeroed and needs no release. */
TALLY_MUST_USE tally_status schema_body_decode(unsigned type, const uint8_t *p, size_t n,
                                               schema_body *out);
/* schema_body_decode, with *err (when not NULL) filled on TALLY_EFORMAT: err->bad is 0 when the
 * bytes are not the canonical msgpack of the type's shape (malformed, non-canonical, wrong
 * arity or item count), else the bytes are well formed and err names the field out of bounds. */
TALLY_MUST_USE tally_status schema_body_decode_ex(unsigned type, const uint8_t *p, size_t n,
                                                  schema_body *out, schema_field_error *err);
void schema_body_release(schema_body *b); /* NULL and zeroed bodies are no-ops */

/* Checks b against every rule of its type and writes its canonical bytes. Returns TALLY_EINVAL
 * if b breaks a rule (nothing written), TALLY_ELIMIT if cap is too small or the body exceeds
 * 65,535 bytes (nothing written past cap). *n_out is the length on TALLY_OK, else 0. */
TALLY_MUST_USE tally_status schema_body_encode(const schema_body *b, uint8_t *buf, size_t cap,
                                               size_t *n_out);

/* Header fields that are a function of the body (spec §2.1): tier, event_id and rows. */
TALLY_MUST_USE tally_status schema_body_derive(const schema_body *b, schema_header *h);

/* Header codec. decode returns TALLY_EFORMAT for anything but the canonical bytes of a header
 * with version 1, a known type and a tier, event_id and rows shaped right for that type. */
TALLY_MUST_USE tally_status schema_header_encode(const schema_header *h, uint8_t *buf, size_t cap,
                                                 size_t *n_out);
TALLY_MUST_USE tally_status schema_header_decode(const uint8_t *p, size_t n, schema_header *out);

/* Builds the header of a record with the given body: version, type, tier, event_id, rows,
 * actor and body_hash from the body; time_ms 0 (the writer assigns it) and actor_sig zero. */
TALLY_MUST_USE tally_status schema_header_init(const schema_body *b, const uint8_t *body_bytes,
                                               size_t body_len, const uint8_t actor[32],
                                               schema_header *out);

/* Who may author a record (protocol §2.4, the part without projections): node types and a
 * provider OUTCOME (public tier) by node_pk only; miner types and ATTESTATION never by it.
 * TALLY_EAUTH otherwise. Pure: the writer, verify and the acceptance rules all judge with it. */
TALLY_MUST_USE tally_status schema_author_check(const uint8_t node_pk[32], const schema_header *h);
/* One record built in one call: body encoded into buf (cap bytes; *n_out its length), header
 * from it (schema_header_init), signed with sk (a libsodium 64-byte secret key of actor) unless
 * sk is NULL (the caller signs, e.g. with a key held by the store), and time_ms set. Returns
 * what encode, init or sign return; on failure *n_out is 0 and *h_out zeroed. */
TALLY_MUST_USE tally_status schema_record_build(const schema_body *b, const uint8_t actor[32],
                                                const uint8_t *sk, tally_str origin,
                                                uint64_t time_ms, uint8_t *buf, size_t cap,
                                                size_t *n_out, schema_header *h_out);
/* The record message `["tally-record-v1", origin, type, actor, body_hash]` that actor_sig
 * signs. Returns TALLY_EINVAL for an origin that is not ascii128 without '+'. */
TALLY_MUST_USE tally_status schema_record_message(tally_str origin, const schema_header *h,
                                                  uint8_t *buf, size_t cap, size_t *n_out);
/* Signs h (sets actor_sig) with a 64-byte libsodium secret key whose public half is h->actor. */
TALLY_MUST_USE tally_status schema_record_sign(schema_header *h, tally_str origin,
                                               const uint8_t sk[64]);
/* TALLY_OK if actor_sig verifies (libsodium strict), else TALLY_EAUTH. */
TALLY_MUST_USE tally_status schema_record_verify(const schema_header *h, tally_str origin);

#define SCHEMA_VERIFY_THREADS_MAX 64u
/* schema_record_verify_batch over n encoded headers (views; each is decoded, then its actor
 * signature checked against origin) on up to `threads` threads: 0 picks
 * schema_verify_threads_default(), 1 uses the calling thread only, more than
 * SCHEMA_VERIFY_THREADS_MAX or than there is work for is lowered. *first_bad_out is the smallest
 * index whose header does not decode or whose signature does not verify, n when all verify:
 * the same answer as checking them one by one in order, whatever the threads and their timing
 * (indices above it may or may not have been checked). Blocks until done; threads are started
 * and joined inside the call, and one that cannot be started only means fewer. Bad signatures
 * are a result: returns TALLY_OK, or TALLY_EINVAL (headers NULL with n > 0; *first_bad_out 0).
 * The headers must not change during the call; any thread may call it. */
TALLY_MUST_USE tally_status schema_record_verify_batch(const tally_bytes *headers, size_t n,
                                                       tally_str origin, unsigned threads,
                                                       size_t *first_bad_out);
/* The online cores (sysconf), 1..SCHEMA_VERIFY_THREADS_MAX. */
unsigned schema_verify_threads_default(void);

/* Checks that body bytes belong to the header: SHA-256 matches body_hash, the body decodes
 * canonically for the header's type, and tier, event_id and rows agree with it. Returns
 * TALLY_EFORMAT on any mismatch; on TALLY_OK and out != NULL, *out holds the decoded body. */
TALLY_MUST_USE tally_status schema_record_check(const schema_header *h, const uint8_t *body,
                                                size_t body_len, schema_body *out);

/* JSON views (jansson inside). Output strings are malloc'd, NUL-terminated, one line, and
 * belong to the caller (free()). Hashes, keys and salts are hex, hotkeys SS58, enumerations
 * lower-case names, stake a decimal string. A fixed-length array with named elements
 * (schema_field_members) is an object of those members, e.g. MINER_SCORE "dims":
 * {"forecast": n, "skill": n, "econ": n, "info": n} and "acc": {"cle": {"ws": n, "wt": n}, …}.
 * schema_record_to_json: {"seq", "leaf_hash", "type", <header fields>, "body": {…}|null}. */
TALLY_MUST_USE tally_status schema_record_to_json(uint64_t seq, const uint8_t leaf_hash[32],
                                                  const schema_header *h, const schema_body *b,
                                                  char **out);
TALLY_MUST_USE tally_status schema_body_to_json(const schema_body *b, char **out);
/* Parses a body of `type` from a JSON object with named fields (the form schema_body_to_json
 * writes). A missing `salt` where the type needs one is filled from salt_fill when it is not
 * NULL, else the parse fails. Returns TALLY_EFORMAT with *err (when not NULL) saying why: the
 * field's path (or "" for the JSON as a whole) and what is wrong, err->bad telling a field out of
 * bounds (SCHEMA_BAD_*) from malformed input (0). A caller prints "field PATH: WHAT". */
TALLY_MUST_USE tally_status schema_body_from_json(unsigned type, const char *json, size_t n,
                                                  const uint8_t *salt_fill, schema_body *out,
                                                  schema_field_error *err);

/* A signed tree head (spec §6.2). Wire form: `["tally-sth-v1", origin, tree_size, root, time_ms,
 * key, sig, note_sig]`; `sig` covers the canonical 5-array of the first five elements, and
 * `note_sig` the C2SP checkpoint text. */
typedef struct schema_sth {
    char origin[SCHEMA_ORIGIN_MAX + 1]; /* NUL-terminated */
    uint64_t tree_size;
    uint8_t root[32];
    uint64_t time_ms;
    uint8_t key[32];
    uint8_t sig[64];
    uint8_t note_sig[64];
} schema_sth;
#define SCHEMA_STH_MAX 320u /* bytes of the wire form */

/* The message `sig` signs: canonical `["tally-sth-v1", origin, tree_size, root, time_ms]`. */
TALLY_MUST_USE tally_status schema_sth_message(const schema_sth *s, uint8_t *buf, size_t cap,
                                               size_t *n_out);
TALLY_MUST_USE tally_status schema_sth_encode(const schema_sth *s, uint8_t *buf, size_t cap,
                                              size_t *n_out);
/* TALLY_EFORMAT for anything but a canonical wire form with a valid origin. */
TALLY_MUST_USE tally_status schema_sth_decode(const uint8_t *p, size_t n, schema_sth *out);

/* One line of `tally append`: {"type": NAME, "body": {…}} for a record the node signs, or with
 * "actor" and "sig" (hex) for one its author signed; "time_ms" optional. The body owns its
 * memory (schema_body_release). A missing salt is taken from salt_fill only without an actor. */
typedef struct schema_json_input {
    schema_body body;
    bool has_actor, has_sig;
    uint8_t actor[32], sig[64];
    uint64_t time_ms; /* 0 when absent */
} schema_json_input;
/* Fails with TALLY_EFORMAT and *err (when not NULL) as schema_body_from_json, the path relative
 * to the body ("markets[0].kind"); a fault in the line around it has path "". */
TALLY_MUST_USE tally_status schema_input_from_json(const char *line, size_t n,
                                                   const uint8_t *salt_fill,
                                                   schema_json_input *out,
                                                   schema_field_error *err);

/* SS58 (prefix 42) of a 32-byte account id; out holds at least 49 bytes with the NUL. */
void schema_ss58_encode(const uint8_t acct[32], char out[49]);
TALLY_MUST_USE tally_status schema_ss58_decode(const char *s, uint8_t acct_out[32]);

/* SHA-256 of a ‖ b (either may be empty, with a NULL pointer). Uses the CPU's SHA extensions
 * where it has them; schema_sha256_ref is libsodium's, the reference the tests compare with. */
void schema_sha256_2(uint8_t out[32], const uint8_t *a, size_t an, const uint8_t *b, size_t bn);
void schema_sha256_ref(uint8_t out[32], const uint8_t *a, size_t an, const uint8_t *b, size_t bn);

/* Whether p[0..n) is protocol text (§2.2 item 4: well-formed UTF-8, no overlong forms or
 * surrogates, ≤ U+10FFFF, no code point in U+0000–U+001F or U+007F–U+009F), of any length. */
bool schema_text_ok(const char *p, size_t n);

/* Lower-case hex of n bytes into out (2n + 1 bytes with the NUL). */
void schema_hex(const uint8_t *p, size_t n, char *out);
/* Parses exactly 2n lower-case hex digits. TALLY_EFORMAT otherwise. */
TALLY_MUST_USE tally_status schema_unhex(const char *s, size_t slen, uint8_t *out, size_t n);

/* ---- canonical msgpack for tally's own blobs (schema/mpio.c) ----
 * Checkpoint states, and next receipts and attestation messages, are written with the smallest
 * forms of §2.2 and read back accepting only those. Both sides are sticky: the first failure
 * (out of memory or over the cap; malformed, non-canonical or truncated input) is remembered and
 * every later call does nothing, so a caller checks once, at the end. */
typedef struct schema_mpw {
    uint8_t *p;
    size_t n, cap, max; /* max: the largest blob allowed, in bytes */
    bool oom;           /* allocation failed or the blob would exceed max */
    bool over;          /* ... and it was max */
} schema_mpw;
void schema_mpw_init(schema_mpw *w, size_t max);
void schema_mpw_uint(schema_mpw *w, uint64_t v);
void schema_mpw_int(schema_mpw *w, int64_t v);
void schema_mpw_nil(schema_mpw *w);
void schema_mpw_bool(schema_mpw *w, bool v);
void schema_mpw_str(schema_mpw *w, const char *s, size_t n);
void schema_mpw_bin(schema_mpw *w, const uint8_t *p, size_t n);
void schema_mpw_array(schema_mpw *w, size_t n);
/* Bytes appended as they are (an already encoded value). */
void schema_mpw_raw(schema_mpw *w, const void *p, size_t n);
/* Hands the bytes to the caller (free()), or on a remembered failure frees them and returns
 * TALLY_ENOMEM or TALLY_ELIMIT. w is empty afterwards either way. */
TALLY_MUST_USE tally_status schema_mpw_finish(schema_mpw *w, uint8_t **out, size_t *n_out);

typedef struct schema_mpr {
    const uint8_t *p; /* borrowed for the reader's life */
    size_t n, off;
    bool bad;         /* a read failed: every value read since is 0, false or NULL */
} schema_mpr;
void schema_mpr_init(schema_mpr *r, const uint8_t *p, size_t n);
int64_t schema_mpr_int(schema_mpr *r);
uint64_t schema_mpr_uint(schema_mpr *r);
/* An array header; its count is checked against the bytes left (a byte an item at least). */
size_t schema_mpr_array(schema_mpr *r);
/* Consumes a nil if one is next. */
bool schema_mpr_nil(schema_mpr *r);
bool schema_mpr_bool(schema_mpr *r);
/* Views into the input (valid as long as it is), NULL on failure. */
const uint8_t *schema_mpr_bin(schema_mpr *r, size_t *n_out);
const char *schema_mpr_str(schema_mpr *r, size_t *n_out);
/* A bin of exactly n bytes copied into out (zeroed on failure). */
void schema_mpr_bin_fixed(schema_mpr *r, uint8_t *out, size_t n);
/* Skips one value, whatever it is (arrays with everything in them). */
void schema_mpr_skip(schema_mpr *r);
/* False (and bad) when n items could not fit in the bytes left. */
bool schema_mpr_count_ok(schema_mpr *r, size_t n);
/* TALLY_OK if nothing failed and every byte was read, else TALLY_EFORMAT. */
TALLY_MUST_USE tally_status schema_mpr_end(const schema_mpr *r);

#endif

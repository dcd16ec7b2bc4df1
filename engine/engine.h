/* engine: the scoring contract of spec/scoring.md as a fold over the log. Records go in, derived
 * records come out; no I/O, no clock, no randomness, no floating point (engine/fx.h). Two runs
 * over the same records give the same bytes on every machine.
 *
 * The fold: engine_apply() takes every record in sequence order; at a SCORING_CYCLE whose inputs
 * are exactly the records applied so far (its covers_to), engine_cycle() computes the cycle's
 * derived block (SUBMISSION_SCOREs, MINER_SCOREs, WEIGHTS, STATE_HASH) and the checkpoint
 * state. Records between covers_to and the cycle are applied after it. The pure metric
 * functions below (one per formula of the spec) are public so tests and tools can check each
 * rule alone. */
#ifndef TALLY_ENGINE_ENGINE_H
#define TALLY_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/fx.h"
#include "schema/schema.h"

#define ENGINE_STATE_MAGIC "tally-state-v1"
#define ENGINE_MAX_UIDS 4096u
#define ENGINE_STATE_MAX (256u << 20) /* bytes of a checkpoint state, uncompressed (protocol §10) */
#define ENGINE_STATE_FIELDS 18u /* the state's top-level array: 17 of the engine, the rules' last */

/* ---- parameters (scoring §9); reals in nanos, the rest in the unit of their name ---- */
typedef struct engine_params {
    int64_t half_life_days, shrink_k, rolling_days, cal_days, min_cal, min_orig;
    int64_t w_fq, w_cal, w_edge, w_mes, w_sos, w_lead;
    int64_t w_forecast, w_skill, w_econ, w_info;
    int64_t num_bins, min_per_bin, sharp_target;
    int64_t bucket_min, move_threshold, lead_win_min, lag_win_min;
    int64_t min_books, min_variance, min_bias, max_bias;
    int64_t min_zscore, logistic_alpha;
    int64_t tw_min, tw_max, tw_floor, tw_clip;
    int64_t tw_enabled; /* 0 or 1 */
    int64_t cle_min, cle_max, odds_bucket_s, burn_rate;
} engine_params;

/* The scoring fields of a parameter set (schema/params.c is the one table of keys, defaults and
 * ranges). */
void engine_params_from(const schema_paramset *ps, engine_params *out);
void engine_params_default(engine_params *out);
/* Sets one ledger parameter (protocol §2.6). Keys outside scoring (ingest.*, auth.*, …) are
 * accepted and change nothing here. TALLY_EINVAL for an unknown key, a value of the wrong kind,
 * or one outside the table's range; p is then unchanged. */
TALLY_MUST_USE tally_status engine_params_set(engine_params *p, tally_str key,
                                              const schema_pvalue *v);

/* ---- §3 consensus ---- */
typedef struct engine_quote {
    uint64_t side, book, ts_ms, seq, odds_n; /* book: any id naming the bookmaker */
} engine_quote;
/* The consensus at time T over quotes of one market whose sides (canonical order) are given.
 * Writes one cprice per side with a consensus into out (ascending by side) and their count into
 * *n_out (0: the market yields no record). TALLY_ENOMEM if the working copy of q cannot be
 * allocated (*n_out is then 0). */
TALLY_MUST_USE tally_status engine_consensus(const engine_params *p, const engine_quote *q,
                                             size_t n, uint64_t t, const uint64_t *sides,
                                             size_t n_sides, schema_cprice out[3],
                                             size_t *n_out);

/* ---- §4 per-submission metrics ---- */
/* p := 1/O in nanos. */
int64_t engine_implied(uint64_t odds_n);
/* §4.2 for one row: odds O (nanos), close π and Ω (nanos), event start and submitted_at (ms). */
void engine_close_metrics(const engine_params *p, uint64_t odds_n, int64_t pi, int64_t omega,
                          int64_t start_ms, int64_t t_sub, schema_close_metrics *out);
/* §4.3 for one group over S* (n ≥ 2 sides): x[k] the miner's p for side k or −1 if absent,
 * pi[k] the close π, rho the index of the result. false when the group is unscored. */
typedef struct engine_outcome {
    int64_t brier, brier_close, logloss, logloss_close, pss_brier, pss_log, pss;
} engine_outcome;
bool engine_outcome_metrics(const int64_t *x, const int64_t *pi, size_t n, size_t rho,
                            engine_outcome *out);
/* §4.4 */
int64_t engine_time_factor(const engine_params *p, uint64_t minutes);
int64_t engine_pss_adj(const engine_params *p, int64_t pss, int64_t f);

/* ---- §5 aggregation ---- */
/* w := exp2(−age / half_life) for 0 < age (ms). */
int64_t engine_decay(const engine_params *p, int64_t age_ms);
/* §5.4 over n miners: out[i] = X_i'; *mu_out = μ_X. */
void engine_shrink(const engine_params *p, const int64_t *x, const int64_t *n_eff, size_t n,
                   int64_t *out, int64_t *mu_out);
/* α_i of §5.4. */
int64_t engine_shrink_alpha(const engine_params *p, int64_t n_eff);
/* §5.5 over K pairs (probabilities in nanos, hits 0/1). Returns CAL; a and b when fitted. */
int64_t engine_calibration(const engine_params *p, const int64_t *prob, const uint8_t *hit,
                           size_t k, int64_t *a_out, int64_t *b_out);
/* §5.6 */
int64_t engine_sharpness(const engine_params *p, const int64_t *prob, size_t k);
/* §5.7 for one (market, side): points (time ms, log seq, value nanos) in any order. */
typedef struct engine_point {
    int64_t t;
    uint64_t seq;
    int64_t v;
} engine_point;
typedef struct engine_pair {
    bool has_lead, has_sos;
    int64_t lead, sos;
    uint64_t led, matched, aligned;
} engine_pair;
/* Sorts both arrays in place. */
void engine_series_pair(const engine_params *p, engine_point *truth, size_t nt,
                        engine_point *miner, size_t nm, engine_pair *out);

/* ---- §6 normalisation and §7 weights ---- */
/* pss_norm / es_norm of §6.2 for a vector over the population. */
void engine_normalise(const engine_params *p, const int64_t *v, size_t n, int64_t *out);
/* §7.4: y = maxweight(x, L) with L = l_num / l_den. */
void engine_maxweight(const int64_t *x, size_t m, int64_t l_num, int64_t l_den, int64_t *y);
/* §7.5: u16 values for y (0 where dropped). */
void engine_u16(const int64_t *y, size_t m, uint64_t *w);

/* ---- the fold ---- */
typedef struct engine engine;
typedef struct engine_rules engine_rules; /* the acceptance rules' state (below) */
typedef tally_status (*engine_fetch_fn)(uint64_t seq, void *arg, schema_header *h_out,
                                        schema_body *b_out);

TALLY_MUST_USE tally_status engine_new(engine **out);
void engine_free(engine *e);

/* Folds one record. b is its decoded body; it may be NULL for a SCORING_CYCLE or a derived
 * record, which (like quotes, attestations and miner outcomes) only advance the position and the
 * latest time: a cycle is computed by engine_cycle(), never by folding. b may also be NULL for
 * an embargoed or private record whose body the reader does not have yet (protocol §2.3): an
 * ODDS_SUBMISSION is then folded from its header (actor, time, event, rows) and its body is
 * asked for through the fetch function (engine_set_fetch) by the cycle that reveals it.
 * Returns TALLY_ENOMEM, or TALLY_EINVAL for a record out of order (seq below the next) or a
 * missing body of any other record. */
TALLY_MUST_USE tally_status engine_apply(engine *e, uint64_t seq, const schema_header *h,
                                         const schema_body *b);
/* Sequence number the fold expects next (one past the last applied record, or the resume point
 * of a loaded checkpoint). */
uint64_t engine_next_seq(const engine *e);
/* The parameters in effect: GENESIS and every CONFIG_SET folded so far applied over the
 * defaults. For an engine from engine_load(), the parameters its cycle was computed with. */
void engine_params_get(const engine *e, engine_params *out);

/* A cycle's output. bodies: SUBMISSION_SCOREs, MINER_SCOREs, WEIGHTS (if any), STATE_HASH, in
 * append order; the WEIGHTS inputs_hash is zero until engine_block_set_inputs_hash(). state is
 * the canonical uncompressed checkpoint named by the STATE_HASH. All owned by the block. */
typedef struct engine_block {
    schema_body *bodies;
    size_t n;
    size_t n_scores, n_miners; /* SUBMISSION_SCOREs, then MINER_SCOREs */
    bool has_weights;
    uint8_t *state;
    size_t state_len;
    uint8_t state_hash[32];
    struct engine_block_mem *mem_;
} engine_block;

/* Computes the derived block of SCORING_CYCLE c (header h, at seq). Its covers_to must equal
 * engine_next_seq() (else TALLY_EINVAL). Advances the fold's emitted-score state. On failure
 * the engine is unusable (free it). */
TALLY_MUST_USE tally_status engine_cycle(engine *e, uint64_t seq, const schema_header *h,
                                         const schema_scoring_cycle *c, engine_block *out);
/* WEIGHTS.inputs_hash = SHA-256 of the MINER_SCORE records' leaf hashes in order (n_miners). */
void engine_block_set_inputs_hash(engine_block *b, const uint8_t (*leaf)[32]);
void engine_block_release(engine_block *b);

/* The rules' state the next cycle writes into its checkpoint (borrowed; it must stand at the
 * cycle's covers_to when engine_cycle runs, and live until then). Without it the state's rules
 * section is nil, which no node and no replay of a real log writes. */
void engine_attach_rules(engine *e, const engine_rules *r);

/* Where the engine gets a body it folded from the header alone, once the body is revealed:
 * fetch(seq) fills the header and decoded body of record seq (the engine releases the body).
 * engine_cycle() returns what fetch returns when it cannot give one (e.g. TALLY_ENOTFOUND for a
 * body due but withheld). Lives as long as the engine or until set again. */
void engine_set_fetch(engine *e, engine_fetch_fn fetch, void *arg);

/* Restores the fold from a checkpoint state (uncompressed). The bodies of the submissions it
 * holds (by seq and header fields only) are read through fetch, in ascending seq; fetch may
 * answer TALLY_ENOTFOUND for one not yet revealed (a gated reader), which then waits for its
 * reveal as if folded from its header. The restored engine is the one that produced the state,
 * just before computing that cycle: the caller runs engine_cycle() for it next (after
 * engine_set_fetch, if bodies are still withheld). Returns TALLY_EFORMAT for a malformed state,
 * or what fetch returns. */
TALLY_MUST_USE tally_status engine_load(const uint8_t *state, size_t n, engine_fetch_fn fetch,
                                        void *arg, engine **out);

/* ---- acceptance rules (protocol §2.4–§2.5, §4 write nonces, §5.4 S1–S9 and O1–O6) ----
 * One check over the projected ledger state, applied by the node's writer to every candidate
 * record, by `tally append`, by the simulator, and by every replay to every record of a log (a
 * record the rules refuse is a divergence). The state is kept by engine_rules_apply(), record by
 * record, never by scanning the log. */

typedef enum engine_rule {
    ENGINE_RULE_OK = 0,
    /* record rules (§2.4–§2.6) and the write-nonce order (§4) */
    ENGINE_RULE_TIME_ORDER,      /* time_ms below the previous record's */
    ENGINE_RULE_GENESIS,         /* GENESIS not exactly once at seq 0 */
    ENGINE_RULE_AUTHOR,          /* node type not by the GENESIS key, or the node key as miner */
    ENGINE_RULE_PARAM_UNKNOWN,   /* GENESIS / CONFIG_SET: key not in the table */
    ENGINE_RULE_PARAM_KIND,      /* value of the wrong kind */
    ENGINE_RULE_PARAM_RANGE,     /* value out of range */
    ENGINE_RULE_NETUID,          /* CHAIN_PARAMS or METAGRAPH of another netuid */
    ENGINE_RULE_CHAIN_BLOCK,     /* CHAIN_PARAMS or METAGRAPH block not increasing */
    ENGINE_RULE_METAGRAPH_PARTS, /* parts not consecutive, or a snapshot left incomplete */
    ENGINE_RULE_MARKET_CONFLICT, /* MARKET id reused with other bytes */
    ENGINE_RULE_MARKET_DUPLICATE, /* MARKET repeated byte for byte: a no-op to drop */
    ENGINE_RULE_CLOSE_TIME,      /* close_ms not the event's start, or after the record time */
    ENGINE_RULE_CLOSE_DUPLICATE, /* second CLOSE without a RECOMPUTE of the event */
    ENGINE_RULE_SNAPSHOT_TIME,   /* MARKET_SNAPSHOT ts_ms after the record time */
    ENGINE_RULE_EPOCH,           /* RECOMPUTE epoch not previous + 1 */
    ENGINE_RULE_CYCLE,           /* SCORING_CYCLE number, epoch, as_of_ms or covers_to */
    ENGINE_RULE_BLOCK,           /* derived record outside its cycle's block, or a block cut */
    ENGINE_RULE_NOT_ELIGIBLE,    /* ATTESTATION author: unbound, node key, permit or stake */
    ENGINE_RULE_ATTESTATION_INVALID,
    ENGINE_RULE_ATTESTATION_DUPLICATE,
    ENGINE_RULE_NONCE_STALE,     /* write nonce below the key's highest */
    ENGINE_RULE_NONCE_REPLAY,    /* write nonce repeated outside one request's idx order */
    ENGINE_RULE_INVALID_FIELD,   /* odds or probability outside the security.* bounds */
    ENGINE_RULE_PRICE_INCONSISTENT,
    ENGINE_RULE_KEY_NOT_REGISTERED, /* S1 */
    /* item-level codes of §5.4 / §8 (engine_rule_is_item) */
    ENGINE_RULE_UNKNOWN_EVENT,
    ENGINE_RULE_UNKNOWN_MARKET,
    ENGINE_RULE_MARKET_EVENT_MISMATCH,
    ENGINE_RULE_MARKET_KIND_MISMATCH,
    ENGINE_RULE_MARKET_SIDES_MISMATCH,
    ENGINE_RULE_MARKET_CLOSED,
    ENGINE_RULE_MARKET_NOT_OPEN,
    ENGINE_RULE_PRICED_AT_OUT_OF_RANGE,
    ENGINE_RULE_MARKET_DAILY_CAP,
    ENGINE_RULE_DUPLICATE_IN_BUCKET,
    ENGINE_RULE_EVENT_INELIGIBLE,
    ENGINE_RULE_EVENT_NOT_STARTED,
    ENGINE_RULE_OUTCOME_WINDOW_CLOSED,
    ENGINE_RULE_EVENT_DAILY_CAP,
    ENGINE_RULE_COUNT
} engine_rule;

typedef struct engine_verdict {
    engine_rule rule;   /* ENGINE_RULE_OK when the record is admitted */
    uint64_t market_id; /* the entry or market concerned, 0 when none */
    char detail[200];   /* one sentence naming the values compared */
    char field[SCHEMA_PATH_MAX]; /* the body field concerned where one is ("markets[0].prices[1]
                                    .odds_n", set by engine_prices_check), else "" */
} engine_verdict;

/* The protocol's name of a rule ("market_closed", "nonce_stale", …); "?" past the table. */
const char *engine_rule_name(engine_rule rule);
/* The status a refusal maps to for a caller that has one: TALLY_ECONFLICT for placement and
 * reuse (GENESIS, a MARKET id, a second attestation), TALLY_EAUTH for authorship and
 * eligibility, TALLY_EINVAL for the rest (TALLY_OK for ENGINE_RULE_OK). */
tally_status engine_rule_status(engine_rule rule);
/* True for the item-level codes of §8, which reject one item of a request, not the request. */
bool engine_rule_is_item(engine_rule rule);

/* The §5.4 stateless price rules of an ODDS_SUBMISSION body under the parameters ps: every
 * odds_n within security.odds_min..odds_max and imp_prob_n within security.prob_min..prob_max
 * (ENGINE_RULE_INVALID_FIELD), then |imp_prob_n − 10^18 div odds_n| ≤ ingest.prob_tolerance
 * (ENGINE_RULE_PRICE_INCONSISTENT). All bounds of the body are checked before any agreement
 * (protocol §14.2). On a refusal v->rule, v->market_id, v->field and v->detail name the first
 * fault; on ENGINE_RULE_OK v is untouched. The writer's rules and wire/'s request checks both
 * call it, so the node cannot accept at the door what its log would refuse. */
engine_rule engine_prices_check(const schema_paramset *ps, const schema_odds *o,
                                engine_verdict *v);

/* An empty state (before GENESIS). Free with engine_rules_free (NULL is a no-op). */
TALLY_MUST_USE tally_status engine_rules_new(engine_rules **out);
void engine_rules_free(engine_rules *r);
/* Decides whether the record (header h with its time_ms assigned, body b decoded and checked
 * against h) may stand at position seq, given exactly the records [0, seq) folded into r; r is
 * not changed. *v says which rule refused it, or ENGINE_RULE_OK. Returns TALLY_EINVAL when seq is
 * not engine_rules_size(r) or b is missing or of another type. */
TALLY_MUST_USE tally_status engine_rules_check(const engine_rules *r, uint64_t seq,
                                               const schema_header *h, const schema_body *b,
                                               engine_verdict *v);
/* Folds the record at seq into r (call it for admitted records, in order). TALLY_EINVAL for a
 * record out of order, TALLY_ENOMEM (r is then unusable: free it). */
TALLY_MUST_USE tally_status engine_rules_apply(engine_rules *r, uint64_t seq,
                                               const schema_header *h, const schema_body *b);
/* engine_rules_check, then engine_rules_apply when admitted. */
TALLY_MUST_USE tally_status engine_rules_admit(engine_rules *r, uint64_t seq,
                                               const schema_header *h, const schema_body *b,
                                               engine_verdict *v);
/* ---- the rules for a reader without every body (an auditor's gated view, protocol §2.3) ----
 * engine_rules_check and engine_rules_apply also take b = NULL for an embargoed or private
 * record: the header decides S1, S2, S5, S6 and O1–O6 at once; an embargoed record then waits
 * in a pending list, and engine_rules_reveal judges the rest of it (S3, S4, S7, S8, S9, the
 * security bounds) once its body is revealed, against the state at its own position. The
 * write-nonce order of embargoed records and every rule on a private body are left to the node
 * and to full replays (docs/rules.md says why). */

/* reveal_at_ms of an embargoed record (§2.3: its event's schedule, a miner outcome's window as
 * in effect at the record) from the EVENT records folded so far. TALLY_EINVAL for a record that
 * is not embargoed, TALLY_ENOTFOUND for an unknown event. */
TALLY_MUST_USE tally_status engine_rules_reveal_at(const engine_rules *r, uint64_t seq,
                                                   const schema_header *h, uint64_t *out);
/* The pending records whose reveal is due at time cut (reveal_at ≤ cut), ascending by seq, in a
 * malloc'd array the caller frees. */
TALLY_MUST_USE tally_status engine_rules_due(const engine_rules *r, uint64_t cut,
                                             uint64_t **seqs_out, size_t *n_out);
/* Judges the revealed body of pending record seq (v says which rule refused it) and drops it
 * from the pending list either way. TALLY_EINVAL if seq is not pending or b is not its type. */
TALLY_MUST_USE tally_status engine_rules_reveal(engine_rules *r, uint64_t seq,
                                                const schema_body *b, engine_verdict *v);
/* ---- the rules' state in a checkpoint ----
 * A checkpoint state carries the rules' state at its covers_to (the part every view derives
 * alike; engine_attach_rules). engine_rules_from_state reads it back from a state blob (checked
 * by its STATE_HASH); the rest is rebuilt by engine_rules_restore, called for each record of the
 * last 31 days before the state's position, in seq order, with its body where the reader has
 * it (gated: the view is an auditor's; cut: the time of record covers_to − 1). */
TALLY_MUST_USE tally_status engine_rules_from_state(const uint8_t *state, size_t n,
                                                    engine_rules **out);
TALLY_MUST_USE tally_status engine_rules_restore(engine_rules *r, uint64_t seq,
                                                 const schema_header *h, const schema_body *b,
                                                 bool gated, uint64_t cut);

/* The effective METAGRAPH's binding of an Ed25519 key (protocol §1, §2.4): the neuron whose
 * tally_key it is. False for a key bound to no uid, or to two (then to none). */
typedef struct engine_binding {
    uint64_t uid, stake_rao;
    uint8_t hotkey[32];
    bool permit;
} engine_binding;
bool engine_rules_binding(const engine_rules *r, const uint8_t key[32], engine_binding *out);
/* True once a complete METAGRAPH snapshot is in effect, with its block in *block_out. */
bool engine_rules_metagraph(const engine_rules *r, uint64_t *block_out);
/* The latest SCORING_CYCLE number folded (0 before the first) and the epoch in effect (the
 * number of RECOMPUTE records folded): the next cycle is (*cycle_out + 1, *epoch_out). */
void engine_rules_cycles(const engine_rules *r, uint64_t *cycle_out, uint64_t *epoch_out);
/* The node key GENESIS named, false before GENESIS. */
bool engine_rules_node_key(const engine_rules *r, uint8_t out[32]);

/* Embargoed records still waiting for their body. */
size_t engine_rules_pending(const engine_rules *r);

/* Records folded so far (the next seq), the latest record time, the parameters in effect. */
uint64_t engine_rules_size(const engine_rules *r);
uint64_t engine_rules_last_time(const engine_rules *r);
const schema_paramset *engine_rules_params(const engine_rules *r);

#endif

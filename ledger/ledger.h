/* ledger: the engine fed from the store, the one driver the node, every auditor and the tools
 * share, so that they apply literally the same code: the acceptance rules judged on the log and
 * as the writer's admission hook, the node's scoring cycle, replay with the first difference
 * (the operator's full view and an auditor's gated view), records built and signed, and the
 * simulator's node (the generator of sim/ fed through all of these into a store). No printing,
 * no exit: statuses, results and callbacks only. */
#ifndef TALLY_LEDGER_LEDGER_H
#define TALLY_LEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "schema/schema.h"
#include "store/store.h"

/* The engine restored from a checkpoint state (uncompressed) of the log: engine_load(), with the
 * bodies of submissions the state holds no prices for read back from the log in ascending seq.
 * On TALLY_OK *out belongs to the caller (engine_free). Returns what engine_load returns, and
 * TALLY_ENOTFOUND or TALLY_ECORRUPT for a body the log lacks or that fails its header. */
TALLY_MUST_USE tally_status ledger_state_load(store_log *log, const uint8_t *state, size_t n,
                                           engine **out);
/* ---- the node side ---- */
typedef struct ledger_cycle_info {
    uint64_t seq, records, scores, miners, state_len; /* seq: the SCORING_CYCLE's */
    uint64_t covers_to;
    bool has_weights;
    uint8_t state_hash[32];
    char what[300]; /* with TALLY_EINVAL: the rule a block record broke */
} ledger_cycle_info;
/* Node side: folds every record not yet in e, then appends SCORING_CYCLE `cycle` at time t
 * (covers_to = the log's size) and its derived block in one transaction, after storing the
 * checkpoint. With rules (at the log's end), every record of the block is admitted through them
 * first (TALLY_EINVAL and info->what if one is refused; nothing appended). */
TALLY_MUST_USE tally_status ledger_node_cycle(store_log *log, engine *e, engine_rules *rules,
                                           uint64_t cycle, uint64_t epoch, uint64_t t,
                                           ledger_cycle_info *info);

/* The live node's cycle, while ingest goes on: *e and rules (the cycle driver's own, following
 * the log) are folded to the log's end, which becomes the cycle's covers_to; the next cycle
 * number and the epoch come from the rules; the block is computed for as_of = UTC midnight of
 * now_ms, its checkpoint stored, and it is appended with the writer's clock through
 * store_append_judged: the writer's rules judge it where it lands, after anything ingested
 * meanwhile, and refuse it (TALLY_EAGAIN) if it would land on the next UTC day. On failure the
 * engine is put back as it was before the call (*e may be replaced), so the caller can try
 * again; info->what says why when it can. */
TALLY_MUST_USE tally_status ledger_node_cycle_live(store_log *log, engine **e, engine_rules *rules,
                                                uint64_t now_ms, ledger_cycle_info *info);

/* The acceptance rules fed from the log. ledger_rules_fold folds records [engine_rules_size(r),
 * to) into r without judging them (a prefix trusted, or judged elsewhere); ledger_rules_open
 * returns the state at the end of the log; ledger_rules_admit checks one record at the next
 * position (its header's time_ms is the time it will have) and folds it when admitted. */
TALLY_MUST_USE tally_status ledger_rules_fold(store_log *log, engine_rules *r, uint64_t to);
TALLY_MUST_USE tally_status ledger_rules_open(store_log *log, engine_rules **out);
TALLY_MUST_USE tally_status ledger_rules_admit(engine_rules *r, const store_input *in,
                                            engine_verdict *v);

/* The acceptance rules as the writer's admission hook (store_cfg.admission = &a->hook): each
 * item of store_append_items is judged at its position and time; a refused item's code is its
 * engine_rule. ledger_admission_init before store_open, ledger_admission_attach right after (it folds
 * the log), ledger_admission_release after store_close. The state follows the writer, and after
 * a failed transaction it is rebuilt from the log before the next judgement. */
typedef struct ledger_admission {
    store_admission hook;
    engine_rules *rules; /* owned by the writer thread while the store is open */
    store_log *log;
    bool stale;
} ledger_admission;
TALLY_MUST_USE tally_status ledger_admission_init(ledger_admission *a);
TALLY_MUST_USE tally_status ledger_admission_attach(ledger_admission *a, store_log *log);
void ledger_admission_release(ledger_admission *a);
/* The engine at the end of an existing log (replayed and checked); TALLY_ECORRUPT if a derived
 * record in it does not match. With from_checkpoint (TALLY_START_REPLAY=checkpoint, a fast
 * restart; `tally replay` checks everything): when the log's last cycle has its checkpoint file
 * holding the state its STATE_HASH names, the engine is that state with the records after the
 * cycle's covers_to folded, and nothing before is judged or recomputed: the node trusts what it
 * wrote. When only an older cycle has one, the replay starts from that checkpoint and recomputes
 * the cycles after it. *resumed_out: the cycle started from (0: the whole log was replayed).
 * *cycles_out: the last cycle number. */
TALLY_MUST_USE tally_status ledger_node_catch_up(store_log *log, bool from_checkpoint, engine **out,
                                                uint64_t *cycles_out, uint64_t *resumed_out);

/* ---- the node's read view (request threads) ----
 * The acceptance rules' state as of the latest committed head, folded from the log by the same
 * code as the writer's, and the games index of protocol §5.1. Thread-safe: any number of
 * readers; ledger_view_sync (any thread) folds what was committed since. */
typedef struct ledger_view ledger_view;
TALLY_MUST_USE tally_status ledger_view_open(store_log *log, ledger_view **out);
void ledger_view_close(ledger_view *v); /* NULL is a no-op */
TALLY_MUST_USE tally_status ledger_view_sync(ledger_view *v);

typedef struct ledger_view_info {
    uint64_t size, last_time_ms;
    bool has_genesis, has_metagraph;
    uint8_t node_key[32];
    uint64_t metagraph_block, metagraph_time_ms; /* time_ms of the record completing it */
    schema_paramset params;                      /* in effect after the last record */
    uint64_t last_cycle, epoch;                  /* engine_rules_cycles at the head */
    size_t games_indexed;
} ledger_view_info;
void ledger_view_info_get(ledger_view *v, ledger_view_info *out);
/* engine_rules_binding on the view. */
bool ledger_view_binding(ledger_view *v, const uint8_t key[32], engine_binding *out);

/* Games listed by /v1/games (protocol §5.1): events with status scheduled and from_ms ≤ start_ms
 * ≤ to_ms, ordered by (start_ms, event_id), after the cursor when has_cursor, changed after
 * since_ms when has_since, of a league and sport when given (NULL: any). */
typedef struct ledger_games_query {
    uint64_t from_ms, to_ms;
    bool has_since, has_cursor;
    uint64_t since_ms, after_start, after_id;
    const char *league, *sport;
    size_t limit;
} ledger_games_query;
/* Called for each game listed, with its latest EVENT and its MARKETs ascending by market_id
 * (borrowed for the call; the view is read-locked meanwhile, so fn must not call the view). */
typedef tally_status (*ledger_game_fn)(void *arg, const schema_event *e,
                                       const schema_body *markets, size_t n_markets);
/* Lists up to q->limit games through fn; *more_out says whether more follow, and the last game
 * listed is (*next_start_out, *next_id_out): the next page's cursor. Returns what fn returns,
 * or TALLY_ENOMEM. */
TALLY_MUST_USE tally_status ledger_view_games(ledger_view *v, const ledger_games_query *q,
                                           ledger_game_fn fn, void *arg, bool *more_out,
                                           uint64_t *next_start_out, uint64_t *next_id_out);

/* ---- the auditor side ---- */
/* A cycle whose derived block replayed byte for byte (ledger_replay_cfg.on_cycle). */
typedef struct ledger_cycle_checked {
    uint64_t cycle, epoch, cycle_seq, state_seq; /* state_seq: its STATE_HASH's seq */
    uint64_t time_ms, covers_to;                 /* the SCORING_CYCLE's */
    uint8_t state_hash[32];
    bool has_weights;
    uint64_t weights_seq;
    uint8_t weights_hash[32]; /* SHA-256 of the WEIGHTS body, when has_weights */
    /* the recomputed checkpoint state (uncompressed; its SHA-256 is state_hash), borrowed for
     * the call only: a caller that wants it (tally reconstruct) copies it */
    const uint8_t *state;
    size_t state_len;
} ledger_cycle_checked;
/* What kind of record a replay found wrong first (ledger_replay_result.kind). */
typedef enum ledger_divergence {
    LEDGER_DIV_NONE = 0,
    LEDGER_DIV_DERIVED,   /* a derived record that is not the recomputed one (or missing) */
    LEDGER_DIV_STATE,     /* a STATE_HASH that is not the recomputed one */
    LEDGER_DIV_RULE,      /* a record the acceptance or record rules refuse */
    LEDGER_DIV_SIGNATURE, /* an actor signature, or a body that is not the one its header
                             commits to */
    LEDGER_DIV_WITHHELD,  /* a body due since its reveal that the log does not hold */
    LEDGER_DIV_TREE,      /* a header the tree does not commit to, or a signed head that fails */
} ledger_divergence;
typedef struct ledger_replay_cfg {
    uint64_t from_cycle; /* 0: from genesis; else resume from that cycle's checkpoint */
    bool gated;          /* read only what an authenticated auditor may (protocol §2.3) */
    bool signatures;     /* also every input record's actor signature (as verify --signatures) */
    uint64_t to;         /* stop before this seq; 0: the whole log */
    store_progress_fn progress; /* called with (done, total) records now and then; or NULL */
    void *progress_arg;
    /* optional: called for each cycle as soon as its whole block matched */
    void (*on_cycle)(void *arg, const ledger_cycle_checked *c);
    void *on_cycle_arg;
} ledger_replay_cfg;
typedef struct ledger_replay_result {
    uint64_t records, cycles, derived_checked, last_cycle;
    uint64_t withheld; /* gated view: records read from their header alone where they stand */
    uint64_t pending;  /* gated view: embargoed bodies not yet revealed at the end */
    uint64_t heads_checked; /* signed tree heads verified (key, signatures, root of the tiles) */
    bool mismatch;
    ledger_divergence kind; /* with mismatch */
    uint64_t bad_seq;
    char what[768];
    uint8_t state_hash[32];   /* of the last cycle replayed */
    bool has_weights;
    uint8_t weights_hash[32]; /* SHA-256 of the last WEIGHTS body checked */
    double seconds;
    engine *eng; /* the engine at the end; the caller frees it (also on failure) */
} ledger_replay_result;
/* Auditor side: recomputes every cycle's derived block from the inputs and compares it byte for
 * byte with the log. A difference is not an error: res->mismatch names the first differing
 * record (seq, type, field). Returns a status for failures to read. */
TALLY_MUST_USE tally_status ledger_replay(store_log *log, const ledger_replay_cfg *cfg,
                                       ledger_replay_result *res);
/* The acceptance rules in the gated view at the end of a log that may lack the bodies an
 * auditor may not read yet (a replica): such records are folded from their headers. */
TALLY_MUST_USE tally_status ledger_rules_open_gated(store_log *log, engine_rules **out);
/* The embargoed records whose reveal is due by the log's latest time and whose body the log does
 * not hold (an auditor fetches them), ascending, in a malloc'd array the caller frees (NULL when
 * *n_out is 0). rules: ledger_rules_open_gated's state at the log's end, if the caller holds it
 * (saves folding the log again), else NULL. */
TALLY_MUST_USE tally_status ledger_reveals_due(store_log *log, const engine_rules *rules,
                                             uint64_t **seqs_out, size_t *n_out);
/* ---- forensics: one past cycle rebuilt, and where two logs part (ledger/forensics.c,
 * ledger/diff.c) ---- */
typedef struct ledger_reconstruct_cfg {
    uint64_t cycle;  /* the cycle to rebuild (1..); 0: the one at_ms picks */
    uint64_t at_ms;  /* with cycle 0: the latest cycle whose SCORING_CYCLE time_ms <= at_ms */
    bool gated;      /* replay the gated view (an auditor's replica without non-public bodies) */
    bool resume;     /* start from the nearest earlier cycle whose checkpoint file is present and
                        matches its STATE_HASH record, instead of from genesis */
    store_progress_fn progress; /* ledger_replay's progress, or NULL */
    void *progress_arg;
} ledger_reconstruct_cfg;

/* One cycle rebuilt. Everything but the mismatch fields is set only when !mismatch. */
typedef struct ledger_reconstruction {
    uint64_t cycle, epoch, as_of_ms, covers_to, time_ms; /* the SCORING_CYCLE's */
    uint64_t cycle_seq, state_seq; /* the block: [cycle_seq, state_seq], STATE_HASH last */
    uint64_t tree_size;            /* state_seq + 1, and the tree's root at that size */
    uint8_t root[32];
    uint8_t state_hash[32];        /* SHA-256(state): equal to the STATE_HASH record's */
    uint8_t *state;                /* malloc'd, the uncompressed checkpoint state */
    size_t state_len;
    bool checkpoint_checked;       /* DIR/checkpoints/<cycle>.zst exists and holds these bytes */
    uint64_t resumed_from;         /* the checkpoint's cycle the replay started from; 0: genesis */
    bool gated;                    /* replayed in the gated view */
    schema_paramset params;        /* in effect for the cycle: GENESIS and the CONFIG_SETs before
                                      covers_to over the defaults */
    bool has_metagraph;            /* a complete METAGRAPH snapshot before covers_to */
    uint64_t metagraph_block;
    uint8_t (*hotkeys)[32];        /* by uid (ENGINE_MAX_UIDS entries), when has_hotkey[uid] */
    bool *has_hotkey;
    schema_body *bodies;           /* the block's derived records as the log holds them (each
                                      identical to the recomputed one), in block order */
    size_t n_bodies;
    const schema_body *weights;    /* the WEIGHTS among bodies, or NULL when the cycle has none */
    uint64_t replayed;             /* records the replay read */
    /* the log does not reproduce: the first differing record */
    bool mismatch;
    ledger_divergence kind;
    uint64_t bad_seq;
    char what[800];
} ledger_reconstruction;

/* Rebuilds one past cycle from the log: finds its SCORING_CYCLE (by number, or by time), replays
 * the log with ledger_replay (from genesis, or with cfg->resume from an earlier checkpoint) up to
 * the end of that cycle's block, so every derived record up to there is compared byte for byte
 * with its recomputation, and keeps the recomputed state, checked against the log's STATE_HASH
 * record and against DIR/checkpoints/<cycle>.zst when that file exists. A difference is not an
 * error: out->mismatch names the first differing seq and field (kind LEDGER_DIV_STATE for a
 * checkpoint file that differs or is damaged). Returns TALLY_ENOTFOUND for no such cycle (or
 * none at or before at_ms, or a block the log does not hold to its STATE_HASH), TALLY_EINVAL for
 * a cfg asking for nothing, TALLY_ENOMEM, and what reading the log returns. On every return *out
 * is filled as far as it got; release it with ledger_reconstruction_release. */
TALLY_MUST_USE tally_status ledger_reconstruct(store_log *log, const ledger_reconstruct_cfg *cfg,
                                               ledger_reconstruction *out);
void ledger_reconstruction_release(ledger_reconstruction *r); /* zeroed: a no-op */

/* Writes a reconstruction (not a mismatch) into dir, created if missing (one level): cycle.json,
 * scores.json, weights.json, submission_scores.jsonl and state.msgpack (docs/forensics.md has
 * their formats), each to a temporary name, synced, then renamed over any older file. Returns
 * TALLY_EINVAL for a mismatch, TALLY_EIO (with a sentence in detail, cap bytes, when given),
 * TALLY_ENOMEM. */
TALLY_MUST_USE tally_status ledger_reconstruct_write(const ledger_reconstruction *r,
                                                     const char *dir, char *detail, size_t cap);
/* The JSON texts of those files (malloc'd, NUL-terminated, the caller frees): which is
 * "cycle", "scores", "weights" or "submission_scores" (JSON lines). TALLY_EINVAL otherwise. */
TALLY_MUST_USE tally_status ledger_reconstruct_json(const ledger_reconstruction *r,
                                                    const char *which, char **out);

/* A log as ledger_diff reads it: a local store (ledger_diff_source_store), or later a node's
 * ledger API. Records are read as header and body bytes; a body the source does not hold (a
 * replica's) comes as {NULL, 0}. Views are borrowed for the callback's duration. */
typedef tally_status (*ledger_diff_record_fn)(void *fn_arg, uint64_t seq, tally_bytes header,
                                              tally_bytes body, bool *stop);
typedef struct ledger_diff_source {
    const char *name;   /* for messages: a directory or a URL */
    uint64_t size;      /* records under its latest signed head */
    char origin[SCHEMA_ORIGIN_MAX + 1];
    uint8_t node_key[32];
    /* the first `width` hashes of level-0 hash tile `index` into out (256 × 32 bytes) */
    tally_status (*tile)(void *arg, uint64_t index, unsigned width, uint8_t *out);
    /* calls fn for records from seq `from` in order until fn sets *stop or the log ends */
    tally_status (*records)(void *arg, uint64_t from, ledger_diff_record_fn fn, void *fn_arg);
    void *arg;
} ledger_diff_source;
/* A source over an open store (borrowed; it must outlive the source). */
void ledger_diff_source_store(store_log *log, const char *name, ledger_diff_source *out);

typedef enum ledger_diff_verdict {
    LEDGER_DIFF_IDENTICAL = 0, /* same origin, key and records */
    LEDGER_DIFF_PREFIX,        /* one log is a prefix of the other (not a divergence) */
    LEDGER_DIFF_DIVERGED,      /* a record differs at seq */
} ledger_diff_verdict;

typedef struct ledger_weight_change {
    uint64_t uid;
    bool in_a, in_b; /* the uid is in that log's WEIGHTS */
    uint64_t a, b;   /* its weights (0 where absent) */
} ledger_weight_change;

typedef struct ledger_diff_cycle {
    uint64_t cycle;
    bool in_a, in_b;            /* the log holds the cycle's SCORING_CYCLE */
    uint64_t seq_a, seq_b;      /* where, when held */
    uint64_t covers_to_a, covers_to_b;
    bool inputs;                /* its inputs include the divergent seq (covers_to > seq) */
    bool weights_a, weights_b;  /* the log holds the cycle's WEIGHTS */
    bool weights_differ;        /* the WEIGHTS bodies differ, or only one log has one */
    ledger_weight_change *changes; /* uids whose weight differs, ascending */
    size_t n_changes;
} ledger_diff_cycle;

typedef struct ledger_diff_result {
    ledger_diff_verdict verdict;
    uint64_t size_a, size_b;
    bool origin_differs, key_differs;
    char origin_a[SCHEMA_ORIGIN_MAX + 1], origin_b[SCHEMA_ORIGIN_MAX + 1];
    uint8_t key_a[32], key_b[32];
    /* LEDGER_DIFF_DIVERGED: the first record whose leaf differs, both headers */
    uint64_t seq;
    schema_header ha, hb;
    bool has_body_a, has_body_b;
    char field[64];        /* the first header field that differs ("time_ms", "body_hash") */
    char body_field[160];  /* when the bodies differ and both are held: the first differing body
                              field, dotted ("skill", "dims.forecast", "markets[0].prices[1]") */
    char detail[600];      /* the difference in a sentence, both values side by side */
    ledger_diff_cycle *cycles; /* the cycles affected, ascending: those of either log whose block
                                  ends at or after seq */
    size_t n_cycles;
    uint64_t tiles_skipped; /* level-0 tiles found equal without reading their records */
} ledger_diff_result;

/* Compares two logs: origins and node keys, then record by record (equal level-0 hash tiles are
 * skipped whole; only the first differing tile is read leaf by leaf), and at the first
 * differing record its headers field by field and, where both sources hold the bodies, the
 * bodies through their JSON views; then lists the cycles the divergence affects, each with the
 * uids whose WEIGHTS differ between the two logs. Returns TALLY_OK whatever the verdict, and
 * TALLY_ENOMEM or what a source returns (TALLY_ECORRUPT for a record that does not decode). On
 * every return *out needs ledger_diff_release. */
TALLY_MUST_USE tally_status ledger_diff_sources(const ledger_diff_source *a,
                                                const ledger_diff_source *b,
                                                ledger_diff_result *out);
/* ledger_diff_sources over two open stores. */
TALLY_MUST_USE tally_status ledger_diff(store_log *a, store_log *b, ledger_diff_result *out);
void ledger_diff_release(ledger_diff_result *r); /* zeroed: a no-op */

/* ---- building records ---- */
/* A batch of records to append together. Bodies are copied into the batch. */
typedef struct ledger_batch {
    store_input *in;
    size_t n, cap;
} ledger_batch;
#define LEDGER_BATCH_INIT {NULL, 0, 0}
/* Adds a record authored by the node: encodes, builds and signs the header. */
TALLY_MUST_USE tally_status ledger_batch_node(ledger_batch *b, store_log *log, const schema_body *body,
                                           uint64_t time_ms);
/* Adds a record signed by another key (sk: libsodium 64-byte secret key of pk). */
TALLY_MUST_USE tally_status ledger_batch_signed(ledger_batch *b, store_log *log, const schema_body *body,
                                             const uint8_t pk[32], const uint8_t sk[64],
                                             uint64_t time_ms);
/* Adds a record whose header (with signature) the caller built; the body bytes are copied. */
TALLY_MUST_USE tally_status ledger_batch_raw(ledger_batch *b, const schema_header *h,
                                          const uint8_t *body, size_t n);
/* Appends everything in the batch as one run (all or nothing) and empties it. */
TALLY_MUST_USE tally_status ledger_batch_flush(ledger_batch *b, store_log *log, uint64_t *first_out);
void ledger_batch_release(ledger_batch *b);

/* ---- the simulator's node ---- */
/* One day the simulation finished, for progress reports. */
typedef struct ledger_sim_day {
    uint64_t day;     /* the UTC day (day 0 starts at SIM_T0_MS with GENESIS) */
    bool resumed;     /* the log's last day, generated again: its records checked, the rest added */
    uint64_t skipped; /* resumed: records of the day the log already held */
    uint64_t n, of;   /* a new day: the n-th (from 1) of the `of` new days of this run */
    uint64_t records; /* the log's size after the day */
} ledger_sim_day;
/* Called after each day is committed; it cannot stop the run. */
typedef void (*ledger_sim_day_fn)(void *arg, const ledger_sim_day *day);

typedef struct ledger_sim_cfg {
    const char *dir;          /* an existing directory: its simulated log, or none yet */
    uint64_t seed;
    unsigned miners;          /* 1..SIM_MINERS_MAX (sim/sim.h) */
    unsigned markets_per_day; /* 1..SIM_MARKETS_MAX */
    unsigned days;            /* new days to write after the log's last one */
    unsigned total_days;      /* if not 0, instead: until the log holds days 0..total_days−1 */
    size_t map_size;          /* store_cfg.map_size: 0 keeps the file's (or the default) */
    ledger_sim_day_fn on_day; /* or NULL */
    void *on_day_arg;
} ledger_sim_cfg;

#define LEDGER_SIM_WHAT_MAX 512
typedef struct ledger_sim_result {
    uint64_t records_before, records_after; /* the log's size when opened and when closed */
    uint64_t days_from_ms, days_to_ms;      /* the new days: [from, to) in simulated time */
    uint64_t days;    /* new days simulated (the resumed last day is not counted) */
    uint64_t foreign; /* records past the resumed day's, which another writer appended */
    uint64_t submissions, quotes, outcomes, events, markets, cycles, derived; /* appended */
    uint64_t refused_total, refused[ENGINE_RULE_COUNT]; /* miner records the rules refused */
    char what[LEDGER_SIM_WHAT_MAX]; /* why it stopped, as a sentence, when known; else "" */
    double seconds;                 /* wall time of the call (monotonic clock) */
} ledger_sim_result;

/* The node of a simulated subnet: writes the generator's history (sim/sim.h, seeded by
 * cfg->seed) into the log in cfg->dir, creating the log with the seed's node key when the
 * directory holds none, as a node would: at each UTC midnight from day 1 its scoring cycle
 * (ledger_node_cycle), then the day's records, each admitted through the acceptance rules (a
 * refused miner record is counted in out->refused, never appended) and appended in chunks that
 * never split one instant. On an existing log its last day is generated again first: the records
 * the log holds are checked byte for byte and the rest appended, so an interrupted run, continued,
 * gives the bytes of one that never stopped; records another writer appended after that day are
 * kept. The same seed and configuration give identical bytes. The log is closed on return.
 *
 * Fills *out on every return (counts of what was appended before a failure), and out->what says
 * why a run stopped where it can. Returns TALLY_EINVAL for a configuration out of range (nothing
 * touched) or a simulated node record the rules refuse (a generator bug, naming the rule);
 * TALLY_ECONFLICT for a log 'tally simulate' did not write (other origin), another seed's node
 * key, a record of the log other than the one these settings generate, or another writer holding
 * the log; TALLY_ECORRUPT for a log whose last day does not open with a scoring cycle, or whose
 * derived records do not replay; and what the store returns (TALLY_EFULL for a full map or disk,
 * TALLY_EIO, TALLY_ENOMEM). Every record committed before a failure is kept. */
TALLY_MUST_USE tally_status ledger_simulate(const ledger_sim_cfg *cfg, ledger_sim_result *out);


/* reveal_at_ms of an embargoed record at seq (engine_rules_reveal_at on the view's rules, which
 * hold every EVENT up to the head). Errors as engine_rules_reveal_at. */
TALLY_MUST_USE tally_status ledger_view_reveal_at(ledger_view *v, uint64_t seq,
                                                  const schema_header *h, uint64_t *out);

/* ---- cycles, attestations and finality (protocol §6.5–§6.6; ledger/finality.c) ----
 * One fold over the log, shared by the node (GET /v1/finality, /v1/checkpoints,
 * /v1/attestations), the auditor and the CLI, so everyone computes finality with the same code
 * from public records only. A pass counts when its verdict is pass, its state and weights hashes
 * equal the cycle's, its tree_size is above the cycle's STATE_HASH seq and its root is the log's
 * root at that size, and its author was eligible at its own position (bound key, not the node's
 * key or hotkey, permit when auth.require_permit, stake ≥ auth.min_stake_rao, as in effect
 * there); one per hotkey. A fail counts when eligible. m = eligible auditors in the METAGRAPH
 * effective at the STATE_HASH; k = finality.k in effect at the STATE_HASH. */
typedef struct ledger_cycle_meta {
    uint64_t cycle, epoch, as_of_ms, covers_to;
    uint64_t cycle_seq, state_seq, state_len;
    bool complete;               /* its STATE_HASH is in the log */
    uint8_t state_hash[32];
    uint8_t weights_hash[32];    /* the WEIGHTS body_hash, or SHA-256("") without WEIGHTS */
    uint64_t k, m;               /* finality.k and eligible auditors at state_seq */
    uint64_t passes, fails;      /* counted attestations so far */
} ledger_cycle_meta;

typedef struct ledger_attestation {
    uint64_t seq, time_ms;
    uint8_t key[32], hotkey[32];
    schema_attestation a;        /* the body */
    bool eligible;               /* author eligible at its own position */
    bool root_ok;                /* a.root is the log's root at a.tree_size */
    bool pass, fail;             /* counted as a pass / a fail for its cycle */
} ledger_attestation;

typedef struct ledger_finality_result {
    ledger_cycle_meta meta;
    uint8_t (*passes)[32];       /* keys of the counted passes, then fails (malloc'd) */
    uint8_t (*fails)[32];
    size_t n_passes, n_fails;
    bool final, disputed;
    uint64_t latest_final_cycle; /* 0 when no cycle is final */
} ledger_finality_result;
void ledger_finality_result_release(ledger_finality_result *r); /* NULL is a no-op */

typedef struct ledger_finality_state ledger_finality_state; /* one thread at a time */
TALLY_MUST_USE tally_status ledger_finality_new(ledger_finality_state **out);
void ledger_finality_free(ledger_finality_state *s); /* NULL is a no-op */
/* Folds records [folded, to) of log (to ≤ store_size). A record whose body is absent (a
 * replica's withheld embargoed or private body) is folded from its header. TALLY_ENOMEM,
 * TALLY_ECORRUPT and the store's read errors; the state is unusable after a failure. */
TALLY_MUST_USE tally_status ledger_finality_update(ledger_finality_state *s, store_log *log,
                                                   uint64_t to);
uint64_t ledger_finality_size(const ledger_finality_state *s); /* records folded */
/* The cycles seen, ascending by cycle number (borrowed until the next update). */
const ledger_cycle_meta *ledger_finality_cycles(const ledger_finality_state *s, size_t *n_out);
/* The attestations seen, ascending by seq (borrowed until the next update). */
const ledger_attestation *ledger_finality_attestations(const ledger_finality_state *s,
                                                       size_t *n_out);
/* Finality of cycle (0: the latest complete cycle). TALLY_ENOTFOUND for a cycle not in the log
 * or not complete; TALLY_ENOMEM. *out released by the caller. */
TALLY_MUST_USE tally_status ledger_finality_get(const ledger_finality_state *s, uint64_t cycle,
                                                ledger_finality_result *out);
/* ledger_finality_new + update to store_size(log) + get + free. */
TALLY_MUST_USE tally_status ledger_finality(store_log *log, uint64_t cycle,
                                            ledger_finality_result *out);

#endif

/* engine internals: the fold's state. Everything here is in the checkpoint (state.c writes it
 * field by field in this order), except lookups rebuilt on load (maps, sorted indexes) and
 * prices of submissions not yet revealed (fetched again from the log on load).
 *
 * | part     | held per                         | pruned                                    |
 * |----------|----------------------------------|-------------------------------------------|
 * | params   | engine                           | –                                         |
 * | chain    | engine (latest CHAIN_PARAMS)     | –                                         |
 * | hotkeys  | hotkey ever seen in a METAGRAPH  | –                                         |
 * | events   | EVENT id (+ latest provider OUTCOME) | –                                     |
 * | markets  | MARKET id (+ latest CLOSE, snapshots) | snapshots older than the rolling window |
 * | subs     | ODDS_SUBMISSION, rows = prices   | deregistered, or beyond the horizon       |
 */
#ifndef TALLY_ENGINE_ENGINE_INT_H
#define TALLY_ENGINE_ENGINE_INT_H

#include "engine/engine.h"

#define ENG_NONE UINT32_MAX
#define ENG_DAY_MS 86400000ll

typedef struct eng_map { /* uint64 key → uint32 value, open addressing */
    uint64_t *keys;
    uint32_t *vals; /* ENG_NONE marks an empty slot */
    size_t cap, n;
} eng_map;

typedef struct eng_hotkey {
    uint8_t hotkey[32];
    uint32_t uid; /* ENG_NONE when not in the latest METAGRAPH */
    int64_t reg_start;
} eng_hotkey;

typedef struct eng_actor {
    uint8_t key[32];
    uint32_t hk;
} eng_actor;

typedef struct eng_hist { /* one EVENT record: what it does to reveals (protocol §2.3) */
    uint64_t seq;
    int64_t time, base; /* base: the start it names, or its own time when it voids */
} eng_hist;

typedef struct eng_event {
    uint64_t id;
    eng_hist *hist;
    size_t n_hist, cap_hist;
    int64_t start_ms;
    uint64_t status;
    uint64_t em_out, em_hist; /* out key and EVENT count when the last cycle scored it */
    uint64_t closes, em_closes; /* CLOSEs of its markets applied; the count at the last cycle */
    bool has_out; /* latest provider OUTCOME */
    bool out_has_result, out_has_scores;
    uint64_t out_seq, out_result, out_home, out_away;
    int64_t out_time;
} eng_event;

typedef struct eng_snap {
    int64_t ts;
    uint64_t seq;
    uint8_t mask; /* bit i: side i of the market present */
    int64_t pi[3];
} eng_snap;

typedef struct eng_market {
    uint64_t id;
    uint32_t ev;
    uint8_t kind, n_sides;
    bool has_line;
    int64_t line;
    uint64_t sides[3]; /* ascending = canonical order */
    bool has_close;
    uint64_t close_seq, em_close; /* em_close: the close key when the last cycle scored it */
    uint8_t close_mask;
    int64_t pi[3], omega[3];
    eng_snap *snaps;
    size_t n_snaps, cap_snaps;
    uint64_t snap_ver; /* snapshots appended so far (memory only: a key of the originality memo) */
} eng_market;

/* A price. The metrics are those of the last cycle that scored the row (memory only: recomputed
 * on load): only the ones each cycle sums, so that a row is one 64-byte cache line and the
 * per-cycle pass over every row reads half the memory. The rest of a SUBMISSION_SCORE is
 * computed when the row is scored and goes straight into the record. */
typedef struct eng_row {
    uint32_t market;
    uint8_t side_idx;
    bool has_close, has_out, hit;
    int64_t p, cle, mes, pss_adj, brier, settled;
    uint64_t odds_n;
} eng_row;

typedef struct eng_sub {
    uint64_t seq;
    int64_t time_ms, t_sub;
    uint32_t ev, hk, n_rows; /* n_rows: the header's `rows` */
    uint32_t n_prices;       /* rows parsed from the body (= n_rows in an accepted log) */
    bool revealed, scored; /* scored: a cycle has scored its rows since it was revealed */
    bool has_body; /* false while the body is withheld (folded from the header alone, protocol
                      §2.3) until its reveal */
    uint8_t salt[16];
    size_t row0; /* its prices: e->rows[row0, row0 + n_prices), when has_body */
} eng_sub;

/* One miner's originality over one event (§5.7: the sums of SOS and LEAD over the event's series
 * and their counts), kept from cycle to cycle in memory only (nothing of it is in the state). A
 * cycle reuses it when the group's candidates are the same submissions (so the same prices at
 * the same times) and every market they price has the same snapshots, all inside the rolling
 * window then and now (so the same truth series); the parameters are those of its cycle (a
 * CONFIG_SET clears every memo). Otherwise the group is computed again. Groups larger than the
 * inline arrays are always computed. */
#define ENG_OMEMO_SEQS 8
#define ENG_OMEMO_MKTS 6
typedef struct eng_omemo {
    uint32_t ev, n_seq, n_mk;
    bool seen; /* met by the current cycle (the others are dropped at its end) */
    uint64_t seq[ENG_OMEMO_SEQS];
    struct {
        uint32_t market;
        size_t n_snaps;
        uint64_t ver;
    } mk[ENG_OMEMO_MKTS];
    fx_wide sos_sum, lead_sum;
    uint64_t n_sos, n_lead;
} eng_omemo;

typedef struct eng_omemo_set { /* one hotkey's memos, sorted by event */
    eng_omemo *v;
    size_t n, cap;
} eng_omemo_set;

struct engine {
    schema_paramset pset;  /* every ledger parameter in effect (GENESIS, then CONFIG_SETs) */
    engine_params params;  /* its scoring fields */
    bool params_dirty; /* a CONFIG_SET since the last cycle: recompute every cached metric */
    uint64_t netuid, max_weight_limit, min_allowed;
    bool has_owner;
    uint8_t owner[32];
    uint64_t next_seq;
    int64_t last_time;

    eng_hotkey *hks;
    size_t n_hks, cap_hks;
    eng_map hk_ix; /* first 8 bytes of a hotkey → its index (a lookup aid, rebuilt on load) */
    uint32_t *uid_hk; /* uid → hotkey index of the latest METAGRAPH (ENG_NONE for empty slots) */
    size_t n_uids;   /* 1 + largest uid */
    eng_actor *actors; /* sorted by key */
    size_t n_actors;
    schema_neuron *mg_parts; /* parts of a METAGRAPH snapshot still being assembled */
    size_t n_mg_parts, cap_mg_parts;
    int64_t mg_time;

    eng_event *events;
    size_t n_events, cap_events;
    eng_map event_ix;
    eng_market *markets;
    size_t n_markets, cap_markets;
    eng_map market_ix;
    eng_sub *subs;
    size_t n_subs, cap_subs;
    /* The rows of every submission with a body, in one array so that the per-cycle pass over
     * them reads memory in sequence instead of following one pointer per submission. Rows are
     * appended as bodies are taken, so they are in the order of subs except for bodies taken
     * late (at their reveal) and the holes pruned ones leave; eng__rows_compact restores the
     * order when those add up to enough to slow the pass. Nothing but speed depends on it. */
    eng_row *rows;
    size_t n_rows_used, cap_rows;
    size_t rows_dead;       /* rows in holes */
    size_t rows_misplaced;  /* rows appended after those of a later submission */
    uint64_t rows_last_seq; /* the latest submission whose rows were appended */

    int64_t *decay_cache; /* w by age / gcd grid; 0 = not computed yet (w > 0 always) */
    size_t n_decay;
    int64_t decay_step, decay_half_life;
    int64_t *tf_cache; /* f(t) + 1 by minutes up to tw_max; 0 = not computed */
    int64_t tf_min, tf_max, tf_floor;
    eng_omemo_set *omemo; /* by hotkey (n_omemo of them; later hotkeys have none yet) */
    size_t n_omemo;
    const engine_rules *rules; /* written into the next checkpoint (engine_attach_rules) */
    engine_fetch_fn fetch; /* bodies withheld at fold time, asked for at their reveal */
    void *fetch_arg;
};

tally_status eng__map_put(eng_map *m, uint64_t key, uint32_t val);
uint32_t eng__map_get(const eng_map *m, uint64_t key);
void eng__map_free(eng_map *m);
uint32_t eng__hotkey_intern(engine *e, const uint8_t hotkey[32]);
uint64_t eng__hk_prefix(const uint8_t hotkey[32]); /* the key of hk_ix */
/* Parses the prices of an ODDS_SUBMISSION body into rows appended to e->rows (markets unknown to
 * the fold are skipped); s must be in e->subs. */
tally_status eng__sub_rows(engine *e, eng_sub *s, const schema_odds *o);
/* The rows of s (valid until rows are next added or compacted). */
static inline eng_row *eng__rows(const engine *e, const eng_sub *s)
{
    return e->rows + s->row0;
}
/* Marks the rows of s as a hole (s is about to be pruned, or its rows replaced). */
void eng__rows_drop(engine *e, eng_sub *s);
/* Puts the rows back in the order of e->subs with no holes, when holes and misplaced rows are
 * more than an eighth of them. TALLY_ENOMEM leaves them as they were. */
tally_status eng__rows_compact(engine *e);
/* Makes the latest assembled METAGRAPH effective (hotkeys, uids, actor bindings). */
tally_status eng__metagraph_commit(engine *e, int64_t t);
/* The prices of submission s from its body, read through fetch (cycle.c): at its reveal, or
 * when a checkpoint is loaded. Returns what fetch returns, TALLY_EFORMAT for a body that is
 * not that submission's, TALLY_EINVAL without fetch. */
tally_status eng__take_body(engine *e, eng_sub *s, engine_fetch_fn fetch, void *arg);
/* Computes the metrics of every row of a revealed submission from the current closes and
 * results, emitting nothing (cycle.c; used on load). */
void eng__rescore(engine *e, eng_sub *s);
/* §5.7 in two steps (metrics.c): bucket a series in place (sorts it; returns the bucket count),
 * then compare two bucketed series. */
size_t eng__bucketise(const engine_params *p, engine_point *s, size_t n);
void eng__series_bucketed(const engine_params *p, const engine_point *truth, size_t nt,
                          const engine_point *miner, size_t nm, engine_pair *out);
/* §5.5 from per-bin counts, hits and Σp over k pairs; §5.6 from k, Σp, Σp² (metrics.c). */
int64_t eng__calibration_bins(const engine_params *p, const uint64_t *cnt, const uint64_t *hits,
                              const uint64_t *psum, uint64_t k, int64_t *a_out, int64_t *b_out);
int64_t eng__sharpness_sums(const engine_params *p, uint64_t k, fx_wide s, fx_wide s2);
/* The rules' section of a checkpoint (rules_state.c). */
void eng__rules_write(const engine_rules *r, schema_mpw *w);
/* Canonical state bytes (state.c). */
tally_status eng__state_write(const engine *e, const schema_scoring_cycle *c, uint8_t **out,
                              size_t *n_out);
void *eng__grow(void *p, size_t *cap, size_t need, size_t elem);

/* ---- one cycle in progress (cycle.c; the per-miner half in miners.c) ---- */
#define ENG_MIN_MS 60000ll
enum { A_CLE, A_MES, A_PSS, A_BRIER, A_FQ }; /* MINER_SCORE acc */
enum { S_ES_MEAN, S_ES_STD, S_ES_ADJ, S_MES_MEAN, S_MES_SHRUNK, S_PSS_MEAN, S_PSS_SHRUNK,
       S_BRIER_MEAN, S_FQ_RAW, S_FQ_SHRUNK, S_CAL, S_SHARP, S_SOS, S_LEAD }; /* stats */
enum { N_FQ, N_CAL, N_PSS, N_ES, N_MES, N_SOS, N_LEAD }; /* norms */

struct engine_block_mem {
    uint64_t *uids, *weights;
};

typedef struct truth_series { /* a market side's snapshots in W_r, bucketed (§5.7) */
    bool done;
    engine_point *pts;
    size_t n;
} truth_series;

typedef struct eng_cycle {
    engine *e;
    const schema_scoring_cycle *c;
    int64_t as_of, wr_lo, wc_lo;
    truth_series *truth; /* 3 per market, built on first use in this cycle */
    schema_body *bodies;
    size_t n_bodies, cap_bodies;
} eng_cycle;

/* Appends a zeroed body of `type` to the cycle's block; NULL when out of memory. */
schema_body *eng__push_body(eng_cycle *y, unsigned type);
/* MINER_SCOREs and WEIGHTS of the cycle into its block (miners.c). */
tally_status eng__miners(eng_cycle *y, engine_block *blk);
/* Forgets every originality memo (miners.c): on a change of parameters, and when freeing. */
void eng__omemo_clear(engine *e);

#endif

/* The record catalogue (spec/protocol.md §2.5) as descriptor tables, with the rules of each
 * type that go beyond its fields' shapes. Stateful rules (ids that must exist, nonces, caps)
 * belong to the writer and the auditor, not here. */
#include <string.h>

#include "schema/schema_int.h"

#define ID_MAX SCHEMA_ID_MAX
#define U16 0xffffull
#define U32 0xffffffffull
#define U64 UINT64_MAX

#define FU(T, m, l, h) {.name = #m, .kind = SF_UINT, .off = SF_OFF(T, m), .lo = (l), .hi = (h)}
#define FUN(T, m, l, h)                                                                       \
    {.name = #m, .kind = SF_UINT, .flags = SF_NULL, .off = SF_OFF(T, m),                      \
     .aux = SF_OFF(T, has_##m), .lo = (l), .hi = (h)}
#define FE(T, m, l, h, nm)                                                                    \
    {.name = #m, .kind = SF_UINT, .off = SF_OFF(T, m), .lo = (l), .hi = (h), .names = (nm),   \
     .n_names = (uint8_t)(sizeof(nm) / sizeof(nm[0]))}
#define FEN(T, m, l, h, nm)                                                                   \
    {.name = #m, .kind = SF_UINT, .flags = SF_NULL, .off = SF_OFF(T, m),                      \
     .aux = SF_OFF(T, has_##m), .lo = (l), .hi = (h), .names = (nm),                          \
     .n_names = (uint8_t)(sizeof(nm) / sizeof(nm[0]))}
#define FI(T, m) {.name = #m, .kind = SF_INT, .off = SF_OFF(T, m)}
#define FIN(T, m)                                                                             \
    {.name = #m, .kind = SF_INT, .flags = SF_NULL, .off = SF_OFF(T, m), .aux = SF_OFF(T, has_##m)}
#define FB(T, m) {.name = #m, .kind = SF_BOOL, .off = SF_OFF(T, m)}
#define FBIN(T, m, len, fl) {.name = #m, .kind = SF_BIN, .flags = (fl), .off = SF_OFF(T, m), .lo = (len)}
#define FBINN(T, m, len, fl)                                                                  \
    {.name = #m, .kind = SF_BIN, .flags = SF_NULL | (fl), .off = SF_OFF(T, m),                \
     .aux = SF_OFF(T, has_##m), .lo = (len)}
#define FS(T, m, cls, h) {.name = #m, .kind = SF_STR, .sclass = (cls), .off = SF_OFF(T, m), .lo = 1, .hi = (h)}
#define FSN(T, m, cls, h)                                                                     \
    {.name = #m, .kind = SF_STR, .flags = SF_NULL, .sclass = (cls), .off = SF_OFF(T, m),      \
     .aux = SF_OFF(T, has_##m), .lo = 1, .hi = (h)}
#define FA(T, m, l, h, fl, sd)                                                                \
    {.name = #m, .kind = SF_ARRAY, .flags = (fl), .off = SF_OFF(T, m), .aux = SF_OFF(T, n_##m), \
     .lo = (l), .hi = (h), .sub = &(sd)}
/* A fixed-length array whose elements have names (JSON members), one per element. */
#define FXM(T, m, sd, mem)                                                                    \
    {.name = #m, .kind = SF_FIXED, .off = SF_OFF(T, m), .lo = sizeof(mem) / sizeof(mem[0]),   \
     .hi = sizeof(mem) / sizeof(mem[0]), .sub = &(sd), .members = (mem)}
#define FT(T, m, sd) {.name = #m, .kind = SF_TUPLE, .off = SF_OFF(T, m), .sub = &(sd)}
#define FTN(T, m, sd)                                                                         \
    {.name = #m, .kind = SF_TUPLE, .flags = SF_NULL, .off = SF_OFF(T, m),                     \
     .aux = SF_OFF(T, has_##m), .sub = &(sd)}
#define DESC(nm, T, fields, chk)                                                              \
    {.name = nm, .size = sizeof(T), .n = (uint8_t)(sizeof(fields) / sizeof(fields[0])),       \
     .f = fields, .check = (chk)}

/* ---- enumeration names (index = wire value; "" = unused code) ---- */
const char *const schema__side_names[6] = {"", "home", "away", "draw", "over", "under"};
const char *const schema__kind_names[5] = {"", "moneyline", "spread", "total", "draw_no_bet"};
const char *const schema__tier_names[5] = {"", "public", "gated", "embargoed", "private"};
static const char *const status_names[6] = {"", "scheduled", "in_play", "finished", "postponed",
                                            "void"};
static const char *const result_names[8] = {"", "home", "away", "draw", "", "", "", "void"};
static const char *const source_names[3] = {"", "provider", "miner"};
static const char *const reason_names[9] = {"",
                                            "provider_feed_error",
                                            "provider_outage",
                                            "scoring_bug",
                                            "storage_corruption",
                                            "format_migration",
                                            "config_change",
                                            "manual_correction",
                                            "scheduled_recalibration"};
static const char *const severity_names[4] = {"", "correction", "bugfix", "recovery"};
static const char *const verdict_names[4] = {"", "pass", "fail", "paused"};
static const char *const att_reason_names[8] = {"none",
                                                "derived_mismatch",
                                                "state_mismatch",
                                                "ingest_rule_violation",
                                                "signature_invalid",
                                                "split_view",
                                                "recompute_rate",
                                                "other"};

/* ---- shared rules ---- */

/* A valid side set for a market kind, given ascending: moneyline {1,2} or {1,2,3}; spread and
 * draw_no_bet {1,2}; total {4,5}. */
static bool sides_valid(uint64_t kind, const uint64_t *sides, size_t n)
{
    if (kind == SCHEMA_TOTAL) {
        return n == 2 && sides[0] == SCHEMA_OVER && sides[1] == SCHEMA_UNDER;
    }
    if (n < 2 || sides[0] != SCHEMA_HOME || sides[1] != SCHEMA_AWAY) {
        return false;
    }
    return n == 2 || (kind == SCHEMA_MONEYLINE && n == 3 && sides[2] == SCHEMA_DRAW);
}

/* ---- sub-structures ---- */

static const schema__field param_f[] = {
    {.name = "key", .kind = SF_STR, .sclass = SC_CODE, .off = SF_OFF(schema_param, key), .lo = 1,
     .hi = 64},
    {.name = "value", .kind = SF_PVALUE, .off = SF_OFF(schema_param, value)},
};
static const schema__desc param_d = DESC("param", schema_param, param_f, NULL);

static const schema__field chain_f[] = {
    FU(schema_chain_params, netuid, 0, U16),
    FU(schema_chain_params, block, 0, U64),
    FU(schema_chain_params, tempo, 0, U16),
    FU(schema_chain_params, max_weight_limit, 0, U16),
    FU(schema_chain_params, min_allowed_weights, 0, U16),
    FU(schema_chain_params, max_allowed_uids, 0, U16),
    FBINN(schema_chain_params, owner_hotkey, 32, SF_SS58),
};
static const schema__desc chain_d = DESC("CHAIN_PARAMS", schema_chain_params, chain_f, NULL);

static const schema__field neuron_f[] = {
    FU(schema_neuron, uid, 0, U16),
    FBIN(schema_neuron, hotkey, 32, SF_SS58),
    {.name = "stake_rao", .kind = SF_UINT, .flags = SF_DECSTR,
     .off = SF_OFF(schema_neuron, stake_rao), .lo = 0, .hi = U64},
    FB(schema_neuron, validator_permit),
    FB(schema_neuron, active),
    FBINN(schema_neuron, tally_key, 32, 0),
};
static const schema__desc neuron_d = DESC("neuron", schema_neuron, neuron_f, NULL);

static const schema__field side_f[] = {
    {.name = "side", .kind = SF_UINT, .lo = 1, .hi = 5, .names = schema__side_names, .n_names = 6},
};
static const schema__desc side_d = {.name = "side", .size = sizeof(uint64_t), .scalar = true,
                                    .n = 1, .f = side_f};

static const schema__field id_f[] = {{.name = "id", .kind = SF_UINT, .lo = 1, .hi = ID_MAX}};
static const schema__desc id_d = {.name = "id", .size = sizeof(uint64_t), .scalar = true, .n = 1,
                                  .f = id_f};

static const schema__field qprice_f[] = {
    FE(schema_qprice, side, 1, 5, schema__side_names),
    FU(schema_qprice, odds_n, 0, U64),
};
static const schema__desc qprice_d = DESC("qprice", schema_qprice, qprice_f, NULL);

/* π is a multiple of 10 nanos in [0.001, 0.999]; Ω = round_half_even(10^13 / π) · 10^5. */
static tally_status cprice_check(const void *v, schema_field_error *err)
{
    const schema_cprice *c = v;
    uint64_t q, rem;

    if (c->prob_n % 10 != 0 || c->prob_n < 1000000u || c->prob_n > 999000000u) {
        return schema__bad(err, SCHEMA_BAD_RANGE, "prob_n",
                           "%llu is not a multiple of 10 in 1000000..999000000",
                           (unsigned long long)c->prob_n);
    }
    q = 10000000000000ull / c->prob_n;
    rem = 10000000000000ull % c->prob_n;
    if (2 * rem > c->prob_n || (2 * rem == c->prob_n && (q & 1))) {
        q++;
    }
    if (c->odds_n != q * 100000u) {
        return schema__bad(err, SCHEMA_BAD_RULE, "odds_n",
                           "%llu is not round_half_even(10^13 / prob_n) * 10^5 = %llu",
                           (unsigned long long)c->odds_n, (unsigned long long)(q * 100000u));
    }
    return TALLY_OK;
}
static const schema__field cprice_f[] = {
    FE(schema_cprice, side, 1, 5, schema__side_names),
    FU(schema_cprice, prob_n, 0, U64),
    FU(schema_cprice, odds_n, 0, U64),
    FU(schema_cprice, books, 1, 1000),
    FUN(schema_cprice, std_dev_n, 0, U64),
};
static const schema__desc cprice_d = DESC("cprice", schema_cprice, cprice_f, cprice_check);

static const schema__field price_f[] = {
    FE(schema_price, side, 1, 5, schema__side_names),
    FU(schema_price, odds_n, 0, U64),
    FU(schema_price, imp_prob_n, 0, U64),
};
static const schema__desc price_d = DESC("price", schema_price, price_f, NULL);

static tally_status entry_check(const void *v, schema_field_error *err)
{
    const schema_entry *e = v;
    uint64_t sides[3];

    for (size_t i = 0; i < e->n_prices; i++) {
        sides[i] = e->prices[i].side;
    }
    if (!sides_valid(e->kind, sides, e->n_prices)) {
        return schema__bad(err, SCHEMA_BAD_SIDES, "prices", "the sides are not a valid set for %s",
                           schema__kind_names[e->kind]);
    }
    return TALLY_OK;
}
static const schema__field entry_f[] = {
    FU(schema_entry, market_id, 1, ID_MAX),
    FE(schema_entry, kind, 1, 4, schema__kind_names),
    FUN(schema_entry, priced_at_ms, 0, ID_MAX),
    FA(schema_entry, prices, 2, 3, SF_ASC, price_d),
};
static const schema__desc entry_d = DESC("entry", schema_entry, entry_f, entry_check);

static const schema__field closem_f[] = {
    FI(schema_close_metrics, clv_odds),
    FI(schema_close_metrics, clv_prob),
    FI(schema_close_metrics, cle),
    FI(schema_close_metrics, mes),
    FU(schema_close_metrics, minutes_to_close, 0, U32),
};
static const schema__desc closem_d = DESC("close", schema_close_metrics, closem_f, NULL);

static const schema__field outm_f[] = {
    FI(schema_outcome_metrics, brier),   FI(schema_outcome_metrics, logloss),
    FI(schema_outcome_metrics, pss),     FI(schema_outcome_metrics, time_factor),
    FI(schema_outcome_metrics, pss_adj), FB(schema_outcome_metrics, hit),
};
static const schema__desc outm_d = DESC("outcome", schema_outcome_metrics, outm_f, NULL);

static const schema__field acc_f[] = {FI(schema_acc, ws), FI(schema_acc, wt)};
static const schema__desc acc_d = DESC("acc", schema_acc, acc_f, NULL);

static const schema__field optn_f[] = {
    {.name = "v", .kind = SF_INT, .flags = SF_NULL, .off = SF_OFF(schema_opt_n, v),
     .aux = SF_OFF(schema_opt_n, has)},
};
static const schema__desc optn_d = {.name = "stat", .size = sizeof(schema_opt_n), .scalar = true,
                                    .n = 1, .f = optn_f};

static const schema__field n_f[] = {{.name = "n", .kind = SF_INT}};
static const schema__desc n_d = {.name = "n", .size = sizeof(int64_t), .scalar = true, .n = 1,
                                 .f = n_f};

static const schema__field uid_f[] = {{.name = "uid", .kind = SF_UINT, .lo = 0, .hi = U16}};
static const schema__desc uid_d = {.name = "uid", .size = sizeof(uint64_t), .scalar = true,
                                   .n = 1, .f = uid_f};
static const schema__field w16_f[] = {{.name = "weight", .kind = SF_UINT, .lo = 1, .hi = U16}};
static const schema__desc w16_d = {.name = "weight", .size = sizeof(uint64_t), .scalar = true,
                                   .n = 1, .f = w16_f};

/* ---- bodies ---- */

static const schema__field genesis_f[] = {
    FS(schema_genesis, origin, SC_ORIGIN, SCHEMA_ORIGIN_MAX),
    FU(schema_genesis, netuid, 0, U16),
    FBIN(schema_genesis, node_hotkey, 32, SF_SS58),
    FU(schema_genesis, created_ms, 0, ID_MAX),
    FS(schema_genesis, code_version, SC_ASCII, 64),
    FA(schema_genesis, params, 0, 256, SF_ASC, param_d),
    FT(schema_genesis, chain, chain_d),
};
static tally_status genesis_check(const void *v, schema_field_error *err)
{
    const schema_genesis *g = v;

    if (g->chain.netuid != g->netuid) {
        return schema__bad(err, SCHEMA_BAD_RULE, "chain.netuid", "%llu is not netuid %llu",
                           (unsigned long long)g->chain.netuid, (unsigned long long)g->netuid);
    }
    return TALLY_OK;
}

static const schema__field config_f[] = {
    FA(schema_config_set, params, 1, 256, SF_ASC, param_d),
    FSN(schema_config_set, reason, SC_TEXT, 256),
};

static tally_status metagraph_check(const void *v, schema_field_error *err)
{
    const schema_metagraph *m = v;

    if (m->part >= m->parts) {
        return schema__bad(err, SCHEMA_BAD_RANGE, "part", "%llu is not below parts %llu",
                           (unsigned long long)m->part, (unsigned long long)m->parts);
    }
    return TALLY_OK;
}
static const schema__field metagraph_f[] = {
    FU(schema_metagraph, netuid, 0, U16),
    FU(schema_metagraph, block, 0, U64),
    FU(schema_metagraph, part, 0, 15),
    FU(schema_metagraph, parts, 1, 16),
    FA(schema_metagraph, neurons, 0, 256, SF_ASC, neuron_d),
};

static const schema__field event_f[] = {
    FU(schema_event, event_id, 1, ID_MAX),
    FS(schema_event, sport, SC_CODE, 16),
    FS(schema_event, league, SC_CODE, 16),
    FS(schema_event, home_team, SC_TEXT, 64),
    FS(schema_event, away_team, SC_TEXT, 64),
    FSN(schema_event, venue, SC_TEXT, 128),
    FU(schema_event, start_ms, 0, ID_MAX),
    FE(schema_event, status, 1, 5, status_names),
    FSN(schema_event, ext_id, SC_ASCII, 64),
};

/* line_n is nil exactly for moneyline and draw_no_bet; sides a valid set for the kind. */
static tally_status market_check(const void *v, schema_field_error *err)
{
    const schema_market *m = v;
    bool needs_line = m->kind == SCHEMA_SPREAD || m->kind == SCHEMA_TOTAL;

    if (m->has_line_n != needs_line) {
        return schema__bad(err, SCHEMA_BAD_RULE, "line_n", needs_line ? "required for %s"
                                                                      : "must be null for %s",
                           schema__kind_names[m->kind]);
    }
    if (!sides_valid(m->kind, m->sides, m->n_sides)) {
        return schema__bad(err, SCHEMA_BAD_SIDES, "sides", "not a valid set for %s",
                           schema__kind_names[m->kind]);
    }
    return TALLY_OK;
}
static const schema__field market_f[] = {
    FU(schema_market, market_id, 1, ID_MAX),
    FU(schema_market, event_id, 1, ID_MAX),
    FE(schema_market, kind, 1, 4, schema__kind_names),
    FIN(schema_market, line_n),
    FA(schema_market, sides, 2, 3, SF_ASC, side_d),
};

static const schema__field quote_f[] = {
    FU(schema_provider_quote, market_id, 1, ID_MAX),
    FS(schema_provider_quote, provider, SC_CODE, 16),
    FS(schema_provider_quote, book, SC_CODE, 32),
    FU(schema_provider_quote, ts_ms, 0, ID_MAX),
    FA(schema_provider_quote, prices, 1, 3, SF_ASC, qprice_d),
    FBIN(schema_provider_quote, salt, 16, 0),
};

static const schema__field snapshot_f[] = {
    FU(schema_snapshot, market_id, 1, ID_MAX),
    FU(schema_snapshot, ts_ms, 0, ID_MAX),
    FA(schema_snapshot, probs, 1, 3, SF_ASC, cprice_d),
    FBIN(schema_snapshot, salt, 16, 0),
};
/* CLOSE has the snapshot's layout; its time is called close_ms in JSON. */
static const schema__field close_f[] = {
    FU(schema_snapshot, market_id, 1, ID_MAX),
    {.name = "close_ms", .kind = SF_UINT, .off = SF_OFF(schema_snapshot, ts_ms), .lo = 0,
     .hi = ID_MAX},
    FA(schema_snapshot, probs, 1, 3, SF_ASC, cprice_d),
    FBIN(schema_snapshot, salt, 16, 0),
};

static const schema__field odds_f[] = {
    FU(schema_odds, nonce, 1, ID_MAX),
    FU(schema_odds, idx, 0, 199),
    FU(schema_odds, event_id, 1, ID_MAX),
    FA(schema_odds, markets, 1, 64, SF_ASC, entry_d),
    FBIN(schema_odds, salt, 16, 0),
};

/* Source 1 (provider): nonce 0, idx 0, no salt. Source 2 (miner): nonce ≥ 1 and a salt. Either
 * a result or both scores; scores and a home/away/draw result agree (spec §5.4). */
static tally_status outcome_check(const void *v, schema_field_error *err)
{
    const schema_outcome *o = v;

    if (o->source == 1 && (o->nonce != 0 || o->idx != 0 || o->has_salt)) {
        return schema__bad(err, SCHEMA_BAD_RULE, o->nonce != 0 ? "nonce" : o->idx ? "idx" : "salt",
                           "a provider outcome has nonce 0, idx 0 and no salt");
    }
    if (o->source == 2 && (o->nonce == 0 || !o->has_salt)) {
        return schema__bad(err, SCHEMA_BAD_RULE, o->nonce == 0 ? "nonce" : "salt",
                           "a miner outcome has a nonce of 1 or more and a salt");
    }
    if (o->has_result && result_names[o->result][0] == '\0') {
        return schema__bad(err, SCHEMA_BAD_RANGE, "result", "%llu is not a result code",
                           (unsigned long long)o->result);
    }
    if (o->has_score_home != o->has_score_away || (!o->has_result && !o->has_score_home)) {
        return schema__bad(err, SCHEMA_BAD_RULE, o->has_score_home ? "score_away" : "score_home",
                           "an outcome has a result or both scores");
    }
    if (o->has_result && o->has_score_home && o->result != SCHEMA_R_VOID) {
        uint64_t want = o->score_home > o->score_away   ? SCHEMA_R_HOME
                        : o->score_home < o->score_away ? SCHEMA_R_AWAY
                                                        : SCHEMA_R_DRAW;
        if (o->result != want) {
            return schema__bad(err, SCHEMA_BAD_RULE, "result", "%s disagrees with the score %llu-%llu",
                               result_names[o->result], (unsigned long long)o->score_home,
                               (unsigned long long)o->score_away);
        }
    }
    return TALLY_OK;
}
static const schema__field outcome_f[] = {
    FE(schema_outcome, source, 1, 2, source_names),
    FU(schema_outcome, nonce, 0, ID_MAX),
    FU(schema_outcome, idx, 0, 199),
    FU(schema_outcome, event_id, 1, ID_MAX),
    FEN(schema_outcome, result, 1, 7, result_names),
    FUN(schema_outcome, score_home, 0, 9999),
    FUN(schema_outcome, score_away, 0, 9999),
    FBINN(schema_outcome, salt, 16, 0),
};

static const schema__field recompute_f[] = {
    FU(schema_recompute, epoch, 0, U32),
    FE(schema_recompute, reason, 1, 8, reason_names),
    FS(schema_recompute, detail, SC_TEXT, 1024),
    FA(schema_recompute, affected_events, 0, 1024, SF_ASC, id_d),
    FE(schema_recompute, severity, 1, 3, severity_names),
    FS(schema_recompute, code_version, SC_ASCII, 64),
};

static const schema__field attestation_f[] = {
    FU(schema_attestation, nonce, 1, ID_MAX),
    FU(schema_attestation, cycle, 0, U32),
    FU(schema_attestation, tree_size, 0, U64),
    FBIN(schema_attestation, root, 32, 0),
    FBIN(schema_attestation, state_hash, 32, 0),
    FBIN(schema_attestation, weights_hash, 32, 0),
    FE(schema_attestation, verdict, 1, 3, verdict_names),
    FE(schema_attestation, reason, 0, 7, att_reason_names),
    FUN(schema_attestation, divergent_seq, 0, U64),
};

static const schema__field cycle_f[] = {
    FU(schema_scoring_cycle, cycle, 0, U32),
    FU(schema_scoring_cycle, epoch, 0, U32),
    FU(schema_scoring_cycle, as_of_ms, 0, ID_MAX),
    FU(schema_scoring_cycle, covers_to, 0, U64),
    FS(schema_scoring_cycle, code_version, SC_ASCII, 64),
};
static tally_status cycle_check(const void *v, schema_field_error *err)
{
    const schema_scoring_cycle *c = v;

    if (c->as_of_ms % 86400000u != 0) {
        return schema__bad(err, SCHEMA_BAD_RULE, "as_of_ms", "%llu is not a UTC midnight",
                           (unsigned long long)c->as_of_ms);
    }
    return TALLY_OK;
}

static const schema__field subscore_f[] = {
    FU(schema_submission_score, cycle, 0, U32),
    FU(schema_submission_score, sub_seq, 0, U64),
    FU(schema_submission_score, uid, 0, U16),
    FU(schema_submission_score, market_id, 1, ID_MAX),
    FE(schema_submission_score, side, 1, 5, schema__side_names),
    FU(schema_submission_score, submitted_at_ms, 0, ID_MAX),
    FTN(schema_submission_score, close, closem_d),
    FTN(schema_submission_score, outcome, outm_d),
    FBIN(schema_submission_score, salt, 16, 0),
};

/* Element names of MINER_SCORE's fixed arrays (protocol §2.5), in wire order: the JSON view
 * names each element by them. */
static const char *const acc_members[] = {"cle", "mes", "pss_adj", "brier", "fq"};
static const char *const stat_members[] = {"es_mean",    "es_std",   "es_adj",     "mes_mean",
                                           "mes_shrunk", "pss_mean", "pss_shrunk", "brier_mean",
                                           "fq_raw",     "fq_shrunk", "cal",       "sharp",
                                           "sos",        "lead"};
static const char *const norm_members[] = {"fq", "cal", "pss", "es", "mes", "sos", "lead"};
static const char *const dim_members[] = {"forecast", "skill", "econ", "info"};
#define N_OF(a) (sizeof(a) / sizeof(a[0]))
#define N_IN(T, m) (sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0]))
_Static_assert(N_OF(acc_members) == N_IN(schema_miner_score, acc), "one name per acc element");
_Static_assert(N_OF(stat_members) == N_IN(schema_miner_score, stats), "one name per stat");
_Static_assert(N_OF(norm_members) == N_IN(schema_miner_score, norms), "one name per norm");
_Static_assert(N_OF(dim_members) == N_IN(schema_miner_score, dims), "one name per dimension");

/* Every stat but sos (12) and lead (13) is present. */
static tally_status miner_score_check(const void *v, schema_field_error *err)
{
    const schema_miner_score *m = v;

    for (size_t i = 0; i < 12; i++) {
        if (!m->stats[i].has) {
            schema__bad(err, SCHEMA_BAD_RULE, stat_members[i], "only sos and lead may be null");
            schema__path_push(err, "stats", false, 0);
            return TALLY_EFORMAT;
        }
    }
    return TALLY_OK;
}
static const schema__field minerscore_f[] = {
    FU(schema_miner_score, cycle, 0, U32),
    FU(schema_miner_score, uid, 0, U16),
    FBIN(schema_miner_score, hotkey, 32, SF_SS58),
    FU(schema_miner_score, as_of_ms, 0, ID_MAX),
    FU(schema_miner_score, n_rows, 0, U32),
    FI(schema_miner_score, n_eff),
    FXM(schema_miner_score, acc, acc_d, acc_members),
    FXM(schema_miner_score, stats, optn_d, stat_members),
    FXM(schema_miner_score, norms, n_d, norm_members),
    FXM(schema_miner_score, dims, n_d, dim_members),
    FI(schema_miner_score, skill),
};

/* As many weights as uids, and the largest is 65535 (scoring §7.5). */
static tally_status weights_check(const void *v, schema_field_error *err)
{
    const schema_weights *w = v;
    uint64_t max = 0;

    if (w->n_uids != w->n_weights) {
        return schema__bad(err, SCHEMA_BAD_COUNT, "weights", "%zu weights for %zu uids",
                           w->n_weights, w->n_uids);
    }
    for (size_t i = 0; i < w->n_weights; i++) {
        max = w->weights[i] > max ? w->weights[i] : max;
    }
    if (max != U16) {
        return schema__bad(err, SCHEMA_BAD_RULE, "weights", "the largest is %llu, not 65535",
                           (unsigned long long)max);
    }
    return TALLY_OK;
}
static const schema__field weights_f[] = {
    FU(schema_weights, cycle, 0, U32),
    FU(schema_weights, netuid, 0, U16),
    FA(schema_weights, uids, 1, 4096, SF_ASC, uid_d),
    FA(schema_weights, weights, 1, 4096, 0, w16_d),
    FBIN(schema_weights, inputs_hash, 32, 0),
};

static const schema__field statehash_f[] = {
    FU(schema_state_hash, cycle, 0, U32),
    FBIN(schema_state_hash, state_hash, 32, 0),
    FU(schema_state_hash, state_len, 0, U64),
};

static const schema__desc body_descs[] = {
    DESC("GENESIS", schema_genesis, genesis_f, genesis_check),
    DESC("CONFIG_SET", schema_config_set, config_f, NULL),
    DESC("CHAIN_PARAMS", schema_chain_params, chain_f, NULL),
    DESC("METAGRAPH", schema_metagraph, metagraph_f, metagraph_check),
    DESC("EVENT", schema_event, event_f, NULL),
    DESC("MARKET", schema_market, market_f, market_check),
    DESC("PROVIDER_QUOTE", schema_provider_quote, quote_f, NULL),
    DESC("MARKET_SNAPSHOT", schema_snapshot, snapshot_f, NULL),
    DESC("CLOSE", schema_snapshot, close_f, NULL),
    DESC("ODDS_SUBMISSION", schema_odds, odds_f, NULL),
    DESC("OUTCOME", schema_outcome, outcome_f, outcome_check),
    DESC("RECOMPUTE", schema_recompute, recompute_f, NULL),
    DESC("ATTESTATION", schema_attestation, attestation_f, NULL),
    DESC("SCORING_CYCLE", schema_scoring_cycle, cycle_f, cycle_check),
    DESC("SUBMISSION_SCORE", schema_submission_score, subscore_f, NULL),
    DESC("MINER_SCORE", schema_miner_score, minerscore_f, miner_score_check),
    DESC("WEIGHTS", schema_weights, weights_f, weights_check),
    DESC("STATE_HASH", schema_state_hash, statehash_f, NULL),
};

const schema__desc *schema__body_desc(unsigned type)
{
    if (type >= 1 && type <= 14) {
        return &body_descs[type - 1];
    }
    if (type >= 32 && type <= 35) {
        return &body_descs[14 + type - 32];
    }
    return NULL;
}

const char *const *schema_field_members(unsigned type, const char *field, size_t *n_out)
{
    const schema__desc *d = schema__body_desc(type);

    *n_out = 0;
    for (size_t i = 0; d != NULL && i < d->n; i++) {
        if (d->f[i].members != NULL && strcmp(d->f[i].name, field) == 0) {
            *n_out = (size_t)d->f[i].lo;
            return d->f[i].members;
        }
    }
    return NULL;
}

bool schema_type_known(unsigned type)
{
    return schema__body_desc(type) != NULL;
}

const char *schema_type_name(unsigned type)
{
    const schema__desc *d = schema__body_desc(type);
    return d ? d->name : NULL;
}

unsigned schema_type_from_name(const char *name)
{
    for (unsigned t = 1; t <= 35; t++) {
        const schema__desc *d = schema__body_desc(t);
        if (d != NULL && strcmp(d->name, name) == 0) {
            return t;
        }
    }
    return 0;
}

bool schema_type_miner(unsigned type)
{
    return type == SCHEMA_ODDS_SUBMISSION || type == SCHEMA_OUTCOME;
}

bool schema_type_derived(unsigned type)
{
    return type >= SCHEMA_SUBMISSION_SCORE && type <= SCHEMA_STATE_HASH;
}

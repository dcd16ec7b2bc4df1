/* tally weights and tally explain: read a cycle's derived records back from the log, with the
 * parameters the engine computed that cycle with (from its checkpoint state). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* The parameters explain shows, by ledger key (protocol §2.6): those of the dimensions (scoring
 * §6.3), the skill score (§6.4), decay, window and shrinkage (§5). Every one is an int64 of
 * engine_params, a real in nanos where `real`. */
enum {
    P_W_FORECAST, P_W_SKILL, P_W_ECON, P_W_INFO, P_W_FQ, P_W_CAL, P_W_EDGE, P_W_MES, P_W_SOS,
    P_W_LEAD, P_HALF_LIFE, P_ROLLING, P_SHRINK_K, P_COUNT
};
#define PF(f) offsetof(engine_params, f)
static const struct {
    const char *key;
    size_t off;
    bool real;
} used_params[P_COUNT] = {
    [P_W_FORECAST] = {"skill_score_weights.w_outcome_accuracy", PF(w_forecast), true},
    [P_W_SKILL] = {"skill_score_weights.w_outcome_relative", PF(w_skill), true},
    [P_W_ECON] = {"skill_score_weights.w_odds_edge", PF(w_econ), true},
    [P_W_INFO] = {"skill_score_weights.w_info_adv", PF(w_info), true},
    [P_W_FQ] = {"dimension_weights.w_fq", PF(w_fq), true},
    [P_W_CAL] = {"dimension_weights.w_cal", PF(w_cal), true},
    [P_W_EDGE] = {"dimension_weights.w_edge", PF(w_edge), true},
    [P_W_MES] = {"dimension_weights.w_mes", PF(w_mes), true},
    [P_W_SOS] = {"dimension_weights.w_sos", PF(w_sos), true},
    [P_W_LEAD] = {"dimension_weights.w_lead", PF(w_lead), true},
    [P_HALF_LIFE] = {"decay.half_life_days", PF(half_life_days), false},
    [P_ROLLING] = {"windows.rolling_window_days", PF(rolling_days), false},
    [P_SHRINK_K] = {"shrinkage.k", PF(shrink_k), true},
};
#undef PF

static int64_t param(const engine_params *p, int k)
{
    int64_t v;
    memcpy(&v, (const char *)p + used_params[k].off, sizeof(v));
    return v;
}

/* SkillScore = Σ weight · dimension (scoring §6.4), and each dimension = Σ weight · normalised
 * component (§6.3; SkillDim is pss_norm alone, weight 1), each sum rounded once. Indices are
 * MINER_SCORE's dims and norms (schema_field_members). */
enum { N_FQ = 0, N_CAL = 1, N_PSS = 2, N_ES = 3, N_MES = 4, N_SOS = 5, N_LEAD = 6 };
static const int dim_weight[4] = {P_W_FORECAST, P_W_SKILL, P_W_ECON, P_W_INFO};
static const struct {
    int n, norm[2], w[2]; /* w: a used_params index, or -1 for weight 1 */
} dim_terms[4] = {
    {2, {N_FQ, N_CAL}, {P_W_FQ, P_W_CAL}},
    {1, {N_PSS, 0}, {-1, 0}},
    {2, {N_ES, N_MES}, {P_W_EDGE, P_W_MES}},
    {2, {N_SOS, N_LEAD}, {P_W_SOS, P_W_LEAD}},
};

/* MINER_SCORE's element names, as its JSON view has them. */
typedef struct names {
    const char *const *acc, *const *stats, *const *norms, *const *dims;
} names;

static names ms_names(void)
{
    names n;
    size_t k;

    n.acc = schema_field_members(SCHEMA_MINER_SCORE, "acc", &k);
    TALLY_ASSERT(n.acc != NULL && k == 5);
    n.stats = schema_field_members(SCHEMA_MINER_SCORE, "stats", &k);
    TALLY_ASSERT(n.stats != NULL && k == 14);
    n.norms = schema_field_members(SCHEMA_MINER_SCORE, "norms", &k);
    TALLY_ASSERT(n.norms != NULL && k == 7);
    n.dims = schema_field_members(SCHEMA_MINER_SCORE, "dims", &k);
    TALLY_ASSERT(n.dims != NULL && k == 4);
    return n;
}

typedef struct scan {
    uint64_t want, uid; /* want: cycle (0 = latest); uid: explain's miner, or UINT64_MAX */
    uint64_t cycle, as_of, covers_to;
    bool has_state_hash; /* the cycle's STATE_HASH, naming its checkpoint state */
    uint8_t state_hash[32];
    engine_params params;        /* those the engine computed the cycle with (cycle_params) */
    bool params_from_checkpoint; /* else from a replay of the inputs the cycle covers */
    bool has_weights;
    uint64_t *w_uids, *w_vals;
    size_t n_w;
    schema_miner_score *ms;
    size_t n_ms, cap_ms;
    schema_submission_score *subs; /* explain: the miner's SUBMISSION_SCOREs up to the cycle */
    size_t n_subs, cap_subs;
} scan;

static void scan_free(scan *s)
{
    free(s->w_uids);
    free(s->w_vals);
    free(s->ms);
    free(s->subs);
}

static schema_miner_score *grow_ms(scan *s)
{
    if (s->n_ms == s->cap_ms) {
        size_t cap = s->cap_ms ? 2 * s->cap_ms : 64;
        schema_miner_score *g = realloc(s->ms, cap * sizeof(*g));
        if (g == NULL) {
            return NULL;
        }
        s->ms = g, s->cap_ms = cap;
    }
    return &s->ms[s->n_ms++];
}

static tally_status on_body(scan *s, const schema_body *b)
{
    switch (b->type) {
    case SCHEMA_SCORING_CYCLE:
        s->cycle = b->u.scoring_cycle.cycle, s->as_of = b->u.scoring_cycle.as_of_ms;
        s->covers_to = b->u.scoring_cycle.covers_to;
        s->n_ms = 0, s->has_weights = false, s->has_state_hash = false;
        return TALLY_OK;
    case SCHEMA_STATE_HASH:
        if (b->u.state_hash.cycle == s->cycle) {
            memcpy(s->state_hash, b->u.state_hash.state_hash, 32);
            s->has_state_hash = true;
        }
        return TALLY_OK;
    case SCHEMA_MINER_SCORE: {
        schema_miner_score *g = grow_ms(s);
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        *g = b->u.miner_score;
        return TALLY_OK;
    }
    case SCHEMA_WEIGHTS:
        free(s->w_uids);
        free(s->w_vals);
        s->n_w = b->u.weights.n_uids;
        s->w_uids = malloc((s->n_w + 1) * sizeof(uint64_t));
        s->w_vals = malloc((s->n_w + 1) * sizeof(uint64_t));
        if (s->w_uids == NULL || s->w_vals == NULL) {
            return TALLY_ENOMEM;
        }
        if (s->n_w > 0) {
            memcpy(s->w_uids, b->u.weights.uids, s->n_w * sizeof(uint64_t));
            memcpy(s->w_vals, b->u.weights.weights, s->n_w * sizeof(uint64_t));
        }
        s->has_weights = true;
        return TALLY_OK;
    case SCHEMA_SUBMISSION_SCORE: {
        const schema_submission_score *ss = &b->u.submission_score;
        if (ss->uid != s->uid) {
            return TALLY_OK;
        }
        /* every record is kept here; print_rows keeps the latest of each row */
        if (s->n_subs == s->cap_subs) {
            size_t cap = s->cap_subs ? 2 * s->cap_subs : 64;
            schema_submission_score *g = realloc(s->subs, cap * sizeof(*g));
            if (g == NULL) {
                return TALLY_ENOMEM;
            }
            s->subs = g, s->cap_subs = cap;
        }
        s->subs[s->n_subs++] = *ss;
        return TALLY_OK;
    }
    default:
        return TALLY_OK;
    }
}

static tally_status run_scan(store_log *log, scan *s)
{
    store_iter *it;
    store_record r;
    tally_status st = store_iter_open(log, 0, &it);
    bool done = false;

    while (st == TALLY_OK && !done && (st = store_iter_next(it, &r)) == TALLY_OK) {
        schema_header h;
        schema_body b;
        if (schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if (h.type != SCHEMA_SCORING_CYCLE && h.type != SCHEMA_STATE_HASH &&
            h.type != SCHEMA_MINER_SCORE && h.type != SCHEMA_WEIGHTS &&
            !(h.type == SCHEMA_SUBMISSION_SCORE && s->uid != UINT64_MAX)) {
            continue;
        }
        if (r.body.p == NULL || schema_record_check(&h, r.body.p, r.body.n, &b) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if (h.type == SCHEMA_SCORING_CYCLE && s->want && b.u.scoring_cycle.cycle > s->want) {
            done = true;
        } else {
            st = on_body(s, &b);
        }
        schema_body_release(&b);
    }
    store_iter_close(it);
    if (st == TALLY_ENOTFOUND) {
        st = TALLY_OK;
    }
    if (st == TALLY_OK && (s->cycle == 0 || (s->want && s->cycle != s->want))) {
        st = TALLY_ENOTFOUND;
    }
    return st;
}

/* The parameters the engine computed the scanned cycle with. They are not those of the
 * GENESIS and CONFIG_SETs before the cycle record: a CONFIG_SET between covers_to and the
 * cycle, or after it, is an input of the next cycle. So they come from the cycle's
 * checkpoint state (the engine just before it computed the cycle), checked against its
 * STATE_HASH; without a checkpoint file, from a replay of the records the cycle covers.
 * TALLY_ECORRUPT when that replay finds the log's derived records do not match. */
static tally_status cycle_params(store_log *log, scan *s)
{
    uint8_t *state = NULL;
    size_t n = 0;
    engine *e = NULL;
    tally_status st = TALLY_ENOTFOUND;

    if (s->has_state_hash) {
        st = store_checkpoint_get(log, s->cycle, s->state_hash, &state, &n);
    }
    if (st == TALLY_OK) {
        st = ledger_state_load(log, state, n, &e);
        s->params_from_checkpoint = true;
    } else if (st == TALLY_ENOTFOUND && s->covers_to == 0) {
        st = engine_new(&e); /* a cycle of no inputs: the defaults */
    } else if (st == TALLY_ENOTFOUND) {
        ledger_replay_cfg cfg = {.to = s->covers_to};
        ledger_replay_result res;
        st = ledger_replay(log, &cfg, &res);
        e = res.eng;
        if (st == TALLY_OK && res.mismatch) {
            st = TALLY_ECORRUPT;
        }
    }
    free(state);
    if (st == TALLY_OK) {
        engine_params_get(e, &s->params);
    }
    engine_free(e);
    return st;
}


/* ---- formatting ---- */

/* nanos as a decimal with nine places */
static const char *fmt_n(int64_t v, char buf[32])
{
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(buf, 32, "%s%" PRIu64 ".%09" PRIu64, v < 0 ? "-" : "", a / 1000000000u,
             a % 1000000000u);
    return buf;
}

static json_t *jn(int64_t v)
{
    char b[32];
    return json_string(fmt_n(v, b));
}

static const schema_miner_score *find_ms(const scan *s, uint64_t uid)
{
    for (size_t i = 0; i < s->n_ms; i++) {
        if (s->ms[i].uid == uid) {
            return &s->ms[i];
        }
    }
    return NULL;
}

static uint64_t weight_of(const scan *s, uint64_t uid)
{
    for (size_t i = 0; i < s->n_w; i++) {
        if (s->w_uids[i] == uid) {
            return s->w_vals[i];
        }
    }
    return 0;
}

/* SkillScore = Σ w_k·dim_k: the contribution of each dimension, each rounded to the nano. */
static void contributions(const engine_params *p, const schema_miner_score *m, int64_t out[4])
{
    for (int k = 0; k < 4; k++) {
        out[k] = fx_mul(param(p, dim_weight[k]), m->dims[k]);
    }
}

static int open_and_scan(const char *cmd, const char *dir, scan *s)
{
    store_log *log;
    tally_status st;
    int rc = cli_open(cmd, dir, true, &log);

    if (rc != CLI_OK) {
        return rc;
    }
    st = run_scan(log, s);
    if (st == TALLY_ENOTFOUND) {
        store_close(log);
        return s->want ? cli_fail(cmd, st, "no cycle %" PRIu64 " in the log", s->want)
                       : cli_fail(cmd, st, "the log has no scoring cycle yet");
    }
    if (st != TALLY_OK) {
        store_close(log);
        return cli_fail(cmd, st, "cannot read the log");
    }
    st = cycle_params(log, s);
    store_close(log);
    return st == TALLY_OK ? CLI_OK
                          : cli_fail(cmd, st,
                                     "cannot recover the parameters of cycle %" PRIu64
                                     " (its checkpoint, or a replay up to it)",
                                     s->cycle);
}

/* ---- tally weights ---- */

static const char weights_usage[] =
    "usage: tally weights [--dir DIR] [--cycle N] [--json]\n\n"
    "Prints the weight vector of cycle N (default: the latest) as the WEIGHTS record holds it\n"
    "(u16, the largest 65535), with each scored miner's four dimensions and what each adds\n"
    "to its skill score (weight × dimension), with the weights the engine used for that cycle\n"
    "(from its checkpoint state, as in tally explain). --json prints one object\n"
    "{\"cycle\": N, \"weights\": [{\"uid\": u, \"weight\": w, ...}, ...]} with reals as decimal\n"
    "strings.\n";

static int parse_cycle_opts(const char *cmd, int argc, char **argv, const char *usage,
                            const char **dir, uint64_t *cycle, bool *json, uint64_t *miner)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},  {"cycle", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},       {"miner", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else if (c == 'd') {
            *dir = optarg;
        } else if (c == 'j' && json != NULL) {
            *json = true;
        } else if (c == 'c' && cli_parse_u64(optarg, cycle) && *cycle > 0) {
            continue;
        } else if (c == 'm' && miner != NULL && cli_parse_u64(optarg, miner) &&
                   *miner < ENGINE_MAX_UIDS) {
            continue;
        } else {
            return cli_usage_error(cmd, "bad option or value (see tally %s --help)", cmd);
        }
    }
    if (optind != argc) {
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    *dir = cli_dir(*dir);
    return CLI_OK;
}

static int print_json(const scan *s)
{
    json_t *root = json_object(), *arr = json_array();
    char *txt;

    json_object_set_new(root, "cycle", json_integer((json_int_t)s->cycle));
    json_object_set_new(root, "as_of_ms", json_integer((json_int_t)s->as_of));
    for (size_t i = 0; i < s->n_w; i++) {
        json_t *o = json_object();
        const schema_miner_score *m = find_ms(s, s->w_uids[i]);
        json_object_set_new(o, "uid", json_integer((json_int_t)s->w_uids[i]));
        json_object_set_new(o, "weight", json_integer((json_int_t)s->w_vals[i]));
        if (m != NULL) {
            json_t *d = json_object(), *c = json_object();
            const char *const *dim_names = ms_names().dims;
            int64_t ct[4];
            char ss58[49];
            contributions(&s->params, m, ct);
            schema_ss58_encode(m->hotkey, ss58);
            json_object_set_new(o, "hotkey", json_string(ss58));
            json_object_set_new(o, "skill", jn(m->skill));
            for (int k = 0; k < 4; k++) {
                json_object_set_new(d, dim_names[k], jn(m->dims[k]));
                json_object_set_new(c, dim_names[k], jn(ct[k]));
            }
            json_object_set_new(o, "dims", d);
            json_object_set_new(o, "contributions", c);
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "weights", arr);
    txt = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (txt == NULL) {
        return cli_fail("weights", TALLY_ENOMEM, "cannot print JSON");
    }
    puts(txt);
    free(txt);
    return CLI_OK;
}

static int by_weight_desc(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* pairs (weight, uid) */
    if (x[0] != y[0]) {
        return x[0] < y[0] ? 1 : -1;
    }
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static void print_table(const scan *s, size_t limit)
{
    uint64_t *pairs = malloc((s->n_w + 1) * 2 * sizeof(uint64_t)), total = 0;
    char b[6][32];

    if (pairs == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_w; i++) {
        pairs[2 * i] = s->w_vals[i], pairs[2 * i + 1] = s->w_uids[i];
        total += s->w_vals[i];
    }
    qsort(pairs, s->n_w, 2 * sizeof(uint64_t), by_weight_desc);
    printf("%5s %6s %7s  %-11s  %-11s %-11s %-11s %-11s\n", "uid", "weight", "share", "skill",
           "forecast", "skill", "econ", "info");
    printf("%5s %6s %7s  %-11s  %-47s\n", "", "(u16)", "", "", "dimension (its contribution)");
    for (size_t i = 0; i < s->n_w && i < limit; i++) {
        const schema_miner_score *m = find_ms(s, pairs[2 * i + 1]);
        double share = total ? 100.0 * (double)pairs[2 * i] / (double)total : 0;
        if (m == NULL) {
            printf("%5" PRIu64 " %6" PRIu64 " %6.2f%%  (burn: the owner's uid)\n", pairs[2 * i + 1],
                   pairs[2 * i], share);
            continue;
        }
        int64_t ct[4];
        contributions(&s->params, m, ct);
        printf("%5" PRIu64 " %6" PRIu64 " %6.2f%%  %.11s ", pairs[2 * i + 1], pairs[2 * i], share,
               fmt_n(m->skill, b[0]));
        for (int k = 0; k < 4; k++) {
            char d[32], c[32];
            fmt_n(m->dims[k], d);
            fmt_n(ct[k], c);
            printf(" %.5s(%.5s)", d, c);
        }
        printf("\n");
    }
    if (s->n_w > limit) {
        printf("  … %zu more uids (tally weights --dir DIR for all)\n", s->n_w - limit);
    }
    free(pairs);
}

int cli_show_weights(const char *cmd, const char *dir, uint64_t cycle, size_t limit)
{
    scan s = {.want = cycle, .uid = UINT64_MAX};
    int rc = open_and_scan(cmd, dir, &s);

    if (rc == CLI_OK) {
        printf("cycle %" PRIu64 " (as of %" PRIu64 " ms): %zu miners scored, %zu uids weighted\n",
               s.cycle, s.as_of, s.n_ms, s.n_w);
        if (s.has_weights) {
            print_table(&s, limit);
        } else {
            printf("  no WEIGHTS record (no miner scored and no burn uid)\n");
        }
    }
    scan_free(&s);
    return rc;
}

int cmd_weights(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t cycle = 0;
    bool json = false;
    int rc = parse_cycle_opts("weights", argc, argv, weights_usage, &dir, &cycle, &json, NULL);
    scan s = {.uid = UINT64_MAX};

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    if (!json) {
        return cli_show_weights("weights", dir, cycle, SIZE_MAX);
    }
    s.want = cycle;
    rc = open_and_scan("weights", dir, &s);
    if (rc == CLI_OK) {
        rc = print_json(&s);
    }
    scan_free(&s);
    return rc;
}

/* ---- tally explain ---- */

static const char explain_usage[] =
    "usage: tally explain --miner UID [--dir DIR] [--cycle N] [--json]\n\n"
    "Shows how a miner's weight in cycle N (default: the latest) came about: its u16 weight,\n"
    "skill score, the four dimensions with their weights and contributions (weight ×\n"
    "dimension, each rounded to the nano, so they add up to the skill score within 2 nanos),\n"
    "each dimension from its normalised components, the rolling statistics before and after\n"
    "shrinkage, the decay-weighted sums, and every row of its submissions with the metrics\n"
    "scored from the close and the outcome (the latest SUBMISSION_SCORE of each row up to that\n"
    "cycle), with the row's decay weight. The parameters are those the engine computed the\n"
    "cycle with, read from the cycle's checkpoint state (or, without a checkpoint file, from a\n"
    "replay of the records the cycle covers), not the latest CONFIG_SET.\n\n"
    "  --json  one object: cycle, as_of_ms, uid, weight, in_population, params, params_from,\n"
    "          and for a scored miner hotkey, skill, dims (weight, value, contribution, terms),\n"
    "          contribution_sum, contribution_tolerance (2 nanos), norms, stats, shrinkage\n"
    "          (before/after), acc (ws/wt), n_rows, n_eff and rows (each with its decay weight,\n"
    "          close and outcome metrics); reals are decimal strings with nine places.\n";

static int by_submitted(const void *a, const void *b)
{
    const schema_submission_score *x = a, *y = b;
    if (x->submitted_at_ms != y->submitted_at_ms) {
        return x->submitted_at_ms < y->submitted_at_ms ? -1 : 1;
    }
    if (x->sub_seq != y->sub_seq) {
        return x->sub_seq < y->sub_seq ? -1 : 1;
    }
    if (x->market_id != y->market_id) {
        return x->market_id < y->market_id ? -1 : 1;
    }
    if (x->side != y->side) {
        return x->side < y->side ? -1 : 1;
    }
    return x->cycle < y->cycle ? -1 : x->cycle > y->cycle;
}

static bool same_row(const schema_submission_score *x, const schema_submission_score *y)
{
    return x->sub_seq == y->sub_seq && x->market_id == y->market_id && x->side == y->side;
}

/* Keeps one record per row, the latest: a later cycle's record of a row supersedes the
 * earlier ones. Rows end up by submission time. */
static void latest_rows(scan *s)
{
    size_t k = 0;

    if (s->n_subs > 1) {
        qsort(s->subs, s->n_subs, sizeof(*s->subs), by_submitted);
    }
    for (size_t i = 0; i < s->n_subs; i++) {
        if (i + 1 < s->n_subs && same_row(&s->subs[i], &s->subs[i + 1])) {
            continue;
        }
        s->subs[k++] = s->subs[i];
    }
    s->n_subs = k;
}

/* The decay weight of a row submitted at t (ms), or false outside the rolling window
 * [as_of − rolling_days, as_of) of scoring §5.1. */
static bool row_weight(const scan *s, uint64_t t, int64_t *w_out)
{
    int64_t lo = (int64_t)s->as_of - s->params.rolling_days * 86400000ll;
    bool in = (int64_t)t >= lo && (int64_t)t < (int64_t)s->as_of;

    *w_out = in ? engine_decay(&s->params, (int64_t)s->as_of - (int64_t)t) : 0;
    return in;
}

static const char *side_name(uint64_t side)
{
    static const char *const n[] = {"?", "home", "away", "draw", "over", "under"};
    return side <= 5 ? n[side] : "?";
}

static void print_rows(const scan *s)
{
    char b[10][32];

    printf("rows (%zu scored; w = decay weight, blank outside the %" PRId64 "-day window):\n",
           s->n_subs, s->params.rolling_days);
    printf("  %-9s %-12s %-5s %-14s %-12s %-12s %-12s %-5s %-12s %-12s %-12s %-12s %s\n", "sub_seq",
           "market", "side", "submitted_at", "w", "clv_prob", "cle", "min", "brier", "pss",
           "factor", "pss_adj", "hit");
    for (size_t i = 0; i < s->n_subs; i++) {
        const schema_submission_score *r = &s->subs[i];
        int64_t w;
        bool in = row_weight(s, r->submitted_at_ms, &w);
        printf("  %-9" PRIu64 " %-12" PRIu64 " %-5s %-14" PRIu64 " %-12s ", r->sub_seq,
               r->market_id, side_name(r->side), r->submitted_at_ms, in ? fmt_n(w, b[0]) : "");
        if (r->has_close) {
            printf("%-12s %-12s %-5" PRIu64 " ", fmt_n(r->close.clv_prob, b[1]),
                   fmt_n(r->close.cle, b[2]), r->close.minutes_to_close);
        } else {
            printf("%-12s %-12s %-5s ", "-", "-", "-");
        }
        if (r->has_outcome) {
            printf("%-12s %-12s %-12s %-12s %s\n", fmt_n(r->outcome.brier, b[3]),
                   fmt_n(r->outcome.pss, b[4]), fmt_n(r->outcome.time_factor, b[5]),
                   fmt_n(r->outcome.pss_adj, b[6]), r->outcome.hit ? "yes" : "no");
        } else {
            printf("(no outcome metrics yet)\n");
        }
    }
}

static void print_params(const scan *s)
{
    char b[32];

    printf("parameters of cycle %" PRIu64 " (%s):\n", s->cycle,
           s->params_from_checkpoint ? "from its checkpoint state"
                                     : "from a replay of the records it covers");
    for (int k = 0; k < P_COUNT; k++) {
        int64_t v = param(&s->params, k);
        if (used_params[k].real) {
            printf("  %-39s %s\n", used_params[k].key, fmt_n(v, b));
        } else {
            printf("  %-39s %" PRId64 "\n", used_params[k].key, v);
        }
    }
}

static void print_explain(const scan *s, const schema_miner_score *m)
{
    const names nm = ms_names();
    int64_t ct[4], sum = 0;
    char b[6][32], ss58[49];

    contributions(&s->params, m, ct);
    schema_ss58_encode(m->hotkey, ss58);
    printf("hotkey %s; skill score %s = Σ weight × dimension:\n", ss58, fmt_n(m->skill, b[0]));
    for (int k = 0; k < 4; k++) {
        printf("  %-9s %s × %s = %s\n", nm.dims[k], fmt_n(param(&s->params, dim_weight[k]), b[1]),
               fmt_n(m->dims[k], b[2]), fmt_n(ct[k], b[3]));
        sum += ct[k];
    }
    printf("  (sum %s: each term rounded to the nano, the skill score once, so they agree within "
           "2 nanos)\n",
           fmt_n(sum, b[0]));
    printf("dimensions from the normalised components:\n");
    for (int k = 0; k < 4; k++) {
        printf("  %-9s =", nm.dims[k]);
        for (int t = 0; t < dim_terms[k].n; t++) {
            int w = dim_terms[k].w[t], c = dim_terms[k].norm[t];
            printf("%s", t ? " +" : "");
            if (w >= 0) {
                printf(" %s ×", fmt_n(param(&s->params, w), b[0]));
            }
            printf(" %s %s", nm.norms[c], fmt_n(m->norms[c], b[1]));
        }
        printf("\n");
    }
    printf("normalised components:");
    for (int k = 0; k < 7; k++) {
        printf(" %s %s", nm.norms[k], fmt_n(m->norms[k], b[0]));
    }
    printf("\nstatistics (n_rows %" PRIu64 ", n_eff %s; *_shrunk after shrinkage):\n", m->n_rows,
           fmt_n(m->n_eff, b[0]));
    for (int k = 0; k < 14; k++) {
        printf("  %-11s %s\n", nm.stats[k], m->stats[k].has ? fmt_n(m->stats[k].v, b[0])
                                                             : "absent (normalised from 0.5)");
    }
    printf("decay-weighted sums (ws / wt):\n");
    for (int k = 0; k < 5; k++) {
        printf("  %-8s %s / %s\n", nm.acc[k], fmt_n(m->acc[k].ws, b[0]), fmt_n(m->acc[k].wt, b[1]));
    }
    print_params(s);
}

/* ---- explain --json ---- */

static json_t *jparams(const scan *s)
{
    json_t *o = json_object();

    for (int k = 0; k < P_COUNT; k++) {
        int64_t v = param(&s->params, k);
        json_object_set_new(o, used_params[k].key,
                            used_params[k].real ? jn(v) : json_integer((json_int_t)v));
    }
    return o;
}

static json_t *jdims(const scan *s, const schema_miner_score *m, const names *nm)
{
    json_t *o = json_object();
    int64_t ct[4];

    contributions(&s->params, m, ct);
    for (int k = 0; k < 4; k++) {
        json_t *d = json_object(), *terms = json_object();
        for (int t = 0; t < dim_terms[k].n; t++) {
            int w = dim_terms[k].w[t], c = dim_terms[k].norm[t];
            int64_t wv = w >= 0 ? param(&s->params, w) : FX_ONE;
            json_t *x = json_object();
            json_object_set_new(x, "weight", jn(wv));
            json_object_set_new(x, "value", jn(m->norms[c]));
            json_object_set_new(x, "contribution", jn(fx_mul(wv, m->norms[c])));
            json_object_set_new(terms, nm->norms[c], x);
        }
        json_object_set_new(d, "weight", jn(param(&s->params, dim_weight[k])));
        json_object_set_new(d, "value", jn(m->dims[k]));
        json_object_set_new(d, "contribution", jn(ct[k]));
        json_object_set_new(d, "terms", terms);
        json_object_set_new(o, nm->dims[k], d);
    }
    return o;
}

static json_t *jrow(const scan *s, const schema_submission_score *r)
{
    json_t *o = json_object();
    int64_t w;
    bool in = row_weight(s, r->submitted_at_ms, &w);

    json_object_set_new(o, "sub_seq", json_integer((json_int_t)r->sub_seq));
    json_object_set_new(o, "market_id", json_integer((json_int_t)r->market_id));
    json_object_set_new(o, "side", json_string(side_name(r->side)));
    json_object_set_new(o, "submitted_at_ms", json_integer((json_int_t)r->submitted_at_ms));
    json_object_set_new(o, "scored_in_cycle", json_integer((json_int_t)r->cycle));
    json_object_set_new(o, "in_window", json_boolean(in));
    json_object_set_new(o, "decay_weight", in ? jn(w) : json_null());
    if (r->has_close) {
        json_t *c = json_object();
        json_object_set_new(c, "clv_odds", jn(r->close.clv_odds));
        json_object_set_new(c, "clv_prob", jn(r->close.clv_prob));
        json_object_set_new(c, "cle", jn(r->close.cle));
        json_object_set_new(c, "mes", jn(r->close.mes));
        json_object_set_new(c, "minutes_to_close",
                            json_integer((json_int_t)r->close.minutes_to_close));
        json_object_set_new(o, "close", c);
    } else {
        json_object_set_new(o, "close", json_null());
    }
    if (r->has_outcome) {
        json_t *c = json_object();
        json_object_set_new(c, "brier", jn(r->outcome.brier));
        json_object_set_new(c, "logloss", jn(r->outcome.logloss));
        json_object_set_new(c, "pss", jn(r->outcome.pss));
        json_object_set_new(c, "time_factor", jn(r->outcome.time_factor));
        json_object_set_new(c, "pss_adj", jn(r->outcome.pss_adj));
        json_object_set_new(c, "hit", json_boolean(r->outcome.hit));
        json_object_set_new(o, "outcome", c);
    } else {
        json_object_set_new(o, "outcome", json_null());
    }
    return o;
}

/* The scored miner's part of the object: everything MINER_SCORE holds, with the arithmetic. */
static void jminer(json_t *o, const scan *s, const schema_miner_score *m)
{
    /* stats before and after shrinkage (scoring §5.4), by their MINER_SCORE indices */
    static const struct {
        const char *name;
        int before, after;
    } shrunk[] = {{"mes", 3, 4}, {"pss", 5, 6}, {"fq", 8, 9}};
    const names nm = ms_names();
    json_t *norms = json_object(), *stats = json_object(), *shr = json_object(),
           *acc = json_object(), *rows = json_array();
    int64_t ct[4], sum = 0;
    char ss58[49];

    schema_ss58_encode(m->hotkey, ss58);
    contributions(&s->params, m, ct);
    for (int k = 0; k < 4; k++) {
        sum += ct[k];
    }
    for (int k = 0; k < 7; k++) {
        json_object_set_new(norms, nm.norms[k], jn(m->norms[k]));
    }
    for (int k = 0; k < 14; k++) {
        json_object_set_new(stats, nm.stats[k], m->stats[k].has ? jn(m->stats[k].v) : json_null());
    }
    for (size_t k = 0; k < sizeof(shrunk) / sizeof(shrunk[0]); k++) {
        json_t *x = json_object();
        json_object_set_new(x, "before", jn(m->stats[shrunk[k].before].v));
        json_object_set_new(x, "after", jn(m->stats[shrunk[k].after].v));
        json_object_set_new(shr, shrunk[k].name, x);
    }
    for (int k = 0; k < 5; k++) {
        json_t *x = json_object();
        json_object_set_new(x, "ws", jn(m->acc[k].ws));
        json_object_set_new(x, "wt", jn(m->acc[k].wt));
        json_object_set_new(acc, nm.acc[k], x);
    }
    for (size_t i = 0; i < s->n_subs; i++) {
        json_array_append_new(rows, jrow(s, &s->subs[i]));
    }
    json_object_set_new(o, "hotkey", json_string(ss58));
    json_object_set_new(o, "skill", jn(m->skill));
    json_object_set_new(o, "dims", jdims(s, m, &nm));
    json_object_set_new(o, "contribution_sum", jn(sum));
    /* each contribution is rounded half to even to the nano, the skill score once (4 × ½ + ½) */
    json_object_set_new(o, "contribution_tolerance", jn(2));
    json_object_set_new(o, "norms", norms);
    json_object_set_new(o, "n_rows", json_integer((json_int_t)m->n_rows));
    json_object_set_new(o, "n_eff", jn(m->n_eff));
    json_object_set_new(o, "stats", stats);
    json_object_set_new(o, "shrinkage", shr);
    json_object_set_new(o, "acc", acc);
    json_object_set_new(o, "rows", rows);
}

static int print_explain_json(const scan *s, uint64_t uid, const schema_miner_score *m)
{
    json_t *o = json_object();
    char *txt;

    json_object_set_new(o, "cycle", json_integer((json_int_t)s->cycle));
    json_object_set_new(o, "as_of_ms", json_integer((json_int_t)s->as_of));
    json_object_set_new(o, "uid", json_integer((json_int_t)uid));
    json_object_set_new(o, "weight", json_integer((json_int_t)weight_of(s, uid)));
    json_object_set_new(o, "in_population", json_boolean(m != NULL));
    json_object_set_new(o, "params_from",
                        json_string(s->params_from_checkpoint ? "checkpoint" : "replay"));
    json_object_set_new(o, "params", jparams(s));
    if (m != NULL) {
        jminer(o, s, m);
    }
    txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (txt == NULL) {
        return cli_fail("explain", TALLY_ENOMEM, "cannot print JSON");
    }
    puts(txt);
    free(txt);
    return CLI_OK;
}

int cmd_explain(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t cycle = 0, miner = UINT64_MAX;
    bool json = false;
    int rc = parse_cycle_opts("explain", argc, argv, explain_usage, &dir, &cycle, &json, &miner);
    scan s = {.uid = UINT64_MAX};
    const schema_miner_score *m;

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    if (miner == UINT64_MAX) {
        return cli_usage_error("explain", "--miner UID is required");
    }
    s.want = cycle, s.uid = miner;
    rc = open_and_scan("explain", dir, &s);
    if (rc != CLI_OK) {
        scan_free(&s);
        return rc;
    }
    latest_rows(&s);
    m = find_ms(&s, miner);
    if (json) {
        rc = print_explain_json(&s, miner, m);
        scan_free(&s);
        return rc;
    }
    printf("cycle %" PRIu64 " (as of %" PRIu64 " ms), uid %" PRIu64 ": weight %" PRIu64
           " of 65535\n", s.cycle, s.as_of, miner, weight_of(&s, miner));
    if (m == NULL) {
        printf("  not in the population: no row of its current registration in the rolling "
               "window, or no miner at this uid\n");
        scan_free(&s);
        return CLI_OK;
    }
    print_explain(&s, m);
    print_rows(&s);
    scan_free(&s);
    return CLI_OK;
}

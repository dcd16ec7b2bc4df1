/* tally weights and tally explain: read a cycle's derived records back from the log. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const stat_names[14] = {
    "es_mean", "es_std", "es_adj", "mes_mean", "mes_shrunk", "pss_mean", "pss_shrunk",
    "brier_mean", "fq_raw", "fq_shrunk", "cal", "sharp", "sos", "lead"};
static const char *const norm_names[7] = {"fq", "cal", "pss", "es", "mes", "sos", "lead"};
static const char *const dim_names[4] = {"forecast", "skill", "econ", "info"};
static const char *const acc_names[5] = {"cle", "mes", "pss_adj", "brier", "fq"};

typedef struct scan {
    uint64_t want, uid; /* want: cycle (0 = latest); uid: explain's miner, or UINT64_MAX */
    uint64_t cycle, as_of;
    engine_params params;
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
    case SCHEMA_GENESIS:
    case SCHEMA_CONFIG_SET: {
        const schema_param *ps = b->type == SCHEMA_GENESIS ? b->u.genesis.params : b->u.config_set.params;
        size_t n = b->type == SCHEMA_GENESIS ? b->u.genesis.n_params : b->u.config_set.n_params;
        for (size_t i = 0; i < n; i++) {
            if (engine_params_set(&s->params, ps[i].key, &ps[i].value) != TALLY_OK) {
                continue; /* the engine keeps its value too */
            }
        }
        return TALLY_OK;
    }
    case SCHEMA_SCORING_CYCLE:
        s->cycle = b->u.scoring_cycle.cycle, s->as_of = b->u.scoring_cycle.as_of_ms;
        s->n_ms = 0, s->has_weights = false;
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

    engine_params_default(&s->params);
    while (st == TALLY_OK && !done && (st = store_iter_next(it, &r)) == TALLY_OK) {
        schema_header h;
        schema_body b;
        if (schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if (h.type != SCHEMA_GENESIS && h.type != SCHEMA_CONFIG_SET &&
            h.type != SCHEMA_SCORING_CYCLE && h.type != SCHEMA_MINER_SCORE &&
            h.type != SCHEMA_WEIGHTS &&
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

/* SkillScore = Σ w_k·dim_k: the contribution of each dimension. */
static void contributions(const engine_params *p, const schema_miner_score *m, int64_t out[4])
{
    const int64_t w[4] = {p->w_forecast, p->w_skill, p->w_econ, p->w_info};
    for (int k = 0; k < 4; k++) {
        out[k] = fx_mul(w[k], m->dims[k]);
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
    store_close(log);
    if (st == TALLY_ENOTFOUND) {
        return s->want ? cli_fail(cmd, st, "no cycle %" PRIu64 " in the log", s->want)
                       : cli_fail(cmd, st, "the log has no scoring cycle yet");
    }
    return st == TALLY_OK ? CLI_OK : cli_fail(cmd, st, "cannot read the log");
}

/* ---- tally weights ---- */

static const char weights_usage[] =
    "usage: tally weights [--dir DIR] [--cycle N] [--json]\n\n"
    "Prints the weight vector of cycle N (default: the latest) as the WEIGHTS record holds it\n"
    "(u16, the largest 65535), with each scored miner's four dimensions and what each adds\n"
    "to its skill score (weight × dimension). --json prints one object\n"
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
    "usage: tally explain --miner UID [--dir DIR] [--cycle N]\n\n"
    "Shows how a miner's weight in cycle N (default: the latest) came about: its u16 weight,\n"
    "skill score, the four dimensions and their contributions, the normalised components, the\n"
    "rolling statistics before and after shrinkage, the decay-weighted sums, and every row of\n"
    "its submissions with the metrics scored from the close and the outcome (the latest\n"
    "SUBMISSION_SCORE of each row up to that cycle), with the row's decay weight.\n";

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

static const char *side_name(uint64_t side)
{
    static const char *const n[] = {"?", "home", "away", "draw", "over", "under"};
    return side <= 5 ? n[side] : "?";
}

static void print_rows(scan *s)
{
    int64_t lo = (int64_t)s->as_of - s->params.rolling_days * 86400000ll;
    char b[10][32];
    size_t k = 0;

    if (s->n_subs > 1) {
        qsort(s->subs, s->n_subs, sizeof(*s->subs), by_submitted);
    }
    /* one line per row: a later cycle's record of the same row supersedes the earlier ones */
    for (size_t i = 0; i < s->n_subs; i++) {
        if (i + 1 < s->n_subs && same_row(&s->subs[i], &s->subs[i + 1])) {
            continue;
        }
        s->subs[k++] = s->subs[i];
    }
    s->n_subs = k;
    printf("rows (%zu scored; w = decay weight, blank outside the %" PRId64 "-day window):\n",
           s->n_subs, s->params.rolling_days);
    printf("  %-9s %-12s %-5s %-14s %-12s %-12s %-12s %-5s %-12s %-12s %-12s %-12s %s\n", "sub_seq",
           "market", "side", "submitted_at", "w", "clv_prob", "cle", "min", "brier", "pss",
           "factor", "pss_adj", "hit");
    for (size_t i = 0; i < s->n_subs; i++) {
        const schema_submission_score *r = &s->subs[i];
        int64_t t = (int64_t)r->submitted_at_ms;
        bool in = t >= lo && t < (int64_t)s->as_of;
        printf("  %-9" PRIu64 " %-12" PRIu64 " %-5s %-14" PRIu64 " %-12s ", r->sub_seq,
               r->market_id, side_name(r->side), r->submitted_at_ms,
               in ? fmt_n(engine_decay(&s->params, (int64_t)s->as_of - t), b[0]) : "");
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

int cmd_explain(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t cycle = 0, miner = UINT64_MAX;
    int rc = parse_cycle_opts("explain", argc, argv, explain_usage, &dir, &cycle, NULL, &miner);
    scan s = {.uid = UINT64_MAX};
    const schema_miner_score *m;
    char b[4][32], ss58[49];

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
    m = find_ms(&s, miner);
    printf("cycle %" PRIu64 " (as of %" PRIu64 " ms), uid %" PRIu64 ": weight %" PRIu64
           " of 65535\n", s.cycle, s.as_of, miner, weight_of(&s, miner));
    if (m == NULL) {
        printf("  not in the population: no row of its current registration in the rolling "
               "window, or no miner at this uid\n");
        scan_free(&s);
        return CLI_OK;
    }
    int64_t ct[4];
    const int64_t w[4] = {s.params.w_forecast, s.params.w_skill, s.params.w_econ, s.params.w_info};
    contributions(&s.params, m, ct);
    schema_ss58_encode(m->hotkey, ss58);
    printf("hotkey %s; skill score %s = Σ weight × dimension:\n", ss58, fmt_n(m->skill, b[0]));
    for (int k = 0; k < 4; k++) {
        printf("  %-9s %s × %s = %s\n", dim_names[k], fmt_n(w[k], b[1]), fmt_n(m->dims[k], b[2]),
               fmt_n(ct[k], b[3]));
    }
    printf("normalised components:");
    for (int k = 0; k < 7; k++) {
        printf(" %s %s", norm_names[k], fmt_n(m->norms[k], b[0]));
    }
    printf("\nstatistics (n_rows %" PRIu64 ", n_eff %s):\n", m->n_rows, fmt_n(m->n_eff, b[0]));
    for (int k = 0; k < 14; k++) {
        printf("  %-11s %s\n", stat_names[k], m->stats[k].has ? fmt_n(m->stats[k].v, b[0])
                                                               : "absent (normalised from 0.5)");
    }
    printf("decay-weighted sums (ws / wt):\n");
    for (int k = 0; k < 5; k++) {
        printf("  %-8s %s / %s\n", acc_names[k], fmt_n(m->acc[k].ws, b[0]),
               fmt_n(m->acc[k].wt, b[1]));
    }
    print_rows(&s);
    scan_free(&s);
    return CLI_OK;
}

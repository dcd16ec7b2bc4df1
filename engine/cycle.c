/* One SCORING_CYCLE: reveal, prune, checkpoint, per-row scores (§4), per-miner aggregates (§5),
 * dimensions (§6) and weights (§7). Every loop runs in a fixed order: submissions by seq, rows
 * as the submission lists them (market, side ascending), miners by uid. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define MIN_MS 60000ll

enum { A_CLE, A_MES, A_PSS, A_BRIER, A_FQ };
enum { S_ES_MEAN, S_ES_STD, S_ES_ADJ, S_MES_MEAN, S_MES_SHRUNK, S_PSS_MEAN, S_PSS_SHRUNK,
       S_BRIER_MEAN, S_FQ_RAW, S_FQ_SHRUNK, S_CAL, S_SHARP, S_SOS, S_LEAD };
enum { N_FQ, N_CAL, N_PSS, N_ES, N_MES, N_SOS, N_LEAD };

struct engine_block_mem {
    uint64_t *uids, *weights;
};

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t clamp01(int64_t x)
{
    return x < 0 ? 0 : x > FX_ONE ? FX_ONE : x;
}

/* ---- reveal and prune ---- */

/* reveal_at of a submission (protocol §2.3), from its event's EVENT history. */
static int64_t reveal_at(const engine *e, const eng_sub *s)
{
    const eng_event *ev = &e->events[s->ev];
    int64_t r = INT64_MAX;
    size_t i = 0;

    for (; i < ev->n_hist && ev->hist[i].seq < s->seq; i++) {
        r = ev->hist[i].base;
    }
    for (; i < ev->n_hist; i++) {
        if (ev->hist[i].time < r) {
            r = ev->hist[i].base;
        }
    }
    return r;
}

static void reveal_and_prune(engine *e, int64_t as_of)
{
    const engine_params *p = &e->params;
    int64_t horizon = as_of - (max64(p->rolling_days, p->cal_days) + 30) * ENG_DAY_MS;
    int64_t snap_lo = as_of - p->rolling_days * ENG_DAY_MS;
    size_t k = 0;

    for (size_t i = 0; i < e->n_subs; i++) {
        eng_sub *s = &e->subs[i];
        const eng_hotkey *hk = &e->hks[s->hk];
        /* rows of a past registration are gone for good (scoring §2); so are rows that no
         * window can reach any more */
        if (hk->uid == ENG_NONE || s->t_sub < hk->reg_start || s->t_sub < horizon) {
            free(s->rows);
            continue;
        }
        if (!s->revealed && reveal_at(e, s) <= e->last_time) {
            s->revealed = true;
        }
        e->subs[k++] = *s;
    }
    e->n_subs = k;
    for (size_t i = 0; i < e->n_markets; i++) {
        eng_market *m = &e->markets[i];
        size_t j = 0;
        for (size_t t = 0; t < m->n_snaps; t++) {
            if (m->snaps[t].ts >= snap_lo) {
                m->snaps[j++] = m->snaps[t];
            }
        }
        m->n_snaps = j;
    }
}

/* ---- per-row scores ---- */

/* The result side of market m (scoring §2), or 0 for none, push or void. */
static uint64_t market_result(const engine *e, const eng_market *m)
{
    const eng_event *ev = &e->events[m->ev];
    int64_t h = (int64_t)ev->out_home, a = (int64_t)ev->out_away;

    if (!ev->has_out || ev->status == SCHEMA_POSTPONED || ev->status == SCHEMA_VOID) {
        return 0;
    }
    if (m->kind == SCHEMA_MONEYLINE || m->kind == SCHEMA_DNB) {
        uint64_t r;
        if (ev->out_has_scores) {
            r = h > a ? SCHEMA_HOME : h < a ? SCHEMA_AWAY : SCHEMA_DRAW;
        } else if (ev->out_has_result && ev->out_result != SCHEMA_R_VOID) {
            r = ev->out_result; /* R_HOME/AWAY/DRAW share the side codes */
        } else {
            return 0;
        }
        return m->kind == SCHEMA_DNB && r == SCHEMA_DRAW ? 0 : r;
    }
    if (!ev->out_has_scores || !m->has_line) {
        return 0;
    }
    if (m->kind == SCHEMA_TOTAL) {
        fx_wide tot = (fx_wide)(h + a) * FX_ONE;
        return tot > m->line ? SCHEMA_OVER : tot < m->line ? SCHEMA_UNDER : 0;
    }
    if (m->kind == SCHEMA_SPREAD) {
        /* D7: the home line applies to the home score */
        fx_wide hs = (fx_wide)h * FX_ONE + m->line, as = (fx_wide)a * FX_ONE;
        return hs > as ? SCHEMA_HOME : hs < as ? SCHEMA_AWAY : 0;
    }
    return 0;
}

typedef struct cyc {
    engine *e;
    const schema_scoring_cycle *c;
    int64_t as_of, wr_lo, wc_lo;
    schema_body *bodies;
    size_t n_bodies, cap_bodies;
} cyc;

static schema_body *push_body(cyc *y, unsigned type)
{
    schema_body *g = eng__grow(y->bodies, &y->cap_bodies, y->n_bodies + 1, sizeof(*g));
    if (g == NULL) {
        return NULL;
    }
    y->bodies = g;
    memset(&g[y->n_bodies], 0, sizeof(*g));
    g[y->n_bodies].type = type;
    return &g[y->n_bodies++];
}

static bool row_same(const eng_row *a, const eng_row *b)
{
    return a->has_close == b->has_close && a->has_out == b->has_out &&
           (!a->has_close || memcmp(&a->cm, &b->cm, sizeof(a->cm)) == 0) &&
           (!a->has_out || (a->brier == b->brier && a->logloss == b->logloss && a->pss == b->pss &&
                            a->tf == b->tf && a->pss_adj == b->pss_adj && a->hit == b->hit &&
                            a->settled == b->settled));
}

/* Scores one group (the rows of submission s on market mi: rows[lo, hi)), and emits a
 * SUBMISSION_SCORE for each row whose scores changed. */
static tally_status score_group(cyc *y, eng_sub *s, size_t lo, size_t hi, bool force)
{
    engine *e = y->e;
    const engine_params *p = &e->params;
    eng_market *m = &e->markets[s->rows[lo].market];
    const eng_event *ev = &e->events[m->ev];
    uint64_t rho = market_result(e, m), key_o = 0;
    engine_outcome oc;
    bool scored = false;

    /* S*: the market's sides with a consensus in the CLOSE; the result must be one of them */
    if (m->has_close && rho != 0 && __builtin_popcount(m->close_mask) >= 2) {
        int64_t x[3], pi[3];
        size_t n = 0, r = SIZE_MAX;
        for (int i = 0; i < m->n_sides; i++) {
            if (!(m->close_mask & (1u << i))) {
                continue;
            }
            x[n] = -1;
            for (size_t j = lo; j < hi; j++) {
                if (s->rows[j].side_idx == i) {
                    x[n] = s->rows[j].p;
                }
            }
            pi[n] = m->pi[i];
            r = m->sides[i] == rho ? n : r;
            n++;
        }
        if (r != SIZE_MAX) {
            scored = engine_outcome_metrics(x, pi, n, r, &oc);
            key_o = scored ? ev->out_seq + 1 : 0;
        }
    }
    for (size_t j = lo; j < hi; j++) {
        eng_row *w = &s->rows[j], nw = *w;
        uint64_t key_c = m->has_close && (m->close_mask & (1u << w->side_idx)) ? m->close_seq + 1 : 0;
        uint64_t minutes = ev->start_ms > s->t_sub ? (uint64_t)((ev->start_ms - s->t_sub) / MIN_MS) : 0;
        if (!force && key_c == w->ck_close && key_o == w->ck_out) {
            continue;
        }
        nw.ck_close = key_c, nw.ck_out = key_o;
        nw.has_close = key_c != 0;
        if (nw.has_close) {
            engine_close_metrics(p, w->odds_n, m->pi[w->side_idx], m->omega[w->side_idx],
                                 ev->start_ms, s->t_sub, &nw.cm);
        }
        nw.has_out = scored;
        if (scored) {
            nw.brier = oc.brier, nw.logloss = oc.logloss, nw.pss = oc.pss;
            nw.tf = engine_time_factor(p, minutes); /* D4: minutes from the row and the start */
            nw.pss_adj = engine_pss_adj(p, oc.pss, nw.tf);
            nw.hit = m->sides[w->side_idx] == rho;
            nw.settled = ev->out_time;
        }
        bool changed = !row_same(w, &nw);
        *w = nw;
        if (changed && (nw.has_close || nw.has_out)) {
            schema_body *b = push_body(y, SCHEMA_SUBMISSION_SCORE);
            schema_submission_score *ss;
            if (b == NULL) {
                return TALLY_ENOMEM;
            }
            ss = &b->u.submission_score;
            ss->cycle = y->c->cycle, ss->sub_seq = s->seq, ss->uid = e->hks[s->hk].uid;
            ss->market_id = m->id, ss->side = m->sides[w->side_idx];
            ss->submitted_at_ms = (uint64_t)s->t_sub;
            ss->has_close = nw.has_close, ss->close = nw.cm;
            ss->has_outcome = nw.has_out;
            ss->outcome = (schema_outcome_metrics){nw.brier, nw.logloss, nw.pss, nw.tf, nw.pss_adj,
                                                   nw.hit};
            memcpy(ss->salt, s->salt, 16);
        }
    }
    return TALLY_OK;
}

static tally_status score_rows(cyc *y)
{
    engine *e = y->e;
    bool force = e->params_dirty;

    for (size_t i = 0; i < e->n_subs; i++) {
        eng_sub *s = &e->subs[i];
        size_t lo = 0;
        if (!s->revealed) {
            continue; /* protocol §2.3: its prices are not ours to read yet */
        }
        while (lo < s->n_prices) {
            size_t hi = lo + 1;
            while (hi < s->n_prices && s->rows[hi].market == s->rows[lo].market) {
                hi++;
            }
            if (score_group(y, s, lo, hi, force) != TALLY_OK) {
                return TALLY_ENOMEM;
            }
            lo = hi;
        }
    }
    e->params_dirty = false;
    return TALLY_OK;
}

/* ---- per-miner aggregates ---- */

static int64_t decay(engine *e, int64_t age)
{
    const engine_params *p = &e->params;
    int64_t step = e->decay_step;
    size_t ix;

    if (e->decay_half_life != p->half_life_days || step == 0 ||
        (size_t)(p->rolling_days * ENG_DAY_MS / step) + 1 > e->n_decay) {
        int64_t b = p->odds_bucket_s * 1000, g = ENG_DAY_MS;
        while (b != 0) { /* gcd: every age is a multiple of it */
            int64_t t = g % b;
            g = b, b = t;
        }
        free(e->decay_cache);
        e->n_decay = (size_t)(p->rolling_days * ENG_DAY_MS / g) + 1;
        e->decay_cache = calloc(e->n_decay, sizeof(int64_t));
        e->decay_step = step = g;
        e->decay_half_life = p->half_life_days;
    }
    if (e->decay_cache == NULL || age % step != 0 || (size_t)(age / step) >= e->n_decay) {
        return engine_decay(p, age);
    }
    ix = (size_t)(age / step);
    if (e->decay_cache[ix] == 0) {
        e->decay_cache[ix] = engine_decay(p, age);
    }
    return e->decay_cache[ix];
}

typedef struct mrow { /* a revealed row in W_r, for the originality series */
    uint32_t market;
    uint8_t side_idx;
    int64_t t;
    uint64_t seq;
    int64_t p;
} mrow;

typedef struct mscr {
    uint32_t hk;
    uint64_t uid, n_rows;
    fx_wide n_eff;
    fx_wide ws[5], wt[5];
    schema_miner_score out;
} mscr;

static int by_series(const void *a, const void *b)
{
    const mrow *x = a, *y = b;
    if (x->market != y->market) {
        return x->market < y->market ? -1 : 1;
    }
    if (x->side_idx != y->side_idx) {
        return x->side_idx < y->side_idx ? -1 : 1;
    }
    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct scratch {
    int64_t *cal_p;
    uint8_t *cal_hit;
    size_t n_cal, cap_cal;
    mrow *series;
    size_t n_series, cap_series;
    engine_point *tp, *mp;
    size_t cap_tp, cap_mp;
} scratch;

/* SOS and LEAD (§5.7) over the miner's rows gathered in sc->series. */
static tally_status originality(cyc *y, scratch *sc, mscr *ms)
{
    engine *e = y->e;
    fx_wide sos_sum = 0, lead_sum = 0;
    uint64_t n_sos = 0, n_lead = 0;
    size_t i = 0;

    qsort(sc->series, sc->n_series, sizeof(mrow), by_series);
    while (i < sc->n_series) {
        size_t j = i, nt = 0, nm = 0;
        const eng_market *m = &e->markets[sc->series[i].market];
        uint8_t bit = (uint8_t)(1u << sc->series[i].side_idx);
        engine_pair pr;
        while (j < sc->n_series && sc->series[j].market == sc->series[i].market &&
               sc->series[j].side_idx == sc->series[i].side_idx) {
            j++;
        }
        sc->mp = eng__grow(sc->mp, &sc->cap_mp, j - i, sizeof(engine_point));
        sc->tp = eng__grow(sc->tp, &sc->cap_tp, m->n_snaps + 1, sizeof(engine_point));
        if (sc->mp == NULL || sc->tp == NULL) {
            return TALLY_ENOMEM;
        }
        for (size_t k = i; k < j; k++) {
            sc->mp[nm++] = (engine_point){sc->series[k].t, sc->series[k].seq, sc->series[k].p};
        }
        for (size_t k = 0; k < m->n_snaps; k++) {
            const eng_snap *sn = &m->snaps[k];
            if ((sn->mask & bit) && sn->ts >= y->wr_lo && sn->ts < y->as_of) {
                sc->tp[nt++] = (engine_point){sn->ts, sn->seq, sn->pi[sc->series[i].side_idx]};
            }
        }
        engine_series_pair(&e->params, sc->tp, nt, sc->mp, nm, &pr);
        if (pr.has_sos) {
            sos_sum += pr.sos, n_sos++;
        }
        if (pr.has_lead) {
            lead_sum += pr.lead, n_lead++;
        }
        i = j;
    }
    ms->out.stats[S_SOS] = (schema_opt_n){n_sos > 0, n_sos ? fx_div(sos_sum, (fx_wide)n_sos) : 0};
    ms->out.stats[S_LEAD] =
        (schema_opt_n){n_lead > 0, n_lead ? fx_div(lead_sum, (fx_wide)n_lead) : 0};
    return TALLY_OK;
}

static int64_t mean_or(fx_wide ws, fx_wide wt, int64_t dflt)
{
    return wt > 0 ? fx_div(ws * FX_ONE, wt) : dflt;
}

/* Pass over one miner's submissions (sorted by seq): §5.3 sums, calibration pairs, series. */
static tally_status miner_pass(cyc *y, scratch *sc, mscr *ms, const uint32_t *subs, size_t n)
{
    engine *e = y->e;
    const engine_params *p = &e->params;
    fx_wide var = 0;
    int64_t es_mean;

    sc->n_cal = 0, sc->n_series = 0;
    for (size_t k = 0; k < n; k++) {
        eng_sub *s = &e->subs[subs[k]];
        bool in_wr = s->t_sub >= y->wr_lo && s->t_sub < y->as_of;
        int64_t w = in_wr ? decay(e, y->as_of - s->t_sub) : 0;
        if (in_wr) {
            /* unrevealed rows count here through the header's `rows` alone (§5.3) */
            ms->n_rows += s->n_rows;
            ms->n_eff += (fx_wide)w * s->n_rows;
        }
        if (!s->revealed) {
            continue;
        }
        for (size_t j = 0; j < s->n_prices; j++) {
            const eng_row *r = &s->rows[j];
            if (in_wr && r->has_close) {
                ms->ws[A_CLE] += fx_mul(w, r->cm.cle), ms->wt[A_CLE] += w;
                ms->ws[A_MES] += fx_mul(w, r->cm.mes), ms->wt[A_MES] += w;
            }
            if (in_wr && r->has_out) {
                ms->ws[A_PSS] += fx_mul(w, r->pss_adj), ms->wt[A_PSS] += w;
                ms->ws[A_BRIER] += fx_mul(w, r->brier), ms->wt[A_BRIER] += w;
                ms->ws[A_FQ] += fx_mul(w, FX_ONE - 2 * r->brier), ms->wt[A_FQ] += w;
            }
            if (r->has_out && r->settled >= y->wc_lo && r->settled < y->as_of) {
                if (sc->n_cal == sc->cap_cal) {
                    size_t cap = sc->cap_cal ? 2 * sc->cap_cal : 256;
                    int64_t *gp = realloc(sc->cal_p, cap * sizeof(*gp));
                    uint8_t *gh = gp ? realloc(sc->cal_hit, cap) : NULL;
                    if (gp != NULL) {
                        sc->cal_p = gp;
                    }
                    if (gh == NULL) {
                        return TALLY_ENOMEM;
                    }
                    sc->cal_hit = gh, sc->cap_cal = cap;
                }
                sc->cal_p[sc->n_cal] = r->p, sc->cal_hit[sc->n_cal++] = r->hit;
            }
            if (in_wr) {
                mrow *g = eng__grow(sc->series, &sc->cap_series, sc->n_series + 1, sizeof(*g));
                if (g == NULL) {
                    return TALLY_ENOMEM;
                }
                sc->series = g;
                g[sc->n_series++] = (mrow){r->market, r->side_idx, s->t_sub, s->seq, r->p};
            }
        }
    }
    if (ms->n_rows == 0) {
        return TALLY_OK;
    }
    /* es_std: two passes, the squares summed exactly at scale 10^27 */
    es_mean = mean_or(ms->ws[A_CLE], ms->wt[A_CLE], 0);
    for (size_t k = 0; k < n; k++) {
        eng_sub *s = &e->subs[subs[k]];
        if (!s->revealed || s->t_sub < y->wr_lo || s->t_sub >= y->as_of) {
            continue;
        }
        int64_t w = decay(e, y->as_of - s->t_sub);
        for (size_t j = 0; j < s->n_prices; j++) {
            if (s->rows[j].has_close) {
                fx_wide d = s->rows[j].cm.cle - es_mean;
                var += (fx_wide)w * d * d;
            }
        }
    }
    schema_miner_score *o = &ms->out;
    int64_t es_std = ms->wt[A_CLE] > 0 ? (int64_t)fx_sqrt_ratio((fx_uwide)var,
                                                                (fx_uwide)ms->wt[A_CLE])
                                       : 0;
    o->stats[S_ES_MEAN] = (schema_opt_n){true, es_mean};
    o->stats[S_ES_STD] = (schema_opt_n){true, es_std};
    o->stats[S_ES_ADJ] = (schema_opt_n){true, es_std > 1000000 ? fx_div((fx_wide)es_mean * FX_ONE,
                                                                        es_std)
                                                               : 0};
    o->stats[S_MES_MEAN] = (schema_opt_n){true, mean_or(ms->ws[A_MES], ms->wt[A_MES], 0)};
    o->stats[S_PSS_MEAN] = (schema_opt_n){true, mean_or(ms->ws[A_PSS], ms->wt[A_PSS], 0)};
    o->stats[S_BRIER_MEAN] =
        (schema_opt_n){true, mean_or(ms->ws[A_BRIER], ms->wt[A_BRIER], FX_ONE / 2)};
    o->stats[S_FQ_RAW] = (schema_opt_n){true, FX_ONE - 2 * o->stats[S_BRIER_MEAN].v};
    {
        int64_t a, b;
        o->stats[S_CAL] = (schema_opt_n){true, engine_calibration(p, sc->cal_p, sc->cal_hit,
                                                                  sc->n_cal, &a, &b)};
        o->stats[S_SHARP] = (schema_opt_n){true, engine_sharpness(p, sc->cal_p, sc->n_cal)};
    }
    if (ms->n_rows >= (uint64_t)p->min_orig) {
        return originality(y, sc, ms);
    }
    return TALLY_OK;
}

/* ---- population, dimensions, weights ---- */

static tally_status population(cyc *y, mscr *ms, size_t n)
{
    const engine_params *p = &y->e->params;
    int64_t *in = malloc((n ? n : 1) * 3 * sizeof(int64_t)), *ne, *out;
    tally_status st = TALLY_OK;

    if (in == NULL) {
        return TALLY_ENOMEM;
    }
    ne = in + n, out = in + 2 * n;
    for (size_t i = 0; i < n; i++) {
        ne[i] = (int64_t)ms[i].n_eff;
    }
    static const int pairs[3][2] = {{S_PSS_MEAN, S_PSS_SHRUNK}, {S_MES_MEAN, S_MES_SHRUNK},
                                    {S_FQ_RAW, S_FQ_SHRUNK}};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < n; i++) {
            in[i] = ms[i].out.stats[pairs[k][0]].v;
        }
        engine_shrink(p, in, ne, n, out, NULL);
        for (size_t i = 0; i < n; i++) {
            ms[i].out.stats[pairs[k][1]] = (schema_opt_n){true, out[i]};
        }
    }
    for (size_t i = 0; i < n; i++) {
        in[i] = ms[i].out.stats[S_PSS_SHRUNK].v;
    }
    engine_normalise(p, in, n, out);
    for (size_t i = 0; i < n; i++) {
        ms[i].out.norms[N_PSS] = out[i];
        in[i] = ms[i].out.stats[S_ES_ADJ].v;
    }
    engine_normalise(p, in, n, out);
    for (size_t i = 0; i < n; i++) {
        schema_miner_score *o = &ms[i].out;
        const schema_opt_n *sos = &o->stats[S_SOS], *lead = &o->stats[S_LEAD];
        o->norms[N_ES] = out[i];
        o->norms[N_FQ] = clamp01(fx_div((fx_wide)o->stats[S_FQ_SHRUNK].v + FX_ONE, 2));
        o->norms[N_CAL] = clamp01(o->stats[S_CAL].v);
        o->norms[N_MES] = clamp01(o->stats[S_MES_SHRUNK].v);
        o->norms[N_SOS] = clamp01(sos->has ? sos->v : FX_ONE / 2);
        o->norms[N_LEAD] = clamp01(lead->has ? lead->v : FX_ONE / 2);
        o->dims[0] = fx_div((fx_wide)p->w_fq * o->norms[N_FQ] + (fx_wide)p->w_cal * o->norms[N_CAL],
                            FX_ONE);
        o->dims[1] = o->norms[N_PSS];
        o->dims[2] = fx_div((fx_wide)p->w_edge * o->norms[N_ES] + (fx_wide)p->w_mes * o->norms[N_MES],
                            FX_ONE);
        o->dims[3] = fx_div((fx_wide)p->w_sos * o->norms[N_SOS] +
                                (fx_wide)p->w_lead * o->norms[N_LEAD], FX_ONE);
        o->skill = fx_div((fx_wide)p->w_forecast * o->dims[0] + (fx_wide)p->w_skill * o->dims[1] +
                              (fx_wide)p->w_econ * o->dims[2] + (fx_wide)p->w_info * o->dims[3],
                          FX_ONE);
    }
    free(in);
    return st;
}

static tally_status weights(cyc *y, const mscr *ms, size_t n_ms, engine_block *blk)
{
    engine *e = y->e;
    size_t n = e->n_uids, nz = 0, m = 0;
    int64_t *s = calloc(n ? n : 1, 3 * sizeof(int64_t)), *x, *yv;
    uint64_t *w16 = calloc(n ? n : 1, sizeof(uint64_t));
    uint32_t *cand = calloc(n ? n : 1, sizeof(uint32_t));
    fx_wide sum = 0;
    int64_t burn = -1, br = e->params.burn_rate;
    tally_status st = TALLY_OK;

    if (s == NULL || w16 == NULL || cand == NULL) {
        st = TALLY_ENOMEM;
        goto done;
    }
    x = s + n, yv = s + 2 * n;
    for (size_t i = 0; i < n_ms; i++) {
        s[ms[i].uid] = ms[i].out.skill;
        sum += ms[i].out.skill;
    }
    if (e->has_owner) {
        for (size_t u = 0; u < n; u++) {
            if (e->uid_hk[u] != ENG_NONE && memcmp(e->hks[e->uid_hk[u]].hotkey, e->owner, 32) == 0) {
                burn = (int64_t)u;
            }
        }
    }
    /* §7.2: r overwrites s in place */
    if (sum == 0) {
        if (burn < 0) {
            goto done; /* no WEIGHTS record */
        }
        memset(s, 0, n * sizeof(int64_t));
        s[burn] = FX_ONE;
    } else if (br > 0 && burn >= 0) {
        for (size_t u = 0; u < n; u++) {
            s[u] = (int64_t)u == burn ? br : fx_div((fx_wide)s[u] * (FX_ONE - br), sum);
        }
    } else {
        for (size_t u = 0; u < n; u++) {
            s[u] = fx_div((fx_wide)s[u] * FX_ONE, sum);
        }
    }
    /* §7.3 */
    for (size_t u = 0; u < n; u++) {
        nz += s[u] > 0;
    }
    for (size_t u = 0; u < n; u++) {
        if (nz < e->min_allowed) {
            cand[m] = (uint32_t)u, x[m++] = s[u] + 10000; /* padding 10^-5 */
        } else if (s[u] > 0) {
            cand[m] = (uint32_t)u, x[m++] = s[u];
        }
    }
    if (m == 0) {
        goto done;
    }
    engine_maxweight(x, m, (int64_t)e->max_weight_limit, 65535, yv);
    engine_u16(yv, m, w16);
    {
        struct engine_block_mem *mem = blk->mem_;
        size_t k = 0;
        schema_body *b;
        mem->uids = malloc(m * sizeof(uint64_t));
        mem->weights = malloc(m * sizeof(uint64_t));
        b = push_body(y, SCHEMA_WEIGHTS);
        if (mem->uids == NULL || mem->weights == NULL || b == NULL) {
            st = TALLY_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < m; i++) {
            if (w16[i] > 0) {
                mem->uids[k] = cand[i], mem->weights[k++] = w16[i];
            }
        }
        b->u.weights = (schema_weights){.cycle = y->c->cycle, .netuid = e->netuid,
                                        .uids = mem->uids, .n_uids = k,
                                        .weights = mem->weights, .n_weights = k};
        blk->has_weights = true;
    }
done:
    free(s);
    free(w16);
    free(cand);
    return st;
}

static tally_status miners(cyc *y, engine_block *blk)
{
    engine *e = y->e;
    size_t n_hk = e->n_hks, n_ms = 0;
    uint32_t *start = calloc(n_hk + 1, sizeof(uint32_t)), *order = NULL;
    mscr *ms = calloc(e->n_uids ? e->n_uids : 1, sizeof(*ms));
    scratch sc = {0};
    tally_status st = TALLY_OK;

    if (start == NULL || ms == NULL) {
        st = TALLY_ENOMEM;
        goto done;
    }
    /* the submissions of each hotkey, in seq order (counting sort) */
    for (size_t i = 0; i < e->n_subs; i++) {
        start[e->subs[i].hk + 1]++;
    }
    for (size_t k = 0; k < n_hk; k++) {
        start[k + 1] += start[k];
    }
    order = malloc((e->n_subs ? e->n_subs : 1) * sizeof(uint32_t));
    if (order == NULL) {
        st = TALLY_ENOMEM;
        goto done;
    }
    {
        uint32_t *fill = calloc(n_hk + 1, sizeof(uint32_t));
        if (fill == NULL) {
            st = TALLY_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < e->n_subs; i++) {
            uint32_t hk = e->subs[i].hk;
            order[start[hk] + fill[hk]++] = (uint32_t)i;
        }
        free(fill);
    }
    for (size_t u = 0; u < e->n_uids && st == TALLY_OK; u++) {
        uint32_t hk = e->uid_hk[u];
        mscr *m = &ms[n_ms];
        if (hk == ENG_NONE) {
            continue;
        }
        memset(m, 0, sizeof(*m));
        m->hk = hk, m->uid = u;
        st = miner_pass(y, &sc, m, order + start[hk], start[hk + 1] - start[hk]);
        if (st == TALLY_OK && m->n_rows > 0) {
            n_ms++; /* population P: at least one row in the rolling window */
        }
    }
    if (st == TALLY_OK) {
        st = population(y, ms, n_ms);
    }
    for (size_t i = 0; st == TALLY_OK && i < n_ms; i++) {
        schema_body *b = push_body(y, SCHEMA_MINER_SCORE);
        schema_miner_score *o;
        if (b == NULL) {
            st = TALLY_ENOMEM;
            break;
        }
        o = &b->u.miner_score;
        *o = ms[i].out;
        o->cycle = y->c->cycle, o->uid = ms[i].uid, o->as_of_ms = (uint64_t)y->as_of;
        memcpy(o->hotkey, e->hks[ms[i].hk].hotkey, 32);
        o->n_rows = ms[i].n_rows;
        o->n_eff = (int64_t)ms[i].n_eff;
        for (int k = 0; k < 5; k++) {
            o->acc[k] = (schema_acc){(int64_t)ms[i].ws[k], (int64_t)ms[i].wt[k]};
        }
        blk->n_miners++;
    }
    if (st == TALLY_OK) {
        st = weights(y, ms, n_ms, blk);
    }
done:
    free(start);
    free(order);
    free(ms);
    free(sc.cal_p);
    free(sc.cal_hit);
    free(sc.series);
    free(sc.tp);
    free(sc.mp);
    return st;
}

tally_status engine_cycle(engine *e, uint64_t seq, const schema_header *h,
                          const schema_scoring_cycle *c, engine_block *out)
{
    cyc y = {.e = e, .c = c};
    tally_status st;
    schema_body *b;

    memset(out, 0, sizeof(*out));
    (void)h;
    if (c->covers_to != e->next_seq || seq < c->covers_to) {
        return TALLY_EINVAL;
    }
    out->mem_ = calloc(1, sizeof(*out->mem_));
    if (out->mem_ == NULL) {
        return TALLY_ENOMEM;
    }
    y.as_of = (int64_t)c->as_of_ms;
    y.wr_lo = y.as_of - e->params.rolling_days * ENG_DAY_MS;
    y.wc_lo = y.as_of - e->params.cal_days * ENG_DAY_MS;
    reveal_and_prune(e, y.as_of);
    st = eng__state_write(e, c, &out->state, &out->state_len);
    if (st == TALLY_OK) {
        schema_sha256_2(out->state_hash, out->state, out->state_len, NULL, 0);
        st = score_rows(&y);
    }
    if (st == TALLY_OK) {
        out->n_scores = y.n_bodies;
        st = miners(&y, out);
    }
    if (st == TALLY_OK && (b = push_body(&y, SCHEMA_STATE_HASH)) == NULL) {
        st = TALLY_ENOMEM;
    }
    if (st == TALLY_OK) {
        b->u.state_hash.cycle = c->cycle;
        memcpy(b->u.state_hash.state_hash, out->state_hash, 32);
        b->u.state_hash.state_len = out->state_len;
    }
    out->bodies = y.bodies, out->n = y.n_bodies;
    if (st != TALLY_OK) {
        engine_block_release(out);
    }
    return st;
}

void engine_block_set_inputs_hash(engine_block *b, const uint8_t (*leaf)[32])
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->bodies[i].type == SCHEMA_WEIGHTS) {
            schema_sha256_2(b->bodies[i].u.weights.inputs_hash, b->n_miners ? leaf[0] : NULL,
                            32 * b->n_miners, NULL, 0);
        }
    }
}

void engine_block_release(engine_block *b)
{
    if (b == NULL) {
        return;
    }
    if (b->mem_ != NULL) {
        free(b->mem_->uids);
        free(b->mem_->weights);
        free(b->mem_);
    }
    free(b->bodies);
    free(b->state);
    memset(b, 0, sizeof(*b));
}

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

typedef struct truth_series { /* a market side's snapshots in W_r, bucketed (§5.7) */
    bool done;
    engine_point *pts;
    size_t n;
} truth_series;

typedef struct cyc {
    engine *e;
    const schema_scoring_cycle *c;
    int64_t as_of, wr_lo, wc_lo;
    truth_series *truth; /* 3 per market, built on first use in this cycle */
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

/* engine_time_factor, memoised by minute (a pure function of the minute and three params). */
static int64_t time_factor(engine *e, uint64_t minutes)
{
    const engine_params *p = &e->params;

    if (minutes >= (uint64_t)p->tw_max) {
        return engine_time_factor(p, minutes);
    }
    if (e->tf_cache == NULL || e->tf_min != p->tw_min || e->tf_max != p->tw_max ||
        e->tf_floor != p->tw_floor) {
        free(e->tf_cache);
        e->tf_cache = calloc((size_t)p->tw_max + 1, sizeof(int64_t));
        e->tf_min = p->tw_min, e->tf_max = p->tw_max, e->tf_floor = p->tw_floor;
        if (e->tf_cache == NULL) {
            return engine_time_factor(p, minutes);
        }
    }
    if (e->tf_cache[minutes] == 0) {
        e->tf_cache[minutes] = engine_time_factor(p, minutes) + 1;
    }
    return e->tf_cache[minutes] - 1;
}

static uint64_t close_key(const eng_market *m)
{
    return m->has_close ? m->close_seq + 1 : 0;
}

static uint64_t out_key(const eng_event *ev)
{
    return ev->has_out ? ev->out_seq + 1 : 0;
}

/* Scores one group (the rows of submission s on one market: rows[lo, hi)) from the current close
 * and result; with y, emits a SUBMISSION_SCORE for each row that has a score. */
static tally_status score_group(engine *e, cyc *y, eng_sub *s, size_t lo, size_t hi)
{
    const engine_params *p = &e->params;
    eng_market *m = &e->markets[s->rows[lo].market];
    const eng_event *ev = &e->events[m->ev];
    uint64_t rho = market_result(e, m);
    uint64_t minutes = ev->start_ms > s->t_sub ? (uint64_t)((ev->start_ms - s->t_sub) / MIN_MS) : 0;
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
        }
    }
    for (size_t j = lo; j < hi; j++) {
        eng_row *w = &s->rows[j];
        w->has_close = m->has_close && (m->close_mask & (1u << w->side_idx));
        if (w->has_close) {
            engine_close_metrics(p, w->odds_n, m->pi[w->side_idx], m->omega[w->side_idx],
                                 ev->start_ms, s->t_sub, &w->cm);
            w->cle = w->cm.cle, w->mes = w->cm.mes;
        }
        w->has_out = scored;
        if (scored) {
            w->brier = oc.brier, w->logloss = oc.logloss, w->pss = oc.pss;
            w->tf = time_factor(e, minutes); /* D4: minutes from the row and the start */
            w->pss_adj = engine_pss_adj(p, oc.pss, w->tf);
            w->hit = m->sides[w->side_idx] == rho;
            w->settled = ev->out_time;
        }
        if (y != NULL && (w->has_close || w->has_out)) {
            schema_body *b = push_body(y, SCHEMA_SUBMISSION_SCORE);
            schema_submission_score *ss;
            if (b == NULL) {
                return TALLY_ENOMEM;
            }
            ss = &b->u.submission_score;
            ss->cycle = y->c->cycle, ss->sub_seq = s->seq, ss->uid = e->hks[s->hk].uid;
            ss->market_id = m->id, ss->side = m->sides[w->side_idx];
            ss->submitted_at_ms = (uint64_t)s->t_sub;
            ss->has_close = w->has_close, ss->close = w->cm;
            ss->has_outcome = w->has_out;
            ss->outcome = (schema_outcome_metrics){w->brier, w->logloss, w->pss, w->tf, w->pss_adj,
                                                   w->hit};
            memcpy(ss->salt, s->salt, 16);
        }
    }
    return TALLY_OK;
}

/* Calls fn on each group of a submission's rows (rows of one market are adjacent). */
static tally_status each_group(engine *e, cyc *y, eng_sub *s, bool only_changed, bool force)
{
    size_t lo = 0;

    while (lo < s->n_prices) {
        size_t hi = lo + 1;
        const eng_market *m = &e->markets[s->rows[lo].market];
        const eng_event *ev = &e->events[m->ev];
        while (hi < s->n_prices && s->rows[hi].market == s->rows[lo].market) {
            hi++;
        }
        /* a row's scores change only with its market's close, its event (start, status,
         * result) or the parameters; a newly revealed submission is scored whole */
        if (!only_changed || force || !s->scored || m->em_close != close_key(m) ||
            ev->em_out != out_key(ev) || ev->em_hist != ev->n_hist) {
            if (score_group(e, y, s, lo, hi) != TALLY_OK) {
                return TALLY_ENOMEM;
            }
        }
        lo = hi;
    }
    return TALLY_OK;
}

void eng__rescore(engine *e, eng_sub *s)
{
    tally_status st = each_group(e, NULL, s, false, true);
    TALLY_ASSERT(st == TALLY_OK); /* no emission: nothing to allocate */
}

/* Whether a revealed submission's rows may score differently from the last cycle. */
static bool sub_changed(const engine *e, const eng_sub *s, bool force)
{
    const eng_event *ev = &e->events[s->ev];
    return force || !s->scored || ev->em_out != out_key(ev) || ev->em_hist != ev->n_hist ||
           ev->em_closes != ev->closes;
}

static tally_status score_rows(cyc *y)
{
    engine *e = y->e;
    bool force = e->params_dirty;
    size_t bound = e->n_uids + 2;

    /* reserve the block once: at most one SUBMISSION_SCORE per row that may change */
    for (size_t i = 0; i < e->n_subs; i++) {
        if (e->subs[i].revealed && sub_changed(e, &e->subs[i], force)) {
            bound += e->subs[i].n_prices;
        }
    }
    y->bodies = eng__grow(y->bodies, &y->cap_bodies, bound, sizeof(schema_body));
    if (y->bodies == NULL) {
        return TALLY_ENOMEM;
    }

    for (size_t i = 0; i < e->n_subs; i++) {
        eng_sub *s = &e->subs[i];
        if (!s->revealed) {
            continue; /* protocol §2.3: its prices are not ours to read yet */
        }
        /* nothing of its event changed since the last cycle: its rows keep their scores */
        if (!sub_changed(e, s, force)) {
            continue;
        }
        if (each_group(e, y, s, true, force) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        s->scored = true;
    }
    for (size_t i = 0; i < e->n_markets; i++) {
        e->markets[i].em_close = close_key(&e->markets[i]);
    }
    for (size_t i = 0; i < e->n_events; i++) {
        e->events[i].em_out = out_key(&e->events[i]);
        e->events[i].em_hist = e->events[i].n_hist;
        e->events[i].em_closes = e->events[i].closes;
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
    fx_wide s_wc, s_wcc; /* Σ w·cle and Σ w·cle², exact, for es_std */
    fx_wide ws[5], wt[5];
    /* calibration pairs as bins (§5.5) and sums (§5.6): counts, hits, Σp; k, Σp, Σp² */
    uint64_t cal_cnt[64], cal_hit[64], cal_psum[64], cal_k;
    fx_wide cal_s, cal_s2;
    struct orig_cand *cand; /* revealed submissions in W_r, for originality */
    size_t n_cand, cap_cand;
    struct orig_row *orows; /* their prices, copied while hot in the sequential pass */
    size_t n_orows, cap_orows;
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
    mrow *series;
    size_t n_series, cap_series;
    engine_point *mp;
    size_t cap_mp;
} scratch;

static const truth_series *truth_of(cyc *y, uint32_t market, uint8_t side_idx)
{
    truth_series *t = &y->truth[3 * (size_t)market + side_idx];
    const eng_market *m = &y->e->markets[market];

    if (!t->done) {
        t->done = true;
        t->pts = malloc((m->n_snaps ? m->n_snaps : 1) * sizeof(engine_point));
        if (t->pts == NULL) {
            return NULL;
        }
        for (size_t k = 0; k < m->n_snaps; k++) {
            const eng_snap *sn = &m->snaps[k];
            if ((sn->mask & (1u << side_idx)) && sn->ts >= y->wr_lo && sn->ts < y->as_of) {
                t->pts[t->n++] = (engine_point){sn->ts, sn->seq, sn->pi[side_idx]};
            }
        }
        t->n = eng__bucketise(&y->e->params, t->pts, t->n);
    }
    return t->pts ? t : NULL;
}

typedef struct orig_cand { /* an originality candidate: its sort key, and its rows in orows */
    uint32_t ev, first, n;
    int64_t t;
    uint64_t seq;
} orig_cand;

typedef struct orig_row {
    uint32_t market;
    uint8_t side_idx;
    int64_t p;
} orig_row;

static int by_event_time(const void *a, const void *b)
{
    const orig_cand *x = a, *y = b;
    if (x->ev != y->ev) {
        return x->ev < y->ev ? -1 : 1;
    }
    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* SOS and LEAD (§5.7) over the miner's candidate submissions. A (market, side) series needs two
 * buckets, so two submissions on the event: only events the miner priced twice are examined. */
static tally_status originality(cyc *y, scratch *sc, mscr *ms)
{
    engine *e = y->e;
    fx_wide sos_sum = 0, lead_sum = 0;
    uint64_t n_sos = 0, n_lead = 0;
    size_t g = 0;

    if (ms->n_cand > 1) {
        qsort(ms->cand, ms->n_cand, sizeof(orig_cand), by_event_time);
    }
    while (g < ms->n_cand) {
        size_t h = g + 1, i = 0;
        while (h < ms->n_cand && ms->cand[h].ev == ms->cand[g].ev) {
            h++;
        }
        sc->n_series = 0;
        for (size_t k = g; h - g >= 2 && k < h; k++) {
            const orig_cand *c = &ms->cand[k];
            mrow *gr = eng__grow(sc->series, &sc->cap_series, sc->n_series + c->n + 1,
                                 sizeof(mrow));
            if (gr == NULL) {
                return TALLY_ENOMEM;
            }
            sc->series = gr;
            for (size_t j = 0; j < c->n; j++) {
                const orig_row *o = &ms->orows[c->first + j];
                gr[sc->n_series++] = (mrow){o->market, o->side_idx, c->t, c->seq, o->p};
            }
        }
        g = h;
        if (sc->n_series > 1) {
            qsort(sc->series, sc->n_series, sizeof(mrow), by_series);
        }
        while (i < sc->n_series) {
            size_t j = i, nm = 0;
            const truth_series *t;
            engine_pair pr;
            while (j < sc->n_series && sc->series[j].market == sc->series[i].market &&
                   sc->series[j].side_idx == sc->series[i].side_idx) {
                j++;
            }
            sc->mp = eng__grow(sc->mp, &sc->cap_mp, j - i + 1, sizeof(engine_point));
            t = truth_of(y, sc->series[i].market, sc->series[i].side_idx);
            if (sc->mp == NULL || t == NULL) {
                return TALLY_ENOMEM;
            }
            for (size_t k = i; k < j; k++) {
                sc->mp[nm++] = (engine_point){sc->series[k].t, sc->series[k].seq, sc->series[k].p};
            }
            nm = eng__bucketise(&e->params, sc->mp, nm);
            eng__series_bucketed(&e->params, t->pts, t->n, sc->mp, nm, &pr);
            if (pr.has_sos) {
                sos_sum += pr.sos, n_sos++;
            }
            if (pr.has_lead) {
                lead_sum += pr.lead, n_lead++;
            }
            i = j;
        }
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

/* round(w·x) in nanos for a decay weight 0 < w ≤ 1 and any x: fx_mul, inlined for the hot loop
 * (the product of two nanos values almost always fits 64 bits unsigned). */
static inline int64_t mul_w(int64_t w, int64_t x)
{
    uint64_t ax = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
    fx_uwide prod = (fx_uwide)(uint64_t)w * ax;
    uint64_t m, q, r;

    if (prod >> 64 != 0) {
        return fx_mul(w, x);
    }
    m = (uint64_t)prod, q = m / 1000000000u, r = m - q * 1000000000u;
    q += (r > 500000000u) | ((r == 500000000u) & q & 1u);
    return x < 0 ? -(int64_t)q : (int64_t)q;
}

/* §5.3 sums, calibration bins and originality candidates of every hotkey, in one pass over the
 * submissions in seq order (exact integer sums: the order changes nothing, and memory is read
 * in sequence). ms is indexed by hotkey. */
static tally_status sum_pass(cyc *y, mscr *ms)
{
    engine *e = y->e;
    int64_t nb = e->params.num_bins;

    for (size_t k = 0; k < e->n_subs; k++) {
        eng_sub *s = &e->subs[k];
        mscr *m = &ms[s->hk];
        bool in_wr = s->t_sub >= y->wr_lo && s->t_sub < y->as_of;
        int64_t w = in_wr ? decay(e, y->as_of - s->t_sub) : 0;
        if (in_wr) {
            /* unrevealed rows count here through the header's `rows` alone (§5.3) */
            m->n_rows += s->n_rows;
            m->n_eff += (fx_wide)w * s->n_rows;
        }
        if (!s->revealed) {
            continue;
        }
        if (in_wr) {
            struct orig_cand *g = eng__grow(m->cand, &m->cap_cand, m->n_cand + 1, sizeof(*g));
            struct orig_row *o = eng__grow(m->orows, &m->cap_orows, m->n_orows + s->n_prices + 1,
                                           sizeof(*o));
            if (g == NULL || o == NULL) {
                m->cand = g ? g : m->cand, m->orows = o ? o : m->orows;
                return TALLY_ENOMEM;
            }
            m->cand = g, m->orows = o;
            g[m->n_cand++] = (struct orig_cand){s->ev, (uint32_t)m->n_orows, s->n_prices, s->t_sub,
                                                s->seq};
            for (size_t j = 0; j < s->n_prices; j++) {
                o[m->n_orows++] = (struct orig_row){s->rows[j].market, s->rows[j].side_idx,
                                                    s->rows[j].p};
            }
        }
        for (size_t j = 0; j < s->n_prices; j++) {
            const eng_row *r = &s->rows[j];
            if (in_wr && r->has_close) {
                m->ws[A_CLE] += mul_w(w, r->cle), m->wt[A_CLE] += w;
                m->ws[A_MES] += mul_w(w, r->mes), m->wt[A_MES] += w;
                m->s_wc += (fx_wide)w * r->cle, m->s_wcc += (fx_wide)w * r->cle * r->cle;
            }
            if (in_wr && r->has_out) {
                m->ws[A_PSS] += mul_w(w, r->pss_adj), m->wt[A_PSS] += w;
                m->ws[A_BRIER] += mul_w(w, r->brier), m->wt[A_BRIER] += w;
                m->ws[A_FQ] += mul_w(w, FX_ONE - 2 * r->brier), m->wt[A_FQ] += w;
            }
            if (r->has_out && r->settled >= y->wc_lo && r->settled < y->as_of) {
                int64_t bin = (int64_t)(((fx_wide)r->p * nb) / FX_ONE);
                bin = bin < nb - 1 ? bin : nb - 1;
                m->cal_cnt[bin]++, m->cal_hit[bin] += r->hit, m->cal_psum[bin] += (uint64_t)r->p;
                m->cal_k++, m->cal_s += r->p, m->cal_s2 += (fx_wide)r->p * r->p;
            }
        }
    }
    return TALLY_OK;
}

/* A miner's statistics from its sums (§5.3, §5.5, §5.6). */
static void miner_stats(cyc *y, mscr *m)
{
    const engine_params *p = &y->e->params;
    schema_miner_score *o = &m->out;
    int64_t es_mean = mean_or(m->ws[A_CLE], m->wt[A_CLE], 0), a, b, es_std = 0;
    /* Σ w·(cle − es_mean)² at scale 10^27, exactly: Σw·c² − 2·m·Σw·c + m²·Σw */
    fx_wide var = m->s_wcc - 2 * (fx_wide)es_mean * m->s_wc + (fx_wide)es_mean * es_mean * m->wt[A_CLE];

    if (m->wt[A_CLE] > 0) {
        es_std = (int64_t)fx_sqrt_ratio((fx_uwide)var, (fx_uwide)m->wt[A_CLE]);
    }
    o->stats[S_ES_MEAN] = (schema_opt_n){true, es_mean};

    o->stats[S_ES_STD] = (schema_opt_n){true, es_std};
    o->stats[S_ES_ADJ] = (schema_opt_n){true, es_std > 1000000 ? fx_div((fx_wide)es_mean * FX_ONE,
                                                                        es_std)
                                                               : 0};
    o->stats[S_MES_MEAN] = (schema_opt_n){true, mean_or(m->ws[A_MES], m->wt[A_MES], 0)};
    o->stats[S_PSS_MEAN] = (schema_opt_n){true, mean_or(m->ws[A_PSS], m->wt[A_PSS], 0)};
    o->stats[S_BRIER_MEAN] =
        (schema_opt_n){true, mean_or(m->ws[A_BRIER], m->wt[A_BRIER], FX_ONE / 2)};
    o->stats[S_FQ_RAW] = (schema_opt_n){true, FX_ONE - 2 * o->stats[S_BRIER_MEAN].v};
    o->stats[S_CAL] = (schema_opt_n){true, eng__calibration_bins(p, m->cal_cnt, m->cal_hit,
                                                                 m->cal_psum, m->cal_k, &a, &b)};
    o->stats[S_SHARP] = (schema_opt_n){true, eng__sharpness_sums(p, m->cal_k, m->cal_s,
                                                                 m->cal_s2)};
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
    uint32_t *uids_c = calloc(n ? n : 1, sizeof(uint32_t));
    fx_wide sum = 0;
    int64_t burn = -1, br = e->params.burn_rate;
    tally_status st = TALLY_OK;

    if (s == NULL || w16 == NULL || uids_c == NULL) {
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
            uids_c[m] = (uint32_t)u, x[m++] = s[u] + 10000; /* padding 10^-5 */
        } else if (s[u] > 0) {
            uids_c[m] = (uint32_t)u, x[m++] = s[u];
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
                mem->uids[k] = uids_c[i], mem->weights[k++] = w16[i];
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
    free(uids_c);
    return st;
}

static tally_status miners(cyc *y, engine_block *blk)
{
    engine *e = y->e;
    size_t n_ms = 0;
    mscr *by_hk = calloc(e->n_hks + 1, sizeof(*by_hk)), *ms = NULL;
    scratch sc = {0};
    tally_status st = by_hk ? sum_pass(y, by_hk) : TALLY_ENOMEM;

    if (st == TALLY_OK) {
        ms = calloc(e->n_uids ? e->n_uids : 1, sizeof(*ms));
        st = ms ? TALLY_OK : TALLY_ENOMEM;
    }
    /* population P, by uid: registered, with at least one row in the rolling window */
    for (size_t u = 0; st == TALLY_OK && u < e->n_uids; u++) {
        uint32_t hk = e->uid_hk[u];
        if (hk == ENG_NONE || by_hk[hk].n_rows == 0) {
            continue;
        }
        mscr *m = &ms[n_ms++];
        *m = by_hk[hk];
        by_hk[hk].cand = NULL, by_hk[hk].orows = NULL; /* moved */
        m->hk = hk, m->uid = u;
        miner_stats(y, m);
        if (m->n_rows >= (uint64_t)e->params.min_orig) {
            st = originality(y, &sc, m);
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
    for (size_t i = 0; by_hk != NULL && i < e->n_hks; i++) {
        free(by_hk[i].cand);
        free(by_hk[i].orows);
    }
    for (size_t i = 0; ms != NULL && i < n_ms; i++) {
        free(ms[i].cand);
        free(ms[i].orows);
    }
    free(by_hk);
    free(ms);
    free(sc.series);
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
    y.truth = calloc(3 * e->n_markets + 1, sizeof(*y.truth));
    if (y.truth == NULL) {
        engine_block_release(out);
        return TALLY_ENOMEM;
    }
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
    for (size_t i = 0; i < 3 * e->n_markets; i++) {
        free(y.truth[i].pts);
    }
    free(y.truth);
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

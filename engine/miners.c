/* The per-miner half of a cycle (scoring §5–§7): one sequential pass over the submissions for
 * every miner's decay-weighted sums and calibration bins, originality against the snapshots,
 * shrinkage and normalisation across the population, the dimensions and skill score, and the
 * weight vector. Miners are taken by uid. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

static int64_t clamp01(int64_t x)
{
    return x < 0 ? 0 : x > FX_ONE ? FX_ONE : x;
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

typedef struct calbin { /* one calibration bin (§5.5): pairs, hits, Σp */
    uint64_t cnt, hit, psum;
} calbin;

/* A miner's cycle. What the row pass updates for each submission comes first, in a few cache
 * lines, and the calibration bins live in one table of the cycle (num_bins each), so that the
 * pass, which visits the miners in submission order, touches little memory per visit. */
typedef struct mscr {
    uint64_t n_rows;
    fx_wide n_eff;
    fx_wide ws[5], wt[5];
    fx_wide s_wc, s_wcc; /* Σ w·cle and Σ w·cle², exact, for es_std */
    /* calibration pairs as bins (§5.5) and sums (§5.6): k, Σp, Σp² */
    uint64_t cal_k;
    fx_wide cal_s, cal_s2;
    calbin *bins;
    struct orig_cand *cand; /* revealed submissions in W_r, for originality */
    size_t n_cand, cap_cand;
    struct orig_row *orows; /* their prices, copied while hot in the sequential pass */
    size_t n_orows, cap_orows;
    uint32_t hk;
    uint64_t uid;
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
    uint32_t *head; /* by event: 1 + the miner's first candidate on it, 0 for none (n_events) */
    uint32_t *next; /* by candidate: 1 + the next candidate on its event, 0 for none */
    size_t cap_next;
    uint8_t *mk_in; /* by market: 0 not checked yet, 1 every snapshot in W_r, 2 not */
} scratch;

/* The series rows of one event in by_series order: an insertion sort for the usual few rows, the
 * library's sort beyond. The key is a total order (a submission prices a market side once), so
 * both give the one sorted order. */
static void sort_series(mrow *r, size_t n)
{
    if (n > 48) {
        qsort(r, n, sizeof(*r), by_series);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        mrow x = r[i];
        size_t j = i;
        while (j > 0 && by_series(&r[j - 1], &x) > 0) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
}

static const truth_series *truth_of(eng_cycle *y, uint32_t market, uint8_t side_idx)
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

/* Whether every snapshot of market i lies in W_r of this cycle (checked once per cycle). */
static bool market_in_window(eng_cycle *y, scratch *sc, uint32_t i)
{
    if (sc->mk_in[i] == 0) {
        const eng_market *m = &y->e->markets[i];
        sc->mk_in[i] = 1;
        for (size_t k = 0; k < m->n_snaps; k++) {
            if (m->snaps[k].ts < y->wr_lo || m->snaps[k].ts >= y->as_of) {
                sc->mk_in[i] = 2;
                break;
            }
        }
    }
    return sc->mk_in[i] == 1;
}

/* The memo of event ev among the first n (sorted) of a hotkey's, or NULL. */
static eng_omemo *omemo_find(eng_omemo_set *set, size_t n, uint32_t ev)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->v[mid].ev < ev) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && set->v[lo].ev == ev ? &set->v[lo] : NULL;
}

/* Whether a memo still gives the group of these candidate seqs its sums (eng_omemo). */
static bool omemo_holds(eng_cycle *y, scratch *sc, const eng_omemo *mo, const uint64_t *seq,
                        size_t n_seq)
{
    if (mo->n_seq != n_seq || memcmp(mo->seq, seq, n_seq * sizeof(*seq)) != 0) {
        return false;
    }
    for (uint32_t k = 0; k < mo->n_mk; k++) {
        const eng_market *m = &y->e->markets[mo->mk[k].market];
        if (m->snap_ver != mo->mk[k].ver || m->n_snaps != mo->mk[k].n_snaps ||
            !market_in_window(y, sc, mo->mk[k].market)) {
            return false;
        }
    }
    return true;
}

static int by_ev(const void *a, const void *b)
{
    const eng_omemo *x = a, *y = b;
    return x->ev < y->ev ? -1 : x->ev > y->ev;
}

/* A hotkey's memo set, made on first use; NULL when out of memory (then nothing is memoised:
 * the memo only saves time). */
static eng_omemo_set *omemo_set(engine *e, uint32_t hk)
{
    if (hk >= e->n_omemo) {
        size_t n = e->n_hks > hk ? e->n_hks : (size_t)hk + 1;
        eng_omemo_set *g = realloc(e->omemo, n * sizeof(*g));
        if (g == NULL) {
            return NULL;
        }
        memset(g + e->n_omemo, 0, (n - e->n_omemo) * sizeof(*g));
        e->omemo = g, e->n_omemo = n;
    }
    return &e->omemo[hk];
}

void eng__omemo_clear(engine *e)
{
    for (size_t i = 0; i < e->n_omemo; i++) {
        free(e->omemo[i].v);
        e->omemo[i] = (eng_omemo_set){0};
    }
}

/* SOS and LEAD (§5.7) over the miner's candidate submissions. A (market, side) series needs two
 * buckets, so two submissions on the event: only events the miner priced twice are examined.
 * Each event's group is summed on its own (the sums are exact, so grouping changes nothing) and
 * memoised for the next cycle (eng_omemo). */
static tally_status originality(eng_cycle *y, scratch *sc, mscr *ms)
{
    engine *e = y->e;
    fx_wide sos_sum = 0, lead_sum = 0;
    uint64_t n_sos = 0, n_lead = 0;
    eng_omemo_set *set = omemo_set(e, ms->hk);
    size_t n_sorted = set ? set->n : 0, g = 0;

    /* the candidates of each event, chained in their order; events in the order of their first
     * candidate (the sums below are exact, so the order of the events changes nothing) */
    sc->next = eng__grow(sc->next, &sc->cap_next, ms->n_cand + 1, sizeof(uint32_t));
    if (sc->next == NULL) {
        return TALLY_ENOMEM;
    }
    for (size_t k = ms->n_cand; k-- > 0;) {
        sc->next[k] = sc->head[ms->cand[k].ev];
        sc->head[ms->cand[k].ev] = (uint32_t)k + 1;
    }
    for (; g < ms->n_cand; g++) {
        uint32_t ev = ms->cand[g].ev, first = sc->head[ev], mks[ENG_OMEMO_MKTS];
        uint64_t seq[ENG_OMEMO_SEQS], gn_sos = 0, gn_lead = 0;
        fx_wide g_sos = 0, g_lead = 0;
        size_t i = 0, n_seq = 0, n_mk = 0;
        bool keep = set != NULL;
        eng_omemo *mo;
        sc->head[ev] = 0; /* taken: the group is examined once, and the table is clear after */
        if (first == 0 || sc->next[first - 1] == 0) {
            continue; /* a later candidate of a group already examined, or a single one */
        }
        for (uint32_t k = first; k != 0; k = sc->next[k - 1], n_seq++) {
            if (n_seq < ENG_OMEMO_SEQS) {
                seq[n_seq] = ms->cand[k - 1].seq;
            }
        }
        keep = keep && n_seq <= ENG_OMEMO_SEQS;
        mo = keep ? omemo_find(set, n_sorted, ev) : NULL;
        if (mo != NULL && omemo_holds(y, sc, mo, seq, n_seq)) {
            mo->seen = true;
            sos_sum += mo->sos_sum, n_sos += mo->n_sos;
            lead_sum += mo->lead_sum, n_lead += mo->n_lead;
            continue;
        }
        sc->n_series = 0;
        for (uint32_t k = first; k != 0; k = sc->next[k - 1]) {
            const orig_cand *c = &ms->cand[k - 1];
            mrow *gr = eng__grow(sc->series, &sc->cap_series, sc->n_series + c->n + 1,
                                 sizeof(mrow));
            if (gr == NULL) {
                return TALLY_ENOMEM; /* the cycle fails: the table is not used again */
            }
            sc->series = gr;
            for (size_t j = 0; j < c->n; j++) {
                const orig_row *o = &ms->orows[c->first + j];
                gr[sc->n_series++] = (mrow){o->market, o->side_idx, c->t, c->seq, o->p};
            }
        }
        sort_series(sc->series, sc->n_series);
        while (i < sc->n_series) {
            size_t j = i, nm = 0;
            const truth_series *t;
            engine_pair pr;
            uint32_t mk = sc->series[i].market;
            while (j < sc->n_series && sc->series[j].market == mk &&
                   sc->series[j].side_idx == sc->series[i].side_idx) {
                j++;
            }
            if (n_mk == 0 || mks[n_mk - 1] != mk) { /* sorted by market: each market once */
                keep = keep && n_mk < ENG_OMEMO_MKTS && market_in_window(y, sc, mk);
                if (keep) {
                    mks[n_mk++] = mk;
                }
            }
            sc->mp = eng__grow(sc->mp, &sc->cap_mp, j - i + 1, sizeof(engine_point));
            t = truth_of(y, mk, sc->series[i].side_idx);
            if (sc->mp == NULL || t == NULL) {
                return TALLY_ENOMEM;
            }
            for (size_t k = i; k < j; k++) {
                sc->mp[nm++] = (engine_point){sc->series[k].t, sc->series[k].seq, sc->series[k].p};
            }
            nm = eng__bucketise(&e->params, sc->mp, nm);
            eng__series_bucketed(&e->params, t->pts, t->n, sc->mp, nm, &pr);
            if (pr.has_sos) {
                g_sos += pr.sos, gn_sos++;
            }
            if (pr.has_lead) {
                g_lead += pr.lead, gn_lead++;
            }
            i = j;
        }
        sos_sum += g_sos, n_sos += gn_sos, lead_sum += g_lead, n_lead += gn_lead;
        if (keep && mo == NULL) {
            eng_omemo *v = eng__grow(set->v, &set->cap, set->n + 1, sizeof(*v));
            if (v != NULL) {
                set->v = v, mo = &v[set->n++];
            }
        }
        if (keep && mo != NULL) {
            mo->ev = ev, mo->n_seq = (uint32_t)n_seq, mo->n_mk = (uint32_t)n_mk, mo->seen = true;
            memcpy(mo->seq, seq, n_seq * sizeof(*seq));
            for (size_t k = 0; k < n_mk; k++) {
                const eng_market *m = &e->markets[mks[k]];
                mo->mk[k].market = mks[k], mo->mk[k].n_snaps = m->n_snaps;
                mo->mk[k].ver = m->snap_ver;
            }
            mo->sos_sum = g_sos, mo->n_sos = gn_sos, mo->lead_sum = g_lead, mo->n_lead = gn_lead;
        }
    }
    if (set != NULL) { /* keep the memos this cycle met, sorted by event for the next */
        size_t k = 0, n_old = 0;
        for (size_t j = 0; j < set->n; j++) {
            if (set->v[j].seen) {
                n_old += j < n_sorted;
                if (k != j) {
                    set->v[k] = set->v[j];
                }
                set->v[k++].seen = false;
            }
        }
        set->n = k;
        /* the few new ones (after the n_old kept, still sorted) go to their places */
        for (size_t j = n_old; j < set->n; j++) {
            eng_omemo x = set->v[j];
            size_t at = j;
            while (at > 0 && by_ev(&set->v[at - 1], &x) > 0) {
                at--;
            }
            memmove(&set->v[at + 1], &set->v[at], (j - at) * sizeof(x));
            set->v[at] = x;
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

/* What the row pass reads of the cycle, in locals the compiler need not reload after each store
 * to a miner's sums. */
typedef struct cwin {
    int64_t wc_lo, as_of, nb;
} cwin;

/* Σ round(w·x) over the rows of one submission in 128 bits: the slow path of sum_rows, taken
 * only when a 64-bit sum overflows. */
static void sum_rounded_wide(const eng_row *rows, uint32_t n, int64_t w, fx_wide ws[5])
{
    for (uint32_t j = 0; j < n; j++) {
        const eng_row *r = &rows[j];
        if (r->has_close) {
            ws[A_CLE] += mul_w(w, r->cle), ws[A_MES] += mul_w(w, r->mes);
        }
        if (r->has_out) {
            ws[A_PSS] += mul_w(w, r->pss_adj), ws[A_BRIER] += mul_w(w, r->brier);
            ws[A_FQ] += mul_w(w, FX_ONE - 2 * r->brier);
        }
    }
}

/* Adds the rows of one submission to its miner's sums; w is its decay weight, 0 outside W_r.
 * Only the rounded terms round(w·x) are summed row by row (the spec rounds each), in 64 bits
 * with the overflow checked so the sums stay in registers; the exact sums (Σw over rows, Σw·cle,
 * Σw·cle²) are w times the submission's own sums, the same integers added in another order. */
static inline void sum_rows(mscr *m, const eng_row *rows, uint32_t n, int64_t w, const cwin *cw)
{
    int64_t ws[5] = {0}, c1 = 0, n_close = 0, n_out = 0;
    fx_wide c2 = 0, cal_s = 0, cal_s2 = 0;
    uint64_t cal_k = 0;
    bool ovf = false;

    for (uint32_t j = 0; j < n; j++) {
        const eng_row *r = &rows[j];
        if (w != 0 && r->has_close) {
            ovf |= __builtin_add_overflow(ws[A_CLE], mul_w(w, r->cle), &ws[A_CLE]);
            ovf |= __builtin_add_overflow(ws[A_MES], mul_w(w, r->mes), &ws[A_MES]);
            ovf |= __builtin_add_overflow(c1, r->cle, &c1);
            c2 += (fx_wide)r->cle * r->cle, n_close++;
        }
        if (w != 0 && r->has_out) {
            ovf |= __builtin_add_overflow(ws[A_PSS], mul_w(w, r->pss_adj), &ws[A_PSS]);
            ovf |= __builtin_add_overflow(ws[A_BRIER], mul_w(w, r->brier), &ws[A_BRIER]);
            ovf |= __builtin_add_overflow(ws[A_FQ], mul_w(w, FX_ONE - 2 * r->brier), &ws[A_FQ]);
            n_out++;
        }
        if (r->has_out && r->settled >= cw->wc_lo && r->settled < cw->as_of) {
            /* p·nb fits 64 bits for any real probability: keep the 128-bit division (a library
             * call) for the rest */
            int64_t bin = r->p >= 0 && r->p < ((int64_t)1 << 57)
                              ? r->p * cw->nb / FX_ONE
                              : (int64_t)(((fx_wide)r->p * cw->nb) / FX_ONE);
            bin = bin < cw->nb - 1 ? bin : cw->nb - 1;
            m->bins[bin].cnt++, m->bins[bin].hit += r->hit, m->bins[bin].psum += (uint64_t)r->p;
            cal_k++, cal_s += r->p, cal_s2 += (fx_wide)r->p * r->p;
        }
    }
    m->cal_k += cal_k, m->cal_s += cal_s, m->cal_s2 += cal_s2;
    if (ovf) {
        fx_wide wide[5] = {0}, s1 = 0;
        sum_rounded_wide(rows, n, w, wide);
        for (uint32_t j = 0; j < n; j++) {
            s1 += rows[j].has_close ? rows[j].cle : 0;
        }
        for (int k = 0; k < 5; k++) {
            m->ws[k] += wide[k];
        }
        m->s_wc += (fx_wide)w * s1;
    } else {
        for (int k = 0; k < 5; k++) {
            m->ws[k] += ws[k];
        }
        m->s_wc += (fx_wide)w * c1;
    }
    m->wt[A_CLE] += (fx_wide)w * n_close, m->wt[A_MES] += (fx_wide)w * n_close;
    m->wt[A_PSS] += (fx_wide)w * n_out, m->wt[A_BRIER] += (fx_wide)w * n_out;
    m->wt[A_FQ] += (fx_wide)w * n_out;
    m->s_wcc += (fx_wide)w * c2;
}

/* §5.3 sums, calibration bins and originality candidates of every hotkey, in one pass over the
 * submissions in seq order (exact integer sums: the order changes nothing, and memory is read
 * in sequence). ms is indexed by hotkey. */
static tally_status sum_pass(eng_cycle *y, mscr *ms)
{
    engine *e = y->e;
    const cwin cw = {y->wc_lo, y->as_of, e->params.num_bins};

    /* the originality candidates of each hotkey, counted first so each array is allocated once */
    for (size_t k = 0; k < e->n_subs; k++) {
        const eng_sub *s = &e->subs[k];
        if (s->revealed && s->t_sub >= y->wr_lo && s->t_sub < y->as_of) {
            ms[s->hk].cap_cand++, ms[s->hk].cap_orows += s->n_prices;
        }
    }
    for (size_t i = 0; i < e->n_hks; i++) {
        mscr *m = &ms[i];
        if (m->cap_cand > 0) {
            m->cand = malloc(m->cap_cand * sizeof(*m->cand));
            m->orows = malloc((m->cap_orows + 1) * sizeof(*m->orows));
            if (m->cand == NULL || m->orows == NULL) {
                return TALLY_ENOMEM;
            }
            m->cap_orows++;
        }
    }
    for (size_t k = 0; k < e->n_subs; k++) {
        const eng_sub *s = &e->subs[k];
        const eng_row *rows;
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
        rows = eng__rows(e, s);
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
                o[m->n_orows++] = (struct orig_row){rows[j].market, rows[j].side_idx, rows[j].p};
            }
        }
        sum_rows(m, rows, s->n_prices, in_wr ? w : 0, &cw);
    }
    return TALLY_OK;
}

/* A miner's statistics from its sums (§5.3, §5.5, §5.6). */
static void miner_stats(eng_cycle *y, mscr *m)
{
    const engine_params *p = &y->e->params;
    schema_miner_score *o = &m->out;
    int64_t es_mean = mean_or(m->ws[A_CLE], m->wt[A_CLE], 0), a, b, es_std = 0;
    /* Σ w·(cle − es_mean)² at scale 10^27, exactly: Σw·c² − 2·m·Σw·c + m²·Σw */
    fx_wide var = m->s_wcc - 2 * (fx_wide)es_mean * m->s_wc + (fx_wide)es_mean * es_mean * m->wt[A_CLE];
    uint64_t cnt[64], hit[64], psum[64]; /* num_bins ≤ 64 (schema/params.c) */

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
    for (int64_t i = 0; i < p->num_bins; i++) {
        cnt[i] = m->bins[i].cnt, hit[i] = m->bins[i].hit, psum[i] = m->bins[i].psum;
    }
    o->stats[S_CAL] =
        (schema_opt_n){true, eng__calibration_bins(p, cnt, hit, psum, m->cal_k, &a, &b)};
    o->stats[S_SHARP] = (schema_opt_n){true, eng__sharpness_sums(p, m->cal_k, m->cal_s,
                                                                 m->cal_s2)};
}

/* ---- population, dimensions, weights ---- */

static tally_status population(eng_cycle *y, mscr *ms, size_t n)
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

static tally_status weights(eng_cycle *y, const mscr *ms, size_t n_ms, engine_block *blk)
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
        b = eng__push_body(y, SCHEMA_WEIGHTS);
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

tally_status eng__miners(eng_cycle *y, engine_block *blk)
{
    engine *e = y->e;
    size_t n_ms = 0;
    size_t nb = (size_t)e->params.num_bins;
    mscr *by_hk = calloc(e->n_hks + 1, sizeof(*by_hk)), *ms = NULL;
    calbin *bins = calloc((e->n_hks + 1) * nb, sizeof(*bins));
    scratch sc = {.head = calloc(e->n_events + 1, sizeof(uint32_t)),
                  .mk_in = calloc(e->n_markets + 1, 1)};
    tally_status st = TALLY_ENOMEM;

    if (by_hk != NULL && bins != NULL && sc.head != NULL && sc.mk_in != NULL) {
        for (size_t i = 0; i < e->n_hks; i++) {
            by_hk[i].bins = bins + i * nb;
        }
        st = sum_pass(y, by_hk);
    }

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
        schema_body *b = eng__push_body(y, SCHEMA_MINER_SCORE);
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
    free(bins);
    free(sc.series);
    free(sc.mp);
    free(sc.head);
    free(sc.next);
    free(sc.mk_in);
    return st;
}

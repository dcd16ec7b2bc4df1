/* The auditor side: replay recomputes every cycle's derived block from the inputs and compares
 * it byte for byte with the log, judges every record by the acceptance rules, and names the
 * first record that differs; in the gated view it reads only what an authenticated auditor may
 * (protocol §2.3). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/ledger_int.h"

/* Names the first field where two bodies of one type differ, through their JSON views. */
static void diff_fields(const schema_body *want, const schema_body *got, char *out, size_t cap)
{
    char *wj = NULL, *gj = NULL;
    json_t *w = NULL, *g = NULL;
    const char *key;
    json_t *val;

    snprintf(out, cap, "body bytes differ");
    if (schema_body_to_json(want, &wj) != TALLY_OK || schema_body_to_json(got, &gj) != TALLY_OK ||
        (w = json_loads(wj, 0, NULL)) == NULL || (g = json_loads(gj, 0, NULL)) == NULL) {
        goto done;
    }
    json_object_foreach(w, key, val) {
        json_t *o = json_object_get(g, key);
        if (o == NULL || !json_equal(val, o)) {
            char *a = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
            char *b = o ? json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            snprintf(out, cap, "field %s: expected %.200s, found %.200s", key, a ? a : "?",
                     b ? b : "(absent)");
            free(a);
            free(b);
            break;
        }
    }
done:
    json_decref(w);
    json_decref(g);
    free(wj);
    free(gj);
}

typedef struct rp {
    store_log *log;
    engine *e;
    const ledger_replay_cfg *cfg;
    ledger_replay_result *res;
    engine_block blk; /* the block being compared */
    bool expecting;
    uint64_t expect_from;
    size_t pos;
    uint8_t (*leaf)[32]; /* leaf hashes of the log's MINER_SCOREs of this block */
    uint8_t *prev_state; /* state of the previous cycle, for a cycle whose covers_to is behind */
    size_t prev_len;
    schema_scoring_cycle prev_c;
    schema_header prev_h;
    uint64_t prev_seq;
    bool has_prev;
    bool cyc_weights;         /* the block being compared has a WEIGHTS record, at this seq */
    uint64_t cyc_weights_seq;
    engine_rules *rules; /* the acceptance rules, judged on every record read */
    const engine_rules *gate; /* the gated view: rules (for reveal times), else NULL */
    ledger__fetcher ef;               /* the engine's source of bodies taken at their reveal */
    ledger__fetcher rf;               /* bodies judged by the rules at their reveal */
    struct memo *memo;                /* bodies rf read this cycle, kept for the engine */
    size_t n_memo, memo_at;
} rp;

/* The gated view reads each body due at a cycle's cut twice: for the rules (judge_reveals,
 * through rf) and then for the engine (engine_cycle, through ef), in the same ascending order.
 * The second read would go over the same records again (leaf hashes, packs, header decode,
 * body hash, body decode) to return what the first one returned. So what judge_reveals read
 * and checked is kept, up to MEMO_MAX records, and the engine's fetch takes it from here:
 * the same header and the body decoded from the same bytes, checked once. ef's own rule for
 * what the view may read at its cut is still applied to each (ledger__fetch's, below). */
#define MEMO_MAX 4096u

typedef struct memo {
    uint64_t seq;
    schema_header h;
    schema_body b;
} memo;

static void memo_clear(rp *p)
{
    for (size_t i = 0; i < p->n_memo; i++) {
        schema_body_release(&p->memo[i].b);
    }
    p->n_memo = p->memo_at = 0;
}

static void memo_free(rp *p)
{
    memo_clear(p);
    free(p->memo);
    p->memo = NULL;
}

/* Keeps (h, b) of record seq, taking b (zeroed here) when there is room; else leaves it. */
static void memo_keep(rp *p, uint64_t seq, const schema_header *h, schema_body *b)
{
    if (p->n_memo >= MEMO_MAX) {
        return;
    }
    if (p->memo == NULL && (p->memo = malloc(MEMO_MAX * sizeof(*p->memo))) == NULL) {
        return; /* the engine then reads the body itself */
    }
    p->memo[p->n_memo] = (memo){.seq = seq, .h = *h, .b = *b};
    p->n_memo++;
    memset(b, 0, sizeof(*b));
}

/* The engine's fetch (an engine_fetch_fn over the rp): a body kept by judge_reveals when there
 * is one for seq, else ledger__fetch through ef. */
static tally_status engine_fetch(uint64_t seq, void *arg, schema_header *h, schema_body *b)
{
    rp *p = arg;
    memo *m = NULL;

    /* asked for in ascending seq, as they were kept: a cursor finds each */
    while (p->memo_at < p->n_memo && p->memo[p->memo_at].seq < seq) {
        p->memo_at++;
    }
    if (p->memo_at < p->n_memo && p->memo[p->memo_at].seq == seq &&
        p->memo[p->memo_at].b.type != 0) {
        m = &p->memo[p->memo_at];
    }
    if (m == NULL) {
        return ledger__fetch(seq, &p->ef, h, b);
    }
    *h = m->h;
    memset(b, 0, sizeof(*b));
    /* ledger__fetch's rule for the gated view: no private body, an embargoed one only once its
     * reveal is due by the cut (fetch.c) */
    if (p->ef.gate != NULL) {
        uint64_t at;
        if (h->tier == SCHEMA_PRIVATE ||
            (h->tier == SCHEMA_EMBARGOED &&
             (engine_rules_reveal_at(p->ef.gate, seq, h, &at) != TALLY_OK || at > p->ef.cut))) {
            return TALLY_ENOTFOUND;
        }
    }
    *b = m->b; /* the engine releases it */
    memset(&m->b, 0, sizeof(m->b));
    return TALLY_OK;
}

static void mismatch(rp *p, ledger_divergence kind, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void mismatch(rp *p, ledger_divergence kind, uint64_t seq, const char *fmt, ...)
{
    ledger_replay_result *r = p->res;
    va_list ap;

    if (r->mismatch) {
        return;
    }
    r->mismatch = true;
    r->kind = kind;
    r->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof(r->what), fmt, ap);
    va_end(ap);
}

static const char *tname(uint64_t type)
{
    const char *n = schema_type_name((unsigned)type);
    return n ? n : "record of unknown type";
}

/* time_ms of record seq. */
static tally_status time_of(store_log *log, uint64_t seq, uint64_t *out)
{
    schema_header h;
    tally_status st = ledger__header_at(log, seq, &h);

    *out = st == TALLY_OK ? h.time_ms : 0;
    return st;
}

/* The gated view at time cut: every pending embargoed record whose reveal is due is read now
 * and its body judged by the rules at its own position. A due body the log does not hold, or
 * one that does not match its header, is a divergence (withholding). With p->res NULL (a
 * trusted prefix) verdicts are not reported. */
static tally_status judge_reveals(rp *p, uint64_t cut)
{
    uint64_t *due;
    size_t n;
    tally_status st = engine_rules_due(p->rules, cut, &due, &n);

    memo_clear(p);
    for (size_t i = 0; st == TALLY_OK && i < n; i++) {
        schema_header h;
        schema_body b;
        engine_verdict v;
        st = ledger__fetch(due[i], &p->rf, &h, &b);
        if (st == TALLY_ECORRUPT || st == TALLY_EFORMAT || st == TALLY_ENOTFOUND) {
            if (p->res != NULL) {
                mismatch(p, LEDGER_DIV_WITHHELD, due[i], "%s: its body is due since its reveal but %s", tname(h.type),
                         st == TALLY_ENOTFOUND ? "is not in the log"
                                               : "is missing or does not match its header");
            }
            st = TALLY_OK;
            break;
        }
        if (st == TALLY_OK) {
            st = engine_rules_reveal(p->rules, due[i], &b, &v);
        }
        if (st == TALLY_OK) {
            memo_keep(p, due[i], &h, &b); /* for the engine's read of the same record */
        }
        schema_body_release(&b);
        if (st == TALLY_OK && v.rule != ENGINE_RULE_OK && p->res != NULL) {
            mismatch(p, LEDGER_DIV_RULE, due[i], "%s: rule %s (judged at its reveal): %s", tname(h.type),
                     engine_rule_name(v.rule), v.detail);
            break;
        }
    }
    free(due);
    return st;
}

/* Folds records [engine_rules_size(r), to) into r without judging them, reading bodies as the
 * view may (the rules' state at a cycle's covers_to, for its checkpoint section). */
static tally_status rules_fold_view(rp *p, engine_rules *r, uint64_t to)
{
    return p->gate == NULL ? ledger_rules_fold(p->log, r, to)
                           : ledger__rules_fold_gated(p->log, p->gate, r, to);
}

/* The first seq whose time is at least t (records' times never decrease), in [0, size]. */
static tally_status first_at(store_log *log, uint64_t size, uint64_t t, uint64_t *out)
{
    uint64_t lo = 0, hi = size;

    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2, tm;
        tally_status st = time_of(log, mid, &tm);
        if (st != TALLY_OK) {
            return st;
        }
        if (tm < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *out = lo;
    return TALLY_OK;
}

/* The rules' state of a checkpoint (its section, vouched for by the STATE_HASH), with what
 * depends on the view rebuilt from the records of its last 31 days: bodies as the view reads
 * them at the checkpoint's cut. */
static tally_status rules_from_checkpoint(rp *p, const uint8_t *state, size_t n)
{
    engine_rules *r;
    store_iter *it = NULL;
    store_record rec;
    schema_header h;
    schema_body b;
    uint64_t cut, from = 0, size;
    tally_status st = engine_rules_from_state(state, n, &r);

    if (st != TALLY_OK) {
        return st;
    }
    size = engine_rules_size(r), cut = engine_rules_last_time(r);
    if (cut > 31 * SCHEMA_DAY_MS) {
        st = first_at(p->log, size, cut - 31 * SCHEMA_DAY_MS, &from);
    }
    if (st == TALLY_OK && from < size) {
        st = store_iter_open(p->log, from, &it);
    }
    while (st == TALLY_OK && it != NULL &&
           (st = store_iter_read(it, false, &rec, &h, &b)) == TALLY_OK && rec.seq < size) {
        bool body = false;
        uint64_t at;
        if (h.type == SCHEMA_ATTESTATION || h.tier == SCHEMA_EMBARGOED) {
            body = p->gate == NULL ||
                   (h.tier != SCHEMA_EMBARGOED ||
                    (engine_rules_reveal_at(r, rec.seq, &h, &at) == TALLY_OK && at <= cut));
        }
        if (body) {
            st = store_record_body(&rec, &h, &b);
        }
        if (st == TALLY_OK) {
            st = engine_rules_restore(r, rec.seq, &h, body ? &b : NULL, p->gate != NULL, cut);
        }
        schema_body_release(&b);
    }
    store_iter_close(it);
    if (st == TALLY_ENOTFOUND || (st == TALLY_OK && (it == NULL || rec.seq >= size))) {
        st = TALLY_OK;
    }
    if (st != TALLY_OK) {
        engine_rules_free(r);
        return st;
    }
    engine_rules_free(p->rules);
    p->rules = r;
    if (p->gate != NULL) {
        p->gate = r, p->ef.gate = r;
    }
    return TALLY_OK;
}

/* A cycle whose covers_to lies before records already folded: rebuild the state at covers_to
 * from the previous cycle's checkpoint (or from genesis), then fold up to the cycle. */
static tally_status rewind_to(rp *p, uint64_t covers_to)
{
    engine *e = NULL;
    tally_status st;

    if (p->has_prev && p->prev_c.covers_to <= covers_to) {
        engine_block b;
        uint64_t cut = 0;
        st = p->prev_c.covers_to ? time_of(p->log, p->prev_c.covers_to - 1, &cut) : TALLY_OK;
        if (st == TALLY_OK) {
            st = ledger__load_state(p->log, p->gate, cut, p->prev_state, p->prev_len, &e);
        }
        if (st == TALLY_OK) {
            engine_set_fetch(e, engine_fetch, p);
        }
        if (st == TALLY_OK) {
            st = engine_cycle(e, p->prev_seq, &p->prev_h, &p->prev_c, &b);
            engine_block_release(&b);
        }
    } else {
        st = engine_new(&e);
        if (st == TALLY_OK) {
            engine_set_fetch(e, engine_fetch, p);
        }
    }
    if (st == TALLY_OK) {
        st = ledger__fold_range(p->log, p->gate, e, covers_to);
    }
    if (st != TALLY_OK) {
        engine_free(e);
        return st;
    }
    engine_free(p->e);
    p->e = e;
    return TALLY_OK;
}

static tally_status on_cycle(rp *p, uint64_t seq, const schema_header *h, const schema_body *b)
{
    const schema_scoring_cycle *c = &b->u.scoring_cycle;
    uint64_t resume_at = engine_next_seq(p->e);
    tally_status st = TALLY_OK;

    if (c->covers_to > seq) {
        mismatch(p, LEDGER_DIV_RULE, seq, "SCORING_CYCLE: covers_to %llu lies beyond the cycle itself",
                 (unsigned long long)c->covers_to);
        return TALLY_OK;
    }
    /* the gated view: what is revealed within the cycle's inputs (§2.3) becomes readable now,
     * and the rules judge what they could not judge from the header */
    if (p->gate != NULL && c->covers_to > 0) {
        uint64_t cut;
        st = time_of(p->log, c->covers_to - 1, &cut);
        if (st == TALLY_OK) {
            p->ef.cut = cut;
            st = judge_reveals(p, cut);
        }
        if (st != TALLY_OK || p->res->mismatch) {
            return st;
        }
    }
    if (c->covers_to != engine_next_seq(p->e)) {
        st = rewind_to(p, c->covers_to);
    }
    /* the checkpoint carries the rules' state at covers_to: the replay's own when it stands
     * there (it always does for a node's cycle), else one rebuilt from the previous cycle's */
    engine_rules *at = NULL;
    if (st == TALLY_OK && engine_rules_size(p->rules) != c->covers_to) {
        st = p->has_prev && p->prev_c.covers_to <= c->covers_to
                 ? engine_rules_from_state(p->prev_state, p->prev_len, &at)
                 : engine_rules_new(&at);
        if (st == TALLY_OK) {
            st = rules_fold_view(p, at, c->covers_to);
        }
    }
    engine_attach_rules(p->e, at != NULL ? at : p->rules);
    engine_block_release(&p->blk);
    if (st == TALLY_OK) {
        st = engine_cycle(p->e, seq, h, c, &p->blk);
    }
    memo_clear(p); /* what the engine did not take, it will not ask for again */
    engine_attach_rules(p->e, NULL);
    engine_rules_free(at);
    if (st != TALLY_OK) {
        return st;
    }
    /* keep this cycle's state for a later cycle that would need it */
    free(p->prev_state);
    p->prev_state = malloc(p->blk.state_len ? p->blk.state_len : 1);
    if (p->prev_state == NULL) {
        return TALLY_ENOMEM;
    }
    memcpy(p->prev_state, p->blk.state, p->blk.state_len);
    p->prev_len = p->blk.state_len, p->prev_c = *c, p->prev_h = *h, p->prev_seq = seq;
    p->prev_c.code_version = (tally_str){NULL, 0};
    p->has_prev = true;
    /* records between covers_to and the cycle were folded before (or, after a rewind, are
     * folded now): inputs of the next cycle */
    if (resume_at > engine_next_seq(p->e)) {
        st = ledger__fold_range(p->log, p->gate, p->e, seq);
    }
    free(p->leaf);
    p->leaf = calloc(p->blk.n_miners + 1, sizeof(*p->leaf));
    p->expecting = true, p->expect_from = seq + 1, p->pos = 0;
    p->cyc_weights = false, p->cyc_weights_seq = 0;
    p->res->cycles++;
    p->res->last_cycle = c->cycle;
    memcpy(p->res->state_hash, p->blk.state_hash, 32);
    return p->leaf ? st : TALLY_ENOMEM;
}

/* Compares a derived record with the block's next expected body; returns that body when they
 * are the same bytes, else NULL after naming the difference. */
static const schema_body *on_derived(rp *p, const store_record *r, const schema_header *h)
{
    const char *tn = tname(h->type);
    uint8_t want[SCHEMA_BODY_MAX];
    size_t n;
    schema_body *exp;

    if (!p->expecting || r->seq < p->expect_from || p->pos >= p->blk.n) {
        mismatch(p, LEDGER_DIV_DERIVED, r->seq, "unexpected %s: no cycle computes a record here", tn);
        return NULL;
    }
    exp = &p->blk.bodies[p->pos];
    if (exp->type == SCHEMA_WEIGHTS) {
        engine_block_set_inputs_hash(&p->blk, (const uint8_t(*)[32])p->leaf);
    }
    if (exp->type != h->type) {
        mismatch(p, LEDGER_DIV_DERIVED, r->seq, "%s found where %s was expected", tn, tname(exp->type));
        return NULL;
    }
    if (schema_body_encode(exp, want, sizeof(want), &n) != TALLY_OK) {
        mismatch(p, LEDGER_DIV_DERIVED, r->seq, "%s: the expected body does not encode", tn);
        return NULL;
    }
    if (r->body.p != NULL) {
        uint8_t got[32];
        schema_sha256_2(got, r->body.p, r->body.n, NULL, 0);
        if (memcmp(got, h->body_hash, 32) != 0) {
            mismatch(p, LEDGER_DIV_DERIVED, r->seq, "%s: its body does not match its header's body_hash", tn);
            return NULL;
        }
    }
    if (r->body.p == NULL || n != r->body.n || memcmp(want, r->body.p, n) != 0) {
        schema_body got;
        char detail[600];
        if (r->body.p != NULL && schema_record_check(h, r->body.p, r->body.n, &got) == TALLY_OK) {
            diff_fields(exp, &got, detail, sizeof(detail));
            schema_body_release(&got);
        } else {
            snprintf(detail, sizeof(detail), "its body does not match its header");
        }
        mismatch(p, h->type == SCHEMA_STATE_HASH ? LEDGER_DIV_STATE : LEDGER_DIV_DERIVED, r->seq, "%s: %s", tn, detail);
        return NULL;
    }
    if (exp->type == SCHEMA_MINER_SCORE) {
        memcpy(p->leaf[p->pos - p->blk.n_scores], r->leaf_hash, 32);
    }
    if (exp->type == SCHEMA_WEIGHTS) {
        schema_sha256_2(p->res->weights_hash, want, n, NULL, 0);
        p->res->has_weights = true;
        p->cyc_weights = true, p->cyc_weights_seq = r->seq;
    }
    p->pos++;
    p->res->derived_checked++;
    if (p->pos == p->blk.n) {
        p->expecting = false;
        /* the whole block matched: the cycle stands */
        if (p->cfg->on_cycle != NULL) {
            ledger_cycle_checked c = {.cycle = p->prev_c.cycle, .epoch = p->prev_c.epoch,
                                      .cycle_seq = p->prev_seq, .state_seq = r->seq,
                                      .time_ms = p->prev_h.time_ms,
                                      .covers_to = p->prev_c.covers_to,
                                      .has_weights = p->cyc_weights,
                                      .weights_seq = p->cyc_weights_seq,
                                      .state = p->blk.state, .state_len = p->blk.state_len};
            memcpy(c.state_hash, p->blk.state_hash, 32);
            if (p->cyc_weights) {
                memcpy(c.weights_hash, p->res->weights_hash, 32);
            }
            p->cfg->on_cycle(p->cfg->on_cycle_arg, &c);
        }
    }
    return exp;
}

static tally_status start_from_checkpoint(rp *p, uint64_t cycle, uint64_t *from_seq)
{
    store_iter *it;
    store_record r;
    schema_header h, cyc_h;
    schema_body b, cyc_b = {0};
    uint64_t cyc_seq = 0;
    uint8_t want[32];
    bool found = false, have_hash = false;
    uint8_t *state = NULL;
    size_t n;
    tally_status st = store_iter_open(p->log, 0, &it);

    /* find the cycle and the STATE_HASH of its block */
    while (st == TALLY_OK && !have_hash && (st = store_iter_next(it, &r)) == TALLY_OK) {
        if (schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if ((h.type != SCHEMA_SCORING_CYCLE && !(found && h.type == SCHEMA_STATE_HASH)) ||
            r.body.p == NULL) {
            continue;
        }
        if (schema_record_check(&h, r.body.p, r.body.n, &b) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if (h.type == SCHEMA_SCORING_CYCLE && b.u.scoring_cycle.cycle == cycle) {
            found = true, cyc_h = h, cyc_b = b, cyc_seq = r.seq;
            continue;
        }
        if (found && h.type == SCHEMA_STATE_HASH) {
            memcpy(want, b.u.state_hash.state_hash, 32);
            have_hash = b.u.state_hash.cycle == cycle;
        }
        schema_body_release(&b);
    }
    store_iter_close(it);
    if (!have_hash) {
        schema_body_release(&cyc_b);
        return st == TALLY_OK || st == TALLY_ENOTFOUND ? TALLY_ENOTFOUND : st;
    }
    /* the rules' state at covers_to comes from the checkpoint too */
    st = store_checkpoint_get(p->log, cycle, want, &state, &n);
    if (st == TALLY_OK) {
        st = rules_from_checkpoint(p, state, n);
    }
    if (st == TALLY_OK) {
        st = ledger__load_state(p->log, p->gate, engine_rules_last_time(p->rules), state, n, &p->e);
    }
    if (st == TALLY_OK) {
        engine_set_fetch(p->e, engine_fetch, p);
    }
    free(state);
    if (st == TALLY_OK) {
        st = on_cycle(p, cyc_seq, &cyc_h, &cyc_b);
        *from_seq = cyc_b.u.scoring_cycle.covers_to;
    }
    schema_body_release(&cyc_b);
    return st;
}

/* Every signed tree head: signed by the GENESIS key (both signatures, the log's origin), and
 * its root the root of the tree the tiles hold at its size. The leaves the replay reads are
 * then checked against those tiles, so every record read is one the node signed a head over. */
typedef struct heads_ctx {
    rp *p;
    uint8_t pk[32];
    tally_status st;
    uint64_t checked;
} heads_ctx;

static bool check_head(const schema_sth *sth, void *arg)
{
    heads_ctx *c = arg;
    uint8_t root[32];

    if (store_sth_verify(sth, store_origin(c->p->log), c->pk) != TALLY_OK) {
        mismatch(c->p, LEDGER_DIV_TREE, sth->tree_size ? sth->tree_size - 1 : 0,
                 "the signed tree head of size %llu does not verify against the GENESIS key",
                 (unsigned long long)sth->tree_size);
        return false;
    }
    c->st = sth->tree_size ? store_root(c->p->log, sth->tree_size, root) : TALLY_OK;
    if (c->st != TALLY_OK) {
        return false;
    }
    if (sth->tree_size && memcmp(root, sth->root, 32) != 0) {
        mismatch(c->p, LEDGER_DIV_TREE, sth->tree_size - 1,
                 "the tiles do not give the root the head of size %llu signs",
                 (unsigned long long)sth->tree_size);
        return false;
    }
    c->checked++;
    return true;
}

static tally_status check_heads(rp *p)
{
    heads_ctx c = {.p = p, .st = TALLY_OK};
    store_iter *it;
    store_record r;
    schema_header h;
    schema_body b;
    tally_status st = store_iter_open(p->log, 0, &it);

    /* the node key is the GENESIS actor, whatever the store's metadata says */
    if (st == TALLY_OK) {
        st = store_iter_read(it, false, &r, &h, &b);
    }
    store_iter_close(it);
    if (st == TALLY_ENOTFOUND) {
        return TALLY_OK; /* an empty log */
    }
    if (st != TALLY_OK) {
        return st;
    }
    memcpy(c.pk, h.actor, 32);
    st = store_sth_each(p->log, check_head, &c);
    p->res->heads_checked = c.checked;
    return st != TALLY_OK ? st : c.st;
}

/* The acceptance rules on one record of the log: a refusal is a divergence like a derived
 * mismatch. Returns false after a mismatch. */
static bool judge(rp *p, uint64_t seq, const schema_header *h, const schema_body *b,
                  tally_status *st)
{
    engine_verdict v;

    *st = engine_rules_check(p->rules, seq, h, b, &v);
    if (*st == TALLY_OK && v.rule != ENGINE_RULE_OK) {
        mismatch(p, LEDGER_DIV_RULE, seq, "%s: rule %s: %s", tname(h->type), engine_rule_name(v.rule), v.detail);
        return false;
    }
    if (*st == TALLY_OK) {
        *st = engine_rules_apply(p->rules, seq, h, b);
    }
    return *st == TALLY_OK;
}

tally_status ledger_replay(store_log *log, const ledger_replay_cfg *cfg, ledger_replay_result *res)
{
    rp p = {.log = log, .cfg = cfg, .res = res, .ef = {.log = log}, .rf = {.log = log}};
    store_iter *it = NULL;
    store_record r;
    uint64_t from = 0, to, resumed_cycle_seq = UINT64_MAX, tile_ix = UINT64_MAX, size;
    uint8_t *tile = malloc(256 * 32);
    struct timespec t0, t1;
    tally_status st = TALLY_OK;

    memset(res, 0, sizeof(*res));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size = store_size(log);
    to = cfg->to && cfg->to < size ? cfg->to : size;
    if (tile == NULL || engine_rules_new(&p.rules) != TALLY_OK) {
        free(tile);
        return TALLY_ENOMEM;
    }
    if (cfg->gated) {
        p.gate = p.rules, p.ef.gate = p.rules;
    }
    /* what verify checks of the heads, replay checks before trusting any record */
    st = check_heads(&p);
    if (st != TALLY_OK || res->mismatch) {
        engine_rules_free(p.rules);
        free(tile);
        res->eng = NULL;
        return st;
    }
    if (cfg->from_cycle) {
        st = start_from_checkpoint(&p, cfg->from_cycle, &from);
        resumed_cycle_seq = p.expect_from - 1;
        if (st != TALLY_OK) {
            engine_rules_free(p.rules);
            store_iter_close(p.ef.it);
            store_iter_close(p.rf.it);
            memo_free(&p);
            if (p.e != NULL) {
                engine_set_fetch(p.e, NULL, NULL);
            }
            free(tile);
            engine_block_release(&p.blk);
            free(p.leaf);
            free(p.prev_state);
            res->eng = p.e;
            return st;
        }
    } else {
        st = engine_new(&p.e);
        if (st == TALLY_OK) {
            engine_set_fetch(p.e, engine_fetch, &p);
        }
    }
    if (st == TALLY_OK) {
        st = store_iter_open(log, from, &it);
    }
    while (st == TALLY_OK && !res->mismatch && (st = store_iter_next(it, &r)) == TALLY_OK) {
        schema_header h;
        schema_body b;
        if (r.seq >= to) {
            break;
        }
        if (cfg->progress && (r.seq & 0xffff) == 0) {
            cfg->progress(cfg->progress_arg, r.seq, to);
        }
        res->records++;
        /* the header must be the one the tree commits to: its leaf against the hash tile */
        if (r.seq >> 8 != tile_ix) {
            uint64_t w = size - (r.seq & ~255ull);
            tile_ix = r.seq >> 8;
            st = store_tile_read(log, 0, tile_ix, w < 256 ? (unsigned)w : 256u, tile);
            if (st != TALLY_OK) {
                break;
            }
        }
        if (memcmp(tile + 32 * (r.seq & 255), r.leaf_hash, 32) != 0) {
            mismatch(&p, LEDGER_DIV_TREE, r.seq, "the header does not match the tree (its leaf is not the hash in "
                                "the tile)");
            break;
        }
        if (schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK) {
            mismatch(&p, LEDGER_DIV_TREE, r.seq, "the header does not decode");
            break;
        }
        if (p.expecting && r.seq >= p.expect_from && h.type < SCHEMA_SUBMISSION_SCORE) {
            mismatch(&p, LEDGER_DIV_DERIVED, r.seq, "%s found where the cycle's %s was expected", tname(h.type),
                     tname(p.blk.bodies[p.pos].type));
            break;
        }
        if (h.type >= SCHEMA_SUBMISSION_SCORE) {
            const schema_body *same = on_derived(&p, &r, &h);
            /* the bytes are the expected ones, so the expected body is this record's */
            if (same == NULL || !judge(&p, r.seq, &h, same, &st)) {
                break;
            }
            if (r.seq >= engine_next_seq(p.e)) {
                st = engine_apply(p.e, r.seq, &h, NULL);
            }
            continue;
        }
        /* the actor's signature (with --signatures, as verify): a miner's records are what the
         * miner said only if it verifies; the node's derived records are recomputed instead */
        if (cfg->signatures &&
            schema_record_verify(&h, (tally_str){store_origin(log), strlen(store_origin(log))}) !=
                TALLY_OK) {
            mismatch(&p, LEDGER_DIV_SIGNATURE, r.seq, "%s: its actor signature does not verify", tname(h.type));
            break;
        }
        /* the gated view reads no private body, and an embargoed one only from its reveal: such
         * a record is judged and folded from its header here */
        if (!ledger__visible(p.gate, r.seq, &h)) {
            res->withheld++;
            if (!judge(&p, r.seq, &h, NULL, &st)) {
                break;
            }
            if (r.seq >= engine_next_seq(p.e)) {
                st = engine_apply(p.e, r.seq, &h, NULL);
            }
            continue;
        }
        if (r.body.p == NULL || schema_record_check(&h, r.body.p, r.body.n, &b) != TALLY_OK) {
            mismatch(&p, LEDGER_DIV_SIGNATURE, r.seq, "%s: its body does not match its header (hash, encoding or "
                                "header fields)", tname(h.type));
            break;
        }
        if (h.type == SCHEMA_GENESIS &&
            (b.u.genesis.origin.n != strlen(store_origin(log)) ||
             memcmp(b.u.genesis.origin.p, store_origin(log), b.u.genesis.origin.n) != 0)) {
            mismatch(&p, LEDGER_DIV_RULE, r.seq, "GENESIS: its origin is not the log's (%s)", store_origin(log));
            schema_body_release(&b);
            break;
        }
        if (h.type != SCHEMA_SCORING_CYCLE && !judge(&p, r.seq, &h, &b, &st)) {
            schema_body_release(&b);
            break;
        }
        if (h.type == SCHEMA_SCORING_CYCLE) {
            /* judged first, computed with the rules' state standing at the cycle record (its
             * checkpoint section), then folded */
            engine_verdict v;
            st = engine_rules_check(p.rules, r.seq, &h, &b, &v);
            if (st == TALLY_OK && v.rule != ENGINE_RULE_OK) {
                mismatch(&p, LEDGER_DIV_RULE, r.seq, "%s: rule %s: %s", tname(h.type), engine_rule_name(v.rule),
                         v.detail);
                schema_body_release(&b);
                break;
            }
            if (st == TALLY_OK && r.seq != resumed_cycle_seq) {
                st = on_cycle(&p, r.seq, &h, &b);
            }
            if (st == TALLY_OK && !res->mismatch) {
                st = engine_rules_apply(p.rules, r.seq, &h, &b);
            }
            if (st == TALLY_OK && r.seq >= engine_next_seq(p.e)) {
                st = engine_apply(p.e, r.seq, &h, NULL);
            }
        } else if (r.seq >= engine_next_seq(p.e)) {
            st = engine_apply(p.e, r.seq, &h, &b);
        }
        schema_body_release(&b);
    }
    if (st == TALLY_ENOTFOUND) {
        st = TALLY_OK;
    }
    if (st == TALLY_OK && cfg->progress) {
        cfg->progress(cfg->progress_arg, res->records + from, to);
    }
    if (st == TALLY_OK && !res->mismatch && p.expecting && p.pos < p.blk.n && to == store_size(log)) {
        mismatch(&p, LEDGER_DIV_DERIVED, to, "the log ends before the cycle's %s", tname(p.blk.bodies[p.pos].type));
    }
    res->pending = engine_rules_pending(p.rules);
    store_iter_close(it);
    store_iter_close(p.ef.it);
    store_iter_close(p.rf.it);
    memo_free(&p);
    free(tile);
    engine_rules_free(p.rules);
    engine_block_release(&p.blk);
    free(p.leaf);
    free(p.prev_state);
    /* the fetchers live on this stack: the engine handed back reads no more bodies */
    if (p.e != NULL) {
        engine_set_fetch(p.e, NULL, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    res->eng = p.e;
    return st;
}

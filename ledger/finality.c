/* Finality (protocol §6.6) as a fold over the log: the acceptance rules' state follows the
 * records (for bindings and parameters at each position), beside it the cycles (SCORING_CYCLE,
 * WEIGHTS, STATE_HASH), the effective METAGRAPH's keys (for m), and every ATTESTATION judged at
 * its own position. Roots are taken from the tree (store_root), so everything used is public and
 * anyone holding the log gets the same answer. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

typedef struct mgkey {
    uint8_t key[32];
} mgkey;

struct ledger_finality_state {
    engine_rules *rules;
    uint8_t node_key[32], node_hotkey[32];
    bool has_genesis;
    mgkey *eff, *pend; /* tally keys of the effective snapshot / the one being appended */
    size_t n_eff, n_pend, cap_eff, cap_pend;
    ledger_cycle_meta *cycles; /* ascending by cycle: cycle i + 1 at index i */
    size_t n_cycles, cap_cycles;
    ledger_attestation *att;
    size_t n_att, cap_att;
    size_t roots_done; /* attestations whose root was compared */
};

static tally_status grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return TALLY_OK;
    }
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need) {
        c *= 2;
    }
    void *q = realloc(*p, c * size);
    if (q == NULL) {
        return TALLY_ENOMEM;
    }
    *p = q, *cap = c;
    return TALLY_OK;
}

tally_status ledger_finality_new(ledger_finality_state **out)
{
    ledger_finality_state *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL) {
        return TALLY_ENOMEM;
    }
    if (engine_rules_new(&s->rules) != TALLY_OK) {
        free(s);
        return TALLY_ENOMEM;
    }
    *out = s;
    return TALLY_OK;
}

void ledger_finality_free(ledger_finality_state *s)
{
    if (s == NULL) {
        return;
    }
    engine_rules_free(s->rules);
    free(s->eff);
    free(s->pend);
    free(s->cycles);
    free(s->att);
    free(s);
}

uint64_t ledger_finality_size(const ledger_finality_state *s)
{
    return engine_rules_size(s->rules);
}

/* Eligible at the rules' current position (protocol §6.1): bound, neither the node's key nor its
 * hotkey, permit when required, enough stake; the parameters in effect there. */
static bool eligible(const ledger_finality_state *s, const uint8_t key[32], engine_binding *b)
{
    const schema_paramset *ps = engine_rules_params(s->rules);

    if (!engine_rules_binding(s->rules, key, b) || memcmp(key, s->node_key, 32) == 0 ||
        (s->has_genesis && memcmp(b->hotkey, s->node_hotkey, 32) == 0)) {
        return false;
    }
    if (ps->v[SCHEMA_P_AUTH_REQUIRE_PERMIT] && !b->permit) {
        return false;
    }
    return b->stake_rao >= (uint64_t)ps->v[SCHEMA_P_AUTH_MIN_STAKE_RAO];
}

static ledger_cycle_meta *cycle_of(ledger_finality_state *s, uint64_t cycle)
{
    return cycle >= 1 && cycle <= s->n_cycles ? &s->cycles[cycle - 1] : NULL;
}

static tally_status on_metagraph(ledger_finality_state *s, const schema_metagraph *m)
{
    if (m->part == 0) {
        s->n_pend = 0;
    }
    for (size_t i = 0; i < m->n_neurons; i++) {
        if (!m->neurons[i].has_tally_key) {
            continue;
        }
        if (grow((void **)&s->pend, &s->cap_pend, s->n_pend + 1, sizeof(*s->pend)) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        memcpy(s->pend[s->n_pend++].key, m->neurons[i].tally_key, 32);
    }
    if (m->part + 1 == m->parts) {
        mgkey *t = s->eff;
        size_t c = s->cap_eff;
        s->eff = s->pend, s->cap_eff = s->cap_pend, s->n_eff = s->n_pend;
        s->pend = t, s->cap_pend = c, s->n_pend = 0;
    }
    return TALLY_OK;
}

static void on_state_hash(ledger_finality_state *s, uint64_t seq, const schema_state_hash *sh)
{
    ledger_cycle_meta *c = cycle_of(s, sh->cycle);
    engine_binding b;

    if (c == NULL) {
        return; /* the rules refuse a STATE_HASH outside its block; nothing to attach it to */
    }
    c->complete = true;
    c->state_seq = seq;
    c->state_len = sh->state_len;
    memcpy(c->state_hash, sh->state_hash, 32);
    c->k = (uint64_t)engine_rules_params(s->rules)->v[SCHEMA_P_FINALITY_K];
    c->m = 0;
    for (size_t i = 0; i < s->n_eff; i++) {
        if (eligible(s, s->eff[i].key, &b)) {
            c->m++;
        }
    }
}

static tally_status on_attestation(ledger_finality_state *s, uint64_t seq,
                                   const schema_header *h, const schema_attestation *a)
{
    engine_binding b;
    ledger_attestation *x;

    if (grow((void **)&s->att, &s->cap_att, s->n_att + 1, sizeof(*s->att)) != TALLY_OK) {
        return TALLY_ENOMEM;
    }
    x = &s->att[s->n_att++];
    memset(x, 0, sizeof(*x));
    x->seq = seq, x->time_ms = h->time_ms, x->a = *a;
    memcpy(x->key, h->actor, 32);
    x->eligible = eligible(s, h->actor, &b);
    if (x->eligible) {
        memcpy(x->hotkey, b.hotkey, 32);
    }
    return TALLY_OK;
}

/* One record, before the rules fold it (bindings and parameters are those before its seq). */
static tally_status observe(ledger_finality_state *s, uint64_t seq, const schema_header *h,
                            const schema_body *b)
{
    ledger_cycle_meta *c;

    switch (h->type) {
    case SCHEMA_GENESIS:
        s->has_genesis = true;
        memcpy(s->node_key, h->actor, 32);
        memcpy(s->node_hotkey, b->u.genesis.node_hotkey, 32);
        return TALLY_OK;
    case SCHEMA_METAGRAPH:
        return on_metagraph(s, &b->u.metagraph);
    case SCHEMA_SCORING_CYCLE:
        if (b->u.scoring_cycle.cycle != s->n_cycles + 1) {
            return TALLY_OK; /* refused by the rules in any log that verifies */
        }
        if (grow((void **)&s->cycles, &s->cap_cycles, s->n_cycles + 1, sizeof(*s->cycles)) !=
            TALLY_OK) {
            return TALLY_ENOMEM;
        }
        c = &s->cycles[s->n_cycles++];
        memset(c, 0, sizeof(*c));
        c->cycle = b->u.scoring_cycle.cycle, c->epoch = b->u.scoring_cycle.epoch;
        c->as_of_ms = b->u.scoring_cycle.as_of_ms, c->covers_to = b->u.scoring_cycle.covers_to;
        c->cycle_seq = seq;
        crypto_hash_sha256(c->weights_hash, NULL, 0);
        return TALLY_OK;
    case SCHEMA_WEIGHTS:
        c = cycle_of(s, b->u.weights.cycle);
        if (c != NULL) {
            memcpy(c->weights_hash, h->body_hash, 32);
        }
        return TALLY_OK;
    case SCHEMA_STATE_HASH:
        on_state_hash(s, seq, &b->u.state_hash);
        return TALLY_OK;
    case SCHEMA_ATTESTATION:
        return on_attestation(s, seq, h, &b->u.attestation);
    default:
        return TALLY_OK;
    }
}

/* The types observe() reads the body of; the rest are folded without decoding derived bodies. */
static bool wants_body(unsigned type)
{
    return type == SCHEMA_GENESIS || type == SCHEMA_METAGRAPH || type == SCHEMA_SCORING_CYCLE ||
           type == SCHEMA_WEIGHTS || type == SCHEMA_STATE_HASH || type == SCHEMA_ATTESTATION;
}

static tally_status fold_one(ledger_finality_state *s, const store_record *rec,
                             const schema_header *h)
{
    schema_body b, d = {.type = (unsigned)h->type};
    bool derived = h->type >= SCHEMA_SUBMISSION_SCORE;
    tally_status st;

    if (derived && !wants_body((unsigned)h->type)) {
        return engine_rules_apply(s->rules, rec->seq, h, &d);
    }
    if (rec->body.p == NULL) {
        if (h->tier != SCHEMA_EMBARGOED && h->tier != SCHEMA_PRIVATE) {
            return TALLY_ECORRUPT;
        }
        return engine_rules_apply(s->rules, rec->seq, h, NULL);
    }
    st = store_record_body(rec, h, &b);
    if (st == TALLY_OK && wants_body((unsigned)h->type)) {
        st = observe(s, rec->seq, h, &b);
    }
    if (st == TALLY_OK) {
        /* the fold reads nothing of a derived body but its type (ledger/rules.c) */
        st = engine_rules_apply(s->rules, rec->seq, h, derived ? &d : &b);
    }
    schema_body_release(&b);
    return st;
}

/* Judges the attestations folded since the last update: roots from the tree, then the counts. */
static tally_status judge(ledger_finality_state *s, store_log *log)
{
    for (; s->roots_done < s->n_att; s->roots_done++) {
        ledger_attestation *x = &s->att[s->roots_done];
        ledger_cycle_meta *c = cycle_of(s, x->a.cycle);
        uint8_t root[32];
        if (x->a.tree_size >= 1 && x->a.tree_size <= x->seq) {
            tally_status st = store_root(log, x->a.tree_size, root);
            if (st != TALLY_OK) {
                return st;
            }
            x->root_ok = memcmp(root, x->a.root, 32) == 0;
        }
        if (c == NULL || !c->complete || !x->eligible) {
            continue;
        }
        /* one per hotkey and cycle: the rules refuse a second, so an earlier one never hides */
        bool seen = false;
        for (size_t i = 0; i < s->roots_done && !seen; i++) {
            const ledger_attestation *y = &s->att[i];
            seen = y->eligible && y->a.cycle == x->a.cycle && memcmp(y->hotkey, x->hotkey, 32) == 0;
        }
        if (seen) {
            continue;
        }
        if (x->a.verdict == 1 && x->root_ok && x->a.tree_size > c->state_seq &&
            memcmp(x->a.state_hash, c->state_hash, 32) == 0 &&
            memcmp(x->a.weights_hash, c->weights_hash, 32) == 0) {
            x->pass = true;
            c->passes++;
        } else if (x->a.verdict == 2) {
            x->fail = true;
            c->fails++;
        }
    }
    return TALLY_OK;
}

tally_status ledger_finality_update(ledger_finality_state *s, store_log *log, uint64_t to)
{
    store_iter *it = NULL;
    store_record rec;
    schema_header h;
    schema_body none;
    tally_status st = TALLY_OK;

    if (engine_rules_size(s->rules) < to) {
        st = store_iter_open(log, engine_rules_size(s->rules), &it);
        while (st == TALLY_OK && engine_rules_size(s->rules) < to) {
            st = store_iter_read(it, false, &rec, &h, &none);
            if (st == TALLY_OK) {
                st = fold_one(s, &rec, &h);
            }
        }
        store_iter_close(it);
    }
    return st == TALLY_OK ? judge(s, log) : st;
}

const ledger_cycle_meta *ledger_finality_cycles(const ledger_finality_state *s, size_t *n_out)
{
    *n_out = s->n_cycles;
    return s->cycles;
}

const ledger_attestation *ledger_finality_attestations(const ledger_finality_state *s,
                                                       size_t *n_out)
{
    *n_out = s->n_att;
    return s->att;
}

void ledger_finality_result_release(ledger_finality_result *r)
{
    if (r == NULL) {
        return;
    }
    free(r->passes);
    free(r->fails);
    memset(r, 0, sizeof(*r));
}

tally_status ledger_finality_get(const ledger_finality_state *s, uint64_t cycle,
                                 ledger_finality_result *out)
{
    const ledger_cycle_meta *c = NULL;

    memset(out, 0, sizeof(*out));
    if (cycle == 0) {
        for (size_t i = s->n_cycles; i > 0 && c == NULL; i--) {
            c = s->cycles[i - 1].complete ? &s->cycles[i - 1] : NULL;
        }
    } else if (cycle <= s->n_cycles && s->cycles[cycle - 1].complete) {
        c = &s->cycles[cycle - 1];
    }
    if (c == NULL) {
        return TALLY_ENOTFOUND;
    }
    out->meta = *c;
    out->passes = malloc((c->passes ? c->passes : 1) * 32);
    out->fails = malloc((c->fails ? c->fails : 1) * 32);
    if (out->passes == NULL || out->fails == NULL) {
        ledger_finality_result_release(out);
        return TALLY_ENOMEM;
    }
    for (size_t i = 0; i < s->n_att; i++) {
        const ledger_attestation *x = &s->att[i];
        if (x->a.cycle == c->cycle && x->pass) {
            memcpy(out->passes[out->n_passes++], x->key, 32);
        } else if (x->a.cycle == c->cycle && x->fail) {
            memcpy(out->fails[out->n_fails++], x->key, 32);
        }
    }
    out->final = c->passes >= c->k && c->k > 0;
    out->disputed = c->fails > 0;
    for (size_t i = s->n_cycles; i > 0; i--) {
        const ledger_cycle_meta *y = &s->cycles[i - 1];
        if (y->complete && y->k > 0 && y->passes >= y->k) {
            out->latest_final_cycle = y->cycle;
            break;
        }
    }
    return TALLY_OK;
}

tally_status ledger_finality(store_log *log, uint64_t cycle, ledger_finality_result *out)
{
    ledger_finality_state *s;
    tally_status st = ledger_finality_new(&s);

    memset(out, 0, sizeof(*out));
    if (st == TALLY_OK) {
        st = ledger_finality_update(s, log, store_size(log));
    }
    if (st == TALLY_OK) {
        st = ledger_finality_get(s, cycle, out);
    }
    ledger_finality_free(s);
    return st;
}

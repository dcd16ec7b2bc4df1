/* The acceptance rules fed from the log: folding a prefix, the state at the log's end, one
 * candidate judged at the next position, and the rules as the writer's admission hook. */
#include <stdio.h>
#include <string.h>

#include "ledger/ledger_int.h"

tally_status ledger__rules_fold_with(store_log *log, engine_rules *r, uint64_t to,
                                     ledger__fold_fn fn, void *arg)
{
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    tally_status st;

    if (engine_rules_size(r) >= to) {
        return TALLY_OK;
    }
    st = store_iter_open(log, engine_rules_size(r), &it);
    while (st == TALLY_OK && (st = store_iter_read(it, false, &rec, &h, &b)) == TALLY_OK &&
           rec.seq < to) {
        if (h.type >= SCHEMA_SUBMISSION_SCORE) {
            /* the fold reads nothing of a derived body but its type */
            schema_body d = {.type = (unsigned)h.type};
            st = engine_rules_apply(r, rec.seq, &h, &d);
            continue;
        }
        st = store_record_body(&rec, &h, &b);
        if (st == TALLY_OK) {
            st = engine_rules_apply(r, rec.seq, &h, &b);
            if (st == TALLY_OK && fn != NULL) {
                st = fn(arg, &h, &b);
            }
            schema_body_release(&b);
        }
    }
    store_iter_close(it);
    return st == TALLY_ENOTFOUND || (st == TALLY_OK && rec.seq >= to) ? TALLY_OK : st;
}

tally_status ledger_rules_fold(store_log *log, engine_rules *r, uint64_t to)
{
    return ledger__rules_fold_with(log, r, to, NULL, NULL);
}

tally_status ledger__rules_open_with(store_log *log, bool gated, engine_rules **out)
{
    engine_rules *r;
    tally_status st = engine_rules_new(&r);

    *out = NULL;
    if (st == TALLY_OK) {
        st = gated ? ledger__rules_fold_gated(log, NULL, r, store_size(log))
                   : ledger_rules_fold(log, r, store_size(log));
    }
    if (st != TALLY_OK) {
        engine_rules_free(r);
        return st;
    }
    *out = r;
    return TALLY_OK;
}

tally_status ledger_rules_open(store_log *log, engine_rules **out)
{
    return ledger__rules_open_with(log, false, out);
}

tally_status ledger_rules_admit(engine_rules *r, const store_input *in, engine_verdict *v)
{
    schema_body b;
    tally_status st = schema_record_check(&in->header, in->body, in->body_len, &b);

    memset(v, 0, sizeof(*v));
    if (st != TALLY_OK) {
        return st;
    }
    st = engine_rules_admit(r, engine_rules_size(r), &in->header, &b, v);
    schema_body_release(&b);
    return st;
}

/* ---- the rules as the writer's admission hook ---- */

static tally_status admission_admit(void *arg, uint64_t seq, const schema_header *h,
                                    const uint8_t *body, size_t body_len, bool judge,
                                    bool *admitted, int *code)
{
    ledger_admission *a = arg;
    engine_verdict v;
    schema_body b;
    tally_status st = TALLY_OK;

    *admitted = false, *code = 0;
    /* after a failed transaction the state is rebuilt from the log before judging again */
    if (a->stale) {
        engine_rules *fresh;
        st = engine_rules_new(&fresh);
        if (st == TALLY_OK) {
            st = ledger_rules_fold(a->log, fresh, seq);
        }
        if (st != TALLY_OK) {
            engine_rules_free(fresh);
            return st;
        }
        engine_rules_free(a->rules);
        a->rules = fresh, a->stale = false;
    }
    st = schema_record_check(h, body, body_len, &b);
    if (st != TALLY_OK) {
        return st;
    }
    st = judge ? engine_rules_check(a->rules, seq, h, &b, &v) : TALLY_OK;
    if (st == TALLY_OK && judge && v.rule != ENGINE_RULE_OK) {
        *code = (int)v.rule;
    } else if (st == TALLY_OK) {
        st = engine_rules_apply(a->rules, seq, h, &b);
        *admitted = st == TALLY_OK;
    }
    schema_body_release(&b);
    return st;
}

static void admission_rewind(void *arg, uint64_t size)
{
    ledger_admission *a = arg;
    a->stale = engine_rules_size(a->rules) > size;
}

tally_status ledger_admission_init(ledger_admission *a)
{
    memset(a, 0, sizeof(*a));
    a->hook = (store_admission){admission_admit, admission_rewind, a,
                                ENGINE_RULE_MARKET_DUPLICATE};
    return engine_rules_new(&a->rules);
}

tally_status ledger_admission_attach(ledger_admission *a, store_log *log)
{
    a->log = log;
    return ledger_rules_fold(log, a->rules, store_size(log));
}

void ledger_admission_release(ledger_admission *a)
{
    engine_rules_free(a->rules);
    a->rules = NULL;
}


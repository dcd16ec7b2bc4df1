/* The replica judged: replayed in the gated view (ledger_replay: the acceptance and record rules
 * on every record, every derived record recomputed and compared byte for byte, every body due
 * since its reveal required), the recompute policy of §6.7 applied, and one verdict per cycle.
 * A divergence fails the first cycle that cannot stand: the one whose block holds the divergent
 * record, else the first cycle after it (it commits to a log holding that record). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditor/audit_int.h"

#define DAY_MS 86400000ull

typedef struct cyc_rec {
    uint64_t cycle, seq, time_ms;
} cyc_rec;

typedef struct scan {
    cyc_rec *cyc;      /* every SCORING_CYCLE in the replica, in seq order */
    size_t n_cyc, cap_cyc;
    uint64_t *recompute; /* time_ms of every RECOMPUTE */
    size_t n_rc, cap_rc;
} scan;

static void scan_release(scan *s)
{
    free(s->cyc);
    free(s->recompute);
    memset(s, 0, sizeof(*s));
}

static tally_status grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) {
        return TALLY_OK;
    }
    size_t c = *cap ? 2 * *cap : 64;
    void *q = realloc(*p, c * size);
    if (q == NULL) {
        return TALLY_ENOMEM;
    }
    *p = q, *cap = c;
    return TALLY_OK;
}

/* The cycles and recomputes of the replica, from headers and the cycle bodies (public). */
static tally_status scan_log(audit *a, scan *s)
{
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    tally_status st = store_iter_open(a->log, 0, &it);

    while (st == TALLY_OK && (st = store_iter_read(it, false, &rec, &h, &b)) == TALLY_OK) {
        if (h.type == SCHEMA_RECOMPUTE) {
            st = grow((void **)&s->recompute, &s->cap_rc, s->n_rc, sizeof(uint64_t));
            if (st == TALLY_OK) {
                s->recompute[s->n_rc++] = h.time_ms;
            }
        } else if (h.type == SCHEMA_SCORING_CYCLE) {
            st = store_record_body(&rec, &h, &b);
            if (st == TALLY_OK) {
                st = grow((void **)&s->cyc, &s->cap_cyc, s->n_cyc, sizeof(cyc_rec));
            }
            if (st == TALLY_OK) {
                s->cyc[s->n_cyc++] = (cyc_rec){b.u.scoring_cycle.cycle, rec.seq, h.time_ms};
            }
            schema_body_release(&b);
        }
    }
    store_iter_close(it);
    return st == TALLY_ENOTFOUND ? TALLY_OK : st;
}

/* §6.7 item 5: more than max_day RECOMPUTE records in the 24 h before the cycle, or more than
 * max_week in the 7 days before it (by time_ms, the cycle's own included). */
static bool paused(const audit *a, const scan *s, uint64_t t)
{
    size_t day = 0, week = 0;

    for (size_t i = 0; i < s->n_rc; i++) {
        if (s->recompute[i] <= t && s->recompute[i] + DAY_MS > t) {
            day++;
        }
        if (s->recompute[i] <= t && s->recompute[i] + 7 * DAY_MS > t) {
            week++;
        }
    }
    return day > a->cfg.max_recompute_day || week > a->cfg.max_recompute_week;
}

typedef struct collect {
    audit *a;
    const scan *s;
    audit_round *r;
    tally_status st;
} collect;

/* The primary's latest complete cycle and its STATE_HASH seq (GET /v1/finality), for a split
 * view, where the replica's own cycles are not the ones the primary now shows. */
static tally_status primary_latest_cycle(audit *a, uint64_t *cycle, uint64_t *state_seq,
                                         char *what)
{
    client_response *resp = NULL;
    json_t *o;
    tally_status st = audit__get(a, "/v1/finality", false, false, &resp, what);

    *cycle = 0, *state_seq = 0;
    if (st != TALLY_OK) {
        return st;
    }
    o = client_response_status(resp) == 200 ? audit__json(resp) : NULL;
    client_response_free(resp);
    if (o != NULL) {
        json_t *c = json_object_get(o, "cycle"), *s = json_object_get(o, "state_seq");
        if (json_is_integer(c) && json_is_integer(s)) {
            *cycle = (uint64_t)json_integer_value(c);
            *state_seq = (uint64_t)json_integer_value(s);
        }
    }
    json_decref(o);
    return TALLY_OK;
}

static tally_status push(audit_round *r, const audit_cycle *c)
{
    audit_cycle *v = realloc(r->cycles, (r->n_cycles + 1) * sizeof(*v));

    if (v == NULL) {
        return TALLY_ENOMEM;
    }
    r->cycles = v;
    r->cycles[r->n_cycles++] = *c;
    return TALLY_OK;
}

/* The last cycle whose verdict is settled: attested, or taken on its finality by a bootstrap;
 * never beyond the last one checked. The cycles after it are decided this round, so a cycle
 * checked but not attested (the auditor stopped between saving its check and posting the
 * verdict) is replayed and attested again rather than skipped. */
static uint64_t settled_cycle(const audit *a)
{
    uint64_t s = a->st.last_attested_cycle > a->st.bootstrap_cycle ? a->st.last_attested_cycle
                                                                   : a->st.bootstrap_cycle;

    return s < a->st.last_checked_cycle ? s : a->st.last_checked_cycle;
}

static void on_cycle(void *arg, const ledger_cycle_checked *c)
{
    collect *k = arg;
    audit_cycle v = {.cycle = c->cycle, .cycle_seq = c->cycle_seq, .state_seq = c->state_seq,
                     .verdict = AUDIT_PASS};

    k->r->cycles_checked++;
    if (k->st != TALLY_OK || c->cycle <= settled_cycle(k->a)) {
        return;
    }
    /* the recomputed state, kept beside the replica: the next round resumes from it */
    if (c->state != NULL) {
        k->st = store_checkpoint_put(k->a->log, c->cycle, c->state, c->state_len);
        if (k->st != TALLY_OK) {
            return;
        }
    }
    memcpy(v.state_hash, c->state_hash, 32);
    v.tree_size = k->a->st.trusted_size;
    memcpy(v.root, k->a->st.trusted_root, 32);
    if (c->has_weights) {
        memcpy(v.weights_hash, c->weights_hash, 32);
    } else {
        schema_sha256_2(v.weights_hash, NULL, 0, NULL, 0);
    }
    /* cycles up to accept_paused: the operator has reviewed their RECOMPUTE records */
    if (c->cycle > k->a->cfg.accept_paused && paused(k->a, k->s, c->time_ms)) {
        v.verdict = AUDIT_PAUSED, v.reason = AUDIT_R_RECOMPUTE_RATE;
    }
    k->st = push(k->r, &v);
}

static audit_reason reason_of(ledger_divergence d)
{
    switch (d) {
    case LEDGER_DIV_DERIVED:
        return AUDIT_R_DERIVED_MISMATCH;
    case LEDGER_DIV_STATE:
        return AUDIT_R_STATE_MISMATCH;
    case LEDGER_DIV_RULE:
        return AUDIT_R_INGEST_RULE;
    case LEDGER_DIV_SIGNATURE:
        return AUDIT_R_SIGNATURE;
    default:
        return AUDIT_R_OTHER;
    }
}

/* The cycle a divergence at seq fails, among the cycles not passed yet (the replay verified
 * every cycle before it reached seq): the one whose block holds seq, else the first one after
 * seq (it commits to a log holding seq, or its inputs reveal the body that failed); NULL when
 * there is none yet (the fail is attested once one is appended). */
static const cyc_rec *fail_cycle(const scan *s, uint64_t seq, uint64_t last_passed)
{
    const cyc_rec *at = NULL;

    for (size_t i = 0; i < s->n_cyc; i++) {
        if (s->cyc[i].cycle <= last_passed) {
            continue;
        }
        if (s->cyc[i].seq <= seq) {
            at = &s->cyc[i];
        } else {
            return at != NULL ? at : &s->cyc[i];
        }
    }
    return at;
}

tally_status audit__check(audit *a, const audit__head *head, audit_round *r)
{
    scan s = {0};
    collect k = {.a = a, .s = &s, .r = r, .st = TALLY_OK};
    ledger_replay_cfg cfg = {.gated = true, .on_cycle = on_cycle, .on_cycle_arg = &k};
    ledger_replay_result res;
    uint64_t last_passed = a->st.last_checked_cycle;
    tally_status st = scan_log(a, &s);

    (void)head;
    if (st == TALLY_OK && !a->st.failed && a->cfg.bootstrap_checkpoint &&
        a->st.last_checked_cycle == 0) {
        /* a new auditor: the replay may start from a final checkpoint (boot.c); a refused one
         * is reported, and this round replays nothing */
        st = audit__bootstrap(a, r);
        if (st != TALLY_OK || r->failed) {
            scan_release(&s);
            return st;
        }
    }
    if (st == TALLY_OK && !a->st.failed) {
        /* signatures and authorship were checked as the records arrived (sync.c). The replay
         * resumes from the state of the last cycle settled (recomputed here when it was
         * checked, and vouched for by its STATE_HASH); a divergence found that way, or a
         * resume that cannot be made, is replayed again from GENESIS before anything is
         * concluded from it */
        last_passed = a->st.last_checked_cycle;
        cfg.from_cycle = settled_cycle(a);
        st = cfg.from_cycle ? ledger_replay(a->log, &cfg, &res) : TALLY_ENOTFOUND;
        if (st == TALLY_OK && k.st == TALLY_OK && !res.mismatch) {
            r->resumed_from = cfg.from_cycle;
        } else {
            if (st == TALLY_OK || cfg.from_cycle) {
                engine_free(res.eng);
            }
            audit_round_release(r);
            r->cycles_checked = 0;
            k.st = TALLY_OK;
            cfg.from_cycle = 0;
            st = ledger_replay(a->log, &cfg, &res);
        }
        engine_free(res.eng);
        if (st == TALLY_OK) {
            st = k.st;
        }
        r->records_replayed = res.records;
        r->last_cycle = res.last_cycle;
        for (size_t i = 0; i < r->n_cycles; i++) {
            last_passed = r->cycles[i].cycle > last_passed ? r->cycles[i].cycle : last_passed;
        }
        if (st == TALLY_OK && res.mismatch) {
            a->st.failed = true, a->st.reason = reason_of(res.kind);
            a->st.has_seq = true, a->st.seq = res.bad_seq;
            snprintf(a->st.what, sizeof(a->st.what), "%s", res.what);
            memcpy(a->st.fail_state_hash, res.state_hash, 32);
            a->st.fail_cycle = 0;
        }
    }
    if (st == TALLY_OK && a->st.failed && a->st.fail_cycle == 0) {
        /* the cycle to attest the fail for, once it exists. A split view: the primary's latest
         * cycle, under the primary's head that is not consistent with the trusted one */
        cyc_rec other = {0};
        const cyc_rec *c = NULL;
        uint64_t size = a->st.trusted_size;
        const uint8_t *root = a->st.trusted_root;
        if (a->st.reason == AUDIT_R_SPLIT_VIEW) {
            uint64_t state_seq;
            st = primary_latest_cycle(a, &other.cycle, &state_seq, r->what);
            if (st == TALLY_OK && other.cycle > 0 && state_seq < head->size && head->size > 0) {
                c = &other, size = head->size, root = head->root;
            }
        } else if (a->st.has_seq) {
            c = fail_cycle(&s, a->st.seq, last_passed);
            c = c != NULL && c->seq < head->size ? c : NULL;
            if (c == NULL && a->st.seq >= store_size(a->log)) {
                /* found in what the primary served and the replica never took: the primary's
                 * latest cycle, if it commits to a log holding that seq, under the trusted head */
                uint64_t state_seq;
                st = primary_latest_cycle(a, &other.cycle, &state_seq, r->what);
                if (st == TALLY_OK && other.cycle > 0 && state_seq > a->st.seq &&
                    state_seq < size) {
                    other.seq = state_seq;
                    c = &other;
                }
            }
        }
        if (st == TALLY_OK && c != NULL) {
            audit_cycle v = {.cycle = c->cycle, .cycle_seq = c->seq, .verdict = AUDIT_FAIL,
                             .reason = a->st.reason, .has_divergent_seq = a->st.has_seq,
                             .divergent_seq = a->st.seq, .tree_size = size};
            memcpy(v.root, root, 32);
            /* the auditor's own state hash when it computed this cycle's block, else zero */
            if (c != &other && c->seq <= a->st.seq) {
                memcpy(v.state_hash, a->st.fail_state_hash, 32);
            }
            schema_sha256_2(v.weights_hash, NULL, 0, NULL, 0);
            a->st.fail_cycle = c->cycle;
            st = push(r, &v);
        }
    }
    if (a->st.failed) {
        r->failed = true, r->reason = a->st.reason, r->has_seq = a->st.has_seq,
        r->seq = a->st.seq;
        snprintf(r->what, sizeof(r->what), "%s", a->st.what);
    }
    if (st == TALLY_OK) {
        for (size_t i = 0; i < r->n_cycles; i++) {
            if (r->cycles[i].verdict != AUDIT_FAIL && r->cycles[i].cycle > a->st.last_checked_cycle) {
                a->st.last_checked_cycle = r->cycles[i].cycle;
            }
        }
        st = audit__state_save(a);
    }
    scan_release(&s);
    return st;
}

/* The node side: each SCORING_CYCLE appended with its derived block and checkpoint, and the
 * engine caught up with an existing log. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

#define LIVE_AHEAD_MS 1000u /* a live block's time past the latest commit's */
#define LIVE_TIME_TRIES 8u  /* signings of a live block for a later time before giving up */

/* Adds a node record of body b at time t to the batch; the leaf hash of its header goes to
 * leaf_out when not NULL. */
static tally_status add_node(ledger_batch *batch, store_log *log, const schema_body *b, uint64_t t,
                             uint8_t leaf_out[32])
{
    uint8_t hb[SCHEMA_HEADER_MAX];
    size_t hn;
    tally_status st = ledger_batch_node(batch, log, b, t);

    if (st == TALLY_OK && leaf_out != NULL) {
        st = schema_header_encode(&batch->in[batch->n - 1].header, hb, sizeof(hb), &hn);
        if (st == TALLY_OK) {
            store_leaf_hash(hb, hn, leaf_out);
        }
    }
    return st;
}

/* The block of SCORING_CYCLE `cycle` covering [0, to): folds the records [next, to) into e and
 * computes the derived bodies, with rules (standing at to) attached for the checkpoint. *sc is
 * filled with the cycle's body (its covers_to is the engine's next seq). */
static tally_status compute_block(store_log *log, engine *e, const engine_rules *rules,
                                  uint64_t to, uint64_t cycle, uint64_t epoch, uint64_t as_of,
                                  schema_scoring_cycle *sc, engine_block *blk)
{
    schema_header ch = {.type = SCHEMA_SCORING_CYCLE};
    tally_status st = ledger__fold_range(log, NULL, e, to);

    memset(blk, 0, sizeof(*blk));
    if (st != TALLY_OK) {
        return st;
    }
    *sc = (schema_scoring_cycle){
        .cycle = cycle, .epoch = epoch, .as_of_ms = as_of, .covers_to = engine_next_seq(e),
        .code_version = {SCHEMA_CODE_VERSION, strlen(SCHEMA_CODE_VERSION)}};
    engine_attach_rules(e, rules);
    st = engine_cycle(e, sc->covers_to, &ch, sc, blk);
    engine_attach_rules(e, NULL);
    return st;
}

/* The block's records signed at time t into batch. The WEIGHTS' inputs_hash is over the leaf
 * hashes of the MINER_SCORE records, whose headers carry t: the records must be stored at
 * exactly t for it to hold (a time the writer gives them would change their leaves). */
static tally_status block_batch(ledger_batch *batch, store_log *log,
                                const schema_scoring_cycle *sc, engine_block *blk, uint64_t t)
{
    schema_body cb = {.type = SCHEMA_SCORING_CYCLE, .u.scoring_cycle = *sc};
    uint8_t (*leaf)[32] = calloc(blk->n_miners + 1, sizeof(*leaf));
    tally_status st = leaf ? add_node(batch, log, &cb, t, NULL) : TALLY_ENOMEM;

    for (size_t i = 0; st == TALLY_OK && i < blk->n; i++) {
        bool miner = i >= blk->n_scores && i < blk->n_scores + blk->n_miners;
        if (blk->bodies[i].type == SCHEMA_WEIGHTS) {
            engine_block_set_inputs_hash(blk, (const uint8_t(*)[32])leaf);
        }
        st = add_node(batch, log, &blk->bodies[i], t, miner ? leaf[i - blk->n_scores] : NULL);
    }
    free(leaf);
    return st;
}

/* The cycle's records, signed, in batch (times t), and its block (compute_block). */
static tally_status build_block(store_log *log, engine *e, const engine_rules *rules,
                                uint64_t to, uint64_t cycle, uint64_t epoch, uint64_t t,
                                uint64_t as_of, ledger_batch *batch, engine_block *blk)
{
    schema_scoring_cycle sc;
    tally_status st = compute_block(log, e, rules, to, cycle, epoch, as_of, &sc, blk);

    return st == TALLY_OK ? block_batch(batch, log, &sc, blk, t) : st;
}

static void fill_info(ledger_cycle_info *info, uint64_t first, const engine_block *blk,
                      uint64_t covers_to)
{
    info->covers_to = covers_to;
    info->seq = first, info->records = blk->n + 1, info->scores = blk->n_scores;
    info->miners = blk->n_miners, info->has_weights = blk->has_weights;
    info->state_len = blk->state_len;
    memcpy(info->state_hash, blk->state_hash, 32);
}

tally_status ledger_node_cycle(store_log *log, engine *e, engine_rules *rules, uint64_t cycle,
                            uint64_t epoch, uint64_t t, ledger_cycle_info *info)
{
    engine_block blk;
    ledger_batch batch = LEDGER_BATCH_INIT;
    uint64_t first;
    tally_status st;

    memset(info, 0, sizeof(*info));
    /* the checkpoint carries the rules' state, which stands at the log's end = covers_to */
    st = build_block(log, e, rules, store_size(log), cycle, epoch, t, SCHEMA_AS_OF(t), &batch,
                     &blk);
    /* the block passes the same rules as every record (a failure here is a bug in the engine
     * or the driver, reported as such) */
    for (size_t i = 0; st == TALLY_OK && rules != NULL && i < batch.n; i++) {
        engine_verdict v;
        st = ledger_rules_admit(rules, &batch.in[i], &v);
        if (st == TALLY_OK && v.rule != ENGINE_RULE_OK) {
            snprintf(info->what, sizeof(info->what), "cycle record %zu breaks rule %s: %s", i,
                     engine_rule_name(v.rule), v.detail);
            st = TALLY_EINVAL;
        }
    }
    /* the checkpoint goes first: a crash before the append leaves a file no record names */
    if (st == TALLY_OK) {
        st = store_checkpoint_put(log, cycle, blk.state, blk.state_len);
    }
    if (st == TALLY_OK) {
        st = ledger_batch_flush(&batch, log, &first);
    }
    if (st == TALLY_OK) {
        fill_info(info, first, &blk, first);
    }
    ledger_batch_release(&batch);
    engine_block_release(&blk);
    return st;
}

tally_status ledger_node_cycle_live(store_log *log, engine **e, engine_rules *rules,
                                 uint64_t now_ms, ledger_cycle_info *info)
{
    engine_block blk;
    ledger_batch batch = LEDGER_BATCH_INIT;
    store_rejection rej = {0};
    uint64_t first, cycle, epoch, as_of = SCHEMA_AS_OF(now_ms);
    tally_status st;

    memset(info, 0, sizeof(*info));
    /* the rules and the engine stand where the cycle's inputs end: the log as it is now (read
     * once: ingest goes on meanwhile, and what it appends is the next cycle's) */
    uint64_t covers_to = store_size(log);
    st = ledger_rules_fold(log, rules, covers_to);
    if (st != TALLY_OK) {
        return st;
    }
    engine_rules_cycles(rules, &cycle, &epoch);
    cycle++;
    schema_scoring_cycle sc;
    st = compute_block(log, *e, rules, covers_to, cycle, epoch, as_of, &sc, &blk);
    if (st == TALLY_OK) {
        st = store_checkpoint_put(log, cycle, blk.state, blk.state_len);
    }
    /* The block lands after whatever was ingested meanwhile (these are inputs of the next
     * cycle), at one time t it is signed for, a little ahead of the latest commit so that a
     * commit racing it rarely passes it; with not_after = t the writer stores it at exactly t
     * or refuses it, and then it is signed again for a later time. Never on the
     * next UTC day, whose as_of it would not have. */
    for (unsigned attempt = 0; st == TALLY_OK; attempt++) {
        uint64_t last = as_of + SCHEMA_DAY_MS - 1, t = now_ms;
        schema_sth sth;
        if (store_sth_latest(log, &sth) == TALLY_OK && sth.time_ms > t) {
            t = sth.time_ms;
        }
        t = t + LIVE_AHEAD_MS < last ? t + LIVE_AHEAD_MS : last;
        ledger_batch_release(&batch);
        batch = (ledger_batch)LEDGER_BATCH_INIT;
        rej = (store_rejection){0};
        st = block_batch(&batch, log, &sc, &blk, t);
        if (st == TALLY_OK) {
            st = store_append_judged(log, batch.in, batch.n, t, NULL, &first, &rej);
        }
        /* passed (TALLY_EAGAIN), or below a commit that passed it while it was signed
         * (TALLY_EINVAL with no rule's code): signed again for a later time */
        bool passed = st == TALLY_EAGAIN || (st == TALLY_EINVAL && rej.code == 0);
        if (!passed) {
            break;
        }
        if (t == last || attempt + 1 == LIVE_TIME_TRIES) {
            st = TALLY_EAGAIN;
            rej.has_index = false;
            snprintf(rej.what, sizeof(rej.what),
                     t == last ? "the block would land after its UTC day (its last ms %" PRIu64 ")"
                               : "commits kept passing the block's time (%" PRIu64 ")",
                     t);
            break;
        }
        st = TALLY_OK;
    }
    if (st == TALLY_EINVAL && rej.has_index) {
        snprintf(info->what, sizeof(info->what), "cycle record %zu breaks rule %s", rej.index,
                 engine_rule_name((engine_rule)rej.code));
    } else if (st != TALLY_OK) {
        snprintf(info->what, sizeof(info->what), "%s", rej.what);
    }
    if (st == TALLY_OK) {
        fill_info(info, first, &blk, covers_to);
    } else if (blk.state != NULL) {
        /* the engine computed a block that is not in the log: it is put back as it was before,
         * from the state this very computation produced */
        engine *back;
        tally_status bst = ledger_state_load(log, blk.state, blk.state_len, &back);
        if (bst == TALLY_OK) {
            engine_free(*e);
            *e = back;
        } else {
            st = bst;
        }
    }
    ledger_batch_release(&batch);
    engine_block_release(&blk);
    return st;
}

/* The STATE_HASH records among [lo, hi), in log order, appended to (*cyc, *hash). */
static tally_status state_hashes_in(store_log *log, uint64_t lo, uint64_t hi, uint64_t **cyc,
                                    uint8_t (**hash)[32], size_t *n, size_t *cap)
{
    store_iter *it;
    store_record r;
    tally_status st = store_iter_open(log, lo, &it);

    while (st == TALLY_OK && (st = store_iter_next(it, &r)) == TALLY_OK && r.seq < hi) {
        schema_header h;
        schema_body b;
        if (schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if (h.type != SCHEMA_STATE_HASH) {
            continue;
        }
        if (store_record_body(&r, &h, &b) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 64;
            uint64_t *c2 = realloc(*cyc, nc * sizeof(*c2));
            uint8_t (*h2)[32] = c2 != NULL ? realloc(*hash, nc * 32) : NULL;
            if (c2 != NULL) {
                *cyc = c2;
            }
            if (h2 == NULL) {
                schema_body_release(&b);
                st = TALLY_ENOMEM;
                break;
            }
            *hash = h2, *cap = nc;
        }
        (*cyc)[*n] = b.u.state_hash.cycle;
        memcpy((*hash)[(*n)++], b.u.state_hash.state_hash, 32);
        schema_body_release(&b);
    }
    store_iter_close(it);
    return st == TALLY_ENOTFOUND || (st == TALLY_OK && r.seq >= hi) ? TALLY_OK : st;
}

/* Records per step of the backward search: a day of a busy subnet holds one cycle's block. */
#define CKPT_SCAN_STEP 65536u

/* The latest cycle whose checkpoint file holds the state its STATE_HASH record names (0: none).
 * The log is searched from its end back, a step at a time, so a fast restart reads about one
 * day of records, not the whole log; within a step the files are tried from the newest down. */
static tally_status latest_checkpoint(store_log *log, uint64_t *cycle_out, bool *newest,
                                      uint8_t **blob_out, size_t *len_out)
{
    uint64_t *cyc = NULL, hi = store_size(log);
    uint8_t (*hash)[32] = NULL;
    size_t cap = 0;
    bool any = false, found = false;
    tally_status st = TALLY_OK;

    *cycle_out = 0, *newest = false, *blob_out = NULL, *len_out = 0;
    while (st == TALLY_OK && !found && hi > 0) {
        uint64_t lo = hi > CKPT_SCAN_STEP ? hi - CKPT_SCAN_STEP : 0;
        size_t n = 0;
        st = state_hashes_in(log, lo, hi, &cyc, &hash, &n, &cap);
        while (st == TALLY_OK && n > 0) {
            uint8_t *blob = NULL;
            size_t len;
            n--;
            st = store_checkpoint_get(log, cyc[n], hash[n], &blob, &len);
            if (st == TALLY_OK) {
                /* newest: the log's last STATE_HASH, the first one met from the end */
                *cycle_out = cyc[n], *newest = !any, *blob_out = blob, *len_out = len;
                found = true;
                break;
            }
            free(blob);
            any = true;
            if (st == TALLY_ENOTFOUND || st == TALLY_ECORRUPT) {
                st = TALLY_OK; /* no file, or not the state named: an older one may serve */
            }
        }
        hi = lo;
    }
    free(cyc);
    free(hash);
    return st;
}

tally_status ledger_node_catch_up(store_log *log, bool from_checkpoint, engine **out,
                                  uint64_t *cycles_out, uint64_t *resumed_out)
{
    ledger_replay_cfg cfg = {0};
    ledger_replay_result res;
    uint8_t *blob = NULL;
    size_t len = 0;
    bool newest = false;
    tally_status st = from_checkpoint
                          ? latest_checkpoint(log, &cfg.from_cycle, &newest, &blob, &len)
                          : TALLY_OK;

    *out = NULL;
    if (resumed_out != NULL) {
        *resumed_out = 0;
    }
    if (st == TALLY_OK && newest) {
        /* the state after the log's last cycle, as this node computed it: the records after
         * its covers_to are folded, its own block included (by header, as a replay does once
         * it matched), and nothing of the log is judged or recomputed again */
        engine *e = NULL;
        st = ledger_state_load(log, blob, len, &e);
        if (st == TALLY_OK) {
            st = ledger__fold_range(log, NULL, e, store_size(log));
        }
        free(blob);
        if (st != TALLY_OK) {
            engine_free(e);
            return st;
        }
        *out = e, *cycles_out = cfg.from_cycle;
        if (resumed_out != NULL) {
            *resumed_out = cfg.from_cycle;
        }
        return TALLY_OK;
    }
    free(blob);
    if (st != TALLY_OK) {
        return st;
    }
    /* an older checkpoint (the latest cycle's file is missing): the cycles after it are
     * recomputed and compared */
    st = ledger_replay(log, &cfg, &res);
    if (st == TALLY_OK && res.mismatch) {
        st = TALLY_ECORRUPT;
    }
    if (st != TALLY_OK) {
        engine_free(res.eng);
        return st;
    }
    /* a replay resumed from cycle c counts only the cycles from c on */
    *out = res.eng, *cycles_out = cfg.from_cycle ? res.last_cycle : res.cycles;
    if (resumed_out != NULL) {
        *resumed_out = cfg.from_cycle;
    }
    return TALLY_OK;
}


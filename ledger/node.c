/* The node side: each SCORING_CYCLE appended with its derived block and checkpoint, and the
 * engine caught up with an existing log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

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

tally_status ledger_node_cycle(store_log *log, engine *e, engine_rules *rules, uint64_t cycle,
                            uint64_t epoch, uint64_t t, ledger_cycle_info *info)
{
    schema_body cb = {.type = SCHEMA_SCORING_CYCLE};
    schema_header ch = {.type = SCHEMA_SCORING_CYCLE, .time_ms = t};
    engine_block blk;
    ledger_batch batch = LEDGER_BATCH_INIT;
    uint8_t (*leaf)[32] = NULL;
    uint64_t first, seq;
    tally_status st = ledger__fold_range(log, NULL, e, store_size(log));

    memset(info, 0, sizeof(*info));
    if (st != TALLY_OK) {
        return st;
    }
    seq = store_size(log);
    cb.u.scoring_cycle = (schema_scoring_cycle){
        .cycle = cycle, .epoch = epoch, .as_of_ms = SCHEMA_AS_OF(t), .covers_to = seq,
        .code_version = {SCHEMA_CODE_VERSION, strlen(SCHEMA_CODE_VERSION)}};
    /* the checkpoint carries the rules' state, which stands at the log's end = covers_to */
    engine_attach_rules(e, rules);
    st = engine_cycle(e, seq, &ch, &cb.u.scoring_cycle, &blk);
    engine_attach_rules(e, NULL);
    if (st != TALLY_OK) {
        return st;
    }
    leaf = calloc(blk.n_miners + 1, sizeof(*leaf));
    st = leaf ? add_node(&batch, log, &cb, t, NULL) : TALLY_ENOMEM;
    for (size_t i = 0; st == TALLY_OK && i < blk.n; i++) {
        bool miner = i >= blk.n_scores && i < blk.n_scores + blk.n_miners;
        if (blk.bodies[i].type == SCHEMA_WEIGHTS) {
            engine_block_set_inputs_hash(&blk, (const uint8_t(*)[32])leaf);
        }
        st = add_node(&batch, log, &blk.bodies[i], t, miner ? leaf[i - blk.n_scores] : NULL);
    }
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
        info->seq = first, info->records = blk.n + 1, info->scores = blk.n_scores;
        info->miners = blk.n_miners, info->has_weights = blk.has_weights;
        info->state_len = blk.state_len;
        memcpy(info->state_hash, blk.state_hash, 32);
    }
    free(leaf);
    ledger_batch_release(&batch);
    engine_block_release(&blk);
    return st;
}

tally_status ledger_node_catch_up(store_log *log, engine **out, uint64_t *cycles_out)
{
    ledger_replay_cfg cfg = {0};
    ledger_replay_result res;
    tally_status st = ledger_replay(log, &cfg, &res);

    *out = NULL;
    if (st == TALLY_OK && res.mismatch) {
        st = TALLY_ECORRUPT;
    }
    if (st != TALLY_OK) {
        engine_free(res.eng);
        return st;
    }
    *out = res.eng, *cycles_out = res.cycles;
    return TALLY_OK;
}


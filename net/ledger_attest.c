/* POST /v1/attestations (protocol §6.6): an eligible auditor's ATTESTATION, signed by its token's
 * key, appended through the writer as its own record. The writer's admission hook (the
 * acceptance rules' check_attestation, the code every auditor replays) decides eligibility, the
 * cycle, duplicates and nonces; before queueing, the door checks answer from the finality fold
 * what it would refuse, and the one bound the rules cannot see: state_seq < tree_size. The answer
 * is the §5.5 write response with a node-signed receipt, plus "agrees". */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

typedef struct ajob {
    net_node *n;
    httpd_req *req;
    net__ctx *ctx;
    schema_body decoded;
    uint8_t *body;
    size_t body_len;
    store_input in;
    store_item_result out;
    store_req_result res;
    bool agree_root, agree_state, agree_weights;
} ajob;

static void ajob_free(ajob *j)
{
    schema_body_release(&j->decoded);
    free(j->body);
    free(j);
}

static void refuse(net_node *n, httpd_req *req, net__ctx *ctx, engine_rule rule, const char *why)
{
    json_t *d = json_pack("{s:s}", "rule", engine_rule_name(rule));

    switch (rule) {
    case ENGINE_RULE_ATTESTATION_DUPLICATE:
        net__fail(n, req, ctx, WIRE_ATTESTATION_DUPLICATE, why, d);
        break;
    case ENGINE_RULE_NONCE_STALE:
        net__fail(n, req, ctx, WIRE_NONCE_STALE, why, d);
        break;
    case ENGINE_RULE_NONCE_REPLAY:
        net__fail(n, req, ctx, WIRE_NONCE_REPLAY, why, d);
        break;
    default:
        net__fail(n, req, ctx, WIRE_ATTESTATION_INVALID, why, d);
        break;
    }
    json_decref(d);
}

/* The writer's verdict, on the writer thread once the commit is durable. */
static void on_done(void *arg, tally_status st)
{
    ajob *j = arg;
    net_node *n = j->n;
    const schema_attestation *a = &j->decoded.u.attestation;

    if (st != TALLY_OK) {
        net__latch(n, st);
        net__fail(n, j->req, j->ctx, st == TALLY_EFULL ? WIRE_STORAGE_FULL : WIRE_INTERNAL_ERROR,
                  "the write failed", NULL);
        ajob_free(j);
        return;
    }
    if (!j->out.accepted) {
        refuse(n, j->req, j->ctx, (engine_rule)j->out.code,
               "the acceptance rules refused the attestation");
        ajob_free(j);
        return;
    }
    const char *lv[1] = {a->verdict == 1 ? "pass" : a->verdict == 2 ? "fail" : "paused"};
    const char *lt[1] = {"ATTESTATION"};
    ops_metric_add(n->metrics, OPS_M_ATTESTATIONS, lv, 1);
    ops_metric_add(n->metrics, OPS_M_LOG_APPENDS, lt, 1);
    char key[65], leaf[65];
    schema_hex(j->ctx->auth.key, 32, key);
    schema_hex(j->out.leaf_hash, 32, leaf);
    OPS_LOG(n->log, OPS_INFO, "net", "attestation_appended",
            OPS_FS("request_id", httpd_req_id(j->req)), OPS_FS("key", key),
            OPS_FU("cycle", a->cycle), OPS_FU("tree_size", a->tree_size), OPS_FS("verdict", lv[0]),
            OPS_FU("seq", j->out.seq));
    store_request rq = {.nonce = a->nonce};
    memcpy(rq.key, j->ctx->auth.key, 32);
    wire_receipt_entry e = {.seq = j->out.seq, .time_ms = j->out.time_ms};
    memcpy(e.leaf_hash, j->out.leaf_hash, 32);
    schema_sth head = j->res.sth;
    if (!j->res.has_sth && store_sth_latest(n->store, &head) != TALLY_OK) {
        memset(&head, 0, sizeof(head));
    }
    json_t *rc = net__receipt_json(n, &rq, &head, &e, 1);
    json_t *o = json_pack(
        "{s:b, s:b, s:i, s:i, s:[{s:i, s:s, s:I, s:I, s:s}], s:o, s:{s:b, s:b, s:b}}", "success",
        1, "duplicate", 0, "accepted", 1, "rejected", 0, "items", "idx", 0, "status", "accepted",
        "seq", (json_int_t)j->out.seq, "time_ms", (json_int_t)j->out.time_ms, "leaf_hash", leaf,
        "receipt", rc ? rc : json_null(), "agrees", "root", j->agree_root, "state_hash",
        j->agree_state, "weights_hash", j->agree_weights);
    net__reply_json(n, j->req, j->ctx, 200, o);
    json_decref(o);
    ajob_free(j);
}

/* The door checks against the fold at the head; false when answered. */
static bool door(net_node *n, httpd_req *req, net__ctx *ctx, ajob *j)
{
    const schema_attestation *a = &j->decoded.u.attestation;
    ledger_finality_state *fin;
    const ledger_cycle_meta *cy, *c = NULL;
    const ledger_attestation *att;
    size_t nc, na;
    uint8_t root[32];
    char why[200];

    if (net__fin_lock(n, &fin) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the cycles", NULL);
        return false;
    }
    uint64_t size = ledger_finality_size(fin);
    cy = ledger_finality_cycles(fin, &nc);
    if (a->cycle >= 1 && a->cycle <= nc && cy[a->cycle - 1].complete) {
        c = &cy[a->cycle - 1];
    }
    att = ledger_finality_attestations(fin, &na);
    bool dup = false;
    for (size_t i = 0; i < na && !dup; i++) {
        dup = att[i].a.cycle == a->cycle && att[i].eligible &&
              memcmp(att[i].hotkey, ctx->bind.hotkey, 32) == 0;
    }
    ledger_cycle_meta cm = c != NULL ? *c : (ledger_cycle_meta){0};
    pthread_mutex_unlock(&n->fin_mu);
    if (c == NULL) {
        snprintf(why, sizeof(why), "cycle %" PRIu64 " has no STATE_HASH in the log", a->cycle);
        refuse(n, req, ctx, ENGINE_RULE_ATTESTATION_INVALID, why);
        return false;
    }
    if (!(cm.state_seq < a->tree_size && a->tree_size <= size)) {
        snprintf(why, sizeof(why),
                 "tree_size %" PRIu64 " is not above the cycle's STATE_HASH (seq %" PRIu64
                 ") and within the log (%" PRIu64 ")",
                 a->tree_size, cm.state_seq, size);
        refuse(n, req, ctx, ENGINE_RULE_ATTESTATION_INVALID, why);
        return false;
    }
    if (dup) {
        refuse(n, req, ctx, ENGINE_RULE_ATTESTATION_DUPLICATE,
               "this hotkey already attested the cycle");
        return false;
    }
    if (store_root(n->store, a->tree_size, root) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot compute the root", NULL);
        return false;
    }
    j->agree_root = memcmp(root, a->root, 32) == 0;
    j->agree_state = memcmp(cm.state_hash, a->state_hash, 32) == 0;
    j->agree_weights = memcmp(cm.weights_hash, a->weights_hash, 32) == 0;
    return true;
}

void net__h_attest_post(net_node *n, httpd_req *req, net__ctx *ctx)
{
    tally_bytes body = httpd_req_body(req), view;
    tally_str origin = {n->origin, strlen(n->origin)};
    wire_fail wf;
    ajob *j;
    tally_status st;

    if (!net__writable(n, req, ctx)) {
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    j->n = n, j->req = req, j->ctx = ctx;
    st = wire_attest_parse(origin, ctx->auth.key, body.p, body.n, &view, &j->decoded,
                           &j->in.header, &wf);
    {
        const char *lv[2] = {"item", st == TALLY_EAUTH ? "bad" : "ok"};
        if (st == TALLY_OK || st == TALLY_EAUTH) {
            ops_metric_add(n->metrics, OPS_M_SIG_VERIFICATIONS, lv, 1);
        }
    }
    if (st != TALLY_OK) {
        json_t *d = json_pack("{s:s}", "field", wf.field);
        net__fail(n, req, ctx, wf.err, wf.message, d);
        json_decref(d);
        ajob_free(j);
        return;
    }
    if (!door(n, req, ctx, j)) {
        ajob_free(j);
        return;
    }
    /* the request's bytes die with it; the writer holds its own copy of the body */
    j->body = malloc(view.n);
    if (j->body == NULL) {
        ajob_free(j);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    memcpy(j->body, view.p, view.n);
    j->body_len = view.n;
    j->in.body = j->body, j->in.body_len = j->body_len;
    httpd_req_defer(req);
    st = store_submit_request(n->store, NULL, &j->in, 1, &j->out, &j->res, on_done, j);
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, st == TALLY_EAGAIN ? WIRE_OVERLOADED : WIRE_INTERNAL_ERROR,
                  st == TALLY_EAGAIN ? "the writer's queue is full; retry"
                                     : "the attestation could not be queued",
                  NULL);
        ajob_free(j);
    }
}

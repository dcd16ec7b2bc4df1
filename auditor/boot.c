/* Bootstrap from a final checkpoint (protocol §6.5; docs/audit.md "Bootstrap"): a new auditor
 * whose replica holds the whole log, every header and every body it may read checked as today
 * (sync.c), skips only the replay before a final cycle's covers_to. The cycle is the latest one
 * that is final and undisputed in the replica's own finality fold (ledger_finality, the node's
 * code) and no later than the one the node names (GET /v1/finality); the node's listing
 * (GET /v1/checkpoints) must agree with that cycle's SCORING_CYCLE and STATE_HASH records; the
 * STATE_HASH record is checked by an inclusion proof, and the tree at covers_to by a consistency
 * proof, against the replica's signed head; the blob (GET /v1/checkpoints/<cycle>) must hash to
 * the record's state_hash. Only then is the blob stored beside the replica as the state of that
 * cycle and the cycle taken as the last one checked, so the replay in check.c resumes from it
 * (re-deriving the cycle's own block) and the cycles up to it are never attested by this
 * auditor. A bad blob or a listing that contradicts the log is refused (bad_checkpoint): the
 * evidence is kept, nothing else changes, and the next round tries again. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditor/audit_int.h"

/* A non-negative JSON integer member, or false. */
static bool j_u64(const json_t *o, const char *k, uint64_t *out)
{
    const json_t *v = json_object_get(o, k);

    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* A JSON member of 64 hex digits, or false. */
static bool j_hash(const json_t *o, const char *k, uint8_t out[32])
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL && strlen(s) == 64 && schema_unhex(s, 64, out, 32) == TALLY_OK;
}

/* Refuses the bootstrap (not sticky, nothing attested: no cycle of the log is shown wrong, and
 * this auditor has checked none) and keeps the evidence. */
static tally_status refuse(audit *a, audit_round *r, uint64_t cycle, json_t *ev, const char *fmt,
                           ...) __attribute__((format(printf, 5, 6)));
static tally_status refuse(audit *a, audit_round *r, uint64_t cycle, json_t *ev, const char *fmt,
                           ...)
{
    va_list ap;

    r->failed = true, r->reason = AUDIT_R_BAD_CHECKPOINT, r->has_seq = false;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof(r->what), fmt, ap);
    va_end(ap);
    if (ev == NULL) {
        ev = json_object();
    }
    if (ev == NULL) {
        return TALLY_ENOMEM;
    }
    json_object_set_new(ev, "kind", json_string(audit_reason_name(AUDIT_R_BAD_CHECKPOINT)));
    json_object_set_new(ev, "what", json_string(r->what));
    json_object_set_new(ev, "cycle", json_integer((json_int_t)cycle));
    OPS_LOG(a->olog, OPS_ERROR, "auditor", "bootstrap_refused", OPS_FU("cycle", cycle),
            OPS_FS("what", r->what));
    return audit__evidence(a, ev);
}

/* The cycle the node names as its latest final one (0: none, or no complete cycle yet). */
static tally_status node_final(audit *a, uint64_t *out, char *what)
{
    client_response *resp = NULL;
    json_t *o;
    unsigned code;
    uint64_t cycle;
    tally_status st = audit__get(a, "/v1/finality", false, false, &resp, what);

    *out = 0;
    if (st != TALLY_OK) {
        return st;
    }
    code = client_response_status(resp);
    o = code == 200 ? audit__json(resp) : NULL;
    client_response_free(resp);
    if (code == 404) {
        return TALLY_OK; /* no complete cycle in the log yet */
    }
    if (code != 200) {
        return audit__say(what, TALLY_EIO, "GET /v1/finality: HTTP %u", code);
    }
    if (o == NULL || !j_u64(o, "cycle", &cycle) || !j_u64(o, "latest_final_cycle", out) ||
        !json_is_boolean(json_object_get(o, "final")) ||
        !json_is_boolean(json_object_get(o, "disputed")) || *out > cycle) {
        json_decref(o);
        *out = 0;
        return audit__say(what, TALLY_EIO,
                          "the primary's answer to GET /v1/finality is malformed (wanted cycle, "
                          "latest_final_cycle ≤ cycle, final and disputed)");
    }
    json_decref(o);
    return TALLY_OK;
}

/* The latest cycle ≤ upto that is final and undisputed in the replica's own log. */
static tally_status pick_cycle(audit *a, uint64_t upto, ledger_cycle_meta *out, bool *found)
{
    ledger_finality_state *fin = NULL;
    const ledger_cycle_meta *cy;
    size_t nc;
    tally_status st = ledger_finality_new(&fin);

    *found = false;
    if (st == TALLY_OK) {
        st = ledger_finality_update(fin, a->log, store_size(a->log));
    }
    cy = st == TALLY_OK ? ledger_finality_cycles(fin, &nc) : NULL;
    for (size_t i = cy ? nc : 0; st == TALLY_OK && i > 0 && !*found; i--) {
        ledger_finality_result fr = {0};
        if (!cy[i - 1].complete || cy[i - 1].cycle > upto) {
            continue;
        }
        st = ledger_finality_get(fin, cy[i - 1].cycle, &fr);
        if (st == TALLY_OK && fr.final && !fr.disputed) {
            *out = fr.meta, *found = true;
        }
        ledger_finality_result_release(&fr);
    }
    ledger_finality_free(fin);
    return st;
}

/* The node's listing of the cycle's checkpoint, which must be the log's (c). */
static tally_status check_listing(audit *a, const ledger_cycle_meta *c, audit_round *r)
{
    char target[96];
    client_response *resp = NULL;
    json_t *o, *items, *it;
    uint64_t v[6];
    uint8_t sh[32];
    unsigned code;
    tally_status st;

    snprintf(target, sizeof(target), "/v1/checkpoints?after=%" PRIu64 "&limit=1", c->cycle - 1);
    st = audit__get(a, target, false, false, &resp, r->what);
    if (st != TALLY_OK) {
        return st;
    }
    code = client_response_status(resp);
    o = code == 200 ? audit__json(resp) : NULL;
    client_response_free(resp);
    if (code != 200) {
        return audit__say(r->what, TALLY_EIO, "GET %s: HTTP %u", target, code);
    }
    items = json_object_get(o, "items");
    it = json_is_array(items) && json_array_size(items) == 1 ? json_array_get(items, 0) : NULL;
    if (!json_is_object(it) || !j_u64(it, "cycle", &v[0]) || !j_u64(it, "covers_to", &v[1]) ||
        !j_u64(it, "cycle_seq", &v[2]) || !j_u64(it, "state_seq", &v[3]) ||
        !j_u64(it, "tree_size", &v[4]) || !j_u64(it, "state_len", &v[5]) ||
        !j_hash(it, "state_hash", sh) || !json_is_boolean(json_object_get(it, "final"))) {
        json_decref(o);
        return audit__say(r->what, TALLY_EIO,
                          "the primary's answer to GET %s is malformed (wanted one item with "
                          "cycle, covers_to, cycle_seq, state_seq, tree_size, state_len, "
                          "state_hash and final)",
                          target);
    }
    json_decref(o);
    if (v[0] != c->cycle || v[1] != c->covers_to || v[2] != c->cycle_seq || v[3] != c->state_seq ||
        v[4] != c->state_seq + 1 || memcmp(sh, c->state_hash, 32) != 0) {
        return refuse(a, r, c->cycle, NULL,
                      "the primary lists a checkpoint of cycle %" PRIu64 " (covers_to %" PRIu64
                      ", state_seq %" PRIu64
                      ") that is not the one its log holds (covers_to %" PRIu64
                      ", state_seq %" PRIu64 ")",
                      c->cycle, v[1], v[3], c->covers_to, c->state_seq);
    }
    return TALLY_OK;
}

/* The STATE_HASH record by inclusion, and the tree at covers_to by consistency, in the
 * replica's latest signed head (the node's STH it stored its records under, checked against the
 * trusted checkpoint by sync.c): what the checkpoint stands on is in the tree the node signed.
 * The replica's tree is the one those heads sign, so these are checks, not new trust. */
static tally_status check_proofs(audit *a, const ledger_cycle_meta *c, char *what)
{
    uint8_t path[STORE_PROOF_MAX][32], root[32];
    size_t np;
    store_iter *it = NULL;
    store_record rec;
    schema_header h;
    schema_body b;
    schema_sth sth;
    uint64_t size;
    tally_status st = store_sth_latest(a->log, &sth);

    if (st != TALLY_OK) {
        return st;
    }
    size = sth.tree_size;
    if (c->state_seq >= size || c->covers_to == 0 || c->covers_to > c->cycle_seq) {
        return audit__say(what, TALLY_ECORRUPT,
                          "cycle %" PRIu64 " (covers_to %" PRIu64 ", state_seq %" PRIu64
                          ") does not fit the replica's head of %" PRIu64 " records",
                          c->cycle, c->covers_to, c->state_seq, size);
    }
    st = store_iter_open(a->log, c->state_seq, &it);
    if (st == TALLY_OK) {
        st = store_iter_read(it, true, &rec, &h, &b);
    }
    if (st == TALLY_OK) {
        bool ok = h.type == SCHEMA_STATE_HASH && b.u.state_hash.cycle == c->cycle &&
                  memcmp(b.u.state_hash.state_hash, c->state_hash, 32) == 0;
        if (ok) {
            st = store_proof_inclusion(a->log, c->state_seq, size, path, &np);
            ok = st == TALLY_OK && store_verify_inclusion(rec.leaf_hash, c->state_seq, size,
                                                          (const uint8_t(*)[32])path, np, sth.root);
        }
        schema_body_release(&b);
        if (st == TALLY_OK && !ok) {
            st = audit__say(what, TALLY_ECORRUPT,
                            "the replica's STATE_HASH record of cycle %" PRIu64 " at seq %" PRIu64
                            " is not included in the replica's signed head",
                            c->cycle, c->state_seq);
        }
    }
    store_iter_close(it);
    if (st == TALLY_OK) {
        st = store_root(a->log, c->covers_to, root);
    }
    if (st == TALLY_OK) {
        st = store_proof_consistency(a->log, c->covers_to, size, path, &np);
    }
    if (st == TALLY_OK && !store_verify_consistency(c->covers_to, size, root, sth.root,
                                                    (const uint8_t(*)[32])path, np)) {
        st = audit__say(what, TALLY_ECORRUPT,
                        "the replica's tree at covers_to %" PRIu64
                        " is not consistent with its signed head",
                        c->covers_to);
    }
    return st;
}

/* What a refused blob says it is, for the sentence: "the state of cycle N" when it starts as a
 * checkpoint does (["tally-state-v1", cycle, ...]), else "not a checkpoint". */
static void blob_says(const uint8_t *p, size_t n, char *out, size_t cap)
{
    schema_mpr r;
    size_t sn;
    const char *magic;
    uint64_t cycle;

    schema_mpr_init(&r, p, n);
    (void)schema_mpr_array(&r);
    magic = schema_mpr_str(&r, &sn);
    cycle = schema_mpr_uint(&r);
    if (!r.bad && magic != NULL && sn == strlen(ENGINE_STATE_MAGIC) &&
        memcmp(magic, ENGINE_STATE_MAGIC, sn) == 0) {
        snprintf(out, cap, "a state of cycle %" PRIu64, cycle);
    } else {
        snprintf(out, cap, "not a checkpoint");
    }
}

/* Fetches the blob and checks it against the STATE_HASH record's state_hash. *out (malloc'd)
 * is NULL when the node does not keep it (404) or the blob was refused (r->failed). */
static tally_status fetch_blob(audit *a, const ledger_cycle_meta *c, audit_round *r, uint8_t **out,
                               size_t *n_out)
{
    char target[64], got_hex[65], want_hex[65];
    client_response *resp = NULL;
    tally_bytes body;
    uint8_t got[32];
    unsigned code;
    tally_status st;

    *out = NULL, *n_out = 0;
    snprintf(target, sizeof(target), "/v1/checkpoints/%" PRIu64, c->cycle);
    st = audit__get(a, target, true, true, &resp, r->what);
    if (st != TALLY_OK) {
        return st;
    }
    code = client_response_status(resp);
    if (code == 404) {
        client_response_free(resp);
        return TALLY_OK;
    }
    if (code != 200) {
        client_response_free(resp);
        return audit__say(r->what, TALLY_EIO, "GET %s: HTTP %u", target, code);
    }
    body = client_response_body(resp);
    schema_sha256_2(got, body.p, body.n, NULL, 0);
    if (memcmp(got, c->state_hash, 32) != 0) {
        size_t keep = body.n < 64 ? body.n : 64;
        char head_hex[129], says[64];
        blob_says(body.p, body.n, says, sizeof(says));
        schema_hex(got, 32, got_hex);
        schema_hex(c->state_hash, 32, want_hex);
        schema_hex(body.p, keep, head_hex);
        st = refuse(
            a, r, c->cycle,
            json_pack("{ss ss sI ss ss}", "state_hash", want_hex, "served_sha256", got_hex,
                      "served_len", (json_int_t)body.n, "served_head", head_hex, "served_is", says),
            "the checkpoint served for cycle %" PRIu64 " (%zu bytes, %s, SHA-256 "
            "%.16s…) is not the state its STATE_HASH record at seq %" PRIu64 " names (%.16s…)",
            c->cycle, body.n, says, got_hex, c->state_seq, want_hex);
        client_response_free(resp);
        return st;
    }
    *out = malloc(body.n ? body.n : 1);
    if (*out == NULL) {
        client_response_free(resp);
        return TALLY_ENOMEM;
    }
    memcpy(*out, body.p, body.n);
    *n_out = body.n;
    client_response_free(resp);
    return TALLY_OK;
}

tally_status audit__bootstrap(audit *a, audit_round *r)
{
    ledger_cycle_meta c;
    uint64_t named;
    bool found;
    uint8_t *blob = NULL;
    size_t n = 0;
    tally_status st = node_final(a, &named, r->what);

    if (st != TALLY_OK) {
        return st;
    }
    st = named ? pick_cycle(a, named, &c, &found) : TALLY_OK;
    if (st != TALLY_OK || named == 0 || !found) {
        if (st == TALLY_OK) {
            OPS_LOG(a->olog, OPS_WARN, "auditor", "bootstrap_genesis",
                    OPS_FU("named_final_cycle", named),
                    OPS_FS("why", named ? "no cycle the node names final is final and undisputed "
                                          "in the replica's log"
                                        : "the node names no final cycle"));
        }
        return st;
    }
    if (c.covers_to == 0 || c.covers_to > c.cycle_seq) {
        /* a cycle the record rules refuse: the replay from GENESIS judges it */
        OPS_LOG(a->olog, OPS_WARN, "auditor", "bootstrap_genesis", OPS_FU("cycle", c.cycle),
                OPS_FS("why", "the cycle's covers_to is out of range"));
        return TALLY_OK;
    }
    st = check_listing(a, &c, r);
    if (st == TALLY_OK && !r->failed) {
        st = check_proofs(a, &c, r->what);
    }
    if (st == TALLY_OK && !r->failed) {
        st = fetch_blob(a, &c, r, &blob, &n);
    }
    if (st != TALLY_OK || r->failed) {
        free(blob);
        return st;
    }
    if (blob == NULL) {
        OPS_LOG(a->olog, OPS_WARN, "auditor", "bootstrap_genesis", OPS_FU("cycle", c.cycle),
                OPS_FS("why", "the node does not keep the checkpoint of that cycle"));
        return TALLY_OK;
    }
    /* checked: the state of that cycle, as if this auditor had computed it (check.c resumes
     * from it and re-derives the cycle's block), and the cycles up to it are never attested */
    st = store_checkpoint_put(a->log, c.cycle, blob, n);
    free(blob);
    if (st == TALLY_OK) {
        a->st.bootstrap_cycle = c.cycle;
        a->st.last_checked_cycle = c.cycle;
        st = audit__state_save(a);
    }
    if (st == TALLY_OK) {
        r->bootstrapped_from = c.cycle;
        OPS_LOG(a->olog, OPS_INFO, "auditor", "bootstrap", OPS_FU("cycle", c.cycle),
                OPS_FU("covers_to", c.covers_to), OPS_FU("state_seq", c.state_seq),
                OPS_FU("passes", c.passes), OPS_FU("k", c.k));
    }
    return st;
}

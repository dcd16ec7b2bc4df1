/* What the auditor says: one ATTESTATION per cycle it decided (§6.6), signed with its key and
 * posted to the primary, which appends it through its writer like any record; the weights of
 * the last passing cycle, written for the process that sets weights on chain (docs/audit.md);
 * and a cosignature of each checkpoint it verified (§6.6a). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditor/audit_int.h"
#include "wire/wire.h"

static uint64_t next_nonce(audit *a)
{
    uint64_t now = (uint64_t)ops_clock_wall_ms(a->cfg.clock);

    /* nonces increase per key (§6.6); the clock keeps them increasing across data directories
     * restored from a backup */
    a->st.nonce = now > a->st.nonce ? now : a->st.nonce + 1;
    return a->st.nonce;
}

static tally_status post_one(audit *a, audit_cycle *c, audit_round *r)
{
    schema_body b = {.type = SCHEMA_ATTESTATION};
    schema_attestation *at = &b.u.attestation;
    uint8_t body[512], *req = NULL;
    size_t n, req_n;
    schema_header h;
    client_response *resp = NULL;
    tally_status st;

    at->nonce = next_nonce(a);
    at->cycle = c->cycle;
    /* the head the auditor trusts; a split view names the head it refused */
    at->tree_size = c->tree_size;
    memcpy(at->root, c->root, 32);
    memcpy(at->state_hash, c->state_hash, 32);
    memcpy(at->weights_hash, c->weights_hash, 32);
    at->verdict = (uint64_t)c->verdict;
    at->reason = (uint64_t)c->reason;
    at->has_divergent_seq = c->has_divergent_seq;
    at->divergent_seq = c->divergent_seq;
    st = schema_record_build(&b, a->pk, a->sk, (tally_str){a->origin, strlen(a->origin)}, 0, body,
                             sizeof(body), &n, &h);
    if (st == TALLY_OK) {
        st = wire_attest_build(body, n, h.actor_sig, &req, &req_n);
    }
    if (st != TALLY_OK) {
        return st;
    }
    st = audit__post(a, "/v1/attestations", "application/msgpack", req, req_n, &resp, r->what);
    free(req);
    if (st != TALLY_OK) {
        return st;
    }
    if (client_response_status(resp) == 200) {
        json_t *o = audit__json(resp);
        json_t *ag = json_object_get(o, "agrees");
        c->posted = true;
        c->agrees = json_is_true(json_object_get(ag, "root")) &&
                    json_is_true(json_object_get(ag, "state_hash")) &&
                    json_is_true(json_object_get(ag, "weights_hash"));
        json_decref(o);
    } else if (client_response_status(resp) == 409) {
        c->posted = true; /* attestation_duplicate: this hotkey attested the cycle already */
    } else {
        json_t *o = audit__json(resp);
        const char *e = o ? json_string_value(json_object_get(o, "error")) : NULL;
        OPS_LOG(a->olog, OPS_ERROR, "auditor", "attestation_refused", OPS_FU("cycle", c->cycle),
                OPS_FU("status", client_response_status(resp)), OPS_FS("error", e ? e : ""));
        json_decref(o);
    }
    client_response_free(resp);
    OPS_LOG(a->olog, c->verdict == AUDIT_PASS ? OPS_INFO : OPS_WARN, "auditor", "attested",
            OPS_FU("cycle", c->cycle), OPS_FS("verdict", audit_verdict_name(c->verdict)),
            OPS_FS("reason", audit_reason_name(c->reason)), OPS_FB("posted", c->posted),
            OPS_FB("agrees", c->agrees));
    return TALLY_OK;
}

tally_status audit__attest(audit *a, const audit__head *head, audit_round *r)
{
    tally_status st = TALLY_OK;

    (void)head;
    for (size_t i = 0; st == TALLY_OK && i < r->n_cycles; i++) {
        audit_cycle *c = &r->cycles[i];
        if (c->verdict != AUDIT_FAIL && c->cycle <= a->st.last_attested_cycle) {
            continue;
        }
        if (!a->cfg.no_post) {
            st = post_one(a, c, r);
        }
        if (st == TALLY_OK && c->verdict != AUDIT_FAIL) {
            a->st.last_attested_cycle = c->cycle;
        }
        if (st == TALLY_OK && c->verdict == AUDIT_PASS) {
            a->st.last_pass_cycle = c->cycle;
        }
        if (st == TALLY_OK) {
            st = audit__state_save(a);
        }
    }
    return st;
}

/* ---- the weights file ---- */

/* The WEIGHTS body of cycle `cycle` in the replica (in its block, after its SCORING_CYCLE).
 * TALLY_ENOTFOUND when the cycle has none. */
static tally_status weights_of(audit *a, uint64_t cycle, schema_body *out, uint64_t *seq_out)
{
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    bool in_block = false;
    tally_status st = store_iter_open(a->log, 0, &it);

    memset(out, 0, sizeof(*out));
    while (st == TALLY_OK && (st = store_iter_read(it, false, &rec, &h, &b)) == TALLY_OK) {
        if (h.type == SCHEMA_SCORING_CYCLE) {
            st = store_record_body(&rec, &h, &b);
            in_block = st == TALLY_OK && b.u.scoring_cycle.cycle == cycle;
            schema_body_release(&b);
        } else if (in_block && h.type == SCHEMA_WEIGHTS) {
            st = store_record_body(&rec, &h, out);
            *seq_out = rec.seq;
            break;
        } else if (in_block && h.type == SCHEMA_STATE_HASH) {
            st = TALLY_ENOTFOUND;
            break;
        }
    }
    store_iter_close(it);
    return st;
}

static tally_status write_atomic(const char *path, const char *text, char *what)
{
    char tmp[4400];
    size_t n = strlen(text);
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return audit__say(what, TALLY_EIO, "cannot write %s", tmp);
    }
    if (write(fd, text, n) != (ssize_t)n || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return audit__say(what, TALLY_EIO, "cannot write %s", tmp);
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return audit__say(what, TALLY_EIO, "cannot rename %s", tmp);
    }
    return TALLY_OK;
}

tally_status audit__weights(audit *a, audit_round *r)
{
    schema_body b;
    uint64_t seq = 0;
    json_t *o, *uids, *ws;
    char path[4200], wh[65], *text;
    uint8_t bytes[SCHEMA_BODY_MAX];
    size_t n;
    tally_status st;

    /* the last passing cycle; with the operator's override, the latest cycle up to it that
     * matched (every cycle checked and not failed did: a fail is sticky), paused or not */
    uint64_t cycle = a->st.last_pass_cycle;
    uint64_t accepted = a->cfg.accept_paused < a->st.last_attested_cycle
                            ? a->cfg.accept_paused
                            : a->st.last_attested_cycle;
    cycle = accepted > cycle ? accepted : cycle;
    if (cycle == 0 || cycle == r->weights_cycle) {
        return TALLY_OK;
    }
    st = weights_of(a, cycle, &b, &seq);
    if (st == TALLY_ENOTFOUND) {
        return TALLY_OK; /* the cycle weighs nobody: the last file stands */
    }
    if (st != TALLY_OK) {
        return st;
    }
    st = schema_body_encode(&b, bytes, sizeof(bytes), &n);
    uids = json_array(), ws = json_array();
    for (size_t i = 0; st == TALLY_OK && i < b.u.weights.n_uids; i++) {
        json_array_append_new(uids, json_integer((json_int_t)b.u.weights.uids[i]));
        json_array_append_new(ws, json_integer((json_int_t)b.u.weights.weights[i]));
    }
    {
        uint8_t hsh[32];
        schema_sha256_2(hsh, bytes, n, NULL, 0);
        schema_hex(hsh, 32, wh);
    }
    o = json_pack("{ss sI sI sI so so ss sI}", "origin", a->origin, "netuid",
                  (json_int_t)b.u.weights.netuid, "cycle", (json_int_t)b.u.weights.cycle, "seq",
                  (json_int_t)seq, "uids", uids, "weights", ws, "weights_hash", wh, "tree_size",
                  (json_int_t)a->st.trusted_size);
    schema_body_release(&b);
    text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (st != TALLY_OK || text == NULL) {
        free(text);
        return st != TALLY_OK ? st : TALLY_ENOMEM;
    }
    snprintf(path, sizeof(path), "%s/%s", a->dir, AUDIT_WEIGHTS_FILE);
    st = write_atomic(path, text, r->what);
    free(text);
    if (st == TALLY_OK) {
        r->weights_written = true;
        r->weights_cycle = cycle;
    }
    return st;
}

/* ---- cosignatures ---- */

tally_status audit__cosign(audit *a, const audit__head *head, audit_round *r)
{
    char line[STORE_COSIG_LINE_MAX];
    client_response *resp = NULL;
    tally_status st;

    if (a->cfg.no_post || a->st.failed || a->cosigner_name[0] == '\0') {
        return TALLY_OK;
    }
    store_note_parts parts;
    size_t ln;
    st = store_note_split(head->note, head->note_n, &parts);
    if (st == TALLY_OK) {
        st = store_cosig_sign(parts.text.p, parts.text.n, a->cosigner_name, a->sk,
                              (uint64_t)ops_clock_wall_ms(a->cfg.clock) / 1000u, line,
                              sizeof(line), &ln);
    }
    if (st == TALLY_OK) {
        st = audit__post(a, "/v1/cosignatures", "text/plain; charset=utf-8", line, ln, &resp,
                         r->what);
    }
    if (st == TALLY_OK) {
        r->cosigned = client_response_status(resp) == 200;
        if (!r->cosigned) {
            OPS_LOG(a->olog, OPS_WARN, "auditor", "cosignature_refused",
                    OPS_FU("tree_size", head->size),
                    OPS_FU("status", client_response_status(resp)));
        }
    }
    client_response_free(resp);
    return st;
}

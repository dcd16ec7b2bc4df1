/* The auditor's handle and its round: checkpoint, deltas, reveals, replay, attestations,
 * weights, cosignature, in that order; each step stops the round when the primary cannot be
 * reached, and a divergence stops the checking but not the attesting of it. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "auditor/audit_int.h"

static const char *const verdict_names[] = {"", "pass", "fail", "paused"};
static const char *const reason_names[] = {"none",           "derived_mismatch", "state_mismatch",
                                           "ingest_rule_violation", "signature_invalid",
                                           "split_view",     "recompute_rate",   "other",
                                           "bad_checkpoint"};

const char *audit_verdict_name(audit_verdict v)
{
    return v >= AUDIT_PASS && v <= AUDIT_PAUSED ? verdict_names[v] : "unknown";
}

const char *audit_reason_name(audit_reason r)
{
    return (unsigned)r <= AUDIT_R_BAD_CHECKPOINT ? reason_names[r] : "unknown";
}

/* The node key from a verifier key string (origin+keyid+base64(0x01 || pk)) of this origin, or
 * from 64 hex digits; *vkey_out is the verifier string either way. */
static tally_status parse_primary_key(const char *origin, const char *s, uint8_t pk[32],
                                      char *vkey_out, size_t cap)
{
    const char *plus = strchr(s, '+'), *plus2 = plus ? strchr(plus + 1, '+') : NULL;
    uint8_t raw[33];
    size_t n = 0;

    if (plus == NULL && strlen(s) == 64) {
        if (schema_unhex(s, 64, pk, 32) != TALLY_OK) {
            return TALLY_EINVAL;
        }
        return store_vkey(origin, pk, vkey_out, cap) == TALLY_OK ? TALLY_OK : TALLY_EINVAL;
    }
    if (plus2 == NULL || (size_t)(plus - s) != strlen(origin) ||
        memcmp(s, origin, strlen(origin)) != 0 ||
        sodium_base642bin(raw, sizeof(raw), plus2 + 1, strlen(plus2 + 1), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != 33 || raw[0] != 0x01) {
        return TALLY_EINVAL;
    }
    memcpy(pk, raw + 1, 32);
    /* the key id and name must be the ones this key and origin give */
    if (store_vkey(origin, pk, vkey_out, cap) != TALLY_OK || strcmp(vkey_out, s) != 0) {
        return TALLY_EINVAL;
    }
    return TALLY_OK;
}

tally_status audit_open(const audit_cfg *cfg, audit **out)
{
    audit *a;
    char path[4200];
    char kdetail[STORE_DETAIL_MAX] = "", sdetail[STORE_DETAIL_MAX] = "";
    client_cfg cc = {0};
    tally_status st;

    *out = NULL;
    if (cfg->dir == NULL || cfg->primary_url == NULL || cfg->origin == NULL ||
        cfg->primary_key == NULL || cfg->key_file == NULL || cfg->clock == NULL) {
        return audit__say(cfg->detail, TALLY_EINVAL, "the primary's URL, origin and key, the "
                                                     "auditor's key file and a data directory "
                                                     "are required");
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return TALLY_ENOMEM;
    }
    a->cfg = *cfg;
    a->olog = cfg->log;
    snprintf(a->dir, sizeof(a->dir), "%s", cfg->dir);
    snprintf(a->origin, sizeof(a->origin), "%s", cfg->origin);
    if (strlen(cfg->origin) > SCHEMA_ORIGIN_MAX ||
        parse_primary_key(cfg->origin, cfg->primary_key, a->node_pk, a->node_vkey,
                          sizeof(a->node_vkey)) != TALLY_OK) {
        st = audit__say(cfg->detail, TALLY_EINVAL,
                        "TALLY_AUDIT_PRIMARY_KEY is not a verifier key of origin %s "
                        "(`tally key` prints it) nor 64 hex digits",
                        cfg->origin);
        goto fail;
    }
    if (client_url_parse(cfg->primary_url, &a->url) != TALLY_OK) {
        st = audit__say(cfg->detail, TALLY_EINVAL, "TALLY_AUDIT_PRIMARY_URL %s is not an http:// URL",
                        cfg->primary_url);
        goto fail;
    }
    st = audit__peers_parse(a, cfg->peers, cfg->detail);
    if (st != TALLY_OK) {
        goto fail;
    }
    a->sk = sodium_malloc(64);
    if (a->sk == NULL) {
        st = TALLY_ENOMEM;
        goto fail;
    }
    st = store_key_read(cfg->key_file, a->pk, a->sk, kdetail);
    if (st != TALLY_OK) {
        audit__say(cfg->detail, st, "the auditor key %s: %s", cfg->key_file, kdetail);
        goto fail;
    }
    if (memcmp(a->pk, a->node_pk, 32) == 0) {
        st = audit__say(cfg->detail, TALLY_EINVAL, "the auditor's key is the node's key");
        goto fail;
    }
    if (mkdir(a->dir, 0700) != 0 && errno != EEXIST) {
        st = audit__say(cfg->detail, TALLY_EIO, "cannot make %s: %s", a->dir, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/%s", a->dir, AUDIT_LOG_DIR);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        st = audit__say(cfg->detail, TALLY_EIO, "cannot make %s: %s", path, strerror(errno));
        goto fail;
    }
    {
        store_cfg sc = {.dir = path, .origin = a->origin, .replica_pk = a->node_pk,
                        .detail = sdetail};
        st = store_open(&sc, &a->log);
        if (st == TALLY_ENOTFOUND) {
            sc.create = true;
            st = store_open(&sc, &a->log);
        }
    }
    if (st != TALLY_OK) {
        audit__say(cfg->detail, st, "the replica in %s: %s", path, sdetail);
        goto fail;
    }
    if (strcmp(store_origin(a->log), a->origin) != 0) {
        st = audit__say(cfg->detail, TALLY_ECONFLICT, "%s holds a replica of %s, not of %s", path,
                        store_origin(a->log), a->origin);
        goto fail;
    }
    st = audit__state_load(a);
    if (st != TALLY_OK) {
        audit__say(cfg->detail, st, "the auditor's state in %s cannot be read", path);
        goto fail;
    }
    cc.host = a->url.host, cc.port = a->url.port;
    cc.io_timeout_ms = 60000;
    cc.max_response = 64u << 20;
    st = client_open(&cc, &a->conn);
    if (st != TALLY_OK) {
        goto fail;
    }
    *out = a;
    return TALLY_OK;
fail:
    audit_close(a);
    return st;
}

void audit_close(audit *a)
{
    if (a == NULL) {
        return;
    }
    client_close(a->conn);
    store_close(a->log);
    if (a->sk != NULL) {
        sodium_free(a->sk);
    }
    sodium_memzero(a->token, sizeof(a->token));
    free(a);
}

void audit_round_release(audit_round *r)
{
    free(r->cycles);
    r->cycles = NULL;
    r->n_cycles = 0;
}

/* The cosigner name needs the auditor's hotkey, bound to its key in the replica's METAGRAPH. */
static void learn_name(audit *a, const engine_rules *rules)
{
    engine_rules *own = NULL;
    engine_binding b;
    char ss58[49];

    if (a->cosigner_name[0] != '\0' ||
        (rules == NULL && ledger_rules_open_gated(a->log, &own) != TALLY_OK)) {
        return;
    }
    if (engine_rules_binding(rules != NULL ? rules : own, a->pk, &b)) {
        schema_ss58_encode(b.hotkey, ss58);
        snprintf(a->cosigner_name, sizeof(a->cosigner_name), "%s.audit.%s", ss58, a->origin);
    }
    engine_rules_free(own);
}

double audit__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

tally_status audit_round_run(audit *a, audit_round *r)
{
    audit__head head;
    engine_rules *rules = NULL;
    double t0, t;
    tally_status st;

    memset(r, 0, sizeof(*r));
    t0 = t = audit__now();
    st = audit__checkpoint(a, &head, r);
    r->checkpoint_s = audit__now() - t;
    if (st == TALLY_OK && !r->failed && !a->st.failed) {
        st = audit__pull(a, &head, r); /* fills fetch_s, verify_s and replicate_s */
    }
    if (st == TALLY_OK && !r->failed && !a->st.failed) {
        /* the heads other auditors trust, against this replica now that it holds the head */
        st = audit__peers(a, r);
    }
    t = audit__now();
    if (st == TALLY_OK && !r->failed && !a->st.failed) {
        /* the gated rules at the replica's end, folded once for the reveals and the name */
        st = ledger_rules_open_gated(a->log, &rules);
        st = st == TALLY_OK ? audit__reveals(a, rules, r) : st;
    }
    r->reveals_s = audit__now() - t;
    r->verified_size = store_size(a->log);
    t = audit__now();
    if (st == TALLY_OK) {
        /* a fail found while syncing is attested too: check decides for which cycle */
        st = audit__check(a, &head, r);
    }
    r->check_s = audit__now() - t;
    t = audit__now();
    if (st == TALLY_OK) {
        st = audit__attest(a, &head, r);
    }
    if (st == TALLY_OK && !a->st.failed) {
        st = audit__weights(a, r);
    }
    if (st == TALLY_OK && !a->st.failed) {
        /* the attestations just posted moved the primary's head: cosign the head as it stands
         * now, once it is verified consistent with the one trusted (§6.6a) */
        audit__head now;
        uint64_t seen = r->primary_size;
        learn_name(a, rules);
        st = r->n_cycles > 0 ? audit__checkpoint(a, &now, r) : TALLY_OK;
        r->primary_size = seen; /* the round reports the head it checked */
        if (st == TALLY_OK && !r->failed) {
            st = audit__cosign(a, r->n_cycles > 0 ? &now : &head, r);
        }
    }
    engine_rules_free(rules);
    t = audit__now();
    r->post_s = t - t0 - r->checkpoint_s - r->fetch_s - r->verify_s - r->replicate_s -
                r->reveals_s - r->check_s;
    r->seconds = t - t0;
    OPS_LOG(a->olog, r->failed ? OPS_ERROR : OPS_INFO, "auditor", "round",
            OPS_FU("primary_size", r->primary_size), OPS_FU("verified_size", r->verified_size),
            OPS_FU("pulled", r->pulled), OPS_FU("cycles_checked", r->cycles_checked),
            OPS_FU("verdicts", r->n_cycles), OPS_FB("failed", r->failed),
            OPS_FS("reason", r->failed ? audit_reason_name(r->reason) : "none"),
            OPS_FS("status", tally_status_str(st)), OPS_FU("ms", r->seconds * 1e3),
            OPS_FU("checkpoint_ms", r->checkpoint_s * 1e3), OPS_FU("fetch_ms", r->fetch_s * 1e3),
            OPS_FU("verify_ms", r->verify_s * 1e3), OPS_FU("replicate_ms", r->replicate_s * 1e3),
            OPS_FU("reveals_ms", r->reveals_s * 1e3), OPS_FU("check_ms", r->check_s * 1e3),
            OPS_FU("post_ms", r->post_s * 1e3));
    return st;
}

void audit_status_get(audit *a, audit_status *out)
{
    memset(out, 0, sizeof(*out));
    out->trusted_size = a->st.trusted_size;
    out->replica_size = store_size(a->log);
    out->last_checked_cycle = a->st.last_checked_cycle;
    out->last_attested_cycle = a->st.last_attested_cycle;
    out->last_pass_cycle = a->st.last_pass_cycle;
    out->bootstrap_cycle = a->st.bootstrap_cycle;
    out->failed = a->st.failed;
    out->reason = a->st.reason;
    out->has_seq = a->st.has_seq;
    out->seq = a->st.seq;
    snprintf(out->what, sizeof(out->what), "%s", a->st.what);
    out->evidence = a->st.evidence;
}

tally_status audit_checkpoint_note(audit *a, char *buf, size_t cap, size_t *n_out)
{
    char line[STORE_COSIG_LINE_MAX];
    store_note_parts parts;
    size_t n, ln = 0;
    tally_status st;

    *n_out = 0;
    if (cap > 0) {
        buf[0] = '\0';
    }
    if (a->st.trusted_note[0] == '\0') {
        return TALLY_ENOTFOUND;
    }
    learn_name(a, NULL);
    if (a->cosigner_name[0] == '\0') {
        return TALLY_ENOTFOUND;
    }
    n = strlen(a->st.trusted_note);
    if (n >= cap) {
        return TALLY_ELIMIT;
    }
    st = store_note_split(a->st.trusted_note, n, &parts);
    if (st == TALLY_OK) {
        st = store_cosig_sign(parts.text.p, parts.text.n, a->cosigner_name, a->sk,
                              (uint64_t)ops_clock_wall_ms(a->cfg.clock) / 1000u, line, sizeof(line),
                              &ln);
    }
    if (st == TALLY_OK) {
        memcpy(buf, a->st.trusted_note, n + 1);
        st = store_note_append(buf, n, cap, line, ln, n_out);
    }
    if (st != TALLY_OK) {
        *n_out = 0;
        if (cap > 0) {
            buf[0] = '\0';
        }
    }
    return st;
}

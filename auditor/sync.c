/* The primary's checkpoint, checked against the head this auditor trusts, and the replica
 * brought up to it: deltas whose every header is canonical, signed by its actor, authored as
 * §2.4 allows and hashed into the tree the node signed, and whose every body matches its
 * header; then the bodies revealed since the last round. Nothing is stored that did not verify,
 * and what was verified before is never touched. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditor/audit_int.h"
#include "wire/wire.h"

#define DELTA_MAX_RESPONSE (40u << 20) /* §10: 32 MiB uncompressed, and the framing */

/* Fails the round with a reason, the first divergent seq (when known) and a sentence, and
 * keeps the evidence given (ev may be NULL). */
static tally_status diverge(audit *a, audit_round *r, audit_reason reason, bool has_seq,
                            uint64_t seq, json_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static tally_status diverge(audit *a, audit_round *r, audit_reason reason, bool has_seq,
                            uint64_t seq, json_t *ev, const char *fmt, ...)
{
    va_list ap;
    tally_status st = TALLY_OK;

    r->failed = true, r->reason = reason, r->has_seq = has_seq, r->seq = seq;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof(r->what), fmt, ap);
    va_end(ap);
    /* sticky: persisted before the round goes on */
    a->st.failed = true, a->st.reason = reason, a->st.has_seq = has_seq, a->st.seq = seq;
    a->st.fail_cycle = 0;
    memset(a->st.fail_state_hash, 0, 32);
    snprintf(a->st.what, sizeof(a->st.what), "%s", r->what);
    if (ev == NULL) {
        st = audit__state_save(a);
    } else {
        json_object_set_new(ev, "kind", json_string(audit_reason_name(reason)));
        json_object_set_new(ev, "what", json_string(r->what));
        if (has_seq) {
            json_object_set_new(ev, "seq", json_integer((json_int_t)seq));
        }
        st = audit__evidence(a, ev);
    }
    return st;
}

/* The node's own note out of a note that may carry cosignature lines after it: the text and
 * the first signature line under the origin's name (the node's key name is the origin, §14.7). */
static bool node_note(const char *note, size_t n, const char *origin, char *out, size_t cap,
                      size_t *n_out)
{
    const char *end = note + n, *sig = NULL;
    char prefix[SCHEMA_ORIGIN_MAX + 8];
    size_t pn = (size_t)snprintf(prefix, sizeof(prefix), "\xe2\x80\x94 %s ", origin);

    for (const char *p = note; p + 1 < end; p++) {
        if (p[0] == '\n' && p[1] == '\n') {
            sig = p + 2;
            break;
        }
    }
    for (const char *line = sig; line != NULL && line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL) {
            return false;
        }
        if ((size_t)(nl - line) > pn && memcmp(line, prefix, pn) == 0) {
            size_t textn = (size_t)(sig - note), ln = (size_t)(nl + 1 - line);
            if (textn + ln >= cap) {
                return false;
            }
            memcpy(out, note, textn);
            memcpy(out + textn, line, ln);
            out[textn + ln] = '\0';
            *n_out = textn + ln;
            return true;
        }
        line = nl + 1;
    }
    return false;
}

/* The first leaf in [0, upto) where the primary's public hash tiles differ from the replica's:
 * where two views of the log part (a fork). UINT64_MAX if none differs. */
static tally_status first_fork(audit *a, uint64_t upto, uint64_t *out, char *what)
{
    uint8_t *mine = malloc(256 * 32);
    tally_status st = TALLY_OK;

    *out = UINT64_MAX;
    if (mine == NULL) {
        return TALLY_ENOMEM;
    }
    for (uint64_t t = 0; st == TALLY_OK && t * 256 < upto && *out == UINT64_MAX; t++) {
        uint64_t w = upto - t * 256 < 256 ? upto - t * 256 : 256;
        char path[96], target[160];
        client_response *resp = NULL;
        tally_bytes b;
        wire_tile tile = {.kind = WIRE_TILE_HASH, .level = 0, .index = t, .width = (unsigned)w};
        size_t pn;
        st = wire_tile_format(&tile, path, sizeof(path), &pn);
        snprintf(target, sizeof(target), "/log/%s", path);
        if (st == TALLY_OK) {
            st = store_tile_read(a->log, 0, t, (unsigned)w, mine);
        }
        if (st == TALLY_OK) {
            st = audit__get(a, target, false, false, &resp, what);
        }
        if (st != TALLY_OK) {
            break;
        }
        b = client_response_body(resp);
        if (client_response_status(resp) != 200 || b.n != w * 32) {
            *out = t * 256; /* the primary no longer serves this tile of its own log */
        } else {
            for (uint64_t i = 0; i < w; i++) {
                if (memcmp(mine + 32 * i, b.p + 32 * i, 32) != 0) {
                    *out = t * 256 + i;
                    break;
                }
            }
        }
        client_response_free(resp);
    }
    free(mine);
    return st;
}

/* A proof's "path" member: at most STORE_PROOF_MAX hashes as lower-case hex. */
static bool proof_from_json(const json_t *arr, uint8_t (*path)[32], size_t *n_out)
{
    size_t i;
    const json_t *v;

    *n_out = 0;
    if (!json_is_array(arr) || json_array_size(arr) > STORE_PROOF_MAX) {
        return false;
    }
    json_array_foreach(arr, i, v)
    {
        const char *h = json_string_value(v);
        if (h == NULL || schema_unhex(h, strlen(h), path[i], 32) != TALLY_OK) {
            return false;
        }
    }
    *n_out = json_array_size(arr);
    return true;
}

static json_t *heads_evidence(const audit *a, const char *new_note)
{
    return json_pack("{ss ss}", "trusted_note", a->st.trusted_note, "new_note", new_note);
}

tally_status audit__consistent(audit *a, uint64_t from, const uint8_t root_from[32], uint64_t to,
                               const uint8_t root_to[32], bool *ok, char *what)
{
    char target[96];
    client_response *resp = NULL;
    json_t *o;
    uint8_t path[STORE_PROOF_MAX][32];
    size_t np = 0;
    tally_status st;

    *ok = false;
    snprintf(target, sizeof(target), "/v1/proof/consistency?from=%" PRIu64 "&to=%" PRIu64, from,
             to);
    st = audit__get(a, target, false, false, &resp, what);
    if (st != TALLY_OK) {
        return st;
    }
    o = client_response_status(resp) == 200 ? audit__json(resp) : NULL;
    client_response_free(resp);
    if (o == NULL || !proof_from_json(json_object_get(o, "path"), path, &np)) {
        json_decref(o);
        return audit__say(what, TALLY_EIO,
                          "the primary serves no consistency proof from %" PRIu64 " to %" PRIu64,
                          from, to);
    }
    json_decref(o);
    *ok = store_verify_consistency(from, to, root_from, root_to, (const uint8_t(*)[32])path, np);
    return TALLY_OK;
}

tally_status audit__checkpoint(audit *a, audit__head *head, audit_round *r)
{
    client_response *resp = NULL;
    tally_bytes b;
    tally_status st = audit__get(a, "/log/checkpoint", false, false, &resp, r->what);
    uint64_t size, fork;

    memset(head, 0, sizeof(*head));
    if (st != TALLY_OK) {
        return st;
    }
    b = client_response_body(resp);
    if (client_response_status(resp) != 200) {
        st = audit__say(r->what, TALLY_EIO, "GET /log/checkpoint: HTTP %u",
                        client_response_status(resp));
        client_response_free(resp);
        return st;
    }
    st = store_note_verify((const char *)b.p, b.n, a->node_vkey, &size, head->root);
    if (st == TALLY_OK && !node_note((const char *)b.p, b.n, a->origin, head->note,
                                     sizeof(head->note), &head->note_n)) {
        st = TALLY_EFORMAT;
    }
    if (st != TALLY_OK) {
        json_t *ev = json_pack("{ss#}", "note", (const char *)b.p, (int)(b.n < 3000 ? b.n : 3000));
        client_response_free(resp);
        st = diverge(a, r, AUDIT_R_SIGNATURE, false, 0, ev,
                     "the primary's checkpoint does not verify with the pinned key %s",
                     a->node_vkey);
        return st;
    }
    client_response_free(resp);
    head->size = r->primary_size = size;

    if (a->st.trusted_size > 0) {
        bool consistent;
        if (size < a->st.trusted_size) {
            /* a rewind: the primary now shows less than it signed before */
            st = first_fork(a, size < store_size(a->log) ? size : store_size(a->log), &fork,
                            r->what);
            if (st != TALLY_OK) {
                return st;
            }
            return diverge(a, r, AUDIT_R_SPLIT_VIEW, true, fork == UINT64_MAX ? size : fork,
                           heads_evidence(a, head->note),
                           "rewind: the primary's checkpoint has %" PRIu64
                           " records after one of %" PRIu64 " was trusted",
                           size, a->st.trusted_size);
        }
        if (size == a->st.trusted_size) {
            consistent = memcmp(head->root, a->st.trusted_root, 32) == 0;
        } else {
            st = audit__consistent(a, a->st.trusted_size, a->st.trusted_root, size, head->root,
                                   &consistent, r->what);
            if (st != TALLY_OK) {
                return st;
            }
        }
        if (!consistent) {
            st = first_fork(a,
                            a->st.trusted_size < store_size(a->log) ? a->st.trusted_size
                                                                    : store_size(a->log),
                            &fork, r->what);
            if (st != TALLY_OK) {
                return st;
            }
            return diverge(a, r, AUDIT_R_SPLIT_VIEW, fork != UINT64_MAX, fork,
                           heads_evidence(a, head->note),
                           "split view: the primary's checkpoint of %" PRIu64
                           " records is not an extension of the trusted one of %" PRIu64,
                           size, a->st.trusted_size);
        }
    }
    /* trusted from now on, persisted before anything relies on it */
    if (size != a->st.trusted_size || a->st.trusted_note[0] == '\0') {
        a->st.trusted_size = size;
        memcpy(a->st.trusted_root, head->root, 32);
        snprintf(a->st.trusted_note, sizeof(a->st.trusted_note), "%s", head->note);
        st = audit__state_save(a);
    }
    return st;
}

/* ---- deltas ---- */

typedef struct pending {
    client_response **resp; /* kept alive: the inputs point into their bodies */
    size_t n_resp, cap_resp;
    store_input *in;
    size_t n, cap;
} pending;

static void pending_release(pending *p)
{
    for (size_t i = 0; i < p->n_resp; i++) {
        client_response_free(p->resp[i]);
    }
    free(p->resp);
    free(p->in);
    memset(p, 0, sizeof(*p));
}

/* The first of the records served from base on (p) whose leaf is not the primary's own in its
 * public hash tiles: what was rewritten on the way. UINT64_MAX when every leaf agrees. */
static tally_status first_served_fork(audit *a, uint64_t base, const pending *p, uint64_t *out,
                                      char *what)
{
    tally_status st = TALLY_OK;

    *out = UINT64_MAX;
    for (uint64_t t = base / 256; st == TALLY_OK && t * 256 < base + p->n && *out == UINT64_MAX;
         t++) {
        uint64_t lo = t * 256, hi = base + p->n, w;
        char path[96], target[160];
        size_t pn;
        client_response *resp = NULL;
        w = hi - lo < 256 ? hi - lo : 256;
        wire_tile tile = {.kind = WIRE_TILE_HASH, .level = 0, .index = t, .width = (unsigned)w};
        st = wire_tile_format(&tile, path, sizeof(path), &pn);
        snprintf(target, sizeof(target), "/log/%s", path);
        if (st == TALLY_OK) {
            st = audit__get(a, target, false, false, &resp, what);
        }
        if (st != TALLY_OK) {
            break;
        }
        tally_bytes b = client_response_body(resp);
        for (uint64_t s = lo > base ? lo : base; s < lo + w && *out == UINT64_MAX; s++) {
            uint8_t hb[SCHEMA_HEADER_MAX], leaf[32];
            size_t hn;
            if (schema_header_encode(&p->in[s - base].header, hb, sizeof(hb), &hn) != TALLY_OK) {
                *out = s;
                break;
            }
            store_leaf_hash(hb, hn, leaf);
            if (client_response_status(resp) != 200 || b.n < (s - lo + 1) * 32 ||
                memcmp(b.p + 32 * (s - lo), leaf, 32) != 0) {
                *out = s;
            }
        }
        client_response_free(resp);
    }
    return st;
}

/* Checks one delta's entries from seq `from` on and adds them to p. A failing entry fails the
 * round (r->failed) and adds nothing. */
static tally_status take_entries(audit *a, const wire_delta *d, size_t first_bad, pending *p,
                                 audit_round *r)
{
    if (p->n + d->n > p->cap) {
        size_t cap = (p->n + d->n) * 2;
        store_input *in = realloc(p->in, cap * sizeof(*in));
        if (in == NULL) {
            return TALLY_ENOMEM;
        }
        p->in = in, p->cap = cap;
    }
    /* record i's signature is bad iff i == first_bad (audit__sigs_first_bad) */
    for (size_t i = 0; i < d->n; i++) {
        uint64_t seq = d->from + i;
        store_input *in = &p->in[p->n + i];
        uint8_t re[SCHEMA_HEADER_MAX];
        size_t rn;
        memset(in, 0, sizeof(*in));
        if (schema_header_decode(d->entries[i].header.p, d->entries[i].header.n, &in->header) !=
                TALLY_OK ||
            schema_header_encode(&in->header, re, sizeof(re), &rn) != TALLY_OK ||
            rn != d->entries[i].header.n || memcmp(re, d->entries[i].header.p, rn) != 0) {
            return diverge(a, r, AUDIT_R_OTHER, true, seq, NULL,
                           "record %" PRIu64 ": its header is not canonical", seq);
        }
        if (i == first_bad) {
            char hex[2 * SCHEMA_HEADER_MAX + 1];
            schema_hex(d->entries[i].header.p, d->entries[i].header.n, hex);
            return diverge(a, r, AUDIT_R_SIGNATURE, true, seq, json_pack("{ss}", "header", hex),
                           "record %" PRIu64 " (%s): its actor signature does not verify", seq,
                           schema_type_name((unsigned)in->header.type));
        }
        if (schema_author_check(a->node_pk, &in->header) != TALLY_OK) {
            return diverge(a, r, AUDIT_R_INGEST_RULE, true, seq, NULL,
                           "record %" PRIu64 " (%s): its author may not write that type", seq,
                           schema_type_name((unsigned)in->header.type));
        }
        if (d->entries[i].has_body) {
            if (schema_record_check(&in->header, d->entries[i].body.p, d->entries[i].body.n,
                                    NULL) != TALLY_OK) {
                return diverge(a, r, AUDIT_R_SIGNATURE, true, seq, NULL,
                               "record %" PRIu64 " (%s): the body served is not the one its "
                               "header commits to",
                               seq, schema_type_name((unsigned)in->header.type));
            }
            in->body = d->entries[i].body.p, in->body_len = d->entries[i].body.n;
        } else if (in->header.tier == SCHEMA_PUBLIC || in->header.tier == SCHEMA_GATED) {
            return diverge(a, r, AUDIT_R_OTHER, true, seq, NULL,
                           "record %" PRIu64 " (%s): the primary withholds a %s body", seq,
                           schema_type_name((unsigned)in->header.type),
                           in->header.tier == SCHEMA_PUBLIC ? "public" : "gated");
        }
    }
    p->n += d->n;
    return TALLY_OK;
}

/* The stored STH of size `size` from the primary, checked. TALLY_ENOTFOUND if it has none. */
static tally_status sth_of(audit *a, uint64_t size, schema_sth *out, char *what)
{
    char target[64];
    client_response *resp = NULL;
    tally_bytes b;
    tally_status st;

    snprintf(target, sizeof(target), "/v1/sth/%" PRIu64, size);
    st = audit__get(a, target, false, true, &resp, what);
    if (st != TALLY_OK) {
        return st;
    }
    b = client_response_body(resp);
    st = client_response_status(resp) == 404   ? TALLY_ENOTFOUND
         : client_response_status(resp) != 200 ? TALLY_EIO
                                               : schema_sth_decode(b.p, b.n, out);
    client_response_free(resp);
    if (st == TALLY_OK &&
        (out->tree_size != size || store_sth_verify(out, a->origin, a->node_pk) != TALLY_OK)) {
        st = TALLY_EAUTH;
    }
    return st;
}

/* One delta as the primary served it: the response (kept, since the entries point into its
 * body) and its decoded form, its range checked. Its head is checked when it is walked. */
typedef struct served {
    client_response *resp;
    wire_delta d;
    schema_sth sth;
    bool has;
    schema_sth head_sth;  /* the signed head of exactly d.to records, when head_st is TALLY_OK */
    tally_status head_st; /* looking it up (look_head): TALLY_ENOTFOUND when the node has none */
} served;

static void served_release(served *s)
{
    if (s->has) {
        wire_delta_release(&s->d);
    }
    client_response_free(s->resp);
    memset(s, 0, sizeof(*s));
}

/* GET the delta from `at` to the checkpoint's size. An error here is not a verdict. */
static tally_status fetch_delta(audit *a, const audit__head *head, uint64_t at, served *s,
                                audit_round *r)
{
    char target[128];
    uint64_t max = a->cfg.delta_records != 0 ? a->cfg.delta_records : WIRE_DELTA_RECORDS_MAX;
    uint64_t to = head->size - at > max ? at + max : head->size;
    double t = audit__now();
    tally_status st;

    memset(s, 0, sizeof(*s));
    snprintf(target, sizeof(target), "/v1/deltas?from=%" PRIu64 "&to=%" PRIu64 "&size=%" PRIu64, at,
             to, head->size);
    st = audit__get(a, target, true, true, &s->resp, r->what);
    if (st == TALLY_OK && client_response_status(s->resp) != 200) {
        st = audit__say(r->what, TALLY_EIO, "GET %s: HTTP %u", target,
                        client_response_status(s->resp));
    }
    if (st == TALLY_OK) {
        tally_bytes b = client_response_body(s->resp);
        st = wire_delta_decode(b.p, b.n, &s->d, &s->sth);
        s->has = st == TALLY_OK;
        if (st != TALLY_OK || s->d.from != at || s->d.to <= at || s->d.to > head->size ||
            s->d.size != head->size || s->d.n != s->d.to - s->d.from) {
            st =
                audit__say(r->what, TALLY_EIO,
                           "the primary's delta from %" PRIu64 " is malformed or out of range", at);
        }
    }
    if (st != TALLY_OK) {
        served_release(s);
    }
    r->fetch_s += audit__now() - t;
    return st;
}

/* The signed head of exactly the records up to s's end: the checkpoint's, or the primary's
 * stored one there (checked for consistency when s is walked). Looked up before the next delta
 * is fetched, so a connection lost while fetching it does not cost this delta's records. */
static void look_head(audit *a, const audit__head *head, served *s, audit_round *r)
{
    if (s->d.to == head->size) {
        s->head_sth = s->sth, s->head_st = TALLY_OK;
    } else {
        double t = audit__now(); /* a request to the primary: counted as fetching */
        s->head_st = sth_of(a, s->d.to, &s->head_sth, r->what);
        r->fetch_s += audit__now() - t;
    }
}

/* A delta's actor signatures, verified on other threads while this one stores and fetches. */
typedef struct sigjob {
    const audit *a;
    const wire_delta *d;
    size_t first_bad;
    tally_status st;
    pthread_t tid;
    bool threaded;
} sigjob;

static void *sigjob_main(void *arg)
{
    sigjob *j = arg;
    j->st = audit__sigs_first_bad(j->a, j->d, &j->first_bad);
    return NULL;
}

static void sigjob_start(sigjob *j)
{
    /* audit__sigs_first_bad reads only the origin, the settings and the last checked cycle:
     * no round changes the first two, and only the check after the pull changes the third */
    j->threaded = pthread_create(&j->tid, NULL, sigjob_main, j) == 0;
    if (!j->threaded) {
        sigjob_main(j); /* no thread to be had: the same answer, only later */
    }
}

static tally_status sigjob_wait(sigjob *j)
{
    if (j->threaded) {
        pthread_join(j->tid, NULL);
        j->threaded = false;
    }
    return j->st;
}

/* Stores p (the records from *base on) under sth, a signed head of exactly their size; *base
 * moves past them. Headers that do not hash to that head name the first record rewritten. */
static tally_status replicate(audit *a, pending *p, const schema_sth *sth, uint64_t *base,
                              audit_round *r)
{
    store_rejection rej = {0};
    double t = audit__now();
    tally_status st = store_replicate(a->log, p->in, p->n, sth, &rej);

    r->replicate_s += audit__now() - t;
    if (st == TALLY_ECONFLICT) {
        uint64_t fork;
        st = first_served_fork(a, *base, p, &fork, r->what);
        if (st == TALLY_OK) {
            st = diverge(a, r, AUDIT_R_SIGNATURE, fork != UINT64_MAX, fork, NULL,
                         "the records served from %" PRIu64
                         " do not hash to the signed head of %" PRIu64 " records: %s",
                         *base, sth->tree_size, rej.what);
        }
    } else if (st == TALLY_OK) {
        r->pulled += p->n;
        *base += p->n;
    }
    pending_release(p);
    return st;
}

/* Walks a served delta whose signatures were verified (first_bad): its head must be the
 * checkpoint's; its entries join p. When a signed head of exactly the records walked exists
 * (the checkpoint's, or the primary's stored head at the delta's end, proven consistent with
 * it), p moves to *ready with that head, to be stored. */
static tally_status walk(audit *a, const audit__head *head, served *s, size_t first_bad, pending *p,
                         pending *ready, schema_sth *ready_sth, audit_round *r)
{
    const wire_delta *d = &s->d;
    schema_sth sth_to;
    bool have_sth;
    tally_status st;

    if (s->sth.tree_size != head->size || memcmp(s->sth.root, head->root, 32) != 0 ||
        store_sth_verify(&s->sth, a->origin, a->node_pk) != TALLY_OK) {
        return diverge(a, r, AUDIT_R_SPLIT_VIEW, false, 0, NULL,
                       "the delta's signed head is not the checkpoint's of %" PRIu64 " records",
                       head->size);
    }
    if (p->n_resp == p->cap_resp) {
        size_t cap = p->cap_resp ? 2 * p->cap_resp : 8;
        client_response **nr = realloc(p->resp, cap * sizeof(*nr));
        if (nr == NULL) {
            return TALLY_ENOMEM;
        }
        p->resp = nr, p->cap_resp = cap;
    }
    p->resp[p->n_resp++] = s->resp; /* p's entries point into it from now on */
    s->resp = NULL;
    st = take_entries(a, d, first_bad, p, r);
    if (st != TALLY_OK || r->failed) {
        return st;
    }
    have_sth = d->to == head->size;
    if (have_sth) {
        sth_to = s->sth;
    } else {
        st = s->head_st, sth_to = s->head_sth;
        have_sth = st == TALLY_OK;
        if (have_sth && !store_verify_consistency(d->to, head->size, sth_to.root, head->root,
                                                  (const uint8_t(*)[32])d->proof, d->n_proof)) {
            return diverge(a, r, AUDIT_R_SPLIT_VIEW, false, 0, NULL,
                           "the primary's head of %" PRIu64
                           " records is not consistent with its checkpoint",
                           d->to);
        }
        if (st == TALLY_ENOTFOUND || st == TALLY_EAUTH) {
            st = TALLY_OK; /* no usable head there: keep the records for the next one */
        }
    }
    if (st == TALLY_OK && have_sth) {
        *ready = *p, *ready_sth = sth_to;
        memset(p, 0, sizeof(*p));
    }
    return st;
}

/* A pipeline of three stages on the deltas, one apart: while delta k's signatures are verified
 * on other threads, this thread stores delta k-1's records, looks up the signed head at delta
 * k's end and fetches delta k+1; then it walks delta k in order. Each delta is judged as if alone (its first failure, in record order, is
 * the one reported), and records are stored in order, each batch only once walked. */
tally_status audit__pull(audit *a, const audit__head *head, audit_round *r)
{
    pending p = {0}, ready = {0};
    schema_sth ready_sth;
    served cur = {0}, next = {0};
    uint64_t base = store_size(a->log);
    tally_status st = TALLY_OK;

    if (base < head->size) {
        st = fetch_delta(a, head, base, &cur, r);
    }
    while (st == TALLY_OK && !r->failed && cur.has) {
        sigjob j = {.a = a, .d = &cur.d};
        tally_status fst = TALLY_OK, sst;
        double t;
        sigjob_start(&j);
        if (ready.n > 0) {
            st = replicate(a, &ready, &ready_sth, &base, r);
        }
        if (st == TALLY_OK && !r->failed) {
            look_head(a, head, &cur, r);
        }
        if (st == TALLY_OK && !r->failed && cur.d.to < head->size) {
            fst = fetch_delta(a, head, cur.d.to, &next, r); /* its error counts after cur */
        }
        t = audit__now();
        sst = sigjob_wait(&j);
        if (st == TALLY_OK && !r->failed) {
            st =
                sst != TALLY_OK ? sst : walk(a, head, &cur, j.first_bad, &p, &ready, &ready_sth, r);
        }
        r->verify_s += audit__now() - t;
        if (st == TALLY_OK && !r->failed && fst != TALLY_OK) {
            st = fst;
        }
        served_release(&cur);
        cur = next;
        memset(&next, 0, sizeof(next));
    }
    served_release(&cur);
    served_release(&next);
    if (!r->failed && ready.n > 0) {
        /* walked and under a signed head: kept even when fetching the delta after them failed */
        tally_status rst = replicate(a, &ready, &ready_sth, &base, r);
        /* a verdict found in them outranks the fetch error that ended the loop */
        st = st == TALLY_OK || r->failed ? rst : st;
    }
    pending_release(&ready);
    pending_release(&p);
    r->verified_size = store_size(a->log);
    return st;
}

/* ---- bodies revealed since ---- */

tally_status audit__reveals(audit *a, const engine_rules *rules, audit_round *r)
{
    uint64_t *due = NULL;
    size_t n = 0;
    tally_status st = ledger_reveals_due(a->log, rules, &due, &n);

    for (size_t i = 0; st == TALLY_OK && i < n;) {
        /* one request per run of seqs within 1,024 of each other */
        size_t j = i;
        char target[96];
        client_response *resp = NULL;
        wire_records rec;
        while (j + 1 < n && due[j + 1] - due[i] < 1024) {
            j++;
        }
        snprintf(target, sizeof(target), "/v1/records?from=%" PRIu64 "&to=%" PRIu64, due[i],
                 due[j] + 1);
        st = audit__get(a, target, true, true, &resp, r->what);
        if (st == TALLY_OK && client_response_status(resp) != 200) {
            st = audit__say(r->what, TALLY_EIO, "GET %s: HTTP %u", target,
                            client_response_status(resp));
        }
        bool decoded = false;
        if (st == TALLY_OK) {
            tally_bytes b = client_response_body(resp);
            st = wire_records_decode(b.p, b.n, &rec);
            decoded = st == TALLY_OK;
        }
        for (size_t k = i; st == TALLY_OK && k <= j; k++) {
            uint64_t off = due[k] - rec.from;
            const tally_bytes *body =
                off < rec.n && rec.entries[off].has_body ? &rec.entries[off].body : NULL;
            if (body == NULL) {
                /* due by the log's own time, which the primary's clock is never behind (§2.3):
                 * an honest node serves it, so not serving it is withholding (§13) */
                r->bodies_withheld++;
                st = diverge(a, r, AUDIT_R_OTHER, true, due[k],
                             json_pack("{sI}", "withheld_seq", (json_int_t)due[k]),
                             "record %" PRIu64 ": its body is due since its reveal and the "
                             "primary does not serve it (withheld)",
                             due[k]);
                break;
            }
            st = store_body_put(a->log, body->p, body->n, due[k]);
            if (st == TALLY_EFORMAT) {
                st = diverge(a, r, AUDIT_R_SIGNATURE, true, due[k], NULL,
                             "record %" PRIu64 ": the body revealed is not the one its header "
                             "commits to",
                             due[k]);
                break;
            }
            r->bodies_fetched += st == TALLY_OK;
        }
        if (decoded) {
            wire_records_release(&rec);
        }
        client_response_free(resp);
        if (r->failed) {
            break;
        }
        i = j + 1;
    }
    free(due);
    return st;
}

tally_status audit__split_view(audit *a, audit_round *r, json_t *ev, const char *fmt, ...)
{
    char what[AUDIT_WHAT_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return diverge(a, r, AUDIT_R_SPLIT_VIEW, false, 0, ev, "%s", what);
}

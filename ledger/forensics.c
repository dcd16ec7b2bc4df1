/* Forensics: one past cycle rebuilt from the log by the auditor's own replay (so its derived
 * block is compared byte for byte with the log's), its recomputed state checked against the
 * STATE_HASH record and the checkpoint file, and its state, scores and weights written out as
 * files for inspection (docs/forensics.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ledger_int.h"

static void set_mismatch(ledger_reconstruction *r, ledger_divergence kind, uint64_t seq,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set_mismatch(ledger_reconstruction *r, ledger_divergence kind, uint64_t seq,
                         const char *fmt, ...)
{
    va_list ap;

    r->mismatch = true, r->kind = kind, r->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof(r->what), fmt, ap);
    va_end(ap);
}

/* ---- finding the cycle ---- */

/* What the scan of the log finds: the target cycle's record and block, and the STATE_HASH of
 * every earlier cycle (the checkpoints a resume may start from). */
typedef struct found {
    bool has_cycle, has_state;
    schema_scoring_cycle c; /* code_version not kept */
    schema_header h;
    uint64_t seq, state_seq, block_end; /* block_end: the last derived record after the cycle */
    schema_state_hash sh;
    uint8_t (*hashes)[32]; /* by cycle number, those below the target's; has[k] when known */
    bool *has;
    size_t cap;
} found;

static tally_status keep_hash(found *f, const schema_state_hash *sh)
{
    if (sh->cycle >= f->cap) {
        size_t cap = f->cap ? f->cap : 64;
        while (cap <= sh->cycle) {
            cap *= 2;
        }
        uint8_t(*h)[32] = realloc(f->hashes, cap * sizeof(*h));
        if (h == NULL) {
            return TALLY_ENOMEM;
        }
        f->hashes = h;
        bool *has = realloc(f->has, cap * sizeof(*has));
        if (has == NULL) {
            return TALLY_ENOMEM;
        }
        memset(has + f->cap, 0, (cap - f->cap) * sizeof(*has));
        f->has = has, f->cap = cap;
    }
    memcpy(f->hashes[sh->cycle], sh->state_hash, 32);
    f->has[sh->cycle] = true;
    return TALLY_OK;
}

/* Scans headers from genesis for the SCORING_CYCLE cfg asks for (by number, or the latest whose
 * time_ms is at most at_ms), keeping the STATE_HASH of every cycle on the way. */
static tally_status find_record(store_log *log, const ledger_reconstruct_cfg *cfg, found *f)
{
    store_iter *it;
    store_record r;
    schema_header h;
    schema_body b;
    tally_status st = store_iter_open(log, 0, &it);

    while (st == TALLY_OK && (st = store_iter_read(it, false, &r, &h, &b)) == TALLY_OK) {
        if (cfg->cycle == 0 && h.time_ms > cfg->at_ms) {
            break; /* times never decrease */
        }
        if (h.type != SCHEMA_SCORING_CYCLE && h.type != SCHEMA_STATE_HASH) {
            continue;
        }
        if ((st = store_record_body(&r, &h, &b)) != TALLY_OK) {
            break;
        }
        bool done = false;
        if (h.type == SCHEMA_SCORING_CYCLE &&
            (cfg->cycle == 0 || b.u.scoring_cycle.cycle == cfg->cycle)) {
            f->has_cycle = true, f->c = b.u.scoring_cycle, f->h = h, f->seq = r.seq;
            f->c.code_version = (tally_str){NULL, 0};
            done = cfg->cycle != 0;
        } else if (h.type == SCHEMA_STATE_HASH) {
            st = keep_hash(f, &b.u.state_hash);
        }
        schema_body_release(&b);
        if (done) {
            break;
        }
    }
    store_iter_close(it);
    if (st == TALLY_ENOTFOUND) {
        st = TALLY_OK;
    }
    if (st == TALLY_OK && !f->has_cycle) {
        st = TALLY_ENOTFOUND;
    }
    return st;
}

/* The cycle, then its block: the derived records after it up to the STATE_HASH of that cycle
 * (block_end: the last derived record seen, when there is none). */
static tally_status find_cycle(store_log *log, const ledger_reconstruct_cfg *cfg, found *f)
{
    store_iter *it;
    store_record r;
    schema_header h;
    schema_body b;
    tally_status st = find_record(log, cfg, f);

    if (st != TALLY_OK) {
        return st;
    }
    f->block_end = f->seq;
    st = store_iter_open(log, f->seq + 1, &it);
    while (st == TALLY_OK && (st = store_iter_read(it, false, &r, &h, &b)) == TALLY_OK &&
           h.type >= SCHEMA_SUBMISSION_SCORE) {
        f->block_end = r.seq;
        if (h.type != SCHEMA_STATE_HASH) {
            continue;
        }
        if ((st = store_record_body(&r, &h, &b)) != TALLY_OK) {
            break;
        }
        if (b.u.state_hash.cycle == f->c.cycle) {
            f->has_state = true, f->sh = b.u.state_hash, f->state_seq = r.seq;
        }
        schema_body_release(&b);
        if (f->has_state) {
            break;
        }
    }
    store_iter_close(it);
    return st == TALLY_ENOTFOUND ? TALLY_OK : st;
}

/* ---- what the cycle's inputs say: parameters and the METAGRAPH ---- */

static tally_status scan_inputs(store_log *log, ledger_reconstruction *r)
{
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    schema_param_error err;
    uint8_t(*next)[32] = calloc(ENGINE_MAX_UIDS, 32);
    bool *next_has = calloc(ENGINE_MAX_UIDS, sizeof(bool));
    uint64_t next_part = 0, next_block = 0;
    tally_status st = next && next_has ? store_iter_open(log, 0, &it) : TALLY_ENOMEM;

    schema_paramset_default(&r->params);
    r->hotkeys = calloc(ENGINE_MAX_UIDS, 32);
    r->has_hotkey = calloc(ENGINE_MAX_UIDS, sizeof(bool));
    if (st == TALLY_OK && (r->hotkeys == NULL || r->has_hotkey == NULL)) {
        store_iter_close(it);
        st = TALLY_ENOMEM;
    }
    if (st != TALLY_OK) {
        free(next);
        free(next_has);
        return st;
    }
    while ((st = store_iter_read(it, false, &rec, &h, &b)) == TALLY_OK && rec.seq < r->covers_to) {
        if (h.type != SCHEMA_GENESIS && h.type != SCHEMA_CONFIG_SET && h.type != SCHEMA_METAGRAPH) {
            continue;
        }
        if ((st = store_record_body(&rec, &h, &b)) != TALLY_OK) {
            break;
        }
        if (h.type == SCHEMA_GENESIS) {
            st = schema_paramset_apply(&r->params, b.u.genesis.params, b.u.genesis.n_params, &err);
        } else if (h.type == SCHEMA_CONFIG_SET) {
            st = schema_paramset_apply(&r->params, b.u.config_set.params, b.u.config_set.n_params,
                                       &err);
        } else {
            /* a snapshot is in effect once its last part is in (protocol §2.4) */
            const schema_metagraph *m = &b.u.metagraph;
            if (m->part == 0) {
                memset(next_has, 0, ENGINE_MAX_UIDS * sizeof(bool));
                next_part = 0, next_block = m->block;
            }
            if (m->part == next_part && m->block == next_block) {
                for (size_t i = 0; i < m->n_neurons; i++) {
                    if (m->neurons[i].uid < ENGINE_MAX_UIDS) {
                        memcpy(next[m->neurons[i].uid], m->neurons[i].hotkey, 32);
                        next_has[m->neurons[i].uid] = true;
                    }
                }
                next_part++;
                if (next_part == m->parts) {
                    memcpy(r->hotkeys, next, (size_t)ENGINE_MAX_UIDS * 32);
                    memcpy(r->has_hotkey, next_has, ENGINE_MAX_UIDS * sizeof(bool));
                    r->has_metagraph = true, r->metagraph_block = m->block;
                }
            }
        }
        schema_body_release(&b);
        if (st != TALLY_OK) {
            st = TALLY_ECORRUPT; /* the replay's rules accepted them: the log changed under us */
            break;
        }
    }
    store_iter_close(it);
    free(next);
    free(next_has);
    return st == TALLY_ENOTFOUND || (st == TALLY_OK && rec.seq >= r->covers_to) ? TALLY_OK : st;
}

/* ---- the replay ---- */

typedef struct keep {
    uint64_t cycle;
    bool got;
    uint8_t *state;
    size_t state_len;
    uint8_t state_hash[32];
    bool nomem;
} keep;

static void on_cycle(void *arg, const ledger_cycle_checked *c)
{
    keep *k = arg;

    if (c->cycle != k->cycle || k->got) {
        return;
    }
    k->state = malloc(c->state_len ? c->state_len : 1);
    if (k->state == NULL) {
        k->nomem = true;
        return;
    }
    memcpy(k->state, c->state, c->state_len);
    k->state_len = c->state_len;
    memcpy(k->state_hash, c->state_hash, 32);
    k->got = true;
}

/* The nearest earlier cycle whose checkpoint file holds the state its STATE_HASH names, or 0. */
static tally_status pick_resume(store_log *log, const found *f, uint64_t *out)
{
    *out = 0;
    for (uint64_t k = f->c.cycle - 1; k >= 1 && k < f->cap; k--) {
        uint8_t *blob;
        size_t n;
        tally_status st;
        if (!f->has[k]) {
            continue;
        }
        st = store_checkpoint_get(log, k, f->hashes[k], &blob, &n);
        free(blob);
        if (st == TALLY_OK) {
            *out = k;
            return TALLY_OK;
        }
        if (st != TALLY_ENOTFOUND && st != TALLY_ECORRUPT) {
            return st;
        }
    }
    return TALLY_OK;
}

/* The recomputed state against the STATE_HASH record and the checkpoint file. */
static tally_status check_state(store_log *log, const found *f, ledger_reconstruction *r)
{
    uint8_t got[32], *blob = NULL;
    char a[65], b[65];
    size_t n = 0;
    tally_status st;

    schema_sha256_2(got, r->state, r->state_len, NULL, 0);
    memcpy(r->state_hash, got, 32);
    if (memcmp(got, f->sh.state_hash, 32) != 0 || f->sh.state_len != r->state_len) {
        schema_hex(got, 32, a);
        schema_hex(f->sh.state_hash, 32, b);
        set_mismatch(r, LEDGER_DIV_STATE, f->state_seq,
                     "STATE_HASH: field state_hash: recomputed %s (%zu bytes), the log has %s "
                     "(%" PRIu64 " bytes)",
                     a, r->state_len, b, f->sh.state_len);
        return TALLY_OK;
    }
    st = store_checkpoint_get(log, r->cycle, NULL, &blob, &n);
    if (st == TALLY_ENOTFOUND) {
        return TALLY_OK;
    }
    if (st == TALLY_ECORRUPT) {
        set_mismatch(r, LEDGER_DIV_STATE, f->state_seq,
                     "the checkpoint file checkpoints/%" PRIu64 ".zst is damaged (not one zstd "
                     "frame of a state)",
                     r->cycle);
        return TALLY_OK;
    }
    if (st != TALLY_OK) {
        return st;
    }
    if (n != r->state_len || memcmp(blob, r->state, n) != 0) {
        schema_sha256_2(got, blob, n, NULL, 0);
        schema_hex(got, 32, a);
        schema_hex(r->state_hash, 32, b);
        set_mismatch(r, LEDGER_DIV_STATE, f->state_seq,
                     "the checkpoint file checkpoints/%" PRIu64 ".zst is not the recomputed state: "
                     "SHA-256 %s (%zu bytes), the STATE_HASH record and the replay give %s",
                     r->cycle, a, n, b);
    } else {
        r->checkpoint_checked = true;
    }
    free(blob);
    return TALLY_OK;
}

/* The block's derived records, as the log holds them. */
static tally_status read_block(store_log *log, const found *f, ledger_reconstruction *r)
{
    size_t n = (size_t)(f->state_seq - f->seq);
    store_iter *it;
    store_record rec;
    schema_header h;
    tally_status st;

    r->bodies = calloc(n ? n : 1, sizeof(*r->bodies));
    if (r->bodies == NULL) {
        return TALLY_ENOMEM;
    }
    st = store_iter_open(log, f->seq + 1, &it);
    while (st == TALLY_OK && r->n_bodies < n &&
           (st = store_iter_read(it, true, &rec, &h, &r->bodies[r->n_bodies])) == TALLY_OK) {
        if (h.type == SCHEMA_WEIGHTS) {
            r->weights = &r->bodies[r->n_bodies];
        }
        r->n_bodies++;
    }
    store_iter_close(it);
    return st;
}

tally_status ledger_reconstruct(store_log *log, const ledger_reconstruct_cfg *cfg,
                                ledger_reconstruction *out)
{
    found f = {0};
    keep k = {0};
    ledger_replay_cfg rc = {.gated = cfg->gated, .progress = cfg->progress,
                            .progress_arg = cfg->progress_arg, .on_cycle = on_cycle,
                            .on_cycle_arg = &k};
    ledger_replay_result res;
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (cfg->cycle == 0 && cfg->at_ms == 0) {
        return TALLY_EINVAL;
    }
    st = find_cycle(log, cfg, &f);
    if (st != TALLY_OK) {
        goto done;
    }
    out->cycle = f.c.cycle, out->epoch = f.c.epoch, out->as_of_ms = f.c.as_of_ms;
    out->covers_to = f.c.covers_to, out->time_ms = f.h.time_ms, out->cycle_seq = f.seq;
    out->state_seq = f.state_seq;
    k.cycle = f.c.cycle;
    if (cfg->resume) {
        st = pick_resume(log, &f, &rc.from_cycle);
        if (st != TALLY_OK) {
            goto done;
        }
    }
    out->resumed_from = rc.from_cycle;
    /* up to the block's end; a block without its STATE_HASH is replayed one record past its
     * derived records, where the replay names what is missing */
    rc.to = f.has_state ? f.state_seq + 1 : f.block_end + 2;
    if (rc.to > store_size(log)) {
        rc.to = store_size(log);
    }
    st = ledger_replay(log, &rc, &res);
    engine_free(res.eng);
    out->replayed = res.records;
    if (st == TALLY_OK && k.nomem) {
        st = TALLY_ENOMEM;
    }
    if (st != TALLY_OK) {
        goto done;
    }
    if (res.mismatch) {
        set_mismatch(out, res.kind, res.bad_seq, "%s", res.what);
        goto done;
    }
    if (!f.has_state || !k.got) {
        if (f.has_state) {
            set_mismatch(out, LEDGER_DIV_DERIVED, f.state_seq,
                         "the block of cycle %" PRIu64 " did not replay to its STATE_HASH",
                         f.c.cycle);
        } else {
            st = TALLY_ENOTFOUND; /* the log ends inside the block */
        }
        goto done;
    }
    out->state = k.state, out->state_len = k.state_len;
    k.state = NULL;
    st = check_state(log, &f, out);
    if (st == TALLY_OK && !out->mismatch) {
        out->tree_size = f.state_seq + 1;
        st = store_root(log, out->tree_size, out->root);
    }
    if (st == TALLY_OK && !out->mismatch) {
        st = scan_inputs(log, out);
    }
    if (st == TALLY_OK && !out->mismatch) {
        st = read_block(log, &f, out);
    }
    out->gated = cfg->gated;
done:
    free(k.state);
    free(f.hashes);
    free(f.has);
    return st;
}

void ledger_reconstruction_release(ledger_reconstruction *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_bodies; i++) {
        schema_body_release(&r->bodies[i]);
    }
    free(r->bodies);
    free(r->state);
    free(r->hotkeys);
    free(r->has_hotkey);
    memset(r, 0, sizeof(*r));
}

/* ---- the files ---- */

static json_t *jhex(const uint8_t *p, size_t n)
{
    char hex[129];
    schema_hex(p, n, hex);
    return json_string(hex);
}

/* nanos as a decimal with nine places, as tally weights and explain print reals */
static json_t *jnanos(int64_t v)
{
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char b[32];
    snprintf(b, sizeof(b), "%s%" PRIu64 ".%09" PRIu64, v < 0 ? "-" : "", a / 1000000000u,
             a % 1000000000u);
    return json_string(b);
}

static json_t *jparams(const schema_paramset *ps)
{
    json_t *o = json_object();

    for (unsigned id = 0; id < SCHEMA_P_COUNT; id++) {
        const schema_pdef *d = schema_param_def(id);
        int64_t v = ps->v[id];
        json_t *j;
        switch (d->kind) {
        case SCHEMA_PK_REAL: j = jnanos(v); break;
        case SCHEMA_PK_BOOL: j = json_boolean(v != 0); break;
        case SCHEMA_PK_TEXT: j = json_string(d->choices[v]); break;
        default: j = json_integer((json_int_t)v); break;
        }
        json_object_set_new(o, d->key, j);
    }
    return o;
}

static json_t *cycle_json(const ledger_reconstruction *r)
{
    json_t *o = json_object();

    json_object_set_new(o, "cycle", json_integer((json_int_t)r->cycle));
    json_object_set_new(o, "epoch", json_integer((json_int_t)r->epoch));
    json_object_set_new(o, "as_of_ms", json_integer((json_int_t)r->as_of_ms));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)r->time_ms));
    json_object_set_new(o, "covers_to", json_integer((json_int_t)r->covers_to));
    json_object_set_new(o, "cycle_seq", json_integer((json_int_t)r->cycle_seq));
    json_object_set_new(o, "state_seq", json_integer((json_int_t)r->state_seq));
    json_object_set_new(o, "state_hash", jhex(r->state_hash, 32));
    json_object_set_new(o, "state_len", json_integer((json_int_t)r->state_len));
    json_object_set_new(o, "tree_size", json_integer((json_int_t)r->tree_size));
    json_object_set_new(o, "root", jhex(r->root, 32));
    json_object_set_new(o, "view", json_string(r->gated ? "gated" : "full"));
    json_object_set_new(o, "resumed_from_cycle", json_integer((json_int_t)r->resumed_from));
    json_object_set_new(o, "checkpoint_file_checked", json_boolean(r->checkpoint_checked));
    json_object_set_new(o, "metagraph_block",
                        r->has_metagraph ? json_integer((json_int_t)r->metagraph_block)
                                         : json_null());
    json_object_set_new(o, "params", jparams(&r->params));
    return o;
}

/* A derived record's JSON view (named fields, schema_body_to_json) with its seq first. */
static json_t *body_json(const ledger_reconstruction *r, size_t i)
{
    char *txt = NULL;
    json_t *b, *o;

    if (schema_body_to_json(&r->bodies[i], &txt) != TALLY_OK ||
        (b = json_loads(txt, 0, NULL)) == NULL) {
        free(txt);
        return NULL;
    }
    free(txt);
    o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)(r->cycle_seq + 1 + i)));
    json_object_update(o, b);
    json_decref(b);
    return o;
}

static json_t *scores_json(const ledger_reconstruction *r)
{
    json_t *o = json_object(), *arr = json_array();

    json_object_set_new(o, "cycle", json_integer((json_int_t)r->cycle));
    for (size_t i = 0; i < r->n_bodies; i++) {
        if (r->bodies[i].type == SCHEMA_MINER_SCORE) {
            json_t *m = body_json(r, i);
            if (m == NULL) {
                json_decref(arr);
                json_decref(o);
                return NULL;
            }
            json_array_append_new(arr, m);
        }
    }
    json_object_set_new(o, "miner_scores", arr);
    return o;
}

static json_t *weights_json(const ledger_reconstruction *r)
{
    json_t *o = json_object(), *uids = json_array(), *ws = json_array(), *hk = json_array();
    const schema_weights *w = r->weights ? &r->weights->u.weights : NULL;

    json_object_set_new(o, "cycle", json_integer((json_int_t)r->cycle));
    json_object_set_new(o, "has_weights", json_boolean(w != NULL));
    json_object_set_new(o, "seq", w ? json_integer((json_int_t)(r->cycle_seq + 1 +
                                                                 (size_t)(r->weights - r->bodies)))
                                    : json_null());
    json_object_set_new(o, "netuid", w ? json_integer((json_int_t)w->netuid) : json_null());
    json_object_set_new(o, "inputs_hash", w ? jhex(w->inputs_hash, 32) : json_null());
    json_object_set_new(o, "metagraph_block",
                        r->has_metagraph ? json_integer((json_int_t)r->metagraph_block)
                                         : json_null());
    for (size_t i = 0; w != NULL && i < w->n_uids; i++) {
        uint64_t uid = w->uids[i];
        json_array_append_new(uids, json_integer((json_int_t)uid));
        json_array_append_new(ws, json_integer((json_int_t)w->weights[i]));
        if (uid < ENGINE_MAX_UIDS && r->has_hotkey[uid]) {
            char ss58[49];
            schema_ss58_encode(r->hotkeys[uid], ss58);
            json_array_append_new(hk, json_string(ss58));
        } else {
            json_array_append_new(hk, json_null());
        }
    }
    json_object_set_new(o, "uids", uids);
    json_object_set_new(o, "weights", ws);
    json_object_set_new(o, "hotkeys", hk);
    return o;
}

/* One JSON line per SUBMISSION_SCORE, in block order. */
static tally_status lines_json(const ledger_reconstruction *r, char **out)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);

    if (buf == NULL) {
        return TALLY_ENOMEM;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_bodies; i++) {
        json_t *o;
        char *line;
        size_t n;
        if (r->bodies[i].type != SCHEMA_SUBMISSION_SCORE) {
            continue;
        }
        o = body_json(r, i);
        line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (line == NULL) {
            free(buf);
            return TALLY_ENOMEM;
        }
        n = strlen(line);
        if (cap - len < n + 2) {
            while (cap - len < n + 2) {
                cap *= 2;
            }
            char *g = realloc(buf, cap);
            if (g == NULL) {
                free(line);
                free(buf);
                return TALLY_ENOMEM;
            }
            buf = g;
        }
        memcpy(buf + len, line, n);
        len += n;
        buf[len++] = '\n';
        buf[len] = '\0';
        free(line);
    }
    *out = buf;
    return TALLY_OK;
}

tally_status ledger_reconstruct_json(const ledger_reconstruction *r, const char *which, char **out)
{
    json_t *o;

    *out = NULL;
    if (r->mismatch || r->state == NULL) {
        return TALLY_EINVAL;
    }
    if (strcmp(which, "submission_scores") == 0) {
        return lines_json(r, out);
    }
    if (strcmp(which, "cycle") == 0) {
        o = cycle_json(r);
    } else if (strcmp(which, "scores") == 0) {
        o = scores_json(r);
    } else if (strcmp(which, "weights") == 0) {
        o = weights_json(r);
    } else {
        return TALLY_EINVAL;
    }
    if (o == NULL) {
        return TALLY_ENOMEM;
    }
    *out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return *out ? TALLY_OK : TALLY_ENOMEM;
}

/* Writes n bytes to dir/name through a synced temporary file renamed over it. */
static tally_status write_atomic(const char *dir, const char *name, const void *p, size_t n,
                                 char *detail, size_t cap)
{
    char tmp[4200], path[4200];
    const uint8_t *b = p;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        goto fail;
    }
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            close(fd);
            goto fail;
        }
        b += w, n -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        close(fd);
        goto fail;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        goto fail;
    }
    return TALLY_OK;
fail:
    if (detail != NULL) {
        snprintf(detail, cap, "cannot write %s: %s", path, strerror(errno));
    }
    unlink(tmp);
    return TALLY_EIO;
}

tally_status ledger_reconstruct_write(const ledger_reconstruction *r, const char *dir,
                                      char *detail, size_t cap)
{
    static const struct {
        const char *which, *file;
    } files[] = {{"scores", "scores.json"},
                 {"weights", "weights.json"},
                 {"submission_scores", "submission_scores.jsonl"},
                 {"cycle", "cycle.json"}};
    tally_status st;
    int dfd;

    if (detail != NULL && cap > 0) {
        detail[0] = '\0';
    }
    if (r->mismatch || r->state == NULL) {
        return TALLY_EINVAL;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        if (detail != NULL) {
            snprintf(detail, cap, "cannot create %s: %s", dir, strerror(errno));
        }
        return TALLY_EIO;
    }
    st = write_atomic(dir, "state.msgpack", r->state, r->state_len, detail, cap);
    /* cycle.json last: its presence says the rest of the directory is this cycle's */
    for (size_t i = 0; st == TALLY_OK && i < sizeof(files) / sizeof(files[0]); i++) {
        char *txt = NULL;
        st = ledger_reconstruct_json(r, files[i].which, &txt);
        if (st == TALLY_OK) {
            size_t n = strlen(txt);
            bool nl = n > 0 && txt[n - 1] != '\n';
            if (nl) {
                char *g = realloc(txt, n + 2);
                if (g == NULL) {
                    free(txt);
                    return TALLY_ENOMEM;
                }
                txt = g, txt[n++] = '\n', txt[n] = '\0';
            }
            st = write_atomic(dir, files[i].file, txt, n, detail, cap);
        }
        free(txt);
    }
    if (st == TALLY_OK && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        if (fsync(dfd) != 0) {
            st = TALLY_EIO;
            if (detail != NULL) {
                snprintf(detail, cap, "cannot sync %s: %s", dir, strerror(errno));
            }
        }
        close(dfd);
    }
    return st;
}

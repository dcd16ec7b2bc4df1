/* Where two logs part: origins and node keys, then the first record whose leaf differs (equal
 * level-0 hash tiles are skipped whole), that record's two headers and bodies field by field,
 * and every cycle the divergence touches with the uids whose WEIGHTS differ between the logs.
 * The logs are read through ledger_diff_source, so a node's ledger API can stand in for a
 * local store. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

/* ---- the store as a source ---- */

static tally_status store_tile(void *arg, uint64_t index, unsigned width, uint8_t *out)
{
    return store_tile_read(arg, 0, index, width, out);
}

static tally_status store_records(void *arg, uint64_t from, ledger_diff_record_fn fn, void *fn_arg)
{
    store_iter *it;
    store_record r;
    bool stop = false;
    tally_status st = store_iter_open(arg, from, &it);

    while (st == TALLY_OK && !stop && (st = store_iter_next(it, &r)) == TALLY_OK) {
        st = fn(fn_arg, r.seq, r.header, r.body, &stop);
    }
    store_iter_close(it);
    return st == TALLY_ENOTFOUND ? TALLY_OK : st;
}

void ledger_diff_source_store(store_log *log, const char *name, ledger_diff_source *out)
{
    memset(out, 0, sizeof(*out));
    out->name = name;
    out->size = store_size(log);
    snprintf(out->origin, sizeof(out->origin), "%s", store_origin(log));
    store_node_pubkey(log, out->node_key);
    out->tile = store_tile, out->records = store_records, out->arg = log;
}

/* ---- the first differing leaf ---- */

static tally_status first_leaf(const ledger_diff_source *a, const ledger_diff_source *b,
                               ledger_diff_result *out, bool *found)
{
    uint64_t n = a->size < b->size ? a->size : b->size;
    uint8_t *ta = malloc(256 * 32), *tb = malloc(256 * 32);
    tally_status st = ta && tb ? TALLY_OK : TALLY_ENOMEM;

    *found = false;
    for (uint64_t t = 0; st == TALLY_OK && t * 256 < n && !*found; t++) {
        uint64_t left = n - t * 256;
        unsigned w = left < 256 ? (unsigned)left : 256u;
        if ((st = a->tile(a->arg, t, w, ta)) != TALLY_OK ||
            (st = b->tile(b->arg, t, w, tb)) != TALLY_OK) {
            break;
        }
        if (memcmp(ta, tb, (size_t)w * 32) == 0) {
            out->tiles_skipped++;
            continue;
        }
        for (unsigned i = 0; i < w; i++) {
            if (memcmp(ta + 32 * i, tb + 32 * i, 32) != 0) {
                out->seq = t * 256 + i;
                *found = true;
                break;
            }
        }
    }
    free(ta);
    free(tb);
    return st;
}

/* ---- one record of each ---- */

typedef struct one {
    bool got;
    uint8_t header[SCHEMA_HEADER_MAX + 64];
    size_t hn;
    uint8_t *body; /* NULL when the source does not hold it */
    size_t bn;
} one;

static tally_status take_one(void *arg, uint64_t seq, tally_bytes header, tally_bytes body,
                             bool *stop)
{
    one *o = arg;

    (void)seq;
    *stop = true;
    if (header.n > sizeof(o->header)) {
        return TALLY_ECORRUPT;
    }
    memcpy(o->header, header.p, header.n);
    o->hn = header.n;
    if (body.p != NULL) {
        o->body = malloc(body.n ? body.n : 1);
        if (o->body == NULL) {
            return TALLY_ENOMEM;
        }
        memcpy(o->body, body.p, body.n);
        o->bn = body.n;
    }
    o->got = true;
    return TALLY_OK;
}

static void hex_or_nil(bool has, uint64_t v, char *buf, size_t cap)
{
    if (has) {
        snprintf(buf, cap, "%" PRIu64, v);
    } else {
        snprintf(buf, cap, "nil");
    }
}

/* The first header field that differs, in header order, with both values. */
static void header_field(ledger_diff_result *out)
{
    const schema_header *a = &out->ha, *b = &out->hb;
    char va[160], vb[160];
    const char *f = NULL;

    va[0] = vb[0] = '\0';
    if (a->version != b->version) {
        f = "version";
        snprintf(va, sizeof(va), "%" PRIu64, a->version);
        snprintf(vb, sizeof(vb), "%" PRIu64, b->version);
    } else if (a->type != b->type) {
        const char *na = schema_type_name((unsigned)a->type), *nb = schema_type_name((unsigned)b->type);
        f = "type";
        snprintf(va, sizeof(va), "%s", na ? na : "?");
        snprintf(vb, sizeof(vb), "%s", nb ? nb : "?");
    } else if (a->time_ms != b->time_ms) {
        f = "time_ms";
        snprintf(va, sizeof(va), "%" PRIu64, a->time_ms);
        snprintf(vb, sizeof(vb), "%" PRIu64, b->time_ms);
    } else if (a->tier != b->tier) {
        f = "tier";
        snprintf(va, sizeof(va), "%" PRIu64, a->tier);
        snprintf(vb, sizeof(vb), "%" PRIu64, b->tier);
    } else if (a->has_event_id != b->has_event_id || a->event_id != b->event_id) {
        f = "event_id";
        hex_or_nil(a->has_event_id, a->event_id, va, sizeof(va));
        hex_or_nil(b->has_event_id, b->event_id, vb, sizeof(vb));
    } else if (a->has_rows != b->has_rows || a->rows != b->rows) {
        f = "rows";
        hex_or_nil(a->has_rows, a->rows, va, sizeof(va));
        hex_or_nil(b->has_rows, b->rows, vb, sizeof(vb));
    } else if (memcmp(a->actor, b->actor, 32) != 0) {
        f = "actor";
        schema_hex(a->actor, 32, va);
        schema_hex(b->actor, 32, vb);
    } else if (memcmp(a->body_hash, b->body_hash, 32) != 0) {
        f = "body_hash";
        schema_hex(a->body_hash, 32, va);
        schema_hex(b->body_hash, 32, vb);
    } else if (memcmp(a->actor_sig, b->actor_sig, 64) != 0) {
        f = "actor_sig";
        schema_hex(a->actor_sig, 64, va);
        schema_hex(b->actor_sig, 64, vb);
    }
    if (f == NULL) {
        snprintf(out->field, sizeof(out->field), "header");
        snprintf(out->detail, sizeof(out->detail),
                 "the headers decode to the same fields but their bytes or leaf hashes differ "
                 "(a damaged hash tile? run tally verify)");
        return;
    }
    snprintf(out->field, sizeof(out->field), "%s", f);
    snprintf(out->detail, sizeof(out->detail), "header field %s: A %s, B %s", f, va, vb);
}

/* The first differing member of two JSON views, as a dotted path with array indexes, and both
 * values. Objects are walked in A's member order (the schema's field order). */
static bool json_diff(json_t *a, json_t *b, char *path, size_t cap, char **va, char **vb)
{
    size_t len = strlen(path);

    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *v;
        json_object_foreach(a, key, v) {
            snprintf(path + len, cap - len, "%s%s", len ? "." : "", key);
            json_t *w = json_object_get(b, key);
            if (w == NULL) {
                *va = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                *vb = strdup("(absent)");
                return true;
            }
            if (!json_equal(v, w) && json_diff(v, w, path, cap, va, vb)) {
                return true;
            }
        }
        path[len] = '\0';
    } else if (json_is_array(a) && json_is_array(b)) {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            snprintf(path + len, cap - len, "[%zu]", i);
            if (!json_equal(json_array_get(a, i), json_array_get(b, i)) &&
                json_diff(json_array_get(a, i), json_array_get(b, i), path, cap, va, vb)) {
                return true;
            }
        }
        path[len] = '\0';
        if (na != nb) {
            char buf[64];
            snprintf(buf, sizeof(buf), "%zu items", na);
            *va = strdup(buf);
            snprintf(buf, sizeof(buf), "%zu items", nb);
            *vb = strdup(buf);
            return true;
        }
    }
    if (json_equal(a, b)) {
        return false;
    }
    *va = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
    *vb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    return true;
}

static json_t *body_view(const schema_header *h, const one *o)
{
    schema_body b;
    char *txt = NULL;
    json_t *j = NULL;

    if (o->body == NULL || schema_record_check(h, o->body, o->bn, &b) != TALLY_OK) {
        return NULL;
    }
    if (schema_body_to_json(&b, &txt) == TALLY_OK) {
        j = json_loads(txt, 0, NULL);
    }
    free(txt);
    schema_body_release(&b);
    return j;
}

/* Both bodies of one type, held by both sources: the first body field that differs. */
static void body_field(ledger_diff_result *out, const one *a, const one *b)
{
    json_t *ja = body_view(&out->ha, a), *jb = body_view(&out->hb, b);
    char path[sizeof(out->body_field)] = "", *va = NULL, *vb = NULL;
    size_t len = strlen(out->detail);

    if (ja == NULL || jb == NULL) {
        snprintf(out->detail + len, sizeof(out->detail) - len,
                 "; a body does not match its header (run tally verify)");
    } else if (json_diff(ja, jb, path, sizeof(path), &va, &vb)) {
        snprintf(out->body_field, sizeof(out->body_field), "%s", path);
        snprintf(out->detail + len, sizeof(out->detail) - len, "; body field %s: A %.200s, B %.200s",
                 path, va ? va : "?", vb ? vb : "?");
    }
    free(va);
    free(vb);
    json_decref(ja);
    json_decref(jb);
}

static tally_status compare_record(const ledger_diff_source *a, const ledger_diff_source *b,
                                   ledger_diff_result *out)
{
    one ra = {0}, rb = {0};
    tally_status st = a->records(a->arg, out->seq, take_one, &ra);

    if (st == TALLY_OK) {
        st = b->records(b->arg, out->seq, take_one, &rb);
    }
    if (st == TALLY_OK && (!ra.got || !rb.got)) {
        st = TALLY_ECORRUPT; /* a tile names a leaf the log does not hold */
    }
    if (st == TALLY_OK) {
        bool da = schema_header_decode(ra.header, ra.hn, &out->ha) == TALLY_OK;
        bool db = schema_header_decode(rb.header, rb.hn, &out->hb) == TALLY_OK;
        out->has_body_a = ra.body != NULL, out->has_body_b = rb.body != NULL;
        if (!da || !db) {
            snprintf(out->field, sizeof(out->field), "header");
            snprintf(out->detail, sizeof(out->detail), "the header of %s does not decode",
                     !da ? "A" : "B");
        } else {
            header_field(out);
            if (out->ha.type == out->hb.type &&
                memcmp(out->ha.body_hash, out->hb.body_hash, 32) != 0) {
                size_t len = strlen(out->detail);
                if (ra.body != NULL && rb.body != NULL) {
                    body_field(out, &ra, &rb);
                } else {
                    snprintf(out->detail + len, sizeof(out->detail) - len,
                             "; the bodies cannot be compared (%s does not hold its body)",
                             ra.body == NULL ? "A" : "B");
                }
            }
        }
    }
    free(ra.body);
    free(rb.body);
    return st;
}

/* ---- the cycles ---- */

typedef struct cyc {
    uint64_t cycle, seq, covers_to, end; /* end: the block's last derived record */
    bool has_weights;
    uint64_t *uids, *w;
    size_t n;
} cyc;

typedef struct cycles {
    cyc *v;
    size_t n, cap;
} cycles;

static void cycles_free(cycles *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].uids);
        free(c->v[i].w);
    }
    free(c->v);
}

static tally_status take_cycle(void *arg, uint64_t seq, tally_bytes header, tally_bytes body,
                               bool *stop)
{
    cycles *c = arg;
    schema_header h;
    schema_body b;
    cyc *cur = c->n ? &c->v[c->n - 1] : NULL;

    (void)stop;
    if (schema_header_decode(header.p, header.n, &h) != TALLY_OK) {
        return TALLY_ECORRUPT;
    }
    if (h.type >= SCHEMA_SUBMISSION_SCORE && cur != NULL && cur->end + 1 == seq) {
        cur->end = seq;
    }
    if ((h.type != SCHEMA_SCORING_CYCLE && h.type != SCHEMA_WEIGHTS) || body.p == NULL) {
        return TALLY_OK;
    }
    if (schema_record_check(&h, body.p, body.n, &b) != TALLY_OK) {
        return TALLY_ECORRUPT;
    }
    if (h.type == SCHEMA_SCORING_CYCLE) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 64;
            cyc *g = realloc(c->v, cap * sizeof(*g));
            if (g == NULL) {
                schema_body_release(&b);
                return TALLY_ENOMEM;
            }
            c->v = g, c->cap = cap;
        }
        c->v[c->n++] = (cyc){.cycle = b.u.scoring_cycle.cycle, .seq = seq,
                             .covers_to = b.u.scoring_cycle.covers_to, .end = seq};
    } else if (cur != NULL && cur->end == seq && b.u.weights.cycle == cur->cycle &&
               !cur->has_weights) {
        size_t n = b.u.weights.n_uids;
        cur->uids = malloc((n + 1) * sizeof(uint64_t));
        cur->w = malloc((n + 1) * sizeof(uint64_t));
        if (cur->uids == NULL || cur->w == NULL) {
            schema_body_release(&b);
            return TALLY_ENOMEM;
        }
        memcpy(cur->uids, b.u.weights.uids, n * sizeof(uint64_t));
        memcpy(cur->w, b.u.weights.weights, n * sizeof(uint64_t));
        cur->n = n, cur->has_weights = true;
    }
    schema_body_release(&b);
    return TALLY_OK;
}

static const cyc *find_cyc(const cycles *c, uint64_t cycle)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].cycle == cycle) {
            return &c->v[i];
        }
    }
    return NULL;
}

/* The uids whose weight differs, ascending (both lists are). */
static tally_status weight_changes(const cyc *a, const cyc *b, ledger_diff_cycle *out)
{
    size_t na = a && a->has_weights ? a->n : 0, nb = b && b->has_weights ? b->n : 0;
    size_t i = 0, j = 0;

    out->changes = calloc(na + nb + 1, sizeof(*out->changes));
    if (out->changes == NULL) {
        return TALLY_ENOMEM;
    }
    while (i < na || j < nb) {
        ledger_weight_change ch = {0};
        if (j >= nb || (i < na && a->uids[i] < b->uids[j])) {
            ch = (ledger_weight_change){.uid = a->uids[i], .in_a = true, .a = a->w[i]};
            i++;
        } else if (i >= na || b->uids[j] < a->uids[i]) {
            ch = (ledger_weight_change){.uid = b->uids[j], .in_b = true, .b = b->w[j]};
            j++;
        } else {
            ch = (ledger_weight_change){.uid = a->uids[i], .in_a = true, .in_b = true,
                                        .a = a->w[i], .b = b->w[j]};
            i++, j++;
        }
        if (ch.in_a != ch.in_b || ch.a != ch.b) {
            out->changes[out->n_changes++] = ch;
        }
    }
    out->weights_differ = out->n_changes > 0 || out->weights_a != out->weights_b;
    return TALLY_OK;
}

static tally_status affected(const cycles *ca, const cycles *cb, ledger_diff_result *out)
{
    uint64_t lo = UINT64_MAX, hi = 0, seq = out->seq;

    /* the cycles of either log whose block ends at or after the divergence */
    for (int k = 0; k < 2; k++) {
        const cycles *c = k ? cb : ca;
        for (size_t i = 0; i < c->n; i++) {
            if (c->v[i].end >= seq) {
                lo = c->v[i].cycle < lo ? c->v[i].cycle : lo;
                hi = c->v[i].cycle > hi ? c->v[i].cycle : hi;
            }
        }
    }
    if (lo == UINT64_MAX) {
        return TALLY_OK;
    }
    out->cycles = calloc((size_t)(hi - lo + 1), sizeof(*out->cycles));
    if (out->cycles == NULL) {
        return TALLY_ENOMEM;
    }
    for (uint64_t cy = lo; cy <= hi; cy++) {
        const cyc *a = find_cyc(ca, cy), *b = find_cyc(cb, cy);
        ledger_diff_cycle *d = &out->cycles[out->n_cycles];
        tally_status st;
        if (a == NULL && b == NULL) {
            continue;
        }
        d->cycle = cy;
        d->in_a = a != NULL, d->in_b = b != NULL;
        d->seq_a = a ? a->seq : 0, d->seq_b = b ? b->seq : 0;
        d->covers_to_a = a ? a->covers_to : 0, d->covers_to_b = b ? b->covers_to : 0;
        d->inputs = (a && a->covers_to > seq) || (b && b->covers_to > seq);
        d->weights_a = a && a->has_weights, d->weights_b = b && b->has_weights;
        out->n_cycles++;
        if ((st = weight_changes(a, b, d)) != TALLY_OK) {
            return st;
        }
    }
    return TALLY_OK;
}

tally_status ledger_diff_sources(const ledger_diff_source *a, const ledger_diff_source *b,
                                 ledger_diff_result *out)
{
    cycles ca = {0}, cb = {0};
    bool found;
    tally_status st;

    memset(out, 0, sizeof(*out));
    out->size_a = a->size, out->size_b = b->size;
    snprintf(out->origin_a, sizeof(out->origin_a), "%s", a->origin);
    snprintf(out->origin_b, sizeof(out->origin_b), "%s", b->origin);
    memcpy(out->key_a, a->node_key, 32);
    memcpy(out->key_b, b->node_key, 32);
    out->origin_differs = strcmp(a->origin, b->origin) != 0;
    out->key_differs = memcmp(a->node_key, b->node_key, 32) != 0;
    st = first_leaf(a, b, out, &found);
    if (st != TALLY_OK) {
        return st;
    }
    if (!found) {
        out->verdict = a->size == b->size ? LEDGER_DIFF_IDENTICAL : LEDGER_DIFF_PREFIX;
        return TALLY_OK;
    }
    out->verdict = LEDGER_DIFF_DIVERGED;
    st = compare_record(a, b, out);
    if (st == TALLY_OK) {
        st = a->records(a->arg, 0, take_cycle, &ca);
    }
    if (st == TALLY_OK) {
        st = b->records(b->arg, 0, take_cycle, &cb);
    }
    if (st == TALLY_OK) {
        st = affected(&ca, &cb, out);
    }
    cycles_free(&ca);
    cycles_free(&cb);
    return st;
}

tally_status ledger_diff(store_log *a, store_log *b, ledger_diff_result *out)
{
    ledger_diff_source sa, sb;

    ledger_diff_source_store(a, "A", &sa);
    ledger_diff_source_store(b, "B", &sb);
    return ledger_diff_sources(&sa, &sb, out);
}

void ledger_diff_release(ledger_diff_result *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_cycles; i++) {
        free(r->cycles[i].changes);
    }
    free(r->cycles);
    memset(r, 0, sizeof(*r));
}

/* The full integrity scan: every record rehashed and its body checked, every tile rebuilt and
 * compared, every tree head's root, signatures and order checked. The first failure is named
 * by the sequence number it concerns. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

typedef struct scan {
    store_log *log;
    MDB_txn *txn;
    store_verify_report *rep;
    store__tree *tree;
    schema_sth *sths;
    size_t n_sths, next_sth;
    uint8_t tile0[256 * 32]; /* the stored level-0 tile of the records being scanned */
    size_t tile0_w;
    uint64_t tile0_index;
    uint64_t packed_below; /* records below this are in packs */
    store__pack_cache packs;
    uint8_t node_pk[32];   /* the GENESIS actor: the key of every head and node record */
    uint64_t last_time;
} scan;

static tally_status report(scan *s, bool has_seq, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static tally_status report(scan *s, bool has_seq, uint64_t seq, const char *fmt, ...)
{
    va_list ap;

    s->rep->has_bad_seq = has_seq;
    s->rep->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(s->rep->what, sizeof(s->rep->what), fmt, ap);
    va_end(ap);
    return TALLY_ECORRUPT;
}

static tally_status stored_tile(scan *s, unsigned level, uint64_t index, const uint8_t **p,
                                size_t *w)
{
    uint8_t key[9];
    MDB_val k = {9, key}, v;
    int rc;

    *p = NULL, *w = 0;
    store__tile_key(level, index, key);
    rc = mdb_get(s->txn, s->log->tiles, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return TALLY_OK;
    }
    if (rc != 0) {
        return store__status(rc);
    }
    *p = v.mv_data;
    *w = v.mv_size % 32 == 0 ? v.mv_size / 32 : 0;
    return TALLY_OK;
}

/* Compares rebuilt hashes with a stored tile; names the first record under a differing hash. */
static tally_status compare_tile(scan *s, unsigned level, uint64_t index, const uint8_t *hashes,
                                 size_t w)
{
    const uint8_t *p = NULL;
    size_t sw = 0;
    tally_status st = stored_tile(s, level, index, &p, &sw);

    if (st != TALLY_OK) {
        return st;
    }
    if (sw > w) {
        uint64_t seq = (index * 256 + w) << (8 * level);
        return report(s, true, seq, "hash tile %u/%" PRIu64 " holds %zu hashes, beyond the "
                      "latest head's %zu", level, index, sw, w);
    }
    for (size_t j = 0; j < w; j++) {
        if (j >= sw || memcmp(p + 32 * j, hashes + 32 * j, 32) != 0) {
            uint64_t seq = (index * 256 + j) << (8 * level);
            return report(s, true, seq, "hash tile %u/%" PRIu64 " entry %zu differs from the log",
                          level, index, j);
        }
    }
    return TALLY_OK;
}

static tally_status full_tile(void *arg, unsigned level, uint64_t index, const uint8_t *hashes)
{
    return compare_tile(arg, level, index, hashes, 256);
}

/* Every stored head, read in the scan's own snapshot so heads and records agree even while a
 * writer appends. */
static tally_status collect_heads(scan *s)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(s->txn, s->log->sth, &cur);
    tally_status st = store__status(rc);

    for (int op = MDB_FIRST; st == TALLY_OK; op = MDB_NEXT) {
        schema_sth *grown;
        rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op);
        if (rc == MDB_NOTFOUND) {
            break;
        }
        if (rc != 0) {
            st = store__status(rc);
            break;
        }
        grown = realloc(s->sths, (s->n_sths + 1) * sizeof(*grown));
        if (grown == NULL) {
            st = TALLY_ENOMEM;
            break;
        }
        s->sths = grown;
        if (schema_sth_decode(v.mv_data, v.mv_size, &s->sths[s->n_sths]) != TALLY_OK) {
            st = report(s, false, 0, "a stored tree head does not decode");
            break;
        }
        s->n_sths++;
    }
    mdb_cursor_close(cur);
    return st;
}

/* Every head whose size the scan has reached: root, key, origin, signatures, order. */
static tally_status check_heads(scan *s)
{
    while (s->next_sth < s->n_sths && s->sths[s->next_sth].tree_size == s->tree->size) {
        const schema_sth *h = &s->sths[s->next_sth];
        uint8_t root[32];
        uint64_t seq = h->tree_size ? h->tree_size - 1 : 0;

        store__tree_root(s->tree, root);
        if (memcmp(root, h->root, 32) != 0) {
            return report(s, true, seq, "tree head for size %" PRIu64 ": root differs from the log",
                          h->tree_size);
        }
        if (strcmp(h->origin, s->log->origin) != 0) {
            return report(s, true, seq, "tree head for size %" PRIu64 ": origin %s is not the "
                          "log's", h->tree_size, h->origin);
        }
        if (store_sth_verify(h, s->log->origin, s->node_pk) != TALLY_OK) {
            return report(s, true, seq, "tree head for size %" PRIu64 ": not signed by the node "
                          "key (the GENESIS actor)", h->tree_size);
        }
        if (h->time_ms != s->last_time) {
            return report(s, true, seq, "tree head for size %" PRIu64 ": time_ms %" PRIu64
                          " is not its last record's time %" PRIu64, h->tree_size, h->time_ms,
                          s->last_time);
        }
        if (s->next_sth > 0 && h->time_ms < s->sths[s->next_sth - 1].time_ms) {
            return report(s, true, seq, "tree head for size %" PRIu64 ": time went backwards",
                          h->tree_size);
        }
        s->next_sth++;
        s->rep->sths++;
    }
    return TALLY_OK;
}

/* Authorship (protocol §2.4, without projections) against the GENESIS actor; record 0 fixes it,
 * and the metadata key must be the same key. */
static tally_status check_author(scan *s, uint64_t seq, const schema_header *h, tally_bytes bb)
{
    schema_body body = {.type = (unsigned)h->type};
    bool decoded = false;
    tally_status st;

    if (seq == 0) {
        memcpy(s->node_pk, h->actor, 32);
        if (memcmp(s->log->pk, h->actor, 32) != 0) {
            return report(s, true, 0, "record 0: the node key in the store's metadata is not the "
                          "GENESIS actor (a substituted key?)");
        }
    }
    /* only OUTCOME's author depends on its body (source 1 is the node's, source 2 a miner's);
     * the header's tier says which, so a replica's absent body is judged by it alone */
    if (h->type == SCHEMA_OUTCOME && bb.p != NULL) {
        if (schema_record_check(h, bb.p, bb.n, &body) != TALLY_OK) {
            return report(s, true, seq, "record %" PRIu64 ": body does not match its header", seq);
        }
        decoded = true;
    }
    st = schema_author_check(s->node_pk, h);
    if (decoded) {
        schema_body_release(&body);
    }
    if (st != TALLY_OK) {
        return report(s, true, seq, "record %" PRIu64 ": %s records %s the node key (the "
                      "GENESIS actor)", seq, schema_type_name((unsigned)h->type),
                      memcmp(h->actor, s->node_pk, 32) == 0 ? "must not be signed by"
                                                            : "must be signed by");
    }
    return TALLY_OK;
}

static tally_status check_record(scan *s, uint64_t seq, uint64_t *last_time, bool signatures)
{
    schema_header h;
    tally_bytes hb, bb;
    uint8_t leaf[32];
    tally_str origin = {s->log->origin, strlen(s->log->origin)};
    tally_status st;

    st = store__record_at(s->txn, s->log, &s->packs, seq, s->packed_below, &hb, &bb);
    if (st == TALLY_ENOTFOUND) {
        return report(s, true, seq, "record %" PRIu64 " is missing from the log", seq);
    }
    if (st == TALLY_ECORRUPT && hb.p == NULL) {
        return report(s, true, seq, "record %" PRIu64 ": its pack is unreadable", seq);
    }
    if (st != TALLY_OK && st != TALLY_ECORRUPT) {
        return st;
    }
    if (schema_header_decode(hb.p, hb.n, &h) != TALLY_OK) {
        return report(s, true, seq, "record %" PRIu64 ": header is not a canonical header", seq);
    }
    if ((seq == 0) != (h.type == SCHEMA_GENESIS)) {
        return report(s, true, seq, "record %" PRIu64 ": GENESIS must be exactly record 0", seq);
    }
    if (h.time_ms < *last_time) {
        return report(s, true, seq, "record %" PRIu64 ": time_ms went backwards", seq);
    }
    *last_time = h.time_ms;
    s->last_time = h.time_ms;
    if (st == TALLY_ECORRUPT && s->log->replica && h.tier >= SCHEMA_GATED &&
        h.tier <= SCHEMA_PRIVATE) {
        s->rep->bodies_absent++; /* not served to this replica (yet): its header still counts */
    } else if (st == TALLY_ECORRUPT) {
        return report(s, true, seq, "record %" PRIu64 ": body missing or unreadable", seq);
    } else if (schema_record_check(&h, bb.p, bb.n, NULL) != TALLY_OK) {
        return report(s, true, seq, "record %" PRIu64 ": body does not match its header", seq);
    }
    st = check_author(s, seq, &h, bb);
    if (st != TALLY_OK) {
        return st;
    }
    if (signatures && schema_record_verify(&h, origin) != TALLY_OK) {
        return report(s, true, seq, "record %" PRIu64 ": actor signature invalid", seq);
    }
    store_leaf_hash(hb.p, hb.n, leaf);
    /* the stored level-0 tile is read once per 256 records and each leaf compared at once */
    if (s->tile0_w == 0 || s->tile0_index != seq >> 8) {
        const uint8_t *p = NULL;
        st = stored_tile(s, 0, seq >> 8, &p, &s->tile0_w);
        if (st != TALLY_OK) {
            return st;
        }
        s->tile0_index = seq >> 8;
        if (p != NULL) {
            memcpy(s->tile0, p, 32 * s->tile0_w);
        }
    }
    if ((seq & 255) >= s->tile0_w || memcmp(s->tile0 + 32 * (seq & 255), leaf, 32) != 0) {
        return report(s, true, seq, "record %" PRIu64 ": leaf hash differs from hash tile 0/%" PRIu64,
                      seq, seq >> 8);
    }
    return store__tree_push(s->tree, leaf, full_tile, s);
}

/* The first key at or after `key` in dbi, if its first `prefix` bytes equal key's. */
static tally_status first_from(scan *s, MDB_dbi dbi, const uint8_t *key, size_t n, size_t prefix,
                               MDB_val *found, bool *has)
{
    MDB_cursor *cur;
    MDB_val k = {n, (void *)(uintptr_t)key}, v;
    int rc = mdb_cursor_open(s->txn, dbi, &cur);

    *has = false;
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        mdb_cursor_close(cur);
    }
    if (rc == MDB_NOTFOUND) {
        return TALLY_OK;
    }
    if (rc != 0) {
        return store__status(rc);
    }
    *has = k.mv_size == n && memcmp(k.mv_data, key, prefix) == 0;
    *found = k;
    return TALLY_OK;
}

/* Nothing may lie beyond the latest head: no tail record, pack or hash tile past the tree (a
 * head lost, or rows a second writer left). The report names the first record beyond it. */
static tally_status check_beyond(scan *s, uint64_t size)
{
    uint8_t key[9];
    MDB_val k;
    bool has;
    tally_status st;

    store__be64(size, key);
    st = first_from(s, s->log->log, key, 8, 0, &k, &has);
    if (st == TALLY_OK && has) {
        uint64_t seq = store__rd_be64(k.mv_data);
        return report(s, true, seq, "record %" PRIu64 " lies beyond the latest head (size %" PRIu64
                      "): a head is missing, or the row is stray", seq, size);
    }
    store__be64(size / 256, key);
    if (st == TALLY_OK) {
        st = first_from(s, s->log->packs, key, 8, 0, &k, &has);
    }
    if (st == TALLY_OK && has) {
        uint64_t bundle = store__rd_be64(k.mv_data);
        uint64_t seq = bundle * 256 > size ? bundle * 256 : size;
        return report(s, true, seq, "pack %" PRIu64 " (records %" PRIu64 "…) lies beyond the "
                      "latest head (size %" PRIu64 ")", bundle, bundle * 256, size);
    }
    for (unsigned tl = 0; st == TALLY_OK && tl < STORE__LEVELS; tl++) {
        uint64_t count = tl == 0 ? size : (size >> (8 * tl)), tiles = (count + 255) / 256;
        store__tile_key(tl, tiles, key);
        st = first_from(s, s->log->tiles, key, 9, 1, &k, &has);
        if (st == TALLY_OK && has) {
            uint64_t index = store__rd_be64((const uint8_t *)k.mv_data + 1);
            uint64_t seq = index * 256 << (8 * tl);
            return report(s, true, seq > size ? seq : size, "hash tile %u/%" PRIu64 " lies beyond "
                          "the latest head (size %" PRIu64 ")", tl, index, size);
        }
    }
    return st;
}

static tally_status scan_records(scan *s, uint64_t size, bool signatures,
                                 store_progress_fn progress, void *arg)
{
    uint64_t seq, last_time = 0;
    tally_status st = TALLY_OK;

    for (seq = 0; st == TALLY_OK && seq < size; seq++) {
        st = check_record(s, seq, &last_time, signatures);
        if (st == TALLY_OK) {
            st = check_heads(s);
        }
        s->rep->records = seq + 1;
        if (progress != NULL && ((seq + 1) % 65536 == 0 || seq + 1 == size)) {
            progress(arg, seq + 1, size);
        }
    }
    if (st == TALLY_OK) {
        st = check_beyond(s, size);
    }
    return st;
}

tally_status store_verify(store_log *log, bool signatures, store_progress_fn progress, void *arg,
                          store_verify_report *out)
{
    scan s = {.log = log, .rep = out};
    uint64_t size;
    tally_status st;

    memset(out, 0, sizeof(*out));
    s.tree = calloc(1, sizeof(*s.tree));
    if (s.tree == NULL) {
        return TALLY_ENOMEM;
    }
    st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &s.txn));
    if (st == TALLY_OK) {
        st = collect_heads(&s);
    }
    size = s.n_sths ? s.sths[s.n_sths - 1].tree_size : 0;
    s.packed_below = size / 256 * 256;
    if (st == TALLY_OK) {
        st = scan_records(&s, size, signatures, progress, arg);
    }
    /* the partial tiles at the right edge */
    for (unsigned tl = 0; st == TALLY_OK && tl < STORE__LEVELS; tl++) {
        if (s.tree->width[tl] > 0) {
            uint64_t count = s.tree->size >> (8 * tl);
            st = compare_tile(&s, tl, count >> 8, s.tree->edge[tl], s.tree->width[tl]);
        }
    }
    if (st == TALLY_OK && s.next_sth != s.n_sths) {
        st = report(&s, true, s.sths[s.next_sth].tree_size,
                    "tree head for size %" PRIu64 " does not match a size the log reached",
                    s.sths[s.next_sth].tree_size);
    }
    if (s.txn != NULL) {
        mdb_txn_abort(s.txn);
    }
    free(s.sths);
    free(s.tree);
    store__pack_cache_release(&s.packs);
    return st;
}

/* Replicas: a primary's log copied into tally's own store as the primary signed it, with the
 * bodies the replica was not served left out (and added when they arrive), refusals that change
 * nothing, a writer killed mid-replication, and the replica's roles at open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <lmdb.h>

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/samples.h"
#include "util/testlog.h"
#include "util/testutil.h"

#define ORIGIN "test.tally/1"
#define TOTAL 845u /* three full bundles and a tail */

static const uint8_t node_seed[32] = {7, 7, 7}; /* tl_create's: the source's node key */
static const uint8_t miner_seed[32] = {9};

/* ---- the source log: every tier, unique bodies, heads at uneven sizes ---- */

/* The record of kind seq % 5 at seq: EVENT (public), PROVIDER_QUOTE (private), MARKET_SNAPSHOT
 * (gated), ODDS_SUBMISSION (embargoed, by a miner), EVENT. Salts make every body unique. */
static void build(store_log *log, uint64_t seq, uint8_t *buf, size_t cap, store_input *in)
{
    static const unsigned kinds[5] = {SCHEMA_EVENT, SCHEMA_PROVIDER_QUOTE, SCHEMA_MARKET_SNAPSHOT,
                                      SCHEMA_ODDS_SUBMISSION, SCHEMA_EVENT};
    unsigned type = kinds[seq % 5];
    uint8_t pk[32], sk[64], salt[16] = {0};
    schema_body b;
    size_t n;

    if (type == SCHEMA_EVENT) {
        tl_event(log, seq, buf, cap, in);
        in->header.time_ms = 1767225600000ull + seq;
        return;
    }
    for (int i = 0; i < 8; i++) {
        salt[i] = (uint8_t)(seq >> (8 * i));
    }
    tu_sample(type, 0, &b);
    if (type == SCHEMA_PROVIDER_QUOTE) {
        memcpy(b.u.provider_quote.salt, salt, 16);
    } else if (type == SCHEMA_MARKET_SNAPSHOT) {
        memcpy(b.u.snapshot.salt, salt, 16);
    } else {
        memcpy(b.u.odds.salt, salt, 16);
    }
    assert_int_equal(schema_body_encode(&b, buf, cap, &n), TALLY_OK);
    if (type == SCHEMA_ODDS_SUBMISSION) {
        crypto_sign_seed_keypair(pk, sk, miner_seed);
        assert_int_equal(schema_header_init(&b, buf, n, pk, &in->header), TALLY_OK);
        assert_int_equal(schema_record_sign(&in->header, (tally_str){ORIGIN, 12}, sk), TALLY_OK);
    } else {
        store_node_pubkey(log, pk);
        assert_int_equal(schema_header_init(&b, buf, n, pk, &in->header), TALLY_OK);
        assert_int_equal(store_node_sign(log, &in->header), TALLY_OK);
    }
    in->header.time_ms = 1767225600000ull + seq;
    in->body = buf;
    in->body_len = n;
}

/* Appends up to `total` records (GENESIS first) in batches of uneven sizes, one head each. */
static void source_fill(store_log *log, uint64_t total)
{
    static const size_t per[] = {1, 37, 100, 256, 3, 200, 64, 129};
    uint8_t *bufs = malloc(256 * 512);
    store_input in[256];
    uint64_t size = store_size(log), first;

    for (unsigned k = 0; size < total; k++) {
        size_t n = per[k % 8];
        if (n > total - size) {
            n = (size_t)(total - size);
        }
        for (size_t i = 0; i < n; i++) {
            if (size + i == 0) {
                tl_fill(log, 1, 1);
                in[i].body = NULL;
                continue;
            }
            build(log, size + i, bufs + 512 * i, 512, &in[i]);
        }
        if (size == 0) {
            /* GENESIS came through tl_fill; the rest of this batch follows it */
            if (n > 1) {
                assert_int_equal(store_append(log, in + 1, n - 1, &first), TALLY_OK);
            }
        } else {
            assert_int_equal(store_append(log, in, n, &first), TALLY_OK);
        }
        size = store_size(log);
    }
    free(bufs);
}

typedef struct heads {
    schema_sth h[64];
    size_t n;
} heads;

static bool collect(const schema_sth *sth, void *arg)
{
    heads *hs = arg;
    if (hs->n < 64) {
        hs->h[hs->n++] = *sth;
    }
    return true;
}

/* Records [from, to) of src as inputs, bodies copied; non-public bodies left out when omit. */
typedef struct chunk {
    store_input in[1024];
    uint8_t *bodies;
    size_t n;
} chunk;

static void chunk_read(store_log *src, uint64_t from, uint64_t to, bool omit, chunk *c)
{
    store_iter *it;
    store_record r;

    assert_true(to - from <= 1024);
    c->bodies = malloc(1024 * 512);
    c->n = 0;
    assert_int_equal(store_iter_open(src, from, &it), TALLY_OK);
    for (uint64_t s = from; s < to; s++) {
        store_input *in = &c->in[c->n];
        assert_int_equal(store_iter_next(it, &r), TALLY_OK);
        assert_int_equal(schema_header_decode(r.header.p, r.header.n, &in->header), TALLY_OK);
        in->body = NULL, in->body_len = 0;
        if (!(omit && in->header.tier != SCHEMA_PUBLIC)) {
            assert_true(r.body.p != NULL && r.body.n <= 512);
            memcpy(c->bodies + 512 * c->n, r.body.p, r.body.n);
            in->body = c->bodies + 512 * c->n;
            in->body_len = r.body.n;
        }
        c->n++;
    }
    store_iter_close(it);
}

static void chunk_free(chunk *c)
{
    free(c->bodies);
    c->bodies = NULL;
}

static store_log *replica_open(const char *dir, bool create)
{
    uint8_t pk[32], sk[64];
    char detail[STORE_DETAIL_MAX];
    store_cfg cfg = {.dir = dir,
                     .create = create,
                     .origin = ORIGIN,
                     .replica_pk = pk,
                     .map_size = 64u << 20,
                     .detail = detail};
    store_log *log;

    crypto_sign_seed_keypair(pk, sk, node_seed);
    if (store_open(&cfg, &log) != TALLY_OK) {
        fprintf(stderr, "replica_open: %s\n", detail);
        fail();
    }
    return log;
}

/* Replicates src into dst head by head, up to the head of size `upto` (0: all). */
static void replicate_upto(store_log *src, store_log *dst, uint64_t upto, bool omit)
{
    heads hs = {.n = 0};
    store_rejection rej;

    assert_int_equal(store_sth_each(src, collect, &hs), TALLY_OK);
    for (size_t i = 0; i < hs.n; i++) {
        uint64_t size = store_size(dst);
        chunk *c;
        if (hs.h[i].tree_size <= size || (upto && hs.h[i].tree_size > upto)) {
            continue;
        }
        c = malloc(sizeof(*c));
        chunk_read(src, size, hs.h[i].tree_size, omit, c);
        if (store_replicate(dst, c->in, c->n, &hs.h[i], &rej) != TALLY_OK) {
            fprintf(stderr, "replicate: %s\n", rej.what);
            fail();
        }
        chunk_free(c);
        free(c);
    }
}

/* A digest of everything a reader sees: headers, bodies (absent ones marked), latest head. */
static void digest(store_log *log, uint8_t out[32])
{
    crypto_hash_sha256_state h;
    store_iter *it;
    store_record r;
    schema_sth sth;
    uint8_t wire[SCHEMA_STH_MAX];
    size_t n = 0;

    crypto_hash_sha256_init(&h);
    assert_int_equal(store_iter_open(log, 0, &it), TALLY_OK);
    while (store_iter_next(it, &r) == TALLY_OK) {
        crypto_hash_sha256_update(&h, r.header.p, r.header.n);
        crypto_hash_sha256_update(&h, (const uint8_t *)(r.body.p ? "B" : "-"), 1);
        if (r.body.p != NULL) {
            crypto_hash_sha256_update(&h, r.body.p, r.body.n);
        }
    }
    store_iter_close(it);
    if (store_sth_latest(log, &sth) == TALLY_OK) {
        assert_int_equal(schema_sth_encode(&sth, wire, sizeof(wire), &n), TALLY_OK);
    }
    crypto_hash_sha256_update(&h, wire, n);
    crypto_hash_sha256_final(&h, out);
}

static void verify_ok(store_log *log, uint64_t absent)
{
    store_verify_report rep;
    tally_status st = store_verify(log, true, NULL, NULL, &rep);
    if (st != TALLY_OK) {
        fprintf(stderr, "verify: %s (seq %llu)\n", rep.what, (unsigned long long)rep.bad_seq);
    }
    assert_int_equal(st, TALLY_OK);
    assert_int_equal(rep.bodies_absent, absent);
}

static uint64_t nonpublic_below(uint64_t size)
{
    uint64_t k = 0;
    for (uint64_t s = 1; s < size; s++) {
        k += s % 5 == 1 || s % 5 == 2 || s % 5 == 3;
    }
    return k;
}

/* A body of src, copied. */
static size_t src_body(store_log *src, uint64_t seq, uint8_t *out)
{
    store_iter *it;
    store_record r;
    size_t n;

    assert_int_equal(store_iter_open(src, seq, &it), TALLY_OK);
    assert_int_equal(store_iter_next(it, &r), TALLY_OK);
    assert_non_null(r.body.p);
    memcpy(out, r.body.p, r.body.n);
    n = r.body.n;
    store_iter_close(it);
    return n;
}

/* The body a reader of log gets for seq: its length, or 0 if absent. */
static size_t read_body(store_log *log, uint64_t seq, uint8_t *out)
{
    store_iter *it;
    store_record r;
    size_t n = 0;

    assert_int_equal(store_iter_open(log, seq, &it), TALLY_OK);
    assert_int_equal(store_iter_next(it, &r), TALLY_OK);
    if (r.body.p != NULL) {
        memcpy(out, r.body.p, r.body.n);
        n = r.body.n;
    }
    store_iter_close(it);
    return n;
}

static void same_tree(store_log *a, store_log *b)
{
    uint64_t size = store_size(a);
    uint8_t ta[256 * 32], tb[256 * 32], ra[32], rb[32];
    uint8_t pa[STORE_PROOF_MAX][32], pb[STORE_PROOF_MAX][32];
    size_t na, nb;
    store_iter *ia, *ib;
    store_record x, y;

    assert_int_equal(store_size(b), size);
    /* tiles at levels 0 and 1, full and partial */
    for (unsigned level = 0; level < 2; level++) {
        uint64_t count = size >> (8 * level);
        for (uint64_t i = 0; i <= count / 256; i++) {
            unsigned w = i < count / 256 ? 256 : (unsigned)(count % 256);
            if (w == 0) {
                continue;
            }
            assert_int_equal(store_tile_read(a, level, i, w, ta), TALLY_OK);
            assert_int_equal(store_tile_read(b, level, i, w, tb), TALLY_OK);
            assert_memory_equal(ta, tb, 32u * w);
        }
    }
    for (uint64_t s = 1; s <= size; s += 97) {
        assert_int_equal(store_root(a, s, ra), TALLY_OK);
        assert_int_equal(store_root(b, s, rb), TALLY_OK);
        assert_memory_equal(ra, rb, 32);
        assert_int_equal(store_proof_inclusion(a, s - 1, size, pa, &na), TALLY_OK);
        assert_int_equal(store_proof_inclusion(b, s - 1, size, pb, &nb), TALLY_OK);
        assert_int_equal(na, nb);
        assert_memory_equal(pa, pb, 32 * na);
        assert_int_equal(store_proof_consistency(a, s, size, pa, &na), TALLY_OK);
        assert_int_equal(store_proof_consistency(b, s, size, pb, &nb), TALLY_OK);
        assert_int_equal(na, nb);
        assert_memory_equal(pa, pb, 32 * na);
    }
    /* every header byte for byte, every public body */
    assert_int_equal(store_iter_open(a, 0, &ia), TALLY_OK);
    assert_int_equal(store_iter_open(b, 0, &ib), TALLY_OK);
    for (uint64_t s = 0; s < size; s++) {
        schema_header h;
        assert_int_equal(store_iter_next(ia, &x), TALLY_OK);
        assert_int_equal(store_iter_next(ib, &y), TALLY_OK);
        assert_int_equal(x.header.n, y.header.n);
        assert_memory_equal(x.header.p, y.header.p, x.header.n);
        assert_int_equal(schema_header_decode(x.header.p, x.header.n, &h), TALLY_OK);
        if (h.tier == SCHEMA_PUBLIC) {
            assert_non_null(y.body.p);
            assert_int_equal(x.body.n, y.body.n);
            assert_memory_equal(x.body.p, y.body.p, x.body.n);
        }
    }
    store_iter_close(ia);
    store_iter_close(ib);
}

static void test_replicate(void **state)
{
    const char *sdir = tu_tmpdir("repl-src"), *rdir = tu_tmpdir("repl-dst");
    const char *xdir = tu_tmpdir("repl-export");
    store_log *src = tl_create(sdir, 64u << 20), *dst;
    uint8_t body[512], got[512], other[32] = {1};
    size_t n;
    schema_sth sth, want;
    uint64_t first;
    store_input in;
    store_export_stats xs;
    char detail[STORE_DETAIL_MAX];
    store_cfg cfg = {.dir = rdir, .detail = detail};
    (void)state;

    source_fill(src, TOTAL);
    assert_int_equal(store_size(src), TOTAL);
    dst = replica_open(rdir, true);
    assert_true(store_is_replica(dst));
    assert_int_equal(store_size(dst), 0);
    /* up to the first head past two full bundles, with the non-public bodies withheld */
    replicate_upto(src, dst, 600, true);
    first = store_size(dst);
    assert_true(first > 512 && first <= 600);
    verify_ok(dst, nonpublic_below(first));
    /* late bodies: one in a pack (7: ODDS_SUBMISSION), one in the tail (first - 1 or so) */
    uint64_t tail = first - 1;
    while (tail % 5 == 0 || tail % 5 == 4) {
        tail--;
    }
    assert_true(tail >= 512);
    assert_int_equal(read_body(dst, 7, got), 0);
    n = src_body(src, 7, body);
    assert_int_equal(store_body_put(dst, body, n, 7), TALLY_OK);
    assert_int_equal(store_body_put(dst, body, n, 7), TALLY_OK); /* idempotent */
    assert_int_equal(read_body(dst, 7, got), n);
    assert_memory_equal(got, body, n);
    /* a body that is not the record's, and a record that does not exist */
    assert_int_equal(store_body_put(dst, body, n, 8), TALLY_EFORMAT);
    assert_int_equal(store_body_put(dst, body, n, first), TALLY_ENOTFOUND);
    n = src_body(src, tail, body);
    assert_int_equal(store_body_put(dst, body, n, tail), TALLY_OK);
    assert_int_equal(read_body(dst, tail, got), n);
    verify_ok(dst, nonpublic_below(first) - 2);
    /* the rest: the tail record with its late body is packed with it */
    replicate_upto(src, dst, 0, true);
    assert_int_equal(store_size(dst), TOTAL);
    assert_int_equal(read_body(dst, tail, got), n);
    assert_memory_equal(got, body, n);
    /* one more late body in a pack written after the first one */
    n = src_body(src, 513, body);
    assert_int_equal(store_body_put(dst, body, n, 513), TALLY_OK);
    same_tree(src, dst);
    verify_ok(dst, nonpublic_below(TOTAL) - 3);

    /* every head of the source is the replica's, and floor finds them */
    assert_int_equal(store_sth_latest(src, &want), TALLY_OK);
    assert_int_equal(store_sth_latest(dst, &sth), TALLY_OK);
    assert_memory_equal(&sth, &want, sizeof(sth));
    assert_int_equal(store_sth_floor(dst, TOTAL + 100, &sth), TALLY_OK);
    assert_int_equal(sth.tree_size, TOTAL);
    assert_int_equal(store_sth_floor(dst, 0, &sth), TALLY_ENOTFOUND);
    assert_int_equal(store_sth_floor(dst, 1, &sth), TALLY_OK);
    assert_int_equal(sth.tree_size, 1);
    assert_int_equal(store_sth_floor(dst, 37, &sth), TALLY_OK);
    assert_int_equal(sth.tree_size, 1); /* the next head is at 38 */
    assert_int_equal(store_sth_floor(dst, 38, &sth), TALLY_OK);
    assert_int_equal(sth.tree_size, 38);
    assert_int_equal(store_sth_get(dst, 38, &want), TALLY_OK);
    assert_memory_equal(&sth, &want, sizeof(sth));

    /* a replica takes nothing else: appends, side writes */
    tl_event(src, 99999, body, sizeof(body), &in);
    assert_int_equal(store_append(dst, &in, 1, &first), TALLY_EINVAL);
    assert_int_equal(store_side_put(dst, STORE_SIDE_COSIGS, other, 1, other, 1), TALLY_EINVAL);
    /* ... but its auditor's own state, beside it */
    {
        uint8_t v[8];
        size_t vn;
        bool found;
        assert_int_equal(store_side_put(dst, STORE_SIDE_AUDIT, other, 1, other, 1), TALLY_OK);
        assert_int_equal(store_side_get(dst, STORE_SIDE_AUDIT, other, 1, v, sizeof(v), &vn, &found),
                         TALLY_OK);
        assert_true(found);
        assert_int_equal(vn, 1);
    }
    /* an n = 0 head of the current size: the same head again is fine */
    assert_int_equal(store_sth_latest(dst, &sth), TALLY_OK);
    assert_int_equal(store_replicate(dst, NULL, 0, &sth, NULL), TALLY_OK);
    {
        store_stats stats;
        assert_int_equal(store_stats_get(dst, &stats), TALLY_OK);
        assert_int_equal(stats.size, TOTAL);
        assert_int_equal(stats.packs, 3);
    }
    assert_int_equal(store_export(dst, xdir, false, NULL, NULL, &xs), TALLY_OK);
    assert_int_equal(xs.size, TOTAL);
    store_close(dst);

    /* reopen: everything persists; a read-only open without the key works */
    dst = replica_open(rdir, false);
    same_tree(src, dst);
    n = src_body(src, 7, body);
    assert_int_equal(read_body(dst, 7, got), n);
    assert_memory_equal(got, body, n);
    verify_ok(dst, nonpublic_below(TOTAL) - 3);
    store_close(dst);
    cfg.read_only = true;
    assert_int_equal(store_open(&cfg, &dst), TALLY_OK);
    assert_true(store_is_replica(dst));
    verify_ok(dst, nonpublic_below(TOTAL) - 3);
    assert_int_equal(store_body_put(dst, body, n, 7), TALLY_EINVAL);
    store_close(dst);
    /* a writer open as a node's log, or as a replica of another key, is refused */
    cfg.read_only = false;
    assert_int_equal(store_open(&cfg, &dst), TALLY_ECONFLICT);
    assert_non_null(strstr(detail, "replica"));
    cfg.replica_pk = other;
    assert_int_equal(store_open(&cfg, &dst), TALLY_EAUTH);
    /* and a node's log is not opened as a replica */
    store_close(src);
    cfg.dir = sdir;
    assert_int_equal(store_open(&cfg, &dst), TALLY_ECONFLICT);
    assert_non_null(strstr(detail, "not a replica"));
    tu_rmdir(sdir);
    tu_rmdir(rdir);
    tu_rmdir(xdir);
}

/* An STH signed with sk for arbitrary fields (the tests hold the source's seed). */
static void sign_sth(const uint8_t seed[32], const char *origin, uint64_t size,
                     const uint8_t root[32], uint64_t time_ms, schema_sth *out)
{
    uint8_t pk[32], sk[64], msg[SCHEMA_STH_MAX];
    char text[256];
    size_t n;

    crypto_sign_seed_keypair(pk, sk, seed);
    memset(out, 0, sizeof(*out));
    snprintf(out->origin, sizeof(out->origin), "%s", origin);
    out->tree_size = size;
    memcpy(out->root, root, 32);
    out->time_ms = time_ms;
    memcpy(out->key, pk, 32);
    assert_int_equal(schema_sth_message(out, msg, sizeof(msg), &n), TALLY_OK);
    crypto_sign_detached(out->sig, NULL, msg, n, sk);
    assert_int_equal(store_note_text(origin, size, root, text, sizeof(text), &n), TALLY_OK);
    crypto_sign_detached(out->note_sig, NULL, (const uint8_t *)text, n, sk);
}

static void test_refusals(void **state)
{
    const char *sdir = tu_tmpdir("refuse-src"), *rdir = tu_tmpdir("refuse-dst");
    store_log *src = tl_create(sdir, 64u << 20), *dst;
    heads hs = {.n = 0};
    uint8_t before[32], after[32], other_seed[32] = {42};
    chunk *c = malloc(sizeof(*c));
    store_rejection rej;
    schema_sth bad, cur;
    size_t k;
    (void)state;

    source_fill(src, 400);
    dst = replica_open(rdir, true);
    assert_int_equal(store_sth_each(src, collect, &hs), TALLY_OK);
    /* the first three heads (1, 38, 138) go in */
    for (k = 0; k < 3; k++) {
        chunk_read(src, store_size(dst), hs.h[k].tree_size, true, c);
        assert_int_equal(store_replicate(dst, c->in, c->n, &hs.h[k], &rej), TALLY_OK);
        chunk_free(c);
    }
    assert_int_equal(store_size(dst), 138);
    digest(dst, before);
    chunk_read(src, 138, hs.h[3].tree_size, true, c); /* the next head: 394 */

    /* a bad head signature */
    bad = hs.h[3];
    bad.sig[5] ^= 1;
    assert_int_equal(store_replicate(dst, c->in, c->n, &bad, &rej), TALLY_EAUTH);
    bad = hs.h[3];
    bad.note_sig[5] ^= 1;
    assert_int_equal(store_replicate(dst, c->in, c->n, &bad, &rej), TALLY_EAUTH);
    /* a head of another key, and of another origin (by the right key) */
    sign_sth(other_seed, ORIGIN, hs.h[3].tree_size, hs.h[3].root, hs.h[3].time_ms, &bad);
    assert_int_equal(store_replicate(dst, c->in, c->n, &bad, &rej), TALLY_EAUTH);
    sign_sth(node_seed, "other.tally/1", hs.h[3].tree_size, hs.h[3].root, hs.h[3].time_ms, &bad);
    assert_int_equal(store_replicate(dst, c->in, c->n, &bad, &rej), TALLY_EAUTH);
    /* a header altered: the root is not the head's */
    c->in[10].header.time_ms++;
    assert_int_equal(store_replicate(dst, c->in, c->n, &hs.h[3], &rej), TALLY_ECONFLICT);
    assert_non_null(strstr(rej.what, "root mismatch"));
    c->in[10].header.time_ms--;
    /* a record short, and one too many: the size is not the head's */
    assert_int_equal(store_replicate(dst, c->in, c->n - 1, &hs.h[3], &rej), TALLY_ECONFLICT);
    assert_non_null(strstr(rej.what, "size mismatch"));
    /* a public record without its body, and a body that is not its header's */
    {
        size_t pub = 0;
        while (c->in[pub].header.tier != SCHEMA_PUBLIC) {
            pub++;
        }
        const uint8_t *keep = c->in[pub].body;
        size_t keep_n = c->in[pub].body_len;
        c->in[pub].body = NULL, c->in[pub].body_len = 0;
        assert_int_equal(store_replicate(dst, c->in, c->n, &hs.h[3], &rej), TALLY_EFORMAT);
        assert_true(rej.has_index);
        assert_int_equal(rej.index, pub);
        c->in[pub].body = keep, c->in[pub].body_len = keep_n;
        c->in[pub].body = c->in[pub + 5].body; /* another EVENT's body */
        c->in[pub].body_len = c->in[pub + 5].body_len;
        assert_int_equal(store_replicate(dst, c->in, c->n, &hs.h[3], &rej), TALLY_EFORMAT);
        assert_int_equal(rej.index, pub);
        c->in[pub].body = keep, c->in[pub].body_len = keep_n;
    }
    /* an older head after a newer one: the head of 38 now, with no records */
    assert_int_equal(store_replicate(dst, NULL, 0, &hs.h[1], &rej), TALLY_ECONFLICT);
    assert_non_null(strstr(rej.what, "size mismatch"));
    /* the current size with another root, or an earlier time */
    assert_int_equal(store_sth_latest(dst, &cur), TALLY_OK);
    sign_sth(node_seed, ORIGIN, cur.tree_size, hs.h[0].root, cur.time_ms, &bad);
    assert_int_equal(store_replicate(dst, NULL, 0, &bad, &rej), TALLY_ECONFLICT);
    assert_non_null(strstr(rej.what, "root mismatch"));
    sign_sth(node_seed, ORIGIN, cur.tree_size, cur.root, cur.time_ms - 1, &bad);
    assert_int_equal(store_replicate(dst, NULL, 0, &bad, &rej), TALLY_ECONFLICT);
    assert_non_null(strstr(rej.what, "older head"));
    digest(dst, after);
    assert_memory_equal(before, after, 32);
    assert_int_equal(store_size(dst), 138);
    verify_ok(dst, nonpublic_below(138));
    /* a newer head of the same size (a later time) replaces the stored one */
    sign_sth(node_seed, ORIGIN, cur.tree_size, cur.root, cur.time_ms + 5, &bad);
    assert_int_equal(store_replicate(dst, NULL, 0, &bad, &rej), TALLY_OK);
    assert_int_equal(store_sth_latest(dst, &cur), TALLY_OK);
    assert_memory_equal(&cur, &bad, sizeof(cur));
    /* and the good batch still goes in after all that */
    sign_sth(node_seed, ORIGIN, hs.h[3].tree_size, hs.h[3].root, hs.h[3].time_ms + 5, &bad);
    assert_int_equal(store_replicate(dst, c->in, c->n, &bad, &rej), TALLY_OK);
    assert_int_equal(store_size(dst), hs.h[3].tree_size);
    chunk_free(c);
    free(c);
    store_close(dst);
    store_close(src);
    tu_rmdir(sdir);
    tu_rmdir(rdir);
}

/* ---- crash safety ---- */

static bool fail_commit(void *arg, store_fault_kind kind)
{
    (void)arg;
    return kind == STORE_FAULT_SYNC;
}

/* A replica's creation is one commit: one that fails leaves no log, and creating again works. */
static void test_create_crash(void **state)
{
    const char *dir = tu_tmpdir("repl-create");
    uint8_t pk[32] = {1};
    store_cfg cfg = {.dir = dir,
                     .create = true,
                     .origin = ORIGIN,
                     .replica_pk = pk,
                     .map_size = 16u << 20,
                     .fault = fail_commit};
    store_log *log;
    (void)state;

    assert_int_not_equal(store_open(&cfg, &log), TALLY_OK);
    cfg.create = false, cfg.fault = NULL, cfg.read_only = true;
    assert_int_equal(store_open(&cfg, &log), TALLY_ENOTFOUND);
    cfg.create = true, cfg.read_only = false;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    store_close(log);
    cfg.create = false;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_true(store_is_replica(log));
    assert_int_equal(store_size(log), 0);
    store_close(log);
    /* a node's origin rule holds for replicas too */
    tu_rmdir(dir);
    dir = tu_tmpdir("repl-create2");
    cfg.dir = dir, cfg.create = true, cfg.origin = "bad origin";
    assert_int_equal(store_open(&cfg, &log), TALLY_EINVAL);
    tu_rmdir(dir);
}

/* The child replicates from wherever the replica stands, head by head, and writes the size of
 * each acknowledged batch to fd. Nothing is open in the parent while it runs. */
static void crash_child(const char *sdir, const char *rdir, int fd)
{
    store_cfg scfg = {.dir = sdir, .read_only = true};
    store_log *src, *dst;
    heads hs = {.n = 0};
    chunk *c = malloc(sizeof(*c));

    if (store_open(&scfg, &src) != TALLY_OK || store_sth_each(src, collect, &hs) != TALLY_OK) {
        _exit(3);
    }
    dst = replica_open(rdir, false);
    for (size_t i = 0; i < hs.n; i++) {
        uint64_t size = store_size(dst);
        if (hs.h[i].tree_size <= size) {
            continue;
        }
        chunk_read(src, size, hs.h[i].tree_size, true, c);
        if (store_replicate(dst, c->in, c->n, &hs.h[i], NULL) != TALLY_OK) {
            _exit(4);
        }
        chunk_free(c);
        /* acknowledged: from here on this size must survive */
        if (write(fd, &hs.h[i].tree_size, 8) != 8) {
            _exit(5);
        }
    }
    _exit(0);
}

static void test_crash(void **state)
{
    const char *sdir = tu_tmpdir("crash-src"), *rdir = tu_tmpdir("crash-dst");
    store_log *src = tl_create(sdir, 64u << 20), *dst;
    uint64_t acked = 0, total;
    unsigned kills = 0;
    (void)state;

    source_fill(src, 1100);
    total = store_size(src);
    store_close(src);
    dst = replica_open(rdir, true);
    store_close(dst);
    srand((unsigned)time(NULL));
    for (int round = 0; round < 40 && acked < total; round++) {
        int fds[2], status;
        uint64_t v;
        pid_t pid;
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(sdir, rdir, fds[1]);
        }
        close(fds[1]);
        /* let it commit a few batches, then kill it wherever it is (the last rounds run to
         * the end, so that the replica completes) */
        if (round < 30) {
            usleep((useconds_t)(5000 + rand() % 40000));
            kill(pid, SIGKILL);
        }
        while (read(fds[0], &v, 8) == 8) {
            acked = v > acked ? v : acked;
        }
        close(fds[0]);
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) {
            kills++;
        } else {
            assert_int_equal(WEXITSTATUS(status), 0);
        }
        dst = replica_open(rdir, false);
        assert_true(store_size(dst) >= acked);
        acked = store_size(dst);
        store_close(dst);
    }
    assert_int_equal(acked, total);
    {
        store_cfg scfg = {.dir = sdir};
        assert_int_equal(store_open(&scfg, &src), TALLY_OK);
    }
    dst = replica_open(rdir, false);
    same_tree(src, dst);
    verify_ok(dst, nonpublic_below(total));
    fprintf(stderr, "crash: %u kills\n", kills);
    store_close(dst);
    store_close(src);
    tu_rmdir(sdir);
    tu_rmdir(rdir);
}

/* A replica's scan still finds damage: a public body gone from the tail is not "absent". */
static void test_damage(void **state)
{
    const char *sdir = tu_tmpdir("dmg-src"), *rdir = tu_tmpdir("dmg-dst");
    store_log *src = tl_create(sdir, 64u << 20), *dst;
    store_cfg cfg = {.dir = rdir, .read_only = true};
    store_verify_report rep;
    store_iter *it;
    store_record r;
    schema_header h;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    (void)state;

    source_fill(src, 300);
    dst = replica_open(rdir, true);
    replicate_upto(src, dst, 0, true);
    assert_int_equal(store_size(dst), 300);
    verify_ok(dst, nonpublic_below(300));
    assert_int_equal(store_iter_open(dst, 295, &it), TALLY_OK); /* 295: an EVENT, public */
    assert_int_equal(store_iter_next(it, &r), TALLY_OK);
    assert_int_equal(schema_header_decode(r.header.p, r.header.n, &h), TALLY_OK);
    store_iter_close(it);
    assert_int_equal(h.tier, SCHEMA_PUBLIC);
    store_close(dst);
    store_close(src);
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    assert_int_equal(mdb_env_open(env, rdir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "bodies", 0, &dbi), 0);
    {
        MDB_val k = {32, h.body_hash};
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(store_open(&cfg, &dst), TALLY_OK);
    assert_int_equal(store_verify(dst, false, NULL, NULL, &rep), TALLY_ECORRUPT);
    assert_true(rep.has_bad_seq);
    assert_int_equal(rep.bad_seq, 295);
    assert_non_null(strstr(rep.what, "body missing"));
    store_close(dst);
    tu_rmdir(sdir);
    tu_rmdir(rdir);
}

/* The cosignature side table of a node's log: put, get, each, delete. */
static void test_side_cosigs(void **state)
{
    const char *dir = tu_tmpdir("cosigs");
    store_log *log = tl_create(dir, 16u << 20);
    uint8_t val[64];
    size_t n;
    bool found;
    (void)state;

    assert_int_equal(store_side_put(log, STORE_SIDE_COSIGS, (const uint8_t *)"auditor", 7,
                                    (const uint8_t *)"line", 4),
                     TALLY_OK);
    assert_int_equal(store_side_get(log, STORE_SIDE_COSIGS, (const uint8_t *)"auditor", 7, val,
                                    sizeof(val), &n, &found),
                     TALLY_OK);
    assert_true(found);
    assert_memory_equal(val, "line", 4);
    /* the other tables do not see it */
    assert_int_equal(store_side_get(log, STORE_SIDE_MARKS, (const uint8_t *)"auditor", 7, val,
                                    sizeof(val), &n, &found),
                     TALLY_OK);
    assert_false(found);
    assert_int_equal(store_side_put(log, (store_side)STORE_SIDE_COUNT, val, 1, val, 1),
                     TALLY_EINVAL);
    /* an auditor's state lives beside a replica, never in a node's log */
    assert_int_equal(store_side_put(log, STORE_SIDE_AUDIT, val, 1, val, 1), TALLY_EINVAL);
    assert_int_equal(store_side_put(log, STORE_SIDE_COSIGS, (const uint8_t *)"auditor", 7, NULL, 0),
                     TALLY_OK);
    assert_int_equal(store_side_get(log, STORE_SIDE_COSIGS, (const uint8_t *)"auditor", 7, val,
                                    sizeof(val), &n, &found),
                     TALLY_OK);
    assert_false(found);
    store_close(log);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicate),    cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_create_crash), cmocka_unit_test(test_crash),
        cmocka_unit_test(test_damage),       cmocka_unit_test(test_side_cosigs),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

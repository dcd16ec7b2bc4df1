/* RFC 9162 §2.1 Merkle tree: hashing, proof generation over any hash source, proof
 * verification by the RFC's own algorithms, and the growing right edge kept as tiles. */
#include <sodium.h>
#include <string.h>

#include "store/store_int.h"

void store_leaf_hash(const uint8_t *entry, size_t n, uint8_t out[32])
{
    static const uint8_t zero = 0x00;
    schema_sha256_2(out, &zero, 1, entry, n);
}

void store_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
    uint8_t in[65];

    in[0] = 0x01;
    memcpy(in + 1, left, 32);
    memcpy(in + 33, right, 32);
    schema_sha256_2(out, in, sizeof(in), NULL, 0);
}

/* Largest power of two strictly below n (n ≥ 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;

    while (k << 1 < n) {
        k <<= 1;
    }
    return k;
}

static unsigned log2_exact(uint64_t n)
{
    unsigned k = 0;

    while ((1ull << k) < n) {
        k++;
    }
    return k;
}

tally_status store__mth(store__hash_fn fn, void *arg, uint64_t lo, uint64_t hi, uint8_t out[32])
{
    uint64_t n = hi - lo, k;
    uint8_t l[32], r[32];
    tally_status st;

    TALLY_ASSERT(hi > lo);
    /* Every range the RFC recursion visits starts at a multiple of its largest power of two, so
     * a power-of-two range is one stored subtree. */
    if ((n & (n - 1)) == 0) {
        unsigned lv = log2_exact(n);
        return fn(arg, lv, lo >> lv, out);
    }
    k = split_point(n);
    st = store__mth(fn, arg, lo, lo + k, l);
    if (st == TALLY_OK) {
        st = store__mth(fn, arg, lo + k, hi, r);
    }
    if (st == TALLY_OK) {
        store_node_hash(l, r, out);
    }
    return st;
}

/* PATH(m, D[lo:hi]) of RFC 9162 §2.1.3.1, leaf side first. */
static tally_status path_rec(store__hash_fn fn, void *arg, uint64_t m, uint64_t lo, uint64_t hi,
                             uint8_t (*path)[32], size_t *n)
{
    uint64_t k;
    tally_status st;

    if (hi - lo == 1) {
        return TALLY_OK;
    }
    k = split_point(hi - lo);
    if (m < k) {
        st = path_rec(fn, arg, m, lo, lo + k, path, n);
        if (st == TALLY_OK) {
            st = store__mth(fn, arg, lo + k, hi, path[(*n)++]);
        }
    } else {
        st = path_rec(fn, arg, m - k, lo + k, hi, path, n);
        if (st == TALLY_OK) {
            st = store__mth(fn, arg, lo, lo + k, path[(*n)++]);
        }
    }
    return st;
}

tally_status store__inclusion(store__hash_fn fn, void *arg, uint64_t index, uint64_t size,
                              uint8_t (*path)[32], size_t *n)
{
    *n = 0;
    if (index >= size) {
        return TALLY_EINVAL;
    }
    return path_rec(fn, arg, index, 0, size, path, n);
}

/* SUBPROOF(m, D[lo:hi], b) of RFC 9162 §2.1.4.1. */
static tally_status subproof(store__hash_fn fn, void *arg, uint64_t m, uint64_t lo, uint64_t hi,
                             bool b, uint8_t (*path)[32], size_t *n)
{
    uint64_t k;
    tally_status st;

    if (m == hi - lo) {
        return b ? TALLY_OK : store__mth(fn, arg, lo, hi, path[(*n)++]);
    }
    k = split_point(hi - lo);
    if (m <= k) {
        st = subproof(fn, arg, m, lo, lo + k, b, path, n);
        if (st == TALLY_OK) {
            st = store__mth(fn, arg, lo + k, hi, path[(*n)++]);
        }
    } else {
        st = subproof(fn, arg, m - k, lo + k, hi, false, path, n);
        if (st == TALLY_OK) {
            st = store__mth(fn, arg, lo, lo + k, path[(*n)++]);
        }
    }
    return st;
}

tally_status store__consistency(store__hash_fn fn, void *arg, uint64_t m, uint64_t size,
                                uint8_t (*path)[32], size_t *n)
{
    *n = 0;
    if (m < 1 || m > size) {
        return TALLY_EINVAL;
    }
    return subproof(fn, arg, m, 0, size, true, path, n);
}

bool store_verify_inclusion(const uint8_t leaf[32], uint64_t index, uint64_t size,
                            const uint8_t (*path)[32], size_t n, const uint8_t root[32])
{
    uint64_t fn = index, sn = size - 1;
    uint8_t r[32];

    if (index >= size) {
        return false;
    }
    memcpy(r, leaf, 32);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0) {
            return false;
        }
        if ((fn & 1) || fn == sn) {
            store_node_hash(path[i], r, r);
            if (!(fn & 1)) {
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1, sn >>= 1;
                }
            }
        } else {
            store_node_hash(r, path[i], r);
        }
        fn >>= 1, sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(r, root, 32) == 0;
}

bool store_verify_consistency(uint64_t old_size, uint64_t size, const uint8_t old_root[32],
                              const uint8_t root[32], const uint8_t (*path)[32], size_t n)
{
    uint64_t fn, sn;
    uint8_t fr[32], sr[32];
    size_t i = 0;

    if (old_size < 1 || old_size > size) {
        return false;
    }
    if (old_size == size) {
        return n == 0 && sodium_memcmp(old_root, root, 32) == 0;
    }
    if (n == 0) {
        return false;
    }
    /* An old tree of a power-of-two size is itself a node of the new one: the RFC prepends
     * its root to the path. */
    if ((old_size & (old_size - 1)) == 0) {
        memcpy(fr, old_root, 32);
    } else {
        memcpy(fr, path[i++], 32);
    }
    memcpy(sr, fr, 32);
    fn = old_size - 1, sn = size - 1;
    while (fn & 1) {
        fn >>= 1, sn >>= 1;
    }
    for (; i < n; i++) {
        if (sn == 0) {
            return false;
        }
        if ((fn & 1) || fn == sn) {
            store_node_hash(path[i], fr, fr);
            store_node_hash(path[i], sr, sr);
            if (!(fn & 1)) {
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1, sn >>= 1;
                }
            }
        } else {
            store_node_hash(sr, path[i], sr);
        }
        fn >>= 1, sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(fr, old_root, 32) == 0 && sodium_memcmp(sr, root, 32) == 0;
}

/* ---- the right edge ---- */

static tally_status edge_add(store__tree *t, unsigned tl, const uint8_t h[32], store__tile_fn full,
                             void *arg)
{
    TALLY_ASSERT(tl < STORE__LEVELS);
    memcpy(t->edge[tl] + 32u * t->width[tl], h, 32);
    t->width[tl]++;
    t->dirty |= (uint8_t)(1u << tl);
    if (t->width[tl] == 256) {
        /* index of the tile just filled: hashes at tree level 8·tl so far, over 256 */
        uint64_t count = (t->size >> (8 * tl));
        tally_status st = full(arg, tl, (count - 1) >> 8, t->edge[tl]);
        if (st != TALLY_OK) {
            return st;
        }
        t->width[tl] = 0;
    }
    return TALLY_OK;
}

tally_status store__tree_push(store__tree *t, const uint8_t leaf[32], store__tile_fn full,
                              void *arg)
{
    tally_status st;

    t->size++;
    st = edge_add(t, 0, leaf, full, arg);
    if (st != TALLY_OK) {
        return st;
    }
    memcpy(t->hash[t->n], leaf, 32);
    t->level[t->n++] = 0;
    while (t->n >= 2 && t->level[t->n - 1] == t->level[t->n - 2]) {
        unsigned lv = t->level[t->n - 1] + 1u;
        store_node_hash(t->hash[t->n - 2], t->hash[t->n - 1], t->hash[t->n - 2]);
        t->level[t->n - 2] = (uint8_t)lv;
        t->n--;
        if (lv % 8 == 0) {
            st = edge_add(t, lv / 8, t->hash[t->n - 1], full, arg);
            if (st != TALLY_OK) {
                return st;
            }
        }
    }
    return TALLY_OK;
}

void store__tree_root(const store__tree *t, uint8_t out[32])
{
    uint8_t r[32];

    if (t->n == 0) {
        crypto_hash_sha256(out, NULL, 0); /* RFC 9162: MTH({}) = SHA-256() */
        return;
    }
    memcpy(r, t->hash[t->n - 1], 32);
    for (unsigned i = t->n - 1; i-- > 0;) {
        store_node_hash(t->hash[i], r, r);
    }
    memcpy(out, r, 32);
}

/* ---- tiles in LMDB ---- */

void store__tile_key(unsigned level, uint64_t index, uint8_t key[9])
{
    key[0] = (uint8_t)level;
    store__be64(index, key + 1);
}

tally_status store__txn_hash(MDB_txn *txn, MDB_dbi tiles, unsigned level, uint64_t index,
                             uint8_t out[32])
{
    unsigned tl = level / 8, r = level % 8;
    uint64_t first = index << r;
    size_t start = (size_t)(first & 255), need = (size_t)1 << r;
    uint8_t key[9], buf[128 * 32];
    MDB_val k, v;
    int rc;

    store__tile_key(tl, first >> 8, key);
    k.mv_data = key, k.mv_size = 9;
    rc = mdb_get(txn, tiles, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return TALLY_ENOTFOUND;
    }
    if (rc != 0) {
        return store__status(rc);
    }
    if (v.mv_size % 32 != 0 || v.mv_size / 32 < start + need) {
        return TALLY_ENOTFOUND;
    }
    if (need == 1) {
        memcpy(out, (const uint8_t *)v.mv_data + 32 * start, 32);
        return TALLY_OK;
    }
    memcpy(buf, (const uint8_t *)v.mv_data + 32 * start, 32 * need);
    /* fold the 2^r hashes pairwise up to one subtree hash */
    for (size_t w = need; w > 1; w /= 2) {
        for (size_t i = 0; i < w / 2; i++) {
            store_node_hash(buf + 64 * i, buf + 64 * i + 32, buf + 32 * i);
        }
    }
    memcpy(out, buf, 32);
    return TALLY_OK;
}

tally_status store__txn_hash_fn(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
    store__txn_src *s = arg;
    return store__txn_hash(s->txn, s->tiles, level, index, out);
}

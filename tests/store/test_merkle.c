/* RFC 9162 tree hashing and proofs: the published Certificate Transparency vectors, then every
 * inclusion and consistency proof for every (index, size) up to 300, generated from a real log
 * and checked against a naive recursive reference written here, and mutated proofs rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/testlog.h"
#include "util/testutil.h"

/* ---- naive reference, straight from the RFC's recursive definitions ---- */

static void ref_path(uint8_t (*leaves)[32], uint64_t m, uint64_t n, uint8_t (*out)[32], size_t *len)
{
    uint64_t k;
    if (n == 1) {
        return;
    }
    k = tu_split(n);
    if (m < k) {
        ref_path(leaves, m, k, out, len);
        tu_mth(leaves + k, n - k, out[(*len)++]);
    } else {
        ref_path(leaves + k, m - k, n - k, out, len);
        tu_mth(leaves, k, out[(*len)++]);
    }
}

static void ref_sub(uint8_t (*leaves)[32], uint64_t m, uint64_t n, int b, uint8_t (*out)[32],
                    size_t *len)
{
    uint64_t k;
    if (m == n) {
        if (!b) {
            tu_mth(leaves, n, out[(*len)++]);
        }
        return;
    }
    k = tu_split(n);
    if (m <= k) {
        ref_sub(leaves, m, k, b, out, len);
        tu_mth(leaves + k, n - k, out[(*len)++]);
    } else {
        ref_sub(leaves + k, m - k, n - k, 0, out, len);
        tu_mth(leaves, k, out[(*len)++]);
    }
}

/* ---- published vectors (RFC 6962/9162 test data of certificate-transparency) ---- */

static const char *const ct_leaves[8] = {"", "00", "10", "2021", "3031", "40414243",
                                         "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
static const char *const ct_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void ct_leaf_hashes(uint8_t (*lh)[32])
{
    for (int i = 0; i < 8; i++) {
        uint8_t d[32];
        size_t n = tu_unhex(ct_leaves[i], d, sizeof(d));
        store_leaf_hash(d, n, lh[i]);
    }
}

static void test_ct_vectors(void **state)
{
    uint8_t lh[8][32], root[32], want[32], path[3][32];
    (void)state;
    ct_leaf_hashes(lh);
    for (uint64_t n = 1; n <= 8; n++) {
        tu_mth(lh, n, root);
        tu_unhex(ct_roots[n - 1], want, 32);
        assert_memory_equal(root, want, 32);
    }
    /* inclusion of leaf 0 in the tree of 8 */
    tu_unhex("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", path[0], 32);
    tu_unhex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", path[1], 32);
    tu_unhex("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4", path[2], 32);
    tu_unhex(ct_roots[7], want, 32);
    assert_true(store_verify_inclusion(lh[0], 0, 8, (const uint8_t(*)[32])path, 3, want));
    assert_false(store_verify_inclusion(lh[1], 0, 8, (const uint8_t(*)[32])path, 3, want));
    /* consistency 1 → 8 has the same path; 6 → 8 and 2 → 5 */
    tu_unhex(ct_roots[0], root, 32);
    assert_true(store_verify_consistency(1, 8, root, want, (const uint8_t(*)[32])path, 3));
    tu_unhex("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", path[0], 32);
    tu_unhex("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", path[1], 32);
    tu_unhex("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7", path[2], 32);
    tu_unhex(ct_roots[5], root, 32);
    assert_true(store_verify_consistency(6, 8, root, want, (const uint8_t(*)[32])path, 3));
    tu_unhex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", path[0], 32);
    tu_unhex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", path[1], 32);
    tu_unhex(ct_roots[1], root, 32);
    tu_unhex(ct_roots[4], want, 32);
    assert_true(store_verify_consistency(2, 5, root, want, (const uint8_t(*)[32])path, 2));
}

/* ---- every proof up to 300, from a real log ---- */

#define N 300

typedef struct fx {
    const char *dir;
    store_log *log;
    uint8_t leaves[N][32];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    store_iter *it;
    store_record r;

    f->dir = tu_tmpdir("merkle");
    f->log = tl_create(f->dir, 64u << 20);
    /* appended in uneven batches, so heads land at many sizes */
    for (uint64_t s = 1; s <= N; s += s % 7 + 1) {
        tl_fill(f->log, s, 3);
    }
    tl_fill(f->log, N, 5);
    assert_int_equal(store_iter_open(f->log, 0, &it), TALLY_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(store_iter_next(it, &r), TALLY_OK);
        memcpy(f->leaves[i], r.leaf_hash, 32);
    }
    store_iter_close(it);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->log);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

static void mutate_and_reject(bool (*check)(void *, const uint8_t (*)[32], size_t), void *ctx,
                              uint8_t (*path)[32], size_t n)
{
    uint8_t tmp[STORE_PROOF_MAX + 1][32];
    /* each flipped bit (one per hash), a dropped hash, an added hash */
    for (size_t i = 0; i < n; i++) {
        memcpy(tmp, path, n * 32);
        tmp[i][i % 32] ^= 1;
        assert_false(check(ctx, (const uint8_t(*)[32])tmp, n));
    }
    if (n > 0) {
        assert_false(check(ctx, (const uint8_t(*)[32])path, n - 1));
    }
    memcpy(tmp, path, n * 32);
    memset(tmp[n], 0x5a, 32);
    assert_false(check(ctx, (const uint8_t(*)[32])tmp, n + 1));
}

typedef struct ictx {
    const uint8_t *leaf;
    uint64_t index, size;
    const uint8_t *root;
} ictx;

static bool icheck(void *c, const uint8_t (*p)[32], size_t n)
{
    ictx *x = c;
    return store_verify_inclusion(x->leaf, x->index, x->size, p, n, x->root);
}

static void test_inclusion_all(void **state)
{
    fx *f = *state;
    uint8_t root[32], got[STORE_PROOF_MAX][32], want[STORE_PROOF_MAX][32];
    size_t n, wn;

    for (uint64_t size = 1; size <= N; size++) {
        tu_mth(f->leaves, size, root);
        assert_int_equal(store_root(f->log, size, got[0]), TALLY_OK);
        assert_memory_equal(got[0], root, 32);
        for (uint64_t i = 0; i < size; i++) {
            ictx c = {f->leaves[i], i, size, root};
            assert_int_equal(store_proof_inclusion(f->log, i, size, got, &n), TALLY_OK);
            wn = 0;
            ref_path(f->leaves, i, size, want, &wn);
            assert_int_equal(n, wn);
            assert_memory_equal(got, want, n * 32);
            assert_true(icheck(&c, (const uint8_t(*)[32])got, n));
            /* wrong index ±1 and wrong size */
            if (i + 1 < size) {
                assert_false(store_verify_inclusion(f->leaves[i], i + 1, size,
                                                    (const uint8_t(*)[32])got, n, root));
            }
            if (i > 0) {
                assert_false(store_verify_inclusion(f->leaves[i], i - 1, size,
                                                    (const uint8_t(*)[32])got, n, root));
            }
            if (size % 17 == 0 || size < 20) {
                mutate_and_reject(icheck, &c, got, n);
            }
        }
    }
    assert_int_equal(store_proof_inclusion(f->log, N, N, got, &n), TALLY_EINVAL);
    assert_int_equal(store_proof_inclusion(f->log, 0, N + 1, got, &n), TALLY_EINVAL);
}

typedef struct cctx {
    uint64_t m, n;
    const uint8_t *r1, *r2;
} cctx;

static bool ccheck(void *c, const uint8_t (*p)[32], size_t n)
{
    cctx *x = c;
    return store_verify_consistency(x->m, x->n, x->r1, x->r2, p, n);
}

static void test_consistency_all(void **state)
{
    fx *f = *state;
    uint8_t r1[32], r2[32], got[STORE_PROOF_MAX][32], want[STORE_PROOF_MAX][32];
    size_t n, wn;

    for (uint64_t size = 1; size <= N; size++) {
        tu_mth(f->leaves, size, r2);
        for (uint64_t m = 1; m <= size; m++) {
            cctx c = {m, size, r1, r2};
            tu_mth(f->leaves, m, r1);
            assert_int_equal(store_proof_consistency(f->log, m, size, got, &n), TALLY_OK);
            wn = 0;
            ref_sub(f->leaves, m, size, 1, want, &wn);
            assert_int_equal(n, wn);
            assert_memory_equal(got, want, n * 32);
            assert_true(ccheck(&c, (const uint8_t(*)[32])got, n));
            if (m < size) {
                /* the same proof does not pass for an old size off by one */
                if (m + 1 < size) {
                    assert_false(store_verify_consistency(m + 1, size, r1, r2,
                                                          (const uint8_t(*)[32])got, n));
                }
                if (size % 13 == 0 || size < 20) {
                    mutate_and_reject(ccheck, &c, got, n);
                }
            }
        }
    }
    assert_int_equal(store_proof_consistency(f->log, 0, 5, got, &n), TALLY_EINVAL);
    assert_int_equal(store_proof_consistency(f->log, 6, 5, got, &n), TALLY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_vectors),
        cmocka_unit_test_setup_teardown(test_inclusion_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consistency_all, setup, teardown),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The verify benchmark (bench/run.sh verify): what a light client pays to check one checkpoint
 * and one inclusion proof, in process, one core.
 *   note      store_note_verify of the node's own checkpoint note (the latest signed head of the
 *             log in LOGDIR, as /log/checkpoint serves it) against the node's verifier key;
 *   incl 1M   store_verify_inclusion of a random leaf of a 1,048,583-leaf tree (RFC 9162 hashing
 *             of synthetic leaves, built in memory: proofs of 20 or 21 hashes);
 *   incl log  store_verify_inclusion of a random leaf of LOGDIR's tree, proof from
 *             store_proof_inclusion, against the note's root;
 *   check     note + incl 1M (the figure of the issue), and note + incl log (one real check);
 *   baseline  one crypto_sign_verify_detached of the same note signature over the same text.
 * Each check is timed alone (a different random leaf each time, proofs made before timing); a
 * run is ITERS checks of each kind, interleaved; it prints the median µs of each run and the
 * median over runs.
 * usage: bench_verify LOGDIR [runs] [iters] */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"
#include "store/store.h"

#define BIG_LEAVES ((uint64_t)1048583) /* 2^20 + 7: a right edge that is not a power of two */
#define PROOFS 1024u
#define RUNS_MAX 99u
#define LEVELS 22u

typedef struct proof {
    uint64_t index, size;
    uint8_t leaf[32];
    uint8_t path[STORE_PROOF_MAX][32];
    size_t n;
} proof;

/* The synthetic tree: full[j][i] is the root of the complete subtree of 2^j leaves at i·2^j. */
typedef struct tree {
    uint8_t (*full[LEVELS])[32];
    uint64_t n;
} tree;

static uint64_t split(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n) {
        k <<= 1;
    }
    return k;
}

static void mth(const tree *t, uint64_t lo, uint64_t hi, uint8_t out[32])
{
    uint64_t n = hi - lo, k;
    uint8_t l[32], r[32];
    unsigned j = 0;

    if ((n & (n - 1)) == 0 && lo % n == 0) {
        while ((1ull << j) < n) {
            j++;
        }
        memcpy(out, t->full[j][lo >> j], 32);
        return;
    }
    k = split(n);
    mth(t, lo, lo + k, l);
    mth(t, lo + k, hi, r);
    store_node_hash(l, r, out);
}

/* RFC 9162 §2.1.3.1 PATH(m, D[lo:hi]), hashes appended leaf side first. */
static void path(const tree *t, uint64_t m, uint64_t lo, uint64_t hi, proof *p)
{
    uint64_t k;
    if (hi - lo == 1) {
        return;
    }
    k = split(hi - lo);
    if (m < lo + k) {
        path(t, m, lo, lo + k, p);
        mth(t, lo + k, hi, p->path[p->n++]);
    } else {
        path(t, m, lo + k, hi, p);
        mth(t, lo, lo + k, p->path[p->n++]);
    }
}

static void tree_build(tree *t, uint64_t n)
{
    t->n = n;
    for (unsigned j = 0; j < LEVELS; j++) {
        uint64_t w = n >> j;
        t->full[j] = w ? malloc(w * 32) : NULL;
        for (uint64_t i = 0; i < w; i++) {
            if (j == 0) {
                uint8_t e[8];
                for (int b = 0; b < 8; b++) {
                    e[b] = (uint8_t)(i >> (8 * b));
                }
                store_leaf_hash(e, sizeof(e), t->full[0][i]);
            } else {
                store_node_hash(t->full[j - 1][2 * i], t->full[j - 1][2 * i + 1], t->full[j][i]);
            }
        }
    }
}

static uint64_t rnd(uint64_t bound)
{
    return ((uint64_t)randombytes_random() << 32 | randombytes_random()) % bound;
}

static double one(int kind, const char *note, size_t nn, const char *vkey, const proof *big,
                  const uint8_t big_root[32], const proof *lp, const uint8_t *text, size_t tn,
                  const schema_sth *sth)
{
    uint64_t size;
    uint8_t root[32];
    bool ok = true;
    double t0 = bench_now();

    if (kind == 0 || kind == 3 || kind == 4) {
        ok = store_note_verify(note, nn, vkey, &size, root) == TALLY_OK;
    }
    if (kind == 1 || kind == 3) {
        ok = ok &&
             store_verify_inclusion(big->leaf, big->index, big->size, big->path, big->n, big_root);
    }
    if (kind == 2 || kind == 4) {
        ok =
            ok && store_verify_inclusion(lp->leaf, lp->index, lp->size, lp->path, lp->n, sth->root);
    }
    if (kind == 5) {
        ok = crypto_sign_verify_detached(sth->note_sig, text, tn, sth->key) == 0;
    }
    t0 = bench_now() - t0;
    if (!ok) {
        fprintf(stderr, "a check failed (kind %d)\n", kind);
        exit(1);
    }
    return t0;
}

int main(int argc, char **argv)
{
    static const char *const names[6] = {
        "store_note_verify (node checkpoint)",      "store_verify_inclusion, 1M-leaf tree",
        "store_verify_inclusion, the log's tree",   "CHECK: note + inclusion (1M tree)",
        "CHECK: note + inclusion (the log's tree)", "baseline: crypto_sign_verify_detached"};
    store_cfg cfg = {.read_only = true};
    store_log *log = NULL;
    schema_sth sth;
    char note[STORE_NOTE_MAX], vkey[512];
    uint8_t text[1024], big_root[32], bad[32];
    size_t nn, tn;
    proof *big, *lp;
    tree t;
    unsigned runs = 5, iters = 2000;
    static double med[6][RUNS_MAX];
    double *lat[6];

    if (argc < 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: bench_verify LOGDIR [runs] [iters]\n");
        return 2;
    }
    runs = argc > 2 ? (unsigned)atoi(argv[2]) : runs;
    iters = argc > 3 ? (unsigned)atoi(argv[3]) : iters;
    if (runs < 1 || runs > RUNS_MAX || iters < 1) {
        return 2;
    }
    cfg.dir = argv[1];
    if (store_open(&cfg, &log) != TALLY_OK || store_sth_latest(log, &sth) != TALLY_OK ||
        store_note(&sth, note, sizeof(note), &nn) != TALLY_OK ||
        store_vkey(sth.origin, sth.key, vkey, sizeof(vkey)) != TALLY_OK ||
        store_note_text(sth.origin, sth.tree_size, sth.root, (char *)text, sizeof(text), &tn) !=
            TALLY_OK) {
        fprintf(stderr, "cannot read the signed head of %s\n", argv[1]);
        return 1;
    }
    big = calloc(PROOFS, sizeof(*big));
    lp = calloc(PROOFS, sizeof(*lp));
    tree_build(&t, BIG_LEAVES);
    mth(&t, 0, BIG_LEAVES, big_root);
    for (unsigned i = 0; i < PROOFS; i++) {
        uint8_t tile[256 * 32];
        uint64_t idx = rnd(sth.tree_size), ti = idx / 256;
        unsigned w = (unsigned)(sth.tree_size - ti * 256 < 256 ? sth.tree_size - ti * 256 : 256);

        big[i].index = rnd(BIG_LEAVES), big[i].size = BIG_LEAVES;
        memcpy(big[i].leaf, t.full[0][big[i].index], 32);
        path(&t, big[i].index, 0, BIG_LEAVES, &big[i]);
        lp[i].index = idx, lp[i].size = sth.tree_size;
        if (store_tile_read(log, 0, ti, w, tile) != TALLY_OK ||
            store_proof_inclusion(log, idx, sth.tree_size, lp[i].path, &lp[i].n) != TALLY_OK) {
            fprintf(stderr, "cannot read leaf %" PRIu64 " or its proof\n", idx);
            return 1;
        }
        memcpy(lp[i].leaf, tile + (idx % 256) * 32, 32);
    }
    /* the checks must also refuse: a wrong leaf, index ± 1 */
    memcpy(bad, big[0].leaf, 32);
    bad[0] ^= 1;
    if (store_verify_inclusion(bad, big[0].index, big[0].size, big[0].path, big[0].n, big_root) ||
        store_verify_inclusion(lp[0].leaf, lp[0].index ^ 1, lp[0].size, lp[0].path, lp[0].n,
                               sth.root)) {
        fprintf(stderr, "a mutated proof verified\n");
        return 1;
    }
    bench_machine(stdout);
    printf("verify: checkpoint of %s (tree size %" PRIu64 ", %zu-byte note), inclusion proofs of "
           "%u random leaves of a %" PRIu64 "-leaf tree (%zu hashes for leaf %" PRIu64
           ") and of the log's tree (%zu hashes); %u runs of %u checks of each kind, each timed "
           "alone, interleaved\n",
           sth.origin, sth.tree_size, nn, PROOFS, BIG_LEAVES, big[0].n, big[0].index, lp[0].n, runs,
           iters);
    for (int k = 0; k < 6; k++) {
        lat[k] = malloc(iters * sizeof(double));
    }
    for (unsigned r = 0; r < runs; r++) {
        for (unsigned i = 0; i < iters; i++) {
            for (int k = 0; k < 6; k++) {
                lat[k][i] = one(k, note, nn, vkey, &big[(i * 7 + (unsigned)k) % PROOFS], big_root,
                                &lp[(i * 13 + (unsigned)k) % PROOFS], text, tn, &sth);
            }
        }
        printf("run %u:", r + 1);
        for (int k = 0; k < 6; k++) {
            med[k][r] = bench_median(lat[k], iters) * 1e6;
            printf(" %.2f", med[k][r]);
        }
        printf(" µs (median per kind, in the order of the table)\n");
    }
    printf("| what | µs per check, median of %u runs | vs one Ed25519 verify |\n|---|---|---|\n",
           runs);
    {
        double base = bench_median(med[5], runs);
        for (int k = 0; k < 6; k++) {
            double m = bench_median(med[k], runs);
            printf("| %s | %.2f | %.2f |\n", names[k], m, m / base);
        }
    }
    store_close(log);
    return 0;
}

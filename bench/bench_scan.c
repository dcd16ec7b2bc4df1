/* On a simulated log: (1) integrity scan records/s against a bare LMDB read of the same records
 * in the same run; (2) bytes stored per ODDS_SUBMISSION all-in, beside its incompressible floor;
 * (3) what zstd saves on bodies: one frame per record, a trained dictionary per record type, or
 * one frame per 256-record bundle.
 *   bench_scan SIMULATED_DIR SCRATCH_BASE [runs] */
#define ZDICT_STATIC_LINKING_ONLY
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

#include "bench_common.h"
#include "store/store.h"

typedef struct rec {
    uint8_t hdr[SCHEMA_HEADER_MAX];
    size_t hn;
    uint8_t *body;
    size_t bn;
    unsigned type;
} rec;

static rec *load(store_log *log, size_t *n_out)
{
    size_t cap = store_size(log), n = 0;
    rec *r = calloc(cap, sizeof(*r));
    store_iter *it;
    store_record sr;

    if (store_iter_open(log, 0, &it) != TALLY_OK) {
        abort();
    }
    while (store_iter_next(it, &sr) == TALLY_OK) {
        schema_header h;
        if (schema_header_decode(sr.header.p, sr.header.n, &h) != TALLY_OK) {
            abort();
        }
        memcpy(r[n].hdr, sr.header.p, sr.header.n);
        r[n].hn = sr.header.n;
        r[n].body = malloc(sr.body.n);
        memcpy(r[n].body, sr.body.p, sr.body.n);
        r[n].bn = sr.body.n;
        r[n].type = (unsigned)h.type;
        n++;
    }
    store_iter_close(it);
    *n_out = n;
    return r;
}

/* The baseline: every header and body read through the store iterator (which also hashes
 * each header into its leaf and unpacks bodies), with no check at all. */
static double bare_scan(store_log *log, size_t *count)
{
    store_iter *it;
    store_record r;
    size_t n = 0, bytes = 0;
    double t0 = bench_now();

    if (store_iter_open(log, 0, &it) != TALLY_OK) {
        abort();
    }
    while (store_iter_next(it, &r) == TALLY_OK) {
        bytes += r.body.n;
        n++;
    }
    store_iter_close(it);
    t0 = bench_now() - t0;
    *count = n + (bytes == 0);
    return (double)n / t0;
}

static void scan_bench(const char *dir, int runs)
{
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    store_verify_report rep;
    double full[50], bare[50], sigs[50];
    size_t n = 0;

    if (store_open(&cfg, &log) != TALLY_OK) {
        abort();
    }
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        if (store_verify(log, false, NULL, NULL, &rep) != TALLY_OK) {
            abort();
        }
        full[r] = (double)rep.records / (bench_now() - t0);
        bare[r] = bare_scan(log, &n);
    }
    for (int r = 0; r < (runs < 3 ? runs : 3); r++) {
        double t0 = bench_now();
        if (store_verify(log, true, NULL, NULL, &rep) != TALLY_OK) {
            abort();
        }
        sigs[r] = (double)rep.records / (bench_now() - t0);
    }
    printf("integrity scan of %llu records (one thread), median of %d runs:\n"
           "| scan | records/s | vs bare read |\n|---|---|---|\n"
           "| plain read of every header and body, no checks (baseline) | %.0f | 1.00 |\n"
           "| store_verify: rehash, bodies, tiles, heads | %.0f | %.2f |\n"
           "| store_verify --signatures (median of %d) | %.0f | %.2f |\n\n",
           (unsigned long long)store_size(log), runs, bench_median(bare, (size_t)runs),
           bench_median(full, (size_t)runs),
           bench_median(full, (size_t)runs) / bench_median(bare, (size_t)runs),
           runs < 3 ? runs : 3, bench_median(sigs, (size_t)(runs < 3 ? runs : 3)),
           bench_median(sigs, (size_t)(runs < 3 ? runs : 3)) / bench_median(bare, (size_t)runs));
    store_close(log);
}

/* A store holding only the ODDS_SUBMISSIONs of the simulated log, appended as the writer would
 * see them (1,024 a commit): all-in bytes per record from LMDB's own page count. */
static void size_bench(const char *base, rec *r, size_t n)
{
    char *dir = bench_dir(base, "odds-only");
    uint8_t seed[32] = {5};
    store_cfg cfg = {.dir = dir, .create = true, .origin = "tally.sim/57", .key_seed = seed,
                     .trust_signatures = true, .map_size = 4ull << 30,
                     .simulated_time = true}; /* the simulated log's own times */
    store_log *log;
    store_stats st;
    store_input *in = calloc(1024, sizeof(*in));
    size_t k = 0, odds = 0, hdr = 0, body = 0;
    double restz = 0;
    uint64_t first;

    if (store_open(&cfg, &log) != TALLY_OK) {
        abort();
    }
    /* GENESIS first, re-signed by this store's key */
    {
        schema_header h;
        if (schema_header_decode(r[0].hdr, r[0].hn, &h) != TALLY_OK ||
            store_node_sign(log, &h) != TALLY_OK) {
            abort();
        }
        in[0] = (store_input){h, r[0].body, r[0].bn};
        if (store_append(log, in, 1, &first) != TALLY_OK) {
            abort();
        }
    }
    for (size_t i = 0; i <= n; i++) {
        if (k == 1024 || (i == n && k > 0)) {
            if (store_append(log, in, k, &first) != TALLY_OK) {
                abort();
            }
            k = 0;
        }
        if (i < n && r[i].type == SCHEMA_ODDS_SUBMISSION) {
            if (schema_header_decode(r[i].hdr, r[i].hn, &in[k].header) != TALLY_OK) {
                abort();
            }
            in[k].body = r[i].body, in[k].body_len = r[i].bn;
            hdr += r[i].hn, body += r[i].bn;
            k++, odds++;
        }
    }
    if (store_stats_get(log, &st) != TALLY_OK) {
        abort();
    }
    /* "the rest": each record less its incompressible parts (header without actor_sig and
     * body_hash, body without its 16-byte salt at the end), zstd'd 256 records a frame */
    {
        uint8_t *cat = malloc(256 * 512), *z = malloc(ZSTD_compressBound(256 * 512));
        size_t m = 0, in_frame = 0, rest = 0;
        for (size_t i = 0; i <= n; i++) {
            if (in_frame == 256 || (i == n && in_frame > 0)) {
                rest += ZSTD_compress(z, ZSTD_compressBound(m), cat, m, 3);
                m = 0, in_frame = 0;
            }
            if (i < n && r[i].type == SCHEMA_ODDS_SUBMISSION) {
                /* the header ends with bin32 body_hash (34 bytes) and bin64 sig (66 bytes) */
                memcpy(cat + m, r[i].hdr, r[i].hn - 100);
                m += r[i].hn - 100;
                memcpy(cat + m, r[i].body, r[i].bn - 16);
                m += r[i].bn - 16;
                in_frame++;
            }
        }
        restz = (double)rest / (double)odds;
        free(cat), free(z);
    }
    printf("bytes per ODDS_SUBMISSION, all-in (LMDB pages of a store holding %zu of them):\n"
           "| part | bytes/record |\n|---|---|\n"
           "| header (entry) | %.1f |\n| body (raw) | %.1f |\n"
           "| all-in, LMDB file high-water mark / records (free pages included) | %.1f |\n"
           "| all-in, pages in use by the tables / records (headers, packed bodies, tiles, heads, "
           "B-trees) | %.1f |\n"
           "| incompressible floor F: signature 64 + body hash 32 + salt 16 + leaf hash 32 "
           "| 144 |\n"
           "| the rest R (header less signature and hash, body less salt), zstd 256 a frame "
           "| %.1f |\n"
           "| target 1.25 F + R | %.1f |\n| in use / target | %.2f |\n\n",
           odds, (double)hdr / (double)odds, (double)body / (double)odds,
           (double)st.map_used / (double)odds, (double)st.pages_in_use / (double)odds, restz,
           1.25 * 144 + restz, (double)st.pages_in_use / (double)odds / (1.25 * 144 + restz));
    store_close(log);
    free(in);
    bench_rmdir(dir);
}

/* zstd on the bodies of one type: per record, per record with a trained dictionary (trained on
 * the first half, measured on the second), one frame per 256 records in log order. */
static void zstd_bench(rec *r, size_t n, unsigned type)
{
    size_t cnt = 0, raw = 0, per = 0, dicted = 0, bundled = 0, half, test_raw = 0;
    size_t *idx = malloc(n * sizeof(*idx));
    uint8_t *out = malloc(ZSTD_compressBound(256 * 65536)), *cat = malloc(256 * 65536);
    static uint8_t dict[16384];
    size_t dn, *sizes;
    uint8_t *samples;
    ZSTD_CCtx *cx = ZSTD_createCCtx();
    ZSTD_CDict *cd;

    for (size_t i = 0; i < n; i++) {
        if (r[i].type == type) {
            idx[cnt++] = i;
        }
    }
    if (cnt < 64) {
        free(idx), free(out), free(cat);
        ZSTD_freeCCtx(cx);
        return;
    }
    for (size_t i = 0; i < cnt; i++) {
        rec *x = &r[idx[i]];
        raw += x->bn;
        per += ZSTD_compressCCtx(cx, out, ZSTD_compressBound(x->bn), x->body, x->bn, 3);
    }
    for (size_t i = 0; i < cnt; i += 256) {
        size_t m = 0;
        for (size_t j = i; j < cnt && j < i + 256; j++) {
            memcpy(cat + m, r[idx[j]].body, r[idx[j]].bn);
            m += r[idx[j]].bn;
        }
        bundled += ZSTD_compressCCtx(cx, out, ZSTD_compressBound(m), cat, m, 3);
    }
    half = cnt / 2;
    samples = malloc(raw);
    sizes = malloc(half * sizeof(*sizes));
    {
        size_t m = 0;
        for (size_t i = 0; i < half; i++) {
            memcpy(samples + m, r[idx[i]].body, r[idx[i]].bn);
            sizes[i] = r[idx[i]].bn;
            m += sizes[i];
        }
    }
    dn = ZDICT_trainFromBuffer(dict, sizeof(dict), samples, sizes, (unsigned)half);
    if (ZDICT_isError(dn)) {
        dn = 0;
    }
    cd = dn ? ZSTD_createCDict(dict, dn, 3) : NULL;
    for (size_t i = half; i < cnt; i++) {
        rec *x = &r[idx[i]];
        test_raw += x->bn;
        dicted += cd ? ZSTD_compress_usingCDict(cx, out, ZSTD_compressBound(x->bn), x->body, x->bn, cd)
                     : x->bn;
    }
    printf("| %s | %zu | %.1f | %.1f | %.1f (dict %zu B) | %.1f |\n", schema_type_name(type), cnt,
           (double)raw / (double)cnt, (double)per / (double)cnt,
           (double)dicted / (double)(cnt - half) * ((double)raw / (double)cnt) /
               ((double)test_raw / (double)(cnt - half)),
           dn, (double)bundled / (double)cnt);
    ZSTD_freeCDict(cd);
    ZSTD_freeCCtx(cx);
    free(samples), free(sizes), free(idx), free(out), free(cat);
}

int main(int argc, char **argv)
{
    store_cfg cfg = {.read_only = true};
    store_log *log;
    size_t n;
    rec *r;
    int runs = argc > 3 ? atoi(argv[3]) : 5;

    if (argc < 3 || sodium_init() < 0 || runs < 1 || runs > 50) {
        fprintf(stderr, "usage: bench_scan SIMULATED_DIR SCRATCH_BASE [runs]\n");
        return 2;
    }
    bench_machine(stdout);
    scan_bench(argv[1], runs);
    cfg.dir = argv[1];
    if (store_open(&cfg, &log) != TALLY_OK) {
        return 1;
    }
    r = load(log, &n);
    store_close(log);
    size_bench(argv[2], r, n);
    printf("zstd level 3 on bodies, bytes per record (dictionary: 16 KiB, trained on the first "
           "half of the type's bodies, measured on the second half, scaled to the mean size):\n"
           "| type | records | raw | one frame per record | per-type dictionary | one frame per "
           "256-record bundle |\n|---|---|---|---|---|---|\n");
    for (unsigned t = 1; t <= 35; t++) {
        zstd_bench(r, n, t);
    }
    for (size_t i = 0; i < n; i++) {
        free(r[i].body);
    }
    free(r);
    return 0;
}

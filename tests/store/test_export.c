/* Static export: the files are re-read here with nothing but SHA-256 and the tlog-tiles layout,
 * and must give the checkpoint's root; a second export after more appends keeps full tiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "util/samples.h"
#include "util/testlog.h"
#include "util/testutil.h"

static uint8_t *slurp(const char *dir, const char *rel, size_t *n)
{
    char path[1024];
    FILE *f;
    long len;
    uint8_t *buf;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "missing %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    buf[len] = 0;
    *n = (size_t)len;
    return buf;
}

/* Appends a private PROVIDER_QUOTE and a gated MARKET_SNAPSHOT: their bodies must not appear in
 * the public body bundles. */
static void append_hidden(store_log *log)
{
    uint8_t b1[512], b2[512], pk[32];
    store_input in[2];
    schema_body b;
    uint64_t first;
    size_t n;

    store_node_pubkey(log, pk);
    for (int i = 0; i < 2; i++) {
        uint8_t *buf = i ? b2 : b1;
        tu_sample(i ? SCHEMA_MARKET_SNAPSHOT : SCHEMA_PROVIDER_QUOTE, 1, &b);
        assert_int_equal(schema_body_encode(&b, buf, 512, &n), TALLY_OK);
        assert_int_equal(schema_header_init(&b, buf, n, pk, &in[i].header), TALLY_OK);
        assert_int_equal(store_node_sign(log, &in[i].header), TALLY_OK);
        in[i].header.time_ms = 1767225600000ull; /* the time of the tl_ records around them */
        in[i].body = buf;
        in[i].body_len = n;
    }
    assert_int_equal(store_append(log, in, 2, &first), TALLY_OK);
}

/* Reads every bundle and tile of an export of `size` records and checks it against the note. */
static void reread(const char *out, const char *vkey, uint64_t want_size)
{
    size_t n, en, bn;
    char *note = (char *)slurp(out, "checkpoint", &n);
    uint64_t size;
    uint8_t root[32], mine[32], (*leaves)[32];
    char rel[128], np[32];

    assert_non_null(note);
    assert_int_equal(store_note_verify(note, n, vkey, &size, root), TALLY_OK);
    assert_int_equal(size, want_size);
    free(note);
    leaves = malloc(size * 32);
    for (uint64_t t = 0; t * 256 < size; t++) {
        unsigned w = size - t * 256 >= 256 ? 256 : (unsigned)(size - t * 256);
        uint8_t *eb, *bb, *tile;
        size_t ep = 0, bp = 0, tn;
        store_tile_path(t, np);
        snprintf(rel, sizeof(rel), w == 256 ? "tile/entries/%s" : "tile/entries/%s.p/%u", np, w);
        eb = slurp(out, rel, &en);
        snprintf(rel, sizeof(rel), w == 256 ? "bodies/%s" : "bodies/%s.p/%u", np, w);
        bb = slurp(out, rel, &bn);
        snprintf(rel, sizeof(rel), w == 256 ? "tile/0/%s" : "tile/0/%s.p/%u", np, w);
        tile = slurp(out, rel, &tn);
        assert_non_null(eb);
        assert_non_null(bb);
        assert_non_null(tile);
        assert_int_equal(tn, 32u * w);
        for (unsigned j = 0; j < w; j++) {
            size_t len = (size_t)eb[ep] << 8 | eb[ep + 1], blen = (size_t)bb[bp] << 8 | bb[bp + 1];
            schema_header h;
            uint8_t *leaf = leaves[t * 256 + j];
            store_leaf_hash(eb + ep + 2, len, leaf);
            assert_memory_equal(tile + 32 * j, leaf, 32);
            assert_int_equal(schema_header_decode(eb + ep + 2, len, &h), TALLY_OK);
            if (h.tier == SCHEMA_PUBLIC) {
                uint8_t d[32];
                assert_true(blen > 0);
                crypto_hash_sha256(d, bb + bp + 2, blen);
                assert_memory_equal(d, h.body_hash, 32);
            } else {
                assert_int_equal(blen, 0);
            }
            ep += 2 + len;
            bp += 2 + blen;
        }
        assert_int_equal(ep, en);
        assert_int_equal(bp, bn);
        free(eb);
        free(bb);
        free(tile);
    }
    tu_mth(leaves, size, mine);
    assert_memory_equal(mine, root, 32);
    /* level-1 tile: one hash per full group of 256 leaves */
    if (size >= 256) {
        uint64_t full = size / 256;
        uint8_t *t1;
        size_t tn;
        snprintf(rel, sizeof(rel), full == 256 ? "tile/1/000" : "tile/1/000.p/%u", (unsigned)full);
        t1 = slurp(out, rel, &tn);
        assert_non_null(t1);
        for (uint64_t i = 0; i < full; i++) {
            tu_mth(leaves + 256 * i, 256, mine);
            assert_memory_equal(t1 + 32 * i, mine, 32);
        }
        free(t1);
    }
    free(leaves);
}

static void test_export_reread(void **state)
{
    const char *dir = tu_tmpdir("export"), *out = tu_tmpdir("export-out");
    store_log *log = tl_create(dir, 64u << 20);
    store_export_stats es;
    char vkey[256], path[1024];
    uint8_t pk[32];
    struct stat sb, sb2;
    (void)state;

    tl_fill(log, 400, 37);
    append_hidden(log);
    tl_fill(log, 600, 37);
    store_node_pubkey(log, pk);
    assert_int_equal(store_vkey(store_origin(log), pk, vkey, sizeof(vkey)), TALLY_OK);
    assert_int_equal(store_export(log, out, false, NULL, NULL, &es), TALLY_OK);
    assert_int_equal(es.size, 600);
    assert_int_equal(es.files_kept, 0);
    reread(out, vkey, 600);
    snprintf(path, sizeof(path), "%s/tile/0/000", out);
    assert_int_equal(stat(path, &sb), 0);

    /* more appends: the full tiles stay as they were, the partial ones grow */
    tl_fill(log, 1100, 64);
    assert_int_equal(store_export(log, out, false, NULL, NULL, &es), TALLY_OK);
    assert_int_equal(es.size, 1100);
    assert_true(es.files_kept >= 6); /* tile/0/000, 001; entries and bodies 000, 001 */
    assert_int_equal(stat(path, &sb2), 0);
    assert_int_equal(sb.st_ino, sb2.st_ino);
    assert_int_equal(sb.st_mtim.tv_nsec, sb2.st_mtim.tv_nsec);
    snprintf(path, sizeof(path), "%s/tile/0/002.p", out);
    assert_int_not_equal(stat(path, &sb2), 0); /* superseded partial removed */
    reread(out, vkey, 1100);
    store_close(log);
    tu_rmdir(dir);
    tu_rmdir(out);
}

static void test_tile_paths(void **state)
{
    char p[32];
    (void)state;
    store_tile_path(0, p);
    assert_string_equal(p, "000");
    store_tile_path(1234067, p);
    assert_string_equal(p, "x001/x234/067");
    store_tile_path(1000, p);
    assert_string_equal(p, "x001/000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_export_reread),
                                       cmocka_unit_test(test_tile_paths)};
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

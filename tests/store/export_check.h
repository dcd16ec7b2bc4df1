/* Test helpers shared by the export and fault tests: an export directory re-read with nothing
 * but SHA-256 and the tlog-tiles layout (include after cmocka.h). */
#ifndef TALLY_TESTS_EXPORT_CHECK_H
#define TALLY_TESTS_EXPORT_CHECK_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"
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

#endif

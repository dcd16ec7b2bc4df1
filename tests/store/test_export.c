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
#include "store/export_check.h"

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

/* ---- a used export directory: only a head this log extends may be in it ---- */

static char digest_a[1 << 16], digest_b[1 << 16];

/* Every path, and every file's SHA-256, under dir: equal listings mean byte for byte equal. */
static void digest(const char *dir, char *buf, size_t cap)
{
    assert_int_equal(tu_run(buf, cap, "cd '%s' && find . -print | LC_ALL=C sort && find . -type f "
                                      "-print0 | LC_ALL=C sort -z | xargs -0 sha256sum", dir),
                     0);
}

/* Appends EVENT records with ids from id0 until the log holds total records. */
static void fill_other(store_log *log, uint64_t total, uint64_t id0)
{
    uint8_t buf[256];
    store_input in;
    uint64_t first;

    while (store_size(log) < total) {
        tl_event(log, id0 + store_size(log), buf, sizeof(buf), &in);
        assert_int_equal(store_append(log, &in, 1, &first), TALLY_OK);
    }
}

static store_log *open_dir(const char *dir)
{
    store_cfg cfg = {.dir = dir};
    store_log *log;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    return log;
}

static void refused(store_log *log, const char *out, store_head_verdict want, const char *what)
{
    store_export_stats es;
    char note[1024];
    size_t n;
    store_head_report rep;
    uint8_t *p;

    digest(out, digest_a, sizeof(digest_a));
    assert_int_equal(store_export(log, out, false, NULL, NULL, &es), TALLY_ECONFLICT);
    if (strstr(store_detail(log), what) == NULL) {
        fprintf(stderr, "export said: %s (wanted '%s')\n", store_detail(log), what);
    }
    assert_non_null(strstr(store_detail(log), what));
    digest(out, digest_b, sizeof(digest_b));
    assert_string_equal(digest_a, digest_b);
    p = slurp(out, "checkpoint", &n);
    assert_non_null(p);
    memcpy(note, p, n);
    free(p);
    assert_int_equal(store_check_head(log, note, n, &rep), TALLY_ECONFLICT);
    assert_int_equal(rep.verdict, want);
}

/* Log A exported, then log B of the same key and origin and size, which differs from record 200
 * on: refused, the directory left exactly as it was; --force replaces it with B's export. */
static void test_export_fork_refused(void **state)
{
    const char *a = tu_tmpdir("fork-a"), *b = tu_tmpdir("fork-b"), *out = tu_tmpdir("fork-out");
    store_log *la = tl_create(a, 16u << 20), *lb = tl_create(b, 16u << 20);
    store_export_stats es;
    schema_sth sth;
    char vkey[256];
    uint8_t pk[32];
    (void)state;

    tl_fill(la, 300, 50);
    tl_fill(lb, 200, 50);
    fill_other(lb, 300, 900000);
    assert_int_equal(store_export(la, out, false, NULL, NULL, &es), TALLY_OK);
    refused(lb, out, STORE_HEAD_FORK, "two different trees");
    assert_int_equal(store_export(lb, out, true, NULL, NULL, &es), TALLY_OK);
    store_node_pubkey(lb, pk);
    assert_int_equal(store_vkey(store_origin(lb), pk, vkey, sizeof(vkey)), TALLY_OK);
    reread(out, vkey, 300);
    assert_int_equal(store_sth_latest(lb, &sth), TALLY_OK);
    /* and now B's later exports are incremental again */
    fill_other(lb, 320, 900000);
    assert_int_equal(store_export(lb, out, false, NULL, NULL, &es), TALLY_OK);
    assert_true(es.files_kept > 0);
    reread(out, vkey, 320);
    store_close(la);
    store_close(lb);
    tu_rmdir(a);
    tu_rmdir(b);
    tu_rmdir(out);
}

/* Another log's directory (another key, same origin) is refused as foreign. */
static void test_export_foreign_refused(void **state)
{
    const char *a = tu_tmpdir("foreign-a"), *c = tu_tmpdir("foreign-c"), *out = tu_tmpdir("fo-out");
    static const uint8_t seed[32] = {42};
    store_cfg cfg = {.dir = c, .create = true, .origin = "test.tally/1", .key_seed = seed,
                     .map_size = 16u << 20};
    store_log *la = tl_create(a, 16u << 20), *lc;
    store_export_stats es;
    (void)state;

    assert_int_equal(store_open(&cfg, &lc), TALLY_OK);
    tl_fill(la, 100, 50);
    tl_fill(lc, 100, 50);
    assert_int_equal(store_export(la, out, false, NULL, NULL, &es), TALLY_OK);
    refused(lc, out, STORE_HEAD_FOREIGN, "not signed by this log's node key");
    store_close(la);
    store_close(lc);
    tu_rmdir(a);
    tu_rmdir(c);
    tu_rmdir(out);
}

/* A log restored from a backup taken at 200 records, after 300 were exported: appended to 250 it
 * is a rewind, appended to 350 a fork; both refused with the directory untouched. The original
 * log, grown, still exports into it. */
static void test_export_restored_backup_refused(void **state)
{
    const char *a = tu_tmpdir("bk-a"), *bk = tu_tmpdir("bk-copy"), *out = tu_tmpdir("bk-out");
    store_log *la = tl_create(a, 16u << 20), *lr;
    store_export_stats es;
    char buf[64];
    (void)state;

    tl_fill(la, 200, 50);
    store_close(la);
    assert_int_equal(tu_run(buf, sizeof(buf), "cp -a '%s/.' '%s/'", a, bk), 0);
    la = open_dir(a);
    tl_fill(la, 300, 50);
    assert_int_equal(store_export(la, out, false, NULL, NULL, &es), TALLY_OK);
    lr = open_dir(bk);
    fill_other(lr, 250, 800000);
    refused(lr, out, STORE_HEAD_REWIND, "rewound");
    fill_other(lr, 350, 800000);
    refused(lr, out, STORE_HEAD_FORK, "two different trees");
    tl_fill(la, 400, 50);
    assert_int_equal(store_export(la, out, false, NULL, NULL, &es), TALLY_OK);
    assert_int_equal(es.size, 400);
    store_close(la);
    store_close(lr);
    tu_rmdir(a);
    tu_rmdir(bk);
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
                                       cmocka_unit_test(test_export_fork_refused),
                                       cmocka_unit_test(test_export_foreign_refused),
                                       cmocka_unit_test(test_export_restored_backup_refused),
                                       cmocka_unit_test(test_tile_paths)};
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Fault injection, SQLite-style: for N = 1, 2, … the N-th write, sync, allocation or LMDB call
 * of an operation fails (store_cfg.fault). After each injected failure: the error is reported,
 * nothing acknowledged is lost (same size, same signed root), the log verifies, and the next
 * append works on the same handle and after a reopen. The loop ends at the first N the operation
 * completes without reaching; the number of fault points covered is printed. */
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
#include "util/testlog.h"
#include "util/testutil.h"
#include "store/export_check.h"

typedef struct faults {
    uint64_t calls, fail_at; /* fail_at 0: never */
    bool fired;
    store_fault_kind kind;
} faults;

static bool inject(void *arg, store_fault_kind kind)
{
    faults *f = arg;

    f->calls++;
    if (f->fail_at != 0 && f->calls == f->fail_at) {
        f->fired = true;
        f->kind = kind;
        return true;
    }
    return false;
}

static void arm(faults *f, uint64_t n)
{
    f->calls = 0;
    f->fail_at = n;
    f->fired = false;
}

static uint64_t covered_total;
static uint64_t covered_kinds[4];

static store_log *open_faulty(const char *dir, faults *f)
{
    store_cfg cfg = {.dir = dir, .fault = inject, .fault_arg = f};
    store_log *log;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    return log;
}

static void verify_ok(store_log *log)
{
    store_verify_report rep;
    /* actor signatures are the same bytes as before the fault; the scan checks the rest */
    if (store_verify(log, false, NULL, NULL, &rep) != TALLY_OK) {
        fprintf(stderr, "verify after a fault: %s\n", rep.what);
        fail();
    }
}

/* A batch of n EVENT records (ids from id0) in caller-owned buffers. */
typedef struct batch {
    uint8_t (*bufs)[256];
    store_input *in;
    size_t n;
} batch;

static batch make_batch(store_log *log, size_t n, uint64_t id0)
{
    batch b = {malloc(n * 256), calloc(n, sizeof(store_input)), n};
    for (size_t i = 0; i < n; i++) {
        tl_event(log, id0 + i, b.bufs[i], 256, &b.in[i]);
    }
    return b;
}

static void free_batch(batch *b)
{
    free(b->bufs);
    free(b->in);
}

/* Copies the files of a log (data.mdb, node.key, mode kept) from one directory to another. */
static void copy_log(const char *from, const char *to)
{
    static const char *files[] = {"data.mdb", "node.key"};
    char src[1024], dst[1024];
    static uint8_t buf[1 << 16];

    for (size_t i = 0; i < 2; i++) {
        FILE *in, *outf;
        size_t n;
        snprintf(src, sizeof(src), "%s/%s", from, files[i]);
        snprintf(dst, sizeof(dst), "%s/%s", to, files[i]);
        in = fopen(src, "rb");
        outf = fopen(dst, "wb");
        assert_non_null(in);
        assert_non_null(outf);
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
            assert_int_equal(fwrite(buf, 1, n, outf), n);
        }
        fclose(in);
        fclose(outf);
        assert_int_equal(chmod(dst, 0600), 0);
    }
}

/* One append of `n` records onto a copy of a log of `base` records, failed at every fault
 * point in turn. */
static uint64_t append_loop(const char *what, uint64_t base, size_t n)
{
    const char *tmpl = tu_tmpdir("fault-tmpl");
    store_log *log = tl_create(tmpl, 32u << 20);
    uint64_t points = 0;

    tl_fill(log, base, 50);
    store_close(log);
    for (uint64_t fail_at = 1;; fail_at++) {
        const char *dir = tu_tmpdir("fault");
        faults f = {0};
        schema_sth before, after;
        batch b;
        uint64_t first;
        tally_status st;

        copy_log(tmpl, dir);
        log = open_faulty(dir, &f);
        b = make_batch(log, n, 5000000);
        assert_int_equal(store_sth_latest(log, &before), TALLY_OK);
        arm(&f, fail_at);
        st = store_append(log, b.in, b.n, &first);
        f.fail_at = 0;
        if (!f.fired) {
            /* the operation has no fault point left: done */
            assert_int_equal(st, TALLY_OK);
            assert_int_equal(first, base);
            verify_ok(log);
            free_batch(&b);
            store_close(log);
            tu_rmdir(dir);
            break;
        }
        points++;
        covered_kinds[f.kind]++;
        assert_int_not_equal(st, TALLY_OK);
        assert_int_equal(store_size(log), base);
        assert_int_equal(store_sth_latest(log, &after), TALLY_OK);
        assert_memory_equal(before.root, after.root, 32);
        assert_int_equal(after.tree_size, base);
        verify_ok(log);
        /* the same handle appends again, and that survives a reopen */
        assert_int_equal(store_append(log, b.in, b.n, &first), TALLY_OK);
        assert_int_equal(first, base);
        assert_int_equal(store_sth_latest(log, &before), TALLY_OK);
        store_close(log);
        log = open_faulty(dir, &f);
        assert_int_equal(store_sth_latest(log, &after), TALLY_OK);
        assert_int_equal(after.tree_size, base + n);
        assert_memory_equal(before.root, after.root, 32);
        free_batch(&b);
        store_close(log);
        tu_rmdir(dir);
    }
    tu_rmdir(tmpl);
    fprintf(stderr, "%s: %llu fault points\n", what, (unsigned long long)points);
    return points;
}

static void test_fault_append_one(void **state)
{
    (void)state;
    covered_total += append_loop("append of 1 record", 100, 1);
}

/* 254 + 4 crosses the 256-record bundle: the pack is written, and 256 records leave the tail,
 * in the same transaction. */
static void test_fault_pack_rollover(void **state)
{
    (void)state;
    covered_total += append_loop("append across a pack boundary", 254, 4);
}

/* 40 records in one call: each record's rows, the tiles and the head. */
static void test_fault_append_many(void **state)
{
    (void)state;
    covered_total += append_loop("append of 40 records", 100, 40);
}

/* An export over an older one (300 of now 600 records), failed at every point: the directory
 * still holds the old checkpoint and every file it needs; the next export completes. */
static void test_fault_export(void **state)
{
    const char *dir = tu_tmpdir("fault-ex"), *tmpl = tu_tmpdir("fault-ex-old");
    store_log *log = tl_create(dir, 32u << 20);
    store_export_stats es;
    faults f = {0};
    char vkey[256], buf[64];
    uint8_t pk[32];
    uint64_t points = 0;
    (void)state;

    tl_fill(log, 300, 50);
    assert_int_equal(store_export(log, tmpl, false, NULL, NULL, &es), TALLY_OK);
    tl_fill(log, 600, 50);
    store_node_pubkey(log, pk);
    assert_int_equal(store_vkey(store_origin(log), pk, vkey, sizeof(vkey)), TALLY_OK);
    store_close(log);
    {
        store_cfg cfg = {.dir = dir, .read_only = true, .fault = inject, .fault_arg = &f};
        assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    }
    for (uint64_t fail_at = 1;; fail_at++) {
        const char *out = tu_tmpdir("fault-ex-out");
        tally_status st;
        assert_int_equal(tu_run(buf, sizeof(buf), "cp -a '%s/.' '%s/'", tmpl, out), 0);
        arm(&f, fail_at);
        st = store_export(log, out, false, NULL, NULL, &es);
        f.fail_at = 0;
        if (!f.fired) {
            assert_int_equal(st, TALLY_OK);
            reread(out, vkey, 600);
            tu_rmdir(out);
            break;
        }
        points++;
        covered_kinds[f.kind]++;
        assert_int_not_equal(st, TALLY_OK);
        reread(out, vkey, 300); /* the old head, whole */
        assert_int_equal(store_export(log, out, false, NULL, NULL, &es), TALLY_OK);
        reread(out, vkey, 600);
        tu_rmdir(out);
    }
    store_close(log);
    fprintf(stderr, "export over an older export: %llu fault points\n", (unsigned long long)points);
    covered_total += points;
    tu_rmdir(dir);
    tu_rmdir(tmpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_append_one),
        cmocka_unit_test(test_fault_pack_rollover),
        cmocka_unit_test(test_fault_append_many),
        cmocka_unit_test(test_fault_export),
    };
    int rc;

    if (sodium_init() < 0) {
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    fprintf(stderr,
            "fault injection: %llu fault points covered (write %llu, sync %llu, allocation %llu, "
            "LMDB %llu)\n",
            (unsigned long long)covered_total, (unsigned long long)covered_kinds[STORE_FAULT_WRITE],
            (unsigned long long)covered_kinds[STORE_FAULT_SYNC],
            (unsigned long long)covered_kinds[STORE_FAULT_ALLOC],
            (unsigned long long)covered_kinds[STORE_FAULT_LMDB]);
    return rc;
}

/* The holes of issue 9 at the store level, each with the damage made by hand: two writers on one
 * directory, a writer whose tree edge went stale, a substituted node key, a damaged store that
 * the scan must still name by sequence number (without a key and without a source location),
 * and the node key file's checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "store/store_int.h"
#include "util/testlog.h"
#include "util/testutil.h"

static char out[1 << 16];

/* ---- raw LMDB access, to damage a store the way a bug, a disk or an attacker would ---- */

typedef struct raw {
    MDB_env *env;
    MDB_txn *txn;
} raw;

static raw raw_open(const char *dir)
{
    raw r;
    assert_int_equal(mdb_env_create(&r.env), 0);
    mdb_env_set_maxdbs(r.env, 8);
    assert_int_equal(mdb_env_open(r.env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(r.env, NULL, 0, &r.txn), 0);
    return r;
}

static MDB_dbi raw_dbi(raw *r, const char *name)
{
    MDB_dbi dbi;
    assert_int_equal(mdb_dbi_open(r->txn, name, 0, &dbi), 0);
    return dbi;
}

static void raw_close(raw *r)
{
    assert_int_equal(mdb_txn_commit(r->txn), 0);
    mdb_env_close(r->env);
}

static void be64(uint64_t v, uint8_t k[8])
{
    for (int i = 7; i >= 0; i--) {
        k[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void raw_del(raw *r, const char *db, const uint8_t *key, size_t n)
{
    MDB_val k = {n, (void *)(uintptr_t)key};
    assert_int_equal(mdb_del(r->txn, raw_dbi(r, db), &k, NULL), 0);
}

/* Copies the value under `from` to the key `to` in db. */
static void raw_copy(raw *r, const char *db, const uint8_t *from, const uint8_t *to, size_t n)
{
    MDB_dbi dbi = raw_dbi(r, db);
    MDB_val k = {n, (void *)(uintptr_t)from}, v;
    uint8_t *copy;

    assert_int_equal(mdb_get(r->txn, dbi, &k, &v), 0);
    copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    v.mv_data = copy;
    k.mv_data = (void *)(uintptr_t)to;
    assert_int_equal(mdb_put(r->txn, dbi, &k, &v, 0), 0);
    free(copy);
}

/* 600 records, a head every 50: bundles 0 and 1 packed, records 512… in the tail. */
static const char *make_log(const char *tag)
{
    const char *dir = tu_tmpdir(tag);
    store_log *log = tl_create(dir, 16u << 20);
    tl_fill(log, 600, 50);
    store_close(log);
    return dir;
}

/* `tally verify` must exit 1 naming the sequence number, and never print a source location. */
static void cli_verify_names(const char *dir, uint64_t seq)
{
    const char *bin = getenv("TALLY_BIN");
    char want[64];

    if (bin == NULL) {
        return; /* outside ctest; the C-level checks ran */
    }
    assert_int_equal(tu_run(out, sizeof(out), "%s verify --quiet --dir '%s' 2>&1", bin, dir), 1);
    snprintf(want, sizeof(want), "FAILED at seq %llu:", (unsigned long long)seq);
    if (strstr(out, want) == NULL || strstr(out, ".c:") != NULL) {
        fprintf(stderr, "tally verify said: %s(wanted '%s', no source location)\n", out, want);
    }
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, ".c:"));
}

static void scan_names(const char *dir, uint64_t seq, const char *what)
{
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_verify_report rep;
    store_log *log;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_verify(log, true, NULL, NULL, &rep), TALLY_ECORRUPT);
    if (!rep.has_bad_seq || rep.bad_seq != seq || strstr(rep.what, what) == NULL) {
        fprintf(stderr, "scan said seq %llu: %s (wanted %llu: %s)\n",
                (unsigned long long)rep.bad_seq, rep.what, (unsigned long long)seq, what);
    }
    assert_true(rep.has_bad_seq);
    assert_int_equal(rep.bad_seq, seq);
    assert_non_null(strstr(rep.what, what));
    store_close(log);
    cli_verify_names(dir, seq);
}

static bool count_head(const schema_sth *sth, void *arg)
{
    (void)sth;
    (*(uint64_t *)arg)++;
    return true;
}

static void scan_ok(const char *dir)
{
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_verify_report rep;
    store_log *log;
    uint64_t heads = 0;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_null(store_damage(log));
    if (store_verify(log, true, NULL, NULL, &rep) != TALLY_OK) {
        fprintf(stderr, "scan: %s\n", rep.what);
        fail();
    }
    /* every head ever signed is kept, and each was checked */
    assert_int_equal(store_sth_each(log, count_head, &heads), TALLY_OK);
    assert_int_equal(rep.sths, heads);
    store_close(log);
}

/* The store keeps every signed head: one per committed batch, none ever dropped. */
static void test_every_head_kept(void **state)
{
    const char *dir = make_log("heads");
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    uint64_t heads = 0;
    schema_sth sth;
    (void)state;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_sth_each(log, count_head, &heads), TALLY_OK);
    assert_int_equal(heads, 12); /* 600 records, 50 a batch */
    for (uint64_t size = 50; size <= 600; size += 50) {
        assert_int_equal(store_sth_get(log, size, &sth), TALLY_OK);
        assert_int_equal(sth.tree_size, size);
    }
    store_close(log);
    scan_ok(dir);
    tu_rmdir(dir);
}

/* ---- 1. one writer per log ---- */

typedef struct said {
    int st;
    char detail[STORE_DETAIL_MAX];
} said;

/* A writer process: opens, reports, waits for the parent's go, appends, exits. */
static void writer_child(const char *dir, int report_fd, int go_fd, uint64_t id)
{
    said s = {0, ""};
    store_cfg cfg = {.dir = dir, .detail = s.detail};
    store_log *log;
    uint8_t buf[256];
    store_input in;
    uint64_t first;
    char c;

    s.st = store_open(&cfg, &log);
    if (write(report_fd, &s, sizeof(s)) != (ssize_t)sizeof(s) || read(go_fd, &c, 1) != 1) {
        _exit(9);
    }
    if (s.st != TALLY_OK) {
        _exit(0);
    }
    tl_event(log, id, buf, sizeof(buf), &in);
    if (store_append(log, &in, 1, &first) != TALLY_OK) {
        _exit(3);
    }
    store_close(log);
    _exit(0);
}

/* Two writer processes opened at the same time, 40 times: exactly one gets the log, the other is
 * refused at once naming the first one's pid, a reader opens beside them, and the log verifies
 * with every append of the winner in it. */
static void test_two_writers(void **state)
{
    const char *dir = tu_tmpdir("writers");
    store_log *log = tl_create(dir, 16u << 20);
    int refused = 0;
    (void)state;

    tl_fill(log, 300, 50);
    store_close(log);
    for (int round = 0; round < 40; round++) {
        int rep[2], go[2], winners = 0, status;
        pid_t pid[2];
        said s[2];
        store_cfg rcfg = {.dir = dir, .read_only = true};
        store_log *reader;
        assert_int_equal(pipe(rep), 0);
        assert_int_equal(pipe(go), 0);
        for (int c = 0; c < 2; c++) {
            pid[c] = fork();
            assert_true(pid[c] >= 0);
            if (pid[c] == 0) {
                close(rep[0]);
                close(go[1]);
                writer_child(dir, rep[1], go[0], 1000000u + (uint64_t)round * 2 + (uint64_t)c);
            }
        }
        close(rep[1]);
        close(go[0]);
        /* both have opened (or been refused) and hold their handles until the go */
        for (int c = 0; c < 2; c++) {
            assert_int_equal(read(rep[0], &s[c], sizeof(s[c])), (ssize_t)sizeof(s[c]));
        }
        assert_int_equal(store_open(&rcfg, &reader), TALLY_OK);
        store_close(reader);
        for (int c = 0; c < 2; c++) {
            if (s[c].st == TALLY_OK) {
                winners++;
            } else {
                char want[64];
                assert_int_equal(s[c].st, TALLY_ECONFLICT);
                assert_non_null(strstr(s[c].detail, "is being written by pid"));
                /* the message names the winner, whichever of the two it is */
                snprintf(want, sizeof(want), "pid %d", (int)pid[0]);
                if (strstr(s[c].detail, want) == NULL) {
                    snprintf(want, sizeof(want), "pid %d", (int)pid[1]);
                }
                assert_non_null(strstr(s[c].detail, want));
                refused++;
            }
        }
        assert_int_equal(winners, 1);
        assert_int_equal(write(go[1], "gg", 2), 2);
        close(go[1]);
        close(rep[0]);
        for (int c = 0; c < 2; c++) {
            assert_int_equal(waitpid(pid[c], &status, 0), pid[c]);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
    }
    assert_int_equal(refused, 40);
    scan_ok(dir);
    {
        store_cfg cfg = {.dir = dir, .read_only = true};
        assert_int_equal(store_open(&cfg, &log), TALLY_OK);
        assert_int_equal(store_size(log), 300 + 40);
        store_close(log);
    }
    tu_rmdir(dir);
}

/* flock() belongs to the open file: a second writer handle in the same process is refused too,
 * and closing the first frees the log. */
static void test_writer_in_process(void **state)
{
    const char *dir = make_log("writer1");
    char detail[STORE_DETAIL_MAX];
    store_cfg cfg = {.dir = dir, .detail = detail};
    store_log *a, *b;
    (void)state;

    assert_int_equal(store_open(&cfg, &a), TALLY_OK);
    assert_int_equal(store_open(&cfg, &b), TALLY_ECONFLICT);
    snprintf(out, sizeof(out), "being written by pid %d", (int)getpid());
    assert_non_null(strstr(detail, out));
    store_close(a);
    assert_int_equal(store_open(&cfg, &b), TALLY_OK);
    store_close(b);
    tu_rmdir(dir);
}

/* A writer whose in-memory edge went stale (another handle wrote the log: here the lock is
 * dropped by hand, as a writer that bypassed it would) reads the edge again under its write
 * transaction: its records land after the others' and the log verifies. */
static void test_stale_edge(void **state)
{
    const char *dir = make_log("stale");
    store_cfg cfg = {.dir = dir};
    store_log *a, *b;
    uint8_t buf[256];
    store_input in;
    uint64_t first;
    (void)state;

    assert_int_equal(store_open(&cfg, &a), TALLY_OK);
    close(a->lock_fd); /* the test-only bypass: a second writer gets in */
    a->lock_fd = -1;
    assert_int_equal(store_open(&cfg, &b), TALLY_OK);
    tl_fill(a, 650, 10); /* crosses nothing, 600 → 650 */
    tl_event(b, 777777, buf, sizeof(buf), &in);
    assert_int_equal(store_append(b, &in, 1, &first), TALLY_OK);
    assert_int_equal(first, 650);
    tl_event(a, 777778, buf, sizeof(buf), &in);
    assert_int_equal(store_append(a, &in, 1, &first), TALLY_OK);
    assert_int_equal(first, 651);
    store_close(a);
    store_close(b);
    scan_ok(dir);
    tu_rmdir(dir);
}

/* ---- 2. the node key is the GENESIS actor ---- */

/* Replaces the metadata key and node.key with another key, and re-signs every head with it, as
 * someone taking over a log would. Records keep their signatures. */
static void substitute_key(const char *dir)
{
    uint8_t seed[32] = {9, 9, 9}, pk[32], sk[64], msg[SCHEMA_STH_MAX], wire[SCHEMA_STH_MAX];
    char text[256], path[1024];
    raw r = raw_open(dir);
    MDB_dbi meta = raw_dbi(&r, "meta"), sth = raw_dbi(&r, "sth");
    MDB_val k = {7, (void *)"node_pk"}, v;
    MDB_cursor *cur;
    size_t n;
    FILE *f;

    crypto_sign_seed_keypair(pk, sk, seed);
    v = (MDB_val){32, pk};
    assert_int_equal(mdb_put(r.txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_cursor_open(r.txn, sth, &cur), 0);
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT) {
        schema_sth h;
        assert_int_equal(schema_sth_decode(v.mv_data, v.mv_size, &h), TALLY_OK);
        memcpy(h.key, pk, 32);
        assert_int_equal(schema_sth_message(&h, msg, sizeof(msg), &n), TALLY_OK);
        crypto_sign_detached(h.sig, NULL, msg, n, sk);
        assert_int_equal(store_note_text(h.origin, h.tree_size, h.root, text, sizeof(text), &n),
                         TALLY_OK);
        crypto_sign_detached(h.note_sig, NULL, (const uint8_t *)text, n, sk);
        assert_int_equal(schema_sth_encode(&h, wire, sizeof(wire), &n), TALLY_OK);
        v = (MDB_val){n, wire};
        assert_int_equal(mdb_cursor_put(cur, &k, &v, MDB_CURRENT), 0);
    }
    mdb_cursor_close(cur);
    raw_close(&r);
    snprintf(path, sizeof(path), "%s/node.key", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(seed, 1, 32, f), 32);
    fclose(f);
    chmod(path, 0600);
}

static void test_key_substitution(void **state)
{
    const char *dir = make_log("subst");
    char detail[STORE_DETAIL_MAX];
    store_cfg cfg = {.dir = dir, .detail = detail};
    store_log *log;
    (void)state;

    substitute_key(dir);
    /* every head verifies against the substituted metadata key; only GENESIS tells */
    scan_names(dir, 0, "not the GENESIS actor");
    assert_int_equal(store_open(&cfg, &log), TALLY_ECORRUPT);
    assert_non_null(strstr(detail, "not the GENESIS actor"));
    cfg.read_only = true;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_non_null(store_damage(log));
    /* and replay, which an auditor runs, refuses it too: every head fails the GENESIS key */
    {
        ledger_replay_cfg rc = {0};
        ledger_replay_result res;
        assert_int_equal(ledger_replay(log, &rc, &res), TALLY_OK);
        engine_free(res.eng);
        assert_true(res.mismatch);
        assert_non_null(strstr(res.what, "does not verify against the GENESIS key"));
    }
    store_close(log);
    tu_rmdir(dir);
}

/* A writer whose key was swapped in memory (through store_int.h, as a compromised node would
 * sign) appends node records and heads under another key: the scan names the first such record,
 * although each record's own signature verifies. */
static void test_records_by_another_key(void **state)
{
    const char *dir = make_log("rogue");
    store_cfg cfg = {.dir = dir};
    uint8_t seed[32] = {5, 5, 5};
    store_log *log;
    (void)state;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    crypto_sign_seed_keypair(log->pk, log->sk, seed);
    tl_fill(log, 700, 50);
    store_close(log);
    scan_names(dir, 600, "EVENT records must be signed by the node key");
    tu_rmdir(dir);
}

/* schema_author_check and store_sth_verify, the functions writer, verify and replay share. */
static void test_author_rules(void **state)
{
    const char *dir = make_log("author");
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    schema_sth sth;
    schema_header h = {.type = SCHEMA_EVENT};
    uint8_t pk[32], other[32] = {1};
    (void)state;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    store_node_pubkey(log, pk);
    assert_int_equal(store_sth_latest(log, &sth), TALLY_OK);
    assert_int_equal(store_sth_verify(&sth, store_origin(log), pk), TALLY_OK);
    assert_int_equal(store_sth_verify(&sth, store_origin(log), other), TALLY_EAUTH);
    assert_int_equal(store_sth_verify(&sth, "other/1", pk), TALLY_EAUTH);
    sth.root[0] ^= 1;
    assert_int_equal(store_sth_verify(&sth, store_origin(log), pk), TALLY_EAUTH);
    memcpy(h.actor, pk, 32);
    assert_int_equal(schema_author_check(pk, &h), TALLY_OK);
    memcpy(h.actor, other, 32);
    assert_int_equal(schema_author_check(pk, &h), TALLY_EAUTH);
    h.type = SCHEMA_ODDS_SUBMISSION;
    assert_int_equal(schema_author_check(pk, &h), TALLY_OK);
    memcpy(h.actor, pk, 32);
    assert_int_equal(schema_author_check(pk, &h), TALLY_EAUTH);
    h.type = SCHEMA_OUTCOME; /* the tier tells the source: public is the provider's */
    h.tier = SCHEMA_PUBLIC;
    assert_int_equal(schema_author_check(pk, &h), TALLY_OK);
    h.tier = SCHEMA_EMBARGOED;
    assert_int_equal(schema_author_check(pk, &h), TALLY_EAUTH);
    h.type = SCHEMA_ATTESTATION;
    assert_int_equal(schema_author_check(pk, &h), TALLY_EAUTH);
    store_close(log);
    tu_rmdir(dir);
}

/* ---- 5. damaged stores: the scan names the first bad seq ---- */

static void test_missing_last_record(void **state)
{
    const char *dir = make_log("nolast");
    uint8_t k[8];
    raw r = raw_open(dir);
    (void)state;

    be64(599, k);
    raw_del(&r, "log", k, 8);
    raw_close(&r);
    scan_names(dir, 599, "missing");
    tu_rmdir(dir);
}

static void test_missing_latest_head(void **state)
{
    const char *dir = make_log("nohead");
    uint8_t k[8];
    raw r = raw_open(dir);
    (void)state;

    be64(600, k);
    raw_del(&r, "sth", k, 8);
    raw_close(&r);
    /* the head for 550 is now the latest; records 550… lie beyond it */
    scan_names(dir, 550, "beyond the latest head");
    tu_rmdir(dir);
}

static void test_stray_record(void **state)
{
    const char *dir = make_log("strayrec");
    uint8_t from[8], to[8];
    raw r = raw_open(dir);
    (void)state;

    be64(599, from);
    be64(600, to);
    raw_copy(&r, "log", from, to, 8);
    raw_close(&r);
    scan_names(dir, 600, "beyond the latest head");
    tu_rmdir(dir);
}

static void test_stray_pack(void **state)
{
    const char *dir = make_log("straypack");
    uint8_t from[8], to[8];
    raw r = raw_open(dir);
    (void)state;

    be64(0, from);
    be64(5, to);
    raw_copy(&r, "packs", from, to, 8);
    raw_close(&r);
    scan_names(dir, 1280, "pack 5");
    tu_rmdir(dir);
}

static void test_stray_tile(void **state)
{
    const char *dir = make_log("straytile");
    uint8_t from[9] = {0}, to[9] = {0};
    raw r = raw_open(dir);
    (void)state;

    be64(1, from + 1);
    be64(7, to + 1);
    raw_copy(&r, "tiles", from, to, 9);
    raw_close(&r);
    scan_names(dir, 1792, "hash tile 0/7");
    tu_rmdir(dir);
}

/* ---- the node key file: checked by writers only, each refusal naming the file ---- */

static void write_key(const char *dir, const uint8_t *p, size_t n, mode_t mode)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/node.key", dir);
    unlink(path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void key_refused(const char *dir, tally_status want, const char *what)
{
    char detail[STORE_DETAIL_MAX], path[1024];
    store_cfg cfg = {.dir = dir, .detail = detail};
    store_log *log;

    assert_int_equal(store_open(&cfg, &log), want);
    snprintf(path, sizeof(path), "%s/node.key", dir);
    if (strstr(detail, what) == NULL || strstr(detail, path) == NULL) {
        fprintf(stderr, "open said: %s (wanted '%s' and the path)\n", detail, what);
    }
    assert_non_null(strstr(detail, what));
    assert_non_null(strstr(detail, path));
    assert_null(strstr(detail, ".c:"));
    /* the log itself is fine, and read-only commands need no key */
    scan_ok(dir);
}

static void test_node_key_file(void **state)
{
    const char *dir = make_log("keyfile");
    uint8_t good[32] = {7, 7, 7}, wrong[33] = {1, 2, 3};
    char path[1024];
    (void)state;

    write_key(dir, wrong, 32, 0600);
    key_refused(dir, TALLY_EAUTH, "is not the key of this log");
    write_key(dir, good, 31, 0600);
    key_refused(dir, TALLY_EFORMAT, "holds 31 bytes");
    write_key(dir, wrong, 33, 0600);
    key_refused(dir, TALLY_EFORMAT, "more than 32 bytes");
    write_key(dir, good, 32, 0644);
    key_refused(dir, TALLY_EAUTH, "mode 0644");
    snprintf(path, sizeof(path), "%s/node.key", dir);
    unlink(path);
    key_refused(dir, TALLY_ENOTFOUND, "no node key");
    write_key(dir, good, 32, 0600);
    {
        store_cfg cfg = {.dir = dir};
        store_log *log;
        assert_int_equal(store_open(&cfg, &log), TALLY_OK);
        store_close(log);
    }
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_writers),         cmocka_unit_test(test_writer_in_process),
        cmocka_unit_test(test_stale_edge),          cmocka_unit_test(test_key_substitution),
        cmocka_unit_test(test_author_rules),        cmocka_unit_test(test_missing_last_record),
        cmocka_unit_test(test_missing_latest_head), cmocka_unit_test(test_stray_record),
        cmocka_unit_test(test_stray_pack),          cmocka_unit_test(test_stray_tile),
        cmocka_unit_test(test_node_key_file),       cmocka_unit_test(test_every_head_kept),
        cmocka_unit_test(test_records_by_another_key),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

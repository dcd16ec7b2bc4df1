/* Creating a log is crash-safe: a creation killed (SIGKILL) at each of its fault points, from
 * writing the key to linking it into place after the commit, can be created again or opened,
 * and gives the log an uninterrupted creation gives; and a node key that may be someone's (a
 * log's, or one with no log) is never replaced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "util/testlog.h"
#include "util/testutil.h"

static const uint8_t seed[32] = {7, 7, 7}; /* tl_create's */
#define MAP (16u << 20)
#define RECORDS 3

static void path_of(const char *dir, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    struct stat sb;
    path_of(dir, name, p, sizeof(p));
    return lstat(p, &sb) == 0;
}

static void write_key(const char *dir, const char *name, const uint8_t k[32])
{
    char p[512];
    int fd;
    path_of(dir, name, p, sizeof(p));
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, k, 32), 32);
    close(fd);
}

/* The 32 bytes of a key file and its inode, to show it was neither rewritten nor replaced. */
static void key_state(const char *dir, const char *name, uint8_t out[32], ino_t *ino)
{
    char p[512];
    struct stat sb;
    int fd;
    path_of(dir, name, p, sizeof(p));
    fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, out, 32), 32);
    assert_int_equal(fstat(fd, &sb), 0);
    *ino = sb.st_ino;
    close(fd);
}

static tally_status create(const char *dir, const uint8_t *ks, char *detail)
{
    store_cfg cfg = {.dir = dir, .create = true, .origin = "test.tally/1", .key_seed = ks,
                     .map_size = MAP, .detail = detail};
    store_log *log;
    tally_status st = store_open(&cfg, &log);
    store_close(log);
    return st;
}

/* The root of the log in dir filled to RECORDS records by a writer. */
static void fill_root(const char *dir, uint8_t root[32])
{
    store_cfg cfg = {.dir = dir};
    store_log *log;
    char detail[STORE_DETAIL_MAX];

    cfg.detail = detail;
    if (store_open(&cfg, &log) != TALLY_OK) {
        fail_msg("writer open of %s: %s", dir, detail);
    }
    tl_fill(log, RECORDS, 1);
    assert_int_equal(store_root(log, RECORDS, root), TALLY_OK);
    store_close(log);
}

typedef struct killer {
    uint64_t calls, at;
} killer;

static bool kill_at(void *arg, store_fault_kind kind)
{
    killer *k = arg;
    (void)kind;
    if (++k->calls == k->at) {
        kill(getpid(), SIGKILL);
    }
    return false;
}

/* Creates the log in a child that kills itself at fault point `at` of the creation; true if it
 * was killed, false if the creation finished first. */
static bool create_killed(const char *dir, uint64_t at)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        killer k = {0, at};
        store_cfg cfg = {.dir = dir, .create = true, .origin = "test.tally/1", .key_seed = seed,
                         .map_size = MAP, .fault = kill_at, .fault_arg = &k};
        store_log *log;
        if (store_open(&cfg, &log) != TALLY_OK) {
            _exit(3);
        }
        store_close(log);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
        assert_int_equal(WTERMSIG(status), SIGKILL);
        return true;
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return false;
}

static void test_create_killed_anywhere(void **state)
{
    const char *ref = tu_tmpdir("create-ref");
    uint8_t want[32], got[32];
    unsigned before_commit = 0, key_pending = 0, kills = 0;
    (void)state;

    assert_int_equal(create(ref, seed, NULL), TALLY_OK);
    fill_root(ref, want);
    for (uint64_t at = 1; at < 64; at++) {
        const char *dir = tu_tmpdir("create-kill");
        store_cfg ro = {.dir = dir, .read_only = true};
        store_log *log;
        char detail[STORE_DETAIL_MAX];
        bool killed = create_killed(dir, at);

        if (!killed) {
            tu_rmdir(dir);
            break;
        }
        kills++;
        if (store_open(&ro, &log) == TALLY_ENOTFOUND) {
            /* killed before the commit: no log, and no node.key to refuse a new creation */
            before_commit++;
            assert_false(exists(dir, STORE_KEY_FILE));
            if (create(dir, seed, detail) != TALLY_OK) {
                fail_msg("kill at point %llu, before the commit: creating again: %s",
                         (unsigned long long)at, detail);
            }
        } else {
            /* killed after it: the log is there (a creation is refused), its key possibly still
             * under the temporary name, which the next writer open puts in place */
            store_close(log);
            key_pending += !exists(dir, STORE_KEY_FILE);
            assert_int_equal(create(dir, seed, NULL), TALLY_ECONFLICT);
        }
        fill_root(dir, got);
        assert_memory_equal(got, want, 32);
        assert_true(exists(dir, STORE_KEY_FILE));
        assert_false(exists(dir, STORE_KEY_NEW));
        tu_rmdir(dir);
    }
    print_message("%u kills: %u before the commit, %u after it with the key not yet linked\n",
                  kills, before_commit, key_pending);
    /* the key's write and sync and the commit itself; the link after the commit */
    assert_true(before_commit >= 3);
    assert_true(key_pending >= 1);
    tu_rmdir(ref);
}

static void test_keys_never_replaced(void **state)
{
    const char *ref = tu_tmpdir("keys-ref"), *dir = tu_tmpdir("keys");
    uint8_t want[32], got[32], other[32], bytes[32], before[32];
    char detail[STORE_DETAIL_MAX], p[512];
    store_cfg wr = {.dir = dir, .detail = detail};
    store_log *log;
    MDB_env *env;
    MDB_txn *txn;
    ino_t ino, ino_before;
    (void)state;

    assert_int_equal(create(ref, seed, NULL), TALLY_OK);
    fill_root(ref, want);
    memset(other, 9, sizeof(other));

    /* What a creation by a tally that wrote node.key before its commit left when killed: the
     * key, and an LMDB environment whose first transaction never committed. Creating with that
     * seed keeps the file and gives the same log. */
    write_key(dir, STORE_KEY_FILE, seed);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    key_state(dir, STORE_KEY_FILE, before, &ino_before);
    if (create(dir, seed, detail) != TALLY_OK) {
        fail_msg("creating over the leftover key: %s", detail);
    }
    key_state(dir, STORE_KEY_FILE, bytes, &ino);
    assert_memory_equal(bytes, before, 32);
    assert_int_equal(ino, ino_before);
    fill_root(dir, got);
    assert_memory_equal(got, want, 32);

    /* The key of a log is never replaced by a creation, with its seed, another or none. */
    assert_int_equal(create(dir, seed, detail), TALLY_ECONFLICT);
    assert_non_null(strstr(detail, "already holds a tally log"));
    assert_int_equal(create(dir, other, detail), TALLY_ECONFLICT);
    assert_int_equal(create(dir, NULL, detail), TALLY_ECONFLICT);
    key_state(dir, STORE_KEY_FILE, bytes, &ino);
    assert_memory_equal(bytes, seed, 32);
    assert_int_equal(ino, ino_before);

    /* A node.key.new that is not this log's key is never linked into place. */
    path_of(dir, STORE_KEY_FILE, p, sizeof(p));
    assert_int_equal(unlink(p), 0);
    write_key(dir, STORE_KEY_NEW, other);
    assert_int_equal(store_open(&wr, &log), TALLY_ENOTFOUND);
    assert_non_null(strstr(detail, "no node key"));
    assert_false(exists(dir, STORE_KEY_FILE));
    key_state(dir, STORE_KEY_NEW, bytes, &ino);
    assert_memory_equal(bytes, other, 32);
    /* ... and its own is, by the next writer open */
    write_key(dir, STORE_KEY_NEW, seed);
    assert_int_equal(store_open(&wr, &log), TALLY_OK);
    store_close(log);
    assert_false(exists(dir, STORE_KEY_NEW));
    key_state(dir, STORE_KEY_FILE, bytes, &ino);
    assert_memory_equal(bytes, seed, 32);
    /* A second name of node.key left by a crash after the link is removed, the key kept. */
    {
        char q[512];
        path_of(dir, STORE_KEY_NEW, q, sizeof(q));
        assert_int_equal(link(p, q), 0);
    }
    assert_int_equal(store_open(&wr, &log), TALLY_OK);
    store_close(log);
    assert_false(exists(dir, STORE_KEY_NEW));
    key_state(dir, STORE_KEY_FILE, bytes, &ino);
    assert_memory_equal(bytes, seed, 32);
    tu_rmdir(dir);

    /* A key with no log that is not the seed asked for (a log's key copied here, or one whose
     * log moved away) is refused and left as it is; so is any key when no seed is given. */
    dir = tu_tmpdir("keys-foreign");
    write_key(dir, STORE_KEY_FILE, other);
    key_state(dir, STORE_KEY_FILE, before, &ino_before);
    assert_int_equal(create(dir, seed, detail), TALLY_ECONFLICT);
    assert_non_null(strstr(detail, "holds a node key but no tally log"));
    assert_int_equal(create(dir, NULL, detail), TALLY_ECONFLICT);
    key_state(dir, STORE_KEY_FILE, bytes, &ino);
    assert_memory_equal(bytes, other, 32);
    assert_int_equal(ino, ino_before);
    assert_false(exists(dir, STORE_KEY_NEW));
    /* with its own seed it is used */
    assert_int_equal(create(dir, other, detail), TALLY_OK);
    tu_rmdir(dir);
    tu_rmdir(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_killed_anywhere),
        cmocka_unit_test(test_keys_never_replaced),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

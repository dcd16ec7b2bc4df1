/* Opening and creating a data directory: LMDB environment, format marker, node key. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

tally_status store__status(int rc)
{
    switch (rc) {
    case 0:
        return TALLY_OK;
    case MDB_MAP_FULL:
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return TALLY_EFULL;
    case MDB_NOTFOUND:
    case ENOENT:
        return TALLY_ENOTFOUND;
    case MDB_KEYEXIST:
        return TALLY_ECONFLICT;
    case ENOMEM:
        return TALLY_ENOMEM;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return TALLY_ECORRUPT;
    case EACCES:
    case EROFS:
        return TALLY_EIO;
    default:
        return TALLY_EIO;
    }
}

tally_status store__corrupt(char *dst, const char *fmt, ...)
{
    va_list ap;

    if (dst != NULL) {
        va_start(ap, fmt);
        vsnprintf(dst, STORE_DETAIL_MAX, fmt, ap);
        va_end(ap);
    }
    return TALLY_ECORRUPT;
}

tally_status store__say(char *dst, tally_status st, const char *fmt, ...)
{
    va_list ap;

    if (dst != NULL) {
        va_start(ap, fmt);
        vsnprintf(dst, STORE_DETAIL_MAX, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- fault injection: each wrapper fails the way its real call can ---- */

bool store__fault(const store_log *log, store_fault_kind kind)
{
    return log->cfg.fault != NULL && log->cfg.fault(log->cfg.fault_arg, kind);
}

int store__txn_begin(const store_log *log, unsigned flags, MDB_txn **txn)
{
    *txn = NULL;
    if (store__fault(log, STORE_FAULT_LMDB)) {
        return EIO;
    }
    return mdb_txn_begin(log->env, NULL, flags, txn);
}

int store__commit(const store_log *log, MDB_txn *txn)
{
    /* LMDB writes and syncs the pages and then the meta page; a failure anywhere in that leaves
     * the previous meta page, i.e. the transaction never happened, which an abort reproduces. */
    if (store__fault(log, STORE_FAULT_SYNC)) {
        mdb_txn_abort(txn);
        return EIO;
    }
    return mdb_txn_commit(txn);
}

int store__put(const store_log *log, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v,
               unsigned flags)
{
    return store__fault(log, STORE_FAULT_LMDB) ? EIO : mdb_put(txn, dbi, k, v, flags);
}

int store__del(const store_log *log, MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
    return store__fault(log, STORE_FAULT_LMDB) ? EIO : mdb_del(txn, dbi, k, NULL);
}

int store__get(const store_log *log, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    return store__fault(log, STORE_FAULT_LMDB) ? EIO : mdb_get(txn, dbi, k, v);
}

void *store__malloc(const store_log *log, size_t n)
{
    return store__fault(log, STORE_FAULT_ALLOC) ? NULL : malloc(n);
}

void *store__realloc(const store_log *log, void *p, size_t n)
{
    return store__fault(log, STORE_FAULT_ALLOC) ? NULL : realloc(p, n);
}

void store__be64(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t store__rd_be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static tally_status dir_path(const char *dir, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap ? TALLY_OK : TALLY_EINVAL;
}

/* fsync() of the data directory, so that a name made or removed in it survives a crash. */
static tally_status dir_sync(const store_log *log)
{
    int fd = open(log->cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    tally_status st = TALLY_OK;

    if (fd < 0) {
        return TALLY_EIO;
    }
    if (store__fault(log, STORE_FAULT_SYNC) || fsync(fd) != 0) {
        st = TALLY_EIO;
    }
    close(fd);
    return st;
}

/* Reads a key file into seed (33 bytes of sodium memory): a regular file (not a link), readable
 * by its owner alone (0600; 0400 too), exactly 32 bytes. Each refusal names the file; a missing
 * one is TALLY_ENOTFOUND with no sentence, for the caller to say what is missing. */
static tally_status seed_read(const char *path, const char *what, uint8_t *seed, char *dst)
{
    struct stat sb;
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) {
            return TALLY_ENOTFOUND;
        }
        return store__say(dst, store__status(err), "cannot open %s %s: %s", what, path,
                          strerror(err));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return store__say(dst, TALLY_EFORMAT, "%s %s is not a regular file", what, path);
    }
    /* A seed others can read is a key others may hold: refuse rather than sign with it. */
    if ((sb.st_mode & 077) != 0) {
        close(fd);
        return store__say(dst, TALLY_EAUTH,
                          "%s %s has mode %04o; it must be mode 0600 (readable by its "
                          "owner only)",
                          what, path, (unsigned)(sb.st_mode & 07777));
    }
    r = read(fd, seed, 33); /* one byte more than a key, to tell a long file from a good one */
    close(fd);
    if (r != 32) {
        return r < 0 ? store__say(dst, TALLY_EIO, "cannot read %s %s", what, path)
                     : store__say(dst, TALLY_EFORMAT,
                                  "%s %s holds %s%zd bytes; a key file is exactly 32 "
                                  "(an Ed25519 seed)",
                                  what, path, r > 32 ? "more than " : "", r > 32 ? (ssize_t)32 : r);
    }
    return TALLY_OK;
}

/* True when the key file at path holds exactly this seed (and is a key file store_open would
 * load). */
static bool seed_is(const char *path, const uint8_t want[32])
{
    uint8_t *have = sodium_malloc(33);
    bool same = have != NULL && seed_read(path, "the node key", have, NULL) == TALLY_OK &&
                sodium_memcmp(have, want, 32) == 0;

    sodium_free(have);
    return same;
}

/* Writes a creation's seed to DIR/node.key.new, mode 0600, synced. The caller has checked, in
 * the write transaction and under the writer lock, that DIR holds no log, so a node.key.new
 * already there is what a creation killed before its commit left: its key never signed
 * anything (only a writer handle signs, and none opens without a committed log), so it is
 * replaced. It is unlinked, never truncated: a crash just after the link into place leaves it
 * a second name of node.key's file. */
static tally_status key_write_new(const store_log *log, const uint8_t seed[32], char *dst)
{
    char path[4096];
    int fd;

    if (dir_path(log->cfg.dir, STORE_KEY_NEW, path, sizeof(path)) != TALLY_OK) {
        return store__say(dst, TALLY_EINVAL, "the data directory path is too long");
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        int err = errno;
        return store__say(dst, store__status(err), "cannot remove %s: %s", path, strerror(err));
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int err = errno;
        return store__say(dst, store__status(err), "cannot create %s: %s", path, strerror(err));
    }
    if (store__fault(log, STORE_FAULT_WRITE) || write(fd, seed, 32) != 32 ||
        store__fault(log, STORE_FAULT_SYNC) || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return store__say(dst, TALLY_EIO, "cannot write the node key %s", path);
    }
    return close(fd) == 0 ? TALLY_OK : store__say(dst, TALLY_EIO, "cannot write %s", path);
}

/* Puts a creation's key in place once its log is committed: DIR/node.key.new becomes
 * DIR/node.key by link() (which never replaces an existing node.key), the directory is synced,
 * and the temporary name removed. Run by every writer open, so that a creation killed between
 * its commit and the link is finished by the next one; the file is linked only if its public key
 * is this log's (the metadata key). Anything else is left as it is for key_load to judge. */
static tally_status key_settle(const store_log *log, char *dst)
{
    char path[4096], tmp[4096];
    struct stat sk, sn;
    uint8_t *seed, pk[32], sk64[64];
    bool ours;

    if (dir_path(log->cfg.dir, STORE_KEY_FILE, path, sizeof(path)) != TALLY_OK ||
        dir_path(log->cfg.dir, STORE_KEY_NEW, tmp, sizeof(tmp)) != TALLY_OK) {
        return store__say(dst, TALLY_EINVAL, "the data directory path is too long");
    }
    if (lstat(tmp, &sn) != 0) {
        return TALLY_OK; /* nothing pending */
    }
    if (lstat(path, &sk) == 0) {
        /* linked before a crash that kept the temporary name: the same file under two names */
        if (sk.st_dev == sn.st_dev && sk.st_ino == sn.st_ino && unlink(tmp) == 0) {
            return dir_sync(log) == TALLY_OK
                       ? TALLY_OK
                       : store__say(dst, TALLY_EIO, "cannot sync the directory %s", log->cfg.dir);
        }
        return TALLY_OK;
    }
    seed = sodium_malloc(33);
    if (seed == NULL) {
        return TALLY_ENOMEM;
    }
    ours = seed_read(tmp, "the node key", seed, NULL) == TALLY_OK;
    if (ours) {
        crypto_sign_seed_keypair(pk, sk64, seed);
        sodium_memzero(sk64, sizeof(sk64));
        ours = memcmp(pk, log->pk, 32) == 0;
    }
    sodium_free(seed);
    if (!ours) {
        return TALLY_OK;
    }
    if (store__fault(log, STORE_FAULT_WRITE) || link(tmp, path) != 0) {
        int err = errno;
        if (err == EEXIST) {
            return TALLY_OK; /* a node.key appeared meanwhile: never replaced, key_load judges */
        }
        return store__say(dst, TALLY_EIO,
                          "the log in %s is created, but its key could not be linked from %s to "
                          "%s (%s); opening it again as a writer retries",
                          log->cfg.dir, tmp, path, strerror(err));
    }
    if (dir_sync(log) != TALLY_OK) {
        return store__say(dst, TALLY_EIO, "cannot sync the directory %s", log->cfg.dir);
    }
    unlink(tmp); /* a leftover second name of the key is removed by the next writer open */
    return TALLY_OK;
}

/* Loads the node key into sodium_malloc memory (writers only). The file must belong to this log
 * (its public key is the GENESIS actor's, checked equal to the metadata key before), be exactly
 * 32 bytes and be readable by its owner alone; each refusal names the file. */
static tally_status key_load(store_log *log, char *dst)
{
    char path[4096];
    uint8_t *seed;
    uint8_t pk[32];
    tally_status st;

    if (log->cfg.key_file != NULL && log->cfg.key_file[0] != '\0') {
        if ((size_t)snprintf(path, sizeof(path), "%s", log->cfg.key_file) >= sizeof(path)) {
            return store__say(dst, TALLY_EINVAL, "the node key path is too long");
        }
    } else if (dir_path(log->cfg.dir, STORE_KEY_FILE, path, sizeof(path)) != TALLY_OK) {
        return store__say(dst, TALLY_EINVAL, "the data directory path is too long");
    }
    seed = sodium_malloc(33);
    log->sk = sodium_malloc(64);
    if (seed == NULL || log->sk == NULL) {
        sodium_free(seed);
        return TALLY_ENOMEM;
    }
    st = seed_read(path, "the node key", seed, dst);
    if (st == TALLY_ENOTFOUND) {
        st = store__say(dst, TALLY_ENOTFOUND,
                        "no node key %s: the log is there, but writing it needs its key "
                        "(read-only commands such as 'tally verify' work without it)",
                        path);
    }
    if (st != TALLY_OK) {
        sodium_free(seed);
        return st;
    }
    crypto_sign_seed_keypair(pk, log->sk, seed);
    sodium_free(seed);
    if (memcmp(pk, log->pk, 32) != 0) {
        return store__say(dst, TALLY_EAUTH,
                          "the node key %s is not the key of this log (its public key is not "
                          "the GENESIS actor)",
                          path);
    }
    return TALLY_OK;
}

/* The one writer: an exclusive flock() on DIR/writer.lock, held for the life of the handle.
 * flock() (unlike fcntl locks) belongs to the open file, so two handles in one process exclude
 * each other too, and the kernel drops it when the process dies, so a crash leaves no stale lock.
 * The holder writes its pid into the file for the refusal message. */
static tally_status lock_take(store_log *log, char *dst)
{
    char path[4096], pid[32] = {0};
    int fd, n = snprintf(path, sizeof(path), "%s/%s", log->cfg.dir, STORE_LOCK_FILE);

    if (n <= 0 || (size_t)n >= sizeof(path)) {
        return store__say(dst, TALLY_EINVAL, "the data directory path is too long");
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int err = errno;
        return store__say(dst, store__status(err), "cannot open the writer lock %s: %s", path,
                          strerror(err));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        ssize_t r = -1;
        /* The holder writes its pid just after taking the lock (and empties the file when it
         * closes): give a holder that is starting up a few milliseconds to write it. */
        for (int tries = 0; err == EWOULDBLOCK && tries < 50; tries++) {
            r = pread(fd, pid, sizeof(pid) - 1, 0);
            if (r > 0) {
                break;
            }
            usleep(1000);
        }
        close(fd);
        if (err != EWOULDBLOCK) {
            return store__say(dst, TALLY_EIO, "cannot lock %s: %s", path, strerror(err));
        }
        pid[r > 0 ? strcspn(pid, "\n") : 0] = '\0';
        return store__say(dst, TALLY_ECONFLICT, "the log in %s is being written by pid %s",
                          log->cfg.dir, pid[0] ? pid : "(another process, starting)");
    }
    n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        close(fd);
        return store__say(dst, TALLY_EIO, "cannot write the writer lock %s", path);
    }
    log->lock_fd = fd;
    return TALLY_OK;
}

static tally_status meta_put(MDB_txn *txn, MDB_dbi dbi, const char *k, const void *v, size_t n)
{
    MDB_val key = {strlen(k), (void *)(uintptr_t)k}, val = {n, (void *)(uintptr_t)v};
    return store__status(mdb_put(txn, dbi, &key, &val, 0));
}

static tally_status meta_get(MDB_txn *txn, MDB_dbi dbi, const char *k, MDB_val *v)
{
    MDB_val key = {strlen(k), (void *)(uintptr_t)k};
    return store__status(mdb_get(txn, dbi, &key, v));
}

static tally_status open_dbs(store_log *log, MDB_txn *txn, unsigned flags)
{
    int rc = mdb_dbi_open(txn, "meta", flags, &log->meta);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "log", flags, &log->log);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "bodies", flags, &log->bodies);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "tiles", flags, &log->tiles);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "sth", flags, &log->sth);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "packs", flags, &log->packs);
    }
    /* tables newer than format 2: a writer creates them, a reader of an older log goes without */
    static const char *const extra[1 + STORE_SIDE_COUNT] = {"nonces", "bans", "marks", "cosigs",
                                                                 "audit"};
    for (unsigned i = 0; rc == 0 && i < 1 + STORE_SIDE_COUNT; i++) {
        MDB_dbi *dbi = i == 0 ? &log->nonces : &log->side[i - 1];
        bool *has = i == 0 ? &log->has_nonces : &log->has_side[i - 1];
        rc = mdb_dbi_open(txn, extra[i], flags, dbi);
        *has = rc == 0;
        if (rc == MDB_NOTFOUND && !(flags & MDB_CREATE)) {
            rc = 0;
        }
    }
    return store__status(rc);
}

/* Writes format, origin and node key of a new log; the key seed is drawn unless given. The seed
 * goes to DIR/node.key.new, for key_settle to link into place after the commit. A node.key that
 * is already there with no log is never replaced: a creation asking for exactly its seed keeps
 * and uses it (what a creation by a tally that wrote node.key before its commit leaves when it is
 * killed, or the operator's own copy of the seed), any other is refused, as it may be a key
 * someone needs (a log's key copied here, or one whose log was moved away). */
static tally_status create_log(store_log *log, MDB_txn *txn, char *dst)
{
    uint8_t fmt[12], seed[32], sk[64];
    char path[4096];
    const char *o = log->cfg.origin;
    size_t on = o ? strlen(o) : 0;
    struct stat sb;
    MDB_val v;
    tally_status st;

    if (on < 1 || on > SCHEMA_ORIGIN_MAX) {
        return store__say(dst, TALLY_EINVAL,
                          "the origin must be 1-128 printable ascii bytes without '+'");
    }
    for (size_t i = 0; i < on; i++) {
        if (o[i] < 0x21 || o[i] > 0x7e || o[i] == '+') {
            return store__say(dst, TALLY_EINVAL,
                              "the origin must be 1-128 printable ascii bytes without '+'");
        }
    }
    if (meta_get(txn, log->meta, "format", &v) == TALLY_OK) {
        return store__say(dst, TALLY_ECONFLICT, "%s already holds a tally log", log->cfg.dir);
    }
    memcpy(fmt, STORE__MAGIC, 8);
    fmt[8] = 0, fmt[9] = 0, fmt[10] = 0, fmt[11] = STORE__VERSION;
    if (log->cfg.replica_pk != NULL) {
        /* A replica holds no secret key: the whole creation is this one transaction's commit,
         * so a creation killed before it leaves nothing, and one killed after it a replica. */
        static const uint8_t mark = 1;
        memcpy(log->pk, log->cfg.replica_pk, 32);
        st = meta_put(txn, log->meta, "format", fmt, 12);
        if (st == TALLY_OK) {
            st = meta_put(txn, log->meta, "origin", o, on);
        }
        if (st == TALLY_OK) {
            st = meta_put(txn, log->meta, "node_pk", log->pk, 32);
        }
        if (st == TALLY_OK) {
            st = meta_put(txn, log->meta, "replica", &mark, 1);
        }
        return st;
    }
    if (dir_path(log->cfg.dir, STORE_KEY_FILE, path, sizeof(path)) != TALLY_OK) {
        return store__say(dst, TALLY_EINVAL, "the data directory path is too long");
    }
    if (log->cfg.key_seed != NULL) {
        memcpy(seed, log->cfg.key_seed, 32);
    } else {
        randombytes_buf(seed, 32);
    }
    if (lstat(path, &sb) == 0) {
        st = log->cfg.key_seed != NULL && seed_is(path, seed)
                 ? TALLY_OK
                 : store__say(dst, TALLY_ECONFLICT,
                              "%s holds a node key but no tally log; it is left as it is (it may "
                              "be a key someone needs): move it away to create a new log here, "
                              "or create with its seed",
                              path);
    } else {
        st = errno == ENOENT ? key_write_new(log, seed, dst)
                             : store__say(dst, TALLY_EIO, "cannot look at %s", path);
    }
    crypto_sign_seed_keypair(log->pk, sk, seed);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(seed, sizeof(seed));
    if (st == TALLY_OK) {
        st = meta_put(txn, log->meta, "format", fmt, 12);
    }
    if (st == TALLY_OK) {
        st = meta_put(txn, log->meta, "origin", o, on);
    }
    if (st == TALLY_OK) {
        st = meta_put(txn, log->meta, "node_pk", log->pk, 32);
    }
    return st;
}

/* A writer opens a replica only as a replica of its pinned key, and a node's log only as a
 * node's: a node writing a replica would sign heads over records it never judged, and a replica
 * writer on a node's log would take records without them. A reader may open either; given a
 * key, it must be the log's. */
static tally_status check_role(const store_log *log, char *dst)
{
    const uint8_t *want = log->cfg.replica_pk;

    if (want != NULL && !log->replica && !log->cfg.read_only) {
        return store__say(dst, TALLY_ECONFLICT,
                          "the log in %s is a node's own log, not a replica: open it without a "
                          "pinned key", log->cfg.dir);
    }
    if (want == NULL && log->replica && !log->cfg.read_only) {
        return store__say(dst, TALLY_ECONFLICT,
                          "the log in %s is a replica of another node's log: only its auditor "
                          "writes it (read-only commands such as 'tally verify' work)",
                          log->cfg.dir);
    }
    if (want != NULL && log->replica && memcmp(want, log->pk, 32) != 0) {
        return store__say(dst, TALLY_EAUTH,
                          "the log in %s is a replica of another node key than the one pinned",
                          log->cfg.dir);
    }
    return TALLY_OK;
}

static tally_status read_meta(store_log *log, MDB_txn *txn, char *dst)
{
    MDB_val v;
    tally_status st = meta_get(txn, log->meta, "format", &v);

    if (st == TALLY_ENOTFOUND) {
        return TALLY_ENOTFOUND;
    }
    if (st != TALLY_OK) {
        return st;
    }
    if (v.mv_size != 12 || memcmp(v.mv_data, STORE__MAGIC, 8) != 0 ||
        ((const uint8_t *)v.mv_data)[8] != 0 || ((const uint8_t *)v.mv_data)[9] != 0 ||
        ((const uint8_t *)v.mv_data)[10] != 0 || ((const uint8_t *)v.mv_data)[11] != STORE__VERSION) {
        return store__corrupt(dst, "the store's format marker is not tally log version %u",
                              STORE__VERSION);
    }
    if (meta_get(txn, log->meta, "origin", &v) != TALLY_OK || v.mv_size < 1 ||
        v.mv_size > SCHEMA_ORIGIN_MAX) {
        return store__corrupt(dst, "the store's metadata holds no valid origin");
    }
    memcpy(log->origin, v.mv_data, v.mv_size);
    log->origin[v.mv_size] = '\0';
    if (meta_get(txn, log->meta, "node_pk", &v) != TALLY_OK || v.mv_size != 32) {
        return store__corrupt(dst, "the store's metadata holds no 32-byte node key");
    }
    memcpy(log->pk, v.mv_data, 32);
    st = meta_get(txn, log->meta, "replica", &v);
    if (st == TALLY_OK && (v.mv_size != 1 || ((const uint8_t *)v.mv_data)[0] != 1)) {
        return store__corrupt(dst, "the store's replica mark is not valid");
    }
    if (st != TALLY_OK && st != TALLY_ENOTFOUND) {
        return st;
    }
    log->replica = st == TALLY_OK;
    return check_role(log, dst);
}

static tally_status env_open(store_log *log)
{
    const store_cfg *cfg = &log->cfg;
    unsigned flags = MDB_NOTLS | (cfg->read_only ? MDB_RDONLY : 0);
    int rc = mdb_env_create(&log->env);

    if (rc == 0) {
        rc = mdb_env_set_maxdbs(log->env, 16);
    }
    /* The map size is also the log's largest size; LMDB's default is only 10 MiB. A value of 0
     * keeps the size an existing file already has. */
    if (rc == 0 && (cfg->map_size || cfg->create)) {
        rc = mdb_env_set_mapsize(log->env, cfg->map_size ? cfg->map_size : STORE_MAP_DEFAULT);
    }
    if (rc == 0) {
        rc = mdb_env_open(log->env, cfg->dir, flags, 0600);
    }
    return store__status(rc);
}

/* The state of the log: edge, heads, and the GENESIS actor, which must be the metadata key. A
 * writer refuses a log that fails any of it; a read-only open keeps what it found in
 * log->damage, for store_verify to name the record concerned. */
static tally_status load_checked(store_log *log, char *dst)
{
    MDB_txn *txn;
    uint8_t gpk[32];
    char *why = log->cfg.read_only ? log->damage : dst;
    tally_status st = store__status(mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn));

    if (st != TALLY_OK) {
        return store__say(dst, st, "cannot read the log");
    }
    st = store__load_state(log, txn, why);
    if (st == TALLY_OK) {
        st = store__genesis_actor(log, txn, gpk);
        if (st == TALLY_OK && memcmp(gpk, log->pk, 32) != 0) {
            st = store__corrupt(why, "the node key in the store's metadata is not the GENESIS "
                                     "actor: the log is not bound to that key");
        } else if (st == TALLY_ENOTFOUND && atomic_load(&log->published) == 0) {
            st = TALLY_OK; /* a new log: its first append must be GENESIS by the metadata key */
        } else if (st == TALLY_ENOTFOUND) {
            st = store__corrupt(why, "record 0 (GENESIS) cannot be read");
        }
    }
    mdb_txn_abort(txn);
    if (st == TALLY_ECORRUPT && log->cfg.read_only) {
        /* readers see what the latest head covers; store_verify names the damage */
        atomic_store(&log->published, log->has_sth ? log->last_sth.tree_size : 0);
        return TALLY_OK;
    }
    return st;
}

tally_status store_open(const store_cfg *cfg, store_log **out)
{
    store_log *log;
    MDB_txn *txn = NULL;
    char *dst = cfg->detail;
    tally_status st;
    struct stat sb;

    *out = NULL;
    if (dst != NULL) {
        dst[0] = '\0';
    }
    if (cfg->dir == NULL || stat(cfg->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return store__say(dst, TALLY_ENOTFOUND, "no directory %s", cfg->dir ? cfg->dir : "");
    }
    if (cfg->replica_pk != NULL && cfg->admission != NULL) {
        return store__say(dst, TALLY_EINVAL, "a replica takes no admission hook: it judges "
                                             "nothing it stores");
    }
    if (!cfg->create && !cfg->read_only) {
        char probe[4096];
        snprintf(probe, sizeof(probe), "%s/data.mdb", cfg->dir);
        if (access(probe, F_OK) != 0) {
            /* do not create an empty environment by accident */
            return store__say(dst, TALLY_ENOTFOUND, "no tally log in %s", cfg->dir);
        }
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        return TALLY_ENOMEM;
    }
    log->cfg = *cfg;
    log->cfg.detail = NULL; /* the caller's buffer is for this call only */
    /* what the handle reads after this call is its own copy: a caller may open a log with a
     * path in a stack buffer and return (an auditor once wrote its checkpoints under
     * /checkpoints that way); origin and key_seed are read during creation only */
    if ((size_t)snprintf(log->dir, sizeof(log->dir), "%s", cfg->dir) >= sizeof(log->dir) ||
        (cfg->key_file != NULL && (size_t)snprintf(log->key_file, sizeof(log->key_file), "%s",
                                                   cfg->key_file) >= sizeof(log->key_file))) {
        free(log);
        return store__say(dst, TALLY_EINVAL, "the path %s is too long",
                          strlen(cfg->dir) >= sizeof(log->dir) ? cfg->dir : cfg->key_file);
    }
    log->cfg.dir = log->dir;
    log->cfg.key_file = cfg->key_file != NULL ? log->key_file : NULL;
    if (cfg->replica_pk != NULL) {
        memcpy(log->replica_pk, cfg->replica_pk, 32);
        log->cfg.replica_pk = log->replica_pk;
    }
    log->lock_fd = -1;
    log->commit_max = cfg->commit_max ? cfg->commit_max : STORE_COMMIT_MAX;
    log->queue_max = cfg->queue_max ? cfg->queue_max : STORE_QUEUE_DEFAULT;
    pthread_mutex_init(&log->mu, NULL);
    pthread_mutex_init(&log->consumed_mu, NULL);
    if (!cfg->read_only) {
        log->consumed = calloc(STORE__CONSUMED_SLOTS, sizeof(*log->consumed));
        if (log->consumed == NULL) {
            pthread_mutex_destroy(&log->mu);
            pthread_mutex_destroy(&log->consumed_mu);
            free(log);
            return TALLY_ENOMEM;
        }
    }
    pthread_cond_init(&log->cv_work, NULL);
    st = cfg->read_only ? TALLY_OK : lock_take(log, dst);
    if (st == TALLY_OK) {
        st = env_open(log);
        if (st == TALLY_ENOTFOUND) {
            st = store__say(dst, st, "no tally log in %s", cfg->dir);
        } else if (st != TALLY_OK) {
            st = store__say(dst, st, "LMDB cannot open the environment in %s", cfg->dir);
        }
    }
    if (st == TALLY_OK) {
        st = store__status(mdb_txn_begin(log->env, NULL, cfg->read_only ? MDB_RDONLY : 0, &txn));
    }
    if (st == TALLY_OK) {
        st = open_dbs(log, txn, cfg->read_only ? 0 : MDB_CREATE);
        if (st == TALLY_ENOTFOUND) {
            st = store__say(dst, st, "no tally log in %s", cfg->dir);
        }
    }
    if (st == TALLY_OK && cfg->create) {
        st = create_log(log, txn, dst);
    }
    if (st == TALLY_OK) {
        st = read_meta(log, txn, dst);
        if (st == TALLY_ENOTFOUND) {
            st = store__say(dst, st, "no tally log in %s", cfg->dir);
        }
    }
    if (st == TALLY_OK) {
        /* a creation's commit is the point where the log exists (the fault seam of a crash) */
        st = store__status(cfg->create ? store__commit(log, txn) : mdb_txn_commit(txn));
        txn = NULL;
    }
    if (st == TALLY_OK) {
        st = load_checked(log, dst);
    }
    /* a replica holds no node key: it signs nothing, it stores the primary's heads */
    if (st == TALLY_OK && !cfg->read_only && !log->replica) {
        st = key_settle(log, dst);
    }
    if (st == TALLY_OK && !cfg->read_only && !log->replica) {
        st = key_load(log, dst);
    }
    if (st == TALLY_OK && !cfg->read_only) {
        st = store__writer_start(log);
    }
    if (st != TALLY_OK) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        if (dst != NULL && dst[0] == '\0') {
            snprintf(dst, STORE_DETAIL_MAX, "cannot open the log in %s", cfg->dir);
        }
        store_close(log);
        return st;
    }
    log->cfg.origin = NULL, log->cfg.key_seed = NULL;
    *out = log;
    return TALLY_OK;
}

const char *store_damage(const store_log *log)
{
    return log->damage[0] ? log->damage : NULL;
}

const char *store_detail(const store_log *log)
{
    return log->detail;
}

void store_close(store_log *log)
{
    if (log == NULL) {
        return;
    }
    if (log->writer_started) {
        store__writer_stop(log);
    }
    if (log->env != NULL) {
        mdb_env_close(log->env);
    }
    sodium_free(log->sk);
    store__pack_free(log);
    if (log->lock_fd >= 0) {
        /* no pid of a process that no longer writes (if this fails, the next holder overwrites
         * it); then closing releases the lock */
        int rc = ftruncate(log->lock_fd, 0);
        (void)rc;
        close(log->lock_fd);
    }
    pthread_mutex_destroy(&log->mu);
    pthread_mutex_destroy(&log->consumed_mu);
    free(log->consumed);
    pthread_cond_destroy(&log->cv_work);
    free(log);
}

void store_node_pubkey(const store_log *log, uint8_t pk[32])
{
    memcpy(pk, log->pk, 32);
}

bool store_is_replica(const store_log *log)
{
    return log->replica;
}

const char *store_origin(const store_log *log)
{
    return log->origin;
}

uint64_t store_size(store_log *log)
{
    return atomic_load(&log->published);
}

tally_status store_node_sign(store_log *log, schema_header *h)
{
    if (log->sk == NULL) {
        return TALLY_EAUTH; /* read-only handles hold no key */
    }
    memcpy(h->actor, log->pk, 32);
    return schema_record_sign(h, (tally_str){log->origin, strlen(log->origin)}, log->sk);
}

tally_status store_node_sign_msg(store_log *log, const uint8_t *msg, size_t n, uint8_t sig[64])
{
    if (log->sk == NULL) {
        memset(sig, 0, 64);
        return TALLY_EAUTH;
    }
    crypto_sign_detached(sig, NULL, msg, n, log->sk);
    return TALLY_OK;
}

tally_status store_key_read(const char *path, uint8_t pk[32], uint8_t *sk, char *detail)
{
    uint8_t *seed = sodium_malloc(33);
    tally_status st;

    memset(pk, 0, 32);
    if (seed == NULL) {
        return TALLY_ENOMEM;
    }
    st = seed_read(path, "the key file", seed, detail);
    if (st == TALLY_ENOTFOUND) {
        st = store__say(detail, st, "no key file %s (make one with 'tally keygen')", path);
    }
    if (st == TALLY_OK) {
        crypto_sign_seed_keypair(pk, sk, seed);
    }
    sodium_free(seed);
    return st;
}

tally_status store_key_create(const char *path, const uint8_t *seed_in, uint8_t pk[32],
                              char *detail)
{
    uint8_t *seed = sodium_malloc(32), sk[64];
    int fd = -1, err;
    tally_status st = TALLY_OK;

    memset(pk, 0, 32);
    if (seed == NULL) {
        return TALLY_ENOMEM;
    }
    if (seed_in != NULL) {
        memcpy(seed, seed_in, 32);
    } else {
        randombytes_buf(seed, 32);
    }
    /* never replace a key someone may need */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = errno;
        st = store__say(detail, err == EEXIST ? TALLY_ECONFLICT : store__status(err),
                        err == EEXIST ? "%s exists already; a key file is never replaced"
                                      : "cannot create %s: %s",
                        path, strerror(err));
    } else if (write(fd, seed, 32) != 32 || fsync(fd) != 0) {
        st = store__say(detail, TALLY_EIO, "cannot write the key file %s", path);
        unlink(path);
    }
    if (fd >= 0 && close(fd) != 0 && st == TALLY_OK) {
        st = store__say(detail, TALLY_EIO, "cannot write the key file %s", path);
        unlink(path);
    }
    if (st == TALLY_OK) {
        crypto_sign_seed_keypair(pk, sk, seed);
        sodium_memzero(sk, sizeof(sk));
    }
    sodium_free(seed);
    return st;
}

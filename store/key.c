/* The node key and the writer lock on disk: reading a key file (a regular file, mode 0600,
 * exactly a 32-byte Ed25519 seed), a creation's DIR/node.key.new and its link into place once
 * the log is committed, loading a writer's key, the flock() that keeps one writer per data
 * directory, and the key-file functions of store.h (store_key_read, store_key_create). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

tally_status store__dir_path(const char *dir, const char *name, char *out, size_t cap)
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
bool store__seed_is(const char *path, const uint8_t want[32])
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
tally_status store__key_write_new(const store_log *log, const uint8_t seed[32], char *dst)
{
    char path[4096];
    int fd;

    if (store__dir_path(log->cfg.dir, STORE_KEY_NEW, path, sizeof(path)) != TALLY_OK) {
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
 * is this log's (the metadata key). Anything else is left as it is for store__key_load to judge. */
tally_status store__key_settle(const store_log *log, char *dst)
{
    char path[4096], tmp[4096];
    struct stat sk, sn;
    uint8_t *seed, pk[32], sk64[64];
    bool ours;

    if (store__dir_path(log->cfg.dir, STORE_KEY_FILE, path, sizeof(path)) != TALLY_OK ||
        store__dir_path(log->cfg.dir, STORE_KEY_NEW, tmp, sizeof(tmp)) != TALLY_OK) {
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
            return TALLY_OK; /* a node.key appeared meanwhile: never replaced, store__key_load
                                judges */
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
tally_status store__key_load(store_log *log, char *dst)
{
    char path[4096];
    uint8_t *seed;
    uint8_t pk[32];
    tally_status st;

    if (log->cfg.key_file != NULL && log->cfg.key_file[0] != '\0') {
        if ((size_t)snprintf(path, sizeof(path), "%s", log->cfg.key_file) >= sizeof(path)) {
            return store__say(dst, TALLY_EINVAL, "the node key path is too long");
        }
    } else if (store__dir_path(log->cfg.dir, STORE_KEY_FILE, path, sizeof(path)) != TALLY_OK) {
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
tally_status store__lock_take(store_log *log, char *dst)
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

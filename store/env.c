/* Opening and creating a data directory: the LMDB environment, its tables, the format marker
 * and metadata (origin, node key, replica mark), the role check, and the handle's accessors;
 * with the module's shared helpers (foreign codes to tally_status, the corruption and detail
 * sentences, the fault-injection wrappers, big-endian u64). The node key files and the writer
 * lock are store/key.c. */
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
 * goes to DIR/node.key.new, for store__key_settle to link into place after the commit. A
 * node.key that is already there with no log is never replaced: a creation asking for exactly
 * its seed keeps and uses it (what a creation by a tally that wrote node.key before its commit
 * leaves when it is killed, or the operator's own copy of the seed), any other is refused, as it
 * may be a key someone needs (a log's key copied here, or one whose log was moved away). */
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
    if (store__dir_path(log->cfg.dir, STORE_KEY_FILE, path, sizeof(path)) != TALLY_OK) {
        return store__say(dst, TALLY_EINVAL, "the data directory path is too long");
    }
    if (log->cfg.key_seed != NULL) {
        memcpy(seed, log->cfg.key_seed, 32);
    } else {
        randombytes_buf(seed, 32);
    }
    if (lstat(path, &sb) == 0) {
        st = log->cfg.key_seed != NULL && store__seed_is(path, seed)
                 ? TALLY_OK
                 : store__say(dst, TALLY_ECONFLICT,
                              "%s holds a node key but no tally log; it is left as it is (it may "
                              "be a key someone needs): move it away to create a new log here, "
                              "or create with its seed",
                              path);
    } else {
        st = errno == ENOENT ? store__key_write_new(log, seed, dst)
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
    st = cfg->read_only ? TALLY_OK : store__lock_take(log, dst);
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
        st = store__key_settle(log, dst);
    }
    if (st == TALLY_OK && !cfg->read_only && !log->replica) {
        st = store__key_load(log, dst);
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

/* Opening and creating a data directory: LMDB environment, format marker, node key. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

tally_status store__corrupt_at(const char *file, int line)
{
    fprintf(stderr, "tally: store integrity check failed at %s:%d\n", file, line);
    return TALLY_ECORRUPT;
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

static tally_status key_path(const char *dir, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", dir, STORE_KEY_FILE);
    return n > 0 && (size_t)n < cap ? TALLY_OK : TALLY_EINVAL;
}

/* Writes the 32-byte seed with mode 0600, refusing to replace an existing key. */
static tally_status key_write(const char *dir, const uint8_t seed[32])
{
    char path[4096];
    int fd;
    ssize_t w;

    if (key_path(dir, path, sizeof(path)) != TALLY_OK) {
        return TALLY_EINVAL;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EEXIST ? TALLY_ECONFLICT : store__status(errno);
    }
    w = write(fd, seed, 32);
    if (w != 32 || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return TALLY_EIO;
    }
    return close(fd) == 0 ? TALLY_OK : TALLY_EIO;
}

/* Loads the node key into sodium_malloc memory; ENOTFOUND if there is no key file. */
static tally_status key_load(store_log *log)
{
    char path[4096];
    uint8_t *seed;
    int fd;
    ssize_t r;
    uint8_t pk[32];

    if (key_path(log->cfg.dir, path, sizeof(path)) != TALLY_OK) {
        return TALLY_EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return store__status(errno);
    }
    seed = sodium_malloc(32);
    log->sk = sodium_malloc(64);
    if (seed == NULL || log->sk == NULL) {
        close(fd);
        sodium_free(seed);
        return TALLY_ENOMEM;
    }
    r = read(fd, seed, 32);
    close(fd);
    if (r != 32) {
        sodium_free(seed);
        return TALLY_ECORRUPT;
    }
    crypto_sign_seed_keypair(pk, log->sk, seed);
    sodium_free(seed);
    if (memcmp(pk, log->pk, 32) != 0) {
        return STORE__CORRUPT(); /* the key file is not the key this log was made with */
    }
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
    return store__status(rc);
}

/* Writes format, origin and node key of a new log; the key seed is drawn unless given. */
static tally_status create_log(store_log *log, MDB_txn *txn)
{
    uint8_t fmt[12], seed[32], sk[64];
    const char *o = log->cfg.origin;
    size_t on = o ? strlen(o) : 0;
    MDB_val v;
    tally_status st;

    if (on < 1 || on > SCHEMA_ORIGIN_MAX) {
        return TALLY_EINVAL;
    }
    for (size_t i = 0; i < on; i++) {
        if (o[i] < 0x21 || o[i] > 0x7e || o[i] == '+') {
            return TALLY_EINVAL;
        }
    }
    if (meta_get(txn, log->meta, "format", &v) == TALLY_OK) {
        return TALLY_ECONFLICT;
    }
    if (log->cfg.key_seed != NULL) {
        memcpy(seed, log->cfg.key_seed, 32);
    } else {
        randombytes_buf(seed, 32);
    }
    crypto_sign_seed_keypair(log->pk, sk, seed);
    sodium_memzero(sk, sizeof(sk));
    memcpy(fmt, STORE__MAGIC, 8);
    fmt[8] = 0, fmt[9] = 0, fmt[10] = 0, fmt[11] = STORE__VERSION;
    st = meta_put(txn, log->meta, "format", fmt, 12);
    if (st == TALLY_OK) {
        st = meta_put(txn, log->meta, "origin", o, on);
    }
    if (st == TALLY_OK) {
        st = meta_put(txn, log->meta, "node_pk", log->pk, 32);
    }
    if (st == TALLY_OK) {
        st = key_write(log->cfg.dir, seed);
    }
    sodium_memzero(seed, sizeof(seed));
    return st;
}

static tally_status read_meta(store_log *log, MDB_txn *txn)
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
        return STORE__CORRUPT();
    }
    if (meta_get(txn, log->meta, "origin", &v) != TALLY_OK || v.mv_size < 1 ||
        v.mv_size > SCHEMA_ORIGIN_MAX) {
        return STORE__CORRUPT();
    }
    memcpy(log->origin, v.mv_data, v.mv_size);
    log->origin[v.mv_size] = '\0';
    if (meta_get(txn, log->meta, "node_pk", &v) != TALLY_OK || v.mv_size != 32) {
        return STORE__CORRUPT();
    }
    memcpy(log->pk, v.mv_data, 32);
    return TALLY_OK;
}

static tally_status env_open(store_log *log)
{
    const store_cfg *cfg = &log->cfg;
    unsigned flags = MDB_NOTLS | (cfg->read_only ? MDB_RDONLY : 0);
    int rc = mdb_env_create(&log->env);

    if (rc == 0) {
        rc = mdb_env_set_maxdbs(log->env, 8);
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

tally_status store_open(const store_cfg *cfg, store_log **out)
{
    store_log *log;
    MDB_txn *txn = NULL;
    tally_status st;
    struct stat sb;

    *out = NULL;
    if (cfg->dir == NULL || stat(cfg->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return TALLY_ENOTFOUND;
    }
    if (!cfg->create && !cfg->read_only) {
        char probe[4096];
        snprintf(probe, sizeof(probe), "%s/data.mdb", cfg->dir);
        if (access(probe, F_OK) != 0) {
            return TALLY_ENOTFOUND; /* do not create an empty environment by accident */
        }
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        return TALLY_ENOMEM;
    }
    log->cfg = *cfg;
    log->commit_max = cfg->commit_max ? cfg->commit_max : STORE_COMMIT_MAX;
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->cv_work, NULL);
    st = env_open(log);
    if (st == TALLY_OK) {
        st = store__status(mdb_txn_begin(log->env, NULL, cfg->read_only ? MDB_RDONLY : 0, &txn));
    }
    if (st == TALLY_OK) {
        st = open_dbs(log, txn, cfg->read_only ? 0 : MDB_CREATE);
    }
    if (st == TALLY_OK && cfg->create) {
        st = create_log(log, txn);
    }
    if (st == TALLY_OK) {
        st = read_meta(log, txn);
    }
    if (st == TALLY_OK) {
        st = store__status(mdb_txn_commit(txn));
        txn = NULL;
    }
    if (st == TALLY_OK) {
        tally_status ks = key_load(log);
        if (ks != TALLY_OK && !(ks == TALLY_ENOTFOUND && cfg->read_only)) {
            st = ks;
        }
    }
    if (st == TALLY_OK) {
        st = store__load_state(log);
    }
    if (st == TALLY_OK && !cfg->read_only) {
        st = store__writer_start(log);
    }
    if (st != TALLY_OK) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        store_close(log);
        return st;
    }
    *out = log;
    return TALLY_OK;
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
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->cv_work);
    free(log);
}

void store_node_pubkey(const store_log *log, uint8_t pk[32])
{
    memcpy(pk, log->pk, 32);
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
        return TALLY_EAUTH;
    }
    memcpy(h->actor, log->pk, 32);
    return schema_record_sign(h, (tally_str){log->origin, strlen(log->origin)}, log->sk);
}

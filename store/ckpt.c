/* Checkpoints (protocol §6.5): the engine's state at a cycle, stored beside the log as one zstd
 * frame with its content size, in DIR/checkpoints/<cycle>.zst. The file is written to a
 * temporary name, synced, then renamed, so a crash leaves either the whole file or none; the
 * STATE_HASH record in the log names its content, and store_checkpoint_get checks it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "store/store_int.h"

#define CKPT_MAX (256ull << 20) /* bytes of state, protocol §6.5 */

static void ckpt_path(const store_log *log, uint64_t cycle, const char *suffix, char *out,
                      size_t cap)
{
    snprintf(out, cap, "%s/checkpoints/%llu.zst%s", log->cfg.dir, (unsigned long long)cycle,
             suffix);
}

tally_status store_checkpoint_put(store_log *log, uint64_t cycle, const uint8_t *state, size_t n)
{
    char dir[4096], tmp[4200], path[4200];
    size_t cap = ZSTD_compressBound(n), z;
    uint8_t *buf;
    int fd;
    tally_status st = TALLY_OK;

    if (n > CKPT_MAX) {
        return TALLY_ELIMIT;
    }
    snprintf(dir, sizeof(dir), "%s/checkpoints", log->cfg.dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return store__status(errno);
    }
    buf = malloc(cap);
    if (buf == NULL) {
        return TALLY_ENOMEM;
    }
    z = ZSTD_compress(buf, cap, state, n, 3);
    if (ZSTD_isError(z)) {
        free(buf);
        return TALLY_EIO;
    }
    ckpt_path(log, cycle, ".tmp", tmp, sizeof(tmp));
    ckpt_path(log, cycle, "", path, sizeof(path));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(buf);
        return store__status(errno);
    }
    for (size_t off = 0; off < z && st == TALLY_OK;) {
        ssize_t w = write(fd, buf + off, z - off);
        if (w < 0 && errno != EINTR) {
            st = store__status(errno);
        } else if (w > 0) {
            off += (size_t)w;
        }
    }
    if (st == TALLY_OK && fsync(fd) != 0) {
        st = store__status(errno);
    }
    close(fd);
    free(buf);
    if (st == TALLY_OK && rename(tmp, path) != 0) {
        st = store__status(errno);
    }
    if (st != TALLY_OK) {
        unlink(tmp);
    }
    return st;
}

tally_status store_checkpoint_get(store_log *log, uint64_t cycle, const uint8_t want[32],
                                  uint8_t **out, size_t *n_out)
{
    char path[4200];
    FILE *f;
    long sz;
    uint8_t *z = NULL, *raw = NULL, got[32];
    unsigned long long rn;
    tally_status st = TALLY_OK;

    *out = NULL, *n_out = 0;
    ckpt_path(log, cycle, "", path, sizeof(path));
    f = fopen(path, "rb");
    if (f == NULL) {
        return errno == ENOENT ? TALLY_ENOTFOUND : store__status(errno);
    }
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (unsigned long)sz > CKPT_MAX) {
        fclose(f);
        return store__corrupt(NULL, "stored data failed a check");
    }
    z = malloc((size_t)sz + 1);
    if (z == NULL || fread(z, 1, (size_t)sz, f) != (size_t)sz) {
        st = z == NULL ? TALLY_ENOMEM : TALLY_EIO;
        goto done;
    }
    rn = ZSTD_getFrameContentSize(z, (size_t)sz);
    if (rn == ZSTD_CONTENTSIZE_ERROR || rn == ZSTD_CONTENTSIZE_UNKNOWN || rn > CKPT_MAX) {
        st = store__corrupt(NULL, "stored data failed a check");
        goto done;
    }
    raw = malloc(rn ? (size_t)rn : 1);
    if (raw == NULL) {
        st = TALLY_ENOMEM;
        goto done;
    }
    if (ZSTD_decompress(raw, (size_t)rn, z, (size_t)sz) != rn) {
        st = store__corrupt(NULL, "stored data failed a check");
        goto done;
    }
    schema_sha256_2(got, raw, (size_t)rn, NULL, 0);
    if (want != NULL && memcmp(got, want, 32) != 0) {
        st = store__corrupt(NULL, "stored data failed a check");
        goto done;
    }
    *out = raw, *n_out = (size_t)rn;
    raw = NULL;
done:
    fclose(f);
    free(z);
    free(raw);
    return st;
}

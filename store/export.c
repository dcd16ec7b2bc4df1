/* Static export of the log as c2sp.org/tlog-tiles files (spec §6.3): checkpoint, hash tiles,
 * entry bundles (headers) and body bundles (public bodies). Full tiles never change, so a second
 * export keeps them and writes only what grew. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

void store_tile_path(uint64_t n, char out[32])
{
    char groups[8][4];
    int g = 0;
    size_t k = 0;

    do {
        snprintf(groups[g++], 4, "%03u", (unsigned)(n % 1000));
        n /= 1000;
    } while (n > 0);
    while (g-- > 0) {
        k += (size_t)snprintf(out + k, 32 - k, g > 0 ? "x%s/" : "%s", groups[g]);
    }
}

typedef struct ex {
    const char *dir;
    store_export_stats *stats;
} ex;

static tally_status mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                *p = '/';
                return store__status(errno);
            }
            *p = '/';
        }
    }
    return TALLY_OK;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Writes path atomically (temporary file, then rename) after making its directories. */
static tally_status write_file(ex *e, const char *rel, const uint8_t *p, size_t n)
{
    char path[4096], tmp[4200];
    int fd;
    size_t done = 0;

    snprintf(path, sizeof(path), "%s/%s", e->dir, rel);
    if (mkdirs(path) != TALLY_OK) {
        return TALLY_EIO;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return store__status(errno);
    }
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w <= 0) {
            int err = errno;
            close(fd);
            unlink(tmp);
            return store__status(err);
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return TALLY_EIO;
    }
    e->stats->files_written++;
    e->stats->bytes_written += n;
    return TALLY_OK;
}

/* Removes "<full>.p/" once the full file exists: its partial files are superseded. */
static void drop_partials(ex *e, const char *rel_full)
{
    char path[4096], f[4400];
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "%s/%s.p", e->dir, rel_full);
    d = opendir(path);
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
            unlink(f);
        }
    }
    closedir(d);
    rmdir(path);
}

/* rel of tile (kind, level, index, width): kind "tile/L", "tile/entries" or "bodies". */
static void rel_path(char *out, size_t cap, const char *kind, uint64_t index, unsigned w)
{
    char np[32];

    store_tile_path(index, np);
    if (w == 256) {
        snprintf(out, cap, "%s/%s", kind, np);
    } else {
        snprintf(out, cap, "%s/%s.p/%u", kind, np, w);
    }
}

static bool present(ex *e, const char *rel)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", e->dir, rel);
    if (exists(path)) {
        e->stats->files_kept++;
        return true;
    }
    return false;
}

static tally_status export_hash_tiles(ex *e, store_log *log, uint64_t size)
{
    uint8_t *buf = malloc(256 * 32);
    tally_status st = buf ? TALLY_OK : TALLY_ENOMEM;

    for (unsigned tl = 0; st == TALLY_OK && tl < STORE__LEVELS; tl++) {
        uint64_t count = size >> (8 * tl), full = count / 256;
        unsigned part = (unsigned)(count % 256);
        char kind[16], rel[128];
        if (count == 0) {
            break;
        }
        snprintf(kind, sizeof(kind), "tile/%u", tl);
        for (uint64_t i = 0; st == TALLY_OK && i <= full; i++) {
            unsigned w = i < full ? 256 : part;
            if (w == 0) {
                break;
            }
            rel_path(rel, sizeof(rel), kind, i, w);
            if (present(e, rel)) {
                continue;
            }
            st = store_tile_read(log, tl, i, w, buf);
            if (st == TALLY_OK) {
                st = write_file(e, rel, buf, 32u * w);
            }
            if (st == TALLY_OK && w == 256) {
                drop_partials(e, rel);
            }
        }
    }
    free(buf);
    return st;
}

/* Entry and body bundles of level-0 tile i (w records from 256·i). */
static tally_status export_bundle(ex *e, store_iter *it, uint64_t i, unsigned w, uint8_t *eb,
                                  uint8_t *bb)
{
    size_t en = 0, bn = 0;
    char rel[128];
    tally_status st = TALLY_OK;

    for (unsigned j = 0; j < w; j++) {
        store_record r;
        schema_header h;
        st = store_iter_next(it, &r);
        if (st != TALLY_OK || r.seq != 256 * i + j ||
            schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK) {
            return st == TALLY_OK ? TALLY_ECORRUPT : st;
        }
        eb[en++] = (uint8_t)(r.header.n >> 8);
        eb[en++] = (uint8_t)r.header.n;
        memcpy(eb + en, r.header.p, r.header.n);
        en += r.header.n;
        /* only public bodies go in the public bundle; every other position has length 0 */
        if (h.tier == SCHEMA_PUBLIC && r.body.p != NULL) {
            bb[bn++] = (uint8_t)(r.body.n >> 8);
            bb[bn++] = (uint8_t)r.body.n;
            memcpy(bb + bn, r.body.p, r.body.n);
            bn += r.body.n;
        } else {
            bb[bn++] = 0;
            bb[bn++] = 0;
        }
    }
    rel_path(rel, sizeof(rel), "tile/entries", i, w);
    st = write_file(e, rel, eb, en);
    if (st == TALLY_OK && w == 256) {
        drop_partials(e, rel);
    }
    rel_path(rel, sizeof(rel), "bodies", i, w);
    if (st == TALLY_OK) {
        st = write_file(e, rel, bb, bn);
    }
    if (st == TALLY_OK && w == 256) {
        drop_partials(e, rel);
    }
    return st;
}

static tally_status export_bundles(ex *e, store_log *log, uint64_t size, store_progress_fn progress,
                                   void *arg)
{
    uint64_t full = size / 256, i;
    unsigned part = (unsigned)(size % 256);
    uint8_t *eb = malloc(256 * (SCHEMA_HEADER_MAX + 2)), *bb = malloc(256 * (SCHEMA_BODY_MAX + 2));
    store_iter *it = NULL;
    char rel[128], rel2[128];
    tally_status st = eb && bb ? TALLY_OK : TALLY_ENOMEM;

    /* Full bundles already exported are immutable: start at the first one missing. */
    for (i = 0; st == TALLY_OK && i <= full; i++) {
        unsigned w = i < full ? 256 : part;
        if (w == 0) {
            break;
        }
        rel_path(rel, sizeof(rel), "tile/entries", i, w);
        rel_path(rel2, sizeof(rel2), "bodies", i, w);
        if (present(e, rel) && present(e, rel2)) {
            store_iter_close(it); /* reopen at the next missing bundle */
            it = NULL;
            continue;
        }
        if (it == NULL) {
            st = store_iter_open(log, 256 * i, &it);
        }
        if (st == TALLY_OK) {
            st = export_bundle(e, it, i, w, eb, bb);
        }
        if (progress != NULL && st == TALLY_OK) {
            progress(arg, 256 * i + w, size);
        }
    }
    store_iter_close(it);
    free(eb);
    free(bb);
    return st;
}

tally_status store_export(store_log *log, const char *outdir, store_progress_fn progress, void *arg,
                          store_export_stats *out)
{
    ex e = {outdir, out};
    schema_sth sth;
    char note[1024];
    size_t n;
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        return store__status(errno);
    }
    st = store_sth_latest(log, &sth);
    if (st != TALLY_OK) {
        return st;
    }
    out->size = sth.tree_size;
    st = export_hash_tiles(&e, log, sth.tree_size);
    if (st == TALLY_OK) {
        st = export_bundles(&e, log, sth.tree_size, progress, arg);
    }
    /* the checkpoint last, so a reader never sees a head whose tiles are not there yet */
    if (st == TALLY_OK) {
        st = store_note(&sth, note, sizeof(note), &n);
    }
    if (st == TALLY_OK) {
        st = write_file(&e, "checkpoint", (const uint8_t *)note, n);
    }
    return st;
}

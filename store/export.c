/* Static export of the log as c2sp.org/tlog-tiles files (spec §6.3): checkpoint, hash tiles,
 * entry bundles (headers) and body bundles (public bodies). Full tiles never change, so a second
 * export keeps them and writes only what grew. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
    store_log *log; /* for fault injection */
    store_export_stats *stats;
    uint64_t keep_below; /* full files of records below the verified checkpoint's size are kept */
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
        ssize_t w = store__fault(e->log, STORE_FAULT_WRITE) ? -1 : write(fd, p + done, n - done);
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return TALLY_EIO;
        }
        done += (size_t)w;
    }
    /* synced before the rename, so the checkpoint (renamed last) never names a file a crash
     * could still lose */
    if ((store__fault(e->log, STORE_FAULT_SYNC) || fsync(fd) != 0)) {
        close(fd);
        unlink(tmp);
        return TALLY_EIO;
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

/* A full file already there is kept only if the checkpoint verified before the export covers
 * all of its records: anything else may be from a failed export of another tree. */
static bool present(ex *e, const char *rel, uint64_t end)
{
    char path[4096];

    if (end > e->keep_below) {
        return false;
    }
    snprintf(path, sizeof(path), "%s/%s", e->dir, rel);
    if (exists(path)) {
        e->stats->files_kept++;
        return true;
    }
    return false;
}

static tally_status export_hash_tiles(ex *e, store_log *log, uint64_t size)
{
    uint8_t *buf = store__malloc(log, 256 * 32);
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
            if (w == 256 && tl < 7 && present(e, rel, (i + 1) * 256 << (8 * tl))) {
                continue;
            }
            st = store_tile_read(log, tl, i, w, buf);
            if (st == TALLY_OK) {
                st = write_file(e, rel, buf, 32u * w);
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
    rel_path(rel, sizeof(rel), "bodies", i, w);
    if (st == TALLY_OK) {
        st = write_file(e, rel, bb, bn);
    }
    return st;
}

static tally_status export_bundles(ex *e, store_log *log, uint64_t size, store_progress_fn progress,
                                   void *arg)
{
    uint64_t full = size / 256, i;
    unsigned part = (unsigned)(size % 256);
    uint8_t *eb = store__malloc(log, 256 * (SCHEMA_HEADER_MAX + 2));
    uint8_t *bb = store__malloc(log, 256 * (SCHEMA_BODY_MAX + 2));
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
        if (w == 256 && present(e, rel, 256 * (i + 1)) && present(e, rel2, 256 * (i + 1))) {
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

/* Once the new checkpoint is in place, the partial files its full tiles supersede are removed
 * (not before: the old checkpoint still needed them). */
static void drop_superseded(ex *e, uint64_t size)
{
    char kind[16], rel[128];

    for (unsigned tl = 0; tl < STORE__LEVELS; tl++) {
        uint64_t full = (size >> (8 * tl)) / 256;
        snprintf(kind, sizeof(kind), "tile/%u", tl);
        for (uint64_t i = 0; i < full; i++) {
            rel_path(rel, sizeof(rel), kind, i, 256);
            drop_partials(e, rel);
            if (tl == 0) {
                rel_path(rel, sizeof(rel), "tile/entries", i, 256);
                drop_partials(e, rel);
                rel_path(rel, sizeof(rel), "bodies", i, 256);
                drop_partials(e, rel);
            }
        }
    }
}

/* Everything for head sth into dir: tiles and bundles, then the checkpoint, then the cleanup. */
static tally_status export_into(store_log *log, const char *dir, const schema_sth *sth,
                                uint64_t keep_below, store_progress_fn progress, void *arg,
                                store_export_stats *out)
{
    ex e = {dir, log, out, keep_below};
    char note[1024];
    size_t n;
    tally_status st;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return store__say(log->detail, store__status(errno), "cannot create %s", dir);
    }
    st = export_hash_tiles(&e, log, sth->tree_size);
    if (st == TALLY_OK) {
        st = export_bundles(&e, log, sth->tree_size, progress, arg);
    }
    /* the checkpoint last, so a reader never sees a head whose tiles are not there yet */
    if (st == TALLY_OK) {
        st = store_note(sth, note, sizeof(note), &n);
    }
    if (st == TALLY_OK) {
        st = write_file(&e, "checkpoint", (const uint8_t *)note, n);
    }
    if (st == TALLY_OK) {
        drop_superseded(&e, sth->tree_size);
    } else if (log->detail[0] == '\0') {
        snprintf(log->detail, sizeof(log->detail), "writing the export in %s failed", dir);
    }
    return st;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* --force over a directory of another head: the export goes to a fresh directory beside it,
 * which then takes its name; the old one is removed after. A crash between the two renames
 * leaves both beside each other, each whole, and no mixed directory. */
static tally_status export_replace(store_log *log, const char *outdir, const schema_sth *sth,
                                   store_progress_fn progress, void *arg, store_export_stats *out)
{
    char fresh[4200], old[4200];
    tally_status st;

    snprintf(fresh, sizeof(fresh), "%s.new-%d", outdir, (int)getpid());
    snprintf(old, sizeof(old), "%s.old-%d", outdir, (int)getpid());
    nftw(fresh, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    st = export_into(log, fresh, sth, 0, progress, arg, out);
    if (st == TALLY_OK && rename(outdir, old) != 0) {
        st = store__say(log->detail, TALLY_EIO, "cannot move %s aside", outdir);
    } else if (st == TALLY_OK && rename(fresh, outdir) != 0) {
        /* put the old export back rather than leave no directory under its name */
        st = store__say(log->detail, TALLY_EIO, "cannot move the new export %s to %s%s", fresh,
                        outdir, rename(old, outdir) == 0 ? "" : " (the old one is beside it)");
        nftw(fresh, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return st;
    }
    nftw(st == TALLY_OK ? old : fresh, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return st;
}

/* The checkpoint already in outdir: ENOTFOUND if none, TALLY_OK when this log extends it,
 * TALLY_ECONFLICT (with log->detail) for another log's, a fork or a rewind. */
static tally_status check_outdir(store_log *log, const char *outdir, uint64_t *known)
{
    char path[4096], note[4096];
    store_head_report rep;
    ssize_t n;
    int fd;
    tally_status st;

    snprintf(path, sizeof(path), "%s/checkpoint", outdir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? TALLY_ENOTFOUND : store__say(log->detail, store__status(errno),
                                                              "cannot read %s", path);
    }
    n = read(fd, note, sizeof(note));
    close(fd);
    if (n < 0) {
        return store__say(log->detail, TALLY_EIO, "cannot read %s", path);
    }
    st = store_check_head(log, note, (size_t)n, &rep);
    *known = st == TALLY_OK ? rep.known_size : 0;
    if (st == TALLY_EFORMAT) {
        return store__say(log->detail, TALLY_ECONFLICT, "%s is not a checkpoint note", path);
    }
    if (st == TALLY_ECONFLICT) {
        char why[STORE_DETAIL_MAX];
        snprintf(why, sizeof(why), "%s", log->detail);
        return store__say(log->detail, st, "%s holds a checkpoint this log does not extend: %.180s",
                          outdir, why);
    }
    return st;
}

tally_status store_export(store_log *log, const char *outdir, bool force,
                          store_progress_fn progress, void *arg, store_export_stats *out)
{
    schema_sth sth;
    uint64_t known = 0;
    tally_status st;

    memset(out, 0, sizeof(*out));
    log->detail[0] = '\0';
    st = store_sth_latest(log, &sth);
    if (st != TALLY_OK) {
        return store__say(log->detail, st, "the log has no signed head to export");
    }
    out->size = sth.tree_size;
    /* Checked before anything is written: a refusal leaves outdir byte for byte as it was. */
    st = check_outdir(log, outdir, &known);
    if (st == TALLY_ECONFLICT && force) {
        return export_replace(log, outdir, &sth, progress, arg, out);
    }
    if (st != TALLY_OK && st != TALLY_ENOTFOUND) {
        return st;
    }
    log->detail[0] = '\0';
    return export_into(log, outdir, &sth, known, progress, arg, out);
}

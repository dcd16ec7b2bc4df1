/* §6.3: tile and bundle paths of c2sp.org/tlog-tiles (tile/<L>/<N>[.p/<W>],
 * tile/entries/<N>[.p/<W>]) and tally's body bundles (bodies/<N>[.p/<W>]), parsed exactly and
 * formatted the one way the parser accepts, so the node and the auditor name the same files. N is
 * formatted by store_tile_path (the exporter's), so served and exported paths cannot differ. */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "wire/wire_int.h"

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A decimal of 1..3 digits without leading zeros, ≤ max. */
static bool small_dec(const char *s, size_t n, unsigned max, unsigned *out)
{
    uint64_t v;

    if (n == 0 || n > 3 || !wire__decimal(s, n, max, &v)) {
        return false;
    }
    *out = (unsigned)v;
    return true;
}

/* N: groups "xDDD/" then a last "DDD"; returns the bytes used or 0. */
static size_t parse_index(const char *s, size_t n, uint64_t *out)
{
    size_t k = 0, groups = 0;
    uint64_t v = 0;

    for (;;) {
        bool x = k < n && s[k] == 'x';
        size_t at = k + (x ? 1 : 0);
        if (n - at < 3 || !digit(s[at]) || !digit(s[at + 1]) || !digit(s[at + 2])) {
            return 0;
        }
        unsigned g = (unsigned)(s[at] - '0') * 100u + (unsigned)(s[at + 1] - '0') * 10u +
                     (unsigned)(s[at + 2] - '0');
        /* a leading x000 group is a second spelling of the same N */
        if (x && groups == 0 && g == 0) {
            return 0;
        }
        if (v > (WIRE_TILE_INDEX_MAX - g) / 1000u) {
            return 0;
        }
        v = v * 1000u + g;
        groups++;
        k = at + 3;
        if (!x) {
            break;
        }
        if (k >= n || s[k] != '/') {
            return 0;
        }
        k++;
    }
    *out = v;
    return k;
}

tally_status wire_tile_parse(const char *path, size_t n, wire_tile *out)
{
    static const char tile[] = "tile/", entries[] = "tile/entries/", bodies[] = "bodies/";
    wire_tile t = {.width = 256};
    size_t k, used;

    memset(out, 0, sizeof(*out));
    if (path == NULL || n > WIRE_TILE_PATH_MAX) {
        return TALLY_EFORMAT;
    }
    if (n >= sizeof(entries) - 1 && memcmp(path, entries, sizeof(entries) - 1) == 0) {
        t.kind = WIRE_TILE_ENTRIES, k = sizeof(entries) - 1;
    } else if (n >= sizeof(bodies) - 1 && memcmp(path, bodies, sizeof(bodies) - 1) == 0) {
        t.kind = WIRE_TILE_BODIES, k = sizeof(bodies) - 1;
    } else if (n >= sizeof(tile) - 1 && memcmp(path, tile, sizeof(tile) - 1) == 0) {
        const char *sl;
        k = sizeof(tile) - 1;
        sl = memchr(path + k, '/', n - k);
        if (sl == NULL || !small_dec(path + k, (size_t)(sl - path) - k, WIRE_TILE_LEVEL_MAX,
                                     &t.level)) {
            return TALLY_EFORMAT;
        }
        t.kind = WIRE_TILE_HASH, k = (size_t)(sl - path) + 1;
    } else {
        return TALLY_EFORMAT;
    }
    used = parse_index(path + k, n - k, &t.index);
    if (used == 0) {
        return TALLY_EFORMAT;
    }
    k += used;
    if (k < n) {
        if (n - k < 4 || memcmp(path + k, ".p/", 3) != 0 ||
            !small_dec(path + k + 3, n - k - 3, 255, &t.width) || t.width == 0) {
            return TALLY_EFORMAT;
        }
    }
    *out = t;
    return TALLY_OK;
}

tally_status wire_tile_format(const wire_tile *t, char *buf, size_t cap, size_t *n_out)
{
    char idx[32], w[16] = "";
    int k;

    *n_out = 0;
    if (cap > 0) {
        buf[0] = '\0';
    }
    if (t->kind > WIRE_TILE_BODIES || t->index > WIRE_TILE_INDEX_MAX || t->width == 0 ||
        t->width > 256 || (t->kind == WIRE_TILE_HASH ? t->level > WIRE_TILE_LEVEL_MAX
                                                     : t->level != 0)) {
        return TALLY_EINVAL;
    }
    store_tile_path(t->index, idx);
    if (t->width < 256) {
        snprintf(w, sizeof(w), ".p/%u", t->width);
    }
    switch (t->kind) {
    case WIRE_TILE_HASH:
        k = snprintf(buf, cap, "tile/%u/%s%s", t->level, idx, w);
        break;
    case WIRE_TILE_ENTRIES:
        k = snprintf(buf, cap, "tile/entries/%s%s", idx, w);
        break;
    default:
        k = snprintf(buf, cap, "bodies/%s%s", idx, w);
        break;
    }
    if (k < 0 || (size_t)k >= cap) {
        if (cap > 0) {
            buf[0] = '\0';
        }
        return TALLY_ELIMIT;
    }
    *n_out = (size_t)k;
    return TALLY_OK;
}

tally_status wire_bundle_decode(const uint8_t *p, size_t n, unsigned width, tally_bytes *out)
{
    size_t off = 0;

    if (width == 0 || width > 256) {
        return TALLY_EINVAL;
    }
    memset(out, 0, width * sizeof(*out));
    for (unsigned i = 0; i < width; i++) {
        size_t len;
        if (n - off < 2) {
            memset(out, 0, width * sizeof(*out));
            return TALLY_EFORMAT;
        }
        len = (size_t)p[off] << 8 | p[off + 1];
        off += 2;
        if (n - off < len) {
            memset(out, 0, width * sizeof(*out));
            return TALLY_EFORMAT;
        }
        out[i] = (tally_bytes){len ? p + off : NULL, len};
        off += len;
    }
    if (off != n) {
        memset(out, 0, width * sizeof(*out));
        return TALLY_EFORMAT; /* bytes after the last entry */
    }
    return TALLY_OK;
}

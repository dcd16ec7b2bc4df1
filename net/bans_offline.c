/* The LMDB `bans` table with the node stopped (protocol §7.2: "with the node stopped, `tally ban`
 * edits the table directly"): the same key and value codecs the node writes and loads with
 * (net/abuse_ban.c), through the store's side tables. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/abuse_int.h"
#include "net/net.h"
#include "store/store.h"

static void say(char *detail, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(char *detail, const char *fmt, ...)
{
    va_list ap;

    if (detail == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(detail, NET_DETAIL_MAX, fmt, ap);
    va_end(ap);
}

static void to_row(const net_ban *b, net_ban_row *out)
{
    char id[NET_IDENT_STR_MAX];
    const char *why = net_ban_reason_name(b->reason);

    memset(out, 0, sizeof(*out));
    net_ident_format(&b->id, id);
    snprintf(out->id, sizeof(out->id), "%s", id);
    snprintf(out->reason, sizeof(out->reason), "%s", why ? why : "?");
    out->expires_ms = b->until_ms;
    out->created_ms = b->created_ms;
    out->strikes = b->strikes;
    out->has_note = b->note_len > 0;
    snprintf(out->note, sizeof(out->note), "%s", b->note_len ? b->note : "");
}

static tally_status open_dir(const char *dir, bool write, store_log **out, char *detail)
{
    char sd[STORE_DETAIL_MAX] = "";
    store_cfg cfg = {.dir = dir, .read_only = !write, .detail = sd};
    tally_status st = store_open(&cfg, out);

    if (st == TALLY_ECONFLICT) {
        say(detail,
            "the log in %s is held by another writer (a running node: use its admin "
            "API): %s",
            dir, sd);
    } else if (st != TALLY_OK) {
        say(detail, "cannot open the log in %s%s%s", dir, sd[0] ? ": " : "", sd);
    }
    return st;
}

typedef struct list_ctx {
    net_ban_row *rows;
    size_t n, cap;
    tally_status st;
} list_ctx;

static bool collect(void *arg, tally_bytes key, tally_bytes val)
{
    list_ctx *lc = arg;
    net_ban b;

    if (net_ban_decode(key.p, key.n, val.p, val.n, &b) != TALLY_OK) {
        lc->st = TALLY_ECORRUPT;
        return false;
    }
    if (lc->n == lc->cap) {
        size_t cap = lc->cap ? lc->cap * 2 : 16;
        net_ban_row *r = realloc(lc->rows, cap * sizeof(*r));
        if (r == NULL) {
            lc->st = TALLY_ENOMEM;
            return false;
        }
        lc->rows = r, lc->cap = cap;
    }
    to_row(&b, &lc->rows[lc->n++]);
    return true;
}

tally_status net_bans_offline_list(const char *dir, net_ban_row **out, size_t *n_out, char *detail)
{
    list_ctx lc = {NULL, 0, 0, TALLY_OK};
    store_log *log = NULL;
    tally_status st;

    *out = NULL;
    *n_out = 0;
    st = open_dir(dir, false, &log, detail);
    if (st == TALLY_OK) {
        st = store_side_each(log, STORE_SIDE_BANS, collect, &lc);
        st = st == TALLY_OK ? lc.st : st;
        if (st == TALLY_ECORRUPT) {
            say(detail, "a row of the bans table in %s does not decode", dir);
        }
    }
    store_close(log);
    if (st != TALLY_OK) {
        free(lc.rows);
        return st;
    }
    *out = lc.rows;
    *n_out = lc.n;
    return TALLY_OK;
}

static tally_status ident_of(const char *kind, const char *id, net_ident *out, char *detail)
{
    if (kind == NULL || id == NULL || net_ident_parse(kind, id, out) != TALLY_OK) {
        say(detail, "'%s' is not an %s", id ? id : "",
            kind && strcmp(kind, "hotkey") == 0 ? "SS58 hotkey (or 64 hex digits)"
                                                : "IPv4 or IPv6 address");
        return TALLY_EINVAL;
    }
    return TALLY_OK;
}

tally_status net_bans_offline_add(const char *dir, const char *kind, const char *id,
                                  uint64_t seconds, const char *note, uint64_t now_ms,
                                  net_ban_row *out, char *detail)
{
    net_ban b = {0};
    uint8_t key[NET_BAN_KEY_MAX], val[NET_BAN_VALUE_MAX];
    size_t kn = 0, vn = 0;
    store_log *log = NULL;
    tally_status st = ident_of(kind, id, &b.id, detail);

    if (st != TALLY_OK) {
        return st;
    }
    b.reason = NET_BAN_ADMIN;
    b.created_ms = now_ms;
    b.until_ms = seconds ? now_ms + seconds * 1000u : 0;
    if (note != NULL && strlen(note) > NET_BAN_NOTE_MAX) {
        say(detail, "a note has at most %u bytes", NET_BAN_NOTE_MAX);
        return TALLY_EINVAL;
    }
    if (note != NULL) {
        b.note_len = (uint16_t)strlen(note);
        memcpy(b.note, note, b.note_len);
    }
    /* check first, then open: a bad ban never takes the lock */
    if (seconds > (1ull << 53) / 1000u || net_ban_check(&b) != TALLY_OK ||
        net_ban_key_encode(&b.id, key, sizeof(key), &kn) != TALLY_OK ||
        net_ban_value_encode(&b, val, sizeof(val), &vn) != TALLY_OK) {
        say(detail, "the ban cannot be stored (a note must be valid text without control "
                    "characters; seconds at most 2^53/1000)");
        return TALLY_EINVAL;
    }
    st = open_dir(dir, true, &log, detail);
    if (st == TALLY_OK) {
        st = store_side_put(log, STORE_SIDE_BANS, key, kn, val, vn);
        if (st != TALLY_OK) {
            say(detail, "cannot write the bans table in %s", dir);
        }
    }
    store_close(log);
    if (st == TALLY_OK && out != NULL) {
        to_row(&b, out);
    }
    return st;
}

tally_status net_bans_offline_remove(const char *dir, const char *kind, const char *id,
                                     char *detail)
{
    net_ident who;
    uint8_t key[NET_BAN_KEY_MAX], val[NET_BAN_VALUE_MAX];
    size_t kn = 0, vn = 0;
    bool found = false;
    store_log *log = NULL;
    tally_status st = ident_of(kind, id, &who, detail);

    if (st == TALLY_OK && net_ban_key_encode(&who, key, sizeof(key), &kn) != TALLY_OK) {
        st = TALLY_EINVAL;
    }
    if (st != TALLY_OK) {
        return st;
    }
    st = open_dir(dir, true, &log, detail);
    if (st == TALLY_OK) {
        st = store_side_get(log, STORE_SIDE_BANS, key, kn, val, sizeof(val), &vn, &found);
    }
    if (st == TALLY_OK && !found) {
        say(detail, "%s:%s has no ban", kind, id);
        st = TALLY_ENOTFOUND;
    } else if (st == TALLY_OK) {
        st = store_side_put(log, STORE_SIDE_BANS, key, kn, NULL, 0);
        if (st != TALLY_OK) {
            say(detail, "cannot write the bans table in %s", dir);
        }
    }
    store_close(log);
    return st;
}

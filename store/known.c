/* A head known from elsewhere — the checkpoint of an export directory, a note an auditor kept —
 * checked against this log. The log keeps every head it signed, so a head signed by its key that
 * this log does not extend is evidence: a fork (two different trees under one key) or a rewind
 * (the log lost records it had signed for, e.g. restored from an older backup). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

static tally_status verdict(store_log *log, store_head_report *out, store_head_verdict v,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static tally_status verdict(store_log *log, store_head_report *out, store_head_verdict v,
                            const char *fmt, ...)
{
    va_list ap;

    out->verdict = v;
    va_start(ap, fmt);
    vsnprintf(log->detail, sizeof(log->detail), fmt, ap);
    va_end(ap);
    return v == STORE_HEAD_CONSISTENT ? TALLY_OK : TALLY_ECONFLICT;
}

/* The known head's tree must be a prefix of this log's latest: RFC 9162 consistency proof from
 * the known size to the latest, generated from this log and verified against both roots. */
static bool extends(store_log *log, const store_head_report *r, const schema_sth *latest)
{
    uint8_t path[STORE_PROOF_MAX][32];
    size_t n;

    return store_proof_consistency(log, r->known_size, latest->tree_size, path, &n) == TALLY_OK &&
           store_verify_consistency(r->known_size, latest->tree_size, r->known_root, latest->root,
                                    (const uint8_t(*)[32])path, n);
}

tally_status store_check_head(store_log *log, const char *note, size_t n, store_head_report *out)
{
    char vkey[512];
    const char *nl = memchr(note, '\n', n);
    size_t on = nl ? (size_t)(nl - note) : 0;
    schema_sth latest;
    tally_status st;

    memset(out, 0, sizeof(*out));
    log->detail[0] = '\0';
    if (nl == NULL || on == 0) {
        return store__say(log->detail, TALLY_EFORMAT, "not a checkpoint note");
    }
    if (on != strlen(log->origin) || memcmp(note, log->origin, on) != 0) {
        return verdict(log, out, STORE_HEAD_FOREIGN, "the checkpoint is for origin %.*s, not %s",
                       (int)(on > 128 ? 128 : on), note, log->origin);
    }
    st = store_vkey(log->origin, log->pk, vkey, sizeof(vkey));
    if (st == TALLY_OK) {
        st = store_note_verify(note, n, vkey, &out->known_size, out->known_root);
    }
    if (st == TALLY_EAUTH) {
        return verdict(log, out, STORE_HEAD_FOREIGN,
                       "the checkpoint is not signed by this log's node key");
    }
    if (st != TALLY_OK) {
        return store__say(log->detail, st, "not a checkpoint note");
    }
    st = store_sth_latest(log, &latest);
    if (st != TALLY_OK) {
        return store__say(log->detail, st, "this log has no signed head");
    }
    out->size = latest.tree_size;
    out->has_own = true;
    if (out->known_size > latest.tree_size) {
        out->own = latest;
        return verdict(log, out, STORE_HEAD_REWIND,
                       "this log's key signed a head for size %" PRIu64 ", but the log holds only "
                       "%" PRIu64 " records: it was rewound (restored from an older backup?)",
                       out->known_size, latest.tree_size);
    }
    if (out->known_size == 0 || extends(log, out, &latest)) {
        out->own = latest;
        return verdict(log, out, STORE_HEAD_CONSISTENT,
                       "this log (size %" PRIu64 ") extends the checkpoint (size %" PRIu64 ")",
                       latest.tree_size, out->known_size);
    }
    if (store_sth_get(log, out->known_size, &out->own) != TALLY_OK) {
        out->own = latest;
    }
    return verdict(log, out, STORE_HEAD_FORK,
                   "this log's key signed two different trees: the checkpoint's root for size "
                   "%" PRIu64 " is not this log's (a fork, or a log restored from an older backup "
                   "and appended again)", out->known_size);
}

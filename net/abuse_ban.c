/* Bans in their LMDB form (the `bans` table of §7.2): key kind ‖ id, value canonical msgpack
 * [until_ms, reason, created_ms, strikes, note|nil]. The decoder accepts exactly what the encoder
 * writes for a valid ban, so a row either loads as it was written or is refused. */
#include <stdlib.h>
#include <string.h>

#include "net/abuse_int.h"
#include "schema/schema.h"

#define MS_MAX ((1ull << 53) - 1) /* every ms of the protocol fits JSON's exact integers */

static const char *const reason_names[NET_BAN_REASON_MAX + 1] = {
    [NET_BAN_ADMIN] = "admin",
    [NET_BAN_PROBE] = "forbidden",
    [NET_BAN_VIOLATIONS] = "cooldown_violations",
    [NET_BAN_BAD_SIGNATURE] = "bad_signature",
    [NET_BAN_KEY_NOT_REGISTERED] = "key_not_registered",
    [NET_BAN_NONCE_REPLAY] = "nonce_replay",
};

const char *net_ban_reason_name(uint8_t reason)
{
    return reason >= 1 && reason <= NET_BAN_REASON_MAX ? reason_names[reason] : NULL;
}


static bool ident_ok(const net_ident *id)
{
    return (id->kind == NET_ID_IP && (id->len == 4 || id->len == 8)) ||
           (id->kind == NET_ID_HOTKEY && id->len == 32);
}

tally_status net_ban_check(const net_ban *b)
{
    if (!ident_ok(&b->id) || net_ban_reason_name(b->reason) == NULL || b->until_ms > MS_MAX ||
        b->created_ms > MS_MAX || b->note_len > NET_BAN_NOTE_MAX ||
        !schema_text_ok(b->note, b->note_len)) {
        return TALLY_EINVAL;
    }
    return TALLY_OK;
}

tally_status net_ban_key_encode(const net_ident *id, uint8_t *out, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (!ident_ok(id)) {
        return TALLY_EINVAL;
    }
    if (cap < 1u + id->len) {
        return TALLY_ELIMIT;
    }
    out[0] = id->kind;
    memcpy(out + 1, id->b, id->len);
    *n_out = 1u + id->len;
    return TALLY_OK;
}

tally_status net_ban_value_encode(const net_ban *b, uint8_t *out, size_t cap, size_t *n_out)
{
    schema_mpw w;
    uint8_t *p;
    size_t n;
    tally_status st;

    *n_out = 0;
    st = net_ban_check(b);
    if (st != TALLY_OK) {
        return st;
    }
    schema_mpw_init(&w, NET_BAN_VALUE_MAX);
    schema_mpw_array(&w, 5);
    schema_mpw_uint(&w, b->until_ms);
    schema_mpw_uint(&w, b->reason);
    schema_mpw_uint(&w, b->created_ms);
    schema_mpw_uint(&w, b->strikes);
    if (b->note_len == 0) {
        schema_mpw_nil(&w);
    } else {
        schema_mpw_str(&w, b->note, b->note_len);
    }
    st = schema_mpw_finish(&w, &p, &n);
    if (st != TALLY_OK) {
        return st;
    }
    if (n > cap) {
        free(p);
        return TALLY_ELIMIT;
    }
    memcpy(out, p, n);
    free(p);
    *n_out = n;
    return TALLY_OK;
}

tally_status net_ban_decode(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len,
                            net_ban *out)
{
    schema_mpr r;
    uint64_t until, reason, created, strikes;
    const char *note = NULL;
    size_t note_len = 0;

    memset(out, 0, sizeof(*out));
    if (key_len < 1 || key_len > NET_BAN_KEY_MAX) {
        return TALLY_EFORMAT;
    }
    out->id.kind = key[0];
    out->id.len = (uint8_t)(key_len - 1);
    memcpy(out->id.b, key + 1, key_len - 1);
    schema_mpr_init(&r, val, val_len);
    if (schema_mpr_array(&r) != 5) {
        r.bad = true;
    }
    until = schema_mpr_uint(&r);
    reason = schema_mpr_uint(&r);
    created = schema_mpr_uint(&r);
    strikes = schema_mpr_uint(&r);
    if (!schema_mpr_nil(&r)) {
        note = schema_mpr_str(&r, &note_len);
        if (note == NULL || note_len == 0 || note_len > NET_BAN_NOTE_MAX) {
            r.bad = true;
        }
    }
    if (schema_mpr_end(&r) != TALLY_OK || reason > NET_BAN_REASON_MAX || strikes > UINT32_MAX) {
        memset(out, 0, sizeof(*out));
        return TALLY_EFORMAT;
    }
    out->until_ms = until;
    out->reason = (uint8_t)reason;
    out->created_ms = created;
    out->strikes = (uint32_t)strikes;
    if (note != NULL) {
        memcpy(out->note, note, note_len);
        out->note_len = (uint16_t)note_len;
    }
    if (net_ban_check(out) != TALLY_OK) {
        memset(out, 0, sizeof(*out));
        return TALLY_EFORMAT;
    }
    return TALLY_OK;
}

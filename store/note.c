/* C2SP signed notes: the checkpoint text (c2sp.org/tlog-checkpoint), its signature line, the
 * verifier key string, and verification that ignores other signers' lines. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

#define EM_DASH "\xe2\x80\x94"

#define SIG_ED25519 0x01 /* signed-note's Ed25519 note signature */
#define SIG_COSIG_V1 0x04 /* tlog-cosignature's timestamped Ed25519 cosignature */

/* SHA-256(name || 0x0A || type || pk)[0..4] (c2sp.org/signed-note, recommended key id). */
static void type_key_id(const char *name, uint8_t type, const uint8_t pk[32], uint8_t id[4])
{
    crypto_hash_sha256_state st;
    uint8_t h[32], sep[2] = {0x0a, type};

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(id, h, 4);
}

static void key_id(const char *name, const uint8_t pk[32], uint8_t id[4])
{
    type_key_id(name, SIG_ED25519, pk, id);
}

tally_status store_note_text(const char *origin, uint64_t size, const uint8_t root[32], char *buf,
                             size_t cap, size_t *n_out)
{
    char b64[64];
    int n;

    *n_out = 0;
    sodium_bin2base64(b64, sizeof(b64), root, 32, sodium_base64_VARIANT_ORIGINAL);
    n = snprintf(buf, cap, "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
    if (n < 0 || (size_t)n >= cap) {
        return TALLY_ELIMIT;
    }
    *n_out = (size_t)n;
    return TALLY_OK;
}

tally_status store_note(const schema_sth *sth, char *buf, size_t cap, size_t *n_out)
{
    uint8_t blob[68];
    char b64[128];
    size_t n;
    int m;
    tally_status st = store_note_text(sth->origin, sth->tree_size, sth->root, buf, cap, &n);

    *n_out = 0;
    if (st != TALLY_OK) {
        return st;
    }
    key_id(sth->origin, sth->key, blob);
    memcpy(blob + 4, sth->note_sig, 64);
    sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
    m = snprintf(buf + n, cap - n, "\n" EM_DASH " %s %s\n", sth->origin, b64);
    if (m < 0 || (size_t)m >= cap - n) {
        return TALLY_ELIMIT;
    }
    *n_out = n + (size_t)m;
    return TALLY_OK;
}

tally_status store_vkey(const char *origin, const uint8_t pk[32], char *buf, size_t cap)
{
    uint8_t id[4], typed[33];
    char b64[64];
    int n;

    key_id(origin, pk, id);
    typed[0] = 0x01; /* Ed25519 */
    memcpy(typed + 1, pk, 32);
    sodium_bin2base64(b64, sizeof(b64), typed, sizeof(typed), sodium_base64_VARIANT_ORIGINAL);
    n = snprintf(buf, cap, "%s+%02x%02x%02x%02x+%s", origin, id[0], id[1], id[2], id[3], b64);
    return n > 0 && (size_t)n < cap ? TALLY_OK : TALLY_ELIMIT;
}

/* Parses `name+hexid+base64(0x01 || pk)`. */
static tally_status vkey_parse(const char *vkey, char *name, size_t name_cap, uint8_t id[4],
                               uint8_t pk[32])
{
    const char *p1 = strchr(vkey, '+'), *p2;
    uint8_t typed[40];
    size_t tn;

    if (p1 == NULL || (size_t)(p1 - vkey) >= name_cap || p1 == vkey) {
        return TALLY_EFORMAT;
    }
    p2 = strchr(p1 + 1, '+');
    if (p2 == NULL || p2 - p1 - 1 != 8 || schema_unhex(p1 + 1, 8, id, 4) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    memcpy(name, vkey, (size_t)(p1 - vkey));
    name[p1 - vkey] = '\0';
    if (sodium_base642bin(typed, sizeof(typed), p2 + 1, strlen(p2 + 1), NULL, &tn, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        tn != 33 || typed[0] != 0x01) {
        return TALLY_EFORMAT;
    }
    memcpy(pk, typed + 1, 32);
    {
        uint8_t want[4];
        key_id(name, pk, want);
        if (memcmp(want, id, 4) != 0) {
            return TALLY_EFORMAT;
        }
    }
    return TALLY_OK;
}

/* Reads the checkpoint body: origin, decimal size, base64 root (extension lines allowed). */
static tally_status parse_body(const char *text, size_t n, const char *name, uint64_t *size,
                               uint8_t root[32])
{
    const char *l1 = memchr(text, '\n', n), *l2, *l3;
    size_t rn;
    uint64_t v = 0;

    if (l1 == NULL || (size_t)(l1 - text) != strlen(name) || memcmp(text, name, strlen(name))) {
        return TALLY_EFORMAT;
    }
    l2 = memchr(l1 + 1, '\n', n - (size_t)(l1 + 1 - text));
    if (l2 == NULL || l2 == l1 + 1 || (l1[1] == '0' && l2 != l1 + 2)) {
        return TALLY_EFORMAT;
    }
    for (const char *p = l1 + 1; p < l2; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
            return TALLY_EFORMAT;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    l3 = memchr(l2 + 1, '\n', n - (size_t)(l2 + 1 - text));
    if (l3 == NULL || sodium_base642bin(root, 32, l2 + 1, (size_t)(l3 - l2 - 1), NULL, &rn, NULL,
                                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
        rn != 32) {
        return TALLY_EFORMAT;
    }
    *size = v;
    return TALLY_OK;
}

tally_status store_note_verify(const char *note, size_t n, const char *vkey, uint64_t *size_out,
                               uint8_t root_out[32])
{
    char name[SCHEMA_ORIGIN_MAX + 2], prefix[SCHEMA_ORIGIN_MAX + 8];
    uint8_t id[4], pk[32], blob[72];
    const char *sep = NULL, *line;
    size_t text_n, pn, bn;
    bool ok = false;

    *size_out = 0;
    memset(root_out, 0, 32);
    if (vkey_parse(vkey, name, sizeof(name), id, pk) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (note[i] == '\n' && note[i + 1] == '\n') {
            sep = note + i;
            break;
        }
    }
    if (sep == NULL || note[n - 1] != '\n') {
        return TALLY_EFORMAT;
    }
    text_n = (size_t)(sep - note) + 1;
    pn = (size_t)snprintf(prefix, sizeof(prefix), EM_DASH " %s ", name);
    for (line = sep + 2; line < note + n;) {
        const char *end = memchr(line, '\n', (size_t)(note + n - line));
        size_t ln = (size_t)(end - line);
        if (ln > pn && memcmp(line, prefix, pn) == 0 &&
            sodium_base642bin(blob, sizeof(blob), line + pn, ln - pn, NULL, &bn, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            bn == 68 && memcmp(blob, id, 4) == 0) {
            if (crypto_sign_verify_detached(blob + 4, (const uint8_t *)note, text_n, pk) != 0) {
                return TALLY_EAUTH;
            }
            ok = true;
        }
        line = end + 1;
    }
    if (!ok) {
        return TALLY_EAUTH; /* no signature by this key */
    }
    return parse_body(note, text_n, name, size_out, root_out);
}

/* ---- cosignatures (c2sp.org/tlog-cosignature, cosignature/v1) ---- */

/* A key name as tally writes and accepts them: 1..STORE_NOTE_NAME_MAX bytes of 0x21..0x7E
 * without '+' (signed-note forbids spaces and '+'; tally keeps names ascii, as origins are). */
static bool name_ok(const char *p, size_t n)
{
    if (n < 1 || n > STORE_NOTE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '+') {
            return false;
        }
    }
    return true;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

tally_status store_cosig_vkey(const char *name, const uint8_t pk[32], char *buf, size_t cap)
{
    uint8_t id[4], typed[33];
    char b64[64];
    int n;

    if (cap > 0) {
        buf[0] = '\0';
    }
    if (!name_ok(name, strlen(name))) {
        return TALLY_EINVAL;
    }
    type_key_id(name, SIG_COSIG_V1, pk, id);
    typed[0] = SIG_COSIG_V1;
    memcpy(typed + 1, pk, 32);
    sodium_bin2base64(b64, sizeof(b64), typed, sizeof(typed), sodium_base64_VARIANT_ORIGINAL);
    n = snprintf(buf, cap, "%s+%02x%02x%02x%02x+%s", name, id[0], id[1], id[2], id[3], b64);
    if (n <= 0 || (size_t)n >= cap) {
        if (cap > 0) {
            buf[0] = '\0';
        }
        return TALLY_ELIMIT;
    }
    return TALLY_OK;
}

tally_status store_cosig_vkey_parse(const char *vkey, char *name, uint8_t id[4], uint8_t pk[32])
{
    const char *p1 = strchr(vkey, '+'), *p2;
    uint8_t typed[34], want[4];
    size_t tn, nn;

    name[0] = '\0';
    memset(id, 0, 4);
    memset(pk, 0, 32);
    if (p1 == NULL) {
        return TALLY_EFORMAT;
    }
    nn = (size_t)(p1 - vkey);
    p2 = strchr(p1 + 1, '+');
    if (!name_ok(vkey, nn) || p2 == NULL || p2 - p1 - 1 != 8 ||
        schema_unhex(p1 + 1, 8, want, 4) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    /* the whole rest is the base64 of exactly 33 bytes: type 0x04 and the Ed25519 key */
    if (strlen(p2 + 1) != 44 ||
        sodium_base642bin(typed, sizeof(typed), p2 + 1, 44, NULL, &tn, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        tn != 33 || typed[0] != SIG_COSIG_V1) {
        return TALLY_EFORMAT;
    }
    memcpy(name, vkey, nn);
    name[nn] = '\0';
    type_key_id(name, SIG_COSIG_V1, typed + 1, id);
    if (memcmp(want, id, 4) != 0) {
        name[0] = '\0';
        memset(id, 0, 4);
        return TALLY_EFORMAT;
    }
    memcpy(pk, typed + 1, 32);
    return TALLY_OK;
}

/* The signed message: "cosignature/v1\ntime <ts>\n" || text, into msg (cap bytes). */
static tally_status cosig_message(const char *text, size_t n, uint64_t ts, uint8_t *msg,
                                  size_t cap, size_t *mn)
{
    int h = snprintf((char *)msg, cap, "cosignature/v1\ntime %" PRIu64 "\n", ts);

    *mn = 0;
    if (n == 0 || text[n - 1] != '\n' || n > STORE_NOTE_MAX) {
        return TALLY_EFORMAT;
    }
    if (h <= 0 || (size_t)h >= cap || cap - (size_t)h < n) {
        return TALLY_ELIMIT;
    }
    memcpy(msg + h, text, n);
    *mn = (size_t)h + n;
    return TALLY_OK;
}

#define MSG_MAX (STORE_NOTE_MAX + 64u)

tally_status store_cosig_sign(const char *text, size_t n, const char *name, const uint8_t sk[64],
                              uint64_t timestamp, char *buf, size_t cap, size_t *n_out)
{
    uint8_t msg[MSG_MAX], blob[76], pk[32];
    char b64[128];
    size_t mn;
    int m;
    tally_status st;

    *n_out = 0;
    if (cap > 0) {
        buf[0] = '\0';
    }
    if (!name_ok(name, strlen(name)) || timestamp > STORE_COSIG_TIME_MAX) {
        return TALLY_EINVAL;
    }
    st = cosig_message(text, n, timestamp, msg, sizeof(msg), &mn);
    if (st != TALLY_OK) {
        return st;
    }
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    type_key_id(name, SIG_COSIG_V1, pk, blob);
    for (int i = 0; i < 8; i++) {
        blob[4 + i] = (uint8_t)(timestamp >> (56 - 8 * i));
    }
    crypto_sign_detached(blob + 12, NULL, msg, mn, sk);
    sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
    m = snprintf(buf, cap, EM_DASH " %s %s\n", name, b64);
    if (m <= 0 || (size_t)m >= cap) {
        if (cap > 0) {
            buf[0] = '\0';
        }
        return TALLY_ELIMIT;
    }
    *n_out = (size_t)m;
    return TALLY_OK;
}

/* One signature line (without its newline): "— " name " " base64 with nothing else. Sets the
 * views of its name and its base64. */
static tally_status sig_line(const char *line, size_t ln, tally_str *name, tally_str *b64)
{
    const size_t dash = sizeof(EM_DASH) - 1;
    const char *sp;

    if (ln < dash + 4 || memcmp(line, EM_DASH " ", dash + 1) != 0) {
        return TALLY_EFORMAT;
    }
    sp = memchr(line + dash + 1, ' ', ln - dash - 1);
    if (sp == NULL) {
        return TALLY_EFORMAT;
    }
    *name = (tally_str){line + dash + 1, (size_t)(sp - line) - dash - 1};
    *b64 = (tally_str){sp + 1, ln - (size_t)(sp + 1 - line)};
    if (!name_ok(name->p, name->n) || b64->n < 8) {
        return TALLY_EFORMAT;
    }
    for (size_t i = 0; i < b64->n; i++) {
        if (!b64_char(b64->p[i])) {
            return TALLY_EFORMAT;
        }
    }
    return TALLY_OK;
}

tally_status store_cosig_verify(const char *text, size_t n, const char *line, size_t ln,
                                const char *vkey, uint64_t *timestamp_out)
{
    char name[STORE_NOTE_NAME_MAX + 1];
    uint8_t id[4], pk[32], head[6], blob[77], msg[MSG_MAX];
    tally_str lname, b64;
    size_t bn, mn;
    uint64_t ts = 0;
    tally_status st;

    *timestamp_out = 0;
    if (ln > 0 && line[ln - 1] == '\n') {
        ln--;
    }
    if (store_cosig_vkey_parse(vkey, name, id, pk) != TALLY_OK ||
        sig_line(line, ln, &lname, &b64) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    /* signed-note: a line is a key's only if both its name and its key id are the key's */
    if (lname.n != strlen(name) || memcmp(lname.p, name, lname.n) != 0) {
        return TALLY_ENOTFOUND;
    }
    if (sodium_base642bin(head, sizeof(head), b64.p, 8, NULL, &bn, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 || bn != 6) {
        return TALLY_EFORMAT;
    }
    if (memcmp(head, id, 4) != 0) {
        return TALLY_ENOTFOUND;
    }
    /* this key's line: from here on, anything wrong is a signature that does not verify */
    if (sodium_base642bin(blob, sizeof(blob), b64.p, b64.n, NULL, &bn, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 || bn != 76) {
        return TALLY_EAUTH;
    }
    for (int i = 0; i < 8; i++) {
        ts = ts << 8 | blob[4 + i];
    }
    if (ts > STORE_COSIG_TIME_MAX) {
        return TALLY_EAUTH;
    }
    st = cosig_message(text, n, ts, msg, sizeof(msg), &mn);
    if (st != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    if (crypto_sign_verify_detached(blob + 12, msg, mn, pk) != 0) {
        return TALLY_EAUTH;
    }
    *timestamp_out = ts;
    return TALLY_OK;
}

tally_status store_note_split(const char *note, size_t n, store_note_parts *out)
{
    size_t sep = 0, i;
    bool found = false;

    memset(out, 0, sizeof(*out));
    if (n < 2 || n > STORE_NOTE_MAX || note[n - 1] != '\n') {
        return TALLY_EFORMAT;
    }
    /* the text ends at the last blank line (signature lines are never empty) */
    for (i = n - 1; i > 0; i--) {
        if (note[i] == '\n' && note[i - 1] == '\n') {
            sep = i - 1, found = true;
            break;
        }
    }
    if (!found || sep + 2 >= n) {
        return TALLY_EFORMAT;
    }
    /* every line valid UTF-8 with no control character (the newlines excepted) */
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(note + at, '\n', n - at);
        size_t ln = (size_t)(nl - (note + at));
        if (!schema_text_ok(note + at, ln)) {
            return TALLY_EFORMAT;
        }
        at += ln + 1;
    }
    for (size_t at = sep + 2; at < n;) {
        const char *nl = memchr(note + at, '\n', n - at);
        size_t ln = (size_t)(nl - (note + at));
        tally_str name, b64;
        if (sig_line(note + at, ln, &name, &b64) != TALLY_OK) {
            memset(out, 0, sizeof(*out));
            return TALLY_EFORMAT;
        }
        if (out->n_sigs == STORE_NOTE_SIGS_MAX) {
            memset(out, 0, sizeof(*out));
            return TALLY_ELIMIT;
        }
        out->sigs[out->n_sigs++] = (tally_str){note + at, ln};
        at += ln + 1;
    }
    out->text = (tally_str){note, sep + 1};
    return TALLY_OK;
}

tally_status store_note_append(char *buf, size_t n, size_t cap, const char *lines, size_t ln,
                               size_t *n_out)
{
    store_note_parts parts;
    tally_status st;

    *n_out = 0;
    /* both parts must be well-formed on their own: the note, and only signature lines to add */
    st = store_note_split(buf, n, &parts);
    if (st != TALLY_OK) {
        return st;
    }
    if (ln == 0 || lines[ln - 1] != '\n') {
        return TALLY_EFORMAT;
    }
    for (size_t at = 0; at < ln;) {
        const char *nl = memchr(lines + at, '\n', ln - at);
        size_t l = (size_t)(nl - (lines + at));
        tally_str name, b64;
        if (!schema_text_ok(lines + at, l) || sig_line(lines + at, l, &name, &b64) != TALLY_OK) {
            return TALLY_EFORMAT;
        }
        if (++parts.n_sigs > STORE_NOTE_SIGS_MAX) {
            return TALLY_ELIMIT;
        }
        at += l + 1;
    }
    if (n + ln > STORE_NOTE_MAX || cap <= n + ln) {
        return TALLY_ELIMIT;
    }
    memcpy(buf + n, lines, ln);
    buf[n + ln] = '\0';
    *n_out = n + ln;
    return TALLY_OK;
}

/* C2SP signed notes: the checkpoint text (c2sp.org/tlog-checkpoint), its signature line, the
 * verifier key string, and verification that ignores other signers' lines. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

#define EM_DASH "\xe2\x80\x94"

static void key_id(const char *name, const uint8_t pk[32], uint8_t id[4])
{
    crypto_hash_sha256_state st;
    uint8_t h[32], sep[2] = {0x0a, 0x01};

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(id, h, 4);
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

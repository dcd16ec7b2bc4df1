/* §5.5 and §14.3: the node's write receipt, its signed message, its JSON form, and the client's
 * check that a receipt covers exactly the items it sent. */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"

#define RECEIPT_JSON_MAX (64u << 10) /* bytes of a receipt's JSON text */
#define RECEIPT_MSG_MAX (16u << 10) /* bytes of its message: 200 entries of ≤ 53 bytes, and more \
                                     */

static bool receipt_ok(const wire_receipt *r)
{
    size_t on = strnlen(r->origin, sizeof(r->origin));

    if (on == sizeof(r->origin) || !wire__origin_ok((tally_str){r->origin, on}) || r->nonce == 0 ||
        r->nonce > SCHEMA_ID_MAX || r->tree_size > SCHEMA_ID_MAX || r->n > WIRE_RECEIPT_MAX) {
        return false;
    }
    for (size_t i = 0; i < r->n; i++) {
        const wire_receipt_entry *e = &r->entries[i];
        if (e->seq >= r->tree_size || e->time_ms > SCHEMA_ID_MAX ||
            (i > 0 && e->seq <= r->entries[i - 1].seq)) {
            return false;
        }
    }
    return true;
}

tally_status wire_receipt_message(const wire_receipt *r, uint8_t **out, size_t *n_out)
{
    static const char tag[] = "tally-receipt-v1";
    schema_mpw w;

    *out = NULL;
    *n_out = 0;
    if (!receipt_ok(r)) {
        return TALLY_EINVAL;
    }
    schema_mpw_init(&w, RECEIPT_MSG_MAX);
    schema_mpw_array(&w, 7);
    schema_mpw_str(&w, tag, sizeof(tag) - 1);
    schema_mpw_str(&w, r->origin, strlen(r->origin));
    schema_mpw_bin(&w, r->key, 32);
    schema_mpw_uint(&w, r->nonce);
    schema_mpw_uint(&w, r->tree_size);
    schema_mpw_bin(&w, r->root, 32);
    schema_mpw_array(&w, r->n);
    for (size_t i = 0; i < r->n; i++) {
        schema_mpw_array(&w, 3);
        schema_mpw_uint(&w, r->entries[i].seq);
        schema_mpw_uint(&w, r->entries[i].time_ms);
        schema_mpw_bin(&w, r->entries[i].leaf_hash, 32);
    }
    return schema_mpw_finish(&w, out, n_out);
}

tally_status wire_receipt_sign(const wire_receipt *r, const uint8_t sk[64], uint8_t sig_out[64])
{
    uint8_t *m;
    size_t n;
    tally_status st = wire_receipt_message(r, &m, &n);

    memset(sig_out, 0, 64);
    if (st == TALLY_OK) {
        crypto_sign_detached(sig_out, NULL, m, n, sk);
        free(m);
    }
    return st;
}

tally_status wire_receipt_verify(const wire_receipt *r, const uint8_t sig[64],
                                 const uint8_t node_pk[32])
{
    uint8_t *m;
    size_t n;
    tally_status st = wire_receipt_message(r, &m, &n);

    if (st != TALLY_OK) {
        return st;
    }
    st = crypto_sign_verify_detached(sig, m, n, node_pk) == 0 ? TALLY_OK : TALLY_EAUTH;
    free(m);
    return st;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char buf[129];

    schema_hex(p, n, buf);
    return json_string(buf);
}

tally_status wire_receipt_to_json(const wire_receipt *r, const uint8_t sig[64], char **out)
{
    json_t *o, *entries;
    tally_status st = TALLY_ENOMEM;

    *out = NULL;
    if (!receipt_ok(r)) {
        return TALLY_EINVAL;
    }
    o = json_object();
    entries = json_array();
    if (o == NULL || entries == NULL) {
        json_decref(entries);
        goto fail;
    }
    for (size_t i = 0; i < r->n; i++) {
        const wire_receipt_entry *e = &r->entries[i];
        if (json_array_append_new(entries,
                                  json_pack("[IIo]", (json_int_t)e->seq, (json_int_t)e->time_ms,
                                            hex_json(e->leaf_hash, 32))) != 0) {
            json_decref(entries);
            goto fail;
        }
    }
    if (json_object_set_new(o, "origin", json_string(r->origin)) != 0 ||
        json_object_set_new(o, "key", hex_json(r->key, 32)) != 0 ||
        json_object_set_new(o, "nonce", json_integer((json_int_t)r->nonce)) != 0 ||
        json_object_set_new(o, "tree_size", json_integer((json_int_t)r->tree_size)) != 0 ||
        json_object_set_new(o, "root", hex_json(r->root, 32)) != 0 ||
        json_object_set_new(o, "entries", entries) != 0 ||
        json_object_set_new(o, "sig", hex_json(sig, 64)) != 0) {
        goto fail;
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    st = *out != NULL ? TALLY_OK : TALLY_ENOMEM;
fail:
    json_decref(o);
    return st;
}

/* A JSON integer within 0..max (never a real, a string or a boolean). */
static bool int_of(const json_t *v, uint64_t max, uint64_t *out)
{
    json_int_t i;

    if (!json_is_integer(v)) {
        return false;
    }
    i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max) {
        return false;
    }
    *out = (uint64_t)i;
    return true;
}

static bool hex_of(const json_t *v, uint8_t *out, size_t n)
{
    const char *s = json_string_value(v);

    return s != NULL && json_string_length(v) == 2 * n &&
           schema_unhex(s, 2 * n, out, n) == TALLY_OK;
}

static bool entries_of(const json_t *a, wire_receipt *r)
{
    size_t n = json_array_size(a);

    if (!json_is_array(a) || n > WIRE_RECEIPT_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        if (!json_is_array(e) || json_array_size(e) != 3 ||
            !int_of(json_array_get(e, 0), SCHEMA_ID_MAX, &r->entries[i].seq) ||
            !int_of(json_array_get(e, 1), SCHEMA_ID_MAX, &r->entries[i].time_ms) ||
            !hex_of(json_array_get(e, 2), r->entries[i].leaf_hash, 32)) {
            return false;
        }
    }
    r->n = n;
    return true;
}

tally_status wire_receipt_from_json(const char *json, size_t n, wire_receipt *out,
                                    uint8_t sig_out[64])
{
    json_t *o = NULL, *origin;
    bool ok;

    memset(out, 0, sizeof(*out));
    memset(sig_out, 0, 64);
    if (json == NULL || n > RECEIPT_JSON_MAX) {
        return TALLY_EFORMAT;
    }
    o = json_loadb(json, n, JSON_REJECT_DUPLICATES, NULL);
    origin = json_object_get(o, "origin");
    ok = json_is_object(o) && json_object_size(o) == 7 && json_is_string(origin) &&
         json_string_length(origin) < sizeof(out->origin) &&
         strlen(json_string_value(origin)) == json_string_length(origin);
    if (ok) {
        memcpy(out->origin, json_string_value(origin), json_string_length(origin));
    }
    ok = ok && hex_of(json_object_get(o, "key"), out->key, 32) &&
         int_of(json_object_get(o, "nonce"), SCHEMA_ID_MAX, &out->nonce) &&
         int_of(json_object_get(o, "tree_size"), SCHEMA_ID_MAX, &out->tree_size) &&
         hex_of(json_object_get(o, "root"), out->root, 32) &&
         entries_of(json_object_get(o, "entries"), out) &&
         hex_of(json_object_get(o, "sig"), sig_out, 64) && receipt_ok(out);
    json_decref(o);
    if (!ok) {
        memset(out, 0, sizeof(*out));
        memset(sig_out, 0, 64);
        return TALLY_EFORMAT;
    }
    return TALLY_OK;
}

/* SHA-256(0x00 || header) of the header the client rebuilds for one of its items. */
static tally_status leaf_of(const wire_signed *it, const uint8_t key[32], unsigned type,
                            uint64_t time_ms, uint8_t leaf[32])
{
    static const uint8_t zero = 0;
    uint8_t hb[SCHEMA_HEADER_MAX];
    size_t hn;
    schema_body b;
    schema_header h;
    tally_status st = schema_body_decode(type, it->body.p, it->body.n, &b);

    if (st != TALLY_OK) {
        return st;
    }
    st = schema_header_init(&b, it->body.p, it->body.n, key, &h);
    schema_body_release(&b);
    if (st != TALLY_OK) {
        return st;
    }
    memcpy(h.actor_sig, it->sig, 64);
    h.time_ms = time_ms;
    st = schema_header_encode(&h, hb, sizeof(hb), &hn);
    if (st == TALLY_OK) {
        schema_sha256_2(leaf, &zero, 1, hb, hn);
    }
    return st;
}

tally_status wire_receipt_check_items(const wire_receipt *r, const uint8_t sig[64],
                                      const uint8_t node_pk[32], tally_str origin,
                                      const uint8_t key[32], const wire_signed *items, size_t n,
                                      unsigned type)
{
    tally_status st;

    if (type != SCHEMA_ODDS_SUBMISSION && type != SCHEMA_OUTCOME) {
        return TALLY_EINVAL;
    }
    st = wire_receipt_verify(r, sig, node_pk);
    if (st != TALLY_OK) {
        return st;
    }
    if (strlen(r->origin) != origin.n || memcmp(r->origin, origin.p, origin.n) != 0 ||
        sodium_memcmp(r->key, key, 32) != 0 || r->n != n) {
        return TALLY_ECONFLICT;
    }
    for (size_t k = 0; k < n; k++) {
        uint8_t leaf[32];
        st = leaf_of(&items[k], key, type, r->entries[k].time_ms, leaf);
        if (st != TALLY_OK) {
            return st;
        }
        if (memcmp(leaf, r->entries[k].leaf_hash, 32) != 0) {
            return TALLY_ECONFLICT;
        }
    }
    return TALLY_OK;
}

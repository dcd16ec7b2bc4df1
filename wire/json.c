/* Client side (`tally sign`): a JSON odds or outcome request to canonical item bodies, with the
 * request nonce, each item's position and a fresh salt filled in. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"

#define REQUEST_JSON_MAX (1u << 20) /* bytes of a JSON request */

static tally_status fail_at(schema_field_error *err, const char *path, const char *what)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        snprintf(err->path, sizeof(err->path), "%s", path);
        snprintf(err->what, sizeof(err->what), "%s", what);
    }
    return TALLY_EFORMAT;
}

void wire_bodies_release(wire_bodies *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        free(b->body[i]);
    }
    free(b->body);
    free(b->len);
    b->body = NULL;
    b->len = NULL;
    b->n = 0;
}

/* Sets member name to v unless present; a present value must equal it. */
static bool fill_int(json_t *o, const char *name, uint64_t v)
{
    json_t *have = json_object_get(o, name);

    if (have != NULL) {
        return json_is_integer(have) && json_integer_value(have) == (json_int_t)v;
    }
    return json_object_set_new(o, name, json_integer((json_int_t)v)) == 0;
}

/* One item object to its canonical body bytes (malloc'd). */
static tally_status one(unsigned type, json_t *item, uint64_t nonce, size_t i, uint8_t **out,
                        size_t *n_out, schema_field_error *err)
{
    uint8_t salt[16], *buf = NULL;
    char pre[32], *text = NULL;
    schema_body b;
    tally_status st;

    snprintf(pre, sizeof(pre), "items[%zu]", i);
    if (!json_is_object(item)) {
        return fail_at(err, pre, "an item is a JSON object");
    }
    if (!fill_int(item, "nonce", nonce) || !fill_int(item, "idx", i)) {
        return fail_at(err, pre, "a given nonce or idx differs from the request's");
    }
    if (type == SCHEMA_OUTCOME && json_object_get(item, "source") == NULL &&
        json_object_set_new(item, "source", json_string("miner")) != 0) {
        return TALLY_ENOMEM;
    }
    randombytes_buf(salt, sizeof(salt));
    /* set here, not through salt_fill: an OUTCOME's salt is optional in its schema */
    if (json_object_get(item, "salt") == NULL) {
        char hex[33];
        schema_hex(salt, sizeof(salt), hex);
        if (json_object_set_new(item, "salt", json_string(hex)) != 0) {
            return TALLY_ENOMEM;
        }
    }
    text = json_dumps(item, JSON_COMPACT);
    if (text == NULL) {
        return TALLY_ENOMEM;
    }
    st = schema_body_from_json(type, text, strlen(text), salt, &b, err);
    free(text);
    if (st != TALLY_OK) {
        if (err != NULL) {
            char path[SCHEMA_PATH_MAX + sizeof(pre) + 1];
            snprintf(path, sizeof(path), "%s%s%s", pre, err->path[0] ? "." : "", err->path);
            memcpy(err->path, path, sizeof(err->path) - 1);
            err->path[sizeof(err->path) - 1] = '\0';
        }
        return st;
    }
    buf = malloc(SCHEMA_BODY_MAX);
    st = buf == NULL ? TALLY_ENOMEM : schema_body_encode(&b, buf, SCHEMA_BODY_MAX, n_out);
    schema_body_release(&b);
    if (st != TALLY_OK) {
        free(buf);
        return st == TALLY_ENOMEM ? st : fail_at(err, pre, "the body breaks a rule");
    }
    *out = buf;
    return TALLY_OK;
}

static tally_status from_json(unsigned type, size_t max, const char *json, size_t n, uint64_t nonce,
                              wire_bodies *out, schema_field_error *err)
{
    json_t *root = NULL, *items;
    tally_status st = TALLY_OK;
    size_t k;

    out->body = NULL;
    out->len = NULL;
    out->n = 0;
    if (json == NULL || n > REQUEST_JSON_MAX) {
        return fail_at(err, "", "no JSON, or over 1 MiB");
    }
    root = json_loadb(json, n, JSON_REJECT_DUPLICATES, NULL);
    items = json_object_get(root, "items");
    if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_array(items) ||
        json_array_size(items) == 0) {
        json_decref(root);
        return fail_at(err, "", "the request is {\"items\": [item, ...]} with one item or more");
    }
    k = json_array_size(items);
    if (k > max) {
        json_decref(root);
        (void)fail_at(err, "items", "too many items");
        return TALLY_ELIMIT;
    }
    out->body = calloc(k, sizeof(*out->body));
    out->len = calloc(k, sizeof(*out->len));
    if (out->body == NULL || out->len == NULL) {
        st = TALLY_ENOMEM;
    }
    for (size_t i = 0; i < k && st == TALLY_OK; i++) {
        st = one(type, json_array_get(items, i), nonce, i, &out->body[i], &out->len[i], err);
        out->n = st == TALLY_OK ? i + 1 : out->n;
    }
    json_decref(root);
    if (st != TALLY_OK) {
        out->n = out->body != NULL ? k : 0; /* the unset slots are NULL: free() takes them */
        wire_bodies_release(out);
    }
    return st;
}

tally_status wire_odds_from_json(const char *json, size_t n, uint64_t nonce, wire_bodies *out,
                                 schema_field_error *err)
{
    return from_json(SCHEMA_ODDS_SUBMISSION, WIRE_ODDS_ITEMS_MAX, json, n, nonce, out, err);
}

tally_status wire_outcomes_from_json(const char *json, size_t n, uint64_t nonce, wire_bodies *out,
                                     schema_field_error *err)
{
    return from_json(SCHEMA_OUTCOME, WIRE_OUTCOME_ITEMS_MAX, json, n, nonce, out, err);
}

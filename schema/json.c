/* JSON views of records (spec §3): named fields, hex binaries, SS58 hotkeys, lower-case
 * enumeration names, stake as a decimal string. The same descriptors as the msgpack codec drive
 * both directions, so a field cannot be named one way on the wire and another in JSON. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_int.h"

#define AT(base, off, T) ((T *)(void *)((uint8_t *)(base) + (off)))
#define CAT(base, off, T) ((const T *)(const void *)((const uint8_t *)(base) + (off)))

/* ---- out ---- */

static json_t *obj_out(const schema__desc *d, const void *base);

static json_t *val_out(const schema__field *f, const void *base)
{
    char hex[129], ss[49], dec[24];

    if ((f->flags & SF_NULL) && !*CAT(base, f->aux, bool)) {
        return json_null();
    }
    switch (f->kind) {
    case SF_UINT: {
        uint64_t v = *CAT(base, f->off, uint64_t);
        if (f->names != NULL && v < f->n_names && f->names[v][0] != '\0') {
            return json_string(f->names[v]);
        }
        /* JSON numbers are exact only to 2^53 − 1: beyond, and for stake always, a string */
        if ((f->flags & SF_DECSTR) || v > SCHEMA_ID_MAX) {
            snprintf(dec, sizeof(dec), "%" PRIu64, v);
            return json_string(dec);
        }
        return json_integer((json_int_t)v);
    }
    case SF_INT: {
        int64_t v = *CAT(base, f->off, int64_t);
        if (v > (int64_t)SCHEMA_ID_MAX || v < -(int64_t)SCHEMA_ID_MAX) {
            snprintf(dec, sizeof(dec), "%" PRId64, v);
            return json_string(dec);
        }
        return json_integer((json_int_t)v);
    }
    case SF_BOOL:
        return json_boolean(*CAT(base, f->off, bool));
    case SF_BIN:
        if (f->flags & SF_SS58) {
            schema_ss58_encode(CAT(base, f->off, uint8_t), ss);
            return json_string(ss);
        }
        schema_hex(CAT(base, f->off, uint8_t), f->lo, hex);
        return json_string(hex);
    case SF_STR: {
        const tally_str *s = CAT(base, f->off, tally_str);
        return json_stringn(s->p ? s->p : "", s->n);
    }
    case SF_TUPLE:
        return obj_out(f->sub, CAT(base, f->off, void));
    case SF_PVALUE: {
        const schema_pvalue *pv = CAT(base, f->off, schema_pvalue);
        if (pv->kind == SCHEMA_PV_INT) {
            return json_integer((json_int_t)pv->i);
        }
        if (pv->kind == SCHEMA_PV_BOOL) {
            return json_boolean(pv->b);
        }
        return json_stringn(pv->s.p ? pv->s.p : "", pv->s.n);
    }
    case SF_ARRAY:
    case SF_FIXED: {
        const uint8_t *items =
            f->kind == SF_FIXED ? CAT(base, f->off, uint8_t) : *CAT(base, f->off, uint8_t *);
        size_t n = f->kind == SF_FIXED ? f->lo : *CAT(base, f->aux, size_t);
        json_t *a = f->members != NULL ? json_object() : json_array();
        for (size_t i = 0; a != NULL && i < n; i++) {
            const uint8_t *e = items + i * f->sub->size;
            json_t *x = f->sub->scalar ? val_out(&f->sub->f[0], e) : obj_out(f->sub, e);
            int rc = x == NULL            ? -1
                     : f->members != NULL ? json_object_set_new(a, f->members[i], x)
                                          : json_array_append_new(a, x);
            if (rc != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    }
    return NULL;
}

static json_t *obj_out(const schema__desc *d, const void *base)
{
    json_t *o = json_object();

    for (size_t i = 0; o != NULL && i < d->n; i++) {
        json_t *v = val_out(&d->f[i], base);
        if (v == NULL || json_object_set_new(o, d->f[i].name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static tally_status dump(json_t *o, char **out)
{
    *out = NULL;
    if (o == NULL) {
        return TALLY_ENOMEM;
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return *out != NULL ? TALLY_OK : TALLY_ENOMEM;
}

tally_status schema_body_to_json(const schema_body *b, char **out)
{
    const schema__desc *d = schema__body_desc(b->type);

    *out = NULL;
    if (d == NULL) {
        return TALLY_EINVAL;
    }
    return dump(obj_out(d, &b->u), out);
}

tally_status schema_record_to_json(uint64_t seq, const uint8_t leaf_hash[32],
                                   const schema_header *h, const schema_body *b, char **out)
{
    json_t *o = json_object(), *hdr;
    char hex[65];
    const char *k;
    json_t *v;

    *out = NULL;
    if (o == NULL) {
        return TALLY_ENOMEM;
    }
    hdr = obj_out(&schema__header_desc, h);
    if (hdr == NULL) {
        json_decref(o);
        return TALLY_ENOMEM;
    }
    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    schema_hex(leaf_hash, 32, hex);
    json_object_set_new(o, "leaf_hash", json_string(hex));
    json_object_foreach(hdr, k, v)
    {
        if (strcmp(k, "version") == 0) {
            continue;
        }
        if (strcmp(k, "type") == 0) {
            json_object_set_new(o, "type", json_string(schema_type_name((unsigned)h->type)));
        } else {
            json_object_set(o, k, v);
        }
    }
    json_decref(hdr);
    json_object_set_new(o, "body",
                        b != NULL ? obj_out(schema__body_desc(b->type), &b->u) : json_null());
    return dump(o, out);
}

/* ---- in ---- */

typedef struct jin {
    schema_body *b;
    const uint8_t *salt_fill;
    schema_field_error *err; /* NULL: the caller wants no detail */
} jin;

/* Malformed input at a field: its name now, the levels above put theirs in front. */
static tally_status fail(jin *j, const char *field, const char *why)
{
    return schema__bad(j->err, SCHEMA_BAD_NONE, field, "%s", why);
}

static tally_status obj_in(jin *j, const schema__desc *d, json_t *o, void *base);

static tally_status uint_in(jin *j, const schema__field *f, json_t *v, uint64_t *out)
{
    if (json_is_string(v) && f->names != NULL) {
        for (uint8_t k = 0; k < f->n_names; k++) {
            if (f->names[k][0] != '\0' && strcmp(f->names[k], json_string_value(v)) == 0) {
                *out = k;
                return TALLY_OK;
            }
        }
        return fail(j, f->name, "unknown name");
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0')) {
            return fail(j, f->name, "not a decimal string");
        }
        errno = 0;
        *out = strtoull(s, &end, 10);
        return *end == '\0' && errno == 0 ? TALLY_OK : fail(j, f->name, "not a decimal string");
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return fail(j, f->name, "expected a non-negative integer");
    }
    *out = (uint64_t)json_integer_value(v);
    return TALLY_OK;
}

static tally_status str_copy(jin *j, json_t *v, tally_str *out)
{
    size_t n = json_string_length(v);
    char *p = schema__alloc(j->b, n + 1);

    if (p == NULL) {
        return TALLY_ENOMEM;
    }
    memcpy(p, json_string_value(v), n);
    *out = (tally_str){p, n};
    return TALLY_OK;
}

static tally_status array_in(jin *j, const schema__field *f, json_t *v, void *base);

static tally_status val_in(jin *j, const schema__field *f, json_t *v, void *base)
{
    if (f->flags & SF_NULL) {
        if (json_is_null(v)) {
            return TALLY_OK;
        }
        *AT(base, f->aux, bool) = true;
    }
    switch (f->kind) {
    case SF_UINT:
        return uint_in(j, f, v, AT(base, f->off, uint64_t));
    case SF_INT:
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            char *end;
            errno = 0;
            *AT(base, f->off, int64_t) = strtoll(s, &end, 10);
            return s[0] != '\0' && s[0] != '+' && s[0] != ' ' && *end == '\0' && errno == 0
                       ? TALLY_OK
                       : fail(j, f->name, "not a decimal string");
        }
        if (!json_is_integer(v)) {
            return fail(j, f->name, "expected an integer");
        }
        *AT(base, f->off, int64_t) = (int64_t)json_integer_value(v);
        return TALLY_OK;
    case SF_BOOL:
        if (!json_is_boolean(v)) {
            return fail(j, f->name, "expected true or false");
        }
        *AT(base, f->off, bool) = json_is_true(v);
        return TALLY_OK;
    case SF_BIN:
        if (!json_is_string(v)) {
            return fail(j, f->name, "expected a string");
        }
        if (f->flags & SF_SS58) {
            return schema_ss58_decode(json_string_value(v), AT(base, f->off, uint8_t)) == TALLY_OK
                       ? TALLY_OK
                       : fail(j, f->name, "not an SS58 address (prefix 42)");
        }
        return schema_unhex(json_string_value(v), json_string_length(v), AT(base, f->off, uint8_t),
                            f->lo) == TALLY_OK
                   ? TALLY_OK
                   : fail(j, f->name, "expected lower-case hex of the right length");
    case SF_STR:
        if (!json_is_string(v)) {
            return fail(j, f->name, "expected a string");
        }
        return str_copy(j, v, AT(base, f->off, tally_str));
    case SF_TUPLE: {
        tally_status st = obj_in(j, f->sub, v, AT(base, f->off, void));
        if (st == TALLY_EFORMAT) {
            schema__path_push(j->err, f->name, false, 0);
        }
        return st;
    }
    case SF_PVALUE: {
        schema_pvalue *pv = AT(base, f->off, schema_pvalue);
        if (json_is_integer(v)) {
            pv->kind = SCHEMA_PV_INT, pv->i = (int64_t)json_integer_value(v);
            return TALLY_OK;
        }
        if (json_is_boolean(v)) {
            pv->kind = SCHEMA_PV_BOOL, pv->b = json_is_true(v);
            return TALLY_OK;
        }
        if (json_is_string(v)) {
            pv->kind = SCHEMA_PV_TEXT;
            return str_copy(j, v, &pv->s);
        }
        return fail(j, f->name, "expected an integer, text or boolean");
    }
    case SF_ARRAY:
    case SF_FIXED:
        return array_in(j, f, v, base);
    }
    return fail(j, f->name, "unsupported");
}

/* One element of a fixed array with named members, read from member members[i] of object v.
 * A scalar element's errors name the member ("stats.cal"). */
static tally_status member_in(jin *j, const schema__field *f, json_t *v, size_t i, uint8_t *e)
{
    json_t *x = json_object_get(v, f->members[i]);
    tally_status st;

    if (x == NULL) {
        st = fail(j, f->members[i], "missing");
    } else if (!f->sub->scalar) {
        st = obj_in(j, f->sub, x, e);
    } else {
        schema__field ef = f->sub->f[0];
        ef.name = f->members[i];
        st = val_in(j, &ef, x, e);
    }
    if (st == TALLY_EFORMAT && f->sub->scalar && j->err != NULL) {
        /* the member is the item: its own name is already the last segment */
        schema__path_push(j->err, f->name, false, 0);
    } else if (st == TALLY_EFORMAT && j->err != NULL) {
        if (x != NULL) {
            schema__path_push(j->err, f->members[i], false, 0);
        }
        schema__path_push(j->err, f->name, false, 0);
    }
    return st;
}

/* A fixed array with named members: an object with exactly those members, in any order. */
static tally_status members_in(jin *j, const schema__field *f, json_t *v, void *base)
{
    uint8_t *items = AT(base, f->off, uint8_t);
    const char *k;
    json_t *x;

    if (!json_is_object(v)) {
        return fail(j, f->name, "expected an object of named members");
    }
    json_object_foreach(v, k, x)
    {
        bool known = false;
        for (size_t i = 0; i < f->lo; i++) {
            known = known || strcmp(f->members[i], k) == 0;
        }
        if (!known) {
            fail(j, k, "unknown member");
            schema__path_push(j->err, f->name, false, 0);
            return TALLY_EFORMAT;
        }
    }
    for (size_t i = 0; i < f->lo; i++) {
        tally_status st = member_in(j, f, v, i, items + i * f->sub->size);
        if (st != TALLY_OK) {
            return st;
        }
    }
    return TALLY_OK;
}

static tally_status array_in(jin *j, const schema__field *f, json_t *v, void *base)
{
    size_t n;
    uint8_t *items;

    if (f->members != NULL) {
        return members_in(j, f, v, base);
    }
    if (!json_is_array(v)) {
        return fail(j, f->name, "expected an array");
    }
    n = json_array_size(v);
    if (n < f->lo || n > f->hi) {
        return schema__bad(j->err, SCHEMA_BAD_COUNT, f->name, "%zu items; allowed %llu..%llu", n,
                           (unsigned long long)f->lo, (unsigned long long)f->hi);
    }
    if (f->kind == SF_FIXED) {
        items = AT(base, f->off, uint8_t);
    } else {
        items = n ? schema__alloc(j->b, n * f->sub->size) : NULL;
        if (n && items == NULL) {
            return TALLY_ENOMEM;
        }
        *AT(base, f->off, void *) = items;
        *AT(base, f->aux, size_t) = n;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = items + i * f->sub->size;
        json_t *x = json_array_get(v, i);
        tally_status st =
            f->sub->scalar ? val_in(j, &f->sub->f[0], x, e) : obj_in(j, f->sub, x, e);
        if (st != TALLY_OK) {
            if (st == TALLY_EFORMAT && j->err != NULL) {
                if (f->sub->scalar) {
                    j->err->path[0] = '\0'; /* the item itself: "sides[1]" */
                }
                schema__path_push(j->err, f->name, true, i);
            }
            return st;
        }
    }
    return TALLY_OK;
}

static tally_status obj_in(jin *j, const schema__desc *d, json_t *o, void *base)
{
    if (!json_is_object(o)) {
        return fail(j, "", "expected an object");
    }
    if (json_object_size(o) > d->n) {
        /* find the stray key for the message */
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            bool known = false;
            for (size_t i = 0; i < d->n; i++) {
                known = known || strcmp(d->f[i].name, k) == 0;
            }
            if (!known) {
                return fail(j, k, "unknown field");
            }
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        const schema__field *f = &d->f[i];
        json_t *v = json_object_get(o, f->name);
        tally_status st;
        if (v == NULL && strcmp(f->name, "salt") == 0 && j->salt_fill != NULL) {
            if (f->flags & SF_NULL) {
                continue; /* an optional salt the caller did not give stays nil */
            }
            memcpy(AT(base, f->off, uint8_t), j->salt_fill, 16);
            continue;
        }
        if (v == NULL) {
            return fail(j, f->name, "missing");
        }
        st = val_in(j, f, v, base);
        if (st != TALLY_OK) {
            return st;
        }
    }
    return TALLY_OK;
}

/* Reads the body, then checks it against every rule of its type, which names the field. */
static tally_status body_from(unsigned type, json_t *root, const uint8_t *salt_fill,
                              schema_body *out, schema_field_error *err)
{
    const schema__desc *d = schema__body_desc(type);
    jin j = {out, salt_fill, err};
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (d == NULL) {
        return fail(&j, "", "unknown record type");
    }
    out->type = type;
    st = obj_in(&j, d, root, &out->u);
    if (st == TALLY_OK) {
        st = schema__validate(d, &out->u, err);
    }
    if (st != TALLY_OK) {
        schema_body_release(out);
    }
    return st;
}

static json_t *load(const char *json, size_t n, schema_field_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);

    if (root == NULL) {
        schema__bad(err, SCHEMA_BAD_NONE, "", "invalid JSON: %s", je.text);
    }
    return root;
}

tally_status schema_body_from_json(unsigned type, const char *json, size_t n,
                                   const uint8_t *salt_fill, schema_body *out,
                                   schema_field_error *err)
{
    json_t *root;
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
    root = load(json, n, err);
    if (root == NULL) {
        return TALLY_EFORMAT;
    }
    st = body_from(type, root, salt_fill, out, err);
    json_decref(root);
    return st;
}

static tally_status hex_member(json_t *o, const char *k, uint8_t *out, size_t n, bool *has)
{
    json_t *v = json_object_get(o, k);

    *has = v != NULL;
    if (v == NULL) {
        return TALLY_OK;
    }
    if (!json_is_string(v)) {
        return TALLY_EFORMAT;
    }
    return schema_unhex(json_string_value(v), json_string_length(v), out, n);
}

tally_status schema_input_from_json(const char *line, size_t n, const uint8_t *salt_fill,
                                    schema_json_input *out, schema_field_error *err)
{
    json_t *root, *t, *v;
    const char *k;
    unsigned type;
    tally_status st = TALLY_EFORMAT;

    memset(out, 0, sizeof(*out));
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
    root = load(line, n, err);
    if (root == NULL) {
        return TALLY_EFORMAT;
    }
    t = json_object_get(root, "type");
    type = json_is_string(t) ? schema_type_from_name(json_string_value(t)) : 0;
    if (!json_is_object(root) || type == 0) {
        schema__bad(err, SCHEMA_BAD_NONE, "",
                    "expected {\"type\": <record type name>, \"body\": {...}}");
        goto done;
    }
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "type") && strcmp(k, "body") && strcmp(k, "actor") && strcmp(k, "sig") &&
            strcmp(k, "time_ms")) {
            schema__bad(err, SCHEMA_BAD_NONE, "", "unknown member '%s'", k);
            goto done;
        }
    }
    if (hex_member(root, "actor", out->actor, 32, &out->has_actor) != TALLY_OK ||
        hex_member(root, "sig", out->sig, 64, &out->has_sig) != TALLY_OK) {
        schema__bad(err, SCHEMA_BAD_NONE, "",
                    "actor must be 64 and sig 128 lower-case hex digits");
        goto done;
    }
    if (out->has_actor != out->has_sig) {
        schema__bad(err, SCHEMA_BAD_NONE, "", "actor and sig go together");
        goto done;
    }
    v = json_object_get(root, "time_ms");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            (uint64_t)json_integer_value(v) > SCHEMA_ID_MAX) {
            schema__bad(err, SCHEMA_BAD_NONE, "",
                        "time_ms must be a positive integer of milliseconds");
            goto done;
        }
        out->time_ms = (uint64_t)json_integer_value(v);
    }
    /* An author's signature covers the salt, so only the node may draw a missing one. */
    st = body_from(type, json_object_get(root, "body"), out->has_actor ? NULL : salt_fill,
                   &out->body, err);
done:
    json_decref(root);
    return st;
}

/* ---- SS58 (prefix 42): base58(0x2a || acct || BLAKE2b-512("SS58PRE" || 0x2a || acct)[0..2]) */

static const char b58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static void ss58_checksum(const uint8_t pre[33], uint8_t out[2])
{
    crypto_generichash_state st;
    uint8_t h[64];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)"SS58PRE", 7);
    crypto_generichash_update(&st, pre, 33);
    crypto_generichash_final(&st, h, sizeof(h));
    out[0] = h[0], out[1] = h[1];
}

void schema_ss58_encode(const uint8_t acct[32], char out[49])
{
    uint8_t raw[35], digits[64];
    size_t nd = 0, zeros = 0, k = 0;

    raw[0] = 42;
    memcpy(raw + 1, acct, 32);
    ss58_checksum(raw, raw + 33);
    while (zeros < sizeof(raw) && raw[zeros] == 0) {
        zeros++;
    }
    /* Repeated division of the big-endian number by 58, digits least significant first. */
    for (size_t i = zeros; i < sizeof(raw); i++) {
        unsigned carry = raw[i];
        for (size_t d = 0; d < nd; d++) {
            carry += (unsigned)digits[d] << 8;
            digits[d] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[nd++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    for (size_t i = 0; i < zeros; i++) {
        out[k++] = '1';
    }
    while (nd > 0) {
        out[k++] = b58[digits[--nd]];
    }
    out[k] = '\0';
}

tally_status schema_ss58_decode(const char *s, uint8_t acct_out[32])
{
    uint8_t raw[35] = {0}, sum[2];
    size_t len = strlen(s);

    if (len == 0 || len > 48) {
        return TALLY_EFORMAT;
    }
    for (size_t i = 0; i < len; i++) {
        const char *pos = strchr(b58, s[i]);
        unsigned carry;
        if (pos == NULL || s[i] == '\0') {
            return TALLY_EFORMAT;
        }
        carry = (unsigned)(pos - b58);
        for (size_t k = sizeof(raw); k-- > 0;) {
            carry += 58u * raw[k];
            raw[k] = (uint8_t)carry;
            carry >>= 8;
        }
        if (carry) {
            return TALLY_EFORMAT;
        }
    }
    if (raw[0] != 42) {
        return TALLY_EFORMAT;
    }
    ss58_checksum(raw, sum);
    if (sum[0] != raw[33] || sum[1] != raw[34]) {
        return TALLY_EFORMAT;
    }
    memcpy(acct_out, raw + 1, 32);
    return TALLY_OK;
}

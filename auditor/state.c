/* The auditor's persisted state and evidence, in the replica's side table (audit_int.h has the
 * layout). Each save is one durable LMDB transaction, so a crash leaves the old state or the new
 * one, never a mix of the two. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auditor/audit_int.h"

#define KEY_STATE "state"

tally_status audit__say(char *dst, tally_status st, const char *fmt, ...)
{
    va_list ap;

    if (dst != NULL) {
        va_start(ap, fmt);
        vsnprintf(dst, AUDIT_WHAT_MAX, fmt, ap);
        va_end(ap);
    }
    return st;
}

static uint64_t ju64(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0;
}

static void jstr(const json_t *o, const char *k, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, k));
    snprintf(out, cap, "%s", s ? s : "");
}

tally_status audit__state_load(audit *a)
{
    uint8_t buf[STORE_SIDE_VAL_MAX];
    size_t n;
    bool found;
    json_t *o;
    char root[65];
    tally_status st = store_side_get(a->log, STORE_SIDE_AUDIT, (const uint8_t *)KEY_STATE,
                                     strlen(KEY_STATE), buf, sizeof(buf), &n, &found);

    memset(&a->st, 0, sizeof(a->st));
    if (st != TALLY_OK || !found) {
        return st;
    }
    o = json_loadb((const char *)buf, n, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return TALLY_ECORRUPT;
    }
    a->st.trusted_size = ju64(o, "trusted_size");
    jstr(o, "trusted_root", root, sizeof(root));
    jstr(o, "trusted_note", a->st.trusted_note, sizeof(a->st.trusted_note));
    if (a->st.trusted_size > 0 && schema_unhex(root, strlen(root), a->st.trusted_root, 32) != TALLY_OK) {
        json_decref(o);
        return TALLY_ECORRUPT;
    }
    a->st.last_checked_cycle = ju64(o, "last_checked_cycle");
    a->st.last_attested_cycle = ju64(o, "last_attested_cycle");
    a->st.last_pass_cycle = ju64(o, "last_pass_cycle");
    a->st.bootstrap_cycle = ju64(o, "bootstrap_cycle");
    a->st.nonce = ju64(o, "nonce");
    a->st.failed = json_is_true(json_object_get(o, "failed"));
    a->st.reason = (audit_reason)ju64(o, "reason");
    a->st.has_seq = json_is_integer(json_object_get(o, "seq"));
    a->st.seq = ju64(o, "seq");
    jstr(o, "what", a->st.what, sizeof(a->st.what));
    a->st.fail_cycle = ju64(o, "fail_cycle");
    jstr(o, "fail_state_hash", root, sizeof(root));
    if (root[0] != '\0' && schema_unhex(root, strlen(root), a->st.fail_state_hash, 32) != TALLY_OK) {
        json_decref(o);
        return TALLY_ECORRUPT;
    }
    a->st.evidence = ju64(o, "evidence");
    json_decref(o);
    return TALLY_OK;
}

tally_status audit__state_save(audit *a)
{
    char root[65], fsh[65];
    char *text;
    tally_status st;
    json_t *o;

    schema_hex(a->st.trusted_root, 32, root);
    schema_hex(a->st.fail_state_hash, 32, fsh);
    o = json_pack("{sI ss ss sI sI sI sI sb sI ss sI sI ss}", "trusted_size",
                  (json_int_t)a->st.trusted_size, "trusted_root", root, "trusted_note",
                  a->st.trusted_note, "last_checked_cycle", (json_int_t)a->st.last_checked_cycle,
                  "last_attested_cycle", (json_int_t)a->st.last_attested_cycle, "last_pass_cycle",
                  (json_int_t)a->st.last_pass_cycle, "nonce", (json_int_t)a->st.nonce, "failed",
                  a->st.failed, "reason", (json_int_t)a->st.reason, "what", a->st.what,
                  "evidence", (json_int_t)a->st.evidence, "fail_cycle",
                  (json_int_t)a->st.fail_cycle, "fail_state_hash", fsh);
    if (o != NULL && a->st.bootstrap_cycle) {
        json_object_set_new(o, "bootstrap_cycle", json_integer((json_int_t)a->st.bootstrap_cycle));
    }
    if (o != NULL && a->st.has_seq) {
        json_object_set_new(o, "seq", json_integer((json_int_t)a->st.seq));
    }
    text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (text == NULL) {
        return TALLY_ENOMEM;
    }
    st = store_side_put(a->log, STORE_SIDE_AUDIT, (const uint8_t *)KEY_STATE, strlen(KEY_STATE),
                        (const uint8_t *)text, strlen(text));
    free(text);
    return st;
}

tally_status audit__evidence(audit *a, json_t *ev)
{
    uint8_t key[9 + 8] = "evidence/";
    char *text;
    tally_status st;

    if (ev == NULL) {
        return TALLY_ENOMEM;
    }
    json_object_set_new(ev, "recorded_ms",
                        json_integer((json_int_t)ops_clock_wall_ms(a->cfg.clock)));
    text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ev);
    if (text == NULL) {
        return TALLY_ENOMEM;
    }
    for (unsigned i = 0; i < 8; i++) {
        key[9 + i] = (uint8_t)(a->st.evidence >> (56 - 8 * i));
    }
    st = store_side_put(a->log, STORE_SIDE_AUDIT, key, sizeof(key), (const uint8_t *)text,
                        strlen(text) < STORE_SIDE_VAL_MAX ? strlen(text) : STORE_SIDE_VAL_MAX);
    free(text);
    if (st == TALLY_OK) {
        a->st.evidence++;
        st = audit__state_save(a);
    }
    return st;
}

/* §5.1: the GET /v1/games query and its opaque cursor. */
#include <stdio.h>
#include <string.h>

#include "wire/wire_int.h"

enum { Q_LIMIT, Q_CURSOR, Q_SINCE, Q_LEAGUE, Q_SPORT, Q_COUNT };
static const char *const keys[Q_COUNT] = {"limit", "cursor", "since_ms", "league", "sport"};

static tally_status bad(wire_fail *f, const char *field, const char *what)
{
    if (f != NULL) {
        memset(f, 0, sizeof(*f));
        f->err = WIRE_BAD_REQUEST;
        snprintf(f->field, sizeof(f->field), "%s", field);
        snprintf(f->message, sizeof(f->message), "query %s%s%s", field, *field ? ": " : "", what);
    }
    return TALLY_EFORMAT;
}

static bool code16(const char *s, size_t n, char *out)
{
    if (n == 0 || n > WIRE_CODE_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-')) {
            return false;
        }
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static bool value_of(int key, const char *v, size_t n, wire_games_query *q)
{
    uint64_t x;

    switch (key) {
    case Q_LIMIT:
        if (!wire__decimal(v, n, WIRE_GAMES_LIMIT_MAX, &x) || x == 0) {
            return false;
        }
        q->limit = (unsigned)x;
        return true;
    case Q_CURSOR:
        return q->has_cursor = wire_cursor_decode(v, n, &q->cursor) == TALLY_OK;
    case Q_SINCE:
        return q->has_since = wire__decimal(v, n, SCHEMA_ID_MAX, &q->since_ms);
    case Q_LEAGUE:
        return q->has_league = code16(v, n, q->league);
    default:
        return q->has_sport = code16(v, n, q->sport);
    }
}

static void defaults(wire_games_query *q)
{
    memset(q, 0, sizeof(*q));
    q->limit = WIRE_GAMES_LIMIT_MAX;
}

tally_status wire_games_query_parse(const char *query, wire_games_query *out, wire_fail *fail)
{
    bool seen[Q_COUNT] = {false};
    const char *s = query;

    defaults(out);
    if (query == NULL || *query == '\0') {
        return TALLY_OK;
    }
    if (strlen(query) > WIRE_TARGET_MAX) {
        return bad(fail, "", "longer than a request-target");
    }
    for (;;) {
        const char *amp = strchr(s, '&'), *eq;
        size_t len = amp != NULL ? (size_t)(amp - s) : strlen(s), kn;
        int key = -1;
        eq = memchr(s, '=', len);
        if (eq == NULL || eq == s) {
            defaults(out);
            return bad(fail, "", "every part is key=value");
        }
        kn = (size_t)(eq - s);
        for (int k = 0; k < Q_COUNT; k++) {
            if (strlen(keys[k]) == kn && memcmp(keys[k], s, kn) == 0) {
                key = k;
            }
        }
        if (key < 0) {
            defaults(out);
            return bad(fail, "", "unknown key");
        }
        if (seen[key]) {
            defaults(out);
            return bad(fail, keys[key], "given twice");
        }
        seen[key] = true;
        if (memchr(eq + 1, '%', len - kn - 1) != NULL ||
            memchr(eq + 1, '+', len - kn - 1) != NULL ||
            !value_of(key, eq + 1, len - kn - 1, out)) {
            defaults(out);
            return bad(fail, keys[key], "bad value");
        }
        if (amp == NULL) {
            return TALLY_OK;
        }
        s = amp + 1;
    }
}

tally_status wire_cursor_encode(const wire_cursor *c, char out[33])
{
    uint8_t b[16];

    out[0] = '\0';
    if (c->start_ms > SCHEMA_ID_MAX || c->event_id == 0 || c->event_id > SCHEMA_ID_MAX) {
        return TALLY_EINVAL;
    }
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(c->start_ms >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(c->event_id >> (56 - 8 * i));
    }
    schema_hex(b, 16, out);
    return TALLY_OK;
}

tally_status wire_cursor_decode(const char *s, size_t n, wire_cursor *out)
{
    uint8_t b[16];
    wire_cursor c = {0, 0};

    memset(out, 0, sizeof(*out));
    if (s == NULL || n != WIRE_CURSOR_LEN || schema_unhex(s, n, b, 16) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    for (int i = 0; i < 8; i++) {
        c.start_ms = c.start_ms << 8 | b[i];
        c.event_id = c.event_id << 8 | b[8 + i];
    }
    if (c.start_ms > SCHEMA_ID_MAX || c.event_id == 0 || c.event_id > SCHEMA_ID_MAX) {
        return TALLY_EFORMAT;
    }
    *out = c;
    return TALLY_OK;
}

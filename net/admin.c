/* The admin and feed API of protocol §9.5 on the ops listener (the admin token was checked in
 * route.c): the feeders' node-authored records, CONFIG_SET, RECOMPUTE, a cycle now, a dispute
 * reveal, bans and cooldowns, and a configuration reload. Records go through the writer as one
 * transaction judged by the acceptance rules where they land (all or nothing). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

#define ADMIN_RECORDS_MAX 10000u /* §9.5 */

/* Types a feeder may send (§9.5): the chain feeder's and the provider feeder's. */
static bool feed_type(unsigned t)
{
    switch (t) {
    case SCHEMA_CHAIN_PARAMS:
    case SCHEMA_METAGRAPH:
    case SCHEMA_EVENT:
    case SCHEMA_MARKET:
    case SCHEMA_PROVIDER_QUOTE:
    case SCHEMA_MARKET_SNAPSHOT:
    case SCHEMA_CLOSE:
    case SCHEMA_OUTCOME: return true;
    default: return false;
    }
}

/* The §8 code of a refusal by the rules of a node record. */
static wire_err admin_code(engine_rule r)
{
    switch (r) {
    case ENGINE_RULE_GENESIS:
    case ENGINE_RULE_MARKET_CONFLICT:
    case ENGINE_RULE_METAGRAPH_PARTS:
    case ENGINE_RULE_CHAIN_BLOCK:
    case ENGINE_RULE_EPOCH:
    case ENGINE_RULE_CLOSE_DUPLICATE: return WIRE_CONFLICT;
    default: return WIRE_INVALID_FIELD;
    }
}

typedef struct admin_job {
    net_node *n;
    httpd_req *req;
    net__ctx *ctx;
    ledger_batch batch;
    store_item_result *out;
    uint64_t first;
    store_rejection rej;
    const char *what; /* "records", "config", "recompute" */
} admin_job;

static void reply_ok(net_node *n, httpd_req *req, net__ctx *ctx, unsigned status, json_t *o)
{
    net__reply_json(n, req, ctx, status, o);
    json_decref(o);
}

static void fail_idx(net_node *n, httpd_req *req, net__ctx *ctx, wire_err code, size_t idx,
                     const char *field, const char *msg)
{
    json_t *d = json_pack("{s:I, s:s}", "idx", (json_int_t)idx, "field", field ? field : "");
    net__fail(n, req, ctx, code, msg, d);
    json_decref(d);
}

/* The writer's verdict on a feed batch: receipts of every record (§14.4), or the first refusal. */
static void records_done(void *arg, tally_status st)
{
    admin_job *j = arg;
    net_node *n = j->n;
    schema_sth sth;

    if (st == TALLY_EINVAL && j->rej.has_index) {
        engine_rule r = (engine_rule)j->rej.code;
        char msg[300];
        snprintf(msg, sizeof(msg), "record %zu (%s) breaks rule %s", j->rej.index,
                 schema_type_name((unsigned)j->batch.in[j->rej.index].header.type),
                 engine_rule_name(r));
        fail_idx(n, j->req, j->ctx, admin_code(r), j->rej.index, engine_rule_name(r), msg);
    } else if (st != TALLY_OK) {
        net__latch(n, st);
        net__fail(n, j->req, j->ctx, st == TALLY_EFULL ? WIRE_STORAGE_FULL : WIRE_INTERNAL_ERROR,
                  j->rej.what[0] ? j->rej.what : "the write failed", NULL);
    } else {
        json_t *items = json_array();
        size_t appended = 0;
        for (size_t i = 0; items != NULL && i < j->batch.n; i++) {
            const store_item_result *r = &j->out[i];
            char hex[65];
            /* a repeated MARKET (byte for byte) is dropped as a no-op: no seq of its own */
            if (!r->accepted) {
                json_array_append_new(items, json_pack("{s:I, s:s}", "idx", (json_int_t)i,
                                                       "status", "duplicate"));
                continue;
            }
            const char *lt[1] = {schema_type_name((unsigned)j->batch.in[i].header.type)};
            ops_metric_add(n->metrics, OPS_M_LOG_APPENDS, lt, 1);
            schema_hex(r->leaf_hash, 32, hex);
            json_array_append_new(items, json_pack("{s:I, s:I, s:I, s:s}", "idx", (json_int_t)i,
                                                   "seq", (json_int_t)r->seq, "time_ms",
                                                   (json_int_t)r->time_ms, "leaf_hash", hex));
            appended++;
        }
        bool has = store_sth_latest(n->store, &sth) == TALLY_OK;
        char root[65] = "";
        if (has) {
            schema_hex(sth.root, 32, root);
        }
        reply_ok(n, j->req, j->ctx, 200,
                 json_pack("{s:b, s:I, s:o, s:I, s:s}", "success", 1, "accepted",
                           (json_int_t)appended, "items", items ? items : json_array(),
                           "tree_size",
                           (json_int_t)(has ? sth.tree_size : 0), "root", root));
    }
    ledger_batch_release(&j->batch);
    free(j->out);
    free(j);
}

/* Parses one feed record {"type": NAME, "body": {…}} into the batch, salted by the node. */
static bool add_record(net_node *n, httpd_req *req, net__ctx *ctx, admin_job *j, size_t idx,
                       json_t *rec, const unsigned *only)
{
    const char *tname = json_string_value(json_object_get(rec, "type"));
    json_t *body = json_object_get(rec, "body");
    unsigned type = tname ? schema_type_from_name(tname) : 0;
    schema_body b;
    schema_field_error fe;
    uint8_t salt[16];
    char *text;
    tally_status st;

    if (!json_is_object(rec) || type == 0 || !json_is_object(body) || json_object_size(rec) != 2) {
        fail_idx(n, req, ctx, WIRE_MALFORMED_BODY, idx, "",
                 "a record is {\"type\": NAME, \"body\": {named fields}}");
        return false;
    }
    /* the log has its GENESIS at seq 0 (tally init): a second one is a conflict (§8), not a
     * type the feed does not know */
    if (only == NULL && type == SCHEMA_GENESIS) {
        fail_idx(n, req, ctx, WIRE_CONFLICT, idx, "type",
                 "the log has its GENESIS already: it comes once, at seq 0");
        return false;
    }
    if (only != NULL ? type != *only : !feed_type(type)) {
        fail_idx(n, req, ctx, WIRE_INVALID_FIELD, idx, "type",
                 "the feed takes CHAIN_PARAMS, METAGRAPH, EVENT, MARKET, PROVIDER_QUOTE, "
                 "MARKET_SNAPSHOT, CLOSE and provider OUTCOME records");
        return false;
    }
    /* the node draws every salt (§2.3): a feeder never sends one */
    if (json_object_get(body, "salt") != NULL) {
        fail_idx(n, req, ctx, WIRE_MALFORMED_BODY, idx, "salt",
                 "feeders never send a salt: the node draws it");
        return false;
    }
    text = json_dumps(body, JSON_COMPACT);
    randombytes_buf(salt, sizeof(salt));
    st = text ? schema_body_from_json(type, text, strlen(text), salt, &b, &fe) : TALLY_ENOMEM;
    free(text);
    if (st != TALLY_OK) {
        fail_idx(n, req, ctx, st == TALLY_ENOMEM ? WIRE_INTERNAL_ERROR
                              : fe.bad != 0      ? WIRE_INVALID_FIELD
                                                 : WIRE_MALFORMED_BODY,
                 idx, fe.path, fe.what);
        return false;
    }
    if (type == SCHEMA_OUTCOME && b.u.outcome.source != 1) {
        schema_body_release(&b);
        fail_idx(n, req, ctx, WIRE_INVALID_FIELD, idx, "source",
                 "the feed sends provider outcomes (source 1) only");
        return false;
    }
    st = ledger_batch_node(&j->batch, n->store, &b, 0);
    schema_body_release(&b);
    if (st != TALLY_OK) {
        fail_idx(n, req, ctx, WIRE_INVALID_FIELD, idx, "", "the record does not encode");
        return false;
    }
    return true;
}

/* Appends the records of a JSON array through the writer (deferred reply). */
static void append_records(net_node *n, httpd_req *req, net__ctx *ctx, json_t *recs,
                           const unsigned *only)
{
    admin_job *j;
    size_t count = json_array_size(recs);
    tally_status st;

    if (!json_is_array(recs) || count == 0 || count > ADMIN_RECORDS_MAX) {
        net__fail(n, req, ctx, count > ADMIN_RECORDS_MAX ? WIRE_BATCH_TOO_LARGE
                                                         : WIRE_MALFORMED_BODY,
                  "\"records\" is an array of 1 to 10,000 records", NULL);
        return;
    }
    if (!net__writable(n, req, ctx)) {
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    *j = (admin_job){.n = n, .req = req, .ctx = ctx, .batch = LEDGER_BATCH_INIT};
    for (size_t i = 0; i < count; i++) {
        if (!add_record(n, req, ctx, j, i, json_array_get(recs, i), only)) {
            ledger_batch_release(&j->batch);
            free(j);
            return;
        }
    }
    j->out = calloc(j->batch.n, sizeof(*j->out));
    if (j->out == NULL) {
        ledger_batch_release(&j->batch);
        free(j);
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    httpd_req_defer(req);
    st = store_submit_judged(n->store, j->batch.in, j->batch.n, j->out, &j->first, &j->rej,
                             records_done, j);
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, st == TALLY_EAGAIN ? WIRE_OVERLOADED : WIRE_CONFLICT,
                  j->rej.what[0] ? j->rej.what : tally_status_str(st), NULL);
        ledger_batch_release(&j->batch);
        free(j->out);
        free(j);
    }
}

static json_t *body_object(net_node *n, httpd_req *req, net__ctx *ctx)
{
    tally_bytes body = httpd_req_body(req);
    json_error_t je;
    json_t *o = body.n ? json_loadb((const char *)body.p, body.n, JSON_REJECT_DUPLICATES, &je)
                       : NULL;

    if (!json_is_object(o)) {
        json_decref(o);
        net__fail(n, req, ctx, WIRE_MALFORMED_BODY, "the body is not a JSON object", NULL);
        return NULL;
    }
    return o;
}

static void h_records(net_node *n, httpd_req *req, net__ctx *ctx)
{
    json_t *o = body_object(n, req, ctx);

    if (o != NULL) {
        append_records(n, req, ctx, json_object_get(o, "records"), NULL);
        json_decref(o);
    }
}

/* CONFIG_SET and RECOMPUTE: the body is the record's named fields (RECOMPUTE without epoch and
 * code_version, which the node sets). */
static void h_one(net_node *n, httpd_req *req, net__ctx *ctx, unsigned type)
{
    json_t *o = body_object(n, req, ctx), *recs;

    if (o == NULL) {
        return;
    }
    if (type == SCHEMA_RECOMPUTE) {
        /* the next epoch, from the committed head (the writer's rules judge it where it lands) */
        ledger_view_info vi;
        net__best_effort(ledger_view_sync(n->view));
        ledger_view_info_get(n->view, &vi);
        uint64_t epoch = vi.epoch;
        if (json_object_get(o, "epoch") == NULL) {
            json_object_set_new(o, "epoch", json_integer((json_int_t)epoch + 1));
        }
        if (json_object_get(o, "code_version") == NULL) {
            json_object_set_new(o, "code_version", json_string(SCHEMA_CODE_VERSION));
        }
    }
    recs = json_pack("[{s:s, s:O}]", "type", schema_type_name(type), "body", o);
    json_decref(o);
    if (recs == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    append_records(n, req, ctx, recs, &type);
    json_decref(recs);
}

static void h_reveal(net_node *n, httpd_req *req, net__ctx *ctx)
{
    json_t *o = body_object(n, req, ctx);
    json_int_t seq;
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    uint8_t key[8], val[8];

    if (o == NULL) {
        return;
    }
    seq = json_integer_value(json_object_get(o, "seq"));
    json_decref(o);
    if (seq < 0 || (uint64_t)seq >= store_size(n->store)) {
        net__fail(n, req, ctx, WIRE_RANGE_INVALID, "\"seq\" names no record of the log", NULL);
        return;
    }
    if (store_iter_open(n->store, (uint64_t)seq, &it) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot read the record", NULL);
        return;
    }
    tally_status st = store_iter_read(it, false, &rec, &h, &b);
    store_iter_close(it);
    if (st != TALLY_OK || h.tier != SCHEMA_PRIVATE) {
        net__fail(n, req, ctx, WIRE_INVALID_FIELD, "only a private record is revealed", NULL);
        return;
    }
    for (int i = 0; i < 8; i++) {
        key[i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
        val[i] = (uint8_t)(net__now_ms(n) >> (56 - 8 * i));
    }
    st = store_side_put(n->store, STORE_SIDE_MARKS, key, 8, val, 8);
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot store the reveal mark", NULL);
        return;
    }
    OPS_LOG(n->log, OPS_INFO, "net", "record_revealed", OPS_FU("seq", (uint64_t)seq));
    reply_ok(n, req, ctx, 200, json_pack("{s:b, s:I}", "success", 1, "seq", seq));
}

static json_t *ban_json(const net_ban *b)
{
    char id[NET_IDENT_STR_MAX];
    net_ident_format(&b->id, id);
    return json_pack("{s:s, s:o, s:s, s:I, s:I, s:o}", "id", id, "expires_ms",
                     b->until_ms ? json_integer((json_int_t)b->until_ms) : json_null(), "reason",
                     net_ban_reason_name(b->reason) ? net_ban_reason_name(b->reason) : "?",
                     "created_ms", (json_int_t)b->created_ms, "strikes", (json_int_t)b->strikes,
                     "note", b->note_len ? json_string(b->note) : json_null());
}

/* /admin/v1/bans[/<ip|hotkey>/<id>] and /admin/v1/cooldowns[/<ip|hotkey>/<id>]. */
static bool ident_of(const char *rest, net_ident *id)
{
    char kind[16];
    const char *slash = strchr(rest, '/');

    if (slash == NULL || (size_t)(slash - rest) >= sizeof(kind)) {
        return false;
    }
    memcpy(kind, rest, (size_t)(slash - rest));
    kind[slash - rest] = '\0';
    return net_ident_parse(kind, slash + 1, id) == TALLY_OK;
}

static void h_bans(net_node *n, httpd_req *req, net__ctx *ctx, const char *rest)
{
    httpd_method m = httpd_req_method(req);
    net_ident id;

    if (rest[0] == '\0' && m == HTTPD_METHOD_GET) {
        net_ban *list = NULL;
        size_t k = 0;
        json_t *a = json_array();
        if (net_abuse_bans_list(n->abuse, &list, &k) != TALLY_OK || a == NULL) {
            json_decref(a);
            net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
            return;
        }
        for (size_t i = 0; i < k; i++) {
            json_array_append_new(a, ban_json(&list[i]));
        }
        free(list);
        reply_ok(n, req, ctx, 200, json_pack("{s:b, s:o}", "success", 1, "bans", a));
        return;
    }
    if (rest[0] == '\0' && m == HTTPD_METHOD_POST) {
        json_t *o = body_object(n, req, ctx);
        const char *kind, *ids, *note;
        json_int_t secs;
        net_ban b = {0};
        if (o == NULL) {
            return;
        }
        kind = json_string_value(json_object_get(o, "identity"));
        ids = json_string_value(json_object_get(o, "id"));
        secs = json_integer_value(json_object_get(o, "seconds"));
        note = json_string_value(json_object_get(o, "note"));
        if (kind == NULL || ids == NULL || net_ident_parse(kind, ids, &b.id) != TALLY_OK ||
            secs < 0 || (note != NULL && strlen(note) > NET_BAN_NOTE_MAX)) {
            json_decref(o);
            net__fail(n, req, ctx, WIRE_INVALID_FIELD,
                      "a ban is {\"identity\": \"ip\"|\"hotkey\", \"id\", \"seconds\" (0: "
                      "permanent), \"note\"?}",
                      NULL);
            return;
        }
        b.created_ms = net__now_ms(n);
        b.until_ms = secs ? b.created_ms + (uint64_t)secs * 1000u : 0;
        b.reason = NET_BAN_ADMIN;
        if (note != NULL) {
            b.note_len = (uint16_t)strlen(note);
            memcpy(b.note, note, b.note_len);
        }
        json_decref(o);
        if (net_ban_check(&b) != TALLY_OK || net_abuse_ban_add(n->abuse, &b) != TALLY_OK) {
            net__fail(n, req, ctx, WIRE_INVALID_FIELD, "the ban cannot be added", NULL);
            return;
        }
        reply_ok(n, req, ctx, 200, json_pack("{s:b, s:o}", "success", 1, "ban", ban_json(&b)));
        return;
    }
    if (rest[0] == '/' && m == HTTPD_METHOD_DELETE && ident_of(rest + 1, &id)) {
        tally_status st = net_abuse_ban_remove(n->abuse, &id);
        if (st == TALLY_ENOTFOUND) {
            net__fail(n, req, ctx, WIRE_NOT_FOUND, "no such ban", NULL);
            return;
        }
        reply_ok(n, req, ctx, 200, json_pack("{s:b}", "success", 1));
        return;
    }
    net__fail(n, req, ctx, rest[0] == '\0' || rest[0] == '/' ? WIRE_METHOD_NOT_ALLOWED
                                                             : WIRE_UNKNOWN_ROUTE,
              "bans: GET or POST /admin/v1/bans, DELETE /admin/v1/bans/<ip|hotkey>/<id>", NULL);
}

static void h_cooldowns(net_node *n, httpd_req *req, net__ctx *ctx, const char *rest)
{
    httpd_method m = httpd_req_method(req);
    net_ident id;

    if (rest[0] == '\0' && m == HTTPD_METHOD_GET) {
        net_abuse_cooldown *list = NULL;
        size_t k = 0;
        json_t *a = json_array();
        if (net_abuse_cooldowns_list(n->abuse, net__mono_ms(n), &list, &k) != TALLY_OK ||
            a == NULL) {
            json_decref(a);
            net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
            return;
        }
        for (size_t i = 0; i < k; i++) {
            char ids[NET_IDENT_STR_MAX];
            net_ident_format(&list[i].id, ids);
            json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "id", ids, "remaining_s",
                                               (json_int_t)list[i].remaining_s, "level",
                                               (json_int_t)list[i].level));
        }
        free(list);
        reply_ok(n, req, ctx, 200, json_pack("{s:b, s:o}", "success", 1, "cooldowns", a));
        return;
    }
    if (rest[0] == '/' && m == HTTPD_METHOD_DELETE && ident_of(rest + 1, &id)) {
        if (net_abuse_cooldown_clear(n->abuse, &id, net__mono_ms(n)) == TALLY_ENOTFOUND) {
            net__fail(n, req, ctx, WIRE_NOT_FOUND, "no such cooldown", NULL);
            return;
        }
        reply_ok(n, req, ctx, 200, json_pack("{s:b}", "success", 1));
        return;
    }
    net__fail(n, req, ctx, WIRE_METHOD_NOT_ALLOWED,
              "cooldowns: GET /admin/v1/cooldowns, DELETE /admin/v1/cooldowns/<ip|hotkey>/<id>",
              NULL);
}

/* The controllable clock (TALLY_CLOCK=manual): {"set_ms": T} or {"advance_ms": D}; the node's
 * record times, skew checks and cycle schedule follow it. */
static void h_clock(net_node *n, httpd_req *req, net__ctx *ctx)
{
    json_t *o;
    json_t *set, *adv;
    tally_status st = TALLY_EINVAL;

    if (ops_clock_get_mode(n->clock) != OPS_CLOCK_MANUAL) {
        net__fail(n, req, ctx, WIRE_CONFLICT, "the node clock is the system clock", NULL);
        return;
    }
    o = body_object(n, req, ctx);
    if (o == NULL) {
        return;
    }
    set = json_object_get(o, "set_ms");
    adv = json_object_get(o, "advance_ms");
    if (json_is_integer(set) && adv == NULL && json_integer_value(set) >= 0) {
        st = ops_clock_set_wall_ms(n->clock, (int64_t)json_integer_value(set));
    } else if (json_is_integer(adv) && set == NULL && json_integer_value(adv) >= 0) {
        st = ops_clock_advance_ms(n->clock, (int64_t)json_integer_value(adv));
    }
    json_decref(o);
    if (st != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INVALID_FIELD,
                  "the clock takes {\"set_ms\": T} or {\"advance_ms\": D} (ms, ≥ 0)", NULL);
        return;
    }
    OPS_LOG(n->log, OPS_INFO, "net", "clock_set", OPS_FU("now_ms", net__now_ms(n)));
    reply_ok(n, req, ctx, 200, json_pack("{s:b, s:I}", "success", 1, "now_ms",
                                         (json_int_t)net__now_ms(n)));
}

void net__h_admin(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *p = httpd_req_path(req) + strlen("/admin/v1/");
    bool post = httpd_req_method(req) == HTTPD_METHOD_POST;
    char err[NET_DETAIL_MAX];

    if (strcmp(p, "records") == 0 && post) {
        h_records(n, req, ctx);
    } else if (strcmp(p, "config") == 0 && post) {
        h_one(n, req, ctx, SCHEMA_CONFIG_SET);
    } else if (strcmp(p, "recompute") == 0 && post) {
        h_one(n, req, ctx, SCHEMA_RECOMPUTE);
    } else if (strcmp(p, "cycle") == 0 && post) {
        net__cycle_now(n);
        reply_ok(n, req, ctx, 202, json_pack("{s:b, s:s}", "success", 1, "status", "queued"));
    } else if (strcmp(p, "reveal") == 0 && post) {
        h_reveal(n, req, ctx);
    } else if (strcmp(p, "clock") == 0 && post) {
        h_clock(n, req, ctx);
    } else if (strcmp(p, "reload") == 0 && post) {
        if (net__reload(n, err) != TALLY_OK) {
            net__fail(n, req, ctx, WIRE_CONFLICT, err, NULL);
        } else {
            reply_ok(n, req, ctx, 200, json_pack("{s:b}", "success", 1));
        }
    } else if (strncmp(p, "bans", 4) == 0 && (p[4] == '\0' || p[4] == '/')) {
        h_bans(n, req, ctx, p + 4);
    } else if (strncmp(p, "cooldowns", 9) == 0 && (p[9] == '\0' || p[9] == '/')) {
        h_cooldowns(n, req, ctx, p + 9);
    } else if (strcmp(p, "records") == 0 || strcmp(p, "config") == 0 ||
               strcmp(p, "recompute") == 0 || strcmp(p, "cycle") == 0 ||
               strcmp(p, "reveal") == 0 || strcmp(p, "reload") == 0 || strcmp(p, "clock") == 0) {
        net__header(req, "Allow", "POST");
        net__fail(n, req, ctx, WIRE_METHOD_NOT_ALLOWED, "this admin route takes POST", NULL);
    } else {
        net__fail(n, req, ctx, WIRE_UNKNOWN_ROUTE, "no such admin route", NULL);
    }
}

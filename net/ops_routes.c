/* The routes every operator and monitor uses: GET / (an index of the listener's routes), the
 * health probes of protocol §9.1, GET /metrics (§9.2) and GET /log/checkpoint (the latest signed
 * tree head as a C2SP checkpoint note). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

#define HEARTBEAT_MAX_MS 5000u

void net__h_index(net_node *n, httpd_req *req, net__ctx *ctx)
{
    size_t listener = httpd_req_listener(req);
    json_t *routes = json_array(), *o;
    char key_hex[65], vkey[256];

    for (size_t i = 0; routes != NULL && i < net__n_routes; i++) {
        const net__route *r = &net__routes[i];
        char path[64];
        if (!(r->listeners & (1u << listener))) {
            continue;
        }
        snprintf(path, sizeof(path), "%s%s", r->path, r->prefix ? "…" : "");
        json_array_append_new(routes, json_string(path));
    }
    /* The node key (GENESIS's actor) and its verifier key, so that a client can check receipts
     * and checkpoints without a copy of `tally key` (the chain commitment stays the anchor). */
    schema_hex(n->node_pk, 32, key_hex);
    if (store_vkey(n->origin, n->node_pk, vkey, sizeof(vkey)) != TALLY_OK) {
        vkey[0] = '\0';
    }
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "name", "tally", "version",
                  SCHEMA_CODE_VERSION, "origin", n->origin, "node_key", key_hex, "verifier_key",
                  vkey, "listener",
                  listener == NET_LISTEN_INGEST   ? "ingest"
                  : listener == NET_LISTEN_LEDGER ? "ledger"
                                                  : "ops",
                  "routes", routes ? routes : json_array());
    if (o == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    net__reply_json(n, req, ctx, 200, o);
    json_decref(o);
}

size_t net__not_ready(net_node *n, const char **out)
{
    store_writer_stats ws;
    ledger_view_info vi;
    uint64_t now = net__now_ms(n);
    size_t k = 0;

    store_writer_stats_get(n->store, &ws);
    net__best_effort(ledger_view_sync(n->view));
    ledger_view_info_get(n->view, &vi);
    if (atomic_load(&n->draining)) {
        out[k++] = "draining";
    }
    if (atomic_load(&n->latched) != 0) {
        out[k++] = "store_fault";
    }
    /* the heartbeat is the writer's own wall clock, which a manual node clock does not move */
    if (ops_clock_get_mode(n->clock) == OPS_CLOCK_REAL && ws.heartbeat_ms + HEARTBEAT_MAX_MS < now) {
        out[k++] = "writer_stalled";
    }
    if (!vi.has_genesis) {
        out[k++] = "no_genesis";
    }
    if (!vi.has_metagraph) {
        out[k++] = "no_metagraph";
    }
    if (ws.map_size > 0 && ws.map_used * 100 >= ws.map_size * 95) {
        out[k++] = "map_full";
    }
    return k;
}

static json_t *failing_list(const char **names, size_t k)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < k; i++) {
        json_array_append_new(a, json_string(names[i]));
    }
    return a;
}

static void h_ready(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *names[8];
    size_t k = net__not_ready(n, names);

    if (k == 0) {
        json_t *o = json_pack("{s:s}", "status", "ready");
        net__reply_json(n, req, ctx, 200, o);
        json_decref(o);
        return;
    }
    json_t *d = json_pack("{s:o}", "failing", failing_list(names, k));
    net__fail(n, req, ctx, atomic_load(&n->draining) ? WIRE_SHUTTING_DOWN : WIRE_NOT_READY,
              "the node is not ready", d);
    json_decref(d);
}

static const char *check_of(bool failing, bool degraded)
{
    return failing ? "failing" : degraded ? "degraded" : "ok";
}

static void h_full(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *names[8];
    size_t k = net__not_ready(n, names);
    store_writer_stats ws;
    ledger_view_info vi;
    schema_sth sth;
    net_abuse_stats as;
    uint64_t now = net__now_ms(n), iv = ops_config_u64(n->conf, OPS_K_CYCLE_INTERVAL_S) * 1000u;
    uint64_t mg_max = ops_config_u64(n->conf, OPS_K_METAGRAPH_MAX_AGE_S) * 1000u;
    bool has_sth = store_sth_latest(n->store, &sth) == TALLY_OK;
    uint64_t last_cycle, last_cycle_ms;
    json_t *o, *checks;

    store_writer_stats_get(n->store, &ws);
    ledger_view_info_get(n->view, &vi);
    net_abuse_stats_get(n->abuse, now, net__mono_ms(n), &as);
    pthread_mutex_lock(&n->mu);
    last_cycle = n->last_cycle, last_cycle_ms = n->last_cycle_ms;
    pthread_mutex_unlock(&n->mu);
    uint64_t mg_age = vi.has_metagraph && now > vi.metagraph_time_ms
                          ? now - vi.metagraph_time_ms : 0;
    bool mg_old = vi.has_metagraph && mg_age > mg_max;
    bool cycle_old = last_cycle_ms != 0 && now > last_cycle_ms + 2 * iv;
    bool map_high = ws.map_size > 0 && ws.map_used * 100 > ws.map_size * 80;
    uint64_t stepped = atomic_load(&n->clock_stepped_ms);
    bool clock_back = stepped != 0 && net__mono_ms(n) < stepped + 3600000u;
    bool failing = k > 0;
    bool degraded = mg_old || cycle_old || map_high || clock_back;

    checks = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "clock",
                       check_of(false, clock_back), "store",
                       check_of(atomic_load(&n->latched) != 0, false), "writer",
                       check_of(ws.heartbeat_ms + HEARTBEAT_MAX_MS < now &&
                                    ops_clock_get_mode(n->clock) == OPS_CLOCK_REAL,
                                false),
                       "genesis", check_of(!vi.has_genesis, false), "metagraph",
                       check_of(!vi.has_metagraph, mg_old), "map",
                       check_of(ws.map_size > 0 && ws.map_used * 100 >= ws.map_size * 95,
                                map_high),
                       "cycle", check_of(false, cycle_old));
    o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                  "s:I, s:I, s:s, s:o}",
                  "status", check_of(failing, degraded), "version", SCHEMA_CODE_VERSION,
                  "origin", n->origin, "uptime_s", (json_int_t)((now - n->started_ms) / 1000),
                  "tree_size", (json_int_t)(has_sth ? sth.tree_size : 0), "sth_time_ms",
                  (json_int_t)(has_sth ? sth.time_ms : 0), "sth_age_s",
                  (json_int_t)(has_sth && now > sth.time_ms ? (now - sth.time_ms) / 1000 : 0),
                  "writer_queue", (json_int_t)ws.queued, "writer_heartbeat_age_ms",
                  (json_int_t)(now > ws.heartbeat_ms ? now - ws.heartbeat_ms : 0),
                  "map_used_bytes", (json_int_t)ws.map_used, "map_size_bytes",
                  (json_int_t)ws.map_size, "metagraph_block", (json_int_t)vi.metagraph_block,
                  "metagraph_age_s", (json_int_t)(mg_age / 1000), "last_cycle",
                  (json_int_t)last_cycle, "last_cycle_age_s",
                  (json_int_t)(last_cycle_ms && now > last_cycle_ms
                                   ? (now - last_cycle_ms) / 1000 : 0),
                  "bans_active",
                  (json_int_t)(as.bans_active[0][0] + as.bans_active[0][1] +
                               as.bans_active[1][0] + as.bans_active[1][1]),
                  "cooldowns_active",
                  (json_int_t)(as.cooldowns_active[0] + as.cooldowns_active[1]), "clock",
                  ops_clock_get_mode(n->clock) == OPS_CLOCK_MANUAL ? "manual" : "system",
                  "checks", checks ? checks : json_object());
    if (o == NULL) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    net__reply_json(n, req, ctx, failing ? 503 : 200, o);
    json_decref(o);
}

void net__h_health(net_node *n, httpd_req *req, net__ctx *ctx)
{
    const char *path = httpd_req_path(req);

    if (strcmp(path, "/health") == 0) {
        h_full(n, req, ctx);
    } else if (strcmp(path, "/health/ready") == 0) {
        h_ready(n, req, ctx);
    } else if (strcmp(path, "/health/live") == 0) {
        json_t *o = json_pack("{s:s}", "status", "live");
        net__reply_json(n, req, ctx, 200, o);
        json_decref(o);
    } else {
        net__fail(n, req, ctx, WIRE_UNKNOWN_ROUTE, "no such route", NULL);
    }
}

/* The abuse engine keeps totals; the registry's counters take the growth since the last
 * scrape (counters only ever add). Scrapes are serialised by the node's mutex. */
static void abuse_counters(net_node *n, const net_abuse_stats *as)
{
    static const char *const scopes[3] = {"key", "ip", "global"};
    static const char *const windows[2] = {"1s", "60s"};
    static const char *const classes[4] = {"C", "V", "X", "P"};
    static const char *const ids[2] = {"ip", "hotkey"};

    for (int s = 0; s < 3; s++) {
        for (int w = 0; w < 2; w++) {
            const char *l[2] = {scopes[s], windows[w]};
            uint64_t d = as->rate_limited[s][w] - n->seen.rate_limited[s][w];
            if (d > 0) {
                ops_metric_add(n->metrics, OPS_M_RATE_LIMITED, l, (double)d);
            }
        }
    }
    for (int c = 0; c < 4; c++) {
        for (int i = 0; i < 2; i++) {
            const char *l[2] = {classes[c], ids[i]};
            uint64_t d = as->failures[c][i] - n->seen.failures[c][i];
            if (d > 0) {
                ops_metric_add(n->metrics, OPS_M_ABUSE_FAILURES, l, (double)d);
            }
        }
    }
    n->seen = *as;
}

/* The gauges are read when scraped: nothing polls in the background for them. */
static void refresh_gauges(net_node *n)
{
    store_writer_stats ws;
    ledger_view_info vi;
    schema_sth sth;
    net_abuse_stats as;
    httpd_gauges hg;
    uint64_t now = net__now_ms(n);
    static const char *const lnames[NET_LISTEN_COUNT] = {"ingest", "ledger", "ops"};
    static const char *const ids[2] = {"ip", "hotkey"};

    store_writer_stats_get(n->store, &ws);
    ledger_view_info_get(n->view, &vi);
    net_abuse_stats_get(n->abuse, now, net__mono_ms(n), &as);
    abuse_counters(n, &as);
    httpd_gauges_get(n->http, &hg);
    ops_metric_set(n->metrics, OPS_M_LOG_SIZE_RECORDS, NULL, (double)store_size(n->store));
    ops_metric_set(n->metrics, OPS_M_WRITER_QUEUE_DEPTH, NULL, (double)ws.queued);
    ops_metric_set(n->metrics, OPS_M_LMDB_MAP_SIZE, NULL, (double)ws.map_size);
    ops_metric_set(n->metrics, OPS_M_LMDB_USED, NULL, (double)ws.map_used);
    ops_metric_set(n->metrics, OPS_M_LOG_BYTES, NULL, (double)ws.map_used);
    if (store_sth_latest(n->store, &sth) == TALLY_OK) {
        ops_metric_set(n->metrics, OPS_M_STH_TREE_SIZE, NULL, (double)sth.tree_size);
        ops_metric_set(n->metrics, OPS_M_STH_TIMESTAMP, NULL, (double)sth.time_ms / 1000.0);
    }
    ops_metric_set(n->metrics, OPS_M_METAGRAPH_BLOCK, NULL, (double)vi.metagraph_block);
    ops_metric_set(n->metrics, OPS_M_METAGRAPH_AGE, NULL,
                   vi.has_metagraph && now > vi.metagraph_time_ms
                       ? (double)(now - vi.metagraph_time_ms) / 1000.0 : 0.0);
    for (int i = 0; i < 2; i++) {
        const char *l1[1] = {ids[i]};
        const char *l2a[2] = {ids[i], "24h"}, *l2b[2] = {ids[i], "permanent"};
        ops_metric_set(n->metrics, OPS_M_COOLDOWNS_ACTIVE, l1, (double)as.cooldowns_active[i]);
        ops_metric_set(n->metrics, OPS_M_BANS_ACTIVE, l2a, (double)as.bans_active[i][0]);
        ops_metric_set(n->metrics, OPS_M_BANS_ACTIVE, l2b, (double)as.bans_active[i][1]);
    }
    for (int l = 0; l < NET_LISTEN_COUNT; l++) {
        const char *l1[1] = {lnames[l]};
        ops_metric_set(n->metrics, OPS_M_HTTP_CONNECTIONS, l1, (double)hg.conns_open[l]);
    }
    const char *all[1] = {"all"};
    ops_metric_set(n->metrics, OPS_M_HTTP_INFLIGHT, all, (double)hg.inflight);
    net__auth_gauge(n);
    ledger_finality_state *fin;
    if (net__fin_lock(n, &fin) == TALLY_OK) {
        ledger_finality_result fr;
        if (ledger_finality_get(fin, 0, &fr) == TALLY_OK) {
            ops_metric_set(n->metrics, OPS_M_FINALITY_FINAL_CYCLE, NULL,
                           (double)fr.latest_final_cycle);
            ledger_finality_result_release(&fr);
        }
        pthread_mutex_unlock(&n->fin_mu);
    }
}

void net__h_metrics(net_node *n, httpd_req *req, net__ctx *ctx)
{
    char *text = NULL;
    size_t len = 0;

    pthread_mutex_lock(&n->mu);
    refresh_gauges(n);
    pthread_mutex_unlock(&n->mu);
    if (ops_metrics_render_buf(n->metrics, &text, &len) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    httpd_req_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

void net__h_checkpoint(net_node *n, httpd_req *req, net__ctx *ctx)
{
    schema_sth sth;
    char note[STORE_NOTE_MAX + 1];
    size_t len;

    if (store_sth_latest(n->store, &sth) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_NOT_FOUND, "the log has no signed tree head yet", NULL);
        return;
    }
    if (store_note(&sth, note, sizeof(note), &len) != TALLY_OK) {
        net__fail(n, req, ctx, WIRE_INTERNAL_ERROR, "cannot write the checkpoint note", NULL);
        return;
    }
    /* the witnesses' cosignatures of this very head after the node's own line (§6.6a) */
    if (ctx->route->listeners == (1u << NET_LISTEN_LEDGER)) {
        len += net__cosig_lines(n, sth.tree_size, note + len, sizeof(note) - 1 - len);
    }
    /* §6.2: public, cacheable for 2 s (a reader may see a head up to 2 s old, which the next
     * one extends); rate-limited as every ledger route, so with the §7.1 headers */
    net__rate_headers(req, ctx);
    net__header(req, "Cache-Control", "public, max-age=2");
    httpd_req_reply(req, 200, "text/plain; charset=utf-8", note, len);
}

/* The node's life: open (store with the rules as admission hook, read view, engine, bans, admin
 * token, listeners), run (serve, reload on SIGHUP, drain on SIGTERM), close; and its two
 * background threads: the cycle driver (a scoring cycle on schedule or when asked, while ingest
 * goes on) and the housekeeper (ban writes through the writer, hourly purges). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/node_int.h"

static tally_status say(char *dst, tally_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static tally_status say(char *dst, tally_status st, const char *fmt, ...)
{
    va_list ap;

    if (dst != NULL) {
        va_start(ap, fmt);
        vsnprintf(dst, NET_DETAIL_MAX, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- the admin token ---- */

tally_status net_admin_token(const char *path, bool create, char out[65], char *detail)
{
    struct stat sb;
    char buf[80];
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    memset(out, 0, 65);
    if (fd < 0 && errno == ENOENT && create) {
        uint8_t raw[32];
        char hex[66];
        randombytes_buf(raw, sizeof(raw));
        schema_hex(raw, 32, hex);
        sodium_memzero(raw, sizeof(raw));
        hex[64] = '\n', hex[65] = '\0';
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || write(fd, hex, 65) != 65 || fsync(fd) != 0) {
            int err = errno;
            if (fd >= 0) {
                close(fd);
                unlink(path);
            }
            return say(detail, TALLY_EIO, "cannot write the admin token %s: %s", path,
                       strerror(err));
        }
        close(fd);
        memcpy(out, hex, 64);
        return TALLY_OK;
    }
    if (fd < 0) {
        return say(detail, errno == ENOENT ? TALLY_ENOTFOUND : TALLY_EIO,
                   "cannot open the admin token %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0) {
        close(fd);
        return say(detail, TALLY_EAUTH,
                   "the admin token %s must be a regular file of mode 0600", path);
    }
    r = read(fd, buf, sizeof(buf));
    close(fd);
    if (r < 64 || (r > 64 && !(r == 65 && buf[64] == '\n'))) {
        return say(detail, TALLY_EFORMAT,
                   "the admin token %s must be 64 lower-case hex digits on one line", path);
    }
    for (int i = 0; i < 64; i++) {
        if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f'))) {
            return say(detail, TALLY_EFORMAT,
                       "the admin token %s must be 64 lower-case hex digits on one line", path);
        }
    }
    memcpy(out, buf, 64);
    sodium_memzero(buf, sizeof(buf));
    return TALLY_OK;
}

/* ---- bans: the abuse engine's decisions, persisted by the housekeeper ---- */

static void persist_ban(void *arg, const net_ban *b, bool removed)
{
    net_node *n = arg;
    net__ban_job *j = calloc(1, sizeof(*j));

    /* called with the abuse engine's lock held: only queue */
    if (j == NULL) {
        return; /* memory only then: a restart can only shorten a punishment */
    }
    j->ban = *b, j->removed = removed;
    pthread_mutex_lock(&n->mu);
    if (n->bans_tail != NULL) {
        n->bans_tail->next = j;
    } else {
        n->bans_head = j;
    }
    n->bans_tail = j;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void write_ban(net_node *n, const net__ban_job *j)
{
    uint8_t key[NET_BAN_KEY_MAX], val[NET_BAN_VALUE_MAX];
    size_t kn, vn = 0;
    tally_status st = net_ban_key_encode(&j->ban.id, key, sizeof(key), &kn);

    if (st == TALLY_OK && !j->removed) {
        st = net_ban_value_encode(&j->ban, val, sizeof(val), &vn);
    }
    if (st == TALLY_OK) {
        st = store_side_put(n->store, STORE_SIDE_BANS, key, kn, j->removed ? NULL : val, vn);
    }
    if (st != TALLY_OK) {
        OPS_LOG(n->log, OPS_ERROR, "store", "ban_write_failed",
                OPS_FS("status", tally_status_str(st)));
    }
}

static bool load_ban(void *arg, tally_bytes key, tally_bytes val)
{
    net_node *n = arg;
    net_ban b;

    if (net_ban_decode(key.p, key.n, val.p, val.n, &b) != TALLY_OK ||
        net_abuse_ban_load(n->abuse, &b) != TALLY_OK) {
        OPS_LOG(n->log, OPS_WARN, "abuse", "ban_unreadable", OPS_FU("key_bytes", key.n));
    }
    return true;
}

static void *keeper_main(void *arg)
{
    net_node *n = arg;
    uint64_t next_purge = net__mono_ms(n) + 3600000u;

    pthread_mutex_lock(&n->mu);
    while (!n->stop_threads || n->bans_head != NULL) {
        net__ban_job *j = n->bans_head;
        if (j != NULL) {
            n->bans_head = j->next;
            if (n->bans_head == NULL) {
                n->bans_tail = NULL;
            }
            pthread_mutex_unlock(&n->mu);
            write_ban(n, j);
            free(j);
            pthread_mutex_lock(&n->mu);
            continue;
        }
        pthread_mutex_unlock(&n->mu);
        net__reap_writes(n);
        /* §9.1: a wall clock stepped back by more than a second makes /health degraded (for an
         * hour): record times never go back, so records would queue behind the old time */
        uint64_t wall = net__now_ms(n), seen = atomic_load(&n->clock_seen_ms);
        if (seen > wall + 1000) {
            atomic_store(&n->clock_stepped_ms, net__mono_ms(n) + 1);
            OPS_LOG(n->log, OPS_WARN, "net", "clock_stepped_back", OPS_FU("from_ms", seen),
                    OPS_FU("to_ms", wall));
        }
        atomic_store(&n->clock_seen_ms, wall);
        pthread_mutex_lock(&n->mu);
        if (net__mono_ms(n) >= next_purge) {
            size_t purged;
            pthread_mutex_unlock(&n->mu);
            net_abuse_bans_purge(n->abuse, net__now_ms(n), &purged);
            next_purge = net__mono_ms(n) + 3600000u;
            pthread_mutex_lock(&n->mu);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++, until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&n->cv, &n->mu, &until);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* ---- the cycle driver ---- */

void net__cycle_now(net_node *n)
{
    pthread_mutex_lock(&n->mu);
    n->cycle_asked = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* The next cycle time after t: the next multiple of the interval (so that one cycle falls on
 * each UTC midnight when the interval divides a day, as the default 6 h does). */
static uint64_t next_slot(const net_node *n, uint64_t t)
{
    uint64_t iv = ops_config_u64(n->conf, OPS_K_CYCLE_INTERVAL_S) * 1000u;
    return iv ? (t / iv + 1) * iv : UINT64_MAX;
}

static void run_cycle(net_node *n)
{
    ledger_cycle_info info;
    uint64_t t0 = net__mono_ms(n), now = net__now_ms(n);
    tally_status st;

    if (atomic_load(&n->latched) != 0) {
        return;
    }
    st = ledger_node_cycle_live(n->store, &n->eng, n->cyc_rules, now, &info);
    pthread_mutex_lock(&n->mu);
    if (st == TALLY_OK) {
        uint64_t cycle, epoch;
        engine_rules_cycles(n->cyc_rules, &cycle, &epoch);
        n->last_cycle = cycle + 1, n->last_cycle_ms = now;
        n->last_cycle_error[0] = '\0';
    } else {
        n->cycles_failed++;
        snprintf(n->last_cycle_error, sizeof(n->last_cycle_error), "%s",
                 info.what[0] ? info.what : tally_status_str(st));
    }
    pthread_mutex_unlock(&n->mu);
    if (st == TALLY_OK) {
        double secs = (double)(net__mono_ms(n) - t0) / 1000.0;
        /* the block: the cycle record and its derived records */
        static const char *const types[5] = {"SCORING_CYCLE", "SUBMISSION_SCORE", "MINER_SCORE",
                                             "WEIGHTS", "STATE_HASH"};
        const uint64_t counts[5] = {1, info.scores, info.miners, info.has_weights ? 1u : 0u, 1};
        for (int i = 0; i < 5; i++) {
            const char *lt[1] = {types[i]};
            if (counts[i] > 0) {
                ops_metric_add(n->metrics, OPS_M_LOG_APPENDS, lt, (double)counts[i]);
            }
        }
        ops_metric_set(n->metrics, OPS_M_SCORING_CYCLE, NULL, (double)n->last_cycle);
        ops_metric_observe(n->metrics, OPS_M_SCORING_DURATION, NULL, secs);
        OPS_LOG(n->log, OPS_INFO, "engine", "cycle_appended", OPS_FU("cycle", n->last_cycle),
                OPS_FU("seq", info.seq), OPS_FU("records", info.records),
                OPS_FU("miners", info.miners), OPS_FB("weights", info.has_weights),
                OPS_FH("state_hash", info.state_hash, 32),
                OPS_FU("ms", net__mono_ms(n) - t0));
    } else {
        OPS_LOG(n->log, OPS_ERROR, "engine", "cycle_failed", OPS_FS("status", tally_status_str(st)),
                OPS_FS("why", n->last_cycle_error));
        net__latch(n, st);
    }
}

static void *cycler_main(void *arg)
{
    net_node *n = arg;

    pthread_mutex_lock(&n->mu);
    n->next_cycle_ms = next_slot(n, net__now_ms(n));
    while (!n->stop_threads) {
        uint64_t now = net__now_ms(n);
        ledger_view_info vi;
        if (n->cycle_asked || now >= n->next_cycle_ms) {
            bool asked = n->cycle_asked;
            n->cycle_asked = false;
            n->next_cycle_ms = next_slot(n, now);
            pthread_mutex_unlock(&n->mu);
            ledger_view_info_get(n->view, &vi);
            /* a cycle needs GENESIS; on schedule it also waits for a METAGRAPH to score */
            if (vi.has_genesis && (asked || vi.has_metagraph)) {
                run_cycle(n);
            }
            pthread_mutex_lock(&n->mu);
            continue;
        }
        /* the node clock may be a manual one: wake often enough to follow it */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++, until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&n->cv, &n->mu, &until);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

void net__latch(net_node *n, tally_status st)
{
    int none = 0;

    if ((st == TALLY_EFULL || st == TALLY_EIO || st == TALLY_ECORRUPT) &&
        atomic_compare_exchange_strong(&n->latched, &none, (int)st)) {
        OPS_LOG(n->log, OPS_ERROR, "store", "store_fault", OPS_FS("status", tally_status_str(st)),
                OPS_FS("effect", "writes latched off until restart"));
    }
}

/* ---- open ---- */

static uint64_t store_clock(void *arg)
{
    return (uint64_t)ops_clock_wall_ms(arg);
}

static void on_commit(void *arg, uint64_t first, uint64_t records, uint64_t ns)
{
    net_node *n = arg;

    ops_metric_observe(n->metrics, OPS_M_COMMIT_RECORDS, NULL, (double)records);
    ops_metric_observe(n->metrics, OPS_M_COMMIT_DURATION, NULL, (double)ns / 1e9);
    OPS_LOG(n->log, OPS_DEBUG, "store", "commit", OPS_FU("records", records),
            OPS_FU("first_seq", first), OPS_FU("last_seq", first + records - 1),
            OPS_FU("ms", ns / 1000000u));
}

static tally_status open_store(net_node *n, char *detail)
{
    char sd[STORE_DETAIL_MAX] = "";
    store_cfg sc = {.dir = n->dir,
                    .map_size = (size_t)ops_config_u64(n->conf, OPS_K_LMDB_MAP_SIZE),
                    .commit_max = (size_t)ops_config_u64(n->conf, OPS_K_COMMIT_MAX_RECORDS),
                    .queue_max = (size_t)ops_config_u64(n->conf, OPS_K_WRITER_QUEUE),
                    .max_skew_ms = ops_config_u64(n->conf, OPS_K_AUTH_MAX_SKEW_S) * 1000u,
                    .clock = store_clock,
                    .clock_arg = n->clock,
                    .on_commit = on_commit,
                    .on_commit_arg = n,
                    .detail = sd};
    tally_status st;

    /* the node key sits in the data directory unless TALLY_KEY_FILE names another file */
    if (ops_config_source(n->conf, OPS_K_KEY_FILE) != OPS_SRC_DEFAULT) {
        sc.key_file = ops_config_str(n->conf, OPS_K_KEY_FILE);
    }
    /* the map size of an existing log is kept unless configured explicitly */
    if (ops_config_source(n->conf, OPS_K_LMDB_MAP_SIZE) == OPS_SRC_DEFAULT) {
        sc.map_size = 0;
    }
    st = ledger_admission_init(&n->adm);
    if (st != TALLY_OK) {
        return st;
    }
    n->adm_init = true;
    sc.admission = &n->adm.hook;
    st = store_open(&sc, &n->store);
    if (st != TALLY_OK) {
        return say(detail, st, "%s", sd[0] ? sd : "cannot open the log");
    }
    st = ledger_admission_attach(&n->adm, n->store);
    if (st == TALLY_OK) {
        st = ledger_view_open(n->store, &n->view);
    }
    if (st == TALLY_OK) {
        uint64_t cycles;
        /* TALLY_START_REPLAY=checkpoint trusts the log before the latest checkpoint */
        st = ledger_node_catch_up(n->store,
                                  ops_config_u64(n->conf, OPS_K_START_REPLAY) == 1, &n->eng,
                                  &cycles, &n->resumed_from);
        if (st == TALLY_ECORRUPT) {
            return say(detail, st,
                       "the log's derived records do not replay (run 'tally replay' for the seq)");
        }
        n->last_cycle = cycles;
    }
    if (st == TALLY_OK) {
        st = engine_rules_new(&n->cyc_rules);
    }
    if (st == TALLY_OK) {
        st = ledger_rules_fold(n->store, n->cyc_rules, engine_next_seq(n->eng));
    }
    if (st != TALLY_OK) {
        return say(detail, st, "cannot fold the log: %s", tally_status_str(st));
    }
    snprintf(n->origin, sizeof(n->origin), "%s", store_origin(n->store));
    store_node_pubkey(n->store, n->node_pk);
    return TALLY_OK;
}

static tally_status open_abuse(net_node *n, char *detail)
{
    char ad[NET_ABUSE_DETAIL_MAX] = "";
    const ops_config *c = n->conf;
    net_abuse_cfg ac = {
        .rate_key = {(uint32_t)ops_config_u64(c, OPS_K_RATE_KEY_PER_S),
                     (uint32_t)ops_config_u64(c, OPS_K_RATE_KEY_PER_MIN)},
        .rate_ip = {(uint32_t)ops_config_u64(c, OPS_K_RATE_IP_PER_S),
                    (uint32_t)ops_config_u64(c, OPS_K_RATE_IP_PER_MIN)},
        .rate_global = {(uint32_t)ops_config_u64(c, OPS_K_RATE_GLOBAL_PER_S),
                        (uint32_t)ops_config_u64(c, OPS_K_RATE_GLOBAL_PER_MIN)},
        .cooldown_initial_s = (uint32_t)ops_config_u64(c, OPS_K_COOLDOWN_INITIAL_S),
        .cooldown_max_s = (uint32_t)ops_config_u64(c, OPS_K_COOLDOWN_MAX_S),
        .cooldown_reset_s = (uint32_t)ops_config_u64(c, OPS_K_COOLDOWN_RESET_S),
        .cooldown_key_failures = (uint32_t)ops_config_u64(c, OPS_K_COOLDOWN_KEY_FAILURES),
        .cooldown_key_window_s = (uint32_t)ops_config_u64(c, OPS_K_COOLDOWN_KEY_WINDOW_S),
        .cooldown_ip_failures = (uint32_t)ops_config_u64(c, OPS_K_COOLDOWN_IP_FAILURES),
        .cooldown_ip_window_s = (uint32_t)ops_config_u64(c, OPS_K_COOLDOWN_IP_WINDOW_S),
        .cooldown_ip_distinct_keys = (uint32_t)ops_config_u64(c, OPS_K_COOLDOWN_IP_DISTINCT_KEYS),
        .fail2ban_violations = (uint32_t)ops_config_u64(c, OPS_K_FAIL2BAN_VIOLATIONS),
        .fail2ban_window_s = (uint32_t)ops_config_u64(c, OPS_K_FAIL2BAN_WINDOW_S),
        .fail2ban_ban_s = (uint32_t)ops_config_u64(c, OPS_K_FAIL2BAN_BAN_S),
        .critical_strikes = (uint32_t)ops_config_u64(c, OPS_K_CRITICAL_STRIKES),
        .critical_window_s = (uint32_t)ops_config_u64(c, OPS_K_CRITICAL_WINDOW_S),
        .no_probe_ban = !ops_config_bool(c, OPS_K_PROBE_BAN),
        .exempt = ops_config_str(c, OPS_K_ABUSE_EXEMPT),
        .trusted_proxies = ops_config_str(c, OPS_K_TRUSTED_PROXIES),
        .persist = persist_ban,
        .persist_arg = n,
        .detail = ad};
    tally_status st = net_abuse_new(&ac, &n->abuse);

    if (st != TALLY_OK) {
        return say(detail, st, "abuse control: %s", ad[0] ? ad : tally_status_str(st));
    }
    return store_side_each(n->store, STORE_SIDE_BANS, load_ban, n);
}

static tally_status open_http(net_node *n, char *detail)
{
    static const ops_key keys[NET_LISTEN_COUNT] = {OPS_K_INGEST_LISTEN, OPS_K_LEDGER_LISTEN,
                                                   OPS_K_OPS_LISTEN};
    static const char *const names[NET_LISTEN_COUNT] = {"ingest", "ledger", "ops"};
    httpd_listener_cfg lc[NET_LISTEN_COUNT];
    ops_hostport hp;
    char err[256];
    const ops_config *c = n->conf;
    httpd_cfg hc = {.listeners = lc,
                    .n_listeners = NET_LISTEN_COUNT,
                    .threads = (unsigned)ops_config_u64(c, OPS_K_HTTP_THREADS),
                    .max_conns = (unsigned)ops_config_u64(c, OPS_K_MAX_CONNECTIONS),
                    .max_conns_per_ip = (unsigned)ops_config_u64(c, OPS_K_MAX_CONNECTIONS_PER_IP),
                    .read_timeout_ms = (unsigned)ops_config_u64(c, OPS_K_READ_TIMEOUT_S) * 1000u,
                    .write_timeout_ms = (unsigned)ops_config_u64(c, OPS_K_WRITE_TIMEOUT_S) * 1000u,
                    .idle_timeout_ms = (unsigned)ops_config_u64(c, OPS_K_IDLE_TIMEOUT_S) * 1000u,
                    .zstd_level = (int)ops_config_u64(c, OPS_K_ZSTD_LEVEL),
                    .on_reply = net__on_reply,
                    .on_reply_arg = n};
    tally_status st;

    for (int i = 0; i < NET_LISTEN_COUNT; i++) {
        const char *v = ops_config_str(c, keys[i]);
        if (ops_hostport_parse(v, &hp, err, sizeof(err)) != TALLY_OK) {
            return say(detail, TALLY_EINVAL, "%s: %s", ops_config_def(keys[i])->name, err);
        }
        lc[i] = (httpd_listener_cfg){
            .name = names[i],
            .port = hp.port,
            .max_body =
                i == NET_LISTEN_OPS ? (4u << 20) : (size_t)ops_config_u64(c, OPS_K_MAX_BODY_INGEST),
            .head = net__head,
            .handle = net__handle,
            .arg = n};
        snprintf(n->hosts[i], sizeof(n->hosts[i]), "%s", hp.addr);
        lc[i].host = n->hosts[i];
    }
    st = httpd_open(&hc, &n->http);
    if (st != TALLY_OK) {
        return say(detail, st, "cannot listen on %s, %s and %s (a port in use?)",
                   ops_config_str(c, keys[0]), ops_config_str(c, keys[1]),
                   ops_config_str(c, keys[2]));
    }
    return TALLY_OK;
}

static tally_status token_path(const net_node *n, char *out, size_t cap)
{
    const char *p = ops_config_str(n->conf, OPS_K_ADMIN_TOKEN_FILE);
    int w;

    if (ops_config_source(n->conf, OPS_K_ADMIN_TOKEN_FILE) != OPS_SRC_DEFAULT && p != NULL &&
        p[0] != '\0') {
        w = snprintf(out, cap, "%s", p);
    } else {
        w = snprintf(out, cap, "%s/%s", n->dir, NET_ADMIN_TOKEN_FILE);
    }
    return w > 0 && (size_t)w < cap ? TALLY_OK : TALLY_EINVAL;
}

tally_status net_node_open(const net_node_cfg *cfg, net_node **out)
{
    net_node *n = calloc(1, sizeof(*n));
    char path[4200];
    tally_status st;

    *out = NULL;
    if (cfg->detail != NULL) {
        cfg->detail[0] = '\0';
    }
    if (n == NULL) {
        return TALLY_ENOMEM;
    }
    snprintf(n->dir, sizeof(n->dir), "%s", cfg->dir);
    n->conf = cfg->conf;
    n->log = cfg->log, n->clock = cfg->clock;
    n->reload = cfg->reload, n->reload_arg = cfg->reload_arg;
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->pending_mu, NULL);
    pthread_mutex_init(&n->fin_mu, NULL);
    n->fin_init = true;
    pthread_cond_init(&n->cv, NULL);
    n->started_ms = net__now_ms(n);
    n->grace_ms = (unsigned)ops_config_u64(n->conf, OPS_K_SHUTDOWN_GRACE_S) * 1000u;
    st = ops_metrics_new(ops_metrics_node_defs(), OPS_M_NODE_COUNT, &n->metrics);
    if (st == TALLY_OK) {
        const char *bi[2] = {SCHEMA_CODE_VERSION, TALLY_COMMIT};
        ops_metric_set(n->metrics, OPS_M_BUILD_INFO, bi, 1);
        st = open_store(n, cfg->detail);
    }
    if (st == TALLY_OK) {
        st = token_path(n, path, sizeof(path));
        if (st == TALLY_OK) {
            st = net_admin_token(path, true, n->admin_token, cfg->detail);
        }
    }
    if (st == TALLY_OK) {
        st = open_abuse(n, cfg->detail);
    }
    if (st == TALLY_OK) {
        st = net_rnonce_new(&n->rnonce);
    }
    if (st == TALLY_OK) {
        st = net__auth_new(&n->auth);
    }
    if (st == TALLY_OK) {
        st = net__tcache_new((size_t)ops_config_u64(n->conf, OPS_K_TILE_CACHE_MB) << 20, &n->tiles);
    }
    if (st == TALLY_OK) {
        st = open_http(n, cfg->detail);
    }
    if (st != TALLY_OK) {
        net_node_close(n);
        return st;
    }
    *out = n;
    return TALLY_OK;
}

uint16_t net_node_port(const net_node *n, net_listener which)
{
    return n->http != NULL ? httpd_port(n->http, which) : 0;
}

/* ---- run and drain ---- */

void net_node_stop(net_node *n)
{
    atomic_store(&n->stop_asked, true);
}

static tally_status start_threads(net_node *n)
{
    if (pthread_create(&n->keeper, NULL, keeper_main, n) != 0) {
        return TALLY_ENOMEM;
    }
    n->keeper_started = true;
    if (pthread_create(&n->cycler, NULL, cycler_main, n) != 0) {
        return TALLY_ENOMEM;
    }
    n->cycler_started = true;
    return TALLY_OK;
}

static void stop_threads(net_node *n)
{
    pthread_mutex_lock(&n->mu);
    n->stop_threads = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->cycler_started) {
        pthread_join(n->cycler, NULL);
        n->cycler_started = false;
    }
    if (n->keeper_started) {
        pthread_join(n->keeper, NULL);
        n->keeper_started = false;
    }
}

tally_status net__reload(net_node *n, char *err)
{
    const ops_config *conf;
    ops_level lv;

    if (n->reload == NULL) {
        snprintf(err, NET_DETAIL_MAX, "this node was started without a reloadable configuration");
        return TALLY_EINVAL;
    }
    pthread_mutex_lock(&n->mu);
    conf = n->reload(n->reload_arg, n->conf, err);
    if (conf != NULL) {
        /* readers take the pointer once per use; the caller keeps the old one alive */
        n->conf = conf;
    }
    pthread_mutex_unlock(&n->mu);
    if (conf == NULL) {
        OPS_LOG(n->log, OPS_ERROR, "net", "config_reload_refused", OPS_FS("why", err));
        return TALLY_ECONFLICT;
    }
    if (ops_level_parse(ops_config_str(conf, OPS_K_LOG_LEVEL), &lv) == TALLY_OK) {
        ops_log_set_level(n->log, lv);
    }
    OPS_LOG(n->log, OPS_INFO, "net", "config_reloaded", OPS_FS("file", ops_config_file(conf)));
    return TALLY_OK;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static void log_startup(net_node *n)
{
    char vkey[300] = "";
    ledger_view_info vi;

    net__best_effort(store_vkey(n->origin, n->node_pk, vkey, sizeof(vkey)));
    ledger_view_info_get(n->view, &vi);
    OPS_LOG(n->log, OPS_INFO, "net", "startup", OPS_FS("version", SCHEMA_CODE_VERSION),
            OPS_FS("origin", n->origin), OPS_FS("verifier_key", vkey),
            OPS_FS("dir", n->dir), OPS_FU("tree_size", vi.size),
            OPS_FU("ingest_port", net_node_port(n, NET_LISTEN_INGEST)),
            OPS_FU("ledger_port", net_node_port(n, NET_LISTEN_LEDGER)),
            OPS_FU("ops_port", net_node_port(n, NET_LISTEN_OPS)),
            OPS_FU("replay_from_cycle", n->resumed_from),
            OPS_FS("clock", ops_clock_get_mode(n->clock) == OPS_CLOCK_MANUAL ? "manual" : "system"),
            OPS_FU("pid", (uint64_t)getpid()));
}

tally_status net_node_run(net_node *n, net_signal_fn sig, void *sig_arg)
{
    tally_status st = start_threads(n);
    unsigned notice;
    uint64_t t0;

    if (st != TALLY_OK) {
        stop_threads(n);
        return st;
    }
    log_startup(n);
    while (!atomic_load(&n->stop_asked)) {
        char err[NET_DETAIL_MAX] = "";
        net_signal s = sig != NULL ? sig(sig_arg, 200) : NET_SIG_NONE;
        if (sig == NULL) {
            sleep_ms(200);
        }
        if (s == NET_SIG_STOP) {
            break;
        }
        if (s == NET_SIG_RELOAD) {
            (void)net__reload(n, err);
        }
    }
    /* §9.6: ready turns 503 and new connections are refused; requests still arriving on open
     * connections learn that the node is going away; then in-flight requests finish */
    t0 = net__mono_ms(n);
    atomic_store(&n->draining, true);
    OPS_LOG(n->log, OPS_INFO, "net", "shutdown", OPS_FS("phase", "draining"),
            OPS_FU("grace_ms", n->grace_ms));
    httpd_stop_accepting(n->http);
    notice = n->grace_ms / 4 < 2000 ? n->grace_ms / 4 : 2000;
    sleep_ms(notice);
    httpd_stop(n->http, n->grace_ms > notice ? n->grace_ms - notice : 0);
    httpd_wait(n->http);
    stop_threads(n);
    st = (tally_status)atomic_load(&n->latched);
    OPS_LOG(n->log, OPS_INFO, "net", "shutdown", OPS_FS("phase", "done"),
            OPS_FU("ms", net__mono_ms(n) - t0), OPS_FU("tree_size", store_size(n->store)));
    return st;
}

void net_node_close(net_node *n)
{
    if (n == NULL) {
        return;
    }
    stop_threads(n);
    httpd_close(n->http);
    /* the writer commits what it was given and the final head is stored before LMDB closes */
    store_close(n->store);
    if (n->adm_init) {
        ledger_admission_release(&n->adm);
    }
    ledger_view_close(n->view);
    engine_free(n->eng);
    engine_rules_free(n->cyc_rules);
    net_abuse_free(n->abuse);
    net_rnonce_free(n->rnonce);
    net__auth_free(n->auth);
    net__tcache_free(n->tiles); /* after httpd_close: no request holds an entry */
    ledger_finality_free(n->fin);
    if (n->fin_init) {
        pthread_mutex_destroy(&n->fin_mu);
    }
    ops_metrics_free(n->metrics);
    while (n->bans_head != NULL) {
        net__ban_job *j = n->bans_head;
        n->bans_head = j->next;
        free(j);
    }
    sodium_memzero(n->admin_token, sizeof(n->admin_token));
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->pending_mu);
    pthread_cond_destroy(&n->cv);
    free(n);
}

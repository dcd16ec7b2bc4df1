/* tally serve: the validator node over HTTP (net/), in the foreground, for systemd or a shell. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "net/net.h"

extern char **environ;

static void help(void)
{
    printf("usage: tally serve [--dir DIR] [--config FILE] [--check]\n\n"
           "Runs the node: miners submit signed odds and outcomes on the ingest listener,\n"
           "auditors and the public read the ledger listener, operators and feeders use the\n"
           "ops listener (health, metrics, and the admin API with the admin token). Logs are\n"
           "JSON lines on stderr. SIGTERM or SIGINT drains and exits 0 (a second one exits at\n"
           "once); SIGHUP reloads the configuration.\n\n"
           "Configuration (highest first): these flags, the environment, the config file\n"
           "(--config, $TALLY_CONFIG, else /etc/tally/tally.env if present), the defaults.\n"
           "Every setting is listed in docs/configuration.md. With no configuration at all the\n"
           "node serves the log in ./tally-data on loopback only:\n"
           "  ingest 127.0.0.1:8093, ledger 127.0.0.1:8200, ops 127.0.0.1:8290\n"
           "and keeps its admin token in DIR/admin.token (made at first start, mode 0600).\n\n"
           "  --dir DIR      the data directory (else $TALLY_DIR, $TALLY_DATA_DIR, ./tally-data)\n"
           "  --config FILE  a KEY=value file (the EnvironmentFile of the systemd unit)\n"
           "  --check        check the configuration and the data directory, print the\n"
           "                 settings in effect, and exit (0 when everything is in order)\n");
}

/* Where the configuration comes from, kept for SIGHUP: the same sources, read again. */
typedef struct serve_conf {
    const char *overrides[8];
    size_t n;
    ops_config *cur;
    ops_config *all[64]; /* every configuration the node was given, freed at exit */
    size_t n_all;
} serve_conf;

static void add_override(serve_conf *sc, const char *kv)
{
    if (sc->n + 1 < sizeof(sc->overrides) / sizeof(sc->overrides[0])) {
        sc->overrides[sc->n++] = kv;
        sc->overrides[sc->n] = NULL;
    }
}

static tally_status load(serve_conf *sc, ops_config **out, char *err, size_t cap)
{
    ops_config_src src = {.overrides = sc->overrides, .env = (const char *const *)environ};
    return ops_config_load(&src, out, err, cap);
}

/* Without any configuration of its listeners, the node stays on loopback (a first run must not
 * expose an unconfigured node to the network). */
static void loopback_defaults(serve_conf *sc, const ops_config *c)
{
    if (ops_config_source(c, OPS_K_INGEST_LISTEN) == OPS_SRC_DEFAULT) {
        add_override(sc, "TALLY_INGEST_LISTEN=127.0.0.1:8093");
    }
    if (ops_config_source(c, OPS_K_LEDGER_LISTEN) == OPS_SRC_DEFAULT) {
        add_override(sc, "TALLY_LEDGER_LISTEN=127.0.0.1:8200");
    }
}

static const ops_config *reload_conf(void *arg, const ops_config *current, char *err)
{
    serve_conf *sc = arg;
    ops_config_src src = {.overrides = sc->overrides, .env = (const char *const *)environ};
    ops_config *fresh = NULL;

    if (sc->n_all == sizeof(sc->all) / sizeof(sc->all[0])) {
        snprintf(err, NET_DETAIL_MAX, "too many reloads in one run; restart the node");
        return NULL;
    }
    if (ops_config_reload(current, &src, &fresh, err, NET_DETAIL_MAX) != TALLY_OK) {
        return NULL;
    }
    sc->all[sc->n_all++] = fresh;
    sc->cur = fresh;
    return fresh;
}

static sigset_t serve_sigs;

static net_signal wait_signal(void *arg, unsigned wait_ms)
{
    struct timespec ts = {(time_t)(wait_ms / 1000u), (long)(wait_ms % 1000u) * 1000000L};
    int s = sigtimedwait(&serve_sigs, NULL, &ts);

    (void)arg;
    if (s == SIGHUP) {
        return NET_SIG_RELOAD;
    }
    if (s == SIGTERM || s == SIGINT) {
        /* a second signal ends the process at once: its default action, unblocked */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigset_t two;
        sigemptyset(&two);
        sigaddset(&two, SIGTERM);
        sigaddset(&two, SIGINT);
        pthread_sigmask(SIG_UNBLOCK, &two, NULL);
        return NET_SIG_STOP;
    }
    return NET_SIG_NONE;
}

static void dump_one(const ops_keydef *def, const char *value, ops_source src, void *arg)
{
    (void)arg;
    printf("%-34s %-24s (%s)\n", def->name, value, ops_source_str(src));
}

static const char *data_dir(const char *opt, const ops_config *c)
{
    const char *env = getenv("TALLY_DIR");

    if (opt != NULL) {
        return opt;
    }
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    if (ops_config_source(c, OPS_K_DATA_DIR) != OPS_SRC_DEFAULT) {
        return ops_config_str(c, OPS_K_DATA_DIR);
    }
    return cli_dir(NULL);
}

static int check(const char *dir, const ops_config *c)
{
    store_log *log;
    char path[4200], token[65], detail[NET_DETAIL_MAX] = "";
    const char *tp = ops_config_str(c, OPS_K_ADMIN_TOKEN_FILE);
    int rc;
    tally_status st;

    ops_config_dump(c, dump_one, NULL);
    rc = cli_open("serve", dir, true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    printf("log %s: %llu records, origin %s\n", dir, (unsigned long long)store_size(log),
           store_origin(log));
    store_close(log);
    snprintf(path, sizeof(path), "%s/%s", dir, NET_ADMIN_TOKEN_FILE);
    if (ops_config_source(c, OPS_K_ADMIN_TOKEN_FILE) != OPS_SRC_DEFAULT) {
        snprintf(path, sizeof(path), "%s", tp);
    }
    st = net_admin_token(path, false, token, detail);
    if (st == TALLY_ENOTFOUND) {
        printf("admin token %s: not there yet (tally serve makes it)\n", path);
    } else if (st != TALLY_OK) {
        return cli_fail("serve", st, "%s", detail);
    } else {
        printf("admin token %s: ok\n", path);
    }
    printf("configuration and data directory are in order\n");
    return CLI_OK;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static serve_conf sc;
    static char conf_kv[4300];
    const char *dir_opt = NULL, *dir;
    char err[1024] = "", detail[NET_DETAIL_MAX] = "";
    bool only_check = false;
    ops_config *conf = NULL;
    ops_log *log = NULL;
    ops_clock *clock = NULL;
    ops_level level;
    net_node *node = NULL;
    tally_status st;
    int c, rc = CLI_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'c':
            snprintf(conf_kv, sizeof(conf_kv), "TALLY_CONFIG=%s", optarg);
            add_override(&sc, conf_kv);
            break;
        case 'k': only_check = true; break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("serve", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("serve", "unexpected argument %s", argv[optind]);
    }
    if (load(&sc, &conf, err, sizeof(err)) != TALLY_OK) {
        return cli_fail("serve", TALLY_EINVAL, "%s", err);
    }
    dir = data_dir(dir_opt, conf);
    loopback_defaults(&sc, conf);
    ops_config_free(conf);
    conf = NULL;
    if (load(&sc, &conf, err, sizeof(err)) != TALLY_OK) {
        return cli_fail("serve", TALLY_EINVAL, "%s", err);
    }
    if (only_check) {
        rc = check(dir, conf);
        ops_config_free(conf);
        return rc;
    }
    sc.cur = conf, sc.all[sc.n_all++] = conf;
    if (ops_level_parse(ops_config_str(conf, OPS_K_LOG_LEVEL), &level) != TALLY_OK) {
        level = OPS_INFO; /* the table admits only valid levels */
    }
    /* a manual clock starts at TALLY_CLOCK_START_MS, or at the real time when that is 0 */
    int64_t start = (int64_t)ops_config_u64(conf, OPS_K_CLOCK_START_MS);
    if (start == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    st = ops_clock_new(ops_config_u64(conf, OPS_K_CLOCK) == 1 ? OPS_CLOCK_MANUAL : OPS_CLOCK_REAL,
                       start, &clock);
    if (st == TALLY_OK) {
        ops_log_cfg lc = {.fd = 2, .level = level, .now_ms = ops_clock_now_ms_cb,
                          .now_arg = clock};
        st = ops_log_new(&lc, &log);
    }
    if (st != TALLY_OK) {
        rc = cli_fail("serve", st, "cannot start");
        goto out;
    }
    /* every thread the node starts inherits this mask: the signals come to wait_signal only */
    sigemptyset(&serve_sigs);
    sigaddset(&serve_sigs, SIGTERM);
    sigaddset(&serve_sigs, SIGINT);
    sigaddset(&serve_sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &serve_sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    net_node_cfg nc = {.dir = dir, .conf = conf, .log = log, .clock = clock,
                       .reload = reload_conf, .reload_arg = &sc, .detail = detail};
    st = net_node_open(&nc, &node);
    if (st != TALLY_OK) {
        rc = cli_fail("serve", st, "%s", detail[0] ? detail : "cannot open the node");
        goto out;
    }
    printf("tally serve: the log in %s\n", dir);
    static const ops_key lk[3] = {OPS_K_INGEST_LISTEN, OPS_K_LEDGER_LISTEN, OPS_K_OPS_LISTEN};
    static const char *const ln[3] = {"ingest", "ledger", "ops   "};
    for (int i = 0; i < 3; i++) {
        ops_hostport hp;
        char e2[128];
        if (ops_hostport_parse(ops_config_str(conf, lk[i]), &hp, e2, sizeof(e2)) == TALLY_OK) {
            printf("  %s http://%s%s%s:%u\n", ln[i], hp.family == OPS_AF_INET6 ? "[" : "",
                   hp.addr, hp.family == OPS_AF_INET6 ? "]" : "",
                   net_node_port(node, (net_listener)i));
        }
    }
    printf("  admin token in %s\n", ops_config_source(conf, OPS_K_ADMIN_TOKEN_FILE) !=
                                          OPS_SRC_DEFAULT
                                      ? ops_config_str(conf, OPS_K_ADMIN_TOKEN_FILE)
                                      : "DIR/admin.token");
    fflush(stdout);
    st = net_node_run(node, wait_signal, NULL);
    net_node_close(node);
    if (st != TALLY_OK) {
        rc = cli_fail("serve", st, "stopped after a store fault");
    }
out:
    ops_log_free(log);
    ops_clock_free(clock);
    for (size_t i = 0; i < sc.n_all; i++) {
        ops_config_free(sc.all[i]);
    }
    return rc;
}

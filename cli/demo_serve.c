/* The demos' node (cli.h, cli_demo_serve_*): `tally serve` in this process on a data directory,
 * on loopback with ephemeral ports, its JSON log in DIR/serve.log, running on its own thread. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "net/net.h"

static void *run_node(void *arg)
{
    cli_demo_node_run *d = arg;
    d->st = net_node_run(d->node, NULL, NULL);
    return NULL;
}

int cli_demo_serve_up(const char *dir, const char *const *overrides, bool manual_clock,
                      uint64_t start_ms, cli_demo_node_run *d)
{
    ops_config_src src = {.overrides = overrides, .default_file = "/nonexistent/tally.env"};
    char logpath[sizeof(d->logpath)], err[512] = "", detail[NET_DETAIL_MAX] = "";
    store_log *sl;
    uint8_t pk[32];
    tally_status st;
    int rc = cli_open("demo", dir, true, &sl);

    memset(d, 0, sizeof(*d));
    d->fd = -1;
    if (rc != CLI_OK) {
        return rc;
    }
    store_node_pubkey(sl, pk);
    snprintf(d->origin, sizeof(d->origin), "%s", store_origin(sl));
    store_close(sl);
    if (store_vkey(d->origin, pk, d->vkey, sizeof(d->vkey)) != TALLY_OK) {
        return cli_fail("demo", TALLY_EINVAL, "the log's origin %s", d->origin);
    }
    snprintf(logpath, sizeof(logpath), "%s/serve.log", dir);
    snprintf(d->logpath, sizeof(d->logpath), "%s", logpath);
    d->fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    st = ops_config_load(&src, &d->conf, err, sizeof(err));
    if (st == TALLY_OK) {
        st = ops_clock_new(manual_clock ? OPS_CLOCK_MANUAL : OPS_CLOCK_REAL, (int64_t)start_ms,
                           &d->clock);
    }
    if (st == TALLY_OK) {
        ops_log_cfg lc = {.fd = d->fd >= 0 ? d->fd : 2, .level = OPS_INFO};
        st = ops_log_new(&lc, &d->log);
    }
    if (st == TALLY_OK) {
        net_node_cfg nc = {
            .dir = dir, .conf = d->conf, .log = d->log, .clock = d->clock, .detail = detail};
        st = net_node_open(&nc, &d->node);
    }
    if (st != TALLY_OK) {
        rc = cli_fail("demo", st, "cannot start the node: %s", detail[0] ? detail : err);
        cli_demo_serve_down(d);
        return rc;
    }
    if (pthread_create(&d->th, NULL, run_node, d) != 0) {
        cli_demo_serve_down(d);
        return cli_fail("demo", TALLY_ENOMEM, "cannot start the node's thread");
    }
    d->running = true;
    return CLI_OK;
}

void cli_demo_serve_stop(cli_demo_node_run *d)
{
    if (d->running) {
        net_node_stop(d->node);
        pthread_join(d->th, NULL);
        d->running = false;
    }
}

void cli_demo_serve_down(cli_demo_node_run *d)
{
    cli_demo_serve_stop(d);
    net_node_close(d->node);
    ops_log_free(d->log);
    ops_clock_free(d->clock);
    ops_config_free(d->conf);
    if (d->fd >= 0) {
        close(d->fd);
    }
    memset(d, 0, sizeof(*d));
    d->fd = -1;
}

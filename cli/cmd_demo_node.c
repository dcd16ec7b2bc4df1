/* The demo's node on loopback: `tally init` of a fresh log beside the demo's, `tally serve` in
 * this process (ephemeral ports on 127.0.0.1, the node's JSON log in a file) on a manual clock,
 * the load generator driving it through a simulated week (its feeders and miners over HTTP,
 * every receipt checked, a scoring cycle each midnight), the auditors, a drain, an integrity
 * scan of what the node wrote and the weight table of its last cycle. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "net/net.h"

#define DEMO_AUDITORS 3u
#define DEMO_DAYS 7u
#define DEMO_DAY_MS 86400000ull
/* The week starts on Monday 2027-01-04 00:00 UTC, so a fresh demo prints the same dates; on a
 * node log from an earlier demo (or one whose GENESIS is later), at the midnight after its last
 * record, since a log's times never go back. */
#define DEMO_WEEK_START_MS 1799020800000ull

static int make_log(const char *ndir)
{
    char path[4300];
    char *argv[] = {"init", "--dir", (char *)(uintptr_t)ndir, NULL};
    int rc;

    snprintf(path, sizeof(path), "%s/data.mdb", ndir);
    if (access(path, F_OK) == 0) {
        return CLI_OK; /* a node log from an earlier demo: served on */
    }
    /* cmd_init prints its own lines; the demo keeps them short */
    fflush(stdout);
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    if (saved >= 0 && devnull >= 0) {
        dup2(devnull, 1);
    }
    rc = cmd_init(3, argv);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, 1);
        close(saved);
    }
    if (devnull >= 0) {
        close(devnull);
    }
    return rc;
}

/* The node clock's start: the demo's Monday, or the midnight after the log's last record. */
static int week_start(const char *ndir, uint64_t *out)
{
    store_log *log;
    schema_sth sth;
    int rc = cli_open("demo", ndir, true, &log);

    *out = DEMO_WEEK_START_MS;
    if (rc != CLI_OK) {
        return rc;
    }
    if (store_sth_latest(log, &sth) == TALLY_OK) {
        uint64_t next = sth.time_ms - sth.time_ms % DEMO_DAY_MS + DEMO_DAY_MS;
        *out = next > *out ? next : *out;
    }
    store_close(log);
    return CLI_OK;
}

/* One line per simulated day, as its midnight's cycle lands. */
static void on_day(void *arg, const loadgen_day *d)
{
    char date[16];
    time_t t = (time_t)(d->day_ms / 1000u);
    struct tm tm;
    (void)arg;

    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a %Y-%m-%d", &tm);
    printf("   day %u/%u, %s: %llu events, %llu CLOSEs, %llu provider OUTCOMEs; %llu requests and "
           "%llu receipts verified so far; cycle %llu at midnight\n",
           d->day, d->days, date, (unsigned long long)d->events, (unsigned long long)d->closes,
           (unsigned long long)d->outcomes, (unsigned long long)d->requests,
           (unsigned long long)d->receipts_verified, (unsigned long long)d->cycle);
    fflush(stdout);
}

/* What the week left in the node's log: its cycles and their scores, then the weight table of
 * the last cycle. */
static int print_scores(const char *ndir)
{
    store_log *log;
    store_stats stats;
    int rc = cli_open("demo", ndir, true, &log);

    if (rc != CLI_OK) {
        return rc;
    }
    if (store_stats_get(log, &stats) == TALLY_OK) {
        printf("   the node's log holds %llu SCORING_CYCLEs with %llu SUBMISSION_SCOREs, %llu "
               "MINER_SCOREs and %llu WEIGHTS\n",
               (unsigned long long)stats.by_type[SCHEMA_SCORING_CYCLE],
               (unsigned long long)stats.by_type[SCHEMA_SUBMISSION_SCORE],
               (unsigned long long)stats.by_type[SCHEMA_MINER_SCORE],
               (unsigned long long)stats.by_type[SCHEMA_WEIGHTS]);
    }
    store_close(log);
    printf("== the weights of the node's last cycle\n");
    fflush(stdout);
    return cli_show_weights("demo", ndir, 0, 12);
}

int cli_demo_node(const char *dir)
{
    char start_kv[64];
    const char *overrides[] = {
        "TALLY_INGEST_LISTEN=127.0.0.1:0", "TALLY_LEDGER_LISTEN=127.0.0.1:0",
        "TALLY_OPS_LISTEN=127.0.0.1:0",
        /* one client address drives all the miners: its windows are the subnet's; the manual
           clock stands still within a step, so a step's requests share one second's window */
        "TALLY_RATE_IP_PER_S=20000", "TALLY_RATE_IP_PER_MIN=65535", "TALLY_RATE_GLOBAL_PER_S=20000",
        "TALLY_RATE_GLOBAL_PER_MIN=65535", "TALLY_RATE_KEY_PER_S=1000",
        "TALLY_RATE_KEY_PER_MIN=6000", "TALLY_SHUTDOWN_GRACE_S=4",
        /* the week on the controllable clock, one cycle a day (at each midnight) */
        "TALLY_CLOCK=manual", start_kv, "TALLY_CYCLE_INTERVAL_S=86400", NULL};
    char ndir[4200], token[80], detail[NET_DETAIL_MAX] = "", err[512] = "";
    char ingest[64], ops[64];
    cli_demo_node_run run = {.fd = -1};
    net_node *node = NULL;
    loadgen_report *rep = calloc(1, sizeof(*rep));
    int rc = CLI_OK;
    uint64_t start_ms = DEMO_WEEK_START_MS;
    tally_status st;

    snprintf(ndir, sizeof(ndir), "%s-node", dir);
    printf("== a node on loopback: tally serve on a new log in %s on a manual clock, driven "
           "through a simulated week by tally loadgen --days %u\n",
           ndir, DEMO_DAYS);
    fflush(stdout);
    if (rep == NULL) {
        return CLI_INTERNAL;
    }
    if (mkdir(ndir, 0700) != 0 && access(ndir, F_OK) != 0) {
        free(rep);
        return cli_fail("demo", TALLY_EIO, "cannot make %s", ndir);
    }
    rc = make_log(ndir);
    if (rc == CLI_OK) {
        rc = week_start(ndir, &start_ms);
    }
    if (rc != CLI_OK) {
        free(rep);
        return rc;
    }
    snprintf(start_kv, sizeof(start_kv), "TALLY_CLOCK_START_MS=%llu", (unsigned long long)start_ms);
    rc = cli_demo_serve_up(ndir, (const char *const *)overrides, true, start_ms, &run);
    if (rc != CLI_OK) {
        goto out;
    }
    node = run.node;
    snprintf(ingest, sizeof(ingest), "http://127.0.0.1:%u", net_node_port(node, NET_LISTEN_INGEST));
    snprintf(ops, sizeof(ops), "http://127.0.0.1:%u", net_node_port(node, NET_LISTEN_OPS));
    printf("   listening: ingest %s, ledger http://127.0.0.1:%u, ops %s; log lines in %s\n", ingest,
           net_node_port(node, NET_LISTEN_LEDGER), ops, run.logpath);
    fflush(stdout);
    char tpath[4300];
    snprintf(tpath, sizeof(tpath), "%s/%s", ndir, NET_ADMIN_TOKEN_FILE);
    st = net_admin_token(tpath, false, token, detail);
    /* three auditors, bound as validators by the load generator's METAGRAPH */
    uint8_t auditors[DEMO_AUDITORS][32];
    for (unsigned k = 0; st == TALLY_OK && k < DEMO_AUDITORS; k++) {
        if (cli_demo_auditor_key(ndir, k, auditors[k]) != CLI_OK) {
            st = TALLY_EIO;
        }
    }
    if (st == TALLY_OK) {
        loadgen_cfg lg = {.ingest_url = ingest,
                          .ops_url = ops,
                          .admin_token = token,
                          .miners = 24,
                          .days = DEMO_DAYS,
                          .events = 8,
                          .seed = 7,
                          .batch = 4,
                          .concurrency = 4,
                          .validators = (const uint8_t(*)[32])auditors,
                          .n_validators = DEMO_AUDITORS,
                          .on_day = on_day};
        st = loadgen_run(&lg, rep, err, sizeof(err));
    }
    if (st == TALLY_OK) {
        cli_loadgen_summary(rep);
        rc = cli_demo_auditors(node, ndir, token, DEMO_AUDITORS);
    }
    cli_demo_serve_stop(&run);
    if (st != TALLY_OK) {
        rc = cli_fail("demo", st, "the load generator stopped: %s", err[0] ? err : detail);
        goto out;
    }
    if (rc != CLI_OK) {
        goto out;
    }
    if (rep->receipts_failed > 0 || rep->receipts_verified == 0) {
        fprintf(stderr, "tally demo: %llu receipts failed their check\n",
                (unsigned long long)rep->receipts_failed);
        rc = CLI_CHECK_FAILED;
        goto out;
    }
    if (run.st != TALLY_OK) {
        rc = cli_fail("demo", run.st, "the node stopped after a store fault");
        goto out;
    }
    printf("   ok: every receipt verified; the node drained and stopped (exit 0 as a service)\n");
out:
    cli_demo_serve_down(&run);
    if (rc == CLI_OK) {
        store_log *sl;
        store_verify_report vr;
        rc = cli_open("demo", ndir, true, &sl);
        if (rc == CLI_OK) {
            st = store_verify(sl, true, NULL, NULL, &vr);
            if (st == TALLY_OK) {
                printf("   the node's log verifies: %llu records, %llu signed tree heads\n",
                       (unsigned long long)vr.records, (unsigned long long)vr.sths);
            } else {
                rc = cli_fail("demo", st, "the node's log fails verification at seq %llu: %s",
                              (unsigned long long)vr.bad_seq, vr.what);
            }
            store_close(sl);
        }
    }
    if (rc == CLI_OK) {
        rc = print_scores(ndir);
    }
    free(rep);
    return rc;
}

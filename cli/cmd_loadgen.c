/* tally loadgen: drives a live node like a real subnet (client/client.h, docs/loadgen.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "client/client.h"

static void help(void)
{
    printf("usage: tally loadgen --ingest URL --ops URL [--admin-token-file F] [--miners N]\n"
           "                     [--seconds S | --days D] [--seed X] [--rate R] [--batch B]\n"
           "                     [--markets M] [--concurrency C] [--events E] [--node-key HEX]\n"
           "                     [--netuid N] [--timeout-ms T] [--out FILE]\n"
           "                     [--receipts-out FILE] [--quiet]\n\n"
           "Feeds the node (admin API on the ops listener) a METAGRAPH binding N simulated\n"
           "miners (sharp, copying, noisy, late and garbage, from the simulator's models) and E\n"
           "events starting in the near future with their markets, then runs the miners for S\n"
           "seconds: signed odds of B events a request and outcomes of events that have started,\n"
           "at R requests/s in total (0: as fast as they go) from C threads, each with its own\n"
           "connection. Garbage miners send what the node must refuse. Every receipt is checked\n"
           "(the node's signature; each leaf rebuilt from the miner's own bodies). Exits 0 when\n"
           "every receipt verified, 1 when one did not, 2 on bad usage, 7/8/9 when the node\n"
           "refused the feed or could not be reached.\n\n"
           "With --days D the node must run with TALLY_CLOCK=manual: the loader moves its\n"
           "clock through D simulated UTC days in 2-hour steps (POST /admin/v1/clock). Each day\n"
           "has a METAGRAPH and E events starting that day; at each step the CLOSEs of started\n"
           "events and the provider's OUTCOMEs are fed and the miners send what they have at\n"
           "that time; each midnight's scoring cycle is waited for. One progress line a day.\n"
           "The node's rate windows stand still with its clock: raise its TALLY_RATE_*.\n\n"
           "  --ingest URL          the ingest listener, http://host:port\n"
           "  --ops URL             the ops listener (health, admin)\n"
           "  --admin-token-file F  the admin token (default $TALLY_ADMIN_TOKEN_FILE)\n"
           "  --miners N            miners (default 8, at most 4000)\n"
           "  --seconds S           length of the load (default 10)\n"
           "  --days D              simulated days on the node's manual clock (1..60)\n"
           "  --seed X              the simulator's seed: keys, kinds, prices (default 1)\n"
           "  --rate R              requests per second in total (default 0: unlimited)\n"
           "  --batch B             events per odds request (default 4; B x M at most 200)\n"
           "  --markets M           markets per event: 1 moneyline, 2 and spread, 3 and total\n"
           "                        (default 3)\n"
           "  --concurrency C       miner threads (default 4, at most 256 and N)\n"
           "  --events E            events fed (default: enough for the rate, at most 10000);\n"
           "                        with --days, events a day (default 12)\n"
           "  --node-key HEX        the node key (default: from GET / on the ingest listener)\n"
           "  --netuid N            the METAGRAPH's netuid (default: the origin's last number)\n"
           "  --timeout-ms T        each wait for the node before a retry (default 10000)\n"
           "  --out FILE            write the summary as one JSON object\n"
           "  --receipts-out FILE   write \"<seq> <leaf hex>\" for every verified receipt entry\n"
           "  --quiet               print no summary\n");
}

typedef struct opts {
    loadgen_cfg cfg;
    const char *token_file, *out, *receipts_out;
    bool quiet;
} opts;

static int set_u(const char *name, const char *arg, uint64_t max, unsigned *out)
{
    uint64_t v;
    if (!cli_parse_u64(arg, &v) || v > max) {
        return cli_usage_error("loadgen", "%s takes 0..%llu", name, (unsigned long long)max);
    }
    *out = (unsigned)v;
    return CLI_OK;
}

static int parse_opt(int c, const char *arg, opts *o)
{
    uint64_t v;
    switch (c) {
    case 'i':
        o->cfg.ingest_url = arg;
        return CLI_OK;
    case 'o':
        o->cfg.ops_url = arg;
        return CLI_OK;
    case 't':
        o->token_file = arg;
        return CLI_OK;
    case 'J':
        o->out = arg;
        return CLI_OK;
    case 'R':
        o->receipts_out = arg;
        return CLI_OK;
    case 'q':
        o->quiet = true;
        return CLI_OK;
    case 'n':
        return set_u("--miners", arg, 4000, &o->cfg.miners);
    case 's':
        return set_u("--seconds", arg, 86400, &o->cfg.seconds);
    case 'D':
        return set_u("--days", arg, LOADGEN_DAYS_MAX, &o->cfg.days);
    case 'r':
        return set_u("--rate", arg, 1000000, &o->cfg.rate);
    case 'b':
        return set_u("--batch", arg, LOADGEN_BATCH_MAX, &o->cfg.batch);
    case 'm':
        return set_u("--markets", arg, 3, &o->cfg.markets);
    case 'c':
        return set_u("--concurrency", arg, 256, &o->cfg.concurrency);
    case 'e':
        return set_u("--events", arg, 10000, &o->cfg.events);
    case 'T':
        return set_u("--timeout-ms", arg, 600000, &o->cfg.io_timeout_ms);
    case 'S':
        if (!cli_parse_u64(arg, &o->cfg.seed)) {
            return cli_usage_error("loadgen", "--seed takes a decimal number");
        }
        return CLI_OK;
    case 'u':
        if (!cli_parse_u64(arg, &v) || v > 65535) {
            return cli_usage_error("loadgen", "--netuid takes 0..65535");
        }
        o->cfg.has_netuid = true, o->cfg.netuid = v;
        return CLI_OK;
    case 'k':
        if (strlen(arg) != 64 || schema_unhex(arg, 64, o->cfg.node_key, 32) != TALLY_OK) {
            return cli_usage_error("loadgen", "--node-key takes 64 hex digits");
        }
        o->cfg.has_node_key = true;
        return CLI_OK;
    default:
        return cli_usage_error("loadgen", "bad option; see --help");
    }
}

static int parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {{"ingest", required_argument, NULL, 'i'},
                                       {"ops", required_argument, NULL, 'o'},
                                       {"admin-token-file", required_argument, NULL, 't'},
                                       {"miners", required_argument, NULL, 'n'},
                                       {"seconds", required_argument, NULL, 's'},
                                       {"days", required_argument, NULL, 'D'},
                                       {"seed", required_argument, NULL, 'S'},
                                       {"rate", required_argument, NULL, 'r'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"markets", required_argument, NULL, 'm'},
                                       {"concurrency", required_argument, NULL, 'c'},
                                       {"events", required_argument, NULL, 'e'},
                                       {"node-key", required_argument, NULL, 'k'},
                                       {"netuid", required_argument, NULL, 'u'},
                                       {"out", required_argument, NULL, 'J'},
                                       {"receipts-out", required_argument, NULL, 'R'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"timeout-ms", required_argument, NULL, 'T'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int c, rc;

    o->cfg.seed = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", lo, NULL)) != -1) {
        if (c == 'h') {
            help();
            return -1;
        }
        rc = parse_opt(c, optarg, o);
        if (rc != CLI_OK) {
            return rc;
        }
    }
    if (optind != argc || o->cfg.ingest_url == NULL || o->cfg.ops_url == NULL) {
        return cli_usage_error("loadgen", "--ingest and --ops are required; see --help");
    }
    if (o->token_file == NULL) {
        o->token_file = getenv("TALLY_ADMIN_TOKEN_FILE");
    }
    if (o->token_file == NULL) {
        return cli_usage_error("loadgen",
                               "--admin-token-file or $TALLY_ADMIN_TOKEN_FILE is needed");
    }
    return CLI_OK;
}

/* The token: the file's first line, without its newline. */
static int read_token(const char *path, char *tok, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL || fgets(tok, (int)cap, f) == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        return cli_fail("loadgen", TALLY_EIO, "cannot read the admin token from %s", path);
    }
    fclose(f);
    n = strcspn(tok, "\r\n");
    tok[n] = '\0';
    return CLI_OK;
}

static void on_receipt(void *arg, uint64_t seq, uint64_t time_ms, const uint8_t leaf[32])
{
    char hex[65];
    (void)time_ms;
    schema_hex(leaf, 32, hex);
    fprintf(arg, "%llu %s\n", (unsigned long long)seq, hex);
}

/* A days run's line per day on stderr; off a terminal at most one a second, and the last. */
typedef struct day_progress {
    bool tty;
    uint64_t last_ns;
} day_progress;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void day_line(FILE *f, const loadgen_day *d)
{
    char date[16];
    time_t t = (time_t)(d->day_ms / 1000u);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);
    fprintf(f,
            "day %u/%u (%s): %llu events, %llu closes, %llu outcomes fed; %llu requests, "
            "%llu items accepted, %llu receipts verified, %llu failed so far; cycle %llu landed "
            "at midnight\n",
            d->day, d->days, date, (unsigned long long)d->events, (unsigned long long)d->closes,
            (unsigned long long)d->outcomes, (unsigned long long)d->requests,
            (unsigned long long)d->items_accepted, (unsigned long long)d->receipts_verified,
            (unsigned long long)d->receipts_failed, (unsigned long long)d->cycle);
}

static void on_day(void *arg, const loadgen_day *d)
{
    day_progress *p = arg;
    uint64_t now = mono_ns();

    if (!p->tty && d->day < d->days && now - p->last_ns < 1000000000ull) {
        return;
    }
    p->last_ns = now;
    fprintf(stderr, "loadgen: ");
    day_line(stderr, d);
}

static void print_tally(const char *label, const loadgen_tally *t)
{
    printf("  %-18s", label);
    for (size_t i = 0; i < t->n; i++) {
        printf(" %s=%llu", t->c[i].name, (unsigned long long)t->c[i].n);
    }
    printf("%s\n", t->n ? "" : " -");
}

static void print_days(const loadgen_report *r)
{
    char from[24], to[24];
    time_t a = (time_t)(r->clock_start_ms / 1000u), b = (time_t)(r->clock_end_ms / 1000u);
    struct tm tm;

    gmtime_r(&a, &tm);
    strftime(from, sizeof(from), "%Y-%m-%d %H:%M", &tm);
    gmtime_r(&b, &tm);
    strftime(to, sizeof(to), "%Y-%m-%d %H:%M", &tm);
    printf("  node clock         %s to %s UTC (manual), %llu CLOSEs and %llu provider OUTCOMEs "
           "fed, cycles %llu..%llu landed at the midnights\n",
           from, to, (unsigned long long)r->closes, (unsigned long long)r->provider_outcomes,
           (unsigned long long)r->first_cycle, (unsigned long long)r->last_cycle);
}

void cli_loadgen_summary(const loadgen_report *r)
{
    static const char *const kinds[LOADGEN_KINDS] = {"sharp", "copying", "noisy", "garbage",
                                                     "late"};
    printf("loadgen: %s, %u miners (", r->origin, r->miners);
    for (unsigned k = 0; k < LOADGEN_KINDS; k++) {
        printf("%s%s %llu", k ? ", " : "", kinds[k], (unsigned long long)r->kinds[k]);
    }
    if (r->days > 0) {
        printf("), %u threads, %u events over %u days, METAGRAPH blocks from %llu\n",
               r->threads, r->events, r->days, (unsigned long long)r->metagraph_block);
        print_days(r);
    } else {
        printf("), %u threads, %u events (%u starting now), METAGRAPH block %llu\n",
               r->threads, r->events, r->events_starting,
               (unsigned long long)r->metagraph_block);
    }
    printf("  requests           %llu in %.2f s (odds %llu, outcomes %llu, garbage %llu of "
           "which refused %llu), retries %llu, unanswered %llu, duplicates %llu\n",
           (unsigned long long)r->requests, r->elapsed_s, (unsigned long long)r->odds_requests,
           (unsigned long long)r->outcome_requests, (unsigned long long)r->garbage_requests,
           (unsigned long long)r->garbage_refused, (unsigned long long)r->retries,
           (unsigned long long)r->no_response, (unsigned long long)r->duplicates);
    print_tally("by status", &r->status);
    print_tally("by error", &r->errors);
    printf("  items              sent %llu, accepted %llu, rejected %llu\n",
           (unsigned long long)r->items_sent, (unsigned long long)r->items_accepted,
           (unsigned long long)r->items_rejected);
    print_tally("rejected by code", &r->rejections);
    printf("  receipts           received %llu, verified %llu, failed %llu (%llu entries)\n",
           (unsigned long long)r->receipts, (unsigned long long)r->receipts_verified,
           (unsigned long long)r->receipts_failed, (unsigned long long)r->receipt_entries);
    printf("  throughput         %.1f requests/s, %.1f items/s\n", r->requests_per_s,
           r->items_per_s);
    printf("  receipt latency    p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
           r->lat_p50_ms, r->lat_p90_ms, r->lat_p99_ms, r->lat_max_ms);
}

static int write_json(const char *path, const loadgen_report *r)
{
    char *text = NULL;
    FILE *f;
    tally_status st = loadgen_report_json(r, &text);

    if (st != TALLY_OK) {
        return cli_fail("loadgen", st, "cannot format the summary");
    }
    f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
        free(text);
        return cli_fail("loadgen", TALLY_EIO, "cannot write %s", path);
    }
    free(text);
    return CLI_OK;
}

int cmd_loadgen(int argc, char **argv)
{
    opts o = {0};
    char token[256], err[512];
    loadgen_report *r = calloc(1, sizeof(*r));
    FILE *rf = NULL;
    day_progress prog = {.tty = isatty(STDERR_FILENO) == 1};
    tally_status st;
    int rc = r ? parse(argc, argv, &o) : CLI_INTERNAL;

    if (rc == CLI_OK) {
        rc = read_token(o.token_file, token, sizeof(token));
    }
    if (rc == CLI_OK && o.receipts_out != NULL && (rf = fopen(o.receipts_out, "w")) == NULL) {
        rc = cli_fail("loadgen", TALLY_EIO, "cannot write %s", o.receipts_out);
    }
    if (rc == CLI_OK) {
        o.cfg.admin_token = token;
        o.cfg.on_receipt = rf ? on_receipt : NULL;
        o.cfg.on_receipt_arg = rf;
        o.cfg.on_day = on_day;
        o.cfg.on_day_arg = &prog;
        st = loadgen_run(&o.cfg, r, err, sizeof(err));
        rc = st == TALLY_OK ? CLI_OK : cli_fail("loadgen", st, "%s", err);
    }
    if (rf != NULL && fclose(rf) != 0 && rc == CLI_OK) {
        rc = cli_fail("loadgen", TALLY_EIO, "cannot write %s", o.receipts_out);
    }
    if (rc == CLI_OK && !o.quiet) {
        cli_loadgen_summary(r);
    }
    if (rc == CLI_OK && o.out != NULL) {
        rc = write_json(o.out, r);
    }
    if (rc == CLI_OK && r->receipts_failed > 0) {
        fprintf(stderr, "tally loadgen: %llu receipts failed their check\n",
                (unsigned long long)r->receipts_failed);
        rc = CLI_CHECK_FAILED;
    }
    free(r);
    return rc < 0 ? CLI_OK : rc;
}

/* tally simulate and tally demo. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>

#include "cli/cli.h"
#include "tamper/tamper.h"

static void help(void)
{
    printf("usage: tally simulate [--dir DIR] [--miners N] [--days D | --total-days T]\n"
           "                      [--markets-per-day M] [--seed S] [--quiet]\n\n"
           "Writes a realistic subnet history into DIR, deterministic from the seed: GENESIS\n"
           "with scoring parameters, daily metagraph snapshots (miners and validators with\n"
           "hotkeys, stakes, permits and bound tally keys), events across five leagues with\n"
           "moneyline, spread and total markets, private bookmaker quotes with vig, odds\n"
           "submissions signed by each miner's own key (sharp, market-copying, noisy, late and\n"
           "garbage miners), provider and miner outcomes, a parameter change on day 3,\n"
           "postponed and void events, pushes, uids changing hands, and a scoring cycle with\n"
           "its derived records at every UTC midnight. Every record passes the node's\n"
           "acceptance rules; the miner records they refuse are counted, not appended. The\n"
           "same seed and flags give identical bytes and the same root.\n"
           "On a directory that already holds a simulated log, it first completes the log's\n"
           "last day (checking the records already there byte for byte, so a run killed or\n"
           "stopped by a full disk, continued, writes what an uninterrupted one would), then\n"
           "continues that history for D more days (new heads consistent with the old).\n\n"
           "  --miners N           miners in the metagraph (default 64, at most 4000)\n"
           "  --days D             days to simulate (default 7)\n"
           "  --total-days T       instead: simulate until the log holds days 0..T-1\n"
           "  --markets-per-day M  markets listed per day, three per event (default 24)\n"
           "  --seed S             the seed (default 1)\n");
}

static int parse(int argc, char **argv, const char **dir, ledger_sim_cfg *cfg, bool *quiet)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},   {"miners", required_argument, NULL, 'n'},
        {"days", required_argument, NULL, 'D'},  {"markets-per-day", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'},  {"quiet", no_argument, NULL, 'q'},
        {"total-days", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    uint64_t v;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return -1;
        }
        if (c == 'd') {
            *dir = optarg;
            continue;
        }
        if (c == 'q') {
            *quiet = true;
            continue;
        }
        if (c == '?' || !cli_parse_u64(optarg, &v)) {
            return cli_usage_error("simulate", "bad option or value");
        }
        if (c == 'n' && (v < 1 || v > 4000)) {
            return cli_usage_error("simulate", "--miners takes 1..4000");
        }
        if ((c == 'D' || c == 'T') && (v < 1 || v > 3650)) {
            return cli_usage_error("simulate", "--days and --total-days take 1..3650");
        }
        if (c == 'm' && (v < 1 || v > 2997)) {
            return cli_usage_error("simulate", "--markets-per-day takes 1..2997");
        }
        if (c == 'n') {
            cfg->miners = (unsigned)v;
        } else if (c == 'D') {
            cfg->days = (unsigned)v;
        } else if (c == 'T') {
            cfg->total_days = (unsigned)v;
        } else if (c == 'm') {
            cfg->markets_per_day = (unsigned)v;
        } else {
            cfg->seed = v;
        }
    }
    if (optind != argc) {
        return cli_usage_error("simulate", "unexpected argument '%s'", argv[optind]);
    }
    return CLI_OK;
}

static int make_dir(const char *cmd, const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        if (errno == ENOENT) {
            return cli_fail(cmd, TALLY_ENOTFOUND, "cannot create %s: its parent directory does "
                                                  "not exist", dir);
        }
        return cli_fail(cmd, TALLY_EIO, "cannot create %s (%s)", dir, strerror(errno));
    }
    return CLI_OK;
}

/* A ledger_sim_day_fn: one line on stderr per day, arg is the command's name. */
static void print_day(void *arg, const ledger_sim_day *day)
{
    const char *cmd = arg;

    if (day->resumed) {
        fprintf(stderr, "%s: day %" PRIu64 " checked (%" PRIu64 " records already in the log), %"
                        PRIu64 " records\n", cmd, day->day, day->skipped, day->records);
    } else {
        fprintf(stderr, "%s: day %" PRIu64 "/%" PRIu64 " done, %" PRIu64 " records\n", cmd, day->n,
                day->of, day->records);
    }
}

/* Creates the directory if needed, then runs the simulator's node in it; prints a day's line as
 * each day ends unless quiet. Returns an exit code, after a message if the run stopped. */
static int simulate(const char *cmd, const char *dir, ledger_sim_cfg *cfg, bool quiet,
                    ledger_sim_result *res)
{
    tally_status st;
    int rc = make_dir(cmd, dir);

    if (rc != CLI_OK) {
        return rc;
    }
    cfg->dir = dir;
    cfg->map_size = cli_map_size();
    cfg->on_day = quiet ? NULL : print_day;
    cfg->on_day_arg = (void *)cmd;
    st = ledger_simulate(cfg, res);
    if (st != TALLY_OK) {
        return cli_fail(cmd, st, "simulation stopped%s%s; every record committed before the "
                                 "failure is kept",
                        res->what[0] ? ": " : "", res->what);
    }
    return CLI_OK;
}

/* The miner records the node's acceptance rules refused, by rule, as a node would report the
 * rejected items. */
static void print_refused(const ledger_sim_result *res)
{
    const char *sep = "";

    if (res->refused_total == 0) {
        return;
    }
    printf("refused %" PRIu64 " miner records by the acceptance rules (", res->refused_total);
    for (unsigned r = 0; r < ENGINE_RULE_COUNT; r++) {
        if (res->refused[r] > 0) {
            printf("%s%s %" PRIu64, sep, engine_rule_name((engine_rule)r), res->refused[r]);
            sep = ", ";
        }
    }
    printf(")\n");
}

int cmd_simulate(int argc, char **argv)
{
    ledger_sim_cfg cfg = {.seed = 1, .miners = 64, .days = 7, .markets_per_day = 24};
    ledger_sim_result res;
    const char *dir = NULL;
    bool quiet = false;
    int rc = parse(argc, argv, &dir, &cfg, &quiet);

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    dir = cli_dir(dir);
    rc = simulate("simulate", dir, &cfg, quiet, &res);
    if (rc != CLI_OK) {
        return rc;
    }
    printf("simulated %" PRIu64 " days (%u miners, %u markets a day, seed %" PRIu64 ") into %s\n",
           res.days, cfg.miners, cfg.markets_per_day, cfg.seed, dir);
    printf("records %" PRIu64 " -> %" PRIu64 " (%" PRIu64 " submissions, %" PRIu64
           " quotes, %" PRIu64 " outcomes, %" PRIu64 " events, %" PRIu64 " cycles) in %.2f s"
           " (%.0f records/s)\n",
           res.records_before, res.records_after, res.submissions, res.quotes, res.outcomes,
           res.events, res.cycles, res.seconds,
           (double)(res.records_after - res.records_before) / (res.seconds > 0 ? res.seconds : 1));
    print_refused(&res);
    return CLI_OK;
}

static const char demo_usage[] =
    "usage: tally demo [--dir DIR] [--tamper KIND]\n\n"
    "Simulates a week of a 256-miner subnet into DIR (default ./tally-data; a simulated\n"
    "log already there is continued by a week), scoring every daily cycle as the node does\n"
    "(derived records and checkpoints), runs the full integrity scan with every actor\n"
    "signature, replays the whole log as an auditor would (every record judged by the\n"
    "acceptance rules, every derived record recomputed and compared), in the operator's full\n"
    "view and in the gated view an auditor reads, and prints the weight table, the replay\n"
    "verdicts and the signed checkpoint; then it runs a node on loopback (DIR-node) with\n"
    "simulated miners over HTTP and three auditors (tally audit) that sync, replay, attest\n"
    "and cosign, and prints their verdicts, the cycle's finality and the cosigned checkpoint.\n\n"
    "  --tamper KIND  instead: a misbehaving node serves a copy of DIR's week from\n"
    "                 DIR-tamper-KIND (DIR is simulated first if it holds no log), and an\n"
    "                 auditor per simulated validator must detect it, with the right reason\n"
    "                 and seq; exit 0 when all of them do. The node lies through a rewriting\n"
    "                 proxy (body, header, dropped, inserted, reordered, withheld, rewind,\n"
    "                 bad-checkpoint), signs a forged log (forged-derived, changed-input,\n"
    "                 rule-violation), or shows two auditors two views of one size\n"
    "                 (split-view: they compare as peers).\n";

/* The auditor's half of the demo: replay from genesis in both views, then the weights of the
 * last cycle. */
static int demo_replay(const char *dir)
{
    ledger_replay_cfg cfg = {0}, gcfg = {.gated = true};
    ledger_replay_result res, gres;
    store_log *log;
    char hex[65];
    tally_status st;
    int rc = cli_open("demo", dir, true, &log);

    if (rc != CLI_OK) {
        return rc;
    }
    printf("== replaying the log as an auditor: every cycle recomputed from its inputs, every "
           "record judged by the acceptance rules, in the operator's view and in the gated view "
           "an auditor has (no private body; embargoed bodies from their reveal)\n");
    fflush(stdout);
    st = ledger_replay(log, &cfg, &res);
    engine_free(res.eng);
    if (st == TALLY_OK) {
        st = ledger_replay(log, &gcfg, &gres);
        engine_free(gres.eng);
    }
    store_close(log);
    if (st != TALLY_OK) {
        return cli_fail("demo", st, "the replay could not run");
    }
    rc = cli_show_weights("demo", dir, 0, 12);
    if (rc != CLI_OK) {
        return rc;
    }
    if (res.mismatch || gres.mismatch) {
        const ledger_replay_result *bad = res.mismatch ? &res : &gres;
        printf("replay (%s view) MISMATCH at seq %" PRIu64 ": %s\n",
               res.mismatch ? "full" : "gated", bad->bad_seq, bad->what);
        return CLI_CHECK_FAILED;
    }
    if (memcmp(res.state_hash, gres.state_hash, 32) != 0) {
        printf("replay: the gated view's state hash differs from the full view's\n");
        return CLI_CHECK_FAILED;
    }
    schema_hex(res.state_hash, 32, hex);
    printf("replay matched: %" PRIu64 " cycles, %" PRIu64 " derived records recomputed and "
           "identical byte for byte (%" PRIu64 " records in %.2f s); state hash %.16s…\n",
           res.cycles, res.derived_checked, res.records, res.seconds, hex);
    printf("gated view matched too, with the same state hash (%" PRIu64 " records read from "
           "their headers where they stand, %.2f s)\n",
           gres.withheld, gres.seconds);
    return CLI_OK;
}

int cmd_demo(int argc, char **argv)
{
    ledger_sim_cfg cfg = {.seed = 1, .miners = 256, .days = 7, .markets_per_day = 24};
    ledger_sim_result res;
    store_verify_report rep;
    cli_progress_state prog;
    store_stats stats;
    schema_sth sth;
    store_log *log;
    const char *dir;
    char note[1024], vkey[256];
    uint8_t pk[32];
    size_t n;
    tally_status st;
    const char *tamper = NULL;
    int rc = CLI_OK;

    {
        static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"tamper", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        int c;
        dir = NULL;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
            if (c == 'd') {
                dir = optarg;
            } else if (c == 't') {
                tamper = optarg;
            } else if (c == 'h') {
                fputs(demo_usage, stdout);
                return CLI_OK;
            } else {
                return cli_usage_error("demo", "unknown option");
            }
        }
        if (optind != argc) {
            return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
        }
        dir = cli_dir(dir);
    }
    if (tamper != NULL) {
        char probe[4200];
        tamper_kind k;
        if (!tamper_kind_parse(tamper, &k)) {
            return cli_demo_tamper(dir, tamper); /* names the kinds */
        }
        snprintf(probe, sizeof(probe), "%s/data.mdb", dir);
        if (access(probe, F_OK) == 0) {
            return cli_demo_tamper(dir, tamper);
        }
    }
    printf("== tally demo: simulating 7 days of a 256-miner subnet into %s\n", dir);
    fflush(stdout);
    rc = simulate("demo", dir, &cfg, false, &res);
    if (rc != CLI_OK) {
        return rc;
    }
    printf("   %" PRIu64 " records written (%" PRIu64 " odds submissions signed by their miners,"
           " %" PRIu64 " bookmaker quotes, %" PRIu64 " outcomes, %" PRIu64 " scoring cycles"
           " with %" PRIu64 " derived records) in %.1f s\n",
           res.records_after - res.records_before, res.submissions, res.quotes, res.outcomes,
           res.cycles, res.derived, res.seconds);
    print_refused(&res);
    if (tamper != NULL) {
        return cli_demo_tamper(dir, tamper);
    }
    printf("== verifying: every record, body, tile, tree head and actor signature\n");
    fflush(stdout);
    rc = cli_open("demo", dir, true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    cli_progress_init(&prog, "demo: verify");
    st = store_verify(log, true, cli_progress, &prog, &rep);
    if (st != TALLY_OK) {
        store_close(log);
        if (st == TALLY_ECORRUPT) {
            fprintf(stderr, "tally demo: verification FAILED at seq %llu: %s\n",
                    (unsigned long long)rep.bad_seq, rep.what);
            return CLI_CHECK_FAILED;
        }
        return cli_fail("demo", st, "verification could not run");
    }
    printf("   ok: %" PRIu64 " records and %" PRIu64 " signed tree heads check out\n", rep.records,
           rep.sths);
    st = store_stats_get(log, &stats);
    if (st == TALLY_OK) {
        st = store_sth_latest(log, &sth);
    }
    if (st == TALLY_OK) {
        st = store_note(&sth, note, sizeof(note), &n);
    }
    store_node_pubkey(log, pk);
    if (st == TALLY_OK) {
        st = store_vkey(store_origin(log), pk, vkey, sizeof(vkey));
    }
    store_close(log);
    if (st != TALLY_OK) {
        return cli_fail("demo", st, "cannot summarise the log");
    }
    printf("== summary\n   tree size %" PRIu64 ", %" PRIu64 " MiB in LMDB; records by type:\n",
           stats.size, stats.map_used >> 20);
    for (unsigned t = 0; t < 36; t++) {
        if (stats.by_type[t] > 0) {
            printf("     %-16s %" PRIu64 "\n", schema_type_name(t), stats.by_type[t]);
        }
    }
    printf("   verifier key: %s\n== checkpoint (C2SP signed note)\n", vkey);
    fwrite(note, 1, n, stdout);
    rc = demo_replay(dir);
    return rc != CLI_OK ? rc : cli_demo_node(dir);
}

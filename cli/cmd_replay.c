/* tally replay: recompute every derived record from the inputs and compare with the log. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: tally replay [--dir DIR] [--from-checkpoint CYCLE] [--to SEQ] [--view full|gated]\n"
    "                    [--signatures] [--quiet]\n\n"
    "Replays the log as an auditor would: folds every input record in sequence order through\n"
    "the scoring engine, recomputes each SCORING_CYCLE's derived records (SUBMISSION_SCORE,\n"
    "MINER_SCORE, WEIGHTS, STATE_HASH) and compares them byte for byte with the log. Every\n"
    "input body is checked against its header on the way.\n\n"
    "  --from-checkpoint CYCLE  start from the checkpoint stored at that cycle (checked against\n"
    "                           its STATE_HASH record) instead of from genesis\n"
    "  --to SEQ                 stop before record SEQ\n"
    "  --view gated             read only what an authenticated auditor may read: every\n"
    "                           header, public and gated bodies, an embargoed body only from\n"
    "                           its reveal, never a private one (records are then judged and\n"
    "                           scored from their headers until their bodies are revealed);\n"
    "                           the default, full, reads every body as the operator can\n"
    "  --signatures             also check every input record's actor signature (as\n"
    "                           'tally verify --signatures'; derived records are recomputed)\n"
    "  --quiet                  no progress lines\n\n"
    "Before any record, every signed tree head is checked against the GENESIS key and the\n"
    "root the tiles give; every record read is checked against the tiles, and judged by the\n"
    "acceptance rules (authorship, time order, GENESIS placement, S1-S9, O1-O6, ...).\n\n"
    "Exit status 0 when everything matches; 1 on a mismatch, with the first differing\n"
    "sequence number, record type and field, expected against found.\n";

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"from-checkpoint", required_argument, NULL, 'c'},
                                         {"to", required_argument, NULL, 't'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"view", required_argument, NULL, 'v'},
                                         {"signatures", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    cli_progress_state prog;
    ledger_replay_cfg cfg = {.progress = cli_progress, .progress_arg = &prog};
    ledger_replay_result res;
    const char *dir = NULL;
    store_log *log;
    char hex[65];
    tally_status st;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (c == 'd') {
            dir = optarg;
        } else if (c == 'q') {
            cfg.progress = NULL;
        } else if (c == 'c' && cli_parse_u64(optarg, &cfg.from_cycle) && cfg.from_cycle > 0) {
            continue;
        } else if (c == 't' && cli_parse_u64(optarg, &cfg.to) && cfg.to > 0) {
            continue;
        } else if (c == 's') {
            cfg.signatures = true;
        } else if (c == 'v' && (strcmp(optarg, "full") == 0 || strcmp(optarg, "gated") == 0)) {
            cfg.gated = strcmp(optarg, "gated") == 0;
        } else {
            return cli_usage_error("replay", "bad option or value (see tally replay --help)");
        }
    }
    if (optind != argc) {
        return cli_usage_error("replay", "unexpected argument '%s'", argv[optind]);
    }
    cli_progress_init(&prog, "replay");
    rc = cli_open("replay", cli_dir(dir), true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    st = ledger_replay(log, &cfg, &res);
    store_close(log);
    engine_free(res.eng);
    if (st == TALLY_ENOTFOUND && cfg.from_cycle) {
        return cli_fail("replay", st, "no checkpoint of cycle %" PRIu64 " (or no such cycle)",
                        cfg.from_cycle);
    }
    if (st != TALLY_OK) {
        return cli_fail("replay", st, "replay stopped after %" PRIu64 " records", res.records);
    }
    if (res.mismatch) {
        printf("replay MISMATCH at seq %" PRIu64 ": %s\n", res.bad_seq, res.what);
        return CLI_CHECK_FAILED;
    }
    schema_hex(res.state_hash, 32, hex);
    printf("replay matched: %" PRIu64 " records, %" PRIu64 " cycles, %" PRIu64
           " derived records identical, in %.2f s (%.0f records/s)\n",
           res.records, res.cycles, res.derived_checked, res.seconds,
           (double)res.records / (res.seconds > 0 ? res.seconds : 1));
    printf("%" PRIu64 " signed tree heads verified against the GENESIS key and the tiles%s\n",
           res.heads_checked, cfg.signatures ? "; every input record's actor signature checked"
                                             : "");
    if (cfg.gated) {
        printf("gated view: %" PRIu64 " records read from their headers where they stand, %" PRIu64
               " embargoed bodies not yet revealed at the end\n",
               res.withheld, res.pending);
    }
    if (res.cycles > 0) {
        printf("state hash of cycle %" PRIu64 ": %s\n", res.last_cycle, hex);
    }
    if (res.has_weights) {
        schema_hex(res.weights_hash, 32, hex);
        printf("weights hash: %s\n", hex);
    }
    return CLI_OK;
}

/* The `tally` binary: one dispatch table of subcommands. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int cmd_help(int argc, char **argv);

static const cli_cmd commands[] = {
    {"init", cmd_init, "create a new log (node key and GENESIS) in the data directory"},
    {"simulate", cmd_simulate, "write a deterministic, realistic subnet history"},
    {"append", cmd_append, "append records given as JSON lines on stdin (all or nothing)"},
    {"log", cmd_log, "print records as JSON lines, with range and type filters"},
    {"show", cmd_show, "print one record as JSON"},
    {"checkpoint", cmd_checkpoint, "print the latest C2SP checkpoint note"},
    {"key", cmd_key, "print the node's verifier key"},
    {"keygen", cmd_keygen, "make a key file for a miner or an auditor"},
    {"serve", cmd_serve, "run the node: signed ingest, the ledger API, health, admin"},
    {"audit", cmd_audit, "audit a primary node: sync, verify, replay, attest, cosign"},
    {"sign", cmd_sign, "sign an odds or outcome request given as JSON (body and headers)"},
    {"submit", cmd_submit, "sign, post with safe retries, verify and keep the receipt"},
    {"feed", cmd_feed, "send feeder records (JSON lines) to the running node, all or nothing"},
    {"config", cmd_config, "config set KEY=VALUE...: change ledger parameters (CONFIG_SET)"},
    {"recompute", cmd_recompute, "append a RECOMPUTE notice through the running node"},
    {"cycle", cmd_cycle, "run a scoring cycle on the running node now"},
    {"reveal", cmd_reveal, "dispute reveal: serve one private record to gated readers"},
    {"ban", cmd_ban, "list, add or remove bans (the table itself when the node is stopped)"},
    {"cooldown", cmd_cooldown, "list or clear the running node's cooldowns"},
    {"loadgen", cmd_loadgen, "drive a live node like a subnet; check every receipt"},
    {"proof", cmd_proof, "print an inclusion (tlog-proof) or consistency proof"},
    {"tiles", cmd_tiles, "export the log as static tlog-tiles files"},
    {"verify", cmd_verify, "full integrity scan of the log"},
    {"stats", cmd_stats, "sizes and record counts"},
    {"replay", cmd_replay, "recompute every derived record and compare with the log"},
    {"reconstruct", cmd_reconstruct, "rebuild a past cycle's state, scores and weights, checked"},
    {"diff", cmd_diff, "the first record where two logs diverge, and the weights it changes"},
    {"weights", cmd_weights, "the weight vector of a cycle, with each miner's dimensions"},
    {"explain", cmd_explain, "how one miner's weight came about, down to each row"},
    {"demo", cmd_demo, "simulate a week of 256 miners, score, replay, print the weights"},
    {"help", cmd_help, "show this help"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tally [--dir DIR] <command> [options]\n\n"
               "tally is a signed, append-only ledger for validator scoring.\n"
               "The data directory is --dir, else $TALLY_DIR, else ./tally-data.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\nRun 'tally <command> --help' for a command's options.\n");
}

static int cmd_help(int argc, char **argv)
{
    (void)argc, (void)argv;
    usage(stdout);
    return CLI_OK;
}

int main(int argc, char **argv)
{
    int i = 1;
    static char dir_env[4200];

    if (sodium_init() < 0) {
        fprintf(stderr, "tally: libsodium failed to initialise\n");
        return CLI_INTERNAL;
    }
    /* A --dir before the command applies to it, as if given after. */
    if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
        snprintf(dir_env, sizeof(dir_env), "%s", argv[i + 1]);
        setenv("TALLY_DIR", dir_env, 1);
        i += 2;
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[i], "--version") == 0) {
        printf("tally 0.1.0\n");
        return CLI_OK;
    }
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        if (strcmp(argv[i], commands[k].name) == 0) {
            int rc = cli_check_env();
            return rc != CLI_OK ? rc : commands[k].run(argc - i, argv + i);
        }
    }
    fprintf(stderr, "tally: '%s' is not a tally command; see 'tally --help'\n", argv[i]);
    return CLI_USAGE;
}

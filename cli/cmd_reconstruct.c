/* tally reconstruct: one past cycle rebuilt from the log, checked, and written out as files. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: tally reconstruct [--dir DIR] (--cycle N | --at TIME) [--out OUTDIR] [--gated]\n"
    "                         [--resume] [--json] [--quiet]\n\n"
    "Rebuilds the exact state, scores and weights of a past scoring cycle from the log (a\n"
    "node's, or an auditor's replica): replays the log from genesis with the auditor's replay\n"
    "up to the end of that cycle's derived block, so every derived record up to there is\n"
    "compared byte for byte with its recomputation, then checks the recomputed state against\n"
    "the cycle's STATE_HASH record and against DIR/checkpoints/N.zst when that file exists, and\n"
    "writes into OUTDIR (default ./reconstruct-N), each file atomically:\n"
    "  cycle.json               the cycle, its block, state hash, tree size and root there, and\n"
    "                           the ledger parameters in effect\n"
    "  scores.json              every MINER_SCORE of the block, with named fields\n"
    "  weights.json             the WEIGHTS: uids, weights, and hotkeys from the METAGRAPH\n"
    "  submission_scores.jsonl  every SUBMISSION_SCORE of the block, one per line\n"
    "  state.msgpack            the uncompressed checkpoint state\n\n"
    "  --cycle N    the cycle to rebuild\n"
    "  --at TIME    the latest cycle whose SCORING_CYCLE time_ms is at most TIME: RFC 3339 UTC\n"
    "               (2024-03-01T00:00:05Z, 2024-03-01T00:00:05.250Z) or Unix milliseconds\n"
    "  --out DIR    where to write the files\n"
    "  --gated      replay the gated view: what an authenticated auditor may read (a replica\n"
    "               without private or unrevealed embargoed bodies)\n"
    "  --resume     start from the nearest earlier checkpoint file that matches its STATE_HASH\n"
    "               record instead of from genesis (faster; trusts that earlier cycle's state\n"
    "               as the log names it)\n"
    "  --json       print the result as one JSON object\n"
    "  --quiet      no progress lines\n\n"
    "Exit status 0 when the cycle is rebuilt and every check passes; 1 when the log's derived\n"
    "records or its state hash differ from the recomputation (the first differing seq and field\n"
    "are printed, and nothing is written); 4 for no such cycle.\n";

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Unix ms, or RFC 3339 UTC "YYYY-MM-DDTHH:MM:SS[.fff…]Z" (or +00:00); fractions below the
 * millisecond are dropped. */
static bool parse_time(const char *s, uint64_t *out)
{
    unsigned y, mo, d, h, mi, sec, ms = 0;
    size_t i = 19;

    if (cli_parse_u64(s, out)) {
        return true;
    }
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec) || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 59) {
        return false;
    }
    if (s[i] == '.') {
        unsigned scale = 100;
        i++;
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        for (; s[i] >= '0' && s[i] <= '9'; i++) {
            ms += scale * (unsigned)(s[i] - '0');
            scale /= 10;
        }
    }
    if (strcmp(s + i, "Z") != 0 && strcmp(s + i, "z") != 0 && strcmp(s + i, "+00:00") != 0) {
        return false;
    }
    *out = (uint64_t)((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000 + ms);
    return true;
}

static const char *kind_name(ledger_divergence k)
{
    static const char *const names[] = {"none", "derived", "state", "rule",
                                        "signature", "withheld", "tree"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "other";
}

static int print_mismatch(const ledger_reconstruction *r, bool json)
{
    if (json) {
        json_t *o = json_pack("{s:b, s:I, s:I, s:s, s:s}", "reconstructed", 0, "cycle",
                              (json_int_t)r->cycle, "seq", (json_int_t)r->bad_seq, "kind",
                              kind_name(r->kind), "what", r->what);
        char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (txt != NULL) {
            puts(txt);
        }
        free(txt);
    }
    fprintf(stderr,
            "tally reconstruct: MISMATCH at seq %" PRIu64 " (%s): %s\n"
            "tally reconstruct: cycle %" PRIu64 " is not what the log says; nothing written\n",
            r->bad_seq, kind_name(r->kind), r->what, r->cycle);
    return CLI_CHECK_FAILED;
}

static int print_result(const ledger_reconstruction *r, const char *out, bool json)
{
    char hex[65], root[65];
    const schema_weights *w = r->weights ? &r->weights->u.weights : NULL;

    if (json) {
        char *txt = NULL;
        json_t *o;
        if (ledger_reconstruct_json(r, "cycle", &txt) != TALLY_OK ||
            (o = json_loads(txt, 0, NULL)) == NULL) {
            free(txt);
            return cli_fail("reconstruct", TALLY_ENOMEM, "cannot print JSON");
        }
        free(txt);
        json_object_del(o, "params");
        json_object_set_new(o, "reconstructed", json_true());
        json_object_set_new(o, "out", json_string(out));
        size_t miners = 0, subs = 0;
        for (size_t i = 0; i < r->n_bodies; i++) {
            miners += r->bodies[i].type == SCHEMA_MINER_SCORE;
            subs += r->bodies[i].type == SCHEMA_SUBMISSION_SCORE;
        }
        json_object_set_new(o, "miner_scores", json_integer((json_int_t)miners));
        json_object_set_new(o, "submission_scores", json_integer((json_int_t)subs));
        json_object_set_new(o, "weights", json_integer((json_int_t)(w ? w->n_uids : 0)));
        txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (txt == NULL) {
            return cli_fail("reconstruct", TALLY_ENOMEM, "cannot print JSON");
        }
        puts(txt);
        free(txt);
        return CLI_OK;
    }
    schema_hex(r->state_hash, 32, hex);
    schema_hex(r->root, 32, root);
    char from[64] = "genesis";
    if (r->resumed_from) {
        snprintf(from, sizeof(from), "the checkpoint of cycle %" PRIu64, r->resumed_from);
    }
    printf("cycle %" PRIu64 " (epoch %" PRIu64 ", as of %" PRIu64 " ms, covers_to %" PRIu64
           "): its block, seq %" PRIu64 "..%" PRIu64 ", replayed byte for byte from %s%s\n",
           r->cycle, r->epoch, r->as_of_ms, r->covers_to, r->cycle_seq, r->state_seq, from,
           r->gated ? " in the gated view" : "");
    printf("state hash %s (%zu bytes) equals its STATE_HASH record%s\n", hex, r->state_len,
           r->checkpoint_checked ? " and the checkpoint file" : " (no checkpoint file to check)");
    printf("tree size %" PRIu64 ", root %s\n", r->tree_size, root);
    if (w != NULL) {
        printf("weights: %zu uids\n", w->n_uids);
    } else {
        printf("weights: none for this cycle\n");
    }
    printf("written to %s: cycle.json scores.json weights.json submission_scores.jsonl "
           "state.msgpack\n",
           out);
    return CLI_OK;
}

int cmd_reconstruct(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"cycle", required_argument, NULL, 'c'},
                                         {"at", required_argument, NULL, 'a'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"gated", no_argument, NULL, 'g'},
                                         {"resume", no_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    cli_progress_state prog;
    ledger_reconstruct_cfg cfg = {.progress = cli_progress, .progress_arg = &prog};
    ledger_reconstruction r;
    const char *dir = NULL, *out = NULL, *at = NULL;
    char outbuf[64], detail[512];
    bool json = false, has_at = false;
    store_log *log;
    tally_status st;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (c == 'd') {
            dir = optarg;
        } else if (c == 'c' && cli_parse_u64(optarg, &cfg.cycle) && cfg.cycle > 0 &&
                   cfg.cycle <= UINT32_MAX) {
            continue;
        } else if (c == 'a' && parse_time(optarg, &cfg.at_ms)) {
            has_at = true, at = optarg;
        } else if (c == 'o' && optarg[0] != '\0') {
            out = optarg;
        } else if (c == 'g') {
            cfg.gated = true;
        } else if (c == 'r') {
            cfg.resume = true;
        } else if (c == 'j') {
            json = true;
        } else if (c == 'q') {
            cfg.progress = NULL;
        } else if (c == 'a') {
            return cli_usage_error("reconstruct", "--at takes RFC 3339 UTC "
                                                  "(2024-03-01T00:00:00Z) or Unix milliseconds");
        } else {
            return cli_usage_error("reconstruct", "bad option or value");
        }
    }
    if (optind != argc) {
        return cli_usage_error("reconstruct", "unexpected argument '%s'", argv[optind]);
    }
    if ((cfg.cycle != 0) == has_at) {
        return cli_usage_error("reconstruct", "give exactly one of --cycle N and --at TIME");
    }
    if (has_at && cfg.at_ms == 0) {
        cfg.at_ms = 1; /* before any cycle: nothing is found, as asked */
    }
    cli_progress_init(&prog, "reconstruct: replay");
    rc = cli_open("reconstruct", cli_dir(dir), true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    st = ledger_reconstruct(log, &cfg, &r);
    store_close(log);
    if (st != TALLY_OK) {
        uint64_t replayed = r.replayed;
        ledger_reconstruction_release(&r);
        if (st == TALLY_ENOTFOUND && has_at) {
            return cli_fail("reconstruct", st, "no cycle with its whole block at or before %s", at);
        }
        if (st == TALLY_ENOTFOUND) {
            return cli_fail("reconstruct", st, "no cycle %" PRIu64 " with its whole block in the log",
                            cfg.cycle);
        }
        return cli_fail("reconstruct", st, "the reconstruction stopped after %" PRIu64 " records",
                        replayed);
    }
    if (r.mismatch) {
        rc = print_mismatch(&r, json);
        ledger_reconstruction_release(&r);
        return rc;
    }
    if (out == NULL) {
        snprintf(outbuf, sizeof(outbuf), "reconstruct-%" PRIu64, r.cycle);
        out = outbuf;
    }
    st = ledger_reconstruct_write(&r, out, detail, sizeof(detail));
    if (st != TALLY_OK) {
        ledger_reconstruction_release(&r);
        return cli_fail("reconstruct", st, "%s", detail[0] ? detail : "cannot write the files");
    }
    rc = print_result(&r, out, json);
    ledger_reconstruction_release(&r);
    return rc;
}

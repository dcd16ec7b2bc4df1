/* tally verify: the full integrity scan. */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally verify [--dir DIR] [--signatures] [--against CHECKPOINT] [--quiet]\n\n"
           "Rehashes every record and checks its body against its header, rebuilds every hash\n"
           "tile and compares it with the stored one, and checks every signed tree head (root,\n"
           "both signatures, order). With --signatures it also verifies every record's actor\n"
           "signature (slower: one Ed25519 verification a record). Progress goes to stderr.\n"
           "Every head and every node record must be signed by the GENESIS actor, and nothing\n"
           "may lie beyond the latest head. Needs no secret key.\n"
           "With --against FILE (a checkpoint note kept from earlier, e.g. an export's), it also\n"
           "proves that this log extends that head (RFC 9162 consistency proof), or prints the\n"
           "two conflicting heads signed by this log's key: a fork, or a rewind (the log was\n"
           "restored from an older backup).\n"
           "Exits 0 when everything checks, 1 naming the first bad sequence number (or the\n"
           "conflicting heads) otherwise.\n");
}

/* Prints a head as its checkpoint note, indented, for the evidence of a conflict. */
static void print_head(const char *label, const char *note, size_t n)
{
    fprintf(stderr, "%s\n", label);
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(note + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (note + i)) : n - i;
        fprintf(stderr, "    %.*s\n", (int)len, note + i);
        i += len + 1;
    }
}

static int check_against(store_log *log, const char *path)
{
    char note[4096], own[1024];
    size_t n, on;
    store_head_report rep;
    tally_status st;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        return cli_fail("verify", TALLY_ENOTFOUND, "cannot read %s", path);
    }
    n = fread(note, 1, sizeof(note), f);
    fclose(f);
    st = store_check_head(log, note, n, &rep);
    if (st == TALLY_OK) {
        printf("consistent: this log (size %llu) extends the head in %s (size %llu)\n",
               (unsigned long long)rep.size, path, (unsigned long long)rep.known_size);
        return CLI_OK;
    }
    if (st != TALLY_ECONFLICT) {
        return cli_fail("verify", st, "%s: %s", path, store_detail(log));
    }
    fprintf(stderr, "tally verify: FAILED against %s: %s\n", path, store_detail(log));
    if (rep.verdict == STORE_HEAD_FORK || rep.verdict == STORE_HEAD_REWIND) {
        print_head("the head you kept:", note, n);
        if (rep.has_own && store_note(&rep.own, own, sizeof(own), &on) == TALLY_OK) {
            print_head(rep.own.tree_size == rep.known_size ? "this log's head for the same size:"
                                                           : "this log's latest head:",
                       own, on);
        }
    }
    return CLI_CHECK_FAILED;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"signatures", no_argument, NULL, 's'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"against", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *against = NULL;
    bool sigs = false, quiet = false;
    store_verify_report rep;
    cli_progress_state prog;
    store_log *log;
    struct timespec t0, t1;
    tally_status st;
    double secs;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': sigs = true; break;
        case 'q': quiet = true; break;
        case 'a': against = optarg; break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("verify", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
    }
    rc = cli_open_scan("verify", cli_dir(dir), &log);
    if (rc != CLI_OK) {
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cli_progress_init(&prog, "verify: records");
    st = store_verify(log, sigs, quiet ? NULL : cli_progress, &prog, &rep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st == TALLY_OK && against != NULL) {
        rc = check_against(log, against);
        if (rc != CLI_OK) {
            store_close(log);
            return rc;
        }
    }
    store_close(log);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (st == TALLY_ECORRUPT) {
        if (rep.has_bad_seq) {
            fprintf(stderr, "tally verify: FAILED at seq %llu: %s\n",
                    (unsigned long long)rep.bad_seq, rep.what);
        } else {
            fprintf(stderr, "tally verify: FAILED: %s\n", rep.what);
        }
        return CLI_CHECK_FAILED;
    }
    if (st != TALLY_OK) {
        return cli_fail("verify", st, "the scan could not run");
    }
    printf("ok: %llu records, %llu signed tree heads verified%s in %.2f s\n",
           (unsigned long long)rep.records, (unsigned long long)rep.sths,
           sigs ? " (with actor signatures)" : "", secs);
    return CLI_OK;
}

/* tally verify: the full integrity scan. */
#include <getopt.h>
#include <time.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally verify [--dir DIR] [--signatures] [--quiet]\n\n"
           "Rehashes every record and checks its body against its header, rebuilds every hash\n"
           "tile and compares it with the stored one, and checks every signed tree head (root,\n"
           "both signatures, order). With --signatures it also verifies every record's actor\n"
           "signature (slower: one Ed25519 verification a record). Progress goes to stderr.\n"
           "Exits 0 when everything checks, 1 naming the first bad sequence number otherwise.\n");
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"signatures", no_argument, NULL, 's'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
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
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("verify", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
    }
    rc = cli_open("verify", cli_dir(dir), true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cli_progress_init(&prog, "verify: records");
    st = store_verify(log, sigs, quiet ? NULL : cli_progress, &prog, &rep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
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

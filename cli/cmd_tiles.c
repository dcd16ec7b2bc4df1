/* tally tiles export: the log as static c2sp.org/tlog-tiles files. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally tiles export [--dir DIR] [--quiet] [--force] OUTDIR\n\n"
           "Writes the log as a c2sp.org/tlog-tiles tree under OUTDIR: checkpoint,\n"
           "tile/<L>/<N>[.p/<W>] hash tiles, tile/entries/<N>[.p/<W>] entry bundles (every\n"
           "record header) and bodies/<N>[.p/<W>] body bundles (public bodies; length 0 for\n"
           "others), laid out like the ledger API's /log/ paths. Incremental: full tiles and\n"
           "bundles already in OUTDIR are kept, so a second export writes only what grew.\n"
           "A checkpoint already in OUTDIR must be a head of this log that this log extends\n"
           "(same origin and key, checked with a consistency proof); otherwise (another log,\n"
           "a fork, or this log rewound from an older backup) nothing is written and the\n"
           "command exits 8. --force replaces such a directory with a fresh export instead.\n"
           "Every file is written to a temporary name and renamed, the checkpoint last.\n");
}

int cmd_tiles(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    bool quiet = false, force = false;
    store_export_stats es;
    cli_progress_state prog;
    store_log *log;
    tally_status st;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'q': quiet = true; break;
        case 'f': force = true; break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("tiles", "unknown option");
        }
    }
    if (optind + 2 != argc || strcmp(argv[optind], "export") != 0) {
        return cli_usage_error("tiles", "usage: tally tiles export OUTDIR");
    }
    rc = cli_open("tiles", cli_dir(dir), true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    cli_progress_init(&prog, "export: records");
    st = store_export(log, argv[optind + 1], force, quiet ? NULL : cli_progress, &prog, &es);
    if (st == TALLY_ECONFLICT && !force) {
        rc = cli_fail("tiles", st, "%s; nothing in it was changed (--force replaces it with this "
                                   "log's export)", store_detail(log));
        store_close(log);
        return rc;
    }
    if (st != TALLY_OK) {
        rc = cli_fail("tiles", st, "export to %s failed: %s", argv[optind + 1],
                      store_detail(log)[0] ? store_detail(log) : "see below");
        store_close(log);
        return rc;
    }
    store_close(log);
    printf("exported tree size %llu to %s: %llu files written (%llu bytes), %llu kept\n",
           (unsigned long long)es.size, argv[optind + 1], (unsigned long long)es.files_written,
           (unsigned long long)es.bytes_written, (unsigned long long)es.files_kept);
    return CLI_OK;
}

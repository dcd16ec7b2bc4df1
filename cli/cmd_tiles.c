/* tally tiles export: the log as static c2sp.org/tlog-tiles files. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally tiles export [--dir DIR] [--quiet] OUTDIR\n\n"
           "Writes the log as a c2sp.org/tlog-tiles tree under OUTDIR: checkpoint,\n"
           "tile/<L>/<N>[.p/<W>] hash tiles, tile/entries/<N>[.p/<W>] entry bundles (every\n"
           "record header) and bodies/<N>[.p/<W>] body bundles (public bodies; length 0 for\n"
           "others), laid out like the ledger API's /log/ paths. Incremental: full tiles and\n"
           "bundles already in OUTDIR are kept, so a second export writes only what grew.\n");
}

int cmd_tiles(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    bool quiet = false;
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
    st = store_export(log, argv[optind + 1], quiet ? NULL : cli_progress, &prog, &es);
    store_close(log);
    if (st != TALLY_OK) {
        return cli_fail("tiles", st, "export to %s failed", argv[optind + 1]);
    }
    printf("exported tree size %llu to %s: %llu files written (%llu bytes), %llu kept\n",
           (unsigned long long)es.size, argv[optind + 1], (unsigned long long)es.files_written,
           (unsigned long long)es.bytes_written, (unsigned long long)es.files_kept);
    return CLI_OK;
}

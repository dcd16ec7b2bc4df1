/* tally cycle: ask the node to run a scoring cycle now (POST /admin/v1/cycle, §9.5). */
#include "cli/admin_int.h"
#include "cli/cli.h"

static void help(void)
{
    printf(
        "usage: tally cycle [--ops URL] [--admin-token-file F] [--dir DIR]\n\n"
        "Queues a scoring cycle on the running node (it answers 202 at once; the cycle's\n"
        "records follow in the log, see 'tally weights'). Prints 'cycle queued'.\n\n" CLI_ADMIN_HELP
        "\nExit: 0 queued, 2 usage, 7 admin token, 9 no answer.\n");
}

int cmd_cycle(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_ADMIN_LONGOPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_admin a = {.cmd = "cycle"};
    json_t *empty = json_object();
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h' || !cli_admin_opt(&a, c, optarg)) {
            json_decref(empty);
            return c == 'h' ? (help(), CLI_OK) : cli_usage_error("cycle", "unknown option");
        }
    }
    if (optind != argc) {
        json_decref(empty);
        return cli_usage_error("cycle", "unexpected argument %s", argv[optind]);
    }
    rc = cli_admin_open(&a);
    if (rc == CLI_OK) {
        /* the admin routes take JSON bodies: the cycle's is empty */
        rc = cli_admin_call(&a, "POST", "/admin/v1/cycle", empty, NULL);
    }
    if (rc == CLI_OK) {
        printf("cycle queued\n");
    }
    json_decref(empty);
    cli_admin_close(&a);
    return rc;
}

/* tally reveal: a dispute reveal of one private record (POST /admin/v1/reveal, §9.5). */
#include "cli/admin_int.h"
#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally reveal SEQ [--ops URL] [--admin-token-file F] [--dir DIR]\n\n"
           "Marks the private record SEQ as revealed: from then on its body is served to gated\n"
           "readers (the mark is kept beside the log, not in it). Prints 'revealed seq "
           "SEQ'.\n\n" CLI_ADMIN_HELP
           "\nExit: 0 revealed, 2 usage, 3 not a private record or no such seq,\n"
           "7 admin token, 9 no answer.\n");
}

int cmd_reveal(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_ADMIN_LONGOPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_admin a = {.cmd = "reveal"};
    json_t *body = NULL;
    uint64_t seq;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return CLI_OK;
        }
        if (!cli_admin_opt(&a, c, optarg)) {
            return cli_usage_error("reveal", "unknown option");
        }
    }
    if (argc - optind != 1 || !cli_parse_u64(argv[optind], &seq) || seq >> 53) {
        return cli_usage_error("reveal", "give one sequence number");
    }
    rc = cli_admin_open(&a);
    body = json_pack("{s:I}", "seq", (json_int_t)seq);
    if (rc == CLI_OK) {
        rc = cli_admin_call(&a, "POST", "/admin/v1/reveal", body, NULL);
    }
    if (rc == CLI_OK) {
        printf("revealed seq %llu\n", (unsigned long long)seq);
    }
    json_decref(body);
    cli_admin_close(&a);
    return rc;
}

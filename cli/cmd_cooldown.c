/* tally cooldown ls|clear: the running node's cooldowns (protocol §7.2) through
 * /admin/v1/cooldowns. Cooldowns live in the node's memory only, so there is no offline form. */
#include <string.h>

#include "cli/admin_int.h"
#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally cooldown ls\n"
           "       tally cooldown clear (--ip ADDR | --hotkey SS58)\n"
           "       [--ops URL] [--admin-token-file F] [--dir DIR]\n\n"
           "Lists the running node's cooldowns, one JSON object a line\n"
           "  {\"id\":\"ip:203.0.113.9\",\"remaining_s\":45,\"level\":2}\n"
           "(level: how many cooldowns that identity had in the last 24 h), or ends one now.\n"
           "Cooldowns are kept in memory only: a stopped node has none, and a restart ends\n"
           "them all.\n\n"
           "  --ip ADDR      an IPv4 or IPv6 address (IPv6 by its /64)\n"
           "  --hotkey SS58  a hotkey (SS58, or 64 hex digits)\n" CLI_ADMIN_HELP
           "\nExit: 0 done, 2 usage, 4 no such cooldown, 7 admin token, 9 no answer (the node\n"
           "is not running).\n");
}

int cmd_cooldown(int argc, char **argv)
{
    static const struct option opts[] = {CLI_ADMIN_LONGOPTS,
                                         {"ip", required_argument, NULL, 'i'},
                                         {"hotkey", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    cli_admin a = {.cmd = "cooldown"};
    const char *ip = NULL, *hotkey = NULL, *kind = NULL, *id = NULL, *verb;
    json_t *resp = NULL, *it;
    char path[512];
    size_t i;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            ip = optarg;
            break;
        case 'k':
            hotkey = optarg;
            break;
        case 'h':
            help();
            return CLI_OK;
        default:
            if (!cli_admin_opt(&a, c, optarg)) {
                return cli_usage_error("cooldown", "unknown option");
            }
        }
    }
    if (argc - optind != 1) {
        return cli_usage_error("cooldown", "give ls or clear");
    }
    verb = argv[optind];
    if (strcmp(verb, "ls") == 0) {
        if (ip || hotkey) {
            return cli_usage_error("cooldown", "ls takes no --ip or --hotkey");
        }
    } else if (strcmp(verb, "clear") == 0) {
        rc = cli_ident_args("cooldown", ip, hotkey, &kind, &id);
        if (rc != CLI_OK) {
            return rc;
        }
    } else {
        return cli_usage_error("cooldown", "'%s' is not ls or clear", verb);
    }
    rc = cli_admin_open(&a);
    if (rc == CLI_OK && kind == NULL) {
        rc = cli_admin_call(&a, "GET", "/admin/v1/cooldowns", NULL, &resp);
        json_array_foreach(rc == CLI_OK ? json_object_get(resp, "cooldowns") : NULL, i, it)
        {
            cli_json_line(it);
        }
    } else if (rc == CLI_OK) {
        snprintf(path, sizeof(path), "/admin/v1/cooldowns/%s/%s", kind, id);
        rc = cli_admin_call(&a, "DELETE", path, NULL, &resp);
        if (rc == CLI_OK) {
            printf("cleared %s:%s\n", kind, id);
        }
    }
    if (rc == CLI_IO && a.refused) {
        fprintf(stderr, "tally cooldown: the node is not running (cooldowns live in its memory "
                        "only)\n");
    }
    json_decref(resp);
    cli_admin_close(&a);
    return rc;
}

/* tally recompute: a RECOMPUTE record through POST /admin/v1/recompute (protocol §9.5). */
#include <stdlib.h>
#include <string.h>

#include "cli/admin_int.h"
#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally recompute --reason CODE --detail TEXT --severity N [--events ID,...]\n"
           "                       [--ops URL] [--admin-token-file F] [--dir DIR]\n\n"
           "Appends a RECOMPUTE: the node's public notice that derived records are recomputed\n"
           "from a new epoch on (the node sets the epoch and its code version). Prints 'seq N'.\n\n"
           "  --reason CODE   provider_feed_error, provider_outage, scoring_bug, ... (the\n"
           "                  RECOMPUTE reason names of docs/log.md)\n"
           "  --detail TEXT   what happened (≤ 1024 bytes)\n"
           "  --severity N    1 correction, 2 bugfix, 3 recovery (the name works too)\n"
           "  --events ID,... the affected event ids (ascending order not needed)\n" CLI_ADMIN_HELP
           "\nExit: 0 appended, 2 usage, 3 a field refused, 7 admin token, 9 no answer.\n");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* "7001,7002" to a JSON array, ascending and without repeats (the record's rule). */
static int events(const char *s, json_t *out)
{
    char *copy = strdup(s), *save = NULL;
    uint64_t *ids = calloc(strlen(s) / 2 + 1, sizeof(*ids));
    size_t n = 0;
    int rc = copy && ids ? CLI_OK : cli_fail("recompute", TALLY_ENOMEM, "no memory");

    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; rc == CLI_OK && t;
         t = strtok_r(NULL, ",", &save)) {
        if (!cli_parse_u64(t, &ids[n]) || ids[n] == 0) {
            rc = cli_usage_error("recompute", "--events takes event ids, not '%s'", t);
        }
        n++;
    }
    if (rc == CLI_OK) {
        qsort(ids, n, sizeof(*ids), cmp_u64);
    }
    for (size_t i = 0; rc == CLI_OK && i < n; i++) {
        if (i == 0 || ids[i] != ids[i - 1]) {
            json_array_append_new(out, json_integer((json_int_t)ids[i]));
        }
    }
    free(copy);
    free(ids);
    return rc;
}

int cmd_recompute(int argc, char **argv)
{
    static const struct option opts[] = {CLI_ADMIN_LONGOPTS,
                                         {"reason", required_argument, NULL, 'r'},
                                         {"detail", required_argument, NULL, 'D'},
                                         {"severity", required_argument, NULL, 's'},
                                         {"events", required_argument, NULL, 'e'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static const char *const severities[] = {"correction", "bugfix", "recovery"};
    cli_admin a = {.cmd = "recompute"};
    const char *reason = NULL, *detail = NULL, *sev = NULL, *ev = NULL;
    json_t *body = NULL, *list = json_array(), *resp = NULL;
    uint64_t k;
    int c, rc = CLI_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            reason = optarg;
            break;
        case 'D':
            detail = optarg;
            break;
        case 's':
            sev = optarg;
            break;
        case 'e':
            ev = optarg;
            break;
        case 'h':
            help();
            json_decref(list);
            return CLI_OK;
        default:
            if (!cli_admin_opt(&a, c, optarg)) {
                json_decref(list);
                return cli_usage_error("recompute", "unknown option");
            }
        }
    }
    if (optind != argc || reason == NULL || detail == NULL || sev == NULL) {
        json_decref(list);
        return cli_usage_error("recompute", "give --reason, --detail and --severity");
    }
    if (cli_parse_u64(sev, &k)) {
        if (k < 1 || k > 3) {
            json_decref(list);
            return cli_usage_error("recompute", "--severity is 1, 2 or 3");
        }
        sev = severities[k - 1];
    }
    if (ev != NULL) {
        rc = events(ev, list);
    }
    if (rc == CLI_OK) {
        body = json_pack("{s:s, s:s, s:O, s:s}", "reason", reason, "detail", detail,
                         "affected_events", list, "severity", sev);
        rc = body ? cli_admin_open(&a) : cli_fail("recompute", TALLY_EINVAL, "not valid UTF-8");
    }
    if (rc == CLI_OK) {
        rc = cli_admin_call(&a, "POST", "/admin/v1/recompute", body, &resp);
    }
    if (rc == CLI_OK) {
        rc = cli_print_seq(resp);
    }
    json_decref(resp);
    json_decref(body);
    json_decref(list);
    cli_admin_close(&a);
    return rc;
}

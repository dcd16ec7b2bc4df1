/* tally feed: node-authored records as JSON lines to POST /admin/v1/records (protocol §9.5,
 * §14.4): one call, all or nothing. */
#include <stdlib.h>
#include <string.h>

#include "cli/admin_int.h"
#include "cli/cli.h"

#define FEED_MAX (4u << 20) /* the route's body limit (§9.5) */

static void help(void)
{
    printf("usage: tally feed [--ops URL] [--admin-token-file F] [--dir DIR] < records.jsonl\n\n"
           "Sends the records on stdin, one JSON object a line (blank lines skipped), as one\n"
           "POST /admin/v1/records: the node validates them, salts those that need it, signs\n"
           "and appends them in one transaction, all or nothing (at most 10,000 records,\n"
           "4 MiB). A line is {\"type\": NAME, \"body\": {named fields}}, NAME one of\n"
           "CHAIN_PARAMS, METAGRAPH, EVENT, MARKET, PROVIDER_QUOTE, MARKET_SNAPSHOT, CLOSE and\n"
           "OUTCOME (source provider); feeders never send a salt. Prints one line per record:\n\n"
           "  line 1: seq 12\n"
           "  line 2: seq 13 (duplicate)   (a MARKET the log already holds, byte for byte)\n\n"
           "and then 'tree_size N'. A refused record is named by its line and nothing is\n"
           "appended.\n\n" CLI_ADMIN_HELP
           "\nExit: 0 appended, 2 usage, 3 a record refused (or bad JSON), 7 bad or missing\n"
           "admin token, 8 conflict (a MARKET id reused, GENESIS twice), 9 no answer.\n");
}

/* Lines to one {"records": [...]} with each record's line number kept. */
static int read_lines(char *text, json_t *recs, size_t *lines, size_t cap)
{
    size_t lineno = 0;
    char *save = NULL;

    for (char *p = text; p != NULL; p = save) {
        char *nl = strchr(p, '\n');
        json_error_t je;
        json_t *o;
        save = nl ? nl + 1 : NULL;
        if (nl) {
            *nl = '\0';
        }
        lineno++;
        if (strspn(p, " \t\r") == strlen(p)) {
            continue;
        }
        if (json_array_size(recs) == cap) {
            return cli_fail("feed", TALLY_ELIMIT, "more than %zu records", cap);
        }
        o = json_loads(p, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(o)) {
            json_decref(o);
            return cli_fail("feed", TALLY_EFORMAT,
                            "line %zu is not a JSON object (%s); nothing "
                            "was sent",
                            lineno, je.text);
        }
        lines[json_array_size(recs)] = lineno;
        json_array_append_new(recs, o);
    }
    return json_array_size(recs) ? CLI_OK : cli_usage_error("feed", "no records on stdin");
}

static void print_refusal(const json_t *resp, const size_t *lines, size_t n)
{
    const json_t *d = json_object_get(resp, "details");
    const char *err = json_string_value(json_object_get(resp, "error"));
    const char *msg = json_string_value(json_object_get(resp, "message"));
    const char *field = json_string_value(json_object_get(d, "field"));
    json_t *jidx = json_object_get(d, "idx");
    size_t idx = (size_t)json_integer_value(jidx);

    if (json_is_integer(jidx) && idx < n) {
        fprintf(stderr,
                "tally feed: line %zu (record %zu) refused: %s%s%s: %s; nothing was "
                "appended\n",
                lines[idx], idx, err ? err : "?", field && field[0] ? " at " : "",
                field && field[0] ? field : "", msg ? msg : "");
    } else {
        fprintf(stderr,
                "tally feed: the node refused the records: %s: %s; nothing was "
                "appended\n",
                err ? err : "?", msg ? msg : "");
    }
}

int cmd_feed(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_ADMIN_LONGOPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_admin a = {.cmd = "feed"};
    json_t *recs = NULL, *body = NULL, *resp = NULL, *it;
    size_t *lines = NULL, n = 0, i;
    char *text = NULL;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return CLI_OK;
        }
        if (!cli_admin_opt(&a, c, optarg)) {
            return cli_usage_error("feed", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("feed", "unexpected argument %s", argv[optind]);
    }
    rc = cli_admin_open(&a);
    if (rc == CLI_OK) {
        rc = cli_read_stdin("feed", FEED_MAX, &text, &n);
    }
    recs = json_array();
    lines = calloc(10000, sizeof(*lines));
    if (rc == CLI_OK && (recs == NULL || lines == NULL)) {
        rc = cli_fail("feed", TALLY_ENOMEM, "no memory");
    }
    if (rc == CLI_OK) {
        rc = read_lines(text, recs, lines, 10000);
    }
    if (rc == CLI_OK) {
        n = json_array_size(recs);
        body = json_pack("{s:O}", "records", recs);
        a.quiet = true;
        rc = cli_admin_call(&a, "POST", "/admin/v1/records", body, &resp);
        if (rc != CLI_OK && resp != NULL) {
            print_refusal(resp, lines, n);
        } else if (rc != CLI_OK && a.refused) {
            fprintf(stderr,
                    "tally feed: the ops listener %s:%u refused the connection (is the "
                    "node running?)\n",
                    a.url.host, (unsigned)a.url.port);
        }
    }
    json_array_foreach(rc == CLI_OK ? json_object_get(resp, "items") : NULL, i, it)
    {
        const char *status = json_string_value(json_object_get(it, "status"));
        size_t idx = (size_t)json_integer_value(json_object_get(it, "idx"));
        if (status != NULL && strcmp(status, "duplicate") == 0) {
            printf("line %zu: duplicate (already in the log)\n", idx < n ? lines[idx] : 0);
        } else {
            printf("line %zu: seq %lld\n", idx < n ? lines[idx] : 0,
                   (long long)json_integer_value(json_object_get(it, "seq")));
        }
    }
    if (rc == CLI_OK) {
        printf("tree_size %lld\n",
               (long long)json_integer_value(json_object_get(resp, "tree_size")));
    }
    json_decref(resp);
    json_decref(body);
    json_decref(recs);
    free(lines);
    free(text);
    cli_admin_close(&a);
    return rc;
}

/* tally config set: a CONFIG_SET through POST /admin/v1/config (protocol §2.6, §9.5). */
#include <stdlib.h>
#include <string.h>

#include "cli/admin_int.h"
#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally config set KEY=VALUE... [--reason TEXT] [--ops URL]\n"
           "                        [--admin-token-file F] [--dir DIR]\n\n"
           "Appends one CONFIG_SET changing the ledger parameters given (protocol §2.6; the\n"
           "keys and ranges are schema/params.c, listed in docs/configuration.md). Each value\n"
           "is written in its key's own form:\n"
           "  integers  a decimal:                     ingest.max_submissions_per_market_day=10\n"
           "  reals     a decimal, ≤ 9 fraction digits: security.odds_min=1.05 (kept as nanos)\n"
           "  booleans  true or false:                 auth.require_permit=false\n"
           "  text      one of its choices:            normalization.method=zscore_logistic\n"
           "Every value is checked here before anything is sent, and again by the node. The\n"
           "new values apply to requests the node judges after the record. Prints 'seq N'.\n\n"
           "  --reason TEXT  why (≤ 256 bytes), kept in the record\n" CLI_ADMIN_HELP
           "\nExit: 0 appended, 2 usage, 3 a key or value refused, 7 admin token, 9 no answer.\n");
}

static int cmp_param(const void *a, const void *b)
{
    const schema_param *x = a, *y = b;
    size_t n = x->key.n < y->key.n ? x->key.n : y->key.n;
    int c = memcmp(x->key.p, y->key.p, n);

    return c ? c : (x->key.n > y->key.n) - (x->key.n < y->key.n);
}

/* The CONFIG_SET body: {"params": [{"key", "value"}] ascending by key, "reason"?}. */
static int build(int n, char **kv, const char *reason, json_t **out)
{
    schema_param *ps = calloc((size_t)n, sizeof(*ps));
    json_t *list = json_array(), *o;
    int rc = ps && list ? CLI_OK : cli_fail("config", TALLY_ENOMEM, "no memory");

    for (int i = 0; rc == CLI_OK && i < n; i++) {
        char *eq = strchr(kv[i], '=');
        schema_param_error pe;
        if (eq == NULL || eq == kv[i]) {
            rc = cli_usage_error("config", "'%s' is not KEY=VALUE", kv[i]);
            break;
        }
        *eq = '\0';
        if (schema_param_from_text(kv[i], eq + 1, &ps[i], &pe) != TALLY_OK) {
            rc = cli_fail("config", TALLY_EINVAL, "%s", pe.msg);
        }
    }
    if (rc == CLI_OK) {
        qsort(ps, (size_t)n, sizeof(*ps), cmp_param);
    }
    for (int i = 0; rc == CLI_OK && i < n; i++) {
        const schema_pvalue *v = &ps[i].value;
        if (i > 0 && cmp_param(&ps[i - 1], &ps[i]) == 0) {
            rc = cli_usage_error("config", "%.*s is given twice", (int)ps[i].key.n, ps[i].key.p);
            break;
        }
        json_t *jv = v->kind == SCHEMA_PV_BOOL  ? json_boolean(v->b)
                     : v->kind == SCHEMA_PV_INT ? json_integer((json_int_t)v->i)
                                                : json_stringn(v->s.p, v->s.n);
        json_array_append_new(
            list, json_pack("{s:s%, s:o}", "key", ps[i].key.p, ps[i].key.n, "value", jv));
    }
    free(ps);
    if (rc != CLI_OK) {
        json_decref(list);
        return rc;
    }
    o = json_pack("{s:o}", "params", list);
    if (o != NULL && reason != NULL) {
        json_object_set_new(o, "reason", json_string(reason));
    }
    *out = o;
    return o ? CLI_OK : cli_fail("config", TALLY_EINVAL, "the reason is not valid UTF-8");
}

int cli_print_seq(const json_t *resp)
{
    json_t *it = json_array_get(json_object_get(resp, "items"), 0);

    printf("seq %lld\n", (long long)json_integer_value(json_object_get(it, "seq")));
    return CLI_OK;
}

int cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {CLI_ADMIN_LONGOPTS,
                                         {"reason", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    cli_admin a = {.cmd = "config"};
    const char *reason = NULL;
    json_t *body = NULL, *resp = NULL;
    int c, rc;

    optind = 1;
    /* getopt_long permutes: the options may come anywhere, the words end up at argv[optind..] */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return CLI_OK;
        }
        if (c == 'r') {
            reason = optarg;
        } else if (!cli_admin_opt(&a, c, optarg)) {
            return cli_usage_error("config", "unknown option");
        }
    }
    if (optind >= argc || strcmp(argv[optind], "set") != 0) {
        return cli_usage_error("config", "the only subcommand is 'config set KEY=VALUE...'");
    }
    if (optind + 1 == argc) {
        return cli_usage_error("config", "give at least one KEY=VALUE");
    }
    rc = build(argc - optind - 1, argv + optind + 1, reason, &body);
    if (rc == CLI_OK) {
        rc = cli_admin_open(&a);
    }
    if (rc == CLI_OK) {
        rc = cli_admin_call(&a, "POST", "/admin/v1/config", body, &resp);
    }
    if (rc == CLI_OK) {
        rc = cli_print_seq(resp);
    }
    json_decref(resp);
    json_decref(body);
    cli_admin_close(&a);
    return rc;
}

/* tally log and tally show: records as JSON lines. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help_log(void)
{
    printf("usage: tally log [--dir DIR] [--from SEQ] [--to SEQ] [--type T[,T...]] [--headers]\n\n"
           "Prints records [from, to) as JSON lines: seq, leaf_hash, type, the header fields\n"
           "and the body with named fields (the operator's view: every tier). Bodies are checked\n"
           "against their headers as they are read.\n\n"
           "  --from SEQ   first record (default 0)\n"
           "  --to SEQ     end, exclusive (default: the latest checkpoint's size)\n"
           "  --type T     only these record types, by name, comma-separated (e.g. EVENT,MARKET)\n"
           "  --headers    print headers only (\"body\": null)\n");
}

/* Prints one record; returns a status if its stored body does not match its header. */
static tally_status print_record(const store_record *r, bool headers_only, const bool *types)
{
    schema_header h;
    schema_body b;
    char *json = NULL;
    tally_status st = schema_header_decode(r->header.p, r->header.n, &h);

    if (st != TALLY_OK) {
        return TALLY_ECORRUPT;
    }
    if (types != NULL && !types[h.type]) {
        return TALLY_OK;
    }
    if (!headers_only) {
        if (r->body.p == NULL || schema_record_check(&h, r->body.p, r->body.n, &b) != TALLY_OK) {
            return TALLY_ECORRUPT;
        }
    }
    st = schema_record_to_json(r->seq, r->leaf_hash, &h, headers_only ? NULL : &b, &json);
    if (!headers_only) {
        schema_body_release(&b);
    }
    if (st == TALLY_OK) {
        puts(json);
    }
    free(json);
    return st;
}

static bool parse_types(const char *list, bool types[64])
{
    char buf[512], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        unsigned code = schema_type_from_name(t);
        if (code == 0) {
            return false;
        }
        types[code] = true;
    }
    return true;
}

static int dump(const char *cmd, const char *dir, uint64_t from, uint64_t to, bool headers,
                const bool *types)
{
    store_log *log;
    store_iter *it;
    store_record r;
    tally_status st;
    int rc = cli_open(cmd, dir, true, &log);

    if (rc != CLI_OK) {
        return rc;
    }
    if (to > store_size(log)) {
        to = store_size(log);
    }
    st = store_iter_open(log, from, &it);
    while (st == TALLY_OK && from < to) {
        st = store_iter_next(it, &r);
        if (st == TALLY_OK) {
            st = print_record(&r, headers, types);
            if (st == TALLY_ECORRUPT) {
                store_iter_close(it);
                store_close(log);
                return cli_fail(cmd, st, "record %llu: stored body does not match its header "
                                         "(run 'tally verify')", (unsigned long long)r.seq);
            }
        }
        from++;
    }
    store_iter_close(it);
    store_close(log);
    if (st != TALLY_OK && st != TALLY_ENOTFOUND) {
        return cli_fail(cmd, st, "reading the log failed");
    }
    return CLI_OK;
}

int cmd_log(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},  {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},   {"type", required_argument, NULL, 'y'},
        {"headers", no_argument, NULL, 'H'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    uint64_t from = 0, to = UINT64_MAX;
    bool headers = false, types[64] = {false}, filter = false;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'f':
            if (!cli_parse_u64(optarg, &from)) {
                return cli_usage_error("log", "--from takes a sequence number");
            }
            break;
        case 't':
            if (!cli_parse_u64(optarg, &to)) {
                return cli_usage_error("log", "--to takes a sequence number");
            }
            break;
        case 'y':
            if (!parse_types(optarg, types)) {
                return cli_usage_error("log", "unknown record type in '%s' (names like "
                                              "ODDS_SUBMISSION)", optarg);
            }
            filter = true;
            break;
        case 'H': headers = true; break;
        case 'h': help_log(); return CLI_OK;
        default: return cli_usage_error("log", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("log", "unexpected argument '%s'", argv[optind]);
    }
    if (to < from) {
        return cli_usage_error("log", "--to must not be below --from");
    }
    return dump("log", cli_dir(dir), from, to, headers, filter ? types : NULL);
}

int cmd_show(int argc, char **argv)
{
    const char *dir;
    uint64_t seq;
    store_log *log;
    int rc = cli_dir_opts("show", argc, argv,
                          "usage: tally show [--dir DIR] SEQ\n\nPrints record SEQ as one JSON "
                          "line (the format of 'tally log').\n",
                          1, &dir);

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    if (!cli_parse_u64(argv[optind], &seq)) {
        return cli_usage_error("show", "give one sequence number");
    }
    rc = cli_open("show", dir, true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    if (seq >= store_size(log)) {
        unsigned long long size = store_size(log);
        store_close(log);
        return cli_fail("show", TALLY_ENOTFOUND, "record %llu does not exist (the log has %llu)",
                        (unsigned long long)seq, size);
    }
    store_close(log);
    return dump("show", dir, seq, seq + 1, false, NULL);
}

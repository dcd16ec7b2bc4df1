/* tally ban ls|add|rm: the node's bans (protocol §7.2) through /admin/v1/bans, or, with the node
 * stopped, in the LMDB bans table directly (net_bans_offline_*). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/admin_int.h"
#include "cli/cli.h"
#include "net/net.h"

static void help(void)
{
    printf(
        "usage: tally ban ls\n"
        "       tally ban add (--ip ADDR | --hotkey SS58) [--seconds N] [--note TEXT]\n"
        "       tally ban rm (--ip ADDR | --hotkey SS58)\n"
        "       [--ops URL] [--admin-token-file F] [--dir DIR]\n\n"
        "Lists, adds or removes bans (protocol §7.2). A banned IP gets 403 ip_blacklisted, a\n"
        "banned hotkey 403 hotkey_blacklisted; an IPv6 address bans its /64. Exempt IPs\n"
        "(TALLY_ABUSE_EXEMPT, loopback by default) are never refused, even when listed.\n"
        "With the node running this goes through its admin API; when nothing listens on\n"
        "the ops URL (connection refused) and the data directory's writer lock is free (the\n"
        "node is stopped), it edits the bans table in DIR directly, and the node loads it\n"
        "at its next start. 'ls' prints one JSON object a line:\n"
        "  {\"id\":\"hotkey:5F...\",\"expires_ms\":null,\"reason\":\"admin\",\"created_ms\":...,\n"
        "   \"strikes\":0,\"note\":\"abuse report 12\"}\n"
        "(expires_ms null: permanent; offline, expired rows the node has not purged yet\n"
        "are listed too.)\n\n"
        "  --ip ADDR      an IPv4 or IPv6 address\n"
        "  --hotkey SS58  a hotkey (SS58, or 64 hex digits of its account id)\n"
        "  --seconds N    how long (default 0: permanent)\n"
        "  --note TEXT    why (≤ 256 bytes)\n" CLI_ADMIN_HELP
        "\nExit: 0 done, 2 usage, 3 a bad address or note, 4 no such ban, 7 admin token,\n"
        "8 the node holds the log but its ops URL refuses connections, 9 no answer.\n");
}

typedef struct ban_opts {
    const char *ip, *hotkey, *note;
    uint64_t seconds;
} ban_opts;

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void print_row(const net_ban_row *r)
{
    json_t *o =
        json_pack("{s:s, s:o, s:s, s:I, s:I, s:o}", "id", r->id, "expires_ms",
                  r->expires_ms ? json_integer((json_int_t)r->expires_ms) : json_null(), "reason",
                  r->reason, "created_ms", (json_int_t)r->created_ms, "strikes",
                  (json_int_t)r->strikes, "note", r->has_note ? json_string(r->note) : json_null());
    cli_json_line(o);
    json_decref(o);
}

static int offline_fail(cli_admin *a, tally_status st, const char *detail)
{
    if (st == TALLY_ECONFLICT) {
        fprintf(stderr,
                "tally ban: nothing listens on %s:%u, but the log in %s is held by a "
                "running writer; give --ops the node's ops listener\n",
                a->url.host, (unsigned)a->url.port, a->dir);
        return CLI_CONFLICT;
    }
    return cli_fail("ban", st, "%s", detail);
}

static int offline(cli_admin *a, const char *verb, const ban_opts *o, const char *kind,
                   const char *id)
{
    char detail[NET_DETAIL_MAX] = "";
    net_ban_row row, *rows = NULL;
    size_t n = 0;
    tally_status st;

    fprintf(stderr, "tally ban: no node listens on %s:%u; using the bans table in %s\n",
            a->url.host, (unsigned)a->url.port, a->dir);
    if (strcmp(verb, "ls") == 0) {
        st = net_bans_offline_list(a->dir, &rows, &n, detail);
        for (size_t i = 0; st == TALLY_OK && i < n; i++) {
            print_row(&rows[i]);
        }
        free(rows);
    } else if (strcmp(verb, "add") == 0) {
        st = net_bans_offline_add(a->dir, kind, id, o->seconds, o->note, wall_ms(), &row, detail);
        if (st == TALLY_OK) {
            print_row(&row);
        }
    } else {
        st = net_bans_offline_remove(a->dir, kind, id, detail);
        if (st == TALLY_OK) {
            printf("removed %s:%s\n", kind, id);
        }
    }
    return st == TALLY_OK ? CLI_OK : offline_fail(a, st, detail);
}

static int online(cli_admin *a, const char *verb, const ban_opts *o, const char *kind,
                  const char *id)
{
    json_t *resp = NULL, *body = NULL, *it;
    char path[512];
    size_t i;
    int rc;

    if (strcmp(verb, "ls") == 0) {
        rc = cli_admin_call(a, "GET", "/admin/v1/bans", NULL, &resp);
        json_array_foreach(rc == CLI_OK ? json_object_get(resp, "bans") : NULL, i, it)
        {
            cli_json_line(it);
        }
    } else if (strcmp(verb, "add") == 0) {
        body = json_pack("{s:s, s:s, s:I}", "identity", kind, "id", id, "seconds",
                         (json_int_t)o->seconds);
        if (body != NULL && o->note != NULL) {
            json_object_set_new(body, "note", json_string(o->note));
        }
        rc = cli_admin_call(a, "POST", "/admin/v1/bans", body, &resp);
        if (rc == CLI_OK) {
            cli_json_line(json_object_get(resp, "ban"));
        }
    } else {
        snprintf(path, sizeof(path), "/admin/v1/bans/%s/%s", kind, id);
        rc = cli_admin_call(a, "DELETE", path, NULL, &resp);
        if (rc == CLI_OK) {
            printf("removed %s:%s\n", kind, id);
        }
    }
    json_decref(body);
    json_decref(resp);
    return rc;
}

int cmd_ban(int argc, char **argv)
{
    static const struct option opts[] = {CLI_ADMIN_LONGOPTS,
                                         {"ip", required_argument, NULL, 'i'},
                                         {"hotkey", required_argument, NULL, 'k'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {"note", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    cli_admin a = {.cmd = "ban"};
    ban_opts o = {0};
    const char *verb, *kind = NULL, *id = NULL;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o.ip = optarg;
            break;
        case 'k':
            o.hotkey = optarg;
            break;
        case 'n':
            o.note = optarg;
            break;
        case 's':
            if (!cli_parse_u64(optarg, &o.seconds) || o.seconds > (1ull << 53) / 1000u) {
                return cli_usage_error("ban", "--seconds takes a number of seconds");
            }
            break;
        case 'h':
            help();
            return CLI_OK;
        default:
            if (!cli_admin_opt(&a, c, optarg)) {
                return cli_usage_error("ban", "unknown option");
            }
        }
    }
    if (argc - optind != 1) {
        return cli_usage_error("ban", "give one of ls, add and rm");
    }
    verb = argv[optind];
    if (strcmp(verb, "ls") == 0) {
        if (o.ip || o.hotkey || o.note || o.seconds) {
            return cli_usage_error("ban", "ls takes no --ip, --hotkey, --seconds or --note");
        }
    } else if (strcmp(verb, "add") == 0 || strcmp(verb, "rm") == 0) {
        rc = cli_ident_args("ban", o.ip, o.hotkey, &kind, &id);
        if (rc != CLI_OK) {
            return rc;
        }
        if (strcmp(verb, "rm") == 0 && (o.note || o.seconds)) {
            return cli_usage_error("ban", "rm takes no --seconds or --note");
        }
    } else {
        return cli_usage_error("ban", "'%s' is not ls, add or rm", verb);
    }
    rc = cli_admin_open(&a);
    if (rc == CLI_OK) {
        rc = cli_admin_probe(&a);
        if (rc == CLI_OK) {
            rc = online(&a, verb, &o, kind, id);
        } else if (a.refused) {
            rc = offline(&a, verb, &o, kind, id);
        }
    }
    cli_admin_close(&a);
    return rc;
}

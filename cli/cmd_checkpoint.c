/* tally checkpoint and tally key: the latest signed note, and the node's verifier key. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

static int only_dir(const char *cmd, int argc, char **argv, const char *usage, const char **dir)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;

    *dir = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd') {
            *dir = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else {
            return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    *dir = cli_dir(*dir);
    return CLI_OK;
}

int cmd_checkpoint(int argc, char **argv)
{
    const char *dir;
    store_log *log;
    schema_sth sth;
    char note[1024];
    size_t n;
    tally_status st;
    int rc = only_dir("checkpoint", argc, argv,
                      "usage: tally checkpoint [--dir DIR]\n\n"
                      "Prints the latest checkpoint, a C2SP signed note (c2sp.org/tlog-checkpoint),\n"
                      "byte for byte as it is served at /log/checkpoint.\n",
                      &dir);

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    rc = cli_open("checkpoint", dir, true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    st = store_sth_latest(log, &sth);
    if (st == TALLY_OK) {
        st = store_note(&sth, note, sizeof(note), &n);
    }
    store_close(log);
    if (st != TALLY_OK) {
        return cli_fail("checkpoint", st, "no signed tree head");
    }
    fwrite(note, 1, n, stdout);
    return CLI_OK;
}

int cmd_key(int argc, char **argv)
{
    const char *dir;
    store_log *log;
    uint8_t pk[32];
    char hex[65], vkey[256];
    tally_status st;
    int rc = only_dir("key", argc, argv,
                      "usage: tally key [--dir DIR]\n\n"
                      "Prints the log's origin and node public key, then on its last line the\n"
                      "verifier key in C2SP form: <origin>+<hex key id>+<base64(0x01 || key)>.\n",
                      &dir);

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    rc = cli_open("key", dir, true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    store_node_pubkey(log, pk);
    schema_hex(pk, 32, hex);
    st = store_vkey(store_origin(log), pk, vkey, sizeof(vkey));
    if (st == TALLY_OK) {
        printf("origin %s\nnode key %s\n%s\n", store_origin(log), hex, vkey);
    }
    store_close(log);
    return st == TALLY_OK ? CLI_OK : cli_fail("key", st, "cannot format the verifier key");
}

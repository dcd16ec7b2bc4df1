/* tally checkpoint and tally key: the latest signed note, and the node's verifier key. */
#include <string.h>

#include "cli/cli.h"

int cmd_checkpoint(int argc, char **argv)
{
    const char *dir;
    store_log *log;
    schema_sth sth;
    char note[1024];
    size_t n;
    tally_status st;
    int rc = cli_dir_opts("checkpoint", argc, argv,
                      "usage: tally checkpoint [--dir DIR]\n\n"
                      "Prints the latest checkpoint, a C2SP signed note (c2sp.org/tlog-checkpoint),\n"
                      "byte for byte as it is served at /log/checkpoint.\n",
                      0, &dir);

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
    int rc = cli_dir_opts("key", argc, argv,
                      "usage: tally key [--dir DIR]\n\n"
                      "Prints the log's origin and node public key, then on its last line the\n"
                      "verifier key in C2SP form: <origin>+<hex key id>+<base64(0x01 || key)>.\n",
                      0, &dir);

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

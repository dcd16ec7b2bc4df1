/* tally keygen: a new Ed25519 key file for a miner or an auditor (or a node, before init). */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally keygen [--out FILE] [--seed HEX64]\n\n"
           "Writes a new Ed25519 key (a 32-byte seed, mode 0600) to FILE (default ./tally.key),\n"
           "never replacing an existing file, and prints its public key and the chain\n"
           "commitment that binds it to a hotkey (protocol §1):\n\n"
           "  key 79b5…9664\n"
           "  commitment tally1:79b5…9664\n\n"
           "Set the commitment with the hotkey the key is for; the chain feeder copies it into\n"
           "the next METAGRAPH. Use the file with 'tally sign', 'tally submit' or 'tally audit'.\n\n"
           "  --out FILE   where to write the key (default ./tally.key)\n"
           "  --seed HEX64 a fixed seed, for reproducible tests only\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = "tally.key", *seed_hex = NULL;
    char detail[STORE_DETAIL_MAX] = "", hex[65];
    uint8_t seed[32], pk[32];
    tally_status st;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's': seed_hex = optarg; break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("keygen", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("keygen", "unexpected argument %s", argv[optind]);
    }
    if (seed_hex != NULL &&
        (strlen(seed_hex) != 64 || schema_unhex(seed_hex, 64, seed, 32) != TALLY_OK)) {
        return cli_usage_error("keygen", "--seed takes 64 lower-case hex digits");
    }
    st = store_key_create(out, seed_hex ? seed : NULL, pk, detail);
    if (st != TALLY_OK) {
        return cli_fail("keygen", st, "%s", detail);
    }
    schema_hex(pk, 32, hex);
    printf("key %s\ncommitment tally1:%s\nfile %s\n", hex, hex, out);
    return CLI_OK;
}

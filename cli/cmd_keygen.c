/* tally keygen: a new Ed25519 key file for a miner or an auditor (or a node, before init). */
#include <getopt.h>
#include <sodium.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/sim.h"

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
           "  --seed HEX64 a fixed seed, for reproducible tests only\n\n"
           "For benchmarks and tests only: --sim-validator K [--sim-seed S] [--sim-miners M]\n"
           "writes the key of validator K (0 or 1) of `tally simulate --seed S --miners M`\n"
           "(defaults 1 and 64): the key its METAGRAPHs bind with a permit and stake, so\n"
           "`tally audit` can run as that validator against a simulated log.\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"sim-validator", required_argument, NULL, 'V'},
                                         {"sim-seed", required_argument, NULL, 'S'},
                                         {"sim-miners", required_argument, NULL, 'M'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = "tally.key", *seed_hex = NULL, *sim_k = NULL;
    uint64_t sim_seed = 1, sim_miners = 64;
    char detail[STORE_DETAIL_MAX] = "", hex[65];
    uint8_t seed[32], pk[32];
    tally_status st;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's': seed_hex = optarg; break;
        case 'V': sim_k = optarg; break;
        case 'S':
            if (!cli_parse_u64(optarg, &sim_seed)) {
                return cli_usage_error("keygen", "--sim-seed takes an integer");
            }
            break;
        case 'M':
            if (!cli_parse_u64(optarg, &sim_miners)) {
                return cli_usage_error("keygen", "--sim-miners takes an integer");
            }
            break;
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
    if (sim_k != NULL) {
        uint64_t k;
        if (seed_hex != NULL) {
            return cli_usage_error("keygen", "--seed and --sim-validator exclude each other");
        }
        if (!cli_parse_u64(sim_k, &k) || k >= SIM_VALIDATORS || sim_miners > SIM_MINERS_MAX ||
            sim_validator_seed(sim_seed, (unsigned)sim_miners, (unsigned)k, seed) != TALLY_OK) {
            return cli_usage_error("keygen", "--sim-validator takes 0..%u and --sim-miners "
                                   "1..%u", SIM_VALIDATORS - 1, SIM_MINERS_MAX);
        }
        seed_hex = "";
    }
    st = store_key_create(out, seed_hex ? seed : NULL, pk, detail);
    sodium_memzero(seed, sizeof(seed));
    if (st != TALLY_OK) {
        return cli_fail("keygen", st, "%s", detail);
    }
    schema_hex(pk, 32, hex);
    printf("key %s\ncommitment tally1:%s\nfile %s\n", hex, hex, out);
    return CLI_OK;
}

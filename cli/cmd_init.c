/* tally init: a new log with its node key and GENESIS record. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally init [--dir DIR] [--origin ORIGIN] [--netuid N] [--hotkey SS58]\n"
           "                  [--key-seed HEX64] [--map-size BYTES]\n\n"
           "Creates a new log in DIR (made if missing): a fresh Ed25519 node key in DIR/node.key\n"
           "(mode 0600) and the GENESIS record with protocol-default parameters.\n\n"
           "  --origin ORIGIN   log origin, ascii without '+' (default tally.local/<netuid>)\n"
           "  --netuid N        subnet id (default 1)\n"
           "  --hotkey SS58     the validator's hotkey (default: the node key's bytes)\n"
           "  --key-seed HEX64  node key seed, for reproducible test logs only\n"
           "  --map-size BYTES  LMDB map size, the log's largest size (default 64 GiB)\n");
}

/* GENESIS with no parameters (every key takes its protocol default) and neutral chain params. */
static void genesis_body(schema_body *b, const char *origin, uint64_t netuid, const uint8_t hk[32],
                         uint64_t now)
{
    memset(b, 0, sizeof(*b));
    b->type = SCHEMA_GENESIS;
    b->u.genesis.origin = (tally_str){origin, strlen(origin)};
    b->u.genesis.netuid = netuid;
    memcpy(b->u.genesis.node_hotkey, hk, 32);
    b->u.genesis.created_ms = now;
    b->u.genesis.code_version = (tally_str){SCHEMA_CODE_VERSION, strlen(SCHEMA_CODE_VERSION)};
    b->u.genesis.chain = (schema_chain_params){.netuid = netuid,
                                               .tempo = 360,
                                               .max_weight_limit = 65535,
                                               .min_allowed_weights = 1,
                                               .max_allowed_uids = 256};
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},    {"origin", required_argument, NULL, 'o'},
        {"netuid", required_argument, NULL, 'n'}, {"hotkey", required_argument, NULL, 'k'},
        {"key-seed", required_argument, NULL, 's'}, {"map-size", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *origin = NULL, *hotkey = NULL, *seed_hex = NULL;
    char origin_buf[64], vkey[256], detail[STORE_DETAIL_MAX] = "";
    uint64_t netuid = 1, map = 0, first;
    uint8_t seed[32], hk[32], pk[32];
    store_cfg cfg = {0};
    store_log *log;
    schema_body gb;
    ledger_batch batch = LEDGER_BATCH_INIT;
    struct timespec ts;
    tally_status st;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'o': origin = optarg; break;
        case 'k': hotkey = optarg; break;
        case 's': seed_hex = optarg; break;
        case 'n':
            if (!cli_parse_u64(optarg, &netuid) || netuid > 65535) {
                return cli_usage_error("init", "--netuid takes 0..65535");
            }
            break;
        case 'm':
            if (!cli_parse_u64(optarg, &map) || map < (1u << 20)) {
                return cli_usage_error("init", "--map-size takes a byte count of at least 1 MiB");
            }
            break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("init", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
    }
    dir = cli_dir(dir);
    if (origin == NULL) {
        snprintf(origin_buf, sizeof(origin_buf), "tally.local/%llu", (unsigned long long)netuid);
        origin = origin_buf;
    }
    if (seed_hex != NULL && schema_unhex(seed_hex, strlen(seed_hex), seed, 32) != TALLY_OK) {
        return cli_usage_error("init", "--key-seed takes 64 lower-case hex digits");
    }
    if (hotkey != NULL && schema_ss58_decode(hotkey, hk) != TALLY_OK) {
        return cli_usage_error("init", "--hotkey is not an SS58 address with prefix 42");
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return cli_fail("init", TALLY_EIO, "cannot create %s", dir);
    }
    cfg = (store_cfg){.dir = dir, .create = true, .origin = origin,
                      .key_seed = seed_hex ? seed : NULL, .map_size = map ? map : cli_map_size(),
                      .detail = detail};
    st = store_open(&cfg, &log);
    if (st != TALLY_OK) {
        return cli_fail("init", st, "%s", detail[0] ? detail : "cannot create the log");
    }
    store_node_pubkey(log, pk);
    clock_gettime(CLOCK_REALTIME, &ts);
    genesis_body(&gb, origin, netuid, hotkey ? hk : pk,
                 (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
    st = ledger_batch_node(&batch, log, &gb, 0);
    if (st == TALLY_OK) {
        st = ledger_batch_flush(&batch, log, &first);
    }
    ledger_batch_release(&batch);
    if (st == TALLY_OK) {
        st = store_vkey(origin, pk, vkey, sizeof(vkey));
    }
    store_close(log);
    if (st != TALLY_OK) {
        return cli_fail("init", st, "cannot write GENESIS");
    }
    printf("created a tally log in %s\norigin %s\n%s\n", dir, origin, vkey);
    return CLI_OK;
}

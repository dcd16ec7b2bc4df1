/* tally proof: an inclusion proof as a c2sp.org/tlog-proof@v1 file, or a consistency proof. */
#include <getopt.h>
#include <sodium.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally proof [--dir DIR] --index I\n"
           "       tally proof [--dir DIR] --consistency OLDSIZE\n\n"
           "--index I prints a c2sp.org/tlog-proof@v1 file proving that record I is in the tree\n"
           "of the latest checkpoint: the header line, 'index I', the RFC 9162 inclusion path\n"
           "(one base64 hash a line), a blank line, then the signed checkpoint note.\n\n"
           "--consistency OLDSIZE prints the RFC 9162 consistency proof from the tree of\n"
           "OLDSIZE records to the latest checkpoint, one base64 hash a line.\n");
}

static void print_path(uint8_t (*path)[32], size_t n)
{
    char b64[64];

    for (size_t i = 0; i < n; i++) {
        sodium_bin2base64(b64, sizeof(b64), path[i], 32, sodium_base64_VARIANT_ORIGINAL);
        printf("%s\n", b64);
    }
}

int cmd_proof(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"index", required_argument, NULL, 'i'},
                                         {"consistency", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    uint64_t index = 0, old = 0;
    bool has_index = false, has_old = false;
    uint8_t path[STORE_PROOF_MAX][32];
    char note[1024];
    size_t n = 0, nn = 0;
    store_log *log;
    schema_sth sth;
    tally_status st;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'i':
            if (!cli_parse_u64(optarg, &index)) {
                return cli_usage_error("proof", "--index takes a record number");
            }
            has_index = true;
            break;
        case 'c':
            if (!cli_parse_u64(optarg, &old) || old == 0) {
                return cli_usage_error("proof", "--consistency takes a tree size of at least 1");
            }
            has_old = true;
            break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("proof", "unknown option");
        }
    }
    if (optind != argc || has_index == has_old) {
        return cli_usage_error("proof", "give exactly one of --index or --consistency");
    }
    rc = cli_open("proof", cli_dir(dir), true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    st = store_sth_latest(log, &sth);
    if (st == TALLY_OK && has_index && index >= sth.tree_size) {
        store_close(log);
        return cli_fail("proof", TALLY_EINVAL, "record %llu is beyond the latest checkpoint (size %llu)",
                        (unsigned long long)index, (unsigned long long)sth.tree_size);
    }
    if (st == TALLY_OK && has_old && old > sth.tree_size) {
        store_close(log);
        return cli_fail("proof", TALLY_EINVAL, "size %llu is beyond the latest checkpoint (size %llu)",
                        (unsigned long long)old, (unsigned long long)sth.tree_size);
    }
    if (st == TALLY_OK) {
        st = has_index ? store_proof_inclusion(log, index, sth.tree_size, path, &n)
                       : store_proof_consistency(log, old, sth.tree_size, path, &n);
    }
    if (st == TALLY_OK && has_index) {
        st = store_note(&sth, note, sizeof(note), &nn);
    }
    store_close(log);
    if (st != TALLY_OK) {
        return cli_fail("proof", st, "cannot build the proof");
    }
    if (has_index) {
        printf("c2sp.org/tlog-proof@v1\nindex %llu\n", (unsigned long long)index);
        print_path(path, n);
        printf("\n");
        fwrite(note, 1, nn, stdout);
    } else {
        print_path(path, n);
    }
    return CLI_OK;
}

/* tally stats: record counts and bytes stored. */
#include "cli/cli.h"

int cmd_stats(int argc, char **argv)
{
    const char *dir;
    store_stats s;
    store_log *log;
    tally_status st;
    int rc = cli_dir_opts("stats", argc, argv,
                          "usage: tally stats [--dir DIR]\n\nPrints the tree size, records by "
                          "type, the raw bytes of headers and bodies, what packs and the unpacked "
                          "tail take,\ntiles and tree heads (payload bytes, keys included), and "
                          "the LMDB map use.\n",
                          0, &dir);

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    rc = cli_open("stats", dir, true, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    st = store_stats_get(log, &s);
    store_close(log);
    if (st != TALLY_OK) {
        return cli_fail("stats", st, "cannot read the log");
    }
    printf("tree size        %llu records\n", (unsigned long long)s.size);
    for (unsigned t = 0; t < 36; t++) {
        if (s.by_type[t] > 0) {
            printf("  %-18s %llu\n", schema_type_name(t), (unsigned long long)s.by_type[t]);
        }
    }
    printf("tree heads       %llu\n", (unsigned long long)s.sths);
    printf("raw records      %llu bytes of headers, %llu bytes of bodies\n",
           (unsigned long long)s.header_raw_bytes, (unsigned long long)s.body_raw_bytes);
    printf("packs            %llu (256 records each, zstd), %llu bytes\n",
           (unsigned long long)s.packs, (unsigned long long)s.pack_bytes);
    printf("tail             %llu bytes of headers, %llu bodies in %llu bytes (not yet packed)\n",
           (unsigned long long)s.log_bytes, (unsigned long long)s.bodies,
           (unsigned long long)s.body_bytes);
    printf("tiles            %llu bytes\n", (unsigned long long)s.tile_bytes);
    printf("tree heads       %llu bytes\n", (unsigned long long)s.sth_bytes);
    printf("map              %llu of %llu bytes used\n", (unsigned long long)s.map_used,
           (unsigned long long)s.map_size);
    return CLI_OK;
}

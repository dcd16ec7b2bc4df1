/* Writes seed corpora for the fuzz targets from the sample records of every type:
 * make_corpus tests/fuzz/corpus */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema/schema.h"
#include "store/store.h"
#include "util/samples.h"

static void put(const char *dir, const char *sub, int i, const void *p, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/seed%03d", dir, sub, i);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    uint8_t body[4096], rec[4100], hb[256], pk[32], sk[64], seed[32] = {3};
    int k = 0;

    if (argc != 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: make_corpus OUTDIR\n");
        return 2;
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    for (int t = 0; t < 18; t++) {
        for (int v = 0; v < 2; v++, k++) {
            schema_body b;
            schema_header h;
            size_t n, hn;
            char *json, line[8192];
            tu_sample(tu_types[t], v, &b);
            if (schema_body_encode(&b, body, sizeof(body), &n) != TALLY_OK) {
                return 1;
            }
            rec[0] = (uint8_t)t;
            memcpy(rec + 1, body, n);
            put(argv[1], "record", k, rec, n + 1);
            if (schema_header_init(&b, body, n, pk, &h) != TALLY_OK ||
                schema_record_sign(&h, (tally_str){"tally.sim/57", 12}, sk) != TALLY_OK) {
                return 1;
            }
            h.time_ms = 1767225600000ull + (unsigned)k;
            if (schema_header_encode(&h, hb, sizeof(hb), &hn) != TALLY_OK) {
                return 1;
            }
            put(argv[1], "header", k, hb, hn);
            if (schema_body_to_json(&b, &json) != TALLY_OK) {
                return 1;
            }
            snprintf(line, sizeof(line), "{\"type\":\"%s\",\"body\":%s}", schema_type_name(b.type),
                     json);
            put(argv[1], "json", k, line, strlen(line));
            free(json);
        }
    }
    {
        const char note[] = "tally.sim/57\n18315\nbfJ9AyNEsyscR2qKO7oJfSNXI3pqrUiwualflMuXrLI=\n\n"
                            "\xe2\x80\x94 tally.sim/57 2BaRdHcYhUfgF/N8fI0dZ7KEiWxtp4za/4MxL8MxxGvPDis"
                            "uMa9p2BvGkBqWJN1k5XDolMxDbyEMTweugihaZ2Pl2gI=\n";
        put(argv[1], "note", 0, note, strlen(note));
    }
    return 0;
}

/* Header and STH decoders: accepted input re-encodes to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t again[SCHEMA_STH_MAX];
    schema_header h;
    schema_sth s;
    size_t n;

    if (schema_header_decode(data, size, &h) == TALLY_OK) {
        if (schema_header_encode(&h, again, sizeof(again), &n) != TALLY_OK || n != size ||
            memcmp(again, data, n) != 0) {
            abort();
        }
    }
    if (schema_sth_decode(data, size, &s) == TALLY_OK) {
        if (schema_sth_encode(&s, again, sizeof(again), &n) != TALLY_OK || n != size ||
            memcmp(again, data, n) != 0) {
            abort();
        }
    }
    return 0;
}

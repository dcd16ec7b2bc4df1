/* wire_records_decode (the msgpack answer of /v1/records, read by the auditor): anything
 * accepted is the canonical encoding of what was decoded, byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_records r;
    schema_mpw w;
    uint8_t *again = NULL;
    size_t n;

    if (wire_records_decode(data, size, &r) != TALLY_OK) {
        return 0;
    }
    schema_mpw_init(&w, 80u << 20);
    schema_mpw_array(&w, 3);
    schema_mpw_uint(&w, r.from);
    schema_mpw_uint(&w, r.to);
    schema_mpw_array(&w, r.n);
    for (size_t i = 0; i < r.n; i++) {
        schema_mpw_array(&w, 2);
        schema_mpw_bin(&w, r.entries[i].header.p, r.entries[i].header.n);
        if (r.entries[i].has_body) {
            schema_mpw_bin(&w, r.entries[i].body.p, r.entries[i].body.n);
        } else {
            schema_mpw_nil(&w);
        }
    }
    if (schema_mpw_finish(&w, &again, &n) != TALLY_OK || n != size ||
        memcmp(again, data, size) != 0) {
        abort();
    }
    free(again);
    wire_records_release(&r);
    return 0;
}

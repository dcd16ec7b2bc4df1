/* wire_delta_decode: anything accepted re-encodes to exactly the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_delta d;
    schema_sth sth;
    uint8_t *again = NULL;
    size_t n;

    if (wire_delta_decode(data, size, &d, &sth) != TALLY_OK) {
        return 0;
    }
    if (wire_delta_encode(&d, &again, &n) != TALLY_OK || n != size ||
        memcmp(again, data, size) != 0) {
        abort();
    }
    free(again);
    wire_delta_release(&d);
    return 0;
}

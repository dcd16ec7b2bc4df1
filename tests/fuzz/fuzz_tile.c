/* wire_tile_parse: anything accepted formats back to exactly the same path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_tile t;
    char buf[WIRE_TILE_PATH_MAX];
    size_t n;

    if (wire_tile_parse((const char *)data, size, &t) != TALLY_OK) {
        return 0;
    }
    if (wire_tile_format(&t, buf, sizeof(buf), &n) != TALLY_OK || n != size ||
        memcmp(buf, data, size) != 0) {
        abort();
    }
    return 0;
}

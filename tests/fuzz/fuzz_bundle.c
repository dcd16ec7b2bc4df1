/* wire_bundle_decode: the first byte picks the width; whatever is accepted re-encodes to exactly
 * the input (every byte covered by the entries, none left over). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tally_bytes e[256];
    unsigned width;
    size_t off = 0;

    if (size < 1) {
        return 0;
    }
    width = (unsigned)data[0] + 1;
    if (wire_bundle_decode(data + 1, size - 1, width, e) != TALLY_OK) {
        return 0;
    }
    for (unsigned i = 0; i < width; i++) {
        const uint8_t *p = data + 1 + off;
        if (p[0] != (uint8_t)(e[i].n >> 8) || p[1] != (uint8_t)e[i].n ||
            (e[i].n > 0 && (e[i].p != p + 2 || memcmp(e[i].p, p + 2, e[i].n) != 0))) {
            abort();
        }
        off += 2 + e[i].n;
    }
    if (off != size - 1) {
        abort();
    }
    return 0;
}

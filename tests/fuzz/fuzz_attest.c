/* wire_attest_parse: no input crashes it; an accepted request rebuilds to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[32] = {1};
    tally_str origin = {"tally.local/1", 13};
    tally_bytes body;
    schema_body b;
    schema_header h;
    wire_fail wf;
    uint8_t *again = NULL;
    size_t n;

    if (wire_attest_parse(origin, key, data, size, &body, &b, &h, &wf) != TALLY_OK) {
        return 0;
    }
    if (wire_attest_build(body.p, body.n, h.actor_sig, &again, &n) != TALLY_OK || n != size ||
        memcmp(again, data, size) != 0) {
        abort();
    }
    free(again);
    schema_body_release(&b);
    return 0;
}

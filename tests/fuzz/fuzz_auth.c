/* The ledger's outside text: the JSON bodies of /v1/auth/challenge and /token, the bearer header and the ledger
 * query strings. The first byte picks the parser; none may crash, and an accepted query names
 * only its keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t key[32];
    wire_token_req tr;
    wire_fail wf;
    char *s;

    if (size == 0) {
        return 0;
    }
    s = malloc(size);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0:
        (void)!wire_challenge_req_parse(s, size - 1, key, &wf);
        break;
    case 1:
        (void)!wire_token_req_parse(s, size - 1, &tr, &wf);
        break;
    case 2:
        (void)!wire_bearer_parse(s, key);
        break;
    default: {
        wire_qparam q[4] = {{.key = "from", .max = UINT64_MAX},
                            {.key = "to", .max = UINT64_MAX},
                            {.key = "auditor", .hex32 = true},
                            {.key = "limit", .max = 500}};
        if (wire_query_params(s, q, 4, &wf) == TALLY_OK && q[3].present && q[3].u > 500) {
            abort();
        }
        break;
    }
    }
    free(s);
    return 0;
}

/* Body decoder: the first byte picks the record type, the rest is the body. Anything accepted
 * must re-encode to exactly the same bytes, and survive its JSON view both ways. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned types[18] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 32, 33, 34, 35};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t again[SCHEMA_BODY_MAX];
    schema_body b, j;
    size_t n;
    char *json = NULL;
    unsigned type;

    if (size < 1) {
        return 0;
    }
    type = types[data[0] % 18];
    /* without err the decoder validates in its one walk, with err in a second one (to name the
     * field): both must give the same verdict */
    {
        schema_field_error err;
        tally_status one = schema_body_decode(type, data + 1, size - 1, &b);
        tally_status two = schema_body_decode_ex(type, data + 1, size - 1, &j, &err);
        if (one != two) {
            abort();
        }
        schema_body_release(&j);
        if (one != TALLY_OK) {
            return 0; /* rejecting is fine; crashing is not */
        }
    }
    /* and the encoder that validates as it writes agrees with the validator */
    if (schema_body_check(&b, NULL) != TALLY_OK) {
        abort();
    }
    if (schema_body_encode(&b, again, sizeof(again), &n) != TALLY_OK || n != size - 1 ||
        memcmp(again, data + 1, n) != 0) {
        abort();
    }
    if (schema_body_to_json(&b, &json) != TALLY_OK ||
        schema_body_from_json(type, json, strlen(json), NULL, &j, NULL) != TALLY_OK ||
        schema_body_encode(&j, again, sizeof(again), &n) != TALLY_OK || n != size - 1 ||
        memcmp(again, data + 1, n) != 0) {
        abort();
    }
    free(json);
    schema_body_release(&j);
    schema_body_release(&b);
    return 0;
}

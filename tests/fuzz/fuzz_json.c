/* The JSON input of `tally append`: accepted lines give bodies that encode canonically and
 * decode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[SCHEMA_BODY_MAX], again[SCHEMA_BODY_MAX];
    static const uint8_t salt[16] = {1};
    schema_json_input in;
    schema_body d;
    size_t n, m;
    schema_field_error err;

    if (schema_input_from_json((const char *)data, size, salt, &in, &err) != TALLY_OK) {
        return 0;
    }
    if (schema_body_encode(&in.body, buf, sizeof(buf), &n) == TALLY_OK) {
        if (schema_body_decode(in.body.type, buf, n, &d) != TALLY_OK ||
            schema_body_encode(&d, again, sizeof(again), &m) != TALLY_OK || m != n ||
            memcmp(buf, again, n) != 0) {
            abort();
        }
        schema_body_release(&d);
    }
    schema_body_release(&in.body);
    return 0;
}

/* Checkpoint states from outside (a peer's or a damaged file): neither engine_load nor
 * engine_rules_from_state (the rules' section) reads out of bounds or crashes, and what they
 * accept frees cleanly; on failure nothing half-made is handed out. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No log behind the fuzzer: a state naming an unrevealed submission fails to load. */
static tally_status no_fetch(uint64_t seq, void *arg, schema_header *h, schema_body *b)
{
    (void)seq, (void)arg, (void)h, (void)b;
    return TALLY_ENOTFOUND;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    engine *e = NULL;
    engine_rules *r = NULL;

    if (engine_rules_from_state(data, size, &r) == TALLY_OK) {
        if (r == NULL) {
            abort();
        }
        engine_rules_free(r);
    } else if (r != NULL) {
        abort();
    }
    if (engine_load(data, size, no_fetch, NULL, &e) == TALLY_OK) {
        if (e == NULL) {
            abort();
        }
        engine_free(e);
    } else if (e != NULL) {
        abort(); /* fail closed: nothing half-made on failure */
    }
    return 0;
}

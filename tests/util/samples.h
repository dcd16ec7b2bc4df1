/* One valid body of every record type, in two variants (0: nils and small values, 1: every
 * optional field present and values in their widest forms), for known-answer, property,
 * truncation and fuzz-seed tests. The bodies point at static memory: no release needed. */
#ifndef TALLY_TESTS_SAMPLES_H
#define TALLY_TESTS_SAMPLES_H

#include "schema/schema.h"

extern const unsigned tu_types[18];
void tu_sample(unsigned type, int variant, schema_body *out);

#endif

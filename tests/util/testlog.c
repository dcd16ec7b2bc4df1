#include "util/testlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t seed[32] = {7, 7, 7};

store_log *tl_create(const char *dir, size_t map_size)
{
    store_cfg cfg = {.dir = dir, .create = true, .origin = "test.tally/1", .key_seed = seed,
                     .map_size = map_size};
    store_log *log;

    if (store_open(&cfg, &log) != TALLY_OK) {
        fprintf(stderr, "tl_create: cannot create a log in %s\n", dir);
        abort();
    }
    return log;
}

static void build(store_log *log, const schema_body *b, uint8_t *buf, size_t cap, store_input *in)
{
    size_t n;
    uint8_t pk[32];

    store_node_pubkey(log, pk);
    if (schema_body_encode(b, buf, cap, &n) != TALLY_OK ||
        schema_header_init(b, buf, n, pk, &in->header) != TALLY_OK ||
        store_node_sign(log, &in->header) != TALLY_OK) {
        abort();
    }
    in->header.time_ms = 1767225600000ull;
    in->body = buf;
    in->body_len = n;
}

void tl_event(store_log *log, uint64_t id, uint8_t *buf, size_t cap, store_input *in)
{
    schema_body b = {.type = SCHEMA_EVENT};

    b.u.event = (schema_event){.event_id = id,
                               .sport = {"soccer", 6},
                               .league = {"EPL", 3},
                               .home_team = {"Home", 4},
                               .away_team = {"Away", 4},
                               .start_ms = 1767300000000ull + id,
                               .status = SCHEMA_SCHEDULED};
    build(log, &b, buf, cap, in);
}

static void genesis(store_log *log, uint8_t *buf, size_t cap, store_input *in)
{
    schema_body b = {.type = SCHEMA_GENESIS};

    b.u.genesis.origin = (tally_str){"test.tally/1", 12};
    b.u.genesis.netuid = 1;
    b.u.genesis.code_version = (tally_str){"test", 4};
    b.u.genesis.chain = (schema_chain_params){.netuid = 1, .tempo = 360, .max_weight_limit = 65535,
                                              .min_allowed_weights = 1, .max_allowed_uids = 256};
    build(log, &b, buf, cap, in);
}

void tl_fill(store_log *log, uint64_t total, size_t per)
{
    store_input *in = calloc(per, sizeof(*in));
    uint8_t *bufs = malloc(per * 256);
    uint64_t size = store_size(log), first;

    while (size < total) {
        size_t k = 0;
        while (k < per && size + k < total) {
            if (size + k == 0) {
                genesis(log, bufs + 256 * k, 256, &in[k]);
            } else {
                tl_event(log, size + k, bufs + 256 * k, 256, &in[k]);
            }
            k++;
        }
        if (store_append(log, in, k, &first) != TALLY_OK || first != size) {
            fprintf(stderr, "tl_fill: append failed\n");
            abort();
        }
        size += k;
    }
    free(in);
    free(bufs);
}

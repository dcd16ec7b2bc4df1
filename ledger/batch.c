/* Records built, signed and gathered for one append. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

tally_status ledger_batch_raw(ledger_batch *b, const schema_header *h, const uint8_t *body, size_t n)
{
    uint8_t *copy;

    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        store_input *grown = realloc(b->in, cap * sizeof(*grown));
        if (grown == NULL) {
            return TALLY_ENOMEM;
        }
        b->in = grown, b->cap = cap;
    }
    copy = malloc(n ? n : 1);
    if (copy == NULL) {
        return TALLY_ENOMEM;
    }
    memcpy(copy, body, n);
    b->in[b->n].header = *h;
    b->in[b->n].body = copy;
    b->in[b->n].body_len = n;
    b->n++;
    return TALLY_OK;
}

static tally_status batch_add(ledger_batch *b, store_log *log, const schema_body *body,
                              const uint8_t *pk, const uint8_t *sk, uint64_t time_ms)
{
    uint8_t buf[SCHEMA_BODY_MAX], node_pk[32];
    tally_str origin = {store_origin(log), strlen(store_origin(log))};
    schema_header h;
    size_t n;
    tally_status st;

    if (pk == NULL) {
        store_node_pubkey(log, node_pk);
    }
    /* the node's own records are signed by the store, which holds the node key */
    st = schema_record_build(body, pk ? pk : node_pk, pk ? sk : NULL, origin, time_ms, buf,
                             sizeof(buf), &n, &h);
    if (st == TALLY_OK && pk == NULL) {
        st = store_node_sign(log, &h);
        h.time_ms = time_ms;
    }
    return st == TALLY_OK ? ledger_batch_raw(b, &h, buf, n) : st;
}

tally_status ledger_batch_node(ledger_batch *b, store_log *log, const schema_body *body, uint64_t time_ms)
{
    return batch_add(b, log, body, NULL, NULL, time_ms);
}

tally_status ledger_batch_signed(ledger_batch *b, store_log *log, const schema_body *body,
                              const uint8_t pk[32], const uint8_t sk[64], uint64_t time_ms)
{
    return batch_add(b, log, body, pk, sk, time_ms);
}

static void batch_clear(ledger_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free((void *)(uintptr_t)b->in[i].body);
    }
    b->n = 0;
}

tally_status ledger_batch_flush(ledger_batch *b, store_log *log, uint64_t *first_out)
{
    tally_status st = TALLY_OK;

    *first_out = store_size(log);
    if (b->n > 0) {
        st = store_append(log, b->in, b->n, first_out);
    }
    batch_clear(b);
    return st;
}

void ledger_batch_release(ledger_batch *b)
{
    batch_clear(b);
    free(b->in);
    b->in = NULL;
    b->cap = 0;
}

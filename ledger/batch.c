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
    schema_header h;
    size_t n;
    tally_status st = schema_body_encode(body, buf, sizeof(buf), &n);

    if (st != TALLY_OK) {
        return st;
    }
    if (pk == NULL) {
        store_node_pubkey(log, node_pk);
    }
    st = schema_header_init(body, buf, n, pk ? pk : node_pk, &h);
    if (st == TALLY_OK) {
        st = pk ? schema_record_sign(&h, (tally_str){store_origin(log), strlen(store_origin(log))},
                                     sk)
                : store_node_sign(log, &h);
    }
    if (st != TALLY_OK) {
        return st;
    }
    h.time_ms = time_ms;
    return ledger_batch_raw(b, &h, buf, n);
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

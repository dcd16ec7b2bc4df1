/* The record encoder's msgpack writer against msgpack-c's packer, which it replaced for speed:
 * for every width boundary of unsigned and signed integers, strings, binaries and arrays, a body
 * encodes to exactly the bytes msgpack-c packs for the same values, and decodes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

static const int64_t ints[] = {
    0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295ll, 4294967296ll, INT64_MAX,
    -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769, -2147483647ll,
    -2147483648ll, -2147483649ll, INT64_MIN,
};
static const uint64_t uints[] = {
    0, 127, 128, 255, 256, 65535, 65536, 4294967295u, 4294967296u, UINT64_MAX,
};

/* Encodes b, packs the expected bytes with msgpack-c through pack(), compares, decodes back. */
static void same(const schema_body *b, void (*pack)(msgpack_packer *, const schema_body *))
{
    static uint8_t got[SCHEMA_BODY_MAX];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    schema_body back;
    size_t n;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack(&pk, b);
    assert_int_equal(schema_body_encode(b, got, sizeof(got), &n), TALLY_OK);
    assert_int_equal(n, sb.size);
    assert_memory_equal(got, sb.data, n);
    assert_int_equal(schema_body_decode(b->type, got, n, &back), TALLY_OK);
    schema_body_release(&back);
    /* every buffer one byte too small is a limit, with nothing written past it */
    memset(got, 0xa5, sizeof(got));
    assert_int_equal(schema_body_encode(b, got, n - 1, &n), TALLY_ELIMIT);
    assert_int_equal(got[sb.size - 1], 0xa5);
    msgpack_sbuffer_destroy(&sb);
}

static void pack_score(msgpack_packer *pk, const schema_body *b)
{
    const schema_submission_score *s = &b->u.submission_score;

    msgpack_pack_array(pk, 9);
    msgpack_pack_uint64(pk, s->cycle);
    msgpack_pack_uint64(pk, s->sub_seq);
    msgpack_pack_uint64(pk, s->uid);
    msgpack_pack_uint64(pk, s->market_id);
    msgpack_pack_uint64(pk, s->side);
    msgpack_pack_uint64(pk, s->submitted_at_ms);
    if (s->has_close) {
        msgpack_pack_array(pk, 5);
        msgpack_pack_int64(pk, s->close.clv_odds);
        msgpack_pack_int64(pk, s->close.clv_prob);
        msgpack_pack_int64(pk, s->close.cle);
        msgpack_pack_int64(pk, s->close.mes);
        msgpack_pack_uint64(pk, s->close.minutes_to_close);
    } else {
        msgpack_pack_nil(pk);
    }
    if (s->has_outcome) {
        msgpack_pack_array(pk, 6);
        msgpack_pack_int64(pk, s->outcome.brier);
        msgpack_pack_int64(pk, s->outcome.logloss);
        msgpack_pack_int64(pk, s->outcome.pss);
        msgpack_pack_int64(pk, s->outcome.time_factor);
        msgpack_pack_int64(pk, s->outcome.pss_adj);
        (void)(s->outcome.hit ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    } else {
        msgpack_pack_nil(pk);
    }
    msgpack_pack_bin(pk, 16);
    msgpack_pack_bin_body(pk, s->salt, 16);
}

static void integers(void **state)
{
    size_t ni = sizeof(ints) / sizeof(ints[0]), nu = sizeof(uints) / sizeof(uints[0]);
    (void)state;

    for (size_t i = 0; i < ni; i++) {
        schema_body b = {.type = SCHEMA_SUBMISSION_SCORE};
        schema_submission_score *s = &b.u.submission_score;
        int64_t v = ints[i], w = ints[(i + 7) % ni];
        *s = (schema_submission_score){
            .cycle = (uint64_t)i, .sub_seq = uints[i % nu], .uid = 65535, .market_id = 1,
            .side = 1 + i % 5, .submitted_at_ms = 4294967296u, .has_close = i % 3 != 2,
            .close = {v, w, v / 2, v / 3, (uint64_t)(v < 0 ? 0 : v) & 0xffffffffu},
            .has_outcome = i % 4 != 3, .outcome = {w, v, w / 5, w / 7, v / 9, i % 2 == 0}};
        memset(s->salt, (int)i, 16);
        same(&b, pack_score);
    }
}

static void pack_recompute(msgpack_packer *pk, const schema_body *b)
{
    const schema_recompute *r = &b->u.recompute;

    msgpack_pack_array(pk, 6);
    msgpack_pack_uint64(pk, r->epoch);
    msgpack_pack_uint64(pk, r->reason);
    msgpack_pack_str(pk, r->detail.n);
    msgpack_pack_str_body(pk, r->detail.p, r->detail.n);
    msgpack_pack_array(pk, r->n_affected_events);
    for (size_t i = 0; i < r->n_affected_events; i++) {
        msgpack_pack_uint64(pk, r->affected_events[i]);
    }
    msgpack_pack_uint64(pk, r->severity);
    msgpack_pack_str(pk, r->code_version.n);
    msgpack_pack_str_body(pk, r->code_version.p, r->code_version.n);
}

static void strings_and_arrays(void **state)
{
    static const size_t lens[] = {1, 31, 32, 255, 256, 1024};
    static const size_t counts[] = {0, 1, 15, 16, 255, 1024};
    static char text[1024];
    static uint64_t ids[1024];
    (void)state;

    memset(text, 'a', sizeof(text));
    for (size_t i = 0; i < 1024; i++) {
        ids[i] = 1 + 300 * i; /* ascending, across every integer width up to 16 bits and past */
    }
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
            schema_body b = {.type = SCHEMA_RECOMPUTE};
            b.u.recompute = (schema_recompute){
                .epoch = uints[(i + k) % 10] & 0xffffffffu, .reason = 1 + k % 8,
                .detail = {text, lens[i]}, .affected_events = ids,
                .n_affected_events = counts[k], .severity = 1 + i % 3,
                .code_version = {text, lens[i] < 64 ? lens[i] : 64}};
            same(&b, pack_recompute);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integers),
        cmocka_unit_test(strings_and_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* A body that breaks a rule names the field, by its path, and why (protocol §12 case 14, §8
 * invalid_field): from JSON (what `tally append` and the admin feed read), from msgpack
 * (schema_body_decode_ex, what the ingest API reads) and for a body built by hand
 * (schema_body_check). Fields at every depth: top level, inside a tuple, an array item, a field
 * of an array item, an item of an array inside an array item, and named members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"
#include "util/samples.h"
#include "util/testutil.h"

typedef struct field_case {
    unsigned type;
    int variant;           /* the sample whose JSON view is edited */
    const char *from, *to; /* its first `from` becomes `to` */
    int bad;               /* SCHEMA_BAD_* */
    const char *path;      /* exactly */
    const char *what;      /* a part of the phrase */
} field_case;

static const field_case cases[] = {
    /* top level: text class, length, range */
    {SCHEMA_EVENT, 0, "\"home_team\":\"A\"", "\"home_team\":\"A\\u0007\"", SCHEMA_BAD_TEXT,
     "home_team", "text has a control character U+0007 at byte 1"},
    {SCHEMA_CONFIG_SET, 0, "\"reason\":null", "\"reason\":\"ab\\u0085\"", SCHEMA_BAD_TEXT, "reason",
     "control character U+0085 at byte 2"},
    {SCHEMA_EVENT, 0, "\"sport\":\"soccer\"", "\"sport\":\"soc cer\"", SCHEMA_BAD_TEXT, "sport",
     "byte 3 (0x20) is not one of A-Z a-z 0-9 _ . -"},
    {SCHEMA_EVENT, 1, "\"ext_id\":\"sr:match:12345\"", "\"ext_id\":\"sr match\"", SCHEMA_BAD_TEXT,
     "ext_id", "byte 2 (0x20) is not printable ascii"},
    {SCHEMA_EVENT, 0, "\"league\":\"x\"", "\"league\":\"abcdefghijklmnopq\"", SCHEMA_BAD_LENGTH,
     "league", "text is 17 bytes long; at most 16"},
    {SCHEMA_EVENT, 0, "\"away_team\":\"B\"", "\"away_team\":\"\"", SCHEMA_BAD_LENGTH, "away_team",
     "text is empty"},
    {SCHEMA_EVENT, 0, "\"event_id\":1", "\"event_id\":0", SCHEMA_BAD_RANGE, "event_id",
     "0 is out of range 1..9007199254740991"},
    {SCHEMA_ODDS_SUBMISSION, 1, "\"idx\":199", "\"idx\":200", SCHEMA_BAD_RANGE, "idx",
     "200 is out of range 0..199"},
    /* a field of an array item, an array inside an array item, its items */
    {SCHEMA_ODDS_SUBMISSION, 1, "\"priced_at_ms\":1767225600000",
     "\"priced_at_ms\":9007199254740992", SCHEMA_BAD_RANGE, "markets[1].priced_at_ms",
     "9007199254740992 is out of range 0..9007199254740991"},
    {SCHEMA_ODDS_SUBMISSION, 0, "\"market_id\":90001", "\"market_id\":0", SCHEMA_BAD_RANGE,
     "markets[0].market_id", "0 is out of range 1..9007199254740991"},
    {SCHEMA_ODDS_SUBMISSION, 1, "\"market_id\":90002", "\"market_id\":90001", SCHEMA_BAD_ORDER,
     "markets[1]", "not strictly ascending by market_id after item 0"},
    {SCHEMA_ODDS_SUBMISSION, 0, "{\"side\":\"away\"", "{\"side\":\"home\"", SCHEMA_BAD_ORDER,
     "markets[0].prices[1]", "not strictly ascending by side"},
    {SCHEMA_ODDS_SUBMISSION, 1, "\"side\":\"draw\"", "\"side\":\"over\"", SCHEMA_BAD_SIDES,
     "markets[1].prices", "the sides are not a valid set for moneyline"},
    {SCHEMA_ODDS_SUBMISSION, 0, "{\"side\":\"away\"",
     "{\"side\":\"draw\",\"odds_n\":1,\"imp_prob_n\":1},{\"side\":\"over\",\"odds_n\":1,"
     "\"imp_prob_n\":1},{\"side\":\"away\"",
     SCHEMA_BAD_COUNT, "markets[0].prices", "4 items; allowed 2..3"},
    {SCHEMA_CLOSE, 1, "\"odds_n\":2098900000", "\"odds_n\":2098800000", SCHEMA_BAD_RULE,
     "probs[1].odds_n", "2098800000 is not round_half_even(10^13 / prob_n) * 10^5 = 2098900000"},
    {SCHEMA_CLOSE, 0, "\"books\":3", "\"books\":0", SCHEMA_BAD_RANGE, "probs[0].books",
     "0 is out of range 1..1000"},
    {SCHEMA_CLOSE, 0, "\"prob_n\":523560210", "\"prob_n\":523560211", SCHEMA_BAD_RANGE,
     "probs[0].prob_n", "not a multiple of 10"},
    {SCHEMA_METAGRAPH, 1, "\"uid\":200", "\"uid\":65536", SCHEMA_BAD_RANGE, "neurons[1].uid",
     "65536 is out of range 0..65535"},
    {SCHEMA_CONFIG_SET, 1, "\"key\":\"shrinkage.k\"", "\"key\":\"auth.a\"", SCHEMA_BAD_ORDER,
     "params[1]", "not strictly ascending by key"},
    {SCHEMA_CONFIG_SET, 1, "\"key\":\"shrinkage.k\"", "\"key\":\"shrinkage k\"", SCHEMA_BAD_TEXT,
     "params[1].key", "byte 9 (0x20)"},
    /* items that are one value */
    {SCHEMA_MARKET, 0, "[\"home\",\"away\",\"draw\"]", "[\"home\",\"draw\",\"away\"]",
     SCHEMA_BAD_ORDER, "sides[2]", "not strictly ascending after item 1"},
    {SCHEMA_WEIGHTS, 1, "[65535,1,40000]", "[65535,0,40000]", SCHEMA_BAD_RANGE, "weights[1]",
     "0 is out of range 1..65535"},
    /* tuples */
    {SCHEMA_GENESIS, 0, "\"tempo\":360", "\"tempo\":65536", SCHEMA_BAD_RANGE, "chain.tempo",
     "65536 is out of range 0..65535"},
    {SCHEMA_SUBMISSION_SCORE, 1, "\"minutes_to_close\":1440",
     "\"minutes_to_close\":4294967296", SCHEMA_BAD_RANGE, "close.minutes_to_close",
     "4294967296 is out of range 0..4294967295"},
    /* rules spanning fields name the field they judge */
    {SCHEMA_GENESIS, 0, "\"chain\":{\"netuid\":1", "\"chain\":{\"netuid\":2", SCHEMA_BAD_RULE,
     "chain.netuid", "2 is not netuid 1"},
    {SCHEMA_MARKET, 0, "\"line_n\":null", "\"line_n\":5", SCHEMA_BAD_RULE, "line_n",
     "must be null for moneyline"},
    {SCHEMA_MARKET, 1, "[\"over\",\"under\"]", "[\"home\",\"away\"]", SCHEMA_BAD_SIDES, "sides",
     "not a valid set for total"},
    {SCHEMA_OUTCOME, 1, "\"result\":\"away\"", "\"result\":\"home\"", SCHEMA_BAD_RULE, "result",
     "home disagrees with the score 1-9999"},
    {SCHEMA_WEIGHTS, 1, "[65535,1,40000]", "[65535,1]", SCHEMA_BAD_COUNT, "weights",
     "2 weights for 3 uids"},
    /* malformed JSON is no bound (bad 0), but still says where */
    {SCHEMA_ODDS_SUBMISSION, 0, "\"kind\":\"moneyline\"", "\"kind\":\"moneyball\"", SCHEMA_BAD_NONE,
     "markets[0].kind", "unknown name"},
    {SCHEMA_MARKET, 0, "\"draw\"]", "7]", SCHEMA_BAD_RANGE, "sides[2]",
     "7 is out of range 1..5"},
    {SCHEMA_SUBMISSION_SCORE, 1, "\"hit\":true", "\"hit\":1", SCHEMA_BAD_NONE, "outcome.hit",
     "expected true or false"},
};

/* The sample's JSON with the first `from` replaced by `to` (the caller frees it). */
static char *edited(const field_case *c)
{
    schema_body b;
    char *json, *out, *at;
    size_t n;

    tu_sample(c->type, c->variant, &b);
    assert_int_equal(schema_body_to_json(&b, &json), TALLY_OK);
    at = strstr(json, c->from);
    if (at == NULL) {
        fail_msg("'%s' is not in %s", c->from, json);
    }
    n = strlen(json) + strlen(c->to) + 1;
    out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - json), json, c->to, at + strlen(c->from));
    free(json);
    return out;
}

static void expect(const field_case *c, size_t i, const schema_field_error *err)
{
    if (err->bad != c->bad || strcmp(err->path, c->path) != 0 || strstr(err->what, c->what) == NULL) {
        fail_msg("case %zu: got bad %d, field %s: %s; want bad %d, field %s: …%s…", i, err->bad,
                 err->path, err->what, c->bad, c->path, c->what);
    }
}

static void test_json_names_the_field(void **state)
{
    schema_field_error err;
    schema_json_input in;
    schema_body b;
    char line[4096];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *json = edited(&cases[i]);
        memset(&err, 0x5a, sizeof(err));
        assert_int_equal(schema_body_from_json(cases[i].type, json, strlen(json), NULL, &b, &err),
                         TALLY_EFORMAT);
        expect(&cases[i], i, &err);
        assert_int_equal(b.type, 0); /* fail closed: nothing half-made */
        /* the same body as a `tally append` line: the path is the body's */
        snprintf(line, sizeof(line), "{\"type\":\"%s\",\"body\":%s}",
                 schema_type_name(cases[i].type), json);
        assert_int_equal(schema_input_from_json(line, strlen(line), NULL, &in, &err),
                         TALLY_EFORMAT);
        expect(&cases[i], i, &err);
        free(json);
    }
    /* faults of the line, not of a field, have no path */
    assert_int_equal(schema_input_from_json("{\"type\":\"EVENT\"", 15, NULL, &in, &err),
                     TALLY_EFORMAT);
    assert_string_equal(err.path, "");
    assert_non_null(strstr(err.what, "invalid JSON"));
    assert_int_equal(err.bad, SCHEMA_BAD_NONE);
    /* a NULL err is allowed */
    assert_int_equal(schema_body_from_json(SCHEMA_EVENT, "{}", 2, NULL, &b, NULL), TALLY_EFORMAT);
}

/* The ingest API's bytes: a well-formed body breaking a bound names the field; bytes that are
 * not the shape (a truncation) have bad 0. The bodies are golden bytes (tests/schema/
 * test_records.c) with one byte changed. */
static void test_msgpack_names_the_field(void **state)
{
    static const struct {
        const char *hex;
        size_t at;
        uint8_t was, now;
        int bad;
        const char *path, *what;
    } muts[] = {
        /* EVENT variant 0: home_team "A" becomes U+0007 */
        {"9901a6736f63636572a178a141a142c0cf0000019b7b49e90001c0", 12, 0x41, 0x07,
         SCHEMA_BAD_TEXT, "home_team", "U+0007"},
        /* ODDS_SUBMISSION variant 0: the entry's kind moneyline becomes total */
        {"95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce1f34e5119302ce7d2b750"
         "0ce1c62170cc410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
         21, 0x01, 0x03, SCHEMA_BAD_SIDES, "markets[0].prices", "not a valid set for total"},
        /* ... its second price's side away becomes home */
        {"95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce1f34e5119302ce7d2b750"
         "0ce1c62170cc410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
         37, 0x02, 0x01, SCHEMA_BAD_ORDER, "markets[0].prices[1]", "not strictly ascending"},
        /* ... its event_id 4242 (cd 1092) becomes 146 in the uint16 form: not canonical, so
         * malformed (bad 0), not a bound */
        {"95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce1f34e5119302ce7d2b750"
         "0ce1c62170cc410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
         12, 0x10, 0x00, SCHEMA_BAD_NONE, "", "the bytes are not a canonical ODDS_SUBMISSION body"},
    };
    uint8_t buf[512];
    schema_field_error err;
    schema_body b;
    (void)state;

    for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
        size_t n = tu_unhex(muts[i].hex, buf, sizeof(buf));
        /* the unchanged bytes decode */
        assert_int_equal(schema_body_decode_ex(i == 0 ? SCHEMA_EVENT : SCHEMA_ODDS_SUBMISSION,
                                               buf, n, &b, &err),
                         TALLY_OK);
        schema_body_release(&b);
        assert_int_equal(buf[muts[i].at], muts[i].was);
        buf[muts[i].at] = muts[i].now;
        assert_int_equal(schema_body_decode_ex(i == 0 ? SCHEMA_EVENT : SCHEMA_ODDS_SUBMISSION,
                                               buf, n, &b, &err),
                         TALLY_EFORMAT);
        if (err.bad != muts[i].bad || strcmp(err.path, muts[i].path) != 0 ||
            strstr(err.what, muts[i].what) == NULL) {
            fail_msg("mutation %zu: got bad %d, field %s: %s", i, err.bad, err.path, err.what);
        }
        /* the plain decoder refuses the same bytes the same way */
        assert_int_equal(schema_body_decode(i == 0 ? SCHEMA_EVENT : SCHEMA_ODDS_SUBMISSION, buf,
                                            n, &b),
                         TALLY_EFORMAT);
    }
}

/* A body built by hand: schema_body_check names the field; schema_body_encode refuses it. */
static void test_check_names_the_field(void **state)
{
    schema_field_error err;
    schema_body b;
    schema_price prices[2];
    schema_entry entry;
    uint8_t buf[1024];
    size_t n;
    (void)state;

    tu_sample(SCHEMA_EVENT, 1, &b);
    assert_int_equal(schema_body_check(&b, &err), TALLY_OK);
    b.u.event.away_team = (tally_str){"B\x7f", 2};
    assert_int_equal(schema_body_check(&b, &err), TALLY_EINVAL);
    assert_int_equal(err.bad, SCHEMA_BAD_TEXT);
    assert_string_equal(err.path, "away_team");
    assert_non_null(strstr(err.what, "U+007F at byte 1"));
    assert_int_equal(schema_body_encode(&b, buf, sizeof(buf), &n), TALLY_EINVAL);

    tu_sample(SCHEMA_ODDS_SUBMISSION, 0, &b);
    entry = b.u.odds.markets[0];
    memcpy(prices, entry.prices, sizeof(prices));
    prices[1].imp_prob_n = 1;
    entry.prices = prices;
    entry.kind = 5;
    b.u.odds.markets = &entry;
    assert_int_equal(schema_body_check(&b, &err), TALLY_EINVAL);
    assert_int_equal(err.bad, SCHEMA_BAD_RANGE);
    assert_string_equal(err.path, "markets[0].kind");
    assert_string_equal(err.what, "5 is out of range 1..4");

    tu_sample(SCHEMA_MINER_SCORE, 1, &b);
    b.u.miner_score.stats[10].has = false; /* cal */
    assert_int_equal(schema_body_check(&b, &err), TALLY_EINVAL);
    assert_string_equal(err.path, "stats.cal");
    assert_int_equal(err.bad, SCHEMA_BAD_RULE);
    assert_int_equal(schema_body_check(&b, NULL), TALLY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_names_the_field),
        cmocka_unit_test(test_msgpack_names_the_field),
        cmocka_unit_test(test_check_names_the_field),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The GET /v1/games query (protocol §5.1) and its cursor: good and bad queries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"

static wire_games_query q;
static wire_fail f;

static tally_status parse(const char *s)
{
    memset(&f, 0, sizeof(f));
    return wire_games_query_parse(s, &q, &f);
}

static void test_good(void **state)
{
    char cur[33];
    wire_cursor c = {1767225600000ull, 4242}, back;
    char buf[128];

    (void)state;
    assert_int_equal(parse(NULL), TALLY_OK);
    assert_int_equal(q.limit, 500);
    assert_false(q.has_cursor || q.has_since || q.has_league || q.has_sport);
    assert_int_equal(parse(""), TALLY_OK);
    assert_int_equal(q.limit, 500);
    assert_int_equal(parse("limit=10"), TALLY_OK);
    assert_int_equal(q.limit, 10);
    assert_int_equal(parse("limit=1"), TALLY_OK);
    assert_int_equal(q.limit, 1);
    assert_int_equal(parse("limit=500"), TALLY_OK);
    assert_int_equal(parse("sport=soccer&league=EPL.2_b-c&since_ms=0&limit=7"), TALLY_OK);
    assert_string_equal(q.sport, "soccer");
    assert_string_equal(q.league, "EPL.2_b-c");
    assert_true(q.has_since);
    assert_int_equal(q.since_ms, 0);
    assert_int_equal(q.limit, 7);
    assert_int_equal(parse("league=abcdefghijklmnop"), TALLY_OK); /* 16 bytes */
    assert_int_equal(parse("since_ms=9007199254740991"), TALLY_OK);
    assert_int_equal(q.since_ms, 9007199254740991ull);

    assert_int_equal(wire_cursor_encode(&c, cur), TALLY_OK);
    assert_string_equal(cur, "0000019b76daa8000000000000001092");
    assert_int_equal(wire_cursor_decode(cur, strlen(cur), &back), TALLY_OK);
    assert_int_equal(back.start_ms, c.start_ms);
    assert_int_equal(back.event_id, c.event_id);
    snprintf(buf, sizeof(buf), "limit=2&cursor=%s", cur);
    assert_int_equal(parse(buf), TALLY_OK);
    assert_true(q.has_cursor);
    assert_int_equal(q.cursor.start_ms, c.start_ms);
    assert_int_equal(q.cursor.event_id, 4242);
}

static void bad(const char *s, const char *field)
{
    assert_int_equal(parse(s), TALLY_EFORMAT);
    assert_int_equal(f.err, WIRE_BAD_REQUEST);
    assert_string_equal(f.field, field);
    assert_int_equal(q.limit, 500); /* defaults on failure */
    assert_false(q.has_cursor || q.has_since || q.has_league || q.has_sport);
}

static void test_bad(void **state)
{
    wire_cursor c = {0, 0}, out;
    char cur[33];

    (void)state;
    bad("limit=0", "limit");
    bad("limit=501", "limit");
    bad("limit=010", "limit");
    bad("limit=+1", "limit");
    bad("limit=-1", "limit");
    bad("limit=", "limit");
    bad("limit=1x", "limit");
    bad("limit=%31", "limit");
    bad("sport=soccer&limit=1&limit=2", "limit");
    bad("sport=a&sport=a", "sport");
    bad("sport=", "sport");
    bad("sport=abcdefghijklmnopq", "sport"); /* 17 bytes */
    bad("sport=a%20b", "sport");
    bad("sport=a+b", "sport");
    bad("sport=a b", "sport");
    bad("league=caf\xc3\xa9", "league");
    bad("since_ms=9007199254740992", "since_ms");
    bad("since_ms=00", "since_ms");
    bad("cursor=0000019B76DAA8000000000000001092", "cursor");
    bad("cursor=0000019b76daa800000000000000109", "cursor");
    bad("cursor=0000019b76daa8000000000000000000", "cursor"); /* event 0 */
    bad("cursor=ffffffffffffffff0000000000000001", "cursor"); /* start over 2^53 − 1 */
    bad("foo=1", "");
    bad("limit", "");
    bad("=5", "");
    bad("&limit=1", "");
    bad("limit=1&", "");
    bad("limit=1&&sport=a", "");
    bad("Limit=1", "");
    assert_int_equal(wire_cursor_encode(&c, cur), TALLY_EINVAL);
    assert_string_equal(cur, "");
    assert_int_equal(wire_cursor_decode(NULL, 0, &out), TALLY_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_bad)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

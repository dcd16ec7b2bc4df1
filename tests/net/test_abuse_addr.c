/* The abuse-control engine's view of who a client is (protocol §7): the client IP behind
 * trusted proxies (X-Forwarded-For read from the right, through trusted peers only), and the
 * CIDR lists of the settings, parsed, matched, and refused with a reason naming the element. */
/* cmocka needs these four first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/abuse_cases.h"
#include "util/testutil.h"

static net_ip client(const char *peer, const char *const *xff, size_t n, const net_cidr_list *t)
{
    tally_str v[4];
    net_ip p = ip(peer), out;
    for (size_t i = 0; i < n; i++) {
        v[i] = (tally_str){xff[i], strlen(xff[i])};
    }
    net_client_ip(&p, v, n, t, &out);
    return out;
}

static void expect_client(const char *want, const char *peer, const char *const *xff, size_t n,
                          const net_cidr_list *t)
{
    net_ip got = client(peer, xff, n, t), w = ip(want);
    if (memcmp(&got, &w, sizeof(w)) != 0) {
        fail_msg("peer %s, first XFF %s: not %s", peer, n ? xff[0] : "-", want);
    }
}

static void xff_trusted(void **state)
{
    net_cidr_list t;
    (void)state;

    assert_int_equal(net_cidr_list_parse("10.0.0.0/8, 2001:db8:ffff::/48", &t, NULL), TALLY_OK);
    expect_client("203.0.113.9", "10.0.0.1", (const char *const[]){"203.0.113.9"}, 1, &t);
    /* a spoofed left-most entry, even a malformed one, is the client's own text: ignored */
    expect_client("203.0.113.9", "10.0.0.1", (const char *const[]){"1.2.3.4, 203.0.113.9"}, 1, &t);
    expect_client("203.0.113.9", "10.0.0.1", (const char *const[]){"not-an-ip,203.0.113.9"}, 1, &t);
    /* two proxies */
    expect_client("203.0.113.9", "10.0.0.1",
                  (const char *const[]){"1.2.3.4, 203.0.113.9 ,\t10.0.0.2"}, 1, &t);
    expect_client("2001:db8::5", "2001:db8:ffff::1", (const char *const[]){"2001:db8::5, 10.9.9.9"},
                  1, &t);
    /* several header lines read as one list */
    expect_client("203.0.113.9", "10.0.0.1",
                  (const char *const[]){"1.1.1.1, 203.0.113.9", "10.0.0.2"}, 2, &t);
    expect_client("198.51.100.1", "10.0.0.1", (const char *const[]){"203.0.113.9", "198.51.100.1"},
                  2, &t);
    /* an untrusted peer's header is ignored */
    expect_client("198.51.100.7", "198.51.100.7", (const char *const[]){"203.0.113.9"}, 1, &t);
    /* malformed where a trusted proxy wrote it: the peer */
    expect_client("10.0.0.1", "10.0.0.1", (const char *const[]){"203.0.113.9, garbage"}, 1, &t);
    expect_client("10.0.0.1", "10.0.0.1", (const char *const[]){"203.0.113.9:443"}, 1, &t);
    expect_client("10.0.0.1", "10.0.0.1", (const char *const[]){"[2001:db8::5]"}, 1, &t);
    expect_client("10.0.0.1", "10.0.0.1", (const char *const[]){"203.0.113.9,"}, 1, &t);
    expect_client("10.0.0.1", "10.0.0.1", (const char *const[]){""}, 1, &t);
    /* all trusted: the left-most; no header: the peer */
    expect_client("10.0.0.3", "10.0.0.1", (const char *const[]){"10.0.0.3, 10.0.0.2"}, 1, &t);
    expect_client("10.0.0.1", "10.0.0.1", NULL, 0, &t);
    /* mapped addresses in the header are IPv4 */
    expect_client("203.0.113.9", "10.0.0.1", (const char *const[]){"::ffff:203.0.113.9"}, 1, &t);
    net_cidr_list_release(&t);
    /* no trusted proxies: always the peer */
    expect_client("10.0.0.1", "10.0.0.1", (const char *const[]){"203.0.113.9"}, 1, &t);
}

static void cidr_lists(void **state)
{
    static const struct {
        const char *s;
        const char *why;
    } bad[] = {
        {"10.0.0.0/33", "element 1 \"10.0.0.0/33\": prefix length above the address width"},
        {"127.0.0.0/8,10.0.0.1/8", "element 2 \"10.0.0.1/8\": host bits set below the prefix"},
        {"10.0.0.0/08", "element 1 \"10.0.0.0/08\": bad prefix length"},
        {"10.0.0.0/", "element 1 \"10.0.0.0/\": bad prefix length"},
        {"10.0.0.0/+8", "element 1 \"10.0.0.0/+8\": bad prefix length"},
        {"foo", "element 1 \"foo\": not an IP address"},
        {"10.0.0.0/8,", "element 2 \"\": empty element"},
        {"10.0.0.0/8,,::1", "element 2 \"\": empty element"},
        {"::1/129", "element 1 \"::1/129\": prefix length above the address width"},
        {"::ffff:10.0.0.0/95",
         "element 1 \"::ffff:10.0.0.0/95\": IPv4-mapped prefix shorter than /96"},
        {"010.0.0.1", "element 1 \"010.0.0.1\": not an IP address"},
        {"fe80::1%eth0", "element 1 \"fe80::1%eth0\": not an IP address"},
    };
    char why[NET_WHY_MAX];
    net_cidr_list l = NET_CIDR_LIST_INIT;
    net_abuse_cfg cfg = {.exempt = "127.0.0.0/8,::1/129",
                         .detail = (char[NET_ABUSE_DETAIL_MAX]){0}};
    net_abuse *a;
    net_ip x;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(net_cidr_list_parse(bad[i].s, &l, why), TALLY_EFORMAT);
        assert_string_equal(why, bad[i].why);
        assert_null(l.v);
        assert_int_equal(l.n, 0);
    }
    assert_int_equal(net_cidr_list_parse("  ", &l, why), TALLY_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(net_cidr_list_parse("::ffff:10.0.0.0/104, 192.0.2.1, 0.0.0.0/0", &l, why),
                     TALLY_OK);
    assert_int_equal(l.n, 3);
    x = ip("10.1.2.3");
    assert_true(net_cidr_match(&l, &x));
    x = ip("::1");
    assert_false(net_cidr_match(&l, &x));
    net_cidr_list_release(&l);
    assert_int_equal(net_cidr_list_parse("2001:db8::/32", &l, why), TALLY_OK);
    x = ip("2001:db8:ffff::1");
    assert_true(net_cidr_match(&l, &x));
    x = ip("2001:db9::1");
    assert_false(net_cidr_match(&l, &x));
    net_cidr_list_release(&l);
    /* the engine names the setting */
    assert_int_equal(net_abuse_new(&cfg, &a), TALLY_EFORMAT);
    assert_null(a);
    assert_string_equal(cfg.detail, "TALLY_ABUSE_EXEMPT: element 2 \"::1/129\": prefix length "
                                    "above the address width");
    cfg = (net_abuse_cfg){.rate_key = {.per_s = 200, .per_min = 100}};
    assert_int_equal(net_abuse_new(&cfg, &a), TALLY_EINVAL);
    cfg = (net_abuse_cfg){.cooldown_initial_s = 7200};
    assert_int_equal(net_abuse_new(&cfg, &a), TALLY_EINVAL);
    cfg = (net_abuse_cfg){.rate_global = {.per_s = 70000, .per_min = 70000}};
    assert_int_equal(net_abuse_new(&cfg, &a), TALLY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xff_trusted),
        cmocka_unit_test(cidr_lists),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

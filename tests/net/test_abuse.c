/* The abuse-control engine (protocol §3, §7; §12 cases 4, 6, 31–34): rolling windows, key
 * reservations, cooldowns and their escalation, fail2ban, critical strikes, probes, exemptions,
 * IPv6 /64 grouping, the global window and the tables' caps (the client IP behind trusted
 * proxies: test_abuse_addr.c; the bans codec and persistence: test_abuse_bans.c). The clock is
 * driven by hand: nothing here reads a real clock. */
/* cmocka needs these four first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/abuse_cases.h"
#include "util/testutil.h"

/* §12 case 31 and the window arithmetic: 10 per second, 120 per minute, slots of 100 ms. */
static void window_arith(void **state)
{
    net_abuse *a = mk((net_abuse_cfg){0});
    uint8_t k[32];
    net_abuse_resv r;
    net_abuse_verdict v;
    net_abuse_stats st;
    (void)state;

    key_of(k, 1);
    for (uint32_t i = 0; i < 10; i++) {
        v = check_key(a, k, NULL, T0, M0 + i * 5, &r);
        assert_int_equal(v.result, NET_ABUSE_OK);
        assert_int_equal(v.rate.limit, 120);
        assert_int_equal(v.rate.remaining, 9 - i);
        assert_true(r.held);
        net_abuse_key_commit(a, &r);
    }
    /* the 11th within the second: refused, not counted, Retry-After until the first slot frees */
    v = check_key(a, k, NULL, T0, M0 + 50, &r);
    assert_int_equal(v.result, NET_ABUSE_RATE_LIMITED);
    assert_int_equal(v.scope, NET_SCOPE_KEY);
    assert_int_equal(v.window, NET_WINDOW_1S);
    assert_int_equal(v.rate.remaining, 0);
    assert_int_equal(v.retry_after_s, 1);
    assert_false(r.held);
    assert_int_equal(v.who.kind, NET_ID_KEY);
    assert_memory_equal(v.who.b, k, 32);
    /* the 100 ms slot of M0 is in the window until M0 + 1000, not after */
    assert_int_equal(check_key(a, k, NULL, T0, M0 + 999, &r).result, NET_ABUSE_RATE_LIMITED);
    v = check_key(a, k, NULL, T0, M0 + 1000, &r);
    assert_int_equal(v.result, NET_ABUSE_OK);
    /* 11 in the 1 s window now, 1 of them in the new second: the per-minute window counts 11 */
    assert_int_equal(v.rate.remaining, 9);
    /* fill the minute: 10 per second for 11 more seconds reaches 120 */
    for (uint32_t s = 1; s <= 11; s++) {
        for (uint32_t i = (s == 1 ? 1 : 0); i < 10; i++) {
            assert_int_equal(check_key(a, k, NULL, T0, M0 + s * 1000 + i, &r).result, NET_ABUSE_OK);
        }
    }
    v = check_key(a, k, NULL, T0, M0 + 12 * 1000, &r);
    assert_int_equal(v.result, NET_ABUSE_RATE_LIMITED);
    assert_int_equal(v.window, NET_WINDOW_60S);
    /* the first second's 10 leave the minute at M0 + 60 s: 48 s from now */
    assert_int_equal(v.retry_after_s, 48);
    assert_int_equal(check_key(a, k, NULL, T0, M0 + 59999, &r).result, NET_ABUSE_RATE_LIMITED);
    assert_int_equal(check_key(a, k, NULL, T0, M0 + 60000, &r).result, NET_ABUSE_OK);
    net_abuse_stats_get(a, T0, M0, &st);
    assert_int_equal(st.rate_limited[NET_SCOPE_KEY][NET_WINDOW_1S], 2);
    assert_int_equal(st.rate_limited[NET_SCOPE_KEY][NET_WINDOW_60S], 2);
    net_abuse_free(a);
}

static void key_reserve_release(void **state)
{
    net_abuse *a = mk((net_abuse_cfg){0});
    net_abuse_resv r[10], extra;
    uint8_t k[32];
    (void)state;

    key_of(k, 2);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(check_key(a, k, NULL, T0, M0, &r[i]).result, NET_ABUSE_OK);
    }
    assert_int_equal(check_key(a, k, NULL, T0, M0, &extra).result, NET_ABUSE_RATE_LIMITED);
    /* five signatures fail: their slots come back, once each */
    for (int i = 0; i < 5; i++) {
        net_abuse_key_release(a, &r[i]);
        net_abuse_key_release(a, &r[i]);
        assert_false(r[i].held);
    }
    for (int i = 0; i < 5; i++) {
        assert_int_equal(check_key(a, k, NULL, T0, M0 + 10, &r[i]).result, NET_ABUSE_OK);
    }
    assert_int_equal(check_key(a, k, NULL, T0, M0 + 10, &extra).result, NET_ABUSE_RATE_LIMITED);
    /* a release after its slots left the windows gives nothing back */
    net_abuse_key_commit(a, &r[5]);
    net_abuse_key_release(a, &r[5]); /* committed: no effect */
    net_abuse_key_release(a, &r[6]);
    assert_int_equal(check_key(a, k, NULL, T0, M0 + 20, &extra).result, NET_ABUSE_OK);
    assert_int_equal(check_key(a, k, NULL, T0, M0 + 20, &extra).result, NET_ABUSE_RATE_LIMITED);
    net_abuse_free(a);
}

/* §12 case 32: 10 C-failures of a verified hotkey in 60 s, then 30 s, doubling, 1 h at most, and
 * back to 30 s after 24 h without cooldowns. From loopback, so only the hotkey is charged. */
static void hotkey_cooldown(void **state)
{
    static const uint32_t want[] = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600};
    net_abuse *a = mk((net_abuse_cfg){0});
    net_ip lo = ip("127.0.0.1");
    uint8_t hk[32], k[32];
    net_abuse_outcome o;
    net_abuse_verdict v;
    net_abuse_resv r;
    uint64_t m = M0;
    (void)state;

    key_of(hk, 3);
    key_of(k, 4);
    for (size_t round = 0; round < sizeof(want) / sizeof(want[0]); round++) {
        for (int i = 0; i < 10; i++) {
            o = charge(a, NET_CLASS_C, &lo, hk, k, T0, m + (uint64_t)i * 5000);
            assert_int_equal(o.ip_cooldown_s, 0);
            assert_int_equal(o.hotkey_cooldown_s, i == 9 ? want[round] : 0);
        }
        m += 9 * 5000;
        assert_int_equal(o.hotkey_level, round + 1);
        v = check_key(a, k, hk, T0, m, &r);
        assert_int_equal(v.result, NET_ABUSE_COOLING);
        assert_int_equal(v.retry_after_s, want[round]);
        assert_int_equal(v.who.kind, NET_ID_HOTKEY);
        assert_int_equal(check_key(a, k, hk, T0, m + want[round] * 1000ull - 1, &r).result,
                         NET_ABUSE_COOLING);
        m += want[round] * 1000ull;
        assert_int_equal(check_key(a, k, hk, T0, m, &r).result, NET_ABUSE_OK);
        assert_int_equal(check_ip(a, &lo, T0, m).result, NET_ABUSE_OK);
    }
    /* nine failures in 60 s are not enough; 10 spread over more than 60 s neither */
    m += DAY_MS;
    for (int i = 0; i < 10; i++) {
        o = charge(a, NET_CLASS_C, &lo, hk, NULL, T0, m + (uint64_t)i * 7000);
        assert_int_equal(o.hotkey_cooldown_s, 0);
    }
    /* a day after the last cooldown, escalation starts again */
    for (int i = 0; i < 10; i++) {
        o = charge(a, NET_CLASS_C, &lo, hk, NULL, T0, m + 200000);
    }
    assert_int_equal(o.hotkey_cooldown_s, 30);
    assert_int_equal(o.hotkey_level, 1);
    net_abuse_free(a);
}

/* §12 case 6: forged requests claiming a miner's key charge only the IP. */
static void forged_key_charges_ip(void **state)
{
    net_abuse *a = mk((net_abuse_cfg){0});
    net_ip bad = ip("198.51.100.7"), miner_ip = ip("203.0.113.9");
    uint8_t hk[32], k[32];
    net_abuse_resv r;
    net_abuse_stats st;
    (void)state;

    key_of(hk, 5);
    key_of(k, 6);
    for (int i = 0; i < 10; i++) {
        net_abuse_outcome o = charge(a, NET_CLASS_X, &bad, NULL, k, T0, M0 + (uint64_t)i);
        assert_int_equal(o.hotkey_cooldown_s, 0);
        assert_false(o.hotkey_banned);
        assert_int_equal(o.ip_banned, i == 2); /* the third X: case 4 */
    }
    assert_int_equal(check_ip(a, &miner_ip, T0, M0 + 20).result, NET_ABUSE_OK);
    assert_int_equal(check_key(a, k, hk, T0, M0 + 20, &r).result, NET_ABUSE_OK);
    assert_int_equal(check_ip(a, &bad, T0, M0 + 20).result, NET_ABUSE_BANNED);
    net_abuse_stats_get(a, T0, M0 + 20, &st);
    assert_int_equal(st.failures[NET_CLASS_X][0], 10);
    assert_int_equal(st.failures[NET_CLASS_X][1], 0);
    assert_int_equal(st.cooldowns_active[1], 0);
    assert_int_equal(st.bans_active[0][1], 1);
    net_abuse_free(a);
}

static void ip_cooldown_count_and_keys(void **state)
{
    net_abuse *a = mk((net_abuse_cfg){0});
    net_ip x = ip("192.0.2.1"), y = ip("192.0.2.2"), z = ip("192.0.2.3");
    net_abuse_cooldown *cl;
    net_abuse_verdict v;
    net_abuse_outcome o;
    net_ident id;
    uint8_t k[32];
    size_t n;
    (void)state;

    /* 50 C-failures in 300 s */
    for (int i = 0; i < 50; i++) {
        o = charge(a, NET_CLASS_C, &x, NULL, NULL, T0, M0 + (uint64_t)i * 6000);
        assert_int_equal(o.ip_cooldown_s, i == 49 ? 30 : 0);
    }
    v = check_ip(a, &x, T0, M0 + 49 * 6000);
    assert_int_equal(v.result, NET_ABUSE_COOLING);
    assert_int_equal(v.retry_after_s, 30);
    assert_int_equal(v.who.kind, NET_ID_IP);
    /* 50 over 300 s or more: none */
    for (int i = 0; i < 50; i++) {
        o = charge(a, NET_CLASS_C, &y, NULL, NULL, T0, M0 + (uint64_t)i * 6200);
        assert_int_equal(o.ip_cooldown_s, 0);
    }
    /* five distinct claimed keys within 300 s; repeats of four do nothing */
    for (int i = 0; i < 20; i++) {
        key_of(k, (uint8_t)(10 + i % 4));
        assert_int_equal(charge(a, NET_CLASS_C, &z, NULL, k, T0, M0 + (uint64_t)i).ip_cooldown_s,
                         0);
    }
    key_of(k, 20);
    o = charge(a, NET_CLASS_C, &z, NULL, k, T0, M0 + 300016);
    assert_int_equal(o.ip_cooldown_s, 0); /* key 10 was last seen 300 s ago: four in the window */
    key_of(k, 21);
    o = charge(a, NET_CLASS_C, &y, NULL, k, T0, M0 + 400000);
    for (int i = 0; i < 4; i++) {
        key_of(k, (uint8_t)(30 + i));
        o = charge(a, NET_CLASS_C, &y, NULL, k, T0, M0 + 400000 + 299999);
    }
    assert_int_equal(o.ip_cooldown_s, 30);
    /* admin: list and clear */
    assert_int_equal(net_abuse_cooldowns_list(a, M0 + 700000, &cl, &n), TALLY_OK);
    assert_int_equal(n, 1);
    net_ident_ip(&y, &id);
    assert_memory_equal(&cl[0].id, &id, sizeof(id));
    assert_int_equal(cl[0].remaining_s, 30);
    free(cl);
    assert_int_equal(net_abuse_cooldown_clear(a, &id, M0 + 700000), TALLY_OK);
    assert_int_equal(net_abuse_cooldown_clear(a, &id, M0 + 700000), TALLY_ENOTFOUND);
    assert_int_equal(check_ip(a, &y, T0, M0 + 700000).result, NET_ABUSE_OK);
    net_abuse_free(a);
}

/* §12 case 33: 20 violations in an hour ban the IP for 24 h; the ban is persisted once. */
static void fail2ban(void **state)
{
    rec r = {0};
    net_abuse *a = mk((net_abuse_cfg){.persist = persist, .persist_arg = &r});
    net_ip x = ip("192.0.2.77");
    net_abuse_verdict v;
    net_abuse_outcome o;
    net_abuse_stats st;
    uint64_t m = M0, now = T0;
    int violations = 0;
    (void)state;

    /* cooldown after cooldown: each request meanwhile is a violation */
    while (violations < 20) {
        uint32_t cool = 0;
        for (int i = 0; i < 50; i++) {
            cool += charge(a, NET_CLASS_C, &x, NULL, NULL, now, m).ip_cooldown_s;
        }
        assert_true(cool >= 30);
        for (int i = 0; i < 7 && violations < 20; i++) {
            v = check_ip(a, &x, now, m + 1000);
            assert_int_equal(v.result, NET_ABUSE_COOLING);
            o = charge(a, NET_CLASS_V, &x, NULL, NULL, now, m + 1000);
            violations++;
            assert_int_equal(o.ip_banned, violations == 20);
            assert_int_equal(r.added, violations == 20 ? 1 : 0);
        }
        m += cool * 1000ull, now += 1000; /* past this cooldown: 30 + 60 + 120 s in all */
    }
    assert_int_equal(o.ip_ban_until_ms, now - 1000 + DAY_MS);
    assert_int_equal(r.last.reason, NET_BAN_VIOLATIONS);
    assert_int_equal(r.last.until_ms, now - 1000 + DAY_MS);
    assert_int_equal(r.last.strikes, 20);
    v = check_ip(a, &x, now, m);
    assert_int_equal(v.result, NET_ABUSE_BANNED);
    assert_int_equal(v.expires_ms, now - 1000 + DAY_MS);
    net_abuse_stats_get(a, now, m, &st);
    assert_int_equal(st.bans_active[0][0], 1);
    assert_int_equal(st.failures[NET_CLASS_V][0], 20);
    /* the ban ends by itself, and the hourly purge reports it removed */
    assert_int_equal(check_ip(a, &x, now - 1000 + DAY_MS, m).result, NET_ABUSE_OK);
    size_t purged;
    net_abuse_bans_purge(a, now + DAY_MS, &purged);
    assert_int_equal(purged, 1);
    assert_int_equal(r.removed, 1);
    assert_int_equal(r.added, 1);
    net_abuse_free(a);
}

/* §12 case 4: the third X within 24 h bans permanently; three spread wider do not. */
static void critical_strikes(void **state)
{
    rec r = {0};
    net_abuse *a = mk((net_abuse_cfg){.persist = persist, .persist_arg = &r});
    net_ip x = ip("192.0.2.9"), y = ip("192.0.2.10");
    net_abuse_failure f = {.cls = NET_CLASS_X, .ip = &y, .x_reason = NET_BAN_NONCE_REPLAY};
    net_abuse_outcome o;
    uint8_t hk[32];
    net_ident id;
    net_ban b;
    (void)state;

    charge(a, NET_CLASS_X, &x, NULL, NULL, T0, M0);
    charge(a, NET_CLASS_X, &x, NULL, NULL, T0, M0 + DAY_MS - 10);
    o = charge(a, NET_CLASS_X, &x, NULL, NULL, T0, M0 + DAY_MS + 1);
    assert_false(o.ip_banned);
    o = charge(a, NET_CLASS_X, &x, NULL, NULL, T0 + 5, M0 + DAY_MS + 2);
    assert_true(o.ip_banned);
    assert_int_equal(o.ip_ban_until_ms, 0);
    net_ident_ip(&x, &id);
    assert_int_equal(net_abuse_ban_get(a, &id, &b), TALLY_OK);
    assert_int_equal(b.until_ms, 0);
    assert_int_equal(b.reason, NET_BAN_BAD_SIGNATURE);
    assert_int_equal(b.created_ms, T0 + 5);
    assert_int_equal(b.strikes, 3);
    assert_int_equal(check_ip(a, &x, T0 + 100 * DAY_MS, M0).expires_ms, 0);
    assert_int_equal(check_ip(a, &x, T0 + 100 * DAY_MS, M0).result, NET_ABUSE_BANNED);
    /* nonce_replay charges the verified hotkey too: both are banned */
    key_of(hk, 40);
    f.hotkey = hk;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(net_abuse_fail(a, &f, T0, M0 + (uint64_t)i, &o), TALLY_OK);
    }
    assert_true(o.ip_banned);
    assert_true(o.hotkey_banned);
    assert_int_equal(r.added, 3);
    uint8_t k[32];
    net_abuse_resv rv;
    key_of(k, 41);
    net_abuse_verdict v = check_key(a, k, hk, T0, M0 + 5, &rv);
    assert_int_equal(v.result, NET_ABUSE_BANNED);
    assert_int_equal(v.who.kind, NET_ID_HOTKEY);
    assert_false(rv.held);
    /* a bad x_reason or class is refused */
    f.x_reason = NET_BAN_PROBE;
    assert_int_equal(net_abuse_fail(a, &f, T0, M0, &o), TALLY_EINVAL);
    f.x_reason = NET_BAN_NONCE_REPLAY;
    f.cls = (net_abuse_class)7;
    assert_int_equal(net_abuse_fail(a, &f, T0, M0, &o), TALLY_EINVAL);
    net_abuse_free(a);
}

static bool probe(const char *method, const char *target)
{
    return net_abuse_is_probe(method, target, strlen(target), false);
}

static void probes(void **state)
{
    static const char *const yes[] = {
        "/admin",
        "/admin/",
        "/admin/v1/bans",
        "/administrator",
        "/api",
        "/api/v1",
        "/login",
        "/wp-admin",
        "/wp-admin/setup.php",
        "/wp-admin.php",
        "/WP-ADMIN",
        "/wp-login.php",
        "/xmlrpc.php",
        "/phpmyadmin",
        "/phpMyAdmin/index.php",
        "/.env",
        "/.git/config",
        "/cgi-bin/test.cgi",
        "/robots.txt",
        "/actuator",
        "/actuator/health",
        "/server-status",
        "/v1/../etc/passwd",
        "/v1/%2e%2e/x",
        "/v1/%2E./x",
        "/x?a=..",
        "/%61dmin",
        "/login?next=/v1",
        "http://example.com/",
        "HTTPS://example.com/v1/odds",
        "example.com:443",
    };
    static const char *const no[] = {
        "/",
        "/v1/odds",
        "/v1/games?limit=10",
        "/health",
        "/health/live",
        "/health/ready",
        "/administration",
        "/apis",
        "/.gitignore",
        "/.git",
        "/logins",
        "/v1/sth/12",
        "/log/tile/0/x001/002",
        "*",
        "/v1/a.b/c",
    };
    rec r = {0};
    net_abuse *a = mk((net_abuse_cfg){.persist = persist, .persist_arg = &r});
    net_abuse *b = mk((net_abuse_cfg){.no_probe_ban = true});
    net_ip x = ip("192.0.2.200");
    net_abuse_outcome o;
    (void)state;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!probe("GET", yes[i])) {
            fail_msg("not a probe: %s", yes[i]);
        }
        assert_false(net_abuse_is_probe("GET", yes[i], strlen(yes[i]), true));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (probe("GET", no[i]) || probe("POST", no[i])) {
            fail_msg("a probe: %s", no[i]);
        }
    }
    assert_true(probe("TRACE", "/"));
    assert_true(probe("CONNECT", "example.com:443"));
    assert_true(probe("TRACK", "/v1/odds"));
    assert_true(probe("trace", "/"));
    assert_false(probe("OPTIONS", "*"));
    assert_false(net_abuse_is_probe("TRACE", "/", 1, true));
    /* long targets: only the first bytes of the path decide, and length alone is no probe */
    {
        char long_t[6000];
        memset(long_t, 'a', sizeof(long_t) - 1);
        long_t[sizeof(long_t) - 1] = '\0';
        memcpy(long_t, "/v1/games?x=", 12);
        assert_false(probe("GET", long_t));
        memcpy(long_t, "/actuator/x=", 12);
        assert_true(probe("GET", long_t));
        memcpy(long_t, "/admin/xxxxx", 12);
        assert_true(probe("GET", long_t));
        memcpy(long_t, "/v1/games?x=", 12);
        memcpy(long_t + 5000, "..", 2);
        assert_true(probe("GET", long_t));
    }
    /* only the target's n bytes count */
    assert_false(net_abuse_is_probe("GET", "/v1/odds/../x", 8, false));
    /* §12 case 34: one probe bans the IP for good (reason "forbidden"); unless TALLY_PROBE_BAN=0 */
    o = charge(a, NET_CLASS_P, &x, NULL, NULL, T0, M0);
    assert_true(o.ip_banned);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.last.reason, NET_BAN_PROBE);
    assert_string_equal(net_ban_reason_name(r.last.reason), "forbidden");
    assert_int_equal(check_ip(a, &x, T0, M0).result, NET_ABUSE_BANNED);
    o = charge(b, NET_CLASS_P, &x, NULL, NULL, T0, M0);
    assert_false(o.ip_banned);
    assert_int_equal(check_ip(b, &x, T0, M0).result, NET_ABUSE_OK);
    net_abuse_free(a);
    net_abuse_free(b);
}

/* Exempt addresses (loopback by default) are never cooled down or banned; windows still apply. */
static void exempt_loopback(void **state)
{
    rec r = {0};
    net_abuse *a = mk((net_abuse_cfg){.persist = persist, .persist_arg = &r});
    net_abuse *none = mk((net_abuse_cfg){.exempt = ""});
    const char *addrs[] = {"127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"};
    net_abuse_verdict v;
    net_ban b = {.reason = NET_BAN_ADMIN};
    net_abuse_stats st;
    (void)state;

    for (size_t j = 0; j < 4; j++) {
        net_ip lo = ip(addrs[j]);
        assert_true(net_abuse_exempt(a, &lo));
        charge(a, NET_CLASS_P, &lo, NULL, NULL, T0, M0);
        for (int i = 0; i < 100; i++) {
            charge(a, NET_CLASS_X, &lo, NULL, NULL, T0, M0);
            charge(a, NET_CLASS_V, &lo, NULL, NULL, T0, M0);
        }
        /* an operator's ban of that identity is stored but never applies to exempt addresses */
        net_ident_ip(&lo, &b.id);
        assert_int_equal(net_abuse_ban_add(a, &b), TALLY_OK);
        assert_int_equal(net_abuse_check_ban(a, &lo, T0, &v), TALLY_OK);
        assert_int_equal(v.result, NET_ABUSE_OK);
    }
    net_ip lo = ip("127.0.0.1");
    for (int i = 0; i < 50; i++) {
        assert_int_equal(check_ip(a, &lo, T0, M0 + 1).result, NET_ABUSE_OK);
    }
    v = check_ip(a, &lo, T0, M0 + 1);
    assert_int_equal(v.result, NET_ABUSE_RATE_LIMITED);
    assert_int_equal(v.scope, NET_SCOPE_IP);
    net_abuse_stats_get(a, T0, M0, &st);
    assert_int_equal(st.cooldowns_active[0], 0);
    assert_int_equal(r.added, 4); /* the admin bans only */
    assert_int_equal(st.failures[NET_CLASS_X][0], 0);
    /* with an empty exempt list loopback is an address like any other */
    charge(none, NET_CLASS_P, &lo, NULL, NULL, T0, M0);
    assert_int_equal(check_ip(none, &lo, T0, M0).result, NET_ABUSE_BANNED);
    net_abuse_free(a);
    net_abuse_free(none);
}

/* IPv6 clients are one identity per /64; IPv4-mapped addresses are IPv4. */
static void v6_grouping(void **state)
{
    net_abuse *a = mk((net_abuse_cfg){0});
    net_ip p1 = ip("2001:db8:1:2::1"), p2 = ip("2001:db8:1:2:ffff:ffff:ffff:fffe");
    net_ip other = ip("2001:db8:1:3::1"), m4 = ip("::ffff:203.0.113.9"), v4 = ip("203.0.113.9");
    char s[NET_IDENT_STR_MAX];
    net_ident id, id2;
    (void)state;

    net_ident_ip(&p2, &id);
    net_ident_format(&id, s);
    assert_string_equal(s, "ip:2001:db8:1:2::/64");
    assert_int_equal(m4.family, NET_IP_V4);
    net_ident_ip(&m4, &id);
    net_ident_format(&id, s);
    assert_string_equal(s, "ip:203.0.113.9");
    for (int i = 0; i < 25; i++) {
        assert_int_equal(check_ip(a, &p1, T0, M0).result, NET_ABUSE_OK);
        assert_int_equal(check_ip(a, &p2, T0, M0).result, NET_ABUSE_OK);
        assert_int_equal(check_ip(a, &m4, T0, M0).result, NET_ABUSE_OK);
    }
    assert_int_equal(check_ip(a, &p2, T0, M0).result, NET_ABUSE_RATE_LIMITED);
    assert_int_equal(check_ip(a, &p1, T0, M0).result, NET_ABUSE_RATE_LIMITED);
    assert_int_equal(check_ip(a, &other, T0, M0).result, NET_ABUSE_OK);
    for (int i = 0; i < 25; i++) {
        assert_int_equal(check_ip(a, &v4, T0, M0).result, NET_ABUSE_OK);
    }
    assert_int_equal(check_ip(a, &v4, T0, M0).result, NET_ABUSE_RATE_LIMITED);
    /* a ban of the /64 covers every address in it */
    charge(a, NET_CLASS_P, &p1, NULL, NULL, T0, M0);
    assert_int_equal(check_ip(a, &p2, T0, M0).result, NET_ABUSE_BANNED);
    assert_int_equal(check_ip(a, &other, T0, M0).result, NET_ABUSE_OK);
    /* per-listener IP windows (§14.9) */
    net_abuse_verdict v;
    assert_int_equal(net_abuse_check_ip(a, &v4, 1, T0, M0, &v), TALLY_OK);
    assert_int_equal(v.result, NET_ABUSE_OK);
    assert_int_equal(net_abuse_check_ip(a, &v4, NET_ABUSE_LISTENERS, T0, M0, &v), TALLY_EINVAL);
    assert_int_equal(v.result, NET_ABUSE_UNSET);
    /* admin identities */
    assert_int_equal(net_ident_parse("ip", "2001:db8:1:2::/64", &id2), TALLY_OK);
    net_ident_ip(&p1, &id);
    assert_memory_equal(&id, &id2, sizeof(id));
    assert_int_equal(net_ident_parse("ip", "2001:db8:1:2::77", &id2), TALLY_OK);
    assert_memory_equal(&id, &id2, sizeof(id));
    assert_int_equal(net_ident_parse("ip", "2001:db8:1:2::1/64", &id2), TALLY_EFORMAT);
    assert_int_equal(net_ident_parse("ip", "203.0.113.9/64", &id2), TALLY_EFORMAT);
    assert_int_equal(net_ident_parse("ip", "203.0.113.9", &id2), TALLY_OK);
    assert_int_equal(net_ident_parse("host", "203.0.113.9", &id2), TALLY_EFORMAT);
    net_abuse_free(a);
}

static void hotkey_ident(void **state)
{
    uint8_t acct[32];
    char s[NET_IDENT_STR_MAX], hex[65];
    net_ident id, back;
    (void)state;

    for (int i = 0; i < 32; i++) {
        acct[i] = (uint8_t)(i * 7 + 1);
    }
    net_ident_hotkey(acct, &id);
    net_ident_format(&id, s);
    assert_memory_equal(s, "hotkey:5", 8); /* SS58 prefix 42 */
    assert_int_equal(net_ident_parse("hotkey", s + 7, &back), TALLY_OK);
    assert_memory_equal(&back, &id, sizeof(id));
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", acct[i]);
    }
    assert_int_equal(net_ident_parse("hotkey", hex, &back), TALLY_OK);
    assert_memory_equal(&back, &id, sizeof(id));
    hex[0] = 'G';
    assert_int_equal(net_ident_parse("hotkey", hex, &back), TALLY_EFORMAT);
}

static void global_window(void **state)
{
    net_abuse *a = mk((net_abuse_cfg){.rate_global = {.per_s = 5, .per_min = 8}});
    net_ip x = ip("192.0.2.1");
    net_abuse_verdict v;
    (void)state;

    for (int i = 0; i < 5; i++) {
        assert_int_equal(check_ip(a, &x, T0, M0).result, NET_ABUSE_OK);
    }
    v = check_ip(a, &x, T0, M0);
    assert_int_equal(v.result, NET_ABUSE_OVERLOADED);
    assert_int_equal(v.scope, NET_SCOPE_GLOBAL);
    assert_int_equal(v.retry_after_s, 1);
    assert_int_equal(net_abuse_check_ip(a, &x, 2, T0, M0, &v), TALLY_OK);
    assert_int_equal(v.result, NET_ABUSE_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(check_ip(a, &x, T0, M0 + 1000).result, NET_ABUSE_OK);
    }
    v = check_ip(a, &x, T0, M0 + 1000);
    assert_int_equal(v.window, NET_WINDOW_60S);
    assert_int_equal(v.retry_after_s, 59);
    net_abuse_free(a);
}

/* A flood of distinct addresses never grows a table past its cap. */
static void bounded_tables(void **state)
{
    net_abuse *a = mk((net_abuse_cfg){
        .max_ips = 1000, .max_states = 500, .rate_global = {.per_s = 65535, .per_min = 65535}});
    net_abuse_stats st;
    (void)state;

    for (uint32_t i = 0; i < 2000000; i++) {
        net_ip x = {
            .family = NET_IP_V4,
            .b = {(uint8_t)(11 + (i >> 24)), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i}};
        uint64_t m = M0 + i; /* one request a millisecond: 60,000 a minute */
        assert_int_equal(check_ip(a, &x, T0, m).result, NET_ABUSE_OK);
        if (i % 10 == 0) {
            charge(a, NET_CLASS_C, &x, NULL, NULL, T0, m);
        }
    }
    net_abuse_stats_get(a, T0, M0 + 2000000, &st);
    assert_int_equal(st.entries[0], 1000);
    assert_int_equal(st.evictions[0], 2000000 - 1000);
    assert_int_equal(st.entries[2], 500);
    assert_int_equal(st.evictions[2], 200000 - 500);
    /* the most recent ones are still there */
    net_ip last = {.family = NET_IP_V4, .b = {11, 0x1e, 0x84, 0x7f}}; /* 1,999,999 */
    net_abuse_verdict v = check_ip(a, &last, T0, M0 + 1999999);
    assert_int_equal(v.rate.remaining, 48);
    /* a table without eviction (bans) refuses at its cap */
    net_abuse *b = mk((net_abuse_cfg){.max_bans = 3});
    for (uint8_t i = 0; i < 3; i++) {
        net_ip x = {.family = NET_IP_V4, .b = {192, 0, 2, i}};
        assert_true(charge(b, NET_CLASS_P, &x, NULL, NULL, T0, M0).ip_banned);
    }
    net_ip x = {.family = NET_IP_V4, .b = {192, 0, 2, 9}};
    net_abuse_failure f = {.cls = NET_CLASS_P, .ip = &x};
    assert_int_equal(net_abuse_fail(b, &f, T0, M0, NULL), TALLY_EFULL);
    net_abuse_stats_get(b, T0, M0, &st);
    assert_int_equal(st.bans_dropped, 1);
    assert_int_equal(st.entries[4], 3);
    net_abuse_free(a);
    net_abuse_free(b);
}

typedef struct hammer {
    net_abuse *a;
    int admitted, cooled;
} hammer;

static void *hammer_run(void *arg)
{
    hammer *h = arg;
    net_ip x = ip("192.0.2.99");
    for (int i = 0; i < 200; i++) {
        net_abuse_verdict v;
        net_abuse_failure f = {.cls = NET_CLASS_C, .ip = &x};
        if (net_abuse_check_ip(h->a, &x, 0, T0, M0, &v) != TALLY_OK ||
            net_abuse_fail(h->a, &f, T0, M0, NULL) != TALLY_OK) {
            return NULL;
        }
        h->admitted += v.result == NET_ABUSE_OK;
        h->cooled += v.result == NET_ABUSE_COOLING;
    }
    return NULL;
}

/* One handle, four threads, one instant: the window admits exactly its limit and the failures
 * add up, whatever the interleaving. */
static void shared_handle(void **state)
{
    net_abuse *a = mk((net_abuse_cfg){.rate_global = {.per_s = 65535, .per_min = 65535}});
    hammer h[4];
    pthread_t t[4];
    net_abuse_stats st;
    int admitted = 0, cooled = 0;
    (void)state;

    for (int i = 0; i < 4; i++) {
        h[i] = (hammer){.a = a};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        admitted += h[i].admitted, cooled += h[i].cooled;
    }
    net_abuse_stats_get(a, T0, M0, &st);
    assert_int_equal(st.failures[NET_CLASS_C][0], 800);
    assert_int_equal(st.cooldowns_active[0], 1);
    /* admitted until the 50th failure started a cooldown, then refused as cooling */
    assert_true(admitted <= 50);
    assert_int_equal(admitted + cooled + (int)st.rate_limited[NET_SCOPE_IP][NET_WINDOW_1S], 800);
    net_abuse_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_arith),
        cmocka_unit_test(key_reserve_release),
        cmocka_unit_test(hotkey_cooldown),
        cmocka_unit_test(forged_key_charges_ip),
        cmocka_unit_test(ip_cooldown_count_and_keys),
        cmocka_unit_test(fail2ban),
        cmocka_unit_test(critical_strikes),
        cmocka_unit_test(probes),
        cmocka_unit_test(exempt_loopback),
        cmocka_unit_test(v6_grouping),
        cmocka_unit_test(hotkey_ident),
        cmocka_unit_test(global_window),
        cmocka_unit_test(bounded_tables),
        cmocka_unit_test(shared_handle),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

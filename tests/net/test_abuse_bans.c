/* The bans of the abuse-control engine as they are stored (protocol §7): the key and value
 * codec with its refusals, and the persistence callback (once per ban that changes, never for
 * a load or a weaker duplicate). The clock is driven by hand. */
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

static void ban_codec(void **state)
{
    uint8_t key[NET_BAN_KEY_MAX + 1], val[NET_BAN_VALUE_MAX + 1], want[64];
    size_t kn, vn, wn;
    net_ban b, back, samples[3];
    net_ip x = ip("203.0.113.9"), y = ip("2001:db8:1:2::1");
    uint8_t acct[32];
    (void)state;

    /* known answer: a probe ban */
    memset(&b, 0, sizeof(b));
    net_ident_ip(&x, &b.id);
    b.reason = NET_BAN_PROBE, b.created_ms = T0, b.strikes = 1;
    assert_int_equal(net_ban_key_encode(&b.id, key, sizeof(key), &kn), TALLY_OK);
    wn = tu_unhex("01 cb007109", want, sizeof(want));
    assert_int_equal(kn, wn);
    assert_memory_equal(key, want, wn);
    assert_int_equal(net_ban_value_encode(&b, val, sizeof(val), &vn), TALLY_OK);
    wn = tu_unhex("95 00 02 cf0000019b76daa800 01 c0", want, sizeof(want));
    assert_int_equal(vn, wn);
    assert_memory_equal(val, want, wn);
    /* round trips */
    samples[0] = b;
    memset(&samples[1], 0, sizeof(net_ban));
    net_ident_ip(&y, &samples[1].id);
    samples[1].until_ms = T0 + DAY_MS, samples[1].reason = NET_BAN_VIOLATIONS;
    samples[1].created_ms = T0, samples[1].strikes = 20;
    memset(&samples[2], 0, sizeof(net_ban));
    for (int i = 0; i < 32; i++) {
        acct[i] = (uint8_t)(0xa0 + i);
    }
    net_ident_hotkey(acct, &samples[2].id);
    samples[2].reason = NET_BAN_ADMIN, samples[2].created_ms = T0, samples[2].strikes = UINT32_MAX;
    memset(samples[2].note, 'n', NET_BAN_NOTE_MAX);
    memcpy(samples[2].note, "caf\xc3\xa9 ", 6);
    samples[2].note_len = NET_BAN_NOTE_MAX;
    for (int s = 0; s < 3; s++) {
        assert_int_equal(net_ban_key_encode(&samples[s].id, key, sizeof(key), &kn), TALLY_OK);
        assert_int_equal(net_ban_value_encode(&samples[s], val, sizeof(val), &vn), TALLY_OK);
        assert_int_equal(net_ban_decode(key, kn, val, vn, &back), TALLY_OK);
        assert_memory_equal(&back, &samples[s], sizeof(back));
        /* every truncation of the key or the value, and one byte more, are refused */
        for (size_t i = 0; i < kn; i++) {
            /* the key's length is the family: a v6 /64 cut to 4 bytes is some IPv4 address */
            if (s == 1 && i == 5) {
                assert_int_equal(net_ban_decode(key, i, val, vn, &back), TALLY_OK);
                assert_int_equal(back.id.len, 4);
                continue;
            }
            assert_int_equal(net_ban_decode(key, i, val, vn, &back), TALLY_EFORMAT);
        }
        for (size_t i = 0; i < vn; i++) {
            assert_int_equal(net_ban_decode(key, kn, val, i, &back), TALLY_EFORMAT);
        }
        val[vn] = 0xc0;
        assert_int_equal(net_ban_decode(key, kn, val, vn + 1, &back), TALLY_EFORMAT);
        key[kn] = 0;
        assert_int_equal(net_ban_decode(key, kn + 1, val, vn, &back), TALLY_EFORMAT);
        /* a buffer one byte short: refused, nothing written */
        memset(want, 0xee, sizeof(want));
        assert_int_equal(net_ban_value_encode(&samples[s], want, vn < 64 ? vn - 1 : 0, &wn),
                         TALLY_ELIMIT);
        assert_int_equal(wn, 0);
        assert_int_equal(want[0], 0xee);
        assert_int_equal(net_ban_key_encode(&samples[s].id, key, kn - 1, &wn), TALLY_ELIMIT);
    }
    /* bad values: non-canonical int, unknown reason, reason 0, strikes above u32, an empty note,
     * a control character, a map, a 4-array */
    static const char *const bad_vals[] = {
        "95 00 cc02 cf0000019b76daa800 01 c0",
        "95 00 07 cf0000019b76daa800 01 c0",
        "95 00 00 cf0000019b76daa800 01 c0",
        "95 00 02 cf0000019b76daa800 cf0000000100000000 c0",
        "95 00 02 cf0000019b76daa800 01 a0",
        "95 00 02 cf0000019b76daa800 01 a107",
        "81 00 00",
        "94 00 02 cf0000019b76daa800 01",
        "95 cf0020000000000000 02 00 01 c0",
        "95 00 02 00 01 c4 01 41",
    };
    wn = tu_unhex("01 cb007109", key, sizeof(key));
    for (size_t i = 0; i < sizeof(bad_vals) / sizeof(bad_vals[0]); i++) {
        vn = tu_unhex(bad_vals[i], val, sizeof(val));
        if (net_ban_decode(key, wn, val, vn, &back) != TALLY_EFORMAT) {
            fail_msg("accepted %s", bad_vals[i]);
        }
    }
    /* bad keys: unknown kind, IP of 5 bytes, hotkey of 8 */
    vn = tu_unhex("95 00 02 00 01 c0", val, sizeof(val));
    static const char *const bad_keys[] = {"03 cb007109", "01 cb00710900", "02 0011223344556677",
                                           "00"};
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        kn = tu_unhex(bad_keys[i], key, sizeof(key));
        assert_int_equal(net_ban_decode(key, kn, val, vn, &back), TALLY_EFORMAT);
    }
    kn = tu_unhex("01 cb007109", key, sizeof(key));
    assert_int_equal(net_ban_decode(key, kn, val, vn, &back), TALLY_OK);
    b.note_len = 1, b.note[0] = '\n';
    assert_int_equal(net_ban_value_encode(&b, val, sizeof(val), &vn), TALLY_EINVAL);
}

/* The persistence callback: once per ban that changes, never for a load or a weaker duplicate. */
static void persistence(void **state)
{
    rec r = {0};
    net_abuse *a = mk((net_abuse_cfg){.persist = persist, .persist_arg = &r});
    net_ip x = ip("192.0.2.50"), y = ip("192.0.2.51");
    net_ban b, *list;
    net_ident id;
    size_t n;
    (void)state;

    memset(&b, 0, sizeof(b));
    net_ident_ip(&x, &b.id);
    b.reason = NET_BAN_ADMIN, b.until_ms = T0 + 1000, b.created_ms = T0;
    memcpy(b.note, "abuse desk ticket 7", 19);
    b.note_len = 19;
    assert_int_equal(net_abuse_ban_load(a, &b), TALLY_OK);
    assert_int_equal(r.added + r.removed, 0);
    assert_int_equal(check_ip(a, &x, T0 + 999, M0).result, NET_ABUSE_BANNED);
    assert_int_equal(net_abuse_ban_add(a, &b), TALLY_OK);
    assert_int_equal(r.added, 1);
    assert_memory_equal(&r.last, &b, sizeof(b));
    /* a probe from a banned identity upgrades it to permanent: reported; a second probe not */
    charge(a, NET_CLASS_P, &x, NULL, NULL, T0, M0);
    assert_int_equal(r.added, 2);
    assert_int_equal(r.last.until_ms, 0);
    charge(a, NET_CLASS_P, &x, NULL, NULL, T0, M0);
    assert_int_equal(r.added, 2);
    assert_int_equal(net_abuse_bans_list(a, &list, &n), TALLY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].reason, NET_BAN_PROBE);
    free(list);
    net_ident_ip(&x, &id);
    assert_int_equal(net_abuse_ban_remove(a, &id), TALLY_OK);
    assert_int_equal(r.removed, 1);
    assert_memory_equal(&r.last.id, &id, sizeof(id));
    assert_int_equal(net_abuse_ban_remove(a, &id), TALLY_ENOTFOUND);
    assert_int_equal(r.removed, 1);
    assert_int_equal(check_ip(a, &x, T0, M0).result, NET_ABUSE_OK);
    /* a bad ban is refused before anything changes */
    b.reason = 0;
    assert_int_equal(net_abuse_ban_add(a, &b), TALLY_EINVAL);
    b.reason = NET_BAN_ADMIN, b.id.len = 5;
    assert_int_equal(net_abuse_ban_load(a, &b), TALLY_EINVAL);
    assert_int_equal(r.added, 2);
    /* purge reports only expired bans */
    net_ident_ip(&y, &b.id);
    b.until_ms = 0;
    assert_int_equal(net_abuse_ban_add(a, &b), TALLY_OK);
    size_t purged;
    net_abuse_bans_purge(a, T0 + 100 * DAY_MS, &purged);
    assert_int_equal(purged, 0);
    assert_int_equal(r.removed, 1);
    assert_int_equal(net_abuse_bans_list(a, &list, &n), TALLY_OK);
    assert_int_equal(n, 1);
    free(list);
    net_abuse_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ban_codec),
        cmocka_unit_test(persistence),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

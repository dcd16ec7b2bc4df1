/* Every record type: fixed expected bytes (known answers), decode(encode(x)) == x, every
 * truncation and every single-byte change rejected or re-encoding to exactly itself, too-small
 * buffers, and the non-canonical forms of spec §2.2 and §12. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"
#include "util/samples.h"
#include "util/testutil.h"

static const struct {
    unsigned type;
    int variant;
    const char *hex;
} golden[] = {
    {1, 0, "97a3742f3101c420101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f00ab74616c6c792d302e312e309097010acd0168cdffff01cd0100c0"},
    {1, 1, "97b474616c6c792e6578616d706c652e6f72672f353739c420101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2fcf0000019b76daa800ab74616c6c792d302e312e309292b464656361792e68616c665f6c6966655f646179730a92b46e6f726d616c697a6174696f6e2e6d6574686f64af7a73636f72655f6c6f6769737469639739cf000000012a05f200cd0168cdffff08cd0100c420404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"},
    {2, 0, "929192b3617574682e726571756972655f7065726d6974c2c0"},
    {2, 1, "929292b3617574682e726571756972655f7065726d6974c392ab736872696e6b6167652e6bfbb87261697365206b20e2809420616674657220726576696577"},
    {3, 0, "97010acd0168cdffff01cd0100c0"},
    {3, 1, "9739cf000000012a05f200cd0168cdffff08cd0100c420404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"},
    {4, 0, "953901000190"},
    {4, 1, "9539ce003d09000102929600c420808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fcf01b69b4ba630f34ec2c3c420a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf96ccc8c4208182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0cf01b69b4ba630f34ec3c3c420a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0"},
    {5, 0, "9901a6736f63636572a178a141a142c0cf0000019b7b49e90001c0"},
    {5, 1, "99cf001fffffffffffffa6736f63636572a345504cd9244272696768746f6e202620486f766520416c62696f6e20e2809420c39c6ec3af636f6465a142ac416d6578205374616469756dcf0000019b7b49e90004ae73723a6d617463683a3132333435"},
    {6, 0, "95ce00015f91cd109201c093010203"},
    {6, 1, "95ce00015f91cd109203ce9502f900920405"},
    {7, 0, "96ce00015f91aa73706f72747364617461a162cf0000019b7ab15280919201ce71d84980c410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"},
    {7, 1, "96ce00015f91aa73706f72747364617461a870696e6e61636c65cf0000019b7ab15280929201ce71d849809202ce7d2b7500c410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"},
    {8, 0, "94ce00015f91cf0000019b7b49e900919501ce1f34e512ce71d8498003c0c410333435363738393a3b3c3d3e3f404142"},
    {8, 1, "94ce00015f91cf0000019b7b49e900929501ce1f34e512ce71d8498003ce0012d6879502ce1c65e4eece7d1aac2002c0c410333435363738393a3b3c3d3e3f404142"},
    {9, 0, "94ce00015f91cf0000019b7b49e900919501ce1f34e512ce71d8498003c0c410333435363738393a3b3c3d3e3f404142"},
    {9, 1, "94ce00015f91cf0000019b7b49e900929501ce1f34e512ce71d8498003ce0012d6879502ce1c65e4eece7d1aac2002c0c410333435363738393a3b3c3d3e3f404142"},
    {10, 0, "95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce1f34e5119302ce7d2b7500ce1c62170cc410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"},
    {10, 1, "95cf0006474846204000ccc7cd10929294ce00015f9101c0929301ce71d84980ce1f34e5119302ce7d2b7500ce1c62170c94ce00015f9201cf0000019b76daa800939301ce71d84980ce1f34e5119302ce7d2b7500ce1c62170c9303ced09dc300ce1107a76ec410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"},
    {11, 0, "98010000cd109207c0c0c0"},
    {11, 1, "98024d03cd10920201cd270fc4100102030405060708090a0b0c0d0e0f10"},
    {12, 0, "960101d92b70726f76696465722073656e7420612077726f6e6720726573756c7420666f72206576656e7420343234329001ab74616c6c792d302e312e30"},
    {12, 1, "96ceffffffff08d92b70726f76696465722073656e7420612077726f6e6720726573756c7420666f72206576656e7420343234329307cd1092cf001fffffffffffff03ab74616c6c792d302e312e30"},
    {13, 0, "9905010cc4200102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20c42002030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021c420030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021220100c0"},
    {13, 1, "9905ce00011170cf0000010000000000c4200102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20c42002030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021c420030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021220201cd032c"},
    {14, 0, "950100cf0000019b76daa80007ab74616c6c792d302e312e30"},
    {14, 1, "95cd03e800cf0000019b76daa800ce075bcd15ab74616c6c792d302e312e30"},
    {32, 0, "9903cd032c11ce00015f9102cf0000019b76daa800c0c0c410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"},
    {32, 1, "9903cd032c11ce00015f9102cf0000019b76daa80095d2ff439eb2ce0023caced2c4653600ce1dcd6500cd05a096ce0ee6b280ce2950962dd3fffc72815b398000ce05f5e100fbc3c410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"},
    {33, 0, "9b0311c4208182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0cf0000019b76daa8000000959200009200009200009200009200009e000000000000000000000000c0c097ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd650094ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd6500"},
    {33, 1, "9b0311c4208182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0cf0000019b76daa800ceee6b2800cf0000001cbe991a149592000092d2c46535f90392d288ca6bf20692d3ffffffff4d2fa1eb0992d3ffffffff1194d7e40c9ece1dcd6500ce17d78400ce11e1a300ce0bebc200ce05f5e10000d2fa0a1f00d2f4143e00d2ee1e5d00d2e8287c00d2e2329b00d2dc3cba00d2d646d900d2d050f80097ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd6500ce1dcd650094ce2b931193ce2b931193ce2b931193ce2b931193ce25293215"},
    {34, 0, "950339910091cdffffc42055565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f7071727374"},
    {34, 1, "950339930005cd012c93cdffff01cd9c40c42055565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f7071727374"},
    {35, 0, "9303c420666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283848564"},
    {35, 1, "9303c420666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485ce10000000"},
};

static size_t golden_bytes(size_t i, uint8_t *out, size_t cap)
{
    return tu_unhex(golden[i].hex, out, cap);
}

static void test_golden_bytes(void **state)
{
    uint8_t want[4096], got[4096];
    (void)state;
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
        schema_body b;
        size_t n, wn = golden_bytes(i, want, sizeof(want));
        tu_sample(golden[i].type, golden[i].variant, &b);
        assert_int_equal(schema_body_encode(&b, got, sizeof(got), &n), TALLY_OK);
        assert_int_equal(n, wn);
        assert_memory_equal(got, want, n);
    }
}

/* decode(encode(x)) == x, checked through the bytes and the JSON view both ways. */
static void test_roundtrip(void **state)
{
    uint8_t a[4096], c[4096];
    (void)state;
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
        schema_body b, d, j;
        size_t na, nc;
        char *json, *json2;
        schema_field_error err;
        uint8_t salt[16] = {0};

        tu_sample(golden[i].type, golden[i].variant, &b);
        assert_int_equal(schema_body_encode(&b, a, sizeof(a), &na), TALLY_OK);
        assert_int_equal(schema_body_decode(b.type, a, na, &d), TALLY_OK);
        assert_int_equal(schema_body_encode(&d, c, sizeof(c), &nc), TALLY_OK);
        assert_int_equal(na, nc);
        assert_memory_equal(a, c, na);

        assert_int_equal(schema_body_to_json(&d, &json), TALLY_OK);
        assert_int_equal(schema_body_from_json(b.type, json, strlen(json), salt, &j, &err),
                         TALLY_OK);
        assert_int_equal(schema_body_encode(&j, c, sizeof(c), &nc), TALLY_OK);
        assert_int_equal(na, nc);
        assert_memory_equal(a, c, na);
        assert_int_equal(schema_body_to_json(&j, &json2), TALLY_OK);
        assert_string_equal(json, json2);
        free(json);
        free(json2);
        schema_body_release(&j);
        schema_body_release(&d);
    }
}

/* Each truncation fails; each single-byte change fails or decodes to a body that re-encodes to
 * exactly the changed bytes (a different but canonical record). */
static void test_mutations(void **state)
{
    uint8_t a[4096], m[4096], c[4096];
    (void)state;
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
        unsigned type = golden[i].type;
        size_t n = golden_bytes(i, a, sizeof(a));
        schema_body d;

        for (size_t cut = 0; cut < n; cut++) {
            assert_int_equal(schema_body_decode(type, a, cut, &d), TALLY_EFORMAT);
        }
        memcpy(m, a, n);
        m[n] = 0xc0;
        assert_int_equal(schema_body_decode(type, m, n + 1, &d), TALLY_EFORMAT);
        for (size_t pos = 0; pos < n; pos++) {
            for (unsigned delta = 1; delta < 256; delta++) {
                size_t nc;
                tally_status st;
                memcpy(m, a, n);
                m[pos] = (uint8_t)(m[pos] + delta);
                st = schema_body_decode(type, m, n, &d);
                if (st == TALLY_OK) {
                    assert_int_equal(schema_body_encode(&d, c, sizeof(c), &nc), TALLY_OK);
                    assert_int_equal(nc, n);
                    assert_memory_equal(c, m, n);
                    schema_body_release(&d);
                } else {
                    assert_int_equal(st, TALLY_EFORMAT);
                }
            }
        }
    }
}

/* Every too-small buffer gives TALLY_ELIMIT and is left untouched. */
static void test_small_buffers(void **state)
{
    uint8_t full[4096], buf[4096];
    (void)state;
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
        schema_body b;
        size_t n, got;
        tu_sample(golden[i].type, golden[i].variant, &b);
        assert_int_equal(schema_body_encode(&b, full, sizeof(full), &n), TALLY_OK);
        for (size_t cap = 0; cap < n; cap++) {
            memset(buf, 0xaa, sizeof(buf));
            assert_int_equal(schema_body_encode(&b, buf, cap, &got), TALLY_ELIMIT);
            assert_int_equal(got, 0);
            for (size_t k = 0; k < sizeof(buf); k++) {
                assert_int_equal(buf[k], 0xaa);
            }
        }
    }
}

static tally_status dec_hex(unsigned type, const char *hex)
{
    uint8_t b[512];
    size_t n = tu_unhex(hex, b, sizeof(b));
    schema_body d;
    tally_status st = schema_body_decode(type, b, n, &d);
    schema_body_release(&d);
    return st;
}

/* spec §12 rows 10–12 and §2.2: JSON text, floats, maps, depth, wider forms than needed. */
static void test_non_canonical(void **state)
{
    (void)state;
    /* STATE_HASH [3, hash, 100] in canonical form decodes */
    assert_int_equal(dec_hex(35, "9303c420666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                                 "80818283848564"),
                     TALLY_OK);
    /* 3 as uint8, 100 as uint16, 100 as int8 */
    assert_int_equal(dec_hex(35, "93cc03c420666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                                 "80818283848564"),
                     TALLY_EFORMAT);
    assert_int_equal(dec_hex(35, "9303c420666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                                 "808182838485cd0064"),
                     TALLY_EFORMAT);
    assert_int_equal(dec_hex(35, "9303c420666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                                 "808182838485d064"),
                     TALLY_EFORMAT);
    /* float64 in place of an integer; a map in place of the array; array16 of 3 */
    assert_int_equal(dec_hex(35, "9303c420666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                                 "808182838485cb4059000000000000"),
                     TALLY_EFORMAT);
    assert_int_equal(dec_hex(35, "8100c0"), TALLY_EFORMAT);
    assert_int_equal(dec_hex(35, "dc000303c420666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e"
                                 "7f80818283848564"),
                     TALLY_EFORMAT);
    /* JSON text */
    assert_int_equal(dec_hex(35, "7b7d"), TALLY_EFORMAT);
    /* EVENT whose sport "x" is sent as str8 (d9 01 78) instead of fixstr */
    assert_int_equal(dec_hex(5, "9901a6736f63636572a178a141a142c0cf0000019b7b49e90001c0"),
                     TALLY_OK);
    assert_int_equal(dec_hex(5, "9901a6736f63636572d90178a141a142c0cf0000019b7b49e90001c0"),
                     TALLY_EFORMAT);
    /* a team name with U+0007, and one with an overlong '/' (c0 af) */
    assert_int_equal(dec_hex(5, "9901a6736f63636572a178a107a142c0cf0000019b7b49e90001c0"),
                     TALLY_EFORMAT);
    assert_int_equal(dec_hex(5, "9901a6736f63636572a178a2c0afa142c0cf0000019b7b49e90001c0"),
                     TALLY_EFORMAT);
    /* MARKET with sides out of order (2, 1) and a moneyline with only home */
    assert_int_equal(dec_hex(6, "95ce00015f91cd109201c0920201"), TALLY_EFORMAT);
    assert_int_equal(dec_hex(6, "95ce00015f91cd109201c09101"), TALLY_EFORMAT);
    /* ODDS_SUBMISSION without salt (4 fields) and with a 15-byte salt (spec §12 row 45) */
    assert_int_equal(dec_hex(10, "94cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce"
                                 "1f34e5119302ce7d2b7500ce1c62170c"),
                     TALLY_EFORMAT);
    assert_int_equal(dec_hex(10, "95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce"
                                 "1f34e5119302ce7d2b7500ce1c62170cc40ff0f1f2f3f4f5f6f7f8f9fafbfcfdfe"),
                     TALLY_EFORMAT);
    /* unknown type */
    assert_int_equal(dec_hex(15, "90"), TALLY_EFORMAT);
}

static void test_header_rules(void **state)
{
    schema_body b;
    uint8_t body[512], hb[256], pk[32], sk[64];
    size_t n, hn;
    schema_header h, d;
    (void)state;

    crypto_sign_keypair(pk, sk);
    for (size_t t = 0; t < 18; t++) {
        for (int v = 0; v < 2; v++) {
            tu_sample(tu_types[t], v, &b);
            assert_int_equal(schema_body_encode(&b, body, sizeof(body), &n), TALLY_OK);
            assert_int_equal(schema_header_init(&b, body, n, pk, &h), TALLY_OK);
            h.time_ms = 1767225600150ull;
            assert_int_equal(schema_record_sign(&h, (tally_str){"o", 1}, sk), TALLY_OK);
            assert_int_equal(schema_header_encode(&h, hb, sizeof(hb), &hn), TALLY_OK);
            assert_true(hn >= SCHEMA_HEADER_MIN && hn <= SCHEMA_HEADER_MAX);
            assert_int_equal(schema_header_decode(hb, hn, &d), TALLY_OK);
            assert_int_equal(schema_record_check(&d, body, n, NULL), TALLY_OK);
            assert_int_equal(schema_record_verify(&d, (tally_str){"o", 1}), TALLY_OK);
            for (size_t cut = 0; cut < hn; cut++) {
                assert_int_equal(schema_header_decode(hb, cut, &d), TALLY_EFORMAT);
            }
            /* a body that is not the header's fails the check */
            body[n - 1] ^= 1;
            assert_int_equal(schema_record_check(&h, body, n, NULL), TALLY_EFORMAT);
            /* a header whose tier disagrees with its type is not a header */
            h.tier = h.tier == SCHEMA_GATED ? SCHEMA_PRIVATE : SCHEMA_GATED;
            h.has_event_id = false;
            assert_int_equal(schema_header_encode(&h, hb, sizeof(hb), &hn), TALLY_EINVAL);
        }
    }
}

static void test_ss58(void **state)
{
    /* Alice's well-known dev account on prefix 42 */
    uint8_t alice[32], back[32];
    char s[49];
    (void)state;
    tu_unhex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", alice, 32);
    schema_ss58_encode(alice, s);
    assert_string_equal(s, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    assert_int_equal(schema_ss58_decode(s, back), TALLY_OK);
    assert_memory_equal(alice, back, 32);
    s[5] = s[5] == 'a' ? 'b' : 'a';
    assert_int_equal(schema_ss58_decode(s, back), TALLY_EFORMAT);
    assert_int_equal(schema_ss58_decode("0OIl", back), TALLY_EFORMAT);
}

static void test_json_errors(void **state)
{
    schema_body b;
    schema_field_error err;
    const char *bad[] = {
        "{", "[]", "{\"cycle\":1,\"state_hash\":\"00\",\"state_len\":1}",
        "{\"cycle\":-1,\"state_hash\":\"" "0000000000000000000000000000000000000000000000000000000000000000"
        "\",\"state_len\":1}",
        "{\"cycle\":1,\"state_hash\":\"" "0000000000000000000000000000000000000000000000000000000000000000"
        "\",\"state_len\":1,\"extra\":2}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(schema_body_from_json(35, bad[i], strlen(bad[i]), NULL, &b, &err),
                         TALLY_EFORMAT);
        assert_true(err.what[0] != '\0');
    }
}

/* MINER_SCORE's fixed arrays are JSON objects named after their elements (protocol §2.5,
 * §14 item 5): the exact view of a sample, the same bytes back from it (also as a `tally
 * append` line, members in any order), and the positional form, a missing, unknown or
 * mistyped member, and nil outside sos and lead all rejected with the member named. */
static const char ms_json[] =
    "{\"cycle\":3,\"uid\":17,\"hotkey\":\"5EzWoeAJspS87wWjVsjiEob1ubLJyG8rLGNGXLL255PvvR5g\","
    "\"as_of_ms\":1767225600000,\"n_rows\":4000000000,\"n_eff\":123456789012,"
    "\"acc\":{\"cle\":{\"ws\":0,\"wt\":0},\"mes\":{\"ws\":-1000000007,\"wt\":3},"
    "\"pss_adj\":{\"ws\":-2000000014,\"wt\":6},\"brier\":{\"ws\":-3000000021,\"wt\":9},"
    "\"fq\":{\"ws\":-4000000028,\"wt\":12}},"
    "\"stats\":{\"es_mean\":500000000,\"es_std\":400000000,\"es_adj\":300000000,"
    "\"mes_mean\":200000000,\"mes_shrunk\":100000000,\"pss_mean\":0,\"pss_shrunk\":-100000000,"
    "\"brier_mean\":-200000000,\"fq_raw\":-300000000,\"fq_shrunk\":-400000000,"
    "\"cal\":-500000000,\"sharp\":-600000000,\"sos\":-700000000,\"lead\":-800000000},"
    "\"norms\":{\"fq\":500000000,\"cal\":500000000,\"pss\":500000000,\"es\":500000000,"
    "\"mes\":500000000,\"sos\":500000000,\"lead\":500000000},"
    "\"dims\":{\"forecast\":731058579,\"skill\":731058579,\"econ\":731058579,"
    "\"info\":731058579},\"skill\":623456789}";

/* ms_json with the first occurrence of `from` replaced by `to`. */
static char *ms_json_with(const char *from, const char *to)
{
    const char *at = strstr(ms_json, from);
    size_t pre, n = sizeof(ms_json) + strlen(to);
    char *s = malloc(n);

    assert_non_null(at);
    assert_non_null(s);
    pre = (size_t)(at - ms_json);
    snprintf(s, n, "%.*s%s%s", (int)pre, ms_json, to, at + strlen(from));
    return s;
}

static void test_miner_score_json(void **state)
{
    uint8_t want[4096], got[4096];
    schema_body b, j;
    schema_json_input in;
    size_t wn, gn, n_members;
    char *json, *line, msg[400];
    schema_field_error err;
    const char *const *dims;
    (void)state;

    tu_sample(SCHEMA_MINER_SCORE, 1, &b);
    assert_int_equal(schema_body_encode(&b, want, sizeof(want), &wn), TALLY_OK);
    assert_int_equal(schema_body_to_json(&b, &json), TALLY_OK);
    assert_string_equal(json, ms_json);
    free(json);
    assert_int_equal(schema_body_from_json(SCHEMA_MINER_SCORE, ms_json, strlen(ms_json), NULL, &j,
                                           &err),
                     TALLY_OK);
    assert_int_equal(schema_body_encode(&j, got, sizeof(got), &gn), TALLY_OK);
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
    schema_body_release(&j);

    /* as `tally append` reads it, with dims' members in another order */
    json = ms_json_with("\"dims\":{\"forecast\":731058579,\"skill\":731058579,",
                        "\"dims\":{\"skill\":731058579,\"forecast\":731058579,");
    line = malloc(strlen(json) + 64);
    assert_non_null(line);
    sprintf(line, "{\"type\":\"MINER_SCORE\",\"body\":%s}", json);
    assert_int_equal(schema_input_from_json(line, strlen(line), NULL, &in, &err),
                     TALLY_OK);
    assert_int_equal(schema_body_encode(&in.body, got, sizeof(got), &gn), TALLY_OK);
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
    schema_body_release(&in.body);
    free(line);
    free(json);

    dims = schema_field_members(SCHEMA_MINER_SCORE, "dims", &n_members);
    assert_int_equal(n_members, 4);
    assert_string_equal(dims[0], "forecast");
    assert_string_equal(dims[3], "info");
    assert_null(schema_field_members(SCHEMA_MINER_SCORE, "skill", &n_members));
    assert_int_equal(n_members, 0);
    assert_null(schema_field_members(SCHEMA_WEIGHTS, "dims", &n_members));

    static const struct {
        const char *from, *to, *named;
    } bad[] = {
        {"\"dims\":{\"forecast\":731058579,\"skill\":731058579,\"econ\":731058579,"
         "\"info\":731058579}",
         "\"dims\":[731058579,731058579,731058579,731058579]", "dims"},
        {"\"cal\":-500000000,", "", "stats.cal: missing"},
        {"\"lead\":-800000000}", "\"lead\":-800000000,\"spin\":1}", "stats.spin"},
        {"\"es\":500000000", "\"es\":\"x\"", "norms.es"},
        {"\"brier\":{\"ws\":-3000000021,\"wt\":9}", "\"brier\":[-3000000021,9]", "acc"},
        {"\"es_mean\":500000000", "\"es_mean\":null", "stats.es_mean: only sos and lead"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json = ms_json_with(bad[i].from, bad[i].to);
        assert_int_equal(schema_body_from_json(SCHEMA_MINER_SCORE, json, strlen(json), NULL, &j,
                                               &err),
                         TALLY_EFORMAT);
        snprintf(msg, sizeof(msg), "field %s: %s", err.path, err.what);
        if (strstr(msg, bad[i].named) == NULL) {
            fail_msg("case %zu: '%s' does not name %s", i, msg, bad[i].named);
        }
        free(json);
    }
    /* sos and lead may be nil, and come back nil */
    json = ms_json_with("\"sos\":-700000000", "\"sos\":null");
    assert_int_equal(schema_body_from_json(SCHEMA_MINER_SCORE, json, strlen(json), NULL, &j, &err),
                     TALLY_OK);
    assert_false(j.u.miner_score.stats[12].has);
    assert_true(j.u.miner_score.stats[13].has);
    free(json);
    assert_int_equal(schema_body_to_json(&j, &json), TALLY_OK);
    assert_non_null(strstr(json, "\"sharp\":-600000000,\"sos\":null,\"lead\":-800000000}"));
    free(json);
    schema_body_release(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_bytes),  cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_mutations),     cmocka_unit_test(test_small_buffers),
        cmocka_unit_test(test_non_canonical), cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_ss58),          cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_miner_score_json),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* C2SP tlog-cosignature (cosignature/v1): a byte-exact line computed independently, sign and
 * verify, mutations that must fail, checkpoint notes that carry cosignature lines (still valid
 * for a client that knows only the node key), and bad input for every parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"

/* The vector: seed 0x01..0x20, name witness.example/w1, timestamp 1767225600, over the text of
 * a checkpoint of size 42 with a zero root. The expected vkey and line were computed with
 * tests/store/cosig_vector.py (Python's hashlib and the `cryptography` package's Ed25519, no
 * tally code), following c2sp.org/tlog-cosignature and c2sp.org/signed-note. */
#define W_NAME "witness.example/w1"
#define W_TIME 1767225600u
#define W_TEXT "example.org/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
#define W_VKEY "witness.example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk"
#define W_LINE                                                                                     \
    "\xe2\x80\x94 witness.example/w1 Ro2ZuwAAAABpVbkAJdqPRZCFMovIvXohbOIYwPcYo3WNIMHrz0ejUdt/w2V"  \
    "pLM5NrYyIdNMzPuqEiNaChjKXslyMR/zxN/lnYDKBDg==\n"

static void keys(uint8_t pk[32], uint8_t sk[64], uint8_t first)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(first + i);
    }
    crypto_sign_seed_keypair(pk, sk, seed);
}

static void test_vector(void **state)
{
    uint8_t pk[32], sk[64], id[4], pk2[32];
    char vkey[512], line[STORE_COSIG_LINE_MAX], name[STORE_NOTE_NAME_MAX + 1];
    uint64_t ts;
    size_t n;
    (void)state;

    keys(pk, sk, 1);
    assert_int_equal(store_cosig_vkey(W_NAME, pk, vkey, sizeof(vkey)), TALLY_OK);
    assert_string_equal(vkey, W_VKEY);
    assert_int_equal(store_cosig_vkey_parse(W_VKEY, name, id, pk2), TALLY_OK);
    assert_string_equal(name, W_NAME);
    assert_memory_equal(pk2, pk, 32);
    assert_memory_equal(id, "\x46\x8d\x99\xbb", 4);
    assert_int_equal(
        store_cosig_sign(W_TEXT, strlen(W_TEXT), W_NAME, sk, W_TIME, line, sizeof(line), &n),
        TALLY_OK);
    assert_string_equal(line, W_LINE);
    assert_int_equal(n, strlen(W_LINE));
    assert_int_equal(
        store_cosig_verify(W_TEXT, strlen(W_TEXT), W_LINE, strlen(W_LINE), W_VKEY, &ts), TALLY_OK);
    assert_int_equal(ts, W_TIME);
    /* too small a buffer: ELIMIT and an empty string, for the vkey and the line */
    assert_int_equal(store_cosig_vkey(W_NAME, pk, vkey, strlen(W_VKEY)), TALLY_ELIMIT);
    assert_string_equal(vkey, "");
    assert_int_equal(
        store_cosig_sign(W_TEXT, strlen(W_TEXT), W_NAME, sk, W_TIME, line, strlen(W_LINE), &n),
        TALLY_ELIMIT);
    assert_int_equal(n, 0);
}

static void test_mutations(void **state)
{
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    char vkey[512], other[512], line[STORE_COSIG_LINE_MAX], bad[STORE_COSIG_LINE_MAX];
    const char *text = W_TEXT;
    uint8_t blob[76];
    size_t n, bn;
    uint64_t ts;
    (void)state;

    keys(pk, sk, 1);
    keys(pk2, sk2, 100);
    assert_int_equal(store_cosig_vkey(W_NAME, pk, vkey, sizeof(vkey)), TALLY_OK);
    assert_int_equal(store_cosig_sign(text, strlen(text), W_NAME, sk, 5, line, sizeof(line), &n),
                     TALLY_OK);
    assert_int_equal(store_cosig_verify(text, strlen(text), line, n, vkey, &ts), TALLY_OK);
    assert_int_equal(ts, 5);
    /* another key under the same name: its id differs, the line is not its own */
    assert_int_equal(store_cosig_vkey(W_NAME, pk2, other, sizeof(other)), TALLY_OK);
    assert_int_equal(store_cosig_verify(text, strlen(text), line, n, other, &ts), TALLY_ENOTFOUND);
    /* the same key under another name */
    assert_int_equal(store_cosig_vkey("witness.example/w2", pk, other, sizeof(other)), TALLY_OK);
    assert_int_equal(store_cosig_verify(text, strlen(text), line, n, other, &ts), TALLY_ENOTFOUND);
    /* another size or root in the text */
    assert_int_equal(store_cosig_verify("example.org/log\n43\n"
                                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                                        strlen(text), line, n, vkey, &ts),
                     TALLY_EAUTH);
    assert_int_equal(store_cosig_verify("example.org/log\n42\n"
                                        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                                        strlen(text), line, n, vkey, &ts),
                     TALLY_EAUTH);
    /* a text with an extension line is another message */
    assert_int_equal(store_cosig_verify(W_TEXT "ext\n", strlen(text) + 4, line, n, vkey, &ts),
                     TALLY_EAUTH);
    /* a changed timestamp, or any flipped bit of the signature */
    const char *b64 = strrchr(line, ' ') + 1;
    assert_int_equal(sodium_base642bin(blob, sizeof(blob), b64, strlen(b64) - 1, NULL, &bn, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(bn, 76);
    for (size_t bit = 32; bit < 76 * 8; bit += 13) {
        char enc[128];
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sodium_bin2base64(enc, sizeof(enc), blob, 76, sodium_base64_VARIANT_ORIGINAL);
        snprintf(bad, sizeof(bad), "\xe2\x80\x94 %s %s\n", W_NAME, enc);
        assert_int_equal(store_cosig_verify(text, strlen(text), bad, strlen(bad), vkey, &ts),
                         TALLY_EAUTH);
        assert_int_equal(ts, 0);
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* a timestamp above 2^63 - 1 is not a cosignature, and is never signed */
    blob[4] = 0x80;
    {
        char enc[128];
        sodium_bin2base64(enc, sizeof(enc), blob, 76, sodium_base64_VARIANT_ORIGINAL);
        snprintf(bad, sizeof(bad), "\xe2\x80\x94 %s %s\n", W_NAME, enc);
        assert_int_equal(store_cosig_verify(text, strlen(text), bad, strlen(bad), vkey, &ts),
                         TALLY_EAUTH);
    }
    assert_int_equal(
        store_cosig_sign(text, strlen(text), W_NAME, sk, 1ull << 63, line, sizeof(line), &n),
        TALLY_EINVAL);
    /* the node's own (68-byte) signature under a cosigner's name and id is not a cosignature */
    {
        uint8_t short_blob[68];
        char enc[128];
        memcpy(short_blob, "\x46\x8d\x99\xbb", 4);
        memset(short_blob + 4, 0, 64);
        sodium_bin2base64(enc, sizeof(enc), short_blob, 68, sodium_base64_VARIANT_ORIGINAL);
        snprintf(bad, sizeof(bad), "\xe2\x80\x94 %s %s\n", W_NAME, enc);
        assert_int_equal(store_cosig_verify(text, strlen(text), bad, strlen(bad), W_VKEY, &ts),
                         TALLY_EAUTH);
    }
    /* bad names never sign */
    assert_int_equal(store_cosig_sign(text, strlen(text), "a b", sk, 5, line, sizeof(line), &n),
                     TALLY_EINVAL);
    assert_int_equal(store_cosig_sign(text, strlen(text), "a+b", sk, 5, line, sizeof(line), &n),
                     TALLY_EINVAL);
    assert_int_equal(store_cosig_sign(text, strlen(text), "", sk, 5, line, sizeof(line), &n),
                     TALLY_EINVAL);
    assert_int_equal(store_cosig_sign("no newline", 10, W_NAME, sk, 5, line, sizeof(line), &n),
                     TALLY_EFORMAT);
}

/* A checkpoint note of a real head, cosigned by two witnesses: the node key alone still
 * verifies it, the split finds three lines, each witness finds its own. */
static void test_note(void **state)
{
    uint8_t npk[32], nsk[64], w1pk[32], w1sk[64], w2pk[32], w2sk[64];
    char note[STORE_NOTE_MAX], text[256], l1[STORE_COSIG_LINE_MAX], l2[STORE_COSIG_LINE_MAX];
    char nvkey[512], v1[512], v2[512];
    schema_sth sth = {.origin = "tally.example/57", .tree_size = 18315, .time_ms = 1};
    uint8_t msg[SCHEMA_STH_MAX], root[32];
    store_note_parts parts;
    size_t n, tn, n1, n2;
    uint64_t size, ts;
    (void)state;

    keys(npk, nsk, 50);
    keys(w1pk, w1sk, 1);
    keys(w2pk, w2sk, 2);
    memset(sth.root, 0xab, 32);
    memcpy(sth.key, npk, 32);
    assert_int_equal(schema_sth_message(&sth, msg, sizeof(msg), &n), TALLY_OK);
    crypto_sign_detached(sth.sig, NULL, msg, n, nsk);
    assert_int_equal(store_note_text(sth.origin, sth.tree_size, sth.root, text, sizeof(text), &tn),
                     TALLY_OK);
    crypto_sign_detached(sth.note_sig, NULL, (const uint8_t *)text, tn, nsk);
    assert_int_equal(store_sth_verify(&sth, sth.origin, npk), TALLY_OK);
    assert_int_equal(store_note(&sth, note, sizeof(note), &n), TALLY_OK);
    assert_int_equal(store_vkey(sth.origin, npk, nvkey, sizeof(nvkey)), TALLY_OK);
    assert_int_equal(store_cosig_vkey("w1.audit.tally.example/57", w1pk, v1, sizeof(v1)), TALLY_OK);
    assert_int_equal(store_cosig_vkey("w2.audit.tally.example/57", w2pk, v2, sizeof(v2)), TALLY_OK);
    assert_int_equal(store_cosig_sign(text, tn, "w1.audit.tally.example/57", w1sk, 1767225600, l1,
                                      sizeof(l1), &n1),
                     TALLY_OK);
    /* a second witness, a second later */
    assert_int_equal(store_cosig_sign(text, tn, "w2.audit.tally.example/57", w2sk, 1767225601, l2,
                                      sizeof(l2), &n2),
                     TALLY_OK);
    assert_int_equal(store_note_append(note, n, sizeof(note), l1, n1, &n), TALLY_OK);
    assert_int_equal(store_note_append(note, n, sizeof(note), l2, n2, &n), TALLY_OK);
    assert_int_equal(store_note_verify(note, n, nvkey, &size, root), TALLY_OK);
    assert_int_equal(size, 18315);
    assert_memory_equal(root, sth.root, 32);
    assert_int_equal(store_note_split(note, n, &parts), TALLY_OK);
    assert_int_equal(parts.n_sigs, 3);
    assert_int_equal(parts.text.n, tn);
    assert_memory_equal(parts.text.p, text, tn);
    assert_int_equal(
        store_cosig_verify(parts.text.p, parts.text.n, parts.sigs[0].p, parts.sigs[0].n, v1, &ts),
        TALLY_ENOTFOUND); /* the node's line */
    assert_int_equal(
        store_cosig_verify(parts.text.p, parts.text.n, parts.sigs[1].p, parts.sigs[1].n, v1, &ts),
        TALLY_OK);
    assert_int_equal(ts, 1767225600);
    assert_int_equal(
        store_cosig_verify(parts.text.p, parts.text.n, parts.sigs[2].p, parts.sigs[2].n, v2, &ts),
        TALLY_OK);
    assert_int_equal(ts, 1767225601);
    /* a cosignature by the node's own key under the origin's name is ignored by note_verify */
    assert_int_equal(store_cosig_sign(text, tn, sth.origin, nsk, 7, l1, sizeof(l1), &n1), TALLY_OK);
    assert_int_equal(store_note_append(note, n, sizeof(note), l1, n1, &n), TALLY_OK);
    assert_int_equal(store_note_verify(note, n, nvkey, &size, root), TALLY_OK);
    /* a full buffer: ELIMIT, the note unchanged */
    assert_int_equal(store_note_append(note, n, n + n1, l1, n1, &tn), TALLY_ELIMIT);
    assert_int_equal(store_note_verify(note, n, nvkey, &size, root), TALLY_OK);
}

static void test_bad_input(void **state)
{
    static const char *const vkeys[] = {
        "",
        "witness.example/w1",
        "witness.example/w1+468d99bb",
        "witness.example/w1+468d99bb+",
        "+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk",
        "witness.example/w1+468D99BB+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk",
        "witness.example/w1+468d99bc+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk",
        "witness.example/w1+468d99b+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk",
        "witness.example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZ",
        "witness.example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk=",
        "witness.example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZl",
        "witness example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk",
        /* a note-signature (type 0x01) vkey of the same key is not a cosigner's */
        "witness.example/w1+10ff4c3e+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk",
    };
    static const char *const notes[] = {
        "",
        "a\n",
        "a\n\n",
        "a\n\n\xe2\x80\x94 k AAAAAAAA",
        "a\n\n\xe2\x80\x94 k AAAAAAAA\n\n",
        "a\n\n- k AAAAAAAA\n",
        "a\n\n\xe2\x80\x94 k\n",
        "a\n\n\xe2\x80\x94  AAAAAAAA\n",
        "a\n\n\xe2\x80\x94 k AAAA\n",
        "a\n\n\xe2\x80\x94 k AAAA AAAA\n",
        "a\n\n\xe2\x80\x94 k AAAAAAA!\n",
        "a\tb\n\n\xe2\x80\x94 k AAAAAAAA\n",
        "a\xff\n\n\xe2\x80\x94 k AAAAAAAA\n",
        "a\n\n\xe2\x80\x94 k+1 AAAAAAAA\n",
    };
    char name[STORE_NOTE_NAME_MAX + 1], big[STORE_NOTE_MAX + 100];
    uint8_t id[4], pk[32];
    store_note_parts parts;
    uint64_t ts;
    size_t n = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(vkeys) / sizeof(vkeys[0]); i++) {
        assert_int_equal(store_cosig_vkey_parse(vkeys[i], name, id, pk), TALLY_EFORMAT);
        assert_string_equal(name, "");
        assert_int_equal(
            store_cosig_verify(W_TEXT, strlen(W_TEXT), W_LINE, strlen(W_LINE), vkeys[i], &ts),
            TALLY_EFORMAT);
    }
    for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++) {
        assert_int_equal(store_note_split(notes[i], strlen(notes[i]), &parts), TALLY_EFORMAT);
        assert_int_equal(parts.n_sigs, 0);
    }
    /* every truncation of the vector's line: malformed, or a signature that fails */
    for (size_t k = 0; k + 1 < strlen(W_LINE); k++) {
        tally_status st = store_cosig_verify(W_TEXT, strlen(W_TEXT), W_LINE, k, W_VKEY, &ts);
        assert_true(st == TALLY_EFORMAT || st == TALLY_EAUTH || st == TALLY_ENOTFOUND);
        assert_int_equal(ts, 0);
    }
    /* 65 signature lines: more than a note may carry */
    n = (size_t)snprintf(big, sizeof(big), "%s\n", W_TEXT);
    for (int i = 0; i < 65; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "\xe2\x80\x94 k%d AAAAAAAA\n", i);
    }
    assert_int_equal(store_note_split(big, n, &parts), TALLY_ELIMIT);
    /* and a note longer than STORE_NOTE_MAX */
    memset(big, 'a', sizeof(big));
    big[STORE_NOTE_MAX - 20] = '\n';
    memcpy(big + STORE_NOTE_MAX - 19, "\n\xe2\x80\x94 k AAAAAAAAAAAA\n", 19);
    assert_int_equal(store_note_split(big, STORE_NOTE_MAX - 19 + 19 + 40, &parts), TALLY_EFORMAT);
    /* appending anything but signature lines */
    n = (size_t)snprintf(big, sizeof(big), "%s\n%s", W_TEXT, W_LINE);
    assert_int_equal(store_note_split(big, n, &parts), TALLY_OK);
    assert_int_equal(store_note_append(big, n, sizeof(big), "x\n", 2, &n), TALLY_EFORMAT);
    assert_int_equal(store_note_append(big, n, sizeof(big), W_LINE, strlen(W_LINE) - 1, &n),
                     TALLY_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_note),
        cmocka_unit_test(test_bad_input),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tally verify --checkpoint: a node's checkpoint note with witness cosignatures (c2sp.org/
 * tlog-cosignature), checked with the log's key or a given one, against a quorum of witnesses:
 * met, not met, a bad witness key, a witness line that does not verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/testutil.h"

static const char *bin;
static char out[1 << 16];

#define run tu_run

static void witness(int k, const char *text, size_t tn, uint64_t ts, char *vkey, char *line)
{
    uint8_t seed[32] = {(uint8_t)k, 1, 2}, pk[32], sk[64];
    char name[64];
    size_t n;

    snprintf(name, sizeof(name), "w%d.audit.example.org/log", k);
    crypto_sign_seed_keypair(pk, sk, seed);
    assert_int_equal(store_cosig_vkey(name, pk, vkey, 512), TALLY_OK);
    if (line != NULL) {
        assert_int_equal(store_cosig_sign(text, tn, name, sk, ts, line, STORE_COSIG_LINE_MAX, &n),
                         TALLY_OK);
    }
}

static void put(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, strlen(s), f), strlen(s));
    fclose(f);
}

static void test_checkpoint_quorum(void **state)
{
    const char *dir = tu_tmpdir("cli-cosign");
    char note[STORE_NOTE_MAX], nvkey[512], v1[512], v2[512], v3[512], path[1024], bad[1024];
    char l1[STORE_COSIG_LINE_MAX], l2[STORE_COSIG_LINE_MAX], *last;
    store_note_parts parts;
    size_t n;
    (void)state;

    assert_int_equal(
        run(out, sizeof(out), "%s init --dir %s --origin example.org/log --netuid 9", bin, dir), 0);
    assert_int_equal(run(out, sizeof(out), "%s key --dir %s", bin, dir), 0);
    out[strlen(out) - 1] = '\0';
    last = strrchr(out, '\n');
    snprintf(nvkey, sizeof(nvkey), "%.500s", last ? last + 1 : out);
    assert_int_equal(run(note, sizeof(note), "%s checkpoint --dir %s", bin, dir), 0);
    assert_int_equal(store_note_split(note, strlen(note), &parts), TALLY_OK);
    witness(1, parts.text.p, parts.text.n, 1767225600, v1, l1);
    witness(2, parts.text.p, parts.text.n, 1767225601, v2, l2);
    witness(3, NULL, 0, 0, v3, NULL);
    n = strlen(note);
    assert_int_equal(store_note_append(note, n, sizeof(note), l1, strlen(l1), &n), TALLY_OK);
    assert_int_equal(store_note_append(note, n, sizeof(note), l2, strlen(l2), &n), TALLY_OK);
    snprintf(path, sizeof(path), "%s/cosigned", dir);
    put(path, note);

    /* with the log's key: both witnesses, quorum 2 (the default: all given) */
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --dir %s --checkpoint %s --witness '%s' "
                         "--witness '%s' 2>&1",
                         bin, dir, path, v1, v2),
                     0);
    assert_non_null(strstr(out, "witness w1.audit.example.org/log: cosigned at 1767225600"));
    assert_non_null(strstr(out, "witness w2.audit.example.org/log: cosigned at 1767225601"));
    assert_non_null(strstr(out, "ok: 2 of 2 witnesses cosigned, 2 required"));
    /* standalone, with the node's vkey: 2 of 3 meet a quorum of 2, not one of 3 */
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --key '%s' --checkpoint %s --witness '%s' "
                         "--witness '%s' --witness '%s' --quorum 2 2>&1",
                         bin, nvkey, path, v1, v2, v3),
                     0);
    assert_non_null(strstr(out, "witness w3.audit.example.org/log: no cosignature"));
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --key '%s' --checkpoint %s --witness '%s' "
                         "--witness '%s' --witness '%s' --quorum 3 2>&1",
                         bin, nvkey, path, v1, v2, v3),
                     1);
    assert_non_null(strstr(out, "FAILED: 2 of 3 witnesses cosigned"));
    /* a key given twice counts once */
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --key '%s' --checkpoint %s --witness '%s' "
                         "--witness '%s' --quorum 2 2>&1",
                         bin, nvkey, path, v1, v1),
                     2);
    /* a bad witness key: exit 3; quorum 0 needs only the node */
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --key '%s' --checkpoint %s --witness "
                         "'w1+00000000+AAAA' 2>&1",
                         bin, nvkey, path),
                     3);
    assert_non_null(strstr(out, "not a cosigner's verifier key"));
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --key '%s' --checkpoint %s --witness '%s' "
                         "--quorum 0 2>&1",
                         bin, nvkey, path, v3),
                     0);
    /* the node's vkey is no witness key (type 0x01), and a witness's is no node key */
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --key '%s' --checkpoint %s --witness '%s' "
                         "2>&1",
                         bin, nvkey, path, nvkey),
                     3);
    assert_int_equal(
        run(out, sizeof(out), "%s verify --key '%s' --checkpoint %s 2>&1", bin, v1, path), 3);
    /* a witness line that does not verify (a flipped signature character): exit 7 */
    {
        char *p = strstr(note, l1);
        assert_non_null(p);
        p[strlen(l1) - 10] = p[strlen(l1) - 10] == 'A' ? 'B' : 'A';
        snprintf(bad, sizeof(bad), "%s/tampered", dir);
        put(bad, note);
    }
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --dir %s --checkpoint %s --witness '%s' "
                         "--witness '%s' --quorum 1 2>&1",
                         bin, dir, bad, v1, v2),
                     7);
    assert_non_null(strstr(out, "witness w1.audit.example.org/log has a cosignature line that "
                                "does not verify"));
    /* the node's signature is checked first: another node key is exit 7 */
    {
        uint8_t seed[32] = {5}, pk[32], sk[64];
        char other[512];
        crypto_sign_seed_keypair(pk, sk, seed);
        assert_int_equal(store_vkey("example.org/log", pk, other, sizeof(other)), TALLY_OK);
        assert_int_equal(
            run(out, sizeof(out), "%s verify --key '%s' --checkpoint %s 2>&1", bin, other, path),
            7);
    }
    /* not a note at all; usage errors */
    assert_int_equal(run(out, sizeof(out), "%s verify --key '%s' --checkpoint %s/data.mdb 2>&1",
                         bin, nvkey, dir),
                     3);
    assert_int_equal(run(out, sizeof(out), "%s verify --dir %s --witness '%s' 2>&1", bin, dir, v1),
                     2);
    assert_int_equal(run(out, sizeof(out), "%s verify --dir %s --key '%s' --checkpoint %s 2>&1",
                         bin, dir, nvkey, path),
                     2);
    assert_int_equal(run(out, sizeof(out),
                         "%s verify --key '%s' --checkpoint %s --witness '%s' "
                         "--quorum 2 2>&1",
                         bin, nvkey, path, v1),
                     2);
    assert_int_equal(run(out, sizeof(out), "%s verify --help", bin), 0);
    assert_non_null(strstr(out, "--witness VKEY"));
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_quorum),
    };
    bin = getenv("TALLY_BIN");
    if (bin == NULL || sodium_init() < 0) {
        fprintf(stderr, "TALLY_BIN must name the tally binary (ctest sets it)\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

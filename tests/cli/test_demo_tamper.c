/* `tally demo --tamper KIND` on a small simulated history (the demo's 256 miners and seed, three
 * days): every kind the demo plays is detected by both auditors and the demo exits 0; the
 * original directory is not changed; a second run refuses to overwrite the forged copy; an
 * unknown kind is a usage error. changed-input needs outcome-scored rows, which three days do
 * not have (it is tested in tests/auditor/test_forge.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"

static const char *bin;
static const char *tmp;
static char dir[600];

static int setup(void **state)
{
    char out[4096];
    (void)state;
    bin = getenv("TALLY_BIN");
    assert_non_null(bin);
    tmp = tu_tmpdir("demo_tamper");
    snprintf(dir, sizeof(dir), "%s/week", tmp);
    assert_int_equal(tu_run(out, sizeof(out),
                            "mkdir -p %s && %s --dir %s simulate --miners 256 --days 3 "
                            "--markets-per-day 6 --seed 1 -q",
                            dir, bin, dir),
                     0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(tmp);
    return 0;
}

static void kind(const char *k)
{
    char out[16384], before[4096], after[4096];

    /* not a pipe: sh would report sha256sum's status, not tally's */
    assert_int_equal(tu_run(before, sizeof(before),
                            "%s --dir %s log --from 0 > %s/log.json && sha256sum < %s/log.json",
                            bin, dir, tmp, tmp),
                     0);
    int rc = tu_run(out, sizeof(out), "%s demo --dir %s --tamper %s 2>&1", bin, dir, k);
    if (rc != 0 || strstr(out, "2 of 2 auditors detected it") == NULL) {
        fail_msg("demo --tamper %s: exit %d\n%s", k, rc, out);
    }
    assert_int_equal(tu_run(after, sizeof(after),
                            "%s --dir %s log --from 0 > %s/log.json && sha256sum < %s/log.json",
                            bin, dir, tmp, tmp),
                     0);
    assert_string_equal(before, after);
    /* the copy is kept for inspection and never overwritten */
    rc = tu_run(out, sizeof(out), "%s demo --dir %s --tamper %s 2>&1", bin, dir, k);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "remove it first"));
}

static void test_proxy_kinds(void **state)
{
    static const char *const kinds[] = {"body",      "header",   "dropped", "inserted",
                                        "reordered", "withheld", "rewind",  "bad-checkpoint"};
    (void)state;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        kind(kinds[i]);
    }
}

static void test_forged_kinds(void **state)
{
    (void)state;
    kind("forged-derived");
    kind("rule-violation");
    kind("split-view"); /* two nodes, two views, the auditors as each other's peers */
}

static void test_bad_kinds(void **state)
{
    char out[4096];
    (void)state;
    assert_int_equal(tu_run(out, sizeof(out), "%s demo --dir %s --tamper bogus 2>&1", bin, dir), 2);
    assert_non_null(strstr(out, "KIND is one of body, header"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_kinds),
        cmocka_unit_test(test_forged_kinds),
        cmocka_unit_test(test_proxy_kinds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

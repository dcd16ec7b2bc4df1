/* The `tally` binary as a user runs it: output contracts (checkpoint note, key on the last line,
 * proof files that verify), append all or nothing with clear errors, --help everywhere, and the
 * simulator's determinism and continuation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "store/store.h"
#include "util/testutil.h"

static const char *bin;

#define run tu_run

static char out[1 << 20];

static void test_help_everywhere(void **state)
{
    const char *cmds[] = {"init", "simulate", "append", "log", "show", "checkpoint", "key",
                          "proof", "tiles", "verify", "stats", "demo", "replay", "weights",
                          "explain"};
    (void)state;
    assert_int_equal(run(out, sizeof(out), "%s --help", bin), 0);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_equal(run(out, sizeof(out), "%s %s --help", bin, cmds[i]), 0);
        assert_non_null(strstr(out, "usage: tally"));
    }
    assert_int_equal(run(out, sizeof(out), "%s frobnicate 2>&1", bin), 2);
    assert_int_equal(run(out, sizeof(out), "%s log --bogus 2>&1", bin), 2);
    /* no log there: a clear message and a non-zero status */
    assert_int_equal(run(out, sizeof(out), "%s --dir /nonexistent-tally log 2>&1", bin), 4);
    assert_non_null(strstr(out, "no tally log"));
}

static void test_init_append_log(void **state)
{
    const char *dir = tu_tmpdir("cli");
    char line[2048];
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s init --dir %s --origin example.org/log --netuid 9",
                         bin, dir), 0);
    assert_int_equal(run(out, sizeof(out), "%s init --dir %s 2>&1", bin, dir), 8);
    /* two good records */
    assert_int_equal(
        run(out, sizeof(out),
            "printf '%%s\\n%%s\\n' '{\"type\":\"EVENT\",\"body\":{\"event_id\":7,\"sport\":\"soccer\","
            "\"league\":\"EPL\",\"home_team\":\"A\",\"away_team\":\"B\",\"venue\":null,"
            "\"start_ms\":1767300000000,\"status\":\"scheduled\",\"ext_id\":null}}' "
            "'{\"type\":\"MARKET\",\"body\":{\"market_id\":70,\"event_id\":7,\"kind\":\"moneyline\","
            "\"line_n\":null,\"sides\":[\"home\",\"away\"]}}' | %s append --dir %s",
            bin, dir),
        0);
    assert_non_null(strstr(out, "appended 2 records: seq 1..2"));
    /* a good line then a bad one: nothing appended, the line named */
    assert_int_equal(
        run(out, sizeof(out),
            "printf '%%s\\n%%s\\n' '{\"type\":\"EVENT\",\"body\":{\"event_id\":8,\"sport\":\"soccer\","
            "\"league\":\"EPL\",\"home_team\":\"A\",\"away_team\":\"B\",\"venue\":null,"
            "\"start_ms\":1767300000000,\"status\":\"scheduled\",\"ext_id\":null}}' "
            "'{\"type\":\"MARKET\",\"body\":{\"market_id\":71,\"event_id\":7,\"kind\":\"moneyline\","
            "\"line_n\":null,\"sides\":[\"away\",\"home\"]}}' | %s append --dir %s 2>&1",
            bin, dir),
        3);
    assert_non_null(strstr(out, "line 2"));
    assert_non_null(strstr(out, "nothing was appended"));
    assert_int_equal(run(out, sizeof(out), "echo 'not json' | %s append --dir %s 2>&1", bin, dir),
                     3);
    /* a private record: the node draws the salt */
    assert_int_equal(run(out, sizeof(out),
                         "echo '{\"type\":\"PROVIDER_QUOTE\",\"body\":{\"market_id\":70,"
                         "\"provider\":\"p\",\"book\":\"b\",\"ts_ms\":1,\"prices\":[{\"side\":"
                         "\"home\",\"odds_n\":1910000000}]}}' | %s append --dir %s",
                         bin, dir),
                     0);
    assert_int_equal(run(out, sizeof(out), "%s log --dir %s --type MARKET", bin, dir), 0);
    assert_non_null(strstr(out, "\"seq\":2"));
    assert_null(strstr(out, "\"type\":\"EVENT\""));
    assert_int_equal(run(out, sizeof(out), "%s show --dir %s 3", bin, dir), 0);
    assert_non_null(strstr(out, "\"tier\":\"private\""));
    assert_non_null(strstr(out, "\"salt\":\""));
    assert_int_equal(run(out, sizeof(out), "%s show --dir %s 4 2>&1", bin, dir), 4);
    assert_int_equal(run(out, sizeof(out), "%s log --dir %s --headers --from 1 --to 2", bin, dir),
                     0);
    snprintf(line, sizeof(line), "%.2000s", out);
    assert_non_null(strstr(line, "\"body\":null"));
    assert_null(strstr(line, "\"seq\":2"));
    assert_int_equal(run(out, sizeof(out), "%s verify --dir %s --signatures --quiet", bin, dir), 0);
    tu_rmdir(dir);
}

/* checkpoint, key and proof outputs verify against each other, as an outside verifier would. */
static void test_notes_and_proofs(void **state)
{
    const char *dir = tu_tmpdir("cli-proof");
    char vkey[512], note[2048], *p, *last;
    uint8_t root[32], leaf[32], path[STORE_PROOF_MAX][32], old_root[32];
    uint64_t size, old_size;
    size_t n = 0, bn;
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 8 --days 2 -q", bin, dir),
                     0);
    assert_int_equal(run(out, sizeof(out), "%s key --dir %s", bin, dir), 0);
    out[strlen(out) - 1] = '\0';
    last = strrchr(out, '\n');
    snprintf(vkey, sizeof(vkey), "%.500s", last ? last + 1 : out);
    assert_int_equal(run(note, sizeof(note), "%s checkpoint --dir %s", bin, dir), 0);
    assert_int_equal(store_note_verify(note, strlen(note), vkey, &size, root), TALLY_OK);
    old_size = size;
    memcpy(old_root, root, 32);

    /* the leaf of record 5, from its header in the log view */
    assert_int_equal(run(out, sizeof(out), "%s show --dir %s 5", bin, dir), 0);
    p = strstr(out, "\"leaf_hash\":\"");
    assert_non_null(p);
    assert_int_equal(schema_unhex(p + 13, 64, leaf, 32), TALLY_OK);
    assert_int_equal(run(out, sizeof(out), "%s proof --dir %s --index 5", bin, dir), 0);
    assert_int_equal(strncmp(out, "c2sp.org/tlog-proof@v1\nindex 5\n", 31), 0);
    p = out + 31;
    while (*p != '\n') {
        char *nl = strchr(p, '\n');
        assert_int_equal(sodium_base642bin(path[n++], 32, p, (size_t)(nl - p), NULL, &bn, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        p = nl + 1;
    }
    p++;
    assert_int_equal(store_note_verify(p, strlen(p), vkey, &size, root), TALLY_OK);
    assert_true(store_verify_inclusion(leaf, 5, size, (const uint8_t(*)[32])path, n, root));

    /* grow the log, then prove the new head extends the old one */
    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 8 --days 1 -q", bin, dir),
                     0);
    assert_int_equal(run(note, sizeof(note), "%s checkpoint --dir %s", bin, dir), 0);
    assert_int_equal(store_note_verify(note, strlen(note), vkey, &size, root), TALLY_OK);
    assert_true(size > old_size);
    assert_int_equal(run(out, sizeof(out), "%s proof --dir %s --consistency %llu", bin, dir,
                         (unsigned long long)old_size),
                     0);
    n = 0;
    for (p = out; *p; n++) {
        char *nl = strchr(p, '\n');
        assert_int_equal(sodium_base642bin(path[n], 32, p, (size_t)(nl - p), NULL, &bn, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        p = nl + 1;
    }
    assert_true(store_verify_consistency(old_size, size, old_root, root,
                                         (const uint8_t(*)[32])path, n));
    assert_int_equal(run(out, sizeof(out), "%s proof --dir %s --index 999999999 2>&1", bin, dir),
                     3);
    assert_int_equal(run(out, sizeof(out), "%s proof --dir %s 2>&1", bin, dir), 2);
    tu_rmdir(dir);
}

static void test_simulate_deterministic(void **state)
{
    const char *a = tu_tmpdir("sim-a"), *b = tu_tmpdir("sim-b"), *c = tu_tmpdir("sim-c");
    char na[1024], nb[1024], nc[1024];
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 20 --days 4 --seed 5 -q",
                         bin, a), 0);
    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 20 --days 1 --seed 5 -q",
                         bin, b), 0);
    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 20 --days 3 --seed 5 -q",
                         bin, b), 0);
    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 20 --days 4 --seed 6 -q",
                         bin, c), 0);
    assert_int_equal(run(na, sizeof(na), "%s checkpoint --dir %s | head -3", bin, a), 0);
    assert_int_equal(run(nb, sizeof(nb), "%s checkpoint --dir %s | head -3", bin, b), 0);
    assert_int_equal(run(nc, sizeof(nc), "%s checkpoint --dir %s | head -3", bin, c), 0);
    assert_string_equal(na, nb);
    assert_string_not_equal(na, nc);
    assert_int_equal(run(out, sizeof(out), "%s verify --dir %s --signatures --quiet", bin, b), 0);
    /* simulate refuses a log it did not write */
    tu_rmdir(c);
    c = tu_tmpdir("sim-c");
    assert_int_equal(run(out, sizeof(out), "%s init --dir %s", bin, c), 0);
    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s -q 2>&1", bin, c), 8);
    tu_rmdir(a);
    tu_rmdir(b);
    tu_rmdir(c);
}

static void test_tiles_export_cli(void **state)
{
    const char *dir = tu_tmpdir("cli-tiles"), *o = tu_tmpdir("cli-tiles-out");
    char note[1024], exported[1024];
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 8 --days 1 -q", bin, dir),
                     0);
    assert_int_equal(run(out, sizeof(out), "%s tiles export --dir %s --quiet %s", bin, dir, o), 0);
    assert_int_equal(run(note, sizeof(note), "%s checkpoint --dir %s", bin, dir), 0);
    assert_int_equal(run(exported, sizeof(exported), "cat %s/checkpoint", o), 0);
    assert_string_equal(note, exported);
    assert_int_equal(run(out, sizeof(out), "%s tiles --dir %s 2>&1", bin, dir), 2);
    tu_rmdir(dir);
    tu_rmdir(o);
}

/* Lines of a file, and its last line into last (cap bytes). */
static size_t count_lines(const char *path, char *last, size_t cap)
{
    FILE *f = fopen(path, "r");
    char buf[512];
    size_t n = 0;

    assert_non_null(f);
    last[0] = '\0';
    while (fgets(buf, sizeof(buf), f) != NULL) {
        n++;
        snprintf(last, cap, "%s", buf);
    }
    fclose(f);
    return n;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Progress to a file rather than a terminal: at most one line a second plus the final one
 * (every full 256-record bundle used to print a line), for export and verify alike. */
static void test_progress_not_a_terminal(void **state)
{
    const char *dir = tu_tmpdir("cli-progress"), *o = tu_tmpdir("cli-progress-out");
    const char *want[] = {"export: records: ", "verify: records: "};
    char path[4096], cmd[8192], last[512];
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 24 --days 3 --seed 3 "
                                           "--markets-per-day 12 -q",
                         bin, dir),
                     0);
    snprintf(path, sizeof(path), "%s/progress.txt", o);
    for (size_t i = 0; i < 2; i++) {
        int64_t t0, ms;
        size_t lines;
        if (i == 0) {
            snprintf(cmd, sizeof(cmd), "tiles export --dir %s %s", dir, o);
        } else {
            snprintf(cmd, sizeof(cmd), "verify --dir %s", dir);
        }
        t0 = mono_ms();
        assert_int_equal(run(out, sizeof(out), "%s %s 2>%s", bin, cmd, path), 0);
        ms = mono_ms() - t0;
        lines = count_lines(path, last, sizeof(last));
        if (lines < 1 || (int64_t)lines > ms / 1000 + 1) {
            fail_msg("%s: %zu progress lines in %lld ms", cmd, lines, (long long)ms);
        }
        /* the final line: every record of the log, done/total with done = total */
        {
            unsigned long long done, total;
            char tail[16];
            assert_true(strncmp(last, want[i], strlen(want[i])) == 0);
            assert_int_equal(sscanf(last + strlen(want[i]), "%llu/%llu %15s", &done, &total, tail),
                             3);
            assert_true(done == total && total > 1000);
            assert_string_equal(tail, "(100%)");
        }
    }
    tu_rmdir(dir);
    tu_rmdir(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_everywhere),    cmocka_unit_test(test_init_append_log),
        cmocka_unit_test(test_notes_and_proofs),   cmocka_unit_test(test_simulate_deterministic),
        cmocka_unit_test(test_tiles_export_cli),   cmocka_unit_test(test_progress_not_a_terminal),
    };
    bin = getenv("TALLY_BIN");
    if (bin == NULL || sodium_init() < 0) {
        fprintf(stderr, "TALLY_BIN must name the tally binary (ctest sets it)\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

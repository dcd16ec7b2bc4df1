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
    /* every command of cli/main.c */
    const char *cmds[] = {"init",        "simulate", "append",  "log",      "show",
                          "checkpoint",  "key",      "keygen",  "serve",    "audit",
                          "sign",        "submit",   "feed",    "config",   "recompute",
                          "cycle",       "reveal",   "ban",     "cooldown", "loadgen",
                          "proof",       "tiles",    "verify",  "stats",    "replay",
                          "reconstruct", "diff",     "weights", "explain",  "demo"};
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

static const char ev_json[] =
    "{\"type\":\"EVENT\",\"body\":{\"event_id\":9,\"sport\":\"soccer\",\"league\":\"EPL\","
    "\"home_team\":\"A\",\"away_team\":\"B\",\"venue\":null,\"start_ms\":1767300000000,"
    "\"status\":\"scheduled\",\"ext_id\":null}}";

/* Two `tally append` on one directory: the first holds the log (its stdin is a FIFO kept open),
 * the second exits 8 at once naming the first one's pid; a reader works beside them, and the
 * first then appends. */
static void test_second_writer_refused(void **state)
{
    const char *dir = tu_tmpdir("cli-lock");
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s init --dir %s", bin, dir), 0);
    assert_int_equal(
        run(out, sizeof(out),
            "cd %s && mkfifo in && { %s append --dir . < in > first.out 2>&1 & P=$!; "
            "exec 3>in; i=0; until [ -s writer.lock ] || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done; "
            "%s append --dir . < /dev/null 2>&1; echo \"rc=$? pid=$P\"; "
            "%s verify --dir . --quiet >/dev/null; echo \"verify=$?\"; "
            "echo '%s' >&3; exec 3>&-; wait $P; echo \"first=$?\"; cat first.out; }",
            dir, bin, bin, bin, ev_json),
        0);
    {
        char want[128], *p = strstr(out, "pid=");
        assert_non_null(p);
        snprintf(want, sizeof(want), "is being written by pid %d", atoi(p + 4));
        if (strstr(out, want) == NULL) {
            fprintf(stderr, "got: %s\n(wanted '%s')\n", out, want);
        }
        assert_non_null(strstr(out, want));
    }
    assert_non_null(strstr(out, "rc=8"));
    assert_non_null(strstr(out, "verify=0"));
    assert_non_null(strstr(out, "first=0"));
    assert_non_null(strstr(out, "appended 1 records: seq 1..1"));
    tu_rmdir(dir);
}

/* Rejections raised in the writer name the input line; a missing or open node key says so. */
static void test_append_messages(void **state)
{
    const char *dir = tu_tmpdir("cli-msg");
    char line[2048], sig[129], actor[65];
    uint8_t pk[32], sk[64], body[1024];
    schema_json_input in;
    schema_header h;
    size_t n;
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s init --dir %s --origin example.org/log", bin, dir),
                     0);
    /* a second GENESIS, on line 2 */
    assert_int_equal(
        run(out, sizeof(out),
            "printf '%%s\\n%%s\\n' '%s' '{\"type\":\"GENESIS\",\"body\":{\"origin\":"
            "\"example.org/log\",\"netuid\":1,\"node_hotkey\":"
            "\"5FQDLkaYX27tQRX15EGSBHAaKfW6C67HUHwwbpHcu4vgB3Vv\",\"created_ms\":1,"
            "\"code_version\":\"x\",\"params\":[],\"chain\":{\"netuid\":1,\"block\":0,"
            "\"tempo\":360,\"max_weight_limit\":65535,\"min_allowed_weights\":1,"
            "\"max_allowed_uids\":256,\"owner_hotkey\":null}}}' | %s append --dir %s 2>&1",
            ev_json, bin, dir),
        8);
    assert_non_null(strstr(out, "line 2: GENESIS refused by rule genesis_placement"));
    /* a miner record the node would sign (no actor, no sig), on line 1 */
    assert_int_equal(
        run(out, sizeof(out),
            "echo '{\"type\":\"ODDS_SUBMISSION\",\"body\":{\"nonce\":1,\"idx\":0,"
            "\"event_id\":9,\"markets\":[{\"market_id\":90,\"kind\":\"moneyline\","
            "\"priced_at_ms\":null,\"prices\":[{\"side\":\"home\",\"odds_n\":2000000000,"
            "\"imp_prob_n\":500000000},{\"side\":\"away\",\"odds_n\":2000000000,"
            "\"imp_prob_n\":500000000}]}]}}' | %s append --dir %s 2>&1",
            bin, dir),
        7);
    assert_non_null(strstr(out, "line 1: ODDS_SUBMISSION refused by rule wrong_author"));
    /* a node record (EVENT) signed by another key, with a valid signature, on line 2 */
    crypto_sign_keypair(pk, sk);
    assert_int_equal(schema_input_from_json(ev_json, strlen(ev_json), NULL, &in, NULL), TALLY_OK);
    assert_int_equal(schema_body_encode(&in.body, body, sizeof(body), &n), TALLY_OK);
    assert_int_equal(schema_header_init(&in.body, body, n, pk, &h), TALLY_OK);
    assert_int_equal(schema_record_sign(&h, (tally_str){"example.org/log", 15}, sk), TALLY_OK);
    schema_body_release(&in.body);
    sodium_bin2hex(sig, sizeof(sig), h.actor_sig, 64);
    sodium_bin2hex(actor, sizeof(actor), pk, 32);
    snprintf(line, sizeof(line), "%.*s,\"actor\":\"%s\",\"sig\":\"%s\"}",
             (int)(strlen(ev_json) - 1), ev_json, actor, sig);
    assert_int_equal(run(out, sizeof(out), "printf '%%s\\n%%s\\n' '%s' '%s' | %s append --dir %s 2>&1",
                         ev_json, line, bin, dir),
                     7);
    assert_non_null(strstr(out, "line 2: EVENT refused by rule wrong_author"));
    /* times: the far future and the past are refused, naming the line */
    snprintf(line, sizeof(line), "%.*s,\"time_ms\":9007199254740991}", (int)(strlen(ev_json) - 1),
             ev_json);
    assert_int_equal(run(out, sizeof(out), "echo '%s' | %s append --dir %s 2>&1", line, bin, dir), 3);
    assert_non_null(strstr(out, "line 1: time_ms 9007199254740991 is more than 30000 ms ahead"));
    snprintf(line, sizeof(line), "%.*s,\"time_ms\":1000}", (int)(strlen(ev_json) - 1), ev_json);
    assert_int_equal(run(out, sizeof(out), "echo '%s' | %s append --dir %s 2>&1", line, bin, dir), 3);
    assert_non_null(strstr(out, "line 1: EVENT refused by rule time_order: time_ms 1000 is below the previous "
                                 "record's time"));
    /* node.key open to others: writers refuse it naming the file, readers do not need it */
    assert_int_equal(run(out, sizeof(out), "chmod 644 %s/node.key; echo '%s' | %s append --dir %s "
                                           "2>&1", dir, ev_json, bin, dir), 7);
    assert_non_null(strstr(out, "node.key has mode 0644; it must be mode 0600"));
    assert_int_equal(run(out, sizeof(out), "%s verify --dir %s --quiet 2>&1", bin, dir), 0);
    /* node.key missing: said so, not "no tally log" */
    assert_int_equal(run(out, sizeof(out), "rm %s/node.key; echo '%s' | %s append --dir %s 2>&1",
                         dir, ev_json, bin, dir), 4);
    assert_non_null(strstr(out, "no node key"));
    assert_null(strstr(out, "no tally log"));
    assert_int_equal(run(out, sizeof(out), "%s verify --dir %s --quiet 2>&1", bin, dir), 0);
    assert_int_equal(run(out, sizeof(out), "%s checkpoint --dir %s 2>&1", bin, dir), 0);
    /* simulate into a missing parent, and a bad TALLY_LMDB_MAP_SIZE */
    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s/no/such -q 2>&1", bin, dir), 4);
    assert_non_null(strstr(out, "parent directory does not exist"));
    assert_int_equal(run(out, sizeof(out), "TALLY_LMDB_MAP_SIZE=64GiB %s log --dir %s 2>&1", bin,
                         dir), 2);
    assert_non_null(strstr(out, "TALLY_LMDB_MAP_SIZE='64GiB' is not a byte count"));
    tu_rmdir(dir);
}

/* A body breaking a bound is refused naming the line, the field (by its path) and why, and
 * nothing is appended. */
static void append_refused(const char *dir, const char *lines, const char *want)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/in.jsonl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(lines, f);
    fclose(f);
    assert_int_equal(run(out, sizeof(out), "%s append --dir %s < %s 2>&1", bin, dir, path), 3);
    if (strstr(out, want) == NULL || strstr(out, "nothing was appended") == NULL) {
        fail_msg("got: %s\nwanted: %s", out, want);
    }
}

static void test_append_names_the_field(void **state)
{
    const char *dir = tu_tmpdir("cli-field");
    static const char zeros_actor[] =
        "\"actor\":\"0000000000000000000000000000000000000000000000000000000000000000\","
        "\"sig\":\"00000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000\"";
    char lines[4096];
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s init --dir %s --origin example.org/log", bin, dir),
                     0);
    /* a team name with U+0007, on line 2 after a good line */
    snprintf(lines, sizeof(lines),
             "%s\n{\"type\":\"EVENT\",\"body\":{\"event_id\":10,\"sport\":\"soccer\","
             "\"league\":\"EPL\",\"home_team\":\"Bell\\u0007\",\"away_team\":\"B\",\"venue\":null,"
             "\"start_ms\":1767300000000,\"status\":\"scheduled\",\"ext_id\":null}}\n",
             ev_json);
    append_refused(dir, lines,
                   "line 2: field home_team: text has a control character U+0007 at byte 4");
    /* a miner's submission (checked before its signature): idx, then a price out of order two
     * levels down */
    snprintf(lines, sizeof(lines),
             "{\"type\":\"ODDS_SUBMISSION\",%s,\"body\":{\"nonce\":1,\"idx\":200,"
             "\"event_id\":9,\"markets\":[{\"market_id\":90,\"kind\":\"moneyline\","
             "\"priced_at_ms\":null,\"prices\":[{\"side\":\"home\",\"odds_n\":2000000000,"
             "\"imp_prob_n\":500000000},{\"side\":\"away\",\"odds_n\":2000000000,"
             "\"imp_prob_n\":500000000}]}],\"salt\":\"00000000000000000000000000000000\"}}\n",
             zeros_actor);
    append_refused(dir, lines, "line 1: field idx: 200 is out of range 0..199");
    snprintf(lines, sizeof(lines),
             "{\"type\":\"ODDS_SUBMISSION\",%s,\"body\":{\"nonce\":1,\"idx\":0,"
             "\"event_id\":9,\"markets\":[{\"market_id\":90,\"kind\":\"moneyline\","
             "\"priced_at_ms\":null,\"prices\":[{\"side\":\"away\",\"odds_n\":2000000000,"
             "\"imp_prob_n\":500000000},{\"side\":\"home\",\"odds_n\":2000000000,"
             "\"imp_prob_n\":500000000}]}],\"salt\":\"00000000000000000000000000000000\"}}\n",
             zeros_actor);
    append_refused(dir, lines,
                   "line 1: field markets[0].prices[1]: not strictly ascending by side after "
                   "item 0");
    /* a market's side set */
    append_refused(dir,
                   "{\"type\":\"MARKET\",\"body\":{\"market_id\":70,\"event_id\":7,\"kind\":"
                   "\"total\",\"line_n\":2500000000,\"sides\":[\"home\",\"away\"]}}\n",
                   "line 1: field sides: not a valid set for total");
    /* the log still holds GENESIS alone */
    assert_int_equal(run(out, sizeof(out), "%s checkpoint --dir %s | sed -n 2p", bin, dir), 0);
    assert_string_equal(out, "1\n");
    tu_rmdir(dir);
}

/* verify --against a kept checkpoint: consistent for the log that grew from it; for a log
 * restored from an older backup, the two heads are printed and it exits 1; its export into the
 * used directory is refused and the directory is left as it was. */
static void test_verify_against(void **state)
{
    const char *a = tu_tmpdir("cli-ag-a"), *b = tu_tmpdir("cli-ag-b"), *o = tu_tmpdir("cli-ag-o");
    char before[8192], after[8192];
    (void)state;

    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 8 --days 1 -q", bin, a),
                     0);
    assert_int_equal(run(out, sizeof(out), "%s checkpoint --dir %s > %s/k1 && cp -a %s/. %s/", bin,
                         a, o, a, b), 0);
    assert_int_equal(run(out, sizeof(out), "%s simulate --dir %s --miners 8 --days 1 -q", bin, a),
                     0);
    assert_int_equal(run(out, sizeof(out), "%s checkpoint --dir %s > %s/k2", bin, a, o), 0);
    assert_int_equal(run(out, sizeof(out), "%s verify --dir %s --quiet --against %s/k1", bin, a, o),
                     0);
    assert_non_null(strstr(out, "consistent: this log"));
    assert_int_equal(run(out, sizeof(out), "%s verify --dir %s --quiet --against %s/k2 2>&1", bin,
                         b, o), 1);
    assert_non_null(strstr(out, "rewound"));
    assert_non_null(strstr(out, "the head you kept:"));
    assert_non_null(strstr(out, "this log's latest head:"));
    assert_int_equal(run(out, sizeof(out), "%s tiles export --dir %s --quiet %s/x", bin, a, o), 0);
    assert_int_equal(run(before, sizeof(before), "cd %s/x && find . | sort && cat checkpoint", o),
                     0);
    assert_int_equal(run(out, sizeof(out), "%s tiles export --dir %s --quiet %s/x 2>&1", bin, b, o),
                     8);
    assert_non_null(strstr(out, "does not extend"));
    assert_int_equal(run(after, sizeof(after), "cd %s/x && find . | sort && cat checkpoint", o), 0);
    assert_string_equal(before, after);
    assert_int_equal(run(out, sizeof(out), "%s tiles export --dir %s --quiet --force %s/x", bin, b,
                         o), 0);
    tu_rmdir(a);
    tu_rmdir(b);
    tu_rmdir(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_everywhere),    cmocka_unit_test(test_init_append_log),
        cmocka_unit_test(test_notes_and_proofs),   cmocka_unit_test(test_simulate_deterministic),
        cmocka_unit_test(test_tiles_export_cli),   cmocka_unit_test(test_progress_not_a_terminal),
        cmocka_unit_test(test_second_writer_refused), cmocka_unit_test(test_append_messages),
        cmocka_unit_test(test_verify_against),    cmocka_unit_test(test_append_names_the_field),
    };
    bin = getenv("TALLY_BIN");
    if (bin == NULL || sodium_init() < 0) {
        fprintf(stderr, "TALLY_BIN must name the tally binary (ctest sets it)\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

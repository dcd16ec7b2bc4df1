/* `tally replay` as an auditor runs it: a simulated log replays to the node's derived records;
 * resuming from the checkpoint of every cycle gives what replay from genesis gives; a tampered
 * input record (body or header bytes) and a derived record the node got wrong (re-signed, so
 * consistent with its header) are each reported at their exact sequence number; a cycle whose
 * covers_to lies below its own position still replays. Also weights and explain. */
#include <jansson.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/testutil.h"

static const char *bin;
static char out[1 << 20], line[4096];

static void sim(const char *dir, unsigned days)
{
    assert_int_equal(tu_run(out, sizeof(out), "%s simulate --dir %s --miners 24 --days %u --seed 3 "
                                              "--markets-per-day 12 -q",
                            bin, dir, days),
                     0);
}

/* The last two lines of a matching replay: the state hash and the weights hash. */
static void replay_hashes(const char *dir, const char *extra, char *hashes, size_t cap)
{
    int rc = tu_run(out, sizeof(out), "%s replay --dir %s --quiet %s", bin, dir, extra);
    if (rc != 0) {
        fail_msg("replay %s: %s", extra, out);
    }
    assert_non_null(strstr(out, "replay matched"));
    const char *p = strstr(out, "state hash of cycle");
    assert_non_null(p);
    assert_non_null(strstr(p, "weights hash: "));
    snprintf(hashes, cap, "%s", p);
}

static void test_resume_equals_genesis(void **state)
{
    const char *dir = tu_tmpdir("replay");
    char base[512], got[512], arg[64];
    (void)state;
    sim(dir, 7); /* a simulated week */
    replay_hashes(dir, "", base, sizeof(base));
    assert_non_null(strstr(base, "state hash of cycle 6:"));
    /* every cycle as the cut point, and the gated view (an auditor's: no private body, an
     * embargoed one only from its reveal) from genesis and from each cut: the same state and
     * weights, byte for byte */
    replay_hashes(dir, "--view gated", got, sizeof(got));
    assert_string_equal(base, got);
    {
        unsigned long long withheld = 0, pending = 0;
        const char *g = strstr(out, "gated view: ");
        assert_non_null(g);
        assert_int_equal(sscanf(g, "gated view: %llu records read from their headers where they "
                                   "stand, %llu",
                                &withheld, &pending),
                         2);
        assert_true(withheld > 1000 && pending > 0);
    }
    for (int k = 1; k <= 6; k++) {
        snprintf(arg, sizeof(arg), "--from-checkpoint %d", k);
        replay_hashes(dir, arg, got, sizeof(got));
        assert_string_equal(base, got);
        snprintf(arg, sizeof(arg), "--from-checkpoint %d --view gated", k);
        replay_hashes(dir, arg, got, sizeof(got));
        assert_string_equal(base, got);
    }
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s --from-checkpoint 9 2>&1", bin,
                            dir), 4);
    /* the node continuing from its own state gives the same bytes as one long run */
    const char *two = tu_tmpdir("replay-2");
    char na[512], nb[512];
    sim(two, 4);
    sim(two, 3);
    assert_int_equal(tu_run(na, sizeof(na), "%s checkpoint --dir %s | head -3", bin, dir), 0);
    assert_int_equal(tu_run(nb, sizeof(nb), "%s checkpoint --dir %s | head -3", bin, two), 0);
    assert_string_equal(na, nb);
    /* weights and explain read the same cycle */
    assert_int_equal(tu_run(out, sizeof(out), "%s weights --dir %s --json", bin, dir), 0);
    assert_true(strncmp(out, "{\"cycle\":6,", 11) == 0);
    assert_non_null(strstr(out, "\"weight\":65535"));
    assert_int_equal(tu_run(out, sizeof(out), "%s weights --dir %s --cycle 3", bin, dir), 0);
    assert_non_null(strstr(out, "cycle 3 "));
    assert_int_equal(tu_run(out, sizeof(out), "%s explain --dir %s --miner 2 --cycle 4", bin, dir),
                     0);
    assert_non_null(strstr(out, "skill score"));
    assert_non_null(strstr(out, "rows ("));
    assert_int_equal(tu_run(out, sizeof(out), "%s explain --dir %s 2>&1", bin, dir), 2);
    assert_int_equal(tu_run(out, sizeof(out), "%s weights --dir %s --cycle 99 2>&1", bin, dir), 4);
    tu_rmdir(dir);
    tu_rmdir(two);
}

/* ---- tampering ---- */

static void be64(uint64_t v, uint8_t out8[8])
{
    for (int i = 7; i >= 0; i--) {
        out8[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Flips a byte of record seq's header (time_ms) or body, straight in LMDB; seq must lie in the
 * unpacked tail. */
static void flip(const char *dir, uint64_t seq, bool body)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi logdb, dbi;
    MDB_val k, v;
    uint8_t key[8], *copy;
    schema_header h;

    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "log", 0, &logdb), 0);
    assert_int_equal(mdb_dbi_open(txn, body ? "bodies" : "log", 0, &dbi), 0);
    be64(seq, key);
    k = (MDB_val){8, key};
    assert_int_equal(mdb_get(txn, logdb, &k, &v), 0);
    if (body) {
        assert_int_equal(schema_header_decode(v.mv_data, v.mv_size, &h), TALLY_OK);
        k = (MDB_val){32, h.body_hash};
        assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    }
    copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[body ? v.mv_size - 3 : 8] ^= 1;
    v.mv_data = copy;
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
}

/* Flips one byte of the last value of an LMDB table (the latest head in "sth", the highest
 * tile in "tiles"), at offset `at` from its end. */
static void flip_last(const char *dir, const char *table, size_t at)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t *copy, *key;

    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_LAST), 0);
    mdb_cursor_close(cur);
    copy = malloc(v.mv_size);
    key = malloc(k.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    memcpy(key, k.mv_data, k.mv_size);
    copy[v.mv_size - 1 - at] ^= 1;
    k.mv_data = key, v.mv_data = copy;
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
    free(key);
}

static void expect_mismatch_at(const char *dir, uint64_t seq, const char *what)
{
    char want[64];
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s --quiet", bin, dir), 1);
    snprintf(want, sizeof(want), "replay MISMATCH at seq %llu:", (unsigned long long)seq);
    if (strstr(out, want) == NULL || (what && strstr(out, what) == NULL)) {
        fail_msg("wanted '%s' and '%s', replay said: %s", want, what ? what : "", out);
    }
}

static uint64_t log_size(const char *dir)
{
    assert_int_equal(tu_run(line, sizeof(line), "%s checkpoint --dir %s | sed -n 2p", bin, dir), 0);
    return strtoull(line, NULL, 10);
}

static void test_tampered_input(void **state)
{
    const char *dir = tu_tmpdir("replay-tamper");
    uint64_t size, seq;
    (void)state;
    sim(dir, 4);
    size = log_size(dir);
    assert_true(size % 256 >= 2); /* the last records are in the unpacked tail */
    seq = size - 1;               /* an input record of the last day */
    flip(dir, seq, true);
    expect_mismatch_at(dir, seq, "does not match its header");
    tu_rmdir(dir);

    dir = tu_tmpdir("replay-tamper-h");
    sim(dir, 4);
    seq = log_size(dir) - 2;
    flip(dir, seq, false);
    expect_mismatch_at(dir, seq, "tree");
    tu_rmdir(dir);
}

/* Replay checks what verify checks of the heads before it trusts a record: a head whose
 * signature is broken, and tiles that do not give a head's root, are each a mismatch. */
static void test_bad_heads(void **state)
{
    const char *dir = tu_tmpdir("replay-heads");
    uint64_t size;
    (void)state;
    sim(dir, 2);
    size = log_size(dir);
    flip_last(dir, "sth", 3); /* inside the note signature at the end of the wire form */
    expect_mismatch_at(dir, size - 1, "does not verify against the GENESIS key");
    tu_rmdir(dir);

    dir = tu_tmpdir("replay-tiles");
    sim(dir, 2);
    flip_last(dir, "tiles", 0); /* the last hash of the highest tile */
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s --quiet", bin, dir), 1);
    if (strstr(out, "the tiles do not give the root") == NULL &&
        strstr(out, "does not match the tree") == NULL) {
        fail_msg("replay said: %s", out);
    }
    tu_rmdir(dir);
}

enum copy_mode { WRONG_SCORE, LATE_INPUT, RULE_BREAK };

/* Copies the log in `from` to `to` record by record. WRONG_SCORE re-signs one MINER_SCORE with
 * its skill changed: what a node that computed a wrong score would have written (*target_out is
 * its seq). LATE_INPUT puts one more node record (a copy of the log's last PROVIDER_QUOTE, which
 * scoring ignores) just before the last SCORING_CYCLE, so that cycle's covers_to lies below its
 * own position (*target_out is the cycle's new seq). RULE_BREAK writes the first
 * ODDS_SUBMISSION again at the end of the log, through the store alone (below the acceptance
 * rules): the miner's signature is good, but its write nonce is used and its event has started
 * (*target_out is the copy's seq). */
static void copy_log(const char *from, const char *to, enum copy_mode mode, uint64_t *target_out)
{
    char path[4096];
    uint8_t seed[32];
    FILE *f;
    store_cfg ca = {.dir = from, .read_only = true};
    store_log *a, *b;
    store_iter *it;
    store_record r;
    store_input *batch = calloc(1024, sizeof(*batch));
    size_t n = 0;
    uint64_t first, target = UINT64_MAX, last_cycle = 0;
    schema_header quote_h;
    uint8_t *quote_b = NULL;
    size_t quote_n = 0;
    int miner_scores = 0;

    snprintf(path, sizeof(path), "%s/node.key", from);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(seed, 1, 32, f), 32);
    fclose(f);
    assert_int_equal(store_open(&ca, &a), TALLY_OK);
    store_cfg cb = {.dir = to, .create = true, .origin = store_origin(a), .key_seed = seed};
    assert_int_equal(store_open(&cb, &b), TALLY_OK);
    /* the last cycle, and the last quote before it */
    assert_int_equal(store_iter_open(a, 0, &it), TALLY_OK);
    while (store_iter_next(it, &r) == TALLY_OK) {
        schema_header h;
        assert_int_equal(schema_header_decode(r.header.p, r.header.n, &h), TALLY_OK);
        if (h.type == SCHEMA_SCORING_CYCLE) {
            last_cycle = r.seq;
        }
        if (mode == LATE_INPUT && h.type == SCHEMA_PROVIDER_QUOTE && last_cycle == 0) {
            free(quote_b);
            quote_h = h, quote_n = r.body.n, quote_b = malloc(r.body.n);
            memcpy(quote_b, r.body.p, r.body.n);
        }
    }
    store_iter_close(it);
    assert_int_equal(store_iter_open(a, 0, &it), TALLY_OK);
    while (store_iter_next(it, &r) == TALLY_OK) {
        schema_header h;
        uint8_t *body = malloc(SCHEMA_BODY_MAX);
        size_t bn = r.body.n;
        assert_int_equal(schema_header_decode(r.header.p, r.header.n, &h), TALLY_OK);
        memcpy(body, r.body.p, r.body.n);
        if (mode == LATE_INPUT && r.seq == last_cycle) {
            quote_h.time_ms = h.time_ms; /* no earlier than the record before it */
            batch[n++] = (store_input){quote_h, quote_b, quote_n};
            quote_b = NULL;
            target = r.seq + 1;
        }
        /* the 40th MINER_SCORE: a cycle in the middle of the log */
        if (mode == WRONG_SCORE && h.type == SCHEMA_MINER_SCORE && ++miner_scores == 40) {
            schema_body sb;
            uint64_t t = h.time_ms;
            assert_int_equal(schema_body_decode(SCHEMA_MINER_SCORE, body, bn, &sb), TALLY_OK);
            sb.u.miner_score.skill += 1;
            assert_int_equal(schema_body_encode(&sb, body, SCHEMA_BODY_MAX, &bn), TALLY_OK);
            assert_int_equal(schema_header_init(&sb, body, bn, h.actor, &h), TALLY_OK);
            assert_int_equal(store_node_sign(b, &h), TALLY_OK);
            h.time_ms = t;
            schema_body_release(&sb);
            target = r.seq;
        }
        batch[n++] = (store_input){h, body, bn};
        if (mode == RULE_BREAK && h.type == SCHEMA_ODDS_SUBMISSION && quote_b == NULL) {
            /* kept (in the quote's slot, unused in this mode) for the end of the log */
            quote_h = h, quote_n = bn, quote_b = malloc(bn);
            memcpy(quote_b, body, bn);
        }
        if (n >= 1000) {
            assert_int_equal(store_append(b, batch, n, &first), TALLY_OK);
            for (size_t i = 0; i < n; i++) {
                free((void *)(uintptr_t)batch[i].body);
            }
            n = 0;
        }
    }
    if (mode == RULE_BREAK) {
        quote_h.time_ms = 0; /* the node clock: after everything else */
        batch[n++] = (store_input){quote_h, quote_b, quote_n};
        quote_b = NULL;
        target = store_size(b) + n - 1;
    }
    if (n > 0) {
        assert_int_equal(store_append(b, batch, n, &first), TALLY_OK);
    }
    for (size_t i = 0; i < n; i++) {
        free((void *)(uintptr_t)batch[i].body);
    }
    free(batch);
    free(quote_b);
    store_iter_close(it);
    store_close(a);
    store_close(b);
    assert_true(target != UINT64_MAX);
    *target_out = target;
}

static void test_wrong_derived_record(void **state)
{
    const char *a = tu_tmpdir("replay-node"), *b = tu_tmpdir("replay-wrong");
    uint64_t target;
    (void)state;
    sim(a, 4);
    copy_log(a, b, WRONG_SCORE, &target);
    /* the copy verifies as a log (every signature is good) but not as a scoring */
    assert_int_equal(tu_run(out, sizeof(out), "%s verify --dir %s --signatures --quiet", bin, b), 0);
    expect_mismatch_at(b, target, "MINER_SCORE: field skill");
    tu_rmdir(a);
    tu_rmdir(b);
}

/* A cycle whose covers_to lies below its own position: the record between belongs to the next
 * cycle, and replay still reproduces the block (rebuilding the state at covers_to). */
static void test_covers_to_behind(void **state)
{
    const char *a = tu_tmpdir("replay-node2"), *b = tu_tmpdir("replay-late");
    uint64_t cycle_seq;
    (void)state;
    sim(a, 4);
    copy_log(a, b, LATE_INPUT, &cycle_seq);
    assert_int_equal(tu_run(out, sizeof(out), "%s show --dir %s %llu", bin, b,
                            (unsigned long long)cycle_seq), 0);
    assert_non_null(strstr(out, "\"type\":\"SCORING_CYCLE\""));
    if (tu_run(out, sizeof(out), "%s replay --dir %s --quiet", bin, b) != 0) {
        fail_msg("replay: %s", out);
    }
    assert_non_null(strstr(out, "replay matched"));
    tu_rmdir(a);
    tu_rmdir(b);
}

/* A record the rules refuse, forced into a log below them: replay names its seq and rule. */
static void test_rule_violation(void **state)
{
    const char *a = tu_tmpdir("replay-node3"), *b = tu_tmpdir("replay-rule");
    uint64_t target;
    (void)state;
    sim(a, 3);
    copy_log(a, b, RULE_BREAK, &target);
    assert_int_equal(tu_run(out, sizeof(out), "%s verify --dir %s --signatures --quiet", bin, b), 0);
    expect_mismatch_at(b, target, "ODDS_SUBMISSION: rule nonce_stale");
    /* the gated view cannot read the body (the nonce) before its reveal; the header alone
     * shows that the event had started */
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s --quiet --view gated", bin, b), 1);
    snprintf(line, sizeof(line), "replay MISMATCH at seq %llu: ODDS_SUBMISSION: rule market_closed",
             (unsigned long long)target);
    if (strstr(out, line) == NULL) {
        fail_msg("wanted '%s', replay said: %s", line, out);
    }
    /* from a checkpoint, the rules' state comes from it (and the write nonces from the records
     * of its last 31 days): the same verdicts in both views (the copy's blocks are the node's,
     * so are its checkpoint files) */
    assert_int_equal(tu_run(out, sizeof(out), "cp -r %s/checkpoints %s/", a, b), 0);
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s --quiet --from-checkpoint 2", bin,
                            b),
                     1);
    assert_non_null(strstr(out, "ODDS_SUBMISSION: rule nonce_stale"));
    assert_int_equal(tu_run(out, sizeof(out),
                            "%s replay --dir %s --quiet --from-checkpoint 2 --view gated", bin, b),
                     1);
    if (strstr(out, line) == NULL) {
        fail_msg("wanted '%s', replay said: %s", line, out);
    }
    tu_rmdir(a);
    tu_rmdir(b);
}

/* `tally append` judges every line by the rules: a submission taken from the log and fed back,
 * and CONFIG_SETs with an unknown key, a value of the wrong kind and one out of range, are each
 * refused with the rule named (exit 3) and the tree unchanged. */
static void test_append_rules(void **state)
{
    const char *dir = tu_tmpdir("append-rules");
    char path[4096];
    json_t *rec, *in;
    char *txt;
    uint64_t size;
    FILE *f;
    static const char *const bad_config[][2] = {
        {"bogus.key", "1"},
        {"auth.require_permit", "1"},
        {"decay.half_life_days", "100000"},
    };
    (void)state;

    sim(dir, 3);
    size = log_size(dir);
    assert_int_equal(tu_run(line, sizeof(line), "%s log --dir %s --type ODDS_SUBMISSION | head -1",
                            bin, dir),
                     0);
    rec = json_loads(line, 0, NULL);
    assert_non_null(rec);
    in = json_pack("{s:O, s:O, s:O, s:O}", "type", json_object_get(rec, "type"), "actor",
                   json_object_get(rec, "actor"), "sig", json_object_get(rec, "sig"), "body",
                   json_object_get(rec, "body"));
    txt = json_dumps(in, JSON_COMPACT);
    snprintf(path, sizeof(path), "%s/again.jsonl", dir);
    f = fopen(path, "w");
    fprintf(f, "%s\n", txt);
    fclose(f);
    free(txt);
    json_decref(in);
    json_decref(rec);
    assert_int_equal(tu_run(out, sizeof(out), "%s append --dir %s < %s 2>&1", bin, dir, path), 3);
    if (strstr(out, "line 1: ODDS_SUBMISSION refused by rule nonce_") == NULL) {
        fail_msg("append said: %s", out);
    }
    assert_int_equal(log_size(dir), size);
    for (size_t i = 0; i < sizeof(bad_config) / sizeof(bad_config[0]); i++) {
        assert_int_equal(tu_run(out, sizeof(out),
                                "echo '{\"type\":\"CONFIG_SET\",\"body\":{\"params\":"
                                "[{\"key\":\"%s\",\"value\":%s}],\"reason\":null}}' | "
                                "%s append --dir %s 2>&1",
                                bad_config[i][0], bad_config[i][1], bin, dir),
                         3);
        assert_non_null(strstr(out, "CONFIG_SET refused by rule param_"));
        assert_non_null(strstr(out, bad_config[i][0]));
        assert_int_equal(log_size(dir), size);
    }
    /* the same line within range is appended */
    assert_int_equal(tu_run(out, sizeof(out),
                            "echo '{\"type\":\"CONFIG_SET\",\"body\":{\"params\":"
                            "[{\"key\":\"decay.half_life_days\",\"value\":365}],"
                            "\"reason\":null}}' | %s append --dir %s 2>&1",
                            bin, dir),
                     0);
    assert_int_equal(log_size(dir), size + 1);
    tu_rmdir(dir);
}

/* ---- explain after a CONFIG_SET ---- */

/* "0.123456789" or "-1.5" (at most nine places) as nanos. */
static int64_t nanos(json_t *v)
{
    const char *s = json_string_value(v), *dot;
    int64_t whole, frac = 0, scale = 100000000;
    bool neg;

    if (s == NULL) {
        fail_msg("expected a decimal string");
    }
    neg = s[0] == '-';
    whole = strtoll(neg ? s + 1 : s, NULL, 10);
    dot = strchr(s, '.');
    for (const char *p = dot ? dot + 1 : ""; *p && scale > 0; p++, scale /= 10) {
        frac += (*p - '0') * scale;
    }
    return (neg ? -1 : 1) * (whole * 1000000000 + frac);
}

static json_t *load_json(const char *txt)
{
    json_error_t je;
    json_t *o = json_loads(txt, 0, &je);
    if (o == NULL) {
        fail_msg("not JSON (%s): %.300s", je.text, txt);
    }
    return o;
}

/* The member at a dotted path ("acc.cle.wt"), or NULL. */
static json_t *jget(json_t *o, const char *path)
{
    char key[64];

    while (o != NULL && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

/* |c − a·b| ≤ tol/2 nanos: c is a·b rounded to the nano (tol 1), or a sum of such terms. */
static void assert_product(int64_t c, int64_t a, int64_t b, int tol, const char *what)
{
    __int128 d = (__int128)c * 1000000000 - (__int128)a * b;
    if (d < 0) {
        d = -d;
    }
    if (2 * d > (__int128)tol * 1000000000) {
        fail_msg("%s: %lld is not %lld × %lld nanos rounded", what, (long long)c, (long long)a,
                 (long long)b);
    }
}

/* The MINER_SCORE body of (cycle, uid), from the log's named-field JSON view; NULL if none. */
static json_t *miner_score(const char *dir, uint64_t cycle, uint64_t uid)
{
    json_t *found = NULL;
    assert_int_equal(tu_run(out, sizeof(out), "%s log --dir %s --type MINER_SCORE", bin, dir), 0);
    for (char *l = strtok(out, "\n"); l != NULL && found == NULL; l = strtok(NULL, "\n")) {
        json_t *r = load_json(l), *b = json_object_get(r, "body");
        if (json_integer_value(json_object_get(b, "cycle")) == (json_int_t)cycle &&
            json_integer_value(json_object_get(b, "uid")) == (json_int_t)uid) {
            found = json_incref(b);
        }
        json_decref(r);
    }
    return found;
}

typedef struct want_params {
    int64_t w_dim[4]; /* forecast, skill, econ, info: the skill score weights */
    int64_t w_edge;
} want_params;

/* explain --json and the text view of (cycle, uid) against its MINER_SCORE record and the
 * parameters the cycle ran with: the terms add up to the skill score within 2 nanos. Returns
 * the JSON text (malloc'd) for comparison. */
static char *check_explain(const char *dir, uint64_t cycle, uint64_t uid, const want_params *wp)
{
    static const char *const dims[4] = {"forecast", "skill", "econ", "info"};
    static const char *const norms[7] = {"fq", "cal", "pss", "es", "mes", "sos", "lead"};
    json_t *rec = miner_score(dir, cycle, uid), *ex, *jd;
    int64_t sum = 0, skill;
    char *txt, *p, name[32];

    assert_non_null(rec);
    assert_int_equal(tu_run(out, sizeof(out),
                            "%s explain --dir %s --cycle %llu --miner %llu --json", bin, dir,
                            (unsigned long long)cycle, (unsigned long long)uid),
                     0);
    txt = strdup(out);
    ex = load_json(out);
    assert_true(json_is_true(json_object_get(ex, "in_population")));
    skill = nanos(json_object_get(ex, "skill"));
    assert_int_equal(skill, json_integer_value(json_object_get(rec, "skill")));
    jd = json_object_get(ex, "dims");
    for (int k = 0; k < 4; k++) {
        json_t *d = json_object_get(jd, dims[k]), *t;
        int64_t w = nanos(json_object_get(d, "weight")), v = nanos(json_object_get(d, "value"));
        int64_t c = nanos(json_object_get(d, "contribution")), tsum = 0;
        const char *tk;
        assert_int_equal(w, wp->w_dim[k]);
        snprintf(name, sizeof(name), "dims.%s", dims[k]);
        assert_int_equal(v, json_integer_value(jget(rec, name)));
        assert_product(c, w, v, 1, dims[k]);
        sum += c;
        /* the dimension from its components, each term rounded once */
        json_object_foreach(json_object_get(d, "terms"), tk, t)
        {
            int64_t tw = nanos(jget(t, "weight")), tv = nanos(jget(t, "value"));
            int64_t tc = nanos(jget(t, "contribution"));
            assert_product(tc, tw, tv, 1, tk);
            tsum += tc;
            if (strcmp(tk, "es") == 0) {
                assert_int_equal(tw, wp->w_edge);
            }
        }
        assert_true(tsum - v <= 1 && v - tsum <= 1);
    }
    assert_true(sum - skill <= 2 && skill - sum <= 2);
    assert_int_equal(nanos(json_object_get(ex, "contribution_sum")), sum);
    for (int k = 0; k < 7; k++) {
        snprintf(name, sizeof(name), "norms.%s", norms[k]);
        assert_int_equal(nanos(jget(ex, name)), json_integer_value(jget(rec, name)));
    }
    assert_int_equal(nanos(jget(ex, "shrinkage.pss.after")),
                     json_integer_value(jget(rec, "stats.pss_shrunk")));
    assert_int_equal(nanos(jget(ex, "acc.cle.wt")), json_integer_value(jget(rec, "acc.cle.wt")));
    /* wt of cle = Σ decay weight over the rows in the window with a close (scoring §5.3) */
    {
        json_t *rows = json_object_get(ex, "rows"), *r;
        size_t i;
        int64_t wt = 0;
        assert_true(json_is_array(rows));
        json_array_foreach(rows, i, r)
        {
            if (json_is_true(json_object_get(r, "in_window")) &&
                !json_is_null(json_object_get(r, "close"))) {
                wt += nanos(json_object_get(r, "decay_weight"));
            }
        }
        assert_int_equal(wt, nanos(jget(ex, "acc.cle.wt")));
    }
    json_decref(ex);
    json_decref(rec);

    /* the text view shows the same weights */
    assert_int_equal(tu_run(out, sizeof(out), "%s explain --dir %s --cycle %llu --miner %llu", bin,
                            dir, (unsigned long long)cycle, (unsigned long long)uid),
                     0);
    p = strstr(out, "= Σ weight × dimension:\n");
    assert_non_null(p);
    p = strchr(p, '\n') + 1;
    for (int k = 0; k < 4; k++) {
        char w[32], d[32], c[32];
        json_t *js[3];
        if (sscanf(p, " %31s %31s × %31s = %31s", name, w, d, c) != 4) {
            fail_msg("explain line: %.100s", p);
        }
        assert_string_equal(name, dims[k]);
        js[0] = json_string(w), js[1] = json_string(d), js[2] = json_string(c);
        if (nanos(js[0]) != wp->w_dim[k]) {
            fail_msg("cycle %llu: explain shows weight %s for %s, the cycle used %lld nanos",
                     (unsigned long long)cycle, w, name, (long long)wp->w_dim[k]);
        }
        assert_product(nanos(js[2]), nanos(js[0]), nanos(js[1]), 1, name);
        for (int i = 0; i < 3; i++) {
            json_decref(js[i]);
        }
        p = strchr(p, '\n') + 1;
    }
    return txt;
}

/* The uids of the first n MINER_SCOREs of a cycle. */
static size_t scored_uids(const char *dir, uint64_t cycle, uint64_t *uids, size_t n)
{
    size_t k = 0;
    assert_int_equal(tu_run(out, sizeof(out), "%s log --dir %s --type MINER_SCORE", bin, dir), 0);
    for (char *l = strtok(out, "\n"); l != NULL && k < n; l = strtok(NULL, "\n")) {
        json_t *r = load_json(l), *b = json_object_get(r, "body");
        if (json_integer_value(json_object_get(b, "cycle")) == (json_int_t)cycle) {
            uids[k++] = (uint64_t)json_integer_value(json_object_get(b, "uid"));
        }
        json_decref(r);
    }
    return k;
}

/* Appends a CONFIG_SET (params: the JSON array) at the time of the log's last record, so the
 * simulator continues the same day. */
static void config_set(const char *dir, const char *params)
{
    uint64_t last;
    json_t *r;

    assert_int_equal(tu_run(line, sizeof(line), "%s checkpoint --dir %s | sed -n 2p", bin, dir), 0);
    assert_int_equal(tu_run(out, sizeof(out), "%s show --dir %s %llu", bin, dir,
                            (unsigned long long)(strtoull(line, NULL, 10) - 1)),
                     0);
    r = load_json(out);
    last = (uint64_t)json_integer_value(json_object_get(r, "time_ms"));
    json_decref(r);
    assert_int_equal(tu_run(out, sizeof(out),
                            "echo '{\"type\":\"CONFIG_SET\",\"time_ms\":%llu,\"body\":{\"params\":%s,"
                            "\"reason\":\"test\"}}' | %s append --dir %s",
                            (unsigned long long)last, params, bin, dir),
                     0);
}

/* explain reads the parameters a cycle was computed with, not the latest CONFIG_SET: a cycle
 * before a CONFIG_SET keeps the defaults, the cycle after it uses the new weights, and a later
 * CONFIG_SET that no cycle has used yet changes neither. With the checkpoints gone, a replay
 * gives the same answers. */
static void test_explain_after_config_set(void **state)
{
    const char *dir = tu_tmpdir("explain-config");
    const want_params before = {{100000000, 100000000, 500000000, 300000000}, 700000000};
    const want_params after = {{400000000, 100000000, 200000000, 300000000}, 300000000};
    uint64_t uids[3];
    char *saved[2][3];
    size_t n[2];
    (void)state;

    sim(dir, 3); /* cycles 1 and 2 */
    config_set(dir, "[{\"key\":\"dimension_weights.w_edge\",\"value\":300000000},"
                    "{\"key\":\"skill_score_weights.w_odds_edge\",\"value\":200000000},"
                    "{\"key\":\"skill_score_weights.w_outcome_accuracy\",\"value\":400000000}]");
    sim(dir, 1); /* cycle 3 */
    config_set(dir, "[{\"key\":\"skill_score_weights.w_info_adv\",\"value\":900000000}]");
    for (int c = 0; c < 2; c++) {
        n[c] = scored_uids(dir, 2 + (uint64_t)c, uids, 3);
        assert_true(n[c] > 0);
        for (size_t i = 0; i < n[c]; i++) {
            saved[c][i] = check_explain(dir, 2 + (uint64_t)c, uids[i], c ? &after : &before);
            assert_non_null(strstr(saved[c][i], "\"params_from\":\"checkpoint\""));
        }
    }
    /* weights: the contributions of every miner add up to its skill score, in both cycles */
    for (int c = 2; c <= 3; c++) {
        json_t *wj, *e;
        size_t i, scored = 0;
        assert_int_equal(tu_run(out, sizeof(out), "%s weights --dir %s --cycle %d --json", bin,
                                dir, c),
                         0);
        wj = load_json(out);
        json_array_foreach(json_object_get(wj, "weights"), i, e)
        {
            json_t *ct = json_object_get(e, "contributions");
            int64_t sum = 0, skill;
            if (ct == NULL) {
                continue; /* the burn uid */
            }
            skill = nanos(json_object_get(e, "skill"));
            sum = nanos(json_object_get(ct, "forecast")) + nanos(json_object_get(ct, "skill")) +
                  nanos(json_object_get(ct, "econ")) + nanos(json_object_get(ct, "info"));
            if (sum - skill > 2 || skill - sum > 2) {
                fail_msg("weights cycle %d uid %lld: contributions %lld, skill %lld", c,
                         (long long)json_integer_value(json_object_get(e, "uid")),
                         (long long)sum, (long long)skill);
            }
            scored++;
        }
        assert_true(scored > 0);
        json_decref(wj);
    }

    assert_int_equal(tu_run(out, sizeof(out), "rm -r %s/checkpoints", dir), 0);
    for (int c = 0; c < 2; c++) {
        n[c] = scored_uids(dir, 2 + (uint64_t)c, uids, 3);
        for (size_t i = 0; i < n[c]; i++) {
            char *again = check_explain(dir, 2 + (uint64_t)c, uids[i], c ? &after : &before);
            json_t *a = load_json(again), *b = load_json(saved[c][i]);
            assert_string_equal(json_string_value(json_object_get(a, "params_from")), "replay");
            json_object_del(a, "params_from");
            json_object_del(b, "params_from");
            assert_true(json_equal(a, b));
            json_decref(a);
            json_decref(b);
            free(again);
            free(saved[c][i]);
        }
    }
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_equals_genesis),
        cmocka_unit_test(test_tampered_input),
        cmocka_unit_test(test_wrong_derived_record),
        cmocka_unit_test(test_covers_to_behind),
        cmocka_unit_test(test_rule_violation),
        cmocka_unit_test(test_bad_heads),
        cmocka_unit_test(test_append_rules),
        cmocka_unit_test(test_explain_after_config_set),
    };
    bin = getenv("TALLY_BIN");
    if (bin == NULL || sodium_init() < 0) {
        fprintf(stderr, "TALLY_BIN must name the tally binary (ctest sets it)\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* `tally reconstruct` and `tally diff` on simulated logs: a reconstructed cycle's files agree
 * with the log's own records (STATE_HASH, WEIGHTS, MINER_SCOREs) and its checkpoint; --at picks
 * the latest cycle at or before a time; a log whose node wrote a wrong MINER_SCORE (re-signed,
 * so it verifies as a log) and a checkpoint file that is not its cycle's fail naming the seq
 * and write nothing; diff tells identical, prefix and divergent logs apart, names the first
 * differing seq and field (checked against `tally log` of both), and lists the cycles whose
 * weights change, uid by uid (checked against `tally weights` of both). */
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
#include <sys/stat.h>
#include <time.h>

#include "store/store.h"
#include "util/testutil.h"

static const char *bin;
static char out[4 << 20], out2[4 << 20];
static const char *base, *prefix, *other, *forged;
static uint64_t forged_seq;

static void sim(const char *dir, unsigned days, unsigned markets)
{
    char extra[64] = "";
    if (markets) {
        snprintf(extra, sizeof(extra), "--markets-per-day %u", markets);
    }
    assert_int_equal(tu_run(out, sizeof(out), "%s simulate --dir %s --miners 12 --days %u --seed 3 "
                                              "%s -q",
                            bin, dir, days, extra),
                     0);
}

static json_t *load_json(const char *txt)
{
    json_error_t je;
    json_t *o = json_loads(txt, JSON_DISABLE_EOF_CHECK, &je);
    if (o == NULL) {
        fail_msg("not JSON (%s): %.300s", je.text, txt);
    }
    return o;
}

static json_t *load_file(const char *dir, const char *name)
{
    char path[4096];
    json_error_t je;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    json_t *o = json_load_file(path, 0, &je);
    if (o == NULL) {
        fail_msg("%s: %s", path, je.text);
    }
    return o;
}

/* The bodies of the log's records of one type whose body's "cycle" is c, as a JSON array. */
static json_t *bodies_of(const char *dir, const char *type, uint64_t c)
{
    json_t *arr = json_array();
    assert_int_equal(tu_run(out, sizeof(out), "%s log --dir %s --type %s", bin, dir, type), 0);
    for (char *l = strtok(out, "\n"); l != NULL; l = strtok(NULL, "\n")) {
        json_t *r = load_json(l), *b = json_object_get(r, "body");
        if (json_integer_value(json_object_get(b, "cycle")) == (json_int_t)c) {
            json_object_set(b, "seq", json_object_get(r, "seq"));
            json_array_append(arr, b);
        }
        json_decref(r);
    }
    return arr;
}

/* Copies `from` to `to` record by record, re-signing the first MINER_SCORE of cycle 2 with its
 * skill changed: what a node that computed a wrong score would have written. */
static uint64_t copy_forged(const char *from, const char *to)
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
    uint64_t first, target = UINT64_MAX;

    snprintf(path, sizeof(path), "%s/node.key", from);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(seed, 1, 32, f), 32);
    fclose(f);
    assert_int_equal(store_open(&ca, &a), TALLY_OK);
    store_cfg cb = {.dir = to, .create = true, .origin = store_origin(a), .key_seed = seed};
    assert_int_equal(store_open(&cb, &b), TALLY_OK);
    assert_int_equal(store_iter_open(a, 0, &it), TALLY_OK);
    while (store_iter_next(it, &r) == TALLY_OK) {
        schema_header h;
        uint8_t *body = malloc(SCHEMA_BODY_MAX);
        size_t bn = r.body.n;
        assert_int_equal(schema_header_decode(r.header.p, r.header.n, &h), TALLY_OK);
        memcpy(body, r.body.p, r.body.n);
        if (h.type == SCHEMA_MINER_SCORE && target == UINT64_MAX) {
            schema_body sb;
            uint64_t t = h.time_ms;
            assert_int_equal(schema_body_decode(SCHEMA_MINER_SCORE, body, bn, &sb), TALLY_OK);
            if (sb.u.miner_score.cycle == 2) {
                sb.u.miner_score.skill += 1;
                assert_int_equal(schema_body_encode(&sb, body, SCHEMA_BODY_MAX, &bn), TALLY_OK);
                assert_int_equal(schema_header_init(&sb, body, bn, h.actor, &h), TALLY_OK);
                assert_int_equal(store_node_sign(b, &h), TALLY_OK);
                h.time_ms = t;
                target = r.seq;
            }
            schema_body_release(&sb);
        }
        batch[n++] = (store_input){h, body, bn};
        if (n >= 1000) {
            assert_int_equal(store_append(b, batch, n, &first), TALLY_OK);
            for (size_t i = 0; i < n; i++) {
                free((void *)(uintptr_t)batch[i].body);
            }
            n = 0;
        }
    }
    if (n > 0) {
        assert_int_equal(store_append(b, batch, n, &first), TALLY_OK);
    }
    for (size_t i = 0; i < n; i++) {
        free((void *)(uintptr_t)batch[i].body);
    }
    free(batch);
    store_iter_close(it);
    store_close(a);
    store_close(b);
    assert_true(target != UINT64_MAX);
    return target;
}

static int setup(void **state)
{
    (void)state;
    base = tu_tmpdir("fx-base");
    prefix = tu_tmpdir("fx-prefix");
    other = tu_tmpdir("fx-other");
    forged = tu_tmpdir("fx-forged");
    sim(base, 4, 0);
    sim(prefix, 3, 0);
    sim(other, 4, 12); /* the same seed, another number of markets a day */
    forged_seq = copy_forged(base, forged);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(base);
    tu_rmdir(prefix);
    tu_rmdir(other);
    tu_rmdir(forged);
    return 0;
}

static void sha256_file(const char *path, char hex[65], size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(64u << 20), h[32];
    assert_non_null(f);
    *len = fread(buf, 1, 64u << 20, f);
    fclose(f);
    crypto_hash_sha256(h, buf, *len);
    sodium_bin2hex(hex, 65, h, 32);
    free(buf);
}

static void test_reconstruct_cycle(void **state)
{
    const char *o = tu_tmpdir("fx-out");
    char path[4096], hex[65];
    size_t len, i;
    json_t *cy, *w, *sc, *rec, *e;
    (void)state;

    if (tu_run(out, sizeof(out), "%s --dir %s reconstruct --cycle 2 --out %s -q", bin, base, o) !=
        0) {
        fail_msg("reconstruct: %s", out);
    }
    assert_non_null(strstr(out, "equals its STATE_HASH record and the checkpoint file"));
    /* cycle.json: the state hash is the STATE_HASH record's, and state.msgpack hashes to it */
    cy = load_file(o, "cycle.json");
    rec = bodies_of(base, "STATE_HASH", 2);
    assert_int_equal(json_array_size(rec), 1);
    e = json_array_get(rec, 0);
    assert_string_equal(json_string_value(json_object_get(cy, "state_hash")),
                        json_string_value(json_object_get(e, "state_hash")));
    assert_int_equal(json_integer_value(json_object_get(cy, "state_seq")),
                     json_integer_value(json_object_get(e, "seq")));
    assert_int_equal(json_integer_value(json_object_get(cy, "tree_size")),
                     json_integer_value(json_object_get(e, "seq")) + 1);
    snprintf(path, sizeof(path), "%s/state.msgpack", o);
    sha256_file(path, hex, &len);
    assert_string_equal(hex, json_string_value(json_object_get(e, "state_hash")));
    assert_int_equal(len, json_integer_value(json_object_get(e, "state_len")));
    assert_true(json_is_true(json_object_get(cy, "checkpoint_file_checked")));
    assert_non_null(json_object_get(json_object_get(cy, "params"), "decay.half_life_days"));
    json_decref(rec);
    /* the root at tree_size is the one the log proves (tally proof's consistency base) */
    assert_int_equal(strlen(json_string_value(json_object_get(cy, "root"))), 64);
    /* weights.json: the WEIGHTS record's uids and weights, with hotkeys */
    w = load_file(o, "weights.json");
    rec = bodies_of(base, "WEIGHTS", 2);
    assert_int_equal(json_array_size(rec), 1);
    e = json_array_get(rec, 0);
    assert_true(json_equal(json_object_get(w, "uids"), json_object_get(e, "uids")));
    assert_true(json_equal(json_object_get(w, "weights"), json_object_get(e, "weights")));
    assert_true(json_array_size(json_object_get(w, "uids")) > 1);
    assert_int_equal(json_array_size(json_object_get(w, "hotkeys")),
                     json_array_size(json_object_get(w, "uids")));
    assert_true(json_is_string(json_array_get(json_object_get(w, "hotkeys"), 0)));
    json_decref(rec);
    /* scores.json: every MINER_SCORE of the block, field for field */
    sc = load_file(o, "scores.json");
    rec = bodies_of(base, "MINER_SCORE", 2);
    assert_true(json_array_size(rec) > 0);
    assert_int_equal(json_array_size(json_object_get(sc, "miner_scores")), json_array_size(rec));
    json_array_foreach(rec, i, e)
    {
        assert_true(json_equal(json_array_get(json_object_get(sc, "miner_scores"), i), e));
    }
    json_decref(rec);
    json_decref(sc);
    json_decref(w);
    json_decref(cy);
    /* cycle 3 has submission scores: one line each, the log's */
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct --cycle 3 --out %s -q", bin,
                            base, o),
                     0);
    rec = bodies_of(base, "SUBMISSION_SCORE", 3);
    assert_true(json_array_size(rec) > 0);
    snprintf(path, sizeof(path), "cat %s/submission_scores.jsonl", o);
    assert_int_equal(tu_run(out, sizeof(out), "%s", path), 0);
    i = 0;
    for (char *l = strtok(out, "\n"); l != NULL; l = strtok(NULL, "\n"), i++) {
        json_t *x = load_json(l);
        assert_true(json_equal(x, json_array_get(rec, i)));
        json_decref(x);
    }
    assert_int_equal(i, json_array_size(rec));
    json_decref(rec);
    /* the gated view and a resume from cycle 2's checkpoint give the same state */
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct --cycle 3 --gated --json -q "
                                              "--out %s",
                            bin, base, o),
                     0);
    cy = load_json(out);
    assert_string_equal(json_string_value(json_object_get(cy, "view")), "gated");
    assert_int_equal(tu_run(out2, sizeof(out2), "%s --dir %s reconstruct --cycle 3 --resume --json "
                                                "-q --out %s",
                            bin, base, o),
                     0);
    w = load_json(out2);
    assert_int_equal(json_integer_value(json_object_get(w, "resumed_from_cycle")), 2);
    assert_string_equal(json_string_value(json_object_get(cy, "state_hash")),
                        json_string_value(json_object_get(w, "state_hash")));
    json_decref(cy);
    json_decref(w);
    /* no such cycle, and bad usage */
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct --cycle 9 -q 2>&1", bin,
                            base),
                     4);
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct -q 2>&1", bin, base), 2);
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct --cycle 2 --at 5 2>&1", bin,
                            base),
                     2);
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct --at 2026-13-01T00:00:00Z "
                                              "2>&1",
                            bin, base),
                     2);
    tu_rmdir(o);
}

/* The SCORING_CYCLE record of cycle c: its time_ms. */
static uint64_t cycle_time(const char *dir, uint64_t c)
{
    json_t *arr = json_array();
    uint64_t t = 0;
    assert_int_equal(tu_run(out, sizeof(out), "%s log --dir %s --type SCORING_CYCLE", bin, dir), 0);
    for (char *l = strtok(out, "\n"); l != NULL; l = strtok(NULL, "\n")) {
        json_t *r = load_json(l);
        if (json_integer_value(json_object_get(json_object_get(r, "body"), "cycle")) ==
            (json_int_t)c) {
            t = (uint64_t)json_integer_value(json_object_get(r, "time_ms"));
        }
        json_decref(r);
    }
    json_decref(arr);
    assert_true(t > 0);
    return t;
}

static uint64_t at_cycle(const char *at)
{
    json_t *o;
    uint64_t c;
    if (tu_run(out, sizeof(out), "%s --dir %s reconstruct --at %s --json -q --out %s/../fx-at", bin,
               base, at, base) != 0) {
        fail_msg("reconstruct --at %s: %s", at, out);
    }
    o = load_json(out);
    c = (uint64_t)json_integer_value(json_object_get(o, "cycle"));
    json_decref(o);
    return c;
}

static void test_reconstruct_at(void **state)
{
    uint64_t t3 = cycle_time(base, 3), t2 = cycle_time(base, 2);
    char arg[96], iso[40];
    time_t secs;
    struct tm tm;
    (void)state;

    snprintf(arg, sizeof(arg), "%llu", (unsigned long long)t3);
    assert_int_equal(at_cycle(arg), 3);
    snprintf(arg, sizeof(arg), "%llu", (unsigned long long)(t3 - 1));
    assert_int_equal(at_cycle(arg), 2);
    snprintf(arg, sizeof(arg), "%llu", (unsigned long long)(t3 + 3600 * 1000));
    assert_int_equal(at_cycle(arg), 3);
    /* RFC 3339: the second before cycle 3, and cycle 2's own time with milliseconds */
    secs = (time_t)(t3 / 1000 - 1);
    gmtime_r(&secs, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_int_equal(at_cycle(iso), 2);
    secs = (time_t)(t2 / 1000);
    gmtime_r(&secs, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(arg, sizeof(arg), "%s.%03uZ", iso, (unsigned)(t2 % 1000));
    assert_int_equal(at_cycle(arg), 2);
    /* before the first cycle: none */
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct --at 1000 -q 2>&1", bin,
                            base),
                     4);
    snprintf(arg, sizeof(arg), "%s/../fx-at", base);
    assert_int_equal(tu_run(out, sizeof(out), "rm -rf %s", arg), 0);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void test_reconstruct_forged(void **state)
{
    const char *o = tu_tmpdir("fx-forged-out"), *copy = tu_tmpdir("fx-ckpt");
    char want[96], outdir[4200];
    (void)state;

    /* the forged log verifies as a log; cycle 1 (before the forgery) still reconstructs */
    snprintf(outdir, sizeof(outdir), "%s/x", o);
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct --cycle 1 --out %s -q", bin,
                            forged, outdir),
                     0);
    assert_int_equal(tu_run(out, sizeof(out), "rm -r %s", outdir), 0);
    assert_int_equal(tu_run(out, sizeof(out),
                            "%s --dir %s reconstruct --cycle 2 --out %s -q 2>&1", bin, forged,
                            outdir),
                     1);
    snprintf(want, sizeof(want), "MISMATCH at seq %llu", (unsigned long long)forged_seq);
    if (strstr(out, want) == NULL || strstr(out, "MINER_SCORE: field skill") == NULL) {
        fail_msg("wanted '%s' and the field, reconstruct said: %s", want, out);
    }
    assert_false(exists(outdir)); /* nothing claimed */
    assert_int_equal(tu_run(out, sizeof(out),
                            "%s --dir %s reconstruct --cycle 3 --json --out %s -q 2>/dev/null",
                            bin, forged, outdir),
                     1);
    json_t *j = load_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), forged_seq);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "derived");
    json_decref(j);
    assert_false(exists(outdir));

    /* a checkpoint file that is not its cycle's state (cycle 1's, under cycle 2's name) */
    assert_int_equal(tu_run(out, sizeof(out), "cp -r %s/. %s/ && cp %s/checkpoints/1.zst "
                                              "%s/checkpoints/2.zst",
                            base, copy, copy, copy),
                     0);
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s reconstruct --cycle 2 --out %s -q 2>&1",
                            bin, copy, outdir),
                     1);
    assert_non_null(strstr(out, "checkpoints/2.zst is not the recomputed state"));
    assert_false(exists(outdir));
    /* without the file, the log alone suffices */
    assert_int_equal(tu_run(out, sizeof(out), "rm %s/checkpoints/2.zst && %s --dir %s reconstruct "
                                              "--cycle 2 --out %s -q",
                            copy, bin, copy, outdir),
                     0);
    assert_non_null(strstr(out, "no checkpoint file to check"));
    tu_rmdir(o);
    tu_rmdir(copy);
}

static json_t *diff_json(const char *a, const char *b, int want_rc)
{
    int rc = tu_run(out, sizeof(out), "%s diff --json %s %s", bin, a, b);
    if (rc != want_rc) {
        fail_msg("diff %s %s: exit %d, wanted %d: %s", a, b, rc, want_rc, out);
    }
    return load_json(out);
}

static void test_diff_identical_prefix(void **state)
{
    json_t *j;
    (void)state;

    j = diff_json(base, base, 0);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "identical");
    assert_true(json_integer_value(json_object_get(j, "tiles_skipped")) > 10);
    json_decref(j);
    j = diff_json(prefix, base, 0);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "prefix");
    assert_true(json_integer_value(json_object_get(j, "size_a")) <
                json_integer_value(json_object_get(j, "size_b")));
    json_decref(j);
    assert_int_equal(tu_run(out, sizeof(out), "%s diff %s %s", bin, base, prefix), 0);
    assert_non_null(strstr(out, "prefix: B ("));
    /* a node's ledger listener that is not there, or a URL that names no listener: a clear
     * error, no verdict */
    int rc = tu_run(out, sizeof(out), "%s diff %s http://127.0.0.1:1 2>&1", bin, base);
    assert_true(rc != 0 && rc != 1);
    assert_non_null(strstr(out, "http://127.0.0.1:1/v1/info"));
    rc = tu_run(out, sizeof(out), "%s diff http://127.0.0.1:1/log %s 2>&1", bin, base);
    assert_true(rc != 0 && rc != 1);
    assert_non_null(strstr(out, "is not http://host:port of a ledger listener"));
    assert_int_equal(tu_run(out, sizeof(out), "%s diff %s 2>&1", bin, base), 2);
}

/* The forged MINER_SCORE: the first divergence is that record, in its body's skill; the cycle
 * whose block holds it is affected (not through its inputs) and its WEIGHTS are the same. */
static void test_diff_forged(void **state)
{
    json_t *j, *c;
    size_t i;
    bool saw2 = false;
    (void)state;

    j = diff_json(base, forged, 1);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "diverged");
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), forged_seq);
    assert_string_equal(json_string_value(json_object_get(j, "field")), "body_hash");
    assert_string_equal(json_string_value(json_object_get(j, "body_field")), "skill");
    json_array_foreach(json_object_get(j, "cycles"), i, c)
    {
        json_int_t cy = json_integer_value(json_object_get(c, "cycle"));
        assert_true(cy >= 2);
        if (cy == 2) {
            saw2 = true;
            assert_false(json_is_true(json_object_get(c, "inputs_include_seq")));
            assert_false(json_is_true(json_object_get(c, "weights_differ")));
        }
    }
    assert_true(saw2);
    json_decref(j);
}

/* uid → weight of one cycle, from tally weights --json (-1 where absent). */
static void weights_of(const char *dir, json_int_t cycle, json_int_t *w, size_t n)
{
    json_t *o, *e;
    size_t i;
    for (size_t k = 0; k < n; k++) {
        w[k] = -1;
    }
    assert_int_equal(tu_run(out2, sizeof(out2), "%s weights --dir %s --cycle %lld --json", bin,
                            dir, (long long)cycle),
                     0);
    o = load_json(out2);
    json_array_foreach(json_object_get(o, "weights"), i, e)
    {
        json_int_t uid = json_integer_value(json_object_get(e, "uid"));
        assert_true(uid >= 0 && (size_t)uid < n);
        w[uid] = json_integer_value(json_object_get(e, "weight"));
    }
    json_decref(o);
}

/* Two histories from one seed that part at some input record: the first seq is the first line
 * where `tally log` of the two differs, the field named is one that differs there, and each
 * affected cycle's changes are exactly the uids whose weights `tally weights` shows differ. */
static void test_diff_changed_input(void **state)
{
    json_t *j, *c, *ra, *rb;
    uint64_t first = UINT64_MAX;
    const char *field, *body_field;
    size_t i, changed_cycles = 0;
    char *la, *lb, *sa, *sb;
    (void)state;

    j = diff_json(base, other, 1);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "diverged");
    /* the oracle: the logs' JSON lines, side by side */
    assert_int_equal(tu_run(out, sizeof(out), "%s log --dir %s", bin, base), 0);
    assert_int_equal(tu_run(out2, sizeof(out2), "%s log --dir %s", bin, other), 0);
    la = strtok_r(out, "\n", &sa), lb = strtok_r(out2, "\n", &sb);
    for (uint64_t seq = 0; la != NULL && lb != NULL; seq++) {
        if (strcmp(la, lb) != 0) {
            first = seq;
            break;
        }
        la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb);
    }
    assert_true(first != UINT64_MAX);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), first);
    ra = load_json(la), rb = load_json(lb);
    field = json_string_value(json_object_get(j, "field"));
    assert_non_null(field);
    assert_false(json_equal(json_object_get(ra, strcmp(field, "actor_sig") ? field : "sig"),
                            json_object_get(rb, strcmp(field, "actor_sig") ? field : "sig")));
    body_field = json_string_value(json_object_get(j, "body_field"));
    if (body_field != NULL) {
        char top[64];
        snprintf(top, sizeof(top), "%.*s", (int)strcspn(body_field, ".["), body_field);
        assert_false(json_equal(json_object_get(json_object_get(ra, "body"), top),
                                json_object_get(json_object_get(rb, "body"), top)));
    }
    json_decref(ra);
    json_decref(rb);
    /* the cycles and their weight changes */
    assert_true(json_array_size(json_object_get(j, "cycles")) > 0);
    json_array_foreach(json_object_get(j, "cycles"), i, c)
    {
        json_int_t cy = json_integer_value(json_object_get(c, "cycle"));
        json_int_t wa[4096], wb[4096];
        json_t *ch = json_object_get(c, "changes"), *x;
        size_t k, n_diff = 0;
        if (!json_is_true(json_object_get(c, "in_a")) || !json_is_true(json_object_get(c, "in_b"))) {
            continue;
        }
        weights_of(base, cy, wa, 4096);
        weights_of(other, cy, wb, 4096);
        for (size_t u = 0; u < 4096; u++) {
            n_diff += wa[u] != wb[u];
        }
        assert_int_equal(json_array_size(ch), n_diff);
        assert_int_equal(json_is_true(json_object_get(c, "weights_differ")), n_diff > 0);
        json_array_foreach(ch, k, x)
        {
            json_int_t uid = json_integer_value(json_object_get(x, "uid"));
            json_t *a = json_object_get(x, "a"), *b = json_object_get(x, "b");
            assert_int_equal(json_is_null(a) ? -1 : json_integer_value(a), wa[uid]);
            assert_int_equal(json_is_null(b) ? -1 : json_integer_value(b), wb[uid]);
        }
        changed_cycles += n_diff > 0;
    }
    assert_true(changed_cycles > 0);
    json_decref(j);
    /* the text view names the same seq */
    assert_int_equal(tu_run(out, sizeof(out), "%s diff %s %s", bin, base, other), 1);
    snprintf(out2, 64, "diverged at seq %llu ", (unsigned long long)first);
    assert_non_null(strstr(out, out2));
    assert_non_null(strstr(out, "weights differ for"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconstruct_cycle),
        cmocka_unit_test(test_reconstruct_at),
        cmocka_unit_test(test_reconstruct_forged),
        cmocka_unit_test(test_diff_identical_prefix),
        cmocka_unit_test(test_diff_forged),
        cmocka_unit_test(test_diff_changed_input),
    };
    bin = getenv("TALLY_BIN");
    if (bin == NULL || sodium_init() < 0) {
        fprintf(stderr, "TALLY_BIN must name the tally binary (ctest sets it)\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}

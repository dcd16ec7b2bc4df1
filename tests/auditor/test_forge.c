/* The tamper matrix, the rows a proxy cannot play: the node itself signs the lie. An honest
 * history (`tally simulate`: three days, a scored cycle at each midnight); tamper_forge() rewrites
 * the log with one record changed and re-signed with the node key (tamper/tamper.h); a real
 * `tally serve` started on the forged log from its latest checkpoint serves it as its own, and
 * `tally audit --once` must fail with the right reason at the seq that `tally replay` of the
 * forged log names, and attest the fail:
 * - forged-derived: a MINER_SCORE one unit off → derived_mismatch at that record;
 * - changed-input: the OUTCOME's winner swapped → derived_mismatch at the first derived record
 *   that scored it;
 * - rule-violation: a CLOSE one ms early → ingest_rule_violation at the CLOSE.
 * The honest node's own start-up replay refuses each forged log, and `tally diff` of the node's
 * ledger listener against the honest log names the changed record.
 *
 * Which actor signatures the auditor verifies (decision 66), on logs whose tree and heads are
 * made over one record with a bad signature: an ODDS_SUBMISSION's is signature_invalid at that
 * seq; a SUBMISSION_SCORE's is not checked by default (the replay recomputes the record) and is
 * signature_invalid with TALLY_AUDIT_SIGNATURES=all. */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>

#include "schema/schema.h"
#include "store/store.h"
#include "tamper/tamper.h"
#include "util/auditrun.h"
#include "util/node.h"
#include "util/proxy.h"
#include "util/testutil.h"

static const char *tmp;
static char logdir[400], origin[60], vkey[512];
static uint64_t log_size;

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

/* The honest history: `tally simulate` of a small subnet over three days (a cycle at every
 * midnight, with scores, weights and checkpoints), and the key of its first validator, bound
 * with a permit and stake in every METAGRAPH, for the auditor. */
static int setup(void **state)
{
    char out[8192];
    store_cfg cfg = {.read_only = true};
    store_log *log;
    (void)state;

    tmp = tu_tmpdir("forge");
    snprintf(logdir, sizeof(logdir), "%s/log", tmp);
    assert_int_equal(tu_run(out, sizeof(out),
                            "mkdir -p %s && %s --dir %s simulate --miners 8 --days 4 "
                            "--markets-per-day 6 --seed 1 -q",
                            logdir, bin(), logdir),
                     0);
    assert_int_equal(tu_run(out, sizeof(out),
                            "%s keygen --out %s/auditor.key --sim-validator 0 --sim-seed 1 "
                            "--sim-miners 8",
                            bin(), tmp),
                     0);
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s", bin(), logdir), 0);
    cfg.dir = logdir;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    snprintf(origin, sizeof(origin), "%s", store_origin(log));
    log_size = store_size(log);
    store_close(log);
    {
        tn_node n = {0};
        snprintf(n.dir, sizeof(n.dir), "%s", logdir);
        ta_node_vkey(&n, vkey, sizeof(vkey));
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (getenv("KEEP_TMP") == NULL) {
        tu_rmdir(tmp);
    }
    return 0;
}

/* `tally replay` of dir: the seq of its first mismatch. */
static uint64_t replay_seq(const char *dir)
{
    char out[8192];
    const char *at;
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s", bin(), dir), 1);
    at = strstr(out, "MISMATCH at seq ");
    if (at == NULL) {
        fail_msg("replay names no seq:\n%s", out);
    }
    return strtoull(at + 16, NULL, 10);
}

static void forge_case(tamper_kind kind, const char *reason, bool at_forged)
{
    char fdir[400], adir[400], out[8192], want[128], detail[TAMPER_DETAIL_MAX] = "";
    tamper_forged f;
    tn_node n = {0};
    uint64_t seq, last = 0, verdict = 0;
    int rc;

    snprintf(fdir, sizeof(fdir), "%s/forged-%s", tmp, tamper_kind_name(kind));
    snprintf(adir, sizeof(adir), "%s/auditor-%s", tmp, tamper_kind_name(kind));
    assert_int_equal(mkdir(fdir, 0700), 0);
    assert_int_equal(mkdir(adir, 0700), 0);
    snprintf(out, sizeof(out), "cp -p %s/auditor.key %s/", tmp, adir);
    assert_int_equal(tu_run(detail, sizeof(detail), "%s", out), 0);
    if (tamper_forge(logdir, fdir, kind, &f, detail) != TALLY_OK) {
        fail_msg("forge: %s", detail);
    }
    assert_int_equal(f.records, log_size);
    assert_true(f.checkpoints >= 2);
    /* every signature and head of the forged log verifies: only replay tells */
    assert_int_equal(tu_run(out, sizeof(out), "%s verify --dir %s --signatures", bin(), fdir), 0);
    seq = replay_seq(fdir);
    if (at_forged) {
        assert_int_equal(seq, f.seq);
    } else {
        assert_true(seq > f.seq);
    }
    /* an honest node's start-up replay refuses it */
    rc = tu_run(out, sizeof(out),
                "TALLY_CONFIG=/dev/null TALLY_INGEST_LISTEN=127.0.0.1:0 "
                "TALLY_LEDGER_LISTEN=127.0.0.1:0 TALLY_OPS_LISTEN=127.0.0.1:0 timeout 60 %s serve "
                "--dir %s 2>&1",
                bin(), fdir);
    assert_int_not_equal(rc, 0);
    assert_int_not_equal(rc, 124);
    assert_non_null(strstr(out, "do not replay"));

    /* the misbehaving node: the same code, started from its checkpoint, trusting its disk */
    ta_serve_log(&n, tmp, origin, fdir, NULL);
    /* tally diff against the node's ledger listener: the log it serves is the forged one, and
     * it parts from the honest one exactly at the changed record */
    {
        char url[64], want_diff[96];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)n.port[TN_LEDGER]);
        assert_int_equal(tu_run(out, sizeof(out), "%s diff %s %s", bin(), url, fdir), 0);
        assert_non_null(strstr(out, "identical"));
        assert_int_equal(tu_run(out, sizeof(out), "%s diff %s %s", bin(), logdir, url), 1);
        snprintf(want_diff, sizeof(want_diff), "diverged at seq %" PRIu64 " ", f.seq);
        if (strstr(out, want_diff) == NULL) {
            fail_msg("wanted \"%s\" in:\n%s", want_diff, out);
        }
    }
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 1);
    snprintf(want, sizeof(want), "FAIL %s at seq %" PRIu64 ":", reason, seq);
    if (strstr(out, want) == NULL) {
        fail_msg("wanted \"%s\" in:\n%s", want, out);
    }
    /* the fail is attested in the node's log, for everyone to see */
    assert_true(ta_attestations(&n, &last, &verdict) >= 1);
    assert_int_equal(verdict, 2);
    /* a second round keeps the verdict and loses nothing verified */
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, sizeof(out));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, want));
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
}

static void test_forged_derived(void **state)
{
    (void)state;
    forge_case(TAMPER_FORGED_DERIVED, "derived_mismatch", true);
}

static void test_changed_input(void **state)
{
    (void)state;
    forge_case(TAMPER_CHANGED_INPUT, "derived_mismatch", false);
}

static void test_rule_violation(void **state)
{
    (void)state;
    forge_case(TAMPER_RULE_VIOLATION, "ingest_rule_violation", true);
}

/* An auditor against a node serving a log with one bad actor signature of `type`: its exit
 * status, with TALLY_AUDIT_SIGNATURES=all when all; *seq_out the bad record. */
static int bad_signature_audit(unsigned type, bool all, uint64_t *seq_out, char *out, size_t cap)
{
    static int runs;
    char fdir[400], adir[400], detail[TAMPER_DETAIL_MAX] = "";
    tamper_forged f;
    tn_node n = {0};
    int rc;

    runs++;
    snprintf(fdir, sizeof(fdir), "%s/badsig-%d", tmp, runs);
    snprintf(adir, sizeof(adir), "%s/auditor-badsig-%d", tmp, runs);
    assert_int_equal(mkdir(fdir, 0700), 0);
    assert_int_equal(mkdir(adir, 0700), 0);
    assert_int_equal(tu_run(out, cap, "cp -p %s/auditor.key %s/", tmp, adir), 0);
    if (tamper_forge_signature(logdir, fdir, type, &f, detail) != TALLY_OK) {
        fail_msg("forge: %s", detail);
    }
    assert_int_equal(f.type, type);
    /* the heads verify; the one signature does not */
    assert_int_equal(tu_run(out, cap, "%s verify --dir %s", bin(), fdir), 0);
    assert_int_not_equal(tu_run(out, cap, "%s verify --dir %s --signatures", bin(), fdir), 0);
    ta_serve_log(&n, tmp, origin, fdir, NULL);
    if (all) {
        setenv("TALLY_AUDIT_SIGNATURES", "all", 1);
    }
    rc = ta_audit_once(n.port[TN_LEDGER], n.origin, adir, vkey, out, cap);
    unsetenv("TALLY_AUDIT_SIGNATURES");
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    *seq_out = f.seq;
    return rc;
}

static void expect_bad_signature(const char *out, uint64_t seq)
{
    char want[96];
    snprintf(want, sizeof(want), "FAIL signature_invalid at seq %" PRIu64 ":", seq);
    if (strstr(out, want) == NULL) {
        fail_msg("wanted \"%s\" in:\n%s", want, out);
    }
}

static void test_bad_signature(void **state)
{
    char out[8192];
    uint64_t seq;
    (void)state;

    /* an input record: always verified */
    assert_int_equal(bad_signature_audit(SCHEMA_ODDS_SUBMISSION, false, &seq, out, sizeof(out)),
                     1);
    expect_bad_signature(out, seq);
    /* a derived record: recomputed and compared instead, unless all are asked for */
    assert_int_equal(bad_signature_audit(SCHEMA_SUBMISSION_SCORE, false, &seq, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "cycles checked"));
    assert_int_equal(bad_signature_audit(SCHEMA_SUBMISSION_SCORE, true, &seq, out, sizeof(out)), 1);
    expect_bad_signature(out, seq);
    /* an auditor that may bootstrap from a checkpoint checks every signature until it has
     * checked a cycle: its replay may skip the cycle that recomputes the record */
    setenv("TALLY_AUDIT_BOOTSTRAP", "checkpoint", 1);
    assert_int_equal(bad_signature_audit(SCHEMA_SUBMISSION_SCORE, false, &seq, out, sizeof(out)),
                     1);
    unsetenv("TALLY_AUDIT_BOOTSTRAP");
    expect_bad_signature(out, seq);
    /* in a later delta of the pipeline: the same seq */
    setenv("TALLY_AUDIT_DELTA_RECORDS", "50", 1);
    assert_int_equal(bad_signature_audit(SCHEMA_ODDS_SUBMISSION, false, &seq, out, sizeof(out)),
                     1);
    unsetenv("TALLY_AUDIT_DELTA_RECORDS");
    assert_true(seq > 100);
    expect_bad_signature(out, seq);
}

/* An honest node audited in deltas of 50 records (the pipeline with every stage busy) and in one
 * delta: the same verdicts, the same weights file, and replicas that verify. */
static void test_small_deltas(void **state)
{
    char cdir[400], a1[400], a2[400], out[8192], out2[8192];
    tn_node n = {0};
    (void)state;

    snprintf(cdir, sizeof(cdir), "%s/copy-small", tmp);
    snprintf(a1, sizeof(a1), "%s/auditor-one", tmp);
    snprintf(a2, sizeof(a2), "%s/auditor-small", tmp);
    assert_int_equal(mkdir(cdir, 0700), 0);
    assert_int_equal(mkdir(a1, 0700), 0);
    assert_int_equal(mkdir(a2, 0700), 0);
    assert_int_equal(tu_run(out, sizeof(out), "cp -p %s/auditor.key %s/ && cp -p %s/auditor.key %s/",
                            tmp, a1, tmp, a2),
                     0);
    /* a file copy keeps the simulation's signed heads (every ~180 records), so the node cuts
     * some of the 50-record deltas at a head and the auditor stores batches of several deltas
     * while it verifies the next */
    assert_int_equal(tu_run(out, sizeof(out), "cp -a %s/. %s/", logdir, cdir), 0);
    ta_serve_log(&n, tmp, origin, cdir, NULL);
    assert_int_equal(ta_audit_once(n.port[TN_LEDGER], n.origin, a1, vkey, out, sizeof(out)), 0);
    setenv("TALLY_AUDIT_DELTA_RECORDS", "50", 1);
    assert_int_equal(ta_audit_once(n.port[TN_LEDGER], n.origin, a2, vkey, out2, sizeof(out2)), 0);
    unsetenv("TALLY_AUDIT_DELTA_RECORDS");
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    /* the same cycles checked, from a replica of every record */
    assert_non_null(strstr(out2, "cycles checked"));
    assert_string_equal(strstr(out, "cycles checked") - 2, strstr(out2, "cycles checked") - 2);
    /* the weights file differs only in the tree size: the first auditor's attestations came
     * between the two audits */
    assert_int_equal(tu_run(out, sizeof(out),
                            "sed 's/\"tree_size\": *[0-9]*//' %s/weights.json >%s/w1 && "
                            "sed 's/\"tree_size\": *[0-9]*//' %s/weights.json >%s/w2 && "
                            "cmp %s/w1 %s/w2 && ! cmp -s %s/weights.json %s/weights.json",
                            a1, tmp, a2, tmp, tmp, tmp, a1, a2),
                     0);
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s/replica verify", bin(), a2), 0);
    assert_int_equal(tu_run(out, sizeof(out), "%s --dir %s/replica replay --view gated", bin(), a2), 0);
}

/* tally diff URL against a node that lies about its tiles or its key: an error naming what does
 * not verify, never a verdict. */
typedef enum { H_TILE, H_KEY } hostile;

static void hostile_rewrite(void *arg, const char *target, unsigned status, const uint8_t *body,
                            size_t n, uint8_t **out, size_t *out_n)
{
    hostile h = *(const hostile *)arg;

    if (status != 200 || n == 0) {
        return;
    }
    if ((h == H_TILE && strcmp(target, "/log/tile/0/000") == 0) ||
        (h == H_KEY && strcmp(target, "/v1/info") == 0)) {
        *out = malloc(n);
        memcpy(*out, body, n);
        if (h == H_TILE) {
            (*out)[n / 2] ^= 1; /* one leaf hash off */
        } else {
            char *k = strstr((char *)*out, "\"node_key\":\"");
            assert_non_null(k);
            k[12] = k[12] == '0' ? '1' : '0'; /* another key than the node's */
        }
        *out_n = n;
    }
}

static void test_diff_hostile(void **state)
{
    char cdir[400], out[8192], url[64], detail[TAMPER_DETAIL_MAX] = "";
    tamper_forged f;
    tn_node n = {0};
    (void)state;

    snprintf(cdir, sizeof(cdir), "%s/copy", tmp);
    assert_int_equal(mkdir(cdir, 0700), 0);
    if (tamper_copy(logdir, cdir, &f, detail) != TALLY_OK) {
        fail_msg("copy: %s", detail);
    }
    ta_serve_log(&n, tmp, origin, cdir, NULL);
    for (int k = 0; k < 2; k++) {
        hostile h = k == 0 ? H_TILE : H_KEY;
        tp_proxy *p = tp_start(n.port[TN_LEDGER], hostile_rewrite, &h);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)tp_port(p));
        int rc = tu_run(out, sizeof(out), "%s diff %s %s 2>&1", bin(), url, logdir);
        tp_stop(p);
        assert_true(rc != 0 && rc != 1);
        assert_non_null(strstr(out, h == H_TILE ? "the hash tiles do not give the root"
                                                : "does not verify with the key its /v1/info"));
    }
    /* and through no proxy, the same node is the honest log */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)n.port[TN_LEDGER]);
    assert_int_equal(tu_run(out, sizeof(out), "%s diff %s %s", bin(), url, logdir), 0);
    assert_non_null(strstr(out, "identical"));
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_derived),
        cmocka_unit_test(test_changed_input),
        cmocka_unit_test(test_rule_violation),
        cmocka_unit_test(test_diff_hostile),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_small_deltas),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

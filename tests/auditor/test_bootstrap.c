/* `tally audit` with TALLY_AUDIT_BOOTSTRAP=checkpoint against a real `tally serve` on loopback
 * (protocol §6.5, docs/audit.md "Bootstrap"). Two auditors that sync from GENESIS make cycle 1
 * final (finality.k = 2); then:
 * - a new auditor bootstraps from the final checkpoint of cycle 1: it attests only the cycles
 *   after it, with the same verdicts, state and weights hashes and weights.json as an auditor
 *   that replayed from GENESIS, and resumes from its own state afterwards;
 * - the bad-checkpoint row of the tamper matrix: a rewriting proxy serves a state blob with one
 *   byte changed, and separately the blob of another cycle → refused with bad_checkpoint, exit
 *   1, evidence kept, nothing attested, nothing verified lost; the next round against the
 *   honest node bootstraps;
 * - a listing that contradicts the log (covers_to moved) → bad_checkpoint as well;
 * - bad input: a malformed /v1/finality answer or checkpoint listing → a clear error (exit 9)
 *   and nothing of the bootstrap written;
 * - with no final cycle yet, a bootstrap replays from GENESIS as without the setting;
 * - a node that calls a cycle final that is not: the auditor's own finality fold decides. */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "schema/schema.h"
#include "store/store.h"
#include "util/auditrun.h"
#include "util/node.h"
#include "util/proxy.h"
#include "util/testutil.h"

/* A and B from GENESIS, C bootstraps, D plays the bad rows, E asks for a bootstrap before any
 * cycle is final, F is told a cycle is final that is not. */
#define N_AUD 6

typedef struct fixture {
    tn_node n;
    tn_miner m;
    uint8_t pk[N_AUD][32];
    char dir[N_AUD][600];
    char vkey[512];
} fixture;

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

/* One `tally audit --once` of auditor i against port (stdout and stderr in out). */
static int audit_once(fixture *f, int i, uint16_t port, bool bootstrap, char *out, size_t cap)
{
    int rc =
        tu_run(out, cap,
               "TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=http://127.0.0.1:%u "
               "TALLY_AUDIT_ORIGIN=%s TALLY_AUDIT_PRIMARY_KEY='%s' TALLY_AUDIT_BOOTSTRAP=%s "
               "TALLY_LOG_LEVEL=error %s audit --dir %s --once 2>&1",
               port, f->n.origin, f->vkey, bootstrap ? "checkpoint" : "genesis", bin(), f->dir[i]);
    print_message("auditor %d: exit %d\n%s", i, rc, out);
    return rc;
}

static int audit_status(fixture *f, int i, char *out, size_t cap)
{
    return ta_audit_status(f->n.port[TN_LEDGER], f->n.origin, f->dir[i], f->vkey, out, cap);
}

/* The last line of out. */
static const char *last_line(char *out)
{
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '\n') {
        out[--n] = '\0';
    }
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

/* Auditor key's ATTESTATION of cycle in the node's log; false if none. */
static bool attestation_of(const tn_node *n, const uint8_t key[32], uint64_t cycle,
                           schema_attestation *out)
{
    return ta_attestations_find(n, key, cycle, out) > 0;
}

static size_t attestations_by(const tn_node *n, const uint8_t key[32])
{
    size_t count = 0;
    for (uint64_t c = 1; c < 16; c++) {
        schema_attestation at;
        count += attestation_of(n, key, c, &at);
    }
    return count;
}

/* weights.json of auditor i without tree_size (the head each verified it under differs). */
static char *weights_of(const fixture *f, int i)
{
    char path[700];
    json_t *o;
    char *s;

    snprintf(path, sizeof(path), "%s/weights.json", f->dir[i]);
    o = json_load_file(path, 0, NULL);
    if (o == NULL) {
        fail_msg("no %s", path);
    }
    assert_non_null(json_object_get(o, "weights_hash"));
    json_object_del(o, "tree_size");
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static void odds(fixture *f, uint64_t event)
{
    size_t len;
    uint8_t *body = tn_odds(&f->n, &f->m, f->m.nonce + 1, &event, 1, &len);
    tn_resp r;
    tn_signed(&f->n, &f->m, "POST", "/v1/odds", body, len, 0, f->m.nonce + 1, &r);
    if (r.status != 200) {
        fail_msg("odds: %u %s", r.status, r.body ? r.body : "");
    }
    tn_resp_free(&r);
    free(body);
    f->m.nonce++;
}

static void expect_pass(fixture *f, int i, bool bootstrap, char *out, size_t cap)
{
    int rc = audit_once(f, i, f->n.port[TN_LEDGER], bootstrap, out, cap);
    if (rc != 0) {
        fail_msg("auditor %d: exit %d\n%s", i, rc, out);
    }
}

/* A node with one miner and four auditors bound; A and B pass cycle 1 from GENESIS (final with
 * k = 2), A passes cycle 2 (not final: one pass). */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char out[8192], kpath[700];
    uint64_t t0 = tn_now();

    assert_non_null(f);
    tn_init(&f->n, "bootstrap");
    /* a dozen rounds back to back from one address: no rate limit in the way */
    {
        static const char *const env[] = {"TALLY_RATE_IP_PER_S=1000",
                                          "TALLY_RATE_IP_PER_MIN=60000",
                                          "TALLY_RATE_KEY_PER_S=1000",
                                          "TALLY_RATE_KEY_PER_MIN=60000",
                                          "TALLY_RATE_GLOBAL_PER_S=1000",
                                          "TALLY_RATE_GLOBAL_PER_MIN=60000",
                                          NULL};
        for (size_t k = 0; env[k] != NULL; k++) {
            f->n.env[k] = env[k];
        }
    }
    tn_start(&f->n);
    for (int i = 0; i < N_AUD; i++) {
        uint8_t seed[32];
        snprintf(f->dir[i], sizeof(f->dir[i]), "%s/auditor%c", f->n.tmp, 'A' + i);
        assert_int_equal(tu_run(out, sizeof(out), "mkdir -p %s", f->dir[i]), 0);
        snprintf(kpath, sizeof(kpath), "%s/auditor.key", f->dir[i]);
        memset(seed, 0x61 + i, sizeof(seed));
        assert_int_equal(store_key_create(kpath, seed, f->pk[i], NULL), TALLY_OK);
    }
    tn_miner_init(&f->m, 7);
    ta_feed_auditors(&f->n, &f->m, (const uint8_t(*)[32])f->pk, N_AUD, 100, 11, t0 + 3600000);
    ta_chain_owner(&f->n, &f->m);
    odds(f, 11);
    ta_cycle(&f->n, 1);
    ta_node_vkey(&f->n, f->vkey, sizeof(f->vkey));
    /* nothing final yet: a bootstrap replays from GENESIS, as without the setting */
    expect_pass(f, 4, true, out, sizeof(out));
    assert_non_null(strstr(out, "cycle 1: pass"));
    assert_null(strstr(out, "bootstrapped"));
    assert_null(strstr(out, "resumed"));
    expect_pass(f, 0, false, out, sizeof(out));
    assert_non_null(strstr(out, "cycle 1: pass"));
    expect_pass(f, 1, false, out, sizeof(out));
    assert_non_null(strstr(out, "cycle 1: pass"));
    ta_feed_auditors(&f->n, &f->m, (const uint8_t(*)[32])f->pk, N_AUD, 101, 12, t0 + 7200000);
    odds(f, 12);
    ta_cycle(&f->n, 2);
    expect_pass(f, 0, false, out, sizeof(out));
    assert_non_null(strstr(out, "cycle 2: pass"));
    {
        tn_resp r;
        tn_http(&f->n, TN_LEDGER, "GET", "/v1/finality", NULL, 0, NULL, 0, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "latest_final_cycle")), 1);
        tn_resp_free(&r);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f == NULL) {
        return 0;
    }
    assert_int_equal(tn_stop(&f->n, SIGTERM), 0);
    tn_free(&f->n);
    free(f);
    return 0;
}

static void same_attestation(fixture *f, int i, int j, uint64_t cycle)
{
    schema_attestation x, y;
    assert_true(attestation_of(&f->n, f->pk[i], cycle, &x));
    assert_true(attestation_of(&f->n, f->pk[j], cycle, &y));
    assert_int_equal(x.verdict, 1);
    assert_int_equal(y.verdict, 1);
    assert_memory_equal(x.state_hash, y.state_hash, 32);
    assert_memory_equal(x.weights_hash, y.weights_hash, 32);
}

static void bootstrap_matches_genesis(void **state)
{
    fixture *f = *state;
    char out[8192], cmd[8192];
    schema_attestation at;
    char *wa, *wc;

    /* C bootstraps from cycle 1, the latest final one, and checks only cycle 2 */
    expect_pass(f, 2, true, out, sizeof(out));
    assert_non_null(strstr(out, "(bootstrapped from the final checkpoint of cycle 1)"));
    assert_null(strstr(out, "cycle 1:"));
    assert_non_null(strstr(out, "cycle 2: pass, attested, the node agrees"));
    assert_false(attestation_of(&f->n, f->pk[2], 1, &at));
    same_attestation(f, 0, 2, 2);
    wa = weights_of(f, 0), wc = weights_of(f, 2);
    assert_string_equal(wa, wc);
    free(wa), free(wc);
    assert_int_equal(audit_status(f, 2, cmd, sizeof(cmd)), 0);
    assert_non_null(strstr(cmd, "bootstrapped from the final checkpoint of cycle 1"));
    assert_non_null(
        strstr(cmd, "the cycles up to it were taken on their finality, not checked here"));
    assert_non_null(strstr(cmd, "cycles: checked 2, attested 2, last passing 2"));
    /* the replica holds the whole log and verifies as any tally log */
    if (tu_run(cmd, sizeof(cmd), "%s --dir %s/replica verify 2>&1", bin(), f->dir[2]) != 0) {
        fail_msg("replica verify: %s", cmd);
    }

    /* the next cycle: C resumes from its own state of cycle 2; same result as A */
    ta_feed_auditors(&f->n, &f->m, (const uint8_t(*)[32])f->pk, N_AUD, 102, 13, tn_now() + 9000000);
    odds(f, 13);
    ta_cycle(&f->n, 3);
    expect_pass(f, 0, false, out, sizeof(out));
    assert_non_null(strstr(out, "cycle 3: pass"));
    expect_pass(f, 2, true, out, sizeof(out));
    assert_non_null(strstr(out, "cycle 3: pass"));
    assert_non_null(strstr(out, "(resumed from cycle 2)"));
    assert_null(strstr(out, "bootstrapped"));
    same_attestation(f, 0, 2, 3);
    wa = weights_of(f, 0), wc = weights_of(f, 2);
    assert_string_equal(wa, wc);
    free(wa), free(wc);
}

/* ---- the bad rows, through a rewriting proxy ---- */

typedef enum { B_FINALITY, B_LISTING, B_LIE, B_FLIP, B_OTHER, B_CLAIM } bkind;

typedef struct bad {
    bkind kind;
    int done;
    const char *malformed; /* B_FINALITY, B_LISTING: the answer served instead */
    uint64_t cycle_served; /* the blob asked for */
    uint8_t *other[8];     /* the node's states of cycles 1.. (B_OTHER) */
    size_t other_n[8];
} bad;

static void rewrite(void *arg, const char *target, unsigned status, const uint8_t *body, size_t n,
                    uint8_t **out, size_t *out_n)
{
    bad *b = arg;
    uint64_t cycle = 0;

    if (status != 200) {
        return;
    }
    if (b->kind == B_FINALITY && strcmp(target, "/v1/finality") == 0) {
        *out = (uint8_t *)strdup(b->malformed), *out_n = strlen(b->malformed);
        b->done = 1;
    } else if (b->kind == B_LISTING && strncmp(target, "/v1/checkpoints?", 16) == 0) {
        *out = (uint8_t *)strdup(b->malformed), *out_n = strlen(b->malformed);
        b->done = 1;
    } else if (b->kind == B_CLAIM && strcmp(target, "/v1/finality") == 0) {
        /* the node claims its latest cycle is final */
        json_t *o = json_loadb((const char *)body, n, 0, NULL);
        char *text;
        assert_non_null(o);
        json_object_set(o, "latest_final_cycle", json_object_get(o, "cycle"));
        json_object_set_new(o, "final", json_true());
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        *out = (uint8_t *)text, *out_n = strlen(text);
        b->done = 1;
    } else if (b->kind == B_LIE && strncmp(target, "/v1/checkpoints?", 16) == 0) {
        /* well-formed, but the checkpoint listed does not cover what the log's cycle covers */
        json_t *o = json_loadb((const char *)body, n, 0, NULL);
        json_t *it = json_array_get(json_object_get(o, "items"), 0);
        char *text;
        assert_non_null(it);
        json_object_set_new(it, "covers_to",
                            json_integer(json_integer_value(json_object_get(it, "covers_to")) + 1));
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        *out = (uint8_t *)text, *out_n = strlen(text);
        b->done = 1;
    } else if (strncmp(target, "/v1/checkpoints/", 16) == 0 &&
               sscanf(target + 16, "%" SCNu64, &cycle) == 1 && cycle > 0 && cycle < 8) {
        b->cycle_served = cycle;
        if (b->kind == B_FLIP) {
            *out = malloc(n);
            memcpy(*out, body, n);
            (*out)[n / 2] ^= 0x01;
            *out_n = n;
            b->done = 1;
        } else if (b->kind == B_OTHER) {
            uint64_t o = cycle == 1 ? 2 : cycle - 1;
            assert_non_null(b->other[o]);
            *out = malloc(b->other_n[o]);
            memcpy(*out, b->other[o], b->other_n[o]);
            *out_n = b->other_n[o];
            b->done = 1;
        }
    }
}

static size_t replica_size(const fixture *f, int i)
{
    store_cfg cfg = {.read_only = true};
    char rdir[700];
    store_log *log;
    size_t n;
    snprintf(rdir, sizeof(rdir), "%s/replica", f->dir[i]);
    cfg.dir = rdir;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    n = (size_t)store_size(log);
    store_close(log);
    return n;
}

/* Nothing of a bootstrap in auditor i's directory: no state kept, no cycle taken as checked. */
static void nothing_bootstrapped(fixture *f, int i, unsigned evidence)
{
    char cmd[8192], want[64];
    assert_int_equal(audit_status(f, i, cmd, sizeof(cmd)), 0);
    assert_non_null(strstr(cmd, "cycles: checked 0, attested 0, last passing 0"));
    assert_null(strstr(cmd, "bootstrapped"));
    assert_non_null(strstr(cmd, "state: ok"));
    snprintf(want, sizeof(want), "evidence kept: %u", evidence);
    if (strstr(cmd, want) == NULL) {
        fail_msg("wanted \"%s\" in:\n%s", want, cmd);
    }
    assert_int_equal(
        tu_run(cmd, sizeof(cmd), "ls %s/replica/checkpoints 2>/dev/null | wc -l", f->dir[i]), 0);
    assert_int_equal(atoi(cmd), 0);
    assert_int_equal(attestations_by(&f->n, f->pk[i]), 0);
}

/* The evidence entries auditor i keeps, as one string of their JSON objects. */
static bool collect_evidence(void *arg, tally_bytes key, tally_bytes val)
{
    char *all = arg;
    if (key.n > 9 && memcmp(key.p, "evidence/", 9) == 0) {
        strncat(all, (const char *)val.p, val.n < 4096 ? val.n : 4096);
        strcat(all, "\n");
    }
    return true;
}

static void evidence_of(const fixture *f, int i, char *out, size_t cap)
{
    store_cfg cfg = {.read_only = true};
    char rdir[700];
    store_log *log;
    assert_true(cap >= 8 * 4097);
    out[0] = '\0';
    snprintf(rdir, sizeof(rdir), "%s/replica", f->dir[i]);
    cfg.dir = rdir;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_side_each(log, STORE_SIDE_AUDIT, collect_evidence, out), TALLY_OK);
    store_close(log);
}

static void bad_rows(void **state)
{
    fixture *f = *state;
    const int d = 3;
    char out[8192], cmd[8192];
    bad b = {0};
    tp_proxy *p;
    int rc;
    size_t before;

    {
        store_cfg cfg = {.dir = f->n.dir, .read_only = true};
        store_log *log;
        assert_int_equal(store_open(&cfg, &log), TALLY_OK);
        for (uint64_t c = 1; c <= 3; c++) {
            assert_int_equal(store_checkpoint_get(log, c, NULL, &b.other[c], &b.other_n[c]),
                             TALLY_OK);
        }
        store_close(log);
    }

    /* bad input: malformed finality answers, then malformed listings: exit 9, a sentence naming
     * the route, nothing of the bootstrap written */
    static const struct {
        bkind kind;
        const char *body, *says;
    } malformed[] = {
        {B_FINALITY, "{\"cycle\": 2, \"final\": \"yes\"}", "GET /v1/finality is malformed"},
        {B_FINALITY, "not json", "GET /v1/finality is malformed"},
        {B_FINALITY,
         "{\"cycle\": 2, \"latest_final_cycle\": 7, \"final\": true, \"disputed\": false}",
         "GET /v1/finality is malformed"},
        {B_FINALITY,
         "{\"cycle\": 2, \"latest_final_cycle\": -1, \"final\": true, \"disputed\": false}",
         "GET /v1/finality is malformed"},
        {B_LISTING, "{\"items\": [{\"cycle\": \"one\"}], \"next_cursor\": null}", "is malformed"},
        {B_LISTING, "{\"items\": [], \"next_cursor\": null}", "is malformed"},
        {B_LISTING, "[1, 2, 3]", "is malformed"},
        {B_LISTING,
         "{\"items\": [{\"cycle\": 3, \"epoch\": 0, \"as_of_ms\": 1, \"covers_to\": 25, "
         "\"cycle_seq\": 25, \"state_seq\": 27, \"state_hash\": \"zz\", \"tree_size\": 28, "
         "\"state_len\": 10, \"final\": true}], \"next_cursor\": null}",
         "is malformed"},
    };
    for (size_t k = 0; k < sizeof(malformed) / sizeof(malformed[0]); k++) {
        b.kind = malformed[k].kind, b.malformed = malformed[k].body, b.done = 0;
        p = tp_start(f->n.port[TN_LEDGER], rewrite, &b);
        rc = audit_once(f, d, tp_port(p), true, out, sizeof(out));
        tp_stop(p);
        assert_true(b.done);
        assert_int_equal(rc, 9);
        if (strstr(out, malformed[k].says) == NULL ||
            (b.kind == B_LISTING && strstr(out, "GET /v1/checkpoints?after=") == NULL)) {
            fail_msg("row %zu: wanted \"%s\" in:\n%s", k, malformed[k].says, out);
        }
        nothing_bootstrapped(f, d, 0);
    }

    /* a listing that contradicts the log: refused, evidence kept, nothing else */
    b.kind = B_LIE, b.done = 0;
    p = tp_start(f->n.port[TN_LEDGER], rewrite, &b);
    rc = audit_once(f, d, tp_port(p), true, out, sizeof(out));
    tp_stop(p);
    assert_true(b.done);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(last_line(out), "FAIL bad_checkpoint: the primary lists a checkpoint"));
    nothing_bootstrapped(f, d, 1);

    /* a wrong blob: one byte changed, then another cycle's state */
    before = replica_size(f, d);
    assert_true(before > 0);
    for (int k = 0; k < 2; k++) {
        b.kind = k == 0 ? B_FLIP : B_OTHER, b.done = 0;
        p = tp_start(f->n.port[TN_LEDGER], rewrite, &b);
        rc = audit_once(f, d, tp_port(p), true, out, sizeof(out));
        tp_stop(p);
        assert_true(b.done);
        assert_int_equal(rc, 1);
        {
            char want[96];
            snprintf(want, sizeof(want),
                     "FAIL bad_checkpoint: the checkpoint served for cycle %" PRIu64 " ",
                     b.cycle_served);
            const char *ll = last_line(out);
            if (strncmp(ll, want, strlen(want)) != 0) {
                fail_msg("wanted the last line to start \"%s\":\n%s", want, ll);
            }
            /* the blob of another cycle is named as such */
            snprintf(want, sizeof(want), "a state of cycle %" PRIu64,
                     k == 0 ? b.cycle_served : (b.cycle_served == 1 ? 2 : b.cycle_served - 1));
            if (k == 1 && strstr(ll, want) == NULL) {
                fail_msg("wanted \"%s\" in:\n%s", want, ll);
            }
        }
        nothing_bootstrapped(f, d, (unsigned)k + 2);
        /* nothing verified lost */
        assert_true(replica_size(f, d) >= before);
        if (tu_run(cmd, sizeof(cmd), "%s --dir %s/replica verify 2>&1", bin(), f->dir[d]) != 0) {
            fail_msg("replica verify: %s", cmd);
        }
    }
    for (int c = 1; c <= 3; c++) {
        free(b.other[c]);
    }
    /* the evidence: three refusals, each with what was wanted and what was served */
    {
        static char ev[8 * 4097];
        evidence_of(f, d, ev, sizeof(ev));
        print_message("evidence:\n%s", ev);
        size_t lines = 0;
        for (const char *q = ev; (q = strstr(q, "\"kind\":\"bad_checkpoint\"")) != NULL; q++) {
            lines++;
        }
        assert_int_equal(lines, 3);
        assert_non_null(strstr(ev, "\"served_sha256\""));
        assert_non_null(strstr(ev, "\"served_is\":\"a state of cycle 2\""));
    }

    /* the honest node, with a cycle after the latest final one: the bootstrap goes through */
    ta_feed_auditors(&f->n, &f->m, (const uint8_t(*)[32])f->pk, N_AUD, 103, 14, tn_now() + 9000000);
    odds(f, 14);
    ta_cycle(&f->n, 4);
    rc = audit_once(f, d, f->n.port[TN_LEDGER], true, out, sizeof(out));
    if (rc != 0) {
        fail_msg("honest round: exit %d\n%s", rc, out);
    }
    assert_non_null(strstr(out, "(bootstrapped from the final checkpoint of cycle 3)"));
    assert_non_null(strstr(out, "cycle 4: pass"));
    assert_int_equal(audit_status(f, d, cmd, sizeof(cmd)), 0);
    assert_non_null(strstr(cmd, "evidence kept: 3"));
    assert_non_null(strstr(cmd, "bootstrapped from the final checkpoint of cycle"));
    assert_true(attestations_by(&f->n, f->pk[d]) >= 1);
}

/* A node that calls its latest cycle final when only one auditor passed it: the auditor's own
 * fold says otherwise, and it bootstraps from the latest cycle that is final in the log. */
static void finality_claim_not_trusted(void **state)
{
    fixture *f = *state;
    const int e = 5;
    char out[8192];
    bad b = {.kind = B_CLAIM};
    tp_proxy *p;
    int rc;
    schema_attestation at;

    /* cycle 4 has one pass (D's, above): not final with k = 2; cycle 3 is */
    {
        tn_resp r;
        tn_http(&f->n, TN_LEDGER, "GET", "/v1/finality", NULL, 0, NULL, 0, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "cycle")), 4);
        assert_int_equal(json_integer_value(json_object_get(r.json, "latest_final_cycle")), 3);
        tn_resp_free(&r);
    }
    p = tp_start(f->n.port[TN_LEDGER], rewrite, &b);
    rc = audit_once(f, e, tp_port(p), true, out, sizeof(out));
    tp_stop(p);
    assert_true(b.done);
    if (rc != 0) {
        fail_msg("exit %d\n%s", rc, out);
    }
    assert_non_null(strstr(out, "(bootstrapped from the final checkpoint of cycle 3)"));
    assert_non_null(strstr(out, "cycle 4: pass"));
    same_attestation(f, 3, e, 4);
    assert_false(attestation_of(&f->n, f->pk[e], 3, &at));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bootstrap_matches_genesis),
        cmocka_unit_test(bad_rows),
        cmocka_unit_test(finality_claim_not_trusted),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}

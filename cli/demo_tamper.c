/* `tally demo --tamper KIND`: the demo's simulated week served on loopback by a misbehaving node,
 * and an auditor for each of the simulation's validators (bound with permits in its METAGRAPHs)
 * that must each detect it. The node is `tally serve` in this process, on a copy of the week in
 * DIR-tamper-KIND (DIR itself is never changed), either forged (tamper_forge: one record changed
 * and re-signed with the node key, served trusting its disk, TALLY_START_REPLAY=checkpoint) or
 * honest behind tamper/'s rewriting proxy (the other kinds). Exit 0 when every auditor detected
 * it with the right reason and, where the kind changes a record, at the right seq. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auditor/audit.h"
#include "cli/cli.h"
#include "net/net.h"
#include "sim/sim.h"
#include "tamper/tamper.h"

/* every validator of the simulation: the METAGRAPHs bind SIM_VALIDATORS with permits */
#define TAMPER_AUDITORS SIM_VALIDATORS

/* every auditor talks from 127.0.0.1: one address, the whole validator set */
static const char *const overrides[] = {
    "TALLY_INGEST_LISTEN=127.0.0.1:0", "TALLY_LEDGER_LISTEN=127.0.0.1:0",
    "TALLY_OPS_LISTEN=127.0.0.1:0",    "TALLY_START_REPLAY=checkpoint",
    "TALLY_RATE_IP_PER_S=30000",       "TALLY_RATE_IP_PER_MIN=65535",
    "TALLY_RATE_GLOBAL_PER_S=30000",   "TALLY_RATE_GLOBAL_PER_MIN=65535",
    "TALLY_RATE_KEY_PER_S=30000",      "TALLY_RATE_KEY_PER_MIN=65535",
    "TALLY_SHUTDOWN_GRACE_S=4",        NULL};

static int node_up(const char *fdir, cli_demo_node_run *d)
{
    return cli_demo_serve_up(fdir, overrides, false, 0, d);
}

/* The forged log verifies (every record, tile, head and actor signature), and what a full
 * replay of it names: the seq every auditor must arrive at on its own. */
static int expected(const char *fdir, uint64_t *seq, char *what, size_t cap)
{
    store_log *log;
    store_verify_report rep;
    ledger_replay_cfg cfg = {0};
    ledger_replay_result res;
    tally_status st;
    int rc = cli_open("demo", fdir, true, &log);

    if (rc != CLI_OK) {
        return rc;
    }
    st = store_verify(log, true, NULL, NULL, &rep);
    if (st != TALLY_OK) {
        store_close(log);
        return cli_fail("demo", st, "the forged log does not verify at seq %" PRIu64 ": %s",
                        rep.bad_seq, rep.what);
    }
    printf("   tally verify --signatures of the forged log: %" PRIu64 " records and %" PRIu64
           " signed tree heads check out\n",
           rep.records, rep.sths);
    st = ledger_replay(log, &cfg, &res);
    engine_free(res.eng);
    store_close(log);
    if (st != TALLY_OK) {
        return cli_fail("demo", st, "cannot replay the forged log");
    }
    if (!res.mismatch) {
        return cli_fail("demo", TALLY_ECONFLICT, "the forged log replays: nothing to detect");
    }
    *seq = res.bad_seq;
    snprintf(what, cap, "%s", res.what);
    return CLI_OK;
}

/* Auditor k's key in adir: the simulation's validator k (seed 1, 256 miners, as the demo). */
static int auditor_key(const char *adir, unsigned k, char *path, size_t cap)
{
    char detail[STORE_DETAIL_MAX] = "";
    uint8_t seed[32], pk[32];
    tally_status st;

    if (mkdir(adir, 0700) != 0 && errno != EEXIST) {
        return cli_fail("demo", TALLY_EIO, "cannot make %s", adir);
    }
    snprintf(path, cap, "%s/auditor.key", adir);
    if (access(path, F_OK) == 0) {
        return CLI_OK;
    }
    st = sim_validator_seed(1, 256, k, seed);
    if (st == TALLY_OK) {
        st = store_key_create(path, seed, pk, detail);
    }
    sodium_memzero(seed, sizeof(seed));
    return st == TALLY_OK ? CLI_OK : cli_fail("demo", st, "auditor key %s: %s", path, detail);
}

/* One round of auditor k (data in fdir/<name>-k) against port; its verdicts printed. */
static int round_peers(cli_demo_node_run *d, const char *fdir, const char *name, unsigned k,
                       uint16_t port, bool bootstrap, const char *peers, audit_ops *ops,
                       audit_round *r)
{
    char dir[4300], key[4400], url[64], detail[AUDIT_WHAT_MAX] = "";
    audit *a = NULL;
    tally_status st;
    int rc;

    snprintf(dir, sizeof(dir), "%s/%s-%u", fdir, name, k);
    rc = auditor_key(dir, k, key, sizeof(key));
    if (rc != CLI_OK) {
        return rc;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)port);
    audit_cfg ac = {.dir = dir,
                    .primary_url = url,
                    .origin = d->origin,
                    .primary_key = d->vkey,
                    .key_file = key,
                    .max_recompute_day = 1,
                    .max_recompute_week = 3,
                    .bootstrap_checkpoint = bootstrap,
                    .peers = peers,
                    .log = d->log,
                    .clock = d->clock,
                    .detail = detail};
    st = audit_open(&ac, &a);
    if (st != TALLY_OK) {
        return cli_fail("demo", st, "auditor %u: %s", k, detail);
    }
    st = audit_round_run(a, r);
    if (ops != NULL) {
        audit_ops_update(ops, a, r, st); /* what its ops listener serves its peers */
    }
    audit_close(a);
    if (st != TALLY_OK && !r->failed) {
        rc = cli_fail("demo", st, "auditor %u: %s", k, r->what);
        audit_round_release(r);
        return rc;
    }
    {
        printf("   auditor %u: %" PRIu64 " records verified, %" PRIu64 " replayed", k,
               r->verified_size, r->records_replayed);
        for (size_t i = 0; i < r->n_cycles; i++) {
            printf("%scycle %" PRIu64 " %s", i ? ", " : "; ", r->cycles[i].cycle,
                   audit_verdict_name(r->cycles[i].verdict));
            if (r->cycles[i].verdict == AUDIT_FAIL) {
                printf(" (%s", audit_reason_name(r->cycles[i].reason));
                if (r->cycles[i].has_divergent_seq) {
                    printf(", seq %" PRIu64, r->cycles[i].divergent_seq);
                }
                printf(")%s", r->cycles[i].posted ? ", attested" : "");
            }
        }
        if (peers != NULL) {
            printf("; peers: %" PRIu64 " agree, %" PRIu64 " ahead, %" PRIu64 " unreachable",
                   r->peers_agree, r->peers_ahead, r->peers_unreachable);
        }
        printf("\n");
        if (r->failed) {
            if (r->has_seq) {
                printf("   auditor %u: FAIL %s at seq %" PRIu64 ": %s\n", k,
                       audit_reason_name(r->reason), r->seq, r->what);
            } else {
                printf("   auditor %u: FAIL %s: %s\n", k, audit_reason_name(r->reason), r->what);
            }
        }
    }
    return CLI_OK;
}

static int round_of(cli_demo_node_run *d, const char *fdir, const char *name, unsigned k,
                    uint16_t port, bool bootstrap, audit_round *r)
{
    return round_peers(d, fdir, name, k, port, bootstrap, NULL, NULL, r);
}

static bool detects(const audit_round *r, audit_reason reason, bool want_seq, uint64_t seq)
{
    return r->failed && r->reason == reason && (!want_seq || (r->has_seq && r->seq == seq));
}

/* The forged rows: the node signs the lie. */
static int forged(const char *dir, const char *fdir, tamper_kind kind, unsigned *detected)
{
    char detail[TAMPER_DETAIL_MAX] = "", what[1024] = "";
    tamper_forged f;
    cli_demo_node_run d;
    uint64_t want = 0;
    tally_status st = tamper_forge(dir, fdir, kind, &f, detail);
    int rc;

    if (st != TALLY_OK) {
        return cli_fail("demo", st, "%s", detail);
    }
    printf("   seq %" PRIu64 " (%s) changed and re-signed with the node key (%" PRIu64
           " records)\n",
           f.seq, schema_type_name(f.type), f.records);
    rc = expected(fdir, &want, what, sizeof(what));
    if (rc != CLI_OK) {
        return rc;
    }
    printf("   a full replay names seq %" PRIu64 ": %s\n", want, what);
    rc = node_up(fdir, &d);
    if (rc == CLI_OK) {
        printf("   tally serve (TALLY_START_REPLAY=checkpoint: it trusts its disk) on ledger "
               "http://127.0.0.1:%u\n== %u auditors check it over HTTP\n",
               net_node_port(d.node, NET_LISTEN_LEDGER), TAMPER_AUDITORS);
        fflush(stdout);
    }
    for (unsigned k = 0; rc == CLI_OK && k < TAMPER_AUDITORS; k++) {
        audit_round r;
        rc = round_of(&d, fdir, "auditor", k, net_node_port(d.node, NET_LISTEN_LEDGER), false, &r);
        if (rc == CLI_OK) {
            audit_reason reason =
                kind == TAMPER_RULE_VIOLATION ? AUDIT_R_INGEST_RULE : AUDIT_R_DERIVED_MISMATCH;
            *detected += detects(&r, reason, true, want);
            audit_round_release(&r);
        }
    }
    cli_demo_serve_down(&d);
    return rc;
}

/* A checkpoint note from the node's ledger listener (malloc'd). */
static char *get_note(uint16_t port, size_t *n_out)
{
    client_cfg cc = {.host = "127.0.0.1", .port = port};
    client_conn *c = NULL;
    client_response *r = NULL;
    client_request rq = {.method = "GET", .target = "/log/checkpoint"};
    char *out = NULL;

    if (client_open(&cc, &c) == TALLY_OK && client_do(c, &rq, &r) == TALLY_OK &&
        client_response_status(r) == 200) {
        tally_bytes b = client_response_body(r);
        out = malloc(b.n ? b.n : 1);
        if (out != NULL) {
            memcpy(out, b.p, b.n);
            *n_out = b.n;
        }
    }
    client_response_free(r);
    client_close(c);
    return out;
}

/* The proxy rows: an honest node, and what it serves rewritten on the way. */
static int proxied(const char *dir, const char *fdir, tamper_kind kind, unsigned *detected)
{
    char detail[TAMPER_DETAIL_MAX] = "";
    tamper_forged f;
    cli_demo_node_run d;
    char *old_note = NULL;
    size_t old_n = 0;
    uint16_t ledger;
    tally_status st = tamper_copy(dir, fdir, &f, detail);
    bool first_honest = kind == TAMPER_REWIND || kind == TAMPER_BAD_CHECKPOINT;
    int rc;

    if (st != TALLY_OK) {
        return cli_fail("demo", st, "%s", detail);
    }
    rc = node_up(fdir, &d);
    if (rc != CLI_OK) {
        cli_demo_serve_down(&d);
        return rc;
    }
    ledger = net_node_port(d.node, NET_LISTEN_LEDGER);
    printf("   an honest tally serve on a copy of the week (%" PRIu64 " records), ledger "
           "http://127.0.0.1:%u, behind a proxy that %s\n",
           f.records, ledger,
           kind == TAMPER_BODY        ? "flips a bit of a non-public body in a delta"
           : kind == TAMPER_HEADER    ? "moves a header's time by one ms in a delta"
           : kind == TAMPER_DROPPED   ? "leaves a record out of a delta"
           : kind == TAMPER_INSERTED  ? "serves a record of a delta twice"
           : kind == TAMPER_REORDERED ? "swaps two records of a delta"
           : kind == TAMPER_WITHHELD  ? "strips every embargoed body, due or not"
           : kind == TAMPER_REWIND    ? "serves the checkpoint of before the auditors' first round"
                                   : "flips a bit of the state blob a new auditor bootstraps from");
    if (kind == TAMPER_REWIND) {
        old_note = get_note(ledger, &old_n);
        if (old_note == NULL) {
            cli_demo_serve_down(&d);
            return cli_fail("demo", TALLY_EIO, "the node serves no checkpoint");
        }
    }
    if (first_honest) {
        printf("== %u auditors check the honest node first%s\n", TAMPER_AUDITORS,
               kind == TAMPER_BAD_CHECKPOINT ? " (their attestations make its cycles final)" : "");
        for (unsigned k = 0; rc == CLI_OK && k < TAMPER_AUDITORS; k++) {
            audit_round r;
            rc = round_of(&d, fdir, "auditor", k, ledger, false, &r);
            if (rc == CLI_OK) {
                if (r.failed) {
                    rc = cli_fail("demo", TALLY_ECONFLICT, "the honest round failed");
                }
                audit_round_release(&r);
            }
        }
    }
    printf("== %u auditors%s check it through the proxy\n", TAMPER_AUDITORS,
           kind == TAMPER_BAD_CHECKPOINT ? " (new ones, bootstrapping from the final checkpoint)"
                                         : "");
    fflush(stdout);
    for (unsigned k = 0; rc == CLI_OK && k < TAMPER_AUDITORS; k++) {
        /* one proxy each, so each auditor is served the lie */
        tamper_proxy_cfg pc = {.upstream_port = ledger,
                               .kind = kind,
                               .from = kind <= TAMPER_REORDERED ? f.records / 2 : 0,
                               .old_note = old_note,
                               .old_n = old_n};
        tamper_proxy *p = NULL;
        audit_round r;
        uint64_t seq = 0;
        st = tamper_proxy_start(&pc, &p, detail);
        if (st != TALLY_OK) {
            rc = cli_fail("demo", st, "%s", detail);
            break;
        }
        rc = round_of(&d, fdir, kind == TAMPER_BAD_CHECKPOINT ? "bootstrap" : "auditor", k,
                      tamper_proxy_port(p), kind == TAMPER_BAD_CHECKPOINT, &r);
        bool done = tamper_proxy_done(p, &seq);
        tamper_proxy_stop(p);
        if (rc != CLI_OK) {
            break;
        }
        audit_reason want = kind == TAMPER_WITHHELD         ? AUDIT_R_OTHER
                            : kind == TAMPER_REWIND         ? AUDIT_R_SPLIT_VIEW
                            : kind == TAMPER_BAD_CHECKPOINT ? AUDIT_R_BAD_CHECKPOINT
                                                            : AUDIT_R_SIGNATURE;
        bool with_seq = kind <= TAMPER_REORDERED || kind == TAMPER_WITHHELD;
        if (done) {
            printf("   the proxy tampered%s", with_seq ? "" : "\n");
            if (with_seq) {
                printf(" at seq %" PRIu64 "\n", seq);
            }
        }
        *detected += done && detects(&r, want, with_seq, seq);
        audit_round_release(&r);
    }
    free(old_note);
    cli_demo_serve_down(&d);
    return rc;
}

/* The split view: two nodes with one key, each serving one view (the week and one EVENT more,
 * a different one each), auditor k auditing node k with the other auditor as its peer (its ops
 * listener's /checkpoint). Both pass their view alone; the second round compares. */
static int split(const char *dir, const char *fdir, unsigned *detected)
{
    char vdir[2][4300], detail[TAMPER_DETAIL_MAX] = "", peers[2][64];
    cli_demo_node_run d[2];
    audit_ops *ops[2] = {NULL, NULL};
    tamper_forged f[2];
    int rc = CLI_OK;

    memset(d, 0, sizeof(d));
    d[0].fd = d[1].fd = -1;
    for (unsigned v = 0; v < 2 && rc == CLI_OK; v++) {
        tally_status st;
        snprintf(vdir[v], sizeof(vdir[v]), "%s/view-%c", fdir, 'a' + v);
        if (mkdir(vdir[v], 0700) != 0) {
            rc = cli_fail("demo", TALLY_EIO, "cannot make %s", vdir[v]);
            break;
        }
        st = tamper_fork(dir, vdir[v], v, &f[v], detail);
        if (st != TALLY_OK) {
            rc = cli_fail("demo", st, "%s", detail);
            break;
        }
        rc = node_up(vdir[v], &d[v]);
        if (rc == CLI_OK) {
            printf("   view %c: %" PRIu64 " records (seq %" PRIu64 " an EVENT only it holds), "
                   "tally serve on ledger http://127.0.0.1:%u\n",
                   'A' + v, f[v].records, f[v].seq, net_node_port(d[v].node, NET_LISTEN_LEDGER));
        }
    }
    for (unsigned v = 0; v < 2 && rc == CLI_OK; v++) {
        audit_ops_cfg oc = {.host = "127.0.0.1",
                            .port = 0,
                            .origin = d[v].origin,
                            .primary_url = "(demo)",
                            .poll_s = 1,
                            .log = d[v].log};
        tally_status st = audit_ops_open(&oc, &ops[v]);
        if (st != TALLY_OK) {
            rc = cli_fail("demo", st, "cannot open auditor %u's ops listener", v);
        }
    }
    for (unsigned v = 0; v < 2 && rc == CLI_OK; v++) {
        snprintf(peers[v], sizeof(peers[v]), "http://127.0.0.1:%u",
                 (unsigned)audit_ops_port(ops[1 - v]));
    }
    for (unsigned round = 0; round < 2 && rc == CLI_OK; round++) {
        printf("== round %u: auditor k checks view k, the other auditor as its peer\n", round + 1);
        fflush(stdout);
        for (unsigned v = 0; v < 2 && rc == CLI_OK; v++) {
            audit_round r;
            rc = round_peers(&d[v], fdir, "auditor", v, net_node_port(d[v].node, NET_LISTEN_LEDGER),
                             false, peers[v], ops[v], &r);
            if (rc == CLI_OK) {
                if (round == 1) {
                    *detected += detects(&r, AUDIT_R_SPLIT_VIEW, false, 0);
                }
                audit_round_release(&r);
            }
        }
    }
    for (unsigned v = 0; v < 2; v++) {
        audit_ops_close(ops[v]);
        cli_demo_serve_down(&d[v]);
    }
    return rc;
}

int cli_demo_tamper(const char *dir, const char *kind_name)
{
    char fdir[4200];
    tamper_kind kind;
    unsigned detected = 0;
    int rc;

    if (!tamper_kind_parse(kind_name, &kind)) {
        return cli_usage_error("demo",
                               "--tamper %s: KIND is one of body, header, dropped, "
                               "inserted, reordered, forged-derived, changed-input, "
                               "rule-violation, split-view, rewind, withheld, "
                               "bad-checkpoint",
                               kind_name);
    }
    snprintf(fdir, sizeof(fdir), "%s-tamper-%s", dir, kind_name);
    printf("== a misbehaving node: %s, in %s\n", kind_name, fdir);
    if (access(fdir, F_OK) == 0) {
        return cli_fail("demo", TALLY_ECONFLICT,
                        "%s exists (from an earlier demo): remove it first", fdir);
    }
    if (mkdir(fdir, 0700) != 0) {
        return cli_fail("demo", TALLY_EIO, "cannot make %s: %s", fdir, strerror(errno));
    }
    rc = kind == TAMPER_SPLIT_VIEW    ? split(dir, fdir, &detected)
         : tamper_kind_is_proxy(kind) ? proxied(dir, fdir, kind, &detected)
                                      : forged(dir, fdir, kind, &detected);
    if (rc == CLI_OK) {
        printf("   %u of %u auditors detected it%s\n", detected, TAMPER_AUDITORS,
               detected == TAMPER_AUDITORS ? "" : ": NOT DETECTED");
        rc = detected == TAMPER_AUDITORS ? CLI_OK : CLI_CHECK_FAILED;
    }
    return rc;
}

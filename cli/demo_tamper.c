/* `tally demo --tamper KIND`: the demo's simulated week, forged by a misbehaving node (tamper.h:
 * one record changed and re-signed with the node key), served on loopback by `tally serve` in
 * this process trusting its disk (TALLY_START_REPLAY=checkpoint), and an auditor for each of
 * the simulation's validators (bound with permits in its METAGRAPHs) that must each fail the
 * log at the seq where it stops following from its inputs. Exit 0 when every auditor detected it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
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

typedef struct runner {
    net_node *node;
    tally_status st;
} runner;

static void *run_node(void *arg)
{
    runner *r = arg;
    r->st = net_node_run(r->node, NULL, NULL);
    return NULL;
}

/* The forged log verifies (every record, tile, head and actor signature), and what a full
 * replay of it names: the seq and the sentence every auditor must arrive at on its own. */
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

/* Auditor k's key: the simulation's validator k (seed 1, 256 miners, as the demo simulates). */
static int auditor_key(const char *adir, unsigned k)
{
    char path[4400], detail[STORE_DETAIL_MAX] = "";
    uint8_t seed[32], pk[32];
    tally_status st;

    if (mkdir(adir, 0700) != 0 && errno != EEXIST) {
        return cli_fail("demo", TALLY_EIO, "cannot make %s", adir);
    }
    snprintf(path, sizeof(path), "%s/auditor.key", adir);
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

static int audit_all(net_node *node, const char *fdir, uint64_t want_seq, unsigned *detected)
{
    char url[64], vkey[512], logpath[4300];
    uint8_t pk[32];
    store_log *sl;
    ops_clock *clock = NULL;
    ops_log *log = NULL;
    int fd, rc = cli_open("demo", fdir, true, &sl);
    char origin[SCHEMA_ORIGIN_MAX + 1];

    if (rc != CLI_OK) {
        return rc;
    }
    store_node_pubkey(sl, pk);
    snprintf(origin, sizeof(origin), "%s", store_origin(sl));
    store_close(sl);
    if (store_vkey(origin, pk, vkey, sizeof(vkey)) != TALLY_OK) {
        return cli_fail("demo", TALLY_EINVAL, "the forged log's origin %s", origin);
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", net_node_port(node, NET_LISTEN_LEDGER));
    snprintf(logpath, sizeof(logpath), "%s/audit.log", fdir);
    fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (ops_clock_new(OPS_CLOCK_REAL, 0, &clock) != TALLY_OK) {
        rc = CLI_INTERNAL;
        goto out;
    }
    {
        ops_log_cfg lc = {.fd = fd >= 0 ? fd : 2, .level = OPS_INFO};
        if (ops_log_new(&lc, &log) != TALLY_OK) {
            rc = CLI_INTERNAL;
            goto out;
        }
    }
    for (unsigned k = 0; k < TAMPER_AUDITORS && rc == CLI_OK; k++) {
        char dir[4300], key[4400], detail[AUDIT_WHAT_MAX] = "";
        audit *a = NULL;
        audit_round r;
        tally_status st;
        snprintf(dir, sizeof(dir), "%s/auditor-%u", fdir, k);
        snprintf(key, sizeof(key), "%s/auditor.key", dir);
        rc = auditor_key(dir, k);
        if (rc != CLI_OK) {
            break;
        }
        audit_cfg ac = {.dir = dir, .primary_url = url, .origin = origin, .primary_key = vkey,
                        .key_file = key, .max_recompute_day = 1, .max_recompute_week = 3,
                        .log = log, .clock = clock, .detail = detail};
        st = audit_open(&ac, &a);
        if (st != TALLY_OK) {
            rc = cli_fail("demo", st, "auditor %u: %s", k, detail);
            break;
        }
        st = audit_round_run(a, &r);
        if (st != TALLY_OK) {
            rc = cli_fail("demo", st, "auditor %u: %s", k, r.what);
        } else {
            printf("   auditor %u: %" PRIu64 " records verified, %" PRIu64 " replayed; ", k,
                   r.verified_size, r.records_replayed);
            for (size_t i = 0; i < r.n_cycles; i++) {
                printf("%scycle %" PRIu64 " %s", i ? ", " : "", r.cycles[i].cycle,
                       audit_verdict_name(r.cycles[i].verdict));
                if (r.cycles[i].verdict == AUDIT_FAIL) {
                    printf(" (%s, seq %" PRIu64 ")%s", audit_reason_name(r.cycles[i].reason),
                           r.cycles[i].divergent_seq, r.cycles[i].posted ? ", attested" : "");
                }
            }
            printf("\n");
            if (r.failed && r.has_seq) {
                printf("   auditor %u: FAIL %s at seq %" PRIu64 ": %s\n", k,
                       audit_reason_name(r.reason), r.seq, r.what);
            }
            if (r.failed && r.has_seq && r.seq == want_seq) {
                (*detected)++;
            }
        }
        audit_round_release(&r);
        audit_close(a);
    }
out:
    ops_log_free(log);
    ops_clock_free(clock);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

int cli_demo_tamper(const char *dir, const char *kind_name)
{
    static const char *const overrides[] = {
        "TALLY_INGEST_LISTEN=127.0.0.1:0", "TALLY_LEDGER_LISTEN=127.0.0.1:0",
        "TALLY_OPS_LISTEN=127.0.0.1:0", "TALLY_START_REPLAY=checkpoint",
        "TALLY_RATE_IP_PER_S=2000", "TALLY_RATE_IP_PER_MIN=60000",
        "TALLY_RATE_GLOBAL_PER_S=2000", "TALLY_RATE_GLOBAL_PER_MIN=60000",
        "TALLY_SHUTDOWN_GRACE_S=4", NULL};
    char fdir[4200], detail[TAMPER_DETAIL_MAX] = "", ndetail[NET_DETAIL_MAX] = "", err[512] = "";
    char what[1024] = "", logpath[4300];
    ops_config_src src = {.overrides = overrides, .default_file = "/nonexistent/tally.env"};
    ops_config *conf = NULL;
    ops_clock *clock = NULL;
    ops_log *log = NULL;
    net_node *node = NULL;
    runner run = {0};
    pthread_t th;
    tamper_kind kind;
    tamper_forged f;
    uint64_t want = 0;
    unsigned detected = 0;
    int fd = -1, rc;
    tally_status st;

    if (!tamper_kind_parse(kind_name, &kind)) {
        return cli_usage_error("demo", "--tamper %s: the demo forges forged-derived, "
                                       "changed-input or rule-violation (the proxy rows are "
                                       "played by tests/auditor/test_tamper.c)",
                               kind_name);
    }
    snprintf(fdir, sizeof(fdir), "%s-tamper-%s", dir, kind_name);
    printf("== a misbehaving node: %s, forged into %s\n", kind_name, fdir);
    if (access(fdir, F_OK) == 0) {
        return cli_fail("demo", TALLY_ECONFLICT,
                        "%s exists (a forged log of an earlier demo): remove it first", fdir);
    }
    if (mkdir(fdir, 0700) != 0) {
        return cli_fail("demo", TALLY_EIO, "cannot make %s: %s", fdir, strerror(errno));
    }
    st = tamper_forge(dir, fdir, kind, &f, detail);
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
    snprintf(logpath, sizeof(logpath), "%s/serve.log", fdir);
    fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    st = ops_config_load(&src, &conf, err, sizeof(err));
    if (st == TALLY_OK) {
        st = ops_clock_new(OPS_CLOCK_REAL, 0, &clock);
    }
    if (st == TALLY_OK) {
        ops_log_cfg lc = {.fd = fd >= 0 ? fd : 2, .level = OPS_INFO};
        st = ops_log_new(&lc, &log);
    }
    if (st == TALLY_OK) {
        net_node_cfg nc = {.dir = fdir, .conf = conf, .log = log, .clock = clock,
                           .detail = ndetail};
        st = net_node_open(&nc, &node);
    }
    if (st != TALLY_OK) {
        rc = cli_fail("demo", st, "cannot start the node: %s", ndetail[0] ? ndetail : err);
        goto out;
    }
    printf("   tally serve (TALLY_START_REPLAY=checkpoint: it trusts its disk) on ledger "
           "http://127.0.0.1:%u\n== %u auditors check it over HTTP\n",
           net_node_port(node, NET_LISTEN_LEDGER), TAMPER_AUDITORS);
    fflush(stdout);
    run.node = node;
    if (pthread_create(&th, NULL, run_node, &run) != 0) {
        rc = cli_fail("demo", TALLY_ENOMEM, "cannot start the node's thread");
        goto out;
    }
    rc = audit_all(node, fdir, want, &detected);
    net_node_stop(node);
    pthread_join(th, NULL);
    if (rc == CLI_OK) {
        printf("   %u of %u auditors detected it at seq %" PRIu64 "%s\n", detected,
               TAMPER_AUDITORS, want, detected == TAMPER_AUDITORS ? "" : ": NOT DETECTED");
        rc = detected == TAMPER_AUDITORS ? CLI_OK : CLI_CHECK_FAILED;
    }
out:
    net_node_close(node);
    ops_log_free(log);
    ops_clock_free(clock);
    ops_config_free(conf);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

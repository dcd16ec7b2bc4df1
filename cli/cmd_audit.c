/* tally audit: an independent auditor of a primary node (auditor/), as a daemon for systemd or
 * once (--once, for cron and tests). */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auditor/audit.h"
#include "cli/cli.h"

extern char **environ;

static void help(void)
{
    printf("usage: tally audit [--dir DIR] [--config FILE] [--once] [--no-post] [--status]\n\n"
           "Audits a primary node without trusting it: verifies its checkpoint against the\n"
           "pinned origin and key and against the last head trusted here, pulls its log into a\n"
           "replica in DIR/replica (every header, signature and body checked), replays every\n"
           "record in the gated view (the acceptance rules, every derived record recomputed and\n"
           "compared byte for byte), attests each cycle to the node (pass, fail with the reason\n"
           "and the first divergent seq, or paused by the recompute policy), cosigns the\n"
           "checkpoint, and writes the weights of the last passing cycle to DIR/weights.json\n"
           "(docs/audit.md). The replica is a tally log: `tally --dir DIR/replica verify`,\n"
           "`replay`, `log`, `weights` and `explain` read it.\n\n"
           "Settings (flags > environment > config file; docs/configuration.md):\n"
           "  TALLY_AUDIT_PRIMARY_URL  the primary's ledger listener, http://host:port\n"
           "  TALLY_AUDIT_ORIGIN       the log's origin (pinned)\n"
           "  TALLY_AUDIT_PRIMARY_KEY  the node's verifier key, as `tally key` prints it\n"
           "  TALLY_AUDIT_KEY_FILE     this auditor's key (default DIR/auditor.key; tally keygen)\n"
           "  TALLY_AUDIT_POLL_S       seconds between rounds of the daemon (120)\n"
           "  TALLY_AUDIT_BOOTSTRAP    genesis, or checkpoint: a new auditor's replay starts at\n"
           "                           the latest final, undisputed cycle (docs/audit.md)\n"
           "  TALLY_AUDIT_OPS_LISTEN   the daemon's /health, /metrics and /checkpoint\n"
           "                           (127.0.0.1:8291)\n"
           "  TALLY_AUDIT_PEERS        other auditors' ops listeners (http://host:port,...):\n"
           "                           a head they trust that this replica's tree contradicts\n"
           "                           is a split view\n"
           "  TALLY_AUDIT_SIGNATURES   input (every input record's actor signature), or all\n"
           "                           (derived records' too, which the replay recomputes)\n"
           "  TALLY_AUDIT_VERIFY_THREADS  threads verifying signatures (0: every core)\n"
           "  TALLY_AUDIT_DELTA_RECORDS   records asked for per delta (65536)\n"
           "  TALLY_AUDIT_ACCEPT_PAUSED   the operator's override of the recompute policy: cycles\n"
           "                           up to this one are not paused, and weights.json may\n"
           "                           take a paused one up to it (0: none)\n\n"
           "  --dir DIR     the auditor's data directory (else $TALLY_AUDIT_DATA_DIR)\n"
           "  --config FILE a KEY=value file (the EnvironmentFile of tally-audit.service)\n"
           "  --once        one round, then exit: 0 when every cycle checked passed, 1 when a\n"
           "                fail was attested (the last line names the reason and the seq),\n"
           "                11 when paused by the recompute policy, else the usual error codes\n"
           "  --no-post     check and decide, but post no attestation or cosignature\n"
           "  --status      print the persisted state and exit (0, or 1 when failed)\n");
}

static volatile sig_atomic_t stop_flag;

/* The first SIGTERM/SIGINT ends the daemon after the round that runs (or at once between
 * rounds); a second exits at once, as `tally serve` does (protocol §9.6): every state change
 * of the auditor is one LMDB transaction, so nothing verified is lost. */
static void on_stop(int sig)
{
    (void)sig;
    if (stop_flag) {
        _exit(CLI_CHECK_FAILED);
    }
    stop_flag = 1;
}

/* The daemon's ops listener (TALLY_AUDIT_OPS_LISTEN): its address goes to stdout and, with the
 * port bound, to the log (event ops_listening), so a test with port 0 can learn it. */
static tally_status open_ops(const ops_config *conf, ops_log *log, audit_ops **out)
{
    ops_hostport hp = ops_config_listen(conf, OPS_K_AUDIT_OPS_LISTEN);
    audit_ops_cfg oc = {.host = hp.addr,
                        .port = hp.port,
                        .origin = ops_config_str(conf, OPS_K_AUDIT_ORIGIN),
                        .primary_url = ops_config_str(conf, OPS_K_AUDIT_PRIMARY_URL),
                        .poll_s = ops_config_u64(conf, OPS_K_AUDIT_POLL_S),
                        .log = log};
    tally_status st = audit_ops_open(&oc, out);

    if (st == TALLY_OK) {
        printf(hp.family == OPS_AF_INET6 ? "ops listening on [%s]:%u\n"
                                         : "ops listening on %s:%u\n",
               hp.addr, (unsigned)audit_ops_port(*out));
        fflush(stdout);
    }
    return st;
}

static void print_round(const audit_round *r)
{
    for (size_t i = 0; i < r->n_cycles; i++) {
        const audit_cycle *c = &r->cycles[i];
        printf("cycle %" PRIu64 ": %s", c->cycle, audit_verdict_name(c->verdict));
        if (c->verdict != AUDIT_PASS) {
            printf(" (%s", audit_reason_name(c->reason));
            if (c->has_divergent_seq) {
                printf(", seq %" PRIu64, c->divergent_seq);
            }
            printf(")");
        }
        printf("%s\n", c->posted ? (c->agrees ? ", attested, the node agrees" : ", attested")
                                 : ", not posted");
    }
    printf("primary %" PRIu64 " records, verified %" PRIu64 " (+%" PRIu64 "), %" PRIu64
           " replayed",
           r->primary_size, r->verified_size, r->pulled, r->records_replayed);
    if (r->bootstrapped_from) {
        printf(" (bootstrapped from the final checkpoint of cycle %" PRIu64 ")",
               r->bootstrapped_from);
    } else if (r->resumed_from) {
        printf(" (resumed from cycle %" PRIu64 ")", r->resumed_from);
    }
    printf(", %" PRIu64 " cycles checked, bodies revealed %" PRIu64 ", withheld %" PRIu64 "%s",
           r->cycles_checked, r->bodies_fetched, r->bodies_withheld,
           r->cosigned ? ", cosigned" : "");
    if (r->weights_written) {
        printf(", weights of cycle %" PRIu64 " written", r->weights_cycle);
    }
    if (r->peers_agree + r->peers_ahead + r->peers_unreachable > 0) {
        printf(", peers: %" PRIu64 " agree, %" PRIu64 " ahead, %" PRIu64 " unreachable",
               r->peers_agree, r->peers_ahead, r->peers_unreachable);
    }
    printf("\n");
}

static void print_fail(const audit_round *r)
{
    if (r->has_seq) {
        printf("FAIL %s at seq %" PRIu64 ": %s\n", audit_reason_name(r->reason), r->seq, r->what);
    } else {
        printf("FAIL %s: %s\n", audit_reason_name(r->reason), r->what);
    }
}

static int status_cmd(audit *a)
{
    audit_status s;

    audit_status_get(a, &s);
    printf("trusted head %" PRIu64 " records, replica %" PRIu64 " records\n", s.trusted_size,
           s.replica_size);
    printf("cycles: checked %" PRIu64 ", attested %" PRIu64 ", last passing %" PRIu64 "\n",
           s.last_checked_cycle, s.last_attested_cycle, s.last_pass_cycle);
    if (s.bootstrap_cycle) {
        printf("bootstrapped from the final checkpoint of cycle %" PRIu64
               ": the cycles up to it were taken on their finality, not checked here\n",
               s.bootstrap_cycle);
    }
    printf("evidence kept: %" PRIu64 "\n", s.evidence);
    if (s.failed) {
        audit_round r = {.failed = true, .reason = s.reason, .has_seq = s.has_seq, .seq = s.seq};
        snprintf(r.what, sizeof(r.what), "%s", s.what);
        print_fail(&r);
        return CLI_CHECK_FAILED;
    }
    printf("state: ok\n");
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"once", no_argument, NULL, '1'},
                                         {"no-post", no_argument, NULL, 'n'},
                                         {"status", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    const char *overrides[4] = {NULL};
    char cfgkv[4200], keypath[4200], err[512] = "", detail[AUDIT_WHAT_MAX] = "";
    bool once = false, no_post = false, status = false;
    ops_config *conf = NULL;
    ops_clock *clock = NULL;
    ops_log *log = NULL;
    audit *a = NULL;
    audit_ops *ops = NULL;
    tally_status st;
    int c, rc = 0;
    size_t no = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'c':
            snprintf(cfgkv, sizeof(cfgkv), "TALLY_CONFIG=%s", optarg);
            overrides[no++] = cfgkv;
            break;
        case '1': once = true; break;
        case 'n': no_post = true; break;
        case 's': status = true; break;
        case 'h': help(); return 0;
        default: return cli_usage_error("audit", "see tally audit --help");
        }
    }
    if (optind != argc) {
        return cli_usage_error("audit", "unexpected argument %s", argv[optind]);
    }
    {
        ops_config_src src = {.overrides = overrides, .env = (const char *const *)environ};
        st = ops_config_load(&src, &conf, err, sizeof(err));
    }
    if (st != TALLY_OK) {
        return cli_fail("audit", st, "%s", err);
    }
    if (dir == NULL) {
        dir = ops_config_str(conf, OPS_K_AUDIT_DATA_DIR);
    }
    if (ops_config_source(conf, OPS_K_AUDIT_KEY_FILE) == OPS_SRC_DEFAULT) {
        snprintf(keypath, sizeof(keypath), "%s/auditor.key", dir);
    } else {
        snprintf(keypath, sizeof(keypath), "%s", ops_config_str(conf, OPS_K_AUDIT_KEY_FILE));
    }
    st = ops_clock_new(OPS_CLOCK_REAL, 0, &clock);
    if (st == TALLY_OK) {
        ops_log_cfg lc = {.fd = 2, .level = (ops_level)ops_config_u64(conf, OPS_K_LOG_LEVEL),
                          .now_ms = ops_clock_now_ms_cb, .now_arg = clock};
        st = ops_log_new(&lc, &log);
    }
    if (st != TALLY_OK) {
        rc = cli_fail("audit", st, "cannot start");
        goto out;
    }
    {
        audit_cfg ac = {.dir = dir,
                        .primary_url = ops_config_str(conf, OPS_K_AUDIT_PRIMARY_URL),
                        .origin = ops_config_str(conf, OPS_K_AUDIT_ORIGIN),
                        .primary_key = ops_config_str(conf, OPS_K_AUDIT_PRIMARY_KEY),
                        .key_file = keypath,
                        .max_recompute_day = ops_config_u64(conf, OPS_K_AUDIT_MAX_RECOMPUTE_DAY),
                        .max_recompute_week = ops_config_u64(conf, OPS_K_AUDIT_MAX_RECOMPUTE_WEEK),
                        .accept_paused = ops_config_u64(conf, OPS_K_AUDIT_ACCEPT_PAUSED),
                        .bootstrap_checkpoint = ops_config_u64(conf, OPS_K_AUDIT_BOOTSTRAP) == 1,
                        .no_post = no_post,
                        .peers = ops_config_str(conf, OPS_K_AUDIT_PEERS),
                        .verify_threads =
                            (unsigned)ops_config_u64(conf, OPS_K_AUDIT_VERIFY_THREADS),
                        .all_signatures = ops_config_u64(conf, OPS_K_AUDIT_SIGNATURES) == 1,
                        .delta_records = ops_config_u64(conf, OPS_K_AUDIT_DELTA_RECORDS),
                        .log = log,
                        .clock = clock,
                        .detail = detail};
        if (ops_config_require(conf, OPS_ROLE_AUDIT, err, sizeof(err)) != TALLY_OK) {
            rc = cli_usage_error("audit", "%s", err);
            goto out;
        }
        st = audit_open(&ac, &a);
    }
    if (st != TALLY_OK) {
        rc = cli_fail("audit", st, "%s", detail);
        goto out;
    }
    if (status) {
        rc = status_cmd(a);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    if (!once) {
        st = open_ops(conf, log, &ops);
        if (st != TALLY_OK) {
            ops_hostport hp = ops_config_listen(conf, OPS_K_AUDIT_OPS_LISTEN);
            rc = cli_fail("audit", st, "cannot listen on %s port %u (TALLY_AUDIT_OPS_LISTEN)",
                          hp.addr, (unsigned)hp.port);
            goto out;
        }
        audit_ops_update(ops, a, NULL, TALLY_OK);
    }
    for (;;) {
        audit_round r;
        if (ops != NULL) {
            audit_ops_round_begin(ops);
        }
        st = audit_round_run(a, &r);
        if (ops != NULL) {
            audit_ops_update(ops, a, &r, st);
        }
        print_round(&r);
        fflush(stdout);
        if (once) {
            bool paused = false;
            for (size_t i = 0; i < r.n_cycles; i++) {
                paused |= r.cycles[i].verdict == AUDIT_PAUSED;
            }
            if (st != TALLY_OK) {
                rc = cli_fail("audit", st, "%s", r.what);
            } else if (r.failed) {
                print_fail(&r);
                rc = CLI_CHECK_FAILED;
            } else {
                printf(paused ? "paused by the recompute policy\n" : "pass\n");
                rc = paused ? CLI_PAUSED : CLI_OK;
            }
            audit_round_release(&r);
            break;
        }
        if (st != TALLY_OK) {
            /* the daemon keeps going: the primary may be down for a while */
            fprintf(stderr, "tally audit: %s: %s\n", tally_status_str(st), r.what);
        }
        audit_round_release(&r);
        for (uint64_t s = 0; s < ops_config_u64(conf, OPS_K_AUDIT_POLL_S) * 10 && !stop_flag; s++) {
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
        }
        if (stop_flag) {
            break;
        }
    }
out:
    audit_ops_close(ops); /* before the handle its snapshots came from */
    audit_close(a);
    ops_log_free(log);
    ops_clock_free(clock);
    ops_config_free(conf);
    return rc;
}

/* Helpers of the auditor tests (tests/util/auditrun.h). */
#include "util/auditrun.h"

#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "schema/schema.h"
#include "store/store.h"
#include "util/testutil.h"

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

/* A METAGRAPH binding miner m (no permit) and the auditor key (permit, 200,000 alpha), an event
 * starting at start_ms with its market. */
void ta_feed(tn_node *n, const tn_miner *m, const uint8_t auditor[32], uint64_t block,
             uint64_t event, uint64_t start_ms)
{
    ta_feed_auditors(n, m, (const uint8_t(*)[32])auditor, 1, block, event, start_ms);
}

void ta_feed_auditors(tn_node *n, const tn_miner *m, const uint8_t (*auditors)[32],
                      size_t n_auditors, uint64_t block, uint64_t event, uint64_t start_ms)
{
    json_t *neurons = json_array(), *recs = json_array();
    uint8_t acct[32];
    char ss58[49], hex[65];
    tn_resp r;
    char *text;

    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(m->pk[b] ^ 0x55);
    }
    schema_ss58_encode(acct, ss58);
    schema_hex(m->pk, 32, hex);
    json_array_append_new(neurons, json_pack("{s:i, s:s, s:s, s:b, s:b, s:s}", "uid", 0, "hotkey",
                                             ss58, "stake_rao", "1000", "validator_permit", 0,
                                             "active", 1, "tally_key", hex));
    for (size_t i = 0; i < n_auditors; i++) {
        for (int b = 0; b < 32; b++) {
            acct[b] = (uint8_t)(auditors[i][b] ^ 0x33);
        }
        schema_ss58_encode(acct, ss58);
        schema_hex(auditors[i], 32, hex);
        json_array_append_new(neurons,
                              json_pack("{s:i, s:s, s:s, s:b, s:b, s:s}", "uid", (int)(1 + i),
                                        "hotkey", ss58, "stake_rao", "200000000000000",
                                        "validator_permit", 1, "active", 1, "tally_key", hex));
    }
    json_array_append_new(recs, json_pack("{s:s, s:{s:i, s:I, s:i, s:i, s:o}}", "type", "METAGRAPH",
                                          "body", "netuid", 1, "block", (json_int_t)block, "part",
                                          0, "parts", 1, "neurons", neurons));
    json_array_append_new(recs, json_pack("{s:s, s:{s:I, s:s, s:s, s:s, s:s, s:n, s:I, s:s, s:n}}",
                                          "type", "EVENT", "body", "event_id", (json_int_t)event,
                                          "sport", "soccer", "league", "EPL", "home_team", "Tigers",
                                          "away_team", "Rovers", "venue", "start_ms",
                                          (json_int_t)start_ms, "status", "scheduled", "ext_id"));
    json_array_append_new(
        recs, json_pack("{s:s, s:{s:I, s:I, s:s, s:n, s:[s,s]}}", "type", "MARKET", "body",
                        "market_id", (json_int_t)(1000 * event + 1), "event_id", (json_int_t)event,
                        "kind", "moneyline", "line_n", "sides", "home", "away"));
    json_t *all = json_pack("{s:o}", "records", recs);
    text = json_dumps(all, JSON_COMPACT);
    json_decref(all);
    tn_admin(n, "POST", "/admin/v1/records", text, &r);
    free(text);
    if (r.status != 200) {
        fail_msg("feed: %u %s", r.status, r.body ? r.body : "");
    }
    tn_resp_free(&r);
}

/* Asks the node for a cycle and waits until it is in the log. */
void ta_cycle(tn_node *n, uint64_t want)
{
    tn_resp r;

    tn_admin(n, "POST", "/admin/v1/cycle", "{}", &r);
    assert_int_equal(r.status, 202);
    tn_resp_free(&r);
    for (int i = 0; i < 300; i++) {
        tn_http(n, TN_OPS, "GET", "/health", NULL, 0, NULL, 0, NULL, &r);
        bool done =
            r.json && (uint64_t)json_integer_value(json_object_get(r.json, "last_cycle")) >= want;
        tn_resp_free(&r);
        if (done) {
            return;
        }
        usleep(20000);
    }
    fail_msg("cycle %" PRIu64 " never landed", want);
}

/* The replica's size; 0 when it does not exist yet. */
uint64_t ta_replica_size(const char *adir)
{
    char rdir[700];
    store_cfg cfg = {.dir = rdir, .read_only = true};
    store_log *log;
    uint64_t size;

    snprintf(rdir, sizeof(rdir), "%s/replica", adir);
    if (access(rdir, F_OK) != 0) {
        return 0;
    }
    tally_status st = store_open(&cfg, &log);
    if (st == TALLY_ENOTFOUND) {
        return 0; /* killed before the replica's first record */
    }
    assert_int_equal(st, TALLY_OK);
    size = store_size(log);
    store_close(log);
    return size;
}

void ta_serve_log(tn_node *n, const char *tmp, const char *origin, const char *dir,
                  const char *const *env)
{
    size_t k = 0;

    memset(n, 0, sizeof(*n));
    n->tmp = tmp;
    snprintf(n->origin, sizeof(n->origin), "%s", origin);
    snprintf(n->dir, sizeof(n->dir), "%s", dir);
    snprintf(n->out, sizeof(n->out), "%s/serve.out", dir);
    snprintf(n->err, sizeof(n->err), "%s/serve.err", dir);
    n->env[k++] = "TALLY_START_REPLAY=checkpoint";
    for (; env != NULL && *env != NULL && k < 15; env++) {
        n->env[k++] = *env;
    }
    n->env[k] = NULL;
    tn_start(n);
}

void ta_chain_owner(tn_node *n, const tn_miner *m)
{
    uint8_t acct[32];
    char ss58[49], rec[768];
    tn_resp r;

    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(m->pk[b] ^ 0x55);
    }
    schema_ss58_encode(acct, ss58);
    snprintf(
        rec, sizeof(rec),
        "{\"records\": [{\"type\": \"CHAIN_PARAMS\", \"body\": {\"netuid\": 1, \"block\": 100, "
        "\"tempo\": 360, \"max_weight_limit\": 65535, \"min_allowed_weights\": 1, "
        "\"max_allowed_uids\": 256, \"owner_hotkey\": \"%s\"}}]}",
        ss58);
    tn_admin(n, "POST", "/admin/v1/records", rec, &r);
    if (r.status != 200) {
        fail_msg("CHAIN_PARAMS: %u %s", r.status, r.body ? r.body : "");
    }
    tn_resp_free(&r);
}

int ta_audit_once(uint16_t port, const char *origin, const char *adir, const char *vkey, char *out,
                  size_t cap)
{
    int rc = tu_run(out, cap,
                    "TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=http://127.0.0.1:%u "
                    "TALLY_AUDIT_ORIGIN=%s TALLY_AUDIT_PRIMARY_KEY='%s' %s audit --dir %s --once "
                    "2>%s/audit.err",
                    port, origin, vkey, bin(), adir, adir);
    print_message("tally audit --once: exit %d\n%s", rc, out);
    return rc;
}

int ta_audit_status(uint16_t port, const char *origin, const char *adir, const char *vkey,
                    char *out, size_t cap)
{
    return tu_run(out, cap,
                  "TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=http://127.0.0.1:%u "
                  "TALLY_AUDIT_ORIGIN=%s TALLY_AUDIT_PRIMARY_KEY='%s' %s audit --dir %s --status",
                  port, origin, vkey, bin(), adir);
}

void ta_node_vkey(const tn_node *n, char *out, size_t cap)
{
    char buf[4096];
    assert_int_equal(tu_run(buf, sizeof(buf), "%s --dir %s key", bin(), n->dir), 0);
    /* the last line is the verifier key */
    char *last = buf, *nl;
    while ((nl = strchr(last, '\n')) != NULL && nl[1] != '\0') {
        last = nl + 1;
    }
    snprintf(out, cap, "%.*s", (int)strcspn(last, "\n"), last);
}

size_t ta_attestations_find(const tn_node *n, const uint8_t *key, uint64_t cycle,
                            schema_attestation *last)
{
    store_cfg cfg = {.dir = n->dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record rec;
    schema_header h;
    schema_body b;
    size_t count = 0;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_iter_open(log, 0, &it), TALLY_OK);
    while (store_iter_read(it, true, &rec, &h, &b) == TALLY_OK) {
        if (h.type == SCHEMA_ATTESTATION && (key == NULL || memcmp(h.actor, key, 32) == 0) &&
            (cycle == 0 || b.u.attestation.cycle == cycle)) {
            count++;
            if (last != NULL) {
                *last = b.u.attestation;
            }
        }
        schema_body_release(&b);
    }
    store_iter_close(it);
    store_close(log);
    return count;
}

size_t ta_attestations(const tn_node *n, uint64_t *last_cycle, uint64_t *verdict)
{
    schema_attestation at;
    size_t count = ta_attestations_find(n, NULL, 0, &at);

    if (count > 0) {
        *last_cycle = at.cycle, *verdict = at.verdict;
    }
    return count;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts `tally audit --dir adir` (the daemon) with a round every second and the ops listener
 * on an ephemeral port, and reads the port from its first line of output (30 s at most). */
void ta_daemon_start(ta_daemon *d, uint16_t ledger_port, const char *origin, const char *adir,
                     const char *vkey, const char *peers)
{
    char url[64];
    pid_t pid;

    snprintf(d->out, sizeof(d->out), "%s/daemon.out", adir);
    snprintf(d->err, sizeof(d->err), "%s/daemon.err", adir);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ledger_port);
    unlink(d->out);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int o = open(d->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(d->err, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(o, 1), dup2(e, 2);
        setenv("TALLY_CONFIG", "/dev/null", 1);
        setenv("TALLY_AUDIT_PRIMARY_URL", url, 1);
        setenv("TALLY_AUDIT_ORIGIN", origin, 1);
        setenv("TALLY_AUDIT_PRIMARY_KEY", vkey, 1);
        setenv("TALLY_AUDIT_POLL_S", "1", 1);
        setenv("TALLY_AUDIT_OPS_LISTEN", "127.0.0.1:0", 1);
        if (peers != NULL) {
            setenv("TALLY_AUDIT_PEERS", peers, 1);
        }
        execl(bin(), bin(), "audit", "--dir", adir, (char *)NULL);
        _exit(127);
    }
    d->pid = pid;
    d->port = 0;
    for (int t = 0; t < 600 && d->port == 0; t++) {
        char buf[4096] = "";
        FILE *f = fopen(d->out, "r");
        unsigned port = 0;
        int st;
        if (f != NULL) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            buf[n] = '\0';
            fclose(f);
        }
        const char *p = strstr(buf, "ops listening on 127.0.0.1:");
        if (p != NULL && strchr(p, '\n') != NULL &&
            sscanf(p, "ops listening on 127.0.0.1:%u", &port) == 1 && port > 0 && port < 65536) {
            d->port = (uint16_t)port;
            break;
        }
        if (waitpid(pid, &st, WNOHANG) == pid) {
            d->pid = -1;
            fail_msg("tally audit exited at start (see %s)", d->err);
        }
        nap_ms(50);
    }
    if (d->port == 0) {
        fail_msg("tally audit did not say where it listens within 30 s (see %s)", d->err);
    }
    client_cfg cc = {.host = "127.0.0.1", .port = d->port, .io_timeout_ms = 10000};
    assert_int_equal(client_open(&cc, &d->conn), TALLY_OK);
}

/* Sends sig and waits (60 s at most) for the exit; the exit status, 128 + signal if killed. */
int ta_daemon_stop(ta_daemon *d, int sig)
{
    int st = 0;

    if (d->pid <= 0) {
        return -1; /* not running: never kill(-1) or the process group */
    }
    client_close(d->conn);
    d->conn = NULL;
    kill(d->pid, sig);
    for (int t = 0; t < 1200; t++) {
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->pid = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        nap_ms(50);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &st, 0);
    d->pid = -1;
    fail_msg("tally audit did not stop within 60 s of signal %d", sig);
    return -1;
}

/* The demo's auditors: three `tally audit` rounds against the demo's node on loopback (in this
 * process, each with its own data directory and key, bound as validators by the load
 * generator's METAGRAPH), after a scoring cycle; their verdicts, the node's finality of the
 * cycle (k of m), and the checkpoint with the auditors' cosignatures. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auditor/audit.h"
#include "cli/cli.h"
#include "net/net.h"

/* The key of auditor k in ndir/auditor-k/auditor.key (made on the first demo). */
int cli_demo_auditor_key(const char *ndir, unsigned k, uint8_t pk[32])
{
    char dir[4300], path[4400], detail[STORE_DETAIL_MAX] = "";
    uint8_t *sk = sodium_malloc(64);
    tally_status st;

    if (sk == NULL) {
        return CLI_INTERNAL;
    }
    snprintf(dir, sizeof(dir), "%s/auditor-%u", ndir, k);
    snprintf(path, sizeof(path), "%s/auditor.key", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        sodium_free(sk);
        return cli_fail("demo", TALLY_EIO, "cannot make %s", dir);
    }
    st = store_key_read(path, pk, sk, detail);
    if (st == TALLY_ENOTFOUND) {
        st = store_key_create(path, NULL, pk, detail);
    }
    sodium_free(sk);
    return st == TALLY_OK ? CLI_OK : cli_fail("demo", st, "auditor key %s: %s", path, detail);
}

/* One call to the node's ops or ledger listener; the JSON answer (new reference) or NULL. */
static json_t *call(const char *host, uint16_t port, const char *method, const char *target,
                    const char *token, const char *body)
{
    client_cfg cc = {.host = host, .port = port};
    client_conn *c = NULL;
    client_response *r = NULL;
    char auth[96];
    client_header h = {"Authorization", auth};
    client_request rq = {.method = method, .target = target, .headers = token ? &h : NULL,
                         .n_headers = token ? 1 : 0, .body = body, .body_n = body ? strlen(body) : 0,
                         .content_type = body ? "application/json" : NULL};
    json_t *o = NULL;

    snprintf(auth, sizeof(auth), "Bearer %s", token ? token : "");
    if (client_open(&cc, &c) == TALLY_OK && client_do(c, &rq, &r) == TALLY_OK) {
        tally_bytes b = client_response_body(r);
        o = json_loadb((const char *)b.p, b.n, 0, NULL);
    }
    client_response_free(r);
    client_close(c);
    return o;
}

static uint64_t last_cycle(uint16_t ops)
{
    json_t *h = call("127.0.0.1", ops, "GET", "/health", NULL, NULL);
    uint64_t c = h ? (uint64_t)json_integer_value(json_object_get(h, "last_cycle")) : 0;
    json_decref(h);
    return c;
}

/* Whether the log holds records after the last cycle's block (or has no cycle yet): a
 * simulated week ends on its last midnight's cycle, with nothing after it to score. */
static bool records_after_cycle(uint16_t ops, uint16_t led, uint64_t cycle)
{
    char target[64];
    json_t *h, *c;
    bool after = true;

    if (cycle == 0) {
        return true;
    }
    snprintf(target, sizeof(target), "/v1/checkpoints?after=%" PRIu64, cycle - 1);
    h = call("127.0.0.1", ops, "GET", "/health", NULL, NULL);
    c = call("127.0.0.1", led, "GET", target, NULL, NULL);
    json_t *it = json_array_get(json_object_get(c, "items"), 0);
    if (h != NULL && it != NULL &&
        (uint64_t)json_integer_value(json_object_get(it, "cycle")) == cycle) {
        after = (uint64_t)json_integer_value(json_object_get(it, "state_seq")) + 1 !=
                (uint64_t)json_integer_value(json_object_get(h, "tree_size"));
    }
    json_decref(h);
    json_decref(c);
    return after;
}

/* The node's clock (ms), when it is a manual one; else 0. */
static uint64_t node_manual_ms(uint16_t ops, const char *token)
{
    json_t *r = call("127.0.0.1", ops, "POST", "/admin/v1/clock", token, "{\"advance_ms\": 0}");
    uint64_t now = (uint64_t)json_integer_value(json_object_get(r, "now_ms"));
    json_decref(r);
    return now;
}

/* Asks the node for a cycle when there is something new to score, and waits (≤ 30 s) until it
 * is in the log. */
static int run_cycle(uint16_t ops, uint16_t led, const char *token)
{
    uint64_t before = last_cycle(ops);
    json_t *r;

    if (!records_after_cycle(ops, led, before)) {
        printf("   the node's last cycle, %" PRIu64 ", covers its whole log: no cycle asked\n",
               before);
        return CLI_OK;
    }
    r = call("127.0.0.1", ops, "POST", "/admin/v1/cycle", token, "{}");

    json_decref(r);
    for (int i = 0; i < 1500; i++) {
        if (last_cycle(ops) > before) {
            return CLI_OK;
        }
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    return cli_fail("demo", TALLY_EIO, "the node's cycle did not land within 30 s");
}

int cli_demo_auditors(net_node *node, const char *ndir, const char *token, unsigned n_auditors)
{
    uint16_t ops = net_node_port(node, NET_LISTEN_OPS), led = net_node_port(node, NET_LISTEN_LEDGER);
    char url[64], vkey[512], origin[SCHEMA_ORIGIN_MAX + 1] = "", logpath[4300];
    uint8_t node_pk[32];
    ops_clock *clock = NULL;
    ops_log *log = NULL;
    int fd, rc;
    json_t *info;

    printf("== %u auditors (tally audit) check the node over HTTP\n", n_auditors);
    rc = run_cycle(ops, led, token);
    if (rc != CLI_OK) {
        return rc;
    }
    info = call("127.0.0.1", led, "GET", "/v1/info", NULL, NULL);
    {
        const char *o = info ? json_string_value(json_object_get(info, "origin")) : NULL;
        const char *k = info ? json_string_value(json_object_get(info, "node_key")) : NULL;
        if (o == NULL || k == NULL || schema_unhex(k, strlen(k), node_pk, 32) != TALLY_OK) {
            json_decref(info);
            return cli_fail("demo", TALLY_EIO, "the node's /v1/info is not what it should be");
        }
        snprintf(origin, sizeof(origin), "%s", o);
    }
    json_decref(info);
    if (store_vkey(origin, node_pk, vkey, sizeof(vkey)) != TALLY_OK) {
        return cli_fail("demo", TALLY_EINVAL, "the node's origin %s", origin);
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", led);
    snprintf(logpath, sizeof(logpath), "%s/audit.log", ndir);
    fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    /* on a node whose clock is a manual one, the auditors' clock stands where the node's does:
     * their signed requests and tokens are judged by it */
    uint64_t manual_ms = node_manual_ms(ops, token);
    if (ops_clock_new(manual_ms ? OPS_CLOCK_MANUAL : OPS_CLOCK_REAL, (int64_t)manual_ms,
                      &clock) != TALLY_OK) {
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
    /* two rounds each: the first checks and attests, the second (nothing new to attest)
     * cosigns the head all of them then see */
    for (unsigned round = 0; round < 2 && rc == CLI_OK; round++) {
        for (unsigned k = 0; k < n_auditors && rc == CLI_OK; k++) {
            char dir[4300], key[4400], detail[AUDIT_WHAT_MAX] = "";
            audit *a = NULL;
            audit_round r;
            tally_status st;
            snprintf(dir, sizeof(dir), "%s/auditor-%u", ndir, k);
            snprintf(key, sizeof(key), "%s/auditor.key", dir);
            audit_cfg ac = {.dir = dir, .primary_url = url, .origin = origin,
                            .primary_key = vkey, .key_file = key, .max_recompute_day = 1,
                            .max_recompute_week = 3, .log = log, .clock = clock,
                            .detail = detail};
            st = audit_open(&ac, &a);
            if (st != TALLY_OK) {
                rc = cli_fail("demo", st, "auditor %u: %s", k, detail);
                break;
            }
            st = audit_round_run(a, &r);
            if (st != TALLY_OK) {
                rc = cli_fail("demo", st, "auditor %u: %s", k, r.what);
            } else if (round == 0) {
                printf("   auditor %u: %" PRIu64 " records verified, %" PRIu64
                       " replayed; ",
                       k, r.verified_size, r.records_replayed);
                for (size_t i = 0; i < r.n_cycles; i++) {
                    printf("%scycle %" PRIu64 " %s%s", i ? ", " : "", r.cycles[i].cycle,
                           audit_verdict_name(r.cycles[i].verdict),
                           r.cycles[i].posted ? " (attested)" : "");
                }
                printf("%s\n", r.n_cycles ? "" : "no new cycle");
                if (r.failed) {
                    printf("   auditor %u: FAIL %s: %s\n", k, audit_reason_name(r.reason), r.what);
                    rc = CLI_CHECK_FAILED;
                }
            } else if (!r.cosigned) {
                rc = cli_fail("demo", TALLY_EIO, "auditor %u could not cosign the checkpoint", k);
            }
            audit_round_release(&r);
            audit_close(a);
        }
    }
    if (rc == CLI_OK) {
        json_t *f = call("127.0.0.1", led, "GET", "/v1/finality", NULL, NULL);
        if (f == NULL) {
            rc = cli_fail("demo", TALLY_EIO, "the node serves no finality");
            goto out;
        }
        printf("   finality of cycle %" PRIu64 ": %zu of %" PRIu64 " eligible auditors passed it, "
               "k = %" PRIu64 ": %s\n",
               (uint64_t)json_integer_value(json_object_get(f, "cycle")),
               json_array_size(json_object_get(f, "passes")),
               (uint64_t)json_integer_value(json_object_get(f, "m")),
               (uint64_t)json_integer_value(json_object_get(f, "k")),
               json_is_true(json_object_get(f, "final")) ? "final" : "NOT final");
        if (!json_is_true(json_object_get(f, "final"))) {
            rc = CLI_CHECK_FAILED;
        }
        json_decref(f);
    }
    if (rc == CLI_OK) {
        client_cfg cc = {.host = "127.0.0.1", .port = led};
        client_conn *c = NULL;
        client_response *r = NULL;
        client_request rq = {.method = "GET", .target = "/log/checkpoint"};
        if (client_open(&cc, &c) == TALLY_OK && client_do(c, &rq, &r) == TALLY_OK) {
            tally_bytes b = client_response_body(r);
            printf("   the checkpoint, signed by the node and cosigned by the auditors:\n");
            for (const char *p = (const char *)b.p, *end = p + b.n; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
                printf("     %.*s\n", (int)ln, p);
                p += ln + 1;
            }
        }
        client_response_free(r);
        client_close(c);
    }
out:
    ops_log_free(log);
    ops_clock_free(clock);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

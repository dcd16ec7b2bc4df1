/* A real `tally serve` for tests (see node.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/node.h"
#include "util/testutil.h"
#include "wire/wire.h"

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

uint64_t tn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

void tn_init(tn_node *n, const char *tag)
{
    tn_init_origin(n, tag, "tally.local/1");
}

void tn_init_origin(tn_node *n, const char *tag, const char *origin)
{
    char out[4096];
    const char *d = tu_tmpdir(tag);

    memset(n, 0, sizeof(*n));
    n->tmp = d;
    snprintf(n->dir, sizeof(n->dir), "%s/log", d);
    snprintf(n->out, sizeof(n->out), "%s/serve.out", d);
    snprintf(n->err, sizeof(n->err), "%s/serve.err", d);
    snprintf(n->origin, sizeof(n->origin), "%s", origin);
    assert_int_equal(tu_run(out, sizeof(out),
                            "%s init --dir %s --origin %s --key-seed "
                            "1111111111111111111111111111111111111111111111111111111111111111",
                            bin(), n->dir, origin),
                     0);
    n->pid = -1;
}

static bool has_env(const tn_node *n, const char *key)
{
    for (size_t i = 0; n->env[i] != NULL; i++) {
        if (strncmp(n->env[i], key, strlen(key)) == 0) {
            return true;
        }
    }
    return false;
}

/* The ports the node printed ("  ingest http://127.0.0.1:PORT", one line per listener). */
static bool read_ports(tn_node *n)
{
    static const char *const lines[3] = {"\n  ingest http://", "\n  ledger http://",
                                         "\n  ops    http://"};
    char buf[4096];
    FILE *f = fopen(n->out, "r");
    size_t k;

    if (f == NULL) {
        return false;
    }
    k = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[k] = '\0';
    for (int i = 0; i < 3; i++) {
        char *p = strstr(buf, lines[i]);
        char *nl = p ? strchr(p + 1, '\n') : NULL;
        char *c = nl;
        if (nl == NULL) {
            return false;
        }
        while (c > p && *c != ':') {
            c--;
        }
        n->port[i] = (uint16_t)strtoul(c + 1, NULL, 10);
        if (n->port[i] == 0) {
            return false;
        }
    }
    return true;
}

void tn_start(tn_node *n)
{
    char tpath[700];
    FILE *f;
    pid_t pid;

    unlink(n->out);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a test that fails half-way never leaves a node running behind it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int o = open(n->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(n->err, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(o, 1), dup2(e, 2);
        if (!has_env(n, "TALLY_INGEST_LISTEN")) {
            setenv("TALLY_INGEST_LISTEN", "127.0.0.1:0", 1);
        }
        if (!has_env(n, "TALLY_LEDGER_LISTEN")) {
            setenv("TALLY_LEDGER_LISTEN", "127.0.0.1:0", 1);
        }
        if (!has_env(n, "TALLY_OPS_LISTEN")) {
            setenv("TALLY_OPS_LISTEN", "127.0.0.1:0", 1);
        }
        for (size_t i = 0; n->env[i] != NULL; i++) {
            putenv((char *)(uintptr_t)n->env[i]);
        }
        execl(bin(), bin(), "serve", "--dir", n->dir, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    for (int t = 0; t < 600 && !read_ports(n); t++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            n->pid = -1;
            fail_msg("tally serve exited at start (see %s)", n->err);
        }
        sleep_ms(50);
    }
    if (n->port[0] == 0) {
        fail_msg("tally serve did not listen within 30 s (see %s)", n->err);
    }
    snprintf(tpath, sizeof(tpath), "%s/admin.token", n->dir);
    f = fopen(tpath, "r");
    assert_non_null(f);
    assert_int_equal(fread(n->token, 1, 64, f), 64);
    n->token[64] = '\0';
    fclose(f);
    for (int i = 0; i < 3; i++) {
        client_close(n->conn[i]);
        n->conn[i] = NULL;
    }
}

int tn_stop(tn_node *n, int sig)
{
    int st = 0;

    if (n->pid <= 0) {
        return -1;
    }
    kill(n->pid, sig);
    for (int t = 0; t < 1200; t++) {
        if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
            n->pid = -1;
            for (int i = 0; i < 3; i++) {
                client_close(n->conn[i]);
                n->conn[i] = NULL;
            }
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(50);
    }
    kill(n->pid, SIGKILL);
    waitpid(n->pid, &st, 0);
    n->pid = -1;
    fail_msg("tally serve did not stop within 60 s");
    return -1;
}

void tn_free(tn_node *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGKILL);
        waitpid(n->pid, NULL, 0);
    }
    for (int i = 0; i < 3; i++) {
        client_close(n->conn[i]);
    }
    tu_rmdir(n->tmp);
    n->tmp = NULL;
}

void tn_resp_free(tn_resp *r)
{
    json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static void copy_header(const client_response *r, const char *name, char *out, size_t cap)
{
    const char *v = NULL;
    out[0] = '\0';
    if (client_response_header(r, name, &v) > 0 && v != NULL) {
        snprintf(out, cap, "%s", v);
    }
}

void tn_http(tn_node *n, int listener, const char *method, const char *target,
             const client_header *h, size_t nh, const void *body, size_t bn, const char *ctype,
             tn_resp *out)
{
    client_request rq = {.method = method, .target = target, .headers = h, .n_headers = nh,
                         .body = body, .body_n = bn, .content_type = ctype};
    client_response *r = NULL;
    tally_bytes b;

    memset(out, 0, sizeof(*out));
    if (n->conn[listener] == NULL) {
        client_cfg cc = {.host = "127.0.0.1", .port = n->port[listener],
                         .io_timeout_ms = 60000};
        assert_int_equal(client_open(&cc, &n->conn[listener]), TALLY_OK);
    }
    if (client_do(n->conn[listener], &rq, &r) != TALLY_OK) {
        return; /* status 0: no response */
    }
    out->status = client_response_status(r);
    b = client_response_body(r);
    out->body = malloc(b.n + 1);
    assert_non_null(out->body);
    memcpy(out->body, b.p, b.n);
    out->body[b.n] = '\0';
    out->n = b.n;
    out->json = json_loadb(out->body, b.n, 0, NULL);
    copy_header(r, "Retry-After", out->retry_after, sizeof(out->retry_after));
    copy_header(r, "X-RateLimit-Remaining", out->rl_remaining, sizeof(out->rl_remaining));
    copy_header(r, "Allow", out->allow, sizeof(out->allow));
    copy_header(r, "X-Request-Id", out->request_id, sizeof(out->request_id));
    copy_header(r, "WWW-Authenticate", out->www_auth, sizeof(out->www_auth));
    copy_header(r, "ETag", out->etag, sizeof(out->etag));
    copy_header(r, "Content-Type", out->ctype, sizeof(out->ctype));
    copy_header(r, "Content-Encoding", out->cenc, sizeof(out->cenc));
    copy_header(r, "Cache-Control", out->cache, sizeof(out->cache));
    copy_header(r, "Tally-Cycle", out->cycle, sizeof(out->cycle));
    client_response_free(r);
}

void tn_admin(tn_node *n, const char *method, const char *path, const char *json, tn_resp *out)
{
    char auth[80];
    client_header h = {"Authorization", auth};

    snprintf(auth, sizeof(auth), "Bearer %s", n->token);
    tn_http(n, TN_OPS, method, path, &h, 1, json, json ? strlen(json) : 0,
            json ? "application/json" : NULL, out);
}

void tn_miner_init(tn_miner *m, uint8_t seed)
{
    uint8_t s[32];
    memset(s, seed, sizeof(s));
    crypto_sign_seed_keypair(m->pk, m->sk, s);
    m->nonce = 1000;
}

void tn_signed(tn_node *n, tn_miner *m, const char *method, const char *target,
               const uint8_t *body, size_t bn, uint64_t t, uint64_t nonce, tn_resp *out)
{
    char key[65], sig[129], ts[24], ns[24];
    uint8_t s[64];
    client_header h[4] = {{"Tally-Key", key}, {"Tally-Time", ts}, {"Tally-Nonce", ns},
                          {"Tally-Signature", sig}};
    wire_request rq = {.origin = {n->origin, strlen(n->origin)},
                       .method = {method, strlen(method)},
                       .target = {target, strlen(target)},
                       .time_ms = t ? t : tn_now(),
                       .nonce = nonce ? nonce : ++m->nonce,
                       .body = body,
                       .body_len = bn};

    assert_int_equal(wire_request_sign(&rq, m->sk, s), TALLY_OK);
    schema_hex(m->pk, 32, key);
    schema_hex(s, 64, sig);
    snprintf(ts, sizeof(ts), "%llu", (unsigned long long)rq.time_ms);
    snprintf(ns, sizeof(ns), "%llu", (unsigned long long)rq.nonce);
    tn_http(n, TN_INGEST, method, target, h, 4, body, bn, bn ? "application/msgpack" : NULL, out);
}

void tn_feed(tn_node *n, const tn_miner *miners, size_t k, uint64_t block, const uint64_t *ids,
             size_t n_ids, uint64_t start_ms)
{
    json_t *recs = json_array(), *neurons = json_array();
    char *text;
    tn_resp r;

    for (size_t i = 0; i < k; i++) {
        uint8_t acct[32];
        char ss58[49], hex[65];
        for (int b = 0; b < 32; b++) {
            acct[b] = (uint8_t)(miners[i].pk[b] ^ 0x55);
        }
        schema_ss58_encode(acct, ss58);
        schema_hex(miners[i].pk, 32, hex);
        json_array_append_new(neurons,
                              json_pack("{s:I, s:s, s:s, s:b, s:b, s:s}", "uid", (json_int_t)i,
                                        "hotkey", ss58, "stake_rao", "1000",
                                        "validator_permit", 0, "active", 1, "tally_key", hex));
    }
    json_array_append_new(recs, json_pack("{s:s, s:{s:i, s:I, s:i, s:i, s:o}}", "type",
                                          "METAGRAPH", "body", "netuid", 1, "block",
                                          (json_int_t)block, "part", 0, "parts", 1, "neurons",
                                          neurons));
    for (size_t i = 0; i < n_ids; i++) {
        json_array_append_new(
            recs, json_pack("{s:s, s:{s:I, s:s, s:s, s:s, s:s, s:n, s:I, s:s, s:n}}", "type",
                            "EVENT", "body", "event_id", (json_int_t)ids[i], "sport", "soccer",
                            "league", "EPL", "home_team", "Tigers", "away_team", "Rovers",
                            "venue", "start_ms", (json_int_t)start_ms, "status", "scheduled",
                            "ext_id"));
        json_array_append_new(
            recs, json_pack("{s:s, s:{s:I, s:I, s:s, s:n, s:[s,s]}}", "type", "MARKET", "body",
                            "market_id", (json_int_t)(1000 * ids[i] + 1), "event_id",
                            (json_int_t)ids[i], "kind", "moneyline", "line_n", "sides", "home",
                            "away"));
    }
    json_t *all = json_pack("{s:o}", "records", recs);
    text = json_dumps(all, JSON_COMPACT);
    json_decref(all);
    assert_non_null(text);
    tn_admin(n, "POST", "/admin/v1/records", text, &r);
    if (r.status != 200) {
        fail_msg("feed: %u %s", r.status, r.body ? r.body : "");
    }
    tn_resp_free(&r);
    free(text);
}

uint8_t *tn_odds(tn_node *n, const tn_miner *m, uint64_t nonce, const uint64_t *events, size_t k,
                 size_t *len)
{
    uint8_t (*bodies)[512] = calloc(k, 512), (*sigs)[64] = calloc(k, 64), *out = NULL;
    wire_signed *items = calloc(k, sizeof(*items));
    tally_str origin = {n->origin, strlen(n->origin)};

    assert_true(bodies && sigs && items);
    for (size_t i = 0; i < k; i++) {
        schema_price pr[2] = {{SCHEMA_HOME, 1910000000, 523560209},
                              {SCHEMA_AWAY, 2100000000, 476190476}};
        schema_entry en = {.market_id = 1000 * events[i] + 1, .kind = SCHEMA_MONEYLINE,
                           .prices = pr, .n_prices = 2};
        schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
        size_t bn;
        b.u.odds = (schema_odds){.nonce = nonce, .idx = i, .event_id = events[i], .markets = &en,
                                 .n_markets = 1};
        randombytes_buf(b.u.odds.salt, 16);
        assert_int_equal(schema_body_encode(&b, bodies[i], 512, &bn), TALLY_OK);
        assert_int_equal(wire_item_sign(origin, SCHEMA_ODDS_SUBMISSION, m->pk, m->sk, bodies[i],
                                        bn, sigs[i]),
                         TALLY_OK);
        items[i] = (wire_signed){{bodies[i], bn}, sigs[i]};
    }
    assert_int_equal(wire_request_build(items, k, &out, len), TALLY_OK);
    free(bodies);
    free(sigs);
    free(items);
    return out;
}

uint64_t tn_size(tn_node *n)
{
    store_cfg cfg = {.dir = n->dir, .read_only = true};
    store_log *log;
    uint64_t size;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    size = store_size(log);
    store_close(log);
    return size;
}

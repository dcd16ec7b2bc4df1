/* The flood benchmark (bench/flood.sh): a real release `tally serve` on loopback, without the
 * loopback exemption (TALLY_ABUSE_EXEMPT empty), default limits. Per variant and run, a fresh
 * log, then
 *   baseline — one well-behaved miner posting one signed odds item every 500 ms (its receipt
 *              latency) and GET /health on the ops listener every 50 ms, nothing else;
 *   flood    — the same two, while THREADS threads from IPS source addresses (127.0.3.N: every
 *              127/8 address is local on Linux's lo) send RATE requests/s for FLOOD_S seconds
 *              (open loop, capped at RATE × FLOOD_S requests) to one listener:
 *                ledger: GET /log/checkpoint and GET / (public routes of the ledger listener);
 *                ingest: GET /v1/games without Tally-* headers (401 auth_missing at stage 6,
 *                        after the windows).
 * It reports the flood's responses by status, the node's VmRSS (and RssAnon) before, at its
 * maximum during and after the flood, the miner's and the probe's p50/p99 against the
 * baseline of the same run, and whether each target of the issue holds.
 * usage: bench_flood TALLY_BIN SCRATCH [--runs N] [--variant ledger|ingest|both] [--rate R]
 *                    [--flood-s S] [--base-s S] [--ips N] [--threads N] */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_common.h"
#include "client/client.h"
#include "schema/schema.h"
#include "wire/wire.h"

#define STATUS_MAX 600u
#define THREADS_MAX 256
#define IPS_MAX 2000
#define MINER_PERIOD_S 0.5
#define HEALTH_PERIOD_S 0.05
#define RSS_PERIOD_S 0.1
/* The default global window of one listener (protocol §7.1). */
#define GLOBAL_PER_S 200.0
#define GLOBAL_PER_MIN 5000.0
/* What "no unbounded memory" is taken to mean: the flood's RSS peak at most this above the
 * baseline's (the abuse tables have fixed capacities; a leak per request would pass it within
 * seconds at 2,000 requests/s). */
#define RSS_GROWTH_MAX_KIB (64L * 1024L)

enum { L_INGEST = 0, L_LEDGER = 1, L_OPS = 2 };
enum { V_LEDGER = 0, V_INGEST = 1 };
static const char *const variant_names[2] = {"ledger", "ingest"};

typedef struct opts {
    const char *bin, *scratch;
    int runs;
    unsigned variants; /* bit per variant */
    double rate, flood_s, base_s;
    int ips, threads;
} opts;

typedef struct node {
    char *tmp;
    char dir[1100], out[1100], err[1100];
    pid_t pid;
    uint16_t port[3];
    char token[65];
    char origin[128];
} node;

/* ---- the node's process ---- */

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void sleep_until(double t)
{
    double now = bench_now();
    if (t > now) {
        sleep_s(t - now);
    }
}

static int run_init(const char *bin, const char *dir)
{
    int st = 0;
    pid_t pid = fork();

    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        execl(bin, bin, "init", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The ports the node printed ("  ingest http://127.0.0.1:PORT"): the last ':' of each line. */
static bool read_ports(node *n)
{
    static const char *const names[3] = {"ingest", "ledger", "ops"};
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
        char *p = strstr(buf, names[i]);
        char *nl = p ? strchr(p, '\n') : NULL;
        char *c = nl;
        if (p == NULL || nl == NULL || strstr(p, "http://") == NULL) {
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

static bool node_start(const opts *o, node *n)
{
    char tpath[1200];
    FILE *f;

    memset(n, 0, sizeof(*n));
    n->tmp = bench_dir(o->scratch, "flood");
    snprintf(n->dir, sizeof(n->dir), "%s/log", n->tmp);
    snprintf(n->out, sizeof(n->out), "%s/serve.out", n->tmp);
    snprintf(n->err, sizeof(n->err), "%s/serve.err", n->tmp);
    if (run_init(o->bin, n->dir) != 0) {
        fprintf(stderr, "tally init --dir %s failed\n", n->dir);
        return false;
    }
    n->pid = fork();
    if (n->pid == 0) {
        int fo = open(n->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(n->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fo, 1), dup2(fe, 2);
        setenv("TALLY_INGEST_LISTEN", "127.0.0.1:0", 1);
        setenv("TALLY_LEDGER_LISTEN", "127.0.0.1:0", 1);
        setenv("TALLY_OPS_LISTEN", "127.0.0.1:0", 1);
        /* empty: loopback is not exempt, so the limits apply to the flood's 127.0.3.N */
        setenv("TALLY_ABUSE_EXEMPT", "", 1);
        execl(o->bin, o->bin, "serve", "--dir", n->dir, (char *)NULL);
        _exit(127);
    }
    for (int t = 0; t < 600 && !read_ports(n); t++) {
        int st;
        if (n->pid < 0 || waitpid(n->pid, &st, WNOHANG) == n->pid) {
            char cmd[1200];
            fprintf(stderr, "tally serve exited at start; the end of %s:\n", n->err);
            snprintf(cmd, sizeof(cmd), "tail -c 600 '%s' >&2", n->err);
            if (system(cmd) != 0) {
                fprintf(stderr, "(unreadable)\n");
            }
            n->pid = -1;
            return false;
        }
        sleep_s(0.05);
    }
    if (n->port[0] == 0) {
        fprintf(stderr, "tally serve did not listen within 30 s (see %s)\n", n->err);
        return false;
    }
    snprintf(tpath, sizeof(tpath), "%s/admin.token", n->dir);
    f = fopen(tpath, "r");
    if (f == NULL || fread(n->token, 1, 64, f) != 64) {
        fprintf(stderr, "no admin token in %s\n", tpath);
        if (f != NULL) {
            fclose(f);
        }
        return false;
    }
    fclose(f);
    return true;
}

/* SIGTERM, then SIGKILL after 40 s (the grace is 20 s); removes the scratch directory. */
static void node_stop(node *n)
{
    int st;

    if (n->pid > 0 && waitpid(n->pid, &st, WNOHANG) == n->pid) {
        /* it died under the flood: say how, and keep its log */
        char cmd[3600];
        printf("!! tally serve ended on its own (%s %d); the end of its log:\n",
               WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        fflush(stdout);
        snprintf(cmd, sizeof(cmd), "tail -c 1500 '%s'; cp '%s' '%s/../serve-died.err'", n->err,
                 n->err, n->tmp);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot show %s\n", n->err);
        }
        n->pid = -1;
    }
    if (n->pid > 0) {
        kill(n->pid, SIGTERM);
        for (int t = 0; t < 800 && waitpid(n->pid, &st, WNOHANG) != n->pid; t++) {
            sleep_s(0.05);
            if (t == 799) {
                kill(n->pid, SIGKILL);
                waitpid(n->pid, &st, 0);
            }
        }
    }
    n->pid = -1;
    if (n->tmp != NULL) {
        bench_rmdir(n->tmp);
        n->tmp = NULL;
    }
}

/* VmRSS and RssAnon of pid in KiB (-1 when unreadable). */
static void read_rss(pid_t pid, long *rss, long *anon)
{
    char path[64], line[256];
    FILE *f;

    *rss = *anon = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            *rss = strtol(line + 6, NULL, 10);
        } else if (strncmp(line, "RssAnon:", 8) == 0) {
            *anon = strtol(line + 8, NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* ---- HTTP ---- */

static client_conn *conn_new(uint16_t port, const char *src)
{
    client_cfg cfg = {.host = "127.0.0.1",
                      .port = port,
                      .io_timeout_ms = 10000,
                      .connect_timeout_ms = 5000,
                      .bind_host = src};
    client_conn *c = NULL;

    if (client_open(&cfg, &c) != TALLY_OK) {
        fprintf(stderr, "client_open %s\n", src ? src : "");
        exit(1);
    }
    return c;
}

/* One request; the status (0: no response) and, when body_out, the body's first cap-1 bytes. */
static unsigned http(client_conn *c, const char *method, const char *target, const client_header *h,
                     size_t nh, const void *body, size_t bn, const char *ctype, char *body_out,
                     size_t cap)
{
    client_request rq = {.method = method,
                         .target = target,
                         .headers = h,
                         .n_headers = nh,
                         .body = body,
                         .body_n = bn,
                         .content_type = ctype};
    client_response *r = NULL;
    unsigned status;

    if (client_do(c, &rq, &r) != TALLY_OK) {
        if (body_out != NULL) {
            snprintf(body_out, cap, "%s", client_error(c));
        }
        return 0;
    }
    status = client_response_status(r);
    if (body_out != NULL) {
        tally_bytes b = client_response_body(r);
        size_t k = b.n < cap - 1 ? b.n : cap - 1;
        memcpy(body_out, b.p, k);
        body_out[k] = '\0';
    }
    client_response_free(r);
    return status;
}

/* The unsigned number after "key": in a JSON text, or -1. */
static long json_num(const char *text, const char *key)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof(pat), "\"%s\"", key);
    p = strstr(text, pat);
    if (p == NULL) {
        return -1;
    }
    p += strlen(pat);
    while (*p == ' ' || *p == ':') {
        p++;
    }
    return *p >= '0' && *p <= '9' ? strtol(p, NULL, 10) : -1;
}

/* ---- the miner and the feed ---- */

typedef struct miner {
    uint8_t pk[32], sk[64];
    uint64_t nonce;
    uint64_t next_event; /* each submission prices a fresh event: no daily cap, no bucket */
    uint64_t n_events;
} miner;

#define EVENT_BASE 5000u

static bool feed(node *n, miner *m, client_conn *ops)
{
    size_t cap = 512u * (size_t)m->n_events + 4096u, used = 0;
    char *text = malloc(cap), ss58[49], hex[65], auth[80], resp[1024];
    uint8_t acct[32];
    uint64_t start_ms = (uint64_t)time(NULL) * 1000u + 86400000u; /* tomorrow: open, in window */
    client_header h = {"Authorization", auth};
    unsigned st;

    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(m->pk[b] ^ 0x55);
    }
    schema_ss58_encode(acct, ss58);
    schema_hex(m->pk, 32, hex);
    used += (size_t)snprintf(text + used, cap - used,
                             "{\"records\":[{\"type\":\"METAGRAPH\",\"body\":{\"netuid\":1,"
                             "\"block\":100,\"part\":0,\"parts\":1,\"neurons\":[{\"uid\":0,"
                             "\"hotkey\":\"%s\",\"stake_rao\":\"1000\",\"validator_permit\":false,"
                             "\"active\":true,\"tally_key\":\"%s\"}]}}",
                             ss58, hex);
    for (uint64_t i = 0; i < m->n_events; i++) {
        uint64_t id = EVENT_BASE + i;
        used += (size_t)snprintf(
            text + used, cap - used,
            ",{\"type\":\"EVENT\",\"body\":{\"event_id\":%" PRIu64 ",\"sport\":\"soccer\","
            "\"league\":\"EPL\",\"home_team\":\"Tigers\",\"away_team\":\"Rovers\",\"venue\":null,"
            "\"start_ms\":%" PRIu64 ",\"status\":\"scheduled\",\"ext_id\":null}}"
            ",{\"type\":\"MARKET\",\"body\":{\"market_id\":%" PRIu64 ",\"event_id\":%" PRIu64
            ",\"kind\":\"moneyline\",\"line_n\":null,\"sides\":[\"home\",\"away\"]}}",
            id, start_ms, 1000u * id + 1u, id);
    }
    used += (size_t)snprintf(text + used, cap - used, "]}");
    snprintf(auth, sizeof(auth), "Bearer %s", n->token);
    st = http(ops, "POST", "/admin/v1/records", &h, 1, text, used, "application/json", resp,
              sizeof(resp));
    free(text);
    if (st != 200) {
        fprintf(stderr, "feed: %u %s\n", st, resp);
        return false;
    }
    return true;
}

/* One signed POST /v1/odds of one item (the next event's moneyline); the status, and *ok when
 * the item was accepted. */
static unsigned miner_post(const node *n, miner *m, client_conn *c, bool *ok)
{
    uint8_t body[512], sig[64], rsig[64], *req = NULL;
    char key[65], sigh[129], ts[24], ns[24], resp[4096];
    client_header h[4] = {
        {"Tally-Key", key}, {"Tally-Time", ts}, {"Tally-Nonce", ns}, {"Tally-Signature", sigh}};
    tally_str origin = {n->origin, strlen(n->origin)};
    uint64_t ev = EVENT_BASE + (m->next_event++ % m->n_events), nonce = ++m->nonce;
    schema_price pr[2] = {{SCHEMA_HOME, 1910000000, 523560209},
                          {SCHEMA_AWAY, 2100000000, 476190476}};
    schema_entry en = {
        .market_id = 1000 * ev + 1, .kind = SCHEMA_MONEYLINE, .prices = pr, .n_prices = 2};
    schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
    struct timespec now;
    size_t bn, rn = 0;
    wire_signed item;
    wire_request rq;
    unsigned st;

    *ok = false;
    b.u.odds =
        (schema_odds){.nonce = nonce, .idx = 0, .event_id = ev, .markets = &en, .n_markets = 1};
    randombytes_buf(b.u.odds.salt, 16);
    if (schema_body_encode(&b, body, sizeof(body), &bn) != TALLY_OK ||
        wire_item_sign(origin, SCHEMA_ODDS_SUBMISSION, m->pk, m->sk, body, bn, sig) != TALLY_OK) {
        abort();
    }
    item = (wire_signed){{body, bn}, sig};
    if (wire_request_build(&item, 1, &req, &rn) != TALLY_OK) {
        abort();
    }
    clock_gettime(CLOCK_REALTIME, &now);
    rq = (wire_request){.origin = origin,
                        .method = {"POST", 4},
                        .target = {"/v1/odds", 8},
                        .time_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u,
                        .nonce = nonce,
                        .body = req,
                        .body_len = rn};
    if (wire_request_sign(&rq, m->sk, rsig) != TALLY_OK) {
        abort();
    }
    schema_hex(m->pk, 32, key);
    schema_hex(rsig, 64, sigh);
    snprintf(ts, sizeof(ts), "%" PRIu64, rq.time_ms);
    snprintf(ns, sizeof(ns), "%" PRIu64, nonce);
    st = http(c, "POST", "/v1/odds", h, 4, req, rn, "application/msgpack", resp, sizeof(resp));
    free(req);
    *ok = st == 200 && json_num(resp, "accepted") == 1 && json_num(resp, "rejected") == 0;
    return st;
}

/* ---- one phase: probes, and a flood when flood_listener >= 0 ---- */

typedef struct series {
    double *lat; /* seconds */
    size_t n, cap;
    uint64_t st[STATUS_MAX];
    uint64_t not_ok; /* miner: 200 without the item accepted */
    uint64_t total;  /* requests sent */
} series;

typedef struct phase {
    const opts *o;
    node *n;
    miner *m;
    double t0, t_end;
    int flood_listener; /* -1: none */
    atomic_bool stop;
    series miner_s, health_s;
    uint64_t flood_st[STATUS_MAX], flood_sent, flood_skipped;
    long rss_max, anon_max;
} phase;

/* Latencies are those of 200s only (a refusal's is not a receipt's); every status is counted. */
static void series_add(series *s, double lat, unsigned st)
{
    if (st == 200 && s->n < s->cap) {
        s->lat[s->n++] = lat;
    }
    s->st[st < STATUS_MAX ? st : 0]++;
    s->total++;
}

static void *miner_main(void *arg)
{
    phase *p = arg;
    client_conn *c = conn_new(p->n->port[L_INGEST], "127.0.0.1");

    for (uint64_t i = 0;; i++) {
        double at = p->t0 + (double)i * MINER_PERIOD_S, t;
        bool ok;
        unsigned st;
        if (at >= p->t_end) {
            break;
        }
        sleep_until(at);
        t = bench_now();
        st = miner_post(p->n, p->m, c, &ok);
        series_add(&p->miner_s, bench_now() - t, st);
        p->miner_s.not_ok += st == 200 && !ok;
    }
    client_close(c);
    return NULL;
}

static void *health_main(void *arg)
{
    phase *p = arg;
    client_conn *c = conn_new(p->n->port[L_OPS], "127.0.0.1");

    for (uint64_t i = 0;; i++) {
        double at = p->t0 + (double)i * HEALTH_PERIOD_S, t;
        unsigned st;
        if (at >= p->t_end) {
            break;
        }
        sleep_until(at);
        t = bench_now();
        st = http(c, "GET", "/health", NULL, 0, NULL, 0, NULL, NULL, 0);
        series_add(&p->health_s, bench_now() - t, st);
    }
    client_close(c);
    return NULL;
}

static void *rss_main(void *arg)
{
    phase *p = arg;

    while (!atomic_load(&p->stop)) {
        long rss, anon;
        read_rss(p->n->pid, &rss, &anon);
        p->rss_max = rss > p->rss_max ? rss : p->rss_max;
        p->anon_max = anon > p->anon_max ? anon : p->anon_max;
        sleep_s(RSS_PERIOD_S);
    }
    return NULL;
}

typedef struct flooder {
    phase *p;
    int k;
    uint64_t st[STATUS_MAX], sent, skipped;
} flooder;

/* Thread k owns the source IPs k, k + T, ...; its j-th request is due at t0 + (k + j T) / rate
 * (open loop: a thread more than 0.5 s late skips the requests it missed, and counts them). */
static void *flood_main(void *arg)
{
    flooder *f = arg;
    phase *p = f->p;
    const opts *o = p->o;
    client_conn *conns[IPS_MAX];
    int nc = 0;
    uint64_t cap = (uint64_t)(o->rate * o->flood_s) / (uint64_t)o->threads + 1u;
    uint16_t port = p->n->port[p->flood_listener];

    for (int i = f->k; i < o->ips; i += o->threads) {
        char src[32];
        snprintf(src, sizeof(src), "127.0.%d.%d", 3 + i / 250, 1 + i % 250);
        conns[nc++] = conn_new(port, src);
    }
    for (uint64_t j = 0; j < cap && nc > 0;) {
        double at = p->t0 + ((double)f->k + (double)j * o->threads) / o->rate;
        double now = bench_now();
        const char *target;
        unsigned st;
        if (at >= p->t_end || atomic_load(&p->stop)) {
            break;
        }
        if (now - at > 0.5) {
            uint64_t to = (uint64_t)(((now - p->t0) * o->rate - f->k) / o->threads);
            f->skipped += to - j;
            j = to;
            continue;
        }
        sleep_until(at);
        if (p->flood_listener == L_LEDGER) {
            target = (j & 1u) ? "/log/checkpoint" : "/";
        } else {
            target = "/v1/games";
        }
        st = http(conns[j % (uint64_t)nc], "GET", target, NULL, 0, NULL, 0, NULL, NULL, 0);
        f->st[st < STATUS_MAX ? st : 0]++;
        f->sent++;
        j++;
    }
    for (int i = 0; i < nc; i++) {
        client_close(conns[i]);
    }
    return NULL;
}

static void series_init(series *s, double seconds, double period)
{
    memset(s, 0, sizeof(*s));
    s->cap = (size_t)(seconds / period) + 16u;
    s->lat = calloc(s->cap, sizeof(double));
}

static void run_phase(phase *p, double seconds)
{
    pthread_t tm, th, tr, tf[THREADS_MAX];
    flooder *fl = NULL;
    int nt = p->flood_listener >= 0 ? p->o->threads : 0;

    series_init(&p->miner_s, seconds, MINER_PERIOD_S);
    series_init(&p->health_s, seconds, HEALTH_PERIOD_S);
    atomic_store(&p->stop, false);
    p->t0 = bench_now() + 0.2;
    p->t_end = p->t0 + seconds;
    pthread_create(&tr, NULL, rss_main, p);
    if (nt > 0) {
        fl = calloc((size_t)nt, sizeof(*fl));
        for (int k = 0; k < nt; k++) {
            fl[k].p = p, fl[k].k = k;
            pthread_create(&tf[k], NULL, flood_main, &fl[k]);
        }
    }
    pthread_create(&tm, NULL, miner_main, p);
    pthread_create(&th, NULL, health_main, p);
    pthread_join(tm, NULL);
    pthread_join(th, NULL);
    for (int k = 0; k < nt; k++) {
        pthread_join(tf[k], NULL);
        for (unsigned s = 0; s < STATUS_MAX; s++) {
            p->flood_st[s] += fl[k].st[s];
        }
        p->flood_sent += fl[k].sent;
        p->flood_skipped += fl[k].skipped;
    }
    atomic_store(&p->stop, true);
    pthread_join(tr, NULL);
    free(fl);
}

static void phase_free(phase *p)
{
    free(p->miner_s.lat);
    free(p->health_s.lat);
}

/* ---- one variant, one run ---- */

typedef struct result {
    double miner_p50[2], miner_p99[2], health_p50[2], health_p99[2]; /* [0] baseline, [1] flood */
    uint64_t miner_n[2], miner_200[2], miner_not_ok[2], miner_st[STATUS_MAX];
    uint64_t health_n[2], health_200[2];
    uint64_t st[STATUS_MAX], sent, skipped;
    long rss_before, rss_max, rss_after, anon_before, anon_max, anon_after;
    double flood_s;
} result;

static void summarize(const phase *p, int i, result *r)
{
    series m = p->miner_s, h = p->health_s;
    r->miner_p50[i] = bench_pct(m.lat, m.n, 0.50) * 1e3;
    r->miner_p99[i] = bench_pct(m.lat, m.n, 0.99) * 1e3;
    r->health_p50[i] = bench_pct(h.lat, h.n, 0.50) * 1e3;
    r->health_p99[i] = bench_pct(h.lat, h.n, 0.99) * 1e3;
    r->miner_n[i] = m.total, r->miner_200[i] = m.st[200], r->miner_not_ok[i] = m.not_ok;
    r->health_n[i] = h.total, r->health_200[i] = h.st[200];
}

static bool run_variant(const opts *o, int variant, result *r)
{
    node n;
    miner m = {.nonce = 1000};
    phase base = {.o = o, .flood_listener = -1}, fl = {.o = o};
    client_conn *c;
    char idx[2048];
    const char *p;
    bool ok;

    memset(r, 0, sizeof(*r));
    if (!node_start(o, &n)) {
        node_stop(&n);
        return false;
    }
    crypto_sign_keypair(m.pk, m.sk);
    m.n_events = (uint64_t)((o->base_s + o->flood_s) / MINER_PERIOD_S) + 64u;
    c = conn_new(n.port[L_OPS], "127.0.0.1");
    ok = feed(&n, &m, c) && http(c, "GET", "/", NULL, 0, NULL, 0, NULL, idx, sizeof(idx)) == 200 &&
         (p = strstr(idx, "\"origin\"")) != NULL && (p = strchr(p + 8, '"')) != NULL;
    client_close(c);
    if (ok) {
        size_t k = strcspn(p + 1, "\"");
        snprintf(n.origin, sizeof(n.origin), "%.*s", (int)k, p + 1);
    }
    if (!ok) {
        fprintf(stderr, "feed or GET / failed (see %s)\n", n.err);
        node_stop(&n);
        return false;
    }
    base.n = fl.n = &n, base.m = fl.m = &m;
    fl.flood_listener = variant == V_LEDGER ? L_LEDGER : L_INGEST;

    run_phase(&base, o->base_s);
    summarize(&base, 0, r);
    read_rss(n.pid, &r->rss_before, &r->anon_before);
    run_phase(&fl, o->flood_s);
    summarize(&fl, 1, r);
    memcpy(r->miner_st, fl.miner_s.st, sizeof(r->miner_st));
    memcpy(r->st, fl.flood_st, sizeof(r->st));
    r->sent = fl.flood_sent, r->skipped = fl.flood_skipped, r->flood_s = o->flood_s;
    r->rss_max = fl.rss_max, r->anon_max = fl.anon_max;
    sleep_s(2.0); /* the connections close, the node settles */
    read_rss(n.pid, &r->rss_after, &r->anon_after);
    phase_free(&base);
    phase_free(&fl);
    node_stop(&n);
    return true;
}

/* ---- report ---- */

static uint64_t others(const uint64_t *st, const unsigned *known, size_t k)
{
    uint64_t sum = 0;
    for (unsigned s = 0; s < STATUS_MAX; s++) {
        bool hit = false;
        for (size_t i = 0; i < k; i++) {
            hit |= known[i] == s;
        }
        sum += hit ? 0 : st[s];
    }
    return sum;
}

/* Admitted by the listener's global window: every response but 503 (stage 4), the 403 of a ban
 * (stage 2) and connection failures. The 429s of stage 5 passed the global window. */
static uint64_t admitted(const result *r)
{
    uint64_t sum = 0;
    for (unsigned s = 1; s < STATUS_MAX; s++) {
        sum += (s == 503 || s == 403) ? 0 : r->st[s];
    }
    return sum;
}

static double global_bound(double seconds)
{
    double per_s = GLOBAL_PER_S * (seconds + 1.0); /* a partial window at each end */
    double per_min = GLOBAL_PER_MIN * (double)(1 + (uint64_t)(seconds / 60.0));
    return per_s < per_min ? per_s : per_min;
}

static void print_result(int variant, int run, const result *r)
{
    static const unsigned known[] = {0, 200, 401, 403, 429, 503};
    double ratio = r->miner_p99[0] > 0 ? r->miner_p99[1] / r->miner_p99[0] : 0;
    uint64_t adm = admitted(r);
    double bound = global_bound(r->flood_s);
    bool limits = adm <= (uint64_t)bound && r->st[0] == 0;
    bool memory = r->rss_max - r->rss_before <= RSS_GROWTH_MAX_KIB &&
                  r->rss_after - r->rss_before <= RSS_GROWTH_MAX_KIB && r->rss_after > 0;
    bool miner_all = r->miner_200[1] == r->miner_n[1] && r->miner_not_ok[1] == 0;
    bool miner_ok = miner_all && ratio <= 2.0;
    bool health = r->health_200[1] == r->health_n[1] && r->health_p99[1] < 10.0;

    printf("\n### flood of the %s listener, run %d\n", variant_names[variant], run + 1);
    printf("flood: %" PRIu64 " requests in %.0f s (%.0f/s sent; %" PRIu64 " skipped late)\n",
           r->sent, r->flood_s, (double)r->sent / r->flood_s, r->skipped);
    printf("  by status: 200 %" PRIu64 ", 401 %" PRIu64 ", 403 %" PRIu64 ", 429 %" PRIu64
           ", 503 %" PRIu64 ", other %" PRIu64 ", no response %" PRIu64 "\n",
           r->st[200], r->st[401], r->st[403], r->st[429], r->st[503],
           others(r->st, known, sizeof(known) / sizeof(known[0])), r->st[0]);
    printf("  past the global window: %" PRIu64 " (bound %.0f = min(200/s x (%.0f s + 1), "
           "5000/min)) -> limits %s\n",
           adm, bound, r->flood_s, limits ? "HOLD" : "DO NOT HOLD");
    printf("node VmRSS KiB: before %ld, max during %ld, after %ld (RssAnon %ld / %ld / %ld) -> "
           "memory %s (peak and after <= before + %ld MiB)\n",
           r->rss_before, r->rss_max, r->rss_after, r->anon_before, r->anon_max, r->anon_after,
           memory ? "BOUNDED" : "NOT BOUNDED", RSS_GROWTH_MAX_KIB / 1024);
    printf("miner (1 signed odds item / 500 ms; latency of the 200s): baseline p50 %.2f ms p99 "
           "%.2f ms (%" PRIu64 "/%" PRIu64 " accepted); flood p50 %.2f ms p99 %.2f ms (%" PRIu64
           "/%" PRIu64 " answered 200, %" PRIu64 " 200 with the item refused",
           r->miner_p50[0], r->miner_p99[0], r->miner_200[0] - r->miner_not_ok[0], r->miner_n[0],
           r->miner_p50[1], r->miner_p99[1], r->miner_200[1], r->miner_n[1], r->miner_not_ok[1]);
    for (unsigned s = 0; s < STATUS_MAX; s++) {
        if (s != 200 && r->miner_st[s] > 0) {
            printf(", %" PRIu64 " x %u", r->miner_st[s], s);
        }
    }
    printf(")\n  p99 ratio flood/baseline %.2f -> %s\n", ratio,
           miner_ok    ? "HOLDS (<= 2x, all accepted)"
           : miner_all ? "DOES NOT HOLD (> 2x)"
                       : "DOES NOT HOLD (refused requests)");
    printf("ops GET /health every 50 ms: baseline p50 %.2f ms p99 %.2f ms; flood p50 %.2f ms p99 "
           "%.2f ms (%" PRIu64 "/%" PRIu64 " 200) -> %s\n",
           r->health_p50[0], r->health_p99[0], r->health_p50[1], r->health_p99[1], r->health_200[1],
           r->health_n[1], health ? "HOLDS (< 10 ms)" : "DOES NOT HOLD");
}

static void print_medians(const opts *o, int variant, result *rs)
{
    double v[6][64];
    int n = o->runs;
    for (int i = 0; i < n; i++) {
        v[0][i] = rs[i].miner_p99[0], v[1][i] = rs[i].miner_p99[1];
        v[2][i] = rs[i].miner_p99[0] > 0 ? rs[i].miner_p99[1] / rs[i].miner_p99[0] : 0;
        v[3][i] = rs[i].health_p99[0], v[4][i] = rs[i].health_p99[1];
        v[5][i] = (double)(rs[i].rss_max - rs[i].rss_before);
    }
    printf("\n%s, median of %d runs: miner p99 baseline %.2f ms, flood %.2f ms, ratio %.2f; "
           "/health p99 baseline %.2f ms, flood %.2f ms; RSS growth %.0f KiB\n",
           variant_names[variant], n, bench_median(v[0], (size_t)n), bench_median(v[1], (size_t)n),
           bench_median(v[2], (size_t)n), bench_median(v[3], (size_t)n),
           bench_median(v[4], (size_t)n), bench_median(v[5], (size_t)n));
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_flood TALLY_BIN SCRATCH [--runs N] [--variant "
                    "ledger|ingest|both] [--rate R] [--flood-s S] [--base-s S] [--ips N] "
                    "[--threads N]\n");
    return 2;
}

static bool parse(int argc, char **argv, opts *o)
{
    *o = (opts){.runs = 1,
                .variants = 3,
                .rate = 2000,
                .flood_s = 30,
                .base_s = 20,
                .ips = 100,
                .threads = 50};
    if (argc < 3) {
        return false;
    }
    o->bin = argv[1], o->scratch = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--runs") == 0) {
            o->runs = atoi(v);
        } else if (strcmp(k, "--variant") == 0) {
            o->variants = strcmp(v, "ledger") == 0 ? 1u : strcmp(v, "ingest") == 0 ? 2u : 3u;
        } else if (strcmp(k, "--rate") == 0) {
            o->rate = atof(v);
        } else if (strcmp(k, "--flood-s") == 0) {
            o->flood_s = atof(v);
        } else if (strcmp(k, "--base-s") == 0) {
            o->base_s = atof(v);
        } else if (strcmp(k, "--ips") == 0) {
            o->ips = atoi(v);
        } else if (strcmp(k, "--threads") == 0) {
            o->threads = atoi(v);
        } else {
            return false;
        }
    }
    /* bounded: at most 120 s of flood per variant and run */
    return o->runs >= 1 && o->runs <= 64 && o->rate > 0 && o->rate <= 20000 && o->flood_s > 0 &&
           o->flood_s <= 120 && o->base_s > 0 && o->base_s <= 120 && o->ips >= 1 &&
           o->ips <= IPS_MAX && o->threads >= 1 && o->threads <= THREADS_MAX &&
           o->threads <= o->ips;
}

int main(int argc, char **argv)
{
    opts o;
    result *rs[2] = {NULL, NULL};

    if (!parse(argc, argv, &o)) {
        return usage();
    }
    if (sodium_init() < 0) {
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    bench_machine(stdout);
    printf("command:");
    for (int i = 0; i < argc; i++) {
        printf(" %s", argv[i]);
    }
    printf("\nflood: %.0f requests/s (%.1f x the global 200/s) for %.0f s from %d source IPs "
           "(127.0.3.N) on %d threads; baseline (same run, same node, no flood) %.0f s; "
           "TALLY_ABUSE_EXEMPT empty, default limits; median of %d run(s)\n",
           o.rate, o.rate / GLOBAL_PER_S, o.flood_s, o.ips, o.threads, o.base_s, o.runs);
    fflush(stdout);
    for (int v = 0; v < 2; v++) {
        if (!(o.variants & (1u << v))) {
            continue;
        }
        rs[v] = calloc((size_t)o.runs, sizeof(result));
        for (int r = 0; r < o.runs; r++) {
            if (!run_variant(&o, v, &rs[v][r])) {
                return 1;
            }
            print_result(v, r, &rs[v][r]);
            fflush(stdout);
        }
        print_medians(&o, v, rs[v]);
        free(rs[v]);
    }
    return 0;
}

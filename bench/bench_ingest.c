/* Baselines of the ingest benchmark (bench/run.sh ingest), measured in the same run as the
 * HTTP figures of `tally loadgen`:
 *   verify  — the machine's Ed25519 verification ceiling: verifies/s on every core at once;
 *   store   — the same items (one event's odds, one record each) through the node's own path
 *             without HTTP: stateless checks with the item signatures (wire_odds_parse), then
 *             the writer (nonce, rules, durable commit), from `miners` threads of `batch` items.
 * usage: bench_ingest verify RUNS SECONDS
 *        bench_ingest store DIR RUNS SECONDS MINERS BATCH */
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_common.h"
#include "ledger/ledger.h"
#include "wire/wire.h"

#define ORIGIN "bench.tally/1"

/* ---- verify ---- */

typedef struct vjob {
    double seconds;
    uint64_t done;
} vjob;

static void *verify_main(void *arg)
{
    vjob *j = arg;
    uint8_t pk[32], sk[64], sig[64], msg[107];
    double t0 = bench_now();

    randombytes_buf(msg, sizeof(msg)); /* a record message is 107 bytes (§4 vector) */
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
    while (bench_now() - t0 < j->seconds) {
        for (int i = 0; i < 256; i++) {
            if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0) {
                abort();
            }
        }
        j->done += 256;
    }
    return NULL;
}

static int run_verify(int runs, double seconds)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double *rate = calloc((size_t)runs, sizeof(*rate));

    for (int r = 0; r < runs; r++) {
        pthread_t th[256];
        vjob jobs[256];
        uint64_t total = 0;
        for (long c = 0; c < cores && c < 256; c++) {
            jobs[c] = (vjob){seconds, 0};
            pthread_create(&th[c], NULL, verify_main, &jobs[c]);
        }
        for (long c = 0; c < cores && c < 256; c++) {
            pthread_join(th[c], NULL);
            total += jobs[c].done;
        }
        rate[r] = (double)total / seconds;
    }
    printf("verify: %ld cores, median %.0f Ed25519 verifies/s (%d runs of %.1f s)\n", cores,
           bench_median(rate, (size_t)runs), runs, seconds);
    free(rate);
    return 0;
}

/* ---- store ---- */

typedef struct world {
    store_log *log;
    ledger_admission adm;
    uint8_t (*pk)[32], (*sk)[64];
    unsigned miners, batch;
    uint64_t events;
    double seconds;
} world;

static void die(const char *what, tally_status st)
{
    fprintf(stderr, "bench_ingest: %s: %s\n", what, tally_status_str(st));
    exit(1);
}

/* GENESIS, a METAGRAPH binding the miners, and `events` events starting in two days, each with
 * a moneyline market 1000 × id + 1. */
static void build_world(world *w, const char *dir)
{
    ledger_batch b = LEDGER_BATCH_INIT;
    schema_body body;
    schema_neuron *nn = calloc(w->miners, sizeof(*nn));
    uint64_t first, now = (uint64_t)time(NULL) * 1000u, start = now + 2 * SCHEMA_DAY_MS;
    static uint64_t sides[2] = {SCHEMA_HOME, SCHEMA_AWAY};
    store_cfg cfg = {.dir = dir, .create = true, .origin = ORIGIN, .admission = &w->adm.hook};
    tally_status st;

    if (ledger_admission_init(&w->adm) != TALLY_OK || store_open(&cfg, &w->log) != TALLY_OK ||
        ledger_admission_attach(&w->adm, w->log) != TALLY_OK) {
        die("open", TALLY_EIO);
    }
    body = (schema_body){.type = SCHEMA_GENESIS};
    body.u.genesis = (schema_genesis){.origin = {ORIGIN, strlen(ORIGIN)}, .netuid = 1,
                                      .created_ms = now, .code_version = {"bench", 5}};
    body.u.genesis.chain = (schema_chain_params){.netuid = 1, .block = 1,
                                                 .max_weight_limit = 65535};
    st = ledger_batch_node(&b, w->log, &body, 0);
    for (unsigned i = 0; i < w->miners; i++) {
        nn[i] = (schema_neuron){.uid = i, .stake_rao = 1, .active = true, .has_tally_key = true};
        memcpy(nn[i].tally_key, w->pk[i], 32);
        nn[i].hotkey[0] = (uint8_t)i, nn[i].hotkey[1] = (uint8_t)(i >> 8), nn[i].hotkey[2] = 7;
    }
    body = (schema_body){.type = SCHEMA_METAGRAPH};
    body.u.metagraph = (schema_metagraph){1, 2, 0, 1, nn, w->miners};
    if (st == TALLY_OK) {
        st = ledger_batch_node(&b, w->log, &body, 0);
    }
    if (st == TALLY_OK) {
        st = ledger_batch_flush(&b, w->log, &first);
    }
    for (uint64_t e = 1; st == TALLY_OK && e <= w->events; e++) {
        body = (schema_body){.type = SCHEMA_EVENT};
        body.u.event = (schema_event){.event_id = e, .sport = {"soccer", 6},
                                      .league = {"EPL", 3}, .home_team = {"A", 1},
                                      .away_team = {"B", 1}, .start_ms = start,
                                      .status = SCHEMA_SCHEDULED};
        st = ledger_batch_node(&b, w->log, &body, 0);
        body = (schema_body){.type = SCHEMA_MARKET};
        body.u.market = (schema_market){.market_id = 1000 * e + 1, .event_id = e,
                                        .kind = SCHEMA_MONEYLINE, .sides = sides, .n_sides = 2};
        if (st == TALLY_OK) {
            st = ledger_batch_node(&b, w->log, &body, 0);
        }
        if (st == TALLY_OK && (b.n >= 4000 || e == w->events)) {
            st = ledger_batch_flush(&b, w->log, &first);
        }
    }
    if (st != TALLY_OK) {
        die("world", st);
    }
    ledger_batch_release(&b);
    free(nn);
}

typedef struct mjob {
    world *w;
    unsigned m;
    uint64_t next_event; /* each miner walks the events: no (hotkey, market) twice in a run */
    uint64_t items, requests;
    double *lat;
    size_t n_lat, cap_lat;
} mjob;

/* One request of `batch` items by miner m: bodies signed, then parsed as the node parses them,
 * then the writer. Returns the items accepted. */
static size_t one_request(mjob *j, uint64_t nonce)
{
    world *w = j->w;
    unsigned k = w->batch;
    uint8_t (*bodies)[256] = malloc((size_t)k * 256), (*sigs)[64] = malloc((size_t)k * 64);
    wire_signed *items = malloc(k * sizeof(*items));
    uint8_t *req = NULL;
    size_t rn, acc = 0;
    tally_str origin = {ORIGIN, strlen(ORIGIN)};
    schema_paramset ps;
    wire_items parsed = WIRE_ITEMS_INIT;
    wire_fail wf;

    for (unsigned i = 0; i < k; i++) {
        uint64_t e = j->next_event++ % w->events + 1;
        schema_price pr[2] = {{SCHEMA_HOME, 1910000000, 523560209},
                              {SCHEMA_AWAY, 2100000000, 476190476}};
        schema_entry en = {.market_id = 1000 * e + 1, .kind = SCHEMA_MONEYLINE, .prices = pr,
                           .n_prices = 2};
        schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
        size_t bn;
        b.u.odds = (schema_odds){.nonce = nonce, .idx = i, .event_id = e, .markets = &en,
                                 .n_markets = 1};
        randombytes_buf(b.u.odds.salt, 16);
        if (schema_body_encode(&b, bodies[i], 256, &bn) != TALLY_OK ||
            wire_item_sign(origin, SCHEMA_ODDS_SUBMISSION, w->pk[j->m], w->sk[j->m], bodies[i],
                           bn, sigs[i]) != TALLY_OK) {
            die("sign", TALLY_EINVAL);
        }
        items[i] = (wire_signed){{bodies[i], bn}, sigs[i]};
    }
    if (wire_request_build(items, k, &req, &rn) != TALLY_OK) {
        die("build", TALLY_EINVAL);
    }
    double t0 = bench_now();
    schema_paramset_default(&ps);
    if (wire_odds_parse(origin, w->pk[j->m], nonce, &ps, req, rn, &parsed, &wf) != TALLY_OK) {
        fprintf(stderr, "bench_ingest: parse: %s %s\n", wire_err_name(wf.err), wf.message);
        exit(1);
    }
    store_input *in = calloc(k, sizeof(*in));
    store_item_result *out = calloc(k, sizeof(*out));
    store_request rq = {.nonce = nonce, .verified = true};
    store_req_result res;
    memcpy(rq.key, w->pk[j->m], 32);
    randombytes_buf(rq.digest, 32);
    for (unsigned i = 0; i < k; i++) {
        in[i] = (store_input){parsed.items[i].header, parsed.items[i].body.p,
                              parsed.items[i].body.n};
    }
    tally_status st = store_append_request(w->log, &rq, in, k, out, &res);
    if (st != TALLY_OK) {
        die("append", st);
    }
    acc = res.n_accepted;
    if (j->n_lat == j->cap_lat) {
        j->cap_lat = j->cap_lat ? 2 * j->cap_lat : 1024;
        j->lat = realloc(j->lat, j->cap_lat * sizeof(*j->lat));
    }
    j->lat[j->n_lat++] = (bench_now() - t0) * 1000.0;
    wire_items_release(&parsed);
    free(in), free(out), free(req), free(bodies), free(sigs), free(items);
    return acc;
}

static void *miner_main(void *arg)
{
    mjob *j = arg;
    double t0 = bench_now();
    uint64_t nonce = 1;

    while (bench_now() - t0 < j->w->seconds) {
        j->items += one_request(j, nonce++);
        j->requests++;
    }
    return NULL;
}

static int run_store(const char *base, int runs, double seconds, unsigned miners, unsigned batch)
{
    double *rate = calloc((size_t)runs, sizeof(*rate)), p50 = 0, p99 = 0;
    char *dir = bench_dir(base, "ingest");
    /* one world for every run: run r uses its own miners (keys r·miners …), so no run meets
     * another's buckets or daily caps; each miner walks the events from the first */
    world w = {.miners = miners * (unsigned)runs, .batch = batch, .seconds = seconds,
               .events = 20000};

    if (w.miners > 256) {
        fprintf(stderr, "bench_ingest: miners × runs must be at most 256 (one METAGRAPH part)\n");
        return 2;
    }
    w.pk = calloc(w.miners, 32), w.sk = calloc(w.miners, 64);
    for (unsigned m = 0; m < w.miners; m++) {
        crypto_sign_keypair(w.pk[m], w.sk[m]);
    }
    build_world(&w, dir);
    for (int r = 0; r < runs; r++) {
        mjob *jobs = calloc(miners, sizeof(*jobs));
        pthread_t *th = calloc(miners, sizeof(*th));
        uint64_t items = 0;
        size_t n_lat = 0;
        for (unsigned m = 0; m < miners; m++) {
            jobs[m] = (mjob){.w = &w, .m = (unsigned)r * miners + m};
            pthread_create(&th[m], NULL, miner_main, &jobs[m]);
        }
        for (unsigned m = 0; m < miners; m++) {
            pthread_join(th[m], NULL);
            items += jobs[m].items;
            n_lat += jobs[m].n_lat;
        }
        double *all = calloc(n_lat + 1, sizeof(*all));
        size_t k = 0;
        for (unsigned m = 0; m < miners; m++) {
            memcpy(all + k, jobs[m].lat, jobs[m].n_lat * sizeof(*all));
            k += jobs[m].n_lat;
            free(jobs[m].lat);
        }
        rate[r] = (double)items / seconds;
        if (r == runs / 2) {
            p50 = bench_pct(all, k, 0.50), p99 = bench_pct(all, k, 0.99);
        }
        free(all), free(jobs), free(th);
    }
    store_close(w.log);
    ledger_admission_release(&w.adm);
    free(w.pk), free(w.sk);
    bench_rmdir(dir);
    printf("store: %u miners x %u items: median %.0f items/s accepted with durable commits "
           "(p50 %.2f ms, p99 %.2f ms per request, middle run), %d runs of %.1f s\n",
           miners, batch, bench_median(rate, (size_t)runs), p50, p99, runs, seconds);
    free(rate);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return 1;
    }
    if (argc == 4 && strcmp(argv[1], "verify") == 0) {
        return run_verify(atoi(argv[2]), atof(argv[3]));
    }
    if (argc == 7 && strcmp(argv[1], "store") == 0) {
        return run_store(argv[2], atoi(argv[3]), atof(argv[4]), (unsigned)atoi(argv[5]),
                         (unsigned)atoi(argv[6]));
    }
    fprintf(stderr, "usage: bench_ingest verify RUNS SECONDS\n"
                    "       bench_ingest store DIR RUNS SECONDS MINERS BATCH\n");
    return 2;
}

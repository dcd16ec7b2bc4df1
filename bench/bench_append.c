/* Durable appends: records/s and acknowledgement latency (p50, p99) through the group-commit
 * writer, by records per call (1, 16, 256) and producer threads (1, 8, 64), against raw LMDB
 * MDB_APPEND of the same header and body bytes with the same durability (a synced commit per
 * batch of the size the writer achieved), measured in the same run.
 *   bench_append BASEDIR [runs] [seconds-per-run] [commit_max] */
#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "store/store.h"

#define N_PRE 600000u

static store_input *pre;
static size_t commit_max; /* 0: the store's default */
static uint8_t (*bodies)[256];

/* ODDS_SUBMISSION-shaped records like the simulator's (3 markets, 7 prices), by miner keys that
 * are not the node's; signatures are random bytes because store_append runs with
 * trust_signatures (ingest verifies before the writer, spec §7.3). */
static void prebuild(void)
{
    schema_price prices[3][3];
    schema_entry e[3];
    uint8_t pk[32];

    pre = calloc(N_PRE, sizeof(*pre));
    bodies = malloc((size_t)N_PRE * 256);
    randombytes_buf(pk, 32);
    for (unsigned i = 0; i < N_PRE; i++) {
        schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
        size_t n;
        for (unsigned m = 0; m < 3; m++) {
            unsigned np = m == 0 ? 3 : 2;
            for (unsigned s = 0; s < np; s++) {
                uint64_t odds = 1500000000ull + (uint64_t)((i * 7919u + m * 31u + s) % 2000u) * 1000000ull;
                prices[m][s] = (schema_price){m == 2 ? 4 + s : 1 + s, odds, 1000000000000000000ull / odds};
            }
            e[m] = (schema_entry){.market_id = (uint64_t)i * 10 + m + 1, .kind = m + 1,
                                  .has_priced_at_ms = true, .priced_at_ms = 1767225600000ull + i,
                                  .prices = prices[m], .n_prices = np};
        }
        b.u.odds = (schema_odds){.nonce = 1767225600000000ull + i, .event_id = i + 1,
                                 .markets = e, .n_markets = 3};
        randombytes_buf(b.u.odds.salt, 16);
        if (schema_body_encode(&b, bodies[i], 256, &n) != TALLY_OK ||
            schema_header_init(&b, bodies[i], n, pk, &pre[i].header) != TALLY_OK) {
            abort();
        }
        pk[i % 32] ^= (uint8_t)(i >> 5); /* many miners */
        randombytes_buf(pre[i].header.actor_sig, 64);
        pre[i].header.time_ms = 0; /* the node clock: producers append in any order */
        pre[i].body = bodies[i];
        pre[i].body_len = n;
    }
}

typedef struct run {
    store_log *log;
    unsigned k;
    double stop_at;
    atomic_uint next;
    atomic_ullong done;
    double *lat;
    atomic_size_t n_lat;
    size_t lat_cap;
} run;

static void *producer(void *arg)
{
    run *r = arg;
    uint64_t first;

    while (bench_now() < r->stop_at) {
        unsigned at = atomic_fetch_add(&r->next, r->k);
        double t0;
        if (at + r->k > N_PRE) {
            break;
        }
        t0 = bench_now();
        if (store_append(r->log, pre + at, r->k, &first) != TALLY_OK) {
            fprintf(stderr, "append failed\n");
            exit(1);
        }
        size_t li = atomic_fetch_add(&r->n_lat, 1);
        if (li < r->lat_cap) {
            r->lat[li] = bench_now() - t0;
        }
        atomic_fetch_add(&r->done, r->k);
    }
    return NULL;
}

static bool count_sth(const schema_sth *s, void *arg)
{
    (void)s;
    (*(uint64_t *)arg)++;
    return true;
}

/* One store run: records/s, p50/p99 ack latency (ms), records per commit. */
static void store_run(const char *base, unsigned producers, unsigned k, double secs, double *rate,
                      double *p50, double *p99, double *per_commit)
{
    char *dir = bench_dir(base, "append");
    uint8_t seed[32] = {9};
    store_cfg cfg = {.dir = dir, .create = true, .origin = "bench/1", .key_seed = seed,
                     .trust_signatures = true, .map_size = 8ull << 30,
                     .commit_max = commit_max};
    run r = {.k = k, .lat_cap = 4000000};
    pthread_t *th = calloc(producers, sizeof(*th));
    uint64_t sths = 0, first;
    schema_body g = {.type = SCHEMA_GENESIS};
    uint8_t gb[256];
    store_input gi;
    size_t n;
    double t0, el;

    if (store_open(&cfg, &r.log) != TALLY_OK) {
        abort();
    }
    g.u.genesis = (schema_genesis){.origin = {"bench/1", 7}, .netuid = 1,
                                   .code_version = {"bench", 5},
                                   .chain = {.netuid = 1, .max_weight_limit = 65535}};
    uint8_t pk[32];
    store_node_pubkey(r.log, pk);
    if (schema_body_encode(&g, gb, sizeof(gb), &n) != TALLY_OK ||
        schema_header_init(&g, gb, n, pk, &gi.header) != TALLY_OK ||
        store_node_sign(r.log, &gi.header) != TALLY_OK) {
        abort();
    }
    gi.body = gb, gi.body_len = n;
    if (store_append(r.log, &gi, 1, &first) != TALLY_OK) {
        abort();
    }
    r.lat = malloc(r.lat_cap * sizeof(double));
    t0 = bench_now();
    r.stop_at = t0 + secs;
    for (unsigned i = 0; i < producers; i++) {
        pthread_create(&th[i], NULL, producer, &r);
    }
    for (unsigned i = 0; i < producers; i++) {
        pthread_join(th[i], NULL);
    }
    el = bench_now() - t0;
    if (store_sth_each(r.log, count_sth, &sths) != TALLY_OK) {
        abort();
    }
    *rate = (double)r.done / el;
    size_t nl = r.n_lat < r.lat_cap ? r.n_lat : r.lat_cap;
    *p50 = bench_pct(r.lat, nl, 0.5) * 1e3;
    *p99 = bench_pct(r.lat, nl, 0.99) * 1e3;
    *per_commit = sths > 1 ? (double)r.done / (double)(sths - 1) : (double)r.done;
    store_close(r.log);
    free(r.lat);
    free(th);
    bench_rmdir(dir);
}

/* Raw LMDB: the same header and body bytes, MDB_APPEND into "log" and a put into "bodies", one
 * synced transaction per `batch` records, one thread. */
static double raw_run(const char *base, size_t batch, double secs)
{
    char *dir = bench_dir(base, "raw");
    MDB_env *env;
    MDB_dbi log, bod;
    MDB_txn *txn;
    uint8_t hb[SCHEMA_HEADER_MAX], key[8];
    size_t i = 0, hn;
    double t0 = bench_now(), el;

    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 4);
    mdb_env_set_mapsize(env, 8ull << 30);
    if (mdb_env_open(env, dir, 0, 0600) != 0) {
        abort();
    }
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, "log", MDB_CREATE, &log);
    mdb_dbi_open(txn, "bodies", MDB_CREATE, &bod);
    mdb_txn_commit(txn);
    while (bench_now() - t0 < secs && i + batch <= N_PRE) {
        mdb_txn_begin(env, NULL, 0, &txn);
        for (size_t j = 0; j < batch; j++, i++) {
            MDB_val k = {8, key}, v, bk = {32, pre[i].header.body_hash},
                    bv = {pre[i].body_len, (void *)(uintptr_t)pre[i].body};
            if (schema_header_encode(&pre[i].header, hb, sizeof(hb), &hn) != TALLY_OK) {
                abort();
            }
            for (int b = 0; b < 8; b++) {
                key[b] = (uint8_t)((uint64_t)i >> (56 - 8 * b));
            }
            v.mv_data = hb, v.mv_size = hn;
            if (mdb_put(txn, log, &k, &v, MDB_APPEND) != 0 || mdb_put(txn, bod, &bk, &bv, 0) != 0) {
                abort();
            }
        }
        if (mdb_txn_commit(txn) != 0) {
            abort();
        }
    }
    el = bench_now() - t0;
    mdb_env_close(env);
    bench_rmdir(dir);
    return (double)i / el;
}

int main(int argc, char **argv)
{
    static const unsigned producers[3] = {1, 8, 64}, ks[3] = {1, 16, 256};
    const char *base = argc > 1 ? argv[1] : "bench-data";
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    double secs = argc > 3 ? atof(argv[3]) : 1.0;

    commit_max = argc > 4 ? (size_t)atol(argv[4]) : 0;

    if (sodium_init() < 0 || runs < 1 || runs > 50) {
        return 1;
    }
    bench_machine(stdout);
    prebuild();
    printf("durable appends: median of %d runs of %.1f s each; ODDS_SUBMISSION-shaped records "
           "(%zu-byte bodies); writer commit_max %zu; baseline = raw LMDB, same bytes, same "
           "batch, synced commits\n\n",
           runs, secs, pre[0].body_len, commit_max ? commit_max : (size_t)STORE_COMMIT_MAX);
    printf("| producers | records/call | appends/s | p50 ack ms | p99 ack ms | records/commit "
           "| raw LMDB appends/s | ratio |\n|---|---|---|---|---|---|---|---|\n");
    for (int pi = 0; pi < 3; pi++) {
        for (int ki = 0; ki < 3; ki++) {
            double rate[50], p50[50], p99[50], pc[50], raw[50];
            for (int r = 0; r < runs; r++) {
                store_run(base, producers[pi], ks[ki], secs, &rate[r], &p50[r], &p99[r], &pc[r]);
                raw[r] = raw_run(base, (size_t)(pc[r] + 0.5) ? (size_t)(pc[r] + 0.5) : 1, secs);
            }
            double mr = bench_median(rate, (size_t)runs), mraw = bench_median(raw, (size_t)runs);
            printf("| %u | %u | %.0f | %.2f | %.2f | %.0f | %.0f | %.2f |\n", producers[pi],
                   ks[ki], mr, bench_median(p50, (size_t)runs), bench_median(p99, (size_t)runs),
                   bench_median(pc, (size_t)runs), mraw, mr / mraw);
            fflush(stdout);
        }
    }
    return 0;
}

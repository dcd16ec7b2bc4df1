/* The tile benchmark's load (bench/tiles.sh): one measurement point against a server already
 * running on 127.0.0.1, `tally serve` (/log/tile/...) or nginx serving the export of the same log
 * (/tile/...), over keep-alive connections of client/client.h. CONNS threads, one connection
 * each, ask full hash tiles of level 0 (`tile`, 8 KiB) or full entry bundles (`entries`)
 * round-robin (connection i starts at tile i × n / CONNS) for SECONDS, or until REQUESTS_MAX
 * requests in all, checking each answer (200, 8,192 bytes for a tile, at least 512 for a
 * bundle) and recording its latency (send to last body byte). Prints one line:
 * "requests/s p50_ms p99_ms failed ok"; exits 1 when any request failed.
 * usage: bench_tiles tally|nginx PORT tile|entries CONNS SECONDS FULL_TILES */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"
#include "client/client.h"
#include "store/store.h"

#define CONNS_MAX 64
#define LAT_MAX (4u * 1024u * 1024u) /* latencies kept per thread (the rest are only counted) */
/* Requests of one point, over all connections: below the largest per-minute global window a
 * tally listener can be given (65,535), which applies to loopback too. */
#define REQUESTS_MAX 60000u

enum { S_TALLY = 0, S_NGINX = 1 };
enum { K_TILE = 0, K_ENTRIES = 1 };
static const char *const server_names[2] = {"tally", "nginx"};

typedef struct load {
    atomic_uint *sent;
    uint16_t port;
    const char *prefix; /* "/log" for tally, "" for nginx */
    unsigned kind;
    uint64_t n_tiles, start;
    double until;
    /* results */
    uint64_t ok, bad, bytes;
    double *lat;
    size_t n_lat;
    char err[256];
} load;

static void *load_main(void *arg)
{
    load *l = arg;
    client_cfg cfg = {.host = "127.0.0.1", .port = l->port, .io_timeout_ms = 10000};
    client_conn *c = NULL;
    uint64_t i = l->start;

    if (client_open(&cfg, &c) != TALLY_OK) {
        snprintf(l->err, sizeof(l->err), "client_open failed");
        return NULL;
    }
    for (;;) {
        char path[32], target[96];
        client_request rq = {.method = "GET", .target = target};
        client_response *r = NULL;
        double t0 = bench_now(), t1;
        tally_status st;

        if (t0 >= l->until || atomic_fetch_add(l->sent, 1) >= REQUESTS_MAX) {
            break;
        }
        store_tile_path(i % l->n_tiles, path);
        snprintf(target, sizeof(target), "%s/tile/%s%s", l->prefix,
                 l->kind == K_TILE ? "0/" : "entries/", path);
        st = client_do(c, &rq, &r);
        t1 = bench_now();
        if (st != TALLY_OK) {
            l->bad++;
            snprintf(l->err, sizeof(l->err), "%s: %s", target, client_error(c));
            continue;
        }
        /* a full hash tile is 256 hashes; a bundle is at least 256 length prefixes */
        if (client_response_status(r) != 200 ||
            (l->kind == K_TILE ? client_response_body(r).n != 8192
                               : client_response_body(r).n < 512)) {
            l->bad++;
            snprintf(l->err, sizeof(l->err), "%s: status %u, %zu bytes", target,
                     client_response_status(r), client_response_body(r).n);
        } else {
            l->ok++;
            l->bytes += client_response_body(r).n;
            if (l->n_lat < LAT_MAX) {
                l->lat[l->n_lat++] = t1 - t0;
            }
        }
        client_response_free(r);
        i++;
    }
    client_close(c);
    return NULL;
}

typedef struct point {
    double rps, p50_ms, p99_ms;
    uint64_t ok, bad;
} point;

/* One measurement: conns threads on one server and kind for secs seconds. */
static point measure(uint16_t port, unsigned server, unsigned kind, uint64_t n_tiles,
                     unsigned conns, double secs)
{
    load l[CONNS_MAX];
    pthread_t th[CONNS_MAX];
    double t0, elapsed, *all;
    size_t n_all = 0;
    uint64_t ok = 0, bad = 0;
    atomic_uint sent = 0;
    point p;

    memset(l, 0, sizeof(l));
    t0 = bench_now();
    for (unsigned i = 0; i < conns; i++) {
        l[i] = (load){.sent = &sent,
                      .port = port,
                      .prefix = server == S_TALLY ? "/log" : "",
                      .kind = kind,
                      .n_tiles = n_tiles,
                      .start = i * n_tiles / conns,
                      .until = t0 + secs,
                      .lat = malloc(LAT_MAX * sizeof(double))};
        if (l[i].lat == NULL || pthread_create(&th[i], NULL, load_main, &l[i]) != 0) {
            fprintf(stderr, "cannot start a load thread\n");
            exit(1);
        }
    }
    for (unsigned i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        ok += l[i].ok, bad += l[i].bad, n_all += l[i].n_lat;
        if (l[i].bad != 0) {
            fprintf(stderr, "%s: %" PRIu64 " failed requests, last: %s\n", server_names[server],
                    l[i].bad, l[i].err);
        }
    }
    elapsed = bench_now() - t0;
    all = malloc((n_all ? n_all : 1) * sizeof(double));
    n_all = 0;
    for (unsigned i = 0; i < conns; i++) {
        memcpy(all + n_all, l[i].lat, l[i].n_lat * sizeof(double));
        n_all += l[i].n_lat;
        free(l[i].lat);
    }
    p.rps = (double)ok / elapsed;
    p.p99_ms = bench_pct(all, n_all, 0.99) * 1e3;
    p.p50_ms = bench_pct(all, n_all, 0.50) * 1e3;
    p.ok = ok, p.bad = bad;
    free(all);
    return p;
}

int main(int argc, char **argv)
{
    unsigned server, kind, conns;
    uint16_t port;
    uint64_t n_tiles;
    double secs;
    point p;

    if (argc != 7) {
        fprintf(stderr, "usage: bench_tiles tally|nginx PORT tile|entries CONNS SECONDS "
                        "FULL_TILES\n");
        return 2;
    }
    server = strcmp(argv[1], "tally") == 0 ? S_TALLY : S_NGINX;
    port = (uint16_t)strtoul(argv[2], NULL, 10);
    kind = strcmp(argv[3], "tile") == 0 ? K_TILE : K_ENTRIES;
    conns = (unsigned)strtoul(argv[4], NULL, 10);
    secs = strtod(argv[5], NULL);
    n_tiles = strtoull(argv[6], NULL, 10);
    if (port == 0 || conns < 1 || conns > CONNS_MAX || !(secs > 0 && secs <= 60) || n_tiles == 0) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    p = measure(port, server, kind, n_tiles, conns, secs);
    printf("%.0f %.3f %.3f %" PRIu64 " %" PRIu64 "\n", p.rps, p.p50_ms, p.p99_ms, p.bad, p.ok);
    return p.bad != 0;
}

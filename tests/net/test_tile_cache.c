/* The cache of full tiles and bundles (net/tile_cache_int.h): its bound, eviction, references
 * and zstd variant; then over HTTP against a real `tally serve`, every full hash tile, entry
 * bundle and body bundle served from the cache (first and later requests, identity and zstd) is
 * byte for byte what the store exports (store_export, built afresh), and compressed exactly as a
 * fresh response is; a partial bundle served before the log grows past it keeps its bytes and is
 * a prefix of the full one served after. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include "net/ledger.h"
#include "net/tile_cache_int.h"
#include "store/store.h"

static uint8_t *bytes_of(size_t n, uint8_t fill)
{
    uint8_t *p = malloc(n);
    assert_non_null(p);
    memset(p, fill, n);
    return p;
}

static void test_cache_bound_and_eviction(void **state)
{
    net__tcache *c = NULL;
    net__tcache_stats s;
    size_t n;
    (void)state;

    assert_int_equal(net__tcache_new(0, &c), TALLY_OK); /* off */
    assert_null(c);
    assert_null(net__tcache_put(NULL, 1, 0, 0, bytes_of(10, 1), 10));
    assert_null(net__tcache_get(NULL, 1, 0, 0));

    assert_int_equal(net__tcache_new(10000, &c), TALLY_OK);
    net__tent *a = net__tcache_put(c, 1, 0, 7, bytes_of(4000, 0xa), 4000);
    assert_non_null(a);
    assert_int_equal(net__tent_body(a, &n)[0], 0xa);
    assert_int_equal(n, 4000);
    /* the same key again: the first body is kept, the second freed */
    net__tent *a2 = net__tcache_put(c, 1, 0, 7, bytes_of(4000, 0xb), 4000);
    assert_ptr_equal(a, a2);
    assert_int_equal(net__tent_body(a2, &n)[0], 0xa);
    net__tcache_release(c, a2);
    /* keys differ by kind, level and index */
    net__tent *b = net__tcache_put(c, 2, 0, 7, bytes_of(4000, 0xc), 4000);
    assert_non_null(b);
    net__tcache_release(c, b);
    assert_null(net__tcache_get(c, 1, 1, 7));
    assert_null(net__tcache_get(c, 1, 0, 8));
    /* a third body passes the cap: the least recently used (a, still referenced) goes, and its
       bytes stay readable until its release */
    net__tent *d = net__tcache_put(c, 0, 3, 7, bytes_of(4000, 0xd), 4000);
    assert_non_null(d);
    net__tcache_release(c, d);
    assert_null(net__tcache_get(c, 1, 0, 7));
    assert_int_equal(net__tent_body(a, &n)[3999], 0xa);
    net__tcache_release(c, a);
    net__tcache_stats_get(c, &s);
    assert_int_equal(s.entries, 2);
    assert_int_equal(s.bytes, 8000);
    assert_true(s.bytes <= s.cap);
    assert_int_equal(s.evictions, 1);
    /* a body over the cap is not kept */
    assert_null(net__tcache_put(c, 1, 0, 9, bytes_of(10001, 1), 10001));
    /* a hit moves an entry to the front: b is used, then a new one evicts d */
    net__tent *g = net__tcache_get(c, 2, 0, 7);
    assert_non_null(g);
    net__tcache_release(c, g);
    net__tcache_release(c, net__tcache_put(c, 1, 0, 10, bytes_of(4000, 0xe), 4000));
    assert_null(net__tcache_get(c, 0, 3, 7));
    g = net__tcache_get(c, 2, 0, 7);
    assert_non_null(g);
    /* the zstd variant: made once per level, counted against the cap */
    const uint8_t *z;
    size_t zn;
    assert_false(net__tent_zstd(c, g, 3, &z, &zn));
    net__tent_set_zstd(c, g, 3, bytes_of(100, 0x5), 100);
    net__tent_set_zstd(c, g, 3, bytes_of(50, 0x6), 50); /* a second one is dropped */
    assert_true(net__tent_zstd(c, g, 3, &z, &zn));
    assert_int_equal(zn, 100);
    assert_int_equal(z[0], 0x5);
    assert_false(net__tent_zstd(c, g, 5, &z, &zn));
    net__tcache_stats_get(c, &s);
    assert_int_equal(s.bytes, 8100);
    net__tcache_release(c, g);
    net__tent *h = net__tcache_put(c, 1, 0, 11, bytes_of(9000, 0xf), 9000);
    assert_non_null(h);
    net__tent_set_zstd(c, h, 3, NULL, 0); /* incompressible: the identity body is sent */
    assert_true(net__tent_zstd(c, h, 3, &z, &zn));
    assert_null(z);
    net__tcache_release(c, h);
    net__tcache_stats_get(c, &s);
    assert_true(s.bytes <= s.cap);
    assert_int_equal(s.entries, 1);
    net__tcache_free(c);
}

/* ---- over HTTP ---- */

static const char *const env[] = {
    "TALLY_SHUTDOWN_GRACE_S=1",        "TALLY_RATE_IP_PER_S=30000",
    "TALLY_RATE_IP_PER_MIN=65535",     "TALLY_RATE_GLOBAL_PER_S=30000",
    "TALLY_RATE_GLOBAL_PER_MIN=65535", NULL};

typedef struct got {
    uint8_t *p;
    size_t n;
    bool zstd;
} got;

/* One GET on its own connection, read raw (the test client would decode a zstd body). */
static got fetch(tn_node *n, const char *path, bool zstd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(n->port[TN_LEDGER])};
    char req[512];
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    got g = {0};

    assert_non_null(buf);
    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int k = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n",
                     path, zstd ? "Accept-Encoding: zstd\r\n" : "");
    assert_int_equal(write(fd, req, (size_t)k), k);
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - len);
        assert_true(r >= 0);
        if (r == 0) {
            break;
        }
        len += (size_t)r;
        assert_true(len < cap);
    }
    close(fd);
    buf[len] = 0;
    char *end = strstr((char *)buf, "\r\n\r\n");
    assert_non_null(end);
    *end = '\0';
    if (strncmp((char *)buf, "HTTP/1.1 200 ", 13) != 0) {
        fail_msg("GET %s: %s", path, (char *)buf);
    }
    assert_non_null(strstr((char *)buf, "\r\nContent-Type: application/octet-stream\r\n"));
    assert_non_null(
        strstr((char *)buf, "\r\nCache-Control: public, max-age=31536000, immutable\r\n"));
    assert_non_null(strstr((char *)buf, "\r\nVary: Accept, Accept-Encoding\r\n"));
    g.zstd = strstr((char *)buf, "\r\nContent-Encoding: zstd\r\n") != NULL;
    const char *cl = strstr((char *)buf, "\r\nContent-Length: ");
    assert_non_null(cl);
    size_t body_at = (size_t)(end + 4 - (char *)buf);
    g.n = len - body_at;
    assert_int_equal(strtoull(cl + 18, NULL, 10), g.n);
    g.p = malloc(g.n + 1);
    assert_non_null(g.p);
    memcpy(g.p, buf + body_at, g.n);
    free(buf);
    return g;
}

static uint8_t *read_all(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long len;

    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)len + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n_out = (size_t)len;
    return p;
}

/* The log's tiles and bundles as store_export writes them now, into dir; the size exported. */
static uint64_t export_now(tn_node *n, const char *dir)
{
    store_cfg cfg = {.dir = n->dir, .read_only = true};
    store_log *log;
    store_export_stats es;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_export(log, dir, true, NULL, NULL, &es), TALLY_OK);
    store_close(log);
    return es.size;
}

/* path served twice in each encoding (the first request of a full one fills the cache) equals
 * the exported file, and its zstd form is what a fresh response compresses it to. */
static void check_path(tn_node *n, const char *exp_dir, const char *path)
{
    char file[1024];
    size_t want_n, zn;
    uint8_t *want, *z;

    snprintf(file, sizeof(file), "%s/%s", exp_dir, path + strlen("/log/"));
    want = read_all(file, &want_n);
    z = malloc(ZSTD_compressBound(want_n));
    assert_non_null(z);
    zn = ZSTD_compress(z, ZSTD_compressBound(want_n), want, want_n, 3);
    assert_false(ZSTD_isError(zn));
    bool shrinks = want_n >= 1024 && zn < want_n;
    for (int rep = 0; rep < 2; rep++) {
        got g = fetch(n, path, false);
        assert_false(g.zstd);
        assert_int_equal(g.n, want_n);
        assert_memory_equal(g.p, want, want_n);
        free(g.p);
        g = fetch(n, path, true);
        assert_int_equal(g.zstd, shrinks);
        if (shrinks) {
            assert_int_equal(g.n, zn);
            assert_memory_equal(g.p, z, zn);
        } else {
            assert_int_equal(g.n, want_n);
            assert_memory_equal(g.p, want, want_n);
        }
        free(g.p);
    }
    free(z);
    free(want);
}

static void grow_past(tn_node *n, const tn_miner *m, uint64_t size, uint64_t *block,
                      uint64_t *next_id)
{
    uint64_t ids[60];

    while (tn_size(n) <= size) {
        for (int i = 0; i < 60; i++) {
            ids[i] = (*next_id)++;
        }
        tn_feed(n, m, 3, (*block)++, ids, 60, tn_now() + CS_DAY);
    }
}

static void test_served_equals_fresh(void **state)
{
    static const char *const kinds[] = {"/log/tile/0/", "/log/tile/entries/", "/log/bodies/"};
    tn_node n;
    tn_miner m[3];
    char exp_dir[700], path[128];
    got before[3];
    uint64_t block = 100, next_id = 8001, s1, s2;
    (void)state;

    tn_init(&n, "tile_cache");
    snprintf(exp_dir, sizeof(exp_dir), "%s/export", n.tmp);
    cs_start(&n, env);
    for (int i = 0; i < 3; i++) {
        tn_miner_init(&m[i], (uint8_t)(61 + i));
    }
    grow_past(&n, m, 100, &block, &next_id);
    s1 = tn_size(&n);
    assert_true(s1 < 256);
    /* partial bundles and tiles before the log grows past them */
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof(path), "%s000.p/%u", kinds[k], (unsigned)s1);
        before[k] = fetch(&n, path, false);
    }
    grow_past(&n, m, 600, &block, &next_id);
    s2 = tn_size(&n);
    /* the right edge now, built afresh on each request and never cached */
    snprintf(path, sizeof(path), "%s002.p/%u", kinds[1], (unsigned)(s2 - 512));
    got edge = fetch(&n, path, false);
    grow_past(&n, m, 800, &block, &next_id);
    uint64_t s3 = export_now(&n, exp_dir);
    for (int k = 0; k < 3; k++) {
        for (int idx = 0; idx < 3; idx++) {
            snprintf(path, sizeof(path), "%s%03d", kinds[k], idx);
            check_path(&n, exp_dir, path);
        }
        /* the partial served before: the same bytes now, a prefix of the full one */
        snprintf(path, sizeof(path), "%s000.p/%u", kinds[k], (unsigned)s1);
        got again = fetch(&n, path, false);
        assert_int_equal(again.n, before[k].n);
        assert_memory_equal(again.p, before[k].p, before[k].n);
        snprintf(path, sizeof(path), "%s000", kinds[k]);
        got full = fetch(&n, path, false);
        assert_true(full.n > before[k].n);
        assert_memory_equal(full.p, before[k].p, before[k].n);
        free(again.p);
        free(full.p);
        free(before[k].p);
    }
    /* the edge partial of 600 records is a prefix of full bundle 2 of 800 */
    snprintf(path, sizeof(path), "%s002", kinds[1]);
    got full2 = fetch(&n, path, false);
    assert_true(full2.n > edge.n);
    assert_memory_equal(full2.p, edge.p, edge.n);
    free(full2.p);
    free(edge.p);
    /* the partials at the right edge now, against the export */
    if (s3 % 256 != 0) {
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof(path), "%s%03u.p/%u", kinds[k], (unsigned)(s3 / 256),
                     (unsigned)(s3 % 256));
            check_path(&n, exp_dir, path);
        }
    }
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_bound_and_eviction),
        cmocka_unit_test(test_served_equals_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

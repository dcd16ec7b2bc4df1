/* The configuration through ops/ops.h: precedence (flag > environment > file > default), every
 * kind's good and bad values with errors naming the key and source, unknown keys from each
 * source, the config file's syntax, reload, required keys, the cross-key rules, and
 * docs/configuration.md kept equal to the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "util/testutil.h"

#define NOFILE "/nonexistent/tally-test/tally.env"

static char err[1024];

/* Writes text to DIR/name and returns the path (static lifetime until the next call). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
    static char path[600];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return path;
}

/* Loads with the default file absent unless a list names one. */
static tally_status load(const char *const *flags, const char *const *env, ops_config **out)
{
    ops_config_src src = {.overrides = flags, .env = env, .default_file = NOFILE};
    tally_status st = ops_config_load(&src, out, err, sizeof(err));
    if (st == TALLY_OK) {
        assert_non_null(*out);
    } else {
        assert_null(*out); /* fail closed */
    }
    return st;
}

/* One environment variable alone; returns the status and leaves the message in err. */
static tally_status load_one(const char *kv, ops_config **out)
{
    const char *env[] = {kv, NULL};
    return load(NULL, env, out);
}

static void test_table(void **state)
{
    ops_config *cfg;
    (void)state;

    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        const ops_keydef *d = ops_config_def(i);
        assert_int_equal(strncmp(d->name, "TALLY_", 6), 0);
        assert_int_equal(ops_config_find(d->name, strlen(d->name)), (int)i);
        assert_true(d->help != NULL && strlen(d->help) > 10);
        assert_true(d->roles != 0);
        /* §9.4: listen addresses and paths never change on reload */
        if (d->kind == OPS_KIND_LISTEN || d->kind == OPS_KIND_PATH) {
            assert_false(d->reload);
        }
        if (d->kind == OPS_KIND_UINT) {
            assert_true(d->min <= d->max);
        }
    }
    assert_int_equal(ops_config_find("TALLY_NOPE", 10), -1);
    assert_int_equal(ops_config_find("TALLY_DATA_DI", 13), -1);
    /* every default parses: a load with no source at all */
    assert_int_equal(load(NULL, NULL, &cfg), TALLY_OK);
    assert_null(ops_config_file(cfg));
    /* §9.4's defaults, verbatim */
    assert_string_equal(ops_config_str(cfg, OPS_K_DATA_DIR), "/var/lib/tally");
    assert_string_equal(ops_config_str(cfg, OPS_K_KEY_FILE), "/etc/tally/node.key");
    assert_string_equal(ops_config_str(cfg, OPS_K_ADMIN_TOKEN_FILE), "/etc/tally/admin.token");
    assert_string_equal(ops_config_str(cfg, OPS_K_INGEST_LISTEN), "0.0.0.0:8093");
    assert_string_equal(ops_config_str(cfg, OPS_K_LEDGER_LISTEN), "0.0.0.0:8200");
    assert_string_equal(ops_config_str(cfg, OPS_K_OPS_LISTEN), "127.0.0.1:8290");
    assert_int_equal(ops_config_u64(cfg, OPS_K_HTTP_THREADS), 4);
    assert_int_equal(ops_config_u64(cfg, OPS_K_MAX_CONNECTIONS), 4096);
    assert_int_equal(ops_config_u64(cfg, OPS_K_LMDB_MAP_SIZE), 68719476736ull);
    assert_int_equal(ops_config_u64(cfg, OPS_K_COMMIT_WINDOW_MS), 2);
    assert_string_equal(ops_config_str(cfg, OPS_K_TRUSTED_PROXIES), "");
    assert_string_equal(ops_config_str(cfg, OPS_K_ABUSE_EXEMPT), "127.0.0.0/8,::1/128");
    assert_int_equal(ops_config_u64(cfg, OPS_K_RATE_GLOBAL_PER_MIN), 5000);
    assert_int_equal(ops_config_u64(cfg, OPS_K_COOLDOWN_IP_DISTINCT_KEYS), 5);
    assert_true(ops_config_bool(cfg, OPS_K_PROBE_BAN));
    assert_int_equal(ops_config_u64(cfg, OPS_K_CYCLE_INTERVAL_S), 21600);
    assert_int_equal(ops_config_u64(cfg, OPS_K_ZSTD_LEVEL), 3);
    assert_int_equal(ops_config_u64(cfg, OPS_K_LOG_LEVEL), OPS_INFO);
    assert_true(ops_config_bool(cfg, OPS_K_LOG_ACCESS));
    assert_string_equal(ops_config_str(cfg, OPS_K_AUDIT_PRIMARY_URL), "");
    assert_string_equal(ops_config_str(cfg, OPS_K_AUDIT_DATA_DIR), "/var/lib/tally-audit");
    assert_int_equal(ops_config_u64(cfg, OPS_K_AUDIT_MAX_RECOMPUTE_WEEK), 3);
    assert_string_equal(ops_config_str(cfg, OPS_K_AUDIT_BOOTSTRAP), "genesis");
    assert_string_equal(ops_config_str(cfg, OPS_K_CLOCK), "system");
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        assert_int_equal(ops_config_source(cfg, i), OPS_SRC_DEFAULT);
    }
    ops_config_free(cfg);
    ops_config_free(NULL);
}

static void test_precedence(void **state)
{
    const char *dir = tu_tmpdir("cfg-prec");
    const char *path = write_file(dir, "tally.env",
                                  "TALLY_HTTP_THREADS=2\nTALLY_ZSTD_LEVEL=5\n"
                                  "TALLY_RATE_KEY_PER_S=3\n");
    char flagc[700];
    const char *flags[] = {"TALLY_HTTP_THREADS=8", flagc, NULL};
    const char *env[] = {"HOME=/root", "TALLY_HTTP_THREADS=3", "TALLY_ZSTD_LEVEL=6", NULL};
    ops_config *cfg;
    (void)state;

    snprintf(flagc, sizeof(flagc), "TALLY_CONFIG=%s", path);
    assert_int_equal(load(flags, env, &cfg), TALLY_OK);
    assert_string_equal(ops_config_file(cfg), path);
    assert_int_equal(ops_config_u64(cfg, OPS_K_HTTP_THREADS), 8);
    assert_int_equal(ops_config_source(cfg, OPS_K_HTTP_THREADS), OPS_SRC_FLAG);
    assert_int_equal(ops_config_u64(cfg, OPS_K_ZSTD_LEVEL), 6);
    assert_int_equal(ops_config_source(cfg, OPS_K_ZSTD_LEVEL), OPS_SRC_ENV);
    assert_int_equal(ops_config_u64(cfg, OPS_K_RATE_KEY_PER_S), 3);
    assert_int_equal(ops_config_source(cfg, OPS_K_RATE_KEY_PER_S), OPS_SRC_FILE);
    assert_int_equal(ops_config_u64(cfg, OPS_K_RATE_IP_PER_S), 50);
    assert_int_equal(ops_config_source(cfg, OPS_K_RATE_IP_PER_S), OPS_SRC_DEFAULT);
    ops_config_free(cfg);

    /* TALLY_CONFIG from the environment names the file too; the flag wins over it */
    snprintf(flagc, sizeof(flagc), "TALLY_CONFIG=%s", path);
    {
        const char *env2[] = {flagc, NULL};
        const char *flags2[] = {"TALLY_CONFIG=/nonexistent/other.env", NULL};
        assert_int_equal(load(NULL, env2, &cfg), TALLY_OK);
        assert_int_equal(ops_config_u64(cfg, OPS_K_ZSTD_LEVEL), 5);
        ops_config_free(cfg);
        assert_int_equal(load(flags2, env2, &cfg), TALLY_ENOTFOUND);
        assert_non_null(strstr(err, "/nonexistent/other.env"));
    }
    /* the default file is read when nothing names one */
    {
        ops_config_src src = {.default_file = path};
        assert_int_equal(ops_config_load(&src, &cfg, err, sizeof(err)), TALLY_OK);
        assert_int_equal(ops_config_u64(cfg, OPS_K_HTTP_THREADS), 2);
        ops_config_free(cfg);
    }
    /* a bad value is refused even where a higher source overrides it */
    path = write_file(dir, "bad.env", "TALLY_HTTP_THREADS=0\n");
    snprintf(flagc, sizeof(flagc), "TALLY_CONFIG=%s", path);
    assert_int_equal(load(flags, NULL, &cfg), TALLY_EINVAL);
    assert_non_null(strstr(err, "TALLY_HTTP_THREADS=0: must be 1..64"));
    assert_non_null(strstr(err, "bad.env:1"));
    tu_rmdir(dir);
}

typedef struct kcase {
    const char *kv;    /* environment entry */
    const char *error; /* NULL: accepted; else the whole message */
} kcase;

static const kcase kcases[] = {
    {"TALLY_HTTP_THREADS=64", NULL},
    {"TALLY_HTTP_THREADS=0", "TALLY_HTTP_THREADS=0: must be 1..64 (environment)"},
    {"TALLY_HTTP_THREADS=65", "TALLY_HTTP_THREADS=65: must be 1..64 (environment)"},
    {"TALLY_HTTP_THREADS=04", "TALLY_HTTP_THREADS=04: must be a whole number 1..64 (environment)"},
    {"TALLY_HTTP_THREADS=+4", "TALLY_HTTP_THREADS=+4: must be a whole number 1..64 (environment)"},
    {"TALLY_HTTP_THREADS=4x", "TALLY_HTTP_THREADS=4x: must be a whole number 1..64 (environment)"},
    {"TALLY_HTTP_THREADS=", "TALLY_HTTP_THREADS=: must not be empty (environment)"},
    {"TALLY_LMDB_MAP_SIZE=18446744073709551616",
     "TALLY_LMDB_MAP_SIZE=18446744073709551616: must be a whole number "
     "1048576..17592186044416 (environment)"},
    {"TALLY_COMMIT_WINDOW_MS=0", NULL},
    {"TALLY_PROBE_BAN=0", NULL},
    {"TALLY_PROBE_BAN=2", "TALLY_PROBE_BAN=2: must be 0 or 1 (environment)"},
    {"TALLY_PROBE_BAN=true", "TALLY_PROBE_BAN=true: must be 0 or 1 (environment)"},
    {"TALLY_LOG_LEVEL=debug", NULL},
    {"TALLY_LOG_LEVEL=verbose",
     "TALLY_LOG_LEVEL=verbose: must be one of debug, info, warn, error (environment)"},
    {"TALLY_LOG_LEVEL=INFO",
     "TALLY_LOG_LEVEL=INFO: must be one of debug, info, warn, error (environment)"},
    {"TALLY_AUDIT_BOOTSTRAP=checkpoint", NULL},
    {"TALLY_CLOCK=manual", NULL},
    {"TALLY_CLOCK=fake", "TALLY_CLOCK=fake: must be one of system, manual (environment)"},
    {"TALLY_INGEST_LISTEN=0.0.0.0:8093", NULL},
    {"TALLY_INGEST_LISTEN=[::1]:80", NULL},
    {"TALLY_INGEST_LISTEN=[::]:8093", NULL},
    {"TALLY_INGEST_LISTEN=localhost:0", NULL},
    {"TALLY_INGEST_LISTEN=::1:80",
     "TALLY_INGEST_LISTEN=::1:80: '::1' is not an IPv4 address (use a.b.c.d, [v6] or localhost) "
     "(environment)"},
    {"TALLY_INGEST_LISTEN=example.com:80",
     "TALLY_INGEST_LISTEN=example.com:80: 'example.com' is not an IPv4 address (use a.b.c.d, "
     "[v6] or localhost) (environment)"},
    {"TALLY_INGEST_LISTEN=1.2.3.4", "TALLY_INGEST_LISTEN=1.2.3.4: missing :port (environment)"},
    {"TALLY_INGEST_LISTEN=1.2.3.4:65536",
     "TALLY_INGEST_LISTEN=1.2.3.4:65536: '65536' is not a port 0..65535 (environment)"},
    {"TALLY_INGEST_LISTEN=1.2.3.4:080",
     "TALLY_INGEST_LISTEN=1.2.3.4:080: '080' is not a port 0..65535 (environment)"},
    {"TALLY_INGEST_LISTEN=01.2.3.4:80",
     "TALLY_INGEST_LISTEN=01.2.3.4:80: '01.2.3.4' is not an IPv4 address (use a.b.c.d, [v6] or "
     "localhost) (environment)"},
    {"TALLY_INGEST_LISTEN=[::1]80",
     "TALLY_INGEST_LISTEN=[::1]80: an IPv6 address needs the form [addr]:port (environment)"},
    {"TALLY_INGEST_LISTEN=[1.2.3.4]:80",
     "TALLY_INGEST_LISTEN=[1.2.3.4]:80: '1.2.3.4' is not an IPv6 address (environment)"},
    {"TALLY_TRUSTED_PROXIES=", NULL},
    {"TALLY_TRUSTED_PROXIES=10.0.0.0/8", NULL},
    {"TALLY_TRUSTED_PROXIES=10.0.0.0/8,2001:db8::/32,192.0.2.7/32,0.0.0.0/0", NULL},
    {"TALLY_TRUSTED_PROXIES=10.0.0.1/8",
     "TALLY_TRUSTED_PROXIES=10.0.0.1/8: '10.0.0.1/8' has host bits set below the /8 prefix "
     "(environment)"},
    {"TALLY_TRUSTED_PROXIES=10.0.0.0/33",
     "TALLY_TRUSTED_PROXIES=10.0.0.0/33: '10.0.0.0/33': prefix length must be 0..32 "
     "(environment)"},
    {"TALLY_TRUSTED_PROXIES=10.0.0.0/08",
     "TALLY_TRUSTED_PROXIES=10.0.0.0/08: '10.0.0.0/08': prefix length must be 0..32 "
     "(environment)"},
    {"TALLY_TRUSTED_PROXIES=10.0.0.0",
     "TALLY_TRUSTED_PROXIES=10.0.0.0: '10.0.0.0' has no /prefix-length (environment)"},
    {"TALLY_TRUSTED_PROXIES=10.0.0.0/8,",
     "TALLY_TRUSTED_PROXIES=10.0.0.0/8,: empty item in the list (environment)"},
    {"TALLY_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.0/16",
     "TALLY_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.0/16: ' 192.168.0.0' is not an IPv4 or IPv6 "
     "address (environment)"},
    {"TALLY_ABUSE_EXEMPT=::1/129",
     "TALLY_ABUSE_EXEMPT=::1/129: '::1/129': prefix length must be 0..128 (environment)"},
    {"TALLY_DATA_DIR=/srv/tally data", NULL},
    {"TALLY_DATA_DIR=data", "TALLY_DATA_DIR=data: must be an absolute path (environment)"},
    {"TALLY_DATA_DIR=/x\x01y", "TALLY_DATA_DIR=/x\x01y: must be an absolute path (environment)"},
    {"TALLY_DATA_DIR=", "TALLY_DATA_DIR=: must not be empty (environment)"},
    {"TALLY_AUDIT_PRIMARY_URL=https://node.example:8200/", NULL},
    {"TALLY_AUDIT_PRIMARY_URL=http://10.0.0.2:8200", NULL},
    {"TALLY_AUDIT_PRIMARY_URL=", NULL},
    {"TALLY_AUDIT_PRIMARY_URL=ftp://x",
     "TALLY_AUDIT_PRIMARY_URL=ftp://x: must be an http:// or https:// URL with a host "
     "(environment)"},
    {"TALLY_AUDIT_PRIMARY_URL=http://",
     "TALLY_AUDIT_PRIMARY_URL=http://: must be an http:// or https:// URL with a host "
     "(environment)"},
    {"TALLY_AUDIT_PRIMARY_URL=http://a b",
     "TALLY_AUDIT_PRIMARY_URL=http://a b: must be an http:// or https:// URL with a host "
     "(environment)"},
    {"TALLY_AUDIT_PRIMARY_KEY=3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
     NULL},
    {"TALLY_AUDIT_PRIMARY_KEY=3B6A27BCCEB6A42D62A3A8D02A6F0D73653215771DE243A63AC048A18B59DA29",
     "TALLY_AUDIT_PRIMARY_KEY=3B6A27BCCEB6A42D62A3A8D02A6F0D73653215771DE243A63AC048A18B59DA29: "
     "must be a verifier key (`tally key`) or 64 lower-case hex digits (environment)"},
    {"TALLY_AUDIT_PRIMARY_KEY=3b6a", "TALLY_AUDIT_PRIMARY_KEY=3b6a: must be a verifier key "
                                     "(`tally key`) or 64 lower-case hex digits (environment)"},
    {"TALLY_AUDIT_PRIMARY_KEY=tally.local/1+5d1e6a2b+AQ4+dGVzdA==", NULL},
    {"TALLY_AUDIT_PRIMARY_KEY=tally.local/1+5D1E6A2B+AQ4+dGVzdA==",
     "TALLY_AUDIT_PRIMARY_KEY=tally.local/1+5D1E6A2B+AQ4+dGVzdA==: must be a verifier key "
     "(`tally key`) or 64 lower-case hex digits (environment)"},
    {"TALLY_AUDIT_PRIMARY_KEY=tally.local/1+5d1e6a2b+",
     "TALLY_AUDIT_PRIMARY_KEY=tally.local/1+5d1e6a2b+: must be a verifier key (`tally key`) or "
     "64 lower-case hex digits (environment)"},
    {"TALLY_AUDIT_ORIGIN=tally.example/1", NULL},
    {"TALLY_AUDIT_ORIGIN=caf\xc3\xa9/1", NULL},
    {"TALLY_AUDIT_ORIGIN=a\tb",
     "TALLY_AUDIT_ORIGIN=a\tb: must be UTF-8 text without control characters (environment)"},
    {"TALLY_AUDIT_ORIGIN=\xff", "TALLY_AUDIT_ORIGIN=\xff: must be UTF-8 text without control "
                                "characters (environment)"},
    {"TALLY_CLOCK_START_MS=9007199254740991", NULL},
    {"TALLY_CLOCK_START_MS=9007199254740992",
     "TALLY_CLOCK_START_MS=9007199254740992: must be 0..9007199254740991 (environment)"},
};

static void test_kinds(void **state)
{
    ops_config *cfg;
    (void)state;

    for (size_t i = 0; i < sizeof(kcases) / sizeof(kcases[0]); i++) {
        tally_status st = load_one(kcases[i].kv, &cfg);
        if (kcases[i].error == NULL) {
            if (st != TALLY_OK) {
                fail_msg("%s refused: %s", kcases[i].kv, err);
            }
            ops_config_free(cfg);
        } else {
            assert_int_equal(st, TALLY_EINVAL);
            if (strcmp(err, kcases[i].error) != 0) {
                fail_msg("%s:\n got  %s\n want %s", kcases[i].kv, err, kcases[i].error);
            }
        }
    }
    /* typed reads of accepted values */
    assert_int_equal(load_one("TALLY_LOG_LEVEL=warn", &cfg), TALLY_OK);
    assert_int_equal(ops_config_u64(cfg, OPS_K_LOG_LEVEL), OPS_WARN);
    ops_config_free(cfg);
    assert_int_equal(load_one("TALLY_LOG_ACCESS=0", &cfg), TALLY_OK);
    assert_false(ops_config_bool(cfg, OPS_K_LOG_ACCESS));
    assert_int_equal(ops_config_u64(cfg, OPS_K_LOG_ACCESS), 0);
    ops_config_free(cfg);
    assert_int_equal(load_one("TALLY_CLOCK=manual", &cfg), TALLY_OK);
    assert_int_equal(ops_config_u64(cfg, OPS_K_CLOCK), 1);
    ops_config_free(cfg);
    /* an over-long value */
    {
        size_t n = 6 + 9 + OPS_CONFIG_VALUE_MAX + 2;
        char *kv = malloc(n);
        memcpy(kv, "TALLY_DATA_DIR=/", 16);
        memset(kv + 16, 'a', n - 17);
        kv[n - 1] = '\0';
        assert_int_equal(load_one(kv, &cfg), TALLY_ELIMIT);
        assert_non_null(strstr(err, "TALLY_DATA_DIR: value longer than 4096 bytes"));
        free(kv);
    }
}

static void test_hostport_cidr(void **state)
{
    ops_hostport hp;
    ops_cidr c[4];
    size_t n;
    uint8_t a4[4] = {10, 1, 2, 3}, b4[4] = {11, 0, 0, 1};
    uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t lo6[16] = {[15] = 1};
    (void)state;

    assert_int_equal(ops_hostport_parse("0.0.0.0:8093", &hp, err, sizeof(err)), TALLY_OK);
    assert_int_equal(hp.family, OPS_AF_INET4);
    assert_string_equal(hp.addr, "0.0.0.0");
    assert_int_equal(hp.port, 8093);
    assert_int_equal(ops_hostport_parse("[2001:db8::1]:443", &hp, err, sizeof(err)), TALLY_OK);
    assert_int_equal(hp.family, OPS_AF_INET6);
    assert_string_equal(hp.addr, "2001:db8::1");
    assert_int_equal(hp.port, 443);
    assert_int_equal(ops_hostport_parse("localhost:65535", &hp, err, sizeof(err)), TALLY_OK);
    assert_int_equal(hp.family, OPS_AF_INET4);
    assert_string_equal(hp.addr, "127.0.0.1");
    assert_int_equal(hp.port, 65535);
    assert_int_equal(ops_hostport_parse(":80", &hp, err, sizeof(err)), TALLY_EINVAL);
    assert_int_equal(hp.port, 0); /* fail closed */
    assert_int_equal(ops_hostport_parse("[]:80", &hp, err, sizeof(err)), TALLY_EINVAL);
    assert_int_equal(ops_hostport_parse("1.2.3.4:", &hp, err, sizeof(err)), TALLY_EINVAL);
    assert_int_equal(ops_hostport_parse("1.2.3.4:-1", &hp, err, sizeof(err)), TALLY_EINVAL);

    assert_int_equal(
        ops_cidr_list_parse("10.0.0.0/8,2001:db8::/32,::1/128", c, 4, &n, err, sizeof(err)),
        TALLY_OK);
    assert_int_equal(n, 3);
    assert_int_equal(c[0].family, OPS_AF_INET4);
    assert_int_equal(c[0].len, 8);
    assert_true(ops_cidr_match(&c[0], OPS_AF_INET4, a4));
    assert_false(ops_cidr_match(&c[0], OPS_AF_INET4, b4));
    assert_false(ops_cidr_match(&c[0], OPS_AF_INET6, a6));
    assert_true(ops_cidr_match(&c[1], OPS_AF_INET6, a6));
    assert_false(ops_cidr_match(&c[1], OPS_AF_INET6, lo6));
    assert_true(ops_cidr_match(&c[2], OPS_AF_INET6, lo6));
    assert_int_equal(ops_cidr_list_parse("", c, 4, &n, err, sizeof(err)), TALLY_OK);
    assert_int_equal(n, 0);
    assert_int_equal(
        ops_cidr_list_parse("1.0.0.0/8,2.0.0.0/8,3.0.0.0/8", c, 2, &n, err, sizeof(err)),
        TALLY_ELIMIT);
    assert_int_equal(n, 0);
    assert_int_equal(ops_cidr_list_parse("0.0.0.0/0", c, 4, &n, err, sizeof(err)), TALLY_OK);
    assert_true(ops_cidr_match(&c[0], OPS_AF_INET4, b4));

    /* the typed reads of a loaded config */
    {
        ops_config *cfg;
        ops_cidr all[OPS_CIDR_LIST_MAX];
        assert_int_equal(load_one("TALLY_LEDGER_LISTEN=[::]:8200", &cfg), TALLY_OK);
        hp = ops_config_listen(cfg, OPS_K_LEDGER_LISTEN);
        assert_int_equal(hp.family, OPS_AF_INET6);
        assert_string_equal(hp.addr, "::");
        assert_int_equal(hp.port, 8200);
        hp = ops_config_listen(cfg, OPS_K_OPS_LISTEN);
        assert_string_equal(hp.addr, "127.0.0.1");
        assert_int_equal(hp.port, 8290);
        assert_int_equal(ops_config_cidrs(cfg, OPS_K_ABUSE_EXEMPT, all), 2);
        assert_true(ops_cidr_match(&all[1], OPS_AF_INET6, lo6));
        assert_int_equal(ops_config_cidrs(cfg, OPS_K_TRUSTED_PROXIES, all), 0);
        ops_config_free(cfg);
    }
}

static void test_unknown_keys(void **state)
{
    const char *dir = tu_tmpdir("cfg-unknown");
    const char *path;
    char conf[700];
    ops_config *cfg;
    (void)state;

    {
        const char *env[] = {"TALLY_NOPE=1", NULL};
        assert_int_equal(load(NULL, env, &cfg), TALLY_EINVAL);
        assert_string_equal(err, "TALLY_NOPE: unknown key (environment)");
    }
    {
        const char *flags[] = {"TALLY_HTTP_THREAD=4", NULL};
        assert_int_equal(load(flags, NULL, &cfg), TALLY_EINVAL);
        assert_string_equal(err, "TALLY_HTTP_THREAD: unknown key (command line)");
    }
    {
        const char *flags[] = {"HTTP_THREADS=4", NULL};
        assert_int_equal(load(flags, NULL, &cfg), TALLY_EINVAL);
        assert_non_null(strstr(err, "'HTTP_THREADS=4' is not TALLY_KEY=value"));
    }
    path = write_file(dir, "u.env", "# ok\nTALLY_ZSTD_LEVEL=4\nTALLY_ZSTD=4\n");
    snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", path);
    {
        const char *env[] = {conf, NULL};
        char want[800];
        assert_int_equal(load(NULL, env, &cfg), TALLY_EINVAL);
        snprintf(want, sizeof(want), "TALLY_ZSTD: unknown key (%s:3)", path);
        assert_string_equal(err, want);
    }
    /* other programs' variables and the harness's TALLY_ names are left alone */
    {
        const char *env[] = {"PATH=/bin",
                             "TALLY_TEST_TMP=/tmp/x",
                             "TALLY_BIN=/x/tally",
                             "TALLY_DIR=./d",
                             "TALLYHO=1",
                             "TALLY_",
                             NULL};
        const char *env2[] = {"TALLY_=1", NULL};
        assert_int_equal(load(NULL, env, &cfg), TALLY_OK);
        ops_config_free(cfg);
        assert_int_equal(load(NULL, env2, &cfg), TALLY_EINVAL);
        assert_string_equal(err, "TALLY_: unknown key (environment)");
    }
    /* a key twice in one source */
    {
        const char *flags[] = {"TALLY_HTTP_THREADS=4", "TALLY_HTTP_THREADS=5", NULL};
        assert_int_equal(load(flags, NULL, &cfg), TALLY_EINVAL);
        assert_string_equal(err, "TALLY_HTTP_THREADS: set twice (command line)");
    }
    tu_rmdir(dir);
}

typedef struct fcase {
    const char *text;
    unsigned bad_line; /* 0: accepted */
} fcase;

static void test_file_syntax(void **state)
{
    const char *dir = tu_tmpdir("cfg-file");
    static const fcase bad[] = {
        {"TALLY_ZSTD_LEVEL=4\nexport TALLY_HTTP_THREADS=4\n", 2},
        {"TALLY_HTTP_THREADS = 4\n", 1},
        {"\n\njust text\n", 3},
        {"TALLY_LOG_LEVEL='info'\n", 1},
        {"TALLY_LOG_LEVEL=\"info\n", 1},
        {"TALLY_LOG_LEVEL=\"\n", 1},
        {"TALLY_LOG_LEVEL=\"in\"fo\"\n", 1},
        {"TALLY_DATA_DIR=$HOME/x\n", 1},
        {"TALLY_DATA_DIR=/a\\b\n", 1},
        {"TALLY_DATA_DIR=`pwd`\n", 1},
        {"; a comment in another dialect\n", 1},
        {"=4\n", 1},
        {"9TALLY=4\n", 1},
    };
    const char *path;
    char conf[1100], want[900];
    const char *env[] = {conf, NULL};
    ops_config *cfg;
    (void)state;

    path = write_file(dir, "good.env",
                      "# tally node\n"
                      "\n"
                      "   \t\n"
                      "  # indented comment\n"
                      "TALLY_HTTP_THREADS=6\n"
                      "  TALLY_ZSTD_LEVEL=\"7\"\r\n"
                      "TALLY_DATA_DIR=\"/srv/tally data\"   \n"
                      "TALLY_TRUSTED_PROXIES=\"\"\n"
                      "MALLOC_ARENA_MAX=2\n"
                      "TALLY_AUDIT_ORIGIN=a#b\n"
                      "TALLY_LOG_LEVEL=debug");
    snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", path);
    assert_int_equal(load(NULL, env, &cfg), TALLY_OK);
    assert_int_equal(ops_config_u64(cfg, OPS_K_HTTP_THREADS), 6);
    assert_int_equal(ops_config_u64(cfg, OPS_K_ZSTD_LEVEL), 7);
    assert_string_equal(ops_config_str(cfg, OPS_K_DATA_DIR), "/srv/tally data");
    assert_string_equal(ops_config_str(cfg, OPS_K_TRUSTED_PROXIES), "");
    assert_int_equal(ops_config_source(cfg, OPS_K_TRUSTED_PROXIES), OPS_SRC_FILE);
    assert_string_equal(ops_config_str(cfg, OPS_K_AUDIT_ORIGIN), "a#b");
    assert_int_equal(ops_config_u64(cfg, OPS_K_LOG_LEVEL), OPS_DEBUG);
    ops_config_free(cfg);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        path = write_file(dir, "bad.env", bad[i].text);
        snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", path);
        assert_int_equal(load(NULL, env, &cfg), TALLY_EFORMAT);
        snprintf(want, sizeof(want), "%s:%u: expected KEY=value, a # comment or a blank line", path,
                 bad[i].bad_line);
        if (strcmp(err, want) != 0) {
            fail_msg("case %zu: got %s", i, err);
        }
    }
    /* a bad value names file and line */
    path = write_file(dir, "v.env", "# x\nTALLY_LOG_ACCESS=yes\n");
    snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", path);
    assert_int_equal(load(NULL, env, &cfg), TALLY_EINVAL);
    snprintf(want, sizeof(want), "TALLY_LOG_ACCESS=yes: must be 0 or 1 (%s:2)", path);
    assert_string_equal(err, want);
    /* a key twice names both lines */
    path = write_file(dir, "d.env", "TALLY_ZSTD_LEVEL=4\n\nTALLY_ZSTD_LEVEL=5\n");
    snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", path);
    assert_int_equal(load(NULL, env, &cfg), TALLY_EINVAL);
    snprintf(want, sizeof(want), "TALLY_ZSTD_LEVEL: set twice (%s:3, first on line 1)", path);
    assert_string_equal(err, want);
    /* the file cannot point at another file */
    path = write_file(dir, "c.env", "TALLY_CONFIG=/etc/other.env\n");
    snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", path);
    assert_int_equal(load(NULL, env, &cfg), TALLY_EINVAL);
    assert_non_null(strstr(err, "TALLY_CONFIG cannot be set in the config file"));
    /* NUL bytes */
    {
        FILE *f;
        snprintf(want, sizeof(want), "%s/nul.env", dir);
        f = fopen(want, "wb");
        fwrite("TALLY_ZSTD_LEVEL=4\n\0\n", 1, 21, f);
        fclose(f);
        snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", want);
        assert_int_equal(load(NULL, env, &cfg), TALLY_EFORMAT);
        assert_non_null(strstr(err, "NUL byte"));
    }
    /* a named file must exist; the default may be absent */
    snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s/absent.env", dir);
    assert_int_equal(load(NULL, env, &cfg), TALLY_ENOTFOUND);
    assert_non_null(strstr(err, "absent.env"));
    /* a directory cannot be read as a file */
    snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", dir);
    assert_int_not_equal(load(NULL, env, &cfg), TALLY_OK);
    tu_rmdir(dir);
}

typedef struct diffs {
    ops_key keys[8];
    size_t n;
} diffs;

static void on_diff(ops_key k, const char *was, const char *now, void *arg)
{
    diffs *d = arg;
    assert_string_not_equal(was, now);
    assert_true(d->n < 8);
    d->keys[d->n++] = k;
}

static void test_reload(void **state)
{
    const char *dir = tu_tmpdir("cfg-reload");
    const char *path = write_file(dir, "tally.env", "TALLY_ZSTD_LEVEL=3\nTALLY_HTTP_THREADS=4\n");
    char conf[700];
    const char *env[] = {conf, NULL};
    ops_config_src src = {.env = env, .default_file = NOFILE};
    ops_config *cfg, *next;
    diffs d = {0};
    (void)state;

    snprintf(conf, sizeof(conf), "TALLY_CONFIG=%s", path);
    assert_int_equal(ops_config_load(&src, &cfg, err, sizeof(err)), TALLY_OK);
    /* reloadable: accepted, and the diff names what changed */
    write_file(dir, "tally.env",
               "TALLY_ZSTD_LEVEL=9\nTALLY_HTTP_THREADS=4\nTALLY_LOG_LEVEL=debug\n");
    assert_int_equal(ops_config_reload(cfg, &src, &next, err, sizeof(err)), TALLY_OK);
    assert_int_equal(ops_config_u64(next, OPS_K_ZSTD_LEVEL), 9);
    assert_int_equal(ops_config_u64(cfg, OPS_K_ZSTD_LEVEL), 3); /* old unchanged */
    assert_int_equal(ops_config_diff(cfg, next, on_diff, &d), 2);
    assert_int_equal(d.keys[0], OPS_K_ZSTD_LEVEL);
    assert_int_equal(d.keys[1], OPS_K_LOG_LEVEL);
    assert_int_equal(ops_config_diff(cfg, cfg, NULL, NULL), 0);
    ops_config_free(cfg);
    cfg = next;
    /* a restart-only key: the whole reload is refused and names it */
    write_file(dir, "tally.env", "TALLY_ZSTD_LEVEL=1\nTALLY_HTTP_THREADS=8\n");
    assert_int_equal(ops_config_reload(cfg, &src, &next, err, sizeof(err)), TALLY_ECONFLICT);
    assert_null(next);
    assert_string_equal(err, "TALLY_HTTP_THREADS: changed from '4' to '8', which needs a "
                             "restart; reload refused, the old configuration stays in effect");
    /* so is a listen address; and a bad file refuses the reload too */
    write_file(dir, "tally.env", "TALLY_HTTP_THREADS=4\nTALLY_OPS_LISTEN=127.0.0.1:9000\n");
    assert_int_equal(ops_config_reload(cfg, &src, &next, err, sizeof(err)), TALLY_ECONFLICT);
    assert_non_null(strstr(err, "TALLY_OPS_LISTEN"));
    write_file(dir, "tally.env", "TALLY_HTTP_THREADS=4\nTALLY_ZSTD_LEVEL=99\n");
    assert_int_equal(ops_config_reload(cfg, &src, &next, err, sizeof(err)), TALLY_EINVAL);
    assert_null(next);
    assert_int_equal(ops_config_u64(cfg, OPS_K_ZSTD_LEVEL), 9);
    ops_config_free(cfg);
    tu_rmdir(dir);
}

static void test_require_and_rules(void **state)
{
    ops_config *cfg;
    (void)state;

    assert_int_equal(load(NULL, NULL, &cfg), TALLY_OK);
    assert_int_equal(ops_config_require(cfg, OPS_ROLE_NODE, err, sizeof(err)), TALLY_OK);
    assert_int_equal(ops_config_require(cfg, OPS_ROLE_AUDIT, err, sizeof(err)), TALLY_EINVAL);
    assert_string_equal(err, "TALLY_AUDIT_PRIMARY_URL: required by tally audit and not set");
    ops_config_free(cfg);
    {
        const char *env[] = {"TALLY_AUDIT_PRIMARY_URL=https://node.example:8200",
                             "TALLY_AUDIT_ORIGIN=tally.example/1",
                             "TALLY_AUDIT_PRIMARY_KEY="
                             "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
                             NULL};
        assert_int_equal(load(NULL, env, &cfg), TALLY_OK);
        assert_int_equal(ops_config_require(cfg, OPS_ROLE_AUDIT, err, sizeof(err)), TALLY_OK);
        ops_config_free(cfg);
        env[2] = NULL;
        assert_int_equal(load(NULL, env, &cfg), TALLY_OK);
        assert_int_equal(ops_config_require(cfg, OPS_ROLE_AUDIT, err, sizeof(err)), TALLY_EINVAL);
        assert_non_null(strstr(err, "TALLY_AUDIT_PRIMARY_KEY"));
        ops_config_free(cfg);
    }
    {
        const char *env[] = {"TALLY_COOLDOWN_INITIAL_S=7200", NULL};
        const char *flags[] = {"TALLY_COOLDOWN_MAX_S=7200", NULL};
        const char *env2[] = {"TALLY_RATE_IP_PER_S=600", NULL};
        assert_int_equal(load(NULL, env, &cfg), TALLY_EINVAL);
        assert_string_equal(err, "TALLY_COOLDOWN_INITIAL_S=7200 (environment) must not exceed "
                                 "TALLY_COOLDOWN_MAX_S=3600 (default)");
        assert_int_equal(load(flags, env, &cfg), TALLY_OK);
        ops_config_free(cfg);
        assert_int_equal(load(NULL, env2, &cfg), TALLY_EINVAL);
        assert_non_null(strstr(err, "TALLY_RATE_IP_PER_MIN=500"));
    }
}

typedef struct dumped {
    size_t n;
    bool seen_threads;
} dumped;

static void on_dump(const ops_keydef *def, const char *value, ops_source src, void *arg)
{
    dumped *d = arg;
    assert_ptr_equal(def, ops_config_def((ops_key)d->n));
    d->n++;
    if (strcmp(def->name, "TALLY_HTTP_THREADS") == 0) {
        assert_string_equal(value, "12");
        assert_int_equal(src, OPS_SRC_FLAG);
        d->seen_threads = true;
    }
}

static void test_dump(void **state)
{
    const char *flags[] = {"TALLY_HTTP_THREADS=12", NULL};
    ops_config *cfg;
    dumped d = {0};
    (void)state;

    assert_int_equal(load(flags, NULL, &cfg), TALLY_OK);
    ops_config_dump(cfg, on_dump, &d);
    assert_int_equal(d.n, OPS_K_COUNT);
    assert_true(d.seen_threads);
    ops_config_free(cfg);
}

typedef struct buf {
    char *p;
    size_t n;
} buf;

static void to_buf(const char *p, size_t n, void *arg)
{
    buf *b = arg;
    b->p = realloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* docs/configuration.md is ops_config_doc()'s output; on a mismatch the expected text is left
 * in $TALLY_TEST_TMP/configuration.md to copy over. */
static void test_doc(void **state)
{
    char path[1024];
    const char *slash;
    buf want = {0};
    FILE *f;
    char *have;
    long len;
    (void)state;

    ops_config_doc(to_buf, &want);
    assert_non_null(strstr(want.p, "| `TALLY_HTTP_THREADS` | uint 1..64 | `4` | no | serve |"));
    assert_non_null(strstr(want.p, "| `TALLY_LOG_LEVEL` | one of `debug`, `info`, `warn`, "
                                   "`error` | `info` | yes | serve, audit |"));
    assert_non_null(strstr(want.p, "| `TALLY_AUDIT_PRIMARY_URL` | http(s) URL | *required* |"));
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        char row[128];
        snprintf(row, sizeof(row), "| `%s` |", ops_config_def(i)->name);
        assert_non_null(strstr(want.p, row));
    }
    /* this file is tests/ops/test_config.c; the docs are ../../docs from it */
    slash = strstr(__FILE__, "tests/ops/test_config.c");
    assert_non_null(slash);
    snprintf(path, sizeof(path), "%.*sdocs/configuration.md", (int)(slash - __FILE__), __FILE__);
    f = fopen(path, "rb");
    have = NULL;
    len = -1;
    if (f != NULL) {
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        have = malloc((size_t)len + 1);
        assert_int_equal(fread(have, 1, (size_t)len, f), (size_t)len);
        have[len] = '\0';
        fclose(f);
    }
    if (have == NULL || (size_t)len != want.n || memcmp(have, want.p, want.n) != 0) {
        const char *tmp = getenv("TALLY_TEST_TMP");
        char out[1024];
        snprintf(out, sizeof(out), "%s/configuration.md", tmp ? tmp : "/tmp");
        f = fopen(out, "wb");
        if (f != NULL) {
            fwrite(want.p, 1, want.n, f);
            fclose(f);
        }
        fail_msg("%s differs from ops_config_doc(); the generated text is in %s", path, out);
    }
    free(have);
    free(want.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_kinds),        cmocka_unit_test(test_hostport_cidr),
        cmocka_unit_test(test_unknown_keys), cmocka_unit_test(test_file_syntax),
        cmocka_unit_test(test_reload),       cmocka_unit_test(test_require_and_rules),
        cmocka_unit_test(test_dump),         cmocka_unit_test(test_doc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

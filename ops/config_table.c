/* The configuration table (protocol §9.4): every TALLY_* variable, its kind and range, its
 * default, whether SIGHUP may change it, who reads it, and one line of help. This one table
 * drives the defaults, parsing and validation (config.c), the --check dump, the reload check
 * and docs/configuration.md (ops_config_doc below), so a key cannot be named, bounded or
 * documented differently in two places.
 *
 * Defaults are §9.4's, verbatim. Ranges are not in the spec: each allows what an operator
 * could sensibly want and stops at the bound §10 states where there is one (the ingest body
 * at 256 KiB, the writer queue at 65,536). Non-reloadable (§9.4): listen addresses, paths, key
 * files, the thread count, the map size, writer settings (commit window, batch, queue, commit
 * timeout), socket timeouts, and the auditor's URL, origin, keys and bootstrap. */
#include <stdio.h>
#include <string.h>

#include "ops/ops_int.h"

#define N OPS_ROLE_NODE
#define A OPS_ROLE_AUDIT
#define NA (OPS_ROLE_NODE | OPS_ROLE_AUDIT)

#define U(lo, hi) OPS_KIND_UINT, (lo), (hi), NULL
#define K(kind) (kind), 0, 0, NULL
#define E(choices) OPS_KIND_ENUM, 0, 0, (choices)

static const char *const level_choices[] = {"debug", "info", "warn", "error", NULL};
static const char *const bootstrap_choices[] = {"genesis", "checkpoint", NULL};
static const char *const clock_choices[] = {"system", "manual", NULL};
static const char *const signature_choices[] = {"input", "all", NULL};
static const char *const start_choices[] = {"full", "checkpoint", NULL};

/* In enum ops_key order; a test checks that the names match the ids. */
static const ops_keydef defs[OPS_K_COUNT] = {
    [OPS_K_DATA_DIR] = {"TALLY_DATA_DIR", K(OPS_KIND_PATH), "/var/lib/tally", false, N, 0,
                        "Directory of the LMDB store."},
    [OPS_K_KEY_FILE] = {"TALLY_KEY_FILE", K(OPS_KIND_PATH), "/etc/tally/node.key", false, N, 0,
                        "The node's Ed25519 seed (32 bytes, mode 0600)."},
    [OPS_K_ADMIN_TOKEN_FILE] = {"TALLY_ADMIN_TOKEN_FILE", K(OPS_KIND_PATH),
                                "/etc/tally/admin.token", false, N, 0,
                                "Bearer token of the admin API (ops listener)."},
    [OPS_K_INGEST_LISTEN] = {"TALLY_INGEST_LISTEN", K(OPS_KIND_LISTEN), "0.0.0.0:8093", false, N, 0,
                             "Ingest listener (miners' signed writes)."},
    [OPS_K_LEDGER_LISTEN] = {"TALLY_LEDGER_LISTEN", K(OPS_KIND_LISTEN), "0.0.0.0:8200", false, N, 0,
                             "Ledger listener (tree heads, tiles, proofs, records)."},
    [OPS_K_OPS_LISTEN] = {"TALLY_OPS_LISTEN", K(OPS_KIND_LISTEN), "127.0.0.1:8290", false, N, 0,
                          "Ops listener (health, metrics, admin API)."},
    [OPS_K_HTTP_THREADS] = {"TALLY_HTTP_THREADS", U(1, 64), "4", false, N, 0,
                            "HTTP worker threads."},
    [OPS_K_MAX_CONNECTIONS] = {"TALLY_MAX_CONNECTIONS", U(1, 1000000), "4096", true, N, 0,
                               "Open connections, all listeners together."},
    [OPS_K_MAX_CONNECTIONS_PER_IP] = {"TALLY_MAX_CONNECTIONS_PER_IP", U(1, 65536), "64", true, N, 0,
                                      "Open connections from one IP."},
    [OPS_K_READ_TIMEOUT_S] = {"TALLY_READ_TIMEOUT_S", U(1, 3600), "10", false, N, 0,
                              "Seconds to read a request."},
    [OPS_K_WRITE_TIMEOUT_S] = {"TALLY_WRITE_TIMEOUT_S", U(1, 3600), "30", false, N, 0,
                               "Seconds to write a response."},
    [OPS_K_IDLE_TIMEOUT_S] = {"TALLY_IDLE_TIMEOUT_S", U(1, 86400), "60", false, N, 0,
                              "Seconds a keep-alive connection may idle."},
    [OPS_K_COMMIT_TIMEOUT_S] = {"TALLY_COMMIT_TIMEOUT_S", U(1, 3600), "30", false, N, 0,
                                "Seconds a request waits for its commit."},
    [OPS_K_MAX_BODY_INGEST] = {"TALLY_MAX_BODY_INGEST", U(1024, 262144), "262144", true, N, 0,
                               "Bytes in a decoded ingest body (protocol limit 256 KiB)."},
    [OPS_K_LMDB_MAP_SIZE] = {"TALLY_LMDB_MAP_SIZE", U(1048576, 17592186044416u), "68719476736",
                             false, N, 0, "LMDB map size in bytes (the log's maximum size)."},
    [OPS_K_COMMIT_WINDOW_MS] = {"TALLY_COMMIT_WINDOW_MS", U(0, 1000), "2", false, N, 0,
                                "Milliseconds the writer gathers a group commit."},
    [OPS_K_COMMIT_MAX_RECORDS] = {"TALLY_COMMIT_MAX_RECORDS", U(1, 65536), "4096", false, N, 0,
                                  "Records in one group commit."},
    [OPS_K_WRITER_QUEUE] = {"TALLY_WRITER_QUEUE", U(1, 65536), "65536", false, N, 0,
                            "Items waiting for the writer (protocol limit 65,536)."},
    [OPS_K_TRUSTED_PROXIES] = {"TALLY_TRUSTED_PROXIES", K(OPS_KIND_CIDRS), "", true, N, 0,
                               "Proxies whose X-Forwarded-For is believed."},
    [OPS_K_ABUSE_EXEMPT] = {"TALLY_ABUSE_EXEMPT", K(OPS_KIND_CIDRS), "127.0.0.0/8,::1/128", true, N,
                            0, "Networks exempt from rate limits, cooldowns and bans."},
    [OPS_K_RATE_KEY_PER_S] = {"TALLY_RATE_KEY_PER_S", U(1, 1000000), "10", true, N, 0,
                              "Requests per second per key."},
    [OPS_K_RATE_KEY_PER_MIN] = {"TALLY_RATE_KEY_PER_MIN", U(1, 1000000), "120", true, N, 0,
                                "Requests per minute per key."},
    [OPS_K_RATE_IP_PER_S] = {"TALLY_RATE_IP_PER_S", U(1, 1000000), "50", true, N, 0,
                             "Requests per second per IP (IPv6 per /64)."},
    [OPS_K_RATE_IP_PER_MIN] = {"TALLY_RATE_IP_PER_MIN", U(1, 1000000), "500", true, N, 0,
                               "Requests per minute per IP (IPv6 per /64)."},
    [OPS_K_RATE_GLOBAL_PER_S] = {"TALLY_RATE_GLOBAL_PER_S", U(1, 1000000), "200", true, N, 0,
                                 "Requests per second per listener."},
    [OPS_K_RATE_GLOBAL_PER_MIN] = {"TALLY_RATE_GLOBAL_PER_MIN", U(1, 1000000), "5000", true, N, 0,
                                   "Requests per minute per listener."},
    [OPS_K_COOLDOWN_INITIAL_S] = {"TALLY_COOLDOWN_INITIAL_S", U(1, 86400), "30", true, N, 0,
                                  "First cooldown in seconds (doubles on repeat)."},
    [OPS_K_COOLDOWN_MAX_S] = {"TALLY_COOLDOWN_MAX_S", U(1, 2592000), "3600", true, N, 0,
                              "Longest cooldown in seconds."},
    [OPS_K_COOLDOWN_RESET_S] = {"TALLY_COOLDOWN_RESET_S", U(1, 2592000), "86400", true, N, 0,
                                "Seconds without failures before the cooldown level resets."},
    [OPS_K_COOLDOWN_KEY_FAILURES] = {"TALLY_COOLDOWN_KEY_FAILURES", U(1, 100000), "10", true, N, 0,
                                     "Failures of one key that start a cooldown."},
    [OPS_K_COOLDOWN_KEY_WINDOW_S] = {"TALLY_COOLDOWN_KEY_WINDOW_S", U(1, 86400), "60", true, N, 0,
                                     "Window in seconds for a key's failures."},
    [OPS_K_COOLDOWN_IP_FAILURES] = {"TALLY_COOLDOWN_IP_FAILURES", U(1, 100000), "50", true, N, 0,
                                    "Failures from one IP that start a cooldown."},
    [OPS_K_COOLDOWN_IP_WINDOW_S] = {"TALLY_COOLDOWN_IP_WINDOW_S", U(1, 86400), "300", true, N, 0,
                                    "Window in seconds for an IP's failures."},
    [OPS_K_COOLDOWN_IP_DISTINCT_KEYS] =
        {"TALLY_COOLDOWN_IP_DISTINCT_KEYS", U(1, 10000), "5", true, N, 0,
         "Distinct failing keys from one IP that start a cooldown."},
    [OPS_K_FAIL2BAN_VIOLATIONS] = {"TALLY_FAIL2BAN_VIOLATIONS", U(1, 100000), "20", true, N, 0,
                                   "Violations that ban an identity."},
    [OPS_K_FAIL2BAN_WINDOW_S] = {"TALLY_FAIL2BAN_WINDOW_S", U(1, 2592000), "3600", true, N, 0,
                                 "Window in seconds for violations."},
    [OPS_K_FAIL2BAN_BAN_S] = {"TALLY_FAIL2BAN_BAN_S", U(1, 31536000), "86400", true, N, 0,
                              "Length of a ban in seconds."},
    [OPS_K_CRITICAL_STRIKES] = {"TALLY_CRITICAL_STRIKES", U(1, 1000), "3", true, N, 0,
                                "Critical (class X) failures that ban permanently."},
    [OPS_K_CRITICAL_WINDOW_S] = {"TALLY_CRITICAL_WINDOW_S", U(1, 2592000), "86400", true, N, 0,
                                 "Window in seconds for critical failures."},
    [OPS_K_PROBE_BAN] = {"TALLY_PROBE_BAN", K(OPS_KIND_BOOL), "1", true, N, 0,
                         "Ban probes (class P) at once."},
    [OPS_K_AUTH_MAX_SKEW_S] = {"TALLY_AUTH_MAX_SKEW_S", U(1, 300), "30", true, N, 0,
                               "Allowed clock skew of signed requests, in seconds."},
    [OPS_K_TOKEN_TTL_S] = {"TALLY_TOKEN_TTL_S", U(60, 86400), "3600", true, N, 0,
                           "Lifetime of a login token in seconds."},
    [OPS_K_MAX_TOKENS] = {"TALLY_MAX_TOKENS", U(1, 100000), "500", true, N, 0,
                          "Live login tokens."},
    [OPS_K_CHALLENGE_TTL_S] = {"TALLY_CHALLENGE_TTL_S", U(10, 3600), "120", true, N, 0,
                               "Lifetime of a login challenge in seconds."},
    [OPS_K_MAX_CHALLENGES] = {"TALLY_MAX_CHALLENGES", U(1, 100000), "1000", true, N, 0,
                              "Pending login challenges."},
    [OPS_K_METAGRAPH_MAX_AGE_S] = {"TALLY_METAGRAPH_MAX_AGE_S", U(60, 604800), "1800", true, N, 0,
                                   "METAGRAPH age in seconds past which health is degraded."},
    [OPS_K_CYCLE_INTERVAL_S] = {"TALLY_CYCLE_INTERVAL_S", U(60, 604800), "21600", true, N, 0,
                                "Seconds between scoring cycles."},
    [OPS_K_START_REPLAY] = {"TALLY_START_REPLAY", E(start_choices), "full", false, N, 0,
                            "At start: replay the whole log (full), or from the latest "
                            "checkpoint, trusting the log before it (checkpoint)."},
    [OPS_K_SHUTDOWN_GRACE_S] = {"TALLY_SHUTDOWN_GRACE_S", U(0, 3600), "20", true, NA, 0,
                                "Seconds in-flight requests get after SIGTERM."},
    [OPS_K_ZSTD_LEVEL] = {"TALLY_ZSTD_LEVEL", U(1, 19), "3", true, N, 0,
                          "zstd level of compressed responses."},
    [OPS_K_TILE_CACHE_MB] = {"TALLY_TILE_CACHE_MB", U(0, 65536), "64", false, N, 0,
                             "MiB of full tiles and bundles kept as served (0: none)."},
    [OPS_K_LOG_LEVEL] = {"TALLY_LOG_LEVEL", E(level_choices), "info", true, NA, 0,
                         "Lowest level logged."},
    [OPS_K_LOG_ACCESS] = {"TALLY_LOG_ACCESS", K(OPS_KIND_BOOL), "1", true, NA, 0,
                          "Log 2xx requests at info (0: at debug)."},
    [OPS_K_AUDIT_PRIMARY_URL] = {"TALLY_AUDIT_PRIMARY_URL", K(OPS_KIND_URL), "", false, A, A,
                                 "Base URL of the primary's ledger listener."},
    [OPS_K_AUDIT_ORIGIN] = {"TALLY_AUDIT_ORIGIN", K(OPS_KIND_STRING), "", false, A, A,
                            "Origin of the primary's log (pinned)."},
    [OPS_K_AUDIT_PRIMARY_KEY] = {"TALLY_AUDIT_PRIMARY_KEY", K(OPS_KIND_NODEKEY), "", false, A, A,
                                 "The primary's verifier key (`tally key`) or 64 hex (pinned)."},
    [OPS_K_AUDIT_KEY_FILE] = {"TALLY_AUDIT_KEY_FILE", K(OPS_KIND_PATH), "/etc/tally/auditor.key",
                              false, A, 0,
                              "The auditor's Ed25519 seed; when unset, DIR/auditor.key."},
    [OPS_K_AUDIT_DATA_DIR] = {"TALLY_AUDIT_DATA_DIR", K(OPS_KIND_PATH), "/var/lib/tally-audit",
                              false, A, 0, "The auditor's own LMDB directory."},
    [OPS_K_AUDIT_POLL_S] = {"TALLY_AUDIT_POLL_S", U(1, 86400), "120", true, A, 0,
                            "Seconds between polls of the primary."},
    [OPS_K_AUDIT_MAX_RECOMPUTE_DAY] = {"TALLY_AUDIT_MAX_RECOMPUTE_DAY", U(0, 1000), "1", true, A, 0,
                                       "RECOMPUTEs in 24 h before the verdict is paused."},
    [OPS_K_AUDIT_MAX_RECOMPUTE_WEEK] = {"TALLY_AUDIT_MAX_RECOMPUTE_WEEK", U(0, 1000), "3", true, A,
                                        0, "RECOMPUTEs in 7 days before the verdict is paused."},
    [OPS_K_AUDIT_BOOTSTRAP] = {"TALLY_AUDIT_BOOTSTRAP", E(bootstrap_choices), "genesis", false, A,
                               0,
                               "Where a new auditor's replay starts: GENESIS, or the latest final, "
                               "undisputed checkpoint (every record is still checked)."},
    [OPS_K_AUDIT_OPS_LISTEN] =
        {"TALLY_AUDIT_OPS_LISTEN", K(OPS_KIND_LISTEN), "127.0.0.1:8291", false, A, 0,
         "The audit daemon's ops listener (/health, /metrics, /checkpoint)."},
    [OPS_K_AUDIT_PEERS] = {"TALLY_AUDIT_PEERS", K(OPS_KIND_STRING), "", false, A, 0,
                           "Other auditors' ops listeners, comma-separated http://host:port: "
                           "their trusted heads are compared with this replica (split views)."},
    [OPS_K_AUDIT_VERIFY_THREADS] = {"TALLY_AUDIT_VERIFY_THREADS", U(0, 64), "0", false, A, 0,
                                    "Threads verifying a delta's signatures (0: online cores)."},
    [OPS_K_AUDIT_SIGNATURES] = {"TALLY_AUDIT_SIGNATURES", E(signature_choices), "input", false, A,
                                0,
                                "Actor signatures verified: every input record's, or all (also "
                                "derived records', which the replay recomputes anyway)."},
    [OPS_K_AUDIT_DELTA_RECORDS] = {"TALLY_AUDIT_DELTA_RECORDS", U(1, 65536), "65536", false, A, 0,
                                   "Records asked for per delta (fewer: less memory per request; "
                                   "the node sends at most 65536 and 32 MiB)."},
    [OPS_K_AUDIT_ACCEPT_PAUSED] = {"TALLY_AUDIT_ACCEPT_PAUSED", U(0, 4294967295u), "0", false, A, 0,
                                   "The operator's override of the recompute policy: cycles up to "
                                   "this one are not paused, and a paused one's weights may be "
                                   "exported (0: none)."},
    [OPS_K_CONFIG] = {"TALLY_CONFIG", K(OPS_KIND_PATH), OPS_CONFIG_DEFAULT_FILE, false, NA, 0,
                      "Config file (also --config); only the default may be absent."},
    [OPS_K_CLOCK] = {"TALLY_CLOCK", E(clock_choices), "system", false, NA, 0,
                     "manual: a clock only the admin API moves (tests; never in production)."},
    [OPS_K_CLOCK_START_MS] = {"TALLY_CLOCK_START_MS", U(0, 9007199254740991u), "0", false, NA, 0,
                              "Manual clock's start, ms since the epoch (0: the real time)."},
};

const ops_keydef *ops_config_def(ops_key k)
{
    TALLY_ASSERT((unsigned)k < OPS_K_COUNT);
    return &defs[k];
}

int ops_config_find(const char *name, size_t n)
{
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        if (strlen(defs[i].name) == n && memcmp(defs[i].name, name, n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* The harness sets TALLY_TEST_TMP, TALLY_BIN and TALLY_FUZZ_SECONDS for every test, and the
 * offline CLI reads TALLY_DIR; none of them configures a server, and refusing them would make
 * `tally serve` unusable under the test harness. */
static const char *const foreign[] = {"TALLY_BIN", "TALLY_DIR", "TALLY_FUZZ_SECONDS",
                                      "TALLY_TEST_TMP", NULL};

const char *const *ops_config_foreign(void)
{
    return foreign;
}

static void emit_str(ops_emit_fn fn, void *arg, const char *s)
{
    fn(s, strlen(s), arg);
}

/* The Kind column: "uint 1..64", "one of debug, info, warn, error", ... */
static void kind_text(const ops_keydef *d, char *out, size_t cap)
{
    static const char *const names[] = {
        [OPS_KIND_UINT] = "uint",        [OPS_KIND_BOOL] = "bool (0 or 1)",
        [OPS_KIND_STRING] = "text",      [OPS_KIND_PATH] = "absolute path",
        [OPS_KIND_LISTEN] = "host:port", [OPS_KIND_CIDRS] = "CIDR list",
        [OPS_KIND_ENUM] = "one of",      [OPS_KIND_URL] = "http(s) URL",
        [OPS_KIND_NODEKEY] = "verifier key or 64 hex",
    };
    size_t used;

    used = (size_t)snprintf(out, cap, "%s", names[d->kind]);
    if (d->kind == OPS_KIND_UINT) {
        (void)snprintf(out + used, cap - used, " %llu..%llu", (unsigned long long)d->min,
                       (unsigned long long)d->max);
    }
    for (size_t i = 0; d->kind == OPS_KIND_ENUM && d->choices[i] != NULL && used < cap; i++) {
        used += (size_t)snprintf(out + used, cap - used, "%s`%s`", i ? ", " : " ", d->choices[i]);
    }
}

static const char doc_head[] =
    "# Configuration\n"
    "\n"
    "<!-- Generated by ops_config_doc() from the table in ops/config_table.c; "
    "tests/ops/test_config.c fails when this file differs. -->\n"
    "\n"
    "`tally serve` and `tally audit` read `TALLY_*` variables (protocol §9.4). Sources, highest "
    "first:\n"
    "command-line flags, the environment, the config file, the defaults below. Every value of "
    "every\n"
    "source is validated, even one a higher source overrides, and an unknown `TALLY_` key in any\n"
    "source stops the server naming the key and where it was set.\n"
    "\n"
    "The config file is `--config FILE`, else `TALLY_CONFIG`, else `/etc/tally/tally.env`, which "
    "may\n"
    "be absent only when it is that default. It is the file systemd reads as `EnvironmentFile`:\n"
    "`KEY=value` lines, `#` comment lines and blank lines; the value may be wrapped in double\n"
    "quotes, which are removed. Anything else (including `export`, single quotes, `\\`, `$` "
    "and\n"
    "backquotes, whose meaning differs between readers) is an error naming the file and line. A "
    "key\n"
    "set twice in one source is an error. Keys not starting with `TALLY_` are left to other "
    "programs.\n"
    "The harness and offline-CLI names `TALLY_BIN`, `TALLY_DIR`, `TALLY_FUZZ_SECONDS` and\n"
    "`TALLY_TEST_TMP` are ignored.\n"
    "\n"
    "SIGHUP (or `POST /admin/v1/reload`) reloads the sources. If a key marked *no* under Reload\n"
    "would change, the whole reload is refused, the error names the key, and the server keeps "
    "running\n"
    "on the configuration it had; restart to change such a key.\n"
    "\n"
    "Kinds: a uint is decimal without sign or leading zeros. A host:port is `a.b.c.d:port`,\n"
    "`[v6]:port` or `localhost:port` (no other host names; port 0 lets the kernel pick). A CIDR "
    "list is\n"
    "comma-separated `addr/len` items without spaces and without host bits below the prefix; it "
    "may be\n"
    "empty. A path must be absolute (systemd starts services in `/`). An empty value is allowed "
    "only for a\n"
    "CIDR list and for keys without a default; `tally audit` refuses to start without the keys "
    "marked\n"
    "*required*. Cross-key rules: a cooldown's initial length ≤ its maximum, each per-second rate "
    "≤ its\n"
    "per-minute rate, connections per IP ≤ connections, recomputes per day ≤ per week.\n"
    "\n"
    "| Variable | Kind | Default | Reload | Used by | Description |\n"
    "|---|---|---|---|---|---|\n";

void ops_config_doc(ops_emit_fn fn, void *arg)
{
    char line[1024], kind[160];

    emit_str(fn, arg, doc_head);
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        const ops_keydef *d = &defs[i];
        const char *users = d->roles == NA ? "serve, audit" : d->roles == A ? "audit" : "serve";
        char def[128];
        int n;

        kind_text(d, kind, sizeof(kind));
        if (d->def[0] != '\0') {
            (void)snprintf(def, sizeof(def), "`%s`", d->def);
        } else {
            (void)snprintf(def, sizeof(def), "%s", d->required ? "*required*" : "(empty)");
        }
        n = snprintf(line, sizeof(line), "| `%s` | %s | %s | %s | %s | %s |\n", d->name, kind, def,
                     d->reload ? "yes" : "no", users, d->help);
        TALLY_ASSERT(n > 0 && (size_t)n < sizeof(line));
        fn(line, (size_t)n, arg);
    }
}

/* cli: the `tally` binary. One file per subcommand, one dispatch table (main.c), one map from
 * status to exit code. Only cli/ prints to the user or exits. */
#ifndef TALLY_CLI_CLI_H
#define TALLY_CLI_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "schema/schema.h"
#include "ledger/ledger.h"
#include "store/store.h"
#include "client/client.h"

/* Exit codes: 0 success, 1 a check failed (verify), 2 usage, then one per failure kind. */
enum {
    CLI_OK = 0,
    CLI_CHECK_FAILED = 1,
    CLI_USAGE = 2,
    CLI_DATA = 3,      /* bad input data (EFORMAT, EINVAL) */
    CLI_NOT_FOUND = 4, /* no log, no such record */
    CLI_CORRUPT = 5,   /* stored data failed a check */
    CLI_FULL = 6,      /* LMDB map or disk full */
    CLI_AUTH = 7,      /* signature or author */
    CLI_CONFLICT = 8,
    CLI_IO = 9,
    CLI_INTERNAL = 10,
    CLI_PAUSED = 11,   /* audit --once: a cycle paused by the recompute policy, none failed */
};

typedef struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_cmd;

int cli_exit_code(tally_status st);
/* Prints "tally <cmd>: <message>: <status>" to stderr and returns the exit code for st. */
int cli_fail(const char *cmd, tally_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The data directory: --dir, else $TALLY_DIR, else ./tally-data. */
const char *cli_dir(const char *opt);
/* Options of a command that takes only --dir and --help, then exactly `positional` arguments
 * (at argv[optind]). Returns CLI_OK with *dir resolved, -1 after printing usage for --help
 * (the command then exits 0), or CLI_USAGE after an error message. */
int cli_dir_opts(const char *cmd, int argc, char **argv, const char *usage, int positional,
                 const char **dir);
/* $TALLY_LMDB_MAP_SIZE in bytes (at least 1 MiB), or 0 to keep the file's map size. */
size_t cli_map_size(void);
/* Refuses an invalid $TALLY_LMDB_MAP_SIZE with a message (main() calls it before any command);
 * returns an exit code. */
int cli_check_env(void);
/* Opens the log in dir with a message on failure; returns an exit code (CLI_OK on success). A
 * writer that finds another one gets exit 8 and "the log in DIR is being written by pid N". A
 * read-only open of a damaged log fails with exit 5, naming the damage. */
int cli_open(const char *cmd, const char *dir, bool read_only, store_log **out);
/* Progress lines on stderr: "what: done/total (pct%)". On a terminal the line is rewritten in
 * place at every call; on anything else (a file, a pipe) at most one line a second, counted
 * from cli_progress_init, plus the final one (done ≥ total), so a redirected log stays short.
 * One per operation, embedded by the caller; it holds no resource. */
typedef struct cli_progress_state {
    const char *what; /* the label; borrowed, must outlive the operation */
    bool tty;
    bool done;       /* the final line was printed */
    int64_t last_ms; /* monotonic time of the last line (or of the init) */
} cli_progress_state;
void cli_progress_init(cli_progress_state *ps, const char *what);
/* A store_progress_fn: arg is the operation's cli_progress_state. */
/* Read-only, and a damaged log opens too, for the integrity scan to name the first bad record. */
int cli_open_scan(const char *cmd, const char *dir, store_log **out);
void cli_progress(void *arg, uint64_t done, uint64_t total);
/* Parses a decimal uint64 with no sign or leading zeros; false on junk or overflow. */
bool cli_parse_u64(const char *s, uint64_t *out);

/* Subcommands. */
int cmd_init(int argc, char **argv);
int cmd_append(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_proof(int argc, char **argv);
int cmd_tiles(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_reconstruct(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_weights(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_loadgen(int argc, char **argv);
/* miner clients and the admin wrappers (cli/admin_int.h has their shared glue) */
int cmd_sign(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_feed(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_recompute(int argc, char **argv);
int cmd_cycle(int argc, char **argv);
int cmd_reveal(int argc, char **argv);
int cmd_ban(int argc, char **argv);
int cmd_cooldown(int argc, char **argv);

/* Prints a load generator's summary (cmd_loadgen.c). */
void cli_loadgen_summary(const loadgen_report *r);
/* The demo's last part (cmd_demo_node.c): a node on loopback serving a fresh log in
 * DIR-node, driven by the load generator; returns an exit code. */
int cli_demo_node(const char *dir);
/* The demo's auditors (demo_audit.c): the key of auditor k under ndir (made on first use), and
 * n auditors' rounds against the running node after a cycle, with finality and the cosigned
 * checkpoint printed. Exit codes. */
struct net_node;
int cli_demo_auditor_key(const char *ndir, unsigned k, uint8_t pk[32]);
int cli_demo_auditors(struct net_node *node, const char *ndir, const char *token,
                      unsigned n_auditors);
/* The demos' node (demo_serve.c): `tally serve` in this process on the log in dir, with the
 * configuration overrides (NULL-terminated KEY=VALUE), on a manual clock starting at start_ms
 * or the real one, its JSON log in dir/serve.log, run on a thread. cli_demo_serve_stop drains
 * and joins it (st: how net_node_run ended); cli_demo_serve_down stops and frees everything.
 * Exit codes. */
typedef struct cli_demo_node_run {
    struct ops_config *conf;
    struct ops_clock *clock;
    struct ops_log *log;
    struct net_node *node;
    pthread_t th;
    bool running;
    tally_status st;
    int fd;
    char origin[SCHEMA_ORIGIN_MAX + 1];
    char vkey[512];      /* the node's verifier key string */
    char logpath[4300];
} cli_demo_node_run;
int cli_demo_serve_up(const char *dir, const char *const *overrides, bool manual_clock,
                      uint64_t start_ms, cli_demo_node_run *d);
void cli_demo_serve_stop(cli_demo_node_run *d);
void cli_demo_serve_down(cli_demo_node_run *d);
/* `tally demo --tamper KIND` (demo_tamper.c): DIR's log forged, served, and failed by three
 * auditors; CLI_OK when every one of them named the seq a full replay names. */
int cli_demo_tamper(const char *dir, const char *kind);

/* Prints the weight table of a cycle (0: the latest), at most `limit` rows (cmd_score.c). */
int cli_show_weights(const char *cmd, const char *dir, uint64_t cycle, size_t limit);

#endif

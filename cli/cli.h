/* cli: the `tally` binary. One file per subcommand, one dispatch table (main.c), one map from
 * status to exit code. Only cli/ prints to the user or exits. */
#ifndef TALLY_CLI_CLI_H
#define TALLY_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "schema/schema.h"
#include "store/store.h"

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
/* Opens the log in dir with a message on failure; returns an exit code (CLI_OK on success). */
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
void cli_progress(void *arg, uint64_t done, uint64_t total);
/* The engine restored from a checkpoint state (uncompressed) of the log: engine_load(), with the
 * bodies of submissions the state holds no prices for read back from the log in ascending seq.
 * On TALLY_OK *out belongs to the caller (engine_free). Returns what engine_load returns, and
 * TALLY_ENOTFOUND or TALLY_ECORRUPT for a body the log lacks or that fails its header. */
TALLY_MUST_USE tally_status cli_state_load(store_log *log, const uint8_t *state, size_t n,
                                           engine **out);
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
int cmd_weights(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/* The simulation driver (sim.c) over the generator (sim/sim.h), shared by simulate and demo. */
typedef struct cli_sim_cfg {
    uint64_t seed;
    unsigned miners, days, markets_per_day;
    unsigned total_days; /* 0: `days` more days; else until the log holds days 0..total_days−1 */
    bool quiet;
} cli_sim_cfg;
typedef struct cli_sim_result {
    uint64_t records_before, records_after, days_from_ms, days_to_ms;
    uint64_t days;    /* new days simulated (the resumed last day is not counted) */
    uint64_t foreign; /* records past the resumed day's, which another writer appended */
    uint64_t submissions, quotes, outcomes, events, markets, cycles, derived;
    uint64_t refused_total, refused[ENGINE_RULE_COUNT]; /* miner records the rules refused */
    char what[300]; /* why the simulation stopped, when a rule refused a node record */
    double seconds;
} cli_sim_result;
/* Writes cfg->days more days of subnet history into the log in dir (or, with cfg->total_days,
 * the days up to that count), creating the log if dir holds none. On an existing log its last
 * day is generated again first: the records the log holds are checked byte for byte (a
 * difference stops the run with CLI_CONFLICT) and the rest appended, so an interrupted run,
 * continued, gives the bytes of one that never stopped. Deterministic: the same seed and flags
 * give identical bytes. */
int cli_simulate(const char *cmd, const char *dir, const cli_sim_cfg *cfg, cli_sim_result *out);

/* The projection (project.c): the engine fed from the log. */
typedef struct cli_cycle_info {
    uint64_t seq, records, scores, miners, state_len; /* seq: the SCORING_CYCLE's */
    bool has_weights;
    uint8_t state_hash[32];
    char what[300]; /* with TALLY_EINVAL: the rule a block record broke */
} cli_cycle_info;
/* Node side: folds every record not yet in e, then appends SCORING_CYCLE `cycle` at time t
 * (covers_to = the log's size) and its derived block in one transaction, after storing the
 * checkpoint. With rules (at the log's end), every record of the block is admitted through them
 * first (TALLY_EINVAL and info->what if one is refused; nothing appended). */
TALLY_MUST_USE tally_status cli_node_cycle(store_log *log, engine *e, engine_rules *rules,
                                           uint64_t cycle, uint64_t epoch, uint64_t t,
                                           cli_cycle_info *info);

/* The acceptance rules fed from the log. cli_rules_fold folds records [engine_rules_size(r),
 * to) into r without judging them (a prefix trusted, or judged elsewhere); cli_rules_open
 * returns the state at the end of the log; cli_rules_admit checks one record at the next
 * position (its header's time_ms is the time it will have) and folds it when admitted. */
TALLY_MUST_USE tally_status cli_rules_fold(store_log *log, engine_rules *r, uint64_t to);
TALLY_MUST_USE tally_status cli_rules_open(store_log *log, engine_rules **out);
TALLY_MUST_USE tally_status cli_rules_admit(engine_rules *r, const store_input *in,
                                            engine_verdict *v);
/* The engine at the end of an existing log (replayed and checked); TALLY_ECORRUPT if a derived
 * record in it does not match. */
TALLY_MUST_USE tally_status cli_node_catch_up(store_log *log, engine **out, uint64_t *cycles_out);

typedef struct cli_replay_cfg {
    uint64_t from_cycle; /* 0: from genesis; else resume from that cycle's checkpoint */
    uint64_t to;         /* stop before this seq; 0: the whole log */
    const char *progress; /* label for progress lines on stderr, or NULL */
    bool quiet;
} cli_replay_cfg;
typedef struct cli_replay_result {
    uint64_t records, cycles, derived_checked, last_cycle;
    bool mismatch;
    uint64_t bad_seq;
    char what[768];
    uint8_t state_hash[32];   /* of the last cycle replayed */
    bool has_weights;
    uint8_t weights_hash[32]; /* SHA-256 of the last WEIGHTS body checked */
    double seconds;
    engine *eng; /* the engine at the end; the caller frees it (also on failure) */
} cli_replay_result;
/* Auditor side: recomputes every cycle's derived block from the inputs and compares it byte for
 * byte with the log. A difference is not an error: res->mismatch names the first differing
 * record (seq, type, field). Returns a status for failures to read. */
TALLY_MUST_USE tally_status cli_replay(store_log *log, const cli_replay_cfg *cfg,
                                       cli_replay_result *res);
/* Prints the weight table of a cycle (0: the latest), at most `limit` rows (cmd_score.c). */
int cli_show_weights(const char *cmd, const char *dir, uint64_t cycle, size_t limit);

/* A batch of records to append together (common.c). Bodies are copied into the batch. */
typedef struct cli_batch {
    store_input *in;
    size_t n, cap;
} cli_batch;
#define CLI_BATCH_INIT {NULL, 0, 0}
#define CLI_CODE_VERSION "tally-0.1.0"
/* Adds a record authored by the node: encodes, builds and signs the header. */
TALLY_MUST_USE tally_status cli_batch_node(cli_batch *b, store_log *log, const schema_body *body,
                                           uint64_t time_ms);
/* Adds a record signed by another key (sk: libsodium 64-byte secret key of pk). */
TALLY_MUST_USE tally_status cli_batch_signed(cli_batch *b, store_log *log, const schema_body *body,
                                             const uint8_t pk[32], const uint8_t sk[64],
                                             uint64_t time_ms);
/* Adds a record whose header (with signature) the caller built; the body bytes are copied. */
TALLY_MUST_USE tally_status cli_batch_raw(cli_batch *b, const schema_header *h,
                                          const uint8_t *body, size_t n);
/* Appends everything in the batch as one run (all or nothing) and empties it. */
TALLY_MUST_USE tally_status cli_batch_flush(cli_batch *b, store_log *log, uint64_t *first_out);
void cli_batch_release(cli_batch *b);

#endif

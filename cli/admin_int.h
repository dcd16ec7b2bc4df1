/* cli/ private: the admin wrappers' shared glue (cli/admin_client.c). One place knows the ops
 * URL, where the admin token lives, how a call is made and how an error body is told to the
 * user, for `tally feed`, `config set`, `recompute`, `cycle`, `reveal`, `ban` and `cooldown`. */
#ifndef TALLY_CLI_ADMIN_INT_H
#define TALLY_CLI_ADMIN_INT_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "client/client.h"

#define CLI_OPS_DEFAULT "http://127.0.0.1:8290"

/* The options every wrapper takes: --ops URL, --admin-token-file F, --dir DIR. Put
 * CLI_ADMIN_LONGOPTS in the command's option table and pass each getopt result to
 * cli_admin_opt. */
#define CLI_ADMIN_LONGOPTS                                                                         \
    {"ops", required_argument, NULL, 0x100}, {"admin-token-file", required_argument, NULL, 0x101}, \
    {                                                                                              \
        "dir", required_argument, NULL, 0x102                                                      \
    }
#define CLI_ADMIN_HELP                                                                             \
    "  --ops URL      the node's ops listener (default " CLI_OPS_DEFAULT ")\n"                     \
    "  --admin-token-file F  the admin token (else $TALLY_ADMIN_TOKEN_FILE, else\n"                \
    "                 DIR/admin.token)\n"                                                          \
    "  --dir DIR      the data directory (else $TALLY_DIR, else ./tally-data)\n"

typedef struct cli_admin {
    const char *cmd; /* "feed", "ban", ...: every message starts "tally <cmd>: " */
    const char *ops, *token_file, *dir_opt;
    const char *dir; /* resolved by cli_admin_open */
    client_url url;
    client_conn *conn;
    char token[65];
    bool have_token;
    bool quiet;   /* the caller prints error bodies itself */
    bool refused; /* the last call found no listener (connection refused) */
} cli_admin;

/* True when c was one of the CLI_ADMIN_LONGOPTS (its value taken from arg). */
bool cli_admin_opt(cli_admin *a, int c, const char *arg);
/* Resolves the URL and the data directory; connects at the first call. Returns an exit code
 * (CLI_USAGE for a bad URL, after a message). */
int cli_admin_open(cli_admin *a);
void cli_admin_close(cli_admin *a);
/* One admin call: method, a path under the ops URL ("/admin/v1/bans"), a JSON body or NULL.
 * *resp_out (optional) is the parsed body (the caller's; NULL when none), also for an error
 * response. Returns CLI_OK on 2xx; otherwise prints (unless quiet) "tally <cmd>: the node
 * refused: <code>: <message>" or why there was no answer, and returns the exit code of the
 * failure: 3 (400, 413, 422), 4 (404), 7 (401 admin_unauthorized, or no token), 8 (409),
 * 9 (no answer, 429, 503), 6 (507), 10 (other). a->refused tells a refused connection apart. */
int cli_admin_call(cli_admin *a, const char *method, const char *path, json_t *body,
                   json_t **resp_out);
/* Whether anything answers on the ops URL (GET /health, no token): CLI_OK when it does; else
 * CLI_IO with a->refused set when the connection was refused (no node listening), without a
 * message then. */
int cli_admin_probe(cli_admin *a);
/* Prints "seq N" of the first item of a records-style answer (§14.4); returns CLI_OK. */
int cli_print_seq(const json_t *resp);
/* Prints v as one compact JSON line on stdout. */
void cli_json_line(const json_t *v);

/* Shared by `tally ban` and `tally cooldown`: --ip ADDR | --hotkey SS58 into kind and id. */
int cli_ident_args(const char *cmd, const char *ip, const char *hotkey, const char **kind,
                   const char **id);

/* ---- shared by `tally sign` and `tally submit` (cli/cmd_sign.c) ---- */
#define CLI_STDIN_MAX (1u << 20) /* bytes of request JSON on stdin (wire/'s own limit) */
/* Reads all of stdin (at most max bytes) into a malloc'd NUL-terminated buffer. Returns an exit
 * code after a message. */
int cli_read_stdin(const char *cmd, size_t max, char **out, size_t *n_out);
/* The miner's key from a key file (tally keygen): pk, and sk in sodium_malloc memory (the
 * caller sodium_free()s it). Returns an exit code after a message. */
int cli_miner_key(const char *cmd, const char *path, uint8_t pk[32], uint8_t **sk_out);
/* A write built from the JSON on stdin, with a message on failure (exit code returned). */
int cli_write_from_stdin(const char *cmd, const client_write_cfg *cfg, client_write **out);

#endif

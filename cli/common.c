/* What every subcommand shares: exit codes, error messages, the data directory, progress. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_exit_code(tally_status st)
{
    switch (st) {
    case TALLY_OK:
        return CLI_OK;
    case TALLY_EINVAL:
    case TALLY_EFORMAT:
    case TALLY_ELIMIT:
        return CLI_DATA;
    case TALLY_ENOTFOUND:
        return CLI_NOT_FOUND;
    case TALLY_ECORRUPT:
        return CLI_CORRUPT;
    case TALLY_EFULL:
        return CLI_FULL;
    case TALLY_EAUTH:
        return CLI_AUTH;
    case TALLY_ECONFLICT:
        return CLI_CONFLICT;
    case TALLY_EIO:
    case TALLY_EAGAIN:
        return CLI_IO;
    case TALLY_ENOMEM:
        return CLI_INTERNAL;
    }
    return CLI_INTERNAL;
}

int cli_fail(const char *cmd, tally_status st, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tally %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (st != TALLY_OK) {
        fprintf(stderr, ": %s", tally_status_str(st));
    }
    if (st == TALLY_EFULL) {
        fprintf(stderr, " (nothing of this write was stored; set TALLY_LMDB_MAP_SIZE to a larger "
                        "byte count, or free disk space, then retry)");
    }
    fprintf(stderr, "\n");
    return st == TALLY_OK ? CLI_CHECK_FAILED : cli_exit_code(st);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tally %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'tally %s --help')\n", cmd);
    return CLI_USAGE;
}

const char *cli_dir(const char *opt)
{
    const char *env = getenv("TALLY_DIR");

    if (opt != NULL) {
        return opt;
    }
    return env != NULL && env[0] != '\0' ? env : "./tally-data";
}

size_t cli_map_size(void)
{
    const char *env = getenv("TALLY_LMDB_MAP_SIZE");
    uint64_t v;

    /* main() refused an invalid value before any command ran (cli_check_env) */
    if (env == NULL || env[0] == '\0' || !cli_parse_u64(env, &v) || v < (1u << 20)) {
        return 0; /* keep the file's size (or the default for a new log) */
    }
    return (size_t)v;
}

int cli_check_env(void)
{
    const char *env = getenv("TALLY_LMDB_MAP_SIZE");
    uint64_t v;

    if (env != NULL && (!cli_parse_u64(env, &v) || v < (1u << 20) || v > SIZE_MAX)) {
        fprintf(stderr, "tally: TALLY_LMDB_MAP_SIZE='%s' is not a byte count of at least 1048576 "
                        "(1 MiB); unset it to keep the log's size\n", env);
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int open_log(const char *cmd, const char *dir, bool read_only, bool damaged_ok,
                    store_log **out)
{
    char detail[STORE_DETAIL_MAX] = "";
    store_cfg cfg = {.dir = dir, .read_only = read_only, .map_size = cli_map_size(),
                     .detail = detail};
    tally_status st = store_open(&cfg, out);

    if (st == TALLY_ENOTFOUND && strncmp(detail, "no node key", 11) != 0) {
        return cli_fail(cmd, st, "no tally log in %s (create one with 'tally init' or "
                                 "'tally simulate')", dir);
    }
    if (st == TALLY_ECONFLICT) {
        fprintf(stderr, "tally %s: %s\n", cmd, detail);
        return CLI_CONFLICT;
    }
    if (st != TALLY_OK) {
        return cli_fail(cmd, st, "%s%s", detail[0] ? detail : "cannot open the log in ",
                        detail[0] ? "" : dir);
    }
    if (!damaged_ok && store_damage(*out) != NULL) {
        int rc = cli_fail(cmd, TALLY_ECORRUPT, "the log in %s is damaged: %s (run 'tally verify' "
                                               "for the first bad record)", dir, store_damage(*out));
        store_close(*out);
        *out = NULL;
        return rc;
    }
    return CLI_OK;
}

int cli_open(const char *cmd, const char *dir, bool read_only, store_log **out)
{
    return open_log(cmd, dir, read_only, false, out);
}

int cli_open_scan(const char *cmd, const char *dir, store_log **out)
{
    return open_log(cmd, dir, true, true, out);
}

void cli_progress(void *arg, uint64_t done, uint64_t total)
{
    const char *what = arg;
    bool tty = isatty(STDERR_FILENO);
    unsigned pct = total ? (unsigned)(done * 100 / total) : 100;

    fprintf(stderr, tty ? "\r%s: %llu/%llu (%u%%)" : "%s: %llu/%llu (%u%%)\n", what,
            (unsigned long long)done, (unsigned long long)total, pct);
    if (tty && done >= total) {
        fprintf(stderr, "\n");
    }
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || s[0] == '\0' || (s[0] == '0' && s[1] != '\0')) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

tally_status cli_batch_raw(cli_batch *b, const schema_header *h, const uint8_t *body, size_t n)
{
    uint8_t *copy;

    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        store_input *grown = realloc(b->in, cap * sizeof(*grown));
        if (grown == NULL) {
            return TALLY_ENOMEM;
        }
        b->in = grown, b->cap = cap;
    }
    copy = malloc(n ? n : 1);
    if (copy == NULL) {
        return TALLY_ENOMEM;
    }
    memcpy(copy, body, n);
    b->in[b->n].header = *h;
    b->in[b->n].body = copy;
    b->in[b->n].body_len = n;
    b->n++;
    return TALLY_OK;
}

static tally_status batch_add(cli_batch *b, store_log *log, const schema_body *body,
                              const uint8_t *pk, const uint8_t *sk, uint64_t time_ms)
{
    uint8_t buf[SCHEMA_BODY_MAX], node_pk[32];
    schema_header h;
    size_t n;
    tally_status st = schema_body_encode(body, buf, sizeof(buf), &n);

    if (st != TALLY_OK) {
        return st;
    }
    if (pk == NULL) {
        store_node_pubkey(log, node_pk);
    }
    st = schema_header_init(body, buf, n, pk ? pk : node_pk, &h);
    if (st == TALLY_OK) {
        st = pk ? schema_record_sign(&h, (tally_str){store_origin(log), strlen(store_origin(log))},
                                     sk)
                : store_node_sign(log, &h);
    }
    if (st != TALLY_OK) {
        return st;
    }
    h.time_ms = time_ms;
    return cli_batch_raw(b, &h, buf, n);
}

tally_status cli_batch_node(cli_batch *b, store_log *log, const schema_body *body, uint64_t time_ms)
{
    return batch_add(b, log, body, NULL, NULL, time_ms);
}

tally_status cli_batch_signed(cli_batch *b, store_log *log, const schema_body *body,
                              const uint8_t pk[32], const uint8_t sk[64], uint64_t time_ms)
{
    return batch_add(b, log, body, pk, sk, time_ms);
}

static void batch_clear(cli_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free((void *)(uintptr_t)b->in[i].body);
    }
    b->n = 0;
}

tally_status cli_batch_flush(cli_batch *b, store_log *log, uint64_t *first_out)
{
    tally_status st = TALLY_OK;

    *first_out = store_size(log);
    if (b->n > 0) {
        st = store_append(log, b->in, b->n, first_out);
    }
    batch_clear(b);
    return st;
}

void cli_batch_release(cli_batch *b)
{
    batch_clear(b);
    free(b->in);
    b->in = NULL;
    b->cap = 0;
}

int cli_dir_opts(const char *cmd, int argc, char **argv, const char *usage, int positional,
                 const char **dir)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;

    *dir = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd') {
            *dir = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else {
            return cli_usage_error(cmd, "unknown option");
        }
    }
    if (argc - optind != positional) {
        return argc - optind > positional
                   ? cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + positional])
                   : cli_usage_error(cmd, "missing argument");
    }
    *dir = cli_dir(*dir);
    return CLI_OK;
}

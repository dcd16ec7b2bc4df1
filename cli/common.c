/* What every subcommand shares: exit codes, error messages, the data directory, progress. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_progress_init(cli_progress_state *ps, const char *what)
{
    *ps = (cli_progress_state){.what = what, .tty = isatty(STDERR_FILENO) == 1,
                               .last_ms = now_ms()};
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
    cli_progress_state *ps = arg;
    bool final = done >= total;
    unsigned pct = total ? (unsigned)(done * 100 / total) : 100;

    if (!ps->tty) {
        int64_t t = now_ms();
        if (ps->done || (!final && t - ps->last_ms < 1000)) {
            return;
        }
        ps->last_ms = t;
    }
    ps->done = ps->done || final;
    fprintf(stderr, ps->tty ? "\r%s: %llu/%llu (%u%%)" : "%s: %llu/%llu (%u%%)\n", ps->what,
            (unsigned long long)done, (unsigned long long)total, pct);
    if (ps->tty && final) {
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

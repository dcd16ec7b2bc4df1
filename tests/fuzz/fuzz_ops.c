/* ops/'s parsers of operator and outside input: the first byte picks one, the rest is its
 * input. 0: a listen address, which must re-parse from its canonical form to the same value.
 * 1: a CIDR list, whose items must have no host bits below the prefix. 2: a log line carrying
 * the input as a string field, which must parse back as JSON and, for valid UTF-8, give the
 * input back. 3: a config file (through a memfd), which must load or fail with a message. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ops/ops.h"

static char *cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL) {
        abort();
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void listen_addr(const char *s)
{
    ops_hostport a, b;
    char again[80], err[256];

    if (ops_hostport_parse(s, &a, err, sizeof(err)) != TALLY_OK) {
        return;
    }
    snprintf(again, sizeof(again), a.family == OPS_AF_INET6 ? "[%s]:%u" : "%s:%u", a.addr,
             (unsigned)a.port);
    if (ops_hostport_parse(again, &b, err, sizeof(err)) != TALLY_OK || a.family != b.family ||
        a.port != b.port || strcmp(a.addr, b.addr) != 0) {
        abort();
    }
}

static void cidrs(const char *s)
{
    ops_cidr c[OPS_CIDR_LIST_MAX];
    size_t n;
    char err[256];

    if (ops_cidr_list_parse(s, c, OPS_CIDR_LIST_MAX, &n, err, sizeof(err)) != TALLY_OK) {
        if (n != 0) {
            abort();
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned max = c[i].family == OPS_AF_INET4 ? 32 : 128;
        if (c[i].len > max || !ops_cidr_match(&c[i], c[i].family, c[i].addr)) {
            abort();
        }
        for (unsigned bit = c[i].len; bit < max; bit++) {
            if (c[i].addr[bit / 8] & (0x80u >> (bit % 8))) {
                abort();
            }
        }
    }
}

static void log_line(const uint8_t *p, size_t n)
{
    int fds[2];
    ops_log *log;
    ops_log_cfg cfg = {.level = OPS_DEBUG};
    char buf[OPS_LOG_LINE_MAX + 1];
    ssize_t got;
    json_t *line, *valid;
    tally_str sv = {(const char *)p, n};

    if (n > 4096 || pipe(fds) != 0) {
        return;
    }
    cfg.fd = fds[1];
    if (ops_log_new(&cfg, &log) != TALLY_OK) {
        abort();
    }
    OPS_LOG(log, OPS_INFO, "net", "fuzz", OPS_FSV("v", sv));
    got = read(fds[0], buf, sizeof(buf) - 1);
    if (got <= 0 || buf[got - 1] != '\n') {
        abort();
    }
    line = json_loadb(buf, (size_t)got, JSON_ALLOW_NUL, NULL);
    if (line == NULL) {
        abort();
    }
    valid = json_stringn((const char *)p, n);
    if (valid != NULL && !json_equal(valid, json_object_get(line, "v"))) {
        abort();
    }
    json_decref(valid);
    json_decref(line);
    ops_log_free(log);
    close(fds[0]);
    close(fds[1]);
}

static void config_file(const uint8_t *p, size_t n)
{
    int fd = memfd_create("tally.env", 0);
    char kv[64], err[512];
    const char *env[] = {kv, NULL};
    ops_config_src src = {.env = env, .default_file = "/nonexistent/tally.env"};
    ops_config *cfg;

    if (fd < 0 || write(fd, p, n) != (ssize_t)n) {
        abort();
    }
    snprintf(kv, sizeof(kv), "TALLY_CONFIG=/proc/self/fd/%d", fd);
    err[0] = '\0';
    if (ops_config_load(&src, &cfg, err, sizeof(err)) == TALLY_OK) {
        ops_config_free(cfg);
    } else if (cfg != NULL || err[0] == '\0') {
        abort();
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size == 0) {
        return 0;
    }
    s = cstr(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0:
        listen_addr(s);
        break;
    case 1:
        cidrs(s);
        break;
    case 2:
        log_line(data + 1, size - 1);
        break;
    default:
        config_file(data + 1, size - 1);
        break;
    }
    free(s);
    return 0;
}

#include "util/testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

size_t tu_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;

    for (const char *p = hex; *p; p++) {
        int v;
        if (*p == ' ' || *p == '\n') {
            continue;
        }
        if (*p >= '0' && *p <= '9') {
            v = *p - '0';
        } else if (*p >= 'a' && *p <= 'f') {
            v = *p - 'a' + 10;
        } else {
            fprintf(stderr, "bad hex literal\n");
            abort();
        }
        if (hi < 0) {
            hi = v;
        } else {
            if (n == cap) {
                abort();
            }
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

const char *tu_tmpdir(const char *tag)
{
    const char *base = getenv("TALLY_TEST_TMP");
    char *path = malloc(512);

    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    mkdir(base, 0700);
    snprintf(path, 512, "%s/%s-%d-XXXXXX", base, tag, (int)getpid());
    if (mkdtemp(path) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

void tu_rmdir(const char *dir)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    free((void *)(uintptr_t)dir);
}

uint64_t tu_split(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n) {
        k <<= 1;
    }
    return k;
}

void tu_mth(uint8_t (*leaves)[32], uint64_t n, uint8_t out[32])
{
    uint8_t in[65];
    uint64_t k;

    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    k = tu_split(n);
    in[0] = 1;
    tu_mth(leaves, k, in + 1);
    tu_mth(leaves + k, n - k, in + 33);
    crypto_hash_sha256(out, in, sizeof(in));
}

int tu_run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    FILE *p;
    size_t n;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    if (p == NULL) {
        abort();
    }
    n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

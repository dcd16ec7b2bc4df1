#include "util/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
}

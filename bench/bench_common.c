#include "bench_common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_pct(double *v, size_t n, double p)
{
    size_t i;
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmpd);
    i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double bench_median(double *v, size_t n)
{
    return bench_pct(v, n, 0.5);
}

void bench_machine(FILE *f)
{
    char line[256], model[256] = "unknown";
    FILE *c = fopen("/proc/cpuinfo", "r");
    struct utsname u;
    time_t t = time(NULL);
    char date[64];

    while (c != NULL && fgets(line, sizeof(line), c)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            snprintf(model, sizeof(model), "%s", p ? p + 2 : line);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (c != NULL) {
        fclose(c);
    }
    uname(&u);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
    fprintf(f, "machine: %s, %ld cores, %.1f GiB RAM, %s %s; %s\n", model,
            sysconf(_SC_NPROCESSORS_ONLN),
            (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1 << 30),
            u.sysname, u.release, date);
}

char *bench_dir(const char *base, const char *tag)
{
    char *p = malloc(1024);
    mkdir(base, 0700);
    snprintf(p, 1024, "%s/%s-XXXXXX", base, tag);
    if (mkdtemp(p) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    return p;
}

void bench_rmdir(char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", dir);
    }
    free(dir);
}

/* Replay of a simulated log to weights (every cycle recomputed and compared with the log, every
 * record judged by the acceptance rules) against a bare decode scan of the same log in the same
 * run: every record read through the store iterator, its header decoded and its body checked
 * against it and decoded, nothing else. The operator's full view and an auditor's gated view
 * (withheld bodies folded from headers, taken at their reveal) are both measured. Each replay
 * runs in a child process so its peak RSS is its own.
 *   bench_replay SIMULATED_DIR [runs] */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "cli/cli.h"

static double bare_decode(store_log *log, uint64_t *count)
{
    store_iter *it;
    store_record r;
    uint64_t n = 0;
    double t0 = bench_now();

    if (store_iter_open(log, 0, &it) != TALLY_OK) {
        abort();
    }
    while (store_iter_next(it, &r) == TALLY_OK) {
        schema_header h;
        schema_body b;
        if (schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK ||
            schema_record_check(&h, r.body.p, r.body.n, &b) != TALLY_OK) {
            abort();
        }
        schema_body_release(&b);
        n++;
    }
    store_iter_close(it);
    *count = n;
    return bench_now() - t0;
}

/* One replay in a child: returns its seconds, and its peak RSS in KiB. */
static double replay_child(const char *dir, bool gated, long *rss_kib, uint64_t *records,
                           uint64_t *cycles)
{
    int fd[2];
    pid_t pid;
    struct rusage ru;
    int status;
    double out[3];

    if (pipe(fd) != 0 || (pid = fork()) < 0) {
        abort();
    }
    if (pid == 0) {
        store_cfg cfg = {.dir = dir, .read_only = true};
        ledger_replay_cfg rc = {.gated = gated};
        ledger_replay_result res;
        store_log *log;
        if (store_open(&cfg, &log) != TALLY_OK || ledger_replay(log, &rc, &res) != TALLY_OK ||
            res.mismatch) {
            _exit(1);
        }
        out[0] = res.seconds, out[1] = (double)res.records, out[2] = (double)res.cycles;
        if (write(fd[1], out, sizeof(out)) != (ssize_t)sizeof(out)) {
            _exit(1);
        }
        _exit(0);
    }
    close(fd[1]);
    if (read(fd[0], out, sizeof(out)) != (ssize_t)sizeof(out) || wait4(pid, &status, 0, &ru) < 0 ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "replay failed\n");
        exit(1);
    }
    close(fd[0]);
    *rss_kib = ru.ru_maxrss;
    *records = (uint64_t)out[1], *cycles = (uint64_t)out[2];
    return out[0];
}

int main(int argc, char **argv)
{
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    double bare[64], rep[64], rss[64], gat[64], grss[64];
    uint64_t n = 0, records = 0, cycles = 0;
    store_cfg cfg;
    store_log *log;

    if (argc < 2 || runs < 1 || runs > 64 || sodium_init() < 0) {
        fprintf(stderr, "usage: bench_replay SIMULATED_DIR [runs]\n");
        return 2;
    }
    cfg = (store_cfg){.dir = argv[1], .read_only = true};
    if (store_open(&cfg, &log) != TALLY_OK) {
        return 1;
    }
    bench_machine(stdout);
    for (int i = 0; i < runs; i++) {
        long kib, gkib;
        bare[i] = bare_decode(log, &n);
        rep[i] = replay_child(argv[1], false, &kib, &records, &cycles);
        gat[i] = replay_child(argv[1], true, &gkib, &records, &cycles);
        rss[i] = (double)kib / 1024.0, grss[i] = (double)gkib / 1024.0;
        printf("run %d: bare decode scan %.3f s, replay %.3f s (peak RSS %.1f MiB), gated replay "
               "%.3f s (peak RSS %.1f MiB)\n",
               i + 1, bare[i], rep[i], rss[i], gat[i], grss[i]);
    }
    store_close(log);
    double mb = bench_median(bare, (size_t)runs), mr = bench_median(rep, (size_t)runs);
    double mg = bench_median(gat, (size_t)runs);
    printf("log: %llu records (events), %llu cycles recomputed and compared\n",
           (unsigned long long)records, (unsigned long long)cycles);
    printf("| what | median s | records/s (one core) |\n|---|---|---|\n");
    printf("| bare decode scan (baseline) | %.3f | %.0f |\n", mb, (double)n / mb);
    printf("| replay to weights, full view | %.3f | %.0f |\n", mr, (double)records / mr);
    printf("| replay to weights, gated view | %.3f | %.0f |\n", mg, (double)records / mg);
    printf("replay / bare scan time: %.2fx; gated / full replay time: %.2fx; peak RSS (median): "
           "full %.1f MiB, gated %.1f MiB\n",
           mr / mb, mg / mr, bench_median(rss, (size_t)runs), bench_median(grss, (size_t)runs));
    return 0;
}

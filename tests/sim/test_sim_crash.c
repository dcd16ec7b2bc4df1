/* An interrupted `tally simulate`, continued, writes exactly the log of a run that never stopped:
 * kill -9 at random points (at least 50 kills, runs of a few tenths of a second each; a killed
 * run is often itself resumed and killed again), and a run stopped by a full LMDB map and
 * continued with a larger one. Every continued log must reach the uninterrupted run's checkpoint
 * (tree size and root) byte for byte. The random delays come from a seed printed at the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/testutil.h"

#define KILLS_MIN 50
#define ATTEMPTS_MAX 400
#define ARGS "--miners 12 --markets-per-day 12 --seed 9 --quiet"
#define TOTAL "4"

static const char *bin;
static char out[1 << 16];

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The first three lines of the checkpoint note: origin, tree size, root. */
static void head(const char *dir, char *note, size_t cap)
{
    assert_int_equal(tu_run(note, cap, "%s checkpoint --dir %s | head -3", bin, dir), 0);
}

static uint64_t size_of(const char *dir)
{
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    uint64_t n;

    if (store_open(&cfg, &log) != TALLY_OK) {
        return 0; /* killed before the log existed */
    }
    n = store_size(log);
    store_close(log);
    return n;
}

/* Starts `tally simulate` on dir, kills it after delay_us, and reports whether the kill landed
 * (false: the run had already finished, with status 0). */
static bool run_and_kill(const char *dir, int64_t delay_us)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(bin, "tally", "simulate", "--dir", dir, "--miners", "12", "--markets-per-day", "12",
              "--seed", "9", "--quiet", "--total-days", TOTAL, (char *)NULL);
        _exit(127);
    }
    usleep((useconds_t)delay_us);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
        assert_int_equal(WTERMSIG(status), SIGKILL);
        return true;
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return false;
}

/* Sizes of the uninterrupted log at the end of each day, from its progress lines. */
static size_t day_ends(const char *text, uint64_t *ends, size_t cap)
{
    size_t n = 0;
    const char *p = text;

    while (n < cap && (p = strstr(p, "done, ")) != NULL) {
        ends[n++] = strtoull(p + 6, NULL, 10);
        p += 6;
    }
    return n;
}

static void test_kill_anywhere(void **state)
{
    const char *ref = tu_tmpdir("crash-ref");
    char want[512], got[512];
    uint64_t ends[16];
    size_t n_ends;
    int64_t t0, ref_us;
    unsigned kills = 0, attempts = 0, finals = 0, mid_day = 0;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    (void)state;

    print_message("kill -9 delays from seed %u\n", seed);
    srand(seed);
    t0 = mono_us();
    assert_int_equal(tu_run(out, sizeof(out), "%s simulate --dir %s --miners 12 --markets-per-day "
                                              "12 --seed 9 --total-days " TOTAL " 2>&1",
                            bin, ref),
                     0);
    ref_us = mono_us() - t0;
    n_ends = day_ends(out, ends, 16);
    assert_int_equal(n_ends, 4);
    head(ref, want, sizeof(want));

    while (kills < KILLS_MIN && attempts < ATTEMPTS_MAX) {
        const char *dir = tu_tmpdir("crash-run");
        bool finished = false;
        /* kill, resume, kill again… until a run finishes or the chain ends at random */
        while (!finished && kills < KILLS_MIN && attempts < ATTEMPTS_MAX) {
            int64_t delay = (int64_t)((double)rand() / RAND_MAX * (double)ref_us * 1.2);
            attempts++;
            if (!run_and_kill(dir, delay)) {
                finished = true;
                break;
            }
            kills++;
            uint64_t n = size_of(dir);
            bool at_end = n == 0;
            for (size_t i = 0; i < n_ends; i++) {
                at_end = at_end || n == ends[i];
            }
            mid_day += !at_end;
            if (rand() % 3 == 0) {
                break;
            }
        }
        if (!finished) {
            assert_int_equal(tu_run(out, sizeof(out), "%s simulate --dir %s " ARGS
                                                      " --total-days " TOTAL " 2>&1",
                                    bin, dir),
                             0);
        }
        head(dir, got, sizeof(got));
        if (strcmp(want, got) != 0) {
            fail_msg("continued log differs after %u kills (seed %u):\n%s\nwant\n%s", kills, seed,
                     got, want);
        }
        finals++;
        tu_rmdir(dir);
    }
    print_message("%u kills in %u runs, %u continued logs compared, %u kills left a day "
                  "half-written or just its cycle\n",
                  kills, attempts, finals, mid_day);
    assert_true(kills >= KILLS_MIN);
    assert_true(mid_day > 0);
    tu_rmdir(ref);
}

/* A full LMDB map stops the run mid-way (exit 6, nothing of the failed chunk stored); continued
 * with a larger map it writes the uninterrupted log. */
static void test_storage_full(void **state)
{
    const char *ref = tu_tmpdir("full-ref"), *dir = tu_tmpdir("full-run");
    const char *args = "--miners 24 --markets-per-day 12 --seed 3 --quiet --total-days 6";
    char want[512], got[512];
    uint64_t stopped;
    (void)state;

    assert_int_equal(tu_run(out, sizeof(out), "%s simulate --dir %s %s", bin, ref, args), 0);
    head(ref, want, sizeof(want));
    assert_int_equal(tu_run(out, sizeof(out), "TALLY_LMDB_MAP_SIZE=1048576 %s simulate --dir %s "
                                              "%s 2>&1",
                            bin, dir, args),
                     6);
    assert_non_null(strstr(out, "storage full"));
    stopped = size_of(dir);
    assert_true(stopped > 0);
    head(dir, got, sizeof(got));
    assert_string_not_equal(want, got);
    assert_int_equal(tu_run(out, sizeof(out), "TALLY_LMDB_MAP_SIZE=67108864 %s simulate --dir %s "
                                              "%s 2>&1",
                            bin, dir, args),
                     0);
    head(dir, got, sizeof(got));
    assert_string_equal(want, got);
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s --quiet", bin, dir), 0);
    assert_non_null(strstr(out, "replay matched"));
    tu_rmdir(ref);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_anywhere),
        cmocka_unit_test(test_storage_full),
    };
    bin = getenv("TALLY_BIN");
    if (bin == NULL) {
        fprintf(stderr, "TALLY_BIN is not set\n");
        return 1;
    }
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

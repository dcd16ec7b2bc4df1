/* Crash test: a child process appends through group commit from four threads and reports each
 * acknowledged run on a pipe; the parent kills it with SIGKILL at a random moment, 200 times.
 * After each kill every acknowledged record must be present, with the content the child sent,
 * and the integrity scan must pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/testlog.h"
#include "util/testutil.h"

#define KILLS 200
#define THREADS 4

typedef struct ack {
    uint64_t first, n, id0;
} ack;

typedef struct child_arg {
    store_log *log;
    int fd, t;
    uint64_t base;
} child_arg;

static void *child_thread(void *p)
{
    child_arg *a = p;
    uint8_t bufs[32][256];
    store_input in[32];
    uint64_t id = a->base + (unsigned)a->t * 100000000ull;

    for (unsigned round = 0;; round++) {
        size_t n = 1 + (round * 7 + (unsigned)a->t) % 32;
        ack k = {0, n, id};
        for (size_t i = 0; i < n; i++) {
            tl_event(a->log, id + i, bufs[i], 256, &in[i]);
        }
        if (store_append(a->log, in, n, &k.first) != TALLY_OK) {
            _exit(3);
        }
        /* acknowledged: from here on the records must survive anything */
        if (write(a->fd, &k, sizeof(k)) != (ssize_t)sizeof(k)) {
            _exit(4);
        }
        id += n;
    }
    return NULL;
}

static void child(const char *dir, int fd, uint64_t base)
{
    store_cfg cfg = {.dir = dir};
    store_log *log;
    pthread_t th[THREADS];
    child_arg args[THREADS];

    if (store_open(&cfg, &log) != TALLY_OK) {
        _exit(2);
    }
    for (int t = 0; t < THREADS; t++) {
        args[t] = (child_arg){log, fd, t, base};
        pthread_create(&th[t], NULL, child_thread, &args[t]);
    }
    for (;;) {
        pause();
    }
}

static void check_acks(const char *dir, const ack *acks, size_t n_acks)
{
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    store_verify_report rep;
    uint64_t need = 0;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    for (size_t i = 0; i < n_acks; i++) {
        need = acks[i].first + acks[i].n > need ? acks[i].first + acks[i].n : need;
    }
    assert_true(store_size(log) >= need);
    for (size_t i = 0; i < n_acks; i++) {
        store_iter *it;
        store_record r;
        assert_int_equal(store_iter_open(log, acks[i].first, &it), TALLY_OK);
        for (uint64_t j = 0; j < acks[i].n; j++) {
            schema_header h;
            schema_body b;
            assert_int_equal(store_iter_next(it, &r), TALLY_OK);
            assert_int_equal(schema_header_decode(r.header.p, r.header.n, &h), TALLY_OK);
            assert_int_equal(schema_record_check(&h, r.body.p, r.body.n, &b), TALLY_OK);
            assert_int_equal(b.u.event.event_id, acks[i].id0 + j);
            schema_body_release(&b);
        }
        store_iter_close(it);
    }
    if (store_verify(log, false, NULL, NULL, &rep) != TALLY_OK) {
        fprintf(stderr, "integrity scan after kill: %s\n", rep.what);
        fail();
    }
    store_close(log);
}

static void test_kill9(void **state)
{
    const char *dir = NULL;
    uint64_t total_acked = 0, with_acks = 0;
    unsigned seed = (unsigned)time(NULL);
    /* the shortest wait before a kill (µs): a loaded machine (ASan, a parallel test) starts the
     * child slowly, so a round that saw no ack waits longer next time and one that did, shorter;
     * most kills then land after an ack, whatever the machine's speed */
    useconds_t base = 1000;
    (void)state;

    fprintf(stderr, "crash test seed %u\n", seed);
    srand(seed);
    for (int round = 0; round < KILLS; round++) {
        int fds[2];
        pid_t pid;
        ack *acks = NULL;
        size_t n_acks = 0, cap = 0;
        ack k;
        int status;

        /* a fresh log every 20 kills keeps each scan short */
        if (round % 20 == 0) {
            store_log *log;
            if (dir != NULL) {
                tu_rmdir(dir);
            }
            dir = tu_tmpdir("crash");
            log = tl_create(dir, 256u << 20);
            tl_fill(log, 1, 1);
            store_close(log);
        }
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(dir, fds[1], (unsigned)round * 1000000000ull + 1);
        }
        close(fds[1]);
        usleep(base + (useconds_t)(rand() % 40000));
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        while (read(fds[0], &k, sizeof(k)) == (ssize_t)sizeof(k)) {
            if (n_acks == cap) {
                cap = cap ? 2 * cap : 256;
                acks = realloc(acks, cap * sizeof(*acks));
            }
            acks[n_acks++] = k;
            total_acked += k.n;
        }
        close(fds[0]);
        with_acks += n_acks > 0;
        base = n_acks > 0 ? (base > 2000 ? base / 2 : 1000) : (base < 256000 ? base * 2 : base);
        check_acks(dir, acks, n_acks);
        free(acks);
    }
    fprintf(stderr, "%d kills, %llu records acknowledged and found, %llu kills after an ack\n",
            KILLS, (unsigned long long)total_acked, (unsigned long long)with_acks);
    assert_true(with_acks > KILLS / 2);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9)};
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

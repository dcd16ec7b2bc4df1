/* `tally loadgen` as a process for the tests (see loadrun.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/loadrun.h"
#include "util/testutil.h"

const char *const tlg_node_env[] = {
    "TALLY_RATE_KEY_PER_S=5000",
    "TALLY_RATE_KEY_PER_MIN=60000",
    "TALLY_RATE_IP_PER_S=20000",
    "TALLY_RATE_IP_PER_MIN=65535",
    "TALLY_RATE_GLOBAL_PER_S=20000",
    "TALLY_RATE_GLOBAL_PER_MIN=65535",
    NULL,
};

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

void tlg_start(tn_node *n, tlg_run *l, const char *tag, unsigned miners, unsigned seconds,
               uint64_t seed, const char *extra)
{
    char ingest[64], ops[64], token[600], m[16], s[16], sd[24], more[256];
    char *argv[48];
    int k = 0;
    pid_t pid;

    snprintf(l->out, sizeof(l->out), "%s/%s.json", n->tmp, tag);
    snprintf(l->receipts, sizeof(l->receipts), "%s/%s.receipts", n->tmp, tag);
    snprintf(l->log, sizeof(l->log), "%s/%s.log", n->tmp, tag);
    snprintf(ingest, sizeof(ingest), "http://127.0.0.1:%u", n->port[TN_INGEST]);
    snprintf(ops, sizeof(ops), "http://127.0.0.1:%u", n->port[TN_OPS]);
    snprintf(token, sizeof(token), "%s/admin.token", n->dir);
    snprintf(m, sizeof(m), "%u", miners);
    snprintf(s, sizeof(s), "%u", seconds);
    snprintf(sd, sizeof(sd), "%llu", (unsigned long long)seed);
    snprintf(more, sizeof(more), "%s", extra ? extra : "");
    unlink(l->out);
    unlink(l->receipts);
    argv[k++] = (char *)(uintptr_t)bin();
    argv[k++] = "loadgen";
    argv[k++] = "--ingest", argv[k++] = ingest, argv[k++] = "--ops", argv[k++] = ops;
    argv[k++] = "--admin-token-file", argv[k++] = token;
    argv[k++] = "--miners", argv[k++] = m, argv[k++] = "--seconds", argv[k++] = s;
    argv[k++] = "--seed", argv[k++] = sd, argv[k++] = "--out", argv[k++] = l->out;
    argv[k++] = "--receipts-out", argv[k++] = l->receipts;
    for (char *t = strtok(more, " "); t != NULL && k < 46; t = strtok(NULL, " ")) {
        argv[k++] = t;
    }
    argv[k] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(l->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1), dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    l->pid = pid;
}

int tlg_wait(tlg_run *l, unsigned timeout_s)
{
    int st = 0;
    struct timespec ts = {0, 20000000L};

    for (unsigned t = 0; t < timeout_s * 50u; t++) {
        if (waitpid(l->pid, &st, WNOHANG) == l->pid) {
            l->pid = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        nanosleep(&ts, NULL);
    }
    kill(l->pid, SIGKILL);
    waitpid(l->pid, NULL, 0);
    l->pid = -1;
    fail_msg("tally loadgen did not exit within %u s (see %s)", timeout_s, l->log);
    return -1;
}

void tlg_wait_load(tn_node *n, const tlg_run *l, uint64_t size0)
{
    struct timespec ts = {0, 10000000L};
    uint64_t fed = 0;

    for (unsigned t = 0; t < 3000; t++) {
        uint64_t size = tn_size(n);
        if (fed == 0 && size > size0) {
            fed = size;
        } else if (fed != 0 && size > fed) {
            return;
        }
        if (waitpid(l->pid, NULL, WNOHANG) == l->pid) {
            fail_msg("tally loadgen exited before its load began (see %s)", l->log);
        }
        nanosleep(&ts, NULL);
    }
    fail_msg("the load did not begin within 30 s (log %llu records, see %s)",
             (unsigned long long)tn_size(n), l->log);
}

json_t *tlg_summary(const tlg_run *l)
{
    return json_load_file(l->out, 0, NULL);
}

/* Every leaf hash of the log, by seq. */
static uint8_t (*read_leaves(const char *dir, uint64_t *n_out))[32]
{
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record rec;
    uint8_t(*leaves)[32];
    uint64_t n;
    tally_status st;

    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    n = store_size(log);
    leaves = calloc(n ? n : 1, 32);
    assert_non_null(leaves);
    assert_int_equal(store_iter_open(log, 0, &it), TALLY_OK);
    while ((st = store_iter_next(it, &rec)) == TALLY_OK) {
        assert_true(rec.seq < n);
        memcpy(leaves[rec.seq], rec.leaf_hash, 32);
    }
    assert_int_equal(st, TALLY_ENOTFOUND);
    store_iter_close(it);
    store_close(log);
    *n_out = n;
    return leaves;
}

uint64_t tlg_check_receipts(const char *dir, const char *receipts_path)
{
    uint64_t n, count = 0;
    uint8_t(*leaves)[32] = read_leaves(dir, &n);
    FILE *f = fopen(receipts_path, "r");
    unsigned long long seq;
    char hex[80];

    if (f == NULL) {
        free(leaves);
        return 0; /* the loader never got far enough to write one */
    }
    while (fscanf(f, "%llu %70s", &seq, hex) == 2) {
        uint8_t leaf[32];
        assert_int_equal(strlen(hex), 64);
        assert_int_equal(tu_unhex(hex, leaf, 32), 32);
        if (seq >= n) {
            fail_msg("receipt entry %llu is past the log's %llu records: an acknowledged record "
                     "was lost",
                     seq, (unsigned long long)n);
        }
        if (memcmp(leaves[seq], leaf, 32) != 0) {
            fail_msg("receipt entry %llu names a leaf the log does not hold there", seq);
        }
        count++;
    }
    fclose(f);
    free(leaves);
    return count;
}

int tlg_verify(const char *dir)
{
    char out[8192];
    return tu_run(out, sizeof(out), "%s verify --dir %s", bin(), dir);
}

void tlg_node_env_set(tn_node *n, const char *a, const char *b)
{
    size_t k = 0;
    for (; tlg_node_env[k] != NULL; k++) {
        n->env[k] = tlg_node_env[k];
    }
    n->env[k] = a;
    k += a != NULL;
    n->env[k] = b;
    k += b != NULL;
    n->env[k] = NULL;
}

json_int_t tlg_get_int(json_t *o, const char *obj, const char *key)
{
    json_t *v = json_object_get(json_object_get(o, obj), key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* Batch verification of actor signatures on several threads (schema_record_verify_batch).
 *
 * The work is cut into chunks of CHUNK headers taken in increasing order from one atomic
 * counter. A worker that finds a bad header lowers the shared minimum; a chunk that starts
 * above the current minimum is skipped, since nothing in it can be the smallest. Every chunk
 * below the final minimum was verified to its end, so the result is the smallest bad index
 * whatever the number of threads or their timing. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "schema/schema.h"

/* Headers per chunk: one Ed25519 verification is about 75 µs, so a chunk is ~5 ms of work,
 * long beside the atomic increment and short enough to balance two to eight threads. */
#define CHUNK 64u

typedef struct batch {
    const tally_bytes *headers;
    size_t n;
    tally_str origin;
    atomic_size_t next;      /* first index of the next chunk to take */
    atomic_size_t first_bad; /* smallest bad index found so far, n when none */
} batch;

static bool bad_at(const batch *b, size_t i)
{
    schema_header h;

    return schema_header_decode(b->headers[i].p, b->headers[i].n, &h) != TALLY_OK ||
           schema_record_verify(&h, b->origin) != TALLY_OK;
}

static void lower(batch *b, size_t i)
{
    size_t cur = atomic_load(&b->first_bad);

    while (i < cur && !atomic_compare_exchange_weak(&b->first_bad, &cur, i)) {
    }
}

static void *work(void *arg)
{
    batch *b = arg;

    for (;;) {
        size_t start = atomic_fetch_add(&b->next, CHUNK);
        if (start >= b->n || start > atomic_load(&b->first_bad)) {
            return NULL;
        }
        size_t end = b->n - start < CHUNK ? b->n : start + CHUNK;
        for (size_t i = start; i < end; i++) {
            if (bad_at(b, i)) {
                lower(b, i);
                break; /* the rest of this chunk is above i */
            }
        }
    }
}

unsigned schema_verify_threads_default(void)
{
    long c = sysconf(_SC_NPROCESSORS_ONLN);

    return c < 1                                 ? 1u
           : c > (long)SCHEMA_VERIFY_THREADS_MAX ? SCHEMA_VERIFY_THREADS_MAX
                                                 : (unsigned)c;
}

tally_status schema_record_verify_batch(const tally_bytes *headers, size_t n, tally_str origin,
                                        unsigned threads, size_t *first_bad_out)
{
    pthread_t tid[SCHEMA_VERIFY_THREADS_MAX];
    size_t chunks = n / CHUNK + (n % CHUNK != 0), started = 0;
    batch b = {.headers = headers, .n = n, .origin = origin};

    *first_bad_out = 0;
    if (n > 0 && headers == NULL) {
        return TALLY_EINVAL;
    }
    atomic_init(&b.next, 0);
    atomic_init(&b.first_bad, n);
    if (threads == 0) {
        threads = schema_verify_threads_default();
    }
    if (threads > SCHEMA_VERIFY_THREADS_MAX) {
        threads = SCHEMA_VERIFY_THREADS_MAX;
    }
    if (threads > chunks) {
        threads = chunks > 0 ? (unsigned)chunks : 1u;
    }
    /* The caller's thread is one of the workers; a thread that cannot be created only means
     * fewer of them, never a different result. */
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&tid[started], NULL, work, &b) != 0) {
            break;
        }
        started++;
    }
    (void)work(&b);
    for (size_t t = 0; t < started; t++) {
        pthread_join(tid[t], NULL);
    }
    *first_bad_out = atomic_load(&b.first_bad);
    return TALLY_OK;
}

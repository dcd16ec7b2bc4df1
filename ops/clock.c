/* The real and the manual clock. A manual clock keeps its two times in atomics, so tests and
 * the node's admin endpoint can move it while request threads read it. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "ops/ops.h"

struct ops_clock {
    ops_clock_mode mode;
    _Atomic int64_t wall_ms;  /* manual mode only */
    _Atomic uint64_t mono_ns; /* manual mode only */
};

tally_status ops_clock_new(ops_clock_mode mode, int64_t wall_ms, ops_clock **out)
{
    ops_clock *c;

    *out = NULL;
    if ((mode != OPS_CLOCK_REAL && mode != OPS_CLOCK_MANUAL) || wall_ms < 0) {
        return TALLY_EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return TALLY_ENOMEM;
    }
    c->mode = mode;
    atomic_init(&c->wall_ms, wall_ms);
    atomic_init(&c->mono_ns, 0);
    *out = c;
    return TALLY_OK;
}

void ops_clock_free(ops_clock *c)
{
    free(c);
}

ops_clock_mode ops_clock_get_mode(const ops_clock *c)
{
    return c->mode;
}

static int64_t real_wall_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ops_clock_wall_ms(const ops_clock *c)
{
    if (c->mode == OPS_CLOCK_MANUAL) {
        return atomic_load(&((ops_clock *)c)->wall_ms);
    }
    return real_wall_ms();
}

uint64_t ops_clock_mono_ns(const ops_clock *c)
{
    struct timespec ts;

    if (c->mode == OPS_CLOCK_MANUAL) {
        return atomic_load(&((ops_clock *)c)->mono_ns);
    }
    /* CLOCK_MONOTONIC cannot fail on Linux with a valid id; 0 keeps the contract total. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

tally_status ops_clock_set_wall_ms(ops_clock *c, int64_t ms)
{
    if (c->mode != OPS_CLOCK_MANUAL || ms < 0) {
        return TALLY_EINVAL;
    }
    atomic_store(&c->wall_ms, ms);
    return TALLY_OK;
}

tally_status ops_clock_advance_ms(ops_clock *c, int64_t ms)
{
    if (c->mode != OPS_CLOCK_MANUAL || ms < 0) {
        return TALLY_EINVAL;
    }
    atomic_fetch_add(&c->wall_ms, ms);
    atomic_fetch_add(&c->mono_ns, (uint64_t)ms * 1000000u);
    return TALLY_OK;
}

int64_t ops_clock_now_ms_cb(void *clock)
{
    return ops_clock_wall_ms(clock);
}

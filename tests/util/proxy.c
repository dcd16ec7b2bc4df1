/* The rewriting proxy of tests/util/proxy.h: tamper/'s proxy with the test's own rewrite. */
#include "util/proxy.h"

#include <stdlib.h>

#include "tamper/tamper.h"

struct tp_proxy {
    tamper_proxy *p;
};

tp_proxy *tp_start(uint16_t upstream_port, tp_rewrite_fn fn, void *arg)
{
    tp_proxy *t = calloc(1, sizeof(*t));
    tamper_proxy_cfg cfg = {.upstream_port = upstream_port, .fn = fn, .arg = arg};

    if (t == NULL || tamper_proxy_start(&cfg, &t->p, NULL) != TALLY_OK) {
        abort(); /* a test that cannot listen on loopback cannot run */
    }
    return t;
}

uint16_t tp_port(const tp_proxy *p)
{
    return tamper_proxy_port(p->p);
}

void tp_stop(tp_proxy *p)
{
    if (p == NULL) {
        return;
    }
    tamper_proxy_stop(p->p);
    free(p);
}

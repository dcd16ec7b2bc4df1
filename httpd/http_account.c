/* The HTTP engine: what it counts — open connections per client address (IPv4, or IPv6 per
 * /64) and in all, for the limits checked at accept(), and responses by listener, route, method
 * and status, for the stats. */
#include "httpd/httpd_int.h"

#include <stdlib.h>
#include <string.h>

/* Statuses with their own counter; anything else is counted under status 0. */
static const unsigned stat_statuses[] = {0,   200, 201, 202, 204, 301, 302, 304,
                                         400, 401, 403, 404, 405, 408, 409, 413,
                                         414, 415, 422, 429, 500, 501, 503, 507};
#define STAT_SLOTS (sizeof(stat_statuses) / sizeof(stat_statuses[0]))

size_t httpd__stat_slots(void)
{
    return STAT_SLOTS;
}

/* ---- connection accounting ---- */

ip_key httpd__ip_key(const struct sockaddr *sa)
{
    ip_key k;

    memset(&k, 0, sizeof(k));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        k.b[10] = k.b[11] = 0xff;
        memcpy(&k.b[12], &s4->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            memcpy(k.b, &s6->sin6_addr, 16);
        } else {
            memcpy(k.b, &s6->sin6_addr, 8);
        }
    }
    return k;
}

static unsigned key_hash(const ip_key *k)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < sizeof(k->b); i++) {
        h = (h ^ k->b[i]) * 16777619u;
    }
    return h % IP_BUCKETS;
}

/* Takes one connection slot for key; false when a limit is reached (or on ENOMEM, which also
 * refuses the connection: fail closed). */
bool httpd__conn_admit(httpd *srv, const ip_key *k)
{
    ip_entry **slot, *e;
    bool ok = false;

    pthread_mutex_lock(&srv->mu);
    slot = &srv->ip[key_hash(k)];
    for (e = *slot; e != NULL && memcmp(&e->key, k, sizeof(*k)) != 0; e = e->next) {
    }
    if (srv->conns_total < srv->cfg.max_conns &&
        (e == NULL || e->count < srv->cfg.max_conns_per_ip)) {
        if (e == NULL) {
            e = calloc(1, sizeof(*e));
            if (e != NULL) {
                e->key = *k;
                e->next = *slot;
                *slot = e;
            }
        }
        if (e != NULL) {
            e->count++;
            srv->conns_total++;
            ok = true;
        }
    }
    pthread_mutex_unlock(&srv->mu);
    return ok;
}

void httpd__conn_release(httpd *srv, const ip_key *k)
{
    ip_entry **slot, *e;

    pthread_mutex_lock(&srv->mu);
    for (slot = &srv->ip[key_hash(k)]; (e = *slot) != NULL; slot = &e->next) {
        if (memcmp(&e->key, k, sizeof(*k)) == 0) {
            TALLY_ASSERT(e->count > 0 && srv->conns_total > 0);
            srv->conns_total--;
            if (--e->count == 0) {
                *slot = e->next;
                free(e);
            }
            break;
        }
    }
    pthread_mutex_unlock(&srv->mu);
}

/* ---- stats ---- */

static size_t stat_index(size_t l, unsigned route, httpd_method m, unsigned status)
{
    size_t slot = 0, i;

    for (i = 1; i < STAT_SLOTS; i++) {
        if (stat_statuses[i] == status) {
            slot = i;
        }
    }
    return ((l * HTTPD_ROUTES_MAX + route) * HTTPD_METHOD_COUNT + (size_t)m) * STAT_SLOTS + slot;
}

void httpd__stats_count(httpd *srv, const httpd_req *req)
{
    atomic_fetch_add_explicit(
        &srv->counts[stat_index(req->listener, req->route, req->method, req->status)], 1,
        memory_order_relaxed);
}

uint64_t httpd_requests(const httpd *srv, size_t listener, unsigned route, httpd_method method,
                        unsigned status)
{
    if (listener >= srv->n_lis || route >= HTTPD_ROUTES_MAX || method >= HTTPD_METHOD_COUNT) {
        return 0;
    }
    return atomic_load_explicit(&srv->counts[stat_index(listener, route, method, status)],
                                memory_order_relaxed);
}

void httpd_gauges_get(const httpd *srv, httpd_gauges *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    out->inflight = atomic_load_explicit(&srv->inflight, memory_order_relaxed);
    for (i = 0; i < srv->n_lis; i++) {
        out->conns_open[i] = atomic_load_explicit(&srv->conns_open[i], memory_order_relaxed);
        out->conns_accepted[i] =
            atomic_load_explicit(&srv->conns_accepted[i], memory_order_relaxed);
        out->conns_rejected[i] =
            atomic_load_explicit(&srv->conns_rejected[i], memory_order_relaxed);
    }
}


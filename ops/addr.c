/* Listen addresses and CIDR lists: the two address syntaxes of the configuration. Both are
 * strict on purpose (no names but localhost, no spaces, no host bits below a prefix), because a
 * typo in a trust list should stop the node, not widen or narrow who is trusted. */
#include <arpa/inet.h>
#include <string.h>

#include "ops/ops_int.h"

/* Reads a decimal port 0..65535 (no sign, no leading zero). */
static bool parse_port(const char *s, uint16_t *out)
{
    uint32_t v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 5 || (n > 1 && s[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535) {
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

tally_status ops_hostport_parse(const char *s, ops_hostport *out, char *err, size_t errcap)
{
    char host[64];
    const char *colon, *port;
    size_t hn;
    uint8_t bin[16];
    ops_hostport hp = {0};

    memset(out, 0, sizeof(*out));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            ops__errf(err, errcap, "an IPv6 address needs the form [addr]:port");
            return TALLY_EINVAL;
        }
        hn = (size_t)(close - s - 1);
        port = close + 2;
        if (hn == 0 || hn >= sizeof(host)) {
            ops__errf(err, errcap, "not an IPv6 address");
            return TALLY_EINVAL;
        }
        memcpy(host, s + 1, hn);
        host[hn] = '\0';
        if (inet_pton(AF_INET6, host, bin) != 1) {
            ops__errf(err, errcap, "'%s' is not an IPv6 address", host);
            return TALLY_EINVAL;
        }
        hp.family = OPS_AF_INET6;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            ops__errf(err, errcap, "missing :port");
            return TALLY_EINVAL;
        }
        hn = (size_t)(colon - s);
        port = colon + 1;
        if (hn == 0 || hn >= sizeof(host)) {
            ops__errf(err, errcap, "missing host before :port");
            return TALLY_EINVAL;
        }
        memcpy(host, s, hn);
        host[hn] = '\0';
        if (strcmp(host, "localhost") == 0) {
            memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
        } else if (inet_pton(AF_INET, host, bin) != 1) {
            ops__errf(err, errcap, "'%s' is not an IPv4 address (use a.b.c.d, [v6] or localhost)",
                      host);
            return TALLY_EINVAL;
        }
        hp.family = OPS_AF_INET4;
    }
    if (!parse_port(port, &hp.port)) {
        ops__errf(err, errcap, "'%s' is not a port 0..65535", port);
        return TALLY_EINVAL;
    }
    memcpy(hp.addr, host, strlen(host) + 1);
    *out = hp;
    return TALLY_OK;
}

/* Parses one "addr/len" item of n bytes. */
static tally_status parse_cidr(const char *s, size_t n, ops_cidr *out, char *err, size_t errcap)
{
    char buf[64];
    const char *slash;
    size_t an, ln;
    unsigned len = 0, maxlen;
    ops_cidr c = {0};

    slash = memchr(s, '/', n);
    if (slash == NULL) {
        ops__errf(err, errcap, "'%.*s' has no /prefix-length", (int)n, s);
        return TALLY_EINVAL;
    }
    an = (size_t)(slash - s);
    ln = n - an - 1;
    if (an == 0 || an >= sizeof(buf)) {
        ops__errf(err, errcap, "'%.*s' is not addr/len", (int)n, s);
        return TALLY_EINVAL;
    }
    memcpy(buf, s, an);
    buf[an] = '\0';
    if (inet_pton(AF_INET, buf, c.addr) == 1) {
        c.family = OPS_AF_INET4, maxlen = 32;
    } else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
        c.family = OPS_AF_INET6, maxlen = 128;
    } else {
        ops__errf(err, errcap, "'%s' is not an IPv4 or IPv6 address", buf);
        return TALLY_EINVAL;
    }
    if (ln == 0 || ln > 3 || (ln > 1 && slash[1] == '0')) {
        len = 999;
    }
    for (size_t i = 0; i < ln && len != 999; i++) {
        if (slash[1 + i] < '0' || slash[1 + i] > '9') {
            len = 999;
        } else {
            len = len * 10 + (unsigned)(slash[1 + i] - '0');
        }
    }
    if (len > maxlen) {
        ops__errf(err, errcap, "'%.*s': prefix length must be 0..%u", (int)n, s, maxlen);
        return TALLY_EINVAL;
    }
    c.len = (uint8_t)len;
    for (unsigned bit = len; bit < maxlen; bit++) {
        if (c.addr[bit / 8] & (0x80u >> (bit % 8))) {
            ops__errf(err, errcap, "'%.*s' has host bits set below the /%u prefix", (int)n, s, len);
            return TALLY_EINVAL;
        }
    }
    *out = c;
    return TALLY_OK;
}

tally_status ops_cidr_list_parse(const char *s, ops_cidr *out, size_t cap, size_t *n, char *err,
                                 size_t errcap)
{
    size_t count = 0;
    const char *p = s;
    tally_status st;

    *n = 0;
    if (s[0] == '\0') {
        return TALLY_OK;
    }
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        ops_cidr c;
        if (len == 0) {
            ops__errf(err, errcap, "empty item in the list");
            return TALLY_EINVAL;
        }
        st = parse_cidr(p, len, &c, err, errcap);
        if (st != TALLY_OK) {
            return st;
        }
        if (count == cap) {
            ops__errf(err, errcap, "more than %zu items", cap);
            return TALLY_ELIMIT;
        }
        out[count++] = c;
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    *n = count;
    return TALLY_OK;
}

bool ops_cidr_match(const ops_cidr *c, ops_family family, const uint8_t *addr)
{
    if (family != c->family) {
        return false;
    }
    for (unsigned bit = 0; bit < c->len; bit++) {
        uint8_t m = (uint8_t)(0x80u >> (bit % 8));
        if ((c->addr[bit / 8] & m) != (addr[bit / 8] & m)) {
            return false;
        }
    }
    return true;
}

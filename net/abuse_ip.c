/* Addresses for abuse control: parsing, CIDR lists, identities (v4 address, v6 /64), the client
 * IP behind trusted proxies (§3), display forms, and probe detection (§7.2). Pure functions. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/abuse_int.h"
#include "schema/schema.h"

#define ADDR_TEXT_MAX 64 /* longer than any address inet_pton accepts */

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

tally_status net_ip_parse(const char *s, size_t n, net_ip *out)
{
    char buf[ADDR_TEXT_MAX];
    uint8_t b6[16];

    memset(out, 0, sizeof(*out));
    if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL) {
        return TALLY_EFORMAT;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, out->b) == 1) {
        out->family = NET_IP_V4;
        return TALLY_OK;
    }
    if (inet_pton(AF_INET6, buf, b6) != 1) {
        return TALLY_EFORMAT;
    }
    if (memcmp(b6, v4_mapped, sizeof(v4_mapped)) == 0) {
        out->family = NET_IP_V4;
        memcpy(out->b, b6 + 12, 4);
    } else {
        out->family = NET_IP_V6;
        memcpy(out->b, b6, 16);
    }
    return TALLY_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims space and tab from both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space((*s)[0])) {
        (*s)++, (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1])) {
        (*n)--;
    }
}

static bool host_bits_zero(const net_ip *ip, unsigned prefix)
{
    unsigned width = ip->family == NET_IP_V4 ? 32u : 128u;
    for (unsigned bit = prefix; bit < width; bit++) {
        if (ip->b[bit / 8] & (0x80u >> (bit % 8))) {
            return false;
        }
    }
    return true;
}

/* One element "addr[/len]"; why gets the reason without the element's name. */
static tally_status parse_cidr(const char *s, size_t n, net_cidr *out, const char **why)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    unsigned prefix = 0, width;
    char text[ADDR_TEXT_MAX];
    uint8_t b6[16];
    bool mapped;

    *why = "not an IP address";
    if (alen == 0 || alen >= sizeof(text)) {
        return TALLY_EFORMAT;
    }
    memcpy(text, s, alen);
    text[alen] = '\0';
    /* A mapped prefix is written in v6 text; its length counts the 96 mapping bits. */
    mapped = inet_pton(AF_INET6, text, b6) == 1 && memcmp(b6, v4_mapped, 12) == 0;
    if (net_ip_parse(s, alen, &out->net) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    width = out->net.family == NET_IP_V4 && !mapped ? 32u : 128u;
    prefix = width;
    if (slash != NULL) {
        const char *d = slash + 1;
        size_t dn = n - alen - 1;
        *why = "bad prefix length";
        if (dn == 0 || dn > 3 || (dn > 1 && d[0] == '0')) {
            return TALLY_EFORMAT;
        }
        prefix = 0;
        for (size_t i = 0; i < dn; i++) {
            if (d[i] < '0' || d[i] > '9') {
                return TALLY_EFORMAT;
            }
            prefix = prefix * 10 + (unsigned)(d[i] - '0');
        }
        if (prefix > width) {
            *why = "prefix length above the address width";
            return TALLY_EFORMAT;
        }
    }
    if (mapped) {
        if (prefix < 96) {
            *why = "IPv4-mapped prefix shorter than /96";
            return TALLY_EFORMAT;
        }
        prefix -= 96;
    }
    if (!host_bits_zero(&out->net, prefix)) {
        *why = "host bits set below the prefix";
        return TALLY_EFORMAT;
    }
    out->prefix = (uint8_t)prefix;
    return TALLY_OK;
}

tally_status net_cidr_list_parse(const char *s, net_cidr_list *out, char *why)
{
    size_t len = strlen(s), count = 1, at = 0, idx = 0;
    const char *p = s, *reason = NULL;
    tally_status st = TALLY_OK;

    *out = (net_cidr_list)NET_CIDR_LIST_INIT;
    {
        const char *t = s;
        size_t tn = len;
        trim(&t, &tn);
        if (tn == 0) {
            return TALLY_OK;
        }
    }
    for (size_t i = 0; i < len; i++) {
        count += s[i] == ',';
    }
    if (count > NET_CIDR_LIST_MAX) {
        if (why != NULL) {
            snprintf(why, NET_WHY_MAX, "more than %u elements", NET_CIDR_LIST_MAX);
        }
        return TALLY_ELIMIT;
    }
    out->v = calloc(count, sizeof(*out->v));
    if (out->v == NULL) {
        return TALLY_ENOMEM;
    }
    while (idx < count) {
        const char *comma = memchr(p + at, ',', len - at);
        size_t end = comma ? (size_t)(comma - s) : len;
        const char *e = s + at;
        size_t en = end - at;

        trim(&e, &en);
        reason = "empty element";
        if (en == 0) {
            st = TALLY_EFORMAT;
        } else {
            st = parse_cidr(e, en, &out->v[idx], &reason);
        }
        if (st != TALLY_OK) {
            if (why != NULL) {
                snprintf(why, NET_WHY_MAX, "element %zu \"%.*s\": %s", idx + 1,
                         (int)(en > 60 ? 60 : en), e, reason);
            }
            net_cidr_list_release(out);
            return st;
        }
        idx++;
        at = end + 1;
    }
    out->n = count;
    return TALLY_OK;
}

void net_cidr_list_release(net_cidr_list *l)
{
    if (l == NULL) {
        return;
    }
    free(l->v);
    *l = (net_cidr_list)NET_CIDR_LIST_INIT;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0) {
        return false;
    }
    if (rest == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

bool net_cidr_match(const net_cidr_list *l, const net_ip *ip)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].net.family == ip->family &&
            prefix_equal(l->v[i].net.b, ip->b, l->v[i].prefix)) {
            return true;
        }
    }
    return false;
}

void net_ident_ip(const net_ip *ip, net_ident *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = NET_ID_IP;
    out->len = ip->family == NET_IP_V4 ? 4 : 8;
    memcpy(out->b, ip->b, out->len);
}

void net_ident_hotkey(const uint8_t acct[32], net_ident *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = NET_ID_HOTKEY;
    out->len = 32;
    memcpy(out->b, acct, 32);
}

void net_ident_format(const net_ident *id, char out[NET_IDENT_STR_MAX])
{
    char text[INET6_ADDRSTRLEN];
    uint8_t b6[16] = {0};

    if (id->kind == NET_ID_HOTKEY && id->len == 32) {
        char ss58[49];
        schema_ss58_encode(id->b, ss58);
        snprintf(out, NET_IDENT_STR_MAX, "hotkey:%s", ss58);
    } else if (id->kind == NET_ID_IP && id->len == 4 &&
               inet_ntop(AF_INET, id->b, text, sizeof(text)) != NULL) {
        snprintf(out, NET_IDENT_STR_MAX, "ip:%s", text);
    } else if (id->kind == NET_ID_IP && id->len == 8) {
        memcpy(b6, id->b, 8);
        if (inet_ntop(AF_INET6, b6, text, sizeof(text)) == NULL) {
            snprintf(out, NET_IDENT_STR_MAX, "ip:?");
            return;
        }
        snprintf(out, NET_IDENT_STR_MAX, "ip:%s/64", text);
    } else if (id->kind == NET_ID_KEY && id->len == 32) {
        char hex[65];
        schema_hex(id->b, 32, hex);
        snprintf(out, NET_IDENT_STR_MAX, "key:%s", hex);
    } else {
        snprintf(out, NET_IDENT_STR_MAX, "unknown:");
    }
}

tally_status net_ident_parse(const char *kind, const char *id, net_ident *out)
{
    size_t n = strlen(id);
    net_ip ip;

    memset(out, 0, sizeof(*out));
    if (strcmp(kind, "hotkey") == 0) {
        uint8_t acct[32];
        if ((n == 64 && schema_unhex(id, n, acct, 32) == TALLY_OK) ||
            (n != 64 && schema_ss58_decode(id, acct) == TALLY_OK)) {
            net_ident_hotkey(acct, out);
            return TALLY_OK;
        }
        return TALLY_EFORMAT;
    }
    if (strcmp(kind, "ip") != 0) {
        return TALLY_EFORMAT;
    }
    if (n > 3 && strcmp(id + n - 3, "/64") == 0) {
        if (net_ip_parse(id, n - 3, &ip) != TALLY_OK || ip.family != NET_IP_V6) {
            return TALLY_EFORMAT;
        }
        for (size_t i = 8; i < 16; i++) {
            if (ip.b[i] != 0) {
                return TALLY_EFORMAT; /* a /64 is written with its host half zero */
            }
        }
    } else if (net_ip_parse(id, n, &ip) != TALLY_OK) {
        return TALLY_EFORMAT;
    }
    net_ident_ip(&ip, out);
    return TALLY_OK;
}

/* ---- client IP ---- */

/* The element of the logical list that ends before (*vi, *end): moves the cursor left. False
 * when the list is exhausted. */
static bool prev_element(const tally_str *xff, size_t *vi, size_t *end, const char **e, size_t *en)
{
    while (*vi > 0) {
        const tally_str *v = &xff[*vi - 1];
        if (*end == SIZE_MAX) {
            *end = v->n;
        }
        size_t start = *end;
        while (start > 0 && v->p[start - 1] != ',') {
            start--;
        }
        *e = v->p + start;
        *en = *end - start;
        if (start == 0) {
            (*vi)--;
            *end = SIZE_MAX; /* the next call starts at the end of the value before */
        } else {
            *end = start - 1;
        }
        return true;
    }
    return false;
}

void net_client_ip(const net_ip *peer, const tally_str *xff, size_t n_xff,
                   const net_cidr_list *trusted, net_ip *out)
{
    size_t vi = n_xff, end = SIZE_MAX, en;
    const char *e;
    bool any = false;
    net_ip cur;

    *out = *peer;
    if (!net_cidr_match(trusted, peer)) {
        return;
    }
    while (prev_element(xff, &vi, &end, &e, &en)) {
        trim(&e, &en);
        if (net_ip_parse(e, en, &cur) != TALLY_OK) {
            *out = *peer; /* a proxy we trust wrote garbage: do not guess */
            return;
        }
        *out = cur;
        any = true;
        if (!net_cidr_match(trusted, &cur)) {
            return;
        }
    }
    if (!any) {
        *out = *peer;
    }
}

/* ---- probes ---- */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool eq_nocase(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn) {
        return false;
    }
    for (size_t i = 0; i < an; i++) {
        if (lower(a[i]) != b[i]) {
            return false;
        }
    }
    return true;
}

static bool starts_nocase(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    return an >= bn && eq_nocase(a, bn, b);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = lower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* The decoded path's first bytes: the longest entry and the byte after it fit. */
#define PROBE_PATH_MAX 64

/* The probe list of §7.2. A prefix entry matches any path beginning with it; an exact entry
 * matches itself and its subtree (itself followed by '/'). Lower case: compared ignoring case. */
static const struct {
    const char *path;
    bool prefix;
} probe_paths[] = {
    {"/admin", false},   {"/administrator", false}, {"/api", false},        {"/login", false},
    {"/wp-admin", true}, {"/wp-login.php", false},  {"/xmlrpc.php", false}, {"/phpmyadmin", true},
    {"/.env", false},    {"/.git/", true},          {"/cgi-bin/", true},    {"/robots.txt", false},
    {"/actuator", true}, {"/server-status", false},
};

static bool path_listed(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof(probe_paths) / sizeof(probe_paths[0]); i++) {
        const char *e = probe_paths[i].path;
        size_t en = strlen(e);
        if (probe_paths[i].prefix) {
            if (starts_nocase(p, n, e)) {
                return true;
            }
        } else if (eq_nocase(p, n, e) || (n > en && starts_nocase(p, n, e) && p[en] == '/')) {
            return true;
        }
    }
    return false;
}

/* "scheme:" at the start (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )). */
static bool has_scheme(const char *t, size_t n)
{
    size_t i = 0;
    if (n == 0 || !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) {
        return false;
    }
    while (i < n && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                     (t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' || t[i] == '.')) {
        i++;
    }
    return i < n && t[i] == ':';
}

bool net_abuse_is_probe(const char *method, const char *target, size_t n, bool has_auth_headers)
{
    char path[PROBE_PATH_MAX], prev = 0;
    size_t pn = 0;
    bool in_path = true;

    if (has_auth_headers) {
        return false;
    }
    if (eq_nocase(method, strlen(method), "connect") ||
        eq_nocase(method, strlen(method), "trace") || eq_nocase(method, strlen(method), "track")) {
        return true;
    }
    if (has_scheme(target, n)) {
        return true;
    }
    /* One pass: %XX is decoded, so an encoded dot or letter cannot slip past; ".." anywhere in
     * the target counts, the list only in the path (up to a literal '?'). A path longer than the
     * buffer cannot equal an exact entry, and prefixes need only its first bytes. */
    for (size_t i = 0; i < n; i++) {
        char c = target[i];
        if (c == '?') {
            in_path = false;
        }
        if (c == '%' && n - i >= 3 && hexval(target[i + 1]) >= 0 && hexval(target[i + 2]) >= 0) {
            c = (char)(hexval(target[i + 1]) * 16 + hexval(target[i + 2]));
            i += 2;
        }
        if (prev == '.' && c == '.') {
            return true;
        }
        prev = c;
        if (in_path && pn < sizeof(path)) {
            path[pn++] = c;
        }
    }
    return path_listed(path, pn);
}

/* Outside input to net/'s abuse engine: a bans row (LMDB, or typed by an operator), an
 * X-Forwarded-For value, a CIDR list and a request target. The first byte picks the parser.
 * Nothing may crash; a ban that decodes must re-encode to exactly its bytes, and a client IP must
 * be the peer or an address of the header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/abuse_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ban_row(const uint8_t *p, size_t n)
{
    uint8_t key[NET_BAN_KEY_MAX], val[NET_BAN_VALUE_MAX];
    size_t kl, kn, vn;
    net_ban b;

    if (n == 0) {
        return;
    }
    kl = p[0] % (NET_BAN_KEY_MAX + 2);
    p++, n--;
    if (kl > n) {
        return;
    }
    if (net_ban_decode(p, kl, p + kl, n - kl, &b) != TALLY_OK) {
        return;
    }
    if (net_ban_key_encode(&b.id, key, sizeof(key), &kn) != TALLY_OK || kn != kl ||
        memcmp(key, p, kl) != 0 || net_ban_value_encode(&b, val, sizeof(val), &vn) != TALLY_OK ||
        vn != n - kl || memcmp(val, p + kl, vn) != 0) {
        abort();
    }
}

static void text_inputs(const uint8_t *p, size_t n)
{
    static const char *const trusted_s = "10.0.0.0/8,2001:db8::/32";
    char *s = malloc(n + 1);
    net_cidr_list l, trusted;
    net_ip peer = {.family = NET_IP_V4, .b = {10, 0, 0, 1}}, out;
    tally_str v = {s, n};

    if (s == NULL) {
        return;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    if (net_cidr_list_parse(s, &l, NULL) == TALLY_OK) {
        net_cidr_list_release(&l);
    }
    if (net_cidr_list_parse(trusted_s, &trusted, NULL) != TALLY_OK) {
        abort();
    }
    net_client_ip(&peer, &v, 1, &trusted, &out);
    net_cidr_list_release(&trusted);
    (void)net_abuse_is_probe("GET", s, n, false);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if (data[0] & 1) {
        ban_row(data + 1, size - 1);
    } else {
        text_inputs(data + 1, size - 1);
    }
    return 0;
}

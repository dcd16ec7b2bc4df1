/* Split views seen through other auditors (TALLY_AUDIT_PEERS): each round fetches every peer's
 * `GET /checkpoint` (the note that auditor trusts, served by its ops listener) and compares it
 * with this replica's tree. A note the node signed for a size this replica holds, with another
 * root than the replica's at that size, is the node showing two views: two heads of the same
 * size under one key, which no honest log can produce. Both notes are kept as evidence. A peer
 * that cannot be reached, or serves a note the node did not sign, proves nothing and is only
 * logged: a peer cannot frame the node without the node's own signature. A peer's head larger
 * than this replica's trusted one must be proven to extend it by the node's consistency proof,
 * as the node's own checkpoint must be; a proof that does not verify is a split view too. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditor/audit_int.h"

tally_status audit__peers_parse(audit *a, const char *list, char *detail)
{
    const char *p = list;

    a->n_peers = 0;
    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char url[CLIENT_HOST_MAX + 64];
        if (n > 0) {
            if (a->n_peers == AUDIT_PEERS_MAX || n >= sizeof(url)) {
                return audit__say(detail, TALLY_EINVAL,
                                  "TALLY_AUDIT_PEERS: at most %d peers, each an http:// URL",
                                  AUDIT_PEERS_MAX);
            }
            memcpy(url, p, n);
            url[n] = '\0';
            if (client_url_parse(url, &a->peers[a->n_peers]) != TALLY_OK ||
                strcmp(a->peers[a->n_peers].target, "/") != 0) {
                return audit__say(detail, TALLY_EINVAL,
                                  "TALLY_AUDIT_PEERS: %s is not http://host:port of an "
                                  "auditor's ops listener",
                                  url);
            }
            snprintf(a->peer_urls[a->n_peers], sizeof(a->peer_urls[0]), "%s", url);
            a->n_peers++;
        }
        p = comma ? comma + 1 : NULL;
    }
    return TALLY_OK;
}

/* The peer's /checkpoint body (malloc'd, NUL-terminated), or NULL when it cannot be had. */
static char *fetch(const client_url *u, size_t *n_out)
{
    client_cfg cc = {
        .host = u->host, .port = u->port, .connect_timeout_ms = 2000, .io_timeout_ms = 5000};
    client_conn *c = NULL;
    client_response *r = NULL;
    client_request rq = {.method = "GET", .target = "/checkpoint"};
    char *out = NULL;

    if (client_open(&cc, &c) == TALLY_OK && client_do(c, &rq, &r) == TALLY_OK &&
        client_response_status(r) == 200) {
        tally_bytes b = client_response_body(r);
        out = malloc(b.n + 1);
        if (out != NULL) {
            memcpy(out, b.p, b.n);
            out[b.n] = '\0';
            *n_out = b.n;
        }
    }
    client_response_free(r);
    client_close(c);
    return out;
}

tally_status audit__peers(audit *a, audit_round *r)
{
    tally_status st = TALLY_OK;

    for (size_t i = 0; st == TALLY_OK && i < a->n_peers && !a->st.failed; i++) {
        size_t n = 0;
        char *note = fetch(&a->peers[i], &n);
        uint64_t size = 0;
        uint8_t root[32], mine[32];
        char hex_theirs[65], hex_mine[65];
        if (note == NULL) {
            r->peers_unreachable++;
            OPS_LOG(a->olog, OPS_WARN, "auditor", "peer_unreachable",
                    OPS_FS("peer", a->peer_urls[i]));
            continue;
        }
        if (store_note_verify(note, n, a->node_vkey, &size, root) != TALLY_OK) {
            OPS_LOG(a->olog, OPS_WARN, "auditor", "peer_note_unsigned",
                    OPS_FS("peer", a->peer_urls[i]));
            free(note);
            continue;
        }
        if (size == 0) {
            free(note);
            continue;
        }
        if (size > a->st.trusted_size || size > store_size(a->log)) {
            /* a head beyond this replica's: the node must prove it extends the trusted head,
             * as it must for its own checkpoint; one it cannot prove is a split view */
            bool ok = false;
            char what[AUDIT_WHAT_MAX];
            if (size <= a->st.trusted_size ||
                audit__consistent(a, a->st.trusted_size, a->st.trusted_root, size, root, &ok,
                                  what) != TALLY_OK) {
                r->peers_ahead++; /* no proof served: compared once this replica catches up */
                free(note);
                continue;
            }
            if (ok) {
                r->peers_agree++;
            } else {
                schema_hex(root, 32, hex_theirs);
                json_t *ev = json_pack("{ss ss# ss sI sI}", "peer", a->peer_urls[i], "peer_note",
                                       note, (int)(n < 3000 ? n : 3000), "trusted_note",
                                       a->st.trusted_note, "size", (json_int_t)size,
                                       "trusted_size", (json_int_t)a->st.trusted_size);
                st = audit__split_view(a, r, ev,
                                       "split view: the auditor at %s holds a head of %" PRIu64
                                       " records signed by the node with root %.16s…, which the "
                                       "node's consistency proof does not show extending the "
                                       "trusted head of %" PRIu64 " records",
                                       a->peer_urls[i], size, hex_theirs, a->st.trusted_size);
            }
            free(note);
            continue;
        } else if (size == a->st.trusted_size) {
            memcpy(mine, a->st.trusted_root, 32);
        } else {
            st = store_root(a->log, size, mine);
        }
        if (st == TALLY_OK && memcmp(mine, root, 32) == 0) {
            r->peers_agree++;
        } else if (st == TALLY_OK) {
            schema_hex(root, 32, hex_theirs);
            schema_hex(mine, 32, hex_mine);
            json_t *ev = json_pack("{ss ss# ss sI}", "peer", a->peer_urls[i], "peer_note", note,
                                   (int)(n < 3000 ? n : 3000), "trusted_note", a->st.trusted_note,
                                   "size", (json_int_t)size);
            if (ev == NULL) {
                /* a note JSON cannot hold (cut inside a character, not UTF-8): the two roots
                 * say the same thing */
                ev = json_pack("{ss ss ss sI}", "peer", a->peer_urls[i], "peer_root", hex_theirs,
                               "root", hex_mine, "size", (json_int_t)size);
            }
            st = audit__split_view(a, r, ev,
                                   "split view: the auditor at %s holds a head of %" PRIu64
                                   " records signed by the node with root %.16s…, this "
                                   "replica's root at that size is %.16s…",
                                   a->peer_urls[i], size, hex_theirs, hex_mine);
        }
        free(note);
    }
    return st;
}

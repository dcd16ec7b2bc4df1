/* tally submit: sign like `tally sign`, post to the ingest listener, retry safely, verify the
 * receipt and keep it (the loop and the checks are client_submit, client/submit.c). */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin_int.h"
#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally submit --ingest URL --key FILE (--odds|--outcomes)\n"
           "                    (--verifier-key VKEY | --node-key HEX --origin ORIGIN)\n"
           "                    [--receipts DIR] [--retries N] [--max-wait S] [--timeout MS]\n"
           "                    [--nonce N] < request.json\n\n"
           "Builds and signs the request as 'tally sign' does (the same JSON on stdin), posts\n"
           "it to URL (http://host:port; a path, if any, is the request-target, else /v1/odds\n"
           "or /v1/outcomes), and checks the answer. On a timeout, a connection failure, 408,\n"
           "429 or 503 it retries up to N times with the SAME nonce and body, re-signed with a\n"
           "fresh Tally-Time (protocol §4: a write that did land answers \"duplicate\": true),\n"
           "sleeping Retry-After on 429/503, else 0.25 s doubling to 5 s, at most S seconds in\n"
           "all. The receipt of the accepted items is verified against the node key and the\n"
           "request's own bodies and signatures (every leaf hash rebuilt), and kept as\n"
           "DIR/<nonce>.json (the node's JSON, one line). One line per item is printed:\n\n"
           "  nonce 1767225600000000: accepted 1, rejected 1 (attempts 1)\n"
           "  item 0 accepted seq 812\n"
           "  item 1 rejected market_closed\n"
           "  receipt verified: tree_size 813, kept in DIR/1767225600000000.json\n\n"
           "The node key: --verifier-key takes what 'tally key' prints on the node\n"
           "(origin+keyid+base64), which also gives the origin; or --node-key (64 hex) with\n"
           "--origin.\n\n"
           "  --ingest URL        the node's ingest listener, e.g. http://127.0.0.1:8093\n"
           "  --key FILE          the miner's key file (tally keygen)\n"
           "  --odds | --outcomes which request\n"
           "  --verifier-key VKEY the node's verifier key (origin+keyid+base64)\n"
           "  --node-key HEX      the node's Ed25519 key, with --origin ORIGIN\n"
           "  --receipts DIR      keep receipts here (made 0700 if missing)\n"
           "  --retries N         further attempts after the first (default 3)\n"
           "  --max-wait S        total seconds slept between attempts (default 60)\n"
           "  --timeout MS        each wait for the node's bytes (default 30000)\n"
           "  --nonce N           the write nonce (default: the Unix time in µs)\n\n"
           "Exit: 0 at least one item accepted and the receipt verified; 1 the node accepted\n"
           "nothing (every item rejected, or the request refused: the code is printed);\n"
           "2 usage; 3 bad request JSON; 4 no key file; 7 the receipt's signature does not\n"
           "verify; 8 the signed receipt contradicts the request (keep it: it is evidence);\n"
           "9 no answer after every attempt, still 429/503 when the wait ran out, an answer\n"
           "that is not the protocol's JSON, or the receipt could not be kept in DIR.\n");
}

typedef struct submit_opts {
    const char *ingest, *key, *vkey, *node_key, *origin, *receipts;
    unsigned type;
    uint64_t retries, max_wait_s, timeout_ms, nonce;
} submit_opts;

static int num(const char *flag, const char *arg, uint64_t max, uint64_t *out)
{
    if (!cli_parse_u64(arg, out) || *out > max) {
        return cli_usage_error("submit", "%s takes a number up to %llu, not '%s'", flag,
                               (unsigned long long)max, arg);
    }
    return CLI_OK;
}

static int parse(int argc, char **argv, submit_opts *o)
{
    static const struct option opts[] = {{"ingest", required_argument, NULL, 'i'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"odds", no_argument, NULL, 'O'},
                                         {"outcomes", no_argument, NULL, 'U'},
                                         {"verifier-key", required_argument, NULL, 'v'},
                                         {"node-key", required_argument, NULL, 'N'},
                                         {"origin", required_argument, NULL, 'g'},
                                         {"receipts", required_argument, NULL, 'r'},
                                         {"retries", required_argument, NULL, 'R'},
                                         {"max-wait", required_argument, NULL, 'W'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"nonce", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c, rc = CLI_OK;

    optind = 1;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->ingest = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'O':
            o->type = o->type ? 1 : CLIENT_ODDS;
            break;
        case 'U':
            o->type = o->type ? 1 : CLIENT_OUTCOMES;
            break;
        case 'v':
            o->vkey = optarg;
            break;
        case 'N':
            o->node_key = optarg;
            break;
        case 'g':
            o->origin = optarg;
            break;
        case 'r':
            o->receipts = optarg;
            break;
        case 'R':
            rc = num("--retries", optarg, 1000, &o->retries);
            break;
        case 'W':
            rc = num("--max-wait", optarg, 3600, &o->max_wait_s);
            break;
        case 't':
            rc = num("--timeout", optarg, 600000, &o->timeout_ms);
            break;
        case 'n':
            rc = num("--nonce", optarg, (1ull << 53) - 1u, &o->nonce);
            rc = rc == CLI_OK && o->nonce == 0 ? cli_usage_error("submit", "--nonce is ≥ 1") : rc;
            break;
        case 'h':
            help();
            return -1;
        default:
            return cli_usage_error("submit", "unknown option");
        }
    }
    if (rc != CLI_OK) {
        return rc;
    }
    if (optind != argc) {
        return cli_usage_error("submit", "unexpected argument %s", argv[optind]);
    }
    if (o->ingest == NULL || o->key == NULL ||
        (o->type != CLIENT_ODDS && o->type != CLIENT_OUTCOMES)) {
        return cli_usage_error("submit", "give --ingest, --key and one of --odds and --outcomes");
    }
    if ((o->vkey == NULL) == (o->node_key == NULL) || (o->node_key && o->origin == NULL)) {
        return cli_usage_error("submit", "give the node key: --verifier-key VKEY, or --node-key "
                                         "HEX with --origin ORIGIN");
    }
    return CLI_OK;
}

static int summary(const client_write *w, const client_submit_result *r)
{
    printf("nonce %llu: %s%s, accepted %zu, rejected %zu (attempts %u)\n",
           (unsigned long long)client_write_nonce(w),
           r->status == 200 ? "ok"
           : r->error[0]    ? r->error
                            : "refused",
           r->duplicate ? " (duplicate: an earlier attempt landed)" : "", r->accepted, r->rejected,
           r->attempts);
    for (size_t i = 0; i < r->n_items; i++) {
        const client_item_result *it = &r->items[i];
        if (it->accepted) {
            printf("item %zu accepted seq %llu\n", it->idx, (unsigned long long)it->seq);
        } else {
            printf("item %zu rejected %s\n", it->idx, it->error[0] ? it->error : "(no code)");
        }
    }
    if (r->status != 200) {
        fprintf(stderr, "tally submit: the node refused the request: %u %s: %s\n", r->status,
                r->error, r->message);
        return CLI_CHECK_FAILED;
    }
    if (r->verdict == CLIENT_REJECTED) {
        fprintf(stderr, "tally submit: the node accepted no item\n");
        return CLI_CHECK_FAILED;
    }
    if (r->verdict == CLIENT_RECEIPT_BAD) {
        fprintf(stderr, "tally submit: the receipt does not verify: %s%s%s\n",
                r->receipt_st == TALLY_EAUTH       ? "bad node signature"
                : r->receipt_st == TALLY_ECONFLICT ? "it contradicts the request"
                                                   : "missing or malformed",
                r->receipt_path[0] ? "; kept in " : "", r->receipt_path);
        return r->receipt_st == TALLY_ECONFLICT ? CLI_CONFLICT : CLI_AUTH;
    }
    printf("receipt verified: tree_size %llu%s%s\n", (unsigned long long)r->tree_size,
           r->receipt_path[0] ? ", kept in " : "", r->receipt_path);
    return CLI_OK;
}

static void on_retry(void *arg, unsigned attempt, unsigned wait_ms, const char *why)
{
    (void)arg;
    fprintf(stderr, "tally submit: attempt %u: %s; retrying in %u ms with the same nonce\n",
            attempt, why, wait_ms);
}

int cmd_submit(int argc, char **argv)
{
    submit_opts o = {.retries = 3, .max_wait_s = 60};
    char origin[129] = "", detail[CLIENT_DETAIL_MAX] = "";
    uint8_t node_pk[32], pk[32], *sk = NULL;
    client_url url;
    client_write *w = NULL;
    client_submit_result *res = NULL;
    tally_status st;
    int rc = parse(argc, argv, &o);

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    if (o.vkey != NULL && client_vkey_parse(o.vkey, origin, node_pk) != TALLY_OK) {
        return cli_usage_error("submit", "--verifier-key takes origin+keyid+base64 as 'tally "
                                         "key' prints it");
    }
    if (o.node_key != NULL &&
        (strlen(o.node_key) != 64 || schema_unhex(o.node_key, 64, node_pk, 32) != TALLY_OK)) {
        return cli_usage_error("submit", "--node-key takes 64 lower-case hex digits");
    }
    if (o.origin != NULL) {
        if (o.vkey != NULL && strcmp(o.origin, origin) != 0) {
            return cli_usage_error("submit", "--origin %s is not the verifier key's %s", o.origin,
                                   origin);
        }
        snprintf(origin, sizeof(origin), "%s", o.origin);
    }
    if (client_url_parse(o.ingest, &url) != TALLY_OK) {
        return cli_usage_error("submit", "--ingest takes http://host[:port][/target], not '%s'",
                               o.ingest);
    }
    rc = cli_miner_key("submit", o.key, pk, &sk);
    if (rc != CLI_OK) {
        return rc;
    }
    client_write_cfg wc = {.type = o.type,
                           .origin = origin,
                           .pk = pk,
                           .sk = sk,
                           .nonce = o.nonce,
                           .target = strcmp(url.target, "/") ? url.target : NULL};
    rc = cli_write_from_stdin("submit", &wc, &w);
    res = rc == CLI_OK ? calloc(1, sizeof(*res)) : NULL;
    if (rc == CLI_OK && res == NULL) {
        rc = cli_fail("submit", TALLY_ENOMEM, "no memory");
    }
    if (rc == CLI_OK) {
        client_submit_cfg sc = {.host = url.host,
                                .port = url.port,
                                .node_pk = node_pk,
                                .retries = (unsigned)o.retries,
                                .max_wait_ms = (unsigned)o.max_wait_s * 1000u + 1u,
                                .io_timeout_ms = (unsigned)o.timeout_ms,
                                .receipts_dir = o.receipts,
                                .on_retry = on_retry};
        st = client_submit(&sc, w, res, detail);
        if (st == TALLY_OK || (res->status == 200 && res->n_items > 0)) {
            rc = summary(w, res); /* a receipt that could not be kept fails below */
        }
        if (st != TALLY_OK) {
            rc = cli_fail("submit", st, "nonce %llu: %s", (unsigned long long)client_write_nonce(w),
                          detail[0] ? detail : "the submit failed");
            /* no answer, a busy node, or an answer that is not the protocol's JSON */
            rc = st == TALLY_EIO || st == TALLY_EAGAIN || st == TALLY_EFORMAT ? CLI_IO : rc;
        }
    }
    free(res);
    client_write_free(w);
    sodium_free(sk);
    return rc;
}

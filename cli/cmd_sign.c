/* tally sign: a signed odds or outcome request (protocol §4, §5) for miners without msgpack or
 * Ed25519: JSON in, the canonical body and the Tally-* headers out, ready for curl. */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin_int.h"
#include "cli/cli.h"

static void help(void)
{
    printf(
        "usage: tally sign --key FILE --origin ORIGIN (--odds|--outcomes) [--nonce N]\n"
        "                  [--time MS] [--target PATH] [--out FILE] < request.json\n\n"
        "Builds a signed ingest request from JSON on stdin: fills each item's nonce and idx,\n"
        "draws a fresh 16-byte salt per item, signs each item (its record signature) and the\n"
        "request (the protocol §4 signing string for POST and the target), and prints the\n"
        "hex of the canonical msgpack body on the first line, then the headers:\n\n"
        "  9192...                      (the body, hex; 'head -1 | xxd -r -p > body.bin')\n"
        "  Content-Type: application/msgpack\n"
        "  Tally-Key: 79b5...\n"
        "  Tally-Time: 1767225600123\n"
        "  Tally-Nonce: 1767225600000000\n"
        "  Tally-Signature: 20e8...\n\n"
        "With --out FILE the body bytes go to FILE and only the headers are printed, e.g.\n"
        "  tally sign --key k --origin tally.example.org/57 --odds --out b < r.json > h\n"
        "  curl --data-binary @b -H @h http://127.0.0.1:8093/v1/odds\n"
        "The request must reach the node within 30 s of its Tally-Time.\n\n"
        "The JSON (odds): {\"items\": [{\"event_id\": 4242, \"markets\": [{\"market_id\": 90001,\n"
        "  \"kind\": \"moneyline\", \"priced_at_ms\": null, \"prices\": [\n"
        "  {\"side\": \"home\", \"odds_n\": 1910000000, \"imp_prob_n\": 523560209},\n"
        "  {\"side\": \"away\", \"odds_n\": 2100000000, \"imp_prob_n\": 476190476}]}]}]}\n"
        "(odds in nanos, implied probabilities in nanos; markets ascending by market_id,\n"
        "prices by side; one item per event). Outcomes: {\"items\": [{\"event_id\": 4242,\n"
        "  \"result\": \"home\", \"score_home\": 2, \"score_away\": 1}]} (result or both\n"
        "scores; every field is given, null when absent). \"nonce\", \"idx\" and \"salt\"\n"
        "are filled in (a given salt is kept; a given nonce or idx must agree).\n"
        "docs/clients.md has the details.\n\n"
        "  --key FILE      the miner's key file (tally keygen)\n"
        "  --origin ORIGIN the node's origin (its checkpoint's first line)\n"
        "  --odds | --outcomes  which request (target /v1/odds or /v1/outcomes)\n"
        "  --nonce N       the write nonce, 1..2^53-1 (default: the Unix time in µs)\n"
        "  --time MS       Tally-Time in Unix ms (default: now)\n"
        "  --target PATH   the request-target as it will be sent (default by kind)\n"
        "  --out FILE      write the body bytes to FILE, print only the headers\n\n"
        "Exit: 0 signed, 2 usage, 3 bad request JSON, 4 no key file, 7 key file not 0600,\n"
        "9 I/O.\n");
}

int cli_read_stdin(const char *cmd, size_t max, char **out, size_t *n_out)
{
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);

    *out = NULL;
    *n_out = 0;
    while (buf != NULL) {
        size_t k;
        if (n + 1 == cap) {
            char *nb = cap > max ? NULL : realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                return cap > max ? cli_fail(cmd, TALLY_ELIMIT, "stdin has more than %zu bytes", max)
                                 : cli_fail(cmd, TALLY_ENOMEM, "reading stdin");
            }
            buf = nb, cap *= 2;
        }
        k = fread(buf + n, 1, cap - 1 - n, stdin);
        n += k;
        if (k == 0) {
            break;
        }
    }
    if (buf == NULL) {
        return cli_fail(cmd, TALLY_ENOMEM, "reading stdin");
    }
    if (ferror(stdin)) {
        free(buf);
        return cli_fail(cmd, TALLY_EIO, "reading stdin");
    }
    buf[n] = '\0';
    *out = buf;
    *n_out = n;
    return CLI_OK;
}

int cli_miner_key(const char *cmd, const char *path, uint8_t pk[32], uint8_t **sk_out)
{
    char detail[STORE_DETAIL_MAX] = "";
    uint8_t *sk = sodium_malloc(64);
    tally_status st;

    *sk_out = NULL;
    if (sk == NULL) {
        return cli_fail(cmd, TALLY_ENOMEM, "no memory for the key");
    }
    st = store_key_read(path, pk, sk, detail);
    if (st != TALLY_OK) {
        sodium_free(sk);
        return cli_fail(cmd, st, "%s", detail[0] ? detail : path);
    }
    *sk_out = sk;
    return CLI_OK;
}

int cli_write_from_stdin(const char *cmd, const client_write_cfg *cfg, client_write **out)
{
    char detail[CLIENT_DETAIL_MAX] = "", *json = NULL;
    size_t n = 0;
    tally_status st;
    int rc = cli_read_stdin(cmd, CLI_STDIN_MAX, &json, &n);

    if (rc != CLI_OK) {
        return rc;
    }
    st = client_write_new(cfg, json, n, out, detail);
    free(json);
    if (st != TALLY_OK) {
        return cli_fail(cmd, st, "%s", detail[0] ? detail : "cannot build the request");
    }
    return CLI_OK;
}

static int write_file(const char *path, tally_bytes b)
{
    FILE *f = fopen(path, "wb");
    bool ok = f != NULL && fwrite(b.p, 1, b.n, f) == b.n;

    ok = f != NULL && fclose(f) == 0 && ok;
    return ok ? CLI_OK : cli_fail("sign", TALLY_EIO, "cannot write %s", path);
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},    {"origin", required_argument, NULL, 'g'},
        {"nonce", required_argument, NULL, 'n'},  {"time", required_argument, NULL, 't'},
        {"target", required_argument, NULL, 'T'}, {"out", required_argument, NULL, 'o'},
        {"odds", no_argument, NULL, 'O'},         {"outcomes", no_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *key = NULL, *out = NULL;
    client_write_cfg wc = {0};
    uint64_t time_ms = 0;
    client_write *w = NULL;
    uint8_t pk[32], *sk = NULL;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key = optarg;
            break;
        case 'g':
            wc.origin = optarg;
            break;
        case 'T':
            wc.target = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'O':
            wc.type = wc.type ? 1 : CLIENT_ODDS;
            break;
        case 'U':
            wc.type = wc.type ? 1 : CLIENT_OUTCOMES;
            break;
        case 'n':
            if (!cli_parse_u64(optarg, &wc.nonce) || wc.nonce == 0 || wc.nonce >> 53) {
                return cli_usage_error("sign", "--nonce takes 1..2^53-1, not '%s'", optarg);
            }
            break;
        case 't':
            if (!cli_parse_u64(optarg, &time_ms) || time_ms >> 53) {
                return cli_usage_error("sign", "--time takes Unix ms, not '%s'", optarg);
            }
            break;
        case 'h':
            help();
            return CLI_OK;
        default:
            return cli_usage_error("sign", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("sign", "unexpected argument %s", argv[optind]);
    }
    if (key == NULL || wc.origin == NULL ||
        (wc.type != CLIENT_ODDS && wc.type != CLIENT_OUTCOMES)) {
        return cli_usage_error("sign", "give --key, --origin and one of --odds and --outcomes");
    }
    rc = cli_miner_key("sign", key, pk, &sk);
    if (rc != CLI_OK) {
        return rc;
    }
    wc.pk = pk, wc.sk = sk;
    rc = cli_write_from_stdin("sign", &wc, &w);
    if (rc == CLI_OK && time_ms != 0 && client_write_sign(w, time_ms) != TALLY_OK) {
        rc = cli_fail("sign", TALLY_EINVAL, "cannot sign for --time %llu",
                      (unsigned long long)time_ms);
    }
    if (rc == CLI_OK) {
        tally_bytes b = client_write_body(w);
        const client_header *h = client_write_headers(w);
        if (out != NULL) {
            rc = write_file(out, b);
        } else {
            for (size_t i = 0; i < b.n; i++) {
                printf("%02x", b.p[i]);
            }
            printf("\n");
        }
        if (rc == CLI_OK) {
            printf("Content-Type: application/msgpack\n");
            for (int i = 0; i < 4; i++) {
                printf("%s: %s\n", h[i].name, h[i].value);
            }
        }
    }
    client_write_free(w);
    sodium_free(sk);
    return rc;
}

/* The miner clients and the admin wrappers against a real node: `tally sign` output that the
 * node accepts as pasted, `tally submit` with a verified and kept receipt, a submit that
 * outlives a node restart and stays idempotent, `tally feed` naming a bad line and appending
 * nothing, `tally config set` changing what the next request may carry, `tally ban` online and
 * offline (the stopped node's table edited, loaded at the next start), `tally cooldown ls`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/node.h"
#include "util/testutil.h"
#include "wire/wire.h"

#define DAY 86400000ull
#define OUT_MAX 65536

static const char *bin(void)
{
    const char *b = getenv("TALLY_BIN");
    assert_non_null(b);
    return b;
}

static char out[OUT_MAX];

/* Runs `tally ARGS 2>&1` (stdout and stderr into out); returns the exit status. */
static int tally(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int tally(const char *fmt, ...)
{
    char args[3500];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    return tu_run(out, sizeof(out), "%s %s 2>&1", bin(), args);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* The miner's key file (tally keygen with the seed tn_miner_init uses). */
static void key_file(tn_node *n, uint8_t seed, char *path, size_t cap)
{
    char hex[65];

    snprintf(path, cap, "%s/miner%u.key", n->tmp, seed);
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", seed);
    }
    assert_int_equal(tally("keygen --out %s --seed %s", path, hex), 0);
}

/* An odds request for one event (market 1000 × id + 1), odds in nanos; salt fixed when given. */
static void odds_json(tn_node *n, const char *name, uint64_t event, uint64_t home, uint64_t away,
                      const char *salt, char *path, size_t cap)
{
    char text[1024];

    snprintf(path, cap, "%s/%s.json", n->tmp, name);
    snprintf(text, sizeof(text),
             "{\"items\": [{\"event_id\": %llu,%s%s%s \"markets\": [{\"market_id\": %llu, "
             "\"kind\": \"moneyline\", \"priced_at_ms\": null, \"prices\": ["
             "{\"side\": \"home\", \"odds_n\": %llu, \"imp_prob_n\": %llu}, "
             "{\"side\": \"away\", \"odds_n\": %llu, \"imp_prob_n\": %llu}]}]}]}\n",
             (unsigned long long)event, salt ? " \"salt\": \"" : "", salt ? salt : "",
             salt ? "\"," : "", (unsigned long long)(1000 * event + 1), (unsigned long long)home,
             (unsigned long long)(1000000000000000000ull / home), (unsigned long long)away,
             (unsigned long long)(1000000000000000000ull / away));
    write_text(path, text);
}

static void vkey_of(tn_node *n, char *vk, size_t cap)
{
    char *nl;

    assert_int_equal(tu_run(vk, cap, "%s key --dir %s", bin(), n->dir), 0);
    nl = strrchr(vk, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
    nl = strrchr(vk, '\n'); /* the verifier key is the last line */
    if (nl != NULL) {
        memmove(vk, nl + 1, strlen(nl + 1) + 1);
    }
}

static void hotkey_of(const tn_miner *m, char ss58[49])
{
    uint8_t acct[32];

    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(m->pk[b] ^ 0x55); /* as tn_feed binds it */
    }
    schema_ss58_encode(acct, ss58);
}

static const char *ops_url(tn_node *n)
{
    static char url[1024];
    snprintf(url, sizeof(url), "--ops http://127.0.0.1:%u --dir %s", n->port[TN_OPS], n->dir);
    return url;
}

static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- sign ---- */

static void sign_then_post(void **state)
{
    tn_node n;
    tn_miner m;
    tn_resp r;
    uint64_t ids[1] = {7101};
    char key[600], req[600], hdr_names[5][32], hdr_vals[5][160];
    client_header h[5];
    uint8_t *body;
    size_t bl, hex_n, nh = 0;
    char *line, *save = NULL;
    (void)state;

    tn_init(&n, "cli_sign");
    tn_start(&n);
    tn_miner_init(&m, 1);
    tn_feed(&n, &m, 1, 100, ids, 1, tn_now() + DAY);
    key_file(&n, 1, key, sizeof(key));
    odds_json(&n, "sign", 7101, 1910000000, 2100000000, NULL, req, sizeof(req));
    assert_int_equal(tally("sign --key %s --origin %s --odds < %s", key, n.origin, req), 0);
    /* first line the body hex, then Content-Type and the four Tally-* headers */
    line = strtok_r(out, "\n", &save);
    assert_non_null(line);
    hex_n = strlen(line);
    body = malloc(hex_n / 2 + 1);
    assert_non_null(body);
    assert_int_equal(schema_unhex(line, hex_n, body, hex_n / 2), TALLY_OK);
    bl = hex_n / 2;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL && nh < 5) {
        char *colon = strstr(line, ": ");
        assert_non_null(colon);
        snprintf(hdr_names[nh], sizeof(hdr_names[nh]), "%.*s", (int)(colon - line), line);
        snprintf(hdr_vals[nh], sizeof(hdr_vals[nh]), "%s", colon + 2);
        nh++;
    }
    assert_int_equal(nh, 5);
    assert_string_equal(hdr_names[0], "Content-Type");
    assert_string_equal(hdr_vals[0], "application/msgpack");
    assert_string_equal(hdr_names[1], "Tally-Key");
    assert_string_equal(hdr_names[4], "Tally-Signature");
    for (size_t i = 1; i < nh; i++) {
        h[i - 1] = (client_header){hdr_names[i], hdr_vals[i]};
    }
    tn_http(&n, TN_INGEST, "POST", "/v1/odds", h, 4, body, bl, hdr_vals[0], &r);
    if (r.status != 200) {
        fail_msg("the signed request was refused: %u %s", r.status, r.body ? r.body : "");
    }
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 1);
    tn_resp_free(&r);
    /* --out: the body bytes to a file, only the headers printed */
    char bodyfile[700];
    snprintf(bodyfile, sizeof(bodyfile), "%s/body.bin", n.tmp);
    assert_int_equal(tally("sign --key %s --origin %s --odds --nonce 42 --time 1000 --out %s < %s",
                           key, n.origin, bodyfile, req),
                     0);
    assert_non_null(strstr(out, "Tally-Nonce: 42\n"));
    assert_non_null(strstr(out, "Tally-Time: 1000\n"));
    assert_true(strncmp(out, "Content-Type:", 13) == 0);
    /* bad JSON names the field; usage errors exit 2 */
    write_text(req, "{\"items\": [{\"event_id\": 0}]}");
    assert_int_equal(tally("sign --key %s --origin %s --odds < %s", key, n.origin, req), 3);
    assert_non_null(strstr(out, "items[0]"));
    assert_int_equal(tally("sign --key %s --origin %s < %s", key, n.origin, req), 2);
    free(body);
    tn_stop(&n, SIGTERM);
    tn_free(&n);
}

/* ---- submit ---- */

static void submit_receipt_kept(void **state)
{
    tn_node n;
    tn_miner m;
    uint64_t ids[2] = {7201, 7202}, size0;
    char key[600], req[600], vk[512], dir[700], path[800];
    char *text;
    FILE *f;
    wire_receipt *rec = calloc(1, sizeof(*rec));
    uint8_t sig[64];
    size_t k;
    (void)state;

    assert_non_null(rec);
    tn_init(&n, "cli_submit");
    tn_start(&n);
    tn_miner_init(&m, 1);
    tn_feed(&n, &m, 1, 100, ids, 2, tn_now() + DAY);
    key_file(&n, 1, key, sizeof(key));
    vkey_of(&n, vk, sizeof(vk));
    snprintf(dir, sizeof(dir), "%s/receipts", n.tmp);
    odds_json(&n, "sub", 7201, 1910000000, 2100000000, NULL, req, sizeof(req));
    size0 = tn_size(&n);
    assert_int_equal(tally("submit --ingest http://127.0.0.1:%u --key %s --odds --verifier-key "
                           "'%s' --receipts %s --nonce 5000 < %s",
                           n.port[TN_INGEST], key, vk, dir, req),
                     0);
    assert_non_null(strstr(out, "item 0 accepted seq "));
    assert_non_null(strstr(out, "receipt verified"));
    assert_int_equal(tn_size(&n), size0 + 1);
    /* the kept receipt is the node's, for this nonce, below a head the log holds */
    snprintf(path, sizeof(path), "%s/5000.json", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    text = calloc(1, 65536);
    assert_non_null(text);
    k = fread(text, 1, 65535, f);
    fclose(f);
    assert_int_equal(wire_receipt_from_json(text, strlen(text) - (text[k - 1] == '\n'), rec, sig),
                     TALLY_OK);
    assert_int_equal(rec->nonce, 5000);
    assert_int_equal(rec->n, 1);
    assert_true(rec->tree_size <= tn_size(&n));
    /* a stale nonce is refused: exit 1 with the code */
    odds_json(&n, "sub2", 7202, 1910000000, 2100000000, NULL, req, sizeof(req));
    assert_int_equal(tally("submit --ingest http://127.0.0.1:%u --key %s --odds --verifier-key "
                           "'%s' --nonce 4000 < %s",
                           n.port[TN_INGEST], key, vk, req),
                     1);
    assert_non_null(strstr(out, "nonce_stale"));
    /* --node-key with --origin works as well; a wrong node key fails the receipt (exit 7) */
    char hex[65];
    const char *b64 = strrchr(vk, '+') + 1;
    uint8_t raw[40];
    size_t rl;
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), b64, strlen(b64), NULL, &rl, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    raw[1] ^= 1;
    schema_hex(raw + 1, 32, hex);
    assert_int_equal(tally("submit --ingest http://127.0.0.1:%u --key %s --odds --node-key %s "
                           "--origin %s --nonce 6000 < %s",
                           n.port[TN_INGEST], key, hex, n.origin, req),
                     7);
    assert_non_null(strstr(out, "receipt does not verify"));
    /* nothing listens: exit 9 after the retries */
    assert_int_equal(tally("submit --ingest http://127.0.0.1:%u --key %s --odds --verifier-key "
                           "'%s' --retries 1 --max-wait 1 < %s",
                           free_port(), key, vk, req),
                     9);
    free(text);
    free(rec);
    tn_stop(&n, SIGTERM);
    tn_free(&n);
}

/* The node is stopped when the submit starts and started while it retries: the write lands
 * once. Sent again (the same nonce and the same bytes: a fixed salt), it is the idempotent
 * duplicate with the original seq, never nonce_replay. */
static void submit_across_restart(void **state)
{
    tn_node n;
    tn_miner m;
    uint64_t ids[1] = {7301}, size0;
    char key[600], req[600], vk[512], listen[64], rcfile[700], subout[700], cmd[4000];
    const char *salt = "00112233445566778899aabbccddeeff";
    FILE *f;
    int rc = -1;
    (void)state;

    tn_init(&n, "cli_restart");
    snprintf(listen, sizeof(listen), "TALLY_INGEST_LISTEN=127.0.0.1:%u", free_port());
    n.env[0] = listen;
    tn_start(&n);
    tn_miner_init(&m, 1);
    tn_feed(&n, &m, 1, 100, ids, 1, tn_now() + DAY);
    key_file(&n, 1, key, sizeof(key));
    vkey_of(&n, vk, sizeof(vk));
    odds_json(&n, "restart", 7301, 1910000000, 2100000000, salt, req, sizeof(req));
    uint16_t port = n.port[TN_INGEST];
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    size0 = tn_size(&n);
    snprintf(rcfile, sizeof(rcfile), "%s/submit.rc", n.tmp);
    snprintf(subout, sizeof(subout), "%s/submit.out", n.tmp);
    int w = snprintf(cmd, sizeof(cmd),
             "( %s submit --ingest http://127.0.0.1:%u --key %s --odds --verifier-key '%s' "
             "--nonce 9000 --retries 60 --max-wait 120 < %s > %s 2>&1; echo $? > %s.tmp; "
             "mv %s.tmp %s ) > /dev/null 2>&1 < /dev/null &",
             bin(), port, key, vk, req, subout, rcfile, rcfile, rcfile);
    assert_true(w > 0 && (size_t)w < sizeof(cmd));
    assert_int_equal(tu_run(out, sizeof(out), "%s", cmd), 0);
    /* start the node only once the submit found it down and is retrying */
    bool retrying = false;
    for (int t = 0; t < 600 && !retrying; t++) { /* at most 60 s */
        f = fopen(subout, "r");
        if (f != NULL) {
            size_t got = fread(out, 1, sizeof(out) - 1, f);
            out[got] = '\0';
            fclose(f);
            retrying = strstr(out, "retrying in") != NULL;
        }
        if (!retrying) {
            sleep_ms(100);
        }
    }
    assert_true(retrying);
    tn_start(&n);
    assert_int_equal(n.port[TN_INGEST], port);
    for (int t = 0; t < 1800 && rc < 0; t++) { /* at most 3 minutes */
        f = fopen(rcfile, "r");
        if (f != NULL) {
            if (fscanf(f, "%d", &rc) != 1) {
                rc = -1;
            }
            fclose(f);
        }
        if (rc < 0) {
            sleep_ms(100);
        }
    }
    f = fopen(subout, "r");
    assert_non_null(f);
    size_t k = fread(out, 1, sizeof(out) - 1, f);
    out[k] = '\0';
    fclose(f);
    if (rc != 0) {
        fail_msg("submit across a restart: exit %d: %s", rc, out);
    }
    assert_null(strstr(out, "nonce_replay"));
    assert_non_null(strstr(out, "item 0 accepted seq "));
    assert_non_null(strstr(out, "receipt verified"));
    assert_null(strstr(out, "(attempts 1)"));
    assert_int_equal(tn_size(&n), size0 + 1);
    /* the same write again: duplicate, nothing appended, the receipt still verifies */
    assert_int_equal(tally("submit --ingest http://127.0.0.1:%u --key %s --odds --verifier-key "
                           "'%s' --nonce 9000 < %s",
                           port, key, vk, req),
                     0);
    assert_non_null(strstr(out, "duplicate"));
    assert_null(strstr(out, "nonce_replay"));
    assert_int_equal(tn_size(&n), size0 + 1);
    tn_stop(&n, SIGTERM);
    tn_free(&n);
}

/* ---- admin wrappers ---- */

static void feed_names_bad_line(void **state)
{
    tn_node n;
    tn_miner m;
    uint64_t size0;
    char path[700], text[2048];
    uint64_t start = tn_now() + DAY;
    (void)state;

    tn_init(&n, "cli_feed");
    tn_start(&n);
    tn_miner_init(&m, 1);
    tn_feed(&n, &m, 1, 100, NULL, 0, 0);
    size0 = tn_size(&n);
    snprintf(path, sizeof(path), "%s/recs.jsonl", n.tmp);
    snprintf(text, sizeof(text),
             "{\"type\": \"EVENT\", \"body\": {\"event_id\": 7401, \"sport\": \"soccer\", "
             "\"league\": \"EPL\", \"home_team\": \"A\", \"away_team\": \"B\", \"venue\": null, "
             "\"start_ms\": %llu, \"status\": \"scheduled\", \"ext_id\": null}}\n"
             "\n"
             "{\"type\": \"MARKET\", \"body\": {\"market_id\": 7401001, \"event_id\": 7401, "
             "\"kind\": \"moneyline\", \"line_n\": null, \"sides\": [\"home\", \"nowhere\"]}}\n",
             (unsigned long long)start);
    write_text(path, text);
    assert_int_equal(tally("feed %s < %s", ops_url(&n), path), 3);
    assert_non_null(strstr(out, "line 3"));
    assert_non_null(strstr(out, "nothing was appended"));
    assert_int_equal(tn_size(&n), size0);
    /* not JSON at all: refused before anything is sent */
    write_text(path, "{\"type\": \"EVENT\"\n");
    assert_int_equal(tally("feed %s < %s", ops_url(&n), path), 3);
    assert_non_null(strstr(out, "line 1"));
    /* fixed, it appends both and prints their seqs by line */
    snprintf(strstr(text, "nowhere"), 16, "away\"]}}\n");
    write_text(path, text);
    assert_int_equal(tally("feed %s < %s", ops_url(&n), path), 0);
    assert_non_null(strstr(out, "line 1: seq "));
    assert_non_null(strstr(out, "line 3: seq "));
    assert_int_equal(tn_size(&n), size0 + 2);
    /* a wrong token: exit 7 */
    char tok[700];
    snprintf(tok, sizeof(tok), "%s/bad.token", n.tmp);
    write_text(tok, "0000000000000000000000000000000000000000000000000000000000000000\n");
    assert_int_equal(chmod(tok, 0600), 0);
    assert_int_equal(tally("feed %s --admin-token-file %s < %s", ops_url(&n), tok, path), 7);
    tn_stop(&n, SIGTERM);
    tn_free(&n);
}

static void config_set_applies(void **state)
{
    tn_node n;
    tn_miner m;
    uint64_t ids[2] = {7501, 7502};
    char key[600], req[600], vk[512];
    (void)state;

    tn_init(&n, "cli_config");
    tn_start(&n);
    tn_miner_init(&m, 1);
    tn_feed(&n, &m, 1, 100, ids, 2, tn_now() + DAY);
    key_file(&n, 1, key, sizeof(key));
    vkey_of(&n, vk, sizeof(vk));
    /* odds 1.05 / 21.0 pass the default security.odds_min (1.01) */
    odds_json(&n, "c1", 7501, 1050000000, 21000000000, NULL, req, sizeof(req));
    assert_int_equal(tally("submit --ingest http://127.0.0.1:%u --key %s --odds --verifier-key "
                           "'%s' < %s",
                           n.port[TN_INGEST], key, vk, req),
                     0);
    /* values in their key's own form: a real as a decimal, an int, a bool */
    assert_int_equal(tally("config set security.odds_min=1.06 ingest.odds_bucket_seconds=120 "
                           "--reason 'tighter odds' %s",
                           ops_url(&n)),
                     0);
    assert_non_null(strstr(out, "seq "));
    odds_json(&n, "c2", 7502, 1050000000, 21000000000, NULL, req, sizeof(req));
    assert_int_equal(tally("submit --ingest http://127.0.0.1:%u --key %s --odds --verifier-key "
                           "'%s' < %s",
                           n.port[TN_INGEST], key, vk, req),
                     1);
    assert_non_null(strstr(out, "invalid_field"));
    /* refused before sending: unknown key, wrong form, out of range, not KEY=VALUE */
    assert_int_equal(tally("config set no.such=1 %s", ops_url(&n)), 3);
    assert_int_equal(tally("config set auth.require_permit=yes %s", ops_url(&n)), 3);
    assert_int_equal(tally("config set security.odds_min=7 %s", ops_url(&n)), 3);
    assert_int_equal(tally("config set security.odds_min %s", ops_url(&n)), 2);
    /* cycle and recompute go through as well */
    assert_int_equal(tally("cycle %s", ops_url(&n)), 0);
    assert_non_null(strstr(out, "cycle queued"));
    assert_int_equal(tally("recompute --reason scoring_bug --detail 'a fix' --severity 2 "
                           "--events 7502,7501 %s",
                           ops_url(&n)),
                     0);
    assert_non_null(strstr(out, "seq "));
    tn_stop(&n, SIGTERM);
    tn_free(&n);
}

static void ban_online_offline(void **state)
{
    tn_node n;
    tn_miner m;
    tn_resp r;
    uint64_t ids[1] = {7601};
    char hk[49];
    uint8_t *body;
    size_t bn;
    (void)state;

    tn_init(&n, "cli_ban");
    tn_start(&n);
    tn_miner_init(&m, 1);
    tn_feed(&n, &m, 1, 100, ids, 1, tn_now() + DAY);
    hotkey_of(&m, hk);
    /* online: add, list, the hotkey is refused, remove */
    assert_int_equal(tally("ban add --hotkey %s --seconds 3600 --note 'abuse report' %s", hk,
                           ops_url(&n)),
                     0);
    assert_int_equal(tally("ban ls %s", ops_url(&n)), 0);
    assert_non_null(strstr(out, hk));
    assert_non_null(strstr(out, "abuse report"));
    body = tn_odds(&n, &m, 100, ids, 1, &bn);
    tn_signed(&n, &m, "POST", "/v1/odds", body, bn, 0, 100, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "hotkey_blacklisted");
    tn_resp_free(&r);
    free(body);
    assert_int_equal(tally("ban rm --hotkey %s %s", hk, ops_url(&n)), 0);
    assert_int_equal(tally("ban ls %s", ops_url(&n)), 0);
    assert_null(strstr(out, hk));
    assert_int_equal(tally("ban rm --hotkey %s %s", hk, ops_url(&n)), 4);
    assert_int_equal(tally("ban add --ip 203.0.113.9 %s", ops_url(&n)), 0);
    assert_int_equal(tally("ban add --ip 203.0.113 %s", ops_url(&n)), 3);
    assert_int_equal(tally("ban add %s", ops_url(&n)), 2);
    /* cooldowns: none yet, listed fine; clearing a missing one is not found */
    assert_int_equal(tally("cooldown ls %s", ops_url(&n)), 0);
    assert_int_equal(tally("cooldown clear --ip 203.0.113.9 %s", ops_url(&n)), 4);
    /* offline: the node stopped, the table edited directly */
    char ops_saved[1024];
    snprintf(ops_saved, sizeof(ops_saved), "%s", ops_url(&n));
    assert_int_equal(tn_stop(&n, SIGTERM), 0);
    assert_int_equal(tally("ban add --hotkey %s --note offline %s", hk, ops_saved), 0);
    assert_non_null(strstr(out, "bans table"));
    assert_int_equal(tally("ban ls %s", ops_saved), 0);
    assert_non_null(strstr(out, hk));
    assert_non_null(strstr(out, "ip:203.0.113.9"));
    assert_int_equal(tally("ban rm --ip 203.0.113.9 %s", ops_saved), 0);
    assert_int_equal(tally("ban rm --ip 203.0.113.9 %s", ops_saved), 4);
    assert_int_equal(tally("cooldown ls %s", ops_saved), 9);
    /* started again, the node loaded the offline ban and enforces it */
    tn_start(&n);
    assert_int_equal(tally("ban ls %s", ops_url(&n)), 0);
    assert_non_null(strstr(out, hk));
    assert_non_null(strstr(out, "offline"));
    assert_null(strstr(out, "203.0.113.9"));
    body = tn_odds(&n, &m, 200, ids, 1, &bn);
    tn_signed(&n, &m, "POST", "/v1/odds", body, bn, 0, 200, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "hotkey_blacklisted");
    tn_resp_free(&r);
    free(body);
    tn_stop(&n, SIGTERM);
    tn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_then_post),      cmocka_unit_test(submit_receipt_kept),
        cmocka_unit_test(submit_across_restart), cmocka_unit_test(feed_names_bad_line),
        cmocka_unit_test(config_set_applies),  cmocka_unit_test(ban_online_offline),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Signed ingest writes for miners without msgpack or Ed25519 (`tally sign`, `tally submit`):
 * JSON items to a signed request body (wire/), the §4 headers, and a submit loop that retries
 * with the same nonce and body and checks the receipt of what was accepted (§5.5, §14.3). */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "wire/wire.h"

#define MAX53 ((1ull << 53) - 1u)
#define BACKOFF_FIRST_MS 250u
#define BACKOFF_MAX_MS 5000u

struct client_write {
    unsigned type;
    char origin[SCHEMA_ORIGIN_MAX + 1];
    char target[CLIENT_TARGET_MAX + 1];
    uint8_t pk[32];
    const uint8_t *sk; /* borrowed */
    uint64_t nonce, time_ms;
    wire_bodies bodies;
    uint8_t (*sigs)[64];
    uint8_t *body;
    size_t body_n;
    char h_key[65], h_time[24], h_nonce[24], h_sig[129];
    client_header headers[4];
};

static void say(char *detail, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(char *detail, const char *fmt, ...)
{
    va_list ap;

    if (detail == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(detail, CLIENT_DETAIL_MAX, fmt, ap);
    va_end(ap);
}

static uint64_t wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void client_write_free(client_write *w)
{
    if (w == NULL) {
        return;
    }
    wire_bodies_release(&w->bodies);
    free(w->sigs);
    free(w->body);
    free(w);
}

static tally_status build_items(client_write *w, const char *json, size_t n, char *detail)
{
    schema_field_error fe = {0};
    tally_str origin = {w->origin, strlen(w->origin)};
    wire_signed *sv;
    tally_status st;

    st = w->type == CLIENT_ODDS ? wire_odds_from_json(json, n, w->nonce, &w->bodies, &fe)
                                : wire_outcomes_from_json(json, n, w->nonce, &w->bodies, &fe);
    if (st != TALLY_OK) {
        say(detail, "the request JSON: %s%s%s", fe.path, fe.path[0] ? ": " : "",
            fe.what[0] ? fe.what : tally_status_str(st));
        return st == TALLY_EINVAL ? TALLY_EFORMAT : st;
    }
    w->sigs = calloc(w->bodies.n, sizeof(*w->sigs));
    sv = calloc(w->bodies.n, sizeof(*sv));
    if (w->sigs == NULL || sv == NULL) {
        free(sv);
        return TALLY_ENOMEM;
    }
    for (size_t i = 0; i < w->bodies.n && st == TALLY_OK; i++) {
        st = wire_item_sign(origin, w->type, w->pk, w->sk, w->bodies.body[i], w->bodies.len[i],
                            w->sigs[i]);
        sv[i] = (wire_signed){{w->bodies.body[i], w->bodies.len[i]}, w->sigs[i]};
        if (st != TALLY_OK) {
            say(detail, "item %zu cannot be signed: %s", i, tally_status_str(st));
        }
    }
    if (st == TALLY_OK) {
        st = wire_request_build(sv, w->bodies.n, &w->body, &w->body_n);
        if (st != TALLY_OK) {
            say(detail, "the request body: %s",
                st == TALLY_ELIMIT ? "over 256 KiB" : tally_status_str(st));
        }
    }
    free(sv);
    return st;
}

tally_status client_write_new(const client_write_cfg *cfg, const char *json, size_t n,
                              client_write **out, char *detail)
{
    client_write *w;
    const char *target;
    tally_status st;

    *out = NULL;
    say(detail, "%s", "");
    if ((cfg->type != CLIENT_ODDS && cfg->type != CLIENT_OUTCOMES) || cfg->origin == NULL ||
        strlen(cfg->origin) == 0 || strlen(cfg->origin) > SCHEMA_ORIGIN_MAX ||
        strchr(cfg->origin, '+') != NULL || cfg->pk == NULL || cfg->sk == NULL ||
        cfg->nonce > MAX53) {
        say(detail, "a write needs odds or outcomes, an origin of 1..128 bytes without '+', a "
                    "key, and a nonce of 1..2^53-1");
        return TALLY_EINVAL;
    }
    target = cfg->target ? cfg->target : cfg->type == CLIENT_ODDS ? "/v1/odds" : "/v1/outcomes";
    if (target[0] != '/' || strlen(target) > CLIENT_TARGET_MAX) {
        say(detail, "the target must begin with '/' and have at most 2048 bytes");
        return TALLY_EINVAL;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return TALLY_ENOMEM;
    }
    w->type = cfg->type;
    snprintf(w->origin, sizeof(w->origin), "%s", cfg->origin);
    snprintf(w->target, sizeof(w->target), "%s", target);
    memcpy(w->pk, cfg->pk, 32);
    w->sk = cfg->sk;
    w->nonce = cfg->nonce ? cfg->nonce : wall_us();
    st = build_items(w, json, n, detail);
    if (st == TALLY_OK) {
        st = client_write_sign(w, 0);
        if (st != TALLY_OK) {
            say(detail, "the request cannot be signed (origin or target outside the rules of "
                        "protocol §4)");
        }
    }
    if (st != TALLY_OK) {
        client_write_free(w);
        return st;
    }
    *out = w;
    return TALLY_OK;
}

tally_status client_write_sign(client_write *w, uint64_t time_ms)
{
    uint8_t sig[64];
    wire_request rq = {.origin = {w->origin, strlen(w->origin)},
                       .method = {"POST", 4},
                       .target = {w->target, strlen(w->target)},
                       .time_ms = time_ms ? time_ms : wall_us() / 1000u,
                       .nonce = w->nonce,
                       .body = w->body,
                       .body_len = w->body_n};
    tally_status st = wire_request_sign(&rq, w->sk, sig);

    if (st != TALLY_OK) {
        return st;
    }
    w->time_ms = rq.time_ms;
    schema_hex(w->pk, 32, w->h_key);
    schema_hex(sig, 64, w->h_sig);
    snprintf(w->h_time, sizeof(w->h_time), "%llu", (unsigned long long)w->time_ms);
    snprintf(w->h_nonce, sizeof(w->h_nonce), "%llu", (unsigned long long)w->nonce);
    w->headers[0] = (client_header){"Tally-Key", w->h_key};
    w->headers[1] = (client_header){"Tally-Time", w->h_time};
    w->headers[2] = (client_header){"Tally-Nonce", w->h_nonce};
    w->headers[3] = (client_header){"Tally-Signature", w->h_sig};
    return TALLY_OK;
}

tally_bytes client_write_body(const client_write *w)
{
    return (tally_bytes){w->body, w->body_n};
}

const client_header *client_write_headers(const client_write *w)
{
    return w->headers;
}

uint64_t client_write_nonce(const client_write *w)
{
    return w->nonce;
}

const char *client_write_target(const client_write *w)
{
    return w->target;
}

size_t client_write_count(const client_write *w)
{
    return w->bodies.n;
}

/* ---- submit ---- */

static unsigned retry_after_ms(const client_response *r, unsigned fallback)
{
    const char *v = NULL;
    char *end;
    unsigned long s;

    if (client_response_header(r, "Retry-After", &v) == 0 || v == NULL) {
        return fallback;
    }
    errno = 0;
    s = strtoul(v, &end, 10);
    /* only delta-seconds: an HTTP date from a proxy falls back to the backoff */
    if (errno != 0 || end == v || *end != '\0' || s > 3600u) {
        return fallback;
    }
    return (unsigned)s * 1000u;
}

static void copy_str(char *dst, size_t cap, const json_t *v)
{
    const char *s = json_string_value(v);

    snprintf(dst, cap, "%s", s ? s : "");
}

static void read_items(const json_t *list, client_submit_result *out)
{
    size_t i;
    json_t *it;

    json_array_foreach(list, i, it)
    {
        client_item_result *ir;
        if (out->n_items == CLIENT_ITEMS_MAX) {
            break;
        }
        ir = &out->items[out->n_items++];
        ir->idx = (size_t)json_integer_value(json_object_get(it, "idx"));
        ir->accepted = json_is_string(json_object_get(it, "status")) &&
                       strcmp(json_string_value(json_object_get(it, "status")), "accepted") == 0;
        ir->seq = (uint64_t)json_integer_value(json_object_get(it, "seq"));
        ir->time_ms = (uint64_t)json_integer_value(json_object_get(it, "time_ms"));
        copy_str(ir->error, sizeof(ir->error), json_object_get(it, "error"));
    }
}

/* The receipt against the write's own accepted items, in idx order (§5.5). */
static tally_status check_receipt(const client_write *w, const uint8_t node_pk[32],
                                  const char *text, client_submit_result *out)
{
    wire_receipt *rec = calloc(1, sizeof(*rec));
    wire_signed *sv = calloc(CLIENT_ITEMS_MAX, sizeof(*sv));
    uint8_t sig[64];
    size_t k = 0;
    tally_status st = rec && sv ? TALLY_OK : TALLY_ENOMEM;

    if (st == TALLY_OK) {
        st = wire_receipt_from_json(text, strlen(text), rec, sig);
    }
    for (size_t i = 0; st == TALLY_OK && i < out->n_items; i++) {
        size_t idx = out->items[i].idx;
        if (!out->items[i].accepted) {
            continue;
        }
        if (idx >= w->bodies.n) {
            st = TALLY_ECONFLICT; /* the node names an item the write does not have */
            break;
        }
        sv[k++] = (wire_signed){{w->bodies.body[idx], w->bodies.len[idx]}, w->sigs[idx]};
    }
    if (st == TALLY_OK) {
        out->tree_size = rec->tree_size;
        st = wire_receipt_check_items(rec, sig, node_pk, (tally_str){w->origin, strlen(w->origin)},
                                      w->pk, sv, k, w->type);
        if (st == TALLY_OK && rec->nonce != w->nonce) {
            st = TALLY_ECONFLICT;
        }
        if (st == TALLY_EINVAL || st == TALLY_EFORMAT) {
            st = TALLY_ECONFLICT;
        }
    }
    free(rec);
    free(sv);
    return st;
}

/* DIR/<nonce>.json, written to a temporary name and renamed, so a reader never sees half. */
static tally_status keep_receipt(const char *dir, uint64_t nonce, const char *text,
                                 client_submit_result *out, char *detail)
{
    char tmp[4300];
    FILE *f;
    bool ok;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        say(detail, "cannot make the receipts directory %s: %s", dir, strerror(errno));
        return TALLY_EIO;
    }
    snprintf(out->receipt_path, sizeof(out->receipt_path), "%s/%llu.json", dir,
             (unsigned long long)nonce);
    snprintf(tmp, sizeof(tmp), "%s.tmp", out->receipt_path);
    f = fopen(tmp, "w");
    ok = f != NULL && fprintf(f, "%s\n", text) > 0;
    ok = f != NULL && fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = f != NULL && fclose(f) == 0 && ok;
    if (!ok || rename(tmp, out->receipt_path) != 0) {
        say(detail, "cannot write the receipt %s: %s", out->receipt_path, strerror(errno));
        unlink(tmp);
        out->receipt_path[0] = '\0';
        return TALLY_EIO;
    }
    return TALLY_OK;
}

/* Reads a final answer: 200 with items and a receipt, or a §8 error body. */
static tally_status read_answer(const client_submit_cfg *cfg, const client_write *w,
                                const client_response *r, client_submit_result *out, char *detail)
{
    tally_bytes b = client_response_body(r);
    json_t *o = json_loadb((const char *)b.p, b.n, 0, NULL);
    json_t *rc;
    char *text = NULL;
    tally_status st = TALLY_OK;

    out->status = client_response_status(r);
    if (!json_is_object(o)) {
        json_decref(o);
        say(detail, "the node answered %u without a JSON body", out->status);
        return TALLY_EFORMAT;
    }
    if (out->status != 200) {
        json_t *d = json_object_get(json_object_get(o, "details"), "items");
        copy_str(out->error, sizeof(out->error), json_object_get(o, "error"));
        copy_str(out->message, sizeof(out->message), json_object_get(o, "message"));
        read_items(d, out);
        out->rejected = out->n_items;
        out->verdict = CLIENT_REJECTED;
        json_decref(o);
        return TALLY_OK;
    }
    out->duplicate = json_is_true(json_object_get(o, "duplicate"));
    out->accepted = (size_t)json_integer_value(json_object_get(o, "accepted"));
    out->rejected = (size_t)json_integer_value(json_object_get(o, "rejected"));
    read_items(json_object_get(o, "items"), out);
    rc = json_object_get(o, "receipt");
    text = json_is_object(rc) ? json_dumps(rc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    out->receipt_st = text ? check_receipt(w, cfg->node_pk, text, out) : TALLY_EFORMAT;
    if (out->receipt_st == TALLY_ENOMEM) {
        st = TALLY_ENOMEM;
    }
    out->verdict = out->accepted == 0            ? CLIENT_REJECTED
                   : out->receipt_st == TALLY_OK ? CLIENT_ACCEPTED
                                                 : CLIENT_RECEIPT_BAD;
    if (st == TALLY_OK && text != NULL && cfg->receipts_dir != NULL) {
        st = keep_receipt(cfg->receipts_dir, w->nonce, text, out, detail);
    }
    free(text);
    json_decref(o);
    return st;
}

/* One attempt. TALLY_OK with *r for any response; TALLY_EIO (no response) or a client error. */
static tally_status attempt(client_conn *c, client_write *w, client_response **r)
{
    client_request rq = {.method = "POST",
                         .target = w->target,
                         .headers = w->headers,
                         .n_headers = 4,
                         .body = w->body,
                         .body_n = w->body_n,
                         .content_type = "application/msgpack"};
    tally_status st = client_write_sign(w, 0);

    return st != TALLY_OK ? st : client_do(c, &rq, r);
}

tally_status client_submit(const client_submit_cfg *cfg, client_write *w, client_submit_result *out,
                           char *detail)
{
    client_cfg cc = {.host = cfg->host, .port = cfg->port, .io_timeout_ms = cfg->io_timeout_ms};
    unsigned budget = cfg->max_wait_ms ? cfg->max_wait_ms : 60000u, backoff = BACKOFF_FIRST_MS;
    client_conn *c = NULL;
    client_response *r = NULL;
    tally_status st;

    memset(out, 0, sizeof(*out));
    say(detail, "%s", "");
    st = client_open(&cc, &c);
    if (st != TALLY_OK) {
        say(detail, "cannot use the host %s", cfg->host ? cfg->host : "(none)");
        return st;
    }
    for (;;) {
        unsigned wait_ms, code;
        bool last = out->attempts >= cfg->retries;

        out->attempts++;
        st = attempt(c, w, &r);
        if (st != TALLY_OK && st != TALLY_EIO) {
            say(detail, "%s", client_error(c));
            break;
        }
        code = st == TALLY_OK ? client_response_status(r) : 0;
        if (st == TALLY_OK && code != 408 && code != 429 && code != 503) {
            st = read_answer(cfg, w, r, out, detail);
            break;
        }
        /* no answer, or a transient refusal: the same nonce and body again, later */
        wait_ms = code == 429 || code == 503 ? retry_after_ms(r, backoff) : backoff;
        if (st == TALLY_OK) {
            tally_bytes b = client_response_body(r);
            json_t *o = json_loadb((const char *)b.p, b.n, 0, NULL);
            out->status = code;
            copy_str(out->error, sizeof(out->error), json_object_get(o, "error"));
            copy_str(out->message, sizeof(out->message), json_object_get(o, "message"));
            json_decref(o);
            say(detail, "the node answered %u %s after %u attempt%s", code, out->error,
                out->attempts, out->attempts == 1 ? "" : "s");
            st = code == 408 ? TALLY_EIO : TALLY_EAGAIN;
        } else {
            say(detail, "%s (after %u attempt%s)", client_error(c), out->attempts,
                out->attempts == 1 ? "" : "s");
        }
        client_response_free(r);
        r = NULL;
        if (last || wait_ms > budget - out->waited_ms) {
            break;
        }
        if (cfg->on_retry != NULL) {
            char why[CLIENT_CODE_MAX + 16];
            snprintf(why, sizeof(why), "%u %s", code, out->error);
            cfg->on_retry(cfg->on_retry_arg, out->attempts, wait_ms,
                          code ? why : client_error(c));
        }
        sleep_ms(wait_ms);
        out->waited_ms += wait_ms;
        backoff = backoff * 2u > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2u;
    }
    client_response_free(r);
    client_close(c);
    return st;
}

tally_status client_vkey_parse(const char *vkey, char origin_out[129], uint8_t pk_out[32])
{
    const char *p2 = strrchr(vkey, '+'), *p1 = NULL;
    uint8_t raw[33], id[4], h[32];
    size_t name_n, bl = 0;
    crypto_hash_sha256_state hs;

    memset(origin_out, 0, 129);
    memset(pk_out, 0, 32);
    for (const char *q = vkey; p2 != NULL && q < p2; q++) {
        p1 = *q == '+' ? q : p1;
    }
    if (p1 == NULL || p2 - p1 != 9 || (name_n = (size_t)(p1 - vkey)) == 0 || name_n > 128 ||
        schema_unhex(p1 + 1, 8, id, 4) != TALLY_OK ||
        sodium_base642bin(raw, sizeof(raw), p2 + 1, strlen(p2 + 1), NULL, &bl, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bl != 33 || raw[0] != 0x01) {
        return TALLY_EFORMAT;
    }
    /* key id = SHA-256(name || 0x0A || 0x01 || pk)[0..4) */
    crypto_hash_sha256_init(&hs);
    crypto_hash_sha256_update(&hs, (const uint8_t *)vkey, name_n);
    crypto_hash_sha256_update(&hs, (const uint8_t *)"\n", 1);
    crypto_hash_sha256_update(&hs, raw, 33);
    crypto_hash_sha256_final(&hs, h);
    if (memcmp(h, id, 4) != 0) {
        return TALLY_EFORMAT;
    }
    memcpy(origin_out, vkey, name_n);
    memcpy(pk_out, raw + 1, 32);
    return TALLY_OK;
}

/* The forged log of a misbehaving node (tamper.h): a copy of the node's log with one record
 * changed and re-signed with the node key, its tree and heads rebuilt by the store itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "store/store.h"
#include "tamper/tamper.h"

#define FLUSH_AT 2048 /* records per append, cut only between cycle blocks */

static const char *const names[TAMPER_KINDS] = {
    "body",          "header",         "dropped",    "inserted", "reordered", "forged-derived",
    "changed-input", "rule-violation", "split-view", "rewind",   "withheld",  "bad-checkpoint"};

bool tamper_kind_parse(const char *name, tamper_kind *out)
{
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (tamper_kind)i;
            return true;
        }
    }
    return false;
}

const char *tamper_kind_name(tamper_kind k)
{
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static tally_status say(char *detail, tally_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static tally_status say(char *detail, tally_status st, const char *fmt, ...)
{
    va_list ap;

    if (detail != NULL) {
        va_start(ap, fmt);
        vsnprintf(detail, TAMPER_DETAIL_MAX, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* The events whose markets have outcome-scored rows (SUBMISSION_SCORE with an outcome): an
 * OUTCOME changed for one of them changes derived records. */
typedef struct scored {
    uint64_t *market, *event; /* MARKET ids and their events */
    size_t n_markets, cap_m;
    uint64_t *events;
    size_t n_events, cap_e;
} scored;

static bool push_u64(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        uint64_t *g = realloc(*a, nc * sizeof(*g));
        if (g == NULL) {
            return false;
        }
        *a = g, *cap = nc;
    }
    (*a)[(*n)++] = v;
    return true;
}

static bool has_u64(const uint64_t *a, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] == v) {
            return true;
        }
    }
    return false;
}

static tally_status scan_scored(store_log *log, scored *sc)
{
    store_iter *it;
    store_record r;
    tally_status st = store_iter_open(log, 0, &it);
    size_t cap_ev = 0;

    while (st == TALLY_OK && (st = store_iter_next(it, &r)) == TALLY_OK) {
        schema_header h;
        schema_body b;
        if (schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK) {
            st = TALLY_ECORRUPT;
            break;
        }
        if ((h.type != SCHEMA_MARKET && h.type != SCHEMA_SUBMISSION_SCORE) ||
            store_record_body(&r, &h, &b) != TALLY_OK) {
            continue;
        }
        bool ok = true;
        if (h.type == SCHEMA_MARKET) {
            size_t n = sc->n_markets; /* the two arrays grow together */
            ok = push_u64(&sc->market, &sc->n_markets, &sc->cap_m, b.u.market.market_id) &&
                 push_u64(&sc->event, &n, &cap_ev, b.u.market.event_id);
        } else if (b.u.submission_score.has_outcome) {
            for (size_t i = 0; i < sc->n_markets; i++) {
                if (sc->market[i] == b.u.submission_score.market_id &&
                    !has_u64(sc->events, sc->n_events, sc->event[i])) {
                    ok = push_u64(&sc->events, &sc->n_events, &sc->cap_e, sc->event[i]);
                    break;
                }
            }
        }
        schema_body_release(&b);
        if (!ok) {
            st = TALLY_ENOMEM;
        }
    }
    store_iter_close(it);
    return st == TALLY_ENOTFOUND ? TALLY_OK : st;
}

/* The kind's change to body b; false when this record is not one the kind changes. */
static bool change(tamper_kind k, const scored *sc, schema_body *b)
{
    switch (k) {
    case TAMPER_FORGED_DERIVED:
        if (b->type != SCHEMA_MINER_SCORE) {
            return false;
        }
        b->u.miner_score.skill += 1;
        return true;
    case TAMPER_CHANGED_INPUT: {
        schema_outcome *o = &b->u.outcome;
        if (b->type != SCHEMA_OUTCOME || o->source != 1 || !o->has_result ||
            o->result == SCHEMA_R_VOID || !has_u64(sc->events, sc->n_events, o->event_id)) {
            return false;
        }
        if (o->result == SCHEMA_R_DRAW) {
            o->result = SCHEMA_R_HOME;
            o->score_home += o->has_score_home ? 1 : 0;
        } else {
            uint64_t h = o->score_home;
            o->result = o->result == SCHEMA_R_HOME ? SCHEMA_R_AWAY : SCHEMA_R_HOME;
            o->score_home = o->score_away, o->score_away = h;
        }
        return true;
    }
    case TAMPER_RULE_VIOLATION:
        if (b->type != SCHEMA_CLOSE || b->u.snapshot.ts_ms == 0) {
            return false;
        }
        b->u.snapshot.ts_ms -= 1;
        return true;
    default:
        return false; /* not a kind tamper_forge plays */
    }
}

/* Copies src/checkpoints/<cycle>.zst files into dst/checkpoints. */
static tally_status copy_checkpoints(const char *src, const char *dst, uint64_t *n_out,
                                     char *detail)
{
    char from[4200], to[4200];
    DIR *d;
    struct dirent *e;
    tally_status st = TALLY_OK;

    *n_out = 0;
    snprintf(from, sizeof(from), "%s/checkpoints", src);
    d = opendir(from);
    if (d == NULL) {
        return errno == ENOENT ? TALLY_OK : say(detail, TALLY_EIO, "cannot read %s", from);
    }
    snprintf(to, sizeof(to), "%s/checkpoints", dst);
    if (mkdir(to, 0700) != 0 && errno != EEXIST) {
        closedir(d);
        return say(detail, TALLY_EIO, "cannot make %s: %s", to, strerror(errno));
    }
    while (st == TALLY_OK && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".zst") != 0) {
            continue; /* ".", "..", and a temporary file of an interrupted write */
        }
        snprintf(from, sizeof(from), "%s/checkpoints/%s", src, e->d_name);
        snprintf(to, sizeof(to), "%s/checkpoints/%s", dst, e->d_name);
        int in = open(from, O_RDONLY | O_CLOEXEC);
        int out = in >= 0 ? open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
        char buf[65536];
        ssize_t r = 0;
        while (in >= 0 && out >= 0 && (r = read(in, buf, sizeof(buf))) > 0) {
            if (write(out, buf, (size_t)r) != r) {
                r = -1;
                break;
            }
        }
        if (in < 0 || out < 0 || r < 0 || fsync(out) != 0) {
            st = say(detail, TALLY_EIO, "cannot copy %s to %s: %s", from, to, strerror(errno));
        } else {
            (*n_out)++;
        }
        if (in >= 0) {
            close(in);
        }
        if (out >= 0) {
            close(out);
        }
    }
    closedir(d);
    return st;
}

static tally_status copy_log(const char *src, const char *dst, tamper_kind kind, bool forge,
                             int fork_variant, unsigned bad_sig_type, tamper_forged *out,
                             char *detail)
{
    char kpath[4200], sd[STORE_DETAIL_MAX] = "";
    uint8_t pk[32], *sk = sodium_malloc(64);
    store_cfg scfg = {.dir = src, .read_only = true, .detail = sd};
    store_log *in = NULL, *fl = NULL;
    store_iter *it = NULL;
    store_record r;
    ledger_batch batch = LEDGER_BATCH_INIT;
    bool done = false, prev_cycle = false;
    scored sc = {0};
    uint64_t first, last_time = 0;
    tally_status st;

    memset(out, 0, sizeof(*out));
    if (sk == NULL) {
        return TALLY_ENOMEM;
    }
    snprintf(kpath, sizeof(kpath), "%s/node.key", src);
    st = store_key_read(kpath, pk, sk, sd);
    if (st != TALLY_OK) {
        sodium_free(sk);
        return say(detail, st, "the node key: %s", sd);
    }
    st = store_open(&scfg, &in);
    if (st != TALLY_OK) {
        sodium_free(sk);
        return say(detail, st, "%s", sd);
    }
    {
        /* the same origin and key: the forged log is the node's, as far as anyone can tell; its
         * record times are the original ones, so no bound against this machine's clock */
        store_cfg fcfg = {.dir = dst,
                          .create = true,
                          .origin = store_origin(in),
                          .key_seed = sk,
                          .simulated_time = true,
                          .trust_signatures = bad_sig_type != 0,
                          .detail = sd};
        st = store_open(&fcfg, &fl);
    }
    sodium_free(sk); /* libsodium's secret key starts with its seed */
    if (st != TALLY_OK) {
        store_close(in);
        return say(detail, st, "%s", sd);
    }
    st = forge && kind == TAMPER_CHANGED_INPUT ? scan_scored(in, &sc) : TALLY_OK;
    if (st == TALLY_OK) {
        st = store_iter_open(in, 0, &it);
    }
    while (st == TALLY_OK && (st = store_iter_next(it, &r)) == TALLY_OK) {
        schema_header h;
        schema_body b;
        if (schema_header_decode(r.header.p, r.header.n, &h) != TALLY_OK) {
            st = say(detail, TALLY_ECORRUPT, "record %" PRIu64 ": its header does not decode",
                     r.seq);
            break;
        }
        /* a cycle's block goes in with its cycle: appends are cut only between blocks */
        if (batch.n >= FLUSH_AT && h.type < SCHEMA_SUBMISSION_SCORE && !prev_cycle) {
            st = ledger_batch_flush(&batch, fl, &first);
            if (st != TALLY_OK) {
                break;
            }
        }
        prev_cycle = h.type == SCHEMA_SCORING_CYCLE;
        last_time = h.time_ms;
        if (bad_sig_type != 0 && !done && h.type == bad_sig_type) {
            /* everything as it was but one bit of the actor signature: the tree and every head
             * are made over the changed header, so they verify */
            h.actor_sig[0] ^= 1;
            done = true, out->seq = r.seq, out->type = (unsigned)h.type;
        }
        if (forge && !done && r.body.p != NULL && store_record_body(&r, &h, &b) == TALLY_OK) {
            if (change(kind, &sc, &b)) {
                /* the node signs the lie: header, body hash and signature made anew */
                st = ledger_batch_node(&batch, fl, &b, h.time_ms);
                schema_body_release(&b);
                done = true, out->seq = r.seq, out->type = (unsigned)h.type;
                continue;
            }
            schema_body_release(&b);
        }
        st = ledger_batch_raw(&batch, &h, r.body.p, r.body.n);
    }
    store_iter_close(it);
    if (st == TALLY_ENOTFOUND) {
        st = TALLY_OK;
    }
    if (st == TALLY_OK && bad_sig_type != 0 && !done) {
        st = say(detail, TALLY_ENOTFOUND, "the log in %s holds no %s record", src,
                 schema_type_name(bad_sig_type));
    } else if (st == TALLY_OK && forge && !done) {
        st = say(detail, TALLY_ENOTFOUND, "the log in %s holds no record that %s changes", src,
                 tamper_kind_name(kind));
    }
    if (st == TALLY_OK && fork_variant >= 0) {
        /* one view of a split: the same log and one EVENT more, its teams naming the view,
         * signed by the node at the last record's time (both views replay cleanly) */
        char home[32];
        schema_body ev = {.type = SCHEMA_EVENT};
        snprintf(home, sizeof(home), "View %c", 'A' + fork_variant);
        ev.u.event = (schema_event){.event_id = 990000000 + (uint64_t)fork_variant,
                                    .sport = {"soccer", 6},
                                    .league = {"EPL", 3},
                                    .home_team = {home, strlen(home)},
                                    .away_team = {"Split", 5},
                                    .start_ms = last_time + 86400000,
                                    .status = 1};
        st = ledger_batch_node(&batch, fl, &ev, last_time);
        out->seq = store_size(in);
        out->type = SCHEMA_EVENT;
    }
    if (st == TALLY_OK) {
        st = ledger_batch_flush(&batch, fl, &first);
        if (st != TALLY_OK) {
            say(detail, st, "appending to the forged log: %s", store_detail(fl));
        }
    }
    ledger_batch_release(&batch);
    free(sc.market), free(sc.event), free(sc.events);
    out->records = store_size(fl);
    if (st == TALLY_OK && out->records != store_size(in) + (fork_variant >= 0 ? 1 : 0)) {
        st = say(detail, TALLY_ECORRUPT,
                 "the forged log holds %" PRIu64 " records, the source %" PRIu64, out->records,
                 store_size(in));
    }
    store_close(fl);
    store_close(in);
    return st == TALLY_OK ? copy_checkpoints(src, dst, &out->checkpoints, detail) : st;
}

tally_status tamper_forge(const char *src, const char *dst, tamper_kind kind, tamper_forged *out,
                          char *detail)
{
    memset(out, 0, sizeof(*out));
    if (kind != TAMPER_FORGED_DERIVED && kind != TAMPER_CHANGED_INPUT &&
        kind != TAMPER_RULE_VIOLATION) {
        return say(detail, TALLY_EINVAL, "%s is not played by a forged log",
                   tamper_kind_name(kind));
    }
    return copy_log(src, dst, kind, true, -1, 0, out, detail);
}

tally_status tamper_copy(const char *src, const char *dst, tamper_forged *out, char *detail)
{
    return copy_log(src, dst, TAMPER_BODY, false, -1, 0, out, detail);
}

tally_status tamper_fork(const char *src, const char *dst, unsigned variant, tamper_forged *out,
                         char *detail)
{
    memset(out, 0, sizeof(*out));
    if (variant > 25) {
        return say(detail, TALLY_EINVAL, "a split has views A to Z");
    }
    return copy_log(src, dst, TAMPER_SPLIT_VIEW, false, (int)variant, 0, out, detail);
}

tally_status tamper_forge_signature(const char *src, const char *dst, unsigned type,
                                    tamper_forged *out, char *detail)
{
    memset(out, 0, sizeof(*out));
    if (!schema_type_known(type) || type == SCHEMA_GENESIS) {
        return say(detail, TALLY_EINVAL, "type %u is not a record type whose signature can go bad",
                   type);
    }
    return copy_log(src, dst, TAMPER_BODY, false, -1, type, out, detail);
}

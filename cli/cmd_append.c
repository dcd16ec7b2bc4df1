/* tally append: records as JSON lines on stdin, validated, appended all or nothing. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#define APPEND_MAX_RECORDS 10000u
#define APPEND_MAX_LINE (4u << 20)
#define APPEND_MAX_TOTAL (64u << 20) /* bytes of input in one call */

static const char usage[] =
    "usage: tally append [--dir DIR] < records.jsonl\n\n"
    "Reads one record a line as JSON and appends them all in one transaction, or none:\n"
    "  {\"type\": \"EVENT\", \"body\": {...}}                         signed by the node\n"
    "  {\"type\": \"ODDS_SUBMISSION\", \"actor\": HEX, \"sig\": HEX, \"body\": {...}}\n"
    "                                          signed by its author (the miner)\n"
    "An optional \"time_ms\" sets the record time: it may not be below the previous\n"
    "record's, nor more than 30 s ahead of the node clock; otherwise the node clock is\n"
    "used. Bodies use the field names of 'tally log'. The\n"
    "node draws the salt of records it signs when the body gives none. At most 10000\n"
    "records (64 MiB) per call. Every line is checked first (canonical form, bounds,\n"
    "signatures, authorship, placement, time, and the ledger's acceptance rules against\n"
    "the log and the lines before it, docs/rules.md); on any error nothing is appended,\n"
    "and the line and the rule are named (exit 3; 7 for authorship, 8 for placement).\n"
    "Another process writing the log makes it exit 8 at once.\n";

/* Reads a line of any length up to the cap; false at end of input. */
static bool read_line(char **buf, size_t *cap, size_t *len, bool *too_long)
{
    ssize_t n = getline(buf, cap, stdin);

    *too_long = false;
    if (n < 0) {
        return false;
    }
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) {
        (*buf)[--n] = '\0';
    }
    *len = (size_t)n;
    *too_long = (size_t)n > APPEND_MAX_LINE;
    return true;
}

static tally_status add_line(ledger_batch *b, store_log *log, const char *line, size_t n, char *err,
                             size_t err_cap)
{
    uint8_t salt[16], body[SCHEMA_BODY_MAX];
    schema_json_input in;
    schema_field_error fe;
    schema_header h;
    size_t bn;
    tally_status st;

    randombytes_buf(salt, sizeof(salt));
    st = schema_input_from_json(line, n, salt, &in, &fe);
    if (st != TALLY_OK) {
        /* "field markets[0].prices[1].odds_n: 1000000000 is out of range …" */
        if (fe.path[0] != '\0') {
            snprintf(err, err_cap, "field %s: %s", fe.path, fe.what);
        } else {
            snprintf(err, err_cap, "%s", fe.what[0] ? fe.what : "cannot read the record");
        }
        return st;
    }
    if (!in.has_actor) {
        st = ledger_batch_node(b, log, &in.body, in.time_ms);
        if (st != TALLY_OK) {
            snprintf(err, err_cap, "cannot encode or sign the record");
        }
        schema_body_release(&in.body);
        return st;
    }
    st = schema_body_encode(&in.body, body, sizeof(body), &bn);
    if (st == TALLY_OK) {
        st = schema_header_init(&in.body, body, bn, in.actor, &h);
    }
    schema_body_release(&in.body);
    if (st != TALLY_OK) {
        snprintf(err, err_cap, "cannot encode the record");
        return st;
    }
    memcpy(h.actor_sig, in.sig, 64);
    h.time_ms = in.time_ms;
    if (schema_record_verify(&h, (tally_str){store_origin(log), strlen(store_origin(log))}) !=
        TALLY_OK) {
        snprintf(err, err_cap, "sig does not verify for this actor, origin and body");
        return TALLY_EAUTH;
    }
    return ledger_batch_raw(b, &h, body, bn);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The record just added must pass the acceptance rules at the time the writer will give it:
 * its own time_ms, else the node clock, never below the previous record's. */
static tally_status admit_last(ledger_batch *b, engine_rules *rules, char *err, size_t err_cap)
{
    store_input *in = &b->in[b->n - 1];
    engine_verdict v;
    tally_status st;

    if (in->header.time_ms == 0) {
        uint64_t t = now_ms(), last = engine_rules_last_time(rules);
        in->header.time_ms = t > last ? t : last;
    }
    st = ledger_rules_admit(rules, in, &v);
    if (st != TALLY_OK) {
        snprintf(err, err_cap, "the record does not match its header");
        return st;
    }
    if (v.rule != ENGINE_RULE_OK) {
        snprintf(err, err_cap, "%s refused by rule %s: %s",
                 schema_type_name((unsigned)in->header.type), engine_rule_name(v.rule), v.detail);
        return engine_rule_status(v.rule);
    }
    return TALLY_OK;
}

int cmd_append(int argc, char **argv)
{
    const char *dir;
    char *line = NULL, err[512];
    size_t cap = 0, len, lineno = 0, total = 0;
    bool too_long;
    ledger_batch b = LEDGER_BATCH_INIT;
    store_log *log;
    store_rejection rej;
    engine_rules *rules = NULL;
    size_t *lines = NULL; /* the input line of each record in the batch */
    uint64_t first;
    tally_status st = TALLY_OK;
    int rc = cli_dir_opts("append", argc, argv, usage, 0, &dir);

    if (rc != CLI_OK) {
        return rc < 0 ? CLI_OK : rc;
    }
    rc = cli_open("append", dir, false, &log);
    if (rc != CLI_OK) {
        return rc;
    }
    st = ledger_rules_open(log, &rules);
    if (st != TALLY_OK) {
        store_close(log);
        return cli_fail("append", st, "cannot read the log to judge the new records");
    }
    while (st == TALLY_OK && read_line(&line, &cap, &len, &too_long)) {
        lineno++;
        if (len == 0) {
            continue;
        }
        total += len;
        if (too_long || b.n >= APPEND_MAX_RECORDS || total > APPEND_MAX_TOTAL) {
            st = TALLY_ELIMIT;
            snprintf(err, sizeof(err), "%s",
                     too_long                        ? "line longer than 4 MiB"
                     : b.n >= APPEND_MAX_RECORDS ? "more than 10000 records in one call"
                                                 : "more than 64 MiB of input in one call");
            break;
        }
        if (b.n % 1024 == 0) {
            size_t *grown = realloc(lines, (b.n + 1024) * sizeof(*lines));
            if (grown == NULL) {
                st = TALLY_ENOMEM;
                snprintf(err, sizeof(err), "out of memory");
                break;
            }
            lines = grown;
        }
        lines[b.n] = lineno;
        st = add_line(&b, log, line, len, err, sizeof(err));
        if (st == TALLY_OK) {
            st = admit_last(&b, rules, err, sizeof(err));
        }
    }
    free(line);
    engine_rules_free(rules);
    if (st != TALLY_OK) {
        ledger_batch_release(&b);
        store_close(log);
        free(lines);
        return cli_fail("append", st, "line %zu: %s; nothing was appended", lineno, err);
    }
    if (b.n == 0) {
        ledger_batch_release(&b);
        store_close(log);
        free(lines);
        return cli_usage_error("append", "no records on stdin");
    }
    len = b.n;
    /* the writer's own checks (placement, author, time) name the record, hence its line */
    st = store_append_ex(log, b.in, b.n, &first, &rej);
    ledger_batch_release(&b);
    store_close(log);
    if (st != TALLY_OK && rej.has_index && rej.index < len) {
        rc = cli_fail("append", st, "line %zu: %s; nothing was appended", lines[rej.index],
                      rej.what);
    } else if (st != TALLY_OK) {
        rc = cli_fail("append", st, "%s; nothing was appended",
                      rej.what[0] ? rej.what : "the write failed");
    }
    free(lines);
    if (st != TALLY_OK) {
        return rc;
    }
    printf("appended %zu records: seq %llu..%llu\n", len, (unsigned long long)first,
           (unsigned long long)(first + len - 1));
    return CLI_OK;
}

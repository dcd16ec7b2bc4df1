/* tally diff: where two logs part, and which cycles' weights that changes. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "auditor/audit.h"
#include "cli/cli.h"

static const char usage[] =
    "usage: tally diff [--json] A B\n\n"
    "Compares two logs, A and B, each a data directory or a node's ledger listener\n"
    "(http://host:port: only public data, all of it checked: its checkpoint against the key\n"
    "its /v1/info names, its hash tiles against that checkpoint's root, each header of its\n"
    "entry bundles against its leaf; bodies from its body bundles, the public ones): their\n"
    "origins and node keys, then record by\n"
    "record (equal 256-record hash tiles are skipped whole). At the first record whose header\n"
    "differs it prints both headers side by side, the first header field that differs and,\n"
    "where both logs hold the bodies, the first body field that differs. Then every cycle of\n"
    "either log whose block ends at or after that record (those whose inputs include it are\n"
    "marked), each with the uids whose WEIGHTS differ between A and B, old (A) and new (B).\n"
    "A log that is a prefix of the other is not a divergence.\n\n"
    "  --json  print the result as one JSON object\n\n"
    "Exit status 0 when the logs are identical or one is a prefix of the other; 1 when they\n"
    "diverge (or their origins or node keys differ).\n";

static bool is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static json_t *jhex(const uint8_t *p, size_t n)
{
    char hex[129];
    schema_hex(p, n, hex);
    return json_string(hex);
}

static json_t *jheader(const schema_header *h)
{
    const char *tn = schema_type_name((unsigned)h->type);
    json_t *o = json_object();

    json_object_set_new(o, "version", json_integer((json_int_t)h->version));
    json_object_set_new(o, "type", json_string(tn ? tn : "?"));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)h->time_ms));
    json_object_set_new(o, "tier", json_integer((json_int_t)h->tier));
    json_object_set_new(o, "event_id",
                        h->has_event_id ? json_integer((json_int_t)h->event_id) : json_null());
    json_object_set_new(o, "rows", h->has_rows ? json_integer((json_int_t)h->rows) : json_null());
    json_object_set_new(o, "actor", jhex(h->actor, 32));
    json_object_set_new(o, "body_hash", jhex(h->body_hash, 32));
    json_object_set_new(o, "actor_sig", jhex(h->actor_sig, 64));
    return o;
}

static const char *verdict_name(ledger_diff_verdict v)
{
    return v == LEDGER_DIFF_IDENTICAL ? "identical" : v == LEDGER_DIFF_PREFIX ? "prefix"
                                                                              : "diverged";
}

static json_t *jcycle(const ledger_diff_cycle *c)
{
    json_t *o = json_object(), *ch = json_array();

    json_object_set_new(o, "cycle", json_integer((json_int_t)c->cycle));
    json_object_set_new(o, "in_a", json_boolean(c->in_a));
    json_object_set_new(o, "in_b", json_boolean(c->in_b));
    json_object_set_new(o, "seq_a", c->in_a ? json_integer((json_int_t)c->seq_a) : json_null());
    json_object_set_new(o, "seq_b", c->in_b ? json_integer((json_int_t)c->seq_b) : json_null());
    json_object_set_new(o, "covers_to_a",
                        c->in_a ? json_integer((json_int_t)c->covers_to_a) : json_null());
    json_object_set_new(o, "covers_to_b",
                        c->in_b ? json_integer((json_int_t)c->covers_to_b) : json_null());
    json_object_set_new(o, "inputs_include_seq", json_boolean(c->inputs));
    json_object_set_new(o, "weights_a", json_boolean(c->weights_a));
    json_object_set_new(o, "weights_b", json_boolean(c->weights_b));
    json_object_set_new(o, "weights_differ", json_boolean(c->weights_differ));
    for (size_t i = 0; i < c->n_changes; i++) {
        const ledger_weight_change *w = &c->changes[i];
        json_array_append_new(
            ch, json_pack("{s:I, s:o, s:o}", "uid", (json_int_t)w->uid, "a",
                          w->in_a ? json_integer((json_int_t)w->a) : json_null(), "b",
                          w->in_b ? json_integer((json_int_t)w->b) : json_null()));
    }
    json_object_set_new(o, "changes", ch);
    return o;
}

static int print_json(const ledger_diff_result *r, const char *a, const char *b)
{
    json_t *o = json_object(), *cy = json_array();
    char *txt;

    json_object_set_new(o, "verdict", json_string(verdict_name(r->verdict)));
    json_object_set_new(o, "a", json_string(a));
    json_object_set_new(o, "b", json_string(b));
    json_object_set_new(o, "size_a", json_integer((json_int_t)r->size_a));
    json_object_set_new(o, "size_b", json_integer((json_int_t)r->size_b));
    json_object_set_new(o, "origin_a", json_string(r->origin_a));
    json_object_set_new(o, "origin_b", json_string(r->origin_b));
    json_object_set_new(o, "node_key_a", jhex(r->key_a, 32));
    json_object_set_new(o, "node_key_b", jhex(r->key_b, 32));
    json_object_set_new(o, "origin_differs", json_boolean(r->origin_differs));
    json_object_set_new(o, "key_differs", json_boolean(r->key_differs));
    json_object_set_new(o, "tiles_skipped", json_integer((json_int_t)r->tiles_skipped));
    if (r->verdict == LEDGER_DIFF_DIVERGED) {
        json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
        json_object_set_new(o, "field", json_string(r->field));
        json_object_set_new(o, "body_field",
                            r->body_field[0] ? json_string(r->body_field) : json_null());
        json_object_set_new(o, "detail", json_string(r->detail));
        json_object_set_new(o, "header_a", jheader(&r->ha));
        json_object_set_new(o, "header_b", jheader(&r->hb));
        json_object_set_new(o, "body_a_held", json_boolean(r->has_body_a));
        json_object_set_new(o, "body_b_held", json_boolean(r->has_body_b));
        for (size_t i = 0; i < r->n_cycles; i++) {
            json_array_append_new(cy, jcycle(&r->cycles[i]));
        }
    }
    json_object_set_new(o, "cycles", cy);
    txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (txt == NULL) {
        return cli_fail("diff", TALLY_ENOMEM, "cannot print JSON");
    }
    puts(txt);
    free(txt);
    return CLI_OK;
}

static void print_header_row(const char *label, const schema_header *h)
{
    const char *tn = schema_type_name((unsigned)h->type);
    char actor[65], bh[65];

    schema_hex(h->actor, 32, actor);
    schema_hex(h->body_hash, 32, bh);
    printf("  %s: %-16s time_ms %" PRIu64 " tier %" PRIu64, label, tn ? tn : "?", h->time_ms,
           h->tier);
    if (h->has_event_id) {
        printf(" event_id %" PRIu64, h->event_id);
    }
    if (h->has_rows) {
        printf(" rows %" PRIu64, h->rows);
    }
    printf(" actor %.16s… body_hash %.16s…\n", actor, bh);
}

static void print_cycle(const ledger_diff_cycle *c)
{
    printf("  cycle %" PRIu64 ":", c->cycle);
    if (c->in_a) {
        printf(" A seq %" PRIu64 " covers_to %" PRIu64 ";", c->seq_a, c->covers_to_a);
    } else {
        printf(" not in A;");
    }
    if (c->in_b) {
        printf(" B seq %" PRIu64 " covers_to %" PRIu64 ";", c->seq_b, c->covers_to_b);
    } else {
        printf(" not in B;");
    }
    printf("%s", c->inputs ? " its inputs include the divergent record;" : "");
    if (!c->weights_differ) {
        printf(" weights identical%s\n", c->weights_a ? "" : " (none)");
        return;
    }
    if (c->weights_a != c->weights_b) {
        printf(" WEIGHTS only in %s;", c->weights_a ? "A" : "B");
    }
    printf(" weights differ for %zu uids:\n", c->n_changes);
    for (size_t i = 0; i < c->n_changes; i++) {
        const ledger_weight_change *w = &c->changes[i];
        char va[24], vb[24];
        snprintf(va, sizeof(va), "%" PRIu64, w->a);
        snprintf(vb, sizeof(vb), "%" PRIu64, w->b);
        printf("    uid %-5" PRIu64 " %8s -> %s\n", w->uid, w->in_a ? va : "absent",
               w->in_b ? vb : "absent");
    }
}

static void print_text(const ledger_diff_result *r, const char *a, const char *b)
{
    char ka[65], kb[65];

    schema_hex(r->key_a, 32, ka);
    schema_hex(r->key_b, 32, kb);
    printf("A: %s (origin %s, node key %.16s…, %" PRIu64 " records)\n", a, r->origin_a, ka,
           r->size_a);
    printf("B: %s (origin %s, node key %.16s…, %" PRIu64 " records)\n", b, r->origin_b, kb,
           r->size_b);
    if (r->origin_differs) {
        printf("the origins differ: these are not the same log\n");
    }
    if (r->key_differs) {
        printf("the node keys differ: %s and %s\n", ka, kb);
    }
    if (r->verdict == LEDGER_DIFF_IDENTICAL) {
        printf("identical: the same %" PRIu64 " records\n", r->size_a);
        return;
    }
    if (r->verdict == LEDGER_DIFF_PREFIX) {
        printf("prefix: %s (%" PRIu64 " records) is a prefix of %s (%" PRIu64
               " records); no divergence\n",
               r->size_a < r->size_b ? "A" : "B", r->size_a < r->size_b ? r->size_a : r->size_b,
               r->size_a < r->size_b ? "B" : "A", r->size_a < r->size_b ? r->size_b : r->size_a);
        return;
    }
    printf("diverged at seq %" PRIu64 " (%" PRIu64 " equal tiles of 256 records skipped): first "
           "differing field %s%s%s\n",
           r->seq, r->tiles_skipped, r->field, r->body_field[0] ? ", body field " : "",
           r->body_field);
    print_header_row("A", &r->ha);
    print_header_row("B", &r->hb);
    printf("  %s\n", r->detail);
    printf("cycles affected: %zu\n", r->n_cycles);
    for (size_t i = 0; i < r->n_cycles; i++) {
        print_cycle(&r->cycles[i]);
    }
}

int cmd_diff(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"dir", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ledger_diff_result r;
    bool json = false;
    tally_status st;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (c == 'j') {
            json = true;
        } else if (c == 'd') {
            continue; /* the global --dir names no log of a diff */
        } else {
            return cli_usage_error("diff", "bad option");
        }
    }
    if (argc - optind != 2) {
        return cli_usage_error("diff", "give two logs: tally diff A B");
    }
    {
        ledger_diff_source src[2];
        store_log *logs[2] = {NULL, NULL};
        audit_remote *rem[2] = {NULL, NULL};
        rc = CLI_OK;
        for (int i = 0; i < 2 && rc == CLI_OK; i++) {
            const char *arg = argv[optind + i];
            if (is_url(arg)) {
                char detail[AUDIT_WHAT_MAX] = "";
                st = audit_remote_open(arg, &rem[i], detail);
                if (st != TALLY_OK) {
                    rc = cli_fail("diff", st, "%s", detail);
                } else {
                    audit_remote_source(rem[i], &src[i]);
                }
            } else {
                rc = cli_open("diff", arg, true, &logs[i]);
                if (rc == CLI_OK) {
                    ledger_diff_source_store(logs[i], arg, &src[i]);
                }
            }
        }
        st = rc == CLI_OK ? ledger_diff_sources(&src[0], &src[1], &r) : TALLY_OK;
        for (int i = 0; i < 2; i++) {
            store_close(logs[i]);
            audit_remote_close(rem[i]);
        }
        if (rc != CLI_OK) {
            return rc;
        }
    }
    if (st != TALLY_OK) {
        ledger_diff_release(&r);
        return cli_fail("diff", st, "cannot compare %s and %s", argv[optind], argv[optind + 1]);
    }
    rc = json ? print_json(&r, argv[optind], argv[optind + 1]) : CLI_OK;
    if (!json) {
        print_text(&r, argv[optind], argv[optind + 1]);
    }
    if (rc == CLI_OK && (r.verdict == LEDGER_DIFF_DIVERGED || r.origin_differs || r.key_differs)) {
        rc = CLI_CHECK_FAILED;
    }
    ledger_diff_release(&r);
    return rc;
}

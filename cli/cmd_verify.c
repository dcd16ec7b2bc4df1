/* tally verify: the full integrity scan. */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: tally verify [--dir DIR] [--signatures] [--against CHECKPOINT] [--quiet]\n"
           "       tally verify --checkpoint FILE [--dir DIR | --key VKEY] [--witness VKEY]...\n"
           "                    [--quorum K]\n\n"
           "Rehashes every record and checks its body against its header, rebuilds every hash\n"
           "tile and compares it with the stored one, and checks every signed tree head (root,\n"
           "both signatures, order). With --signatures it also verifies every record's actor\n"
           "signature (slower: one Ed25519 verification a record). Progress goes to stderr.\n"
           "Every head and every node record must be signed by the GENESIS actor, and nothing\n"
           "may lie beyond the latest head. Needs no secret key. On an auditor's replica,\n"
           "records whose bodies it was not served (yet) are counted, not errors.\n"
           "With --against FILE (a checkpoint note kept from earlier, e.g. an export's), it also\n"
           "proves that this log extends that head (RFC 9162 consistency proof), or prints the\n"
           "two conflicting heads signed by this log's key: a fork, or a rewind (the log was\n"
           "restored from an older backup).\n"
           "Exits 0 when everything checks, 1 naming the first bad sequence number (or the\n"
           "conflicting heads) otherwise.\n\n"
           "With --checkpoint FILE it checks a checkpoint note (GET /log/checkpoint) instead of\n"
           "the log: the node's signature, by the key of the log in --dir, or by --key VKEY (the\n"
           "node's verifier key, as 'tally key' prints it) with no log at all; then the witness\n"
           "cosignatures (c2sp.org/tlog-cosignature, cosignature/v1): each --witness VKEY is a\n"
           "cosigner's verifier key (name+keyid+base64(0x04 || key)), and at least K distinct\n"
           "witnesses (--quorum, default: all given) must have a valid line on the note. It\n"
           "prints which witnesses signed, and when. Exits 0 when the quorum is met, 1 when it\n"
           "is not, 7 when the node's signature or a known witness's line does not verify, 3\n"
           "for a file that is not a signed note or a malformed key, 2 for a usage error.\n");
}

#define WITNESS_MAX 64

/* One --witness key, parsed; a repeated key counts once. */
typedef struct witness {
    const char *vkey;
    char name[STORE_NOTE_NAME_MAX + 1];
    uint8_t id[4], pk[32];
    bool dup, signed_, bad;
    uint64_t ts;
} witness;

/* verify --checkpoint: the node's signature, then the witnesses' lines, then the quorum. */
static int check_checkpoint(const char *path, const char *dir, const char *node_vkey,
                            witness *w, size_t nw, size_t quorum)
{
    static char note[STORE_NOTE_MAX + 1];
    char vkey[512];
    store_note_parts parts;
    uint8_t root[32];
    uint64_t size;
    size_t n, have = 0, distinct = 0;
    tally_status st;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        return cli_fail("verify", TALLY_ENOTFOUND, "cannot read %s", path);
    }
    n = fread(note, 1, sizeof(note), f);
    fclose(f);
    if (n > STORE_NOTE_MAX) {
        return cli_fail("verify", TALLY_EFORMAT, "%s is larger than a signed note may be", path);
    }
    if (node_vkey == NULL) {
        store_log *log;
        uint8_t pk[32];
        int rc = cli_open("verify", cli_dir(dir), true, &log);
        if (rc != CLI_OK) {
            return rc;
        }
        store_node_pubkey(log, pk);
        st = store_vkey(store_origin(log), pk, vkey, sizeof(vkey));
        store_close(log);
        if (st != TALLY_OK) {
            return cli_fail("verify", st, "cannot make the node's verifier key");
        }
        node_vkey = vkey;
    }
    st = store_note_split(note, n, &parts);
    if (st != TALLY_OK) {
        return cli_fail("verify", st, "%s is not a signed note (c2sp.org/signed-note)", path);
    }
    st = store_note_verify(note, n, node_vkey, &size, root);
    if (st != TALLY_OK) {
        return cli_fail("verify", st, "%s: %s", path,
                        st == TALLY_EAUTH ? "not signed by the node key"
                                            : "not a checkpoint note, or the node key is not a "
                                              "verifier key");
    }
    for (size_t i = 0; i < nw; i++) {
        for (size_t k = 0; !w[i].dup && k < parts.n_sigs; k++) {
            uint64_t ts;
            st = store_cosig_verify(parts.text.p, parts.text.n, parts.sigs[k].p, parts.sigs[k].n,
                                    w[i].vkey, &ts);
            if (st == TALLY_OK && !w[i].signed_) {
                w[i].signed_ = true, w[i].ts = ts;
            } else if (st == TALLY_EAUTH) {
                w[i].bad = true; /* signed-note: a known key's failing line rejects the note */
            }
        }
        distinct += !w[i].dup;
        have += w[i].signed_;
    }
    printf("checkpoint %s: size %llu, signed by the node\n", path, (unsigned long long)size);
    for (size_t i = 0; i < nw; i++) {
        if (!w[i].dup) {
            if (w[i].signed_) {
                printf("  witness %s: cosigned at %llu\n", w[i].name, (unsigned long long)w[i].ts);
            } else {
                printf("  witness %s: %s\n", w[i].name,
                       w[i].bad ? "INVALID cosignature line" : "no cosignature");
            }
        }
    }
    for (size_t i = 0; i < nw; i++) {
        if (w[i].bad) {
            fprintf(stderr, "tally verify: %s: witness %s has a cosignature line that does not "
                            "verify\n", path, w[i].name);
            return CLI_AUTH;
        }
    }
    if (have < quorum) {
        fprintf(stderr, "tally verify: FAILED: %zu of %zu witnesses cosigned %s, %zu required\n",
                have, distinct, path, quorum);
        return CLI_CHECK_FAILED;
    }
    printf("ok: %zu of %zu witnesses cosigned, %zu required\n", have, distinct, quorum);
    return CLI_OK;
}

/* Parses the --witness keys; a key given twice (same name and key) counts once. */
static int parse_witnesses(witness *w, size_t nw)
{
    for (size_t i = 0; i < nw; i++) {
        if (store_cosig_vkey_parse(w[i].vkey, w[i].name, w[i].id, w[i].pk) != TALLY_OK) {
            return cli_fail("verify", TALLY_EFORMAT, "--witness '%s' is not a cosigner's "
                            "verifier key (name+keyid+base64(0x04 || key))", w[i].vkey);
        }
        for (size_t k = 0; k < i; k++) {
            if (!w[k].dup && strcmp(w[k].name, w[i].name) == 0 &&
                memcmp(w[k].pk, w[i].pk, 32) == 0) {
                w[i].dup = true;
            }
        }
    }
    return CLI_OK;
}

/* Prints a head as its checkpoint note, indented, for the evidence of a conflict. */
static void print_head(const char *label, const char *note, size_t n)
{
    fprintf(stderr, "%s\n", label);
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(note + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (note + i)) : n - i;
        fprintf(stderr, "    %.*s\n", (int)len, note + i);
        i += len + 1;
    }
}

static int check_against(store_log *log, const char *path)
{
    char note[4096], own[1024];
    size_t n, on;
    store_head_report rep;
    tally_status st;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        return cli_fail("verify", TALLY_ENOTFOUND, "cannot read %s", path);
    }
    n = fread(note, 1, sizeof(note), f);
    fclose(f);
    st = store_check_head(log, note, n, &rep);
    if (st == TALLY_OK) {
        printf("consistent: this log (size %llu) extends the head in %s (size %llu)\n",
               (unsigned long long)rep.size, path, (unsigned long long)rep.known_size);
        return CLI_OK;
    }
    if (st != TALLY_ECONFLICT) {
        return cli_fail("verify", st, "%s: %s", path, store_detail(log));
    }
    fprintf(stderr, "tally verify: FAILED against %s: %s\n", path, store_detail(log));
    if (rep.verdict == STORE_HEAD_FORK || rep.verdict == STORE_HEAD_REWIND) {
        print_head("the head you kept:", note, n);
        if (rep.has_own && store_note(&rep.own, own, sizeof(own), &on) == TALLY_OK) {
            print_head(rep.own.tree_size == rep.known_size ? "this log's head for the same size:"
                                                           : "this log's latest head:",
                       own, on);
        }
    }
    return CLI_CHECK_FAILED;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"signatures", no_argument, NULL, 's'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"against", required_argument, NULL, 'a'},
                                         {"checkpoint", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"witness", required_argument, NULL, 'w'},
                                         {"quorum", required_argument, NULL, 'Q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *against = NULL, *checkpoint = NULL, *key = NULL;
    static witness wit[WITNESS_MAX];
    size_t nw = 0, distinct = 0;
    uint64_t quorum = 0;
    bool has_quorum = false;
    bool sigs = false, quiet = false;
    store_verify_report rep;
    cli_progress_state prog;
    store_log *log;
    struct timespec t0, t1;
    tally_status st;
    double secs;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': sigs = true; break;
        case 'q': quiet = true; break;
        case 'a': against = optarg; break;
        case 'c': checkpoint = optarg; break;
        case 'k': key = optarg; break;
        case 'w':
            if (nw == WITNESS_MAX) {
                return cli_usage_error("verify", "at most %d --witness keys", WITNESS_MAX);
            }
            wit[nw++] = (witness){.vkey = optarg};
            break;
        case 'Q':
            if (!cli_parse_u64(optarg, &quorum)) {
                return cli_usage_error("verify", "--quorum takes a count, not '%s'", optarg);
            }
            has_quorum = true;
            break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("verify", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
    }
    if (checkpoint == NULL && (key != NULL || nw > 0 || has_quorum)) {
        return cli_usage_error("verify", "--key, --witness and --quorum go with --checkpoint");
    }
    if (checkpoint != NULL) {
        if (key != NULL && dir != NULL) {
            return cli_usage_error("verify", "give the node key either by --dir or by --key");
        }
        if (sigs || against != NULL) {
            return cli_usage_error("verify", "--checkpoint checks a note, not the log: no "
                                             "--signatures or --against with it");
        }
        rc = parse_witnesses(wit, nw);
        if (rc != CLI_OK) {
            return rc;
        }
        for (size_t i = 0; i < nw; i++) {
            distinct += !wit[i].dup;
        }
        if (!has_quorum) {
            quorum = distinct;
        }
        if (quorum > distinct) {
            return cli_usage_error("verify", "--quorum %llu is more than the %zu distinct "
                                   "witnesses given", (unsigned long long)quorum, distinct);
        }
        return check_checkpoint(checkpoint, dir, key, wit, nw, (size_t)quorum);
    }
    rc = cli_open_scan("verify", cli_dir(dir), &log);
    if (rc != CLI_OK) {
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cli_progress_init(&prog, "verify: records");
    st = store_verify(log, sigs, quiet ? NULL : cli_progress, &prog, &rep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st == TALLY_OK && against != NULL) {
        rc = check_against(log, against);
        if (rc != CLI_OK) {
            store_close(log);
            return rc;
        }
    }
    store_close(log);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (st == TALLY_ECORRUPT) {
        if (rep.has_bad_seq) {
            fprintf(stderr, "tally verify: FAILED at seq %llu: %s\n",
                    (unsigned long long)rep.bad_seq, rep.what);
        } else {
            fprintf(stderr, "tally verify: FAILED: %s\n", rep.what);
        }
        return CLI_CHECK_FAILED;
    }
    if (st != TALLY_OK) {
        return cli_fail("verify", st, "the scan could not run");
    }
    printf("ok: %llu records, %llu signed tree heads verified%s in %.2f s\n",
           (unsigned long long)rep.records, (unsigned long long)rep.sths,
           sigs ? " (with actor signatures)" : "", secs);
    if (rep.bodies_absent > 0) {
        printf("replica: %llu bodies not served to it (yet): their headers were checked\n",
               (unsigned long long)rep.bodies_absent);
    }
    return CLI_OK;
}

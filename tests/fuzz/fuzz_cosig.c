/* Cosigned notes and cosigner vkeys from outside (c2sp.org/tlog-cosignature): splitting never
 * crashes, a note that splits is rebuilt byte for byte from its parts, every signature line is
 * checked against a pinned witness key (only the real line of the seed verifies), and a vkey
 * that parses re-encodes to the same string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The witness of tests/store/test_cosig.c's vector, and the text it signed. */
static const char vkey[] =
    "witness.example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk";
static const char text[] = "example.org/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

static void check_vkey(const char *s)
{
    char name[STORE_NOTE_NAME_MAX + 1], again[STORE_NOTE_NAME_MAX + 128];
    uint8_t id[4], pk[32];

    if (store_cosig_vkey_parse(s, name, id, pk) != TALLY_OK) {
        return;
    }
    if (store_cosig_vkey(name, pk, again, sizeof(again)) != TALLY_OK || strcmp(again, s) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_note_parts parts;
    char *copy = malloc(size + 1), *rebuilt;
    size_t n;
    uint64_t ts;

    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    check_vkey(copy);
    if (store_note_split(copy, size, &parts) != TALLY_OK) {
        free(copy);
        return 0;
    }
    rebuilt = malloc(size + 2);
    if (rebuilt == NULL) {
        free(copy);
        return 0;
    }
    memcpy(rebuilt, parts.text.p, parts.text.n);
    rebuilt[parts.text.n] = '\n';
    n = parts.text.n + 1;
    for (size_t i = 0; i < parts.n_sigs; i++) {
        const tally_str *l = &parts.sigs[i];
        tally_status st = store_cosig_verify(parts.text.p, parts.text.n, l->p, l->n, vkey, &ts);
        if (st == TALLY_OK &&
            (parts.text.n != sizeof(text) - 1 || memcmp(parts.text.p, text, parts.text.n) != 0)) {
            abort(); /* only the witness's real line verifies, over the text it signed */
        }
        memcpy(rebuilt + n, l->p, l->n);
        rebuilt[n + l->n] = '\n';
        n += l->n + 1;
    }
    if (n != size || memcmp(rebuilt, copy, size) != 0) {
        abort();
    }
    free(rebuilt);
    free(copy);
    return 0;
}

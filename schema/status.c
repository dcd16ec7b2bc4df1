#include "schema/status.h"

#include <stdio.h>
#include <stdlib.h>

const char *tally_status_str(tally_status s)
{
    switch (s) {
    case TALLY_OK:
        return "ok";
    case TALLY_EINVAL:
        return "invalid argument";
    case TALLY_ENOMEM:
        return "out of memory";
    case TALLY_EIO:
        return "input/output error";
    case TALLY_ENOTFOUND:
        return "not found";
    case TALLY_ECONFLICT:
        return "conflict";
    case TALLY_EFORMAT:
        return "malformed or non-canonical data";
    case TALLY_ELIMIT:
        return "size or count limit exceeded";
    case TALLY_EAUTH:
        return "signature or credential invalid";
    case TALLY_ECORRUPT:
        return "stored data failed an integrity check";
    case TALLY_EFULL:
        return "storage full";
    case TALLY_EAGAIN:
        return "temporarily unavailable";
    }
    return "unknown status";
}

void tally_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "tally: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

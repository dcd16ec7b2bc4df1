/* Shared by every module: the one status type, always-on assertions, byte views. */
#ifndef TALLY_SCHEMA_STATUS_H
#define TALLY_SCHEMA_STATUS_H

#include <stddef.h>
#include <stdint.h>

/* Every function that can fail returns one of these. Values never change once released. */
typedef enum tally_status {
    TALLY_OK = 0,
    TALLY_EINVAL = -1,   /* a caller's argument is out of its documented range */
    TALLY_ENOMEM = -2,   /* allocation failed */
    TALLY_EIO = -3,      /* the operating system refused a read or write */
    TALLY_ENOTFOUND = -4,
    TALLY_ECONFLICT = -5, /* duplicate id, stale nonce, a second GENESIS */
    TALLY_EFORMAT = -6,  /* malformed or non-canonical bytes */
    TALLY_ELIMIT = -7,   /* a size or count bound, or an output buffer too small */
    TALLY_EAUTH = -8,    /* a signature or credential does not verify */
    TALLY_ECORRUPT = -9, /* stored data fails an integrity check */
    TALLY_EFULL = -10,   /* the LMDB map or the disk is full */
    TALLY_EAGAIN = -11,  /* try again later (a queue is full, a handle is latched) */
} tally_status;

#define TALLY_MUST_USE __attribute__((warn_unused_result))

/* A static, human-readable name for s ("invalid argument", ...). Never NULL. */
const char *tally_status_str(tally_status s);

/* Assertions guard preconditions (bugs), never outside input, and stay on in every build. */
void tally_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define TALLY_ASSERT(e) ((e) ? (void)0 : tally_assert_fail(#e, __FILE__, __LINE__))

/* A borrowed view of bytes; whoever hands one out says until when it stays valid. */
typedef struct tally_bytes {
    const uint8_t *p;
    size_t n;
} tally_bytes;

/* A borrowed view of UTF-8 text, not NUL-terminated. */
typedef struct tally_str {
    const char *p;
    size_t n;
} tally_str;

#endif

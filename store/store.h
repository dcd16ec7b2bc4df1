/* store: the append-only log in LMDB. Record headers keyed by big-endian sequence number,
 * bodies content-addressed by body_hash, each full 256-record bundle packed into one zstd frame,
 * the RFC 9162 Merkle tree as C2SP tlog-tiles of height 8, and one signed tree head per
 * committed batch. One writer thread does group commit: appends
 * from any thread are gathered into one write transaction, committed durably, then acknowledged.
 */
#ifndef TALLY_STORE_STORE_H
#define TALLY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/schema.h"

#define STORE_MAP_DEFAULT (64ull << 30) /* bytes; also the log's largest size */
#define STORE_COMMIT_MAX 4096u          /* records per write transaction, by default */
#define STORE_QUEUE_DEFAULT 65536u      /* records waiting for the writer (protocol §10) */
#define STORE_KEY_FILE "node.key"       /* 32-byte Ed25519 seed, mode 0600, in the data dir */
#define STORE_KEY_NEW "node.key.new"    /* a creation's key until the log's first commit */
#define STORE_PROOF_MAX 64u             /* hashes in any proof of a tree below 2^64 */
#define STORE_LOCK_FILE "writer.lock"   /* flock()ed by the one writing process, holds its pid */
#define STORE_SKEW_DEFAULT_MS 30000u    /* protocol §10: clock skew ±30 s */
#define STORE_DETAIL_MAX 256u           /* bytes of a failure's detail, NUL included */

/* Fault injection (tests): the store asks fn before each operation of these kinds that can fail,
 * and fails it as the operating system or LMDB would when fn returns true. */
typedef enum store_fault_kind {
    STORE_FAULT_WRITE, /* a write() of an exported or key file */
    STORE_FAULT_SYNC,  /* an fsync() or LMDB's commit, which syncs */
    STORE_FAULT_ALLOC, /* a heap allocation in the write and export paths */
    STORE_FAULT_LMDB,  /* an LMDB call of the write path (begin, get, put, delete) */
} store_fault_kind;
typedef bool (*store_fault_fn)(void *arg, store_fault_kind kind);

typedef struct store_log store_log; /* opaque; one per data directory */

/* The admission hook the layer above supplies (the acceptance rules): the writer thread asks it
 * about each record at the position (seq) and time (h->time_ms) the record will have, in log
 * order, the records before it in the same transaction included. With judge, the hook decides
 * (*admitted, and its own refusal *code) and folds an admitted record into its state; without,
 * the record was judged by its caller (store_append) and the hook only folds it. Any status but
 * TALLY_OK fails the whole write transaction. rewind(size) says that records from `size` on
 * never reached the log (a failed transaction): the hook forgets them. Called from the writer
 * thread only. */
typedef struct store_admission {
    tally_status (*admit)(void *arg, uint64_t seq, const schema_header *h, const uint8_t *body,
                          size_t body_len, bool judge, bool *admitted, int *code);
    void (*rewind)(void *arg, uint64_t size);
    void *arg;
    int noop_code; /* a refusal code meaning "a repeat to drop as a no-op" (not 0): a judged
                      batch (store_append_judged) skips such a record instead of failing */
} store_admission;

typedef struct store_cfg {
    const char *dir;          /* the data directory; must exist. The handle keeps its own copy
                                 of dir, key_file and replica_pk (< 4096 bytes a path) */
    size_t map_size;          /* bytes; 0 keeps the file's size, or STORE_MAP_DEFAULT if new */
    bool create;              /* make a new log here (fails with TALLY_ECONFLICT if one exists,
                                 or if DIR/node.key exists and does not hold key_seed) */
    const char *origin;       /* with create: the log's origin (ascii, no '+', ≤ 128 bytes) */
    const uint8_t *key_seed;  /* with create: the node key's 32-byte seed; NULL draws one */
    bool read_only;           /* open without a writer thread; store_append is refused */
    const char *key_file;     /* a writer's node key elsewhere than DIR/node.key (TALLY_KEY_FILE,
                                 e.g. /etc/tally/node.key); NULL: DIR/node.key */
    size_t commit_max;        /* records per write transaction; 0 picks STORE_COMMIT_MAX */
    bool trust_signatures;    /* skip actor_sig checks in store_append (benchmarks, and the
                                 tamper module's misbehaving node: the ingest path verifies
                                 before appending) */
    const store_admission *admission; /* NULL: no judging; must outlive the handle */
    uint64_t max_skew_ms;     /* how far a record time may lie ahead of the node clock; 0 picks
                                 STORE_SKEW_DEFAULT_MS */
    bool simulated_time;      /* the caller's record times are a simulation's clock, not this
                                 machine's: no upper bound against the wall clock (they must still
                                 never decrease). For `tally simulate` only. */
    /* optional: the node clock in ms (a controllable clock for tests and replays of a simulated
       week through a live node); NULL reads CLOCK_REALTIME. Record times follow it. */
    uint64_t (*clock)(void *arg);
    void *clock_arg;
    size_t queue_max;         /* records queued for the writer before an append is refused with
                                 TALLY_EAGAIN; 0 picks STORE_QUEUE_DEFAULT */
    /* optional: called on the writer thread after each durable commit with its record count and
       duration (for the node's logs and metrics); it must not call into the write path */
    void (*on_commit)(void *arg, uint64_t first_seq, uint64_t records, uint64_t ns);
    void *on_commit_arg;
    char *detail;             /* optional, STORE_DETAIL_MAX bytes: why store_open failed, as a
                                 sentence (never a source location) */
    store_fault_fn fault;     /* optional fault injection (tests) */
    void *fault_arg;
    /* A replica (an auditor's copy of a primary's log) pinned to the primary's node key: 32
       bytes. With create, a new replica with cfg->origin is made (no node.key is written or
       read); without, the log must be a replica of this very key (TALLY_EAUTH otherwise). A
       replica takes records only through store_replicate and store_body_put. NULL for a node's
       own log; a writer open of a replica without it is refused (TALLY_ECONFLICT), a read-only
       open works with or without it. A replica takes no admission hook (TALLY_EINVAL). */
    const uint8_t *replica_pk;
} store_cfg;

/* Opens (or with cfg->create, creates) the log in cfg->dir. A writer (not read_only) takes the
 * directory's writer lock for the life of the handle, loads the node key from DIR/node.key (mode
 * 0600, exactly 32 bytes, the GENESIS actor's key) and starts the writer thread. Creation is
 * crash-safe: the key goes to DIR/node.key.new (synced), the log's metadata is committed, and
 * only then is the key linked to DIR/node.key, never replacing one. A creation killed before its
 * commit leaves no node.key, and creating again works; one killed after it leaves a log whose
 * key is still node.key.new, which the next writer open puts in place once it has checked it is
 * this log's key. An existing node.key with no log is kept: a creation with that very seed uses
 * it, any other is refused (TALLY_ECONFLICT), since it may be a key someone needs. A read-only
 * open needs no key and no lock, and any number may run beside the writer; it opens a damaged
 * log too, so that store_verify can name the damage (store_damage() says what was seen at open).
 * On TALLY_OK *out belongs to the caller, who releases it with store_close(). Returns TALLY_EIO,
 * TALLY_ENOMEM, TALLY_ENOTFOUND (no log in dir, or a writer without node.key), TALLY_ECONFLICT
 * (create over an existing log; another process is writing the log; a writer open of a replica
 * as a node's log, or of a node's log as a replica), TALLY_EINVAL (bad origin; an admission hook
 * for a replica), TALLY_EAUTH (node.key not 0600, or not this log's key; a replica of another
 * key than cfg->replica_pk), TALLY_EFORMAT (node.key not 32 bytes), TALLY_ECORRUPT (bad magic,
 * version or tree state; metadata key not the GENESIS actor). Every failure but ENOMEM writes a
 * sentence to cfg->detail when given. A replica is created in one LMDB commit (format, origin,
 * pinned key and the replica mark), so a creation killed before it leaves no log. */
TALLY_MUST_USE tally_status store_open(const store_cfg *cfg, store_log **out);
/* What a read-only open found wrong with the log (a sentence), or NULL if nothing. Valid until
 * store_close(). */
const char *store_damage(const store_log *log);
/* The detail of the last store_export() or store_check_head() failure on this handle (a
 * sentence), or "" if none. Valid until the next call on the handle. */
const char *store_detail(const store_log *log);
/* Stops the writer after the queued appends are committed, and closes LMDB. NULL is a no-op. */
void store_close(store_log *log);
/* True when the log is a replica (marked so in its metadata), whatever way it was opened. */
bool store_is_replica(const store_log *log);

/* One record to append. The header's actor_sig must already be valid; time_ms 0 means the node
 * clock, any other value is used as the time (raised to the previous record's time if below). */
typedef struct store_input {
    schema_header header;
    const uint8_t *body;
    size_t body_len;
} store_input;

/* Appends n ≥ 1 records as one contiguous run and returns after the write transaction holding
 * them, and its signed tree head, is durably committed. *first_seq_out is the first record's
 * sequence number. Checks every record before queueing: body against header, actor_sig, the
 * node key as author of node types, GENESIS only at seq 0. Thread-safe. Returns TALLY_EFORMAT
 * (a body does not match its header), TALLY_EAUTH (signature or author), TALLY_ECONFLICT
 * (GENESIS placement), TALLY_EFULL (LMDB map or disk full: nothing of the batch was written),
 * TALLY_EIO, TALLY_EAGAIN (read-only or closing). On failure nothing of `in` is in the log.
 * Every append, request, judged and side-table call below returns TALLY_EINVAL on a replica,
 * which takes records only as its primary signed them (store_replicate). */
TALLY_MUST_USE tally_status store_append(store_log *log, const store_input *in, size_t n,
                                         uint64_t *first_seq_out);
/* Why an append was refused: the index in `in` of the record concerned (has_index false when
 * the whole batch failed, e.g. on I/O) and a sentence. */
typedef struct store_rejection {
    bool has_index;
    size_t index;
    int code; /* store_append_judged: the admission hook's code for the refused record */
    char what[STORE_DETAIL_MAX];
} store_rejection;
/* store_append, filling *rej (when not NULL) on failure. Also returns TALLY_EINVAL for a record
 * time below the previous record's, or above the node clock plus cfg->max_skew_ms. */
TALLY_MUST_USE tally_status store_append_ex(store_log *log, const store_input *in, size_t n,
                                            uint64_t *first_seq_out, store_rejection *rej);

/* One item's fate in store_append_items. */
typedef struct store_item_result {
    bool accepted;
    int code;             /* refused: the admission hook's code */
    uint64_t seq, time_ms; /* accepted: where and when it stands */
    uint8_t leaf_hash[32];
} store_item_result;

/* Appends the records the admission hook admits, each judged in order at the position it would
 * take (the items admitted before it in this call and in the same transaction count), in one
 * write transaction; refused items are reported in out[i] (n entries) and change nothing.
 * Returns after the commit and its signed tree head are durable. *n_accepted_out may be 0 (then
 * nothing was written). Needs cfg.admission (else TALLY_EINVAL); the per-record checks of
 * store_append come first (any failure there refuses the whole call, nothing judged); GENESIS
 * is refused (TALLY_ECONFLICT). On failure every out[i] is zeroed and nothing is in the log. */
TALLY_MUST_USE tally_status store_append_items(store_log *log, const store_input *in, size_t n,
                                               store_item_result *out, size_t *n_accepted_out);

/* ---- replicas: a primary's log as it signed it (auditors) ----
 * Appends n ≥ 0 records at the end of a replica, exactly as given, with the primary's tree head
 * sth for the new size, in one write transaction, all or nothing, durable on return. Each
 * header is stored as schema_header_encode gives it (time_ms as in the header, no clock bound:
 * they are the primary's bytes); a body given must match its header (schema_record_check), and
 * a record without one (body NULL, body_len 0: not served to this replica yet) is allowed for
 * tiers 2..4 only. sth must verify (store_sth_verify) against the pinned key and the log's
 * origin, have tree_size = size + n and the root of the tree with the n records, and neither
 * its size nor its time may be below the latest stored head's. With n = 0 it is a newer head of
 * the current size: its root must be the current one; it replaces the stored head of that size
 * (byte-identical: nothing changes). Nothing else is judged (authorship, actor signatures,
 * times, GENESIS placement): that is the auditor's part, and it must see what the primary's tree
 * commits to. Returns TALLY_EAUTH (sth not signed by the pinned key for this origin),
 * TALLY_ECONFLICT (size or root mismatch, or a head older than the stored one: rej->what says
 * which), TALLY_EFORMAT (a header that does not encode, a body not matching its header, a
 * public record without its body: rej->index names it), TALLY_EINVAL (not a writer of a
 * replica), TALLY_EFULL, TALLY_EIO, TALLY_EAGAIN (closing). rej may be NULL. On failure nothing
 * changed. Thread-safe. */
TALLY_MUST_USE tally_status store_replicate(store_log *log, const store_input *in, size_t n,
                                            const schema_sth *sth, store_rejection *rej);
/* Stores the body of record seq of a replica that arrived after the record (a reveal): it must
 * match the record's header (body_hash, canonical form, tier, event_id, rows). From then on
 * store_iter_next and the other readers return it, whether the record is in the tail or in a
 * pack. Idempotent: a body already there is TALLY_OK. Durable on return. Returns TALLY_EINVAL
 * (not a writer of a replica, or n out of bounds), TALLY_ENOTFOUND (seq ≥ size), TALLY_EFORMAT
 * (the body is not the header's), TALLY_ECORRUPT, TALLY_EFULL, TALLY_EIO, TALLY_EAGAIN
 * (closing). On failure nothing changed. Thread-safe. */
TALLY_MUST_USE tally_status store_body_put(store_log *log, const uint8_t *body, size_t n,
                                           uint64_t seq);

/* ---- signed write requests (protocol §4: write nonces, idempotent retries) ----
 * A miner's write request carries a key, a strictly increasing nonce and a digest of what it
 * asked (SHA-256 of its signing string without the time line). The writer decides it against
 * the nonce index it keeps in the same transactions as the records: (key, nonce) → (digest,
 * first seq, count) for every request of which at least one item was appended. A request whose
 * items were all refused consumes its nonce in this handle's memory only. */
typedef struct store_request {
    uint8_t key[32];
    uint64_t nonce;
    uint8_t digest[32];
    bool verified; /* the caller checked every item's body against its header and its actor_sig
                      (the ingest path does, before queueing): the store does not repeat it */
} store_request;

typedef enum store_req_verdict {
    STORE_REQ_NEW = 0,   /* judged item by item: out[] says which were appended */
    STORE_REQ_DUPLICATE, /* the same key, nonce and digest were accepted before: nothing appended,
                            first_seq and count name the original records */
    STORE_REQ_REPLAY,    /* the nonce was accepted with another digest: nothing appended */
    STORE_REQ_STALE,     /* the nonce is not above the key's highest and was never accepted */
} store_req_verdict;

typedef struct store_req_result {
    store_req_verdict verdict;
    uint64_t first_seq;  /* NEW with accepted items, or DUPLICATE: the first record */
    uint32_t count;      /* ... and how many, contiguous from first_seq */
    size_t n_accepted;
    schema_sth sth;      /* the head stored with the commit (NEW with accepted items), else the
                            latest head; every seq named above is below its size */
    bool has_sth;
} store_req_result;

/* Decides request rq and, when it is new, appends the items the admission hook admits (as
 * store_append_items, which it otherwise equals); out[i] (n entries) says what became of each.
 * Returns after the commit is durable. The verdict comes first: a duplicate, a replay or a stale
 * nonce judges no item and appends nothing. Needs cfg.admission (else TALLY_EINVAL). Returns
 * what store_append_items returns, and TALLY_EAGAIN when the queue holds cfg.queue_max records
 * already (nothing decided: the nonce is not consumed). */
TALLY_MUST_USE tally_status store_append_request(store_log *log, const store_request *rq,
                                                 const store_input *in, size_t n,
                                                 store_item_result *out, store_req_result *res);
/* Called on the writer thread once the transaction of an asynchronous append is durable, or has
 * failed (st). It must not call into the store's write path; it may hand the result to another
 * thread. */
typedef void (*store_done_fn)(void *arg, tally_status st);
/* store_append_request without waiting: checks as it does, queues and returns TALLY_OK; done(arg,
 * st) follows on the writer thread with out and res filled. rq, in (and the bodies it points to),
 * out and res must stay valid until done is called. Any other status is returned at once and
 * done is never called (TALLY_EAGAIN: the queue is full or the handle is closing). With rq NULL,
 * the items are judged as store_append_items judges them. */
TALLY_MUST_USE tally_status store_submit_request(store_log *log, const store_request *rq,
                                                 const store_input *in, size_t n,
                                                 store_item_result *out, store_req_result *res,
                                                 store_done_fn done, void *arg);

/* Appends n records all or nothing, each judged by the admission hook at its position (the
 * node's own records: its feeders' inputs, a scoring cycle computed while ingest went on): if
 * the hook refuses one, nothing is appended and TALLY_EINVAL names it (rej->index, and the
 * hook's code in rej->code); a record refused with the hook's noop_code is skipped instead. With
 * not_after_ms, the append is refused with TALLY_EAGAIN, nothing judged, if the first record
 * would be stored at a later time (a block computed for one day must not land in the next).
 * Records with time_ms 0 get the node clock. out (n entries, or NULL) says where each record
 * went (accepted, seq, time, leaf hash; a skipped one not accepted). Committed in a transaction
 * of its own. Otherwise as store_append_ex. */
TALLY_MUST_USE tally_status store_append_judged(store_log *log, const store_input *in, size_t n,
                                                uint64_t not_after_ms, store_item_result *out,
                                                uint64_t *first_seq_out, store_rejection *rej);
/* store_append_judged without waiting (no time bound): done(arg, st) follows on the writer
 * thread with out, *first_out and *rej filled; everything given must live until then. */
TALLY_MUST_USE tally_status store_submit_judged(store_log *log, const store_input *in, size_t n,
                                                store_item_result *out, uint64_t *first_out,
                                                store_rejection *rej, store_done_fn done,
                                                void *arg);

/* What the nonce index says of request rq as committed: found (its key and nonce accepted
 * before, with that request's digest, first seq and count), or stale (a higher nonce of the key
 * was accepted, or this nonce or a higher one consumed by another request whose items were all
 * refused), or neither. The preliminary check of the HTTP threads;
 * the writer decides again. Thread-safe. */
typedef struct store_nonce_info {
    bool found, stale;
    uint8_t digest[32];
    uint64_t first_seq;
    uint32_t count;
} store_nonce_info;
TALLY_MUST_USE tally_status store_nonce_get(store_log *log, const store_request *rq,
                                            store_nonce_info *out);

/* ---- side tables: the owner's own state beside the log, not in the Merkle tree ----
 * A node's bans (protocol §7.2), dispute-reveal marks (§9.5) and auditors' cosignatures (§6.6a);
 * an auditor's state and evidence beside its replica (§6.7), the one side table a replica
 * writes. Keys and values are the caller's bytes (≤ 511 and ≤ 4096 bytes); writes go through
 * the writer in its next transaction and return once durable. */
typedef enum store_side {
    STORE_SIDE_BANS = 0,
    STORE_SIDE_MARKS = 1,
    STORE_SIDE_COSIGS = 2, /* protocol §6.6a: each auditor's latest cosignature */
    STORE_SIDE_AUDIT = 3,  /* a replica's: the auditor's trusted head, verdicts and evidence */
} store_side;
#define STORE_SIDE_COUNT 4u
#define STORE_SIDE_KEY_MAX 511u
#define STORE_SIDE_VAL_MAX 4096u
/* Puts (val != NULL) or deletes (val NULL; deleting a missing key is not an error) one entry.
 * TALLY_EINVAL for a size out of bounds, TALLY_EAGAIN on a read-only handle, and what a commit
 * returns. */
TALLY_MUST_USE tally_status store_side_put(store_log *log, store_side side, const uint8_t *key,
                                           size_t kn, const uint8_t *val, size_t vn);
/* Calls fn for every entry in key order (views valid during the call); stops when fn returns
 * false. A log written before side tables existed has none (no call, TALLY_OK). */
TALLY_MUST_USE tally_status store_side_each(store_log *log, store_side side,
                                            bool (*fn)(void *arg, tally_bytes key,
                                                       tally_bytes val),
                                            void *arg);
/* One entry: TALLY_OK with *found telling whether it exists; its value copied into buf (cap
 * bytes; TALLY_ELIMIT if it does not fit). */
TALLY_MUST_USE tally_status store_side_get(store_log *log, store_side side, const uint8_t *key,
                                           size_t kn, uint8_t *buf, size_t cap, size_t *n_out,
                                           bool *found);

/* ---- the writer, watched ---- */
typedef struct store_writer_stats {
    uint64_t queued;        /* records waiting for the writer */
    uint64_t heartbeat_ms;  /* wall clock of the writer loop's latest turn (it turns at least
                               once a second while idle) */
    uint64_t commits, committed_records;
    uint64_t last_commit_ns, last_commit_records;
    uint64_t map_size, map_used; /* bytes: the map, and the file's high-water mark in it */
} store_writer_stats;
void store_writer_stats_get(store_log *log, store_writer_stats *out);

/* Signs a node-authored header with the node key (sets actor to the node key, and actor_sig).
 * TALLY_EAUTH on a read-only handle (it holds no key). */
TALLY_MUST_USE tally_status store_node_sign(store_log *log, schema_header *h);
/* Signs msg with the node key (a domain-separated message: a receipt, a checkpoint note).
 * TALLY_EAUTH on a read-only handle. */
TALLY_MUST_USE tally_status store_node_sign_msg(store_log *log, const uint8_t *msg, size_t n,
                                                uint8_t sig[64]);
/* ---- key files: a 32-byte Ed25519 seed, mode 0600 (the node's, a miner's, an auditor's) ----
 * store_key_read loads one into pk and sk (64 bytes the caller provides, ideally sodium_malloc
 * memory): TALLY_ENOTFOUND, TALLY_EAUTH (mode not 0600), TALLY_EFORMAT (not 32 bytes),
 * TALLY_EIO, with a sentence in detail (STORE_DETAIL_MAX bytes, or NULL). store_key_create
 * writes a new one (seed NULL draws it), never replacing a file (TALLY_ECONFLICT), synced. */
TALLY_MUST_USE tally_status store_key_read(const char *path, uint8_t pk[32], uint8_t *sk,
                                           char *detail);
TALLY_MUST_USE tally_status store_key_create(const char *path, const uint8_t *seed, uint8_t pk[32],
                                             char *detail);
/* The node key: the GENESIS actor (equal to the metadata key, checked at every writer open). */
void store_node_pubkey(const store_log *log, uint8_t pk[32]);
/* Checks a tree head: origin, key = node_pk, both signatures. TALLY_EAUTH otherwise. Pure. */
TALLY_MUST_USE tally_status store_sth_verify(const schema_sth *sth, const char *origin,
                                             const uint8_t node_pk[32]);
const char *store_origin(const store_log *log); /* valid until store_close() */

/* The size of the latest signed tree head (0 for an empty log). Thread-safe. */
uint64_t store_size(store_log *log);
/* The latest STH, or the STH stored for a given size. TALLY_ENOTFOUND if none. */
TALLY_MUST_USE tally_status store_sth_latest(store_log *log, schema_sth *out);
TALLY_MUST_USE tally_status store_sth_get(store_log *log, uint64_t size, schema_sth *out);
/* The stored STH of the largest size ≤ size (a range cut at a size that has a head, for
 * deltas). TALLY_ENOTFOUND if there is none. */
TALLY_MUST_USE tally_status store_sth_floor(store_log *log, uint64_t size, schema_sth *out);
/* Calls fn for every stored STH in size order; stops early when fn returns false. */
TALLY_MUST_USE tally_status store_sth_each(store_log *log, bool (*fn)(const schema_sth *, void *),
                                           void *arg);

/* A record as stored. Views are borrowed from the iterator until the next call or close. */
typedef struct store_record {
    uint64_t seq;
    tally_bytes header;
    tally_bytes body;
    uint8_t leaf_hash[32];
} store_record;

typedef struct store_iter store_iter;
/* Iterates records from seq `from` in order, over one consistent snapshot of the log. */
TALLY_MUST_USE tally_status store_iter_open(store_log *log, uint64_t from, store_iter **out);
/* TALLY_ENOTFOUND past the last record; TALLY_ECORRUPT if a record the head covers, or its
 * pack, cannot be read. A record whose body alone is missing comes with body.p NULL. */
TALLY_MUST_USE tally_status store_iter_next(store_iter *it, store_record *out);
/* store_iter_next, then the header decoded into *h and, with body, the body checked against the
 * header (hash, canonical form, tier, event_id, rows) and decoded into *b, which the caller
 * releases (schema_body_release); without body, *b is zeroed. TALLY_ENOTFOUND past the last
 * record; TALLY_ECORRUPT for a header that does not decode, or a body missing or not matching. */
TALLY_MUST_USE tally_status store_iter_read(store_iter *it, bool body, store_record *rec,
                                            schema_header *h, schema_body *b);
/* The body of rec checked against its decoded header h and decoded into *b, as store_iter_read
 * does with body (for a caller that decides from the header whether it wants the body). */
TALLY_MUST_USE tally_status store_record_body(const store_record *rec, const schema_header *h,
                                              schema_body *b);
void store_iter_close(store_iter *it);

/* The first `width` hashes of hash tile (level, index) as of the current tree; out holds
 * 256 × 32 bytes. TALLY_ENOTFOUND if the tile does not have that many hashes. */
TALLY_MUST_USE tally_status store_tile_read(store_log *log, unsigned level, uint64_t index,
                                            unsigned width, uint8_t *out);
/* Root of the tree of the first `size` records (1 ≤ size ≤ store_size()). */
TALLY_MUST_USE tally_status store_root(store_log *log, uint64_t size, uint8_t out[32]);
/* RFC 9162 §2.1.3 inclusion proof of leaf `index` in the tree of `size`, and §2.1.4
 * consistency proof from old_size to size. path holds STORE_PROOF_MAX hashes. TALLY_EINVAL
 * when the sizes are out of range. */
TALLY_MUST_USE tally_status store_proof_inclusion(store_log *log, uint64_t index, uint64_t size,
                                                  uint8_t (*path)[32], size_t *n_out);
TALLY_MUST_USE tally_status store_proof_consistency(store_log *log, uint64_t old_size,
                                                    uint64_t size, uint8_t (*path)[32],
                                                    size_t *n_out);

/* ---- Merkle hashing and proof verification (RFC 9162 §2.1), pure functions ---- */
void store_leaf_hash(const uint8_t *entry, size_t n, uint8_t out[32]);
void store_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);
bool store_verify_inclusion(const uint8_t leaf[32], uint64_t index, uint64_t size,
                            const uint8_t (*path)[32], size_t n, const uint8_t root[32]);
bool store_verify_consistency(uint64_t old_size, uint64_t size, const uint8_t old_root[32],
                              const uint8_t root[32], const uint8_t (*path)[32], size_t n);

/* ---- C2SP signed notes ---- */
/* The checkpoint note of sth (c2sp.org/tlog-checkpoint), byte for byte as served. */
TALLY_MUST_USE tally_status store_note(const schema_sth *sth, char *buf, size_t cap, size_t *n_out);
/* The verifier key `origin+hexkeyid+base64(0x01 || pk)` (c2sp.org/signed-note). */
TALLY_MUST_USE tally_status store_vkey(const char *origin, const uint8_t pk[32], char *buf,
                                       size_t cap);
/* Verifies a checkpoint note against a verifier key, ignoring signature lines from other keys.
 * On TALLY_OK fills size and root. TALLY_EFORMAT or TALLY_EAUTH otherwise. */
TALLY_MUST_USE tally_status store_note_verify(const char *note, size_t n, const char *vkey,
                                              uint64_t *size_out, uint8_t root_out[32]);
/* The text the note signature covers: "origin\nsize\nbase64(root)\n". */
TALLY_MUST_USE tally_status store_note_text(const char *origin, uint64_t size,
                                            const uint8_t root[32], char *buf, size_t cap,
                                            size_t *n_out);

/* ---- C2SP tlog-cosignature (cosignature/v1, Ed25519; c2sp.org/tlog-cosignature) ----
 * A witness (an auditor) signs "cosignature/v1\ntime <timestamp>\n" followed by the note text
 * (origin, size and root lines, and any extension lines, with the final newline). Its line is
 * "— <name> base64(key id (4) || timestamp u64 BE (8) || Ed25519 signature (64))\n", its key id
 * SHA-256(name || 0x0A || 0x04 || public key)[0..4], its vkey `name+hexkeyid+base64(0x04 || pk)`.
 * Names are 1..STORE_NOTE_NAME_MAX bytes of 0x21..0x7E without '+'. */
#define STORE_NOTE_NAME_MAX 255u
#define STORE_NOTE_SIGS_MAX 64u  /* signature lines a note may carry (signed-note: ≥ 16) */
#define STORE_NOTE_MAX 16384u    /* bytes of a note with its signature lines */
#define STORE_COSIG_LINE_MAX (STORE_NOTE_NAME_MAX + 112u) /* one line with its newline, NUL */
#define STORE_COSIG_TIME_MAX 0x7fffffffffffffffull     /* the spec's timestamp bound */
/* The vkey of a cosigner into buf (cap bytes, NUL-terminated). TALLY_EINVAL for a bad name,
 * TALLY_ELIMIT if it does not fit. */
TALLY_MUST_USE tally_status store_cosig_vkey(const char *name, const uint8_t pk[32], char *buf,
                                             size_t cap);
/* Parses a cosigner vkey: name (NUL-terminated, STORE_NOTE_NAME_MAX + 1 bytes), key id and
 * public key. TALLY_EFORMAT for anything but a well-formed type-0x04 vkey whose key id is the
 * one its name and key give. */
TALLY_MUST_USE tally_status store_cosig_vkey_parse(const char *vkey, char *name, uint8_t id[4],
                                                   uint8_t pk[32]);
/* Signs note text (n bytes: the note up to, not including, the blank line) as cosigner name
 * with sk (64-byte libsodium secret key) at timestamp (seconds) and writes the one signature line
 * with its newline into buf (cap bytes, NUL-terminated; *n_out without the NUL). TALLY_EINVAL
 * for a bad name or a timestamp above STORE_COSIG_TIME_MAX, TALLY_EFORMAT for text that is not
 * newline-terminated, TALLY_ELIMIT if it does not fit. */
TALLY_MUST_USE tally_status store_cosig_sign(const char *text, size_t n, const char *name,
                                             const uint8_t sk[64], uint64_t timestamp, char *buf,
                                             size_t cap, size_t *n_out);
/* Checks one signature line (ln bytes, its newline optional) against note text (n bytes) and a
 * cosigner vkey. TALLY_OK with the line's timestamp; TALLY_ENOTFOUND when the line is not this
 * key's (another name or key id: signed-note says to ignore it); TALLY_EAUTH when it is this
 * key's but the signature does not verify, or is not a cosignature (length, timestamp above
 * STORE_COSIG_TIME_MAX); TALLY_EFORMAT for a malformed line or vkey. Pure. */
TALLY_MUST_USE tally_status store_cosig_verify(const char *text, size_t n, const char *line,
                                               size_t ln, const char *vkey,
                                               uint64_t *timestamp_out);
/* A signed note split into its text and its signature lines (views into the note, each line
 * without its newline). */
typedef struct store_note_parts {
    tally_str text; /* with its final newline */
    size_t n_sigs;
    tally_str sigs[STORE_NOTE_SIGS_MAX];
} store_note_parts;
/* Splits a note (c2sp.org/signed-note): text ending in a newline, a blank line (the last one in
 * the note), then 1..STORE_NOTE_SIGS_MAX lines "— name base64\n". TALLY_EFORMAT otherwise
 * (control characters but newline, a line that is not a signature line, n > STORE_NOTE_MAX),
 * TALLY_ELIMIT for more than STORE_NOTE_SIGS_MAX lines. The views borrow note. */
TALLY_MUST_USE tally_status store_note_split(const char *note, size_t n, store_note_parts *out);
/* Appends signature line(s) `lines` (ln bytes, each newline-terminated) to the note in buf, which
 * holds n bytes of a signed note and has cap bytes; *n_out is the new length (NUL-terminated).
 * TALLY_EFORMAT if the result does not split as a note, TALLY_ELIMIT if it does not fit; buf is
 * unchanged on failure. */
TALLY_MUST_USE tally_status store_note_append(char *buf, size_t n, size_t cap, const char *lines,
                                              size_t ln, size_t *n_out);

/* ---- integrity scan ---- */
typedef struct store_verify_report {
    uint64_t records, sths;
    uint64_t bodies_absent; /* a replica's records of tiers 2..4 whose body it does not hold */
    bool has_bad_seq;
    uint64_t bad_seq;   /* the first sequence number the failed check concerns */
    char what[256];     /* which check failed */
} store_verify_report;
typedef void (*store_progress_fn)(void *arg, uint64_t done, uint64_t total);
/* Rehashes every record and checks its body and author (node records by the GENESIS actor),
 * rebuilds every tile and compares it with the stored one, checks every STH's root, key (the
 * GENESIS actor's), signatures and order, that the metadata key is the GENESIS actor, and that no
 * record, pack or tile lies beyond the latest head; with signatures, also every record's
 * actor_sig. On a replica, a non-public record without its body is counted in bodies_absent
 * (its header is checked all the same); a public one without it is damage. Needs no secret key. TALLY_OK, or TALLY_ECORRUPT with the report naming the first
 * failure and its sequence number. */
TALLY_MUST_USE tally_status store_verify(store_log *log, bool signatures, store_progress_fn progress,
                                         void *arg, store_verify_report *out);

/* ---- static export (c2sp.org/tlog-tiles layout, spec §6.3) ---- */
typedef struct store_export_stats {
    uint64_t size, files_written, files_kept, bytes_written;
} store_export_stats;
/* Writes checkpoint, tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>] and bodies/<N>[.p/<W>] for
 * the latest STH under outdir, each file to a temporary name then renamed, the checkpoint last;
 * the partial files a full one supersedes are removed after it. If outdir already holds a
 * checkpoint, it must be a head of this log (same origin and key, and this log extends it:
 * store_check_head), else TALLY_ECONFLICT and nothing in outdir changes; a full tile or bundle
 * already present is then kept. With force, a directory holding another head is replaced
 * instead: the export goes to a new directory beside it, which then takes its name. */
TALLY_MUST_USE tally_status store_export(store_log *log, const char *outdir, bool force,
                                         store_progress_fn progress, void *arg,
                                         store_export_stats *out);

/* ---- a head known from elsewhere (an export directory, a kept checkpoint) ---- */
typedef enum store_head_verdict {
    STORE_HEAD_CONSISTENT, /* this log contains the known head's tree (RFC 9162 proof checked) */
    STORE_HEAD_FOREIGN,    /* another origin or key: not a head of this log at all */
    STORE_HEAD_FORK,       /* signed by this log's key, but its root is not this log's */
    STORE_HEAD_REWIND,     /* signed by this log's key for a size beyond this log: the log was
                              rewound (restored from an older backup?) */
} store_head_verdict;
typedef struct store_head_report {
    store_head_verdict verdict;
    uint64_t known_size;   /* the known head's */
    uint8_t known_root[32];
    uint64_t size;         /* this log's latest head */
    bool has_own;          /* own: this log's stored head of known_size, else its latest */
    schema_sth own;
} store_head_report;
/* Checks a checkpoint note (c2sp.org/tlog-checkpoint) against this log: TALLY_OK when this log
 * extends it, else TALLY_ECONFLICT with the verdict (store_detail() says why in a sentence);
 * TALLY_EFORMAT if it is not a checkpoint note. */
TALLY_MUST_USE tally_status store_check_head(store_log *log, const char *note, size_t n,
                                             store_head_report *out);
/* The tlog-tiles path element of N: 1234067 → "x001/x234/067". out holds 32 bytes. */
void store_tile_path(uint64_t n, char out[32]);

/* ---- checkpoints (protocol §6.5) ---- */
/* Stores the engine state of a cycle (uncompressed bytes) beside the log, zstd-compressed, as
 * DIR/checkpoints/<cycle>.zst; atomic (temp file, fsync, rename). Replaces an older file of the
 * same cycle. TALLY_ELIMIT over 256 MiB, TALLY_EIO, TALLY_ENOMEM. Thread-safe. */
TALLY_MUST_USE tally_status store_checkpoint_put(store_log *log, uint64_t cycle,
                                                 const uint8_t *state, size_t n);
/* Reads the state of a cycle back, uncompressed, into *out (the caller frees it). With want,
 * its SHA-256 must equal want (the STATE_HASH record's). TALLY_ENOTFOUND without a file,
 * TALLY_ECORRUPT for a damaged one or a hash mismatch. */
TALLY_MUST_USE tally_status store_checkpoint_get(store_log *log, uint64_t cycle,
                                                 const uint8_t want[32], uint8_t **out,
                                                 size_t *n_out);

/* ---- sizes ---- */
typedef struct store_stats {
    uint64_t size, sths, bodies;
    uint64_t map_size, map_used; /* map_used: the file's high-water mark, free pages included */
    uint64_t pages_in_use;       /* bytes of the pages the six tables hold, free pages excluded */
    uint64_t packs, pack_bytes; /* full 256-record bundles, headers and bodies, zstd */
    uint64_t log_bytes, body_bytes; /* the tail's headers and bodies, not yet packed */
    uint64_t header_raw_bytes, body_raw_bytes; /* every record's, uncompressed */
    uint64_t tile_bytes, sth_bytes;  /* payload bytes (keys and values) */
    uint64_t by_type[36];
} store_stats;
TALLY_MUST_USE tally_status store_stats_get(store_log *log, store_stats *out);

#endif

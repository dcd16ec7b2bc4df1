/* store internals.
 *
 * LMDB layout (one environment in the data directory, named databases):
 * | db     | key                          | value                                         |
 * |--------|------------------------------|-----------------------------------------------|
 * | meta   | "format"                     | "TALLYLOG" ‖ u32 BE version (1)               |
 * | meta   | "origin"                     | origin bytes                                  |
 * | meta   | "node_pk"                    | 32-byte Ed25519 public key                    |
 * | meta   | "replica"                    | u8 1: a replica of the primary whose key is   |
 * |        |                              |   node_pk (absent in a node's own log)        |
 * | log    | u64 BE seq                   | header bytes (canonical msgpack, 141–158), of |
 * |        |                              |   the tail not yet packed                     |
 * | bodies | body_hash (32)               | u8 codec (0: raw) ‖ the body, of the tail     |
 * | tiles  | u8 level ‖ u64 BE index      | W × 32-byte hashes, 1 ≤ W ≤ 256 (tlog-tiles)  |
 * | sth    | u64 BE tree size             | STH wire form (schema_sth_encode)             |
 * | packs  | u64 BE bundle index N        | u8 version (2) ‖ zstd frame of records        |
 * |        |                              |   256N…256N+255: (u16 len ‖ header ‖ u16 len  |
 * |        |                              |   ‖ body)*, lengths big-endian; body length 0 |
 * |        |                              |   = absent (a replica's withheld body)        |
 * | nonces | key (32) ‖ u64 BE nonce      | request digest (32) ‖ u64 BE first seq ‖      |
 * |        |                              |   u32 BE count (store/nonces.c)               |
 * | bans   | the caller's key             | the caller's value (side table)               |
 * | marks  | the caller's key             | the caller's value (side table)               |
 * | cosigs | the caller's key             | the caller's value (side table)               |
 * Records of a full 256-record bundle are in packs (store/pack.c), the tail in log and bodies.
 * All of them change only inside the writer's one transaction per batch, so they always agree.
 * nonces, bans, marks and cosigs came after format version 2 was released: a writer creates them
 * in an older log, a read-only open of such a log treats them as empty.
 * A replica's bodies table also holds the late bodies (store_body_put) of tail records; a late
 * body of a packed record is written into its pack (the pack is rewritten), so packs and the
 * tail keep holding every body the replica has, and nothing outside them.
 *
 * Files beside data.mdb: node.key (32-byte seed, 0600), node.key.new (the same, only while a
 * creation is between writing the key and linking it into place after the log's first commit)
 * and writer.lock (flock()ed by the one writing process for the life of its handle; holds its
 * pid in decimal, for the message a second writer gets).
 */
#ifndef TALLY_STORE_INT_H
#define TALLY_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store/store.h"

#define STORE__MAGIC "TALLYLOG"
#define STORE__VERSION 2u
#define STORE__LEVELS 8 /* tile levels: 8 × 8 tree levels cover 2^64 leaves */
#define STORE__CODEC_RAW 0

/* Returns the hash of the complete subtree at tree level `level` (height; leaves are 0) and
 * index `index` among the nodes of that level. */
typedef tally_status (*store__hash_fn)(void *arg, unsigned level, uint64_t index, uint8_t out[32]);

/* RFC 9162 MTH of leaves [lo, hi), and proof generation, over any hash source. */
TALLY_MUST_USE tally_status store__mth(store__hash_fn fn, void *arg, uint64_t lo, uint64_t hi,
                                       uint8_t out[32]);
TALLY_MUST_USE tally_status store__inclusion(store__hash_fn fn, void *arg, uint64_t index,
                                             uint64_t size, uint8_t (*path)[32], size_t *n);
TALLY_MUST_USE tally_status store__consistency(store__hash_fn fn, void *arg, uint64_t m,
                                               uint64_t size, uint8_t (*path)[32], size_t *n);

/* The growing right edge of the tree: the compact range (hashes of the perfect subtrees that
 * make up [0, size)) and the partial tile at each tile level. Appending a leaf is O(1)
 * amortised; each merge that reaches a tree level divisible by 8 feeds the next tile level. */
typedef struct store__tree {
    uint64_t size;
    unsigned n;                    /* compact range entries */
    uint8_t level[64];
    uint8_t hash[64][32];
    uint16_t width[STORE__LEVELS]; /* hashes in the partial tile of each level */
    uint8_t edge[STORE__LEVELS][256 * 32];
    uint8_t dirty;                 /* bit L: partial tile L changed since last flush */
} store__tree;

/* Called when a tile becomes full (width 256), with its level and index. */
typedef tally_status (*store__tile_fn)(void *arg, unsigned level, uint64_t index,
                                       const uint8_t *hashes);
TALLY_MUST_USE tally_status store__tree_push(store__tree *t, const uint8_t leaf[32],
                                             store__tile_fn full, void *arg);
void store__tree_root(const store__tree *t, uint8_t out[32]);

/* Tile keys and reads inside an LMDB transaction. */
void store__tile_key(unsigned level, uint64_t index, uint8_t key[9]);
/* Subtree hash at (level, index) from the tiles visible to txn. */
TALLY_MUST_USE tally_status store__txn_hash(MDB_txn *txn, MDB_dbi tiles, unsigned level,
                                            uint64_t index, uint8_t out[32]);
typedef struct store__txn_src {
    MDB_txn *txn;
    MDB_dbi tiles;
} store__txn_src;
tally_status store__txn_hash_fn(void *arg, unsigned level, uint64_t index, uint8_t out[32]);

typedef struct store__req store__req;

/* A decompressed pack and where each of its 256 bodies starts. */
typedef struct store__pack_cache {
    bool valid;
    uint64_t bundle;
    uint8_t *data;
    size_t cap;
    uint32_t off[512]; /* header then body of each record */
    uint16_t len[512];
    /* made at the first load and kept for the next: ZSTD_decompress makes and frees a context
     * (over 100 KiB) for every frame */
    struct ZSTD_DCtx_s *dctx;
} store__pack_cache;

/* Nonces consumed by requests whose items were all refused: memory only (protocol §4), one
 * slot per key hash, a colliding key replacing the older (which can then only be judged again,
 * never accepted twice: a nonce in the index is decided there). */
#define STORE__CONSUMED_SLOTS 4096u
typedef struct store__consumed {
    bool used;
    uint8_t key[32];
    uint64_t nonce;
    uint8_t digest[32];
} store__consumed;

struct store_log {
    MDB_env *env;
    MDB_dbi meta, log, bodies, tiles, sth, packs;
    MDB_dbi nonces, side[STORE_SIDE_COUNT];
    bool has_nonces, has_side[STORE_SIDE_COUNT]; /* false only in a read-only open of an older log */
    bool replica;   /* meta "replica": records come only through store_replicate */
    char origin[SCHEMA_ORIGIN_MAX + 1];
    uint8_t pk[32]; /* the metadata key; a writer opens only if it is the GENESIS actor */
    uint8_t *sk;    /* 64 bytes in sodium_malloc memory; NULL when read-only */
    store_cfg cfg;  /* the caller's, with dir, key_file and replica_pk pointing at the copies
                       below: a handle outlives the strings it was opened with */
    char dir[4096];
    char key_file[4096];
    uint8_t replica_pk[32];
    size_t commit_max;
    int lock_fd;    /* the writer lock, held until store_close; -1 when read-only */
    char detail[STORE_DETAIL_MAX]; /* caller-thread failures (export, head checks) */
    char damage[STORE_DETAIL_MAX]; /* what a read-only open found wrong; "" if nothing */

    pthread_t writer;
    bool writer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    store__req *head, *tail;
    bool stop;

    /* writer-owned */
    char wdetail[STORE_DETAIL_MAX]; /* the writer thread's failure detail for the batch */
    store__tree tree, saved;
    uint64_t last_time;
    schema_sth last_sth;
    bool has_sth;

    uint8_t *pack_raw, *pack_buf; /* writer's scratch for packing a bundle */
    size_t pack_buf_cap;
    struct ZSTD_CCtx_s *pack_cctx;

    _Atomic uint64_t published; /* size of the latest committed STH */

    size_t queue_max;
    uint64_t queued;               /* records in the queue (under mu) */
    _Atomic uint64_t heartbeat_ms; /* the writer loop's latest turn */
    _Atomic uint64_t commits, committed_records, last_commit_ns, last_commit_records;
    pthread_mutex_t consumed_mu;   /* the writer writes, HTTP threads read */
    store__consumed *consumed;     /* STORE__CONSUMED_SLOTS entries */
};

/* The nonce index (nonces.c). store__nonce_decide judges rq inside the writer's txn: the
 * verdict, and for a duplicate the original's first seq and count. */
TALLY_MUST_USE tally_status store__nonce_decide(store_log *log, MDB_txn *txn,
                                                const store_request *rq, store_req_result *res);
TALLY_MUST_USE tally_status store__nonce_put(store_log *log, MDB_txn *txn,
                                             const store_request *rq, uint64_t first,
                                             uint32_t count);
void store__nonce_consume(store_log *log, const store_request *rq);

/* Foreign codes to tally_status: MDB_* and errno. */
tally_status store__status(int rc);
/* The one way TALLY_ECORRUPT is raised: writes the sentence (what failed, never a source
 * location) to dst (STORE_DETAIL_MAX bytes) when dst is not NULL, and returns TALLY_ECORRUPT. */
tally_status store__corrupt(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A sentence into dst (STORE_DETAIL_MAX bytes); returns st. */
tally_status store__say(char *dst, tally_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fault injection: true when cfg->fault asks this operation to fail. The wrappers below fail
 * as the real call would (EIO, NULL) and are used on every write and export path. */
bool store__fault(const store_log *log, store_fault_kind kind);
int store__txn_begin(const store_log *log, unsigned flags, MDB_txn **txn);
int store__commit(const store_log *log, MDB_txn *txn); /* aborts txn on an injected fault */
int store__put(const store_log *log, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v,
               unsigned flags);
int store__del(const store_log *log, MDB_txn *txn, MDB_dbi dbi, MDB_val *k);
int store__get(const store_log *log, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v);
void *store__malloc(const store_log *log, size_t n);
void *store__realloc(const store_log *log, void *p, size_t n);

void store__be64(uint64_t v, uint8_t out[8]);
uint64_t store__rd_be64(const uint8_t *p);

/* Writer thread (writer.c). */
TALLY_MUST_USE tally_status store__writer_start(store_log *log);
void store__writer_stop(store_log *log);
/* Loads the tree edge, last STH and time from the log as txn sees it (at open, and in each
 * write transaction whose latest stored head is not the one the writer holds). On
 * TALLY_ECORRUPT, dst says what is wrong. */
TALLY_MUST_USE tally_status store__load_state(store_log *log, MDB_txn *txn, char *dst);
/* The actor of record 0 (GENESIS) as txn sees it. TALLY_ENOTFOUND for an empty log. */
TALLY_MUST_USE tally_status store__genesis_actor(store_log *log, MDB_txn *txn, uint8_t pk[32]);

/* A view of the tail body stored under hash, in LMDB's memory, valid while txn lives.
 * TALLY_ECORRUPT when it is missing or not a raw body. */
TALLY_MUST_USE tally_status store__body_get(MDB_txn *txn, MDB_dbi bodies, const uint8_t hash[32],
                                            const uint8_t **view, size_t *n_out);

/* Packs (pack.c). store__pack_bundle moves the headers and bodies of full bundle `bundle` into
 * a pack, inside the writer's transaction. store__record_at finds record seq: in the log and
 * bodies tables at or above packed_below, else in its pack, through the cache; the views are
 * valid until the cache loads another pack or txn ends. TALLY_ENOTFOUND if there is no such
 * record; TALLY_ECORRUPT if its pack or its body cannot be read; a header that does not decode
 * is returned with no body, for the caller's own check to name. */
TALLY_MUST_USE tally_status store__pack_bundle(store_log *log, MDB_txn *txn, uint64_t bundle);

/* Writes the late body of packed record seq into its pack (a replica's reveal), rewriting the
 * pack in the writer's transaction. *added false when the pack already held a body there. */
TALLY_MUST_USE tally_status store__pack_put_body(store_log *log, MDB_txn *txn, uint64_t seq,
                                                 const uint8_t *body, size_t n, bool *added);
void store__pack_free(store_log *log);
/* (A body length 0 in a pack is an absent body: returned as for a tail record without its body,
 * TALLY_ECORRUPT with the header and no body.) */
TALLY_MUST_USE tally_status store__record_at(MDB_txn *txn, const store_log *log,
                                             store__pack_cache *c, uint64_t seq,
                                             uint64_t packed_below, tally_bytes *header,
                                             tally_bytes *body);
void store__pack_cache_release(store__pack_cache *c);

/* Signs an STH for (size, root, time) with the node key. */
TALLY_MUST_USE tally_status store__sth_sign(store_log *log, uint64_t size, const uint8_t root[32],
                                            uint64_t time_ms, schema_sth *out);

/* ---- split of env.c, writer.c: functions shared by the files they became ----
 * (A separate block, kept apart from the declarations above for merging.) */

/* Node key files and the writer lock (key.c), used by store_open and creation (env.c).
 * store__dir_path writes DIR/name into out (TALLY_EINVAL when it does not fit);
 * store__seed_is is true when the key file at path holds exactly this seed;
 * store__key_write_new writes a creation's seed to DIR/node.key.new (0600, synced);
 * store__key_settle links it to DIR/node.key once the log is committed; store__key_load loads
 * a writer's node key into log->sk; store__lock_take takes DIR/writer.lock for the handle's
 * life. Each refusal writes its sentence into dst. */
TALLY_MUST_USE tally_status store__dir_path(const char *dir, const char *name, char *out,
                                            size_t cap);
bool store__seed_is(const char *path, const uint8_t want[32]);
TALLY_MUST_USE tally_status store__key_write_new(const store_log *log, const uint8_t seed[32],
                                                 char *dst);
TALLY_MUST_USE tally_status store__key_settle(const store_log *log, char *dst);
TALLY_MUST_USE tally_status store__key_load(store_log *log, char *dst);
TALLY_MUST_USE tally_status store__lock_take(store_log *log, char *dst);

/* The writer (writer.c) and its group commit (batch.c). A queued request: the producer's
 * records or side write, how the writer judges them, and where the outcome goes. */
struct store__req {
    const store_input *in;
    size_t n;
    uint64_t first;
    tally_status st;
    store_rejection *rej;     /* the producer's, or NULL */
    store_item_result *items; /* per-item mode (store_append_items): one verdict per record */
    const store_request *rq;  /* a signed request whose nonce the writer decides, or NULL */
    store_req_result *res;    /* with rq */
    /* a side-table write instead of records (n == 0); val NULL deletes */
    bool side_op;
    store_side side;
    const uint8_t *skey, *sval;
    size_t skn, svn;
    /* asynchronous: heap-allocated, done() called on the writer thread, then freed there */
    store_done_fn done;
    void *done_arg;
    uint64_t *first_out;
    /* all or nothing, every record judged by the hook (a node block): refused as a whole if one
       is refused, or if the first record's time would be above not_after (0: no bound); such a
       request is committed in a transaction of its own */
    bool judge_all;
    uint64_t not_after;
    /* a replica's records as its primary signed them, with the primary's head for the new size
       (store_replicate): committed in a transaction of its own, n may be 0 */
    const schema_sth *repl_sth;
    /* a replica's late body for record bseq (store_body_put) */
    bool body_op;
    const uint8_t *bbody;
    size_t bn;
    uint64_t bseq;
    bool done_flag;
    pthread_cond_t cv; /* a waiting producer waits here: a commit wakes only its own producers */
    store__req *next;
};

/* Fills the producer's rejection (if it asked for one) and returns st. */
tally_status store__reject(store__req *r, size_t i, tally_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The wall clock in ms (the node clock when cfg.clock is not set, the writer's heartbeat). */
uint64_t store__now_ms(void);
/* Commits group (a list of requests taken off the queue) in one write transaction, or none of
 * it; each request's st (and rejection) says what became of it. On the writer thread. */
void store__commit_group(store_log *log, store__req *group);

#endif

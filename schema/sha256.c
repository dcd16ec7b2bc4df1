/* SHA-256 for the hot paths (leaf, node and body hashes). On x86-64 CPUs with the SHA
 * extensions the compression function runs on them; everywhere else, and as the reference the
 * tests compare against, libsodium computes it. Both give the same digest, by definition. */
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "schema/schema.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

/* The SHA extensions work on the state as the lane pairs (A,B,E,F) and (C,D,G,H). */
__attribute__((target("sha,sse4.1"))) static void blocks_ni(uint32_t st[8], const uint8_t *p,
                                                             size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&st[0]), 0xb1);
    __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&st[4]), 0x1b);
    __m128i s0 = _mm_alignr_epi8(t, s1, 8);

    s1 = _mm_blend_epi16(s1, t, 0xf0);
    while (nblocks-- > 0) {
        __m128i w[4], save0 = s0, save1 = s1;
        /* unrolled, so the four schedule words stay in registers */
#if defined(__clang__)
#pragma clang loop unroll(full)
#else
#pragma GCC unroll 16
#endif
        for (int i = 0; i < 16; i++) {
            __m128i m;
            if (i < 4) {
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)),
                                        bswap);
            } else {
                /* W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four words at a time */
                __m128i x = _mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4));
                w[i % 4] = _mm_sha256msg2_epu32(x, w[(i + 3) % 4]);
            }
            m = _mm_add_epi32(w[i % 4], _mm_loadu_si128((const __m128i *)(const void *)&K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, m);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0e));
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
        p += 64;
    }
    t = _mm_shuffle_epi32(s0, 0x1b);
    s1 = _mm_shuffle_epi32(s1, 0xb1);
    s0 = _mm_blend_epi16(t, s1, 0xf0);
    s1 = _mm_alignr_epi8(s1, t, 8);
    _mm_storeu_si128((__m128i *)(void *)&st[0], s0);
    _mm_storeu_si128((__m128i *)(void *)&st[4], s1);
}

/* The digest: each state word big-endian. One byte shuffle per half, instead of a byte loop the
 * compiler assembled into 64-bit words, spilled, and reloaded as 128 bits (a load that cannot
 * be forwarded from the two stores before it: a stall on every hash). */
__attribute__((target("sha,sse4.1"))) static void digest_ni(uint8_t out[32], const uint32_t st[8])
{
    const __m128i bswap32 = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);

    _mm_storeu_si128(
        (__m128i *)(void *)out,
        _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)&st[0]), bswap32));
    _mm_storeu_si128(
        (__m128i *)(void *)(out + 16),
        _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)&st[4]), bswap32));
}

static bool have_sha_ni(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1) &&
           __get_cpuid(1, &a, &b, &c, &d) && (c >> 19 & 1); /* SHA and SSE4.1 */
}

/* A message up to this long is hashed from one padded copy, in one blocks_ni call: a leaf
 * (0x00 ‖ a header of 141-158 bytes) otherwise takes three calls (the block that joins the
 * two parts, the whole blocks of the header, the tail), each loading and storing the state. */
#define SHORT_MAX (512u - 9u)

/* SHA-256 of a ‖ b with the SHA extensions: a short message from one padded copy; a longer one
 * with whole blocks straight from the input, the tail and padding through a small buffer. */
static void sha256_ni(uint8_t out[32], const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    uint32_t st[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    uint8_t buf[128];
    size_t fill = 0, total = an + bn;
    const uint8_t *parts[2] = {a, b};
    size_t lens[2] = {an, bn};

    if (total <= SHORT_MAX) {
        uint8_t msg[512];
        uint64_t bits = (uint64_t)total * 8;
        size_t padded = (total + 9 + 63) / 64 * 64;
        if (an > 0) {
            memcpy(msg, a, an); /* an empty part may come with a NULL pointer */
        }
        if (bn > 0) {
            memcpy(msg + an, b, bn);
        }
        msg[total] = 0x80;
        memset(msg + total + 1, 0, padded - total - 1 - 8);
        for (size_t i = 0; i < 8; i++) {
            msg[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
        }
        blocks_ni(st, msg, padded / 64);
        digest_ni(out, st);
        return;
    }
    for (int k = 0; k < 2; k++) {
        const uint8_t *p = parts[k];
        size_t n = lens[k];
        if (n == 0) {
            continue; /* an empty part may come with a NULL pointer */
        }
        if (fill > 0) {
            size_t take = 64 - fill < n ? 64 - fill : n;
            memcpy(buf + fill, p, take);
            fill += take, p += take, n -= take;
            if (fill == 64) {
                blocks_ni(st, buf, 1);
                fill = 0;
            }
        }
        if (n >= 64) {
            blocks_ni(st, p, n / 64);
            p += n / 64 * 64, n %= 64;
        }
        if (n > 0) {
            memcpy(buf + fill, p, n);
            fill += n;
        }
    }
    buf[fill++] = 0x80;
    {
        size_t padded = fill <= 56 ? 64 : 128;
        uint64_t bits = (uint64_t)total * 8;
        memset(buf + fill, 0, padded - fill);
        for (size_t i = 0; i < 8; i++) {
            buf[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
        }
        blocks_ni(st, buf, padded / 64);
    }
    digest_ni(out, st);
}
#endif

void schema_sha256_2(uint8_t out[32], const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
#if defined(__x86_64__)
    /* cpuid traps to the hypervisor in a VM (microseconds), so it is asked once per process.
     * The cached answer is a constant of the machine, the one piece of process-wide state here;
     * racing first calls compute the same value. 0: not asked yet, 1: no, 2: yes. */
    static _Atomic int sha_ni;
    int v = atomic_load_explicit(&sha_ni, memory_order_relaxed);

    if (v == 0) {
        v = have_sha_ni() ? 2 : 1;
        atomic_store_explicit(&sha_ni, v, memory_order_relaxed);
    }
    if (v == 2) {
        sha256_ni(out, a, an, b, bn);
        return;
    }
#endif
    schema_sha256_ref(out, a, an, b, bn);
}

void schema_sha256_ref(uint8_t out[32], const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, a, an);
    crypto_hash_sha256_update(&st, b, bn);
    crypto_hash_sha256_final(&st, out);
}

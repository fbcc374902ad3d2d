/* Internal helpers of the kernels: the two-lane int16 dot product and its data
 * order, portable C and Cortex-M4 DSP forms that give the same integers. */
#ifndef NN_SIMD_H
#define NN_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define NN_DSP 1
#define nn_sxtb16(x) ((uint32_t)__sxtb16(x))
#define nn_ssub16(a, b) ((uint32_t)__ssub16((a), (b)))
#define nn_smlad(a, b, acc) __smlad((a), (b), (acc))
#define nn_smlabb(a, b, acc) __smlabb((int32_t)(a), (int32_t)(b), (acc))
#define nn_smlatt(a, b, acc) __smlatt((int32_t)(a), (int32_t)(b), (acc))
#define nn_smlabt(a, b, acc) __smlabt((int32_t)(a), (int32_t)(b), (acc))
#define nn_smlatb(a, b, acc) __smlatb((int32_t)(a), (int32_t)(b), (acc))
#define nn_sadd16(a, b) ((uint32_t)__sadd16((a), (b)))
#else
/* Elsewhere the instructions in C, as the Armv7E-M manual defines them. NN_DSP
 * selects the code paths written around them where a kernel also has a plain
 * one: the host tests build both (NN_EMULATE_DSP). */
#ifdef NN_EMULATE_DSP
#define NN_DSP 1
#else
#define NN_DSP 0
#endif
static inline int32_t nn_lo16(uint32_t v) { return (int16_t)(v & 0xffffu); }
static inline int32_t nn_hi16(uint32_t v) { return (int16_t)(v >> 16); }
static inline uint32_t nn_sxtb16(uint32_t x)
{
    return ((uint32_t)(uint16_t)(int16_t)(int8_t)(x & 0xffu)) | ((uint32_t)(uint16_t)(int16_t)(int8_t)((x >> 16) & 0xffu) << 16);
}
static inline uint32_t nn_ssub16(uint32_t a, uint32_t b)
{
    return ((uint32_t)(uint16_t)(nn_lo16(a) - nn_lo16(b))) | ((uint32_t)(uint16_t)(nn_hi16(a) - nn_hi16(b)) << 16);
}
static inline uint32_t nn_sadd16(uint32_t a, uint32_t b)
{
    return ((uint32_t)(uint16_t)(nn_lo16(a) + nn_lo16(b))) | ((uint32_t)(uint16_t)(nn_hi16(a) + nn_hi16(b)) << 16);
}
static inline int32_t nn_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(nn_lo16(a) * nn_lo16(b)) + (uint32_t)(nn_hi16(a) * nn_hi16(b)));
}
static inline int32_t nn_smlabb(uint32_t a, uint32_t b, int32_t acc) { return (int32_t)((uint32_t)acc + (uint32_t)(nn_lo16(a) * nn_lo16(b))); }
static inline int32_t nn_smlatt(uint32_t a, uint32_t b, int32_t acc) { return (int32_t)((uint32_t)acc + (uint32_t)(nn_hi16(a) * nn_hi16(b))); }
static inline int32_t nn_smlabt(uint32_t a, uint32_t b, int32_t acc) { return (int32_t)((uint32_t)acc + (uint32_t)(nn_lo16(a) * nn_hi16(b))); }
static inline int32_t nn_smlatb(uint32_t a, uint32_t b, int32_t acc) { return (int32_t)((uint32_t)acc + (uint32_t)(nn_hi16(a) * nn_lo16(b))); }
#endif

/* Rotate right by 8 (GCC 12's arm_acle.h has no __ror). */
static inline uint32_t nn_ror8(uint32_t v)
{
    return (v >> 8) | (v << 24);
}

/* SXTB16 of the word rotated right by 8: lanes 1 and 3 (one instruction on the M4). */
static inline uint32_t nn_sxtb16_ror8(uint32_t x)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return nn_sxtb16(nn_ror8(x));
#endif
}

/* Halfword packing: (lo(a), lo(b)) and (hi(a), hi(b)) as [bottom, top] (PKHBT / PKHTB on the M4). */
static inline uint32_t nn_pack_lo(uint32_t a, uint32_t b)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (a & 0xffffu) | (b << 16);
#endif
}

static inline uint32_t nn_pack_hi(uint32_t a, uint32_t b)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
#else
    return (a >> 16) | (b & 0xffff0000u);
#endif
}

/* Two words from a 4-byte aligned address (one LDRD on the M4: GCC 12 does not merge the loads). The
 * operand is offsettable ("o"): "m" lets GCC pick a register index at -Og, which LDRD does not take. */
static inline void nn_load2(const uint32_t *p, uint32_t *lo, uint32_t *hi)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    __asm__("ldrd %0, %1, %2" : "=r"(*lo), "=r"(*hi) : "o"(*(const uint32_t(*)[2])p));
#else
    *lo = p[0];
    *hi = p[1];
#endif
}

/* Unaligned 32-bit load (a single LDR on the M4). */
static inline uint32_t nn_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* nn_requant with its per-channel constants prepared once, for |acc * 2^max(shift, 0)| < 2^30
 * (every accumulator of the network: the exporter checks it). Then the rounding doubling
 * high multiply is one SMMULR, (2 * acc * mult + 2^31) >> 32, and the rounding divide
 * (y + 2^(R-1) - (y < 0)) >> R, done on the remainder's carry, cannot overflow. */
typedef struct {
    int32_t mult;
    int32_t lsh;    /* max(shift, 0) + 1 */
    int32_t rsh;    /* max(-shift, 0) */
    uint32_t round; /* 1 << rsh */
} nn_rq_t;

static inline nn_rq_t nn_rq_make(int32_t mult, int32_t shift)
{
    nn_rq_t q;
    int32_t left = shift > 0 ? shift : 0;
    q.mult = mult;
    q.lsh = left + 1;
    q.rsh = left - shift;
    q.round = 1u << q.rsh;
    return q;
}

static inline int32_t nn_rq_apply(int32_t acc, nn_rq_t q)
{
    int32_t a = (int32_t)((uint32_t)acc << q.lsh);
    int32_t y;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    __asm__("smmulr %0, %1, %2" : "=r"(y) : "r"(a), "r"(q.mult));
#else
    y = (int32_t)(((int64_t)a * q.mult + ((int64_t)1 << 31)) >> 32);
#endif
    uint32_t t = q.round + (uint32_t)(y >> 31);
    return (y + (int32_t)(t >> 1)) >> q.rsh;
}

/* The fast form for the usual channel (a multiplier >= 0, 1 to 22 right shifts): the
 * accumulator comes in doubled (weights or inputs doubled: exact), so the rounding doubling
 * high multiply needs no shift first, and both the output zero point and the rounding
 * constant ride in SMMLAR's addend: with c = 2^(R-1) + zp * 2^R,
 *   (y + 2^(R-1) - (y < 0)) >> R + zp == (SMMLAR(acc2, mult, c) - (acc2 < 0)) >> R,
 * as SMMLAR(acc2, mult, c) = y + c (c << 32 has no low bits), and the sign of acc2 is that of y
 * (mult >= 0) but where y == 0, whose result is zp either way (R >= 1: (c - 1) >> R == c >> R).
 * |y| < 2^30 and R <= 22 keep the sum in range. The result includes zp_out. */
typedef struct {
    int32_t mult, c, rsh;
} nn_rqz_t;

#define NN_RQZ_RSH_MAX 22

static inline int nn_rqz_ok(int32_t mult, int32_t shift)
{
    return mult >= 0 && shift <= -1 && -shift <= NN_RQZ_RSH_MAX;
}

static inline nn_rqz_t nn_rqz_make(int32_t mult, int32_t shift, int32_t zp)
{
    nn_rqz_t q;
    q.mult = mult;
    q.rsh = shift <= -1 ? -shift : 0; /* a channel outside the fast form gets a harmless one (never used) */
    q.c = q.rsh ? (int32_t)(1u << (q.rsh - 1)) + zp * (int32_t)(1u << q.rsh) : zp;
    return q;
}

static inline int32_t nn_rqz_apply(int32_t acc2, nn_rqz_t q)
{
    int32_t t;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    __asm__("smmlar %0, %1, %2, %3" : "=r"(t) : "r"(acc2), "r"(q.mult), "r"(q.c));
#else
    t = (int32_t)(((int64_t)acc2 * q.mult + ((int64_t)q.c << 32) + ((int64_t)1 << 31)) >> 32);
#endif
    return (t + (acc2 >> 31)) >> q.rsh;
}

static inline int32_t nn_ssat8(int32_t v)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* max(v, 0) for v <= 255 (USAT to 8 bits). */
static inline int32_t nn_usat8(int32_t v)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return (int32_t)__usat(v, 8);
#else
    return v < 0 ? 0 : (v > 255 ? 255 : v);
#endif
}

/* Output stage: clamp(v + zp, lo, hi), then an activation table (identity if none). */
typedef struct {
    const int8_t *tab; /* table + 128 */
    int32_t zp, lo, hi;
} nn_out_t;

extern const int8_t nn_identity_table[256];

static inline nn_out_t nn_out_make(int32_t zp, int32_t lo, int32_t hi, const int8_t *lut)
{
    nn_out_t o;
    o.tab = (lut ? lut : nn_identity_table) + 128;
    o.zp = zp;
    o.lo = lo;
    o.hi = hi;
    return o;
}

static inline int8_t nn_out_apply(int32_t v, nn_out_t o)
{
    v = nn_ssat8(v + o.zp);
    v = v < o.lo ? o.lo : v;
    v = v > o.hi ? o.hi : v;
    return o.tab[v];
}

/* The output stage specialised by what an op needs (a constant argument of
 * always-inlined loops): no activation, a ReLU clamp (act_min > -128), an
 * activation table, or anything (act_max < 127 included). */
enum { NN_OUT_PLAIN, NN_OUT_RELU, NN_OUT_LUT, NN_OUT_ANY };

static inline int nn_out_kind(int32_t lo, int32_t hi, const int8_t *lut)
{
    if (hi != 127 || (lut && lo != -128)) return NN_OUT_ANY;
    if (lut) return NN_OUT_LUT;
    return lo == -128 ? NN_OUT_PLAIN : NN_OUT_RELU;
}

static inline __attribute__((always_inline)) int8_t nn_out_k(int32_t v, nn_out_t o, int kind)
{
    v = nn_ssat8(v + o.zp);
    if (kind == NN_OUT_PLAIN) return (int8_t)v;
    if (kind == NN_OUT_RELU) return (int8_t)(v < o.lo ? o.lo : v);
    if (kind == NN_OUT_LUT) return o.tab[v];
    v = v < o.lo ? o.lo : v;
    v = v > o.hi ? o.hi : v;
    return o.tab[v];
}

/* nn_out_k for a value that already includes the zero point (nn_rqz_apply). */
static inline __attribute__((always_inline)) int8_t nn_outz_k(int32_t v, nn_out_t o, int kind)
{
    v = nn_ssat8(v);
    if (kind == NN_OUT_PLAIN) return (int8_t)v;
    if (kind == NN_OUT_RELU) return (int8_t)(nn_usat8(v - o.lo) + o.lo); /* max(v, lo): v - lo <= 255 */
    if (kind == NN_OUT_LUT) return o.tab[v];
    v = v < o.lo ? o.lo : v;
    v = v > o.hi ? o.hi : v;
    return o.tab[v];
}

/* The output stage of n accumulators (fast requantization, one channel) to dst, dst + stride, ...:
 * two per pass, loaded with one LDRD (acc 4-byte aligned), but for the rarely used general stage. */
static inline __attribute__((always_inline)) void nn_outz_row(const int32_t *acc, int n, nn_rqz_t q, nn_out_t o,
                                                              int kind, int8_t *dst, int stride)
{
    int i = 0;
    for (; kind != NN_OUT_ANY && i + 2 <= n; i += 2, dst += 2 * stride) { /* the general stage: compact */
        uint32_t a, b;
        nn_load2((const uint32_t *)(const void *)(acc + i), &a, &b);
        dst[0] = nn_outz_k(nn_rqz_apply((int32_t)a, q), o, kind);
        dst[stride] = nn_outz_k(nn_rqz_apply((int32_t)b, q), o, kind);
    }
    for (; i < n; ++i, dst += stride) dst[0] = nn_outz_k(nn_rqz_apply(acc[i], q), o, kind);
}

/* "Pair order": a group of four int8 values e0..e3 is kept as int16
 * [e0, e2, e1, e3], the order in which SXTB16 / SXTB16-ROR8 widen an int8
 * word. Index of element i in a pair-ordered buffer: */
static inline int nn_pair_index(int i)
{
    static const uint8_t perm[4] = {0, 2, 1, 3};
    return (i & ~3) + perm[i & 3];
}

/* acc + sum over groups g < n4 of the four products of w[4g..4g+3] (int8, any
 * alignment) with the pair-ordered int16 patch p[4g..4g+3] (4-byte aligned). */
static inline int32_t nn_dot4_s8_s16(const int8_t *w, const int16_t *p, int n4, int32_t acc)
{
#if NN_DSP
    const uint32_t *pw = (const uint32_t *)(const void *)p;
    for (int g = 0; g < n4; ++g) {
        uint32_t wv = nn_load32(w + 4 * g);
        acc = nn_smlad(nn_sxtb16(wv), pw[2 * g], acc);
        acc = nn_smlad(nn_sxtb16_ror8(wv), pw[2 * g + 1], acc);
    }
#else
    for (int g = 0; g < n4; ++g) {
        const int8_t *wg = w + 4 * g;
        const int16_t *pg = p + 4 * g;
        acc += wg[0] * pg[0] + wg[2] * pg[1] + wg[1] * pg[2] + wg[3] * pg[3];
    }
#endif
    return acc;
}

/* Widen four int8 values (one word) minus zp into pair order at dst. */
static inline void nn_widen4(const int8_t *src, int32_t zp, int16_t *dst)
{
#if NN_DSP
    uint32_t xv = nn_load32(src);
    uint32_t zz = ((uint32_t)(uint16_t)zp << 16) | (uint16_t)zp;
    uint32_t *d = (uint32_t *)(void *)dst;
    d[0] = nn_ssub16(nn_sxtb16(xv), zz);
    d[1] = nn_ssub16(nn_sxtb16_ror8(xv), zz);
#else
    dst[0] = (int16_t)(src[0] - zp);
    dst[1] = (int16_t)(src[2] - zp);
    dst[2] = (int16_t)(src[1] - zp);
    dst[3] = (int16_t)(src[3] - zp);
#endif
}

/* nn_widen4 with the values doubled: 2 * (x - zp). */
static inline void nn_widen4x2(const int8_t *src, int32_t zp, int16_t *dst)
{
#if NN_DSP
    uint32_t xv = nn_load32(src);
    uint32_t zz = ((uint32_t)(uint16_t)zp << 16) | (uint16_t)zp;
    uint32_t a = nn_ssub16(nn_sxtb16(xv), zz), b = nn_ssub16(nn_sxtb16_ror8(xv), zz);
    uint32_t *d = (uint32_t *)(void *)dst;
    d[0] = nn_sadd16(a, a);
    d[1] = nn_sadd16(b, b);
#else
    dst[0] = (int16_t)(2 * (src[0] - zp));
    dst[1] = (int16_t)(2 * (src[2] - zp));
    dst[2] = (int16_t)(2 * (src[1] - zp));
    dst[3] = (int16_t)(2 * (src[3] - zp));
#endif
}

/* acc + SXTB16(x), and the same of x rotated right by 8, lane by lane (wrapping): one SXTAB16 each
 * on the M4. */
static inline uint32_t nn_sxtab16(uint32_t acc, uint32_t x)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return (uint32_t)__sxtab16(acc, x);
#else
    return nn_sadd16(acc, nn_sxtb16(x));
#endif
}

static inline uint32_t nn_sxtab16_ror8(uint32_t acc, uint32_t x)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
#else
    return nn_sadd16(acc, nn_sxtb16_ror8(x));
#endif
}

/* Helpers of the SE multiply (nn_elementwise.c): the 16 x 16 products of the bottom or the top lanes. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* (GCC 12's arm_acle.h has no __smulbb / __smultt) */
static inline int32_t nn_smulbb(uint32_t a, uint32_t b)
{
    int32_t r;
    __asm__("smulbb %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline int32_t nn_smultt(uint32_t a, uint32_t b)
{
    int32_t r;
    __asm__("smultt %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#else
static inline int32_t nn_smulbb(uint32_t a, uint32_t b) { return nn_lo16(a) * nn_lo16(b); }
static inline int32_t nn_smultt(uint32_t a, uint32_t b) { return nn_hi16(a) * nn_hi16(b); }
#endif

/* nn_ssat8(nn_rqz_apply(acc2, q)) for a constant shift R (SSAT's own shift: one instruction less). */
static inline __attribute__((always_inline)) int32_t nn_rqz_ssat8_r(int32_t acc2, int32_t mult, int32_t c, const int R)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
    int32_t t;
    __asm__("smmlar %0, %1, %2, %3\n\t"
            "add %0, %0, %1, asr #31\n\t"
            "ssat %0, #8, %0, asr %4"
            : "=&r"(t)
            : "r"(acc2), "r"(mult), "r"(c), "i"(R));
    return t;
#else
    const nn_rqz_t q = {mult, c, R};
    return nn_ssat8(nn_rqz_apply(acc2, q));
#endif
}

/* Loads and stores for loops that keep few values in registers (the planar depthwise path). */
/* Two words at base + off (off: a constant multiple of 4 below 1024, base 4-byte aligned), read anew
 * at every call (volatile: GCC neither hoists nor merges it), for per-channel constants that a loop
 * re-reads rather than hold in registers; the address is the base register plus the constant. The asm
 * names no memory operand: the caller orders it after the stores of those constants (nn_mem_barrier). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define nn_load2_fresh(base, off, lo, hi)                                                                     \
    __asm__ volatile("ldrd %0, %1, [%2, %3]"                                                                  \
                     : "=r"(lo), "=r"(hi)                                                                     \
                     : "r"(base), "i"(off))
#else
#define nn_load2_fresh(base, off, lo, hi)                                                                     \
    do {                                                                                                      \
        memcpy(&(lo), (const char *)(base) + (off), 4);                                                       \
        memcpy(&(hi), (const char *)(base) + (off) + 4, 4);                                                   \
    } while (0)
#endif

/* Every store before it is done before any asm after it (a compiler barrier). */
static inline void nn_mem_barrier(void)
{
    __asm__ volatile("" ::: "memory");
}

/* Two words to base + off (off: a constant multiple of 4 below 1024, base 4-byte aligned): one STRD
 * on the M4. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define nn_store2_at(base, off, lo, hi)                                                                       \
    __asm__ volatile("strd %0, %1, [%2, %3]" : : "r"(lo), "r"(hi), "r"(base), "i"(off) : "memory")
#else
#define nn_store2_at(base, off, lo, hi)                                                                       \
    do {                                                                                                      \
        const uint32_t nn_s2_[2] = {(lo), (hi)};                                                              \
        memcpy((char *)(base) + (off), nn_s2_, 8);                                                            \
    } while (0)
#endif

/* ---- input quantize (nn_elementwise.c): SMLAWB / SMLAWT, acc + ((a * the bottom / top halfword of b) >> 16) ---- */
static inline int32_t nn_smlawb(int32_t a, uint32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return __smlawb(a, (int32_t)b, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(int32_t)(((int64_t)a * (int16_t)(b & 0xffffu)) >> 16));
#endif
}

static inline int32_t nn_smlawt(int32_t a, uint32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return __smlawt(a, (int32_t)b, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(int32_t)(((int64_t)a * (int16_t)(b >> 16)) >> 16));
#endif
}

/* ---- global average pool (nn_elementwise.c): SXTAH, acc + the bottom / top halfword of x, sign-extended ---- */
static inline int32_t nn_sxtah(uint32_t acc, uint32_t x)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t r;
    __asm__("sxtah %0, %1, %2" : "=r"(r) : "r"(acc), "r"(x));
    return r;
#else
    return (int32_t)(acc + (uint32_t)(int32_t)(int16_t)(x & 0xffffu));
#endif
}

/* (SE multiply) nn_load2 of *p, then *p += 2 (one LDRD with post-increment). */
static inline void nn_load2_inc(const uint32_t **p, uint32_t *lo, uint32_t *hi)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    const uint32_t *q = *p;
    __asm__("ldrd %0, %1, [%2], #8" : "=&r"(*lo), "=&r"(*hi), "+r"(q) : "m"(*(const uint32_t(*)[2])q));
    *p = q;
#else
    *lo = (*p)[0];
    *hi = (*p)[1];
    *p += 2;
#endif
}

static inline int32_t nn_sxtah_ror16(uint32_t acc, uint32_t x)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t r;
    __asm__("sxtah %0, %1, %2, ror #16" : "=r"(r) : "r"(acc), "r"(x));
    return r;
#else
    return (int32_t)(acc + (uint32_t)(int32_t)(int16_t)(x >> 16));
#endif
}

#endif /* NN_SIMD_H */

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
#elif defined(NN_EMULATE_DSP)
/* Host build of the DSP paths (tests): the instructions as the Armv7E-M manual defines them. */
#define NN_DSP 1
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
static inline int32_t nn_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(nn_lo16(a) * nn_lo16(b)) + (uint32_t)(nn_hi16(a) * nn_hi16(b)));
}
static inline int32_t nn_smlabb(uint32_t a, uint32_t b, int32_t acc) { return (int32_t)((uint32_t)acc + (uint32_t)(nn_lo16(a) * nn_lo16(b))); }
static inline int32_t nn_smlatt(uint32_t a, uint32_t b, int32_t acc) { return (int32_t)((uint32_t)acc + (uint32_t)(nn_hi16(a) * nn_hi16(b))); }
#else
#define NN_DSP 0
#endif

/* Rotate right by 8 (GCC 12's arm_acle.h has no __ror); GCC folds it into SXTB16's ROR operand. */
static inline uint32_t nn_ror8(uint32_t v)
{
    return (v >> 8) | (v << 24);
}

/* Unaligned 32-bit load (a single LDR on the M4). */
static inline uint32_t nn_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
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
        acc = nn_smlad(nn_sxtb16(nn_ror8(wv)), pw[2 * g + 1], acc);
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
    d[1] = nn_ssub16(nn_sxtb16(nn_ror8(xv)), zz);
#else
    dst[0] = (int16_t)(src[0] - zp);
    dst[1] = (int16_t)(src[2] - zp);
    dst[2] = (int16_t)(src[1] - zp);
    dst[3] = (int16_t)(src[3] - zp);
#endif
}

#endif /* NN_SIMD_H */

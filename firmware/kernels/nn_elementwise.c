/* Pooling, SE gate multiply, residual add, table lookup and the input quantizer. */
#include "nn_kernels.h"
#include "nn_simd.h"

/* table[q + 128] = q: the output stage of kernels without an activation table. */
const int8_t nn_identity_table[256] = {
#define NN_ID8(b) (int8_t)(b), (int8_t)(b + 1), (int8_t)(b + 2), (int8_t)(b + 3), (int8_t)(b + 4), (int8_t)(b + 5), (int8_t)(b + 6), (int8_t)(b + 7)
    NN_ID8(-128), NN_ID8(-120), NN_ID8(-112), NN_ID8(-104), NN_ID8(-96), NN_ID8(-88), NN_ID8(-80), NN_ID8(-72),
    NN_ID8(-64), NN_ID8(-56), NN_ID8(-48), NN_ID8(-40), NN_ID8(-32), NN_ID8(-24), NN_ID8(-16), NN_ID8(-8),
    NN_ID8(0), NN_ID8(8), NN_ID8(16), NN_ID8(24), NN_ID8(32), NN_ID8(40), NN_ID8(48), NN_ID8(56),
    NN_ID8(64), NN_ID8(72), NN_ID8(80), NN_ID8(88), NN_ID8(96), NN_ID8(104), NN_ID8(112), NN_ID8(120),
#undef NN_ID8
};

#define NN_POOL_CHUNK 64 /* channels summed per pass of nn_global_avgpool (stack accumulators) */

void nn_avgpool_accumulate(const int8_t *in, int32_t n, int c, int32_t *sum)
{
    const int c4 = c & ~3;
#if NN_DSP
    /* four channels at a time in int16 lanes over up to 256 pixels (|lane| <= 256 * 128), then added to
     * the sums (SXTAH: one instruction each); the pixels outer only beyond 256 (rows are shorter) */
    for (int32_t i0 = 0; i0 < n; i0 += 256) {
        const int32_t m = n - i0 < 256 ? n - i0 : 256;
        const int8_t *col = in + (size_t)i0 * c;
        int32_t *s = sum;
        for (int j = 0; j < c4; j += 4, col += 4, s += 4) {
            uint32_t s02 = 0, s13 = 0;
            const int8_t *x = col;
            int32_t i = m;
            for (; i >= 4; i -= 4, x += 4 * c) { /* four pixels per pass: SXTAB16 widens and adds */
                const uint32_t v = nn_load32(x), u = nn_load32(x + c), v2 = nn_load32(x + 2 * c),
                               u2 = nn_load32(x + 3 * c);
                s02 = nn_sxtab16(nn_sxtab16(nn_sxtab16(nn_sxtab16(s02, v), u), v2), u2);
                s13 = nn_sxtab16_ror8(nn_sxtab16_ror8(nn_sxtab16_ror8(nn_sxtab16_ror8(s13, v), u), v2), u2);
            }
            if (i & 2) {
                const uint32_t v = nn_load32(x), u = nn_load32(x + c);
                s02 = nn_sxtab16(nn_sxtab16(s02, v), u);
                s13 = nn_sxtab16_ror8(nn_sxtab16_ror8(s13, v), u);
                x += 2 * c;
            }
            if (i & 1) {
                const uint32_t v = nn_load32(x);
                s02 = nn_sxtab16(s02, v);
                s13 = nn_sxtab16_ror8(s13, v);
            }
            uint32_t a, b;
            nn_load2((const uint32_t *)(const void *)s, &a, &b);
            nn_store2_at(s, 0, (uint32_t)nn_sxtah(a, s02), (uint32_t)nn_sxtah(b, s13));
            nn_load2((const uint32_t *)(const void *)(s + 2), &a, &b);
            nn_store2_at(s, 8, (uint32_t)nn_sxtah_ror16(a, s02), (uint32_t)nn_sxtah_ror16(b, s13));
        }
    }
#else
    for (int32_t i = 0; i < n; ++i) {
        for (int j = 0; j < c4; ++j) sum[j] += in[(size_t)i * c + j];
    }
#endif
    for (int32_t i = 0; i < n; ++i) {
        for (int j = c4; j < c; ++j) sum[j] += in[(size_t)i * c + j];
    }
}

void nn_avgpool_finish(const int32_t *sum, int32_t n, int c, int8_t *out)
{
    const int32_t h = n / 2;
    for (int j = 0; j < c; ++j) {
        /* CMSIS-NN rounding: half away from zero with C's truncating division (sum == 0: 0 either way,
         * h < n); the signed half without a branch: (h ^ sign) - sign, sign = sum >> 31 (0 or -1) */
        const int32_t v = sum[j], sign = v >> 31;
        out[j] = (int8_t)nn_ssat8((v + ((h ^ sign) - sign)) / n);
    }
}

void nn_global_avgpool(const int8_t *in, int32_t n, int c, int8_t *out)
{
    int32_t sum[NN_POOL_CHUNK];
    for (int c0 = 0; c0 < c; c0 += NN_POOL_CHUNK) {
        const int m = c - c0 < NN_POOL_CHUNK ? c - c0 : NN_POOL_CHUNK;
        for (int j = 0; j < m; ++j) sum[j] = 0;
        const int8_t *x = in + c0;
        for (int32_t i = 0; i < n; ++i, x += c) {
            for (int j = 0; j < m; ++j) sum[j] += x[j];
        }
        nn_avgpool_finish(sum, n, m, out + c0);
    }
}

#define NN_MUL_C_MAX 256 /* channels of the fast path (a stack table of the doubled gate) */

#if NN_DSP
static inline __attribute__((always_inline)) void mul_store(int8_t *out, int32_t v, const int i)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    __asm__("strb %1, [%0, %2]" : : "r"(out), "r"(v), "i"(i) : "memory");
#else
    out[i] = (int8_t)v;
#endif
}

/* n pixels of c channels (a multiple of 4), four per word, against the doubled gate pairs g2;
 * R: the requantization's shift as a constant (0: rq.rsh at run time). */
static inline __attribute__((always_inline)) void mul_words(const int8_t *in, int32_t n, int c, uint32_t zx,
                                                            const uint32_t *g2, nn_rqz_t rq, const int R, int8_t *out)
{
    const int8_t *const end = in + (size_t)n * c;
    while (in != end) {
        const uint32_t *g = g2;
        for (const int8_t *const row_end = in + c; in != row_end; in += 4, out += 4) {
            const uint32_t xv = nn_load32(in);
            const uint32_t d02 = nn_ssub16(nn_sxtb16(xv), zx), d13 = nn_ssub16(nn_sxtb16_ror8(xv), zx);
            uint32_t g02, g13;
            nn_load2_inc(&g, &g02, &g13);
            const int32_t p0 = nn_smulbb(d02, g02), p1 = nn_smulbb(d13, g13);
            const int32_t p2 = nn_smultt(d02, g02), p3 = nn_smultt(d13, g13);
            if (R) { /* (byte stores: GCC would merge them into a word at four BFIs' cost) */
                mul_store(out, nn_rqz_ssat8_r(p0, rq.mult, rq.c, R), 0);
                mul_store(out, nn_rqz_ssat8_r(p1, rq.mult, rq.c, R), 1);
                mul_store(out, nn_rqz_ssat8_r(p2, rq.mult, rq.c, R), 2);
                mul_store(out, nn_rqz_ssat8_r(p3, rq.mult, rq.c, R), 3);
            } else {
                out[0] = (int8_t)nn_ssat8(nn_rqz_apply(p0, rq));
                out[1] = (int8_t)nn_ssat8(nn_rqz_apply(p1, rq));
                out[2] = (int8_t)nn_ssat8(nn_rqz_apply(p2, rq));
                out[3] = (int8_t)nn_ssat8(nn_rqz_apply(p3, rq));
            }
        }
    }
}
#endif

void nn_mul_channel(const nn_mul_channel_t *p, const int8_t *in, int32_t n, const int8_t *gate, int8_t *out)
{
    const int c = p->c;
    const int32_t zp_x = p->zp_x, zp_g = p->zp_g, zp_out = p->zp_out;
#if NN_DSP
    if (c <= NN_MUL_C_MAX && (c & 3) == 0 && nn_rqz_ok(p->mult, p->shift)) {
        /* four channels per word: x widened by SXTB16 (pair order, as nn_widen4) minus zp_x, each
         * lane times its doubled gate (SMULBB / SMULTT against the gate pairs prepared once), then
         * the fast requantization */
        uint32_t g2[NN_MUL_C_MAX / 2];
        const uint32_t zg = ((uint32_t)(uint16_t)zp_g << 16) | (uint16_t)zp_g;
        const uint32_t zx = ((uint32_t)(uint16_t)zp_x << 16) | (uint16_t)zp_x;
        for (int j = 0; j < c; j += 4) {
            const uint32_t gv = nn_load32(gate + j);
            const uint32_t a = nn_ssub16(nn_sxtb16(gv), zg), b = nn_ssub16(nn_sxtb16_ror8(gv), zg);
            g2[j / 2] = nn_sadd16(a, a);
            g2[j / 2 + 1] = nn_sadd16(b, b);
        }
        const nn_rqz_t rq = nn_rqz_make(p->mult, p->shift, zp_out);
        switch (rq.rsh) { /* the usual shifts of a gate product: a constant in SSAT */
        case 5: mul_words(in, n, c, zx, g2, rq, 5, out); break;
        case 6: mul_words(in, n, c, zx, g2, rq, 6, out); break;
        case 7: mul_words(in, n, c, zx, g2, rq, 7, out); break;
        case 8: mul_words(in, n, c, zx, g2, rq, 8, out); break;
        default: mul_words(in, n, c, zx, g2, rq, 0, out); break;
        }
        return;
    }
#endif
    if (c <= NN_MUL_C_MAX && nn_rqz_ok(p->mult, p->shift)) {
        /* (x - zp_x) * 2 (g - zp_g): the doubled product of nn_rqz_apply, zp_out folded in */
        int16_t g2[NN_MUL_C_MAX];
        for (int j = 0; j < c; ++j) g2[j] = (int16_t)(2 * (gate[j] - zp_g));
        const nn_rqz_t rq = nn_rqz_make(p->mult, p->shift, zp_out);
        for (int32_t i = 0; i < n; ++i, in += c, out += c) {
            for (int j = 0; j < c; ++j) out[j] = (int8_t)nn_ssat8(nn_rqz_apply((in[j] - zp_x) * g2[j], rq));
        }
        return;
    }
    const nn_rq_t rq = nn_rq_make(p->mult, p->shift);
    for (int32_t i = 0; i < n; ++i, in += c, out += c) {
        for (int j = 0; j < c; ++j) {
            int32_t prod = (in[j] - zp_x) * (gate[j] - zp_g);
            out[j] = (int8_t)nn_ssat8(nn_rq_apply(prod, rq) + zp_out);
        }
    }
}

/* (q - zp) << left_shift requantized by (m, s); `half` says (m, s) == (2^30, 0), the
 * side with the larger scale, where the result is exactly (q - zp) << (left_shift - 1). */
static inline __attribute__((always_inline)) int32_t add_side(int32_t q, int32_t zp, int32_t ls, nn_rq_t rq, int half)
{
    if (half) return (q - zp) * (1 << (ls - 1));
    return nn_rq_apply((int32_t)((uint32_t)(q - zp) << ls), rq);
}

static inline __attribute__((always_inline)) void add_loop(const nn_add_t *p, const int8_t *a, const int8_t *b,
                                                           int32_t n, int8_t *out, int half_a, int half_b)
{
    const int32_t zp_a = p->zp_a, zp_b = p->zp_b, zp_out = p->zp_out, ls = p->left_shift;
    const nn_rq_t ra = nn_rq_make(p->m1, p->s1), rb = nn_rq_make(p->m2, p->s2), ro = nn_rq_make(p->mo, p->so);
    for (int32_t i = 0; i < n; ++i) {
        int32_t v = add_side(a[i], zp_a, ls, ra, half_a) + add_side(b[i], zp_b, ls, rb, half_b);
        out[i] = (int8_t)nn_ssat8(nn_rq_apply(v, ro) + zp_out);
    }
}

/* The common case of the graph: left shift 20, input h at (2^30, 0) (its term is
 * exactly (h - zp_h) << 19), input q with 1 to 3 right shifts and the output within the
 * fast requantization: every shift a constant, the output zero point folded in. The q side
 * is nn_rqz_apply, its input 2 (q - zp_q) << 20 doubled:
 *   t = SMMLAR(2 (q - zp_q) << 20, mq, c) + sign,   a' + b' = (h - zp_h) << 19 + (t >> R)
 * and as (h - zp_h) << (19 + R) is a multiple of 2^R, a' + b' = (t + (h - zp_h) << (19 + R)) >> R,
 * with the constant -(zp_h << (19 + R)) in c: one shifted ADD for h. Every intermediate stays
 * below 2^31: |a' + b'| < 2^28 (|each term| < 2^27), times 2^R <= 8. */
static inline __attribute__((always_inline)) void add_one(const int8_t **hp, const int8_t **qp, int8_t **op,
                                                            int32_t zq21, int32_t mq, int32_t cq, const int R,
                                                            nn_rqz_t ro)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
    int32_t q, h, t;
    /* one block: GCC would not fold the shifts into the ADDs nor use the post-indexed loads */
#define NN_ADD_HEAD "ldrsb %[q], [%[qp]], #1\n\t"                                                             \
                    "ldrsb %[h], [%[hp]], #1\n\t"                                                             \
                    "rsb %[q], %[zq21], %[q], lsl #21\n\t"                                                    \
                    "smmlar %[t], %[q], %[mq], %[cq]\n\t"                                                     \
                    "add %[t], %[t], %[q], asr #31\n\t"                                                       \
                    "add %[t], %[t], %[h], lsl %[hs]\n\t"
#define NN_ADD_TAIL "smmlar %[q], %[t], %[mo], %[co]\n\t"                                                     \
                    "add %[q], %[q], %[t], asr #31\n\t"                                                       \
                    "asr %[q], %[q], %[ro]\n\t"                                                               \
                    "ssat %[q], #8, %[q]\n\t"                                                                 \
                    "strb %[q], [%[op]], #1"
#define NN_ADD_ARGS : [q] "=&r"(q), [h] "=&r"(h), [t] "=&r"(t), [qp] "+r"(*qp), [hp] "+r"(*hp), [op] "+r"(*op)   \
                    : [zq21] "r"(zq21), [mq] "r"(mq), [cq] "r"(cq), [mo] "r"(ro.mult), [co] "r"(ro.c),          \
                      [ro] "r"(ro.rsh), [hs] "i"(19 + R), [r] "i"(R)                                            \
                    : "memory"
    if (R == 1) /* 2 (a' + b') = (t >> 1) << 1 */
        __asm__ volatile(NN_ADD_HEAD "bic %[t], %[t], #1\n\t" NN_ADD_TAIL NN_ADD_ARGS);
    else
        __asm__ volatile(NN_ADD_HEAD "asr %[t], %[t], %[r]\n\tlsl %[t], %[t], #1\n\t" NN_ADD_TAIL NN_ADD_ARGS);
#undef NN_ADD_HEAD
#undef NN_ADD_TAIL
#undef NN_ADD_ARGS
#else
    const int32_t qq = (int32_t)((uint32_t)*(*qp)++ << 21) - zq21;
    const nn_rqz_t rq = {mq, cq, 0};
    const int32_t s2 = ((nn_rqz_apply(qq, rq) + (int32_t)((uint32_t)*(*hp)++ << (19 + R))) >> R) * 2;
    *(*op)++ = (int8_t)nn_ssat8(nn_rqz_apply(s2, ro));
#endif
}

static inline __attribute__((always_inline)) void add_common_r(const int8_t *h, int32_t zp_h, const int8_t *q,
                                                               int32_t zp_q, int32_t mq, int32_t mo, int32_t so,
                                                               int32_t zp_out, int32_t n, int8_t *out, const int R)
{
    const int32_t cq = (int32_t)(1u << (R - 1)) - zp_h * (int32_t)(1u << (19 + R));
    const nn_rqz_t ro = nn_rqz_make(mo, so, zp_out);
    const int32_t zq21 = (int32_t)((uint32_t)zp_q << 21); /* (q << 21) - zq21 is one RSB */
    int8_t *const end4 = out + (n & ~3), *const end = out + n;
    while (out != end4) {
        add_one(&h, &q, &out, zq21, mq, cq, R, ro);
        add_one(&h, &q, &out, zq21, mq, cq, R, ro);
        add_one(&h, &q, &out, zq21, mq, cq, R, ro);
        add_one(&h, &q, &out, zq21, mq, cq, R, ro);
    }
    while (out != end) add_one(&h, &q, &out, zq21, mq, cq, R, ro);
}

static void add_common(const int8_t *h, int32_t zp_h, const int8_t *q, int32_t zp_q, int32_t mq, int32_t sq, int32_t mo,
                       int32_t so, int32_t zp_out, int32_t n, int8_t *out)
{
    if (sq == -1) add_common_r(h, zp_h, q, zp_q, mq, mo, so, zp_out, n, out, 1);
    else if (sq == -2) add_common_r(h, zp_h, q, zp_q, mq, mo, so, zp_out, n, out, 2);
    else add_common_r(h, zp_h, q, zp_q, mq, mo, so, zp_out, n, out, 3);
}

/* add_common's q side: a multiplier >= 0 and 1 to 3 right shifts. */
static int add_common_ok(int32_t mult, int32_t shift)
{
    return nn_rqz_ok(mult, shift) && shift >= -3;
}

/* The table form of nn_add_t: out = ssat8((x * ma + tab[y]) >> NN_ADD_TAB_SHIFT), six instructions per
 * element on the M4 (two loads, the table's, MLA, SSAT with its shift, the store), eight elements a pass. */
static void add_tab(const int8_t *x, const int8_t *y, const int32_t *tab, int32_t ma, int32_t n, int8_t *out)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
    int8_t *const end8 = out + (n & ~7);
    while (out != end8) { /* eight per pass, each pair's loads together (pipelined on the M4) */
        int32_t x0, y0, x1, y1;
#define NN_ADD_TAB_PAIR "ldrsb %[x0], [%[xp]], #1\n\t"                                                       \
                        "ldrsb %[y0], [%[yp]], #1\n\t"                                                       \
                        "ldrsb %[x1], [%[xp]], #1\n\t"                                                       \
                        "ldrsb %[y1], [%[yp]], #1\n\t"                                                       \
                        "ldr %[y0], [%[tab], %[y0], lsl #2]\n\t"                                             \
                        "ldr %[y1], [%[tab], %[y1], lsl #2]\n\t"                                             \
                        "mla %[y0], %[x0], %[ma], %[y0]\n\t"                                                 \
                        "mla %[y1], %[x1], %[ma], %[y1]\n\t"                                                 \
                        "ssat %[y0], #8, %[y0], asr %[s]\n\t"                                                \
                        "ssat %[y1], #8, %[y1], asr %[s]\n\t"                                                \
                        "strb %[y0], [%[op]], #1\n\t"                                                        \
                        "strb %[y1], [%[op]], #1\n\t"
        __asm__ volatile(NN_ADD_TAB_PAIR NN_ADD_TAB_PAIR NN_ADD_TAB_PAIR NN_ADD_TAB_PAIR
                         : [x0] "=&r"(x0), [y0] "=&r"(y0), [x1] "=&r"(x1), [y1] "=&r"(y1), [xp] "+r"(x), [yp] "+r"(y),
                           [op] "+r"(out)
                         : [tab] "r"(tab), [ma] "r"(ma), [s] "i"(NN_ADD_TAB_SHIFT)
                         : "memory");
#undef NN_ADD_TAB_PAIR
    }
    n &= 7;
#endif
    for (int32_t i = 0; i < n; ++i) out[i] = (int8_t)nn_ssat8((x[i] * ma + tab[y[i]]) >> NN_ADD_TAB_SHIFT);
}

void nn_add(const nn_add_t *p, const int8_t *a, const int8_t *b, int32_t n, int8_t *out)
{
    if (p->tab) {
        if (p->tab_b) add_tab(a, b, p->tab, p->tab_a, n, out);
        else add_tab(b, a, p->tab, p->tab_a, n, out);
        return;
    }
    if (p->left_shift == 20 && nn_rqz_ok(p->mo, p->so)) {
        if (p->m1 == (1 << 30) && p->s1 == 0 && add_common_ok(p->m2, p->s2)) {
            add_common(a, p->zp_a, b, p->zp_b, p->m2, p->s2, p->mo, p->so, p->zp_out, n, out);
            return;
        }
        if (p->m2 == (1 << 30) && p->s2 == 0 && add_common_ok(p->m1, p->s1)) {
            add_common(b, p->zp_b, a, p->zp_a, p->m1, p->s1, p->mo, p->so, p->zp_out, n, out);
            return;
        }
    }
    const int half_a = p->m1 == (1 << 30) && p->s1 == 0 && p->left_shift >= 1;
    const int half_b = p->m2 == (1 << 30) && p->s2 == 0 && p->left_shift >= 1;
    if (half_a && !half_b) add_loop(p, a, b, n, out, 1, 0);
    else if (half_b && !half_a) add_loop(p, a, b, n, out, 0, 1);
    else if (half_a && half_b) add_loop(p, a, b, n, out, 1, 1);
    else add_loop(p, a, b, n, out, 0, 0);
}

void nn_lut(const int8_t table[256], const int8_t *in, int32_t n, int8_t *out)
{
    for (int32_t i = 0; i < n; ++i) out[i] = table[in[i] + 128];
}

/* The quantizer of the usual input scale (a multiplier >= 0, R right shifts), two elements per
 * input word, with no doubling and no per-element sign test: SMLAWB / SMLAWT give floor(x * mult / 2^16)
 * plus an addend, and with both roundings and the output zero point in that addend,
 *   K = 2^14 + 2^(R+14) + zp * 2^(R+15) - 2^15 (x < 0),
 * the result is floor(that / 2^(R+15)) (nested floors: as nn_requant's (y + 2^(R-1) - (y < 0)) >> R + zp,
 * with the sign of y taken from x, which differs only where y == 0 and the result is zp either way).
 * The sign term of both halves comes from one BIC: 2^15 where a half is >= 0. |floor(x * mult / 2^16)|
 * <= 2^30 and |K| < 2^30 (R <= 7) keep the sum in range. SSAT takes the constant shift: one instance, for
 * R = 6 (the input scale of the exported models); the rest of the row and other scales take the
 * per-element loop of nn_quantize. */
static inline __attribute__((always_inline)) int32_t quantize_words(const int16_t *in, int32_t n, int8_t *out,
                                                                     int32_t mult, int32_t kn, const int S)
{
    const uint32_t cm = 0x80008000u;
    const uint32_t *w = (const uint32_t *)(const void *)in;
    int32_t i = 0;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__)
    /* eight per pass, five instructions each (GCC spreads the sign terms over twice as many) */
#define NN_Q_WORD(X, O)                                                                                        \
    "bic %[t], %[cm], %[" X "]\n"                                                                              \
    "add %[u], %[kn], %[t], lsr #16\n"                                                                         \
    "uxtah %[t], %[kn], %[t]\n"                                                                                \
    "smlawb %[t], %[m], %[" X "], %[t]\n"                                                                      \
    "smlawt %[u], %[m], %[" X "], %[u]\n"                                                                      \
    "ssat %[t], #8, %[t], asr %[s]\n"                                                                          \
    "ssat %[u], #8, %[u], asr %[s]\n"                                                                          \
    "strb %[t], [%[o], #" O "]\n"                                                                              \
    "strb %[u], [%[o], #" O "+1]\n"
    for (const uint32_t *const end = w + (n >> 3) * 4; w != end;) {
        uint32_t a, b, c, d, t, u;
        __asm__ volatile("ldrd %[a], %[b], [%[w]], #8\n"
                         "ldrd %[c], %[d], [%[w]], #8\n" NN_Q_WORD("a", "0") NN_Q_WORD("b", "2") NN_Q_WORD("c", "4")
                             NN_Q_WORD("d", "6") "add %[o], %[o], #8\n"
                         : [w] "+r"(w), [o] "+r"(out), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d),
                           [t] "=&r"(t), [u] "=&r"(u)
                         : [cm] "r"(cm), [kn] "r"(kn), [m] "r"(mult), [s] "i"(S)
                         : "memory");
    }
    i = n & ~7;
#undef NN_Q_WORD
#else
    for (; i + 4 <= n; i += 4, w += 2, out += 4) {
        uint32_t a, b;
        nn_load2(w, &a, &b);
        const uint32_t ma = cm & ~a, mb = cm & ~b;
        out[0] = (int8_t)nn_ssat8(nn_smlawb(mult, a, kn + (int32_t)(ma & 0xffffu)) >> S);
        out[1] = (int8_t)nn_ssat8(nn_smlawt(mult, a, kn + (int32_t)(ma >> 16)) >> S);
        out[2] = (int8_t)nn_ssat8(nn_smlawb(mult, b, kn + (int32_t)(mb & 0xffffu)) >> S);
        out[3] = (int8_t)nn_ssat8(nn_smlawt(mult, b, kn + (int32_t)(mb >> 16)) >> S);
    }
#endif
    return i;
}

void nn_quantize(const nn_quantize_t *p, const int16_t *in, int32_t n, int8_t *out)
{
    int32_t i = 0;
    const int32_t r = -p->shift;
    if (p->mult >= 0 && r == 6 && ((uintptr_t)in & 3) == 0) /* the log-mel input's scale: R = 6 */
        i = quantize_words(in, n, out, p->mult, (1 << 14) + (1 << 20) + p->zp_out * (1 << 21) - (1 << 15), 21);
    if (nn_rqz_ok(p->mult, p->shift)) { /* the fast form, zero point folded in */
        const nn_rqz_t rq = nn_rqz_make(p->mult, p->shift, p->zp_out);
        for (; i < n; ++i) out[i] = (int8_t)nn_ssat8(nn_rqz_apply(in[i] * 2, rq));
        return;
    }
    const nn_rq_t rq = nn_rq_make(p->mult, p->shift);
    const int32_t zp = p->zp_out;
    for (; i < n; ++i) out[i] = (int8_t)nn_ssat8(nn_rq_apply(in[i], rq) + zp);
}

/* Depthwise conv2d (channel multiplier 1), any square kernel and stride.
 *
 * Channels are processed in chunks of 16. For a chunk, the weights are widened
 * once into doubled int16 pairs (SXTB16 order; the doubled accumulator is the
 * input of nn_rqz_apply), each channel gets the bias 2 * (bias - zp_in * sum(w)),
 * and the k input rows are copied into a window padded
 * with zp_in (the padded input of the graph): then every pixel accumulates
 * x * w directly, four channels per input word and tap, with no edge cases.
 * Channels beyond a multiple of four (and chunks with a channel outside the
 * fast requantization) take a plain path that sums (x - zp_in) * w over the
 * valid part of the window. The export-time instances of the short rows (mn01's
 * B7-B15, at the end of this file) take one channel at a time instead. */
#include "nn_kernels.h"
#include "nn_simd.h"

#include <stddef.h>
#include <string.h>

#define NN_DW_CHUNK 16        /* channels per chunk (a multiple of 4) */
#define NN_DW_K_MAX 5         /* kernels of the chunked path; larger ones take the plain path */
#define NN_DW_WINDOW_MAX 3200 /* bytes of a chunk's padded input window (stack): 3 x (64 + 2) x 16 */

typedef struct {
    int32_t bias_in[NN_DW_CHUNK]; /* doubled (the weights in w are doubled too) */
    nn_rqz_t rqz[NN_DW_CHUNK];
    uint32_t w[NN_DW_K_MAX * NN_DW_K_MAX][NN_DW_CHUNK / 2]; /* per tap: (c0, c2), (c1, c3), (c4, c6), ... */
} dw_chunk_t;

/* Bias plus the valid taps of channel c at the pixel whose window starts at mel f0
 * (taps kf0..kf1-1 inside the row; a NULL row is padding, which adds nothing). */
static inline int32_t dw_scalar_acc(const nn_conv_t *p, const int8_t *const *rows, int f0, int kf0, int kf1, int c)
{
    const int k = p->k, ch = p->cout;
    int32_t acc = p->bias[c];
    for (int kt = 0; kt < k; ++kt) {
        if (!rows[kt]) continue;
        for (int kf = kf0; kf < kf1; ++kf) {
            acc += (rows[kt][(size_t)(f0 + kf) * ch + c] - p->zp_in) * p->weights[(kt * k + kf) * ch + c];
        }
    }
    return acc;
}

/* Every channel of one pixel, scalar (windows too wide for the stack buffer). */
static void dw_edge_pixel_plain(const nn_conv_t *p, const int8_t *const *rows, int fo, int8_t *out)
{
    const int k = p->k, ch = p->cout, f0 = fo * p->stride - p->pad;
    const int kf0 = f0 < 0 ? -f0 : 0, kf1 = f0 + k > p->f_in ? p->f_in - f0 : k;
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    for (int c = 0; c < ch; ++c) {
        const int32_t acc = dw_scalar_acc(p, rows, f0, kf0, kf1, c);
        out[c] = nn_out_apply(nn_rq_apply(acc, nn_rq_make(p->mult[c], p->shift[c])), o);
    }
}

/* Channels c0..c1 - 1 of every pixel of the row, scalar. */
static void dw_plain_channels(const nn_conv_t *p, const int8_t *const *rows, int c0, int c1, int8_t *out)
{
    const int k = p->k, ch = p->cout;
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    for (int fo = 0; fo < p->f_out; ++fo) {
        const int f0 = fo * p->stride - p->pad;
        const int kf0 = f0 < 0 ? -f0 : 0, kf1 = f0 + k > p->f_in ? p->f_in - f0 : k;
        for (int c = c0; c < c1; ++c) {
            const int32_t acc = dw_scalar_acc(p, rows, f0, kf0, kf1, c);
            out[(size_t)fo * ch + c] = nn_out_apply(nn_rq_apply(acc, nn_rq_make(p->mult[c], p->shift[c])), o);
        }
    }
}

/* Channels c0 + j0 .. c0 + j1 - 1 of an edge pixel (out: the pixel). */
static void dw_edge_pixel(const nn_conv_t *p, const int8_t *const *rows, int fo, int c0, int j0, int j1, nn_out_t o,
                          int8_t *out)
{
    const int k = p->k, f0 = fo * p->stride - p->pad;
    const int kf0 = f0 < 0 ? -f0 : 0, kf1 = f0 + k > p->f_in ? p->f_in - f0 : k;
    for (int j = j0; j < j1; ++j) {
        const int c = c0 + j;
        const int32_t acc = dw_scalar_acc(p, rows, f0, kf0, kf1, c);
        out[c] = nn_out_apply(nn_rq_apply(acc, nn_rq_make(p->mult[c], p->shift[c])), o);
    }
}

/* One pixel, the first m4 (multiple of 4) channels of the chunk, from a padded
 * window: x points at its top-left input, rows are row_stride apart and
 * pixels NN_DW_CHUNK bytes apart; K taps per row. */
static inline __attribute__((always_inline)) void dw_pixel(const dw_chunk_t *ck, const int8_t *x0, int row_stride,
                                                           int m4, int K, nn_out_t o, int kind, int8_t *out)
{
    for (int j = 0; j < m4; j += 4) {
        int32_t a0 = ck->bias_in[j], a1 = ck->bias_in[j + 1], a2 = ck->bias_in[j + 2], a3 = ck->bias_in[j + 3];
        const uint32_t *w = &ck->w[0][j / 2];
        for (int kt = 0; kt < K; ++kt) {
            const int8_t *x = x0 + kt * row_stride + j;
            _Pragma("GCC unroll 7") for (int kf = 0; kf < K; ++kf, x += NN_DW_CHUNK, w += NN_DW_CHUNK / 2) {
#if NN_DSP
                uint32_t X = nn_load32(x);
                uint32_t xa = nn_sxtb16(X), xb = nn_sxtb16_ror8(X);
                a0 = nn_smlabb(xa, w[0], a0);
                a2 = nn_smlatt(xa, w[0], a2);
                a1 = nn_smlabb(xb, w[1], a1);
                a3 = nn_smlatt(xb, w[1], a3);
#else
                a0 += x[0] * (int16_t)(w[0] & 0xffffu);
                a2 += x[2] * (int16_t)(w[0] >> 16);
                a1 += x[1] * (int16_t)(w[1] & 0xffffu);
                a3 += x[3] * (int16_t)(w[1] >> 16);
#endif
            }
        }
        out[j] = nn_outz_k(nn_rqz_apply(a0, ck->rqz[j]), o, kind);
        out[j + 1] = nn_outz_k(nn_rqz_apply(a1, ck->rqz[j + 1]), o, kind);
        out[j + 2] = nn_outz_k(nn_rqz_apply(a2, ck->rqz[j + 2]), o, kind);
        out[j + 3] = nn_outz_k(nn_rqz_apply(a3, ck->rqz[j + 3]), o, kind);
    }
}

/* All pixels of the row for one chunk, K and the output stage constant. */
static inline __attribute__((always_inline)) void dw_pixels(const dw_chunk_t *ck, const int8_t *x0, int row_stride,
                                                            int step, int f_out, int ch, int m4, int K, nn_out_t o,
                                                            int kind, int8_t *dst)
{
    for (int fo = 0; fo < f_out; ++fo, dst += ch, x0 += step) dw_pixel(ck, x0, row_stride, m4, K, o, kind, dst);
}

/* The planar path (3 x 3 and 5 x 5, strides 1 and 2, rows of at most NN_DW_PLANE - 8 padded
 * inputs): four channels at a time, their k input rows are first widened into int16 planes
 * [channel][kt][f] (padding = zp_in), so that two neighbouring taps of one channel are one word
 * and SMLAD does two MACs. Then per channel one loop of passes of four output pixels (eight in
 * Thumb-2 for mn01's 3 x 3 layers), each accumulating from the planes and storing its outputs
 * (requantized in registers: no accumulator row in memory). No state survives a call: the planes
 * are rebuilt for every output row (the caller's rows are only valid for the call, and RAM has no
 * room for widened rows kept across calls); the per-channel constants come from the op's records
 * (nn_conv_t.prep, flash) or are rebuilt per row and group where it has none. */
#define NN_DW_PLANE 76 /* int16 per plane row: padded width + slack for the last pass's loads */
#define NN_DW_ROWB (2 * NN_DW_PLANE) /* bytes per plane row */

typedef struct {
    int16_t x[4 * NN_DW_K_MAX * NN_DW_PLANE]; /* channel j, kernel row kt: x + (j * K + kt) * NN_DW_PLANE */
} __attribute__((aligned(8))) dw_planes_t; /* rows of 4-byte multiples: words and LDRD pairs */

/* One channel's constants: the bias with zp_in's share folded in (doubled), the fast requantization
 * (mult and c adjacent: one LDRD), then per kernel row the DW_RW(K) weight words of dw_pass (doubled).
 * The channels of a row follow each other, DW_CHAN_WORDS(K) words apart: built per row and group by
 * dw_group_setup, or the whole op's at export time (nn_conv_t.prep; kernel_variants.py, dw_records). */
typedef struct {
    int32_t bias2;
    nn_rqz_t q;
    uint32_t w[]; /* kernel row kt, word n: w[kt * DW_RW(K) + n] */
} dw_chan_t;
#define DW_RW(K) ((K) == 3 ? 2 : 4)
#define DW_CHAN_WORDS(K) (4 + (K) * DW_RW(K))
#define DW_W_OFF(K, KT, N) ((int)offsetof(dw_chan_t, w) + 4 * ((KT) * DW_RW(K) + (N)))

static inline __attribute__((always_inline)) const dw_chan_t *dw_chan_at(const dw_chan_t *cc, int j, int K)
{
    return (const dw_chan_t *)(const void *)((const uint32_t *)(const void *)cc + j * DW_CHAN_WORDS(K));
}

/* The weight words of four channels c0..c0+3 (all in the fast requantization), in the order of dw_pass:
 * stride 1: 3 x 3 (w0, w1), (w1, w2); 5 x 5 (w0, w1), (w2, w3), (w1, w2), (w3, w4);
 * stride 2: 3 x 3 (w0, w1), (w2, 0); 5 x 5 (w0, w1), (w2, w3), (w4, 0).
 * Each tap word of four channels is widened once (SXTB16 lanes: channels 0 and 2, 1 and 3). */
static inline __attribute__((always_inline)) void dw_group_setup(const nn_conv_t *p, int c0, int K, int S,
                                                                 uint32_t *recs)
{
    dw_chan_t *const cc[4] = {(dw_chan_t *)(void *)recs, (dw_chan_t *)(void *)(recs + DW_CHAN_WORDS(K)),
                              (dw_chan_t *)(void *)(recs + 2 * DW_CHAN_WORDS(K)),
                              (dw_chan_t *)(void *)(recs + 3 * DW_CHAN_WORDS(K))};
    const int ch = p->cout;
    const int8_t *wp = p->weights + c0;
    uint32_t sa = 0, sb = 0; /* doubled weight sums, int16 lanes (|2 * sum| <= 2 * 25 * 128) */
    _Pragma("GCC unroll 1") for (int kt = 0; kt < K; ++kt) { /* once per row and group: compact */
        uint32_t A[NN_DW_K_MAX], B[NN_DW_K_MAX];
        _Pragma("GCC unroll 5") for (int kf = 0; kf < K; ++kf) {
            const uint32_t X = nn_load32(wp + (size_t)(kt * K + kf) * ch);
            const uint32_t a = nn_sxtb16(X), b = nn_sxtb16_ror8(X);
            A[kf] = nn_sadd16(a, a);
            B[kf] = nn_sadd16(b, b);
            sa = nn_sadd16(sa, A[kf]);
            sb = nn_sadd16(sb, B[kf]);
        }
        /* word (u, v) of channel j: the bottom lanes of A (j = 0), B (1), the top ones of A (2), B (3) */
#define DW_PAIR(U, V)                                                                                          \
    do {                                                                                                       \
        cc[0]->w[kt * DW_RW(K) + n] = nn_pack_lo(A[U], A[V]);                                                  \
        cc[1]->w[kt * DW_RW(K) + n] = nn_pack_lo(B[U], B[V]);                                                  \
        cc[2]->w[kt * DW_RW(K) + n] = nn_pack_hi(A[U], A[V]);                                                  \
        cc[3]->w[kt * DW_RW(K) + n] = nn_pack_hi(B[U], B[V]);                                                  \
        ++n;                                                                                                   \
    } while (0)
#define DW_LAST(U)                                                                                             \
    do {                                                                                                       \
        cc[0]->w[kt * DW_RW(K) + n] = A[U] & 0xffffu;                                                          \
        cc[1]->w[kt * DW_RW(K) + n] = B[U] & 0xffffu;                                                          \
        cc[2]->w[kt * DW_RW(K) + n] = A[U] >> 16;                                                              \
        cc[3]->w[kt * DW_RW(K) + n] = B[U] >> 16;                                                              \
        ++n;                                                                                                   \
    } while (0)
        int n = 0;
        DW_PAIR(0, 1);
        if (K == 5) DW_PAIR(2, 3);
        if (S == 1) {
            DW_PAIR(1, 2);
            if (K == 5) DW_PAIR(3, 4);
        } else {
            DW_LAST(K - 1);
        }
#undef DW_PAIR
#undef DW_LAST
    }
    const int32_t zp = p->zp_in;
    const uint32_t zo = 2u * (uint32_t)p->zp_out + 1u;
    const int32_t sum[4] = {(int16_t)(sa & 0xffffu), (int16_t)(sb & 0xffffu), (int16_t)(sa >> 16), (int16_t)(sb >> 16)};
    for (int j = 0; j < 4; ++j) {
        const int c = c0 + j;
        cc[j]->bias2 = 2 * p->bias[c] - zp * sum[j];
        /* nn_rqz_make for a channel of the fast form (dw_planar_row checks it): rsh >= 1, so that
         * c = 2^(rsh - 1) + zp_out * 2^rsh = (2 * zp_out + 1) * 2^(rsh - 1) */
        const int32_t rsh = -p->shift[c];
        cc[j]->q.mult = p->mult[c];
        cc[j]->q.rsh = rsh;
        cc[j]->q.c = (int32_t)(zo << (rsh - 1));
    }
}

static inline void dw_store32(void *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* The step of dw_fill_planes (four pixels of four channels) in Thumb-2: the four pixel words (a channel
 * count CH of 8 or 16 as offsets, else register offsets), paired by channel and widened, two words
 * per channel stored with STRD; the planes of channels 0..3 are J = K * NN_DW_PLANE int16 apart:
 * for K = 3 all four are in reach of one pointer (d at channel 1), for K = 5 two pointers. */
#define DW_FILL_LOADS_IMM                                                                                      \
    "ldr    %[x1], [%[src], %[c1]]\n\t"                                                                        \
    "ldr    %[x2], [%[src], %[c2]]\n\t"                                                                        \
    "ldr    %[x3], [%[src], %[c3]]\n\t"                                                                        \
    "ldr    %[x0], [%[src]], %[c4]\n\t"
#define DW_FILL_LOADS_REG                                                                                      \
    "ldr    %[x0], [%[src]]\n\t"                                                                               \
    "ldr    %[x1], [%[src], %[ch]]\n\t"                                                                        \
    "ldr    %[x2], [%[src], %[ch], lsl #1]\n\t"                                                                \
    "add    %[src], %[src], %[ch], lsl #2\n\t"                                                                 \
    "sub    %[x3], %[src], %[ch]\n\t"                                                                          \
    "ldr    %[x3], [%[x3]]\n\t"
#define DW_FILL_WIDEN /* pixel pairs first, then widened: four PKH where widening each word first takes eight */ \
    "pkhbt  %[t0], %[x0], %[x1], lsl #16\n\t" /* bytes: channels 0, 1 of pixel f, then of f + 1 */            \
    "pkhtb  %[x1], %[x1], %[x0], asr #16\n\t" /* channels 2, 3 of pixels f, f + 1 */                         \
    "pkhbt  %[t1], %[x2], %[x3], lsl #16\n\t"                                                                  \
    "pkhtb  %[x3], %[x3], %[x2], asr #16\n\t"                                                                  \
    "sxtb16 %[r1], %[t0]\n\t" /* channel 0: pixels (f, f + 1) */                                               \
    "sxtb16 %[r2], %[t1]\n\t" /* channel 0: pixels (f + 2, f + 3) */                                           \
    "sxtb16 %[x0], %[t0], ror #8\n\t" /* channel 1 */                                                          \
    "sxtb16 %[x2], %[t1], ror #8\n\t"                                                                          \
    "sxtb16 %[t0], %[x1]\n\t" /* channel 2 */                                                                  \
    "sxtb16 %[t1], %[x3]\n\t"                                                                                  \
    "sxtb16 %[x1], %[x1], ror #8\n\t" /* channel 3 */                                                          \
    "sxtb16 %[x3], %[x3], ror #8\n\t"
#define DW_FILL_STORES_3 /* d: channel 1 */                                                                    \
    DW_FILL_WIDEN                                                                                              \
    "strd   %[r1], %[r2], [%[d], %[jm]]\n\t"                                                                   \
    "strd   %[t0], %[t1], [%[d], %[j1]]\n\t"                                                                   \
    "strd   %[x1], %[x3], [%[d], %[j2]]\n\t"                                                                   \
    "strd   %[x0], %[x2], [%[d]], #8\n\t"
#define DW_FILL_STORES_5 /* d: channel 0 */                                                                    \
    DW_FILL_WIDEN                                                                                              \
    "add    %[t2], %[d], %[j2]\n\t"                                                                            \
    "strd   %[t0], %[t1], [%[t2]]\n\t"                                                                         \
    "strd   %[x1], %[x3], [%[t2], %[j1]]\n\t"                                                                  \
    "strd   %[x0], %[x2], [%[d], %[j1]]\n\t"                                                                   \
    "strd   %[r1], %[r2], [%[d]], #8\n\t"
#define DW_FILL_STORES(K) DW_FILL_STORES_##K
#define DW_FILL_ASM(LOADS, K, CH)                                                                              \
    do {                                                                                                       \
        uint32_t x0, x1, x2, x3, t0, t1, t2, r1, r2;                                                           \
        int16_t *dd = d + (K == 3 ? 3 * NN_DW_PLANE : 0);                                                      \
        __asm__ volatile("1:\n\t" LOADS DW_FILL_STORES(K) "cmp    %[src], %[end]\n\t"                          \
                         "bne    1b"                                                                           \
                         : [src] "+r"(src), [d] "+r"(dd), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2),      \
                           [x3] "=&r"(x3), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [r1] "=&r"(r1),     \
                           [r2] "=&r"(r2)                                                                      \
                         : [ch] "r"(ch), [end] "r"(end), [c1] "i"(CH), [c2] "i"(2 * CH), [c3] "i"(3 * CH),     \
                           [c4] "i"(4 * CH), [j1] "i"(2 * K * NN_DW_PLANE), [j2] "i"(4 * K * NN_DW_PLANE),     \
                           [jm] "i"(-2 * K * NN_DW_PLANE)                                                      \
                         : "cc", "memory");                                                                    \
        d = dd - (K == 3 ? 3 * NN_DW_PLANE : 0);                                                               \
    } while (0)
#endif

/* Planes of channels c0..c0+3: K rows of fp elements, then 8 of slack, left as they are: a pass of
 * four pixels reads them only for accumulators beyond the row's outputs (never stored) or as the
 * unused half of a word. The words are written aligned to the padded row: four pixels per step,
 * two words per channel (STRD; the planes K rows apart, constant offsets from one pointer). */
static inline __attribute__((always_inline)) void dw_fill_planes(const nn_conv_t *p, const int8_t *const *rows,
                                                                 int c0, int K, int CH, int PAD, dw_planes_t *pl)
{
    /* CH, PAD: the channel count and padding as constants (0: read from p) */
    const int pad = PAD ? PAD : p->pad, ch = CH ? CH : p->cout, f_in = p->f_in, n = f_in + 2 * pad;
    const int16_t zp = (int16_t)p->zp_in;
    const int J = K * NN_DW_PLANE; /* int16 from one channel's planes to the next */
    const uint32_t zz = nn_pack_lo((uint32_t)zp, (uint32_t)zp), zp4 = 0x01010101u * (uint8_t)p->zp_in;
    for (int kt = 0; kt < K; ++kt) {
        int16_t *x = pl->x + kt * NN_DW_PLANE;
        if (!rows[kt]) { /* words: the last one may write an element of the slack */
            for (int f = 0; f < n; f += 2) {
                dw_store32(x + f, zz);
                dw_store32(x + J + f, zz);
                dw_store32(x + 2 * J + f, zz);
                dw_store32(x + 3 * J + f, zz);
            }
            continue;
        }
        if (pad <= 2) { /* a word per side and channel: the pixels (stored next) or the slack overwrite the rest */
            const int r = pad + f_in;
            dw_store32(x, zz);
            dw_store32(x + J, zz);
            dw_store32(x + 2 * J, zz);
            dw_store32(x + 3 * J, zz);
            dw_store32(x + r, zz);
            dw_store32(x + J + r, zz);
            dw_store32(x + 2 * J + r, zz);
            dw_store32(x + 3 * J + r, zz);
        } else {
            for (int f = 0; f < pad; ++f) {
                x[f] = x[J + f] = x[2 * J + f] = x[3 * J + f] = zp;
                x[n - 1 - f] = x[J + n - 1 - f] = x[2 * J + n - 1 - f] = x[3 * J + n - 1 - f] = zp;
            }
        }
        const int8_t *src = rows[kt] + c0;
        int f = 0, e = pad; /* next input pixel, its element in the padded row */
        if (e & 1) {        /* an odd padding: the first pixel alone, then aligned words */
            x[e] = src[0];
            x[J + e] = src[1];
            x[2 * J + e] = src[2];
            x[3 * J + e] = src[3];
            ++f, ++e, src += ch;
        }
        int16_t *d = x + e;
        const int8_t *const end = src + (size_t)((f_in - f) >> 2) * 4 * ch;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
        /* the loop below in Thumb-2 (GCC's C spills: 34 instructions per step where 22 to 25 do) */
        if (src != end) {
            if (K == 3 && ch == 8) DW_FILL_ASM(DW_FILL_LOADS_IMM, 3, 8);
            else if (K == 3 && ch == 16) DW_FILL_ASM(DW_FILL_LOADS_IMM, 3, 16);
            else if (K == 3) DW_FILL_ASM(DW_FILL_LOADS_REG, 3, 0);
            else if (ch == 8) DW_FILL_ASM(DW_FILL_LOADS_IMM, 5, 8);
            else if (ch == 16) DW_FILL_ASM(DW_FILL_LOADS_IMM, 5, 16);
            else DW_FILL_ASM(DW_FILL_LOADS_REG, 5, 0);
        }
#else
        for (; src != end; src += 4 * ch, d += 4) {
            /* four pixels of four channels -> two words (pixels f, f + 1), (f + 2, f + 3) per channel: the
             * bytes of two pixels paired first (channels 0, 1 and 2, 3), then widened */
            const uint32_t X0 = nn_load32(src), X1 = nn_load32(src + ch), X2 = nn_load32(src + 2 * ch),
                           X3 = nn_load32(src + 3 * ch);
            const uint32_t l01 = nn_pack_lo(X0, X1), h01 = nn_pack_hi(X0, X1), l23 = nn_pack_lo(X2, X3),
                           h23 = nn_pack_hi(X2, X3);
            nn_store2_at(d, 0, nn_sxtb16(l01), nn_sxtb16(l23));
            nn_store2_at(d, 2 * J, nn_sxtb16_ror8(l01), nn_sxtb16_ror8(l23));
            nn_store2_at(d, 4 * J, nn_sxtb16(h01), nn_sxtb16(h23));
            nn_store2_at(d, 6 * J, nn_sxtb16_ror8(h01), nn_sxtb16_ror8(h23));
        }
#endif
        nn_mem_barrier(); /* the asm stores above name no memory */
        f += (f_in - f) & ~3;
        /* three pixels left and then padding (mn01's 3 x 3 rows, padding 1): one step more, its fourth pixel
         * zp_in (5 x 5: not worth the registers) */
        if (K == 3 && f_in - f == 3 && pad >= 1) {
            const uint32_t X0 = nn_load32(src), X1 = nn_load32(src + ch), X2 = nn_load32(src + 2 * ch);
            const uint32_t l01 = nn_pack_lo(X0, X1), h01 = nn_pack_hi(X0, X1), l23 = nn_pack_lo(X2, zp4),
                           h23 = nn_pack_hi(X2, zp4);
            dw_store32(d, nn_sxtb16(l01));
            dw_store32(d + 2, nn_sxtb16(l23));
            dw_store32(d + J, nn_sxtb16_ror8(l01));
            dw_store32(d + J + 2, nn_sxtb16_ror8(l23));
            dw_store32(d + 2 * J, nn_sxtb16(h01));
            dw_store32(d + 2 * J + 2, nn_sxtb16(h23));
            dw_store32(d + 3 * J, nn_sxtb16_ror8(h01));
            dw_store32(d + 3 * J + 2, nn_sxtb16_ror8(h23));
            continue;
        }
        for (; f < f_in; ++f, ++d, src += ch) {
            d[0] = src[0];
            d[J] = src[1];
            d[2 * J] = src[2];
            d[3 * J] = src[3];
        }
    }
}

/* One function per kernel size. */
static __attribute__((noinline)) void dw_fill_3(const nn_conv_t *p, const int8_t *const *rows, int c0, dw_planes_t *pl)
{
    /* mn01's B1-B3 (8 channels, padding 1) with their offsets as constants: GCC keeps fewer on the stack */
    if (p->cout == 8 && p->pad == 1) dw_fill_planes(p, rows, c0, 3, 8, 1, pl);
    else dw_fill_planes(p, rows, c0, 3, 0, 0, pl);
}

static __attribute__((noinline)) void dw_fill_5(const nn_conv_t *p, const int8_t *const *rows, int c0, dw_planes_t *pl)
{
    /* mn01's B5, B6 (16 channels, padding 2), as dw_fill_3 */
    if (p->cout == 16 && p->pad == 2) dw_fill_planes(p, rows, c0, 5, 16, 2, pl);
    else dw_fill_planes(p, rows, c0, 5, 0, 0, pl);
}

/* One pass: the accumulators of four output pixels of one channel from its planes (r: the first
 * element the pass reads, 4-byte aligned), with the words W of dw_group_setup. Stride 1: pixel j + 1
 * reads the words of pixel j one element on (the odd last tap of pixels 2i and 2i + 1 is the
 * bottom and top of one word); stride 2: each pixel starts a word. The weight words are re-read
 * per pass (one LDRD or two per kernel row): they do not fit in registers next to the pass. */
/* Kernel row KT of a pass (a macro: the weight words' offsets are constants at any optimization level). */
#define DW_PASS_ROW(KT)                                                                                        \
    do {                                                                                                       \
        const uint32_t *row = (const uint32_t *)(const void *)(r + (KT) * NN_DW_ROWB);                         \
        uint32_t d0, d1, d2, d3, d4, d5, P, Q, P1, Q1;                                                         \
        if (K == 3) /* the offsets spelled with a literal K: constants at -O0 too */                           \
            nn_load2_fresh(cc, DW_W_OFF(3, KT, 0), P, Q);                                                      \
        else                                                                                                   \
            nn_load2_fresh(cc, DW_W_OFF(5, KT, 0), P, Q);                                                      \
        if (K == 3 && S == 1) { /* P = (w0, w1), Q = (w1, w2) */                                               \
            nn_load2(row, &d0, &d1);                                                                           \
            d2 = row[2];                                                                                       \
            a0 = nn_smlabt(d1, Q, nn_smlad(d0, P, a0));                                                        \
            a1 = nn_smlad(d1, Q, nn_smlatb(d0, P, a1));                                                        \
            a2 = nn_smlabt(d2, Q, nn_smlad(d1, P, a2));                                                        \
            a3 = nn_smlad(d2, Q, nn_smlatb(d1, P, a3));                                                        \
        } else if (K == 5 && S == 1) { /* P = (w0, w1), Q = (w2, w3), P1 = (w1, w2), Q1 = (w3, w4) */          \
            nn_load2_fresh(cc, DW_W_OFF(5, KT, 2), P1, Q1);                                                    \
            nn_load2(row, &d0, &d1);                                                                           \
            nn_load2(row + 2, &d2, &d3);                                                                       \
            a0 = nn_smlabt(d2, Q1, nn_smlad(d1, Q, nn_smlad(d0, P, a0)));                                      \
            a1 = nn_smlad(d2, Q1, nn_smlad(d1, P1, nn_smlatb(d0, P, a1)));                                     \
            a2 = nn_smlabt(d3, Q1, nn_smlad(d2, Q, nn_smlad(d1, P, a2)));                                      \
            a3 = nn_smlad(d3, Q1, nn_smlad(d2, P1, nn_smlatb(d1, P, a3)));                                     \
        } else if (K == 3) { /* stride 2: P = (w0, w1), Q = (w2, 0) */                                         \
            nn_load2(row, &d0, &d1);                                                                           \
            nn_load2(row + 2, &d2, &d3);                                                                       \
            d4 = row[4];                                                                                       \
            a0 = nn_smlabb(d1, Q, nn_smlad(d0, P, a0));                                                        \
            a1 = nn_smlabb(d2, Q, nn_smlad(d1, P, a1));                                                        \
            a2 = nn_smlabb(d3, Q, nn_smlad(d2, P, a2));                                                        \
            a3 = nn_smlabb(d4, Q, nn_smlad(d3, P, a3));                                                        \
        } else { /* 5 x 5, stride 2: P = (w0, w1), Q = (w2, w3), P1 = (w4, 0) */                               \
            nn_load2_fresh(cc, DW_W_OFF(5, KT, 2), P1, Q1); /* Q1: unused */                                   \
            nn_load2(row, &d0, &d1);                                                                           \
            nn_load2(row + 2, &d2, &d3);                                                                       \
            nn_load2(row + 4, &d4, &d5);                                                                       \
            a0 = nn_smlabb(d2, P1, nn_smlad(d1, Q, nn_smlad(d0, P, a0)));                                      \
            a1 = nn_smlabb(d3, P1, nn_smlad(d2, Q, nn_smlad(d1, P, a1)));                                      \
            a2 = nn_smlabb(d4, P1, nn_smlad(d3, Q, nn_smlad(d2, P, a2)));                                      \
            a3 = nn_smlabb(d5, P1, nn_smlad(d4, Q, nn_smlad(d3, P, a3)));                                      \
        }                                                                                                      \
        (void)d3, (void)d4, (void)d5, (void)P1, (void)Q1;                                                      \
    } while (0)

static inline __attribute__((always_inline)) void dw_pass(const uint8_t *r, const dw_chan_t *cc, int K, int S,
                                                          int32_t *a)
{
    int32_t a0 = cc->bias2, a1 = a0, a2 = a0, a3 = a0;
    DW_PASS_ROW(0);
    DW_PASS_ROW(1);
    DW_PASS_ROW(2);
    if (K == 5) {
        DW_PASS_ROW(3);
        DW_PASS_ROW(4);
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}

/* The first n (1..4) accumulators of a pass to out, out + ch, ... (o2 = out + 2 * ch: every store
 * one STRB with a register offset). */
static inline __attribute__((always_inline)) void dw_pass_out(const int32_t *a, int n, const dw_chan_t *cc,
                                                              nn_out_t o, int kind, int8_t *out, int8_t *o2, int ch)
{
    uint32_t mult, c;
    nn_load2_fresh(cc, (int)offsetof(dw_chan_t, q.mult), mult, c);
    nn_rqz_t q;
    q.mult = (int32_t)mult;
    q.c = (int32_t)c;
    q.rsh = cc->q.rsh;
    out[0] = nn_outz_k(nn_rqz_apply(a[0], q), o, kind);
    if (n > 1) out[ch] = nn_outz_k(nn_rqz_apply(a[1], q), o, kind);
    if (n > 2) o2[0] = nn_outz_k(nn_rqz_apply(a[2], q), o, kind);
    if (n > 3) o2[ch] = nn_outz_k(nn_rqz_apply(a[3], q), o, kind);
}

/* The eight-pixel passes take 13 registers: only where GCC optimizes (without optimization it
 * cannot allocate them: a debug build takes the C passes). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
#define DW_OCTETS 1
#else
#define DW_OCTETS 0
#endif

#if DW_OCTETS
/* 3 x 3 with no activation (mn01's B1-B3): passes of eight pixels in Thumb-2, the words of dw_pass.
 * Eight accumulators, two data words and the row's two weight words: 13 registers (a frame pointer
 * may keep the 14th); the constants, the output pointer and the end are read from the stack (fr).
 * Per pass 114 (stride 1) and 120 (stride 2) instructions where two passes of dw_pass take 126 and
 * 132. */
/* The eight accumulators' output stage (fast requantization: SMMLAR, sign, shift, SSAT; pixels ch
 * bytes apart), the input advanced by STEP bytes and the loop test: the end of both strides' passes. */
#define DW_K3_STORE8(STEP) \
    "ldrd   %[P], %[Q], %[mc]\n\t" \
    "ldr    %[d1], %[out]\n\t" \
    "smmlar %[d0], %[a0], %[P], %[Q]\n\t" \
    "add    %[d0], %[d0], %[a0], asr #31\n\t" \
    "ldr    %[a0], %[rsh]\n\t" \
    "asr    %[d0], %[d0], %[a0]\n\t" \
    "ssat   %[d0], #8, %[d0]\n\t" \
    "strb   %[d0], [%[d1]]\n\t" \
    "smmlar %[d0], %[a1], %[P], %[Q]\n\t" \
    "add    %[d0], %[d0], %[a1], asr #31\n\t" \
    "ldr    %[a1], %[ch]\n\t" \
    "asr    %[d0], %[d0], %[a0]\n\t" \
    "ssat   %[d0], #8, %[d0]\n\t" \
    "strb   %[d0], [%[d1], %[a1]]\n\t" \
    "add    %[d1], %[d1], %[a1], lsl #1\n\t" \
    "smmlar %[d0], %[a2], %[P], %[Q]\n\t" \
    "add    %[d0], %[d0], %[a2], asr #31\n\t" \
    "asr    %[d0], %[d0], %[a0]\n\t" \
    "ssat   %[d0], #8, %[d0]\n\t" \
    "strb   %[d0], [%[d1]]\n\t" \
    "smmlar %[d0], %[a3], %[P], %[Q]\n\t" \
    "add    %[d0], %[d0], %[a3], asr #31\n\t" \
    "asr    %[d0], %[d0], %[a0]\n\t" \
    "ssat   %[d0], #8, %[d0]\n\t" \
    "strb   %[d0], [%[d1], %[a1]]\n\t" \
    "add    %[d1], %[d1], %[a1], lsl #1\n\t" \
    "smmlar %[d0], %[a4], %[P], %[Q]\n\t" \
    "add    %[d0], %[d0], %[a4], asr #31\n\t" \
    "asr    %[d0], %[d0], %[a0]\n\t" \
    "ssat   %[d0], #8, %[d0]\n\t" \
    "strb   %[d0], [%[d1]]\n\t" \
    "smmlar %[d0], %[a5], %[P], %[Q]\n\t" \
    "add    %[d0], %[d0], %[a5], asr #31\n\t" \
    "asr    %[d0], %[d0], %[a0]\n\t" \
    "ssat   %[d0], #8, %[d0]\n\t" \
    "strb   %[d0], [%[d1], %[a1]]\n\t" \
    "add    %[d1], %[d1], %[a1], lsl #1\n\t" \
    "smmlar %[d0], %[a6], %[P], %[Q]\n\t" \
    "add    %[d0], %[d0], %[a6], asr #31\n\t" \
    "asr    %[d0], %[d0], %[a0]\n\t" \
    "ssat   %[d0], #8, %[d0]\n\t" \
    "strb   %[d0], [%[d1]]\n\t" \
    "smmlar %[d0], %[a7], %[P], %[Q]\n\t" \
    "add    %[d0], %[d0], %[a7], asr #31\n\t" \
    "asr    %[d0], %[d0], %[a0]\n\t" \
    "ssat   %[d0], #8, %[d0]\n\t" \
    "strb   %[d0], [%[d1], %[a1]]\n\t" \
    "add    %[d1], %[d1], %[a1], lsl #1\n\t" \
    "str    %[d1], %[out]\n\t" \
    "add    %[r], %[r], #" #STEP "\n\t" \
    "ldr    %[d0], %[end]\n\t" \
    "cmp    %[r], %[d0]\n\t" \
    "bne    1b"
/* Their operands: the accumulators, data and weight registers; the frame's words in memory. */
#define DW_K3_OPERANDS \
    : [r] "+r"(r), [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [a4] "=&r"(a4), \
    [a5] "=&r"(a5), [a6] "=&r"(a6), [a7] "=&r"(a7), [d0] "=&r"(d0), [d1] "=&r"(d1), [P] "=&r"(P), \
    [Q] "=&r"(Q), [out] "+m"(fr.out) \
    : [w0] "m"(fr.k.w[0]), [w1] "m"(fr.k.w[1]), [w2] "m"(fr.k.w[2]), [bias] "m"(fr.k.bias2), \
    [mc] "m"(fr.k.q.mult), [rsh] "m"(fr.k.q.rsh), [ch] "m"(fr.ch), [end] "m"(fr.end), "m"(fr.k.q.c) \
    : "cc", "memory"

typedef struct { /* a 3 x 3 channel's record (dw_chan_t) */
    int32_t bias2;
    nn_rqz_t q;
    uint32_t w[3][DW_RW(3)];
} dw_chan3_t;

typedef struct {
    dw_chan3_t k; /* the channel's record: one block copy */
    int32_t ch;
    int8_t *out;
    const uint8_t *end;
} dw_k3_frame_t;

static inline __attribute__((always_inline)) const uint8_t *dw_k3_octets(const uint8_t *r, const dw_chan_t *cc,
                                                                        int ch, int8_t **out, int n8, int S)
{
    dw_k3_frame_t fr;
    fr.k = *(const dw_chan3_t *)(const void *)cc;
    fr.ch = ch;
    fr.out = *out;
    fr.end = r + 16 * S * n8;
    uint32_t a0, a1, a2, a3, a4, a5, a6, a7, d0, d1, P, Q;
    if (S == 1)
        __asm__ volatile(
                    "1:\n\t"
                    "ldr    %[a7], %[bias]\n\t"
                    "ldrd   %[P], %[Q], %[w0]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #0]\n\t"
                    "smlad  %[a0], %[d0], %[P], %[a7]\n\t"
                    "smlatb %[a1], %[d0], %[P], %[a7]\n\t"
                    "smlad  %[a2], %[d1], %[P], %[a7]\n\t"
                    "smlatb %[a3], %[d1], %[P], %[a7]\n\t"
                    "smlabt %[a0], %[d1], %[Q], %[a0]\n\t"
                    "smlad  %[a1], %[d1], %[Q], %[a1]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #8]\n\t"
                    "smlabt %[a2], %[d0], %[Q], %[a2]\n\t"
                    "smlad  %[a3], %[d0], %[Q], %[a3]\n\t"
                    "smlad  %[a4], %[d0], %[P], %[a7]\n\t"
                    "smlatb %[a5], %[d0], %[P], %[a7]\n\t"
                    "smlad  %[a6], %[d1], %[P], %[a7]\n\t"
                    "smlatb %[a7], %[d1], %[P], %[a7]\n\t"
                    "smlabt %[a4], %[d1], %[Q], %[a4]\n\t"
                    "smlad  %[a5], %[d1], %[Q], %[a5]\n\t"
                    "ldr    %[d0], [%[r], #16]\n\t"
                    "smlabt %[a6], %[d0], %[Q], %[a6]\n\t"
                    "smlad  %[a7], %[d0], %[Q], %[a7]\n\t"
                    "ldrd   %[P], %[Q], %[w1]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #152]\n\t"
                    "smlad  %[a0], %[d0], %[P], %[a0]\n\t"
                    "smlatb %[a1], %[d0], %[P], %[a1]\n\t"
                    "smlad  %[a2], %[d1], %[P], %[a2]\n\t"
                    "smlatb %[a3], %[d1], %[P], %[a3]\n\t"
                    "smlabt %[a0], %[d1], %[Q], %[a0]\n\t"
                    "smlad  %[a1], %[d1], %[Q], %[a1]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #160]\n\t"
                    "smlabt %[a2], %[d0], %[Q], %[a2]\n\t"
                    "smlad  %[a3], %[d0], %[Q], %[a3]\n\t"
                    "smlad  %[a4], %[d0], %[P], %[a4]\n\t"
                    "smlatb %[a5], %[d0], %[P], %[a5]\n\t"
                    "smlad  %[a6], %[d1], %[P], %[a6]\n\t"
                    "smlatb %[a7], %[d1], %[P], %[a7]\n\t"
                    "smlabt %[a4], %[d1], %[Q], %[a4]\n\t"
                    "smlad  %[a5], %[d1], %[Q], %[a5]\n\t"
                    "ldr    %[d0], [%[r], #168]\n\t"
                    "smlabt %[a6], %[d0], %[Q], %[a6]\n\t"
                    "smlad  %[a7], %[d0], %[Q], %[a7]\n\t"
                    "ldrd   %[P], %[Q], %[w2]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #304]\n\t"
                    "smlad  %[a0], %[d0], %[P], %[a0]\n\t"
                    "smlatb %[a1], %[d0], %[P], %[a1]\n\t"
                    "smlad  %[a2], %[d1], %[P], %[a2]\n\t"
                    "smlatb %[a3], %[d1], %[P], %[a3]\n\t"
                    "smlabt %[a0], %[d1], %[Q], %[a0]\n\t"
                    "smlad  %[a1], %[d1], %[Q], %[a1]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #312]\n\t"
                    "smlabt %[a2], %[d0], %[Q], %[a2]\n\t"
                    "smlad  %[a3], %[d0], %[Q], %[a3]\n\t"
                    "smlad  %[a4], %[d0], %[P], %[a4]\n\t"
                    "smlatb %[a5], %[d0], %[P], %[a5]\n\t"
                    "smlad  %[a6], %[d1], %[P], %[a6]\n\t"
                    "smlatb %[a7], %[d1], %[P], %[a7]\n\t"
                    "smlabt %[a4], %[d1], %[Q], %[a4]\n\t"
                    "smlad  %[a5], %[d1], %[Q], %[a5]\n\t"
                    "ldr    %[d0], [%[r], #320]\n\t"
                    "smlabt %[a6], %[d0], %[Q], %[a6]\n\t"
                    "smlad  %[a7], %[d0], %[Q], %[a7]\n\t"
                    DW_K3_STORE8(16)
                    DW_K3_OPERANDS);
    else
        __asm__ volatile(
                    "1:\n\t"
                    "ldr    %[a7], %[bias]\n\t"
                    "ldrd   %[P], %[Q], %[w0]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #0]\n\t"
                    "smlad  %[a0], %[d0], %[P], %[a7]\n\t"
                    "smlabb %[a0], %[d1], %[Q], %[a0]\n\t"
                    "smlad  %[a1], %[d1], %[P], %[a7]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #8]\n\t"
                    "smlabb %[a1], %[d0], %[Q], %[a1]\n\t"
                    "smlad  %[a2], %[d0], %[P], %[a7]\n\t"
                    "smlabb %[a2], %[d1], %[Q], %[a2]\n\t"
                    "smlad  %[a3], %[d1], %[P], %[a7]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #16]\n\t"
                    "smlabb %[a3], %[d0], %[Q], %[a3]\n\t"
                    "smlad  %[a4], %[d0], %[P], %[a7]\n\t"
                    "smlabb %[a4], %[d1], %[Q], %[a4]\n\t"
                    "smlad  %[a5], %[d1], %[P], %[a7]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #24]\n\t"
                    "smlabb %[a5], %[d0], %[Q], %[a5]\n\t"
                    "smlad  %[a6], %[d0], %[P], %[a7]\n\t"
                    "smlabb %[a6], %[d1], %[Q], %[a6]\n\t"
                    "smlad  %[a7], %[d1], %[P], %[a7]\n\t"
                    "ldr    %[d0], [%[r], #32]\n\t"
                    "smlabb %[a7], %[d0], %[Q], %[a7]\n\t"
                    "ldrd   %[P], %[Q], %[w1]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #152]\n\t"
                    "smlad  %[a0], %[d0], %[P], %[a0]\n\t"
                    "smlabb %[a0], %[d1], %[Q], %[a0]\n\t"
                    "smlad  %[a1], %[d1], %[P], %[a1]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #160]\n\t"
                    "smlabb %[a1], %[d0], %[Q], %[a1]\n\t"
                    "smlad  %[a2], %[d0], %[P], %[a2]\n\t"
                    "smlabb %[a2], %[d1], %[Q], %[a2]\n\t"
                    "smlad  %[a3], %[d1], %[P], %[a3]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #168]\n\t"
                    "smlabb %[a3], %[d0], %[Q], %[a3]\n\t"
                    "smlad  %[a4], %[d0], %[P], %[a4]\n\t"
                    "smlabb %[a4], %[d1], %[Q], %[a4]\n\t"
                    "smlad  %[a5], %[d1], %[P], %[a5]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #176]\n\t"
                    "smlabb %[a5], %[d0], %[Q], %[a5]\n\t"
                    "smlad  %[a6], %[d0], %[P], %[a6]\n\t"
                    "smlabb %[a6], %[d1], %[Q], %[a6]\n\t"
                    "smlad  %[a7], %[d1], %[P], %[a7]\n\t"
                    "ldr    %[d0], [%[r], #184]\n\t"
                    "smlabb %[a7], %[d0], %[Q], %[a7]\n\t"
                    "ldrd   %[P], %[Q], %[w2]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #304]\n\t"
                    "smlad  %[a0], %[d0], %[P], %[a0]\n\t"
                    "smlabb %[a0], %[d1], %[Q], %[a0]\n\t"
                    "smlad  %[a1], %[d1], %[P], %[a1]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #312]\n\t"
                    "smlabb %[a1], %[d0], %[Q], %[a1]\n\t"
                    "smlad  %[a2], %[d0], %[P], %[a2]\n\t"
                    "smlabb %[a2], %[d1], %[Q], %[a2]\n\t"
                    "smlad  %[a3], %[d1], %[P], %[a3]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #320]\n\t"
                    "smlabb %[a3], %[d0], %[Q], %[a3]\n\t"
                    "smlad  %[a4], %[d0], %[P], %[a4]\n\t"
                    "smlabb %[a4], %[d1], %[Q], %[a4]\n\t"
                    "smlad  %[a5], %[d1], %[P], %[a5]\n\t"
                    "ldrd   %[d0], %[d1], [%[r], #328]\n\t"
                    "smlabb %[a5], %[d0], %[Q], %[a5]\n\t"
                    "smlad  %[a6], %[d0], %[P], %[a6]\n\t"
                    "smlabb %[a6], %[d1], %[Q], %[a6]\n\t"
                    "smlad  %[a7], %[d1], %[P], %[a7]\n\t"
                    "ldr    %[d0], [%[r], #336]\n\t"
                    "smlabb %[a7], %[d0], %[Q], %[a7]\n\t"
                    DW_K3_STORE8(32)
                    DW_K3_OPERANDS);
    *out = fr.out;
    return r;
}
#endif

/* One channel's output row from its planes x[kt][.]; out: the channel's first output, ch bytes per pixel. */
static inline __attribute__((always_inline)) void dw_planar_channel(const int16_t (*x)[NN_DW_PLANE],
                                                                    const dw_chan_t *cc, int f_out, int ch, int K,
                                                                    int S, nn_out_t o, int kind, int8_t *out)
{
    const uint8_t *r = (const uint8_t *)(const void *)x[0];
#if DW_OCTETS
    if (K == 3 && kind == NN_OUT_PLAIN && f_out >= 8) {
        r = dw_k3_octets(r, cc, ch, &out, f_out >> 3, S);
        f_out &= 7;
    }
#endif
    int8_t *o2 = out + 2 * ch;
    const uint8_t *const end = r + 8 * S * (f_out >> 2);
    for (; r != end; r += 8 * S, out += 4 * ch, o2 += 4 * ch) {
        int32_t a[4];
        dw_pass(r, cc, K, S, a);
        dw_pass_out(a, 4, cc, o, kind, out, o2, ch);
    }
    if (f_out & 3) {
        int32_t a[4];
        dw_pass(r, cc, K, S, a);
        dw_pass_out(a, f_out & 3, cc, o, kind, out, o2, ch);
    }
}

/* The set-up of a group, one function per kernel and stride (shared by the output stages). */
#define NN_DW_SETUP_FN(K, S)                                                                                   \
    static __attribute__((noinline)) void dw_setup_##K##_##S(const nn_conv_t *p, int c0, uint32_t *recs)      \
    {                                                                                                          \
        dw_group_setup(p, c0, K, S, recs);                                                                     \
    }
NN_DW_SETUP_FN(3, 1)
NN_DW_SETUP_FN(3, 2)
NN_DW_SETUP_FN(5, 1)
NN_DW_SETUP_FN(5, 2)

/* Channels c0..c0+3 (all in the fast requantization) of the output row, their records at cc. */
static inline __attribute__((always_inline)) void dw_planar_group(const nn_conv_t *p, const dw_planes_t *pl, int c0,
                                                                  const dw_chan_t *cc, const nn_out_t *o, int K,
                                                                  int S, int kind, int8_t *out)
{
    const int ch = p->cout, f_out = p->f_out;
    const nn_out_t oo = *o;
    out += c0;
    for (int j = 0; j < 4; ++j) {
        const int16_t(*x)[NN_DW_PLANE] = (const int16_t(*)[NN_DW_PLANE])(const void *)(pl->x + j * K * NN_DW_PLANE);
        dw_planar_channel(x, dw_chan_at(cc, j, K), f_out, ch, K, S, oo, kind, out + j);
    }
}

/* One function per kernel, stride and output stage: each gets its own register allocation. */
#define NN_DW_PLANAR_FN(K, S, KIND)                                                                            \
    static __attribute__((noinline)) void dw_planar_##K##_##S##_##KIND(const nn_conv_t *p, const dw_planes_t *pl, \
                                                                       int c0, const dw_chan_t *cc,            \
                                                                       const nn_out_t *o, int8_t *out)         \
    {                                                                                                          \
        dw_planar_group(p, pl, c0, cc, o, K, S, KIND, out);                                                    \
    }
/* mn01's output stages (no clamp: its ReLU is the zero point -128; the hard-swish table), reached
 * through the export-time variants only (nn_kernels.h, NN_CONV_VARIANTS): the general kernel takes
 * the window path. */
#define NN_DW_PLANAR_FNS(K, S) NN_DW_PLANAR_FN(K, S, NN_OUT_PLAIN) NN_DW_PLANAR_FN(K, S, NN_OUT_LUT)
NN_DW_PLANAR_FNS(3, 1)
NN_DW_PLANAR_FNS(3, 2)
NN_DW_PLANAR_FNS(5, 1)
NN_DW_PLANAR_FNS(5, 2)

typedef void (*dw_planar_fn)(const nn_conv_t *, const dw_planes_t *, int, const dw_chan_t *, const nn_out_t *,
                             int8_t *);

/* The planar path takes rows of 16 outputs or more (mn01's B1-B6: 2.2-3.6 instructions per MAC on
 * qemu-an386); shorter rows take the window path (measured before the planar path's passes were
 * fused: 8.0 vs 6.2 on B7-B12). */
static int dw_planar_fits(const nn_conv_t *p)
{
    return (p->k == 3 || p->k == 5) && (p->stride == 1 || p->stride == 2) && p->f_out >= 16 &&
           p->f_in + 2 * p->pad + 8 <= NN_DW_PLANE;
}

static __attribute__((noinline)) void dw_planar_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out,
                                                   dw_planar_fn fn)
{
    const int ch = p->cout, m4 = ch & ~3, words = DW_CHAN_WORDS(p->k);
    const uint32_t *const prep = (const uint32_t *)p->prep; /* every channel's record, or NULL */
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    dw_planes_t pl;
    uint32_t recs[4 * DW_CHAN_WORDS(NN_DW_K_MAX)] __attribute__((aligned(8)));
    for (int c0 = 0; c0 < ch; c0 += 4) {
        const uint32_t *cc = prep ? prep + c0 * words : recs;
        if (!prep) { /* the records of this group, or the plain path */
            const int c1 = c0 + 4 <= m4 ? c0 + 4 : ch;
            int fast = c1 - c0 == 4;
            for (int c = c0; c < c1; ++c) fast &= nn_rqz_ok(p->mult[c], p->shift[c]);
            if (!fast) {
                dw_plain_channels(p, rows, c0, c1, out);
                continue;
            }
            if (p->k == 3 && p->stride == 1) dw_setup_3_1(p, c0, recs);
            else if (p->k == 3) dw_setup_3_2(p, c0, recs);
            else if (p->stride == 1) dw_setup_5_1(p, c0, recs);
            else dw_setup_5_2(p, c0, recs);
            nn_mem_barrier(); /* the records are read by volatile asm loads that do not name them */
        }
        if (p->k == 3) dw_fill_3(p, rows, c0, &pl);
        else dw_fill_5(p, rows, c0, &pl);
        fn(p, &pl, c0, (const dw_chan_t *)(const void *)cc, &o, out);
    }
}

/* The doubled (SXTB16-order) weights of four channels, T taps ch bytes apart, and their sums
 * (int16 lanes: |sum| <= 25 * 128). */
static inline __attribute__((always_inline)) void dw_widen(const int8_t *wp, int ch, int T, uint32_t *dst,
                                                           uint32_t *sum)
{
    uint32_t sa = 0, sb = 0;
    _Pragma("GCC unroll 5") for (int t = 0; t < T; ++t, wp += ch, dst += NN_DW_CHUNK / 2) {
        const uint32_t W = nn_load32(wp);
        const uint32_t a = nn_sxtb16(W), b = nn_sxtb16_ror8(W);
        dst[0] = nn_sadd16(a, a);
        dst[1] = nn_sadd16(b, b);
        sa = nn_sadd16(sa, a);
        sb = nn_sadd16(sb, b);
    }
    sum[0] = sa;
    sum[1] = sb;
}

#define NN_DW_CASE(K, KIND) dw_pixels(&ck, win, row_stride, step, f_out, ch, m4, K, o, KIND, out + c0)

void nn_depthwise_conv2d_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)
{
    const int k = p->k, s = p->stride, pad = p->pad, ch = p->cout, f_in = p->f_in, f_out = p->f_out;
    const int fp = f_in + 2 * pad; /* padded row width */
    if (k > NN_DW_K_MAX || (size_t)k * fp * NN_DW_CHUNK > NN_DW_WINDOW_MAX) {
        for (int fo = 0; fo < f_out; ++fo) dw_edge_pixel_plain(p, rows, fo, out + (size_t)fo * ch);
        return;
    }
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    const int kind = nn_out_kind(p->act_min, p->act_max, p->lut);
    const uint32_t zp4 = 0x01010101u * (uint8_t)p->zp_in;
    dw_chunk_t ck;
    int8_t win[NN_DW_WINDOW_MAX] __attribute__((aligned(4)));
    for (int c0 = 0; c0 < ch; c0 += NN_DW_CHUNK) {
        const int m = ch - c0 < NN_DW_CHUNK ? ch - c0 : NN_DW_CHUNK, m4 = m & ~3;
        /* widened weights, and their sums per channel in int16 lanes (|sum| <= 25 * 128) */
        for (int j = 0; j < m4; j += 4) {
            uint32_t sum[2];
            const int8_t *wp = p->weights + c0 + j;
            uint32_t *dst = &ck.w[0][j / 2];
            if (k == 3) dw_widen(wp, ch, 9, dst, sum); /* the tap count a constant: the loop unrolls */
            else if (k == 5) dw_widen(wp, ch, 25, dst, sum);
            else dw_widen(wp, ch, k * k, dst, sum);
            const uint32_t sa = sum[0], sb = sum[1];
            const int32_t *bias = p->bias + c0 + j;
            ck.bias_in[j] = 2 * (bias[0] - p->zp_in * (int16_t)(sa & 0xffffu));
            ck.bias_in[j + 1] = 2 * (bias[1] - p->zp_in * (int16_t)(sb & 0xffffu));
            ck.bias_in[j + 2] = 2 * (bias[2] - p->zp_in * (int16_t)(sa >> 16));
            ck.bias_in[j + 3] = 2 * (bias[3] - p->zp_in * (int16_t)(sb >> 16));
        }
        int fast = 1;
        for (int j = 0; j < m; ++j) {
            ck.rqz[j] = nn_rqz_make(p->mult[c0 + j], p->shift[c0 + j], p->zp_out);
            fast &= nn_rqz_ok(p->mult[c0 + j], p->shift[c0 + j]);
        }
        if (!fast) { /* a channel with a left shift or a tiny multiplier: the plain path */
            for (int fo = 0; fo < f_out; ++fo) dw_edge_pixel(p, rows, fo, c0, 0, m, o, out + (size_t)fo * ch);
            continue;
        }
        /* The window of this chunk: k rows of fp pixels, padding (and missing rows) = zp_in; the
         * pixels' first m4 channels are what the pixel loop reads. Words: short rows, no calls. */
        for (int kt = 0; kt < k; ++kt) {
            uint32_t *wr = (uint32_t *)(void *)(win + (size_t)kt * fp * NN_DW_CHUNK);
            if (!rows[kt]) {
                for (int i = 0; i < fp * (NN_DW_CHUNK / 4); ++i) wr[i] = zp4;
                continue;
            }
            for (int i = 0; i < pad * (NN_DW_CHUNK / 4); ++i) {
                wr[i] = zp4;
                wr[(pad + f_in) * (NN_DW_CHUNK / 4) + i] = zp4;
            }
            const int8_t *src = rows[kt] + c0;
            uint32_t *dst = wr + pad * (NN_DW_CHUNK / 4);
            if (m4 == NN_DW_CHUNK) { /* a whole chunk: one pixel = four words, no inner loop */
                for (int f = 0; f < f_in; ++f, src += ch, dst += NN_DW_CHUNK / 4) {
                    const uint32_t v0 = nn_load32(src), v1 = nn_load32(src + 4), v2 = nn_load32(src + 8),
                                   v3 = nn_load32(src + 12);
                    dst[0] = v0;
                    dst[1] = v1;
                    dst[2] = v2;
                    dst[3] = v3;
                }
            } else if (m4 == 8) { /* the last chunk of 24 channels (mn01's B7-B10) */
                for (int f = 0; f < f_in; ++f, src += ch, dst += NN_DW_CHUNK / 4) {
                    const uint32_t v0 = nn_load32(src), v1 = nn_load32(src + 4);
                    dst[0] = v0;
                    dst[1] = v1;
                }
            } else {
                for (int f = 0; f < f_in; ++f, src += ch, dst += NN_DW_CHUNK / 4) {
                    for (int j = 0; j < m4; j += 4) dst[j / 4] = nn_load32(src + j);
                }
            }
        }
        const int row_stride = fp * NN_DW_CHUNK, step = s * NN_DW_CHUNK;
        /* the output stage mn01 uses on these short rows (hard-swish, a table); others take the general one */
        if (k == 3 && kind == NN_OUT_LUT) NN_DW_CASE(3, NN_OUT_LUT);
        else if (k == 5 && kind == NN_OUT_LUT) NN_DW_CASE(5, NN_OUT_LUT);
        else NN_DW_CASE(k, NN_OUT_ANY);
        if (m4 < m) {
            for (int fo = 0; fo < f_out; ++fo) dw_edge_pixel(p, rows, fo, c0, m4, m, o, out + (size_t)fo * ch);
        }
    }
}

void nn_depthwise_conv2d(const nn_conv_t *p, const int8_t *in, int t_in, int8_t *out)
{
    const int8_t *rows[NN_MAX_K];
    const int t_out = nn_out_size(t_in, p->k, p->stride, p->pad);
    const size_t in_row = (size_t)p->f_in * p->cin, out_row = (size_t)p->f_out * p->cout;
    for (int to = 0; to < t_out; ++to, out += out_row) {
        nn_input_rows(in, t_in, in_row, to * p->stride - p->pad, p->k, rows);
        nn_depthwise_conv2d_row(p, rows, out);
    }
}

/* The export-time instances (nn_kernels.h, NN_CONV_VARIANTS): the general kernel where the op is
 * not of the instance's shape. */
#define NN_DW_ROW(K, S, KIND, NAME)                                                                            \
    void NAME(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)                                      \
    {                                                                                                          \
        if (p->k == K && p->stride == S && dw_planar_fits(p) && nn_out_kind(p->act_min, p->act_max, p->lut) == KIND) \
            dw_planar_row(p, rows, out, dw_planar_##K##_##S##_##KIND);                                         \
        else                                                                                                   \
            nn_depthwise_conv2d_row(p, rows, out);                                                             \
    }
#define NN_DW_ROWS(K, S)                                                                                       \
    NN_DW_ROW(K, S, NN_OUT_PLAIN, nn_dw##K##s##S##_plain_row) NN_DW_ROW(K, S, NN_OUT_LUT, nn_dw##K##s##S##_lut_row)
NN_DW_ROWS(3, 1)
NN_DW_ROWS(3, 2)
NN_DW_ROWS(5, 1)
NN_DW_ROWS(5, 2)

/* ---- Short rows (mn01's B7-B15: 4 to 16 mel positions, 24 to 96 channels) ----
 * One channel at a time, its whole output row in registers: per kernel row its K weights are
 * loaded and paired, (w0, w1), (w2, w3), ... and (w1, w2), (w3, w4), ..., and its inputs are
 * paired as T(m) = (x[m], x[m + 1]) for every other m, so that SMLAD does two taps of one
 * channel: an output whose first tap i0 has the pairs' parity takes T(i0), T(i0 + 2), ... and
 * the bottom of T(i0 + K - 1) alone; the others the top of T(i0 - 1) alone, then T(i0 + 1), ...
 * (with stride 1 the outputs alternate; each pair serves two of them). The pixel stride (the
 * channel count), the row width, the kernel and stride are constants of each instance: every
 * load has its offset in the instruction. zp_in is handled in one of two ways:
 *  - DWS_FOLD: the inputs as they are, padding (and missing rows) = zp_in, and
 *    zp_in * sum(w) (SMLAD of the weight pairs with (zp_in, zp_in)) taken off at the end;
 *  - DWS_SUB: zp_in subtracted from every pair (SSUB16), so that pairs all padding are zero and
 *    their SMLADs are left out: the better choice where most outputs touch the padding (4 wide).
 * A channel outside the fast requantization takes the plain path. */
enum { DWS_FOLD, DWS_SUB };

/* T(m) of one row (xr: its input of the channel): x outside [0, F) is zp. */
static inline __attribute__((always_inline)) uint32_t dws_pair(const int8_t *xr, int m, int F, int CH, int32_t zp,
                                                               uint32_t z2, int mode)
{
    const int in0 = m >= 0 && m < F, in1 = m + 1 >= 0 && m + 1 < F;
    if (!in0 && !in1) return mode == DWS_SUB ? 0u : z2;
    const int32_t a = in0 ? xr[m * CH] : zp, b = in1 ? xr[(m + 1) * CH] : zp;
    const uint32_t t = nn_pack_lo((uint32_t)a, (uint32_t)b);
    return mode == DWS_SUB ? nn_ssub16(t, z2) : t;
}

/* Is T(m) zero by construction (DWS_SUB, all padding)? */
static inline __attribute__((always_inline)) int dws_pair_zero(int m, int F, int mode)
{
    return mode == DWS_SUB && !(m >= 0 && m < F) && !(m + 1 >= 0 && m + 1 < F);
}

#define DWS_FO_MAX 8
#define DWS_K_MAX 5
#define DWS_ROW_MAX 512 /* bytes of an input row (f_in * channels) of the instances */
#define DWS_CH_MAX 128  /* channels of the instances */

static inline __attribute__((always_inline)) void dws_row(const nn_conv_t *p, const int8_t *const *rows_in,
                                                          int8_t *out, const int K, const int S, const int F,
                                                          const int CH, const int KIND, const int mode)
{
    const int pad = K / 2, FO = (F + 2 * pad - K) / S + 1;
    const int e = (-pad) & 1; /* parity of the paired positions: that of the first output's first tap */
    const int32_t zp = p->zp_in;
    const uint32_t z2 = nn_pack_lo((uint32_t)zp, (uint32_t)zp);
    int8_t zrow[DWS_ROW_MAX] __attribute__((aligned(4))); /* a missing (padding) row: zp_in */
    const int8_t *rows[DWS_K_MAX];
    int missing = 0;
    for (int kt = 0; kt < K; ++kt) {
        rows[kt] = rows_in[kt] ? rows_in[kt] : zrow;
        missing |= !rows_in[kt];
    }
    if (missing) memset(zrow, (int)(uint8_t)zp, (size_t)(F * CH));
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    const int32_t k1 = 1 + 2 * p->zp_out; /* nn_rqz_t.c = k1 << (rsh - 1) */
    for (int c = 0; c < CH; ++c) {
        const int32_t mult = p->mult[c], shift = p->shift[c];
        if (!nn_rqz_ok(mult, shift)) {
            dw_plain_channels(p, rows_in, c, c + 1, out);
            continue;
        }
        const int32_t bias = p->bias[c];
        int32_t acc[DWS_FO_MAX], corr = 0;
        _Pragma("GCC unroll 8") for (int fo = 0; fo < FO; ++fo) acc[fo] = bias;
        _Pragma("GCC unroll 5") for (int kt = 0; kt < K; ++kt) {
            const int8_t *wr = p->weights + kt * K * CH + c, *xr = rows[kt] + c;
            int32_t w[DWS_K_MAX];
            _Pragma("GCC unroll 5") for (int d = 0; d < K; ++d) w[d] = wr[d * CH];
            uint32_t E[DWS_K_MAX / 2], O[DWS_K_MAX / 2]; /* (w[2m], w[2m + 1]), (w[2m + 1], w[2m + 2]) */
            _Pragma("GCC unroll 2") for (int m = 0; m < K / 2; ++m) {
                E[m] = nn_pack_lo((uint32_t)w[2 * m], (uint32_t)w[2 * m + 1]);
                O[m] = nn_pack_lo((uint32_t)w[2 * m + 1], (uint32_t)w[2 * m + 2]);
            }
            if (mode == DWS_FOLD) {
                _Pragma("GCC unroll 2") for (int m = 0; m < K / 2; ++m) corr = nn_smlad(E[m], z2, corr);
                corr = nn_smlatb(O[K / 2 - 1], z2, corr);
            }
            _Pragma("GCC unroll 8") for (int fo = 0; fo < FO; ++fo) {
                const int i0 = S * fo - pad;
                if (((i0 - e) & 1) == 0) {
                    _Pragma("GCC unroll 2") for (int m = 0; m < K / 2; ++m) {
                        if (!dws_pair_zero(i0 + 2 * m, F, mode))
                            acc[fo] = nn_smlad(dws_pair(xr, i0 + 2 * m, F, CH, zp, z2, mode), E[m], acc[fo]);
                    }
                    if (!dws_pair_zero(i0 + K - 1, F, mode))
                        acc[fo] = nn_smlabt(dws_pair(xr, i0 + K - 1, F, CH, zp, z2, mode), O[K / 2 - 1], acc[fo]);
                } else {
                    if (!dws_pair_zero(i0 - 1, F, mode))
                        acc[fo] = nn_smlatb(dws_pair(xr, i0 - 1, F, CH, zp, z2, mode), E[0], acc[fo]);
                    _Pragma("GCC unroll 2") for (int m = 0; m < K / 2; ++m) {
                        if (!dws_pair_zero(i0 + 1 + 2 * m, F, mode))
                            acc[fo] = nn_smlad(dws_pair(xr, i0 + 1 + 2 * m, F, CH, zp, z2, mode), O[m], acc[fo]);
                    }
                }
            }
        }
        const int32_t rm1 = ~shift; /* rsh - 1 */
        const nn_rqz_t q = {mult, (int32_t)((uint32_t)k1 << rm1), rm1 + 1};
        _Pragma("GCC unroll 8") for (int fo = 0; fo < FO; ++fo) {
            const int32_t a2 = mode == DWS_FOLD ? 2 * (acc[fo] - corr) : 2 * acc[fo];
            out[fo * CH + c] = nn_outz_k(nn_rqz_apply(a2, q), o, KIND);
        }
    }
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* 3 x 3 kernels with 8 outputs per row (stride 1 on 8 inputs, stride 2 on 16) on the M4: dws_row's
 * pairs in assembly, every channel of the row in one function, so that the eight accumulators, the
 * two weight pairs of the kernel row, the input pointer, two temporaries and the channel index stay
 * in registers (14; compiled C spills them). Per channel: its weight pairs, doubled (the accumulator
 * of nn_rqz_apply is doubled), and its zp_in corrections; three kernel rows; the output stage.
 * The padding taps are left out, so the edge outputs get their own corrections (zp_in times the
 * weights of their valid taps), and so are missing (padding) kernel rows. A channel outside the fast
 * requantization is skipped and listed (the caller takes it through the plain path).
 * Registers while accumulating: r0-r6, r10 the outputs, r8 t, r9 u, r7 x, r11 E, r12 O, lr the channel. */
typedef struct { /* pairs read with one LDRD: (w, z2), (mult, shift), (out, tab) */
    const int8_t *w;     /* 0 */
    uint32_t z2;         /* 4: (zp_in, zp_in) */
    const int32_t *mult; /* 8 */
    const int8_t *shift; /* 12 */
    int8_t *out;         /* 16 */
    const int8_t *tab;   /* 20: activation table + 128 */
    int32_t k1;          /* 24: 1 + 2 zp_out (nn_rqz_t.c = k1 << (rsh - 1)) */
    const int32_t *bias; /* 28 */
    uint8_t *skipped;    /* 32 */
    const int8_t *x[5];  /* 36: the input rows (a missing one: zp_in) */
} dws_ctx_t;
/* The functions' stack frame: the context (0-55), 56: count of skipped channels, 64: the weight pairs
 * of the kernel rows (3 x 3) */
#define DWS_FRAME "88"
#define DWS_W_Z2 "#0"
#define DWS_MULT_SHIFT "#8"
#define DWS_OUT "#16"
#define DWS_OUT_TAB "#16"
#define DWS_K1 "#24"
#define DWS_BIAS "#28"
#define DWS_SKIP "#32"
#define DWS_X(KT) "#(36+4*" KT ")"
#define DWS_NSKIP "#56"
#define DWS_EO(KT) "#(64+8*" KT ")"

/* Past a missing kernel row (x = r7 NULL) to the next 3: (CBZ reaches over the shorter rows only) */
#define DWS_SKIP_IF_NULL_S1 "cbz r7, 3f\n\t"
#define DWS_SKIP_IF_NULL_S2 "cmp r7, #0\n\tbeq 3f\n\t"

/* Entry (r0: the context, copied to the frame), lr = channel 0. */
#define DWS_PROLOGUE                                                                                   \
    "push {r4-r11, lr}\n\t"                                                                            \
    "sub sp, #" DWS_FRAME "\n\t"                                                                      \
    "ldm r0, {r1-r12}\n\t"                                                                             \
    "stm sp, {r1-r12}\n\t"                                                                             \
    "ldrd r1, r2, [r0, #48]\n\t"                                                                       \
    "strd r1, r2, [sp, #48]\n\t"                                                                       \
    "movs r0, #0\n\t"                                                                                  \
    "str r0, [sp, " DWS_NSKIP "]\n\t"                                                                 \
    "mov lr, #0\n\t"
/* Channel lr. */
#define DWS_CHANNEL "1:\n\t"
/* The output stage's constants: r9 mult, r7 nn_rqz_t.c, r11 rsh, r12 table, lr out + channel; to
 * 8f if the channel is outside the fast requantization (its accumulators are then not used). */
#define DWS_OUT_SETUP                                                                                  \
    "ldrd r8, r7, [sp, " DWS_MULT_SHIFT "]\n\t"                                                      \
    "ldr r9, [r8, lr, lsl #2]\n\t"                                                                     \
    "ldrsb r11, [r7, lr]\n\t"                                                                         \
    "mvns r11, r11\n\t"                                                                                \
    "cmp r11, #21\n\t"                                                                                 \
    "bhi 8f\n\t"                                                                                       \
    "cmp r9, #0\n\t"                                                                                   \
    "blt 8f\n\t"                                                                                       \
    "ldr r7, [sp, " DWS_K1 "]\n\t"                                                                   \
    "lsl r7, r7, r11\n\t"                                                                            \
    "add r11, r11, #1\n\t"                                                                             \
    "ldrd r8, r12, [sp, " DWS_OUT_TAB "]\n\t"                                                         \
    "add lr, r8\n\t"
/* Next channel, return the count of skipped channels (8: a skipped one is listed). */
#define DWS_EPILOGUE(CH)                                                                               \
    "ldr r8, [sp, " DWS_OUT "]\n\t"                                                                   \
    "sub lr, lr, r8\n\t"                                                                               \
    "9:\n\t"                                                                                           \
    "add lr, lr, #1\n\t"                                                                               \
    "cmp lr, #" CH "\n\t"                                                                              \
    "blt 1b\n\t"                                                                                       \
    "ldr r0, [sp, " DWS_NSKIP "]\n\t"                                                                 \
    "add sp, #" DWS_FRAME "\n\t"                                                                      \
    "pop {r4-r11, pc}\n\t"                                                                             \
    "8:\n\t"                                                                                           \
    "ldr r0, [sp, " DWS_NSKIP "]\n\t"                                                                 \
    "ldr r1, [sp, " DWS_SKIP "]\n\t"                                                                  \
    "strb lr, [r1, r0]\n\t"                                                                            \
    "adds r0, #1\n\t"                                                                                  \
    "str r0, [sp, " DWS_NSKIP "]\n\t"                                                                 \
    "b 9b\n\t"

#define DWS_STR_(x) #x
#define DWS_STR(x) DWS_STR_(x)

/* One kernel row of weights (taps at r0 + CH * (3 KT + d)) into E = r11, O = r12, doubled, and the
 * corrections r2 += zp (w1 + w2), r3 += zp (w0 + w1) (stride 1 only), r4 += zp w0 (r1 = z2). */
#define DWS3_W(CH, KT, S, OP)                                                                          \
    "ldrsb r5, [r0, #" CH "*(3*" KT ")]\n\t"                                                           \
    "ldrsb r6, [r0, #" CH "*(3*" KT "+1)]\n\t"                                                         \
    "ldrsb r10, [r0, #" CH "*(3*" KT "+2)]\n\t"                                                         \
    "pkhbt r11, r5, r6, lsl #16\n\t"                                                                   \
    "pkhbt r12, r6, r10, lsl #16\n\t"                                                                   \
    "sadd16 r11, r11, r11\n\t"                                                                         \
    "sadd16 r12, r12, r12\n\t"                                                                         \
    OP

#define DWS3_CORR_FIRST_S1 "smuad r2, r12, r1\n\tsmuad r3, r11, r1\n\tsmulbb r4, r11, r1\n\t"
#define DWS3_CORR_S1 "smlad r2, r12, r1, r2\n\tsmlad r3, r11, r1, r3\n\tsmlabb r4, r11, r1, r4\n\t"
#define DWS3_CORR_FIRST_S2 "smuad r2, r12, r1\n\tsmulbb r4, r11, r1\n\t"
#define DWS3_CORR_S2 "smlad r2, r12, r1, r2\n\tsmlabb r4, r11, r1, r4\n\t"

/* Stride 1, one kernel row (x = r7): pairs T(1), T(3), T(5); output 2i takes T(2i - 1).E +
 * bottom(T(2i + 1)) top(O), output 2i + 1 top(T(2i - 1)) bottom(E) + T(2i + 1).O; x0 and x7 alone.
 * A1..A6: the addends of those outputs' first products (u = their bias in the first kernel row),
 * U the second temporary (r6 in the first row: a6 is written last). */
#define DWS3S1_BODY(CH, A1, A2, A3, A4, A5, A6, U)                                                     \
    "ldrsb r8, [r7]\n\t"                                                                              \
    "smlabt r0, r8, r11, r0\n\t"                                                                       \
    "smlabb r1, r8, r11, " A1 "\n\t"                                                                  \
    "ldrsb r8, [r7, #" CH "]\n\t"                                                                     \
    "ldrsb " U ", [r7, #" CH "*2]\n\t"                                                                \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r0, r8, r12, r0\n\t"                                                                       \
    "smlad r1, r8, r12, r1\n\t"                                                                        \
    "smlad r2, r8, r11, " A2 "\n\t"                                                                   \
    "smlatb r3, r8, r11, " A3 "\n\t"                                                                  \
    "ldrsb r8, [r7, #" CH "*3]\n\t"                                                                   \
    "ldrsb " U ", [r7, #" CH "*4]\n\t"                                                                \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r2, r8, r12, r2\n\t"                                                                       \
    "smlad r3, r8, r12, r3\n\t"                                                                        \
    "smlad r4, r8, r11, " A4 "\n\t"                                                                   \
    "smlatb r5, r8, r11, " A5 "\n\t"                                                                  \
    "ldrsb r8, [r7, #" CH "*5]\n\t"                                                                   \
    "ldrsb " U ", [r7, #" CH "*6]\n\t"                                                                \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r4, r8, r12, r4\n\t"                                                                       \
    "smlad r5, r8, r12, r5\n\t"                                                                        \
    "smlad r6, r8, r11, " A6 "\n\t"                                                                   \
    "smlatb r10, r8, r11, r10\n\t"                                                                       \
    "ldrsb r8, [r7, #" CH "*7]\n\t"                                                                   \
    "smlabt r6, r8, r12, r6\n\t"                                                                       \
    "smlabb r10, r8, r12, r10\n\t"

/* Stride 2, one kernel row: pairs T(2i - 1) = (x[2i - 1], x[2i]); output i takes T(2i - 1).E +
 * bottom(T(2i + 1)) top(O); output 0 x0 top(E) alone, output 7 x15 top(O) (U: r10 in the first row). */
#define DWS3S2_BODY(CH, A1, A2, A3, A4, A5, A6, A7, U)                                                 \
    "ldrsb r8, [r7]\n\t"                                                                              \
    "smlabt r0, r8, r11, r0\n\t"                                                                       \
    "ldrsb r8, [r7, #" CH "]\n\t"                                                                     \
    "ldrsb " U ", [r7, #" CH "*2]\n\t"                                                                \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r0, r8, r12, r0\n\t"                                                                       \
    "smlad r1, r8, r11, " A1 "\n\t"                                                                   \
    "ldrsb r8, [r7, #" CH "*3]\n\t"                                                                   \
    "ldrsb " U ", [r7, #" CH "*4]\n\t"                                                                \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r1, r8, r12, r1\n\t"                                                                       \
    "smlad r2, r8, r11, " A2 "\n\t"                                                                   \
    "ldrsb r8, [r7, #" CH "*5]\n\t"                                                                   \
    "ldrsb " U ", [r7, #" CH "*6]\n\t"                                                                \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r2, r8, r12, r2\n\t"                                                                       \
    "smlad r3, r8, r11, " A3 "\n\t"                                                                   \
    "ldrsb r8, [r7, #" CH "*7]\n\t"                                                                   \
    "ldrsb " U ", [r7, #" CH "*8]\n\t"                                                                \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r3, r8, r12, r3\n\t"                                                                       \
    "smlad r4, r8, r11, " A4 "\n\t"                                                                   \
    "ldrsb r8, [r7, #" CH "*9]\n\t"                                                                   \
    "ldrsb " U ", [r7, #" CH "*10]\n\t"                                                               \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r4, r8, r12, r4\n\t"                                                                       \
    "smlad r5, r8, r11, " A5 "\n\t"                                                                   \
    "ldrsb r8, [r7, #" CH "*11]\n\t"                                                                  \
    "ldrsb " U ", [r7, #" CH "*12]\n\t"                                                               \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r5, r8, r12, r5\n\t"                                                                       \
    "smlad r6, r8, r11, " A6 "\n\t"                                                                   \
    "ldrsb r8, [r7, #" CH "*13]\n\t"                                                                  \
    "ldrsb " U ", [r7, #" CH "*14]\n\t"                                                               \
    "pkhbt r8, r8, " U ", lsl #16\n\t"                                                                \
    "smlabt r6, r8, r12, r6\n\t"                                                                       \
    "smlad r10, r8, r11, " A7 "\n\t"                                                                   \
    "ldrsb r8, [r7, #" CH "*15]\n\t"                                                                  \
    "smlabt r10, r8, r12, r10\n\t"

/* Output j of the channel from accumulator A: r9 mult, r7 nn_rqz_t.c, r11 rsh, r12 table, lr out. */
#define DWS3_OUT(A, OFF)                                                                               \
    "smmlar r8, " A ", r9, r7\n\t"                                                                   \
    "add r8, r8, " A ", asr #31\n\t"                                                                  \
    "asr r8, r8, r11\n\t"                                                                              \
    "ssat r8, #8, r8\n\t"                                                                              \
    "ldrb r8, [r12, r8]\n\t"                                                                           \
    "strb r8, [lr, #" OFF "]\n\t"

#define DWS3_FN(NAME, CHN, S)                                                                          \
    static __attribute__((naked, noinline)) int NAME(const dws_ctx_t *ctx)                              \
    {                                                                                                  \
        (void)ctx;                                                                                     \
        __asm__ volatile(                                                                              \
            DWS_PROLOGUE                                                                               \
            DWS_CHANNEL                                                                                \
            "ldrd r0, r1, [sp, " DWS_W_Z2 "]\n\t"                                                     \
            "add r0, lr\n\t"                                                                           \
            DWS3_W(DWS_STR(CHN), "1", S, DWS3_CORR_FIRST_S##S)                                         \
            "strd r11, r12, [sp, " DWS_EO("1") "]\n\t"                                                \
            "ldr r5, [sp, " DWS_X("0") "]\n\t"                                                        \
            "cbz r5, 3f\n\t"                                                                           \
            DWS3_W(DWS_STR(CHN), "0", S, DWS3_CORR_S##S)                                               \
            "strd r11, r12, [sp, " DWS_EO("0") "]\n\t"                                                \
            "3:\n\t"                                                                                   \
            "ldr r5, [sp, " DWS_X("2") "]\n\t"                                                        \
            "cbz r5, 3f\n\t"                                                                           \
            DWS3_W(DWS_STR(CHN), "2", S, DWS3_CORR_S##S)                                               \
            "strd r11, r12, [sp, " DWS_EO("2") "]\n\t"                                                \
            "3:\n\t"                                                                                   \
            "ldr r5, [sp, " DWS_BIAS "]\n\t"                                                          \
            "ldr r5, [r5, lr, lsl #2]\n\t"                                                             \
            "add r4, r4, r2\n\t"                                                                       \
            "rsb r0, r2, r5, lsl #1\n\t"                                                               \
            DWS3_BIAS_S##S                                                                             \
            "rsb r9, r4, r5, lsl #1\n\t"                                                               \
            "ldrd r11, r12, [sp, " DWS_EO("1") "]\n\t"                                                \
            "ldr r7, [sp, " DWS_X("1") "]\n\t"                                                       \
            "add r7, lr\n\t"                                                                          \
            DWS3_FIRST_S##S(DWS_STR(CHN))                                                              \
            DWS3_ROW_IF(DWS_STR(CHN), "0", S)                                                          \
            DWS3_ROW_IF(DWS_STR(CHN), "2", S)                                                          \
            DWS_OUT_SETUP                                                                              \
            DWS3_OUT("r0", DWS_STR(CHN) "*0") DWS3_OUT("r1", DWS_STR(CHN) "*1")                        \
            DWS3_OUT("r2", DWS_STR(CHN) "*2") DWS3_OUT("r3", DWS_STR(CHN) "*3")                        \
            DWS3_OUT("r4", DWS_STR(CHN) "*4") DWS3_OUT("r5", DWS_STR(CHN) "*5")                        \
            DWS3_OUT("r6", DWS_STR(CHN) "*6") DWS3_OUT("r10", DWS_STR(CHN) "*7")                        \
            DWS_EPILOGUE(DWS_STR(CHN)));                                                               \
    }

/* Kernel row KT (0 or 2) if present (a missing row is padding: neither its products nor its
 * corrections, which cancel). The centre row, always present, starts the accumulators. */
#define DWS3_ROW_IF(CH, KT, S)                                                                         \
    "ldr r7, [sp, " DWS_X(KT) "]\n\t"                                                                \
    DWS_SKIP_IF_NULL_S##S                                                                              \
    "add r7, lr\n\t"                                                                                  \
    "ldrd r11, r12, [sp, " DWS_EO(KT) "]\n\t"                                                         \
    DWS3_NEXT_S##S(CH)                                                                                 \
    "3:\n\t"

/* stride 1: outputs 0 and 7 start from their own biases (r0, r10), the others from u; stride 2 only
 * output 0 (r10 is a temporary of the first kernel row) */
#define DWS3_BIAS_S1 "rsb r10, r3, r5, lsl #1\n\t"
#define DWS3_BIAS_S2
#define DWS3_FIRST_S1(CH) DWS3S1_BODY(CH, "r9", "r9", "r9", "r9", "r9", "r9", "r6")
#define DWS3_NEXT_S1(CH) DWS3S1_BODY(CH, "r1", "r2", "r3", "r4", "r5", "r6", "r9")
#define DWS3_FIRST_S2(CH) DWS3S2_BODY(CH, "r9", "r9", "r9", "r9", "r9", "r9", "r9", "r10")
#define DWS3_NEXT_S2(CH) DWS3S2_BODY(CH, "r1", "r2", "r3", "r4", "r5", "r6", "r10", "r9")

DWS3_FN(dws3s1_c24, 24, 1)
DWS3_FN(dws3s1_c48, 48, 1)
DWS3_FN(dws3s1_c64, 64, 1)
DWS3_FN(dws3s2_c24, 24, 2)

/* 5 x 5 with 4 outputs per row (stride 1 on 4 inputs, stride 2 on 8): zp_in subtracted from every
 * input pair (SSUB16; dws_row's DWS_SUB), so that the padding taps are left out with nothing to
 * correct, and a missing kernel row (padding) is skipped. Registers while accumulating: r0-r3 the outputs, r4 E0 = (w0, w1), r5 E1 = (w2, w3),
 * r6 O0 = (w1, w2), r10 O1 = (w3, w4) (stride 2: w4 alone), r8, r9 temporaries, r7 x, r11 z2,
 * r12 the channel's weights, lr the channel. Accumulators not doubled: doubled at the end. */
#define DWS5_PAIR(CH, I)                                                                               \
    "ldrsb r8, [r7, #" CH "*" I "]\n\t"                                                               \
    "ldrsb r9, [r7, #" CH "*(" I "+1)]\n\t"                                                           \
    "pkhbt r8, r8, r9, lsl #16\n\t"                                                                    \
    "ssub16 r8, r8, r11\n\t"
#define DWS5S1_ROW(CH, KT)                                                                             \
    "ldr r7, [sp, " DWS_X(KT) "]\n\t"                                                                 \
    DWS_SKIP_IF_NULL_S1                                                                                \
    "add r7, lr\n\t"                                                                                  \
    "ldrsb r4, [r12, #" CH "*(5*" KT ")]\n\t"                                                          \
    "ldrsb r6, [r12, #" CH "*(5*" KT "+1)]\n\t"                                                        \
    "ldrsb r5, [r12, #" CH "*(5*" KT "+2)]\n\t"                                                        \
    "ldrsb r10, [r12, #" CH "*(5*" KT "+3)]\n\t"                                                        \
    "ldrsb r8, [r12, #" CH "*(5*" KT "+4)]\n\t"                                                        \
    "pkhbt r4, r4, r6, lsl #16\n\t"                                                                    \
    "pkhbt r6, r6, r5, lsl #16\n\t"                                                                    \
    "pkhbt r5, r5, r10, lsl #16\n\t"                                                                    \
    "pkhbt r10, r10, r8, lsl #16\n\t"                                                                    \
    DWS5_PAIR(CH, "0")                                                                                 \
    "smlad r0, r8, r5, r0\n\t"                                                                         \
    "smlad r1, r8, r6, r1\n\t"                                                                         \
    "smlad r2, r8, r4, r2\n\t"                                                                         \
    "smlatb r3, r8, r4, r3\n\t"                                                                        \
    DWS5_PAIR(CH, "2")                                                                                 \
    "smlabt r0, r8, r10, r0\n\t"                                                                        \
    "smlad r1, r8, r10, r1\n\t"                                                                         \
    "smlad r2, r8, r5, r2\n\t"                                                                         \
    "smlad r3, r8, r6, r3\n\t"                                                                         \
    "3:\n\t"
/* stride 2: output j takes T(2j - 2).E0 + T(2j).E1 + bottom(T(2j + 2)) w4, T(-2) and T(8) padding */
#define DWS5S2_ROW(CH, KT)                                                                             \
    "ldr r7, [sp, " DWS_X(KT) "]\n\t"                                                                 \
    DWS_SKIP_IF_NULL_S2                                                                                \
    "add r7, lr\n\t"                                                                                  \
    "ldrsb r4, [r12, #" CH "*(5*" KT ")]\n\t"                                                          \
    "ldrsb r8, [r12, #" CH "*(5*" KT "+1)]\n\t"                                                        \
    "ldrsb r5, [r12, #" CH "*(5*" KT "+2)]\n\t"                                                        \
    "ldrsb r9, [r12, #" CH "*(5*" KT "+3)]\n\t"                                                        \
    "ldrsb r10, [r12, #" CH "*(5*" KT "+4)]\n\t"                                                        \
    "pkhbt r4, r4, r8, lsl #16\n\t"                                                                    \
    "pkhbt r5, r5, r9, lsl #16\n\t"                                                                    \
    DWS5_PAIR(CH, "0")                                                                                 \
    "smlad r0, r8, r5, r0\n\t"                                                                         \
    "smlad r1, r8, r4, r1\n\t"                                                                         \
    DWS5_PAIR(CH, "2")                                                                                 \
    "smlabb r0, r8, r10, r0\n\t"                                                                        \
    "smlad r1, r8, r5, r1\n\t"                                                                         \
    "smlad r2, r8, r4, r2\n\t"                                                                         \
    DWS5_PAIR(CH, "4")                                                                                 \
    "smlabb r1, r8, r10, r1\n\t"                                                                        \
    "smlad r2, r8, r5, r2\n\t"                                                                         \
    "smlad r3, r8, r4, r3\n\t"                                                                         \
    DWS5_PAIR(CH, "6")                                                                                 \
    "smlabb r2, r8, r10, r2\n\t"                                                                        \
    "smlad r3, r8, r5, r3\n\t"                                                                         \
    "3:\n\t"
#define DWS5_OUT(A, OFF) "lsls " A ", " A ", #1\n\t" DWS3_OUT(A, OFF)

#define DWS5_FN(NAME, CHN, S)                                                                          \
    static __attribute__((naked, noinline)) int NAME(const dws_ctx_t *ctx)                              \
    {                                                                                                  \
        (void)ctx;                                                                                     \
        __asm__ volatile(                                                                              \
            DWS_PROLOGUE                                                                               \
            DWS_CHANNEL                                                                                \
            "ldrd r12, r11, [sp, " DWS_W_Z2 "]\n\t"                                                            \
            "add r12, lr\n\t"                                                                          \
            "ldr r0, [sp, " DWS_BIAS "]\n\t"                                                           \
            "ldr r0, [r0, lr, lsl #2]\n\t"                                                             \
            "mov r1, r0\n\t"                                                                           \
            "mov r2, r0\n\t"                                                                           \
            "mov r3, r0\n\t"                                                                           \
            DWS5S##S##_ROW(DWS_STR(CHN), "0") DWS5S##S##_ROW(DWS_STR(CHN), "1")                        \
            DWS5S##S##_ROW(DWS_STR(CHN), "2") DWS5S##S##_ROW(DWS_STR(CHN), "3")                        \
            DWS5S##S##_ROW(DWS_STR(CHN), "4")                                                          \
            DWS_OUT_SETUP                                                                              \
            DWS5_OUT("r0", DWS_STR(CHN) "*0") DWS5_OUT("r1", DWS_STR(CHN) "*1")                        \
            DWS5_OUT("r2", DWS_STR(CHN) "*2") DWS5_OUT("r3", DWS_STR(CHN) "*3")                        \
            DWS_EPILOGUE(DWS_STR(CHN)));                                                               \
    }

DWS5_FN(dws5s2_c64, 64, 2)
DWS5_FN(dws5s1_c96, 96, 1)

/* dws_row through the functions above if the op has the instance's shape (else 0): the context (a
 * missing row: NULL, skipped), then the skipped channels. One copy for every instance. */
static int dws_fits(const nn_conv_t *p, int K, int S, int F, int CH, int KIND);
#define DWS_SHAPE(K, S, F, CH) ((K) | (S) << 4 | (F) << 8 | (CH) << 16)
static __attribute__((noinline)) int dws_row_m4(const nn_conv_t *p, const int8_t *const *rows_in, int8_t *out,
                                                int (*fn)(const dws_ctx_t *), uint32_t shape)
{
    const int K = shape & 15;
    if (!dws_fits(p, K, shape >> 4 & 15, shape >> 8 & 255, (int)(shape >> 16), NN_OUT_LUT) || !rows_in[K / 2]) return 0;
    uint8_t skipped[DWS_CH_MAX];
    dws_ctx_t ctx;
    for (int kt = 0; kt < p->k; ++kt) ctx.x[kt] = rows_in[kt];
    ctx.w = p->weights;
    ctx.bias = p->bias;
    ctx.mult = p->mult;
    ctx.shift = p->shift;
    ctx.out = out;
    ctx.tab = p->lut + 128;
    ctx.k1 = 1 + 2 * p->zp_out;
    ctx.z2 = nn_pack_lo((uint32_t)p->zp_in, (uint32_t)p->zp_in);
    ctx.skipped = skipped;
    const int n = fn(&ctx);
    for (int i = 0; i < n; ++i) dw_plain_channels(p, rows_in, skipped[i], skipped[i] + 1, out);
    return 1;
}
#endif

/* Does the op have the instance's shape? (3 x 3 and 5 x 5 with "same" padding.) */
static int dws_fits(const nn_conv_t *p, int K, int S, int F, int CH, int KIND)
{
    return F * CH <= DWS_ROW_MAX && CH <= DWS_CH_MAX && p->k == K && p->stride == S && p->pad == K / 2 && p->f_in == F && p->cout == CH && p->cin == CH &&
           p->f_out == (F + 2 * (K / 2) - K) / S + 1 && nn_out_kind(p->act_min, p->act_max, p->lut) == KIND;
}

/* nn_dw<K>s<S>f<F>c<CH>_<stage>_row: the export-time instances of the short rows (nn_kernels.h). */
#define NN_DWS_ROW(K, S, F, CH, KIND, MODE, NAME)                                                              \
    void NAME(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)                                      \
    {                                                                                                          \
        if (dws_fits(p, K, S, F, CH, KIND))                                                                    \
            dws_row(p, rows, out, K, S, F, CH, KIND, MODE);                                                    \
        else                                                                                                   \
            nn_depthwise_conv2d_row(p, rows, out);                                                             \
    }
/* The assembly on the M4, dws_row elsewhere */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define NN_DWS_ASM_ROW(K, S, F, CH, MODE, NAME)                                                                \
    void NAME(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)                                      \
    {                                                                                                          \
        if (!dws_row_m4(p, rows, out, dws##K##s##S##_c##CH, DWS_SHAPE(K, S, F, CH)))                        \
            nn_depthwise_conv2d_row(p, rows, out);                                                             \
    }
#else
#define NN_DWS_ASM_ROW(K, S, F, CH, MODE, NAME) NN_DWS_ROW(K, S, F, CH, NN_OUT_LUT, MODE, NAME)
#endif
NN_DWS_ASM_ROW(3, 2, 16, 24, DWS_FOLD, nn_dw3s2f16c24_lut_row)
NN_DWS_ASM_ROW(3, 1, 8, 24, DWS_FOLD, nn_dw3s1f8c24_lut_row)
NN_DWS_ASM_ROW(3, 1, 8, 48, DWS_FOLD, nn_dw3s1f8c48_lut_row)
NN_DWS_ASM_ROW(3, 1, 8, 64, DWS_FOLD, nn_dw3s1f8c64_lut_row)
NN_DWS_ASM_ROW(5, 2, 8, 64, DWS_FOLD, nn_dw5s2f8c64_lut_row)
NN_DWS_ASM_ROW(5, 1, 4, 96, DWS_SUB, nn_dw5s1f4c96_lut_row)

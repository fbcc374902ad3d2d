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
 * valid part of the window. */
#include "nn_kernels.h"
#include "nn_simd.h"

#include <string.h>

#define NN_DW_CHUNK 16        /* channels per chunk (a multiple of 4) */
#define NN_DW_K_MAX 5         /* kernels of the chunked path; larger ones take the plain path */
#define NN_DW_WINDOW_MAX 3200 /* bytes of a chunk's padded input window (stack): 3 x (64 + 2) x 16 */

typedef struct {
    int32_t bias_in[NN_DW_CHUNK]; /* doubled (the weights in w are doubled too) */
    nn_rq_t rq[NN_DW_CHUNK];
    nn_rqz_t rqz[NN_DW_CHUNK];
    uint32_t w[NN_DW_K_MAX * NN_DW_K_MAX][NN_DW_CHUNK / 2]; /* per tap: (c0, c2), (c1, c3), (c4, c6), ... */
} dw_chunk_t;

/* Every channel of one pixel, scalar (windows too wide for the stack buffer). */
static void dw_edge_pixel_plain(const nn_conv_t *p, const int8_t *const *rows, int fo, int8_t *out)
{
    const int k = p->k, ch = p->cout, f0 = fo * p->stride - p->pad;
    const int kf0 = f0 < 0 ? -f0 : 0, kf1 = f0 + k > p->f_in ? p->f_in - f0 : k;
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    for (int c = 0; c < ch; ++c) {
        int32_t acc = p->bias[c];
        for (int kt = 0; kt < k; ++kt) {
            if (!rows[kt]) continue;
            for (int kf = kf0; kf < kf1; ++kf) {
                acc += (rows[kt][(size_t)(f0 + kf) * ch + c] - p->zp_in) * p->weights[(kt * k + kf) * ch + c];
            }
        }
        out[c] = nn_out_apply(nn_rq_apply(acc, nn_rq_make(p->mult[c], p->shift[c])), o);
    }
}

/* Channels c0 + j0 .. c0 + j1 - 1 of an edge pixel (out: the pixel). */
static void dw_edge_pixel(const nn_conv_t *p, const dw_chunk_t *ck, const int8_t *const *rows, int fo, int c0, int j0,
                          int j1, nn_out_t o, int8_t *out)
{
    const int k = p->k, ch = p->cout, f0 = fo * p->stride - p->pad;
    const int kf0 = f0 < 0 ? -f0 : 0, kf1 = f0 + k > p->f_in ? p->f_in - f0 : k;
    for (int j = j0; j < j1; ++j) {
        const int c = c0 + j;
        int32_t acc = p->bias[c];
        for (int kt = 0; kt < k; ++kt) {
            if (!rows[kt]) continue;
            for (int kf = kf0; kf < kf1; ++kf) {
                acc += (rows[kt][(size_t)(f0 + kf) * ch + c] - p->zp_in) * p->weights[(kt * k + kf) * ch + c];
            }
        }
        out[c] = nn_out_apply(nn_rq_apply(acc, ck->rq[j]), o);
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
    const int8_t zp = (int8_t)p->zp_in;
    dw_chunk_t ck;
    int8_t win[NN_DW_WINDOW_MAX] __attribute__((aligned(4)));
    for (int c0 = 0; c0 < ch; c0 += NN_DW_CHUNK) {
        const int m = ch - c0 < NN_DW_CHUNK ? ch - c0 : NN_DW_CHUNK, m4 = m & ~3;
        /* widened weights, and their sums per channel in int16 lanes (|sum| <= 25 * 128) */
        uint32_t wsum[NN_DW_CHUNK / 2] = {0};
        for (int t = 0; t < k * k; ++t) {
            for (int j = 0; j < m4; j += 4) {
                const uint32_t W = nn_load32(p->weights + t * ch + c0 + j);
                const uint32_t a = nn_sxtb16(W), b = nn_sxtb16_ror8(W);
                ck.w[t][j / 2] = nn_sadd16(a, a);
                ck.w[t][j / 2 + 1] = nn_sadd16(b, b);
                wsum[j / 2] = nn_sadd16(wsum[j / 2], a);
                wsum[j / 2 + 1] = nn_sadd16(wsum[j / 2 + 1], b);
            }
        }
        int fast = 1;
        for (int j = 0; j < m; ++j) {
            int32_t sum = 0;
            if (j < m4) {
                const uint32_t v = wsum[(j & ~3) / 2 + (j & 1)];
                sum = (j & 2) ? (int16_t)(v >> 16) : (int16_t)(v & 0xffffu);
            } else {
                for (int t = 0; t < k * k; ++t) sum += p->weights[t * ch + c0 + j];
            }
            ck.bias_in[j] = 2 * (p->bias[c0 + j] - p->zp_in * sum);
            ck.rq[j] = nn_rq_make(p->mult[c0 + j], p->shift[c0 + j]);
            ck.rqz[j] = nn_rqz_make(p->mult[c0 + j], p->shift[c0 + j], p->zp_out);
            fast &= nn_rqz_ok(p->shift[c0 + j]);
        }
        if (!fast) { /* a channel with a left shift or a tiny multiplier: the plain path */
            for (int fo = 0; fo < f_out; ++fo) dw_edge_pixel(p, &ck, rows, fo, c0, 0, m, o, out + (size_t)fo * ch);
            continue;
        }
        /* The window of this chunk: k rows of fp pixels, padding (and missing rows) = zp_in. */
        for (int kt = 0; kt < k; ++kt) {
            int8_t *wr = win + (size_t)kt * fp * NN_DW_CHUNK;
            if (!rows[kt]) {
                memset(wr, zp, (size_t)fp * NN_DW_CHUNK);
                continue;
            }
            memset(wr, zp, (size_t)pad * NN_DW_CHUNK);
            memset(wr + (size_t)(pad + f_in) * NN_DW_CHUNK, zp, (size_t)pad * NN_DW_CHUNK);
            const int8_t *src = rows[kt] + c0;
            int8_t *dst = wr + (size_t)pad * NN_DW_CHUNK;
            for (int f = 0; f < f_in; ++f, src += ch, dst += NN_DW_CHUNK) {
                for (int j = 0; j < m4; j += 4) {
                    uint32_t v = nn_load32(src + j);
                    memcpy(dst + j, &v, 4);
                }
            }
        }
        const int row_stride = fp * NN_DW_CHUNK, step = s * NN_DW_CHUNK;
        if (k == 3 && kind == NN_OUT_PLAIN) NN_DW_CASE(3, NN_OUT_PLAIN);
        else if (k == 3 && kind == NN_OUT_RELU) NN_DW_CASE(3, NN_OUT_RELU);
        else if (k == 3 && kind == NN_OUT_LUT) NN_DW_CASE(3, NN_OUT_LUT);
        else if (k == 5 && kind == NN_OUT_PLAIN) NN_DW_CASE(5, NN_OUT_PLAIN);
        else if (k == 5 && kind == NN_OUT_RELU) NN_DW_CASE(5, NN_OUT_RELU);
        else if (k == 5 && kind == NN_OUT_LUT) NN_DW_CASE(5, NN_OUT_LUT);
        else NN_DW_CASE(k, NN_OUT_ANY);
        if (m4 < m) {
            for (int fo = 0; fo < f_out; ++fo) dw_edge_pixel(p, &ck, rows, fo, c0, m4, m, o, out + (size_t)fo * ch);
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

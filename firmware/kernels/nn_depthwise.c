/* Depthwise conv2d (channel multiplier 1), any square kernel and stride.
 *
 * Channels are processed in chunks: for a chunk, the weights are widened once
 * into int16 pairs (SXTB16 order) and each channel gets an interior bias,
 * bias - zp_in * sum(w), so that pixels whose window lies inside the input
 * accumulate x * w directly, four channels per input word and tap. Pixels on
 * the edges (and channels beyond a multiple of four) take the plain path,
 * which sums (x - zp_in) * w over the valid part of the window only (the
 * padded input is zp_in and contributes nothing). */
#include "nn_kernels.h"
#include "nn_simd.h"

#define NN_DW_CHUNK 16 /* channels per chunk (a multiple of 4) */

typedef struct {
    int32_t bias_in[NN_DW_CHUNK];
    nn_rq_t rq[NN_DW_CHUNK];
    uint32_t w[NN_MAX_K * NN_MAX_K][NN_DW_CHUNK / 2]; /* per tap: (c0, c2), (c1, c3), (c4, c6), ... */
} dw_chunk_t;

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

/* Interior pixel, the first m4 (multiple of 4) channels of the chunk; K taps per row. */
static inline void dw_interior_pixel(const dw_chunk_t *ck, const int8_t *const *rows, size_t x_off, int ch, int m4,
                                     int K, nn_out_t o, int8_t *out)
{
    for (int j = 0; j < m4; j += 4) {
        int32_t a0 = ck->bias_in[j], a1 = ck->bias_in[j + 1], a2 = ck->bias_in[j + 2], a3 = ck->bias_in[j + 3];
        const uint32_t *w = &ck->w[0][j / 2];
        for (int kt = 0; kt < K; ++kt) {
            const int8_t *x = rows[kt] + x_off + j;
            _Pragma("GCC unroll 7") for (int kf = 0; kf < K; ++kf, x += ch, w += NN_DW_CHUNK / 2) {
#if NN_DSP
                uint32_t X = nn_load32(x);
                uint32_t xa = nn_sxtb16(X), xb = nn_sxtb16(nn_ror8(X));
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
        out[j] = nn_out_apply(nn_rq_apply(a0, ck->rq[j]), o);
        out[j + 1] = nn_out_apply(nn_rq_apply(a1, ck->rq[j + 1]), o);
        out[j + 2] = nn_out_apply(nn_rq_apply(a2, ck->rq[j + 2]), o);
        out[j + 3] = nn_out_apply(nn_rq_apply(a3, ck->rq[j + 3]), o);
    }
}

void nn_depthwise_conv2d_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)
{
    const int k = p->k, s = p->stride, pad = p->pad, ch = p->cout, f_in = p->f_in, f_out = p->f_out;
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    int all_rows = 1;
    for (int kt = 0; kt < k; ++kt) all_rows &= rows[kt] != NULL;
    /* interior pixels: 0 <= fo * s - pad and fo * s - pad + k <= f_in */
    const int fi0 = (pad + s - 1) / s;
    const int fi1 = all_rows && f_in - k + pad >= 0 ? (f_in - k + pad) / s + 1 : 0;
    dw_chunk_t ck;
    for (int c0 = 0; c0 < ch; c0 += NN_DW_CHUNK) {
        const int m = ch - c0 < NN_DW_CHUNK ? ch - c0 : NN_DW_CHUNK, m4 = m & ~3;
        for (int j = 0; j < m; ++j) {
            int32_t sum = 0;
            for (int t = 0; t < k * k; ++t) sum += p->weights[t * ch + c0 + j];
            ck.bias_in[j] = p->bias[c0 + j] - p->zp_in * sum;
            ck.rq[j] = nn_rq_make(p->mult[c0 + j], p->shift[c0 + j]);
        }
        for (int t = 0; t < k * k; ++t) {
            for (int j = 0; j < m4; j += 4) {
                const int8_t *w = p->weights + t * ch + c0 + j;
                ck.w[t][j / 2] = (uint16_t)w[0] | (uint32_t)(uint16_t)w[2] << 16;
                ck.w[t][j / 2 + 1] = (uint16_t)w[1] | (uint32_t)(uint16_t)w[3] << 16;
            }
        }
        int8_t *dst = out + c0;
        for (int fo = 0; fo < f_out; ++fo, dst += ch) {
            if (fo >= fi0 && fo < fi1) {
                const size_t x_off = (size_t)(fo * s - pad) * ch + c0;
                if (k == 3) dw_interior_pixel(&ck, rows, x_off, ch, m4, 3, o, dst);
                else if (k == 5) dw_interior_pixel(&ck, rows, x_off, ch, m4, 5, o, dst);
                else dw_interior_pixel(&ck, rows, x_off, ch, m4, k, o, dst);
                if (m4 < m) dw_edge_pixel(p, &ck, rows, fo, c0, m4, m, o, out + (size_t)fo * ch);
            } else {
                dw_edge_pixel(p, &ck, rows, fo, c0, 0, m, o, out + (size_t)fo * ch);
            }
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

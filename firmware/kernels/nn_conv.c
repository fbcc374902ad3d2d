/* Conv2d (stem, pointwise, any square kernel) and fully connected.
 *
 * Each output pixel's receptive field is widened once into an int16 patch of
 * (x - zp_in), zero where the kernel hangs over the edge (the padded input is
 * zp_in), in pair order; every output channel is then one dot product of its
 * int8 weight row with the patch (two SMLADs per four MACs on the M4). */
#include "nn_kernels.h"
#include "nn_simd.h"

#define NN_PATCH_MAX 1024 /* int16 elements: 2 KB of stack */

static inline int8_t store_q(int32_t acc, const int32_t *mult, const int32_t *shift, int co, int32_t zp_out,
                             int32_t lo, int32_t hi, const int8_t *lut)
{
    int32_t q = nn_clamp(nn_requant(acc, mult[co], shift[co]) + zp_out, lo, hi);
    return lut ? lut[q + 128] : (int8_t)q;
}

/* Dot product of a weight row of n int8 with a pair-ordered patch of n int16. */
static inline int32_t dot_row(const int8_t *w, const int16_t *patch, int n, int32_t acc)
{
    int n4 = n >> 2;
    acc = nn_dot4_s8_s16(w, patch, n4, acc);
    for (int i = n4 * 4; i < n; ++i) {
        acc += w[i] * patch[nn_pair_index(i)];
    }
    return acc;
}

/* Scalar path, for receptive fields larger than the patch buffer. */
static void conv2d_row_scalar(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)
{
    const int k = p->k, s = p->stride, pad = p->pad, cin = p->cin, cout = p->cout;
    for (int fo = 0; fo < p->f_out; ++fo) {
        for (int co = 0; co < cout; ++co) {
            int32_t acc = p->bias[co];
            for (int kt = 0; kt < k; ++kt) {
                if (!rows[kt]) continue;
                for (int kf = 0; kf < k; ++kf) {
                    int fi = fo * s - pad + kf;
                    if (fi < 0 || fi >= p->f_in) continue;
                    const int8_t *x = rows[kt] + (size_t)fi * cin;
                    const int8_t *w = p->weights + (((size_t)co * k + kt) * k + kf) * cin;
                    for (int ci = 0; ci < cin; ++ci) acc += (x[ci] - p->zp_in) * w[ci];
                }
            }
            *out++ = store_q(acc, p->mult, p->shift, co, p->zp_out, p->act_min, p->act_max, p->lut);
        }
    }
}

/* 1x1 stride-1 conv over n pixels: the patch is the pixel itself. */
static void pointwise(const nn_conv_t *p, const int8_t *in, int32_t n, int8_t *out)
{
    int16_t patch[NN_PATCH_MAX] __attribute__((aligned(4)));
    const int cin = p->cin, cout = p->cout, cin4 = cin >> 2;
    for (int32_t i = 0; i < n; ++i, in += cin) {
        for (int g = 0; g < cin4; ++g) nn_widen4(in + 4 * g, p->zp_in, patch + 4 * g);
        for (int c = cin4 * 4; c < cin; ++c) patch[nn_pair_index(c)] = (int16_t)(in[c] - p->zp_in);
        const int8_t *w = p->weights;
        for (int co = 0; co < cout; ++co, w += cin) {
            int32_t acc = dot_row(w, patch, cin, p->bias[co]);
            *out++ = store_q(acc, p->mult, p->shift, co, p->zp_out, p->act_min, p->act_max, p->lut);
        }
    }
}

void nn_conv2d_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)
{
    const int k = p->k, s = p->stride, pad = p->pad, cin = p->cin, cout = p->cout;
    const int n = k * k * cin;
    if (n > NN_PATCH_MAX) {
        conv2d_row_scalar(p, rows, out);
        return;
    }
    if (k == 1 && s == 1 && pad == 0) {
        pointwise(p, rows[0], p->f_out, out);
        return;
    }
    int16_t patch[NN_PATCH_MAX] __attribute__((aligned(4)));
    for (int fo = 0; fo < p->f_out; ++fo) {
        for (int kt = 0, e = 0; kt < k; ++kt) {
            for (int kf = 0; kf < k; ++kf) {
                int fi = fo * s - pad + kf;
                if (rows[kt] && fi >= 0 && fi < p->f_in) {
                    const int8_t *x = rows[kt] + (size_t)fi * cin;
                    for (int ci = 0; ci < cin; ++ci, ++e) patch[nn_pair_index(e)] = (int16_t)(x[ci] - p->zp_in);
                } else {
                    for (int ci = 0; ci < cin; ++ci, ++e) patch[nn_pair_index(e)] = 0;
                }
            }
        }
        const int8_t *w = p->weights;
        for (int co = 0; co < cout; ++co, w += n) {
            int32_t acc = dot_row(w, patch, n, p->bias[co]);
            *out++ = store_q(acc, p->mult, p->shift, co, p->zp_out, p->act_min, p->act_max, p->lut);
        }
    }
}

void nn_conv2d(const nn_conv_t *p, const int8_t *in, int t_in, int8_t *out)
{
    const int8_t *rows[NN_MAX_K];
    const int t_out = nn_out_size(t_in, p->k, p->stride, p->pad);
    const size_t in_row = (size_t)p->f_in * p->cin, out_row = (size_t)p->f_out * p->cout;
    for (int to = 0; to < t_out; ++to, out += out_row) {
        nn_input_rows(in, t_in, in_row, to * p->stride - p->pad, p->k, rows);
        nn_conv2d_row(p, rows, out);
    }
}

void nn_fully_connected(const nn_fc_t *p, const int8_t *in, int8_t *out)
{
    const int cin = p->cin;
    const int8_t *w = p->weights;
    for (int co = 0; co < p->cout; ++co, w += cin) {
        int32_t acc = p->bias[co];
        for (int ci = 0; ci < cin; ++ci) acc += (in[ci] - p->zp_in) * w[ci];
        out[co] = store_q(acc, p->mult, p->shift, co, p->zp_out, p->act_min, p->act_max, p->lut);
    }
}

/* Depthwise conv2d (channel multiplier 1), any square kernel and stride.
 *
 * Per output pixel, the kernel window is clipped once to the rows that exist
 * and the valid mel range (padding is zp_in, i.e. contributes nothing to
 * sum (x - zp_in) * w); four channels are then accumulated in registers over
 * the window, one word of input and of weights per tap. */
#include "nn_kernels.h"
#include "nn_simd.h"

static inline int8_t store_q(int32_t acc, const nn_conv_t *p, int c)
{
    int32_t q = nn_clamp(nn_requant(acc, p->mult[c], p->shift[c]) + p->zp_out, p->act_min, p->act_max);
    return p->lut ? p->lut[q + 128] : (int8_t)q;
}

void nn_depthwise_conv2d_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)
{
    const int k = p->k, s = p->stride, pad = p->pad, ch = p->cout, f_in = p->f_in;
    const int32_t zp = p->zp_in;
    const int ch4 = ch & ~3;
#if NN_DSP
    const uint32_t zz = ((uint32_t)(uint16_t)zp << 16) | (uint16_t)zp;
#endif
    for (int fo = 0; fo < p->f_out; ++fo, out += ch) {
        const int f0 = fo * s - pad;
        const int kf0 = f0 < 0 ? -f0 : 0;
        const int kf1 = f0 + k > f_in ? f_in - f0 : k;
        const size_t x_off = (size_t)(f0 + kf0) * ch;
        for (int c = 0; c < ch4; c += 4) {
            int32_t a0 = p->bias[c], a1 = p->bias[c + 1], a2 = p->bias[c + 2], a3 = p->bias[c + 3];
            for (int kt = 0; kt < k; ++kt) {
                if (!rows[kt]) continue;
                const int8_t *xv = rows[kt] + x_off + c;
                const int8_t *wv = p->weights + (size_t)(kt * k + kf0) * ch + c;
                for (int kf = kf0; kf < kf1; ++kf, xv += ch, wv += ch) {
#if NN_DSP
                    uint32_t X = nn_load32(xv), W = nn_load32(wv);
                    uint32_t xa = nn_ssub16(nn_sxtb16(X), zz), xb = nn_ssub16(nn_sxtb16(nn_ror8(X)), zz);
                    uint32_t wa = nn_sxtb16(W), wb = nn_sxtb16(nn_ror8(W));
                    a0 = nn_smlabb(xa, wa, a0);
                    a2 = nn_smlatt(xa, wa, a2);
                    a1 = nn_smlabb(xb, wb, a1);
                    a3 = nn_smlatt(xb, wb, a3);
#else
                    a0 += (xv[0] - zp) * wv[0];
                    a1 += (xv[1] - zp) * wv[1];
                    a2 += (xv[2] - zp) * wv[2];
                    a3 += (xv[3] - zp) * wv[3];
#endif
                }
            }
            out[c] = store_q(a0, p, c);
            out[c + 1] = store_q(a1, p, c + 1);
            out[c + 2] = store_q(a2, p, c + 2);
            out[c + 3] = store_q(a3, p, c + 3);
        }
        for (int c = ch4; c < ch; ++c) {
            int32_t a = p->bias[c];
            for (int kt = 0; kt < k; ++kt) {
                if (!rows[kt]) continue;
                for (int kf = kf0; kf < kf1; ++kf) {
                    a += (rows[kt][(size_t)(f0 + kf) * ch + c] - zp) * p->weights[(kt * k + kf) * ch + c];
                }
            }
            out[c] = store_q(a, p, c);
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

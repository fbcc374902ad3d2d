/* Conv2d (stem, pointwise, any square kernel) and fully connected.
 *
 * A block of output pixels of one row is first widened into int16 patches
 * (x - zp_in, zero where the kernel hangs over the edge: the padded input is
 * zp_in), in "patch layout": groups of four in pair order, a tail of one or two
 * elements as a plain pair, zero padded to whole 32-bit words. Then, output
 * channel by output channel, the channel's weights are widened once into the
 * same layout (kept in registers for short patches) and every pixel of the
 * block is one run of SMLADs plus the requantization. */
#include "nn_kernels.h"
#include "nn_simd.h"

#define NN_PATCH_MAX 1024 /* int16 elements of patches per block: 2 KB of stack */

/* Position of element i of an n-element patch in patch layout; patch_len(n) elements in all. */
static inline int patch_index(int i, int n)
{
    return (i < (n & ~3) || (n & 3) == 3) ? nn_pair_index(i) : i;
}

static inline int patch_len(int n)
{
    return (n & 3) == 3 ? n + 1 : (n + 1) & ~1;
}

/* Scalar path, for receptive fields larger than a patch block. */
static void conv2d_row_scalar(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)
{
    const int k = p->k, s = p->stride, pad = p->pad, cin = p->cin, cout = p->cout;
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
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
            *out++ = nn_out_apply(nn_rq_apply(acc, nn_rq_make(p->mult[co], p->shift[co])), o);
        }
    }
}

/* Patches of pixels fo0 .. fo0 + nb - 1 of the output row. */
static void build_patches(const nn_conv_t *p, const int8_t *const *rows, int fo0, int nb, int n, int len,
                          int16_t *patch)
{
    const int k = p->k, s = p->stride, pad = p->pad, cin = p->cin;
    const int32_t zp = p->zp_in;
    if (k == 1 && (cin & 3) == 0) { /* pointwise: the pixels are contiguous */
        const int8_t *x = rows[0] + (size_t)fo0 * cin;
        for (int g = 0; g < nb * cin; g += 4) nn_widen4(x + g, zp, patch + g);
        return;
    }
    for (int b = 0; b < nb; ++b, patch += len) {
        const int fo = fo0 + b;
        int e = 0;
        for (int kt = 0; kt < k; ++kt) {
            for (int kf = 0; kf < k; ++kf) {
                const int fi = fo * s - pad + kf;
                if (rows[kt] && fi >= 0 && fi < p->f_in) {
                    const int8_t *x = rows[kt] + (size_t)fi * cin;
                    for (int ci = 0; ci < cin; ++ci, ++e) patch[patch_index(e, n)] = (int16_t)(x[ci] - zp);
                } else {
                    for (int ci = 0; ci < cin; ++ci, ++e) patch[patch_index(e, n)] = 0;
                }
            }
        }
        for (; e < len; ++e) patch[e] = 0;
    }
}

/* One output channel over a block of nb patches of `words` words each. */
#define NN_DOT_BLOCK(NAME, WORDS_DECL, WORDS)                                                              \
    static void NAME(const uint32_t *patch, int nb, const uint32_t *wv, WORDS_DECL int32_t bias, nn_rq_t rq, \
                     nn_out_t o, int8_t *out, int stride)                                                  \
    {                                                                                                      \
        for (int i = 0; i < nb; ++i, patch += (WORDS), out += stride) {                                     \
            int32_t acc = bias;                                                                            \
            _Pragma("GCC unroll 8") for (int j = 0; j < (WORDS); ++j) acc = nn_smlad(wv[j], patch[j], acc); \
            *out = nn_out_apply(nn_rq_apply(acc, rq), o);                                                  \
        }                                                                                                  \
    }

NN_DOT_BLOCK(dot_block_4, , 4)
NN_DOT_BLOCK(dot_block_5, , 5)
NN_DOT_BLOCK(dot_block_8, , 8)
#define COMMA ,
NN_DOT_BLOCK(dot_block_n, int words COMMA, words)
#undef COMMA

void nn_conv2d_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)
{
    const int cin = p->cin, cout = p->cout, f_out = p->f_out;
    const int n = p->k * p->k * cin, len = patch_len(n), words = len / 2;
    if (len > NN_PATCH_MAX / 4) {
        conv2d_row_scalar(p, rows, out);
        return;
    }
    int16_t patch[NN_PATCH_MAX] __attribute__((aligned(4)));
    int16_t wv[NN_PATCH_MAX / 4] __attribute__((aligned(4)));
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    const int block = NN_PATCH_MAX / len;
    for (int fo0 = 0; fo0 < f_out; fo0 += block) {
        const int nb = f_out - fo0 < block ? f_out - fo0 : block;
        build_patches(p, rows, fo0, nb, n, len, patch);
        const int8_t *w = p->weights;
        for (int co = 0; co < cout; ++co, w += n) {
            if ((n & 3) == 0) {
                for (int g = 0; g < n; g += 4) nn_widen4(w + g, 0, wv + g);
            } else {
                for (int e = 0; e < n; ++e) wv[patch_index(e, n)] = w[e];
                for (int e = n; e < len; ++e) wv[e] = 0;
            }
            const uint32_t *pw = (const uint32_t *)(const void *)wv, *pp = (const uint32_t *)(const void *)patch;
            const nn_rq_t rq = nn_rq_make(p->mult[co], p->shift[co]);
            int8_t *dst = out + (size_t)fo0 * cout + co;
            switch (words) {
            case 4: dot_block_4(pp, nb, pw, p->bias[co], rq, o, dst, cout); break;
            case 5: dot_block_5(pp, nb, pw, p->bias[co], rq, o, dst, cout); break;
            case 8: dot_block_8(pp, nb, pw, p->bias[co], rq, o, dst, cout); break;
            default: dot_block_n(pp, nb, pw, words, p->bias[co], rq, o, dst, cout); break;
            }
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
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    for (int co = 0; co < p->cout; ++co, w += cin) {
        int32_t acc = p->bias[co];
        for (int ci = 0; ci < cin; ++ci) acc += (in[ci] - p->zp_in) * w[ci];
        out[co] = nn_out_apply(nn_rq_apply(acc, nn_rq_make(p->mult[co], p->shift[co])), o);
    }
}

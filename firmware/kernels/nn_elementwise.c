/* Pooling, SE gate multiply, residual add, table lookup and the input quantizer. */
#include "nn_kernels.h"

#define NN_POOL_CHUNK 64 /* channels summed per pass of nn_global_avgpool (stack accumulators) */

void nn_avgpool_accumulate(const int8_t *in, int32_t n, int c, int32_t *sum)
{
    for (int32_t i = 0; i < n; ++i, in += c) {
        for (int j = 0; j < c; ++j) sum[j] += in[j];
    }
}

void nn_avgpool_finish(const int32_t *sum, int32_t n, int c, int8_t *out)
{
    for (int j = 0; j < c; ++j) {
        /* CMSIS-NN rounding: half away from zero with C's truncating division. */
        int32_t q = sum[j] > 0 ? (sum[j] + n / 2) / n : (sum[j] - n / 2) / n;
        out[j] = (int8_t)nn_clamp(q, -128, 127);
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

void nn_mul_channel(const nn_mul_channel_t *p, const int8_t *in, int32_t n, const int8_t *gate, int8_t *out)
{
    const int c = p->c;
    for (int32_t i = 0; i < n; ++i) {
        for (int j = 0; j < c; ++j) {
            int32_t prod = (in[j] - p->zp_x) * (gate[j] - p->zp_g);
            *out++ = (int8_t)nn_clamp(nn_requant(prod, p->mult, p->shift) + p->zp_out, -128, 127);
        }
        in += c;
    }
}

void nn_add(const nn_add_t *p, const int8_t *a, const int8_t *b, int32_t n, int8_t *out)
{
    for (int32_t i = 0; i < n; ++i) {
        int32_t ra = nn_requant((int32_t)((uint32_t)(a[i] - p->zp_a) << p->left_shift), p->m1, p->s1);
        int32_t rb = nn_requant((int32_t)((uint32_t)(b[i] - p->zp_b) << p->left_shift), p->m2, p->s2);
        out[i] = (int8_t)nn_clamp(nn_requant(ra + rb, p->mo, p->so) + p->zp_out, -128, 127);
    }
}

void nn_lut(const int8_t table[256], const int8_t *in, int32_t n, int8_t *out)
{
    for (int32_t i = 0; i < n; ++i) out[i] = table[in[i] + 128];
}

void nn_quantize(const nn_quantize_t *p, const int16_t *in, int32_t n, int8_t *out)
{
    for (int32_t i = 0; i < n; ++i) {
        out[i] = (int8_t)nn_clamp(nn_requant(in[i], p->mult, p->shift) + p->zp_out, -128, 127);
    }
}

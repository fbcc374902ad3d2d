/* int8 kernels of the project, with the arithmetic of CMSIS-NN / TFLite Micro
 * (double rounding; see shared int8-semantics and exporter/int8_math.py).
 *
 * Layout: activations [T][F][C] (H = time, W = mel band), conv weights
 * [C_out][K][K][C_in], depthwise weights [K][K][C], fully connected [C_out][C_in].
 * The time size is dynamic (a call argument); everything else is in the
 * parameter structs, which the code generator emits as const data.
 *
 * The hot loops are written around the Cortex-M4 DSP instructions (SMLAD,
 * SXTB16, SMMULR, SSAT, ...: <arm_acle.h> where __ARM_FEATURE_DSP is defined,
 * their C definitions in nn_simd.h elsewhere); where a kernel also has a plain
 * C form, the host tests build both (NN_EMULATE_DSP) and compare them with the
 * Python arithmetic. Precondition, checked by the exporter (codegen.py): every
 * accumulator times 2^max(shift, 0) is below 2^30 in magnitude.
 */
#ifndef NN_KERNELS_H
#define NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* arm_nn_requantize, double rounding:
 *   y   = floor((acc * 2^L * mult + 2^30) / 2^31)          L = max(shift, 0)
 *   out = y / 2^R, rounded half away from zero              R = max(-shift, 0)
 * Written as (y + 2^(R-1) - (y < 0)) >> R, which equals CMSIS-NN's
 * remainder-versus-threshold form for R >= 1 (and is y for R == 0);
 * the rounding is done on the remainder only, so nothing overflows.
 * acc * 2^L must fit in int32 (as on the device). */
static inline int32_t nn_requant(int32_t acc, int32_t mult, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int64_t prod = (int64_t)(int32_t)((uint32_t)acc << left) * mult + ((int64_t)1 << 30);
    int32_t y = (int32_t)(prod >> 31);
    if (right == 0) {
        return y;
    }
    /* y = q * 2^R + r: round the remainder alone so that nothing overflows. */
    uint32_t r = ((uint32_t)y & ((1u << right) - 1u)) + (1u << (right - 1)) + (uint32_t)(y >> 31);
    return (y >> right) + (int32_t)(r >> right);
}

static inline int32_t nn_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Conv2d and depthwise conv2d. Output time size: (t_in + 2*pad - k) / stride + 1. */
typedef struct {
    uint16_t cin, cout;      /* depthwise: cin == cout == channels */
    uint16_t f_in, f_out;    /* mel sizes */
    uint8_t k, stride, pad;
    int16_t zp_in, zp_out;
    int16_t act_min, act_max;
    const int8_t *weights;
    const int32_t *bias, *mult;
    const int8_t *shift;     /* per output channel, in [-31, 30] */
    const int8_t *lut;       /* optional activation fused on store: out = lut[q + 128]; NULL for none */
} nn_conv_t;

static inline int nn_out_size(int n, int k, int stride, int pad)
{
    return (n + 2 * pad - k) / stride + 1;
}

#define NN_MAX_K 7 /* largest kernel size */

/* Whole tensors: input [t_in][f_in][cin] -> output [t_out][f_out][cout]. */
void nn_conv2d(const nn_conv_t *p, const int8_t *in, int t_in, int8_t *out);
void nn_depthwise_conv2d(const nn_conv_t *p, const int8_t *in, int t_in, int8_t *out);

/* One output time-row [f_out][cout] from the k input rows it reads: rows[kt] is
 * input row (t_out * stride - pad + kt), or NULL where that row is padding. */
void nn_conv2d_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out);
void nn_depthwise_conv2d_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out);

/* rows[kt] = in + (t0 + kt) * row_bytes, NULL outside [0, t_in). */
static inline void nn_input_rows(const int8_t *in, int t_in, size_t row_bytes, int t0, int k, const int8_t **rows)
{
    for (int kt = 0; kt < k; ++kt) {
        int t = t0 + kt;
        rows[kt] = (t >= 0 && t < t_in) ? in + (size_t)t * row_bytes : NULL;
    }
}

/* Fully connected on a pooled vector [cin] -> [cout]. */
typedef struct {
    uint16_t cin, cout;
    int16_t zp_in, zp_out;
    int16_t act_min, act_max;
    const int8_t *weights;
    const int32_t *bias, *mult;
    const int8_t *shift;     /* per output channel, in [-31, 30] */
    const int8_t *lut;       /* optional fused activation, as in nn_conv_t */
} nn_fc_t;

void nn_fully_connected(const nn_fc_t *p, const int8_t *in, int8_t *out);

/* Global average pool over n pixels of c channels: out[c] = clamp(round_div(sum, n)). */
void nn_global_avgpool(const int8_t *in, int32_t n, int c, int8_t *out);
/* The same, a part at a time: sum[c] += the n pixels; then out from the sum of n pixels. */
void nn_avgpool_accumulate(const int8_t *in, int32_t n, int c, int32_t *sum);
void nn_avgpool_finish(const int32_t *sum, int32_t n, int c, int8_t *out);

/* SE gate: out = clamp(requant((x - zp_x) * (g[c] - zp_g), mult, shift) + zp_out). */
typedef struct {
    uint16_t c;
    int16_t zp_x, zp_g, zp_out;
    int32_t mult, shift;
} nn_mul_channel_t;

void nn_mul_channel(const nn_mul_channel_t *p, const int8_t *in, int32_t n, const int8_t *gate, int8_t *out);

/* TFLite residual add:
 *   a' = requant((a - zp_a) << left_shift, m1, s1), b' likewise,
 *   out = clamp(requant(a' + b', mo, so) + zp_out). */
typedef struct {
    int16_t zp_a, zp_b, zp_out;
    int16_t left_shift;
    int32_t m1, s1, m2, s2, mo, so;
} nn_add_t;

void nn_add(const nn_add_t *p, const int8_t *a, const int8_t *b, int32_t n, int8_t *out);

/* out[i] = table[in[i] + 128]; in-place allowed. */
void nn_lut(const int8_t table[256], const int8_t *in, int32_t n, int8_t *out);

/* int16 Q12 -> int8: out = clamp(requant(x, mult, shift) + zp_out). */
typedef struct {
    int32_t mult, shift;
    int16_t zp_out;
} nn_quantize_t;

void nn_quantize(const nn_quantize_t *p, const int16_t *in, int32_t n, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* NN_KERNELS_H */

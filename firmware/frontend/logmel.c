/* Fixed-point log-mel frontend (see logmel.h). Stages per frame, each matched by a
 * function of exporter/frontend/fixed.py:
 *   pre-emphasis (exact, real * 2^30; SMUSDX on the M4) -> Hann window via SMMULR
 *   (Q25: real * 2^23), fused with the first FFT stage -> 512-point complex DIF FFT
 *   (radix-4 at span 512, 128, 32 with Q31 twiddles, each scaling by 1/2; then radix 8
 *   without twiddles: real * 2^20) -> real-split post-processing (2X) -> power (uint64,
 *   in place of the FFT output) -> mel sums per segment between band centres (Q16
 *   weights) -> normalised log (CLZ + 10-bit ln table, Q24) -> rounded to Q3.12.
 * No floats; signed >> is arithmetic (gcc, clang, armcc).
 * On the Cortex-M4 (__ARM_FEATURE_DSP) the FFT stages after the first, post-processing
 * and power, the mel sums, the log and the sample copies are Thumb-2 functions
 * (logmel_asm_*, next to the C they replace); the C is the portable path. Both give the
 * twin's bytes (tests/test_frontend_m4.py in unicorn, tests/test_frontend_exact.py). */
#include "logmel.h"

#include <string.h>

#include "logmel_tables.h"

/* Rounded high-word products; the DSP instructions give the same results as the
 * portable code:  mulhi_r = SMMULR: (a * b + 2^31) >> 32,
 * mla_r = SMMLAR: acc + ((a * b + 2^31) >> 32),  mls_r = SMMLSR: acc + ((-a * b + 2^31) >> 32). */
#define LOGMEL_STR_(x) #x
#define LOGMEL_STR(x) LOGMEL_STR_(x) /* table constants inside the Thumb-2 functions */

#if defined(__ARM_FEATURE_DSP)
static inline int32_t mulhi_r(int32_t a, int32_t b) {
  int32_t r;
  __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
static inline int32_t mla_r(int32_t a, int32_t b, int32_t acc) {
  int32_t r;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
static inline int32_t mls_r(int32_t a, int32_t b, int32_t acc) {
  int32_t r;
  __asm__("smmlsr %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
#else
static inline int32_t mulhi_r(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
}
static inline int32_t mla_r(int32_t a, int32_t b, int32_t acc) { return acc + mulhi_r(a, b); }
static inline int32_t mls_r(int32_t a, int32_t b, int32_t acc) {
  return acc + (int32_t)((0x80000000LL - (int64_t)a * b) >> 32);
}
#endif

/* acc + a * b (64-bit): UMLAL, which GCC does not always pick for this loop */
static inline uint64_t umlal(uint64_t acc, uint32_t a, uint32_t b) {
#if defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_7M__)
  uint32_t lo = (uint32_t)acc, hi = (uint32_t)(acc >> 32);
  __asm__("umlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(a), "r"(b));
  return ((uint64_t)hi << 32) | lo;
#else
  return acc + (uint64_t)a * b;
#endif
}

/* (re + i im) * (c - i s) with a Q31 twiddle, each product rounded on its own, then * 2:
 * re c + im s and im c - re s (the last as + (-re) s: SMMLSR's rounding). */
#define CMUL(ore, oim, re, im, w)                                   \
  do {                                                              \
    const int32_t c_ = (w)[0], s_ = (w)[1], xr_ = (re), xi_ = (im); \
    const int32_t r_ = mla_r(xi_, s_, mulhi_r(xr_, c_));            \
    const int32_t i_ = mls_r(xr_, s_, mulhi_r(xi_, c_));            \
    (ore) = r_ * 2;                                                 \
    (oim) = i_ * 2;                                                 \
  } while (0)
/* the same without the doubling: half the product (radix-4 stages) */
#define CMUL_HALF(ore, oim, re, im, w)                              \
  do {                                                              \
    const int32_t c_ = (w)[0], s_ = (w)[1], xr_ = (re), xi_ = (im); \
    (ore) = mla_r(xi_, s_, mulhi_r(xr_, c_));                       \
    (oim) = mls_r(xr_, s_, mulhi_r(xi_, c_));                       \
  } while (0)

/* A complex element (re, im) at p + off (off: int32 units, a compile-time constant) as
 * one LDRD/STRD on the M4, which GCC does not pick for two int32 accesses. The "m"
 * operands tell the compiler which memory the instruction reads or writes. */
typedef struct {
  int32_t v[2];
} cpair;
#if defined(__ARM_FEATURE_DSP)
#define LD2(p, off, re, im)                                \
  __asm__("ldrd %0, %1, [%2, %3]"                         \
          : "=r"(re), "=r"(im)                             \
          : "r"(p), "i"(4 * (off)), "m"(*(const cpair *)((p) + (off))))
#define ST2(p, off, re, im)                               \
  __asm__("strd %1, %2, [%3, %4]"                        \
          : "=m"(*(cpair *)((p) + (off)))                 \
          : "r"(re), "r"(im), "r"(p), "i"(4 * (off)))
#else
#define LD2(p, off, re, im) ((re) = (p)[(off)], (im) = (p)[(off) + 1])
#define ST2(p, off, re, im) ((p)[(off)] = (re), (p)[(off) + 1] = (im))
#endif

/* The first stage's radix-4 DIF butterfly, scaled by 1/2 as in radix4_stage, on the
 * given a, b, c, d; stores to p (a), p + 256, 512, 768 (b, c, d); w: W^j, W^2j, W^3j. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void radix4_butterfly_half(int32_t *p, int32_t ar, int32_t ai, int32_t br, int32_t bi, int32_t cr,
                                         int32_t ci, int32_t dr, int32_t di, const int32_t *w) {
  const int32_t t0r = ar + cr, t0i = ai + ci, t1r = ar - cr, t1i = ai - ci;
  const int32_t t2r = br + dr, t2i = bi + di, t3r = br - dr, t3i = bi - di;
  int32_t yr, yi, *pb = p + 256, *pc = p + 512, *pd = p + 768;
  const int32_t ur = t0r - t2r, ui = t0i - t2i;
  ST2(p, 0, t2r + (ur >> 1), t2i + (ui >> 1)); /* (t0 + t2) >> 1: one ADD with ASR */
  CMUL_HALF(yr, yi, t1r + t3i, t1i - t3r, w); /* t1 - i t3 */
  ST2(pb, 0, yr, yi);
  CMUL_HALF(yr, yi, ur, ui, w + 2);
  ST2(pc, 0, yr, yi);
  CMUL_HALF(yr, yi, t1r - t3i, t1i + t3r, w + 4); /* t1 + i t3 */
  ST2(pd, 0, yr, yi);
}
/* The first FFT stage (radix-4, span 512, scaled by 1/2; see radix4_stage) of the
 * windowed frame xw[0..1024), whose samples 112..911 are the windowed
 * y[m] = (x[m+1] << 15) - 0.97 x[m] (m = n - 112) and the rest zero: z[j] = xw[2j] + i xw[2j+1],
 * butterflies on a = z[j], b = z[j+128], c = z[j+256], d = z[j+384], j < 128; a is zero for
 * j < 56 and d for j >= 72. Y(m) yields y[m]; the window is applied here, by SMMULR with
 * the Q25 window pairs of logmel_stage1, which also holds the twiddles, in the order read. */
#define WINDOW_PAIR(re, im, Y, m, t, off)       \
  do {                                           \
    int32_t w0_, w1_;                            \
    LD2(t, off, w0_, w1_);                       \
    (re) = mulhi_r(Y(m), w0_);                   \
    (im) = mulhi_r(Y((m) + 1), w1_);             \
  } while (0)
#define WINDOW_RADIX4(z, Y)                                                            \
  do {                                                                                 \
    const int32_t *t_ = logmel_stage1; /* window pairs and twiddles, in this order */  \
    int32_t *p_ = (z);                                                                 \
    int32_t ar, ai, br, bi, cr, ci, dr, di;                                            \
    for (int m = 0; m < 112; m += 2, p_ += 2, t_ += 12) { /* a = 0; b, c, d: m + 144, 400, 656 */ \
      WINDOW_PAIR(br, bi, Y, m + 144, t_, 0);                                          \
      WINDOW_PAIR(cr, ci, Y, m + 400, t_, 2);                                          \
      WINDOW_PAIR(dr, di, Y, m + 656, t_, 4);                                          \
      radix4_butterfly_half(p_, 0, 0, br, bi, cr, ci, dr, di, t_ + 6);                \
    }                                                                                  \
    for (int m = 0; m < 32; m += 2, p_ += 2, t_ += 14) { /* a: m, b, c, d: m + 256, 512, 768 */ \
      WINDOW_PAIR(ar, ai, Y, m, t_, 0);                                                \
      WINDOW_PAIR(br, bi, Y, m + 256, t_, 2);                                          \
      WINDOW_PAIR(cr, ci, Y, m + 512, t_, 4);                                          \
      WINDOW_PAIR(dr, di, Y, m + 768, t_, 6);                                          \
      radix4_butterfly_half(p_, ar, ai, br, bi, cr, ci, dr, di, t_ + 8);               \
    }                                                                                  \
    for (int m = 32; m < 144; m += 2, p_ += 2, t_ += 12) { /* d = 0 */                 \
      WINDOW_PAIR(ar, ai, Y, m, t_, 0);                                                \
      WINDOW_PAIR(br, bi, Y, m + 256, t_, 2);                                          \
      WINDOW_PAIR(cr, ci, Y, m + 512, t_, 4);                                          \
      radix4_butterfly_half(p_, ar, ai, br, bi, cr, ci, 0, 0, t_ + 6);                 \
    }                                                                                  \
  } while (0)

/* y[m] from the input samples (exact: |y| < 2^31); on the M4 one SMUSDX of the
 * (unaligned) word x[m] | x[m+1] << 16 with -32768 | -31785 << 16 */
#if defined(__ARM_FEATURE_DSP)
static inline int32_t preemph(const int16_t *x) {
  uint32_t pair, r;
  memcpy(&pair, x, sizeof pair);
  __asm__("smusdx %0, %1, %2" : "=r"(r) : "r"(pair), "r"(((uint32_t)-LOGMEL_T_PREEMPH_Q15 << 16) | 0x8000u));
  return (int32_t)r;
}
#define Y_FROM_X(m) preemph(x + (m))
#else
#define Y_FROM_X(m) (x[(m) + 1] * 32768 - LOGMEL_T_PREEMPH_Q15 * x[(m)])
#endif
#define Y_FROM_BUF(m) (y[(m)])

/* interior frame: x[0..800] are the input samples under the window */
static void window_radix4_x(const int16_t *x, int32_t *z) { WINDOW_RADIX4(z, Y_FROM_X); }

/* frame with reflect padding: y[0..800) already computed at z + 112, its windowed
 * position, so every butterfly reads exactly the two slots it writes (in place) */
static void window_radix4_y(int32_t *z) {
  const int32_t *y = z + (LOGMEL_NFFT - LOGMEL_WIN) / 2;
  WINDOW_RADIX4(z, Y_FROM_BUF);
}

/* One radix-4 DIF stage with twiddles, span 4q, scaled by 1/2: y0 = (t0 + t2) >> 1 and
 * the products not doubled (4 instructions fewer than doubling them). q <= 32: every
 * element lies within an LDRD/STRD offset (1020 bytes) of a; q is a constant at each call. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline const int32_t *radix4_stage(int32_t *z, const int q, const int32_t *w) {
  for (int g = 0; g < 512; g += 4 * q) {
    int32_t *a = z + 2 * g;
    const int32_t *wj = w;
    for (int j = 0; j < q; j++, a += 2, wj += 6) {
      int32_t ar, ai, br, bi, cr, ci, dr, di, yr, yi;
      LD2(a, 0, ar, ai);
      LD2(a, 2 * q, br, bi);
      LD2(a, 4 * q, cr, ci);
      LD2(a, 6 * q, dr, di);
      const int32_t t0r = ar + cr, t0i = ai + ci, t1r = ar - cr, t1i = ai - ci;
      const int32_t t2r = br + dr, t2i = bi + di, t3r = br - dr, t3i = bi - di;
      const int32_t ur = t0r - t2r, ui = t0i - t2i;
      ST2(a, 0, t2r + (ur >> 1), t2i + (ui >> 1)); /* (t0 + t2) >> 1 */
      CMUL_HALF(yr, yi, t1r + t3i, t1i - t3r, wj); /* t1 - i t3 */
      ST2(a, 2 * q, yr, yi);
      CMUL_HALF(yr, yi, ur, ui, wj + 2);
      ST2(a, 4 * q, yr, yi);
      CMUL_HALF(yr, yi, t1r - t3i, t1i + t3r, wj + 4); /* t1 + i t3 */
      ST2(a, 6 * q, yr, yi);
    }
  }
  return w + 6 * q;
}

#if defined(__ARM_FEATURE_DSP)
/* radix4_stage in Thumb-2 for q = 32 and 8 (same arithmetic): all 14 registers, the
 * twiddles by post-incremented LDRD, y0 stored last with the pointer's post-increment.
 * In place: t1 = a - c, then t0 = t1 + 2c (wraps back into range). r0: a, r1: w,
 * r2: end of the group, r3-r10: a, c, b, d, r11, r12, lr: twiddle and products.
 * Two butterflies per loop test (q is even). */
#define LOGMEL_R4_BODY(Q)                                                              \
  "ldrd r3, r4, [r0]\n"                                                     \
  "ldrd r5, r6, [r0, #16*" #Q "]\n"                                            \
  "sub r3, r3, r5\n add r5, r3, r5, lsl #1\n" /* t1r, t0r */                   \
  "sub r4, r4, r6\n add r6, r4, r6, lsl #1\n" /* t1i, t0i */                   \
  "ldrd r7, r8, [r0, #8*" #Q "]\n"                                             \
  "ldrd r9, r10, [r0, #24*" #Q "]\n"                                           \
  "sub r7, r7, r9\n add r9, r7, r9, lsl #1\n" /* t3r, t2r */                   \
  "sub r8, r8, r10\n add r10, r8, r10, lsl #1\n" /* t3i, t2i */                \
  "sub r5, r5, r9\n add r9, r9, r5, asr #1\n" /* t0 - t2, (t0 + t2) >> 1 */    \
  "sub r6, r6, r10\n add r10, r10, r6, asr #1\n"                               \
  "add r3, r3, r8\n sub r8, r3, r8, lsl #1\n" /* t1r + t3i, t1r - t3i */        \
  "sub r4, r4, r7\n add r7, r4, r7, lsl #1\n" /* t1i - t3r, t1i + t3r */        \
  "ldrd r11, r12, [r1], #8\n" /* (r3, r4) W^j */                               \
  "smmulr lr, r3, r11\n smmulr r11, r4, r11\n"                                 \
  "smmlar lr, r4, r12, lr\n smmlsr r11, r3, r12, r11\n"                        \
  "strd lr, r11, [r0, #8*" #Q "]\n"                                            \
  "ldrd r11, r12, [r1], #8\n" /* (r5, r6) W^2j */                              \
  "smmulr lr, r5, r11\n smmulr r11, r6, r11\n"                                 \
  "smmlar lr, r6, r12, lr\n smmlsr r11, r5, r12, r11\n"                        \
  "strd lr, r11, [r0, #16*" #Q "]\n"                                           \
  "ldrd r11, r12, [r1], #8\n" /* (r8, r7) W^3j */                              \
  "smmulr lr, r8, r11\n smmulr r11, r7, r11\n"                                 \
  "smmlar lr, r7, r12, lr\n smmlsr r11, r8, r12, r11\n"                        \
  "strd lr, r11, [r0, #24*" #Q "]\n"                                           \
  "strd r9, r10, [r0], #8\n"
#define LOGMEL_R4_ASM(name, Q)                                                         \
  __asm__(".section .text." #name ",\"ax\",%progbits\n"                               \
          ".p2align 2\n.global " #name "\n.type " #name ", %function\n.thumb_func\n"   \
          #name ":\n"                                                                  \
          "push {r4-r11, lr}\n"                                                        \
          "add r2, r0, #4096\n"                                                        \
          "push {r2}\n"                                                                \
          "1: add r2, r0, #8*" #Q "\n"                                                 \
          "2: " LOGMEL_R4_BODY(Q) LOGMEL_R4_BODY(Q)                                    \
          "cmp r0, r2\n bne 2b\n"                                                      \
          "sub r1, r1, #24*" #Q "\n"                                                   \
          "add r0, r0, #24*" #Q "\n"                                                   \
          "ldr r2, [sp]\n cmp r0, r2\n bne 1b\n"                                       \
          "add sp, sp, #4\n"                                                           \
          "pop {r4-r11, pc}\n"                                                         \
          ".size " #name ", . - " #name "\n.text\n")
void logmel_asm_radix4_q32(int32_t *z, const int32_t *w);
void logmel_asm_radix4_q8(int32_t *z, const int32_t *w);
LOGMEL_R4_ASM(logmel_asm_radix4_q32, 32);
LOGMEL_R4_ASM(logmel_asm_radix4_q8, 8);
#endif

/* The last stage: radix-8 DIF butterflies on z[8g .. 8g+8) (complex), no scaling:
 * u_k = x_k + x_k+4, v_k = (x_k - x_k+4) W_8^k, then radix 4 (no twiddles) on u and on v.
 * v_1 and v_3 are 2 * SMMULR(., 1/sqrt2 in Q31); the doubling rides on the adds. */
#if !defined(__ARM_FEATURE_DSP)
static void fft_radix8(int32_t *z) {
  const int32_t C = LOGMEL_T_R8_C_Q31;
  for (int32_t *p = z; p < z + 1024; p += 16) { /* ordered for few live registers */
    int32_t xr, xi, yr, yi;
    /* odd k: u1, u3 and v1 = 2 (h1r + i h1i), v3 = 2 (h3r - i h3n) */
    LD2(p, 2, xr, xi);
    LD2(p, 10, yr, yi);
    const int32_t u1r = xr + yr, u1i = xi + yi, d1r = xr - yr, d1i = xi - yi;
    LD2(p, 6, xr, xi);
    LD2(p, 14, yr, yi);
    const int32_t u3r = xr + yr, u3i = xi + yi, d3r = xr - yr, d3i = xi - yi;
    const int32_t h1r = mulhi_r(d1r + d1i, C), h1i = mulhi_r(d1i - d1r, C);
    const int32_t h3r = mulhi_r(d3i - d3r, C), h3n = mulhi_r(d3r + d3i, C);
    /* V2 = v1 + v3 = 2 e2, V3 = v1 - v3 = 2 e3 */
    const int32_t e2r = h1r + h3r, e2i = h1i - h3n, e3r = h1r - h3r, e3i = h1i + h3n;
    /* even k: u0, u2, and V0 = v0 + v2, V1 = v0 - v2 with v0 = d0, v2 = -i d2 */
    LD2(p, 0, xr, xi);
    LD2(p, 8, yr, yi);
    const int32_t u0r = xr + yr, u0i = xi + yi, d0r = xr - yr, d0i = xi - yi;
    LD2(p, 4, xr, xi);
    LD2(p, 12, yr, yi);
    const int32_t u2r = xr + yr, u2i = xi + yi, d2r = xr - yr, d2i = xi - yi;
    const int32_t V0r = d0r + d2i, V0i = d0i - d2r, V1r = d0r - d2i, V1i = d0i + d2r;
    /* radix 4 on v: positions 4..7 are V0 + V2, V1 - i V3, V0 - V2, V1 + i V3 */
    ST2(p, 8, V0r + 2 * e2r, V0i + 2 * e2i);
    ST2(p, 10, V1r + 2 * e3i, V1i - 2 * e3r);
    ST2(p, 12, V0r - 2 * e2r, V0i - 2 * e2i);
    ST2(p, 14, V1r - 2 * e3i, V1i + 2 * e3r);
    /* radix 4 on u: positions 0..3 */
    const int32_t t0r = u0r + u2r, t0i = u0i + u2i, t1r = u0r - u2r, t1i = u0i - u2i;
    const int32_t t2r = u1r + u3r, t2i = u1i + u3i, t3r = u1r - u3r, t3i = u1i - u3i;
    ST2(p, 0, t0r + t2r, t0i + t2i);
    ST2(p, 2, t1r + t3i, t1i - t3r);
    ST2(p, 4, t0r - t2r, t0i - t2i);
    ST2(p, 6, t1r - t3i, t1i + t3r);
  }
}
#endif

#if defined(__ARM_FEATURE_DSP)
/* fft_radix8 in Thumb-2 (same arithmetic; in-place add/sub pairs as in the radix-4
 * stages). r0: p, r1: end; C is reloaded each time (r2 is needed after the odd k);
 * t2 and t3 wait in the slots of x3 and x1, which are already read. Two blocks of 8 per
 * loop test. */
#define LOGMEL_R8_BODY \
  "ldr r2, 9f\n" \
  "ldrd r3, r4, [r0, #8]\n ldrd r5, r6, [r0, #40]\n"                  /* x1, x5 */ \
  "sub r3, r3, r5\n add r5, r3, r5, lsl #1\n"                          /* d1r, u1r */ \
  "sub r4, r4, r6\n add r6, r4, r6, lsl #1\n"                          /* d1i, u1i */ \
  "sub r4, r4, r3\n add r3, r4, r3, lsl #1\n"                          /* d1i - d1r, d1r + d1i */ \
  "smmulr r3, r3, r2\n smmulr r4, r4, r2\n"                            /* h1r, h1i */ \
  "ldrd r7, r8, [r0, #24]\n ldrd r9, r10, [r0, #56]\n"                 /* x3, x7 */ \
  "sub r7, r7, r9\n add r9, r7, r9, lsl #1\n"                          /* d3r, u3r */ \
  "sub r8, r8, r10\n add r10, r8, r10, lsl #1\n"                       /* d3i, u3i */ \
  "sub r8, r8, r7\n add r7, r8, r7, lsl #1\n"                          /* d3i - d3r, d3r + d3i */ \
  "smmulr r8, r8, r2\n smmulr r7, r7, r2\n"                            /* h3r, h3n */ \
  "add r3, r3, r8\n sub r8, r3, r8, lsl #1\n"                          /* e2r, e3r */ \
  "sub r4, r4, r7\n add r7, r4, r7, lsl #1\n"                          /* e2i, e3i */ \
  "sub r5, r5, r9\n add r9, r5, r9, lsl #1\n"                          /* t3r, t2r */ \
  "sub r6, r6, r10\n add r10, r6, r10, lsl #1\n"                       /* t3i, t2i */ \
  "strd r5, r6, [r0, #8]\n strd r9, r10, [r0, #24]\n"                  /* t3, t2 wait */ \
  "ldrd r5, r6, [r0]\n ldrd r9, r10, [r0, #32]\n"                      /* x0, x4 */ \
  "sub r5, r5, r9\n add r9, r5, r9, lsl #1\n"                          /* d0r, u0r */ \
  "sub r6, r6, r10\n add r10, r6, r10, lsl #1\n"                       /* d0i, u0i */ \
  "ldrd r2, r11, [r0, #16]\n ldrd r12, lr, [r0, #48]\n"                /* x2, x6 */ \
  "sub r2, r2, r12\n add r12, r2, r12, lsl #1\n"                       /* d2r, u2r */ \
  "sub r11, r11, lr\n add lr, r11, lr, lsl #1\n"                       /* d2i, u2i */ \
  "add r5, r5, r11\n sub r11, r5, r11, lsl #1\n"                       /* V0r, V1r */ \
  "sub r6, r6, r2\n add r2, r6, r2, lsl #1\n"                          /* V0i, V1i */ \
  "add r5, r5, r3, lsl #1\n sub r3, r5, r3, lsl #2\n"                  /* V0 +- 2 e2 */ \
  "add r6, r6, r4, lsl #1\n sub r4, r6, r4, lsl #2\n" \
  "strd r5, r6, [r0, #32]\n strd r3, r4, [r0, #48]\n" \
  "add r11, r11, r7, lsl #1\n sub r7, r11, r7, lsl #2\n"               /* V1r +- 2 e3i */ \
  "sub r2, r2, r8, lsl #1\n add r8, r2, r8, lsl #2\n"                  /* V1i -+ 2 e3r */ \
  "strd r11, r2, [r0, #40]\n strd r7, r8, [r0, #56]\n" \
  "sub r9, r9, r12\n add r12, r9, r12, lsl #1\n"                       /* t1r, t0r */ \
  "sub r10, r10, lr\n add lr, r10, lr, lsl #1\n"                       /* t1i, t0i */ \
  "ldrd r3, r4, [r0, #24]\n ldrd r5, r6, [r0, #8]\n"                   /* t2, t3 */ \
  "add r12, r12, r3\n sub r3, r12, r3, lsl #1\n"                       /* t0 +- t2 */ \
  "add lr, lr, r4\n sub r4, lr, r4, lsl #1\n" \
  "strd r3, r4, [r0, #16]\n" \
  "add r9, r9, r6\n sub r6, r9, r6, lsl #1\n"                          /* t1r +- t3i */ \
  "sub r10, r10, r5\n add r5, r10, r5, lsl #1\n"                       /* t1i -+ t3r */ \
  "strd r9, r10, [r0, #8]\n strd r6, r5, [r0, #24]\n" \
  "strd r12, lr, [r0], #64\n"
void logmel_asm_radix8(int32_t *z);
__asm__(".section .text.logmel_asm_radix8,\"ax\",%progbits\n"
        ".p2align 2\n.global logmel_asm_radix8\n.type logmel_asm_radix8, %function\n.thumb_func\n"
        "logmel_asm_radix8:\n"
        "push {r4-r11, lr}\n"
        "add r1, r0, #4096\n"
        "1: " LOGMEL_R8_BODY LOGMEL_R8_BODY
        "cmp r0, r1\n bne 1b\n"
        "pop {r4-r11, pc}\n"
        ".p2align 2\n9: .word " LOGMEL_STR(LOGMEL_T_R8_C_Q31) "\n"
        ".size logmel_asm_radix8, . - logmel_asm_radix8\n.text\n");
#endif

/* the stages after the first of the 512-point DIF FFT (in place, digit-reversed output) */
static void fft512_rest(int32_t *z) {
  const int32_t *w = logmel_twiddle3_q31[0];
#if defined(__ARM_FEATURE_DSP)
  logmel_asm_radix4_q32(z, w); /* span 128 */
  logmel_asm_radix4_q8(z, w + 6 * 32); /* span 32 */
  logmel_asm_radix8(z);
#else
  w = radix4_stage(z, 32, w);                          /* span 128 */
  radix4_stage(z, 8, w);                               /* span 32 */
  fft_radix8(z);
#endif
}

static inline uint64_t bin_power(int32_t re, int32_t im) {
  return (uint64_t)((int64_t)re * re) + (uint64_t)((int64_t)im * im); /* < 2^62 */
}

/* The power of bin k is stored in place, in the 8 bytes that held Z[k]
 * (logmel_bin_entry), as two int32 halves (low first): the buffer is only ever accessed
 * as int32, so the reuse is free of aliasing problems. */
static inline uint64_t load_power(const int32_t *z, int k) {
  const int32_t *p = (const int32_t *)(const void *)((const char *)z + (logmel_bin_entry[k - LOGMEL_T_BIN_LO] & 0xffffu));
  int32_t lo, hi;
  LD2(p, 0, lo, hi);
  return (uint64_t)(uint32_t)lo | (uint64_t)(uint32_t)hi << 32;
}

/* Power of 2X[k], k = BIN_LO..BIN_HI, from the 512-point FFT of the interleaved real
 * frame. For j <= 256: E = Z[j] + conj Z[512-j], D = Z[j] - conj Z[512-j],
 * V = W_1024^j (-i D); 2X[j] = E + V and 2X[512-j] = conj(E - V); the power of 2X[512-j]
 * only where 512 - j <= BIN_HI (mirror is a constant at each call). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void post_bins(int32_t *z, const int32_t *t, int n, const int mirror) {
  for (; n > 0; n--, t += 3) { /* t: offsets, then W_1024^j */
    const uint32_t off = (uint32_t)t[0];
    int32_t *a = (int32_t *)(void *)((char *)z + (off & 0xffffu));
    int32_t *b = (int32_t *)(void *)((char *)z + (off >> 16));
    int32_t ar, ai, br, bi, vr, vi;
    LD2(a, 0, ar, ai);
    LD2(b, 0, br, bi);
    const int32_t er = ar + br, ei = ai - bi, dr = ar - br, di = ai + bi;
    CMUL(vr, vi, di, -dr, t + 1);
    const uint64_t pa = bin_power(er + vr, ei + vi);
    if (mirror) { /* b == a for j = 256: a's value is stored last */
      const uint64_t pb = bin_power(er - vr, ei - vi);
      ST2(b, 0, (int32_t)(uint32_t)pb, (int32_t)(uint32_t)(pb >> 32));
    }
    ST2(a, 0, (int32_t)(uint32_t)pa, (int32_t)(uint32_t)(pa >> 32));
  }
}

#if defined(__ARM_FEATURE_DSP)
/* post_bins in Thumb-2 (same arithmetic): t to t_mid without the mirror bin, then to
 * t_end with it. -dr = br - ar enters the product directly (no negation); b's power is
 * stored before a's (b == a at j = 256). r0: z, r1: t, lr: end of the loop,
 * r2-r4: offsets, c, s, r5/r6: a/b, r7-r10: er, di, -dr, ei, r11/r12: vr/2, vi/2. */
void logmel_asm_power(int32_t *z, const int32_t *t, const int32_t *t_mid, const int32_t *t_end);
#define LOGMEL_POWER_HEAD                                                                    \
  "ldm r1!, {r2, r3, r4}\n uxtah r5, r0, r2\n add r6, r0, r2, lsr #16\n"                      \
  "ldrd r7, r8, [r5]\n ldrd r9, r10, [r6]\n"                                                  \
  "sub r9, r9, r7\n add r7, r9, r7, lsl #1\n"     /* -dr, er */                               \
  "add r8, r8, r10\n sub r10, r8, r10, lsl #1\n"  /* di, ei */                                \
  "smmulr r11, r8, r3\n smmlar r11, r9, r4, r11\n" /* di c + (-dr) s */                        \
  "smmulr r12, r9, r3\n smmlsr r12, r8, r4, r12\n" /* (-dr) c - di s */                        \
  "add r2, r7, r11, lsl #1\n add r3, r10, r12, lsl #1\n" /* 2X[j] = E + V */
__asm__(".section .text.logmel_asm_power,\"ax\",%progbits\n"
        ".p2align 2\n.global logmel_asm_power\n.type logmel_asm_power, %function\n.thumb_func\n"
        "logmel_asm_power:\n"
        "push {r3-r11, lr}\n"
        "mov lr, r2\n b 2f\n"
        "1: " LOGMEL_POWER_HEAD
        "smull r4, r11, r2, r2\n smlal r4, r11, r3, r3\n strd r4, r11, [r5]\n"
        "2: cmp r1, lr\n bne 1b\n"
        "ldr lr, [sp]\n b 4f\n"
        "3: " LOGMEL_POWER_HEAD
        "sub r7, r7, r11, lsl #1\n sub r10, r10, r12, lsl #1\n" /* conj 2X[512 - j] = E - V */
        "smull r8, r9, r7, r7\n smlal r8, r9, r10, r10\n strd r8, r9, [r6]\n"
        "smull r4, r11, r2, r2\n smlal r4, r11, r3, r3\n strd r4, r11, [r5]\n"
        "4: cmp r1, lr\n bne 3b\n"
        "pop {r3-r11, pc}\n"
        ".size logmel_asm_power, . - logmel_asm_power\n.text\n");
#endif

static void power_spectrum(int32_t *z) {
  enum { J_MIRROR = 512 - LOGMEL_T_BIN_HI }; /* first j whose mirror 512 - j has a weight */
#if defined(__ARM_FEATURE_DSP)
  const int j_mid = J_MIRROR > LOGMEL_T_BIN_LO ? J_MIRROR : LOGMEL_T_BIN_LO;
  logmel_asm_power(z, logmel_post[0], logmel_post[j_mid - LOGMEL_T_BIN_LO], logmel_post[257 - LOGMEL_T_BIN_LO]);
  return;
#endif
  if (J_MIRROR > LOGMEL_T_BIN_LO) {
    post_bins(z, logmel_post[0], J_MIRROR - LOGMEL_T_BIN_LO, 0);
    post_bins(z, logmel_post[J_MIRROR - LOGMEL_T_BIN_LO], 257 - J_MIRROR, 1);
  } else {
    post_bins(z, logmel_post[0], 257 - LOGMEL_T_BIN_LO, 1);
  }
}

/* Mel bands from the segments between band centres: segment s holds the falling slope
 * of band s-1 (weights d) and the rising slope of band s (2^16 - d), so one product per
 * bin. S0 = sum P, F = floor(sum P * d / 2^16) from the 32-bit halves of P (UMLAL);
 * band s-1 gets F, band s gets S0 - F. No overflow: every band sum < 2^62 (Parseval). */
static inline void load_entry(const int32_t *z, uint32_t entry, uint32_t *plo, uint32_t *phi, uint32_t *d) {
  const int32_t *p = (const int32_t *)(const void *)((const char *)z + (entry & 0xffffu));
  int32_t lo, hi;
  LD2(p, 0, lo, hi);
  *plo = (uint32_t)lo;
  *phi = (uint32_t)hi;
  *d = entry >> 16;
}

#if defined(__ARM_FEATURE_DSP)
/* mel_bands in Thumb-2 (same arithmetic). The rising sum of band s waits in mel[s]
 * (so mel has one slot more). r0: z, r1: mel + s, r2: bin entries, r3: segment
 * lengths, r4: bins left, r5:r6 S0, r7:r8 sum P_lo d, r9:r10 sum P_hi d, r11: entry
 * then d, r12:lr: P; [sp]: the end of mel, tested only at an empty segment (the length
 * table ends with one). */
void logmel_asm_mel(const int32_t *z, uint64_t *mel, const uint32_t *entry, const uint8_t *seg_len);
__asm__(".section .text.logmel_asm_mel,\"ax\",%progbits\n"
        ".p2align 2\n.global logmel_asm_mel\n.type logmel_asm_mel, %function\n.thumb_func\n"
        "logmel_asm_mel:\n"
        "push {r4-r11, lr}\n"
        "add r4, r1, #8*" LOGMEL_STR(LOGMEL_T_NSEGMENTS) "\n"
        "push {r4}\n"
        "movs r5, #0\n movs r6, #0\n strd r5, r6, [r1]\n" /* no rising sum before band 0 */
        "1: ldrb r4, [r3], #1\n"
        "cbz r4, 4f\n"
        "ldr r11, [r2], #4\n uxtah lr, r0, r11\n ldrd r5, r6, [lr]\n lsr r11, r11, #16\n"
        "umull r7, r8, r5, r11\n umull r9, r10, r6, r11\n"
        "subs r4, r4, #1\n beq 3f\n"
        "2: ldr r11, [r2], #4\n uxtah lr, r0, r11\n ldrd r12, lr, [lr]\n lsr r11, r11, #16\n"
        "adds r5, r5, r12\n adc r6, r6, lr\n"
        "umlal r7, r8, r12, r11\n umlal r9, r10, lr, r11\n"
        "subs r4, r4, #1\n bne 2b\n"
        "3: lsr r7, r7, #" LOGMEL_STR(LOGMEL_T_MEL_W_BITS) "\n" /* f = hi << (32 - W) + lo >> W */
        "orr r7, r7, r8, lsl #32-" LOGMEL_STR(LOGMEL_T_MEL_W_BITS) "\n"
        "lsl r11, r10, #32-" LOGMEL_STR(LOGMEL_T_MEL_W_BITS) "\n"
        "orr r11, r11, r9, lsr #" LOGMEL_STR(LOGMEL_T_MEL_W_BITS) "\n"
        "adds r7, r7, r9, lsl #32-" LOGMEL_STR(LOGMEL_T_MEL_W_BITS) "\n"
        "adc r8, r11, r8, lsr #" LOGMEL_STR(LOGMEL_T_MEL_W_BITS) "\n"
        "ldrd r11, r12, [r1]\n adds r11, r11, r7\n adc r12, r12, r8\n strd r11, r12, [r1], #8\n"
        "subs r5, r5, r7\n sbc r6, r6, r8\n strd r5, r6, [r1]\n" /* rising sum of band s */
        "b 1b\n"
        "4: ldr r4, [sp]\n cmp r1, r4\n beq 5f\n" /* empty, or the 0 after the last */
        "movs r5, #0\n movs r6, #0\n strd r5, r6, [r1, #8]!\n" /* mel[s] as it is */
        "b 1b\n"
        "5: add sp, sp, #4\n pop {r4-r11, pc}\n"
        ".size logmel_asm_mel, . - logmel_asm_mel\n.text\n");
#endif

#if !defined(__ARM_FEATURE_DSP)
static void mel_bands(const int32_t *z, uint64_t mel[LOGMEL_BANDS + 1]) {
  const uint32_t *e = logmel_bin_entry;
  uint64_t rising = 0;
  for (int s = 0; s < LOGMEL_T_NSEGMENTS; s++) { /* mel[s] = band s-1 (mel[0] unused) */
    uint64_t s0 = 0, lo = 0, hi = 0;
    int n = logmel_seg_len[s];
    if (n > 0) { /* the first bin starts the sums (no zeroing) */
      uint32_t plo, phi, d;
      load_entry(z, *e++, &plo, &phi, &d);
      s0 = (uint64_t)plo | (uint64_t)phi << 32;
      lo = (uint64_t)plo * d;
      hi = (uint64_t)phi * d;
      for (n--; n > 0; n--) {
        load_entry(z, *e++, &plo, &phi, &d);
        s0 += (uint64_t)plo | (uint64_t)phi << 32;
        lo = umlal(lo, plo, d);
        hi = umlal(hi, phi, d);
      }
    }
    const uint64_t f = (hi << (32 - LOGMEL_T_MEL_W_BITS)) + (lo >> LOGMEL_T_MEL_W_BITS);
    mel[s] = rising + f;
    rising = s0 - f;
  }
}
#endif

static inline int clz32(uint32_t v) { /* v != 0 */
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_clz(v);
#else
  int n = 0;
  while (!(v & 0x80000000u)) {
    v <<= 1;
    n++;
  }
  return n;
#endif
}

/* (ln(v / 2^MEL_EXP) + 4.5) / 5 in Q24 for v >= 1: e = floor(log2 v), then the 10 bits
 * below the top bit index ln(1 + x) (tabulated at the middle of each interval). */
static inline int32_t log_q24(uint64_t v) {
  const uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
  int e;
  uint32_t top; /* v's 32 bits from its top bit down */
  if (hi) {
    const int n = clz32(hi);
    e = 63 - n;
    top = (hi << n) | ((lo >> 1) >> (31 - n)); /* no shift by 32 for n = 0 */
  } else {
    const int n = clz32(lo);
    e = 31 - n;
    top = lo << n;
  }
  const uint32_t i = (top >> (31 - LOGMEL_T_LOG_INDEX_BITS)) & ((1u << LOGMEL_T_LOG_INDEX_BITS) - 1);
  return logmel_log_exp_q24[e] + logmel_log_frac_q24[i];
}

int32_t logmel_log_q24(uint64_t v) { return log_q24(v); }

static inline int16_t round_q12(int32_t g) {
  const int sh = LOGMEL_T_LOG_FRAC_BITS - LOGMEL_T_OUT_FRAC_BITS;
  const int32_t q = (g >> sh) + ((g >> (sh - 1)) & 1); /* (g + 2^11) >> 12 without overflow */
  return (int16_t)(q > 32767 ? 32767 : q < -32768 ? -32768 : q);
}

int16_t logmel_round_q12(int32_t log_q24) { return round_q12(log_q24); }

#if defined(__ARM_FEATURE_DSP)
/* The log loop of emit_frame in Thumb-2 (same arithmetic as log_q24 and the rounding):
 * v = mel + floor (floor < 2^32: one ADDS/ADC), top = hi << n | lo >> (32 - n) (a
 * register shift by 32 gives 0), Q24 -> Q12 rounding as SMMULR by 2^20. r0: mel,
 * r1: logv, r2: out, r3/r4: exp/frac tables, r5: floor (argument), r6:r7: v, r8: end,
 * r11: 2^20. Two bands per loop test. */
typedef char logmel_floor_fits_32_bits[(LOGMEL_T_MEL_FLOOR) >> 32 == 0 ? 1 : -1];
typedef char logmel_bands_even[LOGMEL_BANDS % 2 == 0 ? 1 : -1];
void logmel_asm_log(const uint64_t *mel, int32_t *logv, int16_t *out, uint32_t floor);
__asm__(".section .text.logmel_asm_log,\"ax\",%progbits\n"
        ".p2align 2\n.global logmel_asm_log\n.type logmel_asm_log, %function\n.thumb_func\n"
        "logmel_asm_log:\n"
        "push {r4-r11}\n"
        "mov r5, r3\n ldr r3, 7f\n ldr r4, 8f\n"
        "add r8, r0, #8*" LOGMEL_STR(LOGMEL_BANDS) "\n"
        "mov r11, #1 << (32 - " LOGMEL_STR(LOGMEL_T_LOG_FRAC_BITS) " + " LOGMEL_STR(LOGMEL_T_OUT_FRAC_BITS) ")\n"
        "1: ldrd r6, r7, [r0], #8\n adds r6, r6, r5\n adc r7, r7, #0\n"
        "cbz r7, 3f\n"
        "clz r9, r7\n lsl r7, r7, r9\n rsb r10, r9, #32\n lsr r10, r6, r10\n orr r7, r7, r10\n"
        "rsb r9, r9, #63\n"
        "2: ubfx r10, r7, #31 - " LOGMEL_STR(LOGMEL_T_LOG_INDEX_BITS) ", #" LOGMEL_STR(LOGMEL_T_LOG_INDEX_BITS) "\n"
        "ldr r9, [r3, r9, lsl #2]\n ldr r10, [r4, r10, lsl #2]\n add r9, r9, r10\n"
        "str r9, [r1], #4\n smmulr r9, r9, r11\n strh r9, [r2], #2\n"
        "ldrd r6, r7, [r0], #8\n adds r6, r6, r5\n adc r7, r7, #0\n"
        "cbz r7, 6f\n"
        "clz r9, r7\n lsl r7, r7, r9\n rsb r10, r9, #32\n lsr r10, r6, r10\n orr r7, r7, r10\n"
        "rsb r9, r9, #63\n"
        "5: ubfx r10, r7, #31 - " LOGMEL_STR(LOGMEL_T_LOG_INDEX_BITS) ", #" LOGMEL_STR(LOGMEL_T_LOG_INDEX_BITS) "\n"
        "ldr r9, [r3, r9, lsl #2]\n ldr r10, [r4, r10, lsl #2]\n add r9, r9, r10\n"
        "str r9, [r1], #4\n smmulr r9, r9, r11\n strh r9, [r2], #2\n"
        "cmp r0, r8\n bne 1b\n"
        "pop {r4-r11}\n bx lr\n"
        "3: clz r9, r6\n lsl r7, r6, r9\n rsb r9, r9, #31\n b 2b\n"
        "6: clz r9, r6\n lsl r7, r6, r9\n rsb r9, r9, #31\n b 5b\n"
        ".p2align 2\n7: .word logmel_log_exp_q24\n8: .word logmel_log_frac_q24\n"
        ".size logmel_asm_log, . - logmel_asm_log\n.text\n");
#endif

static void stage(logmel_state *s, int id, const void *data, size_t bytes) {
  if (s->stage_fn) s->stage_fn(s->stage_user, id, data, bytes);
}

/* Frame t: y[t*320 - 400 .. t*320 + 400), from x[t*320 - 400 .. t*320 + 400]. Outside
 * [0, L) the reference reflects y: y[-i] = y[i], y[L-1+i] = y[L-1-i] (L < 0: end unknown). */
static void emit_frame(logmel_state *s, int32_t t, int32_t L) {
  int32_t *z = s->fft;
  int32_t logv[LOGMEL_BANDS];
  int16_t out[LOGMEL_BANDS];
  uint64_t mel[LOGMEL_BANDS + 2]; /* band b in mel[b + 1]; the last slot: logmel_asm_mel */
  const int32_t start = t * LOGMEL_HOP - LOGMEL_WIN / 2;

  if (start >= 0 && (L < 0 || start + LOGMEL_WIN <= L)) {
    window_radix4_x(s->x + (start - s->base), z);
  } else {
    int32_t *y = z + (LOGMEL_NFFT - LOGMEL_WIN) / 2;
    for (int m = 0; m < LOGMEL_WIN; m++) {
      int32_t i = start + m;
      if (i < 0) i = -i;
      if (L >= 0 && i > L - 1) i = 2 * (L - 1) - i;
      const int16_t *x = s->x + (i - s->base);
      y[m] = Y_FROM_X(0);
    }
    window_radix4_y(z);
  }
  fft512_rest(z);
  stage(s, LOGMEL_STAGE_FFT, z, LOGMEL_NFFT * sizeof z[0]);

  power_spectrum(z);
  if (s->stage_fn) {
    for (int k = LOGMEL_T_BIN_LO; k <= LOGMEL_T_BIN_HI; k++) {
      const uint64_t v = load_power(z, k);
      stage(s, LOGMEL_STAGE_POWER, &v, sizeof v);
    }
  }

#if defined(__ARM_FEATURE_DSP)
  logmel_asm_mel(z, mel, logmel_bin_entry, logmel_seg_len);
#else
  mel_bands(z, mel);
#endif
  stage(s, LOGMEL_STAGE_MEL, mel + 1, LOGMEL_BANDS * sizeof mel[0]);

#if defined(__ARM_FEATURE_DSP)
  logmel_asm_log(mel + 1, logv, out, (uint32_t)LOGMEL_T_MEL_FLOOR);
#else
  for (int b = 0; b < LOGMEL_BANDS; b++) {
    logv[b] = log_q24(mel[b + 1] + LOGMEL_T_MEL_FLOOR);
    /* no saturation needed: tables.py checks that every log-mel rounds into int16 */
    out[b] = (int16_t)((logv[b] + (1 << (LOGMEL_T_LOG_FRAC_BITS - LOGMEL_T_OUT_FRAC_BITS - 1))) >>
                       (LOGMEL_T_LOG_FRAC_BITS - LOGMEL_T_OUT_FRAC_BITS));
  }
#endif
  stage(s, LOGMEL_STAGE_LOG, logv, sizeof logv);
  s->fn(s->user, out);
}

/* input samples needed before frame t can be computed while streaming: x up to index
 * t*320 + 400, and at least the 514 of the shortest clip (so a too-short clip emits nothing) */
static int32_t frame_need(int32_t t) {
  const int32_t need = t * LOGMEL_HOP + LOGMEL_WIN / 2 + 1;
  return need > LOGMEL_T_MIN_Y + 1 ? need : LOGMEL_T_MIN_Y + 1;
}

#if defined(__ARM_FEATURE_DSP)
/* 32-byte blocks by LDM/STM, both pointers word-aligned; forward, so dst < src may overlap.
 * logmel_asm_copy32u: src word-aligned, dst only halfword-aligned (unaligned STR). */
void logmel_asm_copy32(void *dst, const void *src, size_t blocks);
void logmel_asm_copy32u(void *dst, const void *src, size_t blocks);
__asm__(".section .text.logmel_asm_copy32,\"ax\",%progbits\n"
        ".p2align 2\n.global logmel_asm_copy32\n.type logmel_asm_copy32, %function\n.thumb_func\n"
        "logmel_asm_copy32:\n"
        "push {r4-r10}\n"
        "add r2, r1, r2, lsl #5\n"
        "1: ldmia r1!, {r3-r10}\n stmia r0!, {r3-r10}\n cmp r1, r2\n bne 1b\n"
        "pop {r4-r10}\n bx lr\n"
        ".size logmel_asm_copy32, . - logmel_asm_copy32\n.text\n");
__asm__(".section .text.logmel_asm_copy32u,\"ax\",%progbits\n"
        ".p2align 2\n.global logmel_asm_copy32u\n.type logmel_asm_copy32u, %function\n.thumb_func\n"
        "logmel_asm_copy32u:\n"
        "push {r4-r10}\n"
        "add r2, r1, r2, lsl #5\n"
        "1: ldmia r1!, {r3-r10}\n"
        "str r3, [r0], #4\n str r4, [r0], #4\n str r5, [r0], #4\n str r6, [r0], #4\n"
        "str r7, [r0], #4\n str r8, [r0], #4\n str r9, [r0], #4\n str r10, [r0], #4\n"
        "cmp r1, r2\n bne 1b\n"
        "pop {r4-r10}\n bx lr\n"
        ".size logmel_asm_copy32u, . - logmel_asm_copy32u\n.text\n");
#endif

/* memmove for dst <= src (or disjoint): 32-byte blocks from a word-aligned source (the
 * Cortex-M4 stores unaligned words; LDM/STM where dst is aligned too) */
static void copy_samples(int16_t *dst, const int16_t *src, size_t n) {
#if defined(__ARM_FEATURE_DSP)
  if (n >= 32) {
    if ((uintptr_t)src & 3u) {
      *dst++ = *src++;
      n--;
    }
    const size_t blocks = n / 16;
    if ((uintptr_t)dst & 3u) {
      logmel_asm_copy32u(dst, src, blocks);
    } else {
      logmel_asm_copy32(dst, src, blocks);
    }
    dst += 16 * blocks;
    src += 16 * blocks;
    n -= 16 * blocks;
  }
#endif
  memmove(dst, src, n * sizeof src[0]);
}

void logmel_begin(logmel_state *s, logmel_frame_fn fn, void *user) {
  s->fn = fn;
  s->user = user;
  s->base = s->count = s->n_in = s->next_frame = 0;
  s->ended = 0;
  s->stage_fn = NULL; /* set it after logmel_begin */
  s->stage_user = NULL;
}

void logmel_set_stage_hook(logmel_state *s, logmel_stage_fn fn, void *user) {
  s->stage_fn = fn;
  s->stage_user = user;
}

void logmel_push(logmel_state *s, const int16_t *pcm, size_t n) {
  if (s->ended) return;
  while (n > 0) {
    if (s->count == LOGMEL_XBUF) {
      /* drop what the next frame no longer needs: its window starts at x[t*320 - 400] */
      int32_t keep = s->next_frame * LOGMEL_HOP - LOGMEL_WIN / 2;
      if (keep < 0) keep = 0;
      const int32_t drop = keep - s->base;
      copy_samples(s->x, s->x + drop, (size_t)(s->count - drop));
      s->base = keep;
      s->count -= drop;
    }
    const int32_t need = frame_need(s->next_frame);
    size_t m = (size_t)(need - s->n_in);
    if (m > n) m = n;
    if (m > (size_t)(LOGMEL_XBUF - s->count)) m = (size_t)(LOGMEL_XBUF - s->count);
    copy_samples(s->x + s->count, pcm, m);
    pcm += m;
    n -= m;
    s->count += (int32_t)m;
    s->n_in += (int32_t)m;
    if (s->n_in == need) emit_frame(s, s->next_frame++, -1);
  }
}

int logmel_end(logmel_state *s) {
  if (s->ended) return -1;
  s->ended = 1;
  const int32_t L = s->n_in - 1; /* pre-emphasised samples */
  if (L < LOGMEL_T_MIN_Y) return -1;
  const int32_t frames = 1 + L / LOGMEL_HOP;
  while (s->next_frame < frames) emit_frame(s, s->next_frame++, L);
  return (int)frames;
}

void logmel_mean_q12(const int32_t sum[LOGMEL_BANDS], int32_t n_frames, int16_t out[LOGMEL_BANDS]) {
  for (int b = 0; b < LOGMEL_BANDS; b++) {
    if (n_frames < 1) {
      out[b] = 0;
      continue;
    }
    const int32_t half = n_frames / 2;
    const int32_t adj = sum[b] > 0 ? sum[b] + half : sum[b] - half;
    const int32_t q = adj / n_frames; /* C truncation: half away from zero overall */
    out[b] = (int16_t)(q > 32767 ? 32767 : q < -32768 ? -32768 : q);
  }
}

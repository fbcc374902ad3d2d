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

/* Patches of pixels fo0 .. fo0 + nb - 1 of the output row, doubled: 2 * (x - zp_in). */
static void build_patches(const nn_conv_t *p, const int8_t *const *rows, int fo0, int nb, int n, int len,
                          int16_t *patch)
{
    const int k = p->k, s = p->stride, pad = p->pad, cin = p->cin;
    const int32_t zp = p->zp_in;
    if (k == 1 && (cin & 3) == 0) { /* pointwise: the pixels are contiguous */
        const int8_t *x = rows[0] + (size_t)fo0 * cin;
        for (int g = 0; g < nb * cin; g += 4) nn_widen4x2(x + g, zp, patch + g);
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
                    for (int ci = 0; ci < cin; ++ci, ++e) patch[patch_index(e, n)] = (int16_t)(2 * (x[ci] - zp));
                } else {
                    for (int ci = 0; ci < cin; ++ci, ++e) patch[patch_index(e, n)] = 0;
                }
            }
        }
        for (; e < len; ++e) patch[e] = 0;
    }
}

/* One output channel over a block of nb (doubled) patches of `words` words each;
 * bias2 = 2 * bias, and the channel's requantization is the fast form. */
static inline __attribute__((always_inline)) void dot_block(const uint32_t *patch, int nb, const uint32_t *wv,
                                                            int words, int32_t bias2, nn_rqz_t rq, nn_out_t o,
                                                            int kind, int8_t *out, int stride)
{
    uint32_t w[8];
    if (words <= 8) {
        for (int j = 0; j < words; ++j) w[j] = wv[j];
    }
    for (int8_t *const end = out + nb * stride; out != end; patch += words, out += stride) {
        int32_t acc = bias2;
        if (words <= 8 && (words & 1) == 0) { /* patch words two at a time (LDRD) */
            _Pragma("GCC unroll 4") for (int j = 0; j < words; j += 2) {
                uint32_t a, b;
                nn_load2(patch + j, &a, &b);
                acc = nn_smlad(w[j], a, acc);
                acc = nn_smlad(w[j + 1], b, acc);
            }
        } else if (words <= 8) {
            _Pragma("GCC unroll 8") for (int j = 0; j < words; ++j) acc = nn_smlad(w[j], patch[j], acc);
        } else {
            _Pragma("GCC unroll 4") for (int j = 0; j < words; ++j) acc = nn_smlad(wv[j], patch[j], acc);
        }
        *out = nn_outz_k(nn_rqz_apply(acc, rq), o, kind);
    }
}

/* The same for a channel outside the fast requantization (a left shift, or more than 22
 * right shifts): the doubled dot product halved (exactly: it is even) plus the bias. */
static void dot_block_slow(const uint32_t *patch, int nb, const uint32_t *wv, int words, int32_t bias, nn_rq_t rq,
                           nn_out_t o, int8_t *out, int stride)
{
    for (int i = 0; i < nb; ++i, patch += words, out += stride) {
        int32_t acc = 0;
        for (int j = 0; j < words; ++j) acc = nn_smlad(wv[j], patch[j], acc);
        *out = nn_out_apply(nn_rq_apply(bias + acc / 2, rq), o);
    }
}

#define NN_DOT_BLOCK(WORDS, KIND)                                                                               \
    static void dot_block_##WORDS##_##KIND(const uint32_t *patch, int nb, const uint32_t *wv, int words,        \
                                           int32_t bias2, nn_rqz_t rq, nn_out_t o, int8_t *out, int stride)     \
    {                                                                                                          \
        (void)words;                                                                                           \
        dot_block(patch, nb, wv, WORDS + 0 ? WORDS + 0 : words, bias2, rq, o, KIND, out, stride);              \
    }

typedef void (*dot_block_fn)(const uint32_t *, int, const uint32_t *, int, int32_t, nn_rqz_t, nn_out_t, int8_t *, int);

/* One instance, for any output stage: pointwise convs (mn01's but the stem) take pointwise_row. */
NN_DOT_BLOCK(, NN_OUT_ANY)

#if NN_DSP
#define NN_STEM_F_MAX 256 /* input mel bands of the one-channel 3x3 path */
#define NN_STEM_C_MAX 32  /* output channels of the one-channel 3x3 path */

/* 3x3 conv of a one-channel input (the stem): the three input rows are widened
 * once into int16 (x - zp_in) with a zero column on each side; a pixel then
 * reads two words per row, (x[f-1], x[f]) and (x[f+1], .), and each output
 * channel is three SMLADs and three halfword MACs with weights prepared as
 * (w[kt][0], w[kt][1]) pairs, (w[0][2], w[1][2]) and w[2][2]. */
typedef struct {
    uint32_t w[5];
    int32_t bias;
    nn_rqz_t rq;
} stem_channel_t;

#define NN_STEM_ROW (NN_STEM_F_MAX + 6) /* int16 per widened input row */

/* Channel by channel: first the accumulators of the row (two pixels per pass; with
 * stride 2 the second pixel's first words are the first pixel's second ones), then
 * their output stage, each loop with its constants in registers. */
static inline __attribute__((always_inline)) void stem_pixels(int16_t x16[3][NN_STEM_ROW],
                                                              const stem_channel_t *wq, int S, int f_out, int cout,
                                                              nn_out_t o, int kind, int8_t *out)
{
    int32_t acc[NN_STEM_F_MAX + 1];
    for (int co = 0; co < cout; ++co) {
        const uint32_t w0 = wq[co].w[0], w1 = wq[co].w[1], w2 = wq[co].w[2], w3 = wq[co].w[3], w4 = wq[co].w[4];
        const int32_t bias = wq[co].bias;
        const int16_t *x = &x16[0][0]; /* input column fo * S - 1 */
        for (int fo = 0; fo < f_out; fo += 2, x += 2 * S) {
            int32_t a0 = nn_smlad(nn_load32(x), w0, bias), a1 = nn_smlad(nn_load32(x + S), w0, bias);
            a0 = nn_smlad(nn_load32(x + NN_STEM_ROW), w1, a0);
            a1 = nn_smlad(nn_load32(x + NN_STEM_ROW + S), w1, a1);
            a0 = nn_smlad(nn_load32(x + 2 * NN_STEM_ROW), w2, a0);
            a1 = nn_smlad(nn_load32(x + 2 * NN_STEM_ROW + S), w2, a1);
            a0 = nn_smlabb(nn_load32(x + 2), w3, a0);
            a1 = nn_smlabb(nn_load32(x + S + 2), w3, a1);
            a0 = nn_smlabt(nn_load32(x + NN_STEM_ROW + 2), w3, a0);
            a1 = nn_smlabt(nn_load32(x + NN_STEM_ROW + S + 2), w3, a1);
            a0 = nn_smlabb(nn_load32(x + 2 * NN_STEM_ROW + 2), w4, a0);
            a1 = nn_smlabb(nn_load32(x + 2 * NN_STEM_ROW + S + 2), w4, a1);
            acc[fo] = a0;
            acc[fo + 1] = a1;
        }
        const nn_rqz_t q = wq[co].rq;
        nn_outz_row(acc, f_out, q, o, kind, out + co, cout);
    }
}

static int conv3x3_c1_fits(const nn_conv_t *p, int stride, int kind)
{
    if (!(p->cin == 1 && p->k == 3 && p->pad == 1 && p->stride == stride && p->f_in <= NN_STEM_F_MAX &&
          p->cout <= NN_STEM_C_MAX && nn_out_kind(p->act_min, p->act_max, p->lut) == kind))
        return 0;
    for (int co = 0; co < p->cout; ++co)
        if (!nn_rqz_ok(p->mult[co], p->shift[co])) return 0;
    return 1;
}

/* The stride-2 stem with eight output channels (mn01's in_conv), in one pass over the output pixels,
 * all eight channels of a pixel at a time: its nine inputs are read once (a "stream" of six words per
 * pixel, built per row below), each channel's prepared weights and output constants are two LDMs
 * (a record of nine words), and the output stage (fast requantization, saturation, table) follows the
 * five dual multiplies directly: 12 instructions per output value on the M4 (nn_stem8_run_m4). The table
 * is the activation table extended over every value the channel's requantization can reach (saturation
 * included), so no SSAT.
 * The input zero point is folded into the bias (so padding is the value zp_in itself, not 0), and the
 * doubled bias rides as the top lane of one weight word against a constant 2 in the stream. */
#define NN_STEM8_BLOCK 64 /* output pixels per stream block (1536 bytes of stack) */

/* Per pixel j: V(2j-1), V(2j), V(2j+1) (V(c): input rows 0 and 1 of column c as an int16 pair),
 * (r2[2j-1], r2[2j+1]), (r2[2j], 2), and a last-pixel flag. */
enum { NN_STEM8_WORDS = 6 };

typedef nn_stem8_rec_t stem8_rec_t;

/* Weak references: no export-time records unless a generated network_data.c defines them. */
extern const nn_stem8_prep_t nn_stem8_preps[] __attribute__((weak));
extern const int nn_stem8_num_preps __attribute__((weak));

static inline uint32_t stem8_pair(int32_t lo, int32_t hi)
{
    return (uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16;
}

/* Input value of column c, the zero point outside the row (the caller gives a row of zp_in for a padding row). */
static inline int32_t stem8_px(const int8_t *r, int c, int f_in, int32_t zp)
{
    return c >= 0 && c < f_in ? r[c] : zp;
}

/* One pixel's words (the row ends: compiled for size). */
static __attribute__((noinline, cold)) void stem8_scalar_pixel(const int8_t *const *rows, int f_in, int j, int32_t zp,
                                                               uint32_t *s)
{
    const int8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
    for (int d = 0; d < 3; ++d)
        s[d] = stem8_pair(stem8_px(r0, 2 * j - 1 + d, f_in, zp), stem8_px(r1, 2 * j - 1 + d, f_in, zp));
    s[3] = stem8_pair(stem8_px(r2, 2 * j - 1, f_in, zp), stem8_px(r2, 2 * j + 1, f_in, zp));
    s[4] = stem8_pair(stem8_px(r2, 2 * j, f_in, zp), 2);
    s[5] = 1;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__) && !defined(NN_EMULATE_DSP)
/* r0 = stream, r1 = the eight records, r2 = out. Registers: r0-r4 the pixel's input words, r5-r9 a channel's
 * weights then its output constants, r10 the accumulator, r11 the records, r12 out, lr the stream. The flags
 * of the last-pixel test (flag word 0) survive the channels (no instruction there sets them). */
void nn_stem8_run_m4(const uint32_t *s, const stem8_rec_t *rec, int8_t *out);
_Static_assert(sizeof(stem8_rec_t) == 36, "the M4 loop's record: nine words");
__asm__(".pushsection .text.nn_stem8_run_m4,\"ax\",%progbits\n"
        ".syntax unified\n"
        ".thumb\n"
        ".p2align 2\n"
        ".global nn_stem8_run_m4\n"
        ".type nn_stem8_run_m4, %function\n"
        ".thumb_func\n"
        "nn_stem8_run_m4:\n"
        "    push {r4-r11, lr}\n"
        "    mov lr, r0\n"
        "    mov r11, r1\n"
        "    mov r12, r2\n"
        "1:  ldmia lr!, {r0-r5}\n"
        "    cmp r5, #0\n"
        "    .rept 8\n"
        "    ldmia r11!, {r5-r9}\n"
        "    smuad r10, r0, r5\n"
        "    smlad r10, r1, r6, r10\n"
        "    smlad r10, r2, r7, r10\n"
        "    smlad r10, r3, r8, r10\n"
        "    smlad r10, r4, r9, r10\n"
        "    ldmia r11!, {r5-r8}\n"
        "    smmlar r9, r10, r5, r6\n"
        "    add r9, r9, r10, asr #31\n"
        "    asr r9, r9, r7\n"
        "    ldrb r9, [r8, r9]\n"
        "    strb r9, [r12], #1\n"
        "    .endr\n"
        "    sub r11, r11, #288\n"
        "    bne 1b\n"
        "    pop {r4-r11, pc}\n"
        ".size nn_stem8_run_m4, .-nn_stem8_run_m4\n"
        ".popsection\n");
#define stem8_run nn_stem8_run_m4
#else
/* The same loop in C (the host's emulated DSP build, and compilers without GNU assembly). */
static void stem8_run(const uint32_t *s, const stem8_rec_t *rec, int8_t *out)
{
    for (;; s += NN_STEM8_WORDS) {
        for (int co = 0; co < 8; ++co) {
            const stem8_rec_t *r = rec + co;
            int32_t acc = nn_smlad(s[0], r->w[0], 0);
            for (int i = 1; i < 5; ++i) acc = nn_smlad(s[i], r->w[i], acc);
            const nn_rqz_t q = {r->mult, r->c, r->rsh};
            *out++ = r->tab[nn_rqz_apply(acc, q)];
        }
        if (!s[5]) return;
    }
}
#endif

/* The stream of pixel pairs: four input columns c .. c + 3 (c = 2j, one aligned word per row) give the
 * words of pixels j and j + 1; V(c - 1) and r2[c - 1] come from the previous pair (vprev, and the top of
 * o2prev). Flag words nonzero (the caller zeroes the block's last). */
typedef struct {
    const int8_t *r0, *r1, *r2;
    uint32_t *s;
    uint32_t vprev, o2prev;
    int32_t n; /* pairs, >= 1 */
} stem8_pairs_t;

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__) && !defined(NN_EMULATE_DSP)
/* 21.5 instructions per pair. r0 V(c-1), r1-r7 and r11 the words (r5 keeps o2 for the next pair's r2[c-1]),
 * r8-r10 the rows, r12 the stream, lr 2 << 16 (the bias lane's constant, the flags) plus the pairs left. */
#define NN_STEM8_PAIR                                                                                          \
    "    ldr r11, [r10], #4\n"          /* row 2: c .. c+3 */                                                  \
    "    ldr r3, [r9], #4\n"            /* row 1 */                                                            \
    "    ldr r4, [r8], #4\n"            /* row 0 */                                                            \
    "    sxtb16 r1, r4\n"               /* e0 = (c, c+2) */                                                    \
    "    sxtb16 r2, r4, ror #8\n"       /* o0 = (c+1, c+3) */                                                  \
    "    sxtb16 r7, r3\n"               /* e1 */                                                               \
    "    sxtb16 r6, r3, ror #8\n"       /* o1 */                                                               \
    "    pkhtb r3, r7, r1, asr #16\n"   /* V(c+2) */                                                           \
    "    pkhbt r1, r1, r7, lsl #16\n"   /* V(c) */                                                             \
    "    pkhtb r4, r6, r2, asr #16\n"   /* V(c+3) */                                                           \
    "    pkhbt r2, r2, r6, lsl #16\n"   /* V(c+1) */                                                           \
    "    sxtb16 r6, r11, ror #24\n"     /* (r2[c+3], r2[c+1]) */                                               \
    "    pkhtb r6, r6, r5, asr #16\n"   /* (r2[c-1], r2[c+1]) */                                               \
    "    sxtb16 r5, r11, ror #8\n"      /* o2 = (r2[c+1], r2[c+3]) */                                          \
    "    sxtb16 r11, r11\n"             /* e2 = (r2[c], r2[c+2]) */                                            \
    "    pkhbt r7, r11, lr\n"           /* (r2[c], 2) */                                                       \
    "    pkhtb r11, lr, r11, asr #16\n" /* (r2[c+2], 2) */                                                     \
    "    stmia r12!, {r0, r1, r2, r6, r7, lr}\n"                                                               \
    "    stmia r12!, {r2, r3, r4, r5, r11, lr}\n"                                                              \
    "    mov r0, r4\n"
void nn_stem8_pairs_m4(const stem8_pairs_t *a);
__asm__(".pushsection .text.nn_stem8_pairs_m4,\"ax\",%progbits\n"
        ".syntax unified\n"
        ".thumb\n"
        ".p2align 2\n"
        ".global nn_stem8_pairs_m4\n"
        ".type nn_stem8_pairs_m4, %function\n"
        ".thumb_func\n"
        "nn_stem8_pairs_m4:\n"
        "    push {r4-r11, lr}\n"
        "    ldmia r0, {r8, r9, r10, r12}\n"
        "    ldr r5, [r0, #20]\n"
        "    ldr lr, [r0, #24]\n"
        "    ldr r0, [r0, #16]\n"
        "    add lr, lr, #0x20000\n"
        "    tst lr, #1\n" /* an odd count: one pair first (the loop makes two per pass) */
        "    itt ne\n"
        "    addne lr, lr, #1\n"
        "    bne 2f\n"
        "1:\n" NN_STEM8_PAIR "2:\n" NN_STEM8_PAIR
        "    sub lr, lr, #2\n"
        "    cmp lr, #0x20000\n"
        "    bne 1b\n"
        "    pop {r4-r11, pc}\n"
        ".size nn_stem8_pairs_m4, .-nn_stem8_pairs_m4\n"
        ".popsection\n");
#define stem8_pairs nn_stem8_pairs_m4
#else
static void stem8_pairs(const stem8_pairs_t *a)
{
    const uint32_t k16 = 2u << 16;
    uint32_t vprev = a->vprev, o2p = a->o2prev, *s = a->s;
    for (int32_t i = 0; i < a->n; ++i, s += 2 * NN_STEM8_WORDS) {
        const uint32_t x0 = nn_load32(a->r0 + 4 * i), x1 = nn_load32(a->r1 + 4 * i), x2 = nn_load32(a->r2 + 4 * i);
        const uint32_t e0 = nn_sxtb16(x0), o0 = nn_sxtb16_ror8(x0), e1 = nn_sxtb16(x1), o1 = nn_sxtb16_ror8(x1);
        const uint32_t e2 = nn_sxtb16(x2), o2 = nn_sxtb16_ror8(x2);
        const uint32_t v1 = nn_pack_lo(o0, o1), v3 = nn_pack_hi(o0, o1);
        s[0] = vprev;
        s[1] = nn_pack_lo(e0, e1);
        s[2] = v1;
        s[3] = (o2p >> 16) | (o2 << 16);
        s[4] = nn_pack_lo(e2, k16 >> 16);
        s[6] = v1;
        s[7] = nn_pack_hi(e0, e1);
        s[8] = v3;
        s[9] = o2;
        s[10] = nn_pack_hi(e2, k16);
        s[5] = s[11] = 1;
        vprev = v3;
        o2p = o2;
    }
}
#endif

/* The stream of pixels j0 .. j1 - 1 (j0 even): pairs where their four columns are inside the row, single
 * pixels at the ends; the last pixel's flag 0. */
static void stem8_stream(const int8_t *const *rows, int f_in, int j0, int j1, int32_t zp, uint32_t *s)
{
    int j = j0;
    int n = (f_in - 2 * j0) / 4; /* pairs whose columns 2j .. 2j + 3 are inside */
    if (n > (j1 - j0) / 2) n = (j1 - j0) / 2;
    if (n > 0) {
        stem8_pairs_t a;
        a.r0 = rows[0] + 2 * j0;
        a.r1 = rows[1] + 2 * j0;
        a.r2 = rows[2] + 2 * j0;
        a.s = s;
        a.vprev = stem8_pair(stem8_px(rows[0], 2 * j0 - 1, f_in, zp), stem8_px(rows[1], 2 * j0 - 1, f_in, zp));
        a.o2prev = (uint32_t)stem8_px(rows[2], 2 * j0 - 1, f_in, zp) << 16;
        a.n = n;
        stem8_pairs(&a);
        j += 2 * n;
        s += 2 * n * NN_STEM8_WORDS;
    }
    for (; j < j1; ++j, s += NN_STEM8_WORDS) stem8_scalar_pixel(rows, f_in, j, zp, s);
    s[-1] = 0;
}

/* The records of the eight channels; 0 where a channel's bias with the input zero point folded in does not
 * fit the int16 lane (then the general stem loop below). */
static __attribute__((cold)) int stem8_records(const nn_conv_t *p, const int8_t *tab, stem8_rec_t *rec)
{
    const int32_t zp = p->zp_in;
    for (int co = 0; co < 8; ++co) {
        const int8_t *w = p->weights + co * 9;
        int32_t sum = 0;
        for (int i = 0; i < 9; ++i) sum += w[i];
        const int32_t b = p->bias[co] - zp * sum;
        if (b < -32768 || b > 32767) return 0;
        rec[co].w[0] = stem8_pair(2 * w[0], 2 * w[3]);
        rec[co].w[1] = stem8_pair(2 * w[1], 2 * w[4]);
        rec[co].w[2] = stem8_pair(2 * w[2], 2 * w[5]);
        rec[co].w[3] = stem8_pair(2 * w[6], 2 * w[8]);
        rec[co].w[4] = stem8_pair(2 * w[7], b);
        const nn_rqz_t q = nn_rqz_make(p->mult[co], p->shift[co], p->zp_out);
        rec[co].mult = q.mult;
        rec[co].c = q.c;
        rec[co].rsh = q.rsh;
        rec[co].tab = tab;
    }
    return 1;
}

/* The lowest and highest requantized value (zero point included, not saturated) channel co can reach:
 * its accumulator is monotone in each input, and the requantization in the accumulator. */
static __attribute__((cold)) void stem8_range(const nn_conv_t *p, int co, int32_t *lo, int32_t *hi)
{
    int32_t a_lo = p->bias[co], a_hi = p->bias[co];
    for (int i = 0; i < 9; ++i) {
        const int32_t w = p->weights[co * 9 + i], u = w * (-128 - p->zp_in), v = w * (127 - p->zp_in);
        a_lo += u < v ? u : v;
        a_hi += u < v ? v : u;
    }
    *lo = nn_requant(a_lo, p->mult[co], p->shift[co]) + p->zp_out;
    *hi = nn_requant(a_hi, p->mult[co], p->shift[co]) + p->zp_out;
}

/* The op's export-time records (network_data.c), or NULL. */
static const nn_stem8_rec_t *stem8_prepared(const nn_conv_t *p)
{
    const int n = &nn_stem8_num_preps ? nn_stem8_num_preps : 0;
    for (int i = 0; i < n; ++i)
        if (nn_stem8_preps[i].conv == p) return nn_stem8_preps[i].rec;
    return NULL;
}

static __attribute__((noinline)) void stem8_row(const nn_conv_t *p, const int8_t *const *rows, int8_t *out,
                                                const stem8_rec_t *rec)
{
    const int f_in = p->f_in, f_out = p->f_out;
    int8_t zrow[NN_STEM_F_MAX];
    const int8_t *r[3];
    for (int kt = 0; kt < 3; ++kt) {
        r[kt] = rows[kt];
        if (!r[kt]) { /* a padding row: the zero point (folded into the bias) */
            memset(zrow, (int8_t)p->zp_in, (size_t)f_in);
            r[kt] = zrow;
        }
    }
    uint32_t s[NN_STEM8_BLOCK * NN_STEM8_WORDS] __attribute__((aligned(8)));
    for (int j0 = 0; j0 < f_out; j0 += NN_STEM8_BLOCK) {
        const int j1 = f_out - j0 < NN_STEM8_BLOCK ? f_out : j0 + NN_STEM8_BLOCK;
        stem8_stream(r, f_in, j0, j1, p->zp_in, s);
        stem8_run(s, rec, out + (size_t)j0 * 8);
    }
}

/* The records prepared here (an op without export-time ones); 0 where they do not fit. */
#define NN_STEM8_EXT 512 /* requantized values of the per-row extended table: -512 .. 511 */

/* The records and the extended table prepared here (an op without export-time ones: not the generated
 * network's, so compiled for size); 0 where they do not fit (then the general stem loop). */
static __attribute__((noinline, cold)) int stem8_row_unprepared(const nn_conv_t *p, const int8_t *const *rows, int8_t *out,
                                                          const nn_out_t *o)
{
    int8_t ext[2 * NN_STEM8_EXT];
    stem8_rec_t rec[8];
    for (int co = 0; co < 8; ++co) {
        int32_t lo, hi;
        stem8_range(p, co, &lo, &hi);
        if (lo < -NN_STEM8_EXT || hi >= NN_STEM8_EXT) return 0;
    }
    memset(ext, o->tab[-128], NN_STEM8_EXT - 128);
    memcpy(ext + NN_STEM8_EXT - 128, o->tab - 128, 256);
    memset(ext + NN_STEM8_EXT + 128, o->tab[127], NN_STEM8_EXT - 128);
    if (!stem8_records(p, ext + NN_STEM8_EXT, rec)) return 0;
    stem8_row(p, rows, out, rec);
    return 1;
}

/* The stem's row: each export-time instance (below) has its own copy, stride and output stage constant. */
static inline __attribute__((always_inline)) void conv3x3_c1_row(const nn_conv_t *p, const int8_t *const *rows,
                                                                 int8_t *out, int S, int kind)
{
    const int f_in = p->f_in, cout = p->cout;
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    if (S == 2 && cout == 8 && stem8_row_unprepared(p, rows, out, &o)) return;
    int16_t x16[3][NN_STEM_ROW] __attribute__((aligned(4)));
    stem_channel_t wq[NN_STEM_C_MAX];
    const uint32_t zz = ((uint32_t)(uint16_t)p->zp_in << 16) | (uint16_t)p->zp_in;
    for (int kt = 0; kt < 3; ++kt) {
        int16_t *r = x16[kt];
        int f = 0;
        if (rows[kt]) {
            for (; f + 4 <= f_in; f += 4) { /* natural order: (x0, x1), (x2, x3) */
                uint32_t v = nn_load32(rows[kt] + f);
                uint32_t e = nn_ssub16(nn_sxtb16(v), zz), d = nn_ssub16(nn_sxtb16_ror8(v), zz);
                uint32_t lo = (e & 0xffffu) | (d << 16), hi = (e >> 16) | (d & 0xffff0000u);
                memcpy(&r[f + 1], &lo, 4);
                memcpy(&r[f + 3], &hi, 4);
            }
            for (; f < f_in; ++f) r[f + 1] = (int16_t)(rows[kt][f] - p->zp_in);
        } else {
            for (; f < f_in; ++f) r[f + 1] = 0;
        }
        r[0] = 0;
        r[f_in + 1] = r[f_in + 2] = r[f_in + 3] = r[f_in + 4] = r[f_in + 5] = 0; /* the last pass reads to f_in + 4 */
    }
    for (int co = 0; co < cout; ++co) { /* doubled weights and bias (nn_rqz_apply) */
        const int8_t *w = p->weights + co * 9;
        for (int kt = 0; kt < 3; ++kt) {
            wq[co].w[kt] = (uint16_t)(2 * w[3 * kt]) | (uint32_t)(uint16_t)(2 * w[3 * kt + 1]) << 16;
        }
        wq[co].w[3] = (uint16_t)(2 * w[2]) | (uint32_t)(uint16_t)(2 * w[5]) << 16;
        wq[co].w[4] = (uint16_t)(2 * w[8]);
        wq[co].bias = 2 * p->bias[co];
        wq[co].rq = nn_rqz_make(p->mult[co], p->shift[co], p->zp_out);
    }
    stem_pixels(x16, wq, S, p->f_out, cout, o, kind, out);
}
#endif

/* Pointwise convs (k = 1, stride 1): one path per channel count of mn01, reached through the
 * export-time instances (the exporter links in only those its network uses); other pointwise convs,
 * and ops a path does not take, go to nn_conv2d_row. Each path prepares, once per row, a record per
 * output channel (its widened weights, bias and fast requantization constants) that the inner loop
 * reads with LDMs, and writes the outputs pixel by pixel. */

/* Eight input channels: pixel by pixel, the pixel's eight inputs widened once into four registers
 * (SXTB16, no zero point: it is folded into the bias) and every output channel a record of eight words
 * prepared once per row: its four doubled weight pairs in the same order, 2 bias - 2 zp_in sum(w), and
 * the fast requantization (mult, c, rsh). An output is then two LDMs, four SMLADs, the requantization
 * and one STRB. Every channel must be in the fast requantization, the channel count a multiple of 4. */
#define NN_PW8_COUT_MAX 64 /* 2 KB of records on the stack */

typedef struct {
    uint32_t w[4];
    int32_t b2, mult, c, rsh;
} pw8_rec_t;

/* The records of the row; 0 if a channel is outside the fast requantization. The zero point folded in:
 * 2 bias + sum 2 w (x - zp) = (2 bias - zp sum 2 w) + sum 2 w x. */
static int pw8_records(const nn_conv_t *p, pw8_rec_t *rec)
{
    const int8_t *w = p->weights, *const w_end = w + 8 * p->cout;
    const int32_t *bias = p->bias, *mult = p->mult;
    const int8_t *shift = p->shift;
    const uint32_t nzz = ((uint32_t)(uint16_t)-p->zp_in << 16) | (uint16_t)-p->zp_in;
    const int32_t zo = 2 * p->zp_out + 1; /* c = 2^(R-1) + zp_out 2^R = (2 zp_out + 1) 2^R / 2 */
    for (; w != w_end; w += 8, ++rec) {
        const int32_t m = *mult++, r = -*shift++;
        if (m < 0 || (uint32_t)(r - 1) >= NN_RQZ_RSH_MAX) return 0; /* nn_rqz_ok */
        const uint32_t W0 = nn_load32(w), W1 = nn_load32(w + 4);
        uint32_t a = nn_sxtb16(W0), b = nn_sxtb16_ror8(W0), c = nn_sxtb16(W1), d = nn_sxtb16_ror8(W1);
        a = nn_sadd16(a, a);
        b = nn_sadd16(b, b);
        c = nn_sadd16(c, c);
        d = nn_sadd16(d, d);
        rec->w[0] = a;
        rec->w[1] = b;
        rec->w[2] = c;
        rec->w[3] = d;
        rec->b2 = nn_smlad(nn_sadd16(nn_sadd16(a, b), nn_sadd16(c, d)), nzz, 2 * *bias++);
        rec->mult = m;
        rec->c = (zo << r) >> 1;
        rec->rsh = r;
    }
    return 1;
}

static inline int pw8_fits(const nn_conv_t *p)
{
    return p->cout <= NN_PW8_COUT_MAX && (p->cout & 3) == 0 && p->f_out > 0;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
/* One output channel: r2-r5 the pixel's widened inputs, r6 the records, lr the output (LUT: r1 the
 * table + 128). r7 is free: the kernels are built optimised (no frame pointer). */
#define NN_PW8_CH(LUT)                                                                                         \
    "ldmia r6!, {r7, r8, r9, r10, r11}\n\t"                                                                    \
    "smlad r11, r7, r2, r11\n\t"                                                                               \
    "smlad r11, r8, r3, r11\n\t"                                                                               \
    "smlad r11, r9, r4, r11\n\t"                                                                               \
    "smlad r11, r10, r5, r11\n\t"                                                                              \
    "ldmia r6!, {r7, r8, r9}\n\t"                                                                              \
    "smmlar r7, r11, r7, r8\n\t"                                                                               \
    "add r7, r7, r11, asr #31\n\t"                                                                             \
    "asr r7, r7, r9\n\t"                                                                                       \
    "ssat r7, #8, r7\n\t" LUT "strb r7, [lr], #1\n\t"

#define NN_PW8_CH1                                                                                             \
    "ldmia r12!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"                                                        \
    "smlad r8, r4, r0, r8\n\t"                                                                                 \
    "smlad r8, r5, r1, r8\n\t"                                                                                 \
    "smlad r8, r6, r2, r8\n\t"                                                                                 \
    "smlad r8, r7, r3, r8\n\t"                                                                                 \
    "smmlar r4, r8, r9, r10\n\t"                                                                               \
    "add r4, r4, r8, asr #31\n\t"                                                                              \
    "asr r4, r4, r11\n\t"                                                                                      \
    "ssat r4, #8, r4\n\t"                                                                                      \
    "strb r4, [lr], #1\n\t"

/* Every core register but sp and pc is in use: r7 too, also where the build keeps a frame pointer
 * (optimize("omit-frame-pointer") frees it in this function). */
static __attribute__((noinline, optimize("omit-frame-pointer"))) void pw8_pixels(const int8_t *x, const int8_t *x_end,
                                                                                 const pw8_rec_t *rec, int cout,
                                                                                 int8_t *out, const int8_t *tab)
{
    register const int8_t *r0 __asm__("r0") = x;
    register const pw8_rec_t *r6 __asm__("r6") = rec;
    register int8_t *lr __asm__("lr") = out;
    register const int8_t *r2 __asm__("r2") = x_end;
    register const pw8_rec_t *r12 __asm__("r12") = rec + cout;
    if (!tab) {
        /* no table: a record in one LDM (r4-r11), the pixel's inputs in r0-r3, r12 the records, lr the
         * output; [sp] x, [sp, #4] x_end, [sp, #8] the first record, [sp, #12] the records' end */
        __asm__ volatile(
            "push {r0, r2, r6, r12}\n\t"
            "1:\n\t"
            "ldr r4, [sp]\n\t"
            "ldr r0, [r4], #4\n\t"
            "ldr r2, [r4], #4\n\t"
            "str r4, [sp]\n\t"
            "sxtb16 r1, r0, ror #8\n\t"
            "sxtb16 r0, r0\n\t"
            "sxtb16 r3, r2, ror #8\n\t"
            "sxtb16 r2, r2\n\t"
            "ldr r12, [sp, #8]\n\t"
            "2:\n\t" NN_PW8_CH1 NN_PW8_CH1 NN_PW8_CH1 NN_PW8_CH1
            "ldr r4, [sp, #12]\n\t"
            "cmp r12, r4\n\t"
            "bne 2b\n\t"
            "ldrd r4, r5, [sp]\n\t"
            "cmp r4, r5\n\t"
            "bne 1b\n\t"
            "add sp, sp, #16\n\t"
            : "+r"(r0), "+r"(r2), "+r"(r6), "+r"(r12), "+r"(lr)
            :
            : "r1", "r3", "r4", "r5", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    } else {
        /* r1: the table + 128; [sp]: x_end, [sp, #4]: the first record */
        register const int8_t *r1 __asm__("r1") = tab;
        __asm__ volatile(
            "push {r2, r6}\n\t"
            "1:\n\t"
            "ldr r2, [r0], #4\n\t"
            "ldr r4, [r0], #4\n\t"
            "sxtb16 r3, r2, ror #8\n\t"
            "sxtb16 r2, r2\n\t"
            "sxtb16 r5, r4, ror #8\n\t"
            "sxtb16 r4, r4\n\t"
            "ldr r6, [sp, #4]\n\t"
            "2:\n\t" NN_PW8_CH("ldrsb r7, [r1, r7]\n\t") NN_PW8_CH("ldrsb r7, [r1, r7]\n\t")
            NN_PW8_CH("ldrsb r7, [r1, r7]\n\t") NN_PW8_CH("ldrsb r7, [r1, r7]\n\t")
            "cmp r6, r12\n\t"
            "bne 2b\n\t"
            "ldr r7, [sp]\n\t"
            "cmp r0, r7\n\t"
            "bne 1b\n\t"
            "add sp, sp, #8\n\t"
            : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r6), "+r"(r12), "+r"(lr)
            :
            : "r3", "r4", "r5", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    }
}
#else
/* The same arithmetic in C (the host builds, and the M4 build unoptimised). */
static void pw8_pixels(const int8_t *x, const int8_t *x_end, const pw8_rec_t *rec, int cout, int8_t *out,
                       const int8_t *tab)
{
    for (; x != x_end; x += 8) {
        const uint32_t v0 = nn_load32(x), v1 = nn_load32(x + 4);
        const uint32_t x0 = nn_sxtb16(v0), x1 = nn_sxtb16_ror8(v0), x2 = nn_sxtb16(v1), x3 = nn_sxtb16_ror8(v1);
        for (const pw8_rec_t *r = rec; r != rec + cout; ++r) {
            int32_t a = nn_smlad(r->w[0], x0, r->b2);
            a = nn_smlad(r->w[1], x1, a);
            a = nn_smlad(r->w[2], x2, a);
            a = nn_smlad(r->w[3], x3, a);
            const nn_rqz_t q = {r->mult, r->c, r->rsh};
            const int32_t v = nn_ssat8(nn_rqz_apply(a, q));
            *out++ = tab ? tab[v] : (int8_t)v;
        }
    }
}
#endif

/* 0 where the op is not for this path (the caller takes pointwise_row). */
static int pw8_row(const nn_conv_t *p, const int8_t *in, int8_t *out, int kind)
{
    pw8_rec_t rec[NN_PW8_COUT_MAX];
    if (!pw8_fits(p) || !pw8_records(p, rec)) return 0;
    const int8_t *tab = kind == NN_OUT_LUT ? p->lut + 128 : NULL;
    pw8_pixels(in, in + (size_t)p->f_out * 8, rec, p->cout, out, tab);
    return 1;
}

/* Eight weights (any alignment) widened into four words in pair order at *dst (4-byte aligned):
 * two LDRs, four SXTB16s and two STRDs (GCC makes single STRs of it), both pointers advanced. */
static inline __attribute__((always_inline)) void pw_widen8(const int8_t **w, uint32_t **dst)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
    uint32_t a, b, c, d;
    __asm__ volatile("ldr %[a], [%[w]], #4\n\t" /* volatile: its effect is the stores */
            "ldr %[b], [%[w]], #4\n\t"
            "sxtb16 %[c], %[a], ror #8\n\t"
            "sxtb16 %[a], %[a]\n\t"
            "sxtb16 %[d], %[b], ror #8\n\t"
            "sxtb16 %[b], %[b]\n\t"
            "strd %[a], %[c], [%[dst]], #8\n\t"
            "strd %[b], %[d], [%[dst]], #8"
            : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [w] "+r"(*w), [dst] "+r"(*dst)
            :
            : "memory");
#else
    const uint32_t W0 = nn_load32(*w), W1 = nn_load32(*w + 4);
    uint32_t *d = *dst;
    d[0] = nn_sxtb16(W0);
    d[1] = nn_sxtb16_ror8(W0);
    d[2] = nn_sxtb16(W1);
    d[3] = nn_sxtb16_ror8(W1);
    *w += 8;
    *dst += 4;
#endif
}

/* Eight inputs widened, minus the zero point (zz: in both halfwords) and doubled, into four words
 * in pair order at *dst (4-byte aligned): nn_widen4x2 twice, with two STRDs; both pointers advanced. */
static inline __attribute__((always_inline)) void pw_widen8x2(const int8_t **x, uint32_t zz, uint32_t **dst)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
    uint32_t a, b, c, d;
    __asm__ volatile("ldr %[a], [%[x]], #4\n\t" /* volatile: its effect is the stores */
            "ldr %[b], [%[x]], #4\n\t"
            "sxtb16 %[c], %[a], ror #8\n\t"
            "sxtb16 %[a], %[a]\n\t"
            "sxtb16 %[d], %[b], ror #8\n\t"
            "sxtb16 %[b], %[b]\n\t"
            "ssub16 %[a], %[a], %[zz]\n\t"
            "ssub16 %[c], %[c], %[zz]\n\t"
            "ssub16 %[b], %[b], %[zz]\n\t"
            "ssub16 %[d], %[d], %[zz]\n\t"
            "sadd16 %[a], %[a], %[a]\n\t"
            "sadd16 %[c], %[c], %[c]\n\t"
            "sadd16 %[b], %[b], %[b]\n\t"
            "sadd16 %[d], %[d], %[d]\n\t"
            "strd %[a], %[c], [%[dst]], #8\n\t"
            "strd %[b], %[d], [%[dst]], #8"
            : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [x] "+r"(*x), [dst] "+r"(*dst)
            : [zz] "r"(zz)
            : "memory");
#else
    const int32_t zp = (int16_t)(zz & 0xffffu);
    nn_widen4x2(*x, zp, (int16_t *)(void *)*dst);
    nn_widen4x2(*x + 4, zp, (int16_t *)(void *)(*dst + 2));
    *x += 8;
    *dst += 4;
#endif
}

/* Sixteen input channels, pixel-major as nn_pw8 but with the pixel's doubled inputs 2 (x - zp_in) in
 * eight registers (the zero point and the doubling on the input side: these layers have more output
 * channels than pixels), and records of twelve words {w0 w1 w2 2 bias | w3 .. w7 | mult c rsh}: an
 * output is four LDMs, eight SMLADs, the requantization and one STRB. The channels in chunks of 32
 * (1.5 KB of records on the stack); every channel in the fast requantization. */
#define NN_PW16_CHUNK 32

typedef struct {
    uint32_t w0, w1, w2;
    int32_t b2;
    uint32_t w3, w4, w5, w6, w7;
    int32_t mult, c, rsh;
} pw16_rec_t;

typedef struct {
    const int8_t *x, *x_end;
    const pw16_rec_t *rec, *rec_end;
    const int8_t *tab; /* the table + 128 (LUT) */
    uint32_t zz;       /* zp_in in both halfwords */
    int32_t skip;      /* outputs of the other chunks per pixel */
    int8_t *out;
} pw16_args_t;

/* The chunk's records; 0 if a channel is outside the fast requantization. */
static int pw16_records(const nn_conv_t *p, int co, int n, pw16_rec_t *rec)
{
    const int8_t *w = p->weights + (size_t)co * 16, *const w_end = w + 16 * n;
    const int32_t *bias = p->bias + co, *mult = p->mult + co;
    const int8_t *shift = p->shift + co;
    const int32_t zo = 2 * p->zp_out + 1; /* c = 2^(R-1) + zp_out 2^R = (2 zp_out + 1) 2^R / 2 */
    for (; w != w_end; ++rec) { /* (pw_widen8 advances w) */
        const int32_t m = *mult++, r = -*shift++;
        if (m < 0 || (uint32_t)(r - 1) >= NN_RQZ_RSH_MAX) return 0; /* nn_rqz_ok */
        uint32_t *d = (uint32_t *)(void *)rec;
        pw_widen8(&w, &d); /* w0 w1 w2, and w3 where b2 goes: moved */
        rec->w3 = (uint32_t)rec->b2;
        rec->b2 = 2 * *bias++;
        d = (uint32_t *)(void *)rec + 5;
        pw_widen8(&w, &d);
        rec->mult = m;
        rec->c = (zo << r) >> 1;
        rec->rsh = r;
    }
    return 1;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
/* The frame: [sp] x, [sp, #4] x_end, [sp, #8] first record, [sp, #12] record end, [sp, #16] table,
 * [sp, #20] zz, [sp, #24] skip. r0-r7 the pixel's inputs, r8 the records, r9 the output. */
#define NN_PW16_CH(LUT)                                                                                        \
    "ldmia r8!, {r10, r11, r12, lr}\n\t"                                                                       \
    "smlad lr, r10, r0, lr\n\t"                                                                                \
    "smlad lr, r11, r1, lr\n\t"                                                                                \
    "smlad lr, r12, r2, lr\n\t"                                                                                \
    "ldmia r8!, {r10, r11, r12}\n\t"                                                                           \
    "smlad lr, r10, r3, lr\n\t"                                                                                \
    "smlad lr, r11, r4, lr\n\t"                                                                                \
    "smlad lr, r12, r5, lr\n\t"                                                                                \
    "ldmia r8!, {r10, r11}\n\t"                                                                                \
    "smlad lr, r10, r6, lr\n\t"                                                                                \
    "smlad lr, r11, r7, lr\n\t"                                                                                \
    "ldmia r8!, {r10, r11, r12}\n\t"                                                                           \
    "smmlar r10, lr, r10, r11\n\t"                                                                             \
    "add r10, r10, lr, asr #31\n\t"                                                                            \
    "asr r10, r10, r12\n\t"                                                                                    \
    "ssat r10, #8, r10\n\t" LUT "strb r10, [r9], #1\n\t"
#define NN_PW16_WIDEN(LO, HI)                                                                                  \
    "sxtb16 " HI ", " LO ", ror #8\n\t"                                                                        \
    "sxtb16 " LO ", " LO "\n\t"                                                                                \
    "ssub16 " LO ", " LO ", r8\n\t"                                                                            \
    "ssub16 " HI ", " HI ", r8\n\t"                                                                            \
    "sadd16 " LO ", " LO ", " LO "\n\t"                                                                        \
    "sadd16 " HI ", " HI ", " HI "\n\t"
#define NN_PW16_PIXELS(NAME, LUT)                                                                              \
    static __attribute__((naked, noinline)) void NAME(const pw16_args_t *a)                                   \
    {                                                                                                          \
        (void)a;                                                                                               \
        __asm__ volatile("push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"                                     \
                         "ldr r9, [r0, #28]\n\t"                                                               \
                         "ldmia r0, {r1, r2, r3, r4, r5, r6, r7}\n\t"                                          \
                         "push {r1, r2, r3, r4, r5, r6, r7}\n\t"                                               \
                         "1:\n\t"                                                                              \
                         "ldr r8, [sp]\n\t"                                                                    \
                         "ldr r0, [r8], #4\n\t"                                                                \
                         "ldr r2, [r8], #4\n\t"                                                                \
                         "ldr r4, [r8], #4\n\t"                                                                \
                         "ldr r6, [r8], #4\n\t"                                                                \
                         "str r8, [sp]\n\t"                                                                    \
                         "ldr r8, [sp, #20]\n\t" NN_PW16_WIDEN("r0", "r1") NN_PW16_WIDEN("r2", "r3")            \
                             NN_PW16_WIDEN("r4", "r5") NN_PW16_WIDEN("r6", "r7")                               \
                         "ldr r8, [sp, #8]\n\t"                                                                \
                         "2:\n\t" NN_PW16_CH(LUT) NN_PW16_CH(LUT)                                              \
                         "ldr r10, [sp, #12]\n\t"                                                              \
                         "cmp r8, r10\n\t"                                                                     \
                         "bne 2b\n\t"                                                                          \
                         "ldr r10, [sp, #24]\n\t"                                                              \
                         "add r9, r9, r10\n\t"                                                                 \
                         "ldrd r8, r10, [sp]\n\t"                                                              \
                         "cmp r8, r10\n\t"                                                                     \
                         "bne 1b\n\t"                                                                          \
                         "add sp, sp, #28\n\t"                                                                 \
                         "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t");                                    \
    }
NN_PW16_PIXELS(pw16_pixels_plain, "")
NN_PW16_PIXELS(pw16_pixels_lut, "ldr r11, [sp, #16]\n\tldrsb r10, [r11, r10]\n\t")

static void pw16_pixels(const pw16_args_t *a, int kind)
{
    __asm__ volatile("" : : "r"(a) : "memory"); /* *a written before the naked call reads it */
    if (kind == NN_OUT_LUT) pw16_pixels_lut(a);
    else pw16_pixels_plain(a);
}
#else
/* The same arithmetic in C (the host builds, and the M4 build unoptimised). */
static void pw16_pixels(const pw16_args_t *a, int kind)
{
    int8_t *out = a->out;
    for (const int8_t *x = a->x; x != a->x_end; x += 16, out += a->skip) {
        uint32_t xv[8];
        for (int g = 0; g < 4; ++g) {
            const uint32_t v = nn_load32(x + 4 * g);
            const uint32_t lo = nn_ssub16(nn_sxtb16(v), a->zz), hi = nn_ssub16(nn_sxtb16_ror8(v), a->zz);
            xv[2 * g] = nn_sadd16(lo, lo);
            xv[2 * g + 1] = nn_sadd16(hi, hi);
        }
        for (const pw16_rec_t *r = a->rec; r != a->rec_end; ++r) {
            int32_t acc = nn_smlad(r->w0, xv[0], r->b2);
            acc = nn_smlad(r->w1, xv[1], acc);
            acc = nn_smlad(r->w2, xv[2], acc);
            acc = nn_smlad(r->w3, xv[3], acc);
            acc = nn_smlad(r->w4, xv[4], acc);
            acc = nn_smlad(r->w5, xv[5], acc);
            acc = nn_smlad(r->w6, xv[6], acc);
            acc = nn_smlad(r->w7, xv[7], acc);
            const nn_rqz_t q = {r->mult, r->c, r->rsh};
            const int32_t v = nn_ssat8(nn_rqz_apply(acc, q));
            *out++ = kind == NN_OUT_LUT ? a->tab[v] : (int8_t)v;
        }
    }
}
#endif

/* 0 where the op is not for this path (the caller takes pointwise_row). */
static int pw16_row(const nn_conv_t *p, const int8_t *in, int8_t *out, int kind)
{
    const int cout = p->cout;
    if ((cout & 1) || p->f_out == 0) return 0;
    pw16_rec_t rec[NN_PW16_CHUNK];
    pw16_args_t a;
    a.x_end = in + (size_t)p->f_out * 16;
    a.tab = kind == NN_OUT_LUT ? p->lut + 128 : NULL;
    a.zz = ((uint32_t)(uint16_t)p->zp_in << 16) | (uint16_t)p->zp_in;
    a.rec = rec;
    for (int co = 0; co < cout; co += NN_PW16_CHUNK) {
        const int n = cout - co < NN_PW16_CHUNK ? cout - co : NN_PW16_CHUNK;
        if (!pw16_records(p, co, n, rec)) return 0;
        a.x = in;
        a.rec_end = rec + n;
        a.skip = cout - n;
        a.out = out + co;
        pw16_pixels(&a, kind);
    }
    return 1;
}

/* 24 to 96 input channels (a multiple of 8): the row's pixels widened once into a doubled patch
 * (nn_widen4x2: 2 (x - zp_in) in pair order), then pixel by pixel and channel by channel a record of
 * the channel's widened weights {w0 .. w3, 2 bias, w4 .. w(N/2 - 1), mult, c, rsh} meets the pixel's
 * patch words four at a time: per eight inputs two LDMs and four SMLADs, then the requantization and
 * one STRB. Patch (1 KB) and records (1 KB) on the stack, the channels in chunks that fit. */
#define NN_PWN_PATCH 512 /* int16 */
#define NN_PWN_RECS 256  /* words */

typedef struct {
    const uint32_t *x, *x_end; /* the patch, N / 2 words per pixel */
    const uint32_t *rec, *rec_end;
    const int8_t *tab; /* the table + 128 (LUT) */
    int32_t skip;      /* outputs of the other chunks per pixel */
    int8_t *out;
} pwn_args_t;

/* The records of channels co .. co + n - 1 (all in the fast requantization: checked by the caller). */
static inline __attribute__((always_inline)) void pwn_records(const nn_conv_t *p, int co, int n, const int N,
                                                              uint32_t *rec)
{
    const int8_t *w = p->weights + (size_t)co * N;
    const int32_t zo = 2 * p->zp_out + 1; /* c = 2^(R-1) + zp_out 2^R = (2 zp_out + 1) 2^R / 2 */
    for (int j = co; j < co + n; ++j) {
        uint32_t *r = rec;
        pw_widen8(&w, &r);
        *r++ = (uint32_t)(2 * p->bias[j]);
        for (int g = 1; g < N / 8; ++g) pw_widen8(&w, &r);
        const int32_t sh = -p->shift[j];
        r[0] = (uint32_t)p->mult[j];
        r[1] = (uint32_t)((zo << sh) >> 1);
        r[2] = (uint32_t)sh;
        rec = r + 3;
    }
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
/* r0-r3 patch words, r4-r7 weights, r8 the accumulator, r9 the patch, r10 the records, r11 the
 * output, r12 the records' end, lr the table; [sp, #4] the patch end, [sp, #8] the first record,
 * [sp, #12] skip. */
#define NN_PWN_STR(x) #x
#define NN_PWN_SMLAD4 "smlad r8, r4, r0, r8\n\tsmlad r8, r5, r1, r8\n\tsmlad r8, r6, r2, r8\n\tsmlad r8, r7, r3, r8\n\t"
#define NN_PWN_G "ldmia r9!, {r0, r1, r2, r3}\n\tldmia r10!, {r4, r5, r6, r7}\n\t" NN_PWN_SMLAD4
#define NN_PWN_G3 NN_PWN_G NN_PWN_G NN_PWN_G
#define NN_PWN_PIXELS(NAME, BYTES, GROUPS, LUT)                                                                \
    static __attribute__((naked, noinline)) void NAME(const pwn_args_t *a)                                    \
    {                                                                                                          \
        (void)a;                                                                                               \
        __asm__ volatile("push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"                                     \
                         "ldmia r0, {r1, r2, r3, r4, r5, r6, r7}\n\t"                                          \
                         "push {r1, r2, r3, r6}\n\t"                                                           \
                         "mov r9, r1\n\t"                                                                      \
                         "mov r10, r3\n\t"                                                                     \
                         "mov r12, r4\n\t"                                                                     \
                         "mov lr, r5\n\t"                                                                      \
                         "mov r11, r7\n\t"                                                                     \
                         "1:\n\t"                                                                              \
                         "ldmia r9!, {r0, r1, r2, r3}\n\t"                                                     \
                         "ldmia r10!, {r4, r5, r6, r7, r8}\n\t" NN_PWN_SMLAD4 GROUPS                          \
                         "ldmia r10!, {r4, r5, r6}\n\t"                                                        \
                         "smmlar r4, r8, r4, r5\n\t"                                                           \
                         "add r4, r4, r8, asr #31\n\t"                                                         \
                         "asr r4, r4, r6\n\t"                                                                  \
                         "ssat r4, #8, r4\n\t" LUT                                                             \
                         "strb r4, [r11], #1\n\t"                                                              \
                         "sub r9, r9, #" NN_PWN_STR(BYTES) "\n\t"                                              \
                         "cmp r10, r12\n\t"                                                                    \
                         "bne 1b\n\t"                                                                          \
                         "ldr r4, [sp, #12]\n\t"                                                               \
                         "add r11, r11, r4\n\t"                                                                \
                         "add r9, r9, #" NN_PWN_STR(BYTES) "\n\t"                                              \
                         "ldr r10, [sp, #8]\n\t"                                                               \
                         "ldr r4, [sp, #4]\n\t"                                                                \
                         "cmp r9, r4\n\t"                                                                      \
                         "bne 1b\n\t"                                                                          \
                         "add sp, sp, #16\n\t"                                                                 \
                         "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t");                                    \
    }
#define NN_PWN_LUT "ldrsb r4, [lr, r4]\n\t"
NN_PWN_PIXELS(pwn24_plain, 48, NN_PWN_G NN_PWN_G, "")
NN_PWN_PIXELS(pwn24_lut, 48, NN_PWN_G NN_PWN_G, NN_PWN_LUT)
NN_PWN_PIXELS(pwn48_plain, 96, NN_PWN_G NN_PWN_G3 NN_PWN_G, "")
NN_PWN_PIXELS(pwn48_lut, 96, NN_PWN_G NN_PWN_G3 NN_PWN_G, NN_PWN_LUT)
NN_PWN_PIXELS(pwn64_plain, 128, NN_PWN_G3 NN_PWN_G3 NN_PWN_G, "")
NN_PWN_PIXELS(pwn64_lut, 128, NN_PWN_G3 NN_PWN_G3 NN_PWN_G, NN_PWN_LUT)
NN_PWN_PIXELS(pwn96_plain, 192, NN_PWN_G3 NN_PWN_G3 NN_PWN_G3 NN_PWN_G NN_PWN_G, "")
NN_PWN_PIXELS(pwn96_lut, 192, NN_PWN_G3 NN_PWN_G3 NN_PWN_G3 NN_PWN_G NN_PWN_G, NN_PWN_LUT)
#else
/* The same arithmetic in C (the host builds, and the M4 build unoptimised). */
static void pwn_pixels(const pwn_args_t *a, int N, int lut)
{
    int8_t *out = a->out;
    for (const uint32_t *x = a->x; x != a->x_end; x += N / 2, out += a->skip) {
        for (const uint32_t *r = a->rec; r != a->rec_end; r += N / 2 + 4) {
            int32_t acc = (int32_t)r[4];
            for (int k = 0; k < N / 2; ++k) acc = nn_smlad(r[k < 4 ? k : k + 1], x[k], acc);
            const nn_rqz_t q = {(int32_t)r[N / 2 + 1], (int32_t)r[N / 2 + 2], (int32_t)r[N / 2 + 3]};
            const int32_t v = nn_ssat8(nn_rqz_apply(acc, q));
            *out++ = lut ? a->tab[v] : (int8_t)v;
        }
    }
}
#define NN_PWN_C(N)                                                                                            \
    static void pwn##N##_plain(const pwn_args_t *a) { pwn_pixels(a, N, 0); }                                   \
    static void pwn##N##_lut(const pwn_args_t *a) { pwn_pixels(a, N, 1); }
NN_PWN_C(24)
NN_PWN_C(48)
NN_PWN_C(64)
NN_PWN_C(96)
#endif

/* 0 where a channel is outside the fast requantization (the caller takes the general kernel). */
static inline __attribute__((always_inline)) int pwn_row(const nn_conv_t *p, const int8_t *in, int8_t *out,
                                                         const int N, void (*fn)(const pwn_args_t *), int lut)
{
    const int cout = p->cout, f = p->f_out;
    for (int co = 0; co < cout; ++co)
        if (!nn_rqz_ok(p->mult[co], p->shift[co])) return 0;
    uint32_t patch[NN_PWN_PATCH / 2];
    uint32_t rec[NN_PWN_RECS];
    const int chunk = NN_PWN_RECS / (N / 2 + 4), block = NN_PWN_PATCH / N;
    pwn_args_t a;
    a.tab = lut ? p->lut + 128 : NULL;
    const uint32_t zz = ((uint32_t)(uint16_t)p->zp_in << 16) | (uint16_t)p->zp_in;
    for (int f0 = 0; f0 < f; f0 += block) {
        const int nb = f - f0 < block ? f - f0 : block;
        const int8_t *x = in + (size_t)f0 * N;
        uint32_t *d = patch;
        for (int g = 0; g < nb * N; g += 8) pw_widen8x2(&x, zz, &d);
        a.x = patch;
        a.x_end = patch + nb * N / 2;
        for (int co = 0; co < cout; co += chunk) {
            const int n = cout - co < chunk ? cout - co : chunk;
            pwn_records(p, co, n, N, rec);
            a.rec = rec;
            a.rec_end = rec + n * (N / 2 + 4);
            a.skip = cout - n;
            a.out = out + (size_t)f0 * cout + co;
            __asm__ volatile("" : : "r"(&a) : "memory"); /* a written before the (naked) call reads it */
            fn(&a);
        }
    }
    return 1;
}

static int pointwise_fits(const nn_conv_t *p)
{
    return p->k == 1 && p->stride == 1 && p->pad == 0 && (p->cin & 3) == 0 && p->cin <= NN_PATCH_MAX / 4;
}

/* The export-time instances (nn_kernels.h, NN_CONV_VARIANTS): the general kernel where the op is
 * not of the instance's shape or its path declines it (a channel outside the fast requantization,
 * channel counts the path does not take: flash for one more path would buy speed only for shapes
 * mn01 does not have). */
#define NN_PW_ROW(CIN, KIND, NAME, PATH)                                                                       \
    void NAME(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)                                      \
    {                                                                                                          \
        if (!(p->cin == CIN && rows[0] && pointwise_fits(p) && nn_out_kind(p->act_min, p->act_max, p->lut) == KIND && \
              PATH))                                                                                           \
            nn_conv2d_row(p, rows, out);                                                                       \
    }
NN_PW_ROW(8, NN_OUT_PLAIN, nn_pw8_plain_row, pw8_row(p, rows[0], out, NN_OUT_PLAIN))
NN_PW_ROW(8, NN_OUT_LUT, nn_pw8_lut_row, pw8_row(p, rows[0], out, NN_OUT_LUT))
NN_PW_ROW(16, NN_OUT_PLAIN, nn_pw16_plain_row, pw16_row(p, rows[0], out, NN_OUT_PLAIN))
NN_PW_ROW(16, NN_OUT_LUT, nn_pw16_lut_row, pw16_row(p, rows[0], out, NN_OUT_LUT))
#define NN_PW_ROWS_N(N)                                                                                        \
    NN_PW_ROW(N, NN_OUT_PLAIN, nn_pw##N##_plain_row, pwn_row(p, rows[0], out, N, pwn##N##_plain, 0))          \
    NN_PW_ROW(N, NN_OUT_LUT, nn_pw##N##_lut_row, pwn_row(p, rows[0], out, N, pwn##N##_lut, 1))
NN_PW_ROWS_N(24)
NN_PW_ROWS_N(48)
NN_PW_ROWS_N(64)
NN_PW_ROWS_N(96)

/* The one-input-channel 3 x 3 conv (the stem), strides 1 and 2 (export-time instances as above). */
#if NN_DSP
#define NN_STEM_ROW_FN(S, KIND, NAME)                                                                          \
    static __attribute__((noinline)) void NAME##_c1(const nn_conv_t *p, const int8_t *const *rows, int8_t *out) \
    {                                                                                                          \
        conv3x3_c1_row(p, rows, out, S, KIND);                                                                 \
    }                                                                                                          \
    void NAME(const nn_conv_t *p, const int8_t *const *rows, int8_t *out)                                      \
    {                                                                                                          \
        const nn_stem8_rec_t *rec = S == 2 ? stem8_prepared(p) : NULL;                                        \
        if (rec) stem8_row(p, rows, out, rec); /* its own stack frame, not the general loop's */               \
        else if (conv3x3_c1_fits(p, S, KIND)) NAME##_c1(p, rows, out);                                         \
        else nn_conv2d_row(p, rows, out);                                                                      \
    }
#else
#define NN_STEM_ROW_FN(S, KIND, NAME)                                                                          \
    void NAME(const nn_conv_t *p, const int8_t *const *rows, int8_t *out) { nn_conv2d_row(p, rows, out); }
#endif
NN_STEM_ROW_FN(1, NN_OUT_PLAIN, nn_c1k3s1_plain_row)
NN_STEM_ROW_FN(1, NN_OUT_LUT, nn_c1k3s1_lut_row)
NN_STEM_ROW_FN(2, NN_OUT_PLAIN, nn_c1k3s2_plain_row)
NN_STEM_ROW_FN(2, NN_OUT_LUT, nn_c1k3s2_lut_row)

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
    const dot_block_fn fn = dot_block__NN_OUT_ANY;
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
            int8_t *dst = out + (size_t)fo0 * cout + co;
            if (nn_rqz_ok(p->mult[co], p->shift[co])) {
                fn(pp, nb, pw, words, 2 * p->bias[co], nn_rqz_make(p->mult[co], p->shift[co], p->zp_out), o, dst, cout);
            } else {
                dot_block_slow(pp, nb, pw, words, p->bias[co], nn_rq_make(p->mult[co], p->shift[co]), o, dst, cout);
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

/* The doubled dot products of four weight rows (w, w + cin, ...; rows >= left: the first one again) with
 * the pair-ordered words xw .. xend (the plain-C form of fc_passes). */
static void fc_dot4(const uint32_t *xw, const uint32_t *xend, const int8_t *w, int cin, int left, int32_t a[4])
{
    for (int k = 0; k < 4; ++k) {
        int32_t acc = 0;
        const int8_t *wk = k < left ? w + k * cin : w;
        for (const uint32_t *xp = xw; xp != xend; xp += 2, wk += 4) {
            uint32_t xa, xb;
            nn_load2(xp, &xa, &xb);
            const uint32_t W = nn_load32(wk);
            acc = nn_smlad(nn_sxtb16(W), xa, acc);
            acc = nn_smlad(nn_sxtb16_ror8(W), xb, acc);
        }
        a[k] = acc;
    }
}

/* acc[0 .. 4 * (cout / 4)): the doubled dot products of the weight rows with the pair-ordered words
 * xw .. xend, four rows per pass; returns the outputs done. Per four inputs one LDRD of x, and for each
 * row a word of weights widened by SXTB16 / SXTB16-ROR8 into two SMLADs (23 instructions per 16 MACs;
 * Thumb-2 where GCC optimizes: in C it spills the accumulators). Rows 1 and 3 of a pass are read at an
 * offset of cin from rows 0 and 2 (one register), which the loop leaves one row on. */
static inline __attribute__((always_inline)) int fc_passes(const uint32_t *xw, const uint32_t *xend, const int8_t *w,
                                                           int cin, int cout, int32_t *acc)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
    const int8_t *w0 = w, *w2 = w + 2 * cin;
    int32_t *const end = acc + (cout & ~3);
    for (; acc != end; acc += 4) {
        const uint32_t *xp = xw;
        int32_t a0, a1, a2, a3;
        uint32_t xa, xb, W, T;
        __asm__("movs %[a0], #0\n\t"
                "movs %[a1], #0\n\t"
                "movs %[a2], #0\n\t"
                "movs %[a3], #0\n"
                "1:\n\t"
                "ldrd %[xa], %[xb], [%[xp]], #8\n\t"
                "ldr %[W], [%[w0], %[off]]\n\t"
                "sxtb16 %[T], %[W]\n\t"
                "sxtb16 %[W], %[W], ror #8\n\t"
                "smlad %[a1], %[T], %[xa], %[a1]\n\t"
                "smlad %[a1], %[W], %[xb], %[a1]\n\t"
                "ldr %[W], [%[w0]], #4\n\t"
                "sxtb16 %[T], %[W]\n\t"
                "sxtb16 %[W], %[W], ror #8\n\t"
                "smlad %[a0], %[T], %[xa], %[a0]\n\t"
                "smlad %[a0], %[W], %[xb], %[a0]\n\t"
                "ldr %[W], [%[w2], %[off]]\n\t"
                "sxtb16 %[T], %[W]\n\t"
                "sxtb16 %[W], %[W], ror #8\n\t"
                "smlad %[a3], %[T], %[xa], %[a3]\n\t"
                "smlad %[a3], %[W], %[xb], %[a3]\n\t"
                "ldr %[W], [%[w2]], #4\n\t"
                "sxtb16 %[T], %[W]\n\t"
                "sxtb16 %[W], %[W], ror #8\n\t"
                "smlad %[a2], %[T], %[xa], %[a2]\n\t"
                "smlad %[a2], %[W], %[xb], %[a2]\n\t"
                "cmp %[xp], %[xend]\n\t"
                "bne 1b"
                : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [xa] "=&r"(xa), [xb] "=&r"(xb),
                  [W] "=&r"(W), [T] "=&r"(T), [xp] "+&r"(xp), [w0] "+&r"(w0), [w2] "+&r"(w2)
                : [xend] "r"(xend), [off] "r"(cin)
                : "cc", "memory");
        nn_store2_at(acc, 0, a0, a1);
        nn_store2_at(acc, 8, a2, a3);
        w0 = w2 + cin; /* (w0 on row 1, w2 on row 3) */
        w2 = w0 + 2 * cin;
    }
    return cout & ~3;
#else
    (void)xw, (void)xend, (void)w, (void)cin, (void)cout, (void)acc;
    return 0;
#endif
}

#define NN_FC_COUT_MAX 256 /* outputs of the fast path (a stack row of accumulators) */

void nn_fully_connected(const nn_fc_t *p, const int8_t *in, int8_t *out)
{
    const int cin = p->cin, cin4 = cin & ~3;
    const nn_out_t o = nn_out_make(p->zp_out, p->act_min, p->act_max, p->lut);
    int16_t x[NN_PATCH_MAX] __attribute__((aligned(4)));
    if (cin > NN_PATCH_MAX) { /* scalar */
        const int8_t *w = p->weights;
        for (int co = 0; co < p->cout; ++co, w += cin) {
            int32_t acc = p->bias[co];
            for (int ci = 0; ci < cin; ++ci) acc += (in[ci] - p->zp_in) * w[ci];
            out[co] = nn_out_apply(nn_rq_apply(acc, nn_rq_make(p->mult[co], p->shift[co])), o);
        }
        return;
    }
    if (cin4 == cin && cin > 0 && p->cout <= NN_FC_COUT_MAX && p->act_min == -128 && p->act_max == 127) {
        /* the input widened once, doubled (2 (x - zp_in), pair order); four outputs per pass share its
         * words; then the output stage, channel by channel: the fast requantization with its constants
         * made here (s1 = rsh - 1, c = (2 zp_out + 1) << s1, see nn_rqz_t), the shift split between an
         * ASR and SSAT's own (asr #1), the table (identity if none); a channel outside the fast form
         * takes the general requantization */
        int32_t acc[NN_FC_COUT_MAX + 3] __attribute__((aligned(8)));
        for (int g = 0; g < cin; g += 4) nn_widen4x2(in + g, p->zp_in, x + g);
        const uint32_t *const xw = (const uint32_t *)(const void *)x, *const xend = xw + cin / 2;
        const int cout = p->cout;
        const int8_t *w = p->weights;
        for (int co = fc_passes(xw, xend, w, cin, cout, acc); co < cout; co += 4)
            fc_dot4(xw, xend, w + co * cin, cin, cout - co, acc + co);
        const uint32_t zp2p1 = (uint32_t)(2 * p->zp_out + 1);
        const int32_t *a = acc, *bias = p->bias, *mult = p->mult;
        const int8_t *shift = p->shift, *const tab = o.tab;
        for (int8_t *dst = out, *const end = out + cout; dst != end; ++dst) {
            const int32_t m = *mult++, sh = *shift++, s1 = ~sh;
            int32_t a2 = *a++;
            const int32_t b = *bias++;
            if (__builtin_expect((uint32_t)(s1 | (m >> 31)) > NN_RQZ_RSH_MAX - 1, 0)) {
                *dst = nn_out_apply(nn_rq_apply(b + a2 / 2, nn_rq_make(m, sh)), o);
                continue;
            }
            a2 += 2 * b;
            const nn_rqz_t q = {m, (int32_t)(zp2p1 << s1), 0};
            int32_t t = nn_rqz_apply(a2, q) >> s1;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
            __asm__("ssat %0, #8, %0, asr #1" : "+r"(t));
#else
            t = nn_ssat8(t >> 1);
#endif
            *dst = tab[t];
        }
        return;
    }
    /* the input widened once (x - zp_in, pair order); each output a dot product with its weight row */
    for (int g = 0; g < cin4; g += 4) nn_widen4(in + g, p->zp_in, x + g);
    const int8_t *w = p->weights;
    for (int co = 0; co < p->cout; ++co, w += cin) {
        int32_t acc = nn_dot4_s8_s16(w, x, cin4 >> 2, p->bias[co]);
        for (int ci = cin4; ci < cin; ++ci) acc += (in[ci] - p->zp_in) * w[ci];
        out[co] = nn_out_apply(nn_rq_apply(acc, nn_rq_make(p->mult[co], p->shift[co])), o);
    }
}

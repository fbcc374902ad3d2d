/* PDM -> PCM decimation (pdm_decimate.h). Every step is integer arithmetic in a fixed
 * order, so the host build, the Cortex-M4 build (DSP path) and exporter/frontend/pdm.py agree bit
 * for bit (tests/test_pdm.py). Coefficients: bench/pdm_design.py. */
#include "pdm_decimate.h"

#define CIC_LEN 61      /* sinc^4 with decimation 16: 4 * (16 - 1) + 1 taps */
#define HB_LEN 24       /* delay line of the half-band (23 taps + 1) */
#define FIR_LEN 192     /* delay line of the low-pass (191 taps + 1, even for word pairs) */

/* Half-band, Q15, sum 32768 (gain 1 at DC); every other tap is zero, the centre is 1/2.
 * Kaiser window (beta 8), 23 taps: stopband >= 48 kHz at -82 dB. */
const int16_t pdm_hb_taps[PDM_HB_TAPS] = {
    -2, 0, 52, 0, -274, 0, 924, 0, -2619, 0, 10111, 16384,
    10111, 0, -2619, 0, 924, 0, -274, 0, 52, 0, -2,
};

/* Low-pass, Q15, minimax (linear programming) for passband 0-15 kHz with the CIC's sinc^4
 * droop divided out, stopband 16-32 kHz weighted 100x. */
const int16_t pdm_fir_taps[PDM_FIR_TAPS] = {
    3, -20, -74, -118, -89, 0, 54, 19, -37, -24, 28, 28,
    -23, -31, 19, 35, -15, -39, 11, 44, -5, -49, -1, 53,
    9, -56, -18, 59, 28, -61, -39, 61, 52, -59, -65, 55,
    78, -49, -92, 41, 106, -30, -119, 16, 131, 1, -143, -20,
    152, 42, -160, -67, 164, 95, -166, -125, 163, 158, -157, -193,
    145, 229, -128, -267, 105, 306, -74, -346, 36, 385, 11, -424,
    -68, 462, 137, -499, -220, 534, 321, -566, -444, 595, 598, -619,
    -799, 639, 1073, -650, -1483, 648, 2183, -608, -3739, 353, 10613, 16252,
    10613, 353, -3739, -608, 2183, 648, -1483, -650, 1073, 639, -799, -619,
    598, 595, -444, -566, 321, 534, -220, -499, 137, 462, -68, -424,
    11, 385, 36, -346, -74, 306, 105, -267, -128, 229, 145, -193,
    -157, 158, 163, -125, -166, 95, 164, -67, -160, 42, 152, -20,
    -143, 1, 131, 16, -119, -30, 106, 41, -92, -49, 78, 55,
    -65, -59, 52, 61, -39, -61, 28, 59, -18, -56, 9, 53,
    -1, -49, -5, 44, 11, -39, -15, 35, 19, -31, -23, 28,
    28, -24, -37, 19, 54, 0, -89, -118, -74, -20, 3,
};

/* The low-pass as the dot product runs it: a leading zero, so that the 192-sample window
 * (oldest first) is taken in word-aligned pairs and the newest sample meets the last tap. */
static int16_t fir_pairs[FIR_LEN] __attribute__((aligned(4)));

/* cic_tab[j][v]: the CIC's partial sum over byte v when it is the j-th newest byte of the
 * 64-bit window; bit i of a byte is the i-th oldest sample in it. Max entry 20,626 < 2^16. */
static uint16_t cic_tab[8][256];
static int tables_ready;

static void make_tables(void)
{
    /* sinc^4 = four boxcars of 16 convolved; its 61 taps padded to 64 with zeros */
    int32_t h[64] = {0}, t[64];
    h[0] = 1;
    for (int stage = 0; stage < 4; stage++) {
        for (int k = 0; k < 64; k++) {
            int32_t s = 0;
            for (int i = 0; i < 16 && i <= k; i++) s += h[k - i];
            t[k] = s;
        }
        for (int k = 0; k < 64; k++) h[k] = t[k];
    }
    for (int j = 0; j < 8; j++)
        for (int v = 0; v < 256; v++) {
            int32_t s = 0;
            for (int i = 0; i < 8; i++)
                if (v & (1 << i)) s += h[8 * j + 7 - i]; /* lag of bit i: 8j + 7 - i */
            cic_tab[j][v] = (uint16_t)s;
        }
    fir_pairs[0] = 0;
    for (int k = 0; k < PDM_FIR_TAPS; k++) fir_pairs[k + 1] = pdm_fir_taps[k];
    tables_ready = 1;
}

void pdm_dec_init(pdm_dec *d)
{
    if (!tables_ready) make_tables();
    uint8_t *p = (uint8_t *)d;
    for (size_t i = 0; i < sizeof *d; i++) p[i] = 0;
    /* PDM silence (density 1/2) before the stream, not all zeros (full negative scale),
     * so the output starts at 0 instead of a full-scale step. */
    for (int i = 0; i < 6; i++) d->hist[i] = 0x55;
}

static inline int16_t sat16(int32_t v)
{
    return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
}

/* One CIC output from the 8 bytes ending at w[newest]: the density of the last 61 bits. */
static inline int16_t cic(const uint8_t *w, int newest)
{
    int32_t s = cic_tab[0][w[newest]] + cic_tab[1][w[newest - 1]] + cic_tab[2][w[newest - 2]] +
                cic_tab[3][w[newest - 3]] + cic_tab[4][w[newest - 4]] + cic_tab[5][w[newest - 5]] +
                cic_tab[6][w[newest - 6]] + cic_tab[7][w[newest - 7]];
    return sat16(s - 32768); /* 65,536 (61 ones) is the one value that saturates */
}

/* Append v to a delay line stored twice, so buf[pos .. pos + len - 1] is always the window. */
static inline void push(int16_t *buf, uint16_t *pos, int len, int16_t v)
{
    buf[*pos] = v;
    buf[*pos + len] = v;
    if (++*pos == len) *pos = 0;
}

/* Half-band on the 24-sample window u (oldest first): centre u[12], pairs at odd offsets.
 * |acc| <= 32768 * 44,348 < 2^31. */
static inline int16_t halfband(const int16_t *u)
{
    int32_t acc = 16384 * (int32_t)u[12];
    for (int i = 0; i < 6; i++) acc += pdm_hb_taps[10 - 2 * i] * ((int32_t)u[11 - 2 * i] + u[13 + 2 * i]);
    return sat16((acc + (1 << 14)) >> 15);
}

/* Low-pass on the 192-sample window u (oldest first, word-aligned): the sum of |taps| is
 * 84,564, so the accumulator needs 64 bits. */
static inline int32_t lowpass(const int16_t *u)
{
    int64_t acc = 0;
#if defined(__ARM_FEATURE_DSP)
    /* SMLALD: two 16x16 products added to a 64-bit accumulator in one instruction */
    const uint32_t *x = (const uint32_t *)u, *c = (const uint32_t *)fir_pairs;
    uint32_t lo = 0, hi = 0;
    for (int k = 0; k < FIR_LEN / 2; k += 4) {
        __asm__("smlald %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x[k]), "r"(c[k]));
        __asm__("smlald %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x[k + 1]), "r"(c[k + 1]));
        __asm__("smlald %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x[k + 2]), "r"(c[k + 2]));
        __asm__("smlald %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x[k + 3]), "r"(c[k + 3]));
    }
    acc = (int64_t)(((uint64_t)hi << 32) | lo);
#else
    for (int k = 0; k < FIR_LEN; k++) acc += (int32_t)fir_pairs[k] * u[k];
#endif
    return (int32_t)((acc + (1 << 14)) >> 15);
}

size_t pdm_dec_process(pdm_dec *d, const uint8_t *pdm, size_t n_bytes, int16_t *pcm)
{
    size_t n_out = n_bytes / PDM_BYTES_PER_SAMPLE;
    uint8_t w[14]; /* 6 bytes of history + the 8 new bytes of one PCM sample */
    for (int i = 0; i < 6; i++) w[i] = d->hist[i];
    for (size_t n = 0; n < n_out; n++, pdm += 8) {
        for (int i = 0; i < 8; i++) w[6 + i] = pdm[i];
        /* 4 CIC outputs (128 kHz) -> 2 half-band outputs (64 kHz) -> 1 low-pass output */
        for (int h = 0; h < 2; h++) {
            push(d->hb, &d->hb_pos, HB_LEN, cic(w, 7 + 4 * h));
            push(d->hb, &d->hb_pos, HB_LEN, cic(w, 9 + 4 * h));
            push(d->fir, &d->fir_pos, FIR_LEN, halfband(d->hb + d->hb_pos));
        }
        int32_t y = lowpass(d->fir + d->fir_pos);
        /* DC blocker y[n] = x[n] - x[n-1] + (1 - 2^-10) y[n-1], kept with 16 more bits */
        d->dc_y += (int64_t)(y - d->dc_x) * 65536 - (d->dc_y >> 10);
        d->dc_x = y;
        int64_t out = (d->dc_y + 32768) >> 16;
        pcm[n] = (int16_t)(out > 32767 ? 32767 : out < -32768 ? -32768 : out);
        for (int i = 0; i < 6; i++) w[i] = w[8 + i];
    }
    for (int i = 0; i < 6; i++) d->hist[i] = w[i];
    return n_out;
}

static inline uint8_t rev8(uint32_t b)
{
    b = ((b & 0xF0u) >> 4) | ((b & 0x0Fu) << 4);
    b = ((b & 0xCCu) >> 2) | ((b & 0x33u) << 2);
    return (uint8_t)(((b & 0xAAu) >> 1) | ((b & 0x55u) << 1));
}

void pdm_i2s_halfwords_to_bytes(const uint16_t *src, size_t n_halfwords, uint8_t *dst)
{
    for (size_t i = 0; i < n_halfwords; i++) {
        uint16_t h = src[i]; /* read first: dst may alias src */
        dst[2 * i] = rev8(h >> 8);      /* bits 15..8: samples 0..7 */
        dst[2 * i + 1] = rev8(h & 0xFFu); /* bits 7..0: samples 8..15 */
    }
}

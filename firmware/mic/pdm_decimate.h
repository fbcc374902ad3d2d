/* PDM -> PCM decimation: 1-bit PDM at 2.048 MHz (64 x 32 kHz) -> int16 PCM at 32 kHz.
 *
 * Three linear-phase stages and a DC blocker, all in integer arithmetic (bit-exact twin:
 * exporter/frontend/pdm.py; design and measured response: reports/pdm_decimator.md):
 *   1. CIC (sinc^4), decimation 16 -> 128 kHz, computed as a 61-tap FIR over the bits with
 *      eight 256-entry byte tables (a byte of PDM is one table lookup, not eight integrator
 *      steps). Output S - 32768, S in [0, 65536]: PDM density d maps to (2d - 1) * 32768.
 *   2. Half-band FIR, 23 taps (6 distinct non-zero pairs), decimation 2 -> 64 kHz;
 *      passband 0-16 kHz, stopband >= 48 kHz (the band that would fold onto 0-16 kHz).
 *   3. Low-pass FIR, 191 taps, decimation 2 -> 32 kHz: passband 0-15 kHz with the CIC's
 *      droop compensated, stopband from 16 kHz.
 *   4. DC blocker, one pole at 1 - 2^-10 (-3 dB at 5 Hz), then rounding and saturation to
 *      int16. Full-scale PDM (all ones) is +32767: no gain stage can clip a signal the
 *      modulator can produce except filter overshoot at full scale, which saturates.
 * Group delay (linear phase part): 30 + 11*16 + 95*32 bits = 3,246 bits = 1.585 ms.
 *
 * PDM byte order: 8 samples per byte, the first (oldest) sample in the least significant
 * bit. pdm_i2s_halfwords_to_bytes converts the halfwords an STM32 SPI/I2S receives (first
 * sample in bit 15) into that order. */
#ifndef PDM_DECIMATE_H
#define PDM_DECIMATE_H

#include <stddef.h>
#include <stdint.h>

#define PDM_RATE_HZ 2048000u
#define PDM_PCM_RATE_HZ 32000u
#define PDM_BYTES_PER_SAMPLE 8u /* 64 PDM bits per PCM sample */
#define PDM_HB_TAPS 23
#define PDM_FIR_TAPS 191

typedef struct {
    uint8_t hist[6];            /* the previous 6 PDM bytes (the CIC's 64-bit window) */
    uint16_t hb_pos, fir_pos;   /* next write index of each delay line */
    int16_t hb[2 * 24];         /* 128 kHz samples, each written twice (contiguous window) */
    int16_t fir[2 * 192] __attribute__((aligned(4))); /* 64 kHz samples, same */
    int32_t dc_x;               /* previous input of the DC blocker */
    int64_t dc_y;               /* its state: Q15 output with 16 more fraction bits */
} pdm_dec;

extern const int16_t pdm_hb_taps[PDM_HB_TAPS];
extern const int16_t pdm_fir_taps[PDM_FIR_TAPS];

void pdm_dec_init(pdm_dec *d);
/* Decimate n_bytes of PDM (a multiple of 8) into n_bytes / 8 PCM samples; returns that
 * count. Streams may be cut anywhere on an 8-byte boundary. */
size_t pdm_dec_process(pdm_dec *d, const uint8_t *pdm, size_t n_bytes, int16_t *pcm);
/* STM32 SPI/I2S halfwords (first sample in bit 15, stored little-endian) -> PDM bytes in
 * time order, first sample in bit 0. In place is fine (dst == src). */
void pdm_i2s_halfwords_to_bytes(const uint16_t *src, size_t n_halfwords, uint8_t *dst);

#endif

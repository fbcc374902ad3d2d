/* The I2S microphone's samples -> int16 PCM (the nRF52840-DK's path, before the 126/125
 * resampler): 24-bit samples, right-aligned and sign-extended in 32-bit words (the nRF52840's
 * SWIDTH 24 as RXD delivers them), rounded to 16 bits, then the DC blocker of
 * the PDM path (one pole at 1 - 2^-10: -3 dB at 5 Hz; an SPH0645 has a large DC offset),
 * rounded and saturated. Twin: exporter/frontend/resample.py i2s_to_pcm16. */
#ifndef I2S_PCM_H
#define I2S_PCM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int32_t dc_x; /* previous input of the DC blocker */
    int64_t dc_y; /* its state: Q15 output with 16 more fraction bits */
} i2s_pcm;

void i2s_pcm_init(i2s_pcm *s);
void i2s_pcm_process(i2s_pcm *s, const int32_t *in, size_t n, int16_t *out);

#endif

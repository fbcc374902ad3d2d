/* 126/125 fixed-point polyphase resampler: int16 at 31,746.03 Hz (the nRF52840's I2S at
 * 32 MHz / 21 / 48) -> int16 at 32,000 Hz. 32,000 / 31,746.03 = 126 / 125 exactly.
 *
 * Output m is taken at input time 125 m / 126: phase p = 125 m mod 126 of a 126 x 48-tap
 * polyphase low-pass (Kaiser-windowed sinc cut off at the input's Nyquist frequency, Q14, every
 * phase summing to 16384; bench/resample_design.py), applied to the 48 newest inputs, rounded
 * and saturated to int16. Flat within 0.002 dB to 14 kHz, -0.5 dB at 15 kHz, -6 dB at 15.87 kHz,
 * -55 dB at 17.25 kHz, below -71 dB from 17.5 kHz (images that would fold below 14.5 kHz);
 * group delay (126 x 48 - 1) / 2 / 126 = 24.0 input samples (0.76 ms). Bit-exact twin: exporter/frontend/resample.py;
 * measured: reports/mic_rate_effect.md. Every input gives one output, one in 125 gives two. */
#ifndef RESAMPLE_126_125_H
#define RESAMPLE_126_125_H

#include <stddef.h>
#include <stdint.h>

#define RS126_TAPS 48
/* Outputs a call with n inputs may give, at most. */
#define RS126_MAX_OUT(n) ((n) + (n) / 125u + 1u)

typedef struct {
    int16_t line[2 * RS126_TAPS]; /* the 48 newest inputs, stored twice (contiguous window) */
    uint16_t pos;                 /* next write index; the window starts there */
    uint16_t phase;               /* phase of the next output, 0..125 */
} rs126;

void rs126_init(rs126 *r);
/* Resample n inputs; writes up to RS126_MAX_OUT(n) outputs, returns their count. Streams may
 * be cut anywhere. */
size_t rs126_process(rs126 *r, const int16_t *in, size_t n, int16_t *out);

#endif

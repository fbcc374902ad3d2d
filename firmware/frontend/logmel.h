/* Fixed-point log-mel frontend: int16 PCM at 32 kHz in, int16 Q3.12 frames of the
 * reference's normalised log-mel ((ln(mel + 1e-5) + 4.5) / 5) out, one per 320 samples.
 * Integer arithmetic only; the numpy twin exporter/frontend/fixed.py computes the same
 * bytes at every stage. Tables and formats: exporter/frontend/tables.py. */
#ifndef LOGMEL_H
#define LOGMEL_H
#include <stddef.h>
#include <stdint.h>

#define LOGMEL_BANDS 128
#define LOGMEL_FRAC_BITS 12 /* frames are int16, Q3.12: real = q / 4096 */
#define LOGMEL_HOP 320
#define LOGMEL_WIN 800      /* pre-emphasised samples under one frame's window */
#define LOGMEL_XBUF (LOGMEL_WIN + 2) /* input samples a frame needs (801), kept even */
#define LOGMEL_NFFT 1024

typedef void (*logmel_frame_fn)(void *user, const int16_t frame[LOGMEL_BANDS]);

/* Optional dump of the intermediate stages of every frame (host tests), in this order:
 * called with the stage id, the data and its size in bytes. */
enum {
  LOGMEL_STAGE_FFT = 0,   /* int32[1024]: 512-point FFT of the windowed frame / 8, digit-reversed order */
  LOGMEL_STAGE_POWER = 1, /* uint64: re^2 + im^2 of 2X, one call per bin, bin_lo..bin_hi */
  LOGMEL_STAGE_MEL = 2,   /* uint64[128]: band sums (weights / 2^16), without the floor */
  LOGMEL_STAGE_LOG = 3,   /* int32[128]: (ln(mel + 1e-5) + 4.5) / 5 in Q24, before rounding */
  LOGMEL_NUM_STAGES = 4
};
typedef void (*logmel_stage_fn)(void *user, int stage, const void *data, size_t bytes);

typedef struct logmel_state {
  logmel_frame_fn fn;
  void *user;
  logmel_stage_fn stage_fn; /* NULL unless logmel_set_stage_hook */
  void *stage_user;
  int16_t x[LOGMEL_XBUF];   /* input samples x[base .. base + count) */
  int32_t base, count;
  int32_t n_in;             /* input samples so far: a clip holds < 2^31 samples (18 h) */
  int32_t next_frame;
  int32_t ended;
  int32_t fft[LOGMEL_NFFT];          /* scratch: the FFT, then the power spectrum in its place */
} logmel_state;

void logmel_begin(logmel_state *s, logmel_frame_fn fn, void *user); /* start of a clip */
void logmel_push(logmel_state *s, const int16_t *pcm, size_t n);    /* any block size */
/* End of clip: emits the remaining frames with the reference's reflect padding;
 * returns the clip's frame count, or < 0 if the clip was too short (< 514 samples,
 * in which case no frame was emitted). */
int logmel_end(logmel_state *s);
/* L: round_div(sum, n) per band (half away from zero), saturated to int16; zeros if
 * n_frames < 1. */
void logmel_mean_q12(const int32_t sum[LOGMEL_BANDS], int32_t n_frames, int16_t out[LOGMEL_BANDS]);

void logmel_set_stage_hook(logmel_state *s, logmel_stage_fn fn, void *user); /* after begin */
/* The last two stages on their own, for tests: the normalised log-mel in Q24 of a mel
 * value v = mel + floor >= 1 (CLZ + table), and its rounding to
 * Q12 with saturation. */
int32_t logmel_log_q24(uint64_t v);
int16_t logmel_round_q12(int32_t log_q24);

#endif

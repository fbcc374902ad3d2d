/* efficientat-m4: streaming audio embeddings on a Cortex-M4 (or any C99 target).
 *
 * int16 PCM at 32 kHz, mono, in blocks of any size -> fixed-point log-mel -> int8 network
 * -> the M_B+L embedding [L | taps] of each window, handed to a callback. The integers are
 * those of the exporter's `reference` board, byte for byte (windows, padding and timestamps of
 * exporter/float_model/windows.py).
 *
 *     static efat_t efat;
 *     efat_init(&efat, on_embedding, NULL);
 *     for (;;) efat_push_pcm(&efat, block, n);   // e.g. each DMA half-buffer
 *     efat_finish(&efat);                        // end of the clip: the last windows
 *
 * Build options (compile definitions of the library's sources; the CMake, Zephyr, PlatformIO
 * and Makefile files set them, README.md). The application needs none of them: efat_t has the
 * same layout in every build, and efat_info says what was built.
 *   EFAT_MODE_TIMESTAMP    timestamp mode: a 160 ms window every 50 ms on the clip
 *                          reflect-padded by 80 ms, an embedding each, timestamp = window
 *                          centre (50 ms * i), delivered as soon as its samples are pushed.
 *                          Without it, scene mode: the whole clip (up to 10 s) is one window,
 *                          streamed through the network as it arrives; one embedding at
 *                          efat_finish, timestamp 0.
 *   NET_MAX_FRAMES         frames per window the network's arena holds (the window size; one
 *                          of the export's plans, network_plan.json): 16 for timestamp mode
 *                          (required there), 1000 for 10 s scene windows. A scene clip longer
 *                          than NET_MAX_FRAMES * 10 ms is refused (EFAT_ERR_TOO_LONG).
 *   EFAT_SCENE_LONG_CLIPS  scene clips over 10 s: 10 s windows every 2.5 s on the clip
 *                          reflect-padded by 5 s, averaged (a 626 KiB sample ring). Without
 *                          it such a clip is refused (EFAT_ERR_LONG_CLIP).
 *   EFAT_PROFILE           instruction counts per part (efat_profile); the application
 *                          defines uint64_t efat_profile_clock(void).
 *
 * One efat_t runs at a time: the network's activation arena is a static array. Not
 * reentrant; call it from one thread (or task) only. */
#ifndef EFAT_H
#define EFAT_H

#include <stddef.h>
#include <stdint.h>

#include "embed.h"
#include "padded_windows.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EFAT_SAMPLE_RATE 32000
#define EFAT_DIM EMBED_DIM             /* values per embedding: EFAT_L_DIM + NET_TAP_DIM */
#define EFAT_L_DIM EMBED_L_DIM         /* L: the clip's mean log-mel, 128 bands */
#define EFAT_L_FRAC_BITS LOGMEL_FRAC_BITS /* L is Q3.12: real = q / 4096 */
#define EFAT_NUM_TAPS NET_NUM_TAPS

enum { EFAT_SCENE = 0, EFAT_TIMESTAMP = 1 };

enum {
    EFAT_OK = 0,
    EFAT_ERR_TOO_SHORT = EMBED_TOO_SHORT, /* timestamp: 2,560 samples or fewer; scene: < 514 */
    EFAT_ERR_TOO_LONG = EMBED_TOO_LONG,   /* a window has more than NET_MAX_FRAMES frames */
    EFAT_ERR_NETWORK = EMBED_NET_FAILED,
    EFAT_ERR_LONG_CLIP = -4,              /* scene clip over 10 s, built without EFAT_SCENE_LONG_CLIPS */
    EFAT_ERR_FINISHED = -5                /* push after efat_finish (efat_reset starts a new clip) */
};

/* Tap t of an embedding: values[EFAT_L_DIM + offset .. + channels), int8 range,
 * real = scale * (q - zero_point). */
typedef net_tap_t efat_tap_t;

/* What this build of the library computes. */
typedef struct {
    uint8_t mode;             /* EFAT_SCENE or EFAT_TIMESTAMP */
    uint8_t l_frac_bits;      /* EFAT_L_FRAC_BITS */
    uint16_t dim, l_dim;      /* EFAT_DIM, EFAT_L_DIM */
    uint16_t max_frames;      /* NET_MAX_FRAMES */
    uint32_t window_samples;  /* 5,120 (timestamp) or 320,000 (scene: 10 s) */
    uint32_t hop_samples;     /* 1,600 (timestamp: 50 ms) or 80,000 (scene windows of long clips) */
    uint8_t num_taps;
    const efat_tap_t *taps;   /* num_taps, in the order of the embedding */
} efat_info_t;
extern const efat_info_t efat_info;

typedef struct {
    const int16_t *values;    /* info->dim values: [L (Q l_frac_bits) | taps]; valid during the call */
    uint32_t timestamp_ms;    /* window centre (timestamp mode), 0 in scene mode */
    uint32_t index;           /* window index (timestamp mode), 0 in scene mode */
    const efat_info_t *info;  /* dequantization: l_frac_bits and the taps' offset, channels,
                                 scale and zero point (efat_dequantize) */
} efat_embedding_t;

typedef void (*efat_callback)(void *user, const efat_embedding_t *e);

/* The state of one clip. Its fields are the library's; the size is independent of the build
 * options (the sample ring of the mode is a static array of efat.c). */
typedef struct efat {
    efat_callback callback;
    void *user;
    embed_state emb;          /* the window being computed: frontend state, L sums */
    padded_windows cutter;    /* timestamp windows, or scene windows of clips over 10 s */
    int16_t values[EFAT_DIM]; /* the embedding handed to the callback */
    uint32_t n_samples;       /* pushed so far */
    int32_t error;            /* first EFAT_ERR_* of the clip */
    uint8_t one_pass;         /* scene: the clip is still one window (<= 10 s) */
    uint8_t finished;
} efat_t;

/* Starts a clip: embeddings go to callback(user, ...). */
void efat_init(efat_t *s, efat_callback callback, void *user);
/* Feeds n samples (any n, 0 included). Runs the frontend and the network as far as the
 * samples allow and calls the callback for every window they complete. Returns EFAT_OK or
 * the clip's first error so far (later windows still run). A clip holds < 2^31 samples
 * (18 h): for an endless stream, efat_finish + efat_reset now and then. */
int efat_push_pcm(efat_t *s, const int16_t *pcm, size_t n);
/* End of the clip: the remaining windows with the end reflection (timestamp), or the scene
 * embedding. Returns EFAT_OK or the clip's first error (then scene mode sends nothing). */
int efat_finish(efat_t *s);
/* Forgets the clip and starts a new one with the same callback. */
void efat_reset(efat_t *s);
/* The real value of e->values[i]: L / 2^l_frac_bits, a tap scale * (q - zero_point). */
float efat_dequantize(const efat_embedding_t *e, int i);

#ifdef EFAT_PROFILE
uint64_t efat_profile_clock(void); /* the application's: instructions or cycles so far */
#endif

#ifdef __cplusplus
}
#endif

#endif /* EFAT_H */

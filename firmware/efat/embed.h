/* One network window as a finite clip: PCM -> log-mel frames (frontend) -> network -> the
 * M_B+L integers [L (Q12 mean of the frames) | taps]. */
#ifndef EMBED_H
#define EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "logmel.h"
#include "network.h"

#define EMBED_L_DIM LOGMEL_BANDS
#define EMBED_DIM (LOGMEL_BANDS + NET_TAP_DIM)

enum { EMBED_OK = 0, EMBED_TOO_SHORT = -1, EMBED_TOO_LONG = -2, EMBED_NET_FAILED = -3 };

/* Frames shared between overlapping windows of one stream (timestamp mode): a window's
 * interior frames (logmel_set_share) are kept by stream position, the frame index counted
 * from the padded stream's start, and the next window takes those at its positions instead
 * of computing them again. The frame at position g lives in slot g % slots; pos[slot] says
 * which position a slot holds (-1: none), so a slot overwritten by another position is
 * simply computed again: any number of slots is correct, enough of them share all. */
typedef struct {
    int16_t (*frames)[LOGMEL_BANDS];
    int32_t *pos;
    uint32_t slots;
} embed_frame_cache;
void embed_cache_init(embed_frame_cache *c, int16_t (*frames)[LOGMEL_BANDS], int32_t *pos, uint32_t slots);

typedef struct {
    logmel_state mel;
    embed_frame_cache *cache;   /* NULL: nothing shared */
    int32_t position;           /* stream position of the window's frame 0 */
    int32_t sum[LOGMEL_BANDS];  /* of the window's frames, for L */
    int32_t frames;
    int overflow;               /* the network refused a frame: more than NET_MAX_FRAMES */
} embed_state;

void embed_begin(embed_state *e);
/* embed_begin for a window whose frame 0 is at stream position `position`, sharing frames
 * through `cache` with the other windows of the stream. */
void embed_begin_shared(embed_state *e, embed_frame_cache *cache, int32_t position);
void embed_push(embed_state *e, const int16_t *pcm, size_t n);
/* Ends the window; EMBED_OK and out[EMBED_DIM], or an EMBED_* error. */
int embed_end(embed_state *e, int16_t out[EMBED_DIM]);

/* Instruction counts of profiling builds (EFAT_PROFILE), summed over windows. */
typedef struct {
    uint64_t frontend, network;
    uint32_t windows;
} embed_profile_t;
extern embed_profile_t embed_profile;

#endif

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

typedef struct {
    logmel_state mel;
    int32_t sum[LOGMEL_BANDS];  /* of the window's frames, for L */
    int32_t frames;
    int overflow;               /* the network refused a frame: more than NET_MAX_FRAMES */
} embed_state;

void embed_begin(embed_state *e);
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

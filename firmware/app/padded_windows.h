/* Cuts a PCM stream of unknown length into the windows of exporter/windows.py: the clip
 * reflect-padded by `pad` samples on each side, windows of `window` samples every `hop`.
 * Samples live in a ring indexed by position in the padded signal. The start reflection
 * needs the first pad+1 samples, the end reflection the last pad+1: the ring must hold
 * more than 2*pad and at least `window` samples. */
#ifndef PADDED_WINDOWS_H
#define PADDED_WINDOWS_H

#include <stddef.h>
#include <stdint.h>

typedef struct padded_windows padded_windows;
/* Window i (starting at padded position i*hop) is complete: its samples are
 * a[0..na) followed by b[0..nb). */
typedef void (*window_fn)(void *user, uint32_t index, const int16_t *a, size_t na,
                          const int16_t *b, size_t nb);

struct padded_windows {
    int16_t *ring;
    uint32_t ring_len, pad, window, hop;
    uint32_t n_raw;    /* clip samples received */
    uint32_t next;     /* index of the next window to emit */
    int hold;          /* store samples but emit nothing until pw_release */
    window_fn fn;
    void *user;
};

void pw_init(padded_windows *w, int16_t *ring, uint32_t ring_len, uint32_t pad, uint32_t window,
             uint32_t hop, window_fn fn, void *user);
void pw_push(padded_windows *w, const int16_t *pcm, size_t n);
/* Emits the windows held back so far (hold was set after pw_init). */
void pw_release(padded_windows *w);
/* End of clip: appends the end reflection and emits the remaining windows. Returns the
 * number of windows of the clip, or -1 if it is too short (pad or fewer samples). */
int32_t pw_finish(padded_windows *w);

#endif

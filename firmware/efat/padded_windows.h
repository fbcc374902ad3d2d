/* Cuts a PCM stream of unknown length into the windows of exporter/float_model/windows.py: the clip
 * reflect-padded by `pad` samples on each side, windows of `window` samples every `hop`
 * (2*pad == window in both modes). One window at a time is fed to a sink as the samples
 * arrive (begin, push..., end), so the frontend and the network work while the audio streams.
 * The reflections are read from the clip itself, never stored: the ring keeps only the clip
 * samples that the active window and the overlapping later ones still need,
 * ring_len >= window - hop (plus what `hold` keeps back). */
#ifndef PADDED_WINDOWS_H
#define PADDED_WINDOWS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    void (*begin)(void *user, uint32_t index);
    void (*push)(void *user, const int16_t *pcm, size_t n);
    void (*end)(void *user, uint32_t index);
} window_sink;

typedef struct padded_windows {
    int16_t *ring;       /* clip sample r at ring[r % ring_len] */
    uint32_t ring_len, pad, window, hop;
    uint32_t n_raw;      /* clip samples received */
    uint32_t active;     /* index of the window being fed */
    uint32_t fed;        /* padded position of its next sample */
    int begun;           /* the sink has begun the active window */
    int hold;            /* store samples, feed nothing until pw_release (the ring must hold them) */
    int ended;
    const window_sink *sink;
    void *user;
} padded_windows;

void pw_init(padded_windows *w, int16_t *ring, uint32_t ring_len, uint32_t pad, uint32_t window,
             uint32_t hop, const window_sink *sink, void *user);
void pw_push(padded_windows *w, const int16_t *pcm, size_t n);
/* Starts feeding what `hold` kept back. */
void pw_release(padded_windows *w);
/* End of clip: feeds the rest with the end reflection. Returns the number of windows of the
 * clip, or -1 if it is too short (pad or fewer samples; then no window was begun). */
int32_t pw_finish(padded_windows *w);

#endif

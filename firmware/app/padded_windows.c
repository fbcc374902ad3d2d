#include "padded_windows.h"

#include <string.h>

void pw_init(padded_windows *w, int16_t *ring, uint32_t ring_len, uint32_t pad, uint32_t window,
             uint32_t hop, window_fn fn, void *user)
{
    w->ring = ring;
    w->ring_len = ring_len;
    w->pad = pad;
    w->window = window;
    w->hop = hop;
    w->n_raw = 0;
    w->next = 0;
    w->hold = 0;
    w->fn = fn;
    w->user = user;
}

static void emit_ready(padded_windows *w, uint32_t padded_len)
{
    while ((uint64_t)w->next * w->hop + w->window <= padded_len) {
        uint32_t start = (w->next * w->hop) % w->ring_len;
        uint32_t na = w->ring_len - start;
        if (na > w->window) na = w->window;
        w->fn(w->user, w->next, w->ring + start, na, w->ring, w->window - na);
        w->next++;
    }
}

void pw_push(padded_windows *w, const int16_t *pcm, size_t n)
{
    /* Copied in chunks that stop at the ring's end, at the sample completing the start
     * reflection and at the sample completing a window, so each window is emitted before
     * the ring overwrites it. */
    while (n) {
        uint32_t pos = (w->pad + w->n_raw) % w->ring_len;
        size_t chunk = w->ring_len - pos;
        if (chunk > n) chunk = n;
        if (w->n_raw <= w->pad) {
            if (w->n_raw + chunk > w->pad + 1) chunk = w->pad + 1 - w->n_raw;
        } else if (!w->hold) {
            uint64_t complete = (uint64_t)w->next * w->hop + w->window - w->pad; /* n_raw then */
            if (w->n_raw + chunk > complete) chunk = (size_t)(complete - w->n_raw);
        }
        memcpy(w->ring + pos, pcm, chunk * sizeof *pcm);
        w->n_raw += (uint32_t)chunk;
        pcm += chunk;
        n -= chunk;
        if (w->n_raw == w->pad + 1) {
            /* The start reflection: padded[pad - k] = x[k]. No wrap yet: ring_len > 2*pad. */
            for (uint32_t k = 1; k <= w->pad; k++) w->ring[w->pad - k] = w->ring[w->pad + k];
        }
        if (w->n_raw > w->pad && !w->hold) emit_ready(w, w->pad + w->n_raw);
    }
}

void pw_release(padded_windows *w)
{
    w->hold = 0;
    if (w->n_raw > w->pad) emit_ready(w, w->pad + w->n_raw);
}

int32_t pw_finish(padded_windows *w)
{
    uint32_t n = w->n_raw;
    if (n <= w->pad) return -1;
    w->hold = 0;
    /* The end reflection: padded[pad + n - 1 + k] = x[n - 1 - k]. Reading position
     * pad+n-1-k while writing pad+n-1+k is safe because ring_len > 2*pad. */
    uint32_t last = w->pad + n - 1;
    for (uint32_t k = 1; k <= w->pad; k++) {
        w->ring[(last + k) % w->ring_len] = w->ring[(last - k) % w->ring_len];
        emit_ready(w, last + k + 1);
    }
    return (int32_t)w->next;
}

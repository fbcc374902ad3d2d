#include "padded_windows.h"

#include <string.h>

void pw_init(padded_windows *w, int16_t *ring, uint32_t ring_len, uint32_t pad, uint32_t window,
             uint32_t hop, const window_sink *sink, void *user)
{
    memset(w, 0, sizeof *w);
    w->ring = ring;
    w->ring_len = ring_len;
    w->pad = pad;
    w->window = window;
    w->hop = hop;
    w->sink = sink;
    w->user = user;
}

/* Feeds padded positions [from, to) of the active window. Positions map to clip samples
 * r = p - pad, reflected at both ends (numpy's "reflect": r -> -r, r -> 2(n-1) - r). */
static void feed(padded_windows *w, uint32_t from, uint32_t to)
{
    int16_t rev[64];
    int64_t last = (int64_t)w->n_raw - 1;
    while (from < to) {
        int64_t r = (int64_t)from - w->pad;
        size_t n = to - from;
        if (r < 0 || r > last) {
            /* a reflection: samples in reverse order, copied */
            if (n > sizeof rev / sizeof rev[0]) n = sizeof rev / sizeof rev[0];
            if (r < 0 && (int64_t)n > -r) n = (size_t)(-r);
            for (size_t k = 0; k < n; k++) {
                int64_t q = r + (int64_t)k;
                q = q < 0 ? -q : 2 * last - q;
                rev[k] = w->ring[(uint32_t)q % w->ring_len];
            }
            w->sink->push(w->user, rev, n);
        } else {
            /* clip samples: contiguous up to the ring's end or the clip's last sample */
            uint32_t slot = (uint32_t)r % w->ring_len;
            if (n > w->ring_len - slot) n = w->ring_len - slot;
            if ((int64_t)n > last - r + 1) n = (size_t)(last - r + 1);
            w->sink->push(w->user, w->ring + slot, n);
        }
        from += (uint32_t)n;
    }
}

/* Feeds the active window (and the next ones) as far as the samples allow. */
static void pump(padded_windows *w)
{
    if (w->hold || w->n_raw <= w->pad) return; /* the start reflection needs pad + 1 samples */
    uint64_t avail = (uint64_t)w->pad + w->n_raw + (w->ended ? w->pad : 0);
    for (;;) {
        uint64_t start = (uint64_t)w->active * w->hop, stop = start + w->window;
        if (stop > avail && (w->ended || start >= avail)) return;
        if (!w->begun) {
            w->sink->begin(w->user, w->active);
            w->begun = 1;
            w->fed = (uint32_t)start;
        }
        uint32_t lim = (uint32_t)(stop < avail ? stop : avail);
        if (w->fed < lim) feed(w, w->fed, lim);
        w->fed = lim;
        if (lim < stop) return;
        w->sink->end(w->user, w->active);
        w->active++;
        w->begun = 0;
    }
}

void pw_push(padded_windows *w, const int16_t *pcm, size_t n)
{
    /* Chunks stop at the sample that completes the start reflection or the active window, so
     * the window is fed before the ring overwrites what the next windows need. */
    while (n) {
        uint32_t slot = w->n_raw % w->ring_len;
        size_t chunk = w->ring_len - slot;
        if (chunk > n) chunk = n;
        if (!w->hold) {
            uint64_t need = w->n_raw <= w->pad ? w->pad + 1
                                               : (uint64_t)w->active * w->hop + w->window - w->pad;
            if (need > w->n_raw && w->n_raw + chunk > need) chunk = (size_t)(need - w->n_raw);
        }
        memcpy(w->ring + slot, pcm, chunk * sizeof *pcm);
        w->n_raw += (uint32_t)chunk;
        pcm += chunk;
        n -= chunk;
        pump(w);
    }
}

void pw_release(padded_windows *w)
{
    w->hold = 0;
    pump(w);
}

int32_t pw_finish(padded_windows *w)
{
    if (w->n_raw <= w->pad) return -1;
    w->hold = 0;
    w->ended = 1;
    pump(w);
    return (int32_t)w->active;
}

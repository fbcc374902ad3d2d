/* 126/125 polyphase resampler (resample_126_125.h). */
#include "resample_126_125.h"

#include <string.h>

#include "resample_126_125_taps.h"

#if RS_TAPS != RS126_TAPS
#error "resample_126_125_taps.h does not match resample_126_125.h"
#endif

void rs126_init(rs126 *r)
{
    memset(r, 0, sizeof *r);
}

/* One output: the window w (48 inputs, oldest first) times phase p's taps, Q14.
 * Every phase's sum of |taps| is below 2^16 (the design checks it), so with |x| <= 2^15 the
 * 32-bit accumulator cannot overflow. */
static inline int16_t dot(const int16_t *w, const int16_t *c)
{
    int32_t acc = 0;
#if defined(__ARM_FEATURE_DSP)
    /* SMLAD: two 16x16 products per instruction. The window may start at an odd sample:
     * memcpy becomes an unaligned LDR (allowed for LDR on the Cortex-M4). */
    const uint32_t *cp = (const uint32_t *)c;
    for (int k = 0; k < RS126_TAPS / 2; k += 4) {
        uint32_t x0, x1, x2, x3;
        memcpy(&x0, w + 2 * k, 4);
        memcpy(&x1, w + 2 * k + 2, 4);
        memcpy(&x2, w + 2 * k + 4, 4);
        memcpy(&x3, w + 2 * k + 6, 4);
        __asm__("smlad %0, %1, %2, %0" : "+r"(acc) : "r"(x0), "r"(cp[k]));
        __asm__("smlad %0, %1, %2, %0" : "+r"(acc) : "r"(x1), "r"(cp[k + 1]));
        __asm__("smlad %0, %1, %2, %0" : "+r"(acc) : "r"(x2), "r"(cp[k + 2]));
        __asm__("smlad %0, %1, %2, %0" : "+r"(acc) : "r"(x3), "r"(cp[k + 3]));
    }
#else
    for (int i = 0; i < RS126_TAPS; i++) acc += (int32_t)c[i] * w[i];
#endif
    int32_t y = (acc + (1 << 13)) >> 14;
    return (int16_t)(y > 32767 ? 32767 : y < -32768 ? -32768 : y);
}

size_t rs126_process(rs126 *r, const int16_t *in, size_t n, int16_t *out)
{
    size_t m = 0;
    uint32_t pos = r->pos, phase = r->phase;
    for (size_t i = 0; i < n; i++) {
        r->line[pos] = in[i];
        r->line[pos + RS126_TAPS] = in[i];
        if (++pos == RS126_TAPS) pos = 0;
        const int16_t *w = r->line + pos;
        /* outputs whose time falls at this input: one, or two when the phase wraps to 125 */
        for (;;) {
            out[m++] = dot(w, rs_taps[phase]);
            phase += RS_STEP;
            if (phase >= RS_PHASES) {
                phase -= RS_PHASES;
                break;
            }
        }
    }
    r->pos = (uint16_t)pos;
    r->phase = (uint16_t)phase;
    return m;
}

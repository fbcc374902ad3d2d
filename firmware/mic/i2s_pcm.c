/* I2S 24-bit samples -> int16 PCM with DC removal (i2s_pcm.h). */
#include "i2s_pcm.h"

void i2s_pcm_init(i2s_pcm *s)
{
    s->dc_x = 0;
    s->dc_y = 0;
}

void i2s_pcm_process(i2s_pcm *s, const int32_t *in, size_t n, int16_t *out)
{
    int32_t dc_x = s->dc_x;
    int64_t dc_y = s->dc_y;
    for (size_t i = 0; i < n; i++) {
        int32_t x = (in[i] + 128) >> 8; /* 24 -> 16 bits, rounded */
        /* y[n] = x[n] - x[n-1] + (1 - 2^-10) y[n-1], kept with 16 more bits */
        dc_y += (int64_t)(x - dc_x) * 65536 - (dc_y >> 10);
        dc_x = x;
        int64_t y = (dc_y + 32768) >> 16;
        out[i] = (int16_t)(y > 32767 ? 32767 : y < -32768 ? -32768 : y);
    }
    s->dc_x = dc_x;
    s->dc_y = dc_y;
}

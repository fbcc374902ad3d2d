/* Host test program for the nRF52840-DK's microphone path (tests/test_resample.py):
 *   resample_cli PCM_FILE CHUNK [i2s]  -> int16 little-endian PCM on standard output
 * PCM_FILE: int16 little-endian at 31,746 Hz, resampled 126/125; with `i2s`, int32 I2S words
 * (24-bit samples sign-extended), through i2s_pcm (24 -> 16 bits, DC blocker) first. CHUNK:
 * input samples per call, so that the tests cut the stream at many places. */
#include <stdio.h>
#include <stdlib.h>

#include "i2s_pcm.h"
#include "resample_126_125.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PCM_FILE CHUNK [i2s]\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    long chunk = strtol(argv[2], NULL, 10);
    int i2s = argc > 3;
    if (chunk < 1 || chunk > 4096) return 2;
    static int32_t words[4096];
    static int16_t in[4096];
    static int16_t out[RS126_MAX_OUT(4096)];
    rs126 r;
    rs126_init(&r);
    i2s_pcm p;
    i2s_pcm_init(&p);
    size_t got;
    while ((got = i2s ? fread(words, sizeof words[0], (size_t)chunk, f) : fread(in, sizeof in[0], (size_t)chunk, f)) > 0) {
        if (i2s) i2s_pcm_process(&p, words, got, in);
        size_t n = rs126_process(&r, in, got, out);
        fwrite(out, sizeof out[0], n, stdout);
    }
    fclose(f);
    return 0;
}

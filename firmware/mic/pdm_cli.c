/* Host test program for the PDM decimator (tests/test_pdm.py):
 *   pdm_cli PDM_FILE CHUNK [i2s]  -> int16 little-endian PCM on standard output
 * PDM_FILE holds PDM bytes (first sample in bit 0), or with `i2s` the halfwords an STM32
 * SPI/I2S receives (first sample in bit 15, little-endian). CHUNK: PCM samples per call,
 * so that the tests cut the stream at many places. */
#include <stdio.h>
#include <stdlib.h>

#include "pdm_decimate.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PDM_FILE CHUNK [i2s]\n", argv[0]);
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
    static uint8_t in[4096 * PDM_BYTES_PER_SAMPLE];
    static int16_t out[4096];
    pdm_dec d;
    pdm_dec_init(&d);
    size_t got;
    while ((got = fread(in, PDM_BYTES_PER_SAMPLE, (size_t)chunk, f)) > 0) {
        if (i2s) pdm_i2s_halfwords_to_bytes((const uint16_t *)in, got * 4, in);
        size_t n = pdm_dec_process(&d, in, got * PDM_BYTES_PER_SAMPLE, out);
        fwrite(out, sizeof out[0], n, stdout);
    }
    fclose(f);
    return 0;
}

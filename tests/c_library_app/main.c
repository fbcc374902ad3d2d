/* A small application of the efficientat-m4 C library, built against an export folder alone
 * (tests/test_c_library.py): reads int16 PCM from a file, pushes it in odd-sized blocks and
 * prints what the library reports, one line each:
 *   info MODE DIM L_DIM L_FRAC_BITS MAX_FRAMES NUM_TAPS
 *   tap NAME OFFSET CHANNELS SCALE_BITS(hex) ZERO_POINT
 *   emb INDEX TIMESTAMP_MS V0 V1 ...         every embedding
 *   deq B0 B1 ...                            efat_dequantize of the clip's first one (float bits, hex)
 *   end RC SAMPLES                           efat_finish's result
 * Usage: app [PCM_FILE [REPEAT [BLOCK]]]; REPEAT > 1 runs the clip again after efat_reset;
 * BLOCK (up to 4093): blocks of that size instead of the odd sizes below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "efat.h"

static unsigned long float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (unsigned long)u;
}

static int first_of_clip;

static void on_embedding(void *user, const efat_embedding_t *e)
{
    (void)user;
    printf("emb %lu %lu", (unsigned long)e->index, (unsigned long)e->timestamp_ms);
    for (int i = 0; i < e->info->dim; i++) printf(" %d", e->values[i]);
    printf("\n");
    if (first_of_clip) {
        first_of_clip = 0;
        printf("deq");
        for (int i = 0; i < e->info->dim; i++) printf(" %08lx", float_bits(efat_dequantize(e, i)));
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "clip.raw";
    int repeat = argc > 2 ? atoi(argv[2]) : 1;
    size_t fixed = argc > 3 ? (size_t)atoi(argv[3]) : 0;
    const efat_info_t *info = &efat_info;
    printf("info %d %d %d %d %d %d\n", info->mode, info->dim, info->l_dim, info->l_frac_bits,
           info->max_frames, info->num_taps);
    for (int t = 0; t < info->num_taps; t++)
        printf("tap %s %d %d %08lx %ld\n", info->taps[t].name, info->taps[t].offset,
               info->taps[t].channels, float_bits(info->taps[t].scale), (long)info->taps[t].zero_point);

    /* Odd sizes, a zero-length push among them: windows and frames never align with blocks. */
    static const size_t sizes[] = {1, 7, 331, 0, 2, 1021, 4093, 160, 3};
    static int16_t block[4093];
    static efat_t efat;
    int rc = EFAT_OK;
    efat_init(&efat, on_embedding, NULL);
    for (int r = 0; r < repeat; r++) {
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            printf("error cannot open %s\n", path);
            return 4;
        }
        if (r > 0) efat_reset(&efat);
        first_of_clip = 1;
        unsigned long n = 0;
        for (size_t k = 0;; k++) {
            size_t want = fixed ? fixed : sizes[k % (sizeof sizes / sizeof sizes[0])];
            size_t got = fread(block, sizeof block[0], want, f);
            efat_push_pcm(&efat, block, got);
            n += got;
            if (got < want) break;
        }
        fclose(f);
        rc = efat_finish(&efat);
        printf("end %d %lu\n", rc, n);
    }
    fflush(stdout);
    return rc == EFAT_OK ? 0 : 2;
}

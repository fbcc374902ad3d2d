/* The emulated microphone: the PCM file (raw int16 little-endian, 32 kHz mono) whose path is
 * the second word of the semihosting command line, read in blocks like DMA half-buffers. */
#include "board.h"
#include "semihost.h"

static int32_t mic_handle = -1;

int board_mic_open(void)
{
    char cmdline[512];
    if (sh_get_cmdline(cmdline, sizeof cmdline) != 0) return -1;
    /* "<program> <pcm path>": the path is everything after the first space. */
    char *path = cmdline;
    while (*path && *path != ' ') path++;
    if (*path != ' ') return -1;
    path++;
    mic_handle = sh_open(path, 1 /* "rb" */);
    return mic_handle < 0 ? -1 : 0;
}

size_t mic_read_block(int16_t *buf, size_t n)
{
    if (mic_handle < 0) return 0;
    size_t got = sh_read(mic_handle, buf, n * sizeof(int16_t));
    return got / sizeof(int16_t);
}

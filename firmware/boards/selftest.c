/* Board self-test (tests/test_boards.py): reads the microphone to its end and reports the
 * sample count and sum in one frame of type 0x7F, then exits 0. A clip whose first sample is
 * 0x7A17 (and only one sample long) executes an undefined instruction instead, to check
 * the fault path (error frame + BOARD_EXIT_FAULT); 0x57AC overflows the stack. */
#include "board.h"
#include "uart_proto.h"

/* Recursion without end: a stack overflow (clip 0x57AC). */
static int recurse(volatile int *p)
{
    volatile int local[16];
    local[0] = *p + 1;
    return recurse(local) + local[1];
}

int app_main(void)
{
    if (board_mic_open() != 0) {
        proto_error(PROTO_ERR_NO_AUDIO, "no audio source");
        return BOARD_EXIT_NO_MIC;
    }
    int16_t block[320];
    uint32_t n = 0;
    int64_t sum = 0;
    int16_t first = 0;
    size_t got;
    uint64_t start = board_instructions();
    while ((got = mic_read_block(block, 320)) > 0) {
        if (n == 0) first = block[0];
        for (size_t i = 0; i < got; i++) sum += block[i];
        n += (uint32_t)got;
    }
#if defined(__arm__)
    if (n == 1 && first == 0x7A17) __asm__ volatile("udf #0");
    if (n == 1 && first == 0x57AC) {
        volatile int zero = 0;
        sum += recurse(&zero);
    }
#endif
    uint64_t insns = board_instructions() - start;
    proto_begin(0x7F, 0, 4 + 8 + 8);
    proto_put_u32(n);
    proto_put_u64((uint64_t)sum);
    proto_put_u64(insns);
    proto_end();
    return 0;
}

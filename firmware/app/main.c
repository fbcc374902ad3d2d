/* The embedding extractor: microphone -> windows -> M_B+L integers -> framed UART output
 * (docs/uart-protocol.md), on the streaming library (firmware/efat/efat.h), whose build options
 * fix the mode and the window size. */
#include <stdint.h>

#include "board.h"
#include "efat.h"
#include "app_frames.h"
#include "uart_proto.h"
#ifdef APP_HEADS
#include "heads_app.h"
#endif

#define MIC_BLOCK 320u /* 10 ms: one DMA half-buffer */

static efat_t efat;

/* The library's callback: the embedding frame, then (APP_HEADS) one scores frame per head. */
static void on_embedding(void *user, const efat_embedding_t *e)
{
    send_embedding(user, e);
#ifdef APP_HEADS
    heads_send_scores(e->timestamp_ms, e->values);
#endif
}

#ifdef APP_PROFILE
/* The library's profile clock (EFAT_PROFILE) is the board's instruction counter. */
uint64_t efat_profile_clock(void)
{
    return board_instructions();
}

static uint64_t op_insns[NET_NUM_OPS];
static uint64_t op_last;
static int op_current = -1;

/* NET_PROFILE(i) announces op i (i = NET_NUM_OPS: none); the instructions until the next
 * announcement belong to the op announced, whatever order the schedule runs ops in. */
void board_profile_op(int i)
{
    uint64_t now = board_instructions();
    if (op_current >= 0) op_insns[op_current] += now - op_last;
    op_current = (i >= 0 && i < NET_NUM_OPS) ? i : -1;
    op_last = board_instructions();
}

static void send_profile(uint64_t total)
{
    proto_begin(PROTO_PROFILE, 0, 30 + 8 * NET_NUM_OPS);
    proto_put_u32(embed_profile.windows);
    proto_put_u64(embed_profile.frontend);
    proto_put_u64(embed_profile.network);
    proto_put_u64(total);
    proto_put_u16(NET_NUM_OPS);
    for (int i = 0; i < NET_NUM_OPS; i++) proto_put_u64(op_insns[i]);
    proto_end();
}
#endif

int app_main(void)
{
    send_hello();
    if (board_mic_open() != 0) {
        proto_error(PROTO_ERR_NO_AUDIO, "no audio source (semihosting command line: <program> <pcm file>)");
        return BOARD_EXIT_NO_MIC;
    }
    uint64_t start = board_instructions();
    static int16_t block[MIC_BLOCK];
    uint32_t n = 0;
    size_t got;
    efat_init(&efat, on_embedding, 0);
    while ((got = mic_read_block(block, MIC_BLOCK)) > 0) {
        efat_push_pcm(&efat, block, got);
        n += (uint32_t)got;
    }
    int rc = efat_finish(&efat);

    uint64_t instructions = board_instructions() - start;
#ifdef APP_PROFILE
    send_profile(instructions);
#endif
    int code = BOARD_EXIT_OK;
    if (rc != EFAT_OK) code = report_error(n, rc);
    send_end(n, instructions);
    return code;
}

/* The embedding extractor: microphone -> windows -> M_B+L integers -> framed UART output
 * (docs/uart-protocol.md), on the streaming library (firmware/efat/efat.h), whose build options
 * fix the mode and the window size. */
#include <stdint.h>

#include "board.h"
#include "efat.h"
#include "uart_proto.h"

#define MIC_BLOCK 320u /* 10 ms: one DMA half-buffer */

static efat_t efat;
static uint32_t n_embeddings;

static void send_hello(void)
{
    const efat_info_t *info = &efat_info;
    uint16_t len = 9 + 1 + 0;
    for (int t = 0; t < info->num_taps; t++) {
        const char *s = info->taps[t].name;
        uint16_t n = 0;
        while (s[n]) n++;
        len += 13 + n;
    }
    uint16_t board_len = 0;
    while (board_name[board_len]) board_len++;
    len += board_len;
    proto_begin(PROTO_HELLO, 0, len);
    proto_put_u8(info->mode);
    proto_put_u8(info->l_frac_bits);
    proto_put_u16(info->dim);
    proto_put_u16(info->l_dim);
    proto_put_u16(info->max_frames);
    proto_put_u8(info->num_taps);
    for (int t = 0; t < info->num_taps; t++) {
        const efat_tap_t *tap = &info->taps[t];
        uint8_t n = 0;
        while (tap->name[n]) n++;
        proto_put_u16(tap->offset);
        proto_put_u16(tap->channels);
        proto_put_f32(tap->scale);
        proto_put_u32((uint32_t)tap->zero_point);
        proto_put_u8(n);
        proto_put(tap->name, n);
    }
    proto_put_u8((uint8_t)board_len);
    proto_put(board_name, board_len);
    proto_end();
}

/* The library's callback: each embedding becomes a frame. */
static void send_embedding(void *user, const efat_embedding_t *e)
{
    (void)user;
    proto_begin(PROTO_EMBEDDING, e->timestamp_ms, 2 * e->info->dim);
    for (int i = 0; i < e->info->dim; i++) proto_put_u16((uint16_t)e->values[i]);
    proto_end();
    n_embeddings++;
}

static void append_u32(char **p, uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) *(*p)++ = digits[--n];
}

static void append(char **p, const char *s)
{
    while (*s) *(*p)++ = *s++;
}

static int report_error(uint32_t n_samples, int rc)
{
    char msg[200], *p = msg;
    uint16_t code = PROTO_ERR_INTERNAL;
    int timestamp = efat_info.mode == EFAT_TIMESTAMP;
    append(&p, "clip of ");
    append_u32(&p, n_samples);
    if (rc == EFAT_ERR_TOO_SHORT) {
        code = PROTO_ERR_CLIP_TOO_SHORT;
        if (timestamp) {
            append(&p, " samples is too short for timestamp embeddings: more than ");
            append_u32(&p, efat_info.window_samples / 2u);
            append(&p, " samples are needed (reflect padding of 80 ms)");
        } else {
            append(&p, " samples is too short for a log-mel spectrogram");
        }
    } else if (rc == EFAT_ERR_TOO_LONG) {
        code = PROTO_ERR_CLIP_TOO_LONG;
        append(&p, timestamp ? " samples: a window has more frames than NET_MAX_FRAMES="
                             : " samples is too long for this build's scene window of NET_MAX_FRAMES=");
        append_u32(&p, efat_info.max_frames);
        append(&p, " frames on ");
        append(&p, board_name);
    } else if (rc == EFAT_ERR_LONG_CLIP) {
        code = PROTO_ERR_CLIP_TOO_LONG;
        append(&p, " samples is over 10 s: scene clips over 10 s need SCENE_LONG_CLIPS "
                   "(a 640 KB sample ring), not built for ");
        append(&p, board_name);
    } else {
        append(&p, " samples: the network failed");
    }
    *p = 0;
    proto_error(code, msg);
    return BOARD_EXIT_INPUT;
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

static void send_end(uint32_t n_samples, uint64_t instructions)
{
    proto_begin(PROTO_END, 0, 24);
    proto_put_u32(n_samples);
    proto_put_u32(n_embeddings);
    proto_put_u32(board_stack_size() - board_stack_unused());
    proto_put_u32(board_stack_size());
    proto_put_u64(instructions);
    proto_end();
}

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
    efat_init(&efat, send_embedding, 0);
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

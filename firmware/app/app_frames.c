/* The frames the applications send (docs/uart-protocol.md): hello, embedding, error, end.
 * Shared by the embedder (main.c) and the validation firmware (validator.c). */
#include <stdint.h>

#include "app_frames.h"
#include "board.h"
#include "uart_proto.h"

uint32_t n_embeddings;

void send_hello(void)
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
void send_embedding(void *user, const efat_embedding_t *e)
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

int report_error(uint32_t n_samples, int rc)
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

void send_end(uint32_t n_samples, uint64_t instructions)
{
    proto_begin(PROTO_END, 0, 24);
    proto_put_u32(n_samples);
    proto_put_u32(n_embeddings);
    proto_put_u32(board_stack_size() - board_stack_unused());
    proto_put_u32(board_stack_size());
    proto_put_u64(instructions);
    proto_end();
}


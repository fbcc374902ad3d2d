/* The validation firmware ("validate on target", docs/firmware.md): the embedder with the
 * microphone replaced by PCM the host streams over the UART (docs/uart-protocol.md, "The
 * validation session"). Clip after clip: pcm frames, then clip_end; the embeddings, scores (an
 * export with task heads), error and end frames go back exactly as from the embedder (main.c).
 * Flow control: every host frame is answered by a ready frame once it has been handled, and the
 * host sends nothing else before it, so the UART's receive register never overruns while the
 * network runs. A frame that arrives damaged is answered by ready(resend). */
#include <stdint.h>
#include <string.h>

#include "app_frames.h"
#include "board.h"
#include "efat.h"
#include "uart_proto.h"
#ifdef APP_HEADS
#include "heads_app.h"
#endif

static efat_t efat;
static proto_rx_t rx;
static int16_t pcm[PROTO_PCM_MAX_SAMPLES];

/* ready: u16 sequence number of the host frame, u8 status, u16 samples a pcm frame may hold. */
static void send_ready(uint16_t seq, uint8_t status)
{
    proto_begin(PROTO_READY, 0, 5);
    proto_put_u16(seq);
    proto_put_u8(status);
    proto_put_u16(PROTO_PCM_MAX_SAMPLES);
    proto_end();
}

/* The library's callback, as in main.c: the embedding frame, then (APP_HEADS: an export with task
 * heads) one scores frame per head, so the host checks the heads on the target too. */
static void on_embedding(void *user, const efat_embedding_t *e)
{
    send_embedding(user, e);
#ifdef APP_HEADS
    heads_send_scores(e->timestamp_ms, e->values);
#endif
}

int app_main(void)
{
    uint32_t n = 0;
    uint64_t start = board_instructions();
    int32_t last_seq = -1; /* the last frame handled: a repeat of it (its ready got lost) is not fed twice */
    send_hello();
    efat_init(&efat, on_embedding, 0);
    for (;;) {
        int got = proto_receive(&rx);
        if (got == PROTO_RX_EOF) return BOARD_EXIT_OK;
        if (got == PROTO_RX_BAD) {
            send_ready((uint16_t)(last_seq + 1), PROTO_READY_RESEND);
            continue;
        }
        if (rx.type == PROTO_CONNECT) { /* a new session: forget any clip left unfinished */
            efat_reset(&efat);
            n = 0;
            n_embeddings = 0;
            send_hello();
        } else if ((int32_t)rx.seq == last_seq) {
            /* a repeat: handled already */
        } else if (rx.type == PROTO_PCM && rx.len % 2 == 0) {
            size_t k = rx.len / 2u;
            memcpy(pcm, rx.payload, rx.len); /* little-endian, as the Cortex-M4 */
            if (n == 0) start = board_instructions();
            efat_push_pcm(&efat, pcm, k);
            n += (uint32_t)k;
        } else if (rx.type == PROTO_CLIP_END && rx.len == 0) {
            int rc = efat_finish(&efat);
            uint64_t instructions = board_instructions() - start;
            if (rc != EFAT_OK) report_error(n, rc);
            send_end(n, instructions);
            efat_reset(&efat);
            n = 0;
            n_embeddings = 0;
        } else {
            send_ready(rx.seq, PROTO_READY_UNKNOWN);
            continue;
        }
        last_seq = rx.seq;
        send_ready(rx.seq, PROTO_READY_OK);
    }
}

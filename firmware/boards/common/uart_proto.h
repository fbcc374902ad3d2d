/* Device side of the UART protocol (docs/uart-protocol.md): framed, CRC-32 checked.
 * Frames are streamed byte by byte, so no frame buffer is needed. */
#ifndef UART_PROTO_H
#define UART_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
enum proto_type {
    PROTO_HELLO = 1,      /* once at boot: mode, sizes, dequantization parameters */
    PROTO_EMBEDDING = 2,  /* one embedding (int16 LE), timestamp = window centre in ms */
    PROTO_ERROR = 3,      /* u16 code + message */
    PROTO_END = 4,        /* end of the clip: counts */
    PROTO_PROFILE = 5,    /* instruction counts (profiling builds) */
    PROTO_BUDGET = 6,     /* real boards, at start-up: clock, cycles per window, mic rate */
    PROTO_READY = 7,      /* validation firmware: a host frame handled (or to resend); send the next */
    PROTO_SCORES = 8,     /* one task head's class scores, after each embedding (APP_HEADS) */
    /* host -> device (validation firmware, firmware/app/validator.c) */
    PROTO_CONNECT = 0x10, /* answer with hello + ready */
    PROTO_PCM = 0x11,     /* up to PROTO_PCM_MAX_SAMPLES int16 LE samples of the clip */
    PROTO_CLIP_END = 0x12 /* the clip is complete: finish it (embeddings, end) */
};
enum proto_ready_status { PROTO_READY_OK = 0, PROTO_READY_RESEND = 1, PROTO_READY_UNKNOWN = 2 };
#define PROTO_PCM_MAX_SAMPLES 256
enum proto_error {
    PROTO_ERR_CLIP_TOO_SHORT = 1,
    PROTO_ERR_CLIP_TOO_LONG = 2,  /* longer than this build's window capacity */
    PROTO_ERR_NO_AUDIO = 3,
    PROTO_ERR_FAULT = 4,
    PROTO_ERR_INTERNAL = 5,
    PROTO_ERR_MIC_OVERRUN = 6     /* real boards: microphone blocks lost (application too slow) */
};

void proto_begin(uint8_t type, uint32_t timestamp_ms, uint16_t payload_len);
void proto_put(const void *data, size_t n);
void proto_put_u8(uint8_t v);
void proto_put_u16(uint16_t v);
void proto_put_u32(uint32_t v);
void proto_put_u64(uint64_t v);
void proto_put_f32(float v);
void proto_end(void);
extern const uint8_t PROTO_SYNC[4];
/* CRC-32 (zlib.crc32) of n more bytes: start with 0xFFFFFFFF, the CRC is the complement. */
uint32_t proto_crc_update(uint32_t crc, const uint8_t *p, size_t n);
/* A complete error frame. */
void proto_error(uint16_t code, const char *message);


/* Receiving frames (validation firmware; uart_proto_rx.c): one frame at a time, blocking on
 * board_uart_read. */
typedef struct {
    uint8_t type;
    uint16_t seq;
    uint16_t len;
    uint8_t payload[2 * PROTO_PCM_MAX_SAMPLES] __attribute__((aligned(4)));
} proto_rx_t;
#define PROTO_RX_OK 1
#define PROTO_RX_BAD 0  /* impossible version or length, or a CRC error: ask for the frame again */
#define PROTO_RX_EOF -1 /* the input ended (host board) */
/* Skips to the next sync word and reads the frame after it. */
int proto_receive(proto_rx_t *f);

#endif

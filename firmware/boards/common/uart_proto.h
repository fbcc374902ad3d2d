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
    PROTO_SCORES = 6      /* one task head's class scores, after each embedding (APP_HEADS) */
};
enum proto_error {
    PROTO_ERR_CLIP_TOO_SHORT = 1,
    PROTO_ERR_CLIP_TOO_LONG = 2,  /* longer than this build's window capacity */
    PROTO_ERR_NO_AUDIO = 3,
    PROTO_ERR_FAULT = 4,
    PROTO_ERR_INTERNAL = 5
};

void proto_begin(uint8_t type, uint32_t timestamp_ms, uint16_t payload_len);
void proto_put(const void *data, size_t n);
void proto_put_u8(uint8_t v);
void proto_put_u16(uint16_t v);
void proto_put_u32(uint32_t v);
void proto_put_u64(uint64_t v);
void proto_put_f32(float v);
void proto_end(void);
/* A complete error frame. */
void proto_error(uint16_t code, const char *message);

#endif

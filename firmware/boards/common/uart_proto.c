#include "uart_proto.h"

#include <string.h>

#include "board.h"

const uint8_t PROTO_SYNC[4] = {0xA5, 0x5A, 0xC3, 0x3C};

static uint16_t seq;
static uint32_t crc;
static uint16_t remaining;  /* payload bytes still expected: catches length mistakes */

/* CRC-32 (IEEE, reflected, as zlib.crc32) with a 16-entry table: speed does not matter here. */
static const uint32_t CRC_NIBBLE[16] = {
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};

uint32_t proto_crc_update(uint32_t c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c = (c >> 4) ^ CRC_NIBBLE[(c ^ p[i]) & 0xF];
        c = (c >> 4) ^ CRC_NIBBLE[(c ^ (p[i] >> 4)) & 0xF];
    }
    return c;
}

static void send(const uint8_t *p, size_t n)
{
    crc = proto_crc_update(crc, p, n);
    board_uart_write(p, n);
}

void proto_begin(uint8_t type, uint32_t timestamp_ms, uint16_t payload_len)
{
    board_uart_write(PROTO_SYNC, sizeof PROTO_SYNC);
    crc = 0xFFFFFFFFu;
    remaining = 0xFFFF;
    proto_put_u8(PROTO_VERSION);
    proto_put_u8(type);
    proto_put_u16(seq++);
    proto_put_u32(timestamp_ms);
    proto_put_u16(payload_len);
    remaining = payload_len;
}

void proto_put(const void *data, size_t n)
{
    if (remaining != 0xFFFF) remaining = (uint16_t)(remaining - n);
    send((const uint8_t *)data, n);
}

void proto_put_u8(uint8_t v) { proto_put(&v, 1); }

void proto_put_u16(uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    proto_put(b, 2);
}

void proto_put_u32(uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    proto_put(b, 4);
}

void proto_put_u64(uint64_t v)
{
    proto_put_u32((uint32_t)v);
    proto_put_u32((uint32_t)(v >> 32));
}

void proto_put_f32(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    proto_put_u32(u);
}

void proto_end(void)
{
    /* A wrong payload length is a firmware bug: the host sees a CRC error, never a silent shift. */
    uint32_t c = ~crc ^ (remaining ? 0xFFFFFFFFu : 0u);
    uint8_t b[4] = {(uint8_t)c, (uint8_t)(c >> 8), (uint8_t)(c >> 16), (uint8_t)(c >> 24)};
    board_uart_write(b, 4);
}

void proto_error(uint16_t code, const char *message)
{
    size_t n = strlen(message);
    if (n > 1000) n = 1000;
    proto_begin(PROTO_ERROR, 0, (uint16_t)(2 + n));
    proto_put_u16(code);
    proto_put(message, n);
    proto_end();
}


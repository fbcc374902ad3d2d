/* Receiving side of the UART protocol (docs/uart-protocol.md), for the validation firmware
 * (firmware/app/validator.c): needs the board's board_uart_read. */
#include "board.h"
#include "uart_proto.h"

/* Reads n bytes, CRC'd into *c; 0 if the input ended first. */
static int receive(uint8_t *p, size_t n, uint32_t *c)
{
    if (board_uart_read(p, n) != n) return 0;
    *c = proto_crc_update(*c, p, n);
    return 1;
}

int proto_receive(proto_rx_t *f)
{
    uint32_t window = 0, c = 0xFFFFFFFFu;
    uint8_t b, head[10], tail[4];
    do { /* hunt for the sync word: whatever precedes it is skipped */
        if (board_uart_read(&b, 1) != 1) return PROTO_RX_EOF;
        window = (window << 8) | b;
    } while (window != ((uint32_t)PROTO_SYNC[0] << 24 | (uint32_t)PROTO_SYNC[1] << 16 | (uint32_t)PROTO_SYNC[2] << 8 | PROTO_SYNC[3]));
    if (!receive(head, sizeof head, &c)) return PROTO_RX_EOF;
    f->type = head[1];
    f->seq = (uint16_t)(head[2] | head[3] << 8);
    f->len = (uint16_t)(head[8] | head[9] << 8);
    if (head[0] != PROTO_VERSION || f->len > sizeof f->payload) return PROTO_RX_BAD;
    if (!receive(f->payload, f->len, &c)) return PROTO_RX_EOF;
    if (board_uart_read(tail, 4) != 4) return PROTO_RX_EOF;
    uint32_t got = tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    return got == ~c ? PROTO_RX_OK : PROTO_RX_BAD;
}

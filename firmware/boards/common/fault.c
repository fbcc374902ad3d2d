/* CPU faults: one error frame with the registers, then exit with BOARD_EXIT_FAULT. */
#include <stdint.h>

#include "board.h"
#include "uart_proto.h"

static char *put_hex(char *p, const char *label, uint32_t v)
{
    while (*label) *p++ = *label++;
    *p++ = '0';
    *p++ = 'x';
    for (int i = 7; i >= 0; i--) *p++ = "0123456789abcdef"[(v >> (4 * i)) & 0xF];
    return p;
}

void fault_report(const uint32_t *frame) __attribute__((noreturn, used));
void fault_report(const uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    volatile const uint32_t *scb = (const uint32_t *)0xE000ED00;
    uint32_t cfsr = scb[0x28 / 4];
    /* A stacking error (MSTKERR, STKERR): no frame was saved, e.g. the stack overflowed. */
    int stacked = !(cfsr & ((1u << 4) | (1u << 12)));
    char msg[200], *p = msg;
    p = put_hex(p, "cpu fault: exception=", ipsr & 0x1FF);
    if (stacked) {
        p = put_hex(p, " pc=", frame[6]);
        p = put_hex(p, " lr=", frame[5]);
    } else {
        const char *s = " stack overflow (no frame stacked) sp=";
        while (*s) *p++ = *s++;
        p = put_hex(p, "", (uint32_t)frame);
    }
    p = put_hex(p, " cfsr=", cfsr);
    p = put_hex(p, " hfsr=", scb[0x2C / 4]);
    p = put_hex(p, " mmfar=", scb[0x34 / 4]);
    p = put_hex(p, " bfar=", scb[0x38 / 4]);
    *p = 0;
    proto_error(PROTO_ERR_FAULT, msg);
    board_exit(BOARD_EXIT_FAULT);
}

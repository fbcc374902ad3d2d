/* QEMU mps2-an386 (Cortex-M4F, 25 MHz): CMSDK UART0 console, CMSDK timer0 as the
 * instruction counter when QEMU runs with -icount shift=10. */
#include <stdint.h>

#include "board.h"

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10))

#define TIMER0_BASE 0x40000000u
#define TIMER_CTRL (*(volatile uint32_t *)(TIMER0_BASE + 0x00))
#define TIMER_VALUE (*(volatile uint32_t *)(TIMER0_BASE + 0x04))
#define TIMER_RELOAD (*(volatile uint32_t *)(TIMER0_BASE + 0x08))

const char board_name[] = "qemu-an386";

static uint32_t timer_last;
static uint64_t timer_ticks;

void board_init(void)
{
    UART_BAUDDIV = 16;
    UART_CTRL = 1;  /* TX enable: without it a polling write never completes */
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = 1;
    timer_last = TIMER_VALUE;
}

void board_uart_write(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (UART_STATE & 1u) {
        }
        UART_DATA = data[i];
    }
}

uint64_t board_instructions(void)
{
    /* A 25 MHz down-counter (40 ns a tick); -icount shift=10 makes one instruction 1024 ns.
     * Wraps every 2^32 ticks (~168 M instructions): callers read it far more often. */
    uint32_t now = TIMER_VALUE;
    timer_ticks += (uint32_t)(timer_last - now);
    timer_last = now;
    return (timer_ticks * 40u + 512u) / 1024u;
}

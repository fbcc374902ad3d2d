/* QEMU mps2-an386 (Cortex-M4F, 25 MHz): CMSDK UART0 console, the CMSDK dual timer as the
 * instruction counter when QEMU runs with -icount shift=10. */
#include <stdint.h>

#include "board.h"

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10))

#define DUALTIMER_BASE 0x40002000u
#define TIMER_LOAD (*(volatile uint32_t *)(DUALTIMER_BASE + 0x00))
#define TIMER_VALUE (*(volatile uint32_t *)(DUALTIMER_BASE + 0x04))
#define TIMER_CTRL (*(volatile uint32_t *)(DUALTIMER_BASE + 0x08))
#define TIMER_ENABLE 0x80u
#define TIMER_PRESCALE_16 0x04u
#define TIMER_32BIT 0x02u

const char board_name[] = "qemu-an386";

static uint32_t timer_last;
static uint64_t timer_ticks;

void board_init(void)
{
    UART_BAUDDIV = 16;
    UART_CTRL = 3;  /* TX enable (without it a polling write never completes), RX enable */
    TIMER_LOAD = 0xFFFFFFFFu;  /* free-running 32-bit down counter, 25 MHz / 16 */
    TIMER_CTRL = TIMER_ENABLE | TIMER_PRESCALE_16 | TIMER_32BIT;
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

size_t board_uart_read(uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(UART_STATE & 2u)) { /* RX full */
        }
        data[i] = (uint8_t)UART_DATA;
    }
    return n;
}

uint64_t board_instructions(void)
{
    /* A tick is 16 x 40 ns = 640 ns; -icount shift=10 makes one instruction 1024 ns, so
     * instructions = ticks * 5 / 8, exact to the instruction (1.6 ticks each). The counter
     * wraps every 2^32 ticks (2.7 G instructions): reads must come more often than that. */
    uint32_t now = TIMER_VALUE;
    timer_ticks += (uint32_t)(timer_last - now);
    timer_last = now;
    return (timer_ticks * 5u + 4u) / 8u;
}

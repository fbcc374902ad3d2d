/* QEMU netduinoplus2 (STM32F405RG): USART1 console. Clocks, GPIO and DMA are not modelled
 * (and not needed: QEMU's USART transmits without them), so no clock setup that would poll
 * a ready bit forever. TIM2 counts at 1 GHz in QEMU: one tick per instruction under
 * -icount shift=0. */
#include <stdint.h>

#include "board.h"

#define USART1_BASE 0x40011000u
#define USART_SR (*(volatile uint32_t *)(USART1_BASE + 0x00))
#define USART_DR (*(volatile uint32_t *)(USART1_BASE + 0x04))
#define USART_BRR (*(volatile uint32_t *)(USART1_BASE + 0x08))
#define USART_CR1 (*(volatile uint32_t *)(USART1_BASE + 0x0C))

#define TIM2_BASE 0x40000000u
#define TIM_CR1 (*(volatile uint32_t *)(TIM2_BASE + 0x00))
#define TIM_CNT (*(volatile uint32_t *)(TIM2_BASE + 0x24))
#define TIM_PSC (*(volatile uint32_t *)(TIM2_BASE + 0x28))
#define TIM_ARR (*(volatile uint32_t *)(TIM2_BASE + 0x2C))

const char board_name[] = "qemu-netduinoplus2";

static uint32_t timer_last;
static uint64_t timer_ticks;

void board_init(void)
{
    USART_BRR = 0x16D;              /* 115200 Bd at 42 MHz APB2 on hardware; ignored by QEMU */
    USART_CR1 = (1u << 13) | (1u << 3) | (1u << 2);  /* UE | TE | RE (QEMU drops bytes without RE) */
    TIM_PSC = 0;
    TIM_ARR = 0xFFFFFFFFu;
    TIM_CR1 = 1;
    timer_last = TIM_CNT;
}

void board_uart_write(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(USART_SR & (1u << 7))) {
        }
        USART_DR = data[i];
    }
}

size_t board_uart_read(uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(USART_SR & (1u << 5))) { /* RXNE */
        }
        data[i] = (uint8_t)USART_DR;
    }
    return n;
}

uint64_t board_instructions(void)
{
    uint32_t now = TIM_CNT;
    timer_ticks += (uint32_t)(now - timer_last);
    timer_last = now;
    return timer_ticks;
}

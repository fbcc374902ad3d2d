/* Real boards with a live microphone (stm32f4-discovery, nrf52840-dk): the part of the board
 * layer they share (board_live.c) and what each board gives it.
 *
 * board_live.c owns reset -> app loop, the microphone's sample ring (filled from the DMA
 * interrupt, read by mic_read_block), the start-up real-time check (a budget frame), the
 * UART transmit ring and board_exit. The board gives clocks, pins and peripherals. */
#ifndef BOARD_LIVE_H
#define BOARD_LIVE_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_BLOCK 320u       /* samples per microphone block: 10 ms at 32 kHz */
#define LIVE_RING_BLOCKS 16u  /* 160 ms of slack between the interrupt and the application */
#define LIVE_UART_RING 2048u  /* bytes queued for the UART (a hello and 4 embeddings) */

/* ---- given by the board ---- */
extern const uint32_t live_clock_hz;     /* core clock */
extern const uint32_t live_mic_nominal_mhz; /* configured sample rate, milli-Hz */
void live_mic_start(void);               /* start the microphone DMA (interrupts follow) */
void live_uart_kick(void);               /* start sending if idle (ring not empty) */
void live_uart_drain_polled(void);       /* send everything queued without interrupts */
void live_watchdog_feed(void);
void live_led(int fault);                /* status: 0 running, 1 fault */
void live_dwt_start(void);               /* DWT cycle counter on (ARMv7-M C1.8) */

/* ---- given by board_live.c ---- */
/* From the microphone interrupt: one block of LIVE_BLOCK samples, copied into the ring
 * (dropped, and counted, when the application is LIVE_RING_BLOCKS behind). */
void live_mic_block(const int16_t *pcm);
/* Cycles the microphone interrupt spent (decimation, copies): added by the board. */
extern volatile uint32_t live_mic_isr_cycles;
/* The UART ring, emptied by the board's interrupt: next byte, or -1 if empty. */
int live_uart_next(void);
/* Contiguous bytes waiting at the ring's tail (for DMA senders); live_uart_consumed after. */
size_t live_uart_peek(const uint8_t **p);
void live_uart_consumed(size_t n);
uint32_t live_cycles(void); /* DWT->CYCCNT */

#endif

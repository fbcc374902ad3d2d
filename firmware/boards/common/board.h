/* What the application needs from a board: UART out, a microphone that blocks like a
 * DMA half-buffer, an instruction counter and a way to stop. One implementation per
 * board folder (qemu-an386, qemu-netduinoplus2, host). */
#ifndef BOARD_H
#define BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes seen by the host (QEMU's exit status via semihosting SYS_EXIT_EXTENDED). */
#define BOARD_EXIT_OK 0
#define BOARD_EXIT_INPUT 2   /* bad input, reported in an error frame */
#define BOARD_EXIT_FAULT 3   /* CPU fault, reported in an error frame */
#define BOARD_EXIT_NO_MIC 4  /* no audio source */

extern const char board_name[];

void board_init(void);
void board_uart_write(const uint8_t *data, size_t n);
/* Blocks until n bytes have arrived on the UART; returns n, or fewer once the input has
 * ended (only the host board's standard input ends). Used by the validation firmware
 * (firmware/app/validator.c); boards without it (the live boards) leave it undefined. */
size_t board_uart_read(uint8_t *data, size_t n);
/* Open the audio source; 0 on success. */
int board_mic_open(void);
/* Blocks until n samples are there (like one DMA half-buffer); returns n, or fewer
 * (0 included) once the stream has ended. */
size_t mic_read_block(int16_t *buf, size_t n);
/* Instructions retired since board_init, or 0 where the board cannot count them. */
uint64_t board_instructions(void);
/* Bytes of stack never touched since boot (stack painted at reset); 0 if unknown. */
uint32_t board_stack_unused(void);
uint32_t board_stack_size(void);
void board_exit(int code) __attribute__((noreturn));

/* The application's entry point, called by the board after reset. */
int app_main(void);

#endif

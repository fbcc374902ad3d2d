/* The host board: the same application as on the Cortex-M4, on this machine.
 *   embedder PCM_FILE [UART_OUT]
 *   validator
 * PCM_FILE is raw int16 little-endian 32 kHz mono; the UART byte stream goes to UART_OUT
 * (default: standard output). The UART's input (validator) is standard input. */
#include <stdio.h>
#include <stdlib.h>

#include "board.h"

const char board_name[] = "host";

static const char *pcm_path;
static FILE *mic;
static FILE *uart;

void board_init(void) {}

void board_uart_write(const uint8_t *data, size_t n)
{
    fwrite(data, 1, n, uart);
}

size_t board_uart_read(uint8_t *data, size_t n)
{
    fflush(uart); /* the host waits for what was sent before it sends more */
    return fread(data, 1, n, stdin);
}

int board_mic_open(void)
{
    if (pcm_path == NULL) return -1;
    mic = fopen(pcm_path, "rb");
    return mic ? 0 : -1;
}

size_t mic_read_block(int16_t *buf, size_t n)
{
    if (mic == NULL) return 0;
    return fread(buf, sizeof(int16_t), n, mic);
}

uint64_t board_instructions(void) { return 0; }
uint32_t board_stack_unused(void) { return 0; }
uint32_t board_stack_size(void) { return 0; }

void board_exit(int code)
{
    fflush(uart);
    exit(code);
}

int main(int argc, char **argv)
{
    pcm_path = argc > 1 ? argv[1] : NULL;
    uart = stdout;
    if (argc > 2) {
        uart = fopen(argv[2], "wb");
        if (uart == NULL) {
            perror(argv[2]);
            return 1;
        }
    }
    board_init();
    board_exit(app_main());
}

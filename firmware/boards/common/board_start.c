/* Shared by the Cortex-M4 boards: reset -> board_init -> app_main -> exit code. */
#include <stdint.h>

#include "board.h"
#include "semihost.h"

extern uint32_t __stack_limit[], __stack_top[];

void board_start(void) __attribute__((noreturn, used));
void board_start(void)
{
    board_init();
    board_exit(app_main());
}

void board_exit(int code)
{
    sh_exit(code);
}

uint32_t board_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit);
}

uint32_t board_stack_unused(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == 0x5AA5F00Du) p++;
    return (uint32_t)((uintptr_t)p - (uintptr_t)__stack_limit);
}

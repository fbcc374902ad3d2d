/* The test application's start on QEMU mps2-an386: vector table, FPU on, .data and .bss, newlib's
 * semihosting I/O (librdimon: fopen, printf and exit reach the host), then main. */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t __data_start__[], __data_end__[], __data_load__[], __bss_start__[], __bss_end__[];
extern uint32_t __stack_top__[];
extern void initialise_monitor_handles(void);
int main(int argc, char **argv);

void Reset_Handler(void);
static void Fault_Handler(void)
{
    exit(3);
}

__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top__, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler,
    Fault_Handler};

void Reset_Handler(void)
{
    /* CP10/CP11 full access before any code that may use the FPU (hard-float ABI). */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    for (uint32_t *d = __data_start__, *s = __data_load__; d < __data_end__;) *d++ = *s++;
    for (uint32_t *d = __bss_start__; d < __bss_end__;) *d++ = 0;
    initialise_monitor_handles();
    static char arg0[] = "app";
    static char *argv[] = {arg0, 0};
    exit(main(1, argv));
}

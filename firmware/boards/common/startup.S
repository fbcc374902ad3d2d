/* Reset and exception vectors shared by the Cortex-M4F boards. No interrupts are used:
 * the core exceptions are enough. Every fault goes to fault_report (fault.c). */
    .syntax unified
    .cpu cortex-m4
    .thumb

    .section .isr_vector, "a", %progbits
    .global g_vectors
g_vectors:
    .word __handler_stack_top   /* MSP: exception handlers */
    .word Reset_Handler
    .word Fault_Handler   /* NMI */
    .word Fault_Handler   /* HardFault */
    .word Fault_Handler   /* MemManage */
    .word Fault_Handler   /* BusFault */
    .word Fault_Handler   /* UsageFault */
    .word 0, 0, 0, 0
    .word Fault_Handler   /* SVCall */
    .word Fault_Handler   /* DebugMonitor */
    .word 0
    .word Fault_Handler   /* PendSV */
    .word Fault_Handler   /* SysTick */

    .text
    .thumb_func
    .global Reset_Handler
Reset_Handler:
    /* FPU first: compiled C may touch VFP registers anywhere (CPACR CP10/CP11 full access). */
    ldr r0, =0xE000ED88
    ldr r1, [r0]
    orr r1, r1, #(0xF << 20)
    str r1, [r0]
    dsb
    isb
    /* .data from flash */
    ldr r0, =__data_start
    ldr r1, =__data_end
    ldr r2, =__data_load
1:  cmp r0, r1
    bhs 2f
    ldr r3, [r2], #4
    str r3, [r0], #4
    b 1b
    /* .bss */
2:  ldr r0, =__bss_start
    ldr r1, =__bss_end
    movs r2, #0
3:  cmp r0, r1
    bhs 4f
    str r2, [r0], #4
    b 3b
    /* paint the application's stack, to measure its peak use later */
4:  ldr r0, =__stack_limit
    ldr r1, =__stack_top
    ldr r2, =0x5AA5F00D
5:  cmp r0, r1
    bhs 6f
    str r2, [r0], #4
    b 5b
    /* thread mode on PSP (the application's stack), handlers keep MSP */
6:  ldr r0, =__stack_top
    msr psp, r0
    movs r0, #2
    msr control, r0
    isb
    bl board_start
    b .

    .thumb_func
    .global Fault_Handler
Fault_Handler:
    /* the stacked frame (r0-r3, r12, lr, pc, xpsr) is on whichever stack was active */
    tst lr, #4
    ite eq
    mrseq r0, msp
    mrsne r0, psp
    b fault_report

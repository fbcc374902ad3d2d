/* The few nRF52840 registers this board uses, written from the nRF52840 Product
 * Specification v1.x: base addresses from its memory map / instantiation table (peripheral
 * ID = interrupt number), offsets and values from each peripheral's register section. */
#ifndef NRF52840_H
#define NRF52840_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

/* CLOCK (PS 6.4.7), ID 0 */
#define CLOCK_TASKS_HFCLKSTART REG(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED REG(0x40000100u)

/* NVMC instruction cache (PS 6.12.x ICACHECNF): CACHEEN bit 0 */
#define NVMC_ICACHECNF REG(0x4001E540u)

/* GPIO P0 (PS 6.9.2) */
#define P0_OUTSET REG(0x50000508u)
#define P0_OUTCLR REG(0x5000050Cu)
#define P0_PIN_CNF(n) REG(0x50000700u + 4u * (n)) /* DIR bit 0, INPUT (1 = disconnect) bit 1, PULL [3:2] */

/* UARTE0 (PS 6.34.10), ID 2 */
#define UARTE0_BASE 0x40002000u
#define UARTE_TASKS_STARTRX REG(UARTE0_BASE + 0x000)
#define UARTE_TASKS_STARTTX REG(UARTE0_BASE + 0x008)
#define UARTE_EVENTS_ENDRX REG(UARTE0_BASE + 0x110)
#define UARTE_EVENTS_ENDTX REG(UARTE0_BASE + 0x120)
#define UARTE_EVENTS_ERROR REG(UARTE0_BASE + 0x124)
#define UARTE_EVENTS_RXSTARTED REG(UARTE0_BASE + 0x14C)
#define UARTE_SHORTS REG(UARTE0_BASE + 0x200)   /* ENDRX_STARTRX bit 5 */
#define UARTE_INTENSET REG(UARTE0_BASE + 0x304) /* ENDRX bit 4, ENDTX bit 8, ERROR bit 9, RXSTARTED bit 19 */
#define UARTE_ERRORSRC REG(UARTE0_BASE + 0x480) /* write 1 to clear */
#define UARTE_INTENCLR REG(UARTE0_BASE + 0x308)
#define UARTE_ENABLE REG(UARTE0_BASE + 0x500) /* 8 = enabled */
#define UARTE_PSEL_TXD REG(UARTE0_BASE + 0x50C)
#define UARTE_PSEL_RXD REG(UARTE0_BASE + 0x514)
#define UARTE_BAUDRATE REG(UARTE0_BASE + 0x524) /* 0x10000000 = 1 MBd */
#define UARTE_RXD_PTR REG(UARTE0_BASE + 0x534)
#define UARTE_RXD_MAXCNT REG(UARTE0_BASE + 0x538)
#define UARTE_TXD_PTR REG(UARTE0_BASE + 0x544)
#define UARTE_TXD_MAXCNT REG(UARTE0_BASE + 0x548)
#define UARTE_CONFIG REG(UARTE0_BASE + 0x56C) /* 0: no flow control, no parity, one stop bit */

/* I2S (PS 6.10.x), ID 37 */
#define I2S_BASE 0x40025000u
#define I2S_TASKS_START REG(I2S_BASE + 0x000)
#define I2S_EVENTS_RXPTRUPD REG(I2S_BASE + 0x104)
#define I2S_INTENSET REG(I2S_BASE + 0x304) /* RXPTRUPD bit 1 */
#define I2S_ENABLE REG(I2S_BASE + 0x500)
#define I2S_CONFIG_MODE REG(I2S_BASE + 0x504)     /* 0 master */
#define I2S_CONFIG_RXEN REG(I2S_BASE + 0x508)
#define I2S_CONFIG_TXEN REG(I2S_BASE + 0x50C)
#define I2S_CONFIG_MCKEN REG(I2S_BASE + 0x510)
#define I2S_CONFIG_MCKFREQ REG(I2S_BASE + 0x514)
#define I2S_CONFIG_RATIO REG(I2S_BASE + 0x518)    /* 1 = 48X */
#define I2S_CONFIG_SWIDTH REG(I2S_BASE + 0x51C)   /* 2 = 24 bit */
#define I2S_CONFIG_ALIGN REG(I2S_BASE + 0x520)    /* 0 left */
#define I2S_CONFIG_FORMAT REG(I2S_BASE + 0x524)   /* 0 I2S */
#define I2S_CONFIG_CHANNELS REG(I2S_BASE + 0x528) /* 1 left only */
#define I2S_RXD_PTR REG(I2S_BASE + 0x538)
#define I2S_MAXCNT REG(I2S_BASE + 0x550)          /* in 32-bit words */
#define I2S_PSEL_MCK REG(I2S_BASE + 0x560)
#define I2S_PSEL_SCK REG(I2S_BASE + 0x564)
#define I2S_PSEL_LRCK REG(I2S_BASE + 0x568)
#define I2S_PSEL_SDIN REG(I2S_BASE + 0x56C)
#define I2S_PSEL_SDOUT REG(I2S_BASE + 0x570)

/* WDT (PS 6.36.x), ID 16: runs on the 32.768 kHz LFCLK (started by the WDT itself) */
#define WDT_TASKS_START REG(0x40010000u)
#define WDT_CRV REG(0x40010504u)
#define WDT_RREN REG(0x40010508u)
#define WDT_CONFIG REG(0x4001050Cu) /* SLEEP bit 0: keep running while the CPU sleeps */
#define WDT_RR0 REG(0x40010600u)
#define WDT_RELOAD 0x6E524635u

#define IRQ_UARTE0 2
#define IRQ_I2S 37

/* Cortex-M4 core (ARMv7-M ARM B3.4, C1.8) */
#define NVIC_ISER(n) REG(0xE000E100u + 4u * (n))
#define NVIC_IPR(n) (*(volatile uint8_t *)(0xE000E400u + (n)))
#define DEMCR REG(0xE000EDFCu)
#define DWT_CTRL REG(0xE0001000u)
#define DWT_CYCCNT REG(0xE0001004u)

#endif

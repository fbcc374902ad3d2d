/* The few STM32F407 registers this board uses, written from RM0090 (STM32F405/407 reference
 * manual, rev. 19): addresses from section 2.3 (memory map), offsets and bits from each
 * peripheral's register section cited below. No vendor header is used. */
#ifndef STM32F407_H
#define STM32F407_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

/* RCC (RM0090 7.3) */
#define RCC_BASE 0x40023800u
#define RCC_CR REG(RCC_BASE + 0x00)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CR_PLLI2SON (1u << 26)
#define RCC_CR_PLLI2SRDY (1u << 27)
#define RCC_PLLCFGR REG(RCC_BASE + 0x04) /* M [5:0], N [14:6], P [17:16], SRC bit 22, Q [27:24] */
#define RCC_CFGR REG(RCC_BASE + 0x08)    /* SW [1:0], SWS [3:2], HPRE [7:4], PPRE1 [12:10], PPRE2 [15:13] */
#define RCC_AHB1ENR REG(RCC_BASE + 0x30)
#define RCC_AHB1ENR_GPIOA (1u << 0)
#define RCC_AHB1ENR_GPIOB (1u << 1)
#define RCC_AHB1ENR_GPIOC (1u << 2)
#define RCC_AHB1ENR_GPIOD (1u << 3)
#define RCC_AHB1ENR_CCMRAM (1u << 20)
#define RCC_AHB1ENR_DMA1 (1u << 21)
#define RCC_APB1ENR REG(RCC_BASE + 0x40)
#define RCC_APB1ENR_SPI2 (1u << 14)
#define RCC_APB1ENR_USART2 (1u << 17)
#define RCC_APB1ENR_PWR (1u << 28)
#define RCC_CSR REG(RCC_BASE + 0x74)
#define RCC_PLLI2SCFGR REG(RCC_BASE + 0x84) /* N [14:6], R [30:28] */

/* Flash interface (RM0090 3.9.1): LATENCY [2:0], PRFTEN 8, ICEN 9, DCEN 10 */
#define FLASH_ACR REG(0x40023C00u)
/* PWR (RM0090 5.4.1): VOS bit 14, 1 = scale 1 (needed for 168 MHz) */
#define PWR_CR REG(0x40007000u)

/* GPIO (RM0090 8.4) */
#define GPIOA_BASE 0x40020000u
#define GPIOB_BASE 0x40020400u
#define GPIOC_BASE 0x40020800u
#define GPIOD_BASE 0x40020C00u
#define GPIO_MODER(b) REG((b) + 0x00)   /* 2 bits per pin: 00 in, 01 out, 10 alternate */
#define GPIO_OSPEEDR(b) REG((b) + 0x08) /* 2 bits per pin: 10 fast */
#define GPIO_PUPDR(b) REG((b) + 0x0C)   /* 2 bits per pin: 01 pull-up */
#define GPIO_BSRR(b) REG((b) + 0x18)    /* set bit n, reset bit n + 16 */
#define GPIO_AFR(b, pin) REG((b) + 0x20 + 4u * ((pin) >> 3)) /* AFRL / AFRH, 4 bits per pin */

/* USART2 on APB1 (RM0090 30.6) */
#define USART2_BASE 0x40004400u
#define USART_SR REG(USART2_BASE + 0x00) /* TXE bit 7, TC bit 6 */
#define USART_DR REG(USART2_BASE + 0x04)
#define USART_BRR REG(USART2_BASE + 0x08)
#define USART_CR1 REG(USART2_BASE + 0x0C) /* UE 13, TXEIE 7, TE 3, RE 2 */
#define USART_SR_TXE (1u << 7)
#define USART_CR1_TXEIE (1u << 7)

/* SPI2 / I2S2 on APB1 (RM0090 28.5) */
#define SPI2_BASE 0x40003800u
#define SPI2_CR2 REG(SPI2_BASE + 0x04)     /* RXDMAEN bit 0 */
#define SPI2_DR_ADDR (SPI2_BASE + 0x0C)
#define SPI2_I2SCFGR REG(SPI2_BASE + 0x1C) /* CHLEN 0, DATLEN [2:1], CKPOL 3, I2SSTD [5:4], I2SCFG [9:8], I2SE 10, I2SMOD 11 */
#define SPI2_I2SPR REG(SPI2_BASE + 0x20)   /* I2SDIV [7:0], ODD 8, MCKOE 9 */

/* DMA1 (RM0090 10.5): stream 3 registers at 0x10 + 0x18 * 3 */
#define DMA1_BASE 0x40026000u
#define DMA1_LISR REG(DMA1_BASE + 0x00)
#define DMA1_LIFCR REG(DMA1_BASE + 0x08)
#define DMA1_S3CR REG(DMA1_BASE + 0x58)
#define DMA1_S3NDTR REG(DMA1_BASE + 0x5C)
#define DMA1_S3PAR REG(DMA1_BASE + 0x60)
#define DMA1_S3M0AR REG(DMA1_BASE + 0x64)
#define DMA1_S3M1AR REG(DMA1_BASE + 0x68)
#define DMA1_S3FCR REG(DMA1_BASE + 0x6C)
#define DMA_LISR_TCIF3 (1u << 27)
#define DMA_LISR_HTIF3 (1u << 26)
#define DMA_LISR_TEIF3 (1u << 25)
#define DMA_LISR_FEIF3 (1u << 22)
#define DMA_S3_FLAGS (0x3Du << 22) /* FEIF3, DMEIF3, TEIF3, HTIF3, TCIF3 */

/* IWDG (RM0090 21.4): KR 0x00, PR 0x04, RLR 0x08, SR 0x0C; clocked by the ~32 kHz LSI */
#define IWDG_KR REG(0x40003000u)
#define IWDG_PR REG(0x40003004u)
#define IWDG_RLR REG(0x40003008u)
#define IWDG_SR REG(0x4000300Cu)

/* Interrupt numbers (RM0090 table 61): DMA1_Stream3 14, USART2 38 */
#define IRQ_DMA1_STREAM3 14
#define IRQ_USART2 38

/* Cortex-M4 core (ARMv7-M ARM B3.4, C1.8) */
#define NVIC_ISER(n) REG(0xE000E100u + 4u * (n))
#define NVIC_IPR(n) (*(volatile uint8_t *)(0xE000E400u + (n)))
#define DEMCR REG(0xE000EDFCu)   /* TRCENA bit 24 */
#define DWT_CTRL REG(0xE0001000u) /* CYCCNTENA bit 0 */
#define DWT_CYCCNT REG(0xE0001004u)

#endif

/* STM32F4-Discovery (STM32F407VG): 168 MHz from the 8 MHz crystal, the on-board MP45DT02 PDM
 * microphone on SPI2/I2S2 with circular DMA, our own PDM -> PCM decimation
 * (firmware/mic/pdm_decimate.c) in the DMA interrupt, USART2 on PA2 (TX) / PA3 (RX) at
 * 460800 Bd 8N1 for a USB-serial adapter (the original board's ST-LINK/V2 has no virtual COM
 * port), the independent watchdog, LEDs PD12 (green: running) and PD14 (red: fault).
 * Register values cite RM0090 (stm32f407.h). docs/boards.md: wiring, flashing, first run. */
#include "board.h"
#include "board_live.h"
#include "pdm_decimate.h"
#include "stm32f407.h"

const char board_name[] = "stm32f4-discovery";
const uint32_t live_clock_hz = 168000000u;
const uint32_t live_mic_nominal_mhz = 32000000u;

/* One DMA half = one 10 ms block: 320 PCM samples x 64 PDM bits = 1280 halfwords. */
#define HALF_WORDS (LIVE_BLOCK * 4u)
static uint16_t pdm_dma[2 * HALF_WORDS]; /* SRAM: the DMA cannot reach the CCM (RM0090 2.3) */
static pdm_dec dec __attribute__((section(".fastbss")));
static int16_t pcm_block[LIVE_BLOCK] __attribute__((section(".fastbss")));
static int clock_from_hsi;

static void pin_af(uint32_t port, unsigned pin, unsigned af, int pull_up)
{
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << 2 * pin)) | (2u << 2 * pin);
    GPIO_OSPEEDR(port) |= 2u << 2 * pin;
    if (pull_up) GPIO_PUPDR(port) = (GPIO_PUPDR(port) & ~(3u << 2 * pin)) | (1u << 2 * pin);
    unsigned shift = 4u * (pin & 7u);
    GPIO_AFR(port, pin) = (GPIO_AFR(port, pin) & ~(0xFu << shift)) | (af << shift);
}

static int wait_set(volatile uint32_t *reg, uint32_t mask)
{
    for (uint32_t i = 0; i < 2000000u; i++)
        if (*reg & mask) return 1;
    return 0;
}

static void clocks(void)
{
    /* Voltage scale 1 for 168 MHz (RM0090 5.1.3, PWR_CR VOS) */
    RCC_APB1ENR |= RCC_APB1ENR_PWR;
    PWR_CR |= 1u << 14;
    /* HSE 8 MHz crystal (X2 on the Discovery); without it the PLL takes the 16 MHz HSI */
    RCC_CR |= RCC_CR_HSEON;
    uint32_t m = 8, src = 1u << 22;
    if (!wait_set(&RCC_CR, RCC_CR_HSERDY)) {
        clock_from_hsi = 1;
        m = 16;
        src = 0;
    }
    /* Main PLL (RM0090 7.3.2): 1 MHz input (M), VCO 336 MHz (N), SYSCLK /2 = 168 MHz (P),
     * 48 MHz for USB (Q = 7) */
    RCC_PLLCFGR = (RCC_PLLCFGR & 0xF0BC8000u) /* reserved bits keep their reset values */
                  | m | (336u << 6) | (0u << 16) | src | (7u << 24);
    RCC_CR |= RCC_CR_PLLON;
    wait_set(&RCC_CR, RCC_CR_PLLRDY);
    /* 5 wait states at 150-168 MHz and 2.7-3.6 V (RM0090 table 10), prefetch and caches */
    FLASH_ACR = 5u | (1u << 8) | (1u << 9) | (1u << 10);
    /* AHB 168 MHz, APB1 /4 = 42 MHz (max 42), APB2 /2 = 84 MHz (max 84); then SYSCLK = PLL */
    RCC_CFGR = (RCC_CFGR & ~0xFCF3u) | (5u << 10) | (4u << 13) | 2u;
    while (((RCC_CFGR >> 2) & 3u) != 2u) {
    }
    /* PLLI2S (RM0090 7.3.23, 28.4.4): VCO 1 MHz x 256 = 256 MHz, R = 5: I2SCLK 51.2 MHz;
     * the I2S prescaler below divides by 25 to CK = 2.048 MHz exactly */
    RCC_PLLI2SCFGR = (256u << 6) | (5u << 28);
    RCC_CR |= RCC_CR_PLLI2SON;
    wait_set(&RCC_CR, RCC_CR_PLLI2SRDY);
}

static void watchdog(void)
{
    /* IWDG (RM0090 21.3): LSI ~32 kHz / 64 = 500 Hz, reload 2000: ~4 s (LSI spread 17-47 kHz:
     * 2.7-7.5 s). Fed by every microphone read; a fault stops feeding it. */
    IWDG_KR = 0xCCCC;
    IWDG_KR = 0x5555;
    IWDG_PR = 4;
    IWDG_RLR = 2000;
    while (IWDG_SR & 3u) {
    }
    IWDG_KR = 0xAAAA;
}

void live_watchdog_feed(void) { IWDG_KR = 0xAAAA; }

/* The validation firmware's input (polled: the host sends only when the firmware waits). */
size_t board_uart_read(uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(USART_SR & (1u << 5))) /* RXNE */
            live_watchdog_feed();
        data[i] = (uint8_t)USART_DR; /* SR then DR: also clears an overrun */
    }
    return n;
}

void board_init(void)
{
    clocks();
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOA | RCC_AHB1ENR_GPIOB | RCC_AHB1ENR_GPIOC | RCC_AHB1ENR_GPIOD |
                   RCC_AHB1ENR_DMA1 | RCC_AHB1ENR_CCMRAM;
    RCC_APB1ENR |= RCC_APB1ENR_USART2 | RCC_APB1ENR_SPI2;
    (void)RCC_APB1ENR; /* the enable takes effect before the first peripheral access */
    /* LEDs PD12 (green), PD14 (red): outputs */
    GPIO_MODER(GPIOD_BASE) = (GPIO_MODER(GPIOD_BASE) & ~((3u << 24) | (3u << 28))) | (1u << 24) | (1u << 28);
    live_led(0);
    /* USART2: PA2 TX, PA3 RX, AF7 (DS8626 table 9). BRR at 42 MHz, 16x oversampling:
     * 42e6 / (16 x 460800) = 5.697 -> 5 + 11/16: 461,538 Bd (+0.16 %) (RM0090 30.3.4) */
    pin_af(GPIOA_BASE, 2, 7, 0);
    pin_af(GPIOA_BASE, 3, 7, 1);
    USART_BRR = (5u << 4) | 11u;
    USART_CR1 = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE (the validation firmware reads) */
    NVIC_IPR(IRQ_USART2) = 0x80;
    NVIC_ISER(IRQ_USART2 / 32) = 1u << (IRQ_USART2 % 32);
    watchdog();
    pdm_dec_init(&dec);
}

void live_dwt_start(void)
{
    DEMCR |= 1u << 24;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
}

void live_led(int fault)
{
    GPIO_BSRR(GPIOD_BASE) = fault ? (1u << 14) | (1u << (12 + 16)) : (1u << 12) | (1u << (14 + 16));
}

/* ---- microphone: MP45DT02 (CLK PB10, DOUT PC3; its L/R pin is tied low on the board) ---- */
void live_mic_start(void)
{
    pin_af(GPIOB_BASE, 10, 5, 0); /* I2S2_CK */
    pin_af(GPIOC_BASE, 3, 5, 0);  /* I2S2_SD */
    /* I2S2 master receive, 16-bit data in 16-bit channels (no padding bits: every clock
     * carries one PDM bit), CK idle high; I2SDIV 12, ODD 1: CK = 51.2 MHz / (2 x 12 + 1) =
     * 2.048 MHz (RM0090 28.4.4, MCK output off). WS is generated but not connected. */
    SPI2_I2SCFGR = (1u << 11) | (3u << 8) | (1u << 3);
    SPI2_I2SPR = 12u | (1u << 8);
    SPI2_CR2 = 1u; /* RXDMAEN */
    /* DMA1 stream 3 channel 0 = SPI2_RX (RM0090 table 42): peripheral -> memory, 16-bit both
     * sides, memory increment, circular over both halves, interrupts at half and full
     * transfer (the double buffer: the CPU decimates one half while the DMA fills the other) */
    DMA1_S3CR = 0;
    while (DMA1_S3CR & 1u) {
    }
    DMA1_LIFCR = DMA_S3_FLAGS;
    DMA1_S3PAR = SPI2_DR_ADDR;
    DMA1_S3M0AR = (uint32_t)(uintptr_t)pdm_dma;
    DMA1_S3NDTR = 2u * HALF_WORDS;
    DMA1_S3FCR = 0; /* direct mode */
    DMA1_S3CR = (0u << 25) | (2u << 16) | (1u << 13) | (1u << 11) | (1u << 10) | (1u << 8) |
                (1u << 4) | (1u << 3) | (1u << 2);
    DMA1_S3CR |= 1u; /* EN */
    NVIC_IPR(IRQ_DMA1_STREAM3) = 0x40; /* above the UART */
    NVIC_ISER(IRQ_DMA1_STREAM3 / 32) = 1u << (IRQ_DMA1_STREAM3 % 32);
    SPI2_I2SCFGR |= 1u << 10; /* I2SE: the clock starts */
}

static void decimate_half(uint16_t *half)
{
    uint32_t t0 = live_cycles();
    pdm_i2s_halfwords_to_bytes(half, HALF_WORDS, (uint8_t *)half);
    pdm_dec_process(&dec, (const uint8_t *)half, 2u * HALF_WORDS, pcm_block);
    live_mic_block(pcm_block);
    live_mic_isr_cycles += live_cycles() - t0;
}

void DMA1_Stream3_IRQHandler(void)
{
    uint32_t isr = DMA1_LISR;
    DMA1_LIFCR = isr & DMA_S3_FLAGS;
    if (isr & DMA_LISR_HTIF3) decimate_half(pdm_dma);
    if (isr & DMA_LISR_TCIF3) decimate_half(pdm_dma + HALF_WORDS);
}

/* ---- UART: interrupt-driven from the ring of board_live.c ---- */
void USART2_IRQHandler(void)
{
    while (USART_SR & USART_SR_TXE) {
        int b = live_uart_next();
        if (b < 0) {
            USART_CR1 &= ~USART_CR1_TXEIE;
            /* bytes queued between the empty read and the clear would wait for the next
             * write: look again now that the interrupt is off */
            const uint8_t *p;
            if (live_uart_peek(&p)) USART_CR1 |= USART_CR1_TXEIE;
            return;
        }
        USART_DR = (uint32_t)b;
    }
}

void live_uart_kick(void) { USART_CR1 |= USART_CR1_TXEIE; }

void live_uart_drain_polled(void)
{
    USART_CR1 &= ~USART_CR1_TXEIE;
    int b;
    while ((b = live_uart_next()) >= 0) {
        while (!(USART_SR & USART_SR_TXE)) {
        }
        USART_DR = (uint32_t)b;
    }
    while (!(USART_SR & (1u << 6))) { /* TC: the last byte has left */
    }
}

/* Interrupt vectors 0..38 after the core's 16 (startup.S); unused ones fault. */
extern void Fault_Handler(void);
#pragma GCC diagnostic ignored "-Woverride-init" /* a default for the range, then two entries */
__attribute__((section(".irq_vector"), used)) void (*const irq_vectors[IRQ_USART2 + 1])(void) = {
    [0 ... IRQ_USART2] = Fault_Handler,
    [IRQ_DMA1_STREAM3] = DMA1_Stream3_IRQHandler,
    [IRQ_USART2] = USART2_IRQHandler,
};

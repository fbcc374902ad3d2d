/* nRF52840-DK (PCA10056): 64 MHz core on the 32 MHz crystal (HFXO), an I2S MEMS microphone
 * (ICS-43434 or SPH0645: SCK P0.29, WS/LRCK P0.30, SD P0.28, L/R select to GND) on the I2S
 * peripheral as master with EasyDMA double buffering, UARTE0 on the J-Link virtual COM port
 * (TX P0.06, RX P0.08) at 1 MBd 8N1, the watchdog, LED1 (P0.13: running) and LED2 (P0.14:
 * fault), both active low. The PDM peripheral is not used: its decimation cannot give
 * 32 kHz. Register values cite the nRF52840 PS (nrf52840.h). docs/boards.md: wiring, rates. */
#include "board.h"
#include "board_live.h"
#include "nrf52840.h"
#include "i2s_pcm.h"
#ifdef NRF_I2S_RESAMPLE
#include "resample_126_125.h"
#endif

const char board_name[] = "nrf52840-dk";
const uint32_t live_clock_hz = 64000000u;
/* MCKFREQ 32MDIV21 and RATIO 48X: LRCK = 32 MHz / 21 / 48 = 31,746.03 Hz by the PS's
 * enumeration (-0.79 % from 32 kHz; no divider and ratio of the nRF52840 give exactly
 * 32 kHz with a 24-bit frame). The start-up budget frame reports the rate measured against
 * the core clock: docs/boards.md says what the difference does to the embedding. */
#ifdef NRF_I2S_RESAMPLE
/* The I2S interrupt resamples 126/125 (firmware/mic/resample_126_125.h): the application gets
 * 32,000 Hz, and the budget frame's measured rate is of the resampled stream (32,000 Hz if
 * LRCK is 31,746 Hz; 32,256 Hz if a chip's divider gave 32 kHz: then build with
 * -DNRF_I2S_RESAMPLE=OFF). */
const uint32_t live_mic_nominal_mhz = 32000000u;
static rs126 resampler;
static int16_t rs_out[RS126_MAX_OUT(LIVE_BLOCK)];
static int16_t rs_block[LIVE_BLOCK]; /* resampled samples gathered into blocks */
static uint32_t rs_fill;
#else
const uint32_t live_mic_nominal_mhz = 31746032u;
#endif

#define PIN_TX 6
#define PIN_RX 8
#define PIN_SCK 29
#define PIN_LRCK 30
#define PIN_SDIN 28
#define PIN_LED1 13
#define PIN_LED2 14

static int32_t i2s_buf[2][LIVE_BLOCK]; /* EasyDMA: data RAM only */
static int16_t pcm_block[LIVE_BLOCK];
static int filling = -1; /* buffer the I2S is writing, -1 before the first */
static i2s_pcm mic_pcm;  /* 24 -> 16 bits and the DC blocker (an SPH0645 has a large DC offset) */

void live_watchdog_feed(void) { WDT_RR0 = WDT_RELOAD; }
#ifdef LIVE_VALIDATOR
static void rx_start(void);
#endif

void board_init(void)
{
    /* HFXO: the I2S master clock must come from the crystal, not the RC oscillator */
    CLOCK_EVENTS_HFCLKSTARTED = 0;
    CLOCK_TASKS_HFCLKSTART = 1;
    while (!CLOCK_EVENTS_HFCLKSTARTED) {
    }
    NVMC_ICACHECNF = 1u; /* instruction cache on: flash wait states hidden for loops */
    P0_OUTSET = (1u << PIN_LED1) | (1u << PIN_LED2);
    P0_PIN_CNF(PIN_LED1) = 1u; /* output */
    P0_PIN_CNF(PIN_LED2) = 1u;
    live_led(0);
    /* UARTE0: TX idles high before the peripheral takes the pin; RX input with pull-up */
    P0_OUTSET = 1u << PIN_TX;
    P0_PIN_CNF(PIN_TX) = 1u | (1u << 1);
    P0_PIN_CNF(PIN_RX) = 3u << 2;
    UARTE_PSEL_TXD = PIN_TX;
    UARTE_PSEL_RXD = PIN_RX;
    UARTE_BAUDRATE = 0x10000000u; /* 1 MBd: exact, and 4 ms per embedding frame */
    UARTE_CONFIG = 0;
    UARTE_ENABLE = 8;
    UARTE_INTENSET = 1u << 8; /* ENDTX */
    NVIC_IPR(IRQ_UARTE0) = 0x80;
    NVIC_ISER(IRQ_UARTE0 / 32) = 1u << (IRQ_UARTE0 % 32);
#ifdef LIVE_VALIDATOR
    rx_start();
#endif
    /* Watchdog: (CRV + 1) / 32768 s = 4 s, reload register 0 */
    WDT_CRV = 4u * 32768u - 1u;
    WDT_RREN = 1u;
    WDT_CONFIG = 1u;
    WDT_TASKS_START = 1;
}

void live_dwt_start(void)
{
    DEMCR |= 1u << 24;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
}

void live_led(int fault)
{
    P0_OUTCLR = 1u << (fault ? PIN_LED2 : PIN_LED1); /* on (active low) */
    P0_OUTSET = 1u << (fault ? PIN_LED1 : PIN_LED2);
}

/* ---- microphone ---- */
void live_mic_start(void)
{
    i2s_pcm_init(&mic_pcm);
#ifdef NRF_I2S_RESAMPLE
    rs126_init(&resampler);
    rs_fill = 0;
#endif
    P0_PIN_CNF(PIN_SCK) = 1u; /* outputs driven by the I2S master */
    P0_PIN_CNF(PIN_LRCK) = 1u;
    P0_PIN_CNF(PIN_SDIN) = 0u; /* input */
    I2S_CONFIG_MODE = 0;      /* master */
    I2S_CONFIG_RXEN = 1;
    I2S_CONFIG_TXEN = 0;
    I2S_CONFIG_MCKEN = 1;
    I2S_CONFIG_MCKFREQ = 0x0C000000u; /* 32MDIV21 */
    I2S_CONFIG_RATIO = 1;             /* 48X: SCK = 48 x LRCK (24 per channel) */
    I2S_CONFIG_SWIDTH = 2;            /* 24 bit, right-aligned and sign-extended in 32 */
    I2S_CONFIG_ALIGN = 0;
    I2S_CONFIG_FORMAT = 0;            /* I2S: data one SCK after the WS edge, MSB first */
    I2S_CONFIG_CHANNELS = 1;          /* left only (the microphone's L/R pin low) */
    I2S_PSEL_MCK = 0xFFFFFFFFu;       /* not connected */
    I2S_PSEL_SCK = PIN_SCK;
    I2S_PSEL_LRCK = PIN_LRCK;
    I2S_PSEL_SDIN = PIN_SDIN;
    I2S_PSEL_SDOUT = 0xFFFFFFFFu;
    I2S_MAXCNT = LIVE_BLOCK; /* one 32-bit word per sample */
    I2S_RXD_PTR = (uint32_t)(uintptr_t)i2s_buf[0];
    I2S_EVENTS_RXPTRUPD = 0;
    I2S_INTENSET = 1u << 1; /* RXPTRUPD */
    NVIC_IPR(IRQ_I2S) = 0x40;
    NVIC_ISER(IRQ_I2S / 32) = 1u << (IRQ_I2S % 32);
    I2S_ENABLE = 1;
    I2S_TASKS_START = 1;
}

/* RXD.PTR is double-buffered in hardware: RXPTRUPD says the pointer written last has been
 * taken and is being filled; the buffer taken before it is complete, and becomes the next
 * pointer once read. */
void I2S_IRQHandler(void)
{
    uint32_t t0 = live_cycles();
    I2S_EVENTS_RXPTRUPD = 0;
    (void)I2S_EVENTS_RXPTRUPD; /* read back: the clear reaches the peripheral before return */
    int done = filling;
    filling = filling < 0 ? 0 : 1 - filling;
    I2S_RXD_PTR = (uint32_t)(uintptr_t)i2s_buf[1 - filling];
    if (done >= 0) {
        i2s_pcm_process(&mic_pcm, i2s_buf[done], LIVE_BLOCK, pcm_block);
#ifdef NRF_I2S_RESAMPLE
        /* 320 inputs give 322 or 323 outputs (126/125); each LIVE_BLOCK of them is a block */
        size_t m = rs126_process(&resampler, pcm_block, LIVE_BLOCK, rs_out);
        for (size_t k = 0; k < m; k++) {
            rs_block[rs_fill++] = rs_out[k];
            if (rs_fill == LIVE_BLOCK) {
                live_mic_block(rs_block);
                rs_fill = 0;
            }
        }
#else
        live_mic_block(pcm_block);
#endif
    }
    live_mic_isr_cycles += live_cycles() - t0;
}

/* ---- UART: EasyDMA from the ring of board_live.c ---- */
static volatile size_t tx_in_flight;

static void tx_start(void)
{
    const uint8_t *p;
    size_t n = live_uart_peek(&p);
    if (n == 0) return;
    tx_in_flight = n;
    UARTE_TXD_PTR = (uint32_t)(uintptr_t)p;
    UARTE_TXD_MAXCNT = (uint32_t)n;
    UARTE_TASKS_STARTTX = 1;
}

#ifdef LIVE_VALIDATOR
/* The validation firmware's input (firmware/app/validator.c). EasyDMA has no "bytes so far" for
 * a transfer in progress, so each byte is its own one-byte transfer into a ring: the ENDRX_STARTRX
 * short restarts reception at once, and on RXSTARTED (the pointer just latched) the next slot
 * is set, the PS's double-buffering pattern. ENDRX counts bytes in. The host sends one frame
 * (at most 2 x PROTO_PCM_MAX_SAMPLES bytes of payload) and then waits for ready, so the ring cannot be overrun. */
#define RX_RING 1024u
static uint8_t rx_ring[RX_RING];       /* EasyDMA: data RAM only */
static volatile uint32_t rx_head;      /* bytes landed (ENDRX) */
static volatile uint32_t rx_started;   /* transfers latched (RXSTARTED) */
static uint32_t rx_tail;               /* bytes read */

static void rx_start(void)
{
    rx_head = rx_tail = 0;
    rx_started = 0;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_ring[0];
    UARTE_RXD_MAXCNT = 1;
    UARTE_SHORTS = 1u << 5; /* ENDRX_STARTRX */
    UARTE_INTENSET = (1u << 4) | (1u << 9) | (1u << 19); /* ENDRX, ERROR, RXSTARTED */
    UARTE_TASKS_STARTRX = 1;
}

static void rx_events(void)
{
    if (UARTE_EVENTS_RXSTARTED) {
        UARTE_EVENTS_RXSTARTED = 0;
        rx_started++;
        UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_ring[rx_started % RX_RING];
    }
    if (UARTE_EVENTS_ENDRX) {
        UARTE_EVENTS_ENDRX = 0;
        rx_head++;
    }
    if (UARTE_EVENTS_ERROR) { /* framing or overrun: the frame's CRC fails, the host resends */
        UARTE_EVENTS_ERROR = 0;
        UARTE_ERRORSRC = 0xFu;
    }
}

size_t board_uart_read(uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (rx_head == rx_tail) live_watchdog_feed();
        data[i] = rx_ring[rx_tail++ % RX_RING];
    }
    return n;
}
#endif

void UARTE0_UART0_IRQHandler(void)
{
#ifdef LIVE_VALIDATOR
    rx_events();
#endif
    if (UARTE_EVENTS_ENDTX) {
        UARTE_EVENTS_ENDTX = 0;
        (void)UARTE_EVENTS_ENDTX; /* read back, as for the I2S event */
        live_uart_consumed(tx_in_flight);
        tx_in_flight = 0;
        tx_start();
    }
}

void live_uart_kick(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    if (tx_in_flight == 0) tx_start();
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

void live_uart_drain_polled(void)
{
    UARTE_INTENCLR = 1u << 8;
    for (;;) {
        if (tx_in_flight) {
            while (!UARTE_EVENTS_ENDTX) {
            }
            UARTE_EVENTS_ENDTX = 0;
            live_uart_consumed(tx_in_flight);
            tx_in_flight = 0;
        }
        tx_start();
        if (tx_in_flight == 0) return;
    }
}

/* Interrupt vectors 0..37 after the core's 16 (startup.S); unused ones fault. */
extern void Fault_Handler(void);
#pragma GCC diagnostic ignored "-Woverride-init" /* a default for the range, then two entries */
__attribute__((section(".irq_vector"), used)) void (*const irq_vectors[IRQ_I2S + 1])(void) = {
    [0 ... IRQ_I2S] = Fault_Handler,
    [IRQ_UARTE0] = UARTE0_UART0_IRQHandler,
    [IRQ_I2S] = I2S_IRQHandler,
};

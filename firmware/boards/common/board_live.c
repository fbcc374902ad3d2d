/* The shared part of the real boards (board_live.h): reset -> start-up check -> the
 * application, forever, on the live microphone.
 *
 * - Scene mode: the stream is cut into back-to-back 10 s clips; each is one app_main run
 *   (hello, one embedding, end). Timestamp mode: one endless app_main run, an embedding
 *   every 50 ms (timestamps wrap after 49.7 days).
 * - Start-up real-time check: before the microphone starts, the application runs once on a
 *   synthetic clip (10 s in scene mode, 1 s in timestamp mode) with the UART muted, timed
 *   with the DWT cycle counter; then the microphone's real sample rate is measured against
 *   the core clock over 0.5 s. One budget frame reports both (docs/uart-protocol.md).
 * - A full sample ring drops the newest block and reports it in an error frame
 *   (PROTO_ERR_MIC_OVERRUN) the next time the application reads. */
#include "board_live.h"

#include "board.h"
#include "uart_proto.h"

#define SEGMENT (10u * 32000u) /* scene clip: 10 s */
#ifdef EMBED_MODE_TIMESTAMP
#define MODE_ID 1u
#define CAL_SAMPLES 32000u                    /* 1 s: 21 windows */
#define CAL_WINDOWS (CAL_SAMPLES / 1600u + 1u)
#define HOP_MS 50u                            /* one window per hop in steady state */
#else
#define MODE_ID 0u
#define CAL_SAMPLES SEGMENT
#define CAL_WINDOWS 1u
#define HOP_MS 10000u
#endif

extern uint32_t __stack_limit[], __stack_top[];

static int16_t ring[LIVE_RING_BLOCKS][LIVE_BLOCK] __attribute__((section(".fastbss")));
static volatile uint32_t ring_head, ring_tail; /* blocks written / read, free-running */
static volatile uint32_t dropped_blocks;
static uint32_t reported_drops, read_off;
volatile uint32_t live_mic_isr_cycles;
static volatile uint32_t mic_blocks_seen, mic_block_cycle;

static int calibrating; /* synthetic audio, UART muted */
static uint32_t cal_left, lcg = 1;
static uint32_t segment_left;

static uint8_t uart_ring[LIVE_UART_RING] __attribute__((section(".fastbss")));
static volatile uint32_t uart_head, uart_tail;

uint32_t live_cycles(void) { return *(volatile uint32_t *)0xE0001004u; }

/* ---- cycle counter, extended to 64 bits (read at least once per wrap: 25 s at 168 MHz) ---- */
static uint32_t cyc_last;
static uint64_t cyc_total;
uint64_t board_instructions(void)
{
    uint32_t now = live_cycles();
    cyc_total += (uint32_t)(now - cyc_last);
    cyc_last = now;
    return cyc_total; /* cycles, not instructions: the end frame says so for real boards */
}

/* ---- microphone ring ---- */
void live_mic_block(const int16_t *pcm)
{
    mic_blocks_seen++;
    mic_block_cycle = live_cycles();
    if (ring_head - ring_tail >= LIVE_RING_BLOCKS) {
        dropped_blocks++;
        return;
    }
    int16_t *dst = ring[ring_head % LIVE_RING_BLOCKS];
    for (uint32_t i = 0; i < LIVE_BLOCK; i++) dst[i] = pcm[i];
    __asm__ volatile("dmb" ::: "memory");
    ring_head++;
}

int board_mic_open(void) { return 0; }

static void report_drops(void)
{
    uint32_t d = dropped_blocks;
    if (d == reported_drops) return;
    char msg[80] = "microphone overrun: blocks of 10 ms lost since boot: ";
    char *p = msg;
    while (*p) p++;
    char digits[10];
    int n = 0;
    uint32_t v = d;
    do digits[n++] = (char)('0' + v % 10u); while ((v /= 10u) && n < 10);
    while (n) *p++ = digits[--n];
    *p = 0;
    proto_error(PROTO_ERR_MIC_OVERRUN, msg);
    reported_drops = d;
}

size_t mic_read_block(int16_t *buf, size_t n)
{
    live_watchdog_feed();
    (void)board_instructions();
    if (calibrating) {
        if (cal_left == 0) return 0;
        if (n > cal_left) n = cal_left;
        for (size_t i = 0; i < n; i++) { /* white noise at -12 dBFS, deterministic */
            lcg = lcg * 1664525u + 1013904223u;
            buf[i] = (int16_t)((int32_t)lcg >> 18);
        }
        cal_left -= (uint32_t)n;
        return n;
    }
#ifndef EMBED_MODE_TIMESTAMP
    if (segment_left == 0) return 0; /* end of this 10 s clip */
    if (n > segment_left) n = segment_left;
#endif
    report_drops();
    size_t got = 0;
    while (got < n) {
        while (ring_head == ring_tail) live_watchdog_feed(); /* wait for the DMA (could WFI) */
        const int16_t *src = ring[ring_tail % LIVE_RING_BLOCKS];
        while (got < n && read_off < LIVE_BLOCK) buf[got++] = src[read_off++];
        if (read_off == LIVE_BLOCK) {
            read_off = 0;
            ring_tail++;
        }
    }
    segment_left -= (uint32_t)got;
    return got;
}

/* ---- UART transmit ring ---- */
static int in_handler(void)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    return (ipsr & 0x1FFu) != 0;
}

void board_uart_write(const uint8_t *data, size_t n)
{
    if (calibrating && !in_handler()) return; /* a fault is reported even then */
    for (size_t i = 0; i < n; i++) {
        while (uart_head - uart_tail >= LIVE_UART_RING) {
            if (in_handler()) live_uart_drain_polled(); /* a fault: no interrupts to wait for */
            else live_uart_kick();
            live_watchdog_feed();
        }
        uart_ring[uart_head % LIVE_UART_RING] = data[i];
        uart_head++;
    }
    if (in_handler()) live_uart_drain_polled();
    else live_uart_kick();
}

int live_uart_next(void)
{
    if (uart_head == uart_tail) return -1;
    int b = uart_ring[uart_tail % LIVE_UART_RING];
    uart_tail++;
    return b;
}

size_t live_uart_peek(const uint8_t **p)
{
    uint32_t avail = uart_head - uart_tail, off = uart_tail % LIVE_UART_RING;
    if (avail > LIVE_UART_RING - off) avail = LIVE_UART_RING - off;
    *p = &uart_ring[off];
    return avail;
}

void live_uart_consumed(size_t n) { uart_tail += (uint32_t)n; }

static void uart_flush(void)
{
    while (uart_head != uart_tail) {
        live_uart_kick();
        live_watchdog_feed();
    }
}

/* ---- start-up check ---- */
static void send_budget(uint64_t app_cycles, uint32_t rate_mhz, uint32_t mic_cycles_per_s)
{
    /* Real time if the application's cycles per window plus the microphone interrupt's share
     * of one hop fit in 90 % of the hop (the rest: UART and interrupt entry). */
    uint64_t per_window = app_cycles / CAL_WINDOWS;
    uint64_t need = per_window + (uint64_t)mic_cycles_per_s * HOP_MS / 1000u;
    uint64_t have = (uint64_t)live_clock_hz * HOP_MS / 1000u;
    proto_begin(PROTO_BUDGET, 0, 34);
    proto_put_u32(live_clock_hz);
    proto_put_u32(rate_mhz);
    proto_put_u8((uint8_t)MODE_ID);
    proto_put_u32(CAL_SAMPLES);
    proto_put_u32(CAL_WINDOWS);
    proto_put_u64(app_cycles);
    proto_put_u32(mic_cycles_per_s);
    proto_put_u32((uint32_t)(have > 0xFFFFFFFFu ? 0xFFFFFFFFu : have));
    proto_put_u8(need * 10u <= have * 9u);
    proto_end();
}

static uint32_t measure_mic(uint32_t *isr_cycles_per_s)
{
    /* Skip 5 blocks (microphone wake-up, DMA start), then time 50 blocks (0.5 s). */
    while (mic_blocks_seen < 5) live_watchdog_feed();
    uint32_t b0 = mic_blocks_seen, c0 = mic_block_cycle, i0 = live_mic_isr_cycles;
    while (mic_blocks_seen < b0 + 50) live_watchdog_feed();
    uint32_t b1 = mic_blocks_seen, c1 = mic_block_cycle, i1 = live_mic_isr_cycles;
    uint64_t cycles = (uint32_t)(c1 - c0);
    uint64_t samples = (uint64_t)(b1 - b0) * LIVE_BLOCK;
    uint32_t rate_mhz = (uint32_t)(samples * live_clock_hz * 1000u / cycles);
    *isr_cycles_per_s = (uint32_t)((uint64_t)(i1 - i0) * live_clock_hz / cycles);
    return rate_mhz;
}

void board_start(void) __attribute__((noreturn, used));
void board_start(void)
{
    board_init();
    live_dwt_start();
    cyc_last = live_cycles();
#ifdef LIVE_VALIDATOR
    /* The validation firmware (firmware/app/validator.c): audio from the UART, no microphone
     * and no start-up check; app_main loops clip after clip. */
    (void)app_main();
    board_exit(BOARD_EXIT_OK);
#endif

    calibrating = 1;
    cal_left = CAL_SAMPLES;
    uint64_t t0 = board_instructions();
    (void)app_main();
    uint64_t app_cycles = board_instructions() - t0;
    calibrating = 0;

    live_mic_start();
    uint32_t isr_per_s;
    uint32_t rate = measure_mic(&isr_per_s);
    send_budget(app_cycles, rate, isr_per_s);
    ring_tail = ring_head; /* start the stream from here */
    read_off = 0;
    reported_drops = dropped_blocks;
    for (;;) {
        segment_left = SEGMENT;
        (void)app_main(); /* scene: one 10 s clip per call; timestamp: never returns */
        uart_flush();
    }
}

void board_exit(int code)
{
    /* Only a fault ends the application on a real board: its error frame is out; show it
     * and let the watchdog reset the chip (docs/boards.md). */
    live_uart_drain_polled();
    live_led(code != BOARD_EXIT_OK);
    for (;;) {
    }
}

uint32_t board_stack_size(void) { return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit); }

uint32_t board_stack_unused(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == 0x5AA5F00Du) p++;
    return (uint32_t)((uintptr_t)p - (uintptr_t)__stack_limit);
}

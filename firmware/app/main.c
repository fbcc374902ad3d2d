/* The embedding extractor: microphone -> windows -> M_B+L integers -> framed UART output
 * (docs/uart-protocol.md). The mode is fixed at build time (EMBED_MODE_TIMESTAMP or scene).
 * Windows, padding and timestamps are those of exporter/windows.py. */
#include <stdint.h>

#include "board.h"
#include "embed.h"
#include "padded_windows.h"
#include "uart_proto.h"
#ifdef APP_HEADS
#include "heads_app.h"
#endif

#define SAMPLE_RATE 32000u
#define MIC_BLOCK 320u /* 10 ms: one DMA half-buffer */

#ifdef EMBED_MODE_TIMESTAMP
#define MODE_ID 1
#define WINDOW (SAMPLE_RATE * 160u / 1000u) /* 5,120 */
#define HOP (SAMPLE_RATE * 50u / 1000u)     /* 1,600 */
#define PAD (WINDOW / 2u)
#define RING_LEN (WINDOW - HOP + 64u)       /* >= WINDOW - HOP (padded_windows.h) */
#else
#define MODE_ID 0
#define SCENE_ONE_PASS (10u * SAMPLE_RATE) /* a clip up to 10 s is one window */
#define WINDOW SCENE_ONE_PASS
#define HOP (SAMPLE_RATE * 2500u / 1000u) /* 80,000 */
#define PAD (WINDOW / 2u)
/* The ring holds the first 10 s (+ one block) until the clip is known to be longer. */
#define RING_LEN (SCENE_ONE_PASS + MIC_BLOCK)
#endif

/* A scene clip over 10 s on a build without SCENE_LONG_CLIPS. */
#define SCENE_NOT_LONG (-10)

static embed_state emb;
static int16_t embedding[EMBED_DIM];
static int window_error;  /* first EMBED_* error of a window */
static uint32_t n_embeddings;

#if defined(EMBED_MODE_TIMESTAMP) || defined(SCENE_LONG_CLIPS)
static int16_t ring[RING_LEN];
static padded_windows cutter;
#endif

static void send_hello(void)
{
    uint16_t len = 9 + 1 + 0;
    for (int t = 0; t < NET_NUM_TAPS; t++) {
        const char *s = net_taps[t].name;
        uint16_t n = 0;
        while (s[n]) n++;
        len += 13 + n;
    }
    uint16_t board_len = 0;
    while (board_name[board_len]) board_len++;
    len += board_len;
    proto_begin(PROTO_HELLO, 0, len);
    proto_put_u8(MODE_ID);
    proto_put_u8(LOGMEL_FRAC_BITS);
    proto_put_u16(EMBED_DIM);
    proto_put_u16(EMBED_L_DIM);
    proto_put_u16(NET_MAX_FRAMES);
    proto_put_u8(NET_NUM_TAPS);
    for (int t = 0; t < NET_NUM_TAPS; t++) {
        const char *s = net_taps[t].name;
        uint8_t n = 0;
        while (s[n]) n++;
        proto_put_u16(net_taps[t].offset);
        proto_put_u16(net_taps[t].channels);
        proto_put_f32(net_taps[t].scale);
        proto_put_u32((uint32_t)net_taps[t].zero_point);
        proto_put_u8(n);
        proto_put(s, n);
    }
    proto_put_u8((uint8_t)board_len);
    proto_put(board_name, board_len);
    proto_end();
}

static void send_embedding(uint32_t timestamp_ms, const int16_t *e)
{
    proto_begin(PROTO_EMBEDDING, timestamp_ms, 2 * EMBED_DIM);
    for (int i = 0; i < EMBED_DIM; i++) proto_put_u16((uint16_t)e[i]);
    proto_end();
    n_embeddings++;
#ifdef APP_HEADS
    heads_send_scores(timestamp_ms, e);
#endif
}

#if defined(EMBED_MODE_TIMESTAMP) || defined(SCENE_LONG_CLIPS)
/* The cutter's windows go through the frontend and the network as their samples arrive. */
static void on_begin(void *user, uint32_t index)
{
    (void)user;
    (void)index;
    embed_begin(&emb);
}

static void on_push(void *user, const int16_t *pcm, size_t n)
{
    (void)user;
    embed_push(&emb, pcm, n);
}
#endif

#ifdef EMBED_MODE_TIMESTAMP
static void on_end(void *user, uint32_t index)
{
    (void)user;
    int rc = embed_end(&emb, embedding);
    if (rc != EMBED_OK) {
        if (!window_error) window_error = rc;
        return;
    }
    send_embedding(index * 50u, embedding); /* window i is centred at i * 50 ms */
}
#elif defined(SCENE_LONG_CLIPS)
static int32_t scene_sum[EMBED_DIM];
static void on_end(void *user, uint32_t index)
{
    (void)user;
    (void)index;
    int rc = embed_end(&emb, embedding);
    if (rc != EMBED_OK) {
        if (!window_error) window_error = rc;
        return;
    }
    for (int i = 0; i < EMBED_DIM; i++) scene_sum[i] += embedding[i];
}
#endif

#if defined(EMBED_MODE_TIMESTAMP) || defined(SCENE_LONG_CLIPS)
static const window_sink sink = {on_begin, on_push, on_end};
#endif

static void append_u32(char **p, uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) *(*p)++ = digits[--n];
}

static void append(char **p, const char *s)
{
    while (*s) *(*p)++ = *s++;
}

static int report_error(uint32_t n_samples, int rc)
{
    char msg[200], *p = msg;
    uint16_t code = PROTO_ERR_INTERNAL;
    append(&p, "clip of ");
    append_u32(&p, n_samples);
    if (rc == EMBED_TOO_SHORT) {
        code = PROTO_ERR_CLIP_TOO_SHORT;
#ifdef EMBED_MODE_TIMESTAMP
        append(&p, " samples is too short for timestamp embeddings: more than ");
        append_u32(&p, PAD);
        append(&p, " samples are needed (reflect padding of 80 ms)");
#else
        append(&p, " samples is too short for a log-mel spectrogram");
#endif
    } else if (rc == EMBED_TOO_LONG) {
        code = PROTO_ERR_CLIP_TOO_LONG;
#ifdef EMBED_MODE_TIMESTAMP
        append(&p, " samples: a window has more frames than NET_MAX_FRAMES=");
#else
        append(&p, " samples is too long for this build's scene window of NET_MAX_FRAMES=");
#endif
        append_u32(&p, NET_MAX_FRAMES);
        append(&p, " frames on ");
        append(&p, board_name);
    } else if (rc == SCENE_NOT_LONG) {
        code = PROTO_ERR_CLIP_TOO_LONG;
        append(&p, " samples is over 10 s: scene clips over 10 s need SCENE_LONG_CLIPS "
                   "(a 640 KB sample ring), not built for ");
        append(&p, board_name);
    } else {
        append(&p, " samples: the network failed");
    }
    *p = 0;
    proto_error(code, msg);
    return BOARD_EXIT_INPUT;
}

#ifdef APP_PROFILE
static uint64_t op_insns[NET_NUM_OPS];
static uint64_t op_last;
static int op_current = -1;

/* NET_PROFILE(i) announces op i (i = NET_NUM_OPS: none); the instructions until the next
 * announcement belong to the op announced, whatever order the schedule runs ops in. */
void board_profile_op(int i)
{
    uint64_t now = board_instructions();
    if (op_current >= 0) op_insns[op_current] += now - op_last;
    op_current = (i >= 0 && i < NET_NUM_OPS) ? i : -1;
    op_last = board_instructions();
}

static void send_profile(uint64_t total)
{
    proto_begin(PROTO_PROFILE, 0, 30 + 8 * NET_NUM_OPS);
    proto_put_u32(embed_profile.windows);
    proto_put_u64(embed_profile.frontend);
    proto_put_u64(embed_profile.network);
    proto_put_u64(total);
    proto_put_u16(NET_NUM_OPS);
    for (int i = 0; i < NET_NUM_OPS; i++) proto_put_u64(op_insns[i]);
    proto_end();
}
#endif

static void send_end(uint32_t n_samples, uint64_t instructions)
{
    proto_begin(PROTO_END, 0, 24);
    proto_put_u32(n_samples);
    proto_put_u32(n_embeddings);
    proto_put_u32(board_stack_size() - board_stack_unused());
    proto_put_u32(board_stack_size());
    proto_put_u64(instructions);
    proto_end();
}

#if !defined(EMBED_MODE_TIMESTAMP) && defined(SCENE_LONG_CLIPS)
/* Half away from zero, as docs/int8-graph.md averages a scene's windows. */
static int32_t round_div(int32_t num, int32_t den)
{
    return num > 0 ? (num + den / 2) / den : (num - den / 2) / den;
}
#endif

int app_main(void)
{
    send_hello();
    if (board_mic_open() != 0) {
        proto_error(PROTO_ERR_NO_AUDIO, "no audio source (semihosting command line: <program> <pcm file>)");
        return BOARD_EXIT_NO_MIC;
    }
    uint64_t start = board_instructions();
    static int16_t block[MIC_BLOCK];
    uint32_t n = 0;
    size_t got;
    int rc = EMBED_OK;

#ifdef EMBED_MODE_TIMESTAMP
    pw_init(&cutter, ring, RING_LEN, PAD, WINDOW, HOP, &sink, 0);
    while ((got = mic_read_block(block, MIC_BLOCK)) > 0) {
        pw_push(&cutter, block, got);
        n += (uint32_t)got;
    }
    if (pw_finish(&cutter) < 0) rc = EMBED_TOO_SHORT;
    else rc = window_error;
#else
    /* Up to 10 s the clip is one window: its frames stream into the network as they come. */
#ifdef SCENE_LONG_CLIPS
    pw_init(&cutter, ring, RING_LEN, PAD, WINDOW, HOP, &sink, 0);
    cutter.hold = 1; /* its windows are only needed for a clip over 10 s */
#endif
    int one_pass = 1;
    embed_begin(&emb);
    while ((got = mic_read_block(block, MIC_BLOCK)) > 0) {
        size_t direct = n < SCENE_ONE_PASS ? SCENE_ONE_PASS - n : 0;
        if (direct > got) direct = got;
        if (one_pass && direct) embed_push(&emb, block, direct);
#ifdef SCENE_LONG_CLIPS
        pw_push(&cutter, block, got);
#endif
        n += (uint32_t)got;
        if (one_pass && n > SCENE_ONE_PASS) {
            one_pass = 0;
#ifdef SCENE_LONG_CLIPS
            pw_release(&cutter);
#endif
        }
    }
    if (one_pass) {
        rc = embed_end(&emb, embedding);
        if (rc == EMBED_OK) send_embedding(0, embedding);
    } else {
#ifdef SCENE_LONG_CLIPS
        /* Longer: 10 s windows every 2.5 s on the clip padded by 5 s, averaged. */
        int32_t windows = pw_finish(&cutter);
        rc = window_error;
        if (rc == EMBED_OK && windows > 0) {
            for (int i = 0; i < EMBED_DIM; i++) embedding[i] = (int16_t)round_div(scene_sum[i], windows);
            send_embedding(0, embedding);
        }
#else
        rc = SCENE_NOT_LONG;
#endif
    }
#endif

    uint64_t instructions = board_instructions() - start;
#ifdef APP_PROFILE
    send_profile(instructions);
#endif
    int code = BOARD_EXIT_OK;
    if (rc != EMBED_OK) code = report_error(n, rc);
    send_end(n, instructions);
    return code;
}

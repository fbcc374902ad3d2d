/* The streaming API (efat.h): cuts the pushed PCM into the windows of exporter/float_model/windows.py
 * and runs each through embed.c (frontend -> network) as its samples arrive. */
#if defined(EFAT_MODE_TIMESTAMP) && !defined(NET_MAX_FRAMES)
/* network.h would default to its largest plan: a scene-size arena for 16-frame windows. */
#error "timestamp mode: define NET_MAX_FRAMES (16) for every source of the library"
#endif

#include "efat.h"

#include <string.h>

#define SAMPLE_RATE 32000u

#ifdef EFAT_MODE_TIMESTAMP
#if NET_MAX_FRAMES < 16
#error "timestamp mode needs NET_MAX_FRAMES >= 16 (a 160 ms window has 16 frames)"
#endif
#define MODE EFAT_TIMESTAMP
#define WINDOW (SAMPLE_RATE * 160u / 1000u) /* 5,120 */
#define HOP (SAMPLE_RATE * 50u / 1000u)     /* 1,600 */
#define RING_LEN (WINDOW - HOP + 64u)       /* >= WINDOW - HOP (padded_windows.h) */
#define CUTTER 1
/* A window's interior frames are 2..14 (frames 0, 1 and 15 touch its own reflect padding);
 * 5 frames per hop, so frames 2..9 are the previous window's 7..14: 8 slots share them all
 * (frames 10..14 overwrite the slots of 2..6, which the window has already used). */
#define SHARED_FRAMES 8u
typedef char efat_hop_is_whole_frames[HOP % LOGMEL_HOP == 0 ? 1 : -1];
static int16_t efat_shared_frames[SHARED_FRAMES][LOGMEL_BANDS];
static int32_t efat_shared_pos[SHARED_FRAMES];
static embed_frame_cache efat_cache;
#else
#define MODE EFAT_SCENE
#define SCENE_ONE_PASS (10u * SAMPLE_RATE) /* a clip up to 10 s is one window */
#define WINDOW SCENE_ONE_PASS
#define HOP (SAMPLE_RATE * 2500u / 1000u) /* 80,000 */
#ifdef EFAT_SCENE_LONG_CLIPS
/* The ring keeps the first 10 s (+ one sample: efat_push_pcm holds back the rest of a block)
 * until the clip is known to be longer; 320 spare samples as in earlier firmware images. */
#define RING_LEN (SCENE_ONE_PASS + 320u)
#define CUTTER 1
static int32_t scene_sum[EFAT_DIM]; /* the windows' embeddings, to average */
#endif
#endif
#define PAD (WINDOW / 2u)

#ifdef CUTTER
static int16_t efat_ring[RING_LEN]; /* static: the mode's size, and efat_t stays the same */
#endif

const efat_info_t efat_info = {MODE, LOGMEL_FRAC_BITS, EFAT_DIM, EFAT_L_DIM, NET_MAX_FRAMES,
                               WINDOW, HOP, NET_NUM_TAPS, net_taps};

static void emit(efat_t *s, uint32_t index, uint32_t timestamp_ms)
{
    efat_embedding_t e = {s->values, timestamp_ms, index, &efat_info};
    if (s->callback) s->callback(s->user, &e);
}

static void note_error(efat_t *s, int rc)
{
    if (rc != EFAT_OK && s->error == EFAT_OK) s->error = rc;
}

#ifdef CUTTER
/* The cutter's windows go through the frontend and the network as their samples arrive. */
static void on_begin(void *user, uint32_t index)
{
#ifdef EFAT_MODE_TIMESTAMP
    embed_begin_shared(&((efat_t *)user)->emb, &efat_cache, (int32_t)(index * (HOP / LOGMEL_HOP)));
#else
    (void)index; /* scene windows of long clips overlap by 7.5 s: too many frames to keep */
    embed_begin(&((efat_t *)user)->emb);
#endif
}

static void on_push(void *user, const int16_t *pcm, size_t n)
{
    embed_push(&((efat_t *)user)->emb, pcm, n);
}

static void on_end(void *user, uint32_t index)
{
    efat_t *s = (efat_t *)user;
    int rc = embed_end(&s->emb, s->values);
    if (rc != EMBED_OK) {
        note_error(s, rc);
        return;
    }
#ifdef EFAT_MODE_TIMESTAMP
    emit(s, index, index * 50u); /* window i is centred at i * 50 ms */
#else
    (void)index;
    for (int i = 0; i < EFAT_DIM; i++) scene_sum[i] += s->values[i];
#endif
}

static const window_sink sink = {on_begin, on_push, on_end};
#endif

void efat_init(efat_t *s, efat_callback callback, void *user)
{
    memset(s, 0, sizeof *s);
    s->callback = callback;
    s->user = user;
#ifdef CUTTER
    pw_init(&s->cutter, efat_ring, RING_LEN, PAD, WINDOW, HOP, &sink, s);
#endif
#ifdef EFAT_MODE_TIMESTAMP
    embed_cache_init(&efat_cache, efat_shared_frames, efat_shared_pos, SHARED_FRAMES);
#endif
#ifndef EFAT_MODE_TIMESTAMP
    /* Up to 10 s the clip is one window: its frames stream into the network as they come. */
    s->one_pass = 1;
    embed_begin(&s->emb);
#ifdef EFAT_SCENE_LONG_CLIPS
    memset(scene_sum, 0, sizeof scene_sum);
    s->cutter.hold = 1; /* its windows are only needed for a clip over 10 s */
#endif
#endif
}

void efat_reset(efat_t *s)
{
    efat_init(s, s->callback, s->user);
}

int efat_push_pcm(efat_t *s, const int16_t *pcm, size_t n)
{
    if (s->finished) return EFAT_ERR_FINISHED;
#ifdef EFAT_MODE_TIMESTAMP
    pw_push(&s->cutter, pcm, n);
    s->n_samples += (uint32_t)n;
#else
    while (n) {
        size_t chunk = n;
        if (s->one_pass) {
            size_t direct = s->n_samples < SCENE_ONE_PASS ? SCENE_ONE_PASS - s->n_samples : 0;
            if (direct > n) direct = n;
            if (direct) embed_push(&s->emb, pcm, direct);
            /* Stop one sample past 10 s: from there on the held ring must be fed out before
             * it overwrites the clip's start. */
            if (chunk > direct + 1) chunk = direct + 1;
        }
#ifdef EFAT_SCENE_LONG_CLIPS
        pw_push(&s->cutter, pcm, chunk);
#endif
        s->n_samples += (uint32_t)chunk;
        pcm += chunk;
        n -= chunk;
        if (s->one_pass && s->n_samples > SCENE_ONE_PASS) {
            s->one_pass = 0;
#ifdef EFAT_SCENE_LONG_CLIPS
            pw_release(&s->cutter); /* longer: 10 s windows every 2.5 s on the clip padded by 5 s */
#else
            note_error(s, EFAT_ERR_LONG_CLIP);
#endif
        }
    }
#endif
    return s->error;
}

#if !defined(EFAT_MODE_TIMESTAMP) && defined(EFAT_SCENE_LONG_CLIPS)
/* Half away from zero, as docs/int8-graph.md averages a scene's windows. */
static int32_t round_div(int32_t num, int32_t den)
{
    return num > 0 ? (num + den / 2) / den : (num - den / 2) / den;
}
#endif

int efat_finish(efat_t *s)
{
    if (s->finished) return s->error;
    s->finished = 1;
#ifdef EFAT_MODE_TIMESTAMP
    if (pw_finish(&s->cutter) < 0) note_error(s, EFAT_ERR_TOO_SHORT);
#else
    if (s->one_pass) {
        int rc = embed_end(&s->emb, s->values);
        note_error(s, rc);
        if (rc == EMBED_OK) emit(s, 0, 0);
    }
#ifdef EFAT_SCENE_LONG_CLIPS
    else {
        int32_t windows = pw_finish(&s->cutter);
        if (s->error == EFAT_OK && windows > 0) {
            for (int i = 0; i < EFAT_DIM; i++) s->values[i] = (int16_t)round_div(scene_sum[i], windows);
            emit(s, 0, 0);
        }
    }
#endif
#endif
    return s->error;
}

float efat_dequantize(const efat_embedding_t *e, int i)
{
    const efat_info_t *info = e->info;
    if (i < info->l_dim) return (float)e->values[i] / (float)(1u << info->l_frac_bits);
    for (int t = 0; t < info->num_taps; t++) {
        const efat_tap_t *tap = &info->taps[t];
        int k = i - info->l_dim - tap->offset;
        if (k >= 0 && k < tap->channels) return tap->scale * (float)(e->values[i] - tap->zero_point);
    }
    return 0.0f;
}

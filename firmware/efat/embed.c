#include "embed.h"

#include <string.h>

embed_profile_t embed_profile;

#ifdef EFAT_PROFILE
uint64_t efat_profile_clock(void); /* the application's counter (efat.h) */
#define COUNT() efat_profile_clock()
#else
#define COUNT() 0u
#endif

#if defined(__ARM_FEATURE_DSP)
/* sum[b] += frame[b] for the 128 bands, 4 per loop: LDM/STM of the sums and SXTAH of both
 * halves of a frame word (the frame only 2-byte aligned: single LDRs, which may be unaligned). */
typedef char embed_bands_by_four[LOGMEL_BANDS % 4 == 0 ? 1 : -1];
static void add_frame(int32_t *sum, const int16_t *frame)
{
    const int32_t *end = sum + LOGMEL_BANDS;
    __asm__ volatile(
        "1: ldm %[s], {r2, r3, r4, r5}\n"
        "ldr r6, [%[f]], #4\n ldr r7, [%[f]], #4\n"
        "sxtah r2, r2, r6\n sxtah r3, r3, r6, ror #16\n"
        "sxtah r4, r4, r7\n sxtah r5, r5, r7, ror #16\n"
        "stmia %[s]!, {r2, r3, r4, r5}\n"
        "cmp %[s], %[e]\n bne 1b\n"
        : [s] "+r"(sum), [f] "+r"(frame)
        : [e] "r"(end)
        : "r2", "r3", "r4", "r5", "r6", "r7", "cc", "memory");
}
#else
static void add_frame(int32_t *sum, const int16_t *frame)
{
    for (int b = 0; b < LOGMEL_BANDS; b++) sum[b] += frame[b];
}
#endif

static void on_frame(void *user, const int16_t frame[LOGMEL_BANDS])
{
    embed_state *e = (embed_state *)user;
    add_frame(e->sum, frame);
    e->frames++;
    if (e->overflow) return;
    uint64_t t0 = COUNT();
    if (net_push_frame(frame) < 0) e->overflow = 1;
    embed_profile.network += COUNT() - t0;
}

void embed_cache_init(embed_frame_cache *c, int16_t (*frames)[LOGMEL_BANDS], int32_t *pos, uint32_t slots)
{
    c->frames = frames;
    c->pos = pos;
    c->slots = slots;
    for (uint32_t i = 0; i < slots; i++) pos[i] = -1;
}

static const int16_t *lookup(void *user, int32_t t)
{
    const embed_state *e = (const embed_state *)user;
    const int32_t g = e->position + t;
    const uint32_t slot = (uint32_t)g % e->cache->slots;
    return e->cache->pos[slot] == g ? e->cache->frames[slot] : NULL;
}

static void store(void *user, int32_t t, const int16_t frame[LOGMEL_BANDS])
{
    const embed_state *e = (const embed_state *)user;
    const int32_t g = e->position + t;
    const uint32_t slot = (uint32_t)g % e->cache->slots;
    memcpy(e->cache->frames[slot], frame, sizeof e->cache->frames[slot]);
    e->cache->pos[slot] = g;
}

void embed_begin_shared(embed_state *e, embed_frame_cache *cache, int32_t position)
{
    embed_begin(e);
    e->cache = cache;
    e->position = position;
    logmel_set_share(&e->mel, lookup, store);
}

void embed_begin(embed_state *e)
{
    e->cache = NULL;
    e->position = 0;
    memset(e->sum, 0, sizeof e->sum);
    e->frames = 0;
    e->overflow = 0;
    uint64_t t0 = COUNT();
    net_begin();
    embed_profile.network += COUNT() - t0;
    logmel_begin(&e->mel, on_frame, e);
}

void embed_push(embed_state *e, const int16_t *pcm, size_t n)
{
    /* Frontend time = time in logmel_push minus the network's share inside the callbacks. */
    uint64_t t0 = COUNT(), n0 = embed_profile.network;
    logmel_push(&e->mel, pcm, n);
    embed_profile.frontend += (COUNT() - t0) - (embed_profile.network - n0);
}

int embed_end(embed_state *e, int16_t out[EMBED_DIM])
{
    uint64_t t0 = COUNT(), n0 = embed_profile.network;
    int frames = logmel_end(&e->mel);
    embed_profile.frontend += (COUNT() - t0) - (embed_profile.network - n0);
    if (frames < 0 || e->frames == 0) return EMBED_TOO_SHORT;
    if (e->overflow) return EMBED_TOO_LONG;

    int8_t taps[NET_TAP_DIM];
    t0 = COUNT();
    int rc = net_end(taps);
    embed_profile.network += COUNT() - t0;
    embed_profile.windows++;
    if (rc < 0) return EMBED_NET_FAILED;

    logmel_mean_q12(e->sum, e->frames, out);
    for (int i = 0; i < NET_TAP_DIM; i++) out[EMBED_L_DIM + i] = taps[i];
    return EMBED_OK;
}

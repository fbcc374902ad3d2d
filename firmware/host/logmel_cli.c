/* Host driver of the frontend, for tests.
 *   logmel_cli frames PCM_IN BLOCK FRAMES_OUT [STAGE_PREFIX]
 *     streams raw int16 PCM in blocks of BLOCK samples; writes the int16 frames,
 *     then FRAMES_OUT.mean (int16[128], logmel_mean_q12) and, with STAGE_PREFIX,
 *     PREFIX.<stage>.bin per intermediate stage (every frame appended).
 *     Exit 3 if the clip is too short.
 *   logmel_cli round LOG_IN OUT    int32 Q24 values -> int16 Q12 (logmel_round_q12)
 *   logmel_cli log U64_IN OUT      uint64 values -> int32 Q24 (logmel_log_q24)
 *   logmel_cli mean SUMS_IN N OUT  int32[128] sums of N frames -> int16[128] (logmel_mean_q12) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logmel.h"

static const char *const stage_names[LOGMEL_NUM_STAGES] = {"fft", "power", "mel", "log"};

typedef struct {
  FILE *frames;
  FILE *stages[LOGMEL_NUM_STAGES];
  int32_t sum[LOGMEL_BANDS];
  int32_t n;
} sink_t;

static void on_frame(void *user, const int16_t frame[LOGMEL_BANDS]) {
  sink_t *k = user;
  fwrite(frame, sizeof frame[0], LOGMEL_BANDS, k->frames);
  for (int b = 0; b < LOGMEL_BANDS; b++) k->sum[b] += frame[b];
  k->n++;
}

static void on_stage(void *user, int stage, const void *data, size_t bytes) {
  sink_t *k = user;
  fwrite(data, 1, bytes, k->stages[stage]);
}

static void *read_all(const char *path, size_t *bytes) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  *bytes = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = malloc(*bytes ? *bytes : 1);
  if (fread(buf, 1, *bytes, f) != *bytes) {
    perror(path);
    exit(2);
  }
  fclose(f);
  return buf;
}

static FILE *open_out(const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(2);
  }
  return f;
}

static int run_frames(int argc, char **argv) {
  size_t bytes;
  int16_t *pcm = read_all(argv[2], &bytes);
  const size_t n = bytes / sizeof(int16_t);
  const long block = atol(argv[3]);
  if (block < 1) {
    fprintf(stderr, "block size must be >= 1\n");
    return 2;
  }
  static logmel_state st; /* large: not on the stack */
  sink_t k;
  memset(&k, 0, sizeof k);
  k.frames = open_out(argv[4]);
  logmel_begin(&st, on_frame, &k);
  if (argc > 5) {
    char path[4096];
    for (int i = 0; i < LOGMEL_NUM_STAGES; i++) {
      snprintf(path, sizeof path, "%s.%s.bin", argv[5], stage_names[i]);
      k.stages[i] = open_out(path);
    }
    logmel_set_stage_hook(&st, on_stage, &k);
  }
  for (size_t i = 0; i < n; i += (size_t)block) {
    const size_t m = n - i < (size_t)block ? n - i : (size_t)block;
    logmel_push(&st, pcm + i, m);
  }
  const int frames = logmel_end(&st);
  fclose(k.frames);
  for (int i = 0; i < LOGMEL_NUM_STAGES; i++)
    if (k.stages[i]) fclose(k.stages[i]);
  free(pcm);
  if (frames < 0) {
    fprintf(stderr, "clip of %zu samples is too short\n", n);
    return 3;
  }
  if (frames != k.n) {
    fprintf(stderr, "logmel_end returned %d frames but %d were emitted\n", frames, (int)k.n);
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s.mean", argv[4]);
  int16_t mean[LOGMEL_BANDS];
  logmel_mean_q12(k.sum, k.n, mean);
  FILE *f = open_out(path);
  fwrite(mean, sizeof mean[0], LOGMEL_BANDS, f);
  fclose(f);
  return 0;
}

static int run_map(char **argv, int to_q12) {
  size_t bytes;
  void *in = read_all(argv[2], &bytes);
  FILE *f = open_out(argv[3]);
  if (to_q12) {
    const int32_t *v = in;
    for (size_t i = 0; i < bytes / 4; i++) {
      const int16_t q = logmel_round_q12(v[i]);
      fwrite(&q, sizeof q, 1, f);
    }
  } else {
    const uint64_t *v = in;
    for (size_t i = 0; i < bytes / 8; i++) {
      const int32_t l = logmel_log_q24(v[i]);
      fwrite(&l, sizeof l, 1, f);
    }
  }
  fclose(f);
  free(in);
  return 0;
}

static int run_mean(char **argv) {
  size_t bytes;
  int32_t *sum = read_all(argv[2], &bytes);
  if (bytes != LOGMEL_BANDS * sizeof(int32_t)) {
    fprintf(stderr, "expected %d int32 sums\n", LOGMEL_BANDS);
    return 2;
  }
  int16_t mean[LOGMEL_BANDS];
  logmel_mean_q12(sum, (int32_t)atol(argv[3]), mean);
  FILE *f = open_out(argv[4]);
  fwrite(mean, sizeof mean[0], LOGMEL_BANDS, f);
  fclose(f);
  free(sum);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "frames") == 0) return run_frames(argc, argv);
  if (argc == 4 && strcmp(argv[1], "round") == 0) return run_map(argv, 1);
  if (argc == 4 && strcmp(argv[1], "log") == 0) return run_map(argv, 0);
  if (argc == 5 && strcmp(argv[1], "mean") == 0) return run_mean(argv);
  fprintf(stderr,
          "usage: %s frames PCM_IN BLOCK FRAMES_OUT [STAGE_PREFIX]\n"
          "       %s round LOG_Q24_IN OUT | log U64_IN OUT | mean SUMS_IN N OUT\n",
          argv[0], argv[0]);
  return 2;
}

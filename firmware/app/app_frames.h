#ifndef APP_FRAMES_H
#define APP_FRAMES_H

#include <stdint.h>

#include "efat.h"

extern uint32_t n_embeddings; /* embedding frames sent for the current clip */

void send_hello(void);
/* The library's callback: each embedding becomes a frame. */
void send_embedding(void *user, const efat_embedding_t *e);
/* An error frame for efat's rc on a clip of n_samples; the exit code. */
int report_error(uint32_t n_samples, int rc);
void send_end(uint32_t n_samples, uint64_t instructions);

#endif

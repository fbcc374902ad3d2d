/* Task heads on the device (built in when the export has heads: APP_HEADS): after each
 * embedding, every head runs and its scores go out as a `scores` frame (docs/uart-protocol.md). */
#ifndef HEADS_APP_H
#define HEADS_APP_H

#include <stdint.h>

void heads_send_scores(uint32_t timestamp_ms, const int16_t *embedding);

#endif

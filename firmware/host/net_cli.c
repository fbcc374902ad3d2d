/* Runs the generated network on the host (tests/test_codegen.py).
 *
 * Usage: net_cli FRAMES TAPS [OPS]
 *   FRAMES: one window of int16 Q12 log-mel frames, raw [T][NET_MEL_BANDS]
 *   TAPS:   written: the NET_TAP_DIM int8 taps
 *   OPS:    optional, written: each output row as produced, int32 op id + int32 row + uint32 byte count + bytes
 * Prints the frame count, the arena size and the window's MACs. Exit 0, 1 on a bad file, 3 if the network refuses the window. */
#include <stdio.h>
#include <stdlib.h>

#include "network.h"

static FILE *g_ops;

static void dump_op(int op, int32_t row, const int8_t *data, uint32_t n)
{
    int32_t id = op;
    fwrite(&id, 4, 1, g_ops);
    fwrite(&row, 4, 1, g_ops);
    fwrite(&n, 4, 1, g_ops);
    fwrite(data, 1, n, g_ops);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: net_cli FRAMES TAPS [OPS]\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        fprintf(stderr, "net_cli: cannot read %s\n", argv[1]);
        return 1;
    }
    if (argc == 4) {
        g_ops = fopen(argv[3], "wb");
        if (!g_ops) {
            fprintf(stderr, "net_cli: cannot write %s\n", argv[3]);
            return 1;
        }
        net_observer = dump_op;
    }
    int16_t frame[NET_MEL_BANDS];
    int8_t taps[NET_TAP_DIM];
    long frames = 0;
    net_begin();
    while (fread(frame, sizeof frame, 1, in) == 1) {
        if (net_push_frame(frame) < 0) {
            fprintf(stderr, "net_cli: window longer than NET_MAX_FRAMES (%d)\n", NET_MAX_FRAMES);
            return 3;
        }
        ++frames;
    }
    fclose(in);
    int rc = net_end(taps);
    if (rc < 0) {
        fprintf(stderr, "net_cli: net_end failed (%d)%s\n", rc, frames ? "" : ": no frames");
        return 3;
    }
    if (g_ops) fclose(g_ops);
    FILE *out = fopen(argv[2], "wb");
    if (!out || fwrite(taps, 1, NET_TAP_DIM, out) != NET_TAP_DIM) {
        fprintf(stderr, "net_cli: cannot write %s\n", argv[2]);
        return 1;
    }
    fclose(out);
    unsigned long macs = 0;
    for (int i = 0; i < NET_NUM_OPS; ++i) macs += net_op_macs(i, (int32_t)frames);
    printf("frames %ld arena_bytes %lu macs %lu\n", frames, (unsigned long)net_arena_bytes, macs);
    return 0;
}

/* Runs single kernels on data written by tests/test_kernels.py.
 *
 * Usage: kernel_cli IN OUT. IN is a sequence of cases; a case is a list of
 * arrays, each stored as uint32 byte count + bytes (little endian): the kernel
 * name, then the kernel's arrays (order below). OUT gets, per case, uint32
 * byte count + the output bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_kernels.h"
#include "nn_simd.h" /* the requantization forms the kernels use inside */

typedef struct {
    uint8_t *data;
    uint32_t size;
} blob;

static FILE *g_in;

static int read_blob(blob *b)
{
    uint32_t n;
    if (fread(&n, 4, 1, g_in) != 1) return 0;
    b->data = (uint8_t *)malloc(n ? n : 1);
    b->size = n;
    if (n && fread(b->data, 1, n, g_in) != n) {
        fprintf(stderr, "kernel_cli: truncated input\n");
        exit(1);
    }
    return 1;
}

static blob next(void)
{
    blob b;
    if (!read_blob(&b)) {
        fprintf(stderr, "kernel_cli: missing array\n");
        exit(1);
    }
    return b;
}

#define I32(b) ((const int32_t *)(const void *)(b).data)
#define I8(b) ((const int8_t *)(const void *)(b).data)

static void write_out(FILE *out, const void *p, uint32_t n)
{
    fwrite(&n, 4, 1, out);
    fwrite(p, 1, n, out);
}

/* The export-time row kernels by name (nn_kernels.h). */
#define NN_ROW_ENTRY(name) {#name, name},
static const struct {
    const char *name;
    nn_row_fn fn;
} row_variants[] = {NN_CONV_VARIANTS(NN_ROW_ENTRY)};

/* conv2d / depthwise: [cin cout f_in f_out k stride pad zp_in zp_out act_min act_max t_in], w, bias, mult, shift,
 * lut (0 or 256), x, row kernel (a name of NN_CONV_VARIANTS, or empty: the general kernel), the export-time
 * records of nn_conv_t.prep (empty: none) */
static void run_conv(FILE *out, int depthwise)
{
    blob h = next(), w = next(), bias = next(), mult = next(), shift = next(), lut = next(), x = next(), variant = next(),
         prep = next();
    const int32_t *v = I32(h);
    nn_conv_t p = {(uint16_t)v[0], (uint16_t)v[1], (uint16_t)v[2], (uint16_t)v[3], (uint8_t)v[4], (uint8_t)v[5],
                   (uint8_t)v[6], (int16_t)v[7], (int16_t)v[8], (int16_t)v[9], (int16_t)v[10], I8(w), I32(bias),
                   I32(mult), I8(shift), lut.size ? I8(lut) : NULL, prep.size ? prep.data : NULL};
    int t_in = v[11];
    int t_out = nn_out_size(t_in, p.k, p.stride, p.pad);
    uint32_t n = (uint32_t)t_out * p.f_out * p.cout;
    int8_t *y = (int8_t *)malloc(n + 1);
    nn_row_fn row = NULL;
    if (variant.size) {
        size_t i = 0, n_variants = sizeof row_variants / sizeof row_variants[0];
        while (i < n_variants && (strlen(row_variants[i].name) != variant.size ||
                                  memcmp(row_variants[i].name, variant.data, variant.size)))
            ++i;
        if (i == n_variants) {
            fprintf(stderr, "kernel_cli: unknown row kernel %.*s\n", (int)variant.size, (const char *)variant.data);
            exit(2);
        }
        row = row_variants[i].fn;
    }
    const size_t in_row = (size_t)p.f_in * p.cin, out_row = (size_t)p.f_out * p.cout;
    if (!row && depthwise) nn_depthwise_conv2d(&p, I8(x), t_in, y);
    else if (!row) nn_conv2d(&p, I8(x), t_in, y);
    else for (int to = 0; to < t_out; ++to) { /* as nn_conv2d does, with the chosen row kernel */
        const int8_t *rows[NN_MAX_K];
        nn_input_rows(I8(x), t_in, in_row, to * p.stride - p.pad, p.k, rows);
        row(&p, rows, y + to * out_row);
    }
    write_out(out, y, n);
    free(y);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: kernel_cli IN OUT\n");
        return 2;
    }
    g_in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (!g_in || !out) {
        fprintf(stderr, "kernel_cli: cannot open files\n");
        return 2;
    }
    blob name;
    while (read_blob(&name)) {
        char k[32] = {0};
        memcpy(k, name.data, name.size < 31 ? name.size : 31);
        if (!strcmp(k, "conv2d") || !strcmp(k, "depthwise_conv2d")) {
            run_conv(out, k[0] == 'd');
        } else if (!strcmp(k, "fully_connected")) {
            /* [cin cout zp_in zp_out act_min act_max], w, bias, mult, shift, lut, x */
            blob h = next(), w = next(), bias = next(), mult = next(), shift = next(), lut = next(), x = next();
            const int32_t *v = I32(h);
            nn_fc_t p = {(uint16_t)v[0], (uint16_t)v[1], (int16_t)v[2], (int16_t)v[3], (int16_t)v[4], (int16_t)v[5],
                         I8(w), I32(bias), I32(mult), I8(shift), lut.size ? I8(lut) : NULL};
            int8_t y[4096];
            nn_fully_connected(&p, I8(x), y);
            write_out(out, y, p.cout);
        } else if (!strcmp(k, "global_avgpool")) {
            /* [n c], x */
            blob h = next(), x = next();
            int8_t y[4096];
            nn_global_avgpool(I8(x), I32(h)[0], I32(h)[1], y);
            write_out(out, y, (uint32_t)I32(h)[1]);
        } else if (!strcmp(k, "avgpool_parts")) {
            /* [n c parts], x: accumulated in `parts` slices of rows, then finished */
            blob h = next(), x = next();
            const int32_t n = I32(h)[0], c = I32(h)[1], parts = I32(h)[2];
            int32_t sum[4096] = {0};
            int8_t y[4096];
            for (int32_t i0 = 0, q = 0; q < parts; ++q) {
                const int32_t i1 = (int32_t)((int64_t)n * (q + 1) / parts);
                nn_avgpool_accumulate(I8(x) + (size_t)i0 * c, i1 - i0, c, sum);
                i0 = i1;
            }
            nn_avgpool_finish(sum, n, c, y);
            write_out(out, y, (uint32_t)c);
        } else if (!strcmp(k, "mul_channel")) {
            /* [c zp_x zp_g zp_out mult shift n], x, gate */
            blob h = next(), x = next(), g = next();
            const int32_t *v = I32(h);
            nn_mul_channel_t p = {(uint16_t)v[0], (int16_t)v[1], (int16_t)v[2], (int16_t)v[3], v[4], v[5]};
            int8_t *y = (int8_t *)malloc(x.size + 1);
            nn_mul_channel(&p, I8(x), v[6], I8(g), y);
            write_out(out, y, x.size);
            free(y);
        } else if (!strcmp(k, "add")) {
            /* [zp_a zp_b zp_out left_shift m1 s1 m2 s2 mo so], a, b */
            blob h = next(), a = next(), b = next();
            const int32_t *v = I32(h);
            nn_add_t p = {(int16_t)v[0], (int16_t)v[1], (int16_t)v[2], (int16_t)v[3], v[4], v[5], v[6], v[7], v[8], v[9],
                          NULL, 0, 0};
            int8_t *y = (int8_t *)malloc(a.size + 1);
            nn_add(&p, I8(a), I8(b), (int32_t)a.size, y);
            write_out(out, y, a.size);
            free(y);
        } else if (!strcmp(k, "add_tab")) {
            /* [zp_a zp_b zp_out left_shift m1 s1 m2 s2 mo so tab_a tab_b], table (int32, y = -128 .. 127), a, b:
             * nn_add's table form */
            blob h = next(), t = next(), a = next(), b = next();
            const int32_t *v = I32(h);
            nn_add_t p = {(int16_t)v[0], (int16_t)v[1], (int16_t)v[2], (int16_t)v[3], v[4], v[5], v[6], v[7], v[8],
                          v[9], I32(t) + 128, v[10], v[11]};
            int8_t *y = (int8_t *)malloc(a.size + 1);
            nn_add(&p, I8(a), I8(b), (int32_t)a.size, y);
            write_out(out, y, a.size);
            free(y);
        } else if (!strcmp(k, "lut")) {
            /* table, x */
            blob t = next(), x = next();
            int8_t *y = (int8_t *)malloc(x.size + 1);
            nn_lut(I8(t), I8(x), (int32_t)x.size, y);
            write_out(out, y, x.size);
            free(y);
        } else if (!strcmp(k, "quantize")) {
            /* [mult shift zp_out], x (int16) */
            blob h = next(), x = next();
            nn_quantize_t p = {I32(h)[0], I32(h)[1], (int16_t)I32(h)[2]};
            int32_t n = (int32_t)(x.size / 2);
            int8_t *y = (int8_t *)malloc((size_t)n + 1);
            nn_quantize(&p, (const int16_t *)(const void *)x.data, n, y);
            write_out(out, y, (uint32_t)n);
            free(y);
        } else if (!strcmp(k, "requant") || !strcmp(k, "requant_fast") || !strcmp(k, "requant_z")) {
            /* acc, mult, shift, zp (int32 arrays) -> int32: nn_requant, nn_rq_apply, or
             * nn_rqz_apply of the doubled acc (which includes zp) */
            blob acc = next(), m = next(), s = next(), zp = next();
            uint32_t n = acc.size / 4;
            int32_t *y = (int32_t *)malloc(4 * (size_t)n + 4);
            for (uint32_t i = 0; i < n; ++i) {
                const int32_t a = I32(acc)[i], mi = I32(m)[i], si = I32(s)[i];
                if (k[8] == 'f') y[i] = nn_rq_apply(a, nn_rq_make(mi, si));
                else if (k[8] == 'z') y[i] = nn_rqz_apply(2 * a, nn_rqz_make(mi, si, I32(zp)[i]));
                else y[i] = nn_requant(a, mi, si);
            }
            write_out(out, y, 4 * n);
            free(y);
        } else {
            fprintf(stderr, "kernel_cli: unknown kernel '%s'\n", k);
            return 1;
        }
    }
    fclose(out);
    return 0;
}

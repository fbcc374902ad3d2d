/* QEMU TCG plugin: a Cortex-M4 cycle estimate. QEMU executes instructions, not cycles; this
 * plugin sorts every executed Thumb instruction into the classes whose cost differs on the
 * Cortex-M4 (Technical Reference Manual, "Processor instruction timings": loads 2 cycles, 1 when
 * pipelined behind a load; stores 1; LDRD/STRD 3; LDM/STM/PUSH/POP 1 + registers; multiplies
 * and MACs 1; divides 2-12; branches 1 + a pipeline refill when taken) and counts taken
 * branches. exporter/benchmark/cycle_model.py turns the counts into cycles with the documented costs.
 *
 * Taken branches: a translation block ends at a branch; the next block executed either starts
 * at the fall-through address (not taken) or elsewhere (taken). Counts are also kept per address
 * region (functions of the ELF, from regions=PATH: lines "start end name", hex, end exclusive).
 *
 *   gcc -shared -fPIC -O2 -o libm4cycles.so m4_cycle_plugin.c
 *   qemu-system-arm ... -plugin ./libm4cycles.so,out=counts.txt[,regions=regions.txt]
 * Output: "class NAME COUNT" lines, "taken N", then "region NAME INSNS CLASS_COUNTS... TAKEN".
 * Built with -DM4_CLASSIFY_MAIN it is a host program that classifies the Thumb code of a raw
 * binary on stdin (one class name per instruction): tests/test_cycle_model.py checks the decoder
 * against instructions assembled by arm-none-eabi-as. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cls { ALU, MUL, DIV, LOAD, LOAD_PIPE, STORE, DUAL, MULTI_REG, BRANCH, TABLE_BRANCH, N_CLASSES };
static const char *const CLASS_NAMES[N_CLASSES] = {"alu", "mul", "div", "load", "load_pipelined", "store",
                                                   "ldrd_strd", "multi_register", "branch", "table_branch"};

typedef struct {
    enum cls c;
    int regs;       /* registers moved by LDM/STM/PUSH/POP */
    int ends_block; /* may change the flow: a branch, a load to PC, a POP of PC */
} insn_class;

static int popcount16(unsigned v) { return __builtin_popcount(v & 0xFFFFu); }

/* Classify one Thumb instruction (hw2 is ignored for 16-bit ones); prev_load: the previous
 * instruction of the same block was a single load (a load behind it is pipelined). */
static insn_class classify(uint16_t hw1, uint16_t hw2, int prev_load)
{
    insn_class r = {ALU, 0, 0};
    unsigned top5 = hw1 >> 11;
    if (top5 < 0x1D) { /* 16-bit */
        if ((hw1 >> 12) == 0x5) r.c = ((hw1 >> 9) & 7) < 3 ? STORE : LOAD;          /* register offset */
        else if ((hw1 >> 13) == 0x3 || (hw1 >> 12) == 0x8 || (hw1 >> 12) == 0x9)   /* imm, halfword, SP */
            r.c = (hw1 & 0x0800) ? LOAD : STORE;
        else if (top5 == 0x09) r.c = LOAD;                                            /* LDR literal */
        else if ((hw1 & 0xFE00) == 0xB400) { r.c = MULTI_REG; r.regs = popcount16(hw1 & 0x1FF); } /* PUSH */
        else if ((hw1 & 0xFE00) == 0xBC00) {                                          /* POP */
            r.c = MULTI_REG; r.regs = popcount16(hw1 & 0x1FF); r.ends_block = (hw1 >> 8) & 1;
        }
        else if ((hw1 >> 12) == 0xC) { r.c = MULTI_REG; r.regs = popcount16(hw1 & 0xFF); } /* LDM/STM */
        else if ((hw1 >> 12) == 0xD && ((hw1 >> 8) & 0xF) < 0xE) { r.c = BRANCH; r.ends_block = 1; } /* B<c> */
        else if (top5 == 0x1C) { r.c = BRANCH; r.ends_block = 1; }                  /* B */
        else if ((hw1 & 0xF500) == 0xB100) { r.c = BRANCH; r.ends_block = 1; }      /* CBZ, CBNZ */
        else if ((hw1 & 0xFF00) == 0x4700) { r.c = BRANCH; r.ends_block = 1; }      /* BX, BLX */
        else if ((hw1 & 0xFC87) == 0x4487) { r.c = BRANCH; r.ends_block = 1; }      /* ADD/MOV PC, Rm */
        else if ((hw1 & 0xFFC0) == 0x4340) r.c = MUL;                                 /* MULS */
    } else if (top5 == 0x1D) {
        if ((hw1 & 0xFE40) == 0xE800) {                                               /* LDM/STM (.W) */
            r.c = MULTI_REG; r.regs = popcount16(hw2);
            r.ends_block = (hw1 & 0x0010) && (hw2 & 0x8000);
        } else if ((hw1 & 0xFE40) == 0xE840) {
            if ((hw1 & 0xFFF0) == 0xE8D0 && (hw2 & 0xFFE0) == 0xF000) { r.c = TABLE_BRANCH; r.ends_block = 1; }
            else if ((hw1 & 0xFFE0) == 0xE840) r.c = (hw1 & 0x0010) ? LOAD : STORE; /* LDREX / STREX */
            else r.c = DUAL;                                                          /* LDRD / STRD */
        }
    } else if (top5 == 0x1E) {
        if (hw2 & 0x8000) {  /* branches and miscellaneous control */
            int misc = (hw2 & 0x5000) == 0 && ((hw1 >> 6) & 0xE) == 0xE;             /* MSR, MRS, hints, barriers */
            if (!misc) { r.c = BRANCH; r.ends_block = 1; }
        }
    } else { /* 0x1F */
        if ((hw1 & 0xFE00) == 0xF800) {                                               /* single load / store */
            r.c = (hw1 & 0x0010) ? LOAD : STORE;
            if (r.c == LOAD && (hw2 >> 12) == 0xF && ((hw1 >> 5) & 3) == 2) r.ends_block = 1; /* LDR PC */
        } else if ((hw1 & 0xFF80) == 0xFB00) r.c = MUL;                              /* MUL, MLA, SMLAD, ... */
        else if ((hw1 & 0xFF80) == 0xFB80) {
            int divide = ((hw1 & 0xFFF0) == 0xFB90 || (hw1 & 0xFFF0) == 0xFBB0) && (hw2 & 0x00F0) == 0x00F0;
            r.c = divide ? DIV : MUL;                                                 /* SDIV/UDIV; long multiplies */
        }
    }
    if (r.c == LOAD && prev_load) r.c = LOAD_PIPE;
    return r;
}

#ifdef M4_CLASSIFY_MAIN
int main(void)
{
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, stdin), i = 0;
    int prev_load = 0;
    while (i + 2 <= n) {
        uint16_t hw1 = (uint16_t)(buf[i] | buf[i + 1] << 8), hw2 = 0;
        int wide = (hw1 >> 11) >= 0x1D;
        if (wide && i + 4 <= n) hw2 = (uint16_t)(buf[i + 2] | buf[i + 3] << 8);
        insn_class c = classify(hw1, hw2, prev_load);
        printf("%s %d %d\n", CLASS_NAMES[c.c], c.regs, c.ends_block);
        prev_load = c.c == LOAD || c.c == LOAD_PIPE;
        i += wide ? 4 : 2;
    }
    return 0;
}
#else

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);

/* The few declarations of QEMU's plugin API (version 1, QEMU 7.2) used here: no distribution
 * ships qemu-plugin.h. */
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, void *), void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define MAX_REGIONS 4096
typedef struct {
    uint64_t start, end;
    char name[96];
    uint64_t counts[N_CLASSES + 1]; /* + registers moved by multi-register transfers */
    uint64_t taken;
} region;

typedef struct {
    uint64_t start, fallthrough; /* where the block starts; the address after its last instruction */
    int ends_block;              /* its last instruction may branch */
    region *where;
    uint64_t counts[N_CLASSES + 1];
} block;

static region regions[MAX_REGIONS + 1]; /* the last one: everything outside the given ranges */
static int n_regions;
static uint64_t totals[N_CLASSES + 1], taken;
static const block *previous; /* the block executed last (one vCPU) */
static char out_path[4096];

static region *region_of(uint64_t addr)
{
    int lo = 0, hi = n_regions - 1; /* sorted by start, not overlapping */
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (addr < regions[mid].start) hi = mid - 1;
        else if (addr >= regions[mid].end) lo = mid + 1;
        else return &regions[mid];
    }
    return &regions[MAX_REGIONS];
}

static void on_exec(unsigned int vcpu, void *data)
{
    (void)vcpu;
    const block *b = data;
    if (previous && previous->ends_block && b->start != previous->fallthrough) {
        taken++;
        previous->where->taken++;
    }
    for (int k = 0; k <= N_CLASSES; k++) {
        totals[k] += b->counts[k];
        b->where->counts[k] += b->counts[k];
    }
    previous = b;
}

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    block *r = calloc(1, sizeof *r); /* lives as long as QEMU: blocks are retranslated rarely */
    if (!r || n == 0) return;
    r->start = qemu_plugin_tb_vaddr(tb);
    r->where = region_of(r->start);
    int prev_load = 0;
    for (size_t i = 0; i < n; i++) {
        const struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *d = qemu_plugin_insn_data(insn);
        size_t size = qemu_plugin_insn_size(insn);
        uint16_t hw1 = (uint16_t)(d[0] | d[1] << 8);
        uint16_t hw2 = size >= 4 ? (uint16_t)(d[2] | d[3] << 8) : 0;
        insn_class c = classify(hw1, hw2, prev_load);
        r->counts[c.c]++;
        r->counts[N_CLASSES] += (uint64_t)c.regs;
        prev_load = c.c == LOAD || c.c == LOAD_PIPE;
        if (i == n - 1) {
            r->ends_block = c.ends_block;
            r->fallthrough = qemu_plugin_insn_vaddr(insn) + size;
        }
    }
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, r);
}

static void on_exit_cb(qemu_plugin_id_t id, void *user)
{
    (void)id;
    (void)user;
    FILE *f = fopen(out_path, "w");
    if (!f) return;
    for (int k = 0; k < N_CLASSES; k++) fprintf(f, "class %s %llu\n", CLASS_NAMES[k], (unsigned long long)totals[k]);
    fprintf(f, "registers %llu\ntaken %llu\n", (unsigned long long)totals[N_CLASSES], (unsigned long long)taken);
    for (int i = 0; i <= MAX_REGIONS; i++) {
        region *g = &regions[i];
        if (i >= n_regions && i != MAX_REGIONS) continue;
        uint64_t insns = 0;
        for (int k = 0; k < N_CLASSES; k++) insns += g->counts[k];
        if (!insns) continue;
        fprintf(f, "region %s", i == MAX_REGIONS ? "(other)" : g->name);
        for (int k = 0; k <= N_CLASSES; k++) fprintf(f, " %llu", (unsigned long long)g->counts[k]);
        fprintf(f, " %llu\n", (unsigned long long)g->taken);
    }
    fclose(f);
}

static int by_start(const void *a, const void *b)
{
    const region *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void load_regions(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    unsigned long long s, e;
    char name[96];
    while (n_regions < MAX_REGIONS && fscanf(f, "%llx %llx %95s", &s, &e, name) == 3) {
        regions[n_regions].start = s;
        regions[n_regions].end = e;
        snprintf(regions[n_regions].name, sizeof regions[n_regions].name, "%s", name);
        n_regions++;
    }
    fclose(f);
    qsort(regions, (size_t)n_regions, sizeof regions[0], by_start);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
        else if (strncmp(argv[i], "regions=", 8) == 0) load_regions(argv[i] + 8);
    }
    if (!out_path[0]) return -1; /* out=PATH is required */
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
#endif

/* QEMU TCG plugin: counts the guest instructions executed from reset to exit and writes the
 * number to the file given as out=PATH. An independent check of the in-guest -icount counters
 * (tests/test_boards.py). Built with the host gcc: no distribution ships qemu-plugin.h, so the
 * few declarations of QEMU's plugin API (version 1, QEMU 7.2) it uses are written out here.
 *   gcc -shared -fPIC -O2 -o libinsn_count.so insn_count_plugin.c
 *   qemu-system-arm ... -plugin ./libinsn_count.so,out=count.txt */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, void *), void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t executed; /* one vCPU: an inline add needs no lock */
static char out_path[4096];

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    /* Per instruction, not per block: a block left early (a fault, semihosting exit) still counts exactly. */
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++)
        qemu_plugin_register_vcpu_insn_exec_inline(qemu_plugin_tb_get_insn(tb, i), QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &executed, 1);
}

static void on_exit(qemu_plugin_id_t id, void *user)
{
    (void)id;
    (void)user;
    FILE *f = fopen(out_path, "w");
    if (f) {
        fprintf(f, "%llu\n", (unsigned long long)executed);
        fclose(f);
    }
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    if (!out_path[0]) return -1; /* out=PATH is required */
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}

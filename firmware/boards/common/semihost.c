#include "semihost.h"

#define SYS_OPEN 0x01
#define SYS_READ 0x06
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT 0x18
#define SYS_EXIT_EXTENDED 0x20
#define ADP_Stopped_ApplicationExit 0x20026

static int32_t sh_call(int32_t op, void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int32_t sh_open(const char *path, int mode)
{
    size_t len = 0;
    while (path[len]) len++;
    uint32_t args[3] = {(uint32_t)path, (uint32_t)mode, (uint32_t)len};
    return sh_call(SYS_OPEN, args);
}

size_t sh_read(int32_t handle, void *buf, size_t n)
{
    uint32_t args[3] = {(uint32_t)handle, (uint32_t)buf, (uint32_t)n};
    int32_t not_read = sh_call(SYS_READ, args);  /* bytes NOT read */
    if (not_read < 0 || (size_t)not_read > n) return 0;
    return n - (size_t)not_read;
}

int sh_get_cmdline(char *buf, size_t size)
{
    uint32_t args[2] = {(uint32_t)buf, (uint32_t)size};
    return sh_call(SYS_GET_CMDLINE, args) == 0 ? 0 : -1;
}

void sh_exit(int code)
{
    /* SYS_EXIT_EXTENDED carries the full exit code; plain SYS_EXIT only 0/1. */
    uint32_t args[2] = {ADP_Stopped_ApplicationExit, (uint32_t)code};
    sh_call(SYS_EXIT_EXTENDED, args);
    for (;;) {
    }
}

/* Arm semihosting (BKPT 0xAB on M-profile): QEMU serves these with
 * -semihosting-config enable=on,target=native. Emulated boards only: on real
 * hardware without a debugger BKPT faults. */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

int32_t sh_open(const char *path, int mode); /* mode 1 = "rb"; handle or -1 */
/* Reads up to n bytes; returns the number read. */
size_t sh_read(int32_t handle, void *buf, size_t n);
/* Command line given by -semihosting-config ...,arg=A,arg=B: "A B"; 0 on success. */
int sh_get_cmdline(char *buf, size_t size);
void sh_exit(int code) __attribute__((noreturn));

#endif

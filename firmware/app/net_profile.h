/* Force-included into the network's sources in profiling builds (APP_PROFILE): counts the
 * instructions of each op through the board's counter (main.c). */
#ifndef NET_PROFILE_HOOK_H
#define NET_PROFILE_HOOK_H
void board_profile_op(int i);
#define NET_PROFILE(i) board_profile_op(i)
#endif

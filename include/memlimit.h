/* The memory imqd may use: its cgroup's limit, or the machine's memory. */
#ifndef IMQD_MEMLIMIT_H
#define IMQD_MEMLIMIT_H

#include <stdint.h>

/*
 * Bytes of memory this process may use: the lowest memory limit of its
 * cgroup and the cgroups above it (v2 memory.max, or v1
 * memory.limit_in_bytes), or the machine's physical memory when that is
 * lower or there is no limit.
 */
uint64_t memlimit_bytes(void);

#endif

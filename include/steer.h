/* Steering of copies into the TX queues of multiqueue imqN devices (a BPF program and its map). */
#ifndef IMQD_STEER_H
#define IMQD_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_insn;

#define STEER_MAX_INSNS 16      /* instructions of the program */
#define STEER_MAX_ENTRIES 65536 /* sockets the map names, at most */

/*
 * Load the program and create its map, once per process: it needs CAP_BPF
 * (or CAP_SYS_ADMIN), so imqd does it before it drops privileges. 0, or -1
 * with errno (EPERM: not allowed; a kernel without BPF: ENOSYS).
 */
int steer_init(void);

/* Whether steer_init succeeded. */
bool steer_ready(void);

/* Copies sent by the socket of cookie COOKIE go to TX queue QUEUE; 0 or -1 with errno. */
int steer_set(uint64_t cookie, uint32_t queue);

/* Forget the socket of cookie COOKIE (its copies then go to queue 0). */
void steer_clear(uint64_t cookie);

/* Steer the copies sent into the multiqueue TUN device of TUNFD (TUNSETSTEERINGEBPF); 0 or -1. */
int steer_attach(int tunfd);

/* Release the program and the map (devices that use the program keep it). */
void steer_close(void);

/*
 * The program for the map of fd MAPFD into INSN (room for STEER_MAX_INSNS):
 * the TX queue the map names for the cookie of the copy's socket, or 0.
 * Returns the number of instructions.
 */
size_t steer_build(struct bpf_insn *insn, int mapfd);

#endif

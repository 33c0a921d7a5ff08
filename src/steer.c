/*
 * Steering for multiqueue imqN devices. The TUN driver asks a socket filter
 * program attached with TUNSETSTEERINGEBPF which TX queue each packet goes
 * to (the result modulo the number of queues); without one it spreads
 * packets by flow hash. imqd's copies must go to the TX queue whose fd the
 * shard that sent them reads back, so the program takes the cookie of the
 * packet socket that sent the copy (skb->sk, found by
 * bpf_get_socket_cookie) and looks up the queue in a hash map that imqd
 * keeps: one program and one map serve every device. Loading them needs
 * CAP_BPF; changing the map later needs only its fd (since Linux 6.5, with
 * unprivileged BPF off, as Debian has it), so a reload that adds shards
 * or multiqueue devices still works after imqd dropped its privileges.
 */
#include "steer.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/if_tun.h>

static int steer_map = -1;
static int steer_prog = -1;

static int
steer_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static struct bpf_insn
steer_insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){
	    .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

size_t
steer_build(struct bpf_insn *insn, int mapfd)
{
	size_t n = 0;

	/* r0 = bpf_get_socket_cookie(skb): the packet socket that sent the copy. */
	insn[n++] = steer_insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie);
	/* The key, on the stack at fp - 8. */
	insn[n++] = steer_insn(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_0, -8, 0);
	insn[n++] = steer_insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0);
	insn[n++] = steer_insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8);
	/* r1 = the map (a two-instruction load), r0 = bpf_map_lookup_elem(r1, r2). */
	insn[n++] = steer_insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, mapfd);
	insn[n++] = steer_insn(0, 0, 0, 0, 0);
	insn[n++] = steer_insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
	/* Found: its queue; not (a packet imqd did not send): queue 0. */
	insn[n++] = steer_insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0);
	insn[n++] = steer_insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_0, 0, 0);
	insn[n++] = steer_insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	insn[n++] = steer_insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	insn[n++] = steer_insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

int
steer_init(void)
{
	struct bpf_insn insn[STEER_MAX_INSNS];
	union bpf_attr a;

	if (steer_prog >= 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_HASH;
	a.key_size = sizeof(uint64_t);
	a.value_size = sizeof(uint32_t);
	a.max_entries = STEER_MAX_ENTRIES;
	a.map_flags = BPF_F_NO_PREALLOC; /* memory for the sockets there are, not the most */
	steer_map = steer_bpf(BPF_MAP_CREATE, &a);
	if (steer_map < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uint64_t)(uintptr_t)insn;
	a.insn_cnt = (uint32_t)steer_build(insn, steer_map);
	a.license = (uint64_t)(uintptr_t) "GPL";
	steer_prog = steer_bpf(BPF_PROG_LOAD, &a);
	if (steer_prog < 0) {
		int saved = errno;
		steer_close();
		errno = saved;
		return -1;
	}
	return 0;
}

bool
steer_ready(void)
{
	return steer_prog >= 0;
}

int
steer_set(uint64_t cookie, uint32_t queue)
{
	union bpf_attr a;

	if (steer_map < 0 || cookie == 0) {
		errno = EINVAL;
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)steer_map;
	a.key = (uint64_t)(uintptr_t)&cookie;
	a.value = (uint64_t)(uintptr_t)&queue;
	a.flags = BPF_ANY;
	return steer_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0 ? -1 : 0;
}

void
steer_clear(uint64_t cookie)
{
	union bpf_attr a;

	if (steer_map < 0)
		return;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)steer_map;
	a.key = (uint64_t)(uintptr_t)&cookie;
	(void)steer_bpf(BPF_MAP_DELETE_ELEM, &a);
}

int
steer_attach(int tunfd)
{
	if (steer_prog < 0) {
		errno = EINVAL;
		return -1;
	}
	return ioctl(tunfd, TUNSETSTEERINGEBPF, &steer_prog);
}

void
steer_close(void)
{
	if (steer_prog >= 0)
		close(steer_prog);
	if (steer_map >= 0)
		close(steer_map);
	steer_prog = steer_map = -1;
}

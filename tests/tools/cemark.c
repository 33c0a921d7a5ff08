/*
 * cemark: an ECN-marking stand-in for imqd's end-to-end tests.
 *
 *   cemark PIN_PATH [MASK [OFFSET]]
 *
 * Loads a tc classifier program (direct action) that sets Congestion
 * Experienced on IPv4 and IPv6 packets carrying ECT(0), as an AQM qdisc
 * (fq_codel, cake, red ecn) does when it would otherwise drop them, and pins
 * it at PIN_PATH on a bpf file system. With MASK, a packet is marked only when
 * a random number AND MASK is 0 (MASK 0, the default, marks every one).
 * ECT(1) and Not-ECT packets pass unchanged. OFFSET is where the IP header
 * starts: 0 (the default) on imqN and other layer 3 devices, 14 on Ethernet.
 * Attach it with
 *
 *   tc qdisc add dev imq0 clsact
 *   tc filter add dev imq0 egress bpf direct-action object-pinned PIN_PATH
 *
 * so it runs on each copy before imq0's root qdisc. This kernel has no
 * marking qdisc; the program stands in for one.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROG_MAX 64

struct prog {
	struct bpf_insn insn[PROG_MAX];
	int n;
	int out_jumps[8]; /* jumps to the exit, patched at the end */
	int nout;
	int v6_jump;
	int32_t off; /* of the IP header */
};

static void
emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	if (p->n >= PROG_MAX) {
		fprintf(stderr, "cemark: program too long\n");
		exit(1);
	}
	p->insn[p->n++] =
	    (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

#define MOV_REG(p, d, s) emit(p, BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(p, d, v) emit(p, BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)
#define ALU_IMM(p, op, d, v) emit(p, BPF_ALU64 | (op) | BPF_K, d, 0, 0, v)
#define LDX(p, sz, d, s, o) emit(p, BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(p, sz, d, s, o) emit(p, BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define CALL(p, fn) emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, fn)

/* A conditional jump to the exit. */
static void
jump_out(struct prog *p, uint8_t op, uint8_t reg, int32_t imm)
{
	p->out_jumps[p->nout++] = p->n;
	emit(p, BPF_JMP | op | BPF_K, reg, 0, 0, imm);
}

/* Leave unless a random number AND MASK is 0. */
static void
emit_chance(struct prog *p, int32_t mask)
{
	if (mask == 0)
		return;
	CALL(p, BPF_FUNC_get_prandom_u32);
	ALU_IMM(p, BPF_AND, BPF_REG_0, mask);
	jump_out(p, BPF_JNE, BPF_REG_0, 0);
}

/* Write byte 1 of the packet from the stack (fp - 7). */
static void
emit_store_byte1(struct prog *p)
{
	MOV_REG(p, BPF_REG_1, BPF_REG_6);
	MOV_IMM(p, BPF_REG_2, p->off + 1);
	MOV_REG(p, BPF_REG_3, BPF_REG_10);
	ALU_IMM(p, BPF_ADD, BPF_REG_3, -7);
	MOV_IMM(p, BPF_REG_4, 1);
	MOV_IMM(p, BPF_REG_5, 0);
	CALL(p, BPF_FUNC_skb_store_bytes);
}

static void
build(struct prog *p, int32_t mask)
{
	MOV_REG(p, BPF_REG_6, BPF_REG_1);
	/* The first two bytes of the IP header to fp - 8. */
	MOV_REG(p, BPF_REG_1, BPF_REG_6);
	MOV_IMM(p, BPF_REG_2, p->off);
	MOV_REG(p, BPF_REG_3, BPF_REG_10);
	ALU_IMM(p, BPF_ADD, BPF_REG_3, -8);
	MOV_IMM(p, BPF_REG_4, 2);
	CALL(p, BPF_FUNC_skb_load_bytes);
	jump_out(p, BPF_JNE, BPF_REG_0, 0);
	LDX(p, BPF_B, BPF_REG_7, BPF_REG_10, -8);
	LDX(p, BPF_B, BPF_REG_8, BPF_REG_10, -7);
	ALU_IMM(p, BPF_RSH, BPF_REG_7, 4);
	p->v6_jump = p->n;
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_7, 0, 0, 6);
	jump_out(p, BPF_JNE, BPF_REG_7, 4);

	/* IPv4: the ECN field is the low two bits of byte 1; the checksum follows. */
	MOV_REG(p, BPF_REG_9, BPF_REG_8);
	ALU_IMM(p, BPF_AND, BPF_REG_9, 3);
	jump_out(p, BPF_JNE, BPF_REG_9, 2);
	emit_chance(p, mask);
	LDX(p, BPF_H, BPF_REG_9, BPF_REG_10, -8); /* old first word */
	ALU_IMM(p, BPF_OR, BPF_REG_8, 3);
	STX(p, BPF_B, BPF_REG_10, BPF_REG_8, -7);
	LDX(p, BPF_H, BPF_REG_4, BPF_REG_10, -8); /* new first word */
	MOV_REG(p, BPF_REG_1, BPF_REG_6);
	MOV_IMM(p, BPF_REG_2, p->off + 10);
	MOV_REG(p, BPF_REG_3, BPF_REG_9);
	MOV_IMM(p, BPF_REG_5, 2);
	CALL(p, BPF_FUNC_l3_csum_replace);
	emit_store_byte1(p);
	p->out_jumps[p->nout++] = p->n;
	emit(p, BPF_JMP | BPF_JA, 0, 0, 0, 0);

	/* IPv6: the ECN field is bits 4-5 of byte 1; no header checksum. */
	p->insn[p->v6_jump].off = (int16_t)(p->n - p->v6_jump - 1);
	MOV_REG(p, BPF_REG_9, BPF_REG_8);
	ALU_IMM(p, BPF_RSH, BPF_REG_9, 4);
	ALU_IMM(p, BPF_AND, BPF_REG_9, 3);
	jump_out(p, BPF_JNE, BPF_REG_9, 2);
	emit_chance(p, mask);
	ALU_IMM(p, BPF_OR, BPF_REG_8, 0x30);
	STX(p, BPF_B, BPF_REG_10, BPF_REG_8, -7);
	emit_store_byte1(p);

	/* Out: TC_ACT_OK, the packet goes on to the qdisc. */
	for (int i = 0; i < p->nout; i++)
		p->insn[p->out_jumps[i]].off = (int16_t)(p->n - p->out_jumps[i] - 1);
	MOV_IMM(p, BPF_REG_0, 0);
	emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

int
main(int argc, char **argv)
{
	static char vlog[65536];
	struct prog p;
	union bpf_attr a;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: cemark PIN_PATH [MASK [OFFSET]]\n");
		return 2;
	}
	memset(&p, 0, sizeof(p));
	p.off = argc == 4 ? (int32_t)strtol(argv[3], NULL, 0) : 0;
	build(&p, argc >= 3 ? (int32_t)strtol(argv[2], NULL, 0) : 0);

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	a.insns = (uint64_t)(uintptr_t)p.insn;
	a.insn_cnt = (uint32_t)p.n;
	a.license = (uint64_t)(uintptr_t) "GPL";
	a.log_buf = (uint64_t)(uintptr_t)vlog;
	a.log_size = sizeof(vlog);
	a.log_level = 1;
	int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0) {
		fprintf(stderr, "cemark: loading the program: %s\n%s\n", strerror(errno), vlog);
		return 1;
	}
	memset(&a, 0, sizeof(a));
	a.pathname = (uint64_t)(uintptr_t)argv[1];
	a.bpf_fd = (uint32_t)fd;
	if (syscall(SYS_bpf, BPF_OBJ_PIN, &a, sizeof(a)) < 0) {
		fprintf(stderr, "cemark: pinning at %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}

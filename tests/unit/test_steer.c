/*
 * Unit tests of the steering program for multiqueue imqN devices.
 *
 *   test_steer          the program's instructions
 *   test_steer kernel   as root, in a network namespace of its own: a copy
 *                       sent by one packet socket is read from the TX queue
 *                       the map names for that socket (exit 77: not root)
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>

#include "inject.h"
#include "steer.h"
#include "tundev.h"

#define NQ 3       /* TX queues, and packet sockets */
#define PER_SOCK 8 /* copies each socket sends, in as many flows */

static void
test_build(void **state)
{
	struct bpf_insn insn[STEER_MAX_INSNS + 1];
	bool lookup = false, map = false;

	(void)state;
	memset(insn, 0xff, sizeof(insn));
	size_t n = steer_build(insn, 42);
	assert_true(n > 0 && n <= STEER_MAX_INSNS);
	assert_int_equal(insn[STEER_MAX_INSNS].code, 0xff); /* nothing written past the room */
	/* First the cookie of the sending socket, last an exit. */
	assert_int_equal(insn[0].code, BPF_JMP | BPF_CALL);
	assert_int_equal(insn[0].imm, BPF_FUNC_get_socket_cookie);
	assert_int_equal(insn[n - 1].code, BPF_JMP | BPF_EXIT);
	for (size_t i = 0; i < n; i++) {
		uint8_t cls = BPF_CLASS(insn[i].code);
		if (insn[i].code == (BPF_LD | BPF_DW | BPF_IMM)) {
			/* The map, by its fd, in a two-instruction load. */
			assert_int_equal(insn[i].src_reg, BPF_PSEUDO_MAP_FD);
			assert_int_equal(insn[i].imm, 42);
			assert_true(i + 1 < n);
			map = true;
			i++;
			continue;
		}
		if (insn[i].code == (BPF_JMP | BPF_CALL) &&
		    insn[i].imm == BPF_FUNC_map_lookup_elem) {
			assert_true(map);
			lookup = true;
		}
		/* Every jump lands inside the program, forwards. */
		if (cls == BPF_JMP && BPF_OP(insn[i].code) != BPF_CALL &&
		    BPF_OP(insn[i].code) != BPF_EXIT) {
			assert_true(insn[i].off >= 0);
			assert_true(i + 1 + (size_t)insn[i].off < n);
		}
	}
	assert_true(lookup);
}

/* A UDP packet of flow (SOCK, FLOW) as imqd would send a copy, without a checksum. */
static void
steer_packet(uint8_t *p, int sock, int flow)
{
	static const uint8_t hdr[28] = {0x45, 0, 0,  28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0,
	                                0,    1, 10, 0,  0, 2, 0, 0, 0,  9,  0, 8, 0,  0};

	memcpy(p, hdr, sizeof(hdr));
	p[4] = (uint8_t)sock; /* the IP ID tells the reader who sent it */
	p[21] = (uint8_t)(sock * PER_SOCK + flow);
}

/* Send one copy of each of PER_SOCK flows through INJ, as socket SOCK. */
static void
steer_send(struct inject *inj, int sock)
{
	uint8_t buf[PER_SOCK][28];
	struct inject_pkt pk[PER_SOCK];

	for (int f = 0; f < PER_SOCK; f++) {
		steer_packet(buf[f], sock, f);
		pk[f] = (struct inject_pkt){.data = buf[f], .caplen = 28, .proto = ETH_P_IP};
	}
	inject_send(inj, pk, PER_SOCK);
	for (int f = 0; f < PER_SOCK; f++)
		assert_int_equal(pk[f].err, 0);
}

/* Copies waiting on FD, by the socket that sent them (IPv4 only: the kernel's own are not). */
static void
steer_read(int fd, int *from)
{
	uint8_t buf[TUNDEV_VNET_HDR + 2048];
	ssize_t r;

	memset(from, 0, NQ * sizeof(*from));
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		const uint8_t *ip = buf + TUNDEV_VNET_HDR;
		if (r >= TUNDEV_VNET_HDR + 28 && ip[0] == 0x45 && ip[4] < NQ)
			from[ip[4]]++;
	}
}

static void
test_kernel(void **state)
{
	int fd[NQ], from[NQ];
	struct inject *inj[NQ];
	uint64_t cookie[NQ];
	bool created;

	(void)state;
	assert_int_equal(steer_init(), 0);
	assert_true(steer_ready());
	for (int q = 0; q < NQ; q++) {
		fd[q] = tundev_open("steer0", false, true, &created);
		assert_true(fd[q] >= 0);
		assert_int_equal(created, q == 0);
	}
	assert_int_equal(tundev_setup("steer0", 1500, 100), 0);
	int ifindex = (int)if_nametoindex("steer0");
	assert_true(ifindex > 0);
	assert_int_equal(steer_attach(fd[0]), 0);
	for (int s = 0; s < NQ; s++) {
		inj[s] = inject_open(ifindex, 1 << 20, PER_SOCK);
		assert_non_null(inj[s]);
		cookie[s] = inject_cookie(inj[s]);
		assert_true(cookie[s] != 0);
		/* Backwards, so that a queue chosen any other way cannot pass by chance. */
		assert_int_equal(steer_set(cookie[s], (uint32_t)(NQ - 1 - s)), 0);
	}
	for (int s = 0; s < NQ; s++)
		steer_send(inj[s], s);
	for (int q = 0; q < NQ; q++) {
		steer_read(fd[q], from);
		for (int s = 0; s < NQ; s++)
			assert_int_equal(from[s], q == NQ - 1 - s ? PER_SOCK : 0);
	}
	/* A socket the map does not name: queue 0. */
	steer_clear(cookie[2]);
	steer_send(inj[2], 2);
	steer_read(fd[0], from);
	assert_int_equal(from[2], PER_SOCK);
	/* A value past the last queue wraps around (the driver takes it modulo the queues). */
	assert_int_equal(steer_set(cookie[1], NQ + 1), 0);
	steer_send(inj[1], 1);
	steer_read(fd[1], from);
	assert_int_equal(from[1], PER_SOCK);
	for (int s = 0; s < NQ; s++)
		inject_close(inj[s]);
	for (int q = 0; q < NQ; q++)
		close(fd[q]);
	steer_close();
	assert_false(steer_ready());
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest build[] = {cmocka_unit_test(test_build)};
	const struct CMUnitTest kernel[] = {cmocka_unit_test(test_kernel)};

	if (argc < 2)
		return cmocka_run_group_tests(build, NULL, NULL);
	if (strcmp(argv[1], "kernel") != 0)
		return 2;
	if (geteuid() != 0) {
		fprintf(stderr,
		        "test_steer kernel: needs root (a network namespace, a TUN device)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_steer kernel: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(kernel, NULL, NULL);
}

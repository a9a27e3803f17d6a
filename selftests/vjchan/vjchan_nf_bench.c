// SPDX-License-Identifier: GPL-2.0
/*
 * What the netfilter ingress policy costs a channel, per frame.
 *
 * In a network namespace of its own, frames go from vja through veth to a
 * channel on vjb (veth runs the receive path in the sender's context, so the
 * sender's time per frame includes the channel's work).  Rounds of the same
 * traffic alternate between configurations, side by side in one run:
 *
 *   none     no ingress hooks on vjb (a static key and a pointer test);
 *   nomatch  an nftables netdev ingress chain on vjb whose one rule does
 *            not match the channel's frames (a copy and the hook per frame);
 *   accept   the same chain with a rule that matches and counts them.
 *
 * It prints each configuration's median ns per frame and its ratio to
 * "none".  The numbers are relative: under QEMU without KVM only the ratios
 * mean anything.  Not a test: it fails only when it cannot run.
 *
 *   vjchan_nf_bench [frames per round] [rounds]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "vjchan_lib.h"

#define PORT		9001
#define FRAME_LEN	(ETH_HLEN + 20 + 8 + 64)
#define BATCH		128
#define MAX_ROUNDS	64
#define NCONF		3

static const char * const conf_name[NCONF] = { "none", "nomatch", "accept" };

static void die(const char *what)
{
	fprintf(stderr, "vjchan_nf_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Switches vjb's ingress policy to configuration @c. */
static void configure(int c)
{
	run("nft delete table netdev vjt 2>/dev/null");
	if (c == 0)
		return;
	if (run("nft add table netdev vjt") ||
	    run("nft add chain netdev vjt in '{ type filter hook ingress device vjb priority 0;}'"))
		die("nft chain");
	if (run("nft add rule netdev vjt in udp dport %s",
		c == 1 ? "1 drop" : "9001 counter accept"))
		die("nft rule");
}

int main(int argc, char **argv)
{
	long frames = argc > 1 ? atol(argv[1]) : 4096;
	int rounds = argc > 2 ? atoi(argv[2]) : 8;
	struct sockaddr_vj sa = { .svj_family = AF_VJCHAN };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct vj_filter f = {
		.type = VJ_FILTER_IPV4,
		.flags = VJ_FILTER_F_DST_PORT,
		.l4_proto = IPPROTO_UDP,
		.dst_port = htons(PORT),
	};
	__u64 ns[NCONF][MAX_ROUNDS], med[NCONF];
	struct vj_ring_offsets off;
	__u8 frame[FRAME_LEN] = { 0 };
	socklen_t len = sizeof(off);
	__u32 *prod, *cons, next;
	struct ifreq ifr;
	int fd, pkt, r, c;
	__u8 *map;

	if (frames < BATCH || frames % BATCH || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: vjchan_nf_bench [frames: n * %d] [rounds <= %d]\n",
			BATCH, MAX_ROUNDS);
		return 2;
	}
	if (unshare(CLONE_NEWNET))
		die("unshare");
	if (run("nft --version >/dev/null 2>&1")) {
		fprintf(stderr, "vjchan_nf_bench: nft not found\n");
		return 4;
	}
	if (run("ip link add vja type veth peer name vjb") ||
	    run("ip link set vja up && ip link set vjb up"))
		die("veth");

	fd = socket(PF_VJCHAN, SOCK_RAW, 0);
	if (fd < 0)
		die("PF_VJCHAN socket");
	sa.svj_ifindex = if_nametoindex("vjb");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind");
	if (setsockopt(fd, SOL_VJCHAN, VJ_ADD_FILTER, &f, sizeof(f)))
		die("VJ_ADD_FILTER");
	if (getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, &off, &len))
		die("VJ_RING_OFFSETS");
	map = mmap(NULL, off.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	prod = (__u32 *)(map + off.producer);
	cons = (__u32 *)(map + off.consumer);
	next = *cons;

	pkt = socket(AF_PACKET, SOCK_RAW, 0);
	if (pkt < 0)
		die("AF_PACKET");
	sll.sll_ifindex = if_nametoindex("vja");
	if (bind(pkt, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind AF_PACKET");
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "vjb", 4);
	if (ioctl(pkt, SIOCGIFHWADDR, &ifr))
		die("SIOCGIFHWADDR");
	/* Ethernet to vjb, IPv4 10.79.0.1 -> 10.79.0.2, UDP to PORT. */
	memcpy(frame, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	frame[6] = 0x02;
	frame[12] = 0x08;
	frame[14] = 0x45;
	frame[17] = FRAME_LEN - ETH_HLEN;
	frame[22] = 64;
	frame[23] = IPPROTO_UDP;
	inet_pton(AF_INET, "10.79.0.1", frame + 26);
	inet_pton(AF_INET, "10.79.0.2", frame + 30);
	frame[36] = PORT >> 8;
	frame[37] = PORT & 0xff;
	frame[39] = FRAME_LEN - ETH_HLEN - 20;

	printf("# vjchan_nf_bench: %ld frames of %d bytes per round, %d rounds\n",
	       frames, FRAME_LEN, rounds);
	for (r = 0; r < rounds; r++) {
		for (c = 0; c < NCONF; c++) {
			/* Alternate the order, so that drift hits all alike. */
			int k = r % 2 ? NCONF - 1 - c : c;
			__u64 t0, got = 0;
			long i, j;

			configure(k);
			t0 = now_ns();
			for (i = 0; i < frames; i += BATCH) {
				for (j = 0; j < BATCH; j++)
					if (send(pkt, frame, FRAME_LEN, 0) != FRAME_LEN)
						die("send");
				/* veth delivers in the sender's context: all are in. */
				got += __atomic_load_n(prod, __ATOMIC_ACQUIRE) - next;
				next = __atomic_load_n(prod, __ATOMIC_ACQUIRE);
				__atomic_store_n(cons, next, __ATOMIC_RELEASE);
			}
			ns[k][r] = (now_ns() - t0) / frames;
			if (got != (__u64)frames) {
				fprintf(stderr, "vjchan_nf_bench: %s: %llu of %ld frames\n",
					conf_name[k], (unsigned long long)got, frames);
				return 1;
			}
		}
	}
	for (c = 0; c < NCONF; c++) {
		qsort(ns[c], rounds, sizeof(ns[c][0]), cmp_u64);
		med[c] = ns[c][rounds / 2];
	}
	for (c = 0; c < NCONF; c++)
		printf("nf-ingress %-8s %8llu ns/frame (median)  ratio to none %.2f\n",
		       conf_name[c], (unsigned long long)med[c],
		       (double)med[c] / (double)(med[0] ? med[0] : 1));
	configure(0);
	return 0;
}

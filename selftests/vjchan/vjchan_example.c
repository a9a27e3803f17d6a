// SPDX-License-Identifier: GPL-2.0
/*
 * vjchan_example: a minimal PF_VJCHAN receiver.
 *
 *	vjchan_example IFNAME QUEUE ETHERTYPE_HEX COUNT
 *
 * Opens a channel on receive queue QUEUE of IFNAME, asks for every frame of
 * EtherType ETHERTYPE_HEX (e.g. 88b5), and prints COUNT frames read straight
 * from the ring, one line each: "frame <n> len <len>" and the first 16 bytes
 * in hex.  Then prints the channel's statistics and exits 0.  Exits 1 on any
 * error, and when no frame arrives for 5 seconds.
 *
 * Frames of other EtherTypes arriving on that queue still go to the normal
 * network stack.  Binding needs CAP_NET_ADMIN.
 *
 * See Documentation/networking/vjchan.rst.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/vjchan.h>

#define WAIT_TIMEOUT_MS	5000

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static unsigned long parse_ulong(const char *s, int base, unsigned long max,
				 const char *what)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || end == s || *end || v > max) {
		fprintf(stderr, "bad %s: %s\n", what, s);
		exit(1);
	}
	return v;
}

/* The parts of the mapped ring, found through VJ_RING_OFFSETS. */
struct ring {
	unsigned char *map;	/* start of the mapping */
	size_t size;		/* its length */
	uint32_t *producer;	/* written by the kernel */
	uint32_t *consumer;	/* written by us */
	uint32_t *flags;	/* written by us: VJ_RING_NEED_WAKEUP */
	unsigned char *desc;	/* nr_slots descriptors, desc_size apart */
	uint32_t mask;		/* nr_slots - 1 */
	uint32_t desc_size;
};

static void map_ring(int fd, struct ring *r)
{
	struct vj_ring_offsets off;
	socklen_t len = sizeof(off);

	/* Never hard-code the layout: ask the kernel where everything is. */
	if (getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, &off, &len))
		die("getsockopt(VJ_RING_OFFSETS)");
	if (off.nr_slots == 0 || (off.nr_slots & (off.nr_slots - 1)) ||
	    off.desc_size < sizeof(struct vj_desc) || off.mmap_size > SIZE_MAX) {
		fprintf(stderr, "unexpected ring geometry\n");
		exit(1);
	}

	/* The whole ring, shared with the kernel, read-write, never PROT_EXEC. */
	r->size = off.mmap_size;
	r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      VJ_MMAP_OFFSET_RX_RING);
	if (r->map == MAP_FAILED)
		die("mmap");

	r->producer = (void *)(r->map + off.producer);
	r->consumer = (void *)(r->map + off.consumer);
	r->flags = (void *)(r->map + off.flags);
	r->desc = r->map + off.desc;
	/*
	 * Slots index the descriptors; the ring holds at most off.nr_bufs
	 * frames (its buffers, no more than slots): the kernel drops frames
	 * (rx_ring_full) while that many are not released.
	 */
	r->mask = off.nr_slots - 1;
	r->desc_size = off.desc_size;
}

/*
 * Sleep until the producer index moves past @cons.  Called only when the
 * ring looked empty and after the consumer index was stored, so that poll()
 * (which compares the producer with the consumer index) does not see our
 * already-consumed frames as ready.
 */
static void wait_for_frames(int fd, struct ring *r, uint32_t cons)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n;

	/*
	 * Ask for a wakeup.  The kernel wakes the socket's waiters after it
	 * publishes frames only while this bit is set.  We are the only
	 * writer of the flags word.
	 */
	__atomic_store_n(r->flags, __atomic_load_n(r->flags, __ATOMIC_RELAXED) |
			 VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
	/*
	 * (E) Full fence: the flag store above is ordered before the
	 * producer load below.  Pairs with the kernel's full fence (F)
	 * between its producer store and its flag load.  Release/acquire is
	 * not enough: both loads could then see old values, we would sleep
	 * and the kernel would not wake us.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	/* Re-check: a frame published before the kernel saw the flag. */
	if (__atomic_load_n(r->producer, __ATOMIC_ACQUIRE) == cons) {
		n = poll(&pfd, 1, WAIT_TIMEOUT_MS);
		if (n < 0 && errno != EINTR)
			die("poll");
		if (n == 0) {
			fprintf(stderr, "timeout: no frame for %d ms\n",
				WAIT_TIMEOUT_MS);
			exit(1);
		}
		if (n > 0 && (pfd.revents & POLLERR)) {
			/* The device went away: no frame will come. */
			fprintf(stderr, "channel unbound (device unregistered)\n");
			exit(1);
		}
	}

	/* Awake or not needed: stop asking, we are about to look ourselves. */
	__atomic_store_n(r->flags, __atomic_load_n(r->flags, __ATOMIC_RELAXED) &
			 ~VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
}

static void print_frame(unsigned long n, const unsigned char *frame,
			uint32_t len)
{
	uint32_t i;

	printf("frame %lu len %u", n, len);
	for (i = 0; i < len && i < 16; i++)
		printf(" %02x", frame[i]);
	printf("\n");
}

static void print_statistics(int fd)
{
	struct vj_statistics st;
	socklen_t len = sizeof(st);

	/*
	 * The structure grows at the end: an older kernel copies fewer
	 * bytes and returns the length it copied; what it did not fill
	 * stays 0 here.
	 */
	memset(&st, 0, sizeof(st));
	if (getsockopt(fd, SOL_VJCHAN, VJ_STATISTICS, &st, &len))
		die("getsockopt(VJ_STATISTICS)");

	printf("rx_packets %llu\n", (unsigned long long)st.rx_packets);
	printf("rx_bytes %llu\n", (unsigned long long)st.rx_bytes);
	printf("rx_stack %llu\n", (unsigned long long)st.rx_stack);
	printf("rx_copies %llu\n", (unsigned long long)st.rx_copies);
	printf("rx_ring_full %llu\n", (unsigned long long)st.rx_ring_full);
	printf("rx_invalid_consumer %llu\n",
	       (unsigned long long)st.rx_invalid_consumer);
	printf("rx_bad_length %llu\n", (unsigned long long)st.rx_bad_length);
	printf("rx_wakeups %llu\n", (unsigned long long)st.rx_wakeups);
}

int main(int argc, char **argv)
{
	struct sockaddr_vj addr;
	struct vj_filter filter;
	unsigned long count, n = 0;
	unsigned int ifindex;
	uint32_t queue, cons, prod;
	uint16_t ethertype;
	struct ring r;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: %s IFNAME QUEUE ETHERTYPE_HEX COUNT\n",
			argv[0]);
		return 1;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex)
		die(argv[1]);
	queue = (uint32_t)parse_ulong(argv[2], 10, UINT32_MAX, "queue");
	ethertype = (uint16_t)parse_ulong(argv[3], 16, 0xffff, "EtherType");
	count = parse_ulong(argv[4], 10, ULONG_MAX, "count");

	/* 1. A channel socket: always SOCK_RAW, protocol 0. */
	fd = socket(PF_VJCHAN, SOCK_RAW | SOCK_CLOEXEC, VJ_PROTO_DEFAULT);
	if (fd < 0)
		die("socket(PF_VJCHAN)");

	/*
	 * 2. Which frames belong to the channel: every frame of one
	 * EtherType.  Fields we do not use must be 0; packet fields are in
	 * network byte order.  Adding the filter before bind() means no
	 * frame of that EtherType reaches the stack once we are bound.
	 */
	memset(&filter, 0, sizeof(filter));
	filter.type = VJ_FILTER_ETHERTYPE;
	filter.ethertype = htons(ethertype);
	if (setsockopt(fd, SOL_VJCHAN, VJ_ADD_FILTER, &filter, sizeof(filter)))
		die("setsockopt(VJ_ADD_FILTER)");

	/* 3. Attach the channel to one receive queue; this creates the ring. */
	memset(&addr, 0, sizeof(addr));
	addr.svj_family = AF_VJCHAN;
	addr.svj_ifindex = ifindex;
	addr.svj_queue_id = queue;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("bind");

	/* 4. Find and map the ring. */
	map_ring(fd, &r);

	/*
	 * Only we write the consumer index, and we have not written it yet:
	 * it still holds the index the kernel started the ring at (which
	 * need not be 0).
	 */
	cons = __atomic_load_n(r.consumer, __ATOMIC_RELAXED);

	/* 5. Consume. */
	while (n < count) {
		/*
		 * (C) Acquire: pairs with the kernel's release of the
		 * producer index (B), so the descriptors and frames of every
		 * slot before prod are visible to the reads below.
		 */
		prod = __atomic_load_n(r.producer, __ATOMIC_ACQUIRE);
		if (prod == cons) {
			wait_for_frames(fd, &r, cons);
			continue;
		}

		/* Free-running indexes: the slot of index i is i & mask. */
		for (; cons != prod && n < count; cons++, n++) {
			const struct vj_desc *d = (const void *)
				(r.desc + (size_t)(cons & r.mask) * r.desc_size);
			uint64_t addr_off = d->addr;
			uint32_t len = d->len;

			/* d->addr is the frame's offset in the mapping. */
			if (addr_off > r.size || len > r.size - addr_off) {
				fprintf(stderr, "descriptor out of the ring\n");
				return 1;
			}
			print_frame(n, r.map + addr_off, len);
		}

		/*
		 * (D) Release: hands the slots and their buffers back to the
		 * kernel, after our reads of them.  Pairs with the kernel's
		 * read of the consumer index (A) before it reuses a buffer.
		 * Until this store the frames stay ours, untouched.
		 */
		__atomic_store_n(r.consumer, cons, __ATOMIC_RELEASE);
	}

	fflush(stdout);
	print_statistics(fd);

	/* The mapping would outlive close(); unmap it first. */
	munmap(r.map, r.size);
	close(fd);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, reproducible fuzzer of PF_VJCHAN system call sequences, with a
 * model of what each call must do.
 *
 *	vjchan_fuzz [--seed N] [--iterations N] [--seconds N]
 *
 * The run stops after --iterations steps or --seconds of wall time, whichever
 * comes first (defaults: no step limit, 30 s; without --seconds, the
 * environment's VJCHAN_FUZZ_SECONDS sets the time budget).  It prints the
 * budget and the seed first, as the KTAP comments "# budget: ..." and
 * "# seed: N", and the seed again on a failure, with the step and the
 * operation; "vjchan_fuzz --seed N" runs the same sequence again.
 *
 *	--verbose	print what each step does (a KTAP comment a line)
 *
 * It works in a network namespace of its own with two veth pairs: va0/vb0
 * with one queue each, va1/vb1 with two, IPv6 off and no addresses, an MTU
 * that lets a channel bind (frame_max - 18) or, switched after binds, 4000
 * (frames longer than the buffers), so that only the frames the fuzzer sends cross them.  Frames
 * are sent by AF_PACKET sockets into one end and land on a receive queue of
 * the other.  So that a seed gives the same run on every boot, the fuzzer
 * runs on CPU 0, and sends on CPU 0 or 1 (a draw of the generator), which
 * XPS maps to queue 0 or 1 of va1/vb1 (through a sysfs mounted in a mount
 * namespace of its own).  The final state of the generator is printed: two
 * runs of a seed that print the same state did the same.
 *
 * Each step is one operation on a pool of at most NR_FDS channel sockets and
 * NR_MAPS mappings of their rings:
 *
 *  socket      random type and protocol, mostly valid
 *  bind        random family, flags, reserved, ifindex, queue and addrlen,
 *              mostly valid; sometimes a bad address pointer
 *  setsockopt  well-formed filters (often already there, or absent), random
 *              filter bytes, short optlen, other levels and option names,
 *              bad pointers, a few SOL_SOCKET options; VJ_RING_SETUP
 *  getsockopt  VJ_RING_OFFSETS, VJ_STATISTICS, VJ_FEATURES with random
 *              optlen, unknown names, bad pointers, SO_DOMAIN and friends
 *  mmap        random length, offset, protection and flags, mostly valid
 *  munmap      whole mapping or a random range (holes are refilled with
 *              PROT_NONE anonymous placeholders, so that every address the
 *              fuzzer touches is its own)
 *  mprotect    a random range, random protection (with PROT_EXEC sometimes)
 *  madvise     a random range, random advice (never MADV_HWPOISON or
 *              MADV_SOFT_OFFLINE; not with CONFIG_ADVISE_SYSCALLS=n);
 *              mlock, munlock and msync
 *  mremap      grow (must fail), shrink, move
 *  ring        read the producer and the descriptors, check the kernel's
 *              invariants and the frames, release some slots
 *  hostile     write hostile consumer indexes and flags words; scribble on
 *              descriptors, buffers and the producer index
 *  send        a frame of random size, EtherType, VLAN tags, IP version,
 *              protocol, address and port into one of the four devices
 *  poll        poll() with timeout 0, or epoll_wait() with timeout 0
 *  fork        a child touches the parent's ring mappings (not inherited:
 *              VM_DONTCOPY), maps the socket itself, exits
 *  close       close a socket, mapped or not
 *  touch       read a byte of a random page of a mapping, write it back
 *  misc        send, recv, connect, listen, accept, getsockname,
 *              getpeername, shutdown, ioctl on a channel socket
 *  veth        switch a veth pair's MTU, or delete the pair (unbinding its
 *              channels) and create it
 *              again
 *
 * The oracle.  Every call must succeed or fail with an errno of the set
 * allowed for the operation (the E_* arrays below).  Where the model
 * determines the result, the exact result is asserted: the socket() type
 * and protocol checks, every bind() error (already bound or unbound by a
 * device removal: EINVAL; the queue's owner: EBUSY; no such device: ENODEV;
 * a device without channel support: EOPNOTSUPP; queue out of range,
 * addrlen, family, flags, reserved: EINVAL), the filter set (EEXIST,
 * ENOSPC, ENOENT and EINVAL by a decoder written after the documentation),
 * option lengths, mmap() before bind (EINVAL), with PROT_EXEC (EPERM),
 * MAP_PRIVATE, other lengths and offsets (EINVAL), mprotect(PROT_EXEC)
 * (EACCES), growing mremap() (fails), poll() bits, and for every frame sent
 * which channel counted it how: published (with its length and bytes, read
 * back through the ring), passed to the stack, bad length, or ring full.
 * ENOMEM, ENOBUFS, EAGAIN and EINTR are accepted in place of success or of
 * the expected errno, and printed.
 *
 * The ring, read through any mapping of the socket: the producer index is
 * where the model says; the descriptors of the last nr_slots frames point
 * headroom bytes into one of the nr_bufs buffers of the buffer area, with a
 * length of 1 to frame_max, flags 0 (frames sent with AF_PACKET: no checksum
 * offload, no flow hash) but VJ_DESC_F_TSTAMP where the socket asked for
 * time stamps, and fields without their flag 0 (unless the fuzzer scribbled
 * on them since); the frames not yet released are in distinct buffers and
 * hold the bytes sent; at most nr_bufs of them.  VJ_RING_SETUP is given
 * the default geometry in the ways that all mean it (the model has one
 * geometry), with or without VJ_RING_SETUP_F_TSTAMP, or a geometry it must
 * refuse (EINVAL); after bind, EBUSY.  The consumer index is moved legitimately, or
 * made hostile: a value the kernel must refuse (then every read of the
 * statistics must count it in rx_invalid_consumer), or any value (then the
 * model does not know what the kernel accepted, and the ring is checked
 * less until the fuzzer releases everything up to the producer).  With a
 * valid consumer index unchanged, rx_invalid_consumer must not grow.
 * Counters never go back; veth copies nothing for the stack (rx_copies
 * stays 0).  A child must not see the ring at the parent's address
 * (VM_DONTCOPY).
 *
 * A fault (SIGSEGV, SIGBUS) on a page that the fuzzer
 * made inaccessible itself (munmap, mprotect, MADV_DONTNEED and the like)
 * is expected; one on a page it did not is a failure, and so is a crash.
 *
 * The kernel's own health (oops, WARN, KASAN, lockdep) is judged from the
 * console by whoever runs this.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest.h"
#include "vjchan_lib.h"

#define NR_FDS		6	/* open channel sockets at most */
#define NR_OBJS		16	/* sockets alive (open, or closed but mapped) */
#define NR_MAPS		8
#define NR_DEVS		4	/* va0 vb0 va1 vb1 */
#define MTU		4000
#define FRAME_BUF	2200
#define HDR_COPY	128	/* what the kernel classifies */
#define CHILD_MS	10000

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED	24
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

/*
 * Allowed errno sets, 0-terminated.  ENOMEM, ENOBUFS, EAGAIN and EINTR are
 * in every set of a call that may allocate or sleep.
 */
static const int E_SOCKET[] = { ESOCKTNOSUPPORT, EPROTONOSUPPORT, EINVAL, EMFILE,
				ENFILE, ENOMEM, ENOBUFS, 0 };
static const int E_BIND[] = { EINVAL, EPERM, ENODEV, EBUSY, EOPNOTSUPP, ENOMEM,
			      ENOBUFS, EFAULT, EINTR, EMSGSIZE, 0 };
static const int E_SETSOCKOPT[] = { EINVAL, EEXIST, ENOSPC, ENOENT, ENOPROTOOPT, EBUSY,
				    EFAULT, EOPNOTSUPP, EPERM, ENOMEM, ENOBUFS, 0 };
static const int E_GETSOCKOPT[] = { EINVAL, ENOPROTOOPT, EFAULT, EOPNOTSUPP,
				    ENOTCONN, ENOMEM, 0 };
static const int E_MMAP[] = { EINVAL, EPERM, EACCES, EOPNOTSUPP, ENOMEM, EAGAIN,
			      EOVERFLOW, ENODEV, EBUSY, EFAULT, 0 };
static const int E_MUNMAP[] = { EINVAL, ENOMEM, 0 };
static const int E_MPROTECT[] = { EACCES, EINVAL, ENOMEM, 0 };
static const int E_MADVISE[] = { EINVAL, ENOMEM, EFAULT, EAGAIN, EPERM, EOPNOTSUPP,
				 EBADF, ESPIPE, EBUSY, EIO, ENODEV, EACCES, 0 };
static const int E_MLOCK[] = { ENOMEM, EAGAIN, EPERM, EINVAL, EFAULT, 0 };
static const int E_MSYNC[] = { EINVAL, ENOMEM, EBUSY, EIO, EROFS, 0 };
static const int E_MREMAP[] = { EFAULT, EINVAL, ENOMEM, EAGAIN, 0 };
static const int E_SEND_PKT[] = { ENOBUFS, EAGAIN, EINVAL, EMSGSIZE, ENETDOWN,
				  ENXIO, ENODEV, ENOMEM, 0 };
static const int E_POLL[] = { ENOMEM, EINTR, 0 };
static const int E_MISC[] = { EOPNOTSUPP, EINVAL, ENOTCONN, ENOTTY, EFAULT,
			      EAGAIN, EDESTADDRREQ, EAFNOSUPPORT, ENOTSOCK, ENOMEM, ENOENT,
			      ENODEV, 0 };

/* ------------------------------------------------------------------ */
/* The generator: xorshift64*.                                         */

static __u64 rng_state;

static __u64 rnd64(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static __u32 rnd(__u32 n)
{
	return n ? (__u32)((rnd64() >> 32) % n) : 0;
}

/* True one time in @n. */
static int one_in(__u32 n)
{
	return rnd(n) == 0;
}

/* ------------------------------------------------------------------ */
/* State and model.                                                    */

enum { ST_UNBOUND, ST_BOUND, ST_GONE };
enum { W_VALID, W_INVALID, W_UNKNOWN };

/* Page flags of a mapping. */
#define PG_RING		0x01	/* the ring's VMA is here */
#define PG_R		0x02
#define PG_W		0x04
#define PG_ZAP		0x08	/* may fault: zapped, or unsure */
#define PG_FORK		0x10	/* may be copied into a child */
#define PG_RESV		0x20	/* our PROT_NONE anonymous placeholder */

struct expframe {
	__u64 rel;		/* index - start */
	__u32 len;
	__u32 hash;
	int valid;
};

struct obj {
	int used;
	int fd;			/* -1: closed (alive through a mapping) */
	int state;		/* ST_* */
	int dev, q;		/* where bound (or was) */
	int mappable;
	struct vj_filter filt[VJ_MAX_FILTERS];
	int nfilt;
	int start_known;
	__u32 start;		/* the producer and consumer at bind */
	__u64 n;		/* frames published */
	int n_known;
	__u64 r;		/* frames released: the consumer word - start */
	int sane;		/* r is what the kernel will accept */
	int word;		/* W_*: what the consumer word holds */
	int word_changed;	/* written since the statistics were read */
	struct vj_statistics st;
	int st_valid;
	__u8 *dirty;		/* descriptor scribbled ... */
	__u64 *dirty_rel;	/* ... for indexes below this */
	__u64 cdirty_rel;	/* buffers scribbled for indexes below */
	struct expframe *exp;
	int tstamp;		/* VJ_RING_SETUP_F_TSTAMP was set */
};

struct map {
	__u8 *addr;		/* NULL: free */
	int obj;
	__u8 *pg;
};

struct dev {
	char name[8];
	int ifindex;
	int nq;
	__u8 mac[ETH_ALEN];
	int pkt;		/* AF_PACKET socket to send on it */
	int mtu;
};

static struct obj objs[NR_OBJS];
static struct map maps[NR_MAPS];
static struct dev devs[NR_DEVS];
static int owner[NR_DEVS][2];	/* queue -> obj, or -1 */
static struct vj_ring_offsets off;
static size_t ring_size, ring_pages, pgsz;
static __u32 nr_slots, nr_bufs, frame_max;
static int other_ifindex[64];	/* devices without channel support */
static int nr_other;

static __u64 seed, step, max_steps;
static double max_seconds = 30;
static const char *cur_op = "none";
static int failed;
static __u64 op_count[32], faults_expected, enomem_seen, frames_sent, published;
static __u64 children, descs_checked, frames_checked, binds, filters_added;
static __u64 outcomes[5];

static int verbose, have_madvise, nr_cpus, verbose_once;

static __printf(1, 2) void trace(const char *fmt, ...);
static void trace(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	printf("# %llu %s: ", (unsigned long long)step, cur_op);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static __printf(1, 2) void fail(const char *fmt, ...);
static void fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_print_msg("FAIL at step %llu, operation %s: %s\n",
		       (unsigned long long)step, cur_op, msg);
	ksft_print_msg("seed: %llu (reproduce: vjchan_fuzz --seed %llu)\n",
		       (unsigned long long)seed, (unsigned long long)seed);
	failed = 1;
}

static int in_set(int e, const int *set)
{
	for (; *set; set++)
		if (*set == e)
			return 1;
	return 0;
}

static int transient(int e)
{
	return e == ENOMEM || e == ENOBUFS || e == EAGAIN || e == EINTR;
}

/*
 * Check a call's result.  @want: 0 success expected, > 0 that errno
 * expected, -1 anything in @allowed.  Success counts as an error where an
 * errno is expected, and a transient errno is accepted in place of success.
 * Returns 1 if the call succeeded.
 */
static int check(const char *what, int ok, int err, int want, const int *allowed)
{
	if (ok) {
		if (want > 0)
			fail("%s succeeded, expected %s", what, strerror(want));
		return 1;
	}
	if (!in_set(err, allowed)) {
		fail("%s: errno %d (%s) not allowed", what, err, strerror(err));
		return 0;
	}
	if (want >= 0 && transient(err)) {
		enomem_seen++;
		ksft_print_msg("step %llu: %s: %s (transient)\n", (unsigned long long)step,
			       what, strerror(err));
		return 0;
	}
	if (want == 0)
		fail("%s failed with %s, expected success", what, strerror(err));
	else if (want > 0 && err != want)
		fail("%s failed with %s, expected %s", what, strerror(err), strerror(want));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Faults: touching pages the fuzzer made inaccessible.                */

static sigjmp_buf probe_jb;
static int probing;
static int probe_sig;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	char msg[160];
	int n;

	(void)uc;
	if (__atomic_load_n(&probing, __ATOMIC_SEQ_CST)) {
		probe_sig = sig;
		__atomic_store_n(&probing, 0, __ATOMIC_SEQ_CST);
		siglongjmp(probe_jb, 1);
	}
	n = snprintf(msg, sizeof(msg),
		     "# FAIL: the fuzzer crashed: signal %d at %p, step %llu, operation %s\n",
		     sig, si ? si->si_addr : NULL, (unsigned long long)step, cur_op);
	if (n > 0 && write(1, msg, n) < 0)
		_exit(1);
	n = snprintf(msg, sizeof(msg), "# seed: %llu\n", (unsigned long long)seed);
	if (n > 0 && write(1, msg, n) < 0)
		_exit(1);
	_exit(KSFT_FAIL);
}

/* Copy @n bytes from memory that may fault; returns 0 or the signal. */
static int probe_read(void *dst, const void *src, size_t n)
{
	const __u8 *s = src;
	__u8 *d = dst;
	size_t i;

	if (sigsetjmp(probe_jb, 1))
		return probe_sig;
	__atomic_store_n(&probing, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < n; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
	__atomic_store_n(&probing, 0, __ATOMIC_SEQ_CST);
	return 0;
}

static int probe_write(void *dst, const void *src, size_t n)
{
	const __u8 *s = src;
	__u8 *d = dst;
	size_t i;

	if (sigsetjmp(probe_jb, 1))
		return probe_sig;
	__atomic_store_n(&probing, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < n; i++)
		__atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
	__atomic_store_n(&probing, 0, __ATOMIC_SEQ_CST);
	return 0;
}

static int probe_load32(const __u32 *p, __u32 *v)
{
	if (sigsetjmp(probe_jb, 1))
		return probe_sig;
	__atomic_store_n(&probing, 1, __ATOMIC_SEQ_CST);
	*v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	__atomic_store_n(&probing, 0, __ATOMIC_SEQ_CST);
	return 0;
}

static int probe_store32(__u32 *p, __u32 v)
{
	if (sigsetjmp(probe_jb, 1))
		return probe_sig;
	__atomic_store_n(&probing, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	__atomic_store_n(&probing, 0, __ATOMIC_SEQ_CST);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __u32 hash_bytes(const __u8 *p, size_t n)
{
	__u32 h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Run ip with the commands in @batch, one a line; returns its exit status. */
static int run_ip(const char *batch)
{
	static char *const argv[] = { "ip", "-batch", "-", NULL };
	posix_spawn_file_actions_t fa;
	int p[2], status = 0;
	size_t len = strlen(batch);
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	if (posix_spawnp(&pid, "ip", &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (write(p[1], batch, len) != (ssize_t)len)
		status = -1;
	close(p[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int obj_of_fd_slot(int k)
{
	int i, seen = 0;

	for (i = 0; i < NR_OBJS; i++)
		if (objs[i].used && objs[i].fd >= 0 && seen++ == k)
			return i;
	return -1;
}

static int nr_open(void)
{
	int i, n = 0;

	for (i = 0; i < NR_OBJS; i++)
		n += objs[i].used && objs[i].fd >= 0;
	return n;
}

static int pick_open_obj(void)
{
	int n = nr_open();

	return n ? obj_of_fd_slot(rnd(n)) : -1;
}

/* An open socket, preferably one for which @pred holds. */
static int pick_open_pref(int (*pred)(int))
{
	int i, n = 0, k;

	if (!one_in(4)) {
		for (i = 0; i < NR_OBJS; i++)
			n += objs[i].used && objs[i].fd >= 0 && pred(i);
		if (n) {
			k = rnd(n);
			for (i = 0; i < NR_OBJS; i++)
				if (objs[i].used && objs[i].fd >= 0 && pred(i) && k-- == 0)
					return i;
		}
	}
	return pick_open_obj();
}

static int is_unbound(int o)
{
	return objs[o].state == ST_UNBOUND;
}

static int is_mappable(int o)
{
	return objs[o].mappable;
}

static int is_bound(int o)
{
	return objs[o].state == ST_BOUND;
}

static int pick_used_obj(void)
{
	int i, n = 0, k;

	for (i = 0; i < NR_OBJS; i++)
		n += objs[i].used;
	if (!n)
		return -1;
	k = rnd(n);
	for (i = 0; i < NR_OBJS; i++)
		if (objs[i].used && k-- == 0)
			return i;
	return -1;
}

static int pick_map(void)
{
	int i, n = 0, k;

	for (i = 0; i < NR_MAPS; i++)
		n += !!maps[i].addr;
	if (!n)
		return -1;
	k = rnd(n);
	for (i = 0; i < NR_MAPS; i++)
		if (maps[i].addr && k-- == 0)
			return i;
	return -1;
}

/* Does any mapping of @o still have a ring VMA? */
static int obj_mapped(int o)
{
	size_t p;
	int i;

	for (i = 0; i < NR_MAPS; i++) {
		if (!maps[i].addr || maps[i].obj != o)
			continue;
		for (p = 0; p < ring_pages; p++)
			if (maps[i].pg[p] & PG_RING)
				return 1;
	}
	return 0;
}

/* The socket is released: its queue is free. */
static void obj_release(int o)
{
	struct obj *ob = &objs[o];

	if (ob->state == ST_BOUND && owner[ob->dev][ob->q] == o)
		owner[ob->dev][ob->q] = -1;
	ob->used = 0;
}

static void obj_maybe_release(int o)
{
	if (objs[o].used && objs[o].fd < 0 && !obj_mapped(o))
		obj_release(o);
}

/* A pointer to @len bytes at ring offset @at of @o, readable (or writable). */
static __u8 *view(int o, size_t at, size_t len, int write)
{
	__u8 need = PG_RING | PG_R | (write ? PG_W : 0);
	size_t p0 = at / pgsz, p1 = (at + len - 1) / pgsz, p;
	int i, ok;

	if (at + len > ring_size)
		return NULL;
	for (i = 0; i < NR_MAPS; i++) {
		if (!maps[i].addr || maps[i].obj != o)
			continue;
		ok = 1;
		for (p = p0; p <= p1; p++)
			if ((maps[i].pg[p] & (need | PG_ZAP)) != need)
				ok = 0;
		if (ok)
			return maps[i].addr + at;
	}
	return NULL;
}

/* A fault on @addr of mapping @m: expected if the fuzzer did it. */
static void fault_at(int m, const void *addr, int sig, const char *what)
{
	size_t p = ((const __u8 *)addr - maps[m].addr) / pgsz;
	__u8 f = maps[m].pg[p];

	if (!(f & PG_RING) || (f & PG_ZAP) || !(f & PG_R)) {
		faults_expected++;
		return;
	}
	fail("signal %d on %s, page %zu of mapping %d (flags %#x): not made inaccessible",
	     sig, what, p, m, f);
}

/* The mapping @m that @ptr is in. */
static int map_of(const __u8 *ptr)
{
	int i;

	for (i = 0; i < NR_MAPS; i++)
		if (maps[i].addr && ptr >= maps[i].addr && ptr < maps[i].addr + ring_size)
			return i;
	return -1;
}

static int safe_load32(int o, size_t at, __u32 *v)
{
	__u8 *p = view(o, at, 4, 0);
	int sig;

	if (!p)
		return -1;
	sig = probe_load32((const __u32 *)p, v);
	if (sig) {
		fault_at(map_of(p), p, sig, "a load");
		return -1;
	}
	return 0;
}

static int safe_store32(int o, size_t at, __u32 v)
{
	__u8 *p = view(o, at, 4, 1);
	int sig;

	if (!p)
		return -1;
	sig = probe_store32((__u32 *)p, v);
	if (sig) {
		fault_at(map_of(p), p, sig, "a store");
		return -1;
	}
	return 0;
}

static int get_stats(int o, struct vj_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0, sizeof(*st));
	if (getsockopt(objs[o].fd, SOL_VJCHAN, VJ_STATISTICS, st, &len))
		return -1;
	if (len != sizeof(*st)) {
		fail("VJ_STATISTICS returned %u bytes", len);
		return -1;
	}
	return 0;
}

/* Read and check the statistics of open socket @o against the model. */
static int read_stats(int o, struct vj_statistics *st)
{
	struct obj *ob = &objs[o];
	const __u64 *a = (const __u64 *)st, *b = (const __u64 *)&ob->st;
	__u64 inv;
	size_t i;

	if (ob->fd < 0 || get_stats(o, st)) {
		if (ob->fd >= 0 && !failed)
			check("VJ_STATISTICS", 0, errno, 0, E_GETSOCKOPT);
		return -1;
	}
	if (st->rx_copies)
		fail("rx_copies %llu: veth copied frames for the stack (rx_stack %llu)",
		     (unsigned long long)st->rx_copies, (unsigned long long)st->rx_stack);
	if (st->rx_bytes < 14 * st->rx_packets ||
	    st->rx_bytes > (__u64)frame_max * st->rx_packets)
		fail("rx_bytes %llu for %llu frames", (unsigned long long)st->rx_bytes,
		     (unsigned long long)st->rx_packets);
	if (ob->st_valid) {
		for (i = 0; i < sizeof(*st) / 8; i++)
			if (a[i] < b[i])
				fail("counter %zu went back from %llu to %llu", i,
				     (unsigned long long)b[i], (unsigned long long)a[i]);
		inv = st->rx_invalid_consumer - ob->st.rx_invalid_consumer;
		if (ob->word == W_INVALID && !inv)
			fail("an invalid consumer index was read and not counted");
		if (ob->word == W_VALID && !ob->word_changed && inv)
			fail("rx_invalid_consumer grew by %llu with a valid consumer index",
			     (unsigned long long)inv);
	}
	if (ob->n_known && st->rx_packets != ob->n)
		fail("rx_packets %llu, the model says %llu",
		     (unsigned long long)st->rx_packets, (unsigned long long)ob->n);
	if (!ob->n_known) {
		ob->n = st->rx_packets;
		ob->n_known = 1;
	}
	if (ob->sane && ob->n_known && ob->n - ob->r > nr_bufs)
		fail("%llu frames published and not released, ring of %u buffers",
		     (unsigned long long)(ob->n - ob->r), nr_bufs);
	ob->st = *st;
	ob->st_valid = 1;
	ob->word_changed = 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Filters: a decoder after the documentation, and a classifier.       */

static int zero(const void *p, size_t n)
{
	const __u8 *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

/* 1 if the kernel must accept @f, 0 if it must refuse it (EINVAL). */
static int filter_valid(const struct vj_filter *f)
{
	int addr = f->flags & VJ_FILTER_F_DST_ADDR;

	if (f->reserved0 || f->reserved1 || f->reserved2 || !zero(f->reserved, 16))
		return 0;
	if (f->type == VJ_FILTER_ETHERTYPE)
		return f->ethertype && !f->flags && !f->l4_proto && !f->dst_port &&
		       zero(f->dst_addr, 16);
	if (f->type != VJ_FILTER_IPV4 && f->type != VJ_FILTER_IPV6)
		return 0;
	if (f->ethertype || (f->flags & ~(VJ_FILTER_F_DST_ADDR | VJ_FILTER_F_DST_PORT)))
		return 0;
	if (f->l4_proto != IPPROTO_UDP && f->l4_proto != IPPROTO_TCP)
		return 0;
	if (!(f->flags & VJ_FILTER_F_DST_PORT) && f->dst_port)
		return 0;
	if (f->type == VJ_FILTER_IPV4)
		return zero(f->dst_addr + 4, 12) && (addr || zero(f->dst_addr, 4));
	return addr || zero(f->dst_addr, 16);
}

static int filter_index(const struct obj *ob, const struct vj_filter *f)
{
	int i;

	for (i = 0; i < ob->nfilt; i++)
		if (!memcmp(&ob->filt[i], f, sizeof(*f)))
			return i;
	return -1;
}

struct hdrs {
	int has_type;
	__u16 type;
	int l3;			/* 4, 6 or 0 */
	__u8 proto;
	__u8 dst[16];
	int has_port;
	__u16 port;
};

static int be16at(const __u8 *b, size_t n, size_t at, __u16 *v)
{
	if (at + 2 > n)
		return 0;
	*v = b[at] << 8 | b[at + 1];
	return 1;
}

/* The kernel's parse of the first HDR_COPY bytes (vjchan.rst). */
static void parse(const __u8 *b, size_t n, struct hdrs *h)
{
	size_t o = 12, l3;
	__u16 frag;

	memset(h, 0, sizeof(*h));
	if (n > HDR_COPY)
		n = HDR_COPY;
	h->has_type = be16at(b, n, o, &h->type);
	if (h->has_type && (h->type == 0x8100 || h->type == 0x88a8)) {
		o += 4;
		h->has_type = be16at(b, n, o, &h->type);
	}
	if (!h->has_type)
		return;
	l3 = o + 2;
	if (h->type == ETH_P_IP) {
		size_t ihl;

		if (l3 >= n || b[l3] >> 4 != 4 || (b[l3] & 0xf) < 5)
			return;
		ihl = (b[l3] & 0xf) * 4;
		if (!be16at(b, n, l3 + 6, &frag) || l3 + 9 >= n || l3 + 20 > n)
			return;
		h->l3 = 4;
		h->proto = b[l3 + 9];
		memcpy(h->dst, b + l3 + 16, 4);
		if (!(frag & 0x1fff))
			h->has_port = be16at(b, n, l3 + ihl + 2, &h->port);
	} else if (h->type == ETH_P_IPV6) {
		if (l3 >= n || b[l3] >> 4 != 6 || l3 + 40 > n)
			return;
		h->l3 = 6;
		h->proto = b[l3 + 6];
		memcpy(h->dst, b + l3 + 24, 16);
		h->has_port = be16at(b, n, l3 + 42, &h->port);
	}
}

static int filter_matches(const struct vj_filter *f, const struct hdrs *h)
{
	int v6 = f->type == VJ_FILTER_IPV6;

	if (f->type == VJ_FILTER_ETHERTYPE)
		return h->has_type && h->type == ntohs(f->ethertype);
	if (h->l3 != (v6 ? 6 : 4) || h->proto != f->l4_proto)
		return 0;
	if ((f->flags & VJ_FILTER_F_DST_ADDR) && memcmp(h->dst, f->dst_addr, v6 ? 16 : 4))
		return 0;
	if ((f->flags & VJ_FILTER_F_DST_PORT) &&
	    (!h->has_port || h->port != ntohs(f->dst_port)))
		return 0;
	return 1;
}

static int obj_matches(const struct obj *ob, const __u8 *frame, size_t len)
{
	struct hdrs h;
	int i;

	parse(frame, len, &h);
	for (i = 0; i < ob->nfilt; i++)
		if (filter_matches(&ob->filt[i], &h))
			return 1;
	return 0;
}

/* Small sets, so that filters and frames meet. */
static const __u16 ethertypes[] = { 0x88b5, 0x88b6, ETH_P_IP, ETH_P_IPV6, 0x0806 };
static const __u16 ports[] = { 7000, 7001, 53 };
static const __u8 v4addrs[][4] = { { 10, 99, 0, 2 }, { 10, 99, 0, 3 } };
static const __u8 v6addrs[][16] = {
	{ 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 },
	{ 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3 },
};

static void random_good_filter(struct vj_filter *f)
{
	memset(f, 0, sizeof(*f));
	switch (rnd(3)) {
	case 0:
		f->type = VJ_FILTER_ETHERTYPE;
		f->ethertype = htons(ethertypes[rnd(ARRAY_SIZE(ethertypes))]);
		return;
	case 1:
		f->type = VJ_FILTER_IPV4;
		break;
	default:
		f->type = VJ_FILTER_IPV6;
		break;
	}
	f->l4_proto = one_in(3) ? IPPROTO_TCP : IPPROTO_UDP;
	if (!one_in(3)) {
		f->flags |= VJ_FILTER_F_DST_PORT;
		f->dst_port = htons(ports[rnd(ARRAY_SIZE(ports))]);
	}
	if (one_in(2)) {
		f->flags |= VJ_FILTER_F_DST_ADDR;
		if (f->type == VJ_FILTER_IPV4)
			memcpy(f->dst_addr, v4addrs[rnd(2)], 4);
		else
			memcpy(f->dst_addr, v6addrs[rnd(2)], 16);
	}
}

/* ------------------------------------------------------------------ */
/* Frames.                                                             */

static size_t build_frame(int d, __u8 *b)
{
	int peer = d ^ 1, kind = rnd(10), tags = 0;
	size_t len, o, l3, i;

	for (i = 0; i < FRAME_BUF; i++)
		b[i] = rnd64();
	memcpy(b, one_in(8) ? (const __u8 *)"\xff\xff\xff\xff\xff\xff" : devs[peer].mac,
	       ETH_ALEN);
	memcpy(b + 6, devs[d].mac, ETH_ALEN);
	o = 12;
	if (one_in(6)) {
		tags = one_in(4) ? 2 : 1;
		for (i = 0; i < (size_t)tags; i++) {
			__u16 tpid = one_in(3) ? 0x88a8 : 0x8100;

			b[o] = tpid >> 8;
			b[o + 1] = tpid & 0xff;
			b[o + 2] = 0;
			b[o + 3] = 5;
			o += 4;
		}
	}
	l3 = o + 2;
	if (kind < 3) {
		__u16 t = one_in(5) ? (__u16)rnd64() : ethertypes[rnd(ARRAY_SIZE(ethertypes))];

		b[o] = t >> 8;
		b[o + 1] = t & 0xff;
	} else if (kind < 7) {
		size_t ihl = one_in(8) ? rnd(16) : 5;

		b[o] = 0x08;
		b[o + 1] = 0x00;
		b[l3] = (one_in(16) ? rnd(16) : 4) << 4 | ihl;
		b[l3 + 6] = one_in(6) ? rnd(256) : 0x40;
		b[l3 + 7] = one_in(6) ? rnd(256) : 0;
		b[l3 + 9] = one_in(8) ? rnd(256) : (one_in(3) ? IPPROTO_TCP : IPPROTO_UDP);
		memcpy(b + l3 + 16, v4addrs[rnd(2)], 4);
		if (ihl >= 5) {
			__u16 p = one_in(5) ? (__u16)rnd64() : ports[rnd(ARRAY_SIZE(ports))];

			b[l3 + ihl * 4 + 2] = p >> 8;
			b[l3 + ihl * 4 + 3] = p & 0xff;
		}
	} else {
		__u16 p = one_in(5) ? (__u16)rnd64() : ports[rnd(ARRAY_SIZE(ports))];

		b[o] = 0x86;
		b[o + 1] = 0xdd;
		b[l3] = (one_in(16) ? rnd(16) : 6) << 4;
		b[l3 + 6] = one_in(8) ? rnd(256) : (one_in(3) ? IPPROTO_TCP : IPPROTO_UDP);
		memcpy(b + l3 + 24, v6addrs[rnd(2)], 16);
		b[l3 + 42] = p >> 8;
		b[l3 + 43] = p & 0xff;
	}
	switch (rnd(10)) {
	case 0:
		len = 1 + rnd(70);		/* headers cut short; < 14 is refused */
		break;
	case 1:
		len = frame_max - 4 + rnd(9);	/* around the limit */
		break;
	case 2:
		len = 1515 + rnd(FRAME_BUF - 1515);
		break;
	default:
		len = 42 + rnd(1514 - 42 + 1);
		break;
	}
	return len;
}

/* ------------------------------------------------------------------ */
/* The network namespace.                                              */

static int open_pkt(int d)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sll.sll_ifindex = devs[d].ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int dev_info(int d)
{
	struct ifreq ifr;
	int fd;

	devs[d].ifindex = if_nametoindex(devs[d].name);
	if (!devs[d].ifindex)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", devs[d].name);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		close(fd);
		return -1;
	}
	close(fd);
	memcpy(devs[d].mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	if (devs[d].pkt >= 0)
		close(devs[d].pkt);
	devs[d].pkt = open_pkt(d);
	return devs[d].pkt < 0 ? -1 : 0;
}

/* CPU @c sends on transmit queue @c of the two-queue pair (XPS). */
static void set_xps(int d)
{
	char path[96];
	int q;

	for (q = 0; q < devs[d].nq && devs[d].nq > 1; q++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/tx-%d/xps_cpus",
			 devs[d].name, q);
		if (write_file(path, q ? "2" : "1") && !verbose_once++)
			ksft_print_msg("cannot write %s\n", path);
	}
}

/* Run on CPU @cpu (if there are two): which queue of va1/vb1 a frame takes. */
static void set_cpu(int cpu)
{
	cpu_set_t set;

	if (nr_cpus < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The largest MTU a channel binds to: frames of it, tagged, fit a buffer. */
static int mtu_low(void)
{
	return frame_max - 18;
}

static int make_pair(int pair)
{
	char cmd[512];
	int nq = pair ? 2 : 1, mtu = mtu_low();

	snprintf(cmd, sizeof(cmd),
		 "link add va%d mtu %d numtxqueues %d numrxqueues %d type veth peer name vb%d mtu %d numtxqueues %d numrxqueues %d\n"
		 "link set va%d up\nlink set vb%d up\n",
		 pair, mtu, nq, nq, pair, mtu, nq, nq, pair, pair);
	if (run_ip(cmd))
		return -1;
	devs[2 * pair].nq = nq;
	devs[2 * pair + 1].nq = nq;
	devs[2 * pair].mtu = mtu;
	devs[2 * pair + 1].mtu = mtu;
	if (dev_info(2 * pair) || dev_info(2 * pair + 1))
		return -1;
	set_xps(2 * pair);
	set_xps(2 * pair + 1);
	return 0;
}

/* The devices of the namespace that are not ours (lo, fallback tunnels). */
static void list_others(void)
{
	struct if_nameindex *ni = if_nameindex(), *p;
	int d, ours;

	nr_other = 0;
	if (!ni)
		return;
	for (p = ni; p->if_index && nr_other < (int)ARRAY_SIZE(other_ifindex); p++) {
		ours = 0;
		for (d = 0; d < NR_DEVS; d++)
			ours |= devs[d].ifindex == (int)p->if_index;
		if (!ours)
			other_ifindex[nr_other++] = p->if_index;
	}
	if_freenameindex(ni);
}

static int is_other(int ifindex)
{
	int i;

	for (i = 0; i < nr_other; i++)
		if (other_ifindex[i] == ifindex)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Operations.                                                         */

enum {
	OP_SOCKET, OP_BIND, OP_SETSOCKOPT, OP_GETSOCKOPT, OP_MMAP, OP_MUNMAP,
	OP_MPROTECT, OP_MADVISE, OP_MREMAP, OP_RING, OP_HOSTILE, OP_SEND,
	OP_POLL, OP_FORK, OP_CLOSE, OP_MISC, OP_VETH, OP_TOUCH, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"socket", "bind", "setsockopt", "getsockopt", "mmap", "munmap",
	"mprotect", "madvise", "mremap", "ring", "hostile", "send",
	"poll", "fork", "close", "misc", "veth", "touch",
};

static const int op_weight[NR_OPS] = {
	5, 8, 8, 5, 6, 3,
	3, 4, 1, 8, 4, 14,
	4, 1, 3, 2, 1, 4,
};

static int new_obj(int fd)
{
	int i;

	for (i = 0; i < NR_OBJS; i++) {
		struct obj *ob = &objs[i];

		if (ob->used)
			continue;
		memset(ob->filt, 0, sizeof(ob->filt));
		ob->used = 1;
		ob->fd = fd;
		ob->state = ST_UNBOUND;
		ob->mappable = 0;
		ob->nfilt = 0;
		ob->start_known = 0;
		ob->n = 0;
		ob->n_known = 1;
		ob->r = 0;
		ob->sane = 1;
		ob->word = W_VALID;
		ob->word_changed = 0;
		ob->st_valid = 0;
		ob->cdirty_rel = 0;
		ob->tstamp = 0;
		memset(ob->dirty, 0, nr_slots);
		memset(ob->exp, 0, nr_slots * sizeof(*ob->exp));
		return i;
	}
	return -1;
}

static void do_close(int o)
{
	int ret = close(objs[o].fd);

	check("close", ret == 0, errno, 0, E_MISC);
	objs[o].fd = -1;
	obj_maybe_release(o);
}

static void op_socket(void)
{
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RDM,
				     SOCK_PACKET, 0, 11, -1, 0x7fffffff };
	int type = SOCK_RAW, proto = 0, want = 0, base, fd, o, err;

	if (nr_open() >= NR_FDS) {
		do_close(pick_open_obj());
		return;
	}
	if (one_in(8))
		type = types[rnd(ARRAY_SIZE(types))];
	if (one_in(3))
		type |= SOCK_NONBLOCK;
	if (one_in(3))
		type |= SOCK_CLOEXEC;
	if (one_in(16))
		type |= 1 << (12 + rnd(8));
	if (one_in(8))
		proto = one_in(2) ? (int)rnd64() : (int)(1 + rnd(300));
	base = type & 0xf;
	if (type < 0 || (type & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC)))
		want = EINVAL;
	else if (base >= 11)
		want = EINVAL;
	else if (base != SOCK_RAW)
		want = ESOCKTNOSUPPORT;
	else if (proto)
		want = EPROTONOSUPPORT;
	fd = socket(PF_VJCHAN, type, proto);
	err = errno;
	if (!check("socket", fd >= 0, err, want, E_SOCKET))
		return;
	if (want) {
		close(fd);
		return;
	}
	o = new_obj(fd);
	if (o < 0)
		close(fd);
}

static void op_bind(void)
{
	struct sockaddr_vj a = { .svj_family = AF_VJCHAN };
	int o = pick_open_pref(is_unbound), d = -1, q = 0, want = -1, ret, err, i;
	socklen_t len = sizeof(a);
	char big[160];
	void *ptr = &a;

	if (o < 0)
		return;
	switch (rnd(8)) {
	case 0:
		a.svj_ifindex = one_in(2) ? 0 : (one_in(2) ? rnd64() : rnd(100));
		break;
	case 1:
		a.svj_ifindex = nr_other ? other_ifindex[rnd(nr_other)] : 1;
		break;
	default:
		d = rnd(NR_DEVS);
		q = rnd(devs[d].nq);
		/* Mostly a free queue. */
		for (i = 0; i < 2 * NR_DEVS && owner[d][q] >= 0 && !one_in(4); i++) {
			d = rnd(NR_DEVS);
			q = rnd(devs[d].nq);
		}
		a.svj_ifindex = devs[d].ifindex;
		break;
	}
	for (i = 0; i < NR_DEVS; i++)
		if (devs[i].ifindex == (int)a.svj_ifindex)
			d = i;
	if (one_in(4))
		q = one_in(2) ? (int)rnd64() : (int)rnd(4);
	else if (d < 0)
		q = 0;
	a.svj_queue_id = q;
	if (one_in(10))
		a.svj_family = one_in(2) ? rnd64() : AF_PACKET;
	if (one_in(12))
		a.svj_flags = 1 << rnd(16);
	if (one_in(12))
		a.svj_reserved = rnd64() | 1;
	if (one_in(10))
		len = rnd(sizeof(a));
	else if (one_in(12))
		len = sizeof(a) + rnd(sizeof(big) - sizeof(a));
	if (len > sizeof(a)) {
		memset(big, 0, sizeof(big));
		memcpy(big, &a, sizeof(a));
		ptr = big;
	}
	if (one_in(40))
		ptr = (void *)16;		/* EFAULT */

	if (len > 128)
		want = EINVAL;			/* more than a sockaddr_storage */
	else if (ptr == (void *)16)
		want = len ? EFAULT : EINVAL;
	else if (len < sizeof(a) || a.svj_family != AF_VJCHAN || a.svj_flags ||
		 a.svj_reserved)
		want = EINVAL;
	else if (a.svj_ifindex > 0x7fffffffu)
		want = ENODEV;
	else if (objs[o].state != ST_UNBOUND)
		want = EINVAL;
	else if (d < 0 && !is_other(a.svj_ifindex))
		want = ENODEV;
	else if (d < 0)
		want = -1;			/* EINVAL (queue) or EOPNOTSUPP */
	else if ((__u32)q >= (__u32)devs[d].nq)
		want = EINVAL;
	else if (owner[d][q] >= 0)
		want = EBUSY;
	else if (devs[d].mtu + 18 > (int)frame_max)
		want = EMSGSIZE;		/* frames of the MTU would not fit */
	else
		want = 0;
	ret = bind(objs[o].fd, ptr, len);
	err = errno;
	if (d < 0 && want == -1 && ret == 0)
		fail("bind to ifindex %u (not a veth) succeeded", a.svj_ifindex);
	if (want == -1 && ret && err != EINVAL && err != EOPNOTSUPP && err != EMSGSIZE &&
	    !transient(err))
		fail("bind to ifindex %u: %s", a.svj_ifindex, strerror(err));
	if (!check("bind", ret == 0, err, want, E_BIND))
		return;
	if (want)
		return;
	binds++;
	objs[o].state = ST_BOUND;
	objs[o].dev = d;
	objs[o].q = q;
	objs[o].mappable = 1;
	owner[d][q] = o;
}

/*
 * VJ_RING_SETUP on @o: the default geometry (that of every ring here), said
 * in one of the ways that all mean it, with or without time stamps; or,
 * with one thing wrong, a setup the kernel must refuse with EINVAL, bound
 * or not.  A good one succeeds before bind, and is EBUSY after.
 */
static void ring_setup(int o)
{
	struct obj *ob = &objs[o];
	struct vj_ring_setup rs = { 0 };
	socklen_t len = sizeof(rs);
	__u8 buf[sizeof(rs) + 16];
	int valid = 1, want, ret, err;

	switch (rnd(5)) {
	case 1:
		rs.size = ring_size;
		break;
	case 2:
		rs.size = ring_size;
		rs.nr_slots = nr_slots;
		break;
	case 3:
		rs.size = ring_size;
		rs.nr_slots = nr_slots;
		rs.buf_size = off.buf_size;
		break;
	case 4:
		rs.buf_size = off.buf_size;
		break;
	}
	if (one_in(2))
		rs.flags = VJ_RING_SETUP_F_TSTAMP;
	switch (rnd(12)) {
	case 0:
		len = one_in(2) ? sizeof(rs) - 1 - rnd(sizeof(rs)) : sizeof(rs) + 1 + rnd(16);
		valid = 0;
		break;
	case 1:
		rs.flags |= 2U << rnd(31);
		valid = 0;
		break;
	case 2:
		if (one_in(2))
			rs.reserved0 = 1 + rnd(1000);
		else
			rs.reserved[rnd(2)] = 1ULL << rnd(64);
		valid = 0;
		break;
	case 3:
		rs.buf_size = one_in(2) ? VJ_RING_BUF_SIZE_MIN / 2 : VJ_RING_BUF_SIZE_MIN + 1 +
			      rnd(VJ_RING_BUF_SIZE_MIN - 1);
		valid = 0;
		break;
	case 4:
		rs.nr_slots = one_in(3) ? VJ_RING_SLOTS_MIN / 2 : one_in(2) ?
			      VJ_RING_SLOTS_MAX * 2 : VJ_RING_SLOTS_MIN + 8;
		valid = 0;
		break;
	case 5:
		rs.size = ring_size + 1 + rnd(pgsz - 1);
		valid = 0;
		break;
	case 6:
		/* nr_slots is the smallest for this size: half as many cannot do. */
		rs.size = ring_size;
		rs.nr_slots = nr_slots / 2;
		valid = 0;
		break;
	default:
		break;
	}
	if (!valid)
		want = EINVAL;
	else if (ob->state != ST_UNBOUND)
		want = EBUSY;
	else
		want = 0;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &rs, sizeof(rs));
	ret = setsockopt(ob->fd, SOL_VJCHAN, VJ_RING_SETUP, buf, len);
	err = errno;
	trace("obj %d: size %llu nr_slots %u buf_size %u flags %#x reserved0 %u len %u: %s", o,
	      (unsigned long long)rs.size, rs.nr_slots, rs.buf_size, rs.flags, rs.reserved0,
	      len, ret ? strerror(err) : "ok");
	if (!check("setsockopt(VJ_RING_SETUP)", ret == 0, err, want, E_SETSOCKOPT) || want)
		return;
	ob->tstamp = !!(rs.flags & VJ_RING_SETUP_F_TSTAMP);
}

static void op_setsockopt(void)
{
	static const int names[] = { 0, 1, 2, 3, 7, 100, -1 };
	struct obj *ob;
	int o = pick_open_pref(is_bound), level = SOL_VJCHAN, name, want, ret, err, idx, i;
	__u8 buf[64];
	struct vj_filter f;
	socklen_t len = sizeof(f);
	void *ptr = &f;

	if (o < 0)
		return;
	ob = &objs[o];
	if (one_in(8)) {
		ring_setup(o);
		return;
	}
	name = one_in(3) ? VJ_DEL_FILTER : VJ_ADD_FILTER;
	if (one_in(3) && ob->nfilt)
		f = ob->filt[rnd(ob->nfilt)];
	else
		random_good_filter(&f);
	switch (rnd(12)) {
	case 0:					/* random bytes */
		for (i = 0; i < (int)sizeof(f); i++)
			((__u8 *)&f)[i] = one_in(3) ? rnd(256) : 0;
		f.type = 1 + rnd(4);
		break;
	case 1:					/* one bad field */
		((__u8 *)&f)[rnd(sizeof(f))] ^= 1 << rnd(8);
		break;
	case 2:
		len = rnd(sizeof(f));
		break;
	case 3:
		len = sizeof(f) + rnd(16);
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &f, sizeof(f));
		ptr = buf;
		break;
	case 4:
		if (one_in(2))
			level = one_in(2) ? (int)rnd64() : SOL_IP;
		else
			name = names[rnd(ARRAY_SIZE(names))];
		break;
	case 5:
		if (one_in(4))
			ptr = (void *)16;
		break;
	case 6: {
		/* A few generic options, which the socket core handles. */
		static const int so[] = { SO_RCVBUF, SO_SNDBUF, SO_PRIORITY, SO_RCVLOWAT,
					  SO_PEEK_OFF, SO_KEEPALIVE, SO_ZEROCOPY,
					  SO_TIMESTAMP, SO_BUSY_POLL };
		int v = one_in(2) ? (int)rnd(4096) : (int)rnd64();

		name = so[rnd(ARRAY_SIZE(so))];
		ret = setsockopt(ob->fd, SOL_SOCKET, name, &v, sizeof(v));
		check("setsockopt(SOL_SOCKET)", ret == 0, errno, -1, E_SETSOCKOPT);
		return;
	}
	default:
		break;
	}
	if (level == SOL_SOCKET)
		want = -1;
	else if (level != SOL_VJCHAN)
		want = ENOPROTOOPT;
	else if (name != VJ_ADD_FILTER && name != VJ_DEL_FILTER)
		want = ENOPROTOOPT;
	else if (len < sizeof(f))
		want = EINVAL;
	else if (ptr == (void *)16)
		want = EFAULT;
	else if (!filter_valid(&f))
		want = EINVAL;
	else if (filter_index(ob, &f) >= 0)
		want = name == VJ_ADD_FILTER ? EEXIST : 0;
	else if (name == VJ_DEL_FILTER)
		want = ENOENT;
	else
		want = ob->nfilt >= VJ_MAX_FILTERS ? ENOSPC : 0;
	ret = setsockopt(ob->fd, level, name, ptr, len);
	err = errno;
	if (!check("setsockopt", ret == 0, err, want, E_SETSOCKOPT) || want)
		return;
	idx = filter_index(ob, &f);
	if (name == VJ_ADD_FILTER) {
		ob->filt[ob->nfilt++] = f;
		filters_added++;
	} else {
		ob->filt[idx] = ob->filt[--ob->nfilt];
	}
}

static void op_getsockopt(void)
{
	static const int names[] = { VJ_RING_OFFSETS, VJ_STATISTICS, VJ_FEATURES };
	int o = pick_open_obj(), name, want, ret, err, level = SOL_VJCHAN;
	__u8 buf[256];
	socklen_t len, need = 0, ret_len = 0;
	void *ptr = buf;
	socklen_t *lenp = &len;

	if (o < 0)
		return;
	if (one_in(8)) {
		static const int so[] = { SO_DOMAIN, SO_TYPE, SO_PROTOCOL, SO_ERROR,
					  SO_RCVBUF, SO_PEERNAME, SO_ACCEPTCONN, SO_COOKIE,
					  SO_PEEK_OFF, SO_MEMINFO };
		int v[16] = { 0 };

		name = so[rnd(ARRAY_SIZE(so))];
		len = sizeof(v);
		ret = getsockopt(objs[o].fd, SOL_SOCKET, name, v, &len);
		err = errno;
		if (!check("getsockopt(SOL_SOCKET)", ret == 0, err, -1, E_GETSOCKOPT))
			return;
		if ((name == SO_DOMAIN && v[0] != AF_VJCHAN) ||
		    (name == SO_TYPE && v[0] != SOCK_RAW) ||
		    (name == SO_PROTOCOL && v[0] != 0))
			fail("getsockopt(SOL_SOCKET, %d) = %d", name, v[0]);
		return;
	}
	name = names[rnd(ARRAY_SIZE(names))];
	if (name == VJ_STATISTICS && one_in(2)) {
		struct vj_statistics st;

		read_stats(o, &st);
		return;
	}
	len = one_in(3) ? rnd(sizeof(buf)) : sizeof(buf);
	if (one_in(10))
		len = -1 - rnd(100);
	if (one_in(10))
		name = one_in(2) ? (int)rnd64() : (int)(6 + rnd(10));
	if (one_in(16))
		level = one_in(2) ? SOL_PACKET : (int)rnd64();
	if (one_in(20))
		ptr = (void *)16;
	if (one_in(30))
		lenp = (socklen_t *)16;
	switch (name) {
	case VJ_RING_OFFSETS:
		need = VJ_RING_OFFSETS_SIZE_VER0;
		ret_len = sizeof(off);
		break;
	case VJ_STATISTICS:
		need = VJ_STATISTICS_SIZE_VER0;
		ret_len = sizeof(struct vj_statistics);
		break;
	default:
		need = 8;
		ret_len = need;
		break;
	}

	if (lenp != &len)
		want = EFAULT;
	else if (level == SOL_SOCKET)
		want = -1;
	else if ((int)len < 0)
		want = EINVAL;
	else if (level != SOL_VJCHAN)
		want = ENOPROTOOPT;
	else if (name != VJ_RING_OFFSETS && name != VJ_STATISTICS && name != VJ_FEATURES)
		want = ENOPROTOOPT;
	else if (len < need)
		want = EINVAL;
	else if (ptr != buf)
		want = EFAULT;
	else
		want = 0;
	memset(buf, 0xa5, sizeof(buf));
	ret = getsockopt(objs[o].fd, level, name, ptr, lenp);
	err = errno;
	if (!check("getsockopt", ret == 0, err, want, E_GETSOCKOPT) || want)
		return;
	if ((name == VJ_STATISTICS || name == VJ_RING_OFFSETS) && ret_len > len)
		ret_len = len;
	if (len != ret_len)
		fail("getsockopt %d returned %u bytes, expected %u", name, len, ret_len);
	if (name == VJ_RING_OFFSETS && memcmp(buf, &off, sizeof(off)))
		fail("VJ_RING_OFFSETS changed");
	if (name == VJ_FEATURES) {
		__u64 feat;

		memcpy(&feat, buf, sizeof(feat));
		if (!(feat & VJ_FEATURE_RX_RING))
			fail("VJ_FEATURES %#llx", (unsigned long long)feat);
	}
	if (buf[ret_len] != 0xa5)
		fail("getsockopt %d wrote past %u bytes", name, ret_len);
}

/* Fill pages [p0, p1) of mapping @m, now a hole, with placeholders. */
static void reserve(int m, size_t p0, size_t p1)
{
	void *p;

	if (p0 >= p1)
		return;
	p = mmap(maps[m].addr + p0 * pgsz, (p1 - p0) * pgsz, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != maps[m].addr + p0 * pgsz) {
		fail("cannot refill a hole of %zu pages: %s", p1 - p0, strerror(errno));
		if (p != MAP_FAILED)
			munmap(p, (p1 - p0) * pgsz);
		return;
	}
	memset(maps[m].pg + p0, PG_RESV, p1 - p0);
}

/* Unmap all of mapping @m. */
static void unmap_all(int m)
{
	int o = maps[m].obj, ret;

	ret = munmap(maps[m].addr, ring_size);
	if (!check("munmap", ret == 0, errno, 0, E_MUNMAP))
		return;
	maps[m].addr = NULL;
	obj_maybe_release(o);
}

/* Drop mapping @m once no page of the ring is left in it. */
static void map_gc(int m)
{
	int o = maps[m].obj;
	size_t p;

	for (p = 0; p < ring_pages; p++)
		if (maps[m].pg[p] & PG_RING)
			return;
	munmap(maps[m].addr, ring_size);
	maps[m].addr = NULL;
	obj_maybe_release(o);
}

/* A fresh mapping of @o succeeded at @p: note what the ring says. */
static void new_map(int o, __u8 *p, int prot)
{
	struct obj *ob = &objs[o];
	struct vj_statistics st;
	__u32 prod, cons;
	int m;

	for (m = 0; m < NR_MAPS && maps[m].addr; m++)
		;
	maps[m].addr = p;
	maps[m].obj = o;
	trace("new map %d of obj %d at %p", m, o, p);
	memset(maps[m].pg, PG_RING | (prot & (PROT_READ | PROT_WRITE) ? PG_R : 0) |
	       (prot & PROT_WRITE ? PG_W : 0), ring_pages);
	if (ob->start_known || read_stats(o, &st))
		return;
	if (safe_load32(o, off.producer, &prod) || safe_load32(o, off.consumer, &cons))
		return;
	/* Nothing has written the consumer index yet. */
	ob->start = prod - (__u32)st.rx_packets;
	ob->start_known = 1;
	if (cons != ob->start + (__u32)ob->r && ob->word == W_VALID && ob->sane)
		fail("a fresh ring: consumer %u, producer %u, %llu frames published",
		     cons, prod, (unsigned long long)st.rx_packets);
}

static void op_mmap(void)
{
	static const int prots[] = { PROT_READ, PROT_NONE, PROT_WRITE, PROT_READ | PROT_EXEC,
				     PROT_READ | PROT_WRITE | PROT_EXEC };
	static const int extra[] = { MAP_POPULATE, MAP_NORESERVE, MAP_LOCKED };
	int o = pick_open_pref(is_mappable), prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED;
	int want, m;
	size_t len = ring_size;
	off_t offset = 0;
	__u8 *p;
	int err;

	if (o < 0)
		return;
	for (m = 0; m < NR_MAPS && maps[m].addr; m++)
		;
	if (m == NR_MAPS) {
		unmap_all(pick_map());
		return;
	}
	if (one_in(6)) {
		static const size_t lens[] = { 0, 1, 4096, 1 << 20, 2 << 20 };

		len = one_in(2) ? lens[rnd(ARRAY_SIZE(lens))] :
				  ring_size + pgsz * rnd(5) - 2 * pgsz;
	}
	if (one_in(8))
		offset = one_in(2) ? (off_t)pgsz * rnd(300) : (off_t)rnd64() & ~(off_t)0xfff;
	if (one_in(40))
		offset = 1 + rnd(4095);
	if (one_in(6))
		prot = prots[rnd(ARRAY_SIZE(prots))];
	if (one_in(8))
		flags = one_in(2) ? MAP_PRIVATE : MAP_SHARED_VALIDATE;
	if (one_in(8))
		flags |= extra[rnd(ARRAY_SIZE(extra))];

	if (!len || (offset & 0xfff) || offset < 0)
		want = -1;			/* EINVAL or EOVERFLOW */
	else if (prot & PROT_EXEC)
		want = objs[o].mappable && len == ring_size && !offset &&
		       (flags & MAP_TYPE) != MAP_PRIVATE ? EPERM : -1;
	else if (!objs[o].mappable || len != ring_size || offset)
		want = EINVAL;
	else if ((flags & MAP_TYPE) == MAP_PRIVATE)
		want = EINVAL;
	else
		want = 0;
	p = mmap(NULL, len, prot, flags, objs[o].fd, offset);
	err = errno;
	trace("obj %d len %zu off %#llx prot %#x flags %#x: %p %d", o, len,
	      (unsigned long long)offset, prot, flags, p, p == MAP_FAILED ? err : 0);
	if (p != MAP_FAILED && want != 0) {
		fail("mmap len %zu off %#llx prot %#x flags %#x succeeded (mappable %d)", len,
		     (unsigned long long)offset, prot, flags, objs[o].mappable);
		munmap(p, len);
		return;
	}
	if (p == MAP_FAILED && transient(err))
		ksft_print_msg("mmap len %zu off %#llx prot %#x flags %#x, expected %d: %s\n",
			       len, (unsigned long long)offset, prot, flags, want, strerror(err));
	if (!check("mmap", p != MAP_FAILED, err, want, E_MMAP) || want)
		return;
	new_map(o, p, prot);
}

/* A random page range [*p0, *p1) of a mapping. */
static void pick_range(size_t *p0, size_t *p1)
{
	if (one_in(3)) {
		*p0 = 0;
		*p1 = ring_pages;
		return;
	}
	*p0 = rnd(ring_pages);
	*p1 = *p0 + 1 + rnd(one_in(2) ? 4 : ring_pages - *p0);
	if (*p1 > ring_pages)
		*p1 = ring_pages;
}

static int range_all(int m, size_t p0, size_t p1, __u8 flag)
{
	size_t p;

	for (p = p0; p < p1; p++)
		if (!(maps[m].pg[p] & flag))
			return 0;
	return 1;
}

static void op_munmap(void)
{
	int m = pick_map(), ret, o;
	size_t p0, p1, p;

	if (m < 0)
		return;
	o = maps[m].obj;
	if (one_in(2)) {
		unmap_all(m);
		return;
	}
	pick_range(&p0, &p1);
	ret = munmap(maps[m].addr + p0 * pgsz, (p1 - p0) * pgsz);
	trace("map %d pages %zu-%zu: %d", m, p0, p1, ret);
	if (!check("munmap", ret == 0, errno, 0, E_MUNMAP))
		return;
	for (p = p0; p < p1; p++)
		maps[m].pg[p] = 0;
	reserve(m, p0, p1);
	map_gc(m);
	obj_maybe_release(o);
}

static void op_mprotect(void)
{
	static const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE,
				     PROT_READ | PROT_EXEC, PROT_EXEC, PROT_READ | PROT_WRITE };
	int m = pick_map(), prot, ret, want, err, ring;
	size_t p0, p1, p;

	if (m < 0)
		return;
	pick_range(&p0, &p1);
	prot = prots[rnd(ARRAY_SIZE(prots))];
	if (one_in(20))
		prot |= PROT_GROWSDOWN;
	ring = range_all(m, p0, p1, PG_RING);
	if (prot & PROT_GROWSDOWN)
		want = -1;
	else if (!ring)
		want = -1;
	else
		want = prot & PROT_EXEC ? EACCES : 0;
	ret = mprotect(maps[m].addr + p0 * pgsz, (p1 - p0) * pgsz, prot);
	err = errno;
	trace("map %d pages %zu-%zu prot %#x: %d %d", m, p0, p1, prot, ret, ret ? err : 0);
	if (ret == 0 && (prot & PROT_EXEC) && !range_all(m, p0, p1, PG_RESV))
		fail("mprotect(PROT_EXEC) of a ring succeeded");
	if (!check("mprotect", ret == 0, err, want, E_MPROTECT))
		return;
	for (p = p0; p < p1; p++) {
		if (!(maps[m].pg[p] & PG_RING))
			continue;
		maps[m].pg[p] &= ~(PG_R | PG_W);
		if (prot & (PROT_READ | PROT_WRITE))
			maps[m].pg[p] |= PG_R;
		if (prot & PROT_WRITE)
			maps[m].pg[p] |= PG_W;
	}
}

static void op_madvise(void)
{
	static const int advs[] = { MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
				    MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK,
				    MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE,
				    MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
				    MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
				    MADV_POPULATE_READ, MADV_POPULATE_WRITE,
				    MADV_DONTNEED_LOCKED, MADV_COLLAPSE, 26, 99, 1000 };
	static const int msf[] = { MS_ASYNC, MS_SYNC, MS_INVALIDATE };
	int m = pick_map(), adv, ret, err, done;
	size_t p0, p1, p, len;
	char what[64];
	__u8 *a;

	if (m < 0)
		return;
	pick_range(&p0, &p1);
	a = maps[m].addr + p0 * pgsz;
	len = (p1 - p0) * pgsz;
	switch (rnd(8)) {
	case 0:
		ret = one_in(2) ? mlock(a, len) : munlock(a, len);
		check("mlock", ret == 0, errno, -1, E_MLOCK);
		return;
	case 1:
		ret = msync(a, len, msf[rnd(ARRAY_SIZE(msf))]);
		check("msync", ret == 0, errno, -1, E_MSYNC);
		return;
	default:
		break;
	}
	if (!have_madvise)
		return;
	adv = advs[rnd(ARRAY_SIZE(advs))];
	ret = madvise(a, len, adv);
	err = errno;
	trace("map %d pages %zu-%zu advice %d: %d %d", m, p0, p1, adv, ret, ret ? err : 0);
	snprintf(what, sizeof(what), "madvise(%d) of pages %zu-%zu", adv, p0, p1);
	check(what, ret == 0, err, -1, E_MADVISE);
	/* Failing part way (ENOMEM, EAGAIN), it may have done some of it. */
	done = ret == 0 || err == ENOMEM || err == EAGAIN;
	for (p = p0; p < p1 && done; p++) {
		if (!(maps[m].pg[p] & PG_RING))
			continue;
		if (adv == MADV_DONTNEED || adv == MADV_DONTNEED_LOCKED || adv == MADV_FREE ||
		    adv == MADV_REMOVE || adv == MADV_PAGEOUT)
			maps[m].pg[p] |= PG_ZAP;
		if (adv == MADV_DOFORK)
			maps[m].pg[p] |= PG_FORK;
		if (adv == MADV_DONTFORK && ret == 0)
			maps[m].pg[p] &= ~PG_FORK;
	}
}

static void op_mremap(void)
{
	int m = pick_map(), ret_ok, err, o;
	size_t p, keep;
	__u8 *p2, *dst;

	if (m < 0)
		return;
	o = maps[m].obj;
	switch (rnd(4)) {
	case 0:			/* grow: never */
		p2 = mremap(maps[m].addr, ring_size, ring_size + pgsz * (1 + rnd(4)),
			    one_in(2) ? MREMAP_MAYMOVE : 0);
		err = errno;
		if (p2 != MAP_FAILED) {
			fail("mremap grew a ring mapping");
			return;
		}
		check("mremap", 0, err, -1, E_MREMAP);
		return;
	case 1:			/* shrink */
		keep = 1 + rnd(ring_pages - 1);
		p2 = mremap(maps[m].addr, ring_size, keep * pgsz, 0);
		err = errno;
		trace("shrink map %d to %zu pages: %p %d", m, keep, p2, p2 == MAP_FAILED ? err : 0);
		if (!check("mremap", p2 != MAP_FAILED, err, -1, E_MREMAP))
			return;
		if (p2 != maps[m].addr) {
			fail("mremap shrink moved the mapping");
			return;
		}
		for (p = keep; p < ring_pages; p++)
			maps[m].pg[p] = 0;
		reserve(m, keep, ring_pages);
		map_gc(m);
		obj_maybe_release(o);
		return;
	default:		/* move (or DONTUNMAP, which must fail) */
		dst = mmap(NULL, ring_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (dst == MAP_FAILED)
			return;
		p2 = mremap(maps[m].addr, ring_size, ring_size,
			    MREMAP_MAYMOVE | MREMAP_FIXED | (one_in(3) ? MREMAP_DONTUNMAP : 0),
			    dst);
		err = errno;
		ret_ok = p2 != MAP_FAILED;
		trace("move map %d to %p: %p %d", m, dst, p2, ret_ok ? 0 : err);
		if (!check("mremap", ret_ok, err, -1, E_MREMAP)) {
			munmap(dst, ring_size);
			return;
		}
		if (p2 != dst) {
			fail("mremap moved to %p, not %p", p2, dst);
			return;
		}
		/* The old range is free now (or an anonymous DONTUNMAP leftover). */
		munmap(maps[m].addr, ring_size);
		maps[m].addr = dst;
		return;
	}
}

/*
 * Check the ring of @o through a mapping: the producer is where the model
 * says, every descriptor of the last nr_slots frames points into the
 * buffers with a possible length, the unreleased frames are in distinct
 * buffers and are the frames that were sent.
 */
static void ring_check(int o)
{
	struct obj *ob = &objs[o];
	__u64 lo, rel, rel2;
	__u32 prod, s, h;
	struct vj_desc dsc;
	__u8 frame[FRAME_BUF];
	__u64 *addrs;
	__u8 *p;
	int sig;

	if (!ob->start_known || safe_load32(o, off.producer, &prod))
		return;
	if (!ob->n_known) {
		ob->n = prod - ob->start;
		ob->n_known = 1;
	}
	if (prod != (__u32)(ob->start + ob->n)) {
		fail("producer %u, the model says %u (%llu frames published)", prod,
		     (__u32)(ob->start + ob->n), (unsigned long long)ob->n);
		return;
	}
	lo = ob->n > nr_slots ? ob->n - nr_slots : 0;
	addrs = calloc(nr_slots, sizeof(*addrs));
	if (!addrs)
		return;
	for (rel = lo; rel < ob->n && !failed; rel++) {
		s = (ob->start + rel) & (nr_slots - 1);
		if (ob->dirty[s] && rel < ob->dirty_rel[s])
			continue;
		p = view(o, off.desc + (size_t)s * off.desc_size, sizeof(dsc), 0);
		if (!p)
			continue;
		sig = probe_read(&dsc, p, sizeof(dsc));
		if (sig) {
			fault_at(map_of(p), p, sig, "a descriptor");
			continue;
		}
		if (dsc.addr < off.buffers ||
		    dsc.addr - off.buffers >= (__u64)nr_bufs * off.buf_size ||
		    (dsc.addr - off.buffers) % off.buf_size != off.headroom ||
		    !dsc.len || dsc.len > frame_max) {
			fail("index %u: descriptor addr %#llx len %u", ob->start + (__u32)rel,
			     (unsigned long long)dsc.addr, dsc.len);
			break;
		}
		if (dsc.flags != (ob->tstamp ? VJ_DESC_F_TSTAMP : 0) || dsc.rxhash ||
		    dsc.reserved || (!ob->tstamp && dsc.tstamp) || (ob->tstamp && !dsc.tstamp)) {
			fail("index %u: descriptor flags %#x rxhash %#x reserved %#x tstamp %llu%s",
			     ob->start + (__u32)rel, dsc.flags, dsc.rxhash, dsc.reserved,
			     (unsigned long long)dsc.tstamp,
			     ob->tstamp ? " (time stamps asked for)" : "");
			break;
		}
		descs_checked++;
		if (!ob->sane || rel < ob->r)
			continue;
		/* Unreleased: its own buffer, and the frame that was sent. */
		for (rel2 = ob->r; rel2 < rel; rel2++)
			if (addrs[rel2 & (nr_slots - 1)] == dsc.addr)
				fail("indexes %u and %u share buffer %#llx",
				     ob->start + (__u32)rel2, ob->start + (__u32)rel,
				     (unsigned long long)dsc.addr);
		addrs[rel & (nr_slots - 1)] = dsc.addr;
		if (!ob->exp[s].valid || ob->exp[s].rel != rel || rel < ob->cdirty_rel)
			continue;
		if (dsc.len != ob->exp[s].len) {
			fail("index %u: length %u, %u was sent", ob->start + (__u32)rel,
			     dsc.len, ob->exp[s].len);
			break;
		}
		p = view(o, dsc.addr, dsc.len, 0);
		if (!p)
			continue;
		sig = probe_read(frame, p, dsc.len);
		if (sig) {
			fault_at(map_of(p), p, sig, "a frame");
			continue;
		}
		frames_checked++;
		h = hash_bytes(frame, dsc.len);
		if (h != ob->exp[s].hash)
			fail("index %u: the frame (len %u) is not the one sent",
			     ob->start + (__u32)rel, dsc.len);
	}
	free(addrs);
}

/* Make the consumer word something the kernel accepts: the producer. */
static void resync(int o)
{
	struct obj *ob = &objs[o];
	struct vj_statistics st;

	if (!ob->start_known || !ob->n_known)
		return;
	if (ob->fd >= 0 && read_stats(o, &st))
		return;
	if (safe_store32(o, off.consumer, ob->start + (__u32)ob->n))
		return;
	ob->r = ob->n;
	ob->sane = 1;
	ob->word = W_VALID;
	ob->word_changed = 0;
	/* Everything is released: this read must accept it. */
	if (ob->fd >= 0)
		read_stats(o, &st);
	ob->word_changed = 0;
}

static void op_ring(void)
{
	int o = pick_used_obj();
	struct obj *ob;
	__u64 k;

	if (o < 0)
		return;
	ob = &objs[o];
	ring_check(o);
	if (failed || !ob->start_known)
		return;
	if (!ob->sane || ob->word != W_VALID) {
		resync(o);
		return;
	}
	if (!ob->n_known)
		return;
	k = rnd(ob->n - ob->r + 1);
	if (one_in(3))
		k = ob->n - ob->r;
	if (!k && !one_in(4))
		return;
	if (safe_store32(o, off.consumer, ob->start + (__u32)(ob->r + k)))
		return;
	ob->r += k;
	ob->word_changed = 1;
	if (one_in(4))
		safe_store32(o, off.flags, one_in(2) ? VJ_RING_NEED_WAKEUP : 0);
}

static void op_hostile(void)
{
	int o = pick_used_obj(), sig;
	struct obj *ob;
	struct vj_statistics st;
	__u32 prod, v, s;
	size_t at, n, i;
	__u8 junk[64];
	__u8 *p;

	if (o < 0)
		return;
	ob = &objs[o];
	switch (rnd(6)) {
	case 0:		/* a consumer index the kernel must refuse */
		if (!ob->start_known || !ob->sane || ob->fd < 0 || read_stats(o, &st))
			return;
		v = ob->start + (__u32)ob->r + 257 + rnd(0xfffffdfeu);
		if (safe_store32(o, off.consumer, v))
			return;
		ob->word = W_INVALID;
		ob->word_changed = 1;
		if (one_in(2))
			read_stats(o, &st);
		return;
	case 1:		/* anything */
		v = one_in(2) ? (__u32)rnd64() : ob->start + (__u32)ob->r + rnd(600) - 300;
		if (safe_store32(o, off.consumer, v))
			return;
		ob->sane = 0;
		ob->word = W_UNKNOWN;
		ob->word_changed = 1;
		return;
	case 2:		/* the flags word */
		safe_store32(o, off.flags, one_in(2) ? (__u32)rnd64() : VJ_RING_NEED_WAKEUP);
		return;
	case 3:		/* descriptors */
		n = 1 + rnd(8);
		for (i = 0; i < n; i++) {
			s = rnd(nr_slots);
			at = off.desc + (size_t)s * off.desc_size + rnd(off.desc_size - 3);
			if (safe_store32(o, at & ~(size_t)3, (__u32)rnd64()))
				continue;
			ob->dirty[s] = 1;
			ob->dirty_rel[s] = ob->n_known ? ob->n : ~0ULL;
		}
		return;
	case 4:		/* buffers, headroom and the space between the parts */
		at = rnd(ring_size - sizeof(junk));
		if ((at <= off.consumer + 4 && at + sizeof(junk) > off.consumer) ||
		    (at <= off.flags + 4 && at + sizeof(junk) > off.flags) ||
		    (at <= off.producer + 4 && at + sizeof(junk) > off.producer) ||
		    (at < off.buffers && at + sizeof(junk) > off.desc))
			return;
		p = view(o, at, sizeof(junk), 1);
		if (!p)
			return;
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = rnd64();
		sig = probe_write(p, junk, sizeof(junk));
		if (sig) {
			fault_at(map_of(p), p, sig, "a scribble");
			return;
		}
		ob->cdirty_rel = ob->n_known ? ob->n : ~0ULL;
		return;
	default:	/* the producer: the kernel must not read it back */
		if (safe_load32(o, off.producer, &prod))
			return;
		p = view(o, off.producer, 4, 1);
		if (!p || safe_store32(o, off.producer, (__u32)rnd64()))
			return;
		if (ob->fd >= 0) {
			struct pollfd pfd = { .fd = ob->fd, .events = POLLIN };

			if (poll(&pfd, 1, 0) < 0)
				check("poll", 0, errno, -1, E_POLL);
			else if (ob->sane && ob->n_known && ob->word != W_UNKNOWN &&
				 !!(pfd.revents & POLLIN) != (ob->n > ob->r))
				fail("poll with a scribbled producer: revents %#x, %llu unreleased",
				     pfd.revents, (unsigned long long)(ob->n - ob->r));
		}
		safe_store32(o, off.producer, prod);
		return;
	}
}

/* What the channel @o will do with @frame (@len bytes), if it gets it. */
enum { R_PUB, R_STACK, R_BAD, R_FULL, R_UNSURE };

static int predict(int o, const __u8 *frame, size_t len)
{
	struct obj *ob = &objs[o];
	int full, bad;

	if (!ob->sane || !ob->n_known || ob->word == W_UNKNOWN)
		return R_UNSURE;
	/* Classified first: what no filter takes goes to the stack, full ring or not. */
	if (!obj_matches(ob, frame, len))
		return R_STACK;
	full = ob->n - ob->r >= nr_bufs;
	bad = !len || len > frame_max;
	if (full && bad)
		return R_UNSURE;	/* either check may come first */
	return full ? R_FULL : bad ? R_BAD : R_PUB;
}

struct snap {
	int how;		/* 0 none, 1 statistics, 2 producer */
	struct vj_statistics st;
	__u32 prod;
};

static void take_snap(int o, struct snap *s)
{
	s->how = 0;
	if (objs[o].fd >= 0 && !get_stats(o, &s->st))
		s->how = 1;
	else if (objs[o].start_known && !safe_load32(o, off.producer, &s->prod))
		s->how = 2;
}

/* Send @frame (@len bytes) on device @d and check what the channels did. */
static void send_one(int d, const __u8 *frame, size_t len)
{
	int peer = d ^ 1, o, q, got = -1, events = 0, all = 1, res, ok;
	struct snap before[2], after[2];
	int pred[2] = { R_UNSURE, R_UNSURE }, nk[2] = { 0, 0 };
	__u64 n0[2] = { 0, 0 };
	__u64 dp, ds, db, df;
	ssize_t n;
	int err;

	for (q = 0; q < devs[peer].nq; q++) {
		o = owner[peer][q];
		before[q].how = -1;
		if (o < 0)
			continue;
		take_snap(o, &before[q]);
		/* After the snapshot, which made the kernel read the consumer. */
		pred[q] = predict(o, frame, len);
		nk[q] = objs[o].n_known;
		n0[q] = objs[o].n;
	}
	n = send(devs[d].pkt, frame, len, MSG_DONTWAIT);
	err = errno;
	frames_sent++;
	/* AF_PACKET takes the MTU and a link-layer header, 4 more for a VLAN tag. */
	ok = check("send (AF_PACKET)", n == (ssize_t)len, err,
		   len < 14 || len > (size_t)devs[d].mtu + 14 ?
		   (len > (size_t)devs[d].mtu + 18 ? EMSGSIZE : -1) : 0, E_SEND_PKT);
	if (n >= 0 && n != (ssize_t)len)
		fail("AF_PACKET sent %zd of %zu bytes", n, len);
	if (ok && len < 14) {
		/* Not expected (too short for Ethernet): no oracle for it. */
		for (q = 0; q < devs[peer].nq; q++)
			if (owner[peer][q] >= 0)
				objs[owner[peer][q]].n_known = 0;
		return;
	}
	for (q = 0; q < devs[peer].nq && !failed; q++) {
		struct obj *ob;

		o = owner[peer][q];
		if (o < 0) {
			all = 0;
			continue;
		}
		ob = &objs[o];
		if (before[q].how <= 0) {
			all = 0;
			ob->n_known = 0;
			memset(ob->exp, 0, nr_slots * sizeof(*ob->exp));
			continue;
		}
		after[q].how = 0;
		if (before[q].how == 1) {
			ob->n_known = 0;	/* now from the statistics */
			if (read_stats(o, &after[q].st))
				continue;
			after[q].how = 1;
		} else if (!safe_load32(o, off.producer, &after[q].prod)) {
			after[q].how = 2;
		}
		if (!after[q].how) {
			all = 0;
			ob->n_known = 0;
			continue;
		}
		/* A closed channel seen through its producer only: publishing is certain. */
		if (after[q].how == 2 && ok && devs[peer].nq == 1 && pred[q] == R_PUB &&
		    after[q].prod == before[q].prod)
			fail("a frame of %zu bytes for closed channel on %s was not published",
			     len, devs[peer].name);
		if (after[q].how == 1) {
			dp = after[q].st.rx_packets - before[q].st.rx_packets;
			ds = after[q].st.rx_stack - before[q].st.rx_stack;
			db = after[q].st.rx_bad_length - before[q].st.rx_bad_length;
			df = after[q].st.rx_ring_full - before[q].st.rx_ring_full;
		} else {
			all = 0;
			dp = after[q].prod - before[q].prod;
			ds = 0;
			db = 0;
			df = 0;
		}
		if (dp + ds + db + df > 1) {
			fail("one frame: %llu published, %llu to the stack, %llu bad, %llu full",
			     (unsigned long long)dp, (unsigned long long)ds,
			     (unsigned long long)db, (unsigned long long)df);
			return;
		}
		if (!(dp + ds + db + df))
			continue;
		events++;
		got = q;
		res = dp ? R_PUB : ds ? R_STACK : db ? R_BAD : R_FULL;
		outcomes[res]++;
		if (pred[q] != R_UNSURE && pred[q] != res)
			fail("frame of %zu bytes into %s queue %d: outcome %d, expected %d",
			     len, devs[peer].name, q, res, pred[q]);
		if (dp) {
			__u32 s;

			if (after[q].how == 1 &&
			    after[q].st.rx_bytes - before[q].st.rx_bytes != len)
				fail("rx_bytes grew by %llu for a frame of %zu",
				     (unsigned long long)(after[q].st.rx_bytes -
							  before[q].st.rx_bytes), len);
			if (nk[q]) {
				s = (ob->start + (__u32)n0[q]) & (nr_slots - 1);
				ob->exp[s].rel = n0[q];
				ob->exp[s].len = len;
				ob->exp[s].hash = hash_bytes(frame, len);
				ob->exp[s].valid = 1;
			}
			published++;
		}
		if (after[q].how == 2 && nk[q])
			ob->n = n0[q] + dp;
	}
	if (failed)
		return;
	if (events > 1)
		fail("one frame counted by %d channels", events);
	if (!ok && events)
		fail("a frame that was not sent arrived");
	if (ok && all && !events)
		fail("a frame of %zu bytes into %s reached no channel, all queues bound",
		     len, devs[peer].name);
	/* Check the ring of the channel that published it, at once. */
	if (got >= 0 && !failed && one_in(2))
		ring_check(owner[peer][got]);
}

static void op_send(void)
{
	int d = rnd(NR_DEVS), i, o, count = 1;
	__u8 frame[FRAME_BUF];
	size_t len;

	/* Mostly towards a channel. */
	for (i = 0; i < 8 && owner[d ^ 1][0] < 0 && owner[d ^ 1][1] < 0 && !one_in(5); i++)
		d = rnd(NR_DEVS);
	len = build_frame(d, frame);
	/* Often a frame that a channel on the other side wants. */
	o = owner[d ^ 1][rnd(devs[d ^ 1].nq)];
	for (i = 0; i < 40 && o >= 0 && objs[o].nfilt && (i || !one_in(3)); i++) {
		if (len >= 14 && len <= frame_max && obj_matches(&objs[o], frame, len))
			break;
		len = build_frame(d, frame);
	}
	/* Sometimes a burst of the same frame, long enough to fill a ring. */
	if (one_in(5))
		count = 1 + rnd(one_in(3) ? 2 * nr_bufs : 32);
	for (i = 0; i < count && !failed; i++) {
		/* The transmit queue, and so the receive queue, by the CPU. */
		set_cpu(rnd(2));
		send_one(d, frame, len);
		if (one_in(4) && len >= 60)
			len = 60 + rnd(1514 - 60 + 1);
	}
}

static void op_poll(void)
{
	struct pollfd pfd[NR_FDS];
	int idx[NR_FDS], n = 0, i, ret, o, want_in, gone;
	struct epoll_event ev;

	for (i = 0; i < NR_OBJS; i++) {
		if (!objs[i].used || objs[i].fd < 0 || !one_in(2))
			continue;
		idx[n] = i;
		pfd[n].fd = objs[i].fd;
		pfd[n].events = one_in(5) ? (short)rnd64() : POLLIN | POLLOUT | POLLRDNORM;
		pfd[n].revents = 0;
		n++;
	}
	if (!n)
		return;
	if (one_in(4)) {
		int ep = epoll_create1(EPOLL_CLOEXEC);

		if (ep < 0)
			return;
		ev.events = EPOLLIN | EPOLLOUT | EPOLLERR;
		ev.data.u32 = 0;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0].fd, &ev)) {
			check("epoll_ctl", 0, errno, -1, E_POLL);
		} else {
			ret = epoll_wait(ep, &ev, 1, 0);
			if (ret < 0)
				check("epoll_wait", 0, errno, -1, E_POLL);
			else if (ret && (ev.events & EPOLLOUT))
				fail("epoll reported EPOLLOUT");
		}
		close(ep);
		return;
	}
	ret = poll(pfd, n, 0);
	if (ret < 0) {
		check("poll", 0, errno, -1, E_POLL);
		return;
	}
	for (i = 0; i < n; i++) {
		struct obj *ob;
		short rev = pfd[i].revents & ~0x8000;	/* POLL_BUSY_LOOP */

		o = idx[i];
		ob = &objs[o];
		if (rev & ~(POLLIN | POLLRDNORM | POLLERR | POLLHUP))
			fail("poll: revents %#x", rev);
		gone = ob->state == ST_GONE;
		if (!!(rev & POLLERR) != gone || !!(rev & POLLHUP) != gone)
			fail("poll: revents %#x, state %d", rev, ob->state);
		if (!(pfd[i].events & POLLIN) || !ob->sane || !ob->n_known ||
		    ob->word == W_UNKNOWN)
			continue;
		want_in = ob->n > ob->r;
		if (!!(rev & POLLIN) != want_in)
			fail("poll: revents %#x, %llu frames unreleased", rev,
			     (unsigned long long)(ob->n - ob->r));
	}
}

/* In the child: touch a page of the parent's mapping @m, map @fd itself. */
static __noreturn void child(int m, int fd, int o)
{
	size_t p = rnd(ring_pages);
	__u8 b = 0, *q;
	__u32 prod;
	int sig;

	if (m >= 0 && (maps[m].pg[p] & PG_RING) && !(maps[m].pg[p] & PG_FORK)) {
		sig = probe_read(&b, maps[m].addr + p * pgsz + rnd(pgsz), 1);
		if (!sig)
			_exit(10);		/* VM_DONTCOPY was not honoured */
	}
	if (fd >= 0 && objs[o].mappable) {
		q = mmap(NULL, ring_size, PROT_READ, MAP_SHARED, fd, 0);
		if (q == MAP_FAILED)
			_exit(errno == ENOMEM ? 0 : 11);
		if (probe_load32((__u32 *)(q + off.producer), &prod))
			_exit(12);
		if (objs[o].start_known && objs[o].n_known &&
		    prod != objs[o].start + (__u32)objs[o].n)
			_exit(13);
		if (munmap(q, ring_size))
			_exit(14);
	}
	_exit(0);
}

static void op_fork(void)
{
	int m = pick_map(), o = pick_open_obj(), status = 0, i;
	pid_t pid, w;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		check("fork", 0, errno, -1, (const int[]){ EAGAIN, ENOMEM, 0 });
		return;
	}
	if (pid == 0)
		child(m, o >= 0 ? objs[o].fd : -1, o >= 0 ? o : 0);
	children++;
	for (i = 0; i < CHILD_MS; i++) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		usleep(1000);
	}
	if (i == CHILD_MS) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail("the child did not exit within %d ms", CHILD_MS);
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("child: status %#x (10: ring copied; 11: mmap; 12, 13: producer)", status);
}

/*
 * Read a byte of a random page of a mapping and write it back: a fault is
 * a failure only where the fuzzer did not make the page inaccessible.
 */
static void op_touch(void)
{
	int m = pick_map(), sig, wr = one_in(2);
	size_t p, at;
	__u8 b;

	if (m < 0)
		return;
	p = rnd(ring_pages);
	at = p * pgsz + rnd(pgsz);
	trace("map %d page %zu flags %#x write %d", m, p, maps[m].pg[p], wr);
	sig = probe_read(&b, maps[m].addr + at, 1);
	if (sig) {
		fault_at(m, maps[m].addr + at, sig, "a read");
		return;
	}
	if ((maps[m].pg[p] & (PG_RING | PG_R)) == PG_RING)
		fail("read page %zu of mapping %d, which is not readable (flags %#x)", p, m,
		     maps[m].pg[p]);
	if (!wr)
		return;
	sig = probe_write(maps[m].addr + at, &b, 1);
	if (!sig) {
		if ((maps[m].pg[p] & (PG_RING | PG_W)) == PG_RING)
			fail("wrote page %zu of mapping %d, which is not writable", p, m);
		return;
	}
	if ((maps[m].pg[p] & (PG_RING | PG_W | PG_ZAP)) == (PG_RING | PG_W))
		fail("signal %d writing page %zu of mapping %d (flags %#x)", sig, p, m,
		     maps[m].pg[p]);
	else
		faults_expected++;
}

static void op_close(void)
{
	int o = pick_open_obj();

	if (o >= 0)
		do_close(o);
}

static void op_misc(void)
{
	static const unsigned long cmds[] = { FIONREAD, TIOCOUTQ, 0x8906 /* SIOCGSTAMP */ };
	int o = pick_open_obj(), fd, ret, err;
	struct sockaddr_vj a;
	char ibuf[128];
	socklen_t al = sizeof(a);
	char buf[64];

	if (o < 0)
		return;
	fd = objs[o].fd;
	switch (rnd(9)) {
	case 0:
		ret = send(fd, buf, 10, MSG_DONTWAIT) >= 0;
		check("send", ret, errno, EINVAL, E_MISC);
		break;
	case 1:
		ret = recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0;
		check("recv", ret, errno, EINVAL, E_MISC);
		break;
	case 2:
		memset(&a, 0, sizeof(a));
		a.svj_family = AF_VJCHAN;
		ret = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		check("connect", ret, errno, -1, E_MISC);
		break;
	case 3:
		ret = listen(fd, 1) == 0;
		check("listen", ret, errno, -1, E_MISC);
		break;
	case 4:
		ret = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
		err = errno;
		if (ret >= 0) {
			close(ret);
			fail("accept on a channel socket");
		} else {
			check("accept", 0, err, -1, E_MISC);
		}
		break;
	case 5:
		ret = getsockname(fd, (struct sockaddr *)&a, &al) == 0;
		check("getsockname", ret, errno, -1, E_MISC);
		break;
	case 6:
		ret = getpeername(fd, (struct sockaddr *)&a, &al) == 0;
		check("getpeername", ret, errno, -1, E_MISC);
		break;
	case 7:
		ret = shutdown(fd, rnd(3)) == 0;
		check("shutdown", ret, errno, -1, E_MISC);
		break;
	default:
		ret = ioctl(fd, cmds[rnd(ARRAY_SIZE(cmds))], ibuf) == 0;
		check("ioctl", ret, errno, -1, E_MISC);
		break;
	}
}

static void op_veth(void)
{
	int pair = rnd(2), d, q, o, mtu;
	char cmd[96];

	/*
	 * Half the time, switch the pair's MTU: to 4000, channels stay bound
	 * and longer frames reach them (bad length), new binds are refused; or
	 * back to what they bind to.
	 */
	if (one_in(2)) {
		mtu = devs[2 * pair].mtu == MTU ? mtu_low() : MTU;
		snprintf(cmd, sizeof(cmd), "link set va%d mtu %d\nlink set vb%d mtu %d\n", pair,
			 mtu, pair, mtu);
		if (run_ip(cmd)) {
			fail("ip link set va%d/vb%d mtu %d failed", pair, pair, mtu);
			return;
		}
		devs[2 * pair].mtu = mtu;
		devs[2 * pair + 1].mtu = mtu;
		return;
	}
	snprintf(cmd, sizeof(cmd), "link del va%d\n", pair);
	if (run_ip(cmd)) {
		fail("ip link del va%d failed", pair);
		return;
	}
	for (d = 2 * pair; d < 2 * pair + 2; d++) {
		for (q = 0; q < 2; q++) {
			o = owner[d][q];
			if (o >= 0)
				objs[o].state = ST_GONE;
			owner[d][q] = -1;
		}
		devs[d].ifindex = -1;
	}
	if (make_pair(pair)) {
		fail("cannot create veth pair %d again", pair);
		return;
	}
	list_others();
}

static void (*const ops[NR_OPS])(void) = {
	op_socket, op_bind, op_setsockopt, op_getsockopt, op_mmap, op_munmap,
	op_mprotect, op_madvise, op_mremap, op_ring, op_hostile, op_send,
	op_poll, op_fork, op_close, op_misc, op_veth, op_touch,
};

/* ------------------------------------------------------------------ */

static void setup(void)
{
	struct sigaction sa;
	socklen_t len = sizeof(off);
	int fd, i;

	fd = socket(PF_VJCHAN, SOCK_RAW, 0);
	if (fd < 0 && errno == EAFNOSUPPORT)
		ksft_exit_skip("PF_VJCHAN not supported (CONFIG_VJCHAN=n)\n");
	if (fd < 0)
		ksft_exit_fail_msg("socket(PF_VJCHAN): %s\n", strerror(errno));
	if (getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, &off, &len) || len != sizeof(off))
		ksft_exit_fail_msg("VJ_RING_OFFSETS: %s\n", strerror(errno));
	close(fd);
	pgsz = sysconf(_SC_PAGESIZE);
	ring_size = off.mmap_size;
	ring_pages = ring_size / pgsz;
	nr_slots = off.nr_slots;
	nr_bufs = off.nr_bufs;
	frame_max = off.frame_max;
	if (!ring_pages || !vj_ring_layout_ok(&off, pgsz))
		ksft_exit_fail_msg("VJ_RING_OFFSETS: an impossible layout\n");

	/* Runs reproduce best on the same CPUs: 0, and 1 for queue 1 of va1/vb1. */
	nr_cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
	set_cpu(0);
	if (unshare(CLONE_NEWNET)) {
		if (errno == EPERM)
			ksft_exit_skip("cannot create a network namespace (not root?)\n");
		ksft_exit_fail_msg("unshare(CLONE_NEWNET): %s\n", strerror(errno));
	}
	/* A sysfs of this namespace, for the XPS maps; without it runs are less repeatable. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL))
		ksft_print_msg("no sysfs of the namespace: %s\n", strerror(errno));
	if (run_ip("link set lo up\n"))
		ksft_exit_skip("ip (iproute2) not found\n");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	for (i = 0; i < NR_DEVS; i++) {
		snprintf(devs[i].name, sizeof(devs[i].name), "v%c%d", i & 1 ? 'b' : 'a', i / 2);
		devs[i].pkt = -1;
		owner[i][0] = -1;
		owner[i][1] = -1;
	}
	for (i = 0; i < 2; i++)
		if (make_pair(i))
			ksft_exit_skip("cannot create veth pairs (CONFIG_VETH=n?)\n");
	list_others();

	for (i = 0; i < NR_OBJS; i++) {
		objs[i].dirty = calloc(nr_slots, 1);
		objs[i].dirty_rel = calloc(nr_slots, sizeof(__u64));
		objs[i].exp = calloc(nr_slots, sizeof(struct expframe));
		if (!objs[i].dirty || !objs[i].dirty_rel || !objs[i].exp)
			ksft_exit_fail_msg("out of memory\n");
	}
	for (i = 0; i < NR_MAPS; i++) {
		maps[i].pg = calloc(ring_pages, 1);
		if (!maps[i].pg)
			ksft_exit_fail_msg("out of memory\n");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* CONFIG_ADVISE_SYSCALLS=n: no madvise(); a length of 0 does nothing. */
	have_madvise = madvise(NULL, 0, MADV_NORMAL) == 0;
	if (!have_madvise)
		ksft_print_msg("no madvise() in this kernel: not fuzzed\n");
}

static void help(const char *prog)
{
	fprintf(stderr, "usage: %s [--seed N] [--iterations N] [--seconds N] [--verbose]\n",
		prog);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *budget_from = "default", *env;
	int have_seed = 0, c, total = 0, i, k;
	double t0, el;

	env = getenv("VJCHAN_FUZZ_SECONDS");
	if (env && *env) {
		max_seconds = strtod(env, NULL);
		budget_from = "VJCHAN_FUZZ_SECONDS";
	}

	while ((c = getopt_long(argc, argv, "s:i:t:v", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			have_seed = 1;
			break;
		case 'i':
			max_steps = strtoull(optarg, NULL, 0);
			break;
		case 't':
			max_seconds = strtod(optarg, NULL);
			budget_from = "--seconds";
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			help(argv[0]);
		}
	}
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (__u64)ts.tv_sec * 1000003u ^ (__u64)ts.tv_nsec ^ (__u64)getpid() << 32;
	}
	ksft_print_header();
	ksft_set_plan(1);
	if (max_steps)
		ksft_print_msg("budget: %g s (%s) or %llu steps (--iterations)\n", max_seconds,
			       budget_from, (unsigned long long)max_steps);
	else
		ksft_print_msg("budget: %g s (%s)\n", max_seconds, budget_from);
	ksft_print_msg("seed: %llu\n", (unsigned long long)seed);
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < 8; i++)
		rnd64();
	setup();

	for (i = 0; i < NR_OPS; i++)
		total += op_weight[i];
	t0 = now_s();
	for (step = 0; !failed; step++) {
		if (max_steps && step >= max_steps)
			break;
		if ((step & 15) == 0 && now_s() - t0 >= max_seconds)
			break;
		k = rnd(total);
		for (i = 0; k >= op_weight[i]; i++)
			k -= op_weight[i];
		cur_op = op_names[i];
		op_count[i]++;
		trace("rng %016llx", (unsigned long long)rng_state);
		ops[i]();
	}
	el = now_s() - t0;
	ksft_print_msg("%llu steps in %.1f s; %llu frames sent, %llu published through rings\n",
		       (unsigned long long)step, el, (unsigned long long)frames_sent,
		       (unsigned long long)published);
	ksft_print_msg("generator state at the end: %016llx\n", (unsigned long long)rng_state);
	ksft_print_msg("%llu expected faults; %llu transient errors; %llu children\n",
		       (unsigned long long)faults_expected, (unsigned long long)enomem_seen,
		       (unsigned long long)children);
	ksft_print_msg("%llu descriptors and %llu frames checked in rings\n",
		       (unsigned long long)descs_checked, (unsigned long long)frames_checked);
	ksft_print_msg("%llu binds, %llu filters added\n", (unsigned long long)binds,
		       (unsigned long long)filters_added);
	ksft_print_msg("frames: %llu published, %llu to stack, %llu bad length, %llu ring full\n",
		       (unsigned long long)outcomes[R_PUB], (unsigned long long)outcomes[R_STACK],
		       (unsigned long long)outcomes[R_BAD], (unsigned long long)outcomes[R_FULL]);
	for (i = 0; i < NR_OPS; i++)
		ksft_print_msg("  %-10s %llu\n", op_names[i], (unsigned long long)op_count[i]);
	if (failed) {
		ksft_test_result_fail("fuzz (seed %llu)\n", (unsigned long long)seed);
		ksft_exit_fail();
	}
	ksft_test_result_pass("fuzz (seed %llu)\n", (unsigned long long)seed);
	ksft_exit_pass();
}

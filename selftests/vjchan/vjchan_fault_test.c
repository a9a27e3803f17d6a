// SPDX-License-Identifier: GPL-2.0
/*
 * PF_VJCHAN under allocation failures: a fail-nth sweep of each operation.
 *
 * For an operation and n = 1, 2, ...: the prerequisites are set up without
 * faults, n is written to /proc/thread-self/fail-nth, the operation runs,
 * and fail-nth is read back.  0 means that the n-th fault point of the
 * operation failed; a value above 0 means that the operation passed fewer
 * than n fault points, so the sweep of that operation is complete.  Every
 * result must be success or a clean errno:
 *
 *  socket()                   ENOMEM ENOBUFS ENFILE EMFILE
 *  setsockopt(VJ_ADD_FILTER)  ENOMEM ENOBUFS EFAULT
 *  getsockopt(VJ_STATISTICS)  ENOMEM ENOBUFS EFAULT
 *  bind()                     ENOMEM ENOBUFS EFAULT EINTR
 *  mmap()                     ENOMEM EAGAIN EINTR EFAULT
 *  send() into a channel      ENOMEM ENOBUFS EAGAIN EFAULT (AF_PACKET on the
 *                             veth peer; the frame is received by veth in
 *                             the sending thread, so its fault points count)
 *
 * (EFAULT: with CONFIG_FAULT_INJECTION_USERCOPY, fail-nth also fails user
 * copies.)  After a failure the state must still be clean: a failed bind
 * leaves the socket and the queue free to bind, a failed send leaves the
 * ring consistent.  After each sweep the operation must work normally.  The
 * kernel's health (leaks, WARN, KASAN) is judged from the console.
 *
 * Each sweep has a time budget: VJCHAN_FAULT_SWEEP_SECONDS in the
 * environment (unset or 0: none).  A sweep that runs out of it stops after
 * the fault point it is at, says how far it got and that it is not
 * complete, and still checks that the operation works normally; what it
 * swept was checked all the same.  The budget is printed with each sweep.
 *
 * Needs CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
 * CONFIG_FAULT_INJECTION_DEBUG_FS; skips without them.  failslab and
 * fail_page_alloc are set up in debugfs to fail sleeping and order-0
 * allocations too, silently (verbose 0), and set back afterwards.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest_harness.h"
#include "vjchan_lib.h"

#define DEV_A		"vjfa"
#define DEV_B		"vjfb"
#define ETH_P_VJTEST	0x88b5
#define ETH_P_VJOTHER	0x88b6
#define MAX_NTH		2000
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug"

static const int E_SOCKET[] = { ENOMEM, ENOBUFS, ENFILE, EMFILE, 0 };
static const int E_SOCKOPT[] = { ENOMEM, ENOBUFS, EFAULT, 0 };
static const int E_BIND[] = { ENOMEM, ENOBUFS, EFAULT, EINTR, 0 };
static const int E_MMAP[] = { ENOMEM, EAGAIN, EINTR, EFAULT, 0 };
static const int E_SEND[] = { ENOMEM, ENOBUFS, EAGAIN, EFAULT, 0 };

/* The debugfs knobs, their values for the test, and what they were. */
static const char *const knob_path[] = {
	DEBUGFS "/failslab/ignore-gfp-wait",
	DEBUGFS "/failslab/verbose",
	DEBUGFS "/fail_page_alloc/ignore-gfp-wait",
	DEBUGFS "/fail_page_alloc/ignore-gfp-highmem",
	DEBUGFS "/fail_page_alloc/min-order",
	DEBUGFS "/fail_page_alloc/verbose",
};

static const char *const knob_val[] = { "N", "0", "N", "N", "0", "0" };

#define NR_KNOBS	ARRAY_SIZE(knob_path)

FIXTURE(fault)
{
	int nth;			/* /proc/thread-self/fail-nth */
	int pkt;			/* AF_PACKET on vjfa */
	int ifb;
	__u8 mac_a[ETH_ALEN], mac_b[ETH_ALEN];
	struct vj_ring_offsets off;
	char saved[NR_KNOBS][32];
	int nr_saved;
	__u64 t0;			/* the sweep's start, ns */
	double budget;			/* s, 0: none */
	int stopped;			/* the budget stopped the sweep */
};

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int in_set(int e, const int *set)
{
	for (; *set; set++)
		if (*set == e)
			return 1;
	return 0;
}

/* Arm fail-nth: the @n-th fault point of this thread from now on fails. */
static int nth_set(struct _test_data_fault *self, int n)
{
	char b[16];
	int len = snprintf(b, sizeof(b), "%d", n);

	return pwrite(self->nth, b, len, 0) == len ? 0 : -1;
}

/* What is left of fail-nth (0: the fault was injected), and disarm it. */
static int nth_take(struct _test_data_fault *self)
{
	char b[16] = { 0 };
	int left = -1;

	if (pread(self->nth, b, sizeof(b) - 1, 0) > 0)
		left = atoi(b);
	if (nth_set(self, 0))
		return -1;
	return left;
}

static int vj_socket(void)
{
	return socket(PF_VJCHAN, SOCK_RAW | SOCK_CLOEXEC, VJ_PROTO_DEFAULT);
}

static int vj_bind(int fd, int ifindex)
{
	struct sockaddr_vj a = {
		.svj_family = AF_VJCHAN,
		.svj_ifindex = ifindex,
	};

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

static struct vj_filter filter_ethertype(__u16 type)
{
	struct vj_filter f = { .type = VJ_FILTER_ETHERTYPE, .ethertype = htons(type) };

	return f;
}

static int add_filter(int fd, __u16 type)
{
	struct vj_filter f = filter_ethertype(type);

	return setsockopt(fd, SOL_VJCHAN, VJ_ADD_FILTER, &f, sizeof(f));
}

static int get_stats(int fd, struct vj_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0, sizeof(*st));
	return getsockopt(fd, SOL_VJCHAN, VJ_STATISTICS, st, &len);
}

/* A raw frame from vjfa to vjfb of EtherType @type, @len bytes. */
static size_t build_frame(struct _test_data_fault *self, __u8 *buf, size_t len, __u16 type)
{
	size_t i;

	memcpy(buf, self->mac_b, ETH_ALEN);
	memcpy(buf + ETH_ALEN, self->mac_a, ETH_ALEN);
	buf[12] = type >> 8;
	buf[13] = type & 0xff;
	for (i = ETH_HLEN; i < len; i++)
		buf[i] = i * 7 + 3;
	return len;
}

FIXTURE_SETUP(fault)
{
	socklen_t olen = sizeof(self->off);
	const char *budget;
	struct stat sb;
	unsigned int i;
	int fd;

	self->nth = -1;
	self->pkt = -1;
	self->nr_saved = 0;

	fd = vj_socket();
	if (fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	ASSERT_EQ(0, getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, &self->off, &olen));
	close(fd);

	if (access(FAIL_NTH, F_OK))
		SKIP(return, "no " FAIL_NTH " (CONFIG_FAULT_INJECTION=n)");
	if (stat(DEBUGFS "/failslab", &sb))
		mount("none", DEBUGFS, "debugfs", 0, NULL);
	if (stat(DEBUGFS "/failslab", &sb) || stat(DEBUGFS "/fail_page_alloc", &sb))
		SKIP(return, "no failslab or fail_page_alloc in debugfs (CONFIG_FAILSLAB, %s)",
		     "CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS");
	for (i = 0; i < NR_KNOBS; i++) {
		ASSERT_EQ(0, read_file(knob_path[i], self->saved[i], sizeof(self->saved[i])))
			TH_LOG("cannot read %s", knob_path[i]);
		self->nr_saved = i + 1;
		ASSERT_EQ(0, write_file(knob_path[i], knob_val[i]))
			TH_LOG("cannot write %s to %s", knob_val[i], knob_path[i]);
	}

	self->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth) TH_LOG("%s: %s", FAIL_NTH, strerror(errno));

	budget = getenv("VJCHAN_FAULT_SWEEP_SECONDS");
	self->budget = budget ? strtod(budget, NULL) : 0;
	if (self->budget > 0)
		TH_LOG("budget of this sweep: %g s (VJCHAN_FAULT_SWEEP_SECONDS)", self->budget);
	else
		TH_LOG("budget of this sweep: none (VJCHAN_FAULT_SWEEP_SECONDS unset)");
	self->stopped = 0;
	self->t0 = now_ns();
}

/*
 * The network part of the fixture, for the sweeps that bind: a network
 * namespace of the test's own with the veth pair vjfa/vjfb, and an
 * AF_PACKET socket on vjfa.  The sweeps of socket() and VJ_ADD_FILTER do
 * without it: under KASAN and TCG it costs seconds a test.  The sweep's
 * budget starts after it.  Returns 0, or -1 when the test was skipped.
 */
static int fault_net(struct __test_metadata *_metadata, struct _test_data_fault *self)
{
	struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &drop_all };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr;

	if (unshare(CLONE_NEWNET)) {
		if (errno == EPERM)
			SKIP(return -1, "cannot create a network namespace (not root?)");
		ASSERT_EQ(0, -errno) TH_LOG("unshare(CLONE_NEWNET): %s", strerror(errno));
	}
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	/* One shell for the three commands: each process is slow under KASAN. */
	if (run("ip link add " DEV_A " numtxqueues 1 numrxqueues 1 type veth peer name "
		DEV_B " numtxqueues 1 numrxqueues 1 && ip link set dev " DEV_A
		" up && ip link set dev " DEV_B " up")) {
		if (run("ip -V >/dev/null 2>&1"))
			SKIP(return -1, "ip (iproute2) not found");
		/* Made but not up: a failure, not a missing feature. */
		ASSERT_EQ(0U, if_nametoindex(DEV_A)) TH_LOG("cannot bring up the veth pair");
		SKIP(return -1, "cannot create a veth pair (CONFIG_VETH=n?)");
	}
	self->ifb = if_nametoindex(DEV_B);
	ASSERT_NE(0, self->ifb);

	self->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ASSERT_LE(0, self->pkt) TH_LOG("AF_PACKET: %s", strerror(errno));
	ASSERT_EQ(0, setsockopt(self->pkt, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = if_nametoindex(DEV_A);
	ASSERT_EQ(0, bind(self->pkt, (struct sockaddr *)&sll, sizeof(sll)));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, DEV_A, sizeof(DEV_A));
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_a, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, DEV_B, sizeof(DEV_B));
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_b, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	self->t0 = now_ns();
	return 0;
}

FIXTURE_TEARDOWN(fault)
{
	int i;

	if (self->nth >= 0) {
		nth_set(self, 0);
		close(self->nth);
	}
	if (self->pkt >= 0)
		close(self->pkt);
	for (i = self->nr_saved - 1; i >= 0; i--)
		write_file(knob_path[i], self->saved[i]);
}

/* A bound channel on vjfb queue 0 with an EtherType filter, mapped. */
struct chan {
	int fd;
	__u8 *map;
};

static void chan_open(struct __test_metadata *_metadata, struct _test_data_fault *self,
		      struct chan *c, int map)
{
	c->map = NULL;
	c->fd = vj_socket();
	ASSERT_LE(0, c->fd) TH_LOG("socket: %s", strerror(errno));
	ASSERT_EQ(0, add_filter(c->fd, ETH_P_VJTEST)) TH_LOG("filter: %s", strerror(errno));
	ASSERT_EQ(0, vj_bind(c->fd, self->ifb)) TH_LOG("bind: %s", strerror(errno));
	if (!map)
		return;
	c->map = mmap(NULL, self->off.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	ASSERT_NE(MAP_FAILED, c->map) TH_LOG("mmap: %s", strerror(errno));
}

static void chan_close(struct __test_metadata *_metadata, struct _test_data_fault *self,
		       struct chan *c)
{
	if (c->map && c->map != MAP_FAILED)
		EXPECT_EQ(0, munmap(c->map, self->off.mmap_size));
	c->map = NULL;
	if (c->fd >= 0)
		EXPECT_EQ(0, close(c->fd));
	c->fd = -1;
}

/*
 * Check a result under fault injection; returns 1 when the sweep is over
 * (the operation passed fewer than n fault points).
 */
static int nth_result(struct __test_metadata *_metadata, int n, int left, int ok, int err,
		      const int *allowed, const char *op)
{
	EXPECT_LE(0, left) TH_LOG("%s: cannot read fail-nth back", op);
	if (!ok) {
		EXPECT_TRUE(in_set(err, allowed))
			TH_LOG("%s, fault point %d: errno %d (%s)", op, n, err, strerror(err));
	}
	if (left > 0)
		EXPECT_TRUE(ok) TH_LOG("%s failed (%s) with no fault injected", op, strerror(err));
	return left != 0;
}

/* True when the sweep's budget is spent: the sweep stops there. */
static int over_budget(struct _test_data_fault *self)
{
	if (self->budget > 0 && (now_ns() - self->t0) / 1e9 >= self->budget)
		self->stopped = 1;
	return self->stopped;
}

/*
 * After a sweep of @op that ended before fault point @n: complete (@done),
 * or stopped by its budget.
 */
static void sweep_end(struct __test_metadata *_metadata, struct _test_data_fault *self,
		      int done, int n, const char *op)
{
	double s = (now_ns() - self->t0) / 1e9;

	if (self->stopped) {
		TH_LOG("%s: %d fault points swept in %.0f s, then the budget of %g s ran out: %s",
		       op, n - 1, s, self->budget, "NOT complete");
		return;
	}
	ASSERT_TRUE(done) TH_LOG("%s: more than %d fault points", op, MAX_NTH);
	TH_LOG("%s: %d fault points swept in %.0f s, complete", op, n - 2, s);
}

TEST_F_TIMEOUT(fault, socket, 600)
{
	int n, fd, err, left, done = 0;

	for (n = 1; n <= MAX_NTH && !done && !over_budget(self); n++) {
		ASSERT_EQ(0, nth_set(self, n));
		fd = vj_socket();
		err = errno;
		left = nth_take(self);
		done = nth_result(_metadata, n, left, fd >= 0, err, E_SOCKET, "socket");
		if (fd >= 0)
			EXPECT_EQ(0, close(fd));
	}
	sweep_end(_metadata, self, done, n, "socket()");
	fd = vj_socket();
	ASSERT_LE(0, fd) TH_LOG("socket after the sweep: %s", strerror(errno));
	EXPECT_EQ(0, close(fd));
}

TEST_F_TIMEOUT(fault, add_filter, 600)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	int n, fd, ret, err, left, done = 0;

	for (n = 1; n <= MAX_NTH && !done && !over_budget(self); n++) {
		fd = vj_socket();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, nth_set(self, n));
		ret = setsockopt(fd, SOL_VJCHAN, VJ_ADD_FILTER, &f, sizeof(f));
		err = errno;
		left = nth_take(self);
		done = nth_result(_metadata, n, left, ret == 0, err, E_SOCKOPT, "VJ_ADD_FILTER");
		/* Added, or not at all. */
		ret = setsockopt(fd, SOL_VJCHAN, VJ_ADD_FILTER, &f, sizeof(f));
		EXPECT_EQ(ret ? EEXIST : 0, ret ? errno : 0);
		EXPECT_EQ(0, setsockopt(fd, SOL_VJCHAN, VJ_DEL_FILTER, &f, sizeof(f)));
		EXPECT_EQ(0, close(fd));
	}
	sweep_end(_metadata, self, done, n, "setsockopt(VJ_ADD_FILTER)");
	fd = vj_socket();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, setsockopt(fd, SOL_VJCHAN, VJ_ADD_FILTER, &f, sizeof(f)));
	EXPECT_EQ(0, close(fd));
}

TEST_F_TIMEOUT(fault, statistics, 600)
{
	struct vj_statistics st;
	struct chan c;
	int n, ret, err, left, done = 0;

	if (fault_net(_metadata, self))
		return;
	for (n = 1; n <= MAX_NTH && !done && !over_budget(self); n++) {
		chan_open(_metadata, self, &c, 0);
		ASSERT_EQ(0, nth_set(self, n));
		ret = get_stats(c.fd, &st);
		err = errno;
		left = nth_take(self);
		done = nth_result(_metadata, n, left, ret == 0, err, E_SOCKOPT, "VJ_STATISTICS");
		if (!ret)
			EXPECT_EQ(0U, st.rx_packets);
		chan_close(_metadata, self, &c);
	}
	sweep_end(_metadata, self, done, n, "getsockopt(VJ_STATISTICS)");
	chan_open(_metadata, self, &c, 0);
	EXPECT_EQ(0, get_stats(c.fd, &st));
	chan_close(_metadata, self, &c);
}

TEST_F_TIMEOUT(fault, bind, 900)
{
	int n, fd, ret, err, left, done = 0;

	if (fault_net(_metadata, self))
		return;
	for (n = 1; n <= MAX_NTH && !done && !over_budget(self); n++) {
		fd = vj_socket();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, add_filter(fd, ETH_P_VJTEST));
		ASSERT_EQ(0, nth_set(self, n));
		ret = vj_bind(fd, self->ifb);
		err = errno;
		left = nth_take(self);
		done = nth_result(_metadata, n, left, ret == 0, err, E_BIND, "bind");
		if (ret) {
			/* Nothing half done: the socket and the queue bind now. */
			EXPECT_EQ(0, vj_bind(fd, self->ifb))
				TH_LOG("bind after a failed bind (fault point %d): %s", n,
				       strerror(errno));
		} else {
			/* Bound: the queue is taken. */
			int fd2 = vj_socket();

			ASSERT_LE(0, fd2);
			EXPECT_EQ(-1, vj_bind(fd2, self->ifb));
			EXPECT_EQ(EBUSY, errno);
			EXPECT_EQ(0, close(fd2));
		}
		EXPECT_EQ(0, close(fd));
	}
	sweep_end(_metadata, self, done, n, "bind()");
	fd = vj_socket();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, vj_bind(fd, self->ifb)) TH_LOG("bind after the sweep: %s", strerror(errno));
	EXPECT_EQ(0, close(fd));
}

TEST_F_TIMEOUT(fault, mmap, 900)
{
	size_t size = self->off.mmap_size;
	int n, err, left, done = 0;
	struct chan c;
	__u8 *p;

	if (fault_net(_metadata, self))
		return;
	for (n = 1; n <= MAX_NTH && !done && !over_budget(self); n++) {
		chan_open(_metadata, self, &c, 0);
		ASSERT_EQ(0, nth_set(self, n));
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
		err = errno;
		left = nth_take(self);
		done = nth_result(_metadata, n, left, p != MAP_FAILED, err, E_MMAP, "mmap");
		if (p != MAP_FAILED) {
			/* Every page is there. */
			__u32 prod = __atomic_load_n((__u32 *)(p + self->off.producer),
						     __ATOMIC_ACQUIRE);
			__u32 cons = __atomic_load_n((__u32 *)(p + self->off.consumer),
						     __ATOMIC_RELAXED);

			EXPECT_EQ(prod, cons);
			/* The last page is there too: this must not fault. */
			(void)__atomic_load_n(&p[size - 1], __ATOMIC_RELAXED);
			c.map = p;
		}
		chan_close(_metadata, self, &c);
	}
	sweep_end(_metadata, self, done, n, "mmap()");
	chan_open(_metadata, self, &c, 1);
	chan_close(_metadata, self, &c);
}

/*
 * Send one frame of EtherType @type into a fresh channel with fail-nth
 * armed; @to_ring: the channel's filter matches it.
 */
static void sweep_send(struct __test_metadata *_metadata, struct _test_data_fault *self,
		       __u16 type, const char *what)
{
	const struct vj_ring_offsets *o = &self->off;
	struct vj_statistics st;
	__u8 frame[300];
	size_t len;
	int n, err, left, done = 0, ok;
	struct vj_desc d;
	struct chan c;
	__u32 prod, cons;
	ssize_t sent;

	if (fault_net(_metadata, self))
		return;
	len = build_frame(self, frame, sizeof(frame), type);
	/* The last round, n == MAX_NTH + 1, runs without a fault: the check after the sweep. */
	for (n = 1; n <= MAX_NTH + 1 && !done && !over_budget(self); n++) {
		chan_open(_metadata, self, &c, 1);
		cons = __atomic_load_n((__u32 *)(c.map + o->consumer), __ATOMIC_RELAXED);
		if (n <= MAX_NTH)
			ASSERT_EQ(0, nth_set(self, n));
		sent = send(self->pkt, frame, len, 0);
		err = errno;
		left = n <= MAX_NTH ? nth_take(self) : 1;
		ok = sent == (ssize_t)len;
		if (n > MAX_NTH)
			TH_LOG("%s: more than %d fault points", what, MAX_NTH);
		if (n > MAX_NTH)
			EXPECT_TRUE(0);
		done = nth_result(_metadata, n, left, ok, err, E_SEND, what);
		ASSERT_EQ(0, get_stats(c.fd, &st));
		prod = __atomic_load_n((__u32 *)(c.map + o->producer), __ATOMIC_ACQUIRE);
		/* At most this frame, and only if it was sent; counted once. */
		EXPECT_EQ(st.rx_packets, (__u64)(__u32)(prod - cons));
		EXPECT_GE(1U, st.rx_packets + st.rx_stack + st.rx_bad_length + st.rx_ring_full);
		if (!ok)
			EXPECT_EQ(0U, st.rx_packets + st.rx_stack);
		if (prod != cons) {
			EXPECT_EQ(ETH_P_VJTEST, type);
			memcpy(&d, c.map + o->desc + (size_t)(cons & (o->nr_slots - 1)) *
			       o->desc_size, sizeof(d));
			EXPECT_EQ(len, d.len);
			/* One of the nr_bufs buffers; AF_PACKET frames carry no flags. */
			EXPECT_LE(o->buffers + o->headroom, d.addr);
			EXPECT_LE(d.addr + d.len,
				  o->buffers + (__u64)o->nr_bufs * o->buf_size);
			EXPECT_EQ(0U, d.flags);
			EXPECT_LE(d.addr + d.len, o->mmap_size);
			if (d.len == len && d.addr + d.len <= o->mmap_size)
				EXPECT_EQ(0, memcmp(c.map + d.addr, frame, len));
		}
		/* With no fault, the frame went where the filter says. */
		if (left > 0 && ok && type == ETH_P_VJTEST)
			EXPECT_EQ(1U, st.rx_packets);
		if (left > 0 && ok && type != ETH_P_VJTEST)
			EXPECT_EQ(1U, st.rx_stack);
		chan_close(_metadata, self, &c);
	}
	sweep_end(_metadata, self, done, n, what);

	/* And normally, once more: the frame arrives where the filter says. */
	chan_open(_metadata, self, &c, 1);
	sent = send(self->pkt, frame, len, 0);
	EXPECT_EQ((ssize_t)len, sent) TH_LOG("send after the sweep: %s", strerror(errno));
	ASSERT_EQ(0, get_stats(c.fd, &st));
	EXPECT_EQ(type == ETH_P_VJTEST ? 1U : 0U, st.rx_packets);
	EXPECT_EQ(type == ETH_P_VJTEST ? 0U : 1U, st.rx_stack);
	chan_close(_metadata, self, &c);
}

TEST_F_TIMEOUT(fault, send_to_ring, 900)
{
	sweep_send(_metadata, self, ETH_P_VJTEST, "send (published to the ring)");
}

/* The frame matches no filter: it goes on to the stack (veth copies nothing). */
TEST_F_TIMEOUT(fault, send_to_stack, 900)
{
	sweep_send(_metadata, self, ETH_P_VJOTHER, "send (to the stack)");
}

TEST_HARNESS_MAIN

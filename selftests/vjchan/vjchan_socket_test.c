// SPDX-License-Identifier: GPL-2.0
/*
 * PF_VJCHAN socket creation, options and the operations a channel socket
 * does not support.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/vjchan.h>

#include "../../kselftest_harness.h"

/*
 * Every test starts with a PF_VJCHAN socket of its own (SOCK_RAW, protocol
 * 0, non-blocking), and is skipped if the kernel lacks the family.
 */
FIXTURE(vj)
{
	int fd;
};

FIXTURE_SETUP(vj)
{
	self->fd = socket(PF_VJCHAN, SOCK_RAW | SOCK_NONBLOCK, VJ_PROTO_DEFAULT);
	if (self->fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, self->fd) TH_LOG("socket: %s", strerror(errno));
}

FIXTURE_TEARDOWN(vj)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
}

TEST_F(vj, create_and_close)
{
	int fd = socket(PF_VJCHAN, SOCK_RAW, VJ_PROTO_DEFAULT);

	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	EXPECT_EQ(0, close(fd));
}

TEST_F(vj, create_flags)
{
	int fd = socket(PF_VJCHAN, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(0, close(fd));
}

TEST_F(vj, create_many)
{
	int fds[256];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		fds[i] = socket(PF_VJCHAN, SOCK_RAW, 0);
		ASSERT_LE(0, fds[i]) TH_LOG("socket %u: %s", i, strerror(errno));
	}
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		EXPECT_EQ(0, close(fds[i]));
}

TEST_F(vj, bad_type_refused)
{
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET,
				     SOCK_RDM, SOCK_PACKET };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		errno = 0;
		EXPECT_EQ(-1, socket(PF_VJCHAN, types[i], 0)) TH_LOG("type %d", types[i]);
		EXPECT_EQ(ESOCKTNOSUPPORT, errno) TH_LOG("type %d", types[i]);
	}
	/* Out of range types are refused by the core before the family. */
	errno = 0;
	EXPECT_EQ(-1, socket(PF_VJCHAN, 0x7f, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vj, bad_protocol_refused)
{
	static const int protos[] = { 1, 3, 255, 0x10000, -1, 0x7fffffff };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(protos); i++) {
		errno = 0;
		EXPECT_EQ(-1, socket(PF_VJCHAN, SOCK_RAW, protos[i]))
			TH_LOG("protocol %d", protos[i]);
		EXPECT_EQ(EPROTONOSUPPORT, errno) TH_LOG("protocol %d", protos[i]);
	}
}

TEST_F(vj, socket_options_of_the_core)
{
	int val = -1;
	socklen_t len = sizeof(val);

	ASSERT_EQ(0, getsockopt(self->fd, SOL_SOCKET, SO_DOMAIN, &val, &len));
	EXPECT_EQ(AF_VJCHAN, val);
	len = sizeof(val);
	ASSERT_EQ(0, getsockopt(self->fd, SOL_SOCKET, SO_TYPE, &val, &len));
	EXPECT_EQ(SOCK_RAW, val);
	len = sizeof(val);
	ASSERT_EQ(0, getsockopt(self->fd, SOL_SOCKET, SO_PROTOCOL, &val, &len));
	EXPECT_EQ(0, val);
}

TEST_F(vj, unknown_options_refused)
{
	char buf[64] = { 0 };
	socklen_t len = sizeof(buf);
	socklen_t *bad;
	int val = 1;

	/* Options of the other direction: get-only and set-only ones. */
	errno = 0;
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, VJ_RING_OFFSETS, &val, sizeof(val)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	errno = 0;
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, VJ_STATISTICS, &val, sizeof(val)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	errno = 0;
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, VJ_ADD_FILTER, buf, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
	/* Numbers no option has. */
	errno = 0;
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, -1, NULL, 0));
	EXPECT_EQ(ENOPROTOOPT, errno);
	errno = 0;
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, 1000, &val, sizeof(val)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	len = sizeof(buf);
	errno = 0;
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, 1000, buf, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
	/* Another protocol's level. */
	errno = 0;
	EXPECT_EQ(-1, setsockopt(self->fd, 283 /* SOL_XDP */, 1, &val, sizeof(val)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	len = sizeof(buf);
	errno = 0;
	EXPECT_EQ(-1, getsockopt(self->fd, 283 /* SOL_XDP */, 1, buf, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
	/* An unreadable optlen is a fault, not a crash. */
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	errno = 0;
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, VJ_FEATURES, buf, bad));
	EXPECT_EQ(EFAULT, errno);
	munmap(bad, 4096);
}

TEST_F(vj, unsupported_operations)
{
	struct sockaddr_storage ss = { .ss_family = AF_VJCHAN };
	socklen_t sl = sizeof(ss);
	char buf[16] = { 0 };
	void *p;

	errno = 0;
	EXPECT_EQ(-1, connect(self->fd, (struct sockaddr *)&ss, sizeof(ss)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, listen(self->fd, 1));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, accept(self->fd, NULL, NULL));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, getsockname(self->fd, (struct sockaddr *)&ss, &sl));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* No data through the socket calls: EINVAL (the rst), at once. */
	errno = 0;
	EXPECT_EQ(-1, send(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, recv(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, shutdown(self->fd, SHUT_RDWR));
	EXPECT_EQ(EOPNOTSUPP, errno);

	/* Nothing to map before bind. */
	errno = 0;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, 4096);
}

TEST_F(vj, bind_bad_lengths)
{
	struct sockaddr_storage ss = { .ss_family = AF_VJCHAN };

	/* The core refuses lengths it cannot copy in. */
	errno = 0;
	EXPECT_EQ(-1, bind(self->fd, (struct sockaddr *)&ss, -1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, bind(self->fd, (struct sockaddr *)&ss, sizeof(ss) + 1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, bind(self->fd, (struct sockaddr *)1, sizeof(ss)));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(vj, poll_nothing_ready)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN | POLLOUT };

	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents);
}

TEST_F(vj, listed_in_proc_net_protocols)
{
	char line[512];
	int found = 0;
	FILE *f;

	f = fopen("/proc/net/protocols", "r");
	if (!f)
		SKIP(return, "no /proc/net/protocols");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VJCHAN ", 7))
			found = 1;
	fclose(f);
	EXPECT_TRUE(found);
}

TEST_HARNESS_MAIN

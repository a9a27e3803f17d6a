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

/* Open a PF_VJCHAN socket, or SKIP the test if the kernel lacks the family. */
#define VJ_SOCKET(_metadata, type, proto) ({				\
	int __fd = socket(PF_VJCHAN, (type), (proto));			\
	if (__fd < 0 && errno == EAFNOSUPPORT)				\
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");\
	ASSERT_LE(0, __fd) TH_LOG("socket: %s", strerror(errno));	\
	__fd; })

TEST(create_and_close)
{
	int fd = VJ_SOCKET(_metadata, SOCK_RAW, VJCHAN_PROTO_DEFAULT);

	EXPECT_EQ(0, close(fd));
}

TEST(create_flags)
{
	int fd = VJ_SOCKET(_metadata, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(0, close(fd));
}

TEST(create_many)
{
	int fds[256];
	int i;

	fds[0] = VJ_SOCKET(_metadata, SOCK_RAW, 0);
	for (i = 1; i < 256; i++) {
		fds[i] = socket(PF_VJCHAN, SOCK_RAW, 0);
		ASSERT_LE(0, fds[i]) TH_LOG("socket %d: %s", i, strerror(errno));
	}
	for (i = 0; i < 256; i++)
		EXPECT_EQ(0, close(fds[i]));
}

TEST(bad_type_refused)
{
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET,
				     SOCK_RDM, SOCK_PACKET };
	unsigned int i;

	close(VJ_SOCKET(_metadata, SOCK_RAW, 0));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, socket(PF_VJCHAN, types[i], 0)) TH_LOG("type %d", types[i]);
		EXPECT_EQ(ESOCKTNOSUPPORT, errno) TH_LOG("type %d", types[i]);
	}
	/* Out of range types are refused by the core before the family. */
	errno = 0;
	EXPECT_EQ(-1, socket(PF_VJCHAN, 0x7f, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST(bad_protocol_refused)
{
	static const int protos[] = { 1, 3, 255, 0x10000, -1, 0x7fffffff };
	unsigned int i;

	close(VJ_SOCKET(_metadata, SOCK_RAW, 0));
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, socket(PF_VJCHAN, SOCK_RAW, protos[i])) TH_LOG("protocol %d", protos[i]);
		EXPECT_EQ(EPROTONOSUPPORT, errno) TH_LOG("protocol %d", protos[i]);
	}
}

TEST(socket_options_of_the_core)
{
	int fd = VJ_SOCKET(_metadata, SOCK_RAW, 0);
	int val = -1;
	socklen_t len = sizeof(val);

	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len));
	EXPECT_EQ(AF_VJCHAN, val);
	len = sizeof(val);
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len));
	EXPECT_EQ(SOCK_RAW, val);
	len = sizeof(val);
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &val, &len));
	EXPECT_EQ(0, val);
	close(fd);
}

TEST(unknown_options_refused)
{
	int fd = VJ_SOCKET(_metadata, SOCK_RAW, 0);
	char buf[64] = { 0 };
	socklen_t len = sizeof(buf);
	int val = 1;

	errno = 0;
	EXPECT_EQ(-1, setsockopt(fd, SOL_VJCHAN, 1, &val, sizeof(val)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	errno = 0;
	EXPECT_EQ(-1, setsockopt(fd, SOL_VJCHAN, -1, NULL, 0));
	EXPECT_EQ(ENOPROTOOPT, errno);
	errno = 0;
	EXPECT_EQ(-1, getsockopt(fd, SOL_VJCHAN, 1, buf, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
	/* Another protocol's level. */
	errno = 0;
	EXPECT_EQ(-1, setsockopt(fd, 283 /* SOL_XDP */, 1, &val, sizeof(val)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	len = sizeof(buf);
	errno = 0;
	EXPECT_EQ(-1, getsockopt(fd, 283 /* SOL_XDP */, 1, buf, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
	/* A bad optlen pointer is a fault, not a crash. */
	errno = 0;
	EXPECT_EQ(-1, getsockopt(fd, SOL_VJCHAN, 1, buf, (socklen_t *)1));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

TEST(unsupported_operations)
{
	int fd = VJ_SOCKET(_metadata, SOCK_RAW | SOCK_NONBLOCK, 0);
	struct sockaddr_storage ss = { .ss_family = AF_VJCHAN };
	socklen_t sl = sizeof(ss);
	char buf[16] = { 0 };
	void *p;

	errno = 0;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, sizeof(ss)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&ss, sizeof(ss)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, listen(fd, 1));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, getsockname(fd, (struct sockaddr *)&ss, &sl));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, send(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, recv(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	errno = 0;
	EXPECT_EQ(-1, shutdown(fd, SHUT_RDWR));
	EXPECT_EQ(EOPNOTSUPP, errno);

	errno = 0;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EOPNOTSUPP, errno);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(fd);
}

TEST(bind_bad_lengths)
{
	int fd = VJ_SOCKET(_metadata, SOCK_RAW, 0);
	struct sockaddr_storage ss = { .ss_family = AF_VJCHAN };

	/* The core refuses lengths it cannot copy in. */
	errno = 0;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, -1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, sizeof(ss) + 1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)1, sizeof(ss)));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

TEST(poll_nothing_ready)
{
	int fd = VJ_SOCKET(_metadata, SOCK_RAW, 0);
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };

	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents);
	close(fd);
}

TEST(listed_in_proc_net_protocols)
{
	char line[512];
	int found = 0;
	FILE *f;

	close(VJ_SOCKET(_metadata, SOCK_RAW, 0));
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

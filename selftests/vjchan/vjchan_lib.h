/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the PF_VJCHAN selftests; none of them reports.
 */
#ifndef VJCHAN_LIB_H
#define VJCHAN_LIB_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/sockios.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest.h"

static inline __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Runs a shell command; returns its exit status, -1 if it did not exit. */
static inline __printf(1, 2) int run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	if (ret == -1 || !WIFEXITED(ret))
		return -1;
	return WEXITSTATUS(ret);
}

/* Writes @val to the file @path; 0 if all of it was written, else -1. */
static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* Raises (@on) or drops @cap in the effective set; it stays permitted. */
static inline int set_effective_cap(int on, int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	if (on)
		data[CAP_TO_INDEX(cap)].effective |= CAP_TO_MASK(cap);
	else
		data[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	return syscall(SYS_capset, &hdr, data);
}

static inline int have_effective_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap));
}

/* Drops every capability: effective, permitted and inheritable. */
static inline int drop_all_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	return syscall(SYS_capset, &hdr, data);
}

/* Passes descriptor @fd over the AF_UNIX socket @sock (SCM_RIGHTS). */
static inline int send_fd(int sock, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;

	memset(ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receives a descriptor sent by send_fd(); -1 if none came. */
static inline int recv_fd(int sock)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * Whether the offload feature @name, as `ethtool -k` names it (e.g.
 * "tx-tcp-segmentation"), is active on device @ifname of the caller's
 * network namespace: 1 or 0; -1 if that cannot be told.  Uses the ethtool
 * ioctl, so that no ethtool(8) is needed.
 */
static inline int dev_feature_active(const char *ifname, const char *name)
{
	struct ethtool_sset_info *ssi = NULL;
	struct ethtool_gstrings *strs = NULL;
	struct ethtool_gfeatures *feat = NULL;
	struct ifreq ifr;
	__u32 n = 0, i, blocks;
	int sock, ret = -1;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);

	ssi = calloc(1, sizeof(*ssi) + sizeof(__u32));
	if (!ssi)
		goto out;
	ssi->cmd = ETHTOOL_GSSET_INFO;
	ssi->sset_mask = 1ULL << ETH_SS_FEATURES;
	ifr.ifr_data = (void *)ssi;
	if (ioctl(sock, SIOCETHTOOL, &ifr) || !(ssi->sset_mask & (1ULL << ETH_SS_FEATURES)))
		goto out;
	n = ssi->data[0];

	strs = calloc(1, sizeof(*strs) + (size_t)n * ETH_GSTRING_LEN);
	if (!strs)
		goto out;
	strs->cmd = ETHTOOL_GSTRINGS;
	strs->string_set = ETH_SS_FEATURES;
	strs->len = n;
	ifr.ifr_data = (void *)strs;
	if (ioctl(sock, SIOCETHTOOL, &ifr))
		goto out;
	for (i = 0; i < n; i++)
		if (!strncmp((const char *)strs->data + (size_t)i * ETH_GSTRING_LEN, name,
			     ETH_GSTRING_LEN))
			break;
	if (i == n)
		goto out;

	blocks = (n + 31) / 32;
	feat = calloc(1, sizeof(*feat) + blocks * sizeof(feat->features[0]));
	if (!feat)
		goto out;
	feat->cmd = ETHTOOL_GFEATURES;
	feat->size = blocks;
	ifr.ifr_data = (void *)feat;
	if (ioctl(sock, SIOCETHTOOL, &ifr))
		goto out;
	ret = !!(feat->features[i / 32].active & (1U << (i % 32)));
out:
	free(ssi);
	free(strs);
	free(feat);
	close(sock);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Channel sockets and their rings (the tests assert on the results).  */

static inline int vj_open(void)
{
	return socket(PF_VJCHAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, VJ_PROTO_DEFAULT);
}

static inline int vj_bind_queue(int fd, int ifindex, __u32 queue)
{
	struct sockaddr_vj a = {
		.svj_family = AF_VJCHAN,
		.svj_ifindex = ifindex,
		.svj_queue_id = queue,
	};

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

/* A filter for @proto (IPPROTO_UDP/TCP) over IPv4 or IPv6 (@family) to @port. */
static inline struct vj_filter vj_port_filter(int family, __u8 proto, __u16 port)
{
	struct vj_filter f = {
		.type = family == AF_INET6 ? VJ_FILTER_IPV6 : VJ_FILTER_IPV4,
		.flags = VJ_FILTER_F_DST_PORT,
		.l4_proto = proto,
		.dst_port = htons(port),
	};

	return f;
}

/* VJ_ADD_FILTER or VJ_DEL_FILTER (@op). */
static inline int vj_filter_op(int fd, int op, const struct vj_filter *f)
{
	return setsockopt(fd, SOL_VJCHAN, op, f, sizeof(*f));
}

static inline int vj_read_stats(int fd, struct vj_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0, sizeof(*st));
	if (getsockopt(fd, SOL_VJCHAN, VJ_STATISTICS, st, &len))
		return -1;
	if (len != sizeof(*st)) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static inline __u64 vj_read_features(int fd)
{
	socklen_t len = sizeof(__u64);
	__u64 v = 0;

	if (getsockopt(fd, SOL_VJCHAN, VJ_FEATURES, &v, &len))
		return 0;
	return v;
}

/* A channel ring mapped by vj_ring_map(); its layout from VJ_RING_OFFSETS. */
struct vj_ring {
	__u8 *map;
	size_t size;
	struct vj_ring_offsets off;
	__u32 *prod;
	__u32 *cons;
	__u32 *flags;
	__u32 next;		/* the next index to consume */
};

/*
 * Whether @o describes a ring as the uapi header promises, on pages of
 * @page_size bytes: nr_slots a power of two, VJ_RING_SLOTS_MIN <= nr_bufs
 * <= nr_slots, frame_max = buf_size - headroom; the producer and status
 * words before the descriptors, the consumer and flags words after them and
 * before the buffers, each word alone on its cache line; nr_bufs buffers
 * that end in the last page of the mapping.
 */
static inline int vj_ring_layout_ok(const struct vj_ring_offsets *o, long page_size)
{
	const __u64 words[] = { o->producer, o->status, o->consumer, o->flags };
	__u64 descs_end = o->desc + (__u64)o->nr_slots * o->desc_size;
	__u64 bufs_end = o->buffers + (__u64)o->nr_bufs * o->buf_size;
	unsigned int i, j;

	if (!o->mmap_size || o->mmap_size % page_size || o->mmap_size > VJ_RING_SIZE_MAX ||
	    o->nr_slots < VJ_RING_SLOTS_MIN || o->nr_slots > VJ_RING_SLOTS_MAX ||
	    (o->nr_slots & (o->nr_slots - 1)) ||
	    o->nr_bufs < VJ_RING_SLOTS_MIN || o->nr_bufs > o->nr_slots ||
	    o->desc_size < sizeof(struct vj_desc) ||
	    o->buf_size < VJ_RING_BUF_SIZE_MIN || o->buf_size > page_size ||
	    (o->buf_size & (o->buf_size - 1)) || o->headroom >= o->buf_size ||
	    o->frame_max != o->buf_size - o->headroom ||
	    o->producer + 4 > o->desc || o->status + 4 > o->desc ||
	    descs_end > o->consumer || descs_end > o->flags ||
	    o->consumer + 64 > o->buffers || o->flags + 64 > o->buffers ||
	    bufs_end > o->mmap_size || o->mmap_size - bufs_end >= (__u64)page_size)
		return 0;
	for (i = 0; i < ARRAY_SIZE(words); i++) {
		if (words[i] % 4)
			return 0;
		for (j = 0; j < i; j++)
			if (words[i] / 64 == words[j] / 64)
				return 0;
		/* No descriptor on a word's line. */
		if ((words[i] & ~63ULL) < descs_end && (words[i] | 63) >= o->desc)
			return 0;
	}
	return 1;
}

/* Maps the ring of bound socket @fd, read-write; 0, or -1 with errno. */
static inline int vj_ring_map(int fd, struct vj_ring *r)
{
	struct vj_ring_offsets *o = &r->off;
	socklen_t len = sizeof(*o);
	void *p;

	memset(r, 0, sizeof(*r));
	if (getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, o, &len))
		return -1;
	if (len != sizeof(*o) || !vj_ring_layout_ok(o, sysconf(_SC_PAGESIZE))) {
		errno = EPROTO;
		return -1;
	}
	p = mmap(NULL, o->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 VJ_MMAP_OFFSET_RX_RING);
	if (p == MAP_FAILED)
		return -1;
	r->map = p;
	r->size = o->mmap_size;
	r->prod = (__u32 *)(r->map + o->producer);
	r->cons = (__u32 *)(r->map + o->consumer);
	r->flags = (__u32 *)(r->map + o->flags);
	/* Where the kernel starts the indexes is its business. */
	r->next = __atomic_load_n(r->cons, __ATOMIC_RELAXED);
	return 0;
}

static inline void vj_ring_unmap(struct vj_ring *r)
{
	if (r->map)
		munmap(r->map, r->size);
	r->map = NULL;
}

/* Frames published and not yet consumed. */
static inline __u32 vj_ring_avail(const struct vj_ring *r)
{
	return __atomic_load_n(r->prod, __ATOMIC_ACQUIRE) - r->next;
}

/* Waits up to @ms for @want frames; returns how many there are. */
static inline __u32 vj_ring_wait(const struct vj_ring *r, __u32 want, int ms)
{
	__u64 end = now_ns() + (__u64)ms * 1000000ULL;
	__u32 n;

	while ((n = vj_ring_avail(r)) < want && now_ns() < end)
		usleep(1000);
	return n;
}

/*
 * The frame of index @idx (which the producer has passed) and its length,
 * if its descriptor points headroom bytes into one buffer of the buffer
 * area and the frame fits in that buffer; NULL otherwise.
 */
static inline __u8 *vj_ring_frame(const struct vj_ring *r, __u32 idx, __u32 *len)
{
	const struct vj_ring_offsets *o = &r->off;
	struct vj_desc d;
	__u64 rel;

	memcpy(&d, r->map + o->desc + (size_t)(idx & (o->nr_slots - 1)) * o->desc_size,
	       sizeof(d));
	if (d.addr < o->buffers)
		return NULL;
	rel = d.addr - o->buffers;
	if (rel >= (__u64)o->nr_bufs * o->buf_size || rel % o->buf_size != o->headroom ||
	    !d.len || o->headroom + (__u64)d.len > o->buf_size)
		return NULL;
	*len = d.len;
	return r->map + d.addr;
}

/* Gives back every frame before r->next. */
static inline void vj_ring_release(struct vj_ring *r)
{
	__atomic_store_n(r->cons, r->next, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------ */
/* Frames: parsing and the Internet checksum.                          */

/* Adds @len bytes at @data to a one's complement sum, as 16-bit big-endian words. */
static inline __u32 csum_add_bytes(__u32 sum, const void *data, size_t len)
{
	const __u8 *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* What frame_parse() found in an Ethernet frame. */
struct frame_info {
	__u16 tpid;		/* of a VLAN tag inline in the frame; 0 if none */
	__u16 tci;
	__u16 ethertype;	/* after the tag */
	int family;		/* AF_INET or AF_INET6 */
	const __u8 *ip;		/* the IP header */
	size_t iplen;		/* the datagram's length, by its IP header */
	__u8 proto;		/* IPPROTO_UDP or IPPROTO_TCP */
	const __u8 *l4;		/* the transport header */
	size_t l4len;		/* transport header and payload */
	const __u8 *payload;
	size_t paylen;
	__u16 sport, dport;
	__u32 seq;		/* TCP only */
	__u8 tcp_flags;
	const char *err;	/* what frame_parse() or frame_csum_check() found wrong */
};

static inline int frame_error(struct frame_info *fi, const char *err)
{
	fi->err = err;
	return -1;
}

/*
 * Parses an Ethernet frame of @len bytes that carries UDP or TCP over IPv4
 * or IPv6 (no extension headers, not a fragment), after at most one VLAN
 * tag.  Returns 0, or -1 with what does not parse in fi->err.
 */
static inline int frame_parse(const __u8 *f, size_t len, struct frame_info *fi)
{
	size_t off = 12, ihl, hl;
	const __u8 *ip;

	memset(fi, 0, sizeof(*fi));
	if (len < ETH_HLEN)
		return frame_error(fi, "shorter than an Ethernet header");
	fi->ethertype = f[12] << 8 | f[13];
	if (fi->ethertype == ETH_P_8021Q || fi->ethertype == ETH_P_8021AD) {
		if (len < ETH_HLEN + 4)
			return frame_error(fi, "truncated VLAN tag");
		fi->tpid = fi->ethertype;
		fi->tci = f[14] << 8 | f[15];
		off += 4;
		fi->ethertype = f[off] << 8 | f[off + 1];
	}
	ip = f + off + 2;
	len -= off + 2;
	fi->ip = ip;
	if (fi->ethertype == ETH_P_IP) {
		fi->family = AF_INET;
		if (len < 20 || ip[0] >> 4 != 4)
			return frame_error(fi, "not an IPv4 header");
		ihl = (ip[0] & 0xf) * 4;
		fi->iplen = ip[2] << 8 | ip[3];
		if (ihl < 20 || fi->iplen < ihl || fi->iplen > len)
			return frame_error(fi, "IPv4 header or total length wrong");
		if ((ip[6] << 8 | ip[7]) & 0x3fff)
			return frame_error(fi, "an IPv4 fragment");
		fi->proto = ip[9];
	} else if (fi->ethertype == ETH_P_IPV6) {
		fi->family = AF_INET6;
		if (len < 40 || ip[0] >> 4 != 6)
			return frame_error(fi, "not an IPv6 header");
		ihl = 40;
		fi->iplen = 40 + (ip[4] << 8 | ip[5]);
		if (fi->iplen > len)
			return frame_error(fi, "IPv6 payload length beyond the frame");
		fi->proto = ip[6];
	} else {
		return frame_error(fi, "neither IPv4 nor IPv6");
	}
	fi->l4 = ip + ihl;
	fi->l4len = fi->iplen - ihl;
	if (fi->proto == IPPROTO_UDP) {
		if (fi->l4len < 8 || (size_t)(fi->l4[4] << 8 | fi->l4[5]) != fi->l4len)
			return frame_error(fi, "UDP length wrong");
		hl = 8;
	} else if (fi->proto == IPPROTO_TCP) {
		if (fi->l4len < 20)
			return frame_error(fi, "TCP header truncated");
		hl = (fi->l4[12] >> 4) * 4;
		if (hl < 20 || hl > fi->l4len)
			return frame_error(fi, "TCP data offset wrong");
		fi->seq = (__u32)fi->l4[4] << 24 | fi->l4[5] << 16 | fi->l4[6] << 8 | fi->l4[7];
		fi->tcp_flags = fi->l4[13];
	} else {
		return frame_error(fi, "neither UDP nor TCP");
	}
	fi->sport = fi->l4[0] << 8 | fi->l4[1];
	fi->dport = fi->l4[2] << 8 | fi->l4[3];
	fi->payload = fi->l4 + hl;
	fi->paylen = fi->l4len - hl;
	return 0;
}

/*
 * Checks that the checksums of a frame parsed by frame_parse() are complete
 * and valid: the IPv4 header checksum, and the UDP or TCP checksum over the
 * pseudo-header (a UDP checksum of 0, "none" in IPv4, does not count as
 * complete).  Returns 0, or -1 with which one is wrong in fi->err.
 */
static inline int frame_csum_check(struct frame_info *fi)
{
	__u8 pseudo[40];
	size_t plen;
	__u32 sum;

	if (fi->family == AF_INET) {
		if (csum_add_bytes(0, fi->ip, (fi->ip[0] & 0xf) * 4) != 0xffff)
			return frame_error(fi, "IPv4 header checksum");
		memcpy(pseudo, fi->ip + 12, 8);		/* source, destination */
		pseudo[8] = 0;
		pseudo[9] = fi->proto;
		pseudo[10] = fi->l4len >> 8;
		pseudo[11] = fi->l4len & 0xff;
		plen = 12;
	} else {
		memcpy(pseudo, fi->ip + 8, 32);		/* source, destination */
		pseudo[32] = 0;
		pseudo[33] = 0;
		pseudo[34] = fi->l4len >> 8;
		pseudo[35] = fi->l4len & 0xff;
		pseudo[36] = 0;
		pseudo[37] = 0;
		pseudo[38] = 0;
		pseudo[39] = fi->proto;
		plen = 40;
	}
	if (fi->proto == IPPROTO_UDP && !fi->l4[6] && !fi->l4[7])
		return frame_error(fi, "UDP checksum 0 (none)");
	sum = csum_add_bytes(0, pseudo, plen);
	sum = csum_add_bytes(sum, fi->l4, fi->l4len);
	if (sum != 0xffff)
		return frame_error(fi, fi->proto == IPPROTO_UDP ? "UDP checksum" : "TCP checksum");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Devices: XDP programs, ethtool channels, features and statistics,   */
/* the MTU (for the lifetime tests: what a bound channel refuses).     */

#include <dirent.h>
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* The errno of a system call that this kernel does not have. */
static inline int vj_no_syscall_errno(void)
{
	syscall(-1L);
	return errno;
}

static inline int vj_sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* An XDP program that returns @action (XDP_PASS, XDP_DROP) for every frame
 * (r0 = action; exit): its fd, or -1 with errno.
 */
static inline int vj_xdp_prog(__u32 action)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = (__s32)action },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_XDP;
	attr.insns = (__u64)(unsigned long)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (__u64)(unsigned long)"GPL";
	return vj_sys_bpf(BPF_PROG_LOAD, &attr);
}

/* Attaches XDP program @prog to @ifindex with a BPF link (the driver's own
 * mode when it has one): the link's fd, or -1 with errno.  Closing the link
 * detaches the program.
 */
static inline int vj_xdp_link(int prog, int ifindex)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = prog;
	attr.link_create.target_ifindex = ifindex;
	attr.link_create.attach_type = BPF_XDP;
	return vj_sys_bpf(BPF_LINK_CREATE, &attr);
}

/*
 * Attaches XDP program @prog to @ifindex (@prog -1: detaches the device's
 * program) through rtnetlink, as `ip link set dev X xdpdrv fd N` does:
 * RTM_SETLINK with IFLA_XDP { IFLA_XDP_FD, IFLA_XDP_FLAGS = @flags }.  0, or
 * -1 with errno from the kernel's answer.
 */
static inline int vj_xdp_attach_nl(int ifindex, int prog, __u32 flags)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		char attrs[64];
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char ans[4096];
	struct nlmsgerr *e;
	struct nlmsghdr *nh;
	struct nlattr *xdp, *a;
	__s32 fd32 = prog;
	ssize_t n;
	int sock, err = EPROTO;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.nh.nlmsg_type = RTM_SETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = ifindex;

	xdp = (struct nlattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	xdp->nla_type = NLA_F_NESTED | IFLA_XDP;
	xdp->nla_len = NLA_HDRLEN;
	a = (struct nlattr *)((char *)xdp + xdp->nla_len);
	a->nla_type = IFLA_XDP_FD;
	a->nla_len = NLA_HDRLEN + sizeof(fd32);
	memcpy((char *)a + NLA_HDRLEN, &fd32, sizeof(fd32));
	xdp->nla_len += NLA_ALIGN(a->nla_len);
	if (flags) {
		a = (struct nlattr *)((char *)xdp + xdp->nla_len);
		a->nla_type = IFLA_XDP_FLAGS;
		a->nla_len = NLA_HDRLEN + sizeof(flags);
		memcpy((char *)a + NLA_HDRLEN, &flags, sizeof(flags));
		xdp->nla_len += NLA_ALIGN(a->nla_len);
	}
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + NLA_ALIGN(xdp->nla_len);

	sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sock < 0)
		return -1;
	if (sendto(sock, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		goto out;
	}
	n = recv(sock, ans, sizeof(ans), 0);
	if (n < 0) {
		err = errno;
		goto out;
	}
	for (nh = (struct nlmsghdr *)ans; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type != NLMSG_ERROR ||
		    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
			continue;
		e = NLMSG_DATA(nh);
		err = -e->error;
		break;
	}
out:
	close(sock);
	if (!err)
		return 0;
	errno = err;
	return -1;
}

/* Runs the ethtool ioctl @cmd_data (its first __u32 is the command) on
 * @ifname: the ioctl's result (>= 0; ETHTOOL_F_* bits for the set
 * commands), or -1 with errno.
 */
static inline int vj_ethtool(const char *ifname, void *cmd_data)
{
	struct ifreq ifr;
	int sock, ret, err;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd_data;
	ret = ioctl(sock, SIOCETHTOOL, &ifr);
	err = errno;
	close(sock);
	errno = err;
	return ret;
}

/* `ethtool -l`: 0, or -1 with errno. */
static inline int vj_get_channels(const char *ifname, struct ethtool_channels *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->cmd = ETHTOOL_GCHANNELS;
	return vj_ethtool(ifname, ch) < 0 ? -1 : 0;
}

/* `ethtool -L`: @ch as from vj_get_channels(), with the counts changed.
 * 0, or -1 with errno.
 */
static inline int vj_set_channels(const char *ifname, const struct ethtool_channels *ch)
{
	struct ethtool_channels c = *ch;

	c.cmd = ETHTOOL_SCHANNELS;
	return vj_ethtool(ifname, &c) < 0 ? -1 : 0;
}

/* SIOCGIFMTU: the MTU of @ifname, or -1 with errno. */
static inline int vj_get_mtu(const char *ifname)
{
	struct ifreq ifr;
	int sock, ret, err;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ret = ioctl(sock, SIOCGIFMTU, &ifr);
	err = errno;
	close(sock);
	errno = err;
	return ret < 0 ? -1 : ifr.ifr_mtu;
}

/* SIOCSIFMTU: 0, or -1 with errno. */
static inline int vj_set_mtu(const char *ifname, int mtu)
{
	struct ifreq ifr;
	int sock, ret, err;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_mtu = mtu;
	ret = ioctl(sock, SIOCSIFMTU, &ifr);
	err = errno;
	close(sock);
	errno = err;
	return ret < 0 ? -1 : 0;
}

/*
 * The index of string @name in string set @sset of @ifname (ETH_SS_FEATURES:
 * `ethtool -k` names; ETH_SS_STATS: `ethtool -S` names) and the set's size
 * in @count: the index, or -1 if @ifname has no such string.
 */
static inline int vj_ethtool_string(const char *ifname, __u32 sset, const char *name,
				    __u32 *count)
{
	struct ethtool_sset_info *ssi;
	struct ethtool_gstrings *strs = NULL;
	__u32 n, i;
	int ret = -1;

	ssi = calloc(1, sizeof(*ssi) + sizeof(__u32));
	if (!ssi)
		return -1;
	ssi->cmd = ETHTOOL_GSSET_INFO;
	ssi->sset_mask = 1ULL << sset;
	if (vj_ethtool(ifname, ssi) < 0 || !(ssi->sset_mask & (1ULL << sset)))
		goto out;
	n = ssi->data[0];
	strs = calloc(1, sizeof(*strs) + (size_t)n * ETH_GSTRING_LEN);
	if (!strs)
		goto out;
	strs->cmd = ETHTOOL_GSTRINGS;
	strs->string_set = sset;
	strs->len = n;
	if (vj_ethtool(ifname, strs) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!strncmp((const char *)strs->data + (size_t)i * ETH_GSTRING_LEN, name,
			     ETH_GSTRING_LEN)) {
			*count = n;
			ret = (int)i;
			break;
		}
	}
out:
	free(ssi);
	free(strs);
	return ret;
}

/*
 * Offload feature @name (`ethtool -k` naming, e.g. "rx-gro-hw") of @ifname:
 * whether the driver lets it change (@changeable) and whether it is on
 * (@active).  0, or -1 if that cannot be told.
 */
static inline int vj_feature_get(const char *ifname, const char *name, int *changeable,
				 int *active)
{
	struct ethtool_gfeatures *feat;
	__u32 n = 0, blocks;
	int i, ret = -1;

	i = vj_ethtool_string(ifname, ETH_SS_FEATURES, name, &n);
	if (i < 0)
		return -1;
	blocks = (n + 31) / 32;
	feat = calloc(1, sizeof(*feat) + blocks * sizeof(feat->features[0]));
	if (!feat)
		return -1;
	feat->cmd = ETHTOOL_GFEATURES;
	feat->size = blocks;
	if (vj_ethtool(ifname, feat) >= 0) {
		*changeable = !!(feat->features[i / 32].available & (1U << (i % 32)));
		*active = !!(feat->features[i / 32].active & (1U << (i % 32)));
		ret = 0;
	}
	free(feat);
	return ret;
}

/*
 * Asks for offload feature @name of @ifname on or off (`ethtool -K`): the
 * ioctl's result, 0 if done, ETHTOOL_F_WISH (> 0) if the driver refused
 * (the kernel logs its error), or -1 with errno.
 */
static inline int vj_feature_set(const char *ifname, const char *name, int on)
{
	struct ethtool_sfeatures *sf;
	__u32 n = 0, blocks;
	int i, ret;

	i = vj_ethtool_string(ifname, ETH_SS_FEATURES, name, &n);
	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	blocks = (n + 31) / 32;
	sf = calloc(1, sizeof(*sf) + blocks * sizeof(sf->features[0]));
	if (!sf)
		return -1;
	sf->cmd = ETHTOOL_SFEATURES;
	sf->size = blocks;
	sf->features[i / 32].valid = 1U << (i % 32);
	sf->features[i / 32].requested = on ? 1U << (i % 32) : 0;
	ret = vj_ethtool(ifname, sf);
	free(sf);
	return ret;
}

/* Counter @field (0: rx bytes, 3: rx drop, 8: tx bytes, 11: tx drop, ...) of
 * @ifname in /proc/net/dev (the caller's network namespace), or -1.
 */
static inline long long vj_dev_stat(const char *ifname, unsigned int field)
{
	char line[512], *p, *end;
	unsigned long long v = 0;
	long long ret = -1;
	size_t len = strlen(ifname);
	unsigned int i;
	FILE *fp;

	fp = fopen("/proc/net/dev", "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		p = line + strspn(line, " ");
		if (strncmp(p, ifname, len) || p[len] != ':')
			continue;
		p += len + 1;
		for (i = 0; i <= field; i++, p = end) {
			v = strtoull(p, &end, 10);
			if (end == p)
				break;
		}
		if (i > field)
			ret = (long long)v;
		break;
	}
	fclose(fp);
	return ret;
}

/* The receive "drop" counter of @ifname in /proc/net/dev (rx_dropped, the
 * core's drops included), or -1.
 */
static inline long long vj_dev_rx_dropped(const char *ifname)
{
	return vj_dev_stat(ifname, 3);
}

/* The interface whose MAC address is @mac: its index and name, 0 if none. */
static inline int vj_find_nic_by_mac(const __u8 *mac, char *name)
{
	struct if_nameindex *ifs, *i;
	struct ifreq ifr;
	int fd, found = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ifs = if_nameindex();
	for (i = ifs; i && i->if_index && !found; i++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
		/* sa_family 1: ARPHRD_ETHER */
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) || ifr.ifr_hwaddr.sa_family != 1 ||
		    memcmp(ifr.ifr_hwaddr.sa_data, mac, ETH_ALEN))
			continue;
		snprintf(name, IF_NAMESIZE, "%s", i->if_name);
		found = i->if_index;
	}
	if (ifs)
		if_freenameindex(ifs);
	close(fd);
	return found;
}

/* Whether a device is bound to virtio driver @drv (e.g. "9pnet_virtio"). */
static inline int vj_virtio_driver_in_use(const char *drv)
{
	char path[128];
	struct dirent *de;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/virtio/drivers/%s", drv);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "virtio", 6))
			found = 1;
	closedir(d);
	return found;
}

#endif /* VJCHAN_LIB_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * vjchan_send IFNAME DSTMAC ETHERTYPE_HEX COUNT
 *
 * Sends COUNT Ethernet frames of EtherType ETHERTYPE_HEX to DSTMAC out of
 * IFNAME with an AF_PACKET socket; frame n carries n (32 bits, big endian)
 * after the Ethernet header and is 60 + n % 64 bytes long.  A helper of
 * vjchan_example.sh.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	unsigned char frame[ETH_FRAME_LEN] = { 0 };
	unsigned int mac[ETH_ALEN], count, n, i;
	unsigned long type;
	struct ifreq ifr;
	uint32_t seq;
	size_t len;
	int fd;

	if (argc != 5 || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1],
				&mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "usage: %s IFNAME DSTMAC ETHERTYPE_HEX COUNT\n", argv[0]);
		return 2;
	}
	type = strtoul(argv[3], NULL, 16);
	count = strtoul(argv[4], NULL, 0);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("socket(AF_PACKET)");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		perror("SIOCGIFHWADDR");
		return 1;
	}
	sll.sll_ifindex = if_nametoindex(argv[1]);
	sll.sll_halen = ETH_ALEN;
	for (i = 0; i < ETH_ALEN; i++) {
		frame[i] = mac[i];
		sll.sll_addr[i] = mac[i];
	}
	memcpy(frame + ETH_ALEN, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	frame[12] = type >> 8;
	frame[13] = type & 0xff;
	for (n = 0; n < count; n++) {
		seq = htonl(n);
		memcpy(frame + ETH_HLEN, &seq, sizeof(seq));
		len = 60 + n % 64;
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll,
			   sizeof(sll)) != (ssize_t)len) {
			perror("sendto");
			return 1;
		}
	}
	close(fd);
	return 0;
}

#!/usr/bin/env python3
"""The host side of the guest's multi-queue virtio-net NIC (ci/tests.sh).

    mq-peer.py --tap NAME --timeout SECS

QEMU's backend of the NIC (MAC 52:54:00:76:6a:02, two queue pairs) is the
multi-queue tap device NAME of this host: what the guest sends arrives on
the tap, what is sent out of the tap reaches the guest, through the tap
queue the host's kernel picks by flow hash (so distinct flows spread over
the guest's receive queues).  This program answers the guest's request
frames (selftests/vjchan/vjchan_lifetime_test.c, fixture vnet_mq):

  request, guest -> host: dst ff:ff:ff:ff:ff:ff, src the guest's MAC,
    EtherType 0x88b5, payload "VJMQ" | op u8 | 0 u8 | id u16 | count u32 |
    port u16 (big endian), padded.
  op 1 (flows): `count` (at most 256) IPv4/UDP frames, frame i from
    10.78.0.1:(20000 + i) to 10.78.0.2:port, IPv4 id i, checksums complete,
    payload of 32 bytes: "VJMQ" | id u16 | 0 u16 | i u32 | bytes k = 12..31
    of value (k + i) & 0xff.
  op 2 (features): one frame, EtherType 0x88b6, to the guest's MAC:
    "VJMQ" | 2 | 0 | id u16 | ok u8 | tso u8 | csum u8 | 0, padded: whether
    the tap has TSO and checksum offload now (QEMU sets them from the guest
    offloads the guest driver enables, TUNSETOFFLOAD); ok 0 if the ioctl
    failed.

Everything else is ignored.  One line per request served on stdout, and a
summary at the end; exit status 0 if at least one request was served, 1
otherwise, 2 for bad arguments.
"""
import argparse
import array
import fcntl
import select
import signal
import socket
import struct
import sys
import time

GUEST_MAC = bytes.fromhex("525400766a02")
HOST_MAC = bytes.fromhex("525400766afd")
HOST_IP = bytes([10, 78, 0, 1])
GUEST_IP = bytes([10, 78, 0, 2])
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_MQREQ = 0x88B5
ETH_P_MQANS = 0x88B6
OP_FLOWS = 1
OP_FEATURES = 2
SRC_PORT_BASE = 20000
PAYLOAD = 32
MAX_FLOWS = 256
PACKET_OUTGOING = 4
SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
ETHTOOL_GTSO = 0x1E


def csum(data, start=0):
    """The Internet checksum of @data (one's complement of the sum)."""
    if len(data) % 2:
        data += b"\0"
    s = start + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def flow_payload(req_id, i):
    head = b"VJMQ" + struct.pack("!HHI", req_id, 0, i)
    return head + bytes((k + i) & 0xFF for k in range(len(head), PAYLOAD))


def flow_frame(req_id, i, port):
    """Frame i of the answer to request @req_id (op 1)."""
    payload = flow_payload(req_id, i)
    sport = SRC_PORT_BASE + i
    ulen = 8 + len(payload)
    pseudo = HOST_IP + GUEST_IP + struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen)
    udp = struct.pack("!HHHH", sport, port, ulen, 0) + payload
    ucs = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", ucs) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, i & 0xFFFF, 0x4000, 64,
                     socket.IPPROTO_UDP, 0, HOST_IP, GUEST_IP)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return GUEST_MAC + HOST_MAC + struct.pack("!H", ETH_P_IP) + ip + udp


def parse_request(frame):
    """(op, id, count, port) of a request frame, or None."""
    if len(frame) < 14 + 14 or frame[6:12] != GUEST_MAC:
        return None
    if struct.unpack("!H", frame[12:14])[0] != ETH_P_MQREQ or frame[14:18] != b"VJMQ":
        return None
    op, _, req_id, count, port = struct.unpack("!BBHIH", frame[18:28])
    return op, req_id, count, port


def features_frame(req_id, ok, tso, txcsum):
    payload = b"VJMQ" + struct.pack("!BBHBBBB", OP_FEATURES, 0, req_id, ok, tso, txcsum, 0)
    frame = GUEST_MAC + HOST_MAC + struct.pack("!H", ETH_P_MQANS) + payload
    return frame + b"\0" * (60 - len(frame))


def ethtool_value(sock, ifname, cmd):
    """The value of a legacy ethtool get command (struct ethtool_value)."""
    buf = array.array("I", [cmd, 0])
    addr, _ = buf.buffer_info()
    ifr = struct.pack("16sP", ifname.encode(), addr) + b"\0" * 16
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifr)
    return buf[1]


class Stop(Exception):
    pass


def stop(_signum, _frame):
    raise Stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tap", required=True)
    ap.add_argument("--timeout", type=float, required=True)
    try:
        a = ap.parse_args()
    except SystemExit:
        return 2
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((a.tap, 0))
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.monotonic()
    print("mq-peer: serving %s for %g s" % (a.tap, a.timeout), flush=True)
    # ci/tests.sh stops it after the guest: the summary still comes.
    signal.signal(signal.SIGTERM, stop)
    try:
        served, sent, ignored = serve(a, sock, ctl, t0)
    except Stop:
        served, sent, ignored = STATS
    print("mq-peer: %d requests served, %d frames sent, %d other frames ignored"
          % (served, sent, ignored), flush=True)
    return 0 if served else 1


# What serve() has done so far, for the summary after a SIGTERM.
STATS = [0, 0, 0]


def serve(a, sock, ctl, t0):
    """Answers requests until the timeout: (served, sent, ignored)."""
    served = ignored = sent = 0
    while True:
        STATS[:] = [served, sent, ignored]
        left = a.timeout - (time.monotonic() - t0)
        if left <= 0:
            break
        r, _, _ = select.select([sock], [], [], min(left, 1.0))
        if not r:
            continue
        frame, addr = sock.recvfrom(65536)
        if addr[2] == PACKET_OUTGOING:
            continue
        req = parse_request(frame)
        if req is None:
            ignored += 1
            continue
        op, req_id, count, port = req
        t = time.monotonic() - t0
        if op == OP_FLOWS:
            count = min(count, MAX_FLOWS)
            for i in range(count):
                try:
                    sock.send(flow_frame(req_id, i, port))
                    sent += 1
                except OSError as e:
                    print("mq-peer: send: %s" % e, flush=True)
                if i % 16 == 15:
                    time.sleep(0.0002)
            what = "%d flows to port %d" % (count, port)
        elif op == OP_FEATURES:
            try:
                tso = ethtool_value(ctl, a.tap, ETHTOOL_GTSO)
                txcsum = ethtool_value(ctl, a.tap, ETHTOOL_GTXCSUM)
                ok = 1
            except OSError as e:
                print("mq-peer: ethtool: %s" % e, flush=True)
                tso = txcsum = ok = 0
            sock.send(features_frame(req_id, ok, 1 if tso else 0, 1 if txcsum else 0))
            sent += 1
            what = "features: TSO %s, checksum offload %s" % (
                "on" if tso else "off", "on" if txcsum else "off")
        else:
            ignored += 1
            continue
        served += 1
        print("request %d at %.1f s: id %d: %s" % (served, t, req_id, what), flush=True)
    return served, sent, ignored


if __name__ == "__main__":
    sys.exit(main())

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
  op 3 (TCP stream): the host's own TCP stack connects from
    10.78.0.1:sport (0: any port) to 10.78.0.2:port, through the tap, and
    sends `count` bytes (at most 16 MiB) of the stream of request @id:
    32-bit big-endian words, word j = j ^ (id << 16); then it shuts down
    its side and waits (10 s at most) for the guest to close.  sport is the
    u16 after port in the request (0 in requests of ops 1 and 2).
  op 4 (UDP datagrams): the host's UDP stack sends `count` (at most 256)
    datagrams from 10.78.0.1:sport (0: any) to 10.78.0.2:port, datagram i
    of udp_len(i) bytes (1472 down to 23): "VJMU" | id u16 | 0 u16 | i u32
    | length u32 | 0 u32, then bytes k = 16.. of value (k + 7 * i) & 0xff.
  Ops 3 and 4 go through the host's stack with the tap's offloads as they
    are (TSO, checksum offload: what the guest driver enabled), so the tap
    segments and checksums as it would for any flow.  For them the peer
    puts 10.78.0.1/24 on the tap (once) and binds its sockets to the tap.
    Each runs in a thread of its own (requests go on being served), once
    per id (the same request again within 30 s, a retry of the guest's, is
    ignored), and ends with an answer frame,
    EtherType 0x88b6: "VJMQ" | op | 0 | id u16 | ok u8 | tso u8 | csum u8
    | 0 | sent u32, padded: ok 0 if it failed (no connection, ...), tso and
    csum the tap's offloads when it started, sent the bytes (op 3) or
    datagrams (op 4) handed to the socket.

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
import subprocess
import sys
import threading
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
OP_TCP = 3
OP_UDP = 4
MAX_TCP_BYTES = 16 << 20
MAX_DATAGRAMS = 256
UDP_MAX = 1472
HOST_ADDR = "10.78.0.1"
GUEST_ADDR = "10.78.0.2"
PREFIX = 24
CONNECT_S = 10.0
STREAM_S = 120.0
CLOSE_WAIT_S = 10.0
REPEAT_S = 30.0
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


def parse_sport(frame):
    """The source port of a stream request (ops 3, 4): 0 if absent."""
    if len(frame) < 14 + 16:
        return 0
    return struct.unpack("!H", frame[28:30])[0]


def tcp_stream(req_id, nbytes):
    """The @nbytes bytes that op 3 sends for request @req_id."""
    words = array.array("I", ((j ^ (req_id << 16)) & 0xFFFFFFFF
                              for j in range((nbytes + 3) // 4)))
    if sys.byteorder == "little":
        words.byteswap()
    return words.tobytes()[:nbytes]


def udp_len(i):
    """The length of datagram i of op 4 (its UDP payload)."""
    return UDP_MAX - (i * 97) % 1450


def udp_datagram(req_id, i):
    """Datagram i of the answer to request @req_id (op 4)."""
    n = udp_len(i)
    head = b"VJMU" + struct.pack("!HHIII", req_id, 0, i, n, 0)
    return head + bytes((k + 7 * i) & 0xFF for k in range(len(head), n))


def stream_answer(op, req_id, ok, tso, txcsum, sent):
    """The answer frame to a request of op 3 or 4."""
    payload = b"VJMQ" + struct.pack("!BBHBBBBI", op, 0, req_id, ok, tso, txcsum, 0, sent)
    frame = GUEST_MAC + HOST_MAC + struct.pack("!H", ETH_P_MQANS) + payload
    return frame + b"\0" * (60 - len(frame))


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


def tap_offloads(ifname):
    """(tso, txcsum) of the tap now, -1 each if the peer cannot tell."""
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        return (1 if ethtool_value(ctl, ifname, ETHTOOL_GTSO) else 0,
                1 if ethtool_value(ctl, ifname, ETHTOOL_GTXCSUM) else 0)
    except OSError:
        return -1, -1
    finally:
        ctl.close()


class Streams:
    """The requests of ops 3 and 4: through the host's stack, a thread each."""

    def __init__(self, tap, sock):
        self.tap = tap
        self.sock = sock
        self.seen = {}
        self.addr_ok = False

    def host_addr(self):
        """Puts HOST_ADDR on the tap (once): None, or what failed."""
        if self.addr_ok:
            return None
        r = subprocess.run(["ip", "addr", "replace", "%s/%d" % (HOST_ADDR, PREFIX),
                            "dev", self.tap], capture_output=True, text=True)
        if r.returncode:
            return "ip addr replace %s/%d dev %s: %s" % (HOST_ADDR, PREFIX, self.tap,
                                                        r.stderr.strip())
        self.addr_ok = True
        return None

    def start(self, op, req_id, count, port, sport, now=None):
        """Starts request @req_id of op 3 or 4: what it does, or None for a repeat."""
        now = time.monotonic() if now is None else now
        key = (op, req_id, count, port, sport)
        if now - self.seen.get(key, -REPEAT_S) < REPEAT_S:
            return None
        self.seen[key] = now
        if op == OP_TCP:
            count = min(count, MAX_TCP_BYTES)
            what = "TCP stream of %d bytes to port %d" % (count, port)
            job = self.tcp
        else:
            count = min(count, MAX_DATAGRAMS)
            what = "%d UDP datagrams to port %d" % (count, port)
            job = self.udp
        threading.Thread(target=self.run, args=(job, op, req_id, count, port, sport, what),
                         daemon=True).start()
        return what + " from port %d (host stack)" % sport

    def run(self, job, op, req_id, count, port, sport, what):
        tso, txcsum = tap_offloads(self.tap)
        t0 = time.monotonic()
        err = self.host_addr()
        sent = 0
        if err is None:
            try:
                sent = job(req_id, count, port, sport)
            except OSError as e:
                err = str(e)
        try:
            self.sock.send(stream_answer(op, req_id, 1 if err is None else 0,
                                         max(tso, 0), max(txcsum, 0), sent))
        except OSError as e:
            err = (err or "") + "; answer: %s" % e
        print("id %d: %s (tap TSO %s, checksum offload %s): %s in %.1f s" % (
            req_id, what, {1: "on", 0: "off"}.get(tso, "?"),
            {1: "on", 0: "off"}.get(txcsum, "?"),
            "done, %d sent" % sent if err is None else "failed after %d: %s" % (sent, err),
            time.monotonic() - t0), flush=True)

    def bound_socket(self, kind, sport):
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.tap.encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST_ADDR, sport))
        return s

    def tcp(self, req_id, nbytes, port, sport):
        """Op 3: the bytes sent."""
        data = tcp_stream(req_id, nbytes)
        with self.bound_socket(socket.SOCK_STREAM, sport) as s:
            s.settimeout(CONNECT_S)
            s.connect((GUEST_ADDR, port))
            s.settimeout(STREAM_S)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            # The guest closes once it has it all; not waited for longer.
            s.settimeout(CLOSE_WAIT_S)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        return nbytes

    def udp(self, req_id, count, port, sport):
        """Op 4: the datagrams sent."""
        with self.bound_socket(socket.SOCK_DGRAM, sport) as s:
            for i in range(count):
                s.sendto(udp_datagram(req_id, i), (GUEST_ADDR, port))
                # The first one waits for ARP; then a pause every 8.
                if i == 0:
                    time.sleep(0.5)
                elif i % 8 == 7:
                    time.sleep(0.002)
        return count


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
    streams = Streams(a.tap, sock)
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
        elif op in (OP_TCP, OP_UDP):
            what = streams.start(op, req_id, count, port, parse_sport(frame))
            if what is None:
                print("request at %.1f s: id %d: op %d again: ignored" % (t, req_id, op),
                      flush=True)
                ignored += 1
                continue
        else:
            ignored += 1
            continue
        served += 1
        print("request %d at %.1f s: id %d: %s" % (served, t, req_id, what), flush=True)
    return served, sent, ignored


if __name__ == "__main__":
    sys.exit(main())

"""Tests of ci/mq-peer.py: the frames it builds and the requests it reads."""
import importlib.util
import os
import struct
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("mq_peer", os.path.join(HERE, "..", "mq-peer.py"))
mq = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mq)


def request(op, req_id, count, port, src=mq.GUEST_MAC, sport=0):
    f = b"\xff" * 6 + src + struct.pack("!H", mq.ETH_P_MQREQ) + b"VJMQ"
    f += struct.pack("!BBHIHH", op, 0, req_id, count, port, sport)
    return f + b"\0" * (60 - len(f))


class FlowFrame(unittest.TestCase):
    def test_headers_and_checksums(self):
        for i in (0, 1, 63, 255):
            f = mq.flow_frame(0xBEEF, i, 7100)
            self.assertEqual(f[:6], mq.GUEST_MAC)
            self.assertEqual(f[6:12], mq.HOST_MAC)
            self.assertEqual(f[12:14], b"\x08\x00")
            ip, udp = f[14:34], f[34:]
            self.assertEqual(mq.csum(ip), 0)
            self.assertEqual(struct.unpack("!H", ip[4:6])[0], i)
            sport, dport, ulen, ucs = struct.unpack("!HHHH", udp[:8])
            self.assertEqual((sport, dport, ulen), (20000 + i, 7100, 8 + mq.PAYLOAD))
            self.assertNotEqual(ucs, 0)
            pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
            self.assertEqual(mq.csum(pseudo + udp), 0)
            self.assertEqual(len(f), 14 + 20 + 8 + mq.PAYLOAD)

    def test_payload(self):
        p = mq.flow_payload(7, 5)
        self.assertEqual(p[:4], b"VJMQ")
        self.assertEqual(struct.unpack("!HHI", p[4:12]), (7, 0, 5))
        self.assertEqual(p[12:], bytes((k + 5) & 0xFF for k in range(12, mq.PAYLOAD)))


class Requests(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(mq.parse_request(request(1, 9, 64, 7100)), (1, 9, 64, 7100))
        self.assertEqual(mq.parse_request(request(2, 10, 1, 7100)), (2, 10, 1, 7100))

    def test_not_a_request(self):
        self.assertIsNone(mq.parse_request(request(1, 9, 64, 7100, src=mq.HOST_MAC)))
        self.assertIsNone(mq.parse_request(request(1, 9, 64, 7100)[:20]))
        other = bytearray(request(1, 9, 64, 7100))
        other[12:14] = b"\x08\x06"
        self.assertIsNone(mq.parse_request(bytes(other)))

    def test_features_answer(self):
        f = mq.features_frame(0x1234, 1, 1, 0)
        self.assertEqual(len(f), 60)
        self.assertEqual(f[12:14], b"\x88\xb6")
        self.assertEqual(f[14:18], b"VJMQ")
        self.assertEqual(struct.unpack("!BBHBBB", f[18:25]), (2, 0, 0x1234, 1, 1, 0))


class StreamRequests(unittest.TestCase):
    def test_parse_tcp_and_udp(self):
        f = request(mq.OP_TCP, 0x4242, 512 << 10, 7101, sport=30001)
        self.assertEqual(mq.parse_request(f), (3, 0x4242, 512 << 10, 7101))
        self.assertEqual(mq.parse_sport(f), 30001)
        f = request(mq.OP_UDP, 7, 64, 7100, sport=0)
        self.assertEqual(mq.parse_request(f), (4, 7, 64, 7100))
        self.assertEqual(mq.parse_sport(f), 0)

    def test_sport_absent_or_zero_in_old_requests(self):
        self.assertEqual(mq.parse_sport(request(1, 9, 64, 7100)), 0)
        self.assertEqual(mq.parse_sport(request(1, 9, 64, 7100)[:28]), 0)

    def test_tcp_stream_words(self):
        data = mq.tcp_stream(0x1234, 4099)
        self.assertEqual(len(data), 4099)
        for j in (0, 1, 511, 1023):
            self.assertEqual(struct.unpack("!I", data[4 * j:4 * j + 4])[0],
                             j ^ (0x1234 << 16))
        self.assertEqual(data[4096:], struct.pack("!I", 1024 ^ (0x1234 << 16))[:3])
        self.assertNotEqual(mq.tcp_stream(1, 64), mq.tcp_stream(2, 64))

    def test_udp_datagrams(self):
        lens = [mq.udp_len(i) for i in range(mq.MAX_DATAGRAMS)]
        self.assertEqual(lens[0], 1472)
        self.assertTrue(all(16 <= n <= 1472 for n in lens))
        d = mq.udp_datagram(0xBEEF, 5)
        self.assertEqual(len(d), mq.udp_len(5))
        self.assertEqual(d[:4], b"VJMU")
        self.assertEqual(struct.unpack("!HHIII", d[4:20]), (0xBEEF, 0, 5, len(d), 0))
        self.assertEqual(d[20:], bytes((k + 35) & 0xFF for k in range(20, len(d))))

    def test_answer(self):
        f = mq.stream_answer(mq.OP_TCP, 0x1234, 1, 0, 1, 393216)
        self.assertEqual(len(f), 60)
        self.assertEqual(f[:12], mq.GUEST_MAC + mq.HOST_MAC)
        self.assertEqual(f[12:14], b"\x88\xb6")
        self.assertEqual(f[14:18], b"VJMQ")
        self.assertEqual(struct.unpack("!BBHBBBBI", f[18:30]), (3, 0, 0x1234, 1, 0, 1, 0, 393216))

    def test_retries_ignored_and_clamped(self):
        started = []

        class Fake(mq.Streams):
            def run(self, job, op, req_id, count, port, sport, what):
                started.append((job.__name__, op, req_id, count, port, sport))

        s = Fake("tap0", None)
        self.assertIsNotNone(s.start(mq.OP_TCP, 5, 1 << 30, 7101, 30000, now=100.0))
        # The guest's retry: ignored.
        self.assertIsNone(s.start(mq.OP_TCP, 5, 1 << 30, 7101, 30000, now=110.0))
        self.assertIsNotNone(s.start(mq.OP_UDP, 5, 1000, 7100, 0, now=110.0))
        self.assertIsNotNone(s.start(mq.OP_TCP, 6, 100, 7101, 0, now=110.0))
        # The same id much later: another test's request.
        self.assertIsNotNone(s.start(mq.OP_TCP, 6, 100, 7101, 0, now=200.0))
        for t in threading.enumerate():
            if t is not threading.current_thread():
                t.join(5)
        self.assertEqual(sorted(started), sorted([
            ("tcp", 3, 5, mq.MAX_TCP_BYTES, 7101, 30000),
            ("udp", 4, 5, mq.MAX_DATAGRAMS, 7100, 0),
            ("tcp", 3, 6, 100, 7101, 0), ("tcp", 3, 6, 100, 7101, 0)]))


if __name__ == "__main__":
    unittest.main()

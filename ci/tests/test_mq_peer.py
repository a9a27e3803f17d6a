"""Tests of ci/mq-peer.py: the frames it builds and the requests it reads."""
import importlib.util
import os
import struct
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("mq_peer", os.path.join(HERE, "..", "mq-peer.py"))
mq = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mq)


def request(op, req_id, count, port, src=mq.GUEST_MAC):
    f = b"\xff" * 6 + src + struct.pack("!H", mq.ETH_P_MQREQ) + b"VJMQ"
    f += struct.pack("!BBHIH", op, 0, req_id, count, port)
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


if __name__ == "__main__":
    unittest.main()

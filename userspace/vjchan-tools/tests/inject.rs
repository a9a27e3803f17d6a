//! `vjchan-inject` end to end: this test plays the guest (QEMU's side of the
//! `-netdev dgram` socket) on 127.0.0.1 and checks what the injector sends.

use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const INJECT: &str = env!("CARGO_BIN_EXE_vjchan-inject");
const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x76, 0x6a, 0x01];
const HOST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe];

/// The data frame of the harness specification, written independently of
/// the injector's own builder.
fn expected(phase: u8, n: u32) -> Vec<u8> {
    let l = 16 + (u64::from(n) * 37 % 1457) as usize;
    let mut f = vec![0u8; 42 + l];
    f[..6].copy_from_slice(&[0x52, 0x54, 0x00, 0x76, 0x6a, 0x01]);
    f[6..12].copy_from_slice(&[0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe]);
    f[12] = 0x08;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((28 + l) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&((n & 0xffff) as u16).to_be_bytes());
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 77, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 77, 0, 2]);
    let mut sum: u32 = (0..10)
        .map(|i| u32::from(u16::from_be_bytes([ip[2 * i], ip[2 * i + 1]])))
        .sum();
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f[34..36].copy_from_slice(&7001u16.to_be_bytes());
    f[36..38].copy_from_slice(&(7000 + u16::from(phase)).to_be_bytes());
    f[38..40].copy_from_slice(&((8 + l) as u16).to_be_bytes());
    let p = &mut f[42..];
    p[..4].copy_from_slice(&[b'V', b'J', phase, 0]);
    p[4..8].copy_from_slice(&n.to_be_bytes());
    p[8..12].copy_from_slice(&(l as u32).to_be_bytes());
    for (i, b) in p.iter_mut().enumerate().skip(16) {
        *b = ((i as u64 + u64::from(n) * 7) & 0xff) as u8;
    }
    f
}

/// The sequence number of a received frame, after checking it byte for byte.
fn check(frame: &[u8], phase: u8) -> u32 {
    assert!(frame.len() >= 58, "frame of {} bytes", frame.len());
    let n = u32::from_be_bytes(frame[46..50].try_into().unwrap());
    assert!(
        frame == expected(phase, n),
        "frame {n} of phase {phase} differs"
    );
    n
}

fn request(phase: u8, mode: u8, first: u32, count: u32, total: u32) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x52, 0x54, 0x00, 0x76, 0x6a, 0x01, 0x88, 0xb5]);
    f.extend_from_slice(b"VJREQ");
    f.extend_from_slice(&[phase, mode, 0]);
    f.extend_from_slice(&first.to_be_bytes());
    f.extend_from_slice(&count.to_be_bytes());
    f.extend_from_slice(&total.to_be_bytes());
    f.resize(60, 0);
    f
}

/// ARP over Ethernet for IPv4, operation `op`, without the Ethernet addresses.
fn arp(op: u8, sender: ([u8; 6], [u8; 4]), target: ([u8; 6], [u8; 4])) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0, op]);
    f.extend_from_slice(&sender.0);
    f.extend_from_slice(&sender.1);
    f.extend_from_slice(&target.0);
    f.extend_from_slice(&target.1);
    f
}

/// The ARP request of mode 2: broadcast, who has 10.77.0.2? tell 10.77.0.1.
fn arp_request() -> Vec<u8> {
    let mut f = arp(1, (HOST_MAC, [10, 77, 0, 1]), ([0; 6], [10, 77, 0, 2]));
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&HOST_MAC);
    f
}

/// The guest NIC's reply to it: 10.77.0.2 is at 52:54:00:76:6a:01.
fn arp_reply() -> Vec<u8> {
    let mut f = arp(2, (GUEST_MAC, [10, 77, 0, 2]), (HOST_MAC, [10, 77, 0, 1]));
    f[..6].copy_from_slice(&HOST_MAC);
    f[6..12].copy_from_slice(&GUEST_MAC);
    f
}

/// The injector sends bursts of hundreds of frames; on a loaded machine the test may read them
/// late, so its socket gets room for a whole burst (4 MiB; beyond `rmem_max` as root).
fn big_receive_buffer(sock: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 4 << 20;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `sock` is an open socket and `size` a valid `c_int` for the call's duration.
        let ret = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if ret == 0 {
            return;
        }
    }
}

struct Injector {
    child: Child,
    guest: UdpSocket,
    inject: SocketAddr,
}

impl Injector {
    fn start(timeout: &str) -> Self {
        let guest = UdpSocket::bind("127.0.0.1:0").unwrap();
        big_receive_buffer(&guest);
        let inject = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = Command::new(INJECT)
            .args(["--listen", &inject.to_string()])
            .args(["--peer", &guest.local_addr().unwrap().to_string()])
            .args(["--timeout", timeout])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Self {
            child,
            guest,
            inject,
        }
    }

    fn send(&self, frame: &[u8]) {
        self.guest.send_to(frame, self.inject).unwrap();
    }

    /// Waits until the injector serves: asks for frame 5 of phase 1 until it
    /// comes (requests are lost until the injector listens), then takes the
    /// answers to the requests sent before.
    fn wait_ready(&self, buf: &mut [u8]) {
        let end = Instant::now() + Duration::from_secs(3);
        loop {
            assert!(Instant::now() < end, "the injector never answered");
            self.send(&request(1, 0, 5, 1, 1024));
            if let Some(len) = self.recv(buf, 100) {
                assert_eq!(check(&buf[..len], 1), 5);
                break;
            }
        }
        while let Some(len) = self.recv(buf, 300) {
            assert_eq!(check(&buf[..len], 1), 5);
        }
    }

    /// The next datagram, or None after `ms` of silence.
    fn recv(&self, buf: &mut [u8], ms: u64) -> Option<usize> {
        self.guest
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .unwrap();
        self.guest.recv(buf).ok()
    }

    fn finish(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        (status, out)
    }
}

#[test]
fn serves_the_guest() {
    let inj = Injector::start("4");
    let mut buf = vec![0u8; 65536];

    inj.wait_ready(&mut buf);

    // Junk, and a request from somewhere else: ignored.
    inj.send(b"xyz");
    let mut arp = request(1, 0, 0, 1, 1);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    inj.send(&arp);
    inj.send(&request(1, 7, 0, 1, 1));
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    other
        .send_to(&request(1, 0, 0, 1, 1024), inj.inject)
        .unwrap();

    // Mode 0, bounded by total: frames 0..255 in order, nothing else.
    inj.send(&request(2, 0, 0, 300, 256));
    for want in 0..256 {
        let len = inj.recv(&mut buf, 2000).expect("frame missing");
        assert_eq!(check(&buf[..len], 2), want);
    }
    assert_eq!(inj.recv(&mut buf, 300), None, "more frames than asked for");

    // Mode 1 for 200 ms from frame 10, wrapping at 50.
    let t0 = Instant::now();
    inj.send(&request(3, 1, 10, 200, 50));
    let mut seqs = Vec::new();
    let mut last = t0;
    while let Some(len) = inj.recv(&mut buf, 500) {
        seqs.push(check(&buf[..len], 3));
        last = Instant::now();
    }
    let span = last - t0;
    assert!(seqs.len() > 100, "only {} flood frames", seqs.len());
    assert_eq!(seqs[0], 10);
    assert!(seqs.iter().all(|&n| n < 50));
    assert!(
        seqs.windows(2).any(|w| w[1] < w[0]),
        "the sequence never wrapped"
    );
    assert!(
        span >= Duration::from_millis(150),
        "flood over after {span:?}"
    );
    assert!(span < Duration::from_millis(3000), "flood lasted {span:?}");

    let (status, out) = inj.finish();
    print!("{out}");
    assert!(status.success(), "{status}");
    assert!(out.contains("phase 2 mode 0 total 256: frames 0..255 (count 300): sent 256"));
    assert!(out.contains("phase 3 mode 1 total 50: flood of 200 ms from frame 10"));
    assert!(out.contains("EtherType 0x0806, not a request"));
    assert!(out.contains("request of unknown mode 7"));
    assert!(out.contains("not from the peer"));
    assert!(out.contains("summary: "));
}

/// Mode 2 with a guest that answers: the confirmation is frame 0 of the
/// phase, and a request that came during the wait is served after it.
#[test]
fn arp_probe_answered() {
    let inj = Injector::start("4");
    let mut buf = vec![0u8; 65536];

    inj.wait_ready(&mut buf);
    // first, count and total are not looked at.
    inj.send(&request(4, 2, 0, 0, 0));
    let len = inj.recv(&mut buf, 2000).expect("no ARP request");
    assert_eq!(buf[..len], arp_request()[..], "ARP request");

    // During the wait: a request (queued), a wrong reply and junk (ignored).
    inj.send(&request(5, 0, 7, 2, 100));
    let mut wrong = arp_reply();
    wrong[41] = 9;
    inj.send(&wrong);
    inj.send(b"xyz");
    assert_eq!(inj.recv(&mut buf, 300), None, "sent before the reply");

    // The reply, padded: the confirmation, then the queued request.
    let mut reply = arp_reply();
    reply.resize(60, 0);
    inj.send(&reply);
    let len = inj.recv(&mut buf, 2000).expect("no confirmation");
    assert_eq!(check(&buf[..len], 4), 0, "confirmation");
    for want in [7, 8] {
        let len = inj.recv(&mut buf, 2000).expect("queued request not served");
        assert_eq!(check(&buf[..len], 5), want);
    }
    assert_eq!(inj.recv(&mut buf, 300), None, "more than asked for");

    let (status, out) = inj.finish();
    print!("{out}");
    assert!(status.success(), "{status}");
    assert!(out.contains("phase 4 mode 2: ARP probe: answered after "));
    assert!(out.contains("; confirmed with frame 0; 1 requests queued meanwhile"));
    assert!(out.contains("phase 5 mode 0 total 100: frames 7..8 (count 2): sent 2"));
    assert!(out.contains("ARP frame, not the reply to the probe: target IP 10.77.0.9"));
    assert!(out.contains("shorter than an Ethernet header"));
    assert!(out.contains(" 1 mode 2), 1 ARP probes answered"));
    assert!(!out.contains("queued requests not served"));
}

/// Mode 2 with a guest that does not answer (correctly): no confirmation,
/// and the request queued during the 5 s wait is served after it.
#[test]
fn arp_probe_unanswered() {
    let inj = Injector::start("8");
    let mut buf = vec![0u8; 65536];

    inj.wait_ready(&mut buf);
    inj.send(&request(4, 2, 0, 1, 1));
    let len = inj.recv(&mut buf, 2000).expect("no ARP request");
    let t0 = Instant::now();
    assert_eq!(buf[..len], arp_request()[..], "ARP request");

    // Not the reply: the guest asking itself, a reply from elsewhere.
    let mut asking = arp_reply();
    asking[21] = 1;
    inj.send(&asking);
    let mut elsewhere = arp_reply();
    elsewhere[6..12].copy_from_slice(&[0x52, 0x54, 0x00, 0x76, 0x6a, 0x02]);
    inj.send(&elsewhere);
    inj.send(&request(5, 0, 3, 1, 100));

    let len = inj.recv(&mut buf, 7000).expect("queued request not served");
    let waited = t0.elapsed();
    assert_eq!(check(&buf[..len], 5), 3, "not the queued request");
    assert!(waited >= Duration::from_millis(4500), "after {waited:?}");

    // A correct reply, too late: not confirmed.
    inj.send(&arp_reply());
    assert_eq!(inj.recv(&mut buf, 500), None, "more than asked for");

    let (status, out) = inj.finish();
    print!("{out}");
    assert!(status.success(), "{status}");
    assert!(out.contains("phase 4 mode 2: ARP probe: no reply in "));
    assert!(out.contains(" s; nothing sent; 1 requests queued meanwhile"));
    assert!(out.contains("not the reply to the probe: operation 1, not a reply"));
    assert!(out.contains("not the reply to the probe: from 52:54:00:76:6a:02"));
    assert!(out.contains("EtherType 0x0806, not a request"));
    assert!(out.contains("1 mode 2), 0 ARP probes answered"));
}

#[test]
fn nothing_served_is_a_failure() {
    let inj = Injector::start("0.3");
    thread::sleep(Duration::from_millis(100));
    inj.send(b"not a request");
    let (status, out) = inj.finish();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("summary: 0 requests served"), "{out}");
}

#[test]
fn bad_arguments() {
    for args in [
        &["--listen", "127.0.0.1:1"][..],
        &["--listen", "x", "--peer", "127.0.0.1:1", "--timeout", "1"],
        &["--bogus"],
    ] {
        let st = Command::new(INJECT)
            .args(args)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(2), "{args:?}");
    }
}

//! `vjchan-inject`: the host side of the virtio-net test harness.
//!
//! ```text
//! vjchan-inject --listen ADDR:PORT --peer ADDR:PORT --timeout SECS
//! ```
//!
//! QEMU's `-netdev dgram` backend of the guest's test NIC (MAC
//! 52:54:00:76:6a:01) sends every frame the guest transmits as one UDP
//! datagram to `--listen`, and delivers every datagram sent to `--peer` (its
//! own local address) to the guest as one frame.  The guest sends request
//! frames (EtherType 0x88b5, payload `"VJREQ"`); this program answers them
//! with IPv4/UDP data frames built by [`build_data_frame`]:
//!
//! - mode 0: frames `first..first+count-1` of a phase (bounded by `total`),
//!   in order, with a 100 us sleep every 16 frames;
//! - mode 1: a flood of the phase's frames for `count` milliseconds, the
//!   sequence number wrapping at `total`, send errors ignored;
//! - mode 2: an ARP probe: one ARP request "who has 10.77.0.2? tell
//!   10.77.0.1" ([`build_arp_request`]), then up to 5 s of waiting for the
//!   guest NIC's reply ([`parse_arp_reply`]).  A correct reply is confirmed
//!   with data frame 0 of the phase; without one, nothing more is sent.
//!   `first`, `count` and `total` are not looked at.
//!
//! Everything else that arrives is ignored, counted and reported.  Requests
//! are served one after another: one that arrives during a flood is served
//! when the flood is over, one that arrives while an ARP probe waits is
//! queued (up to 64) and served after it.  A flood or an ARP probe ends at
//! the latest with the timeout.
//!
//! Prints one line per request served and a summary.  Exit status: 0 if at
//! least one request was served before the timeout, 1 otherwise, 2 for bad
//! arguments.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

/// MAC address of the guest's test NIC.
const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x76, 0x6a, 0x01];
/// Source MAC address of the data frames.
const HOST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe];
const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// EtherType of request frames (IEEE local experimental 1).
const ETH_P_VJREQ: u16 = 0x88b5;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const HOST_IP: [u8; 4] = [10, 77, 0, 1];
const GUEST_IP: [u8; 4] = [10, 77, 0, 2];
/// UDP source port of the data frames; the destination is `DST_PORT_BASE + phase`.
const SRC_PORT: u16 = 7001;
const DST_PORT_BASE: u16 = 7000;

const ETH_HLEN: usize = 14;
const IPV4_HLEN: usize = 20;
const UDP_HLEN: usize = 8;
/// Bytes of the payload header: "VJ", phase, 0, n, L, 4 zero bytes.
const PAYLOAD_HDR: usize = 16;
/// The payload length is `PAYLOAD_HDR + (n * 37) % PAYLOAD_SPREAD`.
const PAYLOAD_SPREAD: u64 = 1457;
/// The longest data frame: 1500 bytes of IPv4 behind the Ethernet header.
const MAX_FRAME: usize = ETH_HLEN + 1500;

/// ARP for IPv4 over Ethernet: hardware type 1, protocol 0x0800, address
/// lengths 6 and 4.
const ARP_HDR: [u8; 6] = [0x00, 0x01, 0x08, 0x00, 6, 4];
/// Bytes of an ARP packet for IPv4 over Ethernet.
const ARP_LEN: usize = 28;
const ARPOP_REQUEST: u16 = 1;
const ARPOP_REPLY: u16 = 2;
/// Mode 2 waits this long for the guest's ARP reply.
const ARP_WAIT: Duration = Duration::from_secs(5);
/// Requests that arrive while an ARP probe waits are queued, up to this many.
const QUEUE_MAX: usize = 64;

const REQ_MAGIC: &[u8; 5] = b"VJREQ";
/// Bytes of the request payload: magic, phase, mode, pad, first, count, total.
const REQ_PAYLOAD: usize = 20;

/// Mode 0 sleeps `PACE_SLEEP` after every `PACE_EVERY` frames.
const PACE_EVERY: u32 = 16;
const PACE_SLEEP: Duration = Duration::from_micros(100);
/// Modes 0 and 2 retry a send that failed for lack of buffer space this often.
const SEND_RETRIES: u32 = 10;
/// The longest receive timeout: the kernel may oversleep a long one by an
/// eighth of it, and the waits here should end on time.
const RECV_SLICE: Duration = Duration::from_millis(100);
/// Ignored datagrams are reported one by one up to this many.
const IGNORED_REPORTED: u64 = 50;

// ---------------------------------------------------------------------------
// Data frames

/// Payload length `L` of frame `n`: 16..=1472 bytes.
fn payload_len(n: u32) -> usize {
    // `n * 37` in 64 bits: no wrapping for any u32 `n`.  The result is < 1457.
    PAYLOAD_HDR + (u64::from(n) * 37 % PAYLOAD_SPREAD) as usize
}

/// The Internet checksum of `data` (an even number of bytes), as stored.
fn ipv4_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|w| u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // After folding, `sum` fits in 16 bits.
    !(sum as u16)
}

/// Builds data frame `n` of `phase` into `buf` (cleared first), exactly as the
/// harness specification says.
fn build_data_frame(buf: &mut Vec<u8>, phase: u8, n: u32) {
    let l = payload_len(n);
    // At most 1472 + 28: these fit in 16 and 32 bits.
    let ip_len = (IPV4_HLEN + UDP_HLEN + l) as u16;
    let udp_len = (UDP_HLEN + l) as u16;
    let l32 = l as u32;

    buf.clear();
    buf.reserve(ETH_HLEN + usize::from(ip_len));
    // Ethernet
    buf.extend_from_slice(&GUEST_MAC);
    buf.extend_from_slice(&HOST_MAC);
    buf.extend_from_slice(&ETH_P_IP.to_be_bytes());
    // IPv4
    let ip = buf.len();
    buf.push(0x45);
    buf.push(0);
    buf.extend_from_slice(&ip_len.to_be_bytes());
    buf.extend_from_slice(&((n & 0xffff) as u16).to_be_bytes());
    buf.extend_from_slice(&0x4000u16.to_be_bytes());
    buf.push(64);
    buf.push(17);
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&HOST_IP);
    buf.extend_from_slice(&GUEST_IP);
    let csum = ipv4_checksum(&buf[ip..ip + IPV4_HLEN]);
    buf[ip + 10..ip + 12].copy_from_slice(&csum.to_be_bytes());
    // UDP, checksum 0
    buf.extend_from_slice(&SRC_PORT.to_be_bytes());
    buf.extend_from_slice(&(DST_PORT_BASE + u16::from(phase)).to_be_bytes());
    buf.extend_from_slice(&udp_len.to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    // Payload
    buf.extend_from_slice(b"VJ");
    buf.push(phase);
    buf.push(0);
    buf.extend_from_slice(&n.to_be_bytes());
    buf.extend_from_slice(&l32.to_be_bytes());
    buf.extend_from_slice(&[0; 4]);
    let base = n.wrapping_mul(7);
    buf.extend((PAYLOAD_HDR as u32..l32).map(|i| (i.wrapping_add(base) & 0xff) as u8));
}

// ---------------------------------------------------------------------------
// ARP

/// Builds the ARP request of mode 2 into `buf` (cleared first): from the
/// host MAC to the broadcast address, "who has 10.77.0.2? tell 10.77.0.1",
/// target MAC 0.  42 bytes, not padded.
fn build_arp_request(buf: &mut Vec<u8>) {
    buf.clear();
    // Ethernet
    buf.extend_from_slice(&BROADCAST_MAC);
    buf.extend_from_slice(&HOST_MAC);
    buf.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    // ARP
    buf.extend_from_slice(&ARP_HDR);
    buf.extend_from_slice(&ARPOP_REQUEST.to_be_bytes());
    buf.extend_from_slice(&HOST_MAC);
    buf.extend_from_slice(&HOST_IP);
    buf.extend_from_slice(&[0; 6]);
    buf.extend_from_slice(&GUEST_IP);
}

/// Why a frame is not the guest's reply to the ARP request of mode 2.
#[derive(Clone, Debug, PartialEq, Eq)]
enum BadArp {
    /// Not an ARP frame at all (or shorter than an Ethernet header).
    NotArp,
    /// An ARP frame too short for ARP over Ethernet and IPv4: its length.
    Truncated(usize),
    /// Not ARP for IPv4 over Ethernet: hardware type, protocol, lengths.
    Header([u8; 6]),
    /// Not a reply: the operation.
    Op(u16),
    /// Not sent by the guest NIC: the Ethernet source.
    EthSrc([u8; 6]),
    /// Not sent to the host MAC: the Ethernet destination.
    EthDst([u8; 6]),
    /// The sender hardware address is not the guest NIC's.
    SenderMac([u8; 6]),
    /// The sender protocol address is not the guest's.
    SenderIp([u8; 4]),
    /// The target hardware address is not the host MAC.
    TargetMac([u8; 6]),
    /// The target protocol address is not the host's.
    TargetIp([u8; 4]),
}

impl fmt::Display for BadArp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotArp => write!(f, "not an ARP frame"),
            Self::Truncated(len) => write!(f, "ARP frame of {len} bytes: truncated"),
            Self::Header(h) => write!(
                f,
                "hardware type {:#06x}, protocol {:#06x}, lengths {} and {}: \
                 not IPv4 over Ethernet",
                u16::from_be_bytes([h[0], h[1]]),
                u16::from_be_bytes([h[2], h[3]]),
                h[4],
                h[5]
            ),
            Self::Op(op) => write!(f, "operation {op}, not a reply"),
            Self::EthSrc(m) => write!(f, "from {}, not the guest NIC", Mac(m)),
            Self::EthDst(m) => write!(f, "to {}, not the host MAC", Mac(m)),
            Self::SenderMac(m) => write!(f, "sender MAC {}, not the guest NIC", Mac(m)),
            Self::SenderIp(a) => write!(f, "sender IP {}, not the guest's", Ipv4Addr::from(*a)),
            Self::TargetMac(m) => write!(f, "target MAC {}, not the host MAC", Mac(m)),
            Self::TargetIp(a) => write!(f, "target IP {}, not the host's", Ipv4Addr::from(*a)),
        }
    }
}

/// `N` bytes of `b` from `at`, which the caller made sure are there.
fn array_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(&b[at..at + N]);
    a
}

/// Checks that `frame` is the guest NIC's reply to [`build_arp_request`]:
/// from 52:54:00:76:6a:01 to 52:54:00:76:6a:fe, "10.77.0.2 is at
/// 52:54:00:76:6a:01" for 10.77.0.1 at 52:54:00:76:6a:fe.  Bytes after the
/// ARP packet (padding) are allowed.
fn parse_arp_reply(frame: &[u8]) -> Result<(), BadArp> {
    if frame.get(12..14) != Some(&ETH_P_ARP.to_be_bytes()[..]) {
        return Err(BadArp::NotArp);
    }
    if frame.len() < ETH_HLEN + ARP_LEN {
        return Err(BadArp::Truncated(frame.len()));
    }
    let a = &frame[ETH_HLEN..ETH_HLEN + ARP_LEN];
    let hdr: [u8; 6] = array_at(a, 0);
    if hdr != ARP_HDR {
        return Err(BadArp::Header(hdr));
    }
    let op = u16::from_be_bytes(array_at(a, 6));
    if op != ARPOP_REPLY {
        return Err(BadArp::Op(op));
    }
    let eth_src: [u8; 6] = array_at(frame, 6);
    if eth_src != GUEST_MAC {
        return Err(BadArp::EthSrc(eth_src));
    }
    let eth_dst: [u8; 6] = array_at(frame, 0);
    if eth_dst != HOST_MAC {
        return Err(BadArp::EthDst(eth_dst));
    }
    let sender_mac: [u8; 6] = array_at(a, 8);
    if sender_mac != GUEST_MAC {
        return Err(BadArp::SenderMac(sender_mac));
    }
    let sender_ip: [u8; 4] = array_at(a, 14);
    if sender_ip != GUEST_IP {
        return Err(BadArp::SenderIp(sender_ip));
    }
    let target_mac: [u8; 6] = array_at(a, 18);
    if target_mac != HOST_MAC {
        return Err(BadArp::TargetMac(target_mac));
    }
    let target_ip: [u8; 4] = array_at(a, 24);
    if target_ip != HOST_IP {
        return Err(BadArp::TargetIp(target_ip));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Requests

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Mode 0: frames `first..first+count-1`, bounded by `total`.
    Frames,
    /// Mode 1: a flood of `count` milliseconds.
    Flood,
    /// Mode 2: an ARP probe, a correct reply confirmed with frame 0.
    ArpProbe,
}

impl Mode {
    /// The mode's number in request frames.
    fn number(self) -> u8 {
        match self {
            Self::Frames => 0,
            Self::Flood => 1,
            Self::ArpProbe => 2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Request {
    phase: u8,
    mode: Mode,
    first: u32,
    count: u32,
    total: u32,
}

impl Request {
    /// Mode 0: the frames to send, `first..end`.
    fn end(&self) -> u32 {
        self.first.saturating_add(self.count).min(self.total)
    }
}

/// Why a datagram was not served.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ignored {
    /// It came from somewhere other than the peer.
    NotFromPeer(SocketAddr),
    /// Shorter than an Ethernet header.
    Runt(usize),
    /// Not a request frame: its EtherType.
    EtherType(u16),
    /// A request frame not sent to the broadcast address.
    NotBroadcast([u8; 6]),
    /// A request frame not sent by the guest's NIC.
    NotGuest([u8; 6]),
    /// A request frame too short for the request.
    Truncated(usize),
    /// The payload does not start with "VJREQ".
    Magic,
    /// Unknown mode.
    Mode(u8),
    /// The phase has no frames.
    ZeroTotal,
    /// `first` lies past the phase's frames.
    FirstPastTotal { first: u32, total: u32 },
    /// No frames or no time asked for.
    ZeroCount,
    /// An ARP frame during an ARP probe, but not the reply.
    Arp(BadArp),
    /// A request during an ARP probe, with the queue full.
    QueueFull,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFromPeer(a) => write!(f, "not from the peer but from {a}"),
            Self::Runt(len) => write!(f, "{len} bytes: shorter than an Ethernet header"),
            Self::EtherType(t) => write!(f, "EtherType {t:#06x}, not a request"),
            Self::NotBroadcast(m) => write!(f, "request to {}, not broadcast", Mac(m)),
            Self::NotGuest(m) => write!(f, "request from {}, not the guest NIC", Mac(m)),
            Self::Truncated(len) => write!(f, "request frame of {len} bytes: truncated"),
            Self::Magic => write!(f, "request without the VJREQ magic"),
            Self::Mode(m) => write!(f, "request of unknown mode {m}"),
            Self::ZeroTotal => write!(f, "request with total 0"),
            Self::FirstPastTotal { first, total } => {
                write!(f, "request for first {first} of total {total}")
            }
            Self::ZeroCount => write!(f, "request with count 0"),
            Self::Arp(bad) => write!(f, "ARP frame, not the reply to the probe: {bad}"),
            Self::QueueFull => write!(f, "request while {QUEUE_MAX} are queued"),
        }
    }
}

struct Mac<'a>(&'a [u8; 6]);

impl fmt::Display for Mac<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

fn mac_at(b: &[u8], at: usize) -> Option<[u8; 6]> {
    b.get(at..at + 6)?.try_into().ok()
}

/// Parses a frame the guest sent.  Bytes after the request (e.g. padding to
/// the 60-byte minimum frame) are allowed; the pad byte is not looked at.
fn parse_request(frame: &[u8]) -> Result<Request, Ignored> {
    let (Some(dst), Some(src), Some(et)) = (
        mac_at(frame, 0),
        mac_at(frame, 6),
        frame.get(12..14).map(|t| u16::from_be_bytes([t[0], t[1]])),
    ) else {
        return Err(Ignored::Runt(frame.len()));
    };
    if et != ETH_P_VJREQ {
        return Err(Ignored::EtherType(et));
    }
    if dst != BROADCAST_MAC {
        return Err(Ignored::NotBroadcast(dst));
    }
    if src != GUEST_MAC {
        return Err(Ignored::NotGuest(src));
    }
    let p = &frame[ETH_HLEN..];
    if p.len() < REQ_PAYLOAD {
        return Err(Ignored::Truncated(frame.len()));
    }
    if &p[..5] != REQ_MAGIC {
        return Err(Ignored::Magic);
    }
    let mode = match p[6] {
        0 => Mode::Frames,
        1 => Mode::Flood,
        2 => Mode::ArpProbe,
        m => return Err(Ignored::Mode(m)),
    };
    let (Some(first), Some(count), Some(total)) = (be_u32(p, 8), be_u32(p, 12), be_u32(p, 16))
    else {
        return Err(Ignored::Truncated(frame.len()));
    };
    let req = Request {
        phase: p[5],
        mode,
        first,
        count,
        total,
    };
    // An ARP probe does not look at first, count and total.
    if mode == Mode::ArpProbe {
        return Ok(req);
    }
    if total == 0 {
        return Err(Ignored::ZeroTotal);
    }
    if first >= total {
        return Err(Ignored::FirstPastTotal { first, total });
    }
    if count == 0 {
        return Err(Ignored::ZeroCount);
    }
    Ok(req)
}

/// The request in datagram `frame` from `from`, if it is one from `peer`.
fn request_from(peer: SocketAddr, from: SocketAddr, frame: &[u8]) -> Result<Request, Ignored> {
    if from == peer {
        parse_request(frame)
    } else {
        Err(Ignored::NotFromPeer(from))
    }
}

// ---------------------------------------------------------------------------
// Arguments

#[derive(Debug)]
struct Config {
    listen: SocketAddr,
    peer: SocketAddr,
    timeout: Duration,
}

#[derive(Debug, PartialEq, Eq)]
enum ArgError {
    Help,
    Unknown(String),
    NoValue(&'static str),
    Twice(&'static str),
    Missing(&'static str),
    BadAddr(&'static str, String),
    BadTimeout(String),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Help => write!(f, "help requested"),
            Self::Unknown(a) => write!(f, "unknown argument {a:?}"),
            Self::NoValue(o) => write!(f, "{o} needs a value"),
            Self::Twice(o) => write!(f, "{o} given twice"),
            Self::Missing(o) => write!(f, "{o} is required"),
            Self::BadAddr(o, v) => write!(f, "{o}: {v:?} is not ADDR:PORT"),
            Self::BadTimeout(v) => write!(f, "--timeout: {v:?} is not a number of seconds > 0"),
        }
    }
}

const USAGE: &str = "usage: vjchan-inject --listen ADDR:PORT --peer ADDR:PORT --timeout SECS";

fn parse_timeout(v: &str) -> Result<Duration, ArgError> {
    let bad = || ArgError::BadTimeout(v.to_owned());
    let secs: f64 = v.parse().map_err(|_| bad())?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(bad());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config, ArgError> {
    let mut listen = None;
    let mut peer = None;
    let mut timeout = None;
    let mut it = args.into_iter();

    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let opt: &'static str = match name.as_str() {
            "-h" | "--help" => return Err(ArgError::Help),
            "--listen" => "--listen",
            "--peer" => "--peer",
            "--timeout" => "--timeout",
            _ => return Err(ArgError::Unknown(arg)),
        };
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or(ArgError::NoValue(opt))?,
        };
        let slot_taken = match opt {
            "--listen" => listen.is_some(),
            "--peer" => peer.is_some(),
            _ => timeout.is_some(),
        };
        if slot_taken {
            return Err(ArgError::Twice(opt));
        }
        match opt {
            "--listen" | "--peer" => {
                let addr: SocketAddr = value
                    .parse()
                    .map_err(|_| ArgError::BadAddr(opt, value.clone()))?;
                if opt == "--listen" {
                    listen = Some(addr);
                } else {
                    peer = Some(addr);
                }
            }
            _ => timeout = Some(parse_timeout(&value)?),
        }
    }
    Ok(Config {
        listen: listen.ok_or(ArgError::Missing("--listen"))?,
        peer: peer.ok_or(ArgError::Missing("--peer"))?,
        timeout: timeout.ok_or(ArgError::Missing("--timeout"))?,
    })
}

// ---------------------------------------------------------------------------
// Serving

#[derive(Default)]
struct Totals {
    served: u64,
    mode0: u64,
    mode1: u64,
    mode2: u64,
    /// ARP probes that got the correct reply.
    arp_answered: u64,
    frames: u64,
    send_errors: u64,
    ignored: u64,
    recv_errors: u64,
}

#[derive(Default)]
struct Outcome {
    sent: u64,
    errors: u64,
    last_error: Option<io::Error>,
}

/// A send error worth retrying: the socket is out of buffer space for now.
fn transient(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
        || e.kind() == io::ErrorKind::Interrupted
        || e.raw_os_error() == Some(libc::ENOBUFS)
}

/// Sends `frame` to `peer`, retrying a send that failed for lack of buffer
/// space up to `SEND_RETRIES` times.
fn send_retrying(sock: &UdpSocket, peer: SocketAddr, frame: &[u8]) -> io::Result<()> {
    let mut tries = 0;
    loop {
        match sock.send_to(frame, peer) {
            Ok(_) => return Ok(()),
            Err(e) if transient(&e) && tries < SEND_RETRIES => {
                tries += 1;
                thread::sleep(PACE_SLEEP);
            }
            Err(e) => return Err(e),
        }
    }
}

fn send_frames(sock: &UdpSocket, peer: SocketAddr, req: &Request, deadline: Instant) -> Outcome {
    let mut out = Outcome::default();
    let mut buf = Vec::with_capacity(MAX_FRAME);

    for (i, n) in (req.first..req.end()).enumerate() {
        build_data_frame(&mut buf, req.phase, n);
        match send_retrying(sock, peer, &buf) {
            Ok(()) => out.sent += 1,
            Err(e) => {
                out.errors += 1;
                out.last_error = Some(e);
            }
        }
        if (i as u64 + 1) % u64::from(PACE_EVERY) == 0 {
            thread::sleep(PACE_SLEEP);
            if Instant::now() >= deadline {
                break;
            }
        }
    }
    out
}

fn flood(sock: &UdpSocket, peer: SocketAddr, req: &Request, deadline: Instant) -> Outcome {
    let mut out = Outcome::default();
    let end = Instant::now()
        .checked_add(Duration::from_millis(u64::from(req.count)))
        .map_or(deadline, |e| e.min(deadline));
    let mut buf = Vec::with_capacity(MAX_FRAME);
    let mut n = req.first;

    while Instant::now() < end {
        for _ in 0..64 {
            build_data_frame(&mut buf, req.phase, n);
            match sock.send_to(&buf, peer) {
                Ok(_) => out.sent += 1,
                Err(e) => {
                    out.errors += 1;
                    out.last_error = Some(e);
                }
            }
            n = if n + 1 >= req.total { 0 } else { n + 1 };
        }
    }
    out
}

/// The next datagram before `until`, or None: none came in the next
/// `RECV_SLICE` at most, the wait was interrupted, or a receive error
/// (counted and reported).
fn recv_until(
    sock: &UdpSocket,
    buf: &mut [u8],
    until: Instant,
    totals: &mut Totals,
) -> io::Result<Option<(usize, SocketAddr)>> {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ok(None);
    }
    // A zero read timeout would mean "block forever".
    sock.set_read_timeout(Some(left.clamp(Duration::from_millis(1), RECV_SLICE)))?;
    match sock.recv_from(buf) {
        Ok(r) => Ok(Some(r)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => {
            // E.g. an ICMP error reported on the socket: not fatal.
            totals.recv_errors += 1;
            eprintln!("vjchan-inject: recv: {e}");
            thread::sleep(Duration::from_millis(10));
            Ok(None)
        }
    }
}

/// Counts a datagram not served, and reports the first `IGNORED_REPORTED`.
fn note_ignored(totals: &mut Totals, len: usize, why: &Ignored) {
    totals.ignored += 1;
    if totals.ignored <= IGNORED_REPORTED {
        println!("ignored datagram {} ({len} bytes): {why}", totals.ignored);
        if totals.ignored == IGNORED_REPORTED {
            println!("(further ignored datagrams are only counted)");
        }
    }
}

/// What an ARP probe (mode 2) came to.
#[derive(Default)]
struct Probe {
    /// The ARP request could not be sent: why.
    arp_error: Option<io::Error>,
    /// How long the probe waited for the reply.
    waited: Duration,
    /// The correct reply came.
    answered: bool,
    /// Requests queued while waiting.
    queued: usize,
    /// The confirmation: data frame 0 of the phase.
    confirm: Outcome,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waited = self.waited.as_secs_f64();
        if let Some(e) = &self.arp_error {
            write!(f, "ARP request not sent: {e}; nothing sent")?;
        } else if !self.answered {
            write!(f, "no reply in {waited:.3} s; nothing sent")?;
        } else if let Some(e) = &self.confirm.last_error {
            write!(
                f,
                "answered after {waited:.3} s; confirmation not sent: {e}"
            )?;
        } else {
            write!(f, "answered after {waited:.3} s; confirmed with frame 0")?;
        }
        if self.queued > 0 {
            write!(f, "; {} requests queued meanwhile", self.queued)?;
        }
        Ok(())
    }
}

/// Mode 2: sends the ARP request and waits up to `ARP_WAIT` (at most until
/// `deadline`) for the guest's reply; a correct one is confirmed with data
/// frame 0 of `phase`.  Requests that arrive meanwhile go to `queue`.
fn arp_probe(
    sock: &UdpSocket,
    peer: SocketAddr,
    phase: u8,
    deadline: Instant,
    queue: &mut VecDeque<Request>,
    totals: &mut Totals,
) -> io::Result<Probe> {
    let mut probe = Probe::default();
    let mut buf = Vec::with_capacity(ETH_HLEN + ARP_LEN);

    build_arp_request(&mut buf);
    if let Err(e) = send_retrying(sock, peer, &buf) {
        probe.arp_error = Some(e);
        return Ok(probe);
    }
    let t0 = Instant::now();
    let until = t0
        .checked_add(ARP_WAIT)
        .map_or(deadline, |e| e.min(deadline));
    buf.resize(65536, 0);
    while Instant::now() < until {
        let Some((len, from)) = recv_until(sock, &mut buf, until, totals)? else {
            continue;
        };
        let frame = &buf[..len];
        if from == peer {
            match parse_arp_reply(frame) {
                Ok(()) => {
                    probe.answered = true;
                    break;
                }
                Err(BadArp::NotArp) => {}
                Err(bad) => {
                    note_ignored(totals, len, &Ignored::Arp(bad));
                    continue;
                }
            }
        }
        match request_from(peer, from, frame) {
            Ok(req) if queue.len() < QUEUE_MAX => {
                queue.push_back(req);
                probe.queued += 1;
            }
            Ok(_) => note_ignored(totals, len, &Ignored::QueueFull),
            Err(why) => note_ignored(totals, len, &why),
        }
    }
    probe.waited = t0.elapsed();
    if probe.answered {
        let confirm = Request {
            phase,
            mode: Mode::Frames,
            first: 0,
            count: 1,
            total: 1,
        };
        probe.confirm = send_frames(sock, peer, &confirm, deadline);
    }
    Ok(probe)
}

fn serve(cfg: &Config) -> io::Result<Totals> {
    let sock = UdpSocket::bind(cfg.listen)?;
    let start = Instant::now();
    let deadline = start + cfg.timeout;
    let mut totals = Totals::default();
    let mut queue = VecDeque::new();
    let mut buf = vec![0u8; 65536];

    println!(
        "vjchan-inject: listening on {}, peer {}, for {:.1} s",
        cfg.listen,
        cfg.peer,
        cfg.timeout.as_secs_f64()
    );
    while Instant::now() < deadline {
        let req = match queue.pop_front() {
            Some(req) => req,
            None => {
                let Some((len, from)) = recv_until(&sock, &mut buf, deadline, &mut totals)? else {
                    continue;
                };
                match request_from(cfg.peer, from, &buf[..len]) {
                    Ok(req) => req,
                    Err(why) => {
                        note_ignored(&mut totals, len, &why);
                        continue;
                    }
                }
            }
        };

        let t0 = Instant::now();
        let what = match req.mode {
            Mode::Frames | Mode::Flood => {
                let (out, what) = if req.mode == Mode::Frames {
                    totals.mode0 += 1;
                    (
                        send_frames(&sock, cfg.peer, &req, deadline),
                        format!(
                            "frames {}..{} (count {})",
                            req.first,
                            u64::from(req.end()).saturating_sub(1),
                            req.count
                        ),
                    )
                } else {
                    totals.mode1 += 1;
                    (
                        flood(&sock, cfg.peer, &req, deadline),
                        format!("flood of {} ms from frame {}", req.count, req.first),
                    )
                };
                totals.frames += out.sent;
                totals.send_errors += out.errors;
                let err = out
                    .last_error
                    .map_or_else(String::new, |e| format!(", last error: {e}"));
                format!(
                    " total {}: {what}: sent {} in {:.3} s, {} send errors{err}",
                    req.total,
                    out.sent,
                    t0.elapsed().as_secs_f64(),
                    out.errors,
                )
            }
            Mode::ArpProbe => {
                let probe = arp_probe(
                    &sock,
                    cfg.peer,
                    req.phase,
                    deadline,
                    &mut queue,
                    &mut totals,
                )?;
                totals.mode2 += 1;
                totals.arp_answered += u64::from(probe.answered);
                totals.frames += probe.confirm.sent;
                totals.send_errors += probe.confirm.errors + u64::from(probe.arp_error.is_some());
                format!(": ARP probe: {probe}")
            }
        };
        totals.served += 1;
        println!(
            "request {} at {:.3} s: phase {} mode {}{what}",
            totals.served,
            t0.duration_since(start).as_secs_f64(),
            req.phase,
            req.mode.number(),
        );
    }
    if !queue.is_empty() {
        println!(
            "{} queued requests not served before the timeout",
            queue.len()
        );
    }
    Ok(totals)
}

fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(ArgError::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("vjchan-inject: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let totals = match serve(&cfg) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("vjchan-inject: {}: {e}", cfg.listen);
            return ExitCode::FAILURE;
        }
    };
    println!(
        "summary: {} requests served ({} mode 0, {} mode 1, {} mode 2), {} ARP probes answered, \
         {} frames sent, {} send errors, {} datagrams ignored, {} receive errors",
        totals.served,
        totals.mode0,
        totals.mode1,
        totals.mode2,
        totals.arp_answered,
        totals.frames,
        totals.send_errors,
        totals.ignored,
        totals.recv_errors
    );
    if totals.served > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(phase: u8, n: u32) -> Vec<u8> {
        let mut buf = Vec::new();
        build_data_frame(&mut buf, phase, n);
        buf
    }

    /// Sum of 16-bit words with end-around carry; a valid header sums to 0xffff.
    fn ones_sum(h: &[u8]) -> u32 {
        let mut s: u32 = h
            .chunks(2)
            .map(|w| u32::from(w[0]) << 8 | u32::from(w[1]))
            .sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s
    }

    #[test]
    fn frame_0_by_hand() {
        #[rustfmt::skip]
        let want: [u8; 58] = [
            // Ethernet
            0x52, 0x54, 0x00, 0x76, 0x6a, 0x01, 0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe, 0x08, 0x00,
            // IPv4: total length 44, id 0, DF, ttl 64, UDP, checksum 0x2625
            0x45, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x26, 0x25,
            10, 77, 0, 1, 10, 77, 0, 2,
            // UDP 7001 -> 7001, length 24, checksum 0
            0x1b, 0x59, 0x1b, 0x59, 0x00, 0x18, 0x00, 0x00,
            // "VJ", phase 1, 0, n 0, L 16, 0
            b'V', b'J', 1, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0,
        ];
        assert_eq!(frame(1, 0), want);
        assert_eq!(ones_sum(&want[14..34]), 0xffff);
    }

    #[test]
    fn frame_1000_by_hand() {
        // L = 16 + 37000 % 1457 = 16 + 575 = 591; IPv4 length 619 = 0x26b.
        #[rustfmt::skip]
        let head: [u8; 58] = [
            0x52, 0x54, 0x00, 0x76, 0x6a, 0x01, 0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe, 0x08, 0x00,
            // id 1000 = 0x3e8, checksum 0x1ffe
            0x45, 0x00, 0x02, 0x6b, 0x03, 0xe8, 0x40, 0x00, 0x40, 0x11, 0x1f, 0xfe,
            10, 77, 0, 1, 10, 77, 0, 2,
            // 7001 -> 7003, length 599 = 0x257
            0x1b, 0x59, 0x1b, 0x5b, 0x02, 0x57, 0x00, 0x00,
            b'V', b'J', 3, 0, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x02, 0x4f, 0, 0, 0, 0,
        ];
        let f = frame(3, 1000);
        assert_eq!(f.len(), 14 + 20 + 8 + 591);
        assert_eq!(f[..58], head);
        assert_eq!(ones_sum(&f[14..34]), 0xffff);
        // Byte i of the payload is (i + 7000) & 0xff; 7000 & 0xff = 0x58.
        for (i, b) in f[42..].iter().enumerate().skip(16) {
            assert_eq!(usize::from(*b), (i + 0x58) & 0xff, "payload byte {i}");
        }
        assert_eq!(f[42 + 16], 0x68);
        assert_eq!(*f.last().unwrap(), ((590 + 7000) & 0xff) as u8);
    }

    #[test]
    fn every_frame_is_consistent() {
        let mut buf = Vec::new();
        let mut longest = 0;
        for n in (0..5000u32).chain([65535, 65536, 0x7fff_ffff, u32::MAX]) {
            build_data_frame(&mut buf, 2, n);
            let l = payload_len(n);
            assert!((16..=1472).contains(&l));
            assert_eq!(buf.len(), 42 + l);
            assert!(buf.len() <= MAX_FRAME);
            longest = longest.max(buf.len());
            let ip = &buf[14..34];
            assert_eq!(usize::from(u16::from_be_bytes([ip[2], ip[3]])), 28 + l);
            assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), (n & 0xffff) as u16);
            assert_eq!(ones_sum(ip), 0xffff, "checksum of frame {n}");
            let udp = &buf[34..42];
            assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), 7002);
            assert_eq!(usize::from(u16::from_be_bytes([udp[4], udp[5]])), 8 + l);
            let p = &buf[42..];
            assert_eq!(p[..4], [b'V', b'J', 2, 0]);
            assert_eq!(p[4..8], n.to_be_bytes());
            assert_eq!(p[8..12], (l as u32).to_be_bytes());
            assert_eq!(p[12..16], [0; 4]);
            for (i, b) in p.iter().enumerate().skip(16) {
                let want = (i as u64 + u64::from(n) * 7) & 0xff;
                assert_eq!(u64::from(*b), want, "frame {n} byte {i}");
            }
        }
        assert_eq!(longest, MAX_FRAME);
    }

    fn request(phase: u8, mode: u8, first: u32, count: u32, total: u32) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&BROADCAST_MAC);
        f.extend_from_slice(&GUEST_MAC);
        f.extend_from_slice(&ETH_P_VJREQ.to_be_bytes());
        f.extend_from_slice(REQ_MAGIC);
        f.extend_from_slice(&[phase, mode, 0]);
        f.extend_from_slice(&first.to_be_bytes());
        f.extend_from_slice(&count.to_be_bytes());
        f.extend_from_slice(&total.to_be_bytes());
        f
    }

    #[test]
    fn requests() {
        let r = parse_request(&request(1, 0, 64, 64, 1024)).unwrap();
        assert_eq!(
            r,
            Request {
                phase: 1,
                mode: Mode::Frames,
                first: 64,
                count: 64,
                total: 1024
            }
        );
        assert_eq!(r.end(), 128);

        // Padded to 60 bytes, bounded by total, flood.
        let mut f = request(2, 0, 250, 64, 256);
        f.resize(60, 0);
        assert_eq!(parse_request(&f).unwrap().end(), 256);
        let r = parse_request(&request(1, 1, 0, 3000, 1024)).unwrap();
        assert_eq!(r.mode, Mode::Flood);
        assert_eq!(r.count, 3000);
        let r = parse_request(&request(1, 0, 5, u32::MAX, u32::MAX)).unwrap();
        assert_eq!(r.end(), u32::MAX);

        // An ARP probe: first, count and total are not looked at.
        for (first, count, total) in [(0, 1, 1), (0, 0, 0), (9, 0, 3)] {
            let r = parse_request(&request(4, 2, first, count, total)).unwrap();
            assert_eq!((r.phase, r.mode), (4, Mode::ArpProbe));
        }
    }

    #[test]
    fn arp_request_by_hand() {
        #[rustfmt::skip]
        let want: [u8; 42] = [
            // Ethernet: broadcast, from the host MAC, ARP
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe, 0x08, 0x06,
            // Ethernet, IPv4, lengths 6 and 4, request
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
            // sender 52:54:00:76:6a:fe 10.77.0.1
            0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe, 10, 77, 0, 1,
            // target 00:00:00:00:00:00 10.77.0.2
            0, 0, 0, 0, 0, 0, 10, 77, 0, 2,
        ];
        let mut buf = vec![1, 2, 3];
        build_arp_request(&mut buf);
        assert_eq!(buf, want);
    }

    #[rustfmt::skip]
    const ARP_REPLY: [u8; 42] = [
        // Ethernet: to the host MAC, from the guest NIC, ARP
        0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe, 0x52, 0x54, 0x00, 0x76, 0x6a, 0x01, 0x08, 0x06,
        // Ethernet, IPv4, lengths 6 and 4, reply
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
        // sender 52:54:00:76:6a:01 10.77.0.2
        0x52, 0x54, 0x00, 0x76, 0x6a, 0x01, 10, 77, 0, 2,
        // target 52:54:00:76:6a:fe 10.77.0.1
        0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe, 10, 77, 0, 1,
    ];

    #[test]
    fn arp_replies() {
        assert_eq!(parse_arp_reply(&ARP_REPLY), Ok(()));
        let mut padded = ARP_REPLY.to_vec();
        padded.resize(60, 0);
        assert_eq!(parse_arp_reply(&padded), Ok(()));

        for len in 0..14 {
            assert_eq!(parse_arp_reply(&ARP_REPLY[..len]), Err(BadArp::NotArp));
        }
        for len in 14..42 {
            assert_eq!(
                parse_arp_reply(&ARP_REPLY[..len]),
                Err(BadArp::Truncated(len))
            );
        }
        // Neither a request frame nor a data frame is an ARP frame.
        assert_eq!(
            parse_arp_reply(&request(4, 2, 0, 1, 1)),
            Err(BadArp::NotArp)
        );
        assert_eq!(parse_arp_reply(&frame(4, 0)), Err(BadArp::NotArp));
        // Our own request is not a reply.
        let mut req = Vec::new();
        build_arp_request(&mut req);
        assert_eq!(parse_arp_reply(&req), Err(BadArp::Op(1)));

        // One byte wrong in each field, in turn.
        let other_mac = |at: usize| {
            let mut m: [u8; 6] = array_at(&ARP_REPLY, at);
            m[5] ^= 0x10;
            m
        };
        let cases = [
            (15, BadArp::Header([0x00, 0x11, 0x08, 0x00, 6, 4])),
            (16, BadArp::Header([0x00, 0x01, 0x18, 0x00, 6, 4])),
            (18, BadArp::Header([0x00, 0x01, 0x08, 0x00, 0x16, 4])),
            (19, BadArp::Header([0x00, 0x01, 0x08, 0x00, 6, 0x14])),
            (21, BadArp::Op(0x12)),
            (11, BadArp::EthSrc(other_mac(6))),
            (5, BadArp::EthDst(other_mac(0))),
            (27, BadArp::SenderMac(other_mac(22))),
            (31, BadArp::SenderIp([10, 77, 0, 0x12])),
            (37, BadArp::TargetMac(other_mac(32))),
            (41, BadArp::TargetIp([10, 77, 0, 0x11])),
        ];
        for (at, want) in cases {
            let mut f = ARP_REPLY;
            f[at] ^= 0x10;
            assert_eq!(parse_arp_reply(&f), Err(want), "byte {at}");
        }
        // A broadcast reply is not sent to the host MAC.
        let mut f = ARP_REPLY;
        f[..6].copy_from_slice(&BROADCAST_MAC);
        assert_eq!(parse_arp_reply(&f), Err(BadArp::EthDst(BROADCAST_MAC)));

        // Whatever the bytes behind an ARP EtherType, no panic.
        let mut x: u32 = 7;
        for len in 0..100 {
            let mut junk: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            if len >= 14 {
                junk[12..14].copy_from_slice(&[0x08, 0x06]);
            }
            let _ = parse_arp_reply(&junk);
        }
    }

    #[test]
    fn bad_requests_are_ignored() {
        let good = request(1, 0, 0, 64, 1024);
        for len in 0..good.len() {
            assert!(parse_request(&good[..len]).is_err(), "{len} bytes");
        }
        assert_eq!(parse_request(&good[..10]), Err(Ignored::Runt(10)));
        assert_eq!(parse_request(&good[..33]), Err(Ignored::Truncated(33)));

        let mut f = good.clone();
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(parse_request(&f), Err(Ignored::EtherType(0x0806)));
        let mut f = good.clone();
        f[0] = 0x52;
        assert!(matches!(parse_request(&f), Err(Ignored::NotBroadcast(_))));
        let mut f = good.clone();
        f[11] = 0x02;
        assert!(matches!(parse_request(&f), Err(Ignored::NotGuest(_))));
        let mut f = good.clone();
        f[14] = b'X';
        assert_eq!(parse_request(&f), Err(Ignored::Magic));

        assert_eq!(
            parse_request(&request(1, 3, 0, 1, 1)),
            Err(Ignored::Mode(3))
        );
        assert_eq!(
            parse_request(&request(1, 0, 0, 1, 0)),
            Err(Ignored::ZeroTotal)
        );
        assert_eq!(
            parse_request(&request(1, 0, 8, 1, 8)),
            Err(Ignored::FirstPastTotal { first: 8, total: 8 })
        );
        assert_eq!(
            parse_request(&request(1, 1, 0, 0, 8)),
            Err(Ignored::ZeroCount)
        );
        // Whatever the bytes, no panic.
        let mut x: u32 = 1;
        for len in 0..200 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = parse_request(&junk);
        }
    }

    fn args(a: &[&str]) -> Result<Config, ArgError> {
        parse_args(a.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn arguments() {
        let c = args(&[
            "--listen",
            "127.0.0.1:5000",
            "--peer=127.0.0.1:5001",
            "--timeout",
            "2.5",
        ])
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(c.peer, "127.0.0.1:5001".parse().unwrap());
        assert_eq!(c.timeout, Duration::from_millis(2500));

        let base = ["--listen", "127.0.0.1:1", "--peer", "127.0.0.1:2"];
        let with = |extra: &[&str]| {
            let mut v: Vec<&str> = base.to_vec();
            v.extend_from_slice(extra);
            args(&v).map(|_| ())
        };
        assert_eq!(with(&[]), Err(ArgError::Missing("--timeout")));
        assert_eq!(with(&["--timeout"]), Err(ArgError::NoValue("--timeout")));
        for t in ["0", "-1", "x", "NaN", "inf", ""] {
            assert_eq!(
                with(&["--timeout", t]),
                Err(ArgError::BadTimeout(t.to_owned()))
            );
        }
        assert_eq!(
            with(&["--timeout", "1", "--peer", "127.0.0.1:3"]),
            Err(ArgError::Twice("--peer"))
        );
        assert_eq!(
            with(&["--timeout", "1", "-x"]),
            Err(ArgError::Unknown("-x".to_owned()))
        );
        assert_eq!(
            args(&["--listen", "localhost", "--peer", "127.0.0.1:2"]).map(|_| ()),
            Err(ArgError::BadAddr("--listen", "localhost".to_owned()))
        );
        assert_eq!(args(&["--help"]).map(|_| ()), Err(ArgError::Help));
    }
}

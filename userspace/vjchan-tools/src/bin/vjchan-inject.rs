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
//!   sequence number wrapping at `total`, send errors ignored.
//!
//! Everything else that arrives is ignored, counted and reported.  Requests
//! are served one after another: one that arrives during a flood is served
//! when the flood is over.  A flood ends at the latest with the timeout.
//!
//! Prints one line per request served and a summary.  Exit status: 0 if at
//! least one request was served before the timeout, 1 otherwise, 2 for bad
//! arguments.

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
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

const REQ_MAGIC: &[u8; 5] = b"VJREQ";
/// Bytes of the request payload: magic, phase, mode, pad, first, count, total.
const REQ_PAYLOAD: usize = 20;

/// Mode 0 sleeps `PACE_SLEEP` after every `PACE_EVERY` frames.
const PACE_EVERY: u32 = 16;
const PACE_SLEEP: Duration = Duration::from_micros(100);
/// Mode 0 retries a send that failed for lack of buffer space this often.
const SEND_RETRIES: u32 = 10;
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
// Requests

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Mode 0: frames `first..first+count-1`, bounded by `total`.
    Frames,
    /// Mode 1: a flood of `count` milliseconds.
    Flood,
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
        m => return Err(Ignored::Mode(m)),
    };
    let (Some(first), Some(count), Some(total)) = (be_u32(p, 8), be_u32(p, 12), be_u32(p, 16))
    else {
        return Err(Ignored::Truncated(frame.len()));
    };
    if total == 0 {
        return Err(Ignored::ZeroTotal);
    }
    if first >= total {
        return Err(Ignored::FirstPastTotal { first, total });
    }
    if count == 0 {
        return Err(Ignored::ZeroCount);
    }
    Ok(Request {
        phase: p[5],
        mode,
        first,
        count,
        total,
    })
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
    frames: u64,
    send_errors: u64,
    ignored: u64,
    recv_errors: u64,
}

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

fn send_frames(sock: &UdpSocket, peer: SocketAddr, req: &Request, deadline: Instant) -> Outcome {
    let mut out = Outcome {
        sent: 0,
        errors: 0,
        last_error: None,
    };
    let mut buf = Vec::with_capacity(MAX_FRAME);

    for (i, n) in (req.first..req.end()).enumerate() {
        build_data_frame(&mut buf, req.phase, n);
        let mut tries = 0;
        loop {
            match sock.send_to(&buf, peer) {
                Ok(_) => {
                    out.sent += 1;
                    break;
                }
                Err(e) if transient(&e) && tries < SEND_RETRIES => {
                    tries += 1;
                    thread::sleep(PACE_SLEEP);
                }
                Err(e) => {
                    out.errors += 1;
                    out.last_error = Some(e);
                    break;
                }
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
    let mut out = Outcome {
        sent: 0,
        errors: 0,
        last_error: None,
    };
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

fn serve(cfg: &Config) -> io::Result<Totals> {
    let sock = UdpSocket::bind(cfg.listen)?;
    let start = Instant::now();
    let deadline = start + cfg.timeout;
    let mut totals = Totals::default();
    let mut buf = vec![0u8; 65536];

    println!(
        "vjchan-inject: listening on {}, peer {}, for {:.1} s",
        cfg.listen,
        cfg.peer,
        cfg.timeout.as_secs_f64()
    );
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // A zero read timeout would mean "block forever".
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        let (len, from) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                // E.g. an ICMP error reported on the socket: not fatal.
                totals.recv_errors += 1;
                eprintln!("vjchan-inject: recv: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let req = if from == cfg.peer {
            parse_request(&buf[..len])
        } else {
            Err(Ignored::NotFromPeer(from))
        };
        let req = match req {
            Ok(r) => r,
            Err(why) => {
                totals.ignored += 1;
                if totals.ignored <= IGNORED_REPORTED {
                    println!("ignored datagram {} ({len} bytes): {why}", totals.ignored);
                    if totals.ignored == IGNORED_REPORTED {
                        println!("(further ignored datagrams are only counted)");
                    }
                }
                continue;
            }
        };

        let t0 = Instant::now();
        let out = match req.mode {
            Mode::Frames => send_frames(&sock, cfg.peer, &req, deadline),
            Mode::Flood => flood(&sock, cfg.peer, &req, deadline),
        };
        totals.served += 1;
        totals.frames += out.sent;
        totals.send_errors += out.errors;
        let what = match req.mode {
            Mode::Frames => {
                totals.mode0 += 1;
                format!(
                    "frames {}..{} (count {})",
                    req.first,
                    u64::from(req.end()).saturating_sub(1),
                    req.count
                )
            }
            Mode::Flood => {
                totals.mode1 += 1;
                format!("flood of {} ms from frame {}", req.count, req.first)
            }
        };
        let err = out
            .last_error
            .map_or_else(String::new, |e| format!(", last error: {e}"));
        println!(
            "request {} at {:.3} s: phase {} mode {} total {}: {what}: sent {} in {:.3} s, \
             {} send errors{err}",
            totals.served,
            t0.duration_since(start).as_secs_f64(),
            req.phase,
            match req.mode {
                Mode::Frames => 0,
                Mode::Flood => 1,
            },
            req.total,
            out.sent,
            t0.elapsed().as_secs_f64(),
            out.errors,
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
        "summary: {} requests served ({} mode 0, {} mode 1), {} frames sent, {} send errors, \
         {} datagrams ignored, {} receive errors",
        totals.served,
        totals.mode0,
        totals.mode1,
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
            parse_request(&request(1, 2, 0, 1, 1)),
            Err(Ignored::Mode(2))
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

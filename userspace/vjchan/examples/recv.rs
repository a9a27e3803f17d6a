//! `recv`: receive frames of one EtherType from a receive queue through a channel ring.
//!
//! ```text
//! cargo run -p vjchan --example recv -- IFACE QUEUE ETHERTYPE_HEX [COUNT]
//! ```
//!
//! `IFACE` is an interface name or index.  Prints one line per frame (length, flags, the
//! first 16 bytes), then the channel's statistics.  Exits 1 on an error or after 5 seconds
//! without a frame.  Needs `CAP_NET_ADMIN` and a kernel with PF_VJCHAN.

use std::ffi::CString;
use std::process::ExitCode;
use std::time::Duration;

use vjchan::{Channel, FlowFilter, RxRing, WaitOutcome};

fn ifindex(name: &str) -> Result<u32, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    let c = CString::new(name).map_err(|_| format!("bad interface name {name:?}"))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(format!("{name}: {}", std::io::Error::last_os_error())),
        n => Ok(n),
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [iface, queue, ethertype, rest @ ..] = args else {
        return Err("usage: recv IFACE QUEUE ETHERTYPE_HEX [COUNT]".into());
    };
    let ifindex = ifindex(iface)?;
    let queue: u32 = queue.parse().map_err(|_| format!("bad queue {queue}"))?;
    let ethertype = u16::from_str_radix(ethertype.trim_start_matches("0x"), 16)
        .map_err(|_| format!("bad EtherType {ethertype}"))?;
    let count: u64 = match rest {
        [] => u64::MAX,
        [c] => c.parse().map_err(|_| format!("bad count {c}"))?,
        _ => return Err("too many arguments".into()),
    };

    let ch = Channel::open().map_err(|e| e.to_string())?;
    let features = ch.features().map_err(|e| e.to_string())?;
    println!("features {:#x}", features.bits());
    // The filter first: once bound, no frame of that EtherType goes to the stack.
    ch.add_filter(&FlowFilter::ethertype(ethertype))
        .map_err(|e| e.to_string())?;
    ch.bind(ifindex, queue).map_err(|e| e.to_string())?;
    let rx = RxRing::map(ch).map_err(|e| e.to_string())?;
    let off = rx.offsets();
    println!(
        "ring {} bytes, {} slots, {} buffers of {}, frame_max {}",
        off.mmap_size, off.nr_slots, off.nr_bufs, off.buf_size, off.frame_max
    );

    let mut n = 0u64;
    while n < count {
        let batch = rx.recv_batch(64).map_err(|e| e.to_string())?;
        if batch.is_empty() {
            drop(batch);
            match rx
                .wait(Some(Duration::from_secs(5)))
                .map_err(|e| e.to_string())?
            {
                WaitOutcome::Ready => continue,
                WaitOutcome::TimedOut => return Err("timeout: no frame for 5 s".into()),
                WaitOutcome::DeviceGone => return Err("the device went away".into()),
            }
        }
        for frame in batch.take((count - n) as usize) {
            let head: String = frame.iter().take(16).map(|b| format!(" {b:02x}")).collect();
            let mut meta = String::new();
            if frame.csum_ok() {
                meta.push_str(" csum_ok");
            }
            if let Some(h) = frame.rxhash() {
                meta.push_str(&format!(" rxhash {h:#010x}"));
            }
            if let Some(t) = frame.tstamp() {
                meta.push_str(&format!(" tstamp {t}"));
            }
            println!("frame {n} len {}{meta}{head}", frame.len());
            n += 1;
        }
    }

    let st = rx.channel().stats().map_err(|e| e.to_string())?;
    let c = &st.counters;
    println!("rx_packets {}", c.rx_packets);
    println!("rx_bytes {}", c.rx_bytes);
    println!("rx_stack {}", c.rx_stack);
    println!("rx_copies {}", c.rx_copies);
    println!("rx_ring_full {}", c.rx_ring_full);
    println!("rx_invalid_consumer {}", c.rx_invalid_consumer);
    println!("rx_bad_length {}", c.rx_bad_length);
    println!("rx_wakeups {}", c.rx_wakeups);
    if let (Some(nf), Some(nomem)) = (st.rx_nf_dropped(), st.rx_nomem()) {
        println!("rx_nf_dropped {nf}");
        println!("rx_nomem {nomem}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("recv: {e}");
            ExitCode::FAILURE
        }
    }
}

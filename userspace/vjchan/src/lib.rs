//! A safe Rust API over `PF_VJCHAN` network channels (Van Jacobson's *network channels* on
//! Linux): open a channel, choose its ring's geometry, add flow filters, bind it to a
//! receive queue, map its ring and receive frames straight from the pages the driver
//! filled, without a copy.
//!
//! ```no_run
//! use std::time::Duration;
//! use vjchan::{Channel, FlowFilter, RxRing, WaitOutcome};
//!
//! # fn main() -> vjchan::Result<()> {
//! let ch = Channel::open()?;
//! ch.add_filter(&FlowFilter::ethertype(0x88b5))?;
//! ch.bind(2, 0)?; // ifindex 2, queue 0 (needs CAP_NET_ADMIN)
//! let rx = RxRing::map(ch)?;
//! loop {
//!     let batch = rx.recv_batch(64)?;
//!     if batch.is_empty() {
//!         drop(batch);
//!         match rx.wait(Some(Duration::from_secs(5)))? {
//!             WaitOutcome::Ready => continue,
//!             WaitOutcome::TimedOut | WaitOutcome::DeviceGone => break,
//!         }
//!     }
//!     for frame in batch {
//!         println!("{} bytes, checksum ok: {}", frame.len(), frame.csum_ok());
//!     } // each frame is released when dropped; the batch stores the consumer index
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The ABI is `include/uapi/linux/vjchan.h`, mirrored by [`vjchan_uapi`] (re-exported as
//! [`uapi`]); `Documentation/networking/vjchan.rst` describes it.  How the shared mapping is
//! accessed, and why that is sound, is in the [`ring`] module's documentation.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod channel;
mod error;
mod filter;
pub mod release;
pub mod ring;

pub use channel::{Channel, Features, Stats};
pub use error::{DescProblem, Error, Result};
pub use filter::{FlowFilter, L4Proto};
pub use ring::{Batch, DescFlags, Frame, RingStatus, RxRing, WaitOutcome};
pub use vjchan_uapi as uapi;

//! The errors of this crate.

use std::fmt;
use std::io;

/// What is wrong with a descriptor the ring published (see [`Error::Descriptor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DescProblem {
    /// `addr` is not inside the buffer area.
    OutsideBuffers,
    /// `addr` is inside a buffer but not `headroom` bytes into it.
    Misaligned,
    /// `len` is 0 (the kernel drops such frames, it never publishes them).
    Empty,
    /// `len` is more than `frame_max`.
    TooLong,
}

impl fmt::Display for DescProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DescProblem::OutsideBuffers => "address outside the buffer area",
            DescProblem::Misaligned => "address not at the headroom of a buffer",
            DescProblem::Empty => "length 0",
            DescProblem::TooLong => "length over frame_max",
        })
    }
}

/// Everything that can go wrong with a channel or its ring.
///
/// The ring variants ([`Error::Geometry`], [`Error::Producer`], [`Error::Descriptor`]) mean
/// that a value the kernel gave (the offsets) or a value found in the shared mapping (the
/// producer index, a descriptor) breaks the ABI.  The kernel does not write such values; a
/// kernel bug or another process writing into the mapping does.  Nothing is read through
/// such a value: the call that found it fails and the ring stays as it was.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    Os {
        /// The call, and the option for `getsockopt`/`setsockopt`.
        op: &'static str,
        /// What the kernel answered.
        source: io::Error,
    },
    /// `getsockopt` returned fewer bytes than the first version of the structure.
    ShortOption {
        /// The option.
        op: &'static str,
        /// The bytes returned.
        len: usize,
        /// The least that makes sense.
        min: usize,
    },
    /// The ring's geometry (`VJ_RING_OFFSETS`, or the length of the mapping) is
    /// inconsistent; the reason says which rule it breaks.
    Geometry(&'static str),
    /// The producer index read from the ring is out of range: more than `nr_bufs` slots
    /// ahead of the consumer index, or behind slots already received.
    Producer {
        /// The producer index read.
        producer: u32,
        /// The consumer index (first slot not released).
        consumer: u32,
        /// The first slot not yet received.
        received: u32,
        /// At most this many slots can be published at once.
        nr_bufs: u32,
    },
    /// A published descriptor does not describe a frame inside the ring's buffers.
    Descriptor {
        /// The ring index of its slot.
        index: u32,
        /// Its `addr`.
        addr: u64,
        /// Its `len`.
        len: u32,
        /// What is wrong with it.
        problem: DescProblem,
    },
    /// The socket is not a `PF_VJCHAN` socket (its `SO_DOMAIN` is this).
    NotAChannel(i32),
}

impl Error {
    pub(crate) fn last_os(op: &'static str) -> Self {
        Error::Os {
            op,
            source: io::Error::last_os_error(),
        }
    }

    /// The `errno` of a failed system call, if this is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os { op, source } => write!(f, "{op}: {source}"),
            Error::ShortOption { op, len, min } => {
                write!(f, "{op}: the kernel returned {len} bytes, fewer than {min}")
            }
            Error::Geometry(why) => write!(f, "inconsistent ring geometry: {why}"),
            Error::Producer {
                producer,
                consumer,
                received,
                nr_bufs,
            } => write!(
                f,
                "producer index {producer} out of range (consumer {consumer}, \
                 received up to {received}, {nr_bufs} buffers)"
            ),
            Error::Descriptor {
                index,
                addr,
                len,
                problem,
            } => write!(
                f,
                "bad descriptor at ring index {index} (addr {addr:#x}, len {len}): {problem}"
            ),
            Error::NotAChannel(domain) => {
                write!(f, "not a PF_VJCHAN socket (domain {domain})")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Os { source, .. } => source,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// The result of this crate's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The one driver under every adapter: the sans-IO session logic that
//! `std_net`, `embedded_io`, `embedded_io_async` and `lwip` share, so they
//! differ only in how they read, write and wait.
//!
//! - [`RxBuf`]: the read buffer (compaction, growth on hosts) and the pump
//!   that gives it to the connection one event at a time; a payload can be
//!   kept in place to be handed out whole (zero copy, hosts).
//! - [`Session`]: a connection with its buffers, for adapters used from
//!   one thread or task: the control frames owed, and data frames streamed
//!   out through `tx` ([`FrameOut`]).
//! - [`Latch`]: a write that failed ends the connection; every later send
//!   gets the same error, never a frame after a partial one.
//! - [`ending`]: what to do with the transport once the connection is over.
//! - [`handshake`]: the opening handshake's steps over caller buffers.
//! - [`inflate`]: permessage-deflate's receive side over a lent inflater
//!   (embedded adapters).

#[cfg(feature = "embedded-io")]
pub(crate) mod handshake;
#[cfg(all(feature = "embedded-io", feature = "deflate"))]
pub(crate) mod inflate;
#[cfg(feature = "std")]
pub(crate) mod out;
mod rx;

#[cfg(feature = "std")]
pub(crate) use rx::Found;
pub(crate) use rx::{RxBuf, Storage};

use crate::conn::{Connection, Instant, MaskKeys, MessagePart, SendError};
#[cfg(feature = "std")]
use crate::conn::{End, Role};
use crate::wire::FrameHeader;

use super::diag::diag;

/// A connection with its input buffer and the time last read from the
/// clock, for adapters used from one thread or task.
#[cfg(feature = "embedded-io")]
pub(crate) struct Session<S, K: MaskKeys> {
    pub(crate) conn: Connection<K>,
    pub(crate) rx: RxBuf<S>,
    pub(crate) now: Instant,
}

#[cfg(feature = "embedded-io")]
impl<S: Storage, K: MaskKeys> Session<S, K> {
    pub(crate) fn new(conn: Connection<K>, rx: RxBuf<S>, now: Instant) -> Self {
        Self { conn, rx, now }
    }

    /// The next control frame owed, written into `tx`.
    pub(crate) fn owed<'t>(&mut self, tx: &'t mut [u8]) -> Result<Option<&'t [u8]>, SendError> {
        owed(&mut self.conn, self.now, tx)
    }
}

/// The next control frame `conn` owes at `now`, written into `tx`.
pub(crate) fn owed<'t, K: MaskKeys>(
    conn: &mut Connection<K>,
    now: Instant,
    tx: &'t mut [u8],
) -> Result<Option<&'t [u8]>, SendError> {
    match conn.poll_transmit(now, tx)? {
        Some(n) => Ok(Some(&tx[..n])),
        None => Ok(None),
    }
}

/// Bytes to write: two slices, in order.
pub(crate) type Chunk<'a> = (&'a [u8], &'a [u8]);

/// A data frame being written.
pub(crate) struct FrameOut {
    header: [u8; FrameHeader::MAX_LEN],
    header_len: usize,
    header_sent: bool,
    masked: bool,
    sent: usize,
}

impl FrameOut {
    /// Starts a data frame of `len` bytes on `conn`.
    pub(crate) fn begin<K: MaskKeys>(
        conn: &mut Connection<K>,
        part: MessagePart,
        len: usize,
    ) -> Result<Self, SendError> {
        let mut header = [0u8; FrameHeader::MAX_LEN];
        let start = conn.encode_header(part, len as u64, &mut header)?;
        Ok(Self {
            header,
            header_len: start.header_len,
            header_sent: false,
            masked: start.mask.is_some(),
            sent: 0,
        })
    }

    /// Starts a data frame of `len` bytes of compressed payload on
    /// `conn` (RSV1 if it opens its message).
    #[cfg(all(feature = "std", feature = "deflate"))]
    pub(crate) fn begin_compressed<K: MaskKeys>(
        conn: &mut Connection<K>,
        part: MessagePart,
        len: usize,
    ) -> Result<Self, SendError> {
        let mut header = [0u8; FrameHeader::MAX_LEN];
        let start = conn.encode_header_compressed(part, len as u64, &mut header)?;
        Ok(Self {
            header,
            header_len: start.header_len,
            header_sent: false,
            masked: start.mask.is_some(),
            sent: 0,
        })
    }

    /// The frame's header.
    #[cfg(feature = "std")]
    pub(crate) fn header(&self) -> &[u8] {
        &self.header[..self.header_len]
    }

    /// Whether the payload is masked (a client's).
    #[cfg(feature = "std")]
    pub(crate) fn is_masked(&self) -> bool {
        self.masked
    }

    /// The next bytes of the frame to write, as two slices to write in
    /// order (one vectored write where the transport has it). A server's
    /// frame is its header and `data` as they are, in one go, or copied
    /// together into `tx` if they fit there (for transports without
    /// vectored writes: one write, one segment on lwIP or a std stream,
    /// not two; hosts pass an empty `tx`); a client's
    /// payload is copied into `tx` and masked there chunk by chunk, the
    /// header in front of the first. The connection counts each chunk as
    /// written when it is handed out: if the write fails, the caller must
    /// end the connection ([`Latch`]).
    pub(crate) fn next_chunk<'s, K: MaskKeys>(
        &'s mut self,
        conn: &mut Connection<K>,
        data: &'s [u8],
        tx: &'s mut [u8],
    ) -> Result<Option<Chunk<'s>>, SendError> {
        if !self.masked {
            if self.header_sent {
                return Ok(None);
            }
            self.header_sent = true;
            if !data.is_empty() {
                conn.payload_written(data.len())?;
            }
            let n = self.header_len + data.len();
            if n <= tx.len() {
                tx[..self.header_len].copy_from_slice(&self.header[..self.header_len]);
                tx[self.header_len..n].copy_from_slice(data);
                return Ok(Some((&tx[..n], &[])));
            }
            return Ok(Some((&self.header[..self.header_len], data)));
        }
        let mut at = 0;
        if !self.header_sent {
            self.header_sent = true;
            tx[..self.header_len].copy_from_slice(&self.header[..self.header_len]);
            at = self.header_len;
        } else if self.sent == data.len() {
            return Ok(None);
        }
        let n = (tx.len() - at).min(data.len() - self.sent);
        let chunk = &mut tx[at..at + n];
        chunk.copy_from_slice(&data[self.sent..self.sent + n]);
        if n > 0 {
            conn.mask_payload(chunk)?;
        }
        self.sent += n;
        Ok(Some((&tx[..at + n], &[])))
    }
}

/// A transport failure that ended the connection. A write that fails or
/// times out may have left part of a frame on the wire; nothing may follow
/// it, so the connection ends at once (as if the transport had closed) and
/// every later send gets the same error.
#[derive(Debug, Clone)]
pub(crate) struct Latch<E>(Option<E>);

impl<E> Default for Latch<E> {
    fn default() -> Self {
        Self(None)
    }
}

impl<E: Clone> Latch<E> {
    /// The latched failure, if any.
    pub(crate) fn check(&self) -> Result<(), E> {
        match &self.0 {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Whether a failure was latched.
    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Latches `e` (the first failure stands) and ends `conn`.
    pub(crate) fn set<K: MaskKeys>(&mut self, conn: &mut Connection<K>, e: E) {
        if self.0.is_none() {
            diag!(
                warn,
                "write failed or timed out: connection ended, peer dropped"
            );
            self.0 = Some(e);
        }
        conn.handle_eof();
    }
}

/// What to do with the transport once the connection is over.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Send our FIN, then read (dropping data) until the peer's FIN or the
    /// close timeout, so the last frame we sent is not lost to a reset.
    HalfCloseThenDrain,
    /// Wait (bounded by the close timeout) for the peer to close first,
    /// then close: a client after a clean close (RFC 6455 section 7.1.1).
    DrainThenClose,
    /// Close at once: the peer is gone (or the connection was stopped,
    /// or, in an adapter that cannot reset its transport, any [`Abort`](Self::Abort)).
    Now,
    /// Reset at once, where the transport and the platform can (TCP:
    /// `SO_LINGER` 0, on unix and Windows): the peer did not answer in
    /// time or stopped reading (a write failed), so what is unsent may
    /// never be taken, and must not hold the socket and its buffers after
    /// it is closed (nginx's `reset_timedout_connection`, always on).
    /// Elsewhere, and in the tokio adapter (which cannot reach the socket
    /// under its stream), a plain close: [`Now`](Self::Now).
    Abort,
}

#[cfg(feature = "tokio")]
impl Ending {
    /// This ending for a transport that cannot be reset: an abort is a
    /// plain close.
    pub(crate) fn without_abort(self) -> Self {
        match self {
            Self::Abort => Self::Now,
            e => e,
        }
    }
}

/// The end-of-connection policy, the same in every adapter: after a clean
/// close a server closes TCP first and a client lets the server; after our
/// error close both half-close and drain; a peer that vanished gets no
/// wait, and one that timed out is reset (where the transport can be: see
/// [`Ending::Abort`]; an adapter resets it where a write fails, too).
#[cfg(feature = "std")]
pub(crate) fn ending(end: Option<End>, role: Role) -> Ending {
    super::diag::ended(end);
    match end {
        Some(End::Clean) if role == Role::Client => Ending::DrainThenClose,
        Some(End::Clean) | Some(End::Failed(_)) | None => Ending::HalfCloseThenDrain,
        Some(End::PongTimeout | End::CloseTimeout) => Ending::Abort,
        Some(End::Abnormal) => Ending::Now,
    }
}

//! The outgoing queue: frames encoded and waiting to be written, gathered
//! so that many go out in one vectored write.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::tokio::io::AsyncWrite;
use bytes::{Buf, Bytes, BytesMut};

use crate::adapter::driver::FrameOut;
use crate::adapter::std_net::socket::{frames, send_control};
use crate::adapter::std_net::{Error, Keys};
use crate::conn::{Connection, DataKind, Instant, MessagePart, SendError};
use crate::message::Message;
use crate::wire::MAX_CONTROL_FRAME_LEN;

/// A payload this large, already shared (`Bytes`), is queued by reference
/// instead of copied.
const SHARE_MIN: usize = 4096;

/// Slices per vectored write (Linux takes up to 1024; this many cover a
/// batch of small frames, gathered in one buffer, and large shared ones).
const MAX_SLICES: usize = 64;

/// Frames waiting to be written, in order: small ones copied into `tail`,
/// large shared payloads kept by reference in `segs` (what was in `tail`
/// before them moves there first).
#[derive(Debug, Default)]
pub(crate) struct Out {
    segs: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
}

impl Out {
    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    fn push_shared(&mut self, bytes: Bytes) {
        if !self.tail.is_empty() {
            self.segs.push_back(self.tail.split().freeze());
        }
        self.len += bytes.len();
        self.segs.push_back(bytes);
    }

    /// Gives back the memory of an empty queue whose buffer grew past
    /// `keep` bytes (a large message went out), so an idle connection
    /// holds little.
    pub(crate) fn trim(&mut self, keep: usize) {
        if self.is_empty() && self.tail.capacity() > keep {
            self.tail = BytesMut::new();
        }
    }

    /// One data frame of `data` (`shared`: the same bytes, held by
    /// reference) on `conn`: a server's payload as it is, a client's
    /// masked in the queue.
    fn frame(
        &mut self,
        conn: &mut Connection<Keys>,
        part: MessagePart,
        data: &[u8],
        shared: Option<&Bytes>,
        compressed: bool,
    ) -> Result<(), SendError> {
        #[cfg(feature = "deflate")]
        let mut frame = if compressed {
            FrameOut::begin_compressed(conn, part, data.len())?
        } else {
            FrameOut::begin(conn, part, data.len())?
        };
        #[cfg(not(feature = "deflate"))]
        let mut frame = {
            let _ = compressed;
            FrameOut::begin(conn, part, data.len())?
        };
        if frame.is_masked() {
            let at = self.tail.len();
            let whole = frame.header().len() + data.len();
            self.tail.resize(at + whole, 0);
            let tx = &mut self.tail[at..];
            // `tx` holds the whole frame: one chunk.
            let n = match frame.next_chunk(conn, data, tx)? {
                Some((a, _)) => a.len(),
                None => 0,
            };
            debug_assert_eq!(n, whole);
            self.len += whole;
            return Ok(());
        }
        if let Some((head, body)) = frame.next_chunk(conn, data, &mut [])? {
            self.push(head);
            match shared {
                Some(b) if body.len() >= SHARE_MIN => self.push_shared(b.clone()),
                _ => self.push(body),
            }
        }
        Ok(())
    }

    /// A whole message of `kind` (fragments of the connection's
    /// `max_send_frame_len`), uncompressed.
    pub(crate) fn message(
        &mut self,
        conn: &mut Connection<Keys>,
        kind: DataKind,
        data: &[u8],
        shared: Option<&Bytes>,
    ) -> Result<(), SendError> {
        let max = conn.config().max_send_frame_len;
        for (part, range) in frames(max, kind, data.len()) {
            let piece = shared.map(|b| b.slice(range.clone()));
            self.frame(conn, part, &data[range], piece.as_ref(), false)?;
        }
        Ok(())
    }

    /// A compressed payload's frames (RSV1 on the message's first).
    #[cfg(feature = "deflate")]
    pub(crate) fn compressed(
        &mut self,
        conn: &mut Connection<Keys>,
        kind: DataKind,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let max = conn.config().max_send_frame_len;
        for (part, range) in frames(max, kind, payload.len()) {
            self.frame(conn, part, &payload[range], None, true)?;
        }
        Ok(())
    }

    /// One fragment of a message sent piece by piece.
    pub(crate) fn fragment(
        &mut self,
        conn: &mut Connection<Keys>,
        part: MessagePart,
        data: &[u8],
        compressed: bool,
    ) -> Result<(), SendError> {
        self.frame(conn, part, data, None, compressed)
    }

    /// A ping, pong or close: into the connection, then its frame here.
    pub(crate) fn control(
        &mut self,
        conn: &mut Connection<Keys>,
        now: Instant,
        msg: &Message,
    ) -> Result<(), SendError> {
        send_control(conn, msg)?;
        self.owed(conn, now)
    }

    /// Every control frame `conn` owes at `now` (pongs, the close echo,
    /// keepalive pings).
    pub(crate) fn owed(
        &mut self,
        conn: &mut Connection<Keys>,
        now: Instant,
    ) -> Result<(), SendError> {
        let mut buf = [0u8; MAX_CONTROL_FRAME_LEN];
        while let Some(frame) = crate::adapter::driver::owed(conn, now, &mut buf)? {
            self.push(frame);
        }
        Ok(())
    }

    /// Drops `n` written bytes from the front.
    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.segs.front_mut() else {
                self.tail.advance(n);
                break;
            };
            if n < front.len() {
                front.advance(n);
                break;
            }
            n -= front.len();
            self.segs.pop_front();
        }
        if self.len == 0 {
            // Back to the front of its buffer for the next batch.
            self.tail.clear();
        }
    }

    /// Writes until the queue is empty (vectored, as many frames as fit
    /// in one call); `Pending` when the stream cannot take more yet, with
    /// what was written dropped from the queue.
    pub(crate) fn poll_write<S: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        stream: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut k = 0;
            for seg in self.segs.iter().take(MAX_SLICES - 1) {
                slices[k] = IoSlice::new(seg);
                k += 1;
            }
            if k < MAX_SLICES && !self.tail.is_empty() {
                slices[k] = IoSlice::new(&self.tail);
                k += 1;
            }
            let n = ready!(Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..k]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

/// A message into `out` on `conn`: compressed if `deflate` says so.
pub(crate) fn encode(
    conn: &mut Connection<Keys>,
    out: &mut Out,
    #[cfg(feature = "deflate")] deflate: &mut crate::adapter::std_net::deflate::Compressing,
    now: Instant,
    msg: &Message,
) -> Result<(), Error> {
    let (kind, data, shared) = match msg {
        Message::Text(t) => (DataKind::Text, t.as_bytes(), t.payload().as_shared()),
        Message::Binary(b) => (DataKind::Binary, &b[..], b.as_shared()),
        control => return Ok(out.control(conn, now, control)?),
    };
    #[cfg(feature = "deflate")]
    if conn.deflate().is_some()
        && deflate.compresses()
        && let Some(z) = deflate.deflater(conn.deflate(), conn.role())
    {
        let payload = core::mem::take(z.compress(data, true));
        let r = out.compressed(conn, kind, &payload);
        deflate.give_back(payload);
        return Ok(r?);
    }
    Ok(out.message(conn, kind, data, shared)?)
}

/// A fragment into `out` on `conn`: compressed, if this end compresses,
/// as a piece of its message.
pub(crate) fn encode_fragment(
    conn: &mut Connection<Keys>,
    out: &mut Out,
    #[cfg(feature = "deflate")] deflate: &mut crate::adapter::std_net::deflate::Compressing,
    part: MessagePart,
    data: &[u8],
) -> Result<(), Error> {
    #[cfg(feature = "deflate")]
    if let MessagePart::Fragment { fin, .. } = part
        && let Some(z) = deflate.deflater(conn.deflate(), conn.role())
    {
        let payload = core::mem::take(z.compress(data, fin));
        let r = out.fragment(conn, part, &payload, true);
        deflate.give_back(payload);
        return Ok(r?);
    }
    Ok(out.fragment(conn, part, data, false)?)
}

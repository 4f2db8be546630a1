//! The tokio side of the outgoing queue ([`Out`]): messages encoded into
//! it (compressed where agreed), and its vectored writes, polled.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::tokio::io::AsyncWrite;

use crate::adapter::driver::out::{MAX_SLICES, Out};
use crate::adapter::std_net::{Error, Keys};
use crate::conn::{Connection, DataKind, Instant, MessagePart};
use crate::message::Message;

/// Writes until `out` is empty (vectored, as many frames as fit in one
/// call; one slice, plainly); `Pending` when the stream cannot take more
/// yet, with what was written dropped from the queue.
pub(crate) fn poll_write<S: AsyncWrite + Unpin + ?Sized>(
    out: &mut Out,
    stream: &mut S,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while !out.is_empty() {
        // One run of bytes: a plain write (`send`), which the kernel
        // takes a little faster than `writev` of one.
        let n = if let Some(one) = out.single() {
            ready!(Pin::new(&mut *stream).poll_write(cx, one))?
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let k = out.slices(&mut slices);
            ready!(Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..k]))?
        };
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        out.advance(n);
    }
    Poll::Ready(Ok(()))
}

/// A message into `out` on `conn`: compressed if `deflate` says so.
/// `now` is read for control messages only (a data message needs no
/// clock).
pub(crate) fn encode(
    conn: &mut Connection<Keys>,
    out: &mut Out,
    #[cfg(feature = "deflate")] deflate: &mut crate::adapter::std_net::deflate::Compressing,
    now: impl FnOnce() -> Instant,
    msg: &Message,
) -> Result<(), Error> {
    let (kind, data, shared) = match msg {
        Message::Text(t) => (DataKind::Text, t.as_bytes(), t.payload().as_shared()),
        Message::Binary(b) => (DataKind::Binary, &b[..], b.as_shared()),
        control => return Ok(out.control(conn, now(), control)?),
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

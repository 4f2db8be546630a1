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
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let k = out.slices(&mut slices);
        // One slice: a plain write (`send`), which the kernel takes a
        // little faster than `writev` of one.
        let n = match &slices[..k] {
            [one] => ready!(Pin::new(&mut *stream).poll_write(cx, one))?,
            some => ready!(Pin::new(&mut *stream).poll_write_vectored(cx, some))?,
        };
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        out.advance(n);
    }
    Poll::Ready(Ok(()))
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

//! Streams a WebSocket runs over, and the IO helpers every part of the
//! adapter uses: reading with timeouts, writing vectored, closing.

use std::boxed::Box;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use bytes::BytesMut;

use crate::adapter::driver::{Ending, RxBuf};

use super::error::*;

/// A byte stream a WebSocket runs over.
pub trait Transport: Read + Write {
    /// Makes reads fail with `WouldBlock` or `TimedOut` after `timeout`
    /// (`None`: block). Streams without timeouts may ignore it; keepalive
    /// timers then only run when data arrives.
    fn set_read_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Makes writes fail with `WouldBlock` or `TimedOut` after `timeout`
    /// ([`Options::write_timeout`](super::Options::write_timeout); `None`:
    /// block). Streams without timeouts may ignore it.
    fn set_write_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Ends the stream in one or both directions (`Shutdown::Write` sends
    /// a FIN after what was written).
    fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        let _ = how;
        Ok(())
    }

    /// Ends the stream at once, dropping what is unsent: after a write
    /// failed (the peer stopped reading:
    /// [`Options::write_timeout`](super::Options::write_timeout) ran out;
    /// the stream was cut mid-frame, and nothing more can follow), and
    /// when keepalive's pong timeout or the close timeout drops the peer.
    /// TCP resets the connection (`SO_LINGER` 0, on unix and Windows):
    /// once closed, the socket and its send buffer are freed at once, not
    /// held in `FIN-WAIT-1` behind data that a slow or hostile peer will
    /// never take. The default, and TCP where the option cannot be set: a
    /// [`shutdown`](Self::shutdown) both ways.
    fn abort(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Both)
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }

    fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }

    fn abort(&mut self) -> io::Result<()> {
        abort_tcp(self)
    }
}

/// [`Transport::abort`] for TCP: zero linger (the close sends a reset),
/// then a shutdown both ways, which wakes a read blocked on the stream in
/// another thread. The shutdown happens even if the option cannot be set
/// (a stack without it, as lwIP often is; a socket already shut down).
pub(crate) fn abort_tcp(stream: &TcpStream) -> io::Result<()> {
    #[cfg(any(unix, windows))]
    let _ = socket2::SockRef::from(stream).set_linger(Some(StdDuration::ZERO));
    stream.shutdown(Shutdown::Both)
}

/// A transport that can be split into a half to read from and a half to
/// write to, used by different threads.
pub trait Split: Transport + Sized {
    /// The read half.
    type Reader: Transport + Send + 'static;
    /// The write half.
    type Writer: Transport + Send + 'static;
    /// Splits the stream.
    fn split(self) -> io::Result<(Self::Reader, Self::Writer)>;

    /// A handle that shuts the stream down in both directions from any
    /// thread, waking a read or a write blocked on it: what
    /// [`Sender::stop`](super::Sender::stop) uses to cut a connection at
    /// once. `None` (the default): `stop` ends the connection as the
    /// reader and the writer next wake (a read timeout, a timer, data).
    fn closer(&self) -> Option<Closer> {
        None
    }

    /// Splits the stream and hands out its record layer, if it has one
    /// (TLS: [`Stream`](super::Stream) over `wss://`), for the split
    /// socket to drive under the connection's lock; the halves are then
    /// the raw stream's. The default: [`Split::split`], no layer.
    fn split_session(self) -> io::Result<SplitParts<Self>> {
        let (r, w) = self.split()?;
        Ok((r, w, None))
    }
}

/// What [`Split::split_session`] gives: the read half, the write half and
/// the record layer, if any.
pub type SplitParts<S> = (
    <S as Split>::Reader,
    <S as Split>::Writer,
    Option<Box<dyn super::Session>>,
);

/// See [`Split::closer`].
pub type Closer = Box<dyn Fn() + Send + Sync>;

impl Split for TcpStream {
    type Reader = TcpStream;
    type Writer = TcpStream;
    fn split(self) -> io::Result<(TcpStream, TcpStream)> {
        let w = self.try_clone()?;
        Ok((self, w))
    }

    fn closer(&self) -> Option<Closer> {
        let s = self.try_clone().ok()?;
        Some(Box::new(move || {
            let _ = s.shutdown(Shutdown::Both);
        }))
    }
}

/// The write timeout as a deadline for a whole send: the socket's timeout
/// (`SO_SNDTIMEO`) holds per system call, and a peer that drains a few
/// bytes now and then would otherwise keep a send going for ever. Each
/// write after the first gets what is left of the time.
pub(crate) struct WriteLimit {
    timeout: Option<StdDuration>,
    deadline: Option<StdInstant>,
    /// A write has been made (the next one gets the time left).
    started: bool,
    /// The socket's timeout was changed, to set back after.
    changed: bool,
}

impl WriteLimit {
    /// A send that must finish within `timeout` (`None`: no limit).
    pub(crate) fn new(timeout: Option<StdDuration>) -> Self {
        Self {
            timeout,
            deadline: timeout.map(|t| StdInstant::now() + t),
            started: false,
            changed: false,
        }
    }

    /// Before a write: the time left on the socket, or `TimedOut`.
    fn before_write<W: Transport>(&mut self, w: &mut W) -> io::Result<()> {
        if !core::mem::replace(&mut self.started, true) {
            return Ok(());
        }
        if let Some(d) = self.deadline {
            let now = StdInstant::now();
            if now >= d {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out"));
            }
            w.set_write_timeout(Some(d - now))?;
            self.changed = true;
        }
        Ok(())
    }

    /// Sets the socket's timeout back, if a write changed it.
    pub(crate) fn restore<W: Transport>(self, w: &mut W) {
        if self.changed {
            let _ = w.set_write_timeout(self.timeout);
        }
    }
}

/// `write_all` for several buffers, within `limit`: one `write_vectored`
/// when the transport takes everything at once (a `TcpStream`: `writev`).
pub(crate) fn write_all_vectored<W: Transport>(
    w: &mut W,
    mut bufs: &mut [IoSlice<'_>],
    limit: &mut WriteLimit,
) -> io::Result<()> {
    // The usual case first: one write takes every slice, with no slice
    // bookkeeping (a frame's header and payload, or a batch).
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    if total == 0 {
        return Ok(());
    }
    limit.before_write(w)?;
    let r = match &*bufs {
        [one] | [one, _] if one.len() == total => w.write(one),
        _ => w.write_vectored(bufs),
    };
    match r {
        Ok(n) if n == total => return Ok(()),
        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => IoSlice::advance_slices(&mut bufs, n),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => IoSlice::advance_slices(&mut bufs, 0),
        Err(e) => return Err(e),
    }
    while !bufs.is_empty() {
        limit.before_write(w)?;
        // One slice: a plain write (`send`), which the kernel takes a
        // little faster than `writev` of one.
        let r = match bufs {
            [one] => w.write(one),
            _ => w.write_vectored(bufs),
        };
        match r {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// What one wait for input gave.
pub(crate) enum Filled {
    Data,
    Timer,
    Eof,
    /// Not ready (an async stream, polled): the read is given up for now,
    /// its waker left with the stream and the timers. The blocking
    /// adapter waits instead and never gives this.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    Pending,
}

/// The stream a connection reads, with the read timeout last set on it
/// (`None`: not yet), so that an unchanged one costs no system call per
/// read.
#[derive(Debug)]
pub(crate) struct ReadStream<R> {
    pub(crate) stream: R,
    timeout: Option<Option<StdDuration>>,
}

impl<R: Transport> ReadStream<R> {
    pub(crate) fn new(stream: R) -> Self {
        Self {
            stream,
            timeout: None,
        }
    }

    /// Reads once into `rx`, waiting at most until the earlier of `timer`
    /// (the connection's) and `deadline` (the caller's; passing it is
    /// `TimedOut`).
    pub(crate) fn fill(
        &mut self,
        rx: &mut RxBuf<BytesMut>,
        timer: Option<StdInstant>,
        deadline: Option<StdInstant>,
    ) -> Result<Filled, Error> {
        let (filled, n) = self.read_into(rx.space(), timer, deadline)?;
        rx.filled(n);
        Ok(filled)
    }

    /// Reads once into `buf` as [`ReadStream::fill`] does: what happened,
    /// and the bytes read.
    pub(crate) fn read_into(
        &mut self,
        buf: &mut [u8],
        timer: Option<StdInstant>,
        deadline: Option<StdInstant>,
    ) -> Result<(Filled, usize), Error> {
        let wake = match (timer, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = match wake {
            None => None,
            Some(w) => {
                let now = StdInstant::now();
                if deadline.is_some_and(|d| now >= d) {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out").into());
                }
                if timer.is_some_and(|t| now >= t) {
                    return Ok((Filled::Timer, 0));
                }
                Some((w - now).max(StdDuration::from_millis(1)))
            }
        };
        if self.timeout != Some(timeout) {
            self.stream.set_read_timeout(timeout)?;
            self.timeout = Some(timeout);
        }
        match self.stream.read(buf) {
            Ok(0) => Ok((Filled::Eof, 0)),
            Ok(n) => Ok((Filled::Data, n)),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                Ok((Filled::Timer, 0))
            }
            Err(e) if is_gone(&e) => Ok((Filled::Eof, 0)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Ends a transport politely: optionally half-closes first, then reads
/// (and drops) until the peer's EOF or `timeout`, then shuts down. A peer
/// that has not closed by then is not reading either (or it would have
/// seen our close, and our FIN): it is reset ([`Transport::abort`]), so
/// that what it never took is not held after the close.
pub(crate) fn linger<T: Transport>(stream: &mut T, half_close_first: bool, timeout: StdDuration) {
    if half_close_first {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let deadline = StdInstant::now() + timeout;
    let mut scratch = [0u8; 512];
    let ended = loop {
        let now = StdInstant::now();
        if now >= deadline || stream.set_read_timeout(Some(deadline - now)).is_err() {
            break false;
        }
        match stream.read(&mut scratch) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The read timeout was the time left: it ran out.
            Err(e) if is_timeout(&e) => break false,
            Err(_) => break true,
        }
    };
    let _ = if ended {
        stream.shutdown(Shutdown::Both)
    } else {
        stream.abort()
    };
}

/// Ends the transport as the driver's end-of-connection policy says.
pub(crate) fn end_transport<T: Transport>(stream: &mut T, ending: Ending, wait: StdDuration) {
    match ending {
        Ending::HalfCloseThenDrain => linger(stream, true, wait),
        Ending::DrainThenClose => linger(stream, false, wait),
        Ending::Now => {
            let _ = stream.shutdown(Shutdown::Both);
        }
        Ending::Abort => {
            let _ = stream.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// A transport that takes at most `most` bytes a write, and is
    /// interrupted before every `every`th one.
    struct Trickle {
        got: Vec<u8>,
        most: usize,
        every: usize,
        calls: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Ok(0)
        }
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(self.every) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.most - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
            }
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Transport for Trickle {}

    /// Every slice arrives whole and in order, however the writes split
    /// it (the one-write shortcut against the general loop), empty
    /// slices included.
    #[test]
    fn a_vectored_write_arrives_whole_however_the_transport_splits_it() {
        let (a, b): (Vec<u8>, Vec<u8>) = ((0..10).collect(), (10..40).collect());
        for most in 1..45 {
            for every in [2, 3, 1000] {
                for parts in [
                    &[&a[..], &b[..]][..],
                    &[&a[..], &[]],
                    &[&[], &b[..]],
                    &[&a[..]],
                    &[],
                ] {
                    let mut t = Trickle {
                        got: Vec::new(),
                        most,
                        every,
                        calls: 0,
                    };
                    let mut slices: Vec<IoSlice<'_>> =
                        parts.iter().map(|p| IoSlice::new(p)).collect();
                    let mut limit = WriteLimit::new(None);
                    write_all_vectored(&mut t, &mut slices, &mut limit).unwrap();
                    assert_eq!(t.got, parts.concat(), "most {most}, every {every}");
                }
            }
        }
    }
}

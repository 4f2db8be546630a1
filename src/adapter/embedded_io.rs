//! Blocking WebSocket over `embedded_io::{Read, Write}` (feature
//! `embedded-io`): no_std, no alloc, for esp-hal / embassy-net style
//! firmware and anything else that implements the traits.
//!
//! The caller lends two buffers: `rx` receives (a frame's payload streams
//! through it, so it need not hold a whole message; the handshake head
//! must fit) and `tx` sends (at least
//! [`MAX_CONTROL_FRAME_LEN`](crate::wire::MAX_CONTROL_FRAME_LEN), 131
//! bytes: one control frame; client payloads are masked through it chunk
//! by chunk; our handshake head is written whole into it, about 200
//! bytes, up to 512 with permessage-deflate's parameters). Everything else is in [`ServerOptions`] / [`ClientOptions`]:
//! the [`Config`], the clock, the handshake and read timeouts, and for a
//! client the request, its nonce and the mask keys.
//!
//! ```
//! use sansws::adapter::embedded_io::{self as ws, ClientOptions, Decision, ServerOptions};
//! use sansws::conn::{Event, Instant};
//! # use sansws::adapter::embedded_io::testing::Pipe;
//!
//! /// The device's millisecond clock; with embassy on an ESP32:
//! /// `Instant(embassy_time::Instant::now().as_millis())`.
//! fn clock() -> Instant {
//!     ws::std_clock()
//! }
//! # let (client_io, server_io) = Pipe::pair();
//! # let t = std::thread::spawn(move || {
//! #     let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
//! #     let req = sansws::handshake::ClientRequest::new("device", "/ws");
//! #     let opts = ClientOptions::new(req, [7; 16], || [1, 2, 3, 4], clock);
//! #     let mut c = ws::connect(client_io, &mut rx, &mut tx, opts).unwrap();
//! #     c.send_text("ON").unwrap();
//! #     c.close(sansws::wire::CloseCode::NORMAL, "").unwrap();
//! # });
//! let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
//! let accepted = ws::accept(server_io, &mut rx, &mut tx, ServerOptions::new(clock),
//!     |req| if req.path() == "/ws" { Decision::Accept(None) } else { Decision::Reject(404) },
//!     |_page| sansws::handshake::HttpResponse::new(404))?;
//! let ws::Accepted::WebSocket(mut server) = accepted else { unreachable!() };
//! let mut led = false;
//! while let Some(()) = server.read_event(|e| {
//!     if let Event::Data(d) = e { led = d.payload == b"ON"; }
//! })? {}
//! assert!(led);
//! # t.join().unwrap();
//! # Ok::<(), sansws::adapter::embedded_io::Error<embedded_io::ErrorKind>>(())
//! ```
//!
//! # Time and timeouts
//!
//! The clock is a plain `fn() -> Instant` (milliseconds from any origin),
//! given in the options and read wherever time is stamped or checked: a
//! control frame written (a keepalive ping's pong deadline, a close's
//! close deadline), every return of a read in [`WebSocket::read_event`]
//! and the handshake, [`WebSocket::tick`]. A function, not a generic
//! closure: device clocks are functions (`embassy_time::Instant::now`,
//! esp-hal's system timer), a `WebSocket` type stays nameable (to keep one
//! in a `static` or a struct), and the adapter's code is one copy whatever
//! the clock. On a host, [`std_clock`] (feature `std`); in a test, a
//! function reading a `static`.
//!
//! The adapter has no timer of its own: it checks the clock when the
//! transport's read returns. So **the transport's read must time out**:
//! when no byte came within its own read timeout it returns an error whose
//! [`kind()`](embedded_io::Error::kind) is [`ErrorKind::TimedOut`], and a
//! later read works as before. That error is not a failure: the adapter
//! runs the timers that are due (keepalive ping, pong timeout, close
//! timeout, handshake timeout, read timeout) and reads again. A timer
//! fires at most one transport read timeout late, so choose it well under
//! the connection's timeouts (100 ms to 1 s). Any other read error is
//! returned as [`Error::Io`]. A transport whose read never times out
//! still works, but its timers only run when bytes arrive or
//! [`WebSocket::tick`] is called, so a silent peer can keep
//! [`WebSocket::read_event`], [`WebSocket::close`] and [`accept`] waiting
//! for ever.
//!
//! - lwIP (feature `lwip`): `adapter::lwip::Netconn::set_recv_timeout`
//!   makes `netconn_recv` give `ERR_TIMEOUT`, which is `TimedOut` already;
//!   `adapter::lwip::accept` and `adapter::lwip::connect` set one if none
//!   is.
//! - std streams on a host: `std::net::TcpStream::set_read_timeout` makes
//!   reads fail with `WouldBlock` (Unix) or `TimedOut` (Windows), and
//!   embedded-io-adapters maps `WouldBlock` to `Other`: wrap the stream in
//!   [`StdIo`] (feature `std`), which maps both to `TimedOut`.
//!
//! A write that fails or times out may have cut a frame: the connection
//! ends at once ([`WebSocket::is_connected`] turns false, [`WebSocket::end`]
//! is [`End::Abnormal`]) and every later send returns [`Error::Failed`]
//! with the first error's kind; nothing more is written.
//!
//! # Batching
//!
//! A send writes its frame to the transport at once, and flushes the
//! transport after it (embassy-net's `flush` waits until the peer has
//! acknowledged every byte) unless input the connection has not seen is
//! already in `rx` (the peer sent many messages together): then the
//! replies are written one after the other and flushed once, when
//! [`WebSocket::read_event`] has used up what was read and is about to
//! read the transport again, or as soon as more than 4 KiB of payload is
//! held. A lone message is flushed by its send. The fragments of a
//! message ([`WebSocket::send_fragment`] with `fin` false) are not
//! flushed each either: the last one is. A control frame (a ping, pong
//! or close, and those the connection owes) flushes what is held with
//! it; so do [`WebSocket::flush`], to send held replies without reading
//! again, and [`WebSocket::tick`]. A connection that failed or ended
//! (its peer has its close, or is gone) flushes nothing more.
//!
//! A transport that sends what it is given without a flush (embassy-net,
//! lwIP, a std stream) sends held frames either way; only the wait for
//! each is saved. One that sends only when flushed (embedded-tls's record
//! buffer, a `BufWriter`) keeps them until one of the above: a caller that
//! goes on sending without reading while input waits leaves at most 4 KiB
//! there, and should call `flush` when it stops. Held frames are flushed
//! before `read_event` reads the transport, so they are out by the time it
//! returns `Ok(None)` for the peer's end of stream or close; that flush
//! may wait (embassy-net: for the peer's ACK) before the read timeout is
//! checked. [`WebSocket::into_io`] hands the transport back as it is
//! (call `flush` first if it buffers).
//!
//! An echo loop: an event borrows `rx`, so a message's chunks are gathered
//! and the reply is sent once `read_event` has returned.
//!
//! ```
//! use sansws::adapter::embedded_io::{self as ws, Decision, ServerOptions};
//! use sansws::conn::{DataKind, Event};
//! # use sansws::adapter::embedded_io::testing::Pipe;
//! # let (client_io, server_io) = Pipe::pair();
//! # let t = std::thread::spawn(move || {
//! #     let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
//! #     let req = sansws::handshake::ClientRequest::new("device", "/ws");
//! #     let opts = ws::ClientOptions::new(req, [7; 16], || [1, 2, 3, 4], ws::std_clock);
//! #     let mut c = ws::connect(client_io, &mut rx, &mut tx, opts).unwrap();
//! #     c.send_text("ON").unwrap();
//! #     c.send_binary(&[1, 2, 3]).unwrap();
//! #     let mut got = Vec::new();
//! #     while got.len() < 5 {
//! #         c.read_event(|e| if let Event::Data(d) = e { got.extend_from_slice(d.payload) }).unwrap();
//! #     }
//! #     assert_eq!(got, b"ON\x01\x02\x03");
//! #     c.close(sansws::wire::CloseCode::NORMAL, "").unwrap();
//! # });
//! let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
//! let accepted = ws::accept(server_io, &mut rx, &mut tx, ServerOptions::new(ws::std_clock),
//!     |_req| Decision::Accept(None), |_page| sansws::handshake::HttpResponse::new(404))?;
//! let ws::Accepted::WebSocket(mut server) = accepted else { unreachable!() };
//! // Where a message is gathered (no alloc: a static buffer, or a
//! // heapless::Vec, as large as the largest message to echo).
//! let mut msg = Vec::new();
//! loop {
//!     let mut done = None;
//!     let event = server.read_event(|e| {
//!         if let Event::Data(d) = e {
//!             msg.extend_from_slice(d.payload);
//!             if d.is_message_end() {
//!                 done = Some(d.kind);
//!             }
//!         }
//!     })?;
//!     if event.is_none() {
//!         break; // over: server.end() says how
//!     }
//!     match done {
//!         // Checked as UTF-8 by the connection already.
//!         Some(DataKind::Text) => server.send_text(core::str::from_utf8(&msg).unwrap_or(""))?,
//!         Some(DataKind::Binary) => server.send_binary(&msg)?,
//!         None => continue,
//!     }
//!     msg.clear();
//! }
//! # t.join().unwrap();
//! # Ok::<(), sansws::adapter::embedded_io::Error<embedded_io::ErrorKind>>(())
//! ```

use embedded_io::{ErrorKind, ErrorType, Read, Write};

use super::diag::diag;
#[cfg(any(feature = "server", feature = "client"))]
use super::driver::handshake as steps;
#[cfg(feature = "server")]
pub use super::driver::handshake::Decision;
#[cfg(feature = "server")]
use super::driver::handshake::{ServerStep, Then};
use super::driver::{FrameOut, Latch, RxBuf, Session};
#[cfg(feature = "server")]
use crate::conn::NoMasking;
use crate::conn::{
    Config, Connection, DataKind, Duration, End, Event, Instant, MaskKeys, MessagePart,
    ProtocolError, SendError, State,
};
#[cfg(feature = "client")]
use crate::handshake::{ClientHandshake, ClientRequest};
use crate::handshake::{HandshakeError, Sha1Fn, WriteError};
#[cfg(feature = "server")]
use crate::handshake::{HttpResponse, Request, UpgradeRequest};
use crate::wire::CloseCode;

/// What went wrong. `E` is the transport's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E: embedded_io::Error> {
    /// The transport failed.
    #[error("transport: {0}")]
    Io(#[source] E),
    /// The transport ended during the handshake.
    #[error("transport closed during the handshake")]
    Eof,
    /// The transport accepted no bytes.
    #[error("transport wrote zero bytes")]
    WriteZero,
    /// The peer's handshake head was refused.
    #[error("handshake: {0}")]
    Handshake(HandshakeError),
    /// Our handshake head could not be written: a value given for it is
    /// invalid, or `tx` is too small.
    #[error("handshake: {0}")]
    HandshakeWrite(WriteError),
    /// The handshake did not finish within the handshake timeout.
    #[error("the handshake timed out")]
    HandshakeTimeout,
    /// No event came within the read timeout; the connection is still
    /// usable.
    #[error("no event within the read timeout")]
    ReadTimeout,
    /// The peer broke the protocol; a close with its code was sent.
    #[error("protocol: {0}")]
    Protocol(ProtocolError),
    /// A send that cannot be done.
    #[error("send: {0}")]
    Send(SendError),
    /// An earlier write failed or was cut short (its error was returned
    /// then; `Interrupted`: an async call was cancelled mid-write) and
    /// ended the connection: a frame may have been cut, so nothing more
    /// is sent.
    #[error("the connection ended when a write failed ({0})")]
    Failed(ErrorKind),
}

impl<E: embedded_io::Error> From<HandshakeError> for Error<E> {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

impl<E: embedded_io::Error> From<WriteError> for Error<E> {
    fn from(e: WriteError) -> Self {
        Error::HandshakeWrite(e)
    }
}

impl<E: embedded_io::Error> From<SendError> for Error<E> {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

impl<E: embedded_io::Error> From<ProtocolError> for Error<E> {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

/// How long a handshake may take by default: 10 s.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's settings, for [`accept`].
#[cfg(feature = "server")]
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// The connection's limits and timers (default [`Config::DEFAULT`]).
    pub config: Config,
    /// The clock, in milliseconds: see the [module docs](self#time-and-timeouts).
    pub clock: fn() -> Instant,
    /// How long the client may take to send its request (default 10 s;
    /// `None`: no limit).
    pub handshake_timeout: Option<Duration>,
    /// [`WebSocket::read_event`] returns [`Error::ReadTimeout`] after this
    /// long without an event (default `None`: it reads on; the timers run
    /// meanwhile).
    pub read_timeout: Option<Duration>,
    /// The handshake's SHA-1 (default: the `sha1` crate, feature `sha1`).
    pub sha1: Sha1Fn,
}

#[cfg(feature = "server")]
impl ServerOptions {
    /// The defaults, on `clock`, with the `sha1` crate's SHA-1.
    #[cfg(feature = "sha1")]
    pub const fn new(clock: fn() -> Instant) -> Self {
        Self::with_sha1(clock, crate::handshake::sha1_digest)
    }

    /// The defaults, on `clock`, with the caller's SHA-1 (e.g. the chip's
    /// SHA accelerator), for firmware built without feature `sha1`.
    pub const fn with_sha1(clock: fn() -> Instant, sha1: Sha1Fn) -> Self {
        Self {
            config: Config::DEFAULT,
            clock,
            handshake_timeout: Some(HANDSHAKE_TIMEOUT),
            read_timeout: None,
            sha1,
        }
    }
}

/// A client's settings, for [`connect`]: what to ask for, the random
/// values it needs, and the same settings as a server's.
#[cfg(feature = "client")]
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions<'r, K> {
    /// The request: host, path, subprotocols, extra header fields.
    pub request: ClientRequest<'r>,
    /// 16 random bytes for `Sec-WebSocket-Key`.
    pub nonce: [u8; 16],
    /// Where the frames' mask keys come from (random, never constant).
    pub keys: K,
    /// The connection's limits and timers (default [`Config::DEFAULT`]).
    pub config: Config,
    /// The clock, in milliseconds: see the [module docs](self#time-and-timeouts).
    pub clock: fn() -> Instant,
    /// How long the server may take to answer (default 10 s; `None`: no
    /// limit).
    pub handshake_timeout: Option<Duration>,
    /// As [`ServerOptions::read_timeout`].
    pub read_timeout: Option<Duration>,
    /// As [`ServerOptions::sha1`].
    pub sha1: Sha1Fn,
}

#[cfg(feature = "client")]
impl<'r, K: MaskKeys> ClientOptions<'r, K> {
    /// The defaults for `request`, with `nonce` and `keys`, on `clock`,
    /// with the `sha1` crate's SHA-1.
    #[cfg(feature = "sha1")]
    pub const fn new(
        request: ClientRequest<'r>,
        nonce: [u8; 16],
        keys: K,
        clock: fn() -> Instant,
    ) -> Self {
        Self::with_sha1(request, nonce, keys, clock, crate::handshake::sha1_digest)
    }

    /// As [`new`](Self::new), with the caller's SHA-1 (see
    /// [`ServerOptions::with_sha1`]).
    pub const fn with_sha1(
        request: ClientRequest<'r>,
        nonce: [u8; 16],
        keys: K,
        clock: fn() -> Instant,
        sha1: Sha1Fn,
    ) -> Self {
        Self {
            request,
            nonce,
            keys,
            config: Config::DEFAULT,
            clock,
            handshake_timeout: Some(HANDSHAKE_TIMEOUT),
            read_timeout: None,
            sha1,
        }
    }
}

super::embedded::embedded_adapter!([] []);

/// Milliseconds since this function was first called in the process: a
/// clock for hosts (feature `std`).
#[cfg(feature = "std")]
pub fn std_clock() -> Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    Instant(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// A std `Read + Write` stream (a `TcpStream`, a TLS stream) as an
/// embedded-io transport whose timeouts read as [`ErrorKind::TimedOut`]
/// (feature `std`). Set the stream's read timeout
/// (`TcpStream::set_read_timeout`) so the adapter's timers run: std reports
/// it as `WouldBlock` on Unix, which embedded-io-adapters would map to
/// `Other`; here `WouldBlock` and `TimedOut` become `TimedOut`, on reads and
/// writes. `Interrupted` is retried.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct StdIo<T>(pub T);

#[cfg(feature = "std")]
impl<T> StdIo<T> {
    fn check<R>(r: std::io::Result<R>) -> std::io::Result<R> {
        use std::io::ErrorKind as K;
        r.map_err(|e| match e.kind() {
            K::WouldBlock => std::io::Error::new(K::TimedOut, e),
            _ => e,
        })
    }
}

#[cfg(feature = "std")]
impl<T> ErrorType for StdIo<T> {
    type Error = std::io::Error;
}

#[cfg(feature = "std")]
impl<T: std::io::Read> Read for StdIo<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match Self::check(self.0.read(buf)) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

#[cfg(feature = "std")]
impl<T: std::io::Write> Write for StdIo<T> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            match Self::check(self.0.write(buf)) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Self::check(self.0.flush())
    }
}

/// The same as an async transport (feature `embedded-io-async`): each call
/// blocks the thread until the stream is done, as the blocking one does.
/// For host tools and tests of async firmware code, under a plain
/// `block_on`; never inside an executor that runs other tasks on the
/// thread.
#[cfg(all(feature = "std", feature = "embedded-io-async"))]
impl<T: std::io::Read> embedded_io_async::Read for StdIo<T> {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Read::read(self, buf)
    }
}

#[cfg(all(feature = "std", feature = "embedded-io-async"))]
impl<T: std::io::Write> embedded_io_async::Write for StdIo<T> {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Write::write(self, buf)
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        Write::flush(self)
    }
}

/// In-memory transports for tests and examples (feature `std`).
#[cfg(feature = "std")]
pub mod testing {
    use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};
    use std::vec::Vec;

    use embedded_io::ErrorKind;

    /// One direction of a pipe pair.
    #[derive(Default)]
    struct Flow {
        /// Bytes in flight.
        data: Vec<u8>,
        /// The writing end is gone.
        closed: bool,
        /// The reading end is gone.
        unread: bool,
        /// An async reader waiting for bytes.
        reader: Option<Waker>,
        /// An async writer waiting for room.
        writer: Option<Waker>,
    }

    type Shared = Arc<(Mutex<Flow>, Condvar)>;

    fn lock(s: &Shared) -> MutexGuard<'_, Flow> {
        s.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes whoever waits on `flow`.
    fn notify(s: &Shared, flow: &mut Flow, reader: bool) {
        let w = if reader {
            flow.reader.take()
        } else {
            flow.writer.take()
        };
        if let Some(w) = w {
            w.wake();
        }
        s.1.notify_all();
    }

    /// One end of an in-memory byte pipe pair: what one end writes, the
    /// other reads. Reads wait until data or the other end is dropped
    /// (async: `Pending`, woken by the writer). The public fields shape a
    /// transport's behaviour for tests.
    pub struct Pipe {
        rx: Shared,
        tx: Shared,
        /// The most bytes one read or write moves.
        pub max_io: usize,
        /// A read that found nothing this long fails with
        /// [`ErrorKind::TimedOut`] (as a socket's read timeout does);
        /// `None`: it waits.
        pub read_timeout: Option<Duration>,
        /// The most bytes in flight towards the other end: a write waits
        /// (async: `Pending`) until the reader makes room, as on a full
        /// TCP window.
        pub capacity: usize,
        /// Writes fail with [`ErrorKind::BrokenPipe`] once this many more
        /// bytes were written (the last write that fits is cut short).
        pub write_limit: Option<usize>,
        /// How many times `flush` was called on this end.
        pub flushes: usize,
        /// How many writes moved bytes (or none, for an empty buffer) on
        /// this end.
        pub writes: usize,
        /// Writes are kept on this end until `flush` (as a TLS session
        /// keeps a record, or a `BufWriter`): the other end sees nothing
        /// before. The other knobs do not apply to bytes kept so.
        pub until_flush: bool,
        kept: Vec<u8>,
    }

    impl Pipe {
        /// Two connected ends.
        pub fn pair() -> (Pipe, Pipe) {
            let a: Shared = Arc::default();
            let b: Shared = Arc::default();
            (Pipe::new(a.clone(), b.clone()), Pipe::new(b, a))
        }

        fn new(rx: Shared, tx: Shared) -> Pipe {
            Pipe {
                rx,
                tx,
                max_io: usize::MAX,
                read_timeout: None,
                capacity: usize::MAX,
                write_limit: None,
                flushes: 0,
                writes: 0,
                until_flush: false,
                kept: Vec::new(),
            }
        }

        /// Moves what is there into `buf`: `None` when there is nothing
        /// yet.
        fn take(&mut self, flow: &mut Flow, buf: &mut [u8]) -> Option<usize> {
            if flow.data.is_empty() && !flow.closed && !buf.is_empty() {
                return None;
            }
            let n = flow.data.len().min(buf.len()).min(self.max_io);
            buf[..n].copy_from_slice(&flow.data[..n]);
            flow.data.drain(..n);
            Some(n)
        }

        /// An `until_flush` write: kept, all of it.
        fn keep(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
            self.kept.extend_from_slice(buf);
            self.writes += 1;
            Ok(buf.len())
        }

        /// A flush: what was kept goes to the other end.
        fn deliver(&mut self) {
            self.flushes += 1;
            if !self.kept.is_empty() {
                let tx = self.tx.clone();
                let mut flow = lock(&tx);
                flow.data.append(&mut self.kept);
                notify(&tx, &mut flow, true);
            }
        }

        /// Moves what fits of `buf` in: `None` when there is no room yet.
        fn put(&mut self, flow: &mut Flow, buf: &[u8]) -> Option<Result<usize, ErrorKind>> {
            if self.write_limit == Some(0) {
                return Some(Err(ErrorKind::BrokenPipe));
            }
            let room = self.capacity.saturating_sub(flow.data.len());
            if room == 0 && !buf.is_empty() {
                return flow.unread.then_some(Err(ErrorKind::BrokenPipe));
            }
            let n = buf
                .len()
                .min(self.max_io)
                .min(room)
                .min(self.write_limit.unwrap_or(usize::MAX));
            flow.data.extend_from_slice(&buf[..n]);
            if let Some(left) = &mut self.write_limit {
                *left -= n;
            }
            self.writes += 1;
            Some(Ok(n))
        }

        #[cfg(feature = "embedded-io-async")]
        fn poll_read(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut [u8],
            deadline: Option<Instant>,
        ) -> Poll<Result<usize, ErrorKind>> {
            let rx = self.rx.clone();
            let mut flow = lock(&rx);
            if let Some(n) = self.take(&mut flow, buf) {
                notify(&rx, &mut flow, false);
                return Poll::Ready(Ok(n));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Poll::Ready(Err(ErrorKind::TimedOut));
            }
            flow.reader = Some(cx.waker().clone());
            Poll::Pending
        }

        #[cfg(feature = "embedded-io-async")]
        fn poll_write(
            &mut self,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<Result<usize, ErrorKind>> {
            let tx = self.tx.clone();
            let mut flow = lock(&tx);
            match self.put(&mut flow, buf) {
                Some(r) => {
                    notify(&tx, &mut flow, true);
                    Poll::Ready(r)
                }
                None => {
                    flow.writer = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }

    impl Drop for Pipe {
        fn drop(&mut self) {
            let mut flow = lock(&self.tx);
            flow.closed = true;
            notify(&self.tx, &mut flow, true);
            drop(flow);
            let mut flow = lock(&self.rx);
            flow.unread = true;
            notify(&self.rx, &mut flow, false);
        }
    }

    impl embedded_io::ErrorType for Pipe {
        type Error = ErrorKind;
    }

    impl embedded_io::Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let deadline = self.read_timeout.map(|t| Instant::now() + t);
            let rx = self.rx.clone();
            let mut flow = lock(&rx);
            loop {
                if let Some(n) = self.take(&mut flow, buf) {
                    notify(&rx, &mut flow, false);
                    return Ok(n);
                }
                flow = match deadline {
                    None => rx.1.wait(flow).unwrap_or_else(|p| p.into_inner()),
                    Some(d) => {
                        let left = d.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(ErrorKind::TimedOut);
                        }
                        rx.1.wait_timeout(flow, left)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                };
            }
        }
    }

    impl embedded_io::Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            if self.until_flush {
                return self.keep(buf);
            }
            let tx = self.tx.clone();
            let mut flow = lock(&tx);
            loop {
                if let Some(r) = self.put(&mut flow, buf) {
                    notify(&tx, &mut flow, true);
                    return r;
                }
                flow = tx.1.wait(flow).unwrap_or_else(|p| p.into_inner());
            }
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            self.deliver();
            Ok(())
        }
    }

    /// Cancel-safe: nothing is taken from the pipe until the read
    /// completes. The read timeout is kept by a thread that wakes the
    /// task when it passes.
    #[cfg(feature = "embedded-io-async")]
    impl embedded_io_async::Read for Pipe {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let deadline = self.read_timeout.map(|t| Instant::now() + t);
            let mut timer = None;
            core::future::poll_fn(|cx| {
                let r = self.poll_read(cx, buf, deadline);
                if let (Poll::Pending, Some(d), None) = (&r, deadline, &timer) {
                    let waker = cx.waker().clone();
                    timer = Some(std::thread::spawn(move || {
                        std::thread::sleep(d.saturating_duration_since(Instant::now()));
                        waker.wake();
                    }));
                }
                r
            })
            .await
        }
    }

    /// Cancel-safe: a write either moves bytes or none.
    #[cfg(feature = "embedded-io-async")]
    impl embedded_io_async::Write for Pipe {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            if self.until_flush {
                return self.keep(buf);
            }
            core::future::poll_fn(|cx| self.poll_write(cx, buf)).await
        }
        async fn flush(&mut self) -> Result<(), Self::Error> {
            self.deliver();
            Ok(())
        }
    }

    /// Runs a future to completion on this thread (a minimal executor for
    /// tests: park until woken).
    pub fn block_on<F: core::future::Future>(fut: F) -> F::Output {
        use std::task::Wake;
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut fut = core::pin::pin!(fut);
        loop {
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(v) => return v,
                Poll::Pending => std::thread::park(),
            }
        }
    }
}

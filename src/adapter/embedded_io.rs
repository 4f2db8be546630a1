//! Blocking WebSocket over `embedded_io::{Read, Write}` (feature
//! `embedded-io`): no_std, no alloc, for esp-hal / embassy-net style
//! firmware and anything else that implements the traits.
//!
//! The caller lends two buffers: `rx` receives (a frame's payload streams
//! through it, so it need not hold a whole message; the handshake head
//! must fit) and `tx` sends (at least
//! [`MAX_CONTROL_FRAME_LEN`](crate::wire::MAX_CONTROL_FRAME_LEN), 131
//! bytes: one control frame; client payloads are masked through it chunk
//! by chunk). Time comes in through
//! [`WebSocket::tick`].
//!
//! ```
//! use sansws::adapter::embedded_io::{self as ws, Decision};
//! use sansws::conn::{Config, Event, Instant};
//! # use sansws::adapter::embedded_io::testing::Pipe;
//! # let (client_io, server_io) = Pipe::pair();
//! # let t = std::thread::spawn(move || {
//! #     let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
//! #     let req = sansws::handshake::ClientRequest::new("device", "/ws");
//! #     let mut c = ws::connect(client_io, &mut rx, &mut tx, &req, [7; 16], || [1, 2, 3, 4], Config::DEFAULT, Instant::ZERO).unwrap();
//! #     c.send_text("ON").unwrap();
//! #     c.close(sansws::wire::CloseCode::NORMAL, "").unwrap();
//! # });
//! let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
//! let accepted = ws::accept(server_io, &mut rx, &mut tx, Config::DEFAULT, Instant::ZERO,
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

use embedded_io::{ErrorType, Read, Write};

pub use super::session::Decision;
use super::session::{self, ServerStep, Session, Then};
use crate::conn::{
    Config, Connection, DataKind, End, Event, Instant, MaskKeys, MessagePart, NoMasking,
    ProtocolError, SendError, State,
};
use crate::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, HttpResponse, Request, UpgradeRequest,
    WriteError,
};
use crate::wire::CloseCode;

/// What went wrong. `E` is the transport's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E: core::fmt::Debug> {
    /// The transport failed.
    #[error("transport: {0:?}")]
    Io(E),
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
    /// The peer broke the protocol; a close with its code was sent.
    #[error("protocol: {0}")]
    Protocol(ProtocolError),
    /// A send that cannot be done.
    #[error("send: {0}")]
    Send(SendError),
}

impl<E: core::fmt::Debug> From<HandshakeError> for Error<E> {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

impl<E: core::fmt::Debug> From<WriteError> for Error<E> {
    fn from(e: WriteError) -> Self {
        Error::HandshakeWrite(e)
    }
}

impl<E: core::fmt::Debug> From<SendError> for Error<E> {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

impl<E: core::fmt::Debug> From<ProtocolError> for Error<E> {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

type Res<T, IO> = Result<T, Error<<IO as ErrorType>::Error>>;

/// Reads more of a handshake head into `rx[*len..]`: an error if the
/// head would not fit in `rx` or the peer ended the stream.
#[inline]
fn read_head<T: Read>(io: &mut T, rx: &mut [u8], len: &mut usize) -> Res<(), T> {
    if *len == rx.len() {
        return Err(HandshakeError::TooLarge { limit: rx.len() }.into());
    }
    match io.read(&mut rx[*len..]).map_err(Error::Io)? {
        0 => Err(Error::Eof),
        n => {
            *len += n;
            Ok(())
        }
    }
}

fn write_all<T: Write>(io: &mut T, mut buf: &[u8]) -> Res<(), T> {
    while !buf.is_empty() {
        match io.write(buf).map_err(Error::Io)? {
            0 => return Err(Error::WriteZero),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// What [`accept`] found.
// No alloc here to box the WebSocket; the value is moved once.
#[allow(clippy::large_enum_variant)]
pub enum Accepted<'b, T: Read + Write> {
    /// A WebSocket.
    WebSocket(WebSocket<'b, T, NoMasking>),
    /// A plain HTTP request, answered with the `page` callback's response;
    /// the transport is handed back to be closed.
    Http(T),
    /// An upgrade refused with this status.
    Rejected(T, u16),
}

/// Runs a server handshake: reads the request into `rx`; an upgrade goes to
/// `decide`, a plain request (a page at `/`) to `page`. A broken request is
/// answered with its status (400, 426, 431) and returned as
/// [`Error::Handshake`]; an answer of ours that cannot be written (too
/// large for `tx`, an invalid status) with 500, as [`Error::HandshakeWrite`].
#[allow(clippy::too_many_arguments)]
pub fn accept<'b, T: Read + Write>(
    mut io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    config: Config,
    now: Instant,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
    page: impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>,
) -> Res<Accepted<'b, T>, T> {
    let limits = session::limits_for(rx.len());
    let (mut decide, mut page) = (Some(decide), Some(page));
    let mut len = 0;
    loop {
        read_head(&mut io, rx, &mut len)?;
        match session::server_step(rx, len, tx, &limits, &mut decide, &mut page) {
            Ok(ServerStep::More) => {}
            Ok(ServerStep::Respond { n, then }) => {
                write_all(&mut io, &tx[..n])?;
                io.flush().map_err(Error::Io)?;
                return Ok(match then {
                    Then::Upgrade(early) => {
                        let conn = Connection::server(config, now);
                        Accepted::WebSocket(WebSocket {
                            io,
                            s: Session::new(conn, rx, early, tx, now),
                        })
                    }
                    Then::Http => Accepted::Http(io),
                    Then::Rejected(status) => Accepted::Rejected(io, status),
                });
            }
            Err(e) => {
                if let Some(n) = session::rejection(&e, tx) {
                    let _ = write_all(&mut io, &tx[..n]);
                    let _ = io.flush();
                }
                return Err(e.into());
            }
        }
    }
}

/// Runs a client handshake for `req` with the 16 random bytes `nonce`;
/// frames are masked with keys from `keys`.
#[allow(clippy::too_many_arguments)]
pub fn connect<'b, T: Read + Write, K: MaskKeys>(
    mut io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    req: &ClientRequest<'_>,
    nonce: [u8; 16],
    keys: K,
    config: Config,
    now: Instant,
) -> Res<WebSocket<'b, T, K>, T> {
    let hs = ClientHandshake::new(nonce);
    let n = hs.write_request(req, tx)?;
    write_all(&mut io, &tx[..n])?;
    io.flush().map_err(Error::Io)?;
    let limits = session::limits_for(rx.len());
    let mut len = 0;
    loop {
        read_head(&mut io, rx, &mut len)?;
        if let Some(early) = session::client_step(&hs, req, rx, len, &limits)? {
            let conn = Connection::client(config, keys, now);
            return Ok(WebSocket {
                io,
                s: Session::new(conn, rx, early, tx, now),
            });
        }
    }
}

/// A blocking WebSocket over an embedded-io transport, with borrowed
/// buffers.
pub struct WebSocket<'b, T: Read + Write, K: MaskKeys> {
    io: T,
    s: Session<'b, K>,
}

impl<'b, T: Read + Write, K: MaskKeys> WebSocket<'b, T, K> {
    session::websocket_getters!();

    /// The clock moved to `now`: runs due timers (keepalive ping, pong and
    /// close deadlines) and sends what they owe. Call it at
    /// [`Connection::poll_timeout`](crate::conn::Core::poll_timeout), or every so often.
    pub fn tick(&mut self, now: Instant) -> Res<(), T> {
        self.s.now = now;
        self.s.conn.handle_timeout(now);
        self.flush_owed()
    }

    fn flush_owed(&mut self) -> Res<(), T> {
        let mut wrote = false;
        while let Some(frame) = self.s.owed()? {
            write_all(&mut self.io, frame)?;
            wrote = true;
        }
        if wrote {
            self.io.flush().map_err(Error::Io)?;
        }
        Ok(())
    }

    /// Blocks until one event and hands it to `f`; data arrives in chunks
    /// as it is read, with offset and frame length. Pongs and close echoes
    /// are sent as needed. `Ok(None)` once the connection is over (then
    /// close the transport: a server at once, a client once the server
    /// has).
    pub fn read_event<R>(&mut self, f: impl FnOnce(Event<'_>) -> R) -> Res<Option<R>, T> {
        let mut f = Some(f);
        loop {
            match self.s.process(|e| f.take().map(|f| f(e))) {
                Ok(Some(out)) => {
                    self.flush_owed()?;
                    return Ok(out);
                }
                Ok(None) => {}
                Err(e) => {
                    self.flush_owed()?;
                    return Err(e.into());
                }
            }
            self.flush_owed()?;
            if self.s.conn.is_closed() {
                return Ok(None);
            }
            match self.io.read(self.s.space()).map_err(Error::Io)? {
                0 => self.s.conn.handle_eof(),
                n => self.s.filled(n),
            }
        }
    }

    fn send_frame(&mut self, part: MessagePart, data: &[u8]) -> Res<(), T> {
        self.flush_owed()?;
        let mut frame = self.s.begin_frame(part, data.len())?;
        while let Some(chunk) = self.s.next_chunk(&mut frame, data)? {
            write_all(&mut self.io, chunk)?;
        }
        self.io.flush().map_err(Error::Io)
    }

    /// Sends a text message in one frame, streamed through `tx`.
    pub fn send_text(&mut self, text: &str) -> Res<(), T> {
        self.send_frame(MessagePart::Whole(DataKind::Text), text.as_bytes())
    }

    /// Sends a binary message in one frame, streamed through `tx`.
    pub fn send_binary(&mut self, data: &[u8]) -> Res<(), T> {
        self.send_frame(MessagePart::Whole(DataKind::Binary), data)
    }

    /// Sends one fragment of a message produced piece by piece
    /// (esp_websocket_client's `send_text_partial` / `send_cont_msg` /
    /// `send_fin`).
    pub fn send_fragment(&mut self, kind: DataKind, data: &[u8], fin: bool) -> Res<(), T> {
        self.send_frame(MessagePart::Fragment { kind, fin }, data)
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: &[u8]) -> Res<(), T> {
        self.s.conn.ping(payload)?;
        self.flush_owed()
    }

    /// Sends a pong.
    pub fn pong(&mut self, payload: &[u8]) -> Res<(), T> {
        self.s.conn.pong(payload)?;
        self.flush_owed()
    }

    /// Sends a close frame and reads (dropping data) until the peer's close
    /// arrives or the transport ends. Returns how the connection ended.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Res<Option<End>, T> {
        if self.s.conn.state() == State::Open {
            self.s.conn.close(code, reason)?;
        }
        while self.read_event(|_| ())?.is_some() {}
        Ok(self.end())
    }
}

/// In-memory transports for tests and examples (feature `std`).
#[cfg(feature = "std")]
pub mod testing {
    use std::sync::{Arc, Condvar, Mutex};
    use std::vec::Vec;

    /// Bytes in flight and whether the writer is gone.
    type Shared = Arc<(Mutex<(Vec<u8>, bool)>, Condvar)>;

    /// One end of an in-memory byte pipe pair: what one end writes, the
    /// other reads. Reads block until data or the other end is dropped.
    /// `max_io` caps every read and write, to exercise partial IO.
    pub struct Pipe {
        rx: Shared,
        tx: Shared,
        /// The most bytes one read or write moves.
        pub max_io: usize,
    }

    impl Pipe {
        /// Two connected ends.
        pub fn pair() -> (Pipe, Pipe) {
            let a = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
            let b = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
            (
                Pipe {
                    rx: a.clone(),
                    tx: b.clone(),
                    max_io: usize::MAX,
                },
                Pipe {
                    rx: b,
                    tx: a,
                    max_io: usize::MAX,
                },
            )
        }
    }

    impl Drop for Pipe {
        fn drop(&mut self) {
            let (m, c) = &*self.tx;
            m.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
            c.notify_all();
        }
    }

    impl embedded_io::ErrorType for Pipe {
        type Error = embedded_io::ErrorKind;
    }

    impl embedded_io::Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let (m, c) = &*self.rx;
            let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
            while g.0.is_empty() && !g.1 {
                g = c.wait(g).unwrap_or_else(|p| p.into_inner());
            }
            let n = g.0.len().min(buf.len()).min(self.max_io);
            buf[..n].copy_from_slice(&g.0[..n]);
            g.0.drain(..n);
            Ok(n)
        }
    }

    #[cfg(feature = "embedded-io-async")]
    impl embedded_io_async::Read for Pipe {
        /// Blocks the thread: run each end on its own thread.
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            embedded_io::Read::read(self, buf)
        }
    }

    #[cfg(feature = "embedded-io-async")]
    impl embedded_io_async::Write for Pipe {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            embedded_io::Write::write(self, buf)
        }
        async fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    /// Runs a future to completion on this thread (a minimal executor for
    /// tests: park until woken).
    pub fn block_on<F: core::future::Future>(fut: F) -> F::Output {
        use std::sync::Arc;
        use std::task::{Context, Poll, Wake, Waker};
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

    impl embedded_io::Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            let (m, c) = &*self.tx;
            let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
            let n = buf.len().min(self.max_io);
            g.0.extend_from_slice(&buf[..n]);
            c.notify_all();
            Ok(n)
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }
}

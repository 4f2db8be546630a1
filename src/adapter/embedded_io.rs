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

use embedded_io::{ErrorKind, ErrorType, Read, Write};

pub use super::driver::handshake::Decision;
use super::driver::handshake::{self as steps, ServerStep, Then};
use super::driver::{FrameOut, Latch, RxBuf, Session};
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
    /// An earlier write failed (its error was returned then) and ended
    /// the connection: a frame may have been cut, so nothing more is sent.
    #[error("the connection ended when a write failed ({0:?})")]
    Failed(ErrorKind),
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

super::embedded::embedded_adapter!([] []);

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

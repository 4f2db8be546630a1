//! Async WebSocket over `embedded_io_async::{Read, Write}` (feature
//! `embedded-io-async`): for embassy-net sockets and other async
//! transports; no_std, no alloc, caller buffers. The same API as the
//! [blocking adapter](super::embedded_io), with `async` methods, the same
//! [`ServerOptions`] / [`ClientOptions`] and [`Error`]; both run on the
//! same sans-IO session, so only the reads and writes differ.
//!
//! # Time and timeouts
//!
//! As in the [blocking adapter](super::embedded_io#time-and-timeouts): the
//! clock is read wherever time is stamped or checked, and a transport read
//! that fails with `TimedOut` runs the timers and reads again. Async
//! transports usually have no read timeout (embassy-net's
//! `TcpSocket::set_timeout` aborts the connection instead), and
//! embedded-io-async has no timer, so the caller brings one: every method
//! may be cancelled, and [`WebSocket::poll_timeout`] says when the next
//! timer is due. With embassy:
//!
//! ```no_run
//! # use sansws::adapter::embedded_io_async::{Error, WebSocket};
//! # use sansws::conn::{Event, MaskKeys};
//! # async fn run<T, K>(ws: &mut WebSocket<'_, T, K>, mut handle: impl FnMut(Event<'_>))
//! #     -> Result<(), Error<T::Error>>
//! # where T: embedded_io_async::Read + embedded_io_async::Write, K: MaskKeys {
//! use embassy_futures::select::{select, Either};
//! use embassy_time::{Duration, Instant as At, Timer, with_timeout};
//!
//! loop {
//!     let wake = ws.poll_timeout().map_or(At::MAX, |t| At::from_millis(t.as_millis()));
//!     match select(ws.read_event(|e| handle(e)), Timer::at(wake)).await {
//!         Either::First(Ok(Some(()))) => {}
//!         Either::First(Ok(None)) => break, // over: ws.end() says how
//!         Either::First(Err(e)) => return Err(e),
//!         // Keepalive, pong and close deadlines; bounded, as embassy-net's
//!         // flush waits for the peer's ACK (cut short there, nothing is lost).
//!         Either::Second(()) => {
//!             if let Ok(r) = with_timeout(Duration::from_millis(500), ws.tick()).await {
//!                 r?
//!             }
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Bound `tick` (as above) by at most the pong and close timeouts: a
//! transport's `flush` may wait for the peer, and embassy-net's waits
//! until every byte is acknowledged, which a peer whose link is gone never
//! does (smoltcp retransmits for ever unless the socket has a timeout), so
//! an unbounded `tick` would hold the loop before the pong timeout could
//! end the connection. The same holds for sends to such a peer.
//!
//! To close with such a timer, call [`WebSocket::send_close`] (from then
//! on [`WebSocket::poll_timeout`] includes the close deadline) and go on
//! with the same loop until `Ok(None)`: the peer answered, or
//! [`End::CloseTimeout`]. The handshake checks the clock as each read
//! returns; for a silent peer, bound [`accept`] and [`connect`] from
//! outside (`embassy_time::with_timeout`): dropping them drops the
//! transport.
//!
//! # Cancellation
//!
//! - Waiting for input, a cancelled call loses nothing, given a transport
//!   whose `read` takes bytes only when it completes (embedded-io-async
//!   encourages implementations to be cancel-safe and to say whether they
//!   are); the adapter keeps what it read. Call again and go on.
//! - Writing, a cancelled call may have left part of a frame in the
//!   transport: nothing may follow it. The adapter marks every frame as it
//!   starts and unmarks it when written whole; a call that finds the mark
//!   ends the connection as a failed write does
//!   ([`WebSocket::is_connected`] false at once, later sends return
//!   [`Error::Failed`] with `ErrorKind::Interrupted`). So a timeout around
//!   a send is safe, but costs the connection if it fires mid-frame.
//! - Flushing, a cancelled call loses nothing: the frames were written
//!   whole, and what was held back is flushed by the next call that
//!   flushes.
//!
//! # Batching
//!
//! As in the [blocking adapter](super::embedded_io#batching): the replies
//! to messages the peer sent together are flushed once, by the
//! [`WebSocket::read_event`] that has used up what was read, before it
//! reads the transport again (so that call may first wait in the
//! transport's `flush`, embassy-net's for the peer's ACK); a lone message
//! is flushed by its send.

use embedded_io::ErrorKind;
use embedded_io_async::{ErrorType, Read, Write};

use super::diag::diag;
#[cfg(any(feature = "server", feature = "client"))]
use super::driver::handshake as steps;
#[cfg(feature = "server")]
pub use super::driver::handshake::Decision;
#[cfg(feature = "server")]
use super::driver::handshake::{ServerStep, Then};
use super::driver::{FrameOut, Latch, RxBuf, Session};
#[cfg(feature = "client")]
pub use super::embedded_io::ClientOptions;
pub use super::embedded_io::Error;
#[cfg(feature = "server")]
pub use super::embedded_io::ServerOptions;
#[cfg(feature = "server")]
use crate::conn::NoMasking;
use crate::conn::{
    Connection, DataKind, Duration, End, Event, Instant, MaskKeys, MessagePart, State,
};
#[cfg(feature = "client")]
use crate::handshake::ClientHandshake;
use crate::handshake::HandshakeError;
#[cfg(feature = "server")]
use crate::handshake::{HttpResponse, Request, UpgradeRequest};
use crate::wire::CloseCode;

super::embedded::embedded_adapter!([async] [.await]);

//! Async WebSocket client and server on tokio (feature `tokio`).
//!
//! The same connection as [`std_net`](crate::adapter::std_net), with the
//! same [`Options`] (limits, timeouts, keepalive, subprotocols,
//! permessage-deflate), the same [`Decision`] for routing and origin
//! checks and the same [`Error`], over any `AsyncRead + AsyncWrite`
//! stream: a `tokio::net::TcpStream`, a tokio-rustls stream. Reads and
//! sends are the blocking adapter's, polled instead of waited on; the read
//! side and its zero-copy messages are shared code.
//!
//! In `Cargo.toml`: `sansws = { version = "0.1", features = ["tokio"] }`,
//! and for the `Stream`/`Sink` combinators `futures-util = { version =
//! "0.3", features = ["sink"] }` (`SinkExt` needs its `sink` feature).
//!
//! The `Stream` hands out every message the peer sent, pings, pongs
//! (the answers to the keepalive's pings among them) and its close frame
//! included, as [`read`](WebSocket::read) does: match `Message::Text` and
//! `Message::Binary` (or `msg.is_data()`) and let the rest go by; pings
//! are answered by themselves.
//!
//! Three inherent methods share a name with `SinkExt`'s and differ:
//! [`WebSocket::send`] takes `&Message` (a broadcast sends one message to
//! many without a clone) where `SinkExt::send` takes it whole;
//! [`WebSocket::close`] runs the close handshake to its end and returns
//! how the connection ended, where `SinkExt::close` sends the close frame
//! and returns (the `Stream` then yields the peer's close, then `None`);
//! [`WebSocket::flush`] and `SinkExt::flush` both write the queue.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use sansws::adapter::tokio::{self as ws, Accepted};
//! use sansws::handshake::HttpResponse;
//! use tokio::io::AsyncWriteExt;
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! // Server: a task per connection, the handshake in that task.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let mut ws = match ws::accept(stream, &Default::default()).await {
//!             Ok(Accepted::WebSocket(ws)) => ws,
//!             // Plain HTTP: a page at `/`, 404 elsewhere.
//!             Ok(Accepted::Http(req, mut stream)) => {
//!                 let res = match req.path() {
//!                     "/" => HttpResponse::new(200).body("text/html", b"<p>hello</p>"),
//!                     _ => HttpResponse::new(404).text("not found"),
//!                 };
//!                 if let Ok(bytes) = res.to_vec() {
//!                     let _ = stream.write_all(&bytes).await;
//!                     let _ = stream.shutdown().await;
//!                 }
//!                 return;
//!             }
//!             // Refused by the routing decision (answered), or broken.
//!             _ => return,
//!         };
//!         while let Ok(Some(msg)) = ws.read().await {
//!             if msg.is_data() && ws.send(&msg).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # }
//!
//! # async fn client() -> Result<(), Box<dyn std::error::Error>> {
//! // Client, through the Stream and Sink traits (the inherent
//! // `WebSocket::send` takes `&Message`; `SinkExt::send` takes it whole).
//! let mut ws = ws::connect("ws://127.0.0.1:9001/").await?;
//! SinkExt::send(&mut ws, sansws::message::Message::text("hello")).await?;
//! println!("{:?}", ws.next().await);
//! ws.close(sansws::wire::CloseCode::NORMAL, "done").await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Tasks and slow peers
//!
//! A [`WebSocket`] is used from one task; its reads and sends are cancel
//! safe (see [`WebSocket`]). To read in one task and send from others,
//! [`split`](WebSocket::split) it into a [`Reader`] and a cloneable
//! [`Sender`] (on the `Box` that [`accept`] gives, write `(*ws).split()`:
//! with `futures_util::StreamExt` in scope, as in the example above,
//! `ws.split()` is that trait's split into a `SplitSink` and a
//! `SplitStream`), with the blocking adapter's slow-peer policy: senders only
//! encode into the connection's outgoing queue (under a lock held for the
//! encoding only, never across an await), and a writer task writes it
//! out. [`Sender::try_send`] never waits: when the queue would pass
//! [`Options::send_queue`] bytes it says `Error::QueueFull { queued, limit }`
//! (match it as `Err(Error::QueueFull { .. })`), so one slow reader never
//! holds up a broadcast. [`Sender::send`] waits for
//! room instead. A peer that stops reading is dropped after
//! [`Options::write_timeout`], or when the keepalive ping goes
//! unanswered; every later send then says so, and [`Sender::end`] says
//! why ([`Sender::write_error`] the write failure, if that was it).
//! With `Options::default()` that is a write stuck for 10 s, or a ping
//! (sent every 10 s) unanswered for 10 s more.
//!
//! # How a connection ends
//!
//! The loop in the example stops at any of the three, and
//! [`WebSocket::end`] then says how it went:
//!
//! - the close handshake, the peer vanishing, or keepalive dropping it:
//!   [`read`](WebSocket::read) returns `Ok(None)` (`end()`: `Clean`,
//!   `Abnormal`, `PongTimeout`, ...);
//! - a protocol error by the peer: `read` returns `Err(Error::Protocol(..))`
//!   after the close frame with its code went out (1002, 1007, 1009, ...);
//! - a write that failed or timed out: `send` returns `Err(Error::Io(..))`
//!   (kind `TimedOut` after the write timeout), as does every later send
//!   ([`WebSocket::write_error`]).

mod handshake;
mod out;
mod socket;
mod split;

pub use handshake::*;
pub use socket::WebSocket;
pub use split::*;

#[cfg(feature = "deflate")]
pub use crate::adapter::std_net::DeflateOptions;
pub use crate::adapter::std_net::{
    CloseCode, DataKind, Decision, Error, HttpRequest, Keys, Options, Url,
};

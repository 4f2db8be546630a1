//! Adapters: thin drive loops that wire the sans-IO core to real
//! transports. Each sits behind a feature.
//!
//! - `std_net` (feature `std`): blocking client and server over any
//!   `Read + Write` stream, with `TcpStream` conveniences.
//! - `embedded_io` (feature `embedded-io`): blocking, over
//!   `embedded_io::{Read, Write}`; no_std, no alloc, caller buffers.
//! - `embedded_io_async` (feature `embedded-io-async`): the same over
//!   `embedded_io_async::{Read, Write}` (embassy-net).
//! - `embassy` (feature `embassy`): the managed client (esp_websocket_client's
//!   model: events, keepalive, reconnecting) as an embassy task, over the
//!   async adapter; no alloc.
//! - `tokio` (feature `tokio`): async client and server over any
//!   `AsyncRead + AsyncWrite`, with `futures` Stream and Sink, split
//!   halves for different tasks, batched replies.
//! - `lwip` (feature `lwip`): lwIP's netconn API as an embedded-io
//!   transport, through a small C shim; the one adapter with `unsafe`.

#[cfg(any(feature = "std", feature = "embedded-io"))]
mod diag;
#[cfg(any(feature = "std", feature = "embedded-io"))]
mod driver;
#[cfg(all(feature = "embassy", feature = "client"))]
pub mod embassy;
#[cfg(feature = "embedded-io")]
mod embedded;
#[cfg(feature = "embedded-io")]
pub mod embedded_io;
#[cfg(feature = "embedded-io-async")]
pub mod embedded_io_async;
#[cfg(feature = "lwip")]
#[allow(unsafe_code)]
pub mod lwip;
#[cfg(feature = "std")]
pub mod std_net;
#[cfg(feature = "tokio")]
pub mod tokio;

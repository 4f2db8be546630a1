//! Blocking WebSocket client and server over std streams (feature `std`).
//!
//! Works over any [`Transport`]: a `Read + Write` stream that may also set
//! a read timeout and shut down. `TcpStream` is one; [`Stream`] is TCP or,
//! for `wss://` (feature `rustls`), TLS over TCP: [`connect`] opens one for
//! either scheme, `Stream::tls_server` makes one for [`accept`]. For
//! esp_websocket_client's model (events, keepalive, reconnecting on its
//! own), see [`ManagedClient`].
//!
//! ```no_run
//! use sansws::adapter::std_net::{self, Accepted};
//! use std::net::TcpListener;
//!
//! // Server: echo every message, a thread per connection, the handshake
//! // on that thread (a slow or bad client costs only its own connection).
//! let listener = TcpListener::bind("127.0.0.1:9001")?;
//! for stream in listener.incoming() {
//!     let Ok(stream) = stream else {
//!         // Out of descriptors: back off instead of spinning.
//!         std::thread::sleep(std::time::Duration::from_millis(50));
//!         continue;
//!     };
//!     // Out of threads, `Builder::spawn` fails and this client is dropped
//!     // (`thread::spawn` would panic and end the loop). An error inside
//!     // ends only this connection.
//!     let _ = std::thread::Builder::new().spawn(move || -> Result<(), std_net::Error> {
//!         let Accepted::WebSocket(mut ws) = std_net::accept(stream, &Default::default())? else {
//!             return Ok(()); // a plain HTTP request: answer it, or drop it
//!         };
//!         while let Some(msg) = ws.read()? {
//!             if msg.is_data() {
//!                 ws.send(&msg)?;
//!             }
//!         }
//!         Ok(())
//!     });
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```no_run
//! // Client.
//! let mut ws = sansws::adapter::std_net::connect("ws://127.0.0.1:9001/")?;
//! ws.send_text("hello")?;
//! println!("{:?}", ws.read()?);
//! ws.close(sansws::wire::CloseCode::NORMAL, "done")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Threads
//!
//! A [`WebSocket`] is used from one thread. To send from other threads
//! while one thread blocks in a read (what ESP-IDF's
//! `httpd_ws_send_frame_async` is for), [`WebSocket::split`] it into a
//! [`Reader`] and a cloneable [`Sender`]. They share the connection state
//! behind a mutex; the reader never holds it while blocked in the read.
//!
//! # Slow peers
//!
//! Senders never write to the socket: they encode frames into the
//! connection's outgoing queue (under a lock held for the encoding only)
//! and a writer thread, one per split connection, writes the queue out.
//! So no lock is held across a blocking write, the [`Reader`] keeps
//! reading and running the timers while a write waits, and a broadcaster
//! uses [`Sender::try_send`], which never blocks: when the queue holds
//! [`Options::send_queue`](Options::send_queue) bytes it says
//! [`Error::QueueFull`] and the message can be skipped (latest-value
//! semantics) or kept for later. [`Sender::send`] waits for room instead.
//!
//! A peer that stops reading is dropped: the writer's write fails after
//! [`Options::write_timeout`](Options::write_timeout), or the
//! keepalive ping goes unanswered for the pong timeout. Either ends the
//! connection; every later send returns the error, and
//! [`Sender::write_error`] says which write failed. The TCP connection is
//! then reset (`SO_LINGER` 0, [`Transport::abort`]), as it is when a peer
//! that sent a close, or got ours, neither closes nor reads within the
//! close timeout: a FIN would wait behind what the kernel still holds for
//! a peer that takes none of it, and keep the socket and its send buffer
//! (megabytes) in `FIN-WAIT-1` long after the connection is dropped. On
//! the wire the peer gets a FIN after what it had been sent (the stream
//! is shut down first, which wakes the other half's thread) and a reset
//! when the socket is closed; what it had not read by then is lost to
//! it, perhaps with a cut frame. A peer that reads, but too slowly to
//! drain what is queued before keepalive's ping (which waits behind it)
//! and the pong timeout run out, is dropped the same way: on slow links,
//! raise the pong timeout with the write timeout. A clean close, our
//! error close, the peer's end of the stream and [`Sender::stop`] end
//! with a FIN, as before.

pub(crate) mod client;
#[cfg(feature = "deflate")]
pub(crate) mod deflate;
mod error;
mod managed;
pub(crate) mod server;
pub(crate) mod socket;
mod split;
mod stream;
#[cfg(feature = "rustls")]
mod tls;
pub(crate) mod transport;

pub use client::*;
#[cfg(feature = "deflate")]
pub use deflate::DeflateOptions;
pub use error::*;
pub use managed::*;
pub use server::*;
pub use socket::*;
pub use split::*;
pub use stream::*;
#[cfg(feature = "rustls")]
pub use tls::*;
pub use transport::*;

use std::boxed::Box;
use std::string::String;
use std::time::Duration as StdDuration;
use std::vec::Vec;

pub use crate::conn::DataKind;
use crate::conn::{Config, MaskKeys};
use crate::handshake::Limits;
pub use crate::wire::CloseCode;

/// The key source of adapter connections: [`OsKeys`](crate::conn::OsKeys) by default, or one
/// the caller gives ([`client_with_keys`]). Any [`MaskKeys`] boxed, closures
/// over a key generator included.
pub type Keys = Box<dyn MaskKeys + Send>;

impl MaskKeys for Keys {
    fn next_key(&mut self) -> [u8; 4] {
        (**self).next_key()
    }
}

/// Settings for both roles.
#[derive(Debug, Clone)]
pub struct Options {
    /// The connection's limits and timers, the close timeout among them
    /// (5 s: how long [`WebSocket::close`] waits for the peer's close;
    /// default: [`Config::HOST`] with
    /// a keepalive: a ping every 10 s, and the connection ends when no pong
    /// comes within 10 s, as esp_websocket_client does. So a peer that
    /// vanished without a FIN, or stopped reading, is dropped within 20 s
    /// in both roles. Set `config.ping_interval` to `None` to turn it off).
    pub config: Config,
    /// Handshake head size limit.
    pub limits: Limits,
    /// How long the opening handshake may take (default 10 s).
    pub handshake_timeout: Option<StdDuration>,
    /// A [`WebSocket::read`] (or `read_event`) that has not returned after
    /// this long fails with `TimedOut`; the connection goes on (default:
    /// wait for ever; keepalive still runs).
    pub read_timeout: Option<StdDuration>,
    /// A send (one frame) that has not been written whole after this long
    /// fails, and the failure ends the connection (both roles; through
    /// [`Transport::set_write_timeout`], which a `TcpStream` honours, with
    /// the time left set again after a partial write; default 10 s: a peer
    /// that stops reading, or drains a few bytes now and then, is dropped).
    /// Raise it to send large messages over slow links. The clock starts
    /// with the send, but a send only waits once the kernel's send buffer
    /// (up to a few MB on Linux) is full, so a peer that stops reading is
    /// dropped some seconds after that. In the tokio adapter, a timer
    /// bounds each write of a `WebSocket` (feature `tokio`; from its first
    /// `Pending` on), and each batch its split writer task
    /// writes; the failure ends the connection the same way.
    pub write_timeout: Option<StdDuration>,
    /// Bytes a split [`Sender`] may have queued and not yet written
    /// (default 1 MiB): a data message that would take the queue past it
    /// makes [`Sender::try_send`] say [`Error::QueueFull`] and
    /// [`Sender::send`] wait. A message alone in the queue always goes in
    /// (one larger than the limit is not refused for ever), and control
    /// frames are never held back. The same in the tokio adapter.
    pub send_queue: usize,
    /// Client: TCP connect timeout (default 10 s).
    pub connect_timeout: Option<StdDuration>,
    /// Client: subprotocols to offer.
    pub protocols: Vec<String>,
    /// Client: extra header fields (`Origin`, `Authorization`, ...).
    pub headers: Vec<(String, String)>,
    /// Size of the read buffer (default 64 KiB).
    pub read_buffer: usize,
    /// Client, `wss://`: the TLS configuration (the roots to trust, client
    /// certificates); `None`: [`platform_config`], the platform's roots.
    #[cfg(feature = "rustls")]
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// permessage-deflate (feature `deflate`): offered by a client,
    /// accepted by a server, as [`DeflateOptions`] say; `None` turns it
    /// off. On by default (see [`DeflateOptions`] for why, and what it
    /// costs).
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            config: Config {
                ping_interval: Some(crate::conn::Duration::from_secs(10)),
                pong_timeout: crate::conn::Duration::from_secs(10),
                ..Config::HOST
            },
            limits: Limits::DEFAULT,
            handshake_timeout: Some(StdDuration::from_secs(10)),
            read_timeout: None,
            write_timeout: Some(StdDuration::from_secs(10)),
            send_queue: 1 << 20,
            connect_timeout: Some(StdDuration::from_secs(10)),
            protocols: Vec::new(),
            headers: Vec::new(),
            read_buffer: 64 << 10,
            #[cfg(feature = "rustls")]
            tls: None,
            #[cfg(feature = "deflate")]
            deflate: Some(DeflateOptions::default()),
        }
    }
}

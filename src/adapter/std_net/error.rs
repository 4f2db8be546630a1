//! The adapter's error.

use std::io;
use std::string::String;

use crate::conn::{ProtocolError, SendError};
use crate::handshake::{HandshakeError, WriteError};
use crate::message::MessageError;

/// What went wrong. The variants that wrap another error display it as it
/// is and pass on its source, so an error chain never prints one cause
/// twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (including timeouts: `WouldBlock`/`TimedOut`).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The URL is not `ws://host[:port][/path][?query]`.
    #[error("invalid URL: {0}")]
    Url(&'static str),
    /// A `wss://` URL in a build without feature `rustls`, or given to
    /// the tokio adapter's `connect`, which opens plain TCP only.
    #[error(
        "wss:// needs TLS: with std_net, enable sansws's feature `rustls`; or open a TLS stream yourself and pass it to `client` (std_net::client, or tokio::client with a tokio-rustls stream)"
    )]
    TlsRequired,
    /// The TLS handshake failed: a certificate not valid for the host
    /// (`InvalidCertificate`), no protocol or cipher in common, an alert
    /// from the peer. (A TLS failure later in the connection is an
    /// [`Error::Io`] of kind `InvalidData` wrapping the `rustls::Error`.)
    #[cfg(feature = "rustls")]
    #[error(transparent)]
    Tls(#[from] rustls::Error),
    /// The peer's handshake head was refused.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// Our handshake head could not be written: a value given for it (a
    /// header, a subprotocol, a refusal's status) is invalid, or the head
    /// outgrew its buffer.
    #[error(transparent)]
    HandshakeWrite(#[from] WriteError),
    /// The server answered with another status than 101.
    #[error("handshake refused: HTTP {status} {reason}")]
    HttpStatus {
        /// Status code, as esp_websocket_client reports it.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The peer broke the protocol; a close with the error's code was sent.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A send that cannot be done (closing, fragment misuse, ...).
    #[error(transparent)]
    Send(#[from] SendError),
    /// A message over the size limit.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// [`Sender::try_send`](super::Sender::try_send): the connection's
    /// outgoing queue is full (the peer is behind); nothing was queued.
    #[error("send queue full ({queued} bytes queued, limit {limit})")]
    QueueFull {
        /// Bytes waiting to be written.
        queued: usize,
        /// [`Options::send_queue`](super::Options::send_queue).
        limit: usize,
    },
    /// A [`ManagedClient`](super::ManagedClient) send while it is not
    /// connected (it fails at once; nothing is queued).
    #[error("not connected")]
    NotConnected,
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(getrandom::Error),
}

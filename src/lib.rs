//! # sansws
//!
//! A strict WebSocket ([RFC 6455]) protocol library that runs the same on an
//! ESP32 and on a desktop. Its heart is a **sans-IO core**: bytes in, events
//! out; messages in, bytes out. The core never touches a socket, a clock or
//! an allocator, and never panics on any input: it builds with `#![no_std]`
//! and without `alloc`, down to `riscv32imc-unknown-none-elf` (ESP32-C3).
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
//!
//! ## Layers
//!
//! ```text
//!  adapter/    std_net (std): blocking client/server over Read + Write;
//!      |       tokio: the same, async, over AsyncRead + AsyncWrite;
//!      |       embedded_io, embedded_io_async, lwip: no_std, caller buffers
//!      v
//!  message/    (alloc) Assembler: data chunks -> Message::{Text, Binary,
//!      |       Ping, Pong, Close}, size limit checked before growing
//!      v
//!  conn/       Connection: the sans-IO state machine (role, state, limits,
//!      |       timers); bytes in -> events out, commands in -> bytes out.
//!      |       One room per concern: recv, send, control, lifecycle,
//!      v       timers, keys

//!  handshake/  opening handshake, both roles: request and response
//!      |       parse (httparse, zero-copy) and write; Sec-WebSocket-Accept
//!      v
//!  wire/       the one frame codec: header parse/emit (the only code that
//!              reads or writes header bytes), OpCode, CloseCode, control
//!              and close payloads, masking
//! ```
//!
//! Arrows point down only. Every layer works on caller buffers:
//!
//! - input is a byte slice; a parser says how many bytes it used, and a
//!   short input is [`Status::Partial`], not an error, so any chunk boundary
//!   (down to one byte at a time) gives the same result as one big read;
//! - output is written into a caller's `&mut [u8]`; too small a buffer is
//!   [`BufferTooSmall`], which names the size needed, and nothing is written;
//! - errors are small enums that keep what a peer did apart from what the
//!   caller did ([`conn::ProtocolError`] and [`conn::SendError`],
//!   [`handshake::HandshakeError`] and [`handshake::WriteError`]); errors a
//!   peer can cause know the close code (wire, conn) or HTTP status
//!   (handshake) to answer with;
//! - time comes in as an argument ([`conn::Instant`], milliseconds); the
//!   core never reads a clock.
//!
//! The [`conn`] module documentation shows the drive loop of a connection
//! after the handshake: run the timers that are due, `poll_transmit` until
//! empty, wait until readable or `poll_timeout`, then `handle_read` (one
//! event per call). Every data send says whether it is a whole message or
//! a fragment ([`conn::MessagePart`]), so a whole message can never end an
//! open fragmented one, and nothing is sent inside a payload the caller is
//! still streaming.
//!
//! permessage-deflate (RFC 7692, feature `deflate`, on by default on
//! hosts) sits beside the connection: the handshakes negotiate it
//! (`handshake::deflate`), `Connection::set_deflate` lets RSV1 through
//! on a message's first frame, and `conn::deflate` inflates what comes
//! compressed (no allocation: through a ring the caller sizes to the
//! peer's window, the limits and UTF-8 checked on the inflated bytes) and
//! compresses what goes (with `alloc`). Hosts agree it by default
//! (`std_net::Options::deflate`); a device asks for it with
//! `embedded_io::accept_deflate` / `connect_deflate` (and the async and
//! lwIP ones), lending an inflater and its ring, and sends uncompressed.
//! Without the feature, RSV bits are refused.
//!
//! What the crate does not do: IO in the core (the `adapter` modules do
//! it, behind features), and TLS (bring a TLS stream to
//! `adapter::std_net::client`, or feature `rustls`).
//!
//! ## A server's first steps, sans IO
//!
//! ```
//! use sansws::handshake::{self, EMPTY_HEADER, Limits, Outcome, ServerResponse};
//! use sansws::{Status, wire::{FrameHeader, OpCode, ParseOptions, apply_mask}};
//!
//! // 1. Bytes read from the socket (here: RFC 6455 section 1.3's request).
//! let input = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
//!     Upgrade: websocket\r\nConnection: Upgrade\r\n\
//!     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n";
//! let mut headers = [EMPTY_HEADER; 16];
//! let Status::Complete(Outcome::Upgrade(req)) =
//!     handshake::parse_request(input, &mut headers, &Limits::DEFAULT)?
//! else {
//!     panic!("read more bytes, or serve a plain HTTP request");
//! };
//! assert_eq!(req.path(), "/chat");
//!
//! // 2. Accept: write the 101 response and send it.
//! let mut out = [0u8; 256];
//! let n = ServerResponse::accept(&req).write(&mut out)?;
//! assert!(out[..n].ends_with(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"));
//!
//! // 3. Frames: parse a header, unmask the payload in place.
//! let mut frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
//! let Status::Complete((h, len)) = FrameHeader::parse(&frame, &ParseOptions::DEFAULT)? else {
//!     panic!("read more bytes");
//! };
//! assert_eq!(h.opcode, OpCode::Text);
//! let payload = &mut frame[len..len + h.payload_len as usize];
//! apply_mask(payload, h.mask.unwrap(), 0);
//! assert_eq!(payload, b"Hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `std`   | yes     | implies `alloc`, `server`, `client` and `sha1`; `adapter::std_net` (blocking std sockets); `conn::OsKeys` (mask keys seeded by getrandom); masking with SIMD chosen at run time |
//! | `server` | yes | the server role: `handshake::parse_request` and `ServerResponse`, `Connection::server`, the adapters' `accept` |
//! | `client` | yes | the client role: `handshake::ClientHandshake`, `Connection::client`, the adapters' `connect` |
//! | `sha1` | yes | the `sha1` crate as the handshake's SHA-1 (`handshake::sha1_digest`, `accept_key`, `ClientHandshake::new`, the options' `new`); without it, pass a [`handshake::Sha1`] of your own (e.g. the chip's SHA accelerator) to the `_with` forms |
//! | `alloc` | via std | [`message`]: whole messages, with `bytes` |
//! | `tokio` | no | `adapter::tokio`: async client and server on tokio (implies `std`), `futures` Stream and Sink, split halves with a writer task |
//! | `embedded-io` | no | `adapter::embedded_io`: blocking, over `embedded_io` traits; no_std, no alloc |
//! | `embedded-io-async` | no | `adapter::embedded_io_async`: the same, async |
//! | `lwip` | no | `adapter::lwip`: lwIP netconn through a C shim (one of the three places with `unsafe`, with std's SIMD masking and `message::Utf8Bytes::as_str`) |
//! | `deflate` | yes | permessage-deflate through miniz_oxide: the negotiation (`handshake::deflate`), the inflater (no_std, no alloc) and, with `alloc`, the compressor (`conn::deflate`); `std_net::Options::deflate`; `accept_deflate` / `connect_deflate` on devices |
//!
//! With `default-features = false` the crate is `no_std` and allocation
//! free; firmware then names its role and its SHA-1, e.g.
//! `default-features = false, features = ["server", "sha1", "embedded-io"]`. Features add adapters and speed, never behaviour: the same input
//! gives the same events and bytes with any of them. Where code differs by
//! target it is for speed or size only (64-bit targets inline the hot
//! paths; 32-bit ones, the devices, keep one copy), and CI runs the tests
//! on a 32-bit and a big-endian target too.

#![no_std]
// `unsafe` is denied everywhere but in three documented places: the lwIP
// FFI (`adapter::lwip`), the SIMD masking kernels (`wire::mask_simd`), and
// `message::Utf8Bytes::as_str` (one `from_utf8_unchecked` on bytes every
// constructor has validated).
#![deny(unsafe_code)]
// With neither role (`server`, `client`) only the wire codec is of use (a
// connection needs a role); the rest then has no caller.
#![cfg_attr(
    not(any(feature = "server", feature = "client")),
    allow(dead_code, unused_imports)
)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(any(feature = "std", feature = "embedded-io"))]
pub mod adapter;
pub mod conn;
pub mod handshake;
#[cfg(feature = "alloc")]
pub mod message;
pub mod wire;

/// The result of parsing input that may be incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// Enough input: the parsed value.
    Complete(T),
    /// The input ends too early. At least `needed` more bytes are required
    /// (a lower bound: `1` where the parser cannot tell). Nothing was
    /// consumed; call again with the same bytes and more.
    Partial {
        /// A lower bound on the bytes still missing; always at least 1.
        needed: usize,
    },
}

impl<T> Status<T> {
    /// Whether this is [`Status::Complete`].
    pub const fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(v) => Some(v),
            Status::Partial { .. } => None,
        }
    }
}

/// An output buffer was too small; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("output buffer too small: {needed} bytes needed")]
pub struct BufferTooSmall {
    /// The buffer length that would have been enough.
    pub needed: usize,
}

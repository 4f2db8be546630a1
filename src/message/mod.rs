//! Whole messages (feature `alloc`): an [`Assembler`] turns the
//! connection's events into [`Message`]s, checking the size limit before it
//! grows a buffer. Payloads are [`Payload`]s: held inline when they are
//! small (no allocation, no reference count), else a shared
//! `bytes::Bytes`, so a message can be handed out without copying it.
//! Text is [`Utf8Bytes`]: a `Payload` that is always UTF-8.
//!
//! ```
//! use sansws::conn::{Config, Connection, Instant};
//! use sansws::message::{Assembler, Message};
//! let mut conn = Connection::server(Config::DEFAULT, Instant::ZERO);
//! let mut asm = Assembler::new(1 << 20);
//! // RFC 6455 section 5.7: masked "Hello".
//! let mut input = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
//! let r = conn.handle_read(&mut input)?;
//! let msg = asm.push(&r.event.unwrap())?;
//! assert_eq!(msg, Some(Message::text("Hello")));
//! assert_eq!(msg.unwrap().as_text(), Some("Hello"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::conn::{DataKind, Event};
use crate::wire::CloseCode;

mod payload;
mod text;

pub use payload::Payload;
pub use text::{FromUtf8Error, Utf8Bytes};

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, validated UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Payload),
    /// A ping and its payload.
    Ping(Payload),
    /// A pong and its payload.
    Pong(Payload),
    /// The peer's close: its code and reason, or `None` if it had no code.
    Close(Option<(CloseCode, String)>),
}

impl Message {
    /// A text message: from a `&str` (copied), a `String` (taken), or
    /// [`Utf8Bytes`] (shared).
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message: from a [`Payload`], `Bytes` (shared), a
    /// `Vec<u8>` (taken), or a `&'static [u8]`. To copy a short slice
    /// inline: `Message::binary(Payload::copy_from_slice(b"..."))`.
    pub fn binary(data: impl Into<Payload>) -> Self {
        Message::Binary(data.into())
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The payload bytes (empty for a close).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(_) => &[],
        }
    }

    /// Whether this is a text or binary message.
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }
}

/// Why an event could not be assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The message would exceed the assembler's limit (answer with 1009).
    #[error("message of at least {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The length the message would reach.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// A chunk that does not continue the message being assembled (events
    /// skipped or fed from two connections).
    #[error("chunk out of order")]
    OutOfOrder,
    /// A text message that is not UTF-8 (cannot happen with events from a
    /// [`Connection`](crate::conn::Connection), which validates as it goes).
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
}

impl MessageError {
    /// The close code to answer with.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            MessageError::TooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            MessageError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            MessageError::OutOfOrder => CloseCode::INTERNAL_ERROR,
        }
    }
}

/// A whole message of `kind` (text checked once, here).
fn message(kind: DataKind, payload: Payload) -> Result<Message, MessageError> {
    Ok(match kind {
        DataKind::Text => {
            Message::Text(Utf8Bytes::try_from(payload).map_err(|_| MessageError::InvalidUtf8)?)
        }
        DataKind::Binary => Message::Binary(payload),
    })
}

/// Collects data chunks into whole messages.
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    limit: usize,
    buf: Vec<u8>,
    kind: Option<DataKind>,
}

impl Assembler {
    /// An assembler for messages of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            buf: Vec::new(),
            kind: None,
        }
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes of the message being assembled so far.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Takes one event; returns the message it completes, if any. Control
    /// events are messages by themselves. The buffer grows by a frame's
    /// length at the frame's first chunk, after the limit is checked.
    pub fn push(&mut self, event: &Event<'_>) -> Result<Option<Message>, MessageError> {
        let d = match event {
            Event::Data(d) => d,
            Event::Ping(p) => return Ok(Some(Message::Ping(Payload::copy_from_slice(p)))),
            Event::Pong(p) => return Ok(Some(Message::Pong(Payload::copy_from_slice(p)))),
            Event::Close(c) => {
                return Ok(Some(Message::Close(
                    c.map(|c| (c.code(), String::from(c.reason()))),
                )));
            }
        };
        if d.message_offset == 0 {
            self.buf.clear();
            self.kind = Some(d.kind);
        }
        if self.kind != Some(d.kind) || d.message_offset != self.buf.len() {
            return Err(MessageError::OutOfOrder);
        }
        if d.offset == 0 {
            // The frame's first chunk: the message will reach `len`.
            // Widened: the sum may not fit a 32-bit usize.
            let len = (d.message_offset as u64).saturating_add(d.frame_len as u64);
            if len > self.limit as u64 {
                self.buf = Vec::new();
                self.kind = None;
                return Err(MessageError::TooLarge {
                    len,
                    limit: self.limit,
                });
            }
            if d.message_offset == 0 && d.is_message_end() {
                // A whole message in one chunk: copied once, straight into
                // its payload (inline when small: no allocation at all).
                self.kind = None;
                return message(d.kind, Payload::copy_from_slice(d.payload)).map(Some);
            }
            self.buf.reserve(d.frame_len);
        }
        self.buf.extend_from_slice(d.payload);
        if !d.is_message_end() {
            return Ok(None);
        }
        self.kind = None;
        // The buffer becomes the message: no copy.
        message(d.kind, Payload::from(core::mem::take(&mut self.buf))).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors() {
        let t = Message::text("hé");
        assert_eq!(t, Message::Text(Utf8Bytes::from_static("hé")));
        assert_eq!(Message::text(String::from("hé")), t);
        assert_eq!((t.as_text(), t.as_bytes()), (Some("hé"), "hé".as_bytes()));
        let b = Message::binary(alloc::vec![1, 2]);
        assert_eq!(b, Message::Binary(Payload::from_static(&[1, 2])));
        assert_eq!((b.as_text(), b.as_bytes()), (None, &[1, 2][..]));
        assert!(t.is_data() && b.is_data());
    }
}

//! The values that go in and out of a [`Connection`](super::Connection):
//! its configuration, what the peer sent, and what a send is.

use crate::wire::{CloseFrame, ControlPayload, OpCode, ParseOptions};

use super::Duration;

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Masks every frame it sends; rejects masked frames.
    Client,
    /// Never masks; rejects unmasked frames.
    Server,
}

/// Limits, timers and behaviour of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Largest payload of one received data frame; larger is refused with
    /// 1009 as soon as its header is read. A `usize`: a frame longer than
    /// the target can address is refused at its header anyway (as
    /// [`ProtocolError::FrameTooLarge`](super::ProtocolError::FrameTooLarge),
    /// whatever the limit), so lengths are counted in the target's word.
    pub max_frame_len: usize,
    /// Largest received message (all its fragments); larger is refused with
    /// 1009 as soon as the header that would cross it is read.
    pub max_message_len: usize,
    /// Split outgoing messages into frames of at most this many bytes of
    /// payload ([`Connection::send_text`](super::Connection::send_text),
    /// [`Connection::send_binary`](super::Connection::send_binary)).
    pub max_send_frame_len: usize,
    /// Answer pings with pongs by itself.
    pub auto_pong: bool,
    /// Send a ping this often while open (keepalive), if set.
    pub ping_interval: Option<Duration>,
    /// With `ping_interval`: the connection ends
    /// ([`End::PongTimeout`](super::End::PongTimeout)) if no pong arrives
    /// this long after a keepalive ping was sent.
    pub pong_timeout: Duration,
    /// After our close frame was sent, how long to wait for the peer's
    /// ([`End::CloseTimeout`](super::End::CloseTimeout)).
    pub close_timeout: Duration,
    /// Refuse payload lengths not written in their shortest form (1002).
    /// Off by default: ESP-IDF's server sends 65535 bytes with the 64-bit
    /// form.
    pub strict_length: bool,
}

impl Config {
    /// For a device: 64 KiB frames, 256 KiB messages (streamed payloads
    /// need no buffer of that size), 4 KiB outgoing frames, auto pong, no
    /// keepalive, 10 s pong and 5 s close timeouts.
    pub const DEFAULT: Self = Self {
        max_frame_len: 64 << 10,
        max_message_len: 256 << 10,
        max_send_frame_len: 4 << 10,
        auto_pong: true,
        ping_interval: None,
        pong_timeout: Duration::from_secs(10),
        close_timeout: Duration::from_secs(5),
        strict_length: false,
    };

    /// For a host: 16 MiB frames, 64 MiB messages, outgoing messages in one
    /// frame; otherwise as [`Config::DEFAULT`].
    pub const HOST: Self = Self {
        max_frame_len: 16 << 20,
        max_message_len: 64 << 20,
        max_send_frame_len: usize::MAX,
        ..Self::DEFAULT
    };

    /// The frame header rules: no reserved bit (no extension is
    /// negotiated), lengths as `strict_length` says.
    pub(super) const fn parse_options(&self) -> ParseOptions {
        if self.strict_length {
            ParseOptions::STRICT
        } else {
            ParseOptions::DEFAULT
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
// The values of the opcodes, so that converting costs nothing.
#[repr(u8)]
pub enum DataKind {
    /// UTF-8 text (validated as it arrives).
    Text = 1,
    /// Bytes.
    Binary = 2,
}

impl DataKind {
    /// The opcode of a message's first frame.
    pub(super) const fn opcode(self) -> OpCode {
        match self {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        }
    }
}

/// What a data frame is to its message, stated by every frame-level send
/// ([`Connection::encode_header`](super::Connection::encode_header),
/// [`Connection::encode_in_place`](super::Connection::encode_in_place)),
/// so a whole message can never be taken for the end of a fragmented one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessagePart {
    /// A whole message in one frame. Refused with
    /// [`SendError::FragmentInProgress`](super::SendError::FragmentInProgress)
    /// while a fragmented message is open.
    Whole(DataKind),
    /// One fragment of a message sent piece by piece: the first opens a
    /// message of type `kind`, later ones continue it (the same `kind` is
    /// required), and `fin` ends it.
    Fragment {
        /// The message's type.
        kind: DataKind,
        /// Whether this fragment ends the message.
        fin: bool,
    },
}

/// A chunk of a data frame's payload, unmasked, in the caller's buffer.
///
/// What esp_websocket_client's DATA event gives: the chunk, its offset in
/// the frame and the frame's total length, so a large frame can be processed
/// piece by piece through a small buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data<'a> {
    /// Text or binary: the message's type, also for continuation frames.
    pub kind: DataKind,
    /// This chunk's bytes. For text, the message so far is valid UTF-8, but
    /// a chunk may end inside a code point.
    pub payload: &'a [u8],
    /// Where this chunk starts in the frame's payload.
    pub offset: usize,
    /// The frame's payload length (at most
    /// [`Config::max_frame_len`]).
    pub frame_len: usize,
    /// Where this chunk starts in the message (all fragments so far
    /// included; `message_offset + payload.len()` is at most
    /// [`Config::max_message_len`]).
    pub message_offset: usize,
    /// Whether the frame is the last of its message (FIN).
    pub fin: bool,
    /// `offset + payload.len() == frame_len`, known when the chunk is cut,
    /// so [`Data::is_message_end`] is one test.
    pub(super) frame_end: bool,
    /// The chunk starts the message's first frame (not a continuation),
    /// which `message_offset == 0` cannot tell after an empty first frame.
    pub(super) message_start: bool,
    /// The message is compressed (permessage-deflate, RSV1 on its first
    /// frame): `payload` is deflate data, for an
    /// [`Inflater`](super::deflate::Inflater). Its text is checked as
    /// UTF-8 and its length against the limits once inflated.
    #[cfg(feature = "deflate")]
    pub compressed: bool,
}

impl Data<'_> {
    /// The same chunk description over `payload` (the same bytes, borrowed
    /// anew): lets a driver end one borrow of its buffer and take another.
    #[cfg(any(feature = "std", feature = "embedded-io"))]
    pub(crate) fn with_payload<'b>(&self, payload: &'b [u8]) -> Data<'b> {
        Data {
            kind: self.kind,
            payload,
            offset: self.offset,
            frame_len: self.frame_len,
            message_offset: self.message_offset,
            fin: self.fin,
            frame_end: self.frame_end,
            message_start: self.message_start,
            #[cfg(feature = "deflate")]
            compressed: self.compressed,
        }
    }

    /// Whether this chunk ends its frame.
    #[inline]
    pub fn is_frame_end(&self) -> bool {
        self.frame_end
    }

    /// Whether this chunk ends its message.
    #[inline]
    pub fn is_message_end(&self) -> bool {
        self.fin && self.is_frame_end()
    }

    /// Whether this chunk starts its message: the first chunk of a text or
    /// binary frame (not of a continuation). With [`Data::is_message_end`]
    /// it tells a whole message from a fragment, to send each back as it
    /// came.
    #[inline]
    pub fn is_message_start(&self) -> bool {
        self.message_start
    }
}

/// Something the peer sent. Data borrows the input; control payloads come
/// by value, so an event never holds the connection borrowed: a ping's
/// payload can go straight back in a pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A chunk of a text or binary message.
    Data(Data<'a>),
    /// A ping and its payload (answered by itself if
    /// [`Config::auto_pong`]).
    Ping(ControlPayload),
    /// A pong and its payload.
    Pong(ControlPayload),
    /// The peer's close frame: `None` if it carried no code. The echo is
    /// queued (if we had not sent a close already); fetch it with
    /// [`Connection::poll_transmit`](super::Connection::poll_transmit).
    Close(Option<CloseFrame>),
}

/// What [`Connection::handle_read`](super::Core::handle_read) did with the
/// input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// Bytes of the input used; the rest must be offered again.
    pub consumed: usize,
    /// At most one event.
    pub event: Option<Event<'a>>,
}

/// What [`Connection::encode_header`](super::Connection::encode_header)
/// wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStart {
    /// Bytes of header written.
    pub header_len: usize,
    /// The key the payload is masked with (clients), `None` for servers.
    /// [`Connection::mask_payload`](super::Core::mask_payload) applies it.
    pub mask: Option<[u8; 4]>,
}

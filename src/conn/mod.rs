//! The sans-IO connection: what a firmware task or a host thread drives
//! after the opening handshake.
//!
//! A [`Connection`] never does IO, never reads a clock and never allocates.
//! It has four kinds of methods:
//!
//! - **getters**: [`role`](Connection::role), [`state`](Connection::state),
//!   [`end`](Connection::end), [`local_close`](Connection::local_close),
//!   [`remote_close`](Connection::remote_close);
//! - **inputs**: [`handle_read`](Connection::handle_read) (bytes from the
//!   transport), [`handle_timeout`](Connection::handle_timeout) (the clock
//!   reached [`poll_timeout`](Connection::poll_timeout)),
//!   [`handle_eof`](Connection::handle_eof) (the transport ended);
//! - **commands**: [`send_text`](Connection::send_text),
//!   [`send_binary`](Connection::send_binary),
//!   [`send_fragment`](Connection::send_fragment),
//!   [`encode_in_place`](Connection::encode_in_place) write data frames into
//!   a caller's buffer; [`ping`](Connection::ping),
//!   [`pong`](Connection::pong), [`close`](Connection::close) queue control
//!   frames;
//! - **outputs**: [`poll_transmit`](Connection::poll_transmit) (control
//!   frames owed: pongs, close echoes, keepalive pings),
//!   [`poll_timeout`](Connection::poll_timeout) (when to call
//!   `handle_timeout`).
//!
//! # Drive loop
//!
//! ```no_run
//! # use sansws::conn::{Connection, Config, Event, Instant};
//! # fn read(_: &mut [u8]) -> usize { 0 }
//! # fn write(_: &[u8]) {}
//! # fn now() -> Instant { Instant(0) }
//! # fn wait_readable_until(_: Option<Instant>) -> bool { true }
//! let mut conn = Connection::server(Config::DEFAULT, now());
//! let mut input = [0u8; 1024];
//! let mut out = [0u8; 256];
//! 'run: loop {
//!     // 1. Send what is owed before sleeping.
//!     while let Some(n) = conn.poll_transmit(now(), &mut out).unwrap() {
//!         write(&out[..n]);
//!     }
//!     if conn.is_closed() {
//!         break; // close the transport
//!     }
//!     // 2. Sleep until readable or until the next timer.
//!     if !wait_readable_until(conn.poll_timeout()) {
//!         conn.handle_timeout(now());
//!         continue;
//!     }
//!     // 3. Feed what was read; one event per call.
//!     let n = read(&mut input);
//!     if n == 0 {
//!         conn.handle_eof();
//!         continue;
//!     }
//!     let mut at = 0;
//!     while at < n {
//!         let Ok(r) = conn.handle_read(&mut input[at..n]) else { continue 'run };
//!         at += r.consumed;
//!         match r.event {
//!             Some(Event::Data(d)) => { /* d.payload: a chunk of d.frame_len bytes at d.offset */ }
//!             Some(Event::Close(_)) => { /* the echo is queued */ }
//!             Some(_) | None => {}
//!         }
//!     }
//! }
//! ```

mod time;
mod utf8;

pub use time::{Duration, Instant};

#[cfg(feature = "std")]
use crate::wire::copy_short;
use crate::wire::{
    CloseCode, CloseError, CloseFrame, FrameError, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode,
    ParseOptions, Rsv, apply_mask,
};
use crate::{BufferTooSmall, Status};
use utf8::Utf8Validator;

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Masks every frame it sends; rejects masked frames.
    Client,
    /// Never masks; rejects unmasked frames.
    Server,
}

/// A source of masking keys for a client: fresh unpredictable 4-byte keys
/// (RFC 6455 section 5.3). Any `FnMut() -> [u8; 4]` is one.
pub trait MaskKeys {
    /// The key for the next frame.
    fn next_key(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4]> MaskKeys for F {
    fn next_key(&mut self) -> [u8; 4] {
        self()
    }
}

/// The key source of a server, which never masks. It cannot be built
/// outside this crate, so no client can end up with a constant key.
#[derive(Debug, Clone, Copy)]
pub struct NoMasking(());

impl MaskKeys for NoMasking {
    fn next_key(&mut self) -> [u8; 4] {
        [0; 4]
    }
}

/// Limits, timers and behaviour of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Largest payload of one received data frame; larger is refused with
    /// 1009 as soon as its header is read.
    pub max_frame_len: u64,
    /// Largest received message (all its fragments); larger is refused with
    /// 1009 as soon as the header that would cross it is read.
    pub max_message_len: u64,
    /// Split outgoing messages into frames of at most this many bytes of
    /// payload ([`Connection::send_text`], [`Connection::send_binary`]).
    pub max_send_frame_len: usize,
    /// Answer pings with pongs by itself.
    pub auto_pong: bool,
    /// Send a ping this often while open (keepalive), if set.
    pub ping_interval: Option<Duration>,
    /// With `ping_interval`: the connection ends
    /// ([`End::PongTimeout`]) if no pong arrives this long after a
    /// keepalive ping was sent.
    pub pong_timeout: Duration,
    /// After our close frame was sent, how long to wait for the peer's
    /// ([`End::CloseTimeout`]).
    pub close_timeout: Duration,
    /// Frame header rules (strict lengths; no extension bits are allowed
    /// since no extension is negotiated).
    pub parse: ParseOptions,
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
        parse: ParseOptions::DEFAULT,
    };

    /// For a host: 16 MiB frames, 64 MiB messages, outgoing messages in one
    /// frame; otherwise as [`Config::DEFAULT`].
    pub const HOST: Self = Self {
        max_frame_len: 16 << 20,
        max_message_len: 64 << 20,
        max_send_frame_len: usize::MAX,
        ..Self::DEFAULT
    };
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text (validated as it arrives).
    Text,
    /// Bytes.
    Binary,
}

impl DataKind {
    fn opcode(self) -> OpCode {
        match self {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        }
    }
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
    pub offset: u64,
    /// The frame's payload length.
    pub frame_len: u64,
    /// Where this chunk starts in the message (all fragments so far).
    pub message_offset: u64,
    /// Whether the frame is the last of its message (FIN).
    pub fin: bool,
    /// `offset + payload.len() == frame_len`, known when the chunk is cut,
    /// so [`Data::is_message_end`] is one test.
    frame_end: bool,
}

impl Data<'_> {
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
}

/// Something the peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A chunk of a text or binary message.
    Data(Data<'a>),
    /// A ping and its payload (answered by itself if
    /// [`Config::auto_pong`]).
    Ping(&'a [u8]),
    /// A pong and its payload.
    Pong(&'a [u8]),
    /// The peer's close frame: `None` if it carried no code. The echo is
    /// queued (if we had not sent a close already); fetch it with
    /// [`Connection::poll_transmit`].
    Close(Option<CloseFrame<'a>>),
}

/// What [`Connection::encode_header`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStart {
    /// Bytes of header written.
    pub header_len: usize,
    /// The key to mask the payload with (clients), `None` for servers.
    pub mask: Option<[u8; 4]>,
}

/// What [`Connection::handle_read`] did with the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// Bytes of the input used; the rest must be offered again.
    pub consumed: usize,
    /// At most one event.
    pub event: Option<Event<'a>>,
}

/// A violation of the protocol by the peer. Each knows the close code it
/// is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A header that can never be valid.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A server received an unmasked frame.
    #[error("client frame not masked")]
    Unmasked,
    /// A client received a masked frame.
    #[error("server frame masked")]
    Masked,
    /// A continuation frame with no message to continue.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is open.
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// Text that is not UTF-8 (found at the first bad byte, or a code point
    /// cut off at the end of the message).
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// A data frame over [`Config::max_frame_len`].
    #[error("frame of {len} bytes exceeds the limit of {limit}")]
    FrameTooLarge {
        /// The frame's announced payload length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A message over [`Config::max_message_len`].
    #[error("message of at least {len} bytes exceeds the limit of {limit}")]
    MessageTooLarge {
        /// The message length the frame would bring it to.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// An invalid close frame payload.
    #[error(transparent)]
    Close(#[from] CloseError),
}

impl ProtocolError {
    /// The close code sent for this error: 1009 for the limits, 1007 for
    /// bad UTF-8, 1002 otherwise.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            ProtocolError::Close(e) => e.close_code(),
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// A command that cannot be carried out. Nothing was written or queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A close was sent or received, or the connection ended: no more data
    /// or pings may be sent.
    #[error("connection is closing or closed")]
    Closed,
    /// A whole message was sent while a fragmented one is open.
    #[error("a fragmented message is in progress")]
    FragmentInProgress,
    /// A fragment of the other type than the open fragmented message.
    #[error("fragment type differs from the message in progress")]
    FragmentKind,
    /// A ping or pong payload over 125 bytes.
    #[error("control payload over 125 bytes")]
    ControlTooLong,
    /// An invalid close code or reason.
    #[error(transparent)]
    Close(#[from] CloseError),
    /// The output buffer is too small; nothing was written.
    #[error(transparent)]
    BufferTooSmall(#[from] BufferTooSmall),
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We started the close (a [`Connection::close`] or a protocol error):
    /// our close is queued or sent, the peer's is awaited. Data may still
    /// arrive; none may be sent.
    CloseSent,
    /// The peer started the close; our echo is queued until
    /// [`Connection::poll_transmit`] hands it out.
    CloseReceived,
    /// Done: see [`Connection::end`]. Drain `poll_transmit`, then end the
    /// transport (a server first; a client waits for the server's FIN).
    Closed,
}

/// How a closed connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Both close frames were exchanged.
    Clean,
    /// The peer broke the protocol; our close carried the error's code.
    Failed(ProtocolError),
    /// A keepalive ping got no pong in time.
    PongTimeout,
    /// Our close got no answer in time.
    CloseTimeout,
    /// The transport ended before the close handshake finished (1006).
    Abnormal,
}

#[derive(Debug, Clone, Copy)]
enum Rx {
    /// Between frames: no byte of the next header yet.
    Idle,
    /// Reading a header; `len` (at least 1) bytes of it are in `hdr`.
    Header { len: u8 },
    /// Delivering a data frame's payload.
    Data(DataRx),
    /// Collecting a control frame's payload into `ctrl`.
    Control(ControlRx),
    /// After the peer's close or a failure: input is swallowed.
    Discard,
}

/// A whole small data frame found at the start of the input.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
struct SmallFrame {
    /// FIN, binary, not a continuation: a whole binary message.
    whole_binary: bool,
    kind: DataKind,
    fin: bool,
    continues: bool,
    header: usize,
    len: usize,
    mask: Option<[u8; 4]>,
}

/// A data frame being received.
#[derive(Debug, Clone, Copy)]
struct DataRx {
    kind: DataKind,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: u64,
    /// Payload bytes delivered so far.
    offset: u64,
}

/// A control frame being received.
#[derive(Debug, Clone, Copy)]
struct ControlRx {
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    len: u8,
    got: u8,
}

#[derive(Debug, Clone, Copy)]
struct Payload {
    buf: [u8; MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl Payload {
    const EMPTY: Self = Self {
        buf: [0; MAX_CONTROL_PAYLOAD],
        len: 0,
    };

    fn set(&mut self, data: &[u8]) {
        let n = data.len().min(MAX_CONTROL_PAYLOAD);
        self.buf[..n].copy_from_slice(&data[..n]);
        self.len = n as u8;
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Initiator {
    Local,
    Remote,
}

/// The WebSocket state machine for one connection, after the handshake.
/// See the [module docs](self) for the call order.
///
/// The work is done once, on `Connection<dyn MaskKeys>`; the methods of
/// `Connection<K>` forward to it, so a device that runs both roles (two key
/// source types) carries one copy of the state machine.
#[derive(Debug, Clone)]
pub struct Connection<K: MaskKeys + ?Sized = NoMasking> {
    role: Role,
    config: Config,

    // Receive.
    rx: Rx,
    hdr: [u8; FrameHeader::MAX_LEN],
    ctrl: Payload,
    /// Type of the message being received, if one is open.
    rx_msg: Option<DataKind>,
    rx_msg_len: u64,
    utf8: Utf8Validator,

    // Send.
    tx_msg: Option<DataKind>,
    pong: Option<Payload>,
    ping: Option<(Payload, bool)>,
    /// Our close: `Some(None)` an empty close, `Some(Some(code))` with
    /// `close_reason`.
    close: Option<Option<CloseCode>>,
    close_reason: Payload,
    close_sent: bool,
    close_received: bool,
    initiator: Option<Initiator>,

    // End.
    failure: Option<ProtocolError>,
    timed_out: Option<End>,
    eof: bool,

    // Timers.
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    close_deadline: Option<Instant>,

    /// The longest 7-bit frame the limits can never refuse as a new
    /// message (125, or less under smaller limits); for the host fast path.
    #[cfg(feature = "std")]
    small_max: u8,
    /// One more than the longest payload the host send fast path may
    /// write as one whole frame now: 0 once sending has ended or while a
    /// fragmented message is open. Kept by [`Self::refresh_tx_fast`].
    #[cfg(feature = "std")]
    tx_fast: u8,

    // Last, so that `Connection<K>` unsizes to `Connection<dyn MaskKeys>`.
    keys: K,
}

impl Connection<NoMasking> {
    /// A server connection, open at `now`.
    pub fn server(config: Config, now: Instant) -> Self {
        Self::new(Role::Server, config, NoMasking(()), now)
    }
}

impl<K: MaskKeys> Connection<K> {
    /// A client connection, open at `now`, masking with keys from `keys`.
    pub fn client(config: Config, keys: K, now: Instant) -> Self {
        Self::new(Role::Client, config, keys, now)
    }

    /// A connection of either role with a key source of type `K`, for
    /// adapters that want one type for both roles. A server never asks
    /// `keys` for a key.
    pub fn with_keys(role: Role, config: Config, keys: K, now: Instant) -> Self {
        Self::new(role, config, keys, now)
    }

    /// [`Connection::tx_fast`] while sending is open and no fragmented
    /// message is.
    #[cfg(feature = "std")]
    fn tx_fast_limit(config: &Config) -> u8 {
        (config.max_send_frame_len.min(125) + 1) as u8
    }

    fn new(role: Role, config: Config, keys: K, now: Instant) -> Self {
        Self {
            role,
            config,
            keys,
            rx: Rx::Idle,
            hdr: [0; FrameHeader::MAX_LEN],
            ctrl: Payload::EMPTY,
            rx_msg: None,
            rx_msg_len: 0,
            utf8: Utf8Validator::default(),
            tx_msg: None,
            pong: None,
            ping: None,
            close: None,
            close_reason: Payload::EMPTY,
            close_sent: false,
            close_received: false,
            initiator: None,
            failure: None,
            timed_out: None,
            eof: false,
            next_ping: config.ping_interval.map(|i| now + i),
            pong_deadline: None,
            close_deadline: None,
            #[cfg(feature = "std")]
            small_max: config.max_frame_len.min(config.max_message_len).min(125) as u8,
            #[cfg(feature = "std")]
            tx_fast: Self::tx_fast_limit(&config),
        }
    }
}

impl<K: MaskKeys> Connection<K> {
    /// This connection with its key source type erased: the one copy of
    /// the state machine's code works on it.
    #[inline]
    fn erased_mut(&mut self) -> &mut Connection<dyn MaskKeys + '_> {
        self
    }

    #[inline]
    fn erased(&self) -> &Connection<dyn MaskKeys + '_> {
        self
    }

    /// Client or server.
    #[inline]
    pub fn role(&self) -> Role {
        self.erased().role()
    }

    /// The configuration.
    #[inline]
    pub fn config(&self) -> &Config {
        self.erased().config()
    }

    /// Where the connection is in its life.
    #[inline]
    pub fn state(&self) -> State {
        self.erased().state()
    }

    /// Whether data can still be sent and received.
    #[inline]
    pub fn is_open(&self) -> bool {
        self.erased().is_open()
    }

    /// Whether the connection is over ([`State::Closed`]).
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.erased().is_closed()
    }

    /// How the connection ended, once [`State::Closed`].
    #[inline]
    pub fn end(&self) -> Option<End> {
        self.erased().end()
    }

    /// The close we sent or queued: its code (`NO_STATUS_RECEIVED` for an
    /// empty close) and reason.
    #[inline]
    pub fn local_close(&self) -> Option<(CloseCode, &str)> {
        self.erased().local_close()
    }

    /// The close the peer sent: its code (`NO_STATUS_RECEIVED` if it had
    /// none) and reason.
    #[inline]
    pub fn remote_close(&self) -> Option<(CloseCode, &str)> {
        self.erased().remote_close()
    }

    /// Feeds bytes read from the transport. Payload is unmasked in place.
    ///
    /// Returns how many bytes were consumed and at most one event; call
    /// again with the rest (`&mut input[consumed..]`) until all is
    /// consumed. Any split of the byte stream gives the same events, as
    /// data chunks cut at other places.
    ///
    /// A protocol violation queues a close frame with the error's code and
    /// is returned now and by every later call (the error latches). After
    /// the peer's close, input is consumed and ignored.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    pub fn handle_read<'a>(
        &'a mut self,
        input: &'a mut [u8],
    ) -> Result<Received<'a>, ProtocolError> {
        self.erased_mut().handle_read(input)
    }

    /// The clock reached (or passed) [`Connection::poll_timeout`]: sends a
    /// keepalive ping when due, or ends the connection when the peer failed
    /// to answer a ping or a close in time.
    #[inline]
    pub fn handle_timeout(&mut self, now: Instant) {
        self.erased_mut().handle_timeout(now)
    }

    /// The transport ended (read returned 0 or the peer reset). Unless the
    /// close handshake had finished, the connection ends as
    /// [`End::Abnormal`].
    #[inline]
    pub fn handle_eof(&mut self) {
        self.erased_mut().handle_eof()
    }

    /// When [`Connection::handle_timeout`] should next be called, if ever.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.erased().poll_timeout()
    }

    /// Whether [`Connection::poll_transmit`] has a frame to hand out.
    #[inline]
    pub fn wants_transmit(&self) -> bool {
        self.erased().wants_transmit()
    }

    /// Writes the next control frame owed (pong, ping, then close) into
    /// `out` and returns its length; `None` when nothing is owed. Call until
    /// `None` before sleeping. 139 bytes always suffice for one frame; a
    /// smaller `out` may give [`BufferTooSmall`], and the frame stays owed.
    #[inline]
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        self.erased_mut().poll_transmit(now, out)
    }

    /// The bytes [`Connection::send_text`] or [`Connection::send_binary`]
    /// write for a payload of `len` bytes (headers of every frame included).
    #[inline]
    pub fn message_len(&self, len: usize) -> usize {
        self.erased().message_len(len)
    }

    /// Writes a whole text message into `out` (split into frames of
    /// [`Config::max_send_frame_len`]); returns the bytes written.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    pub fn send_text(&mut self, text: &str, out: &mut [u8]) -> Result<usize, SendError> {
        self.erased_mut().send_text(text, out)
    }

    /// Writes a whole binary message into `out`; returns the bytes written.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    pub fn send_binary(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, SendError> {
        self.erased_mut().send_binary(data, out)
    }

    /// Writes one fragment of a message produced piece by piece: the first
    /// call opens a message of type `kind`, later ones continue it (the same
    /// `kind` is required), and `fin` ends it. This is what
    /// esp_websocket_client's `send_text_partial`, `send_cont_msg` and
    /// `send_fin` do. A text message's fragments may split a code point;
    /// only the whole message must be UTF-8.
    #[inline]
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.erased_mut().send_fragment(kind, data, fin, out)
    }

    /// Zero-copy send: writes the header of one data frame into `header`
    /// (14 bytes always suffice) and masks `payload` in place (clients), so
    /// the transport can write both with one vectored write. Fragments as
    /// [`Connection::send_fragment`]; `fin = true` with no message open is
    /// a whole message in one frame. Returns the header's length.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    pub fn encode_in_place(
        &mut self,
        kind: DataKind,
        fin: bool,
        payload: &mut [u8],
        header: &mut [u8],
    ) -> Result<usize, SendError> {
        self.erased_mut()
            .encode_in_place(kind, fin, payload, header)
    }

    /// Streaming send: writes the header of one data frame of
    /// `payload_len` bytes into `header` (14 bytes always suffice) and
    /// returns the masking key the payload must be masked with (clients),
    /// so the payload can follow in chunks through a small buffer, each
    /// masked with [`apply_mask`] at its offset. The caller must then send
    /// exactly `payload_len` bytes. Fragments as
    /// [`Connection::send_fragment`].
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    pub fn encode_header(
        &mut self,
        kind: DataKind,
        fin: bool,
        payload_len: u64,
        header: &mut [u8],
    ) -> Result<FrameStart, SendError> {
        self.erased_mut()
            .encode_header(kind, fin, payload_len, header)
    }

    /// Queues a ping (at most 125 bytes of payload) for
    /// [`Connection::poll_transmit`]; replaces a ping still queued.
    #[inline]
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.erased_mut().ping(payload)
    }

    /// Queues a pong (an answer when [`Config::auto_pong`] is off, or an
    /// unsolicited heartbeat); replaces a pong still queued.
    #[inline]
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.erased_mut().pong(payload)
    }

    /// Starts the close handshake, as esp_websocket_client's `close` does:
    /// queues a close frame with `code` and `reason` (checked: allowed on
    /// the wire, at most 123 bytes of reason), then waits for the peer's
    /// close ([`State::CloseSent`], with [`Config::close_timeout`]). Data
    /// still arrives meanwhile; no more can be sent.
    #[inline]
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.erased_mut().close(code, reason)
    }
}

impl Connection<dyn MaskKeys + '_> {
    // ----- getters -------------------------------------------------------

    fn role(&self) -> Role {
        self.role
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn state(&self) -> State {
        if self.end().is_some() {
            return State::Closed;
        }
        match self.initiator {
            None => State::Open,
            Some(Initiator::Local) => State::CloseSent,
            Some(Initiator::Remote) => State::CloseReceived,
        }
    }

    fn is_open(&self) -> bool {
        self.state() == State::Open
    }

    fn is_closed(&self) -> bool {
        self.end().is_some()
    }

    fn end(&self) -> Option<End> {
        if let Some(t) = self.timed_out {
            return Some(t);
        }
        if let Some(e) = self.failure {
            return (self.close_sent || self.eof).then_some(End::Failed(e));
        }
        if self.close_sent && self.close_received {
            return Some(End::Clean);
        }
        self.eof.then_some(End::Abnormal)
    }

    fn local_close(&self) -> Option<(CloseCode, &str)> {
        let code = self.close?;
        let reason = core::str::from_utf8(self.close_reason.as_slice()).unwrap_or("");
        Some(match code {
            Some(c) => (c, reason),
            None => (CloseCode::NO_STATUS_RECEIVED, ""),
        })
    }

    fn remote_close(&self) -> Option<(CloseCode, &str)> {
        if !self.close_received {
            return None;
        }
        Some(match CloseFrame::parse(self.ctrl.as_slice()) {
            Ok(Some(f)) => (f.code(), f.reason()),
            _ => (CloseCode::NO_STATUS_RECEIVED, ""),
        })
    }

    // ----- inputs --------------------------------------------------------

    /// Whole small frames inline (the common case), the rest out of line.
    /// Forced inline on hosts: left to itself the compiler kept this call
    /// (both roles' fast paths) out of line in larger callers, which cost
    /// a third of the time of a 16-byte frame.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn handle_read<'a>(&'a mut self, input: &'a mut [u8]) -> Result<Received<'a>, ProtocolError> {
        // Hosts only: on a device the general path alone is smaller.
        // A failure sets `rx` to `Discard`, so `small_frame` refuses. One
        // copy per role, so that the header length and the mask's presence
        // are constants.
        #[cfg(feature = "std")]
        match self.role {
            Role::Server => {
                if let Some(f) = self.small_frame::<true>(input) {
                    return self.read_small_frame(input, f);
                }
            }
            Role::Client => {
                if let Some(f) = self.small_frame::<false>(input) {
                    return self.read_small_frame(input, f);
                }
            }
        }
        self.handle_read_general(input)
    }

    #[inline(never)]
    fn handle_read_general<'a>(
        &'a mut self,
        input: &'a mut [u8],
    ) -> Result<Received<'a>, ProtocolError> {
        if let Some(e) = self.failure {
            return Err(e);
        }
        let mut pos = 0;
        loop {
            match self.rx {
                Rx::Discard => {
                    return Ok(Received {
                        consumed: input.len(),
                        event: None,
                    });
                }
                Rx::Idle | Rx::Header { .. } => {
                    if pos == input.len() {
                        return Ok(Received {
                            consumed: pos,
                            event: None,
                        });
                    }
                    let len = match self.rx {
                        Rx::Header { len } => len,
                        _ => 0,
                    };
                    match self.read_header(len, &input[pos..]) {
                        Ok(n) => pos += n,
                        Err(e) => return Err(self.fail(e)),
                    }
                }
                Rx::Data(d) => return self.read_data(input, pos, d),
                Rx::Control(c) => return self.read_control(input, pos, c),
            }
        }
    }

    /// The common case, checked without borrowing: a whole data frame with
    /// a 7-bit length at the start of `input`, masked as the role needs,
    /// allowed by the continuation rules and the limits. Anything else
    /// (including every error) goes through the general path.
    #[cfg(feature = "std")]
    #[inline(always)]
    fn small_frame<const MASKED: bool>(&self, input: &[u8]) -> Option<SmallFrame> {
        if !matches!(self.rx, Rx::Idle) {
            return None;
        }
        let [b0, b1, ..] = *input else {
            return None;
        };
        // The mask bit the role needs, flipped away: what is left is the
        // length if the bit was right, 128 or more if not.
        // At most `small_max` (<= 125: a 7-bit length): a new message of
        // this length is within the limits.
        let len = usize::from(b1 ^ if MASKED { 0x80 } else { 0 });
        if len > usize::from(self.small_max) {
            return None;
        }
        let header = if MASKED { 6 } else { 2 };
        if input.len() < header + len {
            return None;
        }
        let mask = if MASKED {
            Some(<[u8; 4]>::try_from(input.get(2..6)?).ok()?)
        } else {
            None
        };
        // No RSV bit, and a data opcode the continuation rules allow.
        let opcode = b0 & 0x7f;
        let continues = opcode == 0;
        let kind = if opcode.wrapping_sub(1) < 2 && self.rx_msg.is_none() {
            if opcode == 1 {
                DataKind::Text
            } else {
                DataKind::Binary
            }
        } else if continues && let Some(k) = self.rx_msg {
            k
        } else {
            return None;
        };
        // A continuation adds to the message: check its total as the
        // general path does (`small_max` covered the frame's own length).
        if continues && self.rx_msg_len + len as u64 > self.config.max_message_len {
            return None;
        }
        Some(SmallFrame {
            whole_binary: b0 == 0x82,
            kind,
            fin: b0 & 0x80 != 0,
            continues,
            header,
            len,
            mask,
        })
    }

    /// Decodes a frame [`Self::small_frame`] accepted: the same state
    /// changes and event as the general path.
    #[cfg(feature = "std")]
    #[inline(always)]
    fn read_small_frame<'a>(
        &'a mut self,
        input: &'a mut [u8],
        f: SmallFrame,
    ) -> Result<Received<'a>, ProtocolError> {
        let end = f.header + f.len;
        let payload = &mut input[f.header..end];
        if let Some(key) = f.mask {
            apply_mask(payload, key, 0);
        }
        let message_offset = if f.whole_binary {
            // A whole binary message, the commonest frame: nothing else to
            // track.
            self.rx_msg_len = f.len as u64;
            0
        } else {
            self.small_frame_state(f, payload)?
        };
        Ok(Received {
            consumed: end,
            event: Some(Event::Data(Data {
                kind: f.kind,
                payload,
                offset: 0,
                frame_len: f.len as u64,
                message_offset,
                fin: f.fin,
                frame_end: true,
            })),
        })
    }

    /// The rest of [`Self::read_small_frame`]'s state changes, for
    /// anything but a whole binary message; returns the message offset.
    #[cfg(feature = "std")]
    #[inline(always)]
    fn small_frame_state(&mut self, f: SmallFrame, payload: &[u8]) -> Result<u64, ProtocolError> {
        let message_offset = if f.continues { self.rx_msg_len } else { 0 };
        // The validator's state matters only within text messages, which
        // reset it when they start.
        if f.kind == DataKind::Text {
            if !f.continues {
                self.utf8.reset();
            }
            if self.utf8.feed(payload).is_err() || (f.fin && self.utf8.is_incomplete()) {
                return Err(self.fail(ProtocolError::InvalidUtf8));
            }
        }
        self.rx_msg_len = message_offset + f.len as u64;
        self.rx_msg = if f.fin { None } else { Some(f.kind) };
        Ok(message_offset)
    }

    /// Consumes header bytes; on a complete header moves `rx` on.
    fn read_header(&mut self, have: u8, input: &[u8]) -> Result<usize, ProtocolError> {
        let opts = self.config.parse;
        if have == 0 {
            // Fast path: the whole header is in the input.
            match FrameHeader::parse(input, &opts)? {
                Status::Complete((h, n)) => {
                    self.start_frame(h)?;
                    return Ok(n);
                }
                Status::Partial { .. } => {}
            }
        }
        let mut have = have as usize;
        let mut used = 0;
        loop {
            match FrameHeader::parse(&self.hdr[..have], &opts)? {
                Status::Complete((h, _)) => {
                    self.start_frame(h)?;
                    return Ok(used);
                }
                Status::Partial { needed } => {
                    let take = needed.min(input.len() - used);
                    if take == 0 {
                        self.rx = if have == 0 {
                            Rx::Idle
                        } else {
                            Rx::Header { len: have as u8 }
                        };
                        return Ok(used);
                    }
                    self.hdr[have..have + take].copy_from_slice(&input[used..used + take]);
                    have += take;
                    used += take;
                }
            }
        }
    }

    /// Applies the rules that need the connection's state to a new header.
    fn start_frame(&mut self, h: FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::Unmasked),
            (Role::Client, true) => return Err(ProtocolError::Masked),
            _ => {}
        }
        if h.opcode.is_control() {
            self.rx = Rx::Control(ControlRx {
                opcode: h.opcode,
                mask: h.mask,
                // Parsing guarantees at most 125.
                len: h.payload_len as u8,
                got: 0,
            });
            return Ok(());
        }
        let kind = match (h.opcode, self.rx_msg) {
            (OpCode::Continuation, Some(k)) => k,
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (op, None) => {
                let k = if op == OpCode::Text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                self.rx_msg_len = 0;
                self.utf8.reset();
                k
            }
        };
        if h.payload_len > self.config.max_frame_len {
            return Err(ProtocolError::FrameTooLarge {
                len: h.payload_len,
                limit: self.config.max_frame_len,
            });
        }
        let total = self.rx_msg_len.saturating_add(h.payload_len);
        if total > self.config.max_message_len {
            return Err(ProtocolError::MessageTooLarge {
                len: total,
                limit: self.config.max_message_len,
            });
        }
        self.rx_msg = Some(kind);
        self.rx = Rx::Data(DataRx {
            kind,
            fin: h.fin,
            mask: h.mask,
            len: h.payload_len,
            offset: 0,
        });
        Ok(())
    }

    fn read_data<'a>(
        &'a mut self,
        input: &'a mut [u8],
        pos: usize,
        d: DataRx,
    ) -> Result<Received<'a>, ProtocolError> {
        let DataRx {
            kind,
            fin,
            mask,
            len,
            offset,
        } = d;
        let avail = input.len() - pos;
        let left = len - offset;
        if left > 0 && avail == 0 {
            return Ok(Received {
                consumed: pos,
                event: None,
            });
        }
        let take = usize::try_from(left).map_or(avail, |l| l.min(avail));
        let chunk = &mut input[pos..pos + take];
        if let Some(key) = mask {
            apply_mask(chunk, key, (offset & 3) as usize);
        }
        let end = offset + take as u64;
        let message_end = fin && end == len;
        if kind == DataKind::Text
            && (self.utf8.feed(chunk).is_err() || (message_end && self.utf8.is_incomplete()))
        {
            return Err(self.fail(ProtocolError::InvalidUtf8));
        }
        let message_offset = self.rx_msg_len;
        self.rx_msg_len += take as u64;
        if end == len {
            self.rx = Rx::Idle;
            if fin {
                self.rx_msg = None;
            }
        } else {
            self.rx = Rx::Data(DataRx { offset: end, ..d });
        }
        Ok(Received {
            consumed: pos + take,
            event: Some(Event::Data(Data {
                kind,
                payload: chunk,
                offset,
                frame_len: len,
                message_offset,
                fin,
                frame_end: end == len,
            })),
        })
    }

    fn read_control<'a>(
        &'a mut self,
        input: &'a mut [u8],
        pos: usize,
        c: ControlRx,
    ) -> Result<Received<'a>, ProtocolError> {
        let ControlRx {
            opcode,
            mask,
            len,
            got,
        } = c;
        let take = usize::from(len - got).min(input.len() - pos);
        let at = usize::from(got);
        self.ctrl.buf[at..at + take].copy_from_slice(&input[pos..pos + take]);
        if let Some(key) = mask {
            apply_mask(&mut self.ctrl.buf[at..at + take], key, at & 3);
        }
        let got = got + take as u8;
        let consumed = pos + take;
        if got < len {
            self.rx = Rx::Control(ControlRx { got, ..c });
            return Ok(Received {
                consumed,
                event: None,
            });
        }
        self.ctrl.len = len;
        self.rx = Rx::Idle;
        let event = match opcode {
            OpCode::Ping => {
                if self.config.auto_pong && self.initiator.is_none() {
                    self.pong = Some(self.ctrl);
                }
                Event::Ping(self.ctrl.as_slice())
            }
            OpCode::Pong => {
                self.pong_deadline = None;
                Event::Pong(self.ctrl.as_slice())
            }
            _ => {
                let frame = match CloseFrame::parse(self.ctrl.as_slice()) {
                    Ok(f) => f.map(|f| f.code()),
                    Err(e) => return Err(self.fail(e.into())),
                };
                self.close_received = true;
                self.rx = Rx::Discard;
                self.rx_msg = None;
                if self.initiator.is_none() {
                    self.initiator = Some(Initiator::Remote);
                    self.refresh_tx_fast();
                    // Echo the code, without the reason.
                    self.close = Some(frame);
                    self.close_reason.len = 0;
                    self.pong = None;
                    self.ping = None;
                }
                Event::Close(CloseFrame::parse(self.ctrl.as_slice()).ok().flatten())
            }
        };
        Ok(Received {
            consumed,
            event: Some(event),
        })
    }

    /// Latches a protocol error and queues the close that reports it.
    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.failure = Some(e);
        self.rx = Rx::Discard;
        if !self.close_sent {
            self.close = Some(Some(e.close_code()));
            self.close_reason.len = 0;
            self.initiator = Some(Initiator::Local);
            self.refresh_tx_fast();
        }
        self.pong = None;
        self.ping = None;
        e
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.timed_out = Some(End::CloseTimeout);
            self.refresh_tx_fast();
            return;
        }
        if self.pong_deadline.is_some_and(|d| now >= d) {
            self.timed_out = Some(End::PongTimeout);
            self.refresh_tx_fast();
            return;
        }
        if let (Some(t), Some(interval)) = (self.next_ping, self.config.ping_interval)
            && now >= t
        {
            self.next_ping = Some(now + interval);
            if self.initiator.is_none() && self.ping.is_none() {
                self.ping = Some((Payload::EMPTY, true));
            }
        }
    }

    fn handle_eof(&mut self) {
        self.eof = true;
        self.refresh_tx_fast();
        self.rx = Rx::Discard;
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let ping = if self.initiator.is_none() {
            self.next_ping
        } else {
            None
        };
        [ping, self.pong_deadline, self.close_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    // ----- outputs -------------------------------------------------------

    fn wants_transmit(&self) -> bool {
        !self.close_sent
            && self.timed_out.is_none()
            && (self.close.is_some()
                || (self.failure.is_none() && (self.pong.is_some() || self.ping.is_some())))
    }

    fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        if !self.wants_transmit() {
            return Ok(None);
        }
        if self.failure.is_none() {
            if let Some(p) = self.pong {
                let n = self.write_control(OpCode::Pong, p.as_slice(), out)?;
                self.pong = None;
                return Ok(Some(n));
            }
            if let Some((p, keepalive)) = self.ping {
                let n = self.write_control(OpCode::Ping, p.as_slice(), out)?;
                self.ping = None;
                if keepalive && self.pong_deadline.is_none() {
                    self.pong_deadline = Some(now + self.config.pong_timeout);
                }
                return Ok(Some(n));
            }
        }
        let Some(code) = self.close else {
            return Ok(None);
        };
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let len = match code {
            None => 0,
            Some(c) => {
                let reason = self.close_reason.as_slice();
                payload[..2].copy_from_slice(&c.0.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
        };
        let n = self.write_control(OpCode::Close, &payload[..len], out)?;
        self.close_sent = true;
        if !self.close_received {
            self.close_deadline = Some(now + self.config.close_timeout);
        }
        Ok(Some(n))
    }

    fn write_control(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, BufferTooSmall> {
        self.write_frame(opcode, true, payload, out)
    }

    /// Writes one frame (header, then the payload copied and masked).
    fn write_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, BufferTooSmall> {
        let mut h = FrameHeader {
            fin,
            rsv: Rsv::NONE,
            opcode,
            mask: (self.role == Role::Client).then_some([0; 4]),
            payload_len: payload.len() as u64,
        };
        let n = h.encoded_len();
        let total = n + payload.len();
        let out = out
            .get_mut(..total)
            .ok_or(BufferTooSmall { needed: total })?;
        if self.role == Role::Client {
            h.mask = Some(self.keys.next_key());
        }
        let (head, body) = out.split_at_mut(n);
        h.emit(head)?;
        body.copy_from_slice(payload);
        if let Some(key) = h.mask {
            apply_mask(body, key, 0);
        }
        Ok(total)
    }

    // ----- commands ------------------------------------------------------

    /// Whether data and pings may still be sent. Every way of ending sets
    /// one of these (a failure or a close sets `initiator`), so this is
    /// `initiator.is_none() && !is_closed()` without computing `end()`.
    #[inline]
    fn can_send(&self) -> bool {
        self.initiator.is_none() && self.timed_out.is_none() && !self.eof
    }

    /// Recomputes [`Connection::tx_fast`] after a change to what
    /// [`Self::can_send`] or `tx_msg` read.
    #[inline]
    fn refresh_tx_fast(&mut self) {
        #[cfg(feature = "std")]
        {
            self.tx_fast = if self.can_send() && self.tx_msg.is_none() {
                Connection::<NoMasking>::tx_fast_limit(&self.config)
            } else {
                0
            };
        }
    }

    fn check_can_send(&self) -> Result<(), SendError> {
        if self.can_send() {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }

    fn message_len(&self, len: usize) -> usize {
        let max = self.config.max_send_frame_len.max(1);
        let mask = if self.role == Role::Client { 4 } else { 0 };
        let hdr = |l: usize| {
            2 + mask
                + if l < 126 {
                    0
                } else if l <= 0xffff {
                    2
                } else {
                    8
                }
        };
        if len <= max {
            // One frame: no division on the common path.
            return hdr(len) + len;
        }
        let full = len / max;
        let rest = len % max;
        let mut total = len + full * hdr(max);
        if rest > 0 || len == 0 {
            total += hdr(rest);
        }
        total
    }

    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn send_text(&mut self, text: &str, out: &mut [u8]) -> Result<usize, SendError> {
        self.send_message(DataKind::Text, text.as_bytes(), out)
    }

    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn send_binary(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, SendError> {
        self.send_message(DataKind::Binary, data, out)
    }

    /// A whole message. One small frame (the commonest case) inline, with
    /// its header written by hand; the rest out of line. Forced inline on
    /// hosts, as `handle_read`.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn send_message(
        &mut self,
        kind: DataKind,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        // Hosts only: on a device the general path alone is smaller.
        #[cfg(feature = "std")]
        if data.len() < usize::from(self.tx_fast) {
            debug_assert!(self.can_send() && self.tx_msg.is_none());
            debug_assert!(data.len() <= self.config.max_send_frame_len.min(125));
            let first = 0x80 | u8::from(kind.opcode());
            let len = data.len();
            // One copy of the code per role, so that offsets are constants.
            return match self.role {
                Role::Server => {
                    let out = out
                        .get_mut(..2 + len)
                        .ok_or(BufferTooSmall { needed: 2 + len })?;
                    out[0] = first;
                    out[1] = len as u8;
                    copy_short(&mut out[2..], data);
                    Ok(2 + len)
                }
                Role::Client => {
                    let out = out
                        .get_mut(..6 + len)
                        .ok_or(BufferTooSmall { needed: 6 + len })?;
                    let key = self.keys.next_key();
                    out[0] = first;
                    out[1] = 0x80 | len as u8;
                    out[2..6].copy_from_slice(&key);
                    copy_short(&mut out[6..], data);
                    apply_mask(&mut out[6..], key, 0);
                    Ok(6 + len)
                }
            };
        }
        self.send_message_general(kind, data, out)
    }

    #[inline(never)]
    fn send_message_general(
        &mut self,
        kind: DataKind,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.check_can_send()?;
        if self.tx_msg.is_some() {
            return Err(SendError::FragmentInProgress);
        }
        if data.len() <= self.config.max_send_frame_len {
            // One frame; it writes nothing if `out` is short and names the
            // same size `message_len` would.
            return Ok(self.write_frame(kind.opcode(), true, data, out)?);
        }
        let needed = self.message_len(data.len());
        if out.len() < needed {
            return Err(BufferTooSmall { needed }.into());
        }
        let max = self.config.max_send_frame_len.max(1);
        let mut at = 0;
        let mut opcode = kind.opcode();
        let mut chunks = data.chunks(max).peekable();
        if chunks.peek().is_none() {
            return Ok(self.write_frame(opcode, true, &[], out)?);
        }
        while let Some(chunk) = chunks.next() {
            let fin = chunks.peek().is_none();
            at += self.write_frame(opcode, fin, chunk, &mut out[at..])?;
            opcode = OpCode::Continuation;
        }
        Ok(at)
    }

    fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        let opcode = self.fragment_opcode(kind)?;
        let n = self.write_frame(opcode, fin, data, out)?;
        self.tx_msg = if fin { None } else { Some(kind) };
        self.refresh_tx_fast();
        Ok(n)
    }

    fn fragment_opcode(&self, kind: DataKind) -> Result<OpCode, SendError> {
        self.check_can_send()?;
        match self.tx_msg {
            None => Ok(kind.opcode()),
            Some(k) if k == kind => Ok(OpCode::Continuation),
            Some(_) => Err(SendError::FragmentKind),
        }
    }

    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn encode_in_place(
        &mut self,
        kind: DataKind,
        fin: bool,
        payload: &mut [u8],
        header: &mut [u8],
    ) -> Result<usize, SendError> {
        let start = self.encode_header(kind, fin, payload.len() as u64, header)?;
        if let Some(key) = start.mask {
            apply_mask(payload, key, 0);
        }
        Ok(start.header_len)
    }

    /// A whole message's header up to 64 KiB inline on hosts (the usual
    /// case for a vectored write), the rest out of line.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn encode_header(
        &mut self,
        kind: DataKind,
        fin: bool,
        payload_len: u64,
        header: &mut [u8],
    ) -> Result<FrameStart, SendError> {
        // `tx_fast != 0`: sending is open and no fragmented message is, so
        // a FIN frame is a whole message and changes no state.
        #[cfg(feature = "std")]
        if fin && self.tx_fast != 0 && payload_len <= 0xffff {
            let masked = self.role == Role::Client;
            let (extra, code) = if payload_len < 126 {
                (0, payload_len as u8)
            } else {
                (2, 126)
            };
            let needed = 2 + extra + if masked { 4 } else { 0 };
            let header = header.get_mut(..needed).ok_or(BufferTooSmall { needed })?;
            header[0] = 0x80 | u8::from(kind.opcode());
            header[1] = code | if masked { 0x80 } else { 0 };
            if extra == 2 {
                header[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
            }
            let mask = if masked {
                let key = self.keys.next_key();
                header[2 + extra..].copy_from_slice(&key);
                Some(key)
            } else {
                None
            };
            return Ok(FrameStart {
                header_len: needed,
                mask,
            });
        }
        self.encode_header_general(kind, fin, payload_len, header)
    }

    #[inline(never)]
    fn encode_header_general(
        &mut self,
        kind: DataKind,
        fin: bool,
        payload_len: u64,
        header: &mut [u8],
    ) -> Result<FrameStart, SendError> {
        let opcode = self.fragment_opcode(kind)?;
        let mut h = FrameHeader {
            fin,
            rsv: Rsv::NONE,
            opcode,
            mask: (self.role == Role::Client).then_some([0; 4]),
            payload_len,
        };
        let needed = h.encoded_len();
        if header.len() < needed {
            return Err(BufferTooSmall { needed }.into());
        }
        if self.role == Role::Client {
            h.mask = Some(self.keys.next_key());
        }
        let header_len = h.emit(header)?;
        self.tx_msg = if fin { None } else { Some(kind) };
        self.refresh_tx_fast();
        Ok(FrameStart {
            header_len,
            mask: h.mask,
        })
    }

    fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        let mut p = Payload::EMPTY;
        p.set(payload);
        self.ping = Some((p, false));
        Ok(())
    }

    fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        let mut p = Payload::EMPTY;
        p.set(payload);
        self.pong = Some(p);
        Ok(())
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let frame = CloseFrame::new(code, reason)?;
        self.check_can_send()?;
        self.close = Some(Some(frame.code()));
        self.close_reason.set(reason.as_bytes());
        self.initiator = Some(Initiator::Local);
        self.refresh_tx_fast();
        self.ping = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

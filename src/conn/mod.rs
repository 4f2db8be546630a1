//! The sans-IO connection: what a firmware task or a host thread drives
//! after the opening handshake.
//!
//! A [`Connection`] never does IO, never reads a clock and never allocates.
//! It is a [`Core`] (the state machine, one copy whatever the key source)
//! with the client's key source beside it; the methods of `Core` are
//! called on the `Connection` directly. There are four kinds:
//!
//! - **getters**: [`role`](Core::role), [`config`](Core::config),
//!   [`state`](Core::state), [`is_open`](Core::is_open),
//!   [`is_closed`](Core::is_closed), [`end`](Core::end),
//!   [`local_close`](Core::local_close),
//!   [`remote_close`](Core::remote_close),
//!   [`payload_owed`](Core::payload_owed),
//!   [`wants_transmit`](Core::wants_transmit),
//!   [`message_len`](Core::message_len);
//! - **inputs**: [`handle_read`](Core::handle_read) (bytes from the
//!   transport), [`handle_timeout`](Core::handle_timeout) (the clock
//!   reached [`poll_timeout`](Core::poll_timeout)),
//!   [`handle_eof`](Core::handle_eof) (the transport ended);
//! - **commands**: whole messages ([`send_text`](Connection::send_text),
//!   [`send_binary`](Connection::send_binary)) and fragments
//!   ([`send_fragment`](Connection::send_fragment)) written into a
//!   caller's buffer; a frame's header alone, with the payload masked in
//!   place ([`encode_in_place`](Connection::encode_in_place)) or streamed
//!   after it ([`encode_header`](Connection::encode_header), then
//!   [`mask_payload`](Core::mask_payload) or
//!   [`payload_written`](Core::payload_written)); and control frames
//!   queued: [`ping`](Core::ping), [`pong`](Core::pong),
//!   [`close`](Core::close);
//! - **outputs**: [`poll_transmit`](Connection::poll_transmit) (control
//!   frames owed: pongs, close echoes, keepalive pings),
//!   [`poll_timeout`](Core::poll_timeout) (when to call `handle_timeout`).
//!
//! Every data send says whether it is a whole message or a fragment
//! ([`MessagePart`]), so a whole message sent while a fragmented one is
//! open is refused ([`SendError::FragmentInProgress`]) on every path.
//! While the caller streams a frame's payload, the connection hands out no
//! control frame and refuses other data sends
//! ([`SendError::PayloadPending`]): nothing can land inside the payload.
//!
//! # Drive loop
//!
//! One turn: run the timers that are due, send what is owed, then wait
//! until readable or the next timer, and feed what was read. Timers are
//! checked on every turn, so a peer that keeps the input busy cannot
//! starve them.
//!
//! ```no_run
//! # use sansws::conn::{Connection, Config, Event, Instant};
//! # fn read(_: &mut [u8]) -> usize { 0 }
//! # fn write(_: &[u8]) {}
//! # fn now() -> Instant { Instant(0) }
//! # fn wait_readable_until(_: Option<Instant>) -> bool { true }
//! use sansws::wire::MAX_CONTROL_FRAME_LEN;
//! let mut conn = Connection::server(Config::DEFAULT, now());
//! let mut input = [0u8; 1024];
//! let mut out = [0u8; MAX_CONTROL_FRAME_LEN];
//! loop {
//!     // 1. Timers that are due (keepalive ping, pong and close timeouts).
//!     if conn.poll_timeout().is_some_and(|t| now() >= t) {
//!         conn.handle_timeout(now());
//!     }
//!     // 2. Send what is owed before sleeping.
//!     while let Some(n) = conn.poll_transmit(now(), &mut out).unwrap() {
//!         write(&out[..n]);
//!     }
//!     if conn.is_closed() {
//!         break; // close the transport
//!     }
//!     // 3. Sleep until readable or until the next timer.
//!     if !wait_readable_until(conn.poll_timeout()) {
//!         continue;
//!     }
//!     // 4. Feed what was read; one event per call.
//!     let n = read(&mut input);
//!     if n == 0 {
//!         conn.handle_eof();
//!         continue;
//!     }
//!     let mut at = 0;
//!     while at < n {
//!         let Ok(r) = conn.handle_read(&mut input[at..n]) else { break };
//!         at += r.consumed;
//!         match r.event {
//!             Some(Event::Data(d)) => { /* d.payload: a chunk of d.frame_len bytes at d.offset */ }
//!             Some(Event::Ping(p)) => { /* answered by itself (Config::auto_pong) */ }
//!             Some(Event::Close(_)) => { /* the echo is queued */ }
//!             Some(_) | None => {}
//!         }
//!     }
//! }
//! ```
//!
//! A protocol error latches: `handle_read` returns it from then on, and
//! the close that reports it is owed by `poll_transmit`.

mod control;
#[cfg(feature = "deflate")]
pub mod deflate;
mod error;
mod keys;
mod lifecycle;
mod recv;
mod send;
mod time;
mod timers;
mod types;

use core::ops::{Deref, DerefMut};

use crate::BufferTooSmall;
use crate::wire::apply_mask;

pub use error::{ProtocolError, SendError};
#[cfg(feature = "std")]
pub use keys::OsKeys;
pub use keys::{MaskKeys, NoMasking};
pub use lifecycle::{End, State};
pub use time::{Duration, Instant};
pub use types::{Config, Data, DataKind, Event, FrameStart, MessagePart, Received, Role};

/// The state machine of a connection, without its key source: one copy of
/// the code whatever the key source's type. It is reached through a
/// [`Connection`], whose methods these are; see the [module docs](self).
#[derive(Debug, Clone)]
// 32-bit targets: in this order (`repr(C)`), so that the receiver's
// buffers and `Closing`'s, all zeroed, lie together and `Core::new` clears
// them with one memset (it was two; the role after the control frames,
// in what was padding: 712 B on riscv32 as before). Hosts keep the
// compiler's layout.
#[cfg_attr(not(target_pointer_width = "64"), repr(C))]
pub struct Core {
    config: Config,
    timers: timers::Timers,
    rx: recv::Receiver,
    closing: lifecycle::Closing,
    tx: send::Tx,
    control: control::Control,
    role: Role,
    /// permessage-deflate, if the handshake agreed it: RSV1 is then
    /// allowed on a message's first frame, both ways.
    #[cfg(feature = "deflate")]
    deflate: Option<crate::handshake::deflate::DeflateParams>,
}

impl Core {
    fn new(role: Role, config: Config, now: Instant) -> Self {
        Self {
            role,
            config,
            rx: recv::Receiver::new(&config),
            tx: send::Tx::Ready,
            control: control::Control::new(),
            closing: lifecycle::Closing::new(),
            timers: timers::Timers::new(now, config.ping_interval),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// Client or server.
    #[inline]
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether this end is the client, which masks what it sends and
    /// refuses masked frames. A connection's role is one its features
    /// allow (`Connection::server` needs `server`, `Connection::client`
    /// needs `client`), so in a one-role build this is a constant and the
    /// other role's paths are not compiled in.
    #[inline(always)]
    pub(crate) fn is_client(&self) -> bool {
        match self.role {
            Role::Client => cfg!(feature = "client"),
            Role::Server => !cfg!(feature = "server"),
        }
    }

    /// The configuration.
    #[inline]
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The WebSocket state machine for one connection, after the handshake,
/// with the key source a client masks its frames with (`K`; a server's is
/// [`NoMasking`]). See the [module docs](self) for the call order; most
/// methods are [`Core`]'s, called on the `Connection` directly.
///
/// ```
/// use sansws::conn::{Config, Connection, Event, Instant};
/// use sansws::wire::MAX_CONTROL_FRAME_LEN;
/// // Pongs by hand, to show it: `auto_pong` (the default) answers by itself.
/// let config = Config { auto_pong: false, ..Config::DEFAULT };
/// let mut server = Connection::server(config, Instant::ZERO);
/// // RFC 6455 section 5.7: a masked ping "Hello".
/// let mut input = [0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let r = server.handle_read(&mut input)?;
/// let Some(Event::Ping(p)) = r.event else { unreachable!() };
/// // The event borrows nothing of the connection: answer it at once.
/// server.pong(&p)?;
/// let mut out = [0u8; MAX_CONTROL_FRAME_LEN];
/// let n = server.poll_transmit(Instant::ZERO, &mut out)?.unwrap();
/// // RFC 6455 section 5.7: the unmasked pong "Hello".
/// assert_eq!(out[..n], [0x8a, 0x05, b'H', b'e', b'l', b'l', b'o']);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Every method of [`Core`] is called on the `Connection` itself
/// (`Connection` dereferences to its `Core`); there is no need to name
/// `Core`.
#[derive(Debug, Clone)]
pub struct Connection<K: MaskKeys = NoMasking> {
    core: Core,
    keys: K,
}

#[cfg(feature = "server")]
impl Connection<NoMasking> {
    /// A server connection, open at `now` (feature `server`).
    pub fn server(config: Config, now: Instant) -> Self {
        Self::of_role(Role::Server, config, NoMasking(()), now)
    }
}

impl<K: MaskKeys> Connection<K> {
    /// A client connection, open at `now`, masking with keys from `keys`
    /// (feature `client`).
    #[cfg(feature = "client")]
    pub fn client(config: Config, keys: K, now: Instant) -> Self {
        Self::of_role(Role::Client, config, keys, now)
    }

    /// A connection of either role with a key source of type `K`, for
    /// adapters that want one type for both roles (features `server` and
    /// `client`). A server never asks `keys` for a key.
    #[cfg(all(feature = "server", feature = "client"))]
    pub fn with_keys(role: Role, config: Config, keys: K, now: Instant) -> Self {
        Self::of_role(role, config, keys, now)
    }

    /// The constructors' one body; `role` is one the features allow.
    fn of_role(role: Role, config: Config, keys: K, now: Instant) -> Self {
        Self {
            core: Core::new(role, config, now),
            keys,
        }
    }

    /// Writes the next control frame owed (pong, ping, then close) into
    /// `out` and returns its length; `None` when nothing is owed, or while
    /// a frame's payload is being written. Call until `None` before
    /// sleeping. [`MAX_CONTROL_FRAME_LEN`](crate::wire::MAX_CONTROL_FRAME_LEN)
    /// bytes always suffice; a smaller `out` may give [`BufferTooSmall`],
    /// and the frame stays owed.
    #[inline]
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        self.core.transmit(now, out, &mut self.keys)
    }

    /// Writes a whole text message into `out` (split into frames of
    /// [`Config::max_send_frame_len`]); returns the bytes written
    /// ([`Core::message_len`]).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn send_text(&mut self, text: &str, out: &mut [u8]) -> Result<usize, SendError> {
        self.core
            .send_message(DataKind::Text, text.as_bytes(), out, &mut self.keys)
    }

    /// Writes a whole binary message into `out`; returns the bytes written.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn send_binary(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, SendError> {
        self.core
            .send_message(DataKind::Binary, data, out, &mut self.keys)
    }

    /// [`send_text`](Self::send_text) or [`send_binary`](Self::send_binary)
    /// as `kind` says, for host adapters whose text is already known to be
    /// UTF-8 (a [`Message::Text`](crate::message::Message::Text)).
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn send_whole(
        &mut self,
        kind: DataKind,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.core.send_message(kind, data, out, &mut self.keys)
    }

    /// Writes one fragment of a message produced piece by piece: the first
    /// call opens a message of type `kind`, later ones continue it (the same
    /// `kind` is required), and `fin` ends it. This is what
    /// esp_websocket_client's `send_text_partial`, `send_cont_msg` and
    /// `send_fin` do. A text message's fragments may split a code point;
    /// only the whole message must be UTF-8.
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.core
            .send_fragment_frame(kind, data, fin, out, &mut self.keys)
    }

    /// Zero-copy send: writes the header of one data frame, a whole message
    /// or a fragment as `part` says, into `header`
    /// ([`FrameHeader::MAX_LEN`](crate::wire::FrameHeader::MAX_LEN) bytes
    /// always suffice), and masks `payload` in place (clients), so the
    /// transport can write both with one vectored write. Returns the
    /// header's length.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn encode_in_place(
        &mut self,
        part: MessagePart,
        payload: &mut [u8],
        header: &mut [u8],
    ) -> Result<usize, SendError> {
        let start = self.core.encode_data_header(
            part,
            payload.len() as u64,
            header,
            &mut self.keys,
            false,
        )?;
        if let Some(key) = start.mask {
            apply_mask(payload, key, 0);
        }
        Ok(start.header_len)
    }

    /// Streaming send: writes the header of one data frame of
    /// `payload_len` bytes, a whole message or a fragment as `part` says,
    /// into `header` (14 bytes always suffice). The caller then owes the
    /// frame's payload: it writes it in chunks through a buffer of any
    /// size, each passed to [`Core::mask_payload`] (which masks it for a
    /// client) or reported with [`Core::payload_written`]. Until all
    /// `payload_len` bytes are reported, no control frame is handed out
    /// and other data sends are refused; a close or a protocol error
    /// meanwhile is sent after the payload. If the payload can never be
    /// finished (a write failed or timed out halfway), the stream is
    /// broken: end the transport and call [`Core::handle_eof`].
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn encode_header(
        &mut self,
        part: MessagePart,
        payload_len: u64,
        header: &mut [u8],
    ) -> Result<FrameStart, SendError> {
        self.core
            .encode_data_header(part, payload_len, header, &mut self.keys, true)
    }
}

/// permessage-deflate (feature `deflate`): the agreement, and sends of
/// compressed payloads. A [`deflate::Deflater`] compresses; these frame
/// what it gives with RSV1 on the message's first frame. Received
/// compressed messages come as [`Data`] with
/// [`compressed`](Data::compressed) set, for a [`deflate::Inflater`].
#[cfg(feature = "deflate")]
impl<K: MaskKeys> Connection<K> {
    /// Turns permessage-deflate on with the parameters the handshake
    /// agreed ([`handshake::deflate`](crate::handshake::deflate)): RSV1 is
    /// then allowed on the first frame of a message, both ways. Without
    /// it, RSV1 is refused (1002) as RFC 6455 says.
    pub fn set_deflate(&mut self, params: crate::handshake::deflate::DeflateParams) {
        self.core.deflate = Some(params);
    }

    /// Writes a whole compressed message (`payload`, as a
    /// [`Deflater`](deflate::Deflater) gave it) into `out`, in frames of
    /// [`Config::max_send_frame_len`], RSV1 on the first. Refused with
    /// [`SendError::NoDeflate`] unless permessage-deflate was agreed.
    pub fn send_compressed(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.with_rsv1(out, |c, k, out| c.send_message(kind, payload, out, k))
    }

    /// [`send_fragment`](Self::send_fragment) for a compressed message:
    /// the fragment that opens it carries RSV1.
    pub fn send_compressed_fragment(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.with_rsv1(out, |c, k, out| {
            c.send_fragment_frame(kind, payload, fin, out, k)
        })
    }

    /// [`encode_in_place`](Self::encode_in_place) for a compressed
    /// payload: RSV1 if the frame opens its message.
    pub fn encode_in_place_compressed(
        &mut self,
        part: MessagePart,
        payload: &mut [u8],
        header: &mut [u8],
    ) -> Result<usize, SendError> {
        self.with_rsv1(header, |c, k, header| {
            let start = c.encode_data_header(part, payload.len() as u64, header, k, false)?;
            if let Some(key) = start.mask {
                apply_mask(payload, key, 0);
            }
            Ok(start.header_len)
        })
    }

    /// [`encode_header`](Self::encode_header) for a compressed payload:
    /// RSV1 if the frame opens its message.
    pub fn encode_header_compressed(
        &mut self,
        part: MessagePart,
        payload_len: u64,
        header: &mut [u8],
    ) -> Result<FrameStart, SendError> {
        self.with_rsv1(header, |c, k, header| {
            c.encode_data_header(part, payload_len, header, k, true)
        })
    }

    /// Runs a send `f` that writes its first frame's header at the start
    /// of `out`, and sets RSV1 there if that frame opens a message (none
    /// was open before it: RFC 7692 section 6.1), if permessage-deflate
    /// was agreed. Set here, after the header is written, so that the
    /// uncompressed sends have no RSV1 to look at (16-byte sends on
    /// hosts: 11 instructions fewer).
    fn with_rsv1<T>(
        &mut self,
        out: &mut [u8],
        f: impl FnOnce(&mut Core, &mut K, &mut [u8]) -> Result<T, SendError>,
    ) -> Result<T, SendError> {
        if self.core.deflate.is_none() {
            return Err(SendError::NoDeflate);
        }
        let opens = self.core.tx.is_ready();
        let r = f(&mut self.core, &mut self.keys, out)?;
        if opens {
            crate::wire::FrameHeader::add_rsv(out, crate::wire::Rsv::RSV1);
        }
        Ok(r)
    }
}

#[cfg(feature = "deflate")]
impl Core {
    /// The permessage-deflate parameters agreed, if any
    /// ([`Connection::set_deflate`]).
    pub fn deflate(&self) -> Option<crate::handshake::deflate::DeflateParams> {
        self.deflate
    }

    /// Fails the connection for an error found in a compressed message
    /// once inflated: latched, and its close queued, as the connection's
    /// own errors are.
    pub(crate) fn fail_inflated(&mut self, e: ProtocolError) -> ProtocolError {
        self.fail(e)
    }
}

impl<K: MaskKeys> Deref for Connection<K> {
    type Target = Core;

    #[inline(always)]
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl<K: MaskKeys> DerefMut for Connection<K> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}

#[cfg(test)]
mod tests;

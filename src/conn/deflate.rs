//! permessage-deflate's compression (RFC 7692 section 7.2), beside the
//! connection: the [`Inflater`] turns the compressed messages a
//! [`Connection`](super::Connection) hands out ([`Data::compressed`]) into
//! their bytes, chunk by chunk through a bounded ring, and the
//! [`Deflater`] (feature `alloc`) compresses messages to send with
//! [`Connection::send_compressed`](super::Connection::send_compressed).
//!
//! Both are miniz_oxide's (pure Rust, no_std). The inflater allocates
//! nothing: its window is a ring the caller gives, a power of two of 256
//! B to 32 KiB, which must hold the peer's LZ77 window (`2^bits` of the
//! agreed `*_max_window_bits`). The limits of [`Config`](super::Config)
//! apply to the inflated bytes: a message that inflates past
//! `max_message_len` (or a frame past `max_frame_len`) fails with 1009 as
//! soon as it crosses the limit, after at most one ring of output. Text
//! is checked as UTF-8 on the inflated bytes as they come (1007).
//!
//! # Memory per connection
//!
//! | part | bytes |
//! |---|---|
//! | [`Inflater`] state (Huffman tables, bit buffer) | 10,552 on x86_64 (`size_of::<Inflater<[u8; 0]>>()`) |
//! | its ring, the peer's window: `2^window_bits` | 256 (8 bits), 512 (9), 1 KiB (10), 2 KiB (11), 4 KiB (12), 8 KiB (13), 16 KiB (14), 32 KiB (15) |
//! | [`Deflater`] (heap, any window) | 319,326, then the last compressed message (its buffer is kept) |
//!
//! So a host connection with full windows both ways costs about 43 KiB
//! to receive and 312 KiB more once it sends; the figures are from a
//! counting allocator (`size_of` for the inflater).
//!
//! A device that only inflates (it sends uncompressed, which a
//! permessage-deflate endpoint may always do) with a client that asked
//! `server_max_window_bits=9` needs the state and a 512-byte ring: the
//! embedded adapters' `accept_deflate` and `connect_deflate` are lent
//! both.
//!
//! # Receiving
//!
//! ```
//! # #[cfg(all(feature = "server", feature = "client", feature = "alloc"))] {
//! use sansws::conn::deflate::{Deflater, Inflater};
//! use sansws::conn::{Config, Connection, Event, Instant};
//! use sansws::handshake::deflate::DeflateParams;
//! let params = DeflateParams::DEFAULT;
//! let mut server = Connection::server(Config::DEFAULT, Instant::ZERO);
//! server.set_deflate(params);
//! // A client's compressed text (its keys from a closure here; use the
//! // OS's or a hardware RNG's).
//! let mut client = Connection::client(Config::DEFAULT, || [1, 2, 3, 4], Instant::ZERO);
//! client.set_deflate(params);
//! let mut deflater = Deflater::new(params.client_max_window_bits, false);
//! let payload = deflater.compress(b"hello hello hello", true).clone();
//! let mut wire = [0u8; 64];
//! let n = client.send_compressed(sansws::conn::DataKind::Text, &payload, &mut wire)?;
//!
//! let mut ring = [0u8; 1 << 15];
//! let mut inflater = Inflater::new(&mut ring[..]);
//! let mut text = Vec::new();
//! let r = server.handle_read(&mut wire[..n])?;
//! let Some(Event::Data(d)) = r.event else { unreachable!() };
//! assert!(d.compressed);
//! let mut at = 0;
//! while let Some(chunk) = inflater.inflate(&mut server, &d, &d.payload[at..], &mut at)? {
//!     text.extend_from_slice(chunk.payload);
//! }
//! assert_eq!(text, b"hello hello hello");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_HAS_MORE_INPUT, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{DecompressorOxide, decompress_with_limit};

use super::{Core, Data, DataKind, ProtocolError};
use crate::wire::utf8::Utf8Validator;

/// The empty stored block a sync flush ends with: its sender takes it off
/// the end of a compressed message, its receiver puts it back (RFC 7692
/// sections 7.2.1 and 7.2.2).
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The smallest ring an [`Inflater`] takes: a window of 8 bits.
pub const MIN_RING: usize = 1 << 8;
/// The ring for the largest window (15 bits), which holds any peer's.
pub const MAX_RING: usize = 1 << 15;

/// Inflates the compressed messages of one connection, one chunk of
/// output at a time, into a ring of `B` (a `[u8; N]`, `&mut [u8]`,
/// `Box<[u8]>`...): no allocation. See the [module docs](self).
pub struct Inflater<B> {
    state: DecompressorOxide,
    ring: B,
    /// The part of the ring in use: the largest power of two it holds,
    /// at most [`MAX_RING`], as a mask.
    mask: usize,
    /// Where the next inflated byte goes in the ring.
    pos: usize,
    /// Bytes the peer's deflate stream has inflated to so far (counted
    /// up to the ring's size): distances may reach back this far.
    stream_len: usize,
    /// Bytes of [`TRAILER`] fed at the end of the message so far.
    trailer: u8,
    /// The peer's deflate stream ended (a block with BFINAL): nothing but
    /// the trailer may follow in the message, and the next message starts
    /// a new stream.
    ended: bool,
    /// A message is being inflated.
    msg_open: bool,
    /// A frame of it is being inflated (its end not yet handed out).
    frame_open: bool,
    /// A chunk of the message was handed out (the first is its start).
    msg_started: bool,
    /// The last call handed out the end of the frame: the next says the
    /// chunk is done.
    handed_end: bool,
    /// Inflated bytes of the message, and of the frame, so far.
    msg_len: usize,
    frame_len: usize,
    utf8: Utf8Validator,
}

impl<B: AsMut<[u8]>> Inflater<B> {
    /// An inflater whose window is the largest power of two `ring` holds
    /// (at most [`MAX_RING`]); [`window_bits`](Self::window_bits) says
    /// which. A ring under [`MIN_RING`] inflates nothing: every compressed
    /// message fails (the embedded adapters' `accept_deflate` and
    /// `connect_deflate` refuse it up front).
    pub fn new(mut ring: B) -> Self {
        let len = ring.as_mut().len().min(MAX_RING);
        let mask = if len < MIN_RING {
            0
        } else {
            (1usize << (usize::BITS - 1 - len.leading_zeros())) - 1
        };
        Self {
            state: DecompressorOxide::new(),
            ring,
            mask,
            pos: 0,
            stream_len: 0,
            trailer: 0,
            ended: false,
            msg_open: false,
            frame_open: false,
            msg_started: false,
            handed_end: false,
            msg_len: 0,
            frame_len: 0,
            utf8: Utf8Validator::new(),
        }
    }

    /// Makes it new for another connection (a reconnect, the next
    /// client): the window, the message in progress and the stream are
    /// forgotten; the ring is kept.
    pub fn reset(&mut self) {
        self.state.init();
        self.pos = 0;
        self.stream_len = 0;
        self.trailer = 0;
        self.ended = false;
        self.msg_open = false;
        self.frame_open = false;
        self.msg_started = false;
        self.handed_end = false;
        self.msg_len = 0;
        self.frame_len = 0;
        self.utf8 = Utf8Validator::new();
    }

    /// The window the ring holds, as `*_max_window_bits` (8 to 15; 0 if
    /// the ring is under [`MIN_RING`]): what to ask the peer to keep to.
    pub fn window_bits(&self) -> u8 {
        if self.mask == 0 {
            0
        } else {
            (usize::BITS - self.mask.leading_zeros()) as u8
        }
    }

    /// Inflates `input`, the rest of the compressed chunk `d` (a
    /// [`Data`] with `compressed` set, from `conn`), adding the bytes
    /// it takes to `consumed`. Returns the next chunk of inflated bytes,
    /// borrowed from the ring, or `None` once `input` is all taken and
    /// its output all handed out: call until `None`, with the input from
    /// `consumed` on, handling each chunk before the next call.
    ///
    /// The chunks are [`Data`] as the connection gives uncompressed
    /// messages (not `compressed`), their offsets in inflated bytes; a
    /// frame's inflated length is not known ahead, so `frame_len` counts
    /// what was inflated so far, and the last chunk of each frame, which
    /// [`is_frame_end`](Data::is_frame_end), may be empty. The limits,
    /// UTF-8 and the deflate data are checked here: an error fails
    /// `conn` (latched, its close queued) and is returned.
    pub fn inflate<'s>(
        &'s mut self,
        conn: &mut Core,
        d: &Data<'_>,
        input: &[u8],
        consumed: &mut usize,
    ) -> Result<Option<Data<'s>>, ProtocolError> {
        if self.handed_end {
            // The chunk's end was handed out by the last call.
            self.handed_end = false;
            return Ok(None);
        }
        let out = match self.step(conn.config(), d, input) {
            Ok(out) => out,
            Err(e) => {
                self.msg_open = false;
                self.frame_open = false;
                return Err(conn.fail_inflated(e));
            }
        };
        *consumed += out.taken;
        let Some((at, len)) = out.chunk else {
            return Ok(None);
        };
        let message_start = !self.msg_started;
        self.msg_started = true;
        self.handed_end = out.frame_end;
        Ok(Some(Data {
            kind: d.kind,
            payload: &self.ring.as_mut()[at..at + len],
            offset: self.frame_len - len,
            frame_len: self.frame_len,
            message_offset: self.msg_len - len,
            fin: d.fin,
            frame_end: out.frame_end,
            message_start,
            compressed: false,
        }))
    }

    /// The work of [`inflate`](Self::inflate), the limits from `config`.
    fn step(
        &mut self,
        config: &super::Config,
        d: &Data<'_>,
        input: &[u8],
    ) -> Result<Step, ProtocolError> {
        if !self.msg_open {
            self.msg_open = true;
            self.msg_started = false;
            self.msg_len = 0;
            self.trailer = 0;
            self.utf8.reset();
            if self.ended {
                // The peer's last message ended its stream: a new one.
                self.state.init();
                self.ended = false;
                // Its history starts empty.
                self.pos = 0;
                self.stream_len = 0;
            }
        }
        if !self.frame_open {
            self.frame_open = true;
            self.frame_len = 0;
        }
        let message_end = d.is_message_end();
        let mut taken = 0;
        loop {
            let real = taken < input.len();
            if !real && !message_end {
                // The chunk is all taken and its output handed out; at
                // its frame's end, the frame's last chunk.
                if d.is_frame_end() {
                    self.frame_open = false;
                    return Ok(Step::end(taken, self.pos));
                }
                return Ok(Step::none(taken));
            }
            if self.ended {
                if real {
                    // Data after the final block.
                    return Err(ProtocolError::Inflate);
                }
                return self.finish_message(d, taken);
            }
            // The input, then at the message's end the trailer, then
            // nothing, to drain what the trailer flushed.
            let fed = usize::from(self.trailer);
            let src: &[u8] = if real {
                &input[taken..]
            } else {
                TRAILER.get(fed..).unwrap_or_default()
            };
            if self.mask == 0 {
                return Err(ProtocolError::Inflate);
            }
            let room_msg = config.max_message_len.saturating_sub(self.msg_len);
            let room_frame = config.max_frame_len.saturating_sub(self.frame_len);
            // One byte past the limit, to see it crossed.
            let limit = room_msg.min(room_frame).saturating_add(1);
            let flags = self.flags();
            let ring = &mut self.ring.as_mut()[..=self.mask];
            let (status, n_in, n_out) =
                decompress_with_limit(&mut self.state, src, ring, self.pos, limit, flags);
            if real {
                taken += n_in;
            } else {
                self.trailer += n_in as u8;
            }
            match status {
                TINFLStatus::Done => self.ended = true,
                TINFLStatus::NeedsMoreInput | TINFLStatus::HasMoreOutput => {}
                _ => return Err(ProtocolError::Inflate),
            }
            if n_out > 0 {
                let at = self.pos;
                let mut n = n_out;
                // The chunk ends its frame if all of the frame is taken and
                // inflated (then its end needs no empty chunk of its own);
                // at the message's end, once the trailer is fed too, which
                // gives at most one byte more (it is an empty block, but
                // the data before it may not have been flushed whole).
                let mut end = false;
                let all_in = real && taken == input.len() && d.is_frame_end();
                if all_in && (status == TINFLStatus::NeedsMoreInput || self.ended) {
                    if !message_end || self.ended {
                        end = true;
                    } else if at + n <= self.mask {
                        let fed = usize::from(self.trailer);
                        let flags = self.flags();
                        let ring = &mut self.ring.as_mut()[..=self.mask];
                        let (status, n_in, more) = decompress_with_limit(
                            &mut self.state,
                            TRAILER.get(fed..).unwrap_or_default(),
                            ring,
                            at + n,
                            1,
                            flags,
                        );
                        self.trailer += n_in as u8;
                        n += more;
                        match status {
                            TINFLStatus::Done => {
                                self.ended = true;
                                end = true;
                            }
                            TINFLStatus::NeedsMoreInput => {
                                end = usize::from(self.trailer) == TRAILER.len();
                            }
                            TINFLStatus::HasMoreOutput => {}
                            _ => return Err(ProtocolError::Inflate),
                        }
                    }
                }
                if n > room_msg {
                    let len = (self.msg_len as u64).saturating_add(n as u64);
                    let limit = config.max_message_len as u64;
                    return Err(ProtocolError::MessageTooLarge { len, limit });
                }
                if n > room_frame {
                    let len = (self.frame_len as u64).saturating_add(n as u64);
                    let limit = config.max_frame_len as u64;
                    return Err(ProtocolError::FrameTooLarge { len, limit });
                }
                if d.kind == DataKind::Text {
                    let out = &self.ring.as_mut()[at..at + n];
                    if self.utf8.feed(out).is_err() {
                        return Err(ProtocolError::InvalidUtf8);
                    }
                }
                self.pos = (at + n) & self.mask;
                self.stream_len = self.stream_len.saturating_add(n);
                self.msg_len += n;
                self.frame_len += n;
                if end {
                    self.frame_open = false;
                    if message_end {
                        if d.kind == DataKind::Text && self.utf8.is_incomplete() {
                            return Err(ProtocolError::InvalidUtf8);
                        }
                        self.msg_open = false;
                    }
                }
                return Ok(Step {
                    taken,
                    chunk: Some((at, n)),
                    frame_end: end,
                });
            }
            if status == TINFLStatus::Done {
                continue;
            }
            if src.is_empty() {
                // Trailer fed and drained.
                return self.finish_message(d, taken);
            }
            if n_in == 0 {
                // No output and no input taken: it cannot go on.
                return Err(ProtocolError::Inflate);
            }
        }
    }

    /// miniz_oxide's flags: more input follows (the stream goes on past
    /// each message); and until the ring is full once, the ring as a
    /// plain buffer, so that a distance reaching before the stream's
    /// first byte fails (zlib's "invalid distance too far back") instead
    /// of reading the ring's zeros. Once full, every distance within the
    /// ring is the window's, and one past it fails either way.
    fn flags(&self) -> u32 {
        if self.stream_len <= self.mask {
            TINFL_FLAG_HAS_MORE_INPUT | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
        } else {
            TINFL_FLAG_HAS_MORE_INPUT
        }
    }

    /// The message is inflated whole: its text complete, its end (an
    /// empty chunk) handed out.
    fn finish_message(&mut self, d: &Data<'_>, taken: usize) -> Result<Step, ProtocolError> {
        if d.kind == DataKind::Text && self.utf8.is_incomplete() {
            return Err(ProtocolError::InvalidUtf8);
        }
        self.frame_open = false;
        self.msg_open = false;
        Ok(Step::end(taken, self.pos))
    }
}

/// What one step of inflation did: input taken, a chunk of the ring
/// made (start, length), whether it ends the frame.
struct Step {
    taken: usize,
    chunk: Option<(usize, usize)>,
    frame_end: bool,
}

impl Step {
    fn none(taken: usize) -> Self {
        Self {
            taken,
            chunk: None,
            frame_end: false,
        }
    }

    /// The frame's last chunk: empty, at `pos`.
    fn end(taken: usize, pos: usize) -> Self {
        Self {
            taken,
            chunk: Some((pos, 0)),
            frame_end: true,
        }
    }
}

impl<B> core::fmt::Debug for Inflater<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater")
            .field("ring", &(self.mask + 1))
            .field("msg_len", &self.msg_len)
            .finish_non_exhaustive()
    }
}

/// Compresses the messages one end sends (feature `alloc`): each is
/// deflated with a sync flush and its [`TRAILER`] taken off (RFC 7692
/// section 7.2.1), its context kept for the next message unless the
/// agreement says otherwise. The LZ77 window is kept to the agreed
/// `*_max_window_bits` (8 to 15): under 15, the input is compressed in
/// pieces of `2^bits` bytes, each ended by a full flush (which empties
/// the compressor's dictionary), so no match reaches further back than
/// the window. (miniz_oxide's own window setting only lowers its level:
/// its fast mode still matches up to 32 KiB back.)
#[cfg(feature = "alloc")]
pub struct Deflater {
    state: alloc::boxed::Box<miniz_oxide::deflate::core::CompressorOxide>,
    /// Input bytes per flush: the window, or all (15 bits).
    piece: usize,
    no_context_takeover: bool,
    out: alloc::vec::Vec<u8>,
}

#[cfg(feature = "alloc")]
impl Deflater {
    /// The default level, 1: fast, and on JSON about 3x (see
    /// `benches/deflate.rs`).
    pub const LEVEL: u8 = 1;

    /// A compressor for a window of `window_bits` (8 to 15), reset after
    /// each message if `no_context_takeover`.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Self::with_level(window_bits, no_context_takeover, Self::LEVEL)
    }

    /// [`new`](Self::new) at a compression level of 0 (stored) to 10.
    // Made once per connection, out of line: built in its box, the
    // compressor's 64 KiB of inline state never lands in a caller's stack
    // frame (a send path that inlined it probed that much stack on every
    // message, compressed or not).
    #[cold]
    #[inline(never)]
    pub fn with_level(window_bits: u8, no_context_takeover: bool, level: u8) -> Self {
        use miniz_oxide::DataFormat;
        use miniz_oxide::deflate::core::CompressorOxide;
        let mut state = alloc::boxed::Box::<CompressorOxide>::default();
        // Raw deflate, the default strategy, a 15-bit window (the match
        // limit is kept by the pieces below).
        state.set_format_and_level(DataFormat::Raw, level.min(10));
        let bits = window_bits.clamp(8, 15);
        Self {
            state,
            piece: if bits < 15 { 1 << bits } else { usize::MAX },
            no_context_takeover,
            out: alloc::vec::Vec::new(),
        }
    }

    /// The compressor for `role`'s side of `params`: its window and
    /// whether it keeps its context.
    pub fn for_role(params: &crate::handshake::deflate::DeflateParams, role: super::Role) -> Self {
        match role {
            super::Role::Client => Self::new(
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
            super::Role::Server => Self::new(
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
        }
    }

    /// Compresses `data`, a whole message, or with `fin` false a piece
    /// of one (each piece is flushed, so it can go in a fragment of its
    /// own); returns the payload to send
    /// ([`Connection::send_compressed`](super::Connection::send_compressed),
    /// RSV1 on the first frame), in a buffer of the deflater's, which the
    /// caller may take and [`give_back`](Self::give_back).
    pub fn compress(&mut self, data: &[u8], fin: bool) -> &mut alloc::vec::Vec<u8> {
        use miniz_oxide::deflate::core::{TDEFLFlush, TDEFLStatus, compress_to_output};
        self.out.clear();
        // A window under 15 bits: pieces of the window, each with its own
        // dictionary (a full flush empties it).
        let flush = if self.piece == usize::MAX {
            TDEFLFlush::Sync
        } else {
            TDEFLFlush::Full
        };
        let mut rest = data;
        loop {
            let (piece, tail) = rest.split_at(rest.len().min(self.piece));
            let out = &mut self.out;
            let (status, _) = compress_to_output(&mut self.state, piece, flush, |b| {
                out.extend_from_slice(b);
                true
            });
            debug_assert_eq!(status, TDEFLStatus::Okay);
            if tail.is_empty() {
                break;
            }
            rest = tail;
        }
        if fin {
            // A sync flush ends with the trailer, which the receiver puts
            // back.
            if self.out.ends_with(&TRAILER) {
                self.out.truncate(self.out.len() - TRAILER.len());
            }
            if self.no_context_takeover {
                self.state.reset();
            }
        }
        &mut self.out
    }

    /// Gives back a buffer [`compress`](Self::compress) filled and the
    /// caller took (`mem::take`), to be filled again without allocating.
    pub fn give_back(&mut self, buf: alloc::vec::Vec<u8>) {
        if buf.capacity() > self.out.capacity() {
            self.out = buf;
        }
    }
}

#[cfg(feature = "alloc")]
impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflater")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "std", feature = "server", feature = "client"))]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::conn::{Config, Connection, DataKind, Event, Instant, NoMasking, Role};
    use crate::handshake::deflate::DeflateParams;

    /// The messages of `wire` (client frames) read by a server with
    /// `params`, fed `step` bytes at a time, through an inflater of
    /// `ring` bytes: each message's kind and inflated bytes, and the
    /// error that ended it, if any.
    fn receive(
        params: DeflateParams,
        config: Config,
        wire: &[u8],
        step: usize,
        ring: usize,
    ) -> (Vec<(DataKind, Vec<u8>)>, Option<ProtocolError>) {
        let mut server = Connection::server(config, Instant::ZERO);
        server.set_deflate(params);
        let mut inflater = Inflater::new(vec![0u8; ring]);
        let mut wire = wire.to_vec();
        let mut messages = Vec::new();
        let mut current = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let end = (at + step).min(wire.len());
            let mut pos = at;
            while pos < end {
                let r = match server.handle_read(&mut wire[pos..end]) {
                    Ok(r) => r,
                    Err(e) => return (messages, Some(e)),
                };
                if let Some(Event::Data(d)) = r.event {
                    if d.compressed {
                        let mut used = 0;
                        loop {
                            match inflater.inflate(&mut server, &d, &d.payload[used..], &mut used) {
                                Ok(Some(c)) => {
                                    assert_eq!(c.message_offset, current.len());
                                    current.extend_from_slice(c.payload);
                                    if c.is_message_end() {
                                        messages.push((c.kind, std::mem::take(&mut current)));
                                    }
                                }
                                Ok(None) => break,
                                Err(e) => return (messages, Some(e)),
                            }
                        }
                        assert_eq!(used, d.payload.len());
                    } else {
                        current.extend_from_slice(d.payload);
                        if d.is_message_end() {
                            messages.push((d.kind, std::mem::take(&mut current)));
                        }
                    }
                }
                pos += r.consumed;
            }
            at = end;
        }
        (messages, None)
    }

    /// A client's frames for `messages`, compressed as `params` say
    /// (those with `compress` false sent plain), each message in frames
    /// of `frame` bytes.
    fn send(params: DeflateParams, messages: &[(DataKind, &[u8], bool)], frame: usize) -> Vec<u8> {
        let config = Config {
            max_send_frame_len: frame,
            ..Config::HOST
        };
        let mut client = Connection::client(config, NoMasking(()), Instant::ZERO);
        client.set_deflate(params);
        let mut deflater = Deflater::for_role(&params, Role::Client);
        let mut wire = Vec::new();
        for &(kind, data, compress) in messages {
            let mut out = vec![0u8; data.len() * 16 + 1024];
            let n = if compress {
                let payload = deflater.compress(data, true).to_vec();
                client.send_compressed(kind, &payload, &mut out).unwrap()
            } else {
                client
                    .send_message(kind, data, &mut out, &mut NoMasking(()))
                    .unwrap()
            };
            wire.extend_from_slice(&out[..n]);
        }
        wire
    }

    fn json(n: usize) -> Vec<u8> {
        let mut s = Vec::new();
        let mut i = 0u32;
        while s.len() < n {
            s.extend_from_slice(
                std::format!(
                    "{{\"id\":{i},\"temp\":{}.{},\"ok\":true}},",
                    20 + i % 7,
                    i % 10
                )
                .as_bytes(),
            );
            i = i.wrapping_mul(1103515245).wrapping_add(12345) % 1000;
        }
        s.truncate(n);
        s
    }

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn round_trips_at_every_window_and_split() {
        let text = json(3000);
        let bin = noise(700, 7);
        let msgs: [(DataKind, &[u8], bool); 5] = [
            (DataKind::Text, &text, true),
            (DataKind::Binary, &bin, true),
            (DataKind::Text, b"", true),
            (DataKind::Binary, b"plain", false),
            (DataKind::Text, &text[..1000], true),
        ];
        for bits in 8..=15u8 {
            for takeover in [false, true] {
                let params = DeflateParams {
                    client_max_window_bits: bits,
                    client_no_context_takeover: takeover,
                    ..DeflateParams::DEFAULT
                };
                for frame in [usize::MAX, 100, 1] {
                    let wire = send(params, &msgs, frame);
                    let ring = 1usize << bits;
                    let steps: &[usize] = if frame == usize::MAX {
                        &[1, 2, 3, 7, 64, 100_000]
                    } else {
                        &[1, 1000]
                    };
                    for &step in steps {
                        let (got, err) = receive(params, Config::HOST, &wire, step, ring);
                        assert_eq!(
                            err, None,
                            "bits {bits} takeover {takeover} frame {frame} step {step}"
                        );
                        let want: Vec<_> = msgs.iter().map(|(k, d, _)| (*k, d.to_vec())).collect();
                        assert_eq!(
                            got, want,
                            "bits {bits} takeover {takeover} frame {frame} step {step}"
                        );
                    }
                }
            }
        }
    }

    /// Every compressed send sets RSV1 on the frame that opens a message
    /// and on no other (RFC 7692 section 6.1), masked or not, and is
    /// refused unless deflate was agreed; what it sends inflates back.
    #[test]
    fn every_compressed_send_marks_the_first_frame_alone() {
        use crate::conn::{MessagePart, SendError};
        let params = DeflateParams::DEFAULT;
        let text = json(500);
        let mut z = Deflater::for_role(&params, Role::Client);
        let a = z.compress(&text[..200], false).to_vec();
        let b = z.compress(&text[200..], true).to_vec();
        let part = |fin| MessagePart::Fragment {
            kind: DataKind::Text,
            fin,
        };
        for api in 0..3 {
            let mut client = Connection::client(Config::HOST, NoMasking(()), Instant::ZERO);
            let mut out = vec![0u8; 4096];
            assert_eq!(
                client.send_compressed_fragment(DataKind::Text, &a, false, &mut out),
                Err(SendError::NoDeflate)
            );
            client.set_deflate(params);
            let mut wire = Vec::new();
            for (chunk, fin) in [(&a, false), (&b, true)] {
                let mut hdr = [0u8; 14];
                let mut payload = chunk.clone();
                match api {
                    0 => {
                        let n = client
                            .send_compressed_fragment(DataKind::Text, chunk, fin, &mut out)
                            .unwrap();
                        wire.extend_from_slice(&out[..n]);
                    }
                    1 => {
                        let n = client
                            .encode_in_place_compressed(part(fin), &mut payload, &mut hdr)
                            .unwrap();
                        wire.extend_from_slice(&hdr[..n]);
                        wire.extend_from_slice(&payload);
                    }
                    _ => {
                        let start = client
                            .encode_header_compressed(part(fin), chunk.len() as u64, &mut hdr)
                            .unwrap();
                        client.mask_payload(&mut payload).unwrap();
                        wire.extend_from_slice(&hdr[..start.header_len]);
                        wire.extend_from_slice(&payload);
                    }
                }
            }
            let second = 6 + a.len() + if a.len() > 125 { 2 } else { 0 };
            assert_eq!(wire[0], 0x40 | 0x01, "api {api}: RSV1 on the opening frame");
            assert_eq!(wire[second], 0x80, "api {api}: none on the continuation");
            // An uncompressed message after it carries none.
            let n = client
                .send_message(DataKind::Binary, b"plain", &mut out, &mut NoMasking(()))
                .unwrap();
            assert_eq!(out[0], 0x82, "api {api}");
            wire.extend_from_slice(&out[..n]);
            let (got, err) = receive(params, Config::HOST, &wire, usize::MAX, 1 << 15);
            assert_eq!(err, None, "api {api}");
            assert_eq!(
                got,
                vec![
                    (DataKind::Text, text.clone()),
                    (DataKind::Binary, b"plain".to_vec())
                ],
                "api {api}"
            );
        }
    }

    /// A ping between the fragments of a compressed message: the
    /// continuation after it is still inflated (the receiver stays in its
    /// compressed-message state across the control frame), at every split.
    #[test]
    fn a_ping_between_compressed_fragments_keeps_the_message_compressed() {
        let params = DeflateParams::DEFAULT;
        let text = json(300);
        let mut z = Deflater::for_role(&params, Role::Client);
        let a = z.compress(&text[..100], false).to_vec();
        let b = z.compress(&text[100..], true).to_vec();
        let mut client = Connection::client(Config::HOST, NoMasking(()), Instant::ZERO);
        client.set_deflate(params);
        let mut out = vec![0u8; 4096];
        let mut wire = Vec::new();
        let n = client
            .send_compressed_fragment(DataKind::Text, &a, false, &mut out)
            .unwrap();
        wire.extend_from_slice(&out[..n]);
        // A masked, empty ping (key 0).
        wire.extend_from_slice(&[0x89, 0x80, 0, 0, 0, 0]);
        let n = client
            .send_compressed_fragment(DataKind::Text, &b, true, &mut out)
            .unwrap();
        wire.extend_from_slice(&out[..n]);
        for step in [1, 2, 5, 6, 7, 13, usize::MAX] {
            let (got, err) = receive(params, Config::HOST, &wire, step, 1 << 15);
            assert_eq!(err, None, "step {step}");
            assert_eq!(got, vec![(DataKind::Text, text.clone())], "step {step}");
        }
    }

    #[test]
    fn a_small_ring_refuses_a_wider_window() {
        // Compressed with a 32 KiB window: a match reaches 20 000 back.
        let mut data = noise(20_000, 3);
        data.extend_from_within(..1000);
        let wire = send(
            DeflateParams::DEFAULT,
            &[(DataKind::Binary, &data, true)],
            usize::MAX,
        );
        let (_, err) = receive(DeflateParams::DEFAULT, Config::HOST, &wire, 4096, 512);
        assert_eq!(err, Some(ProtocolError::Inflate));
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        // 1 MiB of zeros compresses to about a kilobyte; the limit is 64 KiB.
        let zeros = vec![0u8; 1 << 20];
        let payload = Deflater::with_level(15, false, 10)
            .compress(&zeros, true)
            .to_vec();
        assert!(payload.len() < 2048, "{}", payload.len());
        let mut client = Connection::client(Config::HOST, NoMasking(()), Instant::ZERO);
        client.set_deflate(DeflateParams::DEFAULT);
        let mut wire = vec![0u8; 4096];
        let n = client
            .send_compressed(DataKind::Binary, &payload, &mut wire)
            .unwrap();
        wire.truncate(n);
        let config = Config {
            max_message_len: 64 << 10,
            ..Config::HOST
        };
        let (got, err) = receive(DeflateParams::DEFAULT, config, &wire, 1 << 16, 1 << 15);
        assert!(got.is_empty());
        let Some(ProtocolError::MessageTooLarge { len, limit }) = err else {
            panic!("{err:?}")
        };
        assert_eq!(limit, 64 << 10);
        // Crossed by at most one byte: never inflated past the limit.
        assert_eq!(len, (64 << 10) + 1);
    }

    #[test]
    fn inflated_text_is_checked_as_utf8() {
        let mut bad = "héllo".as_bytes().to_vec();
        bad[2] = 0xff;
        let wire = send(
            DeflateParams::DEFAULT,
            &[(DataKind::Text, &bad, true)],
            usize::MAX,
        );
        let (_, err) = receive(DeflateParams::DEFAULT, Config::HOST, &wire, 1, 1 << 15);
        assert_eq!(err, Some(ProtocolError::InvalidUtf8));
        // Cut inside a code point at the end.
        let cut = &"é".as_bytes()[..1];
        let wire = send(
            DeflateParams::DEFAULT,
            &[(DataKind::Text, cut, true)],
            usize::MAX,
        );
        let (_, err) = receive(DeflateParams::DEFAULT, Config::HOST, &wire, 3, 1 << 15);
        assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn rsv1_where_it_may_not_be() {
        let params = DeflateParams::DEFAULT;
        // Masked (key 0) frames: RSV1 on a ping, on a continuation, and
        // on any frame without the extension.
        let ping = [0xc9u8, 0x80, 0, 0, 0, 0];
        let (_, err) = receive(params, Config::HOST, &ping, 100, 1 << 15);
        assert!(matches!(err, Some(ProtocolError::Frame(_))), "{err:?}");
        let cont = [0x42u8, 0x81, 0, 0, 0, 0, 0x00, 0xc0, 0x81, 0, 0, 0, 0, 0x00];
        let (_, err) = receive(params, Config::HOST, &cont, 100, 1 << 15);
        assert!(matches!(err, Some(ProtocolError::Frame(_))), "{err:?}");
        let mut server = Connection::server(Config::HOST, Instant::ZERO);
        let mut frame = [0xc2u8, 0x81, 0, 0, 0, 0, 0x00];
        assert!(server.handle_read(&mut frame).is_err());
    }

    /// A fixed-Huffman block by hand: `a`, then a match of 3 bytes 5
    /// back (before the stream's first byte), then the end of the block.
    fn too_far_back() -> Vec<u8> {
        let mut bits: Vec<bool> = Vec::new();
        let mut put = |v: u32, n: u32, msb_first: bool| {
            for i in 0..n {
                let bit = if msb_first { n - 1 - i } else { i };
                bits.push(v >> bit & 1 == 1);
            }
        };
        put(0, 1, false); // BFINAL 0
        put(1, 2, false); // BTYPE 01: fixed codes
        put(0x30 + u32::from(b'a'), 8, true); // literal 'a'
        put(1, 7, true); // length code 257: 3 bytes
        put(4, 5, true); // distance code 4: 5 or 6
        put(0, 1, false); // its extra bit: 5
        put(0, 7, true); // end of block
        bits.chunks(8)
            .map(|b| {
                b.iter()
                    .enumerate()
                    .fold(0u8, |a, (i, &x)| a | (u8::from(x) << i))
            })
            .collect()
    }

    #[test]
    fn a_distance_before_the_stream_start_fails() {
        let payload = too_far_back();
        let mut wire = vec![0xc2u8, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        wire.extend_from_slice(&payload);
        for step in [1, 100] {
            let (_, err) = receive(DeflateParams::DEFAULT, Config::HOST, &wire, step, 1 << 15);
            assert_eq!(err, Some(ProtocolError::Inflate), "step {step}");
        }
        // The same match after 5 bytes of history is fine: `aaaaa` first.
        let mut client = Connection::client(Config::HOST, NoMasking(()), Instant::ZERO);
        client.set_deflate(DeflateParams::DEFAULT);
        let mut deflater = Deflater::new(15, false);
        let first = deflater.compress(b"aaaaa", true).clone();
        let mut out = vec![0u8; 64];
        let n = client
            .send_compressed(DataKind::Binary, &first, &mut out)
            .unwrap();
        let mut wire2 = out[..n].to_vec();
        wire2.extend_from_slice(&wire);
        let (got, err) = receive(DeflateParams::DEFAULT, Config::HOST, &wire2, 3, 1 << 15);
        assert_eq!(err, None);
        assert_eq!(got[1].1, b"aaaa");
    }

    #[test]
    fn garbage_fails_with_1007() {
        // A block type 3 (reserved).
        let wire = [0xc2u8, 0x81, 0, 0, 0, 0, 0x07];
        let (_, err) = receive(DeflateParams::DEFAULT, Config::HOST, &wire, 100, 1 << 15);
        assert_eq!(err, Some(ProtocolError::Inflate));
        assert_eq!(
            err.unwrap().close_code(),
            crate::wire::CloseCode::INVALID_PAYLOAD
        );
    }

    #[test]
    fn a_final_block_ends_the_stream_and_the_next_message_starts_another() {
        // Two messages, each a whole raw deflate stream (BFINAL set), as
        // RFC 7692 section 7.2.3.3 allows.
        use miniz_oxide::deflate::compress_to_vec;
        let a = compress_to_vec(b"first message", 6);
        let b = compress_to_vec(b"second message", 6);
        let mut wire = Vec::new();
        for p in [&a, &b] {
            wire.extend_from_slice(&[0xc1, 0x80 | p.len() as u8, 0, 0, 0, 0]);
            wire.extend_from_slice(p);
        }
        let (got, err) = receive(DeflateParams::DEFAULT, Config::HOST, &wire, 5, 1 << 15);
        assert_eq!(err, None);
        assert_eq!(got[0].1, b"first message");
        assert_eq!(got[1].1, b"second message");
    }
}

#[cfg(all(test, feature = "std", feature = "server", feature = "client"))]
mod chunking {
    use std::vec;

    use super::*;
    use crate::conn::{Config, Connection, Event, Instant, NoMasking};
    use crate::handshake::deflate::DeflateParams;

    /// A message in one frame, read at once, inflates to one chunk that
    /// ends it: no empty chunk after it (what a user of the events sees).
    #[test]
    fn a_whole_message_read_at_once_is_one_chunk() {
        for text in [
            "hello",
            "a longer message, a longer message, a longer message",
        ] {
            let mut client = Connection::client(Config::HOST, NoMasking(()), Instant::ZERO);
            client.set_deflate(DeflateParams::DEFAULT);
            let payload = Deflater::new(15, false)
                .compress(text.as_bytes(), true)
                .clone();
            let mut wire = vec![0u8; 256];
            let n = client
                .send_compressed(DataKind::Text, &payload, &mut wire)
                .unwrap();
            let mut server = Connection::server(Config::HOST, Instant::ZERO);
            server.set_deflate(DeflateParams::DEFAULT);
            let r = server.handle_read(&mut wire[..n]).unwrap();
            let Some(Event::Data(d)) = r.event else {
                panic!()
            };
            let mut inflater = Inflater::new(vec![0u8; 1 << 15]);
            let mut used = 0;
            let chunk = inflater
                .inflate(&mut server, &d, d.payload, &mut used)
                .unwrap()
                .unwrap();
            assert_eq!(chunk.payload, text.as_bytes());
            assert!(chunk.is_message_start() && chunk.is_message_end());
            assert_eq!(
                (chunk.offset, chunk.frame_len, chunk.message_offset),
                (0, text.len(), 0)
            );
            let rest = &d.payload[used..];
            assert!(
                inflater
                    .inflate(&mut server, &d, rest, &mut used)
                    .unwrap()
                    .is_none()
            );
            assert_eq!(used, d.payload.len());
        }
    }
}

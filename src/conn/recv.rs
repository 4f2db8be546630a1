//! The receive path: bytes from the transport in, at most one event out per
//! call. Frame headers come from `wire`; the rules that need the
//! connection's state live here, one function each:
//! [`Core::check_masking`] (RFC 6455 section 5.1),
//! [`Receiver::message_kind`] (fragmentation, section 5.4),
//! [`Core::check_limits`] (the configured sizes, answered with 1009) and
//! UTF-8 of text messages (section 8.1, answered with 1007).

use crate::Status;
use crate::wire::{
    CloseFrame, ControlPayload, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, apply_mask,
};

use super::{Config, Core, Data, DataKind, Event, ProtocolError, Received};
use crate::wire::utf8::Utf8Validator;

/// Where the receive side is in the byte stream.
#[derive(Debug, Clone, Copy)]
// 32-bit targets: a tag byte of its own, so that telling the states
// apart is one load and compare, not a niche decoded from a field (smaller
// code there; hosts keep the compiler's layout, measured no faster).
#[cfg_attr(not(target_pointer_width = "64"), repr(u8))]
enum Rx {
    /// Between frames: no byte of the next header yet.
    Idle,
    /// Reading a header; `len` bytes of it are in `hdr`. With `len` 0:
    /// between the frames of a compressed message (permessage-deflate),
    /// as `Idle` but for `handle_read`'s inline path, which takes only
    /// `Idle` and so has no compressed flag to look at.
    Header { len: u8 },
    /// Delivering a data frame's payload.
    Data(DataRx),
    /// Collecting a control frame's payload into `ctrl`.
    Control(ControlRx),
    /// After the peer's close, a failure or the end of the transport:
    /// input is swallowed.
    Discard,
}

/// A data frame being received.
#[derive(Debug, Clone, Copy)]
struct DataRx {
    kind: DataKind,
    fin: bool,
    /// The masking key as a word (read and written whole, where its
    /// bytes would be four loads and stores on a 32-bit core); 0 for an
    /// unmasked frame, and for a masked one whose key leaves the payload
    /// as it is.
    key: u32,
    len: usize,
    /// Payload bytes delivered so far.
    offset: usize,
    /// Where the frame starts in its message.
    msg_base: usize,
    /// Whether the frame continues a message (a continuation frame).
    continues: bool,
    /// The message is compressed (RSV1 on its first frame).
    #[cfg(feature = "deflate")]
    compressed: bool,
}

/// A frame whose header was just read: its state for the payload. (With
/// a `u8` tag as `Rx` has, riscv32 decodes a 16 B frame in 278.1
/// instructions instead of 281.1 but core_only is 30 B larger: the
/// compiler's layout packs the data frame's flags into one register.)
enum Started {
    Data(DataRx),
    Control(ControlRx),
}

/// A control frame being received.
#[derive(Debug, Clone, Copy)]
struct ControlRx {
    opcode: OpCode,
    /// The masking key as a word, as in [`DataRx`].
    key: u32,
    len: u8,
    got: u8,
}

/// A frame's masking key as a word, 0 if it has none (masking with 0
/// changes nothing, so either way there is nothing to undo).
#[inline(always)]
fn mask_word(h: &FrameHeader) -> u32 {
    h.mask.map_or(0, u32::from_ne_bytes)
}

impl ControlRx {
    fn new(h: &FrameHeader) -> Self {
        Self {
            opcode: h.opcode,
            key: mask_word(h),
            // Parsing guarantees at most 125.
            len: h.payload_len as u8,
            got: 0,
        }
    }
}

/// The receive side's state.
#[derive(Debug, Clone)]
// 32-bit targets: in this order (`repr(C)`), the zeroed buffers last, so
// that with `Closing`'s after them (see `Core`) one memset clears all
// three. Hosts keep the compiler's layout.
#[cfg_attr(not(target_pointer_width = "64"), repr(C))]
pub(super) struct Receiver {
    state: Rx,
    /// Payload bytes of that message so far.
    msg_len: usize,
    /// The longest first frame of a message both limits allow (the
    /// configuration never changes, so neither does this).
    first_frame_limit: usize,
    utf8: Utf8Validator,
    /// Type of the message being received, if one is open (from its first
    /// chunk to the end of its last frame).
    msg: Option<DataKind>,
    /// A header cut by the end of the input.
    hdr: [u8; FrameHeader::MAX_LEN],
    /// A control frame's payload cut by the end of the input.
    ctrl: ControlPayload,
    /// The open message is compressed.
    #[cfg(feature = "deflate")]
    msg_compressed: bool,
}

impl Receiver {
    pub(super) const fn new(config: &Config) -> Self {
        let (frame, message) = (config.max_frame_len, config.max_message_len);
        Self {
            first_frame_limit: if frame < message { frame } else { message },
            state: Rx::Idle,
            hdr: [0; FrameHeader::MAX_LEN],
            ctrl: ControlPayload::EMPTY,
            msg: None,
            msg_len: 0,
            utf8: Utf8Validator::new(),
            #[cfg(feature = "deflate")]
            msg_compressed: false,
        }
    }

    /// The payload of the last control frame received.
    pub(super) fn last_control(&self) -> &[u8] {
        self.ctrl.as_slice()
    }

    /// The state between frames: `Idle`, or `Header` with no byte inside
    /// a compressed message.
    #[inline(always)]
    fn between(&self) -> Rx {
        #[cfg(feature = "deflate")]
        if self.msg.is_some() && self.msg_compressed {
            return Rx::Header { len: 0 };
        }
        Rx::Idle
    }

    /// From now on input is swallowed.
    pub(super) fn discard(&mut self) {
        self.state = Rx::Discard;
        self.msg = None;
    }

    /// RFC 6455 section 5.4: the type of the message a data frame with
    /// `opcode` belongs to, and whether the frame continues it. A
    /// continuation needs an open message; a text or binary frame starts one
    /// and needs none open.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn message_kind(&self, opcode: OpCode) -> Result<(DataKind, bool), ProtocolError> {
        match (opcode, self.msg) {
            (OpCode::Text, None) => Ok((DataKind::Text, false)),
            (OpCode::Binary, None) => Ok((DataKind::Binary, false)),
            (OpCode::Continuation, Some(k)) => Ok((k, true)),
            (OpCode::Continuation, None) => Err(ProtocolError::UnexpectedContinuation),
            _ => Err(ProtocolError::ExpectedContinuation),
        }
    }
}

impl<'a> Received<'a> {
    #[cfg(target_pointer_width = "64")]
    #[inline(always)]
    fn into_parts(self) -> (usize, Option<Event<'a>>) {
        (self.consumed, self.event)
    }
}

/// `(consumed, event)` as a [`Received`].
#[inline(always)]
fn received(consumed: usize, event: Option<Event<'_>>) -> Received<'_> {
    Received { consumed, event }
}

impl Core {
    /// Feeds bytes read from the transport. Payload is unmasked in place.
    ///
    /// Returns how many bytes were consumed and at most one event; call
    /// again with the rest (`&mut input[consumed..]`) until all is
    /// consumed. Any split of the byte stream gives the same events, as
    /// data chunks cut at other places. The event borrows only `input`.
    ///
    /// A protocol violation queues a close frame with the error's code and
    /// is returned now and by every later call (the error latches). After
    /// the peer's close, input is consumed and ignored.
    // A frame that starts at the start of the input (nearly every frame)
    // is decoded inline: header, rules and payload in one pass. Inline on
    // 64-bit targets, where a call costs a third of a 16-byte frame.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn handle_read<'a>(&mut self, input: &'a mut [u8]) -> Result<Received<'a>, ProtocolError> {
        // 64-bit targets: the commonest frame inline, a data frame with a
        // short header and its whole payload in the input, through the same
        // steps as any other; anything else out of line. (One exit with an
        // event, so the compiler keeps the event in registers.)
        #[cfg(target_pointer_width = "64")]
        if let Rx::Idle = self.rx.state
            && let Some((h, n)) = FrameHeader::parse_short(input)
            && h.opcode.is_data()
            && let end = n + h.payload_len as usize
            && end <= input.len()
        {
            return self.read_whole_data(&mut input[n..end], h, n);
        }
        // Through a value of its own, so that the frame above, inlined
        // into the caller, keeps its event in registers (a call's result
        // slot would take it to memory).
        #[cfg(target_pointer_width = "64")]
        {
            let (consumed, event) = self.handle_read_any(input)?.into_parts();
            Ok(Received { consumed, event })
        }
        #[cfg(not(target_pointer_width = "64"))]
        self.handle_read_any(input)
    }

    /// [`Self::handle_read`] in every state: a frame's start, a header or a
    /// control payload cut by the end of a previous input, the rest of a
    /// data frame, or input after the end.
    #[cfg_attr(target_pointer_width = "64", inline(never))]
    fn handle_read_any<'a>(&mut self, input: &'a mut [u8]) -> Result<Received<'a>, ProtocolError> {
        if let Some(e) = self.closing.failure() {
            return Err(e);
        }
        // The frame under way and where its payload starts in the input:
        // the one just started (its payload, or the first part of it, in
        // the same call) or one from an earlier input. A data frame's
        // fields are held in registers until the payload is taken, which
        // stores the state once (through a whole `Rx` they went through
        // the stack: 16 B masked frame on riscv32, 291.1 -> 278.1
        // instructions).
        let (pos, d) = match self.rx.state {
            Rx::Discard => return Ok(received(input.len(), None)),
            Rx::Idle | Rx::Header { .. } => {
                let (pos, h) = match self.read_header(input) {
                    Ok(Some(started)) => started,
                    Ok(None) => return Ok(received(input.len(), None)),
                    Err(e) => return Err(self.fail(e)),
                };
                match self.start_frame(&h) {
                    Ok(Started::Data(d)) => (pos, d),
                    Ok(Started::Control(c)) => return self.read_control(input, pos, c),
                    Err(e) => return Err(self.fail(e)),
                }
            }
            Rx::Data(d) => (0, d),
            Rx::Control(c) => return self.read_control(input, 0, c),
        };
        self.read_data(input, pos, d)
    }

    /// Collects header bytes into `hdr`; `Some((n, header))` once the
    /// header is complete with the first `n` bytes of `input`, `None` when
    /// all of `input` went into it.
    fn read_header(&mut self, input: &[u8]) -> Result<Option<(usize, FrameHeader)>, ProtocolError> {
        #[allow(unused_mut)]
        let mut opts = self.config.parse_options();
        // RFC 7692 section 6: permessage-deflate gives RSV1 a meaning;
        // where it may be set is `start_frame`'s rule.
        #[cfg(feature = "deflate")]
        if self.deflate.is_some() {
            opts.allowed_rsv = crate::wire::Rsv::RSV1;
        }
        let mut have = match self.rx.state {
            Rx::Header { len } => usize::from(len),
            _ => 0,
        };
        let mut used = 0;
        loop {
            // A header not begun is parsed where it lies in the input; one
            // begun, where it is collected.
            let in_place = have == 0;
            let buf = if in_place {
                input
            } else {
                &self.rx.hdr[..have]
            };
            match FrameHeader::parse(buf, &opts)? {
                Status::Complete((h, n)) => {
                    return Ok(Some((if in_place { n } else { used }, h)));
                }
                Status::Partial { needed } => {
                    // All of an input that ends inside a header is header.
                    let want = if in_place { input.len() } else { needed };
                    let (_, src) = input.split_at(used.min(input.len()));
                    let take = want.min(src.len());
                    // Cut with `split_at`: range indexing is out-of-line
                    // range checks at opt z.
                    let (_, room) = self.rx.hdr.split_at_mut(have.min(FrameHeader::MAX_LEN));
                    let Some((dst, _)) = room.split_at_mut_checked(take).filter(|_| take > 0)
                    else {
                        self.rx.state = match have {
                            0 => self.rx.between(),
                            len => Rx::Header { len: len as u8 },
                        };
                        return Ok(None);
                    };
                    dst.copy_from_slice(src.split_at(take).0);
                    have += take;
                    used += take;
                }
            }
        }
    }

    /// RFC 6455 section 5.1: a server accepts only masked frames, a client
    /// only unmasked ones.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn check_masking(&self, h: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.is_client(), h.mask.is_some()) {
            (false, false) => Err(ProtocolError::Unmasked),
            (true, true) => Err(ProtocolError::Masked),
            _ => Ok(()),
        }
    }

    /// The configured limits, checked on the header before any payload
    /// is taken: the frame's length `len` as the header announces it, and
    /// the message's with it. Returns the length as a `usize`: a length
    /// that does not fit one is over any limit (the limits are `usize`s),
    /// so it is refused as a frame too large on every target alike.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn check_limits(&self, len: u64, message_so_far: usize) -> Result<usize, ProtocolError> {
        let Ok(len) = usize::try_from(len) else {
            return Err(self.frame_too_large(len));
        };
        if message_so_far == 0 && len <= self.rx.first_frame_limit {
            return Ok(len);
        }
        if len > self.config.max_frame_len {
            return Err(self.frame_too_large(len as u64));
        }
        let limit = self.config.max_message_len;
        if len > limit.saturating_sub(message_so_far) {
            // Widened before adding: the sum may not fit a 32-bit usize.
            let len = (message_so_far as u64).saturating_add(len as u64);
            let limit = limit as u64;
            return Err(ProtocolError::MessageTooLarge { len, limit });
        }
        Ok(len)
    }

    /// A data frame of `len` bytes is over [`Config::max_frame_len`].
    #[cold]
    fn frame_too_large(&self, len: u64) -> ProtocolError {
        let limit = self.config.max_frame_len as u64;
        ProtocolError::FrameTooLarge { len, limit }
    }

    /// Applies the rules that need the connection's state to a new header;
    /// returns the frame's state for its payload.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn start_frame(&mut self, h: &FrameHeader) -> Result<Started, ProtocolError> {
        self.check_masking(h)?;
        // RFC 7692 section 6.1: RSV1 marks a compressed message on its
        // first frame only; on a control frame or a continuation it is an
        // error, as without the extension.
        #[cfg(feature = "deflate")]
        if h.rsv.contains(crate::wire::Rsv::RSV1)
            && (h.opcode.is_control() || h.opcode == OpCode::Continuation)
        {
            return Err(crate::wire::FrameError::ReservedBits(crate::wire::Rsv::RSV1).into());
        }
        if h.opcode.is_control() {
            return Ok(Started::Control(ControlRx::new(h)));
        }
        Ok(Started::Data(self.start_data_frame(h)?))
    }

    /// The rules for a data frame's header (fragmentation, limits); opens
    /// its message if it starts one and returns the message's type.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn start_data_frame(&mut self, h: &FrameHeader) -> Result<DataRx, ProtocolError> {
        let (kind, continues) = self.rx.message_kind(h.opcode)?;
        let msg_base = if continues { self.rx.msg_len } else { 0 };
        let len = self.check_limits(h.payload_len, msg_base)?;
        Ok(DataRx {
            kind,
            fin: h.fin,
            key: mask_word(h),
            len,
            offset: 0,
            msg_base,
            continues,
            #[cfg(feature = "deflate")]
            // RSV1 on a message's first frame, which the message keeps.
            compressed: if continues {
                self.rx.msg_compressed
            } else {
                h.rsv.contains(crate::wire::Rsv::RSV1)
            },
        })
    }

    /// The next chunk of a data frame's payload, as much as `input[pos..]`
    /// holds.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn read_data<'a>(
        &mut self,
        input: &'a mut [u8],
        pos: usize,
        d: DataRx,
    ) -> Result<Received<'a>, ProtocolError> {
        let avail = input.len() - pos;
        let left = d.len - d.offset;
        if left > 0 && avail == 0 {
            self.rx.state = Rx::Data(d);
            return Ok(received(pos, None));
        }
        let take = left.min(avail);
        // Cut with `split_at_mut` (range indexing is an out-of-line range
        // check at opt z); `pos + take <= input.len()` as `avail` says.
        let chunk = input.split_at_mut(pos).1.split_at_mut(take).0;
        let frame_end = take == left;
        self.deliver(chunk, d, frame_end, pos + take)
    }

    /// A data frame whose whole payload follows its `n`-byte header in the
    /// input: delivered at once.
    #[cfg(target_pointer_width = "64")]
    #[inline(always)]
    fn read_whole_data<'a>(
        &mut self,
        payload: &'a mut [u8],
        h: FrameHeader,
        n: usize,
    ) -> Result<Received<'a>, ProtocolError> {
        if let Err(e) = self.check_masking(&h) {
            return Err(self.fail(e));
        }
        let d = self.start_data_frame(&h).map_err(|e| self.fail(e))?;
        // Not compressed: `parse_short` gives no RSV1, so a frame that
        // opens a message is not, and a continuation comes this way only
        // in the `Idle` state, never inside a compressed message.
        #[cfg(feature = "deflate")]
        let d = DataRx {
            compressed: false,
            ..d
        };
        let consumed = n + payload.len();
        self.deliver(payload, d, true, consumed)
    }

    /// The one place a chunk of data is taken: `chunk` is the payload of
    /// `d` from `d.offset` on, to the frame's end if `frame_end`, and the
    /// input up to its end is `consumed`. Unmasked in place, UTF-8 checked
    /// for text, counted into its message.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn deliver<'a>(
        &mut self,
        chunk: &'a mut [u8],
        d: DataRx,
        frame_end: bool,
        consumed: usize,
    ) -> Result<Received<'a>, ProtocolError> {
        if d.key != 0 {
            apply_mask(chunk, d.key.to_ne_bytes(), d.offset & 3);
        }
        let message_offset = d.msg_base + d.offset;
        // A compressed message's text is checked once inflated (by the
        // `Inflater`), not here.
        #[cfg(feature = "deflate")]
        let check_text = d.kind == DataKind::Text && !d.compressed;
        #[cfg(not(feature = "deflate"))]
        let check_text = d.kind == DataKind::Text;
        if check_text {
            if message_offset == 0 {
                // A text message starts (again, after an empty chunk).
                self.rx.utf8.reset();
            }
            // The error built here, in the result: through a
            // `Result<(), ProtocolError>` it was built on the stack, tested
            // and copied again.
            if !self.utf8_ok(chunk, d.fin && frame_end) {
                return Err(self.fail(ProtocolError::InvalidUtf8));
            }
        }
        // The message stays open until the end of its last frame; once
        // closed, its length is not needed.
        if frame_end && d.fin {
            self.rx.msg = None;
        } else {
            self.rx.msg = Some(d.kind);
            #[cfg(feature = "deflate")]
            {
                self.rx.msg_compressed = d.compressed;
            }
            self.rx.msg_len = message_offset + chunk.len();
        }
        let next = || {
            let offset = d.offset + chunk.len();
            Rx::Data(DataRx { offset, ..d })
        };
        // The same state either way; on 32-bit targets two stores, so that
        // at the end of a frame only the tag is written (riscv32 16 B frame:
        // 286.1 instructions with one store of a chosen value, 281.1 with
        // two), on 64-bit ones one store of a chosen value (the two stores
        // cost the hosts' 16 B decode ~4%).
        // Between the frames of a compressed message, `Header` with 0.
        #[cfg(feature = "deflate")]
        let idle = if d.compressed && !d.fin {
            Rx::Header { len: 0 }
        } else {
            Rx::Idle
        };
        #[cfg(not(feature = "deflate"))]
        let idle = Rx::Idle;
        #[cfg(not(target_pointer_width = "64"))]
        if frame_end {
            self.rx.state = idle;
        } else {
            self.rx.state = next();
        }
        #[cfg(target_pointer_width = "64")]
        {
            self.rx.state = if frame_end { idle } else { next() };
        }
        let data = Data {
            kind: d.kind,
            payload: chunk,
            offset: d.offset,
            frame_len: d.len,
            message_offset,
            fin: d.fin,
            frame_end,
            message_start: d.offset == 0 && !d.continues,
            #[cfg(feature = "deflate")]
            compressed: d.compressed,
        };
        Ok(received(consumed, Some(Event::Data(data))))
    }

    /// RFC 6455 section 8.1: a text message is UTF-8, checked as it comes
    /// and failing at the first byte that cannot be; at its end no code
    /// point may be cut off. Answered with 1007 (by the caller).
    #[inline]
    fn utf8_ok(&mut self, chunk: &[u8], message_end: bool) -> bool {
        self.rx.utf8.feed(chunk).is_ok() && !(message_end && self.rx.utf8.is_incomplete())
    }

    /// Collects a control frame's payload; once whole, acts on it and
    /// delivers it by value.
    #[inline(never)]
    fn read_control<'a>(
        &mut self,
        input: &'a mut [u8],
        pos: usize,
        c: ControlRx,
    ) -> Result<Received<'a>, ProtocolError> {
        let at = usize::from(c.got);
        // The payload's next bytes, `take` of them, cut with `split_at`
        // and lengths clamped to what the slices hold (they always do:
        // `got < len <= 125`, `pos <= input.len()`): range indexing here
        // was two out-of-line range checks.
        let (_, room) = self
            .rx
            .ctrl
            .buf_mut()
            .split_at_mut(at.min(MAX_CONTROL_PAYLOAD));
        let (_, src) = input.split_at(pos.min(input.len()));
        let take = usize::from(c.len - c.got).min(src.len()).min(room.len());
        let (buf, _) = room.split_at_mut(take);
        let (src, _) = src.split_at(take);
        buf.copy_from_slice(src);
        if c.key != 0 {
            apply_mask(buf, c.key.to_ne_bytes(), at & 3);
        }
        let got = c.got + take as u8;
        let consumed = pos + take;
        if got < c.len {
            self.rx.state = Rx::Control(ControlRx { got, ..c });
            return Ok(received(consumed, None));
        }
        self.rx.ctrl.set_len(c.len);
        self.rx.state = self.rx.between();
        // Each event built where it is returned, so that the payload is
        // copied once.
        match c.opcode {
            // A ping and a pong as one arm, so that the payload is copied
            // into the event at one place (a copy each was two call sites).
            OpCode::Ping | OpCode::Pong => {
                let ping = c.opcode == OpCode::Ping;
                if !ping {
                    self.timers.pong_received();
                } else if self.config.auto_pong {
                    self.control.queue_pong(self.rx.ctrl);
                }
                let p = self.rx.ctrl;
                let event = if ping { Event::Ping(p) } else { Event::Pong(p) };
                Ok(received(consumed, Some(event)))
            }
            _ => {
                // The peer's close, checked (section 7.4), then the close
                // handshake goes on and nothing more is read. A bad one
                // fails here, its error built in the result (through a
                // `Result` of its own it was built on the stack, tested
                // and copied again).
                let code = match CloseFrame::check(&self.rx.ctrl) {
                    Ok(code) => code,
                    Err(e) => return Err(self.fail(e.into())),
                };
                self.closing.received(code);
                self.rx.discard();
                // The payload copied into the event whether or not there is
                // a code, then the frame dropped if there is none: a copy
                // made only with a code went through the stack (two copies).
                let mut frame = Some(CloseFrame::checked(self.rx.ctrl));
                if code.is_none() {
                    frame = None;
                }
                Ok(received(consumed, Some(Event::Close(frame))))
            }
        }
    }
}

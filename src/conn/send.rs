//! The send path: every data and control frame is written by
//! [`Core::write_frame`] (header by `wire`, payload copied and masked), and
//! every data frame asks [`Core::next_data_frame`] first, the one home of
//! the sending side's rules:
//!
//! - nothing after our close, the peer's close or the end (section 5.5.1);
//! - a whole message never inside a fragmented one, a continuation only
//!   of an open message of its type (section 5.4);
//! - nothing while the caller still writes a frame's payload
//!   ([`Connection::encode_header`](super::Connection::encode_header)):
//!   the stream would be corrupted;
//! - clients mask every frame with a fresh key, servers never mask
//!   (section 5.3).

use crate::BufferTooSmall;
use crate::wire::{FrameHeader, OpCode, Rsv, apply_mask, copy_payload};

use super::{Core, DataKind, FrameStart, MaskKeys, MessagePart, SendError};

/// What the send side is doing: the one field every data send checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// A plain tag byte, so that "ready?" is one comparison.
#[repr(u8)]
pub(super) enum Tx {
    /// Between messages.
    Ready,
    /// A fragmented message of this type is open.
    Fragmented(DataKind),
    /// The caller is writing the payload of a frame whose header
    /// [`Connection::encode_header`](super::Connection::encode_header)
    /// wrote.
    Payload(Owed),
}

/// A frame payload the caller still owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Owed {
    /// Bytes still to write.
    left: u64,
    /// Bytes written so far, modulo 4: the masking phase.
    phase: u8,
    key: Option<[u8; 4]>,
    /// The message still open once the payload is written.
    then: Option<DataKind>,
}

impl Tx {
    /// The state between frames with `open` the message left open.
    const fn between(open: Option<DataKind>) -> Self {
        match open {
            Some(k) => Tx::Fragmented(k),
            None => Tx::Ready,
        }
    }

    /// Between messages: the next data frame opens one.
    #[cfg(feature = "deflate")]
    pub(super) fn is_ready(&self) -> bool {
        matches!(self, Tx::Ready)
    }

    /// Whether a payload is owed.
    #[inline]
    pub(super) fn is_payload_owed(&self) -> bool {
        matches!(self, Tx::Payload(_))
    }
}

/// The opcode and FIN of the next data frame, and the message left open
/// after it.
#[derive(Debug, Clone, Copy)]
struct NextFrame {
    opcode: OpCode,
    fin: bool,
    then: Option<DataKind>,
}

/// The bytes of a message of `len` bytes of payload in frames of at most
/// `max` (at least 1), masked or not: `before` full frames, then a last
/// one of 0 to `max` bytes (0 only for an empty message).
#[inline]
fn frames_len(len: usize, max: usize, masked: bool) -> usize {
    let header = |l: usize| FrameHeader::len_for(l as u64, masked);
    let before = len.saturating_sub(1) / max;
    len + before * header(max) + header(len - before * max)
}

impl Core {
    /// The one home of the sending rules (see the module docs): what the
    /// next data frame is, or why there can be none.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn next_data_frame(&self, part: MessagePart) -> Result<NextFrame, SendError> {
        self.closing.check_open()?;
        let (kind, fin) = match part {
            MessagePart::Whole(k) => (k, true),
            MessagePart::Fragment { kind, fin } => (kind, fin),
        };
        let opcode = match (self.tx, part) {
            (Tx::Ready, _) => kind.opcode(),
            (Tx::Payload(o), _) => return Err(SendError::PayloadPending { owed: o.left }),
            (Tx::Fragmented(_), MessagePart::Whole(_)) => {
                return Err(SendError::FragmentInProgress);
            }
            (Tx::Fragmented(k), MessagePart::Fragment { .. }) if k == kind => OpCode::Continuation,
            (Tx::Fragmented(_), MessagePart::Fragment { .. }) => {
                return Err(SendError::FragmentKind);
            }
        };
        Ok(NextFrame {
            opcode,
            fin,
            then: (!fin).then_some(kind),
        })
    }

    /// The header of a frame of this connection's role.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn header(&self, opcode: OpCode, fin: bool, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: Rsv::NONE,
            opcode,
            mask: self.is_client().then_some([0; 4]),
            payload_len,
        }
    }

    /// Draws the key of a client's frame (servers draw none).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn draw_key(h: &mut FrameHeader, keys: &mut dyn MaskKeys) {
        // Into the place a client's header has for it from the start, so
        // the header's form is known not to change.
        if let Some(key) = &mut h.mask {
            *key = keys.next_key();
        }
    }

    /// Writes one whole frame into `out`: header, then the payload copied
    /// and masked. Writes nothing (and draws no key) if `out` is short.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub(super) fn write_frame(
        &self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut [u8],
        keys: &mut dyn MaskKeys,
    ) -> Result<usize, BufferTooSmall> {
        let mut h = self.header(opcode, fin, payload.len() as u64);
        let n = h.encoded_len();
        let total = n + payload.len();
        let Some(out) = out.get_mut(..total) else {
            return Err(BufferTooSmall { needed: total });
        };
        Self::draw_key(&mut h, keys);
        let (head, body) = out.split_at_mut(n);
        h.emit_exact(head);
        copy_payload(body, payload);
        if let Some(key) = h.mask {
            apply_mask(body, key, 0);
        }
        Ok(total)
    }

    /// The bytes [`Connection::send_text`](super::Connection::send_text) or
    /// [`Connection::send_binary`](super::Connection::send_binary) write
    /// for a payload of `len` bytes (headers of every frame included).
    pub fn message_len(&self, len: usize) -> usize {
        let max = self.config.max_send_frame_len.max(1);
        let masked = self.is_client();
        // 64-bit targets: one frame without a division. 32-bit ones: the
        // general form alone, one frame included (core_only .text 30 B
        // smaller; a `divu` more per send).
        #[cfg(target_pointer_width = "64")]
        if len <= max {
            return FrameHeader::len_for(len as u64, masked) + len;
        }
        frames_len(len, max, masked)
    }

    /// A whole message, split into frames of at most
    /// [`Config::max_send_frame_len`](super::Config::max_send_frame_len).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub(super) fn send_message(
        &mut self,
        kind: DataKind,
        data: &[u8],
        out: &mut [u8],
        keys: &mut dyn MaskKeys,
    ) -> Result<usize, SendError> {
        let f = self.next_data_frame(MessagePart::Whole(kind))?;
        #[cfg(target_pointer_width = "64")]
        if data.len() <= self.config.max_send_frame_len {
            // 64-bit targets: the commonest messages (short, one frame) in
            // one copy per role, in which the header's form, the mask's
            // presence and the offsets are constants. (The three calls are
            // the same on purpose: each is inlined in a branch where the
            // compiler knows more.)
            #[cfg(target_pointer_width = "64")]
            if data.len() <= FrameHeader::MAX_SHORT_PAYLOAD {
                if !self.is_client() {
                    return Ok(self.write_frame(f.opcode, true, data, out, keys)?);
                }
                return Ok(self.write_frame(f.opcode, true, data, out, keys)?);
            }
            return Ok(self.write_frame(f.opcode, true, data, out, keys)?);
        }
        // 32-bit targets: every whole message through `send_split`'s loop,
        // one frame being one turn of it, so that `write_frame` is inlined
        // once less (core_only both roles 16,076 -> 16,034 B). Its first
        // opcode is `kind`'s, as `f`'s is: no message is open.
        #[cfg(not(target_pointer_width = "64"))]
        let _ = f;
        self.send_split(kind, data, out, keys)
    }

    /// A whole message in one or more frames (the caller checked that a whole
    /// message may be sent: none is open, so the first frame has `kind`'s
    /// opcode, the others continue it, the last has FIN). `out` is checked
    /// to hold them all first, so none can fail halfway, and the message
    /// ends whole: the send state stays as it was (between messages).
    // Out of line on 64-bit targets (hosts), where only messages longer
    // than a frame come here. 32-bit ones send every whole message
    // through it from `send_message`, its one caller: the compiler
    // decides (core_only .text client 144 B smaller with it inlined).
    #[cfg_attr(target_pointer_width = "64", inline(never))]
    pub(super) fn send_split(
        &mut self,
        kind: DataKind,
        data: &[u8],
        out: &mut [u8],
        keys: &mut dyn MaskKeys,
    ) -> Result<usize, SendError> {
        let needed = self.message_len(data.len());
        let Some(out) = out.get_mut(..needed) else {
            return Err(BufferTooSmall { needed }.into());
        };
        let max = self.config.max_send_frame_len.max(1);
        let (mut opcode, mut rest, mut at) = (kind.opcode(), data, 0);
        loop {
            let (chunk, tail) = rest.split_at(rest.len().min(max));
            let fin = tail.is_empty();
            at += self.write_frame(
                opcode,
                fin,
                chunk,
                out.get_mut(at..).unwrap_or_default(),
                keys,
            )?;
            if fin {
                return Ok(at);
            }
            (opcode, rest) = (OpCode::Continuation, tail);
        }
    }

    /// One fragment ([`MessagePart::Fragment`]) written whole into `out`.
    pub(super) fn send_fragment_frame(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
        out: &mut [u8],
        keys: &mut dyn MaskKeys,
    ) -> Result<usize, SendError> {
        let f = self.next_data_frame(MessagePart::Fragment { kind, fin })?;
        let n = self.write_frame(f.opcode, f.fin, data, out, keys)?;
        self.tx = Tx::between(f.then);
        Ok(n)
    }

    /// Writes a data frame's header; with `owed`, the caller then owes its
    /// payload (see [`Core::payload_written`]).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub(super) fn encode_data_header(
        &mut self,
        part: MessagePart,
        payload_len: u64,
        header: &mut [u8],
        keys: &mut dyn MaskKeys,
        owed: bool,
    ) -> Result<FrameStart, SendError> {
        let f = self.next_data_frame(part)?;
        if payload_len > FrameHeader::MAX_PAYLOAD_LEN {
            return Err(SendError::PayloadTooLong(payload_len));
        }
        let mut h = self.header(f.opcode, f.fin, payload_len);
        let needed = h.encoded_len();
        if header.len() < needed {
            return Err(BufferTooSmall { needed }.into());
        }
        Self::draw_key(&mut h, keys);
        let header_len = h.emit(header)?;
        self.tx = if owed && payload_len > 0 {
            Tx::Payload(Owed {
                left: payload_len,
                phase: 0,
                key: h.mask,
                then: f.then,
            })
        } else {
            Tx::between(f.then)
        };
        Ok(FrameStart {
            header_len,
            mask: h.mask,
        })
    }

    /// The caller wrote `n` more bytes of the payload of the frame started
    /// by [`Connection::encode_header`](super::Connection::encode_header)
    /// (masked with [`FrameStart::mask`] at their offset, for a client).
    /// Returns the bytes still owed; at 0 the frame is complete and other
    /// frames may follow.
    #[inline]
    pub fn payload_written(&mut self, n: usize) -> Result<u64, SendError> {
        self.take_payload(n, None)
    }

    /// Masks the next `chunk` of the payload owed (clients; servers leave
    /// it as it is) at its offset, and counts it as written
    /// ([`Core::payload_written`]). Nothing is masked if `chunk` is longer
    /// than what is owed.
    #[inline]
    pub fn mask_payload(&mut self, chunk: &mut [u8]) -> Result<u64, SendError> {
        self.take_payload(chunk.len(), Some(chunk))
    }

    /// Counts `n` bytes of the payload owed, masking them in `chunk` first
    /// if given.
    fn take_payload(&mut self, n: usize, chunk: Option<&mut [u8]>) -> Result<u64, SendError> {
        let Tx::Payload(o) = &mut self.tx else {
            return if n == 0 {
                Ok(0)
            } else {
                Err(SendError::NoPayloadOwed)
            };
        };
        let left = o.left;
        if n as u64 > left {
            return Err(SendError::PayloadOverrun { owed: left });
        }
        if let (Some(chunk), Some(key)) = (chunk, o.key) {
            apply_mask(chunk, key, usize::from(o.phase));
        }
        o.left = left - n as u64;
        // 256 is a multiple of 4: the low bits of n suffice.
        o.phase = o.phase.wrapping_add(n as u8) & 3;
        let left = o.left;
        if left == 0 {
            self.tx = Tx::between(o.then);
        }
        Ok(left)
    }

    /// The payload bytes still owed for the frame under way (0 if none).
    pub fn payload_owed(&self) -> u64 {
        match self.tx {
            Tx::Payload(o) => o.left,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general form agrees with one frame's length wherever the
    /// message fits one frame (64-bit targets take that shortcut).
    #[test]
    fn frames_len_of_one_frame() {
        let maxes = [
            1usize,
            2,
            124,
            125,
            126,
            127,
            65535,
            65536,
            70_000,
            usize::MAX,
        ];
        for max in maxes {
            for len in [
                0usize, 1, 2, 124, 125, 126, 127, 65535, 65536, 65537, 70_000,
            ] {
                if len > max {
                    continue;
                }
                for masked in [false, true] {
                    let one = FrameHeader::len_for(len as u64, masked) + len;
                    assert_eq!(frames_len(len, max, masked), one, "{len} {max} {masked}");
                }
            }
        }
    }
}

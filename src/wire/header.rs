//! The frame header (RFC 6455 section 5.2): parse from bytes, emit into bytes.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use crate::{BufferTooSmall, Status};

use super::{FrameError, MAX_CONTROL_PAYLOAD, OpCode};

/// The three reserved bits of a frame header, as a 3-bit set: RSV1 is
/// `0b100`, RSV2 `0b010`, RSV3 `0b001`. Only an extension may set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rsv(u8);

impl Rsv {
    /// No bit set.
    pub const NONE: Self = Self(0);
    /// RSV1 (used by permessage-deflate).
    pub const RSV1: Self = Self(0b100);
    /// RSV2.
    pub const RSV2: Self = Self(0b010);
    /// RSV3.
    pub const RSV3: Self = Self(0b001);

    /// The set from its three low bits (higher bits are ignored).
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits & 0b111)
    }

    /// The bits, `0b000`-`0b111`.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of two sets.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every bit of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// What [`FrameHeader::parse`] accepts beyond the base protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Reserved bits an extension negotiated; any other set bit is an error.
    pub allowed_rsv: Rsv,
    /// Reject payload lengths not written in their shortest form. Off by
    /// default: ESP-IDF's server sends 65535 bytes with the 64-bit form.
    pub strict_length: bool,
}

impl ParseOptions {
    /// Base protocol, no extension, non-minimal lengths accepted.
    pub const DEFAULT: Self = Self {
        allowed_rsv: Rsv::NONE,
        strict_length: false,
    };
    /// Base protocol, no extension, non-minimal lengths rejected.
    pub const STRICT: Self = Self {
        allowed_rsv: Rsv::NONE,
        strict_length: true,
    };
}

/// For each first byte of a header, its opcode if [`FrameHeader::parse_short`]
/// takes it: no reserved bit, a defined opcode, a control frame only with
/// FIN. `None` sends the byte to the general parser, which judges it.
const SHORT_FIRST_BYTE: [Option<OpCode>; 256] = {
    let mut table = [None; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        let fin = byte & 0x80 != 0;
        if byte & 0x70 == 0
            && let Some(op) = OpCode::new(byte & 0x0f)
            && (fin || !op.is_control())
        {
            table[b] = Some(op);
        }
        b += 1;
    }
    table
};

/// A parsed or to-be-emitted frame header.
///
/// ```
/// use sansws::{Status, wire::{FrameHeader, OpCode, ParseOptions}};
/// // RFC 6455 section 5.7: a single-frame masked text message "Hello".
/// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let Status::Complete((header, n)) = FrameHeader::parse(&bytes, &ParseOptions::DEFAULT)? else {
///     unreachable!()
/// };
/// assert_eq!(n, 6);
/// assert_eq!(header, FrameHeader {
///     fin: true,
///     rsv: Default::default(),
///     opcode: OpCode::Text,
///     mask: Some([0x37, 0xfa, 0x21, 0x3d]),
///     payload_len: 5,
/// });
/// let mut out = [0u8; FrameHeader::MAX_LEN];
/// assert_eq!(header.emit(&mut out), Ok(6));
/// assert_eq!(out[..6], bytes[..6]);
/// # Ok::<(), sansws::wire::FrameError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Final fragment of a message.
    pub fin: bool,
    /// Reserved bits.
    pub rsv: Rsv,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// The longest header: 2 + 8 (64-bit length) + 4 (mask) bytes.
    pub const MAX_LEN: usize = 14;

    /// The longest payload whose length fits the 7-bit form (a 2-byte
    /// header, 6 with a mask).
    pub const MAX_SHORT_PAYLOAD: usize = 125;

    /// The largest payload length the wire can carry (the 64-bit form's top
    /// bit must be zero).
    pub const MAX_PAYLOAD_LEN: u64 = i64::MAX as u64;

    /// Parses a header from the start of `buf`.
    ///
    /// - `Ok(Status::Complete((header, n)))`: the header is the first `n`
    ///   bytes; the payload follows.
    /// - `Ok(Status::Partial { needed })`: `buf` ends inside the header; at
    ///   least `needed` more bytes are required. Nothing is consumed.
    /// - `Err(e)`: the bytes so far can never form a valid header. Errors are
    ///   found as early as the bytes allow: a reserved opcode or bit with one
    ///   byte, an oversized control frame with two.
    ///
    /// The MASK bit is reported, not judged: which role must mask is the
    /// connection's rule.
    // 64-bit targets (hosts): the short form inline into the one receive
    // path, the rest out of line. 32-bit ones (devices): the general form
    // alone, one copy.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn parse(buf: &[u8], opts: &ParseOptions) -> Result<Status<(Self, usize)>, FrameError> {
        #[cfg(target_pointer_width = "64")]
        if let Some(short) = Self::parse_short(buf) {
            return Ok(Status::Complete(short));
        }
        Self::parse_general(buf, opts)
    }

    /// The commonest header, in a few instructions: complete in `buf`, a
    /// 7-bit length, no reserved bit, a defined opcode, a control frame only
    /// with FIN. `None` for anything else (including every error), which
    /// [`Self::parse_general`] then judges: this is only a shortcut to the
    /// same result.
    #[inline(always)]
    #[cfg_attr(not(target_pointer_width = "64"), allow(dead_code))]
    pub(crate) fn parse_short(buf: &[u8]) -> Option<(Self, usize)> {
        let [b0, b1, rest @ ..] = buf else {
            return None;
        };
        let opcode = SHORT_FIRST_BYTE[usize::from(*b0)]?;
        let len7 = b1 & 0x7f;
        if len7 >= 126 {
            return None;
        }
        let (mask, len) = if b1 & 0x80 != 0 {
            (Some(*rest.first_chunk::<4>()?), 6)
        } else {
            (None, 2)
        };
        let h = Self {
            fin: b0 & 0x80 != 0,
            rsv: Rsv::NONE,
            opcode,
            mask,
            payload_len: u64::from(len7),
        };
        Some((h, len))
    }

    /// [`Self::parse`] for every form: one copy, wherever it is used. On
    /// 32-bit targets it is that copy, inlined into [`Self::parse`] (whose
    /// one caller is the connection's receive path): the header stays in
    /// registers instead of going through a result in memory.
    #[cfg_attr(target_pointer_width = "64", inline(never))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(always))]
    pub(crate) fn parse_general(
        buf: &[u8],
        opts: &ParseOptions,
    ) -> Result<Status<(Self, usize)>, FrameError> {
        let Some(&b0) = buf.first() else {
            return Ok(Status::Partial { needed: 2 });
        };
        let opcode = OpCode::try_from(b0 & 0x0f)?;
        let rsv = (b0 >> 4) & 0b111;
        let forbidden = rsv & !opts.allowed_rsv.0;
        if forbidden != 0 {
            return Err(FrameError::ReservedBits(Rsv(forbidden)));
        }
        let fin = b0 & 0x80 != 0;
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControl);
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(Status::Partial { needed: 1 });
        };
        let len7 = b1 & 0x7f;
        if opcode.is_control() && len7 as usize > MAX_CONTROL_PAYLOAD {
            return Err(FrameError::ControlTooLong);
        }
        let masked = b1 & 0x80 != 0;
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let len = 2 + ext + if masked { 4 } else { 0 };
        if ext == 8 && buf.get(2).is_some_and(|b| b & 0x80 != 0) {
            return Err(FrameError::LengthOverflow);
        }
        let Some(bytes) = buf.get(..len) else {
            return Ok(Status::Partial {
                needed: len - buf.len(),
            });
        };
        // After the first two bytes (there are: `len >= 2`), cut once
        // without a range check (`&bytes[2..]` in each arm was three
        // calls to an out-of-line check on a device).
        let tail = bytes.get(2..).unwrap_or_default();
        // 32-bit targets: the extended length in one loop for both forms
        // (smaller; tested against the form below).
        #[cfg(not(target_pointer_width = "64"))]
        let (payload_len, rest) = {
            let (l, rest) = length_compact(len7, ext, tail);
            // The shortest form's least length: 126 (less fits 7 bits),
            // 65,536 (less fits 16), as hosts' `l < 126`, `l <= u16::MAX`.
            let min = if ext == 2 { 126 } else { 1 << 16 };
            if opts.strict_length && ext != 0 && l < min {
                return Err(FrameError::NonMinimalLength);
            }
            (l, rest)
        };
        #[cfg(target_pointer_width = "64")]
        let (payload_len, rest) = match ext {
            0 => (u64::from(len7), tail),
            2 => {
                let (l, rest) = split2(tail);
                let l = u16::from_be_bytes(l);
                if opts.strict_length && l < 126 {
                    return Err(FrameError::NonMinimalLength);
                }
                (u64::from(l), rest)
            }
            _ => {
                let (l, rest) = split8(tail);
                let l = u64::from_be_bytes(l);
                if opts.strict_length && l <= u64::from(u16::MAX) {
                    return Err(FrameError::NonMinimalLength);
                }
                (l, rest)
            }
        };
        let mask = if masked {
            let (k, _) = split4(rest);
            Some(k)
        } else {
            None
        };
        Ok(Status::Complete((
            Self {
                fin,
                rsv: Rsv(rsv),
                opcode,
                mask,
                payload_len,
            },
            len,
        )))
    }

    /// Checks the fields against the rules [`FrameHeader::parse`] enforces,
    /// for a header about to be emitted.
    pub fn validate(&self, opts: &ParseOptions) -> Result<(), FrameError> {
        let forbidden = self.rsv.0 & !opts.allowed_rsv.0;
        if forbidden != 0 {
            return Err(FrameError::ReservedBits(Rsv(forbidden)));
        }
        if self.opcode.is_control() {
            if !self.fin {
                return Err(FrameError::FragmentedControl);
            }
            if self.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(FrameError::ControlTooLong);
            }
        }
        if self.payload_len > Self::MAX_PAYLOAD_LEN {
            return Err(FrameError::LengthOverflow);
        }
        Ok(())
    }

    /// The bytes [`FrameHeader::emit`] writes: 2 to 14.
    #[inline]
    pub const fn encoded_len(&self) -> usize {
        Self::len_for(self.payload_len, self.mask.is_some())
    }

    /// The length of the header of a frame with `payload_len` bytes of
    /// payload, masked or not: 2, 4 or 10 bytes, plus 4 for the key.
    #[inline]
    pub const fn len_for(payload_len: u64, masked: bool) -> usize {
        let ext = if payload_len <= Self::MAX_SHORT_PAYLOAD as u64 {
            0
        } else if payload_len <= u16::MAX as u64 {
            2
        } else {
            8
        };
        2 + ext + if masked { 4 } else { 0 }
    }

    /// Sets the bits of `rsv` in a header already written at the start of
    /// `buf` (its first byte; nothing if `buf` is empty). For an extension
    /// that decides a frame's RSV bits after its header is written, as
    /// permessage-deflate does for the frame that opens a compressed
    /// message.
    pub fn add_rsv(buf: &mut [u8], rsv: Rsv) {
        if let Some(b0) = buf.first_mut() {
            *b0 |= rsv.0 << 4;
        }
    }

    /// Writes the header at the start of `buf`, with the length in its
    /// shortest form, and returns the number of bytes written. Writes nothing
    /// if `buf` is shorter than [`FrameHeader::encoded_len`].
    ///
    /// The fields are written as they are; use [`FrameHeader::validate`] to
    /// check them first. A `payload_len` above [`FrameHeader::MAX_PAYLOAD_LEN`]
    /// cannot be parsed back.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let n = self.encoded_len();
        let out = buf.get_mut(..n).ok_or(BufferTooSmall { needed: n })?;
        self.emit_exact(out);
        Ok(n)
    }

    /// Writes the header into `out`, which is exactly its
    /// [`Self::encoded_len`] bytes (the caller worked that out already).
    /// One loop picks each byte by its offset: no slice copies, whose
    /// range checks and `memcpy` calls cost a device more code than the
    /// header's 2 to 14 bytes. An `out` of another length gets that many
    /// bytes, not a valid header (a caller's bug; no panic).
    #[inline(always)]
    pub(crate) fn emit_exact(&self, out: &mut [u8]) {
        let len = self.payload_len;
        let (len7, ext) = if len <= Self::MAX_SHORT_PAYLOAD as u64 {
            (len as u8, 0)
        } else if len <= u64::from(u16::MAX) {
            (126, 2)
        } else {
            (127, 8)
        };
        let (mask_bit, key) = match self.mask {
            Some(key) => (0x80, key),
            None => (0, [0; 4]),
        };
        let [b0, b1, rest @ ..] = out else {
            return;
        };
        *b0 = (u8::from(self.fin) << 7) | (self.rsv.0 << 4) | u8::from(self.opcode);
        *b1 = mask_bit | len7;
        let be = len.to_be_bytes();
        // The extended length is the last `ext` bytes of `be`; the key
        // follows it.
        for (i, byte) in rest.iter_mut().enumerate() {
            *byte = if i < ext {
                be[(i + 8 - ext) & 7]
            } else {
                key[(i - ext) & 3]
            };
        }
    }
}

/// The payload length of a header with the 7-bit length `len7` and `ext`
/// (0, 2 or 8) bytes of extended length at the start of `tail` (which
/// holds them), and the bytes after them: big-endian bytes shifted into
/// one word, whichever the form.
#[cfg(any(test, not(target_pointer_width = "64")))]
#[inline(always)]
fn length_compact(len7: u8, ext: usize, tail: &[u8]) -> (u64, &[u8]) {
    if ext == 0 {
        return (u64::from(len7), tail);
    }
    let (field, rest) = tail.split_at(ext.min(tail.len()));
    let mut l = 0;
    for &b in field {
        l = (l << 8) | u64::from(b);
    }
    (l, rest)
}

#[cfg(any(test, target_pointer_width = "64"))]
#[inline(always)]
fn split2(b: &[u8]) -> ([u8; 2], &[u8]) {
    match b.split_first_chunk::<2>() {
        Some((h, t)) => (*h, t),
        None => ([0; 2], &[]),
    }
}

#[inline(always)]
fn split4(b: &[u8]) -> ([u8; 4], &[u8]) {
    match b.split_first_chunk::<4>() {
        Some((h, t)) => (*h, t),
        None => ([0; 4], &[]),
    }
}

#[cfg(any(test, target_pointer_width = "64"))]
#[inline(always)]
fn split8(b: &[u8]) -> ([u8; 8], &[u8]) {
    match b.split_first_chunk::<8>() {
        Some((h, t)) => (*h, t),
        None => ([0; 8], &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `add_rsv` sets the bits in a written header and changes nothing
    /// else: the header parses back the same but for them.
    #[test]
    fn add_rsv_sets_only_the_reserved_bits() {
        for (mask, len) in [(None, 5u64), (Some([1, 2, 3, 4]), 300), (None, 70_000)] {
            let h = FrameHeader {
                fin: false,
                rsv: Rsv::NONE,
                opcode: OpCode::Text,
                mask,
                payload_len: len,
            };
            let mut buf = [0u8; FrameHeader::MAX_LEN];
            let n = h.emit(&mut buf).unwrap();
            FrameHeader::add_rsv(&mut buf[..n], Rsv::RSV1);
            let opts = ParseOptions {
                allowed_rsv: Rsv::RSV1,
                ..ParseOptions::DEFAULT
            };
            let Ok(Status::Complete((back, m))) = FrameHeader::parse(&buf[..n], &opts) else {
                panic!("{h:?} does not parse back");
            };
            assert_eq!(
                (back, m),
                (
                    FrameHeader {
                        rsv: Rsv::RSV1,
                        ..h
                    },
                    n
                )
            );
        }
        FrameHeader::add_rsv(&mut [], Rsv::RSV1);
    }

    /// The 32-bit targets' extended length agrees with the form hosts use
    /// (a 16-bit or a 64-bit big-endian field, or the 7-bit length), for
    /// every 7-bit length and field bytes of many values, with and
    /// without bytes after it.
    #[test]
    fn length_compact_agrees_with_the_fields() {
        let general = |len7: u8, ext: usize, tail: &[u8]| -> (u64, usize) {
            match ext {
                0 => (u64::from(len7), tail.len()),
                2 => {
                    let (l, rest) = split2(tail);
                    (u64::from(u16::from_be_bytes(l)), rest.len())
                }
                _ => {
                    let (l, rest) = split8(tail);
                    (u64::from_be_bytes(l), rest.len())
                }
            }
        };
        let fixed = [[0u8; 12], [0xff; 12], [0x80; 12], [0x7f; 12]];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..2004 {
            let t = fixed.get(i).copied().unwrap_or_else(|| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mut t = [0u8; 12];
                t[..8].copy_from_slice(&x.to_le_bytes());
                t[8..].copy_from_slice(&x.to_be_bytes()[..4]);
                t
            });
            for len7 in 0..=127u8 {
                let ext = match len7 {
                    126 => 2,
                    127 => 8,
                    _ => 0,
                };
                for n in [ext, ext + 4, 12] {
                    let tail = &t[..n];
                    let (l, rest) = length_compact(len7, ext, tail);
                    assert_eq!((l, rest.len()), general(len7, ext, tail), "{len7} {tail:?}");
                    assert_eq!(rest, &tail[ext..]);
                }
            }
        }
    }

    fn parse(b: &[u8]) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        FrameHeader::parse(b, &ParseOptions::DEFAULT)
    }

    /// Parses `bytes` as if it arrived in two reads split at every point:
    /// each prefix is partial (with a truthful `needed`) or the same error,
    /// and the whole gives `expect`.
    fn check_splits(bytes: &[u8], opts: &ParseOptions) -> Result<(FrameHeader, usize), FrameError> {
        let whole = FrameHeader::parse(bytes, opts);
        for cut in 0..bytes.len() {
            match FrameHeader::parse(&bytes[..cut], opts) {
                Ok(Status::Partial { needed }) => {
                    assert!(needed >= 1);
                    assert!(
                        cut + needed <= bytes.len() || whole.is_err(),
                        "needed overshoots at {cut}"
                    );
                }
                Ok(Status::Complete(_)) => panic!("complete before the end at {cut}"),
                Err(e) => assert_eq!(Err(e), whole, "early error differs at {cut}"),
            }
        }
        match whole? {
            Status::Complete(v) => Ok(v),
            Status::Partial { .. } => panic!("whole input partial"),
        }
    }

    #[test]
    fn rfc6455_section_5_7_examples() {
        let h = |fin, opcode, mask, payload_len| FrameHeader {
            fin,
            rsv: Rsv::NONE,
            opcode,
            mask,
            payload_len,
        };
        let key = Some([0x37, 0xfa, 0x21, 0x3d]);
        let cases: &[(&[u8], FrameHeader)] = &[
            // Single-frame unmasked text "Hello".
            (&[0x81, 0x05], h(true, OpCode::Text, None, 5)),
            // Single-frame masked text "Hello".
            (
                &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                h(true, OpCode::Text, key, 5),
            ),
            // Fragmented unmasked text "Hel" + "lo".
            (&[0x01, 0x03], h(false, OpCode::Text, None, 3)),
            (&[0x80, 0x02], h(true, OpCode::Continuation, None, 2)),
            // Unmasked ping "Hello", masked pong "Hello".
            (&[0x89, 0x05], h(true, OpCode::Ping, None, 5)),
            (
                &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                h(true, OpCode::Pong, key, 5),
            ),
            // 256 bytes binary in one unmasked frame.
            (
                &[0x82, 0x7e, 0x01, 0x00],
                h(true, OpCode::Binary, None, 256),
            ),
            // 64 KiB binary in one unmasked frame.
            (
                &[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00],
                h(true, OpCode::Binary, None, 65536),
            ),
        ];
        for (bytes, header) in cases {
            assert_eq!(
                check_splits(bytes, &ParseOptions::STRICT),
                Ok((*header, bytes.len()))
            );
            let mut out = [0xa5u8; FrameHeader::MAX_LEN];
            assert_eq!(header.emit(&mut out), Ok(bytes.len()));
            assert_eq!(&out[..bytes.len()], *bytes);
            assert!(
                out[bytes.len()..].iter().all(|&b| b == 0xa5),
                "wrote past the header"
            );
            assert_eq!(header.encoded_len(), bytes.len());
        }
    }

    #[test]
    fn violations_table() {
        use FrameError::*;
        let table: &[(&[u8], ParseOptions, FrameError)] = &[
            (&[0x83], ParseOptions::DEFAULT, ReservedOpCode(0x3)),
            (&[0x87], ParseOptions::DEFAULT, ReservedOpCode(0x7)),
            (&[0x8b], ParseOptions::DEFAULT, ReservedOpCode(0xB)),
            (&[0x8f], ParseOptions::DEFAULT, ReservedOpCode(0xF)),
            (&[0xc1], ParseOptions::DEFAULT, ReservedBits(Rsv::RSV1)),
            (&[0xa1], ParseOptions::DEFAULT, ReservedBits(Rsv::RSV2)),
            (&[0x91], ParseOptions::DEFAULT, ReservedBits(Rsv::RSV3)),
            (
                &[0xf1],
                ParseOptions::DEFAULT,
                ReservedBits(Rsv::from_bits(0b111)),
            ),
            (
                &[0xe1],
                ParseOptions {
                    allowed_rsv: Rsv::RSV1,
                    strict_length: false,
                },
                ReservedBits(Rsv::RSV2),
            ),
            (&[0x08], ParseOptions::DEFAULT, FragmentedControl),
            (&[0x09], ParseOptions::DEFAULT, FragmentedControl),
            (&[0x0a], ParseOptions::DEFAULT, FragmentedControl),
            (&[0x88, 0x7e], ParseOptions::DEFAULT, ControlTooLong),
            (&[0x89, 0xfe], ParseOptions::DEFAULT, ControlTooLong),
            (&[0x8a, 0x7f], ParseOptions::DEFAULT, ControlTooLong),
            (&[0x82, 0x7f, 0x80], ParseOptions::DEFAULT, LengthOverflow),
            (&[0x82, 0xff, 0xff], ParseOptions::DEFAULT, LengthOverflow),
            (
                &[0x82, 0x7e, 0x00, 0x7d],
                ParseOptions::STRICT,
                NonMinimalLength,
            ),
            (
                &[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
                ParseOptions::STRICT,
                NonMinimalLength,
            ),
            (
                &[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 5],
                ParseOptions::STRICT,
                NonMinimalLength,
            ),
        ];
        for (bytes, opts, err) in table {
            assert_eq!(FrameHeader::parse(bytes, opts), Err(*err), "{bytes:02x?}");
            assert_eq!(check_splits(bytes, opts), Err(*err), "{bytes:02x?}");
            assert_eq!(err.close_code(), crate::wire::CloseCode::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn non_minimal_lengths_accepted_by_default() {
        // ESP-IDF's server sends 65535 bytes with the 64-bit form.
        let esp = [0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
        let (h, n) = check_splits(&esp, &ParseOptions::DEFAULT).unwrap();
        assert_eq!((h.payload_len, n), (65535, 10));
        let mut out = [0u8; 14];
        assert_eq!(h.emit(&mut out), Ok(4), "emitter uses the shortest form");
        assert_eq!(out[..4], [0x82, 0x7e, 0xff, 0xff]);
        let (h, _) = check_splits(&[0x82, 0x7e, 0x00, 0x05], &ParseOptions::DEFAULT).unwrap();
        assert_eq!(h.payload_len, 5);
    }

    #[test]
    fn allowed_rsv_and_length_boundaries() {
        let opts = ParseOptions {
            allowed_rsv: Rsv::RSV1,
            strict_length: true,
        };
        let (h, _) = check_splits(&[0xc1, 0x00], &opts).unwrap();
        assert_eq!(h.rsv, Rsv::RSV1);
        for len in [0u64, 125, 126, 65535, 65536, FrameHeader::MAX_PAYLOAD_LEN] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader {
                    fin: true,
                    rsv: Rsv::NONE,
                    opcode: OpCode::Binary,
                    mask,
                    payload_len: len,
                };
                let mut out = [0u8; 14];
                let n = h.emit(&mut out).unwrap();
                assert_eq!(check_splits(&out[..n], &ParseOptions::STRICT), Ok((h, n)));
            }
        }
    }

    /// The shortcut gives what the general parser gives, for every first
    /// two bytes, masked or not, complete or cut.
    #[test]
    fn the_short_form_agrees_with_the_general_parser() {
        for b0 in 0..=255u8 {
            for b1 in 0..=255u8 {
                let bytes = [b0, b1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2];
                for end in 0..=bytes.len() {
                    let buf = &bytes[..end];
                    let general = FrameHeader::parse_general(buf, &ParseOptions::DEFAULT);
                    if let Some(short) = FrameHeader::parse_short(buf) {
                        assert_eq!(Ok(Status::Complete(short)), general, "{buf:02x?}");
                    }
                    assert_eq!(parse(buf), general, "{buf:02x?}");
                }
            }
        }
    }

    #[test]
    fn partial_reports_what_is_missing() {
        assert_eq!(parse(&[]), Ok(Status::Partial { needed: 2 }));
        assert_eq!(parse(&[0x82]), Ok(Status::Partial { needed: 1 }));
        assert_eq!(parse(&[0x82, 0xff]), Ok(Status::Partial { needed: 12 }));
        assert_eq!(parse(&[0x82, 0xfe, 0]), Ok(Status::Partial { needed: 5 }));
    }

    #[test]
    fn emit_too_small_writes_nothing() {
        let h = FrameHeader {
            fin: true,
            rsv: Rsv::NONE,
            opcode: OpCode::Binary,
            mask: Some([1, 2, 3, 4]),
            payload_len: 70000,
        };
        let mut out = [0xa5u8; 13];
        assert_eq!(h.emit(&mut out), Err(BufferTooSmall { needed: 14 }));
        assert_eq!(out, [0xa5; 13]);
    }

    #[test]
    fn validate_matches_parse_rules() {
        let mut h = FrameHeader {
            fin: false,
            rsv: Rsv::NONE,
            opcode: OpCode::Ping,
            mask: None,
            payload_len: 0,
        };
        assert_eq!(
            h.validate(&ParseOptions::DEFAULT),
            Err(FrameError::FragmentedControl)
        );
        h.fin = true;
        h.payload_len = 126;
        assert_eq!(
            h.validate(&ParseOptions::DEFAULT),
            Err(FrameError::ControlTooLong)
        );
        h.opcode = OpCode::Binary;
        h.payload_len = u64::MAX;
        assert_eq!(
            h.validate(&ParseOptions::DEFAULT),
            Err(FrameError::LengthOverflow)
        );
        h.payload_len = 1;
        h.rsv = Rsv::RSV2;
        assert_eq!(
            h.validate(&ParseOptions::DEFAULT),
            Err(FrameError::ReservedBits(Rsv::RSV2))
        );
    }
}

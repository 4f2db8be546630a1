//! Close status codes (RFC 6455 section 7.4, IANA registry) and the close
//! frame payload.

use core::fmt;

use crate::BufferTooSmall;

use super::{ControlPayload, MAX_CONTROL_PAYLOAD};

/// A close status code: an open set over `u16` with named constants.
///
/// Any value can be held; [`CloseCode::is_allowed_on_wire`] says whether it
/// may appear in a close frame.
///
/// ```
/// use sansws::wire::CloseCode;
/// assert!(CloseCode::NORMAL.is_allowed_on_wire());
/// assert!(!CloseCode::NO_STATUS_RECEIVED.is_allowed_on_wire());
/// assert!(CloseCode(4000).is_allowed_on_wire());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: an endpoint is going away (server shutdown, page navigated away).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary only).
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1004: reserved; never on the wire.
    pub const RESERVED: Self = Self(1004);
    /// 1005: reported locally when a close frame carried no code; never on
    /// the wire.
    pub const NO_STATUS_RECEIVED: Self = Self(1005);
    /// 1006: reported locally when the connection ended without a close
    /// frame; never on the wire.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: data inconsistent with the message type (bad UTF-8 in text).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message is too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: (client) the server did not negotiate a required extension.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (temporary overload).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: a gateway got an invalid response upstream.
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: reported locally when the TLS handshake failed; never on the wire.
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Whether the code may be sent in, and accepted from, a close frame:
    /// 1000-1003, 1007-1014 (IANA registry) and 3000-4999 (registered and
    /// private use). 1004-1006, 1015, codes below 1000 and 1016-2999 may not.
    #[inline]
    pub const fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The registry's name for a known code, if it has one.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1004 => "reserved",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid frame payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake",
            _ => return None,
        })
    }
}

impl From<u16> for CloseCode {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

impl From<CloseCode> for u16 {
    fn from(c: CloseCode) -> u16 {
        c.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "CloseCode({} {n})", self.0),
            None => write!(f, "CloseCode({})", self.0),
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({n})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Why a close payload was rejected, or could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseError {
    /// A one-byte payload: too short for a code, too long to be empty.
    #[error("close payload of 1 byte")]
    OneByte,
    /// More than 125 bytes (the control frame limit): the 2-byte code and
    /// a reason of more than 123 bytes.
    #[error(
        "close payload of {0} bytes exceeds 125 (a 2-byte code and at most 123 bytes of reason)"
    )]
    TooLong(usize),
    /// A code that may not appear on the wire.
    #[error("close code {0} is not allowed on the wire")]
    CodeNotAllowed(CloseCode),
    /// The reason is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidUtf8,
}

impl CloseError {
    /// The close code to answer this error with: 1007 for bad UTF-8, 1002
    /// otherwise.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            CloseError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// The payload of a close frame that carries a code: a status code and a
/// UTF-8 reason, at most 125 bytes together, held by value.
///
/// An empty close payload (no code) is represented by `None` where one is
/// parsed. A `CloseFrame` is always valid: it comes from
/// [`CloseFrame::parse`] or [`CloseFrame::new`], which check it.
///
/// ```
/// use sansws::wire::{CloseCode, CloseFrame};
/// let mut buf = [0u8; 125];
/// let frame = CloseFrame::new(CloseCode::GOING_AWAY, "bye").unwrap();
/// let n = frame.emit(&mut buf).unwrap();
/// assert_eq!(&buf[..n], b"\x03\xe9bye");
/// assert_eq!(CloseFrame::parse(&buf[..n]), Ok(Some(frame)));
/// assert_eq!(CloseFrame::parse(b""), Ok(None));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame {
    /// The code (big-endian) and the reason, as on the wire.
    payload: ControlPayload,
}

impl CloseFrame {
    /// The most bytes a reason can have (125 minus the 2-byte code).
    pub const MAX_REASON_LEN: usize = MAX_CONTROL_PAYLOAD - 2;

    /// A close payload to send, checked: the code must be allowed on the wire
    /// and the reason at most [`Self::MAX_REASON_LEN`] bytes.
    pub fn new(code: CloseCode, reason: &str) -> Result<Self, CloseError> {
        if !code.is_allowed_on_wire() {
            return Err(CloseError::CodeNotAllowed(code));
        }
        let reason = reason.as_bytes();
        let mut payload = ControlPayload::EMPTY;
        let buf = payload.buf_mut();
        let Some(dst) = buf.get_mut(2..2 + reason.len()) else {
            return Err(CloseError::TooLong(reason.len() + 2));
        };
        dst.copy_from_slice(reason);
        buf[..2].copy_from_slice(&code.0.to_be_bytes());
        payload.set_len(2 + reason.len() as u8);
        Ok(Self { payload })
    }

    /// Parses a received close payload (already unmasked). Empty gives
    /// `Ok(None)`; otherwise a code allowed on the wire and a UTF-8 reason.
    pub fn parse(payload: &[u8]) -> Result<Option<Self>, CloseError> {
        Self::from_payload(ControlPayload::new(payload).ok_or(CloseError::TooLong(payload.len()))?)
    }

    /// [`CloseFrame::parse`] of a payload already held by value.
    pub fn from_payload(payload: ControlPayload) -> Result<Option<Self>, CloseError> {
        Ok(Self::check(&payload)?.map(|_| Self { payload }))
    }

    /// The checks of [`CloseFrame::parse`] (RFC 6455 sections 5.5.1 and
    /// 7.4): the payload's code, `None` if it is empty.
    pub fn check(payload: &[u8]) -> Result<Option<CloseCode>, CloseError> {
        match payload {
            [] => Ok(None),
            [_] => Err(CloseError::OneByte),
            _ if payload.len() > MAX_CONTROL_PAYLOAD => Err(CloseError::TooLong(payload.len())),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_allowed_on_wire() {
                    return Err(CloseError::CodeNotAllowed(code));
                }
                if !super::utf8::is_utf8(reason) {
                    return Err(CloseError::InvalidUtf8);
                }
                Ok(Some(code))
            }
        }
    }

    /// A payload [`CloseFrame::check`] found to carry a code.
    pub(crate) const fn checked(payload: ControlPayload) -> Self {
        Self { payload }
    }

    /// A close with `code` and no reason, if the code may go on the wire.
    pub fn from_code(code: CloseCode) -> Option<Self> {
        if !code.is_allowed_on_wire() {
            return None;
        }
        let mut payload = ControlPayload::EMPTY;
        Self::code_only(&mut payload, Some(code));
        Some(Self { payload })
    }

    /// [`CloseFrame::from_code`] in place: makes `payload` the payload of
    /// a close with `code` and no reason, or of an empty close if there is
    /// no code. Writes 2 bytes at most, so a payload held in a struct is
    /// not built anew and moved.
    ///
    /// `code` is one that may go on the wire, and is not checked again
    /// here: the callers pass one [`CloseFrame::check`] returned (the
    /// peer's, echoed), a [`ProtocolError`](crate::conn::ProtocolError)'s
    /// close code (1002, 1007 or 1009; tested) or one `from_code` checked.
    /// (The check again cost the image 20 B.)
    pub(crate) fn code_only(payload: &mut ControlPayload, code: Option<CloseCode>) {
        let len = match code {
            Some(code) => {
                debug_assert!(code.is_allowed_on_wire(), "{code:?}");
                let [hi, lo] = code.0.to_be_bytes();
                let buf = payload.buf_mut();
                (buf[0], buf[1]) = (hi, lo);
                2
            }
            None => 0,
        };
        payload.set_len(len);
    }

    /// The payload as it goes on the wire, by value.
    pub(crate) const fn into_payload(self) -> ControlPayload {
        self.payload
    }

    /// The status code.
    pub fn code(&self) -> CloseCode {
        match *self.payload.as_slice() {
            [hi, lo, ..] => CloseCode(u16::from_be_bytes([hi, lo])),
            // Never: `new` and `parse` keep at least the code.
            _ => CloseCode::NO_STATUS_RECEIVED,
        }
    }

    /// The reason, possibly empty.
    pub fn reason(&self) -> &str {
        // Checked by `new` and `parse`: the fallback is never taken.
        self.payload
            .as_slice()
            .get(2..)
            .and_then(|r| core::str::from_utf8(r).ok())
            .unwrap_or("")
    }

    /// The payload as it goes on the wire: the code, big-endian, then the
    /// reason.
    pub fn as_bytes(&self) -> &[u8] {
        self.payload.as_slice()
    }

    /// Bytes this payload takes: 2 plus the reason.
    pub fn encoded_len(&self) -> usize {
        self.payload.len()
    }

    /// Writes the payload (code big-endian, then the reason) at the start of
    /// `buf` and returns its length. Writes nothing if `buf` is too small.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let n = self.encoded_len();
        let out = buf.get_mut(..n).ok_or(BufferTooSmall { needed: n })?;
        out.copy_from_slice(self.as_bytes());
        Ok(n)
    }
}

impl fmt::Debug for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseFrame")
            .field("code", &self.code())
            .field("reason", &self.reason())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_ranges_follow_the_registry() {
        for v in 0u16..=u16::MAX {
            let allowed = CloseCode(v).is_allowed_on_wire();
            let expect = (1000..=1003).contains(&v)
                || (1007..=1014).contains(&v)
                || (3000..=4999).contains(&v);
            assert_eq!(allowed, expect, "code {v}");
        }
        for v in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!CloseCode(v).is_allowed_on_wire(), "{v}");
        }
    }

    #[test]
    fn parse_violations() {
        assert_eq!(CloseFrame::parse(&[3]), Err(CloseError::OneByte));
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xed]),
            Err(CloseError::CodeNotAllowed(CloseCode(1005)))
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]),
            Err(CloseError::InvalidUtf8)
        );
        assert_eq!(
            CloseError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(CloseError::OneByte.close_code(), CloseCode::PROTOCOL_ERROR);
        let long = [b'a'; 126];
        assert_eq!(CloseFrame::parse(&long), Err(CloseError::TooLong(126)));
        let mut max = [b'a'; 125];
        max[..2].copy_from_slice(&1000u16.to_be_bytes());
        let f = CloseFrame::parse(&max).unwrap().unwrap();
        assert_eq!(f.reason().len(), 123);
    }

    #[test]
    fn new_checks_and_emit_is_exact() {
        assert_eq!(
            CloseFrame::new(CloseCode::ABNORMAL, ""),
            Err(CloseError::CodeNotAllowed(CloseCode::ABNORMAL))
        );
        let long = "x".repeat(124);
        assert_eq!(
            CloseFrame::new(CloseCode::NORMAL, &long),
            Err(CloseError::TooLong(126))
        );
        let f = CloseFrame::new(CloseCode(4001), "é").unwrap();
        let mut small = [0xa5u8; 3];
        assert_eq!(f.emit(&mut small), Err(BufferTooSmall { needed: 4 }));
        assert_eq!(small, [0xa5; 3], "nothing written on error");
        let mut buf = [0xa5u8; 6];
        assert_eq!(f.emit(&mut buf), Ok(4));
        assert_eq!(buf, [0x0f, 0xa1, 0xc3, 0xa9, 0xa5, 0xa5]);
    }

    #[test]
    fn display_names_known_codes() {
        extern crate std;
        use std::format;
        assert_eq!(
            format!("{}", CloseCode::MESSAGE_TOO_BIG),
            "1009 (message too big)"
        );
        assert_eq!(format!("{:?}", CloseCode(4000)), "CloseCode(4000)");
    }
}

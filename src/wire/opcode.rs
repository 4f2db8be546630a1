//! Frame opcodes (RFC 6455 section 5.2).

use super::FrameError;

/// The four-bit opcode of a frame.
///
/// The six opcodes RFC 6455 defines are variants; the ten reserved values
/// (`0x3`-`0x7`, `0xB`-`0xF`) are not representable and are rejected by
/// [`OpCode::try_from`] with [`FrameError::ReservedOpCode`], so nothing
/// panics on an unknown value.
///
/// ```
/// use sansws::wire::{FrameError, OpCode};
/// assert_eq!(OpCode::try_from(0x1), Ok(OpCode::Text));
/// assert_eq!(OpCode::try_from(0xB), Err(FrameError::ReservedOpCode(0xB)));
/// assert_eq!(u8::from(OpCode::Pong), 0xA);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `0x0`: continues a fragmented text or binary message.
    Continuation = 0x0,
    /// `0x1`: the first frame of a text message (UTF-8).
    Text = 0x1,
    /// `0x2`: the first frame of a binary message.
    Binary = 0x2,
    /// `0x8`: close, with an optional code and reason.
    Close = 0x8,
    /// `0x9`: ping; the peer answers with a pong carrying the same payload.
    Ping = 0x9,
    /// `0xA`: pong, an answer to a ping or an unsolicited heartbeat.
    Pong = 0xA,
}

impl OpCode {
    /// Whether this is a control opcode (close, ping, pong): at most 125
    /// bytes of payload and never fragmented.
    #[inline]
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }

    /// The opcode of a frame's low four bits, `None` for the reserved
    /// values (what [`OpCode::try_from`] reports as an error).
    #[inline]
    pub const fn new(value: u8) -> Option<Self> {
        Some(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Whether this is a data opcode (continuation, text, binary).
    #[inline]
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }
}

impl TryFrom<u8> for OpCode {
    type Error = FrameError;

    /// Maps the low four bits of a frame's first byte to an opcode. Values
    /// above `0xF` are reported as reserved too: they cannot occur on the wire.
    #[inline]
    fn try_from(value: u8) -> Result<Self, FrameError> {
        OpCode::new(value).ok_or(FrameError::ReservedOpCode(value))
    }
}

impl From<OpCode> for u8 {
    #[inline]
    fn from(op: OpCode) -> u8 {
        op as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_maps_or_is_reserved() {
        for v in 0u8..=255 {
            match OpCode::try_from(v) {
                Ok(op) => {
                    assert_eq!(u8::from(op), v);
                    assert_eq!(op.is_control(), v >= 8);
                    assert_eq!(op.is_data(), v < 8);
                }
                Err(e) => {
                    assert_eq!(e, FrameError::ReservedOpCode(v));
                    assert!(matches!(v, 0x3..=0x7 | 0xB..=0xFF));
                }
            }
        }
    }
}

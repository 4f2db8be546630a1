//! The frame format (RFC 6455 section 5): header parse and emit, opcodes,
//! close codes and payloads, masking.
//!
//! # Contract
//!
//! Nothing in this module panics, allocates or does IO, whatever the input.
//! Parsers take `&[u8]` and say how many bytes they used; running out of
//! input is [`Status::Partial`](crate::Status::Partial), never an error.
//! Emitters write into a caller's `&mut [u8]` and return the number of bytes
//! written; a buffer that is too small gives [`BufferTooSmall`](crate::BufferTooSmall)
//! with the size needed, and nothing is written.
//!
//! Every error that a peer's bytes can cause knows the close code to answer
//! it with (`close_code()`).

mod close;
mod control;
mod header;
mod mask;
#[cfg(feature = "std")]
mod mask_simd;
mod opcode;
pub(crate) mod utf8;

pub use close::{CloseCode, CloseError, CloseFrame};
pub use control::{ControlPayload, MAX_CONTROL_FRAME_LEN, MAX_CONTROL_PAYLOAD};
pub use header::{FrameHeader, ParseOptions, Rsv};
pub(crate) use mask::copy_payload;
pub use mask::{apply_mask, apply_mask_bytewise};
pub use opcode::OpCode;

/// A frame header that can never be valid. Each variant is a distinct
/// protocol violation; all are answered with close code 1002.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// An opcode RFC 6455 reserves (`0x3`-`0x7`, `0xB`-`0xF`).
    #[error("reserved opcode {0:#x}")]
    ReservedOpCode(u8),
    /// Reserved bits set that no extension negotiated (the offending bits).
    #[error("reserved bits {:#05b} set without a negotiated extension", .0.bits())]
    ReservedBits(Rsv),
    /// A close, ping or pong frame without FIN.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A close, ping or pong frame with more than 125 bytes of payload.
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
    /// A 64-bit payload length with its most significant bit set.
    #[error("64-bit payload length with the most significant bit set")]
    LengthOverflow,
    /// A length in a longer form than needed, under strict parsing.
    #[error("payload length not in its shortest form")]
    NonMinimalLength,
}

impl FrameError {
    /// The close code to answer this error with: always 1002.
    pub const fn close_code(&self) -> CloseCode {
        CloseCode::PROTOCOL_ERROR
    }
}

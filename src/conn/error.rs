//! Errors of a connection: the peer's violations, each with the close code
//! it is answered with, and commands that cannot be carried out.

use crate::BufferTooSmall;
use crate::wire::{CloseCode, CloseError, FrameError};

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
    /// A data frame over [`Config::max_frame_len`](super::Config::max_frame_len).
    #[error("frame of {len} bytes exceeds the limit of {limit}")]
    FrameTooLarge {
        /// The frame's announced payload length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A message over [`Config::max_message_len`](super::Config::max_message_len).
    #[error("message of at least {len} bytes exceeds the limit of {limit}")]
    MessageTooLarge {
        /// The message length the frame would bring it to.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A compressed message (permessage-deflate) that is not valid
    /// deflate data, or that goes on after its final block.
    #[cfg(feature = "deflate")]
    #[error("compressed message cannot be inflated")]
    Inflate,
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
            #[cfg(feature = "deflate")]
            ProtocolError::Inflate => CloseCode::INVALID_PAYLOAD,
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
    /// A compressed send without permessage-deflate agreed.
    #[cfg(feature = "deflate")]
    #[error("permessage-deflate was not agreed")]
    NoDeflate,
    /// A whole message was sent while a fragmented one is open (finish it
    /// with a fragment that has `fin`).
    #[error(
        "a fragmented message is in progress: a whole message cannot be sent before its last fragment"
    )]
    FragmentInProgress,
    /// A fragment of the other type than the open fragmented message.
    #[error("fragment of the other type than the fragmented message in progress")]
    FragmentKind,
    /// A ping or pong payload over 125 bytes.
    #[error("control payload over 125 bytes")]
    ControlTooLong,
    /// An invalid close code or reason.
    #[error(transparent)]
    Close(#[from] CloseError),
    /// A frame whose payload the caller is still writing
    /// ([`Connection::encode_header`](super::Connection::encode_header)):
    /// nothing else may be sent until all of it is
    /// ([`Connection::payload_written`](super::Core::payload_written)).
    #[error("the payload of the frame in progress is not all written ({owed} bytes owed)")]
    PayloadPending {
        /// Payload bytes still owed.
        owed: u64,
    },
    /// More payload reported written than the frame announced. Nothing
    /// was counted.
    #[error("payload overruns its frame ({owed} bytes were owed)")]
    PayloadOverrun {
        /// Payload bytes that were owed.
        owed: u64,
    },
    /// Payload reported written with no frame under way: nothing is owed
    /// (no `encode_header`, or all of its payload was written already).
    #[error("no frame payload is owed")]
    NoPayloadOwed,
    /// A frame payload longer than the wire can carry (2^63 - 1 bytes).
    #[error("payload of {0} bytes is longer than a frame can carry")]
    PayloadTooLong(u64),
    /// The output buffer is too small; nothing was written.
    #[error(transparent)]
    BufferTooSmall(#[from] BufferTooSmall),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our close reporting an error carries the error's code without
    /// checking it again (`CloseFrame::code_only`): each may go on the
    /// wire.
    #[test]
    fn every_close_code_may_go_on_the_wire() {
        let errors = [
            ProtocolError::Frame(FrameError::ReservedOpCode(3)),
            ProtocolError::Frame(FrameError::FragmentedControl),
            ProtocolError::Frame(FrameError::ControlTooLong),
            ProtocolError::Frame(FrameError::LengthOverflow),
            ProtocolError::Frame(FrameError::NonMinimalLength),
            ProtocolError::Unmasked,
            ProtocolError::Masked,
            ProtocolError::UnexpectedContinuation,
            ProtocolError::ExpectedContinuation,
            ProtocolError::InvalidUtf8,
            ProtocolError::FrameTooLarge { len: 2, limit: 1 },
            ProtocolError::MessageTooLarge { len: 2, limit: 1 },
            ProtocolError::Close(CloseError::OneByte),
            ProtocolError::Close(CloseError::TooLong(126)),
            ProtocolError::Close(CloseError::CodeNotAllowed(CloseCode(1005))),
            ProtocolError::Close(CloseError::InvalidUtf8),
        ];
        for e in errors {
            assert!(e.close_code().is_allowed_on_wire(), "{e:?}");
        }
    }
}

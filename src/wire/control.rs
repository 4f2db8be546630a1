//! Control frame payloads (RFC 6455 section 5.5): at most 125 bytes, so
//! small enough to carry by value.

use core::fmt;
use core::ops::Deref;

use super::FrameHeader;

/// The largest payload a control frame (close, ping, pong) may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The largest control frame on the wire: a 2-byte header, a 4-byte
/// masking key and [`MAX_CONTROL_PAYLOAD`] bytes. A buffer of this size
/// always holds the frame [`Connection::poll_transmit`] hands out.
///
/// [`Connection::poll_transmit`]: crate::conn::Connection::poll_transmit
pub const MAX_CONTROL_FRAME_LEN: usize = 2 + 4 + MAX_CONTROL_PAYLOAD;

// The control frame fits the shortest header form.
const _: () = assert!(
    MAX_CONTROL_FRAME_LEN
        == FrameHeader::len_for(MAX_CONTROL_PAYLOAD as u64, true) + MAX_CONTROL_PAYLOAD
);

/// A control frame's payload, held by value (at most 125 bytes), so it
/// outlives the input it was read from: an event's ping payload can be sent
/// straight back as a pong.
///
/// ```
/// use sansws::wire::ControlPayload;
/// let p = ControlPayload::new(b"beat").unwrap();
/// assert_eq!(&*p, b"beat");
/// assert!(ControlPayload::new(&[0; 126]).is_none());
/// ```
#[derive(Clone, Copy)]
pub struct ControlPayload {
    buf: [u8; MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl ControlPayload {
    /// No bytes.
    pub const EMPTY: Self = Self {
        buf: [0; MAX_CONTROL_PAYLOAD],
        len: 0,
    };

    /// A copy of `bytes`, or `None` if there are more than
    /// [`MAX_CONTROL_PAYLOAD`].
    #[inline]
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let mut p = Self::EMPTY;
        p.buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        p.len = bytes.len() as u8;
        Some(p)
    }

    /// The bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        // `len` is at most 125 (every constructor sees to it); said with
        // `min` rather than checked by a range index, so that there is no
        // panic path, and the compiler knows the bound where the slice is
        // checked again (a received close).
        let (bytes, _) = self
            .buf
            .split_at(usize::from(self.len).min(MAX_CONTROL_PAYLOAD));
        bytes
    }

    /// Room for `len` bytes (at most 125), to be filled in place.
    pub(crate) fn buf_mut(&mut self) -> &mut [u8; MAX_CONTROL_PAYLOAD] {
        &mut self.buf
    }

    /// Sets the length (at most 125: every caller's is) after filling
    /// [`Self::buf_mut`]. Stored as given: [`Self::as_slice`] bounds it
    /// anyway, so a clamp here too was code for nothing.
    pub(crate) fn set_len(&mut self, len: u8) {
        debug_assert!(usize::from(len) <= MAX_CONTROL_PAYLOAD);
        self.len = len;
    }
}

impl Default for ControlPayload {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Deref for ControlPayload {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for ControlPayload {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for ControlPayload {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for ControlPayload {}

impl PartialEq<[u8]> for ControlPayload {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl fmt::Debug for ControlPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_125_bytes() {
        let p = ControlPayload::new(&[7; 125]).unwrap();
        assert_eq!(p.len(), 125);
        assert!(ControlPayload::new(&[7; 126]).is_none());
        assert_eq!(ControlPayload::new(b"").unwrap(), ControlPayload::EMPTY);
        assert_eq!(*ControlPayload::new(b"ab").unwrap(), *b"ab");
    }
}

//! [`Payload`]: a message's bytes, held inline when they are few and
//! shared (a [`Bytes`]) when they are many.

use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::hash::{Hash, Hasher};
use core::ops::Deref;
use core::{cmp, fmt};

use bytes::Bytes;

/// The bytes of a binary message, a ping or a pong (and, as
/// [`Utf8Bytes`](super::Utf8Bytes), of a text message).
///
/// Up to [`Payload::INLINE`] bytes are held in the value itself, so a
/// small message costs no allocation and no reference count: the sensor
/// reading, the command, the heartbeat that make up most of a device's
/// traffic. Larger payloads are a [`Bytes`], shared by reference
/// counting: a message handed out of a read buffer, cloned or broadcast
/// is never copied. Either way, on 64-bit targets, it is the size of a
/// `Bytes` (32 bytes; on 32-bit ones, 24 or 32).
///
/// It reads as a `[u8]` (through [`Deref`], `AsRef`, `Borrow`), and
/// compares, orders and hashes as one. It converts from a [`Bytes`], a
/// `Vec<u8>`, a `String` or a `&'static` slice without copying, and into a
/// [`Bytes`] ([`into_bytes`](Self::into_bytes)) without copying a shared
/// one.
///
/// ```
/// use bytes::Bytes;
/// use sansws::message::Payload;
/// let small = Payload::copy_from_slice(b"21.5 C");
/// assert!(small.is_inline());
/// assert_eq!(small, b"21.5 C"[..]);
/// let big = Payload::from(vec![7u8; 1000]);
/// assert!(!big.is_inline());
/// assert_eq!(big.len(), 1000);
/// let shared: Bytes = big.clone().into_bytes(); // the same storage
/// assert_eq!(shared.as_ptr(), big.as_ptr());
/// ```
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    Inline(Inline),
    Shared(Bytes),
}

/// Up to [`Payload::INLINE`] bytes, then their count in the last byte;
/// word-aligned, so it is built and moved in three word stores.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Inline([u8; Payload::INLINE + 1]);

impl Inline {
    const EMPTY: Self = Self([0; Payload::INLINE + 1]);

    #[inline]
    fn as_slice(&self) -> &[u8] {
        &self.0[..usize::from(self.0[Payload::INLINE])]
    }
}

impl Payload {
    /// The most bytes held inline (with their length, the size of a
    /// [`Bytes`]).
    pub const INLINE: usize = 23;

    /// No bytes.
    #[inline]
    pub const fn new() -> Self {
        Self(Repr::Inline(Inline::EMPTY))
    }

    /// The bytes of a static slice, without copying them.
    #[inline]
    pub const fn from_static(bytes: &'static [u8]) -> Self {
        Self(Repr::Shared(Bytes::from_static(bytes)))
    }

    /// A copy of `bytes`: inline if they fit, else one allocation.
    #[inline]
    pub fn copy_from_slice(bytes: &[u8]) -> Self {
        if bytes.len() <= Self::INLINE {
            let mut inline = Inline::EMPTY;
            inline.0[..bytes.len()].copy_from_slice(bytes);
            inline.0[Self::INLINE] = bytes.len() as u8;
            Self(Repr::Inline(inline))
        } else {
            Self(Repr::Shared(Bytes::copy_from_slice(bytes)))
        }
    }

    /// The first `len` bytes of `window` (at most [`Payload::INLINE`]),
    /// inline. Copies a fixed [`Payload::INLINE`] bytes (`window` has at
    /// least that many: a read buffer's bytes past the payload), which
    /// compiles to a few moves where a copy of `len` bytes is a call; the
    /// bytes past `len` are zeroed.
    #[cfg_attr(not(feature = "std"), allow(dead_code, reason = "used by std_net"))]
    #[inline]
    pub(crate) fn inline_from_window(window: &[u8; Self::INLINE], len: usize) -> Self {
        debug_assert!(len <= Self::INLINE);
        let len = len.min(Self::INLINE);
        // Three little-endian words, the bytes past `len` masked off, the
        // length in the last byte.
        let word = |at: usize| {
            let mut w = [0; 8];
            w.copy_from_slice(&window[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let keep = &KEEP[len];
        let w0 = word(0) & keep[0];
        let w1 = word(8) & keep[1];
        let w2 = (word(15) >> 8) & keep[2] | (len as u64) << 56;
        let mut inline = Inline::EMPTY;
        inline.0[..8].copy_from_slice(&w0.to_le_bytes());
        inline.0[8..16].copy_from_slice(&w1.to_le_bytes());
        inline.0[16..].copy_from_slice(&w2.to_le_bytes());
        Self(Repr::Inline(inline))
    }

    /// The bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(i) => i.as_slice(),
            Repr::Shared(b) => b,
        }
    }

    /// Whether the bytes are held inline (not shared with anything).
    #[inline]
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline(_))
    }

    /// The shared [`Bytes`], if the payload is not inline (to clone the
    /// handle, not the bytes).
    #[inline]
    pub fn as_shared(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Inline(_) => None,
            Repr::Shared(b) => Some(b),
        }
    }

    /// The bytes as a [`Bytes`]: a shared payload as it is (no copy), an
    /// inline one copied into a new allocation.
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Inline(i) => Bytes::copy_from_slice(i.as_slice()),
            Repr::Shared(b) => b,
        }
    }
}

/// For each length up to [`Payload::INLINE`], the masks that keep that
/// many bytes of three little-endian words.
static KEEP: [[u64; 3]; Payload::INLINE + 1] = {
    let mut t = [[0; 3]; Payload::INLINE + 1];
    let mut len = 0;
    while len <= Payload::INLINE {
        let mut w = 0;
        while w < 3 {
            let n = len.saturating_sub(8 * w);
            t[len][w] = if n >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            };
            w += 1;
        }
        len += 1;
    }
    t
};

impl Default for Payload {
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for Payload {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Payload {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Hashes, compares and orders as the `[u8]`.
impl Borrow<[u8]> for Payload {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for Payload {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for Payload {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Payload {}

impl PartialOrd for Payload {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Payload {
    #[inline]
    fn cmp(&self, other: &Self) -> cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

/// As `Bytes` prints: `b"..."`, escaped.
impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &b in self.as_slice() {
            match b {
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                b'\\' | b'"' => write!(f, "\\{}", char::from(b))?,
                b'\0' => f.write_str("\\0")?,
                0x20..=0x7e => write!(f, "{}", char::from(b))?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")
    }
}

impl From<Bytes> for Payload {
    /// Takes the bytes as they are: shared, never copied.
    #[inline]
    fn from(b: Bytes) -> Self {
        Self(Repr::Shared(b))
    }
}

impl From<Vec<u8>> for Payload {
    /// Takes the vector's buffer without copying it.
    #[inline]
    fn from(v: Vec<u8>) -> Self {
        Self(Repr::Shared(Bytes::from(v)))
    }
}

impl From<String> for Payload {
    /// Takes the string's buffer without copying it.
    #[inline]
    fn from(s: String) -> Self {
        Self(Repr::Shared(Bytes::from(s)))
    }
}

impl From<&'static [u8]> for Payload {
    /// Borrows the static bytes: no copy.
    #[inline]
    fn from(b: &'static [u8]) -> Self {
        Self::from_static(b)
    }
}

impl<const N: usize> From<&'static [u8; N]> for Payload {
    /// Borrows the static bytes: no copy.
    #[inline]
    fn from(b: &'static [u8; N]) -> Self {
        Self::from_static(b)
    }
}

impl From<&'static str> for Payload {
    /// Borrows the static text's bytes: no copy.
    #[inline]
    fn from(s: &'static str) -> Self {
        Self::from_static(s.as_bytes())
    }
}

impl From<Payload> for Bytes {
    /// See [`Payload::into_bytes`].
    #[inline]
    fn from(p: Payload) -> Self {
        p.into_bytes()
    }
}

impl From<Payload> for Vec<u8> {
    /// A copy of an inline payload; a shared one's buffer is taken
    /// without a copy when nothing else shares it.
    #[inline]
    fn from(p: Payload) -> Self {
        match p.0 {
            Repr::Inline(i) => i.as_slice().to_vec(),
            Repr::Shared(b) => Vec::from(b),
        }
    }
}

/// `Payload == T` and `T == Payload` for the byte types.
macro_rules! eq_bytes {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Payload {
            #[inline]
            fn eq(&self, other: &$t) -> bool {
                self.as_slice() == AsRef::<[u8]>::as_ref(other)
            }
        }

        impl PartialEq<Payload> for $t {
            #[inline]
            fn eq(&self, other: &Payload) -> bool {
                AsRef::<[u8]>::as_ref(self) == other.as_slice()
            }
        }
    )*};
}

eq_bytes!([u8], &[u8], Vec<u8>, Bytes);

impl<const N: usize> PartialEq<[u8; N]> for Payload {
    #[inline]
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Payload {
    #[inline]
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_slice() == *other
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::format;
    use alloc::vec;
    use core::hash::BuildHasher;
    use std::collections::hash_map::RandomState;

    #[test]
    fn is_the_size_of_bytes_on_hosts() {
        // 64-bit: the inline bytes fit beside the `Bytes` niche.
        #[cfg(target_pointer_width = "64")]
        assert_eq!(size_of::<Payload>(), size_of::<Bytes>());
        // 32-bit: a `Bytes` is 16 bytes, the inline bytes take 24.
        assert!(size_of::<Payload>() <= 32);
    }

    #[test]
    fn inline_up_to_the_limit_then_shared() {
        for n in 0..=Payload::INLINE + 2 {
            let data: Vec<u8> = (0..n as u8).collect();
            let p = Payload::copy_from_slice(&data);
            assert_eq!(p.is_inline(), n <= Payload::INLINE, "{n}");
            assert_eq!(p, data[..]);
            assert_eq!(p.len(), n);
            assert_eq!(p.clone().into_bytes(), data[..]);
            assert_eq!(Vec::from(p), data);
        }
        assert!(Payload::new().is_empty() && Payload::default().is_inline());
    }

    #[test]
    fn inline_from_a_window_is_the_copy_of_its_first_bytes() {
        let window: [u8; Payload::INLINE] = core::array::from_fn(|i| 0xa0 + i as u8);
        for n in 0..=Payload::INLINE {
            let p = Payload::inline_from_window(&window, n);
            assert_eq!(p, Payload::copy_from_slice(&window[..n]), "{n}");
            assert!(p.is_inline());
            // The bytes past the length are zero, as in a copy.
            let Repr::Inline(i) = p.0 else { panic!() };
            assert!(i.0[n..Payload::INLINE].iter().all(|&b| b == 0), "{n}");
            assert_eq!(usize::from(i.0[Payload::INLINE]), n);
        }
    }

    #[test]
    fn no_copy_from_owned_shared_or_static() {
        let v = vec![1u8; 64];
        let at = v.as_ptr();
        let p = Payload::from(v);
        assert_eq!(p.as_ptr(), at);
        assert_eq!(p.clone().as_ptr(), at, "a clone shares");
        assert_eq!(p.into_bytes().as_ptr(), at);

        // A small Bytes stays shared too: whoever gave it keeps the storage.
        let b = Bytes::from(vec![2u8; 3]);
        let at = b.as_ptr();
        let p = Payload::from(b);
        assert!(!p.is_inline());
        assert_eq!(p.as_ptr(), at);

        static LIT: &[u8] = b"literal";
        assert_eq!(Payload::from(LIT).as_ptr(), LIT.as_ptr());
        assert_eq!(Vec::from(Payload::from(vec![3u8; 40])), vec![3u8; 40]);
    }

    #[test]
    fn compares_orders_and_hashes_as_bytes_whatever_it_holds() {
        let inline = Payload::copy_from_slice(b"abc");
        let shared = Payload::from(b"abc".to_vec());
        assert!(inline.is_inline() && !shared.is_inline());
        assert_eq!(inline, shared);
        assert_eq!(inline.cmp(&shared), cmp::Ordering::Equal);
        let state = RandomState::new();
        assert_eq!(state.hash_one(&inline), state.hash_one(&shared));
        assert_eq!(state.hash_one(&inline), state.hash_one(&b"abc"[..]));
        assert!(Payload::from_static(b"abd") > inline);
        assert!(inline == b"abc"[..]);
        assert!(b"abc"[..] == inline);
        assert!(inline == *b"abc" && inline == b"abc");
        assert!(inline == b"abc".to_vec() && Bytes::from_static(b"abc") == inline);
    }

    #[test]
    fn debug_as_bytes_prints() {
        let p = Payload::copy_from_slice(b"a\"\\\n\0\xff~");
        assert_eq!(
            format!("{p:?}"),
            format!("{:?}", Bytes::from_static(b"a\"\\\n\0\xff~"))
        );
    }
}

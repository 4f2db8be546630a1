//! [`Utf8Bytes`]: text held as a [`Payload`]: inline when short, else
//! sharing its bytes, so a text message can be a slice of a read buffer
//! instead of a copy of it.

use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::hash::{Hash, Hasher};
use core::ops::Deref;
use core::{fmt, str};

use bytes::Bytes;

use super::Payload;

/// A [`Payload`] that is always valid UTF-8: a `str` held inline when it is
/// short (up to [`Payload::INLINE`] bytes) and otherwise shared by
/// reference counting, so cloning it or slicing it out of a larger buffer
/// does not copy the text.
///
/// It reads as a `str` (through [`Deref`], [`as_str`](Self::as_str),
/// `Display`, `Debug`), and compares, orders and hashes as one, so a
/// `HashMap<Utf8Bytes, _>` can be looked up with a `&str`.
///
/// ```
/// use sansws::message::Utf8Bytes;
/// let hello = Utf8Bytes::from_static("Hello");
/// assert_eq!(hello, "Hello");
/// assert_eq!(hello.to_uppercase(), "HELLO"); // any `str` method
/// assert!(Utf8Bytes::try_from(b"\xff".to_vec()).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Utf8Bytes(Payload);

impl Utf8Bytes {
    /// Text from a static string, without allocating.
    #[inline]
    pub const fn from_static(s: &'static str) -> Self {
        Self(Payload::from_static(s.as_bytes()))
    }

    /// Wraps bytes the caller has already checked to be UTF-8 (a payload the
    /// [`Connection`](crate::conn::Connection) has validated) without
    /// checking them again; debug builds do. [`as_str`](Self::as_str) relies
    /// on it: never call this with bytes that were not validated.
    #[cfg_attr(
        not(feature = "std"),
        allow(
            dead_code,
            reason = "its caller, std_net's zero-copy read, is std only"
        )
    )]
    #[inline]
    pub(crate) fn from_validated(bytes: Payload) -> Self {
        debug_assert!(str::from_utf8(&bytes).is_ok(), "not UTF-8");
        Self(bytes)
    }

    /// The text. Does not check the bytes again: O(1).
    #[inline]
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: the bytes are valid UTF-8. Every constructor either takes
        // a `str` or `String` (`from_static`, `From<&str>`, `From<String>`,
        // `Default`: empty), or validates (`TryFrom<Bytes>`,
        // `TryFrom<Vec<u8>>`, `TryFrom<Payload>`), or is `from_validated`,
        // whose crate-internal callers pass
        // bytes already validated (re-checked in debug builds). The field is
        // private and no method hands out `&mut` to the bytes.
        unsafe { str::from_utf8_unchecked(&self.0) }
    }

    /// The text's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text's bytes as a [`Bytes`] (see [`Payload::into_bytes`]: a
    /// shared text is not copied).
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// The text's bytes as they are held.
    #[cfg_attr(not(feature = "std"), allow(dead_code, reason = "used by std_net"))]
    #[inline]
    pub(crate) fn payload(&self) -> &Payload {
        &self.0
    }

    /// The text's bytes as a [`Payload`], as they are held.
    #[inline]
    pub fn into_payload(self) -> Payload {
        self.0
    }
}

/// Why bytes could not become [`Utf8Bytes`]: the bytes, handed back, and
/// where their UTF-8 goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromUtf8Error<B = Bytes> {
    bytes: B,
    error: str::Utf8Error,
}

impl<B> FromUtf8Error<B> {
    /// Where the bytes stop being UTF-8.
    pub fn utf8_error(&self) -> str::Utf8Error {
        self.error
    }

    /// The bytes that were refused.
    pub fn into_bytes(self) -> B {
        self.bytes
    }
}

impl<B> fmt::Display for FromUtf8Error<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<B: fmt::Debug> core::error::Error for FromUtf8Error<B> {}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = FromUtf8Error<Bytes>;

    /// Checks the bytes once; shares them on success.
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        match str::from_utf8(&bytes) {
            Ok(_) => Ok(Self(Payload::from(bytes))),
            Err(error) => Err(FromUtf8Error { bytes, error }),
        }
    }
}

impl TryFrom<Payload> for Utf8Bytes {
    type Error = FromUtf8Error<Payload>;

    /// Checks the bytes once; keeps them as they are held.
    fn try_from(bytes: Payload) -> Result<Self, Self::Error> {
        match str::from_utf8(&bytes) {
            Ok(_) => Ok(Self(bytes)),
            Err(error) => Err(FromUtf8Error { bytes, error }),
        }
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = FromUtf8Error<Vec<u8>>;

    /// Checks the bytes once, then takes the vector without copying it.
    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        match str::from_utf8(&bytes) {
            Ok(_) => Ok(Self(Payload::from(bytes))),
            Err(error) => Err(FromUtf8Error { bytes, error }),
        }
    }
}

impl From<String> for Utf8Bytes {
    /// Takes the string's buffer without copying it.
    #[inline]
    fn from(s: String) -> Self {
        Self(Payload::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    /// Copies the text: inline if it is short, else into one allocation
    /// (use [`Utf8Bytes::from_static`] for a literal).
    #[inline]
    fn from(s: &str) -> Self {
        Self(Payload::copy_from_slice(s.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    /// See [`Utf8Bytes::into_bytes`].
    #[inline]
    fn from(s: Utf8Bytes) -> Self {
        s.into_bytes()
    }
}

impl From<Utf8Bytes> for Payload {
    #[inline]
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Hashes, compares and orders as the `str` (UTF-8 orders as its bytes do).
impl Borrow<str> for Utf8Bytes {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// As the `str`, as [`Borrow<str>`] requires (`Bytes` hashes differently).
impl Hash for Utf8Bytes {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// `Utf8Bytes == T` and `T == Utf8Bytes` for the string types.
macro_rules! eq_str {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Utf8Bytes {
            #[inline]
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }

        impl PartialEq<Utf8Bytes> for $t {
            #[inline]
            fn eq(&self, other: &Utf8Bytes) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}

eq_str!(str, &str, String);

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use core::hash::BuildHasher;
    use std::collections::HashSet;
    use std::collections::hash_map::RandomState;

    #[test]
    fn from_each_source() {
        const STATIC: Utf8Bytes = Utf8Bytes::from_static("κόσμε");
        let all = [
            STATIC.clone(),
            Utf8Bytes::from("κόσμε"),
            Utf8Bytes::from(String::from("κόσμε")),
            Utf8Bytes::try_from(Bytes::from_static("κόσμε".as_bytes())).unwrap(),
            Utf8Bytes::try_from("κόσμε".as_bytes().to_vec()).unwrap(),
            Utf8Bytes::from_validated(Payload::from_static("κόσμε".as_bytes())),
            Utf8Bytes::try_from(Payload::copy_from_slice("κόσμε".as_bytes())).unwrap(),
        ];
        for t in all {
            assert_eq!(t.as_str(), "κόσμε");
            assert_eq!(t.as_bytes(), "κόσμε".as_bytes());
            assert_eq!(t.len(), 10); // through Deref
            assert_eq!(AsRef::<str>::as_ref(&t), "κόσμε");
            assert_eq!(AsRef::<[u8]>::as_ref(&t), "κόσμε".as_bytes());
            assert_eq!(t.into_bytes(), "κόσμε".as_bytes());
        }
        assert_eq!(Utf8Bytes::default(), "");
    }

    #[test]
    fn no_copy_from_owned_or_static() {
        let s = String::from("owned text");
        let p = s.as_ptr();
        assert_eq!(Utf8Bytes::from(s).as_ptr(), p);

        let v = b"vector".to_vec();
        let p = v.as_ptr();
        assert_eq!(Utf8Bytes::try_from(v).unwrap().as_ptr(), p);

        let b = Bytes::from(b"bytes".to_vec());
        let p = b.as_ptr();
        assert_eq!(Utf8Bytes::try_from(b).unwrap().as_ptr(), p);

        const LIT: &str = "literal";
        assert_eq!(Utf8Bytes::from_static(LIT).as_ptr(), LIT.as_ptr());
    }

    #[test]
    fn invalid_utf8_refused_and_handed_back() {
        let bad: &[u8] = b"ok\xce\xba\xed\xa0\x80"; // a surrogate after 4 good bytes
        let e = Utf8Bytes::try_from(bad.to_vec()).unwrap_err();
        assert_eq!(e.utf8_error().valid_up_to(), 4);
        assert_eq!(e.to_string(), e.utf8_error().to_string());
        assert_eq!(e.into_bytes(), bad);

        let e = Utf8Bytes::try_from(Bytes::from_static(bad)).unwrap_err();
        assert_eq!(e.utf8_error().valid_up_to(), 4);
        assert_eq!(e.into_bytes(), bad);

        // Cut inside a character.
        assert!(Utf8Bytes::try_from(b"\xce".to_vec()).is_err());
    }

    #[test]
    fn equals_str_and_string_both_ways() {
        let t = Utf8Bytes::from("abc");
        let s = String::from("abc");
        assert!(t == *"abc");
        assert!(*"abc" == t);
        assert!(t == "abc");
        assert!("abc" == t);
        assert!(t == s);
        assert!(s == t);
        assert!(t != "abd" && "ab" != t && String::new() != t);
    }

    #[test]
    fn orders_as_str() {
        let words = ["é", "z", "", "ab", "a", "b"];
        let mut texts: Vec<Utf8Bytes> = words.iter().map(|&w| w.into()).collect();
        let mut words = words;
        texts.sort();
        words.sort();
        assert_eq!(texts, words);
    }

    #[test]
    fn display_and_debug_as_str() {
        let t = Utf8Bytes::from("say \"hé\"\n");
        assert_eq!(format!("{t}"), "say \"hé\"\n");
        assert_eq!(format!("{t:?}"), format!("{:?}", "say \"hé\"\n"));
        assert_eq!(format!("[{:>5}]", Utf8Bytes::from("ab")), "[   ab]");
    }

    #[test]
    fn hashes_as_str() {
        let state = RandomState::new();
        for s in ["", "a", "κόσμε", "a longer line of text"] {
            assert_eq!(state.hash_one(Utf8Bytes::from(s)), state.hash_one(s));
        }
        let set: HashSet<Utf8Bytes> = ["one", "two"].into_iter().map(Utf8Bytes::from).collect();
        assert!(set.contains("one") && set.contains("two") && !set.contains("three"));
    }

    #[test]
    fn clone_shares_the_allocation() {
        let t = Utf8Bytes::from(String::from("shared"));
        let c = t.clone();
        assert_eq!(c.as_ptr(), t.as_ptr());
        assert_eq!(c.into_bytes().as_ptr(), t.as_ptr());
    }
}

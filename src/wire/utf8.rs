//! UTF-8 validation (RFC 3629, as RFC 6455 section 8.1 requires of text
//! payloads and close reasons), incremental across chunks and fragments,
//! failing at the first byte that cannot start or continue a valid
//! sequence.
//!
//! Two implementations of the one rule, tested against each other and
//! against `core::str::from_utf8`: on hosts (64-bit) `from_utf8`, which
//! skips ASCII a word at a time, with a few word tests first for short
//! ASCII chunks; on devices a byte-at-a-time state machine a fraction of
//! its size.

/// Chunks up to this long are first tested for ASCII (hosts).
#[cfg(target_pointer_width = "64")]
const SHORT: usize = 64;

/// The validator of this target.
#[cfg(target_pointer_width = "64")]
pub(crate) type Utf8Validator = Fast;
/// The validator of this target.
#[cfg(not(target_pointer_width = "64"))]
pub(crate) type Utf8Validator = Compact;

/// Whether `bytes` are valid UTF-8, whole (a close reason).
pub(crate) fn is_utf8(bytes: &[u8]) -> bool {
    let mut v = Utf8Validator::new();
    v.feed(bytes).is_ok() && !v.is_incomplete()
}

/// The byte-at-a-time validator: state is what the next bytes must be.
#[cfg(any(test, not(target_pointer_width = "64")))]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Compact {
    /// Continuation bytes still to come in the current code point.
    need: u8,
    /// The range the next continuation byte must be in (narrower than
    /// `80..=BF` right after the lead bytes E0, ED, F0 and F4, which rule
    /// out overlong forms, surrogates and code points past U+10FFFF).
    lo: u8,
    hi: u8,
}

#[cfg(any(test, not(target_pointer_width = "64")))]
impl Compact {
    /// Nothing cut off.
    pub(crate) const fn new() -> Self {
        Self {
            need: 0,
            lo: 0x80,
            hi: 0xbf,
        }
    }

    /// Whether a code point is cut off (the message may not end here).
    pub(crate) fn is_incomplete(&self) -> bool {
        self.need != 0
    }

    /// Forgets any partial code point (a new message starts).
    #[cfg_attr(target_pointer_width = "64", allow(dead_code))]
    pub(crate) fn reset(&mut self) {
        *self = Self::new();
    }

    /// Checks the next chunk. `Err(())` as soon as the bytes so far cannot
    /// be the start of valid UTF-8.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), ()> {
        let Self {
            mut need,
            mut lo,
            mut hi,
        } = *self;
        for &b in chunk {
            if need != 0 {
                if b < lo || b > hi {
                    return Err(());
                }
                need -= 1;
                (lo, hi) = (0x80, 0xbf);
            } else if b >= 0x80 {
                (need, lo, hi) = match b {
                    0xc2..=0xdf => (1, 0x80, 0xbf),
                    0xe0 => (2, 0xa0, 0xbf),
                    0xed => (2, 0x80, 0x9f),
                    0xe1..=0xef => (2, 0x80, 0xbf),
                    0xf0 => (3, 0x90, 0xbf),
                    0xf4 => (3, 0x80, 0x8f),
                    0xf1..=0xf3 => (3, 0x80, 0xbf),
                    _ => return Err(()),
                };
            }
        }
        *self = Self { need, lo, hi };
        Ok(())
    }
}

/// The `from_utf8` validator: the bytes of a code point cut off at the
/// end of the last chunk.
#[cfg(any(test, target_pointer_width = "64"))]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fast {
    partial: [u8; 4],
    len: u8,
}

/// The length of the sequence a lead byte starts (0 for a byte that cannot
/// lead).
#[cfg(any(test, target_pointer_width = "64"))]
const fn seq_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

#[cfg(any(test, target_pointer_width = "64"))]
impl Fast {
    /// Nothing cut off.
    pub(crate) const fn new() -> Self {
        Self {
            partial: [0; 4],
            len: 0,
        }
    }

    /// Whether a code point is cut off (the message may not end here).
    pub(crate) fn is_incomplete(&self) -> bool {
        self.len != 0
    }

    /// Forgets any partial code point (a new message starts).
    #[cfg_attr(not(target_pointer_width = "64"), allow(dead_code))]
    pub(crate) fn reset(&mut self) {
        self.len = 0;
    }

    /// Checks the next chunk. `Err(())` as soon as the bytes so far cannot
    /// be the start of valid UTF-8.
    #[inline]
    pub(crate) fn feed(&mut self, mut chunk: &[u8]) -> Result<(), ()> {
        // Short ASCII (most text messages: JSON, commands) in a few word
        // tests, where `from_utf8` costs a call and its setup.
        #[cfg(target_pointer_width = "64")]
        if self.len == 0 && chunk.len() <= SHORT && chunk.is_ascii() {
            return Ok(());
        }
        if self.len != 0 {
            let have = self.len as usize;
            let want = seq_len(self.partial[0]);
            let take = (want - have).min(chunk.len());
            self.partial[have..have + take].copy_from_slice(&chunk[..take]);
            let now = have + take;
            match core::str::from_utf8(&self.partial[..now]) {
                Ok(_) => self.len = 0,
                Err(e) if e.error_len().is_none() => {
                    self.len = now as u8;
                    return Ok(());
                }
                Err(_) => return Err(()),
            }
            chunk = &chunk[take..];
        }
        match core::str::from_utf8(chunk) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &chunk[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both validators over `bytes` cut at `cuts`: `Ok(complete)`, or
    /// `Err(end of the chunk that failed)`; they must agree.
    fn chunked(bytes: &[u8], cuts: &[usize]) -> Result<bool, usize> {
        let (mut fast, mut compact) = (Fast::new(), Compact::new());
        let mut at = 0;
        for &c in cuts.iter().chain(core::iter::once(&bytes.len())) {
            let (f, k) = (fast.feed(&bytes[at..c]), compact.feed(&bytes[at..c]));
            assert_eq!(f, k, "{bytes:x?} cut {cuts:?} at {c}");
            f.map_err(|_| c)?;
            at = c;
        }
        assert_eq!(fast.is_incomplete(), compact.is_incomplete());
        Ok(!fast.is_incomplete())
    }

    #[test]
    fn agrees_with_core_at_every_split() {
        let samples: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x8f\xbf\xbf",
            b"\xf4\x90\x80\x80",
            b"\xf0\x9f\x98\x80 smile",
            b"\xe0\x80\x80",
            b"\xc0\xaf",
            b"abc\xe2\x82",
            b"\x80",
            b"",
            // Around the short-ASCII path's length: ASCII, then not.
            b"0123456789012345678901234567890123456789012345678901234567890123456789\xff",
            b"012345678901234567890123456789012345678901234567890123456789012\x80",
            b"01234567890123456789012345678901234567890123456789012345678901\xce\xba",
            // Every lead byte's edges: overlongs, surrogates, past U+10FFFF.
            b"\xc1\xbf\xc2\x80\xdf\xbf",
            b"\xe0\x9f\xbf",
            b"\xe0\xa0\x80\xef\xbf\xbf",
            b"\xed\x9f\xbf\xed\xa0\x80",
            b"\xee\x80\x80",
            b"\xf0\x8f\xbf\xbf",
            b"\xf0\x90\x80\x80\xf3\xbf\xbf\xbf",
            b"\xf4\x8f\xbf\xbf\xf5\x80",
            b"\xf8\x88\x80\x80\x80",
            b"\xe1\x80",
            b"\xc2\x41",
        ];
        for s in samples {
            let valid = core::str::from_utf8(s);
            for i in 0..=s.len() {
                for j in i..=s.len() {
                    let got = chunked(s, &[i, j]);
                    match valid {
                        Ok(_) => assert_eq!(got, Ok(true)),
                        Err(e) if e.error_len().is_none() => assert_eq!(got, Ok(false)),
                        Err(_) => {
                            // Fails in the chunk holding the first byte after
                            // which the input is no longer a valid prefix.
                            let bad = (0..s.len())
                                .find(|&k| {
                                    core::str::from_utf8(&s[..=k])
                                        .is_err_and(|e| e.error_len().is_some())
                                })
                                .unwrap();
                            let at = got.unwrap_err();
                            let chunk_end = [i, j, s.len()].into_iter().find(|&c| c > bad).unwrap();
                            assert_eq!(at, chunk_end, "{s:x?} cut {i} {j}");
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod exhaustive {
    use super::*;

    /// Every sequence of up to two bytes, three-byte ones with every lead
    /// from C0 and the third byte at the edges of the ranges, four-byte
    /// ones with leads F0..=F4: both validators against `from_utf8`.
    #[test]
    fn every_short_sequence_agrees_with_core() {
        let check = |s: &[u8]| {
            let core = core::str::from_utf8(s);
            // A valid prefix (complete or cut off) is accepted.
            let prefix_ok = core.is_ok() || core.is_err_and(|e| e.error_len().is_none());
            let (mut c, mut f) = (Compact::new(), Fast::new());
            assert_eq!(c.feed(s).is_ok(), prefix_ok, "{s:x?}");
            assert_eq!(f.feed(s).is_ok(), prefix_ok, "{s:x?}");
            if prefix_ok {
                assert_eq!(!c.is_incomplete(), core.is_ok(), "{s:x?}");
                assert_eq!(!f.is_incomplete(), core.is_ok(), "{s:x?}");
            }
            assert_eq!(is_utf8(s), core.is_ok(), "{s:x?}");
        };
        for a in 0..=255u8 {
            check(&[a]);
            for b in 0..=255u8 {
                check(&[a, b]);
                if a >= 0xc0 {
                    for c in [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff] {
                        check(&[a, b, c]);
                    }
                }
            }
        }
        for a in 0xf0..=0xf4u8 {
            for b in 0x80..=0xbfu8 {
                for c in [0x7f, 0x80, 0xbf, 0xc0] {
                    for d in [0x7f, 0x80, 0xa5, 0xbf, 0xc0] {
                        check(&[a, b, c, d]);
                    }
                }
            }
        }
    }
}

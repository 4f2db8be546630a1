//! Incremental UTF-8 validation across chunks and fragments, failing at
//! the first byte that cannot start or continue a valid sequence.

/// Chunks up to this long are first tested for ASCII (hosts).
#[cfg(target_pointer_width = "64")]
const SHORT: usize = 64;

/// Validator state: the bytes of a code point cut off at the end of the
/// last chunk.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Utf8Validator {
    partial: [u8; 4],
    len: u8,
}

/// The length of the sequence a lead byte starts (0 for a byte that cannot
/// lead).
const fn seq_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
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
    pub(crate) fn reset(&mut self) {
        self.len = 0;
    }

    /// Checks the next chunk. `Err(())` as soon as the bytes so far cannot
    /// be the start of valid UTF-8.
    #[inline]
    pub(crate) fn feed(&mut self, mut chunk: &[u8]) -> Result<(), ()> {
        // Short ASCII (most text messages of a device: JSON, commands) in
        // a few word tests, where `from_utf8` costs a call and its setup.
        // Hosts only (64-bit): on devices the same answer from `from_utf8`
        // is worth more than the bytes this adds to the image.
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

    fn chunked(bytes: &[u8], cuts: &[usize]) -> Result<bool, usize> {
        let mut v = Utf8Validator::default();
        let mut at = 0;
        for &c in cuts.iter().chain(core::iter::once(&bytes.len())) {
            v.feed(&bytes[at..c]).map_err(|_| c)?;
            at = c;
        }
        Ok(!v.is_incomplete())
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

//! Masking keys (RFC 6455 section 5.3 and 10.3): a client masks every frame
//! with a fresh key it draws from a source the caller injects; a server
//! never masks. There is no default key source and no constant key.

/// A source of masking keys for a client: fresh unpredictable 4-byte keys,
/// "derived from a strong source of entropy" (RFC 6455 section 10.3). A
/// hardware RNG, a CSPRNG seeded from one, or [`OsKeys`] on hosts.
///
/// Any `FnMut() -> [u8; 4]` is one, so firmware can pass a closure over
/// its RNG peripheral.
pub trait MaskKeys {
    /// The key for the next frame.
    fn next_key(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4]> MaskKeys for F {
    fn next_key(&mut self) -> [u8; 4] {
        self()
    }
}

/// The key source of a server, which never masks. It cannot be built
/// outside this crate, so no client can end up with a constant key.
#[derive(Debug, Clone, Copy)]
pub struct NoMasking(pub(crate) ());

impl MaskKeys for NoMasking {
    fn next_key(&mut self) -> [u8; 4] {
        [0; 4]
    }
}

#[cfg(feature = "std")]
pub use os::OsKeys;

#[cfg(feature = "std")]
mod os {
    use sha1::{Digest, Sha1};

    use super::MaskKeys;

    /// Mask keys on hosts (feature `std`): SHA-1 in counter mode over a
    /// 16-byte seed from the OS random source (getrandom), so drawing a key
    /// never fails and makes no system call. Every adapter's client uses
    /// it; it is a [`MaskKeys`] as it is.
    ///
    /// ```
    /// use sansws::conn::{Config, Connection, Instant, OsKeys};
    /// let client = Connection::client(Config::DEFAULT, OsKeys::new()?, Instant::ZERO);
    /// # let _ = client;
    /// # Ok::<(), getrandom::Error>(())
    /// ```
    #[derive(Clone)]
    pub struct OsKeys {
        seed: [u8; 16],
        counter: u64,
        block: [u8; 20],
        used: usize,
    }

    impl OsKeys {
        /// Seeds from the OS random source.
        pub fn new() -> Result<Self, getrandom::Error> {
            let mut seed = [0u8; 16];
            getrandom::fill(&mut seed)?;
            Ok(Self {
                seed,
                counter: 0,
                block: [0; 20],
                used: 20,
            })
        }
    }

    impl core::fmt::Debug for OsKeys {
        /// Shows nothing of the seed or the keys.
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("OsKeys")
        }
    }

    impl MaskKeys for OsKeys {
        fn next_key(&mut self) -> [u8; 4] {
            if self.used + 4 > self.block.len() {
                let mut h = Sha1::new();
                h.update(self.seed);
                h.update(self.counter.to_le_bytes());
                self.block = h.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            let mut k = [0; 4];
            k.copy_from_slice(&self.block[self.used..self.used + 4]);
            self.used += 4;
            k
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn keys_differ_and_seeds_differ() {
            let mut a = OsKeys::new().unwrap();
            let mut b = OsKeys::new().unwrap();
            let ka: [[u8; 4]; 12] = core::array::from_fn(|_| a.next_key());
            let kb: [[u8; 4]; 12] = core::array::from_fn(|_| b.next_key());
            assert_ne!(ka, kb);
            // Not one key repeated in a row across block boundaries.
            assert!(ka.windows(2).all(|w| w[0] != w[1]));
        }
    }
}

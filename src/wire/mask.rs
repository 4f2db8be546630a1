//! Payload masking (RFC 6455 section 5.3): XOR with a 4-byte key.
//!
//! Masking is its own inverse, so the same function masks and unmasks. The
//! `phase` is the payload offset modulo 4 at which `buf` starts, so a payload
//! that arrives in chunks is unmasked chunk by chunk:
//!
//! ```
//! use sansws::wire::apply_mask;
//! let key = [0x37, 0xfa, 0x21, 0x3d];
//! let mut whole = *b"Hello, world";
//! apply_mask(&mut whole, key, 0);
//!
//! let mut chunked = *b"Hello, world";
//! let (a, b) = chunked.split_at_mut(5);
//! let phase = apply_mask(a, key, 0);
//! apply_mask(b, key, phase);
//! assert_eq!(whole, chunked);
//! ```

/// XORs `buf` in place with `key`, starting at key byte `phase % 4`, and
/// returns the phase for the byte after `buf` (`(phase + buf.len()) % 4`).
///
/// Without `std` (devices): safe code, eight bytes at a time, which the
/// compiler vectorizes where the target has vectors. With `std`: payloads
/// of 64 bytes or more go through a vector kernel chosen at run time
/// (AVX-512, AVX2 or SSE2 on x86-64; NEON on aarch64), the rest through the
/// word loop.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let phase = phase & 3;
    let next = (phase + buf.len()) & 3;
    if buf.len() < 8 {
        mask_bytes(buf, key, phase);
        return next;
    }
    // The key as seen from the first byte of `buf`, repeated over a block.
    let r = [
        key[phase],
        key[(phase + 1) & 3],
        key[(phase + 2) & 3],
        key[(phase + 3) & 3],
    ];
    // Hosts: vector kernels chosen at run time for all but short payloads
    // (below 64 bytes the word loop wins: no dispatch at all).
    #[cfg(feature = "std")]
    let buf = if buf.len() >= 64 {
        let done = super::mask_simd::apply(buf, r);
        &mut buf[done..]
    } else {
        buf
    };
    let k8 = u64::from_ne_bytes([r[0], r[1], r[2], r[3], r[0], r[1], r[2], r[3]]);
    // 32-byte blocks of four words: the compiler turns these into vector
    // XORs with whatever the target baseline has (SSE2 on x86-64).
    let (blocks, rest) = buf.as_chunks_mut::<32>();
    for b in blocks {
        let (words, _) = b.as_chunks_mut::<8>();
        for w in words {
            *w = (u64::from_ne_bytes(*w) ^ k8).to_ne_bytes();
        }
    }
    let (words, tail) = rest.as_chunks_mut::<8>();
    for w in words {
        *w = (u64::from_ne_bytes(*w) ^ k8).to_ne_bytes();
    }
    // 8 is a multiple of 4, so the tail starts at the same phase as `buf`.
    mask_bytes(tail, key, phase);
    next
}

/// The byte-at-a-time reference: what [`apply_mask`] must equal.
#[inline]
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    mask_bytes(buf, key, phase & 3);
    (phase + buf.len()) & 3
}

#[inline(always)]
fn mask_bytes(buf: &mut [u8], key: [u8; 4], phase: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(phase + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_bytewise_for_every_length_and_phase() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let src: [u8; 300] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for start in 0..4 {
            for len in 0..=257 {
                for phase in 0..8 {
                    let mut fast = src;
                    let mut slow = src;
                    let a = apply_mask(&mut fast[start..start + len], key, phase);
                    let b = apply_mask_bytewise(&mut slow[start..start + len], key, phase);
                    assert_eq!(a, b);
                    assert_eq!(fast, slow, "start {start} len {len} phase {phase}");
                }
            }
        }
    }

    #[test]
    fn rfc_example_hello() {
        let mut p = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        assert_eq!(apply_mask(&mut p, [0x37, 0xfa, 0x21, 0x3d], 0), 1);
        assert_eq!(&p, b"Hello");
    }
}

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
/// over 32 bytes go through a vector kernel chosen at run time (AVX-512,
/// AVX2 or SSE2 on x86-64; NEON on aarch64) and the word loop does the
/// tail; short ones (most WebSocket messages) take a small inlined path
/// with no dispatch at all.
// Hosts: always inline (a call costs as much as masking 16 bytes); devices:
// the compiler decides, to keep images small.
#[cfg_attr(feature = "std", inline(always))]
#[cfg_attr(not(feature = "std"), inline)]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let phase = phase & 3;
    let next = (phase + buf.len()) & 3;
    // The key as seen from the first byte of `buf`: byte i of `rot` masks
    // byte 4n + i.
    let rot = (u32::from_le_bytes(key).rotate_right(8 * phase as u32)).to_le_bytes();
    if buf.len() <= 32 {
        mask_short(buf, rot);
    } else {
        mask_long(buf, rot);
    }
    next
}

/// Short payloads (or tails), all at phase 0 relative to `rot`:
/// straight-line code for the up to 32 bytes it gets from [`apply_mask`]
/// and [`mask_words`]. 64-bit targets take 16- and 8-byte steps; 32-bit
/// ones (the ESP32-C3) 4-byte steps, which is all their registers hold.
#[inline(always)]
fn mask_short(buf: &mut [u8], rot: [u8; 4]) {
    let k4 = u32::from_ne_bytes(rot);
    let n = buf.len();
    let mut i = 0;
    #[cfg(target_pointer_width = "64")]
    {
        // Both halves equal: the same in either byte order.
        let k8 = u64::from(k4) | (u64::from(k4) << 32);
        let k16 = u128::from(k8) | (u128::from(k8) << 64);
        while n - i >= 16 {
            if let Ok(c) = <&mut [u8; 16]>::try_from(&mut buf[i..i + 16]) {
                *c = (u128::from_ne_bytes(*c) ^ k16).to_ne_bytes();
            }
            i += 16;
        }
        if n - i >= 8 {
            if let Ok(c) = <&mut [u8; 8]>::try_from(&mut buf[i..i + 8]) {
                *c = (u64::from_ne_bytes(*c) ^ k8).to_ne_bytes();
            }
            i += 8;
        }
    }
    while n - i >= 4 {
        if let Ok(c) = <&mut [u8; 4]>::try_from(&mut buf[i..i + 4]) {
            *c = (u32::from_ne_bytes(*c) ^ k4).to_ne_bytes();
        }
        i += 4;
    }
    for (b, k) in buf[i..].iter_mut().zip(rot.iter()) {
        *b ^= k;
    }
}

/// From this length on, hosts use a vector kernel (below it, the call into
/// a `target_feature` function costs more than it saves).
#[cfg(feature = "std")]
const VECTOR_MIN: usize = 256;

/// Longer payloads. On hosts from [`VECTOR_MIN`] bytes: the head up to a
/// 64-byte boundary in words, the body with a vector kernel on aligned
/// addresses (no load straddles two cache lines), the tail in words.
/// Otherwise all in words.
#[inline(never)]
fn mask_long(buf: &mut [u8], rot: [u8; 4]) {
    #[cfg(feature = "std")]
    if buf.len() >= VECTOR_MIN {
        let head = buf.as_ptr().align_offset(64).min(buf.len());
        let (h, body) = buf.split_at_mut(head);
        mask_words(h, rot);
        let rot = rotate(rot, head);
        let done = super::mask_simd::apply(body, rot);
        // Kernels take whole vectors (multiples of 4): same phase after.
        mask_words(&mut body[done..], rot);
        return;
    }
    mask_words(buf, rot);
}

/// `rot` as seen `n` bytes later.
#[cfg(feature = "std")]
#[inline(always)]
fn rotate(rot: [u8; 4], n: usize) -> [u8; 4] {
    u32::from_le_bytes(rot)
        .rotate_right(8 * (n & 3) as u32)
        .to_le_bytes()
}

/// Words, then the short path for the last few bytes.
#[inline(always)]
fn mask_words(buf: &mut [u8], rot: [u8; 4]) {
    let k4 = u32::from_ne_bytes(rot);
    let k8 = u64::from(k4) | (u64::from(k4) << 32);
    let mut words = buf.chunks_exact_mut(8);
    for w in &mut words {
        if let Ok(w) = <&mut [u8; 8]>::try_from(w) {
            *w = (u64::from_ne_bytes(*w) ^ k8).to_ne_bytes();
        }
    }
    // 8 is a multiple of 4: the rest starts at phase 0 too.
    mask_short(words.into_remainder(), rot);
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

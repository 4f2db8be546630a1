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
/// Safe code word at a time everywhere (16 bytes on 64-bit targets, 4 on
/// 32-bit ones such as the ESP32-C3). Up to 32 bytes (most WebSocket
/// messages) it is straight-line code with no loop on 64-bit targets. With
/// `std`, payloads from 256 bytes go through a vector kernel chosen at run
/// time (AVX-512, AVX2 or SSE2 on x86-64; NEON on aarch64).
// 64-bit targets (hosts): always inline (a call costs as much as masking
// 16 bytes); 32-bit ones (devices): the compiler decides, to keep images
// small.
#[cfg_attr(target_pointer_width = "64", inline(always))]
#[cfg_attr(not(target_pointer_width = "64"), inline)]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let phase = phase & 3;
    let next = (phase + buf.len()) & 3;
    // The key as seen from the first byte of `buf`: byte i of `rot` masks
    // byte 4n + i.
    let rot = rotate(key, phase);
    // On 32-bit targets without `std` the long path is the short one
    // (`mask_words` has no wider word there, and no vector kernel is
    // built): one copy of the loop, not a second out of line.
    #[cfg(any(target_pointer_width = "64", feature = "std"))]
    if buf.len() > 32 {
        mask_long(buf, rot);
        return next;
    }
    mask_short(buf, rot);
    next
}

/// `rot` as seen `n` bytes later.
#[inline(always)]
pub(super) fn rotate(rot: [u8; 4], n: usize) -> [u8; 4] {
    u32::from_le_bytes(rot)
        .rotate_right(8 * (n & 3) as u32)
        .to_le_bytes()
}

/// Up to 32 bytes, at phase 0 relative to `rot`, on 64-bit targets: the
/// first 16 bytes (if there are) as two words in place, then the at most
/// 16 left as two pieces of the largest size that fits, the first at the
/// start and the second ending at the end, both read before either is
/// written. Where they overlap both stores write the same masked bytes, so
/// any length takes a fixed handful of instructions and no loop.
#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn mask_short(buf: &mut [u8], rot: [u8; 4]) {
    let mut buf = buf;
    if buf.len() >= 16 {
        // The first 16 bytes in place; 16 is a multiple of 4, so the rest
        // starts at phase 0 again.
        let k = repeat(rot).0;
        let (head, rest) = buf.split_at_mut(16);
        for w in head.chunks_exact_mut(8) {
            let v = word(w) ^ k;
            w.copy_from_slice(&v.to_ne_bytes());
        }
        buf = rest;
    }
    // At most 16 bytes left. The second piece starts at n - 8 or n - 4:
    // phase n % 4.
    let n = buf.len();
    if n == 0 {
        return;
    }
    if let (Some(&a), Some(&b)) = (buf.first_chunk::<8>(), buf.last_chunk::<8>()) {
        let ka = repeat(rot).0;
        let kb = later_word(ka, n);
        set_ends(
            buf,
            (u64::from_ne_bytes(a) ^ ka).to_ne_bytes(),
            (u64::from_ne_bytes(b) ^ kb).to_ne_bytes(),
        );
    } else if let (Some(&a), Some(&b)) = (buf.first_chunk::<4>(), buf.last_chunk::<4>()) {
        let ka = u32::from_ne_bytes(rot);
        let kb = u32::from_ne_bytes(rotate(rot, n));
        set_ends(
            buf,
            (u32::from_ne_bytes(a) ^ ka).to_ne_bytes(),
            (u32::from_ne_bytes(b) ^ kb).to_ne_bytes(),
        );
    } else {
        for (b, k) in buf.iter_mut().zip(rot) {
            *b ^= k;
        }
    }
}

/// Up to 32 bytes on 32-bit targets (the ESP32-C3): a byte at a time, the
/// key's four bytes in registers, four bytes a turn. A word from unaligned
/// bytes (`u32::from_ne_bytes`) costs more on these cores than the bytes
/// alone: without fast unaligned loads it is four byte loads, three shifts
/// and three ORs in, and four byte stores and three shifts out.
#[cfg(not(target_pointer_width = "64"))]
#[inline(always)]
fn mask_short(buf: &mut [u8], rot: [u8; 4]) {
    let [k0, k1, k2, k3] = rot;
    let mut words = buf.chunks_exact_mut(4);
    for w in &mut words {
        if let [a, b, c, d] = w {
            *a ^= k0;
            *b ^= k1;
            *c ^= k2;
            *d ^= k3;
        }
    }
    // The last 0 to 3 bytes, the key bytes from registers (a zip over
    // `rot` would take the key through memory).
    let rest = words.into_remainder();
    if let Some(b) = rest.get_mut(0) {
        *b ^= k0;
    }
    if let Some(b) = rest.get_mut(1) {
        *b ^= k1;
    }
    if let Some(b) = rest.get_mut(2) {
        *b ^= k2;
    }
}

/// Copies a frame's payload `src` into `dst` (the same length). On 64-bit
/// targets up to 32 bytes go as at most four words, first and last read
/// before any is written (as in [`mask_short`]), with no call: for small
/// frames, a call to `memcpy` costs more than the copy. Otherwise
/// `copy_from_slice`.
#[cfg_attr(target_pointer_width = "64", inline(always))]
#[cfg_attr(not(target_pointer_width = "64"), inline)]
pub(crate) fn copy_payload(dst: &mut [u8], src: &[u8]) {
    #[cfg(target_pointer_width = "64")]
    if src.len() <= 32 && dst.len() == src.len() {
        copy_short(dst, src);
        return;
    }
    dst.copy_from_slice(src);
}

/// [`copy_payload`] for at most 32 bytes (`dst.len() == src.len()`).
#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n >= 16 {
        let (a0, a1) = (word(&src[..8]), word(&src[8..16]));
        let (b0, b1) = (word(&src[n - 16..n - 8]), word(&src[n - 8..]));
        dst[..8].copy_from_slice(&a0.to_ne_bytes());
        dst[8..16].copy_from_slice(&a1.to_ne_bytes());
        dst[n - 16..n - 8].copy_from_slice(&b0.to_ne_bytes());
        dst[n - 8..].copy_from_slice(&b1.to_ne_bytes());
    } else if n >= 8 {
        let (a, b) = (word(&src[..8]), word(&src[n - 8..]));
        dst[..8].copy_from_slice(&a.to_ne_bytes());
        dst[n - 8..].copy_from_slice(&b.to_ne_bytes());
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

/// The 4-byte pattern repeated to 8 and to 16 bytes, as native-endian
/// words (both halves of each are equal, so byte order does not matter).
#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn repeat(rot: [u8; 4]) -> (u64, u128) {
    let k8 = u64::from(u32::from_ne_bytes(rot)) * 0x1_0000_0001;
    (k8, u128::from(k8) * 0x1_0000_0000_0000_0001)
}

/// `k`, a word of the repeated pattern, as seen `n` bytes later.
#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn later_word(k: u64, n: usize) -> u64 {
    let shift = 8 * (n & 3) as u32;
    if cfg!(target_endian = "little") {
        k.rotate_right(shift)
    } else {
        k.rotate_left(shift)
    }
}

/// The native-endian word in `bytes` (8 of them).
#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(bytes);
    u64::from_ne_bytes(w)
}

/// Writes `head` over the first `N` bytes of `buf` and `tail` over the
/// last `N` (where they overlap, the tail's). Nothing if `buf` is shorter.
#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn set_ends<const N: usize>(buf: &mut [u8], head: [u8; N], tail: [u8; N]) {
    if let Some(h) = buf.first_chunk_mut::<N>() {
        *h = head;
    }
    if let Some(t) = buf.last_chunk_mut::<N>() {
        *t = tail;
    }
}

/// From this length on, hosts use a vector kernel (below it, the call into
/// a `target_feature` function costs more than it saves).
#[cfg(feature = "std")]
const VECTOR_MIN: usize = 256;

/// Longer payloads: on hosts from [`VECTOR_MIN`] bytes the widest vector
/// kernel this CPU has, below that the baseline one (16-byte vectors),
/// otherwise words. Tail calls, so the kernel is reached with no
/// register saved for the word loop.
#[cfg(any(target_pointer_width = "64", feature = "std"))]
#[inline(never)]
fn mask_long(buf: &mut [u8], rot: [u8; 4]) {
    #[cfg(feature = "std")]
    if buf.len() >= VECTOR_MIN && super::mask_simd::apply(buf, rot) {
        return;
    }
    #[cfg(feature = "std")]
    if super::mask_simd::apply_baseline(buf, rot) {
        return;
    }
    mask_medium(buf, rot);
}

#[cfg(any(target_pointer_width = "64", feature = "std"))]
#[inline(never)]
fn mask_medium(buf: &mut [u8], rot: [u8; 4]) {
    mask_words(buf, rot);
}

/// More than 32 bytes in words. On 64-bit targets 16 bytes at a time, the
/// last 16 read first and written last (as in [`mask_short`]); on 32-bit
/// ones 4 bytes at a time.
#[cfg(any(target_pointer_width = "64", feature = "std"))]
#[inline(always)]
fn mask_words(buf: &mut [u8], rot: [u8; 4]) {
    #[cfg(target_pointer_width = "64")]
    if buf.len() >= 16 {
        let k = repeat(rot).1;
        let kt = repeat(rotate(rot, buf.len())).1;
        let last = buf.last_chunk::<16>().map(|l| u128::from_ne_bytes(*l));
        for w in buf.chunks_exact_mut(16) {
            if let Ok(w) = <&mut [u8; 16]>::try_from(w) {
                *w = (u128::from_ne_bytes(*w) ^ k).to_ne_bytes();
            }
        }
        if let (Some(t), Some(last)) = (buf.last_chunk_mut::<16>(), last) {
            *t = (last ^ kt).to_ne_bytes();
        }
        return;
    }
    mask_short(buf, rot);
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
    fn copy_payload_copies_every_length() {
        let src: [u8; 48] = core::array::from_fn(|i| i as u8 + 1);
        for len in 0..=48 {
            let mut dst = [0xa5u8; 50];
            copy_payload(&mut dst[1..1 + len], &src[..len]);
            assert_eq!(&dst[1..1 + len], &src[..len], "len {len}");
            assert_eq!(
                (dst[0], dst[1 + len]),
                (0xa5, 0xa5),
                "len {len}: wrote outside"
            );
        }
    }

    #[test]
    fn rfc_example_hello() {
        let mut p = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        assert_eq!(apply_mask(&mut p, [0x37, 0xfa, 0x21, 0x3d], 0), 1);
        assert_eq!(&p, b"Hello");
    }
}

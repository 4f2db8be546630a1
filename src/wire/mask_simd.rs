//! Vector masking for hosts (feature `std`), chosen at run time.
//!
//! x86-64: AVX-512F, AVX2 or SSE2 (the baseline), by
//! `is_x86_feature_detected!`, detected once and cached. aarch64: NEON (the
//! baseline). Each kernel masks a whole buffer of at least one vector: the
//! first and the last vector are loaded unaligned before anything is
//! written, the body in between is masked on aligned addresses (no access
//! straddles two cache lines), the first vector is stored with the first
//! aligned one and the last vector at the end. Where they overlap the body,
//! both stores write the same masked bytes (every overlapping byte is
//! loaded before either store), so no byte is masked twice and no scalar
//! loop is needed.
//!
//! # Safety
//!
//! This module, `adapter::lwip` and `message::Utf8Bytes::as_str` are the
//! only places with `unsafe`.
//! Here it is used for exactly two things:
//! - calling `#[target_feature]` functions, only after the feature was
//!   detected on this CPU (or is part of the target's baseline);
//! - vector loads and stores through `buf.as_mut_ptr()` at offsets `i` with
//!   `i + WIDTH <= len`, so every access is inside `buf`, which is
//!   exclusively borrowed for the call.

#![allow(unsafe_code)]

/// The widest vector of any kernel: [`apply`] needs at least this many
/// bytes.
pub(super) const MIN_LEN: usize = 64;

/// Masks all of `buf` (at least [`MIN_LEN`] bytes) with the 4-byte pattern
/// `rot` (the key already rotated to `buf`'s phase). Returns false, having
/// done nothing, where there is no kernel for this target.
#[inline]
pub(super) fn apply(buf: &mut [u8], rot: [u8; 4]) -> bool {
    buf.len() >= MIN_LEN && imp::apply(buf, rot)
}

/// As [`apply`], with the target's baseline kernel (SSE2 on x86-64, NEON
/// on aarch64) and no detection: for buffers too short to gain from
/// wider vectors. Needs at least 16 bytes.
#[inline]
pub(super) fn apply_baseline(buf: &mut [u8], rot: [u8; 4]) -> bool {
    buf.len() >= 16 && imp::baseline(buf, rot)
}

/// `k` (a pattern as a native-endian word) as seen `n` bytes later.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", test))]
#[inline(always)]
fn rotate(k: u32, n: usize) -> u32 {
    u32::from_ne_bytes(super::mask::rotate(k.to_ne_bytes(), n))
}

/// From this many bytes on, kernels prefetch ahead.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const PREFETCH_MIN: usize = 16 << 10;

/// How far ahead kernels prefetch.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const PREFETCH_AHEAD: usize = 2048;

/// The body of a kernel of width `$w` bytes: `$load`/`$store` a vector at
/// a pointer, `$xor` two vectors, `$splat` a native-endian 4-byte pattern
/// into a vector. See the module docs for the shape.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
macro_rules! kernel {
    ($buf:ident, $k:ident, $w:expr, $load:expr, $store:expr, $xor:expr, $splat:expr, $prefetch:expr) => {{
        const W: usize = $w;
        let n = $buf.len();
        debug_assert!(n >= W);
        let p = $buf.as_mut_ptr();
        // The first aligned byte, at most W - 1 in.
        let start = p.addr().wrapping_neg() & (W - 1);
        let body = $splat(super::rotate($k, start));
        // SAFETY (all accesses): W <= n; the first and last vectors are at
        // 0 and n - W; body vectors at i with start <= i and i + W <= n.
        unsafe {
            let first = $load(p);
            let last = $load(p.add(n - W));
            let mut i = start;
            if start != 0 && start + W <= n {
                // The first vector is stored early, together with the first
                // aligned one (loaded before either store): a later load
                // of these bytes then finds both stores long retired
                // instead of stalling on a store still in flight.
                let a = $load(p.add(i));
                $store(p, $xor(first, $splat($k)));
                $store(p.add(i), $xor(a, body));
                i += W;
            } else if start != 0 {
                // No aligned vector fits: the first and the last cover all.
                $store(p, $xor(first, $splat($k)));
            }
            // Large buffers: ask for the lines 2 KiB ahead while working,
            // which keeps the L1 fed when the buffer streams from L2 or
            // memory. (A prefetch never faults; the address is only
            // computed, with wrapping arithmetic.)
            let prefetch = n - i > super::PREFETCH_MIN;
            while i + 4 * W <= n {
                if prefetch {
                    let mut l = 0;
                    while l < 4 * W {
                        $prefetch(p.wrapping_add(i + super::PREFETCH_AHEAD + l));
                        l += 64;
                    }
                }
                let a = $load(p.add(i));
                let b = $load(p.add(i + W));
                let c = $load(p.add(i + 2 * W));
                let d = $load(p.add(i + 3 * W));
                $store(p.add(i), $xor(a, body));
                $store(p.add(i + W), $xor(b, body));
                $store(p.add(i + 2 * W), $xor(c, body));
                $store(p.add(i + 3 * W), $xor(d, body));
                i += 4 * W;
            }
            while i + W <= n {
                $store(p.add(i), $xor($load(p.add(i)), body));
                i += W;
            }
            // The last vector last (its bytes may overlap the last aligned
            // vector, which had to be loaded first); skipped when the body
            // reached the end.
            if i != n {
                $store(p.add(n - W), $xor(last, $splat(super::rotate($k, n - W))));
            }
        }
        true
    }};
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use core::arch::x86_64::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    const UNKNOWN: u8 = 0;
    const SSE2: u8 = 1;
    const AVX2: u8 = 2;
    const AVX512: u8 = 3;

    static LEVEL: AtomicU8 = AtomicU8::new(UNKNOWN);

    #[cold]
    fn detect() -> u8 {
        let level = if std::is_x86_feature_detected!("avx512f") {
            AVX512
        } else if std::is_x86_feature_detected!("avx2") {
            AVX2
        } else {
            SSE2
        };
        LEVEL.store(level, Ordering::Relaxed);
        level
    }

    #[inline]
    pub(super) fn apply(buf: &mut [u8], rot: [u8; 4]) -> bool {
        let level = match LEVEL.load(Ordering::Relaxed) {
            UNKNOWN => detect(),
            l => l,
        };
        let k = u32::from_ne_bytes(rot);
        // SAFETY: each kernel's target feature was detected above (SSE2 is
        // part of the x86-64 baseline); `apply` checked the length.
        unsafe {
            match level {
                AVX512 => avx512(buf, k),
                AVX2 => avx2(buf, k),
                _ => sse2(buf, k),
            }
        }
    }

    #[inline]
    pub(super) fn baseline(buf: &mut [u8], rot: [u8; 4]) -> bool {
        // SAFETY: SSE2 is part of the x86-64 baseline; `apply_baseline`
        // checked the length.
        unsafe { sse2(buf, u32::from_ne_bytes(rot)) }
    }

    /// An x86 kernel: its name, target feature, vector width and the
    /// feature's unaligned load, unaligned store, XOR and 32-bit splat.
    macro_rules! x86_kernel {
        ($(#[$doc:meta])* $name:ident, $feature:literal, $w:literal,
         $load:ident, $store:ident, $xor:ident, $splat:ident) => {
            $(#[$doc])*
            #[target_feature(enable = $feature)]
            unsafe fn $name(buf: &mut [u8], k: u32) -> bool {
                kernel!(
                    buf,
                    k,
                    $w,
                    |p: *mut u8| $load(p.cast()),
                    |p: *mut u8, v| $store(p.cast(), v),
                    |a, b| $xor(a, b),
                    |k: u32| $splat(k as i32),
                    |p: *const u8| _mm_prefetch::<_MM_HINT_T0>(p.cast())
                )
            }
        };
    }

    x86_kernel!(
        /// # Safety
        /// The CPU must have AVX-512F; `buf` must hold at least 64 bytes.
        avx512, "avx512f", 64,
        _mm512_loadu_si512, _mm512_storeu_si512, _mm512_xor_si512, _mm512_set1_epi32
    );
    x86_kernel!(
        /// # Safety
        /// The CPU must have AVX2; `buf` must hold at least 32 bytes.
        avx2, "avx2", 32,
        _mm256_loadu_si256, _mm256_storeu_si256, _mm256_xor_si256, _mm256_set1_epi32
    );
    x86_kernel!(
        /// # Safety
        /// SSE2 is part of the x86-64 baseline; `buf` must hold at least
        /// 16 bytes.
        sse2, "sse2", 16,
        _mm_loadu_si128, _mm_storeu_si128, _mm_xor_si128, _mm_set1_epi32
    );

    /// Every kernel with its smallest length, for tests that must cover
    /// paths this CPU would not pick.
    #[cfg(test)]
    pub(crate) fn kernels() -> std::vec::Vec<super::Kernel> {
        let mut v: std::vec::Vec<super::Kernel> =
            std::vec![("sse2", 16, |b, k| unsafe { sse2(b, k) })];
        if std::is_x86_feature_detected!("avx2") {
            v.push(("avx2", 32, |b, k| unsafe { avx2(b, k) }));
        }
        if std::is_x86_feature_detected!("avx512f") {
            v.push(("avx512", 64, |b, k| unsafe { avx512(b, k) }));
        }
        v
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    use core::arch::aarch64::*;

    #[inline]
    pub(super) fn apply(buf: &mut [u8], rot: [u8; 4]) -> bool {
        // SAFETY: NEON is part of the aarch64 baseline; `apply` checked the
        // length.
        unsafe { neon(buf, u32::from_ne_bytes(rot)) }
    }

    #[inline]
    pub(super) fn baseline(buf: &mut [u8], rot: [u8; 4]) -> bool {
        apply(buf, rot)
    }

    /// # Safety
    /// NEON is part of the aarch64 baseline; `buf` must hold at least 16
    /// bytes.
    #[target_feature(enable = "neon")]
    unsafe fn neon(buf: &mut [u8], k: u32) -> bool {
        kernel!(
            buf,
            k,
            16,
            |p: *mut u8| vld1q_u8(p),
            |p: *mut u8, v| vst1q_u8(p, v),
            |a, b| veorq_u8(a, b),
            |k: u32| vreinterpretq_u8_u32(vdupq_n_u32(k)),
            |_: *const u8| {}
        )
    }

    #[cfg(test)]
    pub(crate) fn kernels() -> std::vec::Vec<super::Kernel> {
        std::vec![("neon", 16, |b, k| unsafe { neon(b, k) })]
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    #[inline]
    pub(super) fn apply(_buf: &mut [u8], _rot: [u8; 4]) -> bool {
        false
    }

    #[inline]
    pub(super) fn baseline(_buf: &mut [u8], _rot: [u8; 4]) -> bool {
        false
    }

    #[cfg(test)]
    pub(crate) fn kernels() -> std::vec::Vec<super::Kernel> {
        std::vec::Vec::new()
    }
}

/// A named kernel with the smallest buffer it takes, for tests.
#[cfg(test)]
type Kernel = (&'static str, usize, fn(&mut [u8], u32) -> bool);

#[cfg(test)]
mod tests {
    use super::imp::kernels;

    /// Every kernel on `src[start..start + len]` for every `len` in `lens`
    /// and every start in `starts`, at every phase, against the byte loop.
    /// The whole buffer is compared, so a stray write outside the slice
    /// fails too.
    fn check(src_len: u32, starts: &[usize], lens: &[usize]) {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let src: std::vec::Vec<u8> = (0..src_len).map(|i| (i * 7 + 3) as u8).collect();
        for (name, min, kernel) in kernels() {
            for &start in starts {
                for &len in lens.iter().filter(|&&l| l >= min) {
                    for phase in 0..4 {
                        let rot: [u8; 4] = core::array::from_fn(|i| key[(phase + i) & 3]);
                        let mut fast = src.clone();
                        let mut slow = src.clone();
                        let k = u32::from_ne_bytes(rot);
                        assert!(kernel(&mut fast[start..start + len], k));
                        crate::wire::apply_mask_bytewise(&mut slow[start..start + len], key, phase);
                        assert!(fast == slow, "{name} start {start} len {len} phase {phase}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_matches_the_byte_loop() {
        // Every alignment of the start within a 64-byte line.
        let starts: std::vec::Vec<usize> = (0..64).collect();
        let lens: std::vec::Vec<usize> = (16..=600).chain([1023, 1024, 1025]).collect();
        check(1200, &starts, &lens);
    }

    /// Past `PREFETCH_MIN` the kernels take their prefetching loop.
    #[test]
    fn every_kernel_matches_the_byte_loop_on_large_buffers() {
        check(70_000, &[0, 1, 17, 63], &[16_385, 20_000, 65_539, 69_000]);
    }

    #[test]
    fn rotate_matches_the_byte_pattern() {
        let rot = [1u8, 2, 3, 4];
        for n in 0..8 {
            let want: [u8; 4] = core::array::from_fn(|i| rot[(n + i) & 3]);
            assert_eq!(
                super::rotate(u32::from_ne_bytes(rot), n),
                u32::from_ne_bytes(want)
            );
        }
    }
}

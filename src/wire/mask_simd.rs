//! Vector masking for hosts (feature `std`), chosen at run time.
//!
//! x86-64: AVX-512F, AVX2 or SSE2 (the baseline), by
//! `is_x86_feature_detected!`, detected once and cached. aarch64: NEON (the
//! baseline). Each kernel masks the longest prefix that is a whole number of
//! its vectors and returns its length; [`super::mask::apply_mask`] does the
//! rest with the safe word loop. Vector widths are multiples of 4, so the
//! key phase of the rest is unchanged.
//!
//! # Safety
//!
//! This module and `adapter::lwip` are the only places with `unsafe`.
//! Here it is used for exactly two things:
//! - calling `#[target_feature]` functions, only after the feature was
//!   detected on this CPU (or is part of the target's baseline);
//! - unaligned vector loads and stores through `buf.as_mut_ptr()` at
//!   offsets `i` with `i + WIDTH <= len`, so every access is inside `buf`,
//!   which is exclusively borrowed for the call.

#![allow(unsafe_code)]

/// Masks a prefix of `buf` with the 4-byte pattern `rot` (the key already
/// rotated to `buf`'s phase); returns how many bytes it masked.
#[inline]
pub(super) fn apply(buf: &mut [u8], rot: [u8; 4]) -> usize {
    imp::apply(buf, rot)
}

/// A named kernel, for tests.
#[cfg(test)]
type Kernel = (&'static str, fn(&mut [u8], [u8; 4]) -> usize);

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
    pub(super) fn apply(buf: &mut [u8], rot: [u8; 4]) -> usize {
        let level = match LEVEL.load(Ordering::Relaxed) {
            UNKNOWN => detect(),
            l => l,
        };
        let k = i32::from_ne_bytes(rot);
        // SAFETY: each kernel's target feature was detected above (SSE2 is
        // part of the x86-64 baseline).
        unsafe {
            match level {
                AVX512 => avx512(buf, k),
                AVX2 => avx2(buf, k),
                _ => sse2(buf, k),
            }
        }
    }

    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512(buf: &mut [u8], k: i32) -> usize {
        let key = _mm512_set1_epi32(k);
        let n = buf.len() / 64 * 64;
        let p = buf.as_mut_ptr();
        let mut i = 0;
        // SAFETY (all accesses): i + 64 * m <= n <= buf.len().
        while i + 256 <= n {
            unsafe {
                let a = _mm512_loadu_si512(p.add(i).cast());
                let b = _mm512_loadu_si512(p.add(i + 64).cast());
                let c = _mm512_loadu_si512(p.add(i + 128).cast());
                let d = _mm512_loadu_si512(p.add(i + 192).cast());
                _mm512_storeu_si512(p.add(i).cast(), _mm512_xor_si512(a, key));
                _mm512_storeu_si512(p.add(i + 64).cast(), _mm512_xor_si512(b, key));
                _mm512_storeu_si512(p.add(i + 128).cast(), _mm512_xor_si512(c, key));
                _mm512_storeu_si512(p.add(i + 192).cast(), _mm512_xor_si512(d, key));
            }
            i += 256;
        }
        while i < n {
            unsafe {
                let a = _mm512_loadu_si512(p.add(i).cast());
                _mm512_storeu_si512(p.add(i).cast(), _mm512_xor_si512(a, key));
            }
            i += 64;
        }
        n
    }

    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn avx2(buf: &mut [u8], k: i32) -> usize {
        let key = _mm256_set1_epi32(k);
        let n = buf.len() / 32 * 32;
        let p = buf.as_mut_ptr();
        let mut i = 0;
        // SAFETY (all accesses): i + 32 * m <= n <= buf.len().
        while i + 128 <= n {
            unsafe {
                let a = _mm256_loadu_si256(p.add(i).cast());
                let b = _mm256_loadu_si256(p.add(i + 32).cast());
                let c = _mm256_loadu_si256(p.add(i + 64).cast());
                let d = _mm256_loadu_si256(p.add(i + 96).cast());
                _mm256_storeu_si256(p.add(i).cast(), _mm256_xor_si256(a, key));
                _mm256_storeu_si256(p.add(i + 32).cast(), _mm256_xor_si256(b, key));
                _mm256_storeu_si256(p.add(i + 64).cast(), _mm256_xor_si256(c, key));
                _mm256_storeu_si256(p.add(i + 96).cast(), _mm256_xor_si256(d, key));
            }
            i += 128;
        }
        while i < n {
            unsafe {
                let a = _mm256_loadu_si256(p.add(i).cast());
                _mm256_storeu_si256(p.add(i).cast(), _mm256_xor_si256(a, key));
            }
            i += 32;
        }
        n
    }

    /// # Safety
    /// SSE2 is part of the x86-64 baseline; kept `unsafe` for uniformity.
    #[target_feature(enable = "sse2")]
    unsafe fn sse2(buf: &mut [u8], k: i32) -> usize {
        let key = _mm_set1_epi32(k);
        let n = buf.len() / 16 * 16;
        let p = buf.as_mut_ptr();
        let mut i = 0;
        // SAFETY (all accesses): i + 16 <= n <= buf.len().
        while i < n {
            unsafe {
                let a = _mm_loadu_si128(p.add(i).cast());
                _mm_storeu_si128(p.add(i).cast(), _mm_xor_si128(a, key));
            }
            i += 16;
        }
        n
    }

    /// Every kernel, for tests that must cover paths this CPU would not
    /// pick.
    #[cfg(test)]
    pub(crate) fn kernels() -> std::vec::Vec<super::Kernel> {
        let mut v: std::vec::Vec<super::Kernel> =
            std::vec![("sse2", |b, r| unsafe { sse2(b, i32::from_ne_bytes(r)) })];
        if std::is_x86_feature_detected!("avx2") {
            v.push(("avx2", |b, r| unsafe { avx2(b, i32::from_ne_bytes(r)) }));
        }
        if std::is_x86_feature_detected!("avx512f") {
            v.push(("avx512", |b, r| unsafe { avx512(b, i32::from_ne_bytes(r)) }));
        }
        v
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    use core::arch::aarch64::*;

    #[inline]
    pub(super) fn apply(buf: &mut [u8], rot: [u8; 4]) -> usize {
        // SAFETY: NEON is part of the aarch64 baseline.
        unsafe { neon(buf, rot) }
    }

    /// # Safety
    /// NEON is part of the aarch64 baseline.
    #[target_feature(enable = "neon")]
    unsafe fn neon(buf: &mut [u8], rot: [u8; 4]) -> usize {
        let pattern = [
            rot[0], rot[1], rot[2], rot[3], rot[0], rot[1], rot[2], rot[3], rot[0], rot[1], rot[2],
            rot[3], rot[0], rot[1], rot[2], rot[3],
        ];
        let n = buf.len() / 16 * 16;
        let p = buf.as_mut_ptr();
        let mut i = 0;
        // SAFETY (all accesses): i + 16 <= n <= buf.len(); `pattern` is 16
        // bytes.
        unsafe {
            let key = vld1q_u8(pattern.as_ptr());
            while i < n {
                let a = vld1q_u8(p.add(i));
                vst1q_u8(p.add(i), veorq_u8(a, key));
                i += 16;
            }
        }
        n
    }

    #[cfg(test)]
    pub(crate) fn kernels() -> std::vec::Vec<super::Kernel> {
        std::vec![("neon", |b, r| unsafe { neon(b, r) })]
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    #[inline]
    pub(super) fn apply(_buf: &mut [u8], _rot: [u8; 4]) -> usize {
        0
    }

    #[cfg(test)]
    pub(crate) fn kernels() -> std::vec::Vec<super::Kernel> {
        std::vec::Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::imp::kernels;

    #[test]
    fn every_kernel_matches_the_byte_loop() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let src: std::vec::Vec<u8> = (0..1200u32).map(|i| (i * 7 + 3) as u8).collect();
        for (name, kernel) in kernels() {
            for start in 0..8 {
                for len in (0..=600).chain([1023, 1024, 1025]) {
                    for phase in 0..4 {
                        let rot = [
                            key[phase],
                            key[(phase + 1) & 3],
                            key[(phase + 2) & 3],
                            key[(phase + 3) & 3],
                        ];
                        let mut fast = src.clone();
                        let mut slow = src.clone();
                        let n = kernel(&mut fast[start..start + len], rot);
                        assert!(n <= len && n % 4 == 0, "{name}: masked {n} of {len}");
                        crate::wire::apply_mask_bytewise(&mut slow[start..start + n], key, phase);
                        assert_eq!(fast, slow, "{name} start {start} len {len} phase {phase}");
                    }
                }
            }
        }
    }
}

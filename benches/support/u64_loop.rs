//! The plain masking reference both benchmark suites compare against
//! (`benches/mask.rs` and `benches/peers`).

/// XOR eight bytes at a time: no blocking, no explicit SIMD (the compiler
/// may still vectorize it), the remainder byte by byte.
pub fn u64_loop(buf: &mut [u8], key: [u8; 4]) {
    let k = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ k).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

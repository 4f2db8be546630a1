//! The input both benchmark suites decode (`benches/conn.rs` and
//! `benches/peers`): `count` binary frames of `len` bytes, masked (client
//! to server, a different key per frame) or not.

use sansws::wire::{FrameHeader, OpCode, Rsv, apply_mask};

/// `count` binary frames of `len` bytes, masked or not.
pub fn frames(count: usize, len: usize, masked: bool) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let mut out = Vec::with_capacity(count * (len + 14));
    for i in 0..count {
        let mask = masked.then(|| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes());
        let h = FrameHeader {
            fin: true,
            rsv: Rsv::NONE,
            opcode: OpCode::Binary,
            mask,
            payload_len: len as u64,
        };
        let mut hdr = [0u8; 14];
        let n = h.emit(&mut hdr).unwrap();
        out.extend_from_slice(&hdr[..n]);
        let at = out.len();
        out.extend_from_slice(&payload);
        if let Some(k) = mask {
            apply_mask(&mut out[at..], k, 0);
        }
    }
    out
}

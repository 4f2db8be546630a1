//! Frame header parser: no panic; a parsed header validates, re-emits in at
//! most as many bytes and parses back to itself; every prefix of a complete
//! header is partial with a truthful `needed`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansws::Status;
use sansws::wire::{CloseFrame, FrameHeader, ParseOptions, Rsv, apply_mask, apply_mask_bytewise};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else { return };
    let opts = ParseOptions {
        allowed_rsv: Rsv::from_bits(flags),
        strict_length: flags & 0x8 != 0,
    };
    match FrameHeader::parse(bytes, &opts) {
        Ok(Status::Complete((h, n))) => {
            assert!(n <= bytes.len() && n <= FrameHeader::MAX_LEN);
            assert_eq!(h.validate(&opts), Ok(()));
            let mut out = [0u8; FrameHeader::MAX_LEN];
            let m = h.emit(&mut out).expect("fits");
            assert!(m <= n);
            assert_eq!(FrameHeader::parse(&out[..m], &opts), Ok(Status::Complete((h, m))));
            for cut in 0..n {
                match FrameHeader::parse(&bytes[..cut], &opts) {
                    Ok(Status::Partial { needed }) => assert!(needed >= 1 && cut + needed <= n),
                    other => panic!("prefix {cut} of a complete header gave {other:?}"),
                }
            }
            // The payload, as far as present: unmask and read as a close body.
            let end = bytes.len().min(n.saturating_add(h.payload_len.min(1 << 16) as usize));
            let mut payload = bytes[n..end].to_vec();
            let mut slow = payload.clone();
            if let Some(key) = h.mask {
                let phase = apply_mask(&mut payload, key, flags as usize);
                assert_eq!(phase, apply_mask_bytewise(&mut slow, key, flags as usize));
                assert_eq!(payload, slow);
            }
            let _ = CloseFrame::parse(&payload);
        }
        Ok(Status::Partial { needed }) => assert!(needed >= 1 && needed <= FrameHeader::MAX_LEN),
        Err(e) => assert_eq!(e.close_code().0, 1002),
    }
});

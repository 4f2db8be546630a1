//! Property tests for the wire and handshake layers: emit-then-parse round
//! trips, chunked masking, and arbitrary bytes that never panic.

use proptest::prelude::*;
use sansws::Status;
use sansws::handshake::{
    ClientHandshake, ClientRequest, EMPTY_HEADER, Limits, Outcome, parse_request,
};
use sansws::wire::{
    CloseCode, CloseFrame, FrameHeader, OpCode, ParseOptions, Rsv, apply_mask, apply_mask_bytewise,
};

fn opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<bool>(),
        0u8..8,
        opcode(),
        any::<Option<[u8; 4]>>(),
        prop_oneof![
            0u64..=125,
            126u64..=65535,
            65536u64..=FrameHeader::MAX_PAYLOAD_LEN
        ],
    )
        .prop_map(|(fin, rsv, opcode, mask, len)| {
            let control = opcode.is_control();
            FrameHeader {
                fin: fin || control,
                rsv: Rsv::from_bits(rsv),
                opcode,
                mask,
                payload_len: if control { len % 126 } else { len },
            }
        })
}

proptest! {
    #[test]
    fn header_emit_then_parse_is_identity(h in header(), split in any::<prop::sample::Index>()) {
        let opts = ParseOptions { allowed_rsv: Rsv::from_bits(0b111), strict_length: true };
        prop_assert_eq!(h.validate(&opts), Ok(()));
        let mut buf = [0u8; FrameHeader::MAX_LEN];
        let n = h.emit(&mut buf).unwrap();
        prop_assert_eq!(n, h.encoded_len());
        prop_assert_eq!(FrameHeader::parse(&buf[..n], &opts), Ok(Status::Complete((h, n))));
        // Any prefix is partial, and says truthfully how much is missing.
        let cut = split.index(n);
        match FrameHeader::parse(&buf[..cut], &opts) {
            Ok(Status::Partial { needed }) => prop_assert!(needed >= 1 && cut + needed <= n),
            other => prop_assert!(false, "prefix {} gave {:?}", cut, other),
        }
    }

    #[test]
    fn header_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..20), strict: bool, rsv in 0u8..8) {
        let opts = ParseOptions { allowed_rsv: Rsv::from_bits(rsv), strict_length: strict };
        if let Ok(Status::Complete((h, n))) = FrameHeader::parse(&bytes, &opts) {
            prop_assert!(n <= bytes.len() && n <= FrameHeader::MAX_LEN);
            prop_assert_eq!(h.validate(&opts), Ok(()));
            // Re-emitting gives the same header (perhaps in a shorter form).
            let mut buf = [0u8; FrameHeader::MAX_LEN];
            let m = h.emit(&mut buf).unwrap();
            prop_assert!(m <= n);
            prop_assert_eq!(FrameHeader::parse(&buf[..m], &opts), Ok(Status::Complete((h, m))));
        }
    }

    #[test]
    fn chunked_masking_equals_whole(
        data in prop::collection::vec(any::<u8>(), 0..600),
        key: [u8; 4],
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        offset in 0usize..8,
    ) {
        let mut whole = data.clone();
        apply_mask_bytewise(&mut whole, key, 0);
        let mut chunked = [vec![0u8; offset], data].concat();
        let body = &mut chunked[offset..];
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        points.push(0);
        points.push(body.len());
        points.sort_unstable();
        let mut phase = 0;
        for w in points.windows(2) {
            phase = apply_mask(&mut body[w[0]..w[1]], key, phase);
        }
        prop_assert_eq!(phase, body.len() % 4);
        prop_assert_eq!(&chunked[offset..], &whole[..]);
    }

    #[test]
    fn apply_mask_equals_the_byte_loop(
        len in 0usize..5000,
        offset in 0usize..64,
        phase in 0usize..8,
        key: [u8; 4],
        seed: u8,
    ) {
        // Every vector path (and the word loop around it) at any alignment.
        let src: Vec<u8> = (0..len + offset).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
        let mut fast = src.clone();
        let mut slow = src;
        let a = apply_mask(&mut fast[offset..], key, phase);
        let b = apply_mask_bytewise(&mut slow[offset..], key, phase);
        prop_assert_eq!(a, b);
        prop_assert_eq!(fast, slow);
    }

    #[test]
    fn close_payload_round_trip(code in 0u16..=u16::MAX, reason in "\\PC{0,40}") {
        match CloseFrame::new(CloseCode(code), &reason) {
            Ok(f) => {
                let mut buf = [0u8; 125];
                let n = f.emit(&mut buf).unwrap();
                prop_assert_eq!(CloseFrame::parse(&buf[..n]), Ok(Some(f)));
            }
            Err(_) => prop_assert!(!CloseCode(code).is_allowed_on_wire() || reason.len() > 123),
        }
    }

    #[test]
    fn close_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..130)) {
        let _ = CloseFrame::parse(&bytes);
    }

    #[test]
    fn request_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), max in 0usize..400) {
        let mut headers = [EMPTY_HEADER; 8];
        if let Ok(Status::Complete(o)) = parse_request(&bytes, &mut headers, &Limits { max_len: max }) {
            let len = match o { Outcome::Upgrade(r) => r.len(), Outcome::Http(r) => r.len() };
            prop_assert!(len <= bytes.len() && len <= max);
        }
    }

    #[test]
    fn response_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let hs = ClientHandshake::new([7; 16]);
        let mut headers = [EMPTY_HEADER; 8];
        let req = ClientRequest::new("h", "/");
        let _ = hs.parse_response(&req, &bytes, &mut headers, &Limits::DEFAULT);
    }

    #[test]
    fn client_request_is_accepted_by_server(
        nonce: [u8; 16],
        path in "/[a-z0-9/._~-]{0,30}",
        port: u16,
        secure: bool,
        protocols in prop::collection::vec("[a-z][a-z0-9.]{0,8}", 0..4),
    ) {
        let protocols: Vec<&str> = protocols.iter().map(String::as_str).collect();
        let hs = ClientHandshake::new(nonce);
        let req = ClientRequest { port, secure, protocols: &protocols, ..ClientRequest::new("device.local", &path) };
        let mut buf = [0u8; 1024];
        let n = hs.write_request(&req, &mut buf).unwrap();
        let mut headers = [EMPTY_HEADER; 16];
        match parse_request(&buf[..n], &mut headers, &Limits::DEFAULT) {
            Ok(Status::Complete(Outcome::Upgrade(r))) => {
                prop_assert_eq!(r.path(), path.as_str());
                prop_assert_eq!(r.accept_key(), hs.expected_accept());
                prop_assert_eq!(r.protocols().collect::<Vec<_>>(), protocols);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

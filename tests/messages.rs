#![cfg(feature = "alloc")]
//! Round trips through the whole core: arbitrary messages, sent with
//! arbitrary fragmentation, delivered in arbitrary chunks, come back whole
//! and identical through the assembler.

mod support;

use proptest::prelude::*;
use sansws::conn::{Config, Connection, DataKind, MaskKeys};
use sansws::message::{Assembler, Message, MessageError};
use support::*;

#[derive(Debug, Clone)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        "\\PC{0,60}".prop_map(Msg::Text),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Msg::Binary),
    ]
}

/// Sends `m` as fragments cut at `cuts` (positions into the payload).
fn send<K: MaskKeys>(conn: &mut Connection<K>, m: &Msg, cuts: &[usize], out: &mut Vec<u8>) {
    let (kind, bytes) = match m {
        Msg::Text(s) => (DataKind::Text, s.as_bytes()),
        Msg::Binary(b) => (DataKind::Binary, &b[..]),
    };
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.push(bytes.len());
    let mut buf = vec![0u8; bytes.len() + 14 * (points.len() + 1)];
    let mut start = 0;
    for (i, &end) in points.iter().enumerate() {
        let fin = i + 1 == points.len();
        let n = conn
            .send_fragment(kind, &bytes[start..end], fin, &mut buf)
            .unwrap();
        out.extend_from_slice(&buf[..n]);
        start = end;
    }
}

fn receive<K: MaskKeys>(
    conn: &mut Connection<K>,
    bytes: &[u8],
    chunk_cuts: &[usize],
) -> Vec<Message> {
    let mut cuts: Vec<usize> = chunk_cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut buf = bytes.to_vec();
    let mut asm = Assembler::new(1 << 20);
    let mut msgs = Vec::new();
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(bytes.len())) {
        let mut at = start;
        while at < end {
            let r = conn.handle_read(&mut buf[at..end]).unwrap();
            at += r.consumed;
            if let Some(e) = r.event {
                msgs.extend(asm.push(&e).unwrap());
            }
        }
        start = end;
    }
    msgs
}

fn expected(m: &Msg) -> Message {
    match m {
        Msg::Text(s) => Message::text(s.clone()),
        Msg::Binary(b) => Message::Binary(b.clone().into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn client_to_server_round_trip(
        msgs in prop::collection::vec((msg(), prop::collection::vec(any::<usize>(), 0..4)), 0..8),
        chunks in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut c = client(Config::DEFAULT);
        let mut wire = Vec::new();
        for (m, cuts) in &msgs {
            send(&mut c, m, cuts, &mut wire);
        }
        let got = receive(&mut server(Config::DEFAULT), &wire, &chunks);
        prop_assert_eq!(got, msgs.iter().map(|(m, _)| expected(m)).collect::<Vec<_>>());
    }

    #[test]
    fn server_to_client_round_trip_with_interleaved_pings(
        msgs in prop::collection::vec((msg(), prop::collection::vec(any::<usize>(), 0..4)), 0..8),
        chunks in prop::collection::vec(any::<usize>(), 0..12),
        max_frame in 1usize..50,
    ) {
        let mut s = server(Config { max_send_frame_len: max_frame, ..Config::DEFAULT });
        let mut wire = Vec::new();
        let mut want = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        for (i, (m, cuts)) in msgs.iter().enumerate() {
            if i % 2 == 0 {
                // Whole messages, split at max_frame by the connection.
                let n = match m {
                    Msg::Text(t) => s.send_text(t, &mut buf).unwrap(),
                    Msg::Binary(b) => s.send_binary(b, &mut buf).unwrap(),
                };
                wire.extend_from_slice(&buf[..n]);
            } else {
                send(&mut s, m, cuts, &mut wire);
            }
            want.push(expected(m));
            s.ping(&[i as u8]).unwrap();
            wire.extend(drain(&mut s, sansws::conn::Instant::ZERO));
            want.push(Message::Ping(vec![i as u8].into()));
        }
        let got = receive(&mut client(Config::DEFAULT), &wire, &chunks);
        prop_assert_eq!(got, want);
    }
}

#[test]
fn assembler_checks_its_limit_before_growing() {
    let mut asm = Assembler::new(100);
    let bytes = cframe(sansws::wire::OpCode::Binary, true, &[7; 101]);
    let mut conn = server(Config::DEFAULT);
    let mut input = bytes[..14].to_vec();
    let r = conn.handle_read(&mut input).unwrap();
    // The first chunk is only 6 bytes, yet the frame announces 101.
    let e = r.event.unwrap();
    assert_eq!(
        asm.push(&e),
        Err(MessageError::TooLarge {
            len: 101,
            limit: 100
        })
    );
    assert_eq!(asm.pending(), 0);
    assert_eq!(
        MessageError::TooLarge { len: 0, limit: 0 }.close_code().0,
        1009
    );
}

#[test]
fn assembler_rejects_chunks_out_of_order() {
    let bytes = [
        cframe(sansws::wire::OpCode::Text, false, b"ab"),
        cframe(sansws::wire::OpCode::Continuation, true, b"cd"),
    ]
    .concat();
    let mut conn = server(Config::DEFAULT);
    let mut input = bytes.clone();
    let mut asm = Assembler::new(100);
    let r = conn.handle_read(&mut input).unwrap();
    let consumed = r.consumed;
    let _first = r.event.unwrap();
    // Skip the first event: the continuation does not continue anything.
    let r = conn.handle_read(&mut input[consumed..]).unwrap();
    assert_eq!(asm.push(&r.event.unwrap()), Err(MessageError::OutOfOrder));
}

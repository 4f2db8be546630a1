//! Sends that cannot corrupt the stream: a regression test for each trap
//! found by using the library (issue 11), on the core and through the
//! adapters that users call.

mod support;

use sansws::conn::Config;
use sansws::conn::{DataKind, Event, Instant, MessagePart, SendError, State};
use sansws::wire::{FrameHeader, MAX_CONTROL_FRAME_LEN, OpCode};
use support::{cframe, client, frames_in, server, sframe};

const TEXT: DataKind = DataKind::Text;
const BINARY: DataKind = DataKind::Binary;

fn fragment(kind: DataKind, fin: bool) -> MessagePart {
    MessagePart::Fragment { kind, fin }
}

/// "AAA" + "BBB" must never reach the peer as one message: every whole
/// message send is refused while a fragmented message is open, text or
/// binary, on every path (into a buffer, in place, header only).
#[test]
fn a_whole_message_is_refused_while_a_fragmented_one_is_open() {
    for open in [TEXT, BINARY] {
        let mut c = client(Config::DEFAULT);
        let mut out = [0u8; 64];
        let mut header = [0u8; FrameHeader::MAX_LEN];
        c.send_fragment(open, b"AAA", false, &mut out).unwrap();
        assert_eq!(
            c.send_text("BBB", &mut out),
            Err(SendError::FragmentInProgress)
        );
        assert_eq!(
            c.send_binary(b"BBB", &mut out),
            Err(SendError::FragmentInProgress)
        );
        for kind in [TEXT, BINARY] {
            let mut p = *b"BBB";
            assert_eq!(
                c.encode_in_place(MessagePart::Whole(kind), &mut p, &mut header),
                Err(SendError::FragmentInProgress)
            );
            assert_eq!(p, *b"BBB", "nothing masked");
            assert_eq!(
                c.encode_header(MessagePart::Whole(kind), 3, &mut header),
                Err(SendError::FragmentInProgress)
            );
        }
        // The other type's fragment is its own error, named as such.
        let other = if open == TEXT { BINARY } else { TEXT };
        assert_eq!(
            c.send_fragment(other, b"x", true, &mut out),
            Err(SendError::FragmentKind)
        );
        // The message still ends as it should, and then whole messages go.
        let mut wire = out[..0].to_vec();
        let n = c.send_fragment(open, b"CCC", true, &mut out).unwrap();
        wire.extend_from_slice(&out[..n]);
        let n = c.send_text("BBB", &mut out).unwrap();
        wire.extend_from_slice(&out[..n]);
        assert_eq!(
            frames_in(&wire),
            [
                (OpCode::Continuation, true, b"CCC".to_vec()),
                (OpCode::Text, true, b"BBB".to_vec()),
            ]
        );
    }
}

/// While the caller streams a frame's payload, no pong, ping or close may
/// land inside it, and no other frame may start.
#[test]
fn no_control_frame_lands_inside_a_streamed_payload() {
    let mut c = client(Config::DEFAULT);
    let mut header = [0u8; FrameHeader::MAX_LEN];
    let start = c
        .encode_header(MessagePart::Whole(BINARY), 10, &mut header)
        .unwrap();
    let mut wire = header[..start.header_len].to_vec();
    // The server pings, and we start a close, in the middle of the payload.
    let mut ping = sframe(OpCode::Ping, true, b"p");
    let r = c.handle_read(&mut ping).unwrap();
    assert!(matches!(r.event, Some(Event::Ping(_))));
    c.close(sansws::wire::CloseCode::NORMAL, "bye").unwrap();
    let mut out = [0u8; MAX_CONTROL_FRAME_LEN];
    assert!(!c.wants_transmit());
    assert_eq!(c.poll_transmit(Instant::ZERO, &mut out), Ok(None));
    assert_eq!(
        c.send_binary(b"x", &mut out),
        Err(SendError::Closed),
        "closing: no more data"
    );
    assert_eq!(c.payload_owed(), 10);
    // The payload in two chunks, masked by the connection at its offset.
    let mut a = *b"0123";
    assert_eq!(c.mask_payload(&mut a), Ok(6));
    wire.extend_from_slice(&a);
    assert_eq!(c.poll_transmit(Instant::ZERO, &mut out), Ok(None));
    let mut b = *b"456789";
    assert_eq!(c.mask_payload(&mut b), Ok(0));
    wire.extend_from_slice(&b);
    // Now the close (the pong was dropped by our close).
    while let Some(n) = c.poll_transmit(Instant::ZERO, &mut out).unwrap() {
        wire.extend_from_slice(&out[..n]);
    }
    assert_eq!(c.state(), State::CloseSent);
    let frames = frames_in(&wire);
    assert_eq!(
        frames,
        [
            (OpCode::Binary, true, b"0123456789".to_vec()),
            (OpCode::Close, true, b"\x03\xe8bye".to_vec()),
        ]
    );
}

/// Other data sends wait for the streamed payload, with an error that
/// says so; a payload longer than announced is refused and not counted.
#[test]
fn data_sends_wait_for_the_payload_owed() {
    let mut s = server(Config::DEFAULT);
    let mut header = [0u8; FrameHeader::MAX_LEN];
    let mut out = [0u8; 64];
    s.encode_header(fragment(TEXT, false), 4, &mut header)
        .unwrap();
    let pending = Err(SendError::PayloadPending { owed: 4 });
    assert_eq!(s.send_text("x", &mut out), pending);
    assert_eq!(s.send_fragment(TEXT, b"x", true, &mut out), pending);
    assert_eq!(
        s.encode_header(fragment(TEXT, true), 1, &mut header),
        pending.map(|_| unreachable!())
    );
    assert_eq!(
        s.payload_written(5),
        Err(SendError::PayloadOverrun { owed: 4 })
    );
    assert_eq!(s.payload_written(4), Ok(0));
    assert_eq!(s.payload_written(1), Err(SendError::NoPayloadOwed));
    // The fragmented message is still open after its first frame.
    assert_eq!(
        s.send_text("x", &mut out),
        Err(SendError::FragmentInProgress)
    );
    assert!(s.send_fragment(TEXT, b"!", true, &mut out).is_ok());
}

/// An event borrows only the input: a ping's payload goes straight back
/// in a pong (or a message) with the connection borrowed again.
#[test]
fn a_ping_payload_is_sent_back_without_a_copy() {
    let mut s = server(Config {
        auto_pong: false,
        ..Config::DEFAULT
    });
    let mut input = cframe(OpCode::Ping, true, b"beat");
    let r = s.handle_read(&mut input).unwrap();
    let Some(Event::Ping(p)) = r.event else {
        panic!("{:?}", r.event)
    };
    s.pong(&p).unwrap();
    let mut out = [0u8; MAX_CONTROL_FRAME_LEN];
    let n = s.poll_transmit(Instant::ZERO, &mut out).unwrap().unwrap();
    assert_eq!(
        frames_in(&out[..n]),
        [(OpCode::Pong, true, b"beat".to_vec())]
    );
}

/// Found in a trial: after the transport ended, a pong queued for a ping
/// was still handed out (to a dead transport). Once a connection is closed
/// or closing, nothing but our close is sent.
#[test]
fn no_pong_or_ping_after_the_end_or_a_close() {
    let mut out = [0u8; MAX_CONTROL_FRAME_LEN];
    // The transport ends with a pong and a ping waiting.
    let mut s = server(Config::DEFAULT);
    let mut ping = cframe(OpCode::Ping, true, b"p");
    s.handle_read(&mut ping).unwrap();
    s.ping(b"mine").unwrap();
    s.handle_eof();
    assert!(s.is_closed());
    assert!(!s.wants_transmit());
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut out), Ok(None));
    // The peer closes with a pong waiting: only the echo goes out.
    let mut s = server(Config::DEFAULT);
    let mut input = cframe(OpCode::Ping, true, b"p");
    input.extend(cframe(OpCode::Close, true, b"\x03\xe8"));
    let consumed = s.handle_read(&mut input).unwrap().consumed;
    s.handle_read(&mut input[consumed..]).unwrap();
    let mut wire = Vec::new();
    while let Some(n) = s.poll_transmit(Instant::ZERO, &mut out).unwrap() {
        wire.extend_from_slice(&out[..n]);
    }
    assert_eq!(
        frames_in(&wire),
        [(OpCode::Close, true, b"\x03\xe8".to_vec())]
    );
}

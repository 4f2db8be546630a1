//! The Connection across roles: messages, fragments, control frames, close
//! in both orders, timers, every violation with its close code, limits.
//! Every receive test runs whole, at every split point and one byte at a
//! time (`receive_every_way`).

mod support;

use sansws::conn::{
    Config, DataKind, Duration, End, Instant, MessagePart, ProtocolError, SendError, State,
};
use sansws::wire::{CloseCode, FrameError, OpCode, ParseOptions, Rsv};
use support::*;

fn srv() -> Server {
    server(Config::DEFAULT)
}

fn cli() -> Client {
    client(Config::DEFAULT)
}

fn data(
    kind: DataKind,
    payload: &[u8],
    offset: usize,
    frame_len: usize,
    message_offset: usize,
    fin: bool,
) -> Ev {
    Ev::Data {
        kind,
        payload: payload.to_vec(),
        offset,
        frame_len,
        message_offset,
        fin,
    }
}

#[test]
fn rfc_5_7_frames_received_by_both_roles() {
    // Server: the masked "Hello" of RFC 6455 section 5.7.
    let masked = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(receive_every_way(srv, &masked), [Ev::text("Hello")]);
    // Client: unmasked "Hello", fragmented "Hel"+"lo", ping, 256 B binary.
    let mut stream = vec![0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
    stream.extend_from_slice(&[0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o']);
    stream.extend_from_slice(&[0x89, 0x05, b'H', b'e', b'l', b'l', b'o']);
    stream.extend_from_slice(&[0x82, 0x7e, 0x01, 0x00]);
    stream.extend_from_slice(&[0xab; 256]);
    assert_eq!(
        receive_every_way(cli, &stream),
        [
            Ev::text("Hello"),
            data(DataKind::Text, b"Hel", 0, 3, 0, false),
            data(DataKind::Text, b"lo", 0, 2, 3, true),
            Ev::Ping(b"Hello".to_vec()),
            Ev::binary(&[0xab; 256]),
        ]
    );
}

#[test]
fn every_kind_of_message_and_fragmentation() {
    let text = "κόσμε, a little text";
    let mut s = Vec::new();
    s.extend(cframe(OpCode::Text, true, text.as_bytes()));
    s.extend(cframe(OpCode::Binary, true, &[0, 1, 2, 255]));
    s.extend(cframe(OpCode::Text, true, b""));
    s.extend(cframe(OpCode::Binary, true, b""));
    // Fragmented text with a code point split between fragments.
    let bytes = "añb".as_bytes();
    s.extend(cframe(OpCode::Text, false, &bytes[..2]));
    s.extend(cframe(OpCode::Continuation, false, &bytes[2..3]));
    s.extend(cframe(OpCode::Continuation, false, b""));
    s.extend(cframe(OpCode::Continuation, true, &bytes[3..]));
    // Fragmented binary.
    s.extend(cframe(OpCode::Binary, false, b"ab"));
    s.extend(cframe(OpCode::Continuation, true, b"cd"));
    assert_eq!(
        receive_every_way(srv, &s),
        [
            Ev::text(text),
            Ev::binary(&[0, 1, 2, 255]),
            Ev::text(""),
            Ev::binary(b""),
            data(DataKind::Text, &bytes[..2], 0, 2, 0, false),
            data(DataKind::Text, &bytes[2..3], 0, 1, 2, false),
            data(DataKind::Text, b"", 0, 0, 3, false),
            data(DataKind::Text, &bytes[3..], 0, 1, 3, true),
            data(DataKind::Binary, b"ab", 0, 2, 0, false),
            data(DataKind::Binary, b"cd", 0, 2, 2, true),
        ]
    );
}

#[test]
fn large_frame_streams_in_chunks_through_a_small_buffer() {
    // A 60 KB "camera frame" read through a 1 KiB buffer.
    let jpeg: Vec<u8> = (0..60_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let bytes = cframe(OpCode::Binary, true, &jpeg);
    let mut conn = srv();
    let cuts: Vec<usize> = (1024..bytes.len()).step_by(1024).collect();
    let events = feed(&mut conn, &bytes, &cuts);
    assert!(events.len() >= 58, "{} chunks", events.len());
    let mut got = Vec::new();
    for e in &events {
        let Ev::Data {
            payload,
            offset,
            frame_len,
            ..
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*offset, got.len());
        assert_eq!(*frame_len, 60_000);
        assert!(payload.len() <= 1024);
        got.extend_from_slice(payload);
    }
    assert_eq!(got, jpeg);
    assert_eq!(normalize(events), receive_every_way(srv, &bytes));
}

#[test]
fn control_frames_between_fragments_are_handled_at_once() {
    let mut s = Vec::new();
    s.extend(cframe(OpCode::Text, false, b"frag1 "));
    s.extend(cframe(OpCode::Ping, true, b"p1"));
    s.extend(cframe(OpCode::Continuation, false, b"frag2 "));
    s.extend(cframe(OpCode::Pong, true, b""));
    s.extend(cframe(OpCode::Continuation, true, b"frag3"));
    let events = receive_every_way(srv, &s);
    assert_eq!(
        events,
        [
            data(DataKind::Text, b"frag1 ", 0, 6, 0, false),
            Ev::Ping(b"p1".to_vec()),
            data(DataKind::Text, b"frag2 ", 0, 6, 6, false),
            Ev::Pong(vec![]),
            data(DataKind::Text, b"frag3", 0, 5, 12, true),
        ]
    );
    // The pong is owed at once, even mid-message.
    let mut conn = srv();
    feed(&mut conn, &s[..24], &[]);
    let out = drain(&mut conn, Instant::ZERO);
    assert_eq!(frames_in(&out), [(OpCode::Pong, true, b"p1".to_vec())]);
}

#[test]
fn pings_are_answered_unless_auto_pong_is_off() {
    let ping = sframe(OpCode::Ping, true, b"are you there");
    let mut c = cli();
    assert_eq!(
        feed(&mut c, &ping, &[]),
        [Ev::Ping(b"are you there".to_vec())]
    );
    let out = drain(&mut c, Instant::ZERO);
    assert_eq!(
        frames_in(&out),
        [(OpCode::Pong, true, b"are you there".to_vec())]
    );
    // Masked, as a client must.
    assert_eq!(out[1] & 0x80, 0x80);

    let mut c = client(Config {
        auto_pong: false,
        ..Config::DEFAULT
    });
    feed(&mut c, &ping, &[]);
    assert!(drain(&mut c, Instant::ZERO).is_empty());
    c.pong(b"later").unwrap();
    assert_eq!(
        frames_in(&drain(&mut c, Instant::ZERO)),
        [(OpCode::Pong, true, b"later".to_vec())]
    );
}

#[test]
fn pair_exchanges_every_kind_of_message_in_any_chunking() {
    for chunk in [0, 1, 2, 3, 7, 64] {
        let mut p = Pair::new(Config {
            max_send_frame_len: 5,
            ..Config::DEFAULT
        });
        p.chunk = chunk;
        let mut out = vec![0u8; 1 << 16];
        let n = p
            .client
            .send_text("hello 0000, split into frames", &mut out)
            .unwrap();
        p.to_server.extend_from_slice(&out[..n]);
        let n = p.server.send_binary(&[9; 12], &mut out).unwrap();
        p.to_client.extend_from_slice(&out[..n]);
        let n = p
            .client
            .send_fragment(DataKind::Binary, b"pi", false, &mut out)
            .unwrap();
        p.to_server.extend_from_slice(&out[..n]);
        p.client.ping(b"mid").unwrap();
        p.run();
        let n = p
            .client
            .send_fragment(DataKind::Binary, b"ece", true, &mut out)
            .unwrap();
        p.to_server.extend_from_slice(&out[..n]);
        p.run();
        let server_text: Vec<u8> = normalize(p.server_events.clone())
            .iter()
            .filter_map(|e| match e {
                Ev::Data {
                    kind: DataKind::Text,
                    payload,
                    ..
                } => Some(payload.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(server_text, b"hello 0000, split into frames");
        assert!(p.server_events.contains(&Ev::Ping(b"mid".to_vec())));
        assert!(
            p.client_events.contains(&Ev::Pong(b"mid".to_vec())),
            "auto pong came back"
        );
        let bin: Vec<u8> = p
            .server_events
            .iter()
            .filter_map(|e| match e {
                Ev::Data {
                    kind: DataKind::Binary,
                    payload,
                    ..
                } => Some(payload.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(bin, b"piece");
        assert_eq!(
            normalize(p.client_events.clone())
                .into_iter()
                .filter(|e| matches!(e, Ev::Data { .. }))
                .collect::<Vec<_>>(),
            [
                data(DataKind::Binary, &[9; 5], 0, 5, 0, false),
                data(DataKind::Binary, &[9; 5], 0, 5, 5, false),
                data(DataKind::Binary, &[9; 2], 0, 2, 10, true),
            ]
        );
    }
}

#[test]
fn encode_in_place_masks_the_callers_buffer() {
    let mut c = cli();
    let mut payload = *b"zero copy";
    let mut header = [0u8; 14];
    let n = c
        .encode_in_place(
            MessagePart::Whole(DataKind::Text),
            &mut payload,
            &mut header,
        )
        .unwrap();
    assert_eq!(n, 6);
    assert_ne!(&payload, b"zero copy", "masked in place");
    let bytes = [&header[..n], &payload[..]].concat();
    assert_eq!(receive_every_way(srv, &bytes), [Ev::text("zero copy")]);
    // Server: unmasked, and fragments continue.
    let mut s = srv();
    let mut a = *b"ab";
    let mut b = *b"cd";
    let n1 = s
        .encode_in_place(
            MessagePart::Fragment {
                kind: DataKind::Binary,
                fin: false,
            },
            &mut a,
            &mut header,
        )
        .unwrap();
    let h1 = header[..n1].to_vec();
    assert_eq!(
        s.encode_in_place(MessagePart::Whole(DataKind::Binary), &mut b, &mut header),
        Err(SendError::FragmentInProgress),
        "a whole message cannot end the fragmented one"
    );
    let last = MessagePart::Fragment {
        kind: DataKind::Binary,
        fin: true,
    };
    let n2 = s.encode_in_place(last, &mut b, &mut header).unwrap();
    let bytes = [&h1[..], &a, &header[..n2], &b].concat();
    assert_eq!(
        frames_in(&bytes),
        [
            (OpCode::Binary, false, b"ab".to_vec()),
            (OpCode::Continuation, true, b"cd".to_vec())
        ]
    );
}

#[test]
fn fragment_misuse_is_a_usage_error() {
    let mut s = srv();
    let mut out = [0u8; 64];
    s.send_fragment(DataKind::Text, b"a", false, &mut out)
        .unwrap();
    assert_eq!(
        s.send_text("x", &mut out),
        Err(SendError::FragmentInProgress)
    );
    assert_eq!(
        s.send_fragment(DataKind::Binary, b"b", true, &mut out),
        Err(SendError::FragmentKind)
    );
    s.send_fragment(DataKind::Text, b"b", true, &mut out)
        .unwrap();
    s.send_text("x", &mut out).unwrap();
    assert_eq!(s.ping(&[0; 126]), Err(SendError::ControlTooLong));
    assert_eq!(s.pong(&[0; 126]), Err(SendError::ControlTooLong));
}

#[test]
fn close_initiated_by_client() {
    let mut p = Pair::new(Config::DEFAULT);
    p.client.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(p.client.state(), State::CloseSent);
    let mut out = [0u8; 64];
    assert_eq!(p.client.send_text("late", &mut out), Err(SendError::Closed));
    assert_eq!(p.client.ping(b""), Err(SendError::Closed));
    p.run();
    assert_eq!(p.server_events, [Ev::Close(Some((1000, "done".into())))]);
    assert_eq!(p.client_events, [Ev::Close(Some((1000, String::new())))]);
    for c in [p.client.state(), p.server.state()] {
        assert_eq!(c, State::Closed);
    }
    assert_eq!(p.client.end(), Some(End::Clean));
    assert_eq!(p.server.end(), Some(End::Clean));
    assert_eq!(p.server.remote_close(), Some((CloseCode::NORMAL, "done")));
    assert_eq!(p.server.local_close(), Some((CloseCode::NORMAL, "")));
    assert_eq!(p.client.remote_close(), Some((CloseCode::NORMAL, "")));
    assert_eq!(p.client.poll_timeout(), None);
}

#[test]
fn close_initiated_by_server_with_data_in_flight() {
    let mut p = Pair::new(Config::DEFAULT);
    let mut out = [0u8; 64];
    // The client's message crosses the server's close.
    let n = p.client.send_text("in flight", &mut out).unwrap();
    p.to_server.extend_from_slice(&out[..n]);
    p.server.close(CloseCode::GOING_AWAY, "restart").unwrap();
    let s = drain(&mut p.server, p.now);
    p.to_client.extend_from_slice(&s);
    assert_eq!(p.server.state(), State::CloseSent);
    // The server still receives data while waiting for the close.
    let ev = feed(&mut p.server, &std::mem::take(&mut p.to_server), &[]);
    assert_eq!(ev, [Ev::text("in flight")]);
    // The client sees the close; its state says it must echo.
    let ev = feed(&mut p.client, &std::mem::take(&mut p.to_client), &[]);
    assert_eq!(ev, [Ev::Close(Some((1001, "restart".into())))]);
    assert_eq!(p.client.state(), State::CloseReceived);
    assert_eq!(p.client.send_text("no", &mut out), Err(SendError::Closed));
    p.run();
    assert_eq!(p.server_events, [Ev::Close(Some((1001, String::new())))]);
    assert_eq!(
        (p.client.end(), p.server.end()),
        (Some(End::Clean), Some(End::Clean))
    );
}

#[test]
fn empty_close_is_echoed_empty_and_bytes_after_close_ignored() {
    let mut s = cframe(OpCode::Close, true, b"");
    s.extend(cframe(OpCode::Text, true, b"ignored"));
    let events = receive_every_way(srv, &s);
    assert_eq!(events, [Ev::Close(None)]);
    let mut conn = srv();
    feed(&mut conn, &s, &[]);
    assert_eq!(
        conn.remote_close(),
        Some((CloseCode::NO_STATUS_RECEIVED, ""))
    );
    let out = drain(&mut conn, Instant::ZERO);
    assert_eq!(frames_in(&out), [(OpCode::Close, true, vec![])]);
    assert_eq!(conn.end(), Some(End::Clean));
}

#[test]
fn close_validation_on_send() {
    let mut s = srv();
    assert!(matches!(
        s.close(CloseCode(1005), ""),
        Err(SendError::Close(_))
    ));
    assert!(matches!(
        s.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::Close(_))
    ));
    assert_eq!(s.state(), State::Open, "a refused close changes nothing");
    s.close(CloseCode(4000), &"x".repeat(123)).unwrap();
    let out = drain(&mut s, Instant::ZERO);
    let f = frames_in(&out);
    assert_eq!(f[0].2.len(), 125);
}

#[test]
fn close_timeout_ends_the_connection() {
    let mut s = server(Config {
        close_timeout: Duration::from_secs(2),
        ..Config::DEFAULT
    });
    s.close(CloseCode::NORMAL, "").unwrap();
    let t0 = Instant(1000);
    assert_eq!(s.poll_timeout(), None, "armed when the close is sent");
    drain(&mut s, t0);
    assert_eq!(s.poll_timeout(), Some(Instant(3000)));
    s.handle_timeout(Instant(2999));
    assert_eq!(s.state(), State::CloseSent);
    s.handle_timeout(Instant(3000));
    assert_eq!(
        (s.state(), s.end()),
        (State::Closed, Some(End::CloseTimeout))
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn keepalive_pings_and_pong_timeout() {
    let config = Config {
        ping_interval: Some(Duration::from_secs(10)),
        pong_timeout: Duration::from_secs(3),
        ..Config::DEFAULT
    };
    // A healthy peer answers every ping: the connection stays open.
    let mut p = Pair::new(config);
    p.server = server(Config::DEFAULT);
    p.advance_to(Instant(35_000));
    let pongs = p
        .client_events
        .iter()
        .filter(|e| matches!(e, Ev::Pong(_)))
        .count();
    let pings = p
        .server_events
        .iter()
        .filter(|e| matches!(e, Ev::Ping(_)))
        .count();
    assert_eq!((pings, pongs), (3, 3));
    assert!(p.client.is_open());
    assert_eq!(p.client.poll_timeout(), Some(Instant(40_000)));

    // A peer that vanished: the ping goes out, no pong comes back.
    let mut c = client(config);
    assert_eq!(c.poll_timeout(), Some(Instant(10_000)));
    c.handle_timeout(Instant(10_000));
    let out = drain(&mut c, Instant(10_000));
    assert_eq!(frames_in(&out)[0].0, OpCode::Ping);
    assert_eq!(c.poll_timeout(), Some(Instant(13_000)));
    c.handle_timeout(Instant(13_000));
    assert_eq!(
        (c.state(), c.end()),
        (State::Closed, Some(End::PongTimeout))
    );
}

#[test]
fn eof_before_close_is_abnormal_after_close_is_clean() {
    let mut s = srv();
    feed(&mut s, &cframe(OpCode::Text, false, b"half"), &[]);
    s.handle_eof();
    assert_eq!(s.end(), Some(End::Abnormal));
    let mut p = Pair::new(Config::DEFAULT);
    p.client.close(CloseCode::NORMAL, "").unwrap();
    p.run();
    p.client.handle_eof();
    assert_eq!(p.client.end(), Some(End::Clean));
}

/// Receives `bytes` on a fresh connection every way; expects `err`, then a
/// close frame with `code` from poll_transmit and `End::Failed`.
fn violation<K: sansws::conn::MaskKeys>(
    make: impl Fn() -> sansws::conn::Connection<K> + Copy,
    bytes: &[u8],
    err: ProtocolError,
    code: u16,
) {
    let events = receive_every_way(make, bytes);
    assert_eq!(events.last(), Some(&Ev::Error(err)), "{bytes:02x?}");
    assert_eq!(err.close_code().0, code);
    let mut conn = make();
    feed(&mut conn, bytes, &[]);
    assert_eq!(conn.state(), State::CloseSent);
    let out = drain(&mut conn, Instant::ZERO);
    let frames = frames_in(&out);
    assert_eq!(frames.len(), 1, "only the close is sent: {frames:?}");
    assert_eq!(frames[0].0, OpCode::Close);
    assert_eq!(close_code_of(&frames[0].2), Some(code));
    assert_eq!(conn.end(), Some(End::Failed(err)));
}

#[test]
fn every_protocol_violation_with_its_close_code() {
    use ProtocolError as P;
    let ping = cframe(OpCode::Ping, true, b"x");
    let cases: Vec<(Vec<u8>, ProtocolError, u16)> = vec![
        (
            vec![0x83, 0x80, 0, 0, 0, 0],
            P::Frame(FrameError::ReservedOpCode(3)),
            1002,
        ),
        (
            vec![0x8b, 0x80, 0, 0, 0, 0],
            P::Frame(FrameError::ReservedOpCode(0xb)),
            1002,
        ),
        (
            vec![0xc1, 0x80, 0, 0, 0, 0],
            P::Frame(FrameError::ReservedBits(Rsv::RSV1)),
            1002,
        ),
        (
            vec![0xb2, 0x80, 0, 0, 0, 0],
            P::Frame(FrameError::ReservedBits(Rsv::from_bits(0b011))),
            1002,
        ),
        (
            vec![0x09, 0x80, 0, 0, 0, 0],
            P::Frame(FrameError::FragmentedControl),
            1002,
        ),
        (
            [&[0x89, 0xfe, 0, 126, 1, 2, 3, 4][..], &[0; 126]].concat(),
            P::Frame(FrameError::ControlTooLong),
            1002,
        ),
        (
            vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0],
            P::Frame(FrameError::LengthOverflow),
            1002,
        ),
        (vec![0x81, 0x02, b'h', b'i'], P::Unmasked, 1002),
        (
            cframe(OpCode::Continuation, true, b"x"),
            P::UnexpectedContinuation,
            1002,
        ),
        (
            [
                cframe(OpCode::Text, false, b"a"),
                cframe(OpCode::Binary, true, b"b"),
            ]
            .concat(),
            P::ExpectedContinuation,
            1002,
        ),
        (
            [
                cframe(OpCode::Text, false, b"a"),
                ping.clone(),
                cframe(OpCode::Text, true, b"b"),
            ]
            .concat(),
            P::ExpectedContinuation,
            1002,
        ),
        (cframe(OpCode::Text, true, b"ok \xff"), P::InvalidUtf8, 1007),
        (cframe(OpCode::Text, true, b"\xce"), P::InvalidUtf8, 1007),
        (
            [
                cframe(OpCode::Text, false, b"\xce"),
                cframe(OpCode::Continuation, true, b""),
            ]
            .concat(),
            P::InvalidUtf8,
            1007,
        ),
        (
            [
                cframe(OpCode::Text, false, b"ok"),
                cframe(OpCode::Continuation, true, b"\xed\xa0\x80"),
            ]
            .concat(),
            P::InvalidUtf8,
            1007,
        ),
        (
            cframe(OpCode::Close, true, b"\x03"),
            P::Close(sansws::wire::CloseError::OneByte),
            1002,
        ),
        (
            cframe(OpCode::Close, true, b"\x03\xed"),
            P::Close(sansws::wire::CloseError::CodeNotAllowed(CloseCode(1005))),
            1002,
        ),
        (
            cframe(OpCode::Close, true, b"\x03\xe8\xff"),
            P::Close(sansws::wire::CloseError::InvalidUtf8),
            1007,
        ),
    ];
    for (bytes, err, code) in &cases {
        violation(srv, bytes, *err, *code);
    }
    // A client refuses masked frames.
    violation(cli, &cframe(OpCode::Text, true, b"hi"), P::Masked, 1002);
    // Strict lengths when asked.
    let strict = || {
        server(Config {
            strict_length: true,
            ..Config::DEFAULT
        })
    };
    violation(
        strict,
        &[0x82, 0xfe, 0, 5, 1, 2, 3, 4, 0, 0, 0, 0, 0],
        P::Frame(FrameError::NonMinimalLength),
        1002,
    );
}

#[test]
fn invalid_utf8_fails_at_the_first_bad_byte_not_the_frame_end() {
    // A 1000-byte text frame whose 3rd byte is bad: the error comes with
    // the first 3 payload bytes, long before the rest has arrived.
    let mut payload = vec![b'a'; 1000];
    payload[2] = 0xff;
    let bytes = cframe(OpCode::Text, true, &payload);
    let mut conn = srv();
    let events = feed(&mut conn, &bytes[..8 + 3], &[]);
    assert_eq!(events, [Ev::Error(ProtocolError::InvalidUtf8)]);
}

#[test]
fn limits_are_checked_before_any_payload() {
    // A frame announcing 2^40 bytes is refused at its header.
    let mut header = vec![0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    let err = ProtocolError::FrameTooLarge {
        len: 1 << 40,
        limit: 16 << 20,
    };
    violation(|| server(Config::HOST), &header, err, 1009);
    header.push(0);
    let mut conn = server(Config::HOST);
    assert_eq!(feed(&mut conn, &header, &[]), [Ev::Error(err)]);

    // Frame limit, exactly at and one over.
    let config = Config {
        max_frame_len: 10,
        max_message_len: 25,
        ..Config::DEFAULT
    };
    let mk = move || server(config);
    assert_eq!(
        receive_every_way(mk, &cframe(OpCode::Binary, true, &[1; 10])),
        [Ev::binary(&[1; 10])]
    );
    violation(
        mk,
        &cframe(OpCode::Binary, true, &[1; 11]),
        ProtocolError::FrameTooLarge { len: 11, limit: 10 },
        1009,
    );
    // Message limit across fragments: 10 + 10 + 6 > 25, refused at the third header.
    let s = [
        cframe(OpCode::Text, false, &[b'a'; 10]),
        cframe(OpCode::Continuation, false, &[b'a'; 10]),
        cframe(OpCode::Continuation, true, &[b'a'; 6]),
    ]
    .concat();
    violation(
        mk,
        &s,
        ProtocolError::MessageTooLarge { len: 26, limit: 25 },
        1009,
    );
    let s = [
        cframe(OpCode::Text, false, &[b'a'; 10]),
        cframe(OpCode::Continuation, true, &[b'a'; 5]),
    ]
    .concat();
    assert_eq!(receive_every_way(mk, &s).len(), 2);
    // Control frames do not count towards the message.
    let s = [
        cframe(OpCode::Binary, false, &[1; 10]),
        cframe(OpCode::Ping, true, &[0; 100]),
        cframe(OpCode::Continuation, true, &[1; 10]),
    ]
    .concat();
    assert_eq!(receive_every_way(mk, &s).len(), 3);
}

#[test]
fn errors_latch_and_the_close_is_sent_once() {
    let mut conn = srv();
    let bad = cframe(OpCode::Continuation, true, b"x");
    let mut input = bad.clone();
    let e = conn.handle_read(&mut input).unwrap_err();
    for _ in 0..3 {
        assert_eq!(
            conn.handle_read(&mut cframe(OpCode::Text, true, b"ok")),
            Err(e)
        );
    }
    let mut out = [0u8; sansws::wire::MAX_CONTROL_FRAME_LEN];
    assert!(
        conn.poll_transmit(Instant::ZERO, &mut out[..3]).is_err(),
        "too small"
    );
    assert!(
        conn.poll_transmit(Instant::ZERO, &mut out)
            .unwrap()
            .is_some()
    );
    assert_eq!(conn.poll_transmit(Instant::ZERO, &mut out).unwrap(), None);
    let mut o = [0u8; 64];
    assert_eq!(conn.send_text("x", &mut o), Err(SendError::Closed));
}

#[test]
fn client_masks_every_frame_with_fresh_keys() {
    let mut c = cli();
    let mut out = [0u8; 64];
    let mut keys = std::collections::HashSet::new();
    for _ in 0..10 {
        let n = c.send_text("same", &mut out).unwrap();
        assert_eq!(out[1] & 0x80, 0x80);
        keys.insert(out[2..6].to_vec());
        assert_eq!(
            frames_in(&out[..n]),
            [(OpCode::Text, true, b"same".to_vec())]
        );
    }
    assert_eq!(keys.len(), 10);
    // A server never masks.
    let mut s = srv();
    let n = s.send_text("same", &mut out).unwrap();
    assert_eq!(&out[..n], b"\x81\x04same");
}

/// Every way sending can end refuses the next small message (hosts take a
/// fast path for those with its own cached check), and a fragmented
/// message blocks whole ones only until its last fragment.
#[test]
fn small_sends_stop_at_every_way_of_ending() {
    let mut out = [0u8; 64];
    let ended = |mut s: Server| {
        let mut o = [0u8; 64];
        assert_eq!(s.send_binary(b"x", &mut o), Err(SendError::Closed));
        assert_eq!(s.send_text("", &mut o), Err(SendError::Closed));
    };
    let mut s = srv();
    assert_eq!(s.send_binary(b"x", &mut out), Ok(3));
    s.close(CloseCode::NORMAL, "").unwrap();
    ended(s);

    let mut s = srv();
    feed(&mut s, &cframe(OpCode::Close, true, &[0x03, 0xe8]), &[]);
    ended(s);

    let mut s = srv();
    assert!(
        s.handle_read(&mut sframe(OpCode::Text, true, b"unmasked"))
            .is_err()
    );
    ended(s);

    let mut s = srv();
    s.handle_eof();
    ended(s);

    let config = Config {
        ping_interval: Some(Duration::from_secs(10)),
        pong_timeout: Duration::from_secs(3),
        ..Config::DEFAULT
    };
    let mut s = server(config);
    s.handle_timeout(Instant(10_000));
    drain(&mut s, Instant(10_000));
    assert_eq!(s.send_binary(b"still open", &mut out), Ok(12));
    s.handle_timeout(Instant(13_000));
    assert_eq!(s.end(), Some(End::PongTimeout));
    ended(s);

    let mut s = srv();
    s.send_fragment(DataKind::Text, b"a", false, &mut out)
        .unwrap();
    assert_eq!(
        s.send_text("x", &mut out),
        Err(SendError::FragmentInProgress)
    );
    s.send_fragment(DataKind::Text, b"b", true, &mut out)
        .unwrap();
    assert_eq!(s.send_text("x", &mut out), Ok(3));
    assert_eq!(out[..3], [0x81, 0x01, b'x']);

    // A small send limit: whole messages above it are split, below it
    // take one frame.
    let mut s = server(Config {
        max_send_frame_len: 4,
        ..Config::DEFAULT
    });
    assert_eq!(s.send_binary(b"abcd", &mut out), Ok(6));
    assert_eq!(s.send_binary(b"abcde", &mut out), Ok(9));
    assert_eq!(
        out[..9],
        [0x02, 0x04, b'a', b'b', b'c', b'd', 0x80, 0x01, b'e']
    );
}

/// Headers from `encode_header` (hosts write whole-message headers up to
/// 64 KiB by hand) parse back to exactly what was asked, in both roles,
/// at every length form's edges, whole and fragmented; a short buffer
/// names the size.
#[test]
fn encode_header_writes_the_shortest_valid_header() {
    use sansws::Status;
    use sansws::wire::FrameHeader;
    for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 40] {
        for role_client in [false, true] {
            for fin in [true, false] {
                let mut c = cli();
                let mut s = srv();
                let mut header = [0u8; 14];
                let start = if role_client {
                    c.encode_header(part(DataKind::Text, fin), len, &mut header)
                } else {
                    s.encode_header(part(DataKind::Text, fin), len, &mut header)
                }
                .unwrap();
                let opts = ParseOptions::STRICT;
                let Status::Complete((h, n)) =
                    FrameHeader::parse(&header[..start.header_len], &opts).unwrap()
                else {
                    panic!("partial header for {len}");
                };
                assert_eq!(n, start.header_len);
                assert_eq!((h.fin, h.opcode, h.payload_len), (fin, OpCode::Text, len));
                assert_eq!(h.mask, start.mask);
                assert_eq!(h.mask.is_some(), role_client);
                let mut short = [0u8; 14];
                let short = &mut short[..start.header_len - 1];
                let err = if role_client {
                    cli().encode_header(part(DataKind::Text, fin), len, short)
                } else {
                    srv().encode_header(part(DataKind::Text, fin), len, short)
                };
                assert!(
                    matches!(err, Err(SendError::BufferTooSmall(b)) if b.needed == start.header_len),
                    "{err:?}"
                );
            }
        }
    }
}

/// A whole message (`fin`) or the first fragment of one.
fn part(kind: DataKind, fin: bool) -> MessagePart {
    if fin {
        MessagePart::Whole(kind)
    } else {
        MessagePart::Fragment { kind, fin }
    }
}

/// A message's first frame is told from a continuation even when the first
/// frame is empty (found in a trial: an echo that sends fragments back as
/// they came could not tell them apart by offsets).
#[test]
fn message_start_is_told_from_a_continuation() {
    use sansws::conn::Event;
    let mut input = cframe(OpCode::Binary, false, b"");
    input.extend(cframe(OpCode::Continuation, true, b"ab"));
    input.extend(cframe(OpCode::Text, true, b"whole"));
    let mut s = srv();
    let mut at = 0;
    let mut seen = Vec::new();
    while at < input.len() {
        let r = s.handle_read(&mut input[at..]).unwrap();
        at += r.consumed;
        if let Some(Event::Data(d)) = r.event {
            seen.push((d.message_offset, d.is_message_start(), d.is_message_end()));
        }
    }
    assert_eq!(seen, [(0, true, false), (0, false, true), (0, true, true)]);
}

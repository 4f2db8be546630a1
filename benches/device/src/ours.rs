//! The jobs through sansws's core (`Connection`, `handshake`, `wire`), as
//! its docs and `examples/core_only.rs` use it.

use core::hint::black_box;

use sansws::Status;
use sansws::conn::{Config, Connection, DataKind, End, Event, Instant, MaskKeys};
use sansws::handshake::{
    ClientHandshake, ClientRequest, EMPTY_HEADER, Limits, Outcome, ServerResponse, parse_request,
};
use sansws::wire::{CloseCode, apply_mask};

use crate::frames::{self, XorShift};

/// A client's mask keys: the shared xorshift generator.
pub fn keys() -> impl MaskKeys {
    let mut rng = XorShift(0x6d2b_79f5);
    move || rng.next().to_le_bytes()
}

fn read_one<'a, K: MaskKeys>(conn: &mut Connection<K>, input: &'a mut [u8]) -> (usize, Event<'a>) {
    let r = conn.handle_read(input).expect("handle_read");
    (r.consumed, r.event.expect("an event"))
}

fn expect_data<'a>(e: Event<'a>) -> sansws::conn::Data<'a> {
    match e {
        Event::Data(d) => d,
        other => panic!("expected data, got {other:?}"),
    }
}

/// RFC 6455 section 5.7, every example, through `Connection`.
#[inline(never)]
pub fn rfc_examples(src: &mut [u8], big: &mut [u8]) {
    let mut out = [0u8; 160];

    // A single-frame masked text message, into a server.
    let mut server = Connection::server(Config::DEFAULT, Instant::ZERO);
    let mut input = frames::MASKED_HELLO;
    let (n, e) = read_one(&mut server, &mut input);
    let d = expect_data(e);
    assert_eq!(n, 11);
    assert_eq!(
        (d.kind, d.payload, d.fin),
        (DataKind::Text, &b"Hello"[..], true)
    );
    assert!(d.is_message_end());

    // A single-frame unmasked text message, into a client.
    let mut client = Connection::client(Config::DEFAULT, keys(), Instant::ZERO);
    let mut input = frames::HELLO;
    let (n, e) = read_one(&mut client, &mut input);
    let d = expect_data(e);
    assert_eq!(n, 7);
    assert_eq!(
        (d.kind, d.payload, d.fin),
        (DataKind::Text, &b"Hello"[..], true)
    );

    // A fragmented unmasked text message: "Hel" then "lo".
    let mut input = frames::HEL_LO;
    let (first, rest) = input.split_at_mut(5);
    let (n, e) = read_one(&mut client, first);
    let d = expect_data(e);
    assert_eq!(n, 5);
    assert_eq!(
        (d.kind, d.payload, d.fin),
        (DataKind::Text, &b"Hel"[..], false)
    );
    assert!(d.is_message_start() && !d.is_message_end());
    let (n, e) = read_one(&mut client, rest);
    let d = expect_data(e);
    assert_eq!(n, 4);
    assert_eq!(
        (d.kind, d.payload, d.fin),
        (DataKind::Text, &b"lo"[..], true)
    );
    assert_eq!(d.message_offset, 3);
    assert!(d.is_message_end());

    // Unmasked ping "Hello" into the client: a masked pong "Hello" back.
    let mut input = frames::PING_HELLO;
    let (_, e) = read_one(&mut client, &mut input);
    assert!(matches!(e, Event::Ping(p) if *p == *b"Hello"));
    let n = client
        .poll_transmit(Instant::ZERO, &mut out)
        .unwrap()
        .unwrap();
    assert_eq!((n, out[0], out[1]), (11, 0x8a, 0x85));
    let key = [out[2], out[3], out[4], out[5]];
    frames::mask_reference(&mut out[6..11], key);
    assert_eq!(&out[6..11], b"Hello");

    // Masked pong "Hello" into the server.
    let mut input = frames::MASKED_PONG_HELLO;
    let (_, e) = read_one(&mut server, &mut input);
    assert!(matches!(e, Event::Pong(p) if *p == *b"Hello"));

    // A masked ping "Hello" into the server: the RFC's unmasked pong back.
    let mut input = frames::MASKED_HELLO;
    input[0] = 0x89;
    let (_, e) = read_one(&mut server, &mut input);
    assert!(matches!(e, Event::Ping(p) if *p == *b"Hello"));
    let n = server
        .poll_transmit(Instant::ZERO, &mut out)
        .unwrap()
        .unwrap();
    assert_eq!(out[..n], [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);

    // 256 bytes and 64 KiB of binary data in one unmasked frame: written by
    // a server, read by a client.
    let one_frame = Config {
        max_send_frame_len: usize::MAX,
        ..Config::DEFAULT
    };
    let mut server = Connection::server(one_frame, Instant::ZERO);
    let mut client = Connection::client(Config::DEFAULT, keys(), Instant::ZERO);
    for (len, header) in [
        (256, &frames::HEADER_256[..]),
        (65536, &frames::HEADER_64K[..]),
    ] {
        let payload = &mut src[..len];
        for (j, b) in payload.iter_mut().enumerate() {
            *b = frames::pattern(len, j);
        }
        let n = server.send_binary(payload, big).unwrap();
        assert_eq!(n, header.len() + len);
        assert_eq!(&big[..header.len()], header);
        assert_eq!(&big[header.len()..n], &payload[..]);
        let mut at = 0;
        let mut got = 0;
        while at < n {
            let r = client.handle_read(&mut big[at..n]).unwrap();
            at += r.consumed;
            if let Some(Event::Data(d)) = r.event {
                assert_eq!(
                    (d.kind, d.frame_len, d.offset),
                    (DataKind::Binary, len, got)
                );
                assert_eq!(d.payload, &src[got..got + d.payload.len()]);
                got += d.payload.len();
            }
        }
        assert_eq!(got, len);
    }
}

/// Server handshake: parse RFC 6455 section 1.3's request, write the 101.
#[inline(never)]
pub fn server_handshake(rounds: usize) {
    for _ in 0..rounds {
        let mut headers = [EMPTY_HEADER; 16];
        let mut out = [0u8; 256];
        let Ok(Status::Complete(Outcome::Upgrade(req))) =
            parse_request(black_box(frames::REQUEST), &mut headers, &Limits::DEFAULT)
        else {
            panic!("the RFC's request is an upgrade");
        };
        assert_eq!(req.path(), "/chat");
        assert_eq!(req.key(), frames::KEY.as_bytes());
        let n = ServerResponse::accept(&req).write(&mut out).unwrap();
        let res = &out[..n];
        assert!(res.starts_with(b"HTTP/1.1 101 "));
        assert_eq!(&res[n - 32..n - 4], frames::ACCEPT);
        black_box(res);
    }
}

/// Client handshake: write the request, check the 101.
#[inline(never)]
pub fn client_handshake(rounds: usize) {
    for _ in 0..rounds {
        let hs = ClientHandshake::new(black_box(frames::NONCE));
        let req = ClientRequest::new("server.example.com", "/chat");
        let mut out = [0u8; 256];
        let n = hs.write_request(&req, &mut out).unwrap();
        assert!(out[..n].starts_with(b"GET /chat HTTP/1.1\r\n"));
        black_box(&out[..n]);
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(res)) = hs.parse_response(
            &req,
            black_box(frames::RESPONSE),
            &mut headers,
            &Limits::DEFAULT,
        ) else {
            panic!("the 101 is accepted");
        };
        assert_eq!(res.code(), 101);
        assert_eq!(res.len(), frames::RESPONSE.len());
    }
}

/// A server decoding `count` masked binary frames of `len` bytes; `FULL`
/// checks every payload byte, otherwise each frame's type and length.
#[inline(never)]
pub fn decode<const FULL: bool>(conn: &mut Connection, input: &mut [u8], count: usize, len: usize) {
    let mut at = 0;
    let mut i = 0;
    while at < input.len() {
        let r = conn.handle_read(&mut input[at..]).expect("decode");
        at += r.consumed;
        if let Some(Event::Data(d)) = r.event {
            assert!(d.kind == DataKind::Binary && d.is_message_end() && d.payload.len() == len);
            if FULL {
                frames::check_payload(i, d.payload, len);
            } else {
                black_box(d.payload);
            }
            i += 1;
        }
    }
    assert_eq!(i, count);
}

/// Masks `buf` in place `rounds` times.
#[inline(never)]
pub fn mask(buf: &mut [u8], key: [u8; 4], rounds: usize) {
    for _ in 0..rounds {
        apply_mask(black_box(&mut *buf), key, 0);
    }
}

/// A client writing `count` masked binary frames of `payload` into `out`
/// back to back; returns the bytes written.
#[inline(never)]
pub fn encode_client<K: MaskKeys>(
    conn: &mut Connection<K>,
    payload: &[u8],
    out: &mut [u8],
    count: usize,
) -> usize {
    let mut at = 0;
    for _ in 0..count {
        at += conn.send_binary(payload, &mut out[at..]).expect("send");
    }
    at
}

/// Close handshake, server side: send close 1000, read the client's
/// echo, closed.
#[inline(never)]
pub fn close(conn: &mut Connection, out: &mut [u8; 16]) {
    conn.close(CloseCode::NORMAL, "").unwrap();
    let n = conn.poll_transmit(Instant::ZERO, out).unwrap().unwrap();
    assert_eq!(out[..n], frames::CLOSE_1000);
    let mut echo = frames::MASKED_CLOSE_1000;
    let r = conn.handle_read(black_box(&mut echo)).unwrap();
    assert_eq!(r.consumed, frames::MASKED_CLOSE_1000.len());
    assert!(matches!(r.event, Some(Event::Close(Some(f))) if f.code() == CloseCode::NORMAL));
    assert!(conn.is_closed());
    assert_eq!(conn.end(), Some(End::Clean));
    assert_eq!(conn.poll_transmit(Instant::ZERO, out).unwrap(), None);
}

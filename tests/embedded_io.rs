//! The embedded-io adapter over in-memory pipes that move at most a few
//! bytes per read or write: handshake, text, binary, fragments, a 1 MiB
//! message through a 512-byte buffer, ping/pong, both close orders, 20
//! connections in a row, a peer that vanishes.
#![cfg(all(feature = "embedded-io", feature = "std"))]

mod support;

use std::thread;

use support::{Got, TestKeys};

use sansws::adapter::embedded_io::testing::Pipe;
use sansws::adapter::embedded_io::{self as ws, Accepted, Decision, Error};
use sansws::conn::{Config, DataKind, End, Instant};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::CloseCode;

fn keys() -> TestKeys {
    TestKeys(0x1234_5678)
}

/// Reads one message (assembling data chunks).
fn read_msg<K: sansws::conn::MaskKeys>(w: &mut ws::WebSocket<'_, Pipe, K>) -> Option<Got> {
    support::read_msg(w).unwrap()
}

/// An echo server on one end of a pipe pair; returns how it ended.
fn serve(io: Pipe) -> thread::JoinHandle<Option<End>> {
    thread::spawn(move || {
        let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
        // Payloads stream through 512 bytes; the limits are policy only.
        let config = Config {
            max_frame_len: 2 << 20,
            max_message_len: 2 << 20,
            ..Config::DEFAULT
        };
        let accepted = ws::accept(
            io,
            &mut rx,
            &mut tx,
            config,
            Instant::ZERO,
            |r| {
                if r.path() == "/ws" {
                    Decision::Accept(r.protocols().find(|p| *p == "led").map(|_| "led"))
                } else {
                    Decision::Reject(404)
                }
            },
            |_| HttpResponse::new(200).text("page"),
        );
        let Ok(Accepted::WebSocket(mut s)) = accepted else {
            return None;
        };
        loop {
            match read_msg(&mut s) {
                Some(Got::Text(t)) => s.send_text(&t).unwrap(),
                Some(Got::Binary(b)) => s.send_binary(&b).unwrap(),
                Some(_) => {}
                None => return s.end(),
            }
        }
    })
}

fn pair(max_io: usize) -> (Pipe, Pipe) {
    let (mut a, mut b) = Pipe::pair();
    a.max_io = max_io;
    b.max_io = max_io;
    (a, b)
}

#[test]
fn every_scenario_through_small_reads_and_writes() {
    for max_io in [1, 7, 100, usize::MAX] {
        let (c, s) = pair(max_io);
        let server = serve(s);
        let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
        let req = ClientRequest {
            protocols: &["led"],
            ..ClientRequest::new("device", "/ws")
        };
        let config = Config {
            max_frame_len: 2 << 20,
            max_message_len: 2 << 20,
            ..Config::DEFAULT
        };
        let mut w = ws::connect(
            c,
            &mut rx,
            &mut tx,
            &req,
            [3; 16],
            keys(),
            config,
            Instant::ZERO,
        )
        .unwrap();
        w.send_text("hello").unwrap();
        assert_eq!(read_msg(&mut w), Some(Got::Text("hello".into())));
        w.send_binary(&[0, 255, 7]).unwrap();
        assert_eq!(read_msg(&mut w), Some(Got::Binary(vec![0, 255, 7])));
        w.send_fragment(DataKind::Text, "κό".as_bytes(), false)
            .unwrap();
        w.send_fragment(DataKind::Text, "σμε".as_bytes(), true)
            .unwrap();
        assert_eq!(read_msg(&mut w), Some(Got::Text("κόσμε".into())));
        w.ping(b"p").unwrap();
        assert_eq!(read_msg(&mut w), Some(Got::Pong(b"p".to_vec())));
        if max_io >= 100 {
            // 1 MiB through 512-byte buffers.
            let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
            w.send_binary(&big).unwrap();
            assert_eq!(read_msg(&mut w), Some(Got::Binary(big)));
        }
        assert_eq!(w.close(CloseCode::NORMAL, "bye").unwrap(), Some(End::Clean));
        assert_eq!(
            w.connection().remote_close().map(|c| c.0),
            Some(CloseCode::NORMAL)
        );
        drop(w);
        assert_eq!(server.join().unwrap(), Some(End::Clean), "max_io {max_io}");
    }
}

#[test]
fn server_initiated_close_and_twenty_connections_in_a_row() {
    for i in 0..20 {
        let (c, s) = pair(13);
        let server = thread::spawn(move || {
            let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
            let Ok(Accepted::WebSocket(mut s)) = ws::accept(
                s,
                &mut rx,
                &mut tx,
                Config::DEFAULT,
                Instant::ZERO,
                |_| Decision::Accept(None),
                |_| HttpResponse::new(404),
            ) else {
                panic!()
            };
            s.send_text(&format!("conn {i}")).unwrap();
            s.close(CloseCode::GOING_AWAY, "restart").unwrap()
        });
        let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
        let req = ClientRequest::new("device", "/");
        let mut w = ws::connect(
            c,
            &mut rx,
            &mut tx,
            &req,
            [i as u8; 16],
            keys(),
            Config::DEFAULT,
            Instant::ZERO,
        )
        .unwrap();
        assert_eq!(read_msg(&mut w), Some(Got::Text(format!("conn {i}"))));
        assert_eq!(read_msg(&mut w), Some(Got::Close(Some(1001))));
        assert_eq!(read_msg(&mut w), None);
        assert_eq!(w.end(), Some(End::Clean));
        drop(w);
        assert_eq!(server.join().unwrap(), Some(End::Clean));
    }
}

#[test]
fn a_peer_that_vanishes_and_a_refused_path() {
    let (c, s) = pair(usize::MAX);
    let server = serve(s);
    let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
    let req = ClientRequest::new("device", "/ws");
    let mut w = ws::connect(
        c,
        &mut rx,
        &mut tx,
        &req,
        [1; 16],
        keys(),
        Config::DEFAULT,
        Instant::ZERO,
    )
    .unwrap();
    w.send_text("x").unwrap();
    assert_eq!(read_msg(&mut w), Some(Got::Text("x".into())));
    drop(w); // the client vanishes without a close
    assert_eq!(server.join().unwrap(), Some(End::Abnormal));

    let (c, s) = pair(usize::MAX);
    let server = serve(s);
    let req = ClientRequest::new("device", "/elsewhere");
    match ws::connect(
        c,
        &mut rx,
        &mut tx,
        &req,
        [1; 16],
        keys(),
        Config::DEFAULT,
        Instant::ZERO,
    ) {
        Err(Error::Handshake(sansws::handshake::HandshakeError::Status(404))) => {}
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("accepted"),
    }
    assert_eq!(server.join().unwrap(), None);
}

#[test]
fn a_protocol_error_is_reported_and_closes_with_its_code() {
    use embedded_io::{Read, Write};
    let (mut c, s) = pair(usize::MAX);
    let server = thread::spawn(move || {
        let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
        let Ok(Accepted::WebSocket(mut s)) = ws::accept(
            s,
            &mut rx,
            &mut tx,
            Config::DEFAULT,
            Instant::ZERO,
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        ) else {
            panic!()
        };
        s.read_event(|_| ()).unwrap_err()
    });
    let hs = sansws::handshake::ClientHandshake::new([5; 16]);
    let mut buf = [0u8; 512];
    let n = hs
        .write_request(&ClientRequest::new("d", "/"), &mut buf)
        .unwrap();
    c.write_all(&buf[..n]).unwrap();
    let mut got = 0;
    while !buf[..got].ends_with(b"\r\n\r\n") {
        got += c.read(&mut buf[got..]).unwrap();
    }
    // An unmasked frame from a client.
    c.write_all(&[0x81, 0x01, b'x']).unwrap();
    let err = server.join().unwrap();
    assert!(
        matches!(err, Error::Protocol(sansws::conn::ProtocolError::Unmasked)),
        "{err:?}"
    );
    let mut close = [0u8; 4];
    c.read_exact(&mut close).unwrap();
    assert_eq!(close, [0x88, 0x02, 0x03, 0xea], "close 1002");
}

/// Issue 11's first trap through this adapter: while a fragmented message
/// is open, a whole message is refused instead of ending it ("AAABBB").
#[test]
fn a_whole_message_never_ends_an_open_fragmented_one() {
    use sansws::conn::SendError;
    let (c, s) = pair(7);
    let server = serve(s);
    let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
    let mut w = ws::connect(
        c,
        &mut rx,
        &mut tx,
        &ClientRequest::new("device", "/ws"),
        [3; 16],
        keys(),
        Config::DEFAULT,
        Instant::ZERO,
    )
    .unwrap();
    w.send_fragment(DataKind::Text, b"AAA", false).unwrap();
    assert!(matches!(
        w.send_text("BBB"),
        Err(Error::Send(SendError::FragmentInProgress))
    ));
    assert!(matches!(
        w.send_binary(b"BBB"),
        Err(Error::Send(SendError::FragmentInProgress))
    ));
    w.send_fragment(DataKind::Text, b"CCC", true).unwrap();
    assert_eq!(read_msg(&mut w), Some(Got::Text("AAACCC".into())));
    w.send_text("BBB").unwrap();
    assert_eq!(read_msg(&mut w), Some(Got::Text("BBB".into())));
    assert_eq!(w.close(CloseCode::NORMAL, "").unwrap(), Some(End::Clean));
    drop(w);
    assert_eq!(server.join().unwrap(), Some(End::Clean));
}

#[test]
fn our_own_unwritable_head_is_a_local_error() {
    use embedded_io::{Read, Write};
    use sansws::BufferTooSmall;
    use sansws::handshake::WriteError;
    let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);

    // A client request that does not fit `tx`, or has a bad header: an
    // error of ours, and nothing is sent.
    let bad = ClientRequest {
        headers: &[("X", "a\r\nY: b")],
        ..ClientRequest::new("device", "/ws")
    };
    for (req, tx_len, want) in [
        (
            ClientRequest::new("device", "/ws"),
            64,
            WriteError::BufferTooSmall(BufferTooSmall { needed: 147 }),
        ),
        (bad, 256, WriteError::InvalidInput("header value")),
    ] {
        let (c, mut s) = pair(usize::MAX);
        let got = ws::connect(
            c,
            &mut rx,
            &mut tx[..tx_len],
            &req,
            [1; 16],
            keys(),
            Config::DEFAULT,
            Instant::ZERO,
        );
        match got {
            Err(Error::HandshakeWrite(e)) => assert_eq!(e, want),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("connected"),
        }
        assert_eq!(s.read(&mut [0u8; 16]).unwrap(), 0, "sent something");
    }

    // A page the server cannot write (too large for `tx`, or a status it
    // may not send): an error of ours, and the client gets a 500.
    static BIG: [u8; 300] = [b'x'; 300];
    for (page, want) in [
        (
            HttpResponse::new(200).body("text/plain", &BIG),
            WriteError::BufferTooSmall(BufferTooSmall { needed: 385 }),
        ),
        (
            HttpResponse::new(101),
            WriteError::InvalidInput("status code"),
        ),
    ] {
        let (mut c, s) = pair(usize::MAX);
        c.write_all(b"GET / HTTP/1.1\r\nHost: device\r\n\r\n")
            .unwrap();
        let got = ws::accept(
            s,
            &mut rx,
            &mut tx,
            Config::DEFAULT,
            Instant::ZERO,
            |_| Decision::Accept(None),
            |_| page,
        );
        match got {
            Err(Error::HandshakeWrite(e)) => assert_eq!(e, want),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("answered"),
        }
        let mut answer = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match c.read(&mut buf).unwrap() {
                0 => break,
                n => answer.extend_from_slice(&buf[..n]),
            }
        }
        let answer = String::from_utf8(answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{answer}"
        );
    }
}

#[test]
fn display_of_an_io_error_shows_the_transport_error() {
    use embedded_io::ErrorKind;
    use std::error::Error as _;
    let e = Error::Io(ErrorKind::ConnectionReset);
    assert_eq!(e.to_string(), "transport: ConnectionReset");
    assert_eq!(e.source().unwrap().to_string(), "ConnectionReset");
    assert_eq!(
        Error::<ErrorKind>::Failed(ErrorKind::BrokenPipe).to_string(),
        "the connection ended when a write failed (BrokenPipe)"
    );
}

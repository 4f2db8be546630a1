//! The embedded-io adapter over in-memory pipes that move at most a few
//! bytes per read or write: handshake, text, binary, fragments, a 1 MiB
//! message through a 512-byte buffer, ping/pong, both close orders, 20
//! connections in a row, a peer that vanishes; and the regression tests
//! of issue 12 (time, timeouts, failed writes), named by behaviour.
#![cfg(all(feature = "embedded-io", feature = "std"))]

mod support;
use support::timed;

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration as StdDuration;

use support::embedded::{copts, sopts};
use support::{Got, TestKeys, cframe};

use embedded_io::ErrorKind;
use sansws::adapter::embedded_io::testing::Pipe;
use sansws::adapter::embedded_io::{
    self as ws, Accepted, ClientOptions, Decision, Error, ServerOptions,
};
use sansws::conn::{Config, DataKind, Duration, End, Instant, NoMasking};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::{CloseCode, OpCode};

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
            sopts(config),
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
        let mut w = ws::connect(c, &mut rx, &mut tx, copts(req, [3; 16], config)).unwrap();
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
                sopts(Config::DEFAULT),
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
            copts(req, [i as u8; 16], Config::DEFAULT),
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
    let mut w = ws::connect(c, &mut rx, &mut tx, copts(req, [1; 16], Config::DEFAULT)).unwrap();
    w.send_text("x").unwrap();
    assert_eq!(read_msg(&mut w), Some(Got::Text("x".into())));
    drop(w); // the client vanishes without a close
    assert_eq!(server.join().unwrap(), Some(End::Abnormal));

    let (c, s) = pair(usize::MAX);
    let server = serve(s);
    let req = ClientRequest::new("device", "/elsewhere");
    match ws::connect(c, &mut rx, &mut tx, copts(req, [1; 16], Config::DEFAULT)) {
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
            sopts(Config::DEFAULT),
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
        copts(
            ClientRequest::new("device", "/ws"),
            [3; 16],
            Config::DEFAULT,
        ),
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
            copts(req, [1; 16], Config::DEFAULT),
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
            sopts(Config::DEFAULT),
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

// ---- Issue 12: time, timeouts and failed writes. ----

/// A server WebSocket whose client is `peer`, driven by hand: the
/// client's request is written first, so one thread does both ends.
fn accepted<'b>(
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    opts: ServerOptions,
) -> (Pipe, ws::WebSocket<'b, Pipe, NoMasking>) {
    let (mut peer, io) = Pipe::pair();
    support::peer::send_request(&mut peer);
    let Ok(Accepted::WebSocket(s)) = ws::accept(
        io,
        rx,
        tx,
        opts,
        |_| Decision::Accept(None),
        |_| HttpResponse::new(404),
    ) else {
        panic!("not accepted")
    };
    assert!(support::peer::read_head(&mut peer).starts_with("HTTP/1.1 101"));
    (peer, s)
}

/// A client WebSocket whose server is `peer`, driven by hand.
fn connected<'b>(rx: &'b mut [u8], tx: &'b mut [u8]) -> (Pipe, ws::WebSocket<'b, Pipe, TestKeys>) {
    let (io, s) = Pipe::pair();
    let server = serve_raw_handshake(s);
    let w = ws::connect(
        io,
        rx,
        tx,
        copts(
            ClientRequest::new("device", "/ws"),
            [5; 16],
            Config::DEFAULT,
        ),
    )
    .unwrap();
    (server.join().unwrap(), w)
}

/// Answers one handshake with a 101 and hands the transport back.
fn serve_raw_handshake(io: Pipe) -> thread::JoinHandle<Pipe> {
    thread::spawn(move || {
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
        let Ok(Accepted::WebSocket(s)) = ws::accept(
            io,
            &mut rx,
            &mut tx,
            sopts(Config::DEFAULT),
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        ) else {
            panic!("not accepted")
        };
        s.into_io()
    })
}

#[test]
fn a_write_that_fails_mid_frame_ends_the_connection_and_every_later_send_gets_its_error() {
    // Cut in the first write (header and the start of the payload), and in
    // a later chunk of a payload masked through the 256-byte `tx`.
    for (len, cut) in [(100, 10), (1000, 300)] {
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
        let (mut peer, mut w) = connected(&mut rx, &mut tx);
        w.io().write_limit = Some(cut);
        let payload = vec![0xab; len];
        assert_eq!(
            w.send_binary(&payload),
            Err(Error::Io(ErrorKind::BrokenPipe))
        );
        assert!(!w.is_connected());
        assert_eq!(w.end(), Some(End::Abnormal));
        let failed = Err(Error::Failed(ErrorKind::BrokenPipe));
        assert_eq!(w.send_text("after"), failed);
        assert_eq!(w.send_binary(b"after"), failed);
        assert_eq!(w.send_fragment(DataKind::Text, b"after", true), failed);
        assert_eq!(w.ping(b"after"), failed);
        assert_eq!(w.pong(b"after"), failed);
        assert_eq!(w.tick(), Ok(()));
        assert_eq!(w.read_event(|_| ()), Ok(None));
        assert_eq!(w.close(CloseCode::NORMAL, ""), Ok(Some(End::Abnormal)));
        drop(w);
        // The peer got the cut frame's first `cut` bytes, and nothing after.
        let got = support::peer::read_all(&mut peer, StdDuration::from_secs(5));
        assert_eq!(got.len(), cut, "{len}");
        assert_eq!(got[0], 0x82, "a binary frame");
        assert_eq!(got[1] & 0x7f, if len < 126 { len as u8 } else { 126 });
    }
}

/// The simulated clock of the test below (the clock is a plain function).
static NOW: AtomicU64 = AtomicU64::new(0);

fn simulated() -> Instant {
    Instant(NOW.load(Ordering::SeqCst))
}

#[test]
fn a_keepalive_ping_after_a_long_idle_is_stamped_with_the_current_time() {
    NOW.store(0, Ordering::SeqCst);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = ServerOptions {
        config: Config {
            ping_interval: Some(Duration::from_secs(10)),
            pong_timeout: Duration::from_secs(5),
            ..Config::DEFAULT
        },
        ..ServerOptions::new(simulated)
    };
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, opts);
    assert_eq!(s.poll_timeout(), Some(Instant(10_000)), "first ping");

    // 100 s without a word; then the client speaks. The read runs the
    // overdue keepalive at the clock's time: the pong is due 5 s from now,
    // not 5 s after the ping was due (long past, which would end the
    // connection at once).
    NOW.store(100_000, Ordering::SeqCst);
    embedded_io::Write::write_all(&mut peer, &cframe(OpCode::Text, true, b"hi")).unwrap();
    let mut got = Vec::new();
    assert_eq!(s.read_event(|e| got.push(format!("{e:?}"))), Ok(Some(())));
    assert!(got[0].contains("Data"), "{got:?}");
    assert!(s.is_connected());
    assert_eq!(
        s.poll_timeout(),
        Some(Instant(105_000)),
        "the pong deadline"
    );
    let sent = support::frames_in(&support::peer::read_all(
        &mut peer,
        StdDuration::from_millis(50),
    ));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, OpCode::Ping);

    // The deadline holds to the millisecond on the same clock.
    NOW.store(104_999, Ordering::SeqCst);
    s.tick().unwrap();
    assert!(s.is_connected());
    NOW.store(105_000, Ordering::SeqCst);
    s.tick().unwrap();
    assert_eq!(s.end(), Some(End::PongTimeout));
}

#[test]
fn close_on_a_silent_peer_returns_within_the_close_timeout() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = sopts(Config {
        close_timeout: Duration::from_millis(300),
        ..Config::DEFAULT
    });
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, opts);
    s.io().read_timeout = Some(StdDuration::from_millis(20));
    let end = timed(300, 320, || s.close(CloseCode::NORMAL, "bye"));
    assert_eq!(end, Ok(Some(End::CloseTimeout)));
    let sent = support::frames_in(&support::peer::read_all(
        &mut peer,
        StdDuration::from_millis(50),
    ));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, OpCode::Close);
    assert_eq!(support::close_code_of(&sent[0].2), Some(1000));
}

#[test]
fn read_event_on_a_silent_peer_with_keepalive_ends_with_the_pong_timeout() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = sopts(Config {
        ping_interval: Some(Duration::from_millis(200)),
        pong_timeout: Duration::from_millis(100),
        ..Config::DEFAULT
    });
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, opts);
    s.io().read_timeout = Some(StdDuration::from_millis(20));
    let got = timed(300, 340, || s.read_event(|_| ()));
    assert_eq!(got, Ok(None));
    assert_eq!(s.end(), Some(End::PongTimeout));
    let sent = support::frames_in(&support::peer::read_all(
        &mut peer,
        StdDuration::from_millis(50),
    ));
    assert_eq!(sent.len(), 1, "one keepalive ping, then nothing");
    assert_eq!(sent[0].0, OpCode::Ping);
}

#[test]
fn a_silent_client_during_accept_is_refused_after_the_handshake_timeout() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, mut io) = Pipe::pair();
    io.read_timeout = Some(StdDuration::from_millis(20));
    let opts = ServerOptions {
        handshake_timeout: Some(Duration::from_millis(200)),
        ..sopts(Config::DEFAULT)
    };
    let got = timed(200, 220, || {
        ws::accept(
            io,
            &mut rx,
            &mut tx,
            opts,
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        )
    });
    assert!(matches!(got, Err(Error::HandshakeTimeout)));
    // Refused without an answer, the transport dropped.
    assert_eq!(
        support::peer::read_all(&mut peer, StdDuration::from_secs(5)),
        b""
    );
}

#[test]
fn a_client_trickling_its_request_is_refused_after_the_handshake_timeout() {
    // A byte every 20 ms: every read returns data, none times out; the
    // clock is checked as each one returns.
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, io) = Pipe::pair();
    let trickle = thread::spawn(move || {
        for b in b"GET /ws HTTP/1.1\r\nHost: device\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa" {
            if embedded_io::Write::write_all(&mut peer, &[*b]).is_err() {
                break;
            }
            thread::sleep(StdDuration::from_millis(20));
        }
    });
    let opts = ServerOptions {
        handshake_timeout: Some(Duration::from_millis(200)),
        ..sopts(Config::DEFAULT)
    };
    let got = timed(200, 240, || {
        ws::accept(
            io,
            &mut rx,
            &mut tx,
            opts,
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        )
    });
    assert!(matches!(got, Err(Error::HandshakeTimeout)));
    trickle.join().unwrap();
}

#[test]
fn a_silent_server_during_connect_is_given_up_after_the_handshake_timeout() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut io, mut peer) = Pipe::pair();
    io.read_timeout = Some(StdDuration::from_millis(20));
    let opts = ClientOptions {
        handshake_timeout: Some(Duration::from_millis(200)),
        ..copts(
            ClientRequest::new("device", "/ws"),
            [1; 16],
            Config::DEFAULT,
        )
    };
    let got = timed(200, 220, || ws::connect(io, &mut rx, &mut tx, opts));
    assert!(matches!(got, Err(Error::HandshakeTimeout)));
    assert!(support::peer::read_head(&mut peer).starts_with("GET /ws HTTP/1.1"));
}

#[test]
fn a_read_timeout_returns_and_the_connection_goes_on() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = ServerOptions {
        read_timeout: Some(Duration::from_millis(100)),
        ..sopts(Config::DEFAULT)
    };
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, opts);
    s.io().read_timeout = Some(StdDuration::from_millis(10));
    // Half a frame, then silence: the read gives up on the clock, and the
    // half read is kept.
    let frame = cframe(OpCode::Text, true, b"later");
    embedded_io::Write::write_all(&mut peer, &frame[..4]).unwrap();
    assert_eq!(
        timed(100, 120, || s.read_event(|_| ())),
        Err(Error::ReadTimeout)
    );
    assert!(s.is_connected());
    embedded_io::Write::write_all(&mut peer, &frame[4..]).unwrap();
    s.set_read_timeout(None);
    assert_eq!(read_msg(&mut s), Some(Got::Text("later".into())));
}

#[test]
fn display_of_an_io_error_shows_the_transport_error() {
    use std::error::Error as _;
    let e = Error::Io(ErrorKind::ConnectionReset);
    assert_eq!(e.to_string(), "transport: ConnectionReset");
    assert_eq!(e.source().unwrap().to_string(), "ConnectionReset");
    let e = Error::<std::io::Error>::Io(std::io::Error::other("cable cut"));
    assert_eq!(e.to_string(), "transport: cable cut");
    assert_eq!(
        Error::<ErrorKind>::Failed(ErrorKind::BrokenPipe).to_string(),
        "the connection ended when a write failed (BrokenPipe)"
    );
}

#[test]
fn std_streams_time_out_through_std_io() {
    // A TcpStream's read timeout is `WouldBlock` on Unix; StdIo makes it
    // `TimedOut`, so the handshake timeout runs.
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(StdDuration::from_millis(20)))
        .unwrap();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = ServerOptions {
        handshake_timeout: Some(Duration::from_millis(200)),
        ..sopts(Config::DEFAULT)
    };
    let got = timed(200, 220, || {
        ws::accept(
            ws::StdIo(stream),
            &mut rx,
            &mut tx,
            opts,
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        )
    });
    assert!(
        matches!(got, Err(Error::HandshakeTimeout)),
        "{:?}",
        got.err()
    );
}

/// The handshake's SHA-1 from the caller (a chip's accelerator on a
/// device): both sides take it through `with_sha1`, it is the one called,
/// and a wrong one fails the client's check of the accept key.
#[test]
fn the_callers_sha1_does_the_handshake_on_both_sides() {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    fn counted(parts: &[&[u8]]) -> [u8; 20] {
        CALLS.fetch_add(1, Ordering::Relaxed);
        sansws::handshake::sha1_digest(parts)
    }
    fn wrong(_: &[&[u8]]) -> [u8; 20] {
        [0; 20]
    }
    for (server_sha1, connects) in [(counted as fn(&[&[u8]]) -> [u8; 20], true), (wrong, false)] {
        CALLS.store(0, Ordering::Relaxed);
        let (c, s) = pair(usize::MAX);
        let server = thread::spawn(move || {
            let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
            let opts = ServerOptions::with_sha1(ws::std_clock, server_sha1);
            let accepted = ws::accept(
                s,
                &mut rx,
                &mut tx,
                opts,
                |_| Decision::Accept(None),
                |_| HttpResponse::new(404),
            );
            matches!(accepted, Ok(Accepted::WebSocket(_)))
        });
        let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
        let req = ClientRequest::new("device", "/ws");
        let opts = ClientOptions::with_sha1(req, [3; 16], TestKeys(1), ws::std_clock, counted);
        let got = ws::connect(c, &mut rx, &mut tx, opts);
        assert!(server.join().unwrap(), "the server accepts either way");
        if connects {
            assert!(got.is_ok());
            assert_eq!(CALLS.load(Ordering::Relaxed), 2, "one digest per side");
        } else {
            assert!(matches!(
                got,
                Err(Error::Handshake(
                    sansws::handshake::HandshakeError::BadAccept
                ))
            ));
        }
    }
}

// ---- Issue 16: batched replies. ----

/// What `peer` has been sent: `n` bytes, waiting for them.
fn take(peer: &mut Pipe, n: usize) -> Vec<u8> {
    let mut got = vec![0; n];
    embedded_io::Read::read_exact(peer, &mut got).unwrap();
    got
}

/// The peer sends `msgs` as binary messages in one write.
fn send(peer: &mut Pipe, msgs: &[&[u8]]) {
    let batch: Vec<u8> = msgs
        .iter()
        .flat_map(|m| cframe(OpCode::Binary, true, m))
        .collect();
    embedded_io::Write::write_all(peer, &batch).unwrap();
}

/// The server's echo of binary message `m`, as on the wire.
fn echo(m: &[u8]) -> Vec<u8> {
    support::sframe(OpCode::Binary, true, m)
}

#[test]
fn replies_to_messages_sent_together_are_flushed_once_and_a_lone_reply_at_once() {
    use support::sframe;
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, sopts(Config::DEFAULT));

    // A lone message: its send flushes.
    send(&mut peer, &[b"lone"]);
    let base = s.io().flushes;
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"lone".to_vec())));
    s.send_binary(b"lone").unwrap();
    assert_eq!(s.io().flushes, base + 1);
    assert_eq!(take(&mut peer, echo(b"lone").len()), echo(b"lone"));

    // Three together, read at once: the first two replies are held, the
    // third (nothing read is left) flushes all three.
    send(&mut peer, &[b"a", b"bb", b"ccc"]);
    for (i, m) in [&b"a"[..], b"bb", b"ccc"].into_iter().enumerate() {
        assert_eq!(read_msg(&mut s), Some(Got::Binary(m.to_vec())));
        s.send_binary(m).unwrap();
        assert_eq!(s.io().flushes, base + 1 + usize::from(i == 2), "after {i}");
    }
    let all: Vec<u8> = [&b"a"[..], b"bb", b"ccc"]
        .into_iter()
        .flat_map(echo)
        .collect();
    assert_eq!(take(&mut peer, all.len()), all);

    // A reply held, then the next message is not answered: the read that
    // would wait flushes it first.
    send(&mut peer, &[b"held", b"unanswered"]);
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"held".to_vec())));
    s.send_binary(b"held").unwrap();
    assert_eq!(s.io().flushes, base + 2);
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"unanswered".to_vec())));
    assert_eq!(s.io().flushes, base + 2);
    s.io().read_timeout = Some(StdDuration::from_millis(10));
    s.set_read_timeout(Some(Duration::from_millis(30)));
    assert_eq!(s.read_event(|_| ()), Err(Error::ReadTimeout));
    assert_eq!(s.io().flushes, base + 3);
    assert_eq!(take(&mut peer, echo(b"held").len()), echo(b"held"));
    // Nothing held: reading again flushes nothing.
    assert_eq!(s.read_event(|_| ()), Err(Error::ReadTimeout));
    assert_eq!(s.io().flushes, base + 3);

    // `flush` sends a held reply without reading again.
    send(&mut peer, &[b"now", b"later"]);
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"now".to_vec())));
    s.send_binary(b"now").unwrap();
    assert_eq!(s.io().flushes, base + 3);
    s.flush().unwrap();
    assert_eq!(s.io().flushes, base + 4);
    s.flush().unwrap();
    assert_eq!(s.io().flushes, base + 4, "nothing held: no flush");
    assert_eq!(take(&mut peer, echo(b"now").len()), echo(b"now"));
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"later".to_vec())));

    // A message in fragments: only the last flushes.
    s.send_fragment(DataKind::Text, b"frag", false).unwrap();
    s.send_fragment(DataKind::Text, b"ment", false).unwrap();
    assert_eq!(s.io().flushes, base + 4);
    s.send_fragment(DataKind::Text, b"ed", true).unwrap();
    assert_eq!(s.io().flushes, base + 5);
    let frags = [
        sframe(OpCode::Text, false, b"frag"),
        sframe(OpCode::Continuation, false, b"ment"),
        sframe(OpCode::Continuation, true, b"ed"),
    ]
    .concat();
    assert_eq!(take(&mut peer, frags.len()), frags);
}

#[test]
fn a_servers_frame_that_fits_in_tx_is_one_write() {
    use support::sframe;
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, sopts(Config::DEFAULT));
    // Up to what fits in `tx` with its header (2 bytes up to 125 of
    // payload, 4 from 126): one write; past it, the header and the
    // payload.
    for (len, writes) in [
        (0, 1),
        (20, 1),
        (125, 1),
        (126, 1),
        (252, 1),
        (253, 2),
        (4000, 2),
    ] {
        let m: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let before = s.io().writes;
        s.send_binary(&m).unwrap();
        assert_eq!(s.io().writes - before, writes, "{len} bytes");
        let f = sframe(OpCode::Binary, true, &m);
        assert_eq!(take(&mut peer, f.len()), f, "{len} bytes");
    }
    // Fragments alike.
    let before = s.io().writes;
    s.send_fragment(DataKind::Text, b"two ", false).unwrap();
    s.send_fragment(DataKind::Text, b"frames", true).unwrap();
    assert_eq!(s.io().writes - before, 2);
    let f = [
        sframe(OpCode::Text, false, b"two "),
        sframe(OpCode::Continuation, true, b"frames"),
    ]
    .concat();
    assert_eq!(take(&mut peer, f.len()), f);
}

#[test]
fn over_a_transport_that_sends_only_when_flushed_no_reply_is_stranded() {
    use support::sframe;
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, sopts(Config::DEFAULT));
    s.io().until_flush = true;
    // A reply that never comes fails the test instead of hanging it.
    peer.read_timeout = Some(StdDuration::from_secs(2));

    // A batch: out with the last reply.
    send(&mut peer, &[b"a", b"b", b"c"]);
    for m in [&b"a"[..], b"b", b"c"] {
        assert_eq!(read_msg(&mut s), Some(Got::Binary(m.to_vec())));
        s.send_binary(m).unwrap();
    }
    let all: Vec<u8> = [&b"a"[..], b"b", b"c"].into_iter().flat_map(echo).collect();
    assert_eq!(take(&mut peer, all.len()), all);

    // A held reply, then `tick` instead of a read: out.
    send(&mut peer, &[b"held", b"unanswered"]);
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"held".to_vec())));
    s.send_binary(b"held").unwrap();
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"unanswered".to_vec())));
    s.tick().unwrap();
    assert_eq!(take(&mut peer, echo(b"held").len()), echo(b"held"));

    // Sending on without reading while input waits: at most HOLD_MAX (4
    // KiB) of payload is held; past it a send flushes all.
    send(&mut peer, &[b"x", b"y"]);
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"x".to_vec())));
    let m = [7u8; 100];
    for _ in 0..100 {
        s.send_binary(&m).unwrap();
    }
    // Flushed at the 41st (4,100 bytes held) and the 82nd.
    let out: Vec<u8> = (0..82).flat_map(|_| echo(&m)).collect();
    assert_eq!(take(&mut peer, out.len()), out);
    s.flush().unwrap();
    let out: Vec<u8> = (0..18).flat_map(|_| echo(&m)).collect();
    assert_eq!(take(&mut peer, out.len()), out);
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"y".to_vec())));

    // A reply held when the peer's close comes in the same batch: the
    // reply, then the close's answer.
    let mut batch = cframe(OpCode::Binary, true, b"last");
    batch.extend(cframe(OpCode::Close, true, &1000u16.to_be_bytes()));
    embedded_io::Write::write_all(&mut peer, &batch).unwrap();
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"last".to_vec())));
    s.send_binary(b"last").unwrap();
    while s.read_event(|_| ()).unwrap().is_some() {}
    let mut want = echo(b"last");
    want.extend(sframe(OpCode::Close, true, &1000u16.to_be_bytes()));
    assert_eq!(take(&mut peer, want.len()), want);
    assert_eq!(s.end(), Some(End::Clean));
}

#[test]
fn a_failed_connection_flushes_nothing_more() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, sopts(Config::DEFAULT));
    send(&mut peer, &[b"held", b"next"]);
    assert_eq!(read_msg(&mut s), Some(Got::Binary(b"held".to_vec())));
    s.send_binary(b"held").unwrap();
    // The next write fails mid-frame: the connection ends, and the held
    // frame is not flushed after it (nor by `tick`).
    s.io().write_limit = Some(1);
    assert!(s.send_binary(b"cut").is_err());
    let flushes = s.io().flushes;
    let _ = s.tick();
    assert!(s.flush().is_err());
    assert_eq!(s.io().flushes, flushes);
    assert!(!s.is_connected());
}

//! WebSockets over a real lwIP (Debian's liblwip-dev) started in this
//! process on its own loopback netif: a sansws server and client over
//! netconn. `cargo test --features lwip`.
#![cfg(all(feature = "lwip", feature = "std"))]

mod support;
use support::timed;

use std::sync::Once;
use std::thread;

use sansws::adapter::lwip::{
    self, Accepted, Decision, Error, Listener, LwipError, Netconn, ServerOptions,
};
use sansws::conn::{Config, DataKind, Duration, End, MaskKeys};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::CloseCode;
use support::Got;
use support::embedded::{copts, sopts};

const LOCALHOST: [u8; 4] = [127, 0, 0, 1];

fn stack() {
    static START: Once = Once::new();
    START.call_once(|| lwip::host_stack_init().expect("lwIP stack"));
}

const BIG: Config = Config {
    max_frame_len: 2 << 20,
    max_message_len: 2 << 20,
    ..Config::DEFAULT
};

fn read_msg<K: MaskKeys>(
    w: &mut lwip::WebSocket<'_, Netconn, K>,
) -> Result<Option<Got>, Error<LwipError>> {
    support::read_msg(w)
}

/// Echo server for `n` connections on `port`; returns each one's end.
fn echo_server(port: u16, n: usize) -> thread::JoinHandle<Vec<Result<Option<End>, String>>> {
    let listener = Listener::bind(LOCALHOST, port).unwrap();
    thread::spawn(move || {
        (0..n)
            .map(|_| {
                let conn = listener.accept().map_err(|e| e.to_string())?;
                let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
                let a = lwip::accept(
                    conn,
                    &mut rx,
                    &mut tx,
                    sopts(BIG),
                    |_| Decision::Accept(None),
                    |_| HttpResponse::new(404),
                );
                let Ok(Accepted::WebSocket(mut ws)) = a else {
                    return Err("handshake".into());
                };
                loop {
                    match read_msg(&mut ws).map_err(|e| format!("{e:?}"))? {
                        Some(Got::Text(t)) => ws.send_text(&t).map_err(|e| format!("{e:?}"))?,
                        Some(Got::Binary(b)) => ws.send_binary(&b).map_err(|e| format!("{e:?}"))?,
                        Some(_) => {}
                        None => return Ok(ws.end()),
                    }
                }
            })
            .collect()
    })
}

#[test]
fn handshake_messages_fragments_a_mebibyte_ping_and_client_close() {
    stack();
    let server = echo_server(7001, 1);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let req = ClientRequest::new("127.0.0.1", "/ws");
    let mut ws =
        lwip::connect(LOCALHOST, 7001, &mut rx, &mut tx, copts(req, [1; 16], BIG)).unwrap();
    ws.send_text("hello lwIP").unwrap();
    assert_eq!(
        read_msg(&mut ws).unwrap(),
        Some(Got::Text("hello lwIP".into()))
    );
    ws.send_binary(&[1, 2, 3]).unwrap();
    assert_eq!(read_msg(&mut ws).unwrap(), Some(Got::Binary(vec![1, 2, 3])));
    ws.send_fragment(DataKind::Text, b"frag", false).unwrap();
    ws.send_fragment(DataKind::Text, b"ment", false).unwrap();
    ws.send_fragment(DataKind::Text, b"ed", true).unwrap();
    assert_eq!(
        read_msg(&mut ws).unwrap(),
        Some(Got::Text("fragmented".into()))
    );
    let big: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    ws.send_binary(&big).unwrap();
    assert_eq!(read_msg(&mut ws).unwrap(), Some(Got::Binary(big)));
    ws.ping(b"ping?").unwrap();
    assert_eq!(
        read_msg(&mut ws).unwrap(),
        Some(Got::Pong(b"ping?".to_vec()))
    );
    assert_eq!(
        ws.close(CloseCode::NORMAL, "bye").unwrap(),
        Some(End::Clean)
    );
    drop(ws);
    assert_eq!(server.join().unwrap(), vec![Ok(Some(End::Clean))]);
}

#[test]
fn server_initiated_close() {
    stack();
    let listener = Listener::bind(LOCALHOST, 7002).unwrap();
    let server = thread::spawn(move || {
        let conn = listener.accept().unwrap();
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
        let Ok(Accepted::WebSocket(mut ws)) = lwip::accept(
            conn,
            &mut rx,
            &mut tx,
            sopts(Config::DEFAULT),
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        ) else {
            panic!()
        };
        ws.send_text("bye soon").unwrap();
        ws.close(CloseCode::GOING_AWAY, "restart").unwrap()
    });
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let req = ClientRequest::new("127.0.0.1", "/");
    let mut ws = lwip::connect(
        LOCALHOST,
        7002,
        &mut rx,
        &mut tx,
        copts(req, [2; 16], Config::DEFAULT),
    )
    .unwrap();
    assert_eq!(
        read_msg(&mut ws).unwrap(),
        Some(Got::Text("bye soon".into()))
    );
    assert_eq!(read_msg(&mut ws).unwrap(), Some(Got::Close(Some(1001))));
    assert_eq!(read_msg(&mut ws).unwrap(), None);
    assert_eq!(ws.end(), Some(End::Clean));
    drop(ws);
    assert_eq!(server.join().unwrap(), Some(End::Clean));
}

#[test]
fn twenty_connections_one_after_another() {
    stack();
    let server = echo_server(7003, 20);
    for i in 0..20u8 {
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
        let req = ClientRequest::new("127.0.0.1", "/");
        let mut ws = lwip::connect(
            LOCALHOST,
            7003,
            &mut rx,
            &mut tx,
            copts(req, [i; 16], Config::DEFAULT),
        )
        .unwrap();
        ws.send_text(&format!("conn {i}")).unwrap();
        assert_eq!(
            read_msg(&mut ws).unwrap(),
            Some(Got::Text(format!("conn {i}")))
        );
        assert_eq!(ws.close(CloseCode::NORMAL, "").unwrap(), Some(End::Clean));
    }
    let ends = server.join().unwrap();
    assert_eq!(ends.len(), 20);
    assert!(ends.iter().all(|e| *e == Ok(Some(End::Clean))), "{ends:?}");
}

#[test]
fn a_peer_that_resets() {
    stack();
    let server = echo_server(7004, 1);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let req = ClientRequest::new("127.0.0.1", "/");
    let mut ws = lwip::connect(
        LOCALHOST,
        7004,
        &mut rx,
        &mut tx,
        copts(req, [3; 16], Config::DEFAULT),
    )
    .unwrap();
    ws.send_text("then I crash").unwrap();
    assert_eq!(
        read_msg(&mut ws).unwrap(),
        Some(Got::Text("then I crash".into()))
    );
    ws.into_io().abort();
    let ends = server.join().unwrap();
    eprintln!("server saw: {:?}", ends[0]);
    // The reset (ERR_RST) ends the server's connection as a lost one, an
    // event and not an error, as in the std adapter.
    assert_eq!(ends[0], Ok(Some(End::Abnormal)));
}

#[test]
fn a_silent_client_during_accept_is_refused_after_the_handshake_timeout() {
    // lwip::accept sets its receive timeout (RECV_TIMEOUT_MS): ERR_TIMEOUT
    // reads as TimedOut, and the handshake deadline is checked on the clock.
    stack();
    let listener = Listener::bind(LOCALHOST, 7005).unwrap();
    let client = thread::spawn(|| {
        let mut c = Netconn::connect(LOCALHOST, 7005).unwrap();
        // Silent: wait for the server to give up and close.
        c.set_recv_timeout(5000);
        embedded_io::Read::read(&mut c, &mut [0u8; 64])
    });
    let conn = listener.accept().unwrap();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = ServerOptions {
        handshake_timeout: Some(Duration::from_millis(300)),
        ..sopts(Config::DEFAULT)
    };
    let got = timed(300, 300 + u64::from(lwip::RECV_TIMEOUT_MS), || {
        lwip::accept(
            conn,
            &mut rx,
            &mut tx,
            opts,
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        )
    });
    assert!(matches!(got, Err(Error::HandshakeTimeout)));
    // Refused without an answer: the client reads the end of the stream.
    assert_eq!(client.join().unwrap(), Ok(0));
}

#[test]
fn close_on_a_silent_peer_returns_within_the_close_timeout() {
    stack();
    let listener = Listener::bind(LOCALHOST, 7006).unwrap();
    let server = thread::spawn(move || {
        let conn = listener.accept().unwrap();
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
        let config = Config {
            close_timeout: Duration::from_millis(300),
            ..Config::DEFAULT
        };
        let Ok(Accepted::WebSocket(mut ws)) = lwip::accept(
            conn,
            &mut rx,
            &mut tx,
            sopts(config),
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        ) else {
            panic!()
        };
        timed(300, 300 + u64::from(lwip::RECV_TIMEOUT_MS), || {
            ws.close(CloseCode::NORMAL, "")
        })
    });
    // A client that connects and then reads nothing: its stack takes the
    // close frame, nobody answers it.
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let ws = lwip::connect(
        LOCALHOST,
        7006,
        &mut rx,
        &mut tx,
        copts(
            ClientRequest::new("127.0.0.1", "/"),
            [4; 16],
            Config::DEFAULT,
        ),
    )
    .unwrap();
    assert_eq!(server.join().unwrap(), Ok(Some(End::CloseTimeout)));
    drop(ws);
}

#[test]
fn display_of_an_lwip_error_shows_the_err_t() {
    use std::error::Error as _;
    let e = Error::Io(LwipError::RST);
    assert_eq!(e.to_string(), "transport: connection reset (err_t -14)");
    assert_eq!(
        e.source().unwrap().to_string(),
        "connection reset (err_t -14)"
    );
}

/// permessage-deflate through lwIP: a client that compresses (with a
/// 9-bit window, as the device's 512-byte ring asks) over a raw netconn,
/// its messages inflated by `lwip::accept_deflate` chunk by chunk.
#[cfg(feature = "deflate")]
#[test]
fn a_compressing_client_is_inflated_through_a_512_byte_ring() {
    use embedded_io::{Read, Write};
    use sansws::Status;
    use sansws::conn::deflate::{Deflater, Inflater};
    use sansws::conn::{Connection, Instant};
    use sansws::handshake::deflate::DeflateElement;
    use sansws::handshake::{ClientHandshake, EMPTY_HEADER, Limits};

    stack();
    let listener = Listener::bind(LOCALHOST, 7007).unwrap();
    let server = thread::spawn(move || {
        let conn = listener.accept().unwrap();
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
        let mut inflater = Inflater::new([0u8; 512]);
        let Ok(Accepted::WebSocket(mut ws)) = lwip::accept_deflate(
            conn,
            &mut rx,
            &mut tx,
            &mut inflater,
            sopts(BIG),
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        ) else {
            panic!("no upgrade")
        };
        let agreed = ws.connection().deflate();
        let mut got = Vec::new();
        while let Some(m) = read_msg(&mut ws).unwrap() {
            if let Got::Text(t) = m {
                got.push(t);
            }
        }
        (agreed, got)
    });

    let texts: Vec<String> = [10usize, 600, 20_000]
        .iter()
        .map(|n| "{\"led\":\"on\",\"level\":42},".repeat(n / 24 + 1))
        .collect();
    let mut peer = Netconn::connect(LOCALHOST, 7007).unwrap();
    let hs = ClientHandshake::new([2; 16]);
    let offers = [DeflateElement::OFFER];
    let req = ClientRequest {
        deflate: &offers,
        ..ClientRequest::new("device", "/")
    };
    let mut out = vec![0u8; 1 << 16];
    let n = hs.write_request(&req, &mut out).unwrap();
    peer.write_all(&out[..n]).unwrap();
    let mut head = vec![0u8; 1024];
    let mut len = 0;
    let params = loop {
        len += peer.read(&mut head[len..]).unwrap();
        let mut slots = [EMPTY_HEADER; 16];
        if let Status::Complete(res) = hs
            .parse_response(&req, &head[..len], &mut slots, &Limits::DEFAULT)
            .unwrap()
        {
            break hs.deflate_params(&req, &res).expect("deflate agreed");
        }
    };
    assert_eq!(params.client_max_window_bits, 9, "kept to the ring");
    let mut conn = Connection::client(BIG, || [9, 8, 7, 6], Instant::ZERO);
    conn.set_deflate(params);
    let mut z = Deflater::new(9, false);
    let mut wire = 0;
    for t in &texts {
        let payload = z.compress(t.as_bytes(), true).clone();
        let n = conn
            .send_compressed(sansws::conn::DataKind::Text, &payload, &mut out)
            .unwrap();
        wire += n;
        peer.write_all(&out[..n]).unwrap();
    }
    conn.close(CloseCode::NORMAL, "").unwrap();
    peer.write_all(&support::drain(&mut conn, Instant::ZERO))
        .unwrap();
    let (agreed, got) = server.join().unwrap();
    assert_eq!(agreed, Some(params));
    assert_eq!(got, texts);
    let total: usize = texts.iter().map(|t| t.len()).sum();
    assert!(wire * 4 < total, "{wire} bytes for {total}");
}

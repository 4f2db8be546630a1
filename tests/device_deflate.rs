//! permessage-deflate on the embedded adapters (inflate only, through a
//! lent ring, sending uncompressed), over loopback against the host
//! adapter, which compresses: a device client asks for a 9-bit window
//! and reads compressed messages in chunks no larger than its 512-byte
//! ring; a device server keeps a browser-like client to its ring's
//! window; one inflater lent to connection after connection; a server
//! that sends compressed bytes through one-byte reads; and the
//! misconfigurations refused with their reasons.
#![cfg(all(
    feature = "embedded-io",
    feature = "std",
    feature = "deflate",
    feature = "server",
    feature = "client",
    feature = "sha1"
))]

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::thread;
use std::time::Duration;

use support::embedded::{copts, sopts};
use support::{Collector, Got};

use sansws::adapter::embedded_io::testing::Pipe;
use sansws::adapter::embedded_io::{self as ws, Accepted, Decision, Error, StdIo};
use sansws::adapter::std_net::{self, DeflateOptions, Options};
use sansws::conn::deflate::{Deflater, Inflater};
use sansws::conn::{Config, DataKind, Event};
use sansws::handshake::deflate::{DeflateElement, DeflateParams, DeflateSetup};
use sansws::handshake::{ClientHandshake, ClientRequest, HttpResponse, WriteError};
use sansws::message::Message;
use sansws::wire::CloseCode;

/// A TCP stream that counts the bytes read from it.
struct Counted(TcpStream, Arc<AtomicUsize>);

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.fetch_add(n, Relaxed);
        Ok(n)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// JSON-like text of about `len` bytes, message `i`.
fn json(i: usize, len: usize) -> String {
    let mut s = String::from("[");
    let mut k = 0;
    while s.len() < len {
        s.push_str(&format!(
            r#"{{"id":{i},"seq":{k},"sensor":"temp","value":{}.{},"ok":true}},"#,
            20 + (k * 7 + i) % 9,
            (k * 13) % 10
        ));
        k += 1;
    }
    s.push(']');
    s
}

fn host_opts() -> Options {
    Options {
        read_timeout: Some(Duration::from_secs(20)),
        handshake_timeout: Some(Duration::from_secs(5)),
        ..Options::default()
    }
}

/// Sizes that cross the ring, the read buffer and the window.
const SIZES: [usize; 6] = [1, 100, 511, 513, 5_000, 100_000];

/// Reads one message through the device adapter, asserting no chunk is
/// larger than `max_chunk`.
fn read_msg<K: sansws::conn::MaskKeys>(
    w: &mut ws::WebSocket<'_, StdIo<Counted>, K>,
    max_chunk: usize,
) -> Option<Got> {
    let mut c = Collector::default();
    loop {
        let r = w
            .read_event(|e| {
                if let Event::Data(d) = &e {
                    assert!(d.payload.len() <= max_chunk, "{}", d.payload.len());
                }
                c.on_event(e)
            })
            .unwrap();
        if let Some(m) = c.finish(r) {
            return m;
        }
    }
}

/// A host server (compressing, as by default) that sends [`SIZES`]
/// JSON messages, reads as many back, and closes; returns what was
/// agreed and the lengths it read.
fn host_server() -> (u16, thread::JoinHandle<(DeflateParams, Vec<usize>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(std_net::Accepted::WebSocket(mut ws)) = std_net::accept(s, &host_opts()) else {
            panic!("no upgrade")
        };
        let agreed = ws.connection().deflate().expect("deflate agreed");
        for (i, len) in SIZES.iter().enumerate() {
            ws.send_text(&json(i, *len)).unwrap();
        }
        // The device's messages come uncompressed.
        let mut lens = Vec::new();
        for _ in SIZES {
            match ws.read().unwrap() {
                Some(Message::Text(t)) => lens.push(t.len()),
                other => panic!("{other:?}"),
            }
        }
        ws.close(CloseCode::NORMAL, "").unwrap();
        (agreed, lens)
    });
    (port, server)
}

const DEVICE: Config = Config {
    max_message_len: 1 << 20,
    max_frame_len: 1 << 20,
    ..Config::DEFAULT
};

#[test]
fn a_device_client_inflates_a_host_servers_messages_through_a_512_byte_ring() {
    let (port, server) = host_server();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let read = Arc::new(AtomicUsize::new(0));
    let io = StdIo(Counted(tcp, read.clone()));
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let mut inflater = Inflater::new([0u8; 512]);
    assert_eq!(inflater.window_bits(), 9);
    let req = ClientRequest {
        port,
        ..ClientRequest::new("127.0.0.1", "/")
    };
    let mut c = ws::connect_deflate(
        io,
        &mut rx,
        &mut tx,
        &mut inflater,
        copts(req, [3; 16], DEVICE),
    )
    .unwrap();
    let agreed = c.connection().deflate().expect("agreed");
    assert_eq!(agreed.server_max_window_bits, 9);
    let start = read.load(Relaxed);
    let mut total = 0;
    for (i, len) in SIZES.iter().enumerate() {
        let Some(Got::Text(t)) = read_msg(&mut c, 512) else {
            panic!("no text")
        };
        assert_eq!(t, json(i, *len), "message {i}");
        total += t.len();
        c.send_text(&format!("{}", t.len())).unwrap();
    }
    let wire = read.load(Relaxed) - start;
    eprintln!("{total} bytes of text came as {wire} bytes on the wire");
    assert!(wire * 2 < total, "not compressed: {wire} of {total}");
    assert_eq!(read_msg(&mut c, 512), Some(Got::Close(Some(1000))));
    let (server_agreed, lens) = server.join().unwrap();
    assert_eq!(server_agreed, agreed);
    assert_eq!(
        lens,
        SIZES
            .iter()
            .map(|n| n.to_string().len())
            .collect::<Vec<_>>()
    );
}

#[cfg(feature = "embedded-io-async")]
#[test]
fn the_async_adapter_inflates_the_same() {
    use sansws::adapter::embedded_io::testing::block_on;
    use sansws::adapter::embedded_io_async as aws;
    let (port, server) = host_server();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let read = Arc::new(AtomicUsize::new(0));
    let io = StdIo(Counted(tcp, read));
    block_on(async move {
        let (mut rx, mut tx) = ([0u8; 700], [0u8; 300]);
        let mut inflater = Inflater::new([0u8; 1 << 11]);
        let req = ClientRequest {
            port,
            ..ClientRequest::new("127.0.0.1", "/")
        };
        let opts = copts(req, [4; 16], DEVICE);
        let mut c = aws::connect_deflate(io, &mut rx, &mut tx, &mut inflater, opts)
            .await
            .unwrap();
        assert_eq!(c.connection().deflate().unwrap().server_max_window_bits, 11);
        for (i, len) in SIZES.iter().enumerate() {
            let mut col = Collector::default();
            let got = loop {
                let r = c
                    .read_event(|e| {
                        if let Event::Data(d) = &e {
                            assert!(d.payload.len() <= 1 << 11);
                        }
                        col.on_event(e)
                    })
                    .await
                    .unwrap();
                if let Some(m) = col.finish(r) {
                    break m;
                }
            };
            assert_eq!(got, Some(Got::Text(json(i, *len))));
            c.send_text(&len.to_string()).await.unwrap();
        }
    });
    let (_, lens) = server.join().unwrap();
    assert_eq!(lens.len(), SIZES.len());
}

#[test]
fn a_device_server_keeps_a_host_client_to_its_rings_window_and_reuses_the_inflater() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rounds = 3;
    let server = thread::spawn(move || {
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
        let mut inflater = Inflater::new([0u8; 1 << 10]);
        let mut agreed = Vec::new();
        for _ in 0..rounds {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let read = Arc::new(AtomicUsize::new(0));
            let accepted = ws::accept_deflate(
                StdIo(Counted(s, read)),
                &mut rx,
                &mut tx,
                &mut inflater,
                sopts(DEVICE),
                |_| Decision::Accept(None),
                |_| HttpResponse::new(404),
            );
            let Ok(Accepted::WebSocket(mut w)) = accepted else {
                panic!("no upgrade")
            };
            agreed.push(w.connection().deflate());
            // An echo, uncompressed, of what is inflated through 1 KiB.
            while let Some(m) = read_msg(&mut w, 1 << 10) {
                match m {
                    Got::Text(t) => w.send_text(&t).unwrap(),
                    Got::Binary(b) => w.send_binary(&b).unwrap(),
                    _ => {}
                }
            }
        }
        agreed
    });
    for round in 0..rounds {
        let opts = Options {
            deflate: Some(DeflateOptions::default()),
            ..host_opts()
        };
        let mut c = std_net::connect_with(&format!("ws://127.0.0.1:{port}/"), &opts).unwrap();
        let agreed = c.connection().deflate().expect("agreed");
        assert_eq!(agreed.client_max_window_bits, 10, "kept to the ring");
        for (i, len) in SIZES.iter().enumerate() {
            let text = json(round * 10 + i, *len);
            c.send_text(&text).unwrap();
            match c.read().unwrap() {
                Some(Message::Text(t)) => assert_eq!(&*t, text.as_str()),
                other => panic!("{other:?}"),
            }
        }
        let bin: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        c.send_binary(&bin).unwrap();
        match c.read().unwrap() {
            Some(Message::Binary(b)) => assert_eq!(&b[..], &bin[..]),
            other => panic!("{other:?}"),
        }
        c.close(CloseCode::NORMAL, "").unwrap();
    }
    let agreed = server.join().unwrap();
    assert_eq!(agreed.len(), rounds);
    for a in agreed {
        let a: DeflateParams = a.expect("agreed");
        assert_eq!(a.client_max_window_bits, 10);
    }
}

#[test]
fn a_compressed_stream_is_inflated_the_same_through_one_byte_reads() {
    for max_io in [1, 3, 64, usize::MAX] {
        let (mut a, mut b) = Pipe::pair();
        a.max_io = max_io;
        b.max_io = max_io;
        // The peer: a hand-made client that compresses (9-bit window).
        let peer = thread::spawn(move || {
            let hs = ClientHandshake::new([9; 16]);
            let offers = [DeflateElement::OFFER];
            let req = ClientRequest {
                deflate: &offers,
                ..ClientRequest::new("device", "/")
            };
            let mut out = vec![0u8; 1 << 18];
            let n = hs.write_request(&req, &mut out).unwrap();
            embedded_io::Write::write_all(&mut a, &out[..n]).unwrap();
            let head = support::peer::read_head(&mut a);
            assert!(
                head.contains("permessage-deflate; client_max_window_bits=9"),
                "{head}"
            );
            let params = DeflateParams {
                client_max_window_bits: 9,
                ..DeflateParams::DEFAULT
            };
            let mut conn = sansws::conn::Connection::client(
                Config::HOST,
                || [5, 6, 7, 8],
                sansws::conn::Instant::ZERO,
            );
            conn.set_deflate(params);
            let mut z = Deflater::new(9, false);
            for (i, len) in SIZES.iter().enumerate() {
                let payload = z.compress(json(i, *len).as_bytes(), true).clone();
                let n = conn
                    .send_compressed(DataKind::Text, &payload, &mut out)
                    .unwrap();
                embedded_io::Write::write_all(&mut a, &out[..n]).unwrap();
            }
            conn.close(CloseCode::NORMAL, "").unwrap();
            let close = support::drain(&mut conn, sansws::conn::Instant::ZERO);
            embedded_io::Write::write_all(&mut a, &close).unwrap();
            a
        });
        let (mut rx, mut tx) = ([0u8; 600], [0u8; 256]);
        let mut inflater = Inflater::new([0u8; 512]);
        let Ok(Accepted::WebSocket(mut w)) = ws::accept_deflate(
            b,
            &mut rx,
            &mut tx,
            &mut inflater,
            sopts(DEVICE),
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        ) else {
            panic!("no upgrade")
        };
        for (i, len) in SIZES.iter().enumerate() {
            let Some(Got::Text(t)) = support::read_msg(&mut w).unwrap() else {
                panic!("no text")
            };
            assert_eq!(t, json(i, *len), "message {i} at max_io {max_io}");
        }
        assert_eq!(
            support::read_msg(&mut w).unwrap(),
            Some(Got::Close(Some(1000)))
        );
        drop(peer.join().unwrap());
    }
}

#[test]
fn an_offer_without_an_inflater_or_a_ring_too_small_is_refused_with_its_reason() {
    let (a, _b) = Pipe::pair();
    let offers = [DeflateElement::OFFER];
    let req = ClientRequest {
        deflate: &offers,
        ..ClientRequest::new("device", "/")
    };
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let r = ws::connect(a, &mut rx, &mut tx, copts(req, [1; 16], Config::DEFAULT));
    assert!(
        matches!(
            r,
            Err(Error::HandshakeWrite(WriteError::Deflate(
                DeflateSetup::NoInflater
            )))
        ),
        "{:?}",
        r.err()
    );

    // An offer of its own allowing the server more than the ring holds.
    let (a, _b) = Pipe::pair();
    let mut inflater = Inflater::new([0u8; 512]);
    let r = ws::connect_deflate(
        a,
        &mut rx,
        &mut tx,
        &mut inflater,
        copts(req, [1; 16], Config::DEFAULT),
    );
    assert!(matches!(
        r,
        Err(Error::HandshakeWrite(WriteError::Deflate(
            DeflateSetup::WindowPastRing
        )))
    ));

    // A ring under 256 bytes holds no window.
    let (a, _b) = Pipe::pair();
    let mut small = Inflater::new([0u8; 200]);
    let plain = ClientRequest::new("device", "/");
    let r = ws::connect_deflate(
        a,
        &mut rx,
        &mut tx,
        &mut small,
        copts(plain, [1; 16], Config::DEFAULT),
    );
    assert!(matches!(
        r,
        Err(Error::HandshakeWrite(WriteError::Deflate(
            DeflateSetup::RingTooSmall
        )))
    ));
    // A server: the ring is found too small once an upgrade is asked for,
    // and the client is answered 500.
    let (mut a, b) = Pipe::pair();
    support::peer::send_request(&mut a);
    let r = ws::accept_deflate(
        b,
        &mut rx,
        &mut tx,
        &mut small,
        sopts(Config::DEFAULT),
        |_| Decision::Accept(None),
        |_| HttpResponse::new(404),
    );
    assert!(matches!(
        r,
        Err(Error::HandshakeWrite(WriteError::Deflate(
            DeflateSetup::RingTooSmall
        )))
    ));
    assert!(support::peer::read_head(&mut a).starts_with("HTTP/1.1 500"));
}

#[test]
fn a_device_server_declines_an_offer_its_ring_cannot_hold_and_goes_on_uncompressed() {
    // A client that does not let the server limit its window (no
    // client_max_window_bits): a 1 KiB ring cannot hold its 32 KiB.
    let (mut a, b) = Pipe::pair();
    let peer = thread::spawn(move || {
        let hs = ClientHandshake::new([9; 16]);
        let offers = [DeflateElement {
            client_max_window_bits: None,
            ..DeflateElement::OFFER
        }];
        let req = ClientRequest {
            deflate: &offers,
            ..ClientRequest::new("device", "/")
        };
        let mut out = [0u8; 512];
        let n = hs.write_request(&req, &mut out).unwrap();
        embedded_io::Write::write_all(&mut a, &out[..n]).unwrap();
        let head = support::peer::read_head(&mut a);
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("sec-websocket-extensions"),
            "{head}"
        );
        a
    });
    let (mut rx, mut tx) = ([0u8; 600], [0u8; 256]);
    let mut inflater = Inflater::new([0u8; 1 << 10]);
    let Ok(Accepted::WebSocket(w)) = ws::accept_deflate(
        b,
        &mut rx,
        &mut tx,
        &mut inflater,
        sopts(Config::DEFAULT),
        |_| Decision::Accept(None),
        |_| HttpResponse::new(404),
    ) else {
        panic!("no upgrade")
    };
    assert_eq!(w.connection().deflate(), None);
    drop(peer.join().unwrap());
}

//! The std adapter over real loopback sockets. Every test binds its own
//! ephemeral port on 127.0.0.1 and bounds its waits.
#![cfg(feature = "std")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sansws::Status;
use sansws::adapter::std_net::{self, Accepted, Decision, Error, Options};
use sansws::conn::{Config, DataKind, End};
use sansws::handshake::{ClientHandshake, ClientRequest, EMPTY_HEADER, Limits};
use sansws::message::{Message, Utf8Bytes};
use sansws::wire::{CloseCode, FrameHeader, OpCode, Rsv, apply_mask};

fn opts() -> Options {
    Options {
        read_timeout: Some(Duration::from_secs(20)),
        handshake_timeout: Some(Duration::from_secs(5)),
        ..Options::default()
    }
}

/// An echo server on an ephemeral port; each connection's end is sent on
/// the returned channel.
fn echo_server(opts: Options) -> (SocketAddr, mpsc::Receiver<Option<End>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { continue };
            let (opts, tx) = (opts.clone(), tx.clone());
            thread::spawn(move || {
                let Ok(Accepted::WebSocket(mut ws)) = std_net::accept(s, &opts) else {
                    return;
                };
                loop {
                    match ws.read() {
                        Ok(Some(m)) if m.is_data() => {
                            if ws.send(&m).is_err() {
                                break;
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => break,
                    }
                }
                let _ = tx.send(ws.end());
            });
        }
    });
    (addr, rx)
}

fn text(m: Option<Message>) -> Utf8Bytes {
    match m {
        Some(Message::Text(t)) => t,
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn client_and_server_example_flows() {
    let (addr, ends) = echo_server(opts());
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &opts()).unwrap();
    assert!(ws.is_connected());
    for i in 0..5 {
        ws.send_text(&format!("hello {i:04}")).unwrap();
        assert_eq!(text(ws.read().unwrap()), format!("hello {i:04}"));
    }
    ws.send_fragment(DataKind::Text, b"frag", false).unwrap();
    ws.send_fragment(DataKind::Text, b"mented", true).unwrap();
    assert_eq!(text(ws.read().unwrap()), "fragmented");
    ws.send_binary(&[1, 2, 3]).unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Some(Message::Binary(vec![1, 2, 3].into()))
    );
    ws.ping(b"are you there").unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Some(Message::Pong(b"are you there".to_vec().into()))
    );
    assert_eq!(
        ws.close(CloseCode::NORMAL, "bye").unwrap(),
        Some(End::Clean)
    );
    assert!(!ws.is_connected());
    assert_eq!(
        ws.connection().remote_close(),
        Some((CloseCode::NORMAL, ""))
    );
    assert_eq!(
        ends.recv_timeout(Duration::from_secs(10)).unwrap(),
        Some(End::Clean)
    );
}

#[test]
fn fifty_clients_at_once_a_hundred_messages_each() {
    let (addr, ends) = echo_server(opts());
    let started = Instant::now();
    let clients: Vec<_> = (0..50)
        .map(|c| {
            thread::spawn(move || {
                let mut ws = std_net::connect_with(&format!("ws://{addr}/c{c}"), &opts()).unwrap();
                for i in 0..100usize {
                    if i % 2 == 0 {
                        let t = format!("client {c} message {i} {}", "x".repeat(i));
                        ws.send_text(&t).unwrap();
                        assert_eq!(text(ws.read().unwrap()), t);
                    } else {
                        let b: Vec<u8> = (0..i * 37).map(|k| (k * c) as u8).collect();
                        ws.send_binary(&b).unwrap();
                        assert_eq!(ws.read().unwrap(), Some(Message::Binary(b.into())));
                    }
                }
                ws.close(CloseCode::NORMAL, "").unwrap()
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), Some(End::Clean));
    }
    for _ in 0..50 {
        assert_eq!(
            ends.recv_timeout(Duration::from_secs(10)).unwrap(),
            Some(End::Clean)
        );
    }
    eprintln!("50 x 100 messages in {:?}", started.elapsed());
}

#[test]
fn a_sixteen_mib_message() {
    // No keepalive, a long read timeout: compressing 16 MiB under
    // emulation (qemu) keeps an end silent for longer than the pong
    // timeout, and (s390x) the read timeout.
    let o = Options {
        config: Config {
            ping_interval: None,
            ..opts().config
        },
        read_timeout: Some(Duration::from_secs(300)),
        ..opts()
    };
    let (addr, _ends) = echo_server(o.clone());
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &o).unwrap();
    let big: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    ws.send_binary(&big).unwrap();
    match ws.read().unwrap() {
        Some(Message::Binary(b)) => assert!(b[..] == big[..], "16 MiB came back different"),
        other => panic!("{:?} {:?}", other.map(|m| m.as_bytes().len()), ws.end()),
    }
    // One byte over the frame limit is refused with 1009.
    let too_big = vec![0u8; (16 << 20) + 1];
    ws.send_binary(&too_big).unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Some(Message::Close(Some((
            CloseCode::MESSAGE_TOO_BIG,
            String::new()
        ))))
    );
    assert!(ws.read().unwrap().is_none());
    assert_eq!(
        ws.connection().remote_close().map(|c| c.0),
        Some(CloseCode::MESSAGE_TOO_BIG)
    );
}

#[test]
fn server_pushes_from_another_thread_while_the_reader_blocks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(ws)) = std_net::accept(s, &opts()) else {
            panic!()
        };
        let (mut reader, sender) = ws.split().unwrap();
        let pusher = {
            let sender = sender.clone();
            thread::spawn(move || {
                for i in 0..20 {
                    sender.send_text(&format!("reading {i}")).unwrap();
                    thread::sleep(Duration::from_millis(5));
                }
            })
        };
        // The reader blocks here the whole time the pusher runs.
        let got = reader.read().unwrap();
        pusher.join().unwrap();
        assert_eq!(text(got), "stop");
        sender.close(CloseCode::GOING_AWAY, "done").unwrap();
        assert_eq!(
            reader.read().unwrap(),
            Some(Message::Close(Some((CloseCode::GOING_AWAY, String::new()))))
        );
        assert!(reader.read().unwrap().is_none());
        reader.end()
    });
    let mut ws = std_net::connect_with(&format!("ws://{addr}/ws"), &opts()).unwrap();
    for i in 0..20 {
        assert_eq!(text(ws.read().unwrap()), format!("reading {i}"));
    }
    ws.send_text("stop").unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Some(Message::Close(Some((CloseCode::GOING_AWAY, "done".into()))))
    );
    assert!(ws.read().unwrap().is_none());
    assert_eq!(ws.end(), Some(End::Clean));
    assert_eq!(server.join().unwrap(), Some(End::Clean));
}

/// Opens a WebSocket by hand on a raw TcpStream (to misbehave later).
fn raw_client(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let hs = ClientHandshake::new([9; 16]);
    let req = ClientRequest::new("127.0.0.1", "/");
    let mut buf = [0u8; 512];
    let n = hs.write_request(&req, &mut buf).unwrap();
    s.write_all(&buf[..n]).unwrap();
    let mut len = 0;
    loop {
        len += s.read(&mut buf[len..]).unwrap();
        let mut h = [EMPTY_HEADER; 16];
        if let Status::Complete(_) = hs
            .parse_response(&req, &buf[..len], &mut h, &Limits::DEFAULT)
            .unwrap()
        {
            return s;
        }
    }
}

#[test]
fn a_peer_vanishing_mid_frame_leaves_the_others_running() {
    let (addr, ends) = echo_server(opts());
    let mut healthy = std_net::connect_with(&format!("ws://{addr}/"), &opts()).unwrap();
    healthy.send_text("before").unwrap();
    assert_eq!(text(healthy.read().unwrap()), "before");

    let mut raw = raw_client(addr);
    let h = FrameHeader {
        fin: true,
        rsv: Rsv::NONE,
        opcode: OpCode::Binary,
        mask: Some([1, 2, 3, 4]),
        payload_len: 1000,
    };
    let mut frame = [0u8; 14 + 10];
    let n = h.emit(&mut frame).unwrap();
    apply_mask(&mut frame[n..n + 10], [1, 2, 3, 4], 0);
    raw.write_all(&frame[..n + 10]).unwrap();
    drop(raw);
    assert_eq!(
        ends.recv_timeout(Duration::from_secs(10)).unwrap(),
        Some(End::Abnormal)
    );

    healthy.send_text("after").unwrap();
    assert_eq!(text(healthy.read().unwrap()), "after");
    assert_eq!(
        healthy.close(CloseCode::NORMAL, "").unwrap(),
        Some(End::Clean)
    );
}

#[test]
fn handshake_timeouts_on_both_sides() {
    let short = Options {
        handshake_timeout: Some(Duration::from_millis(300)),
        ..opts()
    };
    // Server: a client that connects and says nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _silent = TcpStream::connect(addr).unwrap();
    let (s, _) = listener.accept().unwrap();
    let t = Instant::now();
    match std_net::accept(s, &short) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(3));
    // Client: a server that accepts and never answers.
    let t = Instant::now();
    match std_net::connect_with(&format!("ws://{addr}/"), &short) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(3));
    drop(listener);
}

#[test]
fn rejection_status_subprotocols_and_plain_http() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let r = std_net::accept_with(s, &opts(), |req| {
                if req.path() != "/ws" {
                    Decision::reject(404, "no such endpoint")
                } else if req.origin().is_some_and(|o| o != "http://device.local") {
                    Decision::reject(403, "foreign origin")
                } else if req.offers_protocol("led.v2") {
                    Decision::accept_protocol("led.v2")
                } else {
                    Decision::accept()
                }
            });
            match r {
                Ok(Accepted::WebSocket(mut ws)) => {
                    let p = ws.protocol().unwrap_or("none").to_string();
                    let _ = ws.send_text(&p);
                    while let Ok(Some(_)) = ws.read() {}
                }
                Ok(Accepted::Http(req, mut s)) => {
                    let body = format!("plain {}", req.path());
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
                _ => {}
            }
        }
    });
    match std_net::connect_with(&format!("ws://{addr}/other"), &opts()) {
        Err(Error::HttpStatus { status, reason }) => {
            assert_eq!((status, reason.as_str()), (404, "Not Found"))
        }
        other => panic!("{other:?}"),
    }
    let foreign = Options {
        headers: vec![("Origin".into(), "http://evil.example".into())],
        ..opts()
    };
    assert!(matches!(
        std_net::connect_with(&format!("ws://{addr}/ws"), &foreign),
        Err(Error::HttpStatus { status: 403, .. })
    ));
    let offer = Options {
        protocols: vec!["led.v1".into(), "led.v2".into()],
        ..opts()
    };
    let mut ws = std_net::connect_with(&format!("ws://{addr}/ws"), &offer).unwrap();
    assert_eq!(ws.protocol(), Some("led.v2"));
    assert_eq!(text(ws.read().unwrap()), "led.v2");
    ws.close(CloseCode::NORMAL, "").unwrap();
    // A page request gets a plain answer.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.ends_with("plain /index.html"), "{out}");
}

#[test]
fn urls_and_tls() {
    // Without TLS built in, wss:// says so before it connects (with it,
    // tests/tls.rs).
    #[cfg(not(feature = "rustls"))]
    assert!(matches!(
        std_net::connect("wss://example.com/"),
        Err(Error::TlsRequired)
    ));
    for bad in [
        "http://x/",
        "ws://",
        "ws://u@h/",
        "ws://h/#frag",
        "ws://h:99999/",
        "ws://[::1/",
    ] {
        assert!(
            matches!(std_net::Url::parse(bad), Err(Error::Url(_))),
            "{bad}"
        );
    }
    let u = std_net::Url::parse("ws://[::1]:9001?x=1").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.resource.as_str()),
        ("::1", 9001, "/?x=1")
    );
    let u = std_net::Url::parse("WSS://device.local/ws").unwrap();
    assert_eq!((u.secure, u.port), (true, 443));
}

#[test]
fn keepalive_pings_and_a_silent_peer() {
    let keep = Options {
        config: Config {
            ping_interval: Some(sansws::conn::Duration::from_millis(100)),
            pong_timeout: sansws::conn::Duration::from_millis(300),
            ..Config::HOST
        },
        ..opts()
    };
    // A live server answers the keepalive ping.
    let (addr, _ends) = echo_server(opts());
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &keep).unwrap();
    let t = Instant::now();
    assert_eq!(ws.read().unwrap(), Some(Message::Pong(Vec::new().into())));
    assert!(t.elapsed() >= Duration::from_millis(90));
    ws.close(CloseCode::NORMAL, "").unwrap();

    // A server that completes the handshake, then never reads again.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (hold_tx, hold_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(ws)) = std_net::accept(s, &opts()) else {
            panic!()
        };
        let _ = hold_rx.recv_timeout(Duration::from_secs(10));
        drop(ws);
    });
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &keep).unwrap();
    let t = Instant::now();
    assert!(ws.read().unwrap().is_none());
    assert_eq!(ws.end(), Some(End::PongTimeout));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop(hold_tx);
}

#[test]
fn caller_supplied_mask_keys_are_used() {
    // A server that reports the first frame's masking key.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0u8; 4096];
        let mut len = 0;
        loop {
            len += s.read(&mut buf[len..]).unwrap();
            let mut h = [EMPTY_HEADER; 16];
            if let Ok(Status::Complete(sansws::handshake::Outcome::Upgrade(r))) =
                sansws::handshake::parse_request(&buf[..len], &mut h, &Limits::DEFAULT)
            {
                let mut out = [0u8; 256];
                let n = sansws::handshake::ServerResponse::accept(&r)
                    .write(&mut out)
                    .unwrap();
                s.write_all(&out[..n]).unwrap();
                break;
            }
        }
        let mut frame = [0u8; 6];
        s.read_exact(&mut frame).unwrap();
        [frame[2], frame[3], frame[4], frame[5]]
    });
    let stream = TcpStream::connect(addr).unwrap();
    let keys: std_net::Keys = Box::new(|| [0xde, 0xad, 0xbe, 0xef]);
    let mut ws =
        std_net::client_with_keys(stream, &format!("ws://{addr}/"), &opts(), keys).unwrap();
    ws.send_text("x").unwrap();
    assert_eq!(server.join().unwrap(), [0xde, 0xad, 0xbe, 0xef]);
}

/// Issue 11's first trap, through the adapter and a `Sender` on another
/// thread: while a fragmented message is open, a whole message is refused
/// (it used to go out as the open message's last fragment: "AAABBB").
#[test]
fn a_whole_message_never_ends_an_open_fragmented_one() {
    use sansws::conn::SendError;
    let (addr, _ends) = echo_server(opts());
    for kind in [DataKind::Text, DataKind::Binary] {
        let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &opts()).unwrap();
        ws.send_fragment(kind, b"AAA", false).unwrap();
        let refused = |r: Result<(), Error>| {
            assert!(
                matches!(r, Err(Error::Send(SendError::FragmentInProgress))),
                "{r:?}"
            )
        };
        refused(ws.send_text("BBB"));
        refused(ws.send_binary(b"BBB"));
        refused(ws.send(&Message::Text("BBB".into())));
        let (mut reader, sender) = ws.split().unwrap();
        let other = sender.clone();
        thread::spawn(move || refused(other.send_text("BBB")))
            .join()
            .unwrap();
        sender.send_fragment(kind, b"CCC", true).unwrap();
        sender.send_text("DDD").unwrap();
        let first = reader.read().unwrap().unwrap();
        assert_eq!(first.as_bytes(), b"AAACCC");
        assert_eq!(text(reader.read().unwrap()), "DDD");
    }
}

/// `Options::write_timeout` holds in both roles (it used to be set by
/// `connect_with` only).
#[test]
fn the_write_timeout_holds_for_servers_and_clients() {
    let timeout = Some(Duration::from_millis(1500));
    let o = Options {
        write_timeout: timeout,
        ..opts()
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server_opts = o.clone();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(ws)) = std_net::accept(s, &server_opts) else {
            panic!("no upgrade");
        };
        ws.get_ref().write_timeout().unwrap()
    });
    let ws = std_net::connect_with(&format!("ws://{addr}/"), &o).unwrap();
    assert_eq!(ws.get_ref().tcp().write_timeout().unwrap(), timeout);
    assert_eq!(server.join().unwrap(), timeout);
}

/// `send(&Message)` sends every kind, as a tungstenite user expects (pings,
/// pongs and closes used to be dropped silently), from a `WebSocket` and
/// from a `Sender`, which also has `pong`.
#[test]
fn every_kind_of_message_is_sent() {
    let (addr, ends) = echo_server(opts());
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &opts()).unwrap();
    ws.send(&Message::Ping(b"are you there".to_vec().into()))
        .unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Some(Message::Pong(b"are you there".to_vec().into()))
    );
    ws.send(&Message::Pong(b"unasked".to_vec().into())).unwrap();
    let (mut reader, sender) = ws.split().unwrap();
    sender.pong(b"beat").unwrap();
    sender
        .send(&Message::Ping(b"from a sender".to_vec().into()))
        .unwrap();
    assert_eq!(
        reader.read().unwrap(),
        Some(Message::Pong(b"from a sender".to_vec().into()))
    );
    sender
        .send(&Message::Close(Some((CloseCode(4001), "bye".into()))))
        .unwrap();
    // The close handshake completes through the reader.
    let mut rest = Vec::new();
    while let Some(m) = reader.read().unwrap() {
        rest.push(m);
    }
    assert_eq!(
        rest,
        [Message::Close(Some((CloseCode(4001), String::new())))]
    );
    assert_eq!(reader.end(), Some(End::Clean));
    assert_eq!(
        ends.recv_timeout(Duration::from_secs(10)).unwrap(),
        Some(End::Clean)
    );
}

/// An error chain prints each cause once (wrapping variants used to
/// display their source and also return it from `source()`).
#[test]
fn error_chains_print_each_cause_once() {
    use sansws::conn::SendError;
    use std::error::Error as _;
    let errors = [
        Error::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset by peer",
        )),
        Error::from(SendError::FragmentInProgress),
        Error::from(sansws::conn::ProtocolError::InvalidUtf8),
    ];
    for e in errors {
        let shown = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            assert!(!shown.contains(&s.to_string()), "{shown:?} repeats {s}");
            source = s.source();
        }
    }
}

/// The read timeout can be changed on an open socket, and on a split
/// reader (issue 12).
#[test]
fn the_read_timeout_changes_on_an_open_socket() {
    let (addr, _ends) = echo_server(opts());
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &opts()).unwrap();
    ws.set_read_timeout(Some(Duration::from_millis(200)));
    let started = Instant::now();
    let err = ws.read().unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let (mut reader, sender) = ws.split().unwrap();
    reader.set_read_timeout(Some(Duration::from_millis(100)));
    assert!(reader.read().is_err());
    reader.set_read_timeout(None);
    sender.send_text("still here").unwrap();
    assert_eq!(text(reader.read().unwrap()), "still here");
}

/// A server WebSocket on one end of a raw client that never reads (its
/// handshake done by hand), with `o`.
fn server_with_stalled_client(o: Options) -> (std_net::WebSocket<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(ws)) = std_net::accept(s, &o) else {
            panic!("no upgrade");
        };
        *ws
    });
    let client = raw_client(addr);
    (server.join().unwrap(), client)
}

/// The kernel's socket on the other end of a client (in this process),
/// by the two ends' addresses (`client.peer_addr()`, `client.local_addr()`,
/// taken while connected): its TCP state and bytes unsent, from
/// `/proc/net/tcp`; `None` once it is gone.
#[cfg(target_os = "linux")]
fn kernel_socket(ends: (std::net::SocketAddr, std::net::SocketAddr)) -> Option<(String, u64)> {
    let at = |a: std::net::SocketAddr| format!("0100007F:{:04X}", a.port());
    let (local, remote) = (at(ends.0), at(ends.1));
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f[1] == local && f[2] == remote).then(|| {
            let tx = f[4].split(':').next().unwrap();
            (f[3].to_string(), u64::from_str_radix(tx, 16).unwrap())
        })
    })
}

/// Waits (up to 5 s: a split socket's writer thread lets its handle go
/// on its own, soon after) until the kernel has freed the socket at
/// `ends` ([`kernel_socket`]).
#[cfg(target_os = "linux")]
fn assert_freed(ends: (std::net::SocketAddr, std::net::SocketAddr), what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while kernel_socket(ends).is_some() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(kernel_socket(ends), None, "{what} lingers");
}

/// Parses every frame a client read, unmasked: `(opcode, payload len)`s,
/// and fails on anything that is not a well-formed frame (a header inside
/// a cut payload would be).
fn frames_of(mut bytes: &[u8]) -> Vec<(OpCode, u64)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Ok(Status::Complete(h)) = FrameHeader::parse(bytes, &Default::default()) else {
            break;
        };
        let (h, n) = (h.0, h.1);
        assert!(h.mask.is_none(), "a server frame is never masked");
        let end = n + h.payload_len as usize;
        if end > bytes.len() {
            break; // the cut frame, the last thing on the wire
        }
        out.push((h.opcode, h.payload_len));
        bytes = &bytes[end..];
    }
    out
}

/// A write that times out mid-frame ends the connection with that cause:
/// `is_connected()` turns false, every later send returns the same kind of
/// error, and nothing follows the cut frame on the wire.
#[test]
fn a_write_that_times_out_latches_and_nothing_follows_the_cut_frame() {
    let o = Options {
        write_timeout: Some(Duration::from_millis(300)),
        ..opts()
    };
    let (mut ws, mut client) = server_with_stalled_client(o);
    let big = vec![7u8; 1 << 20];
    let started = Instant::now();
    let err = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never timed out"
        );
        if let Err(e) = ws.send_binary(&big) {
            break e;
        }
    };
    let kind = |e: &Error| match e {
        Error::Io(e) => e.kind(),
        other => panic!("not an IO error: {other}"),
    };
    let first = kind(&err);
    assert!(
        matches!(
            first,
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    assert!(!ws.is_connected());
    assert_eq!(ws.write_error().map(|e| e.kind()), Some(first));
    for _ in 0..3 {
        assert_eq!(kind(&ws.send_text("after").unwrap_err()), first);
        assert_eq!(kind(&ws.ping(b"p").unwrap_err()), first);
    }
    // The peer reads what was written: whole binary frames, then the cut
    // one, then the end of the stream (no text, no ping after it). It
    // reads while the socket is open: once it is dropped, the reset
    // that ends it may discard what the peer had not read yet.
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut wire = Vec::new();
    client.read_to_end(&mut wire).unwrap();
    let frames = frames_of(&wire);
    assert!(!frames.is_empty());
    assert!(
        frames
            .iter()
            .all(|&(op, len)| op == OpCode::Binary && len == 1 << 20)
    );
    drop(ws);
}

/// A peer that keepalive drops (it answers no ping: it stopped reading)
/// is reset too: what was queued for it is not held in `FIN-WAIT-1`
/// after the socket is dropped.
#[cfg(target_os = "linux")]
#[test]
fn a_peer_dropped_by_keepalive_does_not_hold_the_unsent_data() {
    let o = Options {
        config: Config {
            ping_interval: Some(Duration::from_millis(100).into()),
            pong_timeout: Duration::from_millis(200).into(),
            ..Config::HOST
        },
        ..opts()
    };
    let (mut ws, client) = server_with_stalled_client(o);
    let ends = (client.peer_addr().unwrap(), client.local_addr().unwrap());
    // Queued in the kernel, not taken: the peer reads nothing.
    let big = vec![7u8; 256 << 10];
    ws.send_binary(&big).unwrap();
    ws.send_binary(&big).unwrap();
    let started = Instant::now();
    while let Ok(Some(_)) = ws.read() {
        assert!(started.elapsed() < Duration::from_secs(10), "never dropped");
    }
    assert_eq!(ws.end(), Some(End::PongTimeout));
    let (state, unsent) = kernel_socket(ends).expect("the socket is open");
    assert!(unsent > 0, "{state}: nothing unsent, nothing to free");
    drop(ws);
    assert_freed(ends, "the dropped socket");
    drop(client);
}

/// A peer that closes (a close frame) but then neither reads nor closes
/// TCP within the close timeout is reset as well: the polite end (our
/// FIN, a wait for the peer's) must not leave what it never took in
/// `FIN-WAIT-1`.
#[cfg(target_os = "linux")]
#[test]
fn a_peer_that_closes_but_never_reads_does_not_hold_the_unsent_data() {
    let o = Options {
        config: Config {
            close_timeout: Duration::from_millis(300).into(),
            ..Config::HOST
        },
        ..opts()
    };
    let (mut ws, mut client) = server_with_stalled_client(o);
    let ends = (client.peer_addr().unwrap(), client.local_addr().unwrap());
    let big = vec![7u8; 256 << 10];
    ws.send_binary(&big).unwrap();
    ws.send_binary(&big).unwrap();
    // A masked close (1000), and then nothing: no reading, no FIN.
    let key = [1u8, 2, 3, 4];
    let code = 1000u16.to_be_bytes();
    client
        .write_all(&[0x88, 0x82, 1, 2, 3, 4, code[0] ^ key[0], code[1] ^ key[1]])
        .unwrap();
    let started = Instant::now();
    while let Ok(Some(_)) = ws.read() {
        assert!(started.elapsed() < Duration::from_secs(10), "never ended");
    }
    assert_eq!(
        ws.connection().remote_close().map(|(c, _)| c),
        Some(CloseCode::NORMAL)
    );
    drop(ws);
    assert_freed(ends, "the dropped socket");
    drop(client);
}

/// A socket whose write timed out is reset when dropped: the kernel frees
/// it and its send buffer at once, instead of holding them in `FIN-WAIT-1`
/// behind the megabytes that a peer which stopped reading never takes
/// (for as long as the peer keeps its window shut).
#[cfg(target_os = "linux")]
#[test]
fn a_socket_whose_write_timed_out_does_not_hold_the_unsent_data() {
    let o = Options {
        write_timeout: Some(Duration::from_millis(300)),
        ..opts()
    };
    let (mut ws, client) = server_with_stalled_client(o);
    let ends = (client.peer_addr().unwrap(), client.local_addr().unwrap());
    let big = vec![7u8; 1 << 20];
    let started = Instant::now();
    while ws.send_binary(&big).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never timed out"
        );
    }
    let (state, unsent) = kernel_socket(ends).expect("the socket is open");
    assert!(unsent > 0, "{state}: nothing unsent, nothing to free");
    drop(ws);
    assert_freed(ends, "the dropped socket");
    drop(client);

    // The same through a split socket, whose writer thread sees the
    // failure.
    let o = Options {
        write_timeout: Some(Duration::from_millis(300)),
        ..opts()
    };
    let (ws, client) = server_with_stalled_client(o);
    let ends = (client.peer_addr().unwrap(), client.local_addr().unwrap());
    let (reader, sender) = ws.split().unwrap();
    let started = Instant::now();
    while sender.send(&Message::Binary(big.clone().into())).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never timed out"
        );
    }
    assert!(sender.write_error().is_some());
    drop((reader, sender));
    assert_freed(ends, "the dropped split socket");
    drop(client);
}

/// One stalled peer never slows a broadcast: `try_send` never blocks (it
/// says `QueueFull`), the healthy peer gets every message, and the stalled
/// reader's keepalive still runs while its writer is blocked, so the
/// stalled peer is dropped by the pong timeout.
#[test]
fn a_stalled_peer_never_slows_a_broadcast_and_is_dropped_by_keepalive() {
    let o = Options {
        config: Config {
            ping_interval: Some(Duration::from_millis(300).into()),
            pong_timeout: Duration::from_millis(500).into(),
            ..Config::HOST
        },
        write_timeout: None, // only keepalive may drop it here
        send_queue: 256 << 10,
        // Frames as they are: compressing them (on the caller's thread,
        // for each peer) is slow enough under emulation for keepalive to
        // drop the stalled peer before its queue fills.
        #[cfg(feature = "deflate")]
        deflate: None,
        ..opts()
    };
    let (stalled_ws, stalled_client) = server_with_stalled_client(o.clone());
    #[cfg(target_os = "linux")]
    let ends = (
        stalled_client.peer_addr().unwrap(),
        stalled_client.local_addr().unwrap(),
    );
    let (mut stalled_reader, stalled) = stalled_ws.split().unwrap();
    let stalled_done = thread::spawn(move || {
        let started = Instant::now();
        while let Ok(Some(_)) = stalled_reader.read() {}
        (started.elapsed(), stalled_reader.end())
    });

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let healthy_addr = listener.local_addr().unwrap();
    let healthy_server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(ws)) = std_net::accept(s, &o) else {
            panic!("no upgrade");
        };
        ws.split().unwrap()
    });
    let mut healthy = std_net::connect_with(&format!("ws://{healthy_addr}/"), &opts()).unwrap();
    let (mut healthy_reader, healthy_sender) = healthy_server.join().unwrap();
    thread::spawn(move || while let Ok(Some(_)) = healthy_reader.read() {});

    let frame = Message::Binary(vec![1u8; 200 << 10].into());
    let (mut full, mut slowest, mut accepted) = (0, Duration::ZERO, 0);
    // The healthy peer reads until it has every frame its sender took
    // (known once sending is over), within a bound.
    let expected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let want = expected.clone();
    let receiver = thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = 0;
        while got < want.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "healthy peer: {got} frames by the deadline"
            );
            match healthy.read() {
                Ok(Some(Message::Binary(b))) => {
                    assert_eq!(b.len(), 200 << 10);
                    got += 1;
                }
                Ok(Some(_)) => {}
                other => panic!("healthy peer: {other:?}"),
            }
        }
        got
    });
    for _ in 0..50 {
        for (i, s) in [&stalled, &healthy_sender].into_iter().enumerate() {
            let t = Instant::now();
            match s.try_send(&frame) {
                Ok(()) if i == 1 => accepted += 1,
                Ok(()) => {}
                Err(Error::QueueFull { .. }) if i == 0 => full += 1,
                Err(Error::QueueFull { .. }) => {} // behind, under load: skipped
                Err(e) if i == 1 => panic!("healthy sender: {e}"),
                Err(_) => {} // the stalled one, once dropped
            }
            slowest = slowest.max(t.elapsed());
        }
        thread::sleep(Duration::from_millis(20));
    }
    expected.store(accepted, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        receiver.join().unwrap(),
        accepted,
        "the healthy peer got every frame taken"
    );
    assert!(
        accepted >= 40,
        "the healthy peer took only {accepted} of 50 frames"
    );
    assert!(full > 0, "the stalled peer's queue filled");
    assert!(
        slowest < Duration::from_millis(100),
        "a try_send took {slowest:?}"
    );
    let (took, end) = stalled_done.join().unwrap();
    assert_eq!(end, Some(End::PongTimeout));
    assert!(took < Duration::from_secs(5), "dropped after {took:?}");
    assert!(!stalled.is_connected());
    assert!(stalled.try_send(&frame).is_err());
    // Timed out, it was reset: its socket does not hold what it never
    // read once the last handle is gone (its writer thread ends on its
    // own, soon after).
    drop(stalled);
    #[cfg(target_os = "linux")]
    assert_freed(ends, "the timed-out socket");
    drop(stalled_client);
}

/// The split `Reader` streams events, and its callback runs without the
/// lock the senders take, so it can answer through a `Sender`.
#[test]
fn a_split_reader_streams_events_and_its_callback_may_send() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(ws)) = std_net::accept(s, &opts()) else {
            panic!("no upgrade");
        };
        let (mut reader, sender) = ws.split().unwrap();
        let mut chunks = 0;
        while let Some(()) = reader
            .read_event(|e| {
                if let sansws::conn::Event::Data(d) = e {
                    chunks += 1;
                    if d.is_message_end() {
                        sender.send_text("got it").unwrap();
                    }
                }
            })
            .unwrap()
        {}
        chunks
    });
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &opts()).unwrap();
    ws.send_binary(&[5u8; 100_000]).unwrap();
    assert_eq!(text(ws.read().unwrap()), "got it");
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(server.join().unwrap() >= 1);
}

/// The write timeout bounds a whole send, not each system call: a peer
/// that drains a little now and then (so every write makes some progress)
/// is still dropped once the timeout has passed.
#[test]
fn the_write_timeout_bounds_a_whole_send_against_a_slow_drain() {
    let o = Options {
        write_timeout: Some(Duration::from_millis(800)),
        ..opts()
    };
    let (mut ws, mut client) = server_with_stalled_client(o);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let drain = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10)
            && !stopped.load(std::sync::atomic::Ordering::SeqCst)
        {
            match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let big = vec![3u8; 16 << 20];
    let started = Instant::now();
    let err = ws.send_binary(&big).unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, Error::Io(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock)),
        "{err}"
    );
    assert!(took < Duration::from_secs(3), "the send took {took:?}");
    assert!(!ws.is_connected());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    drain.join().unwrap();
}

/// One end-of-connection policy: a peer that vanishes (EOF without a
/// close) ends a `WebSocket` and a split `Reader` alike, at once, not
/// after the close timeout (the split reader used to wait it out).
#[test]
fn a_socket_and_a_split_reader_end_alike_on_a_vanished_peer() {
    for split in [false, true] {
        let o = Options {
            config: Config {
                close_timeout: Duration::from_secs(5).into(),
                ..opts().config
            },
            ..opts()
        };
        let (ws, client) = server_with_stalled_client(o);
        let done = thread::spawn(move || {
            let started = Instant::now();
            let end = if split {
                let (mut reader, _sender) = ws.split().unwrap();
                while let Ok(Some(_)) = reader.read() {}
                reader.end()
            } else {
                let mut ws = ws;
                while let Ok(Some(_)) = ws.read() {}
                ws.end()
            };
            (started.elapsed(), end)
        });
        thread::sleep(Duration::from_millis(100));
        drop(client);
        let (took, end) = done.join().unwrap();
        assert_eq!(end, Some(End::Abnormal), "split: {split}");
        assert!(
            took < Duration::from_secs(2),
            "split: {split}: took {took:?}"
        );
    }
}

/// `Sender::stop` cuts a split connection at once, even with a write
/// blocked on a peer that stopped reading: the reader returns, later sends
/// fail, and the reason is kept.
#[test]
fn sender_stop_cuts_a_split_connection_at_once() {
    let o = Options {
        write_timeout: None,
        ..opts()
    };
    let (ws, _client) = server_with_stalled_client(o);
    let (mut reader, sender) = ws.split().unwrap();
    let reading = thread::spawn(move || {
        while let Ok(Some(_)) = reader.read() {}
        (
            Instant::now(),
            reader.end(),
            reader.write_error().map(|e| e.kind()),
        )
    });
    // Fill the kernel buffers and the queue: the writer blocks.
    let big = Message::Binary(vec![9u8; 1 << 20].into());
    let started = Instant::now();
    while sender.try_send(&big).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the queue never filled"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let stopped_at = Instant::now();
    sender.stop();
    let (returned_at, end, why) = reading.join().unwrap();
    assert!(returned_at.duration_since(stopped_at) < Duration::from_secs(1));
    assert_eq!(end, Some(End::Abnormal));
    assert_eq!(why, Some(std::io::ErrorKind::ConnectionAborted));
    assert!(!sender.is_connected());
    assert!(sender.try_send(&big).is_err());
    assert_eq!(sender.queued(), 0);
}

/// After `read()` times out in the middle of a message it was keeping in
/// place, `read_event` goes on from the connection, and a later `read()`
/// gets the next message whole (not the stale bytes with it).
#[test]
fn a_read_that_timed_out_mid_message_leaves_no_stale_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let o = Options {
            read_timeout: Some(Duration::from_millis(300)),
            ..opts()
        };
        let Ok(Accepted::WebSocket(mut ws)) = std_net::accept(s, &o) else {
            panic!("no upgrade");
        };
        let err = ws.read().unwrap_err();
        assert!(
            matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut),
            "{err}"
        );
        let mut rest = 0;
        while rest < 50_000 {
            ws.read_event(|e| {
                if let sansws::conn::Event::Data(d) = e {
                    rest += d.payload.len();
                }
            })
            .unwrap();
        }
        ws.read().unwrap()
    });
    let mut raw = raw_client(addr);
    // A 100,000-byte binary frame, masked, in two halves with a pause.
    let key = [1, 2, 3, 4];
    let mut frame = vec![0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x86, 0xa0];
    frame.extend_from_slice(&key);
    let mut payload = vec![0x41u8; 100_000];
    apply_mask(&mut payload, key, 0);
    frame.extend_from_slice(&payload);
    let half = frame.len() - 50_000;
    raw.write_all(&frame[..half]).unwrap();
    thread::sleep(Duration::from_millis(600));
    raw.write_all(&frame[half..]).unwrap();
    let mut hello = vec![0x81, 0x85, 9, 9, 9, 9];
    let mut text = *b"hello";
    apply_mask(&mut text, [9, 9, 9, 9], 0);
    hello.extend_from_slice(&text);
    raw.write_all(&hello).unwrap();
    assert_eq!(text_of(server.join().unwrap()), "hello");
}

fn text_of(m: Option<Message>) -> String {
    match m {
        Some(Message::Text(t)) => t.to_string(),
        other => panic!("not text: {other:?}"),
    }
}

/// A peer flooding pings without reading cannot grow a split
/// connection's queue: pongs wait in the connection (a newer one replaces
/// an older one), at most three control frames in the queue.
#[test]
fn a_ping_flood_cannot_grow_a_split_queue() {
    let o = Options {
        write_timeout: None,
        send_queue: 64 << 10,
        ..opts()
    };
    let (ws, mut client) = server_with_stalled_client(o);
    let (mut reader, sender) = ws.split().unwrap();
    let reading = thread::spawn(move || while let Ok(Some(_)) = reader.read() {});
    let mut ping = vec![0x89, 0xfd, 1, 2, 3, 4];
    ping.extend_from_slice(&[0u8; 125]);
    let started = Instant::now();
    let mut most = 0;
    client
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while started.elapsed() < Duration::from_secs(2) {
        if client.write_all(&ping).is_err() {
            break; // our own buffers full: the server stopped reading us
        }
        most = most.max(sender.queued());
    }
    assert!(most <= 3 * 131, "the queue held {most} bytes");
    sender.stop();
    reading.join().unwrap();
}

/// Dropping the split `Reader` ends the connection even while senders
/// live: the peer sees the stream end, later sends fail.
#[test]
fn dropping_the_reader_ends_a_split_connection() {
    let (ws, mut client) = server_with_stalled_client(opts());
    let (reader, sender) = ws.split().unwrap();
    drop(reader);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 64];
    let ended = loop {
        match client.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) => break e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    };
    assert!(ended, "the peer never saw the end");
    assert!(sender.ping(b"x").is_err());
    assert!(sender.send_text("x").is_err());
    assert!(!sender.is_connected());
}

/// `close` waits the close timeout for the peer's close, whatever the
/// read timeout.
#[test]
fn close_waits_the_close_timeout_not_the_read_timeout() {
    let o = Options {
        read_timeout: Some(Duration::from_millis(100)),
        config: Config {
            close_timeout: Duration::from_millis(800).into(),
            ..opts().config
        },
        ..opts()
    };
    let (mut ws, _client) = server_with_stalled_client(o);
    let started = Instant::now();
    let end = ws.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(end, Some(End::CloseTimeout));
    assert!(started.elapsed() >= Duration::from_millis(700));
}

/// `from_raw` applies the write timeout too.
#[test]
fn from_raw_applies_the_write_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _client = TcpStream::connect(addr).unwrap();
    let (s, _) = listener.accept().unwrap();
    let o = Options {
        write_timeout: Some(Duration::from_millis(300)),
        ..opts()
    };
    let ws =
        std_net::WebSocket::from_raw(s, sansws::conn::Role::Server, &o, &[], Box::new(|| [0; 4]));
    assert_eq!(
        ws.get_ref().write_timeout().unwrap(),
        Some(Duration::from_millis(300))
    );
}

/// A split sender cuts a whole message into frames of
/// `max_send_frame_len` (sharing a binary message's bytes, not copying
/// them), and the peer gets each message whole, in order.
#[test]
fn a_split_sender_fragments_whole_messages_by_the_frame_limit() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let o = Options {
            config: Config {
                max_send_frame_len: 1000,
                ..opts().config
            },
            ..opts()
        };
        let Ok(Accepted::WebSocket(ws)) = std_net::accept(s, &o) else {
            panic!("no upgrade");
        };
        let (mut reader, sender) = ws.split().unwrap();
        let binary: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        sender.send(&Message::Binary(binary.into())).unwrap();
        sender.send_text(&"é".repeat(1300)).unwrap();
        sender.try_send(&Message::text("short")).unwrap();
        sender.flush(Duration::from_secs(5)).unwrap();
        while let Ok(Some(_)) = reader.read() {}
    });
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &opts()).unwrap();
    let Some(Message::Binary(b)) = ws.read().unwrap() else {
        panic!("not binary")
    };
    assert!(b.iter().enumerate().all(|(i, &x)| x == i as u8) && b.len() == 5000);
    assert_eq!(text_of(ws.read().unwrap()), "é".repeat(1300));
    assert_eq!(text_of(ws.read().unwrap()), "short");
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.join().unwrap();
}

/// A stream that counts the writes made to it.
struct Counting {
    inner: TcpStream,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.write_vectored(bufs)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std_net::Transport for Counting {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    fn shutdown(&mut self, how: std::net::Shutdown) -> std::io::Result<()> {
        self.inner.shutdown(how)
    }
}

/// The masked frames of `msgs`, as a client sends them.
fn masked_frames(msgs: &[&str]) -> Vec<u8> {
    let mut c = sansws::conn::Connection::client(
        Config::HOST,
        || [3, 1, 4, 1],
        sansws::conn::Instant::ZERO,
    );
    let mut wire = Vec::new();
    for m in msgs {
        let mut out = vec![0u8; m.len() + 14];
        let n = c.send_text(m, &mut out).unwrap();
        wire.extend_from_slice(&out[..n]);
    }
    wire
}

/// The blocking adapter batches replies as the async one does: messages
/// that came in one read are echoed in one write, a lone message at once;
/// a close after held-back replies follows them.
#[test]
fn replies_to_messages_read_together_go_out_in_one_write() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let w = writes.clone();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let s = Counting {
            inner: s,
            writes: w,
        };
        let Ok(Accepted::WebSocket(mut ws)) = std_net::accept(s, &opts()) else {
            panic!("no upgrade");
        };
        let mut n = 0;
        while let Ok(Some(m)) = ws.read() {
            if m.is_data() {
                n += 1;
                ws.send(&m).unwrap();
            }
        }
        n
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let before = writes.load(std::sync::atomic::Ordering::SeqCst);
    let msgs: Vec<String> = (0..64).map(|i| format!("m{i:02}")).collect();
    let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
    s.write_all(&masked_frames(&refs)).unwrap();
    let mut wire = vec![0u8; 64 * 5];
    s.read_exact(&mut wire).unwrap();
    for (i, f) in wire.chunks(5).enumerate() {
        assert_eq!(f, [&[0x81, 3][..], format!("m{i:02}").as_bytes()].concat());
    }
    let batch = writes.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(batch <= 2, "64 echoes took {batch} writes");
    // A lone message: echoed without anything more sent.
    s.write_all(&masked_frames(&["alone"])).unwrap();
    let mut echo = [0u8; 7];
    s.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"\x81\x05alone");
    // Messages and a close in one write: every echo before the close's.
    let mut tail = masked_frames(&["a", "b", "c"]);
    let mut c = sansws::conn::Connection::client(
        Config::HOST,
        || [9, 9, 9, 9],
        sansws::conn::Instant::ZERO,
    );
    let mut out = [0u8; 32];
    c.close(CloseCode::NORMAL, "").unwrap();
    let n = c
        .poll_transmit(sansws::conn::Instant::ZERO, &mut out)
        .unwrap()
        .unwrap();
    tail.extend_from_slice(&out[..n]);
    s.write_all(&tail).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert_eq!(&rest[..9], b"\x81\x01a\x81\x01b\x81\x01c");
    assert_eq!(&rest[9..13], b"\x88\x02\x03\xe8");
    drop(s);
    assert_eq!(server.join().unwrap(), 68);
}

//! permessage-deflate across the layers, over loopback sockets: a
//! decompression bomb refused at the limit with bounded memory and time,
//! a split socket's senders compressing from many threads at once, and a
//! large compressed message streamed through `read_event` in chunks no
//! larger than the inflater's ring.
#![cfg(all(feature = "std", feature = "deflate"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sansws::Status;
use sansws::adapter::std_net::{self, Accepted, DeflateOptions, Error, Options};
use sansws::conn::deflate::Deflater;
use sansws::conn::{Config, Connection, DataKind, Event, Instant as ConnInstant, ProtocolError};
use sansws::handshake::deflate::{DeflateElement, DeflateParams};
use sansws::handshake::{ClientHandshake, ClientRequest, EMPTY_HEADER, Limits};
use sansws::message::Message;
use sansws::wire::CloseCode;

/// Bytes allocated and not freed, by every thread, and the peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The tests here run one at a time: the allocator counts every thread,
/// and the bomb's peak must not include another test's compressors (CI
/// saw 12.7 MB with the split senders' six running beside it).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn opts() -> Options {
    Options {
        read_timeout: Some(Duration::from_secs(20)),
        handshake_timeout: Some(Duration::from_secs(5)),
        ..Options::default()
    }
}

/// A client's handshake by hand over `tcp`, offering permessage-deflate;
/// returns the agreed parameters.
fn handshake(tcp: &mut TcpStream, port: u16) -> DeflateParams {
    let hs = ClientHandshake::new([7; 16]);
    let offers = [DeflateElement::OFFER];
    let req = ClientRequest {
        port,
        deflate: &offers,
        ..ClientRequest::new("127.0.0.1", "/")
    };
    let mut out = [0u8; 512];
    let n = hs.write_request(&req, &mut out).unwrap();
    tcp.write_all(&out[..n]).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        len += tcp.read(&mut buf[len..]).unwrap();
        let mut slots = [EMPTY_HEADER; 16];
        if let Status::Complete(res) = hs
            .parse_response(&req, &buf[..len], &mut slots, &Limits::DEFAULT)
            .unwrap()
        {
            assert_eq!(res.len(), len, "nothing after the 101");
            return hs.deflate_params(&req, &res).expect("deflate agreed");
        }
    }
}

/// A deflate stream of `pieces` pieces, each 1 MiB of zeros compressed
/// on its own (a full flush ends each, so each stands alone and the same
/// bytes repeat): `pieces` MiB once inflated, ~1 KB compressed per MiB
/// (deflate's ratio is at most 1032:1). The trailer is taken off the end.
fn bomb(pieces: usize) -> Vec<u8> {
    let piece = Deflater::with_level(15, true, 10)
        .compress(&vec![0u8; 1 << 20], true)
        .clone();
    // A piece made with no context taken over ends with its trailer cut
    // off: put it back between pieces.
    let mut stream = Vec::with_capacity((piece.len() + 4) * pieces);
    for i in 0..pieces {
        stream.extend_from_slice(&piece);
        if i + 1 < pieces {
            stream.extend_from_slice(&sansws::conn::deflate::TRAILER);
        }
    }
    stream
}

#[test]
fn a_bomb_of_a_gibibyte_is_refused_at_the_limit_with_bounded_memory_and_time() {
    let _serial = one_at_a_time();
    let payload = bomb(1024);
    eprintln!("bomb: {} bytes compressed, 1 GiB inflated", payload.len());
    assert!(payload.len() < (1100 << 10), "{}", payload.len());
    // The small one: about a kilobyte that inflates to 1 MiB.
    assert!(bomb(1).len() < 1100);

    let limit = 4 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let o = Options {
            config: Config {
                max_message_len: limit,
                ..opts().config
            },
            ..opts()
        };
        let Ok(Accepted::WebSocket(mut ws)) = std_net::accept(s, &o) else {
            panic!("no upgrade")
        };
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let start = Instant::now();
        let r = ws.read();
        let peak = PEAK.load(Relaxed) - base;
        tx.send((r.map(|_| ()), start.elapsed(), peak)).unwrap();
    });
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let params = handshake(&mut tcp, port);
    let mut client = Connection::client(Config::HOST, || [1, 2, 3, 4], ConnInstant::ZERO);
    client.set_deflate(params);
    let mut wire = vec![0u8; payload.len() + 64];
    let n = client
        .send_compressed(DataKind::Binary, &payload, &mut wire)
        .unwrap();
    // The server may close before it has read it all.
    let start = Instant::now();
    let _ = tcp.write_all(&wire[..n]);
    // Its close (1009) comes as soon as the limit is crossed; then this
    // end closes too, which ends the server's wait for it.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let close = loop {
        let n = tcp.read(&mut buf).unwrap_or(0);
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = got.windows(2).position(|w| w == [0x88, 0x02])
            && got.len() >= at + 4
        {
            break Some(u16::from_be_bytes([got[at + 2], got[at + 3]]));
        }
        if n == 0 {
            break None;
        }
    };
    let took = start.elapsed();
    assert_eq!(close, Some(1009), "{:02x?}", &got[..got.len().min(16)]);
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let (r, _, peak) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    eprintln!(
        "closed with 1009 {took:?} after the frame began, {peak} bytes allocated at the peak: {r:?}"
    );
    match r {
        Err(Error::Protocol(ProtocolError::MessageTooLarge { len, limit: l })) => {
            assert_eq!(l, limit as u64);
            // Crossed by at most a byte: nothing inflated past it.
            assert_eq!(len, limit as u64 + 1);
        }
        other => panic!("expected 1009, got {other:?}"),
    }
    // Bounded by the limit, not by the gibibyte: the 4 MiB inflate in
    // some 40 ms (debug or release); the whole bomb would take seconds.
    assert!(took < Duration::from_secs(5), "{took:?}");
    // What `read` holds at the peak: the message assembled up to the
    // limit (a `Vec` grown by doubling: 4 MiB copied into 8 while both
    // are held), the inflater's ring and state, the read buffer, and the
    // client thread's megabyte of frame; against a gibibyte inflated.
    assert!(peak < 3 * limit, "{peak}");
}

#[test]
fn split_senders_compress_from_many_threads_in_order() {
    let _serial = one_at_a_time();
    const THREADS: usize = 6;
    const EACH: usize = 200;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The server: split, every thread sends its numbered messages.
    thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(ws)) = std_net::accept(s, &opts()) else {
            panic!("no upgrade")
        };
        assert!(ws.connection().deflate().is_some());
        let (mut reader, sender) = ws.split().unwrap();
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let sender = sender.clone();
                thread::spawn(move || {
                    for i in 0..EACH {
                        let body = format!(
                            "{{\"thread\":{t},\"seq\":{i},\"pad\":\"{}\"}}",
                            "x".repeat(i * 37 % 3000)
                        );
                        sender.send_text(&body).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        // Wait for the client's close.
        while let Ok(Some(_)) = reader.read() {}
    });
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &opts()).unwrap();
    assert!(ws.connection().deflate().is_some());
    let mut next = [0usize; THREADS];
    for _ in 0..THREADS * EACH {
        let Some(Message::Text(t)) = ws.read().unwrap() else {
            panic!("expected text")
        };
        let t: &str = &t;
        let thread: usize = t[10..].split(',').next().unwrap().parse().unwrap();
        let want = format!(
            "{{\"thread\":{thread},\"seq\":{},\"pad\":\"{}\"}}",
            next[thread],
            "x".repeat(next[thread] * 37 % 3000)
        );
        assert_eq!(t, want);
        next[thread] += 1;
    }
    assert_eq!(next, [EACH; THREADS]);
    ws.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn a_large_compressed_message_streams_through_read_event_in_ring_sized_chunks() {
    let _serial = one_at_a_time();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // 8 MiB of varied text, compressed by the server.
    let text: String = (0..400_000)
        .map(|i| format!("{{\"i\":{i}}}"))
        .collect::<String>()
        .chars()
        .take(8 << 20)
        .collect();
    let sent = text.clone();
    thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(mut ws)) = std_net::accept(s, &opts()) else {
            panic!("no upgrade")
        };
        ws.send_text(&sent).unwrap();
        while let Ok(Some(_)) = ws.read() {}
    });
    // The client inflates with a 4 KiB window (it asks the server for
    // server_max_window_bits=12).
    let o = Options {
        deflate: Some(DeflateOptions {
            max_window_bits: 12,
            ..DeflateOptions::default()
        }),
        ..opts()
    };
    let mut ws = std_net::connect_with(&format!("ws://{addr}/"), &o).unwrap();
    assert_eq!(
        ws.connection().deflate().unwrap().server_max_window_bits,
        12
    );
    let mut got = Vec::with_capacity(text.len());
    let mut chunks = 0;
    loop {
        let end = ws
            .read_event(|e| match e {
                Event::Data(d) => {
                    assert!(!d.compressed);
                    assert!(d.payload.len() <= 4096, "{}", d.payload.len());
                    assert_eq!(d.message_offset, got.len());
                    got.extend_from_slice(d.payload);
                    chunks += 1;
                    d.is_message_end()
                }
                _ => false,
            })
            .unwrap()
            .unwrap();
        if end {
            break;
        }
    }
    assert_eq!(got, text.as_bytes());
    assert!(chunks >= text.len() / 4096, "{chunks}");
    ws.close(CloseCode::NORMAL, "").unwrap();
}

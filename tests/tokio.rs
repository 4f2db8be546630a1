//! The tokio adapter across layers, over loopback: cancel safety under
//! `select!`, split halves in different tasks, a thousand concurrent
//! clients, the slow-peer policy, batched replies, timers.

#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sansws::adapter::tokio::{self as ws, Accepted, Error, Options, WebSocket};
use sansws::conn::{Config, Connection, End, Instant as ConnInstant};
use sansws::message::Message;
use sansws::wire::CloseCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

fn opts() -> Options {
    Options {
        read_timeout: Some(Duration::from_secs(20)),
        ..Options::default()
    }
}

/// A listener on a free port of 127.0.0.1.
async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Accepts one WebSocket on `l` with `o`.
async fn accept_one(l: &TcpListener, o: &Options) -> WebSocket<TcpStream> {
    let (s, _) = l.accept().await.unwrap();
    match ws::accept(s, o).await.unwrap() {
        Accepted::WebSocket(ws) => *ws,
        _ => panic!("no upgrade"),
    }
}

/// Echoes every data message on `ws` until the end.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) -> u64 {
    let mut n = 0;
    while let Ok(Some(m)) = ws.read().await {
        if m.is_data() {
            n += 1;
            if ws.send(&m).await.is_err() {
                break;
            }
        }
    }
    n
}

/// Frames a client would send: `msgs`, masked, one after another.
fn client_frames(msgs: &[Message]) -> Vec<u8> {
    let mut c = Connection::client(Config::HOST, || [7, 1, 9, 3], ConnInstant::ZERO);
    let mut wire = Vec::new();
    for m in msgs {
        let mut out = vec![0u8; m.as_bytes().len() + 14];
        let n = match m {
            Message::Text(t) => c.send_text(t, &mut out).unwrap(),
            Message::Binary(b) => c.send_binary(b, &mut out).unwrap(),
            _ => unreachable!(),
        };
        wire.extend_from_slice(&out[..n]);
    }
    wire
}

/// A raw client: the upgrade written and its 101 read, over blocking std
/// TCP (so that what it writes, and when, is exact).
fn raw_client(addr: SocketAddr) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    s
}

/// A `select!` whose timer keeps winning drops `next()` while a frame is
/// half read, again and again: every message still arrives whole and in
/// order (a large one kept in place across the drops, a fragmented one
/// being assembled), since what a read has read lives in the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_select_that_drops_a_pending_next_loses_no_bytes() {
    let (l, addr) = listener().await;
    let mut msgs: Vec<Message> = (0..60)
        .map(|i| {
            if i % 2 == 0 {
                Message::text("é".repeat(i * 37))
            } else {
                Message::Binary(vec![i as u8; i * 101].into())
            }
        })
        .collect();
    msgs.push(Message::Binary(
        (0..200_000u32)
            .map(|i| (i * 7) as u8)
            .collect::<Vec<_>>()
            .into(),
    ));
    let mut wire = client_frames(&msgs);
    // One message in three fragments, after the others.
    let mut c = Connection::client(Config::HOST, || [5, 5, 5, 5], ConnInstant::ZERO);
    let mut out = [0u8; 64];
    for (part, fin) in [("frag", false), ("men", false), ("té", true)] {
        let text = sansws::conn::DataKind::Text;
        let n = c
            .send_fragment(text, part.as_bytes(), fin, &mut out)
            .unwrap();
        wire.extend_from_slice(&out[..n]);
    }
    msgs.push(Message::text("fragmenté"));

    let writer = std::thread::spawn(move || {
        let mut s = raw_client(addr);
        // Uneven pieces, a pause after each: most reads find half a frame.
        let mut at = 0;
        let mut k = 1usize;
        while at < wire.len() {
            k = (k * 31 + 7) % 1500 + 1;
            let end = (at + k).min(wire.len());
            s.write_all(&wire[at..end]).unwrap();
            at = end;
            std::thread::sleep(Duration::from_micros(300));
        }
        s
    });
    let mut server = accept_one(&l, &opts()).await;
    let mut got = Vec::new();
    let mut dropped = 0u32;
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < msgs.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} by the deadline",
            got.len(),
            msgs.len()
        );
        tokio::select! {
            m = server.next() => got.push(m.expect("ended early").expect("read failed")),
            _ = tokio::time::sleep(Duration::from_micros(200)) => dropped += 1,
        }
    }
    assert_eq!(got, msgs);
    assert!(dropped > 100, "the read was dropped only {dropped} times");
    drop(writer.join().unwrap());
}

/// A reader and senders in different tasks: one task reads, another
/// answers each message through its own `Sender`, a third sends ticks
/// meanwhile; the client gets every answer in order, the ticks between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_live_in_different_tasks() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let ws = accept_one(&l, &opts()).await;
        let (mut reader, sender) = ws.split();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
        let answerer = {
            let sender = sender.clone();
            tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    sender.send(&m).await.unwrap();
                }
            })
        };
        let ticker = {
            let sender = sender.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    if sender
                        .try_send(&Message::text(format!("tick {i}")))
                        .is_err()
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let mut n = 0;
        while let Some(m) = reader.next().await {
            let m = m.unwrap();
            if m.is_data() {
                n += 1;
                tx.send(m).unwrap();
            }
        }
        drop(tx);
        answerer.await.unwrap();
        ticker.await.unwrap();
        (n, reader.end())
    });
    let mut client = ws::connect_with(&format!("ws://{addr}/"), &opts())
        .await
        .unwrap();
    let mut answers = 0;
    let mut ticks = 0;
    for i in 0..200 {
        client.send_text(&format!("msg {i}")).await.unwrap();
        loop {
            match client.read().await.unwrap() {
                Some(Message::Text(t)) if t.starts_with("tick") => ticks += 1,
                Some(Message::Text(t)) => {
                    assert_eq!(t.as_str(), format!("msg {i}"));
                    answers += 1;
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    let end = client.close(CloseCode::NORMAL, "done").await.unwrap();
    assert_eq!(end, Some(End::Clean));
    let (n, server_end) = server.await.unwrap();
    assert_eq!((n, answers), (200, 200));
    assert_eq!(server_end, Some(End::Clean));
    assert!(ticks > 0, "no tick came through");
}

/// A thousand clients at once against one tokio server, each echoing 20
/// messages; every echo checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_clients_each_get_every_echo() {
    let (l, addr) = listener().await;
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let server = tokio::spawn(async move {
        let o = Options {
            deflate: None,
            ..opts()
        };
        loop {
            let (s, _) = l.accept().await.unwrap();
            let o = o.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                if let Ok(Accepted::WebSocket(ws)) = ws::accept(s, &o).await {
                    echo(*ws).await;
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    let clients: Vec<_> = (0..1000)
        .map(|c| {
            tokio::spawn(async move {
                let mut ws = ws::connect_with(&format!("ws://{addr}/c{c}"), &opts())
                    .await
                    .unwrap();
                for i in 0..20 {
                    let m = Message::text(format!("{c}:{i}"));
                    ws.send(&m).await.unwrap();
                    assert_eq!(ws.read().await.unwrap(), Some(m));
                }
                ws.close(CloseCode::NORMAL, "").await.unwrap()
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.await.unwrap(), Some(End::Clean));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while served.load(Ordering::SeqCst) < 1000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(served.load(Ordering::SeqCst), 1000);
    server.abort();
}

/// The blocking adapter's slow-peer scenario on tokio: a broadcaster
/// `try_send`s to a healthy peer and one that never reads. `try_send`
/// never waits (the stalled peer's queue says `QueueFull`), the healthy
/// peer gets every frame taken, and the stalled peer is dropped by the
/// keepalive while its writer is stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_peer_never_slows_a_broadcast_and_is_dropped_by_keepalive() {
    let o = Options {
        config: Config {
            ping_interval: Some(Duration::from_millis(300).into()),
            pong_timeout: Duration::from_millis(500).into(),
            ..Config::HOST
        },
        write_timeout: None, // only keepalive may drop it here
        send_queue: 256 << 10,
        deflate: None,
        ..opts()
    };
    let (l, addr) = listener().await;
    // The stalled peer: connects, then never reads (a small receive
    // buffer, so the server's queue backs up soon).
    let stalled_client = std::thread::spawn(move || {
        let s = raw_client(addr);
        std::thread::sleep(Duration::from_secs(8));
        drop(s);
    });
    let stalled_ws = accept_one(&l, &o).await;
    let (mut stalled_reader, stalled) = stalled_ws.split();
    let stalled_done = tokio::spawn(async move {
        let started = Instant::now();
        while let Ok(Some(_)) = stalled_reader.read().await {}
        (started.elapsed(), stalled_reader.end())
    });

    let healthy_task = tokio::spawn(async move {
        ws::connect_with(&format!("ws://{addr}/"), &opts())
            .await
            .unwrap()
    });
    let healthy_ws = accept_one(&l, &o).await;
    let mut healthy = healthy_task.await.unwrap();
    let (mut healthy_reader, healthy_sender) = healthy_ws.split();
    tokio::spawn(async move { while let Ok(Some(_)) = healthy_reader.read().await {} });

    let expected = Arc::new(AtomicUsize::new(usize::MAX));
    let want = expected.clone();
    let receiver = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = 0;
        while got < want.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "healthy peer: {got} frames");
            match tokio::time::timeout(Duration::from_millis(200), healthy.read()).await {
                Ok(Ok(Some(Message::Binary(b)))) => {
                    assert_eq!(b.len(), 200 << 10);
                    got += 1;
                }
                Ok(Ok(Some(_))) | Err(_) => {}
                Ok(other) => panic!("healthy peer: {other:?}"),
            }
        }
        got
    });
    let frame = Message::Binary(vec![1u8; 200 << 10].into());
    let (mut full, mut slowest, mut accepted) = (0, Duration::ZERO, 0);
    for _ in 0..50 {
        for (i, s) in [&stalled, &healthy_sender].into_iter().enumerate() {
            let t = Instant::now();
            match s.try_send(&frame) {
                Ok(()) if i == 1 => accepted += 1,
                Ok(()) => {}
                Err(Error::QueueFull { .. }) if i == 0 => full += 1,
                Err(Error::QueueFull { .. }) => {}
                Err(e) if i == 1 => panic!("healthy sender: {e}"),
                Err(_) => {} // the stalled one, once dropped
            }
            slowest = slowest.max(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    expected.store(accepted, Ordering::SeqCst);
    assert_eq!(
        receiver.await.unwrap(),
        accepted,
        "the healthy peer got every frame taken"
    );
    assert!(
        accepted >= 40,
        "the healthy peer took only {accepted} of 50"
    );
    assert!(full > 0, "the stalled peer's queue filled");
    assert!(
        slowest < Duration::from_millis(100),
        "a try_send took {slowest:?}"
    );
    let (took, end) = stalled_done.await.unwrap();
    assert_eq!(end, Some(End::PongTimeout));
    assert!(took < Duration::from_secs(5), "dropped after {took:?}");
    assert!(!stalled.is_connected());
    assert!(stalled.try_send(&frame).is_err());
    // The sender alone tells why.
    assert_eq!(stalled.end(), Some(End::PongTimeout));
    assert!(stalled.write_error().is_none());
    stalled_client.join().unwrap();
}

/// A peer that stops reading is dropped after the write timeout, on an
/// unsplit socket: the send fails with `TimedOut`, the failure latches,
/// and the stream carries only whole frames before the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_timeout_drops_a_peer_that_stops_reading() {
    let o = Options {
        write_timeout: Some(Duration::from_millis(500)),
        deflate: None,
        ..opts()
    };
    let (l, addr) = listener().await;
    let client = std::thread::spawn(move || {
        let s = raw_client(addr);
        std::thread::sleep(Duration::from_secs(3));
        s
    });
    let mut server = accept_one(&l, &o).await;
    let big = Message::Binary(vec![9u8; 1 << 20].into());
    let started = Instant::now();
    let err = loop {
        if let Err(e) = server.send(&big).await {
            break e;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never timed out"
        );
    };
    let Error::Io(e) = err else { panic!("{err:?}") };
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert!(!server.is_connected());
    assert_eq!(
        server.write_error().map(|e| e.kind()),
        Some(std::io::ErrorKind::TimedOut)
    );
    assert!(server.send(&big).await.is_err(), "the failure latched");
    assert_eq!(server.read().await.unwrap(), None);
    // What reached the peer: whole 1 MiB frames, then the end.
    let mut s = client.join().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut wire = Vec::new();
    let _ = s.read_to_end(&mut wire);
    let mut at = 0;
    while at + 10 <= wire.len() {
        assert_eq!(wire[at], 0x82, "a binary frame at {at}");
        assert_eq!(wire[at + 1], 127);
        let len = u64::from_be_bytes(wire[at + 2..at + 10].try_into().unwrap()) as usize;
        assert_eq!(len, 1 << 20);
        at += 10 + len;
    }
    assert!(at >= wire.len() || wire.len() - at < 10 + (1 << 20));
}

/// A stream that counts the writes made to it.
struct Counting<S> {
    inner: S,
    writes: Arc<AtomicUsize>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Messages that come in one read are echoed in one write (the batch);
/// a lone message is echoed at once, without waiting for more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_to_messages_read_together_go_out_in_one_write() {
    let (l, addr) = listener().await;
    let writes = Arc::new(AtomicUsize::new(0));
    let w = writes.clone();
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let s = Counting {
            inner: s,
            writes: w,
        };
        let Accepted::WebSocket(ws) = ws::accept(s, &opts()).await.unwrap() else {
            panic!("no upgrade")
        };
        echo(*ws).await
    });
    let mut s = tokio::task::spawn_blocking(move || raw_client(addr))
        .await
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let before = writes.load(Ordering::SeqCst); // the 101
    // 64 messages in one write.
    let msgs: Vec<Message> = (0..64).map(|i| Message::text(format!("m{i:02}"))).collect();
    s.write_all(&client_frames(&msgs)).unwrap();
    let mut wire = vec![0u8; 64 * 5];
    s.read_exact(&mut wire).unwrap();
    for (i, f) in wire.chunks(5).enumerate() {
        assert_eq!(f, [&[0x81, 3][..], format!("m{i:02}").as_bytes()].concat());
    }
    let batch = writes.load(Ordering::SeqCst) - before;
    assert!(batch <= 2, "64 echoes took {batch} writes");
    // A lone message: its echo comes without anything more sent.
    let t = Instant::now();
    s.write_all(&client_frames(&[Message::text("alone")]))
        .unwrap();
    let mut echo = [0u8; 7];
    s.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"\x81\x05alone");
    assert!(t.elapsed() < Duration::from_secs(1));
    drop(s);
    assert_eq!(server.await.unwrap(), 65);
}

/// Keepalive on an unsplit socket: a peer silent after its handshake (it
/// answers no ping) is dropped by the pong timeout while the server waits
/// in a read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_pinged_and_dropped() {
    let o = Options {
        config: Config {
            ping_interval: Some(Duration::from_millis(200).into()),
            pong_timeout: Duration::from_millis(300).into(),
            ..Config::HOST
        },
        ..opts()
    };
    let (l, addr) = listener().await;
    let client = std::thread::spawn(move || {
        let mut s = raw_client(addr);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut ping = [0u8; 2];
        s.read_exact(&mut ping).unwrap();
        assert_eq!(ping, [0x89, 0], "a ping");
        std::thread::sleep(Duration::from_secs(2));
    });
    let mut server = accept_one(&l, &o).await;
    let t = Instant::now();
    assert_eq!(server.read().await.unwrap(), None);
    assert_eq!(server.end(), Some(End::PongTimeout));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    client.join().unwrap();
}

/// The Sink and the Stream: `forward` echoes through them, the close
/// handshake runs through `close()`, and a compressed exchange (both ends
/// agree permessage-deflate by default) comes back intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_and_sink_echo_with_permessage_deflate() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let ws = accept_one(&l, &opts()).await;
        assert!(ws.connection().deflate().is_some());
        let (sink, stream) = futures_util::StreamExt::split(ws);
        stream
            .filter(|m| std::future::ready(m.as_ref().is_ok_and(Message::is_data)))
            .forward(sink)
            .await
    });
    let mut client = ws::connect_with(&format!("ws://{addr}/"), &opts())
        .await
        .unwrap();
    let json = "{\"sensor\":\"temp\",\"value\":21.5}".repeat(200);
    for i in 0..50 {
        let m = Message::text(format!("{i}{json}"));
        SinkExt::feed(&mut client, m).await.unwrap();
    }
    SinkExt::flush(&mut client).await.unwrap();
    for i in 0..50 {
        let m = client.next().await.unwrap().unwrap();
        assert_eq!(m, Message::text(format!("{i}{json}")));
    }
    SinkExt::close(&mut client).await.unwrap();
    // The server's stream ends at the close: forward returns, and the
    // client's stream sees the close echo, then the end.
    let _ = server.await.unwrap();
    let mut rest = Vec::new();
    while let Some(m) = client.next().await {
        rest.push(m.unwrap());
    }
    assert!(matches!(rest.last(), Some(Message::Close(_))), "{rest:?}");
    assert_eq!(client.end(), Some(End::Clean));
}

/// After a clean close a split client closes TCP once the server has
/// (RFC 6455 section 7.1.1), even while its halves are still held: the
/// server's close ends at the client's FIN, not at its close timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_client_closes_tcp_after_the_servers_fin_while_its_halves_live() {
    let (l, addr) = listener().await;
    let mut o = opts();
    o.config.close_timeout = sansws::conn::Duration::from_secs(30);
    let server = tokio::spawn(async move {
        let mut ws = accept_one(&l, &o).await;
        let t = Instant::now();
        let end = ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        (end, t.elapsed())
    });
    let client = ws::connect_with(&format!("ws://{addr}/"), &opts())
        .await
        .unwrap();
    let (mut reader, sender) = client.split();
    let mut last = None;
    while let Some(m) = reader.read().await.unwrap() {
        last = Some(m);
    }
    assert!(matches!(last, Some(Message::Close(_))), "{last:?}");
    assert_eq!(reader.end(), Some(End::Clean));
    // Both halves stay alive until the server is done.
    let (end, took) = tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("the server still waits for the client's FIN")
        .unwrap();
    assert_eq!(end, Some(End::Clean));
    assert!(
        took < Duration::from_secs(5),
        "the server's close took {took:?}"
    );
    drop((reader, sender));
}

/// A split `Sender`'s queue is the blocking adapter's: capped at
/// `send_queue` (a message larger than that goes alone), control frames
/// always in, `flush` waits for the writer; and fragments and pings go out
/// through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_senders_queue_is_capped_flushed_and_takes_fragments() {
    const LIMIT: usize = 100_000;
    let (l, addr) = listener().await;
    // No keepalive: the server's reader is not polled, and a ping among
    // the messages would only blur what is checked. No compression: the
    // repeated bytes would shrink to nothing on the wire.
    let mut o = opts();
    o.config.ping_interval = None;
    #[cfg(feature = "deflate")]
    {
        o.deflate = None;
    }
    let client_opts = o.clone();
    o.send_queue = LIMIT;
    let server = tokio::spawn(async move { accept_one(&l, &o).await });
    let mut client = ws::connect_with(&format!("ws://{addr}/"), &client_opts)
        .await
        .unwrap();
    let (reader, sender) = server.await.unwrap().split();

    // The client does not read: the queue fills, and never past the limit
    // once it holds anything.
    let chunk = Message::binary(vec![1u8; 30_000]);
    let mut sent = 0;
    let full = loop {
        let before = sender.queued();
        match sender.try_send(&chunk) {
            Ok(()) => {
                sent += 1;
                let after = sender.queued();
                assert!(
                    before == 0 || after <= LIMIT,
                    "queued {before} -> {after}, over the limit {LIMIT}"
                );
            }
            Err(Error::QueueFull { queued, limit }) => break (queued, limit),
            Err(e) => panic!("{e}"),
        }
        assert!(
            sent < 10_000,
            "the queue never filled: queued {}",
            sender.queued()
        );
        tokio::task::yield_now().await;
    };
    assert_eq!(full.1, LIMIT);
    assert!(full.0 + 30_000 > LIMIT, "refused with room: {full:?}");
    // Control frames are never held back.
    sender.ping(b"hb").unwrap();

    // Now the client reads: everything comes, and flush sees it written.
    let reading = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(m) = client.read().await.unwrap() {
            let end = matches!(&m, Message::Text(t) if t.as_str() == "abcdef");
            got.push(m);
            if end {
                break;
            }
        }
        got
    });
    tokio::time::timeout(Duration::from_secs(20), sender.flush())
        .await
        .expect("flush")
        .unwrap();
    assert_eq!(sender.queued(), 0);
    // Larger than the limit, on an empty queue: it goes.
    let big = Message::binary(vec![7u8; 3 * LIMIT]);
    sender.try_send(&big).unwrap();
    for (part, fin) in [("ab", false), ("cd", false), ("ef", true)] {
        sender
            .send_fragment(ws::DataKind::Text, part.as_bytes(), fin)
            .await
            .unwrap();
    }
    let got = tokio::time::timeout(Duration::from_secs(20), reading)
        .await
        .expect("the client's reads")
        .unwrap();
    let kinds: Vec<_> = got
        .iter()
        .map(|m| (m.as_bytes().len(), m.is_data()))
        .collect();
    assert_eq!(
        got.len(),
        sent + 3,
        "{sent} sent, got (length, data): {kinds:?}"
    );
    assert!(got[..sent].iter().all(|m| *m == chunk), "{kinds:?}");
    assert_eq!(got[sent], Message::Ping(b"hb".to_vec().into()));
    assert_eq!(got[sent + 1], big);
    assert_eq!(reader.remote_close(), None);
    assert!(reader.write_error().is_none());
}

/// Request-response through keepalive pings, with a client that answers a
/// ping only along with its next message (as a load generator or a busy
/// device does): every echo still comes, and the pongs count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_pings_amid_request_response_hold_up_no_echo() {
    let (l, addr) = listener().await;
    let mut o = opts();
    o.config.ping_interval = Some(sansws::conn::Duration::from_millis(20));
    o.config.pong_timeout = sansws::conn::Duration::from_secs(5);
    let server = tokio::spawn(async move { echo(accept_one(&l, &o).await).await });
    let pings = tokio::task::spawn_blocking(move || {
        let s = raw_client(addr);
        lazy_ponger_round_trips(s, Duration::from_millis(600))
    })
    .await
    .unwrap();
    assert!(
        pings >= 5,
        "only {pings} pings in 600 ms at a 20 ms interval"
    );
    server.await.unwrap();
}

/// Round trips of 20-byte binary messages on `s` for `time`, each echo
/// checked; a ping is answered only with the next message. Fails if an
/// echo does not come within 2 s. Returns the pings seen.
fn lazy_ponger_round_trips(mut s: std::net::TcpStream, time: Duration) -> usize {
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mask = [3u8, 1, 4, 1];
    let frame = |op: u8, p: &[u8]| {
        let mut f = vec![0x80 | op, 0x80 | p.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(p.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        f
    };
    let start = Instant::now();
    let mut owed = Vec::new();
    let (mut pings, mut n) = (0, 0u64);
    while start.elapsed() < time {
        let mut msg = [0u8; 20];
        msg[..8].copy_from_slice(&n.to_le_bytes());
        owed.extend(frame(0x2, &msg));
        s.write_all(&owed).unwrap();
        owed.clear();
        loop {
            let mut head = [0u8; 2];
            s.read_exact(&mut head)
                .unwrap_or_else(|e| panic!("waiting for echo {n} ({pings} pings so far): {e}"));
            let mut p = vec![0u8; usize::from(head[1] & 0x7f)];
            s.read_exact(&mut p).unwrap();
            match head[0] {
                0x89 => {
                    pings += 1;
                    owed.extend(frame(0xa, &p));
                }
                0x82 => {
                    assert_eq!(p, msg, "echo {n}");
                    break;
                }
                b => panic!("frame {b:#x}"),
            }
        }
        n += 1;
    }
    s.write_all(&frame(0x8, &1000u16.to_be_bytes())).unwrap();
    pings
}

/// A read whose first poll found the task's coop budget used up (the
/// alarm's sleep then turned away without keeping the waker) still gets
/// its keepalive timer: a silent peer is pinged and dropped by the pong
/// timeout. Before the fix the read waited past 3 s.
#[tokio::test(flavor = "current_thread")]
async fn keepalive_fires_after_a_poll_without_coop_budget() {
    let o = Options {
        config: Config {
            ping_interval: Some(Duration::from_millis(100).into()),
            pong_timeout: Duration::from_millis(200).into(),
            ..Config::HOST
        },
        ..Options::default()
    };
    // In a spawned task: its waker is the same from poll to poll.
    tokio::spawn(async move {
        let (a, _peer) = tokio::io::duplex(4096);
        let mut server =
            WebSocket::from_raw(a, sansws::conn::Role::Server, &o, &[], Box::new(|| [0; 4]));
        let mut first = true;
        let read = std::future::poll_fn(|cx| {
            if first {
                first = false;
                for _ in 0..1000 {
                    let _ = std::pin::pin!(tokio::task::consume_budget())
                        .as_mut()
                        .poll(cx);
                }
            }
            std::pin::pin!(server.read()).as_mut().poll(cx)
        });
        let r = tokio::time::timeout(Duration::from_secs(3), read).await;
        assert!(r.is_ok(), "no keepalive ping and no pong timeout in 3 s");
    })
    .await
    .unwrap();
}

/// Takes what is written in pieces of at most `piece` bytes, turning
/// every other write away (`Pending`, woken at once) if `stall`; reads
/// nothing (never ready).
struct Trickle {
    wire: Vec<u8>,
    piece: usize,
    stall: bool,
    turned: bool,
}

impl AsyncRead for Trickle {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Pending
    }
}

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.stall {
            self.turned = !self.turned;
            if self.turned {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        let n = buf.len().min(self.piece);
        self.wire.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    /// Gathers up to a piece across the slices (a socket's `writev`).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        self.as_mut().poll_write(cx, &all)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A lone message is written straight to the stream (`send`): a short
/// one framed on the stack, a server's longer one as its header and its
/// payload in one vectored write. Every other message goes through the
/// queue (the `Sink`). Both must put the same bytes on the wire, for both
/// roles, every length around the bounds (the direct path's, the queue's
/// for sharing a payload, one frame's), and streams that take a frame
/// whole, in pieces, or only after turning writes away.
#[tokio::test]
async fn a_short_message_sent_directly_is_what_the_queue_sends() {
    use sansws::conn::Role;
    async fn wire(
        role: Role,
        msgs: &[Message],
        direct: bool,
        piece: usize,
        stall: bool,
    ) -> Vec<u8> {
        let stream = Trickle {
            wire: Vec::new(),
            piece,
            stall,
            turned: false,
        };
        let mut key = 0u8;
        let keys: sansws::adapter::std_net::Keys = Box::new(move || {
            key = key.wrapping_add(1);
            [key, 0x5a, key ^ 0xff, 0x07]
        });
        let mut ws = WebSocket::from_raw(stream, role, &Options::default(), &[], keys);
        for m in msgs {
            if direct {
                ws.send(m).await.unwrap();
            } else {
                SinkExt::send(&mut ws, m.clone()).await.unwrap();
            }
        }
        ws.get_ref().wire.clone()
    }
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + 1) as u8).collect();
    for role in [Role::Server, Role::Client] {
        for (piece, stall) in [
            (usize::MAX, false),
            (3, false),
            (usize::MAX, true),
            (5, true),
            (4099, false),
            (4099, true),
        ] {
            let long = [
                300, 1000, 4095, 4096, 4097, 5000, 20_000, 65_535, 65_536, 70_000,
            ];
            for len in (0..=40).chain(105..=135).chain(250..=262).chain(long) {
                let msgs = [
                    Message::Binary(payload[..len].to_vec().into()),
                    Message::text("é".repeat(len / 2)),
                ];
                let direct = wire(role, &msgs, true, piece, stall).await;
                let queued = wire(role, &msgs, false, piece, stall).await;
                assert_eq!(
                    direct, queued,
                    "{role:?}, {len} bytes, pieces of {piece}, stall {stall}"
                );
                assert!(direct.len() > len, "{role:?}, {len} bytes: nothing written");
            }
        }
    }
}

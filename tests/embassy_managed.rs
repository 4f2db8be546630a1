//! The managed client for embassy firmware (`adapter::embassy`) over
//! embassy-net (smoltcp) in process, two stacks joined in memory
//! (`support/embassy_link.rs`), under a real async runtime: embassy-time's
//! std driver, `join`/`select` of the stacks' runners, the server, the
//! client's task and a sending task, all under `block_on`.
//!
//! A server streams checksummed messages, is cut mid-message and comes
//! back: the client reports Connected, Data, Disconnected, failed tries,
//! Connected again, in that order, every whole message intact and the cut
//! one never finished; sends while down fail at once; a close ends `run`
//! cleanly. A server that stops answering meets the pong timeout; one that
//! answers 403 is reported with its status. Counting allocator: no
//! allocation per message in the client's paths.
#![cfg(all(
    feature = "embassy",
    feature = "server",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

#[path = "support/embassy_link.rs"]
mod link;
#[path = "support/embassy_tcp.rs"]
mod tcp;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::pin;

use embassy_futures::join::{join, join3};
use embassy_futures::select::{Either, Either3, select, select3};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Stack, StackResources};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_time::{Duration as EDuration, Timer, with_timeout};
use tcp::Tcp;

use sansws::adapter::embassy::{self, Client, Closed, Event, Failure, SendFailed, Settings};
use sansws::adapter::embedded_io::testing::block_on;
use sansws::adapter::embedded_io_async::{self as ws, Accepted, Decision, ServerOptions};
use sansws::conn::{Config, DataKind, Duration, Event as ConnEvent};
use sansws::handshake::{ClientRequest, HandshakeError, HttpResponse};
use sansws::wire::CloseCode;

/// Counts the allocations made while the client's task is polled (its
/// code, the adapter, the core and the TCP socket's calls), not the test's
/// link driver, which allocates a packet at a time, nor other threads.
struct Counting;
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}
fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCS.with(|n| n.set(n.get() + 1));
    }
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

/// `fut`, counted while it is polled.
async fn counted<T>(fut: impl Future<Output = T>) -> T {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        COUNTING.with(|c| c.set(true));
        let r = fut.as_mut().poll(cx);
        COUNTING.with(|c| c.set(false));
        r
    })
    .await
}

const PORT: u16 = 8080;

/// Two stacks joined by a link, their runners running beside `body`,
/// bounded by `limit_ms`.
fn on_net<R>(limit_ms: u64, body: impl for<'d> AsyncFnOnce(Stack<'d>, Stack<'d>) -> R) -> R {
    let (pa, pb, _link) = link::pair();
    let (mut ra, mut rb) = (StackResources::<4>::new(), StackResources::<4>::new());
    let (a, mut run_a) = embassy_net::new(pa, link::ipv4(1), &mut ra, 0x5eed_0001);
    let (b, mut run_b) = embassy_net::new(pb, link::ipv4(2), &mut rb, 0x5eed_0002);
    block_on(async {
        let body = async {
            join(a.wait_config_up(), b.wait_config_up()).await;
            body(a, b).await
        };
        let bounded = with_timeout(EDuration::from_millis(limit_ms), body);
        match select3(run_a.run(), run_b.run(), bounded).await {
            Either3::Third(Ok(r)) => r,
            Either3::Third(Err(_)) => panic!("the test did not finish within {limit_ms} ms"),
            _ => unreachable!("a runner returned"),
        }
    })
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Message `n`: 3,000 bytes, the last 4 the hash of the rest.
fn message(n: u32) -> [u8; 3000] {
    let mut m = [0u8; 3000];
    for (i, b) in m[..2996].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(n | 1).wrapping_add(n) as u8;
    }
    let h = fnv1a(&m[..2996]);
    m[2996..].copy_from_slice(&h.to_le_bytes());
    m
}

/// What the handler saw, as lines, and the message being put together.
#[derive(Default)]
struct Seen {
    lines: Vec<String>,
    msg: Vec<u8>,
    whole: usize,
    echoes: usize,
}

impl Seen {
    fn on(&mut self, e: Event<'_, embassy_net::tcp::ConnectError>) {
        match e {
            Event::Connected => self.lines.push("connected".into()),
            Event::Data(d) => {
                if d.is_message_start() {
                    self.msg.clear();
                }
                self.msg.extend_from_slice(d.payload);
                if d.is_message_end() {
                    if d.kind == DataKind::Text {
                        self.echoes += 1;
                    } else {
                        let (body, sum) = self.msg.split_at(self.msg.len() - 4);
                        assert_eq!(fnv1a(body).to_le_bytes(), sum, "a message arrived changed");
                        self.whole += 1;
                    }
                    self.msg.clear();
                }
            }
            Event::Disconnected(why) => {
                if !self.msg.is_empty() {
                    self.lines.push(format!("dropped {}", self.msg.len()));
                    self.msg.clear();
                }
                self.lines.push(format!("disconnected {why:?}"));
            }
            Event::Error(f) => self.lines.push(match f {
                Failure::Handshake(HandshakeError::Status(s)) => format!("error status {s}"),
                Failure::Connect(e) => format!("error connect {e:?}"),
                other => format!("error {other:?}"),
            }),
        }
    }
}

fn settings() -> Settings<'static> {
    let mut s = Settings::new(ClientRequest::from_uri("ws://10.0.0.1:8080/ws").unwrap());
    s.delay = EDuration::from_millis(100);
    s.max_delay = EDuration::from_millis(400);
    s.network_timeout = EDuration::from_secs(2);
    s
}

/// The client on `stack` until `run` returns: a new socket each try,
/// 1 KiB / 512 B buffers, constant nonces and mask keys (a test's).
async fn run_client<const N: usize>(
    client: &Client<NoopRawMutex, N>,
    stack: Stack<'_>,
    settings: &Settings<'_>,
    handler: impl FnMut(Event<'_, embassy_net::tcp::ConnectError>),
) -> Closed {
    let mut tcp = Tcp::<2048>::new(stack);
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let rng = |b: &mut [u8]| b.fill(7);
    let keys = || || [0x37, 0xfa, 0x21, 0x3d];
    embassy::run(
        client, &mut tcp, settings, rng, keys, &mut rx, &mut tx, handler,
    )
    .await
}

/// A server: accepts one WebSocket on `stack`, any path.
async fn accept_any<'d>(
    stack: Stack<'d>,
    bufs: &'d mut ([u8; 4096], [u8; 4096], [u8; 1024], [u8; 1024]),
) -> ws::WebSocket<'d, TcpSocket<'d>, sansws::conn::NoMasking> {
    serve_one(stack, bufs, Config::DEFAULT, |_| Decision::Accept(None))
        .await
        .expect("an upgrade")
}

/// A server: accepts one WebSocket on `stack` with `decide`.
async fn serve_one<'d>(
    stack: Stack<'d>,
    bufs: &'d mut ([u8; 4096], [u8; 4096], [u8; 1024], [u8; 1024]),
    config: Config,
    decide: impl FnOnce(&sansws::handshake::UpgradeRequest<'_, '_>) -> Decision,
) -> Option<ws::WebSocket<'d, TcpSocket<'d>, sansws::conn::NoMasking>> {
    let (srx, stx, wrx, wtx) = bufs;
    let mut s = TcpSocket::new(stack, srx, stx);
    s.accept(PORT).await.unwrap();
    let opts = ServerOptions {
        config,
        ..ServerOptions::new(embassy::embassy_clock)
    };
    match ws::accept(s, wrx, wtx, opts, decide, |_| HttpResponse::new(404)).await {
        Ok(Accepted::WebSocket(w)) => Some(w),
        _ => None,
    }
}

#[test]
fn events_in_order_across_a_server_cut_mid_message_and_back() {
    let client: Client<NoopRawMutex, 512> = Client::new();
    let seen = RefCell::new(Seen::default());
    let not_connected = RefCell::new(0);
    let allocs_while_streaming = RefCell::new(None);
    let closed = on_net(30_000, async |server_stack, client_stack| {
        let settings = settings();
        let run = run_client(&client, client_stack, &settings, |e| {
            seen.borrow_mut().on(e)
        });
        // The server: streams 30 messages, then cuts the connection in the
        // middle of one (a RST), is down 500 ms, streams 30 more and
        // answers the close.
        let server = async {
            let mut bufs = ([0u8; 4096], [0u8; 4096], [0u8; 1024], [0u8; 1024]);
            {
                let mut w = accept_any(server_stack, &mut bufs).await;
                for i in 0..30 {
                    w.send_binary(&message(i)).await.unwrap();
                    Timer::after_millis(10).await;
                }
                w.send_fragment(DataKind::Binary, &message(99)[..1000], false)
                    .await
                    .unwrap();
                // A fragment that is not the last is not flushed by its
                // send: flushed here, it has reached the client when the
                // connection is cut (an abort drops what is unsent).
                w.flush().await.unwrap();
                w.io().abort();
                let _ = w.io().flush().await;
            }
            Timer::after_millis(500).await;
            let mut bufs = ([0u8; 4096], [0u8; 4096], [0u8; 1024], [0u8; 1024]);
            let mut w = accept_any(server_stack, &mut bufs).await;
            for i in 0..30 {
                // Until the client closes.
                if w.send_binary(&message(i)).await.is_err() {
                    break;
                }
                // Echo what the client sends meanwhile.
                if let Ok(Ok(Some(Some((k, len))))) = with_timeout(
                    EDuration::from_millis(10),
                    w.read_event(|e| match e {
                        ConnEvent::Data(d) if d.is_message_end() => Some((d.kind, d.payload.len())),
                        _ => None,
                    }),
                )
                .await
                {
                    assert_eq!((k, len), (DataKind::Text, 5));
                    let _ = w.send_text("pong!").await;
                }
            }
            // Until the client's close.
            while let Ok(Some(())) = w.read_event(|_| ()).await {}
        };
        // A task that sends: while down its sends fail at once; once back
        // it sends five texts and then closes.
        let sender = async {
            // Wait for the cut, then try to send while down.
            while seen
                .borrow()
                .lines
                .iter()
                .all(|l| !l.starts_with("disconnected"))
            {
                Timer::after_millis(5).await;
            }
            if client.send_text("hello", EDuration::from_millis(100)).await
                == Err(SendFailed::NotConnected)
            {
                *not_connected.borrow_mut() += 1;
            }
            while seen
                .borrow()
                .lines
                .iter()
                .filter(|l| *l == "connected")
                .count()
                < 2
            {
                Timer::after_millis(5).await;
            }
            let before = ALLOCS.with(Cell::get);
            for _ in 0..5 {
                client
                    .send_text("ping!", EDuration::from_millis(500))
                    .await
                    .unwrap();
                Timer::after_millis(30).await;
            }
            while seen.borrow().whole < 45 {
                Timer::after_millis(5).await;
            }
            *allocs_while_streaming.borrow_mut() = Some(ALLOCS.with(Cell::get) - before);
            client.close(CloseCode::NORMAL, "bye");
        };
        join3(counted(run), server, sender).await.0
    });
    let seen = seen.into_inner();
    assert_eq!(closed, Closed::Closed { clean: true }, "{:?}", seen.lines);
    assert_eq!(
        *not_connected.borrow(),
        1,
        "a send while down fails at once"
    );
    // In order: connected, (data), the cut message dropped, disconnected,
    // failed tries, connected again.
    let l = &seen.lines;
    assert_eq!(l[0], "connected", "{l:?}");
    assert!(
        l[1].starts_with("dropped 1"),
        "the cut message is dropped: {l:?}"
    );
    assert!(
        l[2].starts_with("disconnected Lost") || l[2].starts_with("disconnected"),
        "{l:?}"
    );
    let again = l.iter().rposition(|x| x == "connected").unwrap();
    assert!(again > 2, "{l:?}");
    assert!(
        l[3..again]
            .iter()
            .all(|x| x.starts_with("error connect") || x == "disconnected ConnectFailed"),
        "between the cut and the reconnect only failed tries: {l:?}"
    );
    assert_eq!(
        l[again + 1..],
        ["disconnected ClosedByClient { clean: true }"],
        "after the reconnect only data, then the close: {l:?}"
    );
    assert!(seen.whole >= 45, "{} whole messages", seen.whole);
    assert_eq!(seen.echoes, 5, "every text sent once connected was echoed");
    assert_eq!(
        allocs_while_streaming.into_inner(),
        Some(0),
        "no allocation in the client's paths while messages stream both ways"
    );
}

#[test]
fn a_server_that_stops_answering_meets_the_pong_timeout() {
    let client: Client<NoopRawMutex, 64> = Client::new();
    let seen = RefCell::new(Seen::default());
    let closed = on_net(20_000, async |server_stack, client_stack| {
        let mut settings = settings();
        settings.config.ping_interval = Some(Duration::from_millis(200));
        settings.config.pong_timeout = Duration::from_millis(400);
        settings.reconnect = false;
        let run = run_client(&client, client_stack, &settings, |e| {
            seen.borrow_mut().on(e)
        });
        let server = async {
            let mut bufs = ([0u8; 4096], [0u8; 4096], [0u8; 1024], [0u8; 1024]);
            let w = accept_any(server_stack, &mut bufs).await;
            // Never reads again: no pong.
            Timer::after_millis(3000).await;
            drop(w);
        };
        join(run, server).await.0
    });
    let seen = seen.into_inner();
    assert_eq!(closed, Closed::NotReconnecting);
    assert_eq!(
        seen.lines,
        ["connected", "disconnected PongTimeout"],
        "{:?}",
        seen.lines
    );
}

#[test]
fn a_refused_handshake_is_reported_with_its_status() {
    let client: Client<NoopRawMutex, 64> = Client::new();
    let seen = RefCell::new(Seen::default());
    let closed = on_net(20_000, async |server_stack, client_stack| {
        let mut settings = settings();
        settings.reconnect = false;
        let run = run_client(&client, client_stack, &settings, |e| {
            seen.borrow_mut().on(e)
        });
        let server = async {
            let mut bufs = ([0u8; 4096], [0u8; 4096], [0u8; 1024], [0u8; 1024]);
            assert!(
                serve_one(server_stack, &mut bufs, Config::DEFAULT, |_| {
                    Decision::Reject(403)
                })
                .await
                .is_none()
            );
            Timer::after_millis(200).await;
        };
        join(run, server).await.0
    });
    let seen = seen.into_inner();
    assert_eq!(closed, Closed::NotReconnecting);
    assert_eq!(
        seen.lines,
        ["error status 403", "disconnected ConnectFailed"],
        "{:?}",
        seen.lines
    );
}

#[test]
fn sends_before_any_connection_fail_at_once() {
    let client: Client<NoopRawMutex, 16> = Client::new();
    block_on(async {
        assert_eq!(
            client.send_binary(b"x", EDuration::from_millis(10)).await,
            Err(SendFailed::NotConnected)
        );
    });
    assert!(!client.is_connected());
}

#[test]
fn a_stop_ends_the_tcp_connection_so_the_server_hears_of_it_at_once() {
    let client: Client<NoopRawMutex, 64> = Client::new();
    let stopped_at = RefCell::new(None);
    let (closed, server_heard_after) = on_net(10_000, async |server_stack, client_stack| {
        let settings = settings();
        let run = run_client(&client, client_stack, &settings, |e| {
            if let Event::Connected = e {
                client.stop();
                *stopped_at.borrow_mut() = Some(embassy_time::Instant::now());
            }
        });
        let server = async {
            let mut bufs = ([0u8; 4096], [0u8; 4096], [0u8; 1024], [0u8; 1024]);
            let mut w = accept_any(server_stack, &mut bufs).await;
            // No keepalive here: only the client's FIN ends this.
            while let Ok(Some(())) = w.read_event(|_| ()).await {}
            stopped_at.borrow().map(|t| t.elapsed())
        };
        join(run, server).await
    });
    assert_eq!(closed, Closed::Stopped);
    let after = server_heard_after.expect("the server's connection ended");
    assert!(
        after < EDuration::from_millis(500),
        "the server heard after {after:?}"
    );
}

#[test]
fn a_stop_during_the_handshake_ends_the_tcp_connection_too() {
    let client: Client<NoopRawMutex, 64> = Client::new();
    let (closed, heard) = on_net(10_000, async |server_stack, client_stack| {
        let settings = settings();
        let run = run_client(&client, client_stack, &settings, |e| {
            panic!("a cut try reports nothing: {e:?}")
        });
        // Accepts TCP, reads the request, never answers; the client stops
        // 300 ms in.
        let server = async {
            let (mut srx, mut stx) = ([0u8; 2048], [0u8; 2048]);
            let mut s = TcpSocket::new(server_stack, &mut srx, &mut stx);
            s.accept(PORT).await.unwrap();
            let mut buf = [0u8; 512];
            let mut stopped = None;
            loop {
                match select(
                    embedded_io_async::Read::read(&mut s, &mut buf),
                    Timer::after_millis(300),
                )
                .await
                {
                    Either::First(Ok(0)) | Either::First(Err(_)) => break,
                    Either::First(Ok(_)) => {}
                    Either::Second(()) if stopped.is_none() => {
                        client.stop();
                        stopped = Some(embassy_time::Instant::now());
                    }
                    Either::Second(()) => {}
                }
            }
            stopped.map(|t| t.elapsed())
        };
        join(run, server).await
    });
    assert_eq!(closed, Closed::Stopped);
    let after = heard.expect("the client stopped");
    assert!(
        after < EDuration::from_millis(500),
        "the server heard after {after:?}"
    );
}

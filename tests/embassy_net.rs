//! The async embedded-io adapter over a real no_std TCP/IP stack:
//! embassy-net (smoltcp), in process. Two stacks, `10.0.0.1` (the server,
//! a device) and `10.0.0.2` (the client), joined by an in-memory IP link
//! (`support/embassy_link.rs`); embassy-time's std driver gives the
//! timers, and the adapter's timers are woken as its module docs show:
//! `select(ws.read_event(..), Timer::at(poll_timeout))`, then `tick`.
//!
//! Every test runs both stacks' runners and both ends in one future under
//! a small thread-parking `block_on`, bounded by an outer timeout.
//!
//! Native hosts only: its bounds are in real time, which an emulated
//! 32-bit or big-endian run (scripts/cross-test.sh) does not keep.
#![cfg(all(
    feature = "embedded-io-async",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

#[path = "support/embassy_link.rs"]
mod link;
mod support;

use sansws::adapter::embedded_io::testing::block_on;
use std::time::Instant as StdInstant;

use embassy_futures::join::join;
use embassy_futures::select::{Either, Either3, select, select3};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Stack, StackResources};
use embassy_time::{Duration as EDuration, Instant as At, Timer, with_timeout};
use embedded_io_async::{Read, Write};

use sansws::adapter::embedded_io_async::{
    self as ws, Accepted, ClientOptions, Decision, Error, ServerOptions, WebSocket,
};
use sansws::conn::{Config, Duration, End, Event, Instant, MaskKeys, NoMasking};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::CloseCode;

use link::Link;
use support::{Collector, Got, TestKeys};

const PORT: u16 = 8080;
const SERVER: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);

type Ws<'b, 'd, K> = WebSocket<'b, TcpSocket<'d>, K>;

/// The device's clock: embassy-time's, in milliseconds.
fn clock() -> Instant {
    Instant(At::now().as_millis())
}

/// Two stacks joined by a link, their runners running beside `body`; the
/// whole bounded by `limit_ms`.
fn on_net<R>(limit_ms: u64, body: impl for<'d> AsyncFnOnce(Stack<'d>, Stack<'d>, Link) -> R) -> R {
    let (pa, pb, link) = link::pair();
    let (mut ra, mut rb) = (StackResources::<3>::new(), StackResources::<3>::new());
    let (a, mut run_a) = embassy_net::new(pa, link::ipv4(1), &mut ra, 0x5eed_0001);
    let (b, mut run_b) = embassy_net::new(pb, link::ipv4(2), &mut rb, 0x5eed_0002);
    block_on(async {
        let body = async {
            join(a.wait_config_up(), b.wait_config_up()).await;
            body(a, b, link).await
        };
        let bounded = with_timeout(EDuration::from_millis(limit_ms), body);
        match select3(run_a.run(), run_b.run(), bounded).await {
            Either3::Third(Ok(r)) => r,
            Either3::Third(Err(_)) => panic!("the test did not finish within {limit_ms} ms"),
            _ => unreachable!("a runner returned"),
        }
    })
}

/// A server's TCP socket, accepted on [`PORT`].
async fn tcp_accept<'d>(stack: Stack<'d>, rx: &'d mut [u8], tx: &'d mut [u8]) -> TcpSocket<'d> {
    let mut s = TcpSocket::new(stack, rx, tx);
    s.accept(PORT).await.unwrap();
    s
}

/// A client's TCP socket, connected to the server. The server listens on
/// its first poll, before ours (`join` polls in order).
async fn tcp_connect<'d>(stack: Stack<'d>, rx: &'d mut [u8], tx: &'d mut [u8]) -> TcpSocket<'d> {
    let mut s = TcpSocket::new(stack, rx, tx);
    s.connect((SERVER, PORT)).await.unwrap();
    s
}

fn sopts(config: Config) -> ServerOptions {
    ServerOptions {
        config,
        ..ServerOptions::new(clock)
    }
}

fn copts(config: Config) -> ClientOptions<'static, TestKeys> {
    ClientOptions {
        config,
        ..ClientOptions::new(
            ClientRequest::new("10.0.0.1", "/ws"),
            [0x42; 16],
            TestKeys(0x9e37_79b9),
            clock,
        )
    }
}

async fn ws_accept<'b, T: Read + Write>(
    sock: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    config: Config,
) -> WebSocket<'b, T, NoMasking> {
    let accepted = ws::accept(
        sock,
        rx,
        tx,
        sopts(config),
        |r| {
            if r.path() == "/ws" {
                Decision::Accept(None)
            } else {
                Decision::Reject(404)
            }
        },
        |_| HttpResponse::new(404),
    )
    .await;
    match accepted {
        Ok(Accepted::WebSocket(w)) => w,
        _ => panic!("not accepted"),
    }
}

/// How long a `tick` may wait for the transport: embassy-net's `flush`
/// waits until the peer acknowledged every byte, which a vanished peer
/// never does. Cut short there, nothing is lost (the frame is in the
/// socket), and the loop comes round to the next deadline. At most the
/// shortest pong or close timeout used here.
const TICK_BOUND: EDuration = EDuration::from_millis(100);

/// One event through the adapter, woken for its timers as the module docs
/// show: `select(read_event, Timer::at(poll_timeout))`, `tick` (bounded)
/// when the timer fires. `Ok(None)`: the connection is over.
async fn next<T, K, R>(
    w: &mut WebSocket<'_, T, K>,
    mut f: impl FnMut(Event<'_>) -> R,
) -> Result<Option<R>, Error<T::Error>>
where
    T: Read + Write,
    K: MaskKeys,
{
    loop {
        let wake = w
            .poll_timeout()
            .map_or(At::MAX, |t| At::from_millis(t.as_millis()));
        match select(w.read_event(&mut f), Timer::at(wake)).await {
            Either::First(r) => return r,
            Either::Second(()) => {
                if let Ok(r) = with_timeout(TICK_BOUND, w.tick()).await {
                    r?
                }
            }
        }
    }
}

/// One whole message (or control frame); `None` once the connection is
/// over.
async fn read_msg<T, K>(w: &mut WebSocket<'_, T, K>) -> Option<Got>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
    K: MaskKeys,
{
    let mut c = Collector::default();
    loop {
        let r = next(w, |e| c.on_event(e)).await.unwrap();
        if let Some(m) = c.finish(r) {
            return m;
        }
    }
}

/// After the WebSocket ended: close the TCP connection (FIN) and wait a
/// little for it to go out.
async fn shut<K: MaskKeys>(w: Ws<'_, '_, K>) {
    let mut sock = w.into_io();
    sock.close();
    let _ = with_timeout(EDuration::from_millis(200), sock.flush()).await;
}

/// Runs `server` beside a client on `b` that connects, then stays silent
/// (never reads, never answers), until `server` is done.
async fn beside_a_silent_client<R>(b: Stack<'_>, server: impl Future<Output = R>) -> R {
    let client = async {
        let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
        let sock = tcp_connect(b, &mut trx, &mut ttx).await;
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
        let _w = ws::connect(sock, &mut rx, &mut tx, copts(Config::DEFAULT))
            .await
            .unwrap();
        core::future::pending::<()>().await
    };
    match select(server, client).await {
        Either::First(r) => r,
        Either::Second(()) => unreachable!(),
    }
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

// ---- 1. Both roles over real TCP: handshake, text and binary echo. ----

#[test]
fn both_roles_handshake_and_echo_text_and_binary_over_smoltcp() {
    let (server_end, client_end) = on_net(5_000, async |a, b, link| {
        let server = async {
            let (mut trx, mut ttx) = ([0u8; 4096], [0u8; 4096]);
            let sock = tcp_accept(a, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let mut w = ws_accept(sock, &mut rx, &mut tx, Config::DEFAULT).await;
            loop {
                match read_msg(&mut w).await {
                    Some(Got::Text(t)) => w.send_text(&t).await.unwrap(),
                    Some(Got::Binary(b)) => w.send_binary(&b).await.unwrap(),
                    Some(_) => {}
                    None => break,
                }
            }
            let end = w.end();
            shut(w).await;
            end
        };
        let client = async {
            let (mut trx, mut ttx) = ([0u8; 4096], [0u8; 4096]);
            let sock = tcp_connect(b, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let mut w = ws::connect(sock, &mut rx, &mut tx, copts(Config::DEFAULT))
                .await
                .unwrap();
            w.send_text("hello, device").await.unwrap();
            assert_eq!(
                read_msg(&mut w).await,
                Some(Got::Text("hello, device".into()))
            );
            w.send_text("LED ON ✓").await.unwrap();
            assert_eq!(read_msg(&mut w).await, Some(Got::Text("LED ON ✓".into())));
            // Larger than a TCP segment and than either read buffer.
            let bin: Vec<u8> = (0..3000usize).map(pattern).collect();
            w.send_binary(&bin).await.unwrap();
            assert_eq!(read_msg(&mut w).await, Some(Got::Binary(bin)));
            w.send_binary(&[]).await.unwrap();
            assert_eq!(read_msg(&mut w).await, Some(Got::Binary(vec![])));
            w.ping(b"are you there").await.unwrap();
            assert_eq!(
                read_msg(&mut w).await,
                Some(Got::Pong(b"are you there".to_vec()))
            );
            let end = w.close(CloseCode::NORMAL, "bye").await.unwrap();
            shut(w).await;
            end
        };
        let ends = join(server, client).await;
        assert!(link.carried() > 10, "the frames went over the link");
        ends
    });
    assert_eq!(client_end, Some(End::Clean));
    assert_eq!(server_end, Some(End::Clean));
}

// ---- 2. 60 KB through a 1 KiB read buffer, both ways, in order. ----

const BIG: usize = 60_000;

/// Reads one binary message of [`BIG`] bytes of [`pattern`] through `w`'s
/// read buffer, checking every byte in place; returns the chunk count.
async fn read_counting<K: MaskKeys>(w: &mut Ws<'_, '_, K>, rx_len: usize) -> usize {
    let (mut chunks, mut next_byte, mut done) = (0usize, 0usize, false);
    while !done {
        next(w, |e| {
            let Event::Data(d) = e else {
                panic!("expected data")
            };
            assert_eq!(d.frame_len, BIG);
            assert_eq!(d.message_offset, next_byte, "in order, nothing lost");
            assert!(d.payload.len() <= rx_len);
            for (i, &b) in d.payload.iter().enumerate() {
                assert_eq!(b, pattern(next_byte + i), "byte {}", next_byte + i);
            }
            next_byte += d.payload.len();
            chunks += 1;
            done = d.is_message_end();
        })
        .await
        .unwrap()
        .expect("open");
    }
    assert_eq!(next_byte, BIG);
    chunks
}

#[test]
fn a_60_kb_message_streams_through_a_1_kib_read_buffer_both_ways() {
    const RX: usize = 1024;
    let big: Vec<u8> = (0..BIG).map(pattern).collect();
    let (server_chunks, client_chunks) = on_net(5_000, async |a, b, _link| {
        let server = async {
            let (mut trx, mut ttx) = ([0u8; 4096], [0u8; 4096]);
            let sock = tcp_accept(a, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; RX], [0u8; 256]);
            let mut w = ws_accept(sock, &mut rx, &mut tx, Config::DEFAULT).await;
            let chunks = read_counting(&mut w, RX).await;
            // The device's answer: a 60 KB "JPEG" in one frame.
            w.send_binary(&big).await.unwrap();
            assert_eq!(read_msg(&mut w).await, Some(Got::Close(Some(1000))));
            assert_eq!(read_msg(&mut w).await, None);
            assert_eq!(w.end(), Some(End::Clean));
            shut(w).await;
            chunks
        };
        let client = async {
            let (mut trx, mut ttx) = ([0u8; 4096], [0u8; 4096]);
            let sock = tcp_connect(b, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; RX], [0u8; 256]);
            let mut w = ws::connect(sock, &mut rx, &mut tx, copts(Config::DEFAULT))
                .await
                .unwrap();
            // Masked 256 bytes at a time through `tx`.
            w.send_binary(&big).await.unwrap();
            let chunks = read_counting(&mut w, RX).await;
            assert_eq!(
                w.close(CloseCode::NORMAL, "").await.unwrap(),
                Some(End::Clean)
            );
            shut(w).await;
            chunks
        };
        join(server, client).await
    });
    // 60 000 bytes through 1 KiB: at least 59 chunks each way.
    assert!(server_chunks >= 59, "{server_chunks}");
    assert!(client_chunks >= 59, "{client_chunks}");
}

// ---- 3. Keepalive on real timers. ----

fn keepalive(ping_ms: u64, pong_ms: u64) -> Config {
    Config {
        ping_interval: Some(Duration::from_millis(ping_ms)),
        pong_timeout: Duration::from_millis(pong_ms),
        ..Config::DEFAULT
    }
}

/// The server pings every 100 ms; the client answers by itself while it
/// reads. Both see the pings and pongs.
#[test]
fn keepalive_pings_are_sent_and_answered_over_smoltcp() {
    let (pongs, pings, end) = on_net(5_000, async |a, b, _link| {
        let server = async {
            let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
            let sock = tcp_accept(a, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let mut w = ws_accept(sock, &mut rx, &mut tx, keepalive(100, 200)).await;
            let mut pongs = 0;
            while pongs < 3 {
                match read_msg(&mut w).await {
                    Some(Got::Pong(_)) => pongs += 1,
                    other => panic!("{other:?}"),
                }
            }
            assert!(w.is_connected());
            w.send_text("enough").await.unwrap();
            while read_msg(&mut w).await.is_some() {}
            let end = w.end();
            shut(w).await;
            (pongs, end)
        };
        let client = async {
            let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
            let sock = tcp_connect(b, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let mut w = ws::connect(sock, &mut rx, &mut tx, copts(Config::DEFAULT))
                .await
                .unwrap();
            let mut pings = 0;
            loop {
                match read_msg(&mut w).await {
                    Some(Got::Ping(_)) => pings += 1,
                    Some(Got::Text(t)) if t == "enough" => break,
                    other => panic!("{other:?}"),
                }
            }
            w.close(CloseCode::NORMAL, "").await.unwrap();
            shut(w).await;
            pings
        };
        let t = StdInstant::now();
        let ((pongs, end), pings) = join(server, client).await;
        let took = t.elapsed().as_millis();
        // Three pings at 100 ms intervals.
        assert!((280..1_500).contains(&took), "{took} ms");
        (pongs, pings, end)
    });
    assert_eq!(pongs, 3);
    assert_eq!(pings, 3);
    assert_eq!(end, Some(End::Clean));
}

/// Keepalive against a peer that stops answering, the server driven by the
/// documented loop: returns how the server's connection ended and how long
/// after `stop` ran it did.
async fn dropped_after<'d>(
    a: Stack<'d>,
    b: Stack<'d>,
    stop: impl AsyncFnOnce(),
) -> (Option<End>, u128, usize) {
    let stopped = core::cell::Cell::new(None::<StdInstant>);
    let server = async {
        let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
        let sock = tcp_accept(a, &mut trx, &mut ttx).await;
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
        let mut w = ws_accept(sock, &mut rx, &mut tx, keepalive(100, 150)).await;
        let mut pongs = 0;
        while let Some(m) = read_msg(&mut w).await {
            assert_eq!(m, Got::Pong(vec![]));
            pongs += 1;
        }
        let end = w.end();
        let took = stopped.get().expect("stopped").elapsed().as_millis();
        let mut sock = w.into_io();
        sock.abort();
        (end, took, pongs)
    };
    let client = async {
        let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
        let sock = tcp_connect(b, &mut trx, &mut ttx).await;
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
        let mut w = ws::connect(sock, &mut rx, &mut tx, copts(Config::DEFAULT))
            .await
            .unwrap();
        // Alive for two pings.
        let mut pings = 0;
        while pings < 2 {
            match read_msg(&mut w).await {
                Some(Got::Ping(_)) => pings += 1,
                other => panic!("{other:?}"),
            }
        }
        stopped.set(Some(StdInstant::now()));
        stop().await;
        // Silent from here: never read again (nor answer).
        core::future::pending::<()>().await
    };
    match select(server, client).await {
        Either::First(r) => r,
        Either::Second(()) => unreachable!(),
    }
}

/// The client's application stops reading (its TCP stack goes on, so the
/// ping is acknowledged but never answered): the server drops it at the
/// pong timeout, within ping interval + pong timeout of the last pong.
#[test]
fn keepalive_drops_a_peer_that_stops_reading_at_the_pong_timeout() {
    let (end, took, pongs) = on_net(5_000, async |a, b, _link| {
        dropped_after(a, b, async || {}).await
    });
    assert_eq!(end, Some(End::PongTimeout));
    assert!(pongs >= 2, "{pongs}");
    // The next ping within 100 ms of the stop, its deadline 150 ms later.
    assert!((140..600).contains(&took), "{took} ms");
}

/// The link goes (Wi-Fi lost: no FIN, no reset, nothing acknowledged): the
/// server drops the peer by the pong timeout as well.
#[test]
fn keepalive_drops_a_peer_whose_link_is_cut_at_the_pong_timeout() {
    let (end, took, pongs) = on_net(5_000, async |a, b, link| {
        dropped_after(a, b, async || link.cut()).await
    });
    assert_eq!(end, Some(End::PongTimeout));
    assert!(pongs >= 2, "{pongs}");
    assert!((140..600).contains(&took), "{took} ms");
}

// ---- 4. Close on real timers. ----

/// The server closes with `send_close` and goes on with the same loop; the
/// client sees the close, its echo goes back by itself, and both ends are
/// clean.
#[test]
fn a_clean_close_handshake_over_smoltcp_both_ends_clean() {
    let (server, client) = on_net(5_000, async |a, b, _link| {
        let server = async {
            let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
            let sock = tcp_accept(a, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let cfg = Config {
                close_timeout: Duration::from_millis(1_000),
                ..Config::DEFAULT
            };
            let mut w = ws_accept(sock, &mut rx, &mut tx, cfg).await;
            w.send_text("going away soon").await.unwrap();
            w.send_close(CloseCode::GOING_AWAY, "restart")
                .await
                .unwrap();
            assert!(!w.is_connected());
            assert!(w.poll_timeout().is_some(), "the close deadline");
            let t = StdInstant::now();
            let mut seen = vec![];
            while let Some(m) = read_msg(&mut w).await {
                seen.push(m);
            }
            assert!(t.elapsed().as_millis() < 500, "the answer, not the timeout");
            let end = w.end();
            shut(w).await;
            (seen, end)
        };
        let client = async {
            let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
            let sock = tcp_connect(b, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let mut w = ws::connect(sock, &mut rx, &mut tx, copts(Config::DEFAULT))
                .await
                .unwrap();
            let mut seen = vec![];
            while let Some(m) = read_msg(&mut w).await {
                seen.push(m);
            }
            let end = w.end();
            let code = w.connection().remote_close().map(|(c, _)| c.0);
            shut(w).await;
            (seen, end, code)
        };
        join(server, client).await
    });
    assert_eq!(server, (vec![Got::Close(Some(1001))], Some(End::Clean)));
    assert_eq!(
        client,
        (
            vec![Got::Text("going away soon".into()), Got::Close(Some(1001))],
            Some(End::Clean),
            Some(1001)
        )
    );
}

/// The server closes to a client that has stopped reading: the close
/// timeout ends it, on the timer, not sooner and not much later.
#[test]
fn a_close_to_a_silent_peer_ends_by_the_close_timeout() {
    let (end, took) = on_net(5_000, async |a, b, _link| {
        let server = async {
            let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
            let sock = tcp_accept(a, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let cfg = Config {
                close_timeout: Duration::from_millis(300),
                ..Config::DEFAULT
            };
            let mut w = ws_accept(sock, &mut rx, &mut tx, cfg).await;
            let t = StdInstant::now();
            w.send_close(CloseCode::NORMAL, "").await.unwrap();
            while next(&mut w, |_| ()).await.unwrap().is_some() {}
            let took = t.elapsed().as_millis();
            let end = w.end();
            let mut sock = w.into_io();
            sock.abort();
            (end, took)
        };
        beside_a_silent_client(b, server).await
    });
    assert_eq!(end, Some(End::CloseTimeout));
    assert!((295..700).contains(&took), "{took} ms");
}

/// A close to a peer whose link is cut (nothing acknowledged, ever):
/// `send_close` bounded, then the loop, which ends at the close timeout.
#[test]
fn a_close_over_a_cut_link_ends_by_the_close_timeout() {
    let (end, took) = on_net(5_000, async |a, b, link| {
        let server = async {
            let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
            let sock = tcp_accept(a, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let cfg = Config {
                close_timeout: Duration::from_millis(300),
                ..Config::DEFAULT
            };
            let mut w = ws_accept(sock, &mut rx, &mut tx, cfg).await;
            link.cut();
            let t = StdInstant::now();
            // The close frame goes into the socket at once; its flush waits
            // for an acknowledgement that never comes: bounded.
            if let Ok(r) = with_timeout(TICK_BOUND, w.send_close(CloseCode::NORMAL, "")).await {
                r.unwrap()
            }
            assert!(w.poll_timeout().is_some(), "the close deadline");
            while next(&mut w, |_| ()).await.unwrap().is_some() {}
            let took = t.elapsed().as_millis();
            let end = w.end();
            w.into_io().abort();
            (end, took)
        };
        beside_a_silent_client(b, server).await
    });
    assert_eq!(end, Some(End::CloseTimeout));
    assert!((295..700).contains(&took), "{took} ms");
}

// ---- Why the docs' loop bounds `tick`: embassy-net's flush waits for the
// peer's acknowledgement, which a vanished peer never sends (smoltcp
// retransmits for ever unless the socket has a timeout). Unbounded, the loop
// would never reach the pong timeout; bounded, it does
// (`keepalive_drops_a_peer_whose_link_is_cut_at_the_pong_timeout`). ----

/// The transport's behaviour, pinned: over a cut link, `tick` has
/// written its ping (the pong deadline is set) but is still waiting in the
/// transport's flush a second later.
#[test]
fn over_a_cut_link_tick_writes_its_ping_then_waits_in_embassy_nets_flush() {
    on_net(3_000, async |a, b, link| {
        let server = async {
            let (mut trx, mut ttx) = ([0u8; 2048], [0u8; 2048]);
            let mut sock = tcp_accept(a, &mut trx, &mut ttx).await;
            sock.set_nagle_enabled(false);
            let (mut rx, mut tx) = ([0u8; 1024], [0u8; 256]);
            let mut w = ws_accept(sock, &mut rx, &mut tx, keepalive(100, 150)).await;
            link.cut();
            Timer::after_millis(120).await;
            let r = with_timeout(EDuration::from_millis(1_000), w.tick()).await;
            assert!(r.is_err(), "tick returned: {r:?}");
            assert!(w.poll_timeout().is_some(), "the pong deadline");
            assert_eq!(w.io().send_queue(), 2, "the ping (2 bytes), unacknowledged");
            assert_eq!(w.end(), None);
            // Run again after the pong deadline, it ends the connection.
            Timer::after_millis(150).await;
            w.tick().await.unwrap();
            assert_eq!(w.end(), Some(End::PongTimeout));
        };
        beside_a_silent_client(b, server).await;
    });
}

// ---- 5. Batched replies (issue 16): messages sent together are echoed
// with one flush, not one wait for the peer's ACK each. ----

/// A TCP socket that counts the flushes asked of it.
struct Counting<'d> {
    sock: TcpSocket<'d>,
    flushes: usize,
}

impl embedded_io_async::ErrorType for Counting<'_> {
    type Error = embassy_net::tcp::Error;
}

impl Read for Counting<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.sock.read(buf).await
    }
}

impl Write for Counting<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.sock.write(buf).await
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.flushes += 1;
        self.sock.flush().await
    }
}

#[test]
fn messages_sent_together_are_echoed_in_order_with_their_replies_flushed_together() {
    const N: usize = 64;
    let msg = |i: usize| format!("message {i:02}").into_bytes();
    let (flushes, took) = on_net(10_000, async |a, b, _link| {
        let server = async {
            let (mut trx, mut ttx) = ([0u8; 4096], [0u8; 4096]);
            let sock = tcp_accept(a, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 2048], [0u8; 256]);
            let mut w = ws_accept(
                Counting { sock, flushes: 0 },
                &mut rx,
                &mut tx,
                Config::DEFAULT,
            )
            .await;
            let before = w.io().flushes;
            for _ in 0..N {
                let Some(Got::Binary(m)) = read_msg(&mut w).await else {
                    panic!("expected a binary message")
                };
                w.send_binary(&m).await.unwrap();
            }
            w.io().flushes - before
        };
        let client = async {
            let (mut trx, mut ttx) = ([0u8; 4096], [0u8; 4096]);
            let sock = tcp_connect(b, &mut trx, &mut ttx).await;
            let (mut rx, mut tx) = ([0u8; 2048], [0u8; 256]);
            let mut w = ws::connect(sock, &mut rx, &mut tx, copts(Config::DEFAULT))
                .await
                .unwrap();
            // All N frames in one write, as a browser's burst arrives.
            let burst: Vec<u8> = (0..N)
                .flat_map(|i| support::cframe(sansws::wire::OpCode::Binary, true, &msg(i)))
                .collect();
            let t = StdInstant::now();
            w.io().write_all(&burst).await.unwrap();
            for i in 0..N {
                assert_eq!(
                    read_msg(&mut w).await,
                    Some(Got::Binary(msg(i))),
                    "echo {i}"
                );
            }
            t.elapsed()
        };
        join(server, client).await
    });
    println!("{N} echoes of a burst: {flushes} flushes, {took:?}");
    // One flush per batch the server read, not one per reply.
    assert!(flushes <= 8, "{flushes} flushes for {N} replies");
}

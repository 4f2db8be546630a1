//! The async embedded-io adapter: the same scenarios as the blocking one,
//! each end on its own thread under a minimal executor; and what is
//! async's own: cancelling a call mid-read or mid-write, and timers woken
//! from outside (`poll_timeout`, `tick`) as with embassy's `select`.
#![cfg(all(feature = "embedded-io-async", feature = "std"))]

mod support;
use support::timed;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration as StdDuration;

use support::embedded::{copts, sopts};
use support::{Collector, Got, cframe};

use embedded_io::ErrorKind;
use sansws::adapter::embedded_io::std_clock;
use sansws::adapter::embedded_io::testing::{Pipe, block_on};
use sansws::adapter::embedded_io_async::{self as ws, Accepted, Decision, Error, ServerOptions};
use sansws::conn::{Config, DataKind, Duration, End, Instant, MaskKeys, NoMasking};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::{CloseCode, OpCode};

async fn read_msg<K: MaskKeys>(w: &mut ws::WebSocket<'_, Pipe, K>) -> Option<Got> {
    let mut c = Collector::default();
    loop {
        let r = w.read_event(|e| c.on_event(e)).await.unwrap();
        if let Some(m) = c.finish(r) {
            return m;
        }
    }
}

const BIG: Config = Config {
    max_frame_len: 2 << 20,
    max_message_len: 2 << 20,
    ..Config::DEFAULT
};

fn serve(io: Pipe) -> thread::JoinHandle<Option<End>> {
    thread::spawn(move || {
        block_on(async move {
            let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
            let a = ws::accept(
                io,
                &mut rx,
                &mut tx,
                sopts(BIG),
                |_| Decision::Accept(None),
                |_| HttpResponse::new(404),
            )
            .await;
            let Ok(Accepted::WebSocket(mut s)) = a else {
                return None;
            };
            loop {
                match read_msg(&mut s).await {
                    Some(Got::Text(t)) => s.send_text(&t).await.unwrap(),
                    Some(Got::Binary(b)) => s.send_binary(&b).await.unwrap(),
                    Some(_) => {}
                    None => return s.end(),
                }
            }
        })
    })
}

#[test]
fn async_scenarios() {
    for max_io in [3, usize::MAX] {
        let (mut c, mut s) = Pipe::pair();
        c.max_io = max_io;
        s.max_io = max_io;
        let server = serve(s);
        let end = block_on(async move {
            let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
            let req = ClientRequest::new("device", "/ws");
            let mut w = ws::connect(c, &mut rx, &mut tx, copts(req, [4; 16], BIG))
                .await
                .unwrap();
            w.send_text("hello").await.unwrap();
            assert_eq!(read_msg(&mut w).await, Some(Got::Text("hello".into())));
            w.send_fragment(DataKind::Binary, b"ab", false)
                .await
                .unwrap();
            w.send_fragment(DataKind::Binary, b"cd", true)
                .await
                .unwrap();
            assert_eq!(read_msg(&mut w).await, Some(Got::Binary(b"abcd".to_vec())));
            w.ping(b"x").await.unwrap();
            assert_eq!(read_msg(&mut w).await, Some(Got::Pong(b"x".to_vec())));
            if max_io == usize::MAX {
                let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
                w.send_binary(&big).await.unwrap();
                assert_eq!(read_msg(&mut w).await, Some(Got::Binary(big)));
            }
            w.close(CloseCode::NORMAL, "").await.unwrap()
        });
        assert_eq!(end, Some(End::Clean));
        assert_eq!(server.join().unwrap(), Some(End::Clean));
    }
}

#[test]
fn async_server_close_twenty_times_and_a_vanishing_peer() {
    for i in 0..20u8 {
        let (c, s) = Pipe::pair();
        let server = thread::spawn(move || {
            block_on(async move {
                let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
                let Ok(Accepted::WebSocket(mut s)) = ws::accept(
                    s,
                    &mut rx,
                    &mut tx,
                    sopts(Config::DEFAULT),
                    |_| Decision::Accept(None),
                    |_| HttpResponse::new(404),
                )
                .await
                else {
                    panic!()
                };
                s.close(CloseCode::GOING_AWAY, "").await.unwrap()
            })
        });
        let got = block_on(async move {
            let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
            let req = ClientRequest::new("d", "/");
            let mut w = ws::connect(c, &mut rx, &mut tx, copts(req, [i; 16], Config::DEFAULT))
                .await
                .unwrap();
            (read_msg(&mut w).await, read_msg(&mut w).await, w.end())
        });
        assert_eq!(got, (Some(Got::Close(Some(1001))), None, Some(End::Clean)));
        assert_eq!(server.join().unwrap(), Some(End::Clean));
    }
    let (c, s) = Pipe::pair();
    let server = serve(s);
    block_on(async move {
        let (mut rx, mut tx) = (vec![0u8; 512], vec![0u8; 256]);
        let req = ClientRequest::new("d", "/");
        let w = ws::connect(c, &mut rx, &mut tx, copts(req, [1; 16], Config::DEFAULT))
            .await
            .unwrap();
        drop(w);
    });
    assert_eq!(server.join().unwrap(), Some(End::Abnormal));
}

// ---- Issue 12: cancellation, timers woken from outside, failed writes. ----

/// Polls `fut` once, with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// `fut`, or `None` once the clock reaches `at`: embassy's
/// `select(fut, Timer::at(at))`, with a thread as the timer.
async fn until<F: Future>(at: Option<Instant>, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut timer = false;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        let Some(at) = at else {
            return Poll::Pending;
        };
        let now = std_clock();
        if now >= at {
            return Poll::Ready(None);
        }
        if !timer {
            timer = true;
            let (waker, ms) = (cx.waker().clone(), at.0 - now.0);
            thread::spawn(move || {
                thread::sleep(StdDuration::from_millis(ms));
                waker.wake();
            });
        }
        Poll::Pending
    })
    .await
}

/// A server WebSocket whose client is `peer`, driven by hand.
fn accepted<'b>(
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    opts: ServerOptions,
) -> (Pipe, ws::WebSocket<'b, Pipe, NoMasking>) {
    let (mut peer, io) = Pipe::pair();
    support::peer::send_request(&mut peer);
    let Ok(Accepted::WebSocket(s)) = block_on(ws::accept(
        io,
        rx,
        tx,
        opts,
        |_| Decision::Accept(None),
        |_| HttpResponse::new(404),
    )) else {
        panic!("not accepted")
    };
    assert!(support::peer::read_head(&mut peer).starts_with("HTTP/1.1 101"));
    (peer, s)
}

#[test]
fn a_read_event_cancelled_while_waiting_loses_nothing() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, sopts(Config::DEFAULT));
    let frame = cframe(OpCode::Text, true, b"hello");
    // Nothing to read: dropped while waiting.
    assert!(poll_once(pin!(s.read_event(|_| ()))).is_pending());
    // Part of the frame (its header): read, no event yet, dropped again.
    embedded_io::Write::write_all(&mut peer, &frame[..4]).unwrap();
    assert!(poll_once(pin!(s.read_event(|_| ()))).is_pending());
    assert!(s.is_connected());
    // The rest: the whole message.
    embedded_io::Write::write_all(&mut peer, &frame[4..]).unwrap();
    assert_eq!(block_on(read_msg(&mut s)), Some(Got::Text("hello".into())));
    embedded_io::Write::write_all(&mut peer, &cframe(OpCode::Binary, true, b"on")).unwrap();
    assert_eq!(
        block_on(read_msg(&mut s)),
        Some(Got::Binary(b"on".to_vec()))
    );
}

#[test]
fn a_send_cancelled_mid_write_ends_the_connection_and_no_frame_follows() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, sopts(Config::DEFAULT));
    // The peer reads nothing and its window holds 50 bytes: the send
    // writes 50 of its 204 and waits; a timeout around it drops it there.
    s.io().capacity = 50;
    assert!(poll_once(pin!(s.send_binary(&[7; 200]))).is_pending());
    assert!(!s.is_connected());
    let failed = Err(Error::Failed(ErrorKind::Interrupted));
    block_on(async {
        assert_eq!(s.send_text("next").await, failed);
        assert_eq!(s.end(), Some(End::Abnormal));
        assert_eq!(s.send_binary(b"next").await, failed);
        assert_eq!(s.ping(b"next").await, failed);
        assert_eq!(s.read_event(|_| ()).await, Ok(None));
        assert_eq!(
            s.close(CloseCode::NORMAL, "").await,
            Ok(Some(End::Abnormal))
        );
    });
    drop(s);
    let got = support::peer::read_all(&mut peer, StdDuration::from_secs(5));
    assert_eq!(got.len(), 50, "the cut frame's first bytes, nothing after");
    assert_eq!(got[..4], [0x82, 126, 0, 200]);
}

#[test]
fn a_write_that_fails_mid_frame_ends_the_connection_and_every_later_send_gets_its_error() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, sopts(Config::DEFAULT));
    s.io().write_limit = Some(30);
    block_on(async {
        assert_eq!(
            s.send_text(&"x".repeat(100)).await,
            Err(Error::Io(ErrorKind::BrokenPipe))
        );
        assert!(!s.is_connected());
        let failed = Err(Error::Failed(ErrorKind::BrokenPipe));
        assert_eq!(s.send_text("after").await, failed);
        assert_eq!(s.send_fragment(DataKind::Binary, b"a", false).await, failed);
        assert_eq!(s.pong(b"after").await, failed);
    });
    drop(s);
    let got = support::peer::read_all(&mut peer, StdDuration::from_secs(5));
    assert_eq!(got.len(), 30);
    assert_eq!(got[..2], [0x81, 100]);
}

#[test]
fn close_on_a_silent_peer_returns_within_the_close_timeout() {
    // A transport whose read times out: the same rule as blocking.
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = sopts(Config {
        close_timeout: Duration::from_millis(300),
        ..Config::DEFAULT
    });
    let (_peer, mut s) = accepted(&mut rx, &mut tx, opts);
    s.io().read_timeout = Some(StdDuration::from_millis(20));
    let end = timed(300, 320, || block_on(s.close(CloseCode::NORMAL, "")));
    assert_eq!(end, Ok(Some(End::CloseTimeout)));
}

#[test]
fn a_close_sent_then_read_until_poll_timeout_on_a_silent_peer_ends_at_the_close_timeout() {
    // No read timeout: the caller's timer wakes the read loop at
    // `poll_timeout`, which includes the close deadline once the close is
    // sent.
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = sopts(Config {
        close_timeout: Duration::from_millis(300),
        ..Config::DEFAULT
    });
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, opts);
    let end = timed(300, 320, || {
        block_on(async {
            s.send_close(CloseCode::GOING_AWAY, "").await.unwrap();
            assert!(s.poll_timeout().is_some(), "the close deadline");
            loop {
                match until(s.poll_timeout(), s.read_event(|_| ())).await {
                    Some(Ok(None)) => break s.end(),
                    Some(r) => panic!("{r:?}"),
                    None => s.tick().await.unwrap(),
                }
            }
        })
    });
    assert_eq!(end, Some(End::CloseTimeout));
    let sent = support::frames_in(&support::peer::read_all(
        &mut peer,
        StdDuration::from_millis(50),
    ));
    assert_eq!(sent.len(), 1, "the close is sent once");
    assert_eq!(support::close_code_of(&sent[0].2), Some(1001));
}

#[test]
fn close_cancelled_and_called_again_sends_its_frame_once() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = sopts(Config {
        close_timeout: Duration::from_millis(200),
        ..Config::DEFAULT
    });
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, opts);
    assert!(poll_once(pin!(s.close(CloseCode::NORMAL, ""))).is_pending());
    assert!(poll_once(pin!(s.close(CloseCode::NORMAL, ""))).is_pending());
    assert!(!s.is_connected());
    let answer = cframe(OpCode::Close, true, &1000u16.to_be_bytes());
    embedded_io::Write::write_all(&mut peer, &answer).unwrap();
    assert_eq!(
        block_on(s.close(CloseCode::NORMAL, "")),
        Ok(Some(End::Clean))
    );
    drop(s);
    let sent = support::frames_in(&support::peer::read_all(
        &mut peer,
        StdDuration::from_secs(5),
    ));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, OpCode::Close);
}

#[test]
fn read_event_woken_at_poll_timeout_on_a_silent_peer_with_keepalive_ends_with_the_pong_timeout() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let opts = sopts(Config {
        ping_interval: Some(Duration::from_millis(200)),
        pong_timeout: Duration::from_millis(100),
        ..Config::DEFAULT
    });
    let (mut peer, mut s) = accepted(&mut rx, &mut tx, opts);
    let ticks = timed(300, 340, || {
        block_on(async {
            let mut ticks = 0;
            loop {
                match until(s.poll_timeout(), s.read_event(|_| ())).await {
                    Some(r) => {
                        assert_eq!(r, Ok(None));
                        break ticks;
                    }
                    None => {
                        s.tick().await.unwrap();
                        ticks += 1;
                    }
                }
            }
        })
    });
    assert_eq!(s.end(), Some(End::PongTimeout));
    assert_eq!(ticks, 2, "the ping, then the pong deadline");
    let sent = support::frames_in(&support::peer::read_all(
        &mut peer,
        StdDuration::from_millis(50),
    ));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, OpCode::Ping);
}

#[test]
fn a_silent_client_during_accept_is_refused_after_the_handshake_timeout() {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let (_peer, mut io) = Pipe::pair();
    io.read_timeout = Some(StdDuration::from_millis(20));
    let opts = ServerOptions {
        handshake_timeout: Some(Duration::from_millis(200)),
        ..sopts(Config::DEFAULT)
    };
    let got = timed(200, 220, || {
        block_on(ws::accept(
            io,
            &mut rx,
            &mut tx,
            opts,
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        ))
    });
    assert!(matches!(got, Err(Error::HandshakeTimeout)));
}

//! The async embedded-io adapter: the same scenarios as the blocking one,
//! each end on its own thread under a minimal executor.
#![cfg(all(feature = "embedded-io-async", feature = "std"))]

mod support;

use std::thread;

use support::{Collector, Got, TestKeys};

use sansws::adapter::embedded_io::testing::{Pipe, block_on};
use sansws::adapter::embedded_io_async::{self as ws, Accepted, Decision};
use sansws::conn::{Config, DataKind, End, Instant, MaskKeys};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::CloseCode;

fn keys() -> TestKeys {
    TestKeys(0x9e37_79b9)
}

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
                BIG,
                Instant::ZERO,
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
            let mut w = ws::connect(
                c,
                &mut rx,
                &mut tx,
                &req,
                [4; 16],
                keys(),
                BIG,
                Instant::ZERO,
            )
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
                    Config::DEFAULT,
                    Instant::ZERO,
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
            let mut w = ws::connect(
                c,
                &mut rx,
                &mut tx,
                &req,
                [i; 16],
                keys(),
                Config::DEFAULT,
                Instant::ZERO,
            )
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
        let w = ws::connect(
            c,
            &mut rx,
            &mut tx,
            &req,
            [1; 16],
            keys(),
            Config::DEFAULT,
            Instant::ZERO,
        )
        .await
        .unwrap();
        drop(w);
    });
    assert_eq!(server.join().unwrap(), Some(End::Abnormal));
}

//! The async embedded-io adapter: the same scenarios as the blocking one,
//! each end on its own thread under a minimal executor.
#![cfg(all(feature = "embedded-io-async", feature = "std"))]

use std::thread;

use sansws::adapter::embedded_io::testing::{Pipe, block_on};
use sansws::adapter::embedded_io_async::{self as ws, Accepted, Decision};
use sansws::conn::{Config, DataKind, End, Event, Instant, MaskKeys};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::CloseCode;

fn keys() -> impl FnMut() -> [u8; 4] {
    let mut s = 0x9e37_79b9u32;
    move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s.to_le_bytes()
    }
}

#[derive(Debug, PartialEq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
    Ping,
    Close(Option<u16>),
}

async fn read_msg<K: MaskKeys>(w: &mut ws::WebSocket<'_, Pipe, K>) -> Option<Got> {
    let mut data = Vec::new();
    loop {
        let mut done = None;
        let r = w
            .read_event(|e| match e {
                Event::Data(d) => {
                    data.extend_from_slice(d.payload);
                    if d.is_message_end() {
                        done = Some(d.kind);
                    }
                    None
                }
                Event::Ping(_) => Some(Got::Ping),
                Event::Pong(p) => Some(Got::Pong(p.to_vec())),
                Event::Close(c) => Some(Got::Close(c.map(|c| c.code().0))),
            })
            .await
            .unwrap();
        match (r, done) {
            (None, _) => return None,
            (Some(Some(g)), _) => return Some(g),
            (Some(None), Some(DataKind::Text)) => {
                return Some(Got::Text(String::from_utf8(data).unwrap()));
            }
            (Some(None), Some(DataKind::Binary)) => return Some(Got::Binary(data)),
            (Some(None), None) => {}
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
    let _ = Got::Ping;
}

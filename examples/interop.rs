//! The sansws side of the interop tests against Python's `websockets`
//! (tests/interop): text, binary, a fragmented message, 4 MiB, ping/pong,
//! close codes and reasons both ways, a subprotocol; with permessage-deflate
//! when the peer offers or accepts it (each end prints what was agreed).
//!
//! `cargo run --release --example interop -- server 127.0.0.1:9100`
//!   echoes; picks `echo.v1` when offered; the text `please close` makes
//!   it close with 4002 "sansws says bye"; logs the close each peer sent.
//! `cargo run --release --example interop -- client ws://127.0.0.1:9101/`
//!   runs the scenarios against an echo server that does the same (4003
//!   "python says bye"), then closes a second connection with 4004
//!   "sansws client bye"; exits non-zero on the first mismatch.

use std::net::TcpListener;
use std::time::Duration;

use sansws::adapter::std_net::{self, Accepted, Decision, Options};
use sansws::conn::{DataKind, End};
use sansws::message::Message;
use sansws::wire::CloseCode;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn opts() -> Options {
    Options {
        read_timeout: Some(Duration::from_secs(10)),
        protocols: vec!["echo.v1".into()],
        ..Options::default()
    }
}

fn server(addr: &str) -> Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on {addr}");
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        };
        let _ = std::thread::Builder::new().spawn(move || {
            let accepted = std_net::accept_with(stream, &opts(), |req| {
                if req.offers_protocol("echo.v1") {
                    Decision::accept_protocol("echo.v1")
                } else {
                    Decision::accept()
                }
            });
            let Ok(Accepted::WebSocket(mut ws)) = accepted else {
                return;
            };
            println!("connected, subprotocol {:?}", ws.protocol());
            // What permessage-deflate agreed (the interop tests assert it).
            println!("deflate {:?}", ws.connection().deflate());
            loop {
                match ws.read() {
                    Ok(Some(Message::Text(t))) if t == "please close" => {
                        let end = ws.close(CloseCode(4002), "sansws says bye");
                        println!("server closed with 4002: {end:?}");
                        break;
                    }
                    Ok(Some(m)) if m.is_data() => {
                        if ws.send(&m).is_err() {
                            break;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            if let Some((code, reason)) = ws.connection().remote_close() {
                println!("peer closed with {} {reason:?}", code.0);
            }
            std::io::Write::flush(&mut std::io::stdout()).ok();
        });
    }
    Ok(())
}

fn expect(got: Option<Message>, want: Message, what: &str) -> Result<()> {
    match got {
        Some(g) if g == want => Ok(()),
        other => Err(format!(
            "{what}: expected {want:?}, got {:?}",
            other.map(|m| m.as_bytes().len())
        )
        .into()),
    }
}

fn client(url: &str) -> Result<()> {
    let mut ws = std_net::connect_with(url, &opts())?;
    println!("deflate {:?}", ws.connection().deflate());
    if ws.protocol() != Some("echo.v1") {
        return Err(format!("subprotocol {:?}", ws.protocol()).into());
    }
    println!("subprotocol echo.v1 agreed");
    ws.send_text("hello from sansws")?;
    expect(
        ws.read()?,
        Message::Text("hello from sansws".into()),
        "text",
    )?;
    ws.send_binary(&[0, 1, 2, 254, 255])?;
    expect(
        ws.read()?,
        Message::Binary(vec![0, 1, 2, 254, 255].into()),
        "binary",
    )?;
    ws.send_fragment(DataKind::Text, "frag".as_bytes(), false)?;
    ws.send_fragment(DataKind::Text, "men".as_bytes(), false)?;
    ws.send_fragment(DataKind::Text, "té".as_bytes(), true)?;
    expect(ws.read()?, Message::Text("fragmenté".into()), "fragmented")?;
    let big: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    ws.send_binary(&big)?;
    expect(ws.read()?, Message::Binary(big.into()), "4 MiB")?;
    ws.ping(b"ping from sansws")?;
    expect(
        ws.read()?,
        Message::Pong(b"ping from sansws".to_vec().into()),
        "pong",
    )?;
    println!("text, binary, fragmented, 4 MiB, ping/pong: ok");
    ws.send_text("please close")?;
    expect(
        ws.read()?,
        Message::Close(Some((CloseCode(4003), "python says bye".into()))),
        "server close",
    )?;
    if ws.read()?.is_some() || ws.end() != Some(End::Clean) {
        return Err(format!("after the server's close: {:?}", ws.end()).into());
    }
    println!(
        "server closed with 4003 \"python says bye\", echoed: {:?}",
        ws.end()
    );
    let mut ws = std_net::connect_with(url, &opts())?;
    let end = ws.close(CloseCode(4004), "sansws client bye")?;
    if end != Some(End::Clean)
        || ws.connection().remote_close().map(|c| c.0) != Some(CloseCode(4004))
    {
        return Err(format!("client close: {end:?} {:?}", ws.connection().remote_close()).into());
    }
    println!("client closed with 4004, server echoed 4004: {end:?}");
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("server"), addr) => server(addr.as_deref().unwrap_or("127.0.0.1:9100")),
        (Some("client"), url) => client(url.as_deref().unwrap_or("ws://127.0.0.1:9101/")),
        _ => Err("usage: interop server [ADDR] | interop client [URL]".into()),
    }
}

//! The sansws side of the interop tests against Python's `websockets`
//! (tests/interop), on the tokio adapter: the contract of the `interop`
//! example (same scenarios, same lines printed), with a task per
//! connection, the client through `Stream` and `Sink`.
//!
//! `cargo run --release --features tokio --example interop_async -- server 127.0.0.1:9100`
//! `cargo run --release --features tokio --example interop_async -- client ws://127.0.0.1:9101/`

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sansws::adapter::tokio::{self as ws, Accepted, Decision, Options};
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

async fn server(addr: &str) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {addr}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            let opts = opts();
            let accepted = ws::accept_with(stream, &opts, |req| {
                if req.offers_protocol("echo.v1") {
                    Decision::accept_protocol("echo.v1")
                } else {
                    Decision::accept()
                }
            });
            let Ok(Accepted::WebSocket(mut ws)) = accepted.await else {
                return;
            };
            println!("connected, subprotocol {:?}", ws.protocol());
            println!("deflate {:?}", ws.connection().deflate());
            loop {
                match ws.read().await {
                    Ok(Some(Message::Text(t))) if t == "please close" => {
                        let end = ws.close(CloseCode(4002), "sansws says bye").await;
                        println!("server closed with 4002: {end:?}");
                        break;
                    }
                    Ok(Some(m)) if m.is_data() => {
                        if ws.send(&m).await.is_err() {
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
        });
    }
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

async fn client(url: &str) -> Result<()> {
    let mut ws = ws::connect_with(url, &opts()).await?;
    println!("deflate {:?}", ws.connection().deflate());
    if ws.protocol() != Some("echo.v1") {
        return Err(format!("subprotocol {:?}", ws.protocol()).into());
    }
    println!("subprotocol echo.v1 agreed");
    // Messages in through the Stream, out through the Sink.
    ws.send(&Message::text("hello from sansws")).await?;
    let next = ws.next().await.transpose()?;
    expect(next, Message::Text("hello from sansws".into()), "text")?;
    SinkExt::send(&mut ws, Message::Binary(vec![0, 1, 2, 254, 255].into())).await?;
    let next = ws.next().await.transpose()?;
    expect(
        next,
        Message::Binary(vec![0, 1, 2, 254, 255].into()),
        "binary",
    )?;
    ws.send_fragment(DataKind::Text, "frag".as_bytes(), false)
        .await?;
    ws.send_fragment(DataKind::Text, "men".as_bytes(), false)
        .await?;
    ws.send_fragment(DataKind::Text, "té".as_bytes(), true)
        .await?;
    expect(
        ws.read().await?,
        Message::Text("fragmenté".into()),
        "fragmented",
    )?;
    let big: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    ws.send_binary(&big).await?;
    expect(ws.read().await?, Message::Binary(big.into()), "4 MiB")?;
    ws.ping(b"ping from sansws").await?;
    let pong = Message::Pong(b"ping from sansws".to_vec().into());
    expect(ws.read().await?, pong, "pong")?;
    println!("text, binary, fragmented, 4 MiB, ping/pong: ok");
    ws.send_text("please close").await?;
    let close = Message::Close(Some((CloseCode(4003), "python says bye".into())));
    expect(ws.read().await?, close, "server close")?;
    if ws.read().await?.is_some() || ws.end() != Some(End::Clean) {
        return Err(format!("after the server's close: {:?}", ws.end()).into());
    }
    println!(
        "server closed with 4003 \"python says bye\", echoed: {:?}",
        ws.end()
    );
    let mut ws = ws::connect_with(url, &opts()).await?;
    let end = ws.close(CloseCode(4004), "sansws client bye").await?;
    if end != Some(End::Clean)
        || ws.connection().remote_close().map(|c| c.0) != Some(CloseCode(4004))
    {
        return Err(format!("client close: {end:?} {:?}", ws.connection().remote_close()).into());
    }
    println!("client closed with 4004, server echoed 4004: {end:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("server"), addr) => server(addr.as_deref().unwrap_or("127.0.0.1:9100")).await,
        (Some("client"), url) => client(url.as_deref().unwrap_or("ws://127.0.0.1:9101/")).await,
        _ => Err("usage: interop_async server [ADDR] | interop_async client [URL]".into()),
    }
}

//! Echo server on tokio: the contract of `echo_server` (echoes text and
//! binary messages on any path, serves a page at `/`, logs connects and
//! closes, answers `503` over the connection cap) with a task per
//! connection instead of a thread.
//!
//! `cargo run --release --features tokio --example echo_server_async -- [ADDR] [--max-connections N]`
//!
//! ADDR defaults to `127.0.0.1:9001` (port 0 picks a free port; the first
//! line printed names the address). A tokio multi-thread runtime (a worker
//! per core). The handshake runs in the connection's task with a 10 s
//! deadline; silent peers are pinged and dropped; a peer that stops
//! reading is dropped after a 10 s write timeout; accept errors back off.
//!
//! Replies are batched: when a client sends many messages at once, their
//! echoes go out together in one write once the messages read are used
//! up (see the adapter's docs); a lone message is echoed at once.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use sansws::adapter::tokio::{self as ws, Accepted, Options};
use sansws::handshake::HttpResponse;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[path = "support/echo.rs"]
mod echo;
use echo::*;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (addr, max) = echo::args();
    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9001")).await?;
    let addr = listener.local_addr()?;
    println!("echo server on ws://{addr}/ (page at http://{addr}/), at most {max} connections");
    let mut accept_errors = Throttled::new();
    let mut refusals = Throttled::new();
    loop {
        match listener.accept().await {
            Ok((s, peer)) => {
                let Some(slot) = Slot::take(max) else {
                    tokio::spawn(refuse(s));
                    refusals.log(format_args!("over {max} connections: answered 503"));
                    continue;
                };
                tokio::spawn(async move {
                    let _slot = slot;
                    serve(s, peer).await;
                });
            }
            // Out of file descriptors (and the like): back off instead of
            // spinning, and log at most once a second.
            Err(e) => {
                accept_errors.log(format_args!("accept: {e} (backing off)"));
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Answers a client over the cap with a 503 and closes.
async fn refuse(mut stream: TcpStream) {
    if let Ok(bytes) = BUSY.to_vec() {
        let write = async {
            stream.write_all(&bytes).await?;
            stream.shutdown().await
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), write).await;
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let opts = Options::default();
    let mut ws = match ws::accept(stream, &opts).await {
        Ok(Accepted::WebSocket(ws)) => ws,
        Ok(Accepted::Http(req, mut stream)) => {
            let res = if req.method == "GET" && req.path() == "/" {
                HttpResponse::new(200).body("text/html; charset=utf-8", PAGE.as_bytes())
            } else {
                HttpResponse::new(404).text("not found")
            };
            if let Ok(bytes) = res.to_vec() {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
            }
            println!(
                "[{id}] {peer} HTTP {} {} -> {}",
                req.method,
                req.target,
                res.status()
            );
            return;
        }
        Ok(Accepted::Rejected(status)) => {
            println!("[{id}] {peer} rejected {status}");
            return;
        }
        Err(e) => {
            println!("[{id}] {peer} handshake failed: {e}");
            return;
        }
    };
    println!("[{id}] {peer} connected");
    let mut count = 0u64;
    let result = loop {
        match ws.read().await {
            Ok(Some(msg)) if msg.is_data() => {
                count += 1;
                if let Err(e) = ws.send(&msg).await {
                    break Err(e);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let remote = ws.connection().remote_close();
    match result {
        Ok(()) => println!(
            "[{id}] {peer} closed after {count} messages: {:?}, peer sent {:?}",
            ws.end(),
            remote
        ),
        Err(e) => println!("[{id}] {peer} failed after {count} messages: {e}"),
    }
}

//! Echo server: echoes text and binary messages on any path, serves a page
//! at `/` whose script connects back and echoes what you type, handles many
//! clients at once (a thread each), and logs connects and closes.
//!
//! `cargo run --release --example echo_server -- [ADDR] [--max-connections N]`
//!
//! ADDR defaults to `127.0.0.1:9001` (port 0 picks a free port; the first
//! line printed names the address). At most N connections (default 1024;
//! a device would have 4 to 16) are served at once, handshakes included;
//! a client over the cap is answered `503 Service Unavailable` with
//! `Retry-After` and closed at once, without touching the others.
//!
//! It survives its network (`tests/server.rs` starts this binary and checks
//! each of these): handshakes run on the connection's thread with a 10 s
//! deadline, silent peers are pinged and dropped, a peer that stops reading
//! is dropped after a 10 s write timeout, and accept errors (out of
//! descriptors) back off instead of spinning.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use sansws::adapter::std_net::{self, Accepted, Options};
use sansws::handshake::HttpResponse;

#[path = "support/echo.rs"]
mod echo;
use echo::*;

fn main() -> std::io::Result<()> {
    let (addr, max) = echo::args();
    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9001"))?;
    let addr = listener.local_addr()?;
    println!("echo server on ws://{addr}/ (page at http://{addr}/), at most {max} connections");
    let mut accept_errors = Throttled::new();
    let mut refusals = Throttled::new();
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                let Some(slot) = Slot::take(max) else {
                    refuse(s);
                    refusals.log(format_args!("over {max} connections: answered 503"));
                    continue;
                };
                // The handshake runs on the connection's own thread, so a
                // slow or silent client never holds up the accept loop.
                let spawned = thread::Builder::new().spawn(move || {
                    let _slot = slot;
                    serve(s);
                });
                // Out of threads or memory: this client is dropped (its
                // slot with it), the server goes on.
                if let Err(e) = spawned {
                    accept_errors.log(format_args!("spawn: {e} (backing off)"));
                    thread::sleep(ACCEPT_BACKOFF);
                }
            }
            // Out of file descriptors (and the like): the error repeats
            // until connections close. Back off instead of spinning, and
            // log at most once a second.
            Err(e) => {
                accept_errors.log(format_args!("accept: {e} (backing off)"));
                thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
    Ok(())
}

/// Answers a client over the cap with a 503 and closes, on the accept
/// thread and without blocking it: the socket is non-blocking, a fresh
/// socket's send buffer takes the short answer at once, and the request is
/// not waited for. What the client already sent is read (a few KiB at
/// most) so that closing sends a FIN after the answer rather than a reset.
fn refuse(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    if let Ok(bytes) = BUSY.to_vec() {
        let _ = stream.write_all(&bytes);
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut scratch = [0u8; 4096];
    for _ in 0..4 {
        if !matches!(stream.read(&mut scratch), Ok(n) if n > 0) {
            break;
        }
    }
}

fn serve(stream: TcpStream) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a: SocketAddr| a.to_string());
    let _ = stream.set_nodelay(true);
    let opts = Options {
        // A peer that stops reading would block a send (and this thread)
        // for ever; with this its connection ends instead.
        write_timeout: Some(Duration::from_secs(10)),
        ..Options::default()
    };
    let mut ws = match std_net::accept(stream, &opts) {
        Ok(Accepted::WebSocket(ws)) => ws,
        Ok(Accepted::Http(req, mut stream)) => {
            let res = if req.method == "GET" && req.path() == "/" {
                HttpResponse::new(200).body("text/html; charset=utf-8", PAGE.as_bytes())
            } else {
                HttpResponse::new(404).text("not found")
            };
            if let Ok(bytes) = res.to_vec() {
                let _ = stream.write_all(&bytes);
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
        match ws.read() {
            Ok(Some(msg)) if msg.is_data() => {
                count += 1;
                if let Err(e) = ws.send(&msg) {
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

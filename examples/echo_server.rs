//! Echo server: echoes text and binary messages on any path, serves a page
//! at `/` whose script connects back and echoes what you type, handles many
//! clients at once (a thread each), and logs connects and closes.
//!
//! `cargo run --release --example echo_server [127.0.0.1:9001]`

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sansws::adapter::std_net::{self, Accepted, Options};
use sansws::handshake::HttpResponse;

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>sansws echo</title>
<style>body{font:16px system-ui;margin:2em}#log{white-space:pre-wrap;font-family:monospace}</style>
</head><body>
<h1>sansws echo</h1>
<form id="f"><input id="msg" autofocus placeholder="type, press enter"> <button>send</button></form>
<p id="state">connecting...</p>
<div id="log"></div>
<script>
const log = (s) => { document.getElementById('log').textContent += s + '\n'; };
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onopen = () => { document.getElementById('state').textContent = 'connected'; };
ws.onclose = (e) => { document.getElementById('state').textContent = `closed ${e.code} ${e.reason}`; };
ws.onmessage = (e) => log('< ' + e.data);
document.getElementById('f').onsubmit = (ev) => {
  ev.preventDefault();
  const m = document.getElementById('msg');
  ws.send(m.value); log('> ' + m.value); m.value = '';
};
</script></body></html>
"#;

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    println!("echo server on ws://{addr}/ (page at http://{addr}/)");
    let mut last_error_log: Option<Instant> = None;
    for stream in listener.incoming() {
        match stream {
            // The handshake runs on the connection's own thread, so a slow
            // or silent client never holds up the accept loop.
            Ok(s) => {
                std::thread::spawn(move || serve(s));
            }
            // Out of file descriptors (and the like): the error repeats
            // until connections close. Back off instead of spinning, and
            // log at most once a second.
            Err(e) => {
                if last_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    eprintln!("accept: {e} (backing off)");
                    last_error_log = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Ok(())
}

fn serve(stream: TcpStream) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a: SocketAddr| a.to_string());
    let _ = stream.set_nodelay(true);
    let mut ws = match std_net::accept(stream, &Options::default()) {
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

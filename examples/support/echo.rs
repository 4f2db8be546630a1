//! What both echo servers (`echo_server`, threads; `echo_server_async`,
//! tokio) share: the page, the connection cap, throttled logging, the
//! command line.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sansws::handshake::HttpResponse;

pub const PAGE: &str = r#"<!doctype html>
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

pub static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Connections being served (handshakes included), counted by [`Slot`]s.
static OPEN: AtomicUsize = AtomicUsize::new(0);

pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long to wait after an accept error (out of descriptors, say), which
/// repeats until connections close.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The answer to a client over the cap.
pub const BUSY: HttpResponse<'static> = HttpResponse::new(503)
    .headers(&[("Retry-After", "5")])
    .text("too many connections, try again later\n");

/// One connection's place under the cap. Taken before its thread starts
/// and given back when dropped, on every way out: the connection's end, a
/// panic in its thread (unwinding drops it), a thread that could not be
/// spawned (the closure that owns it is dropped).
pub struct Slot(());

impl Slot {
    pub fn take(max: usize) -> Option<Slot> {
        OPEN.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Logs at most once a second, counting what it did not log.
pub struct Throttled {
    last: Option<Instant>,
    skipped: u64,
}

impl Throttled {
    pub const fn new() -> Self {
        Self {
            last: None,
            skipped: 0,
        }
    }

    pub fn log(&mut self, msg: std::fmt::Arguments<'_>) {
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            self.skipped += 1;
            return;
        }
        if self.skipped > 0 {
            eprintln!("{msg} (and {} more like it)", self.skipped);
        } else {
            eprintln!("{msg}");
        }
        self.last = Some(Instant::now());
        self.skipped = 0;
    }
}

pub fn usage() -> ! {
    eprintln!(
        "usage: echo_server[_async] [ADDR] [--max-connections N]   (default 127.0.0.1:9001, N = 1024)"
    );
    std::process::exit(2)
}

/// The command line: `[ADDR] [--max-connections N]`.
pub fn args() -> (Option<String>, usize) {
    let mut addr = None;
    let mut max = DEFAULT_MAX_CONNECTIONS;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let n = match arg.split_once('=') {
            Some(("--max-connections", n)) => Some(n.to_owned()),
            _ if arg == "--max-connections" => Some(args.next().unwrap_or_else(|| usage())),
            _ => None,
        };
        match n {
            Some(n) => max = n.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage()),
            None if addr.is_none() && !arg.starts_with('-') => addr = Some(arg),
            None => usage(),
        }
    }
    (addr, max)
}

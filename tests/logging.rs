//! Diagnostics (feature `log`): a refused handshake is logged with its
//! status, a protocol error with its close code, a dropped peer with why.
//! Run with `cargo test --features log --test logging`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use sansws::adapter::std_net::{self, Accepted, Decision, Options};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target() == "sansws"
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let line = format!("{} {}", r.level(), r.args());
            LINES.lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}

fn logged(needle: &str) -> bool {
    LINES.lock().unwrap().iter().any(|l| l.contains(needle))
}

#[test]
fn refusals_protocol_errors_and_ends_are_logged() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        for _ in 0..2 {
            let (s, _) = listener.accept().unwrap();
            let accepted = std_net::accept_with(s, &Options::default(), |req| {
                if req.path() == "/ws" {
                    Decision::accept()
                } else {
                    Decision::reject(404, "no")
                }
            });
            if let Ok(Accepted::WebSocket(mut ws)) = accepted {
                while let Ok(Some(_)) = ws.read() {}
            }
        }
    });
    // A refused upgrade.
    let err = std_net::connect(&format!("ws://{addr}/nope")).unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    // A protocol error: an unmasked frame from a client.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    raw.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    let mut sink = Vec::new();
    let _ = raw.read_to_end(&mut sink);
    server.join().unwrap();
    let lines = LINES.lock().unwrap().clone();
    assert!(logged("upgrade refused with HTTP 404"), "{lines:?}");
    assert!(
        logged("protocol error: closing with code 1002"),
        "{lines:?}"
    );
}

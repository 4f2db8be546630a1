//! Firmware-shaped: no_std, no alloc, fixed-size buffers, the embedded-io
//! adapter in both roles over a transport that replays a peer's bytes.
//! Runs on the host; builds bare-metal for the ESP32-C3:
//!
//! `cargo build --release --no-default-features --features embedded-io,server,client,sha1 --target riscv32imc-unknown-none-elf --example firmware`
#![cfg_attr(target_os = "none", no_std, no_main)]

#[path = "support/canned.rs"]
mod canned;

use core::convert::Infallible;
use core::sync::atomic::{AtomicU32, Ordering};

use sansws::adapter::embedded_io::{self as ws, Accepted, ClientOptions, Decision, ServerOptions};
use sansws::conn::{End, Event, Instant};
use sansws::handshake::{ClientRequest, HttpResponse};

/// Milliseconds since boot. On an ESP32-C3 this is the system timer, e.g.
/// with embassy `Instant(embassy_time::Instant::now().as_millis())`; here
/// the scripted transport moves it on 1 ms per read.
static MILLIS: AtomicU32 = AtomicU32::new(0);

fn clock() -> Instant {
    Instant(u64::from(MILLIS.load(Ordering::Relaxed)))
}

/// A transport that reads a fixed byte script, a few bytes at a time, and
/// counts what is written.
struct Scripted {
    input: &'static [u8],
    pos: usize,
    written: usize,
}

impl embedded_io::ErrorType for Scripted {
    type Error = Infallible;
}

impl embedded_io::Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        // A load and a store: the ESP32-C3 (riscv32imc) has no atomic add.
        MILLIS.store(MILLIS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let n = (self.input.len() - self.pos).min(buf.len()).min(64);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl embedded_io::Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// The connection's buffers, in static memory as on a device (not on a
/// task's small stack), reused by the server and then the client.
static mut RX: [u8; 512] = [0; 512];
static mut TX: [u8; 256] = [0; 256];

/// Both roles; returns (messages the server got, messages the client got,
/// both ended cleanly).
fn run() -> (u32, u32, bool) {
    // SAFETY: `run` is the only code that touches RX and TX, and it runs
    // once (from `main` or `_start`), so these are the only references.
    let (Some(rx), Some(tx)) = (unsafe { (&raw mut RX).as_mut() }, unsafe {
        (&raw mut TX).as_mut()
    }) else {
        return (0, 0, false);
    };

    // Server: accept /chat, echo text, see the close through.
    let io = Scripted {
        input: canned::FROM_CLIENT,
        pos: 0,
        written: 0,
    };
    let accepted = ws::accept(
        io,
        &mut rx[..],
        &mut tx[..],
        ServerOptions::new(clock),
        |req| {
            if req.path() == "/chat" {
                Decision::Accept(None)
            } else {
                Decision::Reject(404)
            }
        },
        |_| HttpResponse::new(404),
    );
    let mut server_msgs = 0;
    let mut server_clean = false;
    if let Ok(Accepted::WebSocket(mut s)) = accepted {
        let mut echo = [0u8; 16];
        loop {
            let mut len = None;
            match s.read_event(|e| {
                if let Event::Data(d) = e {
                    let n = d.payload.len().min(echo.len());
                    echo[..n].copy_from_slice(&d.payload[..n]);
                    len = Some(n);
                }
            }) {
                Ok(Some(())) => {}
                _ => break,
            }
            if let Some(n) = len {
                server_msgs += 1;
                let _ = s.send_binary(&echo[..n]);
            }
        }
        server_clean = s.end() == Some(End::Clean);
    }

    // Client: connect, read "Hello", answer the server's close.
    let io = Scripted {
        input: canned::FROM_SERVER,
        pos: 0,
        written: 0,
    };
    let req = ClientRequest::new("server.example.com", "/chat");
    let mut client_msgs = 0;
    let mut client_clean = false;
    let opts = ClientOptions::new(req, canned::NONCE, canned::keys(), clock);
    if let Ok(mut c) = ws::connect(io, &mut rx[..], &mut tx[..], opts) {
        let _ = c.send_text("ON");
        while let Ok(Some(data)) =
            c.read_event(|e| matches!(e, Event::Data(d) if d.payload == b"Hello"))
        {
            client_msgs += u32::from(data);
        }
        client_clean = c.end() == Some(End::Clean);
    }
    (server_msgs, client_msgs, server_clean && client_clean)
}

#[cfg(not(target_os = "none"))]
fn main() {
    let (s, c, clean) = run();
    println!("server got {s} message(s), client got {c}, both closed cleanly: {clean}");
    assert_eq!((s, c, clean), (1, 1, true));
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    core::hint::black_box(run());
    loop {}
}

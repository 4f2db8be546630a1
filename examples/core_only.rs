//! The sans-IO core alone (frame codec, both handshakes, Connection) in
//! both roles, no adapter: the code-size baseline for a device. Runs on
//! the host; builds bare-metal for the ESP32-C3:
//!
//! `cargo build --release --no-default-features --target riscv32imc-unknown-none-elf --example core_only`
#![cfg_attr(target_os = "none", no_std, no_main)]

#[path = "support/canned.rs"]
mod canned;

use sansws::Status;
use sansws::conn::{Config, Connection, End, Event, Instant, MaskKeys};
use sansws::handshake::{
    ClientHandshake, ClientRequest, EMPTY_HEADER, Limits, Outcome, ServerResponse, parse_request,
};

/// Feeds `input` to `conn` (copied into `buf`), answering owed frames into
/// `out`; returns data messages seen.
fn drive<K: MaskKeys>(
    conn: &mut Connection<K>,
    input: &[u8],
    buf: &mut [u8],
    out: &mut [u8],
) -> u32 {
    let n = input.len().min(buf.len());
    buf[..n].copy_from_slice(&input[..n]);
    let mut at = 0;
    let mut msgs = 0;
    while at < n {
        match conn.handle_read(&mut buf[at..n]) {
            Ok(r) => {
                at += r.consumed;
                if let Some(Event::Data(d)) = r.event {
                    msgs += u32::from(d.is_message_end());
                }
            }
            Err(_) => break,
        }
        while let Ok(Some(_)) = conn.poll_transmit(Instant::ZERO, out) {}
    }
    msgs
}

fn run() -> (u32, u32, bool) {
    let mut buf = [0u8; 512];
    let mut out = [0u8; 256];

    // Server.
    let mut headers = [EMPTY_HEADER; 16];
    let (mut server_msgs, mut server_clean) = (0, false);
    if let Ok(Status::Complete(Outcome::Upgrade(req))) =
        parse_request(canned::FROM_CLIENT, &mut headers, &Limits::DEFAULT)
    {
        let head = req.len();
        if ServerResponse::accept(&req).write(&mut out).is_ok() {
            let mut s = Connection::server(Config::DEFAULT, Instant::ZERO);
            server_msgs = drive(&mut s, &canned::FROM_CLIENT[head..], &mut buf, &mut out);
            server_clean = s.end() == Some(End::Clean);
        }
    }

    // Client.
    let hs = ClientHandshake::new(canned::NONCE);
    let req = ClientRequest::new("server.example.com", "/chat");
    let (mut client_msgs, mut client_clean) = (0, false);
    if hs.write_request(&req, &mut out).is_ok() {
        let mut headers = [EMPTY_HEADER; 16];
        if let Ok(Status::Complete(res)) =
            hs.parse_response(&req, canned::FROM_SERVER, &mut headers, &Limits::DEFAULT)
        {
            let head = res.len();
            let mut c = Connection::client(Config::DEFAULT, canned::keys(), Instant::ZERO);
            let _ = c.send_text("ON", &mut out);
            client_msgs = drive(&mut c, &canned::FROM_SERVER[head..], &mut buf, &mut out);
            client_clean = c.end() == Some(End::Clean);
        }
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

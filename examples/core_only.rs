//! The sans-IO core alone (frame codec, the handshakes, Connection) in
//! the roles the features name, no adapter: the code-size baseline for a
//! device. Runs on the host; builds bare-metal for the ESP32-C3:
//!
//! `cargo build --release --no-default-features --features server,client,sha1 --target riscv32imc-unknown-none-elf --example core_only`
//!
//! Drop `client` or `server` for one role. Without `sha1` the handshake's
//! SHA-1 is [`sha1`] below: on a device the chip's SHA accelerator or ROM
//! routine; here a stand-in (`scripts/firmware-size.sh` measures the image
//! without the `sha1` crate that way).
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::hint::black_box;

// Each role uses its half of the canned bytes.
#[allow(dead_code)]
#[path = "support/canned.rs"]
mod canned;

use sansws::Status;
use sansws::conn::{Config, Connection, End, Event, Instant, MaskKeys};
#[cfg(feature = "client")]
use sansws::handshake::{ClientHandshake, ClientRequest};
use sansws::handshake::{EMPTY_HEADER, Limits};
#[cfg(feature = "server")]
use sansws::handshake::{Outcome, ServerResponse, parse_request};

/// The handshake's SHA-1: the `sha1` crate.
#[cfg(feature = "sha1")]
fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    sansws::handshake::sha1_digest(parts)
}

/// The handshake's SHA-1 without the `sha1` crate: a stand-in for the
/// chip's accelerator (esp-hal's `Sha`) or ROM routine, which costs the
/// image a call. It returns the one digest the canned handshake needs
/// (RFC 6455 section 1.3), so the example still runs on the host.
#[cfg(not(feature = "sha1"))]
fn sha1(_parts: &[&[u8]]) -> [u8; 20] {
    black_box([
        0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f, 0x16, 0x90, 0xf6, 0x46, 0x06, 0xcf, 0x38, 0x59,
        0x45, 0xb2, 0xbe, 0xc4, 0xea,
    ])
}

/// Feeds `input` to `conn` (copied into `buf`), answering owed frames into
/// `out`; returns data messages seen. Inputs and every frame written go
/// through `black_box`, so the job cannot be folded on the canned bytes
/// or its writes dropped (benches/size-peer does the same).
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
        while let Ok(Some(n)) = conn.poll_transmit(Instant::ZERO, out) {
            black_box(&out[..n]);
        }
    }
    msgs
}

/// The server role: messages seen, closed cleanly.
#[cfg(feature = "server")]
fn server(buf: &mut [u8], out: &mut [u8]) -> (u32, bool) {
    let input = black_box(canned::FROM_CLIENT);
    let mut headers = [EMPTY_HEADER; 16];
    let (mut server_msgs, mut server_clean) = (0, false);
    if let Ok(Status::Complete(Outcome::Upgrade(req))) =
        parse_request(input, &mut headers, &Limits::DEFAULT)
    {
        let head = req.len();
        let accept = req.accept_key_with(&mut sha1);
        if let Ok(n) = ServerResponse::with_accept_key(accept).write(out) {
            black_box(&out[..n]);
            let mut s = Connection::server(Config::DEFAULT, Instant::ZERO);
            server_msgs = drive(&mut s, &input[head..], buf, out);
            server_clean = s.end() == Some(End::Clean);
        }
    }
    (server_msgs, server_clean)
}

/// The client role: messages seen, closed cleanly.
#[cfg(feature = "client")]
fn client(buf: &mut [u8], out: &mut [u8]) -> (u32, bool) {
    let input = black_box(canned::FROM_SERVER);
    let hs = ClientHandshake::with_sha1(black_box(canned::NONCE), &mut sha1);
    let req = black_box(ClientRequest::new("server.example.com", "/chat"));
    let (mut client_msgs, mut client_clean) = (0, false);
    if let Ok(n) = hs.write_request(&req, out) {
        black_box(&out[..n]);
        let mut headers = [EMPTY_HEADER; 16];
        if let Ok(Status::Complete(res)) =
            hs.parse_response(&req, input, &mut headers, &Limits::DEFAULT)
        {
            let head = res.len();
            let mut c = Connection::client(Config::DEFAULT, canned::keys(), Instant::ZERO);
            if let Ok(n) = c.send_text(black_box("ON"), out) {
                black_box(&out[..n]);
            }
            client_msgs = drive(&mut c, &input[head..], buf, out);
            client_clean = c.end() == Some(End::Clean);
        }
    }
    (client_msgs, client_clean)
}

/// Each role the features name, through its handshake, a message, a
/// close: (server's messages, client's messages, all closed cleanly). A
/// role left out counts as one message and a clean close.
fn run() -> (u32, u32, bool) {
    let mut buf = [0u8; 512];
    let mut out = [0u8; 256];
    #[cfg(feature = "server")]
    let (s, s_clean) = server(&mut buf, &mut out);
    #[cfg(not(feature = "server"))]
    let (s, s_clean) = (1, true);
    #[cfg(feature = "client")]
    let (c, c_clean) = client(&mut buf, &mut out);
    #[cfg(not(feature = "client"))]
    let (c, c_clean) = (1, true);
    let _ = (&mut buf, &mut out);
    (s, c, s_clean && c_clean)
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
    black_box(run());
    loop {}
}

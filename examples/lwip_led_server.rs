//! The raw lwIP netconn server of the ESP32 world, done right: a WebSocket
//! on a port over lwIP's netconn API that echoes, and switches an "LED" on
//! the text messages `ON` / `OFF`, answering with the new state.
//!
//! On the host it runs on Debian's lwIP (in this process, on its own
//! loopback netif), so the example also starts a demo client over lwIP that
//! flips the LED and prints what comes back.
//!
//! `cargo run --features lwip --example lwip_led_server`

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use sansws::adapter::embedded_io::std_clock;
use sansws::adapter::lwip::{self, Accepted, ClientOptions, Decision, Listener, ServerOptions};
use sansws::conn::{Config, DataKind, Duration, Event};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::CloseCode;

const PORT: u16 = 8080;
static LED: AtomicBool = AtomicBool::new(false);

/// The device logic, apart from the transport: the answer to a text
/// message.
fn on_text(text: &[u8], answer: &mut [u8]) -> usize {
    let reply: &[u8] = match text {
        b"ON" => {
            LED.store(true, Ordering::SeqCst);
            b"LED ON"
        }
        b"OFF" => {
            LED.store(false, Ordering::SeqCst);
            b"LED OFF"
        }
        other => other, // echo
    };
    let n = reply.len().min(answer.len());
    answer[..n].copy_from_slice(&reply[..n]);
    n
}

fn serve(listener: Listener) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Static-size buffers, as on a device.
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    loop {
        let conn = listener.accept()?;
        let accepted = lwip::accept(
            conn,
            &mut rx,
            &mut tx,
            ServerOptions {
                // A browser tab that vanishes without a FIN is dropped
                // within 20 s.
                config: Config {
                    ping_interval: Some(Duration::from_secs(10)),
                    pong_timeout: Duration::from_secs(10),
                    ..Config::DEFAULT
                },
                // On a device, its own clock (e.g. esp_timer_get_time).
                ..ServerOptions::new(std_clock)
            },
            |req| {
                if req.path() == "/ws" {
                    Decision::Accept(None)
                } else {
                    Decision::Reject(404)
                }
            },
            |_| HttpResponse::new(200).text("sansws LED server: connect to /ws"),
        )?;
        let Accepted::WebSocket(mut ws) = accepted else {
            continue;
        };
        println!("server: client connected");
        // Text messages up to 64 bytes are gathered; binary is echoed.
        let mut msg = [0u8; 64];
        loop {
            let mut len = 0;
            let mut done = None;
            let got = ws.read_event(|e| {
                if let Event::Data(d) = e {
                    let at = d.message_offset;
                    let n = d.payload.len().min(msg.len().saturating_sub(at));
                    msg[at..at + n].copy_from_slice(&d.payload[..n]);
                    len = at + n;
                    if d.is_message_end() {
                        done = Some(d.kind);
                    }
                }
            })?;
            if got.is_none() {
                println!("server: connection ended: {:?}", ws.end());
                break;
            }
            match done {
                Some(DataKind::Text) => {
                    let mut answer = [0u8; 64];
                    let n = on_text(&msg[..len], &mut answer);
                    ws.send_text(core::str::from_utf8(&answer[..n]).unwrap_or("?"))?;
                }
                Some(DataKind::Binary) => ws.send_binary(&msg[..len])?,
                None => {}
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    lwip::host_stack_init().map_err(|e| format!("lwIP: {e}"))?;
    let listener = Listener::bind([127, 0, 0, 1], PORT).map_err(|e| format!("bind: {e}"))?;
    println!("server: WebSocket on lwIP 127.0.0.1:{PORT}/ws");
    thread::spawn(move || {
        if let Err(e) = serve(listener) {
            eprintln!("server: {e}");
        }
    });

    // The demo client, as a browser page would be.
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let req = ClientRequest::new("127.0.0.1", "/ws");
    let mut seed = 0x1234_5678u32;
    let keys = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed.to_le_bytes()
    };
    let mut ws = lwip::connect(
        [127, 0, 0, 1],
        PORT,
        &mut rx,
        &mut tx,
        ClientOptions::new(req, [42; 16], keys, std_clock),
    )
    .map_err(|e| format!("connect: {e}"))?;
    for cmd in ["ON", "hello", "OFF", "ON"] {
        ws.send_text(cmd).map_err(|e| format!("{e}"))?;
        let mut reply = String::new();
        while ws
            .read_event(|e| {
                if let Event::Data(d) = e {
                    reply.push_str(&String::from_utf8_lossy(d.payload));
                    d.is_message_end()
                } else {
                    false
                }
            })
            .map_err(|e| format!("{e}"))?
            == Some(false)
        {}
        println!(
            "client: sent {cmd:<5} got {reply:<8} (LED is {})",
            if LED.load(Ordering::SeqCst) {
                "on"
            } else {
                "off"
            }
        );
    }
    let end = ws
        .close(CloseCode::NORMAL, "done")
        .map_err(|e| format!("{e}"))?;
    println!("client: closed {end:?}");
    // Give the server a moment to log the end.
    thread::sleep(std::time::Duration::from_millis(100));
    Ok(())
}

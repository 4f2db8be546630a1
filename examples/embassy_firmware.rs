//! Firmware-shaped, as on an ESP32 with esp-hal + embassy-net: a WebSocket
//! server on port 80 of an embassy-net stack, one task per connection
//! (`pool_size`), every buffer static (`StaticCell`), a keepalive ping on
//! embassy-time's timers, and an LED switched by text commands (`LED ON`,
//! `LED OFF`, `TOGGLE`, `STATUS`), each answered with the LED's state.
//!
//! On the host it runs as is, over an in-memory IP link
//! (`tests/support/embassy_link.rs`) to a second stack where a host-side
//! client task connects, sends a few commands, waits for a keepalive ping,
//! closes, prints what it saw and exits 0:
//!
//! `cargo run --features embedded-io-async --example embassy_firmware`
//!
//! On a device, the link's `Port` is the Wi-Fi driver
//! (`esp_radio::wifi::WifiDevice`), `main` is `#[esp_rtos::main]`, and the
//! clock is the same `embassy_time::Instant::now()`.

#[path = "../tests/support/embassy_link.rs"]
mod link;

use core::sync::atomic::{AtomicBool, Ordering};

use embassy_executor::Spawner;
use embassy_futures::select::{Either, select};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Runner, Stack, StackResources};
use embassy_time::{Duration as EDuration, Instant as At, Timer, with_timeout};
use static_cell::StaticCell;

use sansws::adapter::embedded_io_async::{
    self as ws, Accepted, ClientOptions, Decision, ServerOptions,
};
use sansws::conn::{Config, Duration, End, Event, Instant};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::CloseCode;

/// WebSocket connections served at once: one task each.
const CONNECTIONS: usize = 2;
const PORT: u16 = 80;

/// The LED (a GPIO on the device).
static LED: AtomicBool = AtomicBool::new(false);

/// The device's millisecond clock.
fn clock() -> Instant {
    Instant(At::now().as_millis())
}

/// Keepalive: a ping every 500 ms, dropped if no pong within 1 s.
const CONFIG: Config = Config {
    ping_interval: Some(Duration::from_millis(500)),
    pong_timeout: Duration::from_millis(1_000),
    close_timeout: Duration::from_millis(1_000),
    ..Config::DEFAULT
};

/// How long a timer-driven `tick` may wait in the transport: embassy-net's
/// flush waits for the peer's ACK, which a vanished peer never sends.
const TICK_BOUND: EDuration = EDuration::from_millis(500);

/// One connection's buffers: the TCP socket's and the WebSocket's.
struct Buffers {
    tcp_rx: [u8; 2048],
    tcp_tx: [u8; 2048],
    ws_rx: [u8; 1024],
    ws_tx: [u8; 256],
}

impl Buffers {
    const fn new() -> Self {
        Self {
            tcp_rx: [0; 2048],
            tcp_tx: [0; 2048],
            ws_rx: [0; 1024],
            ws_tx: [0; 256],
        }
    }
}

static BUFFERS: [StaticCell<Buffers>; CONNECTIONS] = [const { StaticCell::new() }; CONNECTIONS];

#[embassy_executor::task(pool_size = 2)]
async fn net_task(mut runner: Runner<'static, link::Port>) -> ! {
    runner.run().await
}

/// What a text command does to the LED; the answer names its state.
fn command(text: &[u8]) -> Option<&'static str> {
    let on = match text {
        b"LED ON" => true,
        b"LED OFF" => false,
        b"TOGGLE" => !LED.load(Ordering::Relaxed),
        b"STATUS" => LED.load(Ordering::Relaxed),
        _ => return None,
    };
    LED.store(on, Ordering::Relaxed);
    Some(if on { "LED is on" } else { "LED is off" })
}

/// One WebSocket connection at a time, for ever.
#[embassy_executor::task(pool_size = CONNECTIONS)]
async fn ws_task(stack: Stack<'static>, id: usize, bufs: &'static mut Buffers) -> ! {
    loop {
        let mut sock = TcpSocket::new(stack, &mut bufs.tcp_rx, &mut bufs.tcp_tx);
        if sock.accept(PORT).await.is_err() {
            continue;
        }
        // The handshake bounded from outside, as the adapter's docs say.
        let accepted = with_timeout(
            EDuration::from_secs(5),
            ws::accept(
                sock,
                &mut bufs.ws_rx,
                &mut bufs.ws_tx,
                ServerOptions {
                    config: CONFIG,
                    ..ServerOptions::new(clock)
                },
                |r| {
                    if r.path() == "/ws" {
                        Decision::Accept(None)
                    } else {
                        Decision::Reject(404)
                    }
                },
                |_| HttpResponse::new(404),
            ),
        )
        .await;
        let Ok(Ok(Accepted::WebSocket(mut w))) = accepted else {
            continue;
        };
        println!("[device] connection {id}: open");
        loop {
            let wake = w
                .poll_timeout()
                .map_or(At::MAX, |t| At::from_millis(t.as_millis()));
            let mut answer = None;
            let got = select(
                w.read_event(|e| {
                    if let Event::Data(d) = e
                        && d.offset == 0
                        && d.is_message_end()
                    {
                        answer = Some(command(d.payload).unwrap_or("unknown command"));
                    }
                }),
                Timer::at(wake),
            )
            .await;
            match got {
                Either::First(Ok(Some(()))) => {
                    if let Some(a) = answer
                        && w.send_text(a).await.is_err()
                    {
                        break;
                    }
                }
                Either::First(Ok(None)) | Either::First(Err(_)) => break,
                // Keepalive, pong and close deadlines.
                Either::Second(()) => {
                    if let Ok(Err(_)) = with_timeout(TICK_BOUND, w.tick()).await {
                        break;
                    }
                }
            }
        }
        println!("[device] connection {id}: ended {:?}", w.end());
        let mut sock = w.into_io();
        sock.close();
        let _ = with_timeout(EDuration::from_millis(500), sock.flush()).await;
    }
}

/// The host side: connects to the device, sends commands, prints the
/// answers, waits for a keepalive ping, closes and exits.
#[embassy_executor::task]
async fn host_task(stack: Stack<'static>) {
    static BUFS: StaticCell<Buffers> = StaticCell::new();
    let bufs = BUFS.init(Buffers::new());
    stack.wait_config_up().await;
    let mut sock = TcpSocket::new(stack, &mut bufs.tcp_rx, &mut bufs.tcp_tx);
    sock.connect((Ipv4Address::new(10, 0, 0, 1), PORT))
        .await
        .expect("connect");
    let mut seed = 0x2545_f491_u32;
    let keys = move || {
        // xorshift32: never a constant key (a device would use its RNG).
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed.to_le_bytes()
    };
    let opts = ClientOptions::new(
        ClientRequest::new("10.0.0.1", "/ws"),
        *b"embassy-firmware",
        keys,
        clock,
    );
    let mut w = ws::connect(sock, &mut bufs.ws_rx, &mut bufs.ws_tx, opts)
        .await
        .expect("handshake");
    println!("[host] connected to ws://10.0.0.1/ws");
    let mut text = [0u8; 64];
    let mut pings = 0;
    for cmd in ["LED ON", "STATUS", "TOGGLE", "TOGGLE", "BLINK"] {
        w.send_text(cmd).await.expect("send");
        let len = loop {
            let mut got = None;
            w.read_event(|e| match e {
                Event::Data(d) => {
                    text[..d.payload.len()].copy_from_slice(d.payload);
                    got = Some(d.payload.len());
                }
                Event::Ping(_) => pings += 1,
                _ => {}
            })
            .await
            .expect("read")
            .expect("open");
            if let Some(n) = got {
                break n;
            }
        };
        let answer = core::str::from_utf8(&text[..len]).expect("text");
        println!("[host] {cmd:>8} -> {answer}");
    }
    // The device's keepalive: a ping within its 500 ms interval, answered
    // by the adapter.
    while pings == 0 {
        w.read_event(|e| {
            if let Event::Ping(_) = e {
                pings += 1;
            }
        })
        .await
        .expect("read")
        .expect("open");
    }
    println!("[host] keepalive ping from the device answered");
    let end = w.close(CloseCode::NORMAL, "bye").await.expect("close");
    println!("[host] closed: {end:?}");
    let led = LED.load(Ordering::Relaxed);
    println!("[host] LED is {}", if led { "on" } else { "off" });
    // Let the device see its end, then stop.
    Timer::after_millis(50).await;
    std::process::exit(if end == Some(End::Clean) && led { 0 } else { 1 });
}

/// If anything hangs, fail instead.
#[embassy_executor::task]
async fn watchdog() {
    Timer::after_secs(10).await;
    eprintln!("timed out");
    std::process::exit(2);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    static DEVICE_NET: StaticCell<StackResources<{ CONNECTIONS + 1 }>> = StaticCell::new();
    static HOST_NET: StaticCell<StackResources<2>> = StaticCell::new();

    let (device_port, host_port, _link) = link::pair();
    let (device, device_runner) = embassy_net::new(
        device_port,
        link::ipv4(1),
        DEVICE_NET.init(StackResources::new()),
        0x1234_5678,
    );
    let (host, host_runner) = embassy_net::new(
        host_port,
        link::ipv4(2),
        HOST_NET.init(StackResources::new()),
        0x8765_4321,
    );
    spawner.spawn(watchdog().unwrap());
    spawner.spawn(net_task(device_runner).unwrap());
    spawner.spawn(net_task(host_runner).unwrap());
    for (id, cell) in BUFFERS.iter().enumerate() {
        spawner.spawn(ws_task(device, id, cell.init(Buffers::new())).unwrap());
    }
    spawner.spawn(host_task(host).unwrap());
}

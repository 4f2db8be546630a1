//! The ESP32 dashboard, on a host: a page at `/` and a WebSocket at `/ws`.
//! The page shows an LED (`#led`, `ON`/`OFF`) with a button (`#toggle`) to
//! switch it, and a live sensor reading (`#reading`) that the server pushes
//! to every open page once a second from its own thread (what ESP-IDF's
//! `httpd_ws_send_frame_async` is for). An LED change from any page shows
//! on every page.
//!
//! `cargo run --release --example dashboard [127.0.0.1:8080]`
//!
//! `Device` is the device logic and knows nothing of the transport; `Hub`
//! and `serve` are the transport, on the std adapter (the same logic could
//! sit on the lwIP or embedded-io adapters).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sansws::adapter::std_net::{self, Accepted, Decision, Options, Sender};
use sansws::handshake::HttpResponse;
use sansws::message::Message;

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>sansws dashboard</title>
<style>
body { font: 18px system-ui, sans-serif; margin: 2em; }
.card { display: inline-block; border: 1px solid #ccc; border-radius: 8px; padding: 1em 1.5em; margin: 0 1em 1em 0; }
#led { font-weight: bold; }
#led.on { color: #0a0; } #led.off { color: #a00; }
#reading { font-size: 2em; }
</style></head><body>
<h1>sansws dashboard</h1>
<div class="card">LED: <span id="led">?</span> <button id="toggle">toggle</button></div>
<div class="card">Reading: <span id="reading">?</span> °C</div>
<p id="status">connecting...</p>
<script>
const led = document.getElementById('led');
const reading = document.getElementById('reading');
const status = document.getElementById('status');
let ws;
function connect() {
  ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => { status.textContent = 'connected'; };
  ws.onclose = () => { status.textContent = 'disconnected, retrying'; setTimeout(connect, 1000); };
  ws.onmessage = (e) => {
    const [key, value] = e.data.split(':');
    if (key === 'led') { led.textContent = value; led.className = value.toLowerCase(); }
    if (key === 'reading') { reading.textContent = value; }
  };
}
document.getElementById('toggle').onclick = () => ws.send(led.textContent === 'ON' ? 'OFF' : 'ON');
connect();
</script></body></html>
"#;

/// The device: an LED and a sensor. No transport in here.
struct Device {
    led: bool,
    started: Instant,
}

impl Device {
    /// A command from a page; the state update to show everywhere, if any.
    fn command(&mut self, text: &str) -> Option<String> {
        match text {
            "ON" => self.led = true,
            "OFF" => self.led = false,
            _ => return None,
        }
        Some(self.led_state())
    }

    fn led_state(&self) -> String {
        format!("led:{}", if self.led { "ON" } else { "OFF" })
    }

    /// The sensor, simulated: a slow wave around 21.5 °C.
    fn reading(&self) -> String {
        let t = self.started.elapsed().as_secs_f64();
        format!(
            "reading:{:.2}",
            21.5 + 1.5 * (t / 10.0).sin() + 0.05 * (t * 7.0).sin()
        )
    }
}

type Senders = Vec<(u64, Sender)>;

/// Every open page's sender.
#[derive(Default)]
struct Hub {
    pages: Mutex<(u64, Senders)>,
}

impl Hub {
    fn add(&self, sender: Sender) -> u64 {
        let mut g = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        let id = g.0;
        g.1.push((id, sender));
        id
    }

    fn remove(&self, id: u64) {
        let mut g = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        g.1.retain(|(i, _)| *i != id);
    }

    /// Sends to every page without ever blocking: `try_send` only queues
    /// (each connection's writer thread does the writing), so one page
    /// that stopped reading cannot slow the others. A page that is behind
    /// skips this update (its queue is full); a page whose connection is
    /// over is dropped. Keepalive and the write timeout drop a stalled page.
    fn broadcast(&self, text: &str) {
        let msg = Message::Text(text.into());
        let mut g = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        g.1.retain(|(_, s)| match s.try_send(&msg) {
            Ok(()) | Err(std_net::Error::QueueFull { .. }) => true,
            Err(_) => false,
        });
    }

    fn count(&self) -> usize {
        self.pages.lock().unwrap_or_else(|p| p.into_inner()).1.len()
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr)?;
    println!("dashboard on http://{addr}/ (WebSocket at /ws)");
    let device = Arc::new(Mutex::new(Device {
        led: false,
        started: Instant::now(),
    }));
    let hub = Arc::new(Hub::default());
    {
        // The sensor task: pushes a reading to every page once a second.
        let (device, hub) = (device.clone(), hub.clone());
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let r = device.lock().unwrap_or_else(|p| p.into_inner()).reading();
                hub.broadcast(&r);
            }
        });
    }
    for stream in listener.incoming() {
        // Out of descriptors or threads: back off instead of spinning.
        let Ok(stream) = stream else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let (device, hub) = (device.clone(), hub.clone());
        // The handshake runs on the connection's thread, never the accept loop.
        if std::thread::Builder::new()
            .spawn(move || serve(stream, &device, &hub))
            .is_err()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

fn serve(stream: TcpStream, device: &Mutex<Device>, hub: &Hub) {
    let _ = stream.set_nodelay(true);
    let accepted = std_net::accept_with(stream, &Options::default(), |req| {
        if req.path() == "/ws" {
            Decision::accept()
        } else {
            Decision::reject(404, "the WebSocket is at /ws")
        }
    });
    let ws = match accepted {
        Ok(Accepted::WebSocket(ws)) => ws,
        Ok(Accepted::Http(req, mut stream)) => {
            let res = if req.method == "GET" && req.path() == "/" {
                HttpResponse::new(200)
                    .body("text/html; charset=utf-8", PAGE.as_bytes())
                    .headers(&[("Cache-Control", "no-store")])
            } else {
                HttpResponse::new(404).text("not found")
            };
            let mut buf = vec![0u8; PAGE.len() + 512];
            if let Ok(n) = res.write(&mut buf) {
                let _ = stream.write_all(&buf[..n]);
            }
            return;
        }
        Ok(Accepted::Rejected(_)) | Err(_) => return,
    };
    let Ok((mut reader, sender)) = ws.split() else {
        return;
    };
    // The current state first, then updates as they come.
    let (led, reading) = {
        let d = device.lock().unwrap_or_else(|p| p.into_inner());
        (d.led_state(), d.reading())
    };
    if sender
        .send_text(&led)
        .and_then(|()| sender.send_text(&reading))
        .is_err()
    {
        return;
    }
    let id = hub.add(sender);
    println!("page {id} connected ({} open)", hub.count());
    while let Ok(Some(msg)) = reader.read() {
        if let Message::Text(t) = msg {
            let update = device.lock().unwrap_or_else(|p| p.into_inner()).command(&t);
            if let Some(update) = update {
                hub.broadcast(&update);
            }
        }
    }
    hub.remove(id);
    println!("page {id} closed ({} open)", hub.count());
}

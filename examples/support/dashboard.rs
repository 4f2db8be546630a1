//! What both dashboards (`dashboard`, threads; `dashboard_async`, tokio)
//! share: the page, the device logic, the routing, and the hub of open
//! pages. The transport (accepting, reading, the sensor's clock) is each
//! example's own.

use std::sync::Mutex;
use std::time::Instant;

use sansws::adapter::std_net::{Decision, Error, HttpRequest};
use sansws::handshake::{HttpResponse, UpgradeRequest};
use sansws::message::Message;

pub const PAGE: &str = r#"<!doctype html>
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

/// The address served when none is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The first command-line argument, or [`DEFAULT_ADDR`].
pub fn addr() -> String {
    std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.into())
}

/// The upgrade's route: the WebSocket is at `/ws`, nowhere else.
pub fn route(req: &UpgradeRequest<'_, '_>) -> Decision {
    if req.path() == "/ws" {
        Decision::accept()
    } else {
        Decision::reject(404, "the WebSocket is at /ws")
    }
}

/// The answer to a plain HTTP request: the page at `GET /`, else 404.
pub fn http_response(req: &HttpRequest) -> HttpResponse<'static> {
    if req.method == "GET" && req.path() == "/" {
        HttpResponse::new(200)
            .body("text/html; charset=utf-8", PAGE.as_bytes())
            .headers(&[("Cache-Control", "no-store")])
    } else {
        HttpResponse::new(404).text("not found")
    }
}

/// The device: an LED and a sensor. No transport in here.
pub struct Device {
    led: bool,
    started: Instant,
}

impl Device {
    /// LED off, the sensor's clock started now.
    pub fn new() -> Self {
        Self {
            led: false,
            started: Instant::now(),
        }
    }

    /// A command from a page; the state update to show everywhere, if any.
    pub fn command(&mut self, text: &str) -> Option<String> {
        match text {
            "ON" => self.led = true,
            "OFF" => self.led = false,
            _ => return None,
        }
        Some(self.led_state())
    }

    pub fn led_state(&self) -> String {
        format!("led:{}", if self.led { "ON" } else { "OFF" })
    }

    /// The sensor, simulated: a slow wave around 21.5 °C.
    pub fn reading(&self) -> String {
        let t = self.started.elapsed().as_secs_f64();
        format!(
            "reading:{:.2}",
            21.5 + 1.5 * (t / 10.0).sin() + 0.05 * (t * 7.0).sin()
        )
    }
}

/// A page's way to be sent to: a split connection's sender (threads or
/// tokio). `try_send` must never wait: it only queues, and says
/// [`Error::QueueFull`] when the page is behind.
pub trait Page {
    fn try_send(&self, msg: &Message) -> Result<(), Error>;
}

/// Every open page's sender.
pub struct Hub<S> {
    pages: Mutex<(u64, Vec<(u64, S)>)>,
}

impl<S> Default for Hub<S> {
    fn default() -> Self {
        Self {
            pages: Mutex::new((0, Vec::new())),
        }
    }
}

impl<S: Page> Hub<S> {
    pub fn add(&self, sender: S) -> u64 {
        let mut g = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        let id = g.0;
        g.1.push((id, sender));
        id
    }

    pub fn remove(&self, id: u64) {
        let mut g = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        g.1.retain(|(i, _)| *i != id);
    }

    /// Sends to every page without ever blocking: `try_send` only queues
    /// (each connection's writer thread or task does the writing), so one
    /// page that stopped reading cannot slow the others. A page that is
    /// behind skips this update (its queue is full); a page whose
    /// connection is over is dropped. Keepalive and the write timeout drop
    /// a stalled page.
    pub fn broadcast(&self, text: &str) {
        let msg = Message::Text(text.into());
        let mut g = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        g.1.retain(|(_, s)| match s.try_send(&msg) {
            Ok(()) | Err(Error::QueueFull { .. }) => true,
            Err(_) => false,
        });
    }

    pub fn count(&self) -> usize {
        self.pages.lock().unwrap_or_else(|p| p.into_inner()).1.len()
    }
}

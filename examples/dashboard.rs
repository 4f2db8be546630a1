//! The ESP32 dashboard, on a host: a page at `/` and a WebSocket at `/ws`.
//! The page shows an LED (`#led`, `ON`/`OFF`) with a button (`#toggle`) to
//! switch it, and a live sensor reading (`#reading`) that the server pushes
//! to every open page once a second from its own thread (what ESP-IDF's
//! `httpd_ws_send_frame_async` is for). An LED change from any page shows
//! on every page.
//!
//! `cargo run --release --example dashboard [127.0.0.1:8080]`
//!
//! `Device` is the device logic and knows nothing of the transport; it, the
//! page, the routing and the `Hub` of open pages are shared with the tokio
//! version, `dashboard_async` (`support/dashboard.rs`). `serve` is the
//! transport, on the std adapter (the same logic could sit on the lwIP or
//! embedded-io adapters).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sansws::adapter::std_net::{self, Accepted, Options, Sender};
use sansws::message::Message;

#[path = "support/dashboard.rs"]
mod dashboard;
use dashboard::{Device, Hub, PAGE, Page};

impl Page for Sender {
    fn try_send(&self, msg: &Message) -> Result<(), std_net::Error> {
        Sender::try_send(self, msg)
    }
}

fn main() -> std::io::Result<()> {
    let addr = dashboard::addr();
    let listener = TcpListener::bind(&addr)?;
    println!("dashboard on http://{addr}/ (WebSocket at /ws)");
    let device = Arc::new(Mutex::new(Device::new()));
    let hub = Arc::new(Hub::<Sender>::default());
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

fn serve(stream: TcpStream, device: &Mutex<Device>, hub: &Hub<Sender>) {
    let _ = stream.set_nodelay(true);
    let accepted = std_net::accept_with(stream, &Options::default(), dashboard::route);
    let ws = match accepted {
        Ok(Accepted::WebSocket(ws)) => ws,
        Ok(Accepted::Http(req, mut stream)) => {
            let res = dashboard::http_response(&req);
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

//! The dashboard on tokio: the contract of `dashboard` (a page at `/`, a
//! WebSocket at `/ws`, other paths 404; an LED toggled from any page shows
//! on every page; a sensor reading pushed to every open page once a
//! second) with a task per connection instead of a thread.
//!
//! `cargo run --release --features tokio --example dashboard_async [127.0.0.1:8080]`
//!
//! A tokio multi-thread runtime. The page, the device logic, the routing
//! and the hub of open pages are `dashboard`'s (`support/dashboard.rs`);
//! here is only the transport, on the tokio adapter: each connection is
//! split into a `Reader`, read in the connection's task, and a `Sender`
//! kept in the hub, which the broadcaster task and every connection's
//! task send through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sansws::adapter::tokio::{self as ws, Accepted, Options, Sender};
use sansws::message::Message;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, MissedTickBehavior};

#[path = "support/dashboard.rs"]
mod dashboard;
use dashboard::{Device, Hub, Page};

impl Page for Sender {
    /// Only queues, never waits (the connection's writer task writes):
    /// [`ws::Error::QueueFull`] when the page is behind.
    fn try_send(&self, msg: &Message) -> Result<(), ws::Error> {
        Sender::try_send(self, msg)
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = dashboard::addr();
    let listener = TcpListener::bind(&addr).await?;
    println!("dashboard on http://{addr}/ (WebSocket at /ws)");
    let device = Arc::new(Mutex::new(Device::new()));
    let hub = Arc::new(Hub::<Sender>::default());
    {
        // The broadcaster task: pushes a reading to every page once a
        // second. Latest-value semantics: `Hub::broadcast` uses
        // `Sender::try_send`, which never waits, so a slow page whose
        // queue is full skips this reading (the next one supersedes it)
        // and never holds up the others or this task. A page that stops
        // reading altogether is dropped by the write timeout or the
        // keepalive, and then leaves the hub.
        let (device, hub) = (device.clone(), hub.clone());
        tokio::spawn(async move {
            let second = Duration::from_secs(1);
            let mut tick = tokio::time::interval_at(Instant::now() + second, second);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let r = device.lock().unwrap_or_else(|p| p.into_inner()).reading();
                hub.broadcast(&r);
            }
        });
    }
    loop {
        // Out of descriptors (and the like): back off instead of spinning.
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (device, hub) = (device.clone(), hub.clone());
        // The handshake runs in the connection's task, never the accept loop.
        tokio::spawn(async move { serve(stream, &device, &hub).await });
    }
}

/// A page in the hub: removed (its `Sender` dropped, so the connection's
/// writer task can end) when the connection's task is done with it, also
/// if that task is cancelled or panics.
struct Registered<'a> {
    hub: &'a Hub<Sender>,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.hub.remove(self.id);
        println!("page {} closed ({} open)", self.id, self.hub.count());
    }
}

async fn serve(stream: TcpStream, device: &Mutex<Device>, hub: &Hub<Sender>) {
    let _ = stream.set_nodelay(true);
    let accepted = ws::accept_with(stream, &Options::default(), dashboard::route).await;
    let ws = match accepted {
        Ok(Accepted::WebSocket(ws)) => ws,
        Ok(Accepted::Http(req, mut stream)) => {
            let res = dashboard::http_response(&req);
            if let Ok(bytes) = res.to_vec() {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
            }
            return;
        }
        Ok(Accepted::Rejected(_)) | Err(_) => return,
    };
    let (mut reader, sender) = ws.split();
    // The current state first, then updates as they come. No lock is held
    // across an await: the state is copied out first.
    let (led, reading) = {
        let d = device.lock().unwrap_or_else(|p| p.into_inner());
        (d.led_state(), d.reading())
    };
    if sender.send_text(&led).await.is_err() || sender.send_text(&reading).await.is_err() {
        return;
    }
    let page = Registered {
        id: hub.add(sender),
        hub,
    };
    println!("page {} connected ({} open)", page.id, hub.count());
    while let Ok(Some(msg)) = reader.read().await {
        if let Message::Text(t) = msg {
            let update = device.lock().unwrap_or_else(|p| p.into_inner()).command(&t);
            if let Some(update) = update {
                hub.broadcast(&update);
            }
        }
    }
}

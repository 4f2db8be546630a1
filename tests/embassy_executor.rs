//! The managed client for embassy firmware under embassy's own executor
//! (embassy-executor's std platform), as firmware runs it: every piece a
//! `#[embassy_executor::task]` with `'static` resources, the client's
//! `Client` a `static` shared with a sending task, embassy-net stacks
//! joined in memory (`support/embassy_link.rs`). The device connects,
//! a task sends through the static client, the server echoes, the
//! device closes; the tasks report to the test over a std channel.
#![cfg(all(
    feature = "embassy",
    feature = "server",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

#[path = "support/embassy_link.rs"]
mod link;
#[path = "support/embassy_tcp.rs"]
mod tcp;

use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel};
use std::time::Duration as StdDuration;

use embassy_executor::{Executor, Spawner};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Runner, Stack, StackResources};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_time::{Duration, Timer};
use static_cell::StaticCell;
use tcp::Tcp;

use sansws::adapter::embassy::{self, Client, Closed, Event, Settings};
use sansws::adapter::embedded_io_async::{self as ws, Accepted, Decision, ServerOptions};
use sansws::conn::{DataKind, Event as ConnEvent};
use sansws::handshake::{ClientRequest, HttpResponse};
use sansws::wire::CloseCode;

const PORT: u16 = 80;

/// The device's client, shared by its task and the task that sends.
static CLIENT: Client<CriticalSectionRawMutex, 256> = Client::new();
/// Where the tasks report: what the device's handler saw, then how `run`
/// ended.
static REPORT: Mutex<Option<Sender<String>>> = Mutex::new(None);

fn report(line: String) {
    if let Some(tx) = REPORT.lock().unwrap().as_ref() {
        let _ = tx.send(line);
    }
}

#[embassy_executor::task(pool_size = 2)]
async fn net_task(mut runner: Runner<'static, link::Port>) -> ! {
    runner.run().await
}

/// The server: one WebSocket, echoes until the close.
#[embassy_executor::task]
async fn server_task(stack: Stack<'static>) {
    let (mut srx, mut stx) = ([0u8; 2048], [0u8; 2048]);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let mut s = TcpSocket::new(stack, &mut srx, &mut stx);
    s.accept(PORT).await.unwrap();
    let opts = ServerOptions::new(embassy::embassy_clock);
    let Ok(Accepted::WebSocket(mut w)) = ws::accept(
        s,
        &mut rx,
        &mut tx,
        opts,
        |_| Decision::Accept(None),
        |_| HttpResponse::new(404),
    )
    .await
    else {
        report("server: no upgrade".into());
        return;
    };
    let mut echo = [0u8; 64];
    loop {
        let mut got = None;
        match w
            .read_event(|e| {
                if let ConnEvent::Data(d) = e {
                    let n = d.payload.len().min(64);
                    echo[..n].copy_from_slice(&d.payload[..n]);
                    got = Some(n);
                }
            })
            .await
        {
            Ok(Some(())) => {}
            _ => break,
        }
        if let Some(n) = got
            && w.send_binary(&echo[..n]).await.is_err()
        {
            break;
        }
    }
}

/// The device's WebSocket client task.
#[embassy_executor::task]
async fn client_task(stack: Stack<'static>) {
    static TCP: StaticCell<Tcp<'static, 2048>> = StaticCell::new();
    static BUFS: StaticCell<([u8; 512], [u8; 512])> = StaticCell::new();
    let tcp = TCP.init(Tcp::new(stack));
    let (rx, tx) = BUFS.init(([0; 512], [0; 512]));
    let settings = Settings::new(ClientRequest::new("10.0.0.1", "/"));
    let closed = embassy::run(
        &CLIENT,
        tcp,
        &settings,
        |b: &mut [u8]| b.fill(9),
        || || [9, 8, 7, 6],
        rx,
        tx,
        |e: Event<'_, _>| match e {
            Event::Data(d) => report(format!(
                "data {} {}",
                if d.kind == DataKind::Binary {
                    "binary"
                } else {
                    "text"
                },
                String::from_utf8_lossy(d.payload)
            )),
            other => report(format!("{other:?}")),
        },
    )
    .await;
    report(format!("run ended: {closed:?}"));
    assert_eq!(closed, Closed::Closed { clean: true });
}

/// Another task: sends through the static client once it is connected,
/// then closes.
#[embassy_executor::task]
async fn sender_task() {
    while !CLIENT.is_connected() {
        Timer::after_millis(5).await;
    }
    for text in ["one", "two", "three"] {
        CLIENT
            .send_text(text, Duration::from_millis(500))
            .await
            .unwrap();
    }
    Timer::after_millis(200).await;
    CLIENT.close(CloseCode::NORMAL, "done");
}

fn start(spawner: Spawner) {
    static A: StaticCell<StackResources<2>> = StaticCell::new();
    static B: StaticCell<StackResources<2>> = StaticCell::new();
    let (pa, pb, _link) = link::pair();
    let (server, run_a) = embassy_net::new(pa, link::ipv4(1), A.init(StackResources::new()), 1);
    let (device, run_b) = embassy_net::new(pb, link::ipv4(2), B.init(StackResources::new()), 2);
    spawner.spawn(net_task(run_a).unwrap());
    spawner.spawn(net_task(run_b).unwrap());
    spawner.spawn(server_task(server).unwrap());
    spawner.spawn(client_task(device).unwrap());
    spawner.spawn(sender_task().unwrap());
}

#[test]
fn the_managed_client_under_embassy_executor() {
    let (tx, rx) = channel();
    *REPORT.lock().unwrap() = Some(tx);
    // The executor runs for ever on its own thread, as on a device.
    std::thread::spawn(|| {
        static EXECUTOR: StaticCell<Executor> = StaticCell::new();
        EXECUTOR.init(Executor::new()).run(start)
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(StdDuration::from_secs(10)) {
        let end = line.starts_with("run ended");
        seen.push(line);
        if end {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "Connected",
            "data binary one",
            "data binary two",
            "data binary three",
            "Disconnected(ClosedByClient { clean: true })",
            "run ended: Closed { clean: true }",
        ],
        "{seen:?}"
    );
}

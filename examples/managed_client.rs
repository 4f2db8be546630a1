//! The managed client (esp_websocket_client's model): connects to the URI
//! given, prints every event on a line, reconnects on its own. Commands on
//! stdin, one a line: `text <words>`, `binary <n>` (n bytes), `close`
//! (the close handshake, then the end), `stop` (no close frame).
//!
//! Received messages are put together from the DATA chunks as an
//! application would, and checked: a message that starts with `sum:` and
//! 16 hex digits carries the FNV-1a hash of the rest. A message cut by a
//! disconnect is dropped, never delivered: every message whole or not at
//! all (`dropped` says how many bytes of one were let go).
//!
//! `cargo run --release --example managed_client [ws://127.0.0.1:9001/] [ping-ms] [pong-timeout-ms] [reconnect-ms]`
//!
//! (tests/interop/test_managed_client.py drives it against Python's
//! `websockets` restarted, stopped and refusing.)

use std::io::BufRead;
use std::time::Duration;

use sansws::adapter::std_net::{ClientEvent, Disconnect, ManagedClient, ManagedConfig};
use sansws::conn::DataKind;
use sansws::wire::CloseCode;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `ok`, `corrupt`, or `unchecked` for a message without a sum.
fn check(message: &[u8]) -> &'static str {
    let Some(rest) = message.strip_prefix(b"sum:") else {
        return "unchecked";
    };
    if rest.len() < 17 {
        return "corrupt";
    }
    let (hex, body) = rest.split_at(16);
    let want = std::str::from_utf8(hex)
        .ok()
        .and_then(|h| u64::from_str_radix(h, 16).ok());
    if want == Some(fnv1a(&body[1..])) && body[0] == b':' {
        "ok"
    } else {
        "corrupt"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let uri = args.get(1).map_or("ws://127.0.0.1:9001/", String::as_str);
    let ms = |i: usize, default: u64| {
        Duration::from_millis(args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default))
    };
    let mut config = ManagedConfig::new(uri)?;
    config.options.config.ping_interval = Some(ms(2, 10_000).into());
    config.options.config.pong_timeout = ms(3, 10_000).into();
    config.reconnect.delay = ms(4, 1_000);
    config.reconnect.max_delay = ms(4, 1_000) * 8;

    // The message being put together.
    let mut message: Vec<u8> = Vec::new();
    let mut kind = DataKind::Text;
    let client = ManagedClient::start(config, move |event| match event {
        ClientEvent::Connected { protocol } => println!("connected protocol={protocol:?}"),
        ClientEvent::Data(d) => {
            if d.message_start {
                message.clear();
                kind = d.kind;
            }
            message.extend_from_slice(&d.chunk);
            if d.message_end {
                println!(
                    "message {} len={} {}",
                    if kind == DataKind::Text {
                        "text"
                    } else {
                        "binary"
                    },
                    message.len(),
                    check(&message)
                );
                message.clear();
            }
        }
        ClientEvent::Disconnected(why) => {
            if !message.is_empty() {
                println!("dropped {} bytes of a cut message", message.len());
                message.clear();
            }
            match why {
                Disconnect::ServerClosed { code, reason } => {
                    println!("disconnected server-closed code={code:?} reason={reason:?}")
                }
                Disconnect::Lost { io } => println!("disconnected lost io={io:?}"),
                other => println!("disconnected {other:?}"),
            }
        }
        ClientEvent::Error(e) => match &e.http_status {
            Some((status, reason)) => println!("error status={status} reason={reason:?}"),
            None => println!("error io={:?} {}", e.io, e.message),
        },
        ClientEvent::Closed(how) => println!("closed {how:?}"),
    })?;

    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let (cmd, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let r = match cmd {
            "text" => client.send_text(arg, Duration::from_secs(5)),
            "binary" => {
                let n = arg.parse().unwrap_or(0);
                client.send_binary(&vec![0x5a; n], Duration::from_secs(5))
            }
            "close" => {
                client.close(CloseCode::NORMAL, "bye", Duration::from_secs(10))?;
                break;
            }
            "stop" => {
                client.stop();
                break;
            }
            _ => {
                println!("unknown command {cmd:?}");
                Ok(())
            }
        };
        match r {
            Ok(()) => println!("sent {cmd}"),
            Err(e) => println!("send failed: {e}"),
        }
    }
    drop(client);
    Ok(())
}

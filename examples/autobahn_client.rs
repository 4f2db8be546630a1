//! The Autobahn TestSuite's testee, client side: runs every case against
//! the fuzzing server at the URL given, echoing what it sends, then asks
//! for the report.
//!
//! `cargo run --release --example autobahn_client [ws://127.0.0.1:9001]`

use sansws::adapter::std_net::{self, Options};
use sansws::message::Message;

const AGENT: &str = "sansws";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let base = base.trim_end_matches('/');
    let opts = Options::default();

    let mut ws = std_net::connect_with(&format!("{base}/getCaseCount"), &opts)?;
    let count: u32 = match ws.read()? {
        Some(Message::Text(t)) => t.trim().parse()?,
        other => return Err(format!("unexpected answer to getCaseCount: {other:?}").into()),
    };
    while ws.read()?.is_some() {}
    eprintln!("{count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        let mut ws = match std_net::connect_with(&url, &opts) {
            Ok(ws) => ws,
            Err(e) => {
                eprintln!("case {case}: connect: {e}");
                continue;
            }
        };
        loop {
            match ws.read() {
                Ok(Some(msg)) if msg.is_data() => {
                    if ws.send(&msg).is_err() {
                        break;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }

    let mut ws = std_net::connect_with(&format!("{base}/updateReports?agent={AGENT}"), &opts)?;
    while ws.read()?.is_some() {}
    eprintln!("reports updated");
    Ok(())
}

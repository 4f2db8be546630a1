//! The Autobahn TestSuite's testee, client side, on the tokio adapter:
//! runs every case against the fuzzing server at the URL given, echoing
//! what it sends through the `Stream` and `Sink` traits, then asks for the
//! report.
//!
//! `cargo run --release --features tokio --example autobahn_client_async [ws://127.0.0.1:9003]`

use futures_util::{SinkExt, StreamExt};
use sansws::adapter::tokio::{self as ws, Options};
use sansws::message::Message;

const AGENT: &str = "sansws-async";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9003".into());
    let base = base.trim_end_matches('/');
    let opts = Options::default();

    let mut ws = ws::connect_with(&format!("{base}/getCaseCount"), &opts).await?;
    let count: u32 = match ws.next().await.transpose()? {
        Some(Message::Text(t)) => t.trim().parse()?,
        other => return Err(format!("unexpected answer to getCaseCount: {other:?}").into()),
    };
    while ws.next().await.transpose()?.is_some() {}
    eprintln!("{count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        let mut ws = match ws::connect_with(&url, &opts).await {
            Ok(ws) => ws,
            Err(e) => {
                eprintln!("case {case}: connect: {e}");
                continue;
            }
        };
        while let Some(Ok(msg)) = ws.next().await {
            // Through the Sink (the inherent `send` takes `&Message`).
            if msg.is_data() && SinkExt::send(&mut ws, msg).await.is_err() {
                break;
            }
        }
    }

    let mut ws = ws::connect_with(&format!("{base}/updateReports?agent={AGENT}"), &opts).await?;
    while ws.next().await.transpose()?.is_some() {}
    eprintln!("reports updated");
    Ok(())
}

//! The Autobahn TestSuite's testee, server side, on the tokio adapter:
//! echoes every text and binary message, a task per connection.
//!
//! `cargo run --release --features tokio --example autobahn_server_async [127.0.0.1:9004]`

use sansws::adapter::tokio::{self as ws, Accepted, Options};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9004".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("autobahn_server_async listening on ws://{addr}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut ws = match ws::accept(stream, &Options::default()).await {
                Ok(Accepted::WebSocket(ws)) => ws,
                Ok(_) => return,
                Err(e) => {
                    eprintln!("handshake: {e}");
                    return;
                }
            };
            loop {
                match ws.read().await {
                    Ok(Some(msg)) if msg.is_data() => {
                        if ws.send(&msg).await.is_err() {
                            break;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        });
    }
}

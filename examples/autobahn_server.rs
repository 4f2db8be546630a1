//! The Autobahn TestSuite's testee, server side: echoes every text and
//! binary message, a thread per connection.
//!
//! `cargo run --release --example autobahn_server [127.0.0.1:9002]`

use std::net::TcpListener;

use sansws::adapter::std_net::{self, Accepted, Options};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("autobahn_server listening on ws://{addr}");
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let _ = std::thread::Builder::new().spawn(move || {
            let mut ws = match std_net::accept(stream, &Options::default()) {
                Ok(Accepted::WebSocket(ws)) => ws,
                Ok(_) => return,
                Err(e) => {
                    eprintln!("handshake: {e}");
                    return;
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
        });
    }
    Ok(())
}

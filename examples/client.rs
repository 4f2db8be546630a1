//! Client: connects to the URL given (default ws://127.0.0.1:9001/), sends
//! `hello 0000`..`hello 0004` and a fragmented message, prints what comes
//! back, and closes cleanly with 1000.
//!
//! `cargo run --release --example client [ws://127.0.0.1:9001/]`

use sansws::adapter::std_net::{self, Options};
use sansws::conn::DataKind;
use sansws::message::Message;
use sansws::wire::CloseCode;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".into());
    let opts = Options {
        read_timeout: Some(std::time::Duration::from_secs(5)),
        ..Options::default()
    };
    let mut ws = std_net::connect_with(&url, &opts)?;
    println!("connected to {url}");
    for i in 0..5 {
        let text = format!("hello {i:04}");
        ws.send_text(&text)?;
        println!("sent     {text}");
        print_reply(ws.read()?);
    }
    // A message produced piece by piece (esp_websocket_client's
    // send_text_partial / send_cont_msg / send_fin).
    ws.send_fragment(DataKind::Text, b"fragmented ", false)?;
    ws.send_fragment(DataKind::Text, b"message in ", false)?;
    ws.send_fragment(DataKind::Text, b"three parts", true)?;
    println!("sent     fragmented message in three parts");
    print_reply(ws.read()?);
    let end = ws.close(CloseCode::NORMAL, "bye")?;
    println!(
        "closed: {end:?}, server sent {:?}",
        ws.connection().remote_close()
    );
    Ok(())
}

fn print_reply(msg: Option<Message>) {
    match msg {
        Some(Message::Text(t)) => println!("received {t}"),
        Some(other) => println!("received {other:?}"),
        None => println!("connection ended"),
    }
}

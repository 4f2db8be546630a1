//! permessage-deflate on a device, run on the host: the embedded-io
//! adapter over a TCP stream, inflating through a ring it lends (no
//! allocation in the library) and sending uncompressed. Used by
//! tests/interop/test_deflate_interop.py against Python's `websockets`.
//!
//! `cargo run --release --example device_deflate -- server 127.0.0.1:9100`
//!   echoes every message (one connection after another, the same
//!   inflater lent to each: a 1 KiB ring, so a client is asked for a
//!   10-bit window).
//! `cargo run --release --example device_deflate -- client 127.0.0.1:9101`
//!   connects with a 512-byte ring (it asks `server_max_window_bits=9`),
//!   echoes what the server sends until it closes.
//!
//! Each prints what was agreed (`deflate Some(DeflateParams { .. })`)
//! and, when a connection ends, how many messages it echoed and how.

use std::net::{TcpListener, TcpStream};
use std::time::Duration as StdDuration;

use sansws::adapter::embedded_io::{
    self as ws, Accepted, ClientOptions, Decision, ServerOptions, StdIo, WebSocket, std_clock,
};
use sansws::conn::deflate::Inflater;
use sansws::conn::{Config, DataKind, Event, MaskKeys, OsKeys};
use sansws::handshake::{ClientRequest, HttpResponse};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Messages up to 8 MiB, in frames as large (the limits count inflated
/// bytes).
const CONFIG: Config = Config {
    max_frame_len: 8 << 20,
    max_message_len: 8 << 20,
    ..Config::DEFAULT
};

/// The stream, with a read timeout so that the adapter's timers run.
fn io(tcp: TcpStream) -> Result<StdIo<TcpStream>> {
    tcp.set_read_timeout(Some(StdDuration::from_millis(200)))?;
    tcp.set_nodelay(true)?;
    Ok(StdIo(tcp))
}

/// Echoes every message until the connection ends; returns how many.
fn echo<K: MaskKeys>(w: &mut WebSocket<'_, StdIo<TcpStream>, K>) -> Result<usize> {
    let mut msg = Vec::new();
    let mut n = 0;
    loop {
        let mut done = None;
        let got = w.read_event(|e| {
            if let Event::Data(d) = e {
                msg.extend_from_slice(d.payload);
                if d.is_message_end() {
                    done = Some(d.kind);
                }
            }
        })?;
        if got.is_none() {
            return Ok(n);
        }
        match done {
            Some(DataKind::Text) => w.send_text(std::str::from_utf8(&msg)?)?,
            Some(DataKind::Binary) => w.send_binary(&msg)?,
            None => continue,
        }
        msg.clear();
        n += 1;
    }
}

fn server(addr: &str) -> Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on {addr}");
    let (mut rx, mut tx) = (vec![0u8; 4096], vec![0u8; 512]);
    let mut inflater = Inflater::new([0u8; 1 << 10]);
    for stream in listener.incoming() {
        let opts = ServerOptions {
            config: CONFIG,
            ..ServerOptions::new(std_clock)
        };
        let accepted = ws::accept_deflate(
            io(stream?)?,
            &mut rx,
            &mut tx,
            &mut inflater,
            opts,
            |_| Decision::Accept(None),
            |_| HttpResponse::new(404),
        );
        let mut w = match accepted {
            Ok(Accepted::WebSocket(w)) => w,
            Ok(_) => continue,
            Err(e) => {
                println!("handshake failed: {e}");
                continue;
            }
        };
        println!("deflate {:?}", w.connection().deflate());
        let n = echo(&mut w);
        println!("echoed {n:?}, end {:?}", w.end());
    }
    Ok(())
}

fn client(addr: &str) -> Result<()> {
    let (host, port) = addr.rsplit_once(':').ok_or("host:port")?;
    let tcp = TcpStream::connect(addr)?;
    let (mut rx, mut tx) = (vec![0u8; 4096], vec![0u8; 512]);
    let mut inflater = Inflater::new([0u8; 512]);
    let req = ClientRequest {
        port: port.parse()?,
        ..ClientRequest::new(host, "/")
    };
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
    let keys = OsKeys::new().map_err(|e| e.to_string())?;
    let opts = ClientOptions {
        config: CONFIG,
        ..ClientOptions::new(req, nonce, keys, std_clock)
    };
    let mut w = ws::connect_deflate(io(tcp)?, &mut rx, &mut tx, &mut inflater, opts)?;
    println!("deflate {:?}", w.connection().deflate());
    let n = echo(&mut w)?;
    println!("echoed {n}, end {:?}", w.end());
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("server"), Some(addr)) => server(addr),
        (Some("client"), Some(addr)) => client(addr),
        _ => Err("usage: device_deflate server ADDR | client HOST:PORT".into()),
    }
}

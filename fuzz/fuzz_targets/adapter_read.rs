//! Arbitrary bytes, handed out in arbitrary reads, through the std
//! adapter's whole-message `read()` (server role, small read buffer, so
//! payloads are kept in place across reads, the buffer grows, compacts and
//! is shared out): no panic, and the same messages and error as the
//! general path, the bare `Connection` with an `Assembler`.
#![no_main]

use std::io::{self, Read, Write};

use libfuzzer_sys::fuzz_target;
use sansws::adapter::std_net::{Options, Transport, WebSocket};
use sansws::conn::{Config, Connection, Instant, Role};
use sansws::message::{Assembler, Message};

/// Reads of the sizes a schedule says, from a slice; writes dropped.
struct Chunked<'a> {
    input: &'a [u8],
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = (self.input.len() - self.pos).min(out.len()).min(size);
        out[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Chunked<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Chunked<'_> {}

fn config(flags: u8) -> Config {
    Config {
        max_frame_len: if flags & 1 != 0 { 300 } else { 64 << 10 },
        max_message_len: if flags & 2 != 0 { 500 } else { 256 << 10 },
        ping_interval: None,
        ..Config::DEFAULT
    }
}

/// The general path: the whole input into a connection, an assembler
/// joining every chunk. Messages, then whether it failed.
fn reference(bytes: &[u8], config: Config) -> (Vec<Message>, bool) {
    let mut conn = Connection::server(config, Instant::ZERO);
    let mut asm = Assembler::new(config.max_message_len);
    let mut input = bytes.to_vec();
    let mut at = 0;
    let mut out = Vec::new();
    while at < input.len() && !conn.is_closed() {
        match conn.handle_read(&mut input[at..]) {
            Ok(r) => {
                at += r.consumed;
                if let Some(e) = r.event {
                    match asm.push(&e) {
                        Ok(Some(m)) => out.push(m),
                        Ok(None) => {}
                        Err(_) => return (out, true),
                    }
                } else if r.consumed == 0 {
                    break;
                }
            }
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some((&sizes, bytes)) = rest.split_first() else { return };
    let config = config(flags);
    let sizes: Vec<usize> = [sizes & 7, sizes >> 3 & 7, sizes >> 6]
        .iter()
        .map(|&s| 1 << (s as usize * 2))
        .collect();
    let io = Chunked { input: bytes, pos: 0, sizes, turn: 0 };
    let opts = Options {
        config,
        read_buffer: 256,
        read_timeout: None,
        ..Options::default()
    };
    let mut ws = WebSocket::from_raw(io, Role::Server, &opts, &[], Box::new(|| [0; 4]));
    let mut got = Vec::new();
    let mut failed = false;
    for _ in 0..bytes.len() + 2 {
        match ws.read() {
            Ok(Some(m)) => got.push(m),
            Ok(None) => break,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    let (want, want_failed) = reference(bytes, config);
    assert_eq!(got, want);
    assert_eq!(failed, want_failed);
});

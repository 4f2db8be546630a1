//! A hand-driven peer for the embedded adapters' tests: its handshake and
//! frames are raw bytes through a `testing::Pipe`, so a test controls
//! exactly what the adapter reads and sees exactly what it wrote.

use std::time::Duration;

use embedded_io::{ErrorKind, Read, Write};
use sansws::adapter::embedded_io::testing::Pipe;
use sansws::handshake::{ClientHandshake, ClientRequest};

/// A client's handshake request, written into `pipe` (the pipe keeps it
/// until the server reads it).
pub fn send_request(pipe: &mut Pipe) {
    let mut buf = [0u8; 512];
    let n = ClientHandshake::new([9; 16])
        .write_request(&ClientRequest::new("device", "/ws"), &mut buf)
        .unwrap();
    pipe.write_all(&buf[..n]).unwrap();
}

/// Reads a handshake head (through the blank line) from `pipe`.
pub fn read_head(pipe: &mut Pipe) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(pipe.read(&mut b).unwrap(), 1, "end of stream in a head");
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Everything `pipe` can read until the other end is dropped, or until
/// nothing came for `quiet`.
pub fn read_all(pipe: &mut Pipe, quiet: Duration) -> Vec<u8> {
    pipe.read_timeout = Some(quiet);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(ErrorKind::TimedOut) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{e:?}"),
        }
    }
}

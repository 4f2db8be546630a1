//! examples/core_only.rs's job through embedded-websocket 0.9.5 (no_std,
//! no alloc), the same canned bytes (examples/support/canned.rs), so that
//! scripts/firmware-size.sh can print its `.text` beside sansws's.
//!
//! Per role, as core_only does with sansws:
//! * server: parse RFC 6455 section 1.3's upgrade request (httparse and
//!   `read_http_header`, as embedded-websocket's server example does),
//!   write the 101 (`server_accept`), then read the masked "Hello" and the
//!   masked close 1000, answering the close;
//! * client: write the request (`client_connect`, the RFC's nonce), check
//!   the 101 (`client_accept`), send a text "ON", then read "Hello" and
//!   the close 1000, answering the close.
//!
//! Frames are read the way embedded-websocket's own `framer::Framer::read`
//! does: payloads gathered into `buf`, a text message checked as UTF-8
//! (`core::str::from_utf8`), a ping answered with a pong, a close with a
//! close reply (sansws's `Connection` does all of these itself). Every
//! frame written goes to `sent`: `black_box` on the device, a transcript
//! the host binary checks.
#![no_std]

#[cfg(not(target_os = "none"))]
extern crate std;

use core::hint::black_box;

use embedded_websocket::{
    self as ws, WebSocket, WebSocketClient, WebSocketOptions, WebSocketReceiveMessageType as Rx,
    WebSocketSendMessageType as Tx, WebSocketServer, WebSocketState, WebSocketType,
};
use rand_core::RngCore;

// Each role uses its half of the canned bytes.
#[allow(dead_code)]
#[path = "../../../examples/support/canned.rs"]
pub mod canned;

/// The client's RNG (rand_core 0.6, what embedded-websocket takes): its
/// 16-byte draw (the handshake nonce) is `canned::NONCE`, every other
/// draw (mask keys) comes from `canned::keys()`, as sansws's client gets
/// them in core_only.
pub struct Rng<K> {
    nonce: Option<[u8; 16]>,
    keys: K,
}

impl<K: FnMut() -> [u8; 4]> RngCore for Rng<K> {
    fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes((self.keys)())
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_u32(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self.nonce.take() {
            Some(nonce) if dest.len() == nonce.len() => dest.copy_from_slice(&nonce),
            nonce => {
                self.nonce = nonce;
                for chunk in dest.chunks_mut(4) {
                    chunk.copy_from_slice(&(self.keys)()[..chunk.len()]);
                }
            }
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Feeds `input` to `ws`, payloads into `buf`, answering pings and the
/// close into `out`; returns data messages seen.
fn drive<T: RngCore, S: WebSocketType>(
    ws: &mut WebSocket<T, S>,
    input: &[u8],
    buf: &mut [u8],
    out: &mut [u8],
    sent: &mut impl FnMut(&[u8]),
) -> u32 {
    let mut at = 0;
    let mut cursor = 0;
    let mut msgs = 0;
    while at < input.len() && cursor < buf.len() {
        let Ok(r) = ws.read(&input[at..], &mut buf[cursor..]) else {
            break;
        };
        at += r.len_from;
        let reply = match r.message_type {
            Rx::Text | Rx::Binary => {
                cursor += r.len_to;
                if r.end_of_message {
                    if r.message_type == Rx::Text && core::str::from_utf8(&buf[..cursor]).is_err() {
                        break;
                    }
                    msgs += 1;
                    cursor = 0;
                }
                None
            }
            Rx::Ping => Some(Tx::Pong),
            Rx::CloseMustReply => Some(Tx::CloseReply),
            Rx::Pong | Rx::CloseCompleted => None,
        };
        if let Some(kind) = reply {
            match ws.write(kind, true, &buf[cursor..cursor + r.len_to], out) {
                Ok(n) => sent(&out[..n]),
                Err(_) => break,
            }
        }
    }
    msgs
}

/// The server role: messages seen, closed cleanly.
pub fn server(buf: &mut [u8], out: &mut [u8], sent: &mut impl FnMut(&[u8])) -> (u32, bool) {
    let input = black_box(canned::FROM_CLIENT);
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut request = httparse::Request::new(&mut headers);
    let (mut server_msgs, mut server_clean) = (0, false);
    if let Ok(httparse::Status::Complete(head)) = request.parse(input) {
        let headers = request.headers.iter().map(|h| (h.name, h.value));
        if let Ok(Some(ctx)) = ws::read_http_header(headers) {
            let mut s = WebSocketServer::new_server();
            if let Ok(n) = s.server_accept(&ctx.sec_websocket_key, None, out) {
                sent(&out[..n]);
                server_msgs = drive(&mut s, &input[head..], buf, out, sent);
                server_clean = s.state == WebSocketState::Closed;
            }
        }
    }
    (server_msgs, server_clean)
}

/// What the client asks for: RFC 6455 section 1.3's request (the origin
/// is one embedded-websocket always writes).
const OPTIONS: WebSocketOptions<'static> = WebSocketOptions {
    path: "/chat",
    host: "server.example.com",
    origin: "http://example.com",
    sub_protocols: None,
    additional_headers: None,
};

/// The client role: messages seen, closed cleanly.
pub fn client(buf: &mut [u8], out: &mut [u8], sent: &mut impl FnMut(&[u8])) -> (u32, bool) {
    let input = black_box(canned::FROM_SERVER);
    let rng = Rng {
        nonce: Some(black_box(canned::NONCE)),
        keys: canned::keys(),
    };
    let mut c = WebSocketClient::new_client(rng);
    let (mut client_msgs, mut client_clean) = (0, false);
    if let Ok((n, key)) = c.client_connect(black_box(&OPTIONS), out) {
        sent(&out[..n]);
        if let Ok((head, _)) = c.client_accept(&key, input) {
            if let Ok(n) = c.write(Tx::Text, true, black_box(b"ON"), out) {
                sent(&out[..n]);
            }
            client_msgs = drive(&mut c, &input[head..], buf, out, sent);
            client_clean = c.state == WebSocketState::Closed;
        }
    }
    (client_msgs, client_clean)
}

/// The host binaries' checks: every frame written, byte for byte.
#[cfg(not(target_os = "none"))]
pub mod check {
    use std::vec::Vec;

    /// A `sent` that keeps a copy of each write.
    pub fn recorder(log: &mut Vec<Vec<u8>>) -> impl FnMut(&[u8]) + '_ {
        |b| log.push(b.to_vec())
    }

    /// The server's writes: the 101 with RFC 6455 section 1.3's accept
    /// value, then the close reply (1000, unmasked).
    pub fn server(sent: &[Vec<u8>]) {
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(
            sent[0],
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        assert_eq!(sent[1], [0x88, 0x02, 0x03, 0xe8]);
    }

    /// The client's writes: the request with the RFC's key, the masked
    /// text "ON" and the masked close reply (1000), each under the next of
    /// `canned::keys()`.
    pub fn client(sent: &[Vec<u8>]) {
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert_eq!(
            sent[0],
            b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Origin: http://example.com\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        let mut keys = crate::canned::keys();
        for (frame, (first, payload)) in sent[1..].iter().zip([(0x81, b"ON"), (0x88, b"\x03\xe8")])
        {
            let key = keys();
            let mut want = Vec::from([first, 0x80 | payload.len() as u8]);
            want.extend_from_slice(&key);
            want.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
            assert_eq!(*frame, want);
        }
    }
}

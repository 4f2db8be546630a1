//! The same jobs through embedded-websocket 0.9.5 (no_std), as its docs
//! and examples use it: `httparse` + `read_http_header` + `server_accept`
//! for a server, `client_connect` + `client_accept` for a client, `read`
//! (payload copied, unmasked, into a `to` buffer), `write`, `close`.

use core::hint::black_box;

use embedded_websocket::{
    self as ws, WebSocketClient, WebSocketCloseStatusCode, WebSocketOptions,
    WebSocketReceiveMessageType as Rx, WebSocketSendMessageType as Tx, WebSocketServer,
    WebSocketState,
};
use rand_core::{RngCore, impls};

use crate::frames::{self, XorShift};

/// A trivial RNG for its client (rand_core 0.6's `RngCore`): the first 16
/// bytes asked for (the handshake nonce) are the RFC's sample nonce, so
/// the canned 101 matches; every later draw (mask keys) is the shared
/// xorshift generator.
pub struct Rng {
    nonce_given: bool,
    xs: XorShift,
}

impl Rng {
    pub fn new() -> Self {
        Self {
            nonce_given: false,
            xs: XorShift(0x6d2b_79f5),
        }
    }
}

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.xs.next()
    }
    fn next_u64(&mut self) -> u64 {
        impls::next_u64_via_u32(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if !self.nonce_given && dest.len() == 16 {
            self.nonce_given = true;
            dest.copy_from_slice(&frames::NONCE);
        } else {
            impls::fill_bytes_via_next(self, dest)
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

const OPTIONS: WebSocketOptions<'static> = WebSocketOptions {
    path: "/chat",
    host: "server.example.com",
    origin: "http://example.com",
    sub_protocols: None,
    additional_headers: None,
};

/// A server after its handshake.
#[inline(never)]
pub fn open_server() -> WebSocketServer {
    let mut ws = WebSocketServer::new_server();
    let key = ws::WebSocketKey::from(frames::KEY);
    let mut out = [0u8; 256];
    ws.server_accept(&key, None, &mut out).unwrap();
    ws
}

/// A client after its handshake.
#[inline(never)]
pub fn open_client() -> WebSocketClient<Rng> {
    let mut ws = WebSocketClient::new_client(Rng::new());
    let mut out = [0u8; 256];
    let (_, key) = ws.client_connect(&OPTIONS, &mut out).unwrap();
    ws.client_accept(&key, frames::RESPONSE).unwrap();
    assert_eq!(ws.state, WebSocketState::Open);
    ws
}

/// RFC 6455 section 5.7, every example.
#[inline(never)]
pub fn rfc_examples(src: &mut [u8], big: &mut [u8], to: &mut [u8]) {
    let mut out = [0u8; 160];

    let mut server = open_server();
    let r = server.read(&frames::MASKED_HELLO, to).unwrap();
    assert_eq!(
        (r.len_from, r.message_type, r.end_of_message),
        (11, Rx::Text, true)
    );
    assert_eq!(&to[..r.len_to], b"Hello");

    let mut client = open_client();
    let r = client.read(&frames::HELLO, to).unwrap();
    assert_eq!(
        (r.len_from, r.message_type, r.end_of_message),
        (7, Rx::Text, true)
    );
    assert_eq!(&to[..r.len_to], b"Hello");

    let r = client.read(&frames::HEL_LO, to).unwrap();
    assert_eq!(
        (r.len_from, r.message_type, r.end_of_message),
        (5, Rx::Text, false)
    );
    assert_eq!(&to[..r.len_to], b"Hel");
    let r = client.read(&frames::HEL_LO[5..], to).unwrap();
    assert_eq!(
        (r.len_from, r.message_type, r.end_of_message),
        (4, Rx::Text, true)
    );
    assert_eq!(&to[..r.len_to], b"lo");

    // Ping into the client; it answers with a (masked) pong itself.
    let r = client.read(&frames::PING_HELLO, to).unwrap();
    assert_eq!((r.message_type, &to[..r.len_to]), (Rx::Ping, &b"Hello"[..]));
    let n = client.write(Tx::Pong, true, b"Hello", &mut out).unwrap();
    assert_eq!((n, out[0], out[1]), (11, 0x8a, 0x85));
    let key = [out[2], out[3], out[4], out[5]];
    frames::mask_reference(&mut out[6..11], key);
    assert_eq!(&out[6..11], b"Hello");

    let r = server.read(&frames::MASKED_PONG_HELLO, to).unwrap();
    assert_eq!((r.message_type, &to[..r.len_to]), (Rx::Pong, &b"Hello"[..]));

    let mut ping = frames::MASKED_HELLO;
    ping[0] = 0x89;
    let r = server.read(&ping, to).unwrap();
    assert_eq!((r.message_type, &to[..r.len_to]), (Rx::Ping, &b"Hello"[..]));
    let n = server.write(Tx::Pong, true, b"Hello", &mut out).unwrap();
    assert_eq!(out[..n], [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);

    for (len, header) in [
        (256, &frames::HEADER_256[..]),
        (65536, &frames::HEADER_64K[..]),
    ] {
        let payload = &mut src[..len];
        for (j, b) in payload.iter_mut().enumerate() {
            *b = frames::pattern(len, j);
        }
        let n = server.write(Tx::Binary, true, payload, big).unwrap();
        assert_eq!(n, header.len() + len);
        assert_eq!(&big[..header.len()], header);
        assert_eq!(&big[header.len()..n], &payload[..]);
        let r = client.read(&big[..n], to).unwrap();
        assert_eq!((r.len_from, r.len_to), (n, len));
        assert_eq!((r.message_type, r.end_of_message), (Rx::Binary, true));
        assert_eq!(&to[..len], &src[..len]);
    }
}

/// Server handshake: parse RFC 6455 section 1.3's request (httparse, as
/// its server example does), `read_http_header`, `server_accept`.
#[inline(never)]
pub fn server_handshake(rounds: usize) {
    for _ in 0..rounds {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(_)) = request.parse(black_box(frames::REQUEST)) else {
            panic!("the RFC's request parses");
        };
        assert_eq!(request.path, Some("/chat"));
        let headers = request.headers.iter().map(|h| (h.name, h.value));
        let ctx = ws::read_http_header(headers).unwrap().unwrap();
        assert_eq!(ctx.sec_websocket_key.as_str(), frames::KEY);
        let mut server = WebSocketServer::new_server();
        let mut out = [0u8; 256];
        let n = server
            .server_accept(&ctx.sec_websocket_key, None, &mut out)
            .unwrap();
        let res = &out[..n];
        assert!(res.starts_with(b"HTTP/1.1 101 "));
        assert_eq!(&res[n - 32..n - 4], frames::ACCEPT);
        black_box(res);
    }
}

/// Client handshake: `client_connect` (the request), `client_accept` (the
/// 101).
#[inline(never)]
pub fn client_handshake(rounds: usize) {
    for _ in 0..rounds {
        let mut client = WebSocketClient::new_client(black_box(Rng::new()));
        let mut out = [0u8; 256];
        let (n, key) = client.client_connect(&OPTIONS, &mut out).unwrap();
        assert!(out[..n].starts_with(b"GET /chat HTTP/1.1\r\n"));
        assert_eq!(key.as_str(), frames::KEY);
        black_box(&out[..n]);
        let (len, _) = client
            .client_accept(&key, black_box(frames::RESPONSE))
            .unwrap();
        assert_eq!(len, frames::RESPONSE.len());
        assert_eq!(client.state, WebSocketState::Open);
    }
}

/// A server decoding `count` binary frames of `len` bytes (masked or not),
/// each payload read into `to`; `FULL` checks every payload byte,
/// otherwise each frame's type and length.
#[inline(never)]
pub fn decode<const FULL: bool>(
    ws: &mut WebSocketServer,
    input: &[u8],
    to: &mut [u8],
    count: usize,
    len: usize,
) {
    let mut at = 0;
    let mut i = 0;
    while at < input.len() {
        let r = ws.read(&input[at..], to).expect("decode");
        at += r.len_from;
        assert!(r.message_type == Rx::Binary && r.end_of_message && r.len_to == len);
        if FULL {
            frames::check_payload(i, &to[..r.len_to], len);
        } else {
            black_box(&to[..r.len_to]);
        }
        i += 1;
    }
    assert_eq!(i, count);
}

/// A client writing `count` masked binary frames of `payload` into `out`
/// back to back; returns the bytes written.
#[inline(never)]
pub fn encode_client(
    ws: &mut WebSocketClient<Rng>,
    payload: &[u8],
    out: &mut [u8],
    count: usize,
) -> usize {
    let mut at = 0;
    for _ in 0..count {
        at += ws
            .write(Tx::Binary, true, payload, &mut out[at..])
            .expect("write");
    }
    at
}

/// Close handshake, server side: `close` 1000, read the client's echo,
/// closed.
#[inline(never)]
pub fn close(ws: &mut WebSocketServer, out: &mut [u8; 16], to: &mut [u8]) {
    let n = ws
        .close(WebSocketCloseStatusCode::NormalClosure, None, out)
        .unwrap();
    assert_eq!(out[..n], frames::CLOSE_1000);
    assert_eq!(ws.state, WebSocketState::CloseSent);
    let r = ws.read(black_box(&frames::MASKED_CLOSE_1000), to).unwrap();
    assert_eq!(r.len_from, frames::MASKED_CLOSE_1000.len());
    assert_eq!(r.message_type, Rx::CloseCompleted);
    assert_eq!(
        r.close_status,
        Some(WebSocketCloseStatusCode::NormalClosure)
    );
    assert_eq!(ws.state, WebSocketState::Closed);
}

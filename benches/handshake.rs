//! The opening handshake: Sec-WebSocket-Accept, parsing the RFC 6455
//! section 1.3 request, validating the response, each next to memcpy of
//! the same bytes.
//!
//! `cargo bench --bench handshake`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sansws::handshake::{
    ClientHandshake, ClientRequest, EMPTY_HEADER, Limits, ServerResponse, accept_key, parse_request,
};

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\r\n";

fn handshake(c: &mut Criterion) {
    let mut g = c.benchmark_group("handshake");
    let mut dst = [0u8; 512];

    g.throughput(Throughput::Bytes(24));
    g.bench_function("accept_key (SHA-1 + base64)", |b| {
        b.iter(|| accept_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });

    g.throughput(Throughput::Bytes(REQUEST.len() as u64));
    g.bench_function("memcpy of the request", |b| {
        b.iter(|| {
            dst[..REQUEST.len()].copy_from_slice(black_box(REQUEST));
            black_box(&dst);
        })
    });
    g.bench_function("parse and validate the request", |b| {
        b.iter(|| {
            let mut headers = [EMPTY_HEADER; 16];
            let r = parse_request(black_box(REQUEST), &mut headers, &Limits::DEFAULT).unwrap();
            black_box(r.is_complete())
        })
    });
    g.bench_function("parse the request and write the 101", |b| {
        b.iter(|| {
            let mut headers = [EMPTY_HEADER; 16];
            let Ok(sansws::Status::Complete(sansws::handshake::Outcome::Upgrade(u))) =
                parse_request(black_box(REQUEST), &mut headers, &Limits::DEFAULT)
            else {
                unreachable!()
            };
            black_box(
                ServerResponse::accept(&u)
                    .protocol(Some("chat"))
                    .write(&mut dst)
                    .unwrap(),
            )
        })
    });

    let hs = ClientHandshake::new(*b"the sample nonce");
    let req = ClientRequest {
        protocols: &["chat", "superchat"],
        ..ClientRequest::new("server.example.com", "/chat")
    };
    g.throughput(Throughput::Bytes(RESPONSE.len() as u64));
    g.bench_function("memcpy of the response", |b| {
        b.iter(|| {
            dst[..RESPONSE.len()].copy_from_slice(black_box(RESPONSE));
            black_box(&dst);
        })
    });
    g.bench_function("validate the response", |b| {
        b.iter(|| {
            let mut headers = [EMPTY_HEADER; 16];
            black_box(
                hs.parse_response(&req, black_box(RESPONSE), &mut headers, &Limits::DEFAULT)
                    .unwrap()
                    .is_complete(),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = handshake
}
criterion_main!(benches);

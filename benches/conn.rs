//! Decode and encode through the Connection, against memcpy of the same
//! bytes in the same group.
//!
//! `cargo bench --bench conn`
//!
//! Decoding unmasks in place; masking is its own inverse, so decoding the
//! same binary frames again costs the same and needs no reset.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sansws::conn::{Config, Connection, DataKind, Event, Instant, MaskKeys, MessagePart};
use sansws::wire::{FrameHeader, OpCode, Rsv};

#[path = "support/frames.rs"]
mod frames;
use frames::frames;

/// Feeds the whole buffer; returns payload bytes seen.
fn decode<K: MaskKeys>(conn: &mut Connection<K>, buf: &mut [u8]) -> usize {
    let mut at = 0;
    let mut seen = 0;
    while at < buf.len() {
        let r = conn.handle_read(&mut buf[at..]).unwrap();
        at += r.consumed;
        if let Some(Event::Data(d)) = r.event {
            seen += d.payload.len();
        }
    }
    seen
}

fn keys() -> impl FnMut() -> [u8; 4] + Clone {
    let mut s = 1u32;
    move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s.to_le_bytes()
    }
}

fn bench_decode(c: &mut Criterion) {
    for (name, count, len) in [
        ("decode/1M x 16 B", 1_000_000, 16),
        ("decode/1000 x 64 KiB", 1000, 64 << 10),
    ] {
        let mut g = c.benchmark_group(name);
        let mut masked = frames(count, len, true);
        let mut unmasked = frames(count, len, false);
        g.throughput(Throughput::Bytes(masked.len() as u64));
        let mut dst = vec![0u8; masked.len()];
        g.bench_function("memcpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&masked));
                black_box(&dst);
            })
        });
        g.bench_function("server (masked)", |b| {
            b.iter(|| {
                let mut conn = Connection::server(Config::HOST, Instant::ZERO);
                black_box(decode(&mut conn, &mut masked))
            })
        });
        g.throughput(Throughput::Bytes(unmasked.len() as u64));
        g.bench_function("client (unmasked)", |b| {
            b.iter(|| {
                let mut conn = Connection::client(Config::HOST, keys(), Instant::ZERO);
                black_box(decode(&mut conn, &mut unmasked))
            })
        });
        g.finish();
    }
}

fn bench_encode(c: &mut Criterion) {
    for (name, count, len) in [
        ("encode/1M x 16 B", 1_000_000usize, 16usize),
        ("encode/1000 x 64 KiB", 1000, 64 << 10),
    ] {
        let mut g = c.benchmark_group(name);
        let payload = vec![0x5au8; len];
        let mut out = vec![0u8; count * (len + 14)];
        let server_bytes = count
            * (len
                + FrameHeader {
                    fin: true,
                    rsv: Rsv::NONE,
                    opcode: OpCode::Binary,
                    mask: None,
                    payload_len: len as u64,
                }
                .encoded_len());
        g.throughput(Throughput::Bytes(server_bytes as u64));
        let src = vec![0x5au8; server_bytes];
        g.bench_function("memcpy", |b| {
            b.iter(|| {
                out[..server_bytes].copy_from_slice(black_box(&src));
                black_box(&out);
            })
        });
        g.bench_function("server send_binary", |b| {
            b.iter(|| {
                let mut conn = Connection::server(Config::HOST, Instant::ZERO);
                let mut at = 0;
                for _ in 0..count {
                    at += conn
                        .send_binary(black_box(&payload), &mut out[at..])
                        .unwrap();
                }
                black_box(at)
            })
        });
        g.bench_function("client send_binary (masking)", |b| {
            b.iter(|| {
                let mut conn = Connection::client(Config::HOST, keys(), Instant::ZERO);
                let mut at = 0;
                for _ in 0..count {
                    at += conn
                        .send_binary(black_box(&payload), &mut out[at..])
                        .unwrap();
                }
                black_box(at)
            })
        });
        let mut header = [0u8; 14];
        let mut inplace = payload.clone();
        g.bench_function("client encode_in_place (header only + mask)", |b| {
            b.iter(|| {
                let mut conn = Connection::client(Config::HOST, keys(), Instant::ZERO);
                let mut total = 0;
                for _ in 0..count {
                    total += conn
                        .encode_in_place(
                            MessagePart::Whole(DataKind::Binary),
                            &mut inplace,
                            &mut header,
                        )
                        .unwrap();
                }
                black_box(total)
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench_decode, bench_encode
}
criterion_main!(benches);

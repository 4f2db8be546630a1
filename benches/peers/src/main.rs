//! sansws next to tungstenite, fastwebsockets, tokio-websockets and
//! embedded-websocket: the same input bytes for every library, medians of
//! several runs in one process, and each library's rate as a ratio to
//! sansws's. Async libraries run on a current-thread tokio runtime over an
//! in-memory stream; sync ones over an in-memory `Read + Write`.
//!
//! `cd benches/peers && cargo run --release` (RUNS=n for more runs).

mod mem;

use std::hint::black_box;
use std::time::{Duration, Instant};

use mem::Mem;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// `count` binary frames of `len` bytes, masked (client to server) or not.
fn frames(count: usize, len: usize, masked: bool) -> Vec<u8> {
    use sansws::wire::{FrameHeader, OpCode, Rsv, apply_mask};
    let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let mut out = Vec::with_capacity(count * (len + 14));
    for i in 0..count {
        let mask = masked.then(|| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes());
        let h = FrameHeader { fin: true, rsv: Rsv::NONE, opcode: OpCode::Binary, mask, payload_len: len as u64 };
        let mut hdr = [0u8; 14];
        let n = h.emit(&mut hdr).unwrap();
        out.extend_from_slice(&hdr[..n]);
        let at = out.len();
        out.extend_from_slice(&payload);
        if let Some(k) = mask {
            apply_mask(&mut out[at..], k, 0);
        }
    }
    out
}

/// Median wall time of `runs` runs (after one warm-up); each run returns a
/// count that is checked to be `expect`.
fn measure(runs: usize, expect: usize, mut f: impl FnMut() -> usize) -> Duration {
    assert_eq!(f(), expect, "warm-up result");
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let got = black_box(f());
            let d = t.elapsed();
            assert_eq!(got, expect);
            d
        })
        .collect();
    times.sort();
    times[runs / 2]
}

struct Row {
    lib: &'static str,
    time: Duration,
}

fn table(title: &str, units: f64, unit: &str, bytes: usize, rows: &[Row]) {
    let base = rows.iter().find(|r| r.lib.starts_with("sansws")).map(|r| r.time).unwrap();
    println!("\n## {title}\n");
    println!("| library | time | {unit}/s | GB/s | sansws is this many times faster |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let s = r.time.as_secs_f64();
        println!(
            "| {} | {:.3} ms | {:.2} M | {:.2} | {:.2}x |",
            r.lib,
            s * 1e3,
            units / s / 1e6,
            bytes as f64 / s / 1e9,
            s / base.as_secs_f64()
        );
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

fn decode(runs: usize, count: usize, len: usize) {
    let input = frames(count, len, true);
    let bytes = input.len();
    let mut rows = Vec::new();

    // sansws, sans-IO: unmask in place in the caller's buffer (masking is
    // its own inverse, so decoding the same bytes again is the same work).
    let mut buf = input.clone();
    rows.push(Row {
        lib: "sansws (Connection, in place)",
        time: measure(runs, count, || {
            use sansws::conn::{Config, Connection, Event, Instant as I};
            let mut conn = Connection::server(Config::HOST, I::ZERO);
            let (mut at, mut n) = (0, 0);
            while at < buf.len() {
                let r = conn.handle_read(&mut buf[at..]).unwrap();
                at += r.consumed;
                if let Some(Event::Data(d)) = r.event {
                    n += usize::from(d.is_message_end());
                }
            }
            n
        }),
    });

    // sansws std adapter: reads into its buffer like the others.
    rows.push(Row {
        lib: "sansws (std_net, read copy)",
        time: measure(runs, count, || {
            use sansws::adapter::std_net::{Options, WebSocket};
            use sansws::conn::{Event, Role};
            let opts = Options { config: sansws::conn::Config::HOST, ..Options::default() };
            let mut ws = WebSocket::from_raw(Mem::new(&input), Role::Server, &opts, &[], Box::new(|| [0; 4]));
            let mut n = 0;
            while let Ok(Some(end)) = ws.read_event(|e| matches!(e, Event::Data(d) if d.is_message_end())) {
                n += usize::from(end);
                if n == count {
                    break;
                }
            }
            n
        }),
    });

    rows.push(Row {
        lib: "tungstenite 0.30",
        time: measure(runs, count, || {
            use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
            let config = WebSocketConfig::default().max_message_size(Some(64 << 20)).max_frame_size(Some(16 << 20));
            let mut ws = WebSocket::from_raw_socket(Mem::new(&input), Role::Server, Some(config));
            (0..count).filter(|_| ws.read().unwrap().is_binary()).count()
        }),
    });

    rows.push(Row {
        lib: "fastwebsockets 0.10",
        time: measure(runs, count, || {
            rt().block_on(async {
                use fastwebsockets::{Role, WebSocket};
                let mut ws = WebSocket::after_handshake(Mem::new(&input), Role::Server);
                ws.set_auto_close(false);
                ws.set_auto_pong(false);
                ws.set_max_message_size(64 << 20);
                let mut n = 0;
                for _ in 0..count {
                    let f = ws.read_frame().await.unwrap();
                    n += usize::from(f.fin);
                }
                n
            })
        }),
    });

    rows.push(Row {
        lib: "tokio-websockets 0.13",
        time: measure(runs, count, || {
            rt().block_on(async {
                use futures_util::StreamExt;
                let mut ws = tokio_websockets::ServerBuilder::new().serve(Mem::new(&input));
                let mut n = 0;
                for _ in 0..count {
                    let m = ws.next().await.unwrap().unwrap();
                    n += usize::from(m.is_binary());
                }
                n
            })
        }),
    });

    let mut to = vec![0u8; len.max(1024)];
    rows.push(Row {
        lib: "embedded-websocket 0.9",
        time: measure(runs, count, || {
            use embedded_websocket::{WebSocketKey, WebSocketReceiveMessageType, WebSocketServer};
            let mut ws = WebSocketServer::new_server();
            let key = WebSocketKey::try_from("dGhlIHNhbXBsZSBub25jZQ==").unwrap();
            let mut scratch = [0u8; 256];
            ws.server_accept(&key, None, &mut scratch).unwrap();
            let (mut at, mut n) = (0, 0);
            while at < input.len() {
                let r = ws.read(&input[at..], &mut to).unwrap();
                at += r.len_from;
                n += usize::from(r.end_of_message && r.message_type == WebSocketReceiveMessageType::Binary);
            }
            n
        }),
    });

    let mut dst = vec![0u8; bytes];
    rows.push(Row {
        lib: "memcpy of the same bytes",
        time: measure(runs, 0, || {
            dst.copy_from_slice(black_box(&input));
            black_box(&dst);
            0
        }),
    });
    table(&format!("decode {count} masked {len}-byte binary frames (server role)"), count as f64, "msg", bytes, &rows);
}

fn encode(runs: usize, count: usize, len: usize) {
    let payload = vec![0x5au8; len];
    let bytes = count * (len + if len < 126 { 2 } else if len < 65536 { 4 } else { 10 });
    let mut out = vec![0u8; bytes];
    let mut rows = Vec::new();

    rows.push(Row {
        lib: "sansws (Connection, into buffer)",
        time: measure(runs, bytes, || {
            use sansws::conn::{Config, Connection, Instant as I};
            let mut conn = Connection::server(Config::HOST, I::ZERO);
            let mut at = 0;
            for _ in 0..count {
                at += conn.send_binary(black_box(&payload), &mut out[at..]).unwrap();
            }
            at
        }),
    });

    rows.push(Row {
        lib: "sansws (std_net, write)",
        time: measure(runs, bytes, || {
            use sansws::adapter::std_net::{Options, WebSocket};
            use sansws::conn::Role;
            let opts = Options { config: sansws::conn::Config::HOST, ..Options::default() };
            let mut ws = WebSocket::from_raw(Mem::new(&[]), Role::Server, &opts, &[], Box::new(|| [0; 4]));
            for _ in 0..count {
                ws.send_binary(black_box(&payload)).unwrap();
            }
            ws.get_ref().written()
        }),
    });

    rows.push(Row {
        lib: "tungstenite 0.30",
        time: measure(runs, bytes, || {
            use tungstenite::protocol::{Message, Role, WebSocket};
            let mut ws = WebSocket::from_raw_socket(Mem::new(&[]), Role::Server, None);
            let data = bytes::Bytes::from(payload.clone());
            for _ in 0..count {
                ws.write(Message::Binary(data.clone())).unwrap();
            }
            ws.flush().unwrap();
            ws.get_ref().written()
        }),
    });

    rows.push(Row {
        lib: "fastwebsockets 0.10",
        time: measure(runs, bytes, || {
            rt().block_on(async {
                use fastwebsockets::{Frame, Payload, Role, WebSocket};
                let mut ws = WebSocket::after_handshake(Mem::new(&[]), Role::Server);
                for _ in 0..count {
                    ws.write_frame(Frame::binary(Payload::Borrowed(&payload))).await.unwrap();
                }
                ws.into_inner().written()
            })
        }),
    });

    rows.push(Row {
        lib: "tokio-websockets 0.13",
        time: measure(runs, bytes, || {
            rt().block_on(async {
                use futures_util::SinkExt;
                let mut ws = tokio_websockets::ServerBuilder::new().serve(Mem::new(&[]));
                let data = bytes::Bytes::from(payload.clone());
                for _ in 0..count {
                    ws.feed(tokio_websockets::Message::binary(data.clone())).await.unwrap();
                }
                ws.flush().await.unwrap();
                ws.get_ref().written()
            })
        }),
    });

    rows.push(Row {
        lib: "embedded-websocket 0.9",
        time: measure(runs, bytes, || {
            use embedded_websocket::{WebSocketKey, WebSocketSendMessageType, WebSocketServer};
            let mut ws = WebSocketServer::new_server();
            let key = WebSocketKey::try_from("dGhlIHNhbXBsZSBub25jZQ==").unwrap();
            let mut scratch = [0u8; 256];
            ws.server_accept(&key, None, &mut scratch).unwrap();
            let mut at = 0;
            for _ in 0..count {
                at += ws.write(WebSocketSendMessageType::Binary, true, black_box(&payload), &mut out[at..]).unwrap();
            }
            at
        }),
    });

    let src = vec![0x5au8; bytes];
    rows.push(Row {
        lib: "memcpy of the same bytes",
        time: measure(runs, 0, || {
            out.copy_from_slice(black_box(&src));
            black_box(&out);
            0
        }),
    });
    table(&format!("encode {count} {len}-byte binary frames (server role, unmasked)"), count as f64, "msg", bytes, &rows);
}

/// The plain reference: XOR eight bytes at a time.
fn u64_loop(buf: &mut [u8], key: [u8; 4]) {
    let k = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ k).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

fn masking(runs: usize) {
    println!("\n## masking (in place), GB/s; in brackets sansws's speed as a multiple of that column's\n");
    println!("| size | sansws apply_mask | fastwebsockets unmask | u64 loop | memcpy |");
    println!("|---|---|---|---|---|");
    for size in [16usize, 125, 1024, 4096, 64 << 10, 1 << 20, 16 << 20] {
        // Enough repetitions for about 256 MiB per measurement.
        let reps = ((256usize << 20) / size).max(1);
        let mut buf = vec![0x5au8; size];
        let src = vec![0x5au8; size];
        let mut dst = vec![0u8; size];
        let t = |f: &mut dyn FnMut()| {
            measure(runs, 0, || {
                for _ in 0..reps {
                    f();
                }
                0
            })
            .as_secs_f64()
        };
        let ours = t(&mut || {
            sansws::wire::apply_mask(black_box(&mut buf[..]), KEY, 0);
        });
        let fast = t(&mut || fastwebsockets::unmask(black_box(&mut buf[..]), KEY));
        let plain = t(&mut || u64_loop(black_box(&mut buf[..]), KEY));
        let copy = t(&mut || {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        });
        let gbs = |s: f64| (size * reps) as f64 / s / 1e9;
        println!(
            "| {size} B | {:.2} | {:.2} ({:.2}x) | {:.2} ({:.2}x) | {:.2} ({:.2}x) |",
            gbs(ours),
            gbs(fast),
            fast / ours,
            gbs(plain),
            plain / ours,
            gbs(copy),
            copy / ours
        );
    }
}

fn main() {
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    println!("# sansws and its peers, one process, median of {runs} runs");
    masking(runs);
    decode(runs, 1_000_000, 16);
    decode(runs, 1000, 64 << 10);
    encode(runs, 1_000_000, 16);
    encode(runs, 1000, 64 << 10);
}

//! sansws next to tungstenite, fastwebsockets, tokio-websockets and
//! embedded-websocket: the same input bytes for every library, several
//! runs in one process with the contenders interleaved in each run, median
//! times, and each library's time as a ratio to sansws's (the median of the
//! run-by-run ratios). Async libraries run on a current-thread tokio runtime over an
//! in-memory stream; sync ones over an in-memory `Read + Write`.
//!
//! `cd benches/peers && cargo run --release` (RUNS=n for more runs;
//! ONLY=mask,decode,read,read-text,encode for some sections; LENS=16 or
//! LENS=65536 for one message size; LIBS=sansws,memcpy for the rows whose
//! names contain one of those, e.g. to profile one).

mod count;
mod mem;

use std::hint::black_box;
use std::time::{Duration, Instant};

use mem::Mem;

#[path = "../../support/frames.rs"]
mod frames;
use frames::frames;

#[path = "../../support/u64_loop.rs"]
mod u64_loop;
use u64_loop::u64_loop;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Contenders measured together: each run times every contender once, in
/// an order that rotates from run to run, so a burst of load on this
/// shared machine hits all of them alike instead of one library's whole
/// series.
struct Group<'a> {
    entries: Vec<Entry<'a>>,
}

struct Entry<'a> {
    lib: &'static str,
    /// What every call must return (a count of messages or bytes).
    expect: usize,
    f: Box<dyn FnMut() -> usize + 'a>,
}

/// A contender's median time and its median time ratio to the first
/// contender (sansws), taken run by run; the allocations (and bytes asked
/// for) of one whole call, counted on a call of its own after the warm-up.
struct Row {
    lib: &'static str,
    time: Duration,
    ratio: f64,
    allocs: usize,
    alloc_bytes: usize,
}

impl<'a> Group<'a> {
    fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Adds a contender (unless LIBS=a,b names others: a profile of one).
    fn add(&mut self, lib: &'static str, expect: usize, f: impl FnMut() -> usize + 'a) {
        if let Ok(libs) = std::env::var("LIBS")
            && !libs.split(',').any(|l| lib.contains(l))
        {
            return;
        }
        self.entries.push(Entry {
            lib,
            expect,
            f: Box::new(f),
        });
    }

    fn run(mut self, runs: usize) -> Vec<Row> {
        let k = self.entries.len();
        for e in &mut self.entries {
            assert_eq!((e.f)(), e.expect, "{}: warm-up result", e.lib);
        }
        let allocs: Vec<_> = self
            .entries
            .iter_mut()
            .map(|e| {
                let (got, n, bytes) = count::allocations(|| (e.f)());
                assert_eq!(got, e.expect, "{}", e.lib);
                (n, bytes)
            })
            .collect();
        let mut times = vec![Vec::with_capacity(runs); k];
        for r in 0..runs {
            for j in 0..k {
                let e = &mut self.entries[(r + j) % k];
                let t = Instant::now();
                let got = black_box((e.f)());
                let d = t.elapsed();
                assert_eq!(got, e.expect, "{}", e.lib);
                times[(r + j) % k].push(d);
            }
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let base = times[0].clone();
        self.entries
            .iter()
            .zip(times)
            .zip(allocs)
            .map(|((e, t), (allocs, alloc_bytes))| {
                let ratio = median(
                    t.iter()
                        .zip(&base)
                        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
                        .collect(),
                );
                let mut t = t;
                t.sort();
                Row {
                    lib: e.lib,
                    time: t[runs / 2],
                    ratio,
                    allocs,
                    alloc_bytes,
                }
            })
            .collect()
    }
}

fn table(title: &str, units: f64, unit: &str, bytes: usize, rows: &[Row]) {
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
            r.ratio
        );
    }
}

/// [`table`] with each row's allocations and the bytes they asked for,
/// over one whole call of `count` messages (setup included, so a library
/// that allocates nothing per message shows a handful in all), and per
/// message.
fn table_allocs(title: &str, count: usize, bytes: usize, rows: &[Row]) {
    println!("\n## {title}\n");
    println!(
        "| library | time | msg/s | GB/s | sansws is this many times faster | allocations in all (per message) | bytes allocated in all (per message) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let s = r.time.as_secs_f64();
        let per = |n: usize| n as f64 / count as f64;
        println!(
            "| {} | {:.3} ms | {:.2} M | {:.2} | {:.2}x | {} ({:.3}) | {} ({:.1}) |",
            r.lib,
            s * 1e3,
            count as f64 / s / 1e6,
            bytes as f64 / s / 1e9,
            r.ratio,
            r.allocs,
            per(r.allocs),
            r.alloc_bytes,
            per(r.alloc_bytes),
        );
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn decode(runs: usize, count: usize, len: usize) {
    let input = frames(count, len, true);
    let bytes = input.len();
    let mut buf = input.clone();
    let mut to = vec![0u8; len.max(1024)];
    let mut dst = vec![0u8; bytes];
    let mut hot = vec![0u8; 64 << 10];
    let mut g = Group::new();

    // sansws, sans-IO: unmask in place in the caller's buffer (masking is
    // its own inverse, so decoding the same bytes again is the same work).
    g.add("sansws (Connection, in place)", count, || {
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
    });

    // sansws std adapter: reads into its buffer like the others.
    g.add("sansws (std_net, read copy)", count, || {
        use sansws::adapter::std_net::{Options, WebSocket};
        use sansws::conn::{Event, Role};
        let opts = Options {
            config: sansws::conn::Config::HOST,
            ..Options::default()
        };
        let mut ws = WebSocket::from_raw(
            Mem::new(&input),
            Role::Server,
            &opts,
            &[],
            Box::new(|| [0; 4]),
        );
        let mut n = 0;
        while let Ok(Some(end)) =
            ws.read_event(|e| matches!(e, Event::Data(d) if d.is_message_end()))
        {
            n += usize::from(end);
            if n == count {
                break;
            }
        }
        n
    });

    g.add("tungstenite 0.30", count, || {
        use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
        let config = WebSocketConfig::default()
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(16 << 20));
        let mut ws = WebSocket::from_raw_socket(Mem::new(&input), Role::Server, Some(config));
        (0..count)
            .filter(|_| ws.read().unwrap().is_binary())
            .count()
    });

    g.add("fastwebsockets 0.10", count, || {
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
    });

    g.add("tokio-websockets 0.13", count, || {
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
    });

    g.add("embedded-websocket 0.9", count, || {
        use embedded_websocket::{WebSocketKey, WebSocketReceiveMessageType, WebSocketServer};
        let mut ws = WebSocketServer::new_server();
        let key = WebSocketKey::try_from("dGhlIHNhbXBsZSBub25jZQ==").unwrap();
        let mut scratch = [0u8; 256];
        ws.server_accept(&key, None, &mut scratch).unwrap();
        let (mut at, mut n) = (0, 0);
        while at < input.len() {
            let r = ws.read(&input[at..], &mut to).unwrap();
            at += r.len_from;
            n += usize::from(
                r.end_of_message && r.message_type == WebSocketReceiveMessageType::Binary,
            );
        }
        n
    });

    g.add("memcpy of the same bytes", 0, || {
        dst.copy_from_slice(black_box(&input));
        black_box(&dst);
        0
    });
    // Floors: every input byte read once from memory, copied into a buffer
    // that stays in cache (as a socket read would), and only loaded (the
    // least any decoder must do), with the widest loads and prefetching.
    g.add("copy the same bytes into a 64 KiB buffer", 0, || {
        for c in black_box(&input).chunks(hot.len()) {
            hot[..c.len()].copy_from_slice(c);
            black_box(&hot);
        }
        0
    });
    g.add("load every byte once (AVX2, prefetch)", 0, || {
        black_box(read_every_byte(black_box(&input)));
        0
    });
    table(
        &format!("decode {count} masked {len}-byte binary frames (server role)"),
        count as f64,
        "msg",
        bytes,
        &g.run(runs),
    );
}

/// The most one read of the in-memory transport hands out in the
/// whole-message rows, as a socket read of a busy connection would.
const READ_CHUNK: usize = 64 << 10;

/// `count` masked text frames of `len` ASCII bytes (a different key per
/// frame, as [`frames`] does).
fn text_frames(count: usize, len: usize) -> Vec<u8> {
    use sansws::wire::{FrameHeader, OpCode, Rsv, apply_mask};
    let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    let mut out = Vec::with_capacity(count * (len + 14));
    for i in 0..count {
        let key = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes();
        let h = FrameHeader {
            fin: true,
            rsv: Rsv::NONE,
            opcode: OpCode::Text,
            mask: Some(key),
            payload_len: len as u64,
        };
        let mut hdr = [0u8; 14];
        let n = h.emit(&mut hdr).unwrap();
        out.extend_from_slice(&hdr[..n]);
        let at = out.len();
        out.extend_from_slice(&payload);
        apply_mask(&mut out[at..], key, 0);
    }
    out
}

/// Whole messages through each library's message-reading API, as an
/// application uses it: sansws's blocking `std_net::WebSocket::read()`
/// (default options), tungstenite's `WebSocket::read`, fastwebsockets'
/// `FragmentCollector::read_frame`, tokio-websockets' `Stream::next`. The
/// transport hands out at most [`READ_CHUNK`] bytes per read; each message
/// is checked for its type and dropped before the next read.
fn read(runs: usize, count: usize, len: usize, text: bool) {
    let input = if text {
        text_frames(count, len)
    } else {
        frames(count, len, true)
    };
    let bytes = input.len();
    let mut dst = vec![0u8; bytes];
    let mut hot = vec![0u8; READ_CHUNK];
    let mut hot2 = vec![0u8; READ_CHUNK];
    let mut g = Group::new();

    g.add("sansws (std_net::WebSocket::read)", count, || {
        use sansws::adapter::std_net::{Options, WebSocket};
        use sansws::conn::Role;
        use sansws::message::Message;
        let mut ws = WebSocket::from_raw(
            Mem::chunked(&input, READ_CHUNK),
            Role::Server,
            &Options::default(),
            &[],
            Box::new(|| [0; 4]),
        );
        (0..count)
            .filter(|_| {
                let m = ws.read().unwrap().unwrap();
                if text {
                    matches!(m, Message::Text(_))
                } else {
                    matches!(m, Message::Binary(_))
                }
            })
            .count()
    });

    g.add("tungstenite 0.30 (WebSocket::read)", count, || {
        use tungstenite::protocol::{Role, WebSocket};
        let mut ws =
            WebSocket::from_raw_socket(Mem::chunked(&input, READ_CHUNK), Role::Server, None);
        (0..count)
            .filter(|_| {
                let m = ws.read().unwrap();
                if text { m.is_text() } else { m.is_binary() }
            })
            .count()
    });

    g.add(
        "fastwebsockets 0.10 (FragmentCollector::read_frame)",
        count,
        || {
            rt().block_on(async {
                use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
                let mut ws =
                    WebSocket::after_handshake(Mem::chunked(&input, READ_CHUNK), Role::Server);
                ws.set_auto_close(false);
                ws.set_auto_pong(false);
                ws.set_max_message_size(64 << 20);
                let mut ws = FragmentCollector::new(ws);
                let want = if text { OpCode::Text } else { OpCode::Binary };
                let mut n = 0;
                for _ in 0..count {
                    let f = ws.read_frame().await.unwrap();
                    n += usize::from(f.fin && f.opcode == want);
                }
                n
            })
        },
    );

    g.add("tokio-websockets 0.13 (Stream::next)", count, || {
        rt().block_on(async {
            use futures_util::StreamExt;
            let mut ws =
                tokio_websockets::ServerBuilder::new().serve(Mem::chunked(&input, READ_CHUNK));
            let mut n = 0;
            for _ in 0..count {
                let m = ws.next().await.unwrap().unwrap();
                n += usize::from(if text { m.is_text() } else { m.is_binary() });
            }
            n
        })
    });

    // Reference: the same messages seen as borrowed chunks (no handle
    // shared with the buffer), the least a whole-message read could cost
    // over this adapter.
    g.add(
        "sansws (std_net::WebSocket::read_event, borrowed)",
        count,
        || {
            use sansws::adapter::std_net::{Options, WebSocket};
            use sansws::conn::{DataKind, Event, Role};
            let mut ws = WebSocket::from_raw(
                Mem::chunked(&input, READ_CHUNK),
                Role::Server,
                &Options::default(),
                &[],
                Box::new(|| [0; 4]),
            );
            let want = if text {
                DataKind::Text
            } else {
                DataKind::Binary
            };
            let mut n = 0;
            while n < count {
                let end = ws
                    .read_event(
                        |e| matches!(e, Event::Data(d) if d.is_message_end() && d.kind == want),
                    )
                    .unwrap()
                    .unwrap();
                n += usize::from(end);
            }
            n
        },
    );

    g.add("memcpy of the same bytes", 0, || {
        dst.copy_from_slice(black_box(&input));
        black_box(&dst);
        0
    });
    g.add("copy the same bytes into a 64 KiB buffer", 0, || {
        for c in black_box(&input).chunks(hot.len()) {
            hot[..c.len()].copy_from_slice(c);
            black_box(&hot);
        }
        0
    });
    // The least a server reading masked frames must do with each byte:
    // the read's copy and the unmasking (here in one key phase, with no
    // header to parse), as the rows above that do not share the bytes.
    g.add(
        "copy the same bytes into a 64 KiB buffer, then unmask them",
        0,
        || {
            for c in black_box(&input).chunks(hot2.len()) {
                hot2[..c.len()].copy_from_slice(c);
                sansws::wire::apply_mask(&mut hot2[..c.len()], KEY, 0);
                black_box(&hot2);
            }
            0
        },
    );
    table_allocs(
        &format!(
            "read {count} whole {len}-byte {} messages (server role, masked single frames, reads of at most 64 KiB)",
            if text { "text" } else { "binary" }
        ),
        count,
        bytes,
        &g.run(runs),
    );
}

fn encode(runs: usize, count: usize, len: usize) {
    let payload = vec![0x5au8; len];
    let bytes = count
        * (len
            + if len < 126 {
                2
            } else if len < 65536 {
                4
            } else {
                10
            });
    let mut out = vec![0u8; bytes];
    let mut out2 = vec![0u8; bytes];
    let mut own = payload.clone();
    let src = vec![0x5au8; bytes];
    let mut dst = vec![0u8; bytes];
    let mut g = Group::new();

    g.add("sansws (Connection, into buffer)", bytes, || {
        use sansws::conn::{Config, Connection, Instant as I};
        let mut conn = Connection::server(Config::HOST, I::ZERO);
        let mut at = 0;
        for _ in 0..count {
            at += conn
                .send_binary(black_box(&payload), &mut out[at..])
                .unwrap();
        }
        at
    });

    // The zero-copy sans-IO form: only the header is written; the payload
    // stays where it is (a server does not mask), for a vectored write.
    g.add(
        "sansws (Connection, encode_in_place: header only)",
        bytes,
        || {
            use sansws::conn::{Config, Connection, DataKind, Instant as I};
            let mut conn = Connection::server(Config::HOST, I::ZERO);
            let mut hdr = [0u8; 14];
            let mut total = 0;
            for _ in 0..count {
                let n = conn
                    .encode_in_place(
                        sansws::conn::MessagePart::Whole(DataKind::Binary),
                        black_box(&mut own[..]),
                        &mut hdr,
                    )
                    .unwrap();
                black_box(&hdr);
                total += n + own.len();
            }
            total
        },
    );

    // The blocking adapter's sends, with its default write timeout (each
    // send reads the clock once, for the deadline of the writes after its
    // first) and without one.
    for (name, write_timeout) in [
        (
            "sansws (std_net, write)",
            sansws::adapter::std_net::Options::default().write_timeout,
        ),
        ("sansws (std_net, write, no write timeout)", None),
    ] {
        let payload = &payload;
        g.add(name, bytes, move || {
            use sansws::adapter::std_net::{Options, WebSocket};
            use sansws::conn::Role;
            let opts = Options {
                config: sansws::conn::Config::HOST,
                write_timeout,
                ..Options::default()
            };
            let mut ws =
                WebSocket::from_raw(Mem::new(&[]), Role::Server, &opts, &[], Box::new(|| [0; 4]));
            for _ in 0..count {
                ws.send_binary(black_box(payload)).unwrap();
            }
            ws.get_ref().written()
        });
    }

    g.add("tungstenite 0.30", bytes, || {
        use tungstenite::protocol::{Message, Role, WebSocket};
        let mut ws = WebSocket::from_raw_socket(Mem::new(&[]), Role::Server, None);
        let data = bytes::Bytes::from(payload.clone());
        for _ in 0..count {
            ws.write(Message::Binary(data.clone())).unwrap();
        }
        ws.flush().unwrap();
        ws.get_ref().written()
    });

    g.add("fastwebsockets 0.10", bytes, || {
        rt().block_on(async {
            use fastwebsockets::{Frame, Payload, Role, WebSocket};
            let mut ws = WebSocket::after_handshake(Mem::new(&[]), Role::Server);
            for _ in 0..count {
                ws.write_frame(Frame::binary(Payload::Borrowed(&payload)))
                    .await
                    .unwrap();
            }
            ws.into_inner().written()
        })
    });

    g.add("tokio-websockets 0.13", bytes, || {
        rt().block_on(async {
            use futures_util::SinkExt;
            let mut ws = tokio_websockets::ServerBuilder::new().serve(Mem::new(&[]));
            let data = bytes::Bytes::from(payload.clone());
            for _ in 0..count {
                ws.feed(tokio_websockets::Message::binary(data.clone()))
                    .await
                    .unwrap();
            }
            ws.flush().await.unwrap();
            ws.get_ref().written()
        })
    });

    g.add("embedded-websocket 0.9", bytes, || {
        use embedded_websocket::{WebSocketKey, WebSocketSendMessageType, WebSocketServer};
        let mut ws = WebSocketServer::new_server();
        let key = WebSocketKey::try_from("dGhlIHNhbXBsZSBub25jZQ==").unwrap();
        let mut scratch = [0u8; 256];
        ws.server_accept(&key, None, &mut scratch).unwrap();
        let mut at = 0;
        for _ in 0..count {
            at += ws
                .write(
                    WebSocketSendMessageType::Binary,
                    true,
                    black_box(&payload),
                    &mut out2[at..],
                )
                .unwrap();
        }
        at
    });

    g.add("memcpy of the same bytes", 0, || {
        dst.copy_from_slice(black_box(&src));
        black_box(&dst);
        0
    });
    table(
        &format!("encode {count} {len}-byte binary frames (server role, unmasked)"),
        count as f64,
        "msg",
        bytes,
        &g.run(runs),
    );
}

/// XOR of all of `buf`, 32 bytes per load with the lines 2 KiB ahead
/// prefetched where the CPU has AVX2, 8 bytes at a time otherwise: how fast
/// this machine can merely read the bytes.
fn read_every_byte(buf: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected.
        return unsafe { read_avx2(buf) };
    }
    buf.chunks(8).fold(0, |a, c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        a ^ u64::from_ne_bytes(w)
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn read_avx2(buf: &[u8]) -> u64 {
    use std::arch::x86_64::*;
    let p = buf.as_ptr();
    let n = buf.len() / 128 * 128;
    let (mut a, mut b) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let mut i = 0;
    // SAFETY: loads at i + 96 + 32 <= n <= buf.len(); prefetches only
    // compute an address (wrapping) and never fault.
    unsafe {
        while i < n {
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + 2048).cast());
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + 2048 + 64).cast());
            a = _mm256_xor_si256(a, _mm256_loadu_si256(p.add(i).cast()));
            b = _mm256_xor_si256(b, _mm256_loadu_si256(p.add(i + 32).cast()));
            a = _mm256_xor_si256(a, _mm256_loadu_si256(p.add(i + 64).cast()));
            b = _mm256_xor_si256(b, _mm256_loadu_si256(p.add(i + 96).cast()));
            i += 128;
        }
        let x = _mm256_xor_si256(a, b);
        let lanes: [u64; 4] = std::mem::transmute(x);
        lanes.iter().fold(
            buf[n..].iter().fold(0, |s, &v| s ^ u64::from(v)),
            |s, &l| s ^ l,
        )
    }
}

fn masking(runs: usize) {
    println!(
        "\n## masking (in place), GB/s; in brackets sansws's speed as a multiple of that column's\n"
    );
    println!("| size | sansws apply_mask | fastwebsockets unmask | u64 loop | memcpy |");
    println!("|---|---|---|---|---|");
    for size in [16usize, 125, 1024, 4096, 64 << 10, 1 << 20, 16 << 20] {
        // Enough repetitions for about 256 MiB per measurement.
        let reps = ((256usize << 20) / size).max(1);
        // One buffer per contender, all at the same offset from a 64-byte
        // line (the arena's), so alignment favours none of them.
        let stride = size.div_ceil(64) * 64 + 64;
        let mut arena = vec![0x5au8; 5 * stride];
        let mut parts = arena.chunks_exact_mut(stride).map(|c| &mut c[..size]);
        let (ours, fast, plain, src, dst) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let mut g = Group::new();
        g.add("sansws", 0, || {
            for _ in 0..reps {
                sansws::wire::apply_mask(black_box(&mut ours[..]), KEY, 0);
            }
            0
        });
        g.add("fastwebsockets", 0, || {
            for _ in 0..reps {
                fastwebsockets::unmask(black_box(&mut fast[..]), KEY);
            }
            0
        });
        g.add("u64 loop", 0, || {
            for _ in 0..reps {
                u64_loop(black_box(&mut plain[..]), KEY);
            }
            0
        });
        g.add("memcpy", 0, || {
            for _ in 0..reps {
                dst.copy_from_slice(black_box(&src[..]));
                black_box(&dst);
            }
            0
        });
        let rows = g.run(runs);
        let gbs = |r: &Row| (size * reps) as f64 / r.time.as_secs_f64() / 1e9;
        println!(
            "| {size} B | {:.2} | {:.2} ({:.2}x) | {:.2} ({:.2}x) | {:.2} ({:.2}x) |",
            gbs(&rows[0]),
            gbs(&rows[1]),
            rows[1].ratio,
            gbs(&rows[2]),
            rows[2].ratio,
            gbs(&rows[3]),
            rows[3].ratio
        );
    }
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    // ONLY=mask,decode,read,read-text,encode picks sections (all by default).
    let only = std::env::var("ONLY").unwrap_or_default();
    let on = |s: &str| only.is_empty() || only.split(',').any(|o| o == s);
    println!("# sansws and its peers, one process, median of {runs} runs");
    // LENS=16 or LENS=65536: one message size in decode, read, encode.
    let lens = std::env::var("LENS").unwrap_or_default();
    let len_on = |l: usize| lens.is_empty() || lens.split(',').any(|o| o == l.to_string());
    let sizes = [(1_000_000, 16), (1000, 64 << 10)];
    if on("mask") {
        masking(runs);
    }
    if on("decode") {
        for (count, len) in sizes.into_iter().filter(|&(_, l)| len_on(l)) {
            decode(runs, count, len);
        }
    }
    if on("read") {
        for (count, len) in sizes.into_iter().filter(|&(_, l)| len_on(l)) {
            read(runs, count, len, false);
        }
    }
    if on("read-text") {
        for (count, len) in sizes.into_iter().filter(|&(_, l)| len_on(l)) {
            read(runs, count, len, true);
        }
    }
    if on("encode") {
        for (count, len) in sizes.into_iter().filter(|&(_, l)| len_on(l)) {
            encode(runs, count, len);
        }
    }
}

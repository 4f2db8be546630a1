//! permessage-deflate through the Connection, against miniz_oxide used
//! raw on the same bytes at the same level, and memcpy of the same
//! uncompressed bytes, all in the same group.
//!
//! `cargo bench --features deflate --bench deflate -- --warm-up-time 1 --measurement-time 3`
//!
//! Throughput is in uncompressed bytes for every line, compress and
//! inflate alike, so the lines of a group compare directly.
//!
//! Two kinds of data, at 1 KiB, 64 KiB and 1 MiB:
//! - `json`: telemetry objects (`{"device":"sensor-0007","seq":..,"ts":..,
//!   "temp_c":21.37,...}`), the same keys in every object, numbers that
//!   wander; sent as text, so the inflate line includes UTF-8 validation,
//!   which the raw line does not do.
//! - `binary`: a camera stream and sensor records interleaved every 512
//!   bytes, half each: real JPEG frames (jpeg-encoder, quality 80, noisy
//!   160x120 scenes, a different one per frame: high entropy, a few
//!   percent saved at most) and 16-byte little-endian records
//!   (timestamp, channel, three i16 samples of a sine with noise, flags).
//!
//! Both ends agree `client_no_context_takeover` and
//! `server_no_context_takeover`: every message is compressed on its own,
//! so one compressed message can be replayed each iteration into a
//! connection and inflater that live across iterations (a connection
//! receiving many messages in a row; the inflater keeps its stream going
//! as it would). The client masks with a key of zeros, so unmasking in
//! place (done in full, there is no shortcut for a zero key) leaves the
//! wire bytes as they were for the next iteration. Setting up a fresh
//! server and inflater per message is its own line at 1 KiB.
//!
//! Before the timing, the compression ratios are printed (stderr) for
//! each kind and size, and at 64 KiB for windows of 9, 12 and 15 bits.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output,
};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};
use sansws::conn::deflate::{Deflater, Inflater, MAX_RING, TRAILER};
use sansws::conn::{Config, Connection, DataKind, Event, Instant, MaskKeys};
use sansws::handshake::deflate::DeflateParams;

const SIZES: [(&str, usize); 3] = [("1 KiB", 1 << 10), ("64 KiB", 64 << 10), ("1 MiB", 1 << 20)];

/// Every message compressed on its own, both ways; full windows.
const PARAMS: DeflateParams = DeflateParams {
    server_no_context_takeover: true,
    client_no_context_takeover: true,
    ..DeflateParams::DEFAULT
};

/// A xorshift32 generator: the same data every run.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// Uniform in `-1.0..1.0`.
    fn unit(&mut self) -> f64 {
        f64::from(self.next()) / f64::from(u32::MAX) * 2.0 - 1.0
    }
}

/// `n` bytes of telemetry objects in a JSON array (cut at `n`: ASCII,
/// so still valid UTF-8).
fn json(n: usize) -> Vec<u8> {
    use std::io::Write;
    let mut rng = Rng(0x2545_f491);
    let mut out = Vec::with_capacity(n + 512);
    out.push(b'[');
    let (mut temp, mut rh, mut hpa, mut batt) = (21.4f64, 48.0f64, 1013.2f64, 3.92f64);
    let mut ts = 1_718_000_000_000u64;
    let mut seq = 0u32;
    while out.len() < n {
        if seq > 0 {
            out.push(b',');
        }
        let device = rng.next() % 32;
        ts += 50 + u64::from(rng.next() % 200);
        temp += rng.unit() * 0.2;
        rh = (rh + rng.unit() * 0.5).clamp(5.0, 95.0);
        hpa += rng.unit() * 0.05;
        batt = (batt - 0.0001 + rng.unit() * 0.002).clamp(3.3, 4.2);
        let rssi = -40 - (rng.next() % 50) as i32;
        let status = if rng.next().is_multiple_of(50) {
            "warn"
        } else {
            "ok"
        };
        let (ax, ay, az) = (
            rng.unit() * 0.05,
            -0.981 + rng.unit() * 0.02,
            rng.unit() * 0.05,
        );
        write!(
            out,
            "{{\"device\":\"sensor-{device:04}\",\"seq\":{seq},\"ts\":{ts},\
             \"temp_c\":{temp:.2},\"humidity\":{rh:.1},\"pressure_hpa\":{hpa:.2},\
             \"battery_v\":{batt:.3},\"rssi\":{rssi},\"status\":\"{status}\",\
             \"accel\":[{ax:.3},{ay:.3},{az:.3}]}}"
        )
        .unwrap();
        seq += 1;
    }
    out.truncate(n);
    out
}

/// JPEG frames one after another, at least `n` bytes: 160x120 scenes
/// (a gradient, a moving block, sensor noise), each its own.
fn jpeg_stream(n: usize) -> Vec<u8> {
    const W: usize = 160;
    const H: usize = 120;
    let mut rng = Rng(0x9e37_79b9);
    let mut out = Vec::with_capacity(n + (32 << 10));
    let mut frame = 0usize;
    while out.len() < n {
        let mut rgb = vec![0u8; W * H * 3];
        for y in 0..H {
            for x in 0..W {
                let block = (x + 3 * frame) % W < 40 && (y + frame) % H < 30;
                let base = if block { 200 } else { (x + y) as u32 };
                for c in 0..3 {
                    let noise = rng.next() % 48;
                    rgb[(y * W + x) * 3 + c] = (base + noise + 20 * c as u32).min(255) as u8;
                }
            }
        }
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 80)
            .encode(&rgb, W as u16, H as u16, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out.extend_from_slice(&jpeg);
        frame += 1;
    }
    out
}

/// `n` bytes: 512 of JPEG stream, 512 of 16-byte sensor records, again.
fn binary(n: usize) -> Vec<u8> {
    const PIECE: usize = 512;
    let jpeg = jpeg_stream(n / 2 + PIECE);
    let mut rng = Rng(0x1234_5677);
    let mut records = Vec::with_capacity(n / 2 + PIECE);
    let mut t = 0u32;
    while records.len() < n / 2 + PIECE {
        t += 10;
        let channel = (t / 10 % 8) as u16;
        records.extend_from_slice(&t.to_le_bytes());
        records.extend_from_slice(&channel.to_le_bytes());
        for axis in 0..3 {
            let phase = f64::from(t) / 1000.0 + f64::from(axis) * 2.1;
            let v = phase.sin() * 8000.0 + rng.unit() * 200.0;
            records.extend_from_slice(&(v as i16).to_le_bytes());
        }
        let flags: u16 = if rng.next().is_multiple_of(64) { 1 } else { 0 };
        records.extend_from_slice(&flags.to_le_bytes());
    }
    let mut out = Vec::with_capacity(n);
    let (mut j, mut r) = (jpeg.chunks(PIECE), records.chunks(PIECE));
    while out.len() < n {
        out.extend_from_slice(j.next().unwrap());
        out.extend_from_slice(r.next().unwrap());
    }
    out.truncate(n);
    out
}

/// The client's frame of `data` compressed, masked with a key of zeros.
fn client_frame(kind: DataKind, data: &[u8]) -> Vec<u8> {
    let zero_key = || [0u8; 4];
    let mut client = Connection::client(Config::HOST, zero_key, Instant::ZERO);
    client.set_deflate(PARAMS);
    let mut deflater = Deflater::new(PARAMS.client_max_window_bits, true);
    let payload = deflater.compress(data, true);
    let mut wire = vec![0u8; payload.len() + 14];
    let n = client.send_compressed(kind, payload, &mut wire).unwrap();
    wire.truncate(n);
    wire
}

/// Reads the frames in `wire` and inflates them; returns the bytes
/// inflated.
fn receive<K: MaskKeys, B: AsMut<[u8]>>(
    server: &mut Connection<K>,
    inflater: &mut Inflater<B>,
    wire: &mut [u8],
) -> usize {
    let mut at = 0;
    let mut total = 0;
    while at < wire.len() {
        let r = server.handle_read(&mut wire[at..]).unwrap();
        at += r.consumed;
        if let Some(Event::Data(d)) = r.event {
            let mut used = 0;
            while let Some(chunk) = inflater
                .inflate(server, &d, &d.payload[used..], &mut used)
                .unwrap()
            {
                total += black_box(chunk.payload).len();
            }
        }
    }
    total
}

/// miniz_oxide's raw inflate of `input` (a message with its trailer put
/// back) into a wrapping ring, the stream kept from the last message as
/// the inflater keeps it; returns the bytes inflated.
fn raw_inflate(
    state: &mut DecompressorOxide,
    ring: &mut [u8],
    pos: &mut usize,
    input: &[u8],
) -> usize {
    let mask = ring.len() - 1;
    let mut taken = 0;
    let mut total = 0;
    loop {
        let (status, n_in, n_out) = decompress(
            state,
            &input[taken..],
            ring,
            *pos,
            TINFL_FLAG_HAS_MORE_INPUT,
        );
        taken += n_in;
        total += black_box(&ring[*pos..*pos + n_out]).len();
        *pos = (*pos + n_out) & mask;
        match status {
            TINFLStatus::HasMoreOutput => {}
            TINFLStatus::NeedsMoreInput if taken < input.len() => {}
            TINFLStatus::NeedsMoreInput | TINFLStatus::Done => return total,
            s => panic!("raw inflate: {s:?}"),
        }
    }
}

/// The compressor `Deflater` uses, made the same way.
fn raw_compressor() -> Box<CompressorOxide> {
    Box::new(CompressorOxide::with_params(
        DataFormat::Raw,
        Deflater::LEVEL,
        CompressionStrategy::Default,
        15,
    ))
}

/// Makes `n` bytes of one kind of data.
type Make = fn(usize) -> Vec<u8>;

fn kinds() -> [(&'static str, DataKind, Make); 2] {
    [
        ("json", DataKind::Text, json),
        ("binary", DataKind::Binary, binary),
    ]
}

/// The ratios, once, before any timing.
fn print_ratios() {
    for (name, kind, make) in kinds() {
        for (size, n) in SIZES {
            let data = make(n);
            let payload = Deflater::new(15, true).compress(&data, true).len();
            let wire = client_frame(kind, &data).len();
            eprintln!(
                "ratio {name} {size}: {n} -> {payload} B payload ({wire} B frame): {:.2}x, {:.1}% of the input",
                n as f64 / payload as f64,
                100.0 * payload as f64 / n as f64,
            );
        }
        let data = make(64 << 10);
        for bits in [9u8, 12, 15] {
            let payload = Deflater::new(bits, false).compress(&data, true).len();
            eprintln!(
                "ratio {name} 64 KiB window {bits} bits: {payload} B, {:.2}x",
                data.len() as f64 / payload as f64,
            );
        }
    }
}

fn bench_deflate(c: &mut Criterion) {
    print_ratios();
    for (name, kind, make) in kinds() {
        for (size, n) in SIZES {
            let data = make(n);
            let mut g = c.benchmark_group(format!("deflate/{name} {size}"));
            g.throughput(Throughput::Bytes(n as u64));

            let mut dst = vec![0u8; n];
            g.bench_function("memcpy", |b| {
                b.iter(|| {
                    dst.copy_from_slice(black_box(&data));
                    black_box(&dst);
                })
            });

            // Compress: the Deflater, then its payload framed (server: no mask).
            let mut server = Connection::server(Config::HOST, Instant::ZERO);
            server.set_deflate(PARAMS);
            let mut deflater = Deflater::for_role(&PARAMS, sansws::conn::Role::Server);
            let mut out = vec![0u8; n + n / 8 + 1024];
            g.bench_function("sansws compress+send", |b| {
                b.iter(|| {
                    let payload = deflater.compress(black_box(&data), true);
                    black_box(server.send_compressed(kind, payload, &mut out).unwrap())
                })
            });
            let mut state = raw_compressor();
            let mut raw_out = Vec::new();
            g.bench_function("raw miniz compress (sync flush)", |b| {
                b.iter(|| {
                    raw_out.clear();
                    let (status, _) =
                        compress_to_output(&mut state, black_box(&data), TDEFLFlush::Sync, |b| {
                            raw_out.extend_from_slice(b);
                            true
                        });
                    assert_eq!(status, TDEFLStatus::Okay);
                    state.reset();
                    black_box(raw_out.len())
                })
            });

            // Inflate: the client's frame replayed into a server.
            let mut wire = client_frame(kind, &data);
            let mut server = Connection::server(Config::HOST, Instant::ZERO);
            server.set_deflate(PARAMS);
            let mut inflater = Inflater::new(vec![0u8; MAX_RING].into_boxed_slice());
            assert_eq!(receive(&mut server, &mut inflater, &mut wire), n);
            g.bench_function("sansws read+inflate", |b| {
                b.iter(|| black_box(receive(&mut server, &mut inflater, &mut wire)))
            });
            if n == 1 << 10 {
                let mut ring = vec![0u8; MAX_RING];
                g.bench_function("sansws read+inflate, fresh server+inflater", |b| {
                    b.iter(|| {
                        let mut server = Connection::server(Config::HOST, Instant::ZERO);
                        server.set_deflate(PARAMS);
                        let mut inflater = Inflater::new(&mut ring[..]);
                        black_box(receive(&mut server, &mut inflater, &mut wire))
                    })
                });
            }
            let mut raw_in = Deflater::new(15, true).compress(&data, true).clone();
            raw_in.extend_from_slice(&TRAILER);
            let mut state = Box::new(DecompressorOxide::new());
            let mut ring = vec![0u8; MAX_RING];
            let mut pos = 0;
            assert_eq!(raw_inflate(&mut state, &mut ring, &mut pos, &raw_in), n);
            g.bench_function("raw miniz inflate (32 KiB ring)", |b| {
                b.iter(|| {
                    black_box(raw_inflate(
                        &mut state,
                        &mut ring,
                        &mut pos,
                        black_box(&raw_in),
                    ))
                })
            });
            g.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_deflate
}
criterion_main!(benches);

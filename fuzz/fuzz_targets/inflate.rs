//! permessage-deflate's receive path: frames with RSV1 set or not, FIN set
//! or not, text, binary, continuation and control opcodes, their payloads
//! arbitrary bytes (mostly invalid deflate) or made by a `Deflater` from
//! arbitrary data (valid streams, some of them past the limits or the
//! ring), masked for a server, fed to a Connection in the chunks of a split
//! pattern, each compressed chunk run through an `Inflater` as
//! `conn::deflate`'s tests do.
//!
//! Must hold: no panic; an inflate loop ends with `None` once the chunk's
//! input is all taken, after exactly one frame-end chunk if the chunk ends
//! its frame; inflated chunks are contiguous in their frame and message and
//! within `max_frame_len` and `max_message_len`; a text message is UTF-8
//! at its end; an error latches; the same bytes in one buffer and in the
//! split pattern give the same messages, control events and error. When
//! every message is valid (made by the `Deflater`, or plain), what arrives
//! is a prefix of what was sent, and all of it when no limit or window is
//! exceeded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansws::conn::deflate::{Deflater, Inflater};
use sansws::conn::{Config, Connection, DataKind, Event, Instant, MaskKeys, Role};
use sansws::handshake::deflate::DeflateParams;

/// A cursor over the fuzzer's bytes; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> usize {
        usize::from(self.byte()) | usize::from(self.byte()) << 8
    }

    /// Up to `n` bytes: fewer if the input ends.
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a receiver saw, in order: the differential's unit.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Message(DataKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(String),
    /// An error ended it. Which error is not compared: where the deflate
    /// data turns invalid after output that would fail on its own (a
    /// limit, UTF-8), the error depends on whether that output and the
    /// bad data came in one call.
    Failed,
}

/// Everything taken from the input's first bytes.
struct Setup {
    role: Role,
    params: DeflateParams,
    config: Config,
    ring: usize,
    split: Vec<usize>,
}

/// Largest message made by repeating a record's data: past the small
/// limits (4 KiB), cheap to inflate many times over.
const MAX_REPEATED: usize = 16 << 10;

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let flags = input.byte();
    let windows = input.byte();
    let ring_byte = input.byte();
    let level = input.byte() % 11;
    let small_message = input.u16() % 4097;
    let small_frame = input.u16() % 4097;
    let mut seed = u32::from(input.byte()) | 1;
    let n_split = 1 + usize::from(input.byte() % 8);
    let split: Vec<usize> = (0..n_split)
        .map(|_| {
            let b = input.byte();
            if b & 0x80 == 0 {
                1 + usize::from(b & 15)
            } else {
                1 + usize::from(b & 0x7f) * 64
            }
        })
        .collect();

    let role = if flags & 1 != 0 {
        Role::Client
    } else {
        Role::Server
    };
    let valid_only = flags & 2 != 0;
    let params = DeflateParams {
        client_no_context_takeover: flags & 4 != 0,
        server_no_context_takeover: flags & 8 != 0,
        client_max_window_bits: 8 + (windows & 7),
        server_max_window_bits: 8 + ((windows >> 3) & 7),
    };
    let base = if flags & 64 != 0 {
        Config::HOST
    } else {
        Config::DEFAULT
    };
    let config = Config {
        max_message_len: if flags & 16 != 0 {
            small_message
        } else {
            base.max_message_len
        },
        max_frame_len: if flags & 32 != 0 {
            small_frame
        } else {
            base.max_frame_len
        },
        ..base
    };
    // The peer's side of the agreement: its window, its compressor.
    let peer = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let peer_bits = match peer {
        Role::Client => params.client_max_window_bits,
        Role::Server => params.server_max_window_bits,
    };
    let peer_takeover_off = match peer {
        Role::Client => params.client_no_context_takeover,
        Role::Server => params.server_no_context_takeover,
    };
    // Half the time the ring the agreement asks for; else any window
    // (often smaller than the peer's), the largest, or, with flag 128, a
    // ring that is not a power of two or too small for any window.
    let ring_bits = match windows >> 6 {
        0 | 1 => peer_bits,
        2 => 8 + (ring_byte & 7),
        _ => 15,
    };
    let ring = if flags & 128 == 0 {
        1usize << ring_bits
    } else if ring_byte & 0x80 != 0 {
        usize::from(ring_byte & 0x7f) * 2
    } else {
        (1usize << ring_bits) + usize::from(ring_byte) * 3 + 1
    };
    let setup = Setup {
        role,
        params,
        config,
        ring,
        split,
    };

    // The wire, and what a receiver should get from it if valid_only.
    // Made on first use: it is some 300 KiB.
    let mut deflater = None;
    let new_deflater = || Deflater::with_level(peer_bits, peer_takeover_off, level);
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    // Every message and frame within the limits, the ring holding the
    // peer's window: then everything must arrive.
    let mut within = true;
    let frame = |wire: &mut Vec<u8>, b0: u8, payload: &[u8], seed: &mut u32| {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 17;
        *seed ^= *seed << 5;
        let key = match role {
            Role::Server => Some(seed.to_le_bytes()),
            Role::Client => None,
        };
        push_frame(wire, b0, payload, key);
    };
    while !input.done() {
        let rec = input.byte();
        let len = usize::from(input.byte());
        let bytes = input.take(len).to_vec();
        if rec & 0x80 != 0 {
            // A whole message, compressed by the Deflater.
            let original = expand(bytes, rec >> 3 & 3);
            let kind = if rec & 1 != 0 && core::str::from_utf8(&original).is_ok() {
                DataKind::Text
            } else {
                DataKind::Binary
            };
            let pieces = 1 + usize::from(rec >> 1 & 3);
            let payloads: Vec<Vec<u8>> = if rec & 0x40 == 0 {
                // Compressed whole, the result cut anywhere.
                let whole = deflater
                    .get_or_insert_with(new_deflater)
                    .compress(&original, true)
                    .to_vec();
                cut(&whole, pieces)
            } else {
                // Compressed piece by piece, each flushed.
                let parts = cut(&original, pieces);
                let last = parts.len() - 1;
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        deflater
                            .get_or_insert_with(new_deflater)
                            .compress(p, i == last)
                            .to_vec()
                    })
                    .collect()
            };
            let compressed: usize = payloads.iter().map(Vec::len).sum();
            within &= original.len() <= config.max_message_len
                && original.len() <= config.max_frame_len
                && compressed <= config.max_message_len;
            let last = payloads.len() - 1;
            for (i, p) in payloads.iter().enumerate() {
                within &= p.len() <= config.max_frame_len;
                let opcode = if i == 0 { kind as u8 } else { 0 };
                let rsv1 = if i == 0 { 0x40 } else { 0 };
                let fin = if i == last { 0x80 } else { 0 };
                frame(&mut wire, fin | rsv1 | opcode, p, &mut seed);
                if rec & 0x20 != 0 && i != last {
                    // A ping between fragments.
                    let ping = &original[..original.len().min(5)];
                    frame(&mut wire, 0x89, ping, &mut seed);
                    expected.push(Item::Ping(ping.to_vec()));
                }
            }
            expected.push(Item::Message(kind, original));
        } else if valid_only {
            if rec & 3 == 3 {
                let payload = &bytes[..bytes.len().min(125)];
                if rec & 0x10 != 0 {
                    frame(&mut wire, 0x8a, payload, &mut seed);
                    expected.push(Item::Pong(payload.to_vec()));
                } else {
                    frame(&mut wire, 0x89, payload, &mut seed);
                    expected.push(Item::Ping(payload.to_vec()));
                }
            } else {
                // A plain whole message.
                let kind = if rec & 1 != 0 && core::str::from_utf8(&bytes).is_ok() {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                within &= bytes.len() <= config.max_message_len.min(config.max_frame_len);
                frame(&mut wire, 0x80 | kind as u8, &bytes, &mut seed);
                expected.push(Item::Message(kind, bytes));
            }
        } else {
            // Any frame: opcode, FIN and RSV1 from the record, the payload
            // as it is or, with 0x20, compressed (a flushed piece, or with
            // 0x40 a message's end).
            let opcode = match rec & 3 {
                3 if rec & 0x10 != 0 => 0x8,
                3 => 0x9,
                op => op,
            };
            let fin = if rec & 4 != 0 { 0x80 } else { 0 };
            let rsv1 = if rec & 8 != 0 { 0x40 } else { 0 };
            let payload = if rec & 0x20 != 0 {
                deflater
                    .get_or_insert_with(new_deflater)
                    .compress(&bytes, rec & 0x40 != 0)
                    .to_vec()
            } else {
                bytes
            };
            frame(&mut wire, fin | rsv1 | opcode, &payload, &mut seed);
        }
    }
    within &= ring.min(sansws::conn::deflate::MAX_RING) >= 1 << peer_bits;

    let whole = run(&setup, &wire, false);
    let split = run(&setup, &wire, true);
    assert_eq!(whole, split, "one buffer and the split pattern differ");
    if valid_only {
        let got = match split.last() {
            Some(Item::Failed) => &split[..split.len() - 1],
            _ => &split[..],
        };
        assert!(got.len() <= expected.len(), "more arrived than was sent");
        assert_eq!(
            got,
            &expected[..got.len()],
            "what arrived is not what was sent"
        );
        if within {
            assert_eq!(split, expected, "valid messages within the limits lost");
        }
    }
});

/// A compressed record's data made longer: as it is (0); repeated, which
/// deflate makes short matches of and a small limit refuses (1, 3); or
/// after up to 32 KiB of noise, then the noise's start again (2): matches
/// up to the farthest distance, which a ring under 32 KiB refuses.
fn expand(data: Vec<u8>, mode: u8) -> Vec<u8> {
    if data.is_empty() {
        return data;
    }
    match mode {
        1 | 3 => {
            let n = (data.len() * if mode == 1 { 8 } else { 256 }).min(MAX_REPEATED);
            data.iter().copied().cycle().take(n).collect()
        }
        2 => {
            let mut x = data
                .iter()
                .fold(1u32, |h, &b| h.wrapping_mul(31) ^ u32::from(b))
                | 1;
            let mut out: Vec<u8> = (0..(data.len() * 128).min(32_000))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            out.extend_from_slice(&data);
            out.extend_from_within(..64.min(out.len()));
            out
        }
        _ => data,
    }
}

/// `data` in `n` pieces (some maybe empty), at least one.
fn cut(data: &[u8], n: usize) -> Vec<Vec<u8>> {
    let step = data.len().div_ceil(n).max(1);
    let mut pieces: Vec<Vec<u8>> = data.chunks(step).map(<[u8]>::to_vec).collect();
    while pieces.len() < n {
        pieces.push(Vec::new());
    }
    pieces
}

/// A frame with first byte `b0` (FIN, RSV, opcode), the shortest length,
/// masked with `key` if given.
fn push_frame(wire: &mut Vec<u8>, b0: u8, payload: &[u8], key: Option<[u8; 4]>) {
    wire.push(b0);
    let m = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => wire.push(m | n as u8),
        n @ 126..=0xffff => {
            wire.push(m | 126);
            wire.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            wire.push(m | 127);
            wire.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match key {
        Some(k) => {
            wire.extend_from_slice(&k);
            wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i & 3]));
        }
        None => wire.extend_from_slice(payload),
    }
}

fn run(setup: &Setup, wire: &[u8], split: bool) -> Vec<Item> {
    match setup.role {
        Role::Server => {
            let conn = Connection::server(setup.config, Instant::ZERO);
            receive(conn, setup, wire, split)
        }
        Role::Client => {
            let conn = Connection::client(setup.config, || [1, 2, 3, 4], Instant::ZERO);
            receive(conn, setup, wire, split)
        }
    }
}

/// The message being received.
#[derive(Default)]
struct Open {
    bytes: Vec<u8>,
    /// A chunk of it was handed out.
    started: bool,
    /// Bytes of its current frame handed out (inflated, if compressed).
    frame: usize,
}

impl Open {
    /// Checks a chunk (inflated, or of a plain message) against what came
    /// before; returns the message if the chunk ends it.
    fn push(&mut self, c: &sansws::conn::Data<'_>, config: &Config) -> Option<Item> {
        assert_eq!(c.message_offset, self.bytes.len(), "chunks not contiguous");
        assert_eq!(c.offset, self.frame, "chunks not contiguous in the frame");
        assert_eq!(c.is_message_start(), !self.started);
        let end = c.message_offset + c.payload.len();
        assert!(end <= config.max_message_len, "{end} > max_message_len");
        assert!(c.offset + c.payload.len() <= config.max_frame_len);
        assert!(c.offset + c.payload.len() <= c.frame_len);
        self.bytes.extend_from_slice(c.payload);
        self.started = true;
        self.frame += c.payload.len();
        if c.is_frame_end() {
            assert_eq!(self.frame, c.frame_len);
            self.frame = 0;
        }
        if !c.is_message_end() {
            return None;
        }
        let bytes = core::mem::take(&mut self.bytes);
        if c.kind == DataKind::Text {
            assert!(core::str::from_utf8(&bytes).is_ok(), "text not UTF-8");
        }
        *self = Open::default();
        Some(Item::Message(c.kind, bytes))
    }
}

fn receive<K: MaskKeys>(
    mut conn: Connection<K>,
    setup: &Setup,
    wire: &[u8],
    split: bool,
) -> Vec<Item> {
    let config = setup.config;
    conn.set_deflate(setup.params);
    let mut inflater = Inflater::new(vec![0u8; setup.ring]);
    let mut input = wire.to_vec();
    let mut out = Vec::new();
    let mut open = Open::default();
    let mut error = None;
    let mut start = 0;
    let mut turn = 0;
    let mut at = 0;
    'feed: while start < input.len() {
        let end = if split {
            turn += 1;
            start + setup.split[(turn - 1) % setup.split.len()]
        } else {
            input.len()
        }
        .min(input.len());
        at = start;
        while at < end {
            let left = end - at;
            let r = match conn.handle_read(&mut input[at..end]) {
                Ok(r) => r,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            };
            assert!(r.consumed <= left);
            assert!(r.consumed > 0 || r.event.is_some(), "no progress");
            at += r.consumed;
            match r.event {
                Some(Event::Data(d)) if d.compressed => {
                    let mut used = 0;
                    let mut frame_end = false;
                    loop {
                        match inflater.inflate(&mut conn, &d, &d.payload[used..], &mut used) {
                            Ok(Some(c)) => {
                                assert!(!frame_end, "a chunk after the frame's end");
                                assert!(used <= d.payload.len());
                                assert!(!c.compressed);
                                assert_eq!((c.kind, c.fin), (d.kind, d.fin));
                                if c.payload.is_empty() {
                                    assert!(c.is_frame_end(), "an empty chunk not at the end");
                                }
                                if c.is_frame_end() {
                                    assert!(d.is_frame_end(), "the frame ended early");
                                    frame_end = true;
                                }
                                out.extend(open.push(&c, &config));
                            }
                            Ok(None) => {
                                assert_eq!(used, d.payload.len(), "input left at None");
                                assert_eq!(frame_end, d.is_frame_end(), "no frame-end chunk");
                                break;
                            }
                            Err(e) => {
                                error = Some(e);
                                break 'feed;
                            }
                        }
                    }
                }
                Some(Event::Data(d)) => out.extend(open.push(&d, &config)),
                Some(Event::Ping(p)) => out.push(Item::Ping(p.as_slice().to_vec())),
                Some(Event::Pong(p)) => out.push(Item::Pong(p.as_slice().to_vec())),
                Some(Event::Close(c)) => out.push(Item::Close(format!("{c:?}"))),
                None => {}
            }
        }
        start = end;
    }
    if let Some(e) = error {
        // Latched: the rest of the input, and nothing, get the same error.
        let rest = at.min(input.len());
        assert_eq!(
            conn.handle_read(&mut input[rest..]).err(),
            Some(e),
            "not latched"
        );
        assert_eq!(conn.handle_read(&mut []).err(), Some(e), "not latched");
        out.push(Item::Failed);
    }
    out
}

//! Test harness: frames built by hand, input fed at every split point, and
//! a client/server pair joined by in-memory byte pipes on a simulated clock.
#![allow(dead_code)]

use sansws::Status;
use sansws::conn::{
    Config, Connection, DataKind, Event, Instant, MaskKeys, NoMasking, ProtocolError,
};
use sansws::wire::{CloseFrame, FrameHeader, OpCode, ParseOptions, Rsv, apply_mask};

/// Deterministic mask keys (an LCG), so failures replay.
#[derive(Debug, Clone)]
pub struct TestKeys(pub u32);

impl MaskKeys for TestKeys {
    fn next_key(&mut self) -> [u8; 4] {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0.to_le_bytes()
    }
}

pub type Client = Connection<TestKeys>;
pub type Server = Connection<NoMasking>;

pub fn client(config: Config) -> Client {
    Connection::client(config, TestKeys(1), Instant::ZERO)
}

pub fn server(config: Config) -> Server {
    Connection::server(config, Instant::ZERO)
}

/// One frame as bytes; masked with `mask` if given.
pub fn frame(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let h = FrameHeader {
        fin,
        rsv: Rsv::NONE,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut out = vec![0u8; h.encoded_len() + payload.len()];
    let n = h.emit(&mut out).unwrap();
    out[n..].copy_from_slice(payload);
    if let Some(k) = mask {
        apply_mask(&mut out[n..], k, 0);
    }
    out
}

/// A frame as a client sends it (masked).
pub fn cframe(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    frame(opcode, fin, payload, Some([0x37, 0xfa, 0x21, 0x3d]))
}

/// A frame as a server sends it (unmasked).
pub fn sframe(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    frame(opcode, fin, payload, None)
}

/// An event, owned, for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Data {
        kind: DataKind,
        payload: Vec<u8>,
        offset: usize,
        frame_len: usize,
        message_offset: usize,
        fin: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
    Error(ProtocolError),
}

impl Ev {
    pub fn of(e: &Event<'_>) -> Ev {
        match e {
            Event::Data(d) => Ev::Data {
                kind: d.kind,
                payload: d.payload.to_vec(),
                offset: d.offset,
                frame_len: d.frame_len,
                message_offset: d.message_offset,
                fin: d.fin,
            },
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Close(c) => Ev::Close(c.map(|c| (c.code().0, c.reason().to_string()))),
        }
    }

    pub fn text(s: &str) -> Ev {
        Ev::Data {
            kind: DataKind::Text,
            payload: s.as_bytes().to_vec(),
            offset: 0,
            frame_len: s.len(),
            message_offset: 0,
            fin: true,
        }
    }

    pub fn binary(b: &[u8]) -> Ev {
        Ev::Data {
            kind: DataKind::Binary,
            payload: b.to_vec(),
            offset: 0,
            frame_len: b.len(),
            message_offset: 0,
            fin: true,
        }
    }
}

/// Feeds `bytes` cut at `cuts` (sorted positions), draining each piece;
/// stops at the first error. Checks that `consumed` never exceeds the input
/// and that every piece is consumed entirely.
pub fn feed<K: MaskKeys>(conn: &mut Connection<K>, bytes: &[u8], cuts: &[usize]) -> Vec<Ev> {
    let mut buf = bytes.to_vec();
    let mut events = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let piece = &mut buf[start..end];
        let len = piece.len();
        let mut at = 0;
        loop {
            match conn.handle_read(&mut piece[at..]) {
                Ok(r) => {
                    assert!(r.consumed <= len - at, "consumed beyond the input");
                    at += r.consumed;
                    let progressed = r.consumed > 0 || r.event.is_some();
                    if let Some(e) = r.event {
                        if let Event::Data(d) = &e {
                            // The cached flag says what its definition says.
                            let end = d.offset + d.payload.len() == d.frame_len;
                            assert_eq!(d.is_frame_end(), end, "{d:?}");
                            assert_eq!(d.is_message_end(), end && d.fin, "{d:?}");
                        }
                        events.push(Ev::of(&e));
                    }
                    if at == len && !progressed {
                        break;
                    }
                    assert!(progressed, "no progress with {} bytes left", len - at);
                }
                Err(e) => {
                    // Latched: the same error again, whatever the input.
                    assert_eq!(conn.handle_read(&mut [0x81, 0x00]), Err(e));
                    events.push(Ev::Error(e));
                    return events;
                }
            }
        }
        start = end;
    }
    events
}

/// Merges the data chunks of each frame, so that events from different
/// splits of one stream compare equal.
pub fn normalize(events: Vec<Ev>) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for e in events {
        if let (
            Some(Ev::Data {
                payload: p0,
                offset: o0,
                ..
            }),
            Ev::Data {
                payload, offset, ..
            },
        ) = (out.last_mut(), &e)
            && *offset > 0
            && *o0 + p0.len() == *offset
        {
            p0.extend_from_slice(payload);
            continue;
        }
        out.push(e);
    }
    // An error inside a frame (bad UTF-8) comes after whatever valid part
    // of the frame had arrived, which depends on the split: drop it.
    if let Some(Ev::Error(_)) = out.last() {
        let err = out.pop();
        while let Some(Ev::Data {
            payload,
            offset,
            frame_len,
            ..
        }) = out.last()
        {
            if offset + payload.len() >= *frame_len {
                break;
            }
            out.pop();
        }
        out.extend(err);
    }
    out
}

/// Receives `bytes` whole, at every split point (every split pair for
/// short inputs), and one byte at a time; asserts that all give the same
/// events; returns them (normalized).
pub fn receive_every_way<K: MaskKeys>(make: impl Fn() -> Connection<K>, bytes: &[u8]) -> Vec<Ev> {
    let whole = normalize(feed(&mut make(), bytes, &[]));
    let n = bytes.len();
    let step = if n > 4096 { n / 997 + 1 } else { 1 };
    for cut in (0..=n).step_by(step) {
        let got = normalize(feed(&mut make(), bytes, &[cut]));
        assert_eq!(got, whole, "split at {cut}");
    }
    if n <= 64 {
        for a in 0..=n {
            for b in a..=n {
                assert_eq!(
                    normalize(feed(&mut make(), bytes, &[a, b])),
                    whole,
                    "split at {a},{b}"
                );
            }
        }
    }
    if n <= 300_000 {
        let cuts: Vec<usize> = (1..n).collect();
        assert_eq!(
            normalize(feed(&mut make(), bytes, &cuts)),
            whole,
            "one byte at a time"
        );
    }
    whole
}

/// Parses the frames in `bytes` (as the peer would): `(opcode, fin,
/// payload)` each, unmasked.
pub fn frames_in(bytes: &[u8]) -> Vec<(OpCode, bool, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Ok(Status::Complete((h, n))) = FrameHeader::parse(&bytes[at..], &ParseOptions::STRICT)
        else {
            panic!("bad frame at {at}: {:02x?}", &bytes[at..]);
        };
        let len = h.payload_len as usize;
        let mut p = bytes[at + n..at + n + len].to_vec();
        if let Some(k) = h.mask {
            apply_mask(&mut p, k, 0);
        }
        out.push((h.opcode, h.fin, p));
        at += n + len;
    }
    out
}

/// The close code in a close frame's payload.
pub fn close_code_of(payload: &[u8]) -> Option<u16> {
    CloseFrame::parse(payload).unwrap().map(|f| f.code().0)
}

/// Drains `poll_transmit` into a byte vector.
pub fn drain<K: MaskKeys>(conn: &mut Connection<K>, now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; sansws::wire::MAX_CONTROL_FRAME_LEN];
    while let Some(n) = conn.poll_transmit(now, &mut buf).unwrap() {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A client and a server joined by byte pipes, on a simulated clock.
pub struct Pair {
    pub client: Client,
    pub server: Server,
    pub now: Instant,
    /// Bytes written by the client, not yet read by the server.
    pub to_server: Vec<u8>,
    /// Bytes written by the server, not yet read by the client.
    pub to_client: Vec<u8>,
    pub client_events: Vec<Ev>,
    pub server_events: Vec<Ev>,
    /// Read size for each delivery (0 = all at once).
    pub chunk: usize,
}

impl Pair {
    pub fn new(config: Config) -> Pair {
        Pair {
            client: client(config),
            server: server(config),
            now: Instant::ZERO,
            to_server: Vec::new(),
            to_client: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            chunk: 0,
        }
    }

    fn cuts(&self, len: usize) -> Vec<usize> {
        if self.chunk == 0 {
            Vec::new()
        } else {
            (self.chunk..len).step_by(self.chunk).collect()
        }
    }

    /// Moves every byte in flight, control frames owed included, until
    /// both sides are quiet.
    pub fn run(&mut self) {
        for _ in 0..100 {
            let c = drain(&mut self.client, self.now);
            self.to_server.extend_from_slice(&c);
            let s = drain(&mut self.server, self.now);
            self.to_client.extend_from_slice(&s);
            if self.to_server.is_empty() && self.to_client.is_empty() {
                return;
            }
            let bytes = std::mem::take(&mut self.to_server);
            let cuts = self.cuts(bytes.len());
            let ev = feed(&mut self.server, &bytes, &cuts);
            self.server_events.extend(ev);
            let bytes = std::mem::take(&mut self.to_client);
            let cuts = self.cuts(bytes.len());
            let ev = feed(&mut self.client, &bytes, &cuts);
            self.client_events.extend(ev);
        }
        panic!("pair never went quiet");
    }

    /// Advances the clock to `t`, firing timers on the way.
    pub fn advance_to(&mut self, t: Instant) {
        loop {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(n) if n <= t => {
                    self.now = n.max(self.now);
                    self.client.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
                    self.run();
                }
                _ => break,
            }
        }
        self.now = t;
        self.run();
    }
}

/// A whole message or control frame as the adapters' tests see it.
#[derive(Debug, PartialEq)]
pub enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>),
}

/// Gathers streamed events into [`Got`] messages, for the adapters'
/// `read_event(|e| ...)` loops.
#[derive(Default)]
pub struct Collector {
    data: Vec<u8>,
    done: Option<DataKind>,
    /// Data chunks seen for the current message.
    pub chunks: usize,
}

impl Collector {
    /// The callback's body: a control frame is a message by itself.
    pub fn on_event(&mut self, e: Event<'_>) -> Option<Got> {
        match e {
            Event::Data(d) => {
                self.chunks += 1;
                self.data.extend_from_slice(d.payload);
                if d.is_message_end() {
                    self.done = Some(d.kind);
                }
                None
            }
            Event::Ping(p) => Some(Got::Ping(p.to_vec())),
            Event::Pong(p) => Some(Got::Pong(p.to_vec())),
            Event::Close(c) => Some(Got::Close(c.map(|c| c.code().0))),
        }
    }

    /// After `read_event` returned `r`: `Some(Some(msg))` a message,
    /// `Some(None)` the connection is over, `None` read on.
    pub fn finish(&mut self, r: Option<Option<Got>>) -> Option<Option<Got>> {
        let whole = match (r, self.done.take()) {
            (None, _) => return Some(None),
            (Some(Some(g)), _) => g,
            (Some(None), Some(DataKind::Text)) => {
                Got::Text(String::from_utf8(std::mem::take(&mut self.data)).unwrap())
            }
            (Some(None), Some(DataKind::Binary)) => Got::Binary(std::mem::take(&mut self.data)),
            (Some(None), None) => return None,
        };
        self.chunks = 0;
        Some(Some(whole))
    }
}

/// Reads one message through the blocking embedded-io adapter.
#[cfg(feature = "embedded-io")]
pub fn read_msg<T: embedded_io::Read + embedded_io::Write, K: MaskKeys>(
    w: &mut sansws::adapter::embedded_io::WebSocket<'_, T, K>,
) -> Result<Option<Got>, sansws::adapter::embedded_io::Error<T::Error>> {
    let mut c = Collector::default();
    loop {
        let r = w.read_event(|e| c.on_event(e))?;
        let chunks = c.chunks;
        if let Some(m) = c.finish(r) {
            if let Some(Got::Binary(b)) = &m {
                // Large payloads arrive through the small buffer in pieces.
                assert!(
                    b.len() <= 4096 || chunks > 1,
                    "{} bytes in one chunk",
                    b.len()
                );
            }
            return Ok(m);
        }
    }
}

#[cfg(all(feature = "embedded-io", feature = "std"))]
pub mod peer;

/// Runs `f` and checks it took at least `at_least` ms and not much more
/// than `limit` ms (generous: the machine is shared).
pub fn timed<R>(at_least: u64, limit: u64, f: impl FnOnce() -> R) -> R {
    let t = std::time::Instant::now();
    let r = f();
    let took = t.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(at_least.saturating_sub(2)),
        "{took:?} < {at_least} ms"
    );
    assert!(
        took < std::time::Duration::from_millis(limit + 1500),
        "{took:?} > {limit} ms"
    );
    r
}

/// Options for the embedded adapters' tests, on the host's clock.
#[cfg(all(feature = "embedded-io", feature = "std"))]
pub mod embedded {
    use sansws::adapter::embedded_io::{ClientOptions, ServerOptions, std_clock};
    use sansws::conn::Config;
    use sansws::handshake::ClientRequest;

    use super::TestKeys;

    /// Server options with `config`.
    pub fn sopts(config: Config) -> ServerOptions {
        ServerOptions {
            config,
            ..ServerOptions::new(std_clock)
        }
    }

    /// Client options with `config`, deterministic mask keys.
    pub fn copts(
        req: ClientRequest<'_>,
        nonce: [u8; 16],
        config: Config,
    ) -> ClientOptions<'_, TestKeys> {
        ClientOptions {
            config,
            ..ClientOptions::new(req, nonce, TestKeys(0x9e37_79b9), std_clock)
        }
    }
}

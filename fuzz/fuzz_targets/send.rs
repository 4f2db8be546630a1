//! The send side, as a user drives it: random sequences of commands on one
//! endpoint (every kind of send, fragments, header-only sends with the
//! payload written in random pieces, ping, pong, close, timers, transmit),
//! its bytes delivered to a peer of the other role in random pieces, the
//! peer's answers (pongs, close echo) delivered back.
//!
//! Must hold: the peer parses every byte without a protocol error; it
//! receives exactly the data messages the API accepted, in order; every
//! refused command is refused for the reason the send rules give (data
//! after close, a whole message inside a fragmented one, anything while a
//! payload is owed) and writes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansws::conn::{
    Config, Connection, DataKind, Duration, Event, Instant, MaskKeys, MessagePart, SendError,
};
use sansws::wire::{CloseCode, FrameHeader, MAX_CONTROL_FRAME_LEN};

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

    fn len(&mut self, max: usize) -> usize {
        let v = usize::from(self.byte()) | usize::from(self.byte()) << 8;
        v % (max + 1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|i| self.byte().wrapping_add(i as u8)).collect()
    }

    /// Valid UTF-8 of about `n` bytes, multi-byte characters included.
    fn text(&mut self, n: usize) -> String {
        const CHARS: [char; 6] = ['a', 'Z', ' ', 'é', '€', '😀'];
        let mut s = String::new();
        while s.len() < n {
            s.push(CHARS[usize::from(self.byte()) % CHARS.len()]);
        }
        s
    }

    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// A data message as the peer assembles it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    kind: DataKind,
    bytes: Vec<u8>,
}

/// A frame whose payload is being streamed.
struct Streaming {
    payload: Vec<u8>,
    written: usize,
}

struct Pair<K: MaskKeys, P: MaskKeys> {
    a: Connection<K>,
    b: Connection<P>,
    now: Instant,
    /// Bytes from a not yet delivered to b, and back.
    a_to_b: Vec<u8>,
    b_to_a: Vec<u8>,
    /// Data messages the API accepted, and the one being fragmented.
    sent: Vec<Msg>,
    open: Option<Msg>,
    streaming: Option<Streaming>,
    /// Data messages b received, and the one being assembled.
    got: Vec<Msg>,
    partial: Option<Msg>,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let flags = input.byte();
    let config = Config {
        max_send_frame_len: if flags & 1 != 0 { 7 } else { usize::MAX },
        auto_pong: flags & 2 == 0,
        ping_interval: (flags & 4 != 0).then_some(Duration(40)),
        pong_timeout: Duration(30),
        close_timeout: Duration(50),
        max_frame_len: 1 << 20,
        max_message_len: 1 << 20,
        ..Config::DEFAULT
    };
    let mut seed = u32::from(input.byte()) | 1;
    let keys = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed.to_le_bytes()
    };
    // The peer only answers: no keepalive of its own, which could end it
    // and make it swallow what it is sent.
    let peer = Config {
        ping_interval: None,
        auto_pong: true,
        ..config
    };
    if flags & 8 != 0 {
        let a = Connection::client(config, keys, Instant::ZERO);
        run(Pair::new(a, Connection::server(peer, Instant::ZERO)), input);
    } else {
        let b = Connection::client(peer, keys, Instant::ZERO);
        run(Pair::new(Connection::server(config, Instant::ZERO), b), input);
    }
});

impl<K: MaskKeys, P: MaskKeys> Pair<K, P> {
    fn new(a: Connection<K>, b: Connection<P>) -> Self {
        Self {
            a,
            b,
            now: Instant::ZERO,
            a_to_b: Vec::new(),
            b_to_a: Vec::new(),
            sent: Vec::new(),
            open: None,
            streaming: None,
            got: Vec::new(),
            partial: None,
        }
    }

    /// What the send rules say a data send must give now, if not `Ok`.
    fn refusal(&self, whole: bool, kind: DataKind) -> Option<SendError> {
        if !self.a.is_open() {
            return Some(SendError::Closed);
        }
        if let Some(s) = &self.streaming {
            let owed = (s.payload.len() - s.written) as u64;
            return Some(SendError::PayloadPending { owed });
        }
        match &self.open {
            Some(_) if whole => Some(SendError::FragmentInProgress),
            Some(m) if m.kind != kind => Some(SendError::FragmentKind),
            _ => None,
        }
    }

    /// A data frame the API accepted: `bytes` of a whole message or of a
    /// fragment.
    fn accepted(&mut self, part: MessagePart, bytes: &[u8]) {
        match part {
            MessagePart::Whole(kind) => self.sent.push(Msg {
                kind,
                bytes: bytes.to_vec(),
            }),
            MessagePart::Fragment { kind, fin } => {
                let m = self.open.get_or_insert(Msg {
                    kind,
                    bytes: Vec::new(),
                });
                m.bytes.extend_from_slice(bytes);
                if fin {
                    let m = self.open.take().unwrap();
                    self.sent.push(m);
                }
            }
        }
    }

    fn check<T: core::fmt::Debug>(&self, r: &Result<T, SendError>, whole: bool, kind: DataKind) {
        match (r, self.refusal(whole, kind)) {
            (Ok(_), None) => {}
            (Err(e), Some(want)) => assert_eq!(*e, want),
            // Fragments cannot be refused for being whole; buffer sizes are
            // always enough here.
            (r, want) => panic!("got {r:?}, the rules say {want:?}"),
        }
    }

    fn part(&mut self, input: &mut Input<'_>) -> (MessagePart, DataKind) {
        let kind = if input.byte() & 1 == 0 {
            DataKind::Text
        } else {
            DataKind::Binary
        };
        let kind = self.open.as_ref().map_or(kind, |m| {
            if input.byte() % 8 == 0 { kind } else { m.kind }
        });
        let part = match input.byte() % 3 {
            0 => MessagePart::Whole(kind),
            1 => MessagePart::Fragment { kind, fin: false },
            _ => MessagePart::Fragment { kind, fin: true },
        };
        (part, kind)
    }

    fn payload(&mut self, input: &mut Input<'_>, kind: DataKind, max: usize) -> Vec<u8> {
        let n = input.len(max);
        match kind {
            DataKind::Text => input.text(n).into_bytes(),
            DataKind::Binary => input.bytes(n),
        }
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let mut out = vec![0u8; 1 << 12];
        match input.byte() % 12 {
            0 | 1 => {
                let kind = if input.byte() & 1 == 0 { DataKind::Text } else { DataKind::Binary };
                let p = self.payload(input, kind, 300);
                let r = match kind {
                    DataKind::Text => self.a.send_text(core::str::from_utf8(&p).unwrap(), &mut out),
                    DataKind::Binary => self.a.send_binary(&p, &mut out),
                };
                self.check(&r, true, kind);
                if let Ok(n) = r {
                    assert_eq!(n, self.a.message_len(p.len()));
                    self.a_to_b.extend_from_slice(&out[..n]);
                    self.accepted(MessagePart::Whole(kind), &p);
                }
            }
            2 => {
                let (part, kind) = self.part(input);
                let MessagePart::Fragment { fin, .. } = part else { return };
                let p = self.payload(input, kind, 200);
                let r = self.a.send_fragment(kind, &p, fin, &mut out);
                self.check(&r, false, kind);
                if let Ok(n) = r {
                    self.a_to_b.extend_from_slice(&out[..n]);
                    self.accepted(part, &p);
                }
            }
            3 => {
                let (part, kind) = self.part(input);
                let p = self.payload(input, kind, 200);
                let mut masked = p.clone();
                let mut header = [0u8; FrameHeader::MAX_LEN];
                let r = self.a.encode_in_place(part, &mut masked, &mut header);
                self.check(&r, matches!(part, MessagePart::Whole(_)), kind);
                match r {
                    Ok(n) => {
                        self.a_to_b.extend_from_slice(&header[..n]);
                        self.a_to_b.extend_from_slice(&masked);
                        self.accepted(part, &p);
                    }
                    Err(_) => assert_eq!(masked, p, "a refused send masked the payload"),
                }
            }
            4 => {
                let (part, kind) = self.part(input);
                let p = self.payload(input, kind, 2000);
                let mut header = [0u8; FrameHeader::MAX_LEN];
                let r = self.a.encode_header(part, p.len() as u64, &mut header);
                self.check(&r, matches!(part, MessagePart::Whole(_)), kind);
                if let Ok(start) = r {
                    self.a_to_b.extend_from_slice(&header[..start.header_len]);
                    self.accepted(part, &p);
                    if !p.is_empty() {
                        self.streaming = Some(Streaming { payload: p, written: 0 });
                    }
                    assert_eq!(self.a.payload_owed(), self.streaming.as_ref().map_or(0, |s| s.payload.len() as u64));
                }
            }
            5 | 6 => self.write_payload(input),
            7 => {
                let n = input.len(130);
                let p = input.bytes(n);
                let r = if input.byte() & 1 == 0 { self.a.ping(&p) } else { self.a.pong(&p) };
                match r {
                    Ok(()) => assert!(self.a.is_open() && p.len() <= 125),
                    Err(SendError::Closed) => assert!(!self.a.is_open()),
                    Err(SendError::ControlTooLong) => assert!(p.len() > 125),
                    Err(e) => panic!("{e:?}"),
                }
            }
            8 => {
                let code = [1000u16, 1001, 1003, 3000, 4999, 1005][usize::from(input.byte()) % 6];
                let n = input.len(130);
                let reason = input.text(n);
                let was_open = self.a.is_open();
                let r = self.a.close(CloseCode(code), &reason);
                let valid = code != 1005 && reason.len() <= 123;
                assert_eq!(r.is_ok(), was_open && valid, "{r:?}");
                if r.is_ok() {
                    // A fragmented message left open is never finished.
                    self.open = None;
                }
            }
            9 => {
                self.now = self.now + Duration(u64::from(input.byte() % 64));
                self.a.handle_timeout(self.now);
                self.b.handle_timeout(self.now);
            }
            10 => self.transmit(),
            _ => self.deliver(input.len(64) + 1),
        }
    }

    /// The next piece of the payload owed, through `mask_payload` (or
    /// `payload_written` for a server), sometimes too long on purpose.
    fn write_payload(&mut self, input: &mut Input<'_>) {
        let Some(s) = &mut self.streaming else {
            assert_eq!(self.a.payload_written(1), Err(SendError::NoPayloadOwed));
            return;
        };
        let left = s.payload.len() - s.written;
        let n = input.len(left + 1).max(1);
        let mut chunk = s.payload[s.written..(s.written + n).min(s.payload.len())].to_vec();
        if n > left {
            chunk.push(0);
            let before = chunk.clone();
            let r = self.a.mask_payload(&mut chunk);
            assert_eq!(r, Err(SendError::PayloadOverrun { owed: left as u64 }));
            assert_eq!(chunk, before, "an overrun masked the chunk");
            return;
        }
        let r = if input.byte() & 1 == 0 || matches!(self.a.role(), sansws::conn::Role::Client) {
            self.a.mask_payload(&mut chunk)
        } else {
            self.a.payload_written(chunk.len())
        };
        assert_eq!(r, Ok((left - n) as u64));
        self.a_to_b.extend_from_slice(&chunk);
        s.written += n;
        if s.written == s.payload.len() {
            self.streaming = None;
        }
    }

    /// Both sides' owed control frames onto the wire.
    fn transmit(&mut self) {
        let mut out = [0u8; MAX_CONTROL_FRAME_LEN];
        while let Some(n) = self.a.poll_transmit(self.now, &mut out).unwrap() {
            assert!(self.streaming.is_none(), "a control frame inside a streamed payload");
            self.a_to_b.extend_from_slice(&out[..n]);
        }
        while let Some(n) = self.b.poll_transmit(self.now, &mut out).unwrap() {
            self.b_to_a.extend_from_slice(&out[..n]);
        }
    }

    /// Up to `max` bytes each way.
    fn deliver(&mut self, max: usize) {
        let n = max.min(self.a_to_b.len());
        let mut chunk: Vec<u8> = self.a_to_b.drain(..n).collect();
        let mut at = 0;
        while at < chunk.len() {
            let r = self.b.handle_read(&mut chunk[at..]).expect("the peer found a protocol error");
            at += r.consumed;
            if let Some(Event::Data(d)) = r.event {
                let m = self.partial.get_or_insert(Msg { kind: d.kind, bytes: Vec::new() });
                assert_eq!(m.kind, d.kind);
                assert_eq!(d.message_offset, m.bytes.len());
                m.bytes.extend_from_slice(d.payload);
                if d.is_message_end() {
                    let m = self.partial.take().unwrap();
                    self.got.push(m);
                }
            }
        }
        let n = max.min(self.b_to_a.len());
        let mut chunk: Vec<u8> = self.b_to_a.drain(..n).collect();
        let mut at = 0;
        while at < chunk.len() {
            let r = self.a.handle_read(&mut chunk[at..]).expect("a found a protocol error in b's answers");
            at += r.consumed;
            assert!(!matches!(r.event, Some(Event::Data(_))), "b sent no data");
        }
    }
}

fn run<K: MaskKeys, P: MaskKeys>(mut pair: Pair<K, P>, mut input: Input<'_>) {
    let mut steps = 0;
    while !input.done() && steps < 400 {
        pair.step(&mut input);
        steps += 1;
    }
    // Finish the payload owed, then deliver everything.
    if let Some(s) = pair.streaming.take() {
        let mut rest = s.payload[s.written..].to_vec();
        assert_eq!(pair.a.mask_payload(&mut rest), Ok(0));
        pair.a_to_b.extend_from_slice(&rest);
    }
    for _ in 0..4 {
        pair.transmit();
        pair.deliver(usize::MAX);
    }
    assert_eq!(pair.got, pair.sent, "the peer received other messages than were sent");
}

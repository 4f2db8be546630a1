//! Arbitrary bytes, in arbitrary chunks, into a Connection (server or
//! client, default or strict limits), drained after every chunk, with the
//! clock moving: no panic, `consumed` never exceeds the input, every call
//! makes progress, an error latches, and the assembler agrees.
//!
//! Then differentially, without timers: the whole input in one buffer
//! (each frame's header parsed straight from the input and its payload
//! delivered in the same call) and the same input one byte at a time
//! (headers collected byte by byte) give the same frames, control events,
//! error and end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansws::conn::{Config, Connection, Duration, Event, Instant, MaskKeys};
use sansws::message::Assembler;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some((&seed, bytes)) = rest.split_first() else { return };
    let config = Config {
        max_frame_len: if flags & 1 != 0 { 300 } else { 64 << 10 },
        max_message_len: if flags & 2 != 0 { 500 } else { 256 << 10 },
        auto_pong: flags & 4 == 0,
        ping_interval: (flags & 8 != 0).then_some(Duration(50)),
        pong_timeout: Duration(20),
        close_timeout: Duration(30),
        strict_length: flags & 16 != 0,
        ..Config::DEFAULT
    };
    let mut state = u32::from(seed) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    if flags & 32 != 0 {
        let keys = move || [1, 2, 3, 4];
        run(Connection::client(config, keys, Instant::ZERO), bytes, &mut next, flags);
        let whole = trace(Connection::client(config, keys, Instant::ZERO), bytes, usize::MAX);
        let bytewise = trace(Connection::client(config, keys, Instant::ZERO), bytes, 1);
        assert_eq!(whole, bytewise);
    } else {
        run(Connection::server(config, Instant::ZERO), bytes, &mut next, flags);
        let whole = trace(Connection::server(config, Instant::ZERO), bytes, usize::MAX);
        let bytewise = trace(Connection::server(config, Instant::ZERO), bytes, 1);
        assert_eq!(whole, bytewise);
    }
});

/// What a connection made of `bytes` fed `step` bytes per buffer: each
/// frame's payload joined with its kind and FIN, other events as text, the
/// error, and how it ended after EOF.
fn trace<K: MaskKeys>(mut conn: Connection<K>, bytes: &[u8], step: usize) -> Vec<String> {
    let mut input = bytes.to_vec();
    let mut out = Vec::new();
    let mut frame = Vec::new();
    let mut start = 0;
    'feed: while start < input.len() {
        let end = start.saturating_add(step).min(input.len());
        let mut at = start;
        while at < end {
            match conn.handle_read(&mut input[at..end]) {
                Ok(r) => {
                    at += r.consumed;
                    match r.event {
                        Some(Event::Data(d)) => {
                            frame.extend_from_slice(d.payload);
                            if d.is_frame_end() {
                                out.push(format!("{:?} fin={} {:?}", d.kind, d.fin, frame));
                                frame.clear();
                            }
                        }
                        Some(e) => out.push(format!("{e:?}")),
                        None => {}
                    }
                    if r.consumed == 0 && r.event.is_none() {
                        break;
                    }
                }
                Err(e) => {
                    out.push(format!("error {e:?}"));
                    break 'feed;
                }
            }
        }
        start = end;
    }
    conn.handle_eof();
    out.push(format!("end {:?} {:?}", conn.state(), conn.end()));
    out
}

fn run<K: MaskKeys>(mut conn: Connection<K>, bytes: &[u8], next: &mut impl FnMut() -> u32, flags: u8) {
    let mut input = bytes.to_vec();
    let mut asm = Assembler::new(if flags & 2 != 0 { 500 } else { 256 << 10 });
    let mut out = [0u8; sansws::wire::MAX_CONTROL_FRAME_LEN];
    let mut now = Instant::ZERO;
    let mut latched = None;
    let mut start = 0;
    while start < input.len() {
        let end = (start + 1 + (next() % 300) as usize).min(input.len());
        let mut at = start;
        while at < end {
            let left = end - at;
            match conn.handle_read(&mut input[at..end]) {
                Ok(r) => {
                    assert!(latched.is_none(), "error did not latch");
                    assert!(r.consumed <= left);
                    assert!(r.consumed > 0 || r.event.is_some(), "no progress");
                    at += r.consumed;
                    if let Some(e) = r.event {
                        // The connection validates; the assembler must agree.
                        if let Err(err) = asm.push(&e) {
                            assert!(matches!(err, sansws::message::MessageError::TooLarge { .. }));
                        }
                    }
                }
                Err(e) => {
                    assert!(latched.is_none_or(|l| l == e));
                    latched = Some(e);
                    break;
                }
            }
        }
        while let Ok(Some(n)) = conn.poll_transmit(now, &mut out) {
            assert!(n <= out.len());
        }
        if conn.is_closed() {
            assert_eq!(conn.poll_timeout(), None, "a closed connection has no timer");
        }
        now = now + Duration((next() % 40) as u64);
        conn.handle_timeout(now);
        if latched.is_some() && next() % 4 == 0 {
            break;
        }
        start = end;
    }
    conn.handle_eof();
    assert!(conn.is_closed());
    let _ = (conn.state(), conn.end(), conn.local_close(), conn.remote_close());
}

//! Arbitrary bytes, in arbitrary chunks, into a Connection (server or
//! client, default or strict limits), drained after every chunk, with the
//! clock moving: no panic, `consumed` never exceeds the input, every call
//! makes progress, an error latches, and the assembler agrees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansws::conn::{Config, Connection, Duration, Instant, MaskKeys};
use sansws::message::Assembler;
use sansws::wire::ParseOptions;

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
        parse: if flags & 16 != 0 { ParseOptions::STRICT } else { ParseOptions::DEFAULT },
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
    } else {
        run(Connection::server(config, Instant::ZERO), bytes, &mut next, flags);
    }
});

fn run<K: MaskKeys>(mut conn: Connection<K>, bytes: &[u8], next: &mut impl FnMut() -> u32, flags: u8) {
    let mut input = bytes.to_vec();
    let mut asm = Assembler::new(if flags & 2 != 0 { 500 } else { 256 << 10 });
    let mut out = [0u8; 139];
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

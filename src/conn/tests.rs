use super::*;
use crate::wire::{CloseCode, FrameHeader, OpCode};

fn keys() -> impl FnMut() -> [u8; 4] {
    let mut n = 0u32;
    move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_le_bytes()
    }
}

#[test]
fn message_len_matches_what_is_written() {
    for max in [1usize, 2, 125, 126, 1000, 70_000, usize::MAX] {
        let config = Config {
            max_send_frame_len: max,
            ..Config::DEFAULT
        };
        let mut client = Connection::client(config, keys(), Instant::ZERO);
        let mut server = Connection::server(config, Instant::ZERO);
        let data = [7u8; 140_000];
        let mut out = [0u8; 160_000];
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 140_000] {
            if max < 100 && len > 2000 {
                continue;
            }
            let n = client.send_binary(&data[..len], &mut out).unwrap();
            assert_eq!(n, client.message_len(len), "client max {max} len {len}");
            let n = server.send_binary(&data[..len], &mut out).unwrap();
            assert_eq!(n, server.message_len(len), "server max {max} len {len}");
            let needed = server.message_len(len);
            if needed > 0 {
                assert_eq!(
                    server.send_binary(&data[..len], &mut out[..needed - 1]),
                    Err(SendError::BufferTooSmall(BufferTooSmall { needed }))
                );
            }
        }
    }
}

#[test]
fn a_connection_stays_small() {
    // RAM per connection matters on a device; keep an eye on it.
    let size = core::mem::size_of::<Connection<NoMasking>>();
    assert!(size <= 768, "Connection is {size} bytes");
}

/// A masked (key 0) header of a data frame with `opcode` and FIN
/// announcing `len` bytes in the 64-bit length form.
fn long_header(opcode: u8, fin: bool, len: u64) -> [u8; 14] {
    let mut h = [0; 14];
    h[0] = opcode | if fin { 0x80 } else { 0 };
    h[1] = 0x80 | 127;
    h[2..10].copy_from_slice(&len.to_be_bytes());
    h
}

#[test]
fn a_length_over_u32_max_is_too_large_on_every_target() {
    // The largest limits a 32-bit target can hold. A length past them is
    // refused at its header with the length as announced, whether or not
    // the target's usize could hold it; one within them is taken.
    let max = u32::MAX as usize;
    let config = Config {
        max_frame_len: max,
        max_message_len: max,
        ..Config::DEFAULT
    };
    for limits in [config, Config::DEFAULT, Config::HOST] {
        let limit = limits.max_frame_len as u64;
        for len in [
            1 << 32,
            (1 << 32) + 5,
            1 << 40,
            FrameHeader::MAX_PAYLOAD_LEN,
        ] {
            let err = ProtocolError::FrameTooLarge { len, limit };
            assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
            // A message's first frame, and a continuation of an open one
            // (over the frame limit before the message's).
            let mut conn = Connection::server(limits, Instant::ZERO);
            let mut h = long_header(0x2, true, len);
            assert_eq!(conn.handle_read(&mut h), Err(err), "{len}");
            // Latched, and answered with 1009.
            assert_eq!(conn.handle_read(&mut [0x82, 0x80, 0, 0, 0, 0]), Err(err));
            let code = conn.local_close().map(|(c, _)| c);
            assert_eq!(code, Some(CloseCode::MESSAGE_TOO_BIG));

            let mut conn = Connection::server(limits, Instant::ZERO);
            let mut first = [0x02, 0x81, 0, 0, 0, 0, 7];
            let r = conn.handle_read(&mut first).unwrap();
            assert_eq!(r.consumed, first.len());
            let mut h = long_header(0x0, true, len);
            assert_eq!(conn.handle_read(&mut h), Err(err), "{len}");
        }
    }
    // At the limit: the frame starts and its payload comes as chunks.
    let mut conn = Connection::server(config, Instant::ZERO);
    let mut h = long_header(0x2, true, u64::from(u32::MAX));
    let r = conn.handle_read(&mut h).unwrap();
    assert_eq!((r.consumed, r.event), (14, None));
    let mut payload = [1, 2, 3];
    let r = conn.handle_read(&mut payload).unwrap();
    let Some(Event::Data(d)) = r.event else {
        panic!("{r:?}")
    };
    assert_eq!((d.offset, d.frame_len, d.message_offset), (0, max, 0));
    assert_eq!(d.payload, [1, 2, 3]);
    assert!(!d.is_frame_end());
}

#[test]
fn a_zero_masking_key_is_still_a_masked_frame() {
    // Key 0 leaves the payload as it is, so nothing is unmasked; the frame
    // still counts as masked (a server takes it, a client refuses it).
    let mut frame = [0x82, 0x83, 0, 0, 0, 0, 1, 2, 3];
    let mut server = Connection::server(Config::DEFAULT, Instant::ZERO);
    let r = server.handle_read(&mut frame).unwrap();
    let Some(Event::Data(d)) = r.event else {
        panic!("{r:?}")
    };
    assert_eq!((r.consumed, d.payload), (9, &[1, 2, 3][..]));
    // A ping likewise, payload by value.
    let mut ping = [0x89, 0x82, 0, 0, 0, 0, 7, 8];
    let r = server.handle_read(&mut ping).unwrap();
    let Some(Event::Ping(p)) = r.event else {
        panic!("{r:?}")
    };
    assert_eq!(p.as_slice(), [7, 8]);
    let mut client = Connection::client(Config::DEFAULT, keys(), Instant::ZERO);
    let mut frame = [0x82, 0x83, 0, 0, 0, 0, 1, 2, 3];
    assert_eq!(client.handle_read(&mut frame), Err(ProtocolError::Masked));
}

/// 32-bit targets send every whole message through `send_split`; a
/// message of one frame comes out of it as out of `write_frame` (the
/// 64-bit path), bytes and errors alike, for both roles and every header
/// form.
#[test]
fn a_one_frame_message_through_send_split_is_write_frame_s() {
    fn core(client: bool) -> (Core, impl FnMut() -> [u8; 4]) {
        // Every length one frame.
        let config = Config {
            max_send_frame_len: usize::MAX,
            ..Config::DEFAULT
        };
        let c = if client {
            Connection::client(config, keys(), Instant::ZERO).core
        } else {
            Connection::server(config, Instant::ZERO).core
        };
        (c, keys())
    }
    let data = [0x5au8; 70_000];
    for client in [false, true] {
        for len in [0usize, 1, 125, 126, 65535, 65536] {
            let (mut a, mut ka) = core(client);
            let (b, mut kb) = core(client);
            let mut out_a = [0xa5u8; 70_020];
            let mut out_b = [0xa5u8; 70_020];
            let na = a.send_split(DataKind::Binary, &data[..len], &mut out_a, &mut ka);
            let nb = b.write_frame(OpCode::Binary, true, &data[..len], &mut out_b, &mut kb);
            assert_eq!(na, nb.map_err(SendError::from), "client {client} len {len}");
            assert_eq!(out_a[..], out_b[..], "client {client} len {len}");
            let needed = nb.unwrap();
            let (mut a, mut ka) = core(client);
            assert_eq!(
                a.send_split(
                    DataKind::Binary,
                    &data[..len],
                    &mut out_a[..needed - 1],
                    &mut ka
                ),
                Err(SendError::BufferTooSmall(BufferTooSmall { needed }))
            );
        }
    }
}

use super::*;

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

// Canned peer bytes from RFC 6455 (section 1.3 handshake, section 5.7
// frames), shared by the firmware-shaped examples so they run without a
// network and without threads.

/// What a client sends: the upgrade request, masked "Hello", masked close
/// 1000.
pub const FROM_CLIENT: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
Upgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\
\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\
\x88\x82\x37\xfa\x21\x3d\x34\x12";

/// What a server sends: the 101 for the RFC's nonce, "Hello", close 1000.
pub const FROM_SERVER: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\
\x81\x05Hello\
\x88\x02\x03\xe8";

/// The RFC's nonce ("the sample nonce"); a device draws it from its RNG.
pub const NONCE: [u8; 16] = *b"the sample nonce";

/// Stand-in mask keys; a device uses its hardware RNG (e.g. esp-hal's Rng).
pub fn keys() -> impl FnMut() -> [u8; 4] {
    let mut s = 0x6d2b_79f5u32;
    move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s.to_le_bytes()
    }
}

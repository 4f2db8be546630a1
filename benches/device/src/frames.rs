//! The inputs every library gets, built here with a reference encoder and
//! a byte-at-a-time reference mask (not with either library), and the
//! expected payloads they are checked against.

/// 16-byte frames decoded in the small-frame job.
pub const SMALL_COUNT: usize = 1000;
pub const SMALL_LEN: usize = 16;
/// 1 KiB frames decoded in the large-frame job.
pub const LARGE_COUNT: usize = 100;
pub const LARGE_LEN: usize = 1024;
/// Times the masking job masks its 1 KiB buffer (even: it ends unmasked).
pub const MASK_ROUNDS: usize = 100;
/// Times each handshake is repeated.
pub const HANDSHAKES: usize = 10;

/// Room for the largest input: 100 masked 1 KiB frames.
pub const INPUT_CAP: usize = LARGE_COUNT * (LARGE_LEN + 8);

/// Payload byte `j` of frame `i`.
#[inline(always)]
pub fn pattern(i: usize, j: usize) -> u8 {
    (i.wrapping_mul(31) ^ j.wrapping_mul(7)).wrapping_add(j >> 8) as u8
}

/// Frame `i`'s masking key.
pub fn key(i: usize) -> [u8; 4] {
    ((i as u32).wrapping_add(1))
        .wrapping_mul(2_654_435_761)
        .to_le_bytes()
}

/// The reference mask: one byte at a time, as RFC 6455 section 5.3 writes it.
pub fn mask_reference(buf: &mut [u8], key: [u8; 4]) {
    for (j, b) in buf.iter_mut().enumerate() {
        *b ^= key[j % 4];
    }
}

/// Writes `count` binary frames of `len` bytes (masked with [`key`] if
/// `masked`) into `out`; returns the bytes written.
pub fn binary_frames(out: &mut [u8], count: usize, len: usize, masked: bool) -> usize {
    let mut at = 0;
    for i in 0..count {
        out[at] = 0x82;
        let bit = if masked { 0x80 } else { 0 };
        at += 1;
        if len < 126 {
            out[at] = bit | len as u8;
            at += 1;
        } else if len <= 0xffff {
            out[at] = bit | 126;
            out[at + 1..at + 3].copy_from_slice(&(len as u16).to_be_bytes());
            at += 3;
        } else {
            out[at] = bit | 127;
            out[at + 1..at + 9].copy_from_slice(&(len as u64).to_be_bytes());
            at += 9;
        }
        if masked {
            out[at..at + 4].copy_from_slice(&key(i));
            at += 4;
        }
        for j in 0..len {
            out[at + j] = pattern(i, j);
        }
        if masked {
            mask_reference(&mut out[at..at + len], key(i));
        }
        at += len;
    }
    at
}

/// Checks that `payload` is frame `i`'s payload.
pub fn check_payload(i: usize, payload: &[u8], len: usize) {
    assert_eq!(payload.len(), len, "frame {i}: payload length");
    for (j, &b) in payload.iter().enumerate() {
        assert_eq!(b, pattern(i, j), "frame {i}: payload byte {j}");
    }
}

/// A small deterministic generator (xorshift32): both libraries' client
/// mask keys come from it.
pub struct XorShift(pub u32);

impl XorShift {
    pub fn next(&mut self) -> u32 {
        let mut s = self.0;
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        self.0 = s;
        s
    }
}

/// RFC 6455 section 1.3's request.
pub const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
Upgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";
/// The nonce behind that key.
pub const NONCE: [u8; 16] = *b"the sample nonce";
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// A server's 101 for that key.
pub const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// RFC 6455 section 5.7's frames.
pub const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
pub const HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
pub const HEL_LO: [u8; 9] = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
pub const PING_HELLO: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
pub const MASKED_PONG_HELLO: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
pub const HEADER_256: [u8; 4] = [0x82, 0x7e, 0x01, 0x00];
pub const HEADER_64K: [u8; 10] = [0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
/// A client's masked close 1000 (the echo of a server's close).
pub const MASKED_CLOSE_1000: [u8; 8] = [0x88, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x34, 0x12];
/// A server's close 1000.
pub const CLOSE_1000: [u8; 4] = [0x88, 0x02, 0x03, 0xe8];

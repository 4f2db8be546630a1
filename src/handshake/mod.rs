//! The opening handshake (RFC 6455 section 4), both roles, into and out of
//! caller buffers.
//!
//! - [`accept_key`]: `Sec-WebSocket-Accept` from `Sec-WebSocket-Key`,
//!   through a [`Sha1`]: the `sha1` crate by default ([`sha1_digest`],
//!   feature `sha1`), or the caller's own, e.g. a chip's SHA accelerator
//!   ([`accept_key_with`]).
//! - Server: [`parse_request`] reads a request head zero-copy and tells a
//!   WebSocket upgrade ([`Outcome::Upgrade`], fully validated) from a plain
//!   HTTP request ([`Outcome::Http`], e.g. `GET /` for a page); a broken
//!   upgrade is an error that knows its HTTP status. [`ServerResponse`]
//!   writes the `101`, [`HttpResponse`] a rejection or any other answer.
//! - Client: [`ClientHandshake`] writes the upgrade request for a
//!   [`ClientRequest`] and validates the server's response.
//!
//! Errors keep the peer's doing apart from the caller's. The parsers
//! return a [`HandshakeError`]: what the peer's head got wrong, with the
//! HTTP status to answer it with. The writers return a [`WriteError`]: a
//! value the caller gave that would make a bad head, or an output buffer
//! too small (which names the size needed); either way nothing is written.
//!
//! Parsers need storage for header slots, lent by the caller
//! (`[EMPTY_HEADER; N]`): the parsed request borrows both it and the input.
//! A head longer than [`Limits::max_len`] is refused, also while it is still
//! incomplete, so a peer can never make the caller buffer without bound.

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "deflate")]
pub mod deflate;
mod http;
#[cfg(feature = "server")]
mod server;

#[cfg(all(feature = "client", feature = "std"))]
pub(crate) use client::split_uri;
#[cfg(feature = "client")]
pub use client::{ClientHandshake, ClientRequest};
pub use http::{HttpResponse, Request, Response, reason_phrase};
pub use httparse::{EMPTY_HEADER, Header};
#[cfg(feature = "server")]
pub use server::{Outcome, ServerResponse, UpgradeRequest, parse_request};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use crate::BufferTooSmall;

/// The GUID RFC 6455 appends to the key before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Size limits for a handshake head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes a request or response head (up to and including the
    /// blank line) may have. ESP-IDF's HTTP server allows 512; the default
    /// here is 4096, room for cookies and an `Authorization` header.
    pub max_len: usize,
}

impl Limits {
    /// `max_len` 4096.
    pub const DEFAULT: Self = Self { max_len: 4096 };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A `Sec-WebSocket-Accept` value: 28 base64 characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII; the fallback is never taken.
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The value as bytes.
    pub fn as_bytes(&self) -> &[u8; 28] {
        &self.0
    }
}

impl core::fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AcceptKey({})", self.as_str())
    }
}

/// The one SHA-1 the opening handshake needs: `Sec-WebSocket-Accept` is
/// `base64(SHA-1(key + GUID))` (RFC 6455 section 4.2.2).
///
/// The `sha1` crate is the default provider ([`sha1_digest`], feature
/// `sha1`, on by default). Firmware that has SHA-1 in hardware or ROM
/// (the ESP32's SHA accelerator, `esp_rom_sha1`) builds without the
/// feature and passes its own, which leaves the crate's ~3.5 KB of code
/// out of the image. A function or closure over the parts is one:
///
/// ```
/// use sansws::handshake::{Sha1, accept_key_with};
/// // A stand-in for a driver: here the sha1 crate through the default.
/// let mut sha = |parts: &[&[u8]]| sansws::handshake::sha1_digest(parts);
/// let accept = accept_key_with(b"dGhlIHNhbXBsZSBub25jZQ==", &mut sha);
/// assert_eq!(accept.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub trait Sha1 {
    /// The SHA-1 digest (FIPS 180-4) of `parts`, one after the other, as
    /// if they were one message.
    fn digest(&mut self, parts: &[&[u8]]) -> [u8; 20];
}

impl<F: FnMut(&[&[u8]]) -> [u8; 20]> Sha1 for F {
    fn digest(&mut self, parts: &[&[u8]]) -> [u8; 20] {
        self(parts)
    }
}

/// A SHA-1 as the adapters' options hold it: a plain function, as their
/// clock is (a driver behind it lives in a static, e.g. in a
/// `critical_section::Mutex`).
pub type Sha1Fn = fn(&[&[u8]]) -> [u8; 20];

/// The SHA-1 digest of `parts` by the `sha1` crate (feature `sha1`): the
/// default [`Sha1`], and a `fn` the adapters' options take as it is.
//
// The crate's compression function, with the message padding (FIPS 180-4
// section 5.1.1) done here a byte at a time: the handshake hashes 60 bytes
// once, and the crate's buffered `Digest` front end costs a device image
// about half a kilobyte more.
#[cfg(feature = "sha1")]
pub fn sha1_digest(parts: &[&[u8]]) -> [u8; 20] {
    struct Hasher {
        state: [u32; 5],
        block: [u8; 64],
        at: usize,
    }
    impl Hasher {
        fn push(&mut self, byte: u8) {
            // (`at` is always below 64: the mask only shows the compiler.)
            self.block[self.at % 64] = byte;
            self.at += 1;
            if self.at == self.block.len() {
                sha1::block_api::compress(&mut self.state, core::slice::from_ref(&self.block));
                self.at = 0;
            }
        }
    }
    let mut h = Hasher {
        state: [
            0x6745_2301,
            0xEFCD_AB89,
            0x98BA_DCFE,
            0x1032_5476,
            0xC3D2_E1F0,
        ],
        block: [0; 64],
        at: 0,
    };
    let mut bits = 0u64;
    for part in parts {
        for &b in *part {
            h.push(b);
        }
        bits = bits.wrapping_add((part.len() as u64).wrapping_mul(8));
    }
    h.push(0x80);
    while h.at != 56 {
        h.push(0);
    }
    // Most significant byte first, each the top byte of a shifted copy:
    // shifts by constants (by a variable, a `u64` shift is a call on a
    // 32-bit device).
    for _ in 0..8 {
        h.push((bits >> 56) as u8);
        bits <<= 8;
    }
    // Each word most significant byte first.
    core::array::from_fn(|i| (h.state[i / 4] >> (24 - 8 * (i % 4))) as u8)
}

/// `base64(SHA-1(key + GUID))`, the `Sec-WebSocket-Accept` for a
/// `Sec-WebSocket-Key`, with the `sha1` crate (feature `sha1`; see
/// [`accept_key_with`] for another SHA-1).
///
/// ```
/// // RFC 6455 section 1.3.
/// let accept = sansws::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(accept.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
#[cfg(feature = "sha1")]
pub fn accept_key(key: &[u8]) -> AcceptKey {
    accept_key_with(key, &mut sha1_digest)
}

/// [`accept_key`] through the caller's [`Sha1`].
pub fn accept_key_with(key: &[u8], sha1: &mut impl Sha1) -> AcceptKey {
    let digest = sha1.digest(&[key, GUID.as_bytes()]);
    AcceptKey(base64_of_20(&digest))
}

/// 20 bytes in base64: 28 characters, the last `=`. The one `base64`
/// call of both roles, on one input length (a group of three bytes):
/// the client's 16-byte nonce goes through it too, zero-extended
/// ([`ClientHandshake::with_sha1`]). With its length fixed the encoder
/// folds to a fraction of its size in a device image (its loops for long
/// inputs and its tail cases drop out).
fn base64_of_20(input: &[u8; 20]) -> [u8; 28] {
    // Three bytes at a time, zero-extended to 21: on one input length
    // the encoder folds to one group's code in a loop; the last group's
    // fourth character (of the zero byte) becomes the `=` (tested
    // against the padded engine).
    let mut wide = [0u8; 21];
    // An array copy (`copy_from_slice` is a call that checks lengths).
    if let Some(head) = wide.first_chunk_mut() {
        *head = *input;
    }
    let mut out = [0u8; 28];
    let (groups, _) = wide.as_chunks::<3>();
    let (chars, _) = out.as_chunks_mut::<4>();
    for (group, four) in groups.iter().zip(chars) {
        let _ = STANDARD_NO_PAD.encode_slice(group, four);
    }
    out[27] = b'=';
    out
}

/// What a peer's handshake head got wrong: always the peer's doing, never
/// the caller's.
///
/// The parsers return it ([`parse_request`], [`Request::parse`],
/// [`Response::parse`], [`ClientHandshake::parse_response`]). Each error
/// knows the HTTP status a server answers it with
/// ([`HandshakeError::http_status`]); [`HttpResponse::from_error`] writes
/// that answer. What a caller can get wrong when writing a head is a
/// [`WriteError`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head is longer than [`Limits::max_len`].
    #[error("handshake head exceeds {limit} bytes")]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// More header lines than the caller lent slots for.
    #[error("too many header fields")]
    TooManyHeaders,
    /// Not HTTP/1.x.
    #[error("malformed HTTP head: {0}")]
    Malformed(httparse::Error),
    /// An upgrade request whose method is not `GET`.
    #[error("WebSocket upgrade with a method other than GET")]
    NotGet,
    /// HTTP/1.0: an upgrade needs HTTP/1.1 or later.
    #[error("WebSocket handshake needs HTTP/1.1")]
    HttpVersion,
    /// No `Host` header, or more than one.
    #[error("missing or repeated Host header")]
    BadHost,
    /// `Upgrade` lacks the `websocket` token.
    #[error("Upgrade header lacks the websocket token")]
    NoUpgradeWebSocket,
    /// `Connection` lacks the `upgrade` token.
    #[error("Connection header lacks the upgrade token")]
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Version` missing, repeated, or not `13`.
    #[error("unsupported Sec-WebSocket-Version (13 is supported)")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` missing, repeated, or not base64 of 16 bytes.
    #[error("missing or invalid Sec-WebSocket-Key")]
    InvalidKey,
    /// A `Sec-WebSocket-Protocol` value is not a list of tokens.
    #[error("invalid Sec-WebSocket-Protocol")]
    InvalidProtocol,
    /// The server answered with a status other than 101.
    #[error("server answered HTTP {0} instead of 101")]
    Status(u16),
    /// `Sec-WebSocket-Accept` missing, repeated, or not the expected value.
    #[error("missing or wrong Sec-WebSocket-Accept")]
    BadAccept,
    /// The server chose a subprotocol the client did not offer, or several.
    #[error("server chose a subprotocol that was not offered")]
    UnexpectedProtocol,
    /// The server answered with an extension the client did not offer,
    /// or with more than one.
    #[error("server answered with an extension that was not offered")]
    UnexpectedExtension,
    /// The server's `permessage-deflate` response breaks RFC 7692's rules
    /// or answers none of the client's offers (RFC 7692 section 5: the
    /// client fails the connection).
    #[cfg(feature = "deflate")]
    #[error("invalid permessage-deflate response: {0}")]
    Deflate(deflate::DeflateError),
}

impl HandshakeError {
    /// The HTTP status a server answers this error with: 431 for an
    /// oversized head, 426 (with `Sec-WebSocket-Version: 13`) for a wrong
    /// version, 400 for other request errors.
    ///
    /// The errors only a server's response causes ([`Status`](Self::Status),
    /// [`BadAccept`](Self::BadAccept),
    /// [`UnexpectedProtocol`](Self::UnexpectedProtocol),
    /// [`UnexpectedExtension`](Self::UnexpectedExtension), and with
    /// feature `deflate` `Deflate`) reach a client,
    /// which answers no one; a client that relays for others, as a gateway,
    /// answers them with 502 (Bad Gateway).
    pub const fn http_status(&self) -> u16 {
        match self {
            HandshakeError::TooLarge { .. } | HandshakeError::TooManyHeaders => 431,
            HandshakeError::UnsupportedVersion => 426,
            HandshakeError::Malformed(_)
            | HandshakeError::NotGet
            | HandshakeError::HttpVersion
            | HandshakeError::BadHost
            | HandshakeError::NoUpgradeWebSocket
            | HandshakeError::NoConnectionUpgrade
            | HandshakeError::InvalidKey
            | HandshakeError::InvalidProtocol => 400,
            HandshakeError::Status(_)
            | HandshakeError::BadAccept
            | HandshakeError::UnexpectedProtocol
            | HandshakeError::UnexpectedExtension => 502,
            #[cfg(feature = "deflate")]
            HandshakeError::Deflate(_) => 502,
        }
    }
}

/// Why a handshake head could not be written: always the caller's doing,
/// never a peer's. Nothing was written.
///
/// The writers return it ([`ServerResponse::write`], [`HttpResponse::write`],
/// [`HttpResponse::write_head`], [`ClientHandshake::write_request`]). It has
/// no HTTP status of its own, as no peer caused it; a server that cannot
/// write its answer may still tell the client with a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A value given to the writer would make an invalid or ambiguous head
    /// (a control character, a header name that is no token, a header the
    /// handshake writes itself, a resource not starting with `/`, a status
    /// code out of range); the value is named, e.g. `"header value"`.
    #[error("invalid {0} for a handshake head")]
    InvalidInput(&'static str),
    /// The output buffer is too small; the size needed is named.
    #[error(transparent)]
    BufferTooSmall(#[from] BufferTooSmall),
    /// permessage-deflate cannot be offered or accepted as asked (an
    /// embedded adapter's inflater missing or too small).
    #[cfg(feature = "deflate")]
    #[error("permessage-deflate: {0}")]
    Deflate(deflate::DeflateSetup),
}

/// Header field names that the handshake writers set themselves and callers
/// may not add.
const HANDSHAKE_HEADERS: [&str; 7] = [
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-accept",
    "sec-websocket-protocol",
];

/// A set of ASCII bytes as 128 bits: bit `b % 32` of word `b / 32` for
/// byte `b`. A test is a load and a shift, where a `match` on the bytes
/// compiles to a chain of compares several times its size on a device
/// (and a search in a list of bytes would link `memchr`).
pub(crate) struct ByteSet([u32; 4]);

impl ByteSet {
    /// ASCII letters and digits, and the bytes of `others`.
    pub(crate) const fn alphanumeric_and(others: &[u8]) -> Self {
        let mut words = [0u32; 4];
        let mut b = 0;
        while b < 128 {
            let c = b as u8;
            if c.is_ascii_alphanumeric() {
                words[b / 32] |= 1 << (b % 32);
            }
            b += 1;
        }
        let mut i = 0;
        while i < others.len() {
            let b = others[i] as usize;
            words[b / 32] |= 1 << (b % 32);
            i += 1;
        }
        Self(words)
    }

    /// Whether `b` is in the set.
    pub(crate) fn contains(&self, b: u8) -> bool {
        let b = usize::from(b);
        b < 128 && self.0[b / 32] >> (b % 32) & 1 != 0
    }
}

/// The RFC 9110 token characters (`tchar`).
const TCHAR: ByteSet = ByteSet::alphanumeric_and(b"!#$%&'*+-.^_`|~");

/// An RFC 9110 token character.
fn is_tchar(b: u8) -> bool {
    TCHAR.contains(b)
}

/// Whether `key` is a `Sec-WebSocket-Key`: "a base64-encoded value
/// that, when decoded, is 16 bytes in length" (RFC 6455 section 4.1), in
/// the canonical padded form the `base64` crate's strict decoder accepts.
/// 16 bytes encode to 22 characters and `==`; the 22nd carries 2 bits of
/// data and 4 zero bits, so it is one of `A`, `Q`, `g`, `w`. A check of
/// the shape, not a decode: the same answer as decoding (tested against
/// it), without a decoder in a device's image.
#[cfg(any(test, feature = "server"))]
pub(crate) fn is_key(key: &[u8]) -> bool {
    let [data @ .., last, b'=', b'='] = key else {
        return false;
    };
    const BASE64: ByteSet = ByteSet::alphanumeric_and(b"+/");
    data.len() == 21
        && data.iter().all(|&b| BASE64.contains(b))
        && matches!(last, b'A' | b'Q' | b'g' | b'w')
}

/// A non-empty RFC 9110 token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A header field value we are willing to write: visible ASCII, spaces,
/// tabs and obs-text, no CR, LF or other control character, no
/// leading or trailing white space.
//
// Past the first test the only white space left is space and tab, so
// "nothing to trim" is "no space or tab at either end": [`trim`] is
// in a device's image anyway (the parsers trim), where the two end tests
// cost their own code (tested against them).
fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)) && trim(s).len() == s.len()
}

/// `s` without spaces and tabs at either end: `trim_ascii` for the
/// values it is used on, where the other white space bytes cannot occur
/// (a header value from httparse has no other control byte but tab, nor
/// has a value [`is_field_value`] passed), in less code (tested).
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Whether `s` is `lower`, a lowercase name, in any ASCII case: with
/// one side lowercase already, `eq_ignore_ascii_case` (precompiled at
/// full speed, larger in a device's image) in a loop that lowercases one
/// side (tested against it).
pub(crate) fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    if s.len() != lower.len() {
        return false;
    }
    let mut i = 0;
    while i < s.len() {
        if s[i].to_ascii_lowercase() != lower[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Checks caller-supplied extra headers before they are written.
fn check_extra_headers(headers: &[(&str, &str)]) -> Result<(), WriteError> {
    for (name, value) in headers {
        if !is_token(name.as_bytes()) {
            return Err(WriteError::InvalidInput("header name"));
        }
        if HANDSHAKE_HEADERS
            .iter()
            .any(|h| eq_lower(name.as_bytes(), h.as_bytes()))
        {
            return Err(WriteError::InvalidInput(
                "header (set by the handshake itself)",
            ));
        }
        if !is_field_value(value.as_bytes()) {
            return Err(WriteError::InvalidInput("header value"));
        }
    }
    Ok(())
}

#[cfg(any(feature = "server", all(feature = "client", feature = "deflate")))]
/// The comma-separated elements of every header named `name`, trimmed,
/// empty elements skipped (RFC 9110 section 5.6.1).
pub(crate) fn list_elements<'h, 'b>(
    headers: &'h [Header<'b>],
    name: &'static str,
) -> ListElements<'h, 'b> {
    ListElements {
        headers,
        name,
        rest: &[],
    }
}

#[cfg(any(feature = "server", all(feature = "client", feature = "deflate")))]
/// [`list_elements`]: plain loops, which take a fraction of the code of a
/// `filter`/`flat_map`/`split` chain on a device.
pub(crate) struct ListElements<'h, 'b> {
    headers: &'h [Header<'b>],
    name: &'static str,
    /// What is left of the current header's value.
    rest: &'b [u8],
}

#[cfg(any(feature = "server", all(feature = "client", feature = "deflate")))]
impl<'b> Iterator for ListElements<'_, 'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        loop {
            if let Some(element) = next_element(&mut self.rest) {
                return Some(element);
            }
            let (h, more) = self.headers.split_first()?;
            self.headers = more;
            if h.name.eq_ignore_ascii_case(self.name) {
                self.rest = h.value;
            }
        }
    }
}

#[cfg(any(feature = "server", feature = "client"))]
/// The next non-empty element of what is left of a list value, trimmed,
/// and `rest` moved past it; `None` when only empty elements are left.
fn next_element<'b>(rest: &mut &'b [u8]) -> Option<&'b [u8]> {
    while !rest.is_empty() {
        let mut end = 0;
        while end < rest.len() && rest[end] != b',' {
            end += 1;
        }
        let element = trim(&rest[..end]);
        *rest = rest.get(end + 1..).unwrap_or(&[]);
        if !element.is_empty() {
            return Some(element);
        }
    }
    None
}

#[cfg(any(feature = "server", feature = "client"))]
/// The header fields the handshakes judge, by their index in a [`Scan`]:
/// the lists first (their elements are looked at), then the fields that
/// must come once.
const SCANNED: [&str; 8] = [
    "upgrade",
    "connection",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "host",
    "sec-websocket-version",
    "sec-websocket-key",
    "sec-websocket-accept",
];

#[cfg(any(feature = "server", feature = "client"))]
/// What one pass over a head's header fields found, for the checks of
/// either role: one walk over the fields instead of one per name, on a
/// device a fraction of the code and of the time.
pub(crate) struct Scan<'b> {
    /// Per name in [`SCANNED`]: the value of the one field so named;
    /// `None` if there is none or more than one (what [`Scan::only`] gives,
    /// settled once here instead of at each check). As httparse gives it:
    /// with no white space at either end (it skips space and tab before a
    /// value, cuts them and CR, LF after, and refuses other control bytes;
    /// tested), so the checks compare it untrimmed.
    value: [Option<&'b [u8]>; 8],
    /// Bit `i`: a field named `SCANNED[i]` is present.
    seen: u8,
    /// Bit `i` for the lists: `Upgrade` lists `websocket`, `Connection`
    /// lists `upgrade` (ASCII case-insensitive), a `Sec-WebSocket-Protocol`
    /// element is no token, a `Sec-WebSocket-Extensions` has an element.
    found: u8,
}

#[cfg(any(feature = "server", feature = "client"))]
impl<'b> Scan<'b> {
    pub(crate) const PROTOCOL: usize = 2;
    pub(crate) const HOST: usize = 4;
    #[cfg(feature = "server")]
    pub(crate) const VERSION: usize = 5;
    #[cfg(feature = "server")]
    pub(crate) const KEY: usize = 6;
    #[cfg(feature = "client")]
    pub(crate) const ACCEPT: usize = 7;

    /// Walks `headers` once.
    pub(crate) fn new(headers: &[Header<'b>]) -> Self {
        let (mut value, mut seen, mut found) = ([None; 8], 0u8, 0u8);
        for h in headers {
            let mut i = 0;
            while i < SCANNED.len() && !eq_lower(h.name.as_bytes(), SCANNED[i].as_bytes()) {
                i += 1;
            }
            if i == SCANNED.len() {
                continue;
            }
            value[i] = if seen & (1 << i) == 0 {
                Some(h.value)
            } else {
                None
            };
            seen |= 1 << i;
            let mut rest = h.value;
            while i < Self::HOST
                && let Some(e) = next_element(&mut rest)
            {
                // The element `Upgrade` and `Connection` must list, by
                // index: one call for both.
                const WANTED: [&[u8]; 2] = [b"websocket", b"upgrade"];
                let hit = match WANTED.get(i) {
                    Some(w) => eq_lower(e, w),
                    None if i == Self::PROTOCOL => !is_token(e),
                    None => true,
                };
                found |= u8::from(hit) << i;
            }
        }
        Scan { value, seen, found }
    }

    /// Some `Upgrade` lists `websocket` (ASCII case-insensitive).
    pub(crate) fn upgrade_websocket(&self) -> bool {
        self.found & 1 != 0
    }

    /// Some `Connection` lists `upgrade` (ASCII case-insensitive).
    pub(crate) fn connection_upgrade(&self) -> bool {
        self.found & 2 != 0
    }

    /// Every `Sec-WebSocket-Protocol` element is a token.
    #[cfg(feature = "server")]
    pub(crate) fn protocols_are_tokens(&self) -> bool {
        self.found & 4 == 0
    }

    /// Some `Sec-WebSocket-Extensions` has an element.
    #[cfg(feature = "client")]
    pub(crate) fn extensions(&self) -> bool {
        self.found & 8 != 0
    }

    /// Whether a field `i` is present.
    pub(crate) fn has(&self, i: usize) -> bool {
        self.seen & (1 << i) != 0
    }

    /// The value of the field `i` if there is exactly one.
    pub(crate) fn only(&self, i: usize) -> Option<&'b [u8]> {
        self.value[i]
    }
}

/// A head to write, as data: its text up to the list header as a
/// template with the values in it, then a list header (`name` and
/// comma-separated items; nothing if there are none), then the caller's
/// extra header fields, then the blank line. One non-generic writer
/// serves every head (request, 101, other responses): on a device the
/// values cost a store each, where a call per piece cost several times
/// that, and a constant piece an address and a length more.
pub(crate) struct HeadParts<'a> {
    /// The text up to the list header: each byte as it is, except that a
    /// byte `i` below `values.len()` stands for `values[i]`. (The text's
    /// own bytes are printable, CR and LF: with at most 10 values, LF (10)
    /// and CR (13) are never taken for one.)
    pub(crate) template: &'static [u8],
    /// The values the template names.
    pub(crate) values: &'a [&'a [u8]],
    /// The items of the list header: the client's offered subprotocols
    /// (the server's one choice is in its template, so a server-only
    /// image has no list loop).
    #[cfg(feature = "client")]
    pub(crate) list: &'a [&'a str],
    /// The `permessage-deflate` elements of a `Sec-WebSocket-Extensions`
    /// header (nothing if there are none): a client's offers or a
    /// server's one answer, their window bits checked by the writer (the
    /// head is counted and written without a way to fail).
    #[cfg(feature = "deflate")]
    pub(crate) extensions: &'a [deflate::DeflateElement],
    /// Extra header fields, checked by [`check_extra_headers`].
    pub(crate) headers: &'a [(&'a str, &'a str)],
}

impl HeadParts<'_> {
    /// Appends the whole head to `w`: every piece through the one
    /// template writer, one copy of its code.
    //
    // Inlined, with `write`, into each writer: a head known to have no
    // list and no extra headers (a server's 101) keeps no code for them.
    #[inline(always)]
    fn emit(&self, w: &mut Head<'_>) {
        w.put(self.template, self.values);
        #[cfg(feature = "client")]
        {
            let mut template: &[u8] = b"Sec-WebSocket-Protocol: \0";
            for item in self.list {
                w.put(template, &[item.as_bytes()]);
                template = b", \0";
            }
            if !self.list.is_empty() {
                w.put(b"\r\n", &[]);
            }
        }
        #[cfg(feature = "deflate")]
        {
            let mut template: &[u8] = b"Sec-WebSocket-Extensions: \0";
            for e in self.extensions {
                let mut text = [0u8; deflate::DeflateElement::MAX_LEN];
                // Never fails: `MAX_LEN` holds any element, and the writer
                // checked the window bits.
                let n = e.write(&mut text).unwrap_or(0);
                w.put(template, &[text.get(..n).unwrap_or_default()]);
                template = b", \0";
            }
            if !self.extensions.is_empty() {
                w.put(b"\r\n", &[]);
            }
        }
        for (n, v) in self.headers {
            w.put(b"\0: \x01\r\n", &[n.as_bytes(), v.as_bytes()]);
        }
        w.put(b"\r\n", &[]);
    }

    /// The head's length in bytes.
    pub(crate) fn len(&self) -> usize {
        let mut count = Head {
            buf: &mut [],
            len: 0,
        };
        self.emit(&mut count);
        count.len
    }

    /// Writes the head into `out`, which [`len`](Self::len) said is long
    /// enough.
    pub(crate) fn fill(&self, out: &mut [u8]) -> usize {
        let mut w = Head { buf: out, len: 0 };
        self.emit(&mut w);
        w.len
    }

    /// Counts, then writes if it fits: nothing is written when `buf` is
    /// too small.
    //
    // One call of `emit` for both passes, so that inlining it costs one
    // copy per writer.
    #[inline(always)]
    pub(crate) fn write(&self, mut buf: &mut [u8]) -> Result<usize, WriteError> {
        // Two passes of one call: the first counts (into no buffer), the
        // second writes. (A head is never empty: it ends with a blank line.)
        let mut w = Head {
            buf: &mut [],
            len: 0,
        };
        loop {
            self.emit(&mut w);
            if !w.buf.is_empty() || w.len == 0 {
                return Ok(w.len);
            }
            let needed = w.len;
            let out = core::mem::take(&mut buf).get_mut(..needed);
            w.buf = out.ok_or(BufferTooSmall { needed })?;
            w.len = 0;
        }
    }
}

/// Writes a head's text into a buffer, or only counts it when the buffer
/// is empty. Plain byte copies: no `core::fmt` in a device's image.
struct Head<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Head<'_> {
    /// Appends `template` with `values` in it (see
    /// [`HeadParts::template`]).
    fn put(&mut self, template: &[u8], values: &[&[u8]]) {
        for b in template {
            let piece = match values.get(usize::from(*b)) {
                Some(v) => v,
                None => core::slice::from_ref(b),
            };
            // Byte by byte: the pieces are short, and `copy_from_slice`
            // is a call that checks lengths.
            for &c in piece {
                if let Some(d) = self.buf.get_mut(self.len) {
                    *d = c;
                }
                self.len += 1;
            }
        }
    }
}

/// `n` in decimal, in `buf` (`usize`: no 64-bit division on a 32-bit
/// device), which has room for it (20 digits for any `usize`, 5 for a
/// `u16`).
pub(crate) fn decimal<const N: usize>(mut n: usize, buf: &mut [u8; N]) -> &[u8] {
    let mut at = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        at -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // (`at` is never past the end: `get` only shows the compiler, which
    // kept a panic path for an index.)
    buf.get(at..).unwrap_or_default()
}

/// Runs an httparse parse over at most `limits.max_len` bytes.
pub(crate) fn bounded<'b, T>(
    buf: &'b [u8],
    limits: &Limits,
    parse: impl FnOnce(&'b [u8]) -> Result<httparse::Status<T>, httparse::Error>,
) -> Result<crate::Status<T>, HandshakeError> {
    let window = &buf[..buf.len().min(limits.max_len)];
    match parse(window) {
        Ok(httparse::Status::Complete(v)) => Ok(crate::Status::Complete(v)),
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_len => {
            Err(HandshakeError::TooLarge {
                limit: limits.max_len,
            })
        }
        Ok(httparse::Status::Partial) => Ok(crate::Status::Partial { needed: 1 }),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders),
        Err(e) => Err(HandshakeError::Malformed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD as B64;

    /// [`base64_of_20`] is the padded engine's encoding: every value of
    /// every byte, and random inputs.
    /// Calls `check` with every byte value at every position (on zeros and
    /// on ones), then with 10,000 pseudo-random inputs from `seed`.
    fn each_input<const N: usize>(seed: u32, mut check: impl FnMut([u8; N])) {
        for i in 0..N {
            for b in 0..=255u8 {
                let mut input = [0u8; N];
                input[i] = b;
                check(input);
                check(input.map(|x| x ^ 0xff));
            }
        }
        let mut x = seed;
        for _ in 0..10_000 {
            check(core::array::from_fn(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            }));
        }
    }

    #[test]
    fn base64_of_20_is_the_padded_encoding() {
        let check = |input: [u8; 20]| {
            let mut want = [0u8; 28];
            assert_eq!(B64.encode_slice(input, &mut want), Ok(28));
            assert_eq!(base64_of_20(&input), want, "{input:?}");
        };
        each_input(0x1234_5677, check);
    }

    #[test]
    fn token_characters_are_rfc_9110_tchar() {
        for b in 0..=255u8 {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), tchar, "{b:#04x}");
        }
    }

    /// The loops give what the iterator chain they replace gave, for
    /// values with every placement of commas, spaces and tabs.
    #[test]
    fn list_elements_split_trim_and_skip_empties() {
        extern crate std;
        use std::vec::Vec;
        let values: [&[u8]; 9] = [
            b"",
            b",",
            b"a",
            b" a , b,,c ",
            b"\tx\t,",
            b",,y",
            b"upgrade, keep-alive",
            b"a,b",
            b"  ",
        ];
        for (i, &v) in values.iter().enumerate() {
            for &w in &values[i..] {
                let headers = [
                    Header {
                        name: "X",
                        value: v,
                    },
                    Header {
                        name: "other",
                        value: b"zz",
                    },
                    Header {
                        name: "x",
                        value: w,
                    },
                ];
                let got: Vec<&[u8]> = list_elements(&headers, "x").collect();
                let want: Vec<&[u8]> = headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("x"))
                    .flat_map(|h| h.value.split(|&b| b == b','))
                    .map(|e| e.trim_ascii())
                    .filter(|e| !e.is_empty())
                    .collect();
                assert_eq!(got, want, "{v:?} {w:?}");
            }
        }
    }

    /// One pass ([`Scan`]) finds what a search per name finds (the general
    /// form: the fields of that name, their values split at commas,
    /// trimmed, empty elements skipped), for every sequence of up to three
    /// fields drawn from the names and values below.
    #[test]
    fn scan_agrees_with_a_search_per_name() {
        extern crate std;
        use std::vec::Vec;
        let names = [
            "Upgrade",
            "connection",
            "Sec-WebSocket-Protocol",
            "sec-websocket-extensions",
            "HOST",
            "Sec-WebSocket-Version",
            "sec-websocket-key",
            "Sec-WebSocket-Accept",
            "Other",
            "upgrades",
        ];
        let values: [&[u8]; 7] = [
            b"",
            b" websocket ",
            b"Upgrade, keep-alive",
            b"a b, c",
            b",,",
            b"13",
            b"x,WebSocket",
        ];
        let fields: Vec<Header<'_>> = names
            .iter()
            .flat_map(|&name| values.iter().map(move |&value| Header { name, value }))
            .collect();
        let mut heads: Vec<Vec<Header<'_>>> = std::vec![Vec::new()];
        for len in 1..=3 {
            let shorter: Vec<Vec<Header<'_>>> = heads
                .iter()
                .filter(|h| h.len() == len - 1)
                .cloned()
                .collect();
            for head in shorter {
                for f in &fields {
                    let mut h = head.clone();
                    h.push(*f);
                    heads.push(h);
                }
            }
        }
        assert_eq!(heads.len(), 1 + 70 + 70 * 70 + 70 * 70 * 70);
        for h in &heads {
            let s = Scan::new(h);
            let elements = |name: &'static str| {
                h.iter()
                    .filter(move |f| f.name.eq_ignore_ascii_case(name))
                    .flat_map(|f| f.value.split(|&b| b == b','))
                    .map(|e| e.trim_ascii())
                    .filter(|e| !e.is_empty())
            };
            let has = |name, token: &[u8]| elements(name).any(|e| e.eq_ignore_ascii_case(token));
            assert_eq!(s.upgrade_websocket(), has("upgrade", b"websocket"), "{h:?}");
            assert_eq!(
                s.connection_upgrade(),
                has("connection", b"upgrade"),
                "{h:?}"
            );
            assert_eq!(
                s.protocols_are_tokens(),
                elements("sec-websocket-protocol").all(is_token),
                "{h:?}"
            );
            assert_eq!(
                s.extensions(),
                elements("sec-websocket-extensions").next().is_some(),
                "{h:?}"
            );
            for (i, name) in SCANNED.iter().enumerate() {
                let found: Vec<&[u8]> = h
                    .iter()
                    .filter(|f| f.name.eq_ignore_ascii_case(name))
                    .map(|f| f.value)
                    .collect();
                assert_eq!(s.has(i), !found.is_empty(), "{name} in {h:?}");
                let only = if found.len() == 1 {
                    Some(found[0])
                } else {
                    None
                };
                assert_eq!(s.only(i), only, "{name} in {h:?}");
            }
        }
    }

    /// The padding around the crate's compression function gives the
    /// crate's own digest: every length across two block boundaries (the
    /// length field moving to a block of its own at 56), each split in
    /// two and in three.
    #[cfg(feature = "sha1")]
    #[test]
    fn sha1_digest_is_the_sha1_crates_digest() {
        use sha1::Digest as _;
        let data: [u8; 200] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        // FIPS 180-2 appendix A.1.
        assert_eq!(
            sha1_digest(&[b"ab", b"c"]),
            [
                0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
                0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d
            ]
        );
        for len in 0..=data.len() {
            let want: [u8; 20] = sha1::Sha1::digest(&data[..len]).into();
            assert_eq!(sha1_digest(&[&data[..len]]), want, "{len}");
            assert_eq!(sha1_digest(&[]), sha1_digest(&[b""]));
            for cut in 0..=len {
                let (a, b) = data[..len].split_at(cut);
                assert_eq!(sha1_digest(&[a, b]), want, "{len} at {cut}");
                let (b, c) = b.split_at(b.len() / 2);
                assert_eq!(sha1_digest(&[a, b, c]), want, "{len} at {cut}");
            }
        }
    }

    /// A message long enough (2 MiB) for the fourth byte of the length
    /// field, in parts.
    #[cfg(feature = "sha1")]
    #[test]
    fn sha1_digest_counts_long_messages() {
        extern crate std;
        use sha1::Digest as _;
        let data: std::vec::Vec<u8> = (0..(1usize << 21) + 3).map(|i| (i * 7) as u8).collect();
        let want: [u8; 20] = sha1::Sha1::digest(&data).into();
        let (a, b) = data.split_at(1000);
        assert_eq!(sha1_digest(&[a, b]), want);
    }

    #[test]
    fn the_callers_sha1_gets_key_and_guid_and_its_digest_is_encoded() {
        let mut seen = [0u8; 60];
        let mut sha = |parts: &[&[u8]]| {
            let mut at = 0;
            for p in parts {
                seen[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            assert_eq!(at, 60);
            sha1_digest(parts)
        };
        let accept = accept_key_with(b"dGhlIHNhbXBsZSBub25jZQ==", &mut sha);
        assert_eq!(accept, accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(&seen[..24], b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(&seen[24..], GUID.as_bytes());
        // Whatever the provider returns is what is encoded.
        let ones = accept_key_with(b"x", &mut |_: &[&[u8]]| [0xff; 20]);
        assert_eq!(ones.as_str(), "//////////////////////////8=");
        let hs = ClientHandshake::with_sha1(*b"the sample nonce", &mut |_: &[&[u8]]| [0; 20]);
        assert_eq!(
            hs.expected_accept().as_str(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        assert_eq!(
            ClientHandshake::with_sha1(*b"the sample nonce", &mut sha1_digest),
            ClientHandshake::new(*b"the sample nonce")
        );
    }

    /// The key, encoded through the 20-byte encoder, is the `base64`
    /// crate's encoding of the nonce: every value of every byte, and
    /// random nonces.
    #[test]
    fn client_key_is_the_nonce_in_base64() {
        let check = |nonce: [u8; 16]| {
            let hs = ClientHandshake::with_sha1(nonce, &mut |_: &[&[u8]]| [0; 20]);
            let mut want = [0u8; 24];
            assert_eq!(B64.encode_slice(nonce, &mut want), Ok(24));
            assert_eq!(hs.key().as_bytes(), want, "{nonce:?}");
            assert!(is_key(hs.key().as_bytes()));
        };
        each_input(0x9e37_79b9, check);
    }

    /// [`decimal`] is `format!`'s decimal: every power of ten and its
    /// neighbours, every number to 100,000, and the largest; in five
    /// bytes, every `u16`.
    #[test]
    fn decimal_is_formats_decimal() {
        extern crate std;
        use std::string::ToString;
        let mut buf = [0u8; 20];
        let mut check = |n: usize| assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        for n in 0..=100_000 {
            check(n);
        }
        let mut p: usize = 1;
        while let Some(next) = p.checked_mul(10) {
            p = next;
            check(p - 1);
            check(p);
            check(p + 1);
        }
        check(usize::MAX);
        // The client's port buffer: every `u16`.
        let mut port = [0u8; 5];
        for p in 0..=u16::MAX {
            assert_eq!(decimal(p.into(), &mut port), p.to_string().as_bytes());
        }
    }

    /// [`is_key`] against the `base64` crate's strict decoder: every
    /// character at every position of a valid key, and random 24-byte
    /// strings over the alphabet, `=` and a few others.
    #[test]
    fn key_shape_agrees_with_decoding() {
        fn decodes(key: &[u8]) -> bool {
            let mut out = [0u8; 18];
            key.len() == 24 && B64.decode_slice(key, &mut out) == Ok(16)
        }
        let valid = *b"dGhlIHNhbXBsZSBub25jZQ==";
        assert!(is_key(&valid) && decodes(&valid));
        for i in 0..24 {
            for b in 0..=255u8 {
                let mut k = valid;
                k[i] = b;
                assert_eq!(is_key(&k), decodes(&k), "{:?}", core::str::from_utf8(&k));
            }
        }
        for len in [0, 1, 22, 23, 25, 26] {
            let k = &b"QUFBQUFBQUFBQUFBQUFBQQ==AA"[..len.min(26)];
            assert_eq!(is_key(k), decodes(k));
        }
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ .";
        let mut x = 0x2545_f491_u32;
        for _ in 0..200_000 {
            let mut k = [0u8; 24];
            for b in &mut k {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = alphabet[(x % alphabet.len() as u32) as usize];
            }
            if x & 1 == 0 {
                k[22] = b'=';
                k[23] = b'=';
            }
            assert_eq!(is_key(&k), decodes(&k), "{:?}", core::str::from_utf8(&k));
        }
    }

    #[test]
    fn rfc_accept_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    /// [`is_field_value`] is the form with both end tests written out, for
    /// every string of up to three bytes over the bytes around each class
    /// edge.
    #[test]
    fn field_value_is_the_end_tests_written_out() {
        fn general(s: &[u8]) -> bool {
            s.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
                && !s.first().is_some_and(|b| *b == b' ' || *b == b'\t')
                && !s.last().is_some_and(|b| *b == b' ' || *b == b'\t')
        }
        let bytes = [
            0x00, 0x08, b'\t', b'\n', 0x0b, 0x0c, b'\r', 0x1f, b' ', b'!', b'a', 0x7e, 0x7f, 0x80,
            0xff,
        ];
        let mut n = 0;
        for len in 0..=3u32 {
            for i in 0..bytes.len().pow(len) {
                let mut s = [0u8; 3];
                let mut x = i;
                for b in &mut s[..len as usize] {
                    *b = bytes[x % bytes.len()];
                    x /= bytes.len();
                }
                let s = &s[..len as usize];
                assert_eq!(is_field_value(s), general(s), "{s:?}");
                n += usize::from(general(s));
            }
        }
        // Both answers occur: the test can tell the forms apart.
        assert!(n > 0 && n < 1 + 15 + 15 * 15 + 15 * 15 * 15);
    }

    /// [`eq_lower`] is `eq_ignore_ascii_case` against a lowercase name:
    /// every byte against every byte that is its own lowercase, the
    /// names it is used with (all lowercase) in every case of each
    /// letter, cut short and run long.
    #[test]
    fn eq_lower_is_eq_ignore_ascii_case() {
        for a in 0..=255u8 {
            for b in (0..=255u8).filter(|b| b.to_ascii_lowercase() == *b) {
                assert_eq!(
                    eq_lower(&[a], &[b]),
                    [a].eq_ignore_ascii_case(&[b]),
                    "{a} {b}"
                );
                assert_eq!(eq_lower(&[b'x', a], b"x\0"), a == 0);
            }
        }
        let names = HANDSHAKE_HEADERS.iter().chain(&SCANNED);
        for name in names
            .map(|n| n.as_bytes())
            .chain([&b"websocket"[..], b"upgrade"])
        {
            assert_eq!(name.to_ascii_lowercase(), name);
            for i in 0..name.len() {
                let mut s = name.to_vec();
                s[i] = s[i].to_ascii_uppercase();
                assert!(eq_lower(&s, name));
                s[i] ^= 1;
                assert!(!eq_lower(&s, name));
                assert!(!eq_lower(&name[..i], name));
            }
            assert!(eq_lower(&name.to_ascii_uppercase(), name));
            assert!(!eq_lower(&[name, b"s"].concat(), name));
            assert!(!eq_lower(name, &[name, b"s"].concat()));
        }
    }

    /// httparse gives header values with no ASCII white space at either
    /// end, which the checks of whole values rely on (they compare them
    /// untrimmed): every ASCII byte before and after a value, and every mix of
    /// space and tab around the values the handshakes check.
    #[test]
    fn header_values_come_without_white_space_at_the_ends() {
        extern crate std;
        use std::format;
        let mut n = 0;
        for b in 0..=127u8 {
            let c = char::from(b);
            for value in [format!("{c}x"), format!("x{c}"), format!("{c}")] {
                let head = format!("GET / HTTP/1.1\r\nX: {value}\r\nY:{value}\r\n\r\n");
                let mut headers = [EMPTY_HEADER; 4];
                if let Ok(crate::Status::Complete(r)) =
                    Request::parse(head.as_bytes(), &mut headers, &Limits::DEFAULT)
                {
                    for h in r.headers() {
                        assert_eq!(h.value.trim_ascii(), h.value, "{b:#04x}");
                    }
                    n += 1;
                }
                let head = format!("HTTP/1.1 101 OK\r\nX: {value}\r\nY:{value}\r\n\r\n");
                let mut headers = [EMPTY_HEADER; 4];
                if let Ok(crate::Status::Complete(r)) =
                    Response::parse(head.as_bytes(), &mut headers, &Limits::DEFAULT)
                {
                    for h in r.headers() {
                        assert_eq!(h.value.trim_ascii(), h.value, "{b:#04x}");
                    }
                }
            }
        }
        // Most heads parse (those with printable bytes, tab, a bare CR
        // LF): the test saw values.
        assert!(n > 250, "{n}");
        let hs = ClientHandshake::new(*b"the sample nonce");
        let req = ClientRequest {
            protocols: &["chat"],
            ..ClientRequest::new("h", "/")
        };
        let pads = ["", " ", "\t", "  ", " \t", "\t ", " \t \t"];
        for before in pads {
            for after in pads {
                let head = format!(
                    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Key:{before}dGhlIHNhbXBsZSBub25jZQ=={after}\r\n\
                     Sec-WebSocket-Version:{before}13{after}\r\n\r\n"
                );
                let mut headers = [EMPTY_HEADER; 8];
                let Ok(crate::Status::Complete(Outcome::Upgrade(r))) =
                    parse_request(head.as_bytes(), &mut headers, &Limits::DEFAULT)
                else {
                    panic!("{head:?}")
                };
                assert_eq!(r.key(), b"dGhlIHNhbXBsZSBub25jZQ==");
                let head = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\n\
                     Sec-WebSocket-Accept:{before}s3pPLMBiTxaQ9kYGzzhZRbK+xOo={after}\r\n\
                     Sec-WebSocket-Protocol:{before}chat{after}\r\n\r\n"
                );
                let mut headers = [EMPTY_HEADER; 8];
                let res = hs.parse_response(&req, head.as_bytes(), &mut headers, &Limits::DEFAULT);
                assert!(matches!(res, Ok(crate::Status::Complete(_))), "{head:?}");
            }
        }
    }

    /// [`trim`] is `trim_ascii` on what it is used on, strings without
    /// control bytes but tab: every string of up to four bytes over
    /// space, tab and bytes around them.
    #[test]
    fn trim_is_trim_ascii_without_control_bytes() {
        let bytes = [b' ', b'\t', b'a', b',', b'!', 0x7e, 0x80, 0xff];
        for len in 0..=4u32 {
            for i in 0..bytes.len().pow(len) {
                let mut s = [0u8; 4];
                let mut x = i;
                for b in &mut s[..len as usize] {
                    *b = bytes[x % bytes.len()];
                    x /= bytes.len();
                }
                let s = &s[..len as usize];
                assert_eq!(trim(s), s.trim_ascii(), "{s:?}");
            }
        }
    }

    #[test]
    fn tokens_and_values() {
        assert!(is_token(b"chat.v2"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a,b"));
        assert!(is_field_value(b"Bearer abc=="));
        assert!(!is_field_value(b"x\r\nEvil: 1"));
        assert!(!is_field_value(b" x"));
        assert!(is_field_value(b""));
    }

    /// Every peer error: request errors are 4xx, errors in a server's
    /// response (a client's, answered by no one but a gateway) 502.
    #[test]
    fn every_peer_error_has_an_http_status() {
        use HandshakeError::*;
        let request = [
            TooLarge { limit: 64 },
            TooManyHeaders,
            Malformed(httparse::Error::Token),
            NotGet,
            HttpVersion,
            BadHost,
            NoUpgradeWebSocket,
            NoConnectionUpgrade,
            UnsupportedVersion,
            InvalidKey,
            InvalidProtocol,
        ];
        let response = [
            Status(404),
            BadAccept,
            UnexpectedProtocol,
            UnexpectedExtension,
            #[cfg(feature = "deflate")]
            Deflate(deflate::DeflateError::NotOffered),
        ];
        let mut out = [0u8; 256];
        for e in request {
            let status = e.http_status();
            assert!((400..500).contains(&status), "{e:?}: {status}");
            assert!(
                HttpResponse::from_error(&e).write(&mut out).is_ok(),
                "{e:?}"
            );
        }
        for e in response {
            assert_eq!(e.http_status(), 502, "{e:?}");
            let n = HttpResponse::from_error(&e).write(&mut out).unwrap();
            assert!(out[..n].starts_with(b"HTTP/1.1 502 Bad Gateway\r\n"));
        }
    }

    /// `f` writes `len` bytes into a buffer of exactly that size, and into
    /// one byte less gives `BufferTooSmall { needed: len }` and writes
    /// nothing.
    fn assert_exact_size(f: impl Fn(&mut [u8]) -> Result<usize, WriteError>) {
        let mut big = [0xa5u8; 512];
        let len = f(&mut big).unwrap();
        let mut exact = [0xa5u8; 512];
        assert_eq!(f(&mut exact[..len]), Ok(len));
        assert_eq!(exact[..len], big[..len]);
        let mut small = [0xa5u8; 512];
        assert_eq!(
            f(&mut small[..len - 1]),
            Err(WriteError::BufferTooSmall(BufferTooSmall { needed: len }))
        );
        assert!(
            small.iter().all(|&b| b == 0xa5),
            "wrote into a short buffer"
        );
    }

    /// Writers fail only with a local error: too small a buffer (its size
    /// named, nothing written) or an invalid value (named).
    #[test]
    fn writers_give_local_errors() {
        let hs = ClientHandshake::new(*b"the sample nonce");
        let req = ClientRequest::new("server.example.com", "/chat");
        let accept = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        let page = HttpResponse::new(200).text("hello");

        assert_exact_size(|b| ServerResponse::with_accept_key(accept).write(b));
        #[cfg(feature = "deflate")]
        {
            use deflate::DeflateElement;
            let full = DeflateElement {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(15),
                client_max_window_bits: Some(Some(9)),
            };
            assert_exact_size(|b| {
                ServerResponse::with_accept_key(accept)
                    .deflate(Some(full))
                    .write(b)
            });
            let offers = [full, DeflateElement::OFFER];
            let req = ClientRequest {
                deflate: &offers,
                ..req
            };
            assert_exact_size(|b| hs.write_request(&req, b));
        }
        assert_exact_size(|b| page.write(b));
        assert_exact_size(|b| page.write_head(b));
        assert_exact_size(|b| HttpResponse::from_error(&HandshakeError::BadHost).write(b));
        assert_exact_size(|b| hs.write_request(&req, b));

        let mut out = [0xa5u8; 512];
        let bad_header = [("X", "a\r\nSet-Cookie: x")];
        let cases: [(Result<usize, WriteError>, &str); 9] = [
            (
                ServerResponse::with_accept_key(accept)
                    .protocol(Some("a b"))
                    .write(&mut out),
                "subprotocol",
            ),
            (
                ServerResponse::with_accept_key(accept)
                    .headers(&[("Upgrade", "h2c")])
                    .write(&mut out),
                "header (set by the handshake itself)",
            ),
            (HttpResponse::new(101).write(&mut out), "status code"),
            (
                HttpResponse::new(200)
                    .body("text/html\n", b"")
                    .write_head(&mut out),
                "content type",
            ),
            (
                HttpResponse::new(200)
                    .headers(&[("Bad Name", "v")])
                    .write(&mut out),
                "header name",
            ),
            (
                hs.write_request(&ClientRequest::new("a b", "/"), &mut out),
                "host",
            ),
            (
                hs.write_request(&ClientRequest::new("h", "chat"), &mut out),
                "resource",
            ),
            (
                hs.write_request(
                    &ClientRequest {
                        protocols: &["a,b"],
                        ..req
                    },
                    &mut out,
                ),
                "subprotocol",
            ),
            (
                hs.write_request(
                    &ClientRequest {
                        headers: &bad_header,
                        ..req
                    },
                    &mut out,
                ),
                "header value",
            ),
        ];
        for (got, what) in cases {
            assert_eq!(got, Err(WriteError::InvalidInput(what)));
        }
        assert!(out.iter().all(|&b| b == 0xa5), "wrote an invalid head");
    }
}

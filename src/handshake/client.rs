//! Client role: write the upgrade request, validate the response.

#[cfg(feature = "deflate")]
use super::deflate::{DeflateElement, DeflateError, DeflateParams};
use super::{
    AcceptKey, ByteSet, HandshakeError, HeadParts, Header, Limits, Response, Scan, Sha1,
    WriteError, accept_key_with, check_extra_headers, is_token,
};
use crate::Status;

/// The characters of a host: RFC 3986 reg-name (unreserved, sub-delims,
/// `%`), IPv4, or IPv6 (`:`, and the brackets).
const HOST_CHARS: ByteSet = ByteSet::alphanumeric_and(b"-._~:%[]!$&'()*+,;=");

/// `a == b`: a plain loop, where `==` calls `memcmp`, which nothing else
/// of a client needs (tested against it).
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// What to ask the server for: where, and with which subprotocols and extra
/// headers. Everything is borrowed; nothing is copied until it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    /// Host name or address, without port (IPv6 without brackets is fine).
    pub host: &'a str,
    /// TCP port; written into `Host` when it is not the scheme's default.
    pub port: u16,
    /// Whether the scheme is `wss` (default port 443) rather than `ws` (80).
    pub secure: bool,
    /// Path and query, e.g. `/ws?token=1`; empty means `/`.
    pub resource: &'a str,
    /// Subprotocols to offer, in order of preference.
    pub protocols: &'a [&'a str],
    /// Extra header fields, e.g. `("Origin", "http://device")` or
    /// `("Authorization", "Bearer ...")`.
    pub headers: &'a [(&'a str, &'a str)],
    /// permessage-deflate offers, in order of preference, written as one
    /// `Sec-WebSocket-Extensions` header (none if empty), e.g.
    /// `&[DeflateElement::OFFER]`.
    #[cfg(feature = "deflate")]
    pub deflate: &'a [DeflateElement],
}

impl<'a> ClientRequest<'a> {
    /// A `ws://host:80/resource` request with no subprotocol and no extra
    /// header.
    pub const fn new(host: &'a str, resource: &'a str) -> Self {
        Self {
            host,
            port: 80,
            secure: false,
            resource,
            protocols: &[],
            headers: &[],
            #[cfg(feature = "deflate")]
            deflate: &[],
        }
    }

    /// The request for a `ws://` or `wss://` URI,
    /// `ws[s]://host[:port][/path][?query]` (esp_websocket_client's
    /// `uri`): the scheme (case-insensitive), the host (an IPv6 address in
    /// brackets), the port (80 or 443 by default) and the path and query,
    /// borrowed from `uri`. User info and fragments are refused (RFC 6455
    /// section 3), and so is a query without a path (`ws://h?q`: its
    /// request line needs a `/` that cannot be borrowed; write `ws://h/?q`).
    ///
    /// ```
    /// use sansws::handshake::ClientRequest;
    /// let r = ClientRequest::from_uri("wss://[::1]:8443/ws?id=7")?;
    /// assert_eq!((r.host, r.port, r.secure, r.resource), ("::1", 8443, true, "/ws?id=7"));
    /// # Ok::<(), &'static str>(())
    /// ```
    pub fn from_uri(uri: &'a str) -> Result<Self, &'static str> {
        let (secure, host, port, resource) = split_uri(uri)?;
        if resource.starts_with('?') {
            return Err("a query needs a path before it");
        }
        Ok(Self {
            port,
            secure,
            ..Self::new(host, resource)
        })
    }

    /// The default port of the scheme: 443 for `wss`, 80 for `ws`.
    pub const fn default_port(&self) -> u16 {
        if self.secure { 443 } else { 80 }
    }

    /// Checks every value; `Ok(true)` for a host that is an IPv6 address
    /// without its brackets (a `:` and no `[`), which the request adds.
    fn check(&self) -> Result<bool, WriteError> {
        let host = self.host.as_bytes();
        let mut colon = false;
        for &b in host {
            if !HOST_CHARS.contains(b) {
                return Err(WriteError::InvalidInput("host"));
            }
            colon |= b == b':';
        }
        let Some(&first) = host.first() else {
            return Err(WriteError::InvalidInput("host"));
        };
        let r = self.resource.as_bytes();
        if !(r.is_empty() || (r[0] == b'/' && r.iter().all(|&b| b > 0x20 && b != 0x7f))) {
            return Err(WriteError::InvalidInput("resource"));
        }
        if self.protocols.iter().any(|p| !is_token(p.as_bytes())) {
            return Err(WriteError::InvalidInput("subprotocol"));
        }
        check_extra_headers(self.headers)?;
        #[cfg(feature = "deflate")]
        if self.deflate.iter().any(|d| !d.is_writable(false)) {
            return Err(WriteError::InvalidInput("permessage-deflate offer"));
        }
        Ok(colon && first != b'[')
    }
}

/// `ws[s]://host[:port][rest]` as (secure, host, port, rest), `rest`
/// being empty or starting with `/` or `?`; the reason when it is not such
/// a URI. Shared by [`ClientRequest::from_uri`] and the std adapter's
/// `Url`.
pub(crate) fn split_uri(uri: &str) -> Result<(bool, &str, u16, &str), &'static str> {
    let (scheme, rest) = uri.split_once("://").ok_or("missing scheme")?;
    let secure = if scheme.eq_ignore_ascii_case("ws") {
        false
    } else if scheme.eq_ignore_ascii_case("wss") {
        true
    } else {
        return Err("scheme must be ws or wss");
    };
    if rest.contains('#') {
        return Err("fragments are not allowed");
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, resource) = rest.split_at(split);
    if authority.contains('@') {
        return Err("user info is not supported");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed [")?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("missing host");
    }
    let port = match port {
        Some(p) => p.parse().ok().filter(|&p| p != 0).ok_or("bad port")?,
        None if secure => 443,
        None => 80,
    };
    // What a request line can carry (RFC 3986: percent-encode the rest).
    if !resource.bytes().all(|b| b > 0x20 && b != 0x7f) {
        return Err("the path has a space or a control character");
    }
    Ok((secure, host, port, resource))
}

/// One client handshake: the key it sent and the accept value it expects.
///
/// ```
/// use sansws::{Status, handshake::{ClientHandshake, ClientRequest, EMPTY_HEADER, Limits}};
/// // The caller supplies 16 random bytes (here: RFC 6455 section 1.3's nonce).
/// let hs = ClientHandshake::new(*b"the sample nonce");
/// assert_eq!(hs.key(), "dGhlIHNhbXBsZSBub25jZQ==");
///
/// let req = ClientRequest::new("server.example.com", "/chat");
/// let mut out = [0u8; 256];
/// let n = hs.write_request(&req, &mut out)?;
/// assert!(out[..n].starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
///
/// let input = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\
///     \x81\x02hi";
/// let mut headers = [EMPTY_HEADER; 16];
/// let Status::Complete(res) = hs.parse_response(&req, input, &mut headers, &Limits::DEFAULT)? else {
///     unreachable!()
/// };
/// assert_eq!(&input[res.len()..], b"\x81\x02hi"); // the first frame, for the connection
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHandshake {
    key: [u8; 24],
    accept: AcceptKey,
}

impl ClientHandshake {
    /// A handshake whose `Sec-WebSocket-Key` is the base64 of `nonce`.
    /// The nonce must be fresh random bytes for every connection. The
    /// expected accept key is computed with the `sha1` crate (feature
    /// `sha1`); [`with_sha1`](Self::with_sha1) takes another SHA-1.
    #[cfg(feature = "sha1")]
    pub fn new(nonce: [u8; 16]) -> Self {
        Self::with_sha1(nonce, &mut super::sha1_digest)
    }

    /// [`new`](Self::new) with the caller's [`Sha1`].
    pub fn with_sha1(nonce: [u8; 16], sha1: &mut impl Sha1) -> Self {
        // The nonce's 16 bytes encode to the first 22 characters of its
        // encoding zero-extended to 20 bytes (base64 pads the last group
        // with zero bits either way); two `=` end it.
        let mut wide = [0u8; 20];
        // An array copy (`copy_from_slice` is a call that checks lengths).
        if let Some(head) = wide.first_chunk_mut() {
            *head = nonce;
        }
        let [key @ .., _, _, _, _] = super::base64_of_20(&wide);
        let mut key: [u8; 24] = key;
        key[22..].copy_from_slice(b"==");
        Self {
            key,
            accept: accept_key_with(&key, sha1),
        }
    }

    /// The `Sec-WebSocket-Key` this handshake sends.
    pub fn key(&self) -> &str {
        core::str::from_utf8(&self.key).unwrap_or("")
    }

    /// The `Sec-WebSocket-Accept` this handshake expects.
    pub fn expected_accept(&self) -> AcceptKey {
        self.accept
    }

    /// Writes the upgrade request into `buf`; returns its length. Writes
    /// nothing on error.
    pub fn write_request(
        &self,
        req: &ClientRequest<'_>,
        buf: &mut [u8],
    ) -> Result<usize, WriteError> {
        let v6 = usize::from(req.check()?);
        let resource = if req.resource.is_empty() {
            "/"
        } else {
            req.resource
        };
        // An IPv6 address goes in brackets; the closing one and the
        // port's colon are one value, cut to length.
        // A port has at most 5 digits: a buffer zeroed by two stores.
        let mut digits = [0u8; 5];
        let (colon, port): (usize, &[u8]) = if req.port != req.default_port() {
            (1, super::decimal(req.port.into(), &mut digits))
        } else {
            (0, b"")
        };
        HeadParts {
            template: b"GET \0 HTTP/1.1\r\nHost: \x01\x02\x03\x04\r\nUpgrade: websocket\r\n\
                Connection: Upgrade\r\nSec-WebSocket-Key: \x05\r\nSec-WebSocket-Version: 13\r\n",
            values: &[
                resource.as_bytes(),
                &b"["[..v6],
                req.host.as_bytes(),
                &b"]:"[1 - v6..1 + colon],
                port,
                &self.key,
            ],
            list: req.protocols,
            #[cfg(feature = "deflate")]
            extensions: req.deflate,
            headers: req.headers,
        }
        .write(buf)
    }

    /// Parses and validates the server's response to `req`.
    ///
    /// Complete and valid: the [`Response`], whose
    /// [`len`](Response::len) says where the WebSocket stream starts in
    /// `buf`. A status other than 101 is [`HandshakeError::Status`] (parse
    /// again with [`Response::parse`] for its reason and headers).
    pub fn parse_response<'h, 'b>(
        &self,
        req: &ClientRequest<'_>,
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
        limits: &Limits,
    ) -> Result<Status<Response<'h, 'b>>, HandshakeError> {
        let res = match Response::parse(buf, headers, limits)? {
            Status::Complete(r) => r,
            Status::Partial { needed } => return Ok(Status::Partial { needed }),
        };
        if res.code() != 101 {
            return Err(HandshakeError::Status(res.code()));
        }
        if res.minor_version() < 1 {
            return Err(HandshakeError::HttpVersion);
        }
        let scan = Scan::new(res.headers());
        if !scan.upgrade_websocket() {
            return Err(HandshakeError::NoUpgradeWebSocket);
        }
        if !scan.connection_upgrade() {
            return Err(HandshakeError::NoConnectionUpgrade);
        }
        let accept = scan.only(Scan::ACCEPT);
        if !accept.is_some_and(|a| same(a, self.accept.as_bytes())) {
            return Err(HandshakeError::BadAccept);
        }
        if scan.has(Scan::PROTOCOL) {
            let offered = scan
                .only(Scan::PROTOCOL)
                .is_some_and(|p| req.protocols.iter().any(|o| same(o.as_bytes(), p)));
            if !offered {
                return Err(HandshakeError::UnexpectedProtocol);
            }
        }
        #[cfg(not(feature = "deflate"))]
        if scan.extensions() {
            return Err(HandshakeError::UnexpectedExtension);
        }
        #[cfg(feature = "deflate")]
        if scan.extensions() {
            agreed_deflate(req.deflate, res.headers())?;
        }
        Ok(Status::Complete(res))
    }

    /// The permessage-deflate parameters agreed in `res`, a response to
    /// `req` that [`parse_response`](Self::parse_response) accepted:
    /// `None` if the server answered without the extension (or `res` is
    /// not such a response). They size the connection's inflater
    /// (`server_max_window_bits`) and bound its compressor.
    ///
    /// ```
    /// use sansws::{Status, handshake::{ClientHandshake, ClientRequest, EMPTY_HEADER, Limits}};
    /// use sansws::handshake::deflate::DeflateElement;
    /// let hs = ClientHandshake::new(*b"the sample nonce");
    /// // A 1 KiB window from the server if it agrees; else the usual one.
    /// let req = ClientRequest {
    ///     deflate: &[DeflateElement::OFFER.with_server_window(10), DeflateElement::OFFER],
    ///     ..ClientRequest::new("server.example.com", "/chat")
    /// };
    /// let mut out = [0u8; 512];
    /// let n = hs.write_request(&req, &mut out)?;
    /// let request = core::str::from_utf8(&out[..n])?;
    /// assert!(request.contains(
    ///     "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; \
    ///      client_max_window_bits, permessage-deflate; client_max_window_bits\r\n"
    /// ));
    ///
    /// let input = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
    ///     Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; \
    ///     client_max_window_bits=12\r\n\r\n";
    /// let mut headers = [EMPTY_HEADER; 16];
    /// let Status::Complete(res) = hs.parse_response(&req, input, &mut headers, &Limits::DEFAULT)? else {
    ///     unreachable!()
    /// };
    /// let params = hs.deflate_params(&req, &res).unwrap();
    /// assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (10, 12));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "deflate")]
    pub fn deflate_params(
        &self,
        req: &ClientRequest<'_>,
        res: &Response<'_, '_>,
    ) -> Option<DeflateParams> {
        agreed_deflate(req.deflate, res.headers()).ok().flatten()
    }
}

/// What the server's `Sec-WebSocket-Extensions` agree to, checked against
/// the client's `offers` (RFC 7692 section 5): no element, or one
/// `permessage-deflate` element that answers an offer (the first it
/// answers gives the parameters). Any other extension, a second element,
/// or an answer when nothing was offered is
/// [`HandshakeError::UnexpectedExtension`]; an invalid element, or one
/// that answers no offer, [`HandshakeError::Deflate`].
#[cfg(feature = "deflate")]
fn agreed_deflate(
    offers: &[DeflateElement],
    headers: &[Header<'_>],
) -> Result<Option<DeflateParams>, HandshakeError> {
    let mut elements = super::list_elements(headers, "sec-websocket-extensions");
    let Some(element) = elements.next() else {
        return Ok(None);
    };
    if offers.is_empty() || elements.next().is_some() {
        return Err(HandshakeError::UnexpectedExtension);
    }
    let response = match DeflateElement::parse(element) {
        Err(DeflateError::NotDeflate) => return Err(HandshakeError::UnexpectedExtension),
        parsed => parsed.map_err(HandshakeError::Deflate)?,
    };
    let mut why = DeflateError::NotOffered;
    for offer in offers {
        match offer.check_response(&response) {
            Ok(params) => return Ok(Some(params)),
            Err(e) => why = e,
        }
    }
    Err(HandshakeError::Deflate(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_from_uris() {
        let ok = [
            ("ws://h", ("h", 80, false, "")),
            ("WSS://h.example", ("h.example", 443, true, "")),
            ("ws://10.0.0.1:8080/ws", ("10.0.0.1", 8080, false, "/ws")),
            ("wss://[::1]/a/b?c=d", ("::1", 443, true, "/a/b?c=d")),
            ("ws://[fe80::1]:9001", ("fe80::1", 9001, false, "")),
        ];
        for (uri, (host, port, secure, resource)) in ok {
            let r = ClientRequest::from_uri(uri).unwrap();
            assert_eq!(
                (r.host, r.port, r.secure, r.resource),
                (host, port, secure, resource),
                "{uri}"
            );
        }
        let bad = [
            ("http://h/", "scheme must be ws or wss"),
            ("h/", "missing scheme"),
            ("ws://", "missing host"),
            ("ws://u@h/", "user info is not supported"),
            ("ws://h/#f", "fragments are not allowed"),
            ("ws://[::1/", "unclosed ["),
            ("ws://h:99999/", "bad port"),
            ("ws://h:/", "bad port"),
            ("ws://h?q", "a query needs a path before it"),
            ("ws://h:0/", "bad port"),
            (
                "ws://h/pa th",
                "the path has a space or a control character",
            ),
            (
                "ws://h/p\x7f",
                "the path has a space or a control character",
            ),
            ("ws://h/ ", "the path has a space or a control character"),
        ];
        for (uri, why) in bad {
            assert_eq!(ClientRequest::from_uri(uri).err(), Some(why), "{uri}");
        }
        // What it borrows writes a request.
        let hs = ClientHandshake::new([7; 16]);
        let mut out = [0u8; 256];
        let n = hs
            .write_request(
                &ClientRequest::from_uri("ws://[::1]:8080/ws?x=1").unwrap(),
                &mut out,
            )
            .unwrap();
        assert!(out[..n].starts_with(b"GET /ws?x=1 HTTP/1.1\r\nHost: [::1]:8080\r\n"));
    }

    /// [`same`] is `==`: every pair of strings of up to three bytes over
    /// four values, and a 28-byte value against each one-byte change.
    #[test]
    fn same_is_slice_equality() {
        extern crate std;
        let strings: std::vec::Vec<std::vec::Vec<u8>> = (0..=3u32)
            .flat_map(|len| {
                (0..4usize.pow(len)).map(move |mut x| {
                    (0..len)
                        .map(|_| {
                            let b = [0u8, 1, b'a', 0xff][x % 4];
                            x /= 4;
                            b
                        })
                        .collect()
                })
            })
            .collect();
        for a in &strings {
            for b in &strings {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
        let accept = *b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        assert!(same(&accept, &accept));
        for i in 0..accept.len() {
            let mut other = accept;
            other[i] ^= 0x20;
            assert!(!same(&accept, &other));
            assert!(!same(&accept[..i], &accept));
        }
    }

    /// The set is the character classes it replaced, byte by byte.
    #[test]
    fn host_characters_are_rfc_3986_reg_name_ipv4_and_ipv6() {
        for b in 0..=255u8 {
            let host = matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b':'
                        | b'%'
                        | b'['
                        | b']'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                );
            assert_eq!(HOST_CHARS.contains(b), host, "{b:#04x}");
        }
    }
}

//! Server role: read an upgrade request, answer it.

#[cfg(feature = "deflate")]
use super::deflate::{DeflateElement, DeflateParams, DeflatePolicy};
use super::{
    AcceptKey, HandshakeError, HeadParts, Header, Limits, Request, Scan, Sha1, WriteError,
    accept_key_with, check_extra_headers, is_token, list_elements,
};
use crate::Status;

/// What a complete request head turned out to be.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'h, 'b> {
    /// A valid WebSocket upgrade request.
    Upgrade(UpgradeRequest<'h, 'b>),
    /// A plain HTTP request that asks for no WebSocket at all (no
    /// `Upgrade: websocket`, no `Sec-WebSocket-*`): serve it, e.g. a page
    /// at `/`, or answer with [`HttpResponse`](super::HttpResponse).
    Http(Request<'h, 'b>),
}

/// Parses and classifies a request head from the start of `buf`.
///
/// - `Ok(Status::Partial { .. })`: read more and call again with all bytes.
/// - `Ok(Status::Complete(Outcome::Upgrade(r)))`: a valid upgrade; answer
///   with [`ServerResponse::accept`] or reject with
///   [`HttpResponse`](super::HttpResponse).
/// - `Ok(Status::Complete(Outcome::Http(r)))`: no upgrade attempted.
/// - `Err(e)`: malformed HTTP, too large, or a broken upgrade (any of
///   `Upgrade: websocket`, `Sec-WebSocket-Key` or `Sec-WebSocket-Version`
///   present but the rest not right); answer with
///   [`HttpResponse::from_error`](super::HttpResponse::from_error).
///
/// ```
/// use sansws::{Status, handshake::{EMPTY_HEADER, Limits, Outcome, parse_request}};
/// let mut headers = [EMPTY_HEADER; 16];
/// let page = b"GET /index.html HTTP/1.1\r\nHost: esp32.local\r\n\r\n";
/// match parse_request(page, &mut headers, &Limits::DEFAULT).unwrap() {
///     Status::Complete(Outcome::Http(r)) => assert_eq!(r.path(), "/index.html"),
///     _ => unreachable!(),
/// }
/// ```
pub fn parse_request<'h, 'b>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<Status<Outcome<'h, 'b>>, HandshakeError> {
    let req = match Request::parse(buf, headers, limits)? {
        Status::Complete(r) => r,
        Status::Partial { needed } => return Ok(Status::Partial { needed }),
    };
    let scan = Scan::new(req.headers());
    let attempted = scan.upgrade_websocket() || scan.has(Scan::KEY) || scan.has(Scan::VERSION);
    if !attempted {
        return Ok(Status::Complete(Outcome::Http(req)));
    }
    UpgradeRequest::validate(req, &scan).map(|u| Status::Complete(Outcome::Upgrade(u)))
}

/// A validated WebSocket upgrade request.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeRequest<'h, 'b> {
    request: Request<'h, 'b>,
    key: &'b [u8],
}

impl<'h, 'b> UpgradeRequest<'h, 'b> {
    /// Checks `req`, whose header fields `scan` walked, in the order of
    /// the errors' documentation.
    fn validate(req: Request<'h, 'b>, scan: &Scan<'b>) -> Result<Self, HandshakeError> {
        // Slice patterns: compares inline, no `memcmp` call.
        if !matches!(req.method().as_bytes(), b"GET") {
            return Err(HandshakeError::NotGet);
        }
        if req.minor_version() < 1 {
            return Err(HandshakeError::HttpVersion);
        }
        if scan.only(Scan::HOST).is_none_or(<[u8]>::is_empty) {
            return Err(HandshakeError::BadHost);
        }
        if !scan.upgrade_websocket() {
            return Err(HandshakeError::NoUpgradeWebSocket);
        }
        if !scan.connection_upgrade() {
            return Err(HandshakeError::NoConnectionUpgrade);
        }
        if !matches!(scan.only(Scan::VERSION), Some(b"13")) {
            return Err(HandshakeError::UnsupportedVersion);
        }
        let key = match scan.only(Scan::KEY) {
            Some(k) => k,
            None => return Err(HandshakeError::InvalidKey),
        };
        if !super::is_key(key) {
            return Err(HandshakeError::InvalidKey);
        }
        if !scan.protocols_are_tokens() {
            return Err(HandshakeError::InvalidProtocol);
        }
        Ok(Self { request: req, key })
    }

    /// The request underneath: method, target, every header.
    pub fn request(&self) -> &Request<'h, 'b> {
        &self.request
    }

    /// The path (target before `?`), to route on, e.g. `/ws`.
    pub fn path(&self) -> &'b str {
        self.request.path()
    }

    /// The query (target after `?`), if any.
    pub fn query(&self) -> Option<&'b str> {
        self.request.query()
    }

    /// The `Host` header.
    pub fn host(&self) -> &'b str {
        self.request.host().unwrap_or("")
    }

    /// The `Origin` header, which browsers send: check it to refuse pages of
    /// other sites (answer 403).
    pub fn origin(&self) -> Option<&'b str> {
        self.request.origin()
    }

    /// The `Sec-WebSocket-Key`, as sent (24 base64 characters).
    pub fn key(&self) -> &'b [u8] {
        self.key
    }

    /// The `Sec-WebSocket-Accept` answering this request.
    #[cfg(feature = "sha1")]
    pub fn accept_key(&self) -> AcceptKey {
        super::accept_key(self.key)
    }

    /// [`accept_key`](Self::accept_key) through the caller's [`Sha1`].
    pub fn accept_key_with(&self, sha1: &mut impl Sha1) -> AcceptKey {
        accept_key_with(self.key, sha1)
    }

    /// The subprotocols offered, in the client's order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &'b str> + 'h {
        list_elements(self.request.headers(), "sec-websocket-protocol")
            .filter_map(|p| core::str::from_utf8(p).ok())
    }

    /// Whether the client offered `protocol` (exact match).
    pub fn offers_protocol(&self, protocol: &str) -> bool {
        self.protocols().any(|p| p == protocol)
    }

    /// The extension offers (`Sec-WebSocket-Extensions` elements, with
    /// their parameters). sansws negotiates permessage-deflate (feature
    /// `deflate`, [`deflate`](Self::deflate)) and none of the others.
    pub fn extensions(&self) -> impl Iterator<Item = &'b [u8]> + 'h {
        list_elements(self.request.headers(), "sec-websocket-extensions")
    }

    /// The server's choice of permessage-deflate under `policy`: the
    /// first of the client's `permessage-deflate` offers, in its order of
    /// preference over every `Sec-WebSocket-Extensions` header, that the
    /// policy accepts ([`DeflatePolicy::accept`]), with the parameters
    /// agreed and the element to answer with
    /// ([`ServerResponse::deflate`]); `None` to go without. An invalid
    /// offer (an unknown parameter, one given twice, a bad value) is
    /// declined and the next one tried (RFC 7692 section 5); other
    /// extensions are ignored.
    ///
    /// ```
    /// # use sansws::{Status, handshake::*};
    /// use sansws::handshake::deflate::{DeflateElement, DeflatePolicy};
    /// let input = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\n\
    ///     Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    /// let mut headers = [EMPTY_HEADER; 16];
    /// let Ok(Status::Complete(Outcome::Upgrade(req))) =
    ///     parse_request(input, &mut headers, &Limits::DEFAULT) else { panic!() };
    /// // A device whose inflater holds 1 KiB of the client's window.
    /// let policy = DeflatePolicy { client_max_window_bits: 10, ..DeflatePolicy::default() };
    /// let (params, answer) = req.deflate(&policy).unwrap();
    /// assert_eq!(params.client_max_window_bits, 10);
    /// let mut out = [0u8; 256];
    /// let n = ServerResponse::accept(&req).deflate(Some(answer)).write(&mut out)?;
    /// assert!(out[..n].ends_with(
    ///     b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n\r\n"
    /// ));
    /// # Ok::<(), WriteError>(())
    /// ```
    #[cfg(feature = "deflate")]
    pub fn deflate(&self, policy: &DeflatePolicy) -> Option<(DeflateParams, DeflateElement)> {
        for element in self.extensions() {
            if let Ok(offer) = DeflateElement::parse(element)
                && let Some(choice) = policy.accept(&offer)
            {
                return Some(choice);
            }
        }
        None
    }

    /// Every header, in order.
    pub fn headers(&self) -> &'h [Header<'b>] {
        self.request.headers()
    }

    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.request.header(name)
    }

    /// The length of the request head in the input. Bytes after it are the
    /// client's first frames, sent without waiting for the 101: hand them
    /// to the connection's `handle_read` once the handshake is answered.
    pub fn len(&self) -> usize {
        self.request.len()
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.request.is_empty()
    }
}

/// The `101 Switching Protocols` answer to an [`UpgradeRequest`].
///
/// ```
/// # use sansws::{Status, handshake::*};
/// # let input = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
/// #   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
/// #   Sec-WebSocket-Protocol: chat, superchat\r\n\r\n";
/// # let mut headers = [EMPTY_HEADER; 16];
/// # let Ok(Status::Complete(Outcome::Upgrade(req))) = parse_request(input, &mut headers, &Limits::DEFAULT) else { panic!() };
/// let mut out = [0u8; 256];
/// let n = ServerResponse::accept(&req).protocol(Some("chat")).write(&mut out)?;
/// assert_eq!(&out[..n], &b"HTTP/1.1 101 Switching Protocols\r\n\
///     Upgrade: websocket\r\nConnection: Upgrade\r\n\
///     Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
///     Sec-WebSocket-Protocol: chat\r\n\r\n"[..]);
/// # Ok::<(), WriteError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ServerResponse<'a> {
    accept: AcceptKey,
    protocol: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
    #[cfg(feature = "deflate")]
    deflate: Option<DeflateElement>,
}

impl<'a> ServerResponse<'a> {
    /// Accepts `req`, with no subprotocol and no extra header (the
    /// accept key by the `sha1` crate, feature `sha1`; otherwise
    /// [`with_accept_key`](Self::with_accept_key) and
    /// [`UpgradeRequest::accept_key_with`]).
    #[cfg(feature = "sha1")]
    pub fn accept(req: &UpgradeRequest<'_, '_>) -> Self {
        Self::with_accept_key(req.accept_key())
    }

    /// Accepts a request whose accept key the caller computed.
    pub fn with_accept_key(accept: AcceptKey) -> Self {
        Self {
            accept,
            protocol: None,
            headers: &[],
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// The chosen subprotocol: one of those the client offered
    /// ([`UpgradeRequest::offers_protocol`]), or a client will fail.
    pub fn protocol(mut self, protocol: Option<&'a str>) -> Self {
        self.protocol = protocol;
        self
    }

    /// Extra header fields, e.g. `("Set-Cookie", "...")`.
    pub fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    /// The answer to the client's permessage-deflate offers, written as
    /// `Sec-WebSocket-Extensions`: the element
    /// [`UpgradeRequest::deflate`] chose, or `None` for no extension.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, response: Option<DeflateElement>) -> Self {
        self.deflate = response;
        self
    }

    /// Writes the response into `buf`; returns its length. Writes nothing
    /// on error.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        if self.protocol.is_some_and(|p| !is_token(p.as_bytes())) {
            return Err(WriteError::InvalidInput("subprotocol"));
        }
        check_extra_headers(self.headers)?;
        // A response's windows are 8 to 15, and it limits the client's
        // with a value (RFC 7692 section 7.1.2.2).
        #[cfg(feature = "deflate")]
        if self.deflate.is_some_and(|d| !d.is_writable(true)) {
            return Err(WriteError::InvalidInput("permessage-deflate response"));
        }
        // The chosen subprotocol is the template's last line, cut off
        // without one.
        const TEMPLATE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: \0\r\nSec-WebSocket-Protocol: \x01\r\n";
        const PROTOCOL_LINE: usize = b"Sec-WebSocket-Protocol: \x01\r\n".len();
        let (cut, protocol): (usize, &[u8]) = match self.protocol {
            Some(p) => (0, p.as_bytes()),
            None => (PROTOCOL_LINE, b""),
        };
        HeadParts {
            template: &TEMPLATE[..TEMPLATE.len() - cut],
            values: &[self.accept.as_bytes(), protocol],
            #[cfg(feature = "client")]
            list: &[],
            #[cfg(feature = "deflate")]
            extensions: self.deflate.as_slice(),
            headers: self.headers,
        }
        .write(buf)
    }
}

//! Plain HTTP/1.1 heads: parsed requests and responses, and responses to
//! write (rejections, pages).

use super::{
    HandshakeError, HeadParts, Header, Limits, WriteError, bounded, check_extra_headers,
    is_field_value,
};
use crate::Status;

/// A parsed HTTP request head, borrowing the input and the header slots.
#[derive(Debug, Clone, Copy)]
pub struct Request<'h, 'b> {
    method: &'b str,
    target: &'b str,
    version: u8,
    headers: &'h [Header<'b>],
    len: usize,
}

impl<'h, 'b> Request<'h, 'b> {
    /// Parses a request head from the start of `buf`, without judging it.
    /// `headers` are the slots httparse fills; more header lines than slots
    /// is [`HandshakeError::TooManyHeaders`].
    pub fn parse(
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
        limits: &Limits,
    ) -> Result<Status<Self>, HandshakeError> {
        let mut req = httparse::Request::new(headers);
        let status = bounded(buf, limits, |b| req.parse(b))?;
        Ok(match status {
            Status::Complete(len) => Status::Complete(Self {
                method: req.method.unwrap_or(""),
                target: req.path.unwrap_or(""),
                version: req.version.unwrap_or(0),
                headers: req.headers,
                len,
            }),
            Status::Partial { needed } => Status::Partial { needed },
        })
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &'b str {
        self.method
    }

    /// The request target as sent: path and query.
    pub fn target(&self) -> &'b str {
        self.target
    }

    /// The path: the target up to `?`.
    pub fn path(&self) -> &'b str {
        self.target.split_once('?').map_or(self.target, |(p, _)| p)
    }

    /// The query: the target after `?`, if there is one.
    pub fn query(&self) -> Option<&'b str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub fn minor_version(&self) -> u8 {
        self.version
    }

    /// Every header, in order.
    pub fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        find(self.headers, name)
    }

    /// The first header named `name`, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'b str> {
        self.header(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The `Host` header.
    pub fn host(&self) -> Option<&'b str> {
        self.header_str("host")
    }

    /// The `Origin` header (sent by browsers).
    pub fn origin(&self) -> Option<&'b str> {
        self.header_str("origin")
    }

    /// The bytes of the head, blank line included. Whatever follows in the
    /// input (a body, or early frames) is not part of it.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a head has at least a request line.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A parsed HTTP response head, borrowing the input and the header slots.
#[derive(Debug, Clone, Copy)]
pub struct Response<'h, 'b> {
    code: u16,
    reason: &'b str,
    version: u8,
    headers: &'h [Header<'b>],
    len: usize,
}

impl<'h, 'b> Response<'h, 'b> {
    /// Parses a response head from the start of `buf`, without judging it
    /// (for a handshake, see
    /// [`ClientHandshake::parse_response`](super::ClientHandshake::parse_response)).
    pub fn parse(
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
        limits: &Limits,
    ) -> Result<Status<Self>, HandshakeError> {
        let mut res = httparse::Response::new(headers);
        let status = bounded(buf, limits, |b| res.parse(b))?;
        Ok(match status {
            Status::Complete(len) => Status::Complete(Self {
                code: res.code.unwrap_or(0),
                reason: res.reason.unwrap_or(""),
                version: res.version.unwrap_or(0),
                headers: res.headers,
                len,
            }),
            Status::Partial { needed } => Status::Partial { needed },
        })
    }

    /// The status code, e.g. 101.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The reason phrase, e.g. `Switching Protocols`.
    pub fn reason(&self) -> &'b str {
        self.reason
    }

    /// The minor HTTP version: 1 for HTTP/1.1.
    pub fn minor_version(&self) -> u8 {
        self.version
    }

    /// Every header, in order.
    pub fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        find(self.headers, name)
    }

    /// The subprotocol the server chose (`Sec-WebSocket-Protocol`), if any.
    pub fn protocol(&self) -> Option<&'b str> {
        self.header("sec-websocket-protocol")
            .and_then(|v| core::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// The bytes of the head, blank line included. The input after them
    /// already belongs to the WebSocket stream (a server may send its first
    /// frame right behind the 101); hand `&buf[len..]` to the connection.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a head has at least a status line.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn find<'b>(headers: &[Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// The standard reason phrase of a status code, or `""`.
pub const fn reason_phrase(code: u16) -> &'static str {
    match code {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// An HTTP/1.1 response other than the 101: a rejection of an upgrade, or
/// an answer to a plain request (a page at `/`).
///
/// The head always carries `Content-Length`; a `426` carries
/// `Sec-WebSocket-Version: 13`. [`HttpResponse::write`] writes head and
/// body; [`HttpResponse::write_head`] only the head, for a body sent
/// separately (a large page from flash).
///
/// ```
/// use sansws::handshake::HttpResponse;
/// let mut buf = [0u8; 256];
/// let n = HttpResponse::new(404).text("no such path").write(&mut buf).unwrap();
/// assert!(buf[..n].starts_with(b"HTTP/1.1 404 Not Found\r\n"));
/// assert!(buf[..n].ends_with(b"\r\n\r\nno such path"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HttpResponse<'a> {
    status: u16,
    content_type: Option<&'a str>,
    body: &'a [u8],
    headers: &'a [(&'a str, &'a str)],
    close: bool,
}

impl<'a> HttpResponse<'a> {
    /// A response with this status, no body, and `Connection: close`.
    pub const fn new(status: u16) -> Self {
        Self {
            status,
            content_type: None,
            body: &[],
            headers: &[],
            close: true,
        }
    }

    /// The answer a server gives to a peer's handshake error: its
    /// [`http_status`](HandshakeError::http_status) and a plain-text body
    /// that says what was wrong. Its [`write`](Self::write) fails only for
    /// a buffer too small.
    pub fn from_error(err: &HandshakeError) -> Self {
        let body: &'static str = match err {
            HandshakeError::TooLarge { .. } | HandshakeError::TooManyHeaders => {
                "request head too large"
            }
            HandshakeError::Malformed(_) => "malformed request",
            HandshakeError::NotGet => "WebSocket upgrade needs GET",
            HandshakeError::HttpVersion => "WebSocket upgrade needs HTTP/1.1",
            HandshakeError::BadHost => "missing or repeated Host",
            HandshakeError::NoUpgradeWebSocket => "Upgrade: websocket expected",
            HandshakeError::NoConnectionUpgrade => "Connection: Upgrade expected",
            HandshakeError::UnsupportedVersion => "Sec-WebSocket-Version: 13 expected",
            HandshakeError::InvalidKey => "invalid Sec-WebSocket-Key",
            HandshakeError::InvalidProtocol => "invalid Sec-WebSocket-Protocol",
            HandshakeError::Status(_)
            | HandshakeError::BadAccept
            | HandshakeError::UnexpectedProtocol
            | HandshakeError::UnexpectedExtension => "invalid WebSocket response upstream",
            #[cfg(feature = "deflate")]
            HandshakeError::Deflate(_) => "invalid WebSocket response upstream",
        };
        Self::new(err.http_status()).text(body)
    }

    /// A `text/plain; charset=utf-8` body.
    pub const fn text(mut self, body: &'a str) -> Self {
        self.content_type = Some("text/plain; charset=utf-8");
        self.body = body.as_bytes();
        self
    }

    /// A body with its content type, e.g. `text/html; charset=utf-8`.
    pub const fn body(mut self, content_type: &'a str, body: &'a [u8]) -> Self {
        self.content_type = Some(content_type);
        self.body = body;
        self
    }

    /// Extra header fields, e.g. `("Cache-Control", "no-store")`.
    pub const fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    /// Whether to send `Connection: close` (the default) or keep-alive.
    pub const fn close(mut self, close: bool) -> Self {
        self.close = close;
        self
    }

    /// The status code.
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// Writes head and body into `buf`; returns the bytes written. Writes
    /// nothing if they do not fit.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        self.check()?;
        self.with_head(|head| {
            // (Not `encoded_len`: the head's length is needed on its own.)
            let len = head.len();
            let total = len + self.body.len();
            let out = buf
                .get_mut(..total)
                .ok_or(crate::BufferTooSmall { needed: total })?;
            let (h, body) = out.split_at_mut(len);
            head.fill(h);
            body.copy_from_slice(self.body);
            Ok(total)
        })
    }

    /// The bytes [`HttpResponse::write`] writes: head and body.
    pub fn encoded_len(&self) -> usize {
        self.with_head(|head| head.len()) + self.body.len()
    }

    /// Head and body in a new buffer of the right size (feature `alloc`),
    /// for a caller that has no buffer to lend.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> Result<alloc::vec::Vec<u8>, WriteError> {
        let mut out = alloc::vec![0; self.encoded_len()];
        let n = self.write(&mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// Writes the head only (with the body's `Content-Length`); the caller
    /// sends the body itself.
    pub fn write_head(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        self.check()?;
        self.with_head(|head| head.write(buf))
    }

    fn check(&self) -> Result<(), WriteError> {
        if !(100..=999).contains(&self.status) || self.status == 101 {
            return Err(WriteError::InvalidInput("status code"));
        }
        if self
            .content_type
            .is_some_and(|c| !is_field_value(c.as_bytes()))
        {
            return Err(WriteError::InvalidInput("content type"));
        }
        check_extra_headers(self.headers)
    }

    /// Runs `f` on this response's head.
    fn with_head<R>(&self, f: impl FnOnce(&HeadParts<'_>) -> R) -> R {
        let (mut status, mut length) = ([0u8; 20], [0u8; 20]);
        let (ct_name, ct, ct_end): (&[u8], &[u8], &[u8]) = match self.content_type {
            Some(ct) => (b"Content-Type: ", ct.as_bytes(), b"\r\n"),
            None => (b"", b"", b""),
        };
        let upgrade: &[u8] = if self.status == 426 {
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        } else {
            b""
        };
        let close: &[u8] = if self.close {
            b"Connection: close\r\n"
        } else {
            b""
        };
        f(&HeadParts {
            template: b"HTTP/1.1 \0 \x01\r\n\x02\x03\x04Content-Length: \x05\r\n\x06\x07",
            values: &[
                super::decimal(self.status.into(), &mut status),
                reason_phrase(self.status).as_bytes(),
                ct_name,
                ct,
                ct_end,
                super::decimal(self.body.len(), &mut length),
                upgrade,
                close,
            ],
            #[cfg(feature = "client")]
            list: &[],
            #[cfg(feature = "deflate")]
            extensions: &[],
            headers: self.headers,
        })
    }
}

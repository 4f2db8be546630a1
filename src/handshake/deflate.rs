//! permessage-deflate's negotiation (RFC 7692 sections 5 to 7), both
//! roles, without allocation: an element of `Sec-WebSocket-Extensions`
//! parsed ([`DeflateElement::parse`]) and written
//! ([`DeflateElement::write`]), the server's choice among a client's
//! offers ([`DeflatePolicy::accept`]), and the client's check of the
//! server's answer ([`DeflateElement::check_response`]). The result is
//! the agreed [`DeflateParams`].
//!
//! The compression itself is beside the connection, in
//! [`conn::deflate`](crate::conn::deflate).

use super::{eq_lower, is_token, trim};

/// The extension's name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// What both ends agreed (RFC 7692 section 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message.
    pub client_no_context_takeover: bool,
    /// The base-2 logarithm of the server's LZ77 window, 8 to 15: what the
    /// client's inflater must hold.
    pub server_max_window_bits: u8,
    /// The same for the client's window: what the server's inflater must
    /// hold.
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    /// Full windows, contexts kept both ways: what a plain
    /// `permessage-deflate` offer and response agree.
    pub const DEFAULT: Self = Self {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };

    /// The window the peer of `role` compresses with: the one this end's
    /// inflater must hold (`2^bits` bytes).
    pub fn peer_window_bits(&self, role: crate::conn::Role) -> u8 {
        match role {
            crate::conn::Role::Server => self.client_max_window_bits,
            crate::conn::Role::Client => self.server_max_window_bits,
        }
    }
}

/// One `permessage-deflate` element of `Sec-WebSocket-Extensions`: a
/// client's offer or a server's response, its parameters as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeflateElement {
    /// `server_no_context_takeover`.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover`.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N` (8 to 15).
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`: absent (`None`), without a value (in an
    /// offer only: `Some(None)`), or with one (`Some(Some(N))`).
    pub client_max_window_bits: Option<Option<u8>>,
}

/// Why an element is not an acceptable `permessage-deflate` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateError {
    /// Another extension (or not an extension element at all).
    #[error("not a permessage-deflate element")]
    NotDeflate,
    /// A parameter RFC 7692 does not define.
    #[error("unknown permessage-deflate parameter")]
    UnknownParameter,
    /// A parameter given twice.
    #[error("permessage-deflate parameter given twice")]
    DuplicateParameter,
    /// A value where none is allowed, none where one is needed, or one
    /// out of range (window bits are 8 to 15, in their shortest form).
    #[error("invalid permessage-deflate parameter value")]
    InvalidValue,
    /// A server's response that does not answer the client's offer (a
    /// parameter it may not add, a window larger than offered, a
    /// `server_no_context_takeover` asked for and not granted): the
    /// client fails the connection (RFC 7692 section 5).
    #[error("the server's permessage-deflate response does not answer the offer")]
    NotOffered,
    /// The buffer is too small for the element.
    #[error("buffer too small for the element")]
    BufferTooSmall,
}

/// Why an embedded adapter cannot offer or accept permessage-deflate as
/// asked: a mistake of the caller's, found before any byte is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateSetup {
    /// The request offers permessage-deflate, but nothing was lent to
    /// inflate with (`connect_deflate` lends an inflater).
    #[error("the request offers it, but no inflater was lent (connect_deflate lends one)")]
    NoInflater,
    /// The inflater's ring is under 256 bytes: it holds no window.
    #[error("the inflater's ring is under 256 bytes and holds no window")]
    RingTooSmall,
    /// An offer of the request's own lets the server compress with a
    /// larger window than the inflater's ring holds.
    #[error("an offer lets the server use a larger window than the inflater's ring")]
    WindowPastRing,
}

/// `N` of `name=N`: a token or a quoted-string whose content is a token
/// (RFC 7692 section 7), window bits 8 to 15 written as one or two digits
/// without a leading zero.
fn window_bits(value: &[u8]) -> Result<u8, DeflateError> {
    let v = match value {
        [b'"', inner @ .., b'"'] => inner,
        v => v,
    };
    match v {
        [d @ b'8'..=b'9'] => Ok(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Ok(10 + d - b'0'),
        _ => Err(DeflateError::InvalidValue),
    }
}

impl DeflateElement {
    /// The longest element [`write`](Self::write) makes: every parameter,
    /// both windows in two digits (128 bytes).
    pub const MAX_LEN: usize = PERMESSAGE_DEFLATE.len()
        + "; server_no_context_takeover".len()
        + "; client_no_context_takeover".len()
        + "; server_max_window_bits=15".len()
        + "; client_max_window_bits=15".len();

    /// `permessage-deflate; client_max_window_bits`, the offer browsers
    /// and Python's `websockets` make: full windows, contexts kept, and
    /// the server may limit the client's window (the compressor honours
    /// any of 8 to 15). The client's inflater must then hold a 32 KiB
    /// window; a device short of memory offers
    /// [`with_server_window`](Self::with_server_window) first.
    pub const OFFER: Self = Self {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: None,
        client_max_window_bits: Some(None),
    };

    /// This offer asking the server to compress with a window of at most
    /// 2^`bits` bytes (`server_max_window_bits`, 8 to 15): the ring the
    /// client's inflater needs. A server may decline it (zlib cannot
    /// compress with a window of 8 bits, and some servers refuse 8), so
    /// follow it with a plain offer if compression matters more than the
    /// memory:
    ///
    /// ```
    /// use sansws::handshake::deflate::DeflateElement;
    /// const OFFERS: [DeflateElement; 2] =
    ///     [DeflateElement::OFFER.with_server_window(10), DeflateElement::OFFER];
    /// let mut text = [0u8; DeflateElement::MAX_LEN];
    /// let n = OFFERS[0].write(&mut text)?;
    /// assert_eq!(
    ///     &text[..n],
    ///     b"permessage-deflate; server_max_window_bits=10; client_max_window_bits"
    /// );
    /// # Ok::<(), sansws::handshake::deflate::DeflateError>(())
    /// ```
    pub const fn with_server_window(mut self, bits: u8) -> Self {
        self.server_max_window_bits = Some(bits);
        self
    }

    /// Whether every window is within 8 to 15, and, for a server's
    /// response (`response`), `client_max_window_bits` has a value: what
    /// [`write`](Self::write) may put on the wire.
    pub(crate) fn is_writable(&self, response: bool) -> bool {
        let bits = |n: u8| (8..=15).contains(&n);
        self.server_max_window_bits.is_none_or(bits)
            && match self.client_max_window_bits {
                None => true,
                Some(None) => !response,
                Some(Some(n)) => bits(n),
            }
    }

    /// Parses one element of a `Sec-WebSocket-Extensions` list (what
    /// [`UpgradeRequest::extensions`](super::UpgradeRequest::extensions)
    /// yields): [`DeflateError::NotDeflate`] for another extension, other
    /// errors for a `permessage-deflate` element that breaks RFC 7692's
    /// rules (a server declines such an offer; a client fails the
    /// connection on such a response).
    pub fn parse(element: &[u8]) -> Result<Self, DeflateError> {
        let mut parts = element.split(|&b| b == b';');
        let name = trim(parts.next().unwrap_or_default());
        if !eq_lower(name, PERMESSAGE_DEFLATE.as_bytes()) {
            return Err(DeflateError::NotDeflate);
        }
        let mut e = Self::default();
        for param in parts {
            let (key, value) = match param.iter().position(|&b| b == b'=') {
                Some(i) => (trim(&param[..i]), Some(trim(&param[i + 1..]))),
                None => (trim(param), None),
            };
            if !is_token(key) {
                return Err(DeflateError::UnknownParameter);
            }
            let flag = |set: &mut bool| {
                if value.is_some() {
                    return Err(DeflateError::InvalidValue);
                }
                if core::mem::replace(set, true) {
                    return Err(DeflateError::DuplicateParameter);
                }
                Ok(())
            };
            match key {
                b"server_no_context_takeover" => flag(&mut e.server_no_context_takeover)?,
                b"client_no_context_takeover" => flag(&mut e.client_no_context_takeover)?,
                b"server_max_window_bits" => {
                    if e.server_max_window_bits.is_some() {
                        return Err(DeflateError::DuplicateParameter);
                    }
                    let v = value.ok_or(DeflateError::InvalidValue)?;
                    e.server_max_window_bits = Some(window_bits(v)?);
                }
                b"client_max_window_bits" => {
                    if e.client_max_window_bits.is_some() {
                        return Err(DeflateError::DuplicateParameter);
                    }
                    e.client_max_window_bits = Some(value.map(window_bits).transpose()?);
                }
                _ => return Err(DeflateError::UnknownParameter),
            }
        }
        Ok(e)
    }

    /// Writes the element (`permessage-deflate` and its parameters) into
    /// `buf` ([`MAX_LEN`](Self::MAX_LEN) bytes are always enough); returns
    /// its length. A window outside 8 to 15 is
    /// [`DeflateError::InvalidValue`], and nothing is written.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, DeflateError> {
        if !self.is_writable(false) {
            return Err(DeflateError::InvalidValue);
        }
        let mut at = 0;
        let mut put = |s: &[u8]| {
            let end = at + s.len();
            buf.get_mut(at..end)
                .ok_or(DeflateError::BufferTooSmall)?
                .copy_from_slice(s);
            at = end;
            Ok(())
        };
        let digits = |n: u8| -> ([u8; 2], usize) {
            if n >= 10 {
                ([b'1', b'0' + n - 10], 2)
            } else {
                ([b'0' + n, 0], 1)
            }
        };
        put(PERMESSAGE_DEFLATE.as_bytes())?;
        if self.server_no_context_takeover {
            put(b"; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            put(b"; client_no_context_takeover")?;
        }
        if let Some(n) = self.server_max_window_bits {
            let (d, len) = digits(n);
            put(b"; server_max_window_bits=")?;
            put(&d[..len])?;
        }
        if let Some(v) = self.client_max_window_bits {
            put(b"; client_max_window_bits")?;
            if let Some(n) = v {
                let (d, len) = digits(n);
                put(b"=")?;
                put(&d[..len])?;
            }
        }
        Ok(at)
    }

    /// A client's check of the server's `response` to this offer (RFC 7692
    /// section 7.1): the agreed parameters, or why the response must fail
    /// the connection.
    pub fn check_response(&self, response: &DeflateElement) -> Result<DeflateParams, DeflateError> {
        // A window the client asked the server to limit, limited.
        let server_bits = match (self.server_max_window_bits, response.server_max_window_bits) {
            (Some(asked), Some(got)) if got <= asked => got,
            (Some(_), _) => return Err(DeflateError::NotOffered),
            (None, got) => got.unwrap_or(15),
        };
        // The client's window limited only if the client said it can be,
        // and then with a value.
        let client_bits = match (self.client_max_window_bits, response.client_max_window_bits) {
            (_, None) => 15,
            (None, Some(_)) | (_, Some(None)) => return Err(DeflateError::NotOffered),
            (Some(_), Some(Some(n))) => n,
        };
        if self.server_no_context_takeover && !response.server_no_context_takeover {
            return Err(DeflateError::NotOffered);
        }
        Ok(DeflateParams {
            server_no_context_takeover: response.server_no_context_takeover,
            client_no_context_takeover: response.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        })
    }
}

/// What a server accepts and asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflatePolicy {
    /// The largest window the server's compressor uses (8 to 15).
    pub server_max_window_bits: u8,
    /// The largest client window the server's inflater holds (8 to 15): an
    /// offer that cannot be limited to it is declined.
    pub client_max_window_bits: u8,
    /// The server resets its context after each message anyway.
    pub server_no_context_takeover: bool,
    /// The server asks the client to reset its context after each message.
    pub client_no_context_takeover: bool,
}

impl Default for DeflatePolicy {
    /// Full windows, contexts kept: what browsers and most servers agree.
    fn default() -> Self {
        Self {
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
        }
    }
}

impl DeflatePolicy {
    /// The server's answer to one offer: the agreed parameters and the
    /// response element, or `None` to decline it (then try the client's
    /// next offer, in its order of preference).
    pub fn accept(&self, offer: &DeflateElement) -> Option<(DeflateParams, DeflateElement)> {
        // The client's window: limited only if the client allows it.
        let client_bits = match offer.client_max_window_bits {
            None if self.client_max_window_bits < 15 => return None,
            None => None,
            Some(hint) => {
                let n = hint.unwrap_or(15).min(self.client_max_window_bits);
                (n < 15 || self.client_max_window_bits < 15 || hint.is_some()).then_some(n)
            }
        };
        let server_bits = match offer.server_max_window_bits {
            Some(n) => Some(n.min(self.server_max_window_bits)),
            None => (self.server_max_window_bits < 15).then_some(self.server_max_window_bits),
        };
        let response = DeflateElement {
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits.map(Some),
        };
        let params = offer.check_response(&response).ok()?;
        Some((params, response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(s: &str) -> Result<DeflateElement, DeflateError> {
        DeflateElement::parse(s.as_bytes())
    }

    #[test]
    fn offers_and_responses_parse_as_rfc_7692_writes_them() {
        assert_eq!(el("permessage-deflate"), Ok(DeflateElement::default()));
        let e = el("Permessage-Deflate ; client_max_window_bits; server_max_window_bits=\"10\"\t;server_no_context_takeover").unwrap();
        assert_eq!(
            e,
            DeflateElement {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(None),
            }
        );
        assert_eq!(
            el("permessage-deflate; client_max_window_bits=8; client_no_context_takeover")
                .unwrap()
                .client_max_window_bits,
            Some(Some(8))
        );
        for (bad, why) in [
            ("x-webkit-deflate-frame", DeflateError::NotDeflate),
            ("permessage-deflate; foo", DeflateError::UnknownParameter),
            (
                "permessage-deflate; server_no_context_takeover=1",
                DeflateError::InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits",
                DeflateError::InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                DeflateError::InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=16",
                DeflateError::InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=010",
                DeflateError::InvalidValue,
            ),
            (
                "permessage-deflate; client_max_window_bits=\"\"",
                DeflateError::InvalidValue,
            ),
            (
                "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
                DeflateError::DuplicateParameter,
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                DeflateError::DuplicateParameter,
            ),
        ] {
            assert_eq!(el(bad), Err(why), "{bad}");
        }
    }

    #[test]
    fn every_bits_value_round_trips_through_write_and_parse() {
        let mut buf = [0u8; 128];
        for s in 8..=15 {
            for c in [None, Some(None), Some(Some(8)), Some(Some(15))] {
                for flags in 0..4 {
                    let e = DeflateElement {
                        server_no_context_takeover: flags & 1 != 0,
                        client_no_context_takeover: flags & 2 != 0,
                        server_max_window_bits: Some(s),
                        client_max_window_bits: c,
                    };
                    let n = e.write(&mut buf).unwrap();
                    assert_eq!(DeflateElement::parse(&buf[..n]), Ok(e));
                }
            }
        }
        assert_eq!(
            DeflateElement::default().write(&mut [0u8; 10]),
            Err(DeflateError::BufferTooSmall)
        );
    }

    /// `MAX_LEN` is the fullest element's length, which fits exactly.
    #[test]
    fn the_longest_element_is_max_len() {
        let full = DeflateElement {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(15),
            client_max_window_bits: Some(Some(15)),
        };
        let mut buf = [0u8; DeflateElement::MAX_LEN];
        assert_eq!(full.write(&mut buf), Ok(DeflateElement::MAX_LEN));
        assert_eq!(DeflateElement::MAX_LEN, 128);
        assert_eq!(
            full.write(&mut buf[..DeflateElement::MAX_LEN - 1]),
            Err(DeflateError::BufferTooSmall)
        );
    }

    #[test]
    fn a_client_refuses_a_response_that_does_not_answer_its_offer() {
        let plain = DeflateElement::default();
        let resp = |s: &str| el(s).unwrap();
        // Answers.
        assert_eq!(
            plain.check_response(&resp("permessage-deflate")),
            Ok(DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            })
        );
        let p = plain
            .check_response(&resp(
                "permessage-deflate; server_max_window_bits=9; client_no_context_takeover",
            ))
            .unwrap();
        assert_eq!(
            (p.server_max_window_bits, p.client_no_context_takeover),
            (9, true)
        );
        // Not offered: a client window limit, or one without a value.
        assert_eq!(
            plain.check_response(&resp("permessage-deflate; client_max_window_bits=10")),
            Err(DeflateError::NotOffered)
        );
        let can_limit = el("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(
            can_limit
                .check_response(&resp("permessage-deflate; client_max_window_bits=10"))
                .map(|p| p.client_max_window_bits),
            Ok(10)
        );
        assert_eq!(
            can_limit.check_response(&resp("permessage-deflate; client_max_window_bits")),
            Err(DeflateError::NotOffered)
        );
        // Asked for and not granted.
        let asks = el("permessage-deflate; server_no_context_takeover; server_max_window_bits=10")
            .unwrap();
        for r in [
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
        ] {
            assert_eq!(
                asks.check_response(&resp(r)),
                Err(DeflateError::NotOffered),
                "{r}"
            );
        }
        assert!(
            asks.check_response(&resp(
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"
            ))
            .is_ok()
        );
    }

    /// Whatever the policy and the offer, what the server answers passes
    /// the client's check and agrees on the same parameters, within both
    /// ends' limits; an offer it cannot limit is declined.
    #[test]
    fn the_servers_answer_passes_the_clients_check_for_every_offer_and_policy() {
        let mut buf = [0u8; 128];
        let bits = [None, Some(8), Some(9), Some(12), Some(15)];
        for flags in 0..16u8 {
            for offer_server in bits {
                for offer_client in [None, Some(None), Some(Some(9)), Some(Some(15))] {
                    for policy_server in [8, 10, 15] {
                        for policy_client in [9, 15] {
                            let offer = DeflateElement {
                                server_no_context_takeover: flags & 1 != 0,
                                client_no_context_takeover: flags & 2 != 0,
                                server_max_window_bits: offer_server,
                                client_max_window_bits: offer_client,
                            };
                            let policy = DeflatePolicy {
                                server_max_window_bits: policy_server,
                                client_max_window_bits: policy_client,
                                server_no_context_takeover: flags & 4 != 0,
                                client_no_context_takeover: flags & 8 != 0,
                            };
                            let Some((params, response)) = policy.accept(&offer) else {
                                assert!(
                                    offer_client.is_none() && policy_client < 15,
                                    "declined {offer:?} under {policy:?}"
                                );
                                continue;
                            };
                            let n = response.write(&mut buf).unwrap();
                            let seen = DeflateElement::parse(&buf[..n]).unwrap();
                            assert_eq!(offer.check_response(&seen), Ok(params));
                            assert!(params.server_max_window_bits <= policy_server);
                            assert!(params.client_max_window_bits <= policy_client);
                            if let Some(n) = offer_server {
                                assert!(params.server_max_window_bits <= n);
                            }
                            assert!(
                                params.server_no_context_takeover
                                    >= offer.server_no_context_takeover
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The negotiation through both roles' real handshakes: the client's
/// request written, the server's parse and choice, its 101 written, the
/// client's check of it.
#[cfg(all(test, feature = "server", feature = "client", feature = "sha1"))]
mod handshakes {
    extern crate std;
    use std::{format, string::String, vec::Vec};

    use super::*;
    use crate::Status;
    use crate::handshake::{
        ClientHandshake, ClientRequest, EMPTY_HEADER, HandshakeError, Limits, Outcome,
        ServerResponse, WriteError, parse_request,
    };

    const NONCE: [u8; 16] = *b"the sample nonce";
    /// RFC 6455 section 1.3's accept for [`NONCE`].
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    /// What the client's check of a response gives.
    type Agreed = Result<Option<DeflateParams>, HandshakeError>;

    fn offer(s: &str) -> DeflateElement {
        DeflateElement::parse(s.as_bytes()).unwrap()
    }

    /// The request's `Sec-WebSocket-Extensions` line, the server's choice,
    /// its line in the 101, and what the client's check of that 101 gives.
    struct Run {
        request_line: Option<String>,
        server: Option<DeflateParams>,
        response_line: Option<String>,
        client: Agreed,
    }

    fn extensions_line(head: &[u8]) -> Option<String> {
        let head = std::str::from_utf8(head).unwrap();
        let mut lines = head
            .split("\r\n")
            .filter(|l| l.starts_with("Sec-WebSocket-Extensions:"));
        let line = lines.next().map(String::from);
        assert_eq!(lines.next(), None, "one line: {head}");
        line
    }

    /// The client's check of a 101 with `extensions` as its
    /// `Sec-WebSocket-Extensions` lines, every prefix of it first (each
    /// partial), for a request offering `offers`.
    fn client_sees(offers: &[DeflateElement], extensions: &str) -> Agreed {
        let hs = ClientHandshake::new(NONCE);
        let req = ClientRequest {
            deflate: offers,
            ..ClientRequest::new("h", "/")
        };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n{extensions}\r\n"
        );
        let input = response.as_bytes();
        for end in 0..input.len() {
            let mut headers = [EMPTY_HEADER; 16];
            let got = hs.parse_response(&req, &input[..end], &mut headers, &Limits::DEFAULT);
            assert!(matches!(got, Ok(Status::Partial { .. })), "{end}: {got:?}");
        }
        let mut headers = [EMPTY_HEADER; 16];
        match hs.parse_response(&req, input, &mut headers, &Limits::DEFAULT)? {
            Status::Complete(res) => {
                assert_eq!(res.len(), input.len());
                Ok(hs.deflate_params(&req, &res))
            }
            Status::Partial { .. } => panic!("complete response read as partial"),
        }
    }

    fn run(offers: &[DeflateElement], policy: &DeflatePolicy) -> Run {
        let hs = ClientHandshake::new(NONCE);
        let req = ClientRequest {
            deflate: offers,
            ..ClientRequest::new("h", "/")
        };
        let mut request = [0u8; 1024];
        let n = hs.write_request(&req, &mut request).unwrap();
        let request = &request[..n];
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(Outcome::Upgrade(upgrade))) =
            parse_request(request, &mut headers, &Limits::DEFAULT)
        else {
            panic!("{}", String::from_utf8_lossy(request))
        };
        let choice = upgrade.deflate(policy);
        let mut response = [0u8; 512];
        let n = ServerResponse::accept(&upgrade)
            .deflate(choice.map(|(_, answer)| answer))
            .write(&mut response)
            .unwrap();
        let response_line = extensions_line(&response[..n]);
        let client = client_sees(
            offers,
            &response_line
                .as_ref()
                .map(|l| format!("{l}\r\n"))
                .unwrap_or_default(),
        );
        Run {
            request_line: extensions_line(request),
            server: choice.map(|(params, _)| params),
            response_line,
            client,
        }
    }

    fn params(server_bits: u8, client_bits: u8, flags: (bool, bool)) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: flags.0,
            client_no_context_takeover: flags.1,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        }
    }

    #[test]
    fn offers_and_answers_on_the_wire() {
        let default = DeflatePolicy::default();
        let small = DeflatePolicy {
            server_max_window_bits: 10,
            client_max_window_bits: 10,
            ..default
        };
        let resets = DeflatePolicy {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..default
        };
        let can_limit = DeflateElement::OFFER;
        let plain = DeflateElement::default();
        // Offers, policy, the request's and the response's element, the
        // parameters agreed.
        type Case<'a> = (
            &'a [DeflateElement],
            &'a DeflatePolicy,
            Option<&'a str>,
            Option<&'a str>,
            Option<DeflateParams>,
        );
        #[rustfmt::skip]
        let cases: [Case; 11] = [
            // Nothing offered: no header either way.
            (&[], &default, None, None, None),
            (&[plain], &default,
                Some("permessage-deflate"),
                Some("permessage-deflate"), Some(params(15, 15, (false, false)))),
            (&[can_limit], &default,
                Some("permessage-deflate; client_max_window_bits"),
                Some("permessage-deflate"), Some(params(15, 15, (false, false)))),
            // The server limits both windows: the client's only because
            // it may.
            (&[can_limit], &small,
                Some("permessage-deflate; client_max_window_bits"),
                Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"),
                Some(params(10, 10, (false, false)))),
            // A client that cannot be limited is declined by a server that
            // must limit it, then its next offer taken.
            (&[plain], &small, Some("permessage-deflate"), None, None),
            (&[plain, can_limit], &small,
                Some("permessage-deflate, permessage-deflate; client_max_window_bits"),
                Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"),
                Some(params(10, 10, (false, false)))),
            // The first offer the server can take wins.
            (&[can_limit.with_server_window(9), can_limit], &default,
                Some("permessage-deflate; server_max_window_bits=9; client_max_window_bits, \
                      permessage-deflate; client_max_window_bits"),
                Some("permessage-deflate; server_max_window_bits=9"),
                Some(params(9, 15, (false, false)))),
            // A client's own window hint, taken as the limit.
            (&[offer("permessage-deflate; client_max_window_bits=12")], &default,
                Some("permessage-deflate; client_max_window_bits=12"),
                Some("permessage-deflate; client_max_window_bits=12"),
                Some(params(15, 12, (false, false)))),
            (&[offer("permessage-deflate; client_max_window_bits=12")], &small,
                Some("permessage-deflate; client_max_window_bits=12"),
                Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"),
                Some(params(10, 10, (false, false)))),
            // Context takeover: asked for by the client, granted; asked for
            // by the server.
            (&[offer("permessage-deflate; server_no_context_takeover; client_no_context_takeover")], &default,
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
                Some(params(15, 15, (true, true)))),
            (&[plain], &resets,
                Some("permessage-deflate"),
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
                Some(params(15, 15, (true, true)))),
        ];
        for (offers, policy, request, response, agreed) in cases {
            let r = run(offers, policy);
            let line = |v: Option<&str>| v.map(|v| format!("Sec-WebSocket-Extensions: {v}"));
            assert_eq!(r.request_line, line(request), "{offers:?}");
            assert_eq!(r.response_line, line(response), "{offers:?} {policy:?}");
            assert_eq!(r.server, agreed, "{offers:?} {policy:?}");
            assert_eq!(r.client, Ok(agreed), "{offers:?} {policy:?}");
        }
    }

    /// Every list of up to two offers against every policy: the server's
    /// choice is what the client's check agrees.
    #[test]
    fn both_ends_agree_for_every_offer_and_policy() {
        let mut singles = Vec::new();
        for flags in 0..4 {
            for server in [None, Some(8), Some(12), Some(15)] {
                for client in [None, Some(None), Some(Some(9)), Some(Some(15))] {
                    singles.push(DeflateElement {
                        server_no_context_takeover: flags & 1 != 0,
                        client_no_context_takeover: flags & 2 != 0,
                        server_max_window_bits: server,
                        client_max_window_bits: client,
                    });
                }
            }
        }
        let mut lists: Vec<Vec<DeflateElement>> = std::vec![std::vec![]];
        lists.extend(singles.iter().map(|&o| std::vec![o]));
        for (i, &a) in singles.iter().enumerate().step_by(7) {
            for &b in singles.iter().skip(i % 5).step_by(5) {
                lists.push(std::vec![a, b]);
            }
        }
        let mut accepted = 0;
        for offers in &lists {
            for flags in 0..4 {
                for (server, client) in [(15, 15), (10, 15), (15, 9), (8, 8)] {
                    let policy = DeflatePolicy {
                        server_max_window_bits: server,
                        client_max_window_bits: client,
                        server_no_context_takeover: flags & 1 != 0,
                        client_no_context_takeover: flags & 2 != 0,
                    };
                    let r = run(offers, &policy);
                    assert_eq!(r.client, Ok(r.server), "{offers:?} {policy:?}");
                    assert_eq!(r.response_line.is_some(), r.server.is_some());
                    assert_eq!(r.request_line.is_some(), !offers.is_empty());
                    accepted += usize::from(r.server.is_some());
                }
            }
        }
        assert!(accepted > lists.len(), "{accepted}");
    }

    /// The client fails a response that answers none of its offers, or
    /// more than one, or with another extension.
    #[test]
    fn a_client_refuses_what_it_did_not_offer() {
        use HandshakeError::{Deflate, UnexpectedExtension};
        let can_limit = [DeflateElement::OFFER];
        let plain = [DeflateElement::default()];
        let asks = [offer(
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        )];
        let h = |v: &str| format!("Sec-WebSocket-Extensions: {v}\r\n");
        #[rustfmt::skip]
        let cases: [(&[DeflateElement], String, Agreed); 15] = [
            // Nothing offered.
            (&[], h("permessage-deflate"), Err(UnexpectedExtension)),
            (&[], h(""), Ok(None)),
            (&plain, String::new(), Ok(None)),
            (&plain, h(" , "), Ok(None)),
            // Another extension, or two elements.
            (&plain, h("x-webkit-deflate-frame"), Err(UnexpectedExtension)),
            (&plain, h("permessage-deflate, permessage-deflate"), Err(UnexpectedExtension)),
            (&plain, h("permessage-deflate") + &h("permessage-deflate"), Err(UnexpectedExtension)),
            (&plain, h("permessage-deflate, x-other"), Err(UnexpectedExtension)),
            // An element that breaks RFC 7692.
            (&plain, h("permessage-deflate; foo"), Err(Deflate(DeflateError::UnknownParameter))),
            (&plain, h("permessage-deflate; server_max_window_bits=16"), Err(Deflate(DeflateError::InvalidValue))),
            // A client window limit not offered, or without a value.
            (&plain, h("permessage-deflate; client_max_window_bits=12"), Err(Deflate(DeflateError::NotOffered))),
            (&can_limit, h("permessage-deflate; client_max_window_bits"), Err(Deflate(DeflateError::NotOffered))),
            // server_no_context_takeover asked for and not granted; a
            // window larger than offered.
            (&asks, h("permessage-deflate; server_max_window_bits=10"), Err(Deflate(DeflateError::NotOffered))),
            (&asks, h("permessage-deflate; server_no_context_takeover; server_max_window_bits=12"),
                Err(Deflate(DeflateError::NotOffered))),
            // The second offer answered where the first is not.
            (&[asks[0], DeflateElement::OFFER], h("permessage-deflate; client_max_window_bits=12"),
                Ok(Some(params(15, 12, (false, false))))),
        ];
        for (offers, extensions, want) in cases {
            assert_eq!(
                client_sees(offers, &extensions),
                want,
                "{offers:?} {extensions}"
            );
        }
        for e in [Deflate(DeflateError::NotOffered), UnexpectedExtension] {
            assert_eq!(e.http_status(), 502);
        }
    }

    /// RFC 7692 section 5: an invalid offer is declined, not fatal, and
    /// the next one (in any `Sec-WebSocket-Extensions` header) tried.
    #[test]
    fn a_server_declines_an_invalid_offer_and_takes_the_next() {
        let head = |extensions: &str| {
            format!(
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                 {extensions}\r\n"
            )
        };
        let choice = |input: &str| {
            let mut headers = [EMPTY_HEADER; 16];
            match parse_request(input.as_bytes(), &mut headers, &Limits::DEFAULT) {
                Ok(Status::Complete(Outcome::Upgrade(u))) => {
                    u.deflate(&DeflatePolicy::default()).map(|(_, e)| e)
                }
                other => panic!("{other:?}"),
            }
        };
        let twelve = offer("permessage-deflate; client_max_window_bits=12");
        for (extensions, want) in [
            (
                "Sec-WebSocket-Extensions: permessage-deflate; foo, \
                 permessage-deflate; client_max_window_bits=12\r\n",
                Some(twelve),
            ),
            (
                "Sec-WebSocket-Extensions: x-webkit-deflate-frame, \
                 permessage-deflate; server_max_window_bits=7\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
                 server_no_context_takeover, permessage-deflate; client_max_window_bits=12\r\n",
                Some(twelve),
            ),
            (
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; \
                 client_max_window_bits=9\r\n",
                None,
            ),
            ("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n", None),
            ("", None),
        ] {
            assert_eq!(choice(&head(extensions)), want, "{extensions}");
        }
    }

    /// An element that cannot go on the wire is the caller's error, named;
    /// nothing is written.
    #[test]
    fn writers_refuse_windows_out_of_range() {
        let hs = ClientHandshake::new(NONCE);
        let mut out = [0xa5u8; 512];
        for bad in [
            DeflateElement::OFFER.with_server_window(7),
            DeflateElement::OFFER.with_server_window(255),
            DeflateElement {
                client_max_window_bits: Some(Some(16)),
                ..DeflateElement::OFFER
            },
        ] {
            let req = ClientRequest {
                deflate: &[DeflateElement::OFFER, bad],
                ..ClientRequest::new("h", "/")
            };
            assert_eq!(
                hs.write_request(&req, &mut out),
                Err(WriteError::InvalidInput("permessage-deflate offer"))
            );
            assert_eq!(bad.write(&mut out), Err(DeflateError::InvalidValue));
            let accept = crate::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
            assert_eq!(
                ServerResponse::with_accept_key(accept)
                    .deflate(Some(bad))
                    .write(&mut out),
                Err(WriteError::InvalidInput("permessage-deflate response"))
            );
        }
        // A response limits the client's window with a value.
        let accept = crate::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            ServerResponse::with_accept_key(accept)
                .deflate(Some(DeflateElement::OFFER))
                .write(&mut out),
            Err(WriteError::InvalidInput("permessage-deflate response"))
        );
        assert!(out.iter().all(|&b| b == 0xa5), "wrote on error");
    }
}

//! permessage-deflate's negotiation (RFC 7692 sections 5 to 7), both
//! roles, without allocation: an element of `Sec-WebSocket-Extensions`
//! parsed ([`DeflateElement::parse`]) and written
//! ([`DeflateElement::write`]), the server's choice among a client's
//! offers ([`DeflatePolicy::accept`]), and the client's check of the
//! server's answer ([`DeflateElement::check_response`]). The result is
//! the agreed [`DeflateParams`].
//!
//! (The compression itself, in the connection's receive and send paths,
//! is not here yet.)

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

//! The opening handshake's steps over a caller's buffers, for the
//! embedded adapters: parse what was read so far, decide, answer.

#[cfg(any(feature = "server", feature = "client"))]
use crate::Status;
#[cfg(any(feature = "server", feature = "client"))]
use crate::handshake::Limits;
#[cfg(any(feature = "server", feature = "deflate"))]
use crate::handshake::WriteError;
#[cfg(feature = "deflate")]
use crate::handshake::deflate::DeflateSetup;
#[cfg(feature = "server")]
use crate::handshake::{
    self, HttpResponse, Outcome, Request, ServerResponse, Sha1Fn, UpgradeRequest,
};
#[cfg(feature = "client")]
use crate::handshake::{ClientHandshake, ClientRequest, Response};
#[cfg(any(feature = "server", feature = "client"))]
use crate::handshake::{EMPTY_HEADER, HandshakeError};

#[cfg(feature = "server")]
/// A server's answer to an upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Accept, with this subprotocol (one the client offered) or none.
    Accept(Option<&'static str>),
    /// Refuse with this HTTP status (403 for a foreign `Origin`, 404 for an
    /// unknown path, ...).
    Reject(u16),
}

/// What a server's permessage-deflate accepts (`None`: it declines
/// every offer); nothing without the feature.
#[cfg(all(feature = "server", feature = "deflate"))]
pub(crate) type Policy = Option<crate::handshake::deflate::DeflatePolicy>;
/// What a server's permessage-deflate accepts; nothing without the
/// feature.
#[cfg(all(feature = "server", not(feature = "deflate")))]
pub(crate) type Policy = ();

/// The permessage-deflate parameters a handshake agreed, if any; nothing
/// without the feature.
#[cfg(feature = "deflate")]
pub(crate) type Agreed = Option<crate::handshake::deflate::DeflateParams>;
/// The permessage-deflate parameters a handshake agreed; nothing without
/// the feature.
#[cfg(not(feature = "deflate"))]
pub(crate) type Agreed = ();

/// The inflater an embedded adapter was lent for permessage-deflate, if
/// any; nothing without the feature.
#[cfg(feature = "deflate")]
pub(crate) type Lent<'b> = Option<&'b mut (dyn super::inflate::Inflate + 'b)>;
/// The inflater an embedded adapter was lent; nothing without the
/// feature.
#[cfg(not(feature = "deflate"))]
pub(crate) type Lent<'b> = core::marker::PhantomData<&'b mut ()>;

/// What a server lent `lent` agrees to: a client's window kept to the
/// ring's (an offer that cannot be limited to it is declined), its own
/// side free as it sends uncompressed; without an inflater, nothing.
#[cfg(all(feature = "server", feature = "deflate"))]
pub(crate) fn policy(lent: &Lent<'_>) -> Result<Policy, WriteError> {
    match lent {
        None => Ok(None),
        Some(inflater) => {
            let bits = ring_bits(&**inflater)?;
            Ok(Some(crate::handshake::deflate::DeflatePolicy {
                client_max_window_bits: bits,
                ..Default::default()
            }))
        }
    }
}

/// Without the feature, no extension is accepted.
#[cfg(all(feature = "server", not(feature = "deflate")))]
pub(crate) fn policy(_: &Lent<'_>) -> Result<Policy, WriteError> {
    Ok(())
}

/// The window of a lent inflater's ring: an error if it holds none.
#[cfg(feature = "deflate")]
fn ring_bits(inflater: &dyn super::inflate::Inflate) -> Result<u8, WriteError> {
    match inflater.window_bits() {
        0 => Err(WriteError::Deflate(DeflateSetup::RingTooSmall)),
        bits => Ok(bits),
    }
}

/// The offer a client lent `lent` makes when `req` has none of its own:
/// `permessage-deflate; client_max_window_bits` with
/// `server_max_window_bits` the ring's window (under 15 bits). Offers of
/// the request's own must keep the server's window within the ring; with
/// no inflater, `req` may offer nothing (compressed messages could not be
/// read).
#[cfg(all(feature = "client", feature = "deflate"))]
pub(crate) fn own_offer(
    lent: &Lent<'_>,
    req: &ClientRequest<'_>,
) -> Result<Option<crate::handshake::deflate::DeflateElement>, WriteError> {
    use crate::handshake::deflate::DeflateElement;
    let Some(inflater) = lent else {
        return match req.deflate {
            [] => Ok(None),
            _ => Err(WriteError::Deflate(DeflateSetup::NoInflater)),
        };
    };
    let bits = ring_bits(&**inflater)?;
    if req.deflate.is_empty() {
        return Ok(Some(match bits {
            15 => DeflateElement::OFFER,
            _ => DeflateElement::OFFER.with_server_window(bits),
        }));
    }
    if req
        .deflate
        .iter()
        .any(|o| o.server_max_window_bits.unwrap_or(15) > bits)
    {
        return Err(WriteError::Deflate(DeflateSetup::WindowPastRing));
    }
    Ok(None)
}

/// The receive side of what was agreed: `conn` told of it, the lent
/// inflater made new for it. `None` if nothing was agreed.
#[cfg(feature = "deflate")]
pub(crate) fn start_inflating<'b, K: crate::conn::MaskKeys>(
    lent: Lent<'b>,
    agreed: Agreed,
    conn: &mut crate::conn::Connection<K>,
) -> Option<super::inflate::Inflating<'b>> {
    let (Some(params), Some(inflater)) = (agreed, lent) else {
        return None;
    };
    // The offer (client) or the policy (server) kept the peer's window
    // within the ring.
    debug_assert!(params.peer_window_bits(conn.role()) <= inflater.window_bits());
    inflater.reset();
    conn.set_deflate(params);
    Some(super::inflate::Inflating::new(inflater))
}

/// Where the first frames read with a handshake head lie in the buffer.
pub(crate) type Early = (usize, usize);

/// Header slots for parsing a handshake head.
#[cfg(any(feature = "server", feature = "client"))]
pub(crate) const HEADER_SLOTS: usize = 24;

#[cfg(feature = "server")]
/// What the server's handshake step decided.
pub(crate) enum ServerStep {
    /// Read more.
    More,
    /// Write `tx[..n]`, then go on as `then` says.
    Respond { n: usize, then: Then },
}

#[cfg(feature = "server")]
/// What follows the server's response.
pub(crate) enum Then {
    /// A WebSocket whose first bytes are `rx[.0...1]`, with what its
    /// permessage-deflate agreed.
    Upgrade(Early, Agreed),
    /// A plain HTTP request was answered.
    Http,
    /// An upgrade was refused with this status.
    Rejected(u16),
}

#[cfg(feature = "server")]
/// Why a server handshake step failed.
pub(crate) enum StepError {
    /// The peer's request is broken: answered with its status.
    Peer(HandshakeError),
    /// Our answer (a page, a refusal, the 101) could not be written:
    /// answered with 500.
    Local(WriteError),
}

#[cfg(feature = "server")]
impl From<HandshakeError> for StepError {
    fn from(e: HandshakeError) -> Self {
        StepError::Peer(e)
    }
}

#[cfg(feature = "server")]
impl From<WriteError> for StepError {
    fn from(e: WriteError) -> Self {
        StepError::Local(e)
    }
}

#[cfg(all(feature = "server", feature = "embedded-io"))]
impl<E: embedded_io::Error> From<StepError> for crate::adapter::embedded_io::Error<E> {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Peer(e) => e.into(),
            StepError::Local(e) => e.into(),
        }
    }
}

#[cfg(feature = "server")]
/// One step of a server handshake over `rx[..len]`.
pub(crate) fn server_step(
    rx: &[u8],
    len: usize,
    tx: &mut [u8],
    limits: &Limits,
    decide: &mut Option<impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision>,
    page: &mut Option<impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>>,
    (mut sha1, policy): (Sha1Fn, Result<Policy, WriteError>),
) -> Result<ServerStep, StepError> {
    let mut slots = [EMPTY_HEADER; HEADER_SLOTS];
    let outcome = match handshake::parse_request(&rx[..len], &mut slots, limits)? {
        Status::Partial { .. } if len == rx.len() => {
            return Err(HandshakeError::TooLarge { limit: rx.len() }.into());
        }
        Status::Partial { .. } => return Ok(ServerStep::More),
        Status::Complete(o) => o,
    };
    match outcome {
        Outcome::Http(r) => {
            let res = match page.take() {
                Some(p) => p(&r),
                None => HttpResponse::new(404).text("not found"),
            };
            let n = res.write(tx)?;
            Ok(ServerStep::Respond {
                n,
                then: Then::Http,
            })
        }
        Outcome::Upgrade(u) => match decide.take().map_or(Decision::Accept(None), |d| d(&u)) {
            Decision::Reject(status) => {
                crate::adapter::diag::diag!(info, "upgrade refused with HTTP {}", status);
                let n = HttpResponse::new(status).write(tx)?;
                Ok(ServerStep::Respond {
                    n,
                    then: Then::Rejected(status),
                })
            }
            Decision::Accept(protocol) => {
                let response = ServerResponse::with_accept_key(u.accept_key_with(&mut sha1))
                    .protocol(protocol);
                let (response, agreed) = negotiate(&u, response, policy?);
                let n = response.write(tx)?;
                Ok(ServerStep::Respond {
                    n,
                    then: Then::Upgrade((u.len(), len), agreed),
                })
            }
        },
    }
}

/// permessage-deflate: the first offer in `u` that `policy` takes, in
/// `response`.
#[cfg(all(feature = "server", feature = "deflate"))]
fn negotiate<'r>(
    u: &UpgradeRequest<'_, '_>,
    response: ServerResponse<'r>,
    policy: Policy,
) -> (ServerResponse<'r>, Agreed) {
    match policy.and_then(|p| u.deflate(&p)) {
        Some((params, element)) => (response.deflate(Some(element)), Some(params)),
        None => (response, None),
    }
}

/// Without the feature, no extension is agreed.
#[cfg(all(feature = "server", not(feature = "deflate")))]
fn negotiate<'r>(
    _: &UpgradeRequest<'_, '_>,
    response: ServerResponse<'r>,
    _: Policy,
) -> (ServerResponse<'r>, Agreed) {
    (response, ())
}

#[cfg(feature = "server")]
/// The answer a server sends when a step fails, into `tx`: the status of
/// a broken request, or 500 when our own answer could not be written.
pub(crate) fn rejection(e: &StepError, tx: &mut [u8]) -> Option<usize> {
    let res = match e {
        StepError::Peer(e) => HttpResponse::from_error(e),
        StepError::Local(_) => HttpResponse::new(500).text("internal error"),
    };
    crate::adapter::diag::diag!(info, "handshake refused with HTTP {}", res.status());
    res.write(tx).ok()
}

#[cfg(feature = "client")]
/// One step of a client handshake over `rx[..len]`: `Some(((head, len),
/// agreed))` when the response is complete and valid.
pub(crate) fn client_step(
    hs: &ClientHandshake,
    req: &ClientRequest<'_>,
    rx: &[u8],
    len: usize,
    limits: &Limits,
) -> Result<Option<(Early, Agreed)>, HandshakeError> {
    let mut slots = [EMPTY_HEADER; HEADER_SLOTS];
    match hs.parse_response(req, &rx[..len], &mut slots, limits)? {
        Status::Complete(r) => Ok(Some(((r.len(), len), agreed(hs, req, &r)))),
        Status::Partial { .. } if len == rx.len() => {
            Err(HandshakeError::TooLarge { limit: rx.len() })
        }
        Status::Partial { .. } => Ok(None),
    }
}

/// The permessage-deflate parameters response `r` agreed.
#[cfg(all(feature = "client", feature = "deflate"))]
fn agreed(hs: &ClientHandshake, req: &ClientRequest<'_>, r: &Response<'_, '_>) -> Agreed {
    hs.deflate_params(req, r)
}

/// Without the feature, no extension is agreed.
#[cfg(all(feature = "client", not(feature = "deflate")))]
fn agreed(_: &ClientHandshake, _: &ClientRequest<'_>, _: &Response<'_, '_>) -> Agreed {}

/// Limits for a handshake read into a buffer of `len` bytes.
#[cfg(any(feature = "server", feature = "client"))]
pub(crate) fn limits_for(len: usize) -> Limits {
    Limits {
        max_len: len.min(Limits::DEFAULT.max_len),
    }
}

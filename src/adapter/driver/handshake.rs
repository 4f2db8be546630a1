//! The opening handshake's steps over a caller's buffers, for the
//! embedded adapters: parse what was read so far, decide, answer.

#[cfg(any(feature = "server", feature = "client"))]
use crate::Status;
#[cfg(any(feature = "server", feature = "client"))]
use crate::handshake::Limits;
#[cfg(feature = "server")]
use crate::handshake::{
    self, HttpResponse, Outcome, Request, ServerResponse, Sha1Fn, UpgradeRequest, WriteError,
};
#[cfg(feature = "client")]
use crate::handshake::{ClientHandshake, ClientRequest};
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
    /// A WebSocket whose first bytes are `rx[.0...1]`.
    Upgrade((usize, usize)),
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
    mut sha1: Sha1Fn,
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
                let n = ServerResponse::with_accept_key(u.accept_key_with(&mut sha1))
                    .protocol(protocol)
                    .write(tx)?;
                Ok(ServerStep::Respond {
                    n,
                    then: Then::Upgrade((u.len(), len)),
                })
            }
        },
    }
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
/// One step of a client handshake over `rx[..len]`: `Some((head, len))`
/// when the response is complete and valid.
pub(crate) fn client_step(
    hs: &ClientHandshake,
    req: &ClientRequest<'_>,
    rx: &[u8],
    len: usize,
    limits: &Limits,
) -> Result<Option<(usize, usize)>, HandshakeError> {
    let mut slots = [EMPTY_HEADER; HEADER_SLOTS];
    match hs.parse_response(req, &rx[..len], &mut slots, limits)? {
        Status::Complete(r) => Ok(Some((r.len(), len))),
        Status::Partial { .. } if len == rx.len() => {
            Err(HandshakeError::TooLarge { limit: rx.len() })
        }
        Status::Partial { .. } => Ok(None),
    }
}

/// Limits for a handshake read into a buffer of `len` bytes.
#[cfg(any(feature = "server", feature = "client"))]
pub(crate) fn limits_for(len: usize) -> Limits {
    Limits {
        max_len: len.min(Limits::DEFAULT.max_len),
    }
}

//! The server side: accept with routing, origin check, subprotocol and a
//! page for plain HTTP.

use std::io::{self};
use std::net::Shutdown;
use std::string::String;
use std::time::Instant as StdInstant;
use std::vec::Vec;
use std::{boxed::Box, vec};

use crate::Status;
use crate::conn::{NoMasking, Role};
use crate::handshake::{
    self, EMPTY_HEADER, HandshakeError, HttpResponse, Outcome, ServerResponse, UpgradeRequest,
};

use super::{Keys, Options};
use super::{error::*, socket::*, transport::*};

/// A server's answer to an upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Accept, with a subprotocol (one the client offered) and extra
    /// response headers.
    Accept {
        /// The chosen subprotocol.
        protocol: Option<String>,
        /// Extra header fields for the 101.
        headers: Vec<(String, String)>,
    },
    /// Refuse with an HTTP status (e.g. 403 for a foreign `Origin`, 404 for
    /// an unknown path) and a short reason sent as the body.
    Reject {
        /// The status code.
        status: u16,
        /// The body.
        reason: String,
    },
}

impl Decision {
    /// Accept with no subprotocol.
    pub fn accept() -> Self {
        Decision::Accept {
            protocol: None,
            headers: Vec::new(),
        }
    }

    /// Accept with `protocol`.
    pub fn accept_protocol(protocol: &str) -> Self {
        Decision::Accept {
            protocol: Some(protocol.into()),
            headers: Vec::new(),
        }
    }

    /// Refuse with `status` and `reason`.
    pub fn reject(status: u16, reason: &str) -> Self {
        Decision::Reject {
            status,
            reason: reason.into(),
        }
    }
}

/// A request that asked for no WebSocket (e.g. `GET /` for a page), owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Every header field, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bytes read past the head (the start of a body, if any).
    pub rest: Vec<u8>,
}

impl HttpRequest {
    /// The path (before `?`).
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    }
}

/// What [`accept`] found on a new stream.
#[derive(Debug)]
pub enum Accepted<S: Transport> {
    /// An accepted WebSocket (boxed: it holds the connection state).
    WebSocket(Box<WebSocket<S>>),
    /// A plain HTTP request, for the caller to answer (e.g. with
    /// [`HttpResponse`]) on the stream.
    Http(HttpRequest, S),
    /// An upgrade the decision refused; the refusal was sent.
    Rejected(u16),
}

/// Reads the request on `stream` and accepts any WebSocket upgrade.
pub fn accept<S: Transport>(stream: S, opts: &Options) -> Result<Accepted<S>, Error> {
    accept_with(stream, opts, |_| Decision::accept())
}

/// Reads the request on `stream`; `decide` sees an upgrade request (path,
/// origin, subprotocols, headers) and accepts or rejects it. A broken
/// upgrade is answered with its HTTP status (400, 426, 431) and returned as
/// [`Error::Handshake`]; a slow client meets `handshake_timeout`.
pub fn accept_with<S: Transport>(
    mut stream: S,
    opts: &Options,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
) -> Result<Accepted<S>, Error> {
    // The write timeout holds from the first byte we answer with.
    stream.set_write_timeout(opts.write_timeout)?;
    let deadline = opts.handshake_timeout.map(|t| StdInstant::now() + t);
    let mut buf = vec![0u8; opts.limits.max_len.max(64)];
    let mut len = 0;
    let mut decide = Some(decide);
    loop {
        len += read_some(&mut stream, &mut buf[len..], deadline)?;
        return match server_step(&buf[..len], opts, &mut decide)? {
            ServerStep::Partial => continue,
            ServerStep::Refused { response, error } => {
                let _ = stream.write_all(&response);
                let _ = stream.shutdown(Shutdown::Write);
                Err(error.into())
            }
            ServerStep::Http(request) => Ok(Accepted::Http(request, stream)),
            ServerStep::Rejected { response, status } => {
                stream.write_all(&response)?;
                let _ = stream.shutdown(Shutdown::Write);
                Ok(Accepted::Rejected(status))
            }
            ServerStep::Accepted(a) => {
                stream.write_all(&a.response)?;
                stream.flush()?;
                stream.set_read_timeout(None)?;
                // Servers never mask: this source is never asked.
                let keys: Keys = Box::new(NoMasking(()));
                let early = &buf[a.head_len..len];
                let mut ws = WebSocket::from_raw(stream, Role::Server, opts, early, keys);
                ws.protocol = a.protocol;
                #[cfg(feature = "deflate")]
                if let Some(params) = a.deflate {
                    ws.agree_deflate(params);
                }
                Ok(Accepted::WebSocket(Box::new(ws)))
            }
        };
    }
}

/// Where a server's handshake stands after the bytes read so far: the
/// steps every host adapter (blocking or async) takes, without the IO.
#[derive(Debug)]
pub(crate) enum ServerStep {
    /// The head is not complete: read more.
    Partial,
    /// A broken upgrade: send `response` (its HTTP status), end the
    /// stream, return `error`.
    Refused {
        response: Vec<u8>,
        error: HandshakeError,
    },
    /// A plain HTTP request, for the caller.
    Http(HttpRequest),
    /// The decision refused the upgrade: send `response`, end the stream.
    Rejected { response: Vec<u8>, status: u16 },
    /// Accepted: send `response`, then run the connection.
    Accepted(Agreed),
}

/// What a server agreed to: its 101, and the connection's terms.
#[derive(Debug)]
pub(crate) struct Agreed {
    /// The 101 to send.
    pub(crate) response: Vec<u8>,
    /// The subprotocol chosen.
    pub(crate) protocol: Option<String>,
    /// The request head's length: bytes past it are frames.
    pub(crate) head_len: usize,
    /// permessage-deflate, if agreed.
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<crate::handshake::deflate::DeflateParams>,
}

/// The server's handshake over `buf`, all read so far: `decide` is taken
/// (and asked) once the head is complete and asks for an upgrade.
pub(crate) fn server_step<F>(
    buf: &[u8],
    opts: &Options,
    decide: &mut Option<F>,
) -> Result<ServerStep, Error>
where
    F: FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
{
    let mut headers = [EMPTY_HEADER; 64];
    let outcome = match handshake::parse_request(buf, &mut headers, &opts.limits) {
        Ok(Status::Partial { .. }) => return Ok(ServerStep::Partial),
        Ok(Status::Complete(o)) => o,
        Err(error) => {
            let res = HttpResponse::from_error(&error);
            crate::adapter::diag::diag!(info, "handshake refused with HTTP {}", res.status());
            let mut out = [0u8; 512];
            let n = res.write(&mut out).unwrap_or(0);
            return Ok(ServerStep::Refused {
                response: out[..n].to_vec(),
                error,
            });
        }
    };
    let u = match outcome {
        Outcome::Http(r) => {
            return Ok(ServerStep::Http(HttpRequest {
                method: r.method().into(),
                target: r.target().into(),
                headers: r
                    .headers()
                    .iter()
                    .map(|h| (h.name.into(), h.value.to_vec()))
                    .collect(),
                rest: buf[r.len()..].to_vec(),
            }));
        }
        Outcome::Upgrade(u) => u,
    };
    let decision = match decide.take() {
        Some(decide) => decide(&u),
        // Asked once only: a second complete head cannot come.
        None => Decision::reject(500, "internal error"),
    };
    match decision {
        Decision::Reject { status, reason } => {
            crate::adapter::diag::diag!(info, "upgrade refused with HTTP {}", status);
            let mut out = vec![0u8; 256 + reason.len()];
            let n = HttpResponse::new(status).text(&reason).write(&mut out)?;
            out.truncate(n);
            Ok(ServerStep::Rejected {
                response: out,
                status,
            })
        }
        Decision::Accept { protocol, headers } => {
            let extra: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let mut out = vec![
                0u8;
                400 + extra
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 4)
                    .sum::<usize>()
            ];
            // permessage-deflate: the first offer the policy takes.
            #[cfg(feature = "deflate")]
            let deflate = opts.deflate.and_then(|d| u.deflate(&d.policy()));
            let response = ServerResponse::accept(&u)
                .protocol(protocol.as_deref())
                .headers(&extra);
            #[cfg(feature = "deflate")]
            let response = response.deflate(deflate.map(|(_, element)| element));
            let n = response.write(&mut out)?;
            out.truncate(n);
            Ok(ServerStep::Accepted(Agreed {
                response: out,
                protocol,
                head_len: u.len(),
                #[cfg(feature = "deflate")]
                deflate: deflate.map(|(params, _)| params),
            }))
        }
    }
}

/// Reads at least one byte before `deadline`.
pub(super) fn read_some<S: Transport>(
    stream: &mut S,
    buf: &mut [u8],
    deadline: Option<StdInstant>,
) -> Result<usize, Error> {
    if buf.is_empty() {
        // The parser refuses a head that fills the buffer; not reached.
        return Err(HandshakeError::TooLarge { limit: 0 }.into());
    }
    loop {
        let left = match deadline {
            Some(d) => {
                let now = StdInstant::now();
                if now >= d {
                    return Err(
                        io::Error::new(io::ErrorKind::TimedOut, "handshake timed out").into(),
                    );
                }
                Some(d - now)
            }
            None => None,
        };
        stream.set_read_timeout(left)?;
        match stream.read(buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during the handshake",
                )
                .into());
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

//! The client side: URLs and connect.

use std::io::{self};
use std::net::{TcpStream, ToSocketAddrs};
use std::string::String;
use std::time::Instant as StdInstant;
use std::vec::Vec;
use std::{boxed::Box, format, vec};

use crate::Status;
use crate::conn::{OsKeys, Role};
use crate::handshake::{self, ClientHandshake, ClientRequest, EMPTY_HEADER, HandshakeError};

use super::{Keys, Options};
use super::{error::*, server::*, socket::*, stream::Stream, transport::*};

/// The parts of a `ws://` or `wss://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `wss`.
    pub secure: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (80 or 443 if the URL has none).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub resource: String,
}

impl Url {
    /// Parses `ws[s]://host[:port][/path][?query]`. User info and
    /// fragments are refused (RFC 6455 section 3).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let (secure, host, port, resource) =
            crate::handshake::split_uri(url).map_err(Error::Url)?;
        let resource = if resource.starts_with('/') {
            resource.into()
        } else {
            format!("/{resource}")
        };
        Ok(Self {
            secure,
            host: host.into(),
            port,
            resource,
        })
    }
}

/// Connects to a `ws://` or `wss://` URL with default options.
pub fn connect(url: &str) -> Result<WebSocket<Stream>, Error> {
    connect_with(url, &Options::default())
}

/// Connects to a `ws://` or `wss://` URL: TCP (with `connect_timeout`,
/// Nagle off), TLS for `wss://` (feature `rustls`: `Options::tls`, or
/// the platform's roots; the handshake within `handshake_timeout`), then
/// the WebSocket handshake. Without feature `rustls` a `wss://` URL is
/// [`Error::TlsRequired`].
pub fn connect_with(url: &str, opts: &Options) -> Result<WebSocket<Stream>, Error> {
    let u = Url::parse(url)?;
    let tcp = tcp_connect(&u, opts)?;
    open(tcp, url, &u, opts)
}

/// TCP to `u`'s host, each address tried within `connect_timeout`,
/// Nagle off.
pub(super) fn tcp_connect(u: &Url, opts: &Options) -> Result<TcpStream, Error> {
    #[cfg(not(feature = "rustls"))]
    if u.secure {
        return Err(Error::TlsRequired);
    }
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
    for addr in (u.host.as_str(), u.port).to_socket_addrs()? {
        let r = match opts.connect_timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        };
        match r {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last.into())
}

/// TLS for `wss://` (feature `rustls`), then the WebSocket handshake, on
/// a connected `tcp`.
pub(super) fn open(
    tcp: TcpStream,
    url: &str,
    u: &Url,
    opts: &Options,
) -> Result<WebSocket<Stream>, Error> {
    #[cfg(feature = "rustls")]
    if u.secure {
        let config = match &opts.tls {
            Some(c) => c.clone(),
            None => super::platform_config()?,
        };
        let tls = Stream::tls_client(tcp, &u.host, config, opts.handshake_timeout)?;
        return client(tls, url, opts);
    }
    let _ = u;
    client(Stream::plain(tcp), url, opts)
}

/// Runs the client handshake for `url` on a stream the caller opened (a
/// `TcpStream`, or a TLS stream for `wss://`). Mask keys come from
/// [`OsKeys`].
pub fn client<S: Transport>(stream: S, url: &str, opts: &Options) -> Result<WebSocket<S>, Error> {
    let keys = OsKeys::new().map_err(Error::Random)?;
    client_with_keys(stream, url, opts, Box::new(keys))
}

/// [`client`] with mask keys from a source the caller gives (a hardware
/// RNG, say). They must be unpredictable: RFC 6455 section 10.3.
pub fn client_with_keys<S: Transport>(
    mut stream: S,
    url: &str,
    opts: &Options,
    keys: Keys,
) -> Result<WebSocket<S>, Error> {
    let hello = ClientHello::new(url, opts)?;
    stream.set_write_timeout(opts.write_timeout)?;
    stream.write_all(&hello.request)?;
    stream.flush()?;

    let deadline = opts.handshake_timeout.map(|t| StdInstant::now() + t);
    let mut buf = vec![0u8; opts.limits.max_len.max(64)];
    let mut len = 0;
    loop {
        len += read_some(&mut stream, &mut buf[len..], deadline)?;
        let Some(done) = hello.step(&buf[..len], opts)? else {
            continue;
        };
        stream.set_read_timeout(None)?;
        let early = &buf[done.head_len..len];
        let mut ws = WebSocket::from_raw(stream, Role::Client, opts, early, keys);
        ws.protocol = done.protocol;
        #[cfg(feature = "deflate")]
        if let Some(params) = done.deflate {
            ws.agree_deflate(params);
        }
        return Ok(ws);
    }
}

/// A client's handshake, without the IO: the request to send, then
/// [`step`](Self::step) over the response read so far (every host
/// adapter, blocking or async, takes these steps).
#[derive(Debug)]
pub(crate) struct ClientHello {
    hs: ClientHandshake,
    url: Url,
    /// The request head to send.
    pub(crate) request: Vec<u8>,
}

/// What a server agreed to, seen from the client.
#[derive(Debug)]
pub(crate) struct ClientAgreed {
    /// The subprotocol the server chose.
    pub(crate) protocol: Option<String>,
    /// The response head's length: bytes past it are frames.
    pub(crate) head_len: usize,
    /// permessage-deflate, if agreed.
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<crate::handshake::deflate::DeflateParams>,
}

impl ClientHello {
    /// The request for `url` with `opts` (its nonce from the OS).
    pub(crate) fn new(url: &str, opts: &Options) -> Result<Self, Error> {
        let url = Url::parse(url)?;
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(Error::Random)?;
        let hs = ClientHandshake::new(nonce);
        let request = with_request(&url, opts, |req| {
            let mut out = vec![
                0u8;
                640 + url.resource.len()
                    + url.host.len()
                    + opts
                        .headers
                        .iter()
                        .map(|(n, v)| n.len() + v.len() + 4)
                        .sum::<usize>()
                    + opts.protocols.iter().map(|p| p.len() + 2).sum::<usize>()
            ];
            let n = hs.write_request(req, &mut out)?;
            out.truncate(n);
            Ok::<_, Error>(out)
        })?;
        Ok(Self { hs, url, request })
    }

    /// The response read so far, `buf`: `None` while it is not complete.
    pub(crate) fn step(&self, buf: &[u8], opts: &Options) -> Result<Option<ClientAgreed>, Error> {
        with_request(&self.url, opts, |req| {
            let mut slots = [EMPTY_HEADER; 64];
            match self.hs.parse_response(req, buf, &mut slots, &opts.limits) {
                Ok(Status::Partial { .. }) => Ok(None),
                Ok(Status::Complete(res)) => Ok(Some(ClientAgreed {
                    protocol: res.protocol().map(String::from),
                    head_len: res.len(),
                    #[cfg(feature = "deflate")]
                    deflate: self.hs.deflate_params(req, &res),
                })),
                Err(HandshakeError::Status(status)) => {
                    let mut slots = [EMPTY_HEADER; 64];
                    let reason = match handshake::Response::parse(buf, &mut slots, &opts.limits) {
                        Ok(Status::Complete(r)) => r.reason().into(),
                        _ => String::new(),
                    };
                    Err(Error::HttpStatus { status, reason })
                }
                Err(e) => Err(e.into()),
            }
        })
    }
}

/// Runs `f` on the request `opts` make for `u`.
fn with_request<R>(u: &Url, opts: &Options, f: impl FnOnce(&ClientRequest<'_>) -> R) -> R {
    let protocols: Vec<&str> = opts.protocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = opts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    #[cfg(feature = "deflate")]
    let offers: Vec<_> = opts.deflate.iter().map(|d| d.offer()).collect();
    let req = ClientRequest {
        port: u.port,
        secure: u.secure,
        protocols: &protocols,
        headers: &headers,
        #[cfg(feature = "deflate")]
        deflate: &offers,
        ..ClientRequest::new(&u.host, &u.resource)
    };
    f(&req)
}

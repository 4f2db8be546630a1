//! Accept and connect: the blocking adapter's handshake steps over async
//! IO, within `handshake_timeout`.

use std::boxed::Box;
use std::io;
use std::time::Instant as StdInstant;
use std::vec;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::TcpStream;

use crate::adapter::std_net::client::ClientHello;
use crate::adapter::std_net::server::{ServerStep, server_step};
use crate::adapter::std_net::{Decision, Error, HttpRequest, Keys, Options, Url};
use crate::conn::{NoMasking, OsKeys, Role};
use crate::handshake::{HandshakeError, UpgradeRequest};

use super::WebSocket;

/// What [`accept`] found on a new stream.
#[derive(Debug)]
pub enum Accepted<S> {
    /// An accepted WebSocket (boxed: it holds the connection state).
    WebSocket(Box<WebSocket<S>>),
    /// A plain HTTP request, for the caller to answer (e.g. with
    /// [`HttpResponse`](crate::handshake::HttpResponse)) on the stream.
    Http(HttpRequest, S),
    /// An upgrade the decision refused; the refusal was sent.
    Rejected(u16),
}

/// Reads the request on `stream` and accepts any WebSocket upgrade.
pub async fn accept<S>(stream: S, opts: &Options) -> Result<Accepted<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, opts, |_| Decision::accept()).await
}

/// Reads the request on `stream`; `decide` sees an upgrade request (path,
/// origin, subprotocols, headers) and accepts or rejects it. A broken
/// upgrade is answered with its HTTP status (400, 426, 431) and returned
/// as [`Error::Handshake`]; a slow client meets `handshake_timeout`.
pub async fn accept_with<S>(
    mut stream: S,
    opts: &Options,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
) -> Result<Accepted<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Boxed: the handshake's state (0.8 KiB: its timers, the response
    // being written) lives on the heap while it runs, instead of sizing
    // the caller's task, and so every idle connection, for good.
    Box::pin(async move {
        let deadline = opts.handshake_timeout.map(|t| StdInstant::now() + t);
        let mut buf = vec![0u8; opts.limits.max_len.max(64)];
        let mut len = 0;
        let mut decide = Some(decide);
        loop {
            len += read_some(&mut stream, &mut buf[len..], deadline).await?;
            return match server_step(&buf[..len], opts, &mut decide)? {
                ServerStep::Partial => continue,
                ServerStep::Refused { response, error } => {
                    let _ = write_all(&mut stream, &response, opts).await;
                    let _ = within(opts, stream.shutdown()).await;
                    Err(error.into())
                }
                ServerStep::Http(request) => Ok(Accepted::Http(request, stream)),
                ServerStep::Rejected { response, status } => {
                    write_all(&mut stream, &response, opts).await?;
                    let _ = within(opts, stream.shutdown()).await;
                    Ok(Accepted::Rejected(status))
                }
                ServerStep::Accepted(a) => {
                    write_all(&mut stream, &a.response, opts).await?;
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
    })
    .await
}

/// Connects to a `ws://` URL with default options.
pub async fn connect(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    connect_with(url, &Options::default()).await
}

/// Connects to a `ws://` URL: TCP (each address tried within
/// `connect_timeout`, Nagle off), then the WebSocket handshake. For
/// `wss://`, open the TLS stream (tokio-rustls) and pass it to
/// [`client`]; here a `wss://` URL is [`Error::TlsRequired`].
pub async fn connect_with(url: &str, opts: &Options) -> Result<WebSocket<TcpStream>, Error> {
    let u = Url::parse(url)?;
    if u.secure {
        return Err(Error::TlsRequired);
    }
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
    for addr in ::tokio::net::lookup_host((u.host.as_str(), u.port)).await? {
        let r = match opts.connect_timeout {
            Some(t) => ::tokio::time::timeout(t, TcpStream::connect(addr))
                .await
                .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
            None => TcpStream::connect(addr).await,
        };
        match r {
            Ok(s) => {
                s.set_nodelay(true)?;
                return client(s, url, opts).await;
            }
            Err(e) => last = e,
        }
    }
    Err(last.into())
}

/// Runs the client handshake for `url` on a stream the caller opened (a
/// `TcpStream`, or a TLS stream for `wss://`). Mask keys come from
/// [`OsKeys`].
pub async fn client<S>(stream: S, url: &str, opts: &Options) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let keys = OsKeys::new().map_err(Error::Random)?;
    client_with_keys(stream, url, opts, Box::new(keys)).await
}

/// [`client`] with mask keys from a source the caller gives. They must be
/// unpredictable: RFC 6455 section 10.3.
pub async fn client_with_keys<S>(
    mut stream: S,
    url: &str,
    opts: &Options,
    keys: Keys,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Boxed, as the server's (see `accept_with`).
    Box::pin(async move {
        let hello = ClientHello::new(url, opts)?;
        write_all(&mut stream, &hello.request, opts).await?;
        let deadline = opts.handshake_timeout.map(|t| StdInstant::now() + t);
        let mut buf = vec![0u8; opts.limits.max_len.max(64)];
        let mut len = 0;
        loop {
            len += read_some(&mut stream, &mut buf[len..], deadline).await?;
            let Some(done) = hello.step(&buf[..len], opts)? else {
                continue;
            };
            let early = &buf[done.head_len..len];
            let mut ws = WebSocket::from_raw(stream, Role::Client, opts, early, keys);
            ws.protocol = done.protocol;
            #[cfg(feature = "deflate")]
            if let Some(params) = done.deflate {
                ws.agree_deflate(params);
            }
            return Ok(ws);
        }
    })
    .await
}

/// `f` within the write timeout.
async fn within<T>(opts: &Options, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    match opts.write_timeout {
        Some(t) => ::tokio::time::timeout(t, f)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out"))),
        None => f.await,
    }
}

/// Writes `bytes` whole and flushes, within the write timeout.
async fn write_all<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    opts: &Options,
) -> io::Result<()> {
    within(opts, async {
        stream.write_all(bytes).await?;
        stream.flush().await
    })
    .await
}

/// Reads at least one byte before `deadline`.
async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    deadline: Option<StdInstant>,
) -> Result<usize, Error> {
    if buf.is_empty() {
        // The parser refuses a head that fills the buffer; not reached.
        return Err(HandshakeError::TooLarge { limit: 0 }.into());
    }
    let read = stream.read(buf);
    let n = match deadline {
        Some(d) => ::tokio::time::timeout_at(d.into(), read)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))??,
        None => read.await?,
    };
    if n == 0 {
        return Err(
            io::Error::new(io::ErrorKind::UnexpectedEof, "closed during the handshake").into(),
        );
    }
    Ok(n)
}

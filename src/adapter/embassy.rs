//! The managed client for embassy firmware (feature `embassy`):
//! esp_websocket_client's model as an async task. [`run`] connects,
//! keeps the connection alive (keepalive pings, the pong timeout),
//! reports [`Event`]s in order to a handler, and reconnects on its own
//! with a doubling, jittered wait; other tasks send through a
//! [`Client`] (a `static` they share), each send with a timeout, failing
//! at once while disconnected. No allocation: the buffers are the
//! caller's, and a send is copied into one slot of `N` bytes that the
//! client's task writes out (a message larger than `N` goes as fragments,
//! [`Client::send_fragment`], from one task).
//!
//! ```no_run
//! # async fn demo(stack: embassy_net::Stack<'static>) {
//! use embassy_net::tcp::{ConnectError, TcpSocket};
//! use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
//! use sansws::adapter::embassy::{self, Client, Connect, Event, Settings};
//! use sansws::handshake::ClientRequest;
//!
//! static CLIENT: Client<CriticalSectionRawMutex, 1024> = Client::new();
//!
//! /// A new TCP connection for each try.
//! struct Tcp { stack: embassy_net::Stack<'static>, rx: [u8; 2048], tx: [u8; 2048] }
//! impl Connect for Tcp {
//!     type Io<'a> = TcpSocket<'a>;
//!     type Error = ConnectError;
//!     async fn connect(&mut self, req: &ClientRequest<'_>) -> Result<TcpSocket<'_>, Self::Error> {
//!         // An address here; a name would go through `self.stack.dns_query`
//!         // (and `req.secure`, wss://, through a TLS session over the socket).
//!         let ip: embassy_net::Ipv4Address = req.host.parse().map_err(|_| ConnectError::NoRoute)?;
//!         let mut s = TcpSocket::new(self.stack, &mut self.rx, &mut self.tx);
//!         s.set_nagle_enabled(false);
//!         s.connect((ip, req.port)).await?;
//!         Ok(s)
//!     }
//!     // A TcpSocket sends nothing when dropped: end it (FIN, or RST).
//!     async fn disconnect<'a>(mut io: TcpSocket<'a>, graceful: bool) where Self: 'a {
//!         if graceful { io.close() } else { io.abort() }
//!         let _ = embedded_io_async::Write::flush(&mut io).await;
//!     }
//! }
//!
//! let mut tcp = Tcp { stack, rx: [0; 2048], tx: [0; 2048] };
//! let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
//! // esp's `uri`: host, port (80/443 by default) and path for the request;
//! // the connector above opens the TCP connection to that host and port.
//! let settings = Settings::new(ClientRequest::from_uri("ws://192.168.1.10/ws").unwrap());
//! // The chip's RNG (esp-hal's `Rng`) for the nonces and the mask keys;
//! // here a stand-in. Mask keys must be unpredictable (RFC 6455 10.3).
//! let rng = |b: &mut [u8]| b.fill(4);
//! let keys = || || [1, 2, 3, 4];
//! let closed = embassy::run(&CLIENT, &mut tcp, &settings, rng, keys,
//!     &mut rx, &mut tx, |event: Event<'_, _>| match event {
//!         Event::Data(d) => { /* d.payload, d.offset, d.frame_len */ }
//!         _ => {}
//!     }).await;
//! # let _ = closed;
//! # }
//! // Any other task: CLIENT.send_binary(&chunk, Duration::from_millis(100)).await
//! ```

use core::cell::Cell;

use embassy_futures::select::{Either, Either3, select, select3};
use embassy_sync::blocking_mutex::Mutex as BlockingMutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Instant as At, Timer, with_timeout};
use embedded_io::ErrorKind;
use embedded_io_async::{Read, Write};

use super::embedded_io_async::{self as ws, ClientOptions, Error as WsError};
use crate::conn::{
    Config, Data, DataKind, End, Event as ConnEvent, Instant, MaskKeys, MessagePart,
};
use crate::handshake::{ClientRequest, HandshakeError, Sha1Fn};
use crate::wire::CloseCode;

/// The connection's clock from embassy-time, in milliseconds.
pub fn embassy_clock() -> Instant {
    Instant(At::now().as_millis())
}

/// A new transport for each connection try (a TCP socket connected to the
/// server, a TLS session over one), and its end.
#[allow(async_fn_in_trait)]
pub trait Connect {
    /// The transport.
    type Io<'a>: Read + Write
    where
        Self: 'a;
    /// Why a try failed.
    type Error: core::fmt::Debug;
    /// Opens a transport to the request's `host` (a name to look up, or an
    /// address) and `port`, with TLS if it is `secure` (`wss://`): the
    /// request of [`Settings::request`], or of the URI given to
    /// [`Client::set_uri`].
    async fn connect(&mut self, request: &ClientRequest<'_>) -> Result<Self::Io<'_>, Self::Error>;
    /// Ends a transport when its connection is over: `graceful` after a
    /// close handshake or a [`Client::stop`] (a TCP FIN), not after a
    /// failure or a silent peer (a reset). The default drops it, which is
    /// right for a transport whose drop ends it; an embassy-net
    /// `TcpSocket`'s drop sends nothing, so close it
    /// (`close()`, or `abort()`, then `flush().await`), or the server keeps
    /// the connection until its own timeout. Bounded by [`run`] to 1 s.
    async fn disconnect<'a>(io: Self::Io<'a>, graceful: bool)
    where
        Self: 'a,
    {
        let _ = (io, graceful);
    }
}

/// How [`run`] connects and reconnects.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'r> {
    /// The request: host, path, subprotocols, extra header fields
    /// ([`ClientRequest::from_uri`] makes one from esp's `uri`).
    pub request: ClientRequest<'r>,
    /// The connection's limits and timers: keepalive (`ping_interval`,
    /// default here 10 s, as esp_websocket_client), `pong_timeout`,
    /// `close_timeout`.
    pub config: Config,
    /// How long a connect, the handshake, and a write may each take
    /// (esp's `network_timeout_ms`; default 10 s).
    pub network_timeout: Duration,
    /// Reconnect at all (default yes).
    pub reconnect: bool,
    /// The first wait before a reconnect (default 1 s), doubled after
    /// each failure up to `max_delay` (default 30 s), back to this once
    /// connected.
    pub delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Each wait moved by up to this many 256ths of itself either way
    /// (default 51, about 20 %).
    pub jitter: u8,
    /// The handshake's SHA-1 (default: the `sha1` crate, feature `sha1`).
    pub sha1: Sha1Fn,
}

impl<'r> Settings<'r> {
    /// The defaults for `request`, with the `sha1` crate's SHA-1.
    #[cfg(feature = "sha1")]
    pub const fn new(request: ClientRequest<'r>) -> Self {
        Self::with_sha1(request, crate::handshake::sha1_digest)
    }

    /// The defaults for `request`, with the caller's SHA-1.
    pub const fn with_sha1(request: ClientRequest<'r>, sha1: Sha1Fn) -> Self {
        Self {
            request,
            config: Config {
                ping_interval: Some(crate::conn::Duration::from_secs(10)),
                ..Config::DEFAULT
            },
            network_timeout: Duration::from_secs(10),
            reconnect: true,
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            jitter: 51,
            sha1,
        }
    }
}

/// Why a connection ended (or was never made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// The transport, the handshake or a timeout on them failed (the
    /// [`Event::Error`] before this says which).
    ConnectFailed,
    /// The server closed with this code (`None`: its close had none), the
    /// close handshake done.
    ServerClosed(Option<CloseCode>),
    /// No pong to a keepalive ping in time.
    PongTimeout,
    /// The server broke the protocol; our close carried this code.
    ProtocolError(CloseCode),
    /// The transport ended or failed: the kind of the IO error that ended
    /// it, when one did (a write that failed, or timed out: `TimedOut`).
    /// A reset seen while reading reads as the stream's end: `None`.
    Lost(Option<ErrorKind>),
    /// [`Client::close`]: our close handshake (`clean`: the server
    /// answered).
    ClosedByClient {
        /// The server answered our close.
        clean: bool,
    },
    /// [`Client::stop`].
    Stopped,
}

/// What failed, with what esp's ERROR event reports.
#[derive(Debug)]
pub enum Failure<E> {
    /// The transport could not be opened: the connector's error.
    Connect(E),
    /// The handshake was refused; `HandshakeError::Status(403)` holds the
    /// server's HTTP status.
    Handshake(HandshakeError),
    /// A connect, the handshake or a write took longer than
    /// [`Settings::network_timeout`].
    TimedOut,
    /// The transport failed: its error's kind.
    Io(ErrorKind),
    /// The server broke the protocol; our close carried this code.
    Protocol(CloseCode),
    /// A send the connection refused (a fragment that does not continue
    /// the message open on it); nothing was sent, the connection goes on.
    Send(crate::conn::SendError),
    /// Our request cannot be written (a host or path with characters a
    /// request cannot carry, too small a `tx`): not retried, [`run`]
    /// returns [`Closed::InvalidRequest`].
    Request(crate::handshake::WriteError),
}

/// How [`run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// [`Client::close`]: the close handshake (`clean`: the server
    /// answered; `false` if no connection was open), then the end.
    Closed {
        /// The server answered our close.
        clean: bool,
    },
    /// [`Client::stop`].
    Stopped,
    /// A connection ended and [`Settings::reconnect`] is off.
    NotReconnecting,
    /// The request cannot be written ([`Failure::Request`]).
    InvalidRequest,
}

/// What [`run`] tells its handler, in order: every
/// [`Event::Connected`] is followed by exactly one [`Event::Disconnected`];
/// a failed try is an [`Event::Error`] and a `Disconnected(ConnectFailed)`;
/// a try cut by [`Client::close`] or [`Client::stop`] reports nothing
/// (`run` returns).
#[derive(Debug)]
pub enum Event<'a, E> {
    /// The handshake succeeded.
    Connected,
    /// A chunk of a received message: its kind, bytes, offset in the
    /// frame, the frame's length, fin ([`Data::is_message_end`]). A
    /// message cut by a [`Event::Disconnected`] never ends: drop what
    /// came of it.
    Data(Data<'a>),
    /// The connection ended (or could not be made).
    Disconnected(Disconnect),
    /// Something failed (before the [`Event::Disconnected`] it causes).
    Error(Failure<E>),
}

/// Why a send failed; nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendFailed {
    /// No connection is open.
    #[error("not connected")]
    NotConnected,
    /// More than the client's slot (`N` bytes) at once: send it as
    /// fragments.
    #[error("larger than the send slot")]
    TooLong,
    /// The slot did not come free within the timeout.
    #[error("send timed out")]
    TimedOut,
    /// A whole message while a fragmented one is open: finish it first
    /// (its fragment with `fin`).
    #[error("a fragmented message is open")]
    FragmentOpen,
    /// A fragment of the other kind than the open message's.
    #[error("fragment of the other kind than the open message")]
    FragmentKind,
    /// The fragmented message this fragment continues was cut (a
    /// reconnect, or one of its fragments failed): its rest is refused
    /// up to its `fin`, then the next fragment starts a new message.
    #[error("the message this fragment continues was cut")]
    MessageCut,
    /// [`Client::set_uri`]: not a `ws://` or `wss://` URI of at most
    /// [`MAX_URI`] bytes (the reason).
    #[error("invalid URI: {0}")]
    Uri(&'static str),
}

/// A send waiting for the client's task: the connection it was meant for
/// (a send for a connection that ended is dropped, never sent on the
/// next), what it is, and its bytes.
struct Outgoing<const N: usize> {
    epoch: u32,
    part: MessagePart,
    len: usize,
    buf: [u8; N],
}

/// What the application asks of the client's task.
#[derive(Clone, Copy)]
enum Command {
    Close {
        code: CloseCode,
        reason: [u8; 123],
        len: u8,
    },
    Stop,
}

#[derive(Clone, Copy, Default)]
struct Link {
    connected: bool,
    /// Counts connections made.
    epoch: u32,
    /// The fragmented message the senders have open, if any.
    open: Option<Open>,
}

/// A fragmented message being sent.
#[derive(Clone, Copy, Debug)]
struct Open {
    /// The connection its first fragment went to.
    epoch: u32,
    kind: DataKind,
    /// One of its fragments failed: the rest is refused.
    cut: bool,
}

impl Link {
    /// Whether `part` may be sent now; the open message's state follows
    /// (also when it is refused: a cut message's `fin` ends it).
    fn admit(&mut self, part: MessagePart) -> Result<(), SendFailed> {
        let open = self.open;
        let current = open.filter(|o| o.epoch == self.epoch && !o.cut);
        match part {
            MessagePart::Whole(_) if current.is_some() => Err(SendFailed::FragmentOpen),
            MessagePart::Whole(_) => Ok(()),
            MessagePart::Fragment { fin, .. } if open.is_some() && current.is_none() => {
                self.open = if fin {
                    None
                } else {
                    open.map(|o| Open { cut: true, ..o })
                };
                Err(SendFailed::MessageCut)
            }
            MessagePart::Fragment { kind, .. } if open.is_some_and(|o| o.kind != kind) => {
                Err(SendFailed::FragmentKind)
            }
            MessagePart::Fragment { kind, fin } => {
                self.open = match (fin, open) {
                    (true, _) => None,
                    (false, Some(o)) => Some(o),
                    (false, None) => Some(Open {
                        epoch: self.epoch,
                        kind,
                        cut: false,
                    }),
                };
                Ok(())
            }
        }
    }

    /// A fragment that was admitted but not sent (its send timed out):
    /// the message it belongs to is cut, or, for its first fragment,
    /// never began.
    fn unsent(&mut self, part: MessagePart, opened: bool) {
        if let MessagePart::Fragment { .. } = part {
            self.open = match self.open {
                Some(_) if opened => None,
                Some(o) => Some(Open { cut: true, ..o }),
                None => Some(Open {
                    epoch: self.epoch,
                    kind: DataKind::Binary,
                    cut: true,
                }),
            };
        }
    }
}

/// The handle other tasks send through, shared with [`run`] (a
/// `static`): a slot of `N` bytes for one send at a time, the state of
/// the connection, the application's commands. `M` is the mutex kind
/// (`CriticalSectionRawMutex` when senders run on other executors or
/// interrupts, `NoopRawMutex` on one executor).
pub struct Client<M: RawMutex, const N: usize> {
    out: Channel<M, Outgoing<N>, 1>,
    command: Signal<M, Command>,
    link: BlockingMutex<M, Cell<Link>>,
    /// [`Client::set_uri`]'s URI, if one was set.
    uri: BlockingMutex<M, Cell<Option<UriBuf>>>,
}

/// The longest URI [`Client::set_uri`] keeps.
pub const MAX_URI: usize = 128;

#[derive(Clone, Copy)]
struct UriBuf {
    buf: [u8; MAX_URI],
    len: u8,
}

impl<M: RawMutex, const N: usize> Default for Client<M, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: RawMutex, const N: usize> Client<M, N> {
    /// A client not yet running ([`run`] it).
    pub const fn new() -> Self {
        Self {
            out: Channel::new(),
            command: Signal::new(),
            link: BlockingMutex::new(Cell::new(Link {
                connected: false,
                epoch: 0,
                open: None,
            })),
            uri: BlockingMutex::new(Cell::new(None)),
        }
    }

    /// Connects to `uri` (`ws://` or `wss://`, at most [`MAX_URI`] bytes)
    /// from the next connection on (esp's `set_uri`): its host, port,
    /// scheme and path replace [`Settings::request`]'s (its subprotocols
    /// and headers stay). The client keeps it, for later [`run`]s too,
    /// until [`Client::clear_uri`].
    pub fn set_uri(&self, uri: &str) -> Result<(), SendFailed> {
        ClientRequest::from_uri(uri).map_err(SendFailed::Uri)?;
        if uri.len() > MAX_URI {
            return Err(SendFailed::Uri("longer than MAX_URI"));
        }
        let mut buf = [0u8; MAX_URI];
        buf[..uri.len()].copy_from_slice(uri.as_bytes());
        self.uri.lock(|u| {
            u.set(Some(UriBuf {
                buf,
                len: uri.len() as u8,
            }))
        });
        Ok(())
    }

    /// Forgets [`Client::set_uri`]'s URI: connections go to
    /// [`Settings::request`] again.
    pub fn clear_uri(&self) {
        self.uri.lock(|u| u.set(None));
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.link.lock(|l| l.get().connected)
    }

    /// Queues `data` as `part` for the connection now open, waiting at
    /// most `timeout` for the slot.
    pub async fn send(
        &self,
        part: MessagePart,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), SendFailed> {
        if data.len() > N {
            return Err(SendFailed::TooLong);
        }
        let (epoch, opened) = self.link.lock(|l| {
            let mut link = l.get();
            if !link.connected {
                return Err(SendFailed::NotConnected);
            }
            let opened = link.open.is_none();
            let r = link.admit(part);
            l.set(link);
            r.map(|()| (link.epoch, opened))
        })?;
        let mut item = Outgoing {
            epoch,
            part,
            len: data.len(),
            buf: [0u8; N],
        };
        item.buf[..data.len()].copy_from_slice(data);
        if with_timeout(timeout, self.out.send(item)).await.is_err() {
            self.link.lock(|l| {
                let mut link = l.get();
                link.unsent(part, opened);
                l.set(link);
            });
            return Err(SendFailed::TimedOut);
        }
        Ok(())
    }

    /// Sends a text message (at most `N` bytes).
    pub async fn send_text(&self, text: &str, timeout: Duration) -> Result<(), SendFailed> {
        let part = MessagePart::Whole(DataKind::Text);
        self.send(part, text.as_bytes(), timeout).await
    }

    /// Sends a binary message (at most `N` bytes).
    pub async fn send_binary(&self, data: &[u8], timeout: Duration) -> Result<(), SendFailed> {
        let part = MessagePart::Whole(DataKind::Binary);
        self.send(part, data, timeout).await
    }

    /// Sends one fragment of a message sent piece by piece (esp's
    /// `send_text_partial` / `send_bin_partial` for the first,
    /// `send_cont_msg`, `send_fin` for the last): a message of any length
    /// through the `N`-byte slot, from one task. While it is open, a whole
    /// message is [`SendFailed::FragmentOpen`]. A message cut by a
    /// reconnect (or by a fragment that timed out) cannot go on: its next
    /// fragments are [`SendFailed::MessageCut`] up to the one with `fin`;
    /// the fragment after that starts a new message.
    pub async fn send_fragment(
        &self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
        timeout: Duration,
    ) -> Result<(), SendFailed> {
        self.send(MessagePart::Fragment { kind, fin }, data, timeout)
            .await
    }

    /// Closes with `code` and `reason` (at most 123 bytes; longer is cut
    /// at a character boundary): the close handshake, then [`run`]
    /// returns [`Closed::Closed`].
    pub fn close(&self, code: CloseCode, reason: &str) {
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0u8; 123];
        buf[..end].copy_from_slice(&reason.as_bytes()[..end]);
        self.command.signal(Command::Close {
            code,
            reason: buf,
            len: end as u8,
        });
    }

    /// Ends the connection at once, without a close frame, and [`run`]
    /// with it ([`Closed::Stopped`]).
    pub fn stop(&self) {
        self.command.signal(Command::Stop);
    }

    fn set_link(&self, connected: bool) -> u32 {
        self.link.lock(|l| {
            let mut link = l.get();
            link.connected = connected;
            if connected {
                link.epoch = link.epoch.wrapping_add(1);
            }
            l.set(link);
            link.epoch
        })
    }
}

/// Runs the client until it is closed or stopped (or a connection ends
/// and `settings.reconnect` is off): connects through `connector`, does
/// the handshake with a nonce from `rng` and mask keys from `keys` (a new
/// source for each connection), reads and writes through `rx` and `tx`,
/// and calls `handler` with every event, in order. Sends from other tasks
/// go through `client`.
#[allow(clippy::too_many_arguments)]
pub async fn run<M: RawMutex, const N: usize, C: Connect, K: MaskKeys>(
    client: &Client<M, N>,
    connector: &mut C,
    settings: &Settings<'_>,
    mut rng: impl FnMut(&mut [u8]),
    mut keys: impl FnMut() -> K,
    rx: &mut [u8],
    tx: &mut [u8],
    mut handler: impl FnMut(Event<'_, C::Error>),
) -> Closed {
    let mut wait = settings.delay;
    // A close or stop asked before the first connection.
    let mut asked = None;
    loop {
        if let Some(cmd) = asked.take().or_else(|| client.command.try_take()) {
            return match cmd {
                Command::Stop => Closed::Stopped,
                Command::Close { .. } => Closed::Closed { clean: false },
            };
        }
        let why = match connect_once(
            client,
            connector,
            settings,
            &mut rng,
            &mut keys,
            rx,
            tx,
            &mut handler,
        )
        .await
        {
            Ok(Outcome::Ended(why)) => {
                wait = settings.delay;
                why
            }
            Ok(Outcome::Closed(clean)) => {
                handler(Event::Disconnected(Disconnect::ClosedByClient { clean }));
                return Closed::Closed { clean };
            }
            Ok(Outcome::Stopped) => {
                handler(Event::Disconnected(Disconnect::Stopped));
                return Closed::Stopped;
            }
            Ok(Outcome::Asked(cmd)) => {
                asked = Some(cmd);
                continue;
            }
            Err(Failure::Request(e)) => {
                handler(Event::Error(Failure::Request(e)));
                return Closed::InvalidRequest;
            }
            Err(failure) => {
                handler(Event::Error(failure));
                Disconnect::ConnectFailed
            }
        };
        handler(Event::Disconnected(why));
        if !settings.reconnect {
            return Closed::NotReconnecting;
        }
        // The wait, jittered; a command ends it. Sends for the connection
        // that ended are dropped meanwhile.
        let mut r = [0u8; 1];
        rng(&mut r);
        let span = wait.as_ticks() * u64::from(settings.jitter) / 256;
        let ticks = wait.as_ticks() - span + span * 2 * u64::from(r[0]) / 255;
        let until = At::now() + Duration::from_ticks(ticks);
        wait = (wait * 2).min(settings.max_delay.max(settings.delay));
        loop {
            match select3(
                Timer::at(until),
                client.command.wait(),
                client.out.receive(),
            )
            .await
            {
                Either3::First(()) => break,
                Either3::Second(cmd) => {
                    asked = Some(cmd);
                    break;
                }
                Either3::Third(_dropped) => {}
            }
        }
    }
}

/// How one connection went.
enum Outcome {
    Ended(Disconnect),
    Closed(bool),
    Stopped,
    /// A close or stop asked while connecting: no connection was made.
    Asked(Command),
}

/// Ends `io` through the connector, within 1 s.
async fn end_io<C: Connect>(io: C::Io<'_>, graceful: bool) {
    let _ = with_timeout(Duration::from_secs(1), C::disconnect(io, graceful)).await;
}

#[allow(clippy::too_many_arguments)]
async fn connect_once<M: RawMutex, const N: usize, C: Connect, K: MaskKeys>(
    client: &Client<M, N>,
    connector: &mut C,
    settings: &Settings<'_>,
    rng: &mut impl FnMut(&mut [u8]),
    keys: &mut impl FnMut() -> K,
    rx: &mut [u8],
    tx: &mut [u8],
    handler: &mut impl FnMut(Event<'_, C::Error>),
) -> Result<Outcome, Failure<C::Error>> {
    let timeout = settings.network_timeout;
    // The request: the settings', or [`Client::set_uri`]'s host, port and
    // path with the settings' subprotocols and headers.
    let uri = client.uri.lock(Cell::get);
    let uri = uri.as_ref().map(|u| &u.buf[..usize::from(u.len)]);
    let request = match uri.and_then(|u| core::str::from_utf8(u).ok()) {
        Some(u) => match ClientRequest::from_uri(u) {
            Ok(r) => ClientRequest {
                protocols: settings.request.protocols,
                headers: settings.request.headers,
                ..r
            },
            Err(_) => settings.request,
        },
        None => settings.request,
    };
    // Connecting and the handshake give way to a close or a stop.
    let mut io = match select(
        with_timeout(timeout, connector.connect(&request)),
        client.command.wait(),
    )
    .await
    {
        Either::First(Ok(Ok(io))) => io,
        Either::First(Ok(Err(e))) => return Err(Failure::Connect(e)),
        Either::First(Err(_)) => return Err(Failure::TimedOut),
        Either::Second(cmd) => return Ok(Outcome::Asked(cmd)),
    };
    let mut nonce = [0u8; 16];
    rng(&mut nonce);
    let opts = ClientOptions {
        config: settings.config,
        handshake_timeout: None,
        ..ClientOptions::with_sha1(request, nonce, keys(), embassy_clock, settings.sha1)
    };
    // The WebSocket borrows the transport, so that whatever happens the
    // transport is ended through the connector (a dropped embassy-net
    // socket would tell the server nothing).
    let handshake = select(
        with_timeout(timeout, ws::connect(&mut io, rx, tx, opts)),
        client.command.wait(),
    )
    .await;
    let mut w = match handshake {
        Either::First(Ok(Ok(w))) => w,
        other => {
            let r = match other {
                Either::First(Ok(Err(e))) => Err(failure(e)),
                Either::Second(cmd) => Ok(Outcome::Asked(cmd)),
                _ => Err(Failure::TimedOut),
            };
            end_io::<C>(io, false).await;
            return r;
        }
    };
    let epoch = client.set_link(true);
    handler(Event::Connected);
    let mut closing = false;
    let error = loop {
        let wake = w
            .poll_timeout()
            .map_or(At::MAX, |t| At::from_millis(t.as_millis()));
        let input = w.read_event(|e| {
            if let ConnEvent::Data(d) = e {
                handler(Event::Data(d));
            }
        });
        let asks = select(client.out.receive(), client.command.wait());
        match select3(input, Timer::at(wake), asks).await {
            Either3::First(Ok(Some(()))) => {}
            Either3::First(Ok(None)) => break None,
            Either3::First(Err(e)) => break Some(e),
            // Keepalive, pong and close deadlines; bounded, as a flush
            // may wait for a peer that is gone.
            Either3::Second(()) => {
                if let Ok(Err(e)) = with_timeout(Duration::from_millis(500), w.tick()).await {
                    break Some(e);
                }
            }
            Either3::Third(Either::First(item)) => {
                // For this connection only.
                if item.epoch != epoch {
                    continue;
                }
                let data = &item.buf[..item.len.min(N)];
                // Flushed at a message's end only: the fragments of a
                // message streamed through the slot are not held up by an
                // acknowledgement each.
                let flush = !matches!(item.part, MessagePart::Fragment { fin: false, .. });
                match with_timeout(timeout, w.send_frame_then(item.part, data, flush)).await {
                    Ok(Ok(())) => {}
                    // Refused by the connection, nothing sent: said, and
                    // the connection goes on.
                    Ok(Err(WsError::Send(e))) => handler(Event::Error(Failure::Send(e))),
                    Ok(Err(e)) => break Some(e),
                    // Cut mid-frame: the adapter ends the connection.
                    Err(_) => break Some(WsError::Failed(ErrorKind::TimedOut)),
                }
            }
            Either3::Third(Either::Second(Command::Stop)) => {
                client.set_link(false);
                drop(w);
                end_io::<C>(io, true).await;
                return Ok(Outcome::Stopped);
            }
            Either3::Third(Either::Second(Command::Close { code, reason, len })) => {
                let reason = core::str::from_utf8(&reason[..usize::from(len)]).unwrap_or("");
                closing = true;
                client.set_link(false);
                match with_timeout(timeout, w.send_close(code, reason)).await {
                    Ok(Ok(())) | Ok(Err(WsError::Send(_))) => {}
                    Ok(Err(e)) => break Some(e),
                    Err(_) => break Some(WsError::Failed(ErrorKind::TimedOut)),
                }
            }
        }
    };
    client.set_link(false);
    let end = w.end();
    let remote = w.connection().remote_close().map(|(c, _)| c);
    drop(w);
    end_io::<C>(io, end == Some(End::Clean)).await;
    if closing {
        return Ok(Outcome::Closed(end == Some(End::Clean)));
    }
    let kind = match error.map(failure) {
        Some(Failure::Io(k)) => {
            handler(Event::Error(Failure::Io(k)));
            Some(k)
        }
        Some(Failure::Protocol(_)) | None => None,
        Some(f) => {
            handler(Event::Error(f));
            None
        }
    };
    Ok(Outcome::Ended(match end {
        Some(End::Clean) => {
            Disconnect::ServerClosed(remote.filter(|c| *c != CloseCode::NO_STATUS_RECEIVED))
        }
        Some(End::PongTimeout) => Disconnect::PongTimeout,
        Some(End::Failed(p)) => Disconnect::ProtocolError(p.close_code()),
        _ => Disconnect::Lost(kind),
    }))
}

/// An adapter error as a [`Failure`].
fn failure<E: embedded_io::Error, F>(e: WsError<E>) -> Failure<F> {
    match e {
        WsError::Handshake(h) => Failure::Handshake(h),
        WsError::HandshakeTimeout => Failure::TimedOut,
        WsError::Protocol(p) => Failure::Protocol(p.close_code()),
        WsError::Io(e) => Failure::Io(e.kind()),
        WsError::Failed(k) => Failure::Io(k),
        WsError::Eof => Failure::Io(ErrorKind::ConnectionAborted),
        WsError::WriteZero => Failure::Io(ErrorKind::WriteZero),
        WsError::HandshakeWrite(e) => Failure::Request(e),
        WsError::Send(e) => Failure::Send(e),
        _ => Failure::Io(ErrorKind::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: MessagePart = MessagePart::Whole(DataKind::Text);
    fn frag(fin: bool) -> MessagePart {
        MessagePart::Fragment {
            kind: DataKind::Binary,
            fin,
        }
    }

    fn link(epoch: u32) -> Link {
        Link {
            connected: true,
            epoch,
            open: None,
        }
    }

    #[test]
    fn a_whole_message_waits_for_an_open_fragmented_one() {
        let mut l = link(1);
        assert_eq!(l.admit(frag(false)), Ok(()));
        assert_eq!(l.admit(TEXT), Err(SendFailed::FragmentOpen));
        let text_fragment = MessagePart::Fragment {
            kind: DataKind::Text,
            fin: true,
        };
        assert_eq!(l.admit(text_fragment), Err(SendFailed::FragmentKind));
        assert_eq!(l.admit(frag(false)), Ok(()));
        assert_eq!(l.admit(frag(true)), Ok(()));
        assert_eq!(l.admit(TEXT), Ok(()));
    }

    #[test]
    fn a_message_cut_by_a_reconnect_is_refused_to_its_end() {
        let mut l = link(1);
        assert_eq!(l.admit(frag(false)), Ok(()));
        l.epoch = 2; // reconnected
        // Its rest is refused, up to and with its last fragment...
        assert_eq!(l.admit(frag(false)), Err(SendFailed::MessageCut));
        assert_eq!(l.admit(TEXT), Ok(()), "a whole message may go meanwhile");
        assert_eq!(l.admit(frag(true)), Err(SendFailed::MessageCut));
        // ...and the next fragment starts a new message on the new
        // connection.
        assert_eq!(l.admit(frag(false)), Ok(()));
        assert_eq!(l.open.map(|o| o.epoch), Some(2));
        assert_eq!(l.admit(frag(true)), Ok(()));
        assert!(l.open.is_none());
    }

    #[test]
    fn a_fragment_that_timed_out_cuts_its_message() {
        // A middle fragment not sent: the rest is refused.
        let mut l = link(1);
        assert_eq!(l.admit(frag(false)), Ok(()));
        assert_eq!(l.admit(frag(false)), Ok(()));
        l.unsent(frag(false), false);
        assert_eq!(l.admit(frag(true)), Err(SendFailed::MessageCut));
        assert_eq!(l.admit(frag(false)), Ok(()), "a new message");
        // A first fragment not sent: the message never began.
        let mut l = link(1);
        assert_eq!(l.admit(frag(false)), Ok(()));
        l.unsent(frag(false), true);
        assert!(l.open.is_none());
        assert_eq!(l.admit(TEXT), Ok(()));
    }
}

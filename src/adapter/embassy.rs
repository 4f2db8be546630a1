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
//! use embassy_net::tcp::TcpSocket;
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
//!     type Error = embassy_net::tcp::ConnectError;
//!     async fn connect(&mut self) -> Result<TcpSocket<'_>, Self::Error> {
//!         let mut s = TcpSocket::new(self.stack, &mut self.rx, &mut self.tx);
//!         s.connect((embassy_net::Ipv4Address::new(192, 168, 1, 10), 80)).await?;
//!         Ok(s)
//!     }
//! }
//!
//! let mut tcp = Tcp { stack, rx: [0; 2048], tx: [0; 2048] };
//! let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
//! // esp's `uri`: host, port (80/443 by default) and path for the request;
//! // the connector above opens the TCP connection to that host and port.
//! let settings = Settings::new(ClientRequest::from_uri("ws://192.168.1.10/ws").unwrap());
//! let rng = |b: &mut [u8]| b.fill(4); // the chip's RNG
//! let keys = || || [1, 2, 3, 4]; // a mask key source from the chip's RNG
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
/// server, a TLS session over one).
#[allow(async_fn_in_trait)]
pub trait Connect {
    /// The transport.
    type Io<'a>: Read + Write
    where
        Self: 'a;
    /// Why a try failed.
    type Error: core::fmt::Debug;
    /// Opens a transport to the server.
    async fn connect(&mut self) -> Result<Self::Io<'_>, Self::Error>;
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
    /// The transport ended or failed (a write timed out: `TimedOut`).
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
}

/// What [`run`] tells its handler, in order: every
/// [`Event::Connected`] is followed by exactly one [`Event::Disconnected`];
/// a failed try is an [`Event::Error`] and a `Disconnected(ConnectFailed)`.
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
            })),
        }
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
        let link = self.link.lock(Cell::get);
        if !link.connected {
            return Err(SendFailed::NotConnected);
        }
        if data.len() > N {
            return Err(SendFailed::TooLong);
        }
        let mut item = Outgoing {
            epoch: link.epoch,
            part,
            len: data.len(),
            buf: [0u8; N],
        };
        item.buf[..data.len()].copy_from_slice(data);
        with_timeout(timeout, self.out.send(item))
            .await
            .map_err(|_| SendFailed::TimedOut)
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
    /// through the `N`-byte slot, from one task. A message cut by a
    /// reconnect cannot go on on the new connection: its next fragment is
    /// dropped there; start the next message.
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
    let io = match with_timeout(timeout, connector.connect()).await {
        Ok(Ok(io)) => io,
        Ok(Err(e)) => return Err(Failure::Connect(e)),
        Err(_) => return Err(Failure::TimedOut),
    };
    let mut nonce = [0u8; 16];
    rng(&mut nonce);
    let opts = ClientOptions {
        config: settings.config,
        handshake_timeout: None,
        ..ClientOptions::with_sha1(
            settings.request,
            nonce,
            keys(),
            embassy_clock,
            settings.sha1,
        )
    };
    let mut w = match with_timeout(timeout, ws::connect(io, rx, tx, opts)).await {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return Err(failure(e)),
        Err(_) => return Err(Failure::TimedOut),
    };
    let epoch = client.set_link(true);
    handler(Event::Connected);
    let mut closing = None;
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
                // For this connection only, and a fragment that does not
                // fit the connection's state is dropped, not fatal.
                if item.epoch != epoch {
                    continue;
                }
                let data = &item.buf[..item.len.min(N)];
                // Flushed at a message's end only: the fragments of a
                // message streamed through the slot are not held up by an
                // acknowledgement each.
                let flush = !matches!(item.part, MessagePart::Fragment { fin: false, .. });
                match with_timeout(timeout, w.send_frame_then(item.part, data, flush)).await {
                    Ok(Ok(())) | Ok(Err(WsError::Send(_))) => {}
                    Ok(Err(e)) => break Some(e),
                    // Cut mid-frame: the adapter ends the connection.
                    Err(_) => break Some(WsError::Failed(ErrorKind::TimedOut)),
                }
            }
            Either3::Third(Either::Second(Command::Stop)) => {
                client.set_link(false);
                return Ok(Outcome::Stopped);
            }
            Either3::Third(Either::Second(Command::Close { code, reason, len })) => {
                let reason = core::str::from_utf8(&reason[..usize::from(len)]).unwrap_or("");
                closing = Some(());
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
    if closing.is_some() {
        return Ok(Outcome::Closed(end == Some(End::Clean)));
    }
    if let Some(e) = error {
        let f = failure(e);
        if !matches!(f, Failure::Protocol(_)) {
            handler(Event::Error(f));
        }
    }
    Ok(Outcome::Ended(match end {
        Some(End::Clean) => Disconnect::ServerClosed(
            w.connection()
                .remote_close()
                .map(|(c, _)| c)
                .filter(|c| *c != CloseCode::NO_STATUS_RECEIVED),
        ),
        Some(End::PongTimeout) => Disconnect::PongTimeout,
        Some(End::Failed(p)) => Disconnect::ProtocolError(p.close_code()),
        _ => Disconnect::Lost(None),
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
        _ => Failure::Io(ErrorKind::Other),
    }
}

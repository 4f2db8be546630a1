//! The managed client: esp_websocket_client's model on a host thread.

use std::borrow::Cow;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::string::{String, ToString};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use crate::conn::{DataKind, End, Event, MessagePart};
use crate::wire::CloseCode;

use super::client::{open, tcp_connect};
use super::{Error, Options, Sender, Stream, Url, WebSocket};

/// Reconnecting: after a connection ends (or could not be made), wait
/// `delay`, doubled after each failure up to `max_delay`, each wait moved
/// by up to `jitter` of itself either way (so clients that lost a server
/// together do not come back together); back to `delay` once a
/// connection is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconnect {
    /// Reconnect at all (esp's `disable_auto_reconnect`, inverted).
    pub enabled: bool,
    /// The first wait (default 1 s; esp's `reconnect_timeout_ms`).
    pub delay: StdDuration,
    /// The longest wait (default 30 s).
    pub max_delay: StdDuration,
    /// The share of a wait it may move either way, 0.0 to 1.0 (default 0.2).
    pub jitter: f32,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            enabled: true,
            delay: StdDuration::from_secs(1),
            max_delay: StdDuration::from_secs(30),
            jitter: 0.2,
        }
    }
}

/// A [`ManagedClient`]'s settings.
#[derive(Debug, Clone)]
pub struct ManagedConfig {
    /// `ws://` or `wss://` (feature `rustls`); [`ClientHandle::set_uri`]
    /// changes it for the next connection.
    pub uri: String,
    /// The connection's settings: subprotocols and extra headers to send,
    /// the keepalive (`config.ping_interval`, default 10 s, and
    /// `config.pong_timeout`: a server that stops answering is dropped
    /// and reconnected to), the network timeouts (`connect_timeout`,
    /// `handshake_timeout`, `write_timeout`), buffer sizes, TLS roots.
    /// Its `read_timeout` is not used: the client's thread waits for data
    /// for as long as the keepalive allows.
    pub options: Options,
    /// Reconnecting.
    pub reconnect: Reconnect,
}

impl ManagedConfig {
    /// `uri` with the default options: a ping every 10 s, a 10 s pong
    /// timeout, 10 s network timeouts, reconnecting from 1 s to 30 s.
    pub fn new(uri: &str) -> Result<Self, Error> {
        Url::parse(uri)?;
        Ok(Self {
            uri: uri.into(),
            options: Options::default(),
            reconnect: Reconnect::default(),
        })
    }
}

/// A chunk of a received message (esp's DATA event: its opcode, the
/// chunk, where the chunk starts in the frame and the frame's length).
/// A message cut by a [`ClientEvent::Disconnected`] never ends: drop what
/// came of it (every message is whole or not at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Text or binary.
    pub kind: DataKind,
    /// The bytes (borrowed from the read buffer for the handler's call;
    /// [`ClientEvent::into_owned`] copies them).
    pub chunk: Cow<'a, [u8]>,
    /// Where the chunk starts in its frame.
    pub offset: usize,
    /// The frame's payload length.
    pub frame_len: usize,
    /// Where the chunk starts in its message.
    pub message_offset: usize,
    /// The frame is its message's last (FIN).
    pub fin: bool,
    /// The chunk starts its message.
    pub message_start: bool,
    /// The chunk ends its message.
    pub message_end: bool,
}

/// Why a connection ended (or was never made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// The connection could not be made: TCP, TLS or the WebSocket
    /// handshake failed (the [`ClientEvent::Error`] before this says how).
    ConnectFailed,
    /// The server closed: its code and reason (a server shutting down
    /// sends 1001), the close handshake done.
    ServerClosed {
        /// The server's code, `None` if its close had none.
        code: Option<CloseCode>,
        /// Its reason.
        reason: String,
    },
    /// No pong to a keepalive ping in time: the server stopped answering.
    PongTimeout,
    /// The server broke the protocol; our close carried `code`.
    ProtocolError {
        /// The code our close carried (1002, 1007, 1009).
        code: CloseCode,
    },
    /// The transport ended or failed without a close handshake (a server
    /// restarted, a network lost; a write that timed out): the IO error's
    /// kind, if there was one.
    Lost {
        /// The kind of the error that ended it, if any.
        io: Option<io::ErrorKind>,
    },
    /// [`ManagedClient::close`]: our close handshake (`clean`: the server
    /// answered).
    ClosedByClient {
        /// The server answered our close.
        clean: bool,
    },
    /// [`ManagedClient::stop`].
    Stopped,
}

/// A failure, as esp's ERROR event reports it: what failed, with the
/// handshake's HTTP status, the IO error's kind or the close code when
/// there is one. (The [`Error`] it came from is not `Clone`; its text is
/// here.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// The handshake's HTTP status and reason, when the server answered
    /// the upgrade with another status than 101 (e.g. 403).
    pub http_status: Option<(u16, String)>,
    /// The IO error's kind, when the transport failed.
    pub io: Option<io::ErrorKind>,
    /// The close code sent for a protocol error by the server.
    pub close_code: Option<CloseCode>,
    /// The error, as it displays.
    pub message: String,
}

impl From<&Error> for ClientError {
    fn from(e: &Error) -> Self {
        Self {
            http_status: match e {
                Error::HttpStatus { status, reason } => Some((*status, reason.clone())),
                _ => None,
            },
            io: match e {
                Error::Io(e) => Some(e.kind()),
                _ => None,
            },
            close_code: match e {
                Error::Protocol(p) => Some(p.close_code()),
                _ => None,
            },
            message: e.to_string(),
        }
    }
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How the client's thread ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// [`ManagedClient::close`]: the close handshake, then the end (`clean`:
    /// the server answered; also `true` when the client was not connected).
    Closed {
        /// The server answered our close.
        clean: bool,
    },
    /// [`ManagedClient::stop`] (or the client was dropped).
    Stopped,
    /// A connection ended and [`Reconnect::enabled`] is off.
    NotReconnecting,
}

/// What a [`ManagedClient`] tells its handler, in order, from its thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent<'a> {
    /// The handshake succeeded, with the subprotocol the server chose.
    Connected {
        /// The subprotocol agreed, if any.
        protocol: Option<String>,
    },
    /// A chunk of a received message.
    Data(Chunk<'a>),
    /// The connection ended (or could not be made); unless the client
    /// was stopped or closed, or reconnecting is off, it tries again.
    Disconnected(Disconnect),
    /// Something failed (before the [`ClientEvent::Disconnected`] it
    /// causes).
    Error(ClientError),
    /// The client's thread ends; no event follows.
    Closed(Closed),
}

impl ClientEvent<'_> {
    /// The event with its data copied, to keep or to send to a channel.
    pub fn into_owned(self) -> ClientEvent<'static> {
        match self {
            ClientEvent::Data(c) => ClientEvent::Data(Chunk {
                chunk: Cow::Owned(c.chunk.into_owned()),
                ..c
            }),
            ClientEvent::Connected { protocol } => ClientEvent::Connected { protocol },
            ClientEvent::Disconnected(d) => ClientEvent::Disconnected(d),
            ClientEvent::Error(f) => ClientEvent::Error(f),
            ClientEvent::Closed(c) => ClientEvent::Closed(c),
        }
    }
}

/// What the application asked and the client's thread acts on.
#[derive(Default)]
struct Control {
    uri: String,
    /// The current connection's sender, while connected.
    sender: Option<Sender>,
    /// The socket of a TLS or WebSocket handshake under way, to cut it
    /// on a stop or a close.
    handshake: Option<TcpStream>,
    /// A TCP connect is under way (it cannot be cut).
    connecting: bool,
    stop: bool,
    close: Option<(CloseCode, String)>,
    /// The thread ended.
    finished: bool,
}

impl Control {
    fn asked_to_end(&self) -> bool {
        self.stop || self.close.is_some()
    }
}

struct Inner {
    control: Mutex<Control>,
    /// Signalled on a stop, a close, and when the thread ends.
    changed: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the thread to end: cuts a handshake under way and, for a
    /// stop, the connection; for a close, starts its close handshake.
    fn end(&self, close: Option<(CloseCode, &str)>) {
        let (sender, handshake) = {
            let mut c = self.lock();
            match close {
                Some((code, reason)) => c.close = Some((code, reason.into())),
                None => c.stop = true,
            }
            let sender = if close.is_some() {
                c.sender.clone()
            } else {
                c.sender.take()
            };
            (sender, c.handshake.take())
        };
        self.changed.notify_all();
        if let Some(h) = handshake {
            let _ = h.shutdown(Shutdown::Both);
        }
        if let Some(s) = sender {
            match close {
                // A close that cannot be sent (the connection ended
                // meanwhile) ends the client all the same.
                Some((code, reason)) => {
                    let _ = s.close(code, reason);
                }
                None => s.stop(),
            }
        }
    }
}

/// What a [`ManagedClient`]'s handler can do from inside it, and what
/// other threads can share: the sends and the commands, without the
/// client's thread (so without waiting for it). Cloneable.
#[derive(Clone)]
pub struct ClientHandle {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let c = self.inner.lock();
        f.debug_struct("ClientHandle")
            .field("uri", &c.uri)
            .field("connected", &c.sender.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientHandle {
    /// The connection's sender, or [`Error::NotConnected`].
    fn sender(&self) -> Result<Sender, Error> {
        self.inner.lock().sender.clone().ok_or(Error::NotConnected)
    }

    /// Sends a text message, waiting at most `timeout` for room in the
    /// connection's queue ([`Error::QueueFull`] after it);
    /// [`Error::NotConnected`] at once while disconnected.
    pub fn send_text(&self, text: &str, timeout: StdDuration) -> Result<(), Error> {
        let part = MessagePart::Whole(DataKind::Text);
        self.sender()?.send_within(part, text.as_bytes(), timeout)
    }

    /// Sends a binary message, as [`ClientHandle::send_text`].
    pub fn send_binary(&self, data: &[u8], timeout: StdDuration) -> Result<(), Error> {
        let part = MessagePart::Whole(DataKind::Binary);
        self.sender()?.send_within(part, data, timeout)
    }

    /// Sends one fragment of a message sent piece by piece: the first
    /// opens it (esp's `send_text_partial`, or `send_bin_partial`), later
    /// ones continue it (`send_cont_msg`), the one with `fin` ends it
    /// (`send_fin` is an empty one). A message cut by a reconnect cannot
    /// be continued on the new connection (the send fails): start again.
    pub fn send_fragment(
        &self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
        timeout: StdDuration,
    ) -> Result<(), Error> {
        let part = MessagePart::Fragment { kind, fin };
        self.sender()?.send_within(part, data, timeout)
    }

    /// Sends a ping (the keepalive sends its own).
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        self.sender()?.ping(payload)
    }

    /// Starts the close (see [`ManagedClient::close`]) without waiting
    /// for it.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.inner.end(Some((code, reason)));
    }

    /// Stops the client (see [`ManagedClient::stop`]) without waiting for
    /// its thread.
    pub fn stop(&self) {
        self.inner.end(None);
    }

    /// Changes the URI for the next connection (a reconnect).
    pub fn set_uri(&self, uri: &str) -> Result<(), Error> {
        Url::parse(uri)?;
        self.inner.lock().uri = uri.into();
        Ok(())
    }

    /// Whether a connection is open now. (It turns false as the
    /// connection ends, which may be just before the handler hears of it
    /// in [`ClientEvent::Disconnected`].)
    pub fn is_connected(&self) -> bool {
        self.inner
            .lock()
            .sender
            .as_ref()
            .is_some_and(Sender::is_connected)
    }

    /// Whether the client's thread has ended.
    pub fn is_finished(&self) -> bool {
        self.inner.lock().finished
    }
}

/// A WebSocket client that connects, keeps the connection alive and
/// reconnects on its own, on a thread of its own, reporting
/// [`ClientEvent`]s to a handler, in order; sends come from any thread.
/// Several may run in one program. Dropping it stops it.
///
/// The events: every [`ClientEvent::Connected`] is followed by exactly one
/// [`ClientEvent::Disconnected`] (why it ended); a try that fails is an
/// [`ClientEvent::Error`] and a `Disconnected(ConnectFailed)`; a try cut
/// by [`ManagedClient::stop`] or [`ManagedClient::close`] reports nothing;
/// [`ClientEvent::Closed`] comes last, once.
///
/// ```no_run
/// use std::time::Duration;
/// use sansws::adapter::std_net::{ClientEvent, ManagedClient, ManagedConfig};
///
/// let client = ManagedClient::start(
///     ManagedConfig::new("ws://127.0.0.1:9001/")?,
///     |event: ClientEvent<'_>| match event {
///         ClientEvent::Connected { protocol } => println!("connected ({protocol:?})"),
///         ClientEvent::Data(d) => println!("{} bytes at {} of {}", d.chunk.len(), d.offset, d.frame_len),
///         ClientEvent::Disconnected(why) => println!("disconnected: {why:?}"),
///         ClientEvent::Error(e) => println!("error: {e}"),
///         ClientEvent::Closed(how) => println!("done: {how:?}"),
///     },
/// )?;
/// // From any thread, while connected (else `Error::NotConnected` at once):
/// let _ = client.send_text("hello", Duration::from_secs(1));
/// client.close(sansws::wire::CloseCode::NORMAL, "bye", Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// To send from the handler (a subscription on `Connected`), start it with
/// [`ManagedClient::start_with`]: the handler gets a [`ClientHandle`].
///
/// | esp_websocket_client | here |
/// |---|---|
/// | `esp_websocket_client_init` + `_start` | [`ManagedClient::start`] |
/// | `_send_text`, `_send_bin` | [`ClientHandle::send_text`], [`ClientHandle::send_binary`] |
/// | `_send_text_partial`, `_send_cont_msg`, `_send_fin` | [`ClientHandle::send_fragment`] (first, middle, `fin`) |
/// | `_close`, `_close_with_code` | [`ManagedClient::close`] |
/// | `_stop` | [`ManagedClient::stop`] |
/// | `_set_uri` | [`ClientHandle::set_uri`] |
/// | `_is_connected` | [`ClientHandle::is_connected`] |
/// | events CONNECTED, DATA, DISCONNECTED, ERROR, CLOSED / FINISH | [`ClientEvent`] |
///
/// (The sends and commands are [`ClientHandle`]'s; a `ManagedClient`
/// dereferences to its handle.)
pub struct ManagedClient {
    handle: ClientHandle,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: ThreadId,
}

impl core::fmt::Debug for ManagedClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.handle.fmt(f)
    }
}

impl core::ops::Deref for ManagedClient {
    type Target = ClientHandle;
    fn deref(&self) -> &ClientHandle {
        &self.handle
    }
}

impl ManagedClient {
    /// Starts the client's thread: it connects to `config.uri` and calls
    /// `handler` with every event, in order. A handler that blocks holds
    /// up reading.
    pub fn start(
        config: ManagedConfig,
        mut handler: impl FnMut(ClientEvent<'_>) + Send + 'static,
    ) -> io::Result<Self> {
        Self::start_with(config, move |_, e| handler(e))
    }

    /// As [`ManagedClient::start`], the events sent to a channel instead
    /// (their data copied: [`ClientEvent::into_owned`]). The channel ends
    /// after [`ClientEvent::Closed`].
    pub fn start_channel(
        config: ManagedConfig,
    ) -> io::Result<(Self, std::sync::mpsc::Receiver<ClientEvent<'static>>)> {
        let (tx, rx) = std::sync::mpsc::channel();
        let client = Self::start(config, move |e| {
            let _ = tx.send(e.into_owned());
        })?;
        Ok((client, rx))
    }

    /// As [`ManagedClient::start`], the handler also getting the client's
    /// [`ClientHandle`], to send or close from inside it.
    pub fn start_with(
        config: ManagedConfig,
        handler: impl FnMut(&ClientHandle, ClientEvent<'_>) + Send + 'static,
    ) -> io::Result<Self> {
        let inner = Arc::new(Inner {
            control: Mutex::new(Control {
                uri: config.uri.clone(),
                ..Control::default()
            }),
            changed: Condvar::new(),
        });
        let handle = ClientHandle { inner };
        let for_thread = handle.clone();
        let thread = thread::Builder::new()
            .name("sansws-client".into())
            .spawn(move || run(&for_thread, config, handler))?;
        let thread_id = thread.thread().id();
        Ok(Self {
            handle,
            thread: Mutex::new(Some(thread)),
            thread_id,
        })
    }

    /// Closes with `code` and `reason` (the full close handshake) and ends
    /// the client: no reconnecting after it. Waits at most `timeout` for
    /// the thread to end ([`ClientEvent::Closed`]), `TimedOut` after it.
    /// A handshake under way is cut; not connected, the client just ends.
    pub fn close(&self, code: CloseCode, reason: &str, timeout: StdDuration) -> Result<(), Error> {
        self.handle.close(code, reason);
        self.wait_finished(timeout)
    }

    /// Ends the connection at once, without a close frame, and the client
    /// with it (esp's `stop`), and waits for the thread. A TLS or
    /// WebSocket handshake under way is cut. A TCP connect under way
    /// cannot be: then `stop` returns at once and the thread ends as the
    /// connect does (within `connect_timeout`), reporting nothing more
    /// than [`ClientEvent::Closed`].
    pub fn stop(&self) {
        self.handle.stop();
        if thread::current().id() == self.thread_id || self.inner().lock().connecting {
            return;
        }
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }

    fn inner(&self) -> &Inner {
        &self.handle.inner
    }

    fn wait_finished(&self, timeout: StdDuration) -> Result<(), Error> {
        if thread::current().id() == self.thread_id {
            // From the handler: the thread ends after it returns.
            return Ok(());
        }
        let deadline = StdInstant::now() + timeout;
        let mut c = self.inner().lock();
        while !c.finished {
            let now = StdInstant::now();
            if now >= deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "close timed out").into());
            }
            c = self
                .inner()
                .changed
                .wait_timeout(c, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(())
    }
}

impl Drop for ManagedClient {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One try: TCP (marked as under way: it cannot be cut), then TLS and the
/// WebSocket handshake on a socket a stop or close can cut.
fn attempt(inner: &Inner, uri: &str, opts: &Options) -> Result<WebSocket<Stream>, Error> {
    let u = Url::parse(uri)?;
    inner.lock().connecting = true;
    let tcp = tcp_connect(&u, opts);
    {
        let mut c = inner.lock();
        c.connecting = false;
        if c.asked_to_end() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled").into());
        }
        if let Ok(t) = &tcp {
            c.handshake = t.try_clone().ok();
        }
    }
    let r = open(tcp?, uri, &u, opts);
    inner.lock().handshake = None;
    r
}

/// The client's thread.
fn run(
    handle: &ClientHandle,
    config: ManagedConfig,
    mut handler: impl FnMut(&ClientHandle, ClientEvent<'_>),
) {
    let inner = &*handle.inner;
    let mut opts = config.options;
    opts.read_timeout = None;
    let mut backoff = Backoff::new(config.reconnect);
    let asked = |inner: &Inner| {
        let c = inner.lock();
        (c.stop, c.close.is_some())
    };
    let how = loop {
        let uri = {
            let c = inner.lock();
            match (c.stop, &c.close) {
                (true, _) => break Closed::Stopped,
                (_, Some(_)) => break Closed::Closed { clean: false },
                _ => c.uri.clone(),
            }
        };
        let attempt = attempt(inner, &uri, &opts).and_then(|ws| {
            let protocol = ws.protocol().map(String::from);
            Ok((ws.split()?, protocol))
        });
        let why = match attempt {
            // Cut by a stop or a close: nothing to report.
            Err(_) if asked(inner) != (false, false) => continue,
            Err(e) => {
                handler(handle, ClientEvent::Error(ClientError::from(&e)));
                Disconnect::ConnectFailed
            }
            Ok(((mut reader, sender), protocol)) => {
                {
                    let mut c = inner.lock();
                    if c.stop {
                        sender.stop();
                    } else if let Some((code, reason)) = &c.close {
                        let _ = sender.close(*code, reason);
                    }
                    c.sender = Some(sender);
                }
                backoff.reset();
                handler(handle, ClientEvent::Connected { protocol });
                let error = loop {
                    let r = reader.read_event(|event| {
                        if let Event::Data(d) = event {
                            handler(
                                handle,
                                ClientEvent::Data(Chunk {
                                    kind: d.kind,
                                    chunk: Cow::Borrowed(d.payload),
                                    offset: d.offset,
                                    frame_len: d.frame_len,
                                    message_offset: d.message_offset,
                                    fin: d.fin,
                                    message_start: d.is_message_start(),
                                    message_end: d.is_message_end(),
                                }),
                            );
                        }
                    });
                    match r {
                        Ok(Some(())) => {}
                        Ok(None) => break None,
                        Err(e) => break Some(e),
                    }
                };
                inner.lock().sender = None;
                match asked(inner) {
                    (true, _) => Disconnect::Stopped,
                    (false, true) => Disconnect::ClosedByClient {
                        clean: reader.end() == Some(End::Clean),
                    },
                    (false, false) => {
                        if let Some(e) = &error {
                            handler(handle, ClientEvent::Error(ClientError::from(e)));
                        }
                        disconnect(
                            reader.end(),
                            reader.remote_close(),
                            error.as_ref(),
                            reader.write_error(),
                        )
                    }
                }
            }
        };
        let ended = why.clone();
        handler(handle, ClientEvent::Disconnected(why));
        match ended {
            Disconnect::Stopped => break Closed::Stopped,
            Disconnect::ClosedByClient { clean } => break Closed::Closed { clean },
            _ => {}
        }
        if !config.reconnect.enabled {
            break Closed::NotReconnecting;
        }
        // The wait before the next try; a stop or a close ends it.
        let deadline = StdInstant::now() + backoff.next();
        let mut c = inner.lock();
        while !c.asked_to_end() {
            let now = StdInstant::now();
            if now >= deadline {
                break;
            }
            c = inner
                .changed
                .wait_timeout(c, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    };
    handler(handle, ClientEvent::Closed(how));
    inner.lock().finished = true;
    inner.changed.notify_all();
}

/// Why a connection that was made ended.
fn disconnect(
    end: Option<End>,
    remote: Option<(CloseCode, String)>,
    error: Option<&Error>,
    write_error: Option<io::Error>,
) -> Disconnect {
    match end {
        Some(End::Clean) => {
            let (code, reason) = remote.map_or((None, String::new()), |(c, r)| (Some(c), r));
            // A close without a code reads back as 1005.
            let code = code.filter(|c| *c != CloseCode::NO_STATUS_RECEIVED);
            Disconnect::ServerClosed { code, reason }
        }
        Some(End::PongTimeout) => Disconnect::PongTimeout,
        Some(End::Failed(p)) => Disconnect::ProtocolError {
            code: p.close_code(),
        },
        _ => Disconnect::Lost {
            io: write_error.map(|e| e.kind()).or(match error {
                Some(Error::Io(e)) => Some(e.kind()),
                _ => None,
            }),
        },
    }
}

/// The waits between reconnects.
struct Backoff {
    config: Reconnect,
    next: StdDuration,
    /// xorshift32, seeded from the OS.
    rng: u32,
}

impl Backoff {
    fn new(config: Reconnect) -> Self {
        let mut seed = [0u8; 4];
        let _ = getrandom::fill(&mut seed);
        Self {
            config,
            next: config.delay,
            rng: u32::from_ne_bytes(seed) | 1,
        }
    }

    fn reset(&mut self) {
        self.next = self.config.delay;
    }

    /// The next wait, jittered; doubles the one after.
    fn next(&mut self) -> StdDuration {
        let base = self.next;
        self.next = (base * 2).min(self.config.max_delay.max(self.config.delay));
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let unit = f64::from(self.rng) / f64::from(u32::MAX); // 0..=1
        let jitter = f64::from(self.config.jitter.clamp(0.0, 1.0));
        base.mul_f64(1.0 - jitter + 2.0 * jitter * unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_within_the_jitter_and_resets() {
        let mut b = Backoff::new(Reconnect {
            enabled: true,
            delay: StdDuration::from_millis(100),
            max_delay: StdDuration::from_millis(1000),
            jitter: 0.2,
        });
        for round in 0..3 {
            let mut base = 100.0;
            for _ in 0..8 {
                let w = b.next().as_secs_f64() * 1e3;
                assert!(
                    w >= base * 0.8 - 1e-6 && w <= base * 1.2 + 1e-6,
                    "{w} vs {base}"
                );
                base = (base * 2.0f64).min(1000.0);
            }
            assert!(round < 3);
            b.reset();
        }
    }

    #[test]
    fn a_server_close_without_code_is_none() {
        let d = disconnect(
            Some(End::Clean),
            Some((CloseCode::NO_STATUS_RECEIVED, String::new())),
            None,
            None,
        );
        assert_eq!(
            d,
            Disconnect::ServerClosed {
                code: None,
                reason: String::new()
            }
        );
    }
}

//! Blocking WebSocket client and server over std streams (feature `std`).
//!
//! Works over any [`Transport`]: a `Read + Write` stream that may also set
//! a read timeout and shut down. `TcpStream` is one; wrap a TLS stream the
//! same way for `wss://`.
//!
//! ```no_run
//! use sansws::adapter::std_net::{self, Accepted};
//! use std::net::TcpListener;
//!
//! // Server: echo every message.
//! let listener = TcpListener::bind("127.0.0.1:9001")?;
//! for stream in listener.incoming() {
//!     let Accepted::WebSocket(mut ws) = std_net::accept(stream?, &Default::default())? else {
//!         continue; // a plain HTTP request: answer it, or drop it
//!     };
//!     while let Some(msg) = ws.read()? {
//!         if msg.is_data() {
//!             ws.send(&msg)?;
//!         }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```no_run
//! // Client.
//! let mut ws = sansws::adapter::std_net::connect("ws://127.0.0.1:9001/")?;
//! ws.send_text("hello")?;
//! println!("{:?}", ws.read()?);
//! ws.close(sansws::wire::CloseCode::NORMAL, "done")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Threads
//!
//! A [`WebSocket`] is used from one thread. To send from other threads
//! while one thread blocks in a read (what ESP-IDF's
//! `httpd_ws_send_frame_async` is for), [`WebSocket::split`] it into a
//! [`Reader`] and a cloneable [`Sender`]. They share the connection state
//! behind a mutex; the reader never holds it while blocked in the read.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::string::String;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration as StdDuration, Instant as StdInstant};
use std::vec::Vec;
use std::{boxed::Box, format, vec};

use crate::Status;
use crate::conn::{
    Config, Connection, DataKind, End, Event, Instant, MaskKeys, MessagePart, NoMasking, OsKeys,
    ProtocolError, Role, SendError, State,
};
use crate::handshake::{
    self, ClientHandshake, ClientRequest, EMPTY_HEADER, HandshakeError, HttpResponse, Limits,
    Outcome, ServerResponse, UpgradeRequest, WriteError,
};
use crate::message::{Assembler, Message, MessageError};
use crate::wire::{CloseCode, FrameHeader, MAX_CONTROL_FRAME_LEN};

/// A byte stream a WebSocket runs over.
pub trait Transport: Read + Write {
    /// Makes reads fail with `WouldBlock` or `TimedOut` after `timeout`
    /// (`None`: block). Streams without timeouts may ignore it; keepalive
    /// timers then only run when data arrives.
    fn set_read_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Ends the stream in one or both directions (`Shutdown::Write` sends
    /// a FIN after what was written).
    fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        let _ = how;
        Ok(())
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }
}

/// A transport that can be split into a half to read from and a half to
/// write to, used by different threads.
pub trait Split: Transport + Sized {
    /// The read half.
    type Reader: Transport + Send + 'static;
    /// The write half.
    type Writer: Transport + Send + 'static;
    /// Splits the stream.
    fn split(self) -> io::Result<(Self::Reader, Self::Writer)>;
}

impl Split for TcpStream {
    type Reader = TcpStream;
    type Writer = TcpStream;
    fn split(self) -> io::Result<(TcpStream, TcpStream)> {
        let w = self.try_clone()?;
        Ok((self, w))
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (including timeouts: `WouldBlock`/`TimedOut`).
    #[error("transport: {0}")]
    Io(#[from] io::Error),
    /// The URL is not `ws://host[:port][/path][?query]`.
    #[error("invalid URL: {0}")]
    Url(&'static str),
    /// A `wss://` URL: this adapter does no TLS itself.
    #[error("wss:// needs TLS: open a TLS stream yourself and pass it to std_net::client")]
    TlsRequired,
    /// The peer's handshake head was refused.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// Our handshake head could not be written: a value given for it (a
    /// header, a subprotocol, a refusal's status) is invalid, or the head
    /// outgrew its buffer.
    #[error("handshake: {0}")]
    HandshakeWrite(#[from] WriteError),
    /// The server answered with another status than 101.
    #[error("handshake refused: HTTP {status} {reason}")]
    HttpStatus {
        /// Status code, as esp_websocket_client reports it.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The peer broke the protocol; a close with the error's code was sent.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// A send that cannot be done (closing, fragment misuse, ...).
    #[error("send: {0}")]
    Send(#[from] SendError),
    /// A message over the size limit.
    #[error("message: {0}")]
    Message(#[from] MessageError),
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(getrandom::Error),
}

/// The key source of adapter connections: [`OsKeys`] by default, or one
/// the caller gives ([`client_with_keys`]). Any [`MaskKeys`] boxed, closures
/// over a key generator included.
pub type Keys = Box<dyn MaskKeys + Send>;

impl MaskKeys for Keys {
    fn next_key(&mut self) -> [u8; 4] {
        (**self).next_key()
    }
}

/// Settings for both roles.
#[derive(Debug, Clone)]
pub struct Options {
    /// The connection's limits and timers (default: [`Config::HOST`]).
    pub config: Config,
    /// Handshake head size limit.
    pub limits: Limits,
    /// How long the opening handshake may take (default 10 s).
    pub handshake_timeout: Option<StdDuration>,
    /// [`WebSocket::read`] fails with `TimedOut` after this long without a
    /// message (default: wait forever; keepalive still runs).
    pub read_timeout: Option<StdDuration>,
    /// Write timeout set on `TcpStream`s (default none).
    pub write_timeout: Option<StdDuration>,
    /// Client: TCP connect timeout (default 10 s).
    pub connect_timeout: Option<StdDuration>,
    /// Client: subprotocols to offer.
    pub protocols: Vec<String>,
    /// Client: extra header fields (`Origin`, `Authorization`, ...).
    pub headers: Vec<(String, String)>,
    /// Size of the read buffer (default 64 KiB).
    pub read_buffer: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            config: Config::HOST,
            limits: Limits::DEFAULT,
            handshake_timeout: Some(StdDuration::from_secs(10)),
            read_timeout: None,
            write_timeout: None,
            connect_timeout: Some(StdDuration::from_secs(10)),
            protocols: Vec::new(),
            headers: Vec::new(),
            read_buffer: 64 << 10,
        }
    }
}

/// Sending side of a connection: the state machine, the stream written to,
/// and the clock.
struct Inner<W> {
    conn: Connection<Keys>,
    stream: W,
    out: Vec<u8>,
    epoch: StdInstant,
}

impl<W: Transport> Inner<W> {
    fn now(&self) -> Instant {
        Instant(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// The std instant of the connection's next timer.
    fn next_timer(&self) -> Option<StdInstant> {
        self.conn
            .poll_timeout()
            .map(|t| self.epoch + StdDuration::from_millis(t.0))
    }

    /// Writes every control frame owed (the clock is read only if one is).
    fn flush_owed(&mut self) -> Result<(), Error> {
        if !self.conn.wants_transmit() {
            return Ok(());
        }
        let mut buf = [0u8; MAX_CONTROL_FRAME_LEN];
        let now = self.now();
        let mut wrote = false;
        while let Some(n) = self
            .conn
            .poll_transmit(now, &mut buf)
            .map_err(SendError::from)?
        {
            self.stream.write_all(&buf[..n])?;
            wrote = true;
        }
        if wrote {
            self.stream.flush()?;
        }
        Ok(())
    }

    fn timeout(&mut self) -> Result<(), Error> {
        let now = self.now();
        self.conn.handle_timeout(now);
        self.flush_owed()
    }

    /// A whole message: one frame, or frames of `max_send_frame_len`.
    fn send_message(&mut self, kind: DataKind, data: &[u8]) -> Result<(), Error> {
        self.flush_owed()?;
        let max = self.conn.config().max_send_frame_len.max(1);
        if data.len() <= max {
            return self.send_frame(MessagePart::Whole(kind), data);
        }
        let mut chunks = data.chunks(max).peekable();
        while let Some(chunk) = chunks.next() {
            let fin = chunks.peek().is_none();
            self.send_frame(MessagePart::Fragment { kind, fin }, chunk)?;
        }
        Ok(())
    }

    fn send_fragment(&mut self, kind: DataKind, data: &[u8], fin: bool) -> Result<(), Error> {
        self.flush_owed()?;
        self.send_frame(MessagePart::Fragment { kind, fin }, data)
    }

    /// One data frame. A server writes header and payload with one
    /// vectored write, no copy; a client masks the payload through a
    /// reusable buffer, the header in front of the first chunk. The
    /// connection counts the payload as it goes: a write that fails
    /// midway leaves it owed, and no other frame can follow it.
    fn send_frame(&mut self, part: MessagePart, data: &[u8]) -> Result<(), Error> {
        let mut header = [0u8; FrameHeader::MAX_LEN];
        let start = self
            .conn
            .encode_header(part, data.len() as u64, &mut header)?;
        let head = &header[..start.header_len];
        if start.mask.is_none() {
            write_all_vectored(
                &mut self.stream,
                &mut [IoSlice::new(head), IoSlice::new(data)],
            )?;
            if !data.is_empty() {
                self.conn.payload_written(data.len())?;
            }
            return Ok(self.stream.flush()?);
        }
        let cap = (head.len() + data.len()).min(MASK_CHUNK);
        if self.out.len() < cap {
            self.out.resize(cap, 0);
        }
        self.out[..head.len()].copy_from_slice(head);
        let mut at = head.len();
        let mut sent = 0;
        loop {
            let n = (cap - at).min(data.len() - sent);
            let chunk = &mut self.out[at..at + n];
            chunk.copy_from_slice(&data[sent..sent + n]);
            if n > 0 {
                self.conn.mask_payload(chunk)?;
            }
            self.stream.write_all(&self.out[..at + n])?;
            sent += n;
            at = 0;
            if sent == data.len() {
                break;
            }
        }
        Ok(self.stream.flush()?)
    }

    fn control(
        &mut self,
        f: impl FnOnce(&mut Connection<Keys>) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        f(&mut self.conn)?;
        self.flush_owed()
    }
}

/// How much of a client's payload is masked per write.
const MASK_CHUNK: usize = 64 << 10;

/// `write_all` for several buffers: one `write_vectored` when the
/// transport takes everything at once (a `TcpStream`: `writev`).
fn write_all_vectored<W: Write>(w: &mut W, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Input buffer of the read side.
struct RxBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The read timeout last set on the transport (`None`: not yet), so
    /// that an unchanged one costs no system call per read.
    timeout: Option<Option<StdDuration>>,
}

impl RxBuf {
    fn new(size: usize, early: &[u8]) -> Self {
        let mut buf = vec![0u8; size.max(early.len()).max(256)];
        buf[..early.len()].copy_from_slice(early);
        Self {
            buf,
            start: 0,
            end: early.len(),
            timeout: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Feeds buffered input to the connection until one event, which goes to
/// `f`; `Ok(None)` when the buffer ran dry first. Owed control frames are
/// written after each event.
fn process<W: Transport, R>(
    rx: &mut RxBuf,
    inner: &mut Inner<W>,
    f: impl FnOnce(Event<'_>) -> R,
) -> Result<Option<R>, Error> {
    while !rx.is_empty() {
        match inner.conn.handle_read(&mut rx.buf[rx.start..rx.end]) {
            Ok(r) => {
                let consumed = r.consumed;
                if let Some(event) = r.event {
                    let out = f(event);
                    rx.start += consumed;
                    inner.flush_owed()?;
                    return Ok(Some(out));
                }
                rx.start += consumed;
            }
            Err(e) => {
                rx.start = rx.end;
                return Err(e.into());
            }
        }
    }
    Ok(None)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// What one wait for input gave.
enum Filled {
    Data,
    Timer,
    Eof,
}

/// Reads once into `rx`, waiting at most until the earlier of `timer` (the
/// connection's) and `deadline` (the caller's; passing it is `TimedOut`).
fn fill<R: Transport>(
    rx: &mut RxBuf,
    src: &mut R,
    timer: Option<StdInstant>,
    deadline: Option<StdInstant>,
) -> Result<Filled, Error> {
    let wake = match (timer, deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let timeout = match wake {
        None => None,
        Some(w) => {
            let now = StdInstant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out").into());
            }
            if timer.is_some_and(|t| now >= t) {
                return Ok(Filled::Timer);
            }
            Some((w - now).max(StdDuration::from_millis(1)))
        }
    };
    if rx.timeout != Some(timeout) {
        src.set_read_timeout(timeout)?;
        rx.timeout = Some(timeout);
    }
    if rx.is_empty() {
        rx.start = 0;
        rx.end = 0;
    } else if rx.end == rx.buf.len() {
        rx.buf.copy_within(rx.start..rx.end, 0);
        rx.end -= rx.start;
        rx.start = 0;
    }
    match src.read(&mut rx.buf[rx.end..]) {
        Ok(0) => Ok(Filled::Eof),
        Ok(n) => {
            rx.end += n;
            Ok(Filled::Data)
        }
        Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(Filled::Timer),
        Err(e) if is_gone(&e) => Ok(Filled::Eof),
        Err(e) => Err(e.into()),
    }
}

/// Ends a transport politely: optionally half-closes first, then reads
/// (and drops) until the peer's EOF or `timeout`, then shuts down.
fn linger<T: Transport>(stream: &mut T, half_close_first: bool, timeout: StdDuration) {
    if half_close_first {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let deadline = StdInstant::now() + timeout;
    let mut scratch = [0u8; 512];
    loop {
        let now = StdInstant::now();
        if now >= deadline || stream.set_read_timeout(Some(deadline - now)).is_err() {
            break;
        }
        match stream.read(&mut scratch) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Ends the transport once the connection is over: after a clean close a
/// server closes first and a client waits (bounded) for the server's FIN;
/// after our error close both half-close and drain, so the close frame is
/// not lost to a reset; a peer that timed out or vanished gets no wait.
fn close_transport<T: Transport>(stream: &mut T, end: Option<End>, role: Role, wait: StdDuration) {
    match end {
        Some(End::Clean) => linger(stream, role == Role::Server, wait),
        Some(End::Failed(_)) | None => linger(stream, true, wait),
        Some(End::PongTimeout | End::CloseTimeout | End::Abnormal) => {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A blocking WebSocket over a [`Transport`].
pub struct WebSocket<S: Transport> {
    inner: Inner<S>,
    rx: RxBuf,
    asm: Assembler,
    read_timeout: Option<StdDuration>,
    protocol: Option<String>,
    finished: bool,
}

impl<S: Transport> core::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.inner.conn.role())
            .field("state", &self.inner.conn.state())
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl<S: Transport> WebSocket<S> {
    /// Wraps a stream whose handshake is done. `early` are bytes read past
    /// the handshake head (frames the peer sent at once).
    pub fn from_raw(stream: S, role: Role, opts: &Options, early: &[u8], keys: Keys) -> Self {
        Self {
            inner: Inner {
                conn: Connection::with_keys(role, opts.config, keys, Instant::ZERO),
                stream,
                out: Vec::new(),
                epoch: StdInstant::now(),
            },
            rx: RxBuf::new(opts.read_buffer, early),
            asm: Assembler::new(usize::try_from(opts.config.max_message_len).unwrap_or(usize::MAX)),
            read_timeout: opts.read_timeout,
            protocol: None,
            finished: false,
        }
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The state machine underneath (state, close codes, role).
    pub fn connection(&self) -> &Connection<Keys> {
        &self.inner.conn
    }

    /// Whether the connection is open (esp_websocket_client's
    /// `is_connected`).
    pub fn is_connected(&self) -> bool {
        !self.finished && self.inner.conn.state() == State::Open
    }

    /// How the connection ended, once it has.
    pub fn end(&self) -> Option<End> {
        self.inner.conn.end()
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.inner.stream
    }

    /// Reads until one event and hands it to `f` (streaming: data arrives
    /// in chunks as read, with offset and frame length, so a large message
    /// needs no buffer of its size). Pongs, close echoes and keepalive
    /// pings are sent as needed. `Ok(None)` once the connection is over
    /// ([`WebSocket::end`] says how); the transport is then closed.
    ///
    /// A protocol error sends the close with its code, closes the
    /// transport, and is returned.
    pub fn read_event<R>(&mut self, f: impl FnOnce(Event<'_>) -> R) -> Result<Option<R>, Error> {
        let deadline = self.read_timeout.map(|t| StdInstant::now() + t);
        let mut f = Some(f);
        loop {
            if self.finished {
                return Ok(None);
            }
            match process(&mut self.rx, &mut self.inner, |e| f.take().map(|f| f(e))) {
                Ok(Some(out)) => return Ok(out),
                Ok(None) => {}
                Err(e) => {
                    self.fail();
                    return Err(e);
                }
            }
            if self.inner.conn.is_closed() {
                self.finish();
                return Ok(None);
            }
            let timer = self.inner.next_timer();
            match fill(&mut self.rx, &mut self.inner.stream, timer, deadline) {
                Ok(Filled::Data) => {}
                Ok(Filled::Timer) => self.inner.timeout()?,
                Ok(Filled::Eof) => self.inner.conn.handle_eof(),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the next whole message: text, binary, or a control message
    /// (ping, pong, the peer's close). `Ok(None)` once the connection is
    /// over ([`WebSocket::end`]).
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        loop {
            // Moved out for the call: the callback needs it, read_event the rest.
            let mut asm = core::mem::take(&mut self.asm);
            let r = self.read_event(|e| asm.push(&e));
            self.asm = asm;
            let Some(r) = r? else {
                return Ok(None);
            };
            match r {
                Ok(Some(m)) => return Ok(Some(m)),
                Ok(None) => {}
                Err(e) => {
                    // Too big for the assembler: refuse it like the core would.
                    let _ = self.inner.control(|c| c.close(e.close_code(), ""));
                    self.fail();
                    return Err(e.into());
                }
            }
        }
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.inner.send_message(DataKind::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.inner.send_message(DataKind::Binary, data)
    }

    /// Sends a text or binary [`Message`] (others are ignored), e.g. to
    /// echo one.
    pub fn send(&mut self, msg: &Message) -> Result<(), Error> {
        match msg {
            Message::Text(t) => self.send_text(t),
            Message::Binary(b) => self.send_binary(b),
            _ => Ok(()),
        }
    }

    /// Sends one fragment of a message produced piece by piece
    /// (esp_websocket_client's `send_text_partial` / `send_cont_msg` /
    /// `send_fin`): the first opens a message of type `kind`, `fin` ends it.
    pub fn send_fragment(&mut self, kind: DataKind, data: &[u8], fin: bool) -> Result<(), Error> {
        self.inner.send_fragment(kind, data, fin)
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.inner.control(|c| c.ping(payload))
    }

    /// Sends a pong.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.inner.control(|c| c.pong(payload))
    }

    /// Closes as esp_websocket_client's `close` does: sends a close frame
    /// with `code` and `reason`, waits for the peer's close (data arriving
    /// meanwhile is dropped) within the close timeout, then ends the
    /// transport. Returns how the connection ended.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<Option<End>, Error> {
        if self.inner.conn.state() == State::Open {
            self.inner.control(|c| c.close(code, reason))?;
        }
        while self.read_event(|_| ())?.is_some() {}
        Ok(self.end())
    }

    /// Ends the transport at once, without a close frame (esp's `stop`).
    pub fn stop(&mut self) {
        let _ = self.inner.stream.shutdown(Shutdown::Both);
        self.inner.conn.handle_eof();
        self.finished = true;
    }

    /// The close handshake is over: a server closes TCP first, a client
    /// waits (bounded) for the server to.
    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            let c = &self.inner.conn;
            let (end, role, wait) = (c.end(), c.role(), c.config().close_timeout.into());
            close_transport(&mut self.inner.stream, end, role, wait);
        }
    }

    /// A protocol error: the close was queued; send it and end the
    /// transport.
    fn fail(&mut self) {
        let _ = self.inner.flush_owed();
        if !self.finished {
            self.finished = true;
            let wait = self.inner.conn.config().close_timeout.into();
            linger(&mut self.inner.stream, true, wait);
        }
    }
}

// ----- server handshake --------------------------------------------------

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
    let deadline = opts.handshake_timeout.map(|t| StdInstant::now() + t);
    let mut buf = vec![0u8; opts.limits.max_len.max(64)];
    let mut len = 0;
    loop {
        len += read_some(&mut stream, &mut buf[len..], deadline)?;
        let mut headers = [EMPTY_HEADER; 64];
        let outcome = match handshake::parse_request(&buf[..len], &mut headers, &opts.limits) {
            Ok(Status::Partial { .. }) => continue,
            Ok(Status::Complete(o)) => o,
            Err(e) => {
                let mut out = [0u8; 512];
                if let Ok(n) = HttpResponse::from_error(&e).write(&mut out) {
                    let _ = stream.write_all(&out[..n]);
                }
                let _ = stream.shutdown(Shutdown::Write);
                return Err(e.into());
            }
        };
        return match outcome {
            Outcome::Http(r) => Ok(Accepted::Http(
                HttpRequest {
                    method: r.method().into(),
                    target: r.target().into(),
                    headers: r
                        .headers()
                        .iter()
                        .map(|h| (h.name.into(), h.value.to_vec()))
                        .collect(),
                    rest: buf[r.len()..len].to_vec(),
                },
                stream,
            )),
            Outcome::Upgrade(u) => match decide(&u) {
                Decision::Reject { status, reason } => {
                    let mut out = vec![0u8; 256 + reason.len()];
                    let n = HttpResponse::new(status).text(&reason).write(&mut out)?;
                    stream.write_all(&out[..n])?;
                    let _ = stream.shutdown(Shutdown::Write);
                    Ok(Accepted::Rejected(status))
                }
                Decision::Accept { protocol, headers } => {
                    let extra: Vec<(&str, &str)> = headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    let mut out = vec![
                        0u8;
                        256 + extra
                            .iter()
                            .map(|(n, v)| n.len() + v.len() + 4)
                            .sum::<usize>()
                    ];
                    let n = ServerResponse::accept(&u)
                        .protocol(protocol.as_deref())
                        .headers(&extra)
                        .write(&mut out)?;
                    stream.write_all(&out[..n])?;
                    stream.flush()?;
                    stream.set_read_timeout(None)?;
                    let early = &buf[u.len()..len];
                    // Servers never mask: this source is never asked.
                    let keys: Keys = Box::new(NoMasking(()));
                    let mut ws = WebSocket::from_raw(stream, Role::Server, opts, early, keys);
                    ws.protocol = protocol;
                    Ok(Accepted::WebSocket(Box::new(ws)))
                }
            },
        };
    }
}

/// Reads at least one byte before `deadline`.
fn read_some<S: Transport>(
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

// ----- client handshake --------------------------------------------------

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
        let (scheme, rest) = url.split_once("://").ok_or(Error::Url("missing scheme"))?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(Error::Url("scheme must be ws or wss"));
        };
        if rest.contains('#') {
            return Err(Error::Url("fragments are not allowed"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(Error::Url("user info is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(Error::Url("unclosed ["))?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(Error::Url("missing host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| Error::Url("bad port"))?,
            None if secure => 443,
            None => 80,
        };
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

/// Connects to a `ws://` URL with default options.
pub fn connect(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    connect_with(url, &Options::default())
}

/// Connects to a `ws://` URL: TCP (with `connect_timeout`, Nagle off),
/// then the handshake. A `wss://` URL is [`Error::TlsRequired`]: open a TLS
/// stream and use [`client`].
pub fn connect_with(url: &str, opts: &Options) -> Result<WebSocket<TcpStream>, Error> {
    let u = Url::parse(url)?;
    if u.secure {
        return Err(Error::TlsRequired);
    }
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
    let mut stream = None;
    for addr in (u.host.as_str(), u.port).to_socket_addrs()? {
        let r = match opts.connect_timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        };
        match r {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let stream = stream.ok_or(last)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(opts.write_timeout)?;
    client(stream, url, opts)
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
    let u = Url::parse(url)?;
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(Error::Random)?;
    let hs = ClientHandshake::new(nonce);
    let protocols: Vec<&str> = opts.protocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = opts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let req = ClientRequest {
        host: &u.host,
        port: u.port,
        secure: u.secure,
        resource: &u.resource,
        protocols: &protocols,
        headers: &headers,
    };
    let mut out = vec![
        0u8;
        512 + u.resource.len()
            + u.host.len()
            + opts
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>()
            + protocols.iter().map(|p| p.len() + 2).sum::<usize>()
    ];
    let n = hs.write_request(&req, &mut out)?;
    stream.write_all(&out[..n])?;
    stream.flush()?;

    let deadline = opts.handshake_timeout.map(|t| StdInstant::now() + t);
    let mut buf = vec![0u8; opts.limits.max_len.max(64)];
    let mut len = 0;
    loop {
        len += read_some(&mut stream, &mut buf[len..], deadline)?;
        let mut slots = [EMPTY_HEADER; 64];
        match hs.parse_response(&req, &buf[..len], &mut slots, &opts.limits) {
            Ok(Status::Partial { .. }) => continue,
            Ok(Status::Complete(res)) => {
                let protocol = res.protocol().map(String::from);
                let early = buf[res.len()..len].to_vec();
                stream.set_read_timeout(None)?;
                let mut ws = WebSocket::from_raw(stream, Role::Client, opts, &early, keys);
                ws.protocol = protocol;
                return Ok(ws);
            }
            Err(HandshakeError::Status(status)) => {
                let mut slots = [EMPTY_HEADER; 64];
                let reason = match handshake::Response::parse(&buf[..len], &mut slots, &opts.limits)
                {
                    Ok(Status::Complete(r)) => r.reason().into(),
                    _ => String::new(),
                };
                return Err(Error::HttpStatus { status, reason });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

// ----- split -------------------------------------------------------------

fn lock<W>(m: &Mutex<Inner<W>>) -> MutexGuard<'_, Inner<W>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What [`WebSocket::split`] gives: the reader and the first sender.
pub type SplitHalves<S> = (
    Reader<<S as Split>::Reader, <S as Split>::Writer>,
    Sender<<S as Split>::Writer>,
);

impl<S: Split> WebSocket<S> {
    /// Splits into a [`Reader`] for one thread and a cloneable [`Sender`]
    /// for any others.
    pub fn split(self) -> io::Result<SplitHalves<S>> {
        let WebSocket {
            inner,
            mut rx,
            asm,
            read_timeout,
            protocol,
            finished,
        } = self;
        let (r, w) = inner.stream.split()?;
        // The read half may be a new object: its timeout is not known.
        rx.timeout = None;
        let shared = Arc::new(Mutex::new(Inner {
            conn: inner.conn,
            stream: w,
            out: inner.out,
            epoch: inner.epoch,
        }));
        Ok((
            Reader {
                stream: r,
                rx,
                asm,
                read_timeout,
                protocol,
                finished,
                shared: Arc::clone(&shared),
            },
            Sender { shared },
        ))
    }
}

/// The sending half of a split [`WebSocket`]: clone it into every thread
/// that sends. Each call takes the connection's lock for the time of one
/// write.
pub struct Sender<W: Transport> {
    shared: Arc<Mutex<Inner<W>>>,
}

impl<W: Transport> Clone for Sender<W> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<W: Transport> core::fmt::Debug for Sender<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<W: Transport> Sender<W> {
    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        lock(&self.shared).send_message(DataKind::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        lock(&self.shared).send_message(DataKind::Binary, data)
    }

    /// Sends one fragment (see [`WebSocket::send_fragment`]).
    pub fn send_fragment(&self, kind: DataKind, data: &[u8], fin: bool) -> Result<(), Error> {
        lock(&self.shared).send_fragment(kind, data, fin)
    }

    /// Sends a ping.
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        lock(&self.shared).control(|c| c.ping(payload))
    }

    /// Starts the close handshake; the [`Reader`] sees it through.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        lock(&self.shared).control(|c| c.close(code, reason))
    }

    /// Whether the connection is open.
    pub fn is_connected(&self) -> bool {
        lock(&self.shared).conn.state() == State::Open
    }
}

/// The reading half of a split [`WebSocket`]. It drives the connection:
/// keep calling [`Reader::read`] until `Ok(None)`.
pub struct Reader<R: Transport, W: Transport> {
    stream: R,
    rx: RxBuf,
    asm: Assembler,
    read_timeout: Option<StdDuration>,
    protocol: Option<String>,
    finished: bool,
    shared: Arc<Mutex<Inner<W>>>,
}

impl<R: Transport, W: Transport> core::fmt::Debug for Reader<R, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reader")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl<R: Transport, W: Transport> Reader<R, W> {
    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// How the connection ended, once it has.
    pub fn end(&self) -> Option<End> {
        lock(&self.shared).conn.end()
    }

    /// Reads the next whole message, as [`WebSocket::read`]; the lock is
    /// not held while blocked.
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        let deadline = self.read_timeout.map(|t| StdInstant::now() + t);
        loop {
            if self.finished {
                return Ok(None);
            }
            let (timer, closed) = {
                let mut inner = lock(&self.shared);
                let asm = &mut self.asm;
                match process(&mut self.rx, &mut inner, |e| asm.push(&e)) {
                    Ok(Some(Ok(Some(m)))) => return Ok(Some(m)),
                    Ok(Some(Ok(None))) => continue,
                    Ok(Some(Err(e))) => {
                        let _ = inner.control(|c| c.close(e.close_code(), ""));
                        drop(inner);
                        self.fail();
                        return Err(e.into());
                    }
                    Ok(None) => {}
                    Err(e) => {
                        drop(inner);
                        self.fail();
                        return Err(e);
                    }
                }
                (inner.next_timer(), inner.conn.is_closed())
            };
            if closed {
                let (server, wait) = {
                    let inner = lock(&self.shared);
                    (
                        inner.conn.role() == Role::Server,
                        inner.conn.config().close_timeout.into(),
                    )
                };
                self.finished = true;
                linger(&mut self.stream, server, wait);
                return Ok(None);
            }
            match fill(&mut self.rx, &mut self.stream, timer, deadline)? {
                Filled::Data => {}
                Filled::Timer => lock(&self.shared).timeout()?,
                Filled::Eof => lock(&self.shared).conn.handle_eof(),
            }
        }
    }

    fn fail(&mut self) {
        let wait = {
            let mut inner = lock(&self.shared);
            let _ = inner.flush_owed();
            inner.conn.config().close_timeout.into()
        };
        if !self.finished {
            self.finished = true;
            linger(&mut self.stream, true, wait);
        }
    }
}

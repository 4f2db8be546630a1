//! The WebSocket: the connection, its stream, its read buffer; reads,
//! sends and the close.

use std::io::IoSlice;
use std::net::Shutdown;
use std::string::String;
use std::time::{Duration as StdDuration, Instant as StdInstant};
use std::vec;
use std::vec::Vec;

use crate::conn::{Connection, DataKind, End, Event, Instant, MessagePart, Role, SendError, State};
use crate::message::{Assembler, Message};
use crate::wire::{CloseCode, FrameHeader, MAX_CONTROL_FRAME_LEN};

use super::{Keys, Options};
use super::{error::*, transport::*};

/// Sending side of a connection: the state machine, the stream written to,
/// and the clock.
pub(super) struct Inner<W> {
    pub(super) conn: Connection<Keys>,
    pub(super) stream: W,
    pub(super) out: Vec<u8>,
    pub(super) epoch: StdInstant,
}

impl<W: Transport> Inner<W> {
    pub(super) fn now(&self) -> Instant {
        Instant(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// The std instant of the connection's next timer.
    pub(super) fn next_timer(&self) -> Option<StdInstant> {
        self.conn
            .poll_timeout()
            .map(|t| self.epoch + StdDuration::from_millis(t.0))
    }

    /// Writes every control frame owed (the clock is read only if one is).
    pub(super) fn flush_owed(&mut self) -> Result<(), Error> {
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

    pub(super) fn timeout(&mut self) -> Result<(), Error> {
        let now = self.now();
        self.conn.handle_timeout(now);
        self.flush_owed()
    }

    /// A whole message: one frame, or frames of `max_send_frame_len`.
    pub(super) fn send_message(&mut self, kind: DataKind, data: &[u8]) -> Result<(), Error> {
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

    pub(super) fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        self.flush_owed()?;
        self.send_frame(MessagePart::Fragment { kind, fin }, data)
    }

    /// One data frame. A server writes header and payload with one
    /// vectored write, no copy; a client masks the payload through a
    /// reusable buffer, the header in front of the first chunk. The
    /// connection counts the payload as it goes: a write that fails
    /// midway leaves it owed, and no other frame can follow it.
    pub(super) fn send_frame(&mut self, part: MessagePart, data: &[u8]) -> Result<(), Error> {
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

    pub(super) fn control(
        &mut self,
        f: impl FnOnce(&mut Connection<Keys>) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        f(&mut self.conn)?;
        self.flush_owed()
    }

    /// Any message: text and binary as whole messages, pings and pongs
    /// sent, a close started (`None`: 1000 with no reason).
    pub(super) fn send(&mut self, msg: &Message) -> Result<(), Error> {
        match msg {
            Message::Text(t) => self.send_message(DataKind::Text, t.as_bytes()),
            Message::Binary(b) => self.send_message(DataKind::Binary, b),
            Message::Ping(p) => self.control(|c| c.ping(p)),
            Message::Pong(p) => self.control(|c| c.pong(p)),
            Message::Close(close) => {
                let (code, reason) = close
                    .as_ref()
                    .map_or((CloseCode::NORMAL, ""), |(c, r)| (*c, r.as_str()));
                self.control(|c| c.close(code, reason))
            }
        }
    }
}

/// How much of a client's payload is masked per write.
pub(super) const MASK_CHUNK: usize = 64 << 10;

/// Input buffer of the read side.
pub(super) struct RxBuf {
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    /// The read timeout last set on the transport (`None`: not yet), so
    /// that an unchanged one costs no system call per read.
    pub(super) timeout: Option<Option<StdDuration>>,
}

impl RxBuf {
    pub(super) fn new(size: usize, early: &[u8]) -> Self {
        let mut buf = vec![0u8; size.max(early.len()).max(256)];
        buf[..early.len()].copy_from_slice(early);
        Self {
            buf,
            start: 0,
            end: early.len(),
            timeout: None,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Feeds buffered input to the connection until one event, which goes to
/// `f`; `Ok(None)` when the buffer ran dry first. Owed control frames are
/// written after each event.
pub(super) fn process<W: Transport, R>(
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

/// A blocking WebSocket over a [`Transport`].
pub struct WebSocket<S: Transport> {
    pub(super) inner: Inner<S>,
    pub(super) rx: RxBuf,
    pub(super) asm: Assembler,
    pub(super) read_timeout: Option<StdDuration>,
    pub(super) protocol: Option<String>,
    pub(super) finished: bool,
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

    /// Changes [`Options::read_timeout`] on the open socket: [`Self::read`]
    /// and [`Self::read_event`] fail with `TimedOut` after this long
    /// without an event (`None`: wait for ever; keepalive still runs).
    pub fn set_read_timeout(&mut self, timeout: Option<StdDuration>) {
        self.read_timeout = timeout;
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

    /// Sends any [`Message`], e.g. to echo one: text and binary as whole
    /// messages, a ping or a pong, or a close, which starts the close
    /// handshake (`Close(None)`: code 1000, no reason) that the next reads
    /// see through; [`WebSocket::close`] also waits for it.
    pub fn send(&mut self, msg: &Message) -> Result<(), Error> {
        self.inner.send(msg)
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
    pub(super) fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            let c = &self.inner.conn;
            let (end, role, wait) = (c.end(), c.role(), c.config().close_timeout.into());
            close_transport(&mut self.inner.stream, end, role, wait);
        }
    }

    /// A protocol error: the close was queued; send it and end the
    /// transport.
    pub(super) fn fail(&mut self) {
        let _ = self.inner.flush_owed();
        if !self.finished {
            self.finished = true;
            let wait = self.inner.conn.config().close_timeout.into();
            linger(&mut self.inner.stream, true, wait);
        }
    }
}

//! A WebSocket split into a reader and cloneable senders.

use std::io::{self};
use std::string::String;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use crate::conn::{DataKind, End, Role, State};
use crate::message::{Assembler, Message};
use crate::wire::CloseCode;

use super::{error::*, socket::*, transport::*};

pub(super) fn lock<W>(m: &Mutex<Inner<W>>) -> MutexGuard<'_, Inner<W>> {
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

    /// Sends any [`Message`] (see [`WebSocket::send`]).
    pub fn send(&self, msg: &Message) -> Result<(), Error> {
        lock(&self.shared).send(msg)
    }

    /// Sends a ping.
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        lock(&self.shared).control(|c| c.ping(payload))
    }

    /// Sends a pong (an unsolicited heartbeat; pings are answered by
    /// themselves).
    pub fn pong(&self, payload: &[u8]) -> Result<(), Error> {
        lock(&self.shared).control(|c| c.pong(payload))
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

    /// Changes the read timeout (see [`WebSocket::set_read_timeout`]).
    pub fn set_read_timeout(&mut self, timeout: Option<StdDuration>) {
        self.read_timeout = timeout;
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

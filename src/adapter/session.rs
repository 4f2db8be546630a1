//! Sans-IO plumbing shared by the embedded adapters: a connection with the
//! caller's receive and transmit buffers, the handshake steps, and frames
//! streamed out through a small buffer. The blocking and async adapters
//! only add the reads and writes.

use crate::Status;
use crate::conn::{Connection, Event, Instant, MaskKeys, MessagePart, ProtocolError, SendError};
use crate::handshake::{
    self, ClientHandshake, ClientRequest, EMPTY_HEADER, HandshakeError, HttpResponse, Limits,
    Outcome, Request, ServerResponse, UpgradeRequest, WriteError,
};
use crate::wire::FrameHeader;

/// The methods both embedded WebSocket types (blocking and async) have
/// alike: each is `{ io: T, s: Session<'b, K> }` and differs only in how
/// it does IO.
macro_rules! websocket_getters {
    () => {
        /// The state machine (state, close codes, timers).
        pub fn connection(&self) -> &Connection<K> {
            &self.s.conn
        }

        /// Whether the connection is open.
        pub fn is_connected(&self) -> bool {
            self.s.conn.state() == State::Open
        }

        /// How the connection ended, once it has.
        pub fn end(&self) -> Option<End> {
            self.s.conn.end()
        }

        /// The transport.
        pub fn io(&mut self) -> &mut T {
            &mut self.io
        }

        /// Gives the transport back (to close it).
        pub fn into_io(self) -> T {
            self.io
        }
    };
}
pub(super) use websocket_getters;

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
pub(crate) const HEADER_SLOTS: usize = 24;

pub(crate) struct Session<'b, K: MaskKeys> {
    pub(crate) conn: Connection<K>,
    rx: &'b mut [u8],
    start: usize,
    end: usize,
    pub(crate) tx: &'b mut [u8],
    pub(crate) now: Instant,
}

impl<'b, K: MaskKeys> Session<'b, K> {
    pub(crate) fn new(
        conn: Connection<K>,
        rx: &'b mut [u8],
        early: (usize, usize),
        tx: &'b mut [u8],
        now: Instant,
    ) -> Self {
        Self {
            conn,
            rx,
            start: early.0,
            end: early.1,
            tx,
            now,
        }
    }

    /// Free space to read into (compacts first).
    pub(crate) fn space(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.rx.len() {
            self.rx.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.rx[self.end..]
    }

    pub(crate) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.rx.len());
    }

    /// Feeds buffered input until one event, given to `f`.
    pub(crate) fn process<R>(
        &mut self,
        f: impl FnOnce(Event<'_>) -> R,
    ) -> Result<Option<R>, ProtocolError> {
        while self.start < self.end {
            match self.conn.handle_read(&mut self.rx[self.start..self.end]) {
                Ok(r) => {
                    let consumed = r.consumed;
                    if let Some(e) = r.event {
                        let out = f(e);
                        self.start += consumed;
                        return Ok(Some(out));
                    }
                    self.start += consumed;
                }
                Err(e) => {
                    self.start = self.end;
                    return Err(e);
                }
            }
        }
        Ok(None)
    }

    /// The next control frame owed, written into `tx`.
    pub(crate) fn owed(&mut self) -> Result<Option<&[u8]>, SendError> {
        match self.conn.poll_transmit(self.now, self.tx)? {
            Some(n) => Ok(Some(&self.tx[..n])),
            None => Ok(None),
        }
    }

    /// Starts a data frame of `len` bytes.
    pub(crate) fn begin_frame(
        &mut self,
        part: MessagePart,
        len: usize,
    ) -> Result<FrameOut, SendError> {
        let mut header = [0u8; FrameHeader::MAX_LEN];
        let start = self.conn.encode_header(part, len as u64, &mut header)?;
        Ok(FrameOut {
            header,
            header_len: start.header_len,
            header_sent: false,
            masked: start.mask.is_some(),
            sent: 0,
        })
    }

    /// The next bytes of a frame to write: the header with the first part
    /// of the payload, then the rest. Clients' payload is copied into `tx`
    /// and masked there chunk by chunk; servers' is written as it is. The
    /// connection counts each chunk as written when it is handed out.
    pub(crate) fn next_chunk<'s>(
        &'s mut self,
        f: &mut FrameOut,
        data: &'s [u8],
    ) -> Result<Option<&'s [u8]>, SendError> {
        let mut at = 0;
        if !f.header_sent {
            f.header_sent = true;
            if !f.masked {
                // A server sends the header alone, then `data` uncopied.
                return Ok(Some(f.header_copy(self.tx)));
            }
            self.tx[..f.header_len].copy_from_slice(&f.header[..f.header_len]);
            at = f.header_len;
        }
        if f.sent == data.len() {
            return Ok((at > 0).then(|| &self.tx[..at]));
        }
        if !f.masked {
            let rest = &data[f.sent..];
            self.conn.payload_written(rest.len())?;
            f.sent = data.len();
            return Ok(Some(rest));
        }
        let n = (self.tx.len() - at).min(data.len() - f.sent);
        let chunk = &mut self.tx[at..at + n];
        chunk.copy_from_slice(&data[f.sent..f.sent + n]);
        self.conn.mask_payload(chunk)?;
        f.sent += n;
        Ok(Some(&self.tx[..at + n]))
    }
}

/// A data frame being written.
pub(crate) struct FrameOut {
    header: [u8; FrameHeader::MAX_LEN],
    header_len: usize,
    header_sent: bool,
    masked: bool,
    sent: usize,
}

impl FrameOut {
    fn header_copy<'t>(&self, tx: &'t mut [u8]) -> &'t [u8] {
        tx[..self.header_len].copy_from_slice(&self.header[..self.header_len]);
        &tx[..self.header_len]
    }
}

/// What the server's handshake step decided.
pub(crate) enum ServerStep {
    /// Read more.
    More,
    /// Write `tx[..n]`, then go on as `then` says.
    Respond { n: usize, then: Then },
}

/// What follows the server's response.
pub(crate) enum Then {
    /// A WebSocket whose first bytes are `rx[.0...1]`.
    Upgrade((usize, usize)),
    /// A plain HTTP request was answered.
    Http,
    /// An upgrade was refused with this status.
    Rejected(u16),
}

/// Why a server handshake step failed.
pub(crate) enum StepError {
    /// The peer's request is broken: answered with its status.
    Peer(HandshakeError),
    /// Our answer (a page, a refusal, the 101) could not be written:
    /// answered with 500.
    Local(WriteError),
}

impl From<HandshakeError> for StepError {
    fn from(e: HandshakeError) -> Self {
        StepError::Peer(e)
    }
}

impl From<WriteError> for StepError {
    fn from(e: WriteError) -> Self {
        StepError::Local(e)
    }
}

impl<E: core::fmt::Debug> From<StepError> for super::embedded_io::Error<E> {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Peer(e) => e.into(),
            StepError::Local(e) => e.into(),
        }
    }
}

/// One step of a server handshake over `rx[..len]`.
pub(crate) fn server_step(
    rx: &[u8],
    len: usize,
    tx: &mut [u8],
    limits: &Limits,
    decide: &mut Option<impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision>,
    page: &mut Option<impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>>,
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
                let n = HttpResponse::new(status).write(tx)?;
                Ok(ServerStep::Respond {
                    n,
                    then: Then::Rejected(status),
                })
            }
            Decision::Accept(protocol) => {
                let n = ServerResponse::accept(&u).protocol(protocol).write(tx)?;
                Ok(ServerStep::Respond {
                    n,
                    then: Then::Upgrade((u.len(), len)),
                })
            }
        },
    }
}

/// The answer a server sends when a step fails, into `tx`: the status of
/// a broken request, or 500 when our own answer could not be written.
pub(crate) fn rejection(e: &StepError, tx: &mut [u8]) -> Option<usize> {
    match e {
        StepError::Peer(e) => HttpResponse::from_error(e),
        StepError::Local(_) => HttpResponse::new(500).text("internal error"),
    }
    .write(tx)
    .ok()
}

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
pub(crate) fn limits_for(len: usize) -> Limits {
    Limits {
        max_len: len.min(Limits::DEFAULT.max_len),
    }
}

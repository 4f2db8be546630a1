//! A WebSocket split into a reader and cloneable senders.
//!
//! (See the [adapter docs](super#slow-peers) for the policy.)

use std::boxed::Box;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::ops::Range;
use std::string::String;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration as StdDuration, Instant as StdInstant};
use std::vec;
use std::vec::Vec;

use bytes::{Bytes, BytesMut};

use crate::adapter::driver::out::{frames, send_control};
use crate::adapter::driver::{self, Ending, FrameOut, Latch, RxBuf};
use crate::conn::{Connection, DataKind, End, Event, MessagePart, SendError, State};
use crate::message::Message;
use crate::wire::{CloseCode, FrameHeader, MAX_CONTROL_FRAME_LEN};

use super::{Keys, Session, error::*, socket::*, transport::*};

/// A header or a control frame, held inline (no allocation per frame).
struct Small {
    buf: [u8; MAX_CONTROL_FRAME_LEN],
    len: u8,
}

impl Small {
    fn new(bytes: &[u8]) -> Self {
        let mut buf = [0u8; MAX_CONTROL_FRAME_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        Self {
            buf,
            len: bytes.len() as u8,
        }
    }
}

impl core::ops::Deref for Small {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

/// A frame in the outgoing queue.
enum Out {
    /// A server's frame: the header and the payload, shared, not copied.
    Frame { head: Small, body: Bytes },
    /// A client's frame (masked), encoded whole.
    Owned(Vec<u8>),
    /// A control frame.
    Control(Small),
}

impl Out {
    fn len(&self) -> usize {
        match self {
            Out::Frame { head, body } => head.len() + body.len(),
            Out::Owned(v) => v.len(),
            Out::Control(v) => v.len(),
        }
    }

    /// Its bytes, for a record layer to encrypt.
    fn encrypt(&self, session: &mut dyn Session, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Out::Frame { head, body } => {
                session.write_plain(&[IoSlice::new(head), IoSlice::new(body)])?
            }
            Out::Owned(v) => session.write_plain(&[IoSlice::new(v)])?,
            Out::Control(v) => session.write_plain(&[IoSlice::new(v)])?,
        }
        session.take_raw(out)
    }

    /// Writes it whole within `timeout`.
    fn write<W: Transport>(&self, w: &mut W, timeout: Option<StdDuration>) -> io::Result<()> {
        let mut limit = WriteLimit::new(timeout);
        let r = match self {
            Out::Frame { head, body } => {
                write_all_vectored(w, &mut [IoSlice::new(head), IoSlice::new(body)], &mut limit)
            }
            Out::Owned(v) => write_all_vectored(w, &mut [IoSlice::new(v)], &mut limit),
            Out::Control(v) => write_all_vectored(w, &mut [IoSlice::new(v)], &mut limit),
        };
        limit.restore(w);
        r?;
        w.flush()
    }
}

/// A payload to send: borrowed (copied into the queue) or shared.
#[derive(Clone, Copy)]
enum Data<'a> {
    Slice(&'a [u8]),
    Shared(&'a Bytes),
}

impl<'a> Data<'a> {
    /// A message's payload: shared if it is, else (inline) copied.
    fn of(p: &'a crate::message::Payload) -> Self {
        p.as_shared().map_or(Data::Slice(p), Data::Shared)
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Data::Slice(s) => s,
            Data::Shared(b) => b,
        }
    }
}

/// What senders, the reader and the writer share.
struct SendState {
    conn: Connection<Keys>,
    queue: VecDeque<Out>,
    /// Bytes queued and not yet written.
    queued: usize,
    /// Of those, control frames' ([`CONTROL_BUDGET`] at most: more stay
    /// owed in the connection, where a newer pong replaces an older one).
    control: usize,
    latch: Latch<Failure>,
    /// The reader is done: the writer writes what is queued and stops.
    done: bool,
    /// The writer stopped.
    writer_gone: bool,
    /// The stream's record layer (TLS), if it has one: the writer
    /// encrypts under the lock, the reader decrypts under it.
    session: Option<Box<dyn Session>>,
    /// The session's end is to be sent once the queue is written.
    close_session: bool,
    /// The compressor (permessage-deflate).
    #[cfg(feature = "deflate")]
    deflate: super::deflate::Compressing,
}

struct Shared {
    st: Mutex<SendState>,
    /// Signalled when the queue shrinks or the connection ends.
    room: Condvar,
    /// Signalled when there is something to write, or the end.
    work: Condvar,
    epoch: StdInstant,
    limit: usize,
    /// The time one frame's write may take.
    write_timeout: Option<StdDuration>,
    /// Shuts the stream down from any thread ([`Sender::stop`]).
    closer: Option<Closer>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SendState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the queue to shrink (or the end) until `deadline`;
    /// `Err` with the guard back once it has passed.
    fn wait_room<'a>(
        &self,
        st: MutexGuard<'a, SendState>,
        deadline: StdInstant,
    ) -> Result<MutexGuard<'a, SendState>, MutexGuard<'a, SendState>> {
        let now = StdInstant::now();
        if now >= deadline {
            return Err(st);
        }
        Ok(self
            .room
            .wait_timeout(st, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0)
    }

    /// Queues the control frames the connection owes, while fewer than
    /// [`CONTROL_BUDGET`] bytes of them wait: a peer flooding pings gets
    /// its pongs as fast as it reads them, and no faster (the writer
    /// queues the rest as the queue drains).
    fn queue_owed(&self, st: &mut SendState) -> Result<(), Error> {
        if st.latch.is_set() || !st.conn.wants_transmit() {
            return Ok(());
        }
        let now = since(self.epoch);
        let mut buf = [0u8; MAX_CONTROL_FRAME_LEN];
        while st.control < CONTROL_BUDGET {
            let Some(frame) = driver::owed(&mut st.conn, now, &mut buf)? else {
                break;
            };
            st.queued += frame.len();
            st.control += frame.len();
            st.queue.push_back(Out::Control(Small::new(frame)));
        }
        self.work.notify_one();
        Ok(())
    }

    /// Ends the connection at once: `why` latched, the queue dropped, the
    /// stream shut down (through the closer, if the stream has one).
    fn abort(&self, why: io::Error) {
        {
            let mut st = self.lock();
            let st = &mut *st;
            st.latch.set(&mut st.conn, Failure::stopped(&why));
            // Nothing queued will be written, not even the frame the
            // writer has in hand (its write fails once the stream is cut).
            st.queue.clear();
            st.queued = 0;
            st.control = 0;
        }
        self.work.notify_all();
        self.room.notify_all();
        if let Some(close) = &self.closer {
            close();
        }
    }

    /// Queues `p` as `part`: one fragment, or a whole message in as many
    /// frames as `max_send_frame_len` makes it, waiting for room as `wait`
    /// says ([`Error::QueueFull`] when it does not, or no longer does).
    /// One lock, held for the encoding only.
    fn send_data(&self, part: MessagePart, p: Data<'_>, wait: Wait) -> Result<(), Error> {
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut len = p.bytes().len();
        let mut st = self.lock();
        // A fragment is one frame as given; a whole message is as many as
        // the frame limit makes it.
        let frames_of = |st: &SendState, len: usize| {
            let (max, kind) = match part {
                MessagePart::Whole(kind) => (st.conn.config().max_send_frame_len, kind),
                MessagePart::Fragment { kind, .. } => (usize::MAX, kind),
            };
            frames(max, kind, len).map(move |(whole_part, range)| match part {
                MessagePart::Whole(_) => (whole_part, range),
                fragment => (fragment, range),
            })
        };
        let bytes = len + FrameHeader::MAX_LEN * frames_of(&st, len).count();
        loop {
            st.latch.check().map_err(|f| f.error())?;
            if st.done {
                return Err(SendError::Closed.into());
            }
            // While another sender compresses (outside the lock), this one
            // waits: messages go out in the order they were compressed.
            #[cfg(feature = "deflate")]
            let busy = st.deflate.is_busy();
            #[cfg(not(feature = "deflate"))]
            let busy = false;
            if !busy && (st.queued == 0 || st.queued + bytes <= self.limit) {
                break;
            }
            let full = |st: &SendState| Error::QueueFull {
                queued: st.queued,
                limit: self.limit,
            };
            st = match wait {
                Wait::No => return Err(full(&st)),
                Wait::Forever => self.room.wait(st).unwrap_or_else(|p| p.into_inner()),
                Wait::Until(deadline) => match self.wait_room(st, deadline) {
                    Ok(st) => st,
                    Err(st) => return Err(full(&st)),
                },
            };
        }
        // Compressed outside the lock (the reader and the writer go on),
        // the compressor taken out meanwhile; its room in the queue was
        // reckoned on the uncompressed length.
        #[cfg(feature = "deflate")]
        let deflated;
        #[cfg(feature = "deflate")]
        let agreed = (st.conn.deflate(), st.conn.role());
        #[cfg(feature = "deflate")]
        let (p, compressed) = match st.deflate.take(agreed.0, agreed.1) {
            Some(mut z) => {
                drop(st);
                let fin = match part {
                    MessagePart::Whole(_) => true,
                    MessagePart::Fragment { fin, .. } => fin,
                };
                deflated = Bytes::from(core::mem::take(z.compress(p.bytes(), fin)));
                st = self.lock();
                st.deflate.put(z);
                self.room.notify_all();
                st.latch.check().map_err(|f| f.error())?;
                if st.done {
                    return Err(SendError::Closed.into());
                }
                len = deflated.len();
                (Data::Shared(&deflated), true)
            }
            None => (p, false),
        };
        #[cfg(not(feature = "deflate"))]
        let compressed = false;
        self.queue_owed(&mut st)?;
        for (frame_part, range) in frames_of(&st, len) {
            let out = encode(&mut st.conn, frame_part, p, range, compressed)?;
            st.queued += out.len();
            st.queue.push_back(out);
        }
        self.work.notify_one();
        Ok(())
    }

    fn control(
        &self,
        f: impl FnOnce(&mut Connection<Keys>) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        let mut st = self.lock();
        st.latch.check().map_err(|f| f.error())?;
        if st.done {
            return Err(SendError::Closed.into());
        }
        f(&mut st.conn)?;
        self.queue_owed(&mut st)
    }
}

/// How long a send waits for room in the queue.
#[derive(Clone, Copy)]
enum Wait {
    No,
    Forever,
    Until(StdInstant),
}

impl From<bool> for Wait {
    fn from(wait: bool) -> Self {
        if wait { Wait::Forever } else { Wait::No }
    }
}

/// Encodes `p[range]` as one data frame for the queue.
fn encode(
    conn: &mut Connection<Keys>,
    part: MessagePart,
    p: Data<'_>,
    range: Range<usize>,
    compressed: bool,
) -> Result<Out, Error> {
    let data = &p.bytes()[range.clone()];
    #[cfg(feature = "deflate")]
    let mut frame = if compressed {
        FrameOut::begin_compressed(conn, part, data.len())?
    } else {
        FrameOut::begin(conn, part, data.len())?
    };
    #[cfg(not(feature = "deflate"))]
    let mut frame = {
        let _ = compressed;
        FrameOut::begin(conn, part, data.len())?
    };
    if !frame.is_masked() {
        let head = Small::new(frame.header());
        // Counts the payload as written: it is the queue's now.
        frame.next_chunk(conn, data, &mut [])?;
        let body = match p {
            Data::Shared(b) => b.slice(range),
            Data::Slice(_) => Bytes::copy_from_slice(data),
        };
        return Ok(Out::Frame { head, body });
    }
    let mut v = vec![0u8; frame.header().len() + data.len()];
    let n = frame
        .next_chunk(conn, data, &mut v)?
        .map_or(0, |(a, _)| a.len());
    v.truncate(n);
    Ok(Out::Owned(v))
}

/// The writer thread: writes the queue out until the reader is done or a
/// write fails (which latches, ends the connection, and shuts the socket
/// so the reader sees it at once). Over a record layer (TLS) each frame is
/// encrypted under the lock, with whatever records the session has to send
/// of its own before it (alerts, key updates, its close at the end), and
/// the records are written without it.
fn writer<W: Transport>(shared: Arc<Shared>, mut stream: W) {
    let mut records = Vec::new();
    loop {
        let mut st = shared.lock();
        let item = loop {
            // Control frames left owed for the budget go in as it frees.
            let _ = shared.queue_owed(&mut st);
            let state = &mut *st;
            records.clear();
            if let Some(o) = state.queue.pop_front() {
                if let Some(session) = state.session.as_deref_mut()
                    && let Err(e) = o.encrypt(session, &mut records)
                {
                    break Err((Some(o), e));
                }
                break Ok(Some(o));
            }
            if let Some(session) = state.session.as_deref_mut()
                && core::mem::take(&mut state.close_session)
            {
                session.close();
            }
            if let Some(session) = state.session.as_deref_mut()
                && session.wants_write()
            {
                match session.take_raw(&mut records) {
                    Ok(()) => break Ok(None),
                    Err(e) => break Err((None, e)),
                }
            }
            if state.done || state.latch.is_set() {
                state.writer_gone = true;
                drop(st);
                shared.room.notify_all();
                return;
            }
            st = shared.work.wait(st).unwrap_or_else(|p| p.into_inner());
        };
        drop(st);
        let (item, r) = match item {
            Ok(item) => {
                let r = if !records.is_empty() {
                    write_records(&mut stream, &records, shared.write_timeout)
                } else {
                    item.as_ref()
                        .map_or(Ok(()), |o| o.write(&mut stream, shared.write_timeout))
                };
                (item, r)
            }
            Err((item, e)) => (item, Err(e)),
        };
        let mut st = shared.lock();
        // `abort` may have emptied the queue meanwhile.
        if let Some(item) = &item {
            st.queued = st.queued.saturating_sub(item.len());
            if let Out::Control(v) = item {
                st.control = st.control.saturating_sub(v.len());
            }
        }
        if let Err(e) = r {
            let state = &mut *st;
            state.latch.set(&mut state.conn, Failure::new(&e));
            state.queue.clear();
            state.queued = 0;
            state.control = 0;
            state.writer_gone = true;
            // Cut mid-frame: reset, so a peer that stopped reading does
            // not keep the socket's buffers (`Transport::abort`).
            let _ = stream.abort();
            drop(st);
            shared.room.notify_all();
            return;
        }
        drop(st);
        shared.room.notify_all();
    }
}

/// Writes a record layer's output whole within `timeout`.
fn write_records<W: Transport>(
    w: &mut W,
    records: &[u8],
    timeout: Option<StdDuration>,
) -> io::Result<()> {
    let mut limit = WriteLimit::new(timeout);
    let r = write_all_vectored(w, &mut [IoSlice::new(records)], &mut limit);
    limit.restore(w);
    r?;
    w.flush()
}

/// Bytes of control frames the queue holds at most (two of the largest).
const CONTROL_BUDGET: usize = 2 * MAX_CONTROL_FRAME_LEN;

/// What [`WebSocket::split`] gives: the reader and the first sender.
pub type SplitHalves<S> = (Reader<<S as Split>::Reader>, Sender);

impl<S: Split> WebSocket<S> {
    /// Splits into a [`Reader`] for one thread and a cloneable [`Sender`]
    /// for any others; a writer thread writes what senders queue (see the
    /// [adapter docs](super#slow-peers)).
    pub fn split(mut self) -> io::Result<SplitHalves<S>> {
        // Replies held back go out first (a failure latches, and the
        // halves see it).
        if !self.w.batch.is_empty() {
            let _ = self.w.write_batch();
        }
        let WebSocket { w, r, protocol } = self;
        let closer = w.io.stream.closer();
        let (rs, ws, session) = w.io.stream.split_session()?;
        let has_session = session.is_some();
        let shared = Arc::new(Shared {
            st: Mutex::new(SendState {
                conn: w.conn,
                queue: VecDeque::new(),
                queued: 0,
                control: 0,
                latch: w.latch,
                done: r.finished,
                writer_gone: false,
                session,
                close_session: false,
                #[cfg(feature = "deflate")]
                deflate: w.deflate,
            }),
            room: Condvar::new(),
            work: Condvar::new(),
            epoch: w.epoch,
            limit: w.send_queue,
            write_timeout: w.write_timeout,
            closer,
        });
        let for_writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("sansws-writer".into())
            .spawn(move || writer(for_writer, ws))?;
        Ok((
            Reader {
                r,
                io: ReadIo {
                    input: ReadStream::new(rs),
                    shared: Arc::clone(&shared),
                    raw: Vec::new(),
                    raw_at: 0,
                    raw_ended: false,
                    session: has_session,
                },
                protocol,
            },
            Sender { shared },
        ))
    }
}

/// The sending half of a split [`WebSocket`]: clone it into every thread
/// that sends. Sends queue frames for the connection's writer thread and
/// never write to the socket themselves (see the [adapter docs](super#slow-peers)).
#[derive(Clone)]
pub struct Sender {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Sender {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sender")
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

impl Sender {
    fn message(&self, kind: DataKind, p: Data<'_>, wait: bool) -> Result<(), Error> {
        self.shared
            .send_data(MessagePart::Whole(kind), p, wait.into())
    }

    fn send_any(&self, msg: &Message, wait: bool) -> Result<(), Error> {
        match msg {
            Message::Text(t) => self.message(DataKind::Text, Data::of(t.payload()), wait),
            Message::Binary(b) => self.message(DataKind::Binary, Data::of(b), wait),
            control => self.shared.control(|c| send_control(c, control)),
        }
    }

    /// Sends a text message, waiting while the queue is full.
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        self.message(DataKind::Text, Data::Slice(text.as_bytes()), true)
    }

    /// Sends a binary message, waiting while the queue is full.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.message(DataKind::Binary, Data::Slice(data), true)
    }

    /// Sends one fragment (see [`WebSocket::send_fragment`]), waiting while
    /// the queue is full.
    pub fn send_fragment(&self, kind: DataKind, data: &[u8], fin: bool) -> Result<(), Error> {
        let part = MessagePart::Fragment { kind, fin };
        self.shared
            .send_data(part, Data::Slice(data), Wait::Forever)
    }

    /// Sends `data` as `part` (a whole message, or one fragment), waiting
    /// at most `timeout` for room in the queue: [`Error::QueueFull`] once
    /// it has passed, nothing queued. (esp_websocket_client's sends with
    /// their `timeout`.)
    pub fn send_within(
        &self,
        part: MessagePart,
        data: &[u8],
        timeout: StdDuration,
    ) -> Result<(), Error> {
        let deadline = StdInstant::now() + timeout;
        self.shared
            .send_data(part, Data::Slice(data), Wait::Until(deadline))
    }

    /// Sends any [`Message`] (see [`WebSocket::send`]), waiting while the
    /// queue is full. A binary message's bytes are shared with the queue,
    /// not copied (a server's), so one frame can go to many peers.
    pub fn send(&self, msg: &Message) -> Result<(), Error> {
        self.send_any(msg, true)
    }

    /// Queues `msg` without ever blocking: [`Error::QueueFull`] if the
    /// queue holds [`Options::send_queue`](super::Options::send_queue)
    /// bytes or more with it (a message larger than that goes when the
    /// queue is empty). For broadcasters: a peer that is behind skips
    /// what it cannot take, and the others are not slowed. Control
    /// messages are always queued.
    ///
    /// Any other error means the connection is over, and the peer can be
    /// forgotten: the write failure that ended it (`Error::Io`, e.g.
    /// `TimedOut` after the write timeout; see [`Sender::write_error`]),
    /// or `Error::Send(SendError::Closed)` once it closed or was stopped.
    pub fn try_send(&self, msg: &Message) -> Result<(), Error> {
        self.send_any(msg, false)
    }

    /// Sends a ping.
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        self.shared.control(|c| c.ping(payload))
    }

    /// Sends a pong (an unsolicited heartbeat; pings are answered by
    /// themselves).
    pub fn pong(&self, payload: &[u8]) -> Result<(), Error> {
        self.shared.control(|c| c.pong(payload))
    }

    /// Starts the close handshake; the [`Reader`] sees it through.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.control(|c| c.close(code, reason))
    }

    /// Ends the connection at once, without a close frame (esp's `stop`):
    /// what is queued is dropped, later sends fail, and the stream is shut
    /// down (through [`Split::closer`], which a `TcpStream` has), so the
    /// [`Reader`] returns `Ok(None)` and the writer thread ends now, even
    /// if a write was blocked on a peer that stopped reading. The peer
    /// sees the stream end.
    pub fn stop(&self) {
        self.shared
            .abort(io::Error::new(io::ErrorKind::ConnectionAborted, "stopped"));
    }

    /// The write failure that ended the connection, if one did (a write
    /// timeout: kind `TimedOut`; [`Sender::stop`]: `ConnectionAborted`).
    /// [`Reader::end`] says `Abnormal` for these, as for a vanished peer.
    pub fn write_error(&self) -> Option<io::Error> {
        write_error(&self.shared.lock().latch)
    }

    /// Whether the connection is open: no write failed, no close began.
    pub fn is_connected(&self) -> bool {
        let st = self.shared.lock();
        !st.done && !st.latch.is_set() && st.conn.state() == State::Open
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.shared.lock().queued
    }

    /// Waits until everything queued is written (or the connection
    /// failed: its error), at most `timeout`; `TimedOut` after it.
    pub fn flush(&self, timeout: StdDuration) -> Result<(), Error> {
        let deadline = StdInstant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            st.latch.check().map_err(|f| f.error())?;
            if st.queued == 0 {
                return Ok(());
            }
            if st.writer_gone {
                return Err(SendError::Closed.into());
            }
            st = self.shared.wait_room(st, deadline).map_err(|_| {
                Error::from(io::Error::new(io::ErrorKind::TimedOut, "flush timed out"))
            })?;
        }
    }
}

/// The read side's access to the shared connection.
struct ReadIo<R> {
    input: ReadStream<R>,
    shared: Arc<Shared>,
    /// Over a record layer: raw bytes read, `raw[raw_at..]` not yet taken
    /// by the session.
    raw: Vec<u8>,
    raw_at: usize,
    /// The raw stream ended.
    raw_ended: bool,
    /// The stream has a record layer (fixed at the split: a plain
    /// stream's reads take no lock to find out).
    session: bool,
}

/// Raw bytes read at a time over a record layer: a whole TLS record (16 KiB
/// of plaintext and its overhead), so the session never holds more than
/// one record's plaintext before it is taken.
const RAW_CHUNK: usize = 16 * 1024 + 512;

impl<R: Transport> ReadIo<R> {
    /// [`Io::fill`] through the record layer: plaintext the session holds,
    /// else raw bytes read before and not yet taken, else a raw read
    /// (without the lock), handed to the session under it.
    fn fill_session(
        &mut self,
        rx: &mut RxBuf<BytesMut>,
        timer: Option<StdInstant>,
        deadline: Option<StdInstant>,
    ) -> Result<Filled, Error> {
        loop {
            {
                let mut st = self.shared.lock();
                let Some(session) = st.session.as_deref_mut() else {
                    return Err(io::Error::other("internal error: the record layer is gone").into());
                };
                match session.read_plain(rx.space()) {
                    Ok(0) => return Ok(Filled::Eof),
                    Ok(n) => {
                        rx.filled(n);
                        return Ok(Filled::Data);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if is_gone(&e) => return Ok(Filled::Eof),
                    Err(e) => return Err(e.into()),
                }
                if self.raw_ended {
                    return Ok(Filled::Eof);
                }
                if self.raw_at < self.raw.len() {
                    let r = session.read_raw(&self.raw[self.raw_at..]);
                    let wants_write = session.wants_write();
                    drop(st);
                    if wants_write {
                        // An alert, a key update's answer: the writer sends it.
                        self.shared.work.notify_all();
                    }
                    let used = r?;
                    if used == 0 {
                        return Err(io::Error::other(
                            "internal error: the record layer took no input",
                        )
                        .into());
                    }
                    self.raw_at += used;
                    continue;
                }
            }
            self.raw.resize(RAW_CHUNK, 0);
            let (filled, n) = self.input.read_into(&mut self.raw, timer, deadline)?;
            self.raw.truncate(n);
            self.raw_at = 0;
            match filled {
                Filled::Data => {}
                f @ (Filled::Timer | Filled::Pending) => return Ok(f),
                Filled::Eof => {
                    self.raw_ended = true;
                    if let Some(session) = self.shared.lock().session.as_deref_mut() {
                        session.raw_eof();
                    }
                }
            }
        }
    }
}

impl<R: Transport> Io for ReadIo<R> {
    fn with_conn<T>(&mut self, f: impl FnOnce(&mut Connection<Keys>) -> T) -> T {
        f(&mut self.shared.lock().conn)
    }

    fn flush_owed(&mut self) -> Result<(), Error> {
        let mut st = self.shared.lock();
        self.shared.queue_owed(&mut st)
    }

    fn epoch(&self) -> StdInstant {
        self.shared.epoch
    }

    fn fill(
        &mut self,
        rx: &mut RxBuf<BytesMut>,
        deadline: Option<StdInstant>,
    ) -> Result<Filled, Error> {
        let epoch = self.shared.epoch;
        let timer = self.with_conn(|c| next_timer(c, epoch));
        if !self.session {
            return self.input.fill(rx, timer, deadline);
        }
        self.fill_session(rx, timer, deadline)
    }

    /// Lets the writer send what is queued (the close frame last) within
    /// `wait`, unless the peer is gone, then ends the transport.
    fn end_transport(&mut self, ending: Ending, wait: StdDuration) {
        let deadline = StdInstant::now() + wait;
        {
            let mut st = self.shared.lock();
            st.done = true;
            // Over TLS, the session's end (`close_notify`) after the
            // queue, and the writer waited for until it has written it.
            let tls = st.session.is_some();
            let now = matches!(ending, Ending::Now | Ending::Abort);
            st.close_session = tls && !now;
            self.shared.work.notify_all();
            while !now && !st.writer_gone && (st.queued > 0 || tls) {
                match self.shared.wait_room(st, deadline) {
                    Ok(g) => st = g,
                    Err(_) => break,
                }
            }
        }
        let left = deadline.saturating_duration_since(StdInstant::now());
        end_transport(&mut self.input.stream, ending, left);
    }
}

/// The reading half of a split [`WebSocket`]. It drives the connection:
/// keep calling [`Reader::read`] (or [`Reader::read_event`]) until
/// `Ok(None)`. Dropping it before then ends the connection (see its
/// `Drop`).
pub struct Reader<R: Transport> {
    r: Reading,
    io: ReadIo<R>,
    protocol: Option<String>,
}

impl<R: Transport> core::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reader")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl<R: Transport> Drop for Reader<R> {
    /// Without its reader a connection cannot answer pings or see a
    /// close: one that is not over yet ends here, as a dropped
    /// [`WebSocket`] does (the stream is shut down; later sends fail).
    fn drop(&mut self) {
        if !self.r.finished {
            let why = io::Error::new(io::ErrorKind::ConnectionAborted, "the reader was dropped");
            self.io.shared.abort(why);
            let _ = self.io.input.stream.shutdown(Shutdown::Both);
        }
        self.io.shared.lock().done = true;
        self.io.shared.work.notify_all();
        self.io.shared.room.notify_all();
    }
}

impl<R: Transport> Reader<R> {
    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// How the connection ended, once it has.
    pub fn end(&self) -> Option<End> {
        self.io.shared.lock().conn.end()
    }

    /// The write failure that ended the connection, if one did (see
    /// [`Sender::write_error`]).
    pub fn write_error(&self) -> Option<io::Error> {
        write_error(&self.io.shared.lock().latch)
    }

    /// The peer's close frame, once it came: its code and reason
    /// ([`Core::remote_close`](crate::conn::Core::remote_close)).
    pub fn remote_close(&self) -> Option<(CloseCode, String)> {
        let st = self.io.shared.lock();
        st.conn.remote_close().map(|(c, r)| (c, r.into()))
    }

    /// Changes the read timeout (see [`WebSocket::set_read_timeout`]).
    pub fn set_read_timeout(&mut self, timeout: Option<StdDuration>) {
        self.r.read_timeout = timeout;
    }

    /// Reads the next whole message, as [`WebSocket::read`]. The lock the
    /// senders use is held only while the connection takes input, never
    /// while blocked.
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        self.r.read(&mut self.io)
    }

    /// Reads until one event and hands it to `f`, as
    /// [`WebSocket::read_event`]. `f` runs without the lock, so it may
    /// send through a [`Sender`].
    pub fn read_event<T>(&mut self, f: impl FnOnce(Event<'_>) -> T) -> Result<Option<T>, Error> {
        self.r.read_event(&mut self.io, f)
    }
}

//! The WebSocket: the connection, its stream, its read buffer; reads,
//! sends and the close. The read side ([`Reading`]) is written once over
//! [`Io`], the access to the connection and the stream that an unsplit
//! socket has directly and a split [`Reader`](super::Reader) through a lock.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::string::String;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant as StdInstant};
use std::vec::Vec;

use bytes::BytesMut;

use crate::adapter::driver::out::{MAX_SLICES, Out, frames, send_control};
use crate::adapter::driver::{self, Ending, Found, FrameOut, Latch, RxBuf};
use crate::conn::{Connection, DataKind, End, Event, Instant, MessagePart, Role, SendError, State};
use crate::message::{Assembler, Message, Payload, Utf8Bytes};
use crate::wire::{CloseCode, MAX_CONTROL_FRAME_LEN};

use super::{Keys, Options};
use super::{error::*, transport::*};

/// A write that failed, latched: every later send gets an error of the
/// same kind.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    kind: io::ErrorKind,
    what: Arc<str>,
    /// A write failed (not a stop or a dropped reader): the stream was
    /// cut mid-frame (and reset where it failed: [`Transport::abort`]).
    wrote: bool,
}

impl Failure {
    /// A write that failed.
    pub(crate) fn new(e: &io::Error) -> Self {
        Self {
            kind: e.kind(),
            what: std::string::ToString::to_string(e).into(),
            wrote: true,
        }
    }

    /// The connection was ended on purpose (a stop, a dropped reader):
    /// no write failed.
    pub(crate) fn stopped(e: &io::Error) -> Self {
        Self {
            wrote: false,
            ..Self::new(e)
        }
    }

    pub(crate) fn error(&self) -> Error {
        let what = &self.what;
        Error::Io(io::Error::new(
            self.kind,
            if self.wrote {
                std::format!("the connection ended when a write failed: {what}")
            } else {
                std::format!("the connection was ended: {what}")
            },
        ))
    }
}

/// The error of the failure latched (the first one, if several came).
pub(crate) fn latched(latch: &Latch<Failure>) -> Error {
    match latch.check() {
        Err(f) => f.error(),
        Ok(()) => Error::Io(io::ErrorKind::Other.into()),
    }
}

/// The latched write failure as an `io::Error`.
pub(crate) fn write_error(latch: &Latch<Failure>) -> Option<io::Error> {
    match latch.check() {
        Err(f) => match f.error() {
            Error::Io(e) => Some(e),
            _ => None,
        },
        Ok(()) => None,
    }
}

/// Milliseconds since `epoch`, the connection's clock.
pub(crate) fn since(epoch: StdInstant) -> Instant {
    Instant(u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// The std instant of `conn`'s next timer.
pub(crate) fn next_timer(conn: &Connection<Keys>, epoch: StdInstant) -> Option<StdInstant> {
    conn.poll_timeout()
        .map(|t| epoch + StdDuration::from_millis(t.0))
}

/// [`next_timer`], remembered: the std instant is worked out again only
/// when the connection's timer moved (it stays put message after message,
/// until the keepalive ping is sent).
#[cfg(feature = "tokio")]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NextTimer {
    of: Option<Instant>,
    at: Option<StdInstant>,
}

#[cfg(feature = "tokio")]
impl NextTimer {
    /// `conn`'s next timer as a std instant.
    #[inline]
    pub(crate) fn get(&mut self, conn: &Connection<Keys>, epoch: StdInstant) -> Option<StdInstant> {
        let t = conn.poll_timeout();
        if t != self.of {
            self.of = t;
            self.at = t.map(|t| epoch + StdDuration::from_millis(t.0));
        }
        self.at
    }
}

/// What the read side needs of the rest: the connection, a way to send
/// the control frames it owes, the stream to read, and the end of the
/// transport.
pub(crate) trait Io {
    /// Runs `f` on the connection (under the lock, for a split socket).
    fn with_conn<T>(&mut self, f: impl FnOnce(&mut Connection<Keys>) -> T) -> T;
    /// Sends the control frames owed.
    fn flush_owed(&mut self) -> Result<(), Error>;
    /// The connection's clock.
    fn epoch(&self) -> StdInstant;
    /// Reads once from the stream into `rx` (see [`ReadStream::fill`]),
    /// waiting at most until `deadline` or the connection's next timer,
    /// which each implementation reads itself ([`next_timer`]; the tokio
    /// socket only once the stream is not ready).
    fn fill(
        &mut self,
        rx: &mut RxBuf<BytesMut>,
        deadline: Option<StdInstant>,
    ) -> Result<Filled, Error>;
    /// Ends the transport as `ending` says.
    fn end_transport(&mut self, ending: Ending, wait: StdDuration);
}

/// The read side: the input buffer, the assembler of fragmented messages,
/// the read timeout.
pub(crate) struct Reading {
    pub(crate) rx: RxBuf<BytesMut>,
    pub(crate) asm: Assembler,
    pub(crate) read_timeout: Option<StdDuration>,
    pub(crate) finished: bool,
    /// The compressed chunk being inflated, and the inflater.
    #[cfg(feature = "deflate")]
    pub(crate) inflating: super::deflate::Inflating,
}

impl Reading {
    pub(crate) fn new(opts: &Options, early: &[u8]) -> Self {
        let size = opts.read_buffer.max(early.len()).max(256);
        let mut buf = BytesMut::zeroed(size);
        buf[..early.len()].copy_from_slice(early);
        Self::with(RxBuf::new(buf, (0, early.len())), opts)
    }

    /// [`new`](Self::new) with no read buffer until input comes (async
    /// hosts with many quiet connections).
    #[cfg(feature = "tokio")]
    pub(crate) fn lazy(opts: &Options, early: &[u8]) -> Self {
        Self::with(RxBuf::lazy(early, opts.read_buffer.max(256)), opts)
    }

    fn with(rx: RxBuf<BytesMut>, opts: &Options) -> Self {
        Self {
            rx,
            asm: Assembler::new(opts.config.max_message_len),
            read_timeout: opts.read_timeout,
            finished: false,
            #[cfg(feature = "deflate")]
            inflating: Default::default(),
        }
    }

    /// Reads until the connection yields an event (its payload left in the
    /// buffer: [`RxBuf::event`]); `Ok(None)` once it is over, or when an
    /// async `fill` was not ready ([`Filled::Pending`], which its `Io`
    /// flags for the caller). Owed control frames are sent, timers run,
    /// the transport is ended when the connection is.
    fn poll<I: Io>(
        &mut self,
        io: &mut I,
        deadline: Option<StdInstant>,
    ) -> Result<Option<Found>, Error> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let rx = &mut self.rx;
            // Nothing buffered, nothing to decode: no call into the
            // connection.
            let found = if rx.has_input() {
                io.with_conn(|c| rx.poll(c))
            } else {
                Ok(None)
            };
            match found {
                Ok(Some(found)) => {
                    // A pong or close echo that cannot be written latches
                    // (`write_error`) and ends the connection: the next
                    // call says so. The event found is not lost to it.
                    let _ = io.flush_owed();
                    return Ok(Some(found));
                }
                Ok(None) => {}
                Err(e) => {
                    self.fail(io);
                    return Err(e.into());
                }
            }
            if io.with_conn(|c| c.is_closed()) {
                self.finish(io);
                return Ok(None);
            }
            match io.fill(&mut self.rx, deadline)? {
                Filled::Data => {}
                Filled::Timer => {
                    let now = since(io.epoch());
                    io.with_conn(|c| c.handle_timeout(now));
                    let _ = io.flush_owed();
                }
                Filled::Eof => io.with_conn(|c| c.handle_eof()),
                // The caller tells this from the end by the flag its `Io`
                // set (an async socket, polled), and returns `Pending`.
                Filled::Pending => return Ok(None),
            }
        }
    }

    /// See [`WebSocket::read_event`].
    pub(crate) fn read_event<I: Io, R>(
        &mut self,
        io: &mut I,
        f: impl FnOnce(Event<'_>) -> R,
    ) -> Result<Option<R>, Error> {
        let deadline = self.deadline();
        self.read_event_until(io, deadline, f)
    }

    /// [`read_event`](Self::read_event) within `deadline` (the read
    /// timeout of a call that began earlier: an async read polled again).
    #[inline(always)]
    pub(crate) fn read_event_until<I: Io, R>(
        &mut self,
        io: &mut I,
        deadline: Option<StdInstant>,
        f: impl FnOnce(Event<'_>) -> R,
    ) -> Result<Option<R>, Error> {
        // A connection that agreed permessage-deflate reads its own way;
        // the others as if the feature were not there. (With the two in
        // one loop, a 16-byte event cost 22 ns instead of 14: the found
        // event was then loaded from memory in one wide load, which the
        // narrower stores that wrote it could not forward.)
        #[cfg(feature = "deflate")]
        if self.inflating.is_on() {
            return self.read_event_deflate(io, deadline, f);
        }
        // A message `read()` was keeping in place when it returned an
        // error is given up: events go on from where the connection is.
        self.rx.unpin();
        let found = self.poll(io, deadline)?;
        Ok(found.map(|found| f(self.rx.event(found))))
    }

    /// [`read_event`](Self::read_event) once permessage-deflate is
    /// agreed: a compressed chunk found is inflated, and its inflated
    /// chunks handed out one per call.
    #[cfg(feature = "deflate")]
    #[inline(never)]
    fn read_event_deflate<I: Io, R>(
        &mut self,
        io: &mut I,
        deadline: Option<StdInstant>,
        f: impl FnOnce(Event<'_>) -> R,
    ) -> Result<Option<R>, Error> {
        self.rx.unpin();
        loop {
            if self.inflating.is_pending() {
                match self.inflating.next(io) {
                    Ok(Some(chunk)) => return Ok(Some(f(Event::Data(chunk)))),
                    Ok(None) => continue,
                    Err(e) => {
                        self.fail(io);
                        return Err(e.into());
                    }
                }
            }
            let Some(found) = self.poll(io, deadline)? else {
                return Ok(None);
            };
            if self.inflate_next(io, &found) {
                continue;
            }
            return Ok(Some(f(self.rx.event(found))));
        }
    }

    /// A compressed chunk found is taken to be inflated (the next turn
    /// of the caller's loop hands out what it inflates to).
    #[cfg(feature = "deflate")]
    fn inflate_next<I: Io>(&mut self, io: &mut I, found: &Found) -> bool {
        if !self.inflating.is_on() || !matches!(found, Found::Data(_)) || !self.rx.last_compressed()
        {
            return false;
        }
        if let Event::Data(d) = self.rx.event(*found) {
            let inflating = &mut self.inflating;
            io.with_conn(|c| inflating.start(&d, c));
        }
        true
    }

    /// Whether the next read can do nothing but read the stream: not
    /// finished, nothing buffered or kept in place, nothing inflated
    /// waiting. An async socket then polls its stream first, and a read
    /// that is not ready returns at once ([`Io::fill`] given the result
    /// of one that was).
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn only_reads(&self) -> bool {
        #[cfg(feature = "deflate")]
        if self.inflating.is_pending() {
            return false;
        }
        !self.finished && !self.rx.has_input() && !self.rx.is_pinned()
    }

    /// When the read timeout, if any, runs out for a call starting now.
    #[inline]
    pub(crate) fn deadline(&self) -> Option<StdInstant> {
        self.read_timeout.map(|t| StdInstant::now() + t)
    }

    /// See [`WebSocket::read`]. A message in one frame is handed out
    /// from the read buffer without a copy: its payload is kept in place
    /// while it arrives (the buffer grows to hold it), then shared. Only
    /// fragments are joined, in the assembler.
    pub(crate) fn read<I: Io>(&mut self, io: &mut I) -> Result<Option<Message>, Error> {
        let deadline = self.deadline();
        self.read_until(io, deadline)
    }

    /// [`read`](Self::read) within `deadline` (see
    /// [`read_event_until`](Self::read_event_until)). It can be called
    /// again after it returned for an async read not ready (or an error
    /// the transport's `fill` made): a message kept in place, being
    /// assembled or inflated goes on.
    #[inline(always)]
    pub(crate) fn read_until<I: Io>(
        &mut self,
        io: &mut I,
        deadline: Option<StdInstant>,
    ) -> Result<Option<Message>, Error> {
        loop {
            // A compressed message: its inflated chunks into the
            // assembler.
            #[cfg(feature = "deflate")]
            if self.inflating.is_pending() {
                let pushed = match self.inflating.next(io) {
                    Ok(Some(chunk)) => self.asm.push(&Event::Data(chunk)),
                    Ok(None) => continue,
                    Err(e) => {
                        self.fail(io);
                        return Err(e.into());
                    }
                };
                match pushed {
                    Ok(Some(m)) => return Ok(Some(m)),
                    Ok(None) => continue,
                    Err(e) => return Err(self.refuse(io, e)),
                }
            }
            let Some(found) = self.poll(io, deadline)? else {
                return Ok(None);
            };
            #[cfg(feature = "deflate")]
            if self.inflate_next(io, &found) {
                continue;
            }
            if let Found::Data(d) = &found {
                // A pinned payload goes on only with the rest of its frame.
                if self.rx.is_pinned() && d.offset == 0 {
                    self.rx.unpin();
                }
                let whole = self.rx.is_pinned() || (d.is_message_start() && d.fin);
                if whole {
                    if d.is_frame_end() {
                        let (kind, len) = (d.kind, d.frame_len);
                        return self.take(kind, len).map(Some);
                    }
                    if !self.rx.is_pinned() {
                        self.rx.pin_last();
                        self.rx.reserve_pinned(d.frame_len);
                    }
                    continue;
                }
            }
            let event = self.rx.event(found);
            match self.asm.push(&event) {
                Ok(Some(m)) => return Ok(Some(m)),
                Ok(None) => {}
                Err(e) => return Err(self.refuse(io, e)),
            }
        }
    }

    /// A message too big for the assembler: refused as the core would.
    fn refuse<I: Io>(&mut self, io: &mut I, e: crate::message::MessageError) -> Error {
        io.with_conn(|c| {
            let _ = c.close(e.close_code(), "");
        });
        self.fail(io);
        e.into()
    }

    /// The message of `len` bytes whose last chunk was just read: copied
    /// inline if it is small (no allocation, no reference count), else
    /// shared out of the buffer.
    #[inline]
    fn take(&mut self, kind: DataKind, len: usize) -> Result<Message, Error> {
        let whole = self.rx.payload();
        if whole.len() != len {
            // Not the whole frame: a bug, never a message.
            return Err(
                io::Error::other("internal error: a message cut in the read buffer").into(),
            );
        }
        let payload = if whole.len() <= Payload::INLINE {
            let p = match self.rx.payload_window() {
                Some(w) => Payload::inline_from_window(w, whole.len()),
                None => Payload::copy_from_slice(whole),
            };
            self.rx.unpin();
            p
        } else {
            Payload::from(self.rx.take_payload())
        };
        Ok(match kind {
            DataKind::Binary => Message::Binary(payload),
            // The connection checked the whole message (this frame) as UTF-8.
            DataKind::Text => Message::Text(Utf8Bytes::from_validated(payload)),
        })
    }

    /// The close handshake is over: end the transport as the policy says.
    fn finish<I: Io>(&mut self, io: &mut I) {
        if !self.finished {
            self.finished = true;
            self.rx.unpin();
            let (end, role, wait) =
                io.with_conn(|c| (c.end(), c.role(), c.config().close_timeout.into()));
            io.end_transport(driver::ending(end, role), wait);
        }
    }

    /// A protocol error: the close was queued; send it and end the
    /// transport.
    fn fail<I: Io>(&mut self, io: &mut I) {
        let _ = io.flush_owed();
        if !self.finished {
            self.finished = true;
            self.rx.unpin();
            let wait = io.with_conn(|c| c.config().close_timeout.into());
            io.end_transport(Ending::HalfCloseThenDrain, wait);
        }
    }
}

/// The sending side of an unsplit socket: the connection, the stream, the
/// buffer client payloads are masked through.
pub(crate) struct Writer<S> {
    pub(crate) conn: Connection<Keys>,
    /// The stream, written here and read by [`Reading`].
    pub(crate) io: ReadStream<S>,
    pub(crate) out: Vec<u8>,
    pub(crate) epoch: StdInstant,
    pub(crate) latch: Latch<Failure>,
    /// [`Options::send_queue`], for [`WebSocket::split`].
    pub(crate) send_queue: usize,
    /// [`Options::write_timeout`]: the time a whole send may take.
    pub(crate) write_timeout: Option<StdDuration>,
    /// The compressor, if permessage-deflate was agreed.
    #[cfg(feature = "deflate")]
    pub(crate) deflate: super::deflate::Compressing,
    /// Frames of replies held back while the peer's next frames are
    /// already read: written together by the next read, before it waits.
    pub(crate) batch: Out,
    /// The send under way may join [`batch`](Self::batch).
    pub(crate) batching: bool,
}

/// How many bytes a send leaves in the batch, while more input is read,
/// before it writes them.
pub(crate) const BATCH: usize = 64 << 10;

impl<S: Transport> Writer<S> {
    /// Writes `a` then `b` (one vectored write) within `limit`; a
    /// failure latches.
    fn write(&mut self, limit: &mut WriteLimit, a: &[u8], b: &[u8]) -> Result<(), Error> {
        let bufs = &mut [IoSlice::new(a), IoSlice::new(b)];
        let r = write_all_vectored(&mut self.io.stream, bufs, limit);
        self.check(r)
    }

    /// A failure latches, and resets the stream at once
    /// ([`Transport::abort`]): it was cut mid-frame, and a socket dropped
    /// later must not hold what the peer never took. The error is the
    /// one every later send gets.
    fn check(&mut self, r: io::Result<()>) -> Result<(), Error> {
        r.map_err(|e| {
            self.latch.set(&mut self.conn, Failure::new(&e));
            let _ = self.io.stream.abort();
            latched(&self.latch)
        })
    }

    /// A whole message: one frame, or frames of `max_send_frame_len`.
    pub(crate) fn send_message(&mut self, kind: DataKind, data: &[u8]) -> Result<(), Error> {
        #[cfg(feature = "deflate")]
        if self.conn.deflate().is_some() && self.deflate.compresses() {
            return self.send_compressed(kind, data);
        }
        self.send_plain(kind, data)
    }

    /// A whole message, uncompressed.
    #[inline(always)]
    fn send_plain(&mut self, kind: DataKind, data: &[u8]) -> Result<(), Error> {
        for (part, range) in frames(self.conn.config().max_send_frame_len, kind, data.len()) {
            self.send_frame(part, &data[range])?;
        }
        Ok(())
    }

    /// [`send_message`](Self::send_message) when this end compresses:
    /// compressed whole, then framed as any message is. Out of line, so
    /// that the uncompressed path stays as short as without the feature.
    #[cfg(feature = "deflate")]
    #[inline(never)]
    fn send_compressed(&mut self, kind: DataKind, data: &[u8]) -> Result<(), Error> {
        let Some(z) = self.deflate.deflater(self.conn.deflate(), self.conn.role()) else {
            return self.send_plain(kind, data);
        };
        let payload = core::mem::take(z.compress(data, true));
        let max = self.conn.config().max_send_frame_len;
        let r = frames(max, kind, payload.len())
            .try_for_each(|(part, range)| self.frame(part, &payload[range], true));
        self.deflate.give_back(payload);
        r
    }

    /// One fragment of a message sent piece by piece: compressed, if this
    /// end compresses, as a piece of its message.
    pub(crate) fn send_fragment(&mut self, part: MessagePart, data: &[u8]) -> Result<(), Error> {
        #[cfg(feature = "deflate")]
        if let MessagePart::Fragment { fin, .. } = part
            && let Some(z) = self.deflate.deflater(self.conn.deflate(), self.conn.role())
        {
            let payload = core::mem::take(z.compress(data, fin));
            let r = self.frame(part, &payload, true);
            self.deflate.give_back(payload);
            return r;
        }
        self.send_frame(part, data)
    }

    /// One data frame: a server's header and payload in one vectored
    /// write, no copy; a client's payload masked through `out`.
    pub(crate) fn send_frame(&mut self, part: MessagePart, data: &[u8]) -> Result<(), Error> {
        self.frame(part, data, false)
    }

    /// [`send_frame`](Self::send_frame), of a compressed payload (RSV1 on
    /// a message's first frame) if `compressed`.
    // Into each caller, as `send_frame` was into `send_message` before
    // compressed frames came through here too: a call cost a 16-byte send
    // 64 more instructions.
    #[inline(always)]
    fn frame(&mut self, part: MessagePart, data: &[u8], compressed: bool) -> Result<(), Error> {
        self.latch.check().map_err(|f| f.error())?;
        self.flush_owed()?;
        if self.batching && self.batch.len() < BATCH {
            return self.hold(part, data, compressed);
        }
        if !self.batch.is_empty() {
            self.write_batch()?;
        }
        #[cfg(feature = "deflate")]
        let mut frame = if compressed {
            FrameOut::begin_compressed(&mut self.conn, part, data.len())?
        } else {
            FrameOut::begin(&mut self.conn, part, data.len())?
        };
        #[cfg(not(feature = "deflate"))]
        let mut frame = {
            let _ = compressed;
            FrameOut::begin(&mut self.conn, part, data.len())?
        };
        if frame.is_masked() {
            let cap = (frame.header().len() + data.len()).min(MASK_CHUNK);
            if self.out.len() < cap {
                self.out.resize(cap, 0);
            }
        }
        let mut out = core::mem::take(&mut self.out);
        // A server's frame goes out as header and payload in one vectored
        // write: no `tx` to gather them in.
        let masked = frame.is_masked();
        let mut limit = WriteLimit::new(self.write_timeout);
        let r = loop {
            let tx: &mut [u8] = if masked { &mut out } else { &mut [] };
            match frame.next_chunk(&mut self.conn, data, tx) {
                Ok(Some((a, b))) => {
                    if let Err(e) = self.write(&mut limit, a, b) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e.into()),
            }
        };
        limit.restore(&mut self.io.stream);
        self.out = out;
        r?;
        let r = self.io.stream.flush();
        self.check(r)
    }

    /// A frame into the batch (see [`Writer::batch`]).
    #[cold]
    #[inline(never)]
    fn hold(&mut self, part: MessagePart, data: &[u8], compressed: bool) -> Result<(), Error> {
        Ok(self
            .batch
            .frame(&mut self.conn, part, data, None, compressed)?)
    }

    /// Writes the batch held back, whole (a failure latches).
    #[cold]
    #[inline(never)]
    pub(crate) fn write_batch(&mut self) -> Result<(), Error> {
        self.latch.check().map_err(|f| f.error())?;
        let mut limit = WriteLimit::new(self.write_timeout);
        let mut r = Ok(());
        while !self.batch.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let k = self.batch.slices(&mut slices);
            let n: usize = slices[..k].iter().map(|s| s.len()).sum();
            r = write_all_vectored(&mut self.io.stream, &mut slices[..k], &mut limit);
            if r.is_err() {
                break;
            }
            self.batch.advance(n);
        }
        limit.restore(&mut self.io.stream);
        if r.is_ok() {
            r = self.io.stream.flush();
        }
        if r.is_err() {
            self.batch = Out::default();
        }
        self.check(r)
    }

    /// A control frame: queued in the connection, then written.
    pub(crate) fn control(
        &mut self,
        f: impl FnOnce(&mut Connection<Keys>) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        self.latch.check().map_err(|f| f.error())?;
        f(&mut self.conn)?;
        self.flush_owed()
    }

    /// Any message (see [`WebSocket::send`]).
    pub(crate) fn send(&mut self, msg: &Message) -> Result<(), Error> {
        match msg {
            Message::Text(t) => self.send_message(DataKind::Text, t.as_bytes()),
            Message::Binary(b) => self.send_message(DataKind::Binary, b),
            control => self.control(|c| send_control(c, control)),
        }
    }
}

impl<S: Transport> Io for Writer<S> {
    fn with_conn<T>(&mut self, f: impl FnOnce(&mut Connection<Keys>) -> T) -> T {
        f(&mut self.conn)
    }

    /// Writes every control frame owed (the clock is read only if one is).
    /// The check is inlined into the read loop, which calls this once per
    /// event; the writing is not.
    #[inline]
    fn flush_owed(&mut self) -> Result<(), Error> {
        if self.latch.is_set() || !self.conn.wants_transmit() {
            return Ok(());
        }
        self.write_owed()
    }

    fn epoch(&self) -> StdInstant {
        self.epoch
    }

    fn fill(
        &mut self,
        rx: &mut RxBuf<BytesMut>,
        deadline: Option<StdInstant>,
    ) -> Result<Filled, Error> {
        if !self.batch.is_empty() && self.write_batch().is_err() {
            // Latched: the connection ended, which the read side sees.
            return Ok(Filled::Timer);
        }
        let timer = next_timer(&self.conn, self.epoch);
        self.io.fill(rx, timer, deadline)
    }

    fn end_transport(&mut self, ending: Ending, wait: StdDuration) {
        end_transport(&mut self.io.stream, ending, wait);
    }
}

impl<S: Transport> Writer<S> {
    /// [`Io::flush_owed`] once something is owed.
    #[cold]
    #[inline(never)]
    fn write_owed(&mut self) -> Result<(), Error> {
        // Replies held back go first: a close must follow them.
        if !self.batch.is_empty() {
            self.write_batch()?;
        }
        let mut buf = [0u8; MAX_CONTROL_FRAME_LEN];
        let now = since(self.epoch);
        let mut wrote = false;
        let mut limit = WriteLimit::new(self.write_timeout);
        while let Some(frame) = driver::owed(&mut self.conn, now, &mut buf)? {
            let r = write_all_vectored(&mut self.io.stream, &mut [IoSlice::new(frame)], &mut limit);
            if r.is_err() {
                limit.restore(&mut self.io.stream);
                return self.check(r);
            }
            wrote = true;
        }
        limit.restore(&mut self.io.stream);
        if wrote {
            let r = self.io.stream.flush();
            self.check(r)?;
        }
        Ok(())
    }
}

/// How much of a client's payload is masked per write.
pub(crate) const MASK_CHUNK: usize = 64 << 10;

/// A blocking WebSocket over a [`Transport`].
pub struct WebSocket<S: Transport> {
    pub(crate) w: Writer<S>,
    pub(crate) r: Reading,
    pub(crate) protocol: Option<String>,
}

impl<S: Transport> core::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.w.conn.role())
            .field("state", &self.w.conn.state())
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl<S: Transport> WebSocket<S> {
    /// The handshake agreed permessage-deflate on `params`.
    #[cfg(feature = "deflate")]
    pub(crate) fn agree_deflate(&mut self, params: crate::handshake::deflate::DeflateParams) {
        self.w.conn.set_deflate(params);
        self.r.inflating.agreed();
    }

    /// Wraps a stream whose handshake is done. `early` are bytes read past
    /// the handshake head (frames the peer sent at once).
    pub fn from_raw(mut stream: S, role: Role, opts: &Options, early: &[u8], keys: Keys) -> Self {
        // Sends count on it from their first write (`accept` and `connect`
        // set it before the handshake too).
        let _ = stream.set_write_timeout(opts.write_timeout);
        Self {
            w: Writer {
                conn: Connection::with_keys(role, opts.config, keys, Instant::ZERO),
                io: ReadStream::new(stream),
                out: Vec::new(),
                epoch: StdInstant::now(),
                latch: Latch::default(),
                send_queue: opts.send_queue,
                write_timeout: opts.write_timeout,
                #[cfg(feature = "deflate")]
                deflate: super::deflate::Compressing::new(opts.deflate),
                batch: Out::default(),
                batching: false,
            },
            r: Reading::new(opts, early),
            protocol: None,
        }
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The state machine underneath (state, close codes, role).
    pub fn connection(&self) -> &Connection<Keys> {
        &self.w.conn
    }

    /// Whether the connection is open (esp_websocket_client's
    /// `is_connected`): no write failed, no close began.
    pub fn is_connected(&self) -> bool {
        !self.r.finished && !self.w.latch.is_set() && self.w.conn.state() == State::Open
    }

    /// How the connection ended, once it has. A write that failed (the
    /// write timeout) ends it as `Abnormal`, like a vanished peer;
    /// [`WebSocket::write_error`] tells them apart.
    pub fn end(&self) -> Option<End> {
        self.w.conn.end()
    }

    /// The write failure that ended the connection, if one did (kind
    /// `TimedOut` after [`Options::write_timeout`]).
    pub fn write_error(&self) -> Option<io::Error> {
        write_error(&self.w.latch)
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.w.io.stream
    }

    /// Changes [`Options::read_timeout`] on the open socket: [`Self::read`]
    /// and [`Self::read_event`] fail with `TimedOut` after this long
    /// without an event (`None`: wait for ever; keepalive still runs).
    pub fn set_read_timeout(&mut self, timeout: Option<StdDuration>) {
        self.r.read_timeout = timeout;
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
        self.r.read_event(&mut self.w, f)
    }

    /// Reads the next whole message: text, binary, or a control message
    /// (ping, pong, the peer's close). `Ok(None)` once the connection is
    /// over ([`WebSocket::end`]). A message that came in one frame is
    /// handed out without a copy, sharing the read buffer; one of at most
    /// [`Payload::INLINE`] bytes is copied into the [`Payload`] itself,
    /// which costs less than sharing. Neither allocates.
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        self.r.read(&mut self.w)
    }

    /// Sends a text message (see [`send`](Self::send) for when it is
    /// written).
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.w.batching = self.r.rx.has_input();
        let r = self.w.send_message(DataKind::Text, text.as_bytes());
        self.w.batching = false;
        r
    }

    /// Sends a binary message (see [`send`](Self::send) for when it is
    /// written).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.w.batching = self.r.rx.has_input();
        let r = self.w.send_message(DataKind::Binary, data);
        self.w.batching = false;
        r
    }

    /// Writes the replies held back (see [`send`](Self::send)) now.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.w.write_batch()
    }

    /// Sends any [`Message`], e.g. to echo one: text and binary as whole
    /// messages, a ping or a pong, or a close, which starts the close
    /// handshake (`Close(None)`: code 1000, no reason) that the next reads
    /// see through; [`WebSocket::close`] also waits for it.
    ///
    /// A text or binary message sent while the peer's next frames are
    /// already read (it sent many at once) is held back, and written with
    /// the other replies in one vectored write when the next read has
    /// used up what was read, before it waits, or by a close, a ping, or
    /// [`flush`](Self::flush): pipelined traffic costs a fraction of a
    /// write per message. A lone message is written at once. A socket
    /// dropped with replies held back (it stopped reading with input
    /// unread) loses them: [`flush`](Self::flush) first.
    pub fn send(&mut self, msg: &Message) -> Result<(), Error> {
        self.w.batching = self.r.rx.has_input();
        let r = self.w.send(msg);
        self.w.batching = false;
        r
    }

    /// Sends one fragment of a message produced piece by piece
    /// (esp_websocket_client's `send_text_partial` / `send_cont_msg` /
    /// `send_fin`): the first opens a message of type `kind`, `fin` ends it.
    pub fn send_fragment(&mut self, kind: DataKind, data: &[u8], fin: bool) -> Result<(), Error> {
        self.w
            .send_fragment(MessagePart::Fragment { kind, fin }, data)
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.w.control(|c| c.ping(payload))
    }

    /// Sends a pong.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.w.control(|c| c.pong(payload))
    }

    /// Closes as esp_websocket_client's `close` does: sends a close frame
    /// with `code` and `reason`, waits for the peer's close (data arriving
    /// meanwhile is dropped) within the close timeout, then ends the
    /// transport. Returns how the connection ended (always `Some` when
    /// it returns `Ok`).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<Option<End>, Error> {
        if self.w.conn.state() == State::Open {
            self.w.control(|c| c.close(code, reason))?;
        }
        // The close timeout bounds the wait, not the read timeout.
        let read_timeout = self.r.read_timeout.take();
        let r = loop {
            match self.read_event(|_| ()) {
                Ok(Some(())) => {}
                Ok(None) => break Ok(self.end()),
                Err(e) => break Err(e),
            }
        };
        self.r.read_timeout = read_timeout;
        r
    }

    /// Ends the transport at once, without a close frame (esp's `stop`).
    pub fn stop(&mut self) {
        let _ = self.w.io.stream.shutdown(Shutdown::Both);
        self.w.conn.handle_eof();
        self.r.finished = true;
    }
}

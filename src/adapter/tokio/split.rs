//! A WebSocket split into a [`Reader`] and cloneable [`Sender`]s, with a
//! writer task (see the [adapter docs](super#tasks-and-slow-peers) for
//! the policy).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use ::tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use ::tokio::sync::Notify;
use bytes::BytesMut;

use crate::adapter::driver::{Ending, Latch, RxBuf};
use crate::adapter::std_net::socket::{Failure, Io, Reading, next_timer, since, write_error};
use crate::adapter::std_net::transport::Filled;
use crate::adapter::std_net::{Error, Keys};
use crate::conn::{Connection, DataKind, End, Event, Instant, MessagePart, State};
use crate::message::Message;
use crate::wire::{CloseCode, FrameHeader};

use super::WebSocket;
use super::out::{encode, encode_fragment, poll_write};
use super::socket::{Alarm, poll_fill};
use crate::adapter::driver::out::Out;

/// What the reader, the senders and the writer task share.
struct Side {
    conn: Connection<Keys>,
    /// Frames queued for the writer.
    out: Out,
    /// Bytes the writer has taken and is writing.
    writing: usize,
    latch: Latch<Failure>,
    #[cfg(feature = "deflate")]
    deflate: crate::adapter::std_net::deflate::Compressing,
    /// The transport is to end, as this says, once the queue is written.
    ending: Option<Ending>,
    /// The reader's waker: the writer wakes it when a write fails.
    reader: Option<Waker>,
}

struct Shared {
    side: Mutex<Side>,
    /// Wakes the writer task: frames were queued, or the end came.
    writer: Notify,
    /// Wakes senders waiting for room.
    room: Notify,
    /// [`Options::send_queue`](super::Options::send_queue).
    limit: usize,
    epoch: StdInstant,
    /// Readers and senders alive: the writer ends when none is.
    users: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Side> {
        // A panic while encoding cannot leave a frame half queued: the
        // state is usable.
        self.side.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the connection at once: the writer shuts the stream down
    /// and the reader sees the end.
    fn stop(&self) {
        let mut side = self.lock();
        side.conn.handle_eof();
        side.ending.get_or_insert(Ending::Now);
        if let Some(w) = side.reader.take() {
            w.wake();
        }
        drop(side);
        self.writer.notify_one();
        self.room.notify_waiters();
    }

    /// The reader is done with the transport (it drained to the peer's
    /// FIN, or it was dropped): a writer waiting to close after the drain
    /// (a client after a clean close) closes now.
    fn drained(&self) {
        let mut side = self.lock();
        if side.ending == Some(Ending::DrainThenClose) {
            side.ending = Some(Ending::Now);
            drop(side);
            self.writer.notify_one();
        }
    }

    fn leave(&self) {
        if self.users.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Nobody can send or read any more: write what is queued,
            // then end.
            self.lock().ending.get_or_insert(Ending::HalfCloseThenDrain);
            self.writer.notify_one();
        }
    }
}

impl<S> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    /// Splits the socket into a [`Reader`] and a [`Sender`] (clone it for
    /// more tasks), and starts the writer task (`tokio::spawn`: call it
    /// inside a runtime). What was queued and read so far carries over.
    ///
    /// [`accept`](super::accept) gives a `Box<WebSocket>`; with
    /// `futures::StreamExt` in scope, `ws.split()` on the box is that
    /// trait's `split` (a `Box` of a `Stream` is a `Stream`), so write
    /// `(*ws).split()`.
    pub fn split(self) -> (Reader<S>, Sender) {
        let WebSocket {
            link, r, protocol, ..
        } = self;
        let (rd, wr) = ::tokio::io::split(link.stream);
        let shared = Arc::new(Shared {
            side: Mutex::new(Side {
                conn: link.conn,
                out: link.out,
                writing: 0,
                latch: link.latch,
                #[cfg(feature = "deflate")]
                deflate: link.deflate,
                ending: None,
                reader: None,
            }),
            writer: Notify::new(),
            room: Notify::new(),
            limit: link.send_queue,
            epoch: link.epoch,
            users: AtomicUsize::new(2),
        });
        ::tokio::spawn(write_loop(wr, shared.clone(), link.write_timeout));
        shared.writer.notify_one();
        let reader = Reader {
            r,
            io: ReadIo {
                rd,
                shared: shared.clone(),
                alarm: Alarm::default(),
                waker: None,
                pending: false,
                ending: None,
                end_deadline: None,
            },
            protocol,
            held: None,
            stream_deadline: None,
        };
        (reader, Sender { shared })
    }
}

/// The writer task: writes what senders and the reader queue, a batch at
/// a time, without the lock; a write that fails or outlasts the write
/// timeout latches and ends the connection.
async fn write_loop<S: AsyncWrite>(
    mut w: WriteHalf<S>,
    shared: Arc<Shared>,
    timeout: Option<StdDuration>,
) {
    loop {
        let notified = shared.writer.notified();
        let (mut batch, ending) = {
            let mut side = shared.lock();
            let batch = core::mem::take(&mut side.out);
            side.writing = batch.len();
            (batch, side.ending)
        };
        if !batch.is_empty() {
            let write = async {
                poll_fn(|cx| poll_write(&mut batch, &mut w, cx)).await?;
                w.flush().await
            };
            let r = match timeout {
                Some(t) => ::tokio::time::timeout(t, write).await.unwrap_or_else(|_| {
                    Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out"))
                }),
                None => write.await,
            };
            let failed = {
                let mut side = shared.lock();
                side.writing = 0;
                match r {
                    Ok(()) => false,
                    Err(e) => {
                        let side = &mut *side;
                        side.latch.set(&mut side.conn, Failure::new(&e));
                        side.out = Out::default();
                        if let Some(w) = side.reader.take() {
                            w.wake();
                        }
                        true
                    }
                }
            };
            shared.room.notify_waiters();
            if failed {
                let _ = ::tokio::time::timeout(StdDuration::from_secs(1), w.shutdown()).await;
                return;
            }
            continue;
        }
        if let Some(ending) = ending {
            shared.room.notify_waiters();
            // After a clean close a client lets the server close first:
            // the reader drains to its FIN, then says so (`drained`).
            if ending != Ending::DrainThenClose {
                let t = timeout.unwrap_or(StdDuration::from_secs(10));
                let _ = ::tokio::time::timeout(t, w.shutdown()).await;
                return;
            }
        }
        notified.await;
    }
}

/// The reading half of a split [`WebSocket`]: reads, answers pings (through
/// the writer), runs the keepalive and the close timer.
pub struct Reader<S> {
    r: Reading,
    io: ReadIo<S>,
    protocol: Option<std::string::String>,
    held: Option<Error>,
    stream_deadline: Option<Option<StdInstant>>,
}

impl<S> core::fmt::Debug for Reader<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reader")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

struct ReadIo<S> {
    rd: ReadHalf<S>,
    shared: Arc<Shared>,
    alarm: Alarm,
    waker: Option<Waker>,
    pending: bool,
    ending: Option<(Ending, StdDuration)>,
    end_deadline: Option<StdInstant>,
}

impl<S> Drop for ReadIo<S> {
    fn drop(&mut self) {
        self.shared.drained();
        self.shared.leave();
    }
}

impl<S: AsyncRead> ReadIo<S> {
    /// Keeps `cx`'s waker, here and (for the writer) in the shared state.
    fn register(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => {
                self.waker = Some(cx.waker().clone());
                self.shared.lock().reader = Some(cx.waker().clone());
            }
        }
    }

    /// After the read side ended the connection: reads until the peer's
    /// FIN (dropping data) within the close timeout, unless the peer is
    /// gone.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some((ending, wait)) = self.ending else {
            return Poll::Ready(());
        };
        if ending == Ending::Now {
            return Poll::Ready(());
        }
        let deadline = *self
            .end_deadline
            .get_or_insert_with(|| StdInstant::now() + wait);
        loop {
            let mut scratch = [0u8; 512];
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.rd).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
                Poll::Pending if !self.alarm_poll(cx, deadline) => return Poll::Pending,
                _ => {
                    self.ending = Some((Ending::Now, wait));
                    self.shared.drained();
                    return Poll::Ready(());
                }
            }
        }
    }

    fn alarm_poll(&mut self, cx: &mut Context<'_>, at: StdInstant) -> bool {
        self.alarm.poll(cx, at)
    }
}

impl<S: AsyncRead> Io for ReadIo<S> {
    fn with_conn<T>(&mut self, f: impl FnOnce(&mut Connection<Keys>) -> T) -> T {
        f(&mut self.shared.lock().conn)
    }

    /// Queues the control frames owed for the writer.
    fn flush_owed(&mut self) -> Result<(), Error> {
        let mut side = self.shared.lock();
        if side.latch.is_set() || !side.conn.wants_transmit() {
            return Ok(());
        }
        let now = since(self.shared.epoch);
        let side = &mut *side;
        side.out.owed(&mut side.conn, now)?;
        self.shared.writer.notify_one();
        Ok(())
    }

    fn epoch(&self) -> StdInstant {
        self.shared.epoch
    }

    fn fill(
        &mut self,
        rx: &mut RxBuf<BytesMut>,
        deadline: Option<StdInstant>,
    ) -> Result<Filled, Error> {
        let Some(waker) = self.waker.clone() else {
            return Err(io::Error::other("internal error: polled without a task").into());
        };
        let mut cx = Context::from_waker(&waker);
        let epoch = self.shared.epoch;
        let timer = self.with_conn(|c| next_timer(c, epoch));
        match poll_fill(
            &mut self.rd,
            &mut cx,
            rx,
            &mut self.alarm,
            || timer,
            deadline,
        )? {
            Some(f) => Ok(f),
            None => {
                self.pending = true;
                Ok(Filled::Pending)
            }
        }
    }

    fn end_transport(&mut self, ending: Ending, wait: StdDuration) {
        // `S` cannot be reset from here (see `WebSocket::write_error`).
        let ending = ending.without_abort();
        if self.ending.is_none() {
            self.ending = Some((ending, wait));
            self.shared.lock().ending.get_or_insert(ending);
            self.shared.writer.notify_one();
        }
    }
}

impl<S: AsyncRead> Reader<S> {
    fn poll_reading<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(&mut Reading, &mut ReadIo<S>) -> Result<Option<T>, Error>,
    ) -> Poll<Result<Option<T>, Error>> {
        self.io.register(cx);
        if self.io.ending.is_some() {
            ready!(self.io.poll_end(cx));
            if let Some(e) = self.held.take() {
                return Poll::Ready(Err(e));
            }
        }
        let r = f(&mut self.r, &mut self.io);
        if core::mem::replace(&mut self.io.pending, false) {
            return Poll::Pending;
        }
        if self.io.ending.is_some() && !matches!(r, Ok(Some(_))) {
            if let Err(e) = r {
                self.held = Some(e);
            }
            ready!(self.io.poll_end(cx));
            return Poll::Ready(self.held.take().map_or(Ok(None), Err));
        }
        Poll::Ready(r)
    }

    /// The next whole message (see [`WebSocket::read`]). Cancel safe.
    pub async fn read(&mut self) -> Result<Option<Message>, Error> {
        let deadline = self.r.deadline();
        poll_fn(|cx| self.poll_reading(cx, |r, io| r.read_until(io, deadline))).await
    }

    /// The next event, streamed (see [`WebSocket::read_event`]). Cancel
    /// safe.
    pub async fn read_event<R>(
        &mut self,
        mut f: impl FnMut(Event<'_>) -> R,
    ) -> Result<Option<R>, Error> {
        let deadline = self.r.deadline();
        poll_fn(|cx| self.poll_reading(cx, |r, io| r.read_event_until(io, deadline, &mut f))).await
    }

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
    pub fn remote_close(&self) -> Option<(CloseCode, std::string::String)> {
        let side = self.io.shared.lock();
        side.conn.remote_close().map(|(c, r)| (c, r.into()))
    }

    /// Changes the read timeout.
    pub fn set_read_timeout(&mut self, timeout: Option<StdDuration>) {
        self.r.read_timeout = timeout;
    }
}

impl<S: AsyncRead> futures_core::Stream for Reader<S> {
    type Item = Result<Message, Error>;

    /// [`Reader::read`]; `None` once the connection is over.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let deadline = *this
            .stream_deadline
            .get_or_insert_with(|| this.r.deadline());
        let r = ready!(this.poll_reading(cx, |r, io| r.read_until(io, deadline)));
        this.stream_deadline = None;
        Poll::Ready(r.transpose())
    }
}

/// The sending half of a split [`WebSocket`]: cloneable, usable from any
/// task. Frames are encoded into the connection's queue under a lock
/// held for the encoding only; the writer task writes them.
pub struct Sender {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Sender {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.shared.users.fetch_add(1, Ordering::AcqRel);
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.shared.leave();
    }
}

impl Sender {
    /// Queues `msg` if the queue has room: never waits. When the queue
    /// would pass [`Options::send_queue`](super::Options::send_queue)
    /// bytes with it (the peer is behind; a message larger than that goes
    /// when the queue is empty), [`Error::QueueFull`] and nothing is
    /// queued: skip the message (latest-value semantics) or keep it for
    /// later. Control messages are always queued.
    pub fn try_send(&self, msg: &Message) -> Result<(), Error> {
        match self.queue(data_len(msg), false, &mut |side, now| {
            encode_in(side, now, msg)
        }) {
            Some(r) => r,
            None => unreachable!("queue without waiting always answers"),
        }
    }

    /// Queues `msg`, waiting while the queue is full. Cancel safe: the
    /// message is queued whole or not at all.
    pub async fn send(&self, msg: &Message) -> Result<(), Error> {
        self.queue_waiting(data_len(msg), &mut |side, now| encode_in(side, now, msg))
            .await
    }

    /// Sends one fragment of a message (see
    /// [`WebSocket::send_fragment`]), waiting while the queue is full.
    /// Cancel safe, as [`Sender::send`]. The fragments of one message
    /// must come from one task, one after another.
    pub async fn send_fragment(&self, kind: DataKind, data: &[u8], fin: bool) -> Result<(), Error> {
        let part = MessagePart::Fragment { kind, fin };
        self.queue_waiting(Some((data.len(), false)), &mut |side, _| {
            encode_fragment(
                &mut side.conn,
                &mut side.out,
                #[cfg(feature = "deflate")]
                &mut side.deflate,
                part,
                data,
            )
        })
        .await
    }

    /// Sends a ping (queued at once: control frames never wait).
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        self.try_send(&Message::Ping(crate::message::Payload::copy_from_slice(
            payload,
        )))
    }

    /// Sends a pong (an unsolicited heartbeat; pings are answered by
    /// themselves).
    pub fn pong(&self, payload: &[u8]) -> Result<(), Error> {
        self.try_send(&Message::Pong(crate::message::Payload::copy_from_slice(
            payload,
        )))
    }

    /// Waits until everything queued so far is written, or the
    /// connection failed (its error). Bound it with
    /// `tokio::time::timeout` if need be.
    pub async fn flush(&self) -> Result<(), Error> {
        loop {
            let room = self.shared.room.notified();
            let mut room = core::pin::pin!(room);
            room.as_mut().enable();
            {
                let side = self.shared.lock();
                side.latch.check().map_err(|f| f.error())?;
                if side.out.is_empty() && side.writing == 0 {
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// [`Sender::queue`], waiting for room while the queue is full.
    async fn queue_waiting(
        &self,
        data: Option<(usize, bool)>,
        put: &mut impl FnMut(&mut Side, Instant) -> Result<(), Error>,
    ) -> Result<(), Error> {
        loop {
            let room = self.shared.room.notified();
            let mut room = core::pin::pin!(room);
            room.as_mut().enable();
            if let Some(r) = self.queue(data, true, put) {
                return r;
            }
            room.await;
        }
    }

    /// Frames into the queue with `put`; `data`: the payload length of a
    /// data message, which waits for room, and whether it is a whole
    /// message (framed as the frame limit says) or one fragment (`None`:
    /// control, never held back). `None` back: full and `wait` (try again
    /// when the writer makes room).
    fn queue(
        &self,
        data: Option<(usize, bool)>,
        wait: bool,
        put: &mut impl FnMut(&mut Side, Instant) -> Result<(), Error>,
    ) -> Option<Result<(), Error>> {
        let mut side = self.shared.lock();
        if let Err(f) = side.latch.check() {
            return Some(Err(f.error()));
        }
        // The blocking adapter's rule: a data message goes in if it fits
        // under the limit, or alone (a message larger than the limit is
        // not refused for ever).
        let queued = side.out.len() + side.writing;
        let frames = |len: usize, whole: bool| match whole {
            true => len
                .div_ceil(side.conn.config().max_send_frame_len.max(1))
                .max(1),
            false => 1,
        };
        if let Some((len, whole)) = data
            && queued != 0
            && queued + len + FrameHeader::MAX_LEN * frames(len, whole) > self.shared.limit
        {
            if wait {
                return None;
            }
            return Some(Err(Error::QueueFull {
                queued,
                limit: self.shared.limit,
            }));
        }
        let r = put(&mut side, since(self.shared.epoch));
        if r.is_ok() {
            self.shared.writer.notify_one();
        }
        Some(r)
    }

    /// Sends a text message (waiting for room).
    pub async fn send_text(&self, text: &str) -> Result<(), Error> {
        self.send(&Message::text(text)).await
    }

    /// Sends a binary message (waiting for room).
    pub async fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.send(&Message::Binary(crate::message::Payload::copy_from_slice(
            data,
        )))
        .await
    }

    /// Starts the close handshake: a close frame with `code` and
    /// `reason`. The [`Reader`] sees it through (the peer's answer, then
    /// `None`).
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let msg = Message::Close(Some((code, reason.into())));
        self.try_send(&msg)
    }

    /// Whether the connection is open: no write failed, no close began.
    pub fn is_connected(&self) -> bool {
        let side = self.shared.lock();
        !side.latch.is_set() && side.conn.state() == State::Open
    }

    /// The write failure that ended the connection, if one did.
    pub fn write_error(&self) -> Option<io::Error> {
        write_error(&self.shared.lock().latch)
    }

    /// How the connection ended, once it has (`None` while it is open):
    /// `PongTimeout` for a peer the keepalive dropped, `Abnormal` for a
    /// write failure (see [`Sender::write_error`]) or a vanished peer,
    /// `Failed` for a protocol error, `Clean` after the close handshake.
    /// A broadcaster that holds only
    /// `Sender`s learns here why a peer's sends fail.
    pub fn end(&self) -> Option<End> {
        self.shared.lock().conn.end()
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        let side = self.shared.lock();
        side.out.len() + side.writing
    }

    /// Ends the connection at once, without a close frame: the stream is
    /// shut down and the [`Reader`] sees the end.
    pub fn stop(&self) {
        self.shared.stop();
    }
}

/// A data message's payload length, for the queue's room (`None` for control messages, which always go in).
fn data_len(msg: &Message) -> Option<(usize, bool)> {
    msg.is_data().then(|| (msg.as_bytes().len(), true))
}

/// `msg` into `side`'s queue.
fn encode_in(side: &mut Side, now: Instant, msg: &Message) -> Result<(), Error> {
    encode(
        &mut side.conn,
        &mut side.out,
        #[cfg(feature = "deflate")]
        &mut side.deflate,
        || now,
        msg,
    )
}

//! The async WebSocket: the blocking adapter's read side ([`Reading`]) run
//! over a stream polled instead of waited on, and an outgoing queue
//! ([`Out`]) written in batches.

use std::boxed::Box;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::string::String;
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use ::tokio::time::Sleep;
use bytes::BytesMut;

use crate::adapter::driver::{Ending, FrameOut, Latch, RxBuf};
use crate::adapter::std_net::socket::{
    Failure, Io, NextTimer, Reading, latched, since, write_error,
};
use crate::adapter::std_net::transport::{Filled, is_gone};
use crate::adapter::std_net::{Error, Keys, Options};
use crate::conn::{Connection, DataKind, End, Event, Instant, MessagePart, Role, State};
use crate::message::Message;
use crate::wire::CloseCode;

use super::out::{encode, encode_fragment, poll_write};
use crate::adapter::driver::out::Out;

/// How many bytes a send leaves queued, while more frames wait in the
/// read buffer, before it writes them (a batch's bound).
const BATCH: usize = 64 << 10;

/// The stack buffer of a direct send: a data message framed in at most
/// this many bytes, sent with nothing queued and none of the peer's
/// frames read ahead (a lone reply), is framed on the stack and written
/// straight to the stream, not through the queue; what the stream does
/// not take at once is queued as usual. (Small enough to be zeroed in a
/// few stores: at 270 bytes, the `memset` call cost a 20-byte echo 35
/// instructions.)
const DIRECT_FRAME: usize = 128;

/// The longest payload a direct send may frame on the stack.
const DIRECT: usize = DIRECT_FRAME - crate::wire::FrameHeader::MAX_LEN;

/// A queue this large, once written, is given back at once; a smaller
/// one when the connection next waits for input.
const KEEP: usize = 16 << 10;

/// A queue buffer this small is kept while the connection waits: the
/// next reply goes into it without an allocation (an idle connection
/// that has sent small messages holds this much).
const IDLE_KEEP: usize = 256;

/// What a read after a pause reads into before the connection has a read
/// buffer again (on the stack).
const SCRATCH: usize = 2048;

/// A timer: one `Sleep`, made when first needed, moved to the next wake.
#[derive(Debug, Default)]
pub(crate) struct Alarm {
    sleep: Option<Pin<Box<Sleep>>>,
    at: Option<StdInstant>,
    /// Which waker the sleep holds until it fires: the one its last
    /// pending poll registered, as `Waker::will_wake` tells one (its data
    /// and vtable pointers). The waker given, not a clone: a clone may
    /// carry another copy of the same vtable (a waker made by a generic
    /// function, as a runtime's `block_on` makes them), which no later
    /// poll's waker would equal, so the sleep would be polled again at
    /// every wait. The sleep's own clone keeps the waker's data alive
    /// while it holds it, so the pointers name no other waker meanwhile.
    holder: Option<(usize, usize)>,
}

/// What [`Alarm::holder`] keeps of a waker.
#[inline]
fn waker_id(w: &Waker) -> (usize, usize) {
    (w.data() as usize, core::ptr::from_ref(w.vtable()) as usize)
}

impl Alarm {
    /// Whether `at` has come; if not, the task is woken when it does.
    #[inline]
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, at: StdInstant) -> bool {
        // Set for `at`, not come, and holding this task's waker (the
        // common case: a connection waits with the same keepalive instant
        // message after message): nothing to do, inline.
        if self.at == Some(at)
            && let Some(s) = &self.sleep
            && !s.is_elapsed()
            && self.holder == Some(waker_id(cx.waker()))
        {
            return false;
        }
        self.poll_slow(cx, at)
    }

    #[inline(never)]
    fn poll_slow(&mut self, cx: &mut Context<'_>, at: StdInstant) -> bool {
        // Set for `at`, but not holding this task's waker (or come).
        if self.at == Some(at)
            && let Some(s) = &mut self.sleep
            && poll_sleep(s, cx).is_pending()
        {
            self.holder = Some(waker_id(cx.waker()));
            return false;
        }
        if StdInstant::now() >= at {
            return true;
        }
        let deadline = ::tokio::time::Instant::from_std(at);
        let s = match &mut self.sleep {
            Some(s) => {
                s.as_mut().reset(deadline);
                s
            }
            None => self
                .sleep
                .insert(Box::pin(::tokio::time::sleep_until(deadline))),
        };
        self.at = Some(at);
        if poll_sleep(s, cx).is_ready() {
            return true;
        }
        self.holder = Some(waker_id(cx.waker()));
        false
    }
}

/// Polls `sleep` outside tokio's coop budget. A poll the budget turns away
/// returns `Pending` without registering the waker (and only wakes the
/// task to come back); [`Alarm::poll`] skips later polls once the sleep
/// holds the waker, so its polls must always register it.
fn poll_sleep(sleep: &mut Pin<Box<Sleep>>, cx: &mut Context<'_>) -> Poll<()> {
    pin!(::tokio::task::unconstrained(poll_fn(|cx| sleep
        .as_mut()
        .poll(cx))))
    .poll(cx)
}

/// The earlier of two optional instants.
#[inline]
pub(crate) fn earliest(a: Option<StdInstant>, b: Option<StdInstant>) -> Option<StdInstant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Reads once from `stream` into `rx`, or sees a timer come: the async
/// [`Io::fill`]. `timer` gives the connection's next timer; it is called
/// (once) only if the stream is not ready. `Ok(None)`: not ready (the
/// task will be woken).
pub(crate) fn poll_fill<R: AsyncRead + Unpin + ?Sized>(
    stream: &mut R,
    cx: &mut Context<'_>,
    rx: &mut RxBuf<BytesMut>,
    alarm: &mut Alarm,
    mut timer: impl FnMut() -> Option<StdInstant>,
    deadline: Option<StdInstant>,
) -> Result<Option<Filled>, Error> {
    // The connection's next timer, read once the stream is not ready.
    let mut next: Option<Option<StdInstant>> = None;
    loop {
        // A quiet connection holds no read buffer (at most a small one,
        // emptied): what comes after a pause (all read input used up) is
        // read here first (not zeroed: `ReadBuf` hands out only what the
        // read filled), and kept in a buffer just as large.
        rx.release();
        // All input used up: how this read goes tells the next one's
        // buffer (`expects_wait`). Reads of the rest of a frame do not.
        let fresh = rx.is_released();
        let read = if let Some(size) = rx.hinted().filter(|_| !rx.expects_wait()) {
            // Large frames came last time: straight into a buffer as
            // large, whose spare capacity `read_buf` fills without
            // zeroing it first.
            let mut buf = BytesMut::with_capacity(size);
            let r = pin!(stream.read_buf(&mut buf)).poll(cx);
            if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
                rx.adopt(buf);
            }
            r
        } else if fresh {
            // Small messages, or a read that most likely finds nothing
            // yet (if it finds the start of a large frame, the buffer
            // grows to it as the frame comes).
            let mut scratch = [MaybeUninit::<u8>::uninit(); SCRATCH];
            let mut buf = ReadBuf::uninit(&mut scratch);
            let r = Pin::new(&mut *stream).poll_read(cx, &mut buf);
            if matches!(r, Poll::Ready(Ok(()))) && !buf.filled().is_empty() {
                rx.refill(buf.filled());
            }
            r.map_ok(|()| buf.filled().len())
        } else {
            let mut buf = ReadBuf::new(rx.space());
            let r = Pin::new(&mut *stream).poll_read(cx, &mut buf);
            let n = buf.filled().len();
            rx.filled(n);
            r.map_ok(|()| n)
        };
        match &read {
            Poll::Ready(Ok(n)) if fresh => rx.note_read(*n > 0),
            Poll::Pending if fresh => rx.note_read(false),
            _ => {}
        }
        match read {
            Poll::Ready(Ok(0)) => return Ok(Some(Filled::Eof)),
            Poll::Ready(Ok(_)) => return Ok(Some(Filled::Data)),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Poll::Ready(Err(e)) if is_gone(&e) => return Ok(Some(Filled::Eof)),
            Poll::Ready(Err(e)) => return Err(e.into()),
            // Not ready: a released `rx` is as the release above left it
            // (the other reads hold input, which a release keeps).
            Poll::Pending => {}
        }
        let timer = *next.get_or_insert_with(&mut timer);
        let Some(wake) = earliest(timer, deadline) else {
            return Ok(None);
        };
        if !alarm.poll(cx, wake) {
            return Ok(None);
        }
        let now = StdInstant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out").into());
        }
        if timer.is_some_and(|t| now >= t) {
            return Ok(Some(Filled::Timer));
        }
    }
}

/// The connection and its stream, as the read side sees them
/// ([`Io`]), polled: a read that is not ready says so and leaves its
/// waker; frames to send wait in [`Out`] and go out in batches.
pub(crate) struct Link<S> {
    pub(crate) conn: Connection<Keys>,
    pub(crate) stream: S,
    pub(crate) out: Out,
    pub(crate) epoch: StdInstant,
    pub(crate) latch: Latch<Failure>,
    pub(crate) write_timeout: Option<StdDuration>,
    /// When the write waiting now must be done (armed while it waits).
    write_deadline: Option<StdInstant>,
    alarm: Alarm,
    next_timer: NextTimer,
    /// The waker of the task polling now, for [`Io`]'s calls.
    waker: Option<Waker>,
    /// A read was not ready: the `Ok(None)` the read side returned is
    /// not the end.
    pending: bool,
    /// What a read made before the read side ran (see
    /// [`WebSocket::poll_reading`]), for its [`Io::fill`] to return.
    filled: Option<Result<Filled, Error>>,
    /// The read side ended the connection: how to end the transport.
    ending: Option<(Ending, StdDuration)>,
    /// The ending under way, and when it must be over.
    closing: Option<Closing>,
    end_deadline: Option<StdInstant>,
    pub(crate) send_queue: usize,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: crate::adapter::std_net::deflate::Compressing,
}

/// Where the end of the transport stands.
#[derive(Debug, Clone, Copy)]
enum Closing {
    /// Writing what is queued (the close frame last).
    Flush,
    /// Sending our FIN.
    Shutdown,
    /// Reading until the peer's FIN (dropping data).
    Drain,
    /// Over.
    Done,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    fn new(stream: S, role: Role, opts: &Options, keys: Keys) -> Self {
        Self {
            conn: Connection::with_keys(role, opts.config, keys, Instant::ZERO),
            stream,
            out: Out::default(),
            epoch: StdInstant::now(),
            latch: Latch::default(),
            write_timeout: opts.write_timeout,
            write_deadline: None,
            alarm: Alarm::default(),
            next_timer: NextTimer::default(),
            waker: None,
            pending: false,
            filled: None,
            ending: None,
            closing: None,
            end_deadline: None,
            send_queue: opts.send_queue,
            #[cfg(feature = "deflate")]
            deflate: crate::adapter::std_net::deflate::Compressing::new(opts.deflate),
        }
    }

    /// Keeps `cx`'s waker for [`Io`]'s calls (cloned only if it changed).
    fn register(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }

    /// Writes what is queued; `Pending` while the stream cannot take it,
    /// up to the write timeout, whose end (or a failed write) latches and
    /// ends the connection.
    pub(crate) fn poll_flush_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.latch.check().map_err(|f| f.error())?;
        loop {
            match poll_write(&mut self.out, &mut self.stream, cx) {
                Poll::Ready(Ok(())) => {
                    self.write_deadline = None;
                    self.out.trim(KEEP);
                    let r = ready!(Pin::new(&mut self.stream).poll_flush(cx));
                    return Poll::Ready(self.check(r));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(self.check(Err(e))),
                Poll::Pending => {}
            }
            let Some(timeout) = self.write_timeout else {
                return Poll::Pending;
            };
            let deadline = *self
                .write_deadline
                .get_or_insert_with(|| StdInstant::now() + timeout);
            if !self.alarm.poll(cx, deadline) {
                return Poll::Pending;
            }
            if StdInstant::now() >= deadline {
                let e = io::Error::new(io::ErrorKind::TimedOut, "write timed out");
                return Poll::Ready(self.check(Err(e)));
            }
        }
    }

    /// A write failure latches: the connection ends, and the transport is
    /// ended at once. The error is the one every later send gets.
    fn check(&mut self, r: io::Result<()>) -> Result<(), Error> {
        r.map_err(|e| {
            self.latch.set(&mut self.conn, Failure::new(&e));
            self.out = Out::default();
            if self.ending.is_none() {
                self.ending = Some((Ending::Now, StdDuration::ZERO));
            }
            latched(&self.latch)
        })
    }

    /// Runs `f` in the task polling now (for [`Io`]'s calls, which get no
    /// `Context`): its waker is lent, not cloned. `None` outside a poll.
    fn in_task<T>(&mut self, f: impl FnOnce(&mut Self, &mut Context<'_>) -> T) -> Option<T> {
        let waker = self.waker.take()?;
        let r = f(self, &mut Context::from_waker(&waker));
        self.waker = Some(waker);
        Some(r)
    }

    /// Writes what it can of the queue now, without waiting.
    fn write_now(&mut self) {
        if self.out.is_empty() || self.latch.is_set() {
            return;
        }
        self.in_task(|link, cx| {
            let _ = link.poll_flush_out(cx);
        });
    }

    /// Ends the transport as the read side asked ([`Io::end_transport`]),
    /// within the close timeout: what is queued written, our FIN sent, the
    /// peer's awaited.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some((ending, wait)) = self.ending else {
            return Poll::Ready(());
        };
        let deadline = *self
            .end_deadline
            .get_or_insert_with(|| StdInstant::now() + wait);
        loop {
            let step = self.closing.unwrap_or(match ending {
                Ending::Now | Ending::Abort => Closing::Shutdown,
                Ending::HalfCloseThenDrain | Ending::DrainThenClose => Closing::Flush,
            });
            self.closing = Some(step);
            let next = match step {
                Closing::Flush => {
                    let d = self.write_deadline.map_or(deadline, |d| d.min(deadline));
                    self.write_deadline = Some(d);
                    match self.poll_flush_out(cx) {
                        Poll::Ready(Ok(())) if ending == Ending::DrainThenClose => Closing::Drain,
                        Poll::Ready(Ok(())) => Closing::Shutdown,
                        Poll::Ready(Err(_)) => Closing::Done,
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Closing::Shutdown => match Pin::new(&mut self.stream).poll_shutdown(cx) {
                    Poll::Pending if !self.alarm.poll(cx, deadline) => return Poll::Pending,
                    _ if ending == Ending::HalfCloseThenDrain => Closing::Drain,
                    _ => Closing::Done,
                },
                Closing::Drain => {
                    let mut scratch = [0u8; 512];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                        Poll::Ready(Ok(())) if !buf.filled().is_empty() => Closing::Drain,
                        Poll::Pending if !self.alarm.poll(cx, deadline) => return Poll::Pending,
                        _ if ending == Ending::DrainThenClose => Closing::Shutdown,
                        _ => Closing::Done,
                    }
                }
                Closing::Done => {
                    self.write_deadline = None;
                    return Poll::Ready(());
                }
            };
            // DrainThenClose: shut down after the drain, then done.
            self.closing = Some(match (step, next) {
                (Closing::Drain, Closing::Shutdown) => {
                    let _ = Pin::new(&mut self.stream).poll_shutdown(cx);
                    Closing::Done
                }
                _ => next,
            });
        }
    }

    fn take_pending(&mut self) -> bool {
        core::mem::replace(&mut self.pending, false)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Io for Link<S> {
    fn with_conn<T>(&mut self, f: impl FnOnce(&mut Connection<Keys>) -> T) -> T {
        f(&mut self.conn)
    }

    /// Queues the control frames owed and writes them if the stream takes
    /// them now (the next read writes the rest before it waits).
    #[inline]
    fn flush_owed(&mut self) -> Result<(), Error> {
        if self.latch.is_set() || !self.conn.wants_transmit() {
            return Ok(());
        }
        let now = since(self.epoch);
        self.out.owed(&mut self.conn, now)?;
        self.write_now();
        Ok(())
    }

    fn epoch(&self) -> StdInstant {
        self.epoch
    }

    /// Writes the replies gathered while buffered input lasted (a batch),
    /// then reads; not ready: [`Filled::Pending`] (and the flag set), the
    /// waker left with the stream and the timers.
    fn fill(
        &mut self,
        rx: &mut RxBuf<BytesMut>,
        deadline: Option<StdInstant>,
    ) -> Result<Filled, Error> {
        if let Some(filled) = self.filled.take() {
            return filled;
        }
        self.in_task(|link, cx| {
            if !link.out.is_empty() && !link.latch.is_set() {
                // Pending: the rest goes with a later read or send. A
                // failure latched and ended the connection, which the
                // read side sees.
                if let Poll::Ready(Err(_)) = link.poll_flush_out(cx) {
                    return Ok(Filled::Timer);
                }
            }
            // The timers are read only if the stream is not ready.
            let (conn, epoch, write_deadline) = (&link.conn, link.epoch, link.write_deadline);
            let memo = &mut link.next_timer;
            let timer = || earliest(memo.get(conn, epoch), write_deadline);
            match poll_fill(&mut link.stream, cx, rx, &mut link.alarm, timer, deadline)? {
                Some(f) => Ok(f),
                None => {
                    // Waiting: the written queue's buffer is given back
                    // too, unless small.
                    link.out.trim(IDLE_KEEP);
                    link.pending = true;
                    Ok(Filled::Pending)
                }
            }
        })
        .unwrap_or_else(|| Err(io::Error::other("internal error: polled without a task").into()))
    }

    fn end_transport(&mut self, ending: Ending, wait: StdDuration) {
        // `S` cannot be reset from here (see `WebSocket::write_error`).
        if self.ending.is_none() {
            self.ending = Some((ending.without_abort(), wait));
        }
    }
}

/// An async WebSocket over a stream (a `TcpStream`, a TLS stream).
///
/// Read with [`read`](Self::read) or as a [`Stream`](futures_core::Stream)
/// of messages; send with [`send`](Self::send) or as a
/// [`Sink`](futures_sink::Sink). [`split`](Self::split) it to read and
/// send from different tasks.
///
/// # Cancel safety
///
/// Every read ([`read`](Self::read), [`read_event`](Self::read_event),
/// `StreamExt::next`) keeps what it has read in the
/// socket, not in the future: a read dropped before it finished (the
/// other branch of a `select!` won) loses nothing, and the next read goes
/// on from there. A send encodes its frames into the socket's outgoing
/// queue when first polled; dropped after that, its frames still go out,
/// whole, before anything sent later. A stream is never left with part
/// of a frame followed by another.
///
/// # Batching
///
/// A send made while the peer's next frames already wait in the read
/// buffer (the peer sent many at once) is queued, not written: the next
/// read writes the whole batch in one vectored write when the buffer runs
/// dry, before it waits. A lone message is written at once; with nothing
/// queued it skips the queue: a short one is framed on the stack, a
/// server's longer one goes out as its header and payload in one
/// vectored write (only what the stream does not take is queued).
/// [`flush`](Self::flush) writes the queue now.
pub struct WebSocket<S> {
    pub(crate) link: Link<S>,
    pub(crate) r: Reading,
    pub(crate) protocol: Option<String>,
    /// An error the read side returned while the transport was being
    /// ended, handed out once it is.
    held: Option<Error>,
    /// The read timeout of the stream item being read.
    stream_deadline: Option<Option<StdInstant>>,
}

impl<S> core::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.link.conn.role())
            .field("state", &self.link.conn.state())
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream whose handshake is done. `early` are bytes read past
    /// the handshake head (frames the peer sent at once).
    pub fn from_raw(stream: S, role: Role, opts: &Options, early: &[u8], keys: Keys) -> Self {
        Self {
            link: Link::new(stream, role, opts, keys),
            // The read buffer is made when input comes: a connection that
            // stays quiet holds none.
            r: Reading::lazy(opts, early),
            protocol: None,
            held: None,
            stream_deadline: None,
        }
    }

    /// The handshake agreed permessage-deflate on `params`.
    #[cfg(feature = "deflate")]
    pub(crate) fn agree_deflate(&mut self, params: crate::handshake::deflate::DeflateParams) {
        self.link.conn.set_deflate(params);
        self.r.inflating.agreed();
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The state machine underneath (state, close codes, role).
    pub fn connection(&self) -> &Connection<Keys> {
        &self.link.conn
    }

    /// Whether the connection is open: no write failed, no close began.
    pub fn is_connected(&self) -> bool {
        !self.r.finished && !self.link.latch.is_set() && self.link.conn.state() == State::Open
    }

    /// How the connection ended, once it has (see the blocking
    /// [`WebSocket::end`](crate::adapter::std_net::WebSocket::end)).
    pub fn end(&self) -> Option<End> {
        self.link.conn.end()
    }

    /// The write failure that ended the connection, if one did (kind
    /// `TimedOut` after [`Options::write_timeout`]).
    ///
    /// The stream was then cut mid-frame. Over TCP, what the peer never
    /// took stays in the kernel's send buffer after the socket is dropped
    /// (`FIN-WAIT-1`, for as long as the peer keeps its window shut). The
    /// blocking adapter resets such a socket itself; this one cannot reach
    /// the socket under `S`, so reset it before dropping it, e.g.
    /// `ws.get_ref().set_zero_linger()` for a `TcpStream` (tokio 1.50), or
    /// `socket2::SockRef::from(ws.get_ref()).set_linger(Some(Duration::ZERO))`.
    /// The same holds for a peer that keepalive dropped ([`End::PongTimeout`]:
    /// it answered no ping, so it is likely not reading either). A
    /// [split](Self::split) socket's stream is out of reach; the kernel's
    /// limits on orphaned sockets (`tcp_orphan_retries`, `tcp_max_orphans`
    /// on Linux) bound how long it is held.
    pub fn write_error(&self) -> Option<io::Error> {
        write_error(&self.link.latch)
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.link.stream
    }

    /// Changes [`Options::read_timeout`] on the open socket.
    pub fn set_read_timeout(&mut self, timeout: Option<StdDuration>) {
        self.r.read_timeout = timeout;
    }

    /// Runs the read side once: `f` over [`Reading`] and the link (with
    /// `deadline`, the read's), with the transport ended when the read
    /// side says so.
    fn poll_reading<T>(
        &mut self,
        cx: &mut Context<'_>,
        deadline: Option<StdInstant>,
        mut f: impl FnMut(&mut Reading, &mut Link<S>) -> Result<Option<T>, Error>,
    ) -> Poll<Result<Option<T>, Error>> {
        // The poll after a reply, with nothing buffered (one per echo):
        // the read the read side would make, made here first, and a read
        // that is not ready returns at once. Anything else it read goes
        // to the read side, through `fill`. (The timers are read as
        // `Link::fill` reads them; one helper for both cost a 20-byte echo
        // 54 to 121 more instructions, however it was inlined.)
        if self.link.ending.is_none()
            && self.link.out.is_empty()
            && self.r.only_reads()
            && !self.link.conn.is_closed()
        {
            let link = &mut self.link;
            let (conn, epoch) = (&link.conn, link.epoch);
            let (memo, write_deadline) = (&mut link.next_timer, link.write_deadline);
            let timer = || earliest(memo.get(conn, epoch), write_deadline);
            match poll_fill(
                &mut link.stream,
                cx,
                &mut self.r.rx,
                &mut link.alarm,
                timer,
                deadline,
            ) {
                Ok(None) => {
                    link.out.trim(IDLE_KEEP);
                    return Poll::Pending;
                }
                Ok(Some(Filled::Data)) => {}
                other => link.filled = Some(other.map(|f| f.unwrap_or(Filled::Pending))),
            }
        }
        self.link.register(cx);
        if self.link.ending.is_some() {
            ready!(self.link.poll_end(cx));
            if let Some(e) = self.held.take() {
                return Poll::Ready(Err(e));
            }
        }
        let r = f(&mut self.r, &mut self.link);
        if self.link.take_pending() {
            return Poll::Pending;
        }
        if self.link.ending.is_some() && !matches!(r, Ok(Some(_))) {
            if let Err(e) = r {
                self.held = Some(e);
            }
            ready!(self.link.poll_end(cx));
            if let Some(e) = self.held.take() {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(None));
        }
        Poll::Ready(r)
    }

    /// Reads the next whole message: text, binary, or a control message
    /// (ping, pong, the peer's close). `Ok(None)` once the connection is
    /// over ([`WebSocket::end`] says how); the transport is then closed.
    /// Pongs, close echoes and keepalive pings are sent as needed. As the
    /// blocking adapter's, a message that came in one frame is handed out
    /// without a copy. Cancel safe.
    pub async fn read(&mut self) -> Result<Option<Message>, Error> {
        let deadline = self.r.deadline();
        poll_fn(|cx| self.poll_reading(cx, deadline, |r, link| r.read_until(link, deadline))).await
    }

    /// Reads until one event and hands it to `f` (streaming: data arrives
    /// in chunks as read, with offset and frame length, so a large message
    /// needs no buffer of its size). `Ok(None)` once the connection is
    /// over. Cancel safe.
    pub async fn read_event<R>(
        &mut self,
        mut f: impl FnMut(Event<'_>) -> R,
    ) -> Result<Option<R>, Error> {
        let deadline = self.r.deadline();
        poll_fn(|cx| {
            self.poll_reading(cx, deadline, |r, link| {
                r.read_event_until(link, deadline, &mut f)
            })
        })
        .await
    }

    /// Queues `msg`'s frames (waiting first while the queue holds
    /// [`Options::send_queue`] bytes).
    fn poll_queue(&mut self, cx: &mut Context<'_>, msg: &Message) -> Poll<Result<(), Error>> {
        ready!(self.poll_room(cx))?;
        let link = &mut self.link;
        let epoch = link.epoch;
        Poll::Ready(encode(
            &mut link.conn,
            &mut link.out,
            #[cfg(feature = "deflate")]
            &mut link.deflate,
            || since(epoch),
            msg,
        ))
    }

    /// Ready once the queue has room.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.link.latch.check().map_err(|f| f.error())?;
        if self.link.out.len() >= self.link.send_queue {
            ready!(self.link.poll_flush_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes the queue unless the peer's next frames are already read
    /// (then the next read writes it with the replies to them).
    fn poll_flush_unless_batching(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.r.rx.has_input() && self.link.out.len() < BATCH {
            return Poll::Ready(Ok(()));
        }
        self.link.poll_flush_out(cx)
    }

    /// Sends any [`Message`]: text and binary as whole messages (in
    /// frames of `max_send_frame_len`, compressed if permessage-deflate
    /// was agreed), a ping, a pong, or a close, which starts the close
    /// handshake that the next reads see through. Written at once, or
    /// with the batch the next read writes (see [Batching](Self#batching)).
    pub async fn send(&mut self, msg: &Message) -> Result<(), Error> {
        // One poll function, not two futures awaited in turn: a lone
        // reply is queued and written in one poll, with no state machine
        // between (cancel safety is the same: once queued, never again).
        let mut queued = false;
        poll_fn(|cx| {
            if !queued {
                if let Some(sent) = self.poll_send_direct(cx, msg) {
                    queued = true;
                    return sent;
                }
                ready!(self.poll_queue(cx, msg))?;
                queued = true;
            }
            self.poll_flush_unless_batching(cx)
        })
        .await
    }

    /// A lone data message, sent with nothing queued and nothing read
    /// ahead, written to the stream at once instead of through the queue:
    /// a short one ([`DIRECT`]) framed by the connection on the stack, as
    /// [`Out::message`] frames it into the queue; a server's longer one in
    /// one frame as its header and its payload (not masked), in one
    /// vectored write, as the queue would write them. What the stream does
    /// not take is queued (a large shared payload by reference) and
    /// written as [`flush`](Self::flush) writes. `None`: not such a
    /// message (the caller queues it; a client's longer one is masked in
    /// the queue). Once it returned, the frame is sent or queued, whole.
    fn poll_send_direct(
        &mut self,
        cx: &mut Context<'_>,
        msg: &Message,
    ) -> Option<Poll<Result<(), Error>>> {
        let (kind, data, shared) = match msg {
            Message::Text(t) => (DataKind::Text, t.as_bytes(), t.payload().as_shared()),
            Message::Binary(b) => (DataKind::Binary, &b[..], b.as_shared()),
            _ => return None,
        };
        let link = &mut self.link;
        #[cfg(feature = "deflate")]
        if link.conn.deflate().is_some() {
            return None;
        }
        if !link.out.is_empty() || link.latch.is_set() || self.r.rx.has_input() {
            return None;
        }
        let mut stack = [0u8; DIRECT_FRAME];
        let mut long;
        let (head, body): (&[u8], &[u8]) =
            if data.len() <= DIRECT && link.conn.message_len(data.len()) <= DIRECT_FRAME {
                match link.conn.send_whole(kind, data, &mut stack) {
                    Ok(n) => (&stack[..n], &[]),
                    Err(e) => return Some(Poll::Ready(Err(e.into()))),
                }
            } else {
                let max = link.conn.config().max_send_frame_len;
                if link.conn.role() == Role::Client || data.len() > max {
                    return None;
                }
                long = match FrameOut::begin(&mut link.conn, MessagePart::Whole(kind), data.len()) {
                    Ok(f) => f,
                    Err(e) => return Some(Poll::Ready(Err(e.into()))),
                };
                match long.next_chunk(&mut link.conn, data, &mut []) {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => return Some(link.poll_flush_out(cx)),
                    Err(e) => return Some(Poll::Ready(Err(e.into()))),
                }
            };
        let stream = Pin::new(&mut link.stream);
        let write = if body.is_empty() {
            stream.poll_write(cx, head)
        } else {
            stream.poll_write_vectored(cx, &[IoSlice::new(head), IoSlice::new(body)])
        };
        let written = match write {
            Poll::Ready(Ok(0)) => {
                let e = io::ErrorKind::WriteZero.into();
                return Some(Poll::Ready(link.check(Err(e))));
            }
            Poll::Ready(Ok(k)) => k,
            Poll::Ready(Err(e)) => return Some(Poll::Ready(link.check(Err(e)))),
            Poll::Pending => 0,
        };
        if written < head.len() + body.len() {
            link.out.push_rest(head, body, shared, written);
        }
        // Written whole (a queue that stayed empty: the flush alone), or
        // the rest queued: the queue's write, its timeout included.
        Some(link.poll_flush_out(cx))
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send(&Message::text(text)).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send(&Message::Binary(crate::message::Payload::copy_from_slice(
            data,
        )))
        .await
    }

    /// Sends one fragment of a message produced piece by piece: the first
    /// opens a message of type `kind`, `fin` ends it.
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        let link = &mut self.link;
        encode_fragment(
            &mut link.conn,
            &mut link.out,
            #[cfg(feature = "deflate")]
            &mut link.deflate,
            MessagePart::Fragment { kind, fin },
            data,
        )?;
        poll_fn(|cx| self.poll_flush_unless_batching(cx)).await
    }

    /// Sends a ping.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send(&Message::Ping(crate::message::Payload::copy_from_slice(
            payload,
        )))
        .await
    }

    /// Writes every queued frame now.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.link.poll_flush_out(cx)).await
    }

    /// Closes: sends a close frame with `code` and `reason`, waits for the
    /// peer's close (data arriving meanwhile is dropped) within the close
    /// timeout, then ends the transport. Returns how the connection ended.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<Option<End>, Error> {
        if self.link.conn.state() == State::Open {
            self.link.latch.check().map_err(|f| f.error())?;
            self.link.conn.close(code, reason)?;
            let now = since(self.link.epoch);
            self.link.out.owed(&mut self.link.conn, now)?;
            self.flush().await?;
        }
        // The close timeout bounds the wait, not the read timeout.
        let read_timeout = self.r.read_timeout.take();
        let r = loop {
            match self.read_event(|_| ()).await {
                Ok(Some(())) => {}
                Ok(None) => break Ok(self.end()),
                Err(e) => break Err(e),
            }
        };
        self.r.read_timeout = read_timeout;
        r
    }

    /// Ends the transport at once, without a close frame.
    pub async fn stop(&mut self) {
        self.link.conn.handle_eof();
        self.r.finished = true;
        let _ = ::tokio::io::AsyncWriteExt::shutdown(&mut self.link.stream).await;
    }

    /// The next message for the [`Stream`](futures_core::Stream): the
    /// read timeout counts from the first poll of each item.
    fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let deadline = *self
            .stream_deadline
            .get_or_insert_with(|| self.r.deadline());
        let r = ready!(self.poll_reading(cx, deadline, |r, link| r.read_until(link, deadline)));
        self.stream_deadline = None;
        Poll::Ready(r.transpose())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    /// [`WebSocket::read`]; `None` once the connection is over.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_message(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for WebSocket<S> {
    type Error = Error;

    /// Ready while the outgoing queue holds less than
    /// [`Options::send_queue`] bytes.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_room(cx)
    }

    /// Queues the message's frames.
    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), Error> {
        let link = &mut self.get_mut().link;
        let epoch = link.epoch;
        encode(
            &mut link.conn,
            &mut link.out,
            #[cfg(feature = "deflate")]
            &mut link.deflate,
            || since(epoch),
            &msg,
        )
    }

    /// Writes the queue.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().link.poll_flush_out(cx)
    }

    /// Sends a close (1000) if none was, and writes the queue; the peer's
    /// close is then read from the stream.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.link.conn.state() == State::Open && !this.link.latch.is_set() {
            let now = since(this.link.epoch);
            let close = Message::Close(Some((CloseCode::NORMAL, String::new())));
            this.link.out.control(&mut this.link.conn, now, &close)?;
        }
        this.link.poll_flush_out(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Config, NoMasking};
    use std::vec::Vec;

    /// Hands out `frames` one per read, each after a read that is not
    /// ready if `pause` (request-response), back to back otherwise
    /// (streaming); records the room each read was given.
    struct Frames {
        frames: Vec<Vec<u8>>,
        pos: usize,
        pause: bool,
        paused: bool,
        rooms: Vec<usize>,
    }

    impl AsyncRead for Frames {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.rooms.push(buf.remaining());
            if self.pos == 0 && self.pause && !self.paused {
                self.paused = true;
                return Poll::Pending;
            }
            self.paused = false;
            let this = &mut *self;
            if let Some(f) = this.frames.first() {
                let n = buf.remaining().min(f.len() - this.pos);
                buf.put_slice(&f[this.pos..this.pos + n]);
                this.pos += n;
                if this.pos == f.len() {
                    this.frames.remove(0);
                    this.pos = 0;
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    /// A client's masked binary frame of `payload`.
    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::from([0x82u8, 0xfe]);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(payload);
        f
    }

    /// Reads `n` messages from `stream` through `poll_fill` as the read
    /// side does; the room of every read made.
    fn rooms(mut stream: Frames, n: usize, len: usize) -> Vec<usize> {
        let mut rx = RxBuf::lazy(&[], 64 << 10);
        let mut conn =
            Connection::with_keys(Role::Server, Config::HOST, NoMasking(()), Instant::ZERO);
        let mut alarm = Alarm::default();
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..n {
            loop {
                if let Some(found) = rx.poll(&mut conn).unwrap() {
                    if let Event::Data(d) = rx.event(found) {
                        let (end, frame_len) = (d.is_frame_end(), d.frame_len);
                        if end {
                            if !rx.is_pinned() {
                                rx.pin_last();
                            }
                            assert_eq!(rx.take_payload().len(), len);
                            break;
                        }
                        if !rx.is_pinned() {
                            rx.pin_last();
                            rx.reserve_pinned(frame_len);
                        }
                    }
                    continue;
                }
                match poll_fill(&mut stream, &mut cx, &mut rx, &mut alarm, || None, None) {
                    Ok(None | Some(Filled::Data)) => {}
                    other => panic!("{:?}", other.map(|f| f.map(|_| ()))),
                }
            }
        }
        stream.rooms
    }

    /// After large frames, a read that follows a message in
    /// request-response traffic (which finds nothing yet) is given the
    /// small scratch, not a buffer as large as the frames: none is made
    /// and freed for nothing. The read after the wait gets one large
    /// enough for the whole frame (one read). A peer that streams gets
    /// the large buffer for every read after its first frames.
    #[test]
    fn a_read_that_most_likely_finds_nothing_makes_no_large_buffer() {
        let big = [7u8; 16 << 10];
        let frames = || (0..6).map(|_| frame(&big)).collect::<Vec<_>>();
        let rr = rooms(
            Frames {
                frames: frames(),
                pos: 0,
                pause: true,
                paused: false,
                rooms: Vec::new(),
            },
            6,
            big.len(),
        );
        // Per message after the first: the read that is not ready, then
        // the one after it, whole.
        let first = rr.len() - 10;
        assert!(first <= 3, "{rr:?}");
        for (i, pair) in rr[first..].chunks(2).enumerate() {
            assert_eq!(pair[0], SCRATCH, "message {}: {rr:?}", i + 2);
            assert!(pair[1] > big.len(), "message {}: {rr:?}", i + 2);
        }
        let streamed = rooms(
            Frames {
                frames: frames(),
                pos: 0,
                pause: false,
                paused: false,
                rooms: Vec::new(),
            },
            6,
            big.len(),
        );
        assert!(
            streamed.iter().skip(4).all(|&r| r > big.len()),
            "{streamed:?}"
        );
        assert!(streamed.len() <= 9, "{streamed:?}");
    }
}

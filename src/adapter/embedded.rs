//! The embedded adapters' one body, for the blocking and the async
//! embedded-io traits alike.

/// The adapter itself, written once for the blocking and the async
/// transport traits: `embedded_adapter!([] [])` for `embedded_io`,
/// `embedded_adapter!([async] [.await])` for `embedded_io_async`. Only the
/// `async` and `.await` differ; every rule is in the shared driver or
/// here, once.
macro_rules! embedded_adapter {
    ([$($async:tt)?] [$($aw:tt)*]) => {
type Res<T, IO> = Result<T, Error<<IO as ErrorType>::Error>>;

/// Whether a transport error is its read timeout passing: no data yet,
/// not a failure.
fn timed_out<E: embedded_io::Error>(e: &E) -> bool {
    embedded_io::Error::kind(e) == ErrorKind::TimedOut
}

/// Whether a transport error says the peer is gone: the connection ends
/// as if the stream had (`End::Abnormal`), as in the std adapter.
fn gone<E: embedded_io::Error>(e: &E) -> bool {
    matches!(
        embedded_io::Error::kind(e),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// The most payload bytes a batch's replies may hold unflushed: a send
/// past it flushes them all, so a caller that goes on sending without
/// reading leaves at most this much in a transport that sends only when
/// flushed (embedded-tls's record buffer).
const HOLD_MAX: usize = 4 << 10;

/// Whether `clock` reached `deadline`.
fn passed(clock: fn() -> Instant, deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| clock() >= d)
}

/// Reads more of a handshake head into `rx[*len..]` (nothing if the
/// transport's read timed out): an error if the head would not fit in
/// `rx` or the peer ended the stream.
$($async)? fn read_head<T: Read>(io: &mut T, rx: &mut [u8], len: &mut usize) -> Res<(), T> {
    if *len == rx.len() {
        return Err(HandshakeError::TooLarge { limit: rx.len() }.into());
    }
    match io.read(&mut rx[*len..])$($aw)* {
        Ok(0) => Err(Error::Eof),
        Ok(n) => {
            *len += n;
            Ok(())
        }
        Err(e) if timed_out(&e) => Ok(()),
        Err(e) => Err(Error::Io(e)),
    }
}

$($async)? fn write_all<T: Write>(io: &mut T, mut buf: &[u8]) -> Res<(), T> {
    while !buf.is_empty() {
        match io.write(buf)$($aw)*.map_err(Error::Io)? {
            0 => return Err(Error::WriteZero),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// What [`accept`] found.
#[cfg(feature = "server")]
// No alloc here to box the WebSocket; the value is moved once.
#[allow(clippy::large_enum_variant)]
pub enum Accepted<'b, T: Read + Write> {
    /// A WebSocket.
    WebSocket(WebSocket<'b, T, NoMasking>),
    /// A plain HTTP request, answered with the `page` callback's response;
    /// the transport is handed back to be closed.
    Http(T),
    /// An upgrade refused with this status.
    Rejected(T, u16),
}

/// Runs a server handshake: reads the request into `rx`; an upgrade goes to
/// `decide`, a plain request (a page at `/`) to `page`. A broken request is
/// answered with its status (400, 426, 431) and returned as
/// [`Error::Handshake`]; an answer of ours that cannot be written (too
/// large for `tx`, an invalid status) with 500, as [`Error::HandshakeWrite`].
/// A client that has not sent its whole request within
/// [`ServerOptions::handshake_timeout`] on the clock is refused with
/// [`Error::HandshakeTimeout`] (checked as each read returns: see the
/// [module docs](self#time-and-timeouts) for what the transport's read must
/// do). On any error the transport is dropped.
#[cfg(feature = "server")]
pub $($async)? fn accept<'b, T: Read + Write>(
    io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    opts: ServerOptions,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
    page: impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>,
) -> Res<Accepted<'b, T>, T> {
    accept_with(io, rx, tx, Default::default(), opts, decide, page)$($aw)*
}

/// [`accept`] with permessage-deflate (RFC 7692, feature `deflate`) on
/// its receive side: a client's offer whose window can be kept to the
/// `inflater`'s ring is agreed (a browser's always can), and its
/// compressed messages are inflated through the ring, chunk by chunk,
/// as [`WebSocket::read_event`] hands them out; this end sends
/// uncompressed, which the extension always allows. The inflater is made
/// new for the connection, and can be lent again to the next. An offer
/// the ring cannot hold is declined (the connection goes on without
/// compression). Memory: the [`Inflater`](crate::conn::deflate::Inflater)'s
/// state and its ring (512 B for a 9-bit window), lent, not in the
/// `WebSocket`; `tx` holds the 101 with its extension header: 512 bytes
/// are enough for any answer. zlib-based peers (Python, most servers)
/// compress with 9 bits at least: a 256-byte ring gets them declined.
/// The [`Config`](crate::conn::Config) limits apply to the inflated
/// bytes: a large message the peer sends in one frame needs
/// `max_frame_len` raised as well as `max_message_len`. (The example is
/// the blocking adapter's; the async one is the same with `.await`.)
///
/// ```
/// # use sansws::adapter::embedded_io::testing::Pipe;
/// use sansws::adapter::embedded_io::{self as ws, Decision, ServerOptions};
/// use sansws::conn::deflate::Inflater;
/// # let (_client_io, server_io) = Pipe::pair();
/// # fn clock() -> sansws::conn::Instant { ws::std_clock() }
/// # let run = move || -> Result<(), ws::Error<embedded_io::ErrorKind>> {
/// let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
/// // A client's messages compressed with windows of up to 2^12 bytes.
/// let mut inflater = Inflater::new([0u8; 1 << 12]);
/// let accepted = ws::accept_deflate(server_io, &mut rx, &mut tx, &mut inflater,
///     ServerOptions::new(clock), |_| Decision::Accept(None),
///     |_| sansws::handshake::HttpResponse::new(404))?;
/// # Ok(()) };
/// ```
#[cfg(all(feature = "server", feature = "deflate"))]
pub $($async)? fn accept_deflate<'b, T: Read + Write, B: AsMut<[u8]> + 'b>(
    io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    inflater: &'b mut crate::conn::deflate::Inflater<B>,
    opts: ServerOptions,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
    page: impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>,
) -> Res<Accepted<'b, T>, T> {
    accept_with(io, rx, tx, Some(inflater), opts, decide, page)$($aw)*
}

/// [`accept`], with the inflater lent for permessage-deflate, if any.
#[cfg(feature = "server")]
$($async)? fn accept_with<'b, T: Read + Write>(
    mut io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    lent: steps::Lent<'b>,
    opts: ServerOptions,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
    page: impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>,
) -> Res<Accepted<'b, T>, T> {
    // A ring too small is answered with 500 once an upgrade is asked for.
    let policy = steps::policy(&lent);
    let limits = steps::limits_for(rx.len());
    let deadline = opts.handshake_timeout.map(|t| (opts.clock)() + t);
    let (mut decide, mut page) = (Some(decide), Some(page));
    let mut len = 0;
    loop {
        read_head(&mut io, rx, &mut len)$($aw)*?;
        let terms = (opts.sha1, policy);
        match steps::server_step(rx, len, tx, &limits, &mut decide, &mut page, terms) {
            Ok(ServerStep::More) => {
                if passed(opts.clock, deadline) {
                    diag!(info, "handshake refused: not done within the handshake timeout");
                    return Err(Error::HandshakeTimeout);
                }
            }
            Ok(ServerStep::Respond { n, then }) => {
                write_all(&mut io, &tx[..n])$($aw)*?;
                io.flush()$($aw)*.map_err(Error::Io)?;
                return Ok(match then {
                    Then::Upgrade(early, agreed) => {
                        let conn = Connection::server(opts.config, (opts.clock)());
                        Accepted::WebSocket(WebSocket::open(
                            io,
                            conn,
                            RxBuf::new(rx, early),
                            tx,
                            opts.clock,
                            opts.read_timeout,
                            lent,
                            agreed,
                        ))
                    }
                    Then::Http => Accepted::Http(io),
                    Then::Rejected(status) => Accepted::Rejected(io, status),
                });
            }
            Err(e) => {
                if let Some(n) = steps::rejection(&e, tx) {
                    let _ = write_all(&mut io, &tx[..n])$($aw)*;
                    let _ = io.flush()$($aw)*;
                }
                return Err(e.into());
            }
        }
    }
}

/// Runs a client handshake for [`ClientOptions::request`]; frames are
/// masked with keys from [`ClientOptions::keys`]. A server that has not
/// answered within [`ClientOptions::handshake_timeout`] on the clock gives
/// [`Error::HandshakeTimeout`] (checked as each read returns, as in
/// [`accept`]).
///
/// The request may not offer permessage-deflate
/// ([`ClientRequest::deflate`](crate::handshake::ClientRequest)) here:
/// that takes an inflater, which [`connect_deflate`] is lent.
#[cfg(feature = "client")]
pub $($async)? fn connect<'b, T: Read + Write, K: MaskKeys>(
    io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    opts: ClientOptions<'_, K>,
) -> Res<WebSocket<'b, T, K>, T> {
    connect_with(io, rx, tx, Default::default(), opts)$($aw)*
}

/// [`connect`] with permessage-deflate (RFC 7692, feature `deflate`) on
/// its receive side: the request offers `permessage-deflate;
/// server_max_window_bits=N; client_max_window_bits`, `N` the window of
/// the `inflater`'s ring (a 512-byte ring asks for 9 bits, and any
/// server that agrees compresses within it), unless it has offers of its
/// own ([`ClientRequest::deflate`](crate::handshake::ClientRequest),
/// each keeping the server's window within the ring). If the server
/// agrees, its compressed messages are inflated through the ring chunk
/// by chunk as [`WebSocket::read_event`] hands them out; this end sends
/// uncompressed, which the extension always allows. If it declines, the
/// connection goes on without. The inflater is made new for the
/// connection and can be lent again after it (a reconnect). `tx` holds
/// the request with its offers (512 bytes are enough for two). As in
/// [`accept_deflate`], a ring of 512 bytes (9 bits) is the smallest zlib
/// servers agree to, and the limits apply to the inflated bytes (a large
/// message in one frame needs `max_frame_len` raised too). (The example
/// is the blocking adapter's; the async one is the same with `.await`.)
///
/// ```
/// # use sansws::adapter::embedded_io::testing::Pipe;
/// use sansws::adapter::embedded_io::{self as ws, ClientOptions};
/// use sansws::conn::deflate::Inflater;
/// use sansws::handshake::ClientRequest;
/// # let (client_io, _server_io) = Pipe::pair();
/// # fn clock() -> sansws::conn::Instant { ws::std_clock() }
/// # let run = move || -> Result<(), ws::Error<embedded_io::ErrorKind>> {
/// let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
/// // Asks the server for windows of 2^9 bytes: 512 bytes of ring.
/// let mut inflater = Inflater::new([0u8; 512]);
/// let req = ClientRequest::new("device", "/ws");
/// let opts = ClientOptions::new(req, [7; 16], || [1, 2, 3, 4], clock);
/// let ws = ws::connect_deflate(client_io, &mut rx, &mut tx, &mut inflater, opts)?;
/// let agreed = ws.connection().deflate(); // None if the server declined
/// # Ok(()) };
/// ```
#[cfg(all(feature = "client", feature = "deflate"))]
pub $($async)? fn connect_deflate<'b, T: Read + Write, K: MaskKeys, B: AsMut<[u8]> + 'b>(
    io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    inflater: &'b mut crate::conn::deflate::Inflater<B>,
    opts: ClientOptions<'_, K>,
) -> Res<WebSocket<'b, T, K>, T> {
    connect_with(io, rx, tx, Some(inflater), opts)$($aw)*
}

/// [`connect`], with the inflater lent for permessage-deflate, if any.
#[cfg(feature = "client")]
$($async)? fn connect_with<'b, T: Read + Write, K: MaskKeys>(
    mut io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    lent: steps::Lent<'b>,
    opts: ClientOptions<'_, K>,
) -> Res<WebSocket<'b, T, K>, T> {
    #[cfg(feature = "deflate")]
    let own = steps::own_offer(&lent, &opts.request)?;
    #[cfg(feature = "deflate")]
    let request = match &own {
        Some(offer) => crate::handshake::ClientRequest {
            deflate: core::slice::from_ref(offer),
            ..opts.request
        },
        None => opts.request,
    };
    #[cfg(not(feature = "deflate"))]
    let request = opts.request;
    let deadline = opts.handshake_timeout.map(|t| (opts.clock)() + t);
    let hs = ClientHandshake::with_sha1(opts.nonce, &mut { opts.sha1 });
    let n = hs.write_request(&request, tx)?;
    write_all(&mut io, &tx[..n])$($aw)*?;
    io.flush()$($aw)*.map_err(Error::Io)?;
    let limits = steps::limits_for(rx.len());
    let mut len = 0;
    loop {
        read_head(&mut io, rx, &mut len)$($aw)*?;
        if let Some((early, agreed)) = steps::client_step(&hs, &request, rx, len, &limits)? {
            let conn = Connection::client(opts.config, opts.keys, (opts.clock)());
            return Ok(WebSocket::open(
                io,
                conn,
                RxBuf::new(rx, early),
                tx,
                opts.clock,
                opts.read_timeout,
                lent,
                agreed,
            ));
        }
        if passed(opts.clock, deadline) {
            diag!(info, "server gave no answer within the handshake timeout");
            return Err(Error::HandshakeTimeout);
        }
    }
}

/// A WebSocket over an embedded-io transport, with borrowed buffers. See
/// the [module docs](self) for the clock, the timeouts and (async)
/// cancellation.
pub struct WebSocket<'b, T: Read + Write, K: MaskKeys> {
    io: T,
    s: Session<&'b mut [u8], K>,
    tx: &'b mut [u8],
    latch: Latch<ErrorKind>,
    clock: fn() -> Instant,
    read_timeout: Option<Duration>,
    /// A frame is being written: set from its first byte handed to the
    /// transport to its last. Still set at the start of a call, the call
    /// that wrote it was cancelled (its future dropped) mid-frame.
    writing: bool,
    /// Frames were written and not flushed yet: set as each is written,
    /// cleared by a flush that succeeds (so a flush cancelled or failed is
    /// made again). Sends made while the peer's next frames were already
    /// read (a batch) and fragments that are not the last leave it set;
    /// the next read from the transport, [`Self::flush`], [`Self::tick`]
    /// and any control frame flush them.
    unflushed: bool,
    /// Payload bytes written since the last flush (at most [`HOLD_MAX`]
    /// held for a batch).
    held: usize,
    /// permessage-deflate's receive side, if it was agreed.
    #[cfg(feature = "deflate")]
    inflating: Option<crate::adapter::driver::inflate::Inflating<'b>>,
}

impl<'b, T: Read + Write, K: MaskKeys> WebSocket<'b, T, K> {
    // The buffers, the clock and the two handshake outcomes, as they came.
    #[allow(clippy::too_many_arguments)]
    fn open(
        io: T,
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))] mut conn: Connection<K>,
        rx: RxBuf<&'b mut [u8]>,
        tx: &'b mut [u8],
        clock: fn() -> Instant,
        read_timeout: Option<Duration>,
        lent: steps::Lent<'b>,
        agreed: steps::Agreed,
    ) -> Self {
        #[cfg(feature = "deflate")]
        let inflating = steps::start_inflating(lent, agreed, &mut conn);
        #[cfg(not(feature = "deflate"))]
        let _ = (lent, agreed);
        let now = clock();
        Self {
            io,
            s: Session::new(conn, rx, now),
            tx,
            latch: Latch::default(),
            clock,
            read_timeout,
            writing: false,
            unflushed: false,
            held: 0,
            #[cfg(feature = "deflate")]
            inflating,
        }
    }

    /// The state machine (state, close codes, timers).
    pub fn connection(&self) -> &Connection<K> {
        &self.s.conn
    }

    /// Whether the connection is open: no write failed or was cut short,
    /// and no close began.
    pub fn is_connected(&self) -> bool {
        !self.latch.is_set() && !self.writing && self.s.conn.state() == State::Open
    }

    /// How the connection ended, once it has.
    pub fn end(&self) -> Option<End> {
        self.s.conn.end()
    }

    /// When the next timer is due (keepalive ping, pong or close
    /// deadline), on the clock given at accept/connect; `None` if none is
    /// set. Async: wake [`Self::read_event`] by then (e.g. embassy's
    /// `select(ws.read_event(..), Timer::at(..))`) and call [`Self::tick`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.s.conn.poll_timeout()
    }

    /// Changes the read timeout ([`ServerOptions::read_timeout`]): a
    /// [`Self::read_event`] that found no event this long on the clock
    /// returns [`Error::ReadTimeout`] (the connection stays usable);
    /// `None`: it reads on until an event or the end.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// The transport.
    pub fn io(&mut self) -> &mut T {
        &mut self.io
    }

    /// Gives the transport back (to close it).
    pub fn into_io(self) -> T {
        self.io
    }

    /// Reads the clock; what is stamped from now on is stamped with it.
    fn now(&mut self) -> Instant {
        self.s.now = (self.clock)();
        self.s.now
    }

    /// A call that was writing a frame was cancelled: the frame may be
    /// cut, so the connection ends as if that write had failed.
    fn check_cut(&mut self) {
        if self.writing {
            diag!(warn, "connection ended: a write was cancelled mid-frame");
            self.writing = false;
            self.latch.set(&mut self.s.conn, ErrorKind::Interrupted);
        }
    }

    /// Before a send: the connection has not failed.
    fn check_failed(&mut self) -> Res<(), T> {
        self.check_cut();
        self.latch.check().map_err(Error::Failed)
    }

    /// Runs the timers that are due on the clock (keepalive ping, pong and
    /// close deadlines), sends what they owe and flushes frames held back
    /// (the module docs' Batching). [`Self::read_event`] does this as it
    /// reads; call `tick` when not reading, at [`Self::poll_timeout`] or
    /// every so often.
    pub $($async)? fn tick(&mut self) -> Res<(), T> {
        self.check_cut();
        let now = self.now();
        self.s.conn.handle_timeout(now);
        self.flush_owed()$($aw)*?;
        self.flush_held()$($aw)*
    }

    /// Flushes the transport if sends were held back: the replies of a
    /// batch ([`Self::send_text`]) go out by themselves once the frames
    /// read are used up and [`Self::read_event`] reads again; call this
    /// to send them now instead (before a long pause in reading).
    pub $($async)? fn flush(&mut self) -> Res<(), T> {
        self.check_failed()?;
        self.flush_owed()$($aw)*?;
        self.flush_held()$($aw)*
    }

    /// Flushes the transport if frames were written and not flushed, on a
    /// connection that has not ended: a failed one writes nothing more,
    /// and an ended one's peer has its close or is gone (a flush to a
    /// vanished peer would wait for ever on embassy-net).
    $($async)? fn flush_held(&mut self) -> Res<(), T> {
        if !self.unflushed || self.latch.is_set() || self.s.conn.is_closed() {
            return Ok(());
        }
        self.flush_io()$($aw)*
    }

    $($async)? fn flush_io(&mut self) -> Res<(), T> {
        let r = self.io.flush()$($aw)*.map_err(Error::Io);
        if r.is_ok() {
            self.unflushed = false;
            self.held = 0;
        }
        self.latch_on(r)
    }

    fn latch_on(&mut self, r: Res<(), T>) -> Res<(), T> {
        if let Err(e) = &r {
            let kind = match e {
                Error::Io(e) => embedded_io::Error::kind(e),
                _ => ErrorKind::WriteZero,
            };
            self.writing = false;
            self.latch.set(&mut self.s.conn, kind);
        }
        r
    }

    /// Writes the control frames owed, stamped with the clock's time.
    $($async)? fn flush_owed(&mut self) -> Res<(), T> {
        if !self.s.conn.wants_transmit() {
            return Ok(());
        }
        self.now();
        let mut wrote = false;
        while let Some(frame) = self.s.owed(self.tx)? {
            self.writing = true;
            let r = write_all(&mut self.io, frame)$($aw)*;
            self.latch_on(r)?;
            self.writing = false;
            self.unflushed = true;
            wrote = true;
        }
        if wrote {
            self.flush_io()$($aw)*?;
        }
        Ok(())
    }

    /// Reads until one event and hands it to `f`; data arrives in chunks
    /// as it is read, with offset and frame length. Pongs, close echoes and
    /// keepalive pings are sent as needed, and the timers run on the clock
    /// as each read returns (a transport read that times out is not an
    /// error: the timers run and it reads again). `Ok(None)` once the
    /// connection is over, [`Self::end`] says how (then close the
    /// transport: a server at once, a client once the server has).
    /// [`Error::ReadTimeout`] after the read timeout, if one is set.
    ///
    /// Async: safe to cancel while it waits for input (nothing read is
    /// lost); cancelled while writing an answer, the connection ends
    /// ([`Error::Failed`] with `Interrupted` on later sends).
    pub $($async)? fn read_event<R>(&mut self, f: impl FnOnce(Event<'_>) -> R) -> Res<Option<R>, T> {
        let limit = self.read_timeout;
        self.read_within(limit, f)$($aw)*
    }

    $($async)? fn read_within<R>(
        &mut self,
        limit: Option<Duration>,
        f: impl FnOnce(Event<'_>) -> R,
    ) -> Res<Option<R>, T> {
        self.check_cut();
        let deadline = match limit {
            Some(t) => Some(self.now() + t),
            None => None,
        };
        loop {
            // A compressed chunk: what it inflates to, one chunk a call.
            #[cfg(feature = "deflate")]
            if let Some(inflating) = self.inflating.as_mut()
                && inflating.is_pending()
            {
                match inflating.next(&mut self.s.conn, self.s.rx.last_chunk()) {
                    Ok(Some(chunk)) => {
                        let out = f(Event::Data(chunk));
                        self.flush_owed()$($aw)*?;
                        return Ok(Some(out));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.flush_owed()$($aw)*?;
                        return Err(e.into());
                    }
                }
            }
            match self.s.rx.next_event(&mut self.s.conn) {
                #[cfg(feature = "deflate")]
                Ok(Some(Event::Data(d))) if d.compressed => {
                    // It stays in the read buffer (nothing is read until
                    // it is all inflated) and is inflated from the top.
                    if let Some(inflating) = self.inflating.as_mut() {
                        inflating.start(&d);
                    }
                    continue;
                }
                Ok(Some(e)) => {
                    let out = f(e);
                    self.flush_owed()$($aw)*?;
                    return Ok(Some(out));
                }
                Ok(None) => {}
                Err(e) => {
                    self.flush_owed()$($aw)*?;
                    return Err(e.into());
                }
            }
            let now = self.now();
            self.s.conn.handle_timeout(now);
            self.flush_owed()$($aw)*?;
            if self.s.conn.is_closed() {
                return Ok(None);
            }
            // The frames read are used up: a batch's replies go out before
            // the read waits.
            self.flush_held()$($aw)*?;
            if deadline.is_some_and(|d| now >= d) {
                return Err(Error::ReadTimeout);
            }
            match self.io.read(self.s.rx.space())$($aw)* {
                Ok(0) => self.s.conn.handle_eof(),
                Ok(n) => self.s.rx.filled(n),
                Err(e) if timed_out(&e) => {}
                Err(e) if gone(&e) => self.s.conn.handle_eof(),
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }

    $($async)? fn send_frame(&mut self, part: MessagePart, data: &[u8]) -> Res<(), T> {
        self.send_frame_then(part, data, true)$($aw)*
    }

    /// [`Self::send_frame`], flushing the transport after it only if
    /// `flush`: a stream of frames need not wait for each (embassy-net's
    /// `flush` waits until the peer acknowledged every byte, a delayed
    /// ACK's time for every frame); the transport sends what it holds
    /// either way.
    pub(crate) $($async)? fn send_frame_then(
        &mut self,
        part: MessagePart,
        data: &[u8],
        flush: bool,
    ) -> Res<(), T> {
        self.check_failed()?;
        self.flush_owed()$($aw)*?;
        let mut frame = FrameOut::begin(&mut self.s.conn, part, data.len())?;
        // From here the connection counts the frame as sent: it must be
        // written whole, or the connection ends.
        self.writing = true;
        while let Some((a, b)) = frame.next_chunk(&mut self.s.conn, data, self.tx)? {
            let r = match write_all(&mut self.io, a)$($aw)* {
                Ok(()) => write_all(&mut self.io, b)$($aw)*,
                Err(e) => Err(e),
            };
            self.latch_on(r)?;
        }
        self.writing = false;
        self.unflushed = true;
        self.held = self.held.saturating_add(data.len());
        // Batched: while the peer's next frames are already read (their
        // replies follow; up to HOLD_MAX), or a message's fragments are
        // streaming, the transport is not flushed at each frame
        // (embassy-net's `flush` waits until the peer acknowledged every
        // byte, a delayed ACK's time for every frame): it is before the
        // next read waits.
        if !flush || (self.s.rx.has_input() && self.held <= HOLD_MAX) {
            return Ok(());
        }
        self.flush_io()$($aw)*
    }

    /// Sends a text message in one frame, streamed through `tx`, and
    /// flushes the transport unless the peer's next frames are already
    /// read (their replies are then flushed together: the module docs'
    /// Batching).
    pub $($async)? fn send_text(&mut self, text: &str) -> Res<(), T> {
        self.send_frame(MessagePart::Whole(DataKind::Text), text.as_bytes())$($aw)*
    }

    /// Sends a binary message in one frame, streamed through `tx`; flushed
    /// as [`Self::send_text`] is.
    pub $($async)? fn send_binary(&mut self, data: &[u8]) -> Res<(), T> {
        self.send_frame(MessagePart::Whole(DataKind::Binary), data)$($aw)*
    }

    /// Sends one fragment of a message produced piece by piece
    /// (esp_websocket_client's `send_text_partial` / `send_cont_msg` /
    /// `send_fin`). Only the last fragment (`fin`) flushes the transport,
    /// as [`Self::send_text`] does; the others are flushed with it, before
    /// the next read waits, or by [`Self::flush`].
    pub $($async)? fn send_fragment(&mut self, kind: DataKind, data: &[u8], fin: bool) -> Res<(), T> {
        self.send_frame_then(MessagePart::Fragment { kind, fin }, data, fin)$($aw)*
    }

    /// Sends a ping.
    pub $($async)? fn ping(&mut self, payload: &[u8]) -> Res<(), T> {
        self.check_failed()?;
        self.s.conn.ping(payload)?;
        self.flush_owed()$($aw)*
    }

    /// Sends a pong.
    pub $($async)? fn pong(&mut self, payload: &[u8]) -> Res<(), T> {
        self.check_failed()?;
        self.s.conn.pong(payload)?;
        self.flush_owed()$($aw)*
    }

    /// Sends a close frame without waiting for the answer: data may still
    /// arrive, and the reads that follow see the close through
    /// ([`Self::read_event`] returns `Ok(None)` once the peer answered,
    /// the transport ended or the close timeout passed). From here
    /// [`Self::poll_timeout`] includes the close deadline: what an async
    /// caller's timer needs.
    pub $($async)? fn send_close(&mut self, code: CloseCode, reason: &str) -> Res<(), T> {
        self.check_failed()?;
        self.s.conn.close(code, reason)?;
        self.flush_owed()$($aw)*
    }

    /// Sends a close frame and reads (dropping data) until the peer's close
    /// arrives, the transport ends or the close timeout passes on the
    /// clock (the read timeout does not apply). Returns how the connection
    /// ended.
    ///
    /// Async: may be called again after it was cancelled; the close is
    /// sent once, and the new call goes on waiting for the answer. With a
    /// timer from outside, [`Self::send_close`] and then the read loop.
    pub $($async)? fn close(&mut self, code: CloseCode, reason: &str) -> Res<Option<End>, T> {
        self.check_cut();
        if self.s.conn.state() == State::Open {
            self.s.conn.close(code, reason)?;
        }
        while self.read_within(None, |_| ())$($aw)*?.is_some() {}
        Ok(self.end())
    }
}

    };
}
pub(crate) use embedded_adapter;

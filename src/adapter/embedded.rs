//! The embedded adapters' one body, for the blocking and the async
//! embedded-io traits alike.

/// The adapter itself, written once for the blocking and the async
/// transport traits: `embedded_adapter!([] [])` for `embedded_io`,
/// `embedded_adapter!([async] [.await])` for `embedded_io_async`. Only the
/// `async` and `.await` differ; every rule is in the shared driver.
macro_rules! embedded_adapter {
    ([$($async:tt)?] [$($aw:tt)*]) => {
type Res<T, IO> = Result<T, Error<<IO as ErrorType>::Error>>;

/// Reads more of a handshake head into `rx[*len..]`: an error if the
/// head would not fit in `rx` or the peer ended the stream.
$($async)? fn read_head<T: Read>(io: &mut T, rx: &mut [u8], len: &mut usize) -> Res<(), T> {
    if *len == rx.len() {
        return Err(HandshakeError::TooLarge { limit: rx.len() }.into());
    }
    match io.read(&mut rx[*len..])$($aw)*.map_err(Error::Io)? {
        0 => Err(Error::Eof),
        n => {
            *len += n;
            Ok(())
        }
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
#[allow(clippy::too_many_arguments)]
pub $($async)? fn accept<'b, T: Read + Write>(
    mut io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    config: Config,
    now: Instant,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
    page: impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>,
) -> Res<Accepted<'b, T>, T> {
    let limits = steps::limits_for(rx.len());
    let (mut decide, mut page) = (Some(decide), Some(page));
    let mut len = 0;
    loop {
        read_head(&mut io, rx, &mut len)$($aw)*?;
        match steps::server_step(rx, len, tx, &limits, &mut decide, &mut page) {
            Ok(ServerStep::More) => {}
            Ok(ServerStep::Respond { n, then }) => {
                write_all(&mut io, &tx[..n])$($aw)*?;
                io.flush()$($aw)*.map_err(Error::Io)?;
                return Ok(match then {
                    Then::Upgrade(early) => {
                        let conn = Connection::server(config, now);
                        Accepted::WebSocket(WebSocket {
                            io,
                            s: Session::new(conn, RxBuf::new(rx, early), now),
                            tx,
                            latch: Latch::default(),
                        })
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

/// Runs a client handshake for `req` with the 16 random bytes `nonce`;
/// frames are masked with keys from `keys`.
#[allow(clippy::too_many_arguments)]
pub $($async)? fn connect<'b, T: Read + Write, K: MaskKeys>(
    mut io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    req: &ClientRequest<'_>,
    nonce: [u8; 16],
    keys: K,
    config: Config,
    now: Instant,
) -> Res<WebSocket<'b, T, K>, T> {
    let hs = ClientHandshake::new(nonce);
    let n = hs.write_request(req, tx)?;
    write_all(&mut io, &tx[..n])$($aw)*?;
    io.flush()$($aw)*.map_err(Error::Io)?;
    let limits = steps::limits_for(rx.len());
    let mut len = 0;
    loop {
        read_head(&mut io, rx, &mut len)$($aw)*?;
        if let Some(early) = steps::client_step(&hs, req, rx, len, &limits)? {
            let conn = Connection::client(config, keys, now);
            return Ok(WebSocket {
                io,
                s: Session::new(conn, RxBuf::new(rx, early), now),
                            tx,
                            latch: Latch::default(),
            });
        }
    }
}

/// A blocking WebSocket over an embedded-io transport, with borrowed
/// buffers.
pub struct WebSocket<'b, T: Read + Write, K: MaskKeys> {
    io: T,
    s: Session<&'b mut [u8], K>,
    tx: &'b mut [u8],
    latch: Latch<ErrorKind>,
}

impl<'b, T: Read + Write, K: MaskKeys> WebSocket<'b, T, K> {
        /// The state machine (state, close codes, timers).
        pub fn connection(&self) -> &Connection<K> {
            &self.s.conn
        }

        /// Whether the connection is open: no write failed and no close
        /// began.
        pub fn is_connected(&self) -> bool {
            !self.latch.is_set() && self.s.conn.state() == State::Open
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

    /// The clock moved to `now`: runs due timers (keepalive ping, pong and
    /// close deadlines) and sends what they owe. Call it at
    /// [`Connection::poll_timeout`](crate::conn::Core::poll_timeout), or every so often.
    pub $($async)? fn tick(&mut self, now: Instant) -> Res<(), T> {
        self.s.now = now;
        self.s.conn.handle_timeout(now);
        self.flush_owed()$($aw)*
    }

    $($async)? fn flush(&mut self) -> Res<(), T> {
        let r = self.io.flush()$($aw)*.map_err(Error::Io);
        self.latch_on(r)
    }

    fn latch_on(&mut self, r: Res<(), T>) -> Res<(), T> {
        if let Err(e) = &r {
            let kind = match e {
                Error::Io(e) => embedded_io::Error::kind(e),
                _ => embedded_io::ErrorKind::WriteZero,
            };
            self.latch.set(&mut self.s.conn, kind);
        }
        r
    }

    $($async)? fn flush_owed(&mut self) -> Res<(), T> {
        let mut wrote = false;
        while let Some(frame) = self.s.owed(self.tx)? {
            let r = write_all(&mut self.io, frame)$($aw)*;
            self.latch_on(r)?;
            wrote = true;
        }
        if wrote {
            self.flush()$($aw)*?;
        }
        Ok(())
    }

    /// Blocks until one event and hands it to `f`; data arrives in chunks
    /// as it is read, with offset and frame length. Pongs and close echoes
    /// are sent as needed. `Ok(None)` once the connection is over (then
    /// close the transport: a server at once, a client once the server
    /// has).
    pub $($async)? fn read_event<R>(&mut self, f: impl FnOnce(Event<'_>) -> R) -> Res<Option<R>, T> {
        loop {
            match self.s.rx.next_event(&mut self.s.conn) {
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
            self.flush_owed()$($aw)*?;
            if self.s.conn.is_closed() {
                return Ok(None);
            }
            match self.io.read(self.s.rx.space())$($aw)*.map_err(Error::Io)? {
                0 => self.s.conn.handle_eof(),
                n => self.s.rx.filled(n),
            }
        }
    }

    $($async)? fn send_frame(&mut self, part: MessagePart, data: &[u8]) -> Res<(), T> {
        self.latch.check().map_err(Error::Failed)?;
        self.flush_owed()$($aw)*?;
        let mut frame = FrameOut::begin(&mut self.s.conn, part, data.len())?;
        loop {
            let Some((a, b)) = frame.next_chunk(&mut self.s.conn, data, self.tx)? else {
                break;
            };
            let r = match write_all(&mut self.io, a)$($aw)* {
                Ok(()) => write_all(&mut self.io, b)$($aw)*,
                Err(e) => Err(e),
            };
            self.latch_on(r)?;
        }
        self.flush()$($aw)*
    }

    /// Sends a text message in one frame, streamed through `tx`.
    pub $($async)? fn send_text(&mut self, text: &str) -> Res<(), T> {
        self.send_frame(MessagePart::Whole(DataKind::Text), text.as_bytes())$($aw)*
    }

    /// Sends a binary message in one frame, streamed through `tx`.
    pub $($async)? fn send_binary(&mut self, data: &[u8]) -> Res<(), T> {
        self.send_frame(MessagePart::Whole(DataKind::Binary), data)$($aw)*
    }

    /// Sends one fragment of a message produced piece by piece
    /// (esp_websocket_client's `send_text_partial` / `send_cont_msg` /
    /// `send_fin`).
    pub $($async)? fn send_fragment(&mut self, kind: DataKind, data: &[u8], fin: bool) -> Res<(), T> {
        self.send_frame(MessagePart::Fragment { kind, fin }, data)$($aw)*
    }

    /// Sends a ping.
    pub $($async)? fn ping(&mut self, payload: &[u8]) -> Res<(), T> {
        self.latch.check().map_err(Error::Failed)?;
        self.s.conn.ping(payload)?;
        self.flush_owed()$($aw)*
    }

    /// Sends a pong.
    pub $($async)? fn pong(&mut self, payload: &[u8]) -> Res<(), T> {
        self.latch.check().map_err(Error::Failed)?;
        self.s.conn.pong(payload)?;
        self.flush_owed()$($aw)*
    }

    /// Sends a close frame and reads (dropping data) until the peer's close
    /// arrives or the transport ends. Returns how the connection ended.
    pub $($async)? fn close(&mut self, code: CloseCode, reason: &str) -> Res<Option<End>, T> {
        if self.s.conn.state() == State::Open {
            self.s.conn.close(code, reason)?;
        }
        while self.read_event(|_| ())$($aw)*?.is_some() {}
        Ok(self.end())
    }
}

    };
}
pub(crate) use embedded_adapter;

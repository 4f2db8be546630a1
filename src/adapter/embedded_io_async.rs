//! Async WebSocket over `embedded_io_async::{Read, Write}` (feature
//! `embedded-io-async`): for embassy-net sockets and other async
//! transports; no_std, no alloc, caller buffers. The same API as the
//! [blocking adapter](super::embedded_io), with `async` methods; both run
//! on the same sans-IO session, so only the reads and writes differ.

use embedded_io_async::{ErrorType, Read, Write};

pub use super::embedded_io::Error;
pub use super::session::Decision;
use super::session::{self, ServerStep, Session, Then};
use crate::conn::{
    Config, Connection, DataKind, End, Event, Instant, MaskKeys, MessagePart, NoMasking, State,
};
use crate::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, HttpResponse, Request, UpgradeRequest,
};
use crate::wire::CloseCode;

type Res<T, IO> = Result<T, Error<<IO as ErrorType>::Error>>;

/// Reads more of a handshake head into `rx[*len..]`: an error if the
/// head would not fit in `rx` or the peer ended the stream.
async fn read_head<T: Read>(io: &mut T, rx: &mut [u8], len: &mut usize) -> Res<(), T> {
    if *len == rx.len() {
        return Err(HandshakeError::TooLarge { limit: rx.len() }.into());
    }
    match io.read(&mut rx[*len..]).await.map_err(Error::Io)? {
        0 => Err(Error::Eof),
        n => {
            *len += n;
            Ok(())
        }
    }
}

async fn write_all<T: Write>(io: &mut T, mut buf: &[u8]) -> Res<(), T> {
    while !buf.is_empty() {
        match io.write(buf).await.map_err(Error::Io)? {
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
    /// A plain HTTP request, answered with the `page` callback's response.
    Http(T),
    /// An upgrade refused with this status.
    Rejected(T, u16),
}

/// Runs a server handshake (see [`super::embedded_io::accept`]).
#[allow(clippy::too_many_arguments)]
pub async fn accept<'b, T: Read + Write>(
    mut io: T,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    config: Config,
    now: Instant,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
    page: impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>,
) -> Res<Accepted<'b, T>, T> {
    let limits = session::limits_for(rx.len());
    let (mut decide, mut page) = (Some(decide), Some(page));
    let mut len = 0;
    loop {
        read_head(&mut io, rx, &mut len).await?;
        match session::server_step(rx, len, tx, &limits, &mut decide, &mut page) {
            Ok(ServerStep::More) => {}
            Ok(ServerStep::Respond { n, then }) => {
                write_all(&mut io, &tx[..n]).await?;
                io.flush().await.map_err(Error::Io)?;
                return Ok(match then {
                    Then::Upgrade(early) => {
                        let conn = Connection::server(config, now);
                        Accepted::WebSocket(WebSocket {
                            io,
                            s: Session::new(conn, rx, early, tx, now),
                        })
                    }
                    Then::Http => Accepted::Http(io),
                    Then::Rejected(status) => Accepted::Rejected(io, status),
                });
            }
            Err(e) => {
                if let Some(n) = session::rejection(&e, tx) {
                    let _ = write_all(&mut io, &tx[..n]).await;
                    let _ = io.flush().await;
                }
                return Err(e.into());
            }
        }
    }
}

/// Runs a client handshake (see [`super::embedded_io::connect`]).
#[allow(clippy::too_many_arguments)]
pub async fn connect<'b, T: Read + Write, K: MaskKeys>(
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
    write_all(&mut io, &tx[..n]).await?;
    io.flush().await.map_err(Error::Io)?;
    let limits = session::limits_for(rx.len());
    let mut len = 0;
    loop {
        read_head(&mut io, rx, &mut len).await?;
        if let Some(early) = session::client_step(&hs, req, rx, len, &limits)? {
            let conn = Connection::client(config, keys, now);
            return Ok(WebSocket {
                io,
                s: Session::new(conn, rx, early, tx, now),
            });
        }
    }
}

/// An async WebSocket over an embedded-io-async transport, with borrowed
/// buffers.
pub struct WebSocket<'b, T: Read + Write, K: MaskKeys> {
    io: T,
    s: Session<'b, K>,
}

impl<'b, T: Read + Write, K: MaskKeys> WebSocket<'b, T, K> {
    session::websocket_getters!();

    /// The clock moved to `now`: runs due timers and sends what they owe.
    pub async fn tick(&mut self, now: Instant) -> Res<(), T> {
        self.s.now = now;
        self.s.conn.handle_timeout(now);
        self.flush_owed().await
    }

    async fn flush_owed(&mut self) -> Res<(), T> {
        let mut wrote = false;
        while let Some(frame) = self.s.owed()? {
            write_all(&mut self.io, frame).await?;
            wrote = true;
        }
        if wrote {
            self.io.flush().await.map_err(Error::Io)?;
        }
        Ok(())
    }

    /// Waits for one event and hands it to `f` (see
    /// [`super::embedded_io::WebSocket::read_event`]).
    pub async fn read_event<R>(&mut self, f: impl FnOnce(Event<'_>) -> R) -> Res<Option<R>, T> {
        let mut f = Some(f);
        loop {
            match self.s.process(|e| f.take().map(|f| f(e))) {
                Ok(Some(out)) => {
                    self.flush_owed().await?;
                    return Ok(out);
                }
                Ok(None) => {}
                Err(e) => {
                    self.flush_owed().await?;
                    return Err(e.into());
                }
            }
            self.flush_owed().await?;
            if self.s.conn.is_closed() {
                return Ok(None);
            }
            match self.io.read(self.s.space()).await.map_err(Error::Io)? {
                0 => self.s.conn.handle_eof(),
                n => self.s.filled(n),
            }
        }
    }

    async fn send_frame(&mut self, part: MessagePart, data: &[u8]) -> Res<(), T> {
        self.flush_owed().await?;
        let mut frame = self.s.begin_frame(part, data.len())?;
        while let Some(chunk) = self.s.next_chunk(&mut frame, data)? {
            write_all(&mut self.io, chunk).await?;
        }
        self.io.flush().await.map_err(Error::Io)
    }

    /// Sends a text message in one frame.
    pub async fn send_text(&mut self, text: &str) -> Res<(), T> {
        self.send_frame(MessagePart::Whole(DataKind::Text), text.as_bytes())
            .await
    }

    /// Sends a binary message in one frame.
    pub async fn send_binary(&mut self, data: &[u8]) -> Res<(), T> {
        self.send_frame(MessagePart::Whole(DataKind::Binary), data)
            .await
    }

    /// Sends one fragment of a message produced piece by piece.
    pub async fn send_fragment(&mut self, kind: DataKind, data: &[u8], fin: bool) -> Res<(), T> {
        self.send_frame(MessagePart::Fragment { kind, fin }, data)
            .await
    }

    /// Sends a ping.
    pub async fn ping(&mut self, payload: &[u8]) -> Res<(), T> {
        self.s.conn.ping(payload)?;
        self.flush_owed().await
    }

    /// Sends a pong.
    pub async fn pong(&mut self, payload: &[u8]) -> Res<(), T> {
        self.s.conn.pong(payload)?;
        self.flush_owed().await
    }

    /// Sends a close frame and waits for the peer's close.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Res<Option<End>, T> {
        if self.s.conn.state() == State::Open {
            self.s.conn.close(code, reason)?;
        }
        while self.read_event(|_| ()).await?.is_some() {}
        Ok(self.end())
    }
}

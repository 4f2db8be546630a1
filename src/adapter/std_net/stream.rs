//! [`Stream`]: a TCP stream, with TLS over it for `wss://` (feature
//! `rustls`), and [`Session`]: the record layer a split socket drives.

use std::boxed::Box;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration as StdDuration;
use std::vec::Vec;

use super::transport::{Closer, Split, SplitParts, Transport};

/// A record layer between the WebSocket and the raw byte stream, driven
/// without IO of its own (TLS: rustls's `Connection` is one). A split
/// socket keeps it under the connection's lock, beside the connection: the
/// reader thread reads raw bytes without the lock and hands them over
/// under it, the writer thread encrypts under it and writes without it.
/// So both threads use one session, and no lock is ever held across a
/// blocking read or write.
pub trait Session: Send {
    /// Plaintext received and not yet taken, into `buf`: `Ok(0)` at the
    /// session's clean end (TLS `close_notify`), `WouldBlock` when none is
    /// buffered.
    fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Takes raw bytes read from the stream (some of them: returns how
    /// many; call again with the rest once the plaintext they gave was
    /// taken). An error (a TLS alert, a bad record) ends the connection.
    fn read_raw(&mut self, raw: &[u8]) -> io::Result<usize>;
    /// The raw stream ended.
    fn raw_eof(&mut self);
    /// Encrypts `bufs` for sending.
    fn write_plain(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<()>;
    /// Whether raw bytes wait to be written ([`Session::take_raw`]).
    fn wants_write(&self) -> bool;
    /// Appends the raw bytes waiting to be written to `out`.
    fn take_raw(&mut self, out: &mut Vec<u8>) -> io::Result<()>;
    /// Queues the session's end (TLS `close_notify`).
    fn close(&mut self);
}

/// What [`Stream`] runs over the TCP stream.
enum Layer {
    Plain,
    #[cfg(feature = "rustls")]
    Tls(Box<rustls::Connection>),
}

/// The stream [`connect`](super::connect) opens: TCP for `ws://`, TLS over
/// TCP for `wss://` (feature `rustls`). A server gets one from
/// `Stream::tls_server` (feature `rustls`) and passes it to [`accept`](super::accept).
/// It splits like a `TcpStream` ([`WebSocket::split`](super::WebSocket::split));
/// over TLS, the reader and the writer thread share the TLS session under
/// the connection's lock.
pub struct Stream {
    tcp: TcpStream,
    layer: Layer,
}

impl core::fmt::Debug for Stream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stream")
            .field("tcp", &self.tcp)
            .field("tls", &self.is_tls())
            .finish()
    }
}

impl Stream {
    /// A TCP stream as it is (`ws://`).
    pub fn plain(tcp: TcpStream) -> Self {
        Self {
            tcp,
            layer: Layer::Plain,
        }
    }

    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Whether TLS runs over the TCP stream.
    pub fn is_tls(&self) -> bool {
        !matches!(self.layer, Layer::Plain)
    }

    /// TLS over `tcp`, its handshake not yet made.
    #[cfg(feature = "rustls")]
    pub(super) fn tls(tcp: TcpStream, conn: rustls::Connection) -> Self {
        Self {
            tcp,
            layer: Layer::Tls(Box::new(conn)),
        }
    }

    /// The TLS session, if any.
    #[cfg(feature = "rustls")]
    pub fn tls_connection(&self) -> Option<&rustls::Connection> {
        match &self.layer {
            Layer::Tls(c) => Some(c),
            Layer::Plain => None,
        }
    }

    /// The TLS session and the TCP stream, for the TLS handshake.
    #[cfg(feature = "rustls")]
    pub(super) fn tls_parts(&mut self) -> Option<(&mut rustls::Connection, &mut TcpStream)> {
        match &mut self.layer {
            Layer::Tls(c) => Some((c, &mut self.tcp)),
            Layer::Plain => None,
        }
    }
}

/// Writes what the TLS session has to send (records, alerts).
#[cfg(feature = "rustls")]
pub(super) fn flush_tls(tls: &mut rustls::Connection, tcp: &mut TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(tcp) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads TLS records from `tcp` once and processes them. A TLS error is
/// sent to the peer as an alert and returned as `InvalidData` wrapping
/// the `rustls::Error`.
#[cfg(feature = "rustls")]
pub(super) fn read_tls(tls: &mut rustls::Connection, tcp: &mut TcpStream) -> io::Result<usize> {
    let n = loop {
        match tls.read_tls(tcp) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => break r?,
        }
    };
    process(tls, tcp)?;
    Ok(n)
}

#[cfg(feature = "rustls")]
fn process(tls: &mut rustls::Connection, tcp: &mut TcpStream) -> io::Result<()> {
    if let Err(e) = tls.process_new_packets() {
        // The alert that says why, if it can be written.
        let _ = flush_tls(tls, tcp);
        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
    }
    Ok(())
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.layer {
            Layer::Plain => self.tcp.read(buf),
            #[cfg(feature = "rustls")]
            Layer::Tls(tls) => loop {
                match tls.reader().read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    r => return r,
                }
                // The handshake's and the session's own records first.
                flush_tls(tls, &mut self.tcp)?;
                read_tls(tls, &mut self.tcp)?;
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// Over TLS: all of `bufs` into records, then written out. A write
    /// that fails (the write timeout) leaves the rest of the records in
    /// the session; the adapter ends the connection on it.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match &mut self.layer {
            Layer::Plain => self.tcp.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            Layer::Tls(tls) => {
                let n = tls.writer().write_vectored(bufs)?;
                flush_tls(tls, &mut self.tcp)?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        #[cfg(feature = "rustls")]
        if let Layer::Tls(tls) = &mut self.layer {
            flush_tls(tls, &mut self.tcp)?;
        }
        self.tcp.flush()
    }
}

impl Transport for Stream {
    fn set_read_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        self.tcp.set_read_timeout(timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        self.tcp.set_write_timeout(timeout)
    }

    /// Over TLS, a write shutdown sends `close_notify` first.
    fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        #[cfg(feature = "rustls")]
        if let (Layer::Tls(tls), Shutdown::Write) = (&mut self.layer, how) {
            tls.send_close_notify();
            let _ = flush_tls(tls, &mut self.tcp);
        }
        self.tcp.shutdown(how)
    }

    /// Over TLS too, a reset: no `close_notify` can follow a record cut
    /// off mid-way.
    fn abort(&mut self) -> io::Result<()> {
        super::transport::abort_tcp(&self.tcp)
    }
}

impl Split for Stream {
    type Reader = TcpStream;
    type Writer = TcpStream;

    fn split(self) -> io::Result<(TcpStream, TcpStream)> {
        let (r, w, session) = self.split_session()?;
        if session.is_some() {
            return Err(io::Error::other(
                "a TLS stream splits through WebSocket::split, which shares its session",
            ));
        }
        Ok((r, w))
    }

    fn closer(&self) -> Option<Closer> {
        self.tcp.closer()
    }

    fn split_session(self) -> io::Result<SplitParts<Self>> {
        let w = self.tcp.try_clone()?;
        let session: Option<Box<dyn Session>> = match self.layer {
            Layer::Plain => None,
            #[cfg(feature = "rustls")]
            Layer::Tls(mut tls) => {
                // The writer takes each frame's records as soon as they are
                // made: no bound on what one frame may make.
                tls.set_buffer_limit(None);
                Some(tls)
            }
        };
        Ok((self.tcp, w, session))
    }
}

#[cfg(feature = "rustls")]
impl Session for rustls::Connection {
    fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader().read(buf)
    }

    fn read_raw(&mut self, mut raw: &[u8]) -> io::Result<usize> {
        let before = raw.len();
        self.read_tls(&mut raw)?;
        if let Err(e) = self.process_new_packets() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        Ok(before - raw.len())
    }

    fn raw_eof(&mut self) {
        // Reading from an empty slice is how rustls learns of the end.
        let _ = self.read_tls(&mut &[][..]);
    }

    fn write_plain(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<()> {
        let mut w = self.writer();
        for b in bufs {
            w.write_all(b)?;
        }
        Ok(())
    }

    fn wants_write(&self) -> bool {
        let common: &rustls::CommonState = self;
        common.wants_write()
    }

    fn take_raw(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        while Session::wants_write(self) {
            self.write_tls(out)?;
        }
        Ok(())
    }

    fn close(&mut self) {
        self.send_close_notify();
    }
}

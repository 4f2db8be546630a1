//! lwIP netconn transport (feature `lwip`, no std needed): the API the raw
//! ESP32 servers use (`netconn_new/bind/listen/accept/recv/write`), as an
//! `embedded_io` stream, so the [embedded-io adapter](super::embedded_io)
//! runs WebSockets over it: [`accept`] and [`connect`] below, then the same
//! streaming API (`read_event`, `send_*`, `close`).
//!
//! ```no_run
//! use sansws::adapter::embedded_io::{Accepted, Decision, ServerOptions};
//! use sansws::adapter::lwip;
//! use sansws::conn::{Event, Instant};
//! use sansws::handshake::HttpResponse;
//!
//! /// The device's millisecond clock (ESP-IDF: `esp_timer_get_time() / 1000`).
//! fn clock() -> Instant {
//!     # return sansws::adapter::embedded_io::std_clock();
//!     Instant(unsafe { esp_timer_get_time() } as u64 / 1000)
//! }
//! # unsafe fn esp_timer_get_time() -> i64 { 0 }
//!
//! # fn serve() -> Result<(), Box<dyn core::error::Error>> {
//! let listener = lwip::Listener::bind([0, 0, 0, 0], 80)?;
//! let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
//! loop {
//!     let conn = listener.accept()?;
//!     let accepted = lwip::accept(conn, &mut rx, &mut tx, ServerOptions::new(clock),
//!         |_| Decision::Accept(None), |_| HttpResponse::new(404));
//!     if let Ok(Accepted::WebSocket(mut ws)) = accepted {
//!         while let Ok(Some(())) = ws.read_event(|e| {
//!             if let Event::Data(d) = e { /* d.payload: a chunk of the message */ }
//!         }) {}
//!     }
//! }
//! # }
//! ```
//!
//! # Timeouts
//!
//! The adapter runs its timers (handshake, keepalive, pong and close
//! timeouts) as reads return, so reads must time out (see
//! [the embedded-io adapter](super::embedded_io#time-and-timeouts)):
//! [`Netconn::set_recv_timeout`] makes `netconn_recv` give `ERR_TIMEOUT`,
//! whose kind is `TimedOut` already, and the netconn stays usable. [`accept`]
//! and [`connect`] set [`RECV_TIMEOUT_MS`] on a netconn that has no
//! receive timeout. This needs `LWIP_SO_RCVTIMEO=1` (ESP-IDF and Debian's
//! lwIP have it); without it reads block, and the timers run only as bytes
//! arrive.
//!
//! # Threads and tasks
//!
//! Call from any task but lwIP's own tcpip thread. A [`Netconn`] moves
//! between tasks (`Send`) but is used by one at a time: Debian's lwIP has
//! `LWIP_NETCONN_FULLDUPLEX=0`, so never read in one task while writing in
//! another. On ESP-IDF (FULLDUPLEX=1) lwIP allows it, but this wrapper
//! still takes `&mut self` for both. Espressif documents netconn as
//! enabled but not officially supported; with ESP-IDF and std, the
//! [std adapter](super::std_net) over BSD sockets is the supported path.
//!
//! # Safety
//!
//! This is the one adapter with `unsafe`: the `extern "C"` calls into the
//! shim (`shim.c`). Each pointer handed to C is either a netconn/netbuf
//! the shim created and this module owns (freed exactly once in `Drop`),
//! or a borrow of a Rust buffer valid for the call. Data a netbuf points to
//! is copied out before the netbuf is freed.

use core::ffi::{c_int, c_void};
use core::ptr::{self, NonNull};

use embedded_io::{ErrorKind, ErrorType, Read, Write};

#[cfg(feature = "client")]
pub use super::embedded_io::ClientOptions;
#[cfg(feature = "server")]
pub use super::embedded_io::{Accepted, Decision, ServerOptions};
pub use super::embedded_io::{Error, WebSocket};
#[cfg(feature = "client")]
use crate::conn::MaskKeys;
#[cfg(feature = "server")]
use crate::handshake::{HttpResponse, Request, UpgradeRequest};

/// The receive timeout [`accept`] and [`connect`] set on a netconn that
/// has none, in milliseconds: timers fire at most this late.
pub const RECV_TIMEOUT_MS: u32 = 100;

mod ffi {
    use core::ffi::{c_int, c_void};
    unsafe extern "C" {
        pub fn sansws_netconn_new_tcp(out: *mut *mut c_void) -> c_int;
        pub fn sansws_netconn_bind(c: *mut c_void, ip: *const u8, port: u16) -> c_int;
        pub fn sansws_netconn_listen(c: *mut c_void) -> c_int;
        pub fn sansws_netconn_accept(c: *mut c_void, out: *mut *mut c_void) -> c_int;
        pub fn sansws_netconn_connect(c: *mut c_void, ip: *const u8, port: u16) -> c_int;
        pub fn sansws_netconn_recv(c: *mut c_void, out: *mut *mut c_void) -> c_int;
        pub fn sansws_netbuf_data(nb: *mut c_void, data: *mut *mut c_void, len: *mut u16) -> c_int;
        pub fn sansws_netbuf_next(nb: *mut c_void) -> c_int;
        pub fn sansws_netbuf_delete(nb: *mut c_void);
        pub fn sansws_netconn_write_partly(
            c: *mut c_void,
            data: *const c_void,
            len: usize,
            written: *mut usize,
        ) -> c_int;
        pub fn sansws_netconn_set_recvtimeout(c: *mut c_void, ms: c_int);
        pub fn sansws_netconn_shutdown(c: *mut c_void, rx: c_int, tx: c_int) -> c_int;
        pub fn sansws_netconn_close(c: *mut c_void) -> c_int;
        pub fn sansws_netconn_delete(c: *mut c_void) -> c_int;
        pub fn sansws_netconn_nagle_off(c: *mut c_void) -> c_int;
        pub fn sansws_netconn_abort(c: *mut c_void) -> c_int;
        #[cfg(sansws_lwip_host)]
        pub fn sansws_lwip_host_init() -> c_int;
    }
}

/// An lwIP error (`err_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LwipError(pub i8);

impl LwipError {
    /// Out of memory.
    pub const MEM: Self = Self(-1);
    /// Timeout (a receive timeout expired).
    pub const TIMEOUT: Self = Self(-3);
    /// Connection aborted.
    pub const ABRT: Self = Self(-13);
    /// Connection reset (or refused).
    pub const RST: Self = Self(-14);
    /// Connection closed (end of stream).
    pub const CLSD: Self = Self(-15);

    fn check(code: c_int) -> Result<(), Self> {
        if code == 0 {
            Ok(())
        } else {
            Err(Self(code as i8))
        }
    }
}

impl core::fmt::Display for LwipError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match self.0 {
            -1 => "out of memory",
            -2 => "buffer error",
            -3 => "timeout",
            -4 => "routing problem",
            -5 => "operation in progress",
            -6 => "illegal value",
            -7 => "would block",
            -8 => "address in use",
            -9 => "already connecting",
            -10 => "already connected",
            -11 => "not connected",
            -12 => "low-level netif error",
            -13 => "connection aborted",
            -14 => "connection reset",
            -15 => "connection closed",
            -16 => "illegal argument",
            _ => "lwIP error",
        };
        write!(f, "{name} (err_t {})", self.0)
    }
}

impl core::error::Error for LwipError {}

impl embedded_io::Error for LwipError {
    fn kind(&self) -> ErrorKind {
        match *self {
            LwipError::MEM => ErrorKind::OutOfMemory,
            LwipError::TIMEOUT => ErrorKind::TimedOut,
            LwipError::ABRT => ErrorKind::ConnectionAborted,
            LwipError::RST | LwipError::CLSD => ErrorKind::ConnectionReset,
            LwipError(-8) => ErrorKind::AddrInUse,
            LwipError(-11) => ErrorKind::NotConnected,
            LwipError(-6) | LwipError(-16) => ErrorKind::InvalidInput,
            _ => ErrorKind::Other,
        }
    }
}

/// Starts lwIP in this process with a loopback interface on 127.0.0.1, for
/// host tests and examples (Linux host builds only). Call once per process.
#[cfg(sansws_lwip_host)]
pub fn host_stack_init() -> Result<(), LwipError> {
    // SAFETY: no arguments; the shim starts the tcpip thread and waits.
    LwipError::check(unsafe { ffi::sansws_lwip_host_init() })
}

fn new_tcp() -> Result<NonNull<c_void>, LwipError> {
    let mut raw = ptr::null_mut();
    // SAFETY: `raw` is a valid out-pointer for the call.
    LwipError::check(unsafe { ffi::sansws_netconn_new_tcp(&mut raw) })?;
    NonNull::new(raw).ok_or(LwipError::MEM)
}

/// A listening netconn.
#[derive(Debug)]
pub struct Listener {
    raw: NonNull<c_void>,
}

// SAFETY: a netconn may be used from any task other than tcpip's, one at a
// time; `&self` accept calls are serialised by lwIP's accept mailbox.
unsafe impl Send for Listener {}

impl Listener {
    /// Binds `ip:port` and listens.
    pub fn bind(ip: [u8; 4], port: u16) -> Result<Self, LwipError> {
        let l = Self { raw: new_tcp()? };
        // SAFETY: `l.raw` is a live netconn; `ip` outlives the call.
        LwipError::check(unsafe { ffi::sansws_netconn_bind(l.raw.as_ptr(), ip.as_ptr(), port) })?;
        // SAFETY: as above.
        LwipError::check(unsafe { ffi::sansws_netconn_listen(l.raw.as_ptr()) })?;
        Ok(l)
    }

    /// Waits for the next connection (Nagle off).
    pub fn accept(&self) -> Result<Netconn, LwipError> {
        let mut raw = ptr::null_mut();
        // SAFETY: `self.raw` is a live listening netconn; `raw` an out-pointer.
        LwipError::check(unsafe { ffi::sansws_netconn_accept(self.raw.as_ptr(), &mut raw) })?;
        let conn = Netconn::from_raw(NonNull::new(raw).ok_or(LwipError::MEM)?);
        conn.nagle_off()?;
        Ok(conn)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe {
            ffi::sansws_netconn_close(self.raw.as_ptr());
            ffi::sansws_netconn_delete(self.raw.as_ptr());
        }
    }
}

/// A TCP netconn as a byte stream. Reading walks the netbuf chains lwIP
/// hands out, keeping the rest of a netbuf larger than the caller's buffer
/// for the next read; writing sends what lwIP takes
/// (`netconn_write_partly`).
#[derive(Debug)]
pub struct Netconn {
    raw: NonNull<c_void>,
    /// The receive timeout set, in milliseconds (0: none).
    recv_timeout: u32,
    /// The netbuf being read, if any, and the offset in its current part.
    buf: *mut c_void,
    off: usize,
}

// SAFETY: see `Listener`; the netbuf is owned alongside.
unsafe impl Send for Netconn {}

impl Netconn {
    fn from_raw(raw: NonNull<c_void>) -> Self {
        Self {
            raw,
            recv_timeout: 0,
            buf: ptr::null_mut(),
            off: 0,
        }
    }

    /// Connects to `ip:port` (Nagle off).
    pub fn connect(ip: [u8; 4], port: u16) -> Result<Self, LwipError> {
        let c = Self::from_raw(new_tcp()?);
        // SAFETY: live netconn; `ip` outlives the call.
        LwipError::check(unsafe {
            ffi::sansws_netconn_connect(c.raw.as_ptr(), ip.as_ptr(), port)
        })?;
        c.nagle_off()?;
        Ok(c)
    }

    fn nagle_off(&self) -> Result<(), LwipError> {
        // SAFETY: live netconn.
        LwipError::check(unsafe { ffi::sansws_netconn_nagle_off(self.raw.as_ptr()) })
    }

    /// Makes a read that got nothing for `ms` milliseconds fail with
    /// [`LwipError::TIMEOUT`] (kind `TimedOut`), after which reads work
    /// as before (0: block). Needs `LWIP_SO_RCVTIMEO=1`.
    pub fn set_recv_timeout(&mut self, ms: u32) {
        let ms = ms.min(i32::MAX as u32);
        self.recv_timeout = ms;
        // SAFETY: live netconn.
        unsafe { ffi::sansws_netconn_set_recvtimeout(self.raw.as_ptr(), ms as c_int) }
    }

    /// The receive timeout set, in milliseconds (0: none, reads block).
    pub fn recv_timeout(&self) -> u32 {
        self.recv_timeout
    }

    /// Sets [`RECV_TIMEOUT_MS`] unless a receive timeout is set.
    fn default_recv_timeout(&mut self) {
        if self.recv_timeout == 0 {
            self.set_recv_timeout(RECV_TIMEOUT_MS);
        }
    }

    /// Shuts down the sending side (FIN).
    pub fn shutdown_write(&mut self) -> Result<(), LwipError> {
        // SAFETY: live netconn.
        LwipError::check(unsafe { ffi::sansws_netconn_shutdown(self.raw.as_ptr(), 0, 1) })
    }

    /// Resets the connection (RST) and drops it.
    pub fn abort(self) {
        // SAFETY: live netconn; lwIP clears its pcb pointer when it aborts,
        // so the close and delete in `Drop` stay valid.
        unsafe { ffi::sansws_netconn_abort(self.raw.as_ptr()) };
    }

    /// The current part of the current netbuf, from `off`.
    fn current(&self) -> &[u8] {
        if self.buf.is_null() {
            return &[];
        }
        let mut data = ptr::null_mut();
        let mut len = 0u16;
        // SAFETY: `buf` is a live netbuf we own; out-pointers are valid.
        if unsafe { ffi::sansws_netbuf_data(self.buf, &mut data, &mut len) } != 0 || data.is_null()
        {
            return &[];
        }
        // SAFETY: lwIP guarantees `len` readable bytes at `data` while the
        // netbuf lives; the slice does not outlive `&self`, and the netbuf
        // is only freed through `&mut self`.
        let all = unsafe { core::slice::from_raw_parts(data as *const u8, len as usize) };
        all.get(self.off..).unwrap_or(&[])
    }

    fn drop_buf(&mut self) {
        if !self.buf.is_null() {
            // SAFETY: owned netbuf, freed once.
            unsafe { ffi::sansws_netbuf_delete(self.buf) };
            self.buf = ptr::null_mut();
        }
        self.off = 0;
    }
}

impl Drop for Netconn {
    fn drop(&mut self) {
        self.drop_buf();
        // SAFETY: owned netconn, freed once.
        unsafe {
            ffi::sansws_netconn_close(self.raw.as_ptr());
            ffi::sansws_netconn_delete(self.raw.as_ptr());
        }
    }
}

impl ErrorType for Netconn {
    type Error = LwipError;
}

impl Read for Netconn {
    /// Copies from the current netbuf, moving to its next part or the next
    /// netbuf as needed. The end of the stream (`ERR_CLSD`) reads as 0.
    fn read(&mut self, out: &mut [u8]) -> Result<usize, LwipError> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let cur = self.current();
            if !cur.is_empty() {
                let n = cur.len().min(out.len());
                out[..n].copy_from_slice(&cur[..n]);
                self.off += n;
                return Ok(n);
            }
            if !self.buf.is_null() {
                // SAFETY: owned live netbuf.
                if unsafe { ffi::sansws_netbuf_next(self.buf) } >= 0 {
                    self.off = 0;
                    continue;
                }
                self.drop_buf();
            }
            let mut nb = ptr::null_mut();
            // SAFETY: live netconn; `nb` an out-pointer.
            match LwipError::check(unsafe { ffi::sansws_netconn_recv(self.raw.as_ptr(), &mut nb) })
            {
                Ok(()) => {
                    self.buf = nb;
                    self.off = 0;
                }
                Err(LwipError::CLSD) => return Ok(0),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for Netconn {
    fn write(&mut self, data: &[u8]) -> Result<usize, LwipError> {
        if data.is_empty() {
            return Ok(0);
        }
        let mut written = 0usize;
        // SAFETY: live netconn; `data` valid for the call (NETCONN_COPY);
        // `written` an out-pointer.
        LwipError::check(unsafe {
            ffi::sansws_netconn_write_partly(
                self.raw.as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                &mut written,
            )
        })?;
        Ok(written)
    }

    fn flush(&mut self) -> Result<(), LwipError> {
        Ok(())
    }
}

/// Runs a server handshake on an accepted netconn (see
/// [`super::embedded_io::accept`]), setting [`RECV_TIMEOUT_MS`] if the
/// netconn has no receive timeout.
#[cfg(feature = "server")]
pub fn accept<'b>(
    mut conn: Netconn,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    opts: ServerOptions,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
    page: impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>,
) -> Result<Accepted<'b, Netconn>, Error<LwipError>> {
    conn.default_recv_timeout();
    super::embedded_io::accept(conn, rx, tx, opts, decide, page)
}

/// Connects to `ip:port` and runs a client handshake (see
/// [`super::embedded_io::connect`]), with a receive timeout of
/// [`RECV_TIMEOUT_MS`]. To choose another, make the [`Netconn`] yourself
/// and call [`super::embedded_io::connect`].
#[cfg(feature = "client")]
pub fn connect<'b, K: MaskKeys>(
    ip: [u8; 4],
    port: u16,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    opts: ClientOptions<'_, K>,
) -> Result<WebSocket<'b, Netconn, K>, Error<LwipError>> {
    let mut conn = Netconn::connect(ip, port).map_err(Error::Io)?;
    conn.default_recv_timeout();
    super::embedded_io::connect(conn, rx, tx, opts)
}

/// [`accept`] with permessage-deflate's receive side (see
/// [`super::embedded_io::accept_deflate`]): a client's compressed
/// messages are inflated through the lent `inflater`'s ring.
#[cfg(all(feature = "server", feature = "deflate"))]
pub fn accept_deflate<'b, B: AsMut<[u8]> + 'b>(
    mut conn: Netconn,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    inflater: &'b mut crate::conn::deflate::Inflater<B>,
    opts: ServerOptions,
    decide: impl FnOnce(&UpgradeRequest<'_, '_>) -> Decision,
    page: impl FnOnce(&Request<'_, '_>) -> HttpResponse<'static>,
) -> Result<Accepted<'b, Netconn>, Error<LwipError>> {
    conn.default_recv_timeout();
    super::embedded_io::accept_deflate(conn, rx, tx, inflater, opts, decide, page)
}

/// [`connect`] with permessage-deflate's receive side (see
/// [`super::embedded_io::connect_deflate`]): the server is asked to keep
/// to the lent `inflater`'s window.
#[cfg(all(feature = "client", feature = "deflate"))]
pub fn connect_deflate<'b, K: MaskKeys, B: AsMut<[u8]> + 'b>(
    ip: [u8; 4],
    port: u16,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    inflater: &'b mut crate::conn::deflate::Inflater<B>,
    opts: ClientOptions<'_, K>,
) -> Result<WebSocket<'b, Netconn, K>, Error<LwipError>> {
    let mut conn = Netconn::connect(ip, port).map_err(Error::Io)?;
    conn.default_recv_timeout();
    super::embedded_io::connect_deflate(conn, rx, tx, inflater, opts)
}
